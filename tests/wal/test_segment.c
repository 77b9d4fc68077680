/* Unit test of the pure parts of the WAL archive: file names, the long page header (with bytes of a
 * real PostgreSQL 15 segment), the name/header/size checks, object keys and the stanza text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "tests/check.h"
#include "wal/archive.h"
#include "wal/segment.h"
#include "wal/stanza.h"

/* The first 40 bytes of 000000010000000000000003 written by PostgreSQL 15.18 (docs/wal-format.md
 * section 2): magic D110, info LONG|BKP_REMOVABLE|FIRST_IS_CONTRECORD, timeline 1, page address
 * 0/3000000, rem_len 0x1713, system identifier, 16 MiB segments, 8 KiB pages. */
static const uint8_t real_header[40] = {
    0x10, 0xd1, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    0x13, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4, 0x35, 0x96, 0x49, 0x54, 0x51, 0x01, 0x6b,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00,
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Parse a copy of the real header with one change applied. */
static int parse_changed(size_t off, int width, uint64_t v, lv_wal_header *h)
{
    uint8_t b[40];
    memcpy(b, real_header, sizeof b);
    if (width == 2)
        put16(b + off, (uint16_t)v);
    else if (width == 4)
        put32(b + off, (uint32_t)v);
    else
        put64(b + off, v);
    int rc = lv_wal_header_parse(b, sizeof b, h);
    lv_err_clear();
    return rc;
}

static void test_names(void)
{
    lv_wal_name n;
    CHECK(lv_wal_name_parse("000000010000000A000000FF", &n) == LV_OK && n.kind == LV_WAL_SEGMENT &&
              n.tli == 1 && n.log == 0xA && n.seg == 0xFF && strcmp(n.segment, "000000010000000A000000FF") == 0,
          "segment name split into timeline, log and segment");
    CHECK(lv_wal_name_parse("00000002000000000000000D.partial", &n) == LV_OK && n.kind == LV_WAL_PARTIAL &&
              n.tli == 2 && n.seg == 0xD, ".partial name");
    CHECK(lv_wal_name_parse("000000010000000000000003.00000028.backup", &n) == LV_OK &&
              n.kind == LV_WAL_BACKUP && n.backup_offset == 0x28 &&
              strcmp(n.segment, "000000010000000000000003") == 0, ".backup name");
    CHECK(lv_wal_name_parse("0000000A.history", &n) == LV_OK && n.kind == LV_WAL_HISTORY && n.tli == 10,
          ".history name");
    const char *bad[] = {"", "00000001000000000000000", "0000000100000000000000001", "00000001000000000000000g",
                         "000000010000000000000003.partia", "0000001.history", "00000000.history",
                         "000000000000000000000001", "000000010000000000000003.0000002.backup",
                         "RECOVERYXLOG", "../000000010000000000000001", "00000001000000000000000a"};
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (lv_wal_name_parse(bad[i], &n) != LV_ERR_USAGE || n.kind != LV_WAL_INVALID) {
            printf("# accepted '%s'\n", bad[i]);
            all = 0;
        }
    }
    CHECK(all, "malformed names refused (lower-case hex, timeline 0, lengths)");
    CHECK(lv_wal_name_parse("00000001.history", &n) == LV_OK,
          "timeline 1's history name is well formed (fetch answers \"absent\" for it)");
    lv_err_clear();

    uint64_t segno = 0;
    lv_wal_name_parse("000000010000000A000000FF", &n);
    CHECK(lv_wal_segno(&n, 16u << 20, &segno) == 0 && segno == 0xA * 256 + 0xFF, "segno with 16 MiB segments");
    char next[25];
    lv_wal_segment_name(1, segno + 1, 16u << 20, next);
    CHECK(strcmp(next, "000000010000000B00000000") == 0, "the segment after ...0A000000FF is ...0B00000000");
    CHECK(lv_wal_segno(&n, 64u << 20, &segno) != 0, "S = 0xFF does not exist with 64 MiB segments");
    lv_wal_name_parse("00000003000000000000003F", &n);
    CHECK(lv_wal_segno(&n, 64u << 20, &segno) == 0 && segno == 0x3F, "S = 0x3F exists with 64 MiB segments");
}

static void test_header(void)
{
    lv_wal_header h;
    CHECK(lv_wal_header_parse(real_header, sizeof real_header, &h) == LV_OK, "real PostgreSQL 15 header parses");
    CHECK(h.magic == 0xD110 && h.pg_version == 15 && h.info == 7 && h.tli == 1 && h.pageaddr == 0x3000000 &&
              h.rem_len == 0x1713 && h.sysid == 0x6b015154499635f4ULL && h.seg_size == 16u << 20 &&
              h.page_size == 8192,
          "its fields");
    CHECK(lv_wal_header_parse(real_header, 39, &h) == LV_ERR_CORRUPT, "39 bytes are too short");
    uint16_t magics[] = {0xD106, 0xD10D, 0xD110, 0xD113, 0xD116, 0xD118};
    int versions_ok = 1;
    for (int i = 0; i < 6; i++)
        versions_ok &= parse_changed(0, 2, magics[i], &h) == LV_OK && h.pg_version == 13 + i;
    CHECK(versions_ok, "the magic of PostgreSQL 13, 14, 15, 16, 17 and 18 is accepted and identified");
    CHECK(parse_changed(0, 2, 0xD111, &h) == LV_ERR_CORRUPT, "a development magic is refused");
    CHECK(parse_changed(0, 2, 0xD121, &h) == LV_ERR_CORRUPT, "a later version's magic (19devel) is refused");
    CHECK(parse_changed(2, 2, 0x0015, &h) == LV_ERR_CORRUPT, "an unknown flag bit is refused");
    CHECK(parse_changed(2, 2, 0x0005, &h) == LV_ERR_CORRUPT, "a short header on the first page is refused");
    CHECK(parse_changed(4, 4, 0, &h) == LV_ERR_CORRUPT, "timeline 0 is refused");
    CHECK(parse_changed(32, 4, 3u << 20, &h) == LV_ERR_CORRUPT, "a segment size that is not a power of two");
    CHECK(parse_changed(32, 4, 512u << 10, &h) == LV_ERR_CORRUPT, "a segment size below 1 MiB");
    CHECK(parse_changed(32, 4, 1u << 20, &h) == LV_OK, "1 MiB segments are accepted");
    CHECK(parse_changed(36, 4, 4096 + 1, &h) == LV_ERR_CORRUPT, "a page size that is not a power of two");
    CHECK(parse_changed(8, 8, 0x3002000, &h) == LV_ERR_CORRUPT, "a page address off a segment boundary");
    CHECK(parse_changed(24, 8, 0, &h) == LV_ERR_CORRUPT, "system identifier 0 is refused");
}

static void test_segment_check(void)
{
    lv_wal_header h;
    lv_wal_name n;
    lv_wal_header_parse(real_header, sizeof real_header, &h);
    lv_wal_name_parse("000000010000000000000003", &n);
    CHECK(lv_wal_segment_check(&n, &h, 16u << 20) == LV_OK, "header, name and size agree");
    CHECK(lv_wal_segment_check(&n, &h, (16u << 20) - 8192) == LV_ERR_CORRUPT, "a short file is refused");
    lv_wal_name_parse("000000010000000000000004", &n);
    CHECK(lv_wal_segment_check(&n, &h, 16u << 20) == LV_ERR_CORRUPT, "a recycled/misnamed segment is refused");
    lv_wal_name_parse("000000020000000000000003", &n);
    CHECK(lv_wal_segment_check(&n, &h, 16u << 20) == LV_OK,
          "first segment of a new timeline may start with the parent's timeline on its page");
    lv_wal_name_parse("000000010000000000000003.partial", &n);
    CHECK(lv_wal_segment_check(&n, &h, 16u << 20) == LV_OK, "a .partial is checked like its segment");
    h.tli = 3;
    lv_wal_name_parse("000000020000000000000003", &n);
    CHECK(lv_wal_segment_check(&n, &h, 16u << 20) == LV_ERR_CORRUPT, "a page newer than the name's timeline");
    lv_err_clear();
}

static void test_objects(void)
{
    lv_wal_name n;
    lv_wal_object o, p;
    const char *sum = "3f1c00000000000000000000000000000000000000000000000000000000e9aa";
    lv_wal_name_parse("000000020000000100000003", &n);
    lv_wal_object_make(&n, sum, &o);
    CHECK(strcmp(o.key, "wal/00000002/000000020000000100000003-3f1c00000000000000000000000000000000000000"
                        "000000000000000000e9aa") == 0, "segment object key");
    CHECK(lv_wal_object_parse(o.key, 77, &p) == 0 && strcmp(p.name.name, n.name) == 0 &&
              strcmp(p.checksum, sum) == 0 && p.stored_size == 77, "the key parses back");
    lv_wal_name_parse("00000002.history", &n);
    lv_wal_object_make(&n, sum, &o);
    CHECK(lv_wal_object_parse(o.key, 1, &p) == 0 && p.name.kind == LV_WAL_HISTORY, "history object key");
    char bad[LV_WAL_KEY_MAX];
    snprintf(bad, sizeof bad, "wal/00000001/00000002.history-%s", sum);
    CHECK(lv_wal_object_parse(bad, 1, &p) != 0, "a file under another timeline's directory is not ours");
    snprintf(bad, sizeof bad, "wal/00000002/00000002.history-%.63sA", sum);
    CHECK(lv_wal_object_parse(bad, 1, &p) != 0, "upper-case checksum refused");
    CHECK(lv_wal_object_parse("wal/00000001/000000010000000000000001", 1, &p) != 0, "no checksum refused");
    CHECK(lv_wal_object_parse("stanza", 1, &p) != 0, "other objects are not WAL objects");

    size_t big = 4u << 20;
    uint8_t *buf = lv_xcalloc(big, 1);
    CHECK(lv_wal_compressible(buf, big), "zeros are worth compressing");
    lv_random(buf, big);
    CHECK(!lv_wal_compressible(buf, big), "random bytes are not");
    memset(buf + big / 2, 0, big / 2);
    CHECK(lv_wal_compressible(buf, big), "half random, half zeros: compressed");
    CHECK(lv_wal_compressible(buf, 1000), "a small file is always compressed");
    free(buf);
}

static void test_stanza(void)
{
    lv_wal_stanza s, t;
    memset(&s, 0, sizeof s);
    s.sysid = 7710533459488683508ULL;
    s.pg_version = 15;
    s.seg_size = 16u << 20;
    s.page_size = 8192;
    snprintf(s.created, sizeof s.created, "2026-11-21T08:00:00Z");
    snprintf(s.source, sizeof s.source, "pg_controldata");
    lv_buf b = LV_BUF_INIT;
    lv_wal_stanza_format(&s, &b);
    CHECK(lv_wal_stanza_parse((const char *)b.data, b.len, &t, "test") == LV_OK && t.sysid == s.sysid &&
              t.pg_version == 15 && t.seg_size == s.seg_size && t.page_size == 8192 &&
              strcmp(t.source, "pg_controldata") == 0, "stanza text round trip");
    const char *bad[] = {"system-id = 1\npg-version = 15\nwal-segment-size = 16777216\n",
                         "system-id = 01\npg-version = 15\nwal-segment-size = 16777216\nwal-page-size = 8192\n",
                         "system-id = 1\npg-version = 15\nwal-segment-size = 3000000\nwal-page-size = 8192\n",
                         "system-id = 1\nsystem-id = 2\npg-version = 15\nwal-segment-size = 16777216\n"
                         "wal-page-size = 8192\n",
                         "system-id: 1\n", "system-id = 1"};
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        all &= lv_wal_stanza_parse(bad[i], strlen(bad[i]), &t, "test") == LV_ERR_CORRUPT;
    CHECK(all, "incomplete, non-canonical, repeated and malformed stanzas are refused");
    lv_wal_header h;
    lv_wal_header_parse(real_header, sizeof real_header, &h);
    s.sysid = h.sysid;
    CHECK(lv_wal_stanza_match(&s, &h, "x") == LV_OK, "a segment of the stanza's cluster matches");
    s.sysid++;
    CHECK(lv_wal_stanza_match(&s, &h, "x") == LV_ERR_CONFLICT, "another cluster's segment: conflict");
    s.sysid--;
    s.pg_version = 16;
    CHECK(lv_wal_stanza_match(&s, &h, "x") == LV_ERR_CONFLICT &&
              strstr(lv_errmsg(), "PostgreSQL 15 WAL with") && strstr(lv_errmsg(), "archives PostgreSQL 16"),
          "another major version: conflict naming both versions");
    s.sysid++;
    CHECK(lv_wal_stanza_match(&s, &h, "x") == LV_ERR_CONFLICT &&
              strstr(lv_errmsg(), "PostgreSQL 15 WAL of cluster") && strstr(lv_errmsg(), "PostgreSQL 16 cluster"),
          "another major version of another cluster (an upgrade): conflict naming both versions");
    lv_err_clear();
    lv_buf_free(&b);
}

int main(void)
{
    test_names();
    test_header();
    test_segment_check();
    test_objects();
    test_stanza();
    return check_done();
}
