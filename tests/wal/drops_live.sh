#!/usr/bin/env bash
# `wal drops` right after an accident (issue 17, case 5), on real PostgreSQL 15: the DROP's commit is in the
# segment being written, which is not archived yet. wal drops lists nothing, but says (text, and "live" in
# JSON) that the cluster has written WAL the archive does not hold and how to archive it; the listing has a
# header row. --switch runs pg_switch_wal() and waits for the segment: the drop is listed, and its printed
# restore, started, holds every table exactly as recorded just before the drop (rows and checksums), and passes
# pg_check_restored. A cluster that cannot be reached is said so; --switch without one is an error.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"
. "$(dirname "$0")/../lib/pgstate.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir drops-live)
wal_archiving "$w" \
  "checkpoint_timeout = 30min"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE TABLE keep(id int primary key, t text)" -c "INSERT INTO keep SELECT g, 'k' || g FROM generate_series(1, 800) g"
q -c "CREATE TABLE victim(id int primary key, v text)" -c "INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 1200) g"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 0 "backup ${err:+($err)}"
q -c "INSERT INTO keep VALUES (5001, 'committed just before the drop')"
before=$(pg_state)
drop_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
q -c "INSERT INTO keep VALUES (5002, 'after the drop')"

run lvpg "$w/local.conf" wal drops
is "$rc" 0 "wal drops right after the drop ${err:+($err)}"
is "$(head -1 <<<"$out" | tr -s ' ')" "LSN COMMITTED (UTC) XID KIND DATABASE" "the listing starts with a header row"
like "$out" "0 drop\(s\) in the archived WAL" "the drop is not archived yet: nothing listed"
like "$out" "note: the cluster has written WAL up to [0-9A-F]+/[0-9A-F]+ \(timeline 1\), the archive holds it up to" \
  "... but it says that the newest WAL is not archived yet"
like "$out" "labvault wal drops --switch" "... and how to archive it"
run lvpg "$w/local.conf" wal drops --json
is "$(python3 -c 'import json,sys; l=json.loads(sys.argv[1])["live"]; print(l["reached"], l["unarchived"], l["timeline"])' "$out")" \
  "True True 1" "JSON: live.reached, live.unarchived"

run lvpg "$w/local.conf" wal drops --switch
is "$rc" 0 "wal drops --switch ${err:+($err)}"
like "$out" "xid $drop_xid|  $drop_xid  drop " "after the switch the drop is listed"
unlike "$out" "not archived yet" "... and nothing waits to be archived"
restore=$(sed -n 's/^    restore: //p' <<<"$out" | head -1)
is "$restore" "labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive" "its restore command"

run_printed "$w/local.conf" "$restore" "$w/restored"
is "$rc" 0 "the printed restore ${err:+($err)}"
ok "the restored cluster starts and recovers to just before the drop" start_restored "$w/restored"
rs=(-h "$R_SOCK" -p "$R_PORT")
is "$(pg_state "${rs[@]}")" "$before" "every table as recorded just before the drop"
problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
is "$problems" "" "pg_check_restored"
stop_restored "$w/restored"

# A cluster that cannot be reached: said so, never an error; --switch needs it.
run lvpg "$w/local.conf" --pg-port 1 wal drops
is "$rc" 0 "an unreachable cluster: wal drops still lists the archive"
like "$out" "note: could not reach the PostgreSQL cluster" "... and says it could not look for unarchived WAL"
run lvpg "$w/local.conf" --pg-port 1 wal drops --switch
is "$rc" 8 "--switch without a cluster: exit 8"
like "$err" "--switch: cannot connect to PostgreSQL" "... naming why"

done_testing
