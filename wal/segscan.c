/* Reading the segments of a range (contract in wal/segscan.h). */
#include "wal/segscan.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "catalog/wal.h"
#include "wal/stanza.h"

int lv_wal_segs_open(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_segs *s)
{
    memset(s, 0, sizeof *s);
    s->cur = (lv_buf)LV_BUF_INIT;
    s->cur_len = 0;
    lv_wal_stanza st;
    int rc = r->cat && lv_wal_stanza_cache_get(r->cat, r, &st) == LV_OK ? LV_OK : lv_wal_stanza_require(r, &st);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_err(LV_ERR_NOT_FOUND, "the repository has no WAL archive yet (no stanza)");
    if (rc != LV_OK)
        return rc;
    lv_err_clear();
    s->seg_size = st.seg_size;
    s->pg_version = st.pg_version;
    lv_wal_object *objs = NULL;
    size_t n = 0;
    if ((rc = lv_wal_range_segments_to(r, tli, from_lsn, target_tli, &s->range, &objs, &n)) != LV_OK)
        return rc;
    s->v = lv_xcalloc(n ? n : 1, sizeof *s->v);
    s->n = n;
    uint64_t seg0 = from_lsn / s->seg_size * s->seg_size;
    for (size_t i = 0; i < n; i++) {
        s->v[i].obj = objs[i];
        s->v[i].start_lsn = seg0 + (uint64_t)i * s->seg_size;
        s->v[i].end_lsn = s->v[i].start_lsn + s->seg_size;
        if (s->v[i].end_lsn > s->range.end_lsn)
            s->v[i].end_lsn = s->range.end_lsn; /* an older timeline's copy past its switch point */
    }
    free(objs);
    if (r->cat && n) {
        if (lv_catalog_walsums(r->cat, seg0, s->v[n - 1].start_lsn + 1, &s->cat, &s->ncat) != LV_OK) {
            lv_warn("the catalog's WAL summaries cannot be read (%s): the segments are read instead", lv_errmsg());
            lv_err_clear();
        }
        for (size_t i = 0; i < n; i++) {
            lv_catalog_walsum *c = lv_catalog_walsum_find(s->cat, s->ncat, s->v[i].obj.name.name);
            s->v[i].sum = c ? &c->s : NULL;
        }
        for (size_t i = 0; i + 1 < n; i++)
            if (s->v[i].sum && s->v[i + 1].sum)
                lv_walsum_join(s->v[i].sum, s->v[i + 1].sum, s->pg_version);
    }
    return LV_OK;
}

void lv_wal_segs_free(lv_wal_segs *s)
{
    lv_catalog_walsums_free(s->cat, s->ncat);
    for (size_t i = 0; i < s->nmade; i++) {
        lv_walsum_free(s->made[i]);
        free(s->made[i]);
    }
    free(s->made);
    free(s->v);
    lv_buf_free(&s->cur);
    memset(s, 0, sizeof *s);
}

size_t lv_wal_segs_index(const lv_wal_segs *s, uint64_t lsn)
{
    if (!s->n || lsn < s->v[0].start_lsn)
        return s->n;
    size_t i = (size_t)((lsn - s->v[0].start_lsn) / s->seg_size);
    return i < s->n && lsn < s->v[i].end_lsn ? i : s->n;
}

/* Segment i's bytes into s->cur (reusing what was downloaded last). */
static int load(const lv_repo *r, lv_wal_segs *s, size_t i)
{
    if (s->have_cur && s->cur_i == i)
        return LV_OK;
    if (s->have_next && s->cur_i + 1 == i) { /* the next one follows it in the buffer: move it down */
        memmove(s->cur.data, s->cur.data + s->cur_len, s->cur.len - s->cur_len);
        s->cur.len -= s->cur_len;
        s->cur_len = s->cur.len;
        s->have_next = 0;
        s->have_cur = 1;
        s->cur_i = i;
        return LV_OK;
    }
    s->have_cur = s->have_next = 0;
    lv_buf_reset(&s->cur);
    int rc = lv_wal_object_read_records(r, &s->v[i].obj, &s->cur);
    if (rc != LV_OK)
        return rc;
    s->cur_len = s->cur.len;
    s->downloads++;
    s->cur_i = i;
    s->have_cur = 1;
    return LV_OK;
}

/* The record that segment cur_i ends with continues into the next one: keep only cur_i's pages from the one
 * holding `cut` (where that record starts) to its end, and append the next segment right after them, so
 * the two are contiguous WAL without a second 16 MiB segment in memory (the row counts' WAL read
 * peaked at 32 MiB of segments, the backup's largest buffer). cur_i is then no longer whole. */
static int load_next(const lv_repo *r, lv_wal_segs *s, uint64_t cut, uint32_t page_size)
{
    if (s->have_next)
        return LV_OK;
    uint64_t seg_start = s->v[s->cur_i].start_lsn / s->seg_size * s->seg_size;
    uint64_t page = cut - cut % page_size;
    if (page < seg_start || page - seg_start > s->cur_len)
        return lv_err(LV_ERR_INTERNAL, "WAL scan: a record at %X/%X outside segment %s", (unsigned)(cut >> 32),
                      (unsigned)cut, s->v[s->cur_i].obj.name.name);
    size_t from = (size_t)(page - seg_start), t = s->cur_len - from;
    memmove(s->cur.data, s->cur.data + from, t);
    s->cur.len = s->cur_len = t;
    s->tail_lsn = page;
    s->have_cur = 0;
    int rc = lv_wal_object_read_records(r, &s->v[s->cur_i + 1].obj, &s->cur);
    if (rc == LV_OK) {
        s->downloads++;
        s->have_next = 1;
    }
    return rc;
}

/* Summarize the loaded segment i (when it has no summary) and save it. */
static void summarize_loaded(const lv_repo *r, lv_wal_segs *s, size_t i)
{
    if (s->v[i].sum)
        return;
    lv_walsum *sum = lv_xcalloc(1, sizeof *sum);
    if (lv_walsum_scan(s->cur.data, s->cur_len, sum) != LV_OK) {
        lv_err_clear();
        free(sum);
        return;
    }
    LV_GROW(s->made, s->nmade, s->cmade);
    s->made[s->nmade++] = sum;
    s->v[i].sum = sum;
    if (i > 0 && s->v[i - 1].sum) /* a change split with a neighbour */
        lv_walsum_join(s->v[i - 1].sum, sum, s->pg_version);
    if (i + 1 < s->n && s->v[i + 1].sum)
        lv_walsum_join(sum, s->v[i + 1].sum, s->pg_version);
    if (r->cat && lv_catalog_walsum_save(r->cat, s->v[i].obj.name.name, sum) != LV_OK) {
        lv_warn("cannot record the summary of WAL segment %s in the catalog: %s", s->v[i].obj.name.name,
                lv_errmsg());
        lv_err_clear();
    }
}

int lv_wal_segs_summarize(const lv_repo *r, lv_wal_segs *s, size_t i0, size_t i1, int64_t skip_before_s)
{
    for (size_t i = i0; i < i1 && i < s->n; i++) {
        if (s->v[i].sum)
            continue;
        if (skip_before_s && r->cat) {
            int known = 0;
            int64_t b, e;
            if (lv_catalog_wal_times(r->cat, s->v[i].obj.name.name, &known, &b, &e) != LV_OK)
                lv_err_clear();
            else if (known && e > 0 && e < skip_before_s)
                continue;
        }
        int rc = load(r, s, i);
        if (rc != LV_OK)
            return rc;
        lv_wal_header h;
        if (lv_wal_header_parse(s->cur.data, s->cur_len, &h) != LV_OK)
            return lv_err(LV_ERR_CORRUPT, "archived WAL segment %s: %s", s->v[i].obj.key, lv_errmsg());
        summarize_loaded(r, s, i);
    }
    return LV_OK;
}

/* Records starting in [lo, hi) of data: a whole segment (h NULL), or (h: the segment's long header) its
 * pages from base on followed by the next segment's, read from the record start *at (*at_prev the record
 * before it). When a record continues past the data, *at and *at_prev receive where it starts and the
 * record before it, else *at = 0. */
static int scan_bytes(const uint8_t *data, size_t len, const lv_wal_header *h, uint64_t base, uint64_t lo,
                      uint64_t hi, const lv_wal_seg *seg, lv_wal_rec_cb cb, void *arg, uint64_t *at,
                      uint64_t *at_prev)
{
    lv_walrec_reader rd;
    if (h)
        lv_walrec_init_at(&rd, h, data, len, base, *at, *at_prev);
    else if (lv_walrec_init(&rd, data, len) != LV_OK)
        return lv_err(LV_ERR_CORRUPT, "WAL segment %s: %s", seg->obj.name.name, lv_errmsg());
    lv_walrec rec;
    int rc = LV_OK;
    while (rc == LV_OK && lv_walrec_next(&rd, &rec) == LV_WALREC_OK && rec.lsn < hi)
        if (rec.lsn >= lo)
            rc = cb(arg, &rd, &rec, seg);
    int cut = rc == LV_OK && rd.done && rd.status == LV_WALREC_CUT;
    *at = cut ? rd.pos : 0;
    *at_prev = cut ? rd.prev : 0;
    lv_walrec_free(&rd);
    return rc;
}

int lv_wal_segs_scan(const lv_repo *r, lv_wal_segs *s, size_t i, uint64_t from_lsn, lv_wal_rec_cb cb, void *arg)
{
    if (i >= s->n)
        return lv_err(LV_ERR_INTERNAL, "WAL scan: segment %zu of %zu", i, s->n);
    int rc = load(r, s, i);
    if (rc != LV_OK)
        return rc;
    const lv_wal_seg *seg = &s->v[i];
    lv_wal_header h;
    if (lv_wal_header_parse(s->cur.data, s->cur_len, &h) != LV_OK)
        return lv_err(LV_ERR_CORRUPT, "archived WAL segment %s: %s", seg->obj.key, lv_errmsg());
    summarize_loaded(r, s, i);
    uint64_t lo = from_lsn > seg->start_lsn ? from_lsn : seg->start_lsn, hi = seg->end_lsn, cut = 0, prev = 0;
    rc = scan_bytes(s->cur.data, s->cur_len, NULL, 0, lo, hi, seg, cb, arg, &cut, &prev);
    if (rc != LV_OK || !cut || cut >= hi || i + 1 >= s->n)
        return rc;
    /* A record continues into the next segment: read it from the end of this one joined with the next. */
    if ((rc = load_next(r, s, cut, h.page_size)) != LV_OK)
        return rc;
    return scan_bytes(s->cur.data, s->cur.len, &h, s->tail_lsn, cut > lo ? cut : lo, hi, seg, cb, arg, &cut, &prev);
}

typedef struct first_seg {
    uint32_t seg_size;
    int found;
    uint32_t tli;
    uint64_t lsn;
} first_seg;

static int first_cb(void *arg, const lv_wal_object *o)
{
    first_seg *f = arg;
    uint64_t segno;
    if (o->name.kind != LV_WAL_SEGMENT || lv_wal_segno(&o->name, f->seg_size, &segno) != 0)
        return LV_OK;
    f->found = 1;
    f->tli = o->name.tli;
    f->lsn = segno * f->seg_size;
    return 1; /* the listing is in timeline, then segment order */
}

int lv_wal_first_segment(const lv_repo *r, uint32_t tli, uint32_t *tli_out, uint64_t *lsn)
{
    first_seg f = {0};
    int rc = lv_wal_seg_size(r, &f.seg_size);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_err(LV_ERR_NOT_FOUND, "the repository has no WAL archive yet");
    if (rc == LV_OK && (rc = lv_wal_list(r->store, tli, first_cb, &f)) == 1)
        rc = LV_OK;
    if (rc != LV_OK)
        return rc;
    if (!f.found)
        return lv_err(LV_ERR_NOT_FOUND, "the WAL archive holds no segment");
    *tli_out = f.tli;
    *lsn = f.lsn;
    return LV_OK;
}

int lv_wal_scan_start(const lv_repo *r, uint32_t oldest_tli, uint64_t oldest_lsn, uint64_t since_lsn, uint32_t *tli,
                      uint64_t *from)
{
    *tli = oldest_tli;
    *from = oldest_lsn;
    if (oldest_tli && !since_lsn)
        return LV_OK;
    uint32_t ftli;
    uint64_t flsn;
    int rc = lv_wal_first_segment(r, 0, &ftli, &flsn);
    if (rc != LV_OK)
        return rc;
    if (!*tli)
        *tli = ftli, *from = flsn;
    if (since_lsn)
        *from = since_lsn;
    return LV_OK;
}
