/* Relation maps and row counts (contract in backup/pg_relmap.h). */
#include "backup/pg_relmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

static const char relmap_sql[] =
    "SELECT c.oid, coalesce(pg_relation_filenode(c.oid), 0), "
    "CASE WHEN c.reltablespace = 0 THEN (SELECT dattablespace FROM pg_database "
    "WHERE datname = current_database()) ELSE c.reltablespace END, c.relkind, n.nspname, c.relname, "
    "c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY c.oid";

static int one_database(PGconn *db, const char *name, int count_rows, lv_pgman_database *out, int *uncounted)
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
        PQclear(cnt);
        PQclear(PQexec(db, "RELEASE SAVEPOINT lv_count"));
    }
    PQclear(res);
    return LV_OK;
}

int lv_pg_relmap_collect(PGconn *main, const lv_pg_conn_opts *c, int count_rows, const char *stop_snapshot,
                         lv_pgman_database **dbs, uint32_t *ndbs, int *exact)
{
    *dbs = NULL;
    *ndbs = 0;
    *exact = stop_snapshot != NULL;
    PGresult *res;
    int rc = lv_pg_query(main, "SELECT oid, datname FROM pg_database WHERE datallowconn ORDER BY oid", 0, NULL,
                          &res);
    if (rc != LV_OK)
        return rc;
    int n = PQntuples(res);
    lv_pgman_database *d = lv_xcalloc((size_t)n + 1, sizeof *d);
    for (int i = 0; i < n && rc == LV_OK; i++) {
        d[i].oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        d[i].name = lv_xstrdup(PQgetvalue(res, i, 1));
        *ndbs = (uint32_t)(i + 1);
        PGconn *db = NULL;
        if ((rc = lv_pg_connect(c, d[i].name, LV_PG_APP_BACKUP, &db)) != LV_OK)
            break;
        PGresult *tx;
        char *snap = NULL;
        rc = lv_pg_query(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &tx);
        if (rc == LV_OK) {
            PQclear(tx);
            /* The first statement fixes the transaction's snapshot: this is the one the counts see. */
            rc = lv_pgs_snapshot(db, &snap);
        }
        if (rc == LV_OK && (!stop_snapshot || strcmp(snap, stop_snapshot) != 0))
            *exact = 0;
        free(snap);
        int uncounted = 0;
        if (rc == LV_OK)
            rc = one_database(db, d[i].name, count_rows, &d[i], &uncounted);
        if (uncounted)
            *exact = 0;
        PQfinish(db);
    }
    PQclear(res);
    if (!count_rows)
        *exact = 0;
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
    }
    free(dbs);
}
