/* Streaming construction of snapshot trees (snapshot/tree.h) into tree blobs.
 *
 * The caller walks its source depth first and, for each directory: lv_tb_enter, lv_tb_add for every
 * entry in increasing name order (a subdirectory's own enter..leave happens before its node is added),
 * then lv_tb_leave, which stores the last page and returns the page ids that go into the directory's
 * node. The root level is entered by the caller too; its page ids go into the snapshot's manifest.
 *
 * Memory: one page buffer (at most LV_TREE_PAGE_TARGET, or one node above it) per open level, so it is
 * bounded by the depth of the tree, not by its size: a page is handed to the packer as soon as it is
 * full. Pages are LV_BLOB_TREE blobs; identical pages (an unchanged directory) dedup like any blob.
 *
 * Errors: a name out of order is LV_ERR_INTERNAL (a bug of the caller); a node that cannot fit in one
 * blob is LV_ERR_USAGE naming it (the caller reports and skips that entry); packer errors pass through. */
#ifndef LV_SNAPSHOT_TREEBUILD_H
#define LV_SNAPSHOT_TREEBUILD_H

#include <stdint.h>

#include "common/buf.h"
#include "repo/blobstore.h"
#include "snapshot/tree.h"

typedef struct lv_treebuild lv_treebuild;

typedef struct lv_treebuild_stats {
    uint64_t pages, pages_new;     /* tree blobs written / of which not stored before */
    uint64_t bytes, bytes_new;     /* their plaintext bytes */
} lv_treebuild_stats;

lv_treebuild *lv_tb_new(lv_packer *p);
void lv_tb_free(lv_treebuild *tb);
void lv_tb_enter(lv_treebuild *tb);
int lv_tb_add(lv_treebuild *tb, const lv_node *n);
/* Pops the level; *pages (owned by tb, valid until the next enter/leave) holds npages ids. */
int lv_tb_leave(lv_treebuild *tb, const uint8_t **pages, uint32_t *npages);
int lv_tb_depth(const lv_treebuild *tb);
void lv_tb_stats(const lv_treebuild *tb, lv_treebuild_stats *st);

#endif
