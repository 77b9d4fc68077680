#!/usr/bin/env bash
# bench/files.sh: file snapshots, labvault against restic and borg (Debian's packages), on the same tree of
# about 1 GiB in many files, in the same run. Measured for each tool:
#   first snapshot | unchanged re-snapshot | re-snapshot after changing 1 % of the files | repository size |
#   peak RSS (of the backups) | restore of the last snapshot (time and peak RSS)
# Method (docs/performance.md, Method): everything happens on a journaled ext4 image mounted
# from a sparse file (the root file system here has no journal, which distorts file creation); each timed
# command is preceded by a pause (memory freed by the previous one has gone back to the host, so its
# first-touch cost is the same for every tool) and by a sync (with this much RAM, dirty pages of the previous
# command linger for up to 30 s, and their writeback would be charged to whoever runs next); the order of the tools rotates from one repetition to the
# next; each repetition starts with fresh repositories and caches; reported figures are medians over the
# repetitions, from /usr/bin/time (wall, user, system, max RSS). The source tree stays in the page cache:
# every tool reads it warm. Each tool runs with its defaults (restic: zstd "auto"; borg: lz4,
# repokey-blake2; labvault: zstd 3), encrypted, into a local directory on the same image.
#
# Usage: sudo bench/files.sh [WORKDIR]   (default /var/tmp/lv-bench; needs root for the loop mount)
# Knobs: LABVAULT_BIN (default build/cli/labvault), LV_BENCH_SIZE_MIB (1024), LV_BENCH_RUNS (3),
#        LV_BENCH_PAUSE (6 seconds), LV_BENCH_TOOLS ("labvault restic borg"), LV_BENCH_KEEP=1 keeps WORKDIR.
# Output: the raw measurements in WORKDIR/results.tsv (kept) and a Markdown table on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/var/tmp/lv-bench}
size_mib=${LV_BENCH_SIZE_MIB:-1024}
runs=${LV_BENCH_RUNS:-3}
pause=${LV_BENCH_PAUSE:-6}
read -r -a tools <<<"${LV_BENCH_TOOLS:-labvault restic borg}"
lvbin=${LABVAULT_BIN:-$here/../build/cli/labvault}
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
for p in restic borg mkfs.ext4 python3; do command -v "$p" >/dev/null || die "$p is missing (apt-get install restic borgbackup)"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || say "could not unmount $mnt"; fi
  rm -f "$img"
  [[ -n ${LV_BENCH_KEEP:-} ]] || rm -rf "$mnt"
}
trap cleanup EXIT
rm -f "$img"
truncate -s $((size_mib * 10))M "$img"
mkfs.ext4 -q -F "$img"
mkdir -p "$mnt"
mount -o loop "$img" "$mnt"
dumpe2fs -h "$(findmnt -no SOURCE "$mnt")" 2>/dev/null | grep -q has_journal || die "the image has no journal"
say "work area: journaled ext4 on $img at $mnt"

# ---------------------------------------------------------------------------------------- the tree
# Files: ~40 % text (compressible), ~45 % random (incompressible: media, archives), ~15 % copies of other
# files. Sizes log-uniform: 92 % from 256 B to 64 KiB, 7.8 % from 64 KiB to 1 MiB, 0.2 % from 8 to 32 MiB
# (about 15,000 files per GiB); 32 files per directory, 3 levels.
say "generating a ${size_mib} MiB tree"
python3 - "$mnt/tree" "$size_mib" <<'PY'
import math, os, random, sys
root, total = sys.argv[1], int(sys.argv[2]) << 20
rnd = random.Random(4)
words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(rnd.randint(2, 12))) for _ in range(20000)]
lines = [' ' * rnd.choice((0, 4, 8)) + ' '.join(rnd.choices(words, k=rnd.randint(3, 14))) + '\n' for _ in range(200000)]
made, n, written = [], 0, 0
while written < total:
    d = os.path.join(root, 'd%02d' % (n // 1024), 'e%02d' % (n // 32 % 32))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, 'f%05d' % n)
    u = rnd.random()
    lo, hi = (256, 64 << 10) if u < 0.92 else (64 << 10, 1 << 20) if u < 0.998 else (8 << 20, 32 << 20)
    size = int(math.exp(rnd.uniform(math.log(lo), math.log(hi))))
    kind = rnd.random()
    with open(p, 'wb') as f:
        if kind < 0.15 and made:
            src = rnd.choice(made)
            with open(src, 'rb') as s:
                data = s.read()
            f.write(data)
            size = len(data)
        elif kind < 0.55:
            buf, got = [], 0
            while got < size:
                chunk = ''.join(rnd.choices(lines, k=256)).encode()
                buf.append(chunk)
                got += len(chunk)
            f.write(b''.join(buf)[:size])
        else:
            f.write(os.urandom(size))
    made.append(p)
    written += size
    n += 1
print('%d files, %d bytes' % (n, written))
PY
nfiles=$(find "$mnt/tree" -type f | wc -l)
say "tree: $nfiles files, $(du -sh --apparent-size "$mnt/tree" | cut -f1)"
sleep 2 # past the racy-timestamp window of the files caches

# ---------------------------------------------------------------------------------------- tools
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
cat >"$mnt/lv.conf" <<CONF
[global]
repo = $mnt/repo-labvault
catalog = $mnt/state-labvault/catalog.db
key-file = $mnt/state-labvault/key
CONF

prepare() { # TOOL: fresh repository and caches
  rm -rf "$mnt/repo-$1" "$mnt/state-$1"
  mkdir -p "$mnt/state-$1"
  case $1 in
    labvault) LABVAULT_CONFIG=$mnt/lv.conf "$lvbin" repo init >/dev/null 2>&1 ;;
    restic) RESTIC_CACHE_DIR=$mnt/state-restic restic -q init -r "$mnt/repo-restic" >/dev/null ;;
    borg) BORG_BASE_DIR=$mnt/state-borg borg init -e repokey-blake2 "$mnt/repo-borg" ;;
  esac
}

# The command of each tool, in cmd=(...).
backup_argv() { # TOOL N
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" backup files "$mnt/tree") ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" backup "$mnt/tree") ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" borg create "$mnt/repo-borg::s$2" "$mnt/tree") ;;
  esac
}

restore_argv() { # TOOL TARGET N   (borg extracts into the current directory: measure runs it there)
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" restore files latest --to "$2") ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" restore latest --target "$2") ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" borg extract "$mnt/repo-borg::s$3") ;;
  esac
}

measure() { # RUN TOOL PHASE DIR CMD...
  local run=$1 tool=$2 phase=$3 dir=$4 t
  shift 4
  sync # the previous command's dirty pages must not be written back during this one
  sleep "$pause"
  t=$(mktemp)
  if ! (cd "$dir" && /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$t" "$@" >"$work/last.out" 2>&1); then
    cat "$work/last.out" >&2
    die "$tool $phase failed: $*"
  fi
  printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$phase" "$(tail -1 "$t")" >>"$results"
  say "run $run $tool $phase: $(tail -1 "$t" | cut -f1) s, $(($(tail -1 "$t" | cut -f4) / 1024)) MiB"
  rm -f "$t"
}

printf 'run\ttool\tphase\twall\tuser\tsys\tmaxrss_kib\n' >"$results"
# The 1 % of files that each repetition changes (the same ones every time).
mapfile -t changed < <(find "$mnt/tree" -type f | sort | python3 -c "
import random, sys
files = sys.stdin.read().split()
print('\n'.join(random.Random(7).sample(files, max(1, len(files) // 100))))")

for ((run = 1; run <= runs; run++)); do
  k=$((run % ${#tools[@]}))
  order=("${tools[@]:k}" "${tools[@]:0:k}")
  say "run $run of $runs: ${order[*]}"
  for t in "${order[@]}"; do prepare "$t"; done
  for t in "${order[@]}"; do backup_argv "$t" 1; measure "$run" "$t" first "$mnt" "${cmd[@]}"; done
  for t in "${order[@]}"; do backup_argv "$t" 2; measure "$run" "$t" unchanged "$mnt" "${cmd[@]}"; done
  # change 1 % of the files: a line inserted in the middle, as an editor or an application would
  rm -rf "$mnt/originals" && mkdir -p "$mnt/originals"
  for i in "${!changed[@]}"; do cp -a "${changed[i]}" "$mnt/originals/$i"; done
  python3 - "${changed[@]}" <<'PY'
import sys
for p in sys.argv[1:]:
    with open(p, 'rb') as f:
        d = f.read()
    m = len(d) // 2
    with open(p, 'wb') as f:
        f.write(d[:m] + b'edited by bench/files.sh\n' + d[m:])
PY
  sleep 2
  for t in "${order[@]}"; do backup_argv "$t" 3; measure "$run" "$t" changed "$mnt" "${cmd[@]}"; done
  for t in "${order[@]}"; do
    printf '%s\t%s\trepo_bytes\t%s\t0\t0\t0\n' "$run" "$t" "$(du -sb "$mnt/repo-$t" | cut -f1)" >>"$results"
  done
  for t in "${order[@]}"; do
    target=$mnt/restore-$t
    rm -rf "$target" && mkdir -p "$target"
    restore_argv "$t" "$target" 3
    measure "$run" "$t" restore "$target" "${cmd[@]}"
    if ((run == 1)); then # correctness, once, not timed: every tool keeps the absolute path
      diff -rq "$mnt/tree" "$target$mnt/tree" >/dev/null || die "$t restored something else than the tree"
    fi
    rm -rf "$target"
  done
  for i in "${!changed[@]}"; do cp -a "$mnt/originals/$i" "${changed[i]}"; done
  sleep 2
done

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "$nfiles" "$size_mib" "${tools[@]}" <<'PY'
import csv, statistics, sys
path, nfiles, size, tools = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = list(csv.DictReader(open(path), delimiter='\t'))
runs = sorted({r['run'] for r in rows})
vs = 'labvault' in tools and 'restic' in tools
def med(tool, phase, field):
    return statistics.median(float(r[field]) for r in rows if r['tool'] == tool and r['phase'] == phase)
def rss(tool, phases):  # per run the largest of the phases, then the median over runs
    return statistics.median(max(float(r['maxrss_kib']) for r in rows if r['tool'] == tool and
                                 r['phase'] in phases and r['run'] == run) for run in runs) / 1024
print('Tree: %s files, %s MiB. Medians of %d runs: wall seconds (user + system in parentheses).\n'
      % (nfiles, size, len(runs)))
print('| | ' + ' | '.join(tools) + (' | labvault vs restic |' if vs else ' |'))
print('|---' * (len(tools) + 1 + vs) + '|')
for phase, label in (('first', 'first snapshot'), ('unchanged', 'unchanged re-snapshot'),
                     ('changed', 're-snapshot, 1 % of files changed'), ('restore', 'restore')):
    wall = {t: med(t, phase, 'wall') for t in tools}
    cpu = {t: med(t, phase, 'user') + med(t, phase, 'sys') for t in tools}
    row = '| %s, s | ' % label + ' | '.join('%.2f (%.1f)' % (wall[t], cpu[t]) for t in tools)
    if vs:
        row += ' | %.2fx %s' % (wall['restic'] / wall['labvault'], 'faster' if wall['restic'] >= wall['labvault'] else 'slower')
    print(row + ' |')
for label, fn in (('repository size, MiB', lambda t: med(t, 'repo_bytes', 'wall') / 1048576),
                  ('peak RSS of the backups, MiB', lambda t: rss(t, ('first', 'unchanged', 'changed'))),
                  ('peak RSS of the restore, MiB', lambda t: rss(t, ('restore',)))):
    v = {t: fn(t) for t in tools}
    row = '| %s | ' % label + ' | '.join('%.0f' % v[t] for t in tools)
    if vs:
        row += ' | %.2fx of restic' % (v['labvault'] / v['restic'])
    print(row + ' |')
PY
