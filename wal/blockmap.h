/* The block map of one WAL segment: which blocks of which relation forks its records change, which forks it
 * creates, truncates or drops and which database directories it creates or drops (docs/pg-backups.md, "The
 * block map", is the table of rules with their reasons and tests; docs/wal-format.md section 16 the format).
 * `wal push` makes it while it scans the segment for its summary (wal/summary.h), stores it beside the
 * segment (wal/walmap.h) and in the catalog (catalog/walmap.h); an incremental `backup pg` merges the maps
 * from the previous backup's start to its own (wal/blockset.h) and reads only what they name.
 *
 * The rules, learnt from PostgreSQL's WAL summarizer (walsummarizer.c, blkreftable.c; read, not copied):
 *   - every block reference of every record names that block (fork main, visibility map or init), the FSM
 *     fork excepted (not fully WAL-logged: backups store it whole);
 *   - SMGR_CREATE of a fork (not the FSM): every block of it is new (limit 0);
 *   - SMGR_TRUNCATE: blocks from the new length on, of the main fork (SMGR_TRUNCATE_HEAP) and of the
 *     visibility map (SMGR_TRUNCATE_VM), are gone (limit = the length);
 *   - a commit or abort that drops relation files (COMMIT/ABORT and their _PREPARED forms): limit 0 for the
 *     main, visibility map and init forks of each;
 *   - DBASE_CREATE (13-14), CREATE_FILE_COPY and CREATE_WAL_LOG (15+), DBASE_DROP: the whole database
 *     directory (tablespace, database) is new: FILE_COPY copies the template's files without naming them;
 *   - XLOG_PARAMETER_CHANGE to wal_level = minimal: the WAL stops naming every change (COPY into a new
 *     relation skips it), so the map is marked unsafe and no incremental uses it.
 * What the WAL never names (hint bits without checksums, pages an extension added without WAL) is the
 * reader's part (docs/pg-backups.md, "The block map": the map-driven incremental is still to come).
 *
 * Records split by the segment's end: the record the segment ends with is usually decoded here from its
 * first bytes (its block headers come first); when they are not all here, or the record is one whose main
 * data matters (transaction, storage, database, parameter records), its bytes here (`cut`, up to
 * LV_BLKMAP_EDGE) are kept, and the next segment's map keeps the first bytes of its continuation (`lead`),
 * so lv_blkmap_join can read it from the two maps. A record whose start is in the previous segment is that
 * segment's.
 *
 * Format version LV_BLKMAP_FORMAT: a map of another version is not used (the backup falls back to reading
 * every page) since its rules may differ. Pure functions of the bytes; the parser is strict and fuzzed
 * (tests/fuzz/fuzz_blockmap.c). */
#ifndef LV_WAL_BLOCKMAP_H
#define LV_WAL_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "wal/records.h"

#define LV_BLKMAP_FORMAT 1
#define LV_BLKMAP_NONE UINT32_MAX /* no limit */
#define LV_BLKMAP_EDGE 16384      /* bytes kept of a record split by a segment boundary, on each side */

typedef struct lv_blkmap_run {
    uint32_t first, count;      /* blocks [first, first + count), count >= 1 */
} lv_blkmap_run;

typedef struct lv_blkmap_fork {
    uint32_t spc, db, rel;      /* tablespace, database (0: shared), relfilenode */
    uint8_t fork;               /* 0 main, 2 visibility map, 3 init (never 1, the FSM) */
    uint32_t limit;             /* LV_BLKMAP_NONE, or every block from this one on is new or gone */
    lv_blkmap_run *runs;        /* the blocks named, in sorted runs, neither overlapping nor adjacent */
    uint32_t nruns;
    uint64_t nblocks;           /* their sum */
} lv_blkmap_fork;

typedef struct lv_blkmap_db {
    uint32_t spc, db;           /* a database directory created or dropped: all of it is new */
} lv_blkmap_db;

enum {
    LV_BLKMAP_CUT_NONE = 0,     /* the last record ends in the segment */
    LV_BLKMAP_CUT_DONE,         /* it continues into the next one, and what it changes is in this map */
    LV_BLKMAP_CUT_BYTES         /* it continues, and only its bytes here (cut) say what it changes */
};

typedef struct lv_blkmap {
    uint32_t format;            /* LV_BLKMAP_FORMAT when made; as parsed otherwise */
    int pg_version;             /* the WAL's major version */
    uint32_t tli, seg_size;
    uint64_t begin_lsn;         /* the segment's start */
    uint64_t end_lsn;           /* every record that starts before this is in the map */
    int complete;               /* end_lsn is the segment's end: the valid WAL goes on to it (or to an
                                   XLOG_SWITCH); 0 when it stopped early (or at the scan's limit) */
    int unsafe;                 /* wal_level went to minimal: not to be used */
    uint64_t records, blockrefs;
    char checksum[65];          /* the archived segment's checksum (wal/archive.h), "" for a local scan */
    lv_blkmap_db *dbs;
    uint32_t ndbs;
    lv_blkmap_fork *forks;      /* sorted by (spc, db, rel, fork) */
    uint32_t nforks;
    int cut;                    /* LV_BLKMAP_CUT_* */
    uint64_t cut_lsn;           /* the split record's start */
    uint8_t *cut_bytes;         /* CUT_BYTES: its first bytes */
    uint32_t ncut;
    int cut_all;                /* cut_bytes are all of the record this segment holds */
    uint32_t lead_rem;          /* the segment starts with the rest (this many bytes) of the previous
                                   segment's last record; 0 when it starts with a record */
    uint8_t *lead;              /* the first bytes of that rest */
    uint32_t nlead;
    int overwrite;              /* the first page says the previous segment's last record was abandoned */
} lv_blkmap;

/* Map the records of one segment, data[0..len) from its long page header, that start before `upto` (the
 * segment's end and beyond: UINT64_MAX). A scan that reaches upto, or the end of the segment's valid WAL
 * on a segment boundary, is complete up to there (end_lsn). LV_OK (the end of valid WAL ends the map: it
 * never fails on WAL content), or LV_ERR_CORRUPT when data does not start with a long page header. */
int lv_blkmap_scan(const uint8_t *data, size_t len, uint64_t upto, lv_blkmap *out);

/* The same, fed record by record by a scan that reads the segment for other purposes as well
 * (wal/summary.h): begin with the reader made for data, each record read, then finish with the reader as
 * the reading left it. */
typedef struct lv_blkmap_builder lv_blkmap_builder;
lv_blkmap_builder *lv_blkmap_builder_new(const lv_walrec_reader *rd, const uint8_t *data, size_t len);
void lv_blkmap_builder_record(lv_blkmap_builder *b, const lv_walrec_reader *rd, const lv_walrec *rec);
void lv_blkmap_builder_finish(lv_blkmap_builder *b, const lv_walrec_reader *rd, lv_blkmap *out);

void lv_blkmap_free(lv_blkmap *m);

/* The record split between segment a and the one after it, b (a's cut, b's lead), as a map of its own in
 * *out (lv_blkmap_free it): LV_OK (an empty map when there is nothing to read from them: a's last record is
 * a's, or was abandoned), or LV_ERR_INCOMPLETE naming the record when the two maps do not tell what it
 * changes (a record of more than LV_BLKMAP_EDGE bytes each side whose main data matters). */
int lv_blkmap_join(const lv_blkmap *a, const lv_blkmap *b, lv_blkmap *out);

/* Binary encoding (little-endian; docs/wal-format.md 16): "LVBM" || format u8 || flags u8 (1 complete, 2
 * unsafe, 4 overwrite, 8 cut_all) || pg_version u8 || cut u8 || tli u32 || seg_size u32 || begin_lsn u64 ||
 * end_lsn u64 || records u64 || blockrefs u64 || checksum_len u8 (0 or 64) || checksum || ndbs u32 ||
 * {spc u32 || db u32} || nforks u32 || {spc u32 || db u32 || rel u32 || fork u8 || limit u32 || nblocks u64
 * || nruns u32 || runs: {gap uleb128 || count-1 uleb128}} || cut_lsn u64 || ncut u32 || cut bytes ||
 * lead_rem u32 || nlead u32 || lead bytes, and nothing after. A run's gap is counted from the end of the
 * previous run (from 0 for the first). */
void lv_blkmap_encode(const lv_blkmap *m, lv_buf *out);
/* Strict: LV_ERR_CORRUPT unless the layout is exact (magic, known flags and fork numbers, forks sorted and
 * distinct, runs sorted, not adjacent, within 32-bit block numbers and adding up to nblocks, edges within LV_BLKMAP_EDGE, counts
 * bounded by the input before anything is allocated). Any format number parses; the caller decides. On
 * failure *m is zeroed. */
int lv_blkmap_parse(const uint8_t *buf, size_t len, lv_blkmap *m);

/* Index of the fork in m->forks, or -1. */
long lv_blkmap_find(const lv_blkmap *m, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork);

#endif
