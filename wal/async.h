/* Asynchronous archiving: `wal push --async` (or archive-async = on).
 *
 * PostgreSQL calls archive_command once per file, serially, oldest first. In async mode:
 *
 * Foreground (lv_wal_async_push, PostgreSQL's call for file F): if the spool holds a record that F is
 * durable (wal/spool.h: same source path, device, inode, size and mtime as F now) and a HEAD finds its
 * object in the repository, return at once. Otherwise start the worker (unless one runs) and wait,
 * up to archive-timeout seconds, for the worker's record of F (success) or its error file for F (the
 * worker's code and message are returned). It needs no repository key: only the store.
 *
 * Worker (lv_wal_async_worker, the same command run again with --worker): one per spool (a lock).
 * It reads pg_wal/archive_status/<name>.ready files in PostgreSQL's order, skips files that already have a
 * record, and pushes the next ones (up to 4 x archive-push-workers at a time) in parallel on
 * archive-push-workers threads (wal/push.h); records them in the catalog, then writes their spool
 * records. A failure is written to F's error file and journalled in the catalog, and the worker
 * exits (the foreground's next call starts a new one, which retries). With nothing to do for a few
 * seconds it exits; it also stops when no archive_command call (foreground) came for 10 seconds, so
 * that after archive_command changes it never goes on pushing for a command no longer configured. It never renames or creates .ready/.done files; records whose .ready file is
 * gone (PostgreSQL marked them .done) are removed.
 *
 * Queue limit (archive-queue-max, 0 = off, the default): when the files waiting in archive_status add
 * up to more bytes than the limit, the oldest segments beyond it are dropped: recorded in the spool
 * as dropped (so archive_command returns 0 and PostgreSQL can recycle them), logged as an error, and
 * journalled in the catalog (op "drop"), which `wal status` reports and turns into exit code 9.
 * History files are never dropped. */
#ifndef LV_WAL_ASYNC_H
#define LV_WAL_ASYNC_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "repo/repo.h"
#include "store/store.h"

typedef struct lv_wal_async_opts {
    const char *spool_path;
    int workers;            /* archive-push-workers */
    uint64_t queue_max;     /* archive-queue-max in bytes; 0 = no limit */
    int timeout_s;          /* archive-timeout */
} lv_wal_async_opts;

int lv_wal_async_push(const lv_wal_async_opts *o, lv_store *s, const char *path);

/* Does PostgreSQL wait for this file (archive_status/<name>.ready next to it)? The worker only sees
 * such files, so a file without one (a push by hand) is pushed synchronously instead. */
int lv_wal_async_queued(const char *path);

/* Run the worker for the pg_wal directory of path (the file the foreground was called for). When
 * setup_rc is not LV_OK (the command could not open the repository or the catalog), record that
 * failure for path's file so the waiting foreground reports it (and in cat, when not NULL: the
 * command may pass a catalog opened without the repository binding then), and return it. */
int lv_wal_async_worker(const lv_wal_async_opts *o, lv_store *s, lv_repo *r, lv_catalog *cat,
                        const char *path, int setup_rc);

#endif
