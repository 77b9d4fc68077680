/* The stream sources of a backup: standard input as one file (--stdin NAME), and the contents of a tar
 * archive (--from-tar FILE|-), read with libarchive (any format and compression it knows).
 *
 * A tar archive lists its entries in any order, may omit parent directories and may name an entry
 * twice, while trees must be built children first in name order. So the archive is read once
 * (streaming: file contents go to the packer as they arrive) and each entry's encoded node is put in a
 * temporary table (catalog/walk_table.h: on disk, deleted when closed), keyed by its path with '/' mapped to a
 * NUL byte: that key order is exactly depth-first name order. A second pass over the sorted keys builds
 * the trees. Memory stays bounded whatever the archive's size.
 *
 * Refused (LV_ERR_CORRUPT, nothing committed): an absolute path, a ".." component, an entry below a
 * non-directory, a hardlink to an entry that is not in the archive. Such an archive could only write
 * outside the restore target or into a symlink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "backup/files_run.h"
#include "catalog/walk_table.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/sort.h"
#include "snapshot/snapshot.h"

static void node_now(lv_bk *b, lv_node *n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    n->uid = (uint32_t)geteuid();
    n->gid = (uint32_t)getegid();
    n->user = lv_bk_user(b, n->uid);
    n->user_len = strlen(n->user);
    n->group = lv_bk_group(b, n->gid);
    n->group_len = strlen(n->group);
    n->mtime_sec = n->ctime_sec = (int64_t)ts.tv_sec;
    n->mtime_nsec = n->ctime_nsec = (uint32_t)ts.tv_nsec;
    n->nlink = 1;
}

static int valid_component(const char *s, size_t n)
{
    return n >= 1 && n <= LV_TREE_NAME_MAX && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.') &&
           !memchr(s, '/', n);
}

int lv_bk_stdin(lv_bk *b, lv_buf *root)
{
    const char *name = b->o->stdin_name;
    if (!valid_component(name, strlen(name)))
        return lv_err(LV_ERR_USAGE, "--stdin %s: give a file name (1 to 255 bytes, no '/', not . or ..)", name);
    uint64_t size = 0;
    int bad = 0;
    lv_tb_enter(b->tb);
    int rc = lv_bk_read_seq(b, 0, "standard input", &size, &bad);
    if (rc != LV_OK)
        return rc;
    lv_node n;
    memset(&n, 0, sizeof n);
    n.name = name;
    n.name_len = strlen(name);
    n.type = LV_NODE_FILE;
    n.mode = 0600; /* a dump of something else: readable by its owner only */
    node_now(b, &n);
    n.size = size;
    n.extents = b->extents.data;
    n.nextents = (uint32_t)(b->extents.len / LV_TREE_EXTENT_SIZE);
    b->st.files_new++;
    b->st.bytes_total += size;
    const uint8_t *ids;
    uint32_t nids;
    if ((rc = lv_tb_add(b->tb, &n)) == LV_OK && (rc = lv_tb_leave(b->tb, &ids, &nids)) == LV_OK)
        lv_buf_append(root, ids, (size_t)nids * LV_HASH_LEN);
    return rc;
}

/* ---- tar -------------------------------------------------------------------------------------- */

typedef struct tarin {
    lv_bk *b;
    struct archive *a;
    const char *src;
    char *what;        /* "tar SRC", for the table's messages */
    lv_walk_table *tab;
    int64_t next_ino;
    lv_buf key, node, xattrs;
} tarin;

/* Normalize an archive path into key (components joined by NUL): "./a//b/" -> "a\0b". */
static int tar_key(tarin *t, const char *path, lv_buf *key)
{
    lv_buf_reset(key);
    if (path[0] == '/')
        return lv_err(LV_ERR_CORRUPT, "tar %s: entry \"%s\" has an absolute path: refused", t->src, path);
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return lv_err(LV_ERR_CORRUPT, "tar %s: entry \"%s\" has a \"..\" component: refused", t->src, path);
        if (n > LV_TREE_NAME_MAX)
            return lv_err(LV_ERR_CORRUPT, "tar %s: entry \"%s\": a name longer than 255 bytes", t->src, path);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (key->len)
                lv_buf_append(key, "", 1);
            lv_buf_append(key, p, n);
        }
        p += n;
        while (*p == '/')
            p++;
    }
    return LV_OK;
}

/* Stored row: page header + the node (so it opens as a one-node page), synthetic flag, inode. */
static int row_get(tarin *t, const lv_buf *key, lv_buf *page, int *synth, int64_t *ino, int *found)
{
    return lv_walk_table_get(t->tab, key->data, key->len, page, synth, ino, found);
}

static int row_put(tarin *t, const lv_buf *key, const lv_node *n, int synth, int64_t ino)
{
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(1, h);
    lv_buf_reset(&t->node);
    lv_buf_append(&t->node, h, sizeof h);
    lv_tree_node_encode(n, &t->node);
    lv_walk_entry e = {key->data, key->len, t->node.data, t->node.len, synth, ino, 0};
    return lv_walk_table_put(t->tab, &e);
}

static const char *last_name(const lv_buf *key, size_t *len)
{
    size_t i = key->len;
    while (i > 0 && key->data[i - 1] != '\0')
        i--;
    *len = key->len - i;
    return (const char *)key->data + i;
}

/* Make sure every parent of key exists as a directory (synthesized when the archive has none). */
static int ensure_parents(tarin *t, const lv_buf *key, const char *path)
{
    lv_buf pk = LV_BUF_INIT, page = LV_BUF_INIT;
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < key->len; i++) {
        if (key->data[i] != '\0')
            continue;
        lv_buf_reset(&pk);
        lv_buf_append(&pk, key->data, i);
        int synth, found;
        int64_t ino;
        if ((rc = row_get(t, &pk, &page, &synth, &ino, &found)) != LV_OK)
            break;
        if (found) {
            lv_tree_page pg;
            lv_tree_cursor c;
            lv_node n;
            if ((rc = lv_tree_page_open(page.data, page.len, &pg, "tar entry")) != LV_OK)
                break;
            lv_tree_cursor_init(&c, &pg);
            lv_tree_cursor_next(&c, &n);
            if (n.type != LV_NODE_DIR)
                rc = lv_err(LV_ERR_CORRUPT, "tar %s: entry \"%s\" is below a non-directory: refused", t->src, path);
            continue;
        }
        lv_node n;
        memset(&n, 0, sizeof n);
        n.name = last_name(&pk, &n.name_len);
        n.type = LV_NODE_DIR;
        n.mode = 0755;
        node_now(t->b, &n);
        rc = row_put(t, &pk, &n, 1, t->next_ino++);
    }
    lv_buf_free(&pk);
    lv_buf_free(&page);
    return rc;
}

typedef struct xa {
    const char *name;
    const void *value;
    size_t size;
} xa;

static int cmp_xa(const void *a, const void *b) { return strcmp(((const xa *)a)->name, ((const xa *)b)->name); }

static void entry_xattrs(struct archive_entry *e, lv_buf *out, uint32_t *count)
{
    lv_buf_reset(out);
    *count = 0;
    int n = archive_entry_xattr_reset(e);
    if (n <= 0)
        return;
    xa *v = lv_xcalloc((size_t)n, sizeof *v);
    size_t k = 0;
    const char *name;
    const void *value;
    size_t size;
    while (k < (size_t)n && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        if (name && *name && strlen(name) <= 255 && size <= LV_TREE_XATTR_VALUE_MAX)
            v[k++] = (xa){name, value, size};
    lv_sort(v, k, sizeof *v, cmp_xa);
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && strcmp(v[i].name, v[i - 1].name) == 0)
            continue;
        lv_xattr_append(out, v[i].name, strlen(v[i].name), v[i].value, v[i].size);
        (*count)++;
    }
    free(v);
}

/* The content of the current entry through the chunker; holes (sparse members) stay holes. */
static int tar_content(tarin *t, uint64_t *size)
{
    lv_bk *b = t->b;
    lv_buf_reset(&b->extents);
    const void *buf;
    size_t len;
    la_int64_t off;
    uint64_t pos = 0;
    int open = 0, rc = LV_OK, r;
    while ((r = archive_read_data_block(t->a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (lv_interrupted())
            return lv_err(LV_ERR_INTERRUPTED, "interrupted");
        if (off < 0 || (uint64_t)off < pos)
            return lv_err(LV_ERR_CORRUPT, "tar %s: data blocks out of order", t->src);
        if (!open || (uint64_t)off > pos) {
            if (open && (rc = lv_bk_stream_end(b)) != LV_OK)
                return rc;
            lv_bk_stream_begin(b, (uint64_t)off);
            open = 1;
        }
        if (len && (rc = lv_bk_stream_push(b, buf, len)) != LV_OK)
            return rc;
        pos = (uint64_t)off + len;
    }
    if (r != ARCHIVE_EOF)
        return lv_err(LV_ERR_CORRUPT, "tar %s: %s", t->src, archive_error_string(t->a));
    if (open && (rc = lv_bk_stream_end(b)) != LV_OK)
        return rc;
    *size = pos;
    return LV_OK;
}

static int tar_entry(tarin *t, struct archive_entry *e)
{
    lv_bk *b = t->b;
    const char *path = archive_entry_pathname(e);
    if (!path)
        return lv_err(LV_ERR_CORRUPT, "tar %s: an entry without a path name", t->src);
    int rc = tar_key(t, path, &t->key);
    if (rc != LV_OK)
        return rc;
    if (t->key.len == 0) /* "." or "./": the archive's root, which is the snapshot's root */
        return LV_OK;
    if ((rc = ensure_parents(t, &t->key, path)) != LV_OK)
        return rc;
    lv_node n;
    memset(&n, 0, sizeof n);
    n.name = last_name(&t->key, &n.name_len);
    int64_t ino = t->next_ino++;
    const char *hl = archive_entry_hardlink(e);
    if (hl) { /* same inode as an earlier entry: copy its node under this name */
        lv_buf tk = LV_BUF_INIT, page = LV_BUF_INIT;
        int synth = 0, found = 0;
        rc = tar_key(t, hl, &tk);
        if (rc == LV_OK)
            rc = row_get(t, &tk, &page, &synth, &ino, &found);
        if (rc == LV_OK && (!found || synth))
            rc = lv_err(LV_ERR_CORRUPT, "tar %s: \"%s\" is a hardlink to \"%s\", which is not in the archive before "
                        "it", t->src, path, hl);
        lv_tree_page pg;
        lv_tree_cursor c;
        lv_node target;
        if (rc == LV_OK && (rc = lv_tree_page_open(page.data, page.len, &pg, "hardlink target")) == LV_OK) {
            lv_tree_cursor_init(&c, &pg);
            lv_tree_cursor_next(&c, &target);
            if (target.type == LV_NODE_DIR)
                rc = lv_err(LV_ERR_CORRUPT, "tar %s: \"%s\" is a hardlink to a directory", t->src, path);
            target.name = n.name;
            target.name_len = n.name_len;
            if (rc == LV_OK) {
                if (target.type == LV_NODE_FILE) {
                    b->st.files_new++;
                    b->st.bytes_total += target.size;
                } else
                    b->st.others++;
                rc = row_put(t, &t->key, &target, 0, ino);
            }
        }
        lv_buf_free(&tk);
        lv_buf_free(&page);
        return rc;
    }
    n.mode = (uint32_t)archive_entry_perm(e) & LV_TREE_MODE_MASK;
    n.uid = (uint32_t)archive_entry_uid(e);
    n.gid = (uint32_t)archive_entry_gid(e);
    const char *un = archive_entry_uname(e), *gn = archive_entry_gname(e);
    n.user = un && strlen(un) <= 255 ? un : "";
    n.user_len = strlen(n.user);
    n.group = gn && strlen(gn) <= 255 ? gn : "";
    n.group_len = strlen(n.group);
    n.mtime_sec = archive_entry_mtime(e);
    n.mtime_nsec = (uint32_t)archive_entry_mtime_nsec(e) % 1000000000u;
    if (archive_entry_ctime_is_set(e)) {
        n.ctime_sec = archive_entry_ctime(e);
        n.ctime_nsec = (uint32_t)archive_entry_ctime_nsec(e) % 1000000000u;
    } else {
        n.ctime_sec = n.mtime_sec;
        n.ctime_nsec = n.mtime_nsec;
    }
    n.ino = (uint64_t)ino;
    n.nlink = 1;
    entry_xattrs(e, &t->xattrs, &n.nxattrs);
    n.xattrs = t->xattrs.data;
    n.xattrs_len = t->xattrs.len;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG: {
        n.type = LV_NODE_FILE;
        uint64_t got = 0;
        if ((rc = tar_content(t, &got)) != LV_OK)
            return rc;
        la_int64_t declared = archive_entry_size(e);
        n.size = declared > 0 && (uint64_t)declared > got ? (uint64_t)declared : got;
        n.extents = b->extents.data;
        n.nextents = (uint32_t)(b->extents.len / LV_TREE_EXTENT_SIZE);
        b->st.files_new++;
        b->st.bytes_total += n.size;
        break;
    }
    case AE_IFDIR:
        n.type = LV_NODE_DIR;
        break;
    case AE_IFLNK:
        n.type = LV_NODE_SYMLINK;
        n.target = archive_entry_symlink(e);
        n.target_len = n.target ? strlen(n.target) : 0;
        b->st.others++;
        break;
    case AE_IFIFO:
        n.type = LV_NODE_FIFO;
        b->st.others++;
        break;
    case AE_IFCHR:
    case AE_IFBLK:
        n.type = archive_entry_filetype(e) == AE_IFCHR ? LV_NODE_CHR : LV_NODE_BLK;
        n.rdev = (uint64_t)archive_entry_rdev(e);
        b->st.others++;
        break;
    default:
        lv_info("tar %s: \"%s\" is neither a file, directory, symlink, FIFO nor device: skipped", t->src, path);
        return LV_OK;
    }
    if (lv_tree_node_check(&n) != LV_OK)
        return lv_err(LV_ERR_CORRUPT, "tar %s: entry \"%s\": %s", t->src, path, lv_errmsg());
    if (n.type == LV_NODE_DIR)
        b->st.dirs++;
    return row_put(t, &t->key, &n, 0, ino);
}

/* Second pass: rows in key order are a depth-first walk; a stack of open directories turns it into
 * the children-first order the tree builder needs. */
typedef struct open_dir {
    lv_buf key;
    lv_buf page; /* the directory's own node, as a one-node page */
} open_dir;

static int is_below(const lv_buf *key, const lv_buf *dir)
{
    return key->len > dir->len && memcmp(key->data, dir->data, dir->len) == 0 && key->data[dir->len] == '\0';
}

static int close_dir(tarin *t, open_dir *d)
{
    const uint8_t *ids;
    uint32_t nids;
    int rc = lv_tb_leave(t->b->tb, &ids, &nids);
    if (rc != LV_OK)
        return rc;
    lv_tree_page pg;
    lv_tree_cursor c;
    lv_node n;
    if ((rc = lv_tree_page_open(d->page.data, d->page.len, &pg, "directory")) != LV_OK)
        return rc;
    lv_tree_cursor_init(&c, &pg);
    lv_tree_cursor_next(&c, &n);
    n.pages = ids;
    n.npages = nids;
    return lv_tb_add(t->b->tb, &n);
}

typedef struct builder {
    tarin *t;
    open_dir *stack;
    size_t depth, cap;
    lv_buf key, leaf; /* leaf: the last non-directory */
} builder;

static int build_one(void *arg, const lv_walk_entry *e)
{
    builder *w = arg;
    tarin *t = w->t;
    lv_buf_reset(&w->key);
    lv_buf_append(&w->key, e->key, e->key_len);
    if (w->leaf.len && is_below(&w->key, &w->leaf)) /* a later entry replaced a directory by a file */
        return lv_err(LV_ERR_CORRUPT, "tar %s: an entry is below a non-directory: refused", t->src);
    int rc = LV_OK;
    while (rc == LV_OK && w->depth > 0 && !is_below(&w->key, &w->stack[w->depth - 1].key))
        rc = close_dir(t, &w->stack[--w->depth]);
    if (rc != LV_OK)
        return rc;
    lv_tree_page pg;
    lv_tree_cursor c;
    lv_node n;
    if ((rc = lv_tree_page_open(e->node, e->node_len, &pg, "tar entry")) != LV_OK)
        return rc;
    lv_tree_cursor_init(&c, &pg);
    lv_tree_cursor_next(&c, &n);
    if (n.type != LV_NODE_DIR && e->links > 1)
        n.nlink = (uint32_t)e->links;
    if (n.type != LV_NODE_DIR) {
        lv_buf_reset(&w->leaf);
        lv_buf_append(&w->leaf, e->key, e->key_len);
        return lv_tb_add(t->b->tb, &n);
    }
    if (w->depth == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->stack = lv_xrealloc(w->stack, w->cap * sizeof *w->stack);
        memset(w->stack + w->depth, 0, (w->cap - w->depth) * sizeof *w->stack);
    }
    open_dir *d = &w->stack[w->depth++];
    lv_buf_reset(&d->key);
    lv_buf_append(&d->key, e->key, e->key_len);
    lv_buf_reset(&d->page);
    lv_buf_append(&d->page, e->node, e->node_len);
    lv_tb_enter(t->b->tb);
    return LV_OK;
}

static int build(tarin *t, lv_buf *root)
{
    builder w = {.t = t, .key = LV_BUF_INIT, .leaf = LV_BUF_INIT};
    lv_tb_enter(t->b->tb);
    int rc = lv_walk_table_each(t->tab, build_one, &w);
    while (rc == LV_OK && w.depth > 0)
        rc = close_dir(t, &w.stack[--w.depth]);
    const uint8_t *ids;
    uint32_t nids;
    if (rc == LV_OK && (rc = lv_tb_leave(t->b->tb, &ids, &nids)) == LV_OK)
        lv_buf_append(root, ids, (size_t)nids * LV_HASH_LEN);
    for (size_t i = 0; i < w.cap; i++) {
        lv_buf_free(&w.stack[i].key);
        lv_buf_free(&w.stack[i].page);
    }
    free(w.stack);
    lv_buf_free(&w.key);
    lv_buf_free(&w.leaf);
    return rc;
}

int lv_bk_tar(lv_bk *b, lv_buf *root)
{
    tarin t;
    memset(&t, 0, sizeof t);
    t.b = b;
    t.src = strcmp(b->o->tar, "-") == 0 ? "(standard input)" : b->o->tar;
    t.next_ino = 1;
    t.a = archive_read_new();
    archive_read_support_format_all(t.a);
    archive_read_support_filter_all(t.a);
    int rc = LV_OK;
    int r = strcmp(b->o->tar, "-") == 0 ? archive_read_open_fd(t.a, 0, 1 << 20)
                                        : archive_read_open_filename(t.a, b->o->tar, 1 << 20);
    if (r != ARCHIVE_OK)
        rc = lv_err(errno == ENOENT ? LV_ERR_NOT_FOUND : LV_ERR_IO, "tar %s: %s", t.src, archive_error_string(t.a));
    t.what = lv_xasprintf("tar %s", t.src);
    if (rc == LV_OK)
        rc = lv_walk_table_open(t.what, &t.tab);
    struct archive_entry *e;
    while (rc == LV_OK && (r = archive_read_next_header(t.a, &e)) != ARCHIVE_EOF) {
        if (r == ARCHIVE_WARN)
            lv_warn("tar %s: %s", t.src, archive_error_string(t.a));
        else if (r != ARCHIVE_OK) {
            rc = lv_err(LV_ERR_CORRUPT, "tar %s: %s", t.src, archive_error_string(t.a));
            break;
        }
        rc = tar_entry(&t, e);
        lv_bk_progress(b, 0);
    }
    if (rc == LV_OK)
        rc = build(&t, root);
    lv_walk_table_close(t.tab);
    free(t.what);
    archive_read_free(t.a);
    lv_buf_free(&t.key);
    lv_buf_free(&t.node);
    lv_buf_free(&t.xattrs);
    return rc;
}
