/* synth_repo: fill an existing local repository with a synthetic history, for bench/prune_scale.sh: N small
 * blobs through the real packer (real packs, index objects and catalog rows) and M PostgreSQL backup
 * manifests (kind "pg", pg/manifest.h, with the summary fields forget groups and orders by) that
 * reference them, so that forget and prune treat them as they treat real backups.
 *
 *   synth_repo [-n BLOBS] [-m MANIFESTS] [-w WINDOW] [-b BLOB_BYTES] [-p PACK_KIB] [-s] REPO KEY_FILE CATALOG
 *
 * REPO is the repository's directory (made by `labvault repo init` with key-file KEY_FILE and catalog
 * CATALOG, which this program opens and fills as a backup would).
 *
 * Layout: blob i belongs to generation g(i) = i * M / N (contiguous: each generation fills packs of its
 * own), or with -s to g(i) = i % M (scattered: every pack holds blobs of every generation). Manifest m
 * (0 the oldest) references the generations m - WINDOW + 1 .. m (default WINDOW 2: consecutive backups
 * share data). Forgetting the older half (forget --keep-last M/2) leaves generations 0 .. M/2 - WINDOW
 * unreferenced: in the contiguous layout prune deletes whole packs, with -s it repacks every pack.
 * Each manifest is a full backup of one cluster, a day after the previous one, whose files
 * "base/1/NNNNNNNNNN" are whole files of up to 1024 extents of one blob each.
 *
 * Blobs: BLOB_BYTES (default 512) of pseudo-random bytes (incompressible), each unique (its index is
 * stamped into it). Packs: PACK_KIB (default 64), so that many small blobs make many packs, as a real
 * repository's blobs of about 1 MiB in packs of 16 MiB do (2 million blobs: about 17,000 packs).
 *
 * Output: one line of key=value pairs (blobs, packs, indexes, manifests, stored_mib, seconds). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/catalog.h"
#include "pg/manifest.h"
#include "pg/summary.h"
#include "repo/manifest.h"
#include "repo/blobstore.h"
#include "repo/repo.h"
#include "store/store.h"
#include "wal/segment.h"

#define EXTENTS_PER_FILE 1024
#define SYSID UINT64_C(7000000000000000001)
#define WAL_SEG (16u << 20)

typedef struct synth {
    long n, m, window;
    size_t bsz;
    int scatter;
    uint8_t (*ids)[LV_HASH_LEN];
} synth;

static long generation(const synth *s, long i)
{
    return s->scatter ? i % s->m : (long)((int64_t)i * s->m / s->n);
}

static void fill(uint8_t *p, size_t n, uint64_t i)
{
    uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
    for (size_t k = 0; k < n; k += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(p + k, &x, n - k < 8 ? n - k : 8);
    }
    memcpy(p, &i, n < 8 ? n : 8);
}

static int store_blobs(lv_repo *r, synth *s, uint64_t pack_size, lv_packer_stats *st)
{
    lv_packer *p;
    lv_packer_opts po = {.pack_size = pack_size};
    if (lv_packer_new_opts(r, &po, &p))
        return 1;
    uint8_t *b = lv_xmalloc(s->bsz + 8);
    int rc = LV_OK;
    for (long i = 0; i < s->n && rc == LV_OK; i++) {
        fill(b, s->bsz, (uint64_t)i);
        rc = lv_packer_add(p, LV_BLOB_DATA, b, s->bsz, s->ids[i], NULL);
    }
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    lv_packer_get_stats(p, st);
    lv_packer_free(p);
    free(b);
    return rc != LV_OK;
}

/* Manifest m: a full backup whose files list the blobs of its generations, in blob order. */
static int write_manifest(lv_repo *r, const synth *s, long m, int64_t stop_time, char id[2 * LV_HASH_LEN + 1])
{
    long nref = 0;
    for (long i = 0; i < s->n; i++) {
        long g = generation(s, i);
        nref += g <= m && g > m - s->window;
    }
    uint32_t nfiles = (uint32_t)((nref + EXTENTS_PER_FILE - 1) / EXTENTS_PER_FILE);
    lv_pgman_file *files = lv_xcalloc(nfiles + 1, sizeof *files);
    lv_pgman_extent *ext = lv_xcalloc((size_t)nref + 1, sizeof *ext);
    long k = 0;
    for (long i = 0; i < s->n; i++) {
        long g = generation(s, i);
        if (g <= m && g > m - s->window) {
            memcpy(ext[k].blob, s->ids[i], LV_HASH_LEN);
            ext[k++].length = (uint32_t)s->bsz;
        }
    }
    char(*paths)[32] = lv_xcalloc(nfiles + 1, sizeof *paths);
    for (uint32_t f = 0; f < nfiles; f++) {
        snprintf(paths[f], sizeof paths[f], "base/1/%010u", f);
        files[f].path = paths[f];
        files[f].kind = LV_PGF_WHOLE;
        files[f].mode = 0600;
        files[f].mtime = stop_time;
        files[f].extents = ext + (size_t)f * EXTENTS_PER_FILE;
        files[f].nextents = f + 1 < nfiles ? EXTENTS_PER_FILE : (uint32_t)(nref - (long)f * EXTENTS_PER_FILE);
        files[f].size = (uint64_t)files[f].nextents * s->bsz;
    }
    char empty[1] = "";
    uint64_t start_lsn = (uint64_t)(m + 1) * 4 * WAL_SEG + 40, stop_lsn = start_lsn + WAL_SEG;
    lv_pgman pm = {.type = LV_PGB_FULL, .sysid = SYSID, .pg_version = 150000, .timeline = 1, .block_size = 8192,
                   .segment_blocks = 131072, .wal_segment_size = WAL_SEG, .data_checksums = 1,
                   .start_lsn = start_lsn, .stop_lsn = stop_lsn, .start_time = stop_time - 60,
                   .stop_time = stop_time, .backup_label = empty, .tablespace_map = empty, .files = files,
                   .nfiles = nfiles};
    char label[32];
    snprintf(label, sizeof label, "synth-%ld", m);
    pm.label = label;
    lv_pg_summary ps = {.sysid = SYSID, .pg_version = 150000, .timeline = 1, .start_lsn = start_lsn,
                        .stop_lsn = stop_lsn, .start_time = pm.start_time, .stop_time = stop_time,
                        .files = nfiles, .bytes = (uint64_t)nref * s->bsz, .bytes_read = (uint64_t)nref * s->bsz};
    snprintf(ps.label, sizeof ps.label, "%s", label);
    snprintf(ps.pgdata, sizeof ps.pgdata, "/synthetic");
    lv_wal_segment_name(1, start_lsn / WAL_SEG, WAL_SEG, ps.wal_start);
    lv_wal_segment_name(1, (stop_lsn - 1) / WAL_SEG, WAL_SEG, ps.wal_stop);
    lv_buf summary = LV_BUF_INIT;
    lv_pg_summary_encode(&ps, &summary);
    lv_buf body = LV_BUF_INIT;
    int rc = lv_pgman_encode(&pm, &body);
    if (rc == LV_OK)
        rc = lv_manifest_write(r, LV_PGMAN_KIND, stop_time, lv_buf_cstr(&summary), body.data, body.len, id);
    lv_buf_free(&body);
    lv_buf_free(&summary);
    free(paths);
    free(ext);
    free(files);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: synth_repo [-n BLOBS] [-m MANIFESTS] [-w WINDOW] [-b BLOB_BYTES] [-p PACK_KIB] [-s] "
                    "REPO KEY_FILE CATALOG\n");
    exit(2);
}

int main(int argc, char **argv)
{
    synth s = {.n = 2000000, .m = 20, .window = 2, .bsz = 512};
    long pack_kib = 64;
    int c;
    while ((c = getopt(argc, argv, "n:m:w:b:p:s")) != -1) {
        switch (c) {
        case 'n': s.n = atol(optarg); break;
        case 'm': s.m = atol(optarg); break;
        case 'w': s.window = atol(optarg); break;
        case 'b': s.bsz = (size_t)atol(optarg); break;
        case 'p': pack_kib = atol(optarg); break;
        case 's': s.scatter = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 3 || s.n < 1 || s.m < 2 || s.m > s.n || s.window < 1 || s.bsz < 16 ||
        s.bsz > (1u << 20) || pack_kib < 1)
        usage();
    const char *url = argv[optind], *key_file = argv[optind + 1], *catalog = argv[optind + 2];

    lv_store_opts so = {0};
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_credential cred = {.key_file = key_file};
    if (lv_store_open(url, &so, &st) || lv_repo_open(st, &cred, &r) || lv_catalog_open(catalog, r->id_hex, &r->cat)) {
        fprintf(stderr, "synth_repo: %s: %s\n", url, lv_errmsg());
        return 1;
    }
    double t0 = now_s();
    s.ids = lv_xcalloc((size_t)s.n, sizeof *s.ids);
    lv_packer_stats ps;
    int rc = store_blobs(r, &s, (uint64_t)pack_kib << 10, &ps);
    int64_t day = 86400, first = (int64_t)time(NULL) - s.m * day;
    char id[2 * LV_HASH_LEN + 1];
    for (long m = 0; rc == 0 && m < s.m; m++)
        rc = write_manifest(r, &s, m, first + m * day, id) != LV_OK;
    if (rc)
        fprintf(stderr, "synth_repo: %s\n", lv_errmsg());
    else
        printf("blobs=%ld packs=%" PRIu64 " indexes=%" PRIu64 " manifests=%ld stored_mib=%.1f seconds=%.1f\n", s.n,
               ps.packs, ps.indexes, s.m, (double)ps.stored / 1048576.0, now_s() - t0);
    free(s.ids);
    lv_catalog_close(r->cat);
    r->cat = NULL;
    lv_repo_close(r);
    lv_store_close(st);
    return rc;
}
