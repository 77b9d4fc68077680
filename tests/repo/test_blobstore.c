/* The blob store end to end, once against the local driver (a temporary directory) and once against
 * the real S3 server when LV_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY (/ _REGION) are set (a fresh
 * bucket, removed afterwards; without them the S3 half is skipped, or fails when CI is set):
 *   - 50 blobs of varied sizes and kinds through a packer with a small pack size, read back byte-equal;
 *   - dedup: the same data again uploads nothing; inline sealing works like the threaded one;
 *   - damage: a flipped byte, a truncated pack, a missing pack, a damaged index or manifest - each
 *     detected by lv_blob_get and/or repo check with a message naming the object;
 *   - an unindexed pack is a warning; catalog rebuild from nothing brings back the same blobs and
 *     manifests and picks up the unindexed pack; a rebuild over a missing pack heals on next backup;
 *   - an upload failure surfaces on flush with the store's code;
 *   - on the local store packs are streamed into temporary files (several workers writing one pack), and
 *     read back, check and are named like packs built in memory (both ways run); a packer freed without
 *     flush, or stopped by a write that fails midway (EFBIG), leaves only complete packs and no
 *     temporary. */
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "catalog/blobs.h"
#include "catalog/manifests.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "repo/registry.h"
#include "maint/rebuild.h"
#include "repo/blobstore.h"
#include "maint/check.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "store/s3.h"
#include "store/store.h"
#include "tests/check.h"

#define NBLOBS 50

typedef struct blob {
    uint8_t *data;
    size_t n;
    uint8_t type;
    uint8_t id[LV_HASH_LEN];
} blob;

typedef struct env {
    const char *label;
    const char *tmp;
    lv_store *st;
    lv_repo *r;
    char catpath[512];
    blob b[NBLOBS];
    char manifest[65];
} env;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* Text-like: words from a small vocabulary, so zstd has something to do. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *const words[] = {"backup ", "restore ", "pack ", "index ", "manifest ",
                                        "postgres ", "wal ", "segment ", "blob ", "\n"};
    uint64_t x = seed + 77;
    size_t i = 0;
    while (i < n) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const char *w = words[(x >> 33) % 10];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

static void make_blobs(env *e)
{
    for (int i = 0; i < NBLOBS; i++) {
        size_t n;
        switch (i % 5) {
        case 0: n = (1u << 20) + (size_t)i * 1000; break;
        case 1: n = (size_t)i * 10 + 1; break;
        case 2: n = 100000 + (size_t)i; break;
        case 3: n = i == 3 ? 0 : 300000 + (size_t)i; break; /* one empty blob */
        default: n = 4096; break;
        }
        blob *b = &e->b[i];
        b->n = n;
        b->data = lv_xmalloc(n ? n : 1);
        b->type = (uint8_t)(LV_BLOB_DATA + i % 3);
        if (i % 2)
            fill_random(b->data, n, (uint64_t)i + 1000 * (uint64_t)time(NULL));
        else
            fill_text(b->data, n, (uint64_t)i + 1000 * (uint64_t)time(NULL));
    }
}

/* ---- check report capture ----------------------------------------------------------------------- */

static lv_buf report_lines;

static void on_problem(void *arg, lv_check_severity sev, const char *line)
{
    (void)arg;
    lv_buf_printf(&report_lines, "%s %s\n", sev == LV_CHECK_ERROR ? "ERROR" : "WARN", line);
}

static int run_check(env *e, int percent, lv_check_report *rep)
{
    lv_buf_reset(&report_lines);
    memset(rep, 0, sizeof *rep);
    rep->problem = on_problem;
    int rc = lv_repo_check(e->r, percent, rep);
    /* TAP: diagnostics only on lines that start with '#'. */
    const char *s = lv_buf_cstr(&report_lines);
    for (int lines = 0; *s && lines < 8; lines++) {
        const char *eol = strchr(s, '\n');
        int n = eol ? (int)(eol - s) : (int)strlen(s);
        printf("#   check: %.*s\n", n, s);
        s += n + (eol ? 1 : 0);
    }
    return rc;
}

/* A line of the last report that has both substrings. */
static int reported(const char *sev, const char *a, const char *b)
{
    const char *s = lv_buf_cstr(&report_lines);
    while (s && *s) {
        const char *eol = strchr(s, '\n');
        size_t n = eol ? (size_t)(eol - s) : strlen(s);
        char *line = strndup(s, n);
        int hit = strncmp(line, sev, strlen(sev)) == 0 && strstr(line, a) && (!b || strstr(line, b));
        free(line);
        if (hit)
            return 1;
        s = eol ? eol + 1 : NULL;
    }
    return 0;
}

/* ---- store helpers ------------------------------------------------------------------------------ */

static int count_cb(void *arg, const char *key, uint64_t size)
{
    (void)key, (void)size;
    (*(size_t *)arg)++;
    return 0;
}

static size_t count(env *e, const char *prefix)
{
    size_t n = 0;
    lv_store_list(e->st, prefix, count_cb, &n);
    return n;
}

static int get_obj(env *e, const char *key, lv_buf *out)
{
    lv_buf_reset(out);
    return lv_store_get(e->st, key, 0, 0, out);
}

/* Overwrite (the tests play the part of a failing disk or a careless admin). */
static int put_obj(env *e, const char *key, const void *p, size_t n)
{
    return lv_store_put(e->st, key, p, n, 0);
}

static void find_index_of(env *e, const uint8_t pack[LV_HASH_LEN], char ikey[LV_INDEX_KEY_LEN]);

static int refs_test(const lv_repo *r, const lv_manifest *m, lv_manifest_emit_fn emit, void *arg)
{
    (void)r;
    if (m->body_len % LV_HASH_LEN)
        return lv_err(LV_ERR_CORRUPT, "test manifest body is not a list of ids");
    for (size_t i = 0; i < m->body_len; i += LV_HASH_LEN) {
        int rc = emit(arg, m->body + i);
        if (rc)
            return rc;
    }
    return LV_OK;
}

/* ---- the suite ---------------------------------------------------------------------------------- */

static int open_catalog(env *e)
{
    int rc = lv_catalog_open(e->catpath, e->r->id_hex, &e->r->cat);
    if (rc)
        printf("# catalog: %s\n", lv_errmsg());
    return rc;
}

static int all_readable(env *e, int *first_bad)
{
    lv_buf out = LV_BUF_INIT;
    int ok = 1;
    for (int i = 0; i < NBLOBS && ok; i++) {
        lv_buf_reset(&out);
        int rc = lv_blob_get(e->r, e->b[i].id, &out);
        ok = rc == LV_OK && out.len == e->b[i].n &&
             (e->b[i].n == 0 || memcmp(out.data, e->b[i].data, out.len) == 0);
        if (!ok) {
            *first_bad = i;
            printf("# blob %d: %s\n", i, rc ? lv_errmsg() : "content differs");
        }
    }
    lv_buf_free(&out);
    return ok;
}

static void store_and_read(env *e)
{
    const char *L = e->label;
    lv_packer *p = NULL;
    lv_packer_opts o = {.pack_size = 256 << 10};
    CHECK(lv_packer_new_opts(e->r, &o, &p) == LV_OK, "%s: packer with 256 KiB packs", L);
    int ok = 1;
    uint64_t total = 0;
    for (int i = 0; i < NBLOBS && ok; i++) {
        uint64_t nb = 99;
        ok = lv_packer_add(p, e->b[i].type, e->b[i].data, e->b[i].n, e->b[i].id, &nb) == LV_OK &&
             nb == e->b[i].n;
        total += e->b[i].n;
        if (!ok)
            printf("# add %d: %s\n", i, lv_errmsg());
    }
    CHECK(ok, "%s: add %d blobs (%llu bytes), each reported as new", L, NBLOBS, (unsigned long long)total);
    uint8_t id[LV_HASH_LEN];
    uint64_t nb = 99;
    CHECK(lv_packer_add(p, e->b[7].type, e->b[7].data, e->b[7].n, id, &nb) == LV_OK && nb == 0 &&
              memcmp(id, e->b[7].id, LV_HASH_LEN) == 0,
          "%s: the same blob again before flush stores 0 bytes", L);
    lv_buf out = LV_BUF_INIT;
    CHECK(lv_blob_get(e->r, e->b[0].id, &out) == LV_ERR_NOT_FOUND, "%s: not readable before flush", L);
    int rc = lv_packer_flush(p);
    CHECK(rc == LV_OK, "%s: flush (%s)", L, rc ? lv_errmsg() : "ok");
    lv_packer_stats s;
    lv_packer_get_stats(p, &s);
    CHECK(s.blobs_new == NBLOBS && s.blobs_dedup == 1 && s.packs >= 10 && s.indexes == 1 && s.stored < total,
          "%s: stats: %llu new, %llu dedup, %llu packs, %llu index, %llu of %llu bytes stored", L,
          (unsigned long long)s.blobs_new, (unsigned long long)s.blobs_dedup, (unsigned long long)s.packs,
          (unsigned long long)s.indexes, (unsigned long long)s.stored, (unsigned long long)total);
    CHECK(count(e, "data/") == s.packs && count(e, "index/") == 1, "%s: %zu packs and %zu index in the store",
          L, count(e, "data/"), count(e, "index/"));
    CHECK(lv_packer_flush(p) == LV_OK && count(e, "index/") == 1, "%s: a second flush writes nothing", L);
    lv_packer_free(p);
    int bad = -1;
    CHECK(all_readable(e, &bad), "%s: every blob reads back byte-equal", L);
    CHECK(lv_catalog_blob_count(e->r->cat) == NBLOBS, "%s: catalog has %d blobs", L, NBLOBS);
    uint8_t unknown[LV_HASH_LEN] = {0};
    CHECK(lv_blob_get(e->r, unknown, &out) == LV_ERR_NOT_FOUND, "%s: an unknown id is not-found", L);
    lv_buf_free(&out);

    /* Dedup across packers (through the catalog), with sealing on the caller's thread. */
    size_t packs = count(e, "data/"), idx = count(e, "index/");
    o.workers = -1;
    CHECK(lv_packer_new_opts(e->r, &o, &p) == LV_OK, "%s: inline packer", L);
    ok = 1;
    for (int i = 0; i < NBLOBS && ok; i++)
        ok = lv_packer_add(p, e->b[i].type, e->b[i].data, e->b[i].n, id, &nb) == LV_OK && nb == 0;
    CHECK(ok, "%s: all %d blobs again: 0 new bytes each", L, NBLOBS);
    CHECK(lv_packer_flush(p) == LV_OK, "%s: flush", L);
    lv_packer_get_stats(p, &s);
    CHECK(s.blobs_dedup == NBLOBS && s.packs == 0 && s.stored == 0 && count(e, "data/") == packs &&
              count(e, "index/") == idx,
          "%s: nothing uploaded", L);
    uint8_t extra[5000];
    fill_random(extra, sizeof extra, (uint64_t)time(NULL) * 31);
    CHECK(lv_packer_add(p, LV_BLOB_DATA, extra, sizeof extra, id, &nb) == LV_OK && nb == sizeof extra &&
              lv_packer_flush(p) == LV_OK,
          "%s: inline: a new blob stored", L);
    lv_packer_free(p);
    CHECK(lv_blob_get(e->r, id, &out) == LV_OK && out.len == sizeof extra &&
              memcmp(out.data, extra, sizeof extra) == 0,
          "%s: inline: read back", L);
    lv_buf_free(&out);

    /* A manifest that references every blob: the commit point. */
    lv_buf body = LV_BUF_INIT;
    for (int i = 0; i < NBLOBS; i++)
        lv_buf_append(&body, e->b[i].id, LV_HASH_LEN);
    rc = lv_manifest_write(e->r, "test", 0, "{\"blobs\":50}", body.data, body.len, e->manifest);
    CHECK(rc == LV_OK, "%s: manifest %s written", L, e->manifest);
    lv_buf_free(&body);
}

static void damage(env *e)
{
    const char *L = e->label;
    lv_check_report rep;
    int rc = run_check(e, 100, &rep);
    CHECK(rc == LV_OK && rep.errors == 0 && rep.warnings == 0 && rep.packs_read == rep.packs &&
              rep.manifests == 1,
          "%s: check --read-data=100%% passes (%llu packs, %llu blobs)", L, (unsigned long long)rep.packs,
          (unsigned long long)rep.blobs);

    /* Blob 5 is a 1 MiB one: alone in its pack or nearly. */
    blob *b = &e->b[5];
    lv_blob_loc loc;
    CHECK(lv_catalog_blob_find(e->r->cat, b->id, &loc) == LV_OK, "%s: locate blob 5", L);
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(loc.pack, key);
    lv_buf orig = LV_BUF_INIT, tmp = LV_BUF_INIT, out = LV_BUF_INIT;
    CHECK(get_obj(e, key, &orig) == LV_OK, "%s: fetch %s", L, key);

    /* 1. one flipped byte inside the blob */
    lv_buf_append(&tmp, orig.data, orig.len);
    tmp.data[loc.offset + loc.length / 2] ^= 0x20;
    put_obj(e, key, tmp.data, tmp.len);
    rc = lv_blob_get(e->r, b->id, &out);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), key) && out.len == 0,
          "%s: flipped byte: blob get is corrupt naming the pack (%s)", L, lv_errmsg());
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_OK, "%s: flipped byte: the structure check cannot see it", L);
    rc = run_check(e, 100, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", key, "authentication") && !reported("ERROR", key, "name"),
          "%s: flipped byte: check --read-data reports the blob (the header, and so the name, still match)", L);
    put_obj(e, key, orig.data, orig.len);

    /* 1b. one flipped byte inside the sealed header (just before the 4-byte length) */
    lv_buf_reset(&tmp);
    lv_buf_append(&tmp, orig.data, orig.len);
    tmp.data[tmp.len - LV_PACK_TAIL - 10] ^= 0x01;
    put_obj(e, key, tmp.data, tmp.len);
    rc = run_check(e, 100, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", key, "header"),
          "%s: flipped byte in the header: check --read-data reports the pack's header", L);
    put_obj(e, key, orig.data, orig.len);

    /* 1c. another pack's bytes under this pack's name: every blob in them authenticates, but they are
     * not what the name (and the index) says */
    char okey[LV_PACK_KEY_LEN] = "";
    for (int i = 0; i < NBLOBS && !okey[0]; i++) {
        lv_blob_loc ol;
        if (lv_catalog_blob_find(e->r->cat, e->b[i].id, &ol) == LV_OK && memcmp(ol.pack, loc.pack, LV_HASH_LEN))
            lv_pack_key(ol.pack, okey);
    }
    CHECK(okey[0] && get_obj(e, okey, &tmp) == LV_OK, "%s: fetch another pack %s", L, okey);
    put_obj(e, key, tmp.data, tmp.len);
    rc = run_check(e, 100, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", key, "does not match its name"),
          "%s: another pack under this name: check --read-data reports that the content does not match the name",
          L);
    rc = lv_blob_get(e->r, b->id, &out);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), key) && out.len == 0,
          "%s: another pack under this name: blob get is corrupt naming the pack (%s)", L, lv_errmsg());
    put_obj(e, key, orig.data, orig.len);

    /* 2. truncated in the middle of the blob */
    put_obj(e, key, orig.data, loc.offset + loc.length / 2);
    rc = lv_blob_get(e->r, b->id, &out);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), key) && strstr(lv_errmsg(), "truncated"),
          "%s: truncated pack: blob get is corrupt naming the pack (%s)", L, lv_errmsg());
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", key, "truncated"),
          "%s: truncated pack: check reports it", L);
    put_obj(e, key, orig.data, orig.len);

    /* 3. missing */
    lv_store_del(e->st, key);
    rc = lv_blob_get(e->r, b->id, &out);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), key) && strstr(lv_errmsg(), "missing"),
          "%s: missing pack: blob get is corrupt naming the pack (%s)", L, lv_errmsg());
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", key, "missing"), "%s: missing pack: check reports it", L);
    put_obj(e, key, orig.data, orig.len);

    /* 4. damaged manifest */
    char mkey[LV_MANIFEST_KEY_LEN];
    lv_manifest_key(e->manifest, mkey);
    get_obj(e, mkey, &tmp);
    lv_buf_reset(&orig);
    lv_buf_append(&orig, tmp.data, tmp.len);
    tmp.data[tmp.len - 3] ^= 1;
    put_obj(e, mkey, tmp.data, tmp.len);
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", mkey, NULL), "%s: damaged manifest: check names it", L);
    put_obj(e, mkey, orig.data, orig.len);

    /* 5. damaged index: its packs become unindexed, the manifest's blobs unlisted */
    char ikey[LV_INDEX_KEY_LEN] = "";
    find_index_of(e, loc.pack, ikey);
    CHECK(ikey[0] != '\0', "%s: the index that lists %s is %s", L, key, ikey);
    get_obj(e, ikey, &tmp);
    lv_buf_reset(&orig);
    lv_buf_append(&orig, tmp.data, tmp.len);
    tmp.data[20] ^= 1;
    put_obj(e, ikey, tmp.data, tmp.len);
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_ERR_CORRUPT && reported("ERROR", ikey, NULL) && reported("WARN", "unindexed pack", key) &&
              reported("ERROR", mkey, "no index lists"),
          "%s: damaged index: check names it, its packs are unindexed, the manifest's blobs unlisted", L);
    put_obj(e, ikey, orig.data, orig.len);

    rc = run_check(e, 100, &rep);
    CHECK(rc == LV_OK && rep.errors == 0 && rep.warnings == 0, "%s: repaired: check passes again", L);
    lv_buf_free(&tmp);
    lv_buf_free(&orig);
    lv_buf_free(&out);
}

typedef struct keylist {
    char **v;
    size_t n;
} keylist;

static int gather(void *arg, const char *key, uint64_t size)
{
    (void)size;
    keylist *k = arg;
    k->v = lv_xrealloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = lv_xstrdup(key);
    return 0;
}

static void keylist_free(keylist *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

static void find_index_of(env *e, const uint8_t pack[LV_HASH_LEN], char ikey[LV_INDEX_KEY_LEN])
{
    keylist k = {0};
    lv_store_list(e->st, "index/", gather, &k);
    for (size_t i = 0; i < k.n && !ikey[0]; i++) {
        uint8_t id[LV_HASH_LEN];
        lv_index ix;
        if (lv_index_key_parse(k.v[i], id) != 0 || lv_index_read(e->r, id, &ix) != LV_OK)
            continue;
        for (uint32_t j = 0; j < ix.npacks; j++)
            if (memcmp(ix.packs[j].id, pack, LV_HASH_LEN) == 0)
                strcpy(ikey, k.v[i]);
        lv_index_free(&ix);
    }
    keylist_free(&k);
}

/* An interrupted backup: a pack uploaded, no index written. Its blobs are returned in ids. */
static void unindexed_pack(env *e, uint8_t ids[2][LV_HASH_LEN], uint8_t *data[2], char key[LV_PACK_KEY_LEN])
{
    lv_pack_builder pb;
    lv_pack_builder_init(&pb, 0);
    for (int i = 0; i < 2; i++) {
        data[i] = lv_xmalloc(20000);
        fill_random(data[i], 20000, (uint64_t)time(NULL) * 7 + (uint64_t)i);
        lv_repo_blob_id(e->r, data[i], 20000, ids[i]);
        uint8_t aad[1 + LV_HASH_LEN];
        lv_blob_aad(LV_BLOB_DATA, ids[i], aad);
        lv_buf sealed = LV_BUF_INIT;
        lv_repo_seal(e->r, aad, sizeof aad, data[i], 20000, 1, &sealed);
        lv_pack_builder_add(&pb, LV_BLOB_DATA, ids[i], sealed.data, sealed.len, 20000);
        lv_buf_free(&sealed);
    }
    uint8_t pid[LV_HASH_LEN];
    lv_pack_builder_finish(e->r, &pb, pid);
    lv_pack_key(pid, key);
    lv_store_put(e->st, key, pb.data.data, pb.data.len, LV_PUT_IF_ABSENT);
    lv_pack_builder_free(&pb);
}

static int step_calls, step_fail;

static int rebuild_step(lv_repo *r, uint64_t *damaged)
{
    (void)r;
    (void)damaged;
    step_calls++;
    return step_fail ? lv_err(LV_ERR_IO, "test step fails") : LV_OK;
}

static int manifest_cb(void *arg, const lv_manifest_row *m)
{
    keylist *k = arg;
    return gather(k, m->id, 0);
}

static void rebuild(env *e)
{
    const char *L = e->label;
    uint8_t ids[2][LV_HASH_LEN], *data[2];
    char ukey[LV_PACK_KEY_LEN];
    unindexed_pack(e, ids, data, ukey);
    lv_check_report rep;
    int rc = run_check(e, 100, &rep);
    CHECK(rc == LV_OK && rep.errors == 0 && rep.warnings == 1 && reported("WARN", "unindexed pack", ukey),
          "%s: an unindexed pack is a warning, not an error", L);

    int64_t blobs_before = lv_catalog_blob_count(e->r->cat);
    lv_catalog_close(e->r->cat);
    e->r->cat = NULL;
    char side[600];
    unlink(e->catpath);
    snprintf(side, sizeof side, "%s-wal", e->catpath);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", e->catpath);
    unlink(side);
    CHECK(open_catalog(e) == LV_OK && lv_catalog_blob_count(e->r->cat) == 0,
          "%s: catalog deleted, empty one opened", L);
    lv_rebuild_stats st;
    rc = lv_catalog_rebuild(e->r, &st);
    CHECK(rc == LV_OK && st.unindexed_packs == 1 && st.manifests == 1 && st.indexes == 2,
          "%s: rebuild: %llu indexes, %llu packs (%llu unindexed), %llu blobs, %llu manifests (%s)", L,
          (unsigned long long)st.indexes, (unsigned long long)st.packs,
          (unsigned long long)st.unindexed_packs, (unsigned long long)st.blobs,
          (unsigned long long)st.manifests, rc ? lv_errmsg() : "ok");
    CHECK(lv_catalog_blob_count(e->r->cat) == blobs_before + 2,
          "%s: same blobs as before, plus the 2 recovered (%lld)", L,
          (long long)lv_catalog_blob_count(e->r->cat));
    keylist m = {0};
    lv_catalog_manifest_each(e->r->cat, NULL, manifest_cb, &m);
    CHECK(m.n == 1 && strcmp(m.v[0], e->manifest) == 0, "%s: the manifest is back", L);
    keylist_free(&m);
    int bad = -1;
    CHECK(all_readable(e, &bad), "%s: every blob readable after the rebuild", L);
    lv_buf out = LV_BUF_INIT;
    CHECK(lv_blob_get(e->r, ids[1], &out) == LV_OK && out.len == 20000 &&
              memcmp(out.data, data[1], 20000) == 0,
          "%s: a blob of the unindexed pack is readable", L);
    step_calls = 0;
    rc = lv_catalog_rebuild(e->r, &st);
    CHECK(rc == LV_OK && lv_catalog_blob_count(e->r->cat) == blobs_before + 2 && step_calls == 1,
          "%s: rebuild over a live catalog, with the registered step", L);
    step_fail = 1;
    rc = lv_catalog_rebuild(e->r, &st);
    step_fail = 0;
    CHECK(rc == LV_ERR_IO && strstr(lv_errmsg(), "rebuild step test") &&
              lv_catalog_blob_count(e->r->cat) == blobs_before + 2,
          "%s: a failing step rolls the whole rebuild back (%s)", L, lv_errmsg());

    /* A pack lost for good: rebuild leaves its blobs out, so the next backup stores them again. */
    blob *b = &e->b[10];
    lv_blob_loc loc;
    lv_catalog_blob_find(e->r->cat, b->id, &loc);
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(loc.pack, key);
    lv_buf orig = LV_BUF_INIT;
    get_obj(e, key, &orig);
    lv_store_del(e->st, key);
    rc = lv_catalog_rebuild(e->r, &st);
    CHECK(rc == LV_ERR_INCOMPLETE && st.bad_packs == 1,
          "%s: rebuild with a missing pack is incomplete (%s)", L, lv_errmsg());
    lv_buf_reset(&out);
    CHECK(lv_blob_get(e->r, b->id, &out) == LV_ERR_NOT_FOUND, "%s: ... and forgets its blobs", L);
    lv_packer *p;
    uint64_t nb = 0;
    uint8_t id[LV_HASH_LEN];
    CHECK(lv_packer_new(e->r, &p) == LV_OK && lv_packer_add(p, b->type, b->data, b->n, id, &nb) == LV_OK &&
              nb == b->n && lv_packer_flush(p) == LV_OK,
          "%s: ... so the next backup stores the blob again", L);
    lv_packer_free(p);
    lv_buf_reset(&out);
    CHECK(lv_blob_get(e->r, b->id, &out) == LV_OK && out.len == b->n, "%s: ... and it is readable", L);
    put_obj(e, key, orig.data, orig.len);
    lv_buf_free(&orig);
    lv_buf_free(&out);
    rc = run_check(e, 0, &rep);
    CHECK(rc == LV_OK && rep.errors == 0, "%s: pack restored: check passes", L);
    free(data[0]);
    free(data[1]);
}

static void suite(const char *label, lv_store *st, const char *tmp)
{
    env e = {.label = label, .tmp = tmp, .st = st};
    snprintf(e.catpath, sizeof e.catpath, "%s/%s-catalog.db", tmp, label);
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    lv_credential cred = {.passphrase = "blobstore test"};
    int rc = lv_repo_init(st, &params, &cred, &e.r);
    CHECK(rc == LV_OK, "%s: init repository (%s)", label, rc ? lv_errmsg() : "ok");
    if (rc || open_catalog(&e) != LV_OK)
        return;
    make_blobs(&e);
    store_and_read(&e);
    damage(&e);
    rebuild(&e);
    lv_catalog_close(e.r->cat);
    e.r->cat = NULL;
    lv_repo_close(e.r);
    for (int i = 0; i < NBLOBS; i++)
        free(e.b[i].data);
}

/* A new local repository of the given format in tmp/name (encrypted with passphrase "x", or not),
 * optionally with a catalog in tmp/name.db attached. Reports a failed set-up as a failed check, labelled L. */
static int fresh_repo_format(const char *tmp, const char *name, int format, int encrypted, int with_catalog,
                             const char *L, lv_store **st, lv_repo **r)
{
    char dir[600], cat[640];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(cat, sizeof cat, "%s.db", dir);
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    params.encrypted = encrypted;
    params.format = format;
    lv_credential cred = {.passphrase = encrypted ? "x" : NULL};
    *st = NULL;
    *r = NULL;
    if (lv_store_open(dir, NULL, st) || lv_store_create(*st) || lv_repo_init(*st, &params, &cred, r) ||
        (with_catalog && lv_catalog_open(cat, (*r)->id_hex, &(*r)->cat))) {
        CHECK(0, "%s: set up (%s)", L, lv_errmsg());
        return -1;
    }
    return 0;
}

static int fresh_repo(const char *tmp, const char *name, int encrypted, int with_catalog, const char *L,
                      lv_store **st, lv_repo **r)
{
    return fresh_repo_format(tmp, name, LV_REPO_FORMAT, encrypted, with_catalog, L, st, r);
}

static void fresh_repo_close(lv_store *st, lv_repo *r)
{
    if (r && r->cat) {
        lv_catalog_close(r->cat);
        r->cat = NULL;
    }
    lv_repo_close(r);
    lv_store_close(st);
}

/* What a writer's bug could store, and which reads see it. A blob sealed under an id its plaintext does not
 * hash to: lv_blob_read trusts the plaintext sum taken with the id (a restore's check) and returns it;
 * lv_blob_open_full (check --read-data) recomputes the id and refuses it; lv_blob_read_unhashed, for a page
 * delta's base, returns the authenticated bytes. A blob whose sealed sum is not its plaintext's (a fault
 * between the hashing and the sealing): every read refuses it. A blob from before sums (no sum in its
 * frame) with a wrong id: lv_blob_read recomputes the id and refuses it. */
static void unhashed(const char *tmp)
{
    lv_store *st;
    lv_repo *r;
    if (fresh_repo(tmp, "unhashed", 1, 1, "unhashed", &st, &r))
        return;
    lv_packer *p = NULL;
    lv_packer_opts o = {.workers = 1};
    static uint8_t buf[100000], other[100000];
    fill_random(buf, sizeof buf, 77);
    fill_random(other, sizeof other, 78);
    uint8_t wrong[LV_HASH_LEN], badsum_id[LV_HASH_LEN], badsum[LV_PLAIN_SUM_LEN];
    memset(wrong, 0x5a, sizeof wrong);
    lv_repo_blob_id(r, other, sizeof other, badsum_id);
    lv_repo_plain_sum(buf, sizeof buf, badsum); /* the sum of other bytes than other's */
    CHECK(lv_packer_new_opts(r, &o, &p) == LV_OK && lv_packer_add_id(p, LV_BLOB_DATA, buf, sizeof buf, wrong, NULL, NULL) ==
              LV_OK && lv_packer_add_id(p, LV_BLOB_DATA, other, sizeof other, badsum_id, badsum, NULL) == LV_OK &&
              lv_packer_flush(p) == LV_OK,
          "unhashed: a blob stored under an id its bytes do not hash to, one with another plaintext's sum");
    lv_packer_free(p);
    lv_blob_loc loc;
    lv_buf out = LV_BUF_INIT, sealed = LV_BUF_INIT;
    int rc = lv_catalog_blob_find(r->cat, wrong, &loc);
    CHECK(rc == LV_OK, "unhashed: the catalog has it");
    if (rc == LV_OK) {
        CHECK(lv_blob_read(r, wrong, &loc, &out) == LV_OK && out.len == sizeof buf &&
                  memcmp(out.data, buf, sizeof buf) == 0,
              "unhashed: lv_blob_read checks the sum taken with the id, and returns the bytes");
        char key[LV_PACK_KEY_LEN];
        lv_pack_key(loc.pack, key);
        lv_buf_reset(&out);
        rc = lv_store_get(r->store, key, loc.offset, loc.length, &sealed);
        if (rc == LV_OK)
            rc = lv_blob_open_full(r, LV_BLOB_DATA, wrong, sealed.data, sealed.len, loc.raw_length, &out, "b");
        CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "does not match the blob id") && out.len == 0,
              "unhashed: lv_blob_open_full (check --read-data) recomputes the id and refuses it (%s)",
              lv_errmsg());
        lv_buf_reset(&out);
        CHECK(lv_blob_read_unhashed(r, wrong, &loc, &out) == LV_OK && out.len == sizeof buf &&
                  memcmp(out.data, buf, sizeof buf) == 0,
              "unhashed: lv_blob_read_unhashed returns its authenticated bytes");
        loc.offset += 1; /* ... which must still authenticate */
        lv_buf_reset(&out);
        rc = lv_blob_read_unhashed(r, wrong, &loc, &out);
        CHECK(rc == LV_ERR_CORRUPT && out.len == 0, "unhashed: bytes that do not authenticate: corrupt (%s)",
              lv_errmsg());
    }
    rc = lv_catalog_blob_find(r->cat, badsum_id, &loc);
    lv_buf_reset(&out);
    if (rc == LV_OK)
        rc = lv_blob_read(r, badsum_id, &loc, &out);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "does not match the sum sealed with it") && out.len == 0,
          "unhashed: a plaintext that does not match its sealed sum is refused (%s)", lv_errmsg());
    lv_buf_reset(&out);
    if (rc == LV_ERR_CORRUPT)
        rc = lv_blob_read_unhashed(r, badsum_id, &loc, &out);
    CHECK(rc == LV_ERR_CORRUPT && out.len == 0, "unhashed: lv_blob_read_unhashed refuses it too");
    /* A frame without a sum (as written before sums), sealed under a wrong id. */
    uint8_t aad[1 + LV_HASH_LEN];
    lv_blob_aad(LV_BLOB_DATA, wrong, aad);
    lv_buf_reset(&sealed);
    lv_repo_seal(r, aad, sizeof aad, buf, sizeof buf, 1, &sealed);
    lv_buf_reset(&out);
    rc = lv_blob_open(r, LV_BLOB_DATA, wrong, sealed.data, sealed.len, sizeof buf, &out, "old blob");
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "does not match the blob id") && out.len == 0,
          "unhashed: a blob without a sum is checked by its id (%s)", lv_errmsg());
    lv_buf_free(&sealed);
    lv_buf_free(&out);
    fresh_repo_close(st, r);
}

/* The repository format decides whether frames carry plaintext sums: a new repository is format 2 and its
 * blobs have them; a format-1 repository (made before sums) stays format 1 when written to, and its new
 * blobs have none, so that a labvault reading format 1 only can still read every one of them. */
static void formats(const char *tmp)
{
    static uint8_t buf[70000];
    fill_text(buf, sizeof buf, 99);
    uint8_t sum[LV_PLAIN_SUM_LEN];
    lv_repo_plain_sum(buf, sizeof buf, sum);
    for (int format = LV_REPO_FORMAT_OLDEST; format <= LV_REPO_FORMAT; format++) {
        char name[32];
        snprintf(name, sizeof name, "format%d", format);
        lv_credential cred = {.passphrase = "x"};
        lv_store *st = NULL;
        lv_repo *r = NULL, *r2 = NULL;
        if (fresh_repo_format(tmp, name, format, 1, 0, name, &st, &r)) {
            lv_store_close(st);
            continue;
        }
        lv_buf cfg = LV_BUF_INIT, scratch = LV_BUF_INIT, sealed = LV_BUF_INIT, out = LV_BUF_INIT;
        char line[32];
        snprintf(line, sizeof line, "\nformat = %d\n", format);
        CHECK(lv_store_get(st, "config", 0, 0, &cfg) == LV_OK && lv_buf_cstr(&cfg) && strstr(lv_buf_cstr(&cfg), line),
              "format %d: the config says so", format);
        CHECK(lv_repo_open(st, &cred, &r2) == LV_OK && r2->params.format == format,
              "format %d: opened again, the repository is format %d", format, r2 ? r2->params.format : -1);
        lv_seal_plan plan;
        lv_repo_seal_prepare(r2, buf, sizeof buf, 1, sum, &scratch, &plan);
        size_t n = lv_repo_seal_size(r2, &plan);
        lv_buf_reserve(&sealed, n);
        lv_repo_seal_to(r2, "a", 1, &plan, sealed.data);
        sealed.len = n;
        int summed = -1;
        int rc = lv_repo_unseal_summed(r2, "a", 1, sealed.data, sealed.len, &out, "blob", &summed);
        CHECK(rc == LV_OK && out.len == sizeof buf && memcmp(out.data, buf, sizeof buf) == 0 &&
                  summed == (format >= 2),
              "format %d: a blob sealed with its sum reads back, %s (rc %d, summed %d)", format,
              format >= 2 ? "with the sum checked" : "without a sum in its frame", rc, summed);
        lv_buf_free(&cfg);
        lv_buf_free(&scratch);
        lv_buf_free(&sealed);
        lv_buf_free(&out);
        lv_repo_close(r2);
        lv_repo_close(r);
        lv_store_close(st);
    }
}

/* Long runs write intermediate index objects; invalid arguments are refused. */
static void index_every(const char *tmp)
{
    lv_store *st;
    lv_repo *r;
    if (fresh_repo(tmp, "every", 1, 1, "every", &st, &r))
        return;
    lv_packer *p;
    /* Blobs large enough (30 MB in all, one seal worker) that the packer's queue (4 MiB of small blobs
     * per worker) fills up and lv_packer_add waits, so uploaded packs accumulate between adds. */
    lv_packer_opts o = {.pack_size = 32 << 10, .index_every = 10, .upload_queue = 1, .workers = 1};
    lv_packer_new_opts(r, &o, &p);
    static uint8_t buf[300000];
    uint8_t ids[100][LV_HASH_LEN];
    int rc = LV_OK;
    for (int i = 0; i < 100 && rc == LV_OK; i++) {
        fill_random(buf, sizeof buf, (uint64_t)i + 5);
        rc = lv_packer_add(p, LV_BLOB_DATA, buf, sizeof buf, ids[i], NULL);
    }
    CHECK(rc == LV_OK && lv_packer_flush(p) == LV_OK, "every: 100 blobs of 300 KB, one upload slot");
    size_t n = 0;
    lv_store_list(st, "index/", count_cb, &n);
    CHECK(n >= 5, "every: an index every 10 blobs or so (%zu index objects)", n);
    int ok = 1;
    lv_buf out = LV_BUF_INIT;
    for (int i = 0; i < 100 && ok; i++) {
        lv_buf_reset(&out);
        fill_random(buf, sizeof buf, (uint64_t)i + 5);
        ok = lv_blob_get(r, ids[i], &out) == LV_OK && out.len == sizeof buf &&
             memcmp(out.data, buf, sizeof buf) == 0;
    }
    CHECK(ok, "every: all readable");
    lv_check_report rep = {0};
    rep.problem = on_problem;
    CHECK(lv_repo_check(r, 100, &rep) == LV_OK && rep.errors == 0 && rep.warnings == 0 && rep.blobs == 100,
          "every: check passes");
    CHECK(lv_packer_add(p, 9, buf, 10, ids[0], NULL) == LV_ERR_INTERNAL, "every: unknown blob type refused");
    CHECK(lv_packer_add(p, LV_BLOB_DATA, buf, (size_t)LV_BLOB_MAX + 1, ids[0], NULL) == LV_ERR_INTERNAL,
          "every: blob above LV_BLOB_MAX refused");
    CHECK(lv_packer_add_id(p, 9, buf, 10, ids[0], NULL, NULL) == LV_ERR_INTERNAL &&
              lv_packer_add_id(p, LV_BLOB_DATA, buf, (size_t)LV_BLOB_MAX + 1, ids[0], NULL, NULL) == LV_ERR_INTERNAL,
          "every: add_id refuses them too");

    /* lv_packer_add_id: the id computed by the caller (backup pg's reader threads do that). */
    fill_random(buf, sizeof buf, 4242);
    uint8_t pre[LV_HASH_LEN];
    lv_repo_blob_id(r, buf, sizeof buf, pre);
    uint64_t nb = 99, nb2 = 99;
    CHECK(lv_packer_add_id(p, LV_BLOB_DATA, buf, sizeof buf, pre, NULL, &nb) == LV_OK && nb == sizeof buf &&
              lv_packer_add_id(p, LV_BLOB_DATA, buf, sizeof buf, pre, NULL, &nb2) == LV_OK && nb2 == 0 &&
              lv_packer_flush(p) == LV_OK,
          "every: add_id stores a new blob once, the second add dedups");
    lv_buf_reset(&out);
    CHECK(lv_blob_get(r, pre, &out) == LV_OK && out.len == sizeof buf && memcmp(out.data, buf, sizeof buf) == 0,
          "every: add_id: read back under its id");
    lv_buf_free(&out);
    lv_packer_free(p);
    fresh_repo_close(st, r);
}

/* Store n blobs through a packer with 64 KiB packs and the given workers, flush, and report its stats. */
static int pack_blobs(lv_repo *r, int workers, int in_memory, int n, uint8_t *const *data, const size_t *len,
                      uint8_t (*ids)[LV_HASH_LEN], lv_packer_stats *s)
{
    lv_packer *p = NULL;
    lv_packer_opts o = {.pack_size = 64 << 10, .workers = workers, .in_memory = in_memory};
    int rc = lv_packer_new_opts(r, &o, &p);
    for (int i = 0; i < n && rc == LV_OK; i++)
        rc = lv_packer_add(p, LV_BLOB_DATA, data[i], len[i], ids[i], NULL);
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    memset(s, 0, sizeof *s);
    if (p)
        lv_packer_get_stats(p, s);
    lv_packer_free(p);
    return rc;
}

static int temp_cb(void *arg, const char *name, uint64_t size, int64_t age)
{
    (void)name, (void)size, (void)age;
    (*(size_t *)arg)++;
    return 0;
}

static size_t count_temps(lv_store *st, const char *prefix)
{
    size_t n = 0;
    lv_store_temp_list(st, prefix, temp_cb, &n);
    return n;
}

/* Every object under data/ is a complete pack (its header reads back and its name is the hash of that
 * header: lv_pack_read_header checks it), and no temporary file is left anywhere. Returns the number of
 * packs, or -1; *bytes (may be NULL) receives their total size. */
static long complete_packs_only(lv_store *st, lv_repo *r, uint64_t *bytes)
{
    keylist k = {0};
    lv_store_list(st, "data/", gather, &k);
    long n = (long)k.n;
    uint64_t total = 0;
    for (size_t i = 0; i < k.n && n >= 0; i++) {
        uint8_t pid[LV_HASH_LEN];
        uint64_t size = 0;
        lv_pack_entry *ents = NULL;
        uint32_t cnt = 0;
        if (lv_pack_key_parse(k.v[i], pid) != 0 || lv_store_head(st, k.v[i], &size) != LV_OK ||
            lv_pack_read_header(r, pid, size, &ents, &cnt) != LV_OK) {
            printf("# %s: %s\n", k.v[i], lv_errmsg());
            n = -1;
        }
        total += size;
        free(ents);
    }
    keylist_free(&k);
    if (bytes)
        *bytes = total;
    return count_temps(st, "") == 0 ? n : -1;
}

/* Blobs are sealed into their place in the pack by several workers at once: on a local store into
 * their range of the pack's temporary file (streamed), in memory straight into the pack buffer, where
 * blobs larger than the buffer's slack make it grow, which must wait for the other writers; small ones
 * fill the same pack side by side. Run with and without encryption (the two seal formats), and inline.
 * Either way every pack is a complete object under its name once flush returns, and no temporary is
 * left. */
static void sealed_in_place(const char *tmp, int encrypted, int workers, int in_memory)
{
    char name[64];
    snprintf(name, sizeof name, "inplace-%d-%d-%d", encrypted, workers + 1, in_memory);
    char L[64];
    snprintf(L, sizeof L, "%s%s%s", in_memory ? "in memory" : "streamed",
             encrypted ? (workers < 0 ? ", inline" : "") : ", unencrypted", workers > 1 ? ", workers" : "");
    lv_store *st;
    lv_repo *r;
    if (fresh_repo(tmp, name, encrypted, 1, L, &st, &r))
        return;
    enum { N = 24 };
    size_t len[N];
    uint8_t *data[N], ids[N][LV_HASH_LEN];
    for (int i = 0; i < N; i++) {
        len[i] = i % 6 == 0 ? (3u << 20) + 7 : i % 6 == 3 ? (5u << 19) : 5000 + (size_t)i;
        data[i] = lv_xmalloc(len[i]);
        if (i % 2)
            fill_random(data[i], len[i], (uint64_t)i * 31 + (uint64_t)encrypted + 97 * (uint64_t)(workers + 1));
        else
            fill_text(data[i], len[i], (uint64_t)i * 37 + (uint64_t)encrypted + 89 * (uint64_t)(workers + 1));
    }
    lv_packer_stats s;
    int rc = pack_blobs(r, workers, in_memory, N, data, len, ids, &s);
    CHECK(rc == LV_OK && s.blobs_new == N, "%s: %d blobs of 5 KB to 3 MiB into 64 KiB packs, %d workers (%s)", L, N,
          workers, rc ? lv_errmsg() : "ok");
    int ok = 1;
    lv_buf out = LV_BUF_INIT;
    for (int i = 0; i < N && ok; i++) {
        lv_buf_reset(&out);
        ok = lv_blob_get(r, ids[i], &out) == LV_OK && out.len == len[i] && memcmp(out.data, data[i], len[i]) == 0;
        if (!ok)
            printf("# blob %d: %s\n", i, lv_errmsg());
    }
    lv_buf_free(&out);
    CHECK(ok, "%s: every blob reads back byte-equal", L);
    lv_check_report rep = {0};
    rep.problem = on_problem;
    CHECK(lv_repo_check(r, 100, &rep) == LV_OK && rep.errors == 0 && rep.warnings == 0 && rep.blobs == N &&
              rep.packs == s.packs,
          "%s: check --read-data passes: headers tile their packs, names match (%llu packs)", L,
          (unsigned long long)s.packs);
    uint64_t total = 0;
    long npacks = complete_packs_only(st, r, &total);
    CHECK(npacks == (long)s.packs && total == s.stored && s.packs > 4, "%s: flush left %llu packs under data/, "
          "each named by the hash of its header, %llu bytes as counted, and no temporary file", L,
          (unsigned long long)s.packs, (unsigned long long)total);
    for (int i = 0; i < N; i++)
        free(data[i]);
    fresh_repo_close(st, r);
}

/* Two writers that do not see each other's catalog (two hosts, or a backup started twice) and pack the
 * same blobs in the same order make packs with the same headers, hence the same names. The second
 * upload finds the name taken, which is no loss: the pack there holds the same blobs in the same places. */
static void same_pack_twice(const char *tmp)
{
    char cat1[640], cat2[640];
    snprintf(cat1, sizeof cat1, "%s/twice-1.db", tmp);
    snprintf(cat2, sizeof cat2, "%s/twice-2.db", tmp);
    lv_store *st;
    lv_repo *r;
    lv_catalog *c1 = NULL, *c2 = NULL;
    if (fresh_repo(tmp, "twice", 1, 0, "twice", &st, &r))
        return;
    if (lv_catalog_open(cat1, r->id_hex, &c1) || lv_catalog_open(cat2, r->id_hex, &c2)) {
        CHECK(0, "twice: catalogs (%s)", lv_errmsg());
        lv_catalog_close(c1);
        fresh_repo_close(st, r);
        return;
    }
    enum { N = 12, LEN = 50000 };
    static uint8_t data[N][LEN];
    uint8_t ids[N][LV_HASH_LEN];
    uint8_t *ptrs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        fill_text(data[i], LEN, (uint64_t)i + 4711);
        ptrs[i] = data[i];
        lens[i] = LEN;
    }
    size_t packs[2] = {0, 0};
    lv_catalog *cats[2] = {c1, c2};
    int ok = 1;
    for (int w = 0; w < 2; w++) {
        r->cat = cats[w];
        lv_packer_stats s;
        int rc = pack_blobs(r, -1, 0, N, ptrs, lens, ids, &s); /* one thread: the same order both times */
        ok = ok && rc == LV_OK && s.blobs_new == N;
        if (rc != LV_OK)
            printf("# writer %d: %s\n", w + 1, lv_errmsg());
        lv_store_list(st, "data/", count_cb, &packs[w]);
    }
    CHECK(ok && packs[0] > 1 && packs[1] == packs[0],
          "twice: the second writer stores every blob again under the same pack names (%zu packs, still %zu)",
          packs[0], packs[1]);
    lv_buf out = LV_BUF_INIT;
    for (int w = 0; w < 2; w++) {
        r->cat = cats[w];
        int good = 1;
        for (int i = 0; i < N && good; i++) {
            lv_buf_reset(&out);
            good = lv_blob_get(r, ids[i], &out) == LV_OK && out.len == LEN &&
                   memcmp(out.data, data[i], LEN) == 0;
        }
        CHECK(good, "twice: every blob reads back through writer %d's catalog", w + 1);
    }
    lv_buf_free(&out);
    lv_check_report rep = {0};
    rep.problem = on_problem;
    CHECK(lv_repo_check(r, 100, &rep) == LV_OK && rep.errors == 0 && rep.warnings == 0,
          "twice: check --read-data passes (each pack listed by two indexes)");
    r->cat = NULL;
    lv_catalog_close(c1);
    lv_catalog_close(c2);
    fresh_repo_close(st, r);
}

/* Upload failures reach the caller: a local repository whose data/ is a file cannot take packs, neither
 * streamed (the pack's temporary file cannot be created) nor put whole. */
static void upload_failure(const char *tmp, int in_memory)
{
    char path[700], name[32];
    lv_store *st;
    lv_repo *r;
    snprintf(name, sizeof name, "broken-%d", in_memory);
    if (fresh_repo(tmp, name, 1, 0, "failure", &st, &r))
        return;
    snprintf(path, sizeof path, "%s/%s/data", tmp, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    lv_packer *p;
    lv_packer_opts o = {.pack_size = 64 << 10, .in_memory = in_memory};
    lv_packer_new_opts(r, &o, &p);
    uint8_t buf[100000], id[LV_HASH_LEN];
    int rc = LV_OK;
    for (int i = 0; i < 20 && rc == LV_OK; i++) {
        fill_random(buf, sizeof buf, (uint64_t)i);
        rc = lv_packer_add(p, LV_BLOB_DATA, buf, sizeof buf, id, NULL);
    }
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    CHECK(rc == LV_ERR_IO && strstr(lv_errmsg(), in_memory ? "uploading pack data/" : "creating a pack: ") &&
              (in_memory || strstr(lv_errmsg(), "/data/pack.tmp-")) && strstr(lv_errmsg(), "Not a directory"),
          "failure%s: the upload error reaches add/flush with its code, the pack and the cause (%d: %s)",
          in_memory ? " (in memory)" : "", rc, lv_errmsg());
    CHECK(lv_packer_flush(p) == rc, "failure: the packer stays failed");
    lv_packer_free(p);
    lv_repo_close(r);
    lv_store_close(st);
}

/* A packer freed without flush abandons its open streamed pack: its temporary file goes, the packs
 * already full stay (complete, unindexed). */
static void abandoned(const char *tmp)
{
    lv_store *st;
    lv_repo *r;
    if (fresh_repo(tmp, "abandoned", 1, 0, "abandoned", &st, &r))
        return;
    lv_packer *p = NULL;
    lv_packer_opts o = {.pack_size = 1 << 20, .workers = 2};
    int rc = lv_packer_new_opts(r, &o, &p);
    static uint8_t buf[100000];
    uint8_t id[LV_HASH_LEN];
    for (int i = 0; i < 25 && rc == LV_OK; i++) {
        fill_random(buf, sizeof buf, (uint64_t)i + 777);
        rc = lv_packer_add(p, LV_BLOB_DATA, buf, sizeof buf, id, NULL);
    }
    CHECK(rc == LV_OK, "abandoned: 25 blobs of 100 KB added, no flush (%s)", rc ? lv_errmsg() : "ok");
    lv_packer_free(p);
    long n = complete_packs_only(st, r, NULL);
    CHECK(n >= 0 && n <= 2, "abandoned: after free, data/ holds only complete packs (%ld) and no temporary", n);
    fresh_repo_close(st, r);
}

/* A write that fails midway through a streamed pack (here the file size limit, EFBIG, standing in for a
 * full disk, which tests/backup/full_disk.sh exercises) stops the packer with the cause and the
 * temporary's name; the temporary is removed and only complete packs remain. */
static void write_failure(const char *tmp)
{
    lv_store *st;
    lv_repo *r;
    if (fresh_repo(tmp, "efbig", 1, 0, "efbig", &st, &r))
        return;
    lv_packer *p = NULL;
    lv_packer_opts o = {.pack_size = 128 << 10, .workers = 2};
    int rc = lv_packer_new_opts(r, &o, &p);
    static uint8_t buf[400000];
    uint8_t id[LV_HASH_LEN];
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 250000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    for (int i = 0; i < 40 && rc == LV_OK; i++) {
        size_t n = i == 12 ? 400000 : 60000;
        fill_random(buf, n, (uint64_t)i + 4242);
        rc = lv_packer_add(p, LV_BLOB_DATA, buf, n, id, NULL);
    }
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    lv_packer_free(p);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == LV_ERR_IO && strstr(msg, "/efbig/data/pack.tmp-") && strstr(msg, "File too large"),
          "efbig: the failed write stops the packer with the cause and the temporary file (%d: %s)", rc, msg);
    long n = complete_packs_only(st, r, NULL);
    CHECK(n >= 2, "efbig: data/ holds only complete packs (%ld) and no temporary", n);
    fresh_repo_close(st, r);
}

static void s3_part(const char *tmp)
{
    const char *ep = getenv("LV_TEST_S3_ENDPOINT"), *ak = getenv("LV_TEST_S3_ACCESS_KEY"),
               *sk = getenv("LV_TEST_S3_SECRET_KEY"), *region = getenv("LV_TEST_S3_REGION");
    if (!ep || !ak || !sk) {
        if (getenv("CI"))
            CHECK(0, "s3: LV_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY are required when CI is set");
        else
            printf("ok %d - # SKIP s3: LV_TEST_S3_* not set (start tests/harness/s3.sh)\n", ++check_n);
        return;
    }
    lv_store_opts o = {.endpoint = ep, .access_key = ak, .secret_key = sk, .region = region};
    char bucket[64], url[128];
    snprintf(bucket, sizeof bucket, "lvtest-packs-%d-%ld", (int)getpid(), (long)time(NULL));
    snprintf(url, sizeof url, "s3://%s", bucket);
    lv_store *root = NULL, *st = NULL;
    int rc = lv_store_open(url, &o, &root);
    if (rc == LV_OK)
        rc = lv_store_create(root);
    CHECK(rc == LV_OK, "s3: bucket %s created (%s)", bucket, rc ? lv_errmsg() : "ok");
    if (rc)
        return;
    snprintf(url, sizeof url, "s3://%s/repo", bucket);
    CHECK(lv_store_open(url, &o, &st) == LV_OK, "s3: open %s", url);
    suite("s3", st, tmp);
    lv_store_close(st);
    keylist k = {0};
    lv_store_list(root, "", gather, &k);
    CHECK(lv_store_del_many(root, (const char *const *)k.v, k.n) == LV_OK &&
              lv_s3_delete_bucket(root) == LV_OK,
          "s3: bucket emptied (%zu objects) and removed", k.n);
    keylist_free(&k);
    lv_store_close(root);
}

int main(void)
{
    const char *lvl = getenv("LABVAULT_LOG_LEVEL");
    int level = lvl ? lv_log_parse_level(lvl) : -1;
    lv_log_set_level(level >= 0 ? (lv_log_level)level : LV_LOG_ERROR);
    char tmp[] = "/tmp/lvblobs-XXXXXX";
    if (!mkdtemp(tmp)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    lv_manifest_register_kind("test", refs_test);
    lv_catalog_rebuild_register("test", rebuild_step);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/local", tmp);
    lv_store *st = NULL;
    if (lv_store_open(dir, NULL, &st) == LV_OK && lv_store_create(st) == LV_OK)
        suite("local", st, tmp);
    else
        CHECK(0, "local: open store (%s)", lv_errmsg());
    lv_store_close(st);
    upload_failure(tmp, 0);
    upload_failure(tmp, 1);
    index_every(tmp);
    unhashed(tmp);
    formats(tmp);
    sealed_in_place(tmp, 1, 3, 0);
    sealed_in_place(tmp, 0, 2, 0);
    sealed_in_place(tmp, 1, -1, 0);
    sealed_in_place(tmp, 1, 3, 1);
    sealed_in_place(tmp, 0, 2, 1);
    sealed_in_place(tmp, 1, -1, 1);
    abandoned(tmp);
    write_failure(tmp);
    same_pack_twice(tmp);
    s3_part(tmp);
    lv_buf_free(&report_lines);
    nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
