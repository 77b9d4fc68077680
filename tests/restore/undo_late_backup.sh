#!/usr/bin/env bash
# Undo a DROP TABLE found only after the nightly backup ran (issue 17, case 2), on real PostgreSQL 15. Backup A,
# work, a restore point, DROP TABLE, more work, then backup B (after the accident, before anyone noticed),
# more work. For every target kind restore pg must choose the newest backup that became consistent before the
# target, A, resolving xids and restore-point names to their record in the archive: the printed --target-xid
# restore and a --target-name restore, started, hold every table exactly as recorded just before the DROP
# (rows and checksums, a row committed a moment before included, nothing after), and pass pg_check_restored;
# --target-lsn and --target-time choose A too. A target before every backup is refused before anything is
# written (exit 2), so is an xid that is not in the archive.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"
. "$(dirname "$0")/../lib/pgstate.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir undo-late)
wal_archiving "$w"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE TABLE orders(id int primary key, item text, qty int)" \
  -c "INSERT INTO orders SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 5000) g"
q -c "SELECT pg_create_restore_point('too_early')" >/dev/null
q -c "CREATE TABLE victim(id int primary key, payload text)" \
  -c "INSERT INTO victim SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 3000) g"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "backup A ${err:+($err)}"
backup_a=$(out_field id)
sleep 1.2 # backups record whole seconds: a time target must be at least the second after A's end
q -c "UPDATE orders SET qty = qty + 1 WHERE id % 3 = 0" -c "INSERT INTO victim SELECT g, 'late' FROM generate_series(3001, 3100) g"
q -c "INSERT INTO orders VALUES (900001, 'committed just before the DROP', 1)"
before=$(pg_state)
q -c "SELECT pg_create_restore_point('before_drop')" >/dev/null
drop_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
q -c "INSERT INTO orders VALUES (900002, 'after the DROP', 1)"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "backup B, the nightly backup after the DROP ${err:+($err)}"
backup_b=$(out_field id)
q -c "INSERT INTO orders VALUES (900003, 'after backup B', 1)"

run lvpg "$w/local.conf" wal drops --switch --json
is "$rc" 0 "wal drops --switch ${err:+($err)}"
pick=$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["xid"] == int(sys.argv[2]): print(x["lsn"], x["restore"])' "$out" "$drop_xid")
drop_lsn=${pick%% *}
restore=${pick#* }
is "$restore" "labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive" "wal drops prints the restore"

check_restored() { # DIR WHAT
  ok "$2: the restored cluster starts and recovers to the target" start_restored "$1"
  local rs=(-h "$R_SOCK" -p "$R_PORT")
  is "$(pg_state "${rs[@]}")" "$before" "$2: every table as recorded just before the DROP"
  problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
  is "$problems" "" "$2: pg_check_restored"
  stop_restored "$1"
}

# --target-xid: the printed command
run_printed "$w/local.conf" "$restore --json" "$w/by-xid"
is "$rc" 0 "the printed restore (--target-xid) ${err:+($err)}"
is "$(out_field backup)" "$backup_a" "--target-xid: backup A is chosen, not B (taken after the DROP)"
check_restored "$w/by-xid" "--target-xid"

# --target-name
run lvpg "$w/local.conf" restore pg --to "$w/by-name" --target-name before_drop --json
is "$rc" 0 "restore --target-name before_drop ${err:+($err)}"
is "$(out_field backup)" "$backup_a" "--target-name: backup A is chosen"
check_restored "$w/by-name" "--target-name"

# --target-lsn and --target-time choose by the backups' end
run lvpg "$w/local.conf" restore pg --to "$w/by-lsn" --target-lsn "$drop_lsn" --target-exclusive --dry-run --json
is "$rc/$(out_field backup)" "0/$backup_a" "--target-lsn (the DROP's commit): backup A"
drop_time=$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["xid"] == int(sys.argv[2]): print(x["time"])' "$(lvpg "$w/local.conf" wal drops --json)" "$drop_xid")
run lvpg "$w/local.conf" restore pg --to "$w/by-time" --target-time "$drop_time" --target-exclusive --dry-run --json
is "$rc/$(out_field backup)" "0/$backup_a" "--target-time (the DROP's commit time): backup A"
run lvpg "$w/local.conf" restore pg --to "$w/latest" --dry-run --json
is "$rc/$(out_field backup)" "0/$backup_b" "no target: the newest backup, B"

# Refused before anything is written
run lvpg "$w/local.conf" restore pg --to "$w/early" --target-name too_early
is "$rc" 2 "--target-name of a restore point before every backup: exit 2"
like "$err" "no backup became consistent before the target restore point \"too_early\"" "... saying no backup is before it"
ok "... and nothing written" test ! -e "$w/early"
run lvpg "$w/local.conf" restore pg --to "$w/nox" --target-xid 4000000 --target-exclusive
is "$rc" 2 "--target-xid of a transaction not in the archive: exit 2"
like "$err" "target xid 4000000: transaction 4000000 has no commit or abort in the archived WAL" "... saying so"
ok "... and nothing written" test ! -e "$w/nox"
run lvpg "$w/local.conf" restore pg --to "$w/fromb" --backup "$backup_b" --target-xid "$drop_xid" --target-exclusive
is "$rc" 2 "--backup B with a target before it: exit 2"
like "$err" "after the target" "... naming why"

done_testing
