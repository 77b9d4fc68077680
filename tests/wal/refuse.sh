#!/usr/bin/env bash
# What `wal push` refuses and what it accepts: the stanza (cluster identity) and a segment from another
# cluster; a segment or .history file pushed again with the same content (fine) or with different content
# (exit 10, nothing overwritten); .backup and .partial files; bad names, headers and sizes; a catalog the
# user cannot write (fails loudly). The async mode with a stand-in pg_wal (PostgreSQL's .ready files
# untouched), the queue limit that drops WAL (said in the log, in `wal status`, and in its exit code),
# gaps and the failure journal in `wal status`.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env

lv_pg_start "wal_keep_size = 1GB" "max_wal_size = 64MB"
mapfile -t segs < <(wal_make_segments 14)
ok "the cluster completed at least 14 segments (${#segs[@]})" test "${#segs[@]}" -ge 14

w=$(wal_workdir refuse)
wal_conf "$w/local.conf" "$w/repo"
lvpg "$w/local.conf" repo init >/dev/null
L() { lvpg "$w/local.conf" "$@"; }
# run CMD...: $rc, $out, $err
stage() { # DIR NAME SOURCE: a copy of SOURCE named NAME in a directory the cluster's user can read
  mkdir -p "$w/$1"
  cp "$3" "$w/$1/$2"
  chmod -R a+rX "$w/$1"
  printf '%s\n' "$w/$1/$2"
}
list_names() { L wal list --json | python3 -c 'import json,sys; print("\n".join(o["name"] + " " + o["kind"] for o in json.load(sys.stdin)))'; }

# --- stanza
run L stanza create --pg-data "$PGDATA"
is "$rc" 0 "stanza create from pg_controldata"
like "$out" "created: PostgreSQL 15 cluster [0-9]+" "stanza create: says what it recorded"
run L stanza create --pg-data "$PGDATA"
is "$rc" 0 "stanza create again for the same cluster: exit 0"
like "$out" "already exists" "stanza create again: says so"
as_pg "$LV_TEST_PG_BINDIR/initdb" -D "$w/other" --no-sync -A trust -U postgres >/dev/null 2>&1
run L stanza create --pg-data "$w/other"
is "$rc" 10 "stanza create for another cluster: exit 10"
run L wal push "$w/other/pg_wal/000000010000000000000001"
is "$rc" 10 "a segment from another cluster: exit 10"
like "$err" "from PostgreSQL cluster [0-9]+, but this repository archives cluster [0-9]+" \
  "another cluster: the message names both clusters"

# --- same and different content
s0=${segs[0]}
run L wal push "$PGDATA/pg_wal/$s0"
is "$rc" 0 "segment pushed"
run L --log-level info wal push "$PGDATA/pg_wal/$s0"
is "$rc" 0 "the same segment again: exit 0"
like "$err" "already archived with the same content" "the same segment again: logged"
m=$(stage mod "$s0" "$PGDATA/pg_wal/$s0")
printf 'X' | dd of="$m" bs=1 seek=100000 conv=notrunc status=none
run L wal push "$m"
is "$rc" 10 "the same name with different content: exit 10 (conflict)"
like "$err" "already archived with different content .*nothing was overwritten" "conflict: one clear line"
is "$(list_names | grep -c "^$s0 ")" 1 "conflict: still one object for the name"
L wal fetch "$s0" "$w/back" >/dev/null 2>&1
ok "conflict: the archived segment is still the original" cmp -s "$w/back" "$PGDATA/pg_wal/$s0"

h=$(stage hist 00000002.history /dev/null)
printf '1\t0/3000000\tno recovery target specified\n' >"$h"
run L wal push "$h"
is "$rc" 0 ".history pushed"
run L wal push "$h"
is "$rc" 0 ".history with the same content again: exit 0"
printf '1\t0/4000000\tno recovery target specified\n' >"$h"
run L wal push "$h"
is "$rc" 10 ".history is never overwritten: exit 10"

b=$(stage backup "${segs[1]}.00000028.backup" /dev/null)
printf 'START WAL LOCATION: 0/%s (file %s)\nLABEL: test\n' 28 "${segs[1]}" >"$b"
run L wal push "$b"
is "$rc" 0 ".backup pushed"
L wal fetch "$(basename "$b")" "$w/back-b" >/dev/null 2>&1
ok ".backup fetched back identical" cmp -s "$w/back-b" "$b"
p=$(stage partial "${segs[1]}.partial" "$PGDATA/pg_wal/${segs[1]}")
run L wal push "$p"
is "$rc" 0 ".partial pushed"
like "$(list_names)" "${segs[1]}.partial partial" ".partial listed as a partial segment"

# --- a fresh repository whose first files carry no cluster identity: PostgreSQL archives .backup and
#     .history files before older segments, so after archiving failed for a while (or when archive_command
#     moves to a new repository) they come first; the first segment must still create the stanza (it was
#     refused as "stanza lost", and archiving stayed stuck)
wal_conf "$w/first.conf" "$w/repo-first"
lvpg "$w/first.conf" repo init >/dev/null
run lvpg "$w/first.conf" wal push "$b"
is "$rc" 0 "a new repository: a .backup file pushed before any segment"
run lvpg "$w/first.conf" wal push "$h"
is "$rc" 0 "... and a .history file"
run lvpg "$w/first.conf" wal push "$PGDATA/pg_wal/${segs[3]}"
is "$rc" 0 "... then the first segment is accepted ${err:+($err)}"
run lvpg "$w/first.conf" stanza create --pg-data "$PGDATA"
is "$rc" 0 "... and created the stanza of this cluster"
like "$out" "already exists" "... (stanza create finds it)"

# --- what is not WAL
x=$(stage names RECOVERYXLOG "$PGDATA/pg_wal/${segs[2]}")
run L wal push "$x"
is "$rc" 2 "not a WAL file name: exit 2"
c=$(stage magic "${segs[2]}" "$PGDATA/pg_wal/${segs[2]}")
printf '\x00' | dd of="$c" bs=1 seek=0 conv=notrunc status=none
run L wal push "$c"
is "$rc" 6 "a damaged page header: exit 6"
like "$err" "${segs[2]}.*magic" "damaged header: names the file and the cause"
t=$(stage short "${segs[2]}" /dev/null)
head -c 8388608 "$PGDATA/pg_wal/${segs[2]}" >"$t"
run L wal push "$t"
is "$rc" 6 "a truncated segment: exit 6"
r=$(stage renamed "${segs[3]}" "$PGDATA/pg_wal/${segs[2]}")
run L wal push "$r"
is "$rc" 6 "a segment under another segment's name: exit 6"
like "$err" "not where its name says" "misnamed: says why"
is "$(list_names | grep -c "^${segs[2]} \|^${segs[3]} ")" 0 "nothing was stored for the refused files"

# --- a catalog the archiving user cannot write: loud failure, not silent success
if ((EUID == 0)) && [[ ${LV_TEST_PG_OSUSER:-root} != root ]]; then
  ro=$(lv_tmpdir ro) # root's, mode 0755: the cluster's user cannot create the catalog there
  wal_conf "$w/rocat.conf" "$w/repo" "[global]" "catalog = $ro/catalog.db"
  run lvpg "$w/rocat.conf" wal push "$PGDATA/pg_wal/${segs[2]}"
  is "$rc" 11 "catalog not writable: wal push fails (exit 11)"
  like "$err" "catalog" "catalog not writable: the message says it is the catalog"
else
  skip "needs root and a separate cluster user" 2
fi

# --- async with a stand-in pg_wal: archive_status/<name>.ready drives the worker
fake=$w/fake/pg_wal
mkdir -p "$fake/archive_status"
for s in "${segs[@]:4:4}"; do
  cp "$PGDATA/pg_wal/$s" "$fake/$s"
  : >"$fake/archive_status/$s.ready"
done
chown -R "${LV_TEST_PG_OSUSER:-$(id -un)}:" "$w/fake"
run L wal push --async "$fake/${segs[4]}"
is "$rc" 0 "async: the first file is durable when wal push returns"
for ((i = 0; i < 100; i++)); do
  [[ $(list_names | grep -c "^${segs[7]} ") == 1 ]] && break
  sleep 0.1
done
is "$(list_names | grep -c "^\(${segs[5]}\|${segs[6]}\|${segs[7]}\) ")" 3 \
  "async: the worker pushed the other ready files ahead of PostgreSQL's calls"
start=$(date +%s%N)
run L wal push --async "$fake/${segs[5]}"
ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" 0 "async: a file the worker already pushed: exit 0"
ok "async: ... at once (${ms} ms)" test "$ms" -lt 2000
is "$(ls "$fake/archive_status" | grep -c '\.ready$')" 4 "async: PostgreSQL's .ready files were not touched"
lone=$(stage lone "${segs[12]}" "$PGDATA/pg_wal/${segs[12]}")
run L wal push --async "$lone"
is "$rc" 0 "async: a file without a .ready file (a push by hand) is pushed at once"
is "$(list_names | grep -c "^${segs[12]} ")" 1 "async: ... and it is in the repository"

# --- the queue limit: 4 segments (64 MiB) wait, the limit is 40 MiB: the 2 oldest are dropped
wal_conf "$w/queue.conf" "$w/repo" "[global]" "catalog = $w/local.db" "[archive]" "queue-max = 40M"
fake2=$w/fake2/pg_wal
mkdir -p "$fake2/archive_status"
for s in "${segs[@]:8:4}"; do
  cp "$PGDATA/pg_wal/$s" "$fake2/$s"
  : >"$fake2/archive_status/$s.ready"
done
chown -R "${LV_TEST_PG_OSUSER:-$(id -un)}:" "$w/fake2"
run lvpg "$w/queue.conf" wal push --async "$fake2/${segs[8]}"
is "$rc" 0 "queue limit: archive_command succeeds for a dropped segment (PostgreSQL may recycle it)"
like "$err" "${segs[8]} was NOT archived: dropped" "queue limit: archive_command says the segment was dropped"
for ((i = 0; i < 100; i++)); do
  [[ $(list_names | grep -c "^${segs[11]} ") == 1 ]] && break
  sleep 0.1
done
is "$(list_names | grep -c "^\(${segs[8]}\|${segs[9]}\) ")" 0 "queue limit: the two oldest were not archived"
is "$(list_names | grep -c "^\(${segs[10]}\|${segs[11]}\) ")" 2 "queue limit: the rest were"
ok "queue limit: the worker's log says it dropped WAL" grep -q "dropped without archiving" "$w"/spool/*/push-*/worker.log
run L wal status --json
is "$rc" 9 "wal status after a drop: exit 9 (incomplete)"
is "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["dropped"])' <<<"$out")" 2 "wal status: 2 dropped"
like "$out" "different content" "wal status: the journal lists the refused push"
like "$(L wal status 2>/dev/null || true)" "DROPPED +2 WAL files" "wal status (text): says WAL was dropped"
is "$(python3 -c 'import json,sys; t=json.load(sys.stdin)["timelines"][0]; print(t["missing_segments"], len(t["gaps"]))' <<<"$out")" \
  "4 2" "wal status: gaps per timeline (the refused and the dropped segments)"

done_testing
