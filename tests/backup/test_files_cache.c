/* The files cache (backup/files_cache.h) on a real catalog: per-directory records merged with the walk;
 * hits give back extents and xattrs; a record is trusted as a whole only when verified at the current
 * blob epoch, else each hit's blobs are looked up (so a pack forgotten by prune makes a miss, never a
 * reference to a missing blob); records of a run that did not commit are not trusted; untrusted (racy)
 * entries are known but never hit; subdirectories that are gone leave the cache with everything below
 * them; a damaged record is a miss, not a failure; the epoch trigger; migration 7 from a catalog with
 * the per-file table of migration 3. */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "backup/files_cache.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "catalog/fcache.h"
#include "common/buf.h"
#include "common/error.h"
#include "snapshot/tree.h"
#include "tests/check.h"

static const char *REPO = "00112233445566778899aabbccddeeff";

static void blob_id(uint8_t id[32], int i)
{
    memset(id, 0, 32);
    for (int k = 0; k < 32; k++)
        id[k] = (uint8_t)(i * 31 + k * 7 + 1);
}

/* Blob i in pack p (indexed). */
static void add_blob(lv_catalog *c, int i, int p)
{
    uint8_t id[32], index_id[32];
    lv_blob_loc loc;
    memset(&loc, 0, sizeof loc);
    memset(loc.pack, p, 32);
    memset(index_id, 0xee, 32);
    loc.length = 100;
    loc.raw_length = 80;
    blob_id(id, i);
    lv_catalog_pack_add(c, loc.pack, 1000, index_id);
    lv_catalog_blob_add(c, id, &loc);
}

static lv_fcache_key key_n(int n)
{
    lv_fcache_key k = {7, (uint64_t)n, 80, 1000000000LL * n, 2000000000LL * n};
    return k;
}

/* One extent of 80 bytes of blob i; one xattr. */
static void parts(int i, lv_buf *ext, lv_buf *xa)
{
    uint8_t id[32];
    blob_id(id, i);
    lv_buf_reset(ext);
    lv_buf_reset(xa);
    lv_extent_append(ext, 0, 80, id);
    lv_xattr_append(xa, "user.tag", 8, "v", 1);
}

typedef struct look {
    int hit, known;
    int same_extents, same_xattrs;
} look;

static look find(lv_fcache *f, const char *name, int keyn, int blob)
{
    look r = {0, 0, 0, 0};
    lv_fcache_key k = key_n(keyn);
    lv_fcache_hit h;
    memset(&h, 0, sizeof h);
    if (lv_fcache_find(f, name, &k, &h, &r.hit, &r.known) != LV_OK)
        return (look){-1, -1, 0, 0};
    if (r.hit) {
        lv_buf ext = LV_BUF_INIT, xa = LV_BUF_INIT;
        parts(blob, &ext, &xa);
        r.same_extents = h.extents_len == ext.len && memcmp(h.extents, ext.data, ext.len) == 0;
        r.same_xattrs = h.nxattrs == 1 && h.xattrs_len == xa.len && memcmp(h.xattrs, xa.data, xa.len) == 0;
        lv_buf_free(&ext);
        lv_buf_free(&xa);
    }
    return r;
}

static void record(lv_fcache *f, const char *name, int keyn, int blob, int trusted)
{
    lv_buf ext = LV_BUF_INIT, xa = LV_BUF_INIT;
    parts(blob, &ext, &xa);
    lv_fcache_key k = key_n(keyn);
    lv_fcache_file(f, name, &k, trusted, 1, xa.data, xa.len, ext.data, ext.len);
    lv_buf_free(&ext);
    lv_buf_free(&xa);
}

static int row_exists(lv_catalog *c, const char *path)
{
    lv_catalog_fcache *t;
    if (lv_catalog_fcache_open(c, &t) != LV_OK)
        return -1;
    int found = 0;
    int64_t epoch;
    lv_buf b = LV_BUF_INIT;
    int rc = lv_catalog_fcache_get(t, path, strlen(path), &found, &epoch, &b);
    lv_buf_free(&b);
    lv_catalog_fcache_close(t);
    return rc == LV_OK ? found : -1;
}

static int64_t epoch_of(lv_catalog *c)
{
    int64_t e = -1;
    lv_catalog_blob_epoch(c, &e);
    return e;
}

/* The first run: /d with files a (trusted), b (racy: untrusted) and subdirectory s with file x. */
static void first_run(lv_catalog *c)
{
    lv_fcache *f = NULL;
    CHECK(lv_fcache_open(c, 1, &f) == LV_OK, "open the files cache (run 1)");
    if (!f)
        return;
    CHECK(lv_fcache_dir_begin(f, "/d") == LV_OK, "begin /d: no record yet");
    look l = find(f, "a", 1, 1);
    CHECK(l.hit == 0 && l.known == 0, "a new file is neither a hit nor known");
    record(f, "a", 1, 1, 1);
    l = find(f, "b", 2, 2);
    record(f, "b", 2, 2, 0);
    CHECK(lv_fcache_dir_begin(f, "/d/s") == LV_OK, "begin /d/s");
    find(f, "x", 3, 3);
    record(f, "x", 3, 3, 1);
    CHECK(lv_fcache_dir_end(f, 1) == LV_OK, "end /d/s");
    lv_fcache_subdir(f, "s");
    CHECK(lv_fcache_dir_end(f, 1) == LV_OK, "end /d");
    CHECK(lv_fcache_commit(f) == LV_OK, "commit run 1");
    lv_fcache_close(f);
    CHECK(row_exists(c, "/d") == 1 && row_exists(c, "/d/s") == 1, "a record per directory");
}

/* A run over /d that looks at a, b, s/x; returns a's and x's lookups. */
static void rerun(lv_catalog *c, int64_t gen, int commit, look *a, look *b, look *x)
{
    lv_fcache *f = NULL;
    if (lv_fcache_open(c, gen, &f) != LV_OK)
        return;
    lv_fcache_dir_begin(f, "/d");
    *a = find(f, "a", 1, 1);
    if (!a->hit)
        record(f, "a", 1, 1, 1);
    *b = find(f, "b", 2, 2);
    if (!b->hit)
        record(f, "b", 2, 2, 0);
    lv_fcache_dir_begin(f, "/d/s");
    *x = find(f, "x", 3, 3);
    if (!x->hit)
        record(f, "x", 3, 3, 1);
    lv_fcache_dir_end(f, 1);
    lv_fcache_subdir(f, "s");
    lv_fcache_dir_end(f, 1);
    if (commit)
        lv_fcache_commit(f);
    lv_fcache_close(f);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void migration_from_6(const char *path)
{
    lv_catalog *c = NULL;
    CHECK(lv_catalog_open(path, REPO, &c) == LV_OK, "create a catalog to turn back into version 6");
    lv_catalog_close(c);
    sqlite3 *db;
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, "DROP TABLE files_dirs; DROP TRIGGER packs_forgotten; DROP TRIGGER packs_unindexed;"
                              "DROP TABLE blob_epoch;"
                              "CREATE TABLE files_cache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER "
                              "NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, "
                              "extents BLOB NOT NULL, gen INTEGER NOT NULL) WITHOUT ROWID;"
                              "INSERT INTO files_cache VALUES (x'2f612f62', 1, 2, 3, 4, 5, x'', 6);"
                              "UPDATE meta SET value = '6' WHERE key = 'schema_version';",
                          NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    CHECK(ok, "a catalog of schema version 6 with a files_cache row");
    c = NULL;
    CHECK(lv_catalog_open(path, REPO, &c) == LV_OK, "it opens: migration 7 runs");
    if (!c)
        return;
    char *v = NULL;
    CHECK(lv_catalog_meta_get(c, "schema_version", &v) == LV_OK && atoi(v) == 7, "schema version 7");
    free(v);
    CHECK(epoch_of(c) == 0, "the blob epoch starts at 0");
    CHECK(row_exists(c, "/d") == 0, "files_dirs exists (empty)");
    lv_catalog_close(c);
    ok = sqlite3_open(path, &db) == SQLITE_OK &&
         sqlite3_exec(db, "SELECT 1 FROM files_cache", NULL, NULL, NULL) != SQLITE_OK;
    sqlite3_close(db);
    CHECK(ok, "the per-file table of migration 3 is gone");
}

int main(void)
{
    char dir[] = "/tmp/lv-fcache-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char *path = lv_xasprintf("%s/catalog.db", dir);
    char *path6 = lv_xasprintf("%s/v6.db", dir);
    lv_catalog *c = NULL;
    CHECK(lv_catalog_open(path, REPO, &c) == LV_OK, "open a catalog");
    if (!c)
        return check_done();
    for (int i = 1; i <= 3; i++)
        add_blob(c, i, 1);
    add_blob(c, 9, 2);

    first_run(c);

    look a, b, x;
    rerun(c, 2, 1, &a, &b, &x);
    CHECK(a.hit == 1 && a.same_extents && a.same_xattrs, "an unchanged file hits, with its extents and xattrs");
    CHECK(b.hit == 0 && b.known == 1, "an untrusted (racy) entry is known but never a hit");
    CHECK(x.hit == 1, "a file of a subdirectory hits");

    { /* a changed key misses, and is known */
        lv_fcache *f = NULL;
        lv_fcache_open(c, 3, &f);
        lv_fcache_dir_begin(f, "/d");
        look l = find(f, "a", 5, 1);
        CHECK(l.hit == 0 && l.known == 1, "a file whose key changed is a known miss");
        lv_fcache_dir_end(f, 0); /* the walk failed: nothing written */
        lv_fcache_close(f);
    }

    /* Trusted as a whole at the current epoch: no lookup per blob. Shown by removing blob 1's row behind
     * the catalog's back (no pack leaves, so the epoch stays): the verified record still hits. */
    sqlite3 *db;
    sqlite3_open(path, &db);
    uint8_t id1[32];
    blob_id(id1, 1);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "DELETE FROM blobs WHERE id = ?1", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, id1, 32, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_close(db);
    int64_t e0 = epoch_of(c);
    rerun(c, 4, 1, &a, &b, &x);
    CHECK(a.hit == 1, "a record verified at the current epoch is trusted without a lookup per blob");

    /* A pack leaves (prune): the epoch moves, records are checked blob by blob: blob 1 is gone -> miss. */
    uint8_t pack2[32];
    memset(pack2, 2, 32);
    CHECK(lv_catalog_pack_forget(c, pack2) == LV_OK, "forget a pack (as prune does)");
    CHECK(epoch_of(c) == e0 + 1, "the blob epoch moved (%lld -> %lld)", (long long)e0, (long long)epoch_of(c));
    rerun(c, 5, 1, &a, &b, &x);
    CHECK(a.hit == 0 && a.known == 1, "after a prune, a hit whose blob is no longer indexed is a miss");
    CHECK(x.hit == 1, "... while one whose blobs are all indexed still hits (looked up)");
    add_blob(c, 1, 1); /* blob 1 stored again (the re-read did) */
    rerun(c, 6, 1, &a, &b, &x);
    CHECK(a.hit == 1 && x.hit == 1, "the records written again are verified at the new epoch");

    /* A run that does not commit: its records are not trusted; a blob it named that never got indexed
     * makes a miss next time. */
    {
        lv_fcache *f = NULL;
        lv_fcache_open(c, 7, &f);
        lv_fcache_dir_begin(f, "/d");
        find(f, "a", 11, 1);
        record(f, "a", 11, 42, 1); /* new content in blob 42, never indexed */
        find(f, "b", 2, 2);
        lv_fcache_dir_begin(f, "/d/s");
        find(f, "x", 3, 3);
        lv_fcache_dir_end(f, 1);
        lv_fcache_subdir(f, "s");
        lv_fcache_dir_end(f, 1);
        lv_fcache_flush(f, 1); /* written, as a long run does, but never committed */
        lv_fcache_close(f);
        lv_fcache_open(c, 8, &f);
        lv_fcache_dir_begin(f, "/d");
        look l = find(f, "a", 11, 42);
        CHECK(l.hit == 0 && l.known == 1, "a record of a run that did not commit: its unindexed blob is a miss");
        lv_fcache_dir_end(f, 0);
        lv_fcache_close(f);
    }

    /* A subdirectory that is gone: its record and those below it leave the cache. */
    {
        lv_fcache *f = NULL;
        lv_fcache_open(c, 9, &f);
        lv_fcache_dir_begin(f, "/d/s");
        lv_fcache_dir_begin(f, "/d/s/deep");
        lv_fcache_dir_end(f, 1);
        lv_fcache_subdir(f, "deep");
        lv_fcache_dir_end(f, 1);
        lv_fcache_commit(f);
        lv_fcache_close(f);
        CHECK(row_exists(c, "/d/s/deep") == 1, "a record for /d/s/deep");
        lv_fcache_open(c, 10, &f);
        lv_fcache_dir_begin(f, "/d");
        find(f, "a", 1, 1);
        lv_fcache_dir_end(f, 1); /* s was not walked this time */
        lv_fcache_commit(f);
        lv_fcache_close(f);
        CHECK(row_exists(c, "/d/s") == 0 && row_exists(c, "/d/s/deep") == 0,
              "a subdirectory no longer walked is forgotten with everything below it");
        CHECK(row_exists(c, "/d") == 1, "its parent's record stays");
    }

    /* A damaged record: a miss, and written again. */
    {
        lv_catalog_fcache *t = NULL;
        lv_catalog_fcache_open(c, &t);
        static const uint8_t junk[] = {1, 5, 0, 'a', 'b'};
        lv_catalog_fcache_put(t, "/junk", 5, junk, sizeof junk, 11);
        lv_catalog_fcache_close(t);
        lv_fcache *f = NULL;
        lv_fcache_open(c, 12, &f);
        CHECK(lv_fcache_dir_begin(f, "/junk") == LV_OK, "a record that does not parse: begin succeeds");
        look l = find(f, "ab", 1, 1);
        CHECK(l.hit == 0 && l.known == 0, "... and nothing in it is a hit");
        record(f, "ab", 1, 1, 1);
        lv_fcache_dir_end(f, 1);
        lv_fcache_commit(f);
        lv_fcache_close(f);
        lv_fcache_open(c, 13, &f);
        lv_fcache_dir_begin(f, "/junk");
        l = find(f, "ab", 1, 1);
        CHECK(l.hit == 1, "it was written again, valid");
        lv_fcache_dir_end(f, 1);
        lv_fcache_close(f);
    }

    /* The epoch trigger: a reset (catalog rebuild) moves it too. */
    int64_t before = epoch_of(c);
    CHECK(lv_catalog_reset(c) == LV_OK && epoch_of(c) > before, "a catalog reset moves the blob epoch");
    CHECK(lv_catalog_fcache_clear(c) == LV_OK && row_exists(c, "/d") == 0, "clear empties the files cache");
    lv_catalog_close(c);

    migration_from_6(path6);

    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
    free(path6);
    return check_done();
}
