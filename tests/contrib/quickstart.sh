#!/usr/bin/env bash
# scripts/quickstart, twice, in a temporary root (LV_QS_* knobs: prefix, /etc/labvault, /var/lib/labvault
# and the work area under TMPDIR; a small directory as the backup set): it builds and installs labvault,
# writes the configuration, and runs the main job: the throwaway cluster's DROP TABLE found by wal drops,
# the printed restore bringing the table back with every row, drills passing, the snapshot restored
# identical, repo check clean; afterwards `labvault status` (with only LABVAULT_CONFIG) shows a protected
# cluster and backup set. The second run reuses repository, key and configuration and gives the first
# run's throwaway cluster up; nothing of the throwaway clusters is left.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"

((EUID == 0)) || { plan skip_all "quickstart runs as root"; }
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { plan skip_all "no PostgreSQL 15"; }
src=${LV_SOURCE_ROOT:?}
d=$(lv_tmpdir quickstart)
chmod 0755 "$d"
mkdir -p "$d/set/sub" && echo hello >"$d/set/sub/file"
qs() {
  env LV_QS_PREFIX="$d/prefix" LV_QS_ETC="$d/etc" LV_QS_VAR="$d/var" LV_QS_WORK="$d/work" LV_QS_SET_PATH="$d/set" \
    LV_QS_NO_APT=1 LV_QS_BUILD="$d/build" "$src/scripts/quickstart"
}
run qs
is "$rc" 0 "quickstart: exit 0 ${err:+($(tail -n 3 <<<"$err"))}"
like "$out" "relations: .*public\.accounts \(table" "wal drops finds the DROP TABLE of public.accounts"
like "$out" "accounts_rows \| +sum.*10100 \| 500050100" "the printed restore brings the table back with every row, the late ones too"
like "$out" "drill [0-9T]+Z-[0-9a-f]{8} \(pg [0-9a-f]{12}, target latest\): passed" "the PostgreSQL drill passes"
like "$out" "RTO [0-9.]+ s .*RPO [0-9.]+ s" "... with its RTO and RPO"
like "$out" "the restored snapshot of $d/set is identical" "the backup set restores identical"
like "$out" "no damage found: 0 errors" "repo check is clean"
like "$out" "Protect your own cluster next" "it ends with what to do next"
ok "the configuration is written, readable by postgres only through its group" test "$(stat -c '%a %G' "$d/etc/labvault.conf")" = "640 postgres"
run env LABVAULT_CONFIG="$d/etc/labvault.conf" "$d/prefix/bin/labvault" status
is "$rc" 0 "labvault status afterwards: exit 0 ${err:+($err)}"
like "$out" "pg +cluster [0-9]+ .* ok" "... a protected cluster"
like "$out" "files +set:etc .* ok" "... and backup set"
run qs
is "$rc" 0 "quickstart again: exit 0 ${err:+($(tail -n 3 <<<"$err"))}"
like "$out" "giving up the previous run's throwaway cluster" "... gives the first run's cluster up"
like "$out" "accounts_rows \| +sum.*10100 \| 500050100" "... and runs the main job again"
ok "no throwaway cluster or work area is left" test ! -e "$d/work"
ok "no PostgreSQL of the quickstart runs" bash -c "! pgrep -u postgres -f -- '$d/work' >/dev/null"

done_testing
