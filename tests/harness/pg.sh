#!/usr/bin/env bash
# A real PostgreSQL cluster for tests (15, or another major through LV_TEST_PG_BINDIR: pg_versions.sh), on
# 127.0.0.1 and a socket directory, all under one directory.
#
# Usage: tests/harness/pg.sh COMMAND DIR [ARGS]
#   start DIR [CONF_LINE...]   A new DIR: initdb (--data-checksums, superuser "postgres", trust auth),
#                              then start on a free port. An existing DIR is started again on its port.
#                              Each CONF_LINE is appended to postgresql.conf (after the harness' own lines,
#                              so it wins), e.g. "archive_mode = on" "archive_command = '/path/x %p %f'".
#                              Prints DIR/env on stdout once the server accepts connections.
#   standby DIR PRIMARY_DIR [CONF_LINE...]
#                              A new DIR: a streaming standby of the cluster in PRIMARY_DIR (pg_basebackup -R
#                              -X stream, then its own free port), started like `start` (CONF_LINEs appended).
#                              PRIMARY_DIR's server must run; pg_basebackup comes from LV_TEST_PG_BINDIR, else
#                              Debian's 15.
#   stop DIR [fast|immediate|smart]
#                              Stop the postmaster by the pid in DIR/data/postmaster.pid (default fast =
#                              SIGINT; immediate = SIGQUIT, a crash-like stop; smart = SIGTERM). Keeps data.
#   restart DIR                stop (fast) + start.
#   status DIR                 Print whether it runs (exit 0 when it does).
#   env DIR                    Print DIR/env.
#   destroy DIR                stop (immediate) + remove DIR.
#
# DIR/env (KEY=value lines, shell-quoted; `set -a; . DIR/env; set +a` makes psql & co. use this cluster):
#   PGHOST=127.0.0.1 PGPORT=N PGUSER=postgres PGDATABASE=postgres PGDATA=DIR/data
#   LV_TEST_PG_BINDIR=/usr/lib/postgresql/15/bin  LV_TEST_PG_SOCKDIR=DIR/sock (empty if DIR is too long)
#   LV_TEST_PG_OSUSER=the OS user postgres runs as (archive_command runs as this user)
#   LV_TEST_PG_DIR=DIR
#
# Layout: DIR/data (PGDATA, owned by the OS user, 0700), DIR/sock, DIR/log/postgres.log.
# initdb refuses to run as root, so as root the server runs as an unprivileged user, LV_TEST_PG_OSUSER
# (default labvault-test; created here, without home or shell, when missing). Run as any other user, it runs
# as that user. Root can read and remove everything; other users' tests should use `pg.sh destroy`.
# Knobs: LV_TEST_PG_BINDIR (default /usr/lib/postgresql/15/bin; any major from 13, see pg_versions.sh),
# LV_TEST_PG_OSUSER, LV_TEST_PG_CHECKSUMS (default 1; 0: initdb without --data-checksums).
set -euo pipefail

prog=${0##*/}
# Messages go to fd 9, a copy of the original stderr: a trap can run while a function's stderr is
# redirected to a log. The server is started with 9>&- so it does not hold it open.
exec 9>&2
say() { printf '%s: %s\n' "$prog" "$*" >&9; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -ge 2 && -n $2 ]] || usage
cmd=$1
shift
if [[ $cmd == start || $cmd == standby ]]; then
  mkdir -p "$1"
fi
[[ -d $1 ]] || die "no such directory: $1"
DIR=$(cd "$1" && pwd -P)
shift
PGDATA_DIR=$DIR/data
BINDIR=${LV_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[[ -x $BINDIR/postgres ]] || die "no PostgreSQL in $BINDIR (apt-get install postgresql-15)"

if ((EUID == 0)); then
  OSUSER=${LV_TEST_PG_OSUSER:-labvault-test}
else
  OSUSER=$(id -un)
fi

# as_pg CMD...: run CMD as the OS user the server runs as.
as_pg() {
  if ((EUID == 0)); then
    runuser -u "$OSUSER" -- "$@"
  else
    "$@"
  fi
}

ensure_user() {
  ((EUID == 0)) || return 0
  local i
  for ((i = 0; i < 20; i++)); do
    id -u "$OSUSER" >/dev/null 2>&1 && return 0
    # Several harnesses may race here; the loser's useradd fails and the next id -u sees the user.
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$OSUSER" 2>/dev/null && { say "created OS user $OSUSER"; return 0; }
    sleep 0.2
  done
  die "could not create the OS user $OSUSER"
}

# The server's user must be able to reach DIR. When a parent directory (a test's private temp dir, say)
# is closed to it, grant it search permission there only (an ACL entry, or o+x without setfacl).
ensure_reachable() {
  ((EUID == 0)) || return 0
  as_pg test -x "$DIR" 2>/dev/null && return 0
  local d=$DIR parents=()
  while [[ $d != / ]]; do
    parents=("$d" "${parents[@]}")
    d=$(dirname "$d")
  done
  for d in "${parents[@]}"; do
    as_pg test -x "$d" 2>/dev/null && continue
    if command -v setfacl >/dev/null && setfacl -m "u:$OSUSER:x" "$d" 2>/dev/null; then
      say "note: granted $OSUSER search permission (ACL) on $d"
    else
      chmod o+x "$d"
      say "note: made $d searchable by others (o+x) for $OSUSER"
    fi
  done
}

# --------------------------------------------------------------------------------------------- pid
alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# The postmaster's pid, if it runs: line 1 of postmaster.pid, and only if that process's working
# directory is this PGDATA (the postmaster chdirs there), so a reused pid is never signalled.
postmaster_pid() {
  local f=$PGDATA_DIR/postmaster.pid pid cwd
  [[ -s $f ]] || return 1
  pid=$(head -n 1 "$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$PGDATA_DIR" ]] || return 1
  printf '%s\n' "$pid"
}

do_stop() {
  local mode=${1:-fast} sig pid t0 deadline
  case $mode in
    fast) sig=INT ;;
    immediate) sig=QUIT ;;
    smart) sig=TERM ;;
    *) die "stop mode must be fast, immediate or smart" ;;
  esac
  pid=$(postmaster_pid) || return 0
  t0=$(now)
  kill "-$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 60))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      if [[ $sig != QUIT ]]; then
        say "postmaster (pid $pid) still runs after 60s, sending SIGQUIT (immediate shutdown)"
        sig=QUIT
        kill -QUIT "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 20))
      else
        say "postmaster (pid $pid) still runs, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
    fi
    sleep 0.02
  done
  say "stopped postgres (pid $pid, $mode) in $(elapsed "$t0")s"
}

# --------------------------------------------------------------------------------------------- start
free_port() { # outside the ephemeral range (32768-60999); see s3.sh
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "no free port found"
}

write_env() {
  local port sockdir
  port=$(sed -n "s/^port = //p" "$PGDATA_DIR/labvault-harness.conf")
  sockdir=$(sed -n "s/^# sockdir = //p" "$PGDATA_DIR/labvault-harness.conf")
  {
    printf 'PGHOST=%q\n' 127.0.0.1
    printf 'PGPORT=%q\n' "$port"
    printf 'PGUSER=%q\n' postgres
    printf 'PGDATABASE=%q\n' postgres
    printf 'PGDATA=%q\n' "$PGDATA_DIR"
    printf 'LV_TEST_PG_BINDIR=%q\n' "$BINDIR"
    printf 'LV_TEST_PG_SOCKDIR=%q\n' "$sockdir"
    printf 'LV_TEST_PG_OSUSER=%q\n' "$OSUSER"
    printf 'LV_TEST_PG_DIR=%q\n' "$DIR"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

# write_harness_conf PORT: the harness' settings live in their own file, included from postgresql.conf.
write_harness_conf() {
  local port=$1 sockdir=$DIR/sock
  # A Unix socket path must fit in 107 bytes ("/.s.PGSQL.NNNNN" included).
  if ((${#sockdir} > 90)); then
    say "warning: $sockdir is too long for a Unix socket; TCP only"
    sockdir=
  fi
  as_pg tee "$PGDATA_DIR/labvault-harness.conf" >/dev/null <<EOF
# Written by tests/harness/pg.sh
port = $port
# sockdir = $sockdir
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

pg_start_once() { # start on the configured port; 0 = up, 1 = failed, 2 = port taken
  : >"$DIR/log/start.out"
  if as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$DIR/log/postgres.log" -w -t 60 start \
    </dev/null >>"$DIR/log/start.out" 2>&1 9>&-; then
    return 0
  fi
  if tail -n 20 "$DIR/log/postgres.log" 2>/dev/null | grep -q 'could not bind\|Address already in use'; then
    return 2
  fi
  return 1
}

on_start_signal() {
  trap - INT TERM
  say "interrupted: stopping the server if it started"
  do_stop immediate
  exit 130
}

do_start() {
  local t0 fresh=0 attempt rc
  t0=$(now)
  trap on_start_signal INT TERM
  ensure_user
  chmod 0755 "$DIR"
  ensure_reachable
  mkdir -p "$DIR/log" "$DIR/sock"
  chown "$OSUSER:" "$DIR/log" "$DIR/sock" 2>/dev/null || true
  if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
    fresh=1
    rm -rf "$PGDATA_DIR"
    mkdir -m 0700 "$PGDATA_DIR"
    chown "$OSUSER:" "$PGDATA_DIR" 2>/dev/null || true
    local quiet=() # --no-instructions is from PostgreSQL 14 on
    "$BINDIR/initdb" --help 2>/dev/null | grep -q -- --no-instructions && quiet=(--no-instructions)
    local checksums=(--data-checksums)
    [[ ${LV_TEST_PG_CHECKSUMS:-1} == 0 ]] && checksums=()
    if ! as_pg "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust "${checksums[@]}" \
      --encoding=UTF8 --locale=C --no-sync "${quiet[@]}" >"$DIR/log/initdb.log" 2>&1; then
      cat "$DIR/log/initdb.log" >&2
      die "initdb failed"
    fi
    write_harness_conf "$(free_port)"
    printf "\n# Added by tests/harness/pg.sh\ninclude = 'labvault-harness.conf'\n" |
      as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  fi
  if (($# > 0)); then
    printf '%s\n' "# Extra lines given to pg.sh start" "$@" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  fi
  postmaster_pid >/dev/null && die "postgres already runs in $DIR"
  for attempt in 1 2 3 4 5; do
    rc=0
    pg_start_once || rc=$?
    ((rc == 0)) && break
    if ((rc == 2 && fresh && attempt < 5)); then
      say "port taken, retrying on another one"
      do_stop immediate
      write_harness_conf "$(free_port)"
      continue
    fi
    cat "$DIR/log/start.out" >&2
    tail -n 30 "$DIR/log/postgres.log" >&2 2>/dev/null || true
    do_stop immediate
    die "postgres did not start (log: $DIR/log/postgres.log)"
  done
  write_env
  trap - INT TERM
  say "postgres up on 127.0.0.1:$(sed -n 's/^PGPORT=//p' "$DIR/env") in $(elapsed "$t0")s"
  cat "$DIR/env"
}

# do_standby PRIMARY_DIR [CONF_LINE...]
do_standby() {
  local primary=$1 pport basebackup=$BINDIR/pg_basebackup
  shift
  [[ -f $primary/env ]] || die "no $primary/env: is a cluster running there?"
  pport=$(sed -n 's/^PGPORT=//p' "$primary/env")
  [[ -x $basebackup ]] || basebackup=/usr/lib/postgresql/15/bin/pg_basebackup
  [[ ! -f $PGDATA_DIR/PG_VERSION ]] || die "$PGDATA_DIR already holds a cluster"
  ensure_user
  chmod 0755 "$DIR"
  ensure_reachable
  mkdir -p "$DIR/log" "$DIR/sock"
  chown "$OSUSER:" "$DIR/log" "$DIR/sock" 2>/dev/null || true
  rm -rf "$PGDATA_DIR"
  mkdir -m 0700 "$PGDATA_DIR"
  chown "$OSUSER:" "$PGDATA_DIR" 2>/dev/null || true
  if ! as_pg "$basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$PGDATA_DIR" -R -X stream -c fast --no-sync \
    >"$DIR/log/basebackup.log" 2>&1; then
    cat "$DIR/log/basebackup.log" >&2
    die "pg_basebackup of the primary on port $pport failed"
  fi
  write_harness_conf "$(free_port)" # the primary's copy names its port
  do_start "$@"
}

case $cmd in
  start) do_start "$@" ;;
  standby) (($# >= 1)) || usage; do_standby "$@" ;;
  stop) (($# <= 1)) || usage; do_stop "${1:-fast}" ;;
  restart) do_stop fast; do_start ;;
  status)
    if pid=$(postmaster_pid); then echo "postgres: running (pid $pid)"; else echo "postgres: stopped"; exit 1; fi
    ;;
  env) [[ -f $DIR/env ]] || die "no $DIR/env (never started?)"; cat "$DIR/env" ;;
  destroy)
    do_stop immediate
    rm -rf "$DIR"
    ;;
  *) usage ;;
esac
