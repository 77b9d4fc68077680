#!/usr/bin/env bash
# The command line end to end with the built binary: help, version, configuration precedence and errors,
# exit codes, and repository set-up (init, keys) on a local directory.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"

lv=${LABVAULT_BIN:?}
d=$(lv_tmpdir cli)
export LABVAULT_CONFIG=$d/none.conf   # never read the machine's /etc/labvault
: >"$LABVAULT_CONFIG"
unset LABVAULT_PASSPHRASE LABVAULT_KEY_FILE LABVAULT_REPO LABVAULT_CATALOG AWS_ENDPOINT_URL 2>/dev/null || true

# run CMD...: sets $out, $err, $rc

json_ok() { python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$1"; }

# --- help and version
run "$lv" --help
is "$rc" 0 "--help exits 0"
like "$out" "repo init" "--help lists commands"
run "$lv" help repo key add
like "$out" "Usage: labvault repo key add" "help COMMAND prints the command's usage"
like "$out" "--new-key-file" "help COMMAND lists the command's options"
run "$lv" repo init --help
like "$out" "Usage: labvault repo init" "COMMAND --help prints the usage"
run "$lv" frobnicate
is "$rc" 2 "unknown command: exit 2"
like "$err" "^labvault: unknown command 'frobnicate'" "unknown command: one-line message"
run "$lv" version --bogus
is "$rc" 2 "unknown option: exit 2"
# groups of commands: help GROUP and GROUP --help list the subcommands; GROUP alone names them
for g in backup repo "repo key" wal stanza drill restore catalog; do
  read -ra gw <<<"$g"
  run "$lv" help "${gw[@]}"
  is "$rc:$err" "0:" "help $g: exit 0, nothing on stderr"
  like "$out" "^Usage: labvault $g SUBCOMMAND" "help $g: the group's usage"
  n=$(grep -c "^  $g [a-z]" <<<"$out" || true)
  want=$("$lv" --help | grep -c "^  $g [a-z]" || true)
  is "$n" "$want" "help $g lists every subcommand of the group ($want)"
  run "$lv" "${gw[@]}" --help
  is "$rc:$out" "0:$("$lv" help "${gw[@]}")" "$g --help: the same list"
  run "$lv" "${gw[@]}"
  is "$rc" 2 "$g alone: exit 2"
  like "$err" "^labvault: '$g' needs a subcommand: [a-z, ]+ \(\`labvault help $g\`\)$" "... one line naming the subcommands"
done
run "$lv" backup frobnicate
like "$rc:$err" "^2:labvault: unknown command 'backup frobnicate'; \`labvault help backup\` lists its subcommands$" \
  "an unknown subcommand of a group: named, exit 2"
run "$lv" help frobnicate
is "$rc:$err" "2:labvault: unknown command 'frobnicate'; \`labvault --help\` lists the commands" \
  "help of an unknown command: one line, exit 2"
# an unknown flag is named as unknown, wherever it is on the line (not "needs a value")
for f in --foo --verbosee --progres; do
  run "$lv" snapshots "$f"
  is "$rc:$err" "2:labvault: unknown option $f for snapshots" "snapshots $f at the end of the line: unknown option"
  run "$lv" "$f" snapshots
  is "$rc" 2 "$f before the command: exit 2"
  like "$err" "^labvault: unknown option $f" "... named as unknown"
done
run "$lv" snapshots -x
is "$rc:$err" "2:labvault: unknown option -x" "an unknown short option: named"
for f in -v -vv --verbose --progress --no-progress; do
  run "$lv" help "$f"
  is "$rc" 0 "$f is a global switch (help $f exits 0)"
done
run "$lv" help backup pg
like "$out" "--pg-data DIR" "backup pg's data directory is --pg-data, as every other command's"
run "$lv" --pgdata /nonexistent-old-spelling config show
like "$out" "pg-data +/nonexistent-old-spelling +flag --pg-data" "the old spelling --pgdata is still accepted (as --pg-data)"
run "$lv" version
is "$rc" 0 "version exits 0"
like "$out" "labvault [0-9]+\.[0-9]+" "version prints labvault's version"
for lib in libpq libcurl zstd openssl libarchive xxhash sqlite; do
  like "$out" "$lib +[0-9A-Za-z]" "version prints $lib"
done
run "$lv" version --json
ok "version --json is JSON" json_ok "$out"

# --- configuration: file < environment < flag, sources, secrets masked
cat >"$d/a.conf" <<CONF
[global]
repo = $d/from-file
compress-level = 5
[s3]
secret-key = hunter2-secret
access-key = AKIDEXAMPLE
CONF
run "$lv" --config "$d/a.conf" config show
is "$rc" 0 "config show with a file"
like "$out" "repo +$d/from-file +$d/a.conf:2" "value and file:line source"
unlike "$out" "hunter2" "secret never printed"
like "$out" "s3-secret-key +\*+ +$d/a.conf:5" "secret masked, source shown"
LABVAULT_REPO=$d/from-env run "$lv" --config "$d/a.conf" config show
like "$out" "repo +$d/from-env +environment LABVAULT_REPO" "environment wins over file"
LABVAULT_REPO=$d/from-env run "$lv" --config "$d/a.conf" config show --repo "$d/from-flag"
like "$out" "repo +$d/from-flag +flag --repo" "flag wins over environment"
LABVAULT_CONFIG=$d/a.conf run "$lv" config show
like "$out" "compress-level +5" "LABVAULT_CONFIG names the file"
AWS_SECRET_ACCESS_KEY=awssecret AWS_REGION=eu-west-3 run "$lv" config show --json
ok "config show --json is JSON" json_ok "$out"
like "$out" '"s3-region":\{"value":"eu-west-3","source":"environment AWS_REGION"\}' "AWS_REGION read"
unlike "$out" "awssecret" "AWS secret masked in JSON"

# --- configuration errors: exit 3, one line naming file:line and key
printf '[global]\nrepo = /x\ncompresion-level = 3\n' >"$d/bad.conf"
run "$lv" --config "$d/bad.conf" config show
is "$rc" 3 "unknown key: exit 3"
is "$err" "labvault: $d/bad.conf:3: unknown key 'compresion-level' in [global]" "unknown key: file:line and key"
printf '[s3]\nverify-tls = perhaps\n' >"$d/bad2.conf"
run "$lv" --config "$d/bad2.conf" config show
is "$rc" 3 "bad value: exit 3"
like "$err" "bad2.conf:2: s3-verify-tls: 'perhaps' is not a boolean" "bad value: file:line and key"
run "$lv" --config "$d/missing.conf" config show
is "$rc" 3 "missing --config file: exit 3"
LABVAULT_PACK_SIZE=lots run "$lv" config show
is "$rc" 3 "bad environment value: exit 3"
like "$err" "environment LABVAULT_PACK_SIZE: pack-size" "bad environment value named"
# restore_command must never read a configuration error as "segment absent" (exit 1-125): above 125
run "$lv" --config "$d/bad.conf" wal fetch 000000010000000000000001 "$d/seg"
is "$rc" 131 "wal fetch with a malformed configuration: exit 128+3 (recovery stops)"
run "$lv" wal fetch --no-such-flag
is "$rc" 130 "wal fetch with a bad command line: exit 128+2"
run "$lv" config show --s3-secret-key hunter2
is "$rc" 2 "secret as a flag refused: exit 2"
unlike "$err" "hunter2" "refused secret not echoed"
run "$lv" config show --json --nonsense 1
like "$out" '"error":\{"code":2,"kind":"usage"' "--json error object on stdout"

# --- repository on a local directory
export LABVAULT_REPO=$d/repo LABVAULT_CATALOG=$d/catalog.db
run "$lv" repo init
is "$rc" 3 "init without any credential (no terminal): exit 3"
like "$err" "LABVAULT_PASSPHRASE" "init without credential says how to give one"
test ! -e "$d/repo/config" && pass "nothing written without a credential" || fail "nothing written without a credential"
export LABVAULT_KEY_FILE=$d/key
run "$lv" repo init --json
is "$rc" 0 "init with a new key file"
ok "init --json is JSON" json_ok "$out"
test -s "$d/key" && pass "key file created" || fail "key file created"
is "$(stat -c %a "$d/key")" 600 "key file is private"
test -e "$d/repo/config" && pass "config object written" || fail "config object written"
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
ok "no copy of the local catalog is stored in the repository (nothing would read it)" test ! -e "$d/repo/catalog"
run "$lv" repo init
is "$rc" 10 "second init refuses: exit 10 (conflict)"
like "$err" "config" "conflict names the config object"

# -v and -vv: what a command does, then also why (each file read); --progress even off a terminal
mkdir -p "$d/vsrc" && echo one >"$d/vsrc/a" && echo two >"$d/vsrc/b"
sleep 1.2   # older than the files cache's racy window (1 s), so the next run may trust it
run "$lv" backup files "$d/vsrc" -v
is "$rc" 0 "backup files -v"
like "$err" "backing up $d/vsrc" "-v: says what it backs up"
like "$err" "read: 2 new, 0 changed, 0 unchanged files" "-v: and what it read"
unlike "$err" "new $d/vsrc/a" "-v: no line per file"
echo three >>"$d/vsrc/b"
run "$lv" -vv backup files "$d/vsrc"
like "$err" "changed $d/vsrc/b" "-vv: each file read, with why (changed)"
unlike "$err" " $d/vsrc/a" "-vv: an unchanged file is not read, not listed"
run "$lv" backup files "$d/vsrc" --progress
like "$err" "files" "--progress: a progress line on stderr, though stderr is no terminal"
run "$lv" backup files "$d/vsrc"
is "$err" "" "without --progress and off a terminal: nothing on stderr"

LABVAULT_NEW_PASSPHRASE='correct horse' run "$lv" repo key add
is "$rc" 0 "key add with a passphrase"
run "$lv" repo key list --json
is "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out")" 2 "two keys listed"
unset LABVAULT_KEY_FILE
LABVAULT_PASSPHRASE='correct horse' run "$lv" repo key list
is "$rc" 0 "the new passphrase opens the repository"
like "$out" $'\n\\* ' "the key in use is flagged"
LABVAULT_PASSPHRASE='wrong horse' run "$lv" repo key list
is "$rc" 5 "wrong passphrase: exit 5"
like "$err" "^labvault: .*(passphrase|key)" "wrong passphrase: one-line message"
is "$(wc -l <<<"$err")" 1 "wrong passphrase: exactly one line"
printf 'correct horse\n' >"$d/pass"
run "$lv" repo key list --passphrase-file "$d/pass"
is "$rc" 0 "passphrase-file works"
keyfile_id=$(LABVAULT_PASSPHRASE='correct horse' "$lv" repo key list --json |
  python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if not k["current"]][0])')
LABVAULT_PASSPHRASE='correct horse' run "$lv" repo key remove "$keyfile_id"
is "$rc" 0 "remove the key-file key"
LABVAULT_KEY_FILE=$d/key run "$lv" repo key list
is "$rc" 5 "removed key no longer opens: exit 5"
cur_id=$(LABVAULT_PASSPHRASE='correct horse' "$lv" repo key list --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
LABVAULT_PASSPHRASE='correct horse' run "$lv" repo key remove "$cur_id"
is "$rc" 2 "removing the last/in-use key refused: exit 2"

# --- temporary files: private, removed, and the ones a killed run of an earlier version left (it copied the
#     catalog into the repository) are swept when a catalog is opened (docs/repository-format.md)
is "$(stat -c %a "$LABVAULT_CATALOG")" 600 "a new catalog is private (mode 0600)"
dead=999999
while kill -0 "$dead" 2>/dev/null; do dead=$((dead - 1)); done
stale=$d/labvault-catalog-copy-$dead-0badc0de.tmp
young=$d/labvault-catalog-copy-$dead-0123abcd.tmp
printf 'names of files\n' >"$stale"
printf 'names of files\n' >"$stale-journal"
printf 'names of files\n' >"$young"
touch -d '2 hours ago' "$stale" "$stale-journal"
legacy=/tmp/labvault-catalog-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
printf 'names of files\n' >"$legacy"
printf 'names of files\n' >"$legacy.tmp-$dead"
touch -d '2 hours ago' "$legacy" "$legacy.tmp-$dead"
mkdir -p "$d/small"
printf 'x\n' >"$d/small/f"
LABVAULT_PASSPHRASE='correct horse' run "$lv" backup files "$d/small"
is "$rc" 0 "backup files"
test ! -e "$stale" && test ! -e "$stale-journal" && pass "an abandoned catalog copy (and journal) an hour old is removed" ||
  fail "an abandoned catalog copy (and journal) an hour old is removed"
test -e "$young" && pass "a young one is kept (its run may be slow)" || fail "a young one is kept (its run may be slow)"
test ! -e "$legacy" && test ! -e "$legacy.tmp-$dead" && pass "old /tmp/labvault-catalog-* of earlier versions are removed" ||
  fail "old /tmp/labvault-catalog-* of earlier versions are removed"
rm -f "$young" "$legacy" "$legacy.tmp-$dead"
left=$(find "$d" /tmp -maxdepth 1 -name 'labvault-catalog-*' -newer "$d/small/f" 2>/dev/null | wc -l)
is "$left" 0 "the backup leaves no temporary file behind"

# --- damaged or missing repository
export LABVAULT_PASSPHRASE='correct horse'
run "$lv" repo check
is "$rc" 0 "check of a fresh repository passes"
cp "$d/repo/config" "$d/config.bak"
sed -i "s/^format = [0-9]*/format = 9/" "$d/repo/config"
run "$lv" repo check
isnt "$rc" 0 "edited config refused"
like "$err" "config" "edited config: message names config"
cp "$d/config.bak" "$d/repo/config"
printf 'garbage\x01\n' >>"$d/repo/config"
run "$lv" repo check
is "$rc" 6 "malformed config: exit 6"
like "$err" "config" "malformed config: names config"
cp "$d/config.bak" "$d/repo/config"
run "$lv" repo check --repo "$d/nothing-here"
is "$rc" 1 "not a repository: exit 1"
like "$err" "nothing-here" "not a repository: names the location"
run "$lv" repo check
is "$rc" 0 "restored config passes again"
rm -f "$LABVAULT_CATALOG"
run "$lv" catalog rebuild
is "$rc" 0 "catalog rebuild of an empty repository"
test -e "$LABVAULT_CATALOG" && pass "catalog recreated" || fail "catalog recreated"
is "$(sqlite3 "$LABVAULT_CATALOG" "select value from meta where key='repository_id'")" "$id" \
  "rebuilt catalog is bound to the repository"

# --- settings that name files: the exit code and the message name where the setting came from
# (docs/exit-codes.md): a bad value from the configuration file or the environment is 3, from a flag 2,
# a file that cannot be read 11, and for wal fetch 128 + that (never 1, which would end recovery).
unset LABVAULT_PASSPHRASE
head -c 64 /dev/urandom >"$d/good.key"
head -c 10 /dev/urandom >"$d/short.key"
printf '[global]\nkey-file = %s\n' "$d/no-such.key" >"$d/kf.conf"
run "$lv" --config "$d/kf.conf" repo check
is "$rc" 3 "key-file from the configuration file does not exist: exit 3"
like "$err" "key file $d/no-such.key \(key-file, from $d/kf.conf:2\) does not exist" \
  "... the message names the file and the line that set it"
LABVAULT_KEY_FILE=$d/no-such.key run "$lv" repo check
is "$rc" 3 "key-file from the environment does not exist: exit 3"
like "$err" "from environment LABVAULT_KEY_FILE" "... the message names the variable"
run "$lv" repo check --key-file "$d/no-such.key"
is "$rc" 2 "--key-file names a file that does not exist: exit 2 (bad command line)"
LABVAULT_KEY_FILE=$d/short.key run "$lv" repo check
is "$rc" 3 "key-file too short: exit 3"
like "$err" "holds 10 bytes" "... says how long it is"
run "$lv" --config "$d/kf.conf" wal fetch 000000010000000000000001 "$d/seg"
is "$rc" 131 "wal fetch with a missing key-file from the configuration: exit 128+3"
LABVAULT_KEY_FILE=$d/short.key run "$lv" wal fetch 000000010000000000000001 "$d/seg"
is "$rc" 131 "wal fetch with a short key-file: exit 128+3"
printf '[global]\npassphrase-file = %s\n' "$d/no-such.pass" >"$d/pf.conf"
run "$lv" --config "$d/pf.conf" repo check
is "$rc" 3 "passphrase-file from the configuration does not exist: exit 3"
like "$err" "from $d/pf.conf:2" "... naming the line"
run "$lv" repo check --passphrase-file "$d/no-such.pass"
is "$rc" 2 "--passphrase-file that does not exist: exit 2"
LABVAULT_KEY_FILE=$d/good.key run "$lv" wal fetch 000000010000000000000001 "$d/seg" --repo "$d/nothing-here"
is "$rc" 131 "wal fetch from a repository that does not exist: exit 131, not 1 (absent)"
like "$err" "nothing-here.*repo setting" "... naming the location"
if ((EUID == 0)) && id nobody >/dev/null 2>&1; then
  u=$(lv_tmpdir unpriv)
  chmod 0777 "$u"
  asnobody() { runuser -u nobody -- env LABVAULT_CONFIG="$d/none.conf" LABVAULT_REPO="$u/repo" \
    LABVAULT_KEY_FILE="$u/key" "$@"; }
  asnobody "$lv" repo init --catalog "$u/cat.db" >/dev/null 2>&1
  mkdir "$u/locked"
  chmod 0 "$u/locked"
  for c in "snapshots" "backups" "drill history" "wal status"; do
    # shellcheck disable=SC2086
    run asnobody "$lv" $c --catalog "$u/locked/cat.db"
    is "$rc" 11 "$c with the catalog in an unreadable directory: exit 11 (local I/O)"
  done
  run asnobody "$lv" snapshots --catalog "$u/locked/sub/cat.db"
  is "$rc" 11 "a catalog whose directory cannot be created: exit 11"
  cp "$d/good.key" "$u/locked.key"
  chmod 0 "$u/locked.key"
  run asnobody "$lv" repo check --catalog "$u/cat.db" --key-file "$u/locked.key"
  is "$rc" 11 "a key file that cannot be read: exit 11"
else
  skip "needs root and the user nobody" 6
fi

done_testing
