# shellcheck shell=bash
# bench/filetools.sh: the file-backup tools as bench/files.sh and bench/prune.sh run them (sourced; the caller
# sets mnt and lvbin). Each tool keeps its repository in $mnt/repo-TOOL and its local state (labvault's
# catalog and key, restic's cache, borg's cache and security directory) in $mnt/state-TOOL, and runs with
# its defaults (restic: zstd "auto"; borg: lz4, repokey-blake2; labvault: zstd 3), encrypted.
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
cat >"$mnt/lv.conf" <<CONF
[global]
repo = $mnt/repo-labvault
catalog = $mnt/state-labvault/catalog.db
key-file = $mnt/state-labvault/key
CONF

prepare() { # TOOL: fresh repository and caches
  rm -rf "$mnt/repo-$1" "$mnt/state-$1"
  mkdir -p "$mnt/state-$1"
  case $1 in
    labvault) LABVAULT_CONFIG=$mnt/lv.conf "$lvbin" repo init >/dev/null 2>&1 ;;
    restic) RESTIC_CACHE_DIR=$mnt/state-restic restic -q init -r "$mnt/repo-restic" >/dev/null ;;
    borg) BORG_BASE_DIR=$mnt/state-borg borg init -e repokey-blake2 "$mnt/repo-borg" ;;
  esac
}

# The command of each tool, in cmd=(...).
backup_argv() { # TOOL N [DIR]: snapshot DIR (default $mnt/tree; borg names its archive sN)
  local src=${3:-$mnt/tree}
  case $1 in
    labvault) cmd=(env LABVAULT_CONFIG="$mnt/lv.conf" "$lvbin" backup files "$src") ;;
    restic) cmd=(env RESTIC_CACHE_DIR="$mnt/state-restic" restic -q -r "$mnt/repo-restic" backup "$src") ;;
    borg) cmd=(env BORG_BASE_DIR="$mnt/state-borg" borg create "$mnt/repo-borg::s$2" "$src") ;;
  esac
}
