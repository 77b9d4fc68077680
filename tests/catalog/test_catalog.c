/* The SQLite catalog: blob index (bulk insert timing, lookups, first location wins), packs, index
 * objects, manifests, meta, reset, persistence across reopen, the repository binding, a newer schema,
 * two processes writing at once. */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/blobs.h"
#include "catalog/manifests.h"
#include "catalog/catalog.h"
#include "tests/check.h"

static const char *REPO_A = "00112233445566778899aabbccddeeff";
static const char *REPO_B = "ffeeddccbbaa99887766554433221100";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Deterministic distinct ids: a counter and a tag spread over the bytes. */
static void make_id(uint8_t id[32], uint32_t tag, uint32_t i)
{
    for (int k = 0; k < 32; k++)
        id[k] = (uint8_t)((i * 2654435761u + (uint32_t)k * 40503u + tag * 97u) >> (k % 24));
    memcpy(id, &tag, 4);
    memcpy(id + 4, &i, 4);
}

static void make_loc(lv_blob_loc *loc, uint32_t i)
{
    memset(loc, 0, sizeof *loc);
    memset(loc->pack, (int)(i % 251), sizeof loc->pack);
    loc->offset = (uint64_t)i * 4096 + 5000000000ull; /* above 2^32: offsets are 64-bit */
    loc->length = 1000 + i;
    loc->raw_length = 2000 + i;
    loc->type = (uint8_t)(i % 2);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int count_cb(void *arg, const uint8_t id[32], const lv_blob_loc *loc)
{
    (void)id, (void)loc;
    (*(int *)arg)++;
    return 0;
}

static int pack_cb(void *arg, const uint8_t pack[32], uint64_t size)
{
    (void)pack;
    *(uint64_t *)arg += size;
    return 0;
}

static int manifest_cb(void *arg, const lv_manifest_row *m)
{
    lv_buf *b = arg;
    lv_buf_printf(b, "%s/%s/%lld/%s;", m->id, m->kind, (long long)m->time, m->summary);
    return 0;
}

static void test_blobs(lv_catalog *c)
{
    uint8_t id[32];
    lv_blob_loc loc, got;
    double t0 = now_ms();
    int ok = lv_catalog_begin(c) == LV_OK;
    for (uint32_t i = 0; ok && i < 10000; i++) {
        make_id(id, 1, i);
        make_loc(&loc, i);
        ok = lv_catalog_blob_add(c, id, &loc) == LV_OK;
    }
    ok = ok && lv_catalog_commit(c) == LV_OK;
    double t1 = now_ms();
    CHECK(ok, "10000 blob adds in one transaction");
    printf("# 10000 blob adds in one transaction: %.1f ms\n", t1 - t0);
    CHECK(lv_catalog_blob_count(c) == 10000, "blob count is 10000");

    int all = 1;
    for (uint32_t i = 0; i < 10000; i++) {
        make_id(id, 1, i);
        make_loc(&loc, i);
        if (lv_catalog_blob_find(c, id, &got) != LV_OK || memcmp(got.pack, loc.pack, 32) != 0 ||
            got.offset != loc.offset || got.length != loc.length || got.raw_length != loc.raw_length ||
            got.type != loc.type)
            all = 0;
    }
    printf("# 10000 blob lookups: %.1f ms\n", now_ms() - t1);
    CHECK(all, "every blob found with its exact location (64-bit offset included)");

    make_id(id, 9, 1);
    CHECK(lv_catalog_blob_find(c, id, &got) == LV_ERR_NOT_FOUND, "absent blob: LV_ERR_NOT_FOUND");

    make_id(id, 1, 5);
    make_loc(&loc, 777);
    CHECK(lv_catalog_blob_add(c, id, &loc) == LV_OK, "adding an existing id succeeds");
    make_loc(&loc, 5);
    CHECK(lv_catalog_blob_find(c, id, &got) == LV_OK && got.offset == loc.offset,
          "an existing id keeps its first location");

    int n = 0;
    CHECK(lv_catalog_blob_each(c, count_cb, &n) == LV_OK && n == 10000, "blob_each visits 10000");

    CHECK(lv_catalog_begin(c) == LV_OK, "begin");
    make_id(id, 2, 1);
    lv_catalog_blob_add(c, id, &loc);
    lv_catalog_rollback(c);
    CHECK(lv_catalog_blob_find(c, id, &got) == LV_ERR_NOT_FOUND, "rolled-back add is gone");
}

static void test_packs_manifests_meta(lv_catalog *c)
{
    uint8_t p1[32], p2[32], ix[32];
    memset(p1, 1, 32);
    memset(p2, 2, 32);
    memset(ix, 3, 32);
    CHECK(lv_catalog_index_seen(c, ix) == 0, "index object not yet seen");
    CHECK(lv_catalog_pack_add(c, p1, 100, ix) == LV_OK && lv_catalog_pack_add(c, p2, 20, ix) == LV_OK &&
          lv_catalog_index_add(c, ix) == LV_OK, "add two packs and their index object");
    CHECK(lv_catalog_index_seen(c, ix) == 1, "index object seen");
    uint64_t total = 0;
    CHECK(lv_catalog_pack_each(c, pack_cb, &total) == LV_OK && total == 120, "pack_each sums sizes");

    CHECK(lv_catalog_manifest_add(c, "m2", "files", 200, "{\"n\":2}") == LV_OK &&
          lv_catalog_manifest_add(c, "m1", "pg", 100, "{\"n\":1}") == LV_OK &&
          lv_catalog_manifest_add(c, "m3", "pg", 300, "{}") == LV_OK, "add three manifests");
    lv_buf b = LV_BUF_INIT;
    lv_catalog_manifest_each(c, NULL, manifest_cb, &b);
    CHECK(strcmp(lv_buf_cstr(&b), "m1/pg/100/{\"n\":1};m2/files/200/{\"n\":2};m3/pg/300/{};") == 0,
          "manifest_each lists all by time: %s", lv_buf_cstr(&b));
    lv_buf_reset(&b);
    CHECK(lv_catalog_manifest_remove(c, "m1") == LV_OK, "remove a manifest");
    lv_catalog_manifest_each(c, "pg", manifest_cb, &b);
    CHECK(strcmp(lv_buf_cstr(&b), "m3/pg/300/{};") == 0, "filter by kind after remove: %s",
          lv_buf_cstr(&b));
    lv_buf_free(&b);

    char *v = NULL;
    CHECK(lv_catalog_meta_get(c, "last_rebuild", &v) == LV_ERR_NOT_FOUND, "unset meta: LV_ERR_NOT_FOUND");
    CHECK(lv_catalog_meta_set(c, "last_rebuild", "yesterday") == LV_OK &&
          lv_catalog_meta_set(c, "last_rebuild", "today") == LV_OK &&
          lv_catalog_meta_get(c, "last_rebuild", &v) == LV_OK && strcmp(v, "today") == 0,
          "meta set overwrites, get reads back");
    free(v);
}

/* Each child inserts 2000 blobs, 20 per transaction, through its own connection. */
static int child_writer(const char *path, uint32_t tag)
{
    lv_catalog *c;
    if (lv_catalog_open(path, REPO_A, &c) != LV_OK) {
        fprintf(stderr, "child %u: %s\n", tag, lv_errmsg());
        return 1;
    }
    int rc = LV_OK;
    for (uint32_t i = 0; rc == LV_OK && i < 2000; i += 20) {
        if ((rc = lv_catalog_begin(c)))
            break;
        for (uint32_t k = i; rc == LV_OK && k < i + 20; k++) {
            uint8_t id[32];
            lv_blob_loc loc;
            make_id(id, tag, k);
            make_loc(&loc, k);
            rc = lv_catalog_blob_add(c, id, &loc);
        }
        if (rc == LV_OK)
            rc = lv_catalog_commit(c);
    }
    if (rc)
        fprintf(stderr, "child %u: %s\n", tag, lv_errmsg());
    lv_catalog_close(c);
    return rc ? 1 : 0;
}

static void test_concurrent(const char *path)
{
    double t0 = now_ms();
    pid_t pids[2];
    for (uint32_t k = 0; k < 2; k++) {
        pids[k] = fork();
        if (pids[k] == 0)
            _exit(child_writer(path, 100 + k));
    }
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        int st = 0;
        if (pids[k] < 0 || waitpid(pids[k], &st, 0) != pids[k] || !WIFEXITED(st) || WEXITSTATUS(st))
            ok = 0;
    }
    printf("# two processes x 2000 blobs in transactions of 20: %.1f ms\n", now_ms() - t0);
    CHECK(ok, "two concurrent writer processes both succeed");
    lv_catalog *c;
    CHECK(lv_catalog_open(path, REPO_A, &c) == LV_OK, "reopen after concurrent writers");
    if (!c)
        return;
    int all = 1;
    for (uint32_t tag = 100; tag < 102; tag++)
        for (uint32_t i = 0; i < 2000; i++) {
            uint8_t id[32];
            lv_blob_loc loc;
            make_id(id, tag, i);
            if (lv_catalog_blob_find(c, id, &loc) != LV_OK)
                all = 0;
        }
    CHECK(all && lv_catalog_blob_count(c) == 4000, "all 4000 blobs present (count %lld)",
          (long long)lv_catalog_blob_count(c));
    lv_catalog_close(c);
}

int main(void)
{
    char dir[] = "/tmp/lv-catalog-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char *path = lv_xasprintf("%s/sub/dir/catalog.db", dir);
    char *path2 = lv_xasprintf("%s/two.db", dir);
    char *path3 = lv_xasprintf("%s/concurrent.db", dir);

    lv_catalog *c = NULL;
    CHECK(lv_catalog_open(path, REPO_A, &c) == LV_OK, "create a catalog (parent directories too)");
    if (!c)
        return check_done();
    char *v = NULL;
    CHECK(lv_catalog_meta_get(c, "schema_version", &v) == LV_OK && atoi(v) == lv_catalog_schema_version(),
          "schema_version recorded");
    free(v);
    sqlite3 *raw = NULL; /* journal_mode=WAL is a property of the file: look at it from outside */
    sqlite3_stmt *st = NULL;
    sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0,
          "journal mode is WAL");
    sqlite3_finalize(st);
    sqlite3_close(raw);

    test_blobs(c);
    test_packs_manifests_meta(c);
    lv_catalog_close(c);

    CHECK(lv_catalog_open(path, REPO_A, &c) == LV_OK, "reopen: migrations are not re-applied");
    CHECK(c && lv_catalog_blob_count(c) == 10000, "rows persist across reopen");
    CHECK(lv_catalog_meta_get(c, "schema_version", &v) == LV_OK && atoi(v) == lv_catalog_schema_version(),
          "schema_version unchanged on reopen");
    free(v);

    CHECK(lv_catalog_reset(c) == LV_OK, "reset");
    CHECK(lv_catalog_blob_count(c) == 0, "reset removed the blobs");
    lv_buf b = LV_BUF_INIT;
    lv_catalog_manifest_each(c, NULL, manifest_cb, &b);
    CHECK(b.len == 0, "reset removed the manifests");
    lv_buf_free(&b);
    uint8_t ix[32];
    memset(ix, 3, 32);
    CHECK(lv_catalog_index_seen(c, ix) == 0, "reset removed the index objects");
    CHECK(lv_catalog_meta_get(c, "last_rebuild", &v) == LV_OK, "reset kept local meta");
    free(v);

    /* A newer labvault's catalog: refused, not downgraded. */
    lv_catalog_meta_set(c, "schema_version", "99");
    lv_catalog_close(c);
    c = NULL;
    CHECK(lv_catalog_open(path, REPO_A, &c) == LV_ERR_CONFIG && strstr(lv_errmsg(), "99"),
          "a newer schema version: LV_ERR_CONFIG (%s)", lv_errmsg());
    CHECK(lv_catalog_open(path, NULL, &c) == LV_ERR_CONFIG, "also without a repository id");

    /* Repository binding. */
    CHECK(lv_catalog_open(path2, REPO_A, &c) == LV_OK, "new catalog for repository A");
    lv_catalog_close(c);
    c = NULL;
    CHECK(lv_catalog_open(path2, REPO_B, &c) == LV_ERR_CONFLICT && c == NULL &&
          strstr(lv_errmsg(), "labvault catalog rebuild"),
          "opening for another repository: LV_ERR_CONFLICT telling to rebuild (%s)", lv_errmsg());
    CHECK(lv_catalog_open(path2, NULL, &c) == LV_OK && lv_catalog_reset(c) == LV_OK &&
          lv_catalog_set_repo(c, REPO_B) == LV_OK, "rebuild path: open unbound, reset, rebind");
    lv_catalog_close(c);
    CHECK(lv_catalog_open(path2, REPO_B, &c) == LV_OK, "now opens for repository B");
    lv_catalog_close(c);

    /* Both children create the file and run the migrations at the same moment. */
    test_concurrent(path3);

    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
    free(path2);
    free(path3);
    return check_done();
}
