/* repo check of the WAL archive (contract in wal/repo_check.h). */
#include "wal/repo_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/sort.h"
#include "catalog/wal.h"
#include "maint/check.h"
#include "repo/deleted.h"
#include "wal/archive.h"
#include "wal/range.h"
#include "wal/stanza.h"
#include "wal/status.h"
#include "wal/walcat.h"

typedef struct catrow {
    char *key;
    uint64_t size;
} catrow;

typedef struct segref {
    uint32_t tli;
    uint64_t segno;
} segref;

typedef struct wc {
    lv_check *ck;
    lv_repo *r;
    lv_check_kind *ks, *kw;
    lv_wal_object *objs; /* the listing, in key order */
    size_t n, cap;
    catrow *cat;         /* what the local catalog records, in key order */
    size_t ncat, ccat;
    int cached;          /* the catalog has the stanza cached */
    lv_wal_stanza cache;
    int have_stanza;
    lv_wal_stanza stanza;
    segref *segs;        /* segments, sorted */
    size_t nsegs;
} wc;

static int list_cb(void *arg, const char *key, uint64_t size)
{
    wc *w = arg;
    lv_wal_object o;
    if (lv_wal_object_parse(key, size, &o) != 0) {
        lv_check_problem(w->ck, w->kw, LV_CHECK_WARNING, "%s: unexpected object under wal/ (not a WAL object's name)",
                         key);
        return LV_OK;
    }
    LV_GROW(w->objs, w->n, w->cap);
    w->objs[w->n++] = o;
    return LV_OK;
}

static int cat_cb(void *arg, const char *key, uint64_t size)
{
    wc *w = arg;
    LV_GROW(w->cat, w->ncat, w->ccat);
    w->cat[w->ncat++] = (catrow){lv_xstrdup(key), size};
    return LV_OK;
}

static void check_stanza(wc *w)
{
    int rc = lv_wal_stanza_get(w->r, &w->stanza);
    if (rc == LV_OK) {
        w->have_stanza = 1;
        w->ks->objects = w->ks->read = 1;
        if (w->cached && !lv_wal_stanza_same_cluster(&w->stanza, &w->cache))
            lv_check_problem(w->ck, w->ks, LV_CHECK_ERROR, "stanza: describes PostgreSQL cluster %" PRIu64 " (version "
                             "%d), but this host's catalog cached cluster %" PRIu64 " (version %d) for this repository: "
                             "the stanza was replaced", w->stanza.sysid, w->stanza.pg_version, w->cache.sysid,
                             w->cache.pg_version);
    } else if (rc == LV_ERR_NOT_FOUND) {
        lv_err_clear();
        if (w->n || w->cached) {
            w->ks->missing = 1;
            lv_check_problem(w->ck, w->ks, LV_CHECK_ERROR, "stanza is missing, but %s (it is written once and never "
                             "removed: deleted or lost; `labvault stanza create --pg-data DIR` recreates it)",
                             w->n ? "wal/ holds archived WAL" : "this host's catalog recorded one");
        }
    } else {
        w->ks->objects = 1;
        lv_check_problem(w->ck, w->ks, LV_CHECK_ERROR, "%s", lv_errmsg());
    }
}

static int cmp_seg(const void *a, const void *b)
{
    const segref *x = a, *y = b;
    if (x->tli != y->tli)
        return x->tli < y->tli ? -1 : 1;
    return x->segno < y->segno ? -1 : x->segno > y->segno;
}

static int have_seg(const wc *w, uint32_t tli, uint64_t segno)
{
    segref key = {tli, segno};
    return w->nsegs && bsearch(&key, w->segs, w->nsegs, sizeof *w->segs, cmp_seg) != NULL;
}

/* Asynchronous pushes (archive-push-workers) complete out of order, so a gap among the newest segments of
 * a timeline may be one still being pushed: such a gap is given IN_FLIGHT_S to fill before it counts. */
#define IN_FLIGHT_SEGS 16
#define IN_FLIGHT_S 5

static int in_flight(wc *w, const lv_wal_timeline *t, const lv_wal_gap *g, uint32_t seg_size, uint64_t *missing)
{
    lv_wal_name a, b;
    uint64_t first, last;
    if (lv_wal_name_parse(g->from, &a) != LV_OK || lv_wal_name_parse(g->to, &b) != LV_OK ||
        lv_wal_segno(&a, seg_size, &first) != 0 || lv_wal_segno(&b, seg_size, &last) != 0) {
        lv_err_clear();
        return 0;
    }
    if (t->last_segno - last > IN_FLIGHT_SEGS)
        return 0;
    if (lv_wal_wait_range(w->r, t->tli, first * seg_size, last * seg_size + 1, seg_size, IN_FLIGHT_S) != LV_OK) {
        lv_err_clear();
        return 0;
    }
    *missing -= last - first + 1;
    return 1;
}

/* One object per name; gaps per timeline; history files. */
static void check_listing(wc *w, uint32_t seg_size)
{
    lv_wal_status st;
    memset(&st, 0, sizeof st);
    st.have_stanza = seg_size != 0;
    st.stanza.seg_size = seg_size;
    w->segs = lv_xmalloc((w->n ? w->n : 1) * sizeof *w->segs);
    uint32_t oldest = UINT32_MAX;
    for (size_t i = 0; i < w->n; i++) {
        const lv_wal_object *o = &w->objs[i];
        lv_wal_status_add(&st, o);
        if (o->name.tli < oldest)
            oldest = o->name.tli;
        if (i > 0 && strcmp(w->objs[i - 1].name.name, o->name.name) == 0)
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "%s and %s: two different archived copies of one WAL file "
                             "(wal fetch refuses to choose)", w->objs[i - 1].key, o->key);
        uint64_t segno;
        if (seg_size && o->name.kind == LV_WAL_SEGMENT && lv_wal_segno(&o->name, seg_size, &segno) == 0)
            w->segs[w->nsegs++] = (segref){o->name.tli, segno};
    }
    lv_sort(w->segs, w->nsegs, sizeof *w->segs, cmp_seg);
    for (size_t i = 0; i < st.ntl; i++) {
        const lv_wal_timeline *t = &st.tl[i];
        uint64_t missing = t->missing;
        for (size_t g = 0; g < t->ngaps && g < LV_WAL_GAPS_KEPT; g++) {
            if (in_flight(w, t, &t->gaps[g], seg_size, &missing))
                continue;
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "wal/%08X: segments %s to %s are missing (recovery cannot "
                             "cross them)", t->tli, t->gaps[g].from, t->gaps[g].to);
        }
        if (t->ngaps > LV_WAL_GAPS_KEPT)
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "wal/%08X: %zu gaps in all, %" PRIu64 " segments missing",
                             t->tli, t->ngaps, t->missing);
        w->kw->missing += missing;
        if (t->tli > 1 && (t->segments || t->partials) && !t->history) {
            char name[32];
            snprintf(name, sizeof name, "%08X.history", t->tli);
            if (oldest < t->tli) {
                w->kw->missing++;
                lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "timeline %u has archived segments but its history "
                                 "file %s is missing, although the archive holds the timeline before it: recovery "
                                 "cannot follow the switch", t->tli, name);
            } else {
                lv_check_problem(w->ck, w->kw, LV_CHECK_WARNING, "timeline %u has archived segments but no history "
                                 "file %s (archiving into this repository began on that timeline?)", t->tli, name);
            }
        }
    }
    lv_wal_status_free(&st);
}

/* Every segment each backup needs to become consistent. seg_size: the stanza's (0: none), which the
 * backup's own must equal for its segments to be in this archive at all. */
static void check_needs(wc *w, uint32_t seg_size)
{
    size_t n;
    const lv_check_wal_need *need = lv_check_wal_needs(w->ck, &n);
    for (size_t i = 0; i < n; i++) {
        const lv_check_wal_need *b = &need[i];
        if (b->seg_size != seg_size) {
            w->kw->missing++;
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "manifests/%s: the backup needs WAL of %u-byte segments, "
                             "but %s: it cannot be restored", b->manifest, b->seg_size,
                             seg_size ? "the archive holds another segment size" : "the repository has no WAL archive "
                             "(no stanza)");
            continue;
        }
        /* A stop LSN on a segment boundary needs only the segment before it (lv_wal_wait_range). */
        uint64_t first = b->start_lsn / seg_size,
                 last = (b->stop_lsn > b->start_lsn && b->stop_lsn % seg_size == 0 ? b->stop_lsn - 1 : b->stop_lsn) /
                        seg_size;
        uint64_t missing = 0, first_missing = 0;
        for (uint64_t s = first; s <= last; s++) {
            int found = have_seg(w, b->tli, s);
            for (size_t j = 0; !found && j < w->nsegs; j++) /* a later timeline's copy after a switch */
                found = w->segs[j].tli > b->tli && w->segs[j].segno == s;
            if (!found && missing++ == 0)
                first_missing = s;
        }
        if (missing) {
            char name[25];
            lv_wal_segment_name(b->tli, first_missing, seg_size, name);
            w->kw->missing += missing;
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "manifests/%s: the backup needs WAL segment %s%s, which is "
                             "not archived: it cannot be restored", b->manifest, name,
                             missing > 1 ? " and more" : "");
        }
    }
}

static int cmp_obj_key(const void *k, const void *o) { return strcmp(k, ((const lv_wal_object *)o)->key); }

/* The first listed object whose key starts with prefix (keys sorted), or NULL. */
static const lv_wal_object *first_with_prefix(const wc *w, const char *prefix)
{
    size_t lo = 0, hi = w->n, len = strlen(prefix);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(w->objs[mid].key, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < w->n && strncmp(w->objs[lo].key, prefix, len) == 0 ? &w->objs[lo] : NULL;
}

static void compare_catalog(wc *w)
{
    for (size_t i = 0; i < w->ncat; i++) {
        const catrow *c = &w->cat[i];
        const lv_wal_object *o = w->n ? bsearch(c->key, w->objs, w->n, sizeof *w->objs, cmp_obj_key) : NULL;
        if (o) {
            if (o->stored_size != c->size)
                lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "%s: %" PRIu64 " bytes, but %" PRIu64 " were stored (%s)",
                                 c->key, o->stored_size, c->size, o->stored_size < c->size ? "truncated" : "damaged");
            continue;
        }
        lv_wal_object want;
        if (lv_wal_object_parse(c->key, c->size, &want) != 0)
            continue; /* not a key this build writes */
        const lv_deletions *del = lv_check_deletions(w->ck);
        if (strcmp(del->wal_before, "FFFFFFFFFFFFFFFFFFFFFFFF") == 0 ||
            (want.name.kind != LV_WAL_HISTORY && lv_deletions_wal_expired(del, want.name.log, want.name.seg)))
            continue; /* expired by forget, or the whole archive by stanza delete (deleted/ records it) */
        char prefix[LV_WAL_KEY_MAX];
        snprintf(prefix, sizeof prefix, "wal/%08X/%s-", want.name.tli, want.name.name);
        const lv_wal_object *other = first_with_prefix(w, prefix);
        w->kw->missing++;
        if (other)
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "%s was replaced by %s (another content under the same "
                             "name; the local catalog recorded the first)", c->key, other->key);
        else
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "%s is missing, but the local catalog records it (deleted "
                             "or lost)", c->key);
    }
}

static int read_objects(wc *w)
{
    size_t m;
    size_t *order = lv_check_sample(w->ck, w->n, &m);
    int rc = LV_OK;
    lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; rc == LV_OK && i < m; i++) {
        const lv_wal_object *o = &w->objs[order[i]];
        lv_buf_reset(&b);
        int g = lv_wal_object_read(w->r, o, &b);
        if (g == LV_OK) {
            w->kw->read++;
            w->kw->bytes_read += o->stored_size;
        } else if (g == LV_ERR_NOT_FOUND) {
            lv_check_problem(w->ck, w->kw, LV_CHECK_WARNING, "%s: vanished while checking", o->key);
        } else if (g == LV_ERR_CORRUPT) {
            lv_check_problem(w->ck, w->kw, LV_CHECK_ERROR, "%s", lv_errmsg());
        } else {
            rc = g;
        }
    }
    lv_buf_free(&b);
    free(order);
    return rc;
}

static int step(lv_check *ck)
{
    wc w = {.ck = ck, .r = lv_check_repo(ck)};
    w.ks = lv_check_kind_of(ck, "stanza");
    w.kw = lv_check_kind_of(ck, "wal");
    int rc = LV_OK;
    if (w.r->cat) {
        w.cached = lv_wal_stanza_cache_get(w.r->cat, w.r, &w.cache) == LV_OK;
        lv_err_clear();
        if ((rc = lv_catalog_wal_each(w.r->cat, cat_cb, &w)) != LV_OK)
            lv_err_ctx("reading the local catalog");
    }
    if (rc == LV_OK && (rc = lv_store_list(w.r->store, "wal/", list_cb, &w)) != LV_OK)
        lv_err_ctx("listing wal/");
    if (rc == LV_OK) {
        w.kw->objects = w.n;
        check_stanza(&w);
        uint32_t seg_size = w.have_stanza ? w.stanza.seg_size : w.cached ? w.cache.seg_size : 0;
        check_listing(&w, seg_size);
        check_needs(&w, seg_size);
        compare_catalog(&w);
        rc = read_objects(&w);
    }
    for (size_t i = 0; i < w.ncat; i++)
        free(w.cat[i].key);
    free(w.cat);
    free(w.objs);
    free(w.segs);
    return rc;
}

void lv_wal_repo_check_register(void) { lv_check_register("the WAL archive", step); }
