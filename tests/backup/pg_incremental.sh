#!/usr/bin/env bash
# Incremental PostgreSQL backups restore what the cluster held, as queries see it (docs/pg-backups.md,
# "What an incremental keeps"): each scenario below changes the cluster in a way where "page LSN older
# than the previous backup's start means unchanged" does not hold by itself, takes an incremental,
# restores it to its end point (--target-immediate), starts it, and compares every table with the live
# cluster, by sequential scan checksums and as tests/lib/pgcheck.sh checks (visibility map, index-only
# counts, amcheck with heapallindexed):
#   1. VACUUM set the visibility map, then updates cleared bits of it (the map page's LSN does not move);
#   2. a database dropped and created again with the same OID by FILE_COPY from a template (its files
#      come back with the template's old page LSNs);
#   3. an unlogged table (only its init fork is stored) and a table truncated and refilled.
# Every incremental runs with --verify-map: the WAL block maps of its range must name every page it found
# changed (issue 19). Autovacuum is off so that what VACUUM does is what the test says.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir pgincr)
wal_conf "$w/local.conf" "$w/repo"
lvpg "$w/local.conf" repo init >/dev/null
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" "wal_level = replica" \
  "autovacuum = off" "max_wal_size = 256MB"


# restore_and_compare ID NAME: restore backup ID to its end point, start it, compare with the live cluster.
restore_and_compare() {
  local dir=$w/r-${2// /-}
  restore_check "$w/local.conf" "$1" "$dir" "$2" "$(pg_table_sums)" --target-immediate
  rm -rf "$dir" "$dir.sock"
}

# The WAL block maps of every incremental's range name every page it found changed (--verify-map, issue 19).
map_clean() { like "$err" "verify-map: the block maps of .* pages missed: 0" "$1: --verify-map: the WAL block maps missed no changed page"; }

wal_ok() { psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null && wal_wait_archived 60; }

# --- 1. the visibility map (the reproduction of issue 14): VACUUM sets every page all-visible, the full
#        backup stores that map, pgbench's updates clear bits of it without changing the map page's LSN
pgbench -i -s 5 -q >/dev/null 2>&1
psql -qAtX -c "CREATE EXTENSION pg_visibility" -c "VACUUM (FREEZE) pgbench_accounts" -c "CHECKPOINT" >/dev/null
is "$(psql -qAtX -c "SELECT count(*) FROM pg_visibility_map('pgbench_accounts') WHERE NOT all_visible")" 0 \
  "1. after VACUUM every page of pgbench_accounts is all-visible in the map"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "1. full backup: exit 0 ${err:+($err)}"
pgbench -n -t 2000 -c 1 >/dev/null 2>&1
ok "1. pgbench cleared bits of the map ($(psql -qAtX -c "SELECT count(*) FROM pg_visibility_map('pgbench_accounts') WHERE NOT all_visible") pages)" \
  test "$(psql -qAtX -c "SELECT count(*) FROM pg_visibility_map('pgbench_accounts') WHERE NOT all_visible")" -gt 0
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "1. incremental: exit 0 ${err:+($err)}"
incr1=$(out_field id)
map_clean "incr1"
wal_ok
restore_and_compare "$incr1" "1 vm"
pgbench -n -t 1000 -c 1 >/dev/null 2>&1
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map --no-page-deltas
is "$rc" 0 "1. an incremental of it after more updates, without page deltas: exit 0"
incr1b=$(out_field id)
map_clean "incr1b"
wal_ok
restore_and_compare "$incr1b" "1 vm no-deltas"
pgbench -n -t 500 -c 1 >/dev/null 2>&1
psql -qAtX -c "VACUUM pgbench_accounts" >/dev/null # sets bits again: the map changes both ways
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "1. another incremental after more updates and a VACUUM: exit 0"
incr1c=$(out_field id)
map_clean "incr1c"
wal_ok
restore_and_compare "$incr1c" "1 vm after vacuum"

# --- 2. a database dropped and created again with the same OID, by FILE_COPY from a template whose
#        files are older than the previous backup
psql -qAtX -c "CREATE DATABASE tmpl" >/dev/null
psql -d tmpl -qAtX -c "CREATE TABLE t (i int PRIMARY KEY, v text)" \
  -c "INSERT INTO t SELECT g, 'template' FROM generate_series(1, 5000) g" -c "VACUUM t" >/dev/null
psql -qAtX -c "CREATE DATABASE shop OID 50000 TEMPLATE tmpl STRATEGY FILE_COPY" >/dev/null
psql -d shop -qAtX -c "UPDATE t SET v = 'sold' WHERE i <= 2500" -c "VACUUM t" >/dev/null
psql -qAtX -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "2. full backup with database shop (oid 50000): exit 0"
psql -qAtX -c "DROP DATABASE shop" -c "CREATE DATABASE shop OID 50000 TEMPLATE tmpl STRATEGY FILE_COPY" >/dev/null
is "$(psql -d shop -qAtX -c "SELECT count(*) FROM t WHERE v = 'sold'")" 0 "2. shop is created again from tmpl: nothing sold"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "2. incremental: exit 0 ${err:+($err)}"
incr2=$(out_field id)
map_clean "incr2"
wal_ok
restore_and_compare "$incr2" "2 recreated database"
# The same by the block maps (they, not PG_VERSION's time, say the directory was created again), over the full.
run lvpg "$w/local.conf" forget "$incr2"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc $(out_field incr_method)" "0 maps" "2. incremental by the block maps: exit 0 ${err:+($err)}"
restore_and_compare "$(out_field id)" "2 maps"

# --- 3. an unlogged table; a table truncated and filled again; a table VACUUM shortened
psql -qAtX -c "CREATE UNLOGGED TABLE scratch (i int PRIMARY KEY)" -c "INSERT INTO scratch SELECT generate_series(1, 1000)" \
  -c "CREATE TABLE refill (i int PRIMARY KEY, v text)" -c "INSERT INTO refill SELECT g, 'first' FROM generate_series(1, 20000) g" \
  -c "CREATE TABLE shrink (i int PRIMARY KEY, v text)" -c "INSERT INTO shrink SELECT g, 'x' FROM generate_series(1, 20000) g" \
  -c "VACUUM" -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "3. full backup: exit 0"
psql -qAtX -c "TRUNCATE refill" -c "INSERT INTO refill SELECT g, 'second' FROM generate_series(1, 15000) g" \
  -c "DELETE FROM shrink WHERE i > 5000" -c "VACUUM shrink" -c "INSERT INTO shrink SELECT g, 'y' FROM generate_series(5001, 6000) g" \
  -c "INSERT INTO scratch SELECT generate_series(1001, 2000)" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "3. incremental: exit 0"
incr3=$(out_field id)
map_clean "incr3"
wal_ok
dir=$w/r-3
run lvpg "$w/local.conf" restore pg --backup "$incr3" --to "$dir" --target-immediate
is "$rc" 0 "3. restore: exit 0"
if start_restored "$dir"; then
  is "$(psql -h "$dir.sock" -p "$R_PORT" -qAtX -c "SELECT count(*) FROM scratch")" 0 "3. the unlogged table is there, empty"
  is "$(psql -h "$dir.sock" -p "$R_PORT" -qAtX -c "SELECT count(*), min(v), max(v) FROM refill")" "15000|second|second" \
    "3. the truncated and refilled table holds only its new rows"
  is "$(psql -h "$dir.sock" -p "$R_PORT" -qAtX -c "SELECT count(*), count(*) FILTER (WHERE v = 'y') FROM shrink")" "6000|1000" \
    "3. the table VACUUM shortened holds what it held"
  is "$(pg_check_restored -h "$dir.sock" -p "$R_PORT")" "" "3. as queries see it: visibility, index-only counts, amcheck"
else
  fail "3. the restored cluster starts"
  skip "no cluster" 3
fi
stop_restored "$dir"

run lvpg "$w/local.conf" repo check
is "$rc" 0 "repo check after the backups: exit 0"

# shellcheck disable=SC2119
done_testing
