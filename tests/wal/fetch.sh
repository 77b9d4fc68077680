#!/usr/bin/env bash
# `wal fetch` (restore_command) exit codes and prefetch: 0 fetched and verified; 1 provably absent; 128 + code
# for everything uncertain: endpoint down (132), wrong key (133), corrupted or truncated object (134), bad
# name (130), unwritable destination (139). Prefetch spools the next segments; a damaged spool file, an
# empty spool and another PostgreSQL start's spool never change what recovery gets.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services s3 pg
lv_clean_env
fp=${1:-}

# Real segments from a cluster without archiving: switch a few times, keep the completed ones.
lv_pg_start "wal_keep_size = 1GB" "max_wal_size = 64MB"
mapfile -t segs < <(wal_make_segments 6)
ok "the cluster completed at least 6 segments (${#segs[@]})" test "${#segs[@]}" -ge 6

w=$(wal_workdir fetch)
bucket=$(lv_s3_bucket walfetch)
wal_conf "$w/local.conf" "$w/repo"
wal_conf "$w/s3.conf" "s3://$bucket/fetch"
lvpg "$w/local.conf" repo init >/dev/null
lvpg "$w/s3.conf" repo init >/dev/null
pushed=0
for s in "${segs[@]}"; do
  lvpg "$w/local.conf" wal push "$PGDATA/pg_wal/$s" && lvpg "$w/s3.conf" wal push "$PGDATA/pg_wal/$s" &&
    pushed=$((pushed + 1))
done
is "$pushed" "${#segs[@]}" "every segment pushed to both repositories"
out=$w/out
mkdir -p "$out"
chmod 0777 "$out"

# fetch_rc CONF NAME DEST: sets $rc (the exit status) and $err (the message)
fetch_rc() {
  rc=0
  err=$(lvpg "$1" wal fetch "$2" "$3" 2>&1 >/dev/null) || rc=$?
}

for repo in local s3; do
  c=$w/$repo.conf
  fetch_rc "$c" "${segs[1]}" "$out/a"
  is "$rc" 0 "$repo: found: exit 0"
  ok "$repo: found: byte-identical" cmp -s "$out/a" "$PGDATA/pg_wal/${segs[1]}"
  fetch_rc "$c" 0000000100000000000000FE "$out/b"
  is "$rc" 1 "$repo: absent segment: exit 1"
  ok "$repo: absent: nothing written" test ! -e "$out/b"
  fetch_rc "$c" 00000009.history "$out/b"
  is "$rc" 1 "$repo: absent history file: exit 1"
  fetch_rc "$c" 00000001.history "$out/b"
  is "$rc" 1 "$repo: timeline 1's history file (never exists): exit 1"
  fetch_rc "$c" RECOVERYXLOG "$out/b"
  is "$rc" 130 "$repo: not a WAL file name: exit 130"
  fetch_rc "$c" "${segs[1]}" "$out/missing-dir/x"
  is "$rc" 139 "$repo: destination directory missing: exit 139"
done

# --- endpoint down: nothing listens; and the fault proxy answering 503 to everything
wal_conf "$w/down.conf" "s3://$bucket/fetch" "[s3]" "endpoint = http://127.0.0.1:9"
fetch_rc "$w/down.conf" "${segs[1]}" "$out/c"
is "$rc" 132 "endpoint down (connection refused): exit 132"
like "$err" "127.0.0.1:9|connect" "endpoint down: the message names the cause"
if [[ -x $fp ]]; then
  printf '503\n' >"$w/ctl"
  faultproxy_start "$fp" "$LV_TEST_S3_ENDPOINT" "$w/ctl"
  WAL_S3_ENDPOINT=$FP_ENDPOINT wal_conf "$w/proxy.conf" "s3://$bucket/fetch"
  fetch_rc "$w/proxy.conf" "${segs[1]}" "$out/c"
  is "$rc" 132 "endpoint failing with 503: exit 132, not 1"
  fetch_rc "$w/proxy.conf" 0000000100000000000000FE "$out/c"
  is "$rc" 132 \
    "absent segment while the endpoint fails: exit 132, never 1"
  rm -f "$w/ctl"
else
  skip "no faultproxy" 2
fi

# --- an endpoint that accepts the connection and never answers: wal fetch and wal push give up within
# archive-timeout (default s3 timeouts and retries otherwise), fetch with 132 (uncertain), push with 4.
if [[ -x $fp ]]; then
  printf 'stall\n' >"$w/hang.ctl"
  hp=$(lv_tmpdir hang)/port
  "$fp" --upstream "${LV_TEST_S3_ENDPOINT#http://}" --control "$w/hang.ctl" --stall-seconds 600 --max-seconds 300 \
    >"$hp" 2>/dev/null &
  hang_pid=$!
  lv_at_exit kill "$hang_pid"
  for ((i = 0; i < 100; i++)); do [[ -s $hp ]] && break; sleep 0.05; done
  cat >"$w/hang.conf" <<CONF
[global]
repo = s3://$bucket/fetch
catalog = $w/hang.db
key-file = $w/key
[s3]
endpoint = http://127.0.0.1:$(head -n 1 "$hp")
access-key = $LV_TEST_S3_ACCESS_KEY
secret-key = $LV_TEST_S3_SECRET_KEY
[archive]
timeout = 6
spool-path = $w/spool
CONF
  chmod 0644 "$w/hang.conf"
  t0=$(date +%s.%N)
  rc=0
  # (timeout: without a bound the command would hang for minutes; 124 then fails the test)
  err=$(as_pg timeout 40 "$LABVAULT_BIN" --config "$w/hang.conf" wal fetch "${segs[1]}" "$out/h" 2>&1 >/dev/null) || rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  is "$rc" 132 "endpoint that never answers: wal fetch exits 132 (uncertain), never 1"
  ok "... within archive-timeout (6 s; took ${took} s)" test "$took" -le 9
  like "$err" "deadline of 6 s" "... and says it gave up at the deadline"
  ok "... nothing written" test ! -e "$out/h"
  t0=$(date +%s.%N)
  rc=0
  err=$(as_pg timeout 40 "$LABVAULT_BIN" --config "$w/hang.conf" wal push "$PGDATA/pg_wal/${segs[2]}" 2>&1 >/dev/null) ||
    rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  is "$rc" 4 "endpoint that never answers: wal push exits 4 (PostgreSQL keeps the file and retries)"
  ok "... within archive-timeout (6 s; took ${took} s)" test "$took" -le 9
  like "$("$LABVAULT_BIN" --config "$w/hang.conf" config show)" "s3-connect-timeout +10 +default" \
    "the connect timeout is a setting (default 10 s)"
  kill "$hang_pid" 2>/dev/null || true
else
  skip "no faultproxy" 7
fi

# --- wrong key
mkdir -p "$w/other"
head -c 64 /dev/urandom >"$w/other/key"
chmod 0644 "$w/other/key"
wal_conf "$w/other/wrong.conf" "$w/repo"
fetch_rc "$w/other/wrong.conf" "${segs[1]}" "$out/d"
is "$rc" 133 "wrong key: exit 133"
ok "wrong key: nothing written" test ! -e "$out/d"

# --- corrupted objects: a flipped byte (local), a replaced and a truncated object (S3)
key_of() { # CONF NAME
  lvpg "$1" wal list --json | python3 -c 'import json,sys; print([o["key"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]][0])' "$2"
}
k=$(key_of "$w/local.conf" "${segs[2]}")
lv_flip_byte "$w/repo/$k" 5000
fetch_rc "$w/local.conf" "${segs[2]}" "$out/e"
is "$rc" 134 "local: corrupted object: exit 134"
like "$err" "${segs[2]}" "corrupted object: the message names it"
ok "corrupted object: nothing written" test ! -e "$out/e"
# The checksum in a key is not in the seal's associated data (wal/archive.h): an object moved to a key with
# another checksum authenticates, and only the checksum recomputed by fetch catches it. (Scans of the
# archive skip that recomputation and check each record's CRC instead.)
k=$(key_of "$w/local.conf" "${segs[3]}")
k2=${k%?}$([[ ${k: -1} == 0 ]] && echo 1 || echo 0)
mv "$w/repo/$k" "$w/repo/$k2"
fetch_rc "$w/local.conf" "${segs[3]}" "$out/e"
is "$rc" 134 "local: an object under a key with another checksum: exit 134"
like "$err" "WAL object .*${segs[3]}.*the content's checksum is" "... naming the object and the checksum"
ok "... nothing written" test ! -e "$out/e"
mv "$w/repo/$k2" "$w/repo/$k" # (used again below)
k=$(key_of "$w/s3.conf" "${segs[2]}")
lv_s3_get "$bucket" "fetch/$k" "$w/obj"
lv_flip_byte "$w/obj" 100
lv_s3_put "$bucket" "fetch/$k" "$w/obj"
fetch_rc "$w/s3.conf" "${segs[2]}" "$out/e"
is "$rc" 134 "S3: corrupted object: exit 134"
head -c 1000 "$w/obj" >"$w/obj.short"
lv_s3_put "$bucket" "fetch/$k" "$w/obj.short"
fetch_rc "$w/s3.conf" "${segs[2]}" "$out/e"
is "$rc" 134 "S3: truncated object: exit 134"

# --- history file round trip
mkdir -p "$w/h" && printf '1\t0/3000000\tno recovery target specified\n' >"$w/h/00000002.history"
chmod -R a+rX "$w/h"
ok "history file pushed" lvpg "$w/s3.conf" wal push "$w/h/00000002.history"
fetch_rc "$w/s3.conf" 00000002.history "$out/f"
is "$rc" 0 "history file fetched"
ok "history file byte-identical" cmp -s "$out/f" "$w/h/00000002.history"

# --- prefetch: restore_command runs in the data directory, where postmaster.pid names this start
wal_conf "$w/pf.conf" "$w/repo" "[archive]" "get-prefetch = 3" "get-workers = 2"
pf_fetch() { # NAME DEST, in the data directory as restore_command runs
  rc=0
  err=$(cd "$PGDATA" && lvpg "$w/pf.conf" wal fetch "$1" "$2" 2>&1 >/dev/null) || rc=$?
}
# A finished spool file is <name>.<sha256>; the worker's temporary files (<name>.tmp-...) must not count.
spooled() { find "$w/spool" -path '*/in/*' -type f -regextype posix-extended -regex ".*/$1\.[0-9a-f]{64}" | head -n 1; }
pf_fetch "${segs[3]}" "$out/g"
is "$rc" 0 "prefetch: the first fetch comes from the repository"
for ((i = 0; i < 300; i++)); do # up to 30 s: the worker is a new process, slow under ASan and load
  [[ -n $(spooled "${segs[4]}") && -n $(spooled "${segs[5]}") ]] && break # fetched in parallel: any order
  sleep 0.1
done
ok "prefetch: the next segments were spooled" test -n "$(spooled "${segs[4]}")" -a -n "$(spooled "${segs[5]}")"
for ((i = 0; i < 50; i++)); do # let the worker finish before touching its files
  compgen -G "$w/spool/*/in/*/*.tmp-*" >/dev/null || break
  sleep 0.1
done
f=$(spooled "${segs[4]}")
lv_flip_byte "$f" 3000
pf_fetch "${segs[4]}" "$out/h"
is "$rc" 0 "prefetch: a damaged spool file is ignored (exit 0)"
ok "prefetch: ... and the segment comes byte-identical from the repository" cmp -s "$out/h" "$PGDATA/pg_wal/${segs[4]}"
ok "prefetch: the damaged spool file is gone" test ! -e "$f"
rm -rf "$w"/spool/*/in/*
pf_fetch "${segs[5]}" "$out/i"
is "$rc" 0 "prefetch: an empty spool is not absence: exit 0"
ok "prefetch: byte-identical" cmp -s "$out/i" "$PGDATA/pg_wal/${segs[5]}"
# A file spooled by an earlier start of PostgreSQL (another session directory) is never served, even
# when it is internally consistent. The fetch above started a worker, which removes other sessions'
# directories: plant the stale one only after it ended.
for ((i = 0; i < 300; i++)); do
  pgrep -f -- "--worker .*$w/pf.conf" >/dev/null || break
  sleep 0.1
done
sdir=$(find "$w/spool" -mindepth 2 -maxdepth 2 -name in | head -n 1)
[[ -n $sdir ]] || sdir=$(dirname "$(find "$w/spool" -mindepth 2 -maxdepth 2 -name out | head -n 1)")/in
mkdir -p "$sdir/0000000000000000"
printf 'stale bytes\n' >"$w/stale"
sum=$(sha256sum "$w/stale" | cut -c1-64)
cp "$w/stale" "$sdir/0000000000000000/${segs[0]}.$sum"
chown -R "${LV_TEST_PG_OSUSER:-$(id -un)}:" "$w/spool" 2>/dev/null || true
pf_fetch "${segs[0]}" "$out/j"
is "$rc" 0 "prefetch: fetch with another start's spool present"
ok "prefetch: another start's spool file is not used" cmp -s "$out/j" "$PGDATA/pg_wal/${segs[0]}"

done_testing
