#!/usr/bin/env bash
# A restore that does not finish must not look like a cluster (issue 14): `restore pg` marks the target
# (LABVAULT_RESTORE_INCOMPLETE) before its first file and writes PG_VERSION last, so after a failure (a
# damaged pack) or a SIGKILL in the middle the directory holds the marker and no PG_VERSION, the error says
# so, `pg_ctl start` refuses it, a new restore into it points at --delta, and `restore pg --delta` finishes
# it: the cluster starts and holds the right data.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir incomplete)
wal_conf "$w/lv.conf" "$w/repo"
lvpg "$w/lv.conf" repo init >/dev/null
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" "wal_level = replica"
pgbench -i -s 8 -q >/dev/null 2>&1
expected=$(psql -qAtX -c "SELECT count(*), sum(abalance), md5(string_agg(filler, '' ORDER BY aid)) FROM pgbench_accounts")
run lvpg "$w/lv.conf" backup pg --pgdata "$PGDATA" --type full
is "$rc" 0 "full backup ${err:+($err)}"
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
wal_wait_archived 60 || true

# refuses_to_start DIR: pg_ctl start fails, and no postmaster runs there
refuses_to_start() {
  local o
  o=$(as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$1" -l "$1.log" -w -t 30 -o "-p 1 -c listen_addresses=''" start 2>&1) && {
    stop_restored "$1"
    diag "pg_ctl started it: $o"
    return 1
  }
  diag "pg_ctl: $o"
  [[ ! -e $1/postmaster.pid ]]
}
zero_filled() { # DIR: how many non-empty files under DIR/base hold nothing but zero bytes
  python3 - "$1" <<'PY'
import os, sys
n = 0
for root, _, files in os.walk(os.path.join(sys.argv[1], "base")):
    for f in files:
        p = os.path.join(root, f)
        if os.path.getsize(p) and not open(p, "rb").read().strip(b"\0"):
            n += 1
print(n)
PY
}

# --- 1. a failure in the middle: the biggest pack damaged
big=$(find "$w/repo/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
cp -p "$big" "$w/pack.good"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x40; open(p,"wb").write(b)' "$big"
run lvpg "$w/lv.conf" restore pg --to "$w/r1" --target-immediate
is "$rc" 6 "restore with a damaged pack fails (exit 6)"
like "$err" "authentication failed.*$w/r1 is an incomplete restore, marked by LABVAULT_RESTORE_INCOMPLETE.*--delta" \
  "... and the one-line error says the target is incomplete, how it is marked, and how to finish it"
ok "the target holds the marker" test -s "$w/r1/LABVAULT_RESTORE_INCOMPLETE"
ok "... and no PG_VERSION" test ! -e "$w/r1/PG_VERSION"
n=$(find "$w/r1/base" -type f 2>/dev/null | wc -l)
ok "... next to the files already written ($n, $(zero_filled "$w/r1") of them zero-filled)" test "$n" -gt 0
ok "pg_ctl start refuses the incomplete directory" refuses_to_start "$w/r1"
run lvpg "$w/lv.conf" restore pg --to "$w/r1" --target-immediate
is "$rc" 10 "a new restore into it (without --delta) is refused (exit 10)"
like "$err" "incomplete restore.*--delta" "... pointing at --delta"
cp -p "$w/pack.good" "$big"
run lvpg "$w/lv.conf" restore pg --to "$w/r1" --target-immediate --delta
is "$rc" 0 "restore --delta into it finishes it ${err:+($err)}"
ok "... the marker is gone, PG_VERSION is there" test ! -e "$w/r1/LABVAULT_RESTORE_INCOMPLETE" -a -s "$w/r1/PG_VERSION"
if start_restored "$w/r1"; then
  pass "the finished cluster starts and recovers"
  is "$(psql -h "$w/r1.sock" -p "$R_PORT" -qAtX -c "SELECT count(*), sum(abalance), md5(string_agg(filler, '' ORDER BY aid)) FROM pgbench_accounts")" \
    "$expected" "... with the backed-up data"
  stop_restored "$w/r1"
else
  fail "the finished cluster starts and recovers"
  skip "no cluster" 1
fi

# restore_midway DIR ERRFILE: a restore into DIR in the background, its stderr to ERRFILE; returns once it has
# written 20 files (rpid: labvault itself, for the signal: setpriv execs it as the cluster's user, where
# runuser would stay its parent)
restore_midway() {
  if ((EUID == 0)); then
    setpriv --reuid "$LV_TEST_PG_OSUSER" --regid "$(id -g "$LV_TEST_PG_OSUSER")" --init-groups \
      "$lv" --config "$w/lv.conf" restore pg --to "$1" --target-immediate >/dev/null 2>"$2" &
  else
    "$lv" --config "$w/lv.conf" restore pg --to "$1" --target-immediate >/dev/null 2>"$2" &
  fi
  rpid=$!
  local i
  for ((i = 0; i < 3000; i++)); do
    [[ -e $1/LABVAULT_RESTORE_INCOMPLETE && $(find "$1/base" -type f 2>/dev/null | head -n 20 | wc -l) -ge 20 ]] && break
    sleep 0.01
  done
}

# --- 1b. SIGTERM in the middle: the batch being written finishes, nothing more starts; exit 14, one line,
# the marker stays (the batches are written by a thread of their own while the next one is prepared)
restore_midway "$w/r3" "$w/r3.err"
kill -TERM "$rpid" 2>/dev/null || true
trc=0
wait "$rpid" 2>/dev/null || trc=$?
if [[ -e $w/r3/PG_VERSION ]]; then
  skip "the restore finished before SIGTERM reached it" 3
else
  is "$trc" 14 "SIGTERM in the middle: exit 14 ($(tr '\n' ' ' <"$w/r3.err"))"
  like "$(cat "$w/r3.err")" "restore interrupted" "... one line saying so"
  ok "... the marker is there" test -e "$w/r3/LABVAULT_RESTORE_INCOMPLETE"
fi
rm -rf "$w/r3"

# --- 1c. a full disk: a 40 MiB file system for a cluster of more than 100 MiB; the failing write is on the
# runner thread (restore/pg_write.h), its message must still reach the user in one line
if ((EUID == 0)); then
  mkdir -p "$w/small"
  mount -t tmpfs -o size=40m tmpfs "$w/small"
  lv_at_exit umount -l "$w/small"
  chown "$LV_TEST_PG_OSUSER:" "$w/small"
  run lvpg "$w/lv.conf" restore pg --to "$w/small/r" --target-immediate
  is "$rc" 11 "restore onto a full file system: exit 11"
  like "$err" "^labvault: restore of [^ ]+: cannot write [^ ]+: No space left on device; $w/small/r is an incomplete restore" \
    "... naming the file, the cause and the incomplete target"
  is "$(grep -c . <<<"$err")" 1 "... in one line"
  ok "... the target holds the marker" test -e "$w/small/r/LABVAULT_RESTORE_INCOMPLETE"
  ok "... and no PG_VERSION" test ! -e "$w/small/r/PG_VERSION"
  umount -l "$w/small"
else
  skip "a tmpfs needs root" 5
fi

# --- 2. SIGKILL in the middle
restore_midway "$w/r2" /dev/null
kill -KILL "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true
ok "killed in the middle: the marker is there" test -e "$w/r2/LABVAULT_RESTORE_INCOMPLETE"
ok "... PG_VERSION is not" test ! -e "$w/r2/PG_VERSION"
ok "... and pg_ctl start refuses it" refuses_to_start "$w/r2"
run lvpg "$w/lv.conf" restore pg --to "$w/r2" --target-immediate --delta
is "$rc" 0 "restore --delta finishes it ${err:+($err)}"
if start_restored "$w/r2"; then
  is "$(psql -h "$w/r2.sock" -p "$R_PORT" -qAtX -c "SELECT count(*), sum(abalance), md5(string_agg(filler, '' ORDER BY aid)) FROM pgbench_accounts")" \
    "$expected" "... the cluster starts with the backed-up data"
  stop_restored "$w/r2"
else
  fail "... the cluster starts with the backed-up data"
fi
done_testing
