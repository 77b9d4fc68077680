/* store_bench: raw throughput of a store driver, without compression or encryption.
 *
 * Writes N MiB as objects of S KiB (default 1 MiB) with plain lv_store_put calls on J threads, reads
 * them back (checking each object's stamp), deletes them, and prints one line per phase:
 *   put url=... objects=256 object_kib=1024 threads=4 seconds=2.130 mib_s=120.2
 * Buffers are allocated and touched before the clock starts (fresh memory costs time on these
 * machines: see docs/performance.md, Method).
 *
 * Usage: store_bench URL [-n MIB] [-j THREADS] [-s OBJECT_KIB] [-d]
 *   -d  S3: delete the bucket at the end (for a bucket made just for the bench; it must be empty)
 * S3 settings come from the environment, never the command line: LABVAULT_S3_ENDPOINT,
 * LABVAULT_S3_REGION, LABVAULT_S3_ACCESS_KEY, LABVAULT_S3_SECRET_KEY, or else LV_TEST_S3_* (the test
 * harness). The bucket is created if needed; the objects (under bench-<pid>/) are deleted afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/parallel.h"
#include "store/s3.h"
#include "store/store.h"

typedef struct bench {
    lv_store *s;
    char **keys;
    size_t objsize;
    uint8_t *base;            /* random bytes every object starts from */
    pthread_mutex_t lock;     /* guards the free buffers */
    lv_buf *bufs;
    size_t nfree;
    lv_buf **free_bufs;
} bench;

static lv_buf *take(bench *b)
{
    pthread_mutex_lock(&b->lock);
    lv_buf *x = b->free_bufs[--b->nfree]; /* one per thread: never empty */
    pthread_mutex_unlock(&b->lock);
    return x;
}

static void give(bench *b, lv_buf *x)
{
    pthread_mutex_lock(&b->lock);
    b->free_bufs[b->nfree++] = x;
    pthread_mutex_unlock(&b->lock);
}

/* Each object is the random base with its index in the first 8 bytes, so every object differs. */
static int put_one(void *arg, size_t i)
{
    bench *b = arg;
    lv_buf *x = take(b);
    memcpy(x->data, b->base, b->objsize);
    uint64_t stamp = i;
    memcpy(x->data, &stamp, sizeof stamp);
    int rc = lv_store_put(b->s, b->keys[i], x->data, b->objsize, 0);
    give(b, x);
    return rc;
}

static int get_one(void *arg, size_t i)
{
    bench *b = arg;
    lv_buf *x = take(b);
    x->len = 0;
    int rc = lv_store_get(b->s, b->keys[i], 0, 0, x);
    uint64_t stamp = 0;
    if (rc == LV_OK && x->len == b->objsize)
        memcpy(&stamp, x->data, sizeof stamp);
    if (rc == LV_OK && (x->len != b->objsize || stamp != i ||
                        memcmp(x->data + 8, b->base + 8, b->objsize - 8) != 0))
        rc = lv_err(LV_ERR_CORRUPT, "%s: read back different bytes", b->keys[i]);
    give(b, x);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    return v && *v ? v : getenv(b);
}

int main(int argc, char **argv)
{
    long mib = 256, threads = 4, kib = 1024;
    int opt, drop_bucket = 0, bad = 0;
    while ((opt = getopt(argc, argv, "n:j:s:d")) != -1) {
        if (opt == 'n')
            mib = atol(optarg);
        else if (opt == 'j')
            threads = atol(optarg);
        else if (opt == 's')
            kib = atol(optarg);
        else if (opt == 'd')
            drop_bucket = 1;
        else
            bad = 1;
    }
    if (bad || optind != argc - 1 || mib <= 0 || threads <= 0 || threads > 64 || kib <= 0) {
        fprintf(stderr, "usage: store_bench URL [-n MIB] [-j THREADS] [-s OBJECT_KIB] [-d]\n");
        return 2;
    }
    const char *url = argv[optind];
    lv_store_opts o = {0};
    o.endpoint = env2("LABVAULT_S3_ENDPOINT", "LV_TEST_S3_ENDPOINT");
    o.region = env2("LABVAULT_S3_REGION", "LV_TEST_S3_REGION");
    o.access_key = env2("LABVAULT_S3_ACCESS_KEY", "LV_TEST_S3_ACCESS_KEY");
    o.secret_key = env2("LABVAULT_S3_SECRET_KEY", "LV_TEST_S3_SECRET_KEY");
    o.concurrency = (int)threads;

    bench b = {.objsize = (size_t)kib * 1024};
    size_t n = (size_t)mib * 1024 / (size_t)kib;
    if (n == 0)
        n = 1;
    int rc = lv_store_open(url, &o, &b.s);
    if (rc == LV_OK)
        rc = lv_store_create(b.s);
    if (rc != LV_OK) {
        fprintf(stderr, "store_bench: %s\n", lv_errmsg());
        return rc;
    }
    pthread_mutex_init(&b.lock, NULL);
    b.base = lv_xmalloc(b.objsize);
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(b.base, 1, b.objsize, ur) != b.objsize) {
        fprintf(stderr, "store_bench: cannot read /dev/urandom\n");
        return 1;
    }
    fclose(ur);
    b.bufs = lv_xcalloc((size_t)threads, sizeof *b.bufs);
    b.free_bufs = lv_xcalloc((size_t)threads, sizeof *b.free_bufs);
    for (long i = 0; i < threads; i++) {
        lv_buf_reserve(&b.bufs[i], b.objsize);
        memset(b.bufs[i].data, 0, b.bufs[i].cap); /* touch it now, not while timing */
        b.free_bufs[b.nfree++] = &b.bufs[i];
    }
    b.keys = lv_xcalloc(n, sizeof *b.keys);
    for (size_t i = 0; i < n; i++)
        b.keys[i] = lv_xasprintf("bench-%d/%02zx/%06zu", (int)getpid(), i % 256, i);

    double mb = (double)n * (double)b.objsize / 1048576.0;
    const char *phase[] = {"put", "get"};
    lv_par_fn fn[] = {put_one, get_one};
    for (int p = 0; p < 2 && rc == LV_OK; p++) {
        double t0 = now();
        rc = lv_parallel_for((int)threads, n, fn[p], &b);
        double dt = now() - t0;
        if (rc == LV_OK)
            printf("%s url=%s objects=%zu object_kib=%ld threads=%ld seconds=%.3f mib_s=%.1f\n", phase[p],
                   lv_store_describe(b.s), n, kib, threads, dt, mb / dt);
        fflush(stdout);
    }
    if (rc != LV_OK)
        fprintf(stderr, "store_bench: %s\n", lv_errmsg());
    int drc = lv_store_del_many(b.s, (const char *const *)b.keys, n);
    if (drc == LV_OK && drop_bucket)
        drc = lv_s3_delete_bucket(b.s);
    if (drc != LV_OK)
        fprintf(stderr, "store_bench: cleaning up: %s\n", lv_errmsg());
    for (size_t i = 0; i < n; i++)
        free(b.keys[i]);
    free(b.keys);
    for (long i = 0; i < threads; i++)
        lv_buf_free(&b.bufs[i]);
    free(b.bufs);
    free(b.free_bufs);
    free(b.base);
    pthread_mutex_destroy(&b.lock);
    lv_store_close(b.s);
    return rc ? rc : drc;
}
