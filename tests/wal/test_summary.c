/* The per-segment summary (wal/summary.h) on crafted PostgreSQL 15 segments (walgen.h): row counts per
 * transaction and relation with subtransactions folded into their transaction, the threshold, the ends, the
 * xid range, restore points and PREPAREs, and a row change cut by the segment boundary, counted in the segment
 * it starts in whether its head is there (counted at once) or only its first 16 bytes are (counted when the
 * next segment's summary is read beside it, lv_walsum_join). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tests/check.h"
#include "tests/wal/walgen.h"
#include "wal/summary.h"

#define SEG (1u << 20)
#define T0 INT64_C(1795000000000000)
#define REL 16500u

/* A heap record of rm (10 Heap, 9 Heap2) and info, block 0 of 1663/5/rel, with main data. */
static uint64_t heap(walgen *g, uint8_t rm, uint8_t info, uint32_t xid, uint32_t rel, const uint8_t *main, uint8_t n)
{
    uint8_t body[64];
    uint32_t k = 0;
    body[k++] = 0;    /* block id 0 */
    body[k++] = 0;    /* fork main, no image, no data */
    body[k++] = 0, body[k++] = 0;
    wg_put32(body + k, 1663), wg_put32(body + k + 4, 5), wg_put32(body + k + 8, rel);
    k += 12;
    wg_put32(body + k, 7); /* block number */
    k += 4;
    body[k++] = 255;
    body[k++] = n;
    memcpy(body + k, main, n);
    return wg_record(g, rm, info, xid, body, k + n);
}

static uint64_t del(walgen *g, uint32_t xid, uint8_t flags)
{
    uint8_t m[8] = {0, 0, 0, 0, 3, 0, 0, flags}; /* xmax, offnum 3, infobits, flags */
    return heap(g, 10, 0x10, xid, REL, m, 8);
}

static uint64_t ins(walgen *g, uint32_t xid) { return heap(g, 10, 0x00, xid, REL, (const uint8_t *)"\1\0\0", 3); }
static uint64_t upd(walgen *g, uint32_t xid) { return heap(g, 10, 0x40, xid, REL, (const uint8_t *)"\0\0\0\0\1\0\0\0\0\0\0\0\2\0", 14); }

static uint64_t multi(walgen *g, uint32_t xid, uint16_t ntuples)
{
    uint8_t m[4] = {0, 0, (uint8_t)ntuples, (uint8_t)(ntuples >> 8)};
    return heap(g, 9, 0x50, xid, REL, m, 4);
}

/* COMMIT of xid at time t with subtransactions. */
static uint64_t commit(walgen *g, uint32_t xid, int64_t t, const uint32_t *subs, uint32_t nsubs)
{
    uint8_t main[256], body[300];
    wg_put64(main, (uint64_t)(t - LV_PG_EPOCH_US));
    wg_put32(main + 8, 0x001 | (nsubs ? 0x002u : 0));
    wg_put32(main + 12, 5), wg_put32(main + 16, 1663);
    uint32_t k = 20;
    if (nsubs) {
        wg_put32(main + k, nsubs);
        k += 4;
        for (uint32_t i = 0; i < nsubs; i++, k += 4)
            wg_put32(main + k, subs[i]);
    }
    return wg_record(g, 1, 0x80, xid, body, wg_main(body, main, k));
}

/* PREPARE TRANSACTION gid (PostgreSQL 15: a 72-byte xl_xact_prepare, gidlen at 54, then the GID). */
static uint64_t prepare(walgen *g, uint32_t xid, const char *gid)
{
    uint8_t main[200] = {0}, body[260];
    wg_put32(main + 8, xid);
    wg_put32(main + 12, 5);
    wg_put64(main + 16, (uint64_t)(T0 - LV_PG_EPOCH_US));
    uint16_t gl = (uint16_t)(strlen(gid) + 1);
    main[54] = (uint8_t)gl, main[55] = (uint8_t)(gl >> 8);
    memcpy(main + 72, gid, gl);
    return wg_record(g, 1, 0x10, xid, body, wg_main(body, main, 72u + ((gl + 7u) & ~7u)));
}

static uint64_t restore_point(walgen *g, const char *name)
{
    uint8_t main[72] = {0}, body[80];
    wg_put64(main, (uint64_t)(T0 - LV_PG_EPOCH_US));
    snprintf((char *)main + 8, 64, "%s", name);
    return wg_record(g, 0, 0x70, 0, body, wg_main(body, main, 72));
}

/* Fillers until the next record starts exactly at target (8-aligned, near the end of its page). */
static void fill_to(walgen *g, uint64_t target)
{
    uint64_t page = target - target % WG_PAGE;
    while (g->pos < page)
        wg_filler(g, g->pos + 1000 < page ? 900 : 100);
    while (target - g->pos > 300)
        wg_filler(g, 200);
    uint64_t gap = target - ((g->pos + 7) & ~(uint64_t)7); /* records start 8-aligned */
    uint8_t body[400], m[400] = {0};
    /* 24 bytes of header, then DATA_SHORT (2 bytes) up to 255 bytes of data, else DATA_LONG (5 bytes) */
    uint32_t n = gap - 26 <= 255 ? (uint32_t)(gap - 26) : (uint32_t)(gap - 29);
    wg_record(g, 9, 0x00, 700, body, wg_main(body, m, n));
}

static const lv_walsum_change *row(const lv_walsum *s, uint32_t xid)
{
    for (size_t i = 0; i < s->nchanges; i++)
        if (s->changes[i].xid == xid)
            return &s->changes[i];
    return NULL;
}

static void check_counts(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 3, 1);
    for (int i = 0; i < 120; i++) /* 120 rows by subtransaction 901 of 900 */
        del(&g, 901, 0);
    for (int i = 0; i < 30; i++)
        ins(&g, 900), upd(&g, 900);
    del(&g, 900, 0x08); /* a speculative insertion's super delete: not a delete */
    multi(&g, 903, 250); /* COPY: 250 rows in one record */
    for (int i = 0; i < 60; i++)
        upd(&g, 902); /* below the threshold */
    restore_point(&g, "before_it");
    prepare(&g, 903, "gid'1");
    uint32_t subs[] = {901};
    commit(&g, 900, T0 + 5000000, subs, 1);
    commit(&g, 902, T0 + 6000000, NULL, 0);
    lv_walsum s;
    CHECK(lv_walsum_scan(g.d, g.len, &s) == LV_OK, "summary");
    const lv_walsum_change *a = row(&s, 900), *b = row(&s, 903);
    CHECK(a && a->deleted == 120 && a->inserted == 30 && a->updated == 30 && a->rel.rel == REL && a->rel.db == 5,
          "the subtransaction's deletes counted as its transaction's, the super delete not (%llu/%llu/%llu)",
          a ? (unsigned long long)a->deleted : 0, a ? (unsigned long long)a->inserted : 0,
          a ? (unsigned long long)a->updated : 0);
    CHECK(a && a->end == LV_WALSUM_END_COMMIT && a->end_time_us == T0 + 5000000, "... and its commit");
    CHECK(!row(&s, 902) && !row(&s, 901), "60 rows: below the threshold, no row; the subtransaction has none of its own");
    CHECK(b && b->inserted == 250 && b->end == LV_WALSUM_END_PREPARE, "MULTI_INSERT counts its tuples; ended by PREPARE");
    CHECK(s.have_xids && lv_walsum_has_xid(&s, 900) && lv_walsum_has_xid(&s, 903) && !lv_walsum_has_xid(&s, 904) &&
              !lv_walsum_has_xid(&s, 899),
          "xid range of the transaction ends: %u..%u", s.xid_lo, s.xid_hi);
    CHECK(s.begin_time == (T0 + 5000000) / 1000000 && s.end_time == (T0 + 6000000) / 1000000, "commit times");
    int rp = 0, pr = 0;
    for (size_t i = 0; i < s.npoints; i++) {
        rp |= s.points[i].kind == LV_WALSUM_RESTORE_POINT && strcmp(s.points[i].name, "before_it") == 0;
        pr |= s.points[i].kind == LV_WALSUM_PREPARE && s.points[i].xid == 903 && strcmp(s.points[i].name, "gid'1") == 0 &&
              s.points[i].dbid == 5;
    }
    CHECK(rp && pr, "the restore point and the PREPARE with its GID");
    lv_walsum_free(&s);
    free(g.d);
}

/* A DELETE of xid 950 with `head` of its 54 bytes at the end of segment 5, the rest in segment 6. */
static void check_cut(uint32_t head, int joined)
{
    walgen g;
    wg_init(&g, SEG, 1, 5, 2);
    for (int i = 0; i < 150; i++)
        del(&g, 950, 0);
    fill_to(&g, g.base + SEG - head);
    uint64_t cut = del(&g, 950, 0);
    commit(&g, 950, T0, NULL, 0);
    wg_switch(&g);
    lv_walsum a, b;
    CHECK(cut == g.base + SEG - head, "the DELETE starts %u bytes before the segment's end", head);
    CHECK(lv_walsum_scan(g.d, SEG, &a) == LV_OK && lv_walsum_scan(g.d + SEG, SEG, &b) == LV_OK, "both summaries");
    const lv_walsum_change *r = row(&a, 950);
    CHECK(r && r->deleted == (joined ? 150u : 151u), "%u bytes here: %s (%llu)", head,
          joined ? "not counted from this segment alone" : "its head is here: counted", r ? (unsigned long long)r->deleted : 0);
    CHECK(!row(&b, 950), "the next segment has no row of it (a continued record is not its)");
    int j = lv_walsum_join(&a, &b, 15);
    r = row(&a, 950);
    CHECK(j == joined && r && r->deleted == 151, "read beside the next segment's summary: %llu rows, as pg_waldump "
          "counts the records starting here", r ? (unsigned long long)r->deleted : 0);
    CHECK(lv_walsum_join(&a, &b, 15) == 0 && r->deleted == 151, "joined once only");
    lv_walsum_free(&a);
    lv_walsum_free(&b);
    free(g.d);
}

int main(void)
{
    check_counts();
    check_cut(16, 1);
    check_cut(48, 0);
    return check_done();
}
