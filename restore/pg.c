/* `labvault restore pg` (contract in restore/pg.h): plan (restore/pg_plan.h), check the target
 * directory (restore/pg_write.h), mark it incomplete (restore/pg_mark.h), write the files, then the
 * recovery files in the order that keeps an interrupted restore from looking like a cluster:
 * tablespace_map, postgresql.auto.conf and recovery.signal (restore/pg_conf.h), backup_label, then one
 * syncfs per file system, and last PG_VERSION and the marker's removal. */
#include "restore/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "pg/manifest.h"
#include "restore/pg_conf.h"
#include "restore/pg_mark.h"
#include "restore/pg_plan.h"
#include "restore/pg_write.h"
#include "wal/pgdata.h"
#include "wal/segment.h"


static const char *const kind_names[] = {"latest", "immediate", "time", "xid", "lsn", "name"};

static int write_text(const char *dir, const char *name, const char *text)
{
    char *path = lv_xasprintf("%s/%s", dir, name);
    int rc = lv_write_file_atomic(path, text, strlen(text), 0600, 0);
    free(path);
    return rc;
}

/* tablespace_map as the server reads it ("oid location" lines, \ escaping \, newline and CR), written
 * from the final locations when any was remapped; otherwise the backup's own text. */
static int write_tablespace_map(const char *dir, const lv_pgman *m, char *const *loc)
{
    int remapped = 0;
    for (uint32_t i = 0; i < m->ntablespaces; i++)
        remapped |= strcmp(loc[i], m->tablespaces[i].location) != 0;
    if (!remapped)
        return m->tablespace_map[0] ? write_text(dir, "tablespace_map", m->tablespace_map) : LV_OK;
    lv_buf b = LV_BUF_INIT;
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        lv_buf_printf(&b, "%u ", m->tablespaces[i].oid);
        for (const char *p = loc[i]; *p; p++) {
            if (*p == '\\' || *p == '\n' || *p == '\r')
                lv_buf_append_str(&b, "\\");
            lv_buf_append(&b, p, 1);
        }
        lv_buf_append_str(&b, "\n");
    }
    int rc = write_text(dir, "tablespace_map", lv_buf_cstr(&b));
    lv_buf_free(&b);
    return rc;
}

static void summary(const lv_pg_restore_opts *o, const lv_pgman *m, const lv_pg_restore_result *res,
                    const char *restore_command, lv_buf *out)
{
    char lsn[LV_LSN_TEXT_MAX];
    lv_json j;
    lv_json_init(&j, out);
    lv_json_obj(&j);
    lv_json_key(&j, "backup");
    lv_json_str(&j, res->backup_id);
    lv_json_key(&j, "type");
    lv_json_str(&j, m->type == LV_PGB_INCR ? "incr" : "full");
    lv_json_key(&j, "to");
    lv_json_str(&j, o->to);
    lv_json_key(&j, "target");
    lv_json_obj(&j);
    lv_json_key(&j, "kind");
    lv_json_str(&j, kind_names[o->target]);
    if (o->target_value && o->target != LV_PGT_LATEST && o->target != LV_PGT_IMMEDIATE) {
        lv_json_key(&j, "value");
        lv_json_str(&j, o->target_value);
        lv_json_key(&j, "inclusive");
        lv_json_bool(&j, !o->target_exclusive);
    }
    lv_json_key(&j, "action");
    lv_json_str(&j, o->target_action ? o->target_action : "promote");
    lv_json_key(&j, "timeline");
    lv_json_str(&j, o->recovery_timeline ? o->recovery_timeline : "latest");
    if (res->target_found) {
        lv_lsn_format(res->target_lsn, lsn);
        lv_json_key(&j, "lsn");
        lv_json_str(&j, lsn);
        lv_json_key(&j, "record_timeline");
        lv_json_uint(&j, res->target_tli);
    }
    if (res->target_prepared && o->target_exclusive) { /* stopped before COMMIT PREPARED: prepared again */
        lv_json_key(&j, "prepared");
        lv_json_obj(&j);
        lv_json_key(&j, "gid");
        if (res->target_gid[0])
            lv_json_str(&j, res->target_gid);
        else
            lv_json_null(&j);
        lv_json_key(&j, "database");
        if (res->target_dbname[0])
            lv_json_str(&j, res->target_dbname);
        else
            lv_json_null(&j);
        if (res->target_gid[0]) {
            lv_buf sql = LV_BUF_INIT;
            lv_pg_rollback_prepared_sql(res->target_gid, &sql);
            lv_json_key(&j, "rollback");
            lv_json_str(&j, lv_buf_cstr(&sql));
            lv_buf_free(&sql);
        }
        lv_json_end(&j);
    }
    lv_json_end(&j);
    lv_json_key(&j, "timeline");
    lv_json_uint(&j, res->timeline);
    lv_json_key(&j, "pg_version");
    lv_json_int(&j, res->pg_version);
    lv_lsn_format(res->stop_lsn, lsn);
    lv_json_key(&j, "stop_lsn");
    lv_json_str(&j, lsn);
    lv_json_key(&j, "stop_time");
    lv_json_int(&j, res->stop_time);
    lv_json_key(&j, "delta");
    lv_json_bool(&j, o->delta);
    lv_json_key(&j, "dry_run");
    lv_json_bool(&j, o->dry_run);
    struct {
        const char *k;
        uint64_t v;
    } nums[] = {{"files", res->files},          {"files_kept", res->files_kept},
                {"bytes_written", res->bytes_written}, {"bytes_fetched", res->bytes_fetched},
                {"blobs_fetched", res->blobs_fetched}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        lv_json_key(&j, nums[i].k);
        lv_json_uint(&j, nums[i].v);
    }
    lv_json_key(&j, "seconds");
    lv_json_double(&j, res->seconds);
    lv_json_key(&j, "seconds_download");
    lv_json_double(&j, res->seconds_download);
    lv_json_key(&j, "seconds_write");
    lv_json_double(&j, res->seconds_write);
    if (restore_command) {
        lv_json_key(&j, "restore_command");
        lv_json_str(&j, restore_command);
    }
    lv_json_end(&j);
}

static int check_opts(const lv_pg_restore_opts *o)
{
    if (!o->to || !o->to[0])
        return lv_err(LV_ERR_USAGE, "restore pg: --to DIR is required");
    if (o->target_action && strcmp(o->target_action, "promote") && strcmp(o->target_action, "pause") &&
        strcmp(o->target_action, "shutdown"))
        return lv_err(LV_ERR_USAGE, "--target-action %s: use promote, pause or shutdown", o->target_action);
    if (o->target_exclusive &&
        (o->target == LV_PGT_LATEST || o->target == LV_PGT_IMMEDIATE || o->target == LV_PGT_NAME))
        return lv_err(LV_ERR_USAGE, "--target-exclusive needs --target-time, --target-xid or --target-lsn");
    if (o->target_action && o->target == LV_PGT_LATEST)
        return lv_err(LV_ERR_USAGE, "--target-action needs a recovery target");
    return LV_OK;
}

int lv_pg_restore(const lv_repo *r, const lv_pg_restore_opts *o, lv_pg_restore_result *res)
{
    memset(res, 0, sizeof *res);
    double t0 = lv_mono_s();
    int rc = check_opts(o);
    lv_pg_target t;
    if (rc == LV_OK)
        rc = lv_pg_target_parse(o->target, o->target_value, &t);
    if (rc == LV_OK)
        t.timeline = o->target_timeline;
    lv_pg_backup_info b;
    lv_wal_range range;
    lv_pg_resolved tr;
    if (rc == LV_OK)
        rc = lv_pg_plan(r, o->backup_id, &t, &b, &range, &tr);
    if (rc != LV_OK)
        return rc;
    res->target_found = tr.found;
    res->target_lsn = tr.lsn;
    res->target_tli = tr.tli;
    res->recovery_timeline = tr.timeline;
    res->target_prepared = tr.prepared;
    snprintf(res->target_gid, sizeof res->target_gid, "%s", tr.gid);
    res->target_dbid = tr.dbid;
    /* recovery_target_timeline: the target's, when the plan followed one; the backup's own for an immediate
     * target (any timeline after it is none of its business); else 'latest'. */
    char tl_text[16];
    lv_pg_restore_opts wo = *o;
    if (tr.timeline) {
        snprintf(tl_text, sizeof tl_text, "%u", tr.timeline);
        wo.recovery_timeline = tl_text;
    } else if (o->target == LV_PGT_IMMEDIATE) {
        wo.recovery_timeline = "current";
    }
    o = &wo;
    lv_pgman m;
    if ((rc = lv_pgman_load(r, b.id, &m)) != LV_OK)
        return lv_err_ctx("backup %.12s", b.id);
    if (m.stop_lsn != b.s.stop_lsn || m.timeline != b.s.timeline) {
        lv_pgman_free(&m);
        return lv_err(LV_ERR_CORRUPT, "backup %.12s: the manifest and its catalog summary disagree (stop LSN or "
                      "timeline); run `labvault catalog rebuild`", b.id);
    }
    snprintf(res->backup_id, sizeof res->backup_id, "%s", b.id);
    for (uint32_t i = 0; i < m.ndatabases && res->target_dbid; i++)
        if (m.databases[i].oid == res->target_dbid)
            snprintf(res->target_dbname, sizeof res->target_dbname, "%s", m.databases[i].name);
    res->stop_lsn = m.stop_lsn;
    res->stop_time = m.stop_time;
    res->timeline = m.timeline;
    res->pg_version = (int)(m.pg_version / 10000);
    char **loc = NULL;
    lv_buf cmd = LV_BUF_INIT;
    if (o->pg_bin) {
        char what[32];
        snprintf(what, sizeof what, "backup %.12s", b.id);
        if ((rc = lv_pg_bin_check(o->pg_bin, res->pg_version, what)) != LV_OK)
            goto out;
    }
    if ((rc = lv_pg_write_prepare(&m, o, &loc)) != LV_OK)
        goto out;
    if (o->restore_command)
        lv_buf_append_str(&cmd, o->restore_command);
    else if ((rc = lv_pg_restore_command(NULL, &cmd)) != LV_OK)
        goto out;
    if (o->target == LV_PGT_IMMEDIATE && m.wal_segment_size) {
        /* The target is the backup's end: no segment after the one holding it is needed, and recovery
         * must not stop on one it only reads ahead (wal/fetch.h lv_wal_fetch_needed). Like
         * pg_backup_stop, an end on a segment boundary is in the segment before it. */
        uint64_t end = m.stop_lsn % m.wal_segment_size == 0 && m.stop_lsn ? m.stop_lsn - 1 : m.stop_lsn;
        char last[25];
        lv_wal_segment_name(m.timeline, end / m.wal_segment_size, m.wal_segment_size, last);
        lv_buf_printf(&cmd, " --last-segment %s", last);
    }
    if (!o->dry_run) {
        lv_info("restoring backup %.12s into %s", b.id, o->to);
        /* Marked before the first file, unmarked after the last sync (restore/pg_mark.h). */
        int marked = 0;
        rc = lv_mkdir_p(o->to, 0700);
        if (rc == LV_OK && (rc = lv_pg_mark_begin(o->to, b.id)) == LV_OK)
            marked = 1;
        lv_pg_write_stats ws;
        memset(&ws, 0, sizeof ws);
        if (rc == LV_OK)
            rc = lv_pg_write(r, &m, o, loc, &ws);
        res->files = ws.files;
        res->files_kept = ws.files_kept;
        res->bytes_written = ws.bytes_written;
        res->bytes_fetched = ws.bytes_fetched;
        res->blobs_fetched = ws.blobs_fetched;
        res->seconds_download = ws.seconds_download;
        res->seconds_write = ws.seconds_write;
        if (rc == LV_OK)
            rc = write_tablespace_map(o->to, &m, loc);
        if (rc == LV_OK)
            rc = lv_pg_write_recovery(o->to, o, lv_buf_cstr(&cmd));
        if (rc == LV_OK)
            rc = write_text(o->to, "backup_label", m.backup_label);
        double ts = lv_mono_s();
        if (rc == LV_OK)
            rc = lv_pg_sync(o->to, &m, loc);
        if (rc == LV_OK)
            lv_info("restore: files written in %.2f s, then synced to disk in %.2f s", ts - t0, lv_mono_s() - ts);
        if (rc == LV_OK)
            rc = lv_pg_mark_finish(o->to);
        if (rc != LV_OK) {
            if (marked && lv_pg_mark_present(o->to))
                lv_err(rc, "%s; %s is an incomplete restore, marked by %s (PostgreSQL will not start it: no "
                       "PG_VERSION): finish it with the same restore and --delta, or remove it",
                       lv_errmsg(), o->to, LV_PG_MARKER);
            goto out;
        }
    }
    res->seconds = lv_mono_s() - t0;
    lv_buf js = LV_BUF_INIT;
    summary(o, &m, res, lv_buf_cstr(&cmd), &js);
    res->summary_json = lv_xstrdup(lv_buf_cstr(&js));
    lv_buf_free(&js);
out:
    lv_buf_free(&cmd);
    lv_pg_write_locations_free(&m, loc);
    lv_pgman_free(&m);
    return rc;
}

void lv_pg_restore_result_free(lv_pg_restore_result *res)
{
    free(res->summary_json);
    res->summary_json = NULL;
}
