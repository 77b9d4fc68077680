/* The recoverable WAL range and the wait for a backup's WAL (contract in wal/range.h). */
#include "wal/range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "catalog/catalog.h"
#include "wal/archive.h"
#include "wal/rangetimes.h"
#include "wal/stanza.h"
#include "wal/timeline.h"

/* The archiver usually delivers the last segment within a few hundred milliseconds of the stop: poll
 * often at first (a listing is cheap), then back off to twice a second. */
/* Poll every 50 ms for the first 2 s (the usual case: the last segment is being pushed right now, and
 * each poll is one narrow listing), then back off to 500 ms. A plain doubling from 50 ms could see a
 * segment up to 400 ms late, which a backup's wall time paid in full. */
#define POLL_FIRST_NS 50000000L
#define POLL_FAST_S 2.0
#define POLL_MAX_NS 500000000L

/* ---- lv_wal_wait_range ---------------------------------------------------------------------- */

typedef struct wait_arg {
    uint32_t tli, seg_size;
    uint64_t next, last; /* segments [next, last] still to be seen */
} wait_arg;

/* The listing is in key order, which for one timeline is segment order: each call either advances
 * `next` or proves it missing (stop). */
static int wait_cb(void *arg, const char *key, uint64_t size)
{
    wait_arg *w = arg;
    lv_wal_object o;
    uint64_t segno;
    if (lv_wal_object_parse(key, size, &o) != 0 || o.name.kind != LV_WAL_SEGMENT ||
        lv_wal_segno(&o.name, w->seg_size, &segno) != 0 || segno < w->next)
        return LV_OK;
    if (segno > w->next)
        return 1; /* a gap: next is not there (yet) */
    w->next++;
    return w->next > w->last ? 1 : LV_OK;
}

/* "wal/TLI/" plus the longest common prefix of the names of segments a and b: one narrow listing. */
static void wait_prefix(uint32_t tli, uint64_t a, uint64_t b, uint32_t seg_size, char *out, size_t len)
{
    char na[25], nb[25];
    lv_wal_segment_name(tli, a, seg_size, na);
    lv_wal_segment_name(tli, b, seg_size, nb);
    size_t k = 0;
    while (k < 24 && na[k] == nb[k])
        k++;
    snprintf(out, len, "wal/%08X/%.*s", tli, (int)k, na);
}

int lv_wal_wait_range(const lv_repo *r, uint32_t tli, uint64_t start_lsn, uint64_t stop_lsn, uint32_t seg_size,
                      int timeout_s)
{
    if (seg_size == 0 || (seg_size & (seg_size - 1)) != 0 || stop_lsn < start_lsn)
        return lv_err(LV_ERR_INTERNAL, "WAL wait: bad range or segment size %u", seg_size);
    /* Like pg_backup_stop: the stop LSN is the end of the backup's WAL, so an LSN on a segment boundary
     * needs only the segment before it (XLByteToPrevSeg). */
    wait_arg w = {.tli = tli, .seg_size = seg_size, .next = start_lsn / seg_size,
                  .last = (stop_lsn > start_lsn && stop_lsn % seg_size == 0 ? stop_lsn - 1 : stop_lsn) / seg_size};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long poll_ns = POLL_FIRST_NS;
    for (;;) {
        char prefix[64];
        wait_prefix(tli, w.next, w.last, seg_size, prefix, sizeof prefix);
        int rc = lv_store_list(r->store, prefix, wait_cb, &w);
        if (rc != LV_OK && rc != 1)
            return lv_err_ctx("waiting for WAL on timeline %u", tli);
        if (w.next > w.last)
            return LV_OK;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (waited >= (double)timeout_s) {
            char name[25], a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
            lv_wal_segment_name(tli, w.next, seg_size, name);
            lv_lsn_format(start_lsn, a);
            lv_lsn_format(stop_lsn, b);
            return lv_err(LV_ERR_INCOMPLETE, "WAL segment %s (needed for %s..%s) was not archived within %d s",
                          name, a, b, timeout_s);
        }
        struct timespec d = {0, poll_ns};
        nanosleep(&d, NULL);
        if (waited >= POLL_FAST_S)
            poll_ns = poll_ns * 2 < POLL_MAX_NS ? poll_ns * 2 : POLL_MAX_NS;
    }
}

/* ---- lv_wal_range_from ---------------------------------------------------------------------- */

typedef struct seg_ent {
    uint32_t tli;
    uint64_t segno;
    lv_wal_object obj;
} seg_ent;

typedef struct listing {
    uint32_t seg_size;
    seg_ent *segs;
    size_t nsegs, cap;
    lv_wal_object *hist;
    size_t nhist, hcap;
} listing;

static int list_cb(void *arg, const lv_wal_object *o)
{
    listing *l = arg;
    uint64_t segno;
    if (o->name.kind == LV_WAL_HISTORY) {
        LV_GROW(l->hist, l->nhist, l->hcap);
        l->hist[l->nhist++] = *o;
    } else if (o->name.kind == LV_WAL_SEGMENT && lv_wal_segno(&o->name, l->seg_size, &segno) == 0) {
        if (l->nsegs && l->segs[l->nsegs - 1].tli == o->name.tli && l->segs[l->nsegs - 1].segno == segno)
            return LV_OK; /* a second copy (a conflict): fetch reports it, the range only needs presence */
        LV_GROW(l->segs, l->nsegs, l->cap);
        l->segs[l->nsegs++] = (seg_ent){o->name.tli, segno, *o};
    }
    /* .partial files are never fetched by recovery (it asks for the full name); .backup carry no WAL */
    return LV_OK;
}

static const seg_ent *find_seg(const listing *l, uint32_t tli, uint64_t segno)
{
    size_t lo = 0, hi = l->nsegs; /* sorted by (tli, segno): the listing's key order */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const seg_ent *e = &l->segs[mid];
        if (e->tli < tli || (e->tli == tli && e->segno < segno))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->nsegs && l->segs[lo].tli == tli && l->segs[lo].segno == segno ? &l->segs[lo] : NULL;
}

typedef lv_wal_tl_span tl_span;
#define LINEAGE_MAX LV_WAL_LINEAGE_MAX

/* The lineage recovery follows from (tli, from_lsn) to target (a recovery_target_timeline): its history
 * from tli on, which must hold tli up to from_lsn. */
static int lineage_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target, tl_span *sp, size_t *nsp)
{
    size_t k = 0;
    int rc = lv_wal_history_get(r, target, sp, &k);
    if (rc != LV_OK)
        return rc;
    for (size_t j = 0; j < k; j++)
        if (sp[j].tli == tli && sp[j].end >= from_lsn) {
            memmove(sp, sp + j, (k - j) * sizeof *sp);
            *nsp = k - j;
            return LV_OK;
        }
    char lsn[LV_LSN_TEXT_MAX];
    lv_lsn_format(from_lsn, lsn);
    return lv_err(LV_ERR_NOT_FOUND, "timeline %u does not descend from timeline %u at %s (its history file says "
                  "otherwise)", target, tli, lsn);
}

/* The lineage recovery_target_timeline = 'latest' follows from (tli, from_lsn): the newest timeline
 * whose history has tli as an ancestor that ended at or after from_lsn; tli alone when none does. */
static int lineage(const lv_repo *r, const listing *l, uint32_t tli, uint64_t from_lsn, tl_span *sp, size_t *nsp)
{
    for (size_t i = l->nhist; i-- > 0;) { /* newest first: the listing is in timeline order */
        const lv_wal_object *h = &l->hist[i];
        if (h->name.tli <= tli)
            break;
        lv_buf b = LV_BUF_INIT;
        int rc = lv_wal_object_read(r, h, &b);
        if (rc != LV_OK) {
            lv_buf_free(&b);
            return rc;
        }
        size_t k = 0;
        int ok = lv_wal_history_parse((const char *)b.data, b.len, h->name.tli, sp, &k) == 0;
        lv_buf_free(&b);
        if (!ok) {
            lv_warn("timeline history %s is malformed: ignored", h->name.name);
            continue;
        }
        for (size_t j = 0; j < k; j++)
            if (sp[j].tli == tli && sp[j].end >= from_lsn) {
                /* keep the spans from tli on */
                memmove(sp, sp + j, (k - j) * sizeof *sp);
                *nsp = k - j;
                return LV_OK;
            }
    }
    sp[0] = (tl_span){tli, 0, UINT64_MAX};
    *nsp = 1;
    return LV_OK;
}

/* The archived file recovery would read for segment segno: the newest timeline of the lineage that
 * has begun by then, or an older one whose span covers the whole segment. NULL when none is archived;
 * *want is then the timeline recovery would ask for first. */
static const seg_ent *pick_seg(const listing *l, const tl_span *sp, size_t nsp, uint64_t segno, uint32_t *want)
{
    uint64_t s0 = segno * l->seg_size, s1 = s0 + l->seg_size;
    *want = 0;
    for (size_t i = nsp; i-- > 0;) {
        if (sp[i].begin / l->seg_size > segno || s0 >= sp[i].end)
            continue;
        if (!*want)
            *want = sp[i].tli;
        else if (sp[i].end < s1)
            continue; /* an older timeline's copy holds only part of it */
        const seg_ent *e = find_seg(l, sp[i].tli, segno);
        if (e)
            return e;
    }
    return NULL;
}

int lv_wal_seg_size(const lv_repo *r, uint32_t *seg_size)
{
    lv_wal_stanza s;
    if (r->cat && lv_wal_stanza_cache_get(r->cat, r, &s) == LV_OK) {
        *seg_size = s.seg_size;
        return LV_OK;
    }
    lv_err_clear();
    int rc = lv_wal_stanza_require(r, &s);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_err(LV_ERR_NOT_FOUND, "the repository has no WAL archive yet (no stanza)");
    if (rc == LV_OK)
        *seg_size = s.seg_size;
    return rc;
}

static int range(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target, lv_wal_range *out,
                 lv_wal_object **segs_out, size_t *n_out, int times)
{
    memset(out, 0, sizeof *out);
    listing l = {0};
    int rc = lv_wal_seg_size(r, &l.seg_size);
    if (rc != LV_OK)
        return rc;
    if ((rc = lv_wal_list(r->store, 0, list_cb, &l)) != LV_OK) {
        rc = lv_err_ctx("cannot list the WAL archive");
        goto done;
    }
    tl_span sp[LINEAGE_MAX];
    size_t nsp = 0;
    if ((rc = target && target != tli ? lineage_to(r, tli, from_lsn, target, sp, &nsp)
                                      : target ? (sp[0] = (tl_span){tli, 0, UINT64_MAX}, nsp = 1, LV_OK)
                                               : lineage(r, &l, tli, from_lsn, sp, &nsp)) != LV_OK)
        goto done;

    out->start_tli = out->end_tli = tli;
    out->from_lsn = from_lsn;
    uint64_t segno = from_lsn / l.seg_size;
    uint32_t want;
    const seg_ent *first = pick_seg(&l, sp, nsp, segno, &want), *last = NULL;
    if (!first) {
        char name[25], lsn[LV_LSN_TEXT_MAX];
        lv_wal_segment_name(want ? want : tli, segno, l.seg_size, name);
        lv_lsn_format(from_lsn, lsn);
        rc = lv_err(LV_ERR_NOT_FOUND, "WAL segment %s (holding %s) is not archived", name, lsn);
        goto done;
    }
    /* The range's segments, in order (kept for the time scan). */
    const lv_wal_object **run = NULL;
    size_t nrun = 0, rcap = 0;
    for (const seg_ent *e = first; e; e = pick_seg(&l, sp, nsp, ++segno, &want)) {
        LV_GROW(run, nrun, rcap);
        run[nrun++] = &e->obj;
        last = e;
    }
    memcpy(out->first_segment, first->obj.name.segment, sizeof out->first_segment);
    memcpy(out->last_segment, last->obj.name.segment, sizeof out->last_segment);
    out->segments = nrun;
    out->end_tli = last->tli;
    out->end_lsn = (last->segno + 1) * l.seg_size;
    for (size_t i = 0; i < nsp; i++) /* an older timeline's copy ends where that timeline ended */
        if (sp[i].tli == last->tli && sp[i].end < out->end_lsn)
            out->end_lsn = sp[i].end;
    /* A gap: is anything archived on the lineage after the missing segment? */
    for (size_t i = 0; i < l.nsegs && !out->missing[0]; i++) {
        const seg_ent *e = &l.segs[i];
        if (e->segno <= segno)
            continue;
        for (size_t j = 0; j < nsp; j++)
            if (sp[j].tli == e->tli && e->segno * l.seg_size < sp[j].end) {
                lv_wal_segment_name(want ? want : last->tli, segno, l.seg_size, out->missing);
                break;
            }
    }
    if (times)
        rc = lv_wal_range_times(r, l.seg_size, run, nrun, out);
    if (rc == LV_OK && out->damaged[0]) /* the range was cut before a damaged segment */
        nrun = out->segments;
    if (rc == LV_OK && segs_out) {
        *segs_out = lv_xmalloc((nrun ? nrun : 1) * sizeof **segs_out);
        for (size_t i = 0; i < nrun; i++)
            (*segs_out)[i] = *run[i];
        *n_out = nrun;
    }
    free(run);
done:
    free(l.segs);
    free(l.hist);
    return rc;
}

int lv_wal_range_from(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out)
{
    return range(r, tli, from_lsn, 0, out, NULL, NULL, 1);
}

int lv_wal_range_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out)
{
    return range(r, tli, from_lsn, target_tli, out, NULL, NULL, 1);
}

int lv_wal_range_lsn(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out)
{
    return range(r, tli, from_lsn, 0, out, NULL, NULL, 0);
}

int lv_wal_range_lsn_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out)
{
    return range(r, tli, from_lsn, target_tli, out, NULL, NULL, 0);
}

int lv_wal_range_segments(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out, lv_wal_object **segs,
                          size_t *n)
{
    *segs = NULL;
    *n = 0;
    return range(r, tli, from_lsn, 0, out, segs, n, 0);
}

int lv_wal_range_segments_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out,
                             lv_wal_object **segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    return range(r, tli, from_lsn, target_tli, out, segs, n, 0);
}
