/* Test helper: a copy of a pg backup whose recorded row count of one table is off, as a backup that missed
 * rows would look to a drill (the restored table then holds fewer rows than the manifest says).
 *   pgman_rows REPO MANIFEST_ID TABLE DELTA   (credential: LABVAULT_KEY_FILE; catalog: LABVAULT_CATALOG;
 *   S3: LV_TEST_S3_*). Adds DELTA to the rows of every relation named TABLE, writes the manifest as a new
 *   one (same summary) and prints its id; exit 0, 1 when no counted relation has that name, 2 on errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/catalog.h"
#include "pg/manifest.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/lib/test_repo.h"

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_catalog *cat = NULL;
    lv_manifest mf;
    memset(&mf, 0, sizeof mf);
    lv_pgman m;
    memset(&m, 0, sizeof m);
    lv_buf body = LV_BUF_INIT;
    int found = 0;
    char id[2 * LV_HASH_LEN + 1];
    int rc = lv_test_repo_open(argv[1], &st, &r, &cat);
    if (rc == LV_OK)
        rc = lv_manifest_read(r, argv[2], &mf);
    if (rc == LV_OK)
        rc = lv_pgman_parse(mf.body, mf.body_len, &m);
    for (uint32_t i = 0; rc == LV_OK && i < m.ndatabases; i++)
        for (uint32_t j = 0; j < m.databases[i].nrelations; j++) {
            lv_pgman_relation *rel = &m.databases[i].relations[j];
            if (strcmp(rel->name, argv[3]) == 0 && rel->rows >= 0) {
                rel->rows += strtoll(argv[4], NULL, 10);
                found = 1;
            }
        }
    if (rc == LV_OK && found && (rc = lv_pgman_encode(&m, &body)) == LV_OK)
        rc = lv_manifest_write(r, mf.kind, 0, mf.summary, body.data, body.len, id);
    if (rc == LV_OK && found)
        printf("%s\n", id);
    else if (rc != LV_OK)
        fprintf(stderr, "pgman_rows: %s\n", lv_errmsg());
    lv_buf_free(&body);
    lv_pgman_free(&m);
    lv_manifest_free(&mf);
    if (cat)
        lv_catalog_close(cat);
    if (r)
        lv_repo_close(r);
    if (st)
        lv_store_close(st);
    return rc != LV_OK ? 2 : found ? 0 : 1;
}
