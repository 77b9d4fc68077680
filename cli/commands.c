/* The command table: names, arguments, flags and help text of every command. */
#include "cli/cli.h"

#include <stddef.h>

static const lv_flag no_flags[] = {{NULL, NULL, NULL}};

static const lv_flag init_flags[] = {
    {"unencrypted", NULL, "create a repository without encryption (explicit choice; not recommended)"},
    {NULL, NULL, NULL},
};

static const lv_flag key_add_flags[] = {
    {"new-passphrase-file", "FILE", "read the new key's passphrase from FILE (else LABVAULT_NEW_PASSPHRASE "
                                    "or a prompt)"},
    {"new-key-file", "FILE", "protect the new key with a key file (created with 64 random bytes if missing)"},
    {NULL, NULL, NULL},
};

static const lv_flag check_flags[] = {
    {"read-data", "[=PERCENT]", "also download every pack (or a random PERCENT of them) and "
                                "authenticate every blob"},
    {NULL, NULL, NULL},
};

static const lv_flag unlock_flags[] = {
    {"force", NULL, "also remove live locks (only when their holders are known to be gone)"},
    {NULL, NULL, NULL},
};

const lv_cmd lv_commands[] = {
    {"version", "", 0, 0, "print the version of labvault and of the linked libraries",
     "Prints labvault's version and the versions of libpq, libcurl, zstd, OpenSSL, libarchive, xxHash "
     "and SQLite it runs with.",
     no_flags, lv_cmd_version},
    {"help", "[COMMAND...]", 0, 3, "show help for labvault or one command",
     "Without arguments lists the commands; with a command name prints its usage and options.", no_flags,
     lv_cmd_help},
    {"config show", "", 0, 0, "print the effective configuration and where each value came from",
     "Options come from defaults, then the configuration file (--config FILE, LABVAULT_CONFIG, or "
     "/etc/labvault/labvault.conf), then LABVAULT_* and AWS_* environment variables, then flags. Secrets are "
     "masked.",
     no_flags, lv_cmd_config_show},
    {"repo init", "", 0, 0, "create a new repository",
     "Writes the repository config and its first key. The master key is random and wrapped by a key "
     "derived from the passphrase (scrypt) or from a key file (key-file option; created if missing). The "
     "passphrase comes from LABVAULT_PASSPHRASE, passphrase-file, or a prompt on a terminal, never from "
     "the command line. An existing repository is never overwritten.",
     init_flags, lv_cmd_repo_init},
    {"repo check", "", 0, 0, "verify the repository structure and, optionally, its data",
     "Checks that every index entry points into an existing pack and every blob a manifest uses is "
     "indexed. --read-data downloads packs and authenticates every blob; --read-data=10 reads a random 10 % of the packs, so that repeated runs cover the repository over time. Exit code 6 when anything is "
     "damaged; every problem is reported on its own line.",
     check_flags, lv_cmd_repo_check},
    {"repo key add", "", 0, 0, "add a key (passphrase or key file) that opens the repository",
     "The new key wraps the same master key, so data need not be re-encrypted. The current credential "
     "opens the repository first.",
     key_add_flags, lv_cmd_repo_key_add},
    {"repo key list", "", 0, 0, "list the keys of the repository", "", no_flags, lv_cmd_repo_key_list},
    {"repo key remove", "KEY-ID", 1, 1, "remove a key",
     "Refuses to remove the last key and the key used to open the repository in this command.", no_flags,
     lv_cmd_repo_key_remove},
    {"repo unlock", "", 0, 0, "remove stale maintenance locks",
     "Removes locks whose lease expired or whose process is gone on this host. Backups and WAL pushes "
     "never take locks; only maintenance (prune, check) does.",
     unlock_flags, lv_cmd_repo_unlock},
    {"catalog rebuild", "", 0, 0, "recreate the local catalog from the repository alone",
     "Reads every index and manifest object of the repository into a fresh catalog. Use it after losing "
     "the catalog file or moving to a new host.",
     no_flags, lv_cmd_catalog_rebuild},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
