/* Snapshot trees: the binary encoding of directories, stored as tree blobs (LV_BLOB_TREE).
 *
 * A directory's entries, sorted by name, are stored in one or more pages; each page is one tree blob.
 * A directory node lists its pages' blob ids, so a tree is a Merkle tree: an unchanged subtree has the
 * same ids and is stored once, whatever snapshot or host it comes from. Pages exist only so that a
 * huge directory never needs a blob above LV_BLOB_MAX; a page is closed after LV_TREE_PAGE_TARGET
 * bytes (docs/snapshots.md has the format with the reasons). Integers are little-endian.
 *
 *   page    = "LVTR" || version (1) || count (4) || count * node          count >= 1
 *   node    = name_len (2) || name || type (1) || mode (4) || uid (4) || gid (4)
 *             || user_len (1) || user || group_len (1) || group
 *             || mtime_sec (8, signed) || mtime_nsec (4) || ctime_sec (8, signed) || ctime_nsec (4)
 *             || dev (8) || ino (8) || nlink (4)
 *             || xattr_count (2) || xattr_count * (name_len (1) || name || value_len (4) || value)
 *             || type-specific part:
 *     file      size (8) || extent_count (4) || extent_count * (offset (8) || length (4) || blob id (32))
 *     dir       page_count (4) || page_count * tree blob id (32)
 *     symlink   target_len (2) || target
 *     chr, blk  rdev (8)
 *     fifo      (nothing)
 *
 * File content is a list of extents (data blobs at offsets); the gaps between them and after the last
 * one, up to size, are holes, restored as holes. Hardlinks: non-directories with nlink > 1 that share
 * (dev, ino) within one snapshot are one inode.
 *
 * Parser contract (lv_tree_page_open): accepts only what lv_tree_node_encode writes, so every accepted
 * page re-encodes to the same bytes (fuzzed: tests/fuzz/fuzz_tree.c). LV_ERR_CORRUPT unless: magic and
 * version; count >= 1 and exactly count nodes fill the page; names 1..255 bytes without '/' or NUL and
 * not "." or "..", strictly increasing (bytewise) so unique; type 1..6; mode <= 07777; nanoseconds
 * < 10^9; nlink >= 1; user and group names without NUL; xattr names 1..255 bytes without NUL, strictly
 * increasing, values <= 64 KiB; extents of 1..LV_BLOB_MAX bytes, in offset order, not overlapping, ending
 * at or before size (checked by subtraction, so no sum can wrap); symlink targets 1..4095 bytes without
 * NUL. It reads only [buf, buf + len) and allocates nothing: a node's variable parts are views into the
 * page. */
#ifndef LV_SNAPSHOT_TREE_H
#define LV_SNAPSHOT_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"

#define LV_TREE_MAGIC "LVTR"
#define LV_TREE_VERSION 1
#define LV_TREE_HEADER 9
#define LV_TREE_PAGE_TARGET (4u << 20)  /* close a page once it holds this many bytes */
#define LV_TREE_NAME_MAX 255
#define LV_TREE_TARGET_MAX 4095
#define LV_TREE_XATTR_VALUE_MAX 65536
#define LV_TREE_EXTENT_SIZE 44
#define LV_TREE_MODE_MASK 07777u

enum {
    LV_NODE_FILE = 1,
    LV_NODE_DIR = 2,
    LV_NODE_SYMLINK = 3,
    LV_NODE_FIFO = 4,
    LV_NODE_CHR = 5,
    LV_NODE_BLK = 6
};

/* A node; pointers are views (into a parsed page, or into the caller's buffers when encoding). Strings
 * are not NUL-terminated: use the lengths. */
typedef struct lv_node {
    const char *name;
    size_t name_len;
    uint8_t type;
    uint32_t mode;                 /* permission bits, setuid, setgid, sticky: st_mode & 07777 */
    uint32_t uid, gid;
    const char *user, *group;      /* "" when the id has no name */
    size_t user_len, group_len;
    int64_t mtime_sec, ctime_sec;
    uint32_t mtime_nsec, ctime_nsec;
    uint64_t dev, ino;
    uint32_t nlink;
    uint32_t nxattrs;              /* xattrs: nxattrs records in wire form, xattrs_len bytes */
    const uint8_t *xattrs;
    size_t xattrs_len;
    uint64_t size;                 /* file: logical size */
    uint32_t nextents;             /* file: nextents * LV_TREE_EXTENT_SIZE bytes in wire form */
    const uint8_t *extents;
    uint32_t npages;               /* dir: npages * 32-byte tree blob ids */
    const uint8_t *pages;
    const char *target;            /* symlink */
    size_t target_len;
    uint64_t rdev;                 /* chr, blk */
} lv_node;

typedef struct lv_extent {
    uint64_t offset;
    uint32_t length;
    uint8_t id[LV_HASH_LEN];
} lv_extent;

typedef struct lv_xattr {
    const char *name;              /* not NUL-terminated */
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
} lv_xattr;

/* Wire-form helpers for building a node's variable parts (append to a buffer) and reading them. */
void lv_extent_append(lv_buf *out, uint64_t offset, uint32_t length, const uint8_t id[LV_HASH_LEN]);
void lv_extent_get(const uint8_t *extents, uint32_t i, lv_extent *e);
void lv_xattr_append(lv_buf *out, const char *name, size_t name_len, const void *value, size_t value_len);
/* Iterate xattrs: *pos starts at 0; returns 1 and fills x while records remain, else 0. Only for a node
 * that was encoded or parsed (the records are valid). */
int lv_xattr_next(const lv_node *n, size_t *pos, lv_xattr *x);

const char *lv_node_type_name(unsigned type);   /* "file", "dir", ... */

/* Validate a node as the parser would (except ordering); LV_ERR_INTERNAL naming it when invalid, so a
 * writer cannot produce a page the parser refuses. */
int lv_tree_node_check(const lv_node *n);
/* Bytes of the node's encoding. */
size_t lv_tree_node_size(const lv_node *n);
/* Append the encoding (the node must pass lv_tree_node_check). */
void lv_tree_node_encode(const lv_node *n, lv_buf *out);
/* Page header for count nodes. */
void lv_tree_page_header(uint32_t count, uint8_t out[LV_TREE_HEADER]);

/* Compare names bytewise; a prefix sorts first. */
int lv_tree_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* A validated page. */
typedef struct lv_tree_page {
    const uint8_t *buf;
    size_t len;
    uint32_t count;
} lv_tree_page;

/* Strict parse of a whole page (see above); what names it in the error. */
int lv_tree_page_open(const uint8_t *buf, size_t len, lv_tree_page *pg, const char *what);

/* Iterate the nodes of an opened page. */
typedef struct lv_tree_cursor {
    const uint8_t *p, *end;
    uint32_t left;
} lv_tree_cursor;
void lv_tree_cursor_init(lv_tree_cursor *c, const lv_tree_page *pg);
int lv_tree_cursor_next(lv_tree_cursor *c, lv_node *n);   /* 1 = a node, 0 = end */

#endif
