/* Storage interface: one API, two drivers (local directory, S3).
 *
 * Keys are relative slash-separated paths inside the repository ("data/ab/ab12...", "config").
 * Every function returns an lv_code (common/error.h) and on failure records a one-line message naming
 * the key and the cause. The codes callers rely on:
 *   LV_ERR_NOT_FOUND    the key does not exist (get/head/del of a missing key)
 *   LV_ERR_CONFLICT     put with LV_PUT_IF_ABSENT and the key exists
 *   LV_ERR_UNREACHABLE  network/endpoint failure or 5xx that persisted through all retries
 *   LV_ERR_AUTH         credentials refused (403, signature mismatch)
 *   LV_ERR_CORRUPT      the store returned something other than what was asked (short body, bad XML)
 *   LV_ERR_IO           local file-system failure (disk full, permission)
 *
 * Atomicity: after put returns LV_OK the object is durable and complete under its key; while put runs
 * or after it fails, the key shows either nothing or the previous complete object, never a partial one.
 *
 * Keys (checked by lv_store_* before a driver sees them): 1..1024 bytes, no control characters, no
 * leading or trailing '/', no empty, "." or ".." segment, and no ".tmp-" (the local driver's temporary
 * files are named "<key>.tmp-*" and listings skip them). A listing prefix follows the same rules but
 * may be empty or end with '/'.
 *
 * Threads: an lv_store handle may be used from several threads at once (the S3 driver keeps a pool of
 * connections; the local driver is stateless). Open it once and share it.
 */
#ifndef LV_STORE_STORE_H
#define LV_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct lv_store lv_store;

enum {
    LV_PUT_IF_ABSENT = 1 /* create only: fail with LV_ERR_CONFLICT when the key exists */
};

/* Called once per listed key, in lexical key order for a given prefix. Return non-zero to stop the
 * listing early; that value is then returned by lv_store_list (so use an lv_code or LV_OK-stop). */
typedef int (*lv_store_list_cb)(void *arg, const char *key, uint64_t size);

typedef struct lv_store_opts {
    /* S3 only; NULL/0 means the default. */
    const char *endpoint;      /* "http://127.0.0.1:7480"; default https://s3.<region>.amazonaws.com */
    const char *region;        /* default "us-east-1" */
    const char *access_key;    /* secret-bearing fields are never logged */
    const char *secret_key;
    const char *session_token;
    int path_style;            /* 1 (and 0, the default) = http://host/bucket/key;
                                * -1 = virtual-hosted http://bucket.host/key (explicit choice, like
                                * verify_tls: a zeroed struct must keep the default) */
    int verify_tls;            /* default 1; set -1 to disable verification (explicit choice) */
    const char *ca_file;
    int concurrency;           /* parallel transfers for batch operations; default 4 */
    uint64_t multipart_threshold; /* put above this size uses multipart; default 64 MiB */
    uint64_t part_size;        /* default 16 MiB; minimum 5 MiB */
    int max_retries;           /* default 6; -1 = no retries */
    int retry_base_ms;         /* first backoff; default 200 ms, doubled each retry, with jitter */
    int timeout_s;             /* a request that moves less than 1 KiB/s for this long (waiting for the
                                * answer included) is abandoned and retried; default 60 */
    int connect_timeout_s;     /* TCP (and TLS) connect; default 10 */
    int deadline_s;            /* 0, or: every request gives up this many seconds after the store was
                                * opened: no attempt or backoff starts after it, and a running attempt
                                * that stalls is abandoned at it (one that still moves data goes on).
                                * For commands PostgreSQL waits on: wal push, wal fetch. */
    int list_page_size;        /* ListObjectsV2 max-keys; default 1000 (tests use small pages) */
} lv_store_opts;

/* Open "s3://bucket/prefix" with the S3 driver, "file:///path" or a plain path with the local driver.
 * Does no I/O beyond what is needed to validate the URL (the local driver creates nothing). */
int lv_store_open(const char *url, const lv_store_opts *opts, lv_store **out);
void lv_store_close(lv_store *s);

/* Human description for messages: "s3://bucket/prefix" or "/var/lib/labvault/repo" (no secrets). */
const char *lv_store_describe(const lv_store *s);

/* Create the container if it does not exist: the bucket (S3; one we already own is fine) or the
 * directory (local). Everything else assumes it exists. */
int lv_store_create(lv_store *s);

/* With LV_PUT_IF_ABSENT the S3 driver uses one conditional PUT (If-None-Match: *) up to 5 GiB, so the
 * create is atomic on the server; if an attempt is retried after a lost response and then conflicts,
 * the object is read back and equal content counts as success (our own first attempt stored it).
 * Above 5 GiB (no conditional multipart on S3-compatible servers) it checks with HEAD first: racy. */
int lv_store_put(lv_store *s, const char *key, const void *data, size_t len, int flags);
/* Append the object (or the byte range [off, off+len) when len > 0) to out. A range beyond the end,
 * or a body shorter than announced, is LV_ERR_CORRUPT. len == 0 with off > 0 reads from off to the
 * end. On failure out keeps its previous length. */
int lv_store_get(lv_store *s, const char *key, uint64_t off, uint64_t len, lv_buf *out);
int lv_store_head(lv_store *s, const char *key, uint64_t *size);
int lv_store_list(lv_store *s, const char *prefix, lv_store_list_cb cb, void *arg);
int lv_store_del(lv_store *s, const char *key);                 /* a missing key is LV_OK */
int lv_store_del_many(lv_store *s, const char *const *keys, size_t n); /* batched; missing = OK */

/* The keys under prefix, in listing order, collected (for callers that act on each after the listing). */
typedef struct lv_store_keys {
    char **v;
    size_t n, cap;
} lv_store_keys;
int lv_store_list_keys(lv_store *s, const char *prefix, lv_store_keys *out); /* *out zeroed first */
void lv_store_keys_add(lv_store_keys *k, const char *key);
void lv_store_keys_free(lv_store_keys *k);

/* Temporary objects: what an interrupted put leaves behind. The local driver writes "<key>.tmp-<pid>-
 * <rand>" and renames (or links) it into place; a writer killed before that leaves the file, which no
 * listing shows and nothing refers to. S3 has none (a PUT stores the whole object or nothing).
 * lv_store_temp_list calls cb for each under prefix (same rules as lv_store_list) with its name (its
 * path under the root, like a key), its size and its age in seconds (now - mtime, at least 0).
 * lv_store_temp_del removes one of those names (it must contain ".tmp-"); a missing one is LV_OK.
 *
 * When is one abandoned? LV_STORE_TEMP_STALE_S without a write (mtime). Removing one is safe even if
 * its writer still runs, on this host or another sharing the directory: a temporary becomes an object
 * only through its writer's rename/link, which then fails (ENOENT) and the put reports an error;
 * nothing ever reads a temporary. The age only keeps a live put from failing so: a writer writes its
 * temporary without pause until the rename, so one untouched for a day belongs to a dead or hung
 * process, and a day dwarfs any clock difference between the host that wrote the mtime and ours.
 * lv_store_temp_sweep removes those under prefix older than that, one log line each, and counts them
 * in *removed (may be NULL); a removal that fails is logged and skipped: it is retried next time. */
#define LV_STORE_TEMP_STALE_S (24 * 3600)
typedef int (*lv_store_temp_cb)(void *arg, const char *name, uint64_t size, int64_t age_s);
int lv_store_temp_list(lv_store *s, const char *prefix, lv_store_temp_cb cb, void *arg);
int lv_store_temp_del(lv_store *s, const char *name);
int lv_store_temp_sweep(lv_store *s, const char *prefix, uint64_t *removed);

/* Driver vtable; drivers live in store/local.c and store/s3.c. */
typedef struct lv_store_ops {
    int (*put)(lv_store *, const char *, const void *, size_t, int);
    int (*get)(lv_store *, const char *, uint64_t, uint64_t, lv_buf *);
    int (*head)(lv_store *, const char *, uint64_t *);
    int (*list)(lv_store *, const char *, lv_store_list_cb, void *);
    int (*del)(lv_store *, const char *);
    int (*del_many)(lv_store *, const char *const *, size_t);
    void (*close)(lv_store *);
    int (*create)(lv_store *);
    /* NULL when the driver leaves no temporaries (S3) */
    int (*temp_list)(lv_store *, const char *, lv_store_temp_cb, void *);
    int (*temp_del)(lv_store *, const char *);
    int puts_in_flight;          /* lv_store_puts_in_flight; 0: 2 */
} lv_store_ops;

/* How many large puts a writer should keep in flight at once: 1 for a local directory (a put is a write
 * and an fsync, faster than a pack of compressed blobs fills, so a second one would only hold another pack
 * in memory), 2 for S3 (a PUT waits on the network; the second overlaps it). */
int lv_store_puts_in_flight(const lv_store *s);

struct lv_store {
    const lv_store_ops *ops;
    char *desc;
};

/* A small worker pool for callers too: common/parallel.h (lv_parallel_for). */

#endif
