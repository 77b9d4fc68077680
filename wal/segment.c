/* WAL names and the long page header (contract in wal/segment.h). */
#include "wal/segment.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

/* Upper-case hex only, as PostgreSQL writes them (xlog_internal.h IsXLogFileName uses
 * strspn(name, "0123456789ABCDEF")): a lower-case name is not one PostgreSQL would ever hand us. */
static int hex8(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int parse_segment_part(const char *s, lv_wal_name *out)
{
    if (hex8(s, &out->tli) || hex8(s + 8, &out->log) || hex8(s + 16, &out->seg))
        return -1;
    memcpy(out->segment, s, 24);
    out->segment[24] = '\0';
    return 0;
}

int lv_wal_name_parse(const char *name, lv_wal_name *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(name);
    int ok = 0;
    if (n == 24) {
        ok = parse_segment_part(name, out) == 0;
        out->kind = LV_WAL_SEGMENT;
    } else if (n == 32 && strcmp(name + 24, ".partial") == 0) {
        ok = parse_segment_part(name, out) == 0;
        out->kind = LV_WAL_PARTIAL;
    } else if (n == 40 && name[24] == '.' && strcmp(name + 33, ".backup") == 0) {
        ok = parse_segment_part(name, out) == 0 && hex8(name + 25, &out->backup_offset) == 0;
        out->kind = LV_WAL_BACKUP;
    } else if (n == 16 && strcmp(name + 8, ".history") == 0) {
        ok = hex8(name, &out->tli) == 0;
        out->kind = LV_WAL_HISTORY;
    }
    /* Timeline 0 does not exist. (Timeline 1 has no history file, but its name is still well formed:
     * a restore_command asked for it must answer "absent", not "bad name", which would stop recovery.) */
    if (ok && out->tli == 0)
        ok = 0;
    if (!ok) {
        memset(out, 0, sizeof *out);
        return lv_err(LV_ERR_USAGE, "'%.64s' is not a WAL file name (segment, .partial, .backup or "
                      ".history file)", name);
    }
    memcpy(out->name, name, n + 1);
    return LV_OK;
}

const char *lv_wal_kind_str(lv_wal_kind k)
{
    switch (k) {
    case LV_WAL_SEGMENT: return "segment";
    case LV_WAL_PARTIAL: return "partial";
    case LV_WAL_BACKUP: return "backup";
    case LV_WAL_HISTORY: return "history";
    default: return "invalid";
    }
}

int lv_wal_segno(const lv_wal_name *n, uint32_t seg_size, uint64_t *segno)
{
    if (seg_size == 0 || n->kind == LV_WAL_HISTORY || n->kind == LV_WAL_INVALID)
        return -1;
    uint64_t per_log = 0x100000000ULL / seg_size;
    if (n->seg >= per_log)
        return -1;
    *segno = (uint64_t)n->log * per_log + n->seg;
    return 0;
}

void lv_wal_segment_name(uint32_t tli, uint64_t segno, uint32_t seg_size, char out[25])
{
    uint64_t per_log = 0x100000000ULL / seg_size;
    snprintf(out, 25, "%08X%08X%08X", tli, (uint32_t)(segno / per_log), (uint32_t)(segno % per_log));
}

int lv_wal_magic_version(uint16_t magic)
{
    /* XLOG_PAGE_MAGIC of each release (xlog_internal.h). Development versions use other values in
     * between; only released formats are accepted. */
    switch (magic) {
    case 0xD106: return 13;
    case 0xD10D: return 14;
    case 0xD110: return 15;
    case 0xD113: return 16;
    case 0xD116: return 17;
    case 0xD118: return 18;
    default: return 0;
    }
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int pow2_in(uint32_t v, uint32_t lo, uint32_t hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

int lv_wal_header_parse(const void *data, size_t n, lv_wal_header *h)
{
    memset(h, 0, sizeof *h);
    const uint8_t *p = data;
    if (n < LV_WAL_LONG_HEADER_SIZE)
        return lv_err(LV_ERR_CORRUPT, "%zu bytes, shorter than the %d-byte WAL long page header", n,
                      LV_WAL_LONG_HEADER_SIZE);
    lv_wal_header x;
    x.magic = le16(p);
    x.info = le16(p + 2);
    x.tli = le32(p + 4);
    x.pageaddr = le64(p + 8);
    x.rem_len = le32(p + 16);
    x.sysid = le64(p + 24);
    x.seg_size = le32(p + 32);
    x.page_size = le32(p + 36);
    x.pg_version = lv_wal_magic_version(x.magic);
    if (x.pg_version == 0)
        return lv_err(LV_ERR_CORRUPT, "unknown WAL page magic 0x%04X (labvault reads PostgreSQL 13 to 18)",
                      x.magic);
    if (x.info & ~LV_XLP_ALL_FLAGS)
        return lv_err(LV_ERR_CORRUPT, "WAL page header has unknown flag bits 0x%04X", x.info);
    if (!(x.info & LV_XLP_LONG_HEADER))
        return lv_err(LV_ERR_CORRUPT, "first WAL page lacks the long header flag");
    if (x.tli == 0)
        return lv_err(LV_ERR_CORRUPT, "WAL page header has timeline 0");
    if (!pow2_in(x.seg_size, 1U << 20, 1U << 30))
        return lv_err(LV_ERR_CORRUPT, "WAL segment size %u is not a power of two from 1 MiB to 1 GiB",
                      x.seg_size);
    if (!pow2_in(x.page_size, 1U << 10, 1U << 16))
        return lv_err(LV_ERR_CORRUPT, "WAL page size %u is not a power of two from 1 KiB to 64 KiB",
                      x.page_size);
    if (x.pageaddr % x.seg_size != 0)
        return lv_err(LV_ERR_CORRUPT, "WAL page address %X/%X is not on a segment boundary",
                      (uint32_t)(x.pageaddr >> 32), (uint32_t)x.pageaddr);
    if (x.sysid == 0)
        return lv_err(LV_ERR_CORRUPT, "WAL page header has system identifier 0");
    *h = x;
    return LV_OK;
}

int lv_wal_segment_check(const lv_wal_name *n, const lv_wal_header *h, uint64_t file_size)
{
    if (n->kind != LV_WAL_SEGMENT && n->kind != LV_WAL_PARTIAL)
        return lv_err(LV_ERR_INTERNAL, "%s is not a WAL segment", n->name);
    if (file_size != h->seg_size)
        return lv_err(LV_ERR_CORRUPT, "WAL file %s has %llu bytes but its header says segments have %u",
                      n->name, (unsigned long long)file_size, h->seg_size);
    uint64_t segno;
    if (lv_wal_segno(n, h->seg_size, &segno) != 0)
        return lv_err(LV_ERR_CORRUPT, "WAL file name %s does not fit %u-byte segments", n->name,
                      h->seg_size);
    if (segno > UINT64_MAX / h->seg_size || segno * h->seg_size != h->pageaddr)
        return lv_err(LV_ERR_CORRUPT, "WAL file %s starts at %X/%X, not where its name says (a recycled "
                      "or misnamed segment)", n->name, (uint32_t)(h->pageaddr >> 32), (uint32_t)h->pageaddr);
    if (h->tli > n->tli)
        return lv_err(LV_ERR_CORRUPT, "WAL file %s is on timeline %u but its first page is on timeline %u",
                      n->name, n->tli, h->tli);
    return LV_OK;
}
