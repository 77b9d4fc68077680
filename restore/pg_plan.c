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
        return LV_OK;
    }
    return lv_err(LV_ERR_USAGE, "unknown recovery target kind %d", (int)kind);
}

/* ---- choice and checks ------------------------------------------------------------------------ */

static int resolve(const lv_pg_backup_info *v, size_t n, const char *prefix, lv_pg_backup_info *out)
{
    size_t len = strlen(prefix), found = SIZE_MAX;
    if (len < 8 || len > 2 * LV_HASH_LEN || strspn(prefix, "0123456789abcdef") != len)
        return lv_err(LV_ERR_USAGE, "backup \"%s\": give at least 8 lower-case hex digits of its id", prefix);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(v[i].id, prefix, len) != 0)
            continue;
        if (found != SIZE_MAX)
            return lv_err(LV_ERR_USAGE, "backup \"%s\" is ambiguous (%.12s, %.12s): give more digits", prefix,
                          v[found].id, v[i].id);
        found = i;
    }
    if (found == SIZE_MAX)
        return lv_err(LV_ERR_NOT_FOUND, "no PostgreSQL backup %s in the catalog (`labvault backups`)", prefix);
    *out = v[found];
    return LV_OK;
}

static void window_text(const lv_pg_backup_info *oldest, const lv_wal_range *wr, char *out, size_t n)
{
    char t0[32], t1[32] = "an unknown time", l0[LV_LSN_TEXT_MAX], l1[LV_LSN_TEXT_MAX];
    lv_time_format(oldest->s.stop_time, LV_TIME_SQL, t0);
    if (wr->last_commit_time)
        lv_time_format(wr->last_commit_time, LV_TIME_SQL, t1);
    lv_lsn_format(oldest->s.stop_lsn, l0);
    lv_lsn_format(wr->end_lsn, l1);
    snprintf(out, n, "recoverable window: %s (end of backup %.12s) to %s (last archived commit); LSN %s to %s",
             t0, oldest->id, t1, l0, l1);
}

/* The target lies past a damaged segment: name it and the last point recovery can reach. */
static int damaged(const lv_wal_range *wr, const char *what)
{
    char lsn[LV_LSN_TEXT_MAX], when[32] = "";
    lv_lsn_format(wr->end_lsn, lsn);
    if (wr->last_commit_time)
        lv_time_format(wr->last_commit_time, LV_TIME_SQL, when);
    return lv_err(LV_ERR_CORRUPT, "%s cannot be reached: WAL segment %s is damaged; the last point recovery can "
                  "reach is LSN %s%s%s%s", what, wr->damaged, lsn, when[0] ? " (last commit " : "", when,
                  when[0] ? ")" : "");
}

static int check_target(const lv_pg_target *t, const lv_pg_backup_info *oldest, const lv_pg_backup_info *b,
                        const lv_wal_range *wr)
{
    char win[256], a[32], lsn[LV_LSN_TEXT_MAX];
    window_text(oldest, wr, win, sizeof win);
    if (t->kind == LV_PGT_TIME) {
        if (t->time < (double)b->s.stop_time + 1) {
            lv_time_format(b->s.stop_time, LV_TIME_SQL, a);
            return lv_err(LV_ERR_USAGE, "target time is before backup %.12s became consistent (%s); %s", b->id, a, win);
        }
        /* 0: no commit time could be found (wal/range.h scans a bounded number of segments); recovery
         * itself then reports a target it does not reach. */
        if (!wr->last_commit_time && !wr->damaged[0])
            lv_warn("the archive's last commit time is unknown: the target time is checked only against the "
                    "backup");
        else if (wr->damaged[0] && (!wr->last_commit_time || t->time >= (double)wr->last_commit_time + 1))
            return damaged(wr, "target time");
        else if (t->time >= (double)wr->last_commit_time + 1)
            return lv_err(LV_ERR_USAGE, "target time is after the last archived commit; %s", win);
    } else if (t->kind == LV_PGT_LSN) {
        if (t->lsn < b->s.stop_lsn) {
            lv_lsn_format(b->s.stop_lsn, lsn);
            return lv_err(LV_ERR_USAGE, "target LSN is before backup %.12s became consistent (%s); %s", b->id, lsn,
                          win);
        }
        if (t->lsn >= wr->end_lsn && wr->damaged[0])
            return damaged(wr, "target LSN");
        if (t->lsn >= wr->end_lsn)
            return lv_err(LV_ERR_USAGE, "target LSN is past the end of the archived WAL%s%s; %s",
                          wr->missing[0] ? " (missing segment " : "", wr->missing[0] ? wr->missing : "", win);
    }
    return LV_OK;
}

int lv_pg_plan(const lv_repo *r, const char *backup_id, const lv_pg_target *t, lv_pg_backup_info *chosen,
               lv_wal_range *range)
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
    if (backup_id) {
        rc = resolve(v, n, backup_id, chosen);
    } else {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (t->kind == LV_PGT_TIME && !(t->time >= (double)v[i].s.stop_time + 1))
                continue;
            if (t->kind == LV_PGT_LSN && v[i].s.stop_lsn > t->lsn)
                continue;
            pick = i; /* oldest first: the last match is the newest */
        }
        if (pick == SIZE_MAX)
            pick = 0; /* none ends before the target: the check below names the window */
        *chosen = v[pick];
    }
    if (rc == LV_OK) {
        char lsn[LV_LSN_TEXT_MAX], stop[LV_LSN_TEXT_MAX];
        /* Only a time target needs commit times, which means reading segments; the others are checked from
         * the listing, so that a damaged segment the target does not need cannot stop the restore. */
        int timed = t->kind == LV_PGT_TIME;
        rc = timed ? lv_wal_range_from(r, chosen->s.timeline, chosen->s.start_lsn, range)
                   : lv_wal_range_lsn(r, chosen->s.timeline, chosen->s.start_lsn, range);
        if (rc != LV_OK) {
            lv_err_ctx("backup %.12s cannot be restored: its WAL is not in the archive", chosen->id);
        } else if (range->end_lsn < chosen->s.stop_lsn) {
            lv_lsn_format(range->end_lsn, lsn);
            lv_lsn_format(chosen->s.stop_lsn, stop);
            rc = lv_err(range->damaged[0] ? LV_ERR_CORRUPT : LV_ERR_NOT_FOUND, "backup %.12s cannot be restored: it "
                        "needs the WAL up to %s, the archive stops at %s (segment %s %s)", chosen->id, stop, lsn,
                        range->damaged[0] ? range->damaged : range->missing[0] ? range->missing : "?",
                        range->damaged[0] ? "damaged" : "missing");
        } else {
            rc = check_target(t, &v[0], chosen, range);
            if (rc == LV_ERR_USAGE && !timed) {
                /* Refused: now the times are worth reading, to name the window in the message. */
                lv_wal_range with;
                if (lv_wal_range_from(r, chosen->s.timeline, chosen->s.start_lsn, &with) == LV_OK)
                    *range = with;
                rc = check_target(t, &v[0], chosen, range);
            }
        }
    }
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
