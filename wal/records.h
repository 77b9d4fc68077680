/* Reading WAL records out of segment bytes (PostgreSQL 13-18), and decoding the few that matter to a
 * backup tool: commits and aborts (time, xid, dropped relfilenodes), PREPARE TRANSACTION (its GID),
 * subtransaction assignments, restore points, SMGR_CREATE/TRUNCATE, DROP DATABASE and the pg_database
 * in-place update that precedes it, and the heap records that insert, update or delete rows (counted per
 * relation by wal/summary.h).
 *
 * The facts come from docs/wal-format.md sections 0-9 and 11 (checked against pg_waldump
 * on PostgreSQL 15). The reader follows xlogreader.c:
 *   - data[0..len) is contiguous WAL starting at a segment boundary (one segment, or several in a row);
 *     its first page's long header (wal/segment.h) gives the version, page and segment size;
 *   - every page header is checked (magic, flags, page address, timeline never decreasing, the long
 *     form on segment boundaries): recycled segments and the stale pages after the end of WAL in a
 *     copied or partial segment end the valid WAL there;
 *   - a record continued from before data[0] is skipped (like pg_waldump's "first record is after");
 *     records continued across pages and segments are assembled (xlp_rem_len, XLP_FIRST_IS_CONTRECORD,
 *     XLP_FIRST_IS_OVERWRITE_CONTRECORD); records start MAXALIGN(8)-aligned; after XLOG_SWITCH the
 *     reader jumps to the next segment;
 *   - a record is accepted only with a sane header (length, resource manager, xl_prev), a matching
 *     CRC-32C and well-formed fragment headers; the first failure ends the valid WAL, as in PostgreSQL
 *     (zeros after the end of WAL are normal in a partial or recycled segment).
 *
 * Pure functions of the bytes, safe on hostile input (tests/fuzz/fuzz_wal_records.c). Memory: a record
 * that lies inside one page points into data; a record spanning pages is copied into one buffer owned by
 * the reader, grown to the longest such record and never larger than len (lv_walrec_free releases it).
 * Everything returned points into data or that buffer and is valid until the next lv_walrec_next. */
#ifndef LV_WAL_RECORDS_H
#define LV_WAL_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "wal/segment.h"

#define LV_WALREC_MAX_BLOCKS 33 /* XLR_MAX_BLOCK_ID + 1 */

typedef struct lv_walrec_block {
    uint8_t id, fork;            /* block id 0..32; fork 0 main, 1 fsm, 2 vm, 3 init */
    uint32_t spc, db, rel, blkno;
} lv_walrec_block;

typedef struct lv_walrec {
    uint64_t lsn;                /* start of the record */
    uint64_t end_lsn;            /* just past its last byte (the next record starts MAXALIGNed from here) */
    uint32_t tot_len, xid;       /* xl_tot_len, xl_xid */
    uint32_t toplevel_xid;       /* XLR_BLOCK_ID_TOPLEVEL_XID (14+, wal_level = logical: the first record
                                    of a subtransaction names its top-level transaction); 0 when absent */
    uint64_t prev;               /* xl_prev */
    uint8_t info, rmid;          /* xl_info, xl_rmid */
    const uint8_t *rec;          /* the record's tot_len bytes, header included */
    const uint8_t *main;         /* main data (unaligned: read with memcpy) */
    uint32_t main_len;
    uint32_t nblocks;
    lv_walrec_block blocks[LV_WALREC_MAX_BLOCKS];
} lv_walrec;

typedef enum lv_walrec_status {
    LV_WALREC_OK = 0,            /* *rec holds the next record */
    LV_WALREC_EOD,               /* the data ends on a record boundary (e.g. a whole segment read) */
    LV_WALREC_CUT,               /* the next record continues past the end of the data */
    LV_WALREC_INVALID            /* the end of valid WAL: r->why says where and why */
} lv_walrec_status;

typedef struct lv_walrec_reader {
    const uint8_t *data;
    size_t len;
    uint64_t base;               /* LSN of data[0] */
    uint32_t page_size, seg_size, tli;
    uint16_t magic;
    int pg_version;              /* 13..18 */
    uint64_t sysid;
    uint64_t pos;                /* LSN where the next record is looked for */
    uint64_t prev;               /* start of the previous record (0: not known, xl_prev not checked) */
    uint64_t first_lsn;          /* the first record start in the data (after a skipped continuation) */
    uint8_t *buf;                /* assembled records spanning pages */
    size_t cap;
    int done;
    lv_walrec_status status;     /* what ended the reading (after a call returned non-OK) */
    char why[160];
} lv_walrec_reader;

/* Start reading data[0..len), which must begin with a segment's long page header. LV_OK, or
 * LV_ERR_CORRUPT naming what is wrong with that header. */
int lv_walrec_init(lv_walrec_reader *r, const void *data, size_t len);
/* Start reading data[0..len), which begins at base, a page boundary inside the segment whose long header
 * is h (the pages from there to its end, then the next segment's: wal/segscan.c keeps no more of a segment
 * to read the record it ends with), at the record start `at` (a reader of the whole segment stopped there,
 * LV_WALREC_CUT: its `pos`), prev being the record before it (that reader's `prev`; 0: unchecked). */
void lv_walrec_init_at(lv_walrec_reader *r, const lv_wal_header *h, const void *data, size_t len, uint64_t base,
                       uint64_t at, uint64_t prev);
/* The next record (LV_WALREC_OK), or why there is none; the same status once more on every later call. */
lv_walrec_status lv_walrec_next(lv_walrec_reader *r, lv_walrec *rec);
void lv_walrec_free(lv_walrec_reader *r);
/* After LV_WALREC_CUT: may the record continued past the data be a commit or abort? 1 when its header
 * says so (rm 1, a commit/abort opcode) or is itself cut; else 0 (also when the reading did not end cut). */
int lv_walrec_cut_xact(const lv_walrec_reader *r);

/* After LV_WALREC_CUT: the first bytes of the record continued past the data (at most cap, across the
 * pages that continue it inside the data), unchecked (no CRC: only its end is missing). 0 otherwise. */
size_t lv_walrec_cut_head(const lv_walrec_reader *r, uint8_t *buf, size_t cap);

/* The continuation a segment starts with (data[0..len) begins with the segment's long page header): when
 * its first page continues a record of the previous segment (XLP_FIRST_IS_CONTRECORD, xlp_rem_len > 0),
 * the first bytes of that record's rest (at most cap, across the pages that continue it), with *rem =
 * xlp_rem_len (all of the rest, of which the return value is the part copied); 0 with *rem = 0 when the
 * segment starts with a record. *overwrite: the first page says that the record the previous segment ended
 * with was abandoned (XLP_FIRST_IS_OVERWRITE_CONTRECORD: a crash; it is not part of the WAL). Unchecked: the
 * CRC covers the whole record, which only the two segments together hold. */
size_t lv_walrec_lead(const uint8_t *data, size_t len, uint8_t *buf, size_t cap, uint32_t *rem, int *overwrite);

/* The first n bytes of a record (header included) whose rest is elsewhere (cut by a segment's end): fills
 * rec's header fields and block references (rec->main is NULL) and returns 1 when every block header is
 * within them; 0 when some is not, -1 when the bytes are not a well-formed record's start. */
int lv_walrec_head_blocks(int pg_version, const uint8_t *head, size_t n, lv_walrec *rec);

/* A whole record from its bytes (bytes[0..len), its header's length must be len; two segments' parts put
 * together), read as lv_walrec_next reads one: CRC and fragment headers checked. 0, or -1 when it is not a
 * valid record. rec points into bytes. */
int lv_walrec_from_bytes(int pg_version, const uint8_t *bytes, size_t len, uint64_t lsn, lv_walrec *rec);

/* CRC-32C (Castagnoli): crc = lv_crc32c(~0u, ...) ... ^ ~0u, as PostgreSQL's pg_crc32c. */
uint32_t lv_crc32c(uint32_t crc, const void *data, size_t len);
/* The same with tables (slicing-by-8), what lv_crc32c uses without the SSE 4.2 instruction. */
uint32_t lv_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* ---- decoding what a backup tool needs ----------------------------------------------------- */

typedef struct lv_wal_rfn {
    uint32_t spc, db, rel;       /* tablespace, database (0: shared), relfilenode */
} lv_wal_rfn;

typedef enum lv_wal_event_kind {
    LV_WEV_NONE = 0,             /* a record of no interest here */
    LV_WEV_COMMIT,               /* XLOG_XACT_COMMIT / COMMIT_PREPARED */
    LV_WEV_ABORT,                /* XLOG_XACT_ABORT / ABORT_PREPARED */
    LV_WEV_RESTORE_POINT,        /* XLOG_RESTORE_POINT */
    LV_WEV_TRUNCATE,             /* XLOG_SMGR_TRUNCATE */
    LV_WEV_DB_DROP,              /* XLOG_DBASE_DROP: the directory goes when this is replayed */
    LV_WEV_CREATE,               /* XLOG_SMGR_CREATE: a new relation file (TRUNCATE and rewrites make
                                    one in the transaction that drops the old file) */
    LV_WEV_DB_INVALIDATE,        /* Heap INPLACE on pg_database (1664/0/1262): DROP DATABASE's first
                                    step (wal-format.md section 11), or VACUUM updating a database's
                                    datfrozenxid; blkno/offnum say which row */
    LV_WEV_HEAP,                 /* a heap record that inserts, updates or deletes rows (heap_op) */
    LV_WEV_PREPARE,              /* XLOG_XACT_PREPARE: PREPARE TRANSACTION (xid, dbid, time, gid) */
    LV_WEV_ASSIGNMENT,           /* XLOG_XACT_ASSIGNMENT: xid is the top-level transaction of the
                                    subxacts (logged every 64 subtransactions) */
    LV_WEV_DB_CREATE,            /* XLOG_DBASE_CREATE (13-14), CREATE_FILE_COPY and CREATE_WAL_LOG (15+): a
                                    database directory made (dbid in tablespace tsid), by a copy of the
                                    template's files (FILE_COPY: nothing else in the WAL names them) or, for
                                    WAL_LOG, followed by the WAL of every file; ALTER DATABASE ... SET
                                    TABLESPACE logs a FILE_COPY too */
    LV_WEV_PARAMS                /* XLOG_PARAMETER_CHANGE: flags = the wal_level now (0 minimal, 1 replica,
                                    2 logical); logged at a start with settings changed */
} lv_wal_event_kind;

typedef enum lv_wal_heap_op {
    LV_HEAP_INSERT = 1,          /* Heap INSERT (rows 1), Heap2 MULTI_INSERT (rows = its tuples) */
    LV_HEAP_UPDATE,              /* Heap UPDATE and HOT_UPDATE (rows 1) */
    LV_HEAP_DELETE               /* Heap DELETE (rows 1); a speculative insertion's "super delete" and the
                                    delete half of a row moved to another partition are not reported */
} lv_wal_heap_op;

typedef struct lv_wal_event {
    lv_wal_event_kind kind;
    int prepared;                /* COMMIT_PREPARED / ABORT_PREPARED */
    int64_t time_us;             /* commit/abort/restore point/prepare: unix microseconds */
    uint32_t xid;                /* commit/abort: the transaction (the prepared xid for *_PREPARED);
                                    assignment: the top-level transaction; others: xl_xid */
    uint32_t dbid, tsid;         /* commit/abort with database info (0 when absent); DB_DROP: the
                                    database; DB_CREATE: the database and its tablespace; PREPARE: its
                                    database; DB_INVALIDATE: 0 */
    uint32_t nsubxacts;
    const uint8_t *subxacts;     /* commit/abort/assignment: nsubxacts * 4 bytes (lv_wal_event_subxact) */
    uint32_t nrels;              /* commit/abort: relfilenodes unlinked at replay; DB_DROP: tablespaces */
    const uint8_t *rels;         /* nrels * 12 bytes (commit/abort) or nrels * 4 (DB_DROP): see below */
    lv_wal_rfn rfn;              /* TRUNCATE, CREATE, HEAP: the relation; DB_INVALIDATE: pg_database */
    lv_wal_heap_op heap_op;      /* HEAP */
    uint32_t rows;               /* HEAP: rows inserted, updated or deleted by the record */
    uint16_t offnum;             /* HEAP (DELETE), DB_INVALIDATE: the row's line pointer; blkno its page */
    const char *gid;             /* PREPARE: the GID (NUL-terminated, points into the record) */
    int32_t fork;                /* CREATE: the fork (0 main) */
    uint32_t blkno, flags;       /* TRUNCATE: new length in blocks, SMGR_TRUNCATE_* flags; HEAP,
                                    DB_INVALIDATE: the page (block 0 of the record) */
    char name[64];               /* RESTORE_POINT: the name */
} lv_wal_event;

/* Decode rec (read by r). LV_OK with ev->kind (LV_WEV_NONE for other records), or LV_ERR_CORRUPT when a
 * record of interest has malformed main data (its CRC was right, so this is not expected of real WAL). */
int lv_wal_event_decode(const lv_walrec_reader *r, const lv_walrec *rec, lv_wal_event *ev);
/* The i-th dropped relfilenode of a commit/abort event. */
lv_wal_rfn lv_wal_event_rel(const lv_wal_event *ev, uint32_t i);
/* The i-th subtransaction xid of a commit/abort/assignment event. */
uint32_t lv_wal_event_subxact(const lv_wal_event *ev, uint32_t i);

/* What a record does to the number of live rows of the relation of its block 0 once its transaction
 * commits: the row counts an incremental derives from the WAL (backup/pg_rowwal.h). Opcodes as for
 * lv_wal_event_decode, the same in 13-18.
 *   LV_ROWS_NONE     no row becomes visible or invisible: Heap UPDATE and HOT_UPDATE (the old and the new
 *                    version are in the same relation), CONFIRM, LOCK, INPLACE; every Heap2 record but
 *                    MULTI_INSERT (prune, vacuum, freeze, visible, lock, new cid, rewrite); XLOG_FPI_FOR_HINT
 *                    (hint bits); and every record that references no main-fork page;
 *   LV_ROWS_DELTA    *delta rows: Heap INSERT +1, Heap2 MULTI_INSERT +ntuples, Heap DELETE -1 (a speculative
 *                    insertion's "super delete" and the delete half of a row moved to another partition
 *                    too: their insertions were counted);
 *   LV_ROWS_UNKNOWN  any other record that references a main-fork page (a full-page image XLOG_FPI, Heap
 *                    TRUNCATE, another resource manager's record): what it did to rows cannot be told;
 *                    also a DELETE or MULTI_INSERT too short to read. */
typedef enum lv_wal_rows_kind { LV_ROWS_NONE = 0, LV_ROWS_DELTA, LV_ROWS_UNKNOWN } lv_wal_rows_kind;
lv_wal_rows_kind lv_wal_rows_effect(const lv_walrec *rec, int32_t *delta);

/* TimestampTz (microseconds since 2000-01-01 UTC) to unix microseconds. */
#define LV_PG_EPOCH_US INT64_C(946684800000000)

#endif
