#!/usr/bin/env bash
# The Debian packages the tests need beyond Python: Chromium for the browser tests
# (tests/browser, Playwright with executable_path), CJK fonts and Pango for the PDF credit
# reports (WeasyPrint). Run by `make system-deps` (a prerequisite of `make test`).
#
#   scripts/system-deps.sh PACKAGE...
#
# A no-op when every package is installed (dpkg -s, and `chromium` on PATH for chromium).
# Otherwise, as root: `apt-get update` once, then `apt-get install -y` the missing ones.
# Not root: says what to install and carries on (those tests skip with the reason), except
# with CI=true, where a missing package is an error.
set -euo pipefail

missing=()
for pkg in "$@"; do
  if [ "$pkg" = chromium ] && ! command -v chromium >/dev/null 2>&1; then
    missing+=("$pkg")
  elif ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  if [ "${CI:-}" = true ]; then
    echo "system-deps: CI needs them (and runs as root with apt-get)" >&2
    exit 1
  fi
  echo "system-deps: carrying on; the tests that need them will be skipped" >&2
  exit 0
fi

echo "system-deps: installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q "${missing[@]}" >/dev/null

for pkg in "${missing[@]}"; do
  if [ "$pkg" = chromium ] && ! command -v chromium >/dev/null 2>&1; then
    echo "system-deps: chromium was installed but no \`chromium\` is on PATH" >&2
    exit 1
  fi
  dpkg -s "$pkg" >/dev/null 2>&1 || { echo "system-deps: $pkg did not install" >&2; exit 1; }
done
echo "system-deps: installed ${missing[*]}" >&2
