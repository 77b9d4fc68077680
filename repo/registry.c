/* The registries of manifest kinds and catalog rebuild and sync steps (contract in repo/registry.h). */
#include "repo/registry.h"

#include <string.h>

#include "common/error.h"

#define KINDS_MAX 16
#define STEPS_MAX 8

static struct {
    char kind[LV_MANIFEST_KIND_MAX + 1];
    lv_manifest_refs_fn refs;
    lv_manifest_wal_fn wal;
} kinds[KINDS_MAX];

static struct {
    lv_rebuild_step v[STEPS_MAX];
    size_t n;
} rebuild;
static struct {
    lv_sync_step v[STEPS_MAX];
    size_t n;
} sync;

static int in_use(int i) { return kinds[i].refs || kinds[i].wal; }

static int find_kind(const char *kind)
{
    for (int i = 0; i < KINDS_MAX; i++)
        if (in_use(i) && strcmp(kinds[i].kind, kind) == 0)
            return i;
    return -1;
}

/* The slot of kind, taken when free; -1 (message set) when the kind is invalid or the table full. */
static int kind_slot(const char *kind)
{
    if (!lv_manifest_kind_valid(kind)) {
        lv_err(LV_ERR_INTERNAL, "invalid manifest kind \"%s\"", kind ? kind : "(null)");
        return -1;
    }
    int i = find_kind(kind);
    for (int j = 0; i < 0 && j < KINDS_MAX; j++)
        if (!in_use(j)) {
            strcpy(kinds[j].kind, kind);
            i = j;
        }
    if (i < 0)
        lv_err(LV_ERR_INTERNAL, "too many manifest kinds registered");
    return i;
}

int lv_manifest_register_kind(const char *kind, lv_manifest_refs_fn refs)
{
    int i = refs ? kind_slot(kind) : find_kind(kind);
    if (i >= 0)
        kinds[i].refs = refs;
    return i >= 0 || !refs ? LV_OK : LV_ERR_INTERNAL;
}

int lv_manifest_register_wal(const char *kind, lv_manifest_wal_fn fn)
{
    int i = fn ? kind_slot(kind) : find_kind(kind);
    if (i >= 0)
        kinds[i].wal = fn;
    return i >= 0 || !fn ? LV_OK : LV_ERR_INTERNAL;
}

lv_manifest_refs_fn lv_manifest_kind_refs(const char *kind)
{
    int i = find_kind(kind);
    return i >= 0 ? kinds[i].refs : NULL;
}

lv_manifest_wal_fn lv_manifest_kind_wal(const char *kind)
{
    int i = find_kind(kind);
    return i >= 0 ? kinds[i].wal : NULL;
}

static int full(const char *what, const char *name)
{
    return lv_err(LV_ERR_INTERNAL, "cannot register catalog %s step %s", what, name ? name : "(null)");
}

int lv_catalog_rebuild_register(const char *name, lv_rebuild_step_fn fn)
{
    if (rebuild.n == STEPS_MAX || !name || !fn)
        return full("rebuild", name);
    rebuild.v[rebuild.n++] = (lv_rebuild_step){name, fn};
    return LV_OK;
}

int lv_catalog_sync_register(const char *name, lv_sync_step_fn fn, const char *lists)
{
    if (sync.n == STEPS_MAX || !name || !fn)
        return full("sync", name);
    sync.v[sync.n++] = (lv_sync_step){name, fn, lists};
    return LV_OK;
}

size_t lv_rebuild_steps(const lv_rebuild_step **out)
{
    *out = rebuild.v;
    return rebuild.n;
}

size_t lv_sync_steps(const lv_sync_step **out)
{
    *out = sync.v;
    return sync.n;
}
