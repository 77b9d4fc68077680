/* Searching a snapshot by pattern (contract in snapshot/find.h): a filter over the listing of snapshot/ls. */
#include "snapshot/find.h"

#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "snapshot/pattern.h"

typedef struct finder {
    const char *const *patterns;
    size_t npatterns;
    lv_snap_ls_fn cb;
    void *arg;
    lv_buf abs;
} finder;

static int visit(void *arg, const char *path, const lv_node *n)
{
    finder *f = arg;
    lv_buf_reset(&f->abs);
    lv_buf_append(&f->abs, "/", 1);
    lv_buf_append_str(&f->abs, path);
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    for (size_t i = 0; i < f->npatterns; i++)
        if (lv_path_pattern_match(f->patterns[i], lv_buf_cstr(&f->abs), name))
            return f->cb(f->arg, lv_buf_cstr(&f->abs), n);
    return LV_OK;
}

int lv_snap_find(const lv_repo *r, const char *id, const char *const *patterns, size_t npatterns, lv_snap_ls_fn cb,
                 void *arg)
{
    finder f = {patterns, npatterns, cb, arg, LV_BUF_INIT};
    int rc = lv_snap_ls(r, id, "", visit, &f);
    lv_buf_free(&f.abs);
    return rc;
}
