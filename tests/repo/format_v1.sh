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
done_testing
