/* File snapshots: the manifest of kind "files" and the lookups the commands share.
 *
 * A snapshot is one manifest (repo/manifest.h) of kind LV_SNAP_KIND:
 *   summary  JSON object for listings: host, paths, tags, source, counts and bytes (docs/snapshots.md)
 *   body     "LVSN" || version (1) || page_count (4) || page_count * tree blob id (32)
 * The body names the pages of the root directory (snapshot/tree.h); everything else hangs off them.
 * The root holds the backed-up paths as they are on the host (/etc/nginx is etc -> nginx), a stream
 * from --stdin under its name, or a tar archive's own top level.
 *
 * lv_snap_register makes `repo check` walk every snapshot's trees: every tree page and data blob they
 * reference must be indexed. Call it at startup. */
#ifndef LV_SNAPSHOT_SNAPSHOT_H
#define LV_SNAPSHOT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "snapshot/tree.h"

#define LV_SNAP_KIND "files"
#define LV_SNAP_MAGIC "LVSN"
#define LV_SNAP_VERSION 1

/* Body codec. parse is strict (exact length, magic, version) and returns a view into body. */
void lv_snap_body_encode(const uint8_t *pages, uint32_t npages, lv_buf *out);
int lv_snap_body_parse(const uint8_t *body, size_t len, const uint8_t **pages, uint32_t *npages,
                       const char *what);

/* SNAPSHOT argument -> manifest id: a full id, a unique prefix (at least 4 hex digits) or "latest"
 * (the newest files snapshot in the catalog that filter allows: snapshot/summary.h; NULL: any; an id
 * names its snapshot whatever the filter). LV_ERR_NOT_FOUND when nothing matches, LV_ERR_USAGE when a
 * prefix is ambiguous or malformed. */
struct lv_snap_filter;
int lv_snap_resolve(lv_catalog *c, const char *spec, const struct lv_snap_filter *filter,
                    char id[2 * LV_HASH_LEN + 1]);

/* Read a snapshot's manifest and check it is of kind files; *pages points into m->body. */
int lv_snap_open(const lv_repo *r, const char *id, lv_manifest *m, const uint8_t **pages,
                 uint32_t *npages);

/* Copy a node so that it outlives the page it came from: encoded into store (reset first), views
 * re-pointed there. */
void lv_node_copy(const lv_node *n, lv_buf *store, lv_node *out);

/* Registration for repo check (see above). Idempotent. */
int lv_snap_register(void);

#endif
