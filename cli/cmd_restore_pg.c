/* `labvault restore pg` and `labvault backups` (alias `info`): options in, one line or JSON out. The work
 * is in restore/pg.c and restore/pg_plan.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "restore/pg.h"
#include "restore/pg_conf.h"
#include "restore/pg_plan.h"
#include "wal/segment.h"

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
    const char *tl = lv_ctx_flag(ctx, "target-timeline");
    if (tl) {
        char *end;
        unsigned long v = strtoul(tl, &end, 10);
        if (!*tl || *end || v == 0 || v > UINT32_MAX || tl[0] == '-')
            return lv_err(LV_ERR_USAGE, "--target-timeline %s: a timeline id (1, 2, ...)", tl);
        o.target_timeline = (uint32_t)v;
    }
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
    o.progress = lv_ctx_progress(ctx);
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    if (rc == LV_OK)
        o.workers = lv_store_readers(ctx->repo->store, (int)lv_config_int(ctx->cfg, "s3-concurrency"));
    lv_pg_restore_result res;
    memset(&res, 0, sizeof res);
    if (rc == LV_OK) {
        lv_interrupt_catch();
        rc = lv_pg_restore(ctx->repo, &o, &res);
        lv_interrupt_release();
    }
    if (rc == LV_OK) {
        lv_buf out = LV_BUF_INIT;
        if (ctx->json) {
            lv_buf_printf(&out, "%s\n", res.summary_json);
        } else {
            char lsn[LV_LSN_TEXT_MAX], t[32], size[32];
            lv_lsn_format(res.stop_lsn, lsn);
            lv_time_format(res.stop_time, LV_TIME_SQL, t);
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
            if (res.target_prepared && o.target_exclusive)
                lv_pg_prepared_note(res.target_gid, (uint32_t)strtoul(o.target_value, NULL, 10),
                                    res.target_dbname[0] ? res.target_dbname : NULL, &out);
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
    lv_rec r;
    lv_rec_init(&r, &out, ctx->json, "  ");
    if (ctx->json) {
        lv_json_obj(&r.j);
        lv_json_key(&r.j, "backups");
    }
    static const char *const head[] = {"ID", "TYPE", "CONSISTENT AT", "STOP LSN", "SIZE", "NEW", "STORED", "LABEL"};
    static const int widths[] = {-12, -4, -22, -12, 10, 10, 10, 0};
    lv_rec_list_begin(&r, head, widths, n ? sizeof head / sizeof *head : 0);
    for (size_t i = 0; i < n; i++) {
        const lv_pg_backup_info *b = &v[i];
        lv_lsn_format(b->s.start_lsn, start);
        lv_lsn_format(b->s.stop_lsn, stop);
        lv_time_format(b->s.stop_time, LV_TIME_SQL, t0);
        lv_rec_begin(&r);
        lv_rec_strn(&r, "id", b->id, -12, 12);
        lv_rec_str(&r, "type", b->s.incr ? "incr" : "full", -4);
        lv_rec_str(&r, "label", b->s.label, LV_REC_JSON);
        if (b->s.prev[0])
            lv_rec_str(&r, "prev", b->s.prev, LV_REC_JSON);
        if (b->s.incr_method[0])
            lv_rec_str(&r, "incr_method", b->s.incr_method, LV_REC_JSON);
        lv_rec_uint(&r, "timeline", b->s.timeline, LV_REC_JSON);
        lv_rec_uint(&r, "pg_version", b->s.pg_version, LV_REC_JSON);
        lv_rec_str(&r, "start_lsn", start, LV_REC_JSON);
        lv_rec_str(&r, NULL, t0, -22);
        lv_rec_str(&r, "stop_lsn", stop, -12);
        lv_rec_int(&r, "start_time", b->s.start_time, LV_REC_JSON);
        lv_rec_int(&r, "stop_time", b->s.stop_time, LV_REC_JSON);
        lv_rec_uint(&r, "files", b->s.files, LV_REC_JSON);
        lv_rec_size(&r, "bytes", b->s.bytes, 10);
        lv_rec_size(&r, "bytes_new", b->s.bytes_new, 10);
        lv_rec_size(&r, "bytes_stored", b->s.bytes_stored, 10);
        lv_rec_str(&r, NULL, b->s.label, 0);
        lv_rec_end(&r);
    }
    lv_rec_list_end(&r);
    if (ctx->json) {
        window_json(&r.j, &w, wrc);
        lv_json_end(&r.j);
        lv_buf_append_str(&out, "\n");
    } else {
        if (!w.have) {
            lv_buf_append_str(&out, "no PostgreSQL backups\n");
        } else if (wrc != LV_OK) {
            lv_time_format(w.from_time, LV_TIME_SQL, t0);
            lv_buf_printf(&out, "recoverable window: from %s, end unknown: %s\n", t0, lv_errmsg());
        } else {
            lv_time_format(w.from_time, LV_TIME_SQL, t0);
            if (w.to_time)
                lv_time_format(w.to_time, LV_TIME_SQL, t1);
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
