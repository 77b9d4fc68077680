#!/usr/bin/env bash
# Undo a DROP DATABASE while another database's VACUUM updates pg_database (issue 17, case 1), on real
# PostgreSQL 15. DROP DATABASE marks its pg_database row invalid with an in-place update, deletes the row,
# waits for a checkpoint, removes the directory (DBASE_DROP) and commits. Here VACUUM FREEZE of another
# database updates that database's own row in place while the DROP waits for its checkpoint (checked in the
# WAL with pg_waldump), so the last in-place update of pg_database before the drop record is not the
# dropped database's. `wal drops` must stop before the dropped database's own in-place update: the printed
# restore, started, holds every table of every database (the dropped one included) exactly as recorded just
# before the DROP (rows and checksums, a row committed a moment before it included), nothing written after
# it, and passes pg_check_restored.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"
. "$(dirname "$0")/../lib/pgstate.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir undo-dropdb)
# A checkpoint with a few hundred MiB of dirty buffers to write gives the DROP a wait long enough for the
# VACUUM; no autovacuum, so the only in-place updates are the ones this test makes.
wal_archiving "$w" \
  "shared_buffers = 512MB" "max_wal_size = 2GB" "checkpoint_timeout = 30min" "autovacuum = off" \
  "wal_keep_size = 2GB"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
waldump=${LV_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_waldump

q -c "CREATE TABLE keep(id int primary key, t text)" -c "INSERT INTO keep SELECT g, 'k' || g FROM generate_series(1, 1000) g"
q -c "CREATE TABLE filler(id int, pad text)" -c "INSERT INTO filler SELECT g, repeat('f', 400) FROM generate_series(1, 600000) g"
q -c "CREATE DATABASE other" >/dev/null
q -d other -c "CREATE TABLE o(id int primary key, t text)" -c "INSERT INTO o SELECT g, 'o' || g FROM generate_series(1, 300) g"
attempts=4
for ((k = 1; k <= attempts; k++)); do
  q -c "CREATE DATABASE victim$k" >/dev/null
  q -d "victim$k" -c "CREATE TABLE v(id int primary key, t text)" -c "CREATE TABLE w(x int)" \
    -c "INSERT INTO v SELECT g, repeat('v', 50) FROM generate_series(1, 2000 + $k) g" -c "INSERT INTO w VALUES ($k)"
done
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --no-row-counts
is "$rc" 0 "a backup that knows the databases' names ${err:+($err)}"

# Each attempt: a row committed just before, the state recorded, DROP DATABASE in the background, and once
# it waits for its checkpoint a VACUUM FREEZE of "other" (its datfrozenxid advances: an in-place update of
# its own pg_database row). The WAL says whether that update landed between the DROP's in-place update and
# its drop record; if the checkpoint was too quick, the next victim is tried.
raced=0
for ((k = 1; k <= attempts && !raced; k++)); do
  q -c "UPDATE filler SET id = id + 1" # dirty buffers for the DROP's checkpoint to write
  q -c "INSERT INTO keep VALUES (100000 + $k, 'committed just before the DROP')"
  before=$(pg_state)
  start_lsn=$(q -c "SELECT pg_current_wal_insert_lsn()")
  q -c "DROP DATABASE victim$k" &
  drop_pid=$!
  for ((i = 0; i < 2000; i++)); do
    ev=$(q -c "SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE query = 'DROP DATABASE victim$k'")
    [[ $ev == Checkpoint* ]] && break
    kill -0 "$drop_pid" 2>/dev/null || break
    sleep 0.005
  done
  q -d other -c "VACUUM FREEZE"
  wait "$drop_pid"
  q -c "INSERT INTO keep VALUES (200000 + $k, 'after the DROP')"
  q -c "CREATE TABLE after_$k AS SELECT 1 AS x"
  end_lsn=$(q -c "SELECT pg_current_wal_insert_lsn()")
  # pg_database's in-place updates and the drop record, in WAL order
  seq=$(as_pg "$waldump" -p "$PGDATA/pg_wal" -s "$start_lsn" -e "$end_lsn" 2>/dev/null |
    grep -E "desc: INPLACE .*rel 1664/0/1262|rmgr: Database .*desc: DROP dir" | sed -E 's/.*lsn: ([0-9A-F/]+),.*desc: ([A-Z]+).*/\2 \1/')
  diag "attempt $k: $(tr '\n' ' ' <<<"$seq")"
  if [[ $(head -c 7 <<<"$seq") == INPLACE && $(sed -n 2p <<<"$seq") == INPLACE* && $(sed -n 3p <<<"$seq") == DROP* ]]; then
    raced=1
    victim=victim$k
    drop_inplace=$(head -1 <<<"$seq" | awk '{print $2}')
    other_inplace=$(sed -n 2p <<<"$seq" | awk '{print $2}')
  fi
done
ok "VACUUM of another database updated pg_database in place between the DROP's in-place update and its drop record" \
  test "$raced" = 1
((raced)) || BAIL_OUT "the race was not reproduced in $attempts attempts"

run lvpg "$w/local.conf" wal drops --switch --json
is "$rc" 0 "wal drops --switch ${err:+($err)}"
pick=$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["kind"] == "drop-database" and x["database_name"] == sys.argv[2]:
        print(x["target_lsn"], x["restore"])' "$out" "$victim")
target=${pick%% *}
restore=${pick#* }
norm() { python3 -c 'import sys; h,l=sys.argv[1].split("/"); print("%X/%X" % (int(h,16), int(l,16)))' "$1"; }
is "$target" "$(norm "$drop_inplace")" "the target is the dropped database's own in-place update ($(norm "$drop_inplace")), not the VACUUM's ($(norm "$other_inplace"))"
like "$restore" "--target-lsn $target --target-exclusive" "the printed restore stops just before it"

run_printed "$w/local.conf" "$restore" "$w/restored"
is "$rc" 0 "the printed restore ${err:+($err)}"
ok "the restored cluster starts and recovers to the target" start_restored "$w/restored"
rs=(-h "$R_SOCK" -p "$R_PORT")
is "$(psql "${rs[@]}" -qAtX -c "SELECT datconnlimit FROM pg_database WHERE datname = '$victim'")" "-1" \
  "the dropped database is back and valid (datconnlimit not -2)"
is "$(pg_state "${rs[@]}")" "$before" "every table of every database as recorded just before the DROP (the row committed a moment before included, nothing after)"
is "$(psql "${rs[@]}" -qAtX -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'after\_%'")" 0 "no table created after it"
problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
is "$problems" "" "pg_check_restored: visibility map, index-only and sequential counts, amcheck"
stop_restored "$w/restored"

done_testing
