# shellcheck shell=bash
# tests/lib/tap.sh: a tiny TAP (Test Anything Protocol) library for bash integration tests, plus helpers for
# the services the harness starts. Register such tests in meson with `protocol : 'tap', env : test_env`.
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "$0")/../lib/tap.sh"        # adjust the path to tests/lib
#   lv_require_services s3 pg                # skip (or fail in CI) without the harness' services
#   plan 3                                   # or: nothing here and done_testing at the end
#   d=$(lv_tmpdir)
#   ok "labvault runs" "$LABVAULT_BIN" --version
#   is "$(cat "$d/x")" "expected" "file content"
#   like "$out" '^backup [0-9a-f]+$' "prints the backup id"
#   done_testing
#
# TAP functions (each prints one TAP line; a failure prints what was compared on stderr):
#   plan N | plan skip_all REASON      the plan (skip_all prints "1..0 # SKIP REASON" and exits 0)
#   ok DESC CMD [ARG...]               passes when CMD exits 0 (CMD's stdout goes to stderr, so it can
#                                      never be mistaken for TAP). For a shell condition: ok DESC test ...
#   nok DESC CMD [ARG...]              passes when CMD exits non-zero
#   is GOT EXPECTED DESC / isnt GOT UNEXPECTED DESC     string (in)equality
#   like GOT ERE DESC / unlike GOT ERE DESC             bash =~ extended regular expression match
#   pass DESC / fail DESC              a result decided by the caller
#   skip REASON [COUNT]                COUNT (default 1) skipped tests
#   diag MSG...                        "# MSG" on stderr; note MSG... prints it on stdout
#   done_testing [N]                   prints the plan when none was given (after the tests)
#   BAIL_OUT REASON                    stop the whole test as an error
# Exit status: 0 when every test passed and the plan matches, 1 otherwise (meson also reads the TAP lines).
# Note: with meson's TAP protocol a non-zero exit status, 77 included, is an ERROR; a skip is the TAP plan
# "1..0 # SKIP" with exit 0, which is what plan skip_all and lv_require_services do.
#
# Helpers:
#   lv_at_exit CMD [ARG...]    run CMD when the test exits (last registered runs first)
#   lv_clean_env               unset the LABVAULT_* variables a caller's shell may carry (config, repository,
#                              catalog, key, passphrase), so a test uses only the settings it writes
#   run CMD [ARG...]           run CMD without stopping the test on failure: $rc (exit status), $out
#                              (stdout) and $err (stderr)
#   out_field KEY              the top-level field KEY of the JSON object in $out
#   lv_tmpdir [NAME]           print a new directory (mode 0755) that is removed when the test exits; all of
#                              them live under one per-test root. LV_KEEP_TMP=1 keeps it (and prints where).
#   lv_require_services [s3] [pg]  (default both) without the env vars below: a failure when CI or
#                              LV_TEST_REQUIRE_SERVICES is set (tests/run sets it), otherwise a skip.
#   lv_s3_bucket NAME          create a new bucket named NAME-<random> on the S3 server; prints its name
#   lv_s3_curl CURL_ARG...     curl with the S3 server's SigV4 signature (-sS, no -f); URLs are yours to
#                              give: "$LV_TEST_S3_ENDPOINT/BUCKET/KEY"
#   lv_s3_put BUCKET KEY FILE / lv_s3_get BUCKET KEY OUTFILE   fail on any HTTP status >= 300
#   lv_s3_keys BUCKET [PREFIX] print the keys under PREFIX, one per line (first 1000)
#   lv_urlencode STRING        percent-encode for a signed query string (libcurl signs it as written: give
#                              parameters sorted and encoded)
#   lv_s3_start                start a private S3 server (for tests that stop it): exports LV_TEST_S3_* for
#                              it and sets LV_S3_DIR (for "$LV_TEST_HARNESS/s3.sh" stop-rgw "$LV_S3_DIR");
#                              destroyed at exit. Call it in the test's shell, not in $(...).
#   lv_pg_use_shared           export PGHOST PGPORT PGUSER PGDATABASE for the shared cluster (read-only use!)
#   lv_pg_start [CONF_LINE...] start a private PostgreSQL cluster (for tests that change one): exports
#                              PGHOST PGPORT PGUSER PGDATABASE PGDATA, sets LV_PG_DIR, destroyed at exit.
#                              Call it in the test's shell, not in $(...).
#   lv_pg_standby_start [CONF_LINE...]  start a streaming standby of the private cluster (after lv_pg_start): sets
#                              LV_PG_STANDBY_DIR (its env file: $LV_PG_STANDBY_DIR/env), exports nothing;
#                              destroyed at exit. Call it in the test's shell, not in $(...).
#   lv_pg_standby_caught_up    wait (up to 30 s) until that standby has replayed everything the primary wrote
#                              so far; 1 if it has not
#   lv_docker_start            start a private Docker engine (tests/harness/docker.sh: dockerd with its own data
#                              root and socket, the busybox image in LV_TEST_DOCKER_IMAGE; containers run with
#                              --network none): exports DOCKER_HOST and LV_TEST_DOCKER_IMAGE, sets
#                              LV_DOCKER_DIR; destroyed at exit, containers and all. Not root: a skip (dockerd
#                              needs root). Root without docker.io or busybox-static: a skip, or a failure
#                              when CI or LV_TEST_REQUIRE_SERVICES is set (tests/run installs them). Call it
#                              in the test's shell, not in $(...).
#   lv_pg_share DIR            let the cluster's OS user (LV_TEST_PG_OSUSER) read and write in DIR (for
#                              archive_command/restore_command run by postgres); ACLs, else chmod 0777
#
# Environment from tests/harness/with-services.sh:
#   LV_TEST_S3_ENDPOINT LV_TEST_S3_ACCESS_KEY LV_TEST_S3_SECRET_KEY LV_TEST_S3_REGION
#   LV_TEST_PG_HOST LV_TEST_PG_PORT LV_TEST_PG_USER LV_TEST_PG_DATABASE LV_TEST_PG_BINDIR LV_TEST_PG_OSUSER
#   LV_TEST_HARNESS (the tests/harness directory)

if [[ -n ${_LV_TAP_LOADED:-} ]]; then
  return 0
fi
_LV_TAP_LOADED=1

_tap_n=0
_tap_failed=0
_tap_plan=
_tap_done=0
_tap_cleanups=()

# ------------------------------------------------------------------------------------------------ TAP
plan() {
  if [[ ${1:-} == skip_all ]]; then
    printf '1..0 # SKIP %s\n' "${2:-}"
    _tap_done=1
    _tap_plan=0
    exit 0
  fi
  [[ ${1:-} =~ ^[0-9]+$ ]] || BAIL_OUT "plan: not a number: ${1:-}"
  [[ -z $_tap_plan ]] || BAIL_OUT "plan given twice"
  _tap_plan=$1
  printf '1..%s\n' "$1"
}

_tap_result() { # STATUS(0=pass) DESC
  _tap_n=$((_tap_n + 1))
  local desc=${2//#/\\#}
  desc=${desc//$'\n'/ }
  if [[ $1 == 0 ]]; then
    printf 'ok %d - %s\n' "$_tap_n" "$desc"
  else
    _tap_failed=$((_tap_failed + 1))
    printf 'not ok %d - %s\n' "$_tap_n" "$desc"
    local line _sub file
    diag "  Failed test '$2'"
    if read -r line _sub file < <(caller 1); then
      diag "  at line $line of $file"
    fi
  fi
  return 0
}

pass() { _tap_result 0 "${1:-}"; }
fail() { _tap_result 1 "${1:-}"; }

ok() {
  local desc=${1:-}
  shift || true
  (($# > 0)) || BAIL_OUT "ok '$desc': no command given"
  local rc=0
  "$@" >&2 || rc=$?
  _tap_result "$rc" "$desc"
  ((rc == 0)) || diag "  command exited with status $rc: $*"
  return 0
}

nok() {
  local desc=${1:-}
  shift || true
  (($# > 0)) || BAIL_OUT "nok '$desc': no command given"
  local rc=0
  "$@" >&2 || rc=$?
  if ((rc != 0)); then _tap_result 0 "$desc"; else
    _tap_result 1 "$desc"
    diag "  command succeeded but should have failed: $*"
  fi
  return 0
}

is() {
  if [[ $1 == "$2" ]]; then _tap_result 0 "${3:-}"; else
    _tap_result 1 "${3:-}"
    diag "         got: '$1'"
    diag "    expected: '$2'"
  fi
}

isnt() {
  if [[ $1 != "$2" ]]; then _tap_result 0 "${3:-}"; else
    _tap_result 1 "${3:-}"
    diag "         got: '$1'"
    diag "    expected: anything else"
  fi
}

like() {
  if [[ $1 =~ $2 ]]; then _tap_result 0 "${3:-}"; else
    _tap_result 1 "${3:-}"
    diag "                  '$1'"
    diag "    doesn't match '$2'"
  fi
}

unlike() {
  if ! [[ $1 =~ $2 ]]; then _tap_result 0 "${3:-}"; else
    _tap_result 1 "${3:-}"
    diag "                  '$1'"
    diag "          matches '$2'"
  fi
}

skip() {
  local reason=${1:-} count=${2:-1} i
  for ((i = 0; i < count; i++)); do
    _tap_n=$((_tap_n + 1))
    printf 'ok %d # SKIP %s\n' "$_tap_n" "$reason"
  done
}

diag() {
  local line
  while IFS= read -r line; do printf '# %s\n' "$line" >&2; done <<<"$*"
}

note() {
  local line
  while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$*"
}

done_testing() {
  if [[ -n ${1:-} && $1 != "$_tap_n" ]]; then
    diag "done_testing: expected $1 tests, ran $_tap_n"
    _tap_failed=$((_tap_failed + 1))
  fi
  if [[ -z $_tap_plan ]]; then
    printf '1..%d\n' "$_tap_n"
    _tap_plan=$_tap_n
  fi
  _tap_done=1
}

BAIL_OUT() {
  printf 'Bail out! %s\n' "${1:-}"
  _tap_done=1
  _tap_failed=$((_tap_failed + 1))
  exit 1
}

# ------------------------------------------------------------------------------------------------ exit
lv_at_exit() {
  local cmd
  printf -v cmd '%q ' "$@"
  _tap_cleanups+=("$cmd")
}

_tap_on_exit() {
  local rc=$? i script=''
  set +e
  for ((i = ${#_tap_cleanups[@]} - 1; i >= 0; i--)); do
    script+="${_tap_cleanups[i]}"$'\n'
  done
  if [[ -n ${_LV_TAP_TMPROOT:-} && -d $_LV_TAP_TMPROOT ]]; then
    if [[ -n ${LV_KEEP_TMP:-} ]]; then
      diag "kept temporary files in $_LV_TAP_TMPROOT"
    else
      script+="rm -rf $(printf '%q' "$_LV_TAP_TMPROOT")"$'\n'
    fi
  fi
  if [[ -n $script ]]; then
    if [[ -n $_tap_signalled ]] && command -v setsid >/dev/null; then
      # Killed (meson's timeout or an interrupt): meson SIGKILLs the test's whole process group 0.5 s after
      # its SIGTERM, so the cleanup (stopping private servers) runs detached, in a session of its own.
      setsid -f bash -c "$script" </dev/null >/dev/null 2>&1
    else
      eval "$script" >&2
    fi
  fi
  if ((rc != 0)); then
    diag "test script exited with status $rc after $_tap_n tests"
    exit "$rc"
  fi
  if ((!_tap_done)); then
    if [[ -n $_tap_plan ]]; then
      _tap_done=1
    else
      diag "test script ended without a plan (call done_testing)"
      exit 1
    fi
  fi
  if [[ -n $_tap_plan && $_tap_plan != "$_tap_n" ]]; then
    diag "planned $_tap_plan tests but ran $_tap_n"
    exit 1
  fi
  ((_tap_failed == 0)) || exit 1
  exit 0
}
_tap_signalled=
trap _tap_on_exit EXIT
trap '_tap_signalled=INT; exit 130' INT
trap '_tap_signalled=TERM; exit 143' TERM

# ------------------------------------------------------------------------------------------------ commands
# lv_flip_byte FILE OFFSET: invert every bit of the byte at OFFSET, so the file surely changes (writing a
# fixed byte leaves it as it was once in 256 runs when that byte was already there).
lv_flip_byte() {
  python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
}

lv_clean_env() {
  unset LABVAULT_CONFIG LABVAULT_REPO LABVAULT_CATALOG LABVAULT_KEY_FILE LABVAULT_PASSPHRASE 2>/dev/null || true
}

run() {
  local e
  e=$(mktemp "${TMPDIR:-/tmp}/lv-run.XXXXXX")
  rc=0
  out=$("$@" 2>"$e") || rc=$?
  err=$(cat "$e")
  rm -f "$e"
}

out_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$out"; }

# ------------------------------------------------------------------------------------------------ temp
_LV_TAP_TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/lv-test.XXXXXX")
chmod 0755 "$_LV_TAP_TMPROOT"

lv_tmpdir() {
  local d
  d=$(mktemp -d "$_LV_TAP_TMPROOT/${1:-tmp}.XXXXXX")
  chmod 0755 "$d"
  printf '%s\n' "$d"
}

# ------------------------------------------------------------------------------------------------ services
lv_harness_dir() {
  if [[ -n ${LV_TEST_HARNESS:-} ]]; then
    printf '%s\n' "$LV_TEST_HARNESS"
  else
    (cd "$(dirname "${BASH_SOURCE[0]}")/../harness" && pwd)
  fi
}

lv_require_services() {
  local want=("$@") missing=() v s
  ((${#want[@]})) || want=(s3 pg)
  for s in "${want[@]}"; do
    case $s in
      s3) for v in LV_TEST_S3_ENDPOINT LV_TEST_S3_ACCESS_KEY LV_TEST_S3_SECRET_KEY LV_TEST_S3_REGION; do
            [[ -n ${!v:-} ]] || missing+=("$v")
          done ;;
      pg) for v in LV_TEST_PG_HOST LV_TEST_PG_PORT LV_TEST_PG_USER LV_TEST_PG_BINDIR; do
            [[ -n ${!v:-} ]] || missing+=("$v")
          done ;;
      *) BAIL_OUT "lv_require_services: unknown service '$s' (s3 or pg)" ;;
    esac
  done
  ((${#missing[@]} == 0)) && return 0
  local why="needs the test services (run it via tests/run or tests/harness/with-services.sh); unset: ${missing[*]}"
  if [[ -n ${CI:-} || -n ${LV_TEST_REQUIRE_SERVICES:-} ]]; then
    BAIL_OUT "$why"
  fi
  plan skip_all "$why"
}

# lv_s3_curl CURL_ARGS...: a SigV4-signed curl. libcurl does not send x-amz-content-sha256 itself, and
# radosgw wants it.
lv_s3_curl() {
  curl -sS --aws-sigv4 "aws:amz:${LV_TEST_S3_REGION:-us-east-1}:s3" \
    --user "$LV_TEST_S3_ACCESS_KEY:$LV_TEST_S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

_lv_s3_check() { # CODE WHAT
  if [[ ! $1 =~ ^2[0-9][0-9]$ ]]; then
    printf 'lv_s3: %s: HTTP %s\n' "$2" "$1" >&2
    return 1
  fi
}

lv_s3_bucket() {
  local name=${1:-test} rnd code
  name=$(printf '%s' "$name" | tr 'A-Z_.' 'a-z--' | tr -cd 'a-z0-9-')
  name=${name:0:40}
  name=${name#-}
  [[ -n $name ]] || name="test"
  rnd=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  name="$name-$rnd"
  code=$(lv_s3_curl -o /dev/null -w '%{http_code}' -X PUT "$LV_TEST_S3_ENDPOINT/$name") || return 1
  _lv_s3_check "$code" "create bucket $name" || return 1
  printf '%s\n' "$name"
}

lv_s3_put() { # BUCKET KEY FILE
  local code
  code=$(lv_s3_curl -o /dev/null -w '%{http_code}' -T "$3" "$LV_TEST_S3_ENDPOINT/$1/$2") || return 1
  _lv_s3_check "$code" "PUT $1/$2"
}

lv_s3_get() { # BUCKET KEY OUTFILE
  local code
  code=$(lv_s3_curl -o "$3" -w '%{http_code}' "$LV_TEST_S3_ENDPOINT/$1/$2") || return 1
  _lv_s3_check "$code" "GET $1/$2"
}

# lv_urlencode STRING: percent-encode all but A-Z a-z 0-9 - . _ ~ (SigV4's canonical query encoding: libcurl
# signs the query string as written, so it must already be encoded, parameters in sorted order).
lv_urlencode() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s\n' "$out"
}

lv_s3_keys() { # BUCKET [PREFIX]
  local out
  out=$(lv_s3_curl -f "$LV_TEST_S3_ENDPOINT/$1?list-type=2&prefix=$(lv_urlencode "${2:-}")") || return 1
  grep -o '<Key>[^<]*</Key>' <<<"$out" | sed 's/<Key>\(.*\)<\/Key>/\1/' || true
}

lv_s3_start() {
  local h
  h=$(lv_harness_dir)
  LV_S3_DIR=$(lv_tmpdir s3)
  lv_at_exit "$h/s3.sh" destroy "$LV_S3_DIR"
  "$h/s3.sh" start "$LV_S3_DIR" >/dev/null || BAIL_OUT "could not start a private S3 server"
  set -a
  # shellcheck disable=SC1091
  . "$LV_S3_DIR/env"
  set +a
}

lv_pg_use_shared() {
  export PGHOST=$LV_TEST_PG_HOST PGPORT=$LV_TEST_PG_PORT PGUSER=$LV_TEST_PG_USER
  export PGDATABASE=${LV_TEST_PG_DATABASE:-postgres}
  unset PGDATA
}

lv_pg_start() {
  local h
  h=$(lv_harness_dir)
  LV_PG_DIR=$(lv_tmpdir pg)
  lv_at_exit "$h/pg.sh" destroy "$LV_PG_DIR"
  "$h/pg.sh" start "$LV_PG_DIR" "$@" >/dev/null || BAIL_OUT "could not start a private PostgreSQL cluster"
  set -a
  # shellcheck disable=SC1091
  . "$LV_PG_DIR/env"
  set +a
}

lv_pg_standby_start() {
  local h
  h=$(lv_harness_dir)
  LV_PG_STANDBY_DIR=$(lv_tmpdir pg-standby)
  lv_at_exit "$h/pg.sh" destroy "$LV_PG_STANDBY_DIR"
  "$h/pg.sh" standby "$LV_PG_STANDBY_DIR" "$LV_PG_DIR" "$@" >/dev/null ||
    BAIL_OUT "could not start a standby of $LV_PG_DIR"
}

lv_pg_standby_caught_up() {
  local lsn port i
  port=$(sed -n 's/^PGPORT=//p' "$LV_PG_STANDBY_DIR/env")
  lsn=$(psql -qAtX -c "SELECT pg_current_wal_lsn()")
  for ((i = 0; i < 300; i++)); do
    [[ $(psql -p "$port" -qAtX -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'") == t ]] && return 0
    sleep 0.1
  done
  return 1
}

lv_docker_start() {
  local h why=
  h=$(lv_harness_dir)
  if ((EUID != 0)); then
    why="needs root to run dockerd"
  elif ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || [[ ! -x /bin/busybox ]]; then
    why="needs dockerd, the docker CLI and /bin/busybox (packages docker.io and busybox-static)"
  fi
  if [[ -n $why ]]; then
    # Root is not something tests/run can install; missing packages are.
    if ((EUID == 0)) && [[ -n ${CI:-} || -n ${LV_TEST_REQUIRE_SERVICES:-} ]]; then
      BAIL_OUT "$why"
    fi
    plan skip_all "$why"
  fi
  LV_DOCKER_DIR=$(lv_tmpdir docker)
  lv_at_exit "$h/docker.sh" destroy "$LV_DOCKER_DIR"
  "$h/docker.sh" start "$LV_DOCKER_DIR" >/dev/null || BAIL_OUT "could not start a Docker engine"
  set -a
  # shellcheck disable=SC1091
  . "$LV_DOCKER_DIR/env"
  set +a
}

lv_pg_share() {
  local user=${LV_TEST_PG_OSUSER:-labvault-test}
  if ((EUID != 0)) || [[ $user == "$(id -un)" ]]; then
    return 0
  fi
  if command -v setfacl >/dev/null && setfacl -R -m "u:$user:rwX" "$1" && setfacl -d -R -m "u:$user:rwX" "$1"
  then
    return 0
  fi
  chmod -R a+rwX "$1"
}
