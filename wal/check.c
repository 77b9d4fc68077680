/* `labvault check` (contract in wal/check.h). */
#include "wal/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/log.h"
#include "wal/archive.h"
#include "wal/spool.h"
#include "wal/stanza.h"

static int check_cluster(lv_repo *r, PGconn *c)
{
    PGresult *res;
    int rc = lv_pg_query1(c, "SELECT pg_is_in_recovery(), current_setting('archive_mode'), "
                             "current_setting('archive_command'), "
                             "(SELECT system_identifier FROM pg_control_system())::text", 0, NULL, &res);
    if (rc)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        rc = lv_err(LV_ERR_PG, "PostgreSQL is in recovery (a standby): run check on the primary");
    else if (strcmp(PQgetvalue(res, 0, 1), "off") == 0)
        rc = lv_err(LV_ERR_PG, "archive_mode is off: set archive_mode = on and archive_command = "
                    "'labvault wal push %%p', then restart PostgreSQL");
    else if (!strstr(PQgetvalue(res, 0, 2), "wal push"))
        lv_warn("archive_command is '%s', which does not run `labvault wal push`", PQgetvalue(res, 0, 2));
    uint64_t sysid = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    if (rc)
        return rc;
    lv_wal_stanza st;
    rc = lv_wal_stanza_require(r, &st);
    if (rc == LV_ERR_NOT_FOUND) { /* no archive yet: the segment we are about to switch will create it */
        lv_err_clear();
        return LV_OK;
    }
    if (rc == LV_OK && st.sysid != sysid)
        rc = lv_err(LV_ERR_CONFLICT, "PostgreSQL cluster %" PRIu64 " is not the cluster repository %s archives "
                    "(%" PRIu64 ")", sysid, lv_store_describe(r->store), st.sysid);
    return rc;
}

static int switch_wal(PGconn *c, char name[LV_WAL_NAME_MAX])
{
    /* Something to switch: a segment holding no record since the last switch is not switched. */
    PGresult *res;
    if (lv_pg_query1(c, "SELECT pg_create_restore_point('labvault check')", 0, NULL, &res) == LV_OK) {
        PQclear(res);
    } else {
        lv_debug("%s; writing a transaction instead", lv_errmsg());
        if (lv_pg_query1(c, "SELECT txid_current()", 0, NULL, &res) != LV_OK)
            return LV_ERR_PG;
        PQclear(res);
    }
    int rc = lv_pg_query1(c, "SELECT pg_walfile_name(pg_switch_wal())", 0, NULL, &res);
    if (rc)
        return rc;
    snprintf(name, LV_WAL_NAME_MAX, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return LV_OK;
}

void lv_wal_archiver_failure(PGconn *c, char *out, size_t n)
{
    PGresult *res;
    out[0] = '\0';
    if (lv_pg_query1(c, "SELECT coalesce(last_failed_wal, ''), coalesce(last_failed_time::text, ''), "
                         "failed_count FROM pg_stat_archiver", 0, NULL, &res) != LV_OK) {
        lv_err_clear();
        return;
    }
    if (*PQgetvalue(res, 0, 0))
        snprintf(out, n, "; PostgreSQL's archiver failed %s times, last on %s at %s (see its log)",
                 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
}

int lv_wal_check(lv_repo *r, const lv_pg_conn_opts *pg, int timeout_s, lv_wal_check_result *res)
{
    memset(res, 0, sizeof *res);
    PGconn *c = NULL;
    int rc = lv_pg_connect(pg, NULL, "labvault check", &c);
    if (rc)
        return rc;
    if ((rc = check_cluster(r, c)) || (rc = switch_wal(c, res->segment))) {
        PQfinish(c);
        return rc;
    }
    lv_wal_name n;
    if ((rc = lv_wal_name_parse(res->segment, &n)) != LV_OK) {
        PQfinish(c);
        return lv_err(LV_ERR_PG, "pg_walfile_name returned '%s'", res->segment);
    }
    double start = lv_wal_now();
    lv_wal_object o;
    int count = 0;
    for (;;) {
        if ((rc = lv_wal_find(r->store, &n, &o, &count)) != LV_OK || count > 0)
            break;
        if (lv_wal_now() - start > timeout_s) {
            char why[512];
            lv_wal_archiver_failure(c, why, sizeof why);
            rc = lv_err(LV_ERR_CHECK, "WAL segment %s did not reach repository %s within %d s "
                        "(archive-timeout)%s", res->segment, lv_store_describe(r->store), timeout_s, why);
            break;
        }
        usleep(100 * 1000);
    }
    res->seconds = lv_wal_now() - start;
    PQfinish(c);
    if (rc)
        return rc;
    snprintf(res->key, sizeof res->key, "%s", o.key);
    lv_buf plain = LV_BUF_INIT;
    rc = lv_wal_object_read(r, &o, &plain);
    lv_buf_free(&plain);
    return rc;
}
