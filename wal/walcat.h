/* The WAL archive's side of the catalog (the tables: catalog/wal.h): a catalog row from an archived
 * object, and the catalog-rebuild and -sync steps that refill wal_files from the repository's wal/ listing.
 *
 * Same threading rule as the catalog: one lv_catalog per thread. */
#ifndef LV_WAL_WALCAT_H
#define LV_WAL_WALCAT_H

#include <stdint.h>

#include "catalog/wal.h"
#include "repo/repo.h"
#include "wal/archive.h"

/* One archived file as the catalog records it. */
typedef struct lv_wal_row {
    const lv_wal_object *obj;
    uint64_t size;          /* plaintext bytes */
    int64_t pushed;         /* unix seconds */
    uint64_t begin_lsn, end_lsn; /* segments only; 0 when not applicable */
    int times_known;        /* the segment's records were scanned (wal push) */
    int64_t begin_time, end_time; /* unix seconds of its first and last commit/abort record (catalog/wal.h) */
    const lv_walsum *summary; /* segments scanned by wal push: the whole summary (wal/summary.h), recorded
                                 with the row (its times are begin_time/end_time above); NULL: none */
} lv_wal_row;

int lv_walcat_add(lv_catalog *c, const lv_wal_row *row);

/* Journal the failure rc (its message is the current one) as op ("push", "fetch", "drop") of file name in
 * cat (NULL: nowhere); a journal that cannot be written is a warning. Returns rc with its message kept. */
int lv_walcat_journal(lv_catalog *cat, const char *op, const char *name, int rc);

/* Catalog rebuild: one row per listed file, from its key alone (name, timeline, kind, checksum, stored
 * size; a segment's LSN range and plaintext size from its name and the stanza). What only a push knew is
 * left unknown: pushed = -1, size 0 for .history/.backup files, times NULL (wal/range.c reads the
 * segments when it needs them). A damaged or lost stanza is counted in *damaged (the rows then have no
 * LSN ranges). lv_walcat_register registers it (repo/registry.h), once at startup. */
int lv_walcat_rebuild(lv_repo *r, uint64_t *damaged);
/* Catalog sync: add rows for files the catalog lacks (as a rebuild does), forget rows of files that are
 * gone from wal/ (expired by forget, here or on another host). */
int lv_walcat_sync(lv_repo *r);
/* Register both steps (repo/registry.h). */
void lv_walcat_register(void);

#endif
