/* `labvault wal changes [--min-rows N] [--table NAME] [--since TIME|LSN] [--inserts] [--limit N] [--switch]
 * [--drill XID [--keep-running]] [--json]`: the transactions that deleted or updated many rows of a table
 * (wal/changes.h), newest first, each with the restore command that stops just before it; the WAL the live
 * cluster has not archived yet (wal/live.h); the hand-off to a restore drill (drills/undo.h). */
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
#include "wal/changes.h"
#include "wal/relnames.h"
#include "wal/targets.h"
#include "wal/timeline.h"

#define DEFAULT_LIMIT 20

typedef struct filter {
    const lv_wal_names *names;
    const char *table;           /* --table: "schema.name" or "name"; NULL: every user table */
} filter;

static int want(void *arg, uint32_t db, uint32_t rfn, uint64_t lsn)
{
    const filter *f = arg;
    return lv_wal_names_wanted(f->names, db, rfn, lsn, f->table);
}

static int parse_u64(const char *flag, const char *v, uint64_t min, uint64_t *out)
{
    char *end;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || *end || v[0] == '-' || x < min)
        return lv_err(LV_ERR_USAGE, "--%s %s: a whole number of at least %llu", flag, v ? v : "",
                      (unsigned long long)min);
    *out = x;
    return LV_OK;
}

static const char *end_word(const lv_wal_change *x)
{
    switch (x->end) {
    case LV_CHANGE_COMMITTED: return x->prepared ? "committed (COMMIT PREPARED)" : "committed";
    case LV_CHANGE_ABORTED: return "aborted";
    case LV_CHANGE_PREPARED: return "prepared, not committed yet";
    default: return "no commit archived yet";
    }
}

int lv_cmd_wal_changes(lv_ctx *ctx)
{
    uint64_t since_lsn = 0, min_rows = 1000, limit = DEFAULT_LIMIT;
    int64_t since_us = 0;
    uint32_t drill_xid = 0;
    int rc = lv_cli_since(lv_ctx_flag(ctx, "since"), &since_lsn, &since_us);
    if (rc == LV_OK && lv_ctx_flag(ctx, "min-rows"))
        rc = parse_u64("min-rows", lv_ctx_flag(ctx, "min-rows"), 1, &min_rows);
    if (rc == LV_OK && lv_ctx_flag(ctx, "limit"))
        rc = parse_u64("limit", lv_ctx_flag(ctx, "limit"), 0, &limit);
    if (rc == LV_OK)
        rc = lv_cli_undo_flags(ctx, &drill_xid);
    if (rc != LV_OK ||
        (rc = lv_ctx_open_repo(ctx, drill_xid ? LV_CTX_INFLIGHT : LV_CTX_CATALOG)) != LV_OK ||
        (rc = lv_cli_switch(ctx)) != LV_OK)
        return rc;
    lv_wal_names *names = NULL;
    lv_wal_changes ch;
    memset(&ch, 0, sizeof ch);
    lv_buf out = LV_BUF_INIT;
    lv_cli_undo drill;
    memset(&drill, 0, sizeof drill);
    uint32_t otli = 0, tli = 0, newest = 1;
    uint64_t olsn = 0, from = 0;
    if ((rc = lv_wal_names_load(ctx->repo, &names)) != LV_OK)
        goto done;
    if (lv_wal_names_oldest(names, &otli, &olsn) != LV_OK)
        lv_err_clear();
    if ((rc = lv_wal_scan_start(ctx->repo, otli, olsn, since_lsn, &tli, &from)) != LV_OK ||
        (rc = lv_wal_newest_timeline(ctx->repo, &newest)) != LV_OK)
        goto done;
    filter f = {names, lv_ctx_flag(ctx, "table")};
    lv_wal_changes_opts o = {.min_rows = min_rows, .inserts = lv_ctx_flag(ctx, "inserts") != NULL,
                             .since_us = since_us, .limit = drill_xid ? 0 : (size_t)limit, .want = want,
                             .want_arg = &f};
    if ((rc = lv_wal_changes_find(ctx->repo, tli, from, &o, &ch)) != LV_OK)
        goto done;
    lv_wal_live live;
    lv_cli_live_check(ctx, &live);
    lv_json j;
    if (ctx->json) {
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "transactions");
        lv_json_arr(&j);
    } else {
        lv_buf_printf(&out, "%-29s  %10s  %-13s  %-20s  %s\n", "ENDED (UTC)", "XID", "END LSN", "DATABASE", "HOW");
    }
    for (size_t i = 0; i < ch.n; i++) {
        const lv_wal_change *x = &ch.v[i];
        char when[LV_TIME_TEXT_MAX] = "-", lsn[LV_LSN_TEXT_MAX] = "-", restore[200], dbtext[160];
        if (x->end != LV_CHANGE_OPEN && x->end != LV_CHANGE_PREPARED) {
            lv_time_format_us(x->end_time_us, LV_TIME_SQL, when);
            lv_lsn_format(x->end_lsn, lsn);
        }
        uint32_t db = x->dbid ? x->dbid : x->nrels ? x->rels[0].rel.db : 0;
        const char *dbn = lv_wal_names_db(names, db);
        snprintf(dbtext, sizeof dbtext, dbn ? "%s (%u)" : "%.0s%u", dbn ? dbn : "", db);
        lv_wal_restore_cmd(x->xid, 0, newest > 1 ? x->end_tli : 0, restore, sizeof restore);
        const char **rn = lv_xcalloc(x->nrels ? x->nrels : 1, sizeof *rn);
        char **owned = lv_xcalloc(x->nrels ? x->nrels : 1, sizeof *owned);
        for (size_t k = 0; k < x->nrels; k++) {
            const lv_wal_relname *n = lv_wal_names_rel(names, x->rels[k].rel.db, x->rels[k].rel.rel, x->last_lsn);
            if (n)
                rn[k] = owned[k] = lv_xasprintf("%s.%s", n->schema, n->name);
        }
        if (drill_xid == x->xid)
            lv_cli_undo_from_change(x, rn, dbn, restore, &drill);
        if (ctx->json) {
            lv_json_obj(&j);
            lv_json_key(&j, "xid");
            lv_json_uint(&j, x->xid);
            lv_json_key(&j, "end");
            lv_json_str(&j, x->end == LV_CHANGE_COMMITTED ? "commit" : x->end == LV_CHANGE_ABORTED ? "abort"
                                    : x->end == LV_CHANGE_PREPARED ? "prepared" : "open");
            lv_json_key(&j, "time");
            if (x->end_time_us && x->end != LV_CHANGE_OPEN && x->end != LV_CHANGE_PREPARED)
                lv_json_str(&j, when);
            else
                lv_json_null(&j);
            lv_json_key(&j, "end_lsn");
            if (x->end_lsn && x->end != LV_CHANGE_OPEN && x->end != LV_CHANGE_PREPARED)
                lv_json_str(&j, lsn);
            else
                lv_json_null(&j);
            char fl[LV_LSN_TEXT_MAX];
            lv_lsn_format(x->first_lsn, fl);
            lv_json_key(&j, "first_lsn");
            lv_json_str(&j, fl);
            lv_json_key(&j, "timeline");
            lv_json_uint(&j, x->end_tli);
            lv_json_key(&j, "database");
            lv_json_uint(&j, db);
            lv_json_key(&j, "database_name");
            if (dbn)
                lv_json_str(&j, dbn);
            else
                lv_json_null(&j);
            lv_json_key(&j, "prepared");
            lv_json_bool(&j, x->prepared);
            if (x->prepared && x->gid[0]) {
                lv_json_key(&j, "gid");
                lv_json_str(&j, x->gid);
            }
            lv_json_key(&j, "tables");
            lv_json_arr(&j);
            for (size_t k = 0; k < x->nrels; k++) {
                lv_json_obj(&j);
                lv_json_key(&j, "relfilenode");
                lv_json_uint(&j, x->rels[k].rel.rel);
                lv_json_key(&j, "name");
                if (rn[k])
                    lv_json_str(&j, rn[k]);
                else
                    lv_json_null(&j);
                lv_json_key(&j, "deleted");
                lv_json_uint(&j, x->rels[k].deleted);
                lv_json_key(&j, "updated");
                lv_json_uint(&j, x->rels[k].updated);
                lv_json_key(&j, "inserted");
                lv_json_uint(&j, x->rels[k].inserted);
                lv_json_end(&j);
            }
            lv_json_end(&j);
            lv_json_key(&j, "restore");
            lv_json_str(&j, restore);
            lv_json_end(&j);
        } else {
            lv_buf_printf(&out, "%-29s  %10u  %-13s  %-20s  %s\n", when, x->xid, lsn, dbtext, end_word(x));
            for (size_t k = 0; k < x->nrels; k++) {
                if (rn[k])
                    lv_buf_printf(&out, "    %s:", rn[k]);
                else
                    lv_buf_printf(&out, "    relfilenode %u (no backup knows its name):", x->rels[k].rel.rel);
                lv_buf_printf(&out, " %llu deleted, %llu updated, %llu inserted\n",
                              (unsigned long long)x->rels[k].deleted, (unsigned long long)x->rels[k].updated,
                              (unsigned long long)x->rels[k].inserted);
            }
            if (x->end == LV_CHANGE_COMMITTED)
                lv_buf_printf(&out, "    restore: %s\n", restore);
            if (x->end == LV_CHANGE_COMMITTED && x->prepared) {
                lv_buf_append_str(&out, "    prepared: ");
                lv_pg_prepared_note(x->gid, x->xid, dbn, &out);
            }
        }
        for (size_t k = 0; k < x->nrels; k++)
            free(owned[k]);
        free(owned);
        free((void *)rn);
    }
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    lv_lsn_format(ch.range.from_lsn, a);
    lv_lsn_format(ch.range.end_lsn, b);
    if (ctx->json) {
        lv_json_end(&j);
        lv_json_key(&j, "min_rows");
        lv_json_uint(&j, min_rows);
        lv_json_key(&j, "from_lsn");
        lv_json_str(&j, a);
        lv_json_key(&j, "end_lsn");
        lv_json_str(&j, b);
        lv_json_key(&j, "segments");
        lv_json_uint(&j, ch.segments);
        lv_json_key(&j, "summarized");
        lv_json_uint(&j, ch.summarized);
        lv_json_key(&j, "read");
        lv_json_uint(&j, ch.read);
        lv_json_key(&j, "seconds");
        lv_json_double(&j, ch.seconds);
        lv_cli_live_json(&j, &live, &ch.range);
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    } else {
        lv_buf_printf(&out, "%zu transaction(s) that %s at least %llu rows of one table, in the archived WAL from %s "
                      "to %s (%llu segments: %llu summarized at push, %llu read; %.2f s)\n", ch.n,
                      o.inserts ? "inserted, deleted or updated" : "deleted or updated", (unsigned long long)min_rows,
                      a, b, (unsigned long long)ch.segments, (unsigned long long)ch.summarized,
                      (unsigned long long)ch.read, ch.seconds);
        lv_cli_live_text(&out, &live, &ch.range, "transactions", "labvault wal changes");
    }
    if (ch.range.missing[0])
        lv_warn("WAL segment %s is missing: the WAL after it was not searched", ch.range.missing);
    if (drill_xid && !drill.set) {
        rc = lv_err(LV_ERR_USAGE, "--drill %u: transaction %u is not one of those listed (at least %llu rows of one "
                    "table, from %s to %s)", drill_xid, drill_xid, (unsigned long long)min_rows, a, b);
        goto done;
    }
    if (drill_xid)
        rc = lv_cli_undo_drill(ctx, &drill);
    else
        lv_out_buf(&out);
done:
    lv_cli_undo_free(&drill);
    lv_buf_free(&out);
    lv_wal_changes_free(&ch);
    lv_wal_names_free(names);
    return rc;
}
