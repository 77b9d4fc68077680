#!/usr/bin/env bash
# Deduplication in numbers (local repository, so the test measures labvault, not the network):
#   - a second snapshot of an unchanged 200 MiB tree reads no file content (bytes_read == 0) and stores
#     under 1 % new bytes;
#   - inserting one byte at the start of a 100 MiB file stores under 5 MiB (content-defined chunks);
#   - the same content under another name, or in a stream, is not stored again.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

d=$(lv_tmpdir dedup)
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"

src=$d/src
mkdir -p "$src/a" "$src/b"
for i in $(seq 1 50); do head -c $((2 << 20)) /dev/urandom >"$src/a/f$i"; done
for i in $(seq 1 50); do head -c $((2 << 20)) /dev/urandom >"$src/b/g$i"; done
is "$(find "$src" -type f -printf '%s\n' | awk '{s += $1} END {print s}')" $((200 << 20)) "a 200 MiB tree"
sleep 1.1 # files written less than a second before they are read are read again next time

run lv backup files "$src" --json
is "$rc" 0 "first snapshot"
is "$(jget "$out" 'j["bytes_read"]')" $((200 << 20)) "first snapshot reads everything"
is "$(jget "$out" 'j["files_new"]')" 100 "100 new files"

run lv backup files "$src" --json
is "$rc" 0 "second snapshot"
is "$(jget "$out" 'j["bytes_read"]')" 0 "unchanged tree: no file content read"
is "$(jget "$out" 'j["files_unchanged"]')" 100 "all 100 files unchanged (files cache)"
new=$(jget "$out" 'j["bytes_new"]')
stored=$(jget "$out" 'j["bytes_stored"]')
ok "unchanged tree: under 1 % new bytes ($new data, $stored uploaded)" test "$stored" -lt $((2 << 20))
is "$new" 0 "no new data blob at all"

# --- one byte inserted at the start of a 100 MiB file
big=$d/big
mkdir "$big"
head -c $((100 << 20)) /dev/urandom >"$big/file"
sleep 1.1
run lv backup files "$big" --json
is "$rc" 0 "snapshot of a 100 MiB file"
first=$(jget "$out" 'j["bytes_new"]')
{ printf 'X'; cat "$big/file"; } >"$big/file.new"
mv "$big/file.new" "$big/file"
run lv backup files "$big" --json
is "$rc" 0 "snapshot after inserting one byte at the start"
is "$(jget "$out" 'j["files_changed"] + j["files_new"]')" 1 "the file is read again"
new=$(jget "$out" 'j["bytes_new"]')
ok "one byte inserted: under 5 MiB stored (new data $new bytes of $first)" test "$new" -lt $((5 << 20))
run lv restore files latest --to "$d/out" --include "$big/file"
ok "the changed file restores byte for byte" cmp "$big/file" "$d/out$big/file"

# --- the same content elsewhere and as a stream: nothing new
cp "$src/a/f1" "$src/b/copy-of-f1"
run lv backup files "$src" --json
is "$(jget "$out" 'j["bytes_new"]')" 0 "a copied file stores nothing new"
run lv backup files --stdin f1.bin --json <"$src/a/f1"
is "$rc" 0 "backup --stdin"
is "$(jget "$out" 'j["bytes_new"]')" 0 "the same bytes through --stdin store nothing new"

done_testing
