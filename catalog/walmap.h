/* The WAL block maps in the catalog (schema: migration 6): one row per archived segment's block map
 * (wal/blockmap.h), so that an incremental backup reads the maps of its range without a download.
 *
 * wal_maps(segment, format, map): the segment's name; the map's format version (0 when only the object
 * walmap/<segment> is known); the encoded map (lv_blkmap_encode), or NULL when only the object is
 * known (a rebuilt catalog, another host's push: the first backup that needs it downloads it and records
 * it). Derived from the repository: `catalog rebuild` refills the rows from the listing of walmap/, catalog
 * sync adds the rows of maps it lacks and forgets those of maps gone (expired with their segments). Same
 * threading and error rules as catalog/catalog.h. */
#ifndef LV_CATALOG_WALMAP_H
#define LV_CATALOG_WALMAP_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "common/buf.h"

/* Record segment's map: its format and encoded bytes, or (map NULL) only that the object exists, which
 * never replaces a row that has the bytes. */
int lv_catalog_walmap_put(lv_catalog *c, const char *segment, uint32_t format, const void *map, size_t len);
/* The row of segment: LV_ERR_NOT_FOUND without one; else *have says whether its bytes are known (appended
 * to out when they are). */
int lv_catalog_walmap_get(lv_catalog *c, const char *segment, int *have, lv_buf *out);
/* Every row's segment, in name order (repo check). */
int lv_catalog_walmap_each(lv_catalog *c, int (*cb)(void *arg, const char *segment), void *arg);

/* The names a listing of walmap/ saw (catalog sync): begin, add each, end (forget: delete the rows of the
 * names not added, *removed counts them). end frees s whatever happens. */
typedef struct lv_catalog_walmap_seen lv_catalog_walmap_seen;
int lv_catalog_walmap_seen_begin(lv_catalog *c, lv_catalog_walmap_seen **out);
int lv_catalog_walmap_seen_add(lv_catalog_walmap_seen *s, const char *segment);
int lv_catalog_walmap_seen_end(lv_catalog_walmap_seen *s, int forget, int64_t *removed);

#endif
