/* Test driver of the files drill's comparison (lv_drill_compare_files) on a tree the test restored and
 * then changed:  compare_helper REPO_DIR KEY_FILE CATALOG SNAPSHOT DIR
 * prints one line per check ("ok|FAIL name: detail") and exits 0 when nothing differs, 12 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "drills/drill.h"
#include "catalog/catalog.h"
#include "snapshot/snapshot.h"
#include "store/store.h"

int main(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_catalog *cat = NULL;
    lv_store_opts so;
    memset(&so, 0, sizeof so);
    lv_credential cred = {.key_file = argv[2]};
    char id[2 * LV_HASH_LEN + 1];
    lv_drill d;
    lv_drill_begin(&d, "files");
    int rc = lv_store_open(argv[1], &so, &st);
    if (rc == LV_OK)
        rc = lv_repo_open(st, &cred, &r);
    if (rc == LV_OK)
        rc = lv_catalog_open(argv[3], r->id_hex, &cat);
    if (rc == LV_OK) {
        r->cat = cat;
        rc = lv_snap_resolve(cat, argv[4], NULL, id);
    }
    if (rc == LV_OK)
        rc = lv_drill_compare_files(r, &d, id, argv[5]);
    if (rc == LV_OK) {
        for (uint32_t i = 0; i < d.nchecks; i++)
            printf("%s %s: %s\n", d.checks[i].ok ? "ok" : "FAIL", d.checks[i].name, d.checks[i].detail);
        rc = d.failed ? LV_ERR_CHECK : LV_OK;
    } else {
        fprintf(stderr, "compare_helper: %s\n", lv_errmsg());
    }
    lv_drill_free(&d);
    lv_catalog_close(cat);
    lv_repo_close(r);
    lv_store_close(st);
    return rc;
}
