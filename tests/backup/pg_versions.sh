#!/usr/bin/env bash
# One PostgreSQL major version end to end (tests/backup/meson.build runs it for 13, 14, 15, 16, 17 and 18; the
# servers come from tests/harness/pg_versions.sh, the clients are Debian's 15). Lean on purpose (pgbench
# scale 1, a local repository): a cluster of that version with data checksums archives through `wal push`;
# a full backup (row counts from the frozen tables' all-visible pages), changes and a VACUUM FREEZE (visibility map
# bits), an incremental whose WAL block maps
# miss no changed page (--verify-map) and whose row counts are derived from that version's WAL, rows of
# prepared transactions included (a drill to
# its end point finds them in the restored tables); a DROP TABLE that
# `wal drops` finds and names (and a drop committed with COMMIT PREPARED, its GID); an UPDATE of many rows
# that `wal changes` counts; its suggested restore, started with that version's binaries, compared table by
# table (rows, index-only scan count = seqscan count, pg_visibility's pg_check_visible/pg_check_frozen
# empty, amcheck's bt_index_check with heapallindexed on every btree index); `wal fetch` exit codes; a drill
# that passes. Refused with a clear message: `restore pg` and a drill told to use another major's binaries,
# and (not on 15) this version's WAL pushed into a repository of a PostgreSQL 15 cluster.
#
# Usage: versions.sh MAJOR
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

major=${1:?usage: versions.sh MAJOR}
lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}
((EUID == 0)) || plan skip_all "the drill starts PostgreSQL as another OS user: run as root"
versions=$LV_SOURCE_ROOT/tests/harness/pg_versions.sh
if ! bindir=$("$versions" bindir "$major" 2>&1); then
  [[ -n ${CI:-} || -n ${LV_TEST_REQUIRE_SERVICES:-} ]] && BAIL_OUT "$bindir"
  plan skip_all "$bindir"
fi
# Another major's binaries, for the refusals: 15 (Debian's, always there), or 16 when testing 15.
other=15
((major == 15)) && other=16
other_bindir=$("$versions" bindir "$other" 2>/dev/null) || other_bindir=

w=$(wal_workdir "pg$major")
wal_conf "$w/lv.conf" "$w/repo" "[pg]" "bin = $bindir" "[drill]" "scratch-dir = $w/scratch" \
  "os-user = $LV_TEST_PG_OSUSER" "timeout = 300"
mkdir -p "$w/scratch"
lvpg "$w/lv.conf" repo init >/dev/null 2>&1

LV_TEST_PG_BINDIR=$bindir lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" \
  "wal_level = replica" "max_wal_size = 256MB" "checkpoint_timeout = 30min" "max_prepared_transactions = 2" \
  "autovacuum = off" # an autovacuum ANALYZE ending while the full stops would make its counts informational
server=$(psql -qAtX -c "SELECT current_setting('server_version_num')::int / 10000, current_setting('data_checksums')")
is "$server" "$major|on" "PostgreSQL $major runs, with data checksums"

psql -qAtX -c "SET client_min_messages = warning" -c "CREATE EXTENSION amcheck" -c "CREATE EXTENSION pg_visibility" \
  -c "CREATE TABLE victim (id int PRIMARY KEY, t text)" \
  -c "INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 5000) g" \
  -c "CREATE TABLE emptied AS SELECT g FROM generate_series(1, 1000) g" -c "CREATE DATABASE dbv" >/dev/null
psql -qAtX -d dbv -c "CREATE TABLE t AS SELECT 1 AS x" >/dev/null
pgbench -i -s 1 -q >/dev/null 2>&1
psql -qAtX -c "VACUUM FREEZE ANALYZE" >/dev/null

# One line per table: its name and the md5 of its rows in key order (pgbench_history has no key).
checksums() {
  psql -qAtX "$@" -c "
    SELECT 'accounts', md5(string_agg(md5(t::text), '' ORDER BY aid)) FROM pgbench_accounts t
    UNION ALL SELECT 'branches', md5(string_agg(t::text, ',' ORDER BY bid)) FROM pgbench_branches t
    UNION ALL SELECT 'tellers', md5(string_agg(t::text, ',' ORDER BY tid)) FROM pgbench_tellers t
    UNION ALL SELECT 'history', md5(string_agg(t::text, ',' ORDER BY t::text)) || ' ' || count(*) FROM pgbench_history t
    UNION ALL SELECT 'victim', md5(string_agg(t::text, ',' ORDER BY id)) || ' ' || count(*) FROM victim t"
}

run lvpg "$w/lv.conf" --log-level info backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "full backup: exit 0"
like "$err" "row counts: [1-9][0-9]* tables from the pages read" \
  "... the frozen tables' row counts read from their all-visible pages (this version's layout; the drill below \
checks the counts derived from them)"
full_id=$(out_field id)
full_wal_start=$(out_field wal_start)
is "$(out_field pg_version)" "$(psql -qAtX -c 'SHOW server_version_num')" "the backup records the server's version"

# Changes for the incremental: updates, deletes, and a VACUUM FREEZE that sets visibility map bits again.
pgbench -n -c 2 -t 150 >/dev/null 2>&1
psql -qAtX -c "UPDATE pgbench_accounts SET filler = 'changed' WHERE aid % 97 = 0" \
  -c "DELETE FROM pgbench_accounts WHERE aid % 1000 = 7" -c "UPDATE victim SET t = 'v2' WHERE id % 10 = 0" \
  -c "VACUUM FREEZE" >/dev/null
# Rows of prepared transactions: 50 inserted and committed by COMMIT PREPARED, 20 deleted and rolled back
# by ROLLBACK PREPARED (the derived row counts follow the transaction to its second phase).
psql -qAtX -v ON_ERROR_STOP=1 -c "BEGIN" -c "INSERT INTO victim SELECT g, 'prepared' FROM generate_series(9001, 9050) g" \
  -c "PREPARE TRANSACTION 'rows_in'" -c "COMMIT PREPARED 'rows_in'" -c "BEGIN" -c "DELETE FROM victim WHERE id <= 20" \
  -c "PREPARE TRANSACTION 'rows_out'" -c "ROLLBACK PREPARED 'rows_out'" >/dev/null
run lvpg "$w/lv.conf" --log-level info backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "incremental backup: exit 0 ${err:+($err)}"
incr_id=$(out_field id)
like "$err" "verify-map: the block maps of .* pages missed: 0" \
  "--verify-map: the WAL block maps (this version's records, hint bits with checksums) missed no changed page"
is "$(out_field prev)" "$full_id" "... on top of the full backup"
like "$err" "row counts: [0-9]+ tables counted, [0-9]+ carried from backup ${full_id:0:12}, [1-9][0-9]* derived" \
  "... derives the changed tables' row counts from PostgreSQL $major's heap and transaction records"
run "$lv" --config "$w/lv.conf" drill run --backup "$incr_id" --target-immediate --json
is "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["passed"], [(c["ok"], c["detail"].split()[0] == c["detail"].split()[2]) for c in j["checks"] if c["name"] == "rows"])' "$out")" \
  "True [(True, True)]" "... and a drill to its end point finds every recorded count in the restored tables"

# After both backups: more changes (replayed from the archive), then the accident.
pgbench -n -c 2 -t 100 >/dev/null 2>&1
# An UPDATE of a third of the rows (wal changes counts its heap records) and a drop committed with two-phase
# commit (wal drops reads the GID from this version's PREPARE record).
bulk=$(psql -qAtX -c "BEGIN" -c "SELECT txid_current()" \
  -c "WITH u AS (UPDATE pgbench_accounts SET filler = 'bulk' WHERE aid % 3 = 0 RETURNING 1) SELECT count(*) FROM u" -c "COMMIT")
prep_xid=$(psql -qAtX -c "CREATE TABLE twopc(x int)" -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE twopc" \
  -c "PREPARE TRANSACTION 'v''$major'")
psql -qAtX -c "COMMIT PREPARED 'v''$major'" >/dev/null
psql -qAtX -c "INSERT INTO victim SELECT g, 'late' FROM generate_series(5001, 5100) g" >/dev/null
expected=$(checksums)
drop_xid=$(psql -qAtX -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
psql -qAtX -c "CREATE TABLE after_drop AS SELECT 1 AS x" -c "TRUNCATE emptied" -c "DROP DATABASE dbv" \
  -c "SELECT pg_switch_wal()" >/dev/null
ok "the WAL is archived" wal_wait_archived 120

# --- wal drops finds it, names the table, and suggests the restore
run lvpg "$w/lv.conf" wal drops --json
is "$rc" 0 "wal drops: exit 0 ${err:+($err)}"
drop=$(python3 -c '
import json, sys
for d in json.loads(sys.argv[1])["drops"]:
    if any(r.get("name") == "public.victim" for r in d["relations"]):
        print(d["kind"], d["xid"], d["restore"], sep="|"); break' "$out" || true)
IFS='|' read -r kind xid suggested <<<"$drop"
is "$kind $xid" "drop $drop_xid" "wal drops: the DROP TABLE of public.victim, by its transaction"
is "$suggested" "labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive" "... with the restore that undoes it"
is "$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])["drops"]
print([x["kind"] for x in d if any(r.get("name") == "public.emptied" for r in x["relations"])],
      [(x["kind"], x["database_name"], x["target_lsn"] != x["lsn"]) for x in d if x.get("database_name") == "dbv"])' "$out" 2>&1)" \
  "['truncate-or-rewrite'] [('drop-database', 'dbv', True)]" \
  "... a TRUNCATE (a rewrite) and a DROP DATABASE, to be stopped at its in-place update before the commit"
is "$(python3 -c '
import json, sys
for x in json.loads(sys.argv[1])["drops"]:
    if x["xid"] == int(sys.argv[2]): print(x["prepared"], x["gid"], x["rollback"])' "$out" "$prep_xid")" \
  "True v'$major ROLLBACK PREPARED 'v''$major'" "... the drop committed with COMMIT PREPARED, its GID read from PostgreSQL $major's PREPARE record"
run lvpg "$w/lv.conf" wal changes --json
is "$(python3 -c '
import json, sys
for t in json.loads(sys.argv[1])["transactions"]:
    if t["xid"] == int(sys.argv[2]):
        print(t["xid"], t["end"], [(r["name"], r["updated"], r["deleted"]) for r in t["tables"]])' "$out" "$(sed -n 1p <<<"$bulk")")" \
  "$(sed -n 1p <<<"$bulk") commit [('public.pgbench_accounts', $(sed -n 2p <<<"$bulk"), 0)]" \
  "wal changes: the UPDATE of $(sed -n 2p <<<"$bulk") rows, from PostgreSQL $major's heap records"

# --- the suggested restore, started with this version's binaries
read -ra args <<<"${suggested#labvault }"
args=("${args[@]/#DIR/$w/r}")
run lvpg "$w/lv.conf" "${args[@]}" --json
is "$rc" 0 "the suggested restore: exit 0 ${err:+($err)}"
is "$(out_field backup) $(out_field pg_version)" "$incr_id $major" "... of the incremental, a PostgreSQL $major backup"
ok "the restored cluster starts with PostgreSQL $major's binaries and ends recovery" start_restored "$w/r" "$bindir"
rq() { psql -h "$w/r.sock" -p "$R_PORT" -qAtX "$@"; }
got=$(checksums -h "$w/r.sock" -p "$R_PORT" 2>&1) || true
while IFS='|' read -r table sum; do
  is "$(sed -n "s/^$table|//p" <<<"$got")" "$sum" "restored table $table: the rows before the drop"
done <<<"$expected"
is "$(rq -c "SELECT count(*) FROM pg_class WHERE relname = 'after_drop'")" 0 "recovery stopped before the drop"
plan_text=$(rq -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" \
  -c "EXPLAIN SELECT count(*) FROM pgbench_accounts WHERE aid > 0" 2>&1)
like "$plan_text" "Index Only Scan" "an index-only scan is planned on pgbench_accounts"
ios=$(rq -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" \
  -c "SELECT count(*) FROM pgbench_accounts WHERE aid > 0" 2>&1)
seq=$(rq -c "SET enable_indexscan = off" -c "SET enable_indexonlyscan = off" -c "SET enable_bitmapscan = off" \
  -c "SELECT count(*) FROM pgbench_accounts WHERE aid > 0" 2>&1)
is "$ios" "$seq" "index-only scan count = seqscan count ($seq): the visibility map is right"
is "$(pg_check_restored -h "$w/r.sock" -p "$R_PORT")" "" \
  "as queries see it: pg_check_visible/pg_check_frozen empty, bt_index_check(heapallindexed) passes, every table's index-only count = seqscan count"
stop_restored "$w/r" "$bindir"

# --- wal fetch: 0 fetched (a whole segment of this version's WAL), 1 absent
declare -A magic=([13]=d106 [14]=d10d [15]=d110 [16]=d113 [17]=d116 [18]=d118)
mkdir -p "$w/fetch" && chown "$LV_TEST_PG_OSUSER:" "$w/fetch"
run lvpg "$w/lv.conf" wal fetch "$full_wal_start" "$w/fetch/$full_wal_start"
is "$rc" 0 "wal fetch of an archived segment ($full_wal_start): exit 0 ${err:+($err)}"
is "$(stat -c %s "$w/fetch/$full_wal_start" 2>&1) $(od -An -tx2 -N2 "$w/fetch/$full_wal_start" | tr -d ' ')" \
  "16777216 ${magic[$major]}" "... a whole segment with PostgreSQL $major's page magic"
run lvpg "$w/lv.conf" wal fetch 00000001000000FF000000FE "$w/fetch/absent"
is "$rc" 1 "wal fetch of a segment never archived: exit 1"
ok "... and no file" test ! -e "$w/fetch/absent"

# --- a drill with this version's binaries (pg-bin) passes
run "$lv" --config "$w/lv.conf" drill run --json
is "$rc" 0 "drill run (end of the archive): exit 0 ${err:+($err)}"
is "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["passed"], [c["name"] for c in j["checks"] if not c["ok"]])' "$out")" \
  "True []" "... passed, every check ok"

# --- refusals: another major's binaries, another major's WAL
if [[ -n $other_bindir ]]; then
  run lvpg "$w/lv.conf" --pg-bin "$other_bindir" restore pg --to "$w/wrong"
  is "$rc" 3 "restore pg with PostgreSQL $other's binaries (pg-bin): exit 3"
  like "$err" "PostgreSQL $major backup.*$other_bindir.*PostgreSQL $other" "... naming the backup's version and the binaries'"
  ok "... nothing written" test ! -e "$w/wrong"
  run "$lv" --config "$w/lv.conf" --pg-bin "$other_bindir" drill run
  is "$rc" 3 "a drill with PostgreSQL $other's binaries: exit 3"
  like "$err" "another major version, the backup needs PostgreSQL $major" "... says why"
else
  skip "PostgreSQL $other is not installed" 5
fi
if ((major != 15)); then
  wal_conf "$w/other.conf" "$w/other-repo"
  lvpg "$w/other.conf" repo init >/dev/null 2>&1
  run lvpg "$w/other.conf" --pg-bin /usr/lib/postgresql/15/bin stanza create --pg-data "$LV_TEST_PG_DATA"
  is "$rc" 0 "a repository of the harness' PostgreSQL 15 cluster ${err:+($err)}"
  run lvpg "$w/other.conf" wal push "$w/fetch/$full_wal_start"
  is "$rc" 10 "wal push of PostgreSQL $major WAL into it: exit 10"
  like "$err" "PostgreSQL $major .*PostgreSQL 15" "... naming both versions"
fi

done_testing
