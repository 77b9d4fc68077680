/* PostgreSQL data pages as `backup pg` reads them: the page header fields it needs (pd_lsn,
 * pd_checksum, pd_upper) and the data checksum.
 *
 * The page checksum (PostgreSQL's storage/checksum_impl.h, documented algorithm, written here from its
 * description): the page, with pd_checksum taken as zero, is read as native 32-bit words laid out as
 * rows of 32 columns; 32 FNV-1a-like lanes (lane j starts at a fixed base offset) each absorb column j
 * (x = lane ^ word; lane = x * 16777619 ^ (x >> 17)), then two more rounds of zero words; the lanes are
 * XORed, XORed with the block number (segno * RELSEG_SIZE + page index), and reduced to 1..65535.
 * Little-endian hosts only (x86-64, aarch64), like the clusters labvault backs up. */
#ifndef LV_PG_PAGE_H
#define LV_PG_PAGE_H

#include <stddef.h>
#include <stdint.h>

#define LV_PG_PAGE_HEADER 24 /* sizeof(PageHeaderData) without line pointers */

/* pd_lsn: the LSN of the last WAL record that changed the page. */
uint64_t lv_pg_page_lsn(const uint8_t *page);
uint16_t lv_pg_page_checksum_field(const uint8_t *page);
/* PageIsNew: pd_upper is zero (a page extended but never initialized; usually every byte zero). */
int lv_pg_page_is_new(const uint8_t *page);
/* Every byte zero (a page extended but never written: PageIsNew with nothing in it). */
int lv_pg_page_is_zero(const uint8_t *page, size_t block_size);
/* The rows on a heap page that PostgreSQL marked all-visible (PD_ALL_VISIBLE in pd_flags): every tuple on
 * such a page is visible to every transaction, so each normal line pointer (LP_NORMAL) is one live row
 * (a HOT chain's older versions are pruned before a page can be marked, leaving redirects, which are not
 * rows). This is what a sequential scan returns from such a page: PostgreSQL's page-at-a-time scan
 * (heapgetpage) skips the visibility test of every tuple on a page marked so, and keeps each normal
 * line pointer. A new page (pd_upper 0) holds none. -1 when the page is not all-visible, or its header is not
 * a heap page's of this block size (special space, bounds): its rows need a count by the server. The
 * flag and the line pointers change only with a WAL record, unlike hint bits. */
int64_t lv_pg_heap_page_rows(const uint8_t *page, size_t block_size);

/* pg_checksum_page: the checksum the page should carry as block blkno. block_size a multiple of 128. */
uint16_t lv_pg_page_checksum(const uint8_t *page, size_t block_size, uint32_t blkno);

/* What backup pg decides about one page. */
typedef enum lv_pg_page_verdict {
    LV_PG_PAGE_OK = 0,     /* checksum verified, or not judged (zero page, newer than the backup start) */
    LV_PG_PAGE_BAD = 1     /* pd_checksum differs from the computed one */
} lv_pg_page_verdict;

/* Judge one page read during a backup that started at start_lsn: all-zero pages and pages whose pd_lsn
 * is at or after start_lsn (possibly torn: WAL replay rewrites them) are not judged. */
lv_pg_page_verdict lv_pg_page_verify(const uint8_t *page, size_t block_size, uint32_t blkno, uint64_t start_lsn);

#endif
