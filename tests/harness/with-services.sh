#!/usr/bin/env bash
# Run a command with the test services: one S3 server (tests/harness/s3.sh, bluestore) and one shared
# PostgreSQL 15 cluster (tests/harness/pg.sh), both on 127.0.0.1, in a new temporary directory.
#
# Usage: tests/harness/with-services.sh CMD [ARG...]
#   e.g. tests/harness/with-services.sh meson test -C build --print-errorlogs
#        tests/harness/with-services.sh bash      (an interactive shell with the services; exit to stop)
#
# CMD gets these environment variables:
#   LV_TEST_S3_ENDPOINT (http://127.0.0.1:PORT) LV_TEST_S3_ACCESS_KEY LV_TEST_S3_SECRET_KEY
#   LV_TEST_S3_REGION (us-east-1) LV_TEST_S3_DIR (the server's directory, for s3.sh stop-rgw etc.)
#   LV_TEST_PG_HOST (127.0.0.1) LV_TEST_PG_PORT LV_TEST_PG_USER (postgres) LV_TEST_PG_DATABASE (postgres)
#   LV_TEST_PG_DATA LV_TEST_PG_BINDIR LV_TEST_PG_SOCKDIR LV_TEST_PG_OSUSER LV_TEST_PG_DIR
#   LV_TEST_PG_ENV (the cluster's env file, with PGHOST PGPORT PGUSER PGDATABASE PGDATA)
#   LV_TEST_HARNESS (this directory)   LV_TEST_SERVICES_DIR (the temporary directory)
#   TMPDIR (LV_TEST_SERVICES_DIR/tmp: whatever tests leave there is removed too)
# The shared cluster is for tests that do not change it; a test that does starts its own (tap.sh's
# lv_pg_start). PG* variables are not set: tests pick the cluster they use.
#
# Whatever happens (CMD fails, a service does not start, INT or TERM), the services are stopped by their
# pid files and the directory is removed, after stopping any S3 server, PostgreSQL or Docker engine
# (tap.sh's lv_docker_start: tests that need one start their own) that a test left running under
# TMPDIR; an INT/TERM is passed on to CMD (its process group) as SIGTERM first. When stdin is a terminal, CMD runs in the foreground instead (Ctrl-C goes straight to it).
# The exit status is CMD's (130/143 after INT/TERM, 1 when the services did not start).
# Knobs: LV_TEST_TMPDIR (where the directory is made; default $TMPDIR or /tmp), LV_TEST_SERVICES_LOGDIR
# (when set, the services' logs are copied there before the directory is removed), LV_S3_OBJECTSTORE.
set -euo pipefail

prog=${0##*/}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

if (($# == 0)); then
  sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi

HARNESS=$(cd "$(dirname "$0")" && pwd -P)
base=${LV_TEST_TMPDIR:-${TMPDIR:-/tmp}}
T=$(mktemp -d "$base/lv-services.XXXXXX")
T=$(cd "$T" && pwd -P)
chmod 0711 "$T"
child=
starters=()

# shellcheck disable=SC2317 # (called from the EXIT trap)
alive() { [[ -r /proc/$1/stat ]] && ! grep -q '^[0-9]* (.*) [ZX]' "/proc/$1/stat" 2>/dev/null; }

# stop_child PID [group]: SIGTERM (to its process group with "group"), wait up to 60 s, then SIGKILL;
# reaps it.
# shellcheck disable=SC2317
stop_child() {
  local pid=$1 target=$1 deadline=$((SECONDS + 60))
  [[ ${2:-} == group ]] && target=-$1
  kill -TERM -- "$target" 2>/dev/null || return 0
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      say "pid $pid ignores SIGTERM; SIGKILL"
      kill -KILL -- "$target" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  # Whatever is left of the group after its leader ended.
  [[ $target == -* ]] && kill -TERM -- "$target" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# Servers that tests started under TMPDIR and did not stop (a test killed by meson's timeout before its
# cleanup finished, say): S3 servers by s3.sh stop (pid files), PostgreSQL by the pid in postmaster.pid
# when that process runs in that directory, Docker engines by docker.sh destroy (their daemon.json).
# shellcheck disable=SC2317
sweep_tmp() {
  local f d pid deadline
  [[ -d $T/tmp ]] || return 0
  while IFS= read -r -d '' f; do
    d=${f%/ceph.conf}
    [[ -f $d/harness.conf ]] || continue
    if "$HARNESS/s3.sh" status "$d" >/dev/null 2>&1 || compgen -G "$d/run/*.pid" >/dev/null; then
      say "stopping a test's leftover S3 server in $d"
      "$HARNESS/s3.sh" stop "$d" 2>&1 | sed 's/^/  /' >&2
    fi
  done < <(find "$T/tmp" -name ceph.conf -print0 2>/dev/null)
  while IFS= read -r -d '' f; do
    d=${f%/postmaster.pid}
    pid=$(head -n 1 "$f" 2>/dev/null) || continue
    if ! [[ $pid =~ ^[0-9]+$ ]] || ! alive "$pid"; then continue; fi
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$d" ]] || continue
    say "stopping a test's leftover postgres (pid $pid) in $d"
    kill -QUIT "$pid" 2>/dev/null
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done < <(find "$T/tmp" -name postmaster.pid -print0 2>/dev/null)
  while IFS= read -r -d '' f; do
    d=${f%/daemon.json}
    [[ -d $d/data && -d $d/log ]] || continue
    if "$HARNESS/docker.sh" status "$d" >/dev/null 2>&1; then
      say "stopping a test's leftover docker engine in $d"
    fi
    # destroy also kills what a killed dockerd left and unmounts what it mounted, before rm -rf "$T"
    "$HARNESS/docker.sh" destroy "$d" 2>&1 | sed 's/^/  /' >&2
  done < <(find "$T/tmp" -name daemon.json -print0 2>/dev/null)
}

# shellcheck disable=SC2317
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  trap '' INT TERM # finish cleaning up even when interrupted again
  set +e
  if [[ -n $child ]]; then
    stop_child "$child" group
  fi
  for p in "${starters[@]}"; do
    stop_child "$p"
  done
  sweep_tmp
  "$HARNESS/s3.sh" stop "$T/s3" 2>&1 | sed 's/^/  /' >&2
  "$HARNESS/pg.sh" stop "$T/pg" fast 2>&1 | sed 's/^/  /' >&2
  if [[ -n ${LV_TEST_SERVICES_LOGDIR:-} ]]; then
    mkdir -p "$LV_TEST_SERVICES_LOGDIR"
    [[ -d $T/s3/log ]] && cp -r "$T/s3/log" "$LV_TEST_SERVICES_LOGDIR/s3"
    [[ -d $T/pg/log ]] && cp -r "$T/pg/log" "$LV_TEST_SERVICES_LOGDIR/pg"
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(date +%s.%N)
# Both servers start at once (the S3 server takes about 5 s, PostgreSQL about 2 s).
"$HARNESS/s3.sh" start "$T/s3" >/dev/null &
s3_starter=$!
"$HARNESS/pg.sh" start "$T/pg" >/dev/null &
pg_starter=$!
starters=("$s3_starter" "$pg_starter")
s3_rc=0
pg_rc=0
wait "$s3_starter" || s3_rc=$?
wait "$pg_starter" || pg_rc=$?
starters=()
if ((s3_rc != 0 || pg_rc != 0)); then
  ((s3_rc == 0)) || say "the S3 server did not start"
  ((pg_rc == 0)) || say "PostgreSQL did not start"
  exit 1
fi
say "services up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s (in $T)"

set -a
# shellcheck disable=SC1091
. "$T/s3/env"
set +a
# The cluster's env file speaks PG*; hand it on under LV_TEST_PG_* names.
pg_env() { # NAME: its value in the pg env file
  (
    # shellcheck disable=SC1091
    . "$T/pg/env"
    printf '%s' "${!1}"
  )
}
export LV_TEST_PG_HOST LV_TEST_PG_PORT LV_TEST_PG_USER LV_TEST_PG_DATABASE LV_TEST_PG_DATA
LV_TEST_PG_HOST=$(pg_env PGHOST)
LV_TEST_PG_PORT=$(pg_env PGPORT)
LV_TEST_PG_USER=$(pg_env PGUSER)
LV_TEST_PG_DATABASE=$(pg_env PGDATABASE)
LV_TEST_PG_DATA=$(pg_env PGDATA)
export LV_TEST_PG_BINDIR LV_TEST_PG_SOCKDIR LV_TEST_PG_OSUSER LV_TEST_PG_DIR
LV_TEST_PG_BINDIR=$(pg_env LV_TEST_PG_BINDIR)
LV_TEST_PG_SOCKDIR=$(pg_env LV_TEST_PG_SOCKDIR)
LV_TEST_PG_OSUSER=$(pg_env LV_TEST_PG_OSUSER)
LV_TEST_PG_DIR=$(pg_env LV_TEST_PG_DIR)
export LV_TEST_PG_ENV=$T/pg/env
export LV_TEST_HARNESS=$HARNESS
export LV_TEST_SERVICES_DIR=$T
mkdir -m 1777 "$T/tmp"
export TMPDIR=$T/tmp

if [[ -t 0 ]]; then
  # Interactive (stdin is a terminal): CMD runs in the foreground and owns the terminal; Ctrl-C reaches it
  # directly, and the cleanup runs when it ends.
  rc=0
  "$@" || rc=$?
  exit "$rc"
fi
# Otherwise CMD runs as a background job in its own process group: a signal reaches this script's trap at
# once (bash runs traps only between commands; `wait` is interruptible), and the cleanup can stop CMD with
# everything it started (the group, by its id). The explicit <&0 keeps CMD's stdin.
set -m
"$@" <&0 &
child=$!
set +m
rc=0
wait "$child" || rc=$?
child=
exit "$rc"
