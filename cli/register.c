/* Registration of every module's manifest kinds, check steps and catalog-rebuild steps, in one place,
 * called once by main() before any thread starts: repo check must know how to walk each manifest kind
 * and check each module's objects, and catalog rebuild must refill (or empty) each module's derived
 * tables, whatever command runs. */
#include "backup/files_cache.h"
#include "cli/cli.h"
#include "drills/drill.h"
#include "pg/manifest.h"
#include "snapshot/snapshot.h"
#include "wal/walcat.h"
#include "wal/repo_check.h"
#include "wal/walmap.h"

void lv_register_modules(void)
{
    lv_snap_register();
    lv_fcache_register();
    lv_pgman_register();
    lv_walcat_register();
    lv_wal_repo_check_register();
    lv_walmap_check_register();
    lv_drill_register();
}
