/* Unit test of timeline histories (wal/timeline.h): parsing a history file, whether a backup's end is on
 * a history, and which timeline's segment file recovery reads for each segment around a switch point
 * (inside a segment, on a segment boundary, and two switches). */
#include <stdint.h>
#include <string.h>

#include "tests/check.h"
#include "wal/timeline.h"

#define SEG (16u << 20)

static void test_parse(void)
{
    lv_wal_tl_span sp[LV_WAL_LINEAGE_MAX];
    size_t n = 0;
    const char *h = "1\t0/6368000\tno recovery target specified\n";
    CHECK(lv_wal_history_parse(h, strlen(h), 2, sp, &n) == 0 && n == 2, "a history of timeline 2 parses: 2 spans");
    CHECK(sp[0].tli == 1 && sp[0].begin == 0 && sp[0].end == 0x6368000, "timeline 1 covers [0, 0/6368000)");
    CHECK(sp[1].tli == 2 && sp[1].begin == 0x6368000 && sp[1].end == UINT64_MAX, "timeline 2 from 0/6368000 on");
    const char *bad = "2\t0/5000000\tx\n1\t0/6000000\ty\n";
    CHECK(lv_wal_history_parse(bad, strlen(bad), 3, sp, &n) == -1, "timelines going back: malformed");
}

static void test_has(void)
{
    lv_wal_tl_span sp[LV_WAL_LINEAGE_MAX];
    size_t n = 0;
    const char *h = "1\t0/6368000\tx\n";
    lv_wal_history_parse(h, strlen(h), 2, sp, &n);
    CHECK(lv_wal_history_has(sp, n, 1, 0x5000100), "a backup of timeline 1 ending before the switch is on it");
    CHECK(lv_wal_history_has(sp, n, 1, 0x6368000), "... and one ending at the switch point");
    CHECK(!lv_wal_history_has(sp, n, 1, 0x7000100), "one of timeline 1 ending past the switch point is not");
    CHECK(lv_wal_history_has(sp, n, 2, 0x9000000), "one of timeline 2 is");
    CHECK(!lv_wal_history_has(sp, n, 3, 0x5000000), "one of another timeline is not");
    CHECK(lv_wal_history_has(sp, n, 1, 0) && !lv_wal_history_has(sp, n, 3, 0),
          "lsn 0: whether the timeline is on the history at all");
}

static void test_segment_tli(void)
{
    lv_wal_tl_span sp[LV_WAL_LINEAGE_MAX];
    size_t n = 0;
    const char *inside = "1\t0/6368000\tx\n";
    lv_wal_history_parse(inside, strlen(inside), 2, sp, &n);
    CHECK(lv_wal_history_segment_tli(sp, n, 5, SEG) == 1, "switch inside segment 6: segment 5 is timeline 1's");
    CHECK(lv_wal_history_segment_tli(sp, n, 6, SEG) == 2, "... segment 6, holding the switch, timeline 2's");
    CHECK(lv_wal_history_tli_at(sp, n, 6ull * SEG) == 1, "... which begins on timeline 1 (its first page)");
    CHECK(lv_wal_history_segment_tli(sp, n, 7, SEG) == 2, "... segment 7 timeline 2's");
    const char *edge = "1\t0/7000000\tx\n";
    lv_wal_history_parse(edge, strlen(edge), 2, sp, &n);
    CHECK(lv_wal_history_segment_tli(sp, n, 6, SEG) == 1,
          "switch on segment 7's first byte: segment 6 is timeline 1's");
    CHECK(lv_wal_history_segment_tli(sp, n, 7, SEG) == 2 && lv_wal_history_tli_at(sp, n, 7ull * SEG) == 2,
          "... segment 7 timeline 2's, beginning on timeline 2");
    const char *two = "1\t0/3000100\tx\n2\t0/5000000\ty\n";
    lv_wal_history_parse(two, strlen(two), 3, sp, &n);
    uint32_t want[] = {1, 1, 1, 2, 2, 3, 3};
    int all = n == 3;
    for (uint64_t s = 0; s < 7; s++)
        all = all && lv_wal_history_segment_tli(sp, n, s, SEG) == want[s];
    CHECK(all, "two switches (0/3000100, 0/5000000): segments 0-6 read from timelines 1 1 1 2 2 3 3");
}

int main(void)
{
    test_parse();
    test_has();
    test_segment_tli();
    return check_done();
}
