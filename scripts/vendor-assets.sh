#!/usr/bin/env bash
# Vendor the portal's third-party browser assets from npm into the package
# (trustledger/portal/static/vendor/), so every byte a page loads is served by the portal
# itself and nothing comes from a CDN. Writes static/vendor/VENDORED.md (packages, versions,
# licences, SHA-256 of every file).
#
#   scripts/vendor-assets.sh          fetch the pinned versions below, copy, write VENDORED.md
#   scripts/vendor-assets.sh --check  the same into a temp dir; fail if the committed files differ
#
# To update a package: change its version in PACKAGES, run this script, run the browser
# tests (`.venv/bin/pytest -m browser`), commit static/vendor/ together with this file.
#
# Needs node/npm (the npm registry). `npm pack` fetches each package's published tarball
# only (no dependencies, no install scripts run) and checks it against the registry's
# integrity hash; the dist files copied here are self-contained bundles.
set -euo pipefail
cd "$(dirname "$0")/.."

# package@version  files to copy (tarball path under package/ → vendor/<dir>/<basename>)
PACKAGES=(
  "echarts@6.1.0|dist/echarts.min.js LICENSE NOTICE licenses/LICENSE-d3"
  "swagger-ui-dist@5.35.0|swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt"
  # redoc 2.x, not 3.x: 3's standalone bundle is an ES-module build with another API
  # (RedocStandalone/init consts), while the page (FastAPI's) uses 2.x's <redoc spec-url>
  "redoc@2.5.2|bundles/redoc.standalone.js LICENSE bundles/redoc.standalone.js.LICENSE.txt"
  "axe-core@4.14.1|axe.min.js LICENSE LICENSE-3RD-PARTY.txt"
)
# the licence of each package as its package.json declares it (checked below)
declare -A LICENCE=(
  [echarts]="Apache-2.0" [swagger-ui-dist]="Apache-2.0" [redoc]="MIT" [axe-core]="MPL-2.0"
)
# Changes made to a copied file, each "name|file|from|to" (the text must occur exactly once).
# ReDoc 2.x always shows "API docs by Redocly" with a logo loaded from cdn.redoc.ly, which
# offline is a failed request: an empty src fails at once without a request, and ReDoc
# then leaves the logo out (its onError), keeping the link's text.
PATCHES=(
  'redoc|redoc.standalone.js|src:"https://cdn.redoc.ly/redoc/logo-mini.svg"|src:""'
)
declare -A PURPOSE=(
  [echarts]="the portal's charts (static/charts.js)"
  [swagger-ui-dist]="the API documentation at /docs (trustledger/portal/apidocs.py)"
  [redoc]="the API reference at /redoc (trustledger/portal/apidocs.py)"
  [axe-core]="accessibility checks in the browser tests (tests/browser/conftest.py); not loaded by any page"
)

CHECK=false
[ "${1:-}" = "--check" ] && CHECK=true
command -v npm >/dev/null || { echo "vendor-assets: npm is needed (apt-get install nodejs npm)" >&2; exit 2; }

DEST=trustledger/portal/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$DEST"
$CHECK && out="$work/vendor"
mkdir -p "$out"

manifest="$work/manifest.md"
: >"$manifest"
for entry in "${PACKAGES[@]}"; do
  spec=${entry%%|*}
  name=${spec%@*}
  version=${spec##*@}
  files=${entry#*|}
  echo "vendor-assets: $spec" >&2
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  tarball="$work/$(echo "$name" | tr -d @ | tr / -)-$version.tgz"
  integrity=$(cd "$work" && npm view --silent "$spec" dist.integrity)
  mkdir -p "$work/$name"
  tar xzf "$tarball" -C "$work/$name"
  declared=$(node -p "require('$work/$name/package/package.json').license")
  if [ "$declared" != "${LICENCE[$name]}" ]; then
    echo "vendor-assets: $spec declares licence $declared, not ${LICENCE[$name]}: review it" >&2
    exit 1
  fi
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  {
    echo "### $name $version"
    echo
    echo "- licence: $declared (the package's LICENSE is copied beside its files)"
    echo "- source: npm, \`npm pack $spec\`; tarball integrity \`$integrity\`"
    echo "- used for: ${PURPOSE[$name]}"
    echo
    echo "| file | SHA-256 |"
    echo "| --- | --- |"
  } >>"$manifest"
  patched=""
  for f in $files; do
    base=$(basename "$f")
    cp "$work/$name/package/$f" "$out/$name/"
    for patch in "${PATCHES[@]}"; do
      IFS='|' read -r pname pfile pfrom pto <<<"$patch"
      [ "$pname" = "$name" ] && [ "$pfile" = "$base" ] || continue
      original=$(sha256sum "$out/$name/$base" | cut -d' ' -f1)
      node -e '
        const fs = require("fs"); const [file, from, to] = process.argv.slice(1);
        const text = fs.readFileSync(file, "utf8"); const n = text.split(from).length - 1;
        if (n !== 1) { console.error(`vendor-assets: ${file}: ${JSON.stringify(from)} found ${n} times, not once`); process.exit(1); }
        fs.writeFileSync(file, text.replace(from, () => to));' "$out/$name/$base" "$pfrom" "$pto"
      patched+="- \`$name/$base\` is patched: \`$pfrom\` → \`$pto\` (as published its SHA-256 is \`$original\`)"$'\n'
    done
    sum=$(sha256sum "$out/$name/$base" | cut -d' ' -f1)
    echo "| \`$name/$base\` | \`$sum\` |" >>"$manifest"
  done
  echo >>"$manifest"
  [ -n "$patched" ] && printf '%s\n' "$patched" >>"$manifest"
done

{
  cat <<'EOF'
# Vendored browser assets

Third-party files the portal serves from the package (under `/static/vendor/`), so no page
loads anything from a CDN and the portal works offline. Written by
`scripts/vendor-assets.sh`; do not edit the files by hand.

Each file is copied from the package's published npm tarball unchanged (its SHA-256 below
is the file's as published), except where a patch is listed under its package (the script's
`PATCHES`: the published digest is given too). Minified bundles keep their `sourceMappingURL` comment; the
maps are not vendored (a browser asks for them only with its developer tools open).
ReDoc stays on 2.x: 3.x's standalone bundle is an ES-module build with another API, and
the `/redoc` page (FastAPI's `get_redoc_html`) uses 2.x's `<redoc spec-url>` element.
ReDoc 2.x always shows its "API docs by Redocly" logo from cdn.redoc.ly: the one patch
below empties that image's address, so the page asks nothing of the CDN (ReDoc drops an
image that fails and keeps the link's text).

## Update

1. Change the version in `PACKAGES` at the top of `scripts/vendor-assets.sh`.
2. Run `scripts/vendor-assets.sh` (needs npm and the npm registry); it rewrites the
   package's directory here and this file.
3. Run the browser tests (`.venv/bin/pytest -m browser tests/browser tests/test_portal_apidocs.py`)
   and look at the screenshots in `test-artifacts/screenshots/`.
4. Commit `trustledger/portal/static/vendor/` and the script together.

`scripts/vendor-assets.sh --check` fetches the pinned versions again into a temp dir and
fails if a committed file differs.

## Packages

EOF
  cat "$manifest"
} >"$out/VENDORED.md"

if $CHECK; then
  if diff -r "$out" "$DEST" >&2; then
    echo "vendor-assets: $DEST matches the pinned versions" >&2
  else
    echo "vendor-assets: $DEST differs from the pinned versions (run scripts/vendor-assets.sh)" >&2
    exit 1
  fi
else
  echo "vendor-assets: wrote $DEST and $DEST/VENDORED.md" >&2
fi
