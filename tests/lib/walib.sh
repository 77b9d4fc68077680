# shellcheck shell=bash
# tests/lib/walib.sh: helpers shared by the WAL archive's integration tests (sourced after tests/lib/tap.sh).
#
#   wal_workdir                 a directory the cluster's OS user owns (repository, catalog, key, spool)
#   wal_conf FILE REPO [LINES]  write a labvault config: repository REPO, the key file and spool of the file's
#                               directory, catalog FILE.db, S3 settings when REPO is s3:// (endpoint
#                               WAL_S3_ENDPOINT, default LV_TEST_S3_ENDPOINT); extra [section] / key lines
#   as_pg CMD...                run CMD as the cluster's OS user (archive_command runs as that user)
#   lvpg CONF ARGS...           labvault --config CONF ARGS as that user
#   wal_wait_archived [SECS]    wait until PostgreSQL has nothing left in archive_status/*.ready
#   wal_done_list               names of the WAL segments PostgreSQL marked .done, one per line
#   wal_fetch_compare CONF NAMES...   fetch each segment and cmp it with the cluster's pg_wal copy;
#                               prints how many differ or failed (0 = all identical)
#   wal_archiving W [SETTING...] a local repository W/repo (config W/local.conf) created (a TAP assertion), and
#                               the test's PostgreSQL started archiving into it with `wal push`, SETTINGs added
#   wal_switch                  pg_switch_wal() after writing something, so the current segment is archived
#   wal_make_segments N         make the cluster complete N segments; prints the completed ones
#   wal_bench SECONDS [EVERY]   pgbench for SECONDS with a WAL switch every EVERY seconds
#   faultproxy_start BIN UPSTREAM_URL CONTROL   start the fault proxy; sets FP_PID, FP_ENDPOINT
#   start_restored DIR [BINDIR] start a restored data directory as the cluster's OS user on a new port and the
#                               socket directory DIR.sock, archiving off (it must not write into the repository
#                               it came from), and wait until recovery ended; sets R_PORT and R_SOCK
#                               (DIR.sock); stopped at exit.
#                               BINDIR: default LV_TEST_PG_BINDIR. Fails (log tail as diag) otherwise.
#   stop_restored DIR [BINDIR]  stop it (fast)
#   run_printed CONF CMD DIR    run a command labvault printed ("labvault restore pg --to DIR ..."), DIR
#                               replaced, as the cluster's OS user with CONF; sets rc, out, err (tap.sh run)

wal_workdir() {
  local d
  d=$(lv_tmpdir "${1:-wal}")
  if ((EUID == 0)) && [[ -n ${LV_TEST_PG_OSUSER:-} ]] && id -u "$LV_TEST_PG_OSUSER" >/dev/null 2>&1; then
    chown "$LV_TEST_PG_OSUSER:" "$d"
  fi
  printf '%s\n' "$d"
}

as_pg() {
  if ((EUID == 0)) && [[ -n ${LV_TEST_PG_OSUSER:-} && $LV_TEST_PG_OSUSER != root ]]; then
    runuser -u "$LV_TEST_PG_OSUSER" -- "$@"
  else
    "$@"
  fi
}

wal_archiving() { # W [SETTING...]
  local w=$1
  shift
  wal_conf "$w/local.conf" "$w/repo"
  ok "repository created" lvpg "$w/local.conf" repo init
  lv_pg_start "archive_mode = on" "archive_command = '${LABVAULT_BIN:?} --config $w/local.conf wal push %p'" \
    "wal_level = replica" "$@"
}

wal_conf() { # FILE REPO [EXTRA_LINE...]
  local f=$1 repo=$2 dir
  shift 2
  dir=$(dirname "$f")
  {
    printf '[global]\nrepo = %s\ncatalog = %s.db\nkey-file = %s/key\nlog-level = warn\n' \
      "$repo" "${f%.conf}" "$dir"
    if [[ $repo == s3://* ]]; then
      printf '[s3]\nendpoint = %s\naccess-key = %s\nsecret-key = %s\nregion = %s\nmax-retries = 1\n' \
        "${WAL_S3_ENDPOINT:-$LV_TEST_S3_ENDPOINT}" "$LV_TEST_S3_ACCESS_KEY" "$LV_TEST_S3_SECRET_KEY" \
        "${LV_TEST_S3_REGION:-us-east-1}"
    fi
    printf '[archive]\nspool-path = %s/spool\ntimeout = 60\n' "$dir"
    printf '%s\n' "$@"
  } >"$f"
  chmod 0644 "$f"
}

lvpg() {
  local conf=$1
  shift
  as_pg "$LABVAULT_BIN" --config "$conf" "$@"
}

# paused_start VAR SECS LINE FILE ARGS...: `labvault ARGS` as the cluster's OS user, in the background, with the
# test-only pause VAR=SECS (common/testpause.h), its output in FILE.out and its log in FILE.err; returns once
# the log shows LINE, when the command is paused and the caller can act. paused_wait then sets rc, out, err.
paused_start() {
  local var=$1 secs=$2 line=$3
  _paused_file=$4
  shift 4
  as_pg env "$var=$secs" "$LABVAULT_BIN" "$@" >"$_paused_file.out" 2>"$_paused_file.err" &
  _paused_pid=$!
  for _ in $(seq 300); do grep -q "$line" "$_paused_file.err" && break; sleep 0.05; done
}
paused_wait() {
  rc=0
  wait "$_paused_pid" || rc=$?
  out=$(cat "$_paused_file.out")
  err=$(cat "$_paused_file.err")
}

wal_wait_archived() {
  local secs=${1:-90} i
  for ((i = 0; i < secs * 10; i++)); do
    if ! compgen -G "$PGDATA/pg_wal/archive_status/*.ready" >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  diag "still waiting to be archived: $(ls "$PGDATA/pg_wal/archive_status" | grep ready | tr '\n' ' ')"
  return 1
}

wal_done_list() {
  (cd "$PGDATA/pg_wal/archive_status" && ls) | sed -n 's/^\([0-9A-F]\{24\}\)\.done$/\1/p' | sort
}

wal_fetch_compare() {
  local conf=$1 bad=0 n out
  shift
  out=$(lv_tmpdir fetch)
  chmod 0777 "$out"
  for n in "$@"; do
    if ! lvpg "$conf" wal fetch "$n" "$out/$n" 2>>"$out/errors" || ! cmp -s "$out/$n" "$PGDATA/pg_wal/$n"; then
      bad=$((bad + 1))
      diag "segment $n: not fetched or not identical"
    fi
    rm -f "$out/$n"
  done
  [[ -s $out/errors ]] && diag "$(head -5 "$out/errors")"
  printf '%s\n' "$bad"
}

wal_switch() {
  psql -qAtX -c "SELECT txid_current()" -c "SELECT pg_switch_wal()" >/dev/null
}

# wal_bench SECONDS [EVERY]: pgbench -c 4 for SECONDS, with a WAL switch every EVERY seconds (default 1.5)
# besides, so that every phase completes segments even on a loaded machine.
wal_bench() {
  local secs=$1 every=${2:-1.5} bench end
  pgbench -n -c 4 -j 2 -T "$secs" >/dev/null 2>&1 &
  bench=$!
  end=$((SECONDS + secs))
  while ((SECONDS < end)) && kill -0 "$bench" 2>/dev/null; do
    sleep "$every"
    wal_switch
  done
  wait "$bench" || diag "pgbench failed"
}

# wal_make_segments N: write and switch until the cluster has completed at least N segments; prints the
# completed segments (those before the current one), oldest first, one per line.
wal_make_segments() {
  local want=$1 i current
  psql -qAtX -c "SET client_min_messages = warning" -c "CREATE TABLE IF NOT EXISTS wal_filler(x int)"
  for ((i = 0; i < want * 3; i++)); do
    current=$(psql -qAtX -c "SELECT pg_walfile_name(pg_current_wal_lsn())")
    if (($(cd "$PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | awk -v c="$current" '("" $0) < ("" c)' | wc -l) >= want)); then
      break
    fi
    psql -qAtX -c "INSERT INTO wal_filler SELECT g FROM generate_series(1, 20000) g" >/dev/null
    wal_switch
  done
  (cd "$PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | awk -v c="$current" '("" $0) < ("" c)' | sort)
}

faultproxy_start() { # BIN UPSTREAM_URL CONTROL_FILE
  local bin=$1 up=${2#http://} ctl=$3 portfile i
  portfile=$(lv_tmpdir proxy)/port
  "$bin" --upstream "$up" --control "$ctl" --max-seconds 600 >"$portfile" 2>/dev/null &
  FP_PID=$!
  lv_at_exit kill "$FP_PID"
  for ((i = 0; i < 100; i++)); do
    [[ -s $portfile ]] && break
    sleep 0.05
  done
  [[ -s $portfile ]] || BAIL_OUT "the fault proxy did not start"
  FP_ENDPOINT=http://127.0.0.1:$(head -n 1 "$portfile")
}

start_restored() {
  local dir=$1 bin=${2:-$LV_TEST_PG_BINDIR} i
  chown -R "$LV_TEST_PG_OSUSER:" "$dir"
  R_PORT=$((20000 + RANDOM % 10000))
  R_SOCK=$dir.sock
  mkdir -p "$dir.sock" && chown "$LV_TEST_PG_OSUSER:" "$dir.sock"
  lv_at_exit as_pg "$bin/pg_ctl" -D "$dir" -m immediate stop
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir.log" -w -t 300 \
    -o "-p $R_PORT -k $dir.sock -c archive_mode=off -c listen_addresses=''" start >/dev/null 2>&1 ||
    { diag "$(tail -n 20 "$dir.log")"; return 1; }
  for ((i = 0; i < 600; i++)); do
    [[ $(psql -h "$dir.sock" -p "$R_PORT" -qAtX -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && return 0
    sleep 0.1
  done
  diag "$(tail -n 20 "$dir.log")"
  return 1
}

stop_restored() { as_pg "${2:-$LV_TEST_PG_BINDIR}/pg_ctl" -D "$1" -m fast stop >/dev/null 2>&1 || true; }

run_printed() {
  local conf=$1 cmd=$2 dir=$3 words
  read -ra words <<<"${cmd//DIR/$dir}"
  if [[ ${words[0]:-} != labvault ]]; then
    rc=2 out='' err="not a labvault command: $cmd"
    return 0
  fi
  run lvpg "$conf" "${words[@]:1}"
}

# drill_socks_mark / drill_socks_leaked: the socket directory a drill falls back to when its scratch path is
# too long for a socket (/tmp/labvault-drill-*) is machine-wide: other tests' drills, running in parallel,
# may have one meanwhile, in use by their PostgreSQL. A leak is one made since drill_socks_mark that no
# PostgreSQL uses; drill_socks_leaked prints each.
drill_socks_mark() { _drill_socks_before=$(compgen -G "/tmp/labvault-drill-*" || true); }
drill_socks_leaked() {
  local d
  for d in /tmp/labvault-drill-*; do
    [[ -e $d ]] || continue
    grep -qxF -- "$d" <<<"${_drill_socks_before:-}" && continue
    pgrep -f -- "-k $d" >/dev/null && continue
    printf '%s\n' "$d"
  done
}
