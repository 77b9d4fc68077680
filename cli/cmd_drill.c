/* `labvault drill run|history|report` (drills/drill.h, docs/drills.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/drills.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "drills/drill.h"

static void print_human(const lv_drill *d, lv_buf *out)
{
    lv_buf_printf(out, "drill %s (%s %.12s, target %s): %s\n", d->id, d->kind, d->source, d->target,
                  d->failed ? "FAILED" : "passed");
    lv_buf_printf(out, "  RTO %.2f s", d->rto);
    if (strcmp(d->kind, "pg") == 0)
        lv_buf_printf(out, " (download %.2f s, write %.2f s, WAL replay %.2f s)", d->rto_download, d->rto_write,
                      d->rto_replay);
    if (d->rpo >= 0)
        lv_buf_printf(out, "; RPO %.0f s", d->rpo);
    lv_buf_printf(out, "; %llu bytes and %llu WAL segments fetched\n", (unsigned long long)d->bytes_fetched,
                  (unsigned long long)d->segments_fetched);
    for (uint32_t i = 0; i < d->nchecks; i++)
        lv_buf_printf(out, "  %-4s %s: %s\n", d->checks[i].ok ? "ok" : "FAIL", d->checks[i].name,
                      d->checks[i].detail);
    if (d->failed > d->nchecks)
        lv_buf_printf(out, "  ... %llu failed checks in all\n", (unsigned long long)d->failed);
}

void lv_cli_drill_opts(const lv_ctx *ctx, lv_drill_opts *o)
{
    o->scratch_dir = lv_config_str(ctx->cfg, "drill-scratch-dir");
    o->os_user = lv_config_str(ctx->cfg, "drill-os-user");
    o->pg_bin = lv_config_str(ctx->cfg, "pg-bin");
    o->checks_file = lv_config_str(ctx->cfg, "drill-checks");
    o->timeout = (int)lv_config_int(ctx->cfg, "drill-timeout");
    o->config_file = lv_config_file(ctx->cfg);
    o->cfg = ctx->cfg;
    o->progress = lv_ctx_progress(ctx);
}

int lv_cmd_drill_run(lv_ctx *ctx)
{
    const char *snap = lv_ctx_flag(ctx, "snapshot"), *backup = lv_ctx_flag(ctx, "backup");
    int latest_snap = lv_ctx_flag(ctx, "latest-snapshot") != NULL, latest = lv_ctx_flag(ctx, "latest") != NULL;
    int random = lv_ctx_flag(ctx, "random") != NULL;
    const char *ttime = lv_ctx_flag(ctx, "target-time");
    int rtarget = lv_ctx_flag(ctx, "random-target") != NULL;
    int timm = lv_ctx_flag(ctx, "target-immediate") != NULL;
    int files = snap || latest_snap;
    if ((snap != NULL) + latest_snap > 1)
        return lv_err(LV_ERR_USAGE, "drill run: give one of --snapshot ID and --latest-snapshot");
    if ((backup != NULL) + latest + random > 1)
        return lv_err(LV_ERR_USAGE, "drill run: give one of --backup ID, --latest and --random");
    if ((ttime != NULL) + rtarget + timm > 1)
        return lv_err(LV_ERR_USAGE, "drill run: give one of --target-time, --random-target and --target-immediate");
    if (files && (backup || latest || random || ttime || rtarget || timm))
        return lv_err(LV_ERR_USAGE, "drill run: --snapshot/--latest-snapshot drill a file snapshot; the "
                      "PostgreSQL options (--backup, --latest, --random, --target-*) do not apply");
    lv_drill_opts o;
    memset(&o, 0, sizeof o);
    o.kind = files ? "files" : "pg";
    o.source = files ? (snap ? snap : "latest") : (backup ? backup : random ? "random" : "latest");
    o.target_time = ttime;
    o.random_target = rtarget;
    o.target_immediate = timm;
    o.keep = lv_ctx_flag(ctx, "keep") != NULL;
    lv_cli_drill_opts(ctx, &o);

    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    if (rc)
        return rc;
    lv_drill d;
    memset(&d, 0, sizeof d);
    rc = files ? lv_drill_run_files(ctx->repo, &o, &d) : lv_drill_run_pg(ctx->repo, &o, &d);
    if (rc == LV_ERR_INTERRUPTED || !d.id[0]) {
        lv_drill_free(&d);
        return rc;
    }
    char *msg = rc ? lv_xstrdup(lv_errmsg()) : NULL;
    int rec = lv_drill_record(ctx->repo, &d);
    if (rec != LV_OK)
        lv_warn("%s", lv_errmsg());
    lv_buf out = LV_BUF_INIT;
    if (ctx->json) {
        lv_drill_to_json(&d, &out);
        lv_buf_append_str(&out, "\n");
    } else {
        print_human(&d, &out);
    }
    lv_out_buf(&out);
    lv_buf_free(&out);
    lv_drill_free(&d);
    if (rc) {
        rc = lv_err(rc, "%s", msg);
        free(msg);
        return rc;
    }
    return rec;
}

typedef struct hist {
    lv_buf *out;
    int json, n;
} hist;

static int hist_cb(void *arg, const lv_drill_row *r)
{
    hist *h = arg;
    if (h->json) {
        if (h->n++)
            lv_buf_append_str(h->out, ",\n");
        lv_buf_append_str(h->out, r->json);
        return LV_OK;
    }
    char rpo[32] = "-";
    if (r->rpo >= 0)
        snprintf(rpo, sizeof rpo, "%.0f s", r->rpo);
    if (h->n++ == 0)
        lv_buf_printf(h->out, "%-20s  %-26s  %-5s %-12s  %-6s  %12s  %8s  %s\n", "STARTED", "DRILL", "KIND", "SOURCE",
                      "RESULT", "RTO", "RPO", "TARGET");
    lv_buf_printf(h->out, "%-20s  %-26s  %-5s %-12.12s  %-6s  %10.2f s  %8s  %s%s%s\n", r->started_at, r->id, r->kind,
                  r->source, r->passed ? "passed" : "FAILED", r->rto, rpo, r->target, r->passed ? "" : "  ",
                  r->passed ? "" : r->error);
    return LV_OK;
}

int lv_cmd_drill_history(lv_ctx *ctx)
{
    const char *lim = lv_ctx_flag(ctx, "limit");
    long limit = 50;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 1 || limit > 1000000)
            return lv_err(LV_ERR_USAGE, "drill history: --limit %s is not a number from 1 to 1000000", lim);
    }
    int rc = lv_ctx_open_repo(ctx, LV_CTX_CATALOG);
    if (rc)
        return rc;
    lv_buf out = LV_BUF_INIT;
    hist h = {&out, ctx->json, 0};
    if (ctx->json)
        lv_buf_append_str(&out, "[");
    rc = lv_drill_history(ctx->repo, (int)limit, hist_cb, &h);
    if (ctx->json)
        lv_buf_append_str(&out, "]\n");
    else if (h.n == 0)
        lv_buf_append_str(&out, "no drills yet\n");
    if (rc == LV_OK)
        lv_out_buf(&out);
    lv_buf_free(&out);
    return rc;
}

int lv_cmd_drill_report(lv_ctx *ctx)
{
    const char *file = lv_ctx_flag(ctx, "html");
    if (!file || !*file)
        return lv_err(LV_ERR_USAGE, "drill report: --html FILE is required");
    int rc = lv_ctx_open_repo(ctx, LV_CTX_CATALOG);
    if (rc)
        return rc;
    lv_buf html = LV_BUF_INIT;
    rc = lv_drill_report_html(ctx->repo, &html);
    if (rc == LV_OK)
        rc = lv_write_file_atomic(file, html.data, html.len, 0644, 0);
    if (rc == LV_OK && !ctx->json)
        lv_out("wrote %s (%zu bytes)\n", file, html.len);
    else if (rc == LV_OK) {
        lv_buf o = LV_BUF_INIT;
        lv_json j;
        lv_json_init(&j, &o);
        lv_json_obj(&j);
        lv_json_key(&j, "html");
        lv_json_str(&j, file);
        lv_json_key(&j, "bytes");
        lv_json_uint(&j, html.len);
        lv_json_end(&j);
        lv_buf_append_str(&o, "\n");
        lv_out_buf(&o);
        lv_buf_free(&o);
    }
    lv_buf_free(&html);
    return rc;
}
