/* The checks of a PostgreSQL drill (contract in drills/checks.h). */
#include "drills/checks.h"

#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/interrupt.h"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int lv_user_checks_load(const char *file, lv_user_check **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!file)
        return LV_OK;
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(file, &b);
    if (rc) {
        lv_buf_free(&b);
        return lv_err(LV_ERR_CONFIG, "drill-checks %s: %s", file, lv_errmsg());
    }
    size_t cap = 0, lineno = 0;
    char *next = lv_buf_cstr(&b);
    while (next && rc == LV_OK) {
        char *line = next, *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#')
            continue;
        char *db = NULL;
        if (*t == '@') {
            size_t len = strcspn(t + 1, " \t");
            if (len == 0 || !t[1 + len]) {
                rc = lv_err(LV_ERR_CONFIG, "%s:%zu: '@DATABASE' must be followed by EXPECTED | SQL", file, lineno);
                break;
            }
            t[1 + len] = '\0';
            db = t + 1;
            t = trim(t + 2 + len);
        }
        char *bar = strchr(t, '|');
        if (!bar) {
            rc = lv_err(LV_ERR_CONFIG, "%s:%zu: a check is 'EXPECTED | SQL' (no '|' found)", file, lineno);
            break;
        }
        *bar = '\0';
        char *expected = trim(t), *sql = trim(bar + 1);
        if (!*sql) {
            rc = lv_err(LV_ERR_CONFIG, "%s:%zu: the check has no SQL after '|'", file, lineno);
            break;
        }
        LV_GROW(*out, *n, cap);
        lv_user_check *c = &(*out)[(*n)++];
        c->db = lv_xstrdup(db ? db : "postgres");
        c->expected = lv_xstrdup(expected);
        c->sql = lv_xstrdup(sql);
    }
    lv_buf_free(&b);
    if (rc) {
        lv_user_checks_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void lv_user_checks_free(lv_user_check *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].db);
        free(c[i].expected);
        free(c[i].sql);
    }
    free(c);
}

/* PQexec that gives up on a drill interrupt: the query is cancelled on the server, so a user check
 * stuck in a long query cannot keep the drill (and its PostgreSQL) alive after ^C. */
static PGresult *exec_query(PGconn *c, const char *sql)
{
    if (!PQsendQuery(c, sql))
        return NULL;
    int cancelled = 0;
    while (PQisBusy(c)) {
        if (lv_interrupted() && !cancelled) {
            PGcancel *k = PQgetCancel(c);
            char buf[256];
            if (k) {
                PQcancel(k, buf, sizeof buf);
                PQfreeCancel(k);
            }
            cancelled = 1;
        }
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        poll(&pfd, 1, 200);
        if (!PQconsumeInput(c))
            break;
    }
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(c))) {
        PQclear(last);
        last = r;
    }
    return last;
}

static PGconn *connect_db(const lv_spg *p, const char *user, const char *db)
{
    const char *kw[7], *val[7];
    lv_spg_conn_params(p, user, db, kw, val);
    return PQconnectdbParams(kw, val, 0);
}

/* A message as one trimmed line (malloc'ed): libpq's end in a newline, pg_amcheck prints several. */
static char *one_line(const char *s)
{
    char *r = lv_xstrdup(s ? s : "");
    for (char *q = r; *q; q++)
        if (*q == '\n' || *q == '\r')
            *q = ' ';
    char *t = trim(r);
    memmove(r, t, strlen(t) + 1);
    return r;
}

/* Every database that allows connections; returns their names (NULL-terminated) or NULL. */
static char **databases(lv_drill *d, const lv_spg *p, const char *user)
{
    PGconn *c = connect_db(p, user, "postgres");
    char **v = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        char *e = one_line(PQerrorMessage(c));
        lv_drill_check_add(d, "connect postgres", 0, "%s", e);
        free(e);
    } else {
        PGresult *r = exec_query(c, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            int n = PQntuples(r);
            v = lv_xcalloc((size_t)n + 1, sizeof *v);
            for (int i = 0; i < n; i++)
                v[i] = lv_xstrdup(PQgetvalue(r, i, 0));
        } else {
            char *e = one_line(PQerrorMessage(c));
            lv_drill_check_add(d, "list databases", 0, "%s", e);
            free(e);
        }
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static void check_connect(lv_drill *d, const lv_spg *p, const char *user, char **dbs)
{
    for (size_t i = 0; dbs[i]; i++) {
        PGconn *c = connect_db(p, user, dbs[i]);
        char name[300];
        snprintf(name, sizeof name, "connect %s", dbs[i]);
        if (PQstatus(c) == CONNECTION_OK) {
            lv_drill_check_add(d, name, 1, "accepts connections");
        } else {
            char *e = one_line(PQerrorMessage(c));
            lv_drill_check_add(d, name, 0, "%s", e);
            free(e);
        }
        PQfinish(c);
    }
}

static void check_amcheck(lv_drill *d, const lv_spg *p, const char *user)
{
    PGconn *c = connect_db(p, user, "postgres");
    int avail = 0;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = exec_query(c, "SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'");
        avail = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
    }
    PQfinish(c);
    if (!avail) {
        lv_drill_check_add(d, "amcheck", 1, "skipped: the amcheck extension is not installed");
        return;
    }
    char *prog = lv_spg_client(p->bindir, "pg_amcheck");
    if (!prog) {
        lv_drill_check_add(d, "amcheck", 0, "no pg_amcheck program in %s nor in /usr/lib/postgresql/*/bin",
                           p->bindir);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    /* PostgreSQL 13's amcheck (1.2) has B-tree checks but no verify_heapam: check the indexes only. */
    int btree_only = d->pg_version > 0 && d->pg_version < 14;
    const char *argv[] = {prog,
                          "-h",
                          p->sockdir,
                          "-p",
                          port,
                          "-U",
                          user,
                          "--all",
                          "--install-missing",
                          "--heapallindexed",
                          btree_only ? "--index=*.*.*" : NULL,
                          NULL};
    char *out = NULL;
    int st = lv_spg_run(argv, &out);
    if (st == 0) {
        lv_drill_check_add(d, "amcheck", 1, "pg_amcheck --all --heapallindexed%s: no corruption found",
                           btree_only ? " (B-tree indexes: PostgreSQL 13's amcheck has no heap check)" : "");
    } else {
        char *e = one_line(out);
        if (strlen(e) > 600)
            strcpy(e + 590, " ...");
        lv_drill_check_add(d, "amcheck", 0, "pg_amcheck --all --heapallindexed exited with %d: %s", st, e);
        free(e);
    }
    free(out);
    free(prog);
}

/* The problems the visibility check finds in one database, one text row each (no rows: none). A table
 * checksum by sequential scan does not see a stale visibility map; an index-only scan trusts the map
 * and answers wrongly, and pg_check_visible/pg_check_frozen list the tuples the map misjudges. */
static const char visibility_sql[] =
    "SET client_min_messages = warning;"
    "CREATE EXTENSION IF NOT EXISTS pg_visibility;"
    "CREATE FUNCTION pg_temp.lv_visibility() RETURNS SETOF text LANGUAGE plpgsql AS $f$ "
    "DECLARE r record; n bigint; a bigint; b bigint; "
    "BEGIN "
    "  FOR r IN SELECT c.oid, c.oid::regclass::text AS name FROM pg_class c "
    "           WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence = 'p' ORDER BY c.oid LOOP "
    "    SELECT count(*) INTO n FROM pg_check_visible(r.oid); "
    "    IF n > 0 THEN RETURN NEXT format('%s: %s tuples not visible on all-visible pages', r.name, n); END IF; "
    "    SELECT count(*) INTO n FROM pg_check_frozen(r.oid); "
    "    IF n > 0 THEN RETURN NEXT format('%s: %s tuples not frozen on all-frozen pages', r.name, n); END IF; "
    "  END LOOP; "
    "  FOR r IN SELECT DISTINCT c.oid, c.oid::regclass::text AS name FROM pg_class c "
    "           JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid "
    "           JOIN pg_am am ON am.oid = ic.relam WHERE am.amname = 'btree' AND c.relkind IN ('r', 'm') "
    "           AND c.relpersistence = 'p' AND i.indisvalid ORDER BY c.oid LOOP "
    "    PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
    "            set_config('enable_indexscan', 'on', true), set_config('enable_indexonlyscan', 'on', true); "
    "    EXECUTE format('SELECT count(*) FROM %s', r.name) INTO a; "
    "    PERFORM set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'off', true), "
    "            set_config('enable_indexonlyscan', 'off', true); "
    "    EXECUTE format('SELECT count(*) FROM %s', r.name) INTO b; "
    "    IF a <> b THEN RETURN NEXT format('%s: count(*) %s by index-only scan, %s by sequential scan', "
    "                                      r.name, a, b); END IF; "
    "  END LOOP; "
    "END $f$;"
    "SELECT * FROM pg_temp.lv_visibility();";

/* visibility DB: the visibility map agrees with the tuples and index-only scans count what sequential
 * scans count, in every database (skipped where pg_visibility is not installed). */
static void check_visibility(lv_drill *d, const lv_spg *p, const char *user, char **dbs)
{
    for (size_t i = 0; dbs[i] && !lv_interrupted(); i++) {
        char name[300];
        snprintf(name, sizeof name, "visibility %s", dbs[i]);
        PGconn *c = connect_db(p, user, dbs[i]);
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            continue; /* the connect check reports it */
        }
        PGresult *r = exec_query(c, "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_visibility'");
        int avail = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (!avail) {
            lv_drill_check_add(d, name, 1, "skipped: the pg_visibility extension is not installed");
            PQfinish(c);
            continue;
        }
        r = exec_query(c, visibility_sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            char *e = one_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            lv_drill_check_add(d, name, 0, "the check failed: %s", e);
            free(e);
        } else if (PQntuples(r) == 0) {
            lv_drill_check_add(d, name, 1, "the visibility map matches the tuples; index-only and sequential "
                                           "scans count the same rows");
        } else {
            lv_buf m = LV_BUF_INIT;
            for (int k = 0; k < PQntuples(r) && m.len < 600; k++)
                lv_buf_printf(&m, "%s%s", k ? "; " : "", PQgetvalue(r, k, 0));
            lv_drill_check_add(d, name, 0, "%d problems: %s%s", PQntuples(r), lv_buf_cstr(&m),
                               m.len >= 600 ? " ..." : "");
            lv_buf_free(&m);
        }
        PQclear(r);
        PQfinish(c);
    }
}

static void check_rows(lv_drill *d, const lv_spg *p, const char *user, const lv_pgman *m)
{
    uint64_t tables = 0, bad = 0;
    for (uint32_t i = 0; i < m->ndatabases && !lv_interrupted(); i++) {
        const lv_pgman_database *db = &m->databases[i];
        PGconn *c = connect_db(p, user, db->name);
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            continue; /* the connect check reports it */
        }
        for (uint32_t k = 0; k < db->nrelations; k++) {
            const lv_pgman_relation *rel = &db->relations[k];
            if (rel->rows < 0 || rel->relkind != 'r')
                continue;
            /* The table is found by its oid, which the restored cluster shares with the source: the names
             * were read in the counting snapshot, which may follow the stop by a rename when the counts came
             * from the WAL (backup/pg_relmap.h). ONLY: the backup counted the table's own rows, without
             * those of tables that inherit from it. */
            char name[700];
            snprintf(name, sizeof name, "rows %s.%s.%s", db->name, rel->schema, rel->name);
            tables++;
            char *sql = lv_xasprintf("SELECT format('SELECT count(*) FROM ONLY %%I.%%I', n.nspname, c.relname) "
                                     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                     "WHERE c.oid = %u", rel->oid);
            PGresult *r = exec_query(c, sql);
            free(sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
                lv_drill_check_add(d, name, 0, "missing: no table has oid %u", rel->oid);
                PQclear(r);
                bad++;
                continue;
            }
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                char *count_sql = lv_xstrdup(PQgetvalue(r, 0, 0));
                PQclear(r);
                r = exec_query(c, count_sql);
                free(count_sql);
            }
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                char *e = one_line(PQerrorMessage(c));
                lv_drill_check_add(d, name, 0, "count failed: %s", e);
                free(e);
                bad++;
            } else if (strtoll(PQgetvalue(r, 0, 0), NULL, 10) != rel->rows) {
                lv_drill_check_add(d, name, 0, "%s rows, the backup recorded %lld", PQgetvalue(r, 0, 0),
                                   (long long)rel->rows);
                bad++;
            }
            PQclear(r);
        }
        PQfinish(c);
    }
    lv_drill_check_add(d, "rows", bad == 0, "%llu of %llu tables have the row counts recorded at the backup",
                       (unsigned long long)(tables - bad), (unsigned long long)tables);
}

static void check_user(lv_drill *d, const lv_spg *p, const char *user, const lv_user_check *u)
{
    int other_db = strcmp(u->db, "postgres") != 0;
    char *name = lv_xasprintf("user: %s%s%s%s", other_db ? "@" : "", other_db ? u->db : "", other_db ? " " : "",
                              u->sql);
    PGconn *c = connect_db(p, user, u->db);
    if (PQstatus(c) != CONNECTION_OK) {
        char *e = one_line(PQerrorMessage(c));
        lv_drill_check_add(d, name, 0, "cannot connect to %s: %s", u->db, e);
        free(e);
    } else {
        PGresult *r = exec_query(c, u->sql);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            char *e = one_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            lv_drill_check_add(d, name, 0, "query failed: %s", e);
            free(e);
        } else {
            const char *got = st != PGRES_TUPLES_OK || PQntuples(r) == 0 || PQnfields(r) == 0
                                  ? "(no rows)"
                                  : PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0);
            int ok = strcmp(got, u->expected) == 0;
            lv_drill_check_add(d, name, ok, "expected '%s', got '%s'", u->expected, got);
        }
        PQclear(r);
    }
    PQfinish(c);
    free(name);
}

int lv_drill_checks_run(lv_drill *d, const lv_spg *p, const char *user, const lv_pgman *m,
                        const lv_user_check *uc, size_t nuc)
{
    char **dbs = databases(d, p, user);
    if (dbs)
        check_connect(d, p, user, dbs);
    if (!lv_interrupted())
        check_amcheck(d, p, user);
    if (dbs && !lv_interrupted())
        check_visibility(d, p, user, dbs);
    for (size_t i = 0; dbs && dbs[i]; i++)
        free(dbs[i]);
    free(dbs);
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "drill interrupted");
    if (m)
        check_rows(d, p, user, m);
    else
        lv_drill_check_add(d, "rows", 1, "skipped: row counts are compared only for a drill to the backup's "
                                         "end point (--target-immediate) of a backup with exact counts");
    for (size_t i = 0; i < nuc && !lv_interrupted(); i++)
        check_user(d, p, user, &uc[i]);
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "drill interrupted");
    return LV_OK;
}
