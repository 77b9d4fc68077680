/* An undo drill (contract in drills/undo.h). */
#include "drills/undo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/log.h"
#include "drills/postgres.h"

#define DB_TABLES_MAX 50 /* tables of a dropped database counted */

void lv_undo_add_table(lv_undo *u, const char *db, const char *name, uint64_t rows_changed)
{
    for (size_t i = 0; i < u->ntables; i++)
        if (strcmp(u->tables[i].db, db) == 0 && strcmp(u->tables[i].name, name) == 0)
            return;
    LV_GROW(u->tables, u->ntables, u->cap);
    u->tables[u->ntables++] = (lv_undo_table){lv_xstrdup(db), lv_xstrdup(name), rows_changed, -1, -1};
}

void lv_undo_free(lv_undo *u)
{
    for (size_t i = 0; i < u->ntables; i++) {
        free(u->tables[i].db);
        free(u->tables[i].name);
    }
    free(u->tables);
    free(u->dropped_db);
    u->tables = NULL;
    u->dropped_db = NULL;
    u->ntables = u->cap = 0;
}

static void undo_init(lv_undo *u, lv_undo_kind kind, uint32_t xid, uint32_t tli, const char *restore, int prepared)
{
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->xid = xid;
    u->timeline = tli;
    u->prepared = prepared;
    snprintf(u->restore, sizeof u->restore, "%s", restore);
}

int lv_undo_from_drop(const lv_wal_drop_named *n, lv_undo *u)
{
    const lv_wal_drop *d = n->d;
    undo_init(u, d->kind == LV_DROP_DATABASE ? LV_UNDO_DROP_DATABASE : LV_UNDO_DROP, d->xid, d->tli, n->restore,
              d->prepared);
    if (d->kind == LV_DROP_DATABASE) {
        u->lsn = d->target_lsn;
        u->dropped_db = n->database ? lv_xstrdup(n->database) : NULL;
        return LV_OK;
    }
    for (uint32_t i = 0; i < d->nrels && n->database; i++)
        if (n->relations[i] && strchr("rpm", n->relkinds[i][0] ? n->relkinds[i][0] : 'x'))
            lv_undo_add_table(u, n->database, n->relations[i], 0);
    return LV_OK;
}

int lv_undo_from_change(const lv_wal_change *x, const char *const *relnames, const char *dbname, const char *restore,
                        lv_undo *u)
{
    uint64_t del = 0, upd = 0;
    for (size_t i = 0; i < x->nrels; i++)
        del += x->rels[i].deleted, upd += x->rels[i].updated;
    undo_init(u, del >= upd ? LV_UNDO_DELETE : LV_UNDO_UPDATE, x->xid, x->end_tli, restore, x->prepared);
    for (size_t i = 0; i < x->nrels && dbname; i++)
        if (relnames[i])
            lv_undo_add_table(u, dbname, relnames[i], x->rels[i].deleted + x->rels[i].updated);
    return LV_OK;
}

static PGconn *scratch_conn(const lv_spg *p, const char *user, const char *db)
{
    const char *kw[7], *val[7];
    lv_spg_conn_params(p, user, db, kw, val);
    PGconn *c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        lv_err(LV_ERR_PG, "cannot connect to the scratch copy's database %s: %.*s", db,
               lv_pg_msg_len(PQerrorMessage(c)), PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* count(*) of "schema.name" (identifiers quoted), waiting at most 10 s for a lock. -1 and an error when the
 * table is not there or the query fails. */
static int64_t count_rows(PGconn *c, const char *qname)
{
    const char *dot = strchr(qname, '.');
    if (!dot) {
        lv_err(LV_ERR_USAGE, "table name %s has no schema", qname);
        return -1;
    }
    char *schema = lv_xasprintf("%.*s", (int)(dot - qname), qname);
    char *s = PQescapeIdentifier(c, schema, strlen(schema)), *n = PQescapeIdentifier(c, dot + 1, strlen(dot + 1));
    free(schema);
    int64_t rows = -1;
    if (s && n) {
        char *sql = lv_xasprintf("SELECT count(*) FROM %s.%s", s, n);
        PGresult *res;
        if (lv_pg_query(c, "SET lock_timeout = '10s'", 0, NULL, &res) == LV_OK)
            PQclear(res);
        if (lv_pg_query1(c, sql, 0, NULL, &res) == LV_OK) {
            rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
        }
        free(sql);
    }
    PQfreemem(s);
    PQfreemem(n);
    return rows;
}

/* The prepared transaction the drill stopped before: rolled back in its database, so its locks go. */
static void rollback_prepared(lv_undo *u, lv_drill *d, const lv_spg *p, const char *user)
{
    PGconn *c = scratch_conn(p, user, "postgres");
    if (!c) {
        lv_drill_check_add(d, "rollback prepared", 0, "%s", lv_errmsg());
        return;
    }
    char xid[16];
    snprintf(xid, sizeof xid, "%u", u->xid);
    const char *params[] = {xid};
    PGresult *res;
    if (lv_pg_query(c, "SELECT gid, database FROM pg_prepared_xacts WHERE transaction::text = $1", 1, params, &res) !=
        LV_OK) {
        lv_drill_check_add(d, "rollback prepared", 0, "%s", lv_errmsg());
        PQfinish(c);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *gid = PQgetvalue(res, i, 0), *db = PQgetvalue(res, i, 1);
        PGconn *dc = scratch_conn(p, user, db);
        char *lit = dc ? PQescapeLiteral(dc, gid, strlen(gid)) : NULL;
        PGresult *r2;
        if (lit) {
            char *sql = lv_xasprintf("ROLLBACK PREPARED %s", lit);
            if (lv_pg_query(dc, sql, 0, NULL, &r2) == LV_OK) {
                PQclear(r2);
                u->rolled_back++;
                lv_drill_check_add(d, "rollback prepared", 1, "transaction %u ('%s', database %s) was prepared in "
                                   "the scratch copy: rolled back", u->xid, gid, db);
            } else {
                lv_drill_check_add(d, "rollback prepared", 0, "%s", lv_errmsg());
            }
            free(sql);
        } else {
            lv_drill_check_add(d, "rollback prepared", 0, "%s", dc ? PQerrorMessage(dc) : lv_errmsg());
        }
        PQfreemem(lit);
        PQfinish(dc);
    }
    if (n == 0)
        lv_drill_check_add(d, "rollback prepared", 1, "transaction %u is not prepared in the scratch copy", u->xid);
    PQclear(res);
    PQfinish(c);
}

/* The tables of the dropped database in the scratch copy. */
static void database_tables(lv_undo *u, lv_drill *d, const lv_spg *p, const char *user)
{
    PGconn *c = scratch_conn(p, user, u->dropped_db);
    if (!c) {
        lv_drill_check_add(d, "undo database", 0, "%s", lv_errmsg());
        return;
    }
    PGresult *res;
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
             "c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT "
             "LIKE 'pg\\_%%' ORDER BY 1 LIMIT %d", DB_TABLES_MAX);
    if (lv_pg_query(c, sql, 0, NULL, &res) == LV_OK) {
        for (int i = 0; i < PQntuples(res); i++)
            lv_undo_add_table(u, u->dropped_db, PQgetvalue(res, i, 0), 0);
        lv_drill_check_add(d, "undo database", 1, "database %s is in the scratch copy with %d tables%s", u->dropped_db,
                           PQntuples(res), PQntuples(res) == DB_TABLES_MAX ? " (the first ones counted)" : "");
        PQclear(res);
    } else {
        lv_drill_check_add(d, "undo database", 0, "%s", lv_errmsg());
    }
    PQfinish(c);
}

static void ready(void *arg, lv_drill *d, const lv_spg *p, const char *user)
{
    lv_undo *u = arg;
    if (u->prepared)
        rollback_prepared(u, d, p, user);
    if (u->kind == LV_UNDO_DROP_DATABASE && u->dropped_db)
        database_tables(u, d, p, user);
    for (size_t i = 0; i < u->ntables; i++) {
        lv_undo_table *t = &u->tables[i];
        PGconn *c = scratch_conn(p, user, t->db);
        t->scratch_rows = c ? count_rows(c, t->name) : -1;
        char *why = t->scratch_rows < 0 ? lv_xstrdup(lv_errmsg()) : NULL;
        PQfinish(c);
        lv_err_clear();
        PGconn *l = NULL;
        if (lv_pg_connect(&u->live, t->db, "labvault undo drill", &l) == LV_OK)
            t->live_rows = count_rows(l, t->name);
        lv_err_clear();
        PQfinish(l);
        char name[300];
        snprintf(name, sizeof name, "undo %s.%s", t->db, t->name);
        if (why)
            lv_drill_check_add(d, name, 0, "not in the scratch copy: %s", why);
        else if (t->live_rows >= 0)
            lv_drill_check_add(d, name, 1, "%lld rows in the scratch copy, %lld in the live cluster",
                               (long long)t->scratch_rows, (long long)t->live_rows);
        else
            lv_drill_check_add(d, name, 1, "%lld rows in the scratch copy; not in the live cluster",
                               (long long)t->scratch_rows);
        free(why);
    }
}

int lv_undo_drill(lv_repo *r, lv_drill_opts *o, lv_undo *u, lv_drill *d)
{
    char lsn[32];
    o->kind = "pg";
    o->source = "latest";
    o->target_xid = u->kind == LV_UNDO_DROP_DATABASE ? 0 : u->xid;
    if (u->kind == LV_UNDO_DROP_DATABASE) {
        snprintf(lsn, sizeof lsn, "%X/%X", (unsigned)(u->lsn >> 32), (unsigned)u->lsn);
        o->target_lsn = lsn;
    }
    o->target_timeline = u->timeline;
    o->ready = ready;
    o->ready_arg = u;
    if (!u->live.connect_timeout)
        u->live.connect_timeout = "5";
    return lv_drill_run_pg(r, o, d);
}

/* --- for people -------------------------------------------------------------------------------------- */

static void rows_text(int64_t v, const char *missing, char out[32])
{
    if (v < 0)
        snprintf(out, 32, "%s", missing);
    else
        snprintf(out, 32, "%lld", (long long)v);
}

/* A shell word: as is when plain, else in single quotes. */
static void sh_word(lv_buf *b, const char *s)
{
    if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:=@") == strlen(s)) {
        lv_buf_append_str(b, s);
        return;
    }
    lv_buf_append_str(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            lv_buf_append_str(b, "'\\''");
        else
            lv_buf_append(b, p, 1);
    }
    lv_buf_append_str(b, "'");
}

static void conn_words(lv_buf *b, const lv_drill *d, const char *db)
{
    lv_buf_append_str(b, " -h ");
    sh_word(b, d->sockdir);
    lv_buf_printf(b, " -p %d -U ", d->port);
    sh_word(b, d->user);
    lv_buf_append_str(b, " -d ");
    sh_word(b, db);
}

void lv_undo_text(const lv_undo *u, const lv_drill *d, lv_buf *out)
{
    lv_buf_printf(out, "drill %s: restored backup %.12s to just before %s (%s): %s\n", d->id, d->source,
                  u->kind == LV_UNDO_DROP_DATABASE ? "the DROP DATABASE" : "the transaction", u->restore,
                  d->failed ? "FAILED" : "ready");
    if (u->rolled_back)
        lv_buf_printf(out, "transaction %u was prepared again in the scratch copy: rolled back there (ROLLBACK "
                      "PREPARED), as it must be after a real restore\n", u->xid);
    if (u->ntables) {
        lv_buf_printf(out, "%-40s  %-16s  %16s  %16s\n", "TABLE", "DATABASE", "SCRATCH (BEFORE)", "LIVE (NOW)");
        for (size_t i = 0; i < u->ntables; i++) {
            const lv_undo_table *t = &u->tables[i];
            char a[32], b[32];
            rows_text(t->scratch_rows, "missing", a);
            rows_text(t->live_rows, "missing", b);
            lv_buf_printf(out, "%-40s  %-16s  %16s  %16s\n", t->name, t->db, a, b);
        }
    }
    for (uint32_t i = 0; i < d->nchecks; i++)
        if (!d->checks[i].ok)
            lv_buf_printf(out, "FAIL %s: %s\n", d->checks[i].name, d->checks[i].detail);
    if (!d->running) {
        lv_buf_printf(out, "the scratch copy was stopped and removed%s\n",
                      d->failed ? "" : " (--keep-running keeps it running, to copy the rows back from it)");
        return;
    }
    lv_buf_printf(out, "the scratch copy is running (PostgreSQL, data directory %s, as OS user %s); connect:\n  psql",
                  d->datadir, d->os_user);
    conn_words(out, d, u->ntables ? u->tables[0].db : "postgres");
    lv_buf_append_str(out, "\ncopy the rows back into the live cluster (psql connects as your live settings say):\n");
    if (u->kind == LV_UNDO_DROP_DATABASE && u->dropped_db) {
        lv_buf_append_str(out, "  pg_dump --create");
        conn_words(out, d, u->dropped_db);
        lv_buf_append_str(out, " | psql -d postgres\n");
    }
    for (size_t i = 0; u->kind != LV_UNDO_DROP_DATABASE && i < u->ntables; i++) {
        const lv_undo_table *t = &u->tables[i];
        if (u->kind == LV_UNDO_UPDATE) {
            char *side = lv_xasprintf("%s_before_%u", t->name, u->xid);
            lv_buf_append_str(out, "  psql -d ");
            sh_word(out, t->db);
            lv_buf_printf(out, " -c \"CREATE TABLE %s (LIKE %s INCLUDING ALL)\"\n  psql", side, t->name);
            conn_words(out, d, t->db);
            lv_buf_printf(out, " -c \"\\copy %s TO STDOUT\" | psql -d ", t->name);
            sh_word(out, t->db);
            lv_buf_printf(out, " -c \"\\copy %s FROM STDIN\"\n  (the rows as they were before the UPDATE, beside the "
                          "table: reconcile from there)\n", side);
            free(side);
            continue;
        }
        lv_buf_printf(out, "  pg_dump%s", u->kind == LV_UNDO_DELETE ? " --data-only" : "");
        conn_words(out, d, t->db);
        lv_buf_append_str(out, " -t ");
        sh_word(out, t->name);
        lv_buf_append_str(out, " | psql -d ");
        sh_word(out, t->db);
        lv_buf_append_str(out, u->kind == LV_UNDO_DELETE ? "   (into the emptied table; rows added since may clash "
                                                           "on keys)\n"
                                                         : "\n");
    }
    lv_buf_printf(out, "stop and remove it when done (as OS user %s):\n  %s/pg_ctl -D ", d->os_user, d->bindir);
    sh_word(out, d->datadir);
    lv_buf_append_str(out, " stop -m fast && rm -rf ");
    sh_word(out, d->scratch);
    if (strncmp(d->sockdir, d->scratch, strlen(d->scratch)) != 0) {
        lv_buf_append_str(out, " ");
        sh_word(out, d->sockdir);
    }
    lv_buf_append_str(out, "\n");
}
