/* Harness smoke test: connect with libpq to the shared PostgreSQL cluster that tests/harness/with-services.sh
 * started (LV_TEST_PG_HOST, LV_TEST_PG_PORT, LV_TEST_PG_USER, LV_TEST_PG_DATABASE) and check that it is
 * PostgreSQL 15 with data checksums on. Without those variables it is skipped (exit 77), or fails when CI
 * or LV_TEST_REQUIRE_SERVICES is set. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : fallback;
}

/* Runs a query that returns one value; returns a copy of it, or NULL after printing why. */
static char *query_one(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    char *out = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
    } else {
        const char *v = PQgetvalue(res, 0, 0);
        size_t n = strlen(v) + 1;
        out = malloc(n);
        if (out != NULL) {
            memcpy(out, v, n);
        }
    }
    PQclear(res);
    return out;
}

int main(void)
{
    const char *host = env_or("LV_TEST_PG_HOST", NULL);
    const char *port = env_or("LV_TEST_PG_PORT", NULL);
    if (host == NULL || port == NULL) {
        if (getenv("CI") != NULL || getenv("LV_TEST_REQUIRE_SERVICES") != NULL) {
            fprintf(stderr, "LV_TEST_PG_HOST/LV_TEST_PG_PORT unset: run via tests/run or "
                            "tests/harness/with-services.sh\n");
            return 1;
        }
        printf("skipped: no test services (LV_TEST_PG_HOST unset)\n");
        return 77;
    }
    const char *const keys[] = {"host", "port", "user", "dbname", "connect_timeout", "application_name", NULL};
    const char *const vals[] = {host, port, env_or("LV_TEST_PG_USER", "postgres"),
                                env_or("LV_TEST_PG_DATABASE", "postgres"), "10", "labvault-pg-smoke", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "connecting to %s:%s: %s", host, port, PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }

    int failed = 0;
    char *version = query_one(conn, "SELECT version()");
    if (version == NULL) {
        failed = 1;
    } else {
        printf("version(): %s\n", version);
        if (strncmp(version, "PostgreSQL 15.", strlen("PostgreSQL 15.")) != 0) {
            fprintf(stderr, "expected PostgreSQL 15.x\n");
            failed = 1;
        }
    }
    if (PQserverVersion(conn) / 10000 != 15) {
        fprintf(stderr, "PQserverVersion() = %d, expected 15xxxx\n", PQserverVersion(conn));
        failed = 1;
    }
    char *checksums = query_one(conn, "SHOW data_checksums");
    if (checksums == NULL || strcmp(checksums, "on") != 0) {
        fprintf(stderr, "data_checksums = %s, expected on (pg.sh runs initdb --data-checksums)\n",
                checksums != NULL ? checksums : "(error)");
        failed = 1;
    }
    free(version);
    free(checksums);
    PQfinish(conn);
    if (!failed) {
        printf("ok\n");
    }
    return failed;
}
