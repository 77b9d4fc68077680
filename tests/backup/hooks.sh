#!/usr/bin/env bash
# Consistency helpers: --pre-hook / --post-hook (the post hook always runs, also after a failure), and
# --stdin streams. Docker volumes and compose projects, against a real engine: docker.sh.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

d=$(lv_tmpdir hooks)
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"
src=$d/src
mkdir -p "$src"
printf 'data\n' >"$src/file"
log=$d/hooks.log

# --- hooks around a successful backup
run lv backup files "$src" --json --pre-hook "echo pre \$LABVAULT_HOOK >>$log; echo hook-stdout" \
  --post-hook "echo post \$LABVAULT_HOOK \$LABVAULT_BACKUP_STATUS \$LABVAULT_SNAPSHOT_ID >>$log"
is "$rc" 0 "backup with hooks"
id=$(jget "$out" 'j["id"]')
is "$(cat "$log")" "pre pre
post post ok $id" "pre hook before, post hook after with status and snapshot id"
unlike "$out" "hook-stdout" "a hook's output does not pollute --json on stdout"
like "$err" "hook-stdout" "it goes to stderr"

# --- a failing pre hook: no backup, the post hook still runs
: >"$log"
before=$(lv snapshots --json | jget "$(cat)" 'len(j)')
run lv backup files "$src" --pre-hook "echo pre >>$log; exit 3" --post-hook "echo post \$LABVAULT_BACKUP_STATUS >>$log"
is "$rc" 12 "a failing pre hook: exit 12"
like "$err" "pre-hook .* exited with status 3" "the message names the hook and its status"
is "$(cat "$log")" "pre
post failed" "the post hook ran anyway, told the backup failed"
is "$(lv snapshots --json | jget "$(cat)" 'len(j)')" "$before" "nothing committed"

# --- a failing backup: the post hook runs
: >"$log"
run lv backup files "$d/does-not-exist" --post-hook "echo post \$LABVAULT_BACKUP_STATUS >>$log"
isnt "$rc" 0 "backup of a missing path fails"
is "$(cat "$log")" "post failed" "the post hook ran after the failure"

# --- a failing post hook after a committed snapshot
run lv backup files "$src" --post-hook "exit 5"
is "$rc" 12 "a failing post hook: exit 12"
like "$err" "committed, but the post-hook failed" "the message says the snapshot is committed"

# --- streams
printf 'CREATE TABLE t();\n' | lv backup files --stdin all.sql --json >"$d/stdin.json"
is "$(jget "$(cat "$d/stdin.json")" 'j["source"]')" stdin "backup --stdin"
run lv ls latest
like "$out" "-rw------- .* /all.sql" "the stream is a file named all.sql"
is "$(lv restore files latest --tar - | tar -xO all.sql)" "CREATE TABLE t();" "and restores byte for byte"
run lv backup files --stdin ../x </dev/null
is "$rc" 2 "--stdin with a path is refused: exit 2"
run lv backup files "$src" --stdin x </dev/null
is "$rc" 2 "paths and --stdin together: exit 2"

done_testing
