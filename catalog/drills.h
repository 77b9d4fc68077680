/* Drill records in the catalog (schema: migration 4): one row per drill, the record's JSON text
 * (drills/drill.h, the same bytes as the repository object drills/<id>) with the columns the history and
 * the report order and filter by, taken from the record itself by SQLite's JSON functions so that the
 * record is the one source. Derived: `catalog rebuild` refills it from drills/ in the repository. */
#ifndef LV_CATALOG_DRILLS_H
#define LV_CATALOG_DRILLS_H

#include <stdint.h>

#include "catalog/catalog.h"

/* Insert (or replace: the same id is the same drill) one record. key_id, when given, must be the
 * record's own id (a rebuild refuses an object whose content claims another name). A record without a
 * text id and kind, a numeric started or a boolean passed is LV_ERR_CORRUPT. */
int lv_catalog_drill_put(lv_catalog *c, const char *json, const char *key_id);

/* The ids of every recorded drill, in order (repo check compares them with the repository's). */
int lv_catalog_drill_ids(lv_catalog *c, int (*cb)(void *arg, const char *id), void *arg);

/* History, oldest first; limit 0 = all (else the newest `limit`). The strings are valid during the
 * callback; json is the whole record. */
typedef struct lv_drill_row {
    const char *json, *id, *kind, *source, *started_at, *target, *error; /* error "" when passed */
    int passed;
    double rto, rpo;                 /* rpo -1: unknown */
} lv_drill_row;
int lv_catalog_drill_history(lv_catalog *c, int limit, int (*cb)(void *arg, const lv_drill_row *row), void *arg);

/* Every drill, oldest first, with what the HTML report shows. Strings are valid during the callback. */
typedef struct lv_drill_report_row {
    const char *id, *kind, *source, *started_at, *target, *error;
    int passed;
    double started, rto, download, write, replay, rpo; /* rpo -1: unknown */
    int64_t bytes_fetched, segments_fetched;
} lv_drill_report_row;
int lv_catalog_drill_report(lv_catalog *c, int (*cb)(void *arg, const lv_drill_report_row *row), void *arg);

/* The checks of drill id, failed ones first, in record order. */
int lv_catalog_drill_checks(lv_catalog *c, const char *id,
                            int (*cb)(void *arg, const char *name, int ok, const char *detail), void *arg);

#endif
