#!/usr/bin/env bash
# Backups from a streaming standby, and archiving across a failover (PostgreSQL 15, on 127.0.0.1): a primary
# archives into a local repository through `wal push`; its streaming standby (pg_basebackup -R) has the same
# archive settings (archive_mode = on: it archives once promoted). `backup pg` with the standby's data
# directory and connection takes a full and an incremental backup while the primary writes and switches
# segments; with an idle primary it waits for the segment and fails, saying what the primary must do. Then
# the failover: the primary stops, the standby is promoted and archives into the same repository on timeline
# 2. Restores, started and compared table by table: the standby's full backup to a time before the failover,
# and its incremental to the end of the archive, after the promotion.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir standby)
wal_conf "$w/lv.conf" "$w/repo"
lvpg "$w/lv.conf" repo init >/dev/null 2>&1
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" "wal_level = replica" \
  "max_wal_senders = 5" "hot_standby = on" "max_wal_size = 256MB" "checkpoint_timeout = 30min"
primary_dir=$LV_PG_DIR
pgbench -i -s 1 -q >/dev/null 2>&1
psql -qAtX -c "CREATE TABLE ticks (n serial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())" >/dev/null

lv_pg_standby_start
sport=$(sed -n 's/^PGPORT=//p' "$LV_PG_STANDBY_DIR/env")
sdata=$LV_PG_STANDBY_DIR/data
sq() { psql -p "$sport" -qAtX "$@"; }
is "$(sq -c 'SELECT pg_is_in_recovery()')" t "the standby runs, in recovery"
ok "... streaming from the primary" lv_pg_standby_caught_up

# One line per table: name and the md5 of its rows in key order.
checksums() {
  psql -qAtX "$@" -c "
    SELECT 'accounts', md5(string_agg(md5(t::text), '' ORDER BY aid)) FROM pgbench_accounts t
    UNION ALL SELECT 'branches', md5(string_agg(t::text, ',' ORDER BY bid)) FROM pgbench_branches t
    UNION ALL SELECT 'tellers', md5(string_agg(t::text, ',' ORDER BY tid)) FROM pgbench_tellers t
    UNION ALL SELECT 'history', md5(string_agg(t::text, ',' ORDER BY t::text)) || ' ' || count(*) FROM pgbench_history t
    UNION ALL SELECT 'ticks', md5(string_agg(t::text, ',' ORDER BY n)) || ' ' || count(*) FROM ticks t"
}
# compare EXPECTED DIR WHAT: every table of the restored cluster in DIR (R_PORT) against EXPECTED.
compare() {
  local got table sum
  got=$(checksums -h "$2.sock" -p "$R_PORT" 2>&1; psql -h "$2.sock" -p "$R_PORT" -qAtX \
    -c "SELECT 'after_failover', count(*) FROM after_failover" 2>/dev/null) || true
  while IFS='|' read -r table sum; do
    is "$(sed -n "s/^$table|//p" <<<"$got")" "$sum" "$3: table $table"
  done <<<"$1"
}

# Load on the primary while a backup runs on the standby: pgbench, and a tick and a segment switch every 0.3 s
# (a standby cannot switch segments; the backup waits for the primary to archive its end).
load_start() {
  rm -f "$w/stop"
  pgbench -n -c 2 -T 600 >/dev/null 2>&1 &
  bench_pid=$!
  (while [[ ! -e $w/stop ]]; do
    psql -qAtX -c "INSERT INTO ticks DEFAULT VALUES" -c "SELECT pg_switch_wal()" >/dev/null 2>&1
    sleep 0.3
  done) &
  ticker_pid=$!
  lv_at_exit kill "$bench_pid" "$ticker_pid"
}
load_stop() {
  touch "$w/stop"
  kill "$bench_pid" 2>/dev/null || true
  wait "$bench_pid" "$ticker_pid" 2>/dev/null || true
}
backup_standby() { lvpg "$w/lv.conf" backup pg --pg-data "$sdata" --pg-host 127.0.0.1 --pg-port "$sport" "$@"; }

# --- an idle primary: the standby's backup cannot end by itself
psql -qAtX -c "INSERT INTO ticks DEFAULT VALUES" -c "CHECKPOINT" >/dev/null
lv_pg_standby_caught_up
run backup_standby --type full --archive-timeout 3
is "$rc" 9 "a backup of the standby while the primary archives nothing: exit 9 (incomplete)"
like "$err" "a standby cannot switch WAL segments.*pg_switch_wal\(\) on the primary" "... saying what the primary must do"
is "$(sq -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'")" 0 \
  "... and the standby is out of backup mode (no session left)"

# --- full and incremental backups from the standby, the primary under load
load_start
# A standby that has not replayed up to the end of the previous backup (of the primary): the pages that
# backup copied may be newer than the standby's, and than where a backup of it ends; an incremental on top
# of it waits for the standby (--archive-timeout), then stores every page, as a full backup.
sq -c "SELECT pg_wal_replay_pause()" >/dev/null
run lvpg "$w/lv.conf" backup pg --pg-data "$primary_dir/data" --type full --json
is "$rc" 0 "a full backup of the primary, while the standby's replay is paused ${err:+($err)}"
primary_full=$(out_field id)
run backup_standby --type incr --json --archive-timeout 3
is "$rc" 0 "an incremental of a standby that has not replayed up to the end of that backup: exit 0 ${err:+($err)}"
is "$(out_field type):$(out_field prev)" "full:" "... stored as a full backup (no previous backup)"
like "$err" "backup ${primary_full:0:12} ends at .*, and the server has only reached .*: storing every page" \
  "... saying why"
sq -c "SELECT pg_wal_replay_resume()" >/dev/null
ok "... the standby replays again" lv_pg_standby_caught_up
run backup_standby --type full --json
is "$rc" 0 "full backup of the standby: exit 0 ${err:+($err)}"
full_id=$(out_field id)
is "$(out_field rows_exact)" False "... its row counts are informational (a standby's stop point is not its snapshot's)"
sleep 1
run backup_standby --type incr --json
is "$rc" 0 "incremental backup of the standby: exit 0 ${err:+($err)}"
is "$(out_field prev)" "$full_id" "... on top of the standby's full backup"
load_stop

# --- a point before the failover
pgbench -n -c 2 -t 100 >/dev/null 2>&1
psql -qAtX -c "INSERT INTO ticks DEFAULT VALUES" >/dev/null
before=$(checksums)
sleep 1.2
t1=$(psql -qAtX -c "SELECT clock_timestamp()")
sleep 1.2
psql -qAtX -c "INSERT INTO ticks SELECT FROM generate_series(1, 50)" -c "UPDATE pgbench_accounts SET abalance = 7 WHERE aid < 100" >/dev/null

# --- failover: the primary stops, the standby is promoted and archives on timeline 2
ok "the standby replayed all of the primary's WAL" lv_pg_standby_caught_up
"$LV_TEST_HARNESS/pg.sh" stop "$primary_dir" fast 2>/dev/null
ok "promote the standby" as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$sdata" -w promote
like "$(sq -c 'SELECT pg_is_in_recovery(), pg_walfile_name(pg_current_wal_lsn())')" "^f\|00000002" \
  "the new primary writes on timeline 2"
sq -c "CREATE TABLE after_failover AS SELECT g FROM generate_series(1, 1000) g" \
  -c "INSERT INTO ticks DEFAULT VALUES" >/dev/null
PGPORT=$sport pgbench -n -c 2 -t 100 >/dev/null 2>&1
after=$(checksums -p "$sport"; sq -c "SELECT 'after_failover', count(*) FROM after_failover")
sq -c "SELECT pg_switch_wal()" >/dev/null
if PGDATA=$sdata wal_wait_archived 120; then pass "the promoted standby archives its WAL into the same repository"
else fail "the promoted standby archives its WAL into the same repository"; fi
mkdir -p "$w/fetch" && chown "$LV_TEST_PG_OSUSER:" "$w/fetch"
ok "... the history file of timeline 2 among it" lvpg "$w/lv.conf" wal fetch 00000002.history "$w/fetch/h"

# --- restores: the standby's full backup to a time before the failover, its incremental past the promotion
run lvpg "$w/lv.conf" restore pg --to "$w/r1" --backup "$full_id" --target-time "$t1" --json
is "$rc" 0 "restore of the standby's full backup to a time before the failover: exit 0 ${err:+($err)}"
ok "... its backup_label is the standby's" grep -q "^BACKUP FROM: standby" "$w/r1/backup_label"
ok "... and no standby.signal (it ends recovery)" test ! -e "$w/r1/standby.signal" -a -e "$w/r1/recovery.signal"
if start_restored "$w/r1"; then
  pass "... starts and ends recovery"
  compare "$before" "$w/r1" "full backup to the time"
else
  fail "... starts and ends recovery"
fi
stop_restored "$w/r1"
run lvpg "$w/lv.conf" restore pg --to "$w/r2" --json
is "$rc $(out_field backup)" "0 $(lvpg "$w/lv.conf" backups --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][-1]["id"])')" \
  "restore of the newest backup (the standby's incremental) to the end of the archive: exit 0 ${err:+($err)}"
if start_restored "$w/r2"; then
  pass "... starts, follows timeline 2 and ends recovery"
  compare "$after" "$w/r2" "incremental to after the promotion"
else
  fail "... starts, follows timeline 2 and ends recovery"
fi
stop_restored "$w/r2"

done_testing
