/* Manifests in the catalog (schema: migration 1): one row per backup or snapshot, its kind, time and
 * summary, the commit points the listings and restores choose from. Derived from the repository:
 * `catalog rebuild` refills it from manifests/. The summary is the manifest's own JSON text; each kind
 * decodes it with its typed codec (pg/summary.h, snapshot/summary.h). */
#ifndef LV_CATALOG_MANIFESTS_H
#define LV_CATALOG_MANIFESTS_H

#include <stdint.h>

#include "catalog/catalog.h"

typedef struct lv_manifest_row {
    char id[65];
    char kind[16];
    int64_t time;        /* unix seconds, end of the backup */
    const char *summary; /* JSON text owned by the catalog during the callback */
} lv_manifest_row;

/* Add (or replace: the same id is the same manifest) / remove one row. summary_json NULL is "{}". */
int lv_catalog_manifest_add(lv_catalog *c, const char *id, const char *kind, int64_t time,
                            const char *summary_json);
int lv_catalog_manifest_remove(lv_catalog *c, const char *id);
/* Every row of kind (NULL = all), ordered by time, then id. */
int lv_catalog_manifest_each(lv_catalog *c, const char *kind,
                             int (*cb)(void *arg, const lv_manifest_row *m), void *arg);
/* The manifest of kind whose id starts with prefix: *matches is 0, 1 (id filled) or 2 (ambiguous: more
 * than one). */
int lv_catalog_manifest_prefix(lv_catalog *c, const char *kind, const char *prefix, char id[65], int *matches);

#endif
