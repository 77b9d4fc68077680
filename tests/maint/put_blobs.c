/* Test fixture: store N random blobs (in several small packs) and one manifest into an existing
 * repository through the library, so the CLI tests have real packs to damage. Usage:
 *   put_blobs URL N        (credential: LABVAULT_KEY_FILE; catalog: LABVAULT_CATALOG; S3: LV_TEST_S3_*)
 * Prints the number of packs written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "crypto/crypto.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "repo/blobstore.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/lib/test_repo.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_catalog *cat = NULL;
    lv_packer *p = NULL;
    int rc = lv_test_repo_open(argv[1], &st, &r, &cat);
    if (rc == LV_OK) {
        lv_packer_opts po = {.pack_size = 1 << 20, .workers = 0, .upload_queue = 0, .index_every = 0};
        rc = lv_packer_new_opts(r, &po, &p);
    }
    size_t n = (size_t)atoi(argv[2]), size = 300 * 1024;
    uint8_t *data = lv_xmalloc(size), id[LV_HASH_LEN];
    for (size_t i = 0; rc == LV_OK && i < n; i++) {
        lv_random(data, size);
        rc = lv_packer_add(p, LV_BLOB_DATA, data, size, id, NULL);
    }
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    lv_packer_stats s;
    memset(&s, 0, sizeof s);
    if (p)
        lv_packer_get_stats(p, &s);
    char mid[65];
    if (rc == LV_OK)
        rc = lv_manifest_write(r, "test", 0, "{\"fixture\":true}", "body", 4, mid);
    if (rc == LV_OK)
        printf("%llu\n", (unsigned long long)s.packs);
    else
        fprintf(stderr, "put_blobs: %s\n", lv_errmsg());
    free(data);
    lv_packer_free(p);
    if (r)
        lv_repo_close(r);
    if (cat)
        lv_catalog_close(cat);
    if (st)
        lv_store_close(st);
    return rc;
}
