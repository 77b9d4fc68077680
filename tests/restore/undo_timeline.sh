#!/usr/bin/env bash
# Undo a drop made on timeline 2 while the old primary lives on on timeline 1 (issue 17, case 3), on real
# PostgreSQL 15. Cluster P (timeline 1) archives into the repository; backup A. A point-in-time restore of A
# (labvault restore pg) is started as cluster R, archiving into the same repository, and promoted: timeline 2.
# P keeps running and takes backup B on timeline 1, after the branch. On R a table is dropped. `wal drops`
# lists the drop on timeline 2 and prints a restore that names the timeline; that restore must choose a
# backup on timeline 2's history (A, not the newer B, which PostgreSQL would refuse: "requested timeline 2 is
# not a child of this server's history"), and the restored cluster holds every table exactly as R had it just
# before the drop (rows and checksums), and passes pg_check_restored.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"
. "$(dirname "$0")/../lib/pgstate.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir undo-tl)
wal_archiving "$w"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE TABLE base(id int primary key, t text)" -c "INSERT INTO base SELECT g, 'b' || g FROM generate_series(1, 2000) g"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "backup A on timeline 1 ${err:+($err)}"
backup_a=$(out_field id)
q -c "INSERT INTO base SELECT g, 'kept' FROM generate_series(2001, 2100) g"
undone=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DELETE FROM base WHERE id <= 100" -c "COMMIT")
wal_switch
ok "timeline 1 archived" wal_wait_archived 60

# R: a point-in-time restore of A to just before the DELETE, archiving into the same repository, promoted.
run lvpg "$w/local.conf" restore pg --to "$w/r" --target-xid "$undone" --target-exclusive
is "$rc" 0 "point-in-time restore of A (cluster R) ${err:+($err)}"
chown -R "$LV_TEST_PG_OSUSER:" "$w/r"
r_port=$((20000 + RANDOM % 10000))
r_sock=$w/r.sock
mkdir -p "$r_sock" && chown "$LV_TEST_PG_OSUSER:" "$r_sock"
lv_at_exit as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$w/r" -m immediate stop
as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$w/r" -l "$w/r.log" -w -t 300 \
  -o "-p $r_port -k $r_sock -c listen_addresses='' -c archive_mode=on" start >/dev/null 2>&1 ||
  BAIL_OUT "cluster R did not start: $(tail -5 "$w/r.log")"
rq() { psql -h "$r_sock" -p "$r_port" -qAtX -v ON_ERROR_STOP=1 "$@"; }
for ((i = 0; i < 600; i++)); do
  [[ $(rq -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && break
  sleep 0.1
done
is "$(rq -c "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")" 00000002 "R was promoted onto timeline 2"

# P lives on (timeline 1) and takes backup B after the branch.
q -c "INSERT INTO base SELECT g, 'p only' FROM generate_series(5001, 6000) g"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "backup B on timeline 1, after timeline 2 branched off ${err:+($err)}"
backup_b=$(out_field id)
is "$(out_field timeline)" 1 "... on timeline 1"

# On R: work, a row committed just before, the state, the DROP, work after it.
rq -c "CREATE TABLE victim(id int primary key, v text)" -c "INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 4000) g"
rq -c "UPDATE base SET t = t || '+r' WHERE id % 10 = 0"
rq -c "INSERT INTO base VALUES (700000, 'committed just before the DROP on R')"
before=$(pg_state -h "$r_sock" -p "$r_port")
drop_xid=$(rq -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
rq -c "INSERT INTO base VALUES (700001, 'after the DROP on R')"
rq -c "SELECT pg_switch_wal()" >/dev/null
q -c "SELECT txid_current()" -c "SELECT pg_switch_wal()" >/dev/null
for ((i = 0; i < 600; i++)); do
  compgen -G "$w/r/pg_wal/archive_status/*.ready" >/dev/null || break
  sleep 0.1
done
ok "P archived its WAL too" wal_wait_archived 60
like "$(lvpg "$w/local.conf" wal list)" "00000002\.history" "timeline 2's history is archived"

run lvpg "$w/local.conf" wal drops --json
is "$rc" 0 "wal drops ${err:+($err)}"
pick=$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["xid"] == int(sys.argv[2]) and x["timeline"] == 2: print(x["restore"])' "$out" "$drop_xid")
is "$pick" "labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive --target-timeline 2" \
  "wal drops lists the drop on timeline 2, with a restore that names the timeline"

run_printed "$w/local.conf" "$pick --json" "$w/restored"
is "$rc" 0 "the printed restore ${err:+($err)}"
is "$(out_field backup)" "$backup_a" "backup A (timeline 1, before the branch) is chosen, not B"
like "$out" '"timeline":"2"' "recovery follows timeline 2 (recovery_target_timeline = '2')"
ok "the restored cluster starts and recovers to just before the drop" start_restored "$w/restored"
rs=(-h "$R_SOCK" -p "$R_PORT")
is "$(pg_state "${rs[@]}")" "$before" "every table as R had it just before the drop"
is "$(psql "${rs[@]}" -qAtX -c "SELECT count(*) FROM base WHERE t = 'p only'")" 0 "nothing of P's timeline 1 after the branch"
problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
is "$problems" "" "pg_check_restored"
stop_restored "$w/restored"

run lvpg "$w/local.conf" restore pg --to "$w/again" --target-xid "$drop_xid" --target-exclusive --dry-run --json
is "$rc/$(out_field backup)" "0/$backup_a" "without --target-timeline the newest timeline (2) is followed: A again"
run lvpg "$w/local.conf" restore pg --to "$w/b" --backup "$backup_b" --target-xid "$drop_xid" --target-exclusive \
  --target-timeline 2 --dry-run
is "$rc" 2 "backup B for a target on timeline 2: refused (exit 2)"
like "$err" "not on the history of timeline 2" "... naming why"

done_testing
