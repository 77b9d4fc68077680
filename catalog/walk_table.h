/* A temporary table of the entries of a walk, kept in path order: what `backup files --from-tar` needs to
 * build trees children first, in name order, from an archive that lists its entries in any order, may
 * name one twice and may omit parent directories. Rows live in a private SQLite database on disk
 * (deleted when closed), so memory stays bounded whatever the archive's size; it has nothing to do with
 * the catalog file but shares its one SQLite home.
 *
 * A row: key (the path with its components joined by NUL bytes, so that key order is depth-first name
 * order) -> node (opaque bytes), synth (the caller's flag: a directory made up for a missing parent),
 * ino (the caller's inode number, equal for hardlinks). One thread. */
#ifndef LV_CATALOG_WALK_TABLE_H
#define LV_CATALOG_WALK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct lv_walk_table lv_walk_table;

typedef struct lv_walk_entry {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *node;
    size_t node_len;
    int synth;
    int64_t ino;
    int64_t links;     /* in lv_walk_table_each: how many rows share ino */
} lv_walk_entry;

/* what names the walk in messages ("tar FILE"); it must outlive the table. LV_ERR_IO on failure. */
int lv_walk_table_open(const char *what, lv_walk_table **out);
void lv_walk_table_close(lv_walk_table *t);

/* The row of key: *found = 0 when there is none; else its node copied into node, synth and ino. */
int lv_walk_table_get(lv_walk_table *t, const uint8_t *key, size_t key_len, lv_buf *node, int *synth,
                      int64_t *ino, int *found);
/* Insert or replace the row of e->key (e->links is not used). */
int lv_walk_table_put(lv_walk_table *t, const lv_walk_entry *e);
/* Every row in key order; the entry's pointers are valid during the callback. A non-zero return of cb
 * stops and is returned. */
int lv_walk_table_each(lv_walk_table *t, int (*cb)(void *arg, const lv_walk_entry *e), void *arg);

#endif
