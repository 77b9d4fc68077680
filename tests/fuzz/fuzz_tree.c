/* Fuzz target for the snapshot tree parser (snapshot/tree.h): any input either fails with
 * LV_ERR_CORRUPT, or parses into nodes that pass the writer's check and re-encode to exactly the
 * input bytes (there is one encoding of a given page). The snapshot body parser gets the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "snapshot/snapshot.h"
#include "snapshot/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *pages;
    uint32_t npages;
    if (lv_snap_body_parse(data, size, &pages, &npages, "fuzz") == LV_OK && (size_t)npages * 32 + 9 != size)
        abort();
    lv_tree_page pg;
    int rc = lv_tree_page_open(data, size, &pg, "fuzz");
    if (rc != LV_OK) {
        if (rc != LV_ERR_CORRUPT)
            abort();
        return 0;
    }
    lv_buf out = LV_BUF_INIT, copy = LV_BUF_INIT;
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(pg.count, h);
    lv_buf_append(&out, h, sizeof h);
    lv_tree_cursor c;
    lv_node n, m;
    lv_tree_cursor_init(&c, &pg);
    while (lv_tree_cursor_next(&c, &n)) {
        if (lv_tree_node_check(&n) != LV_OK || lv_tree_node_size(&n) == 0)
            abort();
        lv_node_copy(&n, &copy, &m);
        if (m.name_len != n.name_len || memcmp(m.name, n.name, n.name_len) != 0)
            abort();
        lv_tree_node_encode(&n, &out);
    }
    if (out.len != size || memcmp(out.data, data, size) != 0)
        abort();
    lv_buf_free(&out);
    lv_buf_free(&copy);
    return 0;
}
