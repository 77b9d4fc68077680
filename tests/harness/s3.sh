#!/usr/bin/env bash
# A real S3 server for tests: a single-node Ceph cluster (one monitor, one OSD, no manager) with a RADOS
# Gateway in front, all on 127.0.0.1 and all under one directory. Facts behind it:
# docs/s3-test-server.md.
#
# Usage: tests/harness/s3.sh COMMAND DIR
#   start DIR        Start the server. A new DIR (no DIR/ceph.conf yet) gets a fresh cluster on free ports,
#                    a user with known keys, and DIR/env; an existing DIR is started again on the same ports
#                    with its data (bluestore keeps it across a full stop; memstore comes back empty).
#                    Prints DIR/env on stdout when the server answers S3 requests.
#   stop DIR         Stop radosgw, then the OSD, then the monitor, by the pids in DIR/run/*.pid. Keeps data.
#   restart DIR      stop + start (same ports, same data).
#   stop-rgw DIR     Stop only radosgw (SIGTERM, graceful): the S3 endpoint refuses connections, data stays.
#   kill-rgw DIR     Kill only radosgw with SIGKILL (a crash), without waiting for anything in flight.
#   start-rgw DIR    Start radosgw again on the same port; returns when it answers.
#   restart-rgw DIR  stop-rgw + start-rgw.
#   freeze-rgw DIR   SIGSTOP radosgw: connections are accepted by the kernel but never answered (a hung
#                    server, for timeout tests). thaw-rgw DIR sends SIGCONT. stop also thaws first.
#   status DIR       Print which daemons run (exit 0 when all three run).
#   env DIR          Print DIR/env.
#   destroy DIR      stop + remove DIR.
#
# DIR/env (KEY=value lines, shell-quoted, source it with `set -a; . DIR/env; set +a`):
#   LV_TEST_S3_ENDPOINT=http://127.0.0.1:PORT   LV_TEST_S3_REGION=us-east-1
#   LV_TEST_S3_ACCESS_KEY=...  LV_TEST_S3_SECRET_KEY=...
#   LV_TEST_S3_DIR=DIR  LV_TEST_S3_OBJECTSTORE=bluestore|memstore
#
# Knobs (environment, read by a first start):
#   LV_S3_OBJECTSTORE   bluestore (default; a sparse file DIR/osd/block, survives a full stop) or memstore
#                       (objects in RAM, about 3 s faster to start, lost on a full stop; stop-rgw is fine).
#                       On tmpfs (no O_DIRECT) bluestore cannot work; memstore is used instead, with a warning.
#   LV_S3_BLOCK_SIZE    bluestore's block file size (default 10G, sparse) / memstore's RAM cap (default 2G)
#   LV_S3_ACCESS_KEY, LV_S3_SECRET_KEY   the test user's keys (defaults below)
#
# Daemons are found by their pid files only, and a pid is only signalled when /proc/PID/cmdline names
# this DIR's ceph.conf (so a reused pid is never hit). Nothing is ever stopped by process name.
# If start fails or is interrupted, it stops whatever it started.
set -euo pipefail

readonly RGW_NAME=client.rgw.lv
readonly DEFAULT_ACCESS_KEY=LVTESTACCESSKEY00001
readonly DEFAULT_SECRET_KEY=labvault-test-secret-key-0123456789abcdef
readonly REGION=us-east-1
readonly RGW_POOLS=(.rgw.root default.rgw.control default.rgw.meta default.rgw.log
                    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec)

prog=${0##*/}
# Messages go to fd 9, a copy of the original stderr: a trap can run while a function's stderr is
# redirected to a log. Daemons are started with 9>&- so they do not hold it open.
exec 9>&2
say() { printf '%s: %s\n' "$prog" "$*" >&9; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -eq 2 ]] || usage
cmd=$1
[[ -n $2 ]] || usage
if [[ $cmd == start ]]; then
  mkdir -p "$2"
fi
[[ -d $2 ]] || die "no such directory: $2"
DIR=$(cd "$2" && pwd -P)
CONF=$DIR/ceph.conf

# ---------------------------------------------------------------------------------------------- pids
# alive PID: the process exists and is not a zombie (a container's pid 1 may never reap orphans).
alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# daemon_pid NAME: print the pid of this DIR's daemon NAME (mon.a, osd.0, client.rgw.lv) if it runs.
daemon_pid() {
  local f=$DIR/run/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Only a process started with this DIR's ceph.conf counts (pid reuse).
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$CONF" || return 1
  printf '%s\n' "$pid"
}

# stop_daemon NAME SIGNAL TIMEOUT: signal it, wait until gone, SIGKILL after TIMEOUT seconds.
stop_daemon() {
  local name=$1 sig=$2 timeout=$3 pid t0
  if pid=$(daemon_pid "$name"); then
    t0=$(now)
    kill -CONT "$pid" 2>/dev/null || true
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        say "$name (pid $pid) still runs after ${timeout}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
        break
      fi
      sleep 0.02
    done
    say "stopped $name (pid $pid) in $(elapsed "$t0")s"
  fi
  rm -f "$DIR/run/$1.pid"
}

stop_all() {
  stop_daemon "$RGW_NAME" TERM 20
  stop_daemon osd.0 TERM 30
  stop_daemon mon.a TERM 20
}

# ---------------------------------------------------------------------------------------------- ports
# A port nobody listens on, outside the kernel's ephemeral range (32768-60999) so outgoing connections
# do not take it. Several harnesses may run at once (other engineers, parallel tests): the range is wide
# and a first start that loses a race for a port retries with new ports.
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ " $* " == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "no free port found"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

conf_get() { # KEY from DIR/harness.conf (our own state: ports, keys, objectstore)
  sed -n "s/^$1=//p" "$DIR/harness.conf"
}

# ---------------------------------------------------------------------------------------------- ceph
ceph_cli() { timeout 60 ceph -c "$CONF" --connect-timeout 10 "$@"; }

show_log() {
  local f=$DIR/log/$1.log
  if [[ -s $f ]]; then
    say "last lines of $f:"
    tail -n 25 "$f" >&9
  fi
}

write_conf() {
  local fsid=$1 mon_port=$2 rgw_port=$3 store=$4 size=$5
  local store_conf
  if [[ $store == bluestore ]]; then
    store_conf="osd objectstore = bluestore
bluestore block create = true
bluestore block size = $size
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 128M"
  else
    store_conf="osd objectstore = memstore
memstore device bytes = $size"
  fi
  cat >"$CONF.tmp" <<EOF
# Written by tests/harness/s3.sh. Single node, no auth, loopback only.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
paxos propose interval = 0.05

[client]
# Without this radosgw hangs 300 s at start (auth is off).
ms mon client mode = crc

[mon.a]
mon data = $DIR/mon
# The port must be here too, or a non-default port hangs.
public addr = v2:127.0.0.1:$mon_port

[osd.0]
osd data = $DIR/osd
$store_conf
osd op num shards = 2
osd op num threads per shard = 2

[$RGW_NAME]
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = localhost
# Otherwise shutdown takes 3-5 s.
rgw enable lc threads = false
rgw thread pool size = 64
EOF
  mv "$CONF.tmp" "$CONF"
}

write_env() {
  local rgw_port=$1
  {
    printf 'LV_TEST_S3_ENDPOINT=%q\n' "http://127.0.0.1:$rgw_port"
    printf 'LV_TEST_S3_ACCESS_KEY=%q\n' "$(conf_get access_key)"
    printf 'LV_TEST_S3_SECRET_KEY=%q\n' "$(conf_get secret_key)"
    printf 'LV_TEST_S3_REGION=%q\n' "$REGION"
    printf 'LV_TEST_S3_DIR=%q\n' "$DIR"
    printf 'LV_TEST_S3_OBJECTSTORE=%q\n' "$(conf_get objectstore)"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

# wait_until TIMEOUT WHAT DAEMON CMD...: run CMD until it succeeds; fail early if DAEMON died. A daemon
# writes its pid file after it forks away from its launcher, late on a loaded machine: no pid file yet is
# "still starting" for 15 s; a pid file seen and then gone, or a dead pid, is "exited".
wait_until() {
  local timeout=$1 what=$2 daemon=$3
  shift 3
  local deadline=$((SECONDS + timeout)) grace=$((SECONDS + 15)) seen=0
  until "$@" >/dev/null 2>&1; do
    if daemon_pid "$daemon" >/dev/null; then
      seen=1
    elif ((seen || SECONDS >= grace)) || [[ -s $DIR/run/$daemon.pid ]]; then
      say "$daemon exited while waiting for $what"
      show_log "$daemon"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      say "timed out after ${timeout}s waiting for $what"
      show_log "$daemon"
      return 1
    fi
    sleep 0.1
  done
}

osd_is_up() { ceph_cli osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; }

http_answers() {
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1/") || true
  [[ $code != 000 && -n $code ]]
}

start_mon() {
  daemon_pid mon.a >/dev/null && return 0
  port_in_use "$(conf_get mon_port)" && { say "monitor port $(conf_get mon_port) is taken"; return 1; }
  rm -f "$DIR/run/mon.a.pid" # a dead daemon's: wait_until would take it for the new one's
  ceph-mon -c "$CONF" --id a </dev/null >>"$DIR/log/launch.log" 2>&1 9>&- || { show_log mon.a; return 1; }
  wait_until 30 "the monitor" mon.a ceph_cli mon stat
}

start_osd() {
  daemon_pid osd.0 >/dev/null && return 0
  rm -f "$DIR/run/osd.0.pid"
  ceph-osd -c "$CONF" --id 0 </dev/null >>"$DIR/log/launch.log" 2>&1 9>&- || { show_log osd.0; return 1; }
  wait_until 60 "the OSD to be up" osd.0 osd_is_up
}

start_rgw() {
  local port
  port=$(conf_get rgw_port)
  if daemon_pid "$RGW_NAME" >/dev/null; then
    return 0
  fi
  port_in_use "$port" && { say "S3 port $port is taken"; return 1; }
  rm -f "$DIR/run/$RGW_NAME.pid"
  radosgw -c "$CONF" -n "$RGW_NAME" </dev/null >>"$DIR/log/launch.log" 2>&1 9>&- || { show_log "$RGW_NAME"; return 1; }
  wait_until 60 "radosgw to answer on port $port" "$RGW_NAME" http_answers "$port"
}

# One attempt at creating a new cluster in DIR (which holds nothing but maybe logs of a failed attempt).
# MON_PORT and RGW_PORT may be given (memstore coming back empty on its old ports).
create_cluster() {
  local store=$1 size=$2 access=$3 secret=$4 mon_port=${5:-} rgw_port=${6:-} fsid
  [[ -n $mon_port ]] || mon_port=$(free_port)
  [[ -n $rgw_port ]] || rgw_port=$(free_port "$mon_port")
  fsid=$(uuidgen 2>/dev/null || cat /proc/sys/kernel/random/uuid)
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon" "$DIR/osd" "$DIR/rgw"
  printf 'mon_port=%s\nrgw_port=%s\nobjectstore=%s\nsize=%s\naccess_key=%s\nsecret_key=%s\n' \
    "$mon_port" "$rgw_port" "$store" "$size" "$access" "$secret" >"$DIR/harness.conf"
  write_conf "$fsid" "$mon_port" "$rgw_port" "$store" "$size"

  ceph-mon -c "$CONF" --id a --mkfs --keyring /dev/null >>"$DIR/log/launch.log" 2>&1 \
    || { say "ceph-mon --mkfs failed"; tail -n 20 "$DIR/log/launch.log" >&9; return 1; }
  start_mon || return 1
  # One ceph CLI process for all cluster set-up commands (each process costs about 0.25 s).
  ceph_cli >>"$DIR/log/launch.log" 2>&1 <<EOF || { say "ceph osd create failed"; return 1; }
osd create
osd crush add osd.0 1 root=default
EOF
  ceph-osd -c "$CONF" --id 0 --mkfs >>"$DIR/log/launch.log" 2>&1 \
    || { say "ceph-osd --mkfs failed"; show_log osd.0; return 1; }
  start_osd || return 1
  local p cmds=""
  for p in "${RGW_POOLS[@]}"; do
    cmds+="osd pool create $p 8 8"$'\n'"osd pool application enable $p rgw"$'\n'
  done
  ceph_cli >>"$DIR/log/launch.log" 2>&1 <<<"$cmds" || { say "creating the pools failed"; return 1; }
  # The user lives in RADOS: create it while radosgw starts. radosgw-admin runs as client.admin, not as
  # the gateway's name, or the two fight over one admin socket.
  timeout 60 radosgw-admin -c "$CONF" -n client.admin user create --uid test --display-name test \
    --access-key "$access" --secret-key "$secret" >>"$DIR/log/launch.log" 2>&1 &
  local admin_pid=$!
  local rc=0
  start_rgw || rc=1
  wait "$admin_pid" || { say "radosgw-admin user create failed"; tail -n 20 "$DIR/log/launch.log" >&9; rc=1; }
  return "$rc"
}

# ---------------------------------------------------------------------------------------------- commands
# While starting, INT/TERM stop what this command started (all daemons, or only radosgw for start-rgw).
on_start_signal() {
  trap - INT TERM
  say "interrupted: stopping what was started"
  "$@"
  exit 130
}

do_start() {
  local t0
  t0=$(now)
  trap 'on_start_signal stop_all' INT TERM
  if [[ -f $CONF && -f $DIR/harness.conf && $(conf_get objectstore) == memstore ]] \
     && ! daemon_pid osd.0 >/dev/null; then
    # memstore lost every object, the pools' too, when the OSD stopped: make a new, empty cluster on the
    # same ports with the same keys.
    local mon_port rgw_port access secret size
    mon_port=$(conf_get mon_port) rgw_port=$(conf_get rgw_port)
    access=$(conf_get access_key) secret=$(conf_get secret_key) size=$(conf_get size)
    stop_all
    rm -rf "$DIR/run" "$DIR/mon" "$DIR/osd" "$DIR/rgw"
    if ! create_cluster memstore "$size" "$access" "$secret" "$mon_port" "$rgw_port"; then
      stop_all
      die "start failed (logs in $DIR/log)"
    fi
  elif [[ -f $CONF && -f $DIR/harness.conf ]]; then
    if ! { start_mon && start_osd && start_rgw; }; then
      stop_all
      die "start failed (logs in $DIR/log)"
    fi
  else
    local store=${LV_S3_OBJECTSTORE:-bluestore} size access secret attempt
    [[ $store == bluestore || $store == memstore ]] || die "LV_S3_OBJECTSTORE must be bluestore or memstore"
    if [[ $store == bluestore && $(stat -f -c %T "$DIR") == tmpfs ]]; then
      say "warning: $DIR is on tmpfs, where bluestore cannot run (no O_DIRECT); using memstore"
      store=memstore
    fi
    if [[ $store == bluestore ]]; then size=${LV_S3_BLOCK_SIZE:-10G}; else size=${LV_S3_BLOCK_SIZE:-2G}; fi
    access=${LV_S3_ACCESS_KEY:-$DEFAULT_ACCESS_KEY}
    secret=${LV_S3_SECRET_KEY:-$DEFAULT_SECRET_KEY}
    for attempt in 1 2 3; do
      if create_cluster "$store" "$size" "$access" "$secret"; then
        break
      fi
      stop_all
      if ((attempt == 3)); then
        die "start failed 3 times (logs in $DIR/log)"
      fi
      say "start attempt $attempt failed; retrying on other ports"
      mv "$DIR/log" "$DIR/log.failed-$attempt" 2>/dev/null || true
      rm -rf "$DIR/run" "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$CONF" "$DIR/harness.conf"
    done
  fi
  write_env "$(conf_get rgw_port)"
  trap - INT TERM
  say "S3 server up at http://127.0.0.1:$(conf_get rgw_port) ($(conf_get objectstore)) in $(elapsed "$t0")s"
  cat "$DIR/env"
}

need_cluster() { [[ -f $CONF && -f $DIR/harness.conf ]] || die "$DIR holds no S3 server (no ceph.conf)"; }

case $cmd in
  start) do_start ;;
  stop) if [[ -f $CONF ]]; then stop_all; fi ;;
  restart) need_cluster; stop_all; do_start ;;
  stop-rgw) need_cluster; stop_daemon "$RGW_NAME" TERM 20 ;;
  kill-rgw) need_cluster; stop_daemon "$RGW_NAME" KILL 10 ;;
  start-rgw)
    need_cluster
    t0=$(now)
    trap 'on_start_signal stop_daemon "$RGW_NAME" TERM 20' INT TERM
    start_rgw || die "radosgw did not start (logs in $DIR/log)"
    say "radosgw up on port $(conf_get rgw_port) in $(elapsed "$t0")s"
    ;;
  restart-rgw)
    need_cluster
    stop_daemon "$RGW_NAME" TERM 20
    start_rgw || die "radosgw did not start (logs in $DIR/log)"
    ;;
  freeze-rgw)
    need_cluster
    pid=$(daemon_pid "$RGW_NAME") || die "radosgw does not run"
    kill -STOP "$pid"
    ;;
  thaw-rgw)
    need_cluster
    pid=$(daemon_pid "$RGW_NAME") || die "radosgw does not run"
    kill -CONT "$pid"
    ;;
  status)
    need_cluster
    rc=0
    for d in mon.a osd.0 "$RGW_NAME"; do
      if pid=$(daemon_pid "$d"); then echo "$d: running (pid $pid)"; else echo "$d: stopped"; rc=1; fi
    done
    exit "$rc"
    ;;
  env) [[ -f $DIR/env ]] || die "no $DIR/env (never started?)"; cat "$DIR/env" ;;
  destroy)
    if [[ -f $CONF ]]; then stop_all; fi
    rm -rf "$DIR"
    ;;
  *) usage ;;
esac
