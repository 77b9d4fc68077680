/* labvault status (contract in status/status.h). */
#include "status/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/sort.h"
#include "common/timefmt.h"
#include "catalog/blobs.h"
#include "catalog/wal.h"
#include "drills/drill.h"
#include "retention/forget.h"
#include "wal/status.h"

typedef struct group {
    char kind[8], name[300];
    int64_t newest;
    uint64_t bytes;
} group;

typedef struct acc {
    group *g;
    size_t n, cap;
} acc;

static group *group_of(acc *a, const char *kind, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->g[i].kind, kind) == 0 && strcmp(a->g[i].name, name) == 0)
            return &a->g[i];
    LV_GROW(a->g, a->n, a->cap);
    group *g = &a->g[a->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->kind, sizeof g->kind, "%s", kind);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->newest = -1;
    return g;
}

/* The backup set a snapshot belongs to (its "set:NAME" tag), or NULL. */
static const char *set_of(const lv_snap_summary *s)
{
    for (size_t i = 0; i < s->ntags; i++)
        if (strlen(s->tags[i]) > 4 && strncmp(s->tags[i], "set:", 4) == 0)
            return s->tags[i];
    return NULL;
}

static void note(acc *a, const char *kind, const char *name, int64_t time, uint64_t bytes)
{
    group *g = group_of(a, kind, name);
    if (time > g->newest) {
        g->newest = time;
        g->bytes = bytes;
    }
}

/* A snapshot counts for its backup set, or else for its host and paths. */
static void add_snapshot(acc *a, const lv_snap_row *r)
{
    char name[300], set[128];
    const char *s = set_of(&r->s);
    if (s) {
        snprintf(set, sizeof set, "%s", s);
        snprintf(name, sizeof name, "%s", set);
    } else {
        snprintf(name, sizeof name, "host %s ", r->s.host);
        size_t off = strlen(name);
        for (size_t i = 0; i < r->s.npaths && off + 1 < sizeof name; i++) {
            for (const char *p = r->s.paths[i]; *p && off + 1 < sizeof name; p++)
                name[off++] = *p;
            if (i + 1 < r->s.npaths && off + 1 < sizeof name)
                name[off++] = ' ';
        }
        name[off] = '\0';
    }
    note(a, "files", name, r->time, r->s.bytes_total);
}

static void add_pg(acc *a, const lv_pg_backup_info *b)
{
    char name[300];
    snprintf(name, sizeof name, "cluster %" PRIu64, b->s.sysid);
    note(a, "pg", name, b->time, b->s.bytes);
}

/* Every backup in manifest order (time, then id) across both kinds: groups are listed in the order they
 * first appear, and of two backups of one group at the same time the first counts. */
typedef struct ref {
    int64_t time;
    const char *id;
    const lv_snap_row *snap;
    const lv_pg_backup_info *pg;
} ref;

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int collect(lv_catalog *cat, acc *a)
{
    lv_backups b;
    int rc = lv_backups_get(cat, &b);
    if (rc != LV_OK)
        return rc;
    size_t n = b.nsnaps + b.npgs, k = 0;
    ref *v = lv_xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < b.nsnaps; i++)
        v[k++] = (ref){b.snaps[i].time, b.snaps[i].id, &b.snaps[i], NULL};
    for (size_t i = 0; i < b.npgs; i++)
        v[k++] = (ref){b.pgs[i].time, b.pgs[i].id, NULL, &b.pgs[i]};
    lv_sort(v, n, sizeof *v, cmp_ref);
    for (size_t i = 0; i < n; i++) {
        if (v[i].snap)
            add_snapshot(a, v[i].snap);
        else
            add_pg(a, v[i].pg);
    }
    free(v);
    lv_backups_free(&b);
    return LV_OK;
}

typedef struct drills_acc {
    int64_t newest[2];
    int passed[2];
    char error[2][300];
} drills_acc;

static int drill_cb(void *arg, const lv_drill_row *row)
{
    drills_acc *d = arg;
    int k = strcmp(row->kind, "pg") == 0 ? 0 : 1;
    int64_t us;
    if (lv_time_parse(row->started_at, 0, &us) != 0)
        return LV_OK;
    if (us / 1000000 >= d->newest[k]) {
        d->newest[k] = us / 1000000;
        d->passed[k] = row->passed;
        snprintf(d->error[k], sizeof d->error[k], "%s", row->error ? row->error : "");
    }
    return LV_OK;
}

static int failure_cb(void *arg, const lv_wal_failure *f)
{
    lv_status *st = arg;
    st->wal_last_failure = f->time;
    return LV_OK;
}

static lv_status_item *add(lv_status *st, const char *kind, const char *name)
{
    st->items = lv_xrealloc(st->items, (st->n + 1) * sizeof *st->items);
    lv_status_item *it = &st->items[st->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->kind, sizeof it->kind, "%s", kind);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->newest = it->age = -1;
    it->ok = 1;
    return it;
}

static void judge_age(lv_status_item *it, int64_t now, int64_t limit, const char *what)
{
    it->age = it->newest >= 0 ? now - it->newest : -1;
    it->limit = limit;
    char a[64], l[64];
    if (it->newest < 0) {
        it->ok = 0;
        snprintf(it->detail, sizeof it->detail, "no %s", what);
    } else if (limit && it->age > limit) {
        it->ok = 0;
        lv_duration_format(it->age, a, sizeof a);
        lv_duration_format(limit, l, sizeof l);
        snprintf(it->detail, sizeof it->detail, "the newest %s is %s old (limit %s)", what, a, l);
    }
}

int lv_status_get(lv_repo *r, const lv_status_limits *lim, const char *pg_data, int64_t now, lv_status *st)
{
    memset(st, 0, sizeof *st);
    st->wal_last_failure = -1;
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "status without a catalog");
    acc a = {0};
    int rc = collect(r->cat, &a);
    for (size_t i = 0; rc == LV_OK && i < a.n; i++) {
        lv_status_item *it = add(st, a.g[i].kind, a.g[i].name);
        it->newest = a.g[i].newest;
        it->bytes = a.g[i].bytes;
        int pg = strcmp(it->kind, "pg") == 0;
        judge_age(it, now, pg ? lim->backup_age : lim->snapshot_age, pg ? "backup" : "snapshot");
    }
    /* The WAL archive: only where there is one. */
    lv_catalog_wal_summary ws;
    if (rc == LV_OK)
        rc = lv_catalog_wal_summary_get(r->cat, &ws);
    if (rc == LV_OK)
        rc = lv_catalog_wal_failures(r->cat, "push", 1, failure_cb, st);
    if (rc == LV_OK)
        st->wal_failures = (uint64_t)lv_catalog_wal_failure_count(r->cat, "push");
    st->wal_bytes = rc == LV_OK ? ws.stored_bytes : 0;
    if (rc == LV_OK && (ws.files || st->wal_last_failure >= 0)) {
        lv_status_item *it = add(st, "wal", "archive");
        it->newest = ws.last_pushed;
        it->age = it->newest >= 0 ? now - it->newest : -1;
        it->limit = lim->wal_lag;
        it->bytes = ws.stored_bytes;
        snprintf(it->detail, sizeof it->detail, "%s", ws.last_name);
        if (st->wal_last_failure >= 0 && st->wal_last_failure > ws.last_pushed) {
            it->ok = 0;
            char t[LV_TIME_TEXT_MAX];
            lv_time_format(st->wal_last_failure, LV_TIME_LOCAL, t);
            snprintf(it->detail, sizeof it->detail, "the last push failed (%s) and none succeeded since: see wal status",
                     t);
        }
        lv_wal_status ps;
        memset(&ps, 0, sizeof ps);
        if (it->ok && pg_data && lv_wal_status_collect_pg(pg_data, &ps) == LV_OK) {
            char w[64], l[64];
            if (lim->wal_lag && ps.ready && ps.oldest_ready_age > lim->wal_lag) {
                it->ok = 0;
                lv_duration_format(ps.oldest_ready_age, w, sizeof w);
                lv_duration_format(lim->wal_lag, l, sizeof l);
                snprintf(it->detail, sizeof it->detail, "%llu WAL files wait to be archived, the oldest (%s) for %s "
                         "(limit %s)", (unsigned long long)ps.ready, ps.oldest_ready, w, l);
            } else {
                size_t len = strlen(it->detail);
                snprintf(it->detail + len, sizeof it->detail - len, "%s%llu waiting", len ? "; " : "",
                         (unsigned long long)ps.ready);
            }
        }
        lv_err_clear(); /* an unreadable pg_data only means no lag figure */
    }
    /* Drills of each kind that has backups. */
    drills_acc d = {{-1, -1}, {0, 0}, {"", ""}};
    if (rc == LV_OK)
        rc = lv_drill_history(r, 0, drill_cb, &d);
    static const char *const kinds[2] = {"pg", "files"};
    for (int k = 0; rc == LV_OK && k < 2; k++) {
        int has = 0;
        for (size_t i = 0; i < a.n; i++)
            has |= strcmp(a.g[i].kind, kinds[k]) == 0;
        if (!has && d.newest[k] < 0)
            continue;
        lv_status_item *it = add(st, "drill", kinds[k]);
        it->newest = d.newest[k];
        judge_age(it, now, lim->drill_age, "drill");
        if (it->ok && !d.passed[k]) {
            it->ok = 0;
            snprintf(it->detail, sizeof it->detail, "the newest drill failed: %s", d.error[k]);
        } else if (it->ok) {
            snprintf(it->detail, sizeof it->detail, "passed");
        }
    }
    if (rc == LV_OK)
        rc = lv_catalog_pack_bytes(r->cat, &st->pack_bytes);
    if (rc == LV_OK) {
        st->repo_bytes = st->pack_bytes + st->wal_bytes;
        lv_status_item *it = add(st, "repo", "total");
        it->bytes = st->repo_bytes;
    }
    st->ok = 1;
    for (size_t i = 0; i < st->n; i++)
        st->ok &= st->items[i].ok;
    free(a.g);
    return rc;
}

void lv_status_free(lv_status *st)
{
    free(st->items);
    memset(st, 0, sizeof *st);
}
