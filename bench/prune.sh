#!/usr/bin/env bash
# bench/prune.sh: forgetting and pruning, labvault against restic and borg (Debian's packages: restic 0.14,
# borg 1.2), on the same history in the same run. The history: LV_BENCH_SNAPSHOTS (30) snapshots of a tree of
# about LV_BENCH_SIZE_MIB (1024) MiB (bench/tree.py: text, random and duplicate files, as bench/files.sh),
# each taken after rewriting LV_BENCH_CHANGE_PCT (3) % of the files with new bytes (bench/tree.py rewrite), so
# that the older versions are referenced only by older snapshots. Then every tool forgets all but the newest
# LV_BENCH_KEEP_LAST (10) with the same policy and reclaims the space:
#   labvault  forget --keep-last 10 --prune
#   restic    forget --keep-last 10 --prune
#   borg      prune --keep-last 10, then compact (borg 1.2 frees segments only in compact)
# Measured for each tool: wall, user + system, peak RSS of that (for borg: both commands, one /usr/bin/time
# around them), and the bytes reclaimed: the repository's size (du -sb) before minus after. Targets (issue
# 16): labvault at least 2x faster than restic, peak RSS no higher than restic's, at least as many bytes
# reclaimed.
# Method (bench/lib.sh, as bench/files.sh): each tool's 30-snapshot repository (and its local state: cache,
# catalog) is built once, not timed; each repetition copies it (cp -a, to the same path: no tool sees a
# moved repository) and times only the forget and prune; sync and a pause before each timed command; the
# order of the tools rotates between repetitions; figures are medians of the repetitions. The copies are
# warm in the page cache for every tool. Each tool runs with its defaults, encrypted (bench/filetools.sh).
# In the first repetition, after the measurement (not timed): each tool lists the number of snapshots kept
# and checks its repository (labvault repo check --read-data, restic check, borg check).
#
# Prerequisites: apt-get install restic borgbackup time (not needed by tests/run).
# Usage: sudo bench/prune.sh [WORKDIR]   (default /var/tmp/lv-bench-prune; needs root for the loop mount)
# Knobs: LABVAULT_BIN (default build/cli/labvault), LV_BENCH_SIZE_MIB (1024), LV_BENCH_SNAPSHOTS (30),
#        LV_BENCH_KEEP_LAST (10), LV_BENCH_CHANGE_PCT (3), LV_BENCH_RUNS (3), LV_BENCH_PAUSE (6 seconds),
#        LV_BENCH_TOOLS ("labvault restic borg"), LV_BENCH_KEEP=1 keeps WORKDIR,
#        LV_BENCH_LOOP_DIO=0 leaves the loop device cached.
# Output: the raw measurements in WORKDIR/results.tsv (kept) and a Markdown table on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/var/tmp/lv-bench-prune}
size_mib=${LV_BENCH_SIZE_MIB:-1024}
snaps=${LV_BENCH_SNAPSHOTS:-30}
keep=${LV_BENCH_KEEP_LAST:-10}
change=${LV_BENCH_CHANGE_PCT:-3}
runs=${LV_BENCH_RUNS:-3}
pause=${LV_BENCH_PAUSE:-6}
read -r -a tools <<<"${LV_BENCH_TOOLS:-labvault restic borg}"
lvbin=$(readlink -f "${LABVAULT_BIN:-$here/../build/cli/labvault}")
. "$here/lib.sh"

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
for p in restic borg mkfs.ext4 python3; do command -v "$p" >/dev/null || die "$p is missing (apt-get install restic borgbackup)"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
((snaps > keep)) || die "LV_BENCH_SNAPSHOTS ($snaps) must exceed LV_BENCH_KEEP_LAST ($keep)"

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
trap 'bench_unmount "$img" "$mnt"' EXIT
# The tree, and per tool a history of about twice the tree (before compression) held twice (built and
# copy); borg wants some 500 MiB free besides.
bench_mount "$img" "$mnt" $((size_mib * 24 + 4096)) "${LV_BENCH_LOOP_DIO:-1}"

# ---------------------------------------------------------------------------------------- the history
say "generating a ${size_mib} MiB tree"
python3 "$here/tree.py" make "$mnt/tree" "$size_mib" >&2
nfiles=$(find "$mnt/tree" -type f | wc -l)
say "tree: $nfiles files, $(du -sh --apparent-size "$mnt/tree" | cut -f1)"
. "$here/filetools.sh"
for t in "${tools[@]}"; do prepare "$t"; done
for ((s = 1; s <= snaps; s++)); do
  if ((s > 1)); then
    say "snapshot $s of $snaps: $(python3 "$here/tree.py" rewrite "$mnt/tree" "$change" "$s")"
  else
    say "snapshot 1 of $snaps"
  fi
  sleep 2 # past the racy-timestamp window of the files caches
  for t in "${tools[@]}"; do
    backup_argv "$t" "$s"
    (cd "$mnt" && "${cmd[@]}") >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; die "$t snapshot $s failed"; }
  done
done
rm -rf "$mnt/tree" # not needed any more: the page cache is the repositories'
mkdir -p "$mnt/base"
for t in "${tools[@]}"; do
  mv "$mnt/repo-$t" "$mnt/state-$t" "$mnt/base/"
  say "$t: $snaps snapshots, repository $(du -sh "$mnt/base/repo-$t" | cut -f1)"
done

# ---------------------------------------------------------------------------------------- forget + prune
forget_argv() { # TOOL
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" forget --keep-last "$keep" --prune) ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" forget --keep-last "$keep"
                 --prune) ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" sh -c 'borg prune --keep-last "$1" "$2" && borg compact "$2"' sh
               "$keep" "$mnt/repo-borg") ;;
  esac
}

verify() { # TOOL: the snapshots kept, and the tool's own check of its repository (not timed)
  local n
  case $1 in
    labvault)
      n=$(LABVAULT_CONFIG=$mnt/lv.conf "$lvbin" --json snapshots | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
      LABVAULT_CONFIG=$mnt/lv.conf "$lvbin" repo check --read-data >"$work/last.out" 2>&1 ;;
    restic)
      n=$(RESTIC_CACHE_DIR=$mnt/state-restic restic -r "$mnt/repo-restic" snapshots --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
      RESTIC_CACHE_DIR=$mnt/state-restic restic -r "$mnt/repo-restic" check >"$work/last.out" 2>&1 ;;
    borg)
      n=$(BORG_BASE_DIR=$mnt/state-borg borg list --short "$mnt/repo-borg" | wc -l)
      BORG_BASE_DIR=$mnt/state-borg borg check "$mnt/repo-borg" >"$work/last.out" 2>&1 ;;
  esac || { cat "$work/last.out" >&2; die "$1: the check of the pruned repository failed"; }
  ((n == keep)) || die "$1 kept $n snapshots, expected $keep"
  say "$1: $n snapshots kept, repository checked"
}

bench_results_header
for ((run = 1; run <= runs; run++)); do
  k=$((run % ${#tools[@]}))
  order=("${tools[@]:k}" "${tools[@]:0:k}")
  say "run $run of $runs: ${order[*]}"
  for t in "${order[@]}"; do
    rm -rf "$mnt/repo-$t" "$mnt/state-$t"
    cp -a "$mnt/base/repo-$t" "$mnt/base/state-$t" "$mnt/"
  done
  for t in "${order[@]}"; do
    bench_record "$run" "$t" bytes_before "$(du -sb "$mnt/repo-$t" | cut -f1)"
    forget_argv "$t"
    bench_measure "$run" "$t" forget "$mnt" "${cmd[@]}"
    bench_record "$run" "$t" bytes_after "$(du -sb "$mnt/repo-$t" | cut -f1)"
    if ((run == 1)); then verify "$t"; fi
  done
done

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "$nfiles" "$size_mib" "$snaps" "$change" "$keep" "${tools[@]}" <<'PY'
import csv, statistics, sys
path, nfiles, size, snaps, change, keep, tools = *sys.argv[1:7], sys.argv[7:]
rows = list(csv.DictReader(open(path), delimiter='\t'))
runs = sorted({r['run'] for r in rows})
vs = 'labvault' in tools and 'restic' in tools
def val(tool, phase, run, field='wall'):
    return next(float(r[field]) for r in rows if r['tool'] == tool and r['phase'] == phase and r['run'] == run)
def med(tool, f):
    return statistics.median(f(tool, run) for run in runs)
wall = {t: med(t, lambda t, r: val(t, 'forget', r)) for t in tools}
cpu = {t: med(t, lambda t, r: val(t, 'forget', r, 'user') + val(t, 'forget', r, 'sys')) for t in tools}
rss = {t: med(t, lambda t, r: val(t, 'forget', r, 'maxrss_kib')) / 1024 for t in tools}
before = {t: med(t, lambda t, r: val(t, 'bytes_before', r)) / 1048576 for t in tools}
after = {t: med(t, lambda t, r: val(t, 'bytes_after', r)) / 1048576 for t in tools}
freed = {t: med(t, lambda t, r: val(t, 'bytes_before', r) - val(t, 'bytes_after', r)) / 1048576 for t in tools}
print('History: %s snapshots of a tree of %s files, %s MiB, each after rewriting %s %% of the files; every tool '
      'forgets all but the last %s and reclaims the space (labvault and restic `forget --keep-last %s --prune`, '
      'borg `prune --keep-last %s` + `compact`). Medians of %d runs: wall seconds (user + system in parentheses).\n'
      % (snaps, nfiles, size, change, keep, keep, keep, len(runs)))
print('| | ' + ' | '.join(tools) + (' | labvault vs restic |' if vs else ' |'))
print('|---' * (len(tools) + 1 + vs) + '|')
row = '| forget + prune, s | ' + ' | '.join('%.2f (%.1f)' % (wall[t], cpu[t]) for t in tools)
if vs:
    row += ' | %.2fx %s' % (wall['restic'] / wall['labvault'], 'faster' if wall['restic'] >= wall['labvault'] else 'slower')
print(row + ' |')
for label, v in (('peak RSS, MiB', rss), ('repository before, MiB', before), ('repository after, MiB', after),
                 ('reclaimed, MiB', freed)):
    row = '| %s | ' % label + ' | '.join('%.0f' % v[t] for t in tools)
    if vs:
        row += ' | %.2fx of restic' % (v['labvault'] / v['restic'] if v['restic'] else 0)
    print(row + ' |')
if vs:
    speed, mem, rec = wall['restic'] / wall['labvault'], rss['labvault'] / rss['restic'], freed['labvault'] - freed['restic']
    print('\nTargets: at least 2x faster than restic: %s (%.2fx); peak RSS no higher than restic\'s: %s (%.2fx); '
          'at least as many bytes reclaimed: %s (%+.0f MiB).' % ('met' if speed >= 2 else 'NOT met', speed,
          'met' if mem <= 1 else 'NOT met', mem, 'met' if rec >= 0 else 'NOT met', rec))
PY
