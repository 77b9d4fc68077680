#!/usr/bin/env bash
# Damage in the repository seen through the CLI: a flipped byte, a truncated pack, a missing pack, a
# missing index; each is reported by `repo check` with exit code 6 and a line naming the object, and
# `catalog rebuild` + check recover the same state from the repository alone. Runs against the local
# directory driver and the real S3 server; plus the dead endpoint and the wrong S3 secret.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
lv_require_services s3

lv=${LABVAULT_BIN:?}
put_blobs=${LV_BUILD_ROOT:?}/tests/maint/put_blobs
d=$(lv_tmpdir damage)
export LABVAULT_CONFIG=$d/empty.conf LABVAULT_KEY_FILE=$d/key
: >"$LABVAULT_CONFIG"
unset LABVAULT_PASSPHRASE AWS_ENDPOINT_URL 2>/dev/null || true
export LABVAULT_S3_ENDPOINT=$LV_TEST_S3_ENDPOINT LABVAULT_S3_ACCESS_KEY=$LV_TEST_S3_ACCESS_KEY
export LABVAULT_S3_SECRET_KEY=$LV_TEST_S3_SECRET_KEY LABVAULT_S3_REGION=$LV_TEST_S3_REGION


# Object helpers that work on both drivers: list keys, read, write.
keys() { # PREFIX
  if [[ $kind == local ]]; then (cd "$repo" && find "$1" -type f ! -name '*.tmp-*' | sort)
  else lv_s3_keys "$bucket" "$1"; fi
}
fetch() { if [[ $kind == local ]]; then cp "$repo/$1" "$2"; else lv_s3_get "$bucket" "$1" "$2"; fi; }
store() { if [[ $kind == local ]]; then cp "$2" "$repo/$1"; else lv_s3_put "$bucket" "$1" "$2"; fi; }
remove() { if [[ $kind == local ]]; then rm "$repo/$1"; else lv_s3_curl -X DELETE "$LV_TEST_S3_ENDPOINT/$bucket/$1" >/dev/null; fi; }

for kind in local s3; do
  if [[ $kind == local ]]; then repo=$d/repo; url=$repo; else bucket=$(lv_s3_bucket damage); url=s3://$bucket/lv; repo=; fi
  [[ $kind == s3 ]] && pfx=lv/ || pfx=
  export LABVAULT_REPO=$url LABVAULT_CATALOG=$d/$kind.db
  run "$lv" repo init
  is "$rc" 0 "$kind: init"
  npacks=$("$put_blobs" "$url" 12)
  ok "$kind: fixture wrote several packs ($npacks)" test "$npacks" -ge 3
  run "$lv" repo check --read-data
  is "$rc" 0 "$kind: intact repository passes check --read-data"
  like "$out" "no damage found" "$kind: check says so"
  run "$lv" repo check --read-data=50 --json
  is "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["packs_read"], d["read_data_percent"])' <<<"$out")" \
    "$(((npacks + 1) / 2)) 50" "$kind: --read-data=50 reads half the packs, rounded up"

  mapfile -t packs < <(keys "${pfx}data/")
  p1=${packs[0]#"$pfx"} p2=${packs[1]#"$pfx"} p3=${packs[2]#"$pfx"}
  fetch "$pfx$p1" "$d/p1.orig"; fetch "$pfx$p2" "$d/p2.orig"; fetch "$pfx$p3" "$d/p3.orig"

  # 1. a flipped byte
  cp "$d/p1.orig" "$d/p1.bad"
  lv_flip_byte "$d/p1.bad" 1000
  cmp -s "$d/p1.orig" "$d/p1.bad" && BAIL_OUT "byte not flipped"
  store "$pfx$p1" "$d/p1.bad"
  run "$lv" repo check --read-data
  is "$rc" 6 "$kind: flipped byte: exit 6"
  like "$err" "$p1" "$kind: flipped byte: the pack is named"
  like "$(tail -n 1 <<<"$err")" "^labvault: repository .* is damaged" "$kind: flipped byte: final one-line error"
  run "$lv" repo check
  is "$rc" 0 "$kind: a structure-only check does not read data (so cannot see the flip)"
  store "$pfx$p1" "$d/p1.orig"

  # 2. a truncated pack
  head -c 5000 "$d/p2.orig" >"$d/p2.short"
  store "$pfx$p2" "$d/p2.short"
  run "$lv" repo check
  is "$rc" 6 "$kind: truncated pack: exit 6 (structure check sees the size)"
  like "$err" "$p2" "$kind: truncated pack: named"
  store "$pfx$p2" "$d/p2.orig"

  # 3. a missing pack
  remove "$pfx$p3"
  run "$lv" repo check
  is "$rc" 6 "$kind: missing pack: exit 6"
  like "$err" "$p3.*(missing|not found)|(missing|not found).*$p3" "$kind: missing pack: named as missing"
  store "$pfx$p3" "$d/p3.orig"
  run "$lv" repo check --read-data
  is "$rc" 0 "$kind: repaired repository passes again"

  # 4. catalog lost: rebuild from the repository alone gives back the same blobs and manifest
  blobs_before=$(sqlite3 "$LABVAULT_CATALOG" 'select count(*) from blobs')
  man_before=$(sqlite3 "$LABVAULT_CATALOG" 'select id from manifests')
  rm -f "$LABVAULT_CATALOG" "$LABVAULT_CATALOG"-wal "$LABVAULT_CATALOG"-shm
  run "$lv" catalog rebuild --json
  is "$rc" 0 "$kind: catalog rebuild"
  is "$(sqlite3 "$LABVAULT_CATALOG" 'select count(*) from blobs')" "$blobs_before" "$kind: same blob count ($blobs_before)"
  is "$(sqlite3 "$LABVAULT_CATALOG" 'select id from manifests')" "$man_before" "$kind: same manifest"
done

# Wrong S3 secret: exit 5, the secret is not echoed.
LABVAULT_S3_SECRET_KEY=not-the-secret run "$lv" repo check
is "$rc" 5 "wrong S3 secret: exit 5"
unlike "$err" "not-the-secret" "wrong S3 secret: not echoed"
is "$(wc -l <<<"$err")" 1 "wrong S3 secret: one line"

# Dead endpoint: a closed port on 127.0.0.1, few retries: exit 4 naming the endpoint.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
LABVAULT_S3_ENDPOINT=http://127.0.0.1:$port LABVAULT_S3_MAX_RETRIES=1 run "$lv" repo check
is "$rc" 4 "dead endpoint: exit 4"
like "$err" "127.0.0.1:$port|s3://" "dead endpoint: names the endpoint or repository"

done_testing
