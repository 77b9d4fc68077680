/* The live cluster beside its archive (contract in wal/live.h). */
#include "wal/live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "wal/check.h"
#include "wal/range.h"
#include "wal/segment.h"
#include "wal/stanza.h"

#define CONNECT_TIMEOUT "5"

/* Connect and check the cluster is the stanza's; fills standby, tli, lsn. */
static int open_live(const lv_repo *r, const lv_pg_conn_opts *pg, PGconn **out, lv_wal_live *l)
{
    lv_pg_conn_opts o = *pg;
    if (!o.connect_timeout)
        o.connect_timeout = CONNECT_TIMEOUT;
    PGconn *c = NULL;
    int rc = lv_pg_connect(&o, NULL, "labvault", &c);
    if (rc != LV_OK)
        return rc;
    PGresult *res;
    rc = lv_pg_query1(c, "SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())::text, "
                         "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                         "ELSE pg_current_wal_insert_lsn() END::text, "
                         "CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())::text "
                         "ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END",
                      0, NULL, &res);
    if (rc != LV_OK) {
        PQfinish(c);
        return rc;
    }
    l->standby = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    uint64_t sysid = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    if (lv_lsn_parse(PQgetvalue(res, 0, 2), &l->lsn) != LV_OK)
        lv_err_clear();
    l->tli = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, l->standby ? 10 : 16);
    PQclear(res);
    lv_wal_stanza st;
    if ((rc = lv_wal_stanza_get(r, &st)) == LV_OK && st.sysid != sysid)
        rc = lv_err(LV_ERR_CONFLICT, "PostgreSQL cluster %" PRIu64 " is not the cluster this repository archives "
                    "(%" PRIu64 ")", sysid, st.sysid);
    if (rc != LV_OK) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return LV_OK;
}

void lv_wal_live_get(const lv_repo *r, const lv_pg_conn_opts *pg, lv_wal_live *out)
{
    memset(out, 0, sizeof *out);
    PGconn *c = NULL;
    if (open_live(r, pg, &c, out) != LV_OK) {
        snprintf(out->why, sizeof out->why, "%s", lv_errmsg());
        lv_err_clear();
        return;
    }
    out->reached = 1;
    PQfinish(c);
}

int lv_wal_live_switch(const lv_repo *r, const lv_pg_conn_opts *pg, int timeout_s, uint64_t *upto)
{
    lv_wal_live l;
    memset(&l, 0, sizeof l);
    PGconn *c = NULL;
    int rc = open_live(r, pg, &c, &l);
    if (rc != LV_OK)
        return rc;
    if (l.standby) {
        PQfinish(c);
        return lv_err(LV_ERR_PG, "PostgreSQL is in recovery (a standby): switch the WAL segment on the primary");
    }
    /* pg_switch_wal() ends the segment being written (when it holds anything since the last switch) and
     * returns the end of the WAL before the switch: every segment up to the one holding it must arrive. */
    PGresult *res;
    uint32_t seg_size = 0;
    if ((rc = lv_pg_query1(c, "SELECT pg_switch_wal()::text", 0, NULL, &res)) == LV_OK) {
        if (lv_lsn_parse(PQgetvalue(res, 0, 0), upto) != LV_OK)
            rc = lv_err(LV_ERR_PG, "pg_switch_wal() returned '%s'", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    if (rc == LV_OK)
        rc = lv_wal_seg_size(r, &seg_size);
    if (rc == LV_OK) {
        uint64_t last = *upto ? *upto - 1 : 0;
        rc = lv_wal_wait_range(r, l.tli, last / seg_size * seg_size, last, seg_size, timeout_s);
        if (rc == LV_ERR_INCOMPLETE) {
            char why[512];
            lv_wal_archiver_failure(c, why, sizeof why);
            rc = lv_err(LV_ERR_CHECK, "%s%s", lv_errmsg(), why);
        }
    }
    PQfinish(c);
    return rc;
}
