#include "snapshot/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static size_t hash(const uint8_t k[32])
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, k + 8 * i, 8);
        h ^= w;
        h *= 0xbf58476d1ce4e5b9u; /* splitmix64 finalizer steps */
        h ^= h >> 31;
    }
    return (size_t)h;
}

static size_t find_slot(const lv_idmap *m, const uint8_t key[32])
{
    size_t mask = m->cap - 1, i = hash(key) & mask;
    while (m->used[i] && memcmp(m->keys[i], key, 32) != 0)
        i = (i + 1) & mask;
    return i;
}

size_t *lv_idmap_get(const lv_idmap *m, const uint8_t key[32])
{
    if (m->cap == 0)
        return NULL;
    size_t i = find_slot(m, key);
    return m->used[i] ? &m->vals[i] : NULL;
}

static void grow(lv_idmap *m)
{
    lv_idmap old = *m;
    m->cap = old.cap ? 2 * old.cap : 64;
    m->keys = lv_xmalloc(m->cap * 32);
    m->vals = lv_xmalloc(m->cap * sizeof *m->vals);
    m->used = lv_xcalloc(m->cap, 1);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i])
            lv_idmap_put(m, old.keys[i], old.vals[i]);
    lv_idmap_free(&old);
}

int lv_idmap_put(lv_idmap *m, const uint8_t key[32], size_t val)
{
    if (2 * (m->n + 1) > m->cap)
        grow(m);
    size_t i = find_slot(m, key);
    int fresh = !m->used[i];
    if (fresh) {
        memcpy(m->keys[i], key, 32);
        m->used[i] = 1;
        m->n++;
    }
    m->vals[i] = val;
    return fresh;
}

int lv_idmap_del(lv_idmap *m, const uint8_t key[32])
{
    if (m->cap == 0)
        return 0;
    size_t mask = m->cap - 1, i = find_slot(m, key);
    if (!m->used[i])
        return 0;
    m->used[i] = 0;
    m->n--;
    for (size_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        size_t k = hash(m->keys[j]) & mask;
        /* Entry j stays unless its home k lies cyclically outside (i, j]: then it moves into the hole. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        memcpy(m->keys[i], m->keys[j], 32);
        m->vals[i] = m->vals[j];
        m->used[i] = 1;
        m->used[j] = 0;
        i = j;
    }
    return 1;
}

void lv_idmap_clear(lv_idmap *m)
{
    if (m->cap)
        memset(m->used, 0, m->cap);
    m->n = 0;
}

void lv_idmap_free(lv_idmap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->used);
    memset(m, 0, sizeof *m);
}
