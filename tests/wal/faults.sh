#!/usr/bin/env bash
# Archiving through failures: archive_command pushes to S3 through the fault proxy (tests/faultproxy), which
# for a few seconds in the middle of pgbench resets every connection (sync phase) or answers 503 to every
# request (async phase). archive_command fails non-zero, PostgreSQL keeps and retries the segments, and once
# the proxy forwards again every segment arrives: none missing, none stored twice, all byte-identical.
# A third phase loses responses after the server acted on the request (the put happened, the client
# could not know): the retry must see its own object and succeed, without a second copy.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}
fp=${1:-}
[[ -x $fp ]] || plan skip_all "no faultproxy binary given (argument 1)"

w=$(wal_workdir faults)
ctl=$w/proxy-action # while this file exists, its word is the proxy's answer to every request
faultproxy_start "$fp" "$LV_TEST_S3_ENDPOINT" "$ctl"
bucket=$(lv_s3_bucket walfaults)
WAL_S3_ENDPOINT=$FP_ENDPOINT wal_conf "$w/s3.conf" "s3://$bucket/faults" "[archive]" "timeout = 20"
ok "S3 repository created through the proxy" lvpg "$w/s3.conf" repo init

lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/s3.conf wal push %p'" \
  "wal_level = replica" "max_wal_size = 64MB" "min_wal_size = 32MB" "wal_keep_size = 4GB"
pgbench -i -s 2 -q >/dev/null 2>&1

listing() { lvpg "$w/s3.conf" wal list --json; }
count_names() { python3 -c 'import json,sys; l=json.load(sys.stdin); print(len(l), len({o["name"] for o in l}))'; }

phase() { # NAME PUSH_FLAGS PROXY_ACTION
  local name=$1 flags=$2 action=$3 before after new failed0 failed1 missing count
  before=$(wal_done_list)
  failed0=$(psql -qAtX -c 'SELECT failed_count FROM pg_stat_archiver')
  psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $w/s3.conf wal push $flags %p'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  pgbench -n -c 4 -j 2 -T 9 >/dev/null 2>&1 &
  local bench=$!
  sleep 2
  printf '%s\n' "$action" >"$ctl"
  # Segments completed while the store fails: archive_command must be called for them, and fail.
  for i in 1 2 3; do
    sleep 1.2
    wal_switch
  done
  rm -f "$ctl"
  wait "$bench" || diag "$name: pgbench failed"
  failed1=$(psql -qAtX -c 'SELECT failed_count FROM pg_stat_archiver')
  ok "$name: archive_command failed while the store failed ($((failed1 - failed0)) times)" \
    test "$failed1" -gt "$failed0"
  wal_switch
  ok "$name: once the store is back, PostgreSQL archived every segment" wal_wait_archived 150
  after=$(wal_done_list)
  new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep . || true)
  count=$(grep -c . <<<"$new" || true)
  ok "$name: pgbench produced segments ($count)" test "$count" -ge 3
  missing=$(comm -23 <(printf '%s\n' "$new") <(listing | python3 -c \
    'import json,sys; print("\n".join(sorted(o["name"] for o in json.load(sys.stdin))))'))
  is "$missing" "" "$name: none missing"
  read -r objects names < <(listing | count_names)
  is "$objects" "$names" "$name: no file stored twice ($objects objects)"
  # shellcheck disable=SC2086
  is "$(wal_fetch_compare "$w/s3.conf" $new)" 0 "$name: every segment byte-identical after wal fetch"
}

phase "sync, connections reset" "" reset
phase "async, 503 from every request" "--async" 503

# Lost responses: a second proxy in front of the same bucket loses the answer to the first 6 PUTs after
# S3 stored the object. The retried conditional PUT conflicts and the client reads the object back (or
# archive_command fails and PostgreSQL's retry finds it archived); either way exactly one copy.
before=$(wal_done_list)
"$fp" --upstream "${LV_TEST_S3_ENDPOINT#http://}" --method PUT --schedule 'lost*6' --max-seconds 600 \
  >"$w/port2" 2>/dev/null &
lv_at_exit kill "$!"
for ((i = 0; i < 100; i++)); do [[ -s $w/port2 ]] && break; sleep 0.05; done
WAL_S3_ENDPOINT=http://127.0.0.1:$(head -n 1 "$w/port2") wal_conf "$w/lost.conf" "s3://$bucket/faults"
chown -R "${LV_TEST_PG_OSUSER:-$(id -un)}:" "$w" 2>/dev/null || true
psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $w/lost.conf wal push %p'" \
  -c "SELECT pg_reload_conf()" >/dev/null
wal_bench 4
wal_switch
ok "lost responses: PostgreSQL archived every segment" wal_wait_archived 150
new=$(comm -13 <(printf '%s\n' "$before") <(wal_done_list) | grep . || true)
missing=$(comm -23 <(printf '%s\n' "$new") <(listing | python3 -c \
  'import json,sys; print("\n".join(sorted(o["name"] for o in json.load(sys.stdin))))'))
is "$missing" "" "lost responses: none missing"
read -r objects names < <(listing | count_names)
is "$objects" "$names" "lost responses: no file stored twice ($objects objects)"
# shellcheck disable=SC2086
is "$(wal_fetch_compare "$w/s3.conf" $new)" 0 "lost responses: every segment byte-identical"

out=$(lvpg "$w/s3.conf" wal status --json --pg-data "$PGDATA") && rc=0 || rc=$?
is "$rc" 0 "wal status: complete archive after the faults"
like "$out" '"recent_failures":\[\{' "wal status lists the failures journalled in the catalog"

done_testing
