# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced by files.sh, pg.sh, prune.sh, prune_scale.sh).
# The method it implements (docs/performance.md, Method):
#   - the work area is a journaled ext4 image mounted from a sparse file (the root file system here has no
#     journal, which distorts file creation after deletions);
#   - each timed command is preceded by a sync (with this much RAM, dirty pages of the previous command
#     linger for up to 30 s, and their writeback would be charged to whoever runs next) and a pause
#     (memory freed by the previous command has gone back to the host, so its first-touch cost is the
#     same for every tool);
#   - /usr/bin/time gives wall, user, system seconds and max RSS; one line per measurement in a TSV file
#     (run, tool, phase, wall, user, sys, maxrss_kib), from which each script's report takes medians.
# The caller sets: work (its work directory), results (the TSV file), pause (seconds).

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# bench_mount IMG MNT SIZE_MIB DIO [MKFS_OPTION...]: a fresh journaled ext4 image of SIZE_MIB (sparse) at MNT
# (options for mkfs.ext4 after DIO, e.g. -i 4096 for a bench of millions of small files, which needs more
# inodes than the default of one per 16 KiB). DIO=1 makes the
# loop device read and write its backing file with direct I/O, as a disk would; otherwise every block is
# cached twice (in the image's file system and in the backing file's), and the second copy pays this VM's
# first-touch cost of fresh memory in the loop's kernel thread, adding noise to every figure.
bench_mount() {
  local img=$1 mnt=$2 size=$3 dio=$4 dev
  shift 4
  rm -f "$img"
  truncate -s "${size}M" "$img"
  mkfs.ext4 -q -F "$@" "$img"
  mkdir -p "$mnt"
  mount -o loop "$img" "$mnt"
  dev=$(findmnt -no SOURCE "$mnt")
  if [[ $dio == 1 ]]; then
    losetup --direct-io=on "$dev" || say "the loop device refused direct I/O: cached"
  fi
  dumpe2fs -h "$dev" 2>/dev/null | grep -q has_journal || die "the image has no journal"
  chmod 755 "$mnt"
  say "work area: journaled ext4 on $img at $mnt (loop direct I/O: $(cat /sys/block/"$(basename "$dev")"/loop/dio 2>/dev/null || echo '?'))"
}

# bench_unmount IMG MNT: for the EXIT trap; MNT itself stays when LV_BENCH_KEEP is set.
bench_unmount() {
  local img=$1 mnt=$2
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || say "could not unmount $mnt"; fi
  rm -f "$img"
  [[ -n ${LV_BENCH_KEEP:-} ]] || rm -rf "$mnt"
}

bench_results_header() { printf 'run\ttool\tphase\twall\tuser\tsys\tmaxrss_kib\n' >"$results"; }

# bench_measure RUN TOOL PHASE DIR CMD...: run CMD in DIR, timed, after sync and the pause; its output goes
# to $work/last.out (shown when it fails, which stops the bench).
bench_measure() {
  local run=$1 tool=$2 phase=$3 dir=$4 t
  shift 4
  sync
  sleep "$pause"
  t=$(mktemp)
  if ! (cd "$dir" && /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$t" "$@" >"$work/last.out" 2>&1); then
    cat "$work/last.out" >&2
    rm -f "$t"
    die "$tool $phase failed: $*"
  fi
  printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$phase" "$(tail -1 "$t")" >>"$results"
  say "run $run $tool $phase: $(tail -1 "$t" | cut -f1) s, $(($(tail -1 "$t" | cut -f4) / 1024)) MiB"
  rm -f "$t"
}

# bench_record RUN TOOL PHASE VALUE: a value that is not a timing (a size), in the wall column.
bench_record() { printf '%s\t%s\t%s\t%s\t0\t0\t0\n' "$@" >>"$results"; }
