#!/usr/bin/env bash
# Backups killed with SIGKILL in the middle, while a pack is being streamed into its temporary file under
# data/ (local repository, repo/blobstore.h): `backup files` of 96 MiB of random files, then `backup pg` of
# a pgbench cluster. Each time: nothing is committed, the repository stays whole (repo check --read-data),
# the next backup succeeds (the lock of the dead process is free, PostgreSQL is not left in backup mode)
# and restores; the killed writer's temporary stays while it may belong to a live writer and is removed by
# a later backup once stale.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"
# shellcheck source=../lib/walib.sh
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
((EUID == 0)) || plan skip_all "runs PostgreSQL as another OS user: run as root"
lv_clean_env

# kill_when_streaming REPO PID: SIGKILL PID once a pack's temporary file exists under REPO/data; prints it
kill_when_streaming() {
  local i tmp=
  for ((i = 0; i < 600; i++)); do
    tmp=$(find "$1/data" -name 'pack.tmp-*' 2>/dev/null | head -n 1)
    [[ -n $tmp ]] && break
    sleep 0.05
  done
  kill -KILL "$2" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
  # the one seen may have been committed just before the kill: what is left now
  tmp=$(find "$1/data" -name 'pack.tmp-*' 2>/dev/null | head -n 1)
  printf '%s\n' "${tmp#"$1"/}"
}

# --- backup files
d=$(lv_tmpdir killed)
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"
mkdir "$d/src"
for i in $(seq 1 12); do head -c $((8 << 20)) /dev/urandom >"$d/src/f$i"; done
sleep 1.1 # files written less than a second before they are read are read again next time

for attempt in 1 2 3 4 5; do # until a kill lands while a pack is open (not between two)
  "$LABVAULT_BIN" backup files "$d/src" >/dev/null 2>&1 & # not through lv(): $! must be labvault
  tmp=$(kill_when_streaming "$d/repo" $!)
  [[ -z $tmp ]] || break
done
like "$tmp" "^data/pack\\.tmp-[0-9]+-[0-9a-f]+$" "backup files killed while streaming a pack ($tmp)"
is "$(find "$d/repo/manifests" -type f 2>/dev/null | wc -l)" 0 "... nothing committed"
run lv repo check --read-data
is "$rc" 0 "repo check --read-data passes: the packs under data/ are whole ${err:+($err)}"
run lv backup files "$d/src"
is "$rc" 0 "the next backup files succeeds ${err:+($err)}"
ok "... and leaves the killed writer's temporary, fresh (it may be a live writer's)" test -e "$d/repo/$tmp"
run lv restore files latest --to "$d/out"
is "$rc" 0 "it restores"
ok "... byte for byte" diff -r "$d/src" "$d/out${d}/src"
touch -d '2 days ago' "$d/repo/$tmp"
echo changed >>"$d/src/f1"
run lv backup files "$d/src"
is "$rc" 0 "a backup once the temporary is stale"
ok "... removes it" test ! -e "$d/repo/$tmp"
run lv repo check --read-data
is "$rc" 0 "repo check --read-data still passes ${err:+($err)}"

# --- backup pg
w=$(wal_workdir killedpg)
wal_conf "$w/local.conf" "$w/repo" "[archive]" "timeout = 60"
lvpg "$w/local.conf" repo init >/dev/null
lv_pg_start "archive_mode = on" "archive_command = '$LABVAULT_BIN --config $w/local.conf wal push %p'" \
  "wal_level = replica"
pgbench -i -s 10 -q >/dev/null 2>&1
for attempt in 1 2 3 4 5; do
  rm -f "$w/local.db.backup-pg.lock"
  as_pg "$LABVAULT_BIN" --config "$w/local.conf" backup pg --pgdata "$PGDATA" >/dev/null 2>&1 &
  # as_pg's child is labvault: its pid is in the backup lock file
  for ((i = 0; i < 200; i++)); do [[ -s $w/local.db.backup-pg.lock ]] && break; sleep 0.05; done
  tmp=$(kill_when_streaming "$w/repo" "$(head -n 1 "$w/local.db.backup-pg.lock")")
  wait || true
  [[ -z $tmp ]] || break
done
like "$tmp" "^data/pack\\.tmp-[0-9]+-[0-9a-f]+$" "backup pg killed while streaming a pack ($tmp)"
is "$(find "$w/repo/manifests" -type f 2>/dev/null | wc -l)" 0 "... nothing committed"
for ((i = 0; i < 100; i++)); do
  [[ $(psql -qAtX -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'labvault backup pg'") == 0 ]] && break
  sleep 0.1
done
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --json
is "$rc" 0 "the next backup pg succeeds: the lock is free and PostgreSQL not in backup mode ${err:+($err)}"
rows=$(psql -qAtX -c "SELECT count(*) FROM pgbench_accounts")
run lvpg "$w/local.conf" repo check --read-data
is "$rc" 0 "repo check --read-data passes ${err:+($err)}"
mkdir "$w/restored" && chown "$LV_TEST_PG_OSUSER:" "$w/restored"
run lvpg "$w/local.conf" restore pg --to "$w/restored/data" --target-immediate
is "$rc" 0 "it restores ${err:+($err)}"
sock=$(mktemp -d /tmp/lv-killed.XXXXXX) && chown "$LV_TEST_PG_OSUSER:" "$sock" # short: a socket path
lv_at_exit rm -rf "$sock"
as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$w/restored/data" -l "$w/restored/log" -w -t 120 \
  -o "-p $PGPORT -k $sock -c listen_addresses='' -c archive_mode=off" start >/dev/null
lv_at_exit as_pg "$LV_TEST_PG_BINDIR/pg_ctl" -D "$w/restored/data" -m immediate stop
is "$(psql -h "$sock" -p "$PGPORT" -qAtX -c "SELECT count(*) FROM pgbench_accounts")" "$rows" \
  "... and the restored cluster recovers to the backup's end with every row ($rows)"

done_testing
