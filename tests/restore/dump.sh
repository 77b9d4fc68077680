#!/usr/bin/env bash
# `labvault dump SNAPSHOT PATH` and `labvault find PATTERN`, with the snapshot filters (--host, --tag,
# --path) of `snapshots`, `find` and "latest", on a local and an S3 repository:
#   - dump writes a file's exact bytes to stdout: small, 40 MiB of random data (more than one fetch batch),
#     sparse (holes as zeros), a symlink's target, a directory as a tar stream that extracts identical;
#   - a missing path is exit 1 naming it, a FIFO exit 2, a corrupt chunk exit 6 naming the file;
#   - find lists each matching entry of each snapshot, newest first, with a header; exit 1 when none matches;
#   - snapshots --host/--tag/--path narrow the list; latest with them is the newest matching snapshot.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_require_services s3
lv_clean_env
d=$(lv_tmpdir dump)
src=$d/src
mkdir -p "$src/etc/app" "$src/data"
printf 'listen 80;\n' >"$src/etc/app/app.conf"
printf 'old\n' >"$src/etc/app/old.conf.bak"
head -c $((40 << 20)) /dev/urandom >"$src/data/big.bin"
truncate -s 30M "$src/data/sparse" && printf 'tail' >>"$src/data/sparse"
dd if=/dev/urandom of="$src/data/sparse" bs=4096 seek=1000 count=3 conv=notrunc status=none
ln -s app.conf "$src/etc/app/current"
mkfifo "$src/etc/app/fifo"

for kind in local s3; do
  if [[ $kind == s3 ]]; then
    bucket=$(lv_s3_bucket dump)
    files_conf "$d/$kind.conf" "s3://$bucket/r"
  else
    files_conf "$d/$kind.conf" "$d/repo"
  fi
  lv repo init >/dev/null 2>&1
  run lv backup files "$src" --tag nightly --json
  is "$rc" 0 "$kind: backup"
  first=$(jget "$out" 'j["id"]')
  run lv backup files "$src/etc" --host elsewhere --tag config --tag nightly --json
  second=$(jget "$out" 'j["id"]')

  # dump: files, exactly
  lv dump --host "$(hostname)" latest "$src/etc/app/app.conf" >"$d/out"
  ok "$kind: dump of a small file: its bytes" cmp "$d/out" "$src/etc/app/app.conf"
  lv dump "$first" "$src/data/big.bin" >"$d/out"
  ok "$kind: dump of 40 MiB (two fetch batches): its bytes" cmp "$d/out" "$src/data/big.bin"
  lv dump --tag nightly --path "$src" latest "$src/data/sparse" >"$d/out"
  ok "$kind: dump of a sparse file: holes as zeros, the data and the tail in place" cmp "$d/out" "$src/data/sparse"
  is "$(lv dump "$first" "$src/etc/app/current")" "app.conf" "$kind: dump of a symlink: its target"
  rm -rf "$d/x" && mkdir "$d/x"
  lv dump "${second:0:8}" "$src/etc/app" | tar -x -C "$d/x" -f - 2>/dev/null
  ok "$kind: dump of a directory: a tar stream that extracts identical" \
    diff -r --no-dereference --exclude fifo "$src/etc/app" "$d/x$src/etc/app"
  ok "$kind: ... the FIFO in it as a FIFO" test -p "$d/x$src/etc/app/fifo"
  run lv dump latest "$src/nothing"
  is "$rc:$err" "1:labvault: $src/nothing is not in snapshot ${second:0:12}" "$kind: a missing path: exit 1 naming it"
  run lv dump "$first" "$src/etc/app/fifo"
  is "$rc" 2 "$kind: a FIFO cannot be dumped: exit 2"
  like "$err" "^labvault: $src/etc/app/fifo is a fifo" "... one line naming it"
  run lv dump latest "$src/etc/app/app.conf" --json
  is "$rc" 2 "$kind: dump --json: exit 2 (standard output is the file)"

  # find
  run lv find '*.conf'
  is "$rc" 0 "$kind: find '*.conf'"
  is "$(sed -n 1p <<<"$out" | tr -s ' ')" "SNAPSHOT MODE USER GROUP SIZE MODIFIED PATH" "$kind: ... a header line"
  is "$(awk 'NR > 1 {print substr($1, 1, 12), $NF}' <<<"$out")" \
    "${second:0:12} $src/etc/app/app.conf
${first:0:12} $src/etc/app/app.conf" "$kind: ... each matching entry of each snapshot, newest first"
  run lv find "$src/data/*" --host elsewhere
  is "$rc:$out" "1:" "$kind: find in the snapshots of one host: none holds it, exit 1, no header"
  like "$err" "no entry matches in 1 snapshot" "... saying where it looked"
  run lv find "$src/data/*" '*.bak' --snapshot "${first:0:8}" --json
  is "$(python3 -c 'import json,sys; print(sorted((j["snapshot"][:12], j["path"], j["type"]) for j in map(json.loads, sys.stdin)))' <<<"$out")" \
    "[('${first:0:12}', '${src#/}/data/big.bin', 'file'), ('${first:0:12}', '${src#/}/data/sparse', 'file'), ('${first:0:12}', '${src#/}/etc/app/old.conf.bak', 'file')]" \
    "$kind: find with two patterns (a path, a name) in one snapshot, --json"

  # filters of snapshots
  run lv snapshots --host elsewhere --json
  is "$(jget "$out" '[s["id"] for s in j]')" "['$second']" "$kind: snapshots --host"
  run lv snapshots --tag nightly --json
  is "$(jget "$out" '[s["id"] for s in j]')" "['$first', '$second']" "$kind: snapshots --tag (a tag both have)"
  run lv snapshots --tag config,nightly --json
  is "$(jget "$out" '[s["id"] for s in j]')" "['$second']" "$kind: snapshots --tag a,b (both tags)"
  run lv snapshots --tag config --tag missing --path "$src/" --json
  is "$(jget "$out" '[s["id"] for s in j]')" "[]" "$kind: --tag groups and --path together (none has both)"
  run lv snapshots --path "$src/"
  is "$(awk 'NR > 1 {print $1}' <<<"$out")" "${first:0:12}" "$kind: snapshots --path (a trailing slash ignored), with its header"
  run lv ls --host nowhere latest
  is "$rc:$err" "1:labvault: no files snapshot matches --host nowhere (\`labvault snapshots\` lists them)" \
    "$kind: latest with a filter nothing matches: exit 1 naming the filter"
done

# --- a corrupt chunk: dump fails, exit 6, naming the file (local repository, one file in its own pack)
c=$d/corrupt
files_conf "$d/c.conf" "$c/repo"
lv repo init >/dev/null 2>&1
mkdir -p "$c/src" "$c/other"
head -c 300000 /dev/urandom >"$c/src/precious.bin"
run lv backup files "$c/src" --json
id_c=$(jget "$out" 'j["id"]')
head -c 1000 /dev/urandom >"$c/other/f"
lv backup files "$c/other" >/dev/null
pack=$(find "$c/repo/data" -type f -printf '%T@ %p\n' | sort -n | head -1 | cut -d' ' -f2)
lv_flip_byte "$pack" $(($(stat -c %s "$pack") / 2))
run lv dump "$id_c" "$c/src/precious.bin"
is "$rc" 6 "a corrupt chunk: exit 6"
like "$err" "^labvault: $c/src/precious\.bin: " "... one line naming the file"
is "${#out}" 0 "... and not a byte of the damaged chunk was written"

done_testing
