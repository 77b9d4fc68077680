/* prune's work database: the repository's packs, their entries and the referenced blobs, on disk (a
 * temporary SQLite file beside the catalog), so prune's memory does not grow with the repository. It is
 * not the catalog, but it lives in catalog/ because SQLite does (tests/layers.py).
 *
 * Tables: packs (every pack in data/, whether an index lists it), entries (what each pack holds: from
 * the index objects, or from the pack's own header when no index lists it), refs (every blob some
 * manifest references), home (for each referenced blob, the one entry that keeps it).
 *
 * lv_prunedb_plan chooses homes and classes:
 *   home     among the entries of a referenced blob in packs that exist, prefer an indexed pack, then the
 *            pack with the most referenced bytes (so duplicates left by two writers or a crashed prune
 *            concentrate in the fullest packs), then the smallest pack id (deterministic);
 *   class    DELETE: no home entry (every blob in it is unreferenced or kept elsewhere);
 *            REPACK: home entries, but the other entries are more than max_unused of its entries' bytes;
 *            KEEP:   the rest.
 * Packs written by prune itself (lv_prunedb_add_pack with klass NEW) take part in the deletion step's
 * checks, not in the plan. */
#ifndef LV_CATALOG_PRUNEDB_H
#define LV_CATALOG_PRUNEDB_H

#include <stddef.h>
#include <stdint.h>


typedef struct lv_prunedb lv_prunedb;

/* One blob in a pack, as its header (and an index object) lists it (repo/pack.h's lv_pack_entry). */
typedef struct lv_prune_entry {
    uint8_t type;
    uint8_t id[32];
    uint64_t offset;
    uint32_t length;      /* sealed bytes */
    uint32_t raw_length;  /* plaintext bytes */
} lv_prune_entry;

enum { LV_PRUNE_KEEP = 0, LV_PRUNE_REPACK = 1, LV_PRUNE_DELETE = 2, LV_PRUNE_NEW = 3, LV_PRUNE_RESCUED = 4 };

/* Create a new, empty work database at path (an existing file there is replaced); removed on close. */
int lv_prunedb_open(const char *path, lv_prunedb **out);
void lv_prunedb_close(lv_prunedb *d);
int lv_prunedb_begin(lv_prunedb *d);
int lv_prunedb_commit(lv_prunedb *d);

/* A pack: indexed (an index object lists it; then its entries come from there) and its class. */
int lv_prunedb_add_pack(lv_prunedb *d, const uint8_t id[32], uint64_t size, int indexed, int klass);
int lv_prunedb_add_entry(lv_prunedb *d, const uint8_t pack[32], const lv_prune_entry *e);
/* kinds: a bit per kind of manifest that references the blob (for repo stats: what each kind takes). */
int lv_prunedb_add_ref(lv_prunedb *d, const uint8_t blob[32], unsigned kinds);

typedef struct lv_prune_plan_stats {
    uint64_t packs, pack_bytes;             /* in data/ */
    uint64_t blobs, refs, refs_missing;     /* distinct blobs stored; referenced; referenced but in no pack */
    uint64_t used_bytes, unused_bytes;      /* sealed bytes of home entries / of the others */
    uint64_t keep, keep_bytes, repack, repack_bytes, del, del_bytes; /* packs by class, with their sizes */
    uint64_t repack_used_bytes;             /* what repacking copies */
} lv_prune_plan_stats;

/* max_unused: 0..1 (a share of a pack's entries' bytes). */
int lv_prunedb_plan(lv_prunedb *d, double max_unused, lv_prune_plan_stats *st);

typedef struct lv_prune_pack {
    uint8_t id[32];
    uint64_t size;
    int indexed, klass;
} lv_prune_pack;
/* Packs of one class (or -1: all), in id order. */
int lv_prunedb_packs(lv_prunedb *d, int klass, int (*cb)(void *arg, const lv_prune_pack *p), void *arg);
/* Entries of a pack in offset order; home_only: only its home entries. */
int lv_prunedb_entries(lv_prunedb *d, const uint8_t pack[32], int home_only,
                       int (*cb)(void *arg, const lv_prune_entry *e), void *arg);
int lv_prunedb_set_class(lv_prunedb *d, const uint8_t pack[32], int klass);
/* Is the pack known, and its class (LV_ERR_NOT_FOUND when unknown)? */
int lv_prunedb_class(lv_prunedb *d, const uint8_t pack[32], int *klass);
/* For a blob a later manifest references: 1 when some KEEP, REPACK-copied (NEW) or RESCUED pack holds
 * it; else 0 and, when a DELETE pack holds it, that pack's id in pack_out (*found 1). */
int lv_prunedb_blob_safe(lv_prunedb *d, const uint8_t blob[32], int *safe, int *found,
                         uint8_t pack_out[32]);
/* What the blobs referenced by kinds (a mask) take at their homes: count, plaintext and sealed bytes. */
int lv_prunedb_kind_stats(lv_prunedb *d, unsigned kinds, uint64_t *blobs, uint64_t *raw, uint64_t *sealed);
/* Referenced blobs with no entry in any existing pack (the repository is damaged: repo check). */
int lv_prunedb_missing_refs(lv_prunedb *d, int (*cb)(void *arg, const uint8_t blob[32]), void *arg);

#endif
