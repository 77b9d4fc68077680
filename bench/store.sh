#!/usr/bin/env bash
# Raw storage throughput: the ceiling that labvault's own figures are measured against.
#   1. local: cp of MIB files of 1 MiB, then sync (the file system's own rate);
#   2. local: store_bench on file://DIR (each object written to a temporary name, fsynced, renamed,
#      directory fsynced: what a real put costs);
#   3. S3, when LABVAULT_S3_* or LV_TEST_S3_* name a server: store_bench, plain signed PUTs and GETs;
#   4. the blob-store bench (compressed + encrypted pack path), when it is built: see the hook below.
# Every line of results has the same form: PHASE url=... objects=N object_kib=K threads=J seconds=S mib_s=R
#
# Usage: bench/store.sh [BUILD_DIR]            (default: build; needs BUILD_DIR/bench/store_bench)
# Knobs: MIB (default 256), THREADS (default "1 2": the issue's 2 cores), LEVEL (the blob store's zstd
# level; default the repository default, 3), RUNS (default 3: the whole
# sequence is repeated and the ratios are taken between medians, because single runs here vary up to 2.5x
# for cp alone), BENCH_DIR (work area; default $TMPDIR or /tmp).
# Run it under tests/harness/with-services.sh to get an S3 server.
#
# Two traps of these machines (docs/performance.md, Method): each timed command waits 6 s
# first, because freed memory goes back to the host and touching it again is slow; and the work area's
# journal state is printed, because ext4 without a journal slows file creation after deletions (point
# BENCH_DIR at a journaled file system for figures you quote). Take the median of several runs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
build=${1:-$root/build}
bin=$build/bench/store_bench
if [[ ! -x $bin ]]; then
  echo "store.sh: $bin is not built (meson setup $build && ninja -C $build)" >&2
  exit 2
fi
MIB=${MIB:-256}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-3}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/lv-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$(mktemp)
exec > >(tee "$results")
settle() { sync; sleep 6; }

dev=$(df --output=source "$work" | tail -n 1)
fstype=$(df --output=fstype "$work" | tail -n 1)
journal=n/a
if [[ $fstype == ext4 ]] && command -v tune2fs >/dev/null; then
  if tune2fs -l "$dev" 2>/dev/null | grep -q has_journal; then journal=yes; else journal=no; fi
fi
echo "# work area $work on $dev ($fstype, journal: $journal), $MIB MiB per run"

mkdir "$work/src"
for ((i = 0; i < MIB; i++)); do head -c 1048576 /dev/urandom >"$work/src/f$i"; done
TIMEFORMAT=%R
for ((run = 1; run <= RUNS; run++)); do
  echo "# run $run of $RUNS"
  # 1. cp baseline
  settle
  secs=$({ time { cp -r "$work/src" "$work/dst" && sync; }; } 2>&1)
  awk -v t="$secs" -v m="$MIB" 'BEGIN { printf "cp url=local objects=%d object_kib=1024 threads=1 seconds=%.3f mib_s=%.1f\n", m, t, m / t }'
  rm -rf "$work/dst"

  # 2. the local driver
  for j in $THREADS; do
    settle
    "$bin" -n "$MIB" -j "$j" "file://$work/repo"
    rm -rf "$work/repo"
  done

  # 3. S3 (a bucket of its own, removed after each run)
  if [[ -n ${LABVAULT_S3_ENDPOINT:-${LV_TEST_S3_ENDPOINT:-}} ]]; then
    for j in $THREADS; do
      settle
      "$bin" -n "$MIB" -j "$j" -d "s3://lv-bench-$$-$run-$j"
    done
  else
    echo "# S3 skipped: set LABVAULT_S3_* (or run under tests/harness/with-services.sh)"
  fi

  # 4. Hook: the blob-store bench (repository layer: compress, encrypt, pack, put; bench/blob_bench.c,
  #    owned by the repository engineer). Its interface: blob_bench [-n MIB] [-d mixed|text|random]
  #    [-w WORKERS] URL, URL being a path that holds no repository yet or s3://bucket/prefix (credentials
  #    from LV_TEST_S3_*); it prints one key=value line. "random" data is the fair comparison with the raw
  #    rates above (same incompressible bytes); MODES adds others. Its S3 buckets are left in place.
  blob=$build/bench/blob_bench
  MODES=${MODES:-random mixed}
  level_opt=(); [[ -n ${LEVEL:-} ]] && level_opt=(-l "$LEVEL")
  if [[ -x $blob ]]; then
    for mode in $MODES; do
      for j in $THREADS; do
        settle
        echo "blob-store url=local workers=$j level=${LEVEL:-3} $("$blob" -n "$MIB" -d "$mode" -w "$j" "${level_opt[@]}" "$work/blobrepo-$mode-$j")"
        rm -rf "$work/blobrepo-$mode-$j"
        if [[ -n ${LV_TEST_S3_ENDPOINT:-} ]]; then
          settle
          echo "blob-store url=s3 workers=$j level=${LEVEL:-3} $("$blob" -n "$MIB" -d "$mode" -w "$j" "${level_opt[@]}" "s3://lv-blob-bench-$$-$run-$mode-$j/repo")"
        fi
      done
    done
  else
    echo "# blob-store bench: $blob not built yet"
  fi
done
rm -rf "$work/src"

# 5. Ratios: labvault's compressed + encrypted blob store against the raw rate of the same bytes, in this
#    run, between medians over the runs (issue target: at least 70 %). Local: against cp + sync; S3: against plain signed PUTs with as
#    many threads as the blob store had workers.
sleep 1 # let tee flush
awk '
  function val(line, k,   m) { if (match(line, k "=[0-9.]+")) { m = substr(line, RSTART, RLENGTH); sub(/.*=/, "", m); return m + 0 } return -1 }
  function add(key, v) { n[key]++; x[key, n[key]] = v }
  function median(key,   i, j, t, a) {
    for (i = 1; i <= n[key]; i++) a[i] = x[key, i]
    for (i = 2; i <= n[key]; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n[key] % 2 ? a[(n[key] + 1) / 2] : (a[n[key] / 2] + a[n[key] / 2 + 1]) / 2
  }
  /^cp / { add("cp", val($0, "mib_s")) }
  /^put / && /url=s3/ { add("put" val($0, "threads"), val($0, "mib_s")) }
  /^blob-store/ {
    mode = $0; sub(/.*mode=/, "", mode); sub(/ .*/, "", mode)
    where = $0 ~ /url=s3/ ? "s3" : "local"
    k = where " " mode " " val($0, "workers"); add(k, val($0, "mib_per_s")); keys[k] = 1
  }
  END {
    for (k in keys) {
      split(k, f, " "); r = median(k)
      if (f[1] == "local" && n["cp"]) printf "ratio local %-6s workers=%d level='"${LEVEL:-3}"': %.0f%% of cp (medians of %d: %.1f / %.1f MiB/s)\n", f[2], f[3], 100 * r / median("cp"), n[k], r, median("cp")
      if (f[1] == "s3" && n["put" f[3]]) printf "ratio s3    %-6s workers=%d level='"${LEVEL:-3}"': %.0f%% of signed PUTs with %d threads (medians of %d: %.1f / %.1f MiB/s)\n", f[2], f[3], 100 * r / median("put" f[3]), f[3], n[k], r, median("put" f[3])
    }
  }' "$results" | sort
rm -f "$results"
