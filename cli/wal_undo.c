/* What `wal drops` and `wal changes` share on the command line: --since, the connection to the live
 * cluster, --switch and the note about WAL not archived yet (wal/live.h), times for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/wal_undo.h"
#include "common/error.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "drills/drill.h"
#include "wal/segment.h"

int lv_cli_since(const char *s, uint64_t *lsn, int64_t *us)
{
    *lsn = 0;
    *us = 0;
    if (!s)
        return LV_OK;
    if (strchr(s, '/'))
        return lv_lsn_parse(s, lsn);
    if (lv_time_parse(s, 0, us) != 0)
        return lv_err(LV_ERR_USAGE, "--since '%s': expected an LSN (X/X), a UTC time 'YYYY-MM-DD HH:MM:SS' or a "
                      "day 'YYYY-MM-DD'", s);
    return LV_OK;
}

lv_pg_conn_opts lv_cli_pg_opts(const lv_ctx *ctx)
{
    return (lv_pg_conn_opts){NULL, lv_config_str(ctx->cfg, "pg-host"), lv_config_str(ctx->cfg, "pg-port"),
                             lv_config_str(ctx->cfg, "pg-user"), lv_config_str(ctx->cfg, "pg-database"), NULL};
}

int lv_cli_switch(lv_ctx *ctx)
{
    if (!lv_ctx_flag(ctx, "switch"))
        return LV_OK;
    lv_pg_conn_opts pg = lv_cli_pg_opts(ctx);
    uint64_t upto = 0;
    int rc = lv_wal_live_switch(ctx->repo, &pg, (int)lv_config_int(ctx->cfg, "archive-timeout"), &upto);
    if (rc != LV_OK)
        return lv_err_ctx("--switch");
    char l[LV_LSN_TEXT_MAX];
    lv_lsn_format(upto, l);
    lv_info("switched to a new WAL segment: the archive now holds the cluster's WAL up to %s", l);
    return LV_OK;
}

void lv_cli_live_check(lv_ctx *ctx, lv_wal_live *live)
{
    lv_pg_conn_opts pg = lv_cli_pg_opts(ctx);
    lv_wal_live_get(ctx->repo, &pg, live);
}

int lv_cli_live_behind(const lv_wal_live *live, const lv_wal_range *rg)
{
    /* Right after a switch the insert position is the new segment's first record, past its long header. */
    return live->reached && live->tli == rg->end_tli && live->lsn > rg->end_lsn + LV_WAL_LONG_HEADER_SIZE;
}

void lv_cli_live_json(lv_json *j, const lv_wal_live *live, const lv_wal_range *rg)
{
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    lv_json_key(j, "live");
    lv_json_obj(j);
    lv_json_key(j, "reached");
    lv_json_bool(j, live->reached);
    if (live->reached) {
        lv_lsn_format(live->lsn, a);
        lv_lsn_format(rg->end_lsn, b);
        lv_json_key(j, "lsn");
        lv_json_str(j, a);
        lv_json_key(j, "timeline");
        lv_json_uint(j, live->tli);
        lv_json_key(j, "standby");
        lv_json_bool(j, live->standby);
        lv_json_key(j, "unarchived");
        lv_json_bool(j, lv_cli_live_behind(live, rg));
        lv_json_key(j, "archived_to");
        lv_json_str(j, b);
    } else {
        lv_json_key(j, "why");
        lv_json_str(j, live->why);
    }
    lv_json_end(j);
}

void lv_cli_live_text(lv_buf *out, const lv_wal_live *live, const lv_wal_range *rg, const char *what,
                      const char *command)
{
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    if (!live->reached) {
        lv_buf_printf(out, "note: could not reach the PostgreSQL cluster to see whether it has written WAL that is "
                      "not archived yet (%s); %s committed in it are not listed\n", live->why, what);
        return;
    }
    if (live->tli != rg->end_tli) {
        lv_buf_printf(out, "note: the cluster runs on timeline %u; the archived WAL searched follows timeline %u (the "
                      "newest): %s made on timeline %u after it branched off are not listed\n", live->tli, rg->end_tli,
                      what, live->tli);
        return;
    }
    if (!lv_cli_live_behind(live, rg))
        return;
    lv_lsn_format(rg->end_lsn, a);
    lv_lsn_format(live->lsn, b);
    if (live->standby)
        lv_buf_printf(out, "note: the standby has replayed WAL up to %s, the archive holds it up to %s: %s in the WAL "
                      "after %s are not listed; switch the segment on the primary (SELECT pg_switch_wal();) and run "
                      "this again\n", b, a, what, a);
    else
        lv_buf_printf(out, "note: the cluster has written WAL up to %s (timeline %u), the archive holds it up to %s: "
                      "%s in the newest WAL are not listed yet. Archive it now with `%s --switch` (it runs SELECT "
                      "pg_switch_wal(); and waits for the segment), or run SELECT pg_switch_wal(); yourself\n", b,
                      live->tli, a, what, command);
}

/* ---- the hand-off to a drill ------------------------------------------------------------------------- */

int lv_cli_undo_flags(lv_ctx *ctx, uint32_t *xid)
{
    *xid = 0;
    const char *v = lv_ctx_flag(ctx, "drill");
    if (!v) {
        if (lv_ctx_flag(ctx, "keep-running"))
            return lv_err(LV_ERR_USAGE, "--keep-running needs --drill XID");
        return LV_OK;
    }
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *end || x < 3 || x > UINT32_MAX || v[0] == '-')
        return lv_err(LV_ERR_USAGE, "--drill %s: the transaction id (xid) of a listed transaction", v);
    *xid = (uint32_t)x;
    return LV_OK;
}

int lv_cli_undo_from_drop(const lv_wal_drop_named *n, lv_cli_undo *c)
{
    lv_undo_free(&c->u);
    c->set = lv_undo_from_drop(n, &c->u) == LV_OK;
    return LV_OK;
}

int lv_cli_undo_from_change(const lv_wal_change *x, const char *const *relnames, const char *dbname,
                            const char *restore, lv_cli_undo *c)
{
    lv_undo_free(&c->u);
    c->set = lv_undo_from_change(x, relnames, dbname, restore, &c->u) == LV_OK;
    return LV_OK;
}

void lv_cli_undo_free(lv_cli_undo *c) { lv_undo_free(&c->u); }

int lv_cli_undo_drill(lv_ctx *ctx, lv_cli_undo *c)
{
    lv_drill_opts o;
    memset(&o, 0, sizeof o);
    lv_cli_drill_opts(ctx, &o);
    o.keep_running = lv_ctx_flag(ctx, "keep-running") != NULL;
    c->u.live = lv_cli_pg_opts(ctx);
    lv_drill d;
    memset(&d, 0, sizeof d);
    lv_info("drill: restoring to just before transaction %u into scratch (%s)", c->u.xid, c->u.restore);
    int rc = lv_undo_drill(ctx->repo, &o, &c->u, &d);
    if (rc == LV_ERR_INTERRUPTED || !d.id[0]) {
        lv_drill_free(&d);
        return rc;
    }
    char *msg = rc ? lv_xstrdup(lv_errmsg()) : NULL;
    if (lv_drill_record(ctx->repo, &d) != LV_OK)
        lv_warn("%s", lv_errmsg());
    lv_buf out = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "restore");
        lv_json_str(&j, c->u.restore);
        lv_json_key(&j, "tables");
        lv_json_arr(&j);
        for (size_t i = 0; i < c->u.ntables; i++) {
            const lv_undo_table *t = &c->u.tables[i];
            lv_json_obj(&j);
            lv_json_key(&j, "database");
            lv_json_str(&j, t->db);
            lv_json_key(&j, "table");
            lv_json_str(&j, t->name);
            lv_json_key(&j, "scratch_rows");
            if (t->scratch_rows >= 0)
                lv_json_int(&j, t->scratch_rows);
            else
                lv_json_null(&j);
            lv_json_key(&j, "live_rows");
            if (t->live_rows >= 0)
                lv_json_int(&j, t->live_rows);
            else
                lv_json_null(&j);
            lv_json_end(&j);
        }
        lv_json_end(&j);
        lv_json_key(&j, "rolled_back_prepared");
        lv_json_bool(&j, c->u.rolled_back > 0);
        lv_json_key(&j, "running");
        lv_json_bool(&j, d.running);
        if (d.running) {
            lv_json_key(&j, "scratch");
            lv_json_str(&j, d.scratch);
            lv_json_key(&j, "data");
            lv_json_str(&j, d.datadir);
            lv_json_key(&j, "host");
            lv_json_str(&j, d.sockdir);
            lv_json_key(&j, "port");
            lv_json_int(&j, d.port);
            lv_json_key(&j, "user");
            lv_json_str(&j, d.user);
        }
        lv_buf rec = LV_BUF_INIT;
        lv_drill_to_json(&d, &rec);
        lv_json_key(&j, "drill");
        lv_json_raw(&j, lv_buf_cstr(&rec));
        lv_buf_free(&rec);
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    } else {
        lv_undo_text(&c->u, &d, &out);
    }
    lv_out_buf(&out);
    lv_buf_free(&out);
    lv_drill_free(&d);
    if (rc) {
        rc = lv_err(rc, "%s", msg);
        free(msg);
    }
    return rc;
}
