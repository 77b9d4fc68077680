/* The Prometheus textfile (contract in status/metrics.h). */
#include "status/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "catalog/catalog.h"

const char *const lv_metrics_commands[] = {"backup files", "backup pg", "wal push", "forget", "prune", "drill run",
                                           "repo check", NULL};

int lv_metrics_record_run(lv_catalog *c, const char *command, int64_t when, double seconds, int exit_code,
                          uint64_t bytes)
{
    char key[64], value[128];
    snprintf(key, sizeof key, "lastrun %s", command);
    snprintf(value, sizeof value, "%lld %.3f %d %llu", (long long)when, seconds, exit_code, (unsigned long long)bytes);
    return lv_catalog_meta_set(c, key, value);
}

/* A label value: backslash, double quote and newline escaped, as the format asks. */
static void label(lv_buf *b, const char *s)
{
    lv_buf_append_str(b, "\"");
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            lv_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            lv_buf_append_str(b, "\\n");
        else
            lv_buf_append(b, s, 1);
    }
    lv_buf_append_str(b, "\"");
}

static void head(lv_buf *b, const char *name, const char *help)
{
    lv_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void sample2(lv_buf *b, const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
                    double v)
{
    lv_buf_printf(b, "%s{%s=", name, k1);
    label(b, v1);
    if (k2) {
        lv_buf_printf(b, ",%s=", k2);
        label(b, v2);
    }
    if (v == (double)(long long)v)
        lv_buf_printf(b, "} %lld\n", (long long)v);
    else
        lv_buf_printf(b, "} %.3f\n", v);
}

static void per_item(lv_buf *b, const lv_status *st, const char *kinds, const char *name, const char *help,
                     int what)
{
    int headed = 0;
    for (size_t i = 0; i < st->n; i++) {
        const lv_status_item *it = &st->items[i];
        if (!strstr(kinds, it->kind))
            continue;
        if (what != 2 && it->newest < 0)
            continue;
        if (!headed)
            head(b, name, help), headed = 1;
        double v = what == 0 ? (double)it->newest : what == 1 ? (double)it->age : it->ok;
        if (strcmp(it->kind, "drill") == 0)
            sample2(b, name, "kind", it->name, NULL, NULL, v);
        else
            sample2(b, name, "kind", it->kind, "group", it->name, v);
    }
}

int lv_metrics_format(lv_catalog *c, const lv_status *st, lv_buf *out)
{
    per_item(out, st, "pg files", "labvault_backup_last_timestamp_seconds",
             "Unix time of the newest backup or snapshot of each group.", 0);
    per_item(out, st, "pg files", "labvault_backup_age_seconds", "Age of the newest backup or snapshot of each group.", 1);
    per_item(out, st, "pg files", "labvault_backup_ok", "1 when the newest backup of the group is within max-backup-age "
             "(pg) or max-snapshot-age (files).", 2);
    for (size_t i = 0; i < st->n; i++) {
        const lv_status_item *it = &st->items[i];
        if (strcmp(it->kind, "wal") != 0)
            continue;
        head(out, "labvault_wal_last_archived_timestamp_seconds", "Unix time the newest WAL file reached the repository.");
        lv_buf_printf(out, "labvault_wal_last_archived_timestamp_seconds %lld\n", (long long)it->newest);
        head(out, "labvault_wal_ok", "1 when WAL archiving works and keeps up (status: wal archive).");
        lv_buf_printf(out, "labvault_wal_ok %d\n", it->ok);
    }
    head(out, "labvault_wal_push_failures", "Failed WAL pushes in the local journal (the newest 1000 are kept).");
    lv_buf_printf(out, "labvault_wal_push_failures %llu\n", (unsigned long long)st->wal_failures);
    if (st->wal_last_failure >= 0) {
        head(out, "labvault_wal_last_push_failure_timestamp_seconds", "Unix time of the newest failed WAL push.");
        lv_buf_printf(out, "labvault_wal_last_push_failure_timestamp_seconds %lld\n", (long long)st->wal_last_failure);
    }
    per_item(out, st, "drill", "labvault_drill_last_timestamp_seconds", "Unix time of the newest restore drill of each kind.",
             0);
    per_item(out, st, "drill", "labvault_drill_ok", "1 when the newest drill of the kind passed and is within "
             "max-drill-age.", 2);
    head(out, "labvault_repository_bytes", "Bytes in the repository, by part (from the local catalog).");
    lv_buf_printf(out, "labvault_repository_bytes{part=\"packs\"} %llu\nlabvault_repository_bytes{part=\"wal\"} %llu\n",
                  (unsigned long long)st->pack_bytes, (unsigned long long)st->wal_bytes);
    head(out, "labvault_status_ok", "1 when every line of labvault status is ok.");
    lv_buf_printf(out, "labvault_status_ok %d\n", st->ok);
    static const char *const names[] = {"labvault_last_run_timestamp_seconds", "labvault_last_run_duration_seconds",
                                        "labvault_last_run_exit_code", "labvault_last_run_bytes"};
    static const char *const helps[] = {"Unix time the command last ended.", "Duration of its last run.",
                                        "Exit code of its last run (docs/exit-codes.md).",
                                        "Bytes its last run stored (backups, wal push) or deleted (prune)."};
    for (int m = 0; m < 4; m++) {
        int headed = 0;
        for (const char *const *cmd = lv_metrics_commands; *cmd; cmd++) {
            char key[64], *v = NULL;
            snprintf(key, sizeof key, "lastrun %s", *cmd);
            if (lv_catalog_meta_get(c, key, &v) != LV_OK) {
                lv_err_clear();
                continue;
            }
            long long when = 0, bytes = 0;
            double secs = 0;
            int code = 0;
            if (sscanf(v, "%lld %lf %d %lld", &when, &secs, &code, &bytes) == 4) {
                if (!headed)
                    head(out, names[m], helps[m]), headed = 1;
                double val = m == 0 ? (double)when : m == 1 ? secs : m == 2 ? code : (double)bytes;
                sample2(out, names[m], "command", *cmd, NULL, NULL, val);
            }
            free(v);
        }
    }
    return LV_OK;
}

int lv_metrics_write(lv_catalog *c, const lv_status *st, const char *path)
{
    lv_buf b = LV_BUF_INIT;
    int rc = lv_metrics_format(c, st, &b);
    if (rc == LV_OK)
        rc = lv_write_file_atomic(path, b.data, b.len, 0644, 0);
    lv_buf_free(&b);
    return rc != LV_OK ? lv_err_ctx("metrics-file %s", path) : LV_OK;
}
