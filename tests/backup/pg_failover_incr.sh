#!/usr/bin/env bash
# Incremental backups across a timeline switch (PostgreSQL 15, on 127.0.0.1): a primary archives into a local
# repository; its streaming standby has the same archive settings. A full backup of the primary, writes, the
# standby promoted (timeline 2, the switch point inside a segment) while the old primary still runs: the old
# primary writes on timeline 1 past the switch point and takes a full backup there (a backup this cluster's
# history does not contain), then stops. Writes on timeline 2 (a new table, a TRUNCATE, an UPDATE, pgbench).
# Then:
#   - `backup pg --type incr --verify-map` of the promoted standby (pg_control still naming timeline 1,
#     where the old primary's backup is the newest: looked for again on timeline 2) compares with the full
#     backup of timeline 1, naming the old primary's later backup it passes over; the block maps followed
#     along the history miss no page and name a small part of the pages; restored to its end
#     (--target-immediate) every table equals the live cluster's;
#   - by the maps (the default): incr_method "maps", timeline 2, a small part of the pages read; restored to
#     its end and to the end of the archive, every table equal;
#   - with the map of the segment holding the switch point missing, the incremental falls back to the LSN
#     scan saying why, and restores every table exactly as well;
#   - with only the old primary's later backup left, the incremental is refused (exit 10), naming both
#     timelines and the switch point, and nothing is recorded.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir failover)
wal_conf "$w/lv.conf" "$w/repo" "[drill]" "scratch-dir = $w/scratch" "os-user = $LV_TEST_PG_OSUSER"
lvpg "$w/lv.conf" repo init >/dev/null 2>&1
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" "wal_level = replica" \
  "max_wal_size = 256MB" "max_wal_senders = 5" "hot_standby = on" "checkpoint_timeout = 30min" "autovacuum = off"
primary_dir=$LV_PG_DIR
# No autovacuum: its freezing after the full backup would name every page, and the test counts pages read.
pgbench -i -s 2 -q >/dev/null 2>&1
psql -qAtX -c "CREATE TABLE keep (id int PRIMARY KEY, v text)" \
  -c "INSERT INTO keep SELECT g, 'k' || g FROM generate_series(1, 20000) g" \
  -c "CREATE TABLE trunc AS SELECT g, repeat('t', 200) AS pad FROM generate_series(1, 5000) g" -c "VACUUM" >/dev/null

lv_pg_standby_start
sport=$(sed -n 's/^PGPORT=//p' "$LV_PG_STANDBY_DIR/env")
sdata=$LV_PG_STANDBY_DIR/data
sq() { psql -p "$sport" -qAtX "$@"; }
ok "the standby streams from the primary" lv_pg_standby_caught_up
# pg_basebackup's plain format does not keep file times: every database directory's PG_VERSION of the
# clone is younger than the primary's, and an incremental by the LSN scan over a backup of the other node
# takes every database directory for created again (stored whole: right, but all pages read). The
# --verify-map incremental below is one by the LSN scan and counts pages, so the clone first keeps the
# primary's times, as a copy by `restore pg` does; the one by the maps goes by what the maps say was
# created, and is run with the times apart again.
for v in "$primary_dir"/data/base/*/PG_VERSION; do touch -r "$v" "$sdata/base/$(basename "$(dirname "$v")")/PG_VERSION"; done
backup_standby() { lvpg "$w/lv.conf" backup pg --pg-data "$sdata" --pg-host 127.0.0.1 --pg-port "$sport" "$@"; }
newest() { lvpg "$w/lv.conf" backups --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][-1]["id"])'; }
# field ID KEY: a field of backup ID's summary in `backups --json`
field() {
  lvpg "$w/lv.conf" backups --json |
    python3 -c 'import json,sys; print([b for b in json.load(sys.stdin)["backups"] if b["id"] == sys.argv[1]][0].get(sys.argv[2]))' "$1" "$2"
}
# recorded METHOD: the newest backup is an incremental of timeline 2 over the full backup of timeline 1, made
# by METHOD (incr_method: lsn with --verify-map, which compares every page's LSN); sets incr.
recorded() {
  incr=$(newest)
  is "$(field "$incr" type) $(field "$incr" incr_method) $(field "$incr" timeline) $(field "$incr" prev)" \
    "incr $1 2 $full" "... recorded: incremental, incr_method $1, timeline 2, over the full backup of timeline 1"
}
# few_pages SED: a small part of the relation pages read (or that the maps would read): SED prints
# "READ TOTAL" from the backup's output
few_pages() {
  local pread ptotal
  read -r pread ptotal < <(sed -n "$1" <<<"$out") || true
  ok "... the maps name a small part of the relation pages (${pread:-?} of ${ptotal:-?} read)" \
    test "${pread:-0}" -gt 0 -a "$((${pread:-0} * 4))" -lt "${ptotal:-0}"
}
# restore_compare ID WHAT [end]: restore backup ID to its end (--target-immediate), or with "end" to the end
# of the archive (the live cluster's WAL archived first), start it, compare every table with the live
# promoted cluster and check it as queries see it.
restore_compare() {
  local expected target=(--target-immediate)
  expected=$(pg_table_sums -p "$sport")
  if [[ ${3:-} == end ]]; then
    target=()
    sq -c "SELECT pg_switch_wal()" >/dev/null
    PGDATA=$sdata wal_wait_archived 120 || true
  fi
  restore_check "$w/lv.conf" "$1" "$w/r" "$2 (${target[*]:-to the end of the archive})" "$expected" "${target[@]}"
}

# --- a full backup of the primary, then writes on timeline 1
run lvpg "$w/lv.conf" backup pg --pg-data "$primary_dir/data" --type full --json
is "$rc" 0 "full backup of the primary: exit 0 ${err:+($err)}"
full=$(out_field id)
pgbench -n -c 2 -t 100 >/dev/null 2>&1
psql -qAtX -c "UPDATE keep SET v = 'before' WHERE id % 50 = 0" >/dev/null
ok "the standby replayed it" lv_pg_standby_caught_up

# --- the standby promoted while the old primary runs on: a backup of it past the switch point
ok "promote the standby" as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$sdata" -w promote
is "$(sq -c 'SELECT pg_is_in_recovery()')" f "the promoted standby writes (timeline 2)"
psql -qAtX -c "INSERT INTO keep SELECT g, 'old primary' FROM generate_series(100001, 130000) g" \
  -c "SELECT pg_switch_wal()" >/dev/null
run lvpg "$w/lv.conf" backup pg --pg-data "$primary_dir/data" --type full --json
is "$rc $(out_field timeline)" "0 1" "a full backup of the old primary after the promotion, on timeline 1 ${err:+($err)}"
bad=$(out_field id)
"$LV_TEST_HARNESS/pg.sh" stop "$primary_dir" fast 2>/dev/null

# --- timeline 2: a new table, a TRUNCATE, an UPDATE, pgbench
sq -c "CREATE TABLE fresh AS SELECT g, md5(g::text) AS h FROM generate_series(1, 3000) g" \
  -c "TRUNCATE trunc" -c "INSERT INTO trunc SELECT g, 'again' FROM generate_series(1, 100) g" \
  -c "UPDATE keep SET v = 'after' WHERE id % 97 = 0" >/dev/null
PGPORT=$sport pgbench -n -c 2 -t 100 >/dev/null 2>&1
sq -c "SELECT pg_switch_wal()" >/dev/null
if PGDATA=$sdata wal_wait_archived 120; then pass "the promoted standby archives timeline 2"
else fail "the promoted standby archives timeline 2"; fi
mkdir -p "$w/fetch" && chown "$LV_TEST_PG_OSUSER:" "$w/fetch"
ok "... with the history file of timeline 2" lvpg "$w/lv.conf" wal fetch 00000002.history "$w/fetch/h"
switch=$(awk '$1 == 1 { print $2 }' "$w/fetch/h")
# The segment holding the switch point, on timeline 2 (begun with timeline 1's WAL up to the switch).
read -r switch_seg switch_off < <(python3 -c 'import sys; h, l = sys.argv[1].split("/"); x = int(h, 16) << 32 | int(l, 16)
s = x >> 24; print("00000002%08X%08X" % (s >> 8, s & 255), x & 0xFFFFFF)' "$switch")
ok "the switch point $switch is inside segment $switch_seg (not on its boundary)" test "$switch_off" -gt 0

# --- the incremental across the switch, by the maps
# Until the checkpoint the promotion requested ends (spread: the standby's replay left many pages dirty),
# pg_control still names timeline 1, where the old primary's backup is the newest: the previous backup is
# looked for again on the start checkpoint's timeline.
tl_before=$(sq -c "SELECT timeline_id FROM pg_control_checkpoint()")
run backup_standby --type incr --verify-map --log-level info
is "$rc" 0 "incremental of the promoted standby with --verify-map: exit 0" || diag "$err"
if [[ $tl_before == 1 ]]; then
  like "$err" "the start checkpoint is on timeline 2, pg_control named 1 before it: the previous backup again" \
    "... pg_control named timeline 1 before the start: the previous backup looked for again on timeline 2"
else
  skip "pg_control named timeline $tl_before before the start (the checkpoint after the promotion had ended)" 1
fi
like "$err" "backup ${bad:0:12} \(timeline 1\) ends at .*, past the switch from timeline 1 to 2 at $switch: not on the history of timeline 2, the incremental compares with backup ${full:0:12} \(timeline 1\)" \
  "... passes over the old primary's backup past the switch, naming it"
like "$out" "verify-map: the block maps of 00000001[0-9A-F]{16}\.\.00000002[0-9A-F]{16} name .* pages missed: 0" \
  "... its maps run from timeline 1 to timeline 2 and miss no page it found changed"
few_pages 's/.*would read .*(\([0-9]*\) of \([0-9]*\) relation pages).*/\1 \2/p'
recorded lsn
restore_compare "$incr" "the incremental across the switch (--verify-map)"
# By the maps (the default, without --verify-map): only the pages they name are read.
run lvpg "$w/lv.conf" forget "$incr"
is "$rc" 0 "forget it, so the next incremental compares with the full backup of timeline 1 again ${err:+($err)}"
sq -c "UPDATE keep SET v = 'maps' WHERE id % 89 = 0" -c "DELETE FROM fresh WHERE g % 7 = 0" >/dev/null
for v in "$sdata"/base/*/PG_VERSION; do touch "$v"; done
run backup_standby --type incr --log-level info
is "$rc" 0 "incremental across the switch by the maps (PG_VERSION times other than the primary's): exit 0 ${err:+($err)}"
like "$out" "incremental by the block maps of 00000001[0-9A-F]{16}\.\.00000002[0-9A-F]{16} \(.*\): [0-9]+ of [0-9]+ relation pages read" \
  "... says so"
few_pages 's/.*: \([0-9]*\) of \([0-9]*\) relation pages read.*/\1 \2/p'
recorded maps
# Its row counts come from the full's and the WAL along the history: timeline 1 up to the switch, then 2
# (the old primary's 30,000 rows after the switch point are not on it); a drill to its end point checks them.
like "$err" "row counts: [0-9]+ tables counted, [0-9]+ carried from backup ${full:0:12}, [1-9][0-9]* derived from its counts and the WAL since" \
  "... derives the changed tables' row counts from the WAL along the history"
run "$lv" --config "$w/lv.conf" drill run --backup "$incr" --target-immediate --json
is "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["passed"], [c["ok"] for c in j["checks"] if c["name"] == "rows"])' "$out" 2>&1)" \
  "True [True]" "... and a drill to its end point finds every recorded count in the restored tables ${err:+($err)}"
# A repository the scratch server's user cannot read: the drill's one line says why its WAL fetch failed.
cfg_owner=$(stat -c %u:%g "$w/repo/config")
chown root: "$w/repo/config" && chmod 0600 "$w/repo/config"
run "$lv" --config "$w/lv.conf" drill run --backup "$incr" --target-immediate
chown "$cfg_owner" "$w/repo/config"
is "$rc" 12 "a drill whose scratch server cannot read the repository fails (exit 12)"
like "$err" "could not restore file .* \(restore_command: cannot open $w/repo/config: Permission denied\)" \
  "... its one line gives what restore_command said, not only its exit code"
restore_compare "$incr" "the incremental by the maps across the switch"
sq -c "UPDATE keep SET v = 'later' WHERE id % 71 = 0" -c "INSERT INTO fresh SELECT g, 'later' FROM generate_series(7001, 7100) g" >/dev/null
restore_compare "$incr" "the incremental by the maps across the switch, with what followed it" end
run lvpg "$w/lv.conf" forget "$incr"
is "$rc" 0 "forget it ${err:+($err)}"

# --- the map of the switch segment missing: the LSN scan, saying why
sq -c "UPDATE keep SET v = 'lsn' WHERE id % 83 = 0" -c "INSERT INTO fresh SELECT g, 'x' FROM generate_series(5001, 6000) g" >/dev/null
mv "$w/repo/walmap/$switch_seg" "$w/gone"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM wal_maps WHERE segment = ?", (sys.argv[2],)); c.commit()' \
  "$w/lv.db" "$switch_seg"
# pg_wal's copy would stand in for the map: away while the backup runs (no recovery needs it after a checkpoint)
sq -c "CHECKPOINT" >/dev/null
[[ -e $sdata/pg_wal/$switch_seg ]] && mv "$sdata/pg_wal/$switch_seg" "$w/gone.wal"
run backup_standby --type incr
[[ -e $w/gone.wal ]] && mv "$w/gone.wal" "$sdata/pg_wal/$switch_seg"
is "$rc" 0 "incremental across the switch with the switch segment's map missing: exit 0 ${err:+($err)}"
like "$out" "incremental by LSN scan: the block maps of .* cannot be used \(block map for segment $switch_seg missing\)" \
  "... made by the LSN scan, saying why"
recorded lsn
restore_compare "$incr" "the incremental by LSN scan across the switch"
as_pg mv "$w/gone" "$w/repo/walmap/$switch_seg"

# --- only the old primary's backup past the switch: refused
run lvpg "$w/lv.conf" forget "$incr" "$full"
is "$rc" 0 "forget the incremental and the full backup of timeline 1 ${err:+($err)}"
before=$(lvpg "$w/lv.conf" backups --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["backups"]))')
run backup_standby --type incr
is "$rc" 10 "an incremental whose only candidate ends past the switch point: exit 10 (conflict)"
like "$err" "no previous backup on the history of timeline 2: backup ${bad:0:12} \(timeline 1\) ends at [0-9A-F]+/[0-9A-F]+, past the switch from timeline 1 to 2 at $switch .*take a full backup" \
  "... naming the backup, both timelines and the switch point"
is "$(lvpg "$w/lv.conf" backups --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["backups"]))')" "$before" \
  "... and recording nothing"
is "$(sq -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'")" 0 \
  "... no session left"

done_testing
