#!/usr/bin/env bash
# Tar out and tar in: restore --tar writes a pax stream that GNU tar reads; backup --from-tar of it (from a
# file and from stdin) gives a snapshot that restores to the same tree (hardlinks, holes, xattrs, ACLs, modes,
# owners, nanosecond mtimes). A tar with "../" entries, absolute paths or an entry below a symlink is refused
# and nothing is committed.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"
lv_require_services s3

d=$(lv_tmpdir tar)
bucket=$(lv_s3_bucket files-tar)
files_conf "$d/lv.conf" "s3://$bucket/repo"
run lv repo init
is "$rc" 0 "repo init"
src=$d/src
make_tree "$src"
run lv backup files "$src" --json
is "$rc" 0 "backup"
id=$(jget "$out" 'j["id"]')

run lv restore files "$id" --tar "$d/out.tar"
is "$rc" 0 "restore --tar FILE"
run tar -tvf "$d/out.tar"
is "$rc" 0 "GNU tar reads the stream"
like "$out" "${src#/}/dir/hello.txt" "it lists the files (relative paths)"
like "$out" "${src#/}/links/b link to" "hardlinks are hardlink entries"
run lv restore files "$id" --tar "$d/out.tar"
is "$rc" 10 "an existing tar file is not overwritten: exit 10"
lv restore files "$id" --tar - >"$d/stdout.tar"
ok "restore --tar - writes the same stream to stdout" cmp "$d/out.tar" "$d/stdout.tar"

# tar in, then restore, and compare with the source
run lv backup files --from-tar "$d/out.tar" --json
is "$rc" 0 "backup --from-tar FILE"
tid=$(jget "$out" 'j["id"]')
is "$(jget "$out" 'j["source"]')" tar "summary says tar"
run lv restore files "$tid" --to "$d/fromtar"
is "$rc" 0 "restore the imported snapshot"
if as_root; then
  same_tree "$src" "$d/fromtar$src" "tar out then tar in round-trips (content, modes, owners, mtimes, xattrs, links, holes)"
else
  same_tree "$src" "$d/fromtar$src" "tar out then tar in round-trips" --no-owner
fi
run lv diff "$id" "$tid"
unlike "$out" "^M " "no content differs between the snapshot and its tar round trip"
run lv backup files --from-tar - --json <"$d/out.tar"
is "$rc" 0 "backup --from-tar - (stdin)"
is "$(jget "$out" 'j["bytes_new"]')" 0 "the same tar again stores no new data"

# hostile archives
mk_tar() { # FILE SPEC...  (python tarfile: name[:type[:target]])
  python3 - "$@" <<'PY'
import io, sys, tarfile
out = sys.argv[1]
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    for spec in sys.argv[2:]:
        name, _, rest = spec.partition(':')
        kind, _, target = rest.partition(':')
        ti = tarfile.TarInfo(name)
        if kind == 'sym':
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            t.addfile(ti)
        elif kind == 'dir':
            ti.type = tarfile.DIRTYPE
            t.addfile(ti)
        else:
            data = b'evil\n'
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY
}
before=$(lv snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
mk_tar "$d/dotdot.tar" ok.txt ../escaped.txt
run lv backup files --from-tar "$d/dotdot.tar"
is "$rc" 6 "a tar with ../ is refused: exit 6"
like "$err" '"\.\./escaped\.txt".*"\.\."' "the message names the entry"
mk_tar "$d/abs.tar" /tmp/absolute-evil.txt
run lv backup files --from-tar "$d/abs.tar"
is "$rc" 6 "a tar with an absolute path is refused: exit 6"
like "$err" "absolute" "the message says why"
mk_tar "$d/viasym.tar" link:sym:/tmp link/evil.txt
run lv backup files --from-tar "$d/viasym.tar"
is "$rc" 6 "a tar with an entry below a symlink is refused: exit 6"
mk_tar "$d/deep.tar" a/b/../../../x
run lv backup files --from-tar "$d/deep.tar"
is "$rc" 6 "a tar with a .. in the middle is refused"
is "$(lv snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "$before" \
  "nothing was committed for refused archives"
printf 'not a tar at all' >"$d/garbage.tar"
run lv backup files --from-tar "$d/garbage.tar"
isnt "$rc" 0 "garbage is not a tar"

done_testing
