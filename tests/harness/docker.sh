#!/usr/bin/env bash
# A real Docker engine for tests: Debian's dockerd (docker.io) with its own data root, exec root, pid file
# and Unix socket, all under one directory, and a busybox image made locally (images cannot be pulled).
#
# Usage: tests/harness/docker.sh COMMAND DIR
#   start DIR     Start an engine: dockerd --storage-driver=vfs --iptables=false --ip-forward=false
#                 --ip-masq=false --bridge=none (no network set-up on the host: containers run with
#                 --network none), in its own session (a test killed by meson does not take it down
#                 half-way; stop does). Then `docker import` of a tar holding busybox-static's /bin/busybox
#                 and its applet links, as the image in LV_TEST_DOCKER_IMAGE. Prints DIR/env once the
#                 engine answers and the image exists. An existing DIR is started again with its data.
#   stop DIR      Kill the running containers, stop dockerd (SIGTERM; SIGKILL after 30 s), then kill
#                 whatever of this engine is left (its containerd, shims and the containers' processes,
#                 found by this DIR in their command line or their container ids in their cgroup) and
#                 unmount what it mounted under DIR. Keeps data.
#   status DIR    Print whether it runs (exit 0 when it does).
#   env DIR       Print DIR/env.
#   destroy DIR   stop + remove DIR.
#
# DIR/env (KEY=value lines, shell-quoted; `set -a; . DIR/env; set +a` makes the docker CLI use this engine):
#   DOCKER_HOST=unix://.../docker.sock   LV_TEST_DOCKER_IMAGE=labvault-test/busybox:1   LV_TEST_DOCKER_DIR=DIR
#
# Layout: DIR/data (--data-root), DIR/run (--exec-root, the socket and dockerd.pid), DIR/log/dockerd.log.
# A Unix socket path must fit in 107 bytes: when DIR is too long for the run directory's sockets, the
# run directory is a new one under /tmp, named in DIR/rundir (and removed with DIR).
# Needs root (dockerd does) and the packages docker.io and busybox-static. Nothing is ever stopped by
# process name: only pids from DIR's pid file, or processes whose command line or cgroup names this engine.
set -euo pipefail

readonly IMAGE=labvault-test/busybox:1

prog=${0##*/}
exec 9>&2
say() { printf '%s: %s\n' "$prog" "$*" >&9; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -eq 2 && -n $2 ]] || usage
cmd=$1
if [[ $cmd == start ]]; then
  mkdir -p "$2"
fi
[[ -d $2 ]] || die "no such directory: $2"
DIR=$(cd "$2" && pwd -P)

# The run directory (exec root and socket): DIR/run, or the short one named in DIR/rundir.
rundir() {
  if [[ -s $DIR/rundir ]]; then
    cat "$DIR/rundir"
  else
    printf '%s\n' "$DIR/run"
  fi
}
RUN=$(rundir)

alive() { # builtins only: the sweep below asks it of every process
  local line
  { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  line=${line##*) }
  [[ -n $line && ${line:0:1} != Z && ${line:0:1} != X ]]
}

# names_us PID: its command line names this engine's data root or run directory.
names_us() {
  local a
  while IFS= read -r -d '' a; do
    case $a in
      "$DIR/data" | "$DIR/data/"* | "$RUN" | "$RUN/"* | "unix://$RUN/"*) return 0 ;;
    esac
  done <"/proc/$1/cmdline" 2>/dev/null
  return 1
}

dockerd_pid() {
  local f=$RUN/dockerd.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && names_us "$pid" || return 1
  printf '%s\n' "$pid"
}

dk() { DOCKER_HOST=unix://$RUN/docker.sock docker "$@"; }

# ------------------------------------------------------------------------------------------------ stop
# Processes of this engine that outlived dockerd: containerd and its shims (their command lines name the run
# directory) and the containers' processes (their cgroup names one of this engine's container ids).
leftovers() {
  local ids=() p re= cg
  if [[ -d $DIR/data/containers ]]; then
    for p in "$DIR"/data/containers/*/; do
      [[ -d $p ]] && ids+=("$(basename "$p")")
    done
  fi
  ((${#ids[@]} == 0)) || re="/($(IFS='|'; echo "${ids[*]}"))"
  # Builtins only in this loop: it visits every process.
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    alive "$p" || continue
    cg=
    [[ -z $re ]] || { IFS= read -r -d '' cg <"/proc/$p/cgroup"; } 2>/dev/null || true
    if names_us "$p" || [[ -n $re && $cg =~ $re ]]; then
      printf '%s\n' "$p"
    fi
  done
}

unmount_ours() {
  local m
  # Deepest first; lazily, so a busy mount does not stop the cleanup.
  while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk '{print $5}' /proc/self/mountinfo | grep -F -e "$DIR/" -e "$RUN/" | sort -r)
}

# Kill what is left of the engine and wait (5 s at most) until it is gone, then drop the pid files naming
# it: a dockerd started later believes a containerd pid file whose pid was reused by another process
# ("containerd is still running") and times out waiting for a containerd that is not there.
kill_leftovers() {
  local p left i
  for p in $(leftovers); do
    say "killing what is left of the engine: pid $p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-80))"
    kill -KILL "$p" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do
    left=$(leftovers)
    [[ -z $left ]] && break
    sleep 0.1
  done
  [[ -z $left ]] || say "still alive after SIGKILL: ${left//$'\n'/ }"
  rm -f "$RUN/dockerd.pid" "$RUN/containerd/containerd.pid"
}

do_stop() {
  local pid t0 deadline ids p
  t0=$(now)
  if pid=$(dockerd_pid); then
    # Kill first: a container whose main process ignores SIGTERM (a shell as pid 1) would hold a graceful
    # shutdown for its whole stop timeout.
    ids=$(timeout 20 env DOCKER_HOST="unix://$RUN/docker.sock" docker ps -q 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      timeout 20 env DOCKER_HOST="unix://$RUN/docker.sock" docker kill $ids >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        say "dockerd (pid $pid) still runs after 30s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.05
    done
  fi
  kill_leftovers
  unmount_ours
  [[ -n ${pid:-} ]] && say "stopped dockerd (pid $pid) in $(elapsed "$t0")s"
  return 0
}

# ------------------------------------------------------------------------------------------------ start
make_image() {
  local busybox=/bin/busybox root a
  [[ -x $busybox ]] || die "no $busybox (apt-get install busybox-static)"
  if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is linked dynamically: the image needs busybox-static's"
  fi
  root=$DIR/image
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/tmp" "$root/data"
  cp "$busybox" "$root/bin/busybox"
  for a in $("$busybox" --list); do
    [[ $a == busybox ]] || ln -s busybox "$root/bin/$a"
  done
  tar -C "$root" -c . | dk import - "$IMAGE" >/dev/null || die "docker import of the busybox image failed"
  rm -rf "$root"
}

write_env() {
  {
    printf 'DOCKER_HOST=%q\n' "unix://$RUN/docker.sock"
    printf 'LV_TEST_DOCKER_IMAGE=%q\n' "$IMAGE"
    printf 'LV_TEST_DOCKER_DIR=%q\n' "$DIR"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

on_start_signal() {
  trap - INT TERM
  say "interrupted: stopping the engine if it started"
  do_stop
  exit 130
}

do_start() {
  local t0 pid i started
  t0=$(now)
  ((EUID == 0)) || die "dockerd needs root"
  command -v dockerd >/dev/null || die "no dockerd (apt-get install docker.io)"
  command -v docker >/dev/null || die "no docker CLI (apt-get install docker.io)"
  dockerd_pid >/dev/null && die "dockerd already runs in $DIR"
  trap on_start_signal INT TERM
  # containerd's socket is RUN/containerd/containerd.sock.ttrpc: keep it within a socket path's 107 bytes.
  if [[ ! -s $DIR/rundir ]] && ((${#DIR} + 40 > 100)); then
    mktemp -d /tmp/lv-docker.XXXXXX >"$DIR/rundir"
    RUN=$(rundir)
    say "note: $DIR is too long for the engine's sockets; they are in $RUN"
  fi
  mkdir -p "$DIR/data" "$RUN" "$DIR/log"
  printf '{}\n' >"$DIR/daemon.json" # not the host's /etc/docker/daemon.json
  kill_leftovers # of an engine killed without docker.sh stop: its pid files may name reused pids
  rm -f "$RUN/docker.sock"
  # setsid without -f: a background job is no group leader, so setsid execs dockerd in place and $! is
  # dockerd's own pid, known before dockerd writes its pid file (which a loaded machine delays: an engine
  # restarted over a killed one's containers cleans them up first).
  setsid dockerd --config-file "$DIR/daemon.json" --storage-driver=vfs --iptables=false --ip-forward=false \
    --ip-masq=false --bridge=none --data-root "$DIR/data" --exec-root "$RUN" --pidfile "$RUN/dockerd.pid" \
    -H "unix://$RUN/docker.sock" </dev/null >>"$DIR/log/dockerd.log" 2>&1 9>&- &
  started=$!
  for ((i = 0; i < 600; i++)); do
    if [[ -S $RUN/docker.sock ]] && dk version >/dev/null 2>&1; then
      break
    fi
    if ! alive "$started"; then
      tail -n 30 "$DIR/log/dockerd.log" >&2
      die "dockerd exited (log: $DIR/log/dockerd.log)"
    fi
    sleep 0.1
  done
  if ! dk version >/dev/null 2>&1; then
    tail -n 30 "$DIR/log/dockerd.log" >&2
    do_stop
    die "dockerd did not answer within 60s (log: $DIR/log/dockerd.log)"
  fi
  if ! dk image inspect "$IMAGE" >/dev/null 2>&1; then
    make_image
  fi
  write_env
  trap - INT TERM
  pid=$(dockerd_pid) || true
  say "dockerd up (pid $pid) in $(elapsed "$t0")s"
  cat "$DIR/env"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if pid=$(dockerd_pid); then echo "dockerd: running (pid $pid)"; else echo "dockerd: stopped"; exit 1; fi
    ;;
  env) [[ -f $DIR/env ]] || die "no $DIR/env (never started?)"; cat "$DIR/env" ;;
  destroy)
    do_stop
    if [[ -s $DIR/rundir ]]; then
      rm -rf "$RUN"
    fi
    rm -rf "$DIR"
    ;;
  *) usage ;;
esac
