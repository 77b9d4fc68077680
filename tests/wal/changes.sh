#!/usr/bin/env bash
# `wal changes` finds the DELETE without WHERE among thousands of transactions (issue 17), on real PostgreSQL
# 15: pgbench runs in the background (several clients, a WAL switch every few seconds, every segment summarized
# at push) while one transaction deletes every row of pgbench_accounts. The transaction locks the table
# first and records its rows' checksum, so the state just before its commit is known exactly although pgbench
# keeps committing around it. The finder names it first for that table with the exact number of rows deleted,
# from the summaries alone (no segment read) and within seconds; `--table`, `--since` and `--min-rows` filter;
# its printed restore, started, holds pgbench_accounts exactly as it was before the DELETE, and passes
# pg_check_restored. An UPDATE without WHERE is found the same way (updated rows), and a catalog rebuilt from
# the repository (no summaries) gives the same answer by reading the segments once.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir changes)
wal_conf "$w/local.conf" "$w/repo"
ok "repository created" lvpg "$w/local.conf" repo init
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" "wal_level = replica" \
  "max_wal_size = 1GB" "checkpoint_timeout = 30min"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

scale=4
pgbench -i -s "$scale" -q >/dev/null 2>&1
rows=$((scale * 100000))
is "$(q -c "SELECT count(*) FROM pgbench_accounts")" "$rows" "pgbench -i -s $scale"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --no-row-counts
is "$rc" 0 "backup (it knows the tables' names) ${err:+($err)}"

# Background load: pgbench, with a WAL switch every 2 s so that many segments are pushed and summarized.
pgbench -n -c 4 -j 2 -T 40 -P 5 >"$w/pgbench.out" 2>&1 &
bench=$!
stop_switching=$w/stop
(while [[ ! -e $stop_switching ]]; do sleep 2; wal_switch 2>/dev/null || true; done) &
switcher=$!
lv_at_exit touch "$stop_switching"
sleep 12
# The accident, one transaction among thousands: the table locked (pgbench's updates wait), its rows'
# checksum taken, then DELETE without WHERE.
acc=$(q -c "BEGIN" -c "SELECT txid_current()" -c "LOCK TABLE pgbench_accounts IN EXCLUSIVE MODE" \
  -c "SELECT md5(string_agg(t::text, ',' ORDER BY aid)) FROM pgbench_accounts t" \
  -c "DELETE FROM pgbench_accounts" -c "COMMIT")
acc_xid=$(sed -n 1p <<<"$acc")
acc_md5=$(sed -n 2p <<<"$acc")
sleep 8
upd=$(q -c "BEGIN" -c "SELECT txid_current()" \
  -c "WITH u AS (UPDATE pgbench_history SET delta = delta + 1 RETURNING 1) SELECT count(*) FROM u" -c "COMMIT")
upd_xid=$(sed -n 1p <<<"$upd")
upd_rows=$(sed -n 2p <<<"$upd")
wait "$bench" || diag "pgbench: $(tail -3 "$w/pgbench.out")"
touch "$stop_switching"
wait "$switcher" || true
txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$w/pgbench.out")
ok "pgbench committed thousands of transactions around it ($txns)" test "${txns:-0}" -ge 1000
diag "pgbench: $(grep -E '^tps' "$w/pgbench.out" | head -1)"

run lvpg "$w/local.conf" wal changes --switch --json
is "$rc" 0 "wal changes --switch ${err:+($err)}"
cp <(printf '%s\n' "$out") "$w/changes.json"
summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["segments"], d["summarized"], d["read"], "%.3f" % d["seconds"], len(d["transactions"]))
first = {}
for t in d["transactions"]:
    for r in t["tables"]:
        first.setdefault(r["name"], (t["xid"], r["deleted"], r["updated"], t["end"], t["restore"]))
for k in ("public.pgbench_accounts", "public.pgbench_history"):
    print(k, *first.get(k, ("-",)))' "$w/changes.json")
diag "$summary"
read -r segs summarized nread secs listed <<<"$(head -1 <<<"$summary")"
# (the segment --switch archived may be listed before its push recorded the summary: then it is read)
ok "the archive of the run has many segments ($segs), summarized at push ($summarized)" \
  test "$segs" -ge 10 -a "$summarized" -ge $((segs - 1))
# (the segments read for a transaction: the one before its first summarized rows, and those after its last
# ones up to its end record; pgbench's WAL and the switches every 2 s can put a tail of its rows below the
# summaries' threshold, or its commit, a segment further: at most three each, far fewer than the archive's)
ok "found from the summaries: $nread segments read for $listed transactions listed (at most three each: the one before its first rows and those up to its end record; and those without a summary)" \
  test "$nread" -le $((3 * listed + segs - summarized))
ok "it took $secs s" python3 -c "import sys; sys.exit(0 if float('$secs') < 5 else 1)"
accl=$(grep '^public.pgbench_accounts ' <<<"$summary")
is "$(cut -d' ' -f2-5 <<<"$accl")" "$acc_xid $rows 0 commit" \
  "pgbench_accounts: the first transaction named is the DELETE (xid $acc_xid), $rows rows deleted, committed"
restore=$(cut -d' ' -f6- <<<"$accl")
is "$restore" "labvault restore pg --to DIR --target-xid $acc_xid --target-exclusive" "... with the restore that stops before it"
run lvpg "$w/local.conf" wal changes --table pgbench_history --min-rows 100 --json
is "$(python3 -c 'import json,sys; t=json.loads(sys.argv[1])["transactions"][0]; r=t["tables"][0]; print(t["xid"], r["deleted"], r["updated"], t["end"])' "$out")" \
  "$upd_xid 0 $upd_rows commit" "pgbench_history: the UPDATE without WHERE (xid $upd_xid), its $upd_rows rows updated"
when=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["transactions"][0]["time"][:19])' "$out")

run lvpg "$w/local.conf" wal changes --table pgbench_accounts
is "$rc" 0 "wal changes --table pgbench_accounts ${err:+($err)}"
is "$(sed -n 2p <<<"$out" | awk '{print $3}')" "$acc_xid" "--table: the DELETE is the first listed"
like "$(sed -n 3p <<<"$out")" "^    public.pgbench_accounts: $rows deleted, 0 updated" "... with its rows"
unlike "$out" "pgbench_history" "... and nothing of other tables"
is "$(lvpg "$w/local.conf" wal changes --min-rows "$((rows + 1))" --table public.pgbench_accounts --json |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["transactions"]))')" 0 "--min-rows above its rows: not listed"
is "$(lvpg "$w/local.conf" wal changes --since "$when" --min-rows 100 --json |
  python3 -c 'import json,sys; print(" ".join(str(t["xid"]) for t in json.load(sys.stdin)["transactions"]))')" "$upd_xid" \
  "--since (the UPDATE's second): only the UPDATE"

run_printed "$w/local.conf" "$restore" "$w/restored"
is "$rc" 0 "the printed restore ${err:+($err)}"
ok "the restored cluster starts and recovers to just before the DELETE" start_restored "$w/restored"
rs=(-h "$R_SOCK" -p "$R_PORT")
is "$(psql "${rs[@]}" -qAtX -c "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY aid)) FROM pgbench_accounts t")" \
  "$rows $acc_md5" "pgbench_accounts exactly as it was just before the DELETE (rows and checksum)"
problems=$(pg_check_restored "${rs[@]}" 2>&1) || true
is "$problems" "" "pg_check_restored"
stop_restored "$w/restored"

# Without summaries (a catalog rebuilt from the repository): the segments are read once, the answer is the
# same, and the next search reads nothing.
rm -f "$w/local.db"
ok "catalog rebuild" lvpg "$w/local.conf" catalog rebuild
run lvpg "$w/local.conf" wal changes --json
is "$rc" 0 "wal changes after the rebuild ${err:+($err)}"
again=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["summarized"], d["read"] >= d["segments"])
print(" ".join("%d:%s" % (t["xid"], ",".join("%s=%d/%d" % (r["name"], r["deleted"], r["updated"]) for r in t["tables"])) for t in d["transactions"]))' "$out")
want=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%d:%s" % (t["xid"], ",".join("%s=%d/%d" % (r["name"], r["deleted"], r["updated"]) for r in t["tables"])) for t in d["transactions"]))' "$w/changes.json")
is "$(head -1 <<<"$again")" "0 True" "no summary after the rebuild: every segment read"
is "$(tail -1 <<<"$again")" "$want" "... and the same transactions and rows"
run lvpg "$w/local.conf" wal changes --json
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["summarized"] == d["segments"], d["read"] <= 3 * len(d["transactions"]))' "$out")" \
  "True True" "the next search finds every summary recorded, and reads at most three segments per transaction"

done_testing
