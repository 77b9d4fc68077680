/* Tidying after a commit: remove what interrupted writers left behind, so that a kill -9 costs no space
 * for long.
 *
 *   temporaries    the store's leftovers of interrupted puts under the given prefixes, once stale
 *                  (store.h: lv_store_temp_sweep, which says why removing them is safe while other
 *                  writers run);
 *   catalog/       copies of local catalogs that earlier versions uploaded after every commit. Nothing
 *                  reads them (the drill history they were kept for is in drills/, everything else is
 *                  rebuilt from the repository), so they are removed whole, with the temporaries their
 *                  uploads left.
 *
 * Each command tidies what commands of its kind write (a backup: data/, index/, manifests/ and
 * catalog/; a drill: drills/; a WAL push: its timeline's directory, now and then), so the sweep costs
 * one listing of places the command writes anyway; `repo unlock` tidies everything. A failure here never
 * fails the command that committed: it is logged, and the next one tries again. */
#ifndef LV_REPO_TIDY_H
#define LV_REPO_TIDY_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

/* Stale temporaries under each prefix ("" = the whole repository). Returns how many were removed. */
uint64_t lv_repo_tidy(lv_repo *r, const char *const *prefixes, size_t n);

/* After a backup committed: temporaries in data/, index/, manifests/, and catalog/ (everything there). */
void lv_repo_tidy_backup(lv_repo *r);

#endif
