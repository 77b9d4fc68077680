/* Commit times of a WAL range (contract in wal/rangetimes.h).
 *
 * The catalog's per-segment times (wal push, wal/walcat.h) decide which segments can be skipped: a
 * segment known to hold no commit is passed over without a download. The segment that holds the last
 * commit is always scanned, since only its records give the LSN and xid; the first one is scanned when
 * from_lsn is inside it (the catalog's time may belong to a commit before from_lsn). At most SCAN_MAX
 * segments are downloaded per end: a range whose last SCAN_MAX unknown segments hold no commit reports
 * no time (0), which callers treat as "not known" rather than guessing. */
#include "wal/rangetimes.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "catalog/wal.h"
#include "catalog/catalog.h"
#include "wal/records.h"
#include "wal/walcat.h"

#define SCAN_MAX 32

typedef struct seg_times {
    int scanned, found;
    int64_t first_us, last_us;
    uint64_t last_lsn;
    uint32_t last_xid;
} seg_times;

/* Commit/abort records starting in [from, to) of data, added to t. Returns where a record continuing past
 * the data starts (0 when none), or (uint64_t)-1 when the data is not WAL. */
static uint64_t scan_bytes(const uint8_t *data, size_t len, uint64_t from, uint64_t to, seg_times *t)
{
    lv_walrec_reader rd;
    if (lv_walrec_init(&rd, data, len) != LV_OK)
        return (uint64_t)-1;
    lv_walrec rec;
    while (lv_walrec_next(&rd, &rec) == LV_WALREC_OK && rec.lsn < to) {
        lv_wal_event ev;
        if (rec.rmid != 1 || rec.lsn < from)
            continue;
        if (lv_wal_event_decode(&rd, &rec, &ev) != LV_OK) {
            lv_err_clear();
            continue;
        }
        if (ev.kind != LV_WEV_COMMIT && ev.kind != LV_WEV_ABORT)
            continue;
        if (!t->found)
            t->first_us = ev.time_us;
        t->found = 1;
        t->last_us = ev.time_us;
        t->last_lsn = rec.lsn;
        t->last_xid = ev.xid;
    }
    uint64_t cut = rd.status == LV_WALREC_CUT ? rd.pos : 0;
    lv_walrec_free(&rd);
    return cut;
}

/* Download segs[i] and find its first and last commit/abort record starting in [from, to); a record
 * continued into segs[i + 1] is read from the two joined (a commit straddling two segments is in
 * neither alone). A segment that does not authenticate or is not WAL: LV_ERR_CORRUPT with *bad = its
 * index (what segs[i] alone holds is in *t when segs[i + 1] is the damaged one). */
static int scan(const lv_repo *r, const lv_wal_object *const *segs, size_t i, size_t n, uint64_t from, uint64_t to,
                seg_times *t, size_t *bad)
{
    lv_buf b = LV_BUF_INIT;
    int rc = lv_wal_object_read(r, segs[i], &b);
    memset(t, 0, sizeof *t);
    t->scanned = 1;
    *bad = i;
    lv_wal_header h;
    if (rc == LV_OK && lv_wal_header_parse(b.data, b.len, &h) != LV_OK)
        rc = lv_err(LV_ERR_CORRUPT, "WAL object %s: %s", segs[i]->key, lv_errmsg());
    if (rc == LV_OK) {
        uint64_t end = h.pageaddr + h.seg_size < to ? h.pageaddr + h.seg_size : to;
        uint64_t cut = scan_bytes(b.data, b.len, from, end, t);
        if (cut && cut != (uint64_t)-1 && cut < end && i + 1 < n) {
            *bad = i + 1; /* appended: the record is read across the two */
            if ((rc = lv_wal_object_read(r, segs[i + 1], &b)) == LV_OK)
                scan_bytes(b.data, b.len, cut > from ? cut : from, end, t);
        }
    }
    lv_buf_free(&b);
    return rc;
}

/* What the catalog says of a segment: -1 unknown, 0 no commit, 1 has commits (times in *b, *e; both -1
 * when the only one continues into the next segment). */
static int cat_says(const lv_repo *r, const lv_wal_object *o, int64_t *b, int64_t *e)
{
    int known = 0;
    if (!r->cat || lv_catalog_wal_times(r->cat, o->name.name, &known, b, e) != LV_OK) {
        lv_err_clear();
        return -1;
    }
    if (!known)
        return -1;
    return *e != 0 ? 1 : 0;
}

/* Recovery cannot replay segs[d]: the range ends before it. */
static void cut_before(lv_wal_range *out, const lv_wal_object *const *segs, size_t d, uint32_t seg_size, size_t *n)
{
    lv_warn("WAL segment %s is damaged (%s): recovery cannot replay it, the recoverable range ends before it",
            segs[d]->name.name, lv_errmsg());
    lv_err_clear();
    memcpy(out->damaged, segs[d]->name.segment, sizeof out->damaged);
    uint64_t segno;
    if (lv_wal_segno(&segs[d]->name, seg_size, &segno) == 0 && segno * seg_size < out->end_lsn)
        out->end_lsn = segno * seg_size;
    out->segments = d;
    if (d > 0) {
        memcpy(out->last_segment, segs[d - 1]->name.segment, sizeof out->last_segment);
        out->end_tli = segs[d - 1]->name.tli;
    } else {
        out->last_segment[0] = '\0';
    }
    *n = d;
}

/* One pass over segs[0..*n): the last commit from the end backwards, then the first one forwards. A
 * damaged segment found on the way cuts *n; returns 1 when the forward scan cut it (the last commit
 * found before may lie beyond the cut: the caller runs another pass). t caches what was scanned. */
static int pass(const lv_repo *r, uint32_t seg_size, const lv_wal_object *const *segs, size_t *n, seg_times *t,
                lv_wal_range *out, int *rc)
{
    uint64_t seg0 = out->from_lsn / seg_size * seg_size;
    out->first_commit_time = out->last_commit_time = 0;
    out->last_commit_lsn = 0;
    out->last_commit_xid = 0;
    int scans = 0;
    size_t bad;
    for (size_t i = *n; i-- > 0 && *rc == LV_OK;) {
        int64_t b, e;
        int says = cat_says(r, segs[i], &b, &e);
        uint64_t start = seg0 + (uint64_t)i * seg_size;
        if (says == 0 && start >= out->from_lsn)
            continue;
        if (!t[i].scanned) {
            if (scans++ >= SCAN_MAX)
                break;
            *rc = scan(r, segs, i, *n, out->from_lsn, out->end_lsn, &t[i], &bad);
            if (*rc == LV_ERR_CORRUPT) {
                *rc = LV_OK;
                cut_before(out, segs, bad, seg_size, n);
                if (bad == i)
                    continue;
            }
        }
        if (*rc == LV_OK && t[i].found) {
            out->last_commit_time = t[i].last_us / 1000000;
            out->last_commit_lsn = t[i].last_lsn;
            out->last_commit_xid = t[i].last_xid;
            break;
        }
    }
    scans = 0;
    for (size_t i = 0; i < *n && *rc == LV_OK; i++) {
        int64_t b, e;
        int says = cat_says(r, segs[i], &b, &e);
        uint64_t start = seg0 + (uint64_t)i * seg_size;
        if (says == 0 && start >= out->from_lsn)
            continue;
        if (says == 1 && b > 0 && start >= out->from_lsn && start + seg_size <= out->end_lsn) {
            out->first_commit_time = b;
            break;
        }
        if (!t[i].scanned) {
            if (scans++ >= SCAN_MAX)
                break;
            *rc = scan(r, segs, i, *n, out->from_lsn, out->end_lsn, &t[i], &bad);
            if (*rc == LV_ERR_CORRUPT) {
                *rc = LV_OK;
                cut_before(out, segs, bad, seg_size, n);
                return 1;
            }
        }
        if (*rc == LV_OK && t[i].found) {
            out->first_commit_time = t[i].first_us / 1000000;
            break;
        }
    }
    return 0;
}

int lv_wal_range_times(const lv_repo *r, uint32_t seg_size, const lv_wal_object *const *segs, size_t n,
                       lv_wal_range *out)
{
    if (n == 0)
        return LV_OK;
    seg_times *t = lv_xcalloc(n, sizeof *t);
    int rc = LV_OK;
    while (pass(r, seg_size, segs, &n, t, out, &rc) && rc == LV_OK)
        ;
    free(t);
    return rc == LV_OK ? LV_OK : lv_err_ctx("reading commit times of WAL from %s", out->first_segment);
}
