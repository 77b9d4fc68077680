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

static const lv_flag wal_push_flags[] = {
    {"async", NULL, "return once this file is durable and push the next ready ones in the background "
                    "(same as archive-async = on)"},
    {"worker", NULL, "internal: run as the background worker of --async"},
    {NULL, NULL, NULL},
};

static const lv_flag wal_fetch_flags[] = {
    {"worker", NULL, "internal: run as the background prefetch worker"},
    {"last-segment", "SEGMENT", "the segment the restore's target is reached in (restore pg --target-immediate "
                                "writes it): later segments are answered absent (exit 1)"},
    {NULL, NULL, NULL},
};

#define UNDO_FLAGS                                                                                          \
    {"switch", NULL, "first switch the live cluster to a new WAL segment (pg_switch_wal()) and wait until the "  \
                     "current one is archived, so that what happened moments ago is searched too"},             \
        {"drill", "XID", "prove the suggestion: restore into scratch to just before transaction XID (one of "      \
                         "those listed), start it and show the affected tables' rows there beside the live "      \
                         "cluster's"},                                                                             \
        {"keep-running", NULL, "with --drill: keep the scratch copy running, and print how to connect and the "   \
                               "pg_dump command that copies the rows back"}

static const lv_flag wal_drops_flags[] = {
    {"since", "TIME|LSN", "start at this LSN (X/X), or report only drops committed at or after this UTC time "
                          "('2026-11-21 10:00:00')"},
    UNDO_FLAGS,
    {NULL, NULL, NULL},
};

static const lv_flag wal_changes_flags[] = {
    {"min-rows", "N", "list transactions that deleted or updated at least N rows of one table (default 1000)"},
    {"table", "NAME", "only this table (schema.name or name)"},
    {"since", "TIME|LSN", "start at this LSN (X/X), or report only transactions that ended at or after this UTC "
                          "time ('2026-11-21 10:00:00')"},
    {"inserts", NULL, "count inserted rows toward --min-rows too"},
    {"limit", "N", "the newest N transactions (default 20; 0: all)"},
    UNDO_FLAGS,
    {NULL, NULL, NULL},
};

static const lv_flag backup_files_flags[] = {
    {"tag", "TAG", "label the snapshot (repeatable)"},
    {"time", "TIME", "record the snapshot as taken at TIME ('2026-01-31 03:00:00', local time) instead of now"},
    {"set", "NAME", "back up the [set NAME] of the configuration (its paths, excludes, tags, docker volume or compose "
                    "project, hooks)"},
    {"host", "HOST", "record the snapshot as taken on HOST instead of this host's name"},
    {"exclude", "PATTERN", "leave out matching entries: a pattern with '/' matches the absolute path, else the "
                           "name (shell wildcards; repeatable)"},
    {"exclude-file", "FILE", "read exclude patterns from FILE, one per line ('#' comments)"},
    {"one-file-system", NULL, "do not descend into other file systems"},
    {"stdin", "NAME", "store standard input as the file NAME (pg_dumpall | labvault backup files --stdin all.sql)"},
    {"from-tar", "FILE", "store the contents of a tar archive (FILE or - for stdin) as the snapshot's tree"},
    {"docker-volume", "NAME", "back up the mount point of this docker volume (docker volume inspect)"},
    {"compose-project", "NAME", "back up every volume of this docker compose project, its containers stopped "
                                "meanwhile (read from compose's labels: no compose binary needed)"},
    {"stop-containers", NULL, "with --docker-volume: stop the running containers that use it, start them after"},
    {"pre-hook", "CMD", "run CMD (sh -c) before the backup; the backup is skipped if it fails"},
    {"post-hook", "CMD", "run CMD after the backup, always, also after a failure"},
    {NULL, NULL, NULL},
};

#define SNAPSHOT_FILTER_FLAGS                                                                             \
    {"host", "HOST", "only snapshots of this host (repeatable)"},                                         \
    {"tag", "TAG[,TAG]", "only snapshots with every one of these tags (repeatable: any of the groups)"},  \
    {"path", "PATH", "only snapshots that include this backed-up path (repeatable: all of them)"}

static const lv_flag snapshots_flags[] = {SNAPSHOT_FILTER_FLAGS, {NULL, NULL, NULL}};

static const lv_flag latest_flags[] = {
    {"host", "HOST", "with latest: the newest snapshot of this host"},
    {"tag", "TAG[,TAG]", "with latest: the newest snapshot with these tags"},
    {"path", "PATH", "with latest: the newest snapshot that includes this backed-up path"},
    {NULL, NULL, NULL},
};

static const lv_flag find_flags[] = {
    {"snapshot", "SNAPSHOT", "search only this snapshot (repeatable; default every snapshot, newest first)"},
    SNAPSHOT_FILTER_FLAGS,
    {NULL, NULL, NULL},
};

static const lv_flag restore_files_flags[] = {
    {"host", "HOST", "with latest: the newest snapshot of this host"},
    {"tag", "TAG[,TAG]", "with latest: the newest snapshot with these tags"},
    {"path", "PATH", "with latest: the newest snapshot that includes this backed-up path"},
    {"to", "DIR", "restore into DIR (created; must be empty unless --overwrite)"},
    {"tar", "FILE", "write a pax tar stream to FILE (- for stdout) instead"},
    {"include", "PATH", "restore only this snapshot path and what is below it (repeatable)"},
    {"overwrite", NULL, "restore into a non-empty DIR, replacing entries in the way (or replace the tar FILE)"},
    {NULL, NULL, NULL},
};

static const lv_flag backup_pg_flags[] = {
    {"type", "full|incr", "full (default) or incr: store only pages changed since the previous backup"},
    {"pg-data", "DIR", "the cluster's data directory (the [pg] data option; --pgdata still accepted)"},
    {"dbname", "CONNINFO", "libpq connection string (default: pg-host, pg-port, pg-user, pg-database)"},
    {"label", "TEXT", "backup label (default \"labvault\" and the time)"},
    {"no-row-counts", NULL, "do not record per-table row counts (they cost one count(*) per table)"},
    {"recount", NULL, "count(*) every table, deriving no row count from the previous backup's and the WAL"},
    {"no-page-deltas", NULL, "incr: store every changed page whole (no deltas against earlier images)"},
    {"verify-map", NULL, "incr: also compare the WAL block maps with the pages found changed; exit 12 if they missed one"},
    {"lsn-scan", NULL, "incr: read every page and compare its LSN, not only the pages the WAL block maps name"},
    {NULL, NULL, NULL},
};

static const lv_flag restore_pg_flags[] = {
    {"to", "DIR", "restore into DIR (created; must be empty unless --delta)"},
    {"backup", "ID", "restore this backup (default: the newest that ends before the target)"},
    {"target-time", "TIME", "recover to this time ('2026-11-21 10:00:00+00')"},
    {"target-xid", "XID", "recover to this transaction id"},
    {"target-lsn", "LSN", "recover to this WAL location (X/X)"},
    {"target-name", "NAME", "recover to this named restore point (pg_create_restore_point)"},
    {"target-immediate", NULL, "recover only to the backup's consistency point"},
    {"target-exclusive", NULL, "stop just before the target instead of just after it"},
    {"target-timeline", "TLI", "the timeline the target is on (default: the newest of the archive)"},
    {"target-action", "ACTION", "promote (default), pause or shutdown once the target is reached"},
    {"delta", NULL, "update an existing data directory, rewriting only what differs"},
    {"tablespace-map", "OLD=NEW", "restore tablespace OLD (name, oid or location) at NEW (repeatable)"},
    {"dry-run", NULL, "choose the backup and check the target, write nothing"},
    {NULL, NULL, NULL},
};

static const lv_flag drill_run_flags[] = {
    {"backup", "ID", "drill this PostgreSQL backup"},
    {"latest", NULL, "drill the newest PostgreSQL backup (the default)"},
    {"random", NULL, "drill a randomly chosen PostgreSQL backup"},
    {"target-time", "TIME", "recover to this time instead of the end of the archive"},
    {"random-target", NULL, "recover to a random point inside the recoverable window"},
    {"target-immediate", NULL, "recover only to the backup's end point (its recorded row counts must match)"},
    {"snapshot", "ID", "drill this file snapshot instead"},
    {"latest-snapshot", NULL, "drill the newest file snapshot"},
    {"keep", NULL, "keep the scratch directory (for debugging; PostgreSQL is still stopped)"},
    {NULL, NULL, NULL},
};

static const lv_flag drill_history_flags[] = {
    {"limit", "N", "show the newest N drills (default 50)"},
    {NULL, NULL, NULL},
};

static const lv_flag drill_report_flags[] = {
    {"html", "FILE", "write a self-contained HTML report to FILE"},
    {NULL, NULL, NULL},
};

#define PRUNE_FLAGS                                                                                         \
    {"max-unused", "PERCENT", "repack packs with more than PERCENT unused bytes (default 10)"},                  \
        {"safety", "full|none", "none: delete at once, without waiting for running backups and restores "       \
                                "(only when no other labvault uses the repository)"},                           \
        {"wait", "SECONDS", "wait this long for running backups and restores to finish before deleting "        \
                            "(default 600; then the deletion waits for the next run)"}

static const lv_flag forget_flags[] = {
    {"keep-last", "N", "keep the N newest of each group"},
    {"keep-hourly", "N", "keep the newest of each of the N newest hours ('unlimited': every hour)"},
    {"keep-daily", "N", "... of each of the N newest days"},
    {"keep-weekly", "N", "... of each of the N newest ISO weeks"},
    {"keep-monthly", "N", "... of each of the N newest months"},
    {"keep-yearly", "N", "... of each of the N newest years"},
    {"keep-within", "DURATION", "keep every backup within DURATION (30d, 12h, 1y2w) of the group's newest"},
    {"keep-tag", "TAG", "keep every snapshot with this tag (repeatable)"},
    {"recovery-window", "DURATION", "PostgreSQL: keep what restores to any moment of the last DURATION (14d)"},
    {"kind", "files|pg|all", "apply the policy to file snapshots, PostgreSQL backups or both (default all)"},
    {"host", "HOST", "only file snapshots of this host"},
    {"group-by", "host,paths,tags", "how file snapshots form groups (default host,paths)"},
    {"prune", NULL, "reclaim the space afterwards (labvault prune)"},
    {"dry-run", NULL, "show what would be kept and removed, change nothing"},
    {"force", NULL, "allow a policy that removes every backup of a group, or its newest"},
    PRUNE_FLAGS,
    {NULL, NULL, NULL},
};

static const lv_flag stanza_delete_flags[] = {
    {"force", NULL, "really remove every PostgreSQL backup and the WAL archive"},
    {"dry-run", NULL, "show what would be removed"},
    {"safety", "full|none", "none: do not wait for running restores and drills"},
    {"wait", "SECONDS", "wait this long for running restores and drills (default 60)"},
    {NULL, NULL, NULL},
};

static const lv_flag prune_flags[] = {
    {"dry-run", NULL, "show what would be deleted and repacked, change nothing"},
    PRUNE_FLAGS,
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
     "Checks every object kind and says which it covered: keys, index objects, packs, manifests, the "
     "stanza, the WAL archive (gaps, each backup's WAL), drill records, locks, leftovers of killed writers; "
     "with a local catalog, also that nothing it records was deleted. --read-data downloads packs and WAL "
     "objects and authenticates them; --read-data=10 reads a random 10 % of them, so that repeated runs "
     "cover the repository over time. Exit code 6 when anything is damaged; every problem is reported on "
     "its own line. See docs/repository-format.md 7.8.",
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
     "Removes locks whose lease expired or whose process is gone on this host, and temporary files that "
     "killed writers left more than a day ago. Backups and WAL pushes never take locks; only maintenance "
     "(prune, check) does.",
     unlock_flags, lv_cmd_repo_unlock},
    {"forget", "[ID...]", 0, 4096, "remove backups and snapshots a retention policy does not keep",
     "Applies the keep rules (restic's: --keep-last, --keep-hourly/daily/weekly/monthly/yearly, --keep-within, "
     "--keep-tag; and --recovery-window for PostgreSQL, Barman's) to each group: file snapshots of one host and "
     "set of paths, PostgreSQL backups of one cluster. Without flags the [retention] options of the configuration "
     "apply. Removes the manifests of what no rule keeps, or of the IDs named, and the WAL no kept PostgreSQL "
     "backup needs. Refuses a policy that would remove every backup of a group, or its newest, unless --force. "
     "--prune then reclaims the space. See docs/retention.md.",
     forget_flags, lv_cmd_forget},
    {"prune", "", 0, 0, "delete the data no backup references, repack partly used packs",
     "Finds the blobs the manifests reference, deletes packs that hold none, repacks packs whose unused share "
     "exceeds --max-unused, and replaces the index objects. Backups and WAL pushes never wait for it: packs are "
     "deleted only once no backup or restore that might still use them is running (they are announced in the "
     "repository), else at the next prune. See docs/retention.md.",
     prune_flags, lv_cmd_prune},
    {"repo stats", "", 0, 0, "sizes of the repository: logical, stored, deduplication, reclaimable",
     "Per kind (file snapshots, PostgreSQL backups, WAL): the logical bytes backed up, the bytes stored, the "
     "deduplication and compression ratios, and the bytes prune could reclaim now.",
     no_flags, lv_cmd_repo_stats},
    {"status", "", 0, 0, "is everything protected? newest backups, WAL archiving, drills, against limits",
     "One line per PostgreSQL cluster and per backup set (or host and paths): the newest backup and its age; the "
     "WAL archive: the newest archived file, the last push failure and (with pg-data) how long the oldest file "
     "waits; the newest drill of each kind; the repository's size. The limits are the [status] options "
     "(max-backup-age, max-snapshot-age, max-wal-lag, max-drill-age). Exit 0 when every line is ok, 12 naming "
     "what is not. See docs/status.md.",
     no_flags, lv_cmd_status},
    {"catalog rebuild", "", 0, 0, "recreate the local catalog from the repository alone",
     "Reads every index and manifest object of the repository into a fresh catalog. Use it after losing "
     "the catalog file or moving to a new host.",
     no_flags, lv_cmd_catalog_rebuild},
    {"stanza create", "", 0, 0, "record which PostgreSQL cluster this repository archives",
     "Reads the system identifier, version and WAL segment size with pg_controldata from --pg-data DIR and "
     "stores them in the repository (create-only). Without it, the first `wal push` records them from the "
     "segment's header. WAL from any other cluster is then refused (exit 10).",
     no_flags, lv_cmd_stanza_create},
    {"stanza delete", "", 0, 0, "give up the PostgreSQL cluster the repository archives: its backups, WAL and stanza",
     "For a cluster that was decommissioned or created again (initdb: a new system identifier): removes every "
     "PostgreSQL backup, every archived WAL file and the stanza, after recording the removal (so repo check on "
     "other hosts does not take it for a loss). File snapshots stay. Needs --force; the next `wal push` starts "
     "the archive of whichever cluster pushes next; `labvault prune` reclaims the space. See docs/retention.md.",
     stanza_delete_flags, lv_cmd_stanza_delete},
    {"wal push", "FILE", 1, 1, "archive one WAL file (archive_command = 'labvault wal push %p')",
     "Checks the segment's page header and cluster, compresses, encrypts and stores it as "
     "wal/<timeline>/<name>-<checksum>, records it in the catalog, and exits 0 only once it is durable. The "
     "same file pushed again succeeds; other content under the same name is refused (exit 10), never "
     "overwritten. With --async it returns as soon as its file is durable while a worker pushes the next "
     "ready files in parallel. See docs/wal.md.",
     wal_push_flags, lv_cmd_wal_push},
    {"wal fetch", "NAME DEST", 2, 2, "restore one WAL file (restore_command = 'labvault wal fetch %f %p')",
     "Writes the verified file to DEST (temporary file, then rename). Exit 0: fetched and verified; 1: "
     "provably not in the repository; 128 + code for anything uncertain (network, key, damage), which "
     "stops recovery. archive-get-prefetch = N fetches the next N segments ahead in the background.",
     wal_fetch_flags, lv_cmd_wal_fetch},
    {"wal status", "", 0, 0, "show the state of the WAL archive",
     "Last archived segment and when, per-timeline ranges and gaps, conflicting copies, archive lag "
     "(with --pg-data: files waiting in archive_status and the age of the oldest) and recent failures. "
     "Exit 9 when the archive has gaps, conflicts or dropped files.",
     no_flags, lv_cmd_wal_status},
    {"wal list", "", 0, 0, "list the archived WAL files",
     "One line (or JSON object) per archived file, from the repository listing alone.", no_flags,
     lv_cmd_wal_list},
    {"wal drops", "", 0, 0, "find the commits that dropped tables or databases, and how to restore before them",
     "Scans the archived WAL from the oldest PostgreSQL backup's start (or --since) and lists every commit "
     "that dropped or truncated relations (DROP TABLE, TRUNCATE, rewrites) or dropped a database: LSN, time, "
     "xid, database, relfilenodes with the table names the backups' relation maps know, and the restore "
     "command that stops just before it; says when the cluster has WAL not archived yet. See docs/wal.md.",
     wal_drops_flags, lv_cmd_wal_drops},
    {"wal changes", "", 0, 0, "find the transactions that deleted or updated many rows of a table",
     "Lists, newest first, the transactions whose heap records deleted or updated at least --min-rows rows of "
     "one table (a DELETE or UPDATE without WHERE, among thousands of small transactions): when each ended, its "
     "xid and end LSN, per table the rows deleted, updated and inserted (names from the backups' relation maps), "
     "and the restore command that stops just before it. Searches the per-segment summaries `wal push` records "
     "(segments without one are read once and summarized): a busy day of WAL is searched in well under a "
     "second. See docs/pitr.md.",
     wal_changes_flags, lv_cmd_wal_changes},
    {"check", "", 0, 0, "verify end to end that WAL archiving works",
     "Connects to PostgreSQL (pg-host, pg-port, pg-user, pg-database or the PG* variables), checks "
     "archive_mode and the cluster's identity, forces a WAL switch and waits up to archive-timeout seconds "
     "for the segment to arrive in the repository, then reads it back.",
     no_flags, lv_cmd_check},
    {"backup files", "[PATH...]", 0, 4096, "snapshot files and directories (or a stream, or a tar archive)",
     "Stores the paths as they are on this host: contents cut into chunks (FastCDC) and deduplicated against "
     "everything in the repository, directories as trees, and all metadata (modes, owners, nanosecond times, "
     "xattrs and ACLs, hardlinks, holes, devices). Unchanged files are not read again (files cache). Entries "
     "that cannot be read are reported and left out; the snapshot is still committed and the exit code is 9. "
     "See docs/snapshots.md.",
     backup_files_flags, lv_cmd_backup_files},
    {"snapshots", "", 0, 0, "list the file snapshots",
     "One line (or JSON object) per snapshot, oldest first; --host, --tag and --path narrow the list.",
     snapshots_flags, lv_cmd_snapshots},
    {"ls", "SNAPSHOT [PATH]", 1, 2, "list the entries of a snapshot",
     "SNAPSHOT is an id, a unique prefix of one, or latest. Lists PATH (a snapshot path such as /etc/nginx) "
     "and everything below it, or the whole snapshot.",
     latest_flags, lv_cmd_ls},
    {"find", "PATTERN...", 1, 64, "find which snapshots hold a file",
     "Lists every entry of every snapshot (newest first; --snapshot, --host, --tag, --path narrow them) "
     "that matches one of the shell patterns: a pattern with a '/' against the whole path "
     "('/etc/nginx/*.conf'), one without against the name ('*.sql'). Exit 1 when nothing matches.",
     find_flags, lv_cmd_find},
    {"dump", "SNAPSHOT PATH", 2, 2, "write one file of a snapshot to standard output",
     "labvault dump latest /etc/fstab > fstab: the file's bytes, each chunk authenticated before it is "
     "written; a symbolic link gives its target; a directory comes as a tar stream.",
     latest_flags, lv_cmd_dump},
    {"diff", "SNAPSHOT1 SNAPSHOT2", 2, 2, "show what changed between two snapshots",
     "One line per change: + added, - removed, M content modified, U metadata only, T type changed. "
     "Unchanged subtrees are skipped without being read.",
     no_flags, lv_cmd_diff},
    {"restore files", "SNAPSHOT", 1, 1, "restore a file snapshot into a directory or as a tar stream",
     "Writes contents and metadata exactly (owners when run as root); every chunk is authenticated before it "
     "is written, and a damaged one stops the restore naming the file (which is removed). Paths never lead "
     "outside the target.",
     restore_files_flags, lv_cmd_restore_files},
    {"backup pg", "", 0, 0, "take a full or incremental base backup of the local PostgreSQL cluster",
     "Runs on the database host as the PostgreSQL OS user: pg_backup_start, reads the data directory and "
     "tablespaces directly, pg_backup_stop. Relation files are stored as page runs; --type incr stores only "
     "pages whose LSN is newer than the previous backup's start, and every manifest is complete on its own. "
     "Page checksums are verified. The backup is complete once its WAL is archived: it waits for it "
     "(archive-timeout). See docs/pg-backups.md.",
     backup_pg_flags, lv_cmd_backup_pg},
    {"restore pg", "", 0, 0, "restore a PostgreSQL backup, optionally to a point in time",
     "Chooses the newest backup that ends before the target, checks the target against the backups and the "
     "archived WAL before writing anything, writes the files in parallel, and configures recovery "
     "(recovery.signal, restore_command and the target in postgresql.auto.conf). Start PostgreSQL on DIR "
     "to recover.",
     restore_pg_flags, lv_cmd_restore_pg},
    {"backups", "", 0, 0, "list PostgreSQL backups and the recoverable window",
     "One line (or JSON object) per backup, oldest first, with sizes; then the recoverable window: the "
     "oldest backup's consistency point to the last archived WAL.",
     no_flags, lv_cmd_backups},
    {"info", "", 0, 0, "the same as backups", "An alias of `labvault backups`.", no_flags, lv_cmd_backups},
    {"drill run", "", 0, 0, "prove that a backup restores: restore, start, check, measure RTO and RPO",
     "Restores into a scratch directory, starts PostgreSQL on a free 127.0.0.1 port, recovers to the target, "
     "runs the checks (connections, amcheck, row counts, user checks from the [drill] configuration), "
     "records RTO and RPO in the catalog and the repository, and removes everything it created. With "
     "--snapshot or --latest-snapshot, restores a file snapshot and compares every file. Exit code 12 when "
     "a check failed. See docs/drills.md.",
     drill_run_flags, lv_cmd_drill_run},
    {"drill history", "", 0, 0, "list past restore drills",
     "One line per drill, oldest first: start, id, kind, source, result, RTO, RPO, target and, for a failed "
     "drill, its first failed check. --json prints the full records (every check with its result). The "
     "history lives in the catalog and in the repository (drills/), so `catalog rebuild` brings it back.",
     drill_history_flags, lv_cmd_drill_history},
    {"drill report", "", 0, 0, "write the drill history as a self-contained HTML page",
     "RTO over time per kind as an SVG chart, a pass/fail timeline and the details of the last failure.",
     drill_report_flags, lv_cmd_drill_report},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
