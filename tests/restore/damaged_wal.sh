#!/usr/bin/env bash
# A damaged WAL segment after the one a backup needs (issue 14, item 3), with a real PostgreSQL 15 cluster
# archiving into a local repository: a full backup ends in segment N; N+1 holds the last commits, made after
# it; N+2 holds WAL but no commit; N+1 is damaged (a flipped byte). Then
#   - a restore to the backup's own end (--target-immediate) reads nothing beyond N: it succeeds, and the
#     restored cluster starts with the backup's data;
#   - a restore to a time after the damage, planned from a new host (no commit times in its catalog, so
#     the plan reads the segments), is refused (exit 6) naming N+1 and the last point that can be reached;
#   - `backups` still answers, its window ending where N+1 begins, with a warning naming it;
#   - a restore to an LSN past the damage (planned from the listing alone) is written, and recovery stops
#     at N+1: PostgreSQL's log has labvault's line naming N+1 and the last point that can be reached.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir pitrdmg)
wal_conf "$w/lv.conf" "$w/repo"
ok "repository created" lvpg "$w/lv.conf" repo init
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" "wal_level = replica"
pgbench -i -s 2 -q >/dev/null 2>&1

run lvpg "$w/lv.conf" backup pg --pgdata "$PGDATA" --type full --json
is "$rc" 0 "full backup ${err:+($err)}"
stop_lsn=$(out_field stop_lsn)
need=$(psql -qAtX -c "SELECT pg_walfile_name('$stop_lsn')")
psql -qAtX -c "CREATE TABLE after_backup AS SELECT g FROM generate_series(1, 1000) g" \
  -c "INSERT INTO after_backup SELECT g FROM generate_series(1, 1000) g" >/dev/null
sleep 1.2 # whole-second commit times: the target is in a later second than every commit before it
target_time=$(psql -qAtX -c "SELECT clock_timestamp()")
psql -qAtX -c "SELECT pg_switch_wal()" -c "CHECKPOINT" >/dev/null # N+2: WAL, but no commit
target_lsn=$(psql -qAtX -c "SELECT pg_current_wal_insert_lsn()")
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
ok "PostgreSQL archived every segment" wal_wait_archived 120
next=$(python3 -c 'import sys; n=sys.argv[1]; l,s=int(n[8:16],16),int(n[16:],16)+1; l,s=(l+1,0) if s==256 else (l,s); print("%s%08X%08X" % (n[:8],l,s))' "$need")
obj=$(cd "$w/repo" && ls wal/00000001/"$next"-*)
ok "the backup ends in segment $need; $next (after it) is archived" test -n "$obj"
is "$(psql -qAtX -c "SELECT pg_walfile_name('$target_lsn')")" "${next:0:16}$(printf '%08X' $((16#${next:16:8} + 1)))" \
  "the LSN target is in the segment after $next"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x20; open(p,"wb").write(b)' "$w/repo/$obj"
run lvpg "$w/lv.conf" wal fetch "$next" "$w/fetched"
is "$rc" 134 "$next is damaged: wal fetch exits 134"
like "$err" "recovery cannot replay WAL segment $next, so the last point it can reach on timeline 1 is LSN" \
  "... and says how far recovery can go"

# start_restored DIR [EXPECT_FAIL]: start the restored cluster on its own port (archiving off).
start_restored() {
  local dir=$1 i
  chown -R "$LV_TEST_PG_OSUSER:" "$dir"
  R_PORT=$((20000 + RANDOM % 10000))
  mkdir -p "$dir.sock" && chown "$LV_TEST_PG_OSUSER:" "$dir.sock"
  lv_at_exit as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$dir" -m immediate stop
  as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$dir" -l "$dir.log" -w -t 120 \
    -o "-p $R_PORT -k $dir.sock -c archive_mode=off -c listen_addresses=''" start >/dev/null 2>&1 || return 1
  for ((i = 0; i < 600; i++)); do
    [[ $(psql -h "$dir.sock" -p "$R_PORT" -qAtX -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && return 0
    sleep 0.1
  done
  return 1
}

# --- 1. the backup's own end: segment N+1 is not needed
run lvpg "$w/lv.conf" restore pg --to "$w/r1" --target-immediate
is "$rc" 0 "restore --target-immediate with $next damaged: exit 0 ${err:+($err)}"
if start_restored "$w/r1"; then
  pass "the restored cluster starts and ends recovery"
  is "$(psql -h "$w/r1.sock" -p "$R_PORT" -qAtX -c "SELECT count(*) FROM pgbench_accounts")" 200000 \
    "... with the backup's data"
  is "$(psql -h "$w/r1.sock" -p "$R_PORT" -qAtX -c "SELECT to_regclass('after_backup') IS NULL")" t \
    "... and nothing from after it"
else
  fail "the restored cluster starts and ends recovery"
  diag "$(tail -n 20 "$w/r1.log" 2>/dev/null)"
  skip "no cluster" 2
fi

# --- 2. a time after the damage (the last commits are in the damaged segment), planned from a new host too
run lvpg "$w/lv.conf" restore pg --to "$w/r2" --target-time "$target_time"
is "$rc" 6 "restore to a time after the damage: exit 6"
like "$err" "labvault: target time cannot be reached: WAL segment $next is damaged; the last point recovery can reach is LSN [0-9A-F]+/[0-9A-F]+" \
  "... naming the damaged segment and the last point that can be reached"
wal_conf "$w/newhost.conf" "$w/repo"
run lvpg "$w/newhost.conf" restore pg --to "$w/r2" --target-time "$target_time"
is "$rc" 6 "from a new host (no commit times in its catalog): exit 6 too"
like "$err" "labvault: target time cannot be reached: WAL segment $next is damaged; the last point recovery can reach is LSN [0-9A-F]+/[0-9A-F]+" \
  "... naming the damaged segment and the last point that can be reached"
like "$err" "warn: WAL segment $next is damaged \(.*authentication failed" "... and why"
ok "... nothing written" test ! -e "$w/r2"

# --- 3. the window of `backups` ends where the damaged segment begins
run lvpg "$w/newhost.conf" backups --json
is "$rc" 0 "backups with a damaged segment: exit 0 ${err:+($err)}"
start=$(psql -qAtX -c "SELECT '0/0'::pg_lsn + $((16#${next:8:8})) * 4294967296 + $((16#${next:16:8})) * 16777216")
is "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["window"]["to_lsn"])' <<<"$out")" "$start" \
  "... the window ends where $next begins ($start)"
like "$err" "WAL segment $next is damaged" "... with a warning naming it"

# --- 4. an LSN past the damage: planned from the listing; recovery stops at N+1 and says why
run lvpg "$w/lv.conf" restore pg --to "$w/r3" --target-lsn "$target_lsn"
is "$rc" 0 "restore --target-lsn past the damage is written (the plan reads no segment) ${err:+($err)}"
if start_restored "$w/r3"; then
  fail "recovery of $w/r3 stops at the damaged segment"
else
  pass "recovery of $w/r3 stops at the damaged segment"
fi
like "$(cat "$w/r3.log")" "recovery cannot replay WAL segment $next, so the last point it can reach on timeline 1 is LSN $start" \
  "... PostgreSQL's log names it and the last point that can be reached"

done_testing
