/* forget: retention policies applied to the repository (contract in retention/forget.h). */
#include "retention/forget.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sort.h"
#include "common/timefmt.h"
#include "catalog/manifests.h"
#include "repo/manifest.h"
#include "maint/sync.h"
#include "pg/backups.h"
#include "pg/manifest.h"
#include "repo/deleted.h"
#include "repo/lock.h"
#include "snapshot/snapshot.h"
#include "snapshot/summary.h"
#include "wal/archive.h"
#include "wal/segment.h"
#include "wal/stanza.h"
#include "wal/walmap.h"

/* ---- the policy from the configuration -------------------------------------------------------- */

int lv_keep_policy_from_options(const char *prefix, const char *(*get)(void *arg, const char *name), void *arg,
                                lv_keep_policy *p, char ***tags_out, int code, const char *label)
{
    static const struct {
        const char *name;
        size_t off;
    } counts[] = {
        {"keep-last", offsetof(lv_keep_policy, last)},       {"keep-hourly", offsetof(lv_keep_policy, hourly)},
        {"keep-daily", offsetof(lv_keep_policy, daily)},     {"keep-weekly", offsetof(lv_keep_policy, weekly)},
        {"keep-monthly", offsetof(lv_keep_policy, monthly)}, {"keep-yearly", offsetof(lv_keep_policy, yearly)},
    };
    char name[64];
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, counts[i].name);
        const char *v = get(arg, name);
        if (v && *v && lv_keep_count_parse(v, (int *)(void *)((char *)p + counts[i].off)) != 0)
            return lv_err(code, "%s%s: '%s' is not a count (a number or unlimited)", label, name, v);
    }
    static const struct {
        const char *name;
        size_t off;
    } durations[] = {{"keep-within", offsetof(lv_keep_policy, within)},
                     {"recovery-window", offsetof(lv_keep_policy, recovery_window)}};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, durations[i].name);
        const char *v = get(arg, name);
        if (v && *v && lv_duration_parse(v, (int64_t *)(void *)((char *)p + durations[i].off)) != 0)
            return lv_err(code, "%s%s: '%s' is not a duration (such as 30d, 12h, 1y)", label, name, v);
    }
    snprintf(name, sizeof name, "%skeep-tag", prefix);
    const char *v = get(arg, name);
    if (v && *v && tags_out) { /* comma-separated */
        char *copy = lv_xstrdup(v), *save = NULL;
        size_t n = 0;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            *tags_out = lv_xrealloc(*tags_out, (n + 2) * sizeof **tags_out);
            (*tags_out)[n++] = lv_xstrdup(t);
            (*tags_out)[n] = NULL;
        }
        free(copy);
        p->tags = (const char *const *)*tags_out;
        p->ntags = n;
    }
    return LV_OK;
}

/* ---- in-flight markers ------------------------------------------------------------------------ */

typedef struct live_arg {
    const char *self;
    char *who;
    size_t who_size;
    int found;
} live_arg;

static int live_cb(void *arg, const lv_lock_info *li)
{
    live_arg *a = arg;
    if (li->stale || (a->self && strcmp(li->key, a->self) == 0))
        return 0;
    if (!a->found)
        snprintf(a->who, a->who_size, "%s on host %s (pid %ld, user %s)", li->purpose[0] ? li->purpose : "a command",
                 li->host, li->pid, li->user);
    a->found++;
    return 0;
}

int lv_inflight_wait(lv_store *st, const char *self, int wait_s, char *who, size_t who_size)
{
    time_t until = time(NULL) + wait_s;
    for (int round = 0;; round++) {
        live_arg a = {self, who, who_size, 0};
        int rc = lv_inflight_list(st, 1, live_cb, &a);
        if (rc != LV_OK)
            return rc;
        if (!a.found)
            return 0;
        if (time(NULL) >= until)
            return 1;
        if (round == 0)
            lv_info("waiting up to %d s for %s to finish", wait_s, who);
        sleep(2);
    }
}

/* ---- collecting and deciding -------------------------------------------------------------------- */

typedef struct entry {
    lv_forget_item it;
    char **tags;
    size_t ntags;
    int64_t order;
    char wal_start[25];
} entry;

typedef struct collect {
    const lv_forget_opts *o;
    entry *e;
    size_t n, cap;
} collect;

static entry *new_entry(collect *c, const char *id, const char *kind, int64_t time)
{
    LV_GROW(c->e, c->n, c->cap);
    entry *e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->it.id, sizeof e->it.id, "%s", id);
    snprintf(e->it.kind, sizeof e->it.kind, "%s", kind);
    e->it.time = time;
    return e;
}

static void join(lv_buf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_buf_printf(b, "%s%s", i ? " " : "", v[i]);
}

static void add_snapshot(collect *c, const lv_snap_row *r)
{
    const lv_forget_opts *o = c->o;
    const lv_snap_summary *s = &r->s;
    if (o->host && strcmp(s->host, o->host) != 0)
        return;
    entry *e = new_entry(c, r->id, LV_SNAP_KIND, r->time);
    lv_buf g = LV_BUF_INIT, w = LV_BUF_INIT;
    unsigned by = o->group_by ? o->group_by : LV_GROUP_HOST | LV_GROUP_PATHS;
    lv_buf_printf(&g, "files");
    if (by & LV_GROUP_HOST)
        lv_buf_printf(&g, ", host %s", s->host);
    if (by & LV_GROUP_PATHS) {
        lv_buf_printf(&g, ", paths ");
        join(&g, s->paths, s->npaths);
    }
    if (by & LV_GROUP_TAGS) {
        lv_buf_printf(&g, ", tags ");
        join(&g, s->tags, s->ntags);
    }
    join(&w, s->paths, s->npaths);
    e->tags = lv_xcalloc(s->ntags ? s->ntags : 1, sizeof *e->tags);
    for (size_t i = 0; i < s->ntags; i++)
        e->tags[i] = lv_xstrdup(s->tags[i]);
    e->ntags = s->ntags;
    e->order = s->end_ns;
    e->it.group = lv_xstrdup(lv_buf_cstr(&g));
    e->it.what = lv_xstrdup(lv_buf_cstr(&w));
    lv_buf_free(&g);
    lv_buf_free(&w);
}

static void add_pg(collect *c, const lv_pg_backup_info *b)
{
    entry *e = new_entry(c, b->id, LV_PGMAN_KIND, b->time);
    e->it.group = lv_xasprintf("pg, cluster %" PRIu64, b->s.sysid);
    e->it.what = lv_xasprintf("%s %s", b->s.incr ? "incr" : "full", b->s.label);
    e->order = (int64_t)b->s.stop_lsn;
    snprintf(e->wal_start, sizeof e->wal_start, "%s", b->s.wal_start);
}

int lv_backups_get(lv_catalog *cat, lv_backups *out)
{
    memset(out, 0, sizeof *out);
    int rc = lv_snap_list(cat, &out->snaps, &out->nsnaps);
    if (rc == LV_OK)
        rc = lv_pg_backups_list(cat, &out->pgs, &out->npgs);
    if (rc != LV_OK)
        lv_backups_free(out);
    return rc;
}

void lv_backups_free(lv_backups *b)
{
    lv_snap_list_free(b->snaps, b->nsnaps);
    free(b->pgs);
    memset(b, 0, sizeof *b);
}

/* Every files snapshot and pg backup of the catalog, decoded from their summaries. */
static int collect_all(lv_catalog *cat, collect *c)
{
    lv_backups b;
    int rc = lv_backups_get(cat, &b);
    for (size_t i = 0; rc == LV_OK && i < b.nsnaps; i++)
        add_snapshot(c, &b.snaps[i]);
    for (size_t i = 0; rc == LV_OK && i < b.npgs; i++)
        add_pg(c, &b.pgs[i]);
    lv_backups_free(&b);
    return rc;
}

/* Oldest first, as the catalog lists manifests (time, then id). */
static int by_time(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->it.time != y->it.time)
        return x->it.time < y->it.time ? -1 : 1;
    return strcmp(x->it.id, y->it.id);
}

/* Groups together, the newest first within each. */
static int by_group_newest(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->it.group, y->it.group);
    if (c)
        return c;
    if (x->it.time != y->it.time)
        return x->it.time > y->it.time ? -1 : 1;
    if (x->order != y->order)
        return x->order > y->order ? -1 : 1;
    return strcmp(x->it.id, y->it.id);
}

static int mark_explicit(collect *c, const char *prefix)
{
    entry *hit = NULL;
    size_t len = strlen(prefix);
    if (len == 0 || len > 64)
        return lv_err(LV_ERR_USAGE, "'%s' is not a backup id", prefix);
    for (size_t i = 0; i < c->n; i++) {
        if (strncmp(c->e[i].it.id, prefix, len) != 0)
            continue;
        if (hit)
            return lv_err(LV_ERR_USAGE, "'%s' is the prefix of more than one backup (%.12s, %.12s)", prefix,
                          hit->it.id, c->e[i].it.id);
        hit = &c->e[i];
    }
    if (!hit)
        return lv_err(LV_ERR_NOT_FOUND, "no backup or snapshot %s in the repository", prefix);
    hit->it.remove = 1;
    hit->it.explicit_ = 1;
    return LV_OK;
}

/* Apply the kind's policy to the group [from, to) of sorted entries; refuse what must be forced. */
static int decide_group(const lv_forget_opts *o, entry *e, size_t n)
{
    const lv_keep_policy *p = strcmp(e[0].it.kind, "pg") == 0 ? &o->pg_policy : &o->files_policy;
    lv_keep_item *ki = lv_xcalloc(n, sizeof *ki);
    for (size_t i = 0; i < n; i++) {
        ki[i].time = e[i].it.time;
        ki[i].order = e[i].order;
        ki[i].tags = (const char *const *)e[i].tags;
        ki[i].ntags = e[i].ntags;
    }
    size_t kept = lv_keep_apply(p, ki, n, o->now);
    for (size_t i = 0; i < n; i++) {
        e[i].it.reasons = ki[i].reasons;
        e[i].it.remove = ki[i].reasons == 0;
    }
    free(ki);
    if (o->force)
        return LV_OK;
    if (kept == 0)
        return lv_err(LV_ERR_USAGE, "the policy would remove every backup of group '%s' (%zu): refused; use "
                                    "--force if that is what you want",
                      e[0].it.group, n);
    if (e[0].it.remove) /* the newest comes first */
        return lv_err(LV_ERR_USAGE, "the policy would remove the newest backup of group '%s' (%.12s): refused; "
                                    "use --force if that is what you want",
                      e[0].it.group, e[0].it.id);
    return LV_OK;
}

static int decide(collect *c)
{
    const lv_forget_opts *o = c->o;
    lv_sort(c->e, c->n, sizeof *c->e, by_group_newest);
    if (o->nids) {
        for (size_t i = 0; i < o->nids; i++) {
            int rc = mark_explicit(c, o->ids[i]);
            if (rc != LV_OK)
                return rc;
        }
        return LV_OK;
    }
    if (o->files && lv_keep_policy_empty(&o->files_policy) && !o->force)
        return lv_err(LV_ERR_USAGE, "no retention policy for file snapshots: give --keep-* options (or "
                                    "[retention] files-keep-* in the configuration), or --kind pg");
    if (o->pg && lv_keep_policy_empty(&o->pg_policy) && !o->force)
        return lv_err(LV_ERR_USAGE, "no retention policy for PostgreSQL backups: give --keep-* or "
                                    "--recovery-window (or [retention] pg-* in the configuration), or --kind files");
    for (size_t i = 0; i < c->n;) {
        size_t j = i + 1;
        while (j < c->n && strcmp(c->e[j].it.group, c->e[i].it.group) == 0)
            j++;
        int applies = strcmp(c->e[i].it.kind, "pg") == 0 ? o->pg : o->files;
        if (applies) {
            int rc = decide_group(o, c->e + i, j - i);
            if (rc != LV_OK)
                return rc;
        } else {
            for (size_t k = i; k < j; k++)
                c->e[k].it.reasons = 0, c->e[k].it.remove = 0;
        }
        i = j;
    }
    return LV_OK;
}

/* ---- removing ------------------------------------------------------------------------------------ */

static int remove_manifests(lv_repo *r, collect *c, lv_forget_result *res)
{
    size_t n = 0;
    const char **keys = lv_xcalloc(c->n + 1, sizeof *keys);
    char (*names)[80] = lv_xcalloc(c->n + 1, sizeof *names);
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].it.remove) {
            snprintf(names[n], sizeof names[n], "manifests/%s", c->e[i].it.id);
            keys[n] = names[n];
            n++;
        }
    /* Recorded first, so that repo check on a host whose catalog lists them knows they went on purpose. */
    lv_deletions rec = {0};
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].it.remove)
            lv_deletions_add_manifest(&rec, c->e[i].it.id);
    int rc = lv_deletions_write(r, &rec);
    lv_deletions_free(&rec);
    if (rc == LV_OK && n)
        rc = lv_store_del_many(r->store, keys, n);
    if (rc != LV_OK)
        lv_err_ctx("removing the manifests of forgotten backups");
    for (size_t i = 0; rc == LV_OK && i < c->n; i++)
        if (c->e[i].it.remove)
            rc = lv_catalog_manifest_remove(r->cat, c->e[i].it.id);
    if (rc == LV_OK)
        res->removed = n;
    free(keys);
    free(names);
    return rc;
}

typedef struct wal_arg {
    uint32_t log, seg;          /* the oldest kept backup's start segment */
    int all;                    /* stanza delete: every object */
    const char **keys;
    char (*names)[LV_WAL_KEY_MAX];
    size_t n, cap;
    size_t nmaps;               /* of the n, block maps (walmap/: counted apart from the WAL files) */
    uint64_t bytes;
} wal_arg;

static void wal_arg_add(wal_arg *a, const char *key)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 256;
        a->names = lv_xrealloc(a->names, a->cap * sizeof *a->names);
    }
    snprintf(a->names[a->n++], sizeof a->names[0], "%s", key);
}

/* A segment's block map goes with the segment (wal/walmap.h): the maps of the segments expired, of every
 * timeline, as wal_cb chooses them. */
static int map_cb(void *arg, const char *segment, const char *key, uint64_t size)
{
    (void)size;
    wal_arg *a = arg;
    lv_wal_name n;
    if (!segment || lv_wal_name_parse(segment, &n) != LV_OK) {
        lv_err_clear();
        return LV_OK; /* not a map's key: repo check reports it */
    }
    if (!a->all && (n.log > a->log || (n.log == a->log && n.seg >= a->seg)))
        return LV_OK;
    wal_arg_add(a, key);
    a->nmaps++;
    return LV_OK;
}

static int wal_cb(void *arg, const lv_wal_object *o)
{
    wal_arg *a = arg;
    if (o->name.kind == LV_WAL_HISTORY)
        return LV_OK;
    if (o->name.log > a->log || (o->name.log == a->log && o->name.seg >= a->seg))
        return LV_OK;
    wal_arg_add(a, o->key);
    a->bytes += o->stored_size;
    return LV_OK;
}

static int expire_wal(lv_repo *r, const lv_forget_opts *o, collect *c, lv_forget_result *res)
{
    lv_wal_name oldest = {0};
    int have = 0;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = &c->e[i];
        if (strcmp(e->it.kind, "pg") != 0 || e->it.remove)
            continue;
        lv_wal_name w;
        if (lv_wal_name_parse(e->wal_start, &w) != 0 || w.kind != LV_WAL_SEGMENT) {
            lv_warn("backup %.12s has no WAL start in its summary: no WAL expired", e->it.id);
            return LV_OK;
        }
        if (!have || w.log < oldest.log || (w.log == oldest.log && w.seg < oldest.seg))
            oldest = w;
        have = 1;
    }
    if (!have)
        return LV_OK; /* no PostgreSQL backup kept: the archive is all the cluster has */
    snprintf(res->wal_oldest_kept, sizeof res->wal_oldest_kept, "%08X%08X", oldest.log, oldest.seg);
    wal_arg a = {.log = oldest.log, .seg = oldest.seg};
    int rc = lv_wal_list(r->store, 0, wal_cb, &a);
    if (rc == LV_OK)
        rc = lv_walmap_list(r, map_cb, &a);
    if (rc == LV_OK && a.n && !o->dry_run && !o->safety_none) {
        int w = lv_inflight_wait(r->store, o->self_marker, o->wait_s, res->wal_deferred_by,
                                 sizeof res->wal_deferred_by);
        if (w == 1)
            res->wal_deferred = 1;
        else if (w != 0)
            rc = w;
    }
    if (rc == LV_OK) {
        res->wal_removed = a.n - a.nmaps;
        res->wal_bytes = a.bytes;
    }
    if (rc == LV_OK && a.n && !o->dry_run && !res->wal_deferred) {
        lv_deletions rec = {0};
        char horizon[25];
        snprintf(horizon, sizeof horizon, "00000000%08X%08X", oldest.log, oldest.seg);
        lv_deletions_wal_before(&rec, horizon);
        rc = lv_deletions_write(r, &rec);
        lv_deletions_free(&rec);
    }
    if (rc == LV_OK && a.n && !o->dry_run && !res->wal_deferred) {
        a.keys = lv_xcalloc(a.n, sizeof *a.keys);
        for (size_t i = 0; i < a.n; i++)
            a.keys[i] = a.names[i];
        rc = lv_store_del_many(r->store, a.keys, a.n);
        if (rc != LV_OK)
            lv_err_ctx("expiring WAL before segment %s", res->wal_oldest_kept);
        free(a.keys);
    }
    free(a.names);
    return rc;
}

/* The decisions go to the result; the rest of the collection is freed. */
static void hand_over(collect *c, lv_forget_result *res)
{
    res->items = lv_xcalloc(c->n + 1, sizeof *res->items);
    for (size_t i = 0; i < c->n; i++) {
        res->items[i] = c->e[i].it;
        for (size_t k = 0; k < c->e[i].ntags; k++)
            free(c->e[i].tags[k]);
        free(c->e[i].tags);
    }
    res->n = c->n;
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

int lv_forget(lv_repo *r, const lv_forget_opts *o, lv_forget_result *res)
{
    memset(res, 0, sizeof *res);
    collect c = {.o = o};
    int rc = collect_all(r->cat, &c);
    if (rc == LV_OK)
        rc = decide(&c);
    if (rc == LV_OK && !o->dry_run)
        rc = remove_manifests(r, &c, res);
    else if (rc == LV_OK)
        for (size_t i = 0; i < c.n; i++)
            res->removed += c.e[i].it.remove != 0;
    if (rc == LV_OK && (o->pg || o->nids))
        rc = expire_wal(r, o, &c, res);
    if (rc == LV_OK && !o->dry_run)
        rc = lv_catalog_sync(r, NULL); /* the WAL rows of expired files */
    hand_over(&c, res);
    return rc;
}

void lv_forget_result_free(lv_forget_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        free(res->items[i].group);
        free(res->items[i].what);
    }
    free(res->items);
    memset(res, 0, sizeof *res);
}

/* ---- stanza delete ------------------------------------------------------------------------------- */

static int all_wal_cb(void *arg, const lv_wal_object *o)
{
    wal_arg *a = arg;
    wal_arg_add(a, o->key);
    a->bytes += o->stored_size;
    return LV_OK;
}

int lv_forget_stanza(lv_repo *r, const lv_forget_opts *o, lv_forget_result *res)
{
    memset(res, 0, sizeof *res);
    lv_forget_opts all = *o;
    all.files = 0;
    all.pg = 1;
    collect c = {.o = &all};
    lv_backups b;
    int rc = lv_backups_get(r->cat, &b);
    for (size_t i = 0; rc == LV_OK && i < b.npgs; i++)
        add_pg(&c, &b.pgs[i]);
    lv_backups_free(&b);
    if (c.n)
        lv_sort(c.e, c.n, sizeof *c.e, by_time); /* the catalog's order */
    for (size_t i = 0; i < c.n; i++)
        c.e[i].it.remove = 1;
    wal_arg a = {.all = 1};
    if (rc == LV_OK)
        rc = lv_wal_list(r->store, 0, all_wal_cb, &a);
    if (rc == LV_OK)
        rc = lv_walmap_list(r, map_cb, &a);
    if (rc == LV_OK && !o->dry_run && !o->safety_none) {
        int w = lv_inflight_wait(r->store, o->self_marker, o->wait_s, res->wal_deferred_by,
                                 sizeof res->wal_deferred_by);
        if (w == 1)
            rc = lv_err(LV_ERR_CONFLICT, "stanza delete: %s is running and may still use the archive: stop it, "
                        "or wait (--wait SECONDS)", res->wal_deferred_by);
        else if (w != 0)
            rc = w;
    }
    if (rc == LV_OK && !o->dry_run) {
        lv_deletions rec = {0};
        lv_deletions_wal_before(&rec, "FFFFFFFFFFFFFFFFFFFFFFFF");
        rc = lv_deletions_write(r, &rec);
        lv_deletions_free(&rec);
    }
    if (rc == LV_OK && !o->dry_run)
        rc = remove_manifests(r, &c, res); /* records the manifests, then deletes them */
    else if (rc == LV_OK)
        res->removed = c.n;
    if (rc == LV_OK && !o->dry_run && a.n) {
        a.keys = lv_xcalloc(a.n, sizeof *a.keys);
        for (size_t i = 0; i < a.n; i++)
            a.keys[i] = a.names[i];
        rc = lv_store_del_many(r->store, a.keys, a.n);
        free(a.keys);
        if (rc != LV_OK)
            lv_err_ctx("stanza delete: removing the WAL archive");
    }
    if (rc == LV_OK && !o->dry_run)
        rc = lv_store_del(r->store, LV_WAL_STANZA_KEY);
    if (rc == LV_OK && !o->dry_run) {
        if (lv_wal_stanza_cache_drop(r->cat, r) != LV_OK)
            lv_err_clear();
        rc = lv_catalog_sync(r, NULL);
    }
    if (rc == LV_OK) {
        res->wal_removed = a.n - a.nmaps;
        res->wal_bytes = a.bytes;
    }
    free(a.names);
    hand_over(&c, res);
    return rc;
}
