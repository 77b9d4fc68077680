#!/usr/bin/env bash
# bench/pg.sh: PostgreSQL base backups, labvault against pgBackRest (Debian's 2.45), on the same cluster in
# the same run. Measured for each tool:
#   full backup | incremental backup after a fixed pgbench run | stored size of both | restore | peak RSS
#   and labvault's full backup without its row counts (--no-row-counts), which pgBackRest does not do;
#   then expiry (see expire_phase): the three oldest backups and their WAL, time and bytes freed;
#   then the next full backup into the same repositories after a small pgbench run (full_next: a weekly
#   full, whose row counts labvault takes from the previous backup);
#   with LV_BENCH_LARGE=1 also the large case of issue 19 (see large_phase): a cluster of at least 8 GiB,
#   about 1 % of its pages changed by pgbench, then the incrementals of both tools and labvault's own LSN
#   scan; the report says met / NOT met against the issue's targets
# Settings (the issue's): pgBackRest compress-type=zst, compress-level=3, process-max=2, encrypted
# (aes-256-cbc) like labvault (zstd 3, AES-256-GCM); both archive WAL through one archive_command.
# Data: pgbench scale LV_BENCH_SCALE (100: about 1.5 GiB, which compresses about 20:1 because pgbench's filler
# columns are blank) plus LV_BENCH_RANDOM_MIB of incompressible bytea (default 256), so that compression does
# not flatter every figure (docs/performance.md, Method).
# Method (bench/lib.sh, as bench/files.sh): the cluster and both repositories live on a journaled ext4 image
# mounted from a sparse file; each timed command is preceded by sync and a pause; the order of the tools rotates
# between repetitions; each repetition starts with fresh repositories; figures are medians of the
# repetitions from /usr/bin/time (wall, user, system, max RSS). Restores write a data directory only (no
# recovery run): labvault `restore pg --target-immediate`, pgBackRest `restore --type=immediate`.
#
# Usage: sudo bench/pg.sh [WORKDIR]   (default /var/tmp/lv-bench-pg; root for the loop mount)
# Knobs: LABVAULT_BIN (build/cli/labvault), LV_BENCH_SCALE (100), LV_BENCH_RANDOM_MIB (256), LV_BENCH_RUNS (3),
#        LV_BENCH_PAUSE (6), LV_BENCH_PGBENCH_SMALL_TX (2000 transactions before the first incremental),
#        LV_BENCH_PGBENCH_TX (20000 more before the second incremental),
#        LV_BENCH_KEEP=1 keeps WORKDIR, LV_BENCH_LOOP_DIO=0 leaves the loop device cached,
#        LV_BENCH_EXPIRE=0 skips the expiry phase,
#        LV_BENCH_LARGE=1 adds the large case: LV_BENCH_LARGE_SCALE (550), LV_BENCH_LARGE_RANDOM_MIB (1024),
#        LV_BENCH_LARGE_TX (6000 pgbench transactions: about 1 % of the pages), LV_BENCH_LSN_SCAN_FLAG (the
#        `backup pg` option that forces the full LSN scan, default --lsn-scan; set empty: the incremental as it
#        is, then the LSN-scan figure is not measured), LV_BENCH_LARGE_IMAGE_MIB (the image, 102400).
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
expire=${LV_BENCH_EXPIRE:-1}
large=${LV_BENCH_LARGE:-0}
large_scale=${LV_BENCH_LARGE_SCALE:-550}
large_random_mib=${LV_BENCH_LARGE_RANDOM_MIB:-1024}
large_tx=${LV_BENCH_LARGE_TX:-6000}
lsn_scan_flag=${LV_BENCH_LSN_SCAN_FLAG---lsn-scan}
lvbin=$(readlink -f "${LABVAULT_BIN:-$root/build/cli/labvault}")
bindir=/usr/lib/postgresql/15/bin
. "$here/lib.sh"

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
  bench_unmount "$img" "$mnt"
}
trap cleanup EXIT
image_mib=40960
((large)) && image_mib=${LV_BENCH_LARGE_IMAGE_MIB:-102400}
bench_mount "$img" "$mnt" "$image_mib" "${LV_BENCH_LOOP_DIO:-1}"

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
make_data() { # SCALE RANDOM_MIB: (re)create the pgbench tables and the random bytea table
  as_pg "$bindir/pgbench" -q -i -s "$1" postgres >/dev/null 2>&1
  as_pg "$bindir/psql" -qX -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; DROP TABLE IF EXISTS blobs;
    CREATE TABLE blobs(id int, b bytea);
    ALTER TABLE blobs ALTER b SET STORAGE EXTERNAL;
    INSERT INTO blobs SELECT g, decode(string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), ''), 'hex')
      FROM generate_series(1, $2 * 8) g, generate_series(1, 32768) x GROUP BY g;" \
    -c "VACUUM ANALYZE blobs" -c "CHECKPOINT" >/dev/null
}
make_data "$scale" "$random_mib"
# (pgbench -i vacuums its tables; the vacuum of blobs would otherwise come from autovacuum at some moment
# of the runs, writing its pages' hint bits to the WAL - 16 MiB of random page images per 16 MiB of data -
# inside whichever backup or expiry window it falls.)
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
  bench_measure "$1" "$2" "$3" "$mnt" "${@:4}"
  # labvault's own phase times (backup pg logs them at level info), to see where a slow run lost time
  local phases
  phases=$(sed -n 's/.* info: \(.*\): \([0-9.]*\) s (.*/\1 \2 s/p' "$work/last.out" | paste -sd ';' -)
  [[ -z $phases ]] || say "  phases: $phases"
}

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
  bench_record "$1" "$2" "$3" $((now - ${last_size[$2]:-0}))
  last_size[$2]=$now
}

# ---------------------------------------------------------------------------------------- expiry
# After the run's full and two incrementals (and the restore): a second full and an incremental on top of
# it, with pgbench before each (not timed); then each tool expires the three oldest backups (the first full
# and its two incrementals) and the WAL archived before the second full began: pgBackRest `expire
# --repo1-retention-full=1` (its archive retention follows: WAL from the oldest kept full's start), labvault
# `forget --kind pg` of the same three by id, `--prune`. Measured: the time of that one command, and the
# repository's bytes (backups and WAL archive) before it and how many fewer after it (see freed).
lv_oldest3() { # the ids of labvault's three oldest backups (there must be five)
  lv --json backups | python3 -c '
import json, sys
b = json.load(sys.stdin)["backups"]
lsn = lambda s: int(s.split("/")[0], 16) << 32 | int(s.split("/")[1], 16)
assert len(b) == 5, "labvault has %d backups, expected 5" % len(b)
print(" ".join(x["id"] for x in sorted(b, key=lambda x: lsn(x["stop_lsn"]))[:3]))'
}
br_backups() { # the labels of pgBackRest's backups, oldest first
  br --output=json info | python3 -c '
import json, sys
print(" ".join(b["label"] for b in json.load(sys.stdin)[0]["backup"]))'
}
# WAL_SEGMENT_OF_OLDEST_BACKUP FIRST_WAL_KEPT of each tool: after expiry they must be equal (each tool keeps
# the WAL from its own oldest kept backup's start; the two differ by the segments between the two tools'
# backups, which run one after the other).
br_wal() {
  br --output=json info | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]
print(s["backup"][0]["archive"]["start"], s["archive"][0]["min"])'
}
lv_wal() { # (16 MiB segments, the harness's)
  local first
  first=$(lv --json wal status | python3 -c '
import json, sys
print(min(t["first"] for t in json.load(sys.stdin)["timelines"]))')
  lv --json backups | python3 -c '
import json, sys
b = min(json.load(sys.stdin)["backups"], key=lambda b: int(b["start_lsn"].split("/")[0], 16) << 32 | int(b["start_lsn"].split("/")[1], 16))
hi, lo = (int(x, 16) for x in b["start_lsn"].split("/"))
print("%08X%08X%08X" % (b["timeline"], hi, lo >> 24), sys.argv[1])' "$first"
}
# freed RUN TOOL BEFORE AFTER: from two listings of a repository (find -printf '%s %P'), record its bytes
# before, and how many fewer it holds after, in all and in its WAL archive. WAL files that were not there
# before are left out of the second count: the archiver may push a segment meanwhile, and an expiry never
# writes one (whereas prune writes new packs and index objects, which count).
freed() {
  python3 - "$@" >>"$results" <<'PY'
import sys
run, tool, before, after = sys.argv[1:5]
def listing(path):
    return {name: int(size) for size, name in (line.rstrip('\n').split(' ', 1) for line in open(path))}
b, a = listing(before), listing(after)
wal = 'wal/' if tool == 'labvault' else 'archive/'
a = {n: v for n, v in a.items() if n in b or not n.startswith(wal)}
total = lambda d, only_wal=False: sum(v for n, v in d.items() if n.startswith(wal) or not only_wal)
for phase, v in (('expire_before', total(b)), ('expire_freed', total(b) - total(a)),
                 ('expire_wal_freed', total(b, True) - total(a, True))):
    print('%s\t%s\t%s\t%d\t0\t0\t0' % (run, tool, phase, v))
PY
}
expire_phase() { # RUN
  local run=$1 phase n type t ids w
  for phase in full2 incr3; do
    n=$txs type=full
    [[ $phase == incr3 ]] && n=$small_txs type=incr
    say "pgbench: $n transactions"
    as_pg "$bindir/pgbench" -n -c 2 -t $((n / 2)) postgres >/dev/null 2>&1
    as_pg "$bindir/psql" -qAtX -c "CHECKPOINT" >/dev/null
    for t in "${order[@]}"; do
      backup_argv "$t" "$type"
      "${cmd[@]}" >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; die "$t $phase failed"; }
    done
  done
  archive_settle # nothing writes into either repository while they are measured
  read -r -a ids <<<"$(lv_oldest3)"
  read -r -a br_before <<<"$(br_backups)"
  ((${#br_before[@]} == 5)) || die "pgBackRest has ${#br_before[@]} backups, expected 5"
  say "expiring labvault ${ids[*]} and pgBackRest ${br_before[*]:0:3}"
  for t in "${order[@]}"; do
    find "$mnt/repo-$t" -type f -printf '%s %P\n' >"$work/before-$t"
    case $t in
      labvault) cmd=(runuser -u "$osuser" -- env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" forget --kind pg
                     "${ids[@]}" --prune) ;;
      pgbackrest) cmd=(runuser -u "$osuser" -- pgbackrest --config "$mnt/pgbr/pgbackrest.conf" --stanza=bench
                       expire --repo1-retention-full=1) ;;
    esac
    measure "$run" "$t" expire "${cmd[@]}"
    find "$mnt/repo-$t" -type f -printf '%s %P\n' >"$work/after-$t"
    freed "$run" "$t" "$work/before-$t" "$work/after-$t"
    say "  $t: $(tail -3 "$results" | awk -F'\t' '{ v[NR] = $4 / 1048576 } END {
      printf "%.1f MiB before, %.1f MiB freed (WAL %.1f MiB)", v[1], v[2], v[3] }')"
  done
  # Both kept the two newest backups and the WAL from the start of the oldest of them on (not timed).
  read -r -a br_after <<<"$(br_backups)"
  [[ "${br_after[*]}" == "${br_before[*]:3:2}" ]] || die "pgBackRest kept ${br_after[*]}, expected ${br_before[*]:3:2}"
  lv --json backups | grep -q "${ids[0]}" && die "labvault still lists ${ids[0]}"
  for t in labvault pgbackrest; do
    if [[ $t == labvault ]]; then read -r -a w <<<"$(lv_wal)"; else read -r -a w <<<"$(br_wal)"; fi
    [[ ${w[0]} == "${w[1]}" ]] || die "$t kept WAL from ${w[1]}, but its oldest kept backup starts in ${w[0]}"
    say "  $t kept 2 backups and the WAL from ${w[1]} on (the oldest kept backup's start)"
  done
  say "  labvault repo stats: $(lv repo stats | tail -1)"
}

bench_results_header
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
  archive_settle # the archiver is idle: nothing writes into the repositories being replaced
  # pgBackRest's too (it holds no backup yet): both archives then hold the same WAL, from here on (in the
  # first run, pgBackRest's would also hold the backlog of the cluster's creation), which the expiry
  # phase compares.
  for t in "${order[@]}"; do prepare "$t"; last_size[$t]=$(backup_bytes "$t"); done
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
  if ((expire)); then expire_phase "$run"; fi
  # The next full backup into the same repositories, after a quiet day (LV_BENCH_PGBENCH_SMALL_TX more
  # transactions): what a weekly full costs. labvault takes its row counts from the previous backup's and
  # the WAL since (docs/pg-backups.md, "Counts that follow the change"); the full above, the first backup
  # of its repository, has none to take them from.
  say "pgbench: $small_txs transactions"
  as_pg "$bindir/pgbench" -n -c 2 -t $((small_txs / 2)) postgres >/dev/null 2>&1
  as_pg "$bindir/psql" -qAtX -c "CHECKPOINT" >/dev/null
  for t in "${order[@]}"; do
    backup_argv "$t" full
    measure "$run" "$t" full_next "${cmd[@]}"
  done
done

# ---------------------------------------------------------------------------------------- large case
# Issue 19: the cost of an incremental must follow the change, not the database. The cluster grows to
# pgbench scale LV_BENCH_LARGE_SCALE plus LV_BENCH_LARGE_RANDOM_MIB of random bytea (at least 8 GiB), both
# tools take a full backup (timed), pgbench changes about 1 % of the pages, then (timed, once): pgBackRest's
# incremental, labvault's incremental with the full LSN scan (LV_BENCH_LSN_SCAN_FLAG; then forgotten, so that
# the next one also compares with the full) and labvault's default incremental. "MiB read" comes from
# labvault's one-line summary.
mib_read() { sed -n 's/^backup pg [0-9a-f]* [a-z]*: .* \([0-9.]*\) MiB read,.*/\1/p' "$work/last.out" | tail -1; }
large_phase() {
  local t id
  say "large case: pgbench -i -s $large_scale, plus $large_random_mib MiB of random bytea"
  make_data "$large_scale" "$large_random_mib"
  local bytes
  bytes=$(as_pg "$bindir/psql" -qAtX -c "SELECT sum(pg_database_size(oid)) FROM pg_database")
  say "large cluster: $((bytes / 1048576)) MiB"
  bench_record L labvault large_cluster_bytes "$bytes"
  for t in "${tools[@]}"; do prepare "$t"; done
  archive_settle
  for t in "${tools[@]}"; do
    backup_argv "$t" full
    measure L "$t" large_full "${cmd[@]}"
  done
  say "pgbench: $large_tx transactions (about 1 % of the pages)"
  as_pg "$bindir/pgbench" -n -c 2 -t $((large_tx / 2)) postgres >/dev/null 2>&1
  as_pg "$bindir/psql" -qAtX -c "CHECKPOINT" >/dev/null
  archive_settle
  backup_argv pgbackrest incr
  measure L pgbackrest large_incr "${cmd[@]}"
  if [[ -n $lsn_scan_flag ]]; then
    backup_argv labvault incr
    measure L labvault large_incr_lsn "${cmd[@]}" "$lsn_scan_flag"
    bench_record L labvault large_incr_lsn_read_mib "$(mib_read)"
    id=$(sed -n 's/^backup pg \([0-9a-f]*\) .*/\1/p' "$work/last.out" | tail -1)
    lv forget --kind pg "$id" >/dev/null || die "labvault forget $id failed"
  fi
  backup_argv labvault incr
  measure L labvault large_incr "${cmd[@]}"
  bench_record L labvault large_incr_read_mib "$(mib_read)"
}
if ((large)); then large_phase; fi

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "$scale" "$random_mib" "$((dbsize / 1048576))" "$txs" "$small_txs" <<'PY'
import csv, statistics, sys
path, scale, rnd, size, txs, small = sys.argv[1:7]
rows = list(csv.DictReader(open(path), delimiter='\t'))
runs = sorted({r['run'] for r in rows if r['run'] != 'L'})  # L: the large case, once
def med(tool, phase, field='wall'):
    return statistics.median(float(r[field]) for r in rows if r['tool'] == tool and r['phase'] == phase)
print('Cluster: pgbench scale %s + %s MiB random bytea = %s MiB. Full backup; %s pgbench transactions; '
      'incremental 1; %s more; incremental 2. Medians of %d runs; wall seconds (user + system).\n'
      % (scale, rnd, size, small, txs, len(runs)))
print('| | labvault | pgBackRest | labvault vs pgBackRest |')
print('|---|---|---|---|')
for phase, label in (('full', 'full backup'), ('incr_small', 'incremental 1 (%s tx)' % small),
                     ('incr', 'incremental 2 (%s tx)' % txs), ('restore', 'restore'),
                     ('full_next', 'next full backup (%s tx after the last backup)' % small)):
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
for phase, label in (('full', 'peak RSS full, MiB'), ('incr', 'peak RSS incremental 2, MiB'),
                     ('restore', 'peak RSS restore, MiB')):
    v = {t: med(t, phase, 'maxrss_kib') / 1024 for t in ('labvault', 'pgbackrest')}
    print('| %s | %.0f | %.0f | %.2fx |' % (label, v['labvault'], v['pgbackrest'], v['labvault'] / v['pgbackrest']))
# The standing targets of issue 19 on this cluster, same run, same machine.
def verdict(ok):
    return 'met' if ok else 'NOT met'
full_x = med('pgbackrest', 'full') / med('labvault', 'full')
rest_x = med('pgbackrest', 'restore') / med('labvault', 'restore')
rss_b = max(med('labvault', p, 'maxrss_kib') for p in ('full', 'incr_small', 'incr')) / 1024
rss_r = med('labvault', 'restore', 'maxrss_kib') / 1024
print('\nTargets (issue 19), this cluster:\n')
print('| target | measured | |')
print('|---|---|---|')
print('| full backup at least 2x pgBackRest | %.2fx | %s |' % (full_x, verdict(full_x >= 2)))
print('| restore at least 1.25x pgBackRest | %.2fx | %s |' % (rest_x, verdict(rest_x >= 1.25)))
print('| peak RSS of backup pg at most 64 MiB | %.0f MiB | %s |' % (rss_b, verdict(rss_b <= 64)))
print('| peak RSS of restore pg at most 64 MiB | %.0f MiB | %s |' % (rss_r, verdict(rss_r <= 64)))
large = [r for r in rows if r['run'] == 'L']
if large:
    lval = lambda tool, phase, f='wall': next((float(r[f]) for r in large if r['tool'] == tool and r['phase'] == phase), None)
    cl = lval('labvault', 'large_cluster_bytes') / 1048576
    print('\nLarge case: %.0f MiB cluster, about 1 %% of the pages changed by pgbench; one run; wall seconds '
          '(user + system), MiB read by labvault.\n' % cl)
    print('| | labvault | pgBackRest | labvault vs pgBackRest |')
    print('|---|---|---|---|')
    for phase, label in (('large_full', 'full backup'), ('large_incr', 'incremental')):
        w = {t: lval(t, phase) for t in ('labvault', 'pgbackrest')}
        c = {t: lval(t, phase, 'user') + lval(t, phase, 'sys') for t in w}
        print('| %s, s | %.2f (%.1f) | %.2f (%.1f) | %.2fx %s |' % (label, w['labvault'], c['labvault'],
              w['pgbackrest'], c['pgbackrest'], w['pgbackrest'] / w['labvault'],
              'faster' if w['pgbackrest'] >= w['labvault'] else 'slower'))
    lsn = lval('labvault', 'large_incr_lsn')
    if lsn is not None:
        print('| incremental with the full LSN scan, s | %.2f (%.1f) | | |' % (lsn, lval('labvault', 'large_incr_lsn', 'user') + lval('labvault', 'large_incr_lsn', 'sys')))
    read = lval('labvault', 'large_incr_read_mib')
    print('| incremental: MiB read | %.0f (%.2f %% of the cluster) | | |' % (read, 100 * read / cl))
    print('| peak RSS incremental, MiB | %.0f | %.0f | |' % (lval('labvault', 'large_incr', 'maxrss_kib') / 1024,
          lval('pgbackrest', 'large_incr', 'maxrss_kib') / 1024))
    inc, br = lval('labvault', 'large_incr'), lval('pgbackrest', 'large_incr')
    print('\nTargets (issue 19), large case:\n')
    print('| target | measured | |')
    print('|---|---|---|')
    print('| incremental reads at most 3 %% of the cluster | %.2f %% | %s |' % (100 * read / cl, verdict(read <= 0.03 * cl)))
    print('| incremental at most 1/5 of pgBackRest\'s | %.2f of it | %s |' % (inc / br, verdict(inc * 5 <= br)))
    if lsn is not None:
        print('| incremental at most 1/3 of the LSN scan\'s | %.2f of it | %s |' % (inc / lsn, verdict(inc * 3 <= lsn)))
    else:
        print('| incremental at most 1/3 of the LSN scan\'s | not measured (LV_BENCH_LSN_SCAN_FLAG unset) | |')
if any(r['phase'] == 'expire' for r in rows):
    t = ('labvault', 'pgbackrest')
    w = {x: med(x, 'expire') for x in t}
    c = {x: med(x, 'expire', 'user') + med(x, 'expire', 'sys') for x in t}
    print('\nExpiry: then a second full (after %s tx) and an incremental (after %s tx); pgBackRest `expire '
          '--repo1-retention-full=1`, labvault `forget --kind pg` of the same three oldest backups, `--prune`; '
          'both remove the WAL before the second full. Repository: backups and WAL archive.\n' % (txs, small))
    print('| | labvault | pgBackRest | labvault vs pgBackRest |')
    print('|---|---|---|---|')
    print('| expiry, s | %.2f (%.1f) | %.2f (%.1f) | %.2fx %s |' % (w['labvault'], c['labvault'], w['pgbackrest'],
          c['pgbackrest'], w['pgbackrest'] / w['labvault'], 'faster' if w['pgbackrest'] >= w['labvault'] else 'slower'))
    # sizes: per run, then the median of the runs
    def per_run(x, f):
        return statistics.median(f(x, run) for run in runs)
    val = lambda x, ph, run: next(float(r['wall']) for r in rows if r['tool'] == x and r['phase'] == ph and r['run'] == run)
    before = {x: per_run(x, lambda x, run: val(x, 'expire_before', run)) / 1048576 for x in t}
    freed = {x: per_run(x, lambda x, run: val(x, 'expire_freed', run)) / 1048576 for x in t}
    after = {x: per_run(x, lambda x, run: val(x, 'expire_before', run) - val(x, 'expire_freed', run)) / 1048576 for x in t}
    wal = {x: per_run(x, lambda x, run: val(x, 'expire_wal_freed', run)) / 1048576 for x in t}
    for label, v in (('repository before, MiB', before), ('repository after, MiB', after), ('freed, MiB', freed),
                     ('of which WAL, MiB', wal)):
        print('| %s | %.1f | %.1f | %.2fx of pgBackRest |' % (label, v['labvault'], v['pgbackrest'],
              v['labvault'] / v['pgbackrest'] if v['pgbackrest'] else 0))
    v = {x: med(x, 'expire', 'maxrss_kib') / 1024 for x in t}
    print('| peak RSS expiry, MiB | %.0f | %.0f | %.2fx |' % (v['labvault'], v['pgbackrest'], v['labvault'] / v['pgbackrest']))
    # labvault's second full shares the unchanged blobs of the first (pgBackRest's copies every file again), so
    # forgetting the first frees only what no kept backup shares: compare the sizes after expiry too.
    print('\nTarget: labvault frees at least as much as pgBackRest: %s (%.2fx); repository after expiry: %.2fx of '
          'pgBackRest\'s.' % ('met' if freed['labvault'] >= freed['pgbackrest'] else 'NOT met',
          freed['labvault'] / freed['pgbackrest'] if freed['pgbackrest'] else 0, after['labvault'] / after['pgbackrest']))
PY
