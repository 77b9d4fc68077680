/* Connecting to PostgreSQL: the one place that turns labvault's connection settings (pg-host,
 * pg-port, pg-user, pg-database, or a whole connection string) into a libpq session, and libpq's
 * multi-line messages into one-line errors.
 *
 * Settings left NULL fall back to libpq's own defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, the
 * socket directory). A connection string is used whole: the separate settings do not override parts
 * of it, so what the user wrote is what connects. */
#ifndef LV_COMMON_PGCONN_H
#define LV_COMMON_PGCONN_H

#include <libpq-fe.h>

typedef struct lv_pg_conn_opts {
    const char *conninfo;                    /* a connection string or URI; NULL: the fields below */
    const char *host, *port, *user, *dbname; /* NULL: libpq's default */
    const char *connect_timeout;             /* seconds (text); NULL: libpq's default (PGCONNECT_TIMEOUT) */
} lv_pg_conn_opts;

/* Connect as application_name app. dbname, when not NULL, replaces the database (of conninfo too: it
 * is how one backup visits every database). LV_ERR_PG with libpq's reason, naming dbname if given. */
int lv_pg_connect(const lv_pg_conn_opts *o, const char *dbname, const char *app, PGconn **out);

/* One statement; tuples (any number) or a command result are success, *res to PQclear. LV_ERR_PG
 * naming the statement (its first 80 characters) and the server's reason; *res is NULL then. */
int lv_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **res);

/* lv_pg_query expecting exactly one row; another count is LV_ERR_PG naming it. */
int lv_pg_query1(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **res);

/* Length of the first line of a libpq message (they end in a newline; some have several lines). */
int lv_pg_msg_len(const char *m);

#endif
