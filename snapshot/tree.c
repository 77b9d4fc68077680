#include "snapshot/tree.h"

#include <string.h>

#include "common/error.h"
#include "repo/pack.h"

/* ---- wire helpers ----------------------------------------------------------------------------- */

void lv_extent_append(lv_buf *out, uint64_t offset, uint32_t length, const uint8_t id[LV_HASH_LEN])
{
    uint8_t e[LV_TREE_EXTENT_SIZE];
    lv_le64_put(e, offset);
    lv_le32_put(e + 8, length);
    memcpy(e + 12, id, LV_HASH_LEN);
    lv_buf_append(out, e, sizeof e);
}

void lv_extent_get(const uint8_t *extents, uint32_t i, lv_extent *e)
{
    const uint8_t *p = extents + (size_t)i * LV_TREE_EXTENT_SIZE;
    e->offset = lv_le64_get(p);
    e->length = lv_le32_get(p + 8);
    memcpy(e->id, p + 12, LV_HASH_LEN);
}

void lv_xattr_append(lv_buf *out, const char *name, size_t name_len, const void *value, size_t value_len)
{
    uint8_t h[4];
    uint8_t nl = (uint8_t)name_len;
    lv_buf_append(out, &nl, 1);
    lv_buf_append(out, name, name_len);
    lv_le32_put(h, (uint32_t)value_len);
    lv_buf_append(out, h, 4);
    lv_buf_append(out, value, value_len);
}

int lv_xattr_next(const lv_node *n, size_t *pos, lv_xattr *x)
{
    if (*pos >= n->xattrs_len)
        return 0;
    const uint8_t *p = n->xattrs + *pos;
    x->name_len = p[0];
    x->name = (const char *)p + 1;
    x->value_len = lv_le32_get(p + 1 + x->name_len);
    x->value = p + 5 + x->name_len;
    *pos += 5 + x->name_len + x->value_len;
    return 1;
}

const char *lv_node_type_name(unsigned type)
{
    static const char *const names[] = {"invalid", "file", "dir", "symlink", "fifo", "chardev", "blockdev"};
    return type <= LV_NODE_BLK ? names[type] : names[0];
}

int lv_tree_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- decoding with validation ----------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int need(rd *r, size_t n) { return (size_t)(r->end - r->p) >= n; }

static const uint8_t *take(rd *r, size_t n)
{
    if (!need(r, n))
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

#define TAKE(var, n)                                                                                      \
    do {                                                                                                  \
        if (!((var) = take(r, (n))))                                                                      \
            return "truncated";                                                                           \
    } while (0)

/* memchr that accepts (NULL, 0): empty views may have no pointer. */
static int has_byte(const void *p, int c, size_t n) { return n > 0 && memchr(p, c, n) != NULL; }

static int valid_name(const char *s, size_t n)
{
    if (n < 1 || n > LV_TREE_NAME_MAX)
        return 0;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    return !memchr(s, '/', n) && !memchr(s, '\0', n);
}

/* The checks shared by the parser and lv_tree_node_check; NULL when valid, else the reason. */
static const char *check_fields(const lv_node *n)
{
    if (!valid_name(n->name, n->name_len))
        return "invalid name";
    if (n->type < LV_NODE_FILE || n->type > LV_NODE_BLK)
        return "unknown type";
    if (n->mode & ~LV_TREE_MODE_MASK)
        return "mode has bits outside 07777";
    if (n->user_len > 255 || n->group_len > 255 || has_byte(n->user, '\0', n->user_len) ||
        has_byte(n->group, '\0', n->group_len))
        return "invalid user or group name";
    if (n->mtime_nsec >= 1000000000u || n->ctime_nsec >= 1000000000u)
        return "nanoseconds out of range";
    if (n->nlink < 1)
        return "link count 0";
    if (n->type == LV_NODE_SYMLINK &&
        (n->target_len < 1 || n->target_len > LV_TREE_TARGET_MAX || has_byte(n->target, '\0', n->target_len)))
        return "invalid symlink target";
    return NULL;
}

static const char *check_xattrs(const uint8_t *p, size_t len, uint32_t count)
{
    rd rr = {p, p + len}, *r = &rr;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *h, *name, *vl;
        TAKE(h, 1);
        TAKE(name, h[0]);
        if (h[0] == 0 || memchr(name, '\0', h[0]))
            return "invalid xattr name";
        if (prev && lv_tree_name_cmp(prev, prev_len, (const char *)name, h[0]) >= 0)
            return "xattr names not strictly increasing";
        prev = (const char *)name;
        prev_len = h[0];
        TAKE(vl, 4);
        uint32_t v = lv_le32_get(vl);
        if (v > LV_TREE_XATTR_VALUE_MAX)
            return "xattr value above 64 KiB";
        const uint8_t *val;
        TAKE(val, v);
        (void)val;
    }
    return r->p == r->end ? NULL : "xattr records do not fill their length";
}

static const char *check_extents(const uint8_t *p, uint32_t count, uint64_t size)
{
    uint64_t pos = 0; /* end of the previous extent */
    for (uint32_t i = 0; i < count; i++) {
        lv_extent e;
        lv_extent_get(p, i, &e);
        if (e.length < 1 || e.length > LV_BLOB_MAX)
            return "extent length out of range";
        if (e.offset < pos)
            return "extents overlap or are out of order";
        if (e.offset > size || size - e.offset < e.length)
            return "extent beyond the file size";
        pos = e.offset + e.length;
    }
    return NULL;
}

/* Decode one node at r, validating everything but the order of names. */
static const char *decode_node(rd *r, lv_node *n)
{
    const uint8_t *q;
    memset(n, 0, sizeof *n);
    TAKE(q, 2);
    n->name_len = (size_t)q[0] | (size_t)q[1] << 8;
    TAKE(q, n->name_len);
    n->name = (const char *)q;
    TAKE(q, 13);
    n->type = q[0];
    n->mode = lv_le32_get(q + 1);
    n->uid = lv_le32_get(q + 5);
    n->gid = lv_le32_get(q + 9);
    TAKE(q, 1);
    n->user_len = q[0];
    TAKE(q, n->user_len);
    n->user = (const char *)q;
    TAKE(q, 1);
    n->group_len = q[0];
    TAKE(q, n->group_len);
    n->group = (const char *)q;
    TAKE(q, 24 + 20);
    n->mtime_sec = (int64_t)lv_le64_get(q);
    n->mtime_nsec = lv_le32_get(q + 8);
    n->ctime_sec = (int64_t)lv_le64_get(q + 12);
    n->ctime_nsec = lv_le32_get(q + 20);
    n->dev = lv_le64_get(q + 24);
    n->ino = lv_le64_get(q + 32);
    n->nlink = lv_le32_get(q + 40);
    TAKE(q, 2);
    n->nxattrs = (uint32_t)q[0] | (uint32_t)q[1] << 8;
    const uint8_t *xstart = r->p;
    rd probe = *r;
    /* Find the end of the xattr records without trusting any length beyond the page. */
    for (uint32_t i = 0; i < n->nxattrs; i++) {
        const uint8_t *h, *vl, *skip;
        if (!(h = take(&probe, 1)) || !take(&probe, h[0]) || !(vl = take(&probe, 4)) ||
            !(skip = take(&probe, lv_le32_get(vl))))
            return "truncated";
    }
    n->xattrs = xstart;
    n->xattrs_len = (size_t)(probe.p - xstart);
    const char *why = check_xattrs(n->xattrs, n->xattrs_len, n->nxattrs);
    if (why)
        return why;
    r->p = probe.p;
    switch (n->type) {
    case LV_NODE_FILE:
        TAKE(q, 12);
        n->size = lv_le64_get(q);
        n->nextents = lv_le32_get(q + 8);
        if ((size_t)(r->end - r->p) / LV_TREE_EXTENT_SIZE < n->nextents)
            return "truncated";
        n->extents = take(r, (size_t)n->nextents * LV_TREE_EXTENT_SIZE);
        if ((why = check_extents(n->extents, n->nextents, n->size)))
            return why;
        break;
    case LV_NODE_DIR:
        TAKE(q, 4);
        n->npages = lv_le32_get(q);
        if ((size_t)(r->end - r->p) / LV_HASH_LEN < n->npages)
            return "truncated";
        n->pages = take(r, (size_t)n->npages * LV_HASH_LEN);
        break;
    case LV_NODE_SYMLINK:
        TAKE(q, 2);
        n->target_len = (size_t)q[0] | (size_t)q[1] << 8;
        TAKE(q, n->target_len);
        n->target = (const char *)q;
        break;
    case LV_NODE_CHR:
    case LV_NODE_BLK:
        TAKE(q, 8);
        n->rdev = lv_le64_get(q);
        break;
    default:
        break;
    }
    return check_fields(n);
}

int lv_tree_page_open(const uint8_t *buf, size_t len, lv_tree_page *pg, const char *what)
{
    if (len < LV_TREE_HEADER || memcmp(buf, LV_TREE_MAGIC, 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: not a tree page (bad magic)", what);
    if (buf[4] != LV_TREE_VERSION)
        return lv_err(LV_ERR_CORRUPT, "%s: tree page version %u is not supported", what, buf[4]);
    uint32_t count = lv_le32_get(buf + 5);
    if (count == 0)
        return lv_err(LV_ERR_CORRUPT, "%s: empty tree page", what);
    rd r = {buf + LV_TREE_HEADER, buf + len};
    lv_node prev, n;
    for (uint32_t i = 0; i < count; i++) {
        const char *why = decode_node(&r, &n);
        if (why)
            return lv_err(LV_ERR_CORRUPT, "%s: node %u: %s", what, i, why);
        if (i > 0 && lv_tree_name_cmp(prev.name, prev.name_len, n.name, n.name_len) >= 0)
            return lv_err(LV_ERR_CORRUPT, "%s: node %u: names not strictly increasing", what, i);
        prev = n;
    }
    if (r.p != r.end)
        return lv_err(LV_ERR_CORRUPT, "%s: %zu bytes after the last node", what, (size_t)(r.end - r.p));
    pg->buf = buf;
    pg->len = len;
    pg->count = count;
    return LV_OK;
}

void lv_tree_cursor_init(lv_tree_cursor *c, const lv_tree_page *pg)
{
    c->p = pg->buf + LV_TREE_HEADER;
    c->end = pg->buf + pg->len;
    c->left = pg->count;
}

int lv_tree_cursor_next(lv_tree_cursor *c, lv_node *n)
{
    if (c->left == 0)
        return 0;
    rd r = {c->p, c->end};
    decode_node(&r, n); /* the page was validated by lv_tree_page_open */
    c->p = r.p;
    c->left--;
    return 1;
}

/* ---- encoding --------------------------------------------------------------------------------- */

int lv_tree_node_check(const lv_node *n)
{
    const char *why = check_fields(n);
    if (!why && n->nxattrs > 65535)
        why = "too many xattrs";
    if (!why && (n->nxattrs || n->xattrs_len))
        why = n->xattrs ? check_xattrs(n->xattrs, n->xattrs_len, n->nxattrs) : "xattrs without data";
    if (!why && n->type == LV_NODE_FILE && n->nextents)
        why = n->extents ? check_extents(n->extents, n->nextents, n->size) : "extents without data";
    if (!why && n->type == LV_NODE_DIR && n->npages && !n->pages)
        why = "pages without data";
    if (why)
        return lv_err(LV_ERR_INTERNAL, "tree node \"%.*s\": %s", (int)n->name_len, n->name, why);
    return LV_OK;
}

size_t lv_tree_node_size(const lv_node *n)
{
    size_t s = 2 + n->name_len + 13 + 1 + n->user_len + 1 + n->group_len + 44 + 2 + n->xattrs_len;
    switch (n->type) {
    case LV_NODE_FILE:
        return s + 12 + (size_t)n->nextents * LV_TREE_EXTENT_SIZE;
    case LV_NODE_DIR:
        return s + 4 + (size_t)n->npages * LV_HASH_LEN;
    case LV_NODE_SYMLINK:
        return s + 2 + n->target_len;
    case LV_NODE_CHR:
    case LV_NODE_BLK:
        return s + 8;
    default:
        return s;
    }
}

static void put16(lv_buf *b, size_t v)
{
    uint8_t h[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    lv_buf_append(b, h, 2);
}

void lv_tree_node_encode(const lv_node *n, lv_buf *out)
{
    lv_buf_reserve(out, lv_tree_node_size(n));
    put16(out, n->name_len);
    lv_buf_append(out, n->name, n->name_len);
    lv_buf_append(out, &n->type, 1);
    lv_buf_put_le32(out, n->mode);
    lv_buf_put_le32(out, n->uid);
    lv_buf_put_le32(out, n->gid);
    uint8_t l = (uint8_t)n->user_len;
    lv_buf_append(out, &l, 1);
    lv_buf_append(out, n->user, n->user_len);
    l = (uint8_t)n->group_len;
    lv_buf_append(out, &l, 1);
    lv_buf_append(out, n->group, n->group_len);
    lv_buf_put_le64(out, (uint64_t)n->mtime_sec);
    lv_buf_put_le32(out, n->mtime_nsec);
    lv_buf_put_le64(out, (uint64_t)n->ctime_sec);
    lv_buf_put_le32(out, n->ctime_nsec);
    lv_buf_put_le64(out, n->dev);
    lv_buf_put_le64(out, n->ino);
    lv_buf_put_le32(out, n->nlink);
    put16(out, n->nxattrs);
    lv_buf_append(out, n->xattrs, n->xattrs_len);
    switch (n->type) {
    case LV_NODE_FILE:
        lv_buf_put_le64(out, n->size);
        lv_buf_put_le32(out, n->nextents);
        lv_buf_append(out, n->extents, (size_t)n->nextents * LV_TREE_EXTENT_SIZE);
        break;
    case LV_NODE_DIR:
        lv_buf_put_le32(out, n->npages);
        lv_buf_append(out, n->pages, (size_t)n->npages * LV_HASH_LEN);
        break;
    case LV_NODE_SYMLINK:
        put16(out, n->target_len);
        lv_buf_append(out, n->target, n->target_len);
        break;
    case LV_NODE_CHR:
    case LV_NODE_BLK:
        lv_buf_put_le64(out, n->rdev);
        break;
    default:
        break;
    }
}

void lv_tree_page_header(uint32_t count, uint8_t out[LV_TREE_HEADER])
{
    memcpy(out, LV_TREE_MAGIC, 4);
    out[4] = LV_TREE_VERSION;
    lv_le32_put(out + 5, count);
}
