/* A copy of the catalog in the repository: catalog/<host>, sealed like every other object.
 *
 * The catalog's repository-derived tables can always be rebuilt from index/ and manifests/; its local
 * events (drill history, run journal) cannot. So after a command commits something, the whole catalog
 * is copied (a consistent SQLite snapshot, VACUUM INTO) into the repository, one object per host,
 * replaced each time: the history then survives the host. */
#ifndef LV_MAINT_CATALOG_COPY_H
#define LV_MAINT_CATALOG_COPY_H

#include "catalog/catalog.h"
#include "repo/repo.h"

/* Upload a sealed snapshot of c to catalog/<host>. */
int lv_catalog_copy_upload(lv_repo *r, lv_catalog *c);
/* Download catalog/<host> (host NULL = this host), verify it, and write it to dest_path (a new file). */
int lv_catalog_copy_download(lv_repo *r, const char *host, const char *dest_path);

#endif
