/* Planning a PostgreSQL restore (contract in restore/pg_plan.h). */
#include "restore/pg_plan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sort.h"
#include "common/timefmt.h"
#include "pg/manifest.h"
#include "wal/segment.h"

/* ---- targets ---------------------------------------------------------------------------------- */

int lv_pg_target_parse(lv_pg_target_kind kind, const char *value, lv_pg_target *t)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    switch (kind) {
    case LV_PGT_LATEST:
    case LV_PGT_IMMEDIATE:
        return LV_OK;
    case LV_PGT_TIME:
        if (!value || lv_time_parse_zoned(value, &t->time) != 0)
            return lv_err(LV_ERR_USAGE, "target time \"%s\" is not a time with a zone such as "
                          "\"2026-11-21 10:00:00.123+00\"", value ? value : "");
        return LV_OK;
    case LV_PGT_XID: {
        char *end;
        errno = 0;
        unsigned long long x = value && isdigit((unsigned char)value[0]) ? strtoull(value, &end, 10) : 0;
        if (!value || !isdigit((unsigned char)value[0]) || errno || *end || x < 3)
            return lv_err(LV_ERR_USAGE, "target xid \"%s\" is not a normal transaction id (a decimal number >= 3)",
                          value ? value : "");
        t->xid = x;
        return LV_OK;
    }
    case LV_PGT_LSN:
        if (!value || lv_lsn_parse(value, &t->lsn) != LV_OK)
            return lv_err(LV_ERR_USAGE, "target LSN \"%s\" is not an LSN such as 0/3000060", value ? value : "");
        return LV_OK;
    case LV_PGT_NAME:
        if (!value || !value[0] || strlen(value) >= 64)
            return lv_err(LV_ERR_USAGE, "target name \"%s\" must be 1..63 bytes (a pg_create_restore_point name)",
                          value ? value : "");
        t->name = value;
        return LV_OK;
    }
    return lv_err(LV_ERR_USAGE, "unknown recovery target kind %d", (int)kind);
}

/* ---- plan ------------------------------------------------------------------------------------- */

int lv_pg_plan(const lv_repo *r, const char *backup_id, const lv_pg_target *t, lv_pg_backup_info *chosen,
               lv_wal_range *range, lv_pg_resolved *res)
{
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "restore pg: no catalog attached");
    lv_pg_backup_info *v;
    size_t n;
    int rc = lv_pg_backups_list(r->cat, &v, &n);
    if (rc != LV_OK)
        return rc;
    if (n == 0) {
        free(v);
        return lv_err(LV_ERR_NOT_FOUND, "no PostgreSQL backup in the catalog (`labvault backup pg` first; "
                      "`labvault catalog rebuild` if the catalog is stale)");
    }
    rc = lv_pg_choose(r, v, n, backup_id, t, chosen, range, res);
    free(v);
    return rc;
}

int lv_pg_window_get(const lv_repo *r, lv_pg_window *w)
{
    memset(w, 0, sizeof *w);
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "backups: no catalog attached");
    lv_pg_backup_info *v;
    size_t n;
    int rc = lv_pg_backups_list(r->cat, &v, &n);
    if (rc != LV_OK || n == 0) {
        free(v);
        return rc;
    }
    w->have = 1;
    snprintf(w->oldest_backup, sizeof w->oldest_backup, "%s", v[0].id);
    w->from_time = v[0].s.stop_time;
    w->from_lsn = v[0].s.stop_lsn;
    lv_wal_range wr;
    rc = lv_wal_range_from(r, v[0].s.timeline, v[0].s.start_lsn, &wr);
    if (rc == LV_OK) {
        w->to_time = wr.last_commit_time;
        w->to_lsn = wr.end_lsn;
        w->to_tli = wr.end_tli;
    } else {
        lv_err_ctx("the recoverable window of backup %.12s", v[0].id);
    }
    free(v);
    return rc;
}
