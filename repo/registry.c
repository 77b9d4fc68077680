/* The registries of manifest kinds and catalog-rebuild steps (contract in repo/registry.h). */
#include "repo/registry.h"

#include <string.h>

#include "common/error.h"

#define KINDS_MAX 16
#define STEPS_MAX 8

static struct {
    char kind[LV_MANIFEST_KIND_MAX + 1];
    lv_manifest_refs_fn refs;
} kinds[KINDS_MAX];

typedef struct steps {
    lv_rebuild_step v[STEPS_MAX];
    size_t n;
} steps;
static steps rebuild, sync;

int lv_manifest_register_kind(const char *kind, lv_manifest_refs_fn refs)
{
    if (!lv_manifest_kind_valid(kind))
        return lv_err(LV_ERR_INTERNAL, "invalid manifest kind \"%s\"", kind ? kind : "(null)");
    int free_slot = -1;
    for (int i = 0; i < KINDS_MAX; i++) {
        if (kinds[i].refs && strcmp(kinds[i].kind, kind) == 0) {
            kinds[i].refs = refs;
            return LV_OK;
        }
        if (!kinds[i].refs && free_slot < 0)
            free_slot = i;
    }
    if (!refs)
        return LV_OK;
    if (free_slot < 0)
        return lv_err(LV_ERR_INTERNAL, "too many manifest kinds registered");
    strcpy(kinds[free_slot].kind, kind);
    kinds[free_slot].refs = refs;
    return LV_OK;
}

lv_manifest_refs_fn lv_manifest_kind_refs(const char *kind)
{
    for (int i = 0; i < KINDS_MAX; i++)
        if (kinds[i].refs && strcmp(kinds[i].kind, kind) == 0)
            return kinds[i].refs;
    return NULL;
}

static int add(steps *s, const char *what, const char *name, lv_rebuild_step_fn fn)
{
    if (s->n == STEPS_MAX || !name || !fn)
        return lv_err(LV_ERR_INTERNAL, "cannot register catalog %s step %s", what, name ? name : "(null)");
    s->v[s->n].name = name;
    s->v[s->n].fn = fn;
    s->n++;
    return LV_OK;
}

int lv_catalog_rebuild_register(const char *name, lv_rebuild_step_fn fn) { return add(&rebuild, "rebuild", name, fn); }
int lv_catalog_sync_register(const char *name, lv_rebuild_step_fn fn) { return add(&sync, "sync", name, fn); }

size_t lv_rebuild_steps(const lv_rebuild_step **out)
{
    *out = rebuild.v;
    return rebuild.n;
}

size_t lv_sync_steps(const lv_rebuild_step **out)
{
    *out = sync.v;
    return sync.n;
}
