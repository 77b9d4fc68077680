#!/usr/bin/env bash
# WAL archiving end to end: a real PostgreSQL 15 cluster with archive_command = 'labvault wal push %p' runs
# pgbench, in four phases: local repository sync, local async, S3 sync, S3 async. After each phase every
# segment PostgreSQL marked .done in it is in that phase's repository and byte-identical after `wal fetch`.
# Then `labvault check` (working and broken archiving) and `wal status`.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}

w=$(wal_workdir wal)
bucket=$(lv_s3_bucket walarchive)
wal_conf "$w/local.conf" "$w/repo"
wal_conf "$w/s3.conf" "s3://$bucket/archive"
ok "local repository created" lvpg "$w/local.conf" repo init
ok "S3 repository created" lvpg "$w/s3.conf" repo init

# Segments are kept (wal_keep_size) so each .done one can still be compared with its pg_wal copy.
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" \
  "wal_level = replica" "max_wal_size = 64MB" "min_wal_size = 32MB" "wal_keep_size = 4GB"
psql -qAtX -c "SELECT 1" >/dev/null

names_in_repo() { # CONF: the names `wal list --json` reports
  lvpg "$1" wal list --json | python3 -c 'import json,sys; print("\n".join(sorted(o["name"] for o in json.load(sys.stdin))))'
}

phase() { # NAME CONF PUSH_FLAGS PGBENCH_ARGS...
  local name=$1 conf=$2 flags=$3 before after new missing count
  shift 3
  before=$(wal_done_list)
  psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $conf wal push $flags %p'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5 # the archiver rereads its configuration between files
  "$@" >/dev/null 2>&1 || diag "$name: $* failed"
  wal_switch
  ok "$name: PostgreSQL archived every segment" wal_wait_archived 120
  after=$(wal_done_list)
  new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep . || true)
  count=$(grep -c . <<<"$new" || true)
  ok "$name: pgbench produced segments ($count)" test "$count" -ge 2
  missing=$(comm -23 <(printf '%s\n' "$new") <(names_in_repo "$conf"))
  is "$missing" "" "$name: every segment PostgreSQL marked .done is in the repository"
  # shellcheck disable=SC2086
  is "$(wal_fetch_compare "$conf" $new)" 0 "$name: every one fetched back byte-identical"
}

phase "local sync" "$w/local.conf" "" pgbench -i -s 5 -q
phase "local sync pgbench" "$w/local.conf" "" wal_bench 5
phase "local async" "$w/local.conf" "--async" wal_bench 5
phase "S3 sync" "$w/s3.conf" "" wal_bench 5
phase "S3 async" "$w/s3.conf" "--async" wal_bench 5

is "$(psql -qAtX -c 'SELECT failed_count FROM pg_stat_archiver')" 0 "no archive_command failed"
# PostgreSQL's own status files are the truth: labvault never created or renamed one.
is "$(find "$PGDATA/pg_wal/archive_status" -type f ! -name '*.done' ! -name '*.ready' | wc -l)" 0 \
  "archive_status holds only PostgreSQL's .ready/.done files"

# --- wal status: last archived segment, no gaps, lag 0
out=$(lvpg "$w/s3.conf" wal status --json --pg-data "$PGDATA") && rc=0 || rc=$?
is "$rc" 0 "wal status exits 0 for a complete archive"
last_done=$(wal_done_list | tail -n 1)
is "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["last_archived"])' <<<"$out")" "$last_done" \
  "wal status: the last archived segment is PostgreSQL's last .done"
is "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["lag"]["ready_files"], d["timelines"][0]["missing_segments"])' <<<"$out")" \
  "0 0" "wal status: no file waits, no gap"
like "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["last_archived_time"])' <<<"$out")" \
  '^20[0-9]{2}-' "wal status: when the last segment arrived (catalog)"

# --- check: forces a switch and waits for the segment in the repository
out=$(PGHOST=$PGHOST PGPORT=$PGPORT lvpg "$w/s3.conf" check --json) && rc=0 || rc=$?
is "$rc" 0 "check: archiving works"
seg=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["segment"])' <<<"$out")
ok "check: its segment $seg is in the repository" grep -qx "$seg" <(names_in_repo "$w/s3.conf")
# Broken archiving, checked against the local repository (an async worker of the S3 phase may still be
# pushing ready files to S3 for a few seconds: it pushes whatever PostgreSQL left ready).
psql -qAtX -c "ALTER SYSTEM SET archive_command = '/bin/false'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
out=$(lvpg "$w/local.conf" check --archive-timeout 3 2>&1) && rc=0 || rc=$?
is "$rc" 12 "check: broken archive_command is exit 12"
like "$out" "did not reach repository .* within 3 s" "check: says which segment did not arrive"
psql -qAtX -c "ALTER SYSTEM SET archive_mode = off" >/dev/null
"$LV_TEST_HARNESS/pg.sh" restart "$LV_PG_DIR" >/dev/null 2>&1
out=$(lvpg "$w/s3.conf" check 2>&1) && rc=0 || rc=$?
is "$rc" 8 "check: archive_mode = off is exit 8 (postgresql)"
like "$out" "archive_mode is off" "check: says so"

done_testing
