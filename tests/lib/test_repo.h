/* The way of the tests' own C tools into a repository (header only: each tool is one file): the store
 * at url (S3 settings from the harness's LV_TEST_S3_* variables), the repository opened with the key file
 * in LABVAULT_KEY_FILE, and the catalog in LABVAULT_CATALOG attached to it. The caller closes all three
 * (each NULL when not opened). */
#ifndef LV_TESTS_LIB_TEST_REPO_H
#define LV_TESTS_LIB_TEST_REPO_H

#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/error.h"
#include "repo/repo.h"
#include "store/store.h"

static inline int lv_test_repo_open(const char *url, lv_store **st, lv_repo **r, lv_catalog **cat)
{
    lv_store_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = getenv("LV_TEST_S3_ENDPOINT");
    o.access_key = getenv("LV_TEST_S3_ACCESS_KEY");
    o.secret_key = getenv("LV_TEST_S3_SECRET_KEY");
    o.region = getenv("LV_TEST_S3_REGION");
    lv_credential cred = {.key_file = getenv("LABVAULT_KEY_FILE")};
    *st = NULL;
    *r = NULL;
    *cat = NULL;
    int rc = lv_store_open(url, &o, st);
    if (rc == LV_OK)
        rc = lv_repo_open(*st, &cred, r);
    if (rc == LV_OK && (rc = lv_catalog_open(getenv("LABVAULT_CATALOG"), (*r)->id_hex, cat)) == LV_OK)
        (*r)->cat = *cat;
    return rc;
}

#endif
