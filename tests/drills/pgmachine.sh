#!/usr/bin/env bash
# The scratch-PostgreSQL machinery of drills on a cluster this test makes with initdb (no backup needed):
# start as the OS user on a free loopback port, wait until ready, the checks (connections, amcheck, user
# checks that pass, fail and error), stop, scratch removed; and SIGINT/SIGTERM while it runs leave no
# PostgreSQL process and no scratch directory.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"

lv_require_services pg
helper=${LV_BUILD_ROOT:?}/tests/drills/spg_helper
osuser=${LV_TEST_PG_OSUSER:-$(id -un)}
export LV_TEST_PG_BINDIR

as_pg() {
  if ((EUID == 0)) && [[ $osuser != root ]]; then runuser -u "$osuser" -- "$@"; else "$@"; fi
}

new_cluster() { # prints a scratch directory holding a fresh data/ (initdb as the OS user)
  local s
  s=$(lv_tmpdir scratch)
  mkdir "$s/data"
  ((EUID == 0)) && chown "$osuser:" "$s/data"
  as_pg "$LV_TEST_PG_BINDIR/initdb" -D "$s/data" -U postgres --auth=trust --no-sync --no-instructions \
    >"$s.initdb.log" 2>&1 || BAIL_OUT "initdb failed: $(tail -3 "$s.initdb.log")"
  printf '%s\n' "$s"
}

no_postgres_in() { # DIR: no process has DIR on its command line
  ! pgrep -f -- "$1/data" >/dev/null
}

# --- a run with passing, failing and erroring user checks
s=$(new_cluster)
checks=$(lv_tmpdir checks)/checks
cat >"$checks" <<'CHK'
# expected | SQL
3 | SELECT count(*) FROM pg_database
@template1 t | SELECT current_database() = 'template1'
t | SELECT 1 = 2
x | SELECT * FROM no_such_table
CHK
rc=0
out=$("$helper" run "$s" "$osuser" "$checks" 2>&1) || rc=$?
is "$rc" 12 "a failing user check fails the run (exit 12)"
like "$out" "port [0-9]+" "started on a free port"
like "$out" "ok connect postgres: accepts connections" "database postgres accepts connections"
like "$out" "ok connect template1: accepts connections" "database template1 accepts connections"
like "$out" "ok amcheck: pg_amcheck --all --heapallindexed: no corruption found" "pg_amcheck ran on every database"
like "$out" "ok user: SELECT count\(\*\) FROM pg_database: expected '3', got '3'" "a passing user check"
like "$out" "ok user: @template1 SELECT current_database\(\) = 'template1': expected 't', got 't'" \
  "a user check in another database"
like "$out" "FAIL user: SELECT 1 = 2: expected 't', got 'f'" "a failing user check shows the query and the result"
like "$out" "FAIL user: SELECT \* FROM no_such_table: query failed: ERROR: +relation \"no_such_table\" does not exist" \
  "an erroring user check shows PostgreSQL's error"
ok "the scratch directory is removed" test ! -e "$s"
ok "no PostgreSQL process is left" no_postgres_in "$s"

# --- a malformed checks file is refused before anything starts
printf 'no bar here\n' >"$checks.bad"
s=$(new_cluster)
rc=0
out=$("$helper" run "$s" "$osuser" "$checks.bad" 2>&1) || rc=$?
is "$rc" 3 "a malformed checks file: exit 3"
like "$out" "checks.bad:1: a check is 'EXPECTED \| SQL'" "the message names the file and the line"

# --- interrupted while PostgreSQL runs: SIGINT, then SIGTERM
for sig in INT TERM; do
  s=$(new_cluster)
  log=$(lv_tmpdir hang)/out
  "$helper" hang "$s" "$osuser" >"$log" 2>&1 &
  hp=$!
  for ((i = 0; i < 300; i++)); do grep -q '^ready' "$log" && break; sleep 0.1; done
  pm=$(sed -n 's/^ready //p' "$log")
  ok "SIG$sig: PostgreSQL was running (pid ${pm:-none})" kill -0 "${pm:-0}"
  kill -s "$sig" "$hp"
  rc=0
  wait "$hp" || rc=$?
  is "$rc" 14 "SIG$sig: exit 14 (interrupted)"
  ok "SIG$sig: the postmaster is gone" test ! -d "/proc/${pm:-0}"
  ok "SIG$sig: no PostgreSQL process is left" no_postgres_in "$s"
  ok "SIG$sig: the scratch directory is removed" test ! -e "$s"
done

done_testing
