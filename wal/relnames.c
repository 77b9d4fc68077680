/* Names from the backups' relation maps (contract in wal/relnames.h). */
#include "wal/relnames.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sort.h"
#include "pg/backups.h"
#include "pg/manifest.h"

typedef struct rel {
    uint32_t db, relfilenode;
    lv_wal_relname n;
} rel;

typedef struct map {
    uint64_t start_lsn;
    uint32_t tli;
    rel *rels;                   /* sorted by (db, relfilenode) */
    size_t nrels;
    uint32_t *dbs;
    const char **dbnames;
    size_t ndbs;
} map;

struct lv_wal_names {
    map *m;                      /* oldest start first */
    size_t n, cap;
    char **strs;                 /* every string, freed at the end */
    size_t nstrs, cstrs;
};

static const char *keep(lv_wal_names *w, const char *s)
{
    LV_GROW(w->strs, w->nstrs, w->cstrs);
    return w->strs[w->nstrs++] = lv_xstrdup(s);
}

static int cmp_rel(const void *a, const void *b)
{
    const rel *x = a, *y = b;
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    return x->relfilenode < y->relfilenode ? -1 : x->relfilenode > y->relfilenode;
}

static int cmp_map(const void *a, const void *b)
{
    const map *x = a, *y = b;
    return x->start_lsn < y->start_lsn ? -1 : x->start_lsn > y->start_lsn;
}

static void load_one(lv_wal_names *w, const lv_repo *r, const char *id)
{
    lv_pgman pm;
    if (lv_pgman_load(r, id, &pm) != LV_OK) {
        lv_warn("backup %.12s: %s (its table names are not used)", id, lv_errmsg());
        lv_err_clear();
        return;
    }
    LV_GROW(w->m, w->n, w->cap);
    map *m = &w->m[w->n++];
    memset(m, 0, sizeof *m);
    m->start_lsn = pm.start_lsn;
    m->tli = pm.timeline;
    size_t n = 0;
    for (uint32_t i = 0; i < pm.ndatabases; i++)
        n += pm.databases[i].nrelations;
    m->rels = lv_xcalloc(n ? n : 1, sizeof *m->rels);
    m->dbs = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *m->dbs);
    m->dbnames = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *m->dbnames);
    for (uint32_t i = 0; i < pm.ndatabases; i++) {
        const lv_pgman_database *d = &pm.databases[i];
        m->dbs[m->ndbs] = d->oid;
        m->dbnames[m->ndbs++] = keep(w, d->name);
        for (uint32_t k = 0; k < d->nrelations; k++) {
            const lv_pgman_relation *x = &d->relations[k];
            m->rels[m->nrels++] = (rel){d->oid, x->relfilenode,
                                        {keep(w, x->schema), keep(w, x->name), x->oid, (char)x->relkind}};
        }
    }
    lv_sort(m->rels, m->nrels, sizeof *m->rels, cmp_rel);
    lv_pgman_free(&pm);
}

int lv_wal_names_load(const lv_repo *r, lv_wal_names **out)
{
    lv_wal_names *w = lv_xcalloc(1, sizeof *w);
    lv_pg_backup_info *v = NULL;
    size_t n = 0;
    int rc = r->cat ? lv_pg_backups_list(r->cat, &v, &n) : LV_OK;
    if (rc != LV_OK) {
        lv_wal_names_free(w);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        load_one(w, r, v[i].id);
    free(v);
    lv_sort(w->m, w->n, sizeof *w->m, cmp_map);
    *out = w;
    return LV_OK;
}

void lv_wal_names_free(lv_wal_names *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->m[i].rels);
        free(w->m[i].dbs);
        free((void *)w->m[i].dbnames);
    }
    for (size_t i = 0; i < w->nstrs; i++)
        free(w->strs[i]);
    free(w->strs);
    free(w->m);
    free(w);
}

static const rel *find(const map *m, uint32_t db, uint32_t rfn)
{
    size_t lo = 0, hi = m->nrels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rel *x = &m->rels[mid];
        if (x->db < db || (x->db == db && x->relfilenode < rfn))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->nrels && m->rels[lo].db == db && m->rels[lo].relfilenode == rfn ? &m->rels[lo] : NULL;
}

const lv_wal_relname *lv_wal_names_rel(const lv_wal_names *w, uint32_t db, uint32_t rfn, uint64_t lsn)
{
    const rel *any = NULL;
    for (size_t i = w->n; i-- > 0;) { /* newest first */
        const rel *x = find(&w->m[i], db, rfn);
        if (x && w->m[i].start_lsn <= lsn)
            return &x->n;
        if (x && !any)
            any = x;
    }
    return any ? &any->n : NULL;
}

int lv_wal_names_wanted(const lv_wal_names *w, uint32_t db, uint32_t rfn, uint64_t lsn, const char *table)
{
    const lv_wal_relname *n = lv_wal_names_rel(w, db, rfn, lsn);
    if (table) {
        if (!n)
            return 0;
        size_t ls = strlen(n->schema);
        return strcmp(table, n->name) == 0 ||
               (strncmp(table, n->schema, ls) == 0 && table[ls] == '.' && strcmp(table + ls + 1, n->name) == 0);
    }
    if (!n)
        return rfn >= 16384;
    return strcmp(n->schema, "pg_catalog") != 0 && strncmp(n->schema, "pg_toast", 8) != 0 &&
           strcmp(n->schema, "information_schema") != 0;
}

const char *lv_wal_names_db(const lv_wal_names *w, uint32_t db)
{
    for (size_t i = w->n; i-- > 0;)
        for (size_t k = 0; k < w->m[i].ndbs; k++)
            if (w->m[i].dbs[k] == db)
                return w->m[i].dbnames[k];
    return NULL;
}

uint32_t lv_wal_names_db_oid(const lv_wal_names *w, const char *name)
{
    for (size_t i = w->n; i-- > 0;)
        for (size_t k = 0; k < w->m[i].ndbs; k++)
            if (strcmp(w->m[i].dbnames[k], name) == 0)
                return w->m[i].dbs[k];
    return 0;
}

size_t lv_wal_names_backups(const lv_wal_names *w) { return w->n; }

int lv_wal_names_oldest(const lv_wal_names *w, uint32_t *tli, uint64_t *start_lsn)
{
    if (!w->n)
        return lv_err(LV_ERR_NOT_FOUND, "no PostgreSQL backup in the catalog");
    *tli = w->m[0].tli;
    *start_lsn = w->m[0].start_lsn;
    return LV_OK;
}
