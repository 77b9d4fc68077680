#!/usr/bin/env bash
# bench/files.sh: file snapshots, labvault against restic and borg (Debian's packages), on the same tree of
# about 1 GiB in many files, in the same run. Measured for each tool:
#   first snapshot | unchanged re-snapshot | re-snapshot after changing 1 % of the files | repository size |
#   peak RSS (of the backups) | restore of the last snapshot (time and peak RSS)
# Method (bench/lib.sh, docs/performance.md): everything happens on a journaled ext4
# image mounted from a sparse file; each timed command is preceded by a sync and a pause; the order of the
# tools rotates from one repetition to the next; each repetition starts with fresh repositories and caches;
# reported figures are medians over the repetitions, from /usr/bin/time (wall, user, system, max RSS).
# The tree (bench/tree.py make) stays in the page cache: every tool reads it warm. Each tool runs with its
# defaults (restic: zstd "auto"; borg: lz4, repokey-blake2; labvault: zstd 3), encrypted, into a local
# directory on the same image.
#
# Usage: sudo bench/files.sh [WORKDIR]   (default /var/tmp/lv-bench; needs root for the loop mount)
# Knobs: LABVAULT_BIN (default build/cli/labvault), LV_BENCH_SIZE_MIB (1024), LV_BENCH_RUNS (3),
#        LV_BENCH_PAUSE (6 seconds), LV_BENCH_TOOLS ("labvault restic borg"), LV_BENCH_KEEP=1 keeps WORKDIR,
#        LV_BENCH_LOOP_DIO=1 gives the loop device direct I/O (default 0 here: cached, as earlier figures).
# Output: the raw measurements in WORKDIR/results.tsv (kept) and a Markdown table on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/var/tmp/lv-bench}
size_mib=${LV_BENCH_SIZE_MIB:-1024}
runs=${LV_BENCH_RUNS:-3}
pause=${LV_BENCH_PAUSE:-6}
read -r -a tools <<<"${LV_BENCH_TOOLS:-labvault restic borg}"
lvbin=${LABVAULT_BIN:-$here/../build/cli/labvault}
. "$here/lib.sh"

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
for p in restic borg mkfs.ext4 python3; do command -v "$p" >/dev/null || die "$p is missing (apt-get install restic borgbackup)"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
trap 'bench_unmount "$img" "$mnt"' EXIT
bench_mount "$img" "$mnt" $((size_mib * 10)) "${LV_BENCH_LOOP_DIO:-0}"

# ---------------------------------------------------------------------------------------- the tree
say "generating a ${size_mib} MiB tree"
python3 "$here/tree.py" make "$mnt/tree" "$size_mib" >&2
nfiles=$(find "$mnt/tree" -type f | wc -l)
say "tree: $nfiles files, $(du -sh --apparent-size "$mnt/tree" | cut -f1)"
sleep 2 # past the racy-timestamp window of the files caches

# ---------------------------------------------------------------------------------------- tools
. "$here/filetools.sh"

restore_argv() { # TOOL TARGET N   (borg extracts into the current directory: measure runs it there)
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" restore files latest --to "$2") ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" restore latest --target "$2") ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" borg extract "$mnt/repo-borg::s$3") ;;
  esac
}

bench_results_header
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
  for t in "${order[@]}"; do backup_argv "$t" 1; bench_measure "$run" "$t" first "$mnt" "${cmd[@]}"; done
  for t in "${order[@]}"; do backup_argv "$t" 2; bench_measure "$run" "$t" unchanged "$mnt" "${cmd[@]}"; done
  # change 1 % of the files: a line inserted in the middle, as an editor or an application would
  rm -rf "$mnt/originals" && mkdir -p "$mnt/originals"
  for i in "${!changed[@]}"; do cp -a "${changed[i]}" "$mnt/originals/$i"; done
  python3 "$here/tree.py" edit "${changed[@]}"
  sleep 2
  for t in "${order[@]}"; do backup_argv "$t" 3; bench_measure "$run" "$t" changed "$mnt" "${cmd[@]}"; done
  for t in "${order[@]}"; do
    bench_record "$run" "$t" repo_bytes "$(du -sb "$mnt/repo-$t" | cut -f1)"
  done
  for t in "${order[@]}"; do
    target=$mnt/restore-$t
    rm -rf "$target" && mkdir -p "$target"
    restore_argv "$t" "$target" 3
    bench_measure "$run" "$t" restore "$target" "${cmd[@]}"
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
