/* Maintenance locks: locks/<random id>, one small text object per holder.
 *
 * Only maintenance takes locks (prune and repack exclusively; check shares). Backups and WAL pushes never
 * read or wait for one: they only add immutable objects, and prune's two-phase deletion keeps what they
 * add safe. A lock names its holder (host, pid, user) and a lease expiry; the holder refreshes it while
 * it works. A lock is stale when its lease expired, or when it was taken on this host by a process that
 * no longer exists; stale locks are removed by the next lv_lock_acquire, which says so in the log.
 *
 * Acquire writes its own lock first, then lists locks/: if a live conflicting lock exists, it removes its
 * own and fails with LV_ERR_LOCKED naming the holder. Two racing acquirers may both fail; neither ever
 * proceeds while the other holds a conflicting lock. */
#ifndef LV_REPO_LOCK_H
#define LV_REPO_LOCK_H

#include <stdint.h>

#include "store/store.h"

typedef struct lv_lock lv_lock;

typedef struct lv_lock_info {
    char key[96];         /* locks/<id> */
    char host[256];
    char user[64];
    long pid;
    int exclusive;
    int64_t created, expires; /* unix seconds */
    int stale;            /* computed at listing time */
    char purpose[64];
    int unreadable;       /* the object does not parse: treated as a live exclusive lock (unlock --force) */
} lv_lock_info;

/* In-flight markers: inflight/<random id>, the same text as a lock. Every command that references or
 * reads blobs (backups, restores, drills) writes one before it reads its catalog and removes it when it
 * ends; it never reads or waits for anything: announcing cannot fail a backup (a failed write is
 * logged and the command goes on without one). A background thread refreshes the lease every
 * lease_s / 4 seconds while the command runs. prune (retention/prune.h) lists them and does not delete
 * packs or WAL while a live one exists: its holder may still reference what prune would delete.
 * Stale markers (lease expired, or this host's process gone) are ignored and removed by the lister. */
#define LV_INFLIGHT_PREFIX "inflight/"
int lv_lock_announce(lv_store *st, int lease_s, const char *purpose, lv_lock **out);
int lv_inflight_list(lv_store *st, int remove_stale, int (*cb)(void *arg, const lv_lock_info *li), void *arg);

/* lease_s: seconds the lock stays valid without lv_lock_refresh. */
int lv_lock_acquire(lv_store *st, int exclusive, int lease_s, const char *purpose, lv_lock **out);
int lv_lock_refresh(lv_lock *l);
/* Refresh the lease from a background thread every lease_s / 4 seconds until release. */
int lv_lock_keepalive(lv_lock *l);
/* Removes the lock object and frees l (also when removal fails: the lease then expires). */
int lv_lock_release(lv_lock *l);

/* List every lock (cb may be NULL); with remove_stale, delete the stale ones. */
int lv_lock_list(lv_store *st, int remove_stale, int (*cb)(void *arg, const lv_lock_info *li), void *arg);

/* Parse a lock object's text (exposed for tests). LV_ERR_CORRUPT when malformed. */
int lv_lock_parse(const char *text, size_t len, lv_lock_info *li);

#endif
