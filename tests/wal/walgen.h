/* Crafting WAL segments for tests: PostgreSQL 15 layout (wal-format.md 2-9), records with real CRCs,
 * page headers written as records reach the pages, records continued across pages and segments.
 * A generator covers a run of consecutive segments in one buffer (seg_size each). */
#ifndef LV_TESTS_WALGEN_H
#define LV_TESTS_WALGEN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wal/records.h"

#define WG_PAGE 8192u
#define WG_SYSID UINT64_C(7300000000000000001)

typedef struct walgen {
    uint8_t *d;
    size_t len;              /* nseg * seg_size */
    uint32_t seg_size, tli;
    uint64_t base, pos, prev;
    uint64_t written_to;     /* highest page start that has a header */
} walgen;

static inline void wg_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline void wg_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wg_put64(uint8_t *p, uint64_t v)
{
    wg_put32(p, (uint32_t)v);
    wg_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t wg_phd(const walgen *g, uint64_t page) { return page % g->seg_size ? 24u : 40u; }

static inline void wg_page_header(walgen *g, uint64_t page, uint16_t flags, uint32_t rem)
{
    uint8_t *p = g->d + (page - g->base);
    wg_put16(p, 0xD110);
    int lng = page % g->seg_size == 0;
    wg_put16(p + 2, (uint16_t)(flags | (lng ? 0x0002 : 0) | 0x0004));
    wg_put32(p + 4, g->tli);
    wg_put64(p + 8, page);
    wg_put32(p + 16, rem);
    if (lng) {
        wg_put64(p + 24, WG_SYSID);
        wg_put32(p + 32, g->seg_size);
        wg_put32(p + 36, WG_PAGE);
    }
}

/* nseg segments of seg_size from segment segno on timeline tli; the first page header is written. */
static inline void wg_init(walgen *g, uint32_t seg_size, uint32_t tli, uint64_t segno, size_t nseg)
{
    memset(g, 0, sizeof *g);
    g->seg_size = seg_size;
    g->tli = tli;
    g->len = nseg * seg_size;
    g->d = calloc(1, g->len);
    g->base = segno * seg_size;
    wg_page_header(g, g->base, 0, 0);
    g->pos = g->base + 40;
}

/* Append a record (rmid, info, xid, body = fragment headers and data, without the 24-byte header).
 * Returns its LSN, or 0 when it does not fit. */
static inline uint64_t wg_record(walgen *g, uint8_t rmid, uint8_t info, uint32_t xid, const uint8_t *body,
                                 uint32_t blen)
{
    uint32_t tot = 24 + blen;
    uint8_t *rec = malloc(tot);
    wg_put32(rec, tot);
    wg_put32(rec + 4, xid);
    wg_put64(rec + 8, g->prev);
    rec[16] = info;
    rec[17] = rmid;
    rec[18] = rec[19] = 0;
    if (blen)
        memcpy(rec + 24, body, blen);
    uint32_t crc = lv_crc32c(~0u, rec + 24, blen);
    crc = lv_crc32c(crc, rec, 20) ^ ~0u;
    wg_put32(rec + 20, crc);
    uint64_t pos = (g->pos + 7) & ~(uint64_t)7;
    if (pos % WG_PAGE == 0) {
        if (pos - g->base >= g->len) {
            free(rec);
            return 0;
        }
        wg_page_header(g, pos, 0, 0);
        pos += wg_phd(g, pos);
    }
    uint64_t lsn = pos;
    uint32_t done = 0;
    while (done < tot) {
        uint64_t page = pos - pos % WG_PAGE;
        uint32_t room = (uint32_t)(page + WG_PAGE - pos), take = tot - done < room ? tot - done : room;
        memcpy(g->d + (pos - g->base), rec + done, take);
        done += take;
        pos += take;
        if (done < tot) {
            page += WG_PAGE;
            if (page - g->base >= g->len) {
                free(rec);
                g->pos = pos;
                return 0; /* cut at the end of the buffer */
            }
            wg_page_header(g, page, 0x0001, tot - done);
            pos = page + wg_phd(g, page);
        }
    }
    free(rec);
    g->prev = lsn;
    g->pos = pos;
    return lsn;
}

/* A body with only main data. */
static inline uint32_t wg_main(uint8_t *body, const uint8_t *main, uint32_t n)
{
    uint32_t k = 0;
    if (n <= 255) {
        body[k++] = 255;
        body[k++] = (uint8_t)n;
    } else {
        body[k++] = 254;
        wg_put32(body + k, n);
        k += 4;
    }
    memcpy(body + k, main, n);
    return k + n;
}

/* COMMIT (abort = 0) or ABORT with a time (unix us), dbinfo and dropped relfilenodes (1663/db/rel). */
static inline uint64_t wg_xact(walgen *g, int abort, uint32_t xid, int64_t unix_us, uint32_t db,
                               const uint32_t *rels, uint32_t nrels)
{
    uint8_t main[1024], body[1100];
    uint32_t k = 0;
    wg_put64(main, (uint64_t)(unix_us - LV_PG_EPOCH_US));
    k = 8;
    wg_put32(main + k, 0x001 | (nrels ? 0x004u : 0));
    k += 4;
    wg_put32(main + k, db), wg_put32(main + k + 4, 1663);
    k += 8;
    if (nrels) {
        wg_put32(main + k, nrels);
        k += 4;
        for (uint32_t i = 0; i < nrels; i++, k += 12)
            wg_put32(main + k, 1663), wg_put32(main + k + 4, db), wg_put32(main + k + 8, rels[i]);
    }
    uint32_t n = wg_main(body, main, k);
    return wg_record(g, 1, (uint8_t)((abort ? 0x20 : 0x00) | 0x80), xid, body, n);
}

/* A filler record (rm Heap2, no blocks) of about n bytes. */
static inline uint64_t wg_filler(walgen *g, uint32_t n)
{
    uint8_t *main = calloc(1, n + 8), *body = malloc(n + 16);
    uint32_t k = wg_main(body, main, n);
    uint64_t lsn = wg_record(g, 9, 0x00, 700, body, k);
    free(main);
    free(body);
    return lsn;
}

/* XLOG_SWITCH: the rest of the segment stays zero. */
static inline uint64_t wg_switch(walgen *g)
{
    uint64_t lsn = wg_record(g, 0, 0x40, 0, NULL, 0);
    if (lsn)
        g->pos = (g->pos + g->seg_size - 1) / g->seg_size * g->seg_size;
    return lsn;
}

/* Fill with filler records up to LSN `until` (roughly: stops before crossing it). */
static inline void wg_fill_to(walgen *g, uint64_t until)
{
    while (g->pos + 3000 < until && wg_filler(g, 2000))
        ;
}

#endif
