#!/usr/bin/env bash
# Rebuild tests/data/schema<N>/: a demo database made by an earlier release, dumped as SQL
# for SQLite and for PostgreSQL, with the person key it was made with. The migration tests
# load these dumps and upgrade them in place; they are only honest if the dumps come from the
# release itself, so this runs that release's code from a git worktree, never today's.
#
#   scripts/make_schema_fixture.sh 9192e58 4     # the last release with schema 4
set -euo pipefail
rev=${1:?release commit}
schema=${2:?its schema version}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/tests/data/schema$schema"
work=$(mktemp -d)
trap 'git -C "$here" worktree remove --force "$work/release" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$here" worktree add --detach "$work/release" "$rev" >/dev/null
pg=${TRUSTLEDGER_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}
pgschema="fixture_schema$schema"
export TRUSTLEDGER_PERSON_KEY_FILE="$work/person.key" TRUSTLEDGER_REPORT_KEY_FILE="$work/report.key"
run() { PYTHONPATH="$work/release" "$here/.venv/bin/python" -m trustledger "$@"; }
run demo --db "sqlite:///$work/demo.db" --subjects 60 --dir "$work/data" >/dev/null
psql "$pg" -qc "DROP SCHEMA IF EXISTS $pgschema CASCADE; CREATE SCHEMA $pgschema"
run demo --db "$pg?options=-csearch_path%3D$pgschema" --subjects 60 --dir "$work/data-pg" >/dev/null
mkdir -p "$out"
sqlite3 "$work/demo.db" .dump | gzip -9n > "$out/sqlite.sql.gz"
# unqualified names, so the test can load the dump into a schema of its own; psql's
# \restrict lines and the search_path reset are for psql, not for a plain connection
pg_dump "$pg" -n "$pgschema" --no-owner --no-privileges --inserts --rows-per-insert=500 \
  | grep -v -e '^\\' -e "set_config('search_path'" -e "^CREATE SCHEMA $pgschema;" \
  | sed "s/\b$pgschema\.//g" | gzip -9n > "$out/postgres.sql.gz"
psql "$pg" -qc "DROP SCHEMA $pgschema CASCADE"
cp "$work/person.key" "$out/person.key"
echo "made by trustledger at $rev (schema $schema): $(ls "$out" | tr '\n' ' ')"
