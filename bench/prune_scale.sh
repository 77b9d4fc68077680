#!/usr/bin/env bash
# bench/prune_scale.sh: prune's peak memory and time on a repository of millions of blobs (issue 16's target:
# 2 million blobs under 150 MiB peak RSS). bench/synth_repo fills a fresh local repository, through the real
# packer, with LV_BENCH_BLOBS (2,000,000) small blobs in real packs and index objects, and LV_BENCH_MANIFESTS
# (20) PostgreSQL backup manifests that reference them (each the blobs of its own generation and of the
# previous one; see bench/synth_repo.c for the layouts). `labvault forget --kind pg --keep-last` half of them
# (not timed) leaves about 45 % of the blobs unreferenced; then `labvault prune` is timed.
# LV_BENCH_LAYOUT=contiguous (default): each generation's blobs fill packs of their own, so prune mostly
# deletes whole packs; scattered: every pack holds every generation, so prune repacks every pack.
# Method (bench/lib.sh, as bench/prune.sh): the repository (and its catalog) is built once, not timed; each
# repetition copies it (cp -a, to the same path) and times `labvault prune` alone, after a sync and a pause;
# medians of the repetitions, from /usr/bin/time. In the first repetition (not timed): `repo check` of the
# pruned repository, and the number of backups left.
#
# Usage: sudo bench/prune_scale.sh [WORKDIR]   (default /var/tmp/lv-bench-prune-scale; root for the loop mount)
# Knobs: LABVAULT_BIN (build/cli/labvault; synth_repo is taken from the same build directory, or
#        LV_BENCH_SYNTH), LV_BENCH_BLOBS (2000000), LV_BENCH_MANIFESTS (20), LV_BENCH_BLOB_BYTES (512),
#        LV_BENCH_PACK_KIB (64), LV_BENCH_LAYOUT (contiguous or scattered), LV_BENCH_RUNS (3),
#        LV_BENCH_PAUSE (6), LV_BENCH_KEEP=1 keeps WORKDIR, LV_BENCH_LOOP_DIO=0 leaves the loop device cached.
# Output: the raw measurements in WORKDIR/results.tsv (kept) and a Markdown table on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/var/tmp/lv-bench-prune-scale}
blobs=${LV_BENCH_BLOBS:-2000000}
manifests=${LV_BENCH_MANIFESTS:-20}
blob_bytes=${LV_BENCH_BLOB_BYTES:-512}
pack_kib=${LV_BENCH_PACK_KIB:-64}
layout=${LV_BENCH_LAYOUT:-contiguous}
runs=${LV_BENCH_RUNS:-3}
pause=${LV_BENCH_PAUSE:-6}
lvbin=$(readlink -f "${LABVAULT_BIN:-$here/../build/cli/labvault}")
synth=$(readlink -f "${LV_BENCH_SYNTH:-$(dirname "$lvbin")/../bench/synth_repo}")
. "$here/lib.sh"

((EUID == 0)) || die "needs root (loop mount of the benchmark file system)"
[[ -x $lvbin ]] || die "labvault not found at $lvbin (set LABVAULT_BIN)"
[[ -x $synth ]] || die "synth_repo not found at $synth (ninja -C BUILD bench/synth_repo, or set LV_BENCH_SYNTH)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
case $layout in
  contiguous) scatter=() ;;
  scattered) scatter=(-s) ;;
  *) die "LV_BENCH_LAYOUT: contiguous or scattered, not $layout" ;;
esac

mkdir -p "$work"
img=$work/fs.img
mnt=$work/mnt
results=$work/results.tsv
trap 'bench_unmount "$img" "$mnt"' EXIT
# packs, index and catalog take about 4 times the blob bytes per blob's 300 bytes of overhead; twice (copy)
bench_mount "$img" "$mnt" $((blobs * (blob_bytes + 300) * 4 / 1048576 + 4096)) "${LV_BENCH_LOOP_DIO:-1}"

# ---------------------------------------------------------------------------------------- the repository
mkdir -p "$mnt/state"
cat >"$mnt/lv.conf" <<CONF
[global]
repo = $mnt/repo
catalog = $mnt/state/catalog.db
key-file = $mnt/state/key
log-level = warn
CONF
lv() { LABVAULT_CONFIG=$mnt/lv.conf "$lvbin" "$@"; }
lv repo init >/dev/null 2>&1 || die "labvault repo init failed"
say "synth_repo: $blobs blobs of $blob_bytes bytes in packs of $pack_kib KiB, $manifests manifests, $layout"
line=$("$synth" -n "$blobs" -m "$manifests" -b "$blob_bytes" -p "$pack_kib" "${scatter[@]}" "$mnt/repo" \
  "$mnt/state/key" "$mnt/state/catalog.db") || die "synth_repo failed"
say "  $line"
keep=$((manifests / 2))
lv forget --kind pg --keep-last "$keep" >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; die "forget failed"; }
say "forgot the $((manifests - keep)) oldest backups (not timed)"
mkdir -p "$mnt/base"
mv "$mnt/repo" "$mnt/state" "$mnt/base/"
say "repository: $(du -sh "$mnt/base/repo" | cut -f1), $(find "$mnt/base/repo/data" -type f | wc -l) packs, catalog $(du -sh "$mnt/base/state" | cut -f1)"

# ---------------------------------------------------------------------------------------- prune
bench_results_header
for ((run = 1; run <= runs; run++)); do
  say "run $run of $runs"
  rm -rf "$mnt/repo" "$mnt/state"
  cp -a "$mnt/base/repo" "$mnt/base/state" "$mnt/"
  bench_record "$run" labvault bytes_before "$(du -sb "$mnt/repo" | cut -f1)"
  bench_measure "$run" labvault prune "$mnt" env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" --json prune
  bench_record "$run" labvault bytes_after "$(du -sb "$mnt/repo" | cut -f1)"
  # prune's own figures
  python3 - "$work/last.out" "$run" >>"$results" <<'PY'
import json, sys
j = json.loads([l for l in open(sys.argv[1]) if l.startswith('{')][-1])
for k in ('blobs', 'blobs_referenced', 'packs', 'packs_to_delete', 'packs_to_repack', 'packs_written',
          'packs_deleted', 'indexes_before', 'indexes_after', 'bytes_written'):
    print('%s\tlabvault\t%s\t%s\t0\t0\t0' % (sys.argv[2], k, j[k]))
PY
  if ((run == 1)); then
    lv repo check >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; die "repo check of the pruned repository failed"; }
    n=$(lv --json backups | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["backups"]))')
    ((n == keep)) || die "$n backups left, expected $keep"
    say "pruned repository checked, $n backups"
  fi
done

# ---------------------------------------------------------------------------------------- report
python3 - "$results" "$blobs" "$blob_bytes" "$pack_kib" "$manifests" "$keep" "$layout" <<'PY'
import csv, statistics, sys
path, blobs, bsz, pack, nman, keep, layout = sys.argv[1:8]
rows = list(csv.DictReader(open(path), delimiter='\t'))
runs = sorted({r['run'] for r in rows})
def val(phase, run, field='wall'):
    return next(float(r[field]) for r in rows if r['phase'] == phase and r['run'] == run)
def med(f):
    return statistics.median(f(run) for run in runs)
wall = med(lambda r: val('prune', r))
cpu = med(lambda r: val('prune', r, 'user') + val('prune', r, 'sys'))
rss = med(lambda r: val('prune', r, 'maxrss_kib')) / 1024
print('Repository: %s blobs of %s bytes (bench/synth_repo, %s layout) in packs of %s KiB, %s PostgreSQL backups, '
      'the %d oldest forgotten. `labvault prune`, medians of %d runs.\n'
      % (blobs, bsz, layout, pack, nman, int(nman) - int(keep), len(runs)))
print('| | labvault prune |')
print('|---|---|')
print('| wall, s (user + system) | %.2f (%.1f) |' % (wall, cpu))
print('| peak RSS, MiB | %.0f |' % rss)
for phase, label in (('bytes_before', 'repository before, MiB'), ('bytes_after', 'repository after, MiB')):
    print('| %s | %.0f |' % (label, med(lambda r: val(phase, r)) / 1048576))
print('| blobs referenced / stored | %d / %d |' % (med(lambda r: val('blobs_referenced', r)), med(lambda r: val('blobs', r))))
print('| packs before; deleted, repacked, written | %d; %d, %d, %d |' % tuple(med(lambda r: val(k, r)) for k in (
    'packs', 'packs_deleted', 'packs_to_repack', 'packs_written')))
print('| index objects before / after | %d / %d |' % (med(lambda r: val('indexes_before', r)), med(lambda r: val('indexes_after', r))))
print('\nTarget: peak RSS under 150 MiB for 2 million blobs: %s (%.0f MiB for %s blobs).'
      % ('met' if rss < 150 else 'NOT met', rss, blobs))
PY
