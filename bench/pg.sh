#!/usr/bin/env bash
# bench/pg.sh: PostgreSQL base backups, labvault against pgBackRest (Debian's 2.45), on the same cluster in
# the same run. Measured for each tool:
#   full backup | incremental backup after a fixed pgbench run | stored size of both | restore | peak RSS
#   and labvault's full backup without its row counts (--no-row-counts), which pgBackRest does not do
# Settings (the issue's): pgBackRest compress-type=zst, compress-level=3, process-max=2, encrypted
# (aes-256-cbc) like labvault (zstd 3, AES-256-GCM); both archive WAL through one archive_command.
# Data: pgbench scale LV_BENCH_SCALE (100: about 1.5 GiB, which compresses about 20:1 because pgbench's filler
# columns are blank) plus LV_BENCH_RANDOM_MIB of incompressible bytea (default 256), so that compression does
# not flatter every figure (docs/performance.md, Method).
# Method (same as bench/files.sh): the cluster and both repositories live on a journaled ext4 image mounted
# from a sparse file; each timed command is preceded by sync and a pause; the order of the tools rotates
# between repetitions; each repetition starts with fresh repositories; figures are medians of the
# repetitions from /usr/bin/time (wall, user, system, max RSS). Restores write a data directory only (no
# recovery run): labvault `restore pg --target-immediate`, pgBackRest `restore --type=immediate`.
#
# Usage: sudo bench/pg.sh [WORKDIR]   (default /var/tmp/lv-bench-pg; root for the loop mount)
# Knobs: LABVAULT_BIN (build/cli/labvault), LV_BENCH_SCALE (100), LV_BENCH_RANDOM_MIB (256), LV_BENCH_RUNS (3),
#        LV_BENCH_PAUSE (6), LV_BENCH_PGBENCH_SMALL_TX (2000 transactions before the first incremental),
#        LV_BENCH_PGBENCH_TX (20000 more before the second incremental),
#        LV_BENCH_KEEP=1 keeps WORKDIR, LV_BENCH_LOOP_DIO=0 leaves the loop device cached.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=${1:-/var/tmp/lv-bench-pg}
scale=${LV_BENCH_SCALE:-100}
random_mib=${LV_BENCH_RANDOM_MIB:-256}
runs=${LV_BENCH_RUNS:-3}
pause=${LV_BENCH_PAUSE:-6}
txs=${LV_BENCH_PGBENCH_TX:-20000}
small_txs=${LV_BENCH_PGBENCH_SMALL_TX:-2000}
lvbin=$(readlink -f "${LABVAULT_BIN:-$root/build/cli/labvault}")
bindir=/usr/lib/postgresql/15/bin
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
command -v pgbackrest >/dev/null || die "pgbackrest is missing (apt-get install pgbackrest)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
pgdir=$mnt/pg
cleanup() {
  "$root/tests/harness/pg.sh" stop "$pgdir" immediate >/dev/null 2>&1 || true
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || say "could not unmount $mnt"; fi
  rm -f "$img"
  [[ -n ${LV_BENCH_KEEP:-} ]] || rm -rf "$mnt"
}
trap cleanup EXIT
rm -f "$img"
truncate -s 40G "$img"
mkfs.ext4 -q -F "$img"
mkdir -p "$mnt"
mount -o loop "$img" "$mnt"
# The loop device reads and writes its backing file with direct I/O, as a disk would; otherwise every block
# is cached twice (in the image's file system and in the backing file's), and the second copy pays this
# VM's first-touch cost of fresh memory in the loop's kernel thread, adding noise to every figure.
# LV_BENCH_LOOP_DIO=0 keeps the default (cached) loop.
if [[ ${LV_BENCH_LOOP_DIO:-1} == 1 ]]; then
  losetup --direct-io=on "$(findmnt -no SOURCE "$mnt")" || say "the loop device refused direct I/O: cached"
fi
dumpe2fs -h "$(findmnt -no SOURCE "$mnt")" 2>/dev/null | grep -q has_journal || die "the image has no journal"
chmod 755 "$mnt"
say "work area: journaled ext4 on $img at $mnt (loop direct I/O: $(cat /sys/block/"$(basename "$(findmnt -no SOURCE "$mnt")")"/loop/dio 2>/dev/null || echo '?'))"

# ---------------------------------------------------------------------------------------- cluster
osuser=${LV_TEST_PG_OSUSER:-labvault-test}
export LV_TEST_PG_OSUSER=$osuser
mkdir -p "$mnt/state" "$mnt/pgbr"
cat >"$mnt/lv.conf" <<CONF
[global]
repo = $mnt/repo-labvault
catalog = $mnt/state/catalog.db
key-file = $mnt/state/key
log-level = warn
[archive]
spool-path = $mnt/state/spool
timeout = 300
CONF
cat >"$mnt/pgbr/pgbackrest.conf" <<CONF
[global]
repo1-path=$mnt/repo-pgbackrest
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=benchmark-passphrase-0123456789
compress-type=zst
compress-level=3
process-max=2
start-fast=y
log-path=$mnt/pgbr/log
lock-path=$mnt/pgbr/lock
spool-path=$mnt/pgbr/spool
log-level-console=warn
log-level-file=off
archive-timeout=300
[bench]
pg1-path=$pgdir/data
CONF
archive="'$lvbin' --config '$mnt/lv.conf' wal push %p \&\& pgbackrest --config '$mnt/pgbr/pgbackrest.conf' --stanza=bench archive-push %p"
"$root/tests/harness/pg.sh" start "$pgdir" "archive_mode = on" "archive_command = '${archive//\'/\'\'}'" \
  "max_wal_size = 4GB" "checkpoint_timeout = 30min" >/dev/null
chown -R "$osuser:" "$mnt/state" "$mnt/pgbr"
set -a
. "$pgdir/env"
set +a
cat >>"$mnt/pgbr/pgbackrest.conf" <<CONF
pg1-port=$PGPORT
pg1-socket-path=$LV_TEST_PG_SOCKDIR
pg1-user=postgres
CONF
as_pg() { runuser -u "$osuser" -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres "$@"; }

say "pgbench -i -s $scale, plus $random_mib MiB of random bytea"
as_pg "$bindir/pgbench" -q -i -s "$scale" postgres >/dev/null 2>&1
as_pg "$bindir/psql" -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE blobs(id int, b bytea);
  ALTER TABLE blobs ALTER b SET STORAGE EXTERNAL;
  INSERT INTO blobs SELECT g, decode(string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), ''), 'hex')
    FROM generate_series(1, $random_mib * 8) g, generate_series(1, 32768) x GROUP BY g;
  CHECKPOINT;" >/dev/null
dbsize=$(as_pg "$bindir/psql" -qAtX -c "SELECT sum(pg_database_size(oid)) FROM pg_database")
say "cluster: $((dbsize / 1048576)) MiB"

lv() { as_pg env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" "$@"; }
br() { as_pg pgbackrest --config "$mnt/pgbr/pgbackrest.conf" --stanza=bench "$@"; }

prepare() { # TOOL: fresh repository (its directory owned by the cluster's OS user, who runs both tools)
  rm -rf "$mnt/repo-$1"
  mkdir -p "$mnt/repo-$1"
  chown "$osuser:" "$mnt/repo-$1"
  case $1 in
    labvault)
      rm -rf "$mnt/state/catalog.db"* "$mnt/state/key" "$mnt/state/spool"
      lv repo init >/dev/null 2>&1 || die "labvault repo init failed"
      lv stanza create --pg-data "$pgdir/data" >/dev/null 2>&1 || true ;;
    pgbackrest)
      rm -rf "$mnt/pgbr/spool" "$mnt/pgbr/lock"
      br stanza-create >/dev/null || die "pgbackrest stanza-create failed" ;;
  esac
}

# After both repositories are fresh: start from a new segment and let the archiver catch up (it backs off
# for up to a minute after failures, which would otherwise land in the next timed backup).
archive_settle() {
  local i
  as_pg "$bindir/psql" -qAtX -c "SELECT pg_switch_wal()" >/dev/null
  for ((i = 0; i < 240; i++)); do
    compgen -G "$pgdir/data/pg_wal/archive_status/*.ready" >/dev/null || return 0
    sleep 0.5
  done
  die "the archiver did not catch up (see $pgdir/log/postgres.log)"
}

backup_argv() { # TOOL full|incr
  case $1 in
    labvault) cmd=(runuser -u "$osuser" -- env LABVAULT_CONFIG="$mnt/lv.conf" PGHOST="$PGHOST" PGPORT="$PGPORT"
                   PGUSER=postgres "$lvbin" --log-level info backup pg --type "$2" --pg-data "$pgdir/data") ;;
    pgbackrest) cmd=(runuser -u "$osuser" -- pgbackrest --config "$mnt/pgbr/pgbackrest.conf" --stanza=bench
                     backup --type "$2") ;;
  esac
}

restore_argv() { # TOOL TARGET
  case $1 in
    labvault) cmd=(runuser -u "$osuser" -- env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" restore pg --to "$2"
                   --target-immediate) ;;
    pgbackrest) cmd=(runuser -u "$osuser" -- pgbackrest --config "$mnt/pgbr/pgbackrest.conf" --stanza=bench
                     restore --pg1-path="$2" --type=immediate) ;;
  esac
}

measure() { # RUN TOOL PHASE CMD...
  local run=$1 tool=$2 phase=$3 t
  shift 3
  sync
  sleep "$pause"
  t=$(mktemp)
  if ! /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$t" "$@" >"$work/last.out" 2>&1; then
    cat "$work/last.out" >&2
    die "$tool $phase failed: $*"
  fi
  printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$phase" "$(tail -1 "$t")" >>"$results"
  say "run $run $tool $phase: $(tail -1 "$t" | cut -f1) s, $(($(tail -1 "$t" | cut -f4) / 1024)) MiB"
  # labvault's own phase times (backup pg logs them at level info), to see where a slow run lost time
  local phases
  phases=$(sed -n 's/.* info: \(.*\): \([0-9.]*\) s (.*/\1 \2 s/p' "$work/last.out" | paste -sd ';' -)
  [[ -z $phases ]] || say "  phases: $phases"
  rm -f "$t"
}

record() { printf '%s\t%s\t%s\t%s\t0\t0\t0\n' "$@" >>"$results"; } # RUN TOOL PHASE VALUE

# Bytes a tool's backups (not its WAL archive) hold: pgBackRest's backup/ directory, labvault's data/,
# index/ and manifests/ (wal/ excluded). Directories not created yet count 0.
declare -A last_size
backup_bytes() {
  local dirs=() d
  case $1 in
    labvault) for d in data index manifests; do [[ -d $mnt/repo-labvault/$d ]] && dirs+=("$mnt/repo-labvault/$d"); done ;;
    pgbackrest) [[ -d $mnt/repo-pgbackrest/backup ]] && dirs+=("$mnt/repo-pgbackrest/backup") ;;
  esac
  if ((${#dirs[@]})); then du -scb "${dirs[@]}" | tail -1 | cut -f1; else echo 0; fi
}
# record RUN TOOL PHASE with the growth since the last call (in this shell, so last_size is kept).
record_growth() {
  local now
  now=$(backup_bytes "$2")
  record "$1" "$2" "$3" $((now - ${last_size[$2]:-0}))
  last_size[$2]=$now
}

printf 'run\ttool\tphase\twall\tuser\tsys\tmaxrss_kib\n' >"$results"
tools=(labvault pgbackrest)
for ((run = 1; run <= runs; run++)); do
  k=$((run % 2))
  order=("${tools[@]:k}" "${tools[@]:0:k}")
  say "run $run of $runs: ${order[*]}"
  for t in "${order[@]}"; do prepare "$t"; last_size[$t]=$(backup_bytes "$t"); done
  archive_settle
  # labvault's default full backup also counts every table's rows after the stop (for restore drills;
  # pgBackRest has no such step): first the same full without it, into a repository that is then
  # replaced by a fresh one for the run's own full.
  backup_argv labvault full
  measure "$run" labvault full_nocount "${cmd[@]}" --no-row-counts
  archive_settle # the archiver is idle: nothing writes into the repository being replaced
  prepare labvault
  last_size[labvault]=$(backup_bytes labvault)
  archive_settle
  for t in "${order[@]}"; do
    backup_argv "$t" full
    measure "$run" "$t" full "${cmd[@]}"
    record_growth "$run" "$t" full_bytes
  done
  # Two incrementals: after a small pgbench run (a quiet day) and after a larger one on top of it.
  for phase in incr_small incr; do
    n=$small_txs
    [[ $phase == incr ]] && n=$txs
    say "pgbench: $n transactions"
    as_pg "$bindir/pgbench" -n -c 2 -t $((n / 2)) postgres >/dev/null 2>&1
    as_pg "$bindir/psql" -qAtX -c "CHECKPOINT" >/dev/null
    for t in "${order[@]}"; do
      backup_argv "$t" incr
      measure "$run" "$t" "$phase" "${cmd[@]}"
      record_growth "$run" "$t" "${phase}_bytes"
    done
  done
  for t in "${order[@]}"; do
    target=$mnt/restore-$t
    rm -rf "$target" && mkdir -p "$target" && chown "$osuser:" "$target" && chmod 700 "$target"
    restore_argv "$t" "$target"
    measure "$run" "$t" restore "${cmd[@]}"
    if ((run == 1)); then # correctness once, not timed: the same relation files came back
      a=$(cd "$target" && find base global -type f | sort | wc -l)
      say "$t restored $a files under base/ and global/, $(du -sh "$target" | cut -f1)"
    fi
    rm -rf "$target"
  done
done

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "$scale" "$random_mib" "$((dbsize / 1048576))" "$txs" "$small_txs" <<'PY'
import csv, statistics, sys
path, scale, rnd, size, txs, small = sys.argv[1:7]
rows = list(csv.DictReader(open(path), delimiter='\t'))
runs = sorted({r['run'] for r in rows})
def med(tool, phase, field='wall'):
    return statistics.median(float(r[field]) for r in rows if r['tool'] == tool and r['phase'] == phase)
print('Cluster: pgbench scale %s + %s MiB random bytea = %s MiB. Full backup; %s pgbench transactions; '
      'incremental 1; %s more; incremental 2. Medians of %d runs; wall seconds (user + system).\n'
      % (scale, rnd, size, small, txs, len(runs)))
print('| | labvault | pgBackRest | labvault vs pgBackRest |')
print('|---|---|---|---|')
for phase, label in (('full', 'full backup'), ('incr_small', 'incremental 1 (%s tx)' % small),
                     ('incr', 'incremental 2 (%s tx)' % txs), ('restore', 'restore')):
    w = {t: med(t, phase) for t in ('labvault', 'pgbackrest')}
    c = {t: med(t, phase, 'user') + med(t, phase, 'sys') for t in w}
    print('| %s, s | %.2f (%.1f) | %.2f (%.1f) | %.2fx %s |' % (label, w['labvault'], c['labvault'],
          w['pgbackrest'], c['pgbackrest'], w['pgbackrest'] / w['labvault'],
          'faster' if w['pgbackrest'] >= w['labvault'] else 'slower'))
w, c = med('labvault', 'full_nocount'), med('labvault', 'full_nocount', 'user') + med('labvault', 'full_nocount', 'sys')
print('| full backup with `--no-row-counts`, s | %.2f (%.1f) | (no such step) | %.2fx %s |' % (w, c,
      med('pgbackrest', 'full') / w, 'faster' if med('pgbackrest', 'full') >= w else 'slower'))
for phase, label in (('full_bytes', 'full backup stored, MiB'), ('incr_small_bytes', 'incremental 1 stored, MiB'),
                     ('incr_bytes', 'incremental 2 stored, MiB')):
    v = {t: med(t, phase) / 1048576 for t in ('labvault', 'pgbackrest')}
    print('| %s | %.1f | %.1f | %.2fx of pgBackRest |' % (label, v['labvault'], v['pgbackrest'],
          v['labvault'] / v['pgbackrest'] if v['pgbackrest'] else 0))
for phase, label in (('full', 'peak RSS full, MiB'), ('restore', 'peak RSS restore, MiB')):
    v = {t: med(t, phase, 'maxrss_kib') / 1024 for t in ('labvault', 'pgbackrest')}
    print('| %s | %.0f | %.0f | %.2fx |' % (label, v['labvault'], v['pgbackrest'], v['labvault'] / v['pgbackrest']))
PY
