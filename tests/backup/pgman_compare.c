/* Test helper: rebuild files of a pg manifest from their extents and compare them with a data directory.
 *   pgman_compare REPO MANIFEST_ID PGDATA [PATH...]   (credential: LABVAULT_KEY_FILE; catalog:
 *   LABVAULT_CATALOG; S3: LV_TEST_S3_*). Without PATHs every file of the manifest is compared.
 * Prints "<compared> compared, <differ> differ" and each differing or missing path; exit 0 when none
 * differs, 1 when some do, 2 on errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "catalog/catalog.h"
#include "pg/page_delta.h"
#include "pg/manifest.h"
#include "repo/blobstore.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/lib/test_repo.h"

/* A delta run, decoded independently of restore/pg_write.c: base pages from the base blob, each patched
 * by its frame. */
static int rebuild_delta(lv_repo *r, const lv_pgman *m, const lv_pgman_extent *e, lv_buf *out)
{
    size_t bs = m->block_size;
    lv_buf base = LV_BUF_INIT, delta = LV_BUF_INIT;
    lv_pgdelta d;
    int rc = lv_blob_get(r, e->base_blob, &base);
    if (rc == LV_OK)
        rc = lv_blob_get(r, e->blob, &delta);
    if (rc == LV_OK)
        rc = lv_pgdelta_parse(delta.data, delta.len, &d);
    if (rc == LV_OK && ((size_t)e->base_page + e->npages) * bs > base.len)
        rc = lv_err(LV_ERR_CORRUPT, "delta run beyond its base blob");
    if (rc == LV_OK && (uint64_t)e->blob_page + e->npages > d.count)
        rc = lv_err(LV_ERR_CORRUPT, "delta run beyond its frames");
    for (uint32_t k = 0; rc == LV_OK && k < e->npages; k++) {
        const uint8_t *frame;
        size_t flen;
        lv_pgdelta_frame(&d, e->blob_page + k, &frame, &flen);
        lv_buf_reserve(out, bs);
        rc = lv_pgdelta_apply(NULL, frame, flen, base.data + ((size_t)e->base_page + k) * bs, out->data + out->len, bs);
        if (rc == LV_OK)
            out->len += bs;
    }
    lv_buf_free(&base);
    lv_buf_free(&delta);
    return rc;
}

static int rebuild(lv_repo *r, const lv_pgman *m, const lv_pgman_file *f, lv_buf *out)
{
    lv_buf blob = LV_BUF_INIT;
    int rc = LV_OK;
    for (uint32_t i = 0; i < f->nextents && rc == LV_OK; i++) {
        const lv_pgman_extent *e = &f->extents[i];
        lv_buf_reset(&blob);
        if (f->kind == LV_PGF_PAGES && e->delta) {
            rc = rebuild_delta(r, m, e, out);
            continue;
        }
        if ((rc = lv_blob_get(r, e->blob, &blob)) != LV_OK)
            break;
        if (f->kind == LV_PGF_WHOLE)
            lv_buf_append(out, blob.data, blob.len);
        else if ((uint64_t)(e->blob_page + e->npages) * m->block_size <= blob.len)
            lv_buf_append(out, blob.data + (size_t)e->blob_page * m->block_size, (size_t)e->npages * m->block_size);
        else
            rc = lv_err(LV_ERR_CORRUPT, "%s: extent %u beyond its blob", f->path, i);
    }
    lv_buf_free(&blob);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_catalog *cat = NULL;
    lv_pgman m;
    memset(&m, 0, sizeof m);
    int rc = lv_test_repo_open(argv[1], &st, &r, &cat);
    if (rc == LV_OK)
        rc = lv_pgman_load(r, argv[2], &m);
    unsigned compared = 0, differ = 0;
    for (uint32_t i = 0; rc == LV_OK && i < m.nfiles; i++) {
        const lv_pgman_file *f = &m.files[i];
        int wanted = argc == 4;
        for (int k = 4; k < argc && !wanted; k++)
            wanted = strcmp(argv[k], f->path) == 0;
        if (!wanted)
            continue;
        lv_buf a = LV_BUF_INIT, b = LV_BUF_INIT;
        char *path = lv_xasprintf("%s/%s", argv[3], f->path);
        if ((rc = rebuild(r, &m, f, &a)) == LV_OK) {
            int same = lv_read_file(path, &b) == LV_OK && a.len == b.len && a.len == f->size &&
                       (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
            lv_err_clear();
            compared++;
            if (!same) {
                differ++;
                printf("differs: %s\n", f->path);
            }
        }
        free(path);
        lv_buf_free(&a);
        lv_buf_free(&b);
    }
    for (int k = 4; rc == LV_OK && k < argc; k++)
        if (lv_pgman_find(&m, argv[k]) < 0) {
            differ++;
            printf("missing: %s\n", argv[k]);
        }
    if (rc == LV_OK)
        printf("%u compared, %u differ\n", compared, differ);
    else
        fprintf(stderr, "pgman_compare: %s\n", lv_errmsg());
    lv_pgman_free(&m);
    if (cat)
        lv_catalog_close(cat);
    if (r)
        lv_repo_close(r);
    if (st)
        lv_store_close(st);
    return rc != LV_OK ? 2 : differ ? 1 : 0;
}
