/* `labvault wal drops [--since TIME|LSN] [--switch] [--drill XID [--keep-running]] [--json]`: every commit in
 * the archived WAL that dropped or truncated relations, or dropped a database, with the restore command that
 * stops just before it (wal/drops.h, which also names the tables and databases); the WAL the live cluster
 * has not archived yet (wal/live.h); the hand-off to a restore drill (drills/undo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/wal_undo.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "restore/pg_plan.h"
#include "wal/drops.h"

typedef struct drops_ctx {
    int json;
    lv_buf out;
    lv_json j;
    uint64_t count;
    uint32_t drill_xid;          /* --drill: the drop to hand to a drill */
    int drill_found;
    lv_cli_undo drill;
} drops_ctx;

static const char *kind_word(const char *relkind)
{
    switch (relkind[0]) {
    case 'r': return "table";
    case 'i': return "index";
    case 't': return "TOAST";
    case 'm': return "materialized view";
    case 'S': return "sequence";
    case 'p': return "partitioned table";
    default: return NULL;
    }
}

static void drop_json(drops_ctx *c, const lv_wal_drop_named *n, const char *lsn, const char *when, const char *target)
{
    const lv_wal_drop *d = n->d;
    lv_json *j = &c->j;
    lv_json_obj(j);
    lv_json_key(j, "kind");
    lv_json_str(j, lv_wal_drop_kind_str(d->kind));
    lv_json_key(j, "lsn");
    lv_json_str(j, lsn);
    lv_json_key(j, "time");
    lv_json_str(j, when);
    lv_json_key(j, "xid");
    lv_json_uint(j, d->xid);
    lv_json_key(j, "timeline");
    lv_json_uint(j, d->tli);
    lv_json_key(j, "database");
    lv_json_uint(j, d->dbid);
    lv_json_key(j, "database_name");
    if (n->database)
        lv_json_str(j, n->database);
    else
        lv_json_null(j);
    lv_json_key(j, "prepared");
    lv_json_bool(j, d->prepared);
    if (d->prepared) {
        lv_json_key(j, "gid");
        if (d->gid[0])
            lv_json_str(j, d->gid);
        else
            lv_json_null(j);
        if (d->gid[0]) {
            lv_buf sql = LV_BUF_INIT;
            lv_pg_rollback_prepared_sql(d->gid, &sql);
            lv_json_key(j, "rollback");
            lv_json_str(j, lv_buf_cstr(&sql));
            lv_buf_free(&sql);
        }
    }
    lv_json_key(j, "target_lsn");
    lv_json_str(j, target);
    lv_json_key(j, "relations");
    lv_json_arr(j);
    for (uint32_t i = 0; i < d->nrels; i++) {
        lv_json_obj(j);
        lv_json_key(j, "tablespace");
        lv_json_uint(j, d->rels[i].spc);
        lv_json_key(j, "database");
        lv_json_uint(j, d->rels[i].db);
        lv_json_key(j, "relfilenode");
        lv_json_uint(j, d->rels[i].rel);
        lv_json_key(j, "name");
        if (n->relations[i])
            lv_json_str(j, n->relations[i]);
        else
            lv_json_null(j);
        lv_json_key(j, "kind");
        if (kind_word(n->relkinds[i]))
            lv_json_str(j, kind_word(n->relkinds[i]));
        else
            lv_json_null(j);
        lv_json_end(j);
    }
    lv_json_end(j);
    lv_json_key(j, "restore");
    lv_json_str(j, n->restore);
    lv_json_end(j);
}

static void drop_text(drops_ctx *c, const lv_wal_drop_named *n, const char *lsn, const char *when)
{
    const lv_wal_drop *d = n->d;
    char db[160];
    if (n->database)
        snprintf(db, sizeof db, "%s (%u)", n->database, d->dbid);
    else
        snprintf(db, sizeof db, "%u", d->dbid);
    lv_buf_printf(&c->out, "%-12s  %-29s  %10u  %-19s  %s\n", lsn, when, d->xid, lv_wal_drop_kind_str(d->kind), db);
    if (d->nrels) {
        lv_buf_append_str(&c->out, "    relations:");
        for (uint32_t i = 0; i < d->nrels; i++) {
            const char *kw = kind_word(n->relkinds[i]);
            if (n->relations[i])
                lv_buf_printf(&c->out, "%s %s (%s%s%u/%u/%u)", i ? "," : "", n->relations[i], kw ? kw : "",
                              kw ? ", " : "", d->rels[i].spc, d->rels[i].db, d->rels[i].rel);
            else
                lv_buf_printf(&c->out, "%s %u/%u/%u (no backup knows its name)", i ? "," : "", d->rels[i].spc,
                              d->rels[i].db, d->rels[i].rel);
        }
        lv_buf_append_str(&c->out, "\n");
    }
    lv_buf_printf(&c->out, "    restore: %s\n", n->restore);
    if (d->prepared) {
        lv_buf_append_str(&c->out, "    prepared: ");
        lv_pg_prepared_note(d->gid, d->xid, n->database, &c->out);
    }
}

static int on_drop(void *arg, const lv_wal_drop_named *n)
{
    drops_ctx *c = arg;
    const lv_wal_drop *d = n->d;
    char lsn[LV_LSN_TEXT_MAX], target[LV_LSN_TEXT_MAX], when[LV_TIME_TEXT_MAX];
    lv_lsn_format(d->lsn, lsn);
    lv_lsn_format(d->target_lsn, target);
    lv_time_format_us(d->time_us, LV_TIME_SQL, when);
    c->count++;
    if (c->drill_xid && d->xid == c->drill_xid)
        c->drill_found = lv_cli_undo_from_drop(n, &c->drill) == LV_OK;
    if (c->json)
        drop_json(c, n, lsn, when, target);
    else
        drop_text(c, n, lsn, when);
    return LV_OK;
}

int lv_cmd_wal_drops(lv_ctx *ctx)
{
    uint64_t since_lsn = 0;
    int64_t since_us = 0;
    drops_ctx c = {.json = ctx->json, .out = LV_BUF_INIT};
    int rc = lv_cli_since(lv_ctx_flag(ctx, "since"), &since_lsn, &since_us);
    if (rc == LV_OK)
        rc = lv_cli_undo_flags(ctx, &c.drill_xid);
    if (rc != LV_OK || (rc = lv_ctx_open_repo(ctx, LV_CTX_CATALOG)) != LV_OK || (rc = lv_cli_switch(ctx)) != LV_OK)
        return rc;
    if (c.json) {
        lv_json_init(&c.j, &c.out);
        lv_json_obj(&c.j);
        lv_json_key(&c.j, "drops");
        lv_json_arr(&c.j);
    } else {
        lv_buf_printf(&c.out, "%-12s  %-29s  %10s  %-19s  %s\n", "LSN", "COMMITTED (UTC)", "XID", "KIND", "DATABASE");
    }
    lv_wal_range rg;
    if ((rc = lv_wal_drops_list(ctx->repo, since_lsn, since_us, &rg, on_drop, &c)) != LV_OK)
        goto done;
    lv_wal_live live;
    lv_cli_live_check(ctx, &live);
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    lv_lsn_format(rg.from_lsn, a);
    lv_lsn_format(rg.end_lsn, b);
    if (c.json) {
        lv_json_end(&c.j);
        lv_json_key(&c.j, "from_lsn");
        lv_json_str(&c.j, a);
        lv_json_key(&c.j, "end_lsn");
        lv_json_str(&c.j, b);
        lv_json_key(&c.j, "segments");
        lv_json_uint(&c.j, rg.segments);
        lv_json_key(&c.j, "missing");
        if (rg.missing[0])
            lv_json_str(&c.j, rg.missing);
        else
            lv_json_null(&c.j);
        lv_cli_live_json(&c.j, &live, &rg);
        lv_json_end(&c.j);
        lv_buf_append_str(&c.out, "\n");
    } else {
        lv_buf_printf(&c.out, "%llu drop(s) in the archived WAL from %s to %s (%llu segments, timeline %u to %u)\n",
                      (unsigned long long)c.count, a, b, (unsigned long long)rg.segments, rg.start_tli, rg.end_tli);
        lv_cli_live_text(&c.out, &live, &rg, "drops", "labvault wal drops");
    }
    if (rg.missing[0])
        lv_warn("WAL segment %s is missing: the WAL after it was not scanned", rg.missing);
    if (c.drill_xid && !c.drill_found) {
        rc = lv_err(LV_ERR_USAGE, "--drill %u: no drop of transaction %u in the archived WAL from %s to %s",
                    c.drill_xid, c.drill_xid, a, b);
        goto done;
    }
    if (!c.drill_xid || ctx->json)
        lv_out_buf(&c.out);
    if (c.drill_xid)
        rc = lv_cli_undo_drill(ctx, &c.drill);
done:
    lv_cli_undo_free(&c.drill);
    lv_buf_free(&c.out);
    return rc;
}
