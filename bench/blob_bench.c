/* blob_bench: store N MiB of 1 MiB blobs through the packer (compress + encrypt + pack + upload) into a
 * fresh repository and print the rate, to compare with the raw write rate of the same store (plain cp
 * locally, plain signed PUTs to S3: bench/store.sh).
 *
 *   blob_bench [-n MIB] [-d mixed|text|random] [-w WORKERS] [-p PACK_MIB] [-b BLOB_KIB] [-l LEVEL] [-r] URL
 *
 * -l sets the repository's zstd level (default: the repository default, 3; 0 stores blobs uncompressed).
 * -r measures the baseline instead: the same bytes as plain objects of the pack size, put one after the
 * other with lv_store_put (no compression, no encryption, no hashing), i.e. the raw rate of the store
 * driver as the packer sees it.
 *
 * URL is a local path (must not hold a repository yet) or s3://bucket/prefix; for S3 the endpoint and
 * keys come from LABVAULT_S3_ENDPOINT, _REGION, _ACCESS_KEY, _SECRET_KEY, or else LV_TEST_S3_* (as
 * bench/store_bench.c), and the bucket is created if needed. Data: "text" compresses about 3.3:1
 * (log-like words and numbers), "random" not at all, "mixed" (default) alternates them blob by blob.
 * Every blob is distinct (a counter is stamped into it), so dedup never skips work. The timed part is
 * from the first lv_packer_add to the return of lv_packer_flush, i.e. until every pack and the index
 * are durable. The catalog is a temporary SQLite file, as in a real backup (each add looks the id up
 * in it).
 *
 * Output: one line of key=value pairs (mib_per_s, seconds, user_s, sys_s, max_rss_mib, stored_mib,
 * packs), easy to parse from a shell script. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/catalog.h"
#include "repo/blobstore.h"
#include "repo/repo.h"
#include "store/store.h"

#define POOL_BLOBS 32

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    return v && *v ? v : getenv(b);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
}

/* Words with varying numbers, like logs: zstd -3 gets about 4:1 on it. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *const words[] = {"backup", "restore", "segment", "checkpoint", "relation", "page",
                                        "vacuum", "index", "tuple", "commit", "lsn", "timeline",
                                        "archive", "wal", "buffer", "select", "insert", "update"};
    uint64_t x = seed + 1;
    size_t i = 0;
    while (i < n) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        char w[48];
        int len = snprintf(w, sizeof w, "%s=%u%c", words[(x >> 33) % 18], (unsigned)((x >> 40) % 10000),
                           (x >> 20) % 8 == 0 ? '\n' : ' ');
        for (int k = 0; k < len && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

static double cpu_s(const struct rusage *a, const struct rusage *b, int sys)
{
    const struct timeval *x = sys ? &a->ru_stime : &a->ru_utime, *y = sys ? &b->ru_stime : &b->ru_utime;
    return (double)(y->tv_sec - x->tv_sec) + (double)(y->tv_usec - x->tv_usec) / 1e6;
}

/* The baseline: objects of pack size made of the same blobs, uploaded one by one. */
static int raw_puts(lv_store *st, uint8_t **pool, size_t bsz, long nblobs, size_t obj_size, const char *mode,
                    const char *url)
{
    long per = (long)(obj_size / bsz) ? (long)(obj_size / bsz) : 1;
    uint8_t *obj = lv_xmalloc((size_t)per * bsz);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    long objs = 0;
    for (long i = 0; i < nblobs; objs++) {
        size_t len = 0;
        for (long k = 0; k < per && i < nblobs; k++, i++) {
            memcpy(obj + len, pool[i % POOL_BLOBS], bsz);
            memcpy(obj + len, &i, sizeof i);
            len += bsz;
        }
        char key[64];
        snprintf(key, sizeof key, "raw/%08ld", objs);
        if (lv_store_put(st, key, obj, len, 0) != LV_OK) {
            fprintf(stderr, "blob_bench: %s\n", lv_errmsg());
            free(obj);
            return 1;
        }
    }
    double secs = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double in_mib = (double)nblobs * (double)bsz / 1048576.0;
    printf("mode=raw-%s objects=%ld object_mib=%.0f input_mib=%.0f seconds=%.3f mib_per_s=%.1f user_s=%.2f "
           "sys_s=%.2f url=%s\n", mode, objs, (double)per * (double)bsz / 1048576.0, in_mib, secs,
           in_mib / secs, cpu_s(&ru0, &ru1, 0), cpu_s(&ru0, &ru1, 1), url);
    free(obj);
    return 0;
}

/* The measurement: every blob through the packer, until flush has made packs and index durable. */
static int packed(lv_repo *r, uint8_t **pool, size_t bsz, long nblobs, int workers, const char *mode,
                  const char *url)
{
    lv_packer *p;
    lv_packer_opts po = {.workers = workers};
    if (lv_packer_new_opts(r, &po, &p)) {
        fprintf(stderr, "blob_bench: %s\n", lv_errmsg());
        return 1;
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    int rc = LV_OK;
    for (long i = 0; i < nblobs && rc == LV_OK; i++) {
        uint8_t *b = pool[i % POOL_BLOBS], id[32];
        memcpy(b, &i, sizeof i);
        rc = lv_packer_add(p, LV_BLOB_DATA, b, bsz, id, NULL);
    }
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    double secs = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    if (rc != LV_OK) {
        fprintf(stderr, "blob_bench: %s\n", lv_errmsg());
        lv_packer_free(p);
        return 1;
    }
    lv_packer_stats s;
    lv_packer_get_stats(p, &s);
    double in_mib = (double)nblobs * (double)bsz / 1048576.0;
    printf("mode=%s blobs=%ld blob_kib=%zu input_mib=%.0f seconds=%.3f mib_per_s=%.1f user_s=%.2f sys_s=%.2f "
           "max_rss_mib=%.0f stored_mib=%.1f packs=%llu url=%s\n",
           mode, nblobs, bsz >> 10, in_mib, secs, in_mib / secs, cpu_s(&ru0, &ru1, 0), cpu_s(&ru0, &ru1, 1),
           (double)ru1.ru_maxrss / 1024.0, (double)s.stored / 1048576.0, (unsigned long long)s.packs, url);
    lv_packer_free(p);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: blob_bench [-n MIB] [-d mixed|text|random] [-w WORKERS] [-p PACK_MIB] "
                    "[-b BLOB_KIB] [-l LEVEL] [-r] URL\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long mib = 1024, pack_mib = 0, blob_kib = 1024;
    int workers = 0, raw = 0, level = -1;
    const char *mode = "mixed";
    int c;
    while ((c = getopt(argc, argv, "n:d:w:p:b:l:r")) != -1) {
        switch (c) {
        case 'n': mib = atol(optarg); break;
        case 'd': mode = optarg; break;
        case 'w': workers = atoi(optarg); break;
        case 'p': pack_mib = atol(optarg); break;
        case 'b': blob_kib = atol(optarg); break;
        case 'l': level = atoi(optarg); break;
        case 'r': raw = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || mib <= 0 || blob_kib <= 0 || blob_kib > 65536 || level > 19 ||
        (strcmp(mode, "mixed") && strcmp(mode, "text") && strcmp(mode, "random")))
        usage();
    const char *url = argv[optind];

    lv_store_opts so = {.endpoint = env2("LABVAULT_S3_ENDPOINT", "LV_TEST_S3_ENDPOINT"),
                        .access_key = env2("LABVAULT_S3_ACCESS_KEY", "LV_TEST_S3_ACCESS_KEY"),
                        .secret_key = env2("LABVAULT_S3_SECRET_KEY", "LV_TEST_S3_SECRET_KEY"),
                        .region = env2("LABVAULT_S3_REGION", "LV_TEST_S3_REGION")};
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024; /* opening speed is not what is measured */
    if (pack_mib > 0)
        params.pack_size = (uint64_t)pack_mib << 20;
    if (level >= 0)
        params.compress_level = level;
    lv_credential cred = {.passphrase = "blob bench"};
    if (lv_store_open(url, &so, &st) || lv_store_create(st) || lv_repo_init(st, &params, &cred, &r)) {
        fprintf(stderr, "blob_bench: %s: %s\n", url, lv_errmsg());
        return 1;
    }
    char catpath[] = "/tmp/blob_bench-catalog-XXXXXX";
    int fd = mkstemp(catpath);
    if (fd < 0 || lv_catalog_open(catpath, r->id_hex, &r->cat)) {
        fprintf(stderr, "blob_bench: catalog: %s\n", lv_errmsg());
        return 1;
    }
    close(fd);

    /* A pool of distinct blobs, made before the clock starts; blob i is pool[i % POOL] with i stamped
     * into its first bytes, so no two are equal and the data cost nothing while timed. */
    size_t bsz = (size_t)blob_kib << 10;
    long nblobs = (mib << 20) / (long)bsz;
    uint8_t *pool[POOL_BLOBS];
    for (int i = 0; i < POOL_BLOBS; i++) {
        pool[i] = lv_xmalloc(bsz);
        int text = !strcmp(mode, "text") || (!strcmp(mode, "mixed") && i % 2 == 0);
        if (text)
            fill_text(pool[i], bsz, (uint64_t)i * 7919 + (uint64_t)time(NULL));
        else
            fill_random(pool[i], bsz, (uint64_t)i * 7919 + (uint64_t)time(NULL));
    }

    int rc = raw ? raw_puts(st, pool, bsz, nblobs, (size_t)r->params.pack_size, mode, url)
                 : packed(r, pool, bsz, nblobs, workers, mode, url);
    for (int i = 0; i < POOL_BLOBS; i++)
        free(pool[i]);
    lv_catalog_close(r->cat);
    r->cat = NULL;
    unlink(catpath);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", catpath);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", catpath);
    unlink(side);
    lv_repo_close(r);
    lv_store_close(st);
    return rc;
}
