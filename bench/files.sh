#!/usr/bin/env bash
# bench/files.sh: file snapshots, labvault against restic and borg (Debian's packages), in the same run, on
# two cases (LV_BENCH_CASES, default "tree small"):
#   tree   a tree of about 1 GiB in ~13,000 files (bench/tree.py make). Measured for each tool: first snapshot |
#          unchanged re-snapshot | re-snapshot after changing 1 % of the files | repository size | peak RSS (of
#          the backups) | restore of the last snapshot (time and peak RSS)
#   small  1,000,000 files of 20 B to 4 KiB in 2,500 directories (bench/tree.py make --small, issue 20), and
#          200,000 more of the same kind: first snapshot, unchanged re-snapshot, restore, peak RSS, and the
#          peak RSS of a first snapshot of the 200,000 against that of the 1,000,000 (memory must not grow
#          with the number of files). The table prints the issue's targets as met or NOT met: first snapshot
#          at least 1.5x restic's speed, unchanged re-snapshot 3x, restore 1.5x, peak RSS of the backups at
#          most half of restic's, labvault's peak RSS within 10 % from 200,000 to 1,000,000 files.
# Method (bench/lib.sh, docs/performance.md): everything happens on a journaled ext4
# image mounted from a sparse file; each timed command is preceded by a sync and a pause; the order of the
# tools rotates from one repetition to the next; each repetition starts with fresh repositories and caches;
# reported figures are medians over the repetitions, from /usr/bin/time (wall, user, system, max RSS).
# The tree (bench/tree.py make) stays in the page cache: every tool reads it warm. Each tool runs with its
# defaults (restic: zstd "auto"; borg: lz4, repokey-blake2; labvault: zstd 3), encrypted, into a local
# directory on the same image.
#
# Usage: sudo bench/files.sh [WORKDIR]   (default /var/tmp/lv-bench; needs root for the loop mount)
# Knobs: LABVAULT_BIN (default build/cli/labvault), LV_BENCH_CASES ("tree small"), LV_BENCH_SIZE_MIB (1024),
#        LV_BENCH_RUNS (3), LV_BENCH_SMALL_FILES (1000000), LV_BENCH_SMALL_LOW (200000), LV_BENCH_SMALL_RUNS
#        (LV_BENCH_RUNS), LV_BENCH_PAUSE (6 seconds), LV_BENCH_TOOLS ("labvault restic borg"), LV_BENCH_KEEP=1
#        keeps WORKDIR, LV_BENCH_LOOP_DIO=1 gives the loop device direct I/O (default 0 here: cached, as
#        earlier figures). A quick check of the script itself: LV_BENCH_SIZE_MIB=64 LV_BENCH_SMALL_FILES=20000
#        LV_BENCH_SMALL_LOW=5000 LV_BENCH_RUNS=1 LV_BENCH_PAUSE=1. The small case at its default size takes
#        about 30 minutes per run with the three tools (restic and borg take minutes each on it).
# Output: the raw measurements in WORKDIR/results.tsv (kept) and a Markdown table per case on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/var/tmp/lv-bench}
size_mib=${LV_BENCH_SIZE_MIB:-1024}
runs=${LV_BENCH_RUNS:-3}
read -r -a cases <<<"${LV_BENCH_CASES:-tree small}"
small_files=${LV_BENCH_SMALL_FILES:-1000000}
small_low=${LV_BENCH_SMALL_LOW:-200000}
small_runs=${LV_BENCH_SMALL_RUNS:-$runs}
pause=${LV_BENCH_PAUSE:-6}
read -r -a tools <<<"${LV_BENCH_TOOLS:-labvault restic borg}"
lvbin=${LABVAULT_BIN:-$here/../build/cli/labvault}
. "$here/lib.sh"

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
for p in restic borg mkfs.ext4 python3; do command -v "$p" >/dev/null || die "$p is missing (apt-get install restic borgbackup)"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

has_case() { [[ " ${cases[*]} " == *" $1 "* ]]; }
for c in "${cases[@]}"; do [[ $c == tree || $c == small ]] || die "unknown case $c (LV_BENCH_CASES: tree, small)"; done

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
trap 'bench_unmount "$img" "$mnt"' EXIT
# Room: the tree case 10 x its size; the small case 16 KiB per file (the trees, a restore, three
# repositories and their caches), with an inode per 4 KiB (the default, one per 16 KiB, runs out).
img_mib=0
mkfs_opts=()
has_case tree && img_mib=$((img_mib + size_mib * 10))
if has_case small; then
  img_mib=$((img_mib + (small_files + small_low) * 16 / 1024 + 4096))
  mkfs_opts=(-i 4096)
fi
bench_mount "$img" "$mnt" "$img_mib" "${LV_BENCH_LOOP_DIO:-0}" "${mkfs_opts[@]}"

. "$here/filetools.sh"

restore_argv() { # TOOL TARGET N   (borg extracts into the current directory: measure runs it there)
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" restore files latest --to "$2") ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" restore latest --target "$2") ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" borg extract "$mnt/repo-borg::s$3") ;;
  esac
}

bench_results_header

# ---------------------------------------------------------------------------------------- the tree case
tree_case() {
  say "generating a ${size_mib} MiB tree"
  python3 "$here/tree.py" make "$mnt/tree" "$size_mib" >&2
  nfiles=$(find "$mnt/tree" -type f | wc -l)
  say "tree: $nfiles files, $(du -sh --apparent-size "$mnt/tree" | cut -f1)"
  sleep 2 # past the racy-timestamp window of the files caches
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
  rm -rf "$mnt/tree" "$mnt/originals"
}

# ---------------------------------------------------------------------------------------- the small case
small_case() {
  say "generating $small_files small files, and $small_low more for the memory comparison"
  python3 "$here/tree.py" make --small "$small_files" "$mnt/small" >&2
  python3 "$here/tree.py" make --small "$small_low" "$mnt/small-low" >&2
  sleep 2
  for ((run = 1; run <= small_runs; run++)); do
    k=$((run % ${#tools[@]}))
    order=("${tools[@]:k}" "${tools[@]:0:k}")
    say "small files, run $run of $small_runs: ${order[*]}"
    for t in "${order[@]}"; do
      prepare "$t"
      backup_argv "$t" 1 "$mnt/small-low"
      bench_measure "$run" "$t" small_first_low "$mnt" "${cmd[@]}"
    done
    for t in "${order[@]}"; do prepare "$t"; done
    for t in "${order[@]}"; do backup_argv "$t" 1 "$mnt/small"; bench_measure "$run" "$t" small_first "$mnt" "${cmd[@]}"; done
    for t in "${order[@]}"; do backup_argv "$t" 2 "$mnt/small"; bench_measure "$run" "$t" small_unchanged "$mnt" "${cmd[@]}"; done
    for t in "${order[@]}"; do bench_record "$run" "$t" small_repo_bytes "$(du -sb "$mnt/repo-$t" | cut -f1)"; done
    for t in "${order[@]}"; do
      target=$mnt/restore-$t
      rm -rf "$target" && mkdir -p "$target"
      restore_argv "$t" "$target" 2
      bench_measure "$run" "$t" small_restore "$target" "${cmd[@]}"
      if ((run == 1)); then
        diff -rq "$mnt/small" "$target$mnt/small" >/dev/null || die "$t restored something else than the small files"
      fi
      rm -rf "$target"
    done
  done
}

has_case tree && tree_case
has_case small && small_case

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "${nfiles:-0}" "$size_mib" "$small_files" "$small_low" "${tools[@]}" <<'PY'
import csv, statistics, sys
path, nfiles, size, small, low, tools = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]
rows = list(csv.DictReader(open(path), delimiter='\t'))
vs = 'labvault' in tools and 'restic' in tools

def runs_of(phases):
    return sorted({r['run'] for r in rows if r['phase'] in phases})

def med(tool, phase, field):
    return statistics.median(float(r[field]) for r in rows if r['tool'] == tool and r['phase'] == phase)

def rss(tool, phases):  # per run the largest of the phases, then the median over runs
    return statistics.median(max(float(r['maxrss_kib']) for r in rows if r['tool'] == tool and
                                 r['phase'] in phases and r['run'] == run) for run in runs_of(phases)) / 1024

def timing_rows(phases):
    for phase, label in phases:
        wall = {t: med(t, phase, 'wall') for t in tools}
        cpu = {t: med(t, phase, 'user') + med(t, phase, 'sys') for t in tools}
        yield label, wall, cpu

def tree_report():
    n = len(runs_of(('first',)))
    print('Tree: %s files, %s MiB. Medians of %d runs: wall seconds (user + system in parentheses).\n'
          % (nfiles, size, n))
    print('| | ' + ' | '.join(tools) + (' | labvault vs restic |' if vs else ' |'))
    print('|---' * (len(tools) + 1 + vs) + '|')
    for label, wall, cpu in timing_rows((('first', 'first snapshot'), ('unchanged', 'unchanged re-snapshot'),
                                         ('changed', 're-snapshot, 1 % of files changed'), ('restore', 'restore'))):
        row = '| %s, s | ' % label + ' | '.join('%.2f (%.1f)' % (wall[t], cpu[t]) for t in tools)
        if vs:
            row += ' | %.2fx %s' % (wall['restic'] / wall['labvault'],
                                    'faster' if wall['restic'] >= wall['labvault'] else 'slower')
        print(row + ' |')
    for label, fn in (('repository size, MiB', lambda t: med(t, 'repo_bytes', 'wall') / 1048576),
                      ('peak RSS of the backups, MiB', lambda t: rss(t, ('first', 'unchanged', 'changed'))),
                      ('peak RSS of the restore, MiB', lambda t: rss(t, ('restore',)))):
        v = {t: fn(t) for t in tools}
        row = '| %s | ' % label + ' | '.join('%.0f' % v[t] for t in tools)
        if vs:
            row += ' | %.2fx of restic' % (v['labvault'] / v['restic'])
        print(row + ' |')

def verdict(ok):
    return 'met' if ok else '**NOT met**'

def small_report():
    n = len(runs_of(('small_first',)))
    print('\nSmall files (issue 20): %d files of 20 B to 4 KiB, and %d for the memory comparison. Medians of %d '
          'runs: wall seconds (user + system in parentheses).\n' % (small, low, n))
    head = '| | ' + ' | '.join(tools) + (' | labvault vs restic | target | |' if vs else ' |')
    print(head)
    print('|---' * (len(tools) + 1 + (3 if vs else 0)) + '|')
    targets = {'small_first': 1.5, 'small_unchanged': 3.0, 'small_restore': 1.5}
    for (label, wall, cpu), phase in zip(timing_rows((('small_first', 'first snapshot'),
                                                      ('small_unchanged', 'unchanged re-snapshot'),
                                                      ('small_restore', 'restore'))),
                                         ('small_first', 'small_unchanged', 'small_restore')):
        row = '| %s, s | ' % label + ' | '.join('%.2f (%.1f)' % (wall[t], cpu[t]) for t in tools)
        if vs:
            x = wall['restic'] / wall['labvault']
            row += ' | %.2fx %s | at least %.1fx faster | %s' % (x, 'faster' if x >= 1 else 'slower', targets[phase],
                                                                verdict(x >= targets[phase]))
        print(row + ' |')
    repo = {t: med(t, 'small_repo_bytes', 'wall') / 1048576 for t in tools}
    print('| repository size, MiB | ' + ' | '.join('%.0f' % repo[t] for t in tools) +
          (' | %.2fx of restic | | |' % (repo['labvault'] / repo['restic']) if vs else ' |'))
    peak = {t: rss(t, ('small_first', 'small_unchanged')) for t in tools}
    row = '| peak RSS of the backups, MiB | ' + ' | '.join('%.0f' % peak[t] for t in tools)
    if vs:
        x = peak['labvault'] / peak['restic']
        row += ' | %.2fx of restic | at most 0.5x of restic | %s' % (x, verdict(x <= 0.5))
    print(row + ' |')
    lo = {t: rss(t, ('small_first_low',)) for t in tools}
    hi = {t: rss(t, ('small_first',)) for t in tools}
    print('| peak RSS, first snapshot of %d files, MiB | ' % low + ' | '.join('%.0f' % lo[t] for t in tools) +
          (' | | | |' if vs else ' |'))
    print('| peak RSS, first snapshot of %d files, MiB | ' % small + ' | '.join('%.0f' % hi[t] for t in tools) +
          (' | | | |' if vs else ' |'))
    if 'labvault' in tools:
        g = hi['labvault'] / lo['labvault'] - 1
        print('| growth of labvault\'s peak RSS from %d to %d files | %+.1f %% |' % (low, small, 100 * g) +
              ' |' * (len(tools) - 1) + (' | within 10 %% | %s |' % verdict(abs(g) <= 0.10) if vs else ''))

if runs_of(('first',)):
    tree_report()
if runs_of(('small_first',)):
    small_report()
PY
