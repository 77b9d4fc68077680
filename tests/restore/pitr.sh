#!/usr/bin/env bash
# Point-in-time restore against a real PostgreSQL 15 cluster archiving into the S3 server: pgbench -i -s 20,
# a full backup, pgbench, an incremental, more pgbench; record the time, the LSN and a checksum of every
# table; DROP TABLE pgbench_history (its xid recorded); then restore into new directories, start each on its
# own port and compare every table: to the time (from the full backup, chosen with --backup), to the xid
# (exclusive; the incremental is chosen), and, after the full backup's manifest is deleted, to the LSN and to a
# named restore point from the incremental alone. A tablespace is restored elsewhere (--tablespace-map by
# name, location and oid). A delta restore of a used directory keeps the unchanged files. Refusals: targets
# outside the window (exit 2), a non-empty directory or tablespace location (exit 10), an unknown backup
# (exit 1), two targets, a bad time, an unknown tablespace; --dry-run writes nothing. The last restore runs
# from a new host: a configuration whose catalog does not exist yet is filled from the repository first.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir pitr)
bucket=$(lv_s3_bucket pitr)
wal_conf "$w/s3.conf" "s3://$bucket/pg"
lvpg "$w/s3.conf" repo init >/dev/null

lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/s3.conf wal push %p'" "wal_level = replica" \
  "max_wal_size = 512MB" "checkpoint_timeout = 30min"
pgbench -i -s 20 -q >/dev/null 2>&1
ok "pgbench -i -s 20" test "$(psql -qAtX -c 'SELECT count(*) FROM pgbench_accounts')" = 2000000
as_pg mkdir "$w/ts1"
psql -qAtX -c "CREATE TABLESPACE ts1 LOCATION '$w/ts1'" \
  -c "CREATE TABLE ts_table TABLESPACE ts1 AS SELECT g FROM generate_series(1, 50000) g" >/dev/null
ts_oid=$(psql -qAtX -c "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")


# One line per table: name and the md5 of its rows in key order (pgbench_history has no key: all columns).
checksums() {
  psql -qAtX -c "
    SELECT 'accounts', md5(string_agg(md5(t::text), '' ORDER BY aid)) FROM pgbench_accounts t
    UNION ALL SELECT 'branches', md5(string_agg(t::text, ',' ORDER BY bid)) FROM pgbench_branches t
    UNION ALL SELECT 'tellers', md5(string_agg(t::text, ',' ORDER BY tid)) FROM pgbench_tellers t
    UNION ALL SELECT 'history', md5(string_agg(t::text, ',' ORDER BY t::text)) FROM pgbench_history t
    UNION ALL SELECT 'history rows', count(*)::text FROM pgbench_history
    UNION ALL SELECT 'ts_table', md5(string_agg(g::text, ',' ORDER BY g)) FROM ts_table"
}

run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "full backup: exit 0 ${err:+($err)}"
full_id=$(out_field id)
pgbench -n -c 2 -j 2 -T 4 >/dev/null 2>&1
run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 0 "incremental backup: exit 0 ${err:+($err)}"
incr_id=$(out_field id)
ok "... some changed pages stored as deltas ($(out_field delta_pages)): every restore below applies them" \
  test "$(out_field delta_pages)" -gt 0
pgbench -n -c 2 -j 2 -T 3 >/dev/null 2>&1

expected=$(checksums)
history_rows=$(sed -n 's/^history rows|//p' <<<"$expected")
ok "pgbench wrote history rows after both backups ($history_rows)" test "$history_rows" -gt 0
sleep 1.2 # whole-second commit times: the target must be in a later second than the backups' ends
target_time=$(psql -qAtX -c "SELECT clock_timestamp()")
sleep 1.2
target_lsn=$(psql -qAtX -c "SELECT pg_current_wal_insert_lsn()")
psql -qAtX -c "SELECT pg_create_restore_point('before drop')" >/dev/null
drop_xid=$(psql -qAtX -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE pgbench_history" -c "COMMIT")
ok "DROP TABLE pgbench_history (xid $drop_xid, after $target_lsn, $target_time)" \
  test "$(psql -qAtX -c "SELECT count(*) FROM pg_class WHERE relname = 'pgbench_history'")" = 0
psql -qAtX -c "CREATE TABLE after_drop AS SELECT 1 AS x" -c "SELECT pg_switch_wal()" >/dev/null
wal_wait_archived 120 || true

restored_checksums() { PGHOST=$R_SOCK PGPORT=$R_PORT checksums; }

# --- 1. to the time, from the full backup (more WAL to replay); the tablespace elsewhere
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --backup "${full_id:0:12}" --target-time "$target_time"
is "$rc" 10 "the tablespace's original location is in use: exit 10"
like "$err" "^labvault: tablespace ts1 \(oid $ts_oid\): location $w/ts1 is not empty" "... naming it"
ok "... nothing written" test ! -e "$w/r1"
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --tablespace-map nosuch="$w/x" --target-time "$target_time"
is "$rc" 2 "--tablespace-map of a tablespace the backup lacks: exit 2"
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --dry-run --tablespace-map ts1="$w/r1-ts1" --json
is "$rc $(out_field dry_run) $(out_field backup)" "0 True $incr_id" "--dry-run: exit 0, the newest backup chosen"
ok "... nothing written" test ! -e "$w/r1" -a ! -e "$w/r1-ts1"
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --backup "${full_id:0:12}" --target-time "$target_time" --json \
  --tablespace-map ts1="$w/r1-ts1"
is "$rc" 0 "restore pg --target-time --backup FULL: exit 0 ${err:+($err)}"
is "$(out_field backup)" "$full_id" "... restored the full backup"
diag "restore of the full backup: $(out_field files) files, $(out_field bytes_written) bytes in $(out_field seconds) s" \
  "(download $(out_field seconds_download) s, write $(out_field seconds_write) s)"
ok "... recovery configured: recovery.signal, restore_command, target time" \
  grep -q "^recovery_target_time = '$target_time'" "$w/r1/postgresql.auto.conf"
is "$(readlink "$w/r1/pg_tblspc/$ts_oid")" "$w/r1-ts1" "... the tablespace link points at the new location"
ok "... tablespace_map names the new location" grep -qx "$ts_oid $w/r1-ts1" "$w/r1/tablespace_map"
ok "... backup_label written, pg_wal empty" test -s "$w/r1/backup_label" -a -d "$w/r1/pg_wal/archive_status" \
  -a -f "$w/r1/recovery.signal"
if start_restored "$w/r1"; then
  pass "the restored cluster (time) starts and ends recovery"
  is "$(restored_checksums "$w/r1")" "$expected" "every table matches its checksum; pgbench_history is back"
  is "$(pg_check_restored -h "$R_SOCK" -p "$R_PORT")" "" \
    "... as queries see it: visibility map right, index-only and sequential scans agree, amcheck passes"
else
  fail "the restored cluster (time) starts and ends recovery"
  skip "no cluster" 2
fi
stop_restored "$w/r1"

# --- 2. delta: the used directory back to the xid, rewriting only what differs
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --delta --target-xid "$drop_xid" --target-exclusive --json \
  --tablespace-map "$w/ts1=$w/r1-ts1"
is "$rc" 0 "restore pg --delta into the used directory: exit 0 ${err:+($err)}"
is "$(out_field backup)" "$incr_id" "... chose the incremental (the newest backup) for an xid target"
ok "... kept most files ($(out_field files_kept) kept, $(out_field files) written)" \
  test "$(out_field files_kept)" -gt "$(out_field files)"
ok "... no WAL of the first recovery left" test -z "$(find "$w/r1/pg_wal" -mindepth 1 ! -name archive_status)"
if start_restored "$w/r1"; then
  pass "the delta-restored cluster (xid, exclusive) starts and ends recovery"
  is "$(restored_checksums "$w/r1")" "$expected" "every table matches its checksum; pgbench_history is back"
  is "$(pg_check_restored -h "$R_SOCK" -p "$R_PORT")" "" \
    "... as queries see it: visibility map right, index-only and sequential scans agree, amcheck passes"
else
  fail "the delta-restored cluster (xid, exclusive) starts and ends recovery"
  skip "no cluster" 2
fi
stop_restored "$w/r1"
rm -rf "$w/r1" "$w/r1.sock" "$w/r1-ts1"

# --- refusals, each before anything is written
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-time "2000-01-01 00:00:00+00"
is "$rc" 2 "a target time before every backup: exit 2"
like "$err" "^labvault: target time is before backup [0-9a-f]{12} became consistent .*recoverable window: " \
  "... one line naming the window"
is "$(grep -c . <<<"$err")" 1 "... in one line"
ok "... nothing written" test ! -e "$w/bad"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-time "2999-01-01 00:00:00+00"
is "$rc" 2 "a target time after the last archived commit: exit 2"
like "$err" "after the last archived commit; recoverable window: " "... says so"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-lsn "FFFFFFFF/0"
is "$rc" 2 "a target LSN past the archive: exit 2"
like "$err" "target LSN is past the end of the archived WAL" "... says so"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-lsn "0/10"
is "$rc" 2 "a target LSN before every backup: exit 2"
mkdir -p "$w/busy" && echo x >"$w/busy/file"
run lvpg "$w/s3.conf" restore pg --to "$w/busy" --target-xid "$drop_xid"
is "$rc" 10 "a non-empty target directory: exit 10"
like "$err" "^labvault: restore target $w/busy is not empty" "... naming it"
is "$(ls "$w/busy")" "file" "... left as it was"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --backup 0123456789abcdef
is "$rc" 1 "an unknown backup: exit 1"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-xid 5 --target-lsn 0/1
is "$rc" 2 "two targets: exit 2"
run lvpg "$w/s3.conf" restore pg --to "$w/bad" --target-time "yesterday"
is "$rc" 2 "a time that is not a time: exit 2"
ok "no refused restore created its directory" test ! -e "$w/bad"

# --- backups: both, with sizes, and the window
run lvpg "$w/s3.conf" backups --json
is "$rc" 0 "backups --json: exit 0"
ok "backups --json: the full then the incremental, sizes, and the window up to the DROP" python3 -c '
import json, sys, datetime
s = json.load(sys.stdin)
b = s["backups"]
assert [x["id"] for x in b] == [sys.argv[1], sys.argv[2]], b
assert b[0]["type"] == "full" and b[1]["type"] == "incr" and b[0]["bytes"] > 250e6
assert b[1]["bytes_new"] < b[0]["bytes_new"]
w = s["window"]
assert w["oldest_backup"] == sys.argv[1] and w["from_time"] == b[0]["stop_time"], w
zone = "00" if len(sys.argv[3].split("+")[-1]) == 2 else ""
t = datetime.datetime.fromisoformat(sys.argv[3].replace(" ", "T") + zone).timestamp()
assert w["to_time"] >= int(t), (w, t)
' "$full_id" "$incr_id" "$target_time" <<<"$out"
run lvpg "$w/s3.conf" info
like "$out" "recoverable window: [0-9-]+ [0-9:]+\+00 to [0-9-]+ [0-9:]+\+00 \(LSN " "info: the window in one line"

# --- 3. the full backup's manifest deleted: the incremental alone restores, to the LSN
lv_s3_curl -f -X DELETE "$LV_TEST_S3_ENDPOINT/$bucket/pg/manifests/$full_id" >/dev/null
run lvpg "$w/s3.conf" catalog rebuild
is "$rc" 0 "catalog rebuild after deleting the full backup's manifest ${err:+($err)}"
run lvpg "$w/s3.conf" restore pg --to "$w/r3" --target-lsn "$target_lsn" --json --tablespace-map "$ts_oid=$w/r3-ts1"
is "$rc" 0 "restore pg --target-lsn with only the incremental left: exit 0 ${err:+($err)}"
is "$(out_field backup)" "$incr_id" "... restored the incremental"
diag "restore of the incremental: $(out_field files) files, $(out_field bytes_written) bytes in $(out_field seconds) s"
if start_restored "$w/r3"; then
  pass "the restored cluster (LSN) starts and ends recovery"
  is "$(restored_checksums "$w/r3")" "$expected" "every table matches its checksum; pgbench_history is back"
  is "$(pg_check_restored -h "$R_SOCK" -p "$R_PORT")" "" \
    "... as queries see it: visibility map right, index-only and sequential scans agree, amcheck passes"
else
  fail "the restored cluster (LSN) starts and ends recovery"
  skip "no cluster" 2
fi
stop_restored "$w/r3"
rm -rf "$w/r3" "$w/r3.sock" "$w/r3-ts1"

# --- 4. to a named restore point, from a new host: the same repository and key, no catalog yet
wal_conf "$w/newhost.conf" "s3://$bucket/pg"
ok "the new host has no catalog" test ! -e "$w/newhost.db"
run lvpg "$w/newhost.conf" restore pg --to "$w/r4" --target-name "before drop" --json --tablespace-map "ts1=$w/r4-ts1"
is "$rc" 0 "restore pg --target-name on a new host: exit 0 ${err:+($err)}"
like "$err" "catalog .*newhost.db was new: filled it from the repository \(1 manifests" \
  "... after filling its new catalog from the repository, and saying so"
if start_restored "$w/r4"; then
  pass "the restored cluster (restore point) starts and ends recovery"
  is "$(restored_checksums "$w/r4")" "$expected" "every table matches its checksum; pgbench_history is back"
  is "$(pg_check_restored -h "$R_SOCK" -p "$R_PORT")" "" \
    "... as queries see it: visibility map right, index-only and sequential scans agree, amcheck passes"
else
  fail "the restored cluster (restore point) starts and ends recovery"
  skip "no cluster" 2
fi
stop_restored "$w/r4"
rm -rf "$w/r4" "$w/r4.sock" "$w/r4-ts1"

done_testing
