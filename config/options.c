/* The one table of configuration options. Adding an option here makes it available in the INI file,
 * as LABVAULT_<NAME> and as --<name>, and shows it in `labvault config show`. */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

#define MiB (1024LL * 1024)

const lv_opt_def lv_options[] = {
    {"global", "repo", "LABVAULT_REPO", NULL, LV_OPT_STRING, 0, "/var/lib/labvault/repo", NULL, 0, 0,
     "repository: a local directory path or s3://bucket/prefix"},
    {"global", "catalog", "LABVAULT_CATALOG", NULL, LV_OPT_PATH, 0, "/var/lib/labvault/catalog.db", NULL, 0,
     0, "local SQLite catalog file"},
    {"global", "log-level", "LABVAULT_LOG_LEVEL", NULL, LV_OPT_ENUM, 0, "warn",
     "error|warn|info|debug|trace", 0, 0, "how much to log to stderr"},
    {"global", "passphrase-file", "LABVAULT_PASSPHRASE_FILE", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "file holding the repository passphrase (first line)"},
    {"global", "key-file", "LABVAULT_KEY_FILE", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "key file that opens the repository instead of a passphrase"},
    {"global", "compress-level", "LABVAULT_COMPRESS_LEVEL", NULL, LV_OPT_INT, 0, "3", NULL, 0, 19,
     "zstd level for new blobs (0 = no compression)"},
    {"global", "pack-size", "LABVAULT_PACK_SIZE", NULL, LV_OPT_SIZE, 0, "16M", NULL, 4 * MiB, 256 * MiB,
     "target size of pack files, for a new repository"},
    {"global", "lock-lease", "LABVAULT_LOCK_LEASE", NULL, LV_OPT_INT, 0, "300", NULL, 10, 86400,
     "seconds a maintenance lock stays valid without being refreshed"},

    {"s3", "endpoint", "LABVAULT_S3_ENDPOINT", "AWS_ENDPOINT_URL", LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "S3 endpoint URL (default: AWS for the region)"},
    {"s3", "region", "LABVAULT_S3_REGION", "AWS_REGION", LV_OPT_STRING, 0, "us-east-1", NULL, 0, 0,
     "S3 region used for signing"},
    {"s3", "access-key", "LABVAULT_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID", LV_OPT_STRING, 1, NULL, NULL, 0, 0,
     "S3 access key id"},
    {"s3", "secret-key", "LABVAULT_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", LV_OPT_STRING, 1, NULL, NULL, 0,
     0, "S3 secret access key"},
    {"s3", "session-token", "LABVAULT_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN", LV_OPT_STRING, 1, NULL, NULL, 0,
     0, "S3 session token for temporary credentials"},
    {"s3", "uri-style", "LABVAULT_S3_URI_STYLE", NULL, LV_OPT_ENUM, 0, "path", "path|host", 0, 0,
     "path-style (http://endpoint/bucket/key) or virtual-hosted (http://bucket.endpoint/key)"},
    {"s3", "verify-tls", "LABVAULT_S3_VERIFY_TLS", NULL, LV_OPT_BOOL, 0, "true", NULL, 0, 0,
     "verify the server's TLS certificate"},
    {"s3", "ca-file", "LABVAULT_S3_CA_FILE", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "CA bundle for TLS verification"},
    {"s3", "concurrency", "LABVAULT_S3_CONCURRENCY", NULL, LV_OPT_INT, 0, "4", NULL, 1, 64,
     "parallel transfers"},
    {"s3", "multipart-threshold", "LABVAULT_S3_MULTIPART_THRESHOLD", NULL, LV_OPT_SIZE, 0, "64M", NULL,
     5 * MiB, 5LL * 1024 * 1024 * MiB, "objects larger than this are uploaded in parts"},
    {"s3", "part-size", "LABVAULT_S3_PART_SIZE", NULL, LV_OPT_SIZE, 0, "16M", NULL, 5 * MiB, 5LL * 1024 * MiB,
     "size of one multipart part"},
    {"s3", "max-retries", "LABVAULT_S3_MAX_RETRIES", NULL, LV_OPT_INT, 0, "6", NULL, 0, 100,
     "retries of a failed request, with exponential backoff"},
    {"s3", "timeout", "LABVAULT_S3_TIMEOUT", NULL, LV_OPT_INT, 0, "60", NULL, 1, 3600,
     "seconds a request may move less than 1 KiB/s (waiting for the answer included) before it is retried"},
    {"s3", "connect-timeout", "LABVAULT_S3_CONNECT_TIMEOUT", NULL, LV_OPT_INT, 0, "10", NULL, 1, 600,
     "seconds to connect (TCP and TLS) before the attempt is retried"},

    /* [pg]: the local PostgreSQL cluster (WAL archive, check). Unset connection values fall back to
     * libpq's PG* environment variables and defaults. */
    {"pg", "data", "LABVAULT_PG_DATA", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "PostgreSQL data directory (stanza create, archive lag in wal status)"},
    {"pg", "bin", "LABVAULT_PG_BIN", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "directory of PostgreSQL's programs (default: /usr/lib/postgresql/<version>/bin, then PATH)"},
    {"pg", "host", "LABVAULT_PG_HOST", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL host or socket directory (default: libpq's PGHOST)"},
    {"pg", "port", "LABVAULT_PG_PORT", NULL, LV_OPT_INT, 0, NULL, NULL, 1, 65535,
     "PostgreSQL port (default: libpq's PGPORT)"},
    {"pg", "user", "LABVAULT_PG_USER", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL user (default: libpq's PGUSER)"},
    {"pg", "database", "LABVAULT_PG_DATABASE", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "database to connect to (default: libpq's PGDATABASE)"},

    /* [archive]: wal push / wal fetch (docs/wal.md). */
    {"archive", "async", "LABVAULT_ARCHIVE_ASYNC", NULL, LV_OPT_BOOL, 0, "false", NULL, 0, 0,
     "wal push returns as soon as its file is durable while a worker pushes the next ones"},
    {"archive", "queue-max", "LABVAULT_ARCHIVE_QUEUE_MAX", NULL, LV_OPT_SIZE, 0, "0", NULL, 0,
     1024LL * 1024 * MiB, "async: drop WAL (leaving a gap) when more than this waits to be archived; 0 = never"},
    {"archive", "spool-path", "LABVAULT_ARCHIVE_SPOOL_PATH", NULL, LV_OPT_PATH, 0, "/var/spool/labvault", NULL,
     0, 0, "local directory for the async push records and the prefetched WAL"},
    {"archive", "push-workers", "LABVAULT_ARCHIVE_PUSH_WORKERS", NULL, LV_OPT_INT, 0, "4", NULL, 1, 64,
     "async: WAL files pushed in parallel"},
    {"archive", "get-prefetch", "LABVAULT_ARCHIVE_GET_PREFETCH", NULL, LV_OPT_INT, 0, "0", NULL, 0, 256,
     "wal fetch: segments fetched ahead into the spool (0 = off)"},
    {"archive", "get-workers", "LABVAULT_ARCHIVE_GET_WORKERS", NULL, LV_OPT_INT, 0, "4", NULL, 1, 64,
     "wal fetch: parallel fetches of the prefetch"},
    {"archive", "timeout", "LABVAULT_ARCHIVE_TIMEOUT", NULL, LV_OPT_INT, 0, "60", NULL, 1, 86400,
     "seconds wal push and wal fetch wait for a repository that does not answer (then fail: PostgreSQL "
     "retries), and async wal push and check wait for a WAL file to reach it"},
    /* [drill]: restore drills (docs/drills.md). */
    {"drill", "scratch-dir", "LABVAULT_DRILL_SCRATCH_DIR", NULL, LV_OPT_PATH, 0, "/var/tmp/labvault-drill", NULL,
     0, 0, "where drills restore (one drill-<id> directory per drill, removed afterwards)"},
    {"drill", "os-user", "LABVAULT_DRILL_OS_USER", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "OS user that runs the scratch PostgreSQL when labvault runs as root (default: owner of pg-data, "
     "else postgres)"},
    {"drill", "timeout", "LABVAULT_DRILL_TIMEOUT", NULL, LV_OPT_INT, 0, "1800", NULL, 10, 604800,
     "seconds the scratch PostgreSQL may take to recover and accept queries"},
    {"drill", "checks", "LABVAULT_DRILL_CHECKS", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "file of user checks, one per line: [@DATABASE] EXPECTED | SQL"},
    {"global", "metrics-file", "LABVAULT_METRICS_FILE", NULL, LV_OPT_PATH, 0, NULL, NULL, 0, 0,
     "Prometheus textfile written after every command that changes state (node_exporter's textfile collector)"},
    /* [status]: the limits of `labvault status` (durations; 0 = no limit). */
    {"status", "max-backup-age", "LABVAULT_STATUS_MAX_BACKUP_AGE", NULL, LV_OPT_STRING, 0, "26h", NULL, 0, 0,
     "the newest PostgreSQL backup of each cluster may be this old"},
    {"status", "max-snapshot-age", "LABVAULT_STATUS_MAX_SNAPSHOT_AGE", NULL, LV_OPT_STRING, 0, "26h", NULL, 0, 0,
     "the newest snapshot of each backup set (or host and paths) may be this old"},
    {"status", "max-wal-lag", "LABVAULT_STATUS_MAX_WAL_LAG", NULL, LV_OPT_STRING, 0, "15m", NULL, 0, 0,
     "the oldest WAL file waiting to be archived (with pg-data) may wait this long"},
    {"status", "max-drill-age", "LABVAULT_STATUS_MAX_DRILL_AGE", NULL, LV_OPT_STRING, 0, "100d", NULL, 0, 0,
     "the newest drill of each kind may be this old"},
    /* [retention]: forget's policies per kind (docs/retention.md); forget flags override them. */
    {"retention", "files-keep-last", "LABVAULT_RETENTION_FILES_KEEP_LAST", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: keep the N newest"},
    {"retention", "files-keep-hourly", "LABVAULT_RETENTION_FILES_KEEP_HOURLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: keep the newest of each of the N newest hours"},
    {"retention", "files-keep-daily", "LABVAULT_RETENTION_FILES_KEEP_DAILY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: ... of the N newest days"},
    {"retention", "files-keep-weekly", "LABVAULT_RETENTION_FILES_KEEP_WEEKLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: ... of the N newest ISO weeks"},
    {"retention", "files-keep-monthly", "LABVAULT_RETENTION_FILES_KEEP_MONTHLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: ... of the N newest months"},
    {"retention", "files-keep-yearly", "LABVAULT_RETENTION_FILES_KEEP_YEARLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: ... of the N newest years"},
    {"retention", "files-keep-within", "LABVAULT_RETENTION_FILES_KEEP_WITHIN", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: keep every one within this duration (30d) of the newest"},
    {"retention", "files-keep-tag", "LABVAULT_RETENTION_FILES_KEEP_TAG", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "file snapshots: keep every one with one of these tags (comma-separated)"},
    {"retention", "pg-keep-last", "LABVAULT_RETENTION_PG_KEEP_LAST", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: keep the N newest"},
    {"retention", "pg-keep-hourly", "LABVAULT_RETENTION_PG_KEEP_HOURLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: keep the newest of each of the N newest hours"},
    {"retention", "pg-keep-daily", "LABVAULT_RETENTION_PG_KEEP_DAILY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: ... of the N newest days"},
    {"retention", "pg-keep-weekly", "LABVAULT_RETENTION_PG_KEEP_WEEKLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: ... of the N newest ISO weeks"},
    {"retention", "pg-keep-monthly", "LABVAULT_RETENTION_PG_KEEP_MONTHLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: ... of the N newest months"},
    {"retention", "pg-keep-yearly", "LABVAULT_RETENTION_PG_KEEP_YEARLY", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: ... of the N newest years"},
    {"retention", "pg-keep-within", "LABVAULT_RETENTION_PG_KEEP_WITHIN", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: keep every one within this duration (30d) of the newest"},
    {"retention", "pg-keep-tag", "LABVAULT_RETENTION_PG_KEEP_TAG", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: keep every one with one of these tags (comma-separated)"},
    {"retention", "pg-recovery-window", "LABVAULT_RETENTION_PG_RECOVERY_WINDOW", NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0,
     "PostgreSQL backups: keep every backup needed to restore to any moment of this duration before now (14d)"},
    {NULL, NULL, NULL, NULL, LV_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},
};

const char *lv_opt_name(const lv_opt_def *d, char *buf, size_t n)
{
    if (strcmp(d->section, "global") == 0)
        snprintf(buf, n, "%s", d->key);
    else
        snprintf(buf, n, "%s-%s", d->section, d->key);
    return buf;
}

const lv_opt_def *lv_opt_find(const char *name)
{
    char buf[128];
    for (const lv_opt_def *d = lv_options; d->key; d++)
        if (strcmp(lv_opt_name(d, buf, sizeof buf), name) == 0)
            return d;
    return NULL;
}
