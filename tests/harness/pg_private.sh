#!/usr/bin/env bash
# Harness test (TAP): a test's own PostgreSQL cluster (lv_pg_start / pg.sh), with extra postgresql.conf lines,
# restarted with its data, stopped like a crash and started again.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

lv_require_services pg
plan 9

arch=$(lv_tmpdir archive)
lv_pg_share "$arch"
lv_pg_start "archive_mode = on" "archive_command = 'cp %p $arch/%f'" "archive_timeout = 0"
pass "private cluster started in $LV_PG_DIR"
isnt "$PGPORT" "$LV_TEST_PG_PORT" "on its own port, not the shared cluster's"
is "$(psql -XAtc 'SHOW archive_mode')" on "extra postgresql.conf lines are applied"
is "$(psql -XAtc 'SHOW data_checksums')" on "initdb ran with --data-checksums"
psql -Xq -c 'CREATE TABLE t AS SELECT generate_series(1, 1000) AS i' >/dev/null
wal=$(psql -XAtc 'SELECT pg_walfile_name(pg_current_wal_lsn())')
psql -XAtc 'SELECT pg_switch_wal()' >/dev/null
for _ in $(seq 100); do [[ -e $arch/$wal ]] && break; sleep 0.1; done
ok "archive_command (run by $(stat -c %U "$PGDATA")) wrote $wal" test -s "$arch/$wal"

"$LV_TEST_HARNESS/pg.sh" restart "$LV_PG_DIR" 2>/dev/null >/dev/null
is "$(psql -XAtc 'SELECT count(*) FROM t')" 1000 "data survives pg.sh restart"
"$LV_TEST_HARNESS/pg.sh" stop "$LV_PG_DIR" immediate 2>/dev/null
nok "pg.sh stop immediate: no server" "$LV_TEST_HARNESS/pg.sh" status "$LV_PG_DIR"
"$LV_TEST_HARNESS/pg.sh" start "$LV_PG_DIR" 2>/dev/null >/dev/null
is "$(psql -XAtc 'SELECT count(*) FROM t')" 1000 "crash recovery after an immediate stop keeps the data"
ok "the shared cluster still answers" psql -XAt -h "$LV_TEST_PG_HOST" -p "$LV_TEST_PG_PORT" -U "$LV_TEST_PG_USER" \
  -d "${LV_TEST_PG_DATABASE:-postgres}" -c 'SELECT 1'
