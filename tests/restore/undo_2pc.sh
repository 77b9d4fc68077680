#!/usr/bin/env bash
# Undo a DROP TABLE committed with two-phase commit (issue 17, case 4), on real PostgreSQL 15: BEGIN; DROP TABLE;
# PREPARE TRANSACTION 'gid'; COMMIT PREPARED 'gid'. Stopped before its COMMIT PREPARED, the transaction is
# prepared again in the restored cluster and holds its lock on the table. `wal drops` says so and prints the
# exact ROLLBACK PREPARED (a GID with a quote in it, quoted for SQL), in text and JSON; `restore pg` prints it
# after the restore. In the restored cluster the table is locked until that statement runs; after it, every
# table is exactly as recorded just before the drop (rows and checksums), and pg_check_restored passes.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"
. "$(dirname "$0")/../lib/pgstate.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir undo-2pc)
wal_archiving "$w" \
  "max_prepared_transactions = 5"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE TABLE keep(id int primary key, t text)" -c "INSERT INTO keep SELECT g, 'k' || g FROM generate_series(1, 1500) g"
q -c "CREATE TABLE victim(id int primary key, v text)" -c "INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 2500) g"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 0 "backup ${err:+($err)}"
q -c "INSERT INTO keep VALUES (90001, 'committed just before the drop')"
before=$(pg_state)
gid="it's the drop"
drop_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "PREPARE TRANSACTION 'it''s the drop'")
q -c "COMMIT PREPARED 'it''s the drop'"
q -c "INSERT INTO keep VALUES (90002, 'after the drop')"
sql="ROLLBACK PREPARED 'it''s the drop';"

run lvpg "$w/local.conf" wal drops --switch
is "$rc" 0 "wal drops --switch ${err:+($err)}"
like "$out" "prepared: note: transaction $drop_xid is a prepared transaction" "the text says the drop was a prepared transaction"
ok "... and prints the exact statement that discards it: $sql" grep -qF "    $sql" <<<"$out"
run lvpg "$w/local.conf" wal drops --json
got=$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["xid"] == int(sys.argv[2]): print(x["prepared"], x["gid"], x["rollback"], "|", x["restore"])' "$out" "$drop_xid")
is "${got%% | *}" "True $gid ROLLBACK PREPARED 'it''s the drop'" "JSON: prepared, the GID and the statement"
restore=${got#* | }

run_printed "$w/local.conf" "$restore" "$w/restored"
is "$rc" 0 "the printed restore ${err:+($err)}"
ok "restore pg says the transaction will be prepared again and prints: $sql" grep -qF "    $sql" <<<"$out"
like "$out" "in database postgres" "... and the database to run it in"
ok "the restored cluster starts and recovers to just before the COMMIT PREPARED" start_restored "$w/restored"
rs=(-h "$R_SOCK" -p "$R_PORT")
is "$(psql "${rs[@]}" -qAtX -c "SELECT gid FROM pg_prepared_xacts WHERE transaction::text = '$drop_xid'")" "$gid" \
  "the transaction is prepared in the restored cluster"
rc=0
psql "${rs[@]}" -qAtX -c "SET lock_timeout = '1s'" -c "SELECT count(*) FROM victim" >/dev/null 2>&1 || rc=$?
isnt "$rc" 0 "... and holds its lock: the table cannot be read"
ok "the printed statement discards it" psql "${rs[@]}" -qAtX -v ON_ERROR_STOP=1 -c "$sql"
is "$(psql "${rs[@]}" -qAtX -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction left"
is "$(pg_state "${rs[@]}")" "$before" "every table as recorded just before the drop (victim with its rows)"
problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
is "$problems" "" "pg_check_restored"
stop_restored "$w/restored"

done_testing
