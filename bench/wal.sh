#!/usr/bin/env bash
# WAL archiving: labvault `wal push` against `pgbackrest archive-push`, same machine, same segments, same run.
#
#   1. A private PostgreSQL 15 cluster (tests/harness/pg.sh) with archive_mode = on and an empty
#      archive_command, so completed segments wait as archive_status/<name>.ready and nothing archives them.
#      pgbench -i -s 20, a checkpoint, then `pgbench -c 8 -j 2` for PGBENCH_SECONDS: its WAL rate here
#      (MiB/s, segments/s; full-page writes after the checkpoint included, as in steady state) is
#      the yardstick for the async target (keep up with 3x that rate). Then a table of random bytea
#      (pgcrypto) for incompressible WAL. Two data sets of completed segments: "pgbench" and "random".
#   2. For each data set, REPS repetitions, the tool order rotated each time, 6 s pause before every timed
#      run (docs/performance.md, Method), a fresh repository each run: call the archive command
#      once per segment, oldest first, serially, from the data directory, as the cluster's OS user: exactly
#      what PostgreSQL's archiver does. Per call latency (median, p95), segments/s over the whole set, and
#      CPU seconds of the whole machine during the run (async workers are detached, so per-process
#      accounting would miss them).
#        lv-sync      labvault wal push              (local repository, AES-256-GCM, zstd level 3)
#        lv-async     labvault wal push --async      (archive-push-workers = WORKERS)
#        br-sync      pgbackrest archive-push        (local repository, aes-256-cbc, compress-type=zst)
#        br-async     pgbackrest archive-push, archive-async=y, process-max = WORKERS
#        lv-s3-sync, lv-s3-async   the same against the S3 server, when LV_TEST_S3_* is set (run under
#                     tests/harness/with-services.sh). pgBackRest speaks only HTTPS to S3 and the test server
#                     is HTTP, so it has no S3 column.
#   3. Live: the cluster archives with `labvault wal push --async` while pgbench -c 8 runs for
#      LIVE_SECONDS; the largest backlog of .ready files seen, and the backlog at the end.
#
# Usage: bench/wal.sh [BUILD_DIR]   (default: build; needs BUILD_DIR/cli/labvault and pgbackrest)
# Knobs: REPS (3), SEGMENTS (48, per data set), WORKERS (4), PGBENCH_SECONDS (30), LIVE_SECONDS (30),
#        BENCH_DIR (work area; default $TMPDIR or /tmp), BENCH_SKIP_LIVE=1.
# Output: a table of medians over the repetitions, and the raw per-run lines (# run ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(cd "${1:-$root/build}" && pwd -P)
lv=$build/cli/labvault
REPS=${REPS:-3}
SEGMENTS=${SEGMENTS:-48}
WORKERS=${WORKERS:-4}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-30}
LIVE_SECONDS=${LIVE_SECONDS:-30}
[[ -x $lv ]] || { echo "wal.sh: $lv is not built" >&2; exit 2; }
command -v pgbackrest >/dev/null || { echo "wal.sh: pgbackrest is not installed (apt-get install pgbackrest)" >&2; exit 2; }
pgsh=$root/tests/harness/pg.sh

W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/lv-walbench.XXXXXX")
chmod 0755 "$W"
cleanup() {
  "$pgsh" destroy "$W/pg" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say() { printf '# %s\n' "$*" >&2; }

dev=$(df --output=source "$W" | tail -n 1)
fstype=$(df --output=fstype "$W" | tail -n 1)
journal=n/a
if [[ $fstype == ext4 ]] && command -v tune2fs >/dev/null; then
  if tune2fs -l "$dev" 2>/dev/null | grep -q has_journal; then journal=yes; else journal=no; fi
fi
say "work area $W on $dev ($fstype, journal: $journal); $(nproc) CPUs; $SEGMENTS segments per set, $REPS runs"

# ------------------------------------------------------------------------------------------ cluster
"$pgsh" start "$W/pg" "archive_mode = on" "archive_command = ''" "wal_level = replica" \
  "max_wal_size = 1GB" "shared_buffers = 256MB" >/dev/null
set -a
# shellcheck disable=SC1091
. "$W/pg/env"
set +a
OSUSER=$LV_TEST_PG_OSUSER
as_pg() { if ((EUID == 0)) && [[ $OSUSER != "$(id -un)" ]]; then runuser -u "$OSUSER" -- "$@"; else "$@"; fi; }
mkdir -p "$W/tools"
chown "$OSUSER:" "$W/tools" 2>/dev/null || true

ready_segments() { (cd "$PGDATA/pg_wal/archive_status" && ls) | sed -n 's/^\([0-9A-F]\{24\}\)\.ready$/\1/p' | sort; }
lsn() { psql -qAtX -c "SELECT pg_current_wal_lsn()"; }
mib_between() { psql -qAtX -c "SELECT round(pg_wal_lsn_diff('$2', '$1') / 1048576.0, 1)"; }

say "data set 1: pgbench -i -s 20, then pgbench -c 8 -j 2 -T $PGBENCH_SECONDS"
pgbench -i -s 20 -q >/dev/null 2>&1
# A checkpoint first, as in steady state: the pages each checkpoint cycle touches first are logged whole
# (full-page writes), which is most of pgbench's WAL.
psql -qAtX -c "CHECKPOINT" >/dev/null
a=$(lsn)
t0=$EPOCHREALTIME
pgbench -n -c 8 -j 2 -T "$PGBENCH_SECONDS" >"$W/pgbench.out" 2>&1
t1=$EPOCHREALTIME
b=$(lsn)
wal_mib=$(mib_between "$a" "$b")
pgbench_rate=$(awk -v m="$wal_mib" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", m / (b - a) }')
pgbench_segs=$(awk -v r="$pgbench_rate" 'BEGIN { printf "%.3f", r / 16 }')
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out" | head -n 1)
say "pgbench -c 8: $tps tps, $wal_mib MiB of WAL in $PGBENCH_SECONDS s = $pgbench_rate MiB/s = $pgbench_segs segments/s"
while (($(ready_segments | wc -l) < SEGMENTS)); do
  pgbench -n -c 8 -j 2 -T 5 >/dev/null 2>&1
done
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
mapfile -t set_pgbench < <(ready_segments | head -n "$SEGMENTS")

say "data set 2: random bytea (incompressible WAL)"
psql -qAtX -c "CREATE EXTENSION IF NOT EXISTS pgcrypto" -c "CREATE TABLE rnd(b bytea)" \
  -c "ALTER TABLE rnd ALTER b SET STORAGE EXTERNAL" >/dev/null
have=$(ready_segments | wc -l)
while (($(ready_segments | wc -l) < have + SEGMENTS)); do
  psql -qAtX -c "INSERT INTO rnd SELECT gen_random_bytes(1024) FROM generate_series(1, 32768)" >/dev/null
done
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
mapfile -t set_random < <(ready_segments | tail -n +"$((have + 1))" | head -n "$SEGMENTS")
say "segments: pgbench ${set_pgbench[0]}..${set_pgbench[-1]}, random ${set_random[0]}..${set_random[-1]}"
# A quiet machine for the timed runs: no autovacuum or checkpoint of the data just written may run
# beside them, so vacuum and checkpoint now and stop the cluster (neither tool needs it to push).
psql -qAtX -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

# ------------------------------------------------------------------------------------------ tools
key=$W/tools/key
head -c 64 /dev/urandom >"$key"
chmod 0600 "$key"
chown "$OSUSER:" "$key" 2>/dev/null || true

lv_conf() { # NAME REPO: a fresh labvault repository
  local d=$W/tools/$1
  rm -rf "$d"
  mkdir -p "$d"
  {
    printf '[global]\nrepo = %s\ncatalog = %s/catalog.db\nkey-file = %s\nlog-level = warn\n' "$2" "$d" "$key"
    if [[ $2 == s3://* ]]; then
      printf '[s3]\nendpoint = %s\naccess-key = %s\nsecret-key = %s\nregion = %s\n' "$LV_TEST_S3_ENDPOINT" \
        "$LV_TEST_S3_ACCESS_KEY" "$LV_TEST_S3_SECRET_KEY" "${LV_TEST_S3_REGION:-us-east-1}"
    fi
    printf '[archive]\nspool-path = %s/spool\npush-workers = %s\n' "$d" "$WORKERS"
  } >"$d/lv.conf"
  chown -R "$OSUSER:" "$d" 2>/dev/null || true
  as_pg "$lv" --config "$d/lv.conf" repo init >/dev/null 2>&1
  printf '%s\n' "$d/lv.conf"
}

br_conf() { # NAME ASYNC(y|n) STAGE: a fresh pgBackRest repository (a copy of the template) for STAGE
  local d=$W/tools/$1
  rm -rf "$d"
  mkdir -p "$d"
  cp -a "$W/tools/br-template/repo" "$d/repo"
  br_conf_file "$d" "$2" "$3" >"$d/pgbackrest.conf"
  chown -R "$OSUSER:" "$d" 2>/dev/null || true
  printf '%s\n' "$d/pgbackrest.conf"
}

# stanza-create connects to the cluster, which is stopped during the timed runs: create the stanza once
# now into a template repository, which each run copies (a new repository holds nothing else).
br_template() {
  local d=$W/tools/br-template
  mkdir -p "$d"
  br_conf_file "$d" n "$PGDATA" >"$d/pgbackrest.conf"
  chown -R "$OSUSER:" "$d" 2>/dev/null || true
  as_pg pgbackrest --config="$d/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
}

br_conf_file() { # DIR ASYNC PG1_PATH
  local d=$1
  cat <<EOF
[global]
repo1-path=$d/repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=wal-bench-passphrase-0123456789
compress-type=zst
archive-async=$2
process-max=$WORKERS
spool-path=$d/spool
lock-path=$d/lock
log-path=$d/log
log-level-console=warn
log-level-file=off
[bench]
pg1-path=$3
pg1-port=$PGPORT
pg1-user=postgres
EOF
  [[ -n ${LV_TEST_PG_SOCKDIR:-} ]] && printf 'pg1-socket-path=%s\n' "$LV_TEST_PG_SOCKDIR"
  return 0
}

# stage SET SEGMENTS...: a stand-in data directory holding only these segments, each with a .ready file,
# plus PG_VERSION and global/pg_control (pgBackRest reads them): the async workers of both tools take
# their work from archive_status, so each run sees exactly its own set and nothing is left behind.
stage() {
  local d=$W/stage/$1 s
  shift
  rm -rf "$d"
  mkdir -p "$d/global" "$d/pg_wal/archive_status"
  cp "$PGDATA/PG_VERSION" "$d/"
  cp "$PGDATA/global/pg_control" "$d/global/"
  for s in "$@"; do
    ln "$PGDATA/pg_wal/$s" "$d/pg_wal/$s" 2>/dev/null || cp "$PGDATA/pg_wal/$s" "$d/pg_wal/$s"
    : >"$d/pg_wal/archive_status/$s.ready"
  done
  chown -R "$OSUSER:" "$d" 2>/dev/null || true
  chmod 0700 "$d"
  printf '%s\n' "$d"
}

# The command PostgreSQL would run for tool $1 (run id $2, stage $3), %p appended by the caller.
archive_cmd() {
  case $1 in
    lv-sync) printf '%q --config %q wal push' "$lv" "$(lv_conf "$1" "$W/tools/$1/repo")" ;;
    lv-async) printf '%q --config %q wal push --async' "$lv" "$(lv_conf "$1" "$W/tools/$1/repo")" ;;
    lv-s3-sync) printf '%q --config %q wal push' "$lv" "$(lv_conf "$1" "s3://lv-walbench-$$-$2/r")" ;;
    lv-s3-async) printf '%q --config %q wal push --async' "$lv" "$(lv_conf "$1" "s3://lv-walbench-$$-$2/r")" ;;
    br-sync) printf 'pgbackrest --config=%q --stanza=bench archive-push' "$(br_conf "$1" n "$3")" ;;
    br-async) printf 'pgbackrest --config=%q --stanza=bench archive-push' "$(br_conf "$1" y "$3")" ;;
  esac
}

# pct P: the P-th percentile (nearest rank) of the sorted numbers on stdin.
pct() { awk -v p="$1" '{ v[NR] = $1 } END { r = int(NR * p / 100 + 0.999); if (r < 1) r = 1; print v[r] }'; }

cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# One timed run: the archive command once per segment, in order, from the data directory, as the
# cluster's user. Prints "run TOOL SET seconds=.. seg_s=.. p50_ms=.. p95_ms=.. cpu_s=.. failed=N".
run_one() { # TOOL SETNAME SEGMENTS...
  local tool=$1 set=$2 cmd c0 c1 out dir id=$RANDOM
  shift 2
  dir=$(stage "$tool-$set" "$@")
  cmd=$(archive_cmd "$tool" "$set-$id" "$dir")
  sync
  sleep 6
  c0=$(cpu_ticks)
  out=$(cd "$dir" && as_pg bash -c '
    cmd=$1; shift; fail=0; start=$EPOCHREALTIME
    for s in "$@"; do
      t=$EPOCHREALTIME
      eval "$cmd pg_wal/$s" >/dev/null 2>>"'"$W"'/errors" || fail=$((fail + 1))
      echo "lat $(awk -v a="$t" -v b="$EPOCHREALTIME" "BEGIN { printf \"%.1f\", (b - a) * 1000 }")"
    done
    echo "total $(awk -v a="$start" -v b="$EPOCHREALTIME" "BEGIN { printf \"%.3f\", b - a }") $fail"
  ' _ "$cmd" "$@")
  c1=$(cpu_ticks)
  local total failed p50 p95
  read -r _ total failed < <(grep '^total' <<<"$out")
  p50=$(grep '^lat' <<<"$out" | awk '{ print $2 }' | sort -n | pct 50)
  p95=$(grep '^lat' <<<"$out" | awk '{ print $2 }' | sort -n | pct 95)
  awk -v tool="$tool" -v set="$set" -v n="$#" -v secs="$total" -v failed="$failed" -v p50="$p50" \
    -v p95="$p95" -v cpu="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      printf "run %s %s seconds=%.2f seg_s=%.2f p50_ms=%.1f p95_ms=%.1f cpu_s=%.2f failed=%d\n",
        tool, set, secs, n / secs, p50, p95, cpu / hz, failed }'
}

br_template
"$pgsh" stop "$W/pg" >/dev/null 2>&1

tools=(lv-sync lv-async br-sync br-async)
if [[ -n ${LV_TEST_S3_ENDPOINT:-} ]]; then
  tools+=(lv-s3-sync lv-s3-async)
fi
: >"$W/errors"
chown "$OSUSER:" "$W/errors" 2>/dev/null || true
: >"$W/runs"
for ((r = 0; r < REPS; r++)); do
  n=${#tools[@]}
  for ((i = 0; i < n; i++)); do
    tool=${tools[(i + r) % n]}
    for set in pgbench random; do
      if [[ $set == pgbench ]]; then segs=("${set_pgbench[@]}"); else segs=("${set_random[@]}"); fi
      line=$(run_one "$tool" "$set" "${segs[@]}")
      say "$line"
      printf '%s\n' "$line" >>"$W/runs"
    done
  done
done
if [[ -s $W/errors ]]; then
  say "archive command errors (first lines):"
  head -n 5 "$W/errors" >&2
fi

# ------------------------------------------------------------------------------------------ live
live=""
if [[ -z ${BENCH_SKIP_LIVE:-} ]]; then
  "$pgsh" start "$W/pg" >/dev/null 2>&1
  conf=$(lv_conf live "$W/tools/live/repo")
  psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $conf wal push --async %p'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  # Let the archiver clear the backlog of the data sets first.
  for ((i = 0; i < 600 && $(ls "$PGDATA/pg_wal/archive_status" | grep -c ready) > 0; i++)); do sleep 0.5; done
  a=$(lsn)
  pgbench -n -c 8 -j 2 -T "$LIVE_SECONDS" >"$W/live.out" 2>&1 &
  bench=$!
  maxq=0
  while kill -0 "$bench" 2>/dev/null; do
    q=$(ls "$PGDATA/pg_wal/archive_status" | grep -c ready || true)
    ((q > maxq)) && maxq=$q
    sleep 0.5
  done
  wait "$bench" || true
  b=$(lsn)
  endq=$(ls "$PGDATA/pg_wal/archive_status" | grep -c ready || true)
  live_mib=$(mib_between "$a" "$b")
  live="live: pgbench -c 8 for $LIVE_SECONDS s with labvault --async archiving: $live_mib MiB of WAL, $(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/live.out" | head -n 1) tps, largest backlog $maxq .ready files, $endq at the end, $(psql -qAtX -c 'SELECT failed_count FROM pg_stat_archiver') failures"
fi

# ------------------------------------------------------------------------------------------ report
echo
echo "WAL archiving, $(nproc) CPUs, $SEGMENTS segments of 16 MiB per set, median of $REPS runs"
echo "pgbench -c 8 here: $tps tps, $pgbench_rate MiB/s of WAL = $pgbench_segs segments/s (3x = $(awk -v s="$pgbench_segs" 'BEGIN { printf "%.2f", 3 * s }') segments/s)"
printf '%-12s %-8s %10s %10s %10s %10s %8s\n' tool set "p50 ms" "p95 ms" "seg/s" "MiB/s" "CPU s"
median() { # TOOL SET KEY: the median of KEY over the runs of TOOL on SET
  awk -v tool="$1" -v set="$2" -v key="$3" '$2 == tool && $3 == set {
      for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' "$W/runs" |
    sort -n | pct 50
}
for tool in "${tools[@]}"; do
  for set in pgbench random; do
    segs=$(median "$tool" "$set" seg_s)
    [[ -n $segs ]] || continue
    fails=$(awk -v tool="$tool" -v set="$set" '$2 == tool && $3 == set { split($NF, kv, "="); f += kv[2] } END { print f + 0 }' "$W/runs")
    printf '%-12s %-8s %10.1f %10.1f %10.2f %10.1f %8.2f%s\n' "$tool" "$set" "$(median "$tool" "$set" p50_ms)" \
      "$(median "$tool" "$set" p95_ms)" "$segs" "$(awk -v s="$segs" 'BEGIN { print s * 16 }')" \
      "$(median "$tool" "$set" cpu_s)" "$( ((fails > 0)) && echo "  FAILURES: $fails")"
  done
done
[[ -n $live ]] && echo "$live"
echo
sed 's/^/# /' "$W/runs"
