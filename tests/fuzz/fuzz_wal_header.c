/* libFuzzer target for the WAL long page header parser and the WAL file name parser (wal/segment.h).
 *
 * Input: the first bytes of a WAL segment. Besides "no crash, no leak, no undefined behaviour", it
 * checks the contracts the push path relies on:
 *   - whatever lv_wal_header_parse accepts satisfies every rule the header documents, and a segment
 *     named after its own page address and timeline, with the header's size, passes
 *     lv_wal_segment_check (parser and checker agree on what a coherent segment is);
 *   - the input read as a file name (up to the first NUL, at most 47 bytes): whatever
 *     lv_wal_name_parse accepts is one of the four kinds, with a non-zero timeline and parts that
 *     print back to exactly the name.
 * Seeds: tests/fuzz/corpus/wal_header/ (first 64 bytes of real PostgreSQL 15 segments, and variants). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "wal/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_header(const uint8_t *data, size_t size)
{
    lv_wal_header h;
    if (lv_wal_header_parse(data, size, &h) != LV_OK)
        return;
    if (size < LV_WAL_LONG_HEADER_SIZE || h.pg_version < 13 || h.pg_version > 18 ||
        lv_wal_magic_version(h.magic) != h.pg_version || (h.info & ~LV_XLP_ALL_FLAGS) ||
        !(h.info & LV_XLP_LONG_HEADER) || h.tli == 0 || h.sysid == 0 || h.seg_size < (1U << 20) ||
        h.seg_size > (1U << 30) || (h.seg_size & (h.seg_size - 1)) || h.page_size < 1024 ||
        h.page_size > 65536 || (h.page_size & (h.page_size - 1)) || h.pageaddr % h.seg_size)
        abort(); /* accepted a header that breaks its own rules */
    char seg[25];
    lv_wal_segment_name(h.tli, h.pageaddr / h.seg_size, h.seg_size, seg);
    lv_wal_name n;
    if (lv_wal_name_parse(seg, &n) != LV_OK || lv_wal_segment_check(&n, &h, h.seg_size) != LV_OK)
        abort(); /* the header's own name does not check */
    uint64_t segno;
    if (lv_wal_segno(&n, h.seg_size, &segno) != 0 || segno != h.pageaddr / h.seg_size)
        abort();
    if (lv_wal_segment_check(&n, &h, (uint64_t)h.seg_size + 1) == LV_OK)
        abort(); /* a file of the wrong size must not check */
}

static void check_name(const uint8_t *data, size_t size)
{
    char name[48];
    size_t n = 0;
    while (n < size && n < sizeof name - 1 && data[n])
        n++;
    memcpy(name, data, n);
    name[n] = '\0';
    lv_wal_name w;
    if (lv_wal_name_parse(name, &w) != LV_OK) {
        lv_err_clear();
        return;
    }
    char back[64];
    switch (w.kind) {
    case LV_WAL_SEGMENT:
        snprintf(back, sizeof back, "%08X%08X%08X", w.tli, w.log, w.seg);
        break;
    case LV_WAL_PARTIAL:
        snprintf(back, sizeof back, "%08X%08X%08X.partial", w.tli, w.log, w.seg);
        break;
    case LV_WAL_BACKUP:
        snprintf(back, sizeof back, "%08X%08X%08X.%08X.backup", w.tli, w.log, w.seg, w.backup_offset);
        break;
    case LV_WAL_HISTORY:
        snprintf(back, sizeof back, "%08X.history", w.tli);
        break;
    default:
        abort();
    }
    if (w.tli == 0 || strcmp(back, name) != 0 || strcmp(w.name, name) != 0)
        abort(); /* accepted a name that does not print back to itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_header(data, size);
    check_name(data, size);
    lv_err_clear();
    return 0;
}
