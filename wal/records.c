/* WAL record reader (contract in wal/records.h; facts in docs/wal-format.md 2-5). */
#include "wal/records.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

#define SHORT_PHD 24
#define LONG_PHD 40
#define REC_HDR 24
#define MAXALIGN(x) (((x) + 7) & ~(uint64_t)7)
#define REC_MAX_SIZE (1020u * 1024 * 1024) /* XLogRecordMaxSize (16+); a sane bound for all versions */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ---- CRC-32C --------------------------------------------------------------------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? c >> 1 ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = crc_table[t - 1][i] >> 8 ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing-by-8: about 1 GB/s, where the byte-wise table would be a quarter of that. */
uint32_t lv_crc32c_sw(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    pthread_once(&crc_once, crc_init); /* pushes scan segments on several threads at once */
    while (n >= 8) {
        uint32_t lo = crc ^ rd32(p), hi = rd32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][lo >> 8 & 0xff] ^ crc_table[5][lo >> 16 & 0xff] ^
              crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][hi >> 8 & 0xff] ^
              crc_table[1][hi >> 16 & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ crc >> 8;
    return crc;
}

#if defined(__x86_64__)
/* SSE 4.2 has the CRC-32C instruction: the scan of a 16 MiB segment then costs a few milliseconds. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t lv_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return crc_hw(crc, data, len);
#endif
    return lv_crc32c_sw(crc, data, len);
}

/* ---- pages ------------------------------------------------------------------------------------ */

static lv_walrec_status stop(lv_walrec_reader *r, lv_walrec_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lv_walrec_status stop(lv_walrec_reader *r, lv_walrec_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    r->done = 1;
    r->status = st;
    return st;
}

#define LSN_ARGS(x) (unsigned)((x) >> 32), (unsigned)(x)

static uint32_t phd_size(const lv_walrec_reader *r, uint64_t page)
{
    return page % r->seg_size == 0 ? LONG_PHD : SHORT_PHD;
}

/* Is the page at LSN `page` inside the data, and is its header valid? 0 = valid, 1 = beyond the data,
 * -1 = invalid (r->why set). *info and *rem_len receive its fields. */
static int page_check(lv_walrec_reader *r, uint64_t page, uint16_t *info, uint32_t *rem_len)
{
    uint64_t off = page - r->base;
    if (off >= r->len)
        return 1;
    uint32_t hs = phd_size(r, page);
    if (r->len - off < hs)
        return 1;
    const uint8_t *p = r->data + off;
    uint16_t magic = rd16(p), fl = rd16(p + 2);
    uint32_t tli = rd32(p + 4);
    uint64_t addr = rd64(p + 8);
    const char *bad = NULL;
    if (magic != r->magic)
        bad = "wrong magic";
    else if (fl & ~LV_XLP_ALL_FLAGS)
        bad = "unknown flags";
    else if (addr != page)
        bad = "wrong page address (an old or recycled page)";
    else if (tli < r->tli)
        bad = "timeline went backwards";
    else if ((hs == LONG_PHD) != ((fl & LV_XLP_LONG_HEADER) != 0))
        bad = "long header flag where it does not belong";
    else if (hs == LONG_PHD && (rd64(p + 24) != r->sysid || rd32(p + 32) != r->seg_size ||
                                rd32(p + 36) != r->page_size))
        bad = "another cluster's or size's segment header";
    if (bad) {
        stop(r, LV_WALREC_INVALID, "invalid page header at %X/%X: %s", LSN_ARGS(page), bad);
        return -1;
    }
    r->tli = tli;
    *info = fl;
    *rem_len = rd32(p + 16);
    return 0;
}

/* Follow `need` bytes of a record continued onto the pages after `page` (whose data part ends the
 * record's first piece). copy != NULL: append them there. Returns 0 with *end = the LSN after the last
 * byte, 1 when the data ends first, -1 when a page is invalid or not the expected continuation,
 * 2 when a page starts over (XLP_FIRST_IS_OVERWRITE_CONTRECORD: *end = that page). */
static int follow(lv_walrec_reader *r, uint64_t page, uint32_t need, uint8_t *copy, uint64_t *end)
{
    while (need > 0) {
        page += r->page_size;
        uint16_t fl;
        uint32_t rem;
        int pc = page_check(r, page, &fl, &rem);
        if (pc)
            return pc;
        if (fl & LV_XLP_FIRST_IS_OVERWRITE_CONTRECORD) {
            *end = page;
            return 2;
        }
        if (!(fl & LV_XLP_FIRST_IS_CONTRECORD) || rem != need) {
            stop(r, LV_WALREC_INVALID, "page %X/%X does not continue the record (remaining %u, expected %u)",
                 LSN_ARGS(page), rem, need);
            return -1;
        }
        uint32_t hs = phd_size(r, page), avail = r->page_size - hs;
        uint32_t take = need < avail ? need : avail;
        if (page - r->base + hs + take > r->len)
            return 1;
        if (copy) {
            memcpy(copy, r->data + (page - r->base) + hs, take);
            copy += take;
        }
        need -= take;
        *end = page + hs + take;
    }
    return 0;
}

int lv_walrec_init(lv_walrec_reader *r, const void *data, size_t len)
{
    memset(r, 0, sizeof *r);
    lv_wal_header h;
    int rc = lv_wal_header_parse(data, len, &h);
    if (rc != LV_OK)
        return rc;
    r->data = data;
    r->len = len;
    r->base = h.pageaddr;
    r->page_size = h.page_size;
    r->seg_size = h.seg_size;
    r->magic = h.magic;
    r->pg_version = h.pg_version;
    r->sysid = h.sysid;
    r->tli = h.tli;
    r->pos = r->base + LONG_PHD;
    if ((h.info & LV_XLP_FIRST_IS_CONTRECORD) && h.rem_len > 0) {
        /* A record begun in the previous segment: skip its rest. */
        uint32_t avail = r->page_size - LONG_PHD;
        if (h.rem_len <= avail) {
            r->pos = r->base + LONG_PHD + h.rem_len;
        } else {
            uint64_t end = 0;
            int f = follow(r, r->base, h.rem_len - avail, NULL, &end);
            if (f == 1)
                stop(r, LV_WALREC_CUT, "the record continued from before %X/%X does not end in the data",
                     LSN_ARGS(r->base));
            else if (f == 2)
                r->pos = end;
            else if (f == 0)
                r->pos = end;
        }
        r->pos = MAXALIGN(r->pos);
    }
    r->first_lsn = r->pos;
    return LV_OK;
}

void lv_walrec_free(lv_walrec_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

int lv_walrec_cut_xact(const lv_walrec_reader *r)
{
    if (!r->done || r->status != LV_WALREC_CUT || r->pos < r->base)
        return 0;
    uint64_t pos = r->pos;
    if (pos % r->page_size == 0)
        pos += phd_size(r, pos);
    uint64_t off = pos - r->base;
    if (off >= r->len || r->len - off < 18)
        return 1; /* not even its header is here */
    uint8_t info = r->data[off + 16], rm = r->data[off + 17], op = info & 0x70;
    return rm == 1 && (op == 0x00 || op == 0x20 || op == 0x30 || op == 0x40);
}

size_t lv_walrec_cut_head(const lv_walrec_reader *r, uint8_t *buf, size_t cap)
{
    if (!r->done || r->status != LV_WALREC_CUT || r->pos < r->base)
        return 0;
    uint64_t pos = r->pos;
    if (pos % r->page_size == 0)
        pos += phd_size(r, pos);
    size_t n = 0;
    while (n < cap) {
        uint64_t page = pos - pos % r->page_size, off = pos - r->base;
        if (off >= r->len)
            break;
        uint64_t avail = page + r->page_size - pos;
        if (avail > r->len - off)
            avail = r->len - off;
        size_t take = avail < cap - n ? (size_t)avail : cap - n;
        memcpy(buf + n, r->data + off, take);
        n += take;
        /* the next page must continue this record */
        page += r->page_size;
        uint64_t poff = page - r->base;
        if (poff + SHORT_PHD > r->len)
            break;
        const uint8_t *p = r->data + poff;
        if (rd16(p) != r->magic || rd64(p + 8) != page || !(rd16(p + 2) & LV_XLP_FIRST_IS_CONTRECORD))
            break;
        pos = page + phd_size(r, page);
    }
    return n;
}

/* ---- fragment headers (DecodeXLogRecord) ------------------------------------------------------ */

/* The fragment headers of rec (its header fields set), of which only the first avail bytes are at hand
 * (avail = tot_len for a whole record). 0: read; -1: malformed; -2: a header lies past avail (a record's
 * head only: its block references are not all known). */
static int decode_frags(int pg_version, lv_walrec *rec, uint64_t avail)
{
    const uint8_t *p = rec->rec + REC_HDR;
    uint64_t remaining = rec->tot_len - REC_HDR, left = avail - REC_HDR, datatotal = 0;
    int max_id = -1;
    uint32_t main_len = 0;
    rec->nblocks = 0;
    rec->toplevel_xid = 0;
#define NEED(n)                                                                                           \
    do {                                                                                                  \
        if (remaining < (n))                                                                              \
            return -1;                                                                                    \
        if (left < (n))                                                                                   \
            return -2;                                                                                    \
    } while (0)
#define SKIP(n) (p += (n), remaining -= (n), left -= (n))
    while (remaining > datatotal) {
        NEED(1);
        uint8_t id = *p;
        SKIP(1);
        if (id == 255) { /* XLR_BLOCK_ID_DATA_SHORT */
            NEED(1);
            main_len = *p;
            SKIP(1);
            datatotal += main_len;
            break;
        } else if (id == 254) { /* XLR_BLOCK_ID_DATA_LONG */
            NEED(4);
            main_len = rd32(p);
            SKIP(4);
            datatotal += main_len;
            break;
        } else if (id == 253) { /* XLR_BLOCK_ID_ORIGIN */
            NEED(2);
            SKIP(2);
        } else if (id == 252 && pg_version >= 14) { /* XLR_BLOCK_ID_TOPLEVEL_XID */
            NEED(4);
            rec->toplevel_xid = rd32(p);
            SKIP(4);
        } else if (id <= 32) {
            if ((int)id <= max_id)
                return -1; /* out of order */
            max_id = id;
            NEED(3);
            uint8_t ff = p[0];
            uint16_t dlen = rd16(p + 1);
            SKIP(3);
            if (((ff & 0x20) != 0) != (dlen > 0))
                return -1;
            datatotal += dlen;
            if (ff & 0x10) { /* BKPBLOCK_HAS_IMAGE */
                NEED(5);
                uint16_t blen = rd16(p), hoff = rd16(p + 2);
                uint8_t binfo = p[4];
                SKIP(5);
                int compressed = pg_version >= 15 ? (binfo & 0x1C) != 0 : (binfo & 0x02) != 0;
                int hole = binfo & 0x01;
                if (compressed && hole) {
                    NEED(2);
                    SKIP(2);
                }
                if ((hole && hoff == 0) || (!hole && hoff != 0) || blen == 0)
                    return -1;
                datatotal += blen;
            }
            lv_walrec_block *b = &rec->blocks[rec->nblocks];
            if (!(ff & 0x80)) { /* not BKPBLOCK_SAME_REL */
                NEED(12);
                b->spc = rd32(p), b->db = rd32(p + 4), b->rel = rd32(p + 8);
                SKIP(12);
            } else {
                if (rec->nblocks == 0)
                    return -1;
                b->spc = b[-1].spc, b->db = b[-1].db, b->rel = b[-1].rel;
            }
            NEED(4);
            b->blkno = rd32(p);
            SKIP(4);
            b->id = id;
            b->fork = ff & 0x0F;
            rec->nblocks++;
        } else {
            return -1;
        }
    }
#undef NEED
#undef SKIP
    if (remaining != datatotal)
        return -1;
    rec->main_len = main_len;
    rec->main = avail >= rec->tot_len ? rec->rec + rec->tot_len - main_len : NULL;
    return 0;
}

static int decode_body(const lv_walrec_reader *r, lv_walrec *rec)
{
    return decode_frags(r->pg_version, rec, rec->tot_len) == 0 ? 0 : -1;
}

/* The header fields of the record at bytes (at least REC_HDR of them). */
static void header_fields(lv_walrec *rec, const uint8_t *bytes, uint64_t lsn)
{
    memset(rec, 0, offsetof(lv_walrec, blocks));
    rec->lsn = lsn;
    rec->tot_len = rd32(bytes);
    rec->xid = rd32(bytes + 4);
    rec->prev = rd64(bytes + 8);
    rec->info = bytes[16];
    rec->rmid = bytes[17];
    rec->rec = bytes;
}

static int rmid_ok(int pg_version, uint8_t rm) { return rm <= 21 || (pg_version >= 15 && rm >= 128); }

int lv_walrec_head_blocks(int pg_version, const uint8_t *head, size_t n, lv_walrec *rec)
{
    if (n < REC_HDR)
        return 0;
    header_fields(rec, head, 0);
    if (rec->tot_len < REC_HDR || rec->tot_len > REC_MAX_SIZE || !rmid_ok(pg_version, rec->rmid))
        return -1;
    int d = decode_frags(pg_version, rec, n < rec->tot_len ? n : rec->tot_len);
    if (d == 0)
        rec->main = NULL; /* not all of it is here (or the caller did not say it is) */
    return d == 0 ? 1 : d == -2 ? 0 : -1;
}

int lv_walrec_from_bytes(int pg_version, const uint8_t *bytes, size_t len, uint64_t lsn, lv_walrec *rec)
{
    if (len < REC_HDR)
        return -1;
    header_fields(rec, bytes, lsn);
    if (rec->tot_len != len || len > REC_MAX_SIZE || !rmid_ok(pg_version, rec->rmid))
        return -1;
    uint32_t crc = lv_crc32c(~0u, bytes + REC_HDR, len - REC_HDR);
    crc = lv_crc32c(crc, bytes, 20) ^ ~0u;
    if (crc != rd32(bytes + 20) || decode_frags(pg_version, rec, len) != 0)
        return -1;
    rec->end_lsn = lsn + len; /* as if on one page: the caller knows where it really ends */
    return 0;
}

size_t lv_walrec_lead(const uint8_t *data, size_t len, uint8_t *buf, size_t cap, uint32_t *rem, int *overwrite)
{
    *rem = 0;
    *overwrite = 0;
    lv_wal_header h;
    if (lv_wal_header_parse(data, len, &h) != LV_OK) {
        lv_err_clear();
        return 0;
    }
    *overwrite = (h.info & LV_XLP_FIRST_IS_OVERWRITE_CONTRECORD) != 0;
    if (!(h.info & LV_XLP_FIRST_IS_CONTRECORD) || h.rem_len == 0)
        return 0;
    *rem = h.rem_len;
    size_t n = 0;
    uint32_t need = h.rem_len;
    uint64_t off = 0;
    for (;;) {
        uint32_t hs = off == 0 ? LONG_PHD : SHORT_PHD;
        uint32_t avail = h.page_size - hs, take = need < avail ? need : avail;
        if (off + hs + take > len)
            break;
        size_t copy = take < cap - n ? take : cap - n;
        memcpy(buf + n, data + off + hs, copy);
        n += copy;
        need -= take;
        if (need == 0 || n == cap)
            break;
        off += h.page_size;
        if (off + SHORT_PHD > len)
            break;
        const uint8_t *p = data + off;
        if (rd16(p) != h.magic || rd64(p + 8) != h.pageaddr + off || !(rd16(p + 2) & LV_XLP_FIRST_IS_CONTRECORD) ||
            rd32(p + 16) != need)
            break; /* not the continuation it should be: what was copied is all there is */
    }
    return n;
}

/* ---- records ----------------------------------------------------------------------------------- */

void lv_walrec_init_at(lv_walrec_reader *r, const lv_wal_header *h, const void *data, size_t len, uint64_t base,
                       uint64_t at, uint64_t prev)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = len;
    r->base = base;
    r->page_size = h->page_size;
    r->seg_size = h->seg_size;
    r->magic = h->magic;
    r->pg_version = h->pg_version;
    r->sysid = h->sysid;
    r->tli = h->tli;
    r->pos = r->first_lsn = at;
    r->prev = prev;
    if (at < base || base % h->page_size)
        stop(r, LV_WALREC_INVALID, "reading from %X/%X in data that starts at %X/%X", LSN_ARGS(at), LSN_ARGS(base));
}

lv_walrec_status lv_walrec_next(lv_walrec_reader *r, lv_walrec *rec)
{
    if (r->done)
        return r->status;
    for (;;) {
        uint64_t pos = r->pos;
        if (pos - r->base >= r->len)
            return stop(r, LV_WALREC_EOD, "end of data at %X/%X", LSN_ARGS(pos));
        uint64_t page = pos - (pos % r->page_size);
        uint16_t fl;
        uint32_t rem;
        int pc = page_check(r, page, &fl, &rem);
        if (pc > 0)
            return stop(r, LV_WALREC_CUT, "the page at %X/%X is cut", LSN_ARGS(page));
        if (pc < 0)
            return r->status;
        uint32_t hs = phd_size(r, page);
        if (pos == page) {
            if (fl & LV_XLP_FIRST_IS_CONTRECORD)
                return stop(r, LV_WALREC_INVALID, "a record was expected at %X/%X, the page continues one",
                            LSN_ARGS(pos));
            pos += hs;
        } else if (pos < page + hs) {
            return stop(r, LV_WALREC_INVALID, "record position %X/%X inside a page header", LSN_ARGS(pos));
        }
        uint64_t off = pos - r->base;
        uint32_t left = (uint32_t)(page + r->page_size - pos); /* bytes of this page from pos */
        if (r->len - off < 4)
            return stop(r, LV_WALREC_CUT, "the record at %X/%X is cut", LSN_ARGS(pos));
        uint32_t tot = rd32(r->data + off);
        if (tot == 0)
            return stop(r, LV_WALREC_INVALID, "no record at %X/%X (zeros: the end of WAL)", LSN_ARGS(pos));
        if (tot < REC_HDR || tot > REC_MAX_SIZE)
            return stop(r, LV_WALREC_INVALID, "invalid record length %u at %X/%X", tot, LSN_ARGS(pos));
        const uint8_t *bytes;
        uint64_t end;
        if (tot <= left) {
            if (r->len - off < tot)
                return stop(r, LV_WALREC_CUT, "the record at %X/%X is cut", LSN_ARGS(pos));
            bytes = r->data + off;
            end = pos + tot;
        } else {
            /* Spanning pages: check the continuation first (no copy of a garbage length), then copy. */
            if (r->len - off < left)
                return stop(r, LV_WALREC_CUT, "the record at %X/%X is cut", LSN_ARGS(pos));
            int f = follow(r, page, tot - left, NULL, &end);
            if (f == 1)
                return stop(r, LV_WALREC_CUT, "the record at %X/%X continues past the data", LSN_ARGS(pos));
            if (f < 0)
                return r->status;
            if (f == 2) { /* the record was abandoned (the server crashed mid-write): start over there */
                r->pos = end;
                r->prev = 0;
                continue;
            }
            if (r->cap < tot) {
                free(r->buf);
                r->buf = lv_xmalloc(tot);
                r->cap = tot;
            }
            memcpy(r->buf, r->data + off, left);
            follow(r, page, tot - left, r->buf + left, &end);
            bytes = r->buf;
        }
        header_fields(rec, bytes, pos);
        rec->end_lsn = end;
        if (!rmid_ok(r->pg_version, rec->rmid))
            return stop(r, LV_WALREC_INVALID, "invalid resource manager %u at %X/%X", rec->rmid, LSN_ARGS(pos));
        if (r->prev && rec->prev != r->prev)
            return stop(r, LV_WALREC_INVALID, "record at %X/%X has a wrong previous link %X/%X", LSN_ARGS(pos),
                        LSN_ARGS(rec->prev));
        uint32_t crc = lv_crc32c(~0u, bytes + REC_HDR, tot - REC_HDR);
        crc = lv_crc32c(crc, bytes, 20) ^ ~0u;
        if (crc != rd32(bytes + 20))
            return stop(r, LV_WALREC_INVALID, "CRC mismatch in the record at %X/%X", LSN_ARGS(pos));
        if (decode_body(r, rec) != 0)
            return stop(r, LV_WALREC_INVALID, "malformed record at %X/%X", LSN_ARGS(pos));
        r->prev = pos;
        if (rec->rmid == 0 && (rec->info & 0xF0) == 0x40) /* XLOG_SWITCH: the rest of the segment is unused */
            r->pos = (end + r->seg_size - 1) / r->seg_size * r->seg_size;
        else
            r->pos = MAXALIGN(end);
        return LV_WALREC_OK;
    }
}

/* ---- events ------------------------------------------------------------------------------------ */

/* TimestampTz to unix microseconds; PostgreSQL's infinity (INT64_MAX) and garbage stay in range. */
static int64_t unix_us(uint64_t raw)
{
    int64_t v = (int64_t)raw;
    return v > INT64_MAX - LV_PG_EPOCH_US ? INT64_MAX : v + LV_PG_EPOCH_US;
}

uint32_t lv_wal_event_subxact(const lv_wal_event *ev, uint32_t i) { return rd32(ev->subxacts + (size_t)i * 4); }

lv_wal_rfn lv_wal_event_rel(const lv_wal_event *ev, uint32_t i)
{
    const uint8_t *p = ev->rels + (size_t)i * 12;
    return (lv_wal_rfn){rd32(p), rd32(p + 4), rd32(p + 8)};
}

/* ParseCommitRecord / ParseAbortRecord (xactdesc.c) up to the two-phase xid; the rest is not needed. */
static int decode_xact(const lv_walrec_reader *r, const lv_walrec *rec, lv_wal_event *ev, int commit)
{
    const uint8_t *p = rec->main, *e = rec->main + rec->main_len;
#define TAKE(n)                                                                                           \
    do {                                                                                                  \
        if ((size_t)(e - p) < (size_t)(n))                                                                \
            return lv_err(LV_ERR_CORRUPT, "transaction record at %X/%X is too short", LSN_ARGS(rec->lsn)); \
    } while (0)
    TAKE(8);
    ev->time_us = unix_us(rd64(p));
    p += 8;
    uint32_t xinfo = 0;
    if (rec->info & 0x80) {
        TAKE(4);
        xinfo = rd32(p);
        p += 4;
    }
    if (xinfo & 0x001) { /* HAS_DBINFO */
        TAKE(8);
        ev->dbid = rd32(p), ev->tsid = rd32(p + 4);
        p += 8;
    }
    if (xinfo & 0x002) { /* HAS_SUBXACTS */
        TAKE(4);
        uint32_t n = rd32(p);
        p += 4;
        if (n > (uint32_t)(e - p) / 4)
            return lv_err(LV_ERR_CORRUPT, "transaction record at %X/%X: bad subtransaction count",
                          LSN_ARGS(rec->lsn));
        ev->nsubxacts = n;
        ev->subxacts = p;
        p += (size_t)n * 4;
    }
    if (xinfo & 0x004) { /* HAS_RELFILENODES / RELFILELOCATORS */
        TAKE(4);
        uint32_t n = rd32(p);
        p += 4;
        if (n > (uint32_t)(e - p) / 12)
            return lv_err(LV_ERR_CORRUPT, "transaction record at %X/%X: bad relation count", LSN_ARGS(rec->lsn));
        ev->nrels = n;
        ev->rels = p;
        p += (size_t)n * 12;
    }
    if ((xinfo & 0x100) && r->pg_version >= 15) { /* HAS_DROPPED_STATS */
        /* xl_xact_stats_item: {kind, dboid, objoid} (12 bytes); 18 made the object id 64 bits (16 bytes) */
        uint32_t item = r->pg_version >= 18 ? 16 : 12;
        TAKE(4);
        uint32_t n = rd32(p);
        p += 4;
        if (n > (uint32_t)(e - p) / item)
            return lv_err(LV_ERR_CORRUPT, "transaction record at %X/%X: bad stats count", LSN_ARGS(rec->lsn));
        p += (size_t)n * item;
    }
    if (commit && (xinfo & 0x008)) { /* HAS_INVALS */
        TAKE(4);
        uint32_t n = rd32(p);
        p += 4;
        if (n > (uint32_t)(e - p) / 16)
            return lv_err(LV_ERR_CORRUPT, "transaction record at %X/%X: bad invalidation count",
                          LSN_ARGS(rec->lsn));
        p += (size_t)n * 16;
    }
    ev->xid = rec->xid;
    if (xinfo & 0x010) { /* HAS_TWOPHASE */
        TAKE(4);
        ev->xid = rd32(p);
    }
#undef TAKE
    return LV_OK;
}

/* XLOG_XACT_PREPARE: the main data is the two-phase state file, which starts with xl_xact_prepare
 * (xid @8, database @12, prepared_at @16; 15 added two int32 stats counts before ninvalmsgs, moving
 * gidlen from @46 to @54) and continues, MAXALIGNed, with the GID (gidlen bytes, its NUL included). */
static int decode_prepare(const lv_walrec_reader *r, const lv_walrec *rec, lv_wal_event *ev)
{
    uint32_t hdr = r->pg_version >= 15 ? 72 : 64, gidlen_at = r->pg_version >= 15 ? 54 : 46;
    if (rec->main_len < hdr)
        return lv_err(LV_ERR_CORRUPT, "prepare record at %X/%X is too short", LSN_ARGS(rec->lsn));
    uint32_t gidlen = rd16(rec->main + gidlen_at);
    if (gidlen < 1 || gidlen > 200 || rec->main_len - hdr < gidlen || rec->main[hdr + gidlen - 1] != '\0')
        return lv_err(LV_ERR_CORRUPT, "prepare record at %X/%X has a malformed GID", LSN_ARGS(rec->lsn));
    ev->kind = LV_WEV_PREPARE;
    ev->xid = rd32(rec->main + 8);
    ev->dbid = rd32(rec->main + 12);
    ev->time_us = unix_us(rd64(rec->main + 16));
    ev->gid = (const char *)rec->main + hdr;
    return LV_OK;
}

/* xl_xact_assignment: {xtop @0, int nsubxacts @4, xsub[] @8}. */
static int decode_assignment(const lv_walrec *rec, lv_wal_event *ev)
{
    if (rec->main_len < 8 || rd32(rec->main + 4) > (rec->main_len - 8) / 4)
        return lv_err(LV_ERR_CORRUPT, "assignment record at %X/%X is malformed", LSN_ARGS(rec->lsn));
    ev->kind = LV_WEV_ASSIGNMENT;
    ev->xid = rd32(rec->main);
    ev->nsubxacts = rd32(rec->main + 4);
    ev->subxacts = rec->main + 8;
    return LV_OK;
}

/* Heap (rm 10) and Heap2 (rm 9) records that change rows; the relation is block 0's (for an UPDATE the
 * new tuple's page: the same relation). Opcodes (info & 0x70; 0x80 is XLOG_HEAP_INIT_PAGE), the same in
 * 13-18: Heap INSERT 0x00, DELETE 0x10 (xl_heap_delete: offnum @4, flags @7), UPDATE 0x20, HOT_UPDATE
 * 0x40, INPLACE 0x70 (xl_heap_inplace: offnum @0); Heap2 MULTI_INSERT 0x50 (xl_heap_multi_insert:
 * ntuples uint16 @2). */
static int decode_heap(const lv_walrec *rec, lv_wal_event *ev)
{
    uint8_t op = rec->info & 0x70;
    if (rec->nblocks == 0)
        return LV_OK;
    const lv_walrec_block *b = &rec->blocks[0];
    if (rec->rmid == 10 && op == 0x70) {
        if (b->spc == 1664 && b->db == 0 && b->rel == 1262) {
            ev->kind = LV_WEV_DB_INVALIDATE;
            ev->rfn = (lv_wal_rfn){b->spc, b->db, b->rel};
            ev->blkno = b->blkno;
            ev->offnum = rec->main_len >= 2 ? rd16(rec->main) : 0;
        }
        return LV_OK;
    }
    uint32_t rows = 1;
    lv_wal_heap_op hop;
    if (rec->rmid == 9) {
        if (op != 0x50)
            return LV_OK;
        if (rec->main_len < 4)
            return lv_err(LV_ERR_CORRUPT, "multi-insert record at %X/%X is too short", LSN_ARGS(rec->lsn));
        hop = LV_HEAP_INSERT;
        rows = rd16(rec->main + 2);
    } else if (op == 0x00) {
        hop = LV_HEAP_INSERT;
    } else if (op == 0x20 || op == 0x40) {
        hop = LV_HEAP_UPDATE;
    } else if (op == 0x10) {
        if (rec->main_len < 8)
            return lv_err(LV_ERR_CORRUPT, "delete record at %X/%X is too short", LSN_ARGS(rec->lsn));
        if (rec->main[7] & (0x08 | 0x10)) /* XLH_DELETE_IS_SUPER, XLH_DELETE_IS_PARTITION_MOVE */
            return LV_OK;
        hop = LV_HEAP_DELETE;
        ev->offnum = rd16(rec->main + 4);
    } else {
        return LV_OK;
    }
    ev->kind = LV_WEV_HEAP;
    ev->heap_op = hop;
    ev->rows = rows;
    ev->rfn = (lv_wal_rfn){b->spc, b->db, b->rel};
    ev->blkno = b->blkno;
    return LV_OK;
}

lv_wal_rows_kind lv_wal_rows_effect(const lv_walrec *rec, int32_t *delta)
{
    *delta = 0;
    int main_fork = 0;
    for (uint32_t i = 0; i < rec->nblocks && !main_fork; i++)
        main_fork = rec->blocks[i].fork == 0;
    if (!main_fork)
        return LV_ROWS_NONE;
    uint8_t op = rec->info & 0x70;
    switch (rec->rmid) {
    case 0: /* XLOG: only the hint-bit image is known to change no row */
        return (rec->info & 0xF0) == 0xA0 ? LV_ROWS_NONE : LV_ROWS_UNKNOWN;
    case 9: /* Heap2 */
        if (op != 0x50)
            return LV_ROWS_NONE;
        if (rec->main_len < 4)
            return LV_ROWS_UNKNOWN;
        *delta = rd16(rec->main + 2);
        return LV_ROWS_DELTA;
    case 10: /* Heap */
        if (op == 0x00) {
            *delta = 1;
            return LV_ROWS_DELTA;
        }
        if (op == 0x10) {
            if (rec->main_len < 8)
                return LV_ROWS_UNKNOWN;
            *delta = -1;
            return LV_ROWS_DELTA;
        }
        return op == 0x30 ? LV_ROWS_UNKNOWN : LV_ROWS_NONE;
    default:
        return LV_ROWS_UNKNOWN;
    }
}

int lv_wal_event_decode(const lv_walrec_reader *r, const lv_walrec *rec, lv_wal_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->xid = rec->xid;
    uint8_t op = rec->info & 0xF0;
    switch (rec->rmid) {
    case 1: { /* Transaction */
        uint8_t x = rec->info & 0x70;
        if (x == 0x10)
            return decode_prepare(r, rec, ev);
        if (x == 0x50)
            return decode_assignment(rec, ev);
        if (x != 0x00 && x != 0x20 && x != 0x30 && x != 0x40)
            return LV_OK;
        ev->kind = x == 0x00 || x == 0x30 ? LV_WEV_COMMIT : LV_WEV_ABORT;
        ev->prepared = x == 0x30 || x == 0x40;
        return decode_xact(r, rec, ev, ev->kind == LV_WEV_COMMIT);
    }
    case 0: /* XLOG */
        if (op == 0x60) { /* XLOG_PARAMETER_CHANGE: xl_parameter_change, wal_level @20 (13-18) */
            if (rec->main_len < 24)
                return lv_err(LV_ERR_CORRUPT, "parameter change record at %X/%X is too short", LSN_ARGS(rec->lsn));
            ev->kind = LV_WEV_PARAMS;
            ev->flags = rd32(rec->main + 20);
            return LV_OK;
        }
        if (op != 0x70)
            return LV_OK;
        if (rec->main_len < 8 + 64)
            return lv_err(LV_ERR_CORRUPT, "restore point record at %X/%X is too short", LSN_ARGS(rec->lsn));
        ev->kind = LV_WEV_RESTORE_POINT;
        ev->time_us = unix_us(rd64(rec->main));
        memcpy(ev->name, rec->main + 8, 63);
        ev->name[63] = '\0';
        return LV_OK;
    case 2: /* Storage */
        if (op == 0x10) {
            if (rec->main_len < 16)
                return lv_err(LV_ERR_CORRUPT, "create record at %X/%X is too short", LSN_ARGS(rec->lsn));
            ev->kind = LV_WEV_CREATE;
            ev->rfn = (lv_wal_rfn){rd32(rec->main), rd32(rec->main + 4), rd32(rec->main + 8)};
            ev->fork = (int32_t)rd32(rec->main + 12);
            return LV_OK;
        }
        if (op != 0x20)
            return LV_OK;
        if (rec->main_len < 20)
            return lv_err(LV_ERR_CORRUPT, "truncate record at %X/%X is too short", LSN_ARGS(rec->lsn));
        ev->kind = LV_WEV_TRUNCATE;
        ev->blkno = rd32(rec->main);
        ev->rfn = (lv_wal_rfn){rd32(rec->main + 4), rd32(rec->main + 8), rd32(rec->main + 12)};
        ev->flags = rd32(rec->main + 16);
        return LV_OK;
    case 4: /* Database: 13-14 CREATE 0x00, DROP 0x10; 15+ CREATE_FILE_COPY 0x00, CREATE_WAL_LOG 0x10, DROP 0x20 */
        if (op == 0x00 || (op == 0x10 && r->pg_version >= 15)) {
            /* xl_dbase_create_rec / _file_copy_rec {db_id, tablespace_id, src_db_id, src_tablespace_id},
             * xl_dbase_create_wal_log_rec {db_id, tablespace_id} */
            if (rec->main_len < 8)
                return lv_err(LV_ERR_CORRUPT, "create database record at %X/%X is too short", LSN_ARGS(rec->lsn));
            ev->kind = LV_WEV_DB_CREATE;
            ev->dbid = rd32(rec->main);
            ev->tsid = rd32(rec->main + 4);
            return LV_OK;
        }
        if (op != (r->pg_version >= 15 ? 0x20 : 0x10))
            return LV_OK;
        if (rec->main_len < 8 || (rd32(rec->main + 4) > (rec->main_len - 8) / 4))
            return lv_err(LV_ERR_CORRUPT, "drop database record at %X/%X is malformed", LSN_ARGS(rec->lsn));
        ev->kind = LV_WEV_DB_DROP;
        ev->dbid = rd32(rec->main);
        ev->nrels = rd32(rec->main + 4);
        ev->rels = rec->main + 8;
        return LV_OK;
    case 9:  /* Heap2 */
    case 10: /* Heap */
        return decode_heap(rec, ev);
    default:
        return LV_OK;
    }
}
