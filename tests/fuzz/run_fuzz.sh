#!/usr/bin/env bash
# Run one libFuzzer target briefly (a meson test, see meson.build here).
# Usage: run_fuzz.sh EXE NAME SEED_CORPUS_DIR BUILD_DIR
# LV_FUZZ_RUNS (default 20000) and LV_FUZZ_MAX_TIME (seconds, default 120) bound the run.
set -euo pipefail
exe=$1 name=$2 seeds=$3 work=$4
corpus=$work/corpus-$name
mkdir -p "$corpus" "$work/artifacts"
dirs=("$corpus") # the first directory receives new inputs; the seeds are only read
if [[ -d $seeds ]]; then
  dirs+=("$seeds")
fi
# -error_exitcode=1: libFuzzer's default, 77, is what meson reads as "skipped", so a crash would pass as a skip
exec "$exe" -runs="${LV_FUZZ_RUNS:-20000}" -max_total_time="${LV_FUZZ_MAX_TIME:-120}" -error_exitcode=1 \
  -timeout_exitcode=1 -artifact_prefix="$work/artifacts/$name-" -print_final_stats=1 "${dirs[@]}"
