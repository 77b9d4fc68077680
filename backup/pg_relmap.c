/* Relation maps and row counts (contract in backup/pg_relmap.h). */
#include "backup/pg_relmap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/testpause.h"

static const char relmap_sql[] =
    "SELECT c.oid, coalesce(pg_relation_filenode(c.oid), 0), "
    "CASE WHEN c.reltablespace = 0 THEN (SELECT dattablespace FROM pg_database "
    "WHERE datname = current_database()) ELSE c.reltablespace END, c.relkind, n.nspname, c.relname, "
    "c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema'), "
    "c.relam = 2 " /* heap (HEAP_TABLE_AM_OID): the page layout lv_pg_heap_page_rows reads */
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY c.oid";

static int cmp_oid(const void *key, const void *elem)
{
    uint32_t k = *(const uint32_t *)key, o = ((const lv_pgman_relation *)elem)->oid;
    return k < o ? -1 : k > o;
}

/* rel's rows from the previous backup's count and the WAL (pg_relmap.h); -1 when it must be counted. */
static int64_t from_wal(lv_pg_rowcarry *carry, const lv_pgman_database *db, const lv_pgman_relation *rel)
{
    if (!carry || !rel->relfilenode)
        return -1;
    const lv_pgman *p = carry->prev;
    for (uint32_t i = 0; i < p->ndatabases; i++) {
        const lv_pgman_database *pd = &p->databases[i];
        if (pd->oid != db->oid || !pd->nrelations)
            continue;
        /* relations are sorted by oid (relmap_sql's ORDER BY) */
        const lv_pgman_relation *pr = bsearch(&rel->oid, pd->relations, pd->nrelations, sizeof *pr, cmp_oid);
        if (!pr || pr->rows < 0 || pr->relkind != 'r' || pr->relfilenode != rel->relfilenode ||
            pr->tablespace != rel->tablespace)
            return -1;
        int64_t rows;
        int derived;
        if (!carry->rows(carry->arg, rel->tablespace, db->oid, rel->relfilenode, pr->rows, &rows, &derived))
            return -1;
        if (derived)
            carry->derived++;
        else
            carry->carried++;
        return rows;
    }
    return -1;
}

/* Counts: from the pages read (pages), carried or derived (carry), else count(*); *counted says how many
 * tables were counted, *uncounted whether one could not be. */
static int one_database(PGconn *db, const char *name, int count_rows, lv_pg_rowpages *pages, lv_pg_rowcarry *carry,
                        lv_pgman_database *out, int *counted, int *uncounted)
{
    PGresult *res;
    int rc = lv_pg_query(db, relmap_sql, 0, NULL, &res);
    if (rc != LV_OK)
        return lv_err_ctx("database %s", name);
    int n = PQntuples(res);
    out->relations = lv_xcalloc((size_t)n + 1, sizeof *out->relations);
    out->nrelations = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        lv_pgman_relation *r = &out->relations[i];
        r->oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        r->relfilenode = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        r->tablespace = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
        r->relkind = (uint8_t)PQgetvalue(res, i, 3)[0];
        r->schema = lv_xstrdup(PQgetvalue(res, i, 4));
        r->name = lv_xstrdup(PQgetvalue(res, i, 5));
        r->rows = -1;
        if (!count_rows || strcmp(PQgetvalue(res, i, 6), "t") != 0)
            continue;
        if (pages && r->relfilenode && strcmp(PQgetvalue(res, i, 7), "t") == 0 &&
            (r->rows = pages->rows(pages->arg, r->tablespace, out->oid, r->relfilenode)) >= 0) {
            pages->used++;
            lv_debug("row counts: %s: %s.%s: %" PRId64 " rows, from the pages read", name, r->schema, r->name, r->rows);
            continue;
        }
        if ((r->rows = from_wal(carry, out, r)) >= 0) {
            lv_debug("row counts: %s: %s.%s: %" PRId64 " rows, from the previous counts and the WAL", name, r->schema,
                     r->name, r->rows);
            continue;
        }
        if (carry)
            carry->counted++;
        (*counted)++;
        char *s = PQescapeIdentifier(db, r->schema, strlen(r->schema));
        char *t = PQescapeIdentifier(db, r->name, strlen(r->name));
        char *sql = lv_xasprintf("SELECT count(*) FROM ONLY %s.%s", s ? s : "", t ? t : "");
        PQfreemem(s);
        PQfreemem(t);
        /* A table that cannot be read (a damaged page) must not fail the backup: its count is left out
         * (-1) behind a savepoint, with a warning, and the counts are no longer exact. */
        PGresult *cnt = PQexec(db, "SAVEPOINT lv_count");
        PQclear(cnt);
        rc = lv_pg_query(db, sql, 0, NULL, &cnt);
        free(sql);
        if (rc != LV_OK) {
            lv_warn("database %s: row count of %s.%s left out: %s", name, r->schema, r->name, lv_errmsg());
            lv_err_clear();
            PQclear(PQexec(db, "ROLLBACK TO SAVEPOINT lv_count"));
            *uncounted = 1;
            rc = LV_OK;
            continue;
        }
        r->rows = strtoll(PQgetvalue(cnt, 0, 0), NULL, 10);
        lv_debug("row counts: %s: %s.%s: %" PRId64 " rows, counted", name, r->schema, r->name, r->rows);
        PQclear(cnt);
        PQclear(PQexec(db, "RELEASE SAVEPOINT lv_count"));
    }
    PQclear(res);
    return LV_OK;
}

/* Was no transaction with an xid in progress in snapshot snap (pg_current_snapshot()'s text,
 * xmin:xmax:xip_list)? The list names only those below xmax; one assigned an xid at or after xmax (after
 * the last one that ended) is in progress too without being listed. So: the list is empty and xmax is not
 * assigned yet, which pg_xact_status refuses as "in the future" (SQLSTATE 22023). Assigned later, it would
 * belong to a transaction begun after the snapshot, which is what the next backup's WAL shows; but a
 * refusal is what proves that none was, so any other answer means no. */
static int none_in_progress(PGconn *main, const char *snap)
{
    size_t n = snap ? strlen(snap) : 0;
    if (!n || snap[n - 1] != ':')
        return 0;
    const char *params[1] = {snap};
    PGresult *res = PQexecParams(main, "SELECT pg_xact_status(pg_snapshot_xmax($1::pg_snapshot))", 1, NULL, params,
                                 NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int none = PQresultStatus(res) == PGRES_FATAL_ERROR && state && strcmp(state, "22023") == 0;
    PQclear(res);
    return none;
}

/* Databases whose snapshots are taken together, right after the stop, before any of them is counted: a
 * commit anywhere while one database is counted must not end the exactness of the next. Each holds a
 * connection slot the applications may need while the counts run, so a few at a time (template1,
 * postgres and two databases of one's own); beyond that, or when the server has no slot left
 * (max_connections), a group is begun after the previous one was counted, and a commit in between makes
 * the counts informational as before. A database's connection is closed as soon as it is counted. */
#define OPEN_MAX 4

/* pg_current_snapshot()'s text "xmin:xmax:xid,xid,..." into *out (xip owned); 0 when it is not that. */
static int parse_snapshot(const char *t, lv_pgman_snapshot *out)
{
    memset(out, 0, sizeof *out);
    char *e;
    out->xmin = strtoull(t, &e, 10);
    if (*e != ':')
        return 0;
    out->xmax = strtoull(e + 1, &e, 10);
    if (*e != ':' || !out->xmax || out->xmin > out->xmax)
        return 0;
    size_t cap = 0, n = 0;
    for (const char *q = e + 1; *q;) {
        uint64_t x = strtoull(q, &e, 10);
        if (e == q || (*e && *e != ',') || x < out->xmin || x >= out->xmax || (n && x <= out->xip[n - 1])) {
            free(out->xip);
            memset(out, 0, sizeof *out);
            return 0;
        }
        LV_GROW(out->xip, n, cap);
        out->xip[n++] = x;
        q = *e ? e + 1 : e;
    }
    out->nxip = (uint32_t)n;
    return 1;
}

/* A connection to database name in a REPEATABLE READ transaction whose snapshot is fixed; *same when it
 * equals stop_snapshot; *snap: that snapshot (xmax 0 if it could not be read). */
static int begin_database(const lv_pg_conn_opts *c, const char *name, const char *stop_snapshot, PGconn **db,
                          int *same, lv_pgman_snapshot *parsed)
{
    *same = 0;
    int rc = lv_pg_connect(c, name, LV_PG_APP_BACKUP, db);
    if (rc != LV_OK)
        return rc;
    PGresult *tx;
    char *snap = NULL;
    /* count(*) by a sequential scan, whose cost is the table's size, as the backup's read. The planner
     * prefers an index-only scan whenever the statistics say the pages are all-visible; after updates the
     * visibility map no longer says so until a vacuum, and each tuple then costs a random heap fetch: 1.5 s
     * against 0.55 s for pgbench's 10 million accounts after 22,000 updates. JIT compiles per query, which
     * a count does not repay. */
    rc = lv_pg_query(*db,
                     "SELECT set_config('enable_indexonlyscan', 'off', false), set_config('enable_indexscan', "
                     "'off', false), set_config('enable_bitmapscan', 'off', false), set_config('jit', 'off', false)",
                     0, NULL, &tx);
    /* The first scan after updates sets hint bits, and with data checksums (or wal_log_hints) each page's
     * first one after the checkpoint is a full-page image in the WAL: on bench/pg.sh's cluster after 22,000
     * pgbench transactions, about 176 MiB, which the counts write. When the server's WAL compression is
     * off and it has lz4 (15 and later, when built with it), this session's images are compressed: counts
     * 0.54-0.56 s against 0.76-0.86 s on the profiling cluster (docs/pg-backups.md). Superuser only (or
     * GRANT SET): else, or before 15, nothing changes. */
    if (rc == LV_OK) {
        PQclear(tx);
        PQclear(PQexec(*db, "SELECT set_config('wal_compression', 'lz4', false) FROM pg_settings WHERE name = "
                            "'wal_compression' AND setting = 'off' AND 'lz4' = ANY(enumvals)"));
        rc = lv_pg_query(*db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &tx);
    }
    if (rc == LV_OK) {
        PQclear(tx);
        /* The first statement fixes the transaction's snapshot: this is the one the counts see. */
        rc = lv_pgs_snapshot(*db, &snap);
    }
    *same = rc == LV_OK && stop_snapshot && strcmp(snap, stop_snapshot) == 0;
    if (rc == LV_OK)
        parse_snapshot(snap, parsed);
    free(snap);
    return rc;
}

int lv_pg_relmap_collect(PGconn *main, const lv_pg_conn_opts *c, int count_rows, const char *stop_snapshot,
                         uint64_t next_xid, lv_pg_rowpages *pages, lv_pg_rowcarry *carry, lv_pgman_database **dbs,
                         uint32_t *ndbs, int *exact, int *seed, int *pending_known, int *snap_seed)
{
    *dbs = NULL;
    *ndbs = 0;
    *exact = 1;
    *seed = 0;
    *pending_known = 0;
    *snap_seed = 0;
    long all_counted = 0;
    int any_uncounted = 0;
    PGresult *res;
    int rc = lv_pg_query(main, "SELECT oid, datname FROM pg_database WHERE datallowconn ORDER BY oid", 0, NULL,
                          &res);
    if (rc != LV_OK)
        return rc;
    int n = PQntuples(res);
    lv_pgman_database *d = lv_xcalloc((size_t)n + 1, sizeof *d);
    for (int first = 0, end = 0; first < n && rc == LV_OK; first = end) {
        end = n - first < OPEN_MAX ? n : first + OPEN_MAX;
        PGconn *db[OPEN_MAX] = {0};
        int same[OPEN_MAX] = {0};
        for (int i = first; i < end && rc == LV_OK; i++) {
            d[i].oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
            d[i].name = lv_xstrdup(PQgetvalue(res, i, 1));
            *ndbs = (uint32_t)(i + 1);
            rc = begin_database(c, d[i].name, stop_snapshot, &db[i - first], &same[i - first], &d[i].snap);
            if (rc != LV_OK && i > first) {
                /* No connection slot left (max_connections): count the databases open so far; this one
                 * begins the next group, where a failure of its own is the error. */
                lv_debug("row counts: %s; counting the %d databases begun first", lv_errmsg(), i - first);
                lv_err_clear();
                rc = LV_OK;
                if (db[i - first])
                    PQfinish(db[i - first]);
                db[i - first] = NULL;
                free(d[i].name);
                d[i].name = NULL;
                free(d[i].snap.xip);
                memset(&d[i].snap, 0, sizeof d[i].snap);
                *ndbs = (uint32_t)i;
                end = i;
            }
        }
        for (int i = first; i < end && rc == LV_OK; i++) {
            int counted = 0, uncounted = 0;
            /* Pages only in the stop's snapshot: the relfilenode a table has in a later one may be one a
             * transaction that ended after the stop gave it (TRUNCATE and COPY FREEZE fill a new file with
             * all-visible pages before their commit). */
            rc = one_database(db[i - first], d[i].name, count_rows, same[i - first] ? pages : NULL, carry, &d[i],
                              &counted, &uncounted);
            /* Counted: exact at the stop only in the stop's snapshot. Carried or derived: exact at the stop
             * whatever the snapshot, since the WAL up to the stop is what they follow. */
            if ((counted && !same[i - first]) || uncounted)
                *exact = 0;
            all_counted += counted;
            any_uncounted |= uncounted;
            PQfinish(db[i - first]);
            db[i - first] = NULL;
            lv_debug("row counts: database %s done", d[i].name);
            if (rc == LV_OK && i + 1 < n)
                rc = lv_test_pause("LABVAULT_TEST_PAUSE_BETWEEN_DATABASES", 1);
        }
        for (int k = 0; k < OPEN_MAX; k++)
            if (db[k])
                PQfinish(db[k]);
    }
    PQclear(res);
    if (!count_rows)
        *exact = 0;
    /* A seed needs the rows of the transactions open at the stop: none (then any pending rows the WAL
     * reading holds are of transactions that ended without a record), or, when nothing was counted, those
     * the WAL reading from the previous seed tells (the caller takes them from it). */
    if (*exact && none_in_progress(main, stop_snapshot))
        *seed = 1;
    else if (*exact && (carry || (pages && pages->used)) && all_counted == 0) {
        *seed = 1;
        *pending_known = 1;
    } else if (count_rows && next_xid && !any_uncounted && (!carry || carry->carried + carry->derived == 0) &&
               (!pages || !pages->used) && rc == LV_OK) {
        /* Every table counted, in snapshots that see every transaction with an id below next_xid (the
         * oldest one they do not see began after the start checkpoint): a seed from the snapshots. */
        *snap_seed = 1;
        for (uint32_t i = 0; i < *ndbs; i++)
            if (!d[i].snap.xmax || d[i].snap.xmin < next_xid)
                *snap_seed = 0;
        *seed = *snap_seed;
    }
    if (!*snap_seed)
        for (uint32_t i = 0; i < *ndbs; i++) {
            free(d[i].snap.xip);
            memset(&d[i].snap, 0, sizeof d[i].snap);
        }
    if (rc != LV_OK) {
        lv_pg_relmap_free(d, *ndbs);
        *ndbs = 0;
        return rc;
    }
    *dbs = d;
    return LV_OK;
}

void lv_pg_relmap_free(lv_pgman_database *dbs, uint32_t ndbs)
{
    for (uint32_t i = 0; dbs && i < ndbs; i++) {
        for (uint32_t j = 0; j < dbs[i].nrelations; j++) {
            free(dbs[i].relations[j].schema);
            free(dbs[i].relations[j].name);
        }
        free(dbs[i].relations);
        free(dbs[i].name);
        free(dbs[i].snap.xip);
    }
    free(dbs);
}
