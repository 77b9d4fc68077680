/* snapshot/idmap: put, get, overwrite, and removal that keeps every other key reachable (the shifts
 * back of linear probing), on keys that collide in the low bits as (dev, ino) keys do. */
#include <string.h>

#include "snapshot/idmap.h"
#include "tests/check.h"

static void key(uint8_t k[32], uint64_t dev, uint64_t ino)
{
    memset(k, 0, 32);
    memcpy(k, &dev, 8);
    memcpy(k + 8, &ino, 8);
}

int main(void)
{
    lv_idmap m = LV_IDMAP_INIT;
    uint8_t k[32];
    enum { N = 20000 };
    for (uint64_t i = 0; i < N; i++) {
        key(k, 2049, i * 64);
        lv_idmap_put(&m, k, (size_t)i);
    }
    CHECK(m.n == N, "%d keys", N);
    key(k, 2049, 64);
    CHECK(lv_idmap_put(&m, k, 777) == 0 && *lv_idmap_get(&m, k) == 777, "put of a present key overwrites it");
    lv_idmap_put(&m, k, 1);
    int removed = 1;
    for (uint64_t i = 0; i < N; i += 3) {
        key(k, 2049, i * 64);
        removed &= lv_idmap_del(&m, k) == 1;
    }
    CHECK(removed, "every third key removed");
    key(k, 2049, 0);
    CHECK(lv_idmap_del(&m, k) == 0, "removing an absent key: 0");
    int right = 1;
    for (uint64_t i = 0; i < N; i++) {
        key(k, 2049, i * 64);
        size_t *v = lv_idmap_get(&m, k);
        right &= i % 3 == 0 ? v == NULL : v != NULL && *v == (size_t)i;
    }
    CHECK(right, "the removed keys are gone, every other key is found with its value");
    CHECK(m.n == N - (N + 2) / 3, "count after removal: %zu", m.n);
    for (uint64_t i = 0; i < N; i++) {
        key(k, 2049, i * 64);
        lv_idmap_del(&m, k);
    }
    key(k, 2049, 5 * 64);
    CHECK(m.n == 0 && lv_idmap_get(&m, k) == NULL, "empty after removing everything");
    lv_idmap_free(&m);
    return check_done();
}
