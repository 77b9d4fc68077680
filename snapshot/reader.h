/* Reading snapshot trees: directory pages fetched one at a time, so walking a tree needs memory for one
 * page per level of depth, never the whole tree.
 *
 * A tree source is a fetch function that returns a blob's verified plaintext (lv_blob_get for commands
 * with a catalog; repo check has its own, from the index objects). lv_dir_reader iterates over a
 * directory's entries across all its pages, checks each page strictly (lv_tree_page_open) and checks
 * that names keep increasing from one page to the next. Node views stay valid until the next call of
 * lv_dir_next on the same reader. */
#ifndef LV_SNAPSHOT_READER_H
#define LV_SNAPSHOT_READER_H

#include <stdint.h>

#include "common/buf.h"
#include "repo/repo.h"
#include "snapshot/tree.h"

typedef int (*lv_tree_fetch_fn)(const void *arg, const uint8_t id[LV_HASH_LEN], lv_buf *out);

typedef struct lv_tree_src {
    lv_tree_fetch_fn fetch;
    const void *arg;
} lv_tree_src;

/* The source for an opened repository with its catalog attached (lv_blob_get). */
lv_tree_src lv_tree_src_repo(const lv_repo *r);

typedef struct lv_dir_reader {
    lv_tree_src src;
    lv_buf ids;        /* the directory's page ids (copied) */
    uint32_t npages, next;
    lv_buf buf;        /* the current page */
    lv_tree_page pg;
    lv_tree_cursor cur;
    int open;          /* a page is loaded */
    lv_buf last;       /* last name returned, for the cross-page order check */
} lv_dir_reader;

void lv_dir_init(lv_dir_reader *d, lv_tree_src src, const uint8_t *pages, uint32_t npages);
/* *got = 1 and n set for the next entry, *got = 0 at the end. Errors: the fetch's, or LV_ERR_CORRUPT
 * for a malformed page (naming the tree blob). */
int lv_dir_next(lv_dir_reader *d, lv_node *n, int *got);
void lv_dir_free(lv_dir_reader *d);

/* Find the node at a slash-separated snapshot path ("etc/nginx/nginx.conf"; leading, trailing and
 * repeated slashes are ignored; "" or "/" is the root, reported with *is_root = 1 and no node). The
 * node is copied into store. LV_ERR_NOT_FOUND when a component is missing or not a directory. */
int lv_tree_lookup(lv_tree_src src, const uint8_t *root, uint32_t nroot, const char *path, lv_buf *store,
                   lv_node *out, int *is_root);

#endif
