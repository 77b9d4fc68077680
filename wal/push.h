/* Pushing one WAL file to the repository: the work behind `wal push` (PostgreSQL's archive_command),
 * shared by the synchronous command and the asynchronous worker's threads.
 *
 * lv_wal_push_file(p, path): read the file; for a segment or .partial check its long page header
 * (wal/segment.h: magic, flags, size, the page address its name implies) and its cluster against the
 * repository's stanza (wal/stanza.h; the first push creates it); then, side by side, checksum the
 * plaintext, seal it, and look the name up (wal/archive.h). Same checksum already archived: LV_OK, out->existed = 1, nothing written.
 * A segment's records are scanned at the same time for its summary (wal/summary.h: commit times, xid range,
 * restore points, prepared transactions, bulk row changes; a few milliseconds; the end of valid WAL ends the
 * scan, it never fails a push) and its block map (wal/blockmap.h), which is stored once the segment is
 * durable (or was there already), as walmap/<name> (wal/walmap.h). A map that cannot be stored is a
 * warning, never a failed push: an incremental over that segment reads every page instead.
 * Another checksum: LV_ERR_CONFLICT, nothing written (never an overwrite; .history files included).
 * Otherwise compress, seal and put create-only; LV_OK only once the store says the object is durable.
 * After storing a segment whose number is a multiple of 16, the stale temporaries killed pushes left in
 * its timeline's directory are removed (repo/tidy.h).
 * lv_wal_push_file does not touch the catalog (one connection per thread): the caller records out with
 * lv_wal_pushed_record; lv_wal_push_one is the whole synchronous sequence.
 *
 * Errors: LV_ERR_USAGE (not a WAL file name), LV_ERR_IO (cannot read the file), LV_ERR_CORRUPT (bad
 * header, size or name), LV_ERR_CONFLICT (other cluster, other content), and the store's codes.
 * Threads: one lv_wal_pusher may serve several threads at once. */
#ifndef LV_WAL_PUSH_H
#define LV_WAL_PUSH_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "catalog/catalog.h"
#include "repo/repo.h"
#include "wal/archive.h"
#include "wal/stanza.h"
#include "wal/summary.h"

typedef struct lv_wal_pusher {
    lv_repo *repo;               /* borrowed */
    int threads_per_file;        /* 3 (seal, checksum and lookup side by side); 1 when files already
                                    run in parallel (the async worker) */
    pthread_mutex_t mu;          /* guards the stanza fields */
    int stanza_known, stanza_learned;
    lv_wal_stanza stanza;
} lv_wal_pusher;

/* The identity of the source file when it was read, so a later call can tell it is the same file. */
typedef struct lv_wal_source {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} lv_wal_source;

typedef struct lv_wal_pushed {
    lv_wal_object obj;
    uint64_t size;               /* plaintext bytes */
    uint64_t begin_lsn, end_lsn; /* segments and partials; 0 otherwise */
    int existed;                 /* already archived with the same content: nothing was written */
    int times_known;             /* segments and partials: the record scan ran (wal/summary.h) */
    int64_t begin_time, end_time; /* unix seconds of the first and last commit/abort record in the
                                    file; 0 when it has none; -1 when its only one continues into the
                                    next segment (wal/walcat.h) */
    lv_walsum summary;           /* segments (times_known): the whole summary, for lv_walcat_add
                                    (lv_wal_pushed_free releases it) */
    lv_buf map;                  /* segments: the block map (wal/blockmap.h), encoded, once stored beside
                                    the segment (walmap/<name>); empty when it could not be stored */
    lv_wal_source src;
} lv_wal_pushed;

/* cat (may be NULL) seeds the stanza from the catalog's cache so that a warm push needs no GET. */
void lv_wal_pusher_init(lv_wal_pusher *p, lv_repo *r, lv_catalog *cat);
/* Store the stanza in the catalog's cache if this pusher learned it from the repository. */
void lv_wal_pusher_save(lv_wal_pusher *p, lv_catalog *cat);
void lv_wal_pusher_free(lv_wal_pusher *p);

int lv_wal_push_file(lv_wal_pusher *p, const char *path, lv_wal_pushed *out);
void lv_wal_pushed_free(lv_wal_pushed *out);

/* Record a pushed file in the catalog (pushed: unix seconds), with its block map when it has one, as `wal
 * push` does after every push, the synchronous command and the async worker alike (the worker brackets a
 * batch in one transaction). */
int lv_wal_pushed_record(lv_catalog *cat, const lv_wal_pushed *res, int64_t pushed);

/* The synchronous `wal push` of one file: push it (the stanza seeded from and learned into cat's cache),
 * then record it in cat. A failure to record after the object is durable says so ("WAL file X is
 * archived, but ..."), with the catalog's code. */
int lv_wal_push_one(lv_repo *r, lv_catalog *cat, const char *path, lv_wal_pushed *out);

/* A WAL file mapped read-only (at most 1 GiB), with the identity it had when opened. Mapping instead of
 * reading into a fresh buffer spares copying 16 MiB and faulting in as many zeroed pages, which was a
 * sixth of a push's time; PostgreSQL never changes a file it handed to archive_command. */
typedef struct lv_wal_map {
    const uint8_t *data;
    size_t len;
    lv_wal_source src;
} lv_wal_map;
int lv_wal_map_open(const char *path, lv_wal_map *m);
void lv_wal_map_close(lv_wal_map *m);

/* The file name part of a path. */
const char *lv_wal_basename(const char *path);

#endif
