/* The checks of a PostgreSQL drill, run against the recovered scratch cluster (drills/postgres.h):
 *   connect DB    every database that allows connections accepts one;
 *   amcheck       pg_amcheck --all --install-missing --heapallindexed (heap and B-tree checks of every
 *                 database; B-tree only on PostgreSQL 13, whose amcheck has no heap check), when the
 *                 amcheck extension is available; otherwise recorded as skipped (pg_amcheck from pg-bin,
 *                 else the newest /usr/lib/postgresql/<N>/bin: lv_spg_client);
 *   visibility DB pg_check_visible / pg_check_frozen empty for every table and index-only count(*) equal
 *                 to sequential count(*) for every table with a B-tree index, in every database, when
 *                 pg_visibility is available (created in the scratch copy); otherwise skipped;
 *   rows          each ordinary table's row count equals the one the backup recorded (pg/manifest.h),
 *                 only when the drill recovered to the backup's own end point and the counts are exact
 *                 (rows_lsn != 0); otherwise recorded as skipped;
 *   user: SQL     the user checks of the drill-checks file: the first column of the first row, as text
 *                 (NULL is "NULL", no row is "(no rows)"), must equal the expected text exactly.
 * Every result goes into the drill record (lv_drill_check_add). Checks file syntax, one per line, '#'
 * comments and blank lines ignored:
 *     [@DATABASE] EXPECTED | SQL            e.g.  @shop t | SELECT count(*) > 0 FROM orders
 * DATABASE defaults to postgres. A malformed line is LV_ERR_CONFIG naming FILE:LINE (checked before the
 * drill restores anything). */
#ifndef LV_DRILLS_CHECKS_H
#define LV_DRILLS_CHECKS_H

#include <stddef.h>

#include "drills/drill.h"
#include "drills/postgres.h"
#include "pg/manifest.h"

typedef struct lv_user_check {
    char *db, *expected, *sql;
} lv_user_check;

int lv_user_checks_load(const char *file, lv_user_check **out, size_t *n);
void lv_user_checks_free(lv_user_check *c, size_t n);

/* Run every check; m is the backup's manifest when the row counts apply (else NULL). Returns LV_OK
 * (failures are in d) or LV_ERR_INTERRUPTED. */
int lv_drill_checks_run(lv_drill *d, const lv_spg *p, const char *user, const lv_pgman *m,
                        const lv_user_check *uc, size_t nuc);

#endif
