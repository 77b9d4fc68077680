/* libFuzzer target for the WAL record reader and event decoder (wal/records.h).
 *
 * Input byte 0 chooses the mode:
 *   even: the rest is raw WAL (a segment prefix: its first page's long header, then pages), read to its
 *         end: framing, page headers, continuation, CRC on hostile bytes;
 *   odd:  bytes 1-2 are a record's rmid and info, the rest its body (fragment headers and data); the
 *         target wraps it in a valid segment with a correct CRC (tests/wal/walgen.h), so the fragment
 *         header decoder and the event decoders see hostile content that passed the CRC.
 * The per-segment summary (wal/summary.h) reads the same bytes.
 * Besides "no crash, no leak, no undefined behaviour" it checks the reader's contract: records come in
 * increasing LSN order, inside the data, with main data inside the record; once a call returns a
 * non-OK status, every later call returns the same; a reader of the pages from a cut record on
 * (lv_walrec_init_at) reads nothing before it.
 * Seeds: tests/fuzz/corpus/wal_records/ (crafted one-page segments and records). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tests/wal/walgen.h"
#include "wal/records.h"
#include "wal/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(const uint8_t *d, size_t n)
{
    lv_walrec_reader r;
    if (lv_walrec_init(&r, d, n) != LV_OK) {
        lv_err_clear();
        return;
    }
    lv_walrec rec;
    lv_walrec_status s;
    uint64_t last = 0;
    while ((s = lv_walrec_next(&r, &rec)) == LV_WALREC_OK) {
        if (rec.lsn < last || rec.lsn < r.base || rec.end_lsn > r.base + n || rec.tot_len < 24 ||
            rec.main_len > rec.tot_len - 24 || rec.main + rec.main_len != rec.rec + rec.tot_len ||
            rec.nblocks > LV_WALREC_MAX_BLOCKS)
            abort();
        last = rec.lsn + 1;
        int32_t delta;
        lv_wal_rows_kind rk = lv_wal_rows_effect(&rec, &delta);
        if ((rk != LV_ROWS_DELTA && delta) || (rk == LV_ROWS_DELTA && (delta < -1 || delta > 65535)))
            abort();
        lv_wal_event ev;
        if (lv_wal_event_decode(&r, &rec, &ev) != LV_OK) {
            lv_err_clear();
            continue;
        }
        if ((ev.kind == LV_WEV_COMMIT || ev.kind == LV_WEV_ABORT) && ev.nrels) {
            if (ev.rels < rec.main || ev.rels + (size_t)ev.nrels * 12 > rec.main + rec.main_len)
                abort();
            volatile uint32_t x = lv_wal_event_rel(&ev, ev.nrels - 1).rel;
            (void)x;
        }
        if (ev.kind == LV_WEV_DB_DROP && ev.rels + (size_t)ev.nrels * 4 > rec.main + rec.main_len)
            abort();
        if (ev.kind == LV_WEV_RESTORE_POINT && strlen(ev.name) > 63)
            abort();
        if (ev.kind == LV_WEV_PREPARE &&
            ((const uint8_t *)ev.gid < rec.main || (const uint8_t *)ev.gid + strlen(ev.gid) >= rec.main + rec.main_len))
            abort();
        if (ev.kind == LV_WEV_ASSIGNMENT && ev.subxacts + (size_t)ev.nsubxacts * 4 > rec.main + rec.main_len)
            abort();
    }
    if (lv_walrec_next(&r, &rec) != s || r.status != s)
        abort();
    if (lv_walrec_cut_xact(&r) && s != LV_WALREC_CUT)
        abort();
    uint8_t head[64];
    if (lv_walrec_cut_head(&r, head, sizeof head) > sizeof head)
        abort();
    uint64_t cut = s == LV_WALREC_CUT ? r.pos : 0, cut_prev = r.prev, base = r.base;
    lv_walrec_free(&r);
    /* a reader of the pages from the cut record's on (as wal/segscan.c reads the end of a segment joined
     * with the next) reads nothing before it, nothing outside them */
    lv_wal_header h;
    if (cut && lv_wal_header_parse(d, n, &h) == LV_OK && h.page_size && cut >= base) {
        uint64_t page = cut - cut % h.page_size;
        if (page >= base && page - base < n) {
            size_t from = (size_t)(page - base);
            lv_walrec_init_at(&r, &h, d + from, n - from, page, cut, cut_prev);
            while (lv_walrec_next(&r, &rec) == LV_WALREC_OK)
                if (rec.lsn < cut || rec.end_lsn > page + (n - from))
                    abort();
            lv_walrec_free(&r);
        }
    }
    lv_err_clear();
    /* the summary of the same bytes (wal/summary.h): any content, no crash */
    lv_walsum sum;
    if (lv_walsum_scan(d, n, &sum) == LV_OK) {
        if (sum.ncut > LV_WALSUM_EDGE || sum.nlead > LV_WALSUM_EDGE)
            abort();
        lv_walsum_join(&sum, &sum, 15);
        lv_walsum_free(&sum);
    }
    lv_err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!(data[0] & 1)) {
        read_all(data + 1, size - 1);
        return 0;
    }
    if (size < 3 || size > 70000)
        return 0;
    walgen g;
    wg_init(&g, 1u << 20, 1, 1, 1);
    wg_filler(&g, 100);
    wg_record(&g, data[1], data[2], 777, data + 3, (uint32_t)(size - 3));
    wg_filler(&g, 100);
    read_all(g.d, (size_t)((g.pos - g.base + WG_PAGE) / WG_PAGE * WG_PAGE));
    free(g.d);
    return 0;
}
