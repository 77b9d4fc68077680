/* labvault status: parses the limits, prints status/status.h's lines. The metrics hook of main.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "status/metrics.h"
#include "status/status.h"

static int limit(lv_ctx *ctx, const char *opt, int64_t *out)
{
    const char *v = lv_config_str(ctx->cfg, opt);
    *out = 0;
    if (!v || !*v || strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
        return LV_OK;
    if (lv_duration_parse(v, out) != 0)
        return lv_err(LV_ERR_CONFIG, "option %s: '%s' is not a duration (26h, 15m, 100d) or 0 (no limit)%s%s", opt, v,
                      lv_config_source(ctx->cfg, opt) ? " in " : "",
                      lv_config_source(ctx->cfg, opt) ? lv_config_source(ctx->cfg, opt) : "");
    return LV_OK;
}

static int limits(lv_ctx *ctx, lv_status_limits *l)
{
    int rc = limit(ctx, "status-max-backup-age", &l->backup_age);
    if (rc == LV_OK)
        rc = limit(ctx, "status-max-snapshot-age", &l->snapshot_age);
    if (rc == LV_OK)
        rc = limit(ctx, "status-max-wal-lag", &l->wal_lag);
    if (rc == LV_OK)
        rc = limit(ctx, "status-max-drill-age", &l->drill_age);
    return rc;
}

static void human_age(int64_t s, char *out, size_t n)
{
    if (s < 0)
        snprintf(out, n, "-");
    else
        lv_duration_format(s, out, n);
}

int lv_cmd_status(lv_ctx *ctx)
{
    lv_status_limits lim;
    int rc = limits(ctx, &lim);
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    lv_status st;
    rc = lv_status_get(ctx->repo, &lim, lv_config_str(ctx->cfg, "pg-data"), (int64_t)time(NULL), &st);
    if (rc != LV_OK)
        return rc;
    lv_buf out = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &out, ctx->json, "  ");
    if (r.json) {
        lv_json_obj(&r.j);
        lv_json_key(&r.j, "ok");
        lv_json_bool(&r.j, st.ok);
        lv_json_key(&r.j, "items");
    }
    static const char *const titles[] = {"KIND", "WHAT", "NEWEST", "AGE", "LIMIT", "STATE", "DETAIL"};
    static const int widths[] = {-5, -40, -19, -10, -8, -5, 0};
    lv_rec_list_begin(&r, titles, widths, sizeof titles / sizeof *titles);
    for (size_t i = 0; i < st.n; i++) {
        const lv_status_item *it = &st.items[i];
        /* The repository's size is one line of its own in text: no age, limit or state. */
        int repo = strcmp(it->kind, "repo") == 0;
        char when[LV_TIME_TEXT_MAX], age[32], lim_s[32], size[160] = "";
        lv_time_format(it->newest, LV_TIME_LOCAL, when);
        human_age(it->age, age, sizeof age);
        human_age(it->limit ? it->limit : -1, lim_s, sizeof lim_s);
        if (repo) {
            char packs[32], wal[32], total[32];
            lv_human_size(st.pack_bytes, packs);
            lv_human_size(st.wal_bytes, wal);
            lv_human_size(it->bytes, total);
            snprintf(size, sizeof size, "%s (packs %s, WAL %s)", total, packs, wal);
        }
        lv_rec_begin(&r);
        lv_rec_str(&r, "kind", it->kind, widths[0]);
        lv_rec_str(&r, "name", it->name, LV_REC_JSON);
        lv_rec_str(&r, NULL, repo ? "repository size" : it->name, widths[1]);
        lv_rec_str(&r, NULL, size, repo ? 0 : LV_REC_JSON);
        int w = repo ? LV_REC_JSON : 0; /* the other text columns: not on the repository's line */
        lv_rec_str(&r, NULL, it->newest >= 0 ? when : "never", w ? w : widths[2]);
        it->newest >= 0 ? lv_rec_int(&r, "newest", it->newest, LV_REC_JSON) : lv_rec_null(&r, "newest");
        lv_rec_str(&r, NULL, age, w ? w : widths[3]);
        it->age >= 0 ? lv_rec_int(&r, "age", it->age, LV_REC_JSON) : lv_rec_null(&r, "age");
        lv_rec_str(&r, NULL, lim_s, w ? w : widths[4]);
        it->limit ? lv_rec_int(&r, "limit", it->limit, LV_REC_JSON) : lv_rec_null(&r, "limit");
        lv_rec_bool(&r, "ok", it->ok, "ok", "FAIL", w ? w : widths[5]);
        lv_rec_str(&r, "detail", it->detail, w ? w : widths[6]);
        lv_rec_uint(&r, "bytes", it->bytes, LV_REC_JSON);
        lv_rec_end(&r);
    }
    lv_rec_list_end(&r);
    if (r.json) {
        lv_json_key(&r.j, "repository_bytes");
        lv_json_uint(&r.j, st.repo_bytes);
        lv_json_end(&r.j);
        lv_buf_append_str(&out, "\n");
    }
    lv_out_buf(&out);
    lv_buf_free(&out);
    if (!st.ok) {
        lv_buf why = LV_BUF_INIT;
        size_t bad = 0;
        for (size_t i = 0; i < st.n; i++)
            if (!st.items[i].ok)
                lv_buf_printf(&why, "%s%s %s: %s", bad++ ? "; " : "", st.items[i].kind, st.items[i].name,
                              st.items[i].detail);
        rc = lv_err(LV_ERR_CHECK, "status: %zu not ok: %s", bad, lv_buf_cstr(&why));
        lv_buf_free(&why);
    }
    lv_status_free(&st);
    return rc;
}

void lv_ctx_metrics(lv_ctx *ctx, int exit_code, double seconds)
{
    const char *path = lv_config_str(ctx->cfg, "metrics-file");
    if (!path || !*path || !ctx->cmd)
        return;
    int listed = 0;
    for (const char *const *c = lv_metrics_commands; *c; c++)
        listed |= strcmp(*c, ctx->cmd->name) == 0;
    if (!listed)
        return;
    /* Never fail the command for its metrics: open what is missing, warn on failure. */
    int rc = ctx->cat ? LV_OK : lv_ctx_open_repo(ctx, LV_CTX_CATALOG);
    lv_status_limits lim = {0};
    if (rc == LV_OK)
        rc = limits(ctx, &lim);
    if (rc == LV_OK)
        rc = lv_metrics_record_run(ctx->cat, ctx->cmd->name, (int64_t)time(NULL), seconds, exit_code, ctx->run_bytes);
    lv_status st;
    memset(&st, 0, sizeof st);
    if (rc == LV_OK)
        rc = lv_status_get(ctx->repo, &lim, lv_config_str(ctx->cfg, "pg-data"), (int64_t)time(NULL), &st);
    if (rc == LV_OK)
        rc = lv_metrics_write(ctx->cat, &st, path);
    lv_status_free(&st);
    if (rc != LV_OK) {
        lv_warn("metrics not written: %s", lv_errmsg());
        lv_err_clear();
    }
}
