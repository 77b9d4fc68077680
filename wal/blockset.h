/* The union of the block maps of a range of WAL (wal/blockmap.h): every block some record of the range
 * changes, per relation fork, with the lowest limit (created, truncated or dropped: every block from there
 * on) and the database directories created or dropped. What an incremental backup is to read
 * by (docs/pg-backups.md, "The block map").
 *
 * Memory follows the changed blocks, not the database: per fork, chunks of 65536 blocks (512 MiB of 8 KiB
 * pages), each a sorted array of 16-bit offsets until it holds 4096 of them, then an 8 KiB bitmap (the way
 * PostgreSQL's blkreftable.c keeps them). Not thread-safe to change; queries of a finished set may run on
 * any number of threads. */
#ifndef LV_WAL_BLOCKSET_H
#define LV_WAL_BLOCKSET_H

#include <stddef.h>
#include <stdint.h>

#include "wal/blockmap.h"

typedef struct lv_blkset lv_blkset;
typedef struct lv_blkset_fork lv_blkset_fork;

lv_blkset *lv_blkset_new(void);
void lv_blkset_free(lv_blkset *s);

/* Add everything map m names. */
void lv_blkset_add(lv_blkset *s, const lv_blkmap *m);

/* Was database directory (spc, db) created or dropped in the range? */
int lv_blkset_db_new(const lv_blkset *s, uint32_t spc, uint32_t db);
/* The fork's entry, NULL when no record of the range named it (nothing of it changed). */
const lv_blkset_fork *lv_blkset_fork_get(const lv_blkset *s, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork);
/* LV_BLKMAP_NONE, or the lowest block from which on everything is new or gone. */
uint32_t lv_blkset_limit(const lv_blkset_fork *f);
/* Is block blk named (at or past the limit counts too)? */
int lv_blkset_has(const lv_blkset_fork *f, uint32_t blk);

typedef struct lv_blkset_stats {
    uint64_t blocks;     /* distinct blocks named */
    uint64_t forks, dbs;
    uint64_t bytes;      /* memory the set holds */
} lv_blkset_stats;
void lv_blkset_get_stats(const lv_blkset *s, lv_blkset_stats *st);

#endif
