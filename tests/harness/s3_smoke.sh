#!/usr/bin/env bash
# Harness smoke test (TAP): the S3 server checks SigV4 signatures for real.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

lv_require_services s3
plan 10

bucket=$(lv_s3_bucket harness-s3-smoke) || BAIL_OUT "could not create a bucket on $LV_TEST_S3_ENDPOINT"
pass "created bucket $bucket"
d=$(lv_tmpdir)
head -c 300000 /dev/urandom >"$d/in"
head -c 1000 /dev/urandom >"$d/other"
url=$LV_TEST_S3_ENDPOINT/$bucket/smoke/object.bin

code=$(lv_s3_curl -o "$d/put.out" -w '%{http_code}' -T "$d/in" "$url")
is "$code" 200 "signed PUT with the right secret: HTTP 200"
code=$(lv_s3_curl -o "$d/got" -w '%{http_code}' "$url")
is "$code" 200 "signed GET with the right secret: HTTP 200"
ok "GET returns the bytes that were PUT" cmp "$d/in" "$d/got"
is "$(lv_s3_keys "$bucket" smoke/)" "smoke/object.bin" "ListObjectsV2 shows the key"

code=$(LV_TEST_S3_SECRET_KEY=wrong-secret lv_s3_curl -o "$d/wrong-put.xml" -w '%{http_code}' -T "$d/other" "$url")
is "$code" 403 "PUT signed with a wrong secret: HTTP 403"
like "$(cat "$d/wrong-put.xml")" '<Code>SignatureDoesNotMatch</Code>' "... with SignatureDoesNotMatch"
code=$(LV_TEST_S3_SECRET_KEY=wrong-secret lv_s3_curl -o "$d/wrong-get.xml" -w '%{http_code}' "$url")
like "$code $(cat "$d/wrong-get.xml")" '^403 .*<Code>SignatureDoesNotMatch</Code>' \
  "GET signed with a wrong secret: 403 SignatureDoesNotMatch"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url")
is "$code" 403 "unsigned GET: HTTP 403"
lv_s3_get "$bucket" smoke/object.bin "$d/again"
ok "the refused PUT changed nothing" cmp "$d/in" "$d/again"
