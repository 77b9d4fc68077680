/* libpq session, cluster facts, start and stop (contract in backup/pg_session.h). */
#include "backup/pg_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "wal/segment.h"

int lv_pgs_info_get(PGconn *c, lv_pgs_info *info)
{
    memset(info, 0, sizeof *info);
    PGresult *res;
    int rc = lv_pg_query1(c,
                    "SELECT current_setting('server_version_num'), current_setting('data_directory'), "
                    "current_setting('data_checksums'), current_setting('block_size'), "
                    "current_setting('segment_size'), current_setting('wal_segment_size'), "
                    "(SELECT system_identifier FROM pg_control_system())::text, pg_is_in_recovery(), "
                    "current_setting('archive_mode'), (SELECT timeline_id FROM pg_control_checkpoint())",
                    0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    info->version = atoi(PQgetvalue(res, 0, 0));
    snprintf(info->data_directory, sizeof info->data_directory, "%s", PQgetvalue(res, 0, 1));
    info->data_checksums = strcmp(PQgetvalue(res, 0, 2), "on") == 0;
    /* block_size is in bytes; segment_size and wal_segment_size print with units ("1GB", "16MB"). */
    info->block_size = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
    info->sysid = strtoull(PQgetvalue(res, 0, 6), NULL, 10);
    info->in_recovery = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
    snprintf(info->archive_mode, sizeof info->archive_mode, "%s", PQgetvalue(res, 0, 8));
    info->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 9), NULL, 10);
    PQclear(res);
    /* Exact byte values without unit parsing: pg_settings gives them in their unit (blocks / bytes). */
    rc = lv_pg_query1(c,
                "SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'segment_size'), "
                "(SELECT setting::bigint * coalesce(nullif(regexp_replace(coalesce(unit, '1'), '[^0-9]', '', "
                "'g'), '')::bigint, 1) * CASE WHEN unit LIKE '%MB' THEN 1048576 WHEN unit LIKE '%kB' THEN 1024 "
                "ELSE 1 END FROM pg_settings WHERE name = 'wal_segment_size')",
                0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    info->segment_blocks = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    info->wal_segment_size = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    if (info->version < 130000 || info->version >= 190000 || info->block_size < 1024 || info->block_size > 32768 ||
        (info->block_size & (info->block_size - 1)) || info->segment_blocks == 0 || info->wal_segment_size == 0)
        return lv_err(LV_ERR_PG, "unsupported PostgreSQL server: version %d, block size %u, segment %u blocks, "
                      "WAL segment %u bytes (labvault supports 13 to 18)", info->version, info->block_size,
                      info->segment_blocks, info->wal_segment_size);
    return LV_OK;
}

static int lsn_of(const char *text, uint64_t *lsn)
{
    if (lv_lsn_parse(text, lsn) != LV_OK)
        return lv_err(LV_ERR_PG, "PostgreSQL returned '%s' for an LSN", text);
    return LV_OK;
}

int lv_pgs_start(PGconn *c, int version, const char *label, int fast, uint64_t *start_lsn, uint32_t *timeline)
{
    const char *params[] = {label, fast ? "true" : "false"};
    PGresult *res;
    int rc = lv_pg_query1(c, version >= 150000 ? "SELECT pg_backup_start($1, $2)::text"
                                         : "SELECT pg_start_backup($1, $2, false)::text",
                    2, params, &res);
    if (rc != LV_OK)
        return rc;
    rc = lsn_of(PQgetvalue(res, 0, 0), start_lsn);
    PQclear(res);
    if (rc != LV_OK)
        return rc;
    /* The checkpoint the start made is the one pg_control now names: its timeline is the backup's. */
    if ((rc = lv_pg_query1(c, "SELECT timeline_id FROM pg_control_checkpoint()", 0, NULL, &res)) != LV_OK)
        return rc;
    *timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return LV_OK;
}

int lv_pgs_stop(PGconn *c, int version, uint64_t *stop_lsn, char **backup_label, char **tablespace_map)
{
    PGresult *res;
    int rc = lv_pg_query1(c, version >= 150000
                           ? "SELECT lsn::text, labelfile, coalesce(spcmapfile, '') FROM pg_backup_stop(false)"
                           : "SELECT lsn::text, labelfile, coalesce(spcmapfile, '') FROM pg_stop_backup(false, false)",
                    0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    rc = lsn_of(PQgetvalue(res, 0, 0), stop_lsn);
    if (rc == LV_OK) {
        *backup_label = lv_xstrdup(PQgetvalue(res, 0, 1));
        *tablespace_map = lv_xstrdup(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return rc;
}

int lv_pgs_position(PGconn *c, uint64_t *lsn)
{
    PGresult *res;
    int rc = lv_pg_query1(c, "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                             "ELSE pg_current_wal_lsn() END)::text", 0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    rc = lsn_of(PQgetvalue(res, 0, 0), lsn);
    PQclear(res);
    return rc;
}

int lv_pgs_stop_snapshot(PGconn *c, uint64_t stop_lsn, uint32_t seg_size, char **out, int *quiet)
{
    *quiet = 0;
    PGresult *res;
    int rc = lv_pg_query1(c, "SELECT pg_current_snapshot()::text, pg_current_wal_insert_lsn()::text", 0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    uint64_t at;
    *out = lv_xstrdup(PQgetvalue(res, 0, 0));
    if (seg_size && lsn_of(PQgetvalue(res, 0, 1), &at) == LV_OK) {
        uint64_t next = (stop_lsn + seg_size - 1) / seg_size * seg_size; /* the switch's target */
        *quiet = at == next || at == next + 40;                          /* + SizeOfXLogLongPHD */
    }
    lv_err_clear();
    PQclear(res);
    return LV_OK;
}

int lv_pgs_snapshot(PGconn *c, char **out)
{
    PGresult *res;
    int rc = lv_pg_query1(c, "SELECT pg_current_snapshot()::text", 0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    *out = lv_xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return LV_OK;
}

int lv_pgs_checkpoint_xid(PGconn *c, uint64_t *redo, uint64_t *next_xid)
{
    PGresult *res;
    int rc = lv_pg_query1(c, "SELECT redo_lsn::text, next_xid FROM pg_control_checkpoint()", 0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    unsigned long long epoch = 0, xid = 0;
    char *e;
    const char *t = PQgetvalue(res, 0, 1);
    epoch = strtoull(t, &e, 10);
    if (*e == ':')
        xid = strtoull(e + 1, &e, 10);
    if (lv_lsn_parse(PQgetvalue(res, 0, 0), redo) != LV_OK || *e || xid > UINT32_MAX || !xid)
        rc = lv_err(LV_ERR_PG, "pg_control_checkpoint() answered %s, %s", PQgetvalue(res, 0, 0), t);
    else
        *next_xid = (uint64_t)epoch << 32 | xid;
    PQclear(res);
    return rc;
}
