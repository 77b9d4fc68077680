# shellcheck shell=bash
# tests/lib/fileslib.sh: helpers for the file snapshot integration tests (sourced after tests/lib/tap.sh).
#
#   files_conf FILE REPO      write a labvault config: repository REPO (a directory or s3://BUCKET/PREFIX with
#                             the harness' S3 server), catalog FILE.db, key file next to FILE; exports
#                             LABVAULT_CONFIG=FILE
#   lv ARGS...                the labvault under test
#   run CMD...                run CMD: sets $out (stdout), $err (stderr) and $rc
#   jget JSON EXPR            evaluate the Python expression EXPR on the parsed JSON j (e.g. 'j["id"]')
#   make_tree DIR             the test tree with every kind of entry and metadata labvault stores (parts that
#                             need root are only made as root)
#   treeinfo DIR [OPT...]     canonical description of every entry below DIR (tests/lib/treeinfo.py)
#   same_tree A B DESC [OPT...]  one TAP test: treeinfo of A and B are identical (diff shown on failure)
#   as_root                   true when running as root (ownership, devices, trusted xattrs)

FILES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unset LABVAULT_PASSPHRASE LABVAULT_KEY_FILE LABVAULT_REPO LABVAULT_CATALOG AWS_ENDPOINT_URL 2>/dev/null || true

lv() { "$LABVAULT_BIN" "$@"; }

as_root() { ((EUID == 0)); }

files_conf() { # FILE REPO
  local f=$1 repo=$2 dir
  dir=$(dirname "$f")
  {
    printf '[global]\nrepo = %s\ncatalog = %s.db\nkey-file = %s/key\nlog-level = warn\n' "$repo" "${f%.conf}" "$dir"
    if [[ $repo == s3://* ]]; then
      printf '[s3]\nendpoint = %s\naccess-key = %s\nsecret-key = %s\nregion = %s\n' "$LV_TEST_S3_ENDPOINT" \
        "$LV_TEST_S3_ACCESS_KEY" "$LV_TEST_S3_SECRET_KEY" "${LV_TEST_S3_REGION:-us-east-1}"
    fi
  } >"$f"
  export LABVAULT_CONFIG=$f
}


jget() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

treeinfo() { python3 "$FILES_DIR/treeinfo.py" "$@"; }

same_tree() { # A B DESC [OPT...]
  local a=$1 b=$2 desc=$3 d
  shift 3
  d=$(diff <(treeinfo "$a" "$@") <(treeinfo "$b" "$@")) && pass "$desc" || {
    fail "$desc"
    diag "$d"
  }
}

make_tree() { # DIR
  local s=$1
  mkdir -p "$s/dir/sub/deeper" "$s/sticky" "$s/private" "$s/links" "$s/name with spaces"
  printf 'hello\n' >"$s/dir/hello.txt"
  head -c 3000000 /dev/urandom >"$s/dir/sub/random.bin"
  : >"$s/empty"
  printf 'ünïcödé\n' >"$s/name with spaces/ünïcödé.txt"
  printf '#!/bin/sh\n' >"$s/setuid"
  chmod 4755 "$s/setuid"
  printf 'g\n' >"$s/setgid"
  chmod 2750 "$s/setgid"
  chmod 1777 "$s/sticky"
  chmod 0700 "$s/private"
  printf 'secret\n' >"$s/private/key"
  chmod 0400 "$s/private/key"
  printf 'ro\n' >"$s/dir/readonly"
  chmod 0444 "$s/dir/readonly"
  # hardlinks across directories
  printf 'linked content\n' >"$s/links/a"
  ln "$s/links/a" "$s/links/b"
  ln "$s/links/a" "$s/dir/sub/c"
  # symlinks: relative, absolute, dangling
  ln -s ../dir/hello.txt "$s/links/rel"
  ln -s /etc/hostname "$s/links/abs"
  ln -s does/not/exist "$s/links/dangling"
  mkfifo "$s/fifo"
  # sparse: holes at the start, in the middle and at the end
  truncate -s 64M "$s/sparse"
  printf 'middle' | dd of="$s/sparse" bs=1 seek=$((20 << 20)) conv=notrunc status=none
  printf 'later' | dd of="$s/sparse" bs=1 seek=$((40 << 20)) conv=notrunc status=none
  # xattrs (binary too) and POSIX ACLs (access and default)
  setfattr -n user.comment -v 'a comment' "$s/dir/hello.txt"
  setfattr -n user.binary -v 0x00ff10ab "$s/dir/hello.txt"
  setfattr -n user.onDir -v yes "$s/dir"
  setfacl -m u:1234:rwx,g:5678:r "$s/dir/hello.txt"
  setfacl -d -m u:1234:rx "$s/dir/sub"
  # nanosecond mtimes (set last, on everything below)
  touch -h -d '2021-03-04 05:06:07.123456789' "$s/dir/hello.txt" "$s/links/rel"
  touch -d '1999-12-31 23:59:59.000000001' "$s/empty"
  if as_root; then
    mknod "$s/null-like" c 1 3
    mknod "$s/loop-like" b 7 0
    chown 1234:5678 "$s/dir/hello.txt"
    chown -h 4321:8765 "$s/links/rel"
    chown nobody:nogroup "$s/private/key" 2>/dev/null || chown 65534:65534 "$s/private/key"
    chown 1234:5678 "$s/setuid"
    chmod 4755 "$s/setuid" # chown cleared it
    setfattr -n trusted.labvault -v root-only "$s/empty"
  fi
  touch -d '2020-01-02 03:04:05.987654321' "$s/dir/sub/deeper" "$s/dir/sub" "$s/dir" "$s/sticky"
}
