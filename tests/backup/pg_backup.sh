#!/usr/bin/env bash
# `labvault backup pg` against a real PostgreSQL 15 cluster that archives into labvault: full and
# incremental backups into a local repository and into S3 (the incremental after changing ~1 % of
# pgbench_accounts' pages stores under 5 % of the full's new bytes), repo check after them, and the
# refusals: a wrong --pgdata, --type incr without a previous backup, a second backup while one runs,
# SIGINT in backup mode (exit 14, nothing committed), a damaged page (reported, exit 9, committed), a
# cluster without archive_mode.
set -euo pipefail
# shellcheck source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=../lib/walib.sh
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir pgbackup)
bucket=$(lv_s3_bucket pgbackup)
wal_conf "$w/local.conf" "$w/repo" "[archive]" "timeout = 60"
wal_conf "$w/s3.conf" "s3://$bucket/pg"
lvpg "$w/local.conf" repo init >/dev/null
lvpg "$w/s3.conf" repo init >/dev/null

lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" "wal_level = replica" \
  "max_wal_size = 256MB" "autovacuum = off" # an autovacuum ANALYZE ending during a stop: counts not exact
pgbench -i -s 5 -q >/dev/null 2>&1
ok "pgbench -i -s 5" test "$(psql -qAtX -c 'SELECT count(*) FROM pgbench_accounts')" = 500000
mkdir "$w/ts" && chown "$LV_TEST_PG_OSUSER:" "$w/ts" && chmod 700 "$w/ts"
psql -qAtX -c "CREATE TABLESPACE ts1 LOCATION '$w/ts'" \
  -c "CREATE TABLE in_ts TABLESPACE ts1 AS SELECT g AS i, md5(g::text) AS t FROM generate_series(1, 20000) g" \
  -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
ts_file=$(psql -qAtX -c "SELECT pg_relation_filepath('in_ts')")
acc_files=$(psql -qAtX -c "SELECT pg_relation_filepath('pgbench_accounts') || ' ' || pg_relation_filepath('pgbench_accounts_pkey')")
compare() { # MANIFEST_ID PATH...: rebuild the files from the manifest's extents and compare with $PGDATA
  as_pg env LABVAULT_KEY_FILE="$w/key" LABVAULT_CATALOG="$w/local.db" "$COMPARE" "$w/repo" "$@" # the catalog's user
}
COMPARE=${1:?usage: backup.sh PGMAN_COMPARE}

manifests() { find "$w/repo/manifests" -type f 2>/dev/null | wc -l; }

# --- full, local
run lvpg "$w/local.conf" --log-level debug backup pg --pgdata "$PGDATA" --type full --json --label "full one"
is "$rc" 0 "full backup (--json): exit 0"
# ... the repository's first: no previous counts, and every table vacuumed since it was written, so each
#     table's rows are the normal line pointers of its all-visible pages, read by the copy (no count(*))
is "$(out_field rows_exact) $(grep -o 'row counts: [0-9]* tables from the pages read' <<<"$err")" \
  "True row counts: 5 tables from the pages read" "full: exact counts, all 5 tables' from the pages read (all-visible)"
like "$err" "public.pgbench_accounts: 500000 rows, from the pages read" "... pgbench_accounts: 500000, as count(*)"
like "$err" "public.in_ts: 20000 rows, from the pages read" "... a table in a tablespace: 20000"
like "$err" "public.pgbench_history: 0 rows, from the pages read" "... an empty table: 0"
is "$(manifests)" 1 "full backup: one manifest committed"
full_new=$(out_field bytes_new)
is "$(out_field type) $(out_field label) $(out_field bad_pages) $(out_field timeline)" "full full one 0 1" \
  "summary: type, label, no bad pages (checksums verified on a live cluster), timeline"
ok "summary: sizes (bytes_read $(out_field bytes_read) >= 70 MB, bytes_new $full_new, bytes_stored $(out_field bytes_stored))" \
  test "$(out_field bytes_read)" -ge 70000000 -a "$full_new" -ge 70000000 -a "$(out_field bytes_stored)" -gt 0
# shellcheck disable=SC2086
is "$(compare "$(out_field id)" "$PGDATA" PG_VERSION $acc_files "$ts_file")" "4 compared, 0 differ" \
  "full: PG_VERSION, pgbench_accounts, its index and a table in a tablespace rebuilt from the extents are the files"
ok "full: the tablespace's file is under pg_tblspc/<oid>/ ($ts_file)" test "${ts_file#pg_tblspc/}" != "$ts_file"
ok "summary: sysid, LSNs, WAL range, rows_exact" python3 -c '
import json, re, sys
s = json.load(sys.stdin)
assert re.fullmatch(r"[0-9]+", s["sysid"]) and s["pg_version"] >= 150000
assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", s["start_lsn"]) and re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", s["stop_lsn"])
assert len(s["wal_start"]) == 24 and s["wal_start"] <= s["wal_stop"] and s["files"] > 500
assert s["stop_time"] >= s["start_time"] and s["pgdata"] and isinstance(s["rows_exact"], bool)
' <<<"$out"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 0 "a second full backup: exit 0"
like "$out" "^backup pg [0-9a-f]{64} full: [0-9]+ files, [0-9.]+ MiB read, [0-9.]+ MiB new, [0-9.]+ MiB stored, WAL [0-9A-F]{24}\.\.[0-9A-F]{24} archived, [0-9.]+ s$" \
  "full backup: one line with sizes and the WAL range"
full_id=$(sed -n 's/^backup pg \([0-9a-f]*\) .*/\1/p' <<<"$out")
second_new=$(sed -n 's/.*MiB read, \([0-9.]*\) MiB new.*/\1/p' <<<"$out")
ok "the second full stores little: its blobs dedup with the first's ($second_new MiB new)" \
  python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 10)' "$second_new"
is "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM manifests WHERE kind = '"'pg'"' AND json_extract(summary, '"'$.type'"') = '"'full'"'").fetchone()[0])' "$w/local.db")" 2 \
  "both fulls are listed in the catalog with their summaries"

# --- incremental after changing ~1 % of pgbench_accounts' pages (a contiguous aid range)
pages=$(psql -qAtX -c "SELECT relpages FROM pg_class WHERE relname = 'pgbench_accounts'")
rows=$((500000 * 1 / 100))
psql -qAtX -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= $rows" \
  -c "UPDATE in_ts SET t = 'changed' WHERE i <= 100" -c "VACUUM pgbench_accounts, in_ts" -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 0 "incremental backup: exit 0"
is "$(out_field type) $(out_field prev)" "incr $full_id" "incremental: compared with the newest full"
incr_new=$(out_field bytes_new)
ok "incremental after changing ~1 % of $pages pages stores < 5 % of the full's bytes ($incr_new vs $full_new)" \
  test $((incr_new * 20)) -lt "$full_new"
# shellcheck disable=SC2086
is "$(compare "$(out_field id)" "$PGDATA" $acc_files "$ts_file")" "3 compared, 0 differ" \
  "incremental: the changed files rebuilt from old and new extents are the files"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --dbname "host=$PGHOST port=$PGPORT user=$PGUSER dbname=postgres"
is "$rc" 0 "an incremental of an incremental, connecting with --dbname CONNINFO: exit 0"
like "$out" "^backup pg [0-9a-f]{64} incr: " "incremental: says incr"
if command -v script >/dev/null; then # on a terminal: progress with bytes, rate and ETA, then the WAL wait
  tty_out=$(as_pg script -qec "'$lv' --config '$w/local.conf' backup pg --pg-data '$PGDATA' --type incr" /dev/null | tr '\r' '\n')
  like "$tty_out" "\\[[#>.]{24}\\] +[0-9]+%  [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B read, [0-9.]+ [KMG]?i?B/s(, ETA [0-9:]+)?, [0-9.]+ [KMG]?i?B new" \
    "on a terminal: a bar, bytes of the total, rate (and ETA after a second)"
  like "$tty_out" "waiting up to 60 s for the WAL [0-9A-F/]+\.\.[0-9A-F/]+ to reach the repository" "... and says it waits for the WAL"
else
  skip "no script(1) for a terminal" 2
fi

# --- page deltas: random updates change many index leaf pages a little; the incremental stores them as
#     deltas against their last whole image, and the files rebuilt from base + delta are the files
pk_file=${acc_files#* }
pgbench -n -t 400 -c 2 >/dev/null 2>&1 && psql -qAtX -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 0 "incremental after random updates: exit 0"
d1=$(out_field delta_pages)
ok "... stores changed index pages as deltas ($d1 pages, $(out_field delta_bytes) bytes, $(out_field base_blobs_read) bases read)" \
  test "${d1:-0}" -gt 50 -a "$(out_field base_blobs_read)" -gt 0
ok "... and stores little ($(out_field bytes_stored) bytes stored for $d1 delta pages)" \
  test "$(out_field bytes_stored)" -lt $((d1 * 1024))
is "$(compare "$(out_field id)" "$PGDATA" $acc_files)" "2 compared, 0 differ" \
  "deltas: the files rebuilt from base pages and deltas are the files"
pgbench -n -t 400 -c 2 >/dev/null 2>&1 && psql -qAtX -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 0 "an incremental on top of one with deltas: exit 0"
ok "... deltas again ($(out_field delta_pages) pages), against the same whole images" test "$(out_field delta_pages)" -gt 50
is "$(compare "$(out_field id)" "$PGDATA" $acc_files)" "2 compared, 0 differ" \
  "... kept deltas, new deltas and whole pages rebuild the files"
delta_id=$(out_field id)
mkdir "$w/rdelta" && chown "$LV_TEST_PG_OSUSER:" "$w/rdelta"
run lvpg "$w/local.conf" restore pg --backup "$delta_id" --to "$w/rdelta/data" --tablespace-map "ts1=$w/rdelta/ts"
is "$rc" 0 "restore of the backup with deltas: exit 0 ($(tail -n 1 <<<"$err"))"
is "$(compare "$delta_id" "$w/rdelta/data" $acc_files)" "2 compared, 0 differ" \
  "... restore applied base pages and deltas: the restored files are the backed-up files"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --no-page-deltas
is "$rc:$(out_field delta_pages)" "0:0" "--no-page-deltas: exit 0, no new deltas"
is "$(compare "$(out_field id)" "$PGDATA" "$pk_file")" "1 compared, 0 differ" "... the unchanged delta runs it keeps still rebuild"

# commit_in_pause PAUSE_VAR LOG_LINE TABLE: an incremental that pauses (PAUSE_VAR=3) once LOG_LINE is logged,
# and a row committed into TABLE in the pause; sets late_rc, out (its --json) and late_err (its log)
commit_in_pause() {
  psql -qAtX -c "CREATE TABLE $3 (i int)" >/dev/null
  paused_start "$1" 3 "$2" "$w/$3" --config "$w/local.conf" --log-level debug backup pg --pgdata "$PGDATA" \
    --type incr --json
  psql -qAtX -c "INSERT INTO $3 VALUES (1)" >/dev/null
  paused_wait
  late_rc=$rc
  late_err=$err
}
# --- a commit between the stop and the snapshot the row counts take: the snapshot sees its row, a recovery
#     to the stop does not, so the counts are informational (not exact) and seed no later incremental
commit_in_pause LABVAULT_TEST_PAUSE_AFTER_STOP "backup stopped" late
is "$late_rc $(out_field rows_exact)" "0 False" "a row committed between the stop and the counts' snapshot: exit 0, counts not exact"
like "$late_err" "row counts: WAL was written between the stop and its snapshot: a table counted now is informational, not exact at the stop" \
  "... saying why"
# ... and a transaction that ends while the backup stops: one committing between the backup-end record and
# the segment switch (both written by pg_backup_stop) is in the snapshot, not in a recovery to the stop, and
# writes nothing after the switch. No test can commit inside pg_backup_stop; the check compares the snapshot
# taken just before the stop with the one after it, so a commit in a pause just before the stop shows it.
commit_in_pause LABVAULT_TEST_PAUSE_BEFORE_STOP "files read and stored" late2
is "$late_rc $(out_field rows_exact)" "0 False" "a transaction ended while the backup stopped: exit 0, counts not exact"
like "$late_err" "row counts: a transaction ended while the backup stopped: a table counted now is informational, not exact at the stop" \
  "... saying why"
# ... but a commit while the counts run, after every database's snapshot, is in neither: the databases'
# snapshots are all taken before the first is counted (template1 is counted first, the commit goes to
# postgres, counted after it)
commit_in_pause LABVAULT_TEST_PAUSE_BETWEEN_DATABASES "row counts: database template1 done" late3
is "$late_rc $(out_field rows_exact)" "0 True" "a commit between two databases' counts: exit 0, counts exact"
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type incr --json
is "$rc $(out_field rows_exact)" "0 True" "the next backup of the quiet cluster: counts exact again ($(grep 'row counts' <<<"$err" | tr '\n' ' '))"
# --- a full backup takes its counts from the previous backup's and the WAL, as an incremental does (a row
#     inserted and one deleted since), and stays independent of it; --recount counts every table
psql -qAtX -c "INSERT INTO late3 VALUES (2), (3)" -c "DELETE FROM late3 WHERE i = 1" >/dev/null
prev_id=$(out_field id)
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --json
is "$rc $(out_field rows_exact) $(out_field type)" "0 True full" "a full backup after a quiet one: exit 0, counts exact"
like "$err" "row counts: 0 tables counted, [1-9][0-9]* carried from backup ${prev_id:0:12}, [1-9][0-9]* derived from its counts" \
  "... none counted: carried, or derived from ${prev_id:0:12}'s and the WAL (late3: +2 -1)"
is "$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("prev"))' <<<"$out")" "None" \
  "... and it names no previous backup: a full backup restores alone"
full_id=$(out_field id)
# ... a table whose pages were read all-visible, then changed before the stop (in a pause after the files,
#     before the snapshot taken just before the stop, which the commits then do not make informational):
#     the block maps of the backup's own WAL name it, so its rows are not the pages' (3000) but the stop's
psql -qAtX -c "CREATE TABLE pages_t AS SELECT g FROM generate_series(1, 3000) g" \
  -c "CREATE TABLE pages_u AS SELECT g FROM generate_series(1, 4000) g" -c "VACUUM pages_t, pages_u" >/dev/null
paused_start LABVAULT_TEST_PAUSE_AFTER_FILES 3 "files read and stored" "$w/pages_t" --config "$w/local.conf" \
  --log-level debug backup pg --pgdata "$PGDATA" --type full --json
psql -qAtX -c "INSERT INTO pages_t SELECT generate_series(3001, 3007)" -c "DELETE FROM pages_t WHERE g <= 2" >/dev/null
paused_wait
is "$rc $(out_field rows_exact) $(grep -o 'public.pages_t: [0-9]* rows, [a-z ]*' <<<"$err")" \
  "0 True public.pages_t: 3005 rows, counted" \
  "a table changed after its pages were read: counted at the stop (3000 + 7 - 2), not from its pages; exact"
like "$err" "public.pages_u: 4000 rows, from the pages read" "... an unchanged all-visible table: from its pages"
full_id=$(out_field id)
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --json --recount
is "$rc $(out_field rows_exact)" "0 True" "--recount: exit 0, counts exact"
unlike "$err" "carried from backup" "... every table counted"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --recount --no-row-counts
is "$rc" 2 "--recount with --no-row-counts: exit 2"
# ... but not when the WAL since the previous counts is longer than the data directory (and 1 GiB): reading
# it would cost more than counting (65 segment switches make a long WAL of a small cluster)
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --json --recount
prev_id=$(out_field id)
size=$(du -sb --exclude=pg_wal "$PGDATA" | cut -f1)
((size > 1073741824)) || size=1073741824
psql -qAtX -c "DO \$\$ BEGIN FOR i IN 1..$((size / 16777216 + 2)) LOOP
  INSERT INTO late3 VALUES (4); PERFORM pg_switch_wal(); END LOOP; END \$\$" >/dev/null
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --json
is "$rc $(out_field rows_exact)" "0 True" "a full backup after more WAL than the data directory holds: exit 0, counts exact"
like "$err" "row counts: the WAL since backup ${prev_id:0:12}'s counts \([0-9]+ MiB\) is longer than the data directory \([0-9]+ MiB\): every table counted instead" \
  "... every table counted, saying why"
unlike "$err" "carried from backup" "... none carried"
# --- a backup role that is not a superuser (reads every table, may run the backup functions): its counting
#     sessions cannot compress their hint-bit images (wal_compression is a superuser setting) and count
#     all the same
psql -qAtX -c "CREATE ROLE lv_backup LOGIN IN ROLE pg_read_all_data, pg_monitor, pg_checkpoint" \
  -c "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean), pg_switch_wal(),
      pg_control_checkpoint() TO lv_backup" >/dev/null
run lvpg "$w/local.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --recount --json \
  --dbname "user=lv_backup dbname=postgres"
is "$rc $(out_field rows_exact)" "0 True" "a full backup by a role that is not a superuser, --recount: exit 0, counts exact ${err:+($(tail -n 1 <<<"$err"))}"
# --- fewer connection slots than databases (4 are begun together): the counts begin fewer, still exact
restart_pg() { "$LV_TEST_HARNESS/pg.sh" stop "$LV_PG_DIR" >/dev/null 2>&1 && "$LV_TEST_HARNESS/pg.sh" start "$LV_PG_DIR" >/dev/null 2>&1; }
for i in $(seq 1 8); do psql -qAtX -c "CREATE DATABASE slots_$i" >/dev/null; done
psql -qAtX -c "ALTER SYSTEM SET max_connections = 3" -c "ALTER SYSTEM SET superuser_reserved_connections = 0" >/dev/null
restart_pg
run lvpg "$w/local.conf" --log-level debug backup pg --pgdata "$PGDATA" --type incr --json
is "$rc $(out_field rows_exact)" "0 True" "$(psql -qAtX -c 'SELECT count(*) FROM pg_database WHERE datallowconn') databases, 3 connection slots (the backup session holds one): exit 0, counts exact"
like "$err" "too many clients.*counting the 2 databases begun first" "... counted in groups of what the slots allow"
psql -qAtX -c "ALTER SYSTEM RESET max_connections" -c "ALTER SYSTEM RESET superuser_reserved_connections" >/dev/null
restart_pg
for i in $(seq 1 8); do psql -qAtX -c "DROP DATABASE slots_$i" >/dev/null; done

run lvpg "$w/local.conf" repo check
is "$rc" 0 "repo check after the backups: exit 0 ($(tail -n 1 <<<"$err$out"))"

# --- refusals
run lvpg "$w/local.conf" backup pg --pgdata "$w"
is "$rc" 3 "--pgdata that is not a data directory: exit 3"
like "$err" "^labvault: pg-data $w is not a PostgreSQL data directory" "... one line naming it"
as_pg "$LV_TEST_PG_BINDIR/initdb" -D "$w/other" --no-sync -A trust -U postgres >/dev/null 2>&1
run lvpg "$w/local.conf" backup pg --pgdata "$w/other"
is "$rc" 10 "--pgdata of another cluster than the server's: exit 10"
like "$err" "pg-data $w/other is not the data directory of the PostgreSQL server .*\($PGDATA\)" "... naming both"
is "$(grep -c . <<<"$err")" 1 "... in one line"
run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --type incr
is "$rc" 1 "--type incr without a previous backup in this repository: exit 1"
like "$err" "no previous backup of PostgreSQL cluster [0-9]+ on timeline 1" "... says why"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --dbname "host=127.0.0.1 port=1 connect_timeout=2"
is "$rc" 8 "PostgreSQL unreachable: exit 8"
like "$err" "^labvault: cannot connect to PostgreSQL" "... one line saying so"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type sometimes
is "$rc" 2 "--type sometimes: exit 2"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --label "$(printf 'x%.0s' $(seq 300))"
is "$rc $err" "2 labvault: --label: at most 255 bytes" "a label of 300 bytes: exit 2, one line"

# --- a second backup while one runs
before=$(manifests)
as_pg env LABVAULT_TEST_PAUSE_AFTER_START=4 "$lv" --config "$w/local.conf" backup pg --pgdata "$PGDATA" \
  >"$w/first.out" 2>"$w/first.err" &
first=$!
for _ in $(seq 100); do
  [[ $(psql -qAtX -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'") == 1 ]] && break
  sleep 0.1
done
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 7 "a second backup while one runs: exit 7"
like "$err" "^labvault: another backup pg is running \(pid [0-9]+" "... one line naming the pid"
first_rc=0
wait "$first" || first_rc=$?
is "$first_rc" 0 "the first backup completes"
is "$(manifests)" $((before + 1)) "... and only it committed"

# --- SIGINT while in backup mode: pg_backup_stop runs, nothing is committed, exit 14
before=$(manifests)
as_pg env LABVAULT_TEST_PAUSE_AFTER_START=30 "$lv" --config "$w/local.conf" backup pg --pgdata "$PGDATA" \
  >/dev/null 2>"$w/int.err" &
bg=$!
for _ in $(seq 100); do
  [[ $(psql -qAtX -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'") == 1 ]] && break
  sleep 0.1
done
kill -INT "$(head -n 1 "$w/local.db.backup-pg.lock")"
int_rc=0
wait "$bg" || int_rc=$?
is "$int_rc" 14 "SIGINT in backup mode: exit 14"
like "$(cat "$w/int.err")" "interrupted" "... says interrupted"
is "$(manifests)" "$before" "... nothing committed"
is "$(psql -qAtX -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'")" 0 \
  "... and its session is gone"

# --- the WAL does not arrive: exit 9 after archive-timeout, nothing committed
before=$(manifests)
psql -qAtX -c "ALTER SYSTEM SET archive_command = 'false'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --archive-timeout 3
is "$rc" 9 "WAL not archived within archive-timeout: exit 9"
like "$err" "^labvault: backup not committed: WAL segment [0-9A-F]{24} \(needed for [0-9A-F/]+\.\.[0-9A-F/]+\) was not archived within 3 s" \
  "... one line naming the segment"
is "$(manifests)" "$before" "... nothing committed"

# --- S3: full and incremental; WAL goes to the S3 repository from now on
psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $w/s3.conf wal push %p'" -c "SELECT pg_reload_conf()" >/dev/null
# The new repository's first files are the ones `false` refused, a .backup file first: archiving must
# resume with them (the first segment creates the stanza; it once stayed stuck, refused as "stanza lost").
# On failure, PostgreSQL's log shows what archive_command said.
wal_switch
caught_up=0
wal_wait_archived 120 && caught_up=1
is "$caught_up" 1 "the archiver catches up with the S3 repository"
((caught_up)) || diag "$(tail -n 60 "$LV_PG_DIR/log/postgres.log")"
run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "S3: full backup: exit 0 ${err:+($err)}"
s3_full=$(out_field bytes_new)
psql -qAtX -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN 100000 AND $((100000 + rows))" >/dev/null
run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 0 "S3: incremental: exit 0"
ok "S3: the incremental stores < 5 % of the full's bytes ($(out_field bytes_new) vs $s3_full)" \
  test $(($(out_field bytes_new) * 20)) -lt "$s3_full"
run lvpg "$w/s3.conf" repo check
is "$rc" 0 "S3: repo check: exit 0"

# --- a damaged page: reported, the backup commits, exit 9
psql -qAtX -c "CREATE TABLE damaged AS SELECT g AS i, repeat('x', 100) AS t FROM generate_series(1, 2000) g" \
  -c "CHECKPOINT" >/dev/null
file=$PGDATA/$(psql -qAtX -c "SELECT pg_relation_filepath('damaged')")
"$LV_TEST_HARNESS/pg.sh" stop "$LV_PG_DIR" >/dev/null 2>&1
printf 'DAMAGE' | dd of="$file" bs=1 seek=$((8192 + 4000)) conv=notrunc status=none
"$LV_TEST_HARNESS/pg.sh" start "$LV_PG_DIR" >/dev/null 2>&1
before=$(manifests)
psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $w/local.conf wal push %p'" -c "SELECT pg_reload_conf()" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc" 9 "a page with a bad checksum: exit 9"
is "$(out_field bad_pages)" 1 "... one bad page in the summary"
like "$err" "page 1 of ${file#"$PGDATA"/}: checksum mismatch" "... named (file and page) in the output"
is "$(manifests)" $((before + 1)) "... and the backup is committed"

# --- a cluster without archive_mode (started last: it takes over PG*)
lv_pg_start "archive_mode = off"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 8 "archive_mode = off: exit 8"
like "$err" "^labvault: archive_mode is off" "... one line saying so"

# shellcheck disable=SC2119
done_testing
