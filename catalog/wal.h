/* The WAL archive in the catalog (schema: migration 2).
 *
 * wal_files is an index of wal/ in the repository: `wal push` records every file it made durable, so
 * `wal status` can say when the last one arrived and a restore can read commit times without a download.
 * The repository listing stays the truth (`wal list` and `wal fetch` never need the catalog); `catalog
 * rebuild` refills it (wal/walcat.h). wal_failures is a local journal: failed pushes and fetches and
 * segments dropped by archive-queue-max (failures beyond the newest 1000 are trimmed; drops are kept, as
 * each is a hole in the archive).
 *
 * begin_time / end_time: NULL = not known (not scanned: a rebuilt catalog, a .history file); both 0 =
 * scanned, the segment holds no commit or abort record; both -1 = its only commit/abort record continues
 * into the next segment (time unknown until both are read); else the unix seconds of the first and last
 * commit/abort record that starts and ends in the segment. The same threading and error rules as
 * catalog/catalog.h. */
#ifndef LV_CATALOG_WAL_H
#define LV_CATALOG_WAL_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "catalog/walsum.h"

/* One archived file as the catalog records it. */
typedef struct lv_catalog_wal_file {
    const char *name;             /* PostgreSQL's file name: the key of the row */
    uint32_t timeline;
    const char *kind;             /* "segment", "partial", "history", "backup" */
    const char *key;              /* the object's key in the repository */
    const char *checksum;
    uint64_t size, stored_size;   /* plaintext bytes; sealed bytes */
    int64_t pushed;               /* unix seconds; -1 unknown (rebuilt) */
    uint64_t begin_lsn, end_lsn;  /* segments only; end_lsn 0: not applicable */
    int times_known;
    int64_t begin_time, end_time;
    const lv_walsum *summary;     /* segments scanned by wal push: the whole summary (catalog/walsum.h),
                                     recorded with the row; NULL: none */
} lv_catalog_wal_file;

/* Record a file (replacing a row of the same name: a name has one content in the repository). */
int lv_catalog_wal_add(lv_catalog *c, const lv_catalog_wal_file *f);
/* The time columns of a file: LV_OK with *known = 0 when they are NULL; LV_ERR_NOT_FOUND when the
 * catalog has no row for it. */
int lv_catalog_wal_times(lv_catalog *c, const char *name, int *known, int64_t *begin_time, int64_t *end_time);
/* When a file was pushed: LV_ERR_NOT_FOUND if the catalog does not know it. */
int lv_catalog_wal_pushed(lv_catalog *c, const char *name, int64_t *pushed);
/* The archive as the catalog knows it: files, their stored bytes, the newest pushed file and when (name
 * "" and time -1 when none is known). For status and metrics. */
typedef struct lv_catalog_wal_summary {
    uint64_t files, stored_bytes;
    char last_name[64];
    int64_t last_pushed;
} lv_catalog_wal_summary;
int lv_catalog_wal_summary_get(lv_catalog *c, lv_catalog_wal_summary *s);

/* Every file recorded, in key order: its object key and stored size (repo check). */
int lv_catalog_wal_each(lv_catalog *c, int (*cb)(void *arg, const char *key, uint64_t stored_size), void *arg);
/* The newest push time of any file (0 when none). */
int lv_catalog_wal_last_pushed(lv_catalog *c, int64_t *pushed);

/* The names a listing of wal/ saw, to forget the rows of the files that are gone (catalog sync): begin,
 * add every listed name, end (forget: delete the rows of names not added, *removed counts them; 0: only
 * clean up). end frees s whatever happens. */
typedef struct lv_catalog_wal_seen lv_catalog_wal_seen;
int lv_catalog_wal_seen_begin(lv_catalog *c, lv_catalog_wal_seen **out);
int lv_catalog_wal_seen_add(lv_catalog_wal_seen *s, const char *name);
int lv_catalog_wal_seen_end(lv_catalog_wal_seen *s, int forget, int64_t *removed);

/* Journal a failure (op: "push", "fetch", "drop", "check"); name may be "". */
int lv_catalog_wal_failure_add(lv_catalog *c, const char *op, const char *name, int code, const char *message);
/* Recent journal entries, newest first (op NULL = all ops). */
typedef struct lv_wal_failure {
    int64_t time;
    const char *op, *name, *message; /* valid during the callback */
    int code;
} lv_wal_failure;
int lv_catalog_wal_failures(lv_catalog *c, const char *op, int limit,
                            int (*cb)(void *arg, const lv_wal_failure *f), void *arg);
int64_t lv_catalog_wal_failure_count(lv_catalog *c, const char *op);

#endif
