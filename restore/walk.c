#include "restore/walk.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

typedef struct rw {
    lv_tree_src src;
    char **inc;             /* normalized includes */
    int *hit;
    size_t ninc;
    const lv_rwalk_ops *ops;
    void *arg;
    lv_buf path;
} rw;

/* 2: path is an include or below one; 1: an include lies below path; 0: neither. */
static int match(rw *w, const char *path, size_t len)
{
    int best = 0;
    for (size_t i = 0; i < w->ninc; i++) {
        size_t l = strlen(w->inc[i]);
        if (len >= l && memcmp(path, w->inc[i], l) == 0 && (len == l || path[l] == '/')) {
            if (len == l)
                w->hit[i] = 1;
            return 2;
        }
        if (l > len && memcmp(w->inc[i], path, len) == 0 && w->inc[i][len] == '/')
            best = 1;
    }
    return best;
}

static int walk(rw *w, const uint8_t *pages, uint32_t npages, int inside)
{
    lv_dir_reader d;
    lv_dir_init(&d, w->src, pages, npages);
    size_t mark = w->path.len;
    lv_node n;
    int got = 0, rc;
    while ((rc = lv_dir_next(&d, &n, &got)) == LV_OK && got) {
        w->path.len = mark;
        if (mark)
            lv_buf_append(&w->path, "/", 1);
        lv_buf_append(&w->path, n.name, n.name_len);
        const char *path = lv_buf_cstr(&w->path);
        int m = inside ? 2 : match(w, path, w->path.len);
        if (m == 0 || (m == 1 && n.type != LV_NODE_DIR))
            continue;
        if (n.type == LV_NODE_DIR) {
            if ((rc = w->ops->dir_enter(w->arg, &n, path)) != LV_OK)
                break;
            rc = walk(w, n.pages, n.npages, m == 2);
            w->path.len = mark;
            if (mark)
                lv_buf_append(&w->path, "/", 1);
            lv_buf_append(&w->path, n.name, n.name_len);
            if (rc == LV_OK)
                rc = w->ops->dir_leave(w->arg, &n, lv_buf_cstr(&w->path));
        } else {
            rc = w->ops->entry(w->arg, &n, path);
        }
        if (rc != LV_OK)
            break;
    }
    w->path.len = mark;
    lv_dir_free(&d);
    return rc;
}

static char *normalize(const char *in)
{
    lv_buf b = LV_BUF_INIT;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n) {
            if (b.len)
                lv_buf_append(&b, "/", 1);
            lv_buf_append(&b, p, n);
        }
        p += n;
    }
    lv_buf_cstr(&b);
    return (char *)b.data;
}

int lv_rwalk(lv_tree_src src, const uint8_t *root, uint32_t nroot, const char *const *includes, size_t nincludes,
             const lv_rwalk_ops *ops, void *arg)
{
    rw w;
    memset(&w, 0, sizeof w);
    w.src = src;
    w.ops = ops;
    w.arg = arg;
    w.ninc = nincludes;
    w.inc = lv_xcalloc(nincludes ? nincludes : 1, sizeof *w.inc);
    w.hit = lv_xcalloc(nincludes ? nincludes : 1, sizeof *w.hit);
    int all = nincludes == 0;
    for (size_t i = 0; i < nincludes; i++) {
        w.inc[i] = normalize(includes[i]);
        if (!*w.inc[i]) { /* "/" includes everything */
            all = 1;
            w.hit[i] = 1;
        }
    }
    int rc = walk(&w, root, nroot, all);
    for (size_t i = 0; rc == LV_OK && i < nincludes; i++)
        if (!w.hit[i])
            rc = lv_err(LV_ERR_NOT_FOUND, "--include %s: no such path in the snapshot", includes[i]);
    for (size_t i = 0; i < nincludes; i++)
        free(w.inc[i]);
    free(w.inc);
    free(w.hit);
    lv_buf_free(&w.path);
    return rc;
}
