/* `labvault backup pg`: options in, one line (or the summary as JSON) out. The work is in backup/pg.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/pg.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"

static void print_result(lv_ctx *ctx, const lv_pg_backup_result *res, int rc, lv_buf *out)
{
    if (ctx->json) {
        lv_result_json(out, res->id, rc, res->summary_json);
        if (res->map_report[0])
            fprintf(stderr, "labvault: %s\n", res->map_report);
        return;
    }
    const char *ws = res->summary.wal_start[0] ? res->summary.wal_start : "?";
    const char *we = res->summary.wal_stop[0] ? res->summary.wal_stop : "?";
    const double mib = 1024.0 * 1024.0;
    lv_buf_printf(out, "backup pg %s %s: %llu files, %.1f MiB read, %.1f MiB new, %.1f MiB stored, WAL %s..%s "
                  "archived, %.1f s\n", res->id, res->incremental ? "incr" : "full", (unsigned long long)res->files,
                  (double)res->bytes_read / mib, (double)res->bytes_new / mib, (double)res->bytes_stored / mib, ws,
                  we, res->seconds);
    if (res->map_report[0])
        lv_buf_printf(out, "  %s\n", res->map_report);
    if (res->bad_pages)
        lv_buf_printf(out, "  %llu pages failed their checksum (listed in the manifest)\n",
                      (unsigned long long)res->bad_pages);
}

int lv_cmd_backup_pg(lv_ctx *ctx)
{
    lv_pg_backup_opts o;
    memset(&o, 0, sizeof o);
    const char *type = lv_ctx_flag(ctx, "type");
    if (type && strcmp(type, "full") != 0 && strcmp(type, "incr") != 0)
        return lv_err(LV_ERR_USAGE, "--type %s: expected full or incr", type);
    o.incremental = type && strcmp(type, "incr") == 0;
    o.pgdata = lv_config_str(ctx->cfg, "pg-data"); /* --pg-data, or the old --pgdata (cli/main.c) */
    o.conninfo = lv_ctx_flag(ctx, "dbname");
    o.host = lv_config_str(ctx->cfg, "pg-host");
    o.port = lv_config_str(ctx->cfg, "pg-port");
    o.user = lv_config_str(ctx->cfg, "pg-user");
    o.database = lv_config_str(ctx->cfg, "pg-database");
    o.label = lv_ctx_flag(ctx, "label");
    if (o.label && strlen(o.label) > 255)
        return lv_err(LV_ERR_USAGE, "--label: at most 255 bytes");
    o.fast_checkpoint = 1;
    o.archive_timeout = (int)lv_config_int(ctx->cfg, "archive-timeout");
    o.count_rows = lv_ctx_flag(ctx, "no-row-counts") == NULL;
    o.recount = lv_ctx_flag(ctx, "recount") != NULL;
    if (o.recount && !o.count_rows)
        return lv_err(LV_ERR_USAGE, "--recount and --no-row-counts: choose one");
    o.page_deltas = lv_ctx_flag(ctx, "no-page-deltas") == NULL;
    o.verify_map = lv_ctx_flag(ctx, "verify-map") != NULL;
    o.lsn_scan = lv_ctx_flag(ctx, "lsn-scan") != NULL;
    if (o.lsn_scan && (!o.incremental || o.verify_map))
        return lv_err(LV_ERR_USAGE, "--lsn-scan: only with --type incr, and not with --verify-map (which makes "
                      "the incremental by the LSN scan already)");
    if (o.verify_map && !o.incremental)
        return lv_err(LV_ERR_USAGE, "--verify-map: only with --type incr (it compares the WAL block maps with the "
                      "pages an incremental finds changed)");
    o.progress = lv_ctx_progress(ctx);
    const char *cat = lv_config_str(ctx->cfg, "catalog");
    char *lock = cat ? lv_xasprintf("%s.backup-pg.lock", cat) : NULL;
    o.lock_path = lock;

    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    if (rc != LV_OK) {
        free(lock);
        return rc;
    }
    lv_interrupt_catch();
    lv_pg_backup_result res;
    rc = lv_pg_backup(ctx->repo, &o, &res);
    lv_interrupt_release();
    free(lock);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    lv_buf out = LV_BUF_INIT;
    if (*res.id) {
        ctx->run_bytes = res.bytes_stored;
        lv_err(rc, "%s", msg);
        print_result(ctx, &res, rc, &out);
        if (out.len)
            lv_out_buf(&out);
        if (rc == LV_ERR_INCOMPLETE && ctx->json) {
            /* One JSON document: the result with its error member; main() would add a second one. */
            fprintf(stderr, "labvault: %s\n", msg);
            lv_buf_free(&out);
            lv_pg_backup_result_free(&res);
            lv_ctx_close(ctx);
            fflush(stdout);
            exit(LV_ERR_INCOMPLETE);
        }
    }
    lv_buf_free(&out);
    lv_pg_backup_result_free(&res);
    if (rc != LV_OK)
        lv_err(rc, "%s", msg);
    return rc;
}
