/* Choosing the backup for a restore target (contract in restore/pg_plan.h, lv_pg_choose). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "restore/pg_plan.h"
#include "wal/range.h"
#include "wal/segment.h"
#include "wal/targets.h"
#include "wal/timeline.h"

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

/* The target's timeline and its history: --target-timeline, else the newest. */
static int target_history(const lv_repo *r, const lv_pg_target *t, uint32_t *tli, lv_wal_tl_span *sp, size_t *n)
{
    int rc = LV_OK;
    *tli = t->timeline;
    if (!*tli && (rc = lv_wal_newest_timeline(r, tli)) != LV_OK)
        return rc;
    rc = lv_wal_history_get(r, *tli, sp, n);
    if (rc == LV_ERR_NOT_FOUND && t->timeline)
        return lv_err(LV_ERR_USAGE, "--target-timeline %u: %s", t->timeline, lv_errmsg());
    return rc;
}

/* The target was not found after the oldest backup's start: is it in the WAL archived before it? Then no
 * backup can reach it, and the message says so. LV_OK when it is not there either. */
static int before_every_backup(const lv_repo *r, const lv_pg_target *t, const lv_pg_backup_info *o, uint32_t tli)
{
    uint32_t ftli;
    uint64_t first;
    lv_wal_segs s;
    if (lv_wal_first_segment(r, o->s.timeline, &ftli, &first) != LV_OK || first >= o->s.start_lsn ||
        lv_wal_segs_open(r, o->s.timeline, first, tli, &s) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    size_t upto = lv_wal_segs_index(&s, o->s.start_lsn); /* only the WAL before the backup */
    if (upto < s.n)
        s.n = upto + 1;
    uint64_t lsn = 0;
    if (t->kind == LV_PGT_XID) {
        lv_wal_xact_end e;
        if (lv_wal_find_xact_end(r, &s, 0, (uint32_t)t->xid, &e) == LV_OK)
            lsn = e.lsn;
        lv_wal_xact_end_free(&e);
    } else {
        lv_wal_point *p = NULL;
        size_t np = 0;
        if (lv_wal_find_restore_points(r, &s, t->name, &p, &np) == LV_OK && np)
            lsn = p[np - 1].lsn;
        free(p);
    }
    lv_err_clear();
    lv_wal_segs_free(&s);
    if (!lsn)
        return LV_OK;
    char at[LV_LSN_TEXT_MAX], stop[LV_LSN_TEXT_MAX];
    lv_lsn_format(lsn, at);
    lv_lsn_format(o->s.stop_lsn, stop);
    if (t->kind == LV_PGT_XID)
        return lv_err(LV_ERR_USAGE, "no backup became consistent before the target xid %llu (at %s): the oldest "
                      "backup, %.12s, became consistent at %s; nothing was written", (unsigned long long)t->xid, at,
                      o->id, stop);
    return lv_err(LV_ERR_USAGE, "no backup became consistent before the target restore point \"%s\" (at %s): the "
                  "oldest backup, %.12s, became consistent at %s; nothing was written", t->name, at, o->id, stop);
}

/* Resolve an xid or name target to its record, searching from backup o's start along timeline tli. */
static int resolve_target(const lv_repo *r, const lv_pg_target *t, const lv_pg_backup_info *o, uint32_t tli,
                          lv_pg_resolved *res)
{
    lv_wal_segs s;
    int rc = lv_wal_segs_open(r, o->s.timeline, o->s.start_lsn, tli, &s);
    if (rc != LV_OK)
        return lv_err_ctx("the archived WAL from backup %.12s", o->id);
    if (t->kind == LV_PGT_XID) {
        lv_wal_xact_end e;
        rc = lv_wal_find_xact_end(r, &s, 0, (uint32_t)t->xid, &e);
        if (rc == LV_ERR_NOT_FOUND)
            rc = lv_err(LV_ERR_USAGE, "target xid %llu: %s; if it committed moments ago, its WAL may not be "
                        "archived yet (`labvault wal drops --switch` switches to a new segment and waits for it)",
                        (unsigned long long)t->xid, lv_errmsg());
        if (rc == LV_OK) {
            res->found = 1;
            res->lsn = e.lsn;
            res->tli = e.tli;
            res->time_us = e.time_us;
            res->prepared = e.prepared;
            res->commit = e.commit;
            res->dbid = e.prepared && e.prepare_dbid ? e.prepare_dbid : e.dbid;
            snprintf(res->gid, sizeof res->gid, "%s", e.gid);
        }
        lv_wal_xact_end_free(&e);
    } else {
        lv_wal_point *p = NULL;
        size_t np = 0;
        rc = lv_wal_find_restore_points(r, &s, t->name, &p, &np);
        char from[LV_LSN_TEXT_MAX], to[LV_LSN_TEXT_MAX];
        lv_lsn_format(s.range.from_lsn, from);
        lv_lsn_format(s.range.end_lsn, to);
        if (rc == LV_OK && np == 0) {
            rc = lv_err(LV_ERR_USAGE, "target name \"%s\": no restore point of that name in the archived WAL from "
                        "%s to %s (timeline %u to %u)", t->name, from, to, s.range.start_tli, s.range.end_tli);
        } else if (rc == LV_OK && np > 1) {
            char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
            lv_lsn_format(p[0].lsn, a);
            lv_lsn_format(p[np - 1].lsn, b);
            rc = lv_err(LV_ERR_USAGE, "target name \"%s\" names %zu restore points (first at %s, last at %s): "
                        "recovery would stop at whichever comes first after the backup; give --target-lsn with "
                        "the LSN of the one you mean", t->name, np, a, b);
        } else if (rc == LV_OK) {
            res->found = 1;
            res->lsn = p[0].lsn;
            res->tli = p[0].tli;
            res->time_us = p[0].time_us;
        }
        free(p);
    }
    lv_wal_segs_free(&s);
    if (rc == LV_ERR_USAGE && !res->found) {
        char *why = lv_xstrdup(lv_errmsg());
        int before = before_every_backup(r, t, o, tli);
        if (before == LV_OK)
            lv_err(rc, "%s", why);
        free(why);
        return before == LV_OK ? rc : before;
    }
    return rc;
}

/* "xid 1234 (committed at 0/5A0001C8 on timeline 2)" and the like, for messages. */
static void target_text(const lv_pg_target *t, const lv_pg_resolved *res, char *out, size_t n)
{
    char lsn[LV_LSN_TEXT_MAX];
    lv_lsn_format(res->found ? res->lsn : t->lsn, lsn);
    switch (t->kind) {
    case LV_PGT_XID:
        snprintf(out, n, "xid %llu (%s at %s on timeline %u)", (unsigned long long)t->xid,
                 res->commit ? "committed" : "aborted", lsn, res->tli);
        break;
    case LV_PGT_NAME:
        snprintf(out, n, "restore point \"%s\" (at %s on timeline %u)", t->name, lsn, res->tli);
        break;
    case LV_PGT_LSN:
        snprintf(out, n, "LSN %s", lsn);
        break;
    default: {
        char tm[32];
        lv_time_format((int64_t)t->time, LV_TIME_SQL, tm);
        snprintf(out, n, "time %s", tm);
    }
    }
}

/* Did backup b become consistent before the target? */
static int before(const lv_pg_target *t, const lv_pg_resolved *res, const lv_pg_backup_info *b)
{
    if (t->kind == LV_PGT_TIME)
        return t->time >= (double)b->s.stop_time + 1;
    if (t->kind == LV_PGT_LSN)
        return b->s.stop_lsn <= t->lsn;
    if (res->found)
        return b->s.stop_lsn <= res->lsn;
    return 1;
}

int lv_pg_choose(const lv_repo *r, const lv_pg_backup_info *v, size_t n, const char *backup_id, const lv_pg_target *t,
                 lv_pg_backup_info *chosen, lv_wal_range *range, lv_pg_resolved *res)
{
    memset(res, 0, sizeof *res);
    lv_wal_tl_span h[LV_WAL_LINEAGE_MAX];
    size_t nh = 0;
    uint32_t tli = 0;
    int rc = LV_OK;
    int immediate = t->kind == LV_PGT_IMMEDIATE && !t->timeline;
    if (!immediate && (rc = target_history(r, t, &tli, h, &nh)) != LV_OK)
        return rc;
    /* The candidates: backups whose end is on the target's history. */
    char *ok = lv_xcalloc(n, 1);
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        ok[i] = immediate || lv_wal_history_has(h, nh, v[i].s.timeline, v[i].s.stop_lsn);
        if (ok[i] && first == SIZE_MAX)
            first = i;
    }
    if (first == SIZE_MAX) {
        rc = lv_err(LV_ERR_USAGE, "no PostgreSQL backup lies on the history of timeline %u (the newest backup, "
                    "%.12s, is on timeline %u): give --target-timeline with the timeline you mean", tli,
                    v[n - 1].id, v[n - 1].s.timeline);
        goto out;
    }
    if ((t->kind == LV_PGT_XID || t->kind == LV_PGT_NAME) &&
        (rc = resolve_target(r, t, &v[first], tli, res)) != LV_OK)
        goto out;
    char what[160];
    target_text(t, res, what, sizeof what);
    if (backup_id) {
        if ((rc = resolve(v, n, backup_id, chosen)) != LV_OK)
            goto out;
        if (!immediate && !lv_wal_history_has(h, nh, chosen->s.timeline, chosen->s.stop_lsn)) {
            rc = lv_err(LV_ERR_USAGE, "backup %.12s (timeline %u) is not on the history of timeline %u: recovery "
                        "from it cannot reach the target", chosen->id, chosen->s.timeline, tli);
            goto out;
        }
        if (res->found && !before(t, res, chosen)) {
            char stop[LV_LSN_TEXT_MAX];
            lv_lsn_format(chosen->s.stop_lsn, stop);
            rc = lv_err(LV_ERR_USAGE, "backup %.12s became consistent at %s, after the target %s: recovery from it "
                        "cannot stop there; choose an older backup (or none: the newest one before the target is "
                        "taken)", chosen->id, stop, what);
            goto out;
        }
    } else {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < n; i++)
            if (ok[i] && before(t, res, &v[i]))
                pick = i; /* oldest first: the last match is the newest */
        if (pick == SIZE_MAX && res->found) {
            char stop[LV_LSN_TEXT_MAX];
            lv_lsn_format(v[first].s.stop_lsn, stop);
            rc = lv_err(LV_ERR_USAGE, "no backup became consistent before the target %s: the oldest backup on its "
                        "history, %.12s, became consistent at %s; nothing was written", what, v[first].id, stop);
            goto out;
        }
        /* time and LSN targets before every backup: the check below names the window */
        *chosen = v[pick == SIZE_MAX ? first : pick];
    }
    res->timeline = t->timeline ? t->timeline : res->found ? tli : 0;
    char lsn[LV_LSN_TEXT_MAX], stop[LV_LSN_TEXT_MAX];
    /* Only a time target needs commit times, which means reading segments; the others are checked from the
     * listing, so that a damaged segment the target does not need cannot stop the restore. */
    int timed = t->kind == LV_PGT_TIME;
    uint32_t along = immediate ? chosen->s.timeline : tli;
    rc = timed ? lv_wal_range_to(r, chosen->s.timeline, chosen->s.start_lsn, along, range)
               : lv_wal_range_lsn_to(r, chosen->s.timeline, chosen->s.start_lsn, along, range);
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
        rc = check_target(t, &v[first], chosen, range);
        if (rc == LV_ERR_USAGE && !timed) {
            /* Refused: now the times are worth reading, to name the window in the message. */
            lv_wal_range with;
            if (lv_wal_range_to(r, chosen->s.timeline, chosen->s.start_lsn, along, &with) == LV_OK)
                *range = with;
            rc = check_target(t, &v[first], chosen, range);
        }
    }
out:
    free(ok);
    return rc;
}

void lv_pg_rollback_prepared_sql(const char *gid, lv_buf *out)
{
    lv_buf_append_str(out, "ROLLBACK PREPARED '");
    for (const char *p = gid; *p; p++) {
        if (*p == '\'')
            lv_buf_append_str(out, "'"); /* a quote inside an SQL literal is doubled */
        lv_buf_append(out, p, 1);
    }
    lv_buf_append_str(out, "'");
}

void lv_pg_prepared_note(const char *gid, uint32_t xid, const char *dbname, lv_buf *out)
{
    lv_buf_printf(out, "note: transaction %u is a prepared transaction (two-phase commit). Recovery stops before its "
                  "COMMIT PREPARED, so in the restored cluster it is prepared again and holds its locks (queries on "
                  "the tables it touched wait for it); committing it would redo what it did. Discard it on the "
                  "restored server%s%s%s:\n", xid, dbname ? ", in database " : "", dbname ? dbname : "",
                  dbname ? "" : ", in the database it ran in");
    if (gid[0]) {
        lv_buf_append_str(out, "    ");
        lv_pg_rollback_prepared_sql(gid, out);
        lv_buf_append_str(out, ";\n");
    } else {
        lv_buf_printf(out, "    SELECT gid, database FROM pg_prepared_xacts WHERE transaction = '%u';  -- then\n"
                      "    ROLLBACK PREPARED '<that gid>';\n", xid);
    }
}
