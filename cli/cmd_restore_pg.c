/* `labvault restore pg` and `labvault backups` (alias `info`): options in, one line or JSON out. The work
 * is in restore/pg.c and restore/pg_plan.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "restore/pg.h"
#include "restore/pg_conf.h"
#include "restore/pg_plan.h"
#include "wal/segment.h"

static void on_signal(int sig)
{
    (void)sig;
    lv_pg_restore_interrupt = 1;
}

/* The one recovery target flag given (at most one). */
static int target_flag(lv_ctx *ctx, lv_pg_restore_opts *o)
{
    static const struct {
        const char *flag;
        lv_pg_target_kind kind;
    } t[] = {{"target-time", LV_PGT_TIME}, {"target-xid", LV_PGT_XID}, {"target-lsn", LV_PGT_LSN},
             {"target-name", LV_PGT_NAME}, {"target-immediate", LV_PGT_IMMEDIATE}};
    const char *given = NULL;
    o->target = LV_PGT_LATEST;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        const char *v = lv_ctx_flag(ctx, t[i].flag);
        if (!v)
            continue;
        if (given)
            return lv_err(LV_ERR_USAGE, "--%s and --%s: give one recovery target", given, t[i].flag);
        given = t[i].flag;
        o->target = t[i].kind;
        o->target_value = t[i].kind == LV_PGT_IMMEDIATE ? NULL : v;
    }
    return LV_OK;
}

static int tablespace_maps(lv_ctx *ctx, lv_pg_tsmap **out, int *n, char ***copies)
{
    *out = lv_xcalloc((size_t)ctx->nflags + 1, sizeof **out);
    *copies = lv_xcalloc((size_t)ctx->nflags + 1, sizeof **copies);
    *n = 0;
    for (int i = 0; i < ctx->nflags; i++) {
        if (strcmp(ctx->flag_names[i], "tablespace-map") != 0)
            continue;
        char *c = lv_xstrdup(ctx->flag_values[i]);
        (*copies)[*n] = c;
        char *eq = strchr(c, '=');
        if (!eq || eq == c || !eq[1])
            return lv_err(LV_ERR_USAGE, "--tablespace-map %s: use OLD=NEW (OLD: the tablespace's name, oid or "
                          "location; NEW: an absolute path)", ctx->flag_values[i]);
        *eq = '\0';
        (*out)[*n].from = c;
        (*out)[*n].to = eq + 1;
        (*n)++;
    }
    return LV_OK;
}

int lv_cmd_restore_pg(lv_ctx *ctx)
{
    lv_pg_restore_opts o;
    memset(&o, 0, sizeof o);
    o.to = lv_ctx_flag(ctx, "to");
    o.backup_id = lv_ctx_flag(ctx, "backup");
    o.target_exclusive = lv_ctx_flag(ctx, "target-exclusive") != NULL;
    o.target_action = lv_ctx_flag(ctx, "target-action");
    o.delta = lv_ctx_flag(ctx, "delta") != NULL;
    o.dry_run = lv_ctx_flag(ctx, "dry-run") != NULL;
    o.pg_bin = lv_config_str(ctx->cfg, "pg-bin");
    if (!o.to || !o.to[0])
        return lv_err(LV_ERR_USAGE, "restore pg: --to DIR is required");
    lv_pg_tsmap *maps = NULL;
    char **copies = NULL;
    int rc = target_flag(ctx, &o);
    if (rc == LV_OK)
        rc = tablespace_maps(ctx, &maps, &o.ntsmap, &copies);
    o.tsmap = maps;
    lv_buf cmd = LV_BUF_INIT;
    if (rc == LV_OK)
        rc = lv_pg_restore_command(lv_config_file(ctx->cfg), &cmd);
    o.restore_command = lv_buf_cstr(&cmd);
    o.workers = 2 * (int)lv_config_int(ctx->cfg, "s3-concurrency");
    o.progress = lv_ctx_progress(ctx);
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    lv_pg_restore_result res;
    memset(&res, 0, sizeof res);
    if (rc == LV_OK) {
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        lv_pg_restore_interrupt = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = lv_pg_restore(ctx->repo, &o, &res);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (rc == LV_OK) {
        lv_buf out = LV_BUF_INIT;
        if (ctx->json) {
            lv_buf_printf(&out, "%s\n", res.summary_json);
        } else {
            char lsn[LV_LSN_TEXT_MAX], t[32], size[32];
            lv_lsn_format(res.stop_lsn, lsn);
            lv_pg_time_format(res.stop_time, t);
            lv_human_size(res.bytes_written, size);
            if (o.dry_run)
                lv_buf_printf(&out, "would restore backup %s (consistent at %s, %s) into %s\n", res.backup_id, lsn, t,
                              o.to);
            else {
                char kept[48] = "";
                if (o.delta)
                    snprintf(kept, sizeof kept, ", %llu kept", (unsigned long long)res.files_kept);
                lv_buf_printf(&out, "restored backup %.12s (consistent at %s, %s) into %s: %llu files written (%s)%s "
                              "in %.1f s; start PostgreSQL %d on it to recover\n", res.backup_id, lsn, t, o.to,
                              (unsigned long long)res.files, size, kept, res.seconds, res.pg_version);
            }
        }
        lv_out_buf(&out);
        lv_buf_free(&out);
    }
    lv_pg_restore_result_free(&res);
    lv_buf_free(&cmd);
    for (int i = 0; copies && copies[i]; i++)
        free(copies[i]);
    free(copies);
    free(maps);
    return rc;
}

/* ---- backups ---------------------------------------------------------------------------------- */

static void window_json(lv_json *j, const lv_pg_window *w, int rc)
{
    char lsn[LV_LSN_TEXT_MAX];
    lv_json_key(j, "window");
    if (!w->have) {
        lv_json_null(j);
        return;
    }
    lv_json_obj(j);
    lv_json_key(j, "oldest_backup");
    lv_json_str(j, w->oldest_backup);
    lv_json_key(j, "from_time");
    lv_json_int(j, w->from_time);
    lv_lsn_format(w->from_lsn, lsn);
    lv_json_key(j, "from_lsn");
    lv_json_str(j, lsn);
    if (rc == LV_OK) {
        lv_json_key(j, "to_time");
        lv_json_int(j, w->to_time);
        lv_lsn_format(w->to_lsn, lsn);
        lv_json_key(j, "to_lsn");
        lv_json_str(j, lsn);
        lv_json_key(j, "to_timeline");
        lv_json_uint(j, w->to_tli);
    } else {
        lv_json_key(j, "error");
        lv_json_str(j, lv_errmsg());
    }
    lv_json_end(j);
}

int lv_cmd_backups(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    lv_pg_backup_info *v;
    size_t n;
    if ((rc = lv_pg_backups_list(ctx->cat, &v, &n)) != LV_OK)
        return rc;
    lv_pg_window w;
    int wrc = lv_pg_window_get(ctx->repo, &w);
    lv_buf out = LV_BUF_INIT;
    char start[LV_LSN_TEXT_MAX], stop[LV_LSN_TEXT_MAX], t0[32], t1[32];
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "backups");
        lv_json_arr(&j);
        for (size_t i = 0; i < n; i++) {
            const lv_pg_backup_info *b = &v[i];
            lv_lsn_format(b->start_lsn, start);
            lv_lsn_format(b->stop_lsn, stop);
            lv_json_obj(&j);
            lv_json_key(&j, "id");
            lv_json_str(&j, b->id);
            lv_json_key(&j, "type");
            lv_json_str(&j, b->incr ? "incr" : "full");
            lv_json_key(&j, "label");
            lv_json_str(&j, b->label);
            if (b->prev[0]) {
                lv_json_key(&j, "prev");
                lv_json_str(&j, b->prev);
            }
            lv_json_key(&j, "timeline");
            lv_json_uint(&j, b->timeline);
            lv_json_key(&j, "pg_version");
            lv_json_uint(&j, b->pg_version);
            lv_json_key(&j, "start_lsn");
            lv_json_str(&j, start);
            lv_json_key(&j, "stop_lsn");
            lv_json_str(&j, stop);
            lv_json_key(&j, "start_time");
            lv_json_int(&j, b->start_time);
            lv_json_key(&j, "stop_time");
            lv_json_int(&j, b->stop_time);
            lv_json_key(&j, "files");
            lv_json_uint(&j, b->files);
            lv_json_key(&j, "bytes");
            lv_json_uint(&j, b->bytes);
            lv_json_key(&j, "bytes_new");
            lv_json_uint(&j, b->bytes_new);
            lv_json_key(&j, "bytes_stored");
            lv_json_uint(&j, b->bytes_stored);
            lv_json_end(&j);
        }
        lv_json_end(&j);
        window_json(&j, &w, wrc);
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    } else {
        if (n)
            lv_buf_printf(&out, "%-12s  %-4s  %-22s  %-12s  %10s  %10s  %10s  %s\n", "ID", "TYPE", "CONSISTENT AT",
                          "STOP LSN", "SIZE", "NEW", "STORED", "LABEL");
        for (size_t i = 0; i < n; i++) {
            const lv_pg_backup_info *b = &v[i];
            char size[32], fresh[32], stored[32];
            lv_lsn_format(b->stop_lsn, stop);
            lv_pg_time_format(b->stop_time, t0);
            lv_human_size(b->bytes, size);
            lv_human_size(b->bytes_new, fresh);
            lv_human_size(b->bytes_stored, stored);
            lv_buf_printf(&out, "%-12.12s  %-4s  %-22s  %-12s  %10s  %10s  %10s  %s\n", b->id,
                          b->incr ? "incr" : "full", t0, stop, size, fresh, stored, b->label);
        }
        if (!w.have) {
            lv_buf_append_str(&out, "no PostgreSQL backups\n");
        } else if (wrc != LV_OK) {
            lv_pg_time_format(w.from_time, t0);
            lv_buf_printf(&out, "recoverable window: from %s, end unknown: %s\n", t0, lv_errmsg());
        } else {
            lv_pg_time_format(w.from_time, t0);
            if (w.to_time)
                lv_pg_time_format(w.to_time, t1);
            else
                snprintf(t1, sizeof t1, "(last commit unknown)");
            lv_lsn_format(w.from_lsn, start);
            lv_lsn_format(w.to_lsn, stop);
            lv_buf_printf(&out, "recoverable window: %s to %s (LSN %s to %s, timeline %u)\n", t0, t1, start, stop,
                          w.to_tli);
        }
    }
    lv_out_buf(&out);
    lv_buf_free(&out);
    free(v);
    return LV_OK;
}
