#!/usr/bin/env bash
# Retention of PostgreSQL backups on the S3 server, against a real PostgreSQL cluster archiving into it:
# four backups (full, incr, full, incr) a few seconds apart with commits between them, then
# `forget --kind pg --recovery-window W --prune` with W chosen so that the window starts between the
# second and the third backup:
#   - the first backup is removed, the second (the newest one at or before the window's start) and the
#     later ones are kept, each with its reason; the output says no backup is kept for a chain;
#   - the WAL before the second backup's start is expired (history files kept) with its block maps, the
#     rest is there;
#   - `backups` shows the window from the second backup's end; a restore to a point inside it works and
#     holds exactly the rows committed before that point; a point before it is refused naming the
#     window; repo check --read-data is clean;
#   - a policy that would remove every backup is refused (exit 2); --force does it; with no backup left
#     no WAL is expired;
#   - stanza delete (only with --force) removes the WAL archive, its block maps and the stanza; check stays clean; a new
#     cluster then archives and backs up into the same repository.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services s3 pg
lv_clean_env
lv=${LABVAULT_BIN:?}
w=$(wal_workdir retpg)
bucket=$(lv_s3_bucket retpg)
wal_conf "$w/s3.conf" "s3://$bucket/pg"
lvpg "$w/s3.conf" repo init >/dev/null
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/s3.conf wal push %p'" "wal_level = replica"
psql -qAtX -c "CREATE TABLE t (i int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())" >/dev/null
n=0
commit_rows() { # a few commits, then a WAL switch so they are archived
  local k
  for k in 1 2 3; do n=$((n + 1)); psql -qAtX -c "INSERT INTO t(i) VALUES ($n)" >/dev/null; done
  psql -qAtX -c "SELECT pg_switch_wal()" >/dev/null
}
backup() { # TYPE: prints the backup's id and end time
  run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --type "$1" --json
  [[ $rc == 0 ]] || { diag "backup $1: $err"; return 1; }
  printf '%s %s %s\n' "$(out_field id)" "$(out_field stop_time)" "$(out_field wal_start)"
}

commit_rows
read -r b1 t1 w1 < <(backup full)
sleep 2; commit_rows
read -r b2 t2 w2 < <(backup incr)
sleep 4; commit_rows
read -r b3 t3 w3 < <(backup full)
sleep 2; commit_rows
read -r b4 t4 w4 < <(backup incr)
ok "four backups: full, incr, full, incr" test -n "$b1" -a -n "$b2" -a -n "$b3" -a -n "$b4"
sleep 1.2
inside_time=$(psql -qAtX -c "SELECT clock_timestamp()")
inside_rows=$(psql -qAtX -c "SELECT count(*) FROM t")
sleep 1.2
commit_rows
wal_wait_archived 60 || true
b2_wal=$w2
run lvpg "$w/s3.conf" wal list --json
wal_before=$(python3 -c 'import json,sys; print(len([x for x in json.loads(sys.argv[1]) if x["kind"] == "segment"]))' "$out")

# the window starts between the second and the third backup's ends
window=$(($(date +%s) - (t2 + t3) / 2))
run lvpg "$w/s3.conf" forget --kind pg --recovery-window "${window}s" --dry-run
is "$rc" 0 "forget --recovery-window ${window}s --dry-run: exit 0 ${err:+($err)}"
like "$out" "none is kept only because another needs it" "... says that no backup is kept for a chain"
run lvpg "$w/s3.conf" forget --kind pg --recovery-window "${window}s" --prune --json
is "$rc" 0 "forget --recovery-window --prune: exit 0 ${err:+($err)}"
is "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(" ".join(b["id"][:12] + ":" + b["action"] + ":" + ",".join(b["reasons"]) for g in j["groups"] for b in g["backups"]))' "$out")" \
  "${b4:0:12}:keep:recovery-window ${b3:0:12}:keep:recovery-window ${b2:0:12}:keep:recovery-window ${b1:0:12}:remove:" \
  "the first backup is removed; the second (the newest at or before the window's start) and the later ones kept"
ok "WAL before the second backup's start expired ($(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["wal"]["files_removed"])' "$out") files)" \
  python3 -c 'import json,sys; w=json.loads(sys.argv[1])["wal"]; sys.exit(not (w["files_removed"] > 0 and w["oldest_kept_segment"] == sys.argv[2][8:]))' "$out" "$b2_wal"
run lvpg "$w/s3.conf" wal list --json
ok "the archive now starts at the second backup's start segment ($b2_wal), history files kept" python3 -c '
import json, sys
l = json.loads(sys.argv[1])
segs = sorted(x["name"][8:] for x in l if x["kind"] == "segment")
sys.exit(not (segs and segs[0] == sys.argv[2][8:]))' "$out" "$b2_wal"
maps=$(lv_s3_keys "$bucket" "pg/walmap/" | sed 's|.*/||' | sort)
ok "the WAL block maps expired with their segments: the oldest is the second backup's start segment's" \
  test -n "$maps" -a "$(head -n 1 <<<"$maps" | cut -c9-)" = "${b2_wal:8}"
run lvpg "$w/s3.conf" backups --json
ok "backups: three left, the window from the second backup's end" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
sys.exit(not ([b["id"] for b in j["backups"]] == sys.argv[2:5] and j["window"]["oldest_backup"] == sys.argv[2]))' \
  "$out" "$b2" "$b3" "$b4"
run lvpg "$w/s3.conf" wal status
is "$rc" 0 "wal status after the expiry: exit 0 (no gap reported) ${err:+($err)}"

# a point inside the window
run lvpg "$w/s3.conf" restore pg --to "$w/r1" --target-time "$inside_time"
is "$rc" 0 "restore to a point inside the window: exit 0 ${err:+($err)}"
if start_restored "$w/r1"; then
  is "$(psql -h "$R_SOCK" -p "$R_PORT" -qAtX -c "SELECT count(*) FROM t")" "$inside_rows" \
    "... holds exactly the rows committed before that point ($inside_rows)"
  is "$(pg_check_restored -h "$R_SOCK" -p "$R_PORT")" "" "... and answers queries right (visibility, amcheck)"
else
  fail "the restored cluster starts"
  skip "no cluster" 1
fi
stop_restored "$w/r1"
# a point before it
before=$(date -u -d "@$((t1 + 1))" '+%Y-%m-%d %H:%M:%S+00')
run lvpg "$w/s3.conf" restore pg --to "$w/r2" --target-time "$before"
is "$rc" 2 "restore to a point before the window: exit 2"
like "$err" "recoverable window: .*end of backup ${b2:0:12}" "... naming the window, from the second backup"
ok "... nothing written" test ! -e "$w/r2"

run lvpg "$w/s3.conf" repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0 ($(tail -n 1 <<<"$out"))"

# refusals and --force
run lvpg "$w/s3.conf" forget --kind pg --keep-tag nothing-has-this-tag
is "$rc" 2 "a policy that would remove every backup: exit 2"
like "$err" "would remove every backup of group 'pg, cluster [0-9]+'" "... naming the group"
run lvpg "$w/s3.conf" forget --kind pg --keep-tag nothing-has-this-tag --force --json
is "$rc $(out_field removed)" "0 3" "--force removes them"
is "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["wal"]["files_removed"])' "$out")" 0 \
  "... and with no backup left, no WAL is expired (the archive is all the cluster has)"

# --- stanza delete: give the cluster up; another cluster then archives into the same repository
run lvpg "$w/s3.conf" stanza delete
is "$rc" 2 "stanza delete without --force: exit 2"
run lvpg "$w/s3.conf" stanza delete --force --json
is "$rc" 0 "stanza delete --force: exit 0 ${err:+($err)}"
ok "... removed the WAL archive ($(out_field wal_files_removed) files)" test "$(out_field wal_files_removed)" -gt 0
run lvpg "$w/s3.conf" wal list --json
is "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$out")" 0 "... wal/ is empty"
is "$(lv_s3_keys "$bucket" "pg/walmap/" | wc -l)" 0 "... and so is walmap/"
run lvpg "$w/s3.conf" repo check
is "$rc" 0 "repo check after stanza delete: exit 0 (the removal is recorded) ($(tail -n 1 <<<"$out"))"
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/s3.conf wal push %p'" "wal_level = replica"
run lvpg "$w/s3.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "a new cluster (another system identifier) archives and backs up into the same repository ${err:+($err)}"
run lvpg "$w/s3.conf" repo check
is "$rc" 0 "repo check: exit 0"

done_testing
