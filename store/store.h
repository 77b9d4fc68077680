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

/* Listings taken ahead, all at once, for a caller about to list several prefixes one after the other (a
 * catalog sync lists five): where a listing waits on the network (S3: tens of milliseconds each, however
 * short) lv_store_prefetch lists the prefixes concurrently, and the next lv_store_list on s of exactly one
 * of them is answered from its listing, once. So keys put under it in between are not in that answer:
 * prefetch only what is listed next, and end the scope with lv_store_prefetch_end, which forgets what was
 * not used. At most opts->concurrency listings run at once. A prefix whose listing fails is not kept (its lv_store_list then lists, and reports the
 * error). On a local directory, where listing is fast, both do nothing. One scope per handle at a time. */
void lv_store_prefetch(lv_store *s, const char *const *prefixes, size_t n);
void lv_store_prefetch_end(lv_store *s);

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

/* Streams: an object written piece by piece at chosen offsets, then committed under a key that is known
 * only at the end (the packer's packs, named by their header: repo/blobstore.h). Only the local driver
 * has them (lv_store_can_stream); on S3 a writer builds the object in memory and puts it.
 *
 * lv_store_stream_open creates a temporary object for a future key in the area `area` (a key, e.g.
 * "data/pack": the local driver creates "<area>.tmp-<pid>-<rand>", the temporary files of section "Temporary
 * objects" below, so a writer killed midway leaves one that lv_store_temp_sweep removes once stale).
 * lv_store_stream_write stores n bytes at off; several threads may write disjoint ranges of one stream at
 * once, and a range never written reads as zeros. lv_store_stream_commit makes the bytes written so far
 * the object `key` with the durability and atomicity of lv_store_put (same flags: LV_PUT_IF_ABSENT
 * fails with LV_ERR_CONFLICT when key exists); lv_store_stream_abort removes the temporary. Both end the
 * stream and free it, whatever the outcome: a failed commit removes the temporary too, and the key keeps
 * what it had. No write may run during commit or abort. Messages name the temporary
 * (lv_store_stream_name, a path under the root like a key) or the key. */
typedef struct lv_store_stream lv_store_stream;
int lv_store_can_stream(const lv_store *s);
int lv_store_stream_open(lv_store *s, const char *area, lv_store_stream **out);
const char *lv_store_stream_name(const lv_store_stream *w);
int lv_store_stream_write(lv_store_stream *w, const void *data, size_t n, uint64_t off);
int lv_store_stream_commit(lv_store_stream *w, const char *key, int flags);
void lv_store_stream_abort(lv_store_stream *w); /* NULL is a no-op */

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
    int cpu_bound_reads;         /* lv_store_readers: 1, one reader per processor; 0, 2 x concurrency */
    /* NULL when the driver has no streams (S3); the others are then unused */
    int (*stream_open)(lv_store *, const char *, lv_store_stream **);
    int (*stream_write)(lv_store_stream *, const void *, size_t, uint64_t);
    int (*stream_commit)(lv_store_stream *, const char *, int);
    void (*stream_abort)(lv_store_stream *);
} lv_store_ops;

/* How many large puts a writer should keep in flight at once: 1 for a local directory (a put is a write
 * and an fsync, faster than a pack of compressed blobs fills, so a second one would only hold another pack
 * in memory), 2 for S3 (a PUT waits on the network; the second overlaps it). */
int lv_store_puts_in_flight(const lv_store *s);

/* How many threads should read (and decrypt, decompress, hash) objects at once: on S3 twice the configured
 * concurrency (a GET mostly waits on the network); on a local directory one per processor, at least 2
 * (reading is CPU: a restore of 1.8 GiB took 2.29 s with 2 threads on 2 processors, 2.46 s with 8, which
 * held 60 MiB against 30). */
int lv_store_readers(const lv_store *s, int concurrency);

struct lv_store_prefetched;

struct lv_store {
    const lv_store_ops *ops;
    char *desc;
    struct lv_store_prefetched *prefetched; /* lv_store_prefetch's listings not used yet */
    int concurrency; /* S3: opts->concurrency, what lv_store_prefetch honours; 0 on a local directory,
                      * which lists fast and prefetches nothing */
};

/* A driver's stream starts with this (like lv_store). */
struct lv_store_stream {
    lv_store *store;
    char *name; /* the temporary's name under the root */
};

/* A small worker pool for callers too: common/parallel.h (lv_parallel_for). */

#endif
