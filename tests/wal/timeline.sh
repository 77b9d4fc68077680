#!/usr/bin/env bash
# Timelines on real PostgreSQL 15: a table is dropped, the cluster is recovered from a base backup and the
# labvault archive to just before the drop (recovery_target_xid, exclusive) and promoted onto timeline 2,
# which drops another table. `wal drops` follows the archive the way recovery_target_timeline = 'latest'
# would: timeline 1 up to the switch point, then timeline 2. So it lists the drop made on timeline 2 and not
# the one that was undone; the segment holding the switch point comes from timeline 2.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir timeline)
wal_conf "$w/local.conf" "$w/repo"
ok "repository created" lvpg "$w/local.conf" repo init
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" "wal_level = replica"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE TABLE t(id int)" -c "INSERT INTO t SELECT generate_series(1, 100)"
base=$LV_PG_DIR/base
mkdir -m 0700 "$base"
chown "${LV_TEST_PG_OSUSER:-$(id -un)}:" "$base" 2>/dev/null || true
ok "base backup (pg_basebackup)" as_pg "$LV_TEST_PG_BINDIR/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres \
  -D "$base" -X fetch -c fast
undone_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE t" -c "COMMIT")
wal_switch
ok "timeline 1 archived" wal_wait_archived 60

h=$(lv_harness_dir)
"$h/pg.sh" stop "$LV_PG_DIR" fast >/dev/null 2>&1
mv "$PGDATA" "$LV_PG_DIR/data.old"
mv "$base" "$PGDATA"
as_pg touch "$PGDATA/recovery.signal"
"$h/pg.sh" start "$LV_PG_DIR" "restore_command = '$lv --config $w/local.conf wal fetch %f %p'" \
  "recovery_target_xid = '$undone_xid'" "recovery_target_inclusive = off" "recovery_target_action = promote" \
  >/dev/null || BAIL_OUT "the recovered cluster did not start"
for ((i = 0; i < 300; i++)); do
  [[ $(q -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && break
  sleep 0.1
done
is "$(q -c "SELECT pg_is_in_recovery()")" f "recovered to just before the drop and promoted"
is "$(q -c "SELECT count(*) FROM t")" 100 "the dropped table is back"
is "$(q -c "SELECT substr(pg_walfile_name(pg_current_wal_lsn() + 1), 1, 8)")" 00000002 "on timeline 2"
q -c "CREATE TABLE u(id int)"
new_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE u" -c "COMMIT")
wal_switch
ok "timeline 2 archived" wal_wait_archived 60
like "$(lvpg "$w/local.conf" wal list)" "00000002\.history" "the timeline history file is archived"

out=$(lvpg "$w/local.conf" wal drops --json)
got=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s:%d:%d" % (x["kind"], x["xid"], x["timeline"]) for x in d["drops"]))
print(d["segments"], d["missing"])' <<<"$out")
like "$got" "drop:$new_xid:2" "wal drops follows timeline 2: the drop made there (xid $new_xid)"
unlike "$got" "drop:$undone_xid:" "... and not the drop recovery undid (xid $undone_xid)"
like "$(tail -1 <<<"$got")" "^[0-9]+ None$" "no gap on the way"

done_testing
