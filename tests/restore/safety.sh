#!/usr/bin/env bash
# Restore safety and failure reporting:
#   - a non-empty target is refused unless --overwrite; with it, a symlink in the target is replaced, never
#     followed (nothing outside the target changes);
#   - a corrupt chunk fails the restore naming the file, and the file is not left behind;
#   - repo check finds a snapshot that references a missing pack;
#   - an unreadable file is reported, the snapshot is committed without it, exit 9;
#   - --exclude and --exclude-file.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

d=$(lv_tmpdir safety)
chmod 0755 "$d"
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"
src=$d/src
mkdir -p "$src/keep" "$src/cache"
head -c 200000 /dev/urandom >"$src/keep/victim.bin"
printf 'x\n' >"$src/keep/small"
printf 'log\n' >"$src/keep/app.log"
printf 'c\n' >"$src/cache/c"
run lv backup files "$src" --json
is "$rc" 0 "backup"

# --- non-empty targets, symlinks in the way
t=$d/target
mkdir -p "$t"
printf 'mine\n' >"$t/existing"
run lv restore files latest --to "$t"
is "$rc" 10 "a non-empty target is refused: exit 10"
like "$err" "not empty.*--overwrite" "the message says how"
outside=$d/outside
mkdir -p "$outside"
ln -s "$outside" "$t/${src%%/*}${src#/}" 2>/dev/null || true
first=${src#/}
first=${first%%/*}
rm -f "$t/$first"
ln -s "$outside" "$t/$first" # the first component of the snapshot path, pointing outside
run lv restore files latest --to "$t" --overwrite
is "$rc" 0 "--overwrite restores into a non-empty target"
ok "the symlink in the way was replaced by a directory" test -d "$t/$first" -a ! -L "$t/$first"
is "$(ls -A "$outside")" "" "nothing was written through the symlink"
is "$(cat "$t/existing")" "mine" "entries not in the snapshot are left alone"
ok "content restored" cmp "$src/keep/victim.bin" "$t$src/keep/victim.bin"

# --- a corrupt chunk: the restore fails naming the file, which is removed
c=$d/corrupt
files_conf "$d/c.conf" "$c/repo"
run lv repo init
mkdir -p "$c/src"
head -c 300000 /dev/urandom >"$c/src/precious.bin"
run lv backup files "$c/src" --json
is "$rc" 0 "backup of one file into a fresh repository"
id_c=$(jget "$out" 'j["id"]')
mkdir -p "$c/other"
head -c 1000 /dev/urandom >"$c/other/f"
run lv backup files "$c/other" # a second pack, so that data/ is not empty once the first is deleted
pack=$(find "$c/repo/data" -type f -printf '%T@ %p\n' | sort -n | head -1 | cut -d' ' -f2)
# the 300 kB data blob is nearly all of the pack (tree pages are a few hundred bytes; blobs are packed
# in the order their sealing finishes): a byte in the middle of the pack is one of its bytes
size=$(stat -c %s "$pack")
lv_flip_byte "$pack" $((size / 2))
run lv restore files "$id_c" --to "$c/out"
is "$rc" 6 "a corrupt chunk: exit 6"
like "$err" "precious\.bin" "the error names the file"
ok "the damaged file is not left behind" test ! -e "$c/out$c/src/precious.bin"
run lv repo check --read-data
is "$rc" 6 "repo check --read-data finds the damage"
rm -f "$pack"
run lv repo check
is "$rc" 6 "repo check: a snapshot's blobs are in a missing pack: exit 6"
like "$err" "manifests/[0-9a-f]+: .*pack .* missing" "it names the snapshot whose blobs are gone"
export LABVAULT_CONFIG=$d/lv.conf

# --- an unreadable file: reported, left out, the snapshot still committed, exit 9
u=$d/unreadable
mkdir -p "$u"
chmod 0777 "$u"
printf 'readable\n' >"$u/ok"
printf 'secret\n' >"$u/locked"
chmod 0000 "$u/locked"
mkdir "$u/closed-dir"
chmod 0000 "$u/closed-dir"
if as_root; then
  # root reads everything: run this part as an unprivileged user with its own repository
  chmod 0755 "$d"
  nob=$(id -u nobody)
  wd=$d/nobody
  mkdir -p "$wd"
  chown "$nob" "$wd"
  files_conf "$wd/lv.conf" "$wd/repo"
  chmod 0644 "$wd/lv.conf"
  asu() { setpriv --reuid="$nob" --regid="$(id -g nobody)" --clear-groups -- "$@"; }
  asu "$LABVAULT_BIN" repo init >/dev/null 2>&1
  run asu "$LABVAULT_BIN" backup files "$u" --json
else
  run lv backup files "$u" --json
fi
is "$rc" 9 "unreadable entries: exit 9 (incomplete)"
like "$err" "locked" "the warning names the unreadable file"
like "$err" "closed-dir" "and the unreadable directory"
is "$(jget "$out" 'j["errors"]')" 2 "two entries left out"
is "$(jget "$out" 'j["incomplete"]')" True "summary says incomplete"
is "$(jget "$out" 'j["error"]["code"]')" 9 "the JSON result carries the error"
like "$(jget "$out" 'j["id"]')" '^[0-9a-f]{64}$' "but the snapshot was committed"
if as_root; then run asu "$LABVAULT_BIN" ls latest; else run lv ls latest; fi
like "$out" "$u/ok" "the readable file is in the snapshot"
unlike "$out" "locked" "the unreadable one is not"
chmod 0755 "$u/closed-dir"
export LABVAULT_CONFIG=$d/lv.conf

# --- excludes
printf '# comment\n\n%s/cache\n' "$src" >"$d/excludes"
run lv backup files "$src" --exclude '*.log' --exclude-file "$d/excludes" --json
is "$rc" 0 "backup with excludes"
run lv ls latest "$src"
like "$out" "keep/small" "kept files are there"
unlike "$out" "app\.log" "--exclude by name"
unlike "$out" "cache" "--exclude-file by absolute path (the whole directory)"

done_testing
