/* Page header fields and the data checksum (contract in pg/page.h). */
#include "pg/page.h"

#include <string.h>

#define LANES 32
#define FNV_PRIME 16777619u

/* The lanes' starting values, fixed by the on-disk format. */
static const uint32_t lane_base[LANES] = {
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
    0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
    0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
    0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
};

static inline uint32_t mix(uint32_t lane, uint32_t word)
{
    uint32_t x = lane ^ word;
    return x * FNV_PRIME ^ (x >> 17);
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* pages read into plain buffers need not be 4-byte aligned */
    return v;
}

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

uint64_t lv_pg_page_lsn(const uint8_t *page)
{
    /* PageXLogRecPtr: xlogid (high half) then xrecoff (low half), each a native uint32. */
    return (uint64_t)rd32(page) << 32 | rd32(page + 4);
}

uint16_t lv_pg_page_checksum_field(const uint8_t *page) { return rd16(page + 8); }

int lv_pg_page_is_new(const uint8_t *page) { return rd16(page + 14) == 0; /* pd_upper */ }

int64_t lv_pg_heap_page_rows(const uint8_t *page, size_t block_size)
{
    enum { PD_ALL_VISIBLE = 0x0004, LP_NORMAL = 1, PAGE_LAYOUT_VERSION = 4 };
    if (lv_pg_page_is_new(page))
        return 0;
    uint16_t flags = rd16(page + 10), lower = rd16(page + 12), upper = rd16(page + 14), special = rd16(page + 16);
    uint16_t size_version = rd16(page + 18);
    if (!(flags & PD_ALL_VISIBLE) || (size_version & 0xFF) != PAGE_LAYOUT_VERSION ||
        (size_t)(size_version & 0xFF00) != (block_size & 0xFF00) || special != block_size ||
        lower < LV_PG_PAGE_HEADER || lower > upper || upper > special || (lower - LV_PG_PAGE_HEADER) % 4 != 0)
        return -1;
    int64_t rows = 0;
    for (size_t off = LV_PG_PAGE_HEADER; off < lower; off += 4) /* ItemIdData: lp_off:15, lp_flags:2, lp_len:15 */
        rows += ((rd32(page + off) >> 15) & 3) == LP_NORMAL;
    return rows;
}

int lv_pg_page_is_zero(const uint8_t *page, size_t block_size)
{
    static const uint8_t zero[256];
    for (size_t off = 0; off < block_size; off += sizeof zero) {
        size_t n = block_size - off < sizeof zero ? block_size - off : sizeof zero;
        if (memcmp(page + off, zero, n) != 0)
            return 0;
    }
    return 1;
}

/* Absorb the page's rows into the lanes, pd_checksum (the low half of word 2) taken as zero. */
static void absorb_scalar(uint32_t lane[LANES], const uint8_t *page, size_t rows)
{
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *row = page + i * 4 * LANES;
        for (size_t j = 0; j < LANES; j++) {
            uint32_t w = rd32(row + 4 * j);
            if (i == 0 && j == 2)
                w &= 0xFFFF0000u;
            lane[j] = mix(lane[j], w);
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* The same with AVX2: 32 lanes are four vectors of eight; about 5x the scalar speed. Checksumming
 * every page read is a visible share of a backup's CPU time otherwise. */
__attribute__((target("avx2"))) static void absorb_avx2(uint32_t lane[LANES], const uint8_t *page, size_t rows)
{
    const __m256i prime = _mm256_set1_epi32((int)FNV_PRIME);
    const __m256i first = _mm256_set_epi32(-1, -1, -1, -1, -1, (int)0xFFFF0000u, -1, -1);
    __m256i l[4];
    for (int k = 0; k < 4; k++)
        l[k] = _mm256_loadu_si256((const __m256i *)(const void *)(lane + 8 * k));
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *row = page + i * 4 * LANES;
        for (int k = 0; k < 4; k++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(row + 32 * k));
            if (i == 0 && k == 0)
                w = _mm256_and_si256(w, first);
            __m256i x = _mm256_xor_si256(l[k], w);
            l[k] = _mm256_xor_si256(_mm256_mullo_epi32(x, prime), _mm256_srli_epi32(x, 17));
        }
    }
    for (int k = 0; k < 4; k++)
        _mm256_storeu_si256((__m256i *)(void *)(lane + 8 * k), l[k]);
}
#endif

uint16_t lv_pg_page_checksum(const uint8_t *page, size_t block_size, uint32_t blkno)
{
    uint32_t lane[LANES];
    memcpy(lane, lane_base, sizeof lane);
    size_t rows = block_size / (4 * LANES);
#ifdef HAVE_AVX2_PATH
    static int avx2 = -1; /* every thread computes the same answer: relaxed is enough */
    int a = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (a < 0) {
        a = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&avx2, a, __ATOMIC_RELAXED);
    }
    if (a)
        absorb_avx2(lane, page, rows);
    else
        absorb_scalar(lane, page, rows);
#else
    absorb_scalar(lane, page, rows);
#endif
    for (int round = 0; round < 2; round++)
        for (size_t j = 0; j < LANES; j++)
            lane[j] = mix(lane[j], 0);
    uint32_t sum = 0;
    for (size_t j = 0; j < LANES; j++)
        sum ^= lane[j];
    sum ^= blkno;
    return (uint16_t)(sum % 65535u + 1);
}

lv_pg_page_verdict lv_pg_page_verify(const uint8_t *page, size_t block_size, uint32_t blkno, uint64_t start_lsn)
{
    if (lv_pg_page_lsn(page) >= start_lsn || lv_pg_page_is_zero(page, block_size))
        return LV_PG_PAGE_OK;
    return lv_pg_page_checksum(page, block_size, blkno) == lv_pg_page_checksum_field(page) ? LV_PG_PAGE_OK
                                                                                           : LV_PG_PAGE_BAD;
}
