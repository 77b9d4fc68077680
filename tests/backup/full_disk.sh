#!/usr/bin/env bash
# A local repository that fills up during `backup files` (a 24 MiB tmpfs, 64 MiB of incompressible files;
# packs are streamed into temporary files under data/, repo/blobstore.h): the backup fails with one line
# naming the cause and the pack's file, exit 11 (io), commits nothing, and leaves under data/ only
# complete packs (no temporary file); once there is room, repo check --read-data passes and the next
# backup succeeds and restores byte for byte. Needs root (mounts a tmpfs).
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

((EUID == 0)) || plan skip_all "needs root to mount a tmpfs"

d=$(lv_tmpdir fulldisk)
mkdir "$d/small"
mount -t tmpfs -o size=24m tmpfs "$d/small"
lv_at_exit umount -l "$d/small"
files_conf "$d/lv.conf" "$d/small/repo" # the catalog and the key stay outside the small file system
run lv repo init
is "$rc" 0 "repo init on a 24 MiB tmpfs"

mkdir "$d/src"
for i in $(seq 1 16); do head -c $((4 << 20)) /dev/urandom >"$d/src/f$i"; done
sleep 1.1 # files written less than a second before they are read are read again next time

run lv backup files "$d/src"
is "$rc" 11 "64 MiB of random files into 24 MiB: exit 11 (io)"
is "$(printf '%s\n' "$err" | grep -c .)" 1 "one line on stderr ($err)"
like "$err" "^labvault: .*[Nn]o space left on device" "... saying why"
like "$err" "data/pack\\.tmp-[0-9]+-[0-9a-f]+" "... naming the pack's temporary file"
is "$(find "$d/small/repo/manifests" -type f 2>/dev/null | wc -l)" 0 "no manifest committed"
is "$(find "$d/small/repo" -name '*.tmp-*' | wc -l)" 0 "no temporary file left in the repository"
packs=$(find "$d/small/repo/data" -type f | wc -l)
ok "the packs that were completed stay ($packs)" test "$packs" -ge 1
bad=$(find "$d/small/repo/data" -type f -regextype posix-extended ! -regex '.*/data/[0-9a-f]{2}/[0-9a-f]{64}' | wc -l)
is "$bad" 0 "every file under data/ is named like a pack"

mount -o remount,size=256m "$d/small"
run lv repo check --read-data
is "$rc" 0 "with room again, repo check --read-data passes: every pack under data/ is complete ${err:+($err)}"
run lv backup files "$d/src"
is "$rc" 0 "the next backup succeeds ${err:+($err)}"
run lv restore files latest --to "$d/out"
is "$rc" 0 "and restores"
ok "... byte for byte" diff -r "$d/src" "$d/out${d}/src"

done_testing
