#!/usr/bin/env bash
# prune beside other labvault processes, all of them real processes on one S3 repository
# (docs/repository-format.md 10):
#   1. a backup that synced its catalog before prune and deduplicates against packs prune is about to
#      delete: prune waits for its in-flight marker; the backup commits; prune then keeps (rescues) the
#      packs it references; the snapshot restores exactly and repo check is clean;
#   2. the same with --wait 0: prune defers the deletion (exit 0, says which command holds it up), the
#      next prune deletes what is no longer referenced;
#   3. another host, whose catalog still lists packs that prune removed, checks the repository (clean:
#      the removals are recorded) and backs up the same content again: it notices the index changed,
#      stores the blobs again instead of referencing deleted ones, and its snapshot restores;
#   4. two prunes at once: the second exits 7 (locked) naming the first, which completes;
#   5. --safety=none does not wait for markers.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_require_services s3
lv_clean_env
w=$(lv_tmpdir prunecc)
bucket=$(lv_s3_bucket prunecc)
files_conf "$w/a.conf" "s3://$bucket/r" # host A
cp "$w/a.conf" "$w/b.conf"
sed -i "s|^catalog = .*|catalog = $w/b.db|" "$w/b.conf" # host B: same repository and key, its own catalog
lv repo init >/dev/null 2>&1
lva() { LABVAULT_CONFIG=$w/a.conf "$LABVAULT_BIN" "$@"; }
lvb() { LABVAULT_CONFIG=$w/b.conf "$LABVAULT_BIN" "$@"; }
markers() { lv_s3_curl "$LV_TEST_S3_ENDPOINT/$bucket?list-type=2&prefix=r%2Finflight%2F" | grep -c '<Key>' || true; }

mkdir -p "$w/data" "$w/other"
head -c 3000000 /dev/urandom >"$w/data/big1"
head -c 3000000 /dev/urandom >"$w/data/big2"
echo small >"$w/other/x"

# --- 1. a backup deduplicating against what prune deletes, prune waiting for it
run lva backup files --json "$w/data"
s1=$(jget "$out" 'j["id"]')
run lva backup files --json "$w/other"
is "$rc" 0 "two snapshots: data (two 3 MB files) and other"
run lva forget "$s1"
is "$rc" 0 "forget the data snapshot: its packs hold nothing any manifest references"
# host B's backup syncs now (its catalog lists the data blobs, indexed), then sleeps 6 s before reading
# files; prune runs on host A (its own catalog: on one host prune's catalog sync would also hide them)
run lvb snapshots
LABVAULT_TEST_PAUSE_AFTER_SYNC=6 LABVAULT_CONFIG=$w/b.conf "$LABVAULT_BIN" backup files --json "$w/data" \
  >"$w/b1.out" 2>"$w/b1.err" &
bpid=$!
for _ in $(seq 100); do [[ $(markers) -ge 1 ]] && break; sleep 0.1; done
is "$(markers)" 1 "the running backup has announced itself (inflight/)"
run lva prune --json --wait 60
is "$rc" 0 "prune beside the running backup: exit 0 ${err:+($err)}"
brc=0
wait "$bpid" || brc=$?
is "$brc" 0 "the backup completes"
s2=$(jget "$(cat "$w/b1.out")" 'j["id"]')
is "$(jget "$(cat "$w/b1.out")" 'j["bytes_new"]')" 0 "... deduplicating every data blob against the forgotten snapshot's packs"
ok "prune waited for it, then kept (rescued) the packs its snapshot references ($(jget "$out" 'j["packs_rescued"]'))" \
  test "$(jget "$out" 'j["packs_rescued"]')" -ge 1
run lvb restore files "$s2" --to "$w/r1"
is "$rc" 0 "the snapshot made during prune restores: exit 0 ${err:+($err)}"
ok "... exactly" diff -r "$w/data" "$w/r1$w/data"
run lva repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0 ($(tail -n 1 <<<"$out"))"
is "$(markers)" 0 "no in-flight marker is left"
run lva restore files "$s2" --to "$w/r1a"
is "$rc" 0 "... also from host A's catalog, which prune changed: exit 0 ${err:+($err)}"

# --- 2. --wait 0: the deletion is deferred to the next prune
run lva forget "$s2"
LABVAULT_TEST_PAUSE_AFTER_SYNC=4 LABVAULT_CONFIG=$w/a.conf "$LABVAULT_BIN" restore files latest --to "$w/r2" \
  >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do [[ $(markers) -ge 1 ]] && break; sleep 0.1; done
run lva prune --json --wait 0
is "$rc" 0 "prune with --wait 0 beside a running restore: exit 0"
ok "... deferred the deletion of $(jget "$out" 'j["packs_deferred"]') packs" test "$(jget "$out" 'j["packs_deferred"]')" -ge 1
like "$(jget "$out" 'j["deferred_by"]')" "^restore files on host .* \(pid $rpid" "... naming the restore that holds it up"
wait "$rpid" || true
run lva prune --json
is "$rc $(jget "$out" 'j["packs_deferred"]')" "0 0" "the next prune deletes them"
ok "... $(jget "$out" 'j["packs_deleted"]') packs deleted" test "$(jget "$out" 'j["packs_deleted"]')" -ge 1
run lva repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0"

# --- 3. host B's catalog still lists packs that prune removed
head -c 2000000 /dev/urandom >"$w/data/big3"
run lvb backup files --json "$w/data"
b1=$(jget "$out" 'j["id"]')
is "$rc" 0 "host B backs up data (its catalog now lists these blobs)"
run lva forget "$b1"
run lva prune --json
ok "host A forgets it and prunes: $(jget "$out" 'j["packs_deleted"]') packs deleted" test "$(jget "$out" 'j["packs_deleted"]')" -ge 1
run lvb repo check
is "$rc" 0 "repo check on host B, whose catalog still records the forgotten snapshot and the replaced index objects: exit 0 ($(tail -n 1 <<<"$out"))"
unlike "$out$err" "missing, but the local catalog records it" "... it knows they were removed on purpose (deleted/ records, superseded index ids)"
run lvb backup files --json "$w/data"
is "$rc" 0 "host B backs up the same data again: exit 0 ${err:+($err)}"
ok "... it stored the blobs again ($(jget "$out" 'j["bytes_new"]') bytes new) instead of referencing deleted ones" \
  test "$(jget "$out" 'j["bytes_new"]')" -ge 8000000
run lvb restore files "$(jget "$out" 'j["id"]')" --to "$w/r3"
is "$rc" 0 "... and its snapshot restores: exit 0 ${err:+($err)}"
ok "... exactly" diff -r "$w/data" "$w/r3$w/data"
run lva repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0"

# --- 4. two prunes at once; the first holds the lock while it waits for a running backup
LABVAULT_TEST_PAUSE_AFTER_SYNC=8 LABVAULT_CONFIG=$w/b.conf "$LABVAULT_BIN" backup files "$w/other" >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 100); do [[ $(markers) -ge 1 ]] && break; sleep 0.1; done
LABVAULT_CONFIG=$w/a.conf "$LABVAULT_BIN" prune --wait 30 >"$w/p1.out" 2>"$w/p1.err" &
p1=$!
sleep 2
run lvb prune
is "$rc" 7 "a second prune while one runs: exit 7 (locked)"
like "$err" "^labvault: repository is locked by locks/[0-9a-f]+ \(host .*, pid $p1, .*exclusive" "... naming the first"
p1rc=0
wait "$p1" || p1rc=$?
wait "$bpid" || true
is "$p1rc" 0 "the first prune completes"

# --- 5. --safety=none does not wait for markers
LABVAULT_TEST_PAUSE_AFTER_SYNC=30 LABVAULT_CONFIG=$w/b.conf "$LABVAULT_BIN" restore files latest --to "$w/r5" \
  >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do [[ $(markers) -ge 1 ]] && break; sleep 0.1; done
SECONDS=0
run lva prune --safety=none --wait 60 --json
is "$rc $(jget "$out" 'j["packs_deferred"]')" "0 0" "prune --safety=none beside a running restore: exit 0, nothing deferred"
ok "... without waiting (${SECONDS} s)" test "$SECONDS" -lt 20
kill "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true

done_testing
