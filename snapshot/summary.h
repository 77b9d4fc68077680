/* The summary of a file snapshot: the JSON object stored in its manifest's envelope (repo/manifest.h)
 * and in the catalog's manifests table, which `snapshots`, "latest" and retention read instead of
 * downloading the manifest. Its one codec: backup files encodes it, everyone else decodes it.
 *
 * The JSON keys, in the order written: host, source ("paths"|"stdin"|"tar"), paths and tags (arrays of
 * strings), stdin_name, tar, docker_volume, compose_project (each only when set), docker_volumes (only
 * when there are any: an array of {"name", "path"}, the docker volumes whose mount points are among
 * paths, which path is which volume), files_new, files_changed, files_unchanged,
 * dirs, others, errors, bytes_total, bytes_read, bytes_new, bytes_stored, blobs_new, trees_new, seconds,
 * end_ns (the wall clock at the end in nanoseconds: it orders snapshots taken within one second, which
 * manifest times cannot), incomplete.
 *
 * Decode needs a JSON object whose host and source are strings (LV_ERR_CORRUPT otherwise); the rest is
 * lenient (absent or malformed: zero, empty) and unknown keys are ignored. */
#ifndef LV_SNAPSHOT_SUMMARY_H
#define LV_SNAPSHOT_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "common/buf.h"

typedef struct lv_snap_volume {
    char *name, *path;               /* a docker volume and its mount point */
} lv_snap_volume;

typedef struct lv_snap_summary {
    char host[256];
    char source[8];
    char **paths, **tags;            /* owned (lv_snap_summary_free) */
    size_t npaths, ntags;
    char stdin_name[256];            /* "" when not set, like tar and docker_volume */
    char tar[4096];
    char docker_volume[256];
    char compose_project[256];
    lv_snap_volume *volumes;         /* owned, like paths */
    size_t nvolumes;
    uint64_t files_new, files_changed, files_unchanged, dirs, others, errors;
    uint64_t bytes_total, bytes_read, bytes_new, bytes_stored, blobs_new, trees_new;
    double seconds;
    int64_t end_ns;
    int incomplete;
} lv_snap_summary;

void lv_snap_summary_encode(const lv_snap_summary *s, lv_buf *out);
/* Parse json into *s (zeroed first; free it with lv_snap_summary_free, also after a failure). */
int lv_snap_summary_decode(const char *json, lv_snap_summary *s);
void lv_snap_summary_free(lv_snap_summary *s);

/* Every files snapshot in the catalog, oldest first: manifest time, then end_ns, then id. A row whose
 * summary does not decode is listed with an empty summary (and a warning), so it can still be named. */
typedef struct lv_snap_row {
    char id[65];
    int64_t time;
    char *summary_json;              /* the summary's text, owned */
    lv_snap_summary s;
} lv_snap_row;
int lv_snap_list(lv_catalog *c, lv_snap_row **out, size_t *n);
void lv_snap_list_free(lv_snap_row *rows, size_t n);

/* Which snapshots a listing, a search or "latest" means (restic's --host, --tag, --path). A snapshot
 * matches when its host is one of hosts, it has every tag of one of tags (each a group "a,b"), and its
 * paths include every one of paths (trailing slashes ignored); an empty list allows anything. */
typedef struct lv_snap_filter {
    const char *const *hosts, *const *tags, *const *paths;
    size_t nhosts, ntags, npaths;
} lv_snap_filter;
int lv_snap_filter_match(const lv_snap_filter *f, const lv_snap_summary *s);
/* "--host h, --tag t" for messages ("" for no filter); static buffer. */
const char *lv_snap_filter_text(const lv_snap_filter *f);

#endif
