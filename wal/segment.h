/* WAL file names and the long page header at the start of every WAL segment (PostgreSQL 13-18).
 *
 * Pure functions: no I/O, no allocation, safe on any bytes (the fuzz target tests/fuzz/fuzz_wal_header.c
 * calls them on hostile input). The facts come from docs/wal-format.md sections 0-2.
 *
 * File names PostgreSQL hands to archive_command / restore_command (upper-case hex only):
 *   segment   TTTTTTTTLLLLLLLLSSSSSSSS              24 hex digits: timeline, log, segment
 *   partial   TTTTTTTTLLLLLLLLSSSSSSSS.partial      the last, incomplete segment of an old timeline
 *   backup    TTTTTTTTLLLLLLLLSSSSSSSS.OOOOOOOO.backup   backup history file (text)
 *   history   TTTTTTTT.history                      timeline history file (text)
 *
 * Contract of lv_wal_header_parse: it accepts only a long page header that PostgreSQL 13-18 could have
 * written as the first page of a segment (known magic, only known flag bits, XLP_LONG_HEADER set, a
 * non-zero timeline, a segment size that is a power of two from 1 MiB to 1 GiB, a WAL page size that is
 * a power of two from 1 KiB to 64 KiB, a page address on a segment boundary). Anything else is
 * LV_ERR_CORRUPT with a one-line reason. lv_wal_segment_check then ties a parsed header to the file's
 * name and size. Byte order is little-endian (the servers labvault supports are x86-64 and aarch64). */
#ifndef LV_WAL_SEGMENT_H
#define LV_WAL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "pg/lsn.h"

typedef enum lv_wal_kind {
    LV_WAL_INVALID = 0,
    LV_WAL_SEGMENT,
    LV_WAL_PARTIAL,
    LV_WAL_BACKUP,
    LV_WAL_HISTORY
} lv_wal_kind;

#define LV_WAL_NAME_MAX 48 /* longest name: 24 + 1 + 8 + 7 ("x.OOOOOOOO.backup") = 40, plus room */

typedef struct lv_wal_name {
    lv_wal_kind kind;
    uint32_t tli;
    uint32_t log, seg;             /* segment, partial, backup: the L and S parts of the name */
    uint32_t backup_offset;        /* backup: the OOOOOOOO part */
    char name[LV_WAL_NAME_MAX];    /* the whole name as given */
    char segment[25];              /* segment, partial, backup: the 24-digit segment name; else "" */
} lv_wal_name;

/* Classify and split a file name (no directory part). Returns LV_OK or LV_ERR_USAGE naming the name. */
int lv_wal_name_parse(const char *name, lv_wal_name *out);
const char *lv_wal_kind_str(lv_wal_kind k); /* "segment", "partial", "backup", "history", "invalid" */

/* Segment numbers: segno = log * (2^32 / seg_size) + seg. lv_wal_segno fails (-1) when seg is out of
 * range for seg_size (e.g. S = 0x100 with 16 MiB segments). */
int lv_wal_segno(const lv_wal_name *n, uint32_t seg_size, uint64_t *segno);
/* The 24-digit name of segment segno on timeline tli into out[25]. */
void lv_wal_segment_name(uint32_t tli, uint64_t segno, uint32_t seg_size, char out[25]);

/* The first 40 bytes of a segment (XLogLongPageHeaderData). */
#define LV_WAL_LONG_HEADER_SIZE 40
#define LV_XLP_FIRST_IS_CONTRECORD 0x0001
#define LV_XLP_LONG_HEADER 0x0002
#define LV_XLP_BKP_REMOVABLE 0x0004
#define LV_XLP_FIRST_IS_OVERWRITE_CONTRECORD 0x0008
#define LV_XLP_ALL_FLAGS 0x000F

typedef struct lv_wal_header {
    uint16_t magic;
    uint16_t info;
    uint32_t tli;          /* timeline of the first record on the page (may be older than the name's) */
    uint64_t pageaddr;     /* LSN of the page start */
    uint32_t rem_len;
    uint64_t sysid;        /* the cluster's system identifier (pg_control) */
    uint32_t seg_size;
    uint32_t page_size;    /* XLOG_BLCKSZ */
    int pg_version;        /* major version the magic belongs to: 13..18 */
} lv_wal_header;

/* Parse and validate the long page header at data[0..n). */
int lv_wal_header_parse(const void *data, size_t n, lv_wal_header *h);

/* The file named n (segment or partial) with this header and size is a coherent WAL segment: its size
 * is the header's segment size, its page address is the one its name implies, and the page's timeline
 * is not newer than the name's. LV_OK or LV_ERR_CORRUPT naming the file. */
int lv_wal_segment_check(const lv_wal_name *n, const lv_wal_header *h, uint64_t file_size);

/* Major PostgreSQL version of a WAL page magic, or 0 when labvault does not know it. */
int lv_wal_magic_version(uint16_t magic);

#endif
