#!/usr/bin/env bash
# Backup sets: `[set NAME]` sections of the configuration run with `backup files --set NAME` (paths,
# excludes, tags, hooks from the set; the tag set:NAME added), shown by `config show`; an unknown set is
# exit 2, a malformed section or key exit 3 naming FILE:LINE.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_clean_env
w=$(lv_tmpdir sets)
files_conf "$w/lv.conf" "$w/repo"
mkdir -p "$w/src/a" "$w/src/b" "$w/src/c"
echo a >"$w/src/a/keep"
echo junk >"$w/src/a/skip.tmp"
echo b >"$w/src/b/keep"
echo c >"$w/src/c/not-in-set"
cat >>"$w/lv.conf" <<CONF

[set etc]
path = $w/src/a
path = "$w/src/b"
exclude = *.tmp
tag = nightly
pre-hook = touch $w/pre-ran
one-file-system = yes
CONF
lv repo init >/dev/null 2>&1

run lv backup files --set etc --json
is "$rc" 0 "backup files --set etc: exit 0 ${err:+($err)}"
id=$(jget "$out" 'j["id"]')
run lv snapshots --json
is "$(jget "$out" '[(s["summary"]["paths"], sorted(s["summary"]["tags"])) for s in j if s["id"] == "'"$id"'"][0]')" \
  "(['$w/src/a', '$w/src/b'], ['nightly', 'set:etc'])" "the snapshot holds the set's paths and tags, and set:etc"
ok "the set's pre-hook ran" test -e "$w/pre-ran"
run lv restore files "$id" --to "$w/r"
ok "the set's exclude applied, its paths restored" test -e "$w/r$w/src/a/keep" -a -e "$w/r$w/src/b/keep" \
  -a ! -e "$w/r$w/src/a/skip.tmp" -a ! -e "$w/r$w/src/c"
run lv backup files --set etc --tag extra "$w/src/c" --json
is "$rc" 0 "flags and paths add to the set's"
is "$(jget "$out" 'sorted(j["paths"]) if "paths" in j else ""')" "['$w/src/a', '$w/src/b', '$w/src/c']" "... paths" || true
run lv forget --keep-tag set:etc --kind files --dry-run --json
is "$rc" 0 "the set's snapshots can be kept as a group (--keep-tag set:etc)"
run lv config show
like "$out" "\[set etc\]" "config show lists the set"
like "$out" "path = $w/src/a" "... with its values"
run lv backup files --set nosuch
is "$rc" 2 "an unknown set: exit 2"
like "$err" "^labvault: --set nosuch: the configuration \($w/lv.conf\) has no \[set nosuch\]$" "... one line naming it"
printf '[global]\nrepo = %s\n[set empty]\ntag = t\n' "$w/repo" >"$w/empty.conf"
run lv --config "$w/empty.conf" backup files --set empty
is "$rc" 2 "a set with no path and no docker volume: exit 2"
like "$err" "^labvault: \[set empty\] names nothing to back up" "... one line naming the set"
printf '[set bad name!]\npath = /x\n' >"$w/bad1.conf"
run lv --config "$w/bad1.conf" snapshots
is "$rc" 3 "a set name with a space and '!': exit 3"
like "$err" "$w/bad1.conf:1: \[set NAME\]: a backup set needs a name" "... naming FILE:LINE"
printf '[global]\nrepo = %s\n[set x]\npath = /x\nfrobnicate = 1\n' "$w/repo" >"$w/bad2.conf"
run lv --config "$w/bad2.conf" snapshots
is "$rc" 3 "an unknown key in a set: exit 3"
like "$err" "$w/bad2.conf:5: unknown key 'frobnicate' in \[set x\]" "... naming FILE:LINE and the key"
printf '[global]\nrepo = %s\n[set x]\nstop-containers = maybe\n' "$w/repo" >"$w/bad3.conf"
run lv --config "$w/bad3.conf" snapshots
is "$rc" 3 "a bad boolean in a set: exit 3"

done_testing
