/* `labvault wal drops [--since TIME|LSN] [--json]`: every commit in the archived WAL that dropped or
 * truncated relations, or dropped a database, with the restore command that stops just before it
 * (wal/drops.h, which also names the tables and databases). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "wal/drops.h"

typedef struct drops_ctx {
    int json;
    lv_buf out;
    lv_json j;
    uint64_t count;
} drops_ctx;

static int on_drop(void *arg, const lv_wal_drop_named *n)
{
    drops_ctx *c = arg;
    const lv_wal_drop *d = n->d;
    const char *dbn = n->database, *restore = n->restore;
    char lsn[LV_LSN_TEXT_MAX], target[LV_LSN_TEXT_MAX], when[LV_TIME_TEXT_MAX];
    lv_lsn_format(d->lsn, lsn);
    lv_lsn_format(d->target_lsn, target);
    lv_time_format_us(d->time_us, LV_TIME_SQL, when);
    c->count++;
    if (c->json) {
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
        if (dbn)
            lv_json_str(j, dbn);
        else
            lv_json_null(j);
        lv_json_key(j, "prepared");
        lv_json_bool(j, d->prepared);
        lv_json_key(j, "target_lsn");
        lv_json_str(j, target);
        lv_json_key(j, "relations");
        lv_json_arr(j);
        for (uint32_t i = 0; i < d->nrels; i++) {
            const char *nm = n->relations[i];
            lv_json_obj(j);
            lv_json_key(j, "tablespace");
            lv_json_uint(j, d->rels[i].spc);
            lv_json_key(j, "database");
            lv_json_uint(j, d->rels[i].db);
            lv_json_key(j, "relfilenode");
            lv_json_uint(j, d->rels[i].rel);
            lv_json_key(j, "name");
            if (nm)
                lv_json_str(j, nm);
            else
                lv_json_null(j);
            lv_json_end(j);
        }
        lv_json_end(j);
        lv_json_key(j, "restore");
        lv_json_str(j, restore);
        lv_json_end(j);
        return LV_OK;
    }
    lv_buf_printf(&c->out, "%s  %s  xid %u  %s  database %u%s%s%s\n", lsn, when, d->xid,
                  lv_wal_drop_kind_str(d->kind), d->dbid, dbn ? " (" : "", dbn ? dbn : "", dbn ? ")" : "");
    if (d->nrels) {
        lv_buf_append_str(&c->out, "    relations:");
        for (uint32_t i = 0; i < d->nrels; i++) {
            const char *nm = n->relations[i];
            lv_buf_printf(&c->out, " %u/%u/%u%s%s%s", d->rels[i].spc, d->rels[i].db, d->rels[i].rel, nm ? " (" : "",
                          nm ? nm : "", nm ? ")" : "");
        }
        lv_buf_append_str(&c->out, "\n");
    }
    lv_buf_printf(&c->out, "    restore: %s\n", restore);
    return LV_OK;
}

/* --since: an LSN (X/X), or a UTC time "YYYY-MM-DD HH:MM:SS[.ffffff][+00|Z]" (also with a 'T'), or a
 * day "YYYY-MM-DD". */
static int parse_since(const char *s, uint64_t *lsn, int64_t *us)
{
    *lsn = 0;
    *us = 0;
    if (strchr(s, '/'))
        return lv_lsn_parse(s, lsn);
    if (lv_time_parse(s, 0, us) != 0)
        return lv_err(LV_ERR_USAGE, "--since '%s': expected an LSN (X/X), a UTC time 'YYYY-MM-DD HH:MM:SS' or a "
                      "day 'YYYY-MM-DD'", s);
    return LV_OK;
}

int lv_cmd_wal_drops(lv_ctx *ctx)
{
    uint64_t since_lsn = 0;
    int64_t since_us = 0;
    const char *since = lv_ctx_flag(ctx, "since");
    int rc = since ? parse_since(since, &since_lsn, &since_us) : LV_OK;
    if (rc != LV_OK || (rc = lv_ctx_open_repo(ctx, LV_CTX_CATALOG)) != LV_OK)
        return rc;
    drops_ctx c = {.json = ctx->json, .out = LV_BUF_INIT};
    if (c.json) {
        lv_json_init(&c.j, &c.out);
        lv_json_obj(&c.j);
        lv_json_key(&c.j, "drops");
        lv_json_arr(&c.j);
    }
    lv_wal_range rg;
    if ((rc = lv_wal_drops_list(ctx->repo, since_lsn, since_us, &rg, on_drop, &c)) != LV_OK)
        goto done;
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
        lv_json_end(&c.j);
        lv_buf_append_str(&c.out, "\n");
    } else {
        lv_buf_printf(&c.out, "%llu drop(s) in the archived WAL from %s to %s (%llu segments, timeline %u to %u)\n",
                      (unsigned long long)c.count, a, b, (unsigned long long)rg.segments, rg.start_tli, rg.end_tli);
    }
    if (rg.missing[0])
        lv_warn("WAL segment %s is missing: the WAL after it was not scanned", rg.missing);
    lv_out_buf(&c.out);
done:
    lv_buf_free(&c.out);
    return rc;
}
