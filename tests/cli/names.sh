#!/usr/bin/env bash
# Odd file names in output (issue 14, item 4):
#   - every --json output (backup files, snapshots, ls, diff, restore files) is valid UTF-8 JSON when names
#     hold bytes that are not UTF-8, and the names decode back to their bytes (\udcXX, docs/snapshots.md);
#   - human output quotes names like `ls -b`: a newline or an escape sequence in a name never reaches the
#     terminal, one line per entry;
#   - an owner without a passwd/group entry is shown by its number, not blank.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

d=$(lv_tmpdir names)
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"
src=$d/src$'\xff' # the snapshot's own path is not UTF-8: its summary holds it
mkdir -p "$src/dir"$'\xff' "$src/a"$'\n'"b" "$src/"$'\e[31mred' "$src/ünï"
printf 'x\n' >"$src/dir"$'\xff'"/f"$'\xfe'
printf 'y\n' >"$src/"$'\e[31mred'"/back\\slash"
printf 'z\n' >"$src/ünï/nobody"
ln -s "target"$'\xff\n' "$src/link"
as_root && chown 4242:4343 "$src/ünï/nobody"

# strict_json FILE: every line (or the whole file with "whole") parses as JSON from strict UTF-8.
strict_json() { # MODE FILE
  python3 - "$1" "$2" <<'PY'
import json, sys
data = open(sys.argv[2], "rb").read().decode("utf-8")  # strict: raises on invalid UTF-8
docs = [data] if sys.argv[1] == "whole" else [l for l in data.split("\n") if l]
for doc in docs:
    json.loads(doc)
print(len(docs))
PY
}

lv backup files "$src" --json >"$d/backup.json" && rc=0 || rc=$?
is "$rc" 0 "backup files"
ok "backup files --json is valid UTF-8 JSON" strict_json whole "$d/backup.json"
lv backup files "$src/ünï" --json >/dev/null
lv snapshots --json >"$d/snapshots.json"
ok "snapshots --json is valid UTF-8 JSON" strict_json whole "$d/snapshots.json"
paths=$(python3 -c 'import json, os, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print(repr([os.fsencode(p) for p in d[0]["summary"]["paths"]]))' "$d/snapshots.json") || true
is "$paths" "$(python3 -c 'import os, sys; print(repr([os.fsencode(sys.argv[1])]))' "$src")" \
  "the snapshot's path decodes back to its bytes"

ids=$(python3 -c 'import json, sys; print(" ".join(s["id"] for s in json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "replace"))))' "$d/snapshots.json")
read -r first second <<<"$ids"
lv ls "$first" --json >"$d/ls.json"
ok "ls --json: every line is valid UTF-8 JSON" strict_json lines "$d/ls.json"
# Every name in the listing decodes back to a name that exists on disk, with the same bytes.
got=$(python3 - "$d/ls.json" "$src" <<'PY'
import json, os, sys
src = os.fsencode(sys.argv[2]).lstrip(b"/")
names = set()
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    p = os.fsencode(e["path"])
    if p.startswith(src + b"/"):
        names.add(p[len(src) + 1:])
        if e["type"] == "symlink":
            names.add(b"-> " + os.fsencode(e["target"]))
print(sorted(names))
PY
) || true
want=$(python3 - "$src" <<'PY'
import os, sys
src = os.fsencode(sys.argv[1])
names = set()
for root, dirs, files in os.walk(src):
    for n in dirs + files:
        p = os.path.join(root, n)
        names.add(p[len(src) + 1:])
        if os.path.islink(p):
            names.add(b"-> " + os.readlink(p))
print(sorted(names))
PY
)
is "$got" "$want" "ls --json: names and the symlink target decode back to the bytes on disk"

lv diff "$second" "$first" --json >"$d/diff.json"
ok "diff --json is valid UTF-8 JSON" strict_json lines "$d/diff.json"
run lv restore files "$first" --to "$d/restored" --json
is "$rc" 0 "restore files"
printf '%s' "$out" >"$d/restore.json"
ok "restore files --json is valid UTF-8 JSON" strict_json whole "$d/restore.json"
same_tree "$src" "$d/restored$src" "the odd names restore exactly"

# --- human output
lv ls "$first" >"$d/ls.txt"
is "$(($(wc -l <"$d/ls.txt") - 1))" "$(wc -l <"$d/ls.json")" "ls: a header, then one line per entry (a newline in a name does not split it)"
ok "ls: no escape character reaches the terminal" bash -c "! grep -q $'\e' '$d/ls.txt'"
ls_text=$(cat "$d/ls.txt")
like "$ls_text" "/dir\\\\377/f\\\\376" "ls: a byte that is not UTF-8 is shown as octal"
like "$ls_text" "/a\\\\nb" "ls: a newline in a name is shown as \\n"
like "$ls_text" "/\\\\033\\[31mred/back\\\\\\\\slash" "ls: an escape as \\033, a backslash doubled"
like "$ls_text" "/link -> target\\\\377\\\\n" "ls: the symlink target is quoted too"
like "$ls_text" "/ünï" "ls: valid UTF-8 is shown as it is"
if as_root; then
  like "$(grep '/nobody$' "$d/ls.txt")" "^-rw-r--r-- 4242 +4343 " "ls: an owner without a name shows its uid and gid"
else
  skip "owners without a passwd entry need root"
fi
lv diff "$second" "$first" >"$d/diff.txt"
ok "diff: no escape character reaches the terminal" bash -c "! grep -q $'\e' '$d/diff.txt'"
like "$(cat "$d/diff.txt")" "\\+ /.*/a\\\\nb/" "diff: names quoted"
lv snapshots >"$d/snapshots.txt"
is "$(wc -l <"$d/snapshots.txt")" 3 "snapshots: a header and one line per snapshot"
run lv ls "$first" "${src}/nonexistent"$'\e[2J'
is "$rc" 1 "ls of a missing path: exit 1"
unlike "$err" $'\e' "the error message carries no escape character"
done_testing
