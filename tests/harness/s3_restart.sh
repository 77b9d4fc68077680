#!/usr/bin/env bash
# Harness test (TAP): a test's own S3 server (lv_s3_start / s3.sh) for fault tests: radosgw stopped and
# started again mid-test, killed, frozen, and the whole server restarted with its data (bluestore).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

lv_require_services s3
plan 10

shared_endpoint=$LV_TEST_S3_ENDPOINT
lv_s3_start
pass "private S3 server started at $LV_TEST_S3_ENDPOINT"
isnt "$LV_TEST_S3_ENDPOINT" "$shared_endpoint" "on its own port"
s3=$LV_TEST_HARNESS/s3.sh
d=$(lv_tmpdir)
head -c 2000000 /dev/urandom >"$d/in"
bucket=$(lv_s3_bucket restart)
ok "PUT an object" lv_s3_put "$bucket" obj "$d/in"

"$s3" stop-rgw "$LV_S3_DIR" 2>/dev/null
rc=0
curl -sS -m 5 -o /dev/null "$LV_TEST_S3_ENDPOINT/" 2>/dev/null || rc=$?
is "$rc" 7 "after stop-rgw the endpoint refuses connections (curl exit 7)"
"$s3" start-rgw "$LV_S3_DIR" 2>/dev/null
ok "after start-rgw the object is back" lv_s3_get "$bucket" obj "$d/out1"
ok "... with the same bytes" cmp "$d/in" "$d/out1"

"$s3" freeze-rgw "$LV_S3_DIR"
rc=0
curl -sS -m 1 -o /dev/null "$LV_TEST_S3_ENDPOINT/" 2>/dev/null || rc=$?
is "$rc" 28 "a frozen radosgw times out (curl exit 28)"
"$s3" thaw-rgw "$LV_S3_DIR"

"$s3" kill-rgw "$LV_S3_DIR" 2>/dev/null
"$s3" start-rgw "$LV_S3_DIR" 2>/dev/null
ok "after kill-rgw + start-rgw the object is back" lv_s3_get "$bucket" obj "$d/out2"

"$s3" restart "$LV_S3_DIR" >"$d/restart.log" 2>&1 || { diag "s3.sh restart failed:"; diag "$(tail -n 20 "$d/restart.log")"; }
lv_s3_get "$bucket" obj "$d/out3" || true
ok "after a full restart (bluestore) the object survives" cmp "$d/in" "$d/out3"
ok "the shared server still answers" curl -sS -m 5 -o /dev/null "$shared_endpoint/"
