/* Tidying after a commit (contract in repo/tidy.h). */
#include "repo/tidy.h"

#include "common/error.h"
#include "common/log.h"

uint64_t lv_repo_tidy(lv_repo *r, const char *const *prefixes, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t removed = 0;
        if (lv_store_temp_sweep(r->store, prefixes[i], &removed) != LV_OK)
            lv_warn("cannot look for stale temporary objects under %s: %s",
                    *prefixes[i] ? prefixes[i] : "the repository", lv_errmsg());
        total += removed;
    }
    return total;
}

void lv_repo_tidy_backup(lv_repo *r)
{
    static const char *const prefixes[] = {"data/", "index/", "manifests/", "catalog/"};
    lv_repo_tidy(r, prefixes, sizeof prefixes / sizeof *prefixes);
    lv_store_keys k;
    int rc = lv_store_list_keys(r->store, "catalog/", &k);
    if (rc == LV_OK && k.n)
        rc = lv_store_del_many(r->store, (const char *const *)k.v, k.n);
    if (rc != LV_OK)
        lv_warn("cannot remove the obsolete catalog copies under catalog/: %s", lv_errmsg());
    else if (k.n)
        lv_info("removed %zu obsolete catalog cop%s under catalog/ (nothing reads them)", k.n,
                k.n == 1 ? "y" : "ies");
    lv_store_keys_free(&k);
}
