#!/usr/bin/env bash
# `labvault status` and the Prometheus textfile, against a real PostgreSQL cluster archiving into a local
# repository and a backup set: everything ok (exit 0); then each limit broken on its own, each exiting
# 12 with one line naming what (a PostgreSQL backup too old, a snapshot too old, WAL waiting too long in
# archive_status, a failed push newer than the last success, no drill / a failed drill); --json; the
# metrics file (written after each state-changing command, parsed here) carries the same facts and the
# last runs of the commands.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}
w=$(wal_workdir status)
mkdir -p "$w/etc" "$w/scratch" && echo hello >"$w/etc/f"
chmod 1777 "$w/scratch"
wal_conf "$w/lv.conf" "$w/repo" "[global]" "metrics-file = $w/labvault.prom" "[drill]" "scratch-dir = $w/scratch" \
  "[set etc]" "path = $w/etc"
lvpg "$w/lv.conf" repo init >/dev/null
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/lv.conf wal push %p'" "wal_level = replica"
printf '[pg]\ndata = %s\n' "$PGDATA" >>"$w/lv.conf"
st() { as_pg "$lv" --config "$w/lv.conf" "$@" status; }
prom() { python3 - "$w/labvault.prom" "$@" <<'PY'
import re, sys
vals = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    m = re.fullmatch(r'([a-z_]+)(\{.*\})? (\S+)\n?', line)
    assert m, "malformed line: %r" % line
    vals[m.group(1) + (m.group(2) or "")] = float(m.group(3))
print(vals.get(sys.argv[2], "absent"))
PY
}

run lvpg "$w/lv.conf" backup pg --pgdata "$PGDATA"
is "$rc" 0 "a PostgreSQL backup ${err:+($err)}"
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
wal_wait_archived 60 || true
run lvpg "$w/lv.conf" backup files --set etc
run lvpg "$w/lv.conf" drill run --latest-snapshot
run lvpg "$w/lv.conf" drill run --latest
is "$rc" 0 "a drill of each kind ${err:+($err)}"
run st
is "$rc" 0 "status with everything recent: exit 0 ${err:+($err)}"
like "$out" "pg +cluster [0-9]+ .* ok" "... the cluster's line is ok"
like "$out" "files +set:etc .* ok" "... the backup set's line"
like "$out" "wal +archive .* ok +[0-9A-F]{24}[^;]*; 0 waiting" "... the WAL archive: the newest file, nothing waiting"
like "$out" "drill +pg .* ok +passed" "... the drills"
like "$out" "repo +repository size" "... and the repository's size"
run st --json
ok "status --json: ok, one item per line" python3 -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(not (j["ok"] and {(i["kind"], i["ok"]) for i in j["items"]} >= {("pg", True), ("files", True), ("wal", True), ("drill", True)} and j["repository_bytes"] > 0))' "$out"

# the metrics file, written after each of these commands
ok "the metrics file exists, mode 0644" test "$(stat -c %a "$w/labvault.prom")" = 644
is "$(prom labvault_status_ok)" 1.0 "metrics: labvault_status_ok 1"
is "$(prom 'labvault_backup_ok{kind="files",group="set:etc"}')" 1.0 "metrics: the backup set is ok"
ok "metrics: the newest WAL file's time" test "$(prom labvault_wal_last_archived_timestamp_seconds)" != absent
is "$(prom 'labvault_last_run_exit_code{command="drill run"}')" 0.0 "metrics: the drill's last run exited 0"
ok "metrics: the last backup pg stored bytes" python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' \
  "$(prom 'labvault_last_run_bytes{command="backup pg"}')"
ok "metrics: the last wal push is recorded" test "$(prom 'labvault_last_run_timestamp_seconds{command="wal push"}')" != absent

# each limit on its own
sleep 2.2
run st --status-max-backup-age 2s --status-max-snapshot-age 0
is "$rc" 12 "a PostgreSQL backup older than max-backup-age: exit 12"
like "$err" "^labvault: status: 1 not ok: pg cluster [0-9]+: the newest backup is [0-9]+s old \(limit 2s\)$" "... one line naming it"
run st --status-max-snapshot-age 2s --status-max-backup-age 0
is "$rc" 12 "a snapshot older than max-snapshot-age: exit 12"
like "$err" "files set:etc: the newest snapshot is [0-9]+s old \(limit 2s\)" "... naming the set"
run st --status-max-drill-age 2s
is "$rc 2" "12 $(grep -o 'drill [a-z]*: the newest drill is' <<<"$err" | wc -l)" "drills older than max-drill-age: exit 12, both named"
run st --status-max-wal-lag bogus
is "$rc" 3 "a malformed limit: exit 3"
psql -qAtX -c "ALTER SYSTEM SET archive_command = 'false'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
psql -qAtX -c "CREATE TABLE t AS SELECT 1" -c "SELECT pg_switch_wal()" >/dev/null
sleep 3
run st --status-max-wal-lag 2s
is "$rc" 12 "WAL waiting in archive_status longer than max-wal-lag: exit 12"
like "$err" "wal archive: 1 WAL files wait to be archived, the oldest \([0-9A-F]{24}\) for [0-9]+s \(limit 2s\)" "... naming the file"
echo junk >"$w/junk"
chown "$LV_TEST_PG_OSUSER:" "$w/junk"
as_pg "$lv" --config "$w/lv.conf" wal push "$w/junk" >/dev/null 2>&1 || true
mv "$w/junk" "$w/000000010000000000000099" 2>/dev/null
as_pg "$lv" --config "$w/lv.conf" wal push "$w/000000010000000000000099" >/dev/null 2>&1 || true
run st
is "$rc" 12 "a push failure newer than the last success: exit 12"
like "$err" "wal archive: the last push failed" "... says so"
is "$(prom labvault_status_ok) $(prom 'labvault_last_run_exit_code{command="wal push"}')" "0.0 6.0" \
  "metrics after the failed push: status not ok, the push's exit code"
psql -qAtX -c "ALTER SYSTEM SET archive_command = '$lv --config $w/lv.conf wal push %p'" -c "SELECT pg_reload_conf()" >/dev/null
wal_wait_archived 60 || true
psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
wal_wait_archived 60 || true
run st
is "$rc" 0 "archiving again: status exit 0 ${err:+($err)}"

done_testing
