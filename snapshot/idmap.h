/* A hash map from 32-byte keys to a size_t value (open addressing, linear probing, load <= 1/2).
 * Used for sets of blob ids (visited trees, blobs of a restore batch) and for small keyed tables
 * (hardlink groups keyed by device and inode). Keys are hashed over all 32 bytes, so structured keys
 * (a device number followed by zeros) spread as well as random blob ids. Removal shifts the following
 * entries back (no tombstones), so a map that adds and removes all the time keeps short probe chains. */
#ifndef LV_SNAPSHOT_IDMAP_H
#define LV_SNAPSHOT_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lv_idmap {
    uint8_t (*keys)[32];
    size_t *vals;
    uint8_t *used;
    size_t cap, n;
} lv_idmap;

#define LV_IDMAP_INIT {NULL, NULL, NULL, 0, 0}

/* Pointer to the value of key, or NULL. */
size_t *lv_idmap_get(const lv_idmap *m, const uint8_t key[32]);
/* Insert or overwrite. Returns 1 when the key was new. */
int lv_idmap_put(lv_idmap *m, const uint8_t key[32], size_t val);
/* Remove key; returns 1 when it was there. */
int lv_idmap_del(lv_idmap *m, const uint8_t key[32]);
void lv_idmap_clear(lv_idmap *m);   /* empty, keep memory */
void lv_idmap_free(lv_idmap *m);

#endif
