#!/usr/bin/env bash
# File-snapshot drills against the real S3 server: a drill of a snapshot with every kind of entry and
# metadata passes (every entry compared), the record is in the catalog and in the repository; after a
# flipped byte in a pack the drill fails naming the damage and still removes its scratch directory;
# `drill history --json`; `catalog rebuild` brings the history back from the repository; bad command lines.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_require_services s3
w=$(lv_tmpdir drill)
bucket=$(lv_s3_bucket drills)
files_conf "$w/lv.conf" "s3://$bucket/repo"
printf '[drill]\nscratch-dir = %s/scratch\n' "$w" >>"$w/lv.conf"
ok "repository created" lv repo init
make_tree "$w/src"
ok "snapshot taken" lv backup files "$w/src"
scratch_empty() { [[ -z $(ls -A "$w/scratch" 2>/dev/null) ]]; }

# --- a good snapshot
run lv drill run --latest-snapshot --json
is "$rc" 0 "drill of the latest snapshot passes (exit 0)"
is "$(jget "$out" 'j["passed"], j["kind"], j["failed_checks"]')" "(True, 'files', 0)" "record: passed, files, no failed check"
like "$(jget "$out" '[c["detail"] for c in j["checks"] if c["name"] == "compare"][0]')" \
  '^[0-9]+ entries compared with the snapshot, 0 differ$' "every entry was compared, none differs"
n=$(jget "$out" '[c["detail"] for c in j["checks"] if c["name"] == "compare"][0].split()[0]')
ok "the comparison covered the whole tree ($n entries)" test "$n" -ge 20
ok "RTO measured" python3 -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(not j['rto']['total'] > 0)" "$out"
id1=$(jget "$out" 'j["id"]')
ok "the scratch directory is removed" scratch_empty
run lv drill run --snapshot "$(jget "$out" 'j["source"][:8]')"
is "$rc" 0 "drill of a snapshot given by an id prefix passes"
like "$out" "^drill [0-9T]+Z-[0-9a-f]{8} \(files [0-9a-f]{12}, target snapshot\): passed" "human report line"
ok "both records are in the repository (drills/)" test "$(lv_s3_keys "$bucket" repo/drills/ | wc -l)" -eq 2

# --- a damaged pack: flip one byte in the middle of the biggest one
big=$(lv_s3_curl "$LV_TEST_S3_ENDPOINT/$bucket?list-type=2&prefix=repo%2Fdata%2F" |
  python3 -c 'import re,sys; x=re.findall(r"<Key>([^<]*)</Key>.*?<Size>([0-9]+)</Size>", sys.stdin.read()); print(max(x, key=lambda k: int(k[1]))[0])')
lv_s3_get "$bucket" "$big" "$w/pack"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x40; open(p,"wb").write(b)' "$w/pack"
lv_s3_put "$bucket" "$big" "$w/pack"
run lv drill run --latest-snapshot
is "$rc" 12 "drill of the damaged snapshot fails (exit 12)"
like "$err" "^labvault: drill [0-9T]+Z-[0-9a-f]{8} failed: restore: .*${big#repo/}: authentication failed" \
  "the one-line error names the damaged pack"
like "$out" "FAIL restore: " "the report shows the failed restore check"
ok "the scratch directory is removed after the failure" scratch_empty

# --- history
run lv drill history --json
is "$rc" 0 "drill history --json"
is "$(jget "$out" '[(d["kind"], d["passed"]) for d in j]')" "[('files', True), ('files', True), ('files', False)]" \
  "three drills, oldest first: passed, passed, failed"
is "$(jget "$out" 'j[0]["id"]')" "$id1" "the first record is the first drill"
run lv drill history --limit 1
like "$out" "FAILED .*authentication failed" "history --limit 1 shows the newest drill, failed, with its error"
is "$(grep -c . <<<"$out")" 2 "--limit 1: one line under the header"
like "$(head -1 <<<"$out")" "^STARTED +DRILL +KIND +SOURCE +RESULT +RTO +RPO +TARGET$" "... the header names the columns"

# --- the history survives the host: a fresh catalog rebuilt from the repository
before=$(lv drill history --json)
rm -f "$w/lv.db" "$w/lv.db-wal" "$w/lv.db-shm"
run lv drill history --json
is "$out" "$before" "a new catalog is filled from the repository first: every drill record is back, byte for byte"
like "$err" "catalog .* was new: filled it from the repository" "... and it says so"
run lv catalog rebuild
ok "catalog rebuild ran (exit $rc)" test "$rc" -eq 0 -o "$rc" -eq 9
is "$(lv drill history --json)" "$before" "catalog rebuild brought back every drill record, byte for byte"

# --- one scratch-dir, two OS users (issue 14): root's drill (say, from a timer) must not lock out the
# PostgreSQL user's, and the other way round. The parent is sticky and world-writable, each drill's 0700.
u=${LV_TEST_PG_OSUSER:-}
if ((EUID == 0)) && [[ -n $u ]] && id -u "$u" >/dev/null 2>&1; then
  mkdir -p "$w/src2"
  head -c 100000 /dev/urandom >"$w/src2/fresh.bin"
  ok "a fresh snapshot (no damaged blob in it)" lv backup files "$w/src2"
  rm -rf "$w/scratch"
  run lv drill run --latest-snapshot
  is "$rc" 0 "root's drill passes"
  is "$(stat -c '%a %U' "$w/scratch")" "1777 root" "the scratch parent it created is sticky and world-writable"
  ud=$(lv_tmpdir user-drill)
  chown "$u:" "$ud"
  cp "$w/key" "$ud/key"
  chown "$u:" "$ud/key"
  sed -e "s|^catalog = .*|catalog = $ud/lv.db|" -e "s|^key-file = .*|key-file = $ud/key|" "$w/lv.conf" >"$ud/lv.conf"
  chmod 0644 "$ud/lv.conf"
  asu() { runuser -u "$u" -- env -u LABVAULT_CONFIG "$LABVAULT_BIN" --config "$ud/lv.conf" "$@"; }
  run asu drill run --latest-snapshot
  is "$rc" 0 "then $u's drill in the same scratch-dir passes"
  like "$err$out" "passed" "... its report says so"
  ok "both drills removed their own directory" scratch_empty
  # A scratch parent an earlier version made (0755, root's): root's next drill opens it up.
  chmod 0755 "$w/scratch"
  run lv drill run --latest-snapshot
  is "$rc" 0 "root's drill with a 0755 scratch parent"
  is "$(stat -c %a "$w/scratch")" 1777 "... made it 1777"
  run asu drill run --latest-snapshot
  is "$rc" 0 "and $u's drill works again"
  # One it may not change: a clear message, not a cryptic one.
  chmod 0755 "$w/scratch"
  run asu drill run --latest-snapshot
  is "$rc" 11 "a 0755 root-owned scratch parent: $u's drill fails with 11"
  like "$err" "not writable by $u.*chmod 1777" "... saying how to fix it"
  chmod 1777 "$w/scratch"
  # Never a symbolic link (a user could plant one in a shared /var/tmp).
  mkdir -p "$w/elsewhere"
  ln -s "$w/elsewhere" "$w/scratch-link"
  run lv drill run --latest-snapshot --drill-scratch-dir "$w/scratch-link"
  is "$rc" 11 "a scratch-dir that is a symbolic link is refused (11)"
  ok "... nothing was made where it points" test -z "$(ls -A "$w/elsewhere")"
else
  skip "needs root and the PostgreSQL OS user" 14
fi

# --- bad command lines
drills=$(lv drill history --json | jget "$(cat)" 'len(j)')
run lv drill run --latest-snapshot --backup abcd1234
is "$rc" 2 "file and PostgreSQL options together: exit 2"
run lv drill run --snapshot a --latest-snapshot
is "$rc" 2 "--snapshot and --latest-snapshot together: exit 2"
run lv drill run --target-time '2026-01-01 00:00:00+00' --random-target
is "$rc" 2 "two targets: exit 2"
run lv drill run --snapshot ffffffffffff
is "$rc" 1 "an unknown snapshot: exit 1"
run lv drill run
is "$rc" 1 "a PostgreSQL drill without any PostgreSQL backup: exit 1"
run lv drill history --limit 0
is "$rc" 2 "history --limit 0: exit 2"
run lv drill report
is "$rc" 2 "report without --html: exit 2"
ok "nothing was recorded for the refused drills" test "$(lv drill history --json | jget "$(cat)" 'len(j)')" -eq "$drills"

done_testing
