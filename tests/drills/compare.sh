#!/usr/bin/env bash
# The files drill's comparison finds every kind of difference between a restored tree and its snapshot:
# a drill is kept (--keep), its restored tree changed in one way per entry (content, a hole filled, size,
# mode, owner, mtime, symlink target, xattr, type, a missing entry), and each change is reported on its own,
# naming the entry and what differs; the untouched tree compares clean. No services needed.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

helper=${LV_BUILD_ROOT:?}/tests/drills/compare_helper
w=$(lv_tmpdir compare)
files_conf "$w/lv.conf" "$w/repo"
printf '[drill]\nscratch-dir = %s/scratch\n' "$w" >>"$w/lv.conf"
lv repo init >/dev/null 2>&1
make_tree "$w/src"
lv backup files "$w/src" >/dev/null
run lv drill run --latest-snapshot --keep
is "$rc" 0 "the drill passes and keeps its scratch directory"
t=$(ls -d "$w"/scratch/drill-*/files)/${w#/}/src
ok "the restored tree is there" test -f "$t/dir/hello.txt"
cmp_run() { run "$helper" "$w/repo" "$w/key" "$w/lv.db" latest "$(ls -d "$w"/scratch/drill-*/files)"; }
cmp_run
is "$rc" 0 "the untouched restored tree compares clean"
like "$out" "ok compare: [0-9]+ entries compared with the snapshot, 0 differ" "every entry compared"

# one change per entry, keeping the mtimes where the change is not about them
keep_time() { touch -h -r "$w/src/${1}" "$t/$1"; }
printf 'X' | dd of="$t/dir/sub/random.bin" bs=1 seek=1234567 conv=notrunc status=none
keep_time dir/sub/random.bin
printf 'hole' | dd of="$t/sparse" bs=1 seek=$((30 << 20)) conv=notrunc status=none
keep_time sparse
truncate -s 3 "$t/links/a"
keep_time links/a
chmod 0600 "$t/dir/readonly"
touch -d '2001-01-01 00:00:00' "$t/empty"
rm "$t/links/rel" && ln -s ../dir/other "$t/links/rel"
if as_root; then chown -h 4321:8765 "$t/links/rel"; fi
keep_time links/rel
setfattr -n user.comment -v 'another comment' "$t/dir/hello.txt"
keep_time dir/hello.txt
rm "$t/fifo" && : >"$t/fifo"
rm "$t/name with spaces/ünïcödé.txt"
if as_root; then chown 4242 "$t/setgid" && chmod 2750 "$t/setgid" && keep_time setgid; fi
cmp_run
is "$rc" 12 "a changed tree fails the comparison (exit 12)"
p=${w#/}/src # snapshot paths are the backed-up paths without the leading /
has() { like "$out" "$1" "$2"; }
has "FAIL file $p/dir/sub/random\.bin: content of bytes [0-9]+\.\.[0-9]+ differs from the snapshot" "changed content"
has "FAIL file $p/sparse: bytes [0-9]+\.\.[0-9]+ should be a hole \(zeros\) but are not" "a filled hole"
has "FAIL file $p/links/a: size 3, the snapshot has 15" "a truncated file (its hardlinks too)"
has "FAIL file $p/dir/readonly: mode 0600, the snapshot has 0444" "a changed mode"
has "FAIL file $p/empty: mtime 978307200\.000000000, the snapshot has 946684799\.000000001" "a changed mtime"
has "FAIL file $p/links/rel: symlink target differs from the snapshot" "a changed symlink target"
has "FAIL file $p/dir/hello\.txt: xattr user\.comment differs from the snapshot" "a changed xattr"
has "FAIL file $p/fifo: is not a fifo as in the snapshot" "a changed type"
has "FAIL file $p/name with spaces/ünïcödé\.txt: missing from the restored tree" "a missing file"
if as_root; then
  has "FAIL file $p/setgid: owner 4242:[0-9]+, the snapshot has 0:[0-9]+" "a changed owner"
else
  skip "owners are compared as root only"
fi
like "$out" "FAIL compare: [0-9]+ entries compared with the snapshot, [0-9]+ differ" "the summary counts them"
done_testing
