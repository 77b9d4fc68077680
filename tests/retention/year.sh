#!/usr/bin/env bash
# A year of nightly file snapshots (tests/retention/history.py: every day one new file of 64 KiB of
# incompressible bytes, kept in the tree for ten days) in a local or an S3 repository (year.sh STORE [DAYS],
# 365 by default), then
# `forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune`:
#   - the snapshots kept are exactly the dates the policy names (computed independently), the dry run
#     changes nothing, the JSON says why each is kept;
#   - every kept snapshot restores to exactly its day's tree;
#   - repo check --read-data is clean; the stored bytes drop by what only forgotten snapshots held, and
#     what remains is what the kept ones hold;
#   - catalog rebuild after prune gives the same catalog as before it;
#   - forget and prune again change nothing.
# Usage: year.sh local|s3
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

store=${1:?usage: year.sh local|s3}
[[ $store == s3 ]] && lv_require_services s3
lv_clean_env
here=$(cd "$(dirname "$0")" && pwd)
hist() { python3 "$here/history.py" "$@"; }
# jget for outputs beyond an argument's size limit: the JSON on stdin
jo() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$out"; }

w=$(lv_tmpdir "year-$store")
if [[ $store == s3 ]]; then
  files_conf "$w/lv.conf" "s3://$(lv_s3_bucket year)/r"
else
  files_conf "$w/lv.conf" "$w/repo"
fi
lv repo init >/dev/null 2>&1
first=2025-01-01
days=${2:-365}
policy=(--keep-daily 7 --keep-weekly 4 --keep-monthly 12)

ok "$days nightly snapshots (with --time)" hist backup "$LABVAULT_BIN" "$w/src" "$first" "$days"
run lv snapshots --json
is "$(jo 'len(j)')" "$days" "$days snapshots listed"
run lv repo stats --json
bytes_before=$(jo 'j["pack_bytes"]')
reclaim0=$(jo 'j["reclaimable_bytes"]')
is "$reclaim0" 0 "repo stats before forget: nothing to reclaim"

# What the policy keeps, computed independently of labvault (history.py).
want_keep=$(hist expect "$first" "$days" | grep -c .)
want_remove=$((days - want_keep))
run lv forget "${policy[@]}" --dry-run --json
is "$rc" 0 "forget --dry-run: exit 0 ${err:+($err)}"
is "$(jo 'j["removed"]') $(jo 'sum(1 for g in j["groups"] for b in g["backups"] if b["action"] == "keep")')" \
  "$want_remove $want_keep" "... would remove $want_remove and keep $want_keep"
is "$(jo '[b["reasons"] for g in j["groups"] for b in g["backups"]][0]')" "['daily', 'weekly', 'monthly']" \
  "... the newest is kept by every rule of the policy"
run lv snapshots --json
is "$(jo 'len(j)')" "$days" "... and changes nothing"

run lv forget "${policy[@]}" --prune --json
is "$rc" 0 "forget --prune: exit 0 ${err:+($err)}"
is "$(jo 'j["removed"]')" "$want_remove" "... removed $want_remove snapshots"
ok "... prune deleted packs ($(jo 'j["prune"]["packs_deleted"]')) and repacked some ($(jo 'j["prune"]["packs_written"]') written)" \
  test "$(jo 'j["prune"]["packs_deleted"]')" -gt 0
run lv snapshots --json
kept=$(jo '"\n".join(sorted((__import__("time").strftime("%Y-%m-%d", __import__("time").localtime(s["time"])) for s in j), reverse=True))')
is "$kept" "$(hist expect "$first" "$days")" "the kept snapshots are the dates the policy names (daily, weekly, monthly)"

# every kept snapshot restores to its day's tree
bad=0
while read -r id t; do
  day=$(python3 -c 'import datetime,sys; print((datetime.date.fromisoformat(sys.argv[1]) - datetime.date.fromisoformat(sys.argv[2])).days)' "$t" "$first")
  hist tree "$w/want-$day" "$day"
  if ! lv restore files "$id" --to "$w/got-$day" >/dev/null 2>&1 || ! diff -r "$w/want-$day" "$w/got-$day$w/src" >/dev/null; then
    bad=$((bad + 1))
    diag "snapshot ${id:0:12} of $t does not restore to day $day's tree"
  fi
  rm -rf "$w/want-$day" "$w/got-$day"
done < <(jo '"\n".join(s["id"] + " " + __import__("time").strftime("%Y-%m-%d", __import__("time").localtime(s["time"])) for s in j)')
is "$bad" 0 "every kept snapshot restores to exactly its day's tree"

run lv repo check --read-data
is "$rc" 0 "repo check --read-data after prune: exit 0 ($(tail -n 1 <<<"$out"))"
like "$out" "0 errors, 0 warnings" "... no error, no warning"

run lv repo stats --json
bytes_after=$(jo 'j["pack_bytes"]')
held=$(hist days "$first" $kept)
python_check() { python3 -c "$1" "$bytes_before" "$bytes_after" "$held" "$days"; }
ok "stored bytes dropped by what only forgotten snapshots held ($bytes_before -> $bytes_after; $held of $days days' files kept)" \
  python_check 'import sys; b, a, held, days = map(int, sys.argv[1:]); sys.exit(not (b - a >= 0.9 * (days - held) * 65536))'
ok "... and what is left is what the kept snapshots hold (at most 25 % over ${held} x 64 KiB + 1 MiB)" \
  python_check 'import sys; b, a, held, days = map(int, sys.argv[1:]); sys.exit(not (a <= 1.25 * (held * 65536 + (1 << 20))))'
is "$(jo 'j["reclaimable_bytes"]')" 0 "repo stats after prune: nothing left to reclaim"

dump() { sqlite3 "$w/lv.db" "SELECT hex(id), type, hex(pack), offset, length FROM blobs ORDER BY id;
  SELECT hex(id), size FROM packs ORDER BY id; SELECT id, kind, time FROM manifests ORDER BY id" | sha256sum; }
before=$(dump)
run lv catalog rebuild
is "$rc" 0 "catalog rebuild after prune: exit 0"
is "$(dump)" "$before" "... gives the same catalog (blobs, packs, manifests) as before it"

run lv forget "${policy[@]}" --prune --json
is "$rc $(jo 'j["removed"]') $(jo 'j["prune"]["packs_deleted"]') $(jo 'j["prune"]["packs_written"]')" \
  "0 0 0 0" "forget --prune again: nothing to remove, delete or repack"

done_testing
