#include "snapshot/snapshot.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "catalog/manifests.h"
#include "common/error.h"
#include "repo/pack.h"
#include "snapshot/summary.h"

void lv_snap_body_encode(const uint8_t *pages, uint32_t npages, lv_buf *out)
{
    uint8_t h[9];
    memcpy(h, LV_SNAP_MAGIC, 4);
    h[4] = LV_SNAP_VERSION;
    lv_le32_put(h + 5, npages);
    lv_buf_append(out, h, sizeof h);
    lv_buf_append(out, pages, (size_t)npages * LV_HASH_LEN);
}

int lv_snap_body_parse(const uint8_t *body, size_t len, const uint8_t **pages, uint32_t *npages,
                       const char *what)
{
    if (len < 9 || memcmp(body, LV_SNAP_MAGIC, 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: not a files snapshot body (bad magic)", what);
    if (body[4] != LV_SNAP_VERSION)
        return lv_err(LV_ERR_CORRUPT, "%s: snapshot body version %u is not supported", what, body[4]);
    uint32_t n = lv_le32_get(body + 5);
    if ((len - 9) / LV_HASH_LEN != n || (len - 9) % LV_HASH_LEN != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: snapshot body of %zu bytes cannot hold %u root pages", what, len,
                      n);
    *pages = body + 9;
    *npages = n;
    return LV_OK;
}

int lv_snap_open(const lv_repo *r, const char *id, lv_manifest *m, const uint8_t **pages, uint32_t *npages)
{
    int rc = lv_manifest_read(r, id, m);
    if (rc != LV_OK)
        return rc;
    char what[96];
    snprintf(what, sizeof what, "manifests/%s", id);
    if (strcmp(m->kind, LV_SNAP_KIND) != 0)
        rc = lv_err(LV_ERR_USAGE, "%s is a \"%s\" backup, not a files snapshot", id, m->kind);
    else
        rc = lv_snap_body_parse(m->body, m->body_len, pages, npages, what);
    if (rc != LV_OK)
        lv_manifest_free(m);
    return rc;
}

int lv_snap_resolve(lv_catalog *c, const char *spec, const lv_snap_filter *filter, char id[2 * LV_HASH_LEN + 1])
{
    if (strcmp(spec, "latest") == 0) {
        lv_snap_row *v;
        size_t n, i;
        int rc = lv_snap_list(c, &v, &n);
        for (i = n; rc == LV_OK && i > 0 && !lv_snap_filter_match(filter, &v[i - 1].s); i--)
            ;
        if (rc == LV_OK && n == 0)
            rc = lv_err(LV_ERR_NOT_FOUND, "there is no files snapshot in the catalog (`labvault snapshots` lists "
                                          "them; `catalog rebuild` after a new install)");
        else if (rc == LV_OK && i == 0)
            rc = lv_err(LV_ERR_NOT_FOUND, "no files snapshot matches %s (`labvault snapshots` lists them)",
                        lv_snap_filter_text(filter));
        if (rc == LV_OK)
            snprintf(id, 2 * LV_HASH_LEN + 1, "%s", v[i - 1].id);
        lv_snap_list_free(v, n);
        return rc;
    }
    size_t len = strlen(spec);
    int hex = len >= 4 && len <= 2 * LV_HASH_LEN;
    for (size_t i = 0; hex && i < len; i++)
        hex = isxdigit((unsigned char)spec[i]) && !isupper((unsigned char)spec[i]);
    if (!hex)
        return lv_err(LV_ERR_USAGE, "snapshot \"%s\": give an id, a unique prefix of at least 4 lower-case "
                      "hex digits, or \"latest\"", spec);
    int matches = 0;
    int rc = lv_catalog_manifest_prefix(c, LV_SNAP_KIND, spec, id, &matches);
    if (rc == LV_OK && matches == 0)
        rc = lv_err(LV_ERR_NOT_FOUND, "no files snapshot has an id starting with %s", spec);
    else if (rc == LV_OK && matches > 1)
        rc = lv_err(LV_ERR_USAGE, "snapshot prefix %s is ambiguous: give more digits", spec);
    return rc;
}

void lv_node_copy(const lv_node *n, lv_buf *store, lv_node *out)
{
    lv_buf_reset(store);
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(1, h);
    lv_buf_append(store, h, sizeof h);
    lv_tree_node_encode(n, store);
    lv_tree_page pg = {store->data, store->len, 1};
    lv_tree_cursor c;
    lv_tree_cursor_init(&c, &pg);
    lv_tree_cursor_next(&c, out);
}
