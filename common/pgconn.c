/* libpq connections and one-line errors (contract in common/pgconn.h). */
#include "common/pgconn.h"

#include <string.h>

#include "common/error.h"

int lv_pg_msg_len(const char *m) { return (int)strcspn(m ? m : "", "\n"); }

int lv_pg_connect(const lv_pg_conn_opts *o, const char *dbname, const char *app, PGconn **out)
{
    const char *keys[9], *vals[9];
    int k = 0;
    /* Only the first "dbname" is expanded as a connection string; later keywords override its parts. */
    if (o->conninfo) {
        keys[k] = "dbname";
        vals[k++] = o->conninfo;
    }
    const char *names[] = {"host", "port", "user", "dbname"};
    const char *given[] = {o->conninfo ? NULL : o->host, o->conninfo ? NULL : o->port,
                           o->conninfo ? NULL : o->user, dbname ? dbname : o->conninfo ? NULL : o->dbname};
    for (int i = 0; i < 4; i++)
        if (given[i]) {
            keys[k] = names[i];
            vals[k++] = given[i];
        }
    if (o->connect_timeout) {
        keys[k] = "connect_timeout";
        vals[k++] = o->connect_timeout;
    }
    keys[k] = "application_name";
    vals[k++] = app;
    keys[k] = NULL;
    vals[k] = NULL;
    PGconn *conn = PQconnectdbParams(keys, vals, o->conninfo != NULL);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *m = conn ? PQerrorMessage(conn) : "out of memory";
        int rc = lv_err(LV_ERR_PG, "cannot connect to PostgreSQL%s%s: %.*s", dbname ? " database " : "",
                        dbname ? dbname : "", lv_pg_msg_len(m), m);
        PQfinish(conn);
        return rc;
    }
    *out = conn;
    return LV_OK;
}

int lv_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **res)
{
    *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(*res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return LV_OK;
    const char *m = PQerrorMessage(c);
    int rc = lv_err(LV_ERR_PG, "PostgreSQL refused \"%.80s\": %.*s", sql, lv_pg_msg_len(m), m);
    PQclear(*res);
    *res = NULL;
    return rc;
}

int lv_pg_query1(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **res)
{
    int rc = lv_pg_query(c, sql, nparams, params, res);
    if (rc == LV_OK && PQntuples(*res) != 1) {
        rc = lv_err(LV_ERR_PG, "PostgreSQL returned %d rows for \"%.80s\"", PQntuples(*res), sql);
        PQclear(*res);
        *res = NULL;
    }
    return rc;
}
