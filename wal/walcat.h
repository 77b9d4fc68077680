/* The WAL archive's tables in the local catalog (schema: migration 2 in catalog/catalog.c).
 *
 * wal_files is an index of wal/ in the repository: `wal push` records every file it made durable, so
 * `wal status` can say when the last one arrived. The repository listing stays the truth (`wal list`
 * and `wal fetch` never need the catalog). wal_failures is a local journal: failed pushes and fetches
 * and segments dropped by archive-queue-max (failures beyond the newest 1000 are trimmed; drops are
 * kept, as each is a hole in the archive).
 *
 * Same threading rule as the catalog: one lv_catalog per thread. Every function returns an lv_code;
 * SQLite failures are LV_ERR_IO naming the catalog file. */
#ifndef LV_WAL_WALCAT_H
#define LV_WAL_WALCAT_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "wal/archive.h"

/* One archived file as the catalog records it. */
typedef struct lv_wal_row {
    const lv_wal_object *obj;
    uint64_t size;          /* plaintext bytes */
    int64_t pushed;         /* unix seconds */
    uint64_t begin_lsn, end_lsn; /* segments only; 0 when not applicable */
    int times_known;        /* the segment's records were scanned (wal push) */
    int64_t begin_time, end_time; /* unix seconds of its first and last commit/abort record */
} lv_wal_row;

/* wal_files.begin_time / end_time: NULL = not known (not scanned: a rebuilt catalog, a .history file);
 * both 0 = scanned, the segment holds no commit or abort record; both -1 = its only commit/abort record
 * continues into the next segment (time unknown until both are read); else the unix seconds of the first
 * and last commit/abort record that starts and ends in the segment (one continued into the next segment
 * is in neither's times: wal/range.c reads the two joined). wal/range.c reads them back with lv_walcat_times. */

int lv_walcat_add(lv_catalog *c, const lv_wal_row *row);

/* The time columns of a file: LV_OK with *known = 0 when they are NULL; LV_ERR_NOT_FOUND when the
 * catalog has no row for it. */
int lv_walcat_times(lv_catalog *c, const char *name, int *known, int64_t *begin_time, int64_t *end_time);

/* Register the catalog-rebuild step that refills wal_files from the repository's wal/ listing (called
 * once at startup, cli/register.c). */
void lv_walcat_register(void);

/* Journal a failure (op: "push", "fetch", "drop", "check"); name may be "". */
int lv_walcat_failure(lv_catalog *c, const char *op, const char *name, int code, const char *message);

/* When a file was pushed: LV_ERR_NOT_FOUND if the catalog does not know it. */
int lv_walcat_pushed(lv_catalog *c, const char *name, int64_t *pushed);

/* Recent journal entries, newest first (op NULL = all ops). */
typedef struct lv_wal_failure {
    int64_t time;
    const char *op, *name, *message; /* valid during the callback */
    int code;
} lv_wal_failure;
int lv_walcat_failures(lv_catalog *c, const char *op, int limit,
                       int (*cb)(void *arg, const lv_wal_failure *f), void *arg);
int64_t lv_walcat_failure_count(lv_catalog *c, const char *op);

#endif
