#!/usr/bin/env bash
# Every command's error paths give one readable line (issue 21): each command that opens a repository is
# run with a malformed configuration, a repository that does not exist, a wrong key and a dead S3
# endpoint; each time stderr must be exactly one line "labvault: ..." that names the cause (and, where
# there is one, the object: the file and line, the repository, the endpoint), with no text repeated
# (a message quoting itself) and none cut (a clipped errno string), and the documented exit code.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_require_services s3
lv_clean_env
d=$(lv_tmpdir errors)
mkdir -p "$d/src" && echo x >"$d/src/f"
files_conf "$d/good.conf" "$d/repo"
lv repo init >/dev/null 2>&1
lv backup files "$d/src" >/dev/null
head -c 64 /dev/urandom >"$d/otherkey"
unset LABVAULT_CONFIG

# One command line per command that reads a repository (arguments that get it past parsing).
cmds=(
  "repo check" "repo key list" "repo unlock" "repo stats" "forget --keep-last 1 --dry-run" "prune --dry-run"
  "status" "catalog rebuild" "stanza delete --dry-run" "wal status" "wal list" "wal drops"
  "backup files $d/src" "snapshots" "ls latest" "diff latest latest" "restore files latest --to $d/out"
  "restore pg --to $d/pgout --dry-run" "backups" "drill history" "drill report --html $d/r.html"
)

# check_line CASE CMD EXPECTED_RC PATTERN: one TAP test
check_line() {
  local case=$1 cmd=$2 want=$3 pat=$4 problems=""
  [[ $rc == "$want" ]] || problems+="exit $rc (want $want); "
  local lines
  lines=$(grep -c . <<<"$err" || true)
  [[ $lines == 1 ]] || problems+="$lines lines; "
  [[ $err == "labvault: "* ]] || problems+="does not start with 'labvault: '; "
  [[ $err =~ $pat ]] || problems+="does not name /$pat/; "
  python3 - "$err" <<'PY' || problems+="repeated or cut text; "
import sys
s = sys.argv[1]
# a message that quotes itself repeats a long stretch of text
for n in range(24, len(s) // 2 + 1):
    for i in range(0, len(s) - 2 * n + 1):
        if s.find(s[i:i + n], i + n) >= 0 and not s[i:i + n].startswith(("labvault", " ")):
            sys.exit(1)
# a clipped errno string ("ion denied", " file or directory") or a sentence cut off
for cut in ("ion denied", ": o such file", ":  file", "such file or dir\n"):
    if cut in s:
        sys.exit(1)
sys.exit(0)
PY
  if [[ -z $problems ]]; then
    pass "$case: $cmd"
  else
    fail "$case: $cmd"
    diag "$problems"
    diag "stderr: $err"
  fi
}

# 1. a malformed configuration: exit 3, FILE:LINE and the key
printf '[global]\nrepo = %s\nbogus-key = 1\n' "$d/repo" >"$d/bad.conf"
for c in "${cmds[@]}"; do
  read -ra a <<<"$c"
  run "$LABVAULT_BIN" --config "$d/bad.conf" "${a[@]}"
  check_line "malformed configuration" "$c" 3 "$d/bad.conf:3: unknown key 'bogus-key'"
done

# 2. no repository at the configured path: exit 1 (not found), naming the path
files_conf "$d/norepo.conf" "$d/nothing-here"
for c in "${cmds[@]}"; do
  read -ra a <<<"$c"
  run "$LABVAULT_BIN" --config "$d/norepo.conf" "${a[@]}"
  check_line "no repository" "$c" 1 "$d/nothing-here"
done

# 3. a key that does not open the repository: exit 5
sed "s|^key-file = .*|key-file = $d/otherkey|" "$d/good.conf" >"$d/wrongkey.conf"
for c in "${cmds[@]}"; do
  read -ra a <<<"$c"
  run "$LABVAULT_BIN" --config "$d/wrongkey.conf" "${a[@]}"
  check_line "wrong key" "$c" 5 "(key|passphrase)"
done

# 4. a dead S3 endpoint (nothing listens): exit 4, naming the endpoint
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  printf '[global]\nrepo = s3://nobucket/x\ncatalog = %s/dead.db\nkey-file = %s/key\n' "$d" "$d"
  printf '[s3]\nendpoint = http://127.0.0.1:%s\naccess-key = a\nsecret-key = b\nmax-retries = 0\n' "$port"
} >"$d/dead.conf"
for c in "${cmds[@]}"; do
  read -ra a <<<"$c"
  run "$LABVAULT_BIN" --config "$d/dead.conf" "${a[@]}"
  check_line "dead S3 endpoint" "$c" 4 "127\.0\.0\.1:$port"
done

done_testing
