/* The WAL block map (wal/blockmap.h) and the union of maps (wal/blockset.h) on crafted PostgreSQL 15
 * segments (walgen.h): every block reference but the FSM's, the limits of SMGR_CREATE, SMGR_TRUNCATE (main
 * and visibility map flags) and of a commit or abort dropping relations, the database directories of
 * CREATE DATABASE (WAL_LOG, FILE_COPY) and DROP DATABASE, wal_level = minimal marking the map unsafe, the
 * scan limit of a local scan, records split by the segment's end (decoded from their head, or joined from
 * the two maps, or abandoned), the encoding (round trip, every truncation refused), and the union's chunks
 * (array, then bitmap) and limits.
 *
 *   test_wal_blockmap                 the checks (TAP)
 *   test_wal_blockmap dump FILE...    print each segment's map: forks, blocks, runs, encoded size
 *   test_wal_blockmap bench FILE      time the summary scan with and without the map (median of 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "tests/check.h"
#include "tests/wal/walgen.h"
#include "wal/blockmap.h"
#include "wal/blockset.h"
#include "wal/summary.h"

#define SEG (1u << 20)

typedef struct blk {
    uint8_t fork;
    uint32_t spc, db, rel, blkno;
} blk;

/* A record of rm/info naming blocks (no images, no data) with main data. */
static uint64_t rec_blocks(walgen *g, uint8_t rm, uint8_t info, const blk *b, int nb, const uint8_t *main, uint32_t n)
{
    uint8_t body[2048];
    uint32_t k = 0;
    for (int i = 0; i < nb; i++) {
        int same = i > 0 && b[i].spc == b[i - 1].spc && b[i].db == b[i - 1].db && b[i].rel == b[i - 1].rel;
        body[k++] = (uint8_t)i;
        body[k++] = (uint8_t)(b[i].fork | (same ? 0x80 : 0));
        body[k++] = 0, body[k++] = 0;
        if (!same) {
            wg_put32(body + k, b[i].spc), wg_put32(body + k + 4, b[i].db), wg_put32(body + k + 8, b[i].rel);
            k += 12;
        }
        wg_put32(body + k, b[i].blkno);
        k += 4;
    }
    if (n) {
        if (n <= 255) {
            body[k++] = 255;
            body[k++] = (uint8_t)n;
        } else {
            body[k++] = 254;
            wg_put32(body + k, n);
            k += 4;
        }
        memcpy(body + k, main, n);
        k += n;
    }
    return wg_record(g, rm, info, 700, body, k);
}

static uint64_t heap_update(walgen *g, uint32_t rel, uint32_t blkno)
{
    blk b[2] = {{0, 1663, 5, rel, blkno}, {0, 1663, 5, rel, blkno + 1}};
    uint8_t m[14] = {0};
    return rec_blocks(g, 10, 0x20, b, 2, m, 14);
}

static uint64_t smgr_create(walgen *g, uint32_t rel, int32_t fork)
{
    uint8_t m[16], body[32];
    wg_put32(m, 1663), wg_put32(m + 4, 5), wg_put32(m + 8, rel), wg_put32(m + 12, (uint32_t)fork);
    return wg_record(g, 2, 0x10, 701, body, wg_main(body, m, 16));
}

static uint64_t smgr_truncate(walgen *g, uint32_t rel, uint32_t blkno, uint32_t flags)
{
    uint8_t m[20], body[32];
    wg_put32(m, blkno), wg_put32(m + 4, 1663), wg_put32(m + 8, 5), wg_put32(m + 12, rel), wg_put32(m + 16, flags);
    return wg_record(g, 2, 0x20, 702, body, wg_main(body, m, 20));
}

static uint64_t dbase(walgen *g, uint8_t info, uint32_t db, uint32_t spc)
{
    uint8_t m[16], body[32];
    wg_put32(m, db), wg_put32(m + 4, spc), wg_put32(m + 8, 1), wg_put32(m + 12, 1663);
    return wg_record(g, 4, info, 703, body, wg_main(body, m, info == 0x10 ? 8 : 16));
}

static uint64_t dbase_drop(walgen *g, uint32_t db, uint32_t spc1, uint32_t spc2)
{
    uint8_t m[16], body[32];
    wg_put32(m, db), wg_put32(m + 4, 2), wg_put32(m + 8, spc1), wg_put32(m + 12, spc2);
    return wg_record(g, 4, 0x20, 704, body, wg_main(body, m, 16));
}

static uint64_t param_change(walgen *g, int wal_level)
{
    uint8_t m[24] = {0}, body[40];
    wg_put32(m + 20, (uint32_t)wal_level);
    return wg_record(g, 0, 0x60, 0, body, wg_main(body, m, 24));
}

/* Fillers until the next record starts exactly at target (8-aligned, in the last page of its segment). */
static void fill_to(walgen *g, uint64_t target)
{
    uint64_t page = target - target % WG_PAGE;
    while (g->pos < page)
        wg_filler(g, g->pos + 1000 < page ? 900 : 100);
    while (target - g->pos > 300)
        wg_filler(g, 200);
    uint64_t gap = target - ((g->pos + 7) & ~(uint64_t)7);
    uint8_t body[400], m[400] = {0};
    uint32_t n = gap - 26 <= 255 ? (uint32_t)(gap - 26) : (uint32_t)(gap - 29);
    wg_record(g, 9, 0x00, 700, body, wg_main(body, m, n));
}

static const lv_blkmap_fork *fork_of(const lv_blkmap *m, uint32_t rel, uint8_t fork)
{
    long i = lv_blkmap_find(m, 1663, 5, rel, fork);
    return i < 0 ? NULL : &m->forks[i];
}

static int has_block(const lv_blkmap_fork *f, uint32_t b)
{
    for (uint32_t i = 0; f && i < f->nruns; i++)
        if (b >= f->runs[i].first && b - f->runs[i].first < f->runs[i].count)
            return 1;
    return 0;
}

static int has_db(const lv_blkmap *m, uint32_t spc, uint32_t db)
{
    for (uint32_t i = 0; i < m->ndbs; i++)
        if (m->dbs[i].spc == spc && m->dbs[i].db == db)
            return 1;
    return 0;
}

static void check_rules(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 3, 1);
    for (uint32_t b = 10; b < 20; b++)
        heap_update(&g, 16400, b); /* blocks 10..20 of 16400 */
    blk fsm = {1, 1663, 5, 16400, 3}, vm = {2, 1663, 5, 16400, 0}, init = {3, 1663, 5, 16401, 0},
        shared = {0, 1664, 0, 1262, 0};
    rec_blocks(&g, 9, 0x40, &fsm, 1, NULL, 0);
    rec_blocks(&g, 9, 0x40, &vm, 1, NULL, 0);
    rec_blocks(&g, 2, 0x00, &init, 1, NULL, 0);
    rec_blocks(&g, 10, 0x70, &shared, 1, (const uint8_t *)"\7\0", 2);
    smgr_create(&g, 16402, 0);
    smgr_create(&g, 16402, 1); /* FSM: ignored */
    smgr_truncate(&g, 16403, 7, 0x1);
    smgr_truncate(&g, 16404, 9, 0x2 | 0x4);
    uint32_t dropped[] = {16405};
    wg_xact(&g, 0, 800, INT64_C(1795000000000000), 5, dropped, 1);
    uint32_t aborted[] = {16406};
    wg_xact(&g, 1, 801, INT64_C(1795000000000000), 5, aborted, 1);
    dbase(&g, 0x10, 16410, 1663);  /* CREATE_WAL_LOG */
    dbase(&g, 0x00, 16411, 16500); /* CREATE_FILE_COPY into tablespace 16500 */
    dbase_drop(&g, 16412, 1663, 16500);
    param_change(&g, 1);
    wg_switch(&g);
    lv_blkmap m;
    CHECK(lv_blkmap_scan(g.d, g.len, UINT64_MAX, &m) == LV_OK, "scan");
    CHECK(m.complete && m.end_lsn == g.base + SEG && !m.unsafe && m.cut == LV_BLKMAP_CUT_NONE,
          "complete to the segment's end (XLOG_SWITCH), safe, nothing split");
    const lv_blkmap_fork *f = fork_of(&m, 16400, 0);
    CHECK(f && f->nblocks == 11 && f->nruns == 1 && f->runs[0].first == 10 && f->limit == LV_BLKMAP_NONE,
          "every block reference of the updates: blocks 10..20 as one run");
    CHECK(!fork_of(&m, 16400, 1), "no FSM block");
    CHECK(has_block(fork_of(&m, 16400, 2), 0) && has_block(fork_of(&m, 16401, 3), 0),
          "visibility map and init fork blocks");
    CHECK(lv_blkmap_find(&m, 1664, 0, 1262, 0) >= 0, "a shared catalog's block");
    f = fork_of(&m, 16402, 0);
    CHECK(f && f->limit == 0 && !fork_of(&m, 16402, 1), "SMGR_CREATE: limit 0 (the FSM's ignored)");
    f = fork_of(&m, 16403, 0);
    CHECK(f && f->limit == 7 && !fork_of(&m, 16403, 2), "SMGR_TRUNCATE of the heap: main fork's limit 7");
    f = fork_of(&m, 16404, 2);
    CHECK(f && f->limit == 9 && !fork_of(&m, 16404, 0) && !fork_of(&m, 16404, 1),
          "SMGR_TRUNCATE of the visibility map (and FSM): the map's limit 9 only");
    int drops = 1;
    for (uint8_t k = 0; k < 4; k++)
        if (k != 1)
            drops &= fork_of(&m, 16405, k) && fork_of(&m, 16405, k)->limit == 0 && fork_of(&m, 16406, k) &&
                     fork_of(&m, 16406, k)->limit == 0;
    CHECK(drops && !fork_of(&m, 16405, 1), "relations dropped by a commit and an abort: limit 0 on main, vm, init");
    CHECK(has_db(&m, 1663, 16410) && has_db(&m, 16500, 16411) && has_db(&m, 1663, 16412) && has_db(&m, 16500, 16412) &&
              m.ndbs == 4,
          "CREATE DATABASE (WAL_LOG, FILE_COPY), DROP DATABASE in two tablespaces: whole directories");

    lv_buf e = LV_BUF_INIT, e2 = LV_BUF_INIT;
    lv_blkmap_encode(&m, &e);
    lv_blkmap p;
    CHECK(lv_blkmap_parse(e.data, e.len, &p) == LV_OK, "encoded (%zu bytes) and parsed", e.len);
    lv_blkmap_encode(&p, &e2);
    CHECK(e2.len == e.len && memcmp(e.data, e2.data, e.len) == 0 && p.nforks == m.nforks && p.ndbs == m.ndbs,
          "the round trip is exact");
    int refused = 1;
    for (size_t n = 0; n < e.len; n++) {
        lv_blkmap q;
        refused &= lv_blkmap_parse(e.data, n, &q) == LV_ERR_CORRUPT;
    }
    lv_buf_append(&e, "x", 1);
    lv_blkmap q;
    CHECK(refused && lv_blkmap_parse(e.data, e.len, &q) == LV_ERR_CORRUPT, "every truncation and a trailing byte refused");
    lv_err_clear();
    lv_blkmap_free(&p);
    lv_buf_free(&e);
    lv_buf_free(&e2);

    lv_blkset *s = lv_blkset_new();
    lv_blkset_add(s, &m);
    const lv_blkset_fork *sf = lv_blkset_fork_get(s, 1663, 5, 16400, 0);
    CHECK(sf && lv_blkset_has(sf, 10) && lv_blkset_has(sf, 20) && !lv_blkset_has(sf, 9) && !lv_blkset_has(sf, 21),
          "the union holds the blocks");
    sf = lv_blkset_fork_get(s, 1663, 5, 16403, 0);
    CHECK(sf && !lv_blkset_has(sf, 6) && lv_blkset_has(sf, 7) && lv_blkset_has(sf, 100000), "a limit names every "
          "block from it on");
    CHECK(lv_blkset_db_new(s, 16500, 16411) && !lv_blkset_db_new(s, 1663, 5) && !lv_blkset_fork_get(s, 1663, 5, 1, 0),
          "database directories; a fork never named has no entry");
    lv_blkset_free(s);
    lv_blkmap_free(&m);
    free(g.d);

    /* wal_level = minimal: unsafe */
    wg_init(&g, SEG, 1, 3, 1);
    param_change(&g, 0);
    wg_switch(&g);
    CHECK(lv_blkmap_scan(g.d, g.len, UINT64_MAX, &m) == LV_OK && m.unsafe, "wal_level = minimal: the map is unsafe");
    lv_blkmap_free(&m);
    free(g.d);
}

/* A local scan up to an LSN (backup pg's own start segment): records from there on are not in it. */
static void check_upto(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 3, 1);
    heap_update(&g, 16400, 1);
    uint64_t at = heap_update(&g, 16400, 50);
    heap_update(&g, 16400, 60);
    lv_blkmap m;
    CHECK(lv_blkmap_scan(g.d, g.len, at, &m) == LV_OK, "scan up to the second record");
    const lv_blkmap_fork *f = fork_of(&m, 16400, 0);
    CHECK(f && f->nblocks == 2 && has_block(f, 1) && !has_block(f, 50) && m.end_lsn == at && !m.complete,
          "only the record before the limit; covered up to it");
    lv_blkmap_free(&m);
    CHECK(lv_blkmap_scan(g.d, g.len, UINT64_MAX, &m) == LV_OK && !m.complete && m.end_lsn < g.base + SEG &&
              has_block(fork_of(&m, 16400, 0), 61),
          "without a limit: every record, and the valid WAL ends before the segment's end (not complete)");
    lv_blkmap_free(&m);
    free(g.d);
}

/* A record split by the end of segment 5 with `head` bytes there. kind 0: an update (its block headers
 * decide); 1: a commit dropping a relation (its main data decides). */
static void check_split(uint32_t head, int kind, int expect_cut)
{
    walgen g;
    wg_init(&g, SEG, 1, 5, 2);
    fill_to(&g, g.base + SEG - head);
    uint32_t rels[] = {16420};
    uint64_t at = kind ? wg_xact(&g, 0, 900, INT64_C(1795000000000000), 5, rels, 1) : heap_update(&g, 16421, 30);
    heap_update(&g, 16422, 1);
    wg_switch(&g);
    CHECK(at == g.base + SEG - head, "the %s starts %u bytes before the segment's end", kind ? "commit" : "update", head);
    lv_blkmap a, b, j;
    CHECK(lv_blkmap_scan(g.d, SEG, UINT64_MAX, &a) == LV_OK && lv_blkmap_scan(g.d + SEG, SEG, UINT64_MAX, &b) == LV_OK,
          "both maps");
    CHECK(a.cut == expect_cut && a.complete && b.lead_rem > 0 && !b.overwrite, "split: %s",
          expect_cut == LV_BLKMAP_CUT_DONE ? "decoded from its head here" : "its bytes kept for the join");
    CHECK(!(kind ? fork_of(&b, 16420, 0) : fork_of(&b, 16421, 0)), "the next segment does not map it (not its record)");
    lv_buf e = LV_BUF_INIT;
    lv_blkmap_encode(&a, &e);
    lv_blkmap a2;
    CHECK(lv_blkmap_parse(e.data, e.len, &a2) == LV_OK && a2.ncut == a.ncut && a2.cut == a.cut, "the split record's "
          "bytes survive encoding");
    lv_buf_reset(&e);
    lv_blkmap_encode(&b, &e);
    lv_blkmap b2;
    CHECK(lv_blkmap_parse(e.data, e.len, &b2) == LV_OK && b2.nlead == b.nlead && b2.lead_rem == b.lead_rem,
          "and the continuation's");
    CHECK(lv_blkmap_join(&a2, &b2, &j) == LV_OK, "joined");
    lv_blkset *s = lv_blkset_new();
    lv_blkset_add(s, &a2);
    lv_blkset_add(s, &b2);
    lv_blkset_add(s, &j);
    const lv_blkset_fork *f = lv_blkset_fork_get(s, 1663, 5, kind ? 16420 : 16421, 0);
    CHECK(f && (kind ? lv_blkset_limit(f) == 0 : lv_blkset_has(f, 30) && lv_blkset_has(f, 31)),
          "the union of the two maps and their join has what the split record changes");
    lv_blkset_free(s);
    lv_blkmap_free(&j);
    lv_blkmap_free(&a);
    lv_blkmap_free(&b);
    lv_blkmap_free(&a2);
    lv_blkmap_free(&b2);
    lv_buf_free(&e);
    free(g.d);
}

/* The continuation without the map that holds the record's start: joining fails, so the backup falls back. */
static void check_join_missing(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 5, 2);
    fill_to(&g, g.base + SEG - 16);
    uint32_t rels[] = {16420};
    wg_xact(&g, 0, 900, INT64_C(1795000000000000), 5, rels, 1);
    wg_switch(&g);
    lv_blkmap a, b, j;
    lv_blkmap_scan(g.d, SEG, UINT64_MAX, &a);
    lv_blkmap_scan(g.d + SEG, SEG, UINT64_MAX, &b);
    b.lead_rem = 0;
    CHECK(lv_blkmap_join(&a, &b, &j) == LV_ERR_INCOMPLETE, "a continuation the next map does not hold: cannot join "
          "(%s)", lv_errmsg());
    lv_err_clear();
    b.lead_rem = 1, b.overwrite = 1;
    CHECK(lv_blkmap_join(&a, &b, &j) == LV_OK && j.nforks == 0, "an abandoned record (overwrite flag): nothing");
    lv_blkmap_free(&j);
    lv_blkmap_free(&a);
    lv_blkmap_free(&b);
    free(g.d);
}

static void check_set_chunks(void)
{
    lv_blkset *s = lv_blkset_new();
    lv_blkmap m = {0};
    lv_blkmap_run runs[3] = {{5, 1}, {65530, 10}, {200000, 6000}};
    lv_blkmap_fork f = {.spc = 1663, .db = 5, .rel = 1, .fork = 0, .limit = LV_BLKMAP_NONE, .runs = runs, .nruns = 3,
                        .nblocks = 6011};
    m.forks = &f;
    m.nforks = 1;
    lv_blkset_add(s, &m);
    lv_blkmap_run again[2] = {{6, 1}, {200100, 10}};
    f.runs = again, f.nruns = 2, f.nblocks = 11, f.limit = 300000;
    lv_blkset_add(s, &m);
    const lv_blkset_fork *sf = lv_blkset_fork_get(s, 1663, 5, 1, 0);
    lv_blkset_stats st;
    lv_blkset_get_stats(s, &st);
    CHECK(st.blocks == 6012 && st.forks == 1, "6012 distinct blocks (%llu)", (unsigned long long)st.blocks);
    int ok = lv_blkset_has(sf, 5) && lv_blkset_has(sf, 6) && !lv_blkset_has(sf, 7) && lv_blkset_has(sf, 65535) &&
             lv_blkset_has(sf, 65536) && lv_blkset_has(sf, 65539) && !lv_blkset_has(sf, 65540) &&
             !lv_blkset_has(sf, 199999) && lv_blkset_has(sf, 205999) && !lv_blkset_has(sf, 206000) &&
             lv_blkset_has(sf, 300000) && lv_blkset_limit(sf) == 300000;
    CHECK(ok, "runs across a chunk's end, a chunk turned bitmap, the later limit");
    CHECK(st.bytes < 64 * 1024, "memory: %llu bytes", (unsigned long long)st.bytes);
    lv_blkset_free(s);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)n + 1);
    *len = fread(d, 1, (size_t)n, f);
    fclose(f);
    return d;
}

static int tool(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        size_t len;
        uint8_t *d = slurp(argv[i], &len);
        if (!d) {
            perror(argv[i]);
            return 1;
        }
        if (strcmp(argv[1], "dump") == 0) { /* what tests/wal/blockmap.sh compares with the catalog's oids */
            lv_blkmap m;
            if (lv_blkmap_scan(d, len, UINT64_MAX, &m) != LV_OK) {
                printf("%s: not a segment\n", argv[i]);
                free(d);
                return 1;
            }
            for (uint32_t k = 0; k < m.ndbs; k++)
                printf("db %u/%u\n", m.dbs[k].spc, m.dbs[k].db);
            for (uint32_t k = 0; k < m.nforks; k++) {
                const lv_blkmap_fork *f = &m.forks[k];
                printf("fork %u/%u/%u %u limit %lld blocks", f->spc, f->db, f->rel, f->fork,
                       f->limit == LV_BLKMAP_NONE ? -1LL : (long long)f->limit);
                for (uint32_t r = 0; r < f->nruns; r++)
                    printf(" %u-%u", f->runs[r].first, f->runs[r].first + f->runs[r].count - 1);
                printf("\n");
            }
            if (m.unsafe)
                printf("unsafe\n");
            lv_blkmap_free(&m);
        } else if (strcmp(argv[1], "bench") == 0) {
            double t[2][20];
            for (int r = 0; r < 20; r++) {
                lv_walsum s;
                lv_blkmap m;
                double t0 = now_s();
                lv_walsum_scan(d, len, &s);
                double t1 = now_s();
                lv_walsum_free(&s);
                double t2 = now_s();
                lv_walsum_scan_map(d, len, &s, &m);
                double t3 = now_s();
                lv_walsum_free(&s);
                lv_blkmap_free(&m);
                t[0][r] = t1 - t0, t[1][r] = t3 - t2;
            }
            qsort(t[0], 20, sizeof(double), cmp_d);
            qsort(t[1], 20, sizeof(double), cmp_d);
            printf("%s: summary %.2f ms, summary and block map %.2f ms (medians of 20)\n", argv[i], t[0][10] * 1e3,
                   t[1][10] * 1e3);
        } else {
            lv_blkmap m;
            if (lv_blkmap_scan(d, len, UINT64_MAX, &m) != LV_OK) {
                printf("%s: not a segment\n", argv[i]);
                free(d);
                continue;
            }
            uint64_t blocks = 0, runs = 0;
            for (uint32_t k = 0; k < m.nforks; k++)
                blocks += m.forks[k].nblocks, runs += m.forks[k].nruns;
            lv_buf e = LV_BUF_INIT;
            lv_blkmap_encode(&m, &e);
            printf("%s: %llu records, %llu block refs, %u forks, %llu blocks in %llu runs, %u dbs, cut %d (%u), "
                   "lead %u/%u, complete %d, unsafe %d, encoded %zu bytes\n",
                   argv[i], (unsigned long long)m.records, (unsigned long long)m.blockrefs, m.nforks,
                   (unsigned long long)blocks, (unsigned long long)runs, m.ndbs, m.cut, m.ncut, m.nlead, m.lead_rem,
                   m.complete, m.unsafe, e.len);
            lv_buf_free(&e);
            lv_blkmap_free(&m);
        }
        free(d);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2)
        return tool(argc, argv);
    check_rules();
    check_upto();
    check_split(16, 0, LV_BLKMAP_CUT_BYTES);  /* only 16 bytes of the update here: its blocks are in the next */
    check_split(56, 0, LV_BLKMAP_CUT_DONE);   /* its block headers (52 bytes with the header) are here */
    check_split(16, 1, LV_BLKMAP_CUT_BYTES);  /* a commit: its dropped relations are its main data */
    check_split(40, 1, LV_BLKMAP_CUT_BYTES);  /* its main data starts here */
    check_join_missing();
    check_set_chunks();
    return check_done();
}
