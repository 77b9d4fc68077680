#!/usr/bin/env bash
# Bit rot in every object kind, on a local repository and on the S3 server: a real PostgreSQL 15 cluster
# archives into both (stanza, WAL segments), each gets a pg backup, a file snapshot, a drill record, a
# second key and a timeline history file. Then, for every kind, a flipped byte, a truncation and (where
# a deletion is damage) a deletion must make `repo check --read-data` exit 6 naming the object, and the
# repaired repository passes again; `repo check` says which kinds it covered. Also: a lost stanza is
# refused by `wal status`, `check`, a push with a cold catalog and `catalog rebuild`, and `stanza create`
# recreates it; a damaged drill record fails `catalog rebuild` (exit 9); copies of the catalog left by
# earlier versions are reported and removed by the next backup; stale temporary files (local driver) are
# reported and removed by the next writer of their kind or `repo unlock`, fresh ones are left alone;
# an unreadable lock is a warning.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir bitrot)
bucket=$(lv_s3_bucket bitrot)
wal_conf "$w/local.conf" "$w/repo" "[drill]" "scratch-dir = $w/scratch"
wal_conf "$w/s3.conf" "s3://$bucket/lv" "[drill]" "scratch-dir = $w/scratch"
printf 'second key passphrase\n' >"$w/pass2"
as_pg mkdir -p "$w/src/sub"
as_pg sh -c "echo hello >'$w/src/a'; head -c 300000 /dev/urandom >'$w/src/sub/b'"
chmod 0644 "$w/pass2"

lv_pg_start "archive_mode = on" "wal_level = replica" \
  "archive_command = '$lv --config $w/local.conf wal push %p && $lv --config $w/s3.conf wal push %p'"
pgbench -i -s 2 -q >/dev/null 2>&1
# A timeline history file, as PostgreSQL pushes one at a promotion (its switch point before everything here).
printf '1\t0/1000000\tno recovery target specified\n' >"$w/00000002.history"
chmod 0644 "$w/00000002.history"

for kind in local s3; do
  conf=$w/$kind.conf
  ok "$kind: repository created" lvpg "$conf" repo init
  ok "$kind: a second key" lvpg "$conf" repo key add --new-passphrase-file "$w/pass2"
done
wal_make_segments 3 >/dev/null
for kind in local s3; do
  run lvpg "$w/$kind.conf" backup pg --pgdata "$PGDATA" --type full
  is "$rc" 0 "$kind: backup pg ${err:+($err)}"
done
wal_make_segments 6 >/dev/null
wal_switch
ok "PostgreSQL archived every segment" wal_wait_archived 120
for kind in local s3; do
  conf=$w/$kind.conf
  ok "$kind: a timeline history file pushed" lvpg "$conf" wal push "$w/00000002.history"
  ok "$kind: backup files" lvpg "$conf" backup files "$w/src"
  run lvpg "$conf" drill run --latest-snapshot
  is "$rc" 0 "$kind: a drill recorded ${err:+($err)}"
done

# Object helpers on both drivers: list keys (without the S3 prefix), read, write back, remove.
keys() {
  if [[ $kind == local ]]; then (cd "$repo" && find "$1" -type f ! -name '*.tmp-*' 2>/dev/null | sort)
  else lv_s3_keys "$bucket" "lv/$1" | sed 's|^lv/||'; fi
}
fetch() { if [[ $kind == local ]]; then cp "$repo/$1" "$2"; else lv_s3_get "$bucket" "lv/$1" "$2"; fi; }
store() {
  if [[ $kind == local ]]; then
    as_pg mkdir -p "$(dirname "$repo/$1")" && cp "$2" "$repo/$1" && chown "$LV_TEST_PG_OSUSER:" "$repo/$1"
  else lv_s3_put "$bucket" "lv/$1" "$2"; fi
}
remove() {
  if [[ $kind == local ]]; then rm -f "$repo/$1"
  else lv_s3_curl -f -X DELETE "$LV_TEST_S3_ENDPOINT/$bucket/lv/$1" >/dev/null; fi
}
flip() { python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x20; open(p,"wb").write(b)' "$1"; }
check() { run lvpg "$conf" repo check --read-data "$@"; }

# damage KIND_LABEL KEY PATTERN EXPECTED_DELETE_RC: flip, truncate, delete KEY; each time check must fail
# with the expected code and name PATTERN; the original is put back after each.
damage() {
  local label=$1 key=$2 pat=$3 del_rc=$4 orig=$w/orig.$kind
  fetch "$key" "$orig"
  cp "$orig" "$w/bad" && flip "$w/bad" && store "$key" "$w/bad"
  check
  is "$rc" 6 "$kind: $label: a flipped byte: exit 6"
  like "$err" "$pat" "$kind: $label: ... naming it"
  head -c $(($(stat -c %s "$orig") * 2 / 3)) "$orig" >"$w/bad" && store "$key" "$w/bad"
  check
  is "$rc" 6 "$kind: $label: truncated: exit 6"
  like "$err" "$pat" "$kind: $label: ... naming it"
  if [[ $del_rc != - ]]; then
    remove "$key"
    check
    is "$rc" "$del_rc" "$kind: $label: deleted: exit $del_rc"
    like "$err" "$pat" "$kind: $label: ... naming it"
  fi
  store "$key" "$orig"
}

for kind in local s3; do
  conf=$w/$kind.conf repo=$w/repo
  check --json
  is "$rc" 0 "$kind: the intact repository passes check --read-data ${err:+($err)}"
  is "$(python3 -c '
import json, sys
k = {x["kind"]: x for x in json.load(sys.stdin)["kinds"]}
need = ["config", "keys", "index", "data", "manifests", "stanza", "wal", "drills", "locks", "catalog copies", "temporary"]
print(" ".join(n for n in need if n not in k), [n for n in ("keys", "index", "data", "manifests", "stanza", "wal", "drills")
      if k[n]["objects"] == 0 or k[n]["verified"] != k[n]["objects"]])' <<<"$out")" " []" \
    "$kind: --json lists every kind, each present kind verified whole"
  check
  like "$out" "^kind +objects +verified" "$kind: the text report has the table of kinds"
  like "$out" "compared with the local catalog" "$kind: ... and says it compared with the local catalog"

  key2=$(lvpg "$conf" repo key list --json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if not k["current"]][0])')
  index=$(keys index/ | head -n 1)
  pack=$(keys data/ | head -n 1)
  manifest=$(keys manifests/ | head -n 1)
  mapfile -t segs < <(keys wal/00000001/ | grep -E '/[0-9A-F]{24}-')
  mid=${segs[$((${#segs[@]} / 2))]} last=${segs[-1]}
  history=$(keys wal/00000002/)
  drill=$(keys drills/)
  ok "$kind: fixture has ${#segs[@]} segments, a history file, a drill record" test "${#segs[@]}" -ge 4 -a -n "$history" -a -n "$drill"

  damage config config "config" 1
  damage key "keys/$key2" "${key2:0:16}" -
  damage "index object" "$index" "$index" 6
  damage pack "$pack" "${pack#data/}" -
  damage manifest "$manifest" "$manifest" 6
  damage stanza stanza "stanza" 6
  damage "WAL segment" "$mid" "$(basename "${mid%-*}")" 6
  damage "the newest WAL segment" "$last" "$(basename "${last%-*}")" 6
  damage "timeline history file" "$history" "00000002.history" 6
  damage "drill record" "$drill" "$drill" 6
  # Without a local catalog (a new host) a deleted segment is still seen: it leaves a gap.
  sed "s|^catalog = .*|catalog = $w/none-$kind.db|" "$conf" >"$w/nocat-$kind.conf"
  fetch "$mid" "$w/orig.$kind"
  remove "$mid"
  run lvpg "$w/nocat-$kind.conf" repo check
  is "$rc" 6 "$kind: without a catalog, a deleted WAL segment: exit 6"
  s=$(basename "${mid%-*}")
  like "$err" "segments $s to $s are missing" "$kind: ... the gap named"
  like "$out" "no local catalog" "$kind: ... and the report says it had no catalog to compare with"
  ok "$kind: ... and check created none" test ! -e "$w/none-$kind.db"
  store "$mid" "$w/orig.$kind"
  # A gap among the newest segments that fills within seconds (an asynchronous push finishing after a
  # later one) is no damage: check gives it time.
  late=${segs[-2]}
  fetch "$late" "$w/orig.$kind"
  remove "$late"
  lvpg "$w/nocat-$kind.conf" repo check >"$w/late.out" 2>"$w/late.err" &
  checker=$!
  sleep 1
  store "$late" "$w/orig.$kind"
  rc=0
  wait "$checker" || rc=$?
  is "$rc" 0 "$kind: a gap among the newest segments that fills within seconds: no damage $(tail -n 1 "$w/late.err")"
  check
  is "$rc" 0 "$kind: the repaired repository passes again ${err:+($err)}"
  check --json --read-data=1
  is "$rc $(out_field read_data_percent)" "0 1" "$kind: --read-data=1 passes"
  is "$(python3 -c 'import json,sys; print({k["kind"]: k["verified"] for k in json.load(sys.stdin)["kinds"]}["wal"])' <<<"$out")" 1 \
    "$kind: ... and reads 1 % of the WAL objects, rounded up: one"

  # --- a lost stanza
  fetch stanza "$w/stanza.$kind"
  remove stanza
  run lvpg "$conf" wal status
  is "$rc" 6 "$kind: stanza lost: wal status exits 6"
  like "$err" "^labvault: .*stanza object is missing, but wal/ holds archived WAL .*stanza create" "$kind: ... saying so in one line"
  run lvpg "$conf" check
  is "$rc" 6 "$kind: stanza lost: check exits 6"
  like "$err" "stanza object is missing" "$kind: ... saying so"
  sed "s|$w/$kind.db|$w/$kind-cold.db|" "$conf" >"$w/$kind-cold.conf"
  run lvpg "$w/$kind-cold.conf" wal push "$PGDATA/pg_wal/$(cd "$PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | tail -n 1)"
  is "$rc" 6 "$kind: stanza lost: a push with a cold catalog refuses to guess it again (exit 6)"
  run lvpg "$conf" catalog rebuild
  is "$rc" 9 "$kind: stanza lost: catalog rebuild exits 9"
  like "$err" "stanza object is missing" "$kind: ... naming it"
  run lvpg "$conf" stanza create --pg-data "$PGDATA"
  is "$rc" 0 "$kind: stanza create recreates it after checking the archive ${err:+($err)}"
  like "$err" "the stanza was missing" "$kind: ... saying so"
  check
  is "$rc" 0 "$kind: and check passes again ${err:+($err)}"

  # --- a damaged drill record: catalog rebuild reports it (exit 9), not a warning
  fetch "$drill" "$w/drill.$kind"
  cp "$w/drill.$kind" "$w/bad" && flip "$w/bad" && store "$drill" "$w/bad"
  run lvpg "$conf" catalog rebuild
  is "$rc" 9 "$kind: damaged drill record: catalog rebuild exits 9"
  like "$err" "error: $drill is damaged" "$kind: ... naming it as damage"
  store "$drill" "$w/drill.$kind"
  run lvpg "$conf" catalog rebuild
  is "$rc" 0 "$kind: repaired: catalog rebuild exits 0 ${err:+($err)}"

  # --- a copy of the catalog written by an earlier version: reported, then removed by the next backup
  printf 'old catalog copy\n' >"$w/copy"
  store catalog/oldhost "$w/copy"
  check
  is "$rc" 0 "$kind: an old catalog copy is no damage"
  like "$err" "warning: catalog/oldhost: a copy of a local catalog" "$kind: ... but a warning"
  ok "$kind: backup files" lvpg "$conf" backup files "$w/src"
  is "$(keys catalog/)" "" "$kind: the backup removed the old catalog copy"

  # --- an unreadable lock: nobody can tell whether its holder lives, so it holds check off (exit 7)
  printf 'garbage\n' >"$w/lock"
  store locks/0123456789abcdef0123456789abcdef "$w/lock"
  check
  is "$rc" 7 "$kind: an unreadable lock: check exits 7 (locked)"
  like "$err" "^labvault: repository is locked by locks/0123456789abcdef0123456789abcdef, which is unreadable .*repo unlock --force" \
    "$kind: ... naming it and how to remove it"
  ok "$kind: repo unlock --force removes it" lvpg "$conf" repo unlock --force
  check
  is "$rc" 0 "$kind: then check passes ${err:+($err)}"
done

# --- temporary files of killed writers (local driver only: an S3 PUT is atomic)
kind=local conf=$w/local.conf repo=$w/repo
d=$(dirname "$repo/$(keys data/ | head -n 1)")
stale_data=$d/0000.tmp-4242-0badcafe fresh_data=$d/0001.tmp-4243-0badcafe
stale_drill=$repo/drills/x.tmp-4244-0badcafe stale_wal=$repo/wal/00000001/y.tmp-4245-0badcafe
for f in "$stale_data" "$fresh_data" "$stale_drill" "$stale_wal"; do
  head -c 1000 /dev/urandom >"$f"
  chown "$LV_TEST_PG_OSUSER:" "$f"
done
touch -d '2 days ago' "$stale_data" "$stale_drill" "$stale_wal"
check --json
is "$rc" 0 "temporaries: no damage"
is "$(python3 -c 'import json,sys; j=json.load(sys.stdin); print({k["kind"]: (k["objects"], k["warnings"]) for k in j["kinds"]}["temporary"])' <<<"$out")" \
  "(4, 3)" "temporaries: four found, the three stale ones reported"
like "$out" "${stale_data#"$repo"/}: stale temporary object" "temporaries: ... each named"
unlike "$out" "0001.tmp-4243" "temporaries: ... a fresh one (a put may be writing it) is not reported"
ok "backup files" lvpg "$conf" backup files "$w/src"
ok "the backup removed the stale temporary in data/" test ! -e "$stale_data"
ok "... and left the fresh one" test -e "$fresh_data"
ok "drill run" lvpg "$conf" drill run --latest-snapshot
ok "the drill removed the stale temporary in drills/" test ! -e "$stale_drill"
ok "... but not the one in wal/ (not its kind)" test -e "$stale_wal"
run lvpg "$conf" repo unlock --json
is "$rc $(out_field removed_temporary)" "0 1" "repo unlock removed the stale temporary in wal/"
ok "... gone" test ! -e "$stale_wal"
ok "... and the fresh one is still there" test -e "$fresh_data"

done_testing
