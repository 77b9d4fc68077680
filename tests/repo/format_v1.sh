#!/usr/bin/env bash
# The on-disk format is unchanged: tests/fixtures/repo-v1/, a repository written by the labvault of
# commit ef409a1 (tests/fixtures/make-repo-v1.sh), is read by this build. With a new catalog (filled from
# the repository alone), every snapshot and both PostgreSQL backups restore to exactly the bytes the old
# binary restored (tests/fixtures/repo-v1.expect), the listings decode the old summaries, the drill
# history comes back from its record, and `repo check --read-data` finds no damage. Needs no services.
set -euo pipefail
# shellcheck source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

lv_clean_env
lv=${LABVAULT_BIN:?}
fx=${LV_SOURCE_ROOT:?}/tests/fixtures
expect=$fx/repo-v1.expect

w=$(lv_tmpdir format)
cp -a "$fx/repo-v1" "$w/repo"
install -m 0600 "$fx/repo-v1.key" "$w/key"
printf '[global]\nrepo = %s\ncatalog = %s\nkey-file = %s\nlog-level = error\n' "$w/repo" "$w/catalog.db" "$w/key" \
  >"$w/lv.conf"
lvr() { "$lv" --config "$w/lv.conf" "$@"; }

digest() { # DIR: as tests/fixtures/make-repo-v1.sh computed it
  (cd "$1" && find . -mindepth 1 \( -name postgresql.auto.conf -o -name recovery.signal \) -prune -o \
    -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort | while read -r p t m s mt l; do
      h=-
      [[ $t == f ]] && h=$(sha256sum <"$p" | cut -c1-64)
      [[ $t == d ]] && s=- mt=-
      printf '%s %s %s %s %s %s %s\n' "$p" "$t" "$m" "$s" "$mt" "${l:--}" "$h"
    done)
}
section() { # NAME [ID]: the lines of repo-v1.expect after the header "NAME [ID]", up to the next header
  awk -v h="$*" '$0 == h { on = 1; next } /^(files|pgdata|backups-json|snapshots-json) ?/ { on = 0 } on' "$expect"
}
# restore pg writes backup_label and tablespace_map itself, when it runs: their times are not compared.
restore_time() { sed -E 's#^(\./(backup_label|tablespace_map) f [0-7]+ [0-9]+) [0-9.]+#\1 -#'; }

read -r _ s1 s2 s3 < <(grep '^snapshots ' "$expect")
read -r _ full incr < <(grep '^pg ' "$expect")

run lvr snapshots --json
is "$rc" 0 "snapshots: exit 0 (a new catalog filled from the old repository)"
is "$(python3 -c '
import json, sys
for s in json.load(sys.stdin):
    m = s["summary"]
    print(s["id"], s["time"], m["source"], ",".join(m["paths"]), ",".join(m["tags"]), m["bytes_total"])' <<<"$out")" \
  "$(section snapshots-json)" "snapshots: the old summaries, in the old order"
run lvr snapshots
like "$out" "${s3:0:12} .*\(stdin\) stream.txt" "snapshots (columns): the --stdin snapshot by its name"

for s in "$s1" "$s2" "$s3"; do
  run lvr restore files "${s:0:12}" --to "$w/r/$s"
  is "$rc" 0 "restore files ${s:0:12}: exit 0"
  is "$(digest "$w/r/$s")" "$(section files "$s")" "restore files ${s:0:12}: every entry as the old binary restored it"
done

run lvr backups --json
is "$(python3 -c '
import json, sys
for b in json.load(sys.stdin)["backups"]:
    print(" ".join(str(b[k]) for k in ("id", "type", "label", "timeline", "start_lsn", "stop_lsn", "start_time",
                                       "stop_time", "files", "bytes")))' <<<"$out")" "$(section backups-json)" \
  "backups: the old pg summaries (type, label, timeline, LSNs, times, sizes)"
for b in "$full" "$incr"; do
  run lvr restore pg --backup "${b:0:12}" --target-immediate --to "$w/r/$b"
  is "$rc" 0 "restore pg ${b:0:12}: exit 0"
  is "$(digest "$w/r/$b" | restore_time)" "$(section pgdata "$b" | restore_time)" "restore pg ${b:0:12}: every file as the old binary restored it"
done

run lvr drill history --json
is "$(python3 -c 'import json, sys; print(" ".join("%s %s %s" % (d["kind"], d["source"], d["passed"]) for d in json.load(sys.stdin)))' <<<"$out")" \
  "files $s1 True" "drill history: the drill record came back from drills/ in the repository"
run lvr wal list
like "$out" "000000010000000000000004" "wal list: the archived segments"

run lvr repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0 (${err:-no problems})"
like "$out" "no damage found: 0 errors" "repo check --read-data: no damage"
# The warnings: the segments pushed before block maps have none (an incremental over them compares every
# page's LSN), and the catalog copy the old binary uploaded, which this version no longer writes or reads.
is "$(awk 'NF == 6 && $2 ~ /^[0-9]+$/ && $NF != 0 {print $1}; $1 == "catalog" && $2 == "copies" {print "copies", $NF}' <<<"$out")" \
  "walmap
copies 1" "repo check --read-data: the only warnings are the segments without block maps and the old catalog copy (obsolete, removed by the next backup)"
like "$err" "[0-9]+ WAL segments, the first 000000010000000000000002, have no block map" "... the segments named"
like "$out" "index +5 +5 .*data +5 +5 .*manifests +5 +5 .*wal +6 +6 .*drills +1 +1 " \
  "repo check --read-data: every index object, pack, manifest, WAL file and drill record read and verified"
run lvr catalog rebuild
is "$rc" 0 "catalog rebuild: exit 0"
# Written to by this build, the repository stays format 1 (its new blobs carry no plaintext sums, which a
# labvault that reads format 1 only would meet as "unknown codec 2"), and what it wrote reads back.
mkdir -p "$w/new/d"
head -c 300000 /dev/urandom >"$w/new/d/a.bin"
seq 1 50000 >"$w/new/d/b.txt"
run lvr backup files "$w/new/d" --json
is "$rc" 0 "backup files into the format-1 repository: exit 0"
new_snap=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out")
is "$(grep '^format' "$w/repo/config")" "format = 1" "... the config still says format 1"
is "$(cmp -s "$fx/repo-v1/config" "$w/repo/config" && echo same || echo differs)" same \
  "... and is the old binary's, byte for byte"
run lvr restore files "${new_snap:0:12}" --to "$w/r/new"
is "$rc:$(cmp "$w/new/d/a.bin" "$w/r/new$w/new/d/a.bin" 2>&1 && cmp "$w/new/d/b.txt" "$w/r/new$w/new/d/b.txt" 2>&1 && echo same)" \
  "0:same" "... and restores byte for byte"
run lvr repo check --read-data
is "$rc" 0 "repo check --read-data after the write: exit 0 (${err:-no problems})"
# A new repository is format 2; a format this build does not know is refused at open, naming both.
printf '[global]\nrepo = %s\ncatalog = %s\nkey-file = %s\nlog-level = error\n' "$w/repo2" "$w/catalog2.db" "$w/key" \
  >"$w/lv2.conf"
run "$lv" --config "$w/lv2.conf" repo init
is "$rc:$(grep '^format' "$w/repo2/config")" "0:format = 2" "repo init writes format 2"
sed -i 's/^format = 2/format = 3/' "$w/repo2/config"
run "$lv" --config "$w/lv2.conf" repo check
is "$rc" 3 "a format-3 config: exit 3"
like "$err" "repository format \"3\" is not supported: this build of labvault reads formats 1 to 2" "... one line saying which formats this build reads"
done_testing
