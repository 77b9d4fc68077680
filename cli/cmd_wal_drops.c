/* `labvault wal drops [--since TIME|LSN] [--json]`: every commit in the archived WAL that dropped or
 * truncated relations, or dropped a database, with the restore command that stops just before it
 * (wal/drops.h). Table names come from the relation maps of the "pg" backups (pg/manifest.h): the
 * newest backup that started before the drop and knows the (database, relfilenode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/manifests.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "pg/manifest.h"
#include "wal/drops.h"
#include "wal/stanza.h"

typedef struct relname {
    uint32_t db, relfilenode;
    char *name; /* schema.name */
} relname;

typedef struct backup_map {
    uint64_t start_lsn;
    uint32_t tli;
    relname *rels;
    size_t nrels;
    uint32_t *dbs; /* database oids ... */
    char **dbnames; /* ... and names */
    size_t ndbs;
} backup_map;

typedef struct drops_ctx {
    backup_map *b;
    size_t nb, cb;
    int json;
    lv_buf out;
    lv_json j;
    uint64_t count;
} drops_ctx;

typedef struct load_arg {
    drops_ctx *c;
    lv_repo *r;
} load_arg;

static int load_one(void *arg, const lv_manifest_row *m)
{
    load_arg *a = arg;
    lv_pgman pm;
    if (lv_pgman_load(a->r, m->id, &pm) != LV_OK) {
        lv_warn("backup %s: %s (its table names are not used)", m->id, lv_errmsg());
        lv_err_clear();
        return LV_OK;
    }
    drops_ctx *c = a->c;
    LV_GROW(c->b, c->nb, c->cb);
    backup_map *b = &c->b[c->nb++];
    memset(b, 0, sizeof *b);
    b->start_lsn = pm.start_lsn;
    b->tli = pm.timeline;
    size_t n = 0;
    for (uint32_t i = 0; i < pm.ndatabases; i++)
        n += pm.databases[i].nrelations;
    b->rels = lv_xcalloc(n ? n : 1, sizeof *b->rels);
    b->dbs = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *b->dbs);
    b->dbnames = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *b->dbnames);
    for (uint32_t i = 0; i < pm.ndatabases; i++) {
        const lv_pgman_database *d = &pm.databases[i];
        b->dbs[b->ndbs] = d->oid;
        b->dbnames[b->ndbs++] = lv_xstrdup(d->name);
        for (uint32_t k = 0; k < d->nrelations; k++)
            b->rels[b->nrels++] = (relname){d->oid, d->relations[k].relfilenode,
                                            lv_xasprintf("%s.%s", d->relations[k].schema, d->relations[k].name)};
    }
    lv_pgman_free(&pm);
    return LV_OK;
}

/* The name of (db, relfilenode) in the newest backup that started before lsn, else in any backup. */
static const char *rel_name(const drops_ctx *c, uint32_t db, uint32_t rfn, uint64_t lsn)
{
    const char *best = NULL;
    uint64_t best_lsn = 0;
    int best_before = 0;
    for (size_t i = 0; i < c->nb; i++) {
        const backup_map *b = &c->b[i];
        int before = b->start_lsn <= lsn;
        for (size_t k = 0; k < b->nrels; k++) {
            if (b->rels[k].db != db || b->rels[k].relfilenode != rfn)
                continue;
            if (!best || (before && (!best_before || b->start_lsn > best_lsn))) {
                best = b->rels[k].name;
                best_lsn = b->start_lsn;
                best_before = before;
            }
            break;
        }
    }
    return best;
}

static const char *db_name(const drops_ctx *c, uint32_t db)
{
    for (size_t i = c->nb; i-- > 0;)
        for (size_t k = 0; k < c->b[i].ndbs; k++)
            if (c->b[i].dbs[k] == db)
                return c->b[i].dbnames[k];
    return NULL;
}

static int on_drop(void *arg, const lv_wal_drop *d)
{
    drops_ctx *c = arg;
    char lsn[LV_LSN_TEXT_MAX], target[LV_LSN_TEXT_MAX], when[48], restore[160];
    lv_lsn_format(d->lsn, lsn);
    lv_lsn_format(d->target_lsn, target);
    lv_time_format_us(d->time_us, LV_TIME_SQL, when);
    if (d->kind == LV_DROP_DATABASE)
        snprintf(restore, sizeof restore, "labvault restore pg --to DIR --target-lsn %s --target-exclusive",
                 target);
    else
        snprintf(restore, sizeof restore, "labvault restore pg --to DIR --target-xid %u --target-exclusive",
                 d->xid);
    const char *dbn = db_name(c, d->dbid);
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
            const char *nm = rel_name(c, d->rels[i].db, d->rels[i].rel, d->lsn);
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
            const char *nm = rel_name(c, d->rels[i].db, d->rels[i].rel, d->lsn);
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

typedef struct first_seg {
    uint32_t seg_size;
    int found;
    uint32_t tli;
    uint64_t lsn;
} first_seg;

static int first_cb(void *arg, const lv_wal_object *o)
{
    first_seg *f = arg;
    uint64_t segno;
    if (o->name.kind != LV_WAL_SEGMENT || lv_wal_segno(&o->name, f->seg_size, &segno) != 0)
        return LV_OK;
    f->found = 1;
    f->tli = o->name.tli;
    f->lsn = segno * f->seg_size;
    return 1; /* the listing is in timeline, then segment order */
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
    load_arg la = {&c, ctx->repo};
    if (ctx->cat && (rc = lv_catalog_manifest_each(ctx->cat, LV_PGMAN_KIND, load_one, &la)) != LV_OK)
        goto done;
    /* Where to start: --since LSN; else the oldest backup's start; else the oldest archived segment. */
    uint32_t tli = 0;
    uint64_t from = 0;
    for (size_t i = 0; i < c.nb; i++)
        if (!tli || c.b[i].start_lsn < from)
            tli = c.b[i].tli, from = c.b[i].start_lsn;
    if (!tli || since_lsn) {
        lv_wal_stanza st;
        if ((rc = lv_wal_stanza_get(ctx->repo, &st)) != LV_OK) {
            if (rc == LV_ERR_NOT_FOUND)
                rc = lv_err(LV_ERR_NOT_FOUND, "the repository has no WAL archive yet");
            goto done;
        }
        first_seg f = {.seg_size = st.seg_size};
        rc = lv_wal_list(ctx->store, 0, first_cb, &f);
        if (rc != LV_OK && rc != 1)
            goto done;
        rc = LV_OK;
        if (!f.found) {
            rc = lv_err(LV_ERR_NOT_FOUND, "the WAL archive holds no segment");
            goto done;
        }
        if (!tli)
            tli = f.tli, from = f.lsn;
        if (since_lsn)
            from = since_lsn;
    }
    if (c.json) {
        lv_json_init(&c.j, &c.out);
        lv_json_obj(&c.j);
        lv_json_key(&c.j, "drops");
        lv_json_arr(&c.j);
    }
    lv_wal_range rg;
    rc = lv_wal_drops_scan(ctx->repo, tli, from, since_us, &rg, on_drop, &c);
    if (rc != LV_OK)
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
    for (size_t i = 0; i < c.nb; i++) {
        for (size_t k = 0; k < c.b[i].nrels; k++)
            free(c.b[i].rels[k].name);
        for (size_t k = 0; k < c.b[i].ndbs; k++)
            free(c.b[i].dbnames[k]);
        free(c.b[i].rels);
        free(c.b[i].dbs);
        free(c.b[i].dbnames);
    }
    free(c.b);
    return rc;
}
