/* The WAL record reader (wal/records.h).
 *
 *   test_wal_records              unit checks on crafted segments (walgen.h): framing, continuation
 *                                 across pages and segments, events, and every way the valid WAL ends
 *   test_wal_records dump FILE    the events of a real segment, one line each, in a form records.sh
 *                                 compares with pg_waldump's output on the same file
 *   test_wal_records bench FILE   the same, after timing five scans of the file and five summaries
 *   test_wal_records summary FILE the segment's summary (wal/summary.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/timefmt.h"
#include "tests/check.h"
#include "tests/wal/walgen.h"
#include "wal/records.h"
#include "wal/summary.h"

#define SEG (1u << 20)

static const char *st_name(lv_walrec_status s)
{
    return s == LV_WALREC_OK ? "ok" : s == LV_WALREC_EOD ? "eod" : s == LV_WALREC_CUT ? "cut" : "invalid";
}

/* UTC with microseconds and no zone, as records.sh normalizes pg_waldump's. */
static void fmt_time(int64_t us, char *out, size_t n)
{
    char t[LV_TIME_TEXT_MAX];
    lv_time_format_us(us, LV_TIME_SQL, t);
    t[strcspn(t, "+")] = '\0';
    snprintf(out, n, "%s", t);
}

static void print_event(const lv_walrec *rec, const lv_wal_event *ev)
{
    char t[48];
    printf("%X/%08X ", (unsigned)(rec->lsn >> 32), (unsigned)rec->lsn);
    switch (ev->kind) {
    case LV_WEV_COMMIT:
    case LV_WEV_ABORT:
        fmt_time(ev->time_us, t, sizeof t);
        printf("%s%s %u %s", ev->kind == LV_WEV_COMMIT ? "COMMIT" : "ABORT", ev->prepared ? "_PREPARED" : "",
               ev->xid, t);
        for (uint32_t i = 0; i < ev->nrels; i++) {
            lv_wal_rfn f = lv_wal_event_rel(ev, i);
            printf("%s%u/%u/%u", i ? "," : " ", f.spc, f.db, f.rel);
        }
        break;
    case LV_WEV_RESTORE_POINT:
        printf("RESTORE_POINT %s", ev->name);
        break;
    case LV_WEV_TRUNCATE:
        printf("TRUNCATE %u/%u/%u %u %u", ev->rfn.spc, ev->rfn.db, ev->rfn.rel, ev->blkno, ev->flags);
        break;
    case LV_WEV_DB_DROP:
        printf("DB_DROP %u", ev->dbid);
        break;
    case LV_WEV_DB_INVALIDATE:
        printf("DB_INVALIDATE %u %u", ev->blkno, ev->offnum);
        break;
    case LV_WEV_HEAP:
        printf("HEAP %s %u %u/%u/%u %u",
               ev->heap_op == LV_HEAP_INSERT ? "INSERT" : ev->heap_op == LV_HEAP_UPDATE ? "UPDATE" : "DELETE",
               rec->xid, ev->rfn.spc, ev->rfn.db, ev->rfn.rel, ev->rows);
        break;
    case LV_WEV_PREPARE:
        printf("PREPARE %u %s", ev->xid, ev->gid);
        break;
    case LV_WEV_ASSIGNMENT:
        printf("ASSIGNMENT %u", ev->xid);
        for (uint32_t i = 0; i < ev->nsubxacts; i++)
            printf("%s%u", i ? "," : " ", lv_wal_event_subxact(ev, i));
        break;
    default:
        break;
    }
    printf("\n");
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The whole file (malloc'ed), NULL after saying why. */
static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return perror(path), NULL;
    struct stat st;
    fstat(fileno(f), &st);
    uint8_t *d = malloc((size_t)st.st_size + 1);
    *n = fread(d, 1, (size_t)st.st_size, f);
    fclose(f);
    return d;
}

static int dump(const char *path, int bench)
{
    size_t n;
    uint8_t *d = read_file(path, &n);
    if (!d)
        return 2;
    lv_walrec_reader r;
    if (lv_walrec_init(&r, d, n) != LV_OK) {
        fprintf(stderr, "%s\n", lv_errmsg());
        free(d);
        return 1;
    }
    lv_walrec rec;
    uint64_t count = 0;
    lv_walrec_status s;
    if (bench) { /* the scan wal push does: every record, commit times decoded */
        for (int i = 0; i < 5; i++) {
            double t0 = now_ms();
            lv_walrec_reader b;
            lv_walrec_init(&b, d, n);
            uint64_t k = 0;
            while (lv_walrec_next(&b, &rec) == LV_WALREC_OK) {
                lv_wal_event ev;
                if (rec.rmid == 1 && lv_wal_event_decode(&b, &rec, &ev) == LV_OK)
                    k++;
            }
            lv_walrec_free(&b);
            printf("scan %.2f ms (%llu transaction records)\n", now_ms() - t0, (unsigned long long)k);
        }
        for (int i = 0; i < 5; i++) { /* what wal push computes now: the whole summary */
            double t0 = now_ms();
            lv_walsum sum;
            lv_walsum_scan(d, n, &sum);
            printf("summary %.2f ms (%zu rows, %zu points)\n", now_ms() - t0, sum.nchanges, sum.npoints);
            lv_walsum_free(&sum);
        }
    }
    while ((s = lv_walrec_next(&r, &rec)) == LV_WALREC_OK) {
        count++;
        lv_wal_event ev;
        if (lv_wal_event_decode(&r, &rec, &ev) != LV_OK)
            printf("BAD %s\n", lv_errmsg());
        else if (ev.kind != LV_WEV_NONE && ev.kind != LV_WEV_CREATE && ev.kind != LV_WEV_DB_CREATE &&
                 ev.kind != LV_WEV_PARAMS) /* the block maps' events (creations, wal_level): not compared */
            print_event(&rec, &ev);
    }
    printf("records %llu\nend %s: %s\n", (unsigned long long)count, st_name(s), r.why);
    lv_walrec_free(&r);
    free(d);
    return 0;
}

/* ---- unit checks -------------------------------------------------------------------------------- */

typedef struct seen {
    lv_walrec_status end;
    char why[160];
    uint64_t records, first_lsn;
    size_t nev;
    lv_wal_event ev[16];
    uint64_t ev_lsn[16];
    uint32_t rel0[16];
} seen;

static seen read_all(const uint8_t *d, size_t n)
{
    seen s;
    memset(&s, 0, sizeof s);
    lv_walrec_reader r;
    if (lv_walrec_init(&r, d, n) != LV_OK) {
        s.end = LV_WALREC_INVALID;
        snprintf(s.why, sizeof s.why, "init: %s", lv_errmsg());
        return s;
    }
    s.first_lsn = r.first_lsn;
    lv_walrec rec;
    while ((s.end = lv_walrec_next(&r, &rec)) == LV_WALREC_OK) {
        s.records++;
        lv_wal_event ev;
        if (lv_wal_event_decode(&r, &rec, &ev) == LV_OK && ev.kind != LV_WEV_NONE && s.nev < 16) {
            s.rel0[s.nev] = ev.nrels && ev.kind != LV_WEV_DB_DROP ? lv_wal_event_rel(&ev, 0).rel : 0;
            ev.rels = NULL; /* points into the reader's memory */
            s.ev_lsn[s.nev] = rec.lsn;
            s.ev[s.nev++] = ev;
        }
    }
    snprintf(s.why, sizeof s.why, "%s", r.why);
    lv_walrec_free(&r);
    return s;
}

#define T0 INT64_C(1795000000000000) /* 2026-11-18, in unix microseconds */

typedef struct fixture {
    walgen g;
    uint64_t commit1, abort1, rp, trunc, inplace, dbdrop, straddle, after, sw;
    uint64_t nrec1; /* records starting in segment 1 */
    uint64_t nrec;
} fixture;

static void build(fixture *fx)
{
    walgen *g = &fx->g;
    wg_init(g, SEG, 1, 3, 2);
    uint32_t rels[2] = {16384, 16387};
    uint64_t n = 0;
    fx->commit1 = wg_xact(g, 0, 800, T0 + 123456, 5, rels, 2), n++;
    wg_filler(g, 20000), n++; /* spans three pages */
    fx->abort1 = wg_xact(g, 1, 801, T0 + 2000000, 5, NULL, 0), n++;
    uint8_t main[80] = {0}, body[120];
    wg_put64(main, (uint64_t)(T0 + 3000000 - LV_PG_EPOCH_US));
    memcpy(main + 8, "before_drop", 12);
    fx->rp = wg_record(g, 0, 0x70, 0, body, wg_main(body, main, 72)), n++;
    uint8_t tr[20];
    wg_put32(tr, 2), wg_put32(tr + 4, 1663), wg_put32(tr + 8, 5), wg_put32(tr + 12, 16399), wg_put32(tr + 16, 7);
    fx->trunc = wg_record(g, 2, 0x20, 802, body, wg_main(body, tr, 20)), n++;
    /* Heap INPLACE with a block reference 1664/0/1262 blk 0 (2 bytes of block data) and 2 of main data */
    uint8_t ip[] = {0, 0x20, 2, 0, 0x80, 0x06, 0, 0, 0, 0, 0, 0, 0xee, 0x04, 0, 0,
                    0, 0, 0, 0, 255, 2, 0xaa, 0xbb, 7, 0};
    fx->inplace = wg_record(g, 10, 0x70, 0, ip, sizeof ip), n++;
    uint8_t dd[12];
    wg_put32(dd, 16411), wg_put32(dd + 4, 1), wg_put32(dd + 8, 1663);
    fx->dbdrop = wg_record(g, 4, 0x20, 803, body, wg_main(body, dd, 12)), n++;
    while (g->pos + 3000 < g->base + SEG && wg_filler(g, 2000))
        n++;
    /* a commit with many relations, straddling the segment boundary */
    uint32_t many[60];
    for (uint32_t i = 0; i < 60; i++)
        many[i] = 20000 + i;
    while (g->pos + 200 < g->base + SEG && wg_filler(g, 100))
        n++;
    fx->straddle = wg_xact(g, 0, 804, T0 + 4000000, 5, many, 60), n++;
    fx->nrec1 = n;
    fx->after = wg_xact(g, 0, 805, T0 + 5000000, 5, NULL, 0), n++;
    wg_filler(g, 9000), n++;
    fx->sw = wg_switch(g), n++;
    fx->nrec = n;
}

static void check_whole(const fixture *fx)
{
    seen s = read_all(fx->g.d, fx->g.len);
    CHECK(s.end == LV_WALREC_EOD && s.records == fx->nrec, "two segments: every record read, up to the end "
          "after XLOG_SWITCH (%s, %llu of %llu: %s)", st_name(s.end), (unsigned long long)s.records,
          (unsigned long long)fx->nrec, s.why);
    CHECK(s.first_lsn == fx->commit1 && fx->commit1 == 3 * SEG + 40, "the first record follows the long header");
    CHECK(s.nev == 8, "eight events (%zu)", s.nev);
    if (s.nev < 8)
        return;
    CHECK(s.ev[0].kind == LV_WEV_COMMIT && s.ev[0].xid == 800 && s.ev[0].time_us == T0 + 123456 &&
              s.ev[0].dbid == 5 && s.ev[0].tsid == 1663 && s.ev[0].nrels == 2 && s.rel0[0] == 16384 &&
              s.ev_lsn[0] == fx->commit1, "commit: xid, time to the microsecond, database, dropped relations");
    CHECK(s.ev[1].kind == LV_WEV_ABORT && s.ev[1].xid == 801 && s.ev[1].time_us == T0 + 2000000 &&
              s.ev[1].nrels == 0 && s.ev_lsn[1] == fx->abort1, "abort after a record spanning three pages");
    CHECK(s.ev[2].kind == LV_WEV_RESTORE_POINT && strcmp(s.ev[2].name, "before_drop") == 0 &&
              s.ev[2].time_us == T0 + 3000000, "restore point: name and time");
    CHECK(s.ev[3].kind == LV_WEV_TRUNCATE && s.ev[3].rfn.rel == 16399 && s.ev[3].rfn.db == 5 &&
              s.ev[3].blkno == 2 && s.ev[3].flags == 7, "SMGR_TRUNCATE: relation, length, flags");
    CHECK(s.ev[4].kind == LV_WEV_DB_INVALIDATE && s.ev_lsn[4] == fx->inplace,
          "Heap INPLACE on pg_database: DROP DATABASE's first step");
    CHECK(s.ev[5].kind == LV_WEV_DB_DROP && s.ev[5].dbid == 16411 && s.ev[5].nrels == 1, "DBASE_DROP (15)");
    CHECK(s.ev[6].kind == LV_WEV_COMMIT && s.ev[6].xid == 804 && s.ev[6].nrels == 60 && s.rel0[6] == 20000 &&
              s.ev_lsn[6] == fx->straddle, "a commit straddling two segments is assembled");
    CHECK(s.ev[7].kind == LV_WEV_COMMIT && s.ev[7].xid == 805, "and the next one follows it");
}

static void check_split(const fixture *fx)
{
    seen a = read_all(fx->g.d, SEG);
    CHECK(a.end == LV_WALREC_CUT && a.records == fx->nrec1 - 1 && a.nev == 6,
          "segment 1 alone: the record continued into segment 2 is reported cut (%s: %s)", st_name(a.end), a.why);
    seen b = read_all(fx->g.d + SEG, SEG);
    CHECK(b.first_lsn == fx->after && b.nev == 1 && b.ev[0].xid == 805 && b.end == LV_WALREC_EOD &&
              b.records == fx->nrec - fx->nrec1, "segment 2 alone: the continued record is skipped (%s: %s)",
          st_name(b.end), b.why);
}

static void check_damage(const fixture *fx)
{
    uint8_t *d = malloc(fx->g.len);
    /* a flipped byte in the abort record: the valid WAL ends there */
    memcpy(d, fx->g.d, fx->g.len);
    d[fx->abort1 - fx->g.base + 30] ^= 1;
    seen s = read_all(d, fx->g.len);
    char want[64];
    snprintf(want, sizeof want, "CRC mismatch in the record at 0/%X", (unsigned)fx->abort1);
    CHECK(s.end == LV_WALREC_INVALID && s.records == 2 && strcmp(s.why, want) == 0,
          "a flipped byte: '%s' and nothing after it", s.why);
    /* zeros: the end of WAL in a partial segment */
    memcpy(d, fx->g.d, fx->g.len);
    memset(d + (fx->rp - fx->g.base), 0, 4);
    s = read_all(d, fx->g.len);
    CHECK(s.end == LV_WALREC_INVALID && s.records == 3 && strstr(s.why, "zeros"), "zeros end the WAL (%s)", s.why);
    /* a stale page (old page address) in the middle of a continued record */
    memcpy(d, fx->g.d, fx->g.len);
    wg_put64(d + WG_PAGE + 8, 0x123456000);
    s = read_all(d, fx->g.len);
    CHECK(s.end == LV_WALREC_INVALID && s.records == 1 && strstr(s.why, "wrong page address"),
          "an old page address ends the WAL (%s)", s.why);
    /* an impossible length */
    memcpy(d, fx->g.d, fx->g.len);
    wg_put32(d + (fx->rp - fx->g.base), 7);
    s = read_all(d, fx->g.len);
    CHECK(s.end == LV_WALREC_INVALID && strstr(s.why, "invalid record length 7"), "length 7 (%s)", s.why);
    /* a wrong xl_prev */
    memcpy(d, fx->g.d, fx->g.len);
    wg_put64(d + (fx->rp - fx->g.base) + 8, 0x40);
    s = read_all(d, fx->g.len);
    CHECK(s.end == LV_WALREC_INVALID && strstr(s.why, "wrong previous link"), "a wrong xl_prev (%s)", s.why);
    /* cut in the middle of a page */
    s = read_all(fx->g.d, (size_t)(fx->abort1 - fx->g.base) + 10);
    CHECK(s.end == LV_WALREC_CUT && s.records == 2, "data ending inside a record: cut (%s)", s.why);
    /* not a segment */
    s = read_all(fx->g.d, 39);
    CHECK(s.end == LV_WALREC_INVALID && strstr(s.why, "init:"), "39 bytes: refused (%s)", s.why);
    memcpy(d, fx->g.d, fx->g.len);
    d[0] = 0;
    s = read_all(d, fx->g.len);
    CHECK(s.end == LV_WALREC_INVALID && strstr(s.why, "init:"), "bad magic: refused (%s)", s.why);
    free(d);
}

/* XLP_FIRST_IS_OVERWRITE_CONTRECORD: the server crashed while writing a record; after restart the page
 * says so and a new record starts right after its header. */
static void check_overwrite(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 5, 1);
    uint64_t a = wg_xact(&g, 0, 900, T0, 5, NULL, 0);
    wg_filler(&g, 12000);
    uint64_t page = g.pos - g.pos % WG_PAGE;
    g.pos = page + 24;
    g.prev = 0x777;
    uint64_t b = wg_xact(&g, 0, 901, T0 + 1, 5, NULL, 0);
    wg_page_header(&g, page, 0x0008, 0);
    seen s = read_all(g.d, g.len);
    CHECK(s.nev == 2 && s.ev_lsn[0] == a && s.ev_lsn[1] == b && s.records == 2 && s.ev[1].xid == 901,
          "an overwritten continuation: the abandoned record is dropped, reading restarts (%zu: %s)", s.nev,
          s.why);
    free(g.d);
}

/* A segment that begins with the continuation of a record longer than a page. */
static void check_long_continuation(void)
{
    walgen g;
    wg_init(&g, SEG, 1, 7, 2);
    while (g.pos + 30000 < g.base + SEG && wg_filler(&g, 2000))
        ;
    wg_filler(&g, 40000); /* five pages into segment 2 */
    uint64_t c = wg_xact(&g, 0, 950, T0, 5, NULL, 0);
    seen s = read_all(g.d + SEG, SEG);
    CHECK(s.first_lsn == c && s.nev == 1 && s.ev[0].xid == 950,
          "a continuation over several pages at the segment start is skipped (%s)", s.why);
    free(g.d);
}

/* test_wal_records summary FILE: the segment's summary (wal/summary.h), one line per item. */
static int summary(const char *path)
{
    size_t n;
    uint8_t *d = read_file(path, &n);
    if (!d)
        return 2;
    lv_walsum s;
    if (lv_walsum_scan(d, n, &s) != LV_OK) {
        free(d);
        return 1;
    }
    printf("times %lld %lld\n", (long long)s.begin_time, (long long)s.end_time);
    if (s.have_xids)
        printf("xids %u %u\n", s.xid_lo, s.xid_hi);
    for (size_t i = 0; i < s.nchanges; i++) {
        const lv_walsum_change *c = &s.changes[i];
        printf("change %u %u/%u/%u ins %llu upd %llu del %llu end %d %X/%08X\n", c->xid, c->rel.spc, c->rel.db,
               c->rel.rel, (unsigned long long)c->inserted, (unsigned long long)c->updated,
               (unsigned long long)c->deleted, (int)c->end, (unsigned)(c->end_lsn >> 32), (unsigned)c->end_lsn);
    }
    for (size_t i = 0; i < s.npoints; i++)
        printf("point %d %X/%08X %u %s\n", (int)s.points[i].kind, (unsigned)(s.points[i].lsn >> 32),
               (unsigned)s.points[i].lsn, s.points[i].xid, s.points[i].name);
    lv_walsum_free(&s);
    free(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "summary") == 0)
        return summary(argv[2]);
    if (argc == 3 && (strcmp(argv[1], "dump") == 0 || strcmp(argv[1], "bench") == 0))
        return dump(argv[2], argv[1][0] == 'b');
    uint32_t c = lv_crc32c(~0u, "123456789", 9) ^ ~0u;
    CHECK(c == 0xE3069283u, "CRC-32C check value (%08X)", c);
    uint8_t big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (uint8_t)(i * 7);
    CHECK(lv_crc32c(lv_crc32c(~0u, big, 333), big + 333, 667) == lv_crc32c(~0u, big, 1000),
          "CRC-32C in pieces equals in one go");
    int same = (lv_crc32c_sw(~0u, "123456789", 9) ^ ~0u) == 0xE3069283u;
    for (size_t n = 0; n < 990; n += 37)
        same &= lv_crc32c_sw(~0u, big + n % 7, n) == lv_crc32c(~0u, big + n % 7, n);
    CHECK(same, "the table CRC-32C equals the instruction's, at every alignment and length");
    fixture fx;
    build(&fx);
    check_whole(&fx);
    check_split(&fx);
    check_damage(&fx);
    check_overwrite();
    check_long_continuation();
    free(fx.g.d);
    return check_done();
}
