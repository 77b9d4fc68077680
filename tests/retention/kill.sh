#!/usr/bin/env bash
# kill -9 at 20 random points of prune (docs/repository-format.md 10, crash points). Each round adds
# snapshots to a history (tests/retention/history.py), forgets all but the newest five, starts
# `prune --max-unused 0` (so it repacks as well as deletes) and kills it after a random share of the time
# a whole prune takes (LABVAULT_TEST_PRUNE_PAUSE_MS spreads its phases over time, so the kills land in every
# phase: listing, reading, planning, repacking, writing and removing index objects, deleting). Then:
#   - repo check is clean (warnings for unindexed packs allowed: prune's next run removes them);
#   - the newest snapshot and a random kept one restore to exactly their day's tree;
#   - the next prune completes, after which repo check finds nothing at all, and no work database or
#     lock is left behind.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_clean_env
here=$(cd "$(dirname "$0")" && pwd)
hist() { python3 "$here/history.py" "$@"; }
w=$(lv_tmpdir prunekill)
files_conf "$w/lv.conf" "$w/repo"
lv repo init >/dev/null 2>&1
first=2025-01-01
day=0
backup_days() { # N: the next N days of the history
  local n=$1 i
  for ((i = 0; i < n; i++)); do
    hist tree "$w/src" "$day" >/dev/null
    lv backup files --time "$(date -d "$first + $day days" '+%Y-%m-%d') 03:00:00" "$w/src" >/dev/null
    day=$((day + 1))
  done
}
restores_ok() { # the newest and a random kept snapshot restore to their day's tree
  local ids id t d
  mapfile -t ids < <(lv snapshots --json | python3 -c 'import json,sys,time; [print(s["id"], time.strftime("%Y-%m-%d", time.localtime(s["time"]))) for s in json.load(sys.stdin)]')
  for id in "${ids[-1]}" "${ids[RANDOM % ${#ids[@]}]}"; do
    read -r id t <<<"$id"
    d=$(( ($(date -d "$t" +%s) - $(date -d "$first" +%s)) / 86400 ))
    rm -rf "$w/want" "$w/got"
    hist tree "$w/want" "$d"
    lv restore files "$id" --to "$w/got" >/dev/null 2>&1 || return 1
    diff -r "$w/want" "$w/got$w/src" >/dev/null || return 1
  done
}

export LABVAULT_TEST_PRUNE_PAUSE_MS=50
declare -A phases
backup_days 30
lv forget --keep-last 5 >/dev/null
SECONDS=0
t0=$(date +%s.%N)
run lv prune --max-unused 0 --json
is "$rc" 0 "a first whole prune: exit 0"
whole=$(python3 -c 'import sys; print(max(0.3, float(sys.argv[1]) - float(sys.argv[2])))' "$(date +%s.%N)" "$t0")
diag "a whole prune takes ${whole}s here"

for round in $(seq 1 20); do
  backup_days 4
  lv forget --keep-last 5 >/dev/null
  delay=$(python3 -c 'import random,sys; print(round(random.uniform(0.02, 0.85) * float(sys.argv[1]), 3))' "$whole")
  "$LABVAULT_BIN" --log-level info prune --max-unused 0 >/dev/null 2>"$w/prune.err" &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  at=$(grep -o 'prune: .*' "$w/prune.err" | tail -n 1 || true)
  phases["${at:-prune: starting}"]=1
  run lv repo check
  check_rc=$rc
  restores_ok && restored=yes || restored=no
  run lv prune --max-unused 0
  prune_rc=$rc
  run lv repo check
  is "$check_rc $restored $prune_rc $rc $(grep -c ' 0 errors, 0 warnings' <<<"$out")" "0 yes 0 0 1" \
    "round $round: killed after ${delay}s (${at:-before the listing}): check clean, kept snapshots restore, the next prune completes, then no warning"
done
ok "the kills landed in several phases (${#phases[@]}: ${!phases[*]})" test "${#phases[@]}" -ge 4
ok "no work database is left beside the catalog" test -z "$(find "$w" -maxdepth 1 -name '.labvault-prune-*')"
is "$(find "$w/repo/locks" "$w/repo/inflight" -type f 2>/dev/null | wc -l)" 0 "no lock and no in-flight marker is left"
ok "the 20 rounds stayed within the time bound (${SECONDS}s)" test "$SECONDS" -lt 400

done_testing
