#!/usr/bin/env bash
# "Prove it before touching anything" (issue 17): `wal drops --drill XID` and `wal changes --drill XID` hand
# their suggestion to a restore drill on real PostgreSQL 15. The drill restores into scratch to just before
# the transaction, starts it, and shows the affected tables' rows there beside the live cluster's: the
# scratch copy holds the dropped table with its rows from before the drop (and the table a DELETE emptied
# with its rows). Without --keep-running nothing is left behind (no scratch directory, no PostgreSQL); with
# it the copy keeps running, and the printed pg_dump command copies the dropped table back into the live
# cluster, rows and all; the printed stop command then leaves nothing. The drills are recorded. A prepared
# drop is rolled back in the scratch copy (its lock would block the count otherwise).
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}
((EUID == 0)) || { plan skip_all "drills start PostgreSQL as another OS user: run as root"; }

w=$(wal_workdir drill-undo)
mkdir -p "$w/scratch"
wal_conf "$w/local.conf" "$w/repo" "[drill]" "scratch-dir = $w/scratch" "os-user = $LV_TEST_PG_OSUSER" "timeout = 180"
ok "repository created" lvpg "$w/local.conf" repo init
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" "wal_level = replica" \
  "max_prepared_transactions = 3"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
drill_socks_mark # (walib.sh: the socket directories in /tmp that other tests' drills may hold meanwhile)
scratch_empty() { [[ -z $(ls -A "$w/scratch") && -z $(drill_socks_leaked) ]]; }
no_drill_postgres() { ! pgrep -f -- "$w/scratch/drill-" >/dev/null; }
nothing_left() { scratch_empty && no_drill_postgres; }

q -c "CREATE TABLE victim(id int primary key, v text)" -c "INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 1234) g"
q -c "CREATE TABLE lines(id int primary key, n int)" -c "INSERT INTO lines SELECT g, g FROM generate_series(1, 700) g"
q -c "CREATE TABLE locked(id int)" -c "INSERT INTO locked SELECT generate_series(1, 55)"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA"
is "$rc" 0 "backup ${err:+($err)}"
victim_md5=$(q -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM victim t")
drop_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
del_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DELETE FROM lines" -c "COMMIT")
prep_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE locked" -c "PREPARE TRANSACTION 'p'")
q -c "COMMIT PREPARED 'p'"

# --drill: the counts side by side, nothing left behind
run "$lv" --config "$w/local.conf" wal drops --switch --drill "$drop_xid"
is "$rc" 0 "wal drops --drill $drop_xid ${err:+($err)}"
diag "$out"
like "$out" "restored backup [0-9a-f]{12} to just before the transaction \(labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive\): ready" \
  "the drill restored to just before the drop"
like "$(grep '^public.victim ' <<<"$out" | tr -s ' ')" "^public.victim postgres 1234 missing$" \
  "public.victim: 1234 rows in the scratch copy, missing in the live cluster"
like "$out" "stopped and removed" "the scratch copy was stopped and removed"
ok "no scratch directory left" scratch_empty
ok "no PostgreSQL of the drill left" no_drill_postgres

run "$lv" --config "$w/local.conf" wal changes --min-rows 500 --drill "$del_xid" --json
is "$rc" 0 "wal changes --drill $del_xid (DELETE FROM lines) ${err:+($err)}"
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print([(t["table"], t["scratch_rows"], t["live_rows"]) for t in d["tables"]], d["running"], d["drill"]["passed"])' "$out")" \
  "[('public.lines', 700, 0)] False True" "JSON: public.lines has its 700 rows in the scratch copy, 0 live; not kept; passed"
ok "nothing left behind" nothing_left

run "$lv" --config "$w/local.conf" wal drops --drill "$prep_xid"
is "$rc" 0 "a prepared drop: wal drops --drill $prep_xid ${err:+($err)}"
like "$out" "transaction $prep_xid was prepared again in the scratch copy: rolled back there" \
  "the prepared transaction was rolled back in the scratch copy"
like "$(grep '^public.locked ' <<<"$out" | tr -s ' ')" "^public.locked postgres 55 missing$" "... so public.locked could be counted: 55 rows"
ok "nothing left behind" scratch_empty

# --keep-running: copy the dropped table back with the printed pg_dump
run "$lv" --config "$w/local.conf" wal drops --drill "$drop_xid" --keep-running
is "$rc" 0 "wal drops --drill --keep-running ${err:+($err)}"
diag "$out"
like "$out" "the scratch copy is running" "the scratch copy is kept running"
dump=$(sed -n 's/^  \(pg_dump .*\) | psql -d postgres$/\1/p' <<<"$out")
like "$dump" "^pg_dump -h .* -p [0-9]+ -U [^ ]+ -d postgres -t public.victim$" "the pg_dump command to copy the table back"
stop=$(sed -n 's/^  \(.*pg_ctl -D .* stop -m fast && rm -rf .*\)$/\1/p' <<<"$out")
ok "... and how to stop and remove it" test -n "$stop"
is "$(eval "$dump" | psql -qAtX -v ON_ERROR_STOP=1 2>&1 | grep -iE 'error' || true)" "" "the printed pg_dump, piped into the live cluster"
is "$(q -c "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) FROM victim t")" "1234 $victim_md5" \
  "the live cluster has public.victim back with its rows from before the drop"
ok "the printed stop command" as_pg bash -c "$stop"
ok "nothing left behind after it" scratch_empty
for ((i = 0; i < 50; i++)); do no_drill_postgres && break; sleep 0.1; done
ok "no PostgreSQL of the drill left" no_drill_postgres

run "$lv" --config "$w/local.conf" drill history --json
is "$(grep -c "before xid" <<<"$out")" 4 "the four drills are recorded (target: before xid ...)"
run "$lv" --config "$w/local.conf" wal drops --keep-running
is "$rc" 2 "--keep-running without --drill: exit 2"
run "$lv" --config "$w/local.conf" wal drops --drill 999999
is "$rc" 2 "--drill of a transaction that is not listed: exit 2"
like "$err" "no drop of transaction 999999" "... naming it"

done_testing
