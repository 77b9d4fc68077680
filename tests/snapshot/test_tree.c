/* The snapshot tree format (snapshot/tree.h) and the snapshot body: a page with every node type
 * round-trips field by field and re-encodes to the same bytes; the strict parser refuses every rule
 * it states (each with LV_ERR_CORRUPT) and every truncation; the encoder's check refuses what the
 * parser would. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "repo/pack.h"
#include "snapshot/snapshot.h"
#include "snapshot/tree.h"
#include "tests/check.h"

static uint8_t id1[32] = {1}, id2[32] = {2};

static lv_node base(const char *name, uint8_t type)
{
    lv_node n;
    memset(&n, 0, sizeof n);
    n.name = name;
    n.name_len = strlen(name);
    n.type = type;
    n.mode = 0644;
    n.uid = 1000;
    n.gid = 100;
    n.user = "alice";
    n.user_len = 5;
    n.group = "users";
    n.group_len = 5;
    n.mtime_sec = 1700000000;
    n.mtime_nsec = 123456789;
    n.ctime_sec = -5;
    n.ctime_nsec = 999999999;
    n.dev = 2049;
    n.ino = 77;
    n.nlink = 1;
    return n;
}

/* Page of the nodes, header included. */
static void page(const lv_node *v, uint32_t n, lv_buf *out)
{
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(n, h);
    lv_buf_reset(out);
    lv_buf_append(out, h, sizeof h);
    for (uint32_t i = 0; i < n; i++)
        lv_tree_node_encode(&v[i], out);
}

static int refused(const lv_buf *b)
{
    lv_tree_page pg;
    return lv_tree_page_open(b->data, b->len, &pg, "test") == LV_ERR_CORRUPT;
}

/* Encode a single node after changing it with f, expect the parser to refuse it. */
static int refuses_node(lv_node n)
{
    lv_buf b = LV_BUF_INIT;
    page(&n, 1, &b);
    int r = refused(&b);
    lv_buf_free(&b);
    return r;
}

int main(void)
{
    lv_buf xa = LV_BUF_INIT, ext = LV_BUF_INIT, pages = LV_BUF_INIT, b = LV_BUF_INIT, b2 = LV_BUF_INIT;
    lv_xattr_append(&xa, "system.posix_acl_access", 23, "\x02\x00\x00\x00", 4);
    lv_xattr_append(&xa, "user.empty", 10, "", 0);
    lv_xattr_append(&xa, "user.x", 6, "value", 5);
    lv_extent_append(&ext, 0, 1000, id1);
    lv_extent_append(&ext, 1 << 20, 5, id2); /* a hole between */
    lv_buf_append(&pages, id1, 32);
    lv_buf_append(&pages, id2, 32);

    lv_node v[7];
    v[0] = base("a-file", LV_NODE_FILE);
    v[0].mode = 04755;
    v[0].size = (2 << 20); /* a trailing hole too */
    v[0].nextents = 2;
    v[0].extents = ext.data;
    v[0].nxattrs = 3;
    v[0].xattrs = xa.data;
    v[0].xattrs_len = xa.len;
    v[0].nlink = 2;
    v[1] = base("b-dir", LV_NODE_DIR);
    v[1].mode = 01777;
    v[1].npages = 2;
    v[1].pages = pages.data;
    v[2] = base("c-link", LV_NODE_SYMLINK);
    v[2].target = "../elsewhere";
    v[2].target_len = 12;
    v[3] = base("d-fifo", LV_NODE_FIFO);
    v[4] = base("e-chr", LV_NODE_CHR);
    v[4].rdev = 0x0103;
    v[5] = base("f-blk", LV_NODE_BLK);
    v[5].rdev = 0x0801;
    v[6] = base("g-empty", LV_NODE_FILE);
    v[6].user = v[6].group = "";
    v[6].user_len = v[6].group_len = 0;
    for (int i = 0; i < 7; i++)
        CHECK(lv_tree_node_check(&v[i]) == LV_OK, "node %s passes the writer's check", v[i].name);
    page(v, 7, &b);

    lv_tree_page pg;
    CHECK(lv_tree_page_open(b.data, b.len, &pg, "test") == LV_OK && pg.count == 7, "a page of every type parses");
    lv_tree_cursor c;
    lv_tree_cursor_init(&c, &pg);
    lv_node n[7];
    int i = 0;
    while (i < 7 && lv_tree_cursor_next(&c, &n[i]))
        i++;
    CHECK(i == 7 && !lv_tree_cursor_next(&c, &n[0]) && (lv_tree_cursor_init(&c, &pg), lv_tree_cursor_next(&c, &n[0])),
          "the cursor yields 7 nodes");
    CHECK(n[0].mode == 04755 && n[0].uid == 1000 && n[0].gid == 100 && n[0].size == (2 << 20) && n[0].nextents == 2 &&
              n[0].nlink == 2 && n[0].mtime_sec == 1700000000 && n[0].mtime_nsec == 123456789 && n[0].ctime_sec == -5 &&
              n[0].dev == 2049 && n[0].ino == 77 && n[0].user_len == 5 && memcmp(n[0].user, "alice", 5) == 0,
          "file fields round-trip");
    lv_extent e;
    lv_extent_get(n[0].extents, 1, &e);
    CHECK(e.offset == 1 << 20 && e.length == 5 && memcmp(e.id, id2, 32) == 0, "extents round-trip");
    size_t pos = 0;
    lv_xattr x;
    int nx = 0, okx = 1;
    while (lv_xattr_next(&n[0], &pos, &x)) {
        nx++;
        if (nx == 3)
            okx = x.name_len == 6 && memcmp(x.name, "user.x", 6) == 0 && x.value_len == 5 &&
                  memcmp(x.value, "value", 5) == 0;
    }
    CHECK(nx == 3 && okx, "xattrs round-trip");
    CHECK(n[1].npages == 2 && memcmp(n[1].pages + 32, id2, 32) == 0 && n[1].mode == 01777, "dir pages round-trip");
    CHECK(n[2].target_len == 12 && memcmp(n[2].target, "../elsewhere", 12) == 0, "symlink target round-trips");
    CHECK(n[4].rdev == 0x0103 && n[5].rdev == 0x0801 && n[3].type == LV_NODE_FIFO, "devices and fifo round-trip");
    page(n, 7, &b2);
    CHECK(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0, "re-encoding gives the same bytes");

    /* Every truncation and every extension is refused. */
    int all = 1;
    for (size_t k = 0; k < b.len; k++) {
        lv_buf t = LV_BUF_INIT;
        lv_buf_append(&t, b.data, k);
        all &= refused(&t);
        lv_buf_free(&t);
    }
    CHECK(all, "every truncated page is refused");
    lv_buf_append(&b2, "", 1);
    CHECK(refused(&b2), "a byte after the last node is refused");

    /* Header rules. */
    lv_buf_reset(&b2);
    lv_buf_append(&b2, b.data, b.len);
    b2.data[0] = 'X';
    CHECK(refused(&b2), "bad magic refused");
    b2.data[0] = 'L';
    b2.data[4] = 2;
    CHECK(refused(&b2), "unknown version refused");
    b2.data[4] = 1;
    lv_le32_put(b2.data + 5, 8);
    CHECK(refused(&b2), "a count above the nodes present refused");
    lv_le32_put(b2.data + 5, 6);
    CHECK(refused(&b2), "a count below the nodes present refused");
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(0, h);
    lv_buf_reset(&b2);
    lv_buf_append(&b2, h, sizeof h);
    CHECK(refused(&b2), "an empty page refused");

    /* Order and names. */
    lv_node sw[2] = {v[1], v[0]};
    page(sw, 2, &b2);
    CHECK(refused(&b2), "names out of order refused");
    lv_node dup[2] = {v[3], v[3]};
    page(dup, 2, &b2);
    CHECK(refused(&b2), "a repeated name refused");
    lv_node t = v[3];
    const char *bad_names[] = {"", ".", "..", "a/b", "/abs"};
    for (size_t k = 0; k < sizeof bad_names / sizeof *bad_names; k++) {
        t.name = bad_names[k];
        t.name_len = strlen(bad_names[k]);
        CHECK(refuses_node(t) && lv_tree_node_check(&t) != LV_OK, "name \"%s\" refused by parser and writer",
              bad_names[k]);
    }
    t.name = "a\0b";
    t.name_len = 3;
    CHECK(refuses_node(t), "a name with NUL refused");
    char longname[300];
    memset(longname, 'x', sizeof longname);
    t.name = longname;
    t.name_len = 256;
    CHECK(refuses_node(t), "a 256-byte name refused");
    t.name_len = 255;
    CHECK(!refuses_node(t), "a 255-byte name accepted");

    /* Field ranges. */
    t = v[3];
    t.type = 7;
    CHECK(refuses_node(t), "type 7 refused");
    t = v[3];
    t.mode = 010000;
    CHECK(refuses_node(t) && lv_tree_node_check(&t) != LV_OK, "mode bits beyond 07777 refused");
    t = v[3];
    t.mtime_nsec = 1000000000;
    CHECK(refuses_node(t), "nanoseconds of 10^9 refused");
    t = v[3];
    t.nlink = 0;
    CHECK(refuses_node(t), "link count 0 refused");
    t = v[2];
    t.target_len = 0;
    CHECK(refuses_node(t), "empty symlink target refused");
    t.target = "a\0b";
    t.target_len = 3;
    CHECK(refuses_node(t), "symlink target with NUL refused");

    /* xattrs. */
    lv_buf xb = LV_BUF_INIT;
    lv_xattr_append(&xb, "user.b", 6, "1", 1);
    lv_xattr_append(&xb, "user.a", 6, "1", 1);
    t = v[3];
    t.nxattrs = 2;
    t.xattrs = xb.data;
    t.xattrs_len = xb.len;
    CHECK(refuses_node(t) && lv_tree_node_check(&t) != LV_OK, "xattrs out of order refused");
    lv_buf_reset(&xb);
    lv_xattr_append(&xb, "user.a", 6, "1", 1);
    lv_xattr_append(&xb, "user.a", 6, "2", 1);
    t.xattrs = xb.data;
    t.xattrs_len = xb.len;
    CHECK(refuses_node(t), "a repeated xattr refused");
    lv_buf_reset(&xb);
    uint8_t *big = calloc(1, 65537);
    lv_xattr_append(&xb, "user.big", 8, big, 65537);
    t.nxattrs = 1;
    t.xattrs = xb.data;
    t.xattrs_len = xb.len;
    CHECK(refuses_node(t), "an xattr value above 64 KiB refused");
    free(big);

    /* Extents. */
    lv_buf eb = LV_BUF_INIT;
    t = v[0];
    lv_extent_append(&eb, 0, 100, id1);
    lv_extent_append(&eb, 50, 100, id2);
    t.extents = eb.data;
    t.nextents = 2;
    CHECK(refuses_node(t) && lv_tree_node_check(&t) != LV_OK, "overlapping extents refused");
    lv_buf_reset(&eb);
    lv_extent_append(&eb, 500, 100, id1);
    lv_extent_append(&eb, 0, 100, id2);
    t.extents = eb.data;
    CHECK(refuses_node(t), "extents out of order refused");
    lv_buf_reset(&eb);
    lv_extent_append(&eb, t.size - 10, 11, id1);
    t.extents = eb.data;
    t.nextents = 1;
    CHECK(refuses_node(t), "an extent beyond the size refused");
    lv_buf_reset(&eb);
    lv_extent_append(&eb, UINT64_MAX - 5, 10, id1);
    t.extents = eb.data;
    t.size = UINT64_MAX;
    CHECK(refuses_node(t), "an extent whose end wraps around 2^64 refused");
    lv_buf_reset(&eb);
    lv_extent_append(&eb, 0, 0, id1);
    t.extents = eb.data;
    CHECK(refuses_node(t), "an empty extent refused");

    /* Snapshot body. */
    lv_buf body = LV_BUF_INIT;
    lv_snap_body_encode(pages.data, 2, &body);
    const uint8_t *rp;
    uint32_t rn;
    CHECK(lv_snap_body_parse(body.data, body.len, &rp, &rn, "test") == LV_OK && rn == 2 && memcmp(rp, pages.data, 64) == 0,
          "snapshot body round-trips");
    CHECK(lv_snap_body_parse(body.data, body.len - 1, &rp, &rn, "test") == LV_ERR_CORRUPT, "a short body is refused");
    body.data[4] = 9;
    CHECK(lv_snap_body_parse(body.data, body.len, &rp, &rn, "test") == LV_ERR_CORRUPT, "an unknown body version is refused");

    lv_buf_free(&xa);
    lv_buf_free(&ext);
    lv_buf_free(&pages);
    lv_buf_free(&b);
    lv_buf_free(&b2);
    lv_buf_free(&xb);
    lv_buf_free(&eb);
    lv_buf_free(&body);
    return check_done();
}
