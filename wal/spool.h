/* The local spool directory of the asynchronous WAL commands, and their background workers.
 *
 * Layout under archive-spool-path (default /var/spool/labvault), one directory per repository
 * location (store-id) so that two repositories never share state:
 *   <spool>/<store-id>/                 store-id: first 16 hex digits of SHA-256(repository location)
 *       push-<wal-id>/                  one per pg_wal directory (wal-id: the same hash of its path)
 *           worker.lock  worker.log     the async push worker's lock and its stderr
 *           <name>.ok                   "this file is durable in the repository": object key, the
 *                                       source file's path and identity (device, inode, size, mtime),
 *                                       or dropped = 1 when archive-queue-max dropped it
 *           <name>.error                the worker's last failure for that file: code and message
 *       in/<session>/<name>.<sha256>    prefetched files (wal/fetch.h), per PostgreSQL start
 * PostgreSQL's archive_status/<name>.ready and .done files stay the source of truth: labvault never
 * renames or creates them. Everything here is a cache that may be deleted while nothing runs.
 *
 * Records are written atomically (temporary file + rename); a damaged or stale record is ignored
 * (the file is pushed or fetched again), never trusted. Workers are this same executable started
 * again with "--worker" (lv_wal_spawn_worker), detached in their own session, with stdin/stdout on
 * /dev/null and stderr appended to a log file; a POSIX record lock (fcntl) lets one run at a time. */
#ifndef LV_WAL_SPOOL_H
#define LV_WAL_SPOOL_H

#include <stdint.h>

#include "store/store.h"
#include "wal/push.h"

typedef struct lv_wal_spool {
    char *dir;   /* <spool>/<store-id>/push-<wal-id> */
    char *lock;  /* dir/worker.lock */
    char *log;   /* dir/worker.log */
} lv_wal_spool;

/* "<spool>/<store-id>" of store s (malloc'ed). */
char *lv_wal_spool_base(const char *spool_path, lv_store *s);
/* First 16 hex digits of SHA-256(s) into out[17]. */
void lv_wal_short_id(const char *s, char out[17]);

/* Create (0700) and open the push spool of store s for the pg_wal directory at the absolute path
 * pgwal_abs. LV_ERR_IO (or LV_ERR_CONFIG) naming the directory when it cannot. */
int lv_wal_spool_open(const char *spool_path, lv_store *s, const char *pgwal_abs, lv_wal_spool *sp);
void lv_wal_spool_free(lv_wal_spool *sp);

typedef struct lv_wal_record {
    char key[LV_WAL_KEY_MAX];  /* "" when dropped */
    char source[4096];         /* absolute path of the file that was pushed */
    lv_wal_source src;
    int dropped;
} lv_wal_record;

int lv_wal_record_write(const lv_wal_spool *sp, const char *name, const lv_wal_record *rec);
/* LV_ERR_NOT_FOUND when there is no record (or only an unreadable, ignored one). */
int lv_wal_record_read(const lv_wal_spool *sp, const char *name, lv_wal_record *rec);
int lv_wal_error_write(const lv_wal_spool *sp, const char *name, int code, const char *message);
/* LV_ERR_NOT_FOUND when there is no error file; message gets the text (size msg_len). */
int lv_wal_error_read(const lv_wal_spool *sp, const char *name, int *code, char *msg, size_t msg_len);
/* Remove name's .ok and .error. */
void lv_wal_spool_forget(const lv_wal_spool *sp, const char *name);

/* Locks: take (LV_ERR_LOCKED when another process holds it; *fd stays open while held) and test. */
int lv_wal_lock_take(const char *path, int *fd);
void lv_wal_lock_release(int fd);
int lv_wal_lock_held(const char *path); /* 1 when a process holds it */

/* Start this executable again, detached, with "--worker" added after argv[0]; stderr to log_path. */
int lv_wal_spawn_worker(const char *log_path);

/* Monotonic seconds. */
double lv_wal_now(void);

#endif
