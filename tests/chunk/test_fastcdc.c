/* FastCDC (chunk/fastcdc.h): cut points are deterministic, within bounds, average near the target,
 * depend on the key, survive an insertion (only the chunks around it change), and the streaming
 * interface cuts exactly like the one-shot function whatever the sizes of the pieces pushed. */
#include <stdlib.h>
#include <string.h>

#include "chunk/fastcdc.h"
#include "tests/check.h"

#define MIN (64u << 10)
#define AVG (256u << 10)
#define MAX (1u << 20)
#define LEN ((size_t)48 << 20)

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

typedef struct cuts {
    size_t n, cap;
    uint64_t *off, *len;
} cuts;

static void cuts_add(cuts *c, uint64_t off, uint64_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->off = realloc(c->off, c->cap * sizeof *c->off);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
    }
    c->off[c->n] = off;
    c->len[c->n++] = len;
}

static void cut_all(const lv_cdc *cdc, const uint8_t *p, size_t n, cuts *c)
{
    size_t pos = 0;
    while (pos < n) {
        size_t k = lv_cdc_cut(cdc, p + pos, n - pos);
        cuts_add(c, pos, k);
        pos += k;
    }
}

static int emit(void *arg, uint64_t off, const uint8_t *p, size_t n)
{
    (void)p;
    cuts_add(arg, off, n);
    return 0;
}

/* Chunks (by content) of b that also occur in a. */
static size_t shared(const uint8_t *a, const cuts *ca, const uint8_t *b, const cuts *cb)
{
    size_t same = 0;
    for (size_t i = 0; i < cb->n; i++)
        for (size_t k = 0; k < ca->n; k++)
            if (ca->len[k] == cb->len[i] && memcmp(a + ca->off[k], b + cb->off[i], cb->len[i]) == 0) {
                same++;
                break;
            }
    return same;
}

int main(void)
{
    uint8_t key[LV_KEY_LEN], key2[LV_KEY_LEN];
    memset(key, 7, sizeof key);
    memset(key2, 8, sizeof key2);
    uint8_t *data = malloc(LEN + 1);
    fill(data, LEN, 1);
    lv_cdc cdc, cdc2;
    lv_cdc_init(&cdc, key, MIN, AVG, MAX);
    lv_cdc_init(&cdc2, key2, MIN, AVG, MAX);

    cuts a = {0}, a2 = {0};
    cut_all(&cdc, data, LEN, &a);
    cut_all(&cdc, data, LEN, &a2);
    CHECK(a.n == a2.n && memcmp(a.len, a2.len, a.n * sizeof *a.len) == 0, "deterministic: %zu chunks twice", a.n);
    int bounds = 1;
    for (size_t i = 0; i + 1 < a.n; i++)
        bounds &= a.len[i] >= MIN && a.len[i] <= MAX;
    CHECK(bounds && a.len[a.n - 1] <= MAX, "every chunk but the last within [min, max]");
    double avg = (double)LEN / (double)a.n;
    CHECK(avg > 0.6 * AVG && avg < 1.6 * AVG, "average chunk %.0f bytes near the target %u", avg, AVG);

    cuts k2 = {0};
    cut_all(&cdc2, data, LEN, &k2);
    size_t common = 0;
    for (size_t i = 0, j = 0; i < a.n && j < k2.n;) {
        if (a.off[i] == k2.off[j]) {
            common++;
            i++;
            j++;
        } else if (a.off[i] < k2.off[j])
            i++;
        else
            j++;
    }
    CHECK(common < a.n / 4, "another key cuts elsewhere (%zu of %zu boundaries shared)", common, a.n);

    /* Insert one byte at the front: all but the first chunk or two come out identical. */
    uint8_t *ins = malloc(LEN + 1);
    ins[0] = 0x42;
    memcpy(ins + 1, data, LEN);
    cuts b = {0};
    cut_all(&cdc, ins, LEN + 1, &b);
    size_t same = shared(data, &a, ins, &b);
    CHECK(same + 3 >= b.n, "one byte inserted at the front: %zu of %zu chunks unchanged", same, b.n);

    /* Streaming in awkward pieces gives the same cuts; offsets continue after a seek. */
    cuts s = {0};
    lv_cdc_stream cs;
    lv_cdc_stream_init(&cs, &cdc, emit, &s);
    size_t pos = 0, step = 1;
    while (pos < LEN) {
        size_t k = step < LEN - pos ? step : LEN - pos;
        lv_cdc_stream_push(&cs, data + pos, k);
        pos += k;
        step = step * 3 % 1000003 + 1;
    }
    lv_cdc_stream_finish(&cs);
    CHECK(s.n == a.n && memcmp(s.len, a.len, a.n * sizeof *a.len) == 0 && memcmp(s.off, a.off, a.n * sizeof *a.off) == 0,
          "stream: same cuts as one-shot (%zu chunks)", s.n);
    cuts t = {0};
    lv_cdc_stream_seek(&cs, 1000000);
    uint8_t *dst = lv_cdc_stream_space(&cs, 1000);
    memcpy(dst, data, 1000);
    lv_cdc_stream_commit(&cs, 1000);
    cs.arg = &t;
    lv_cdc_stream_finish(&cs);
    CHECK(t.n == 1 && t.off[0] == 1000000 && t.len[0] == 1000, "after seek: a short region is one chunk at its offset");
    lv_cdc_stream_free(&cs);

    /* Tiny inputs are one chunk; an empty one is none. */
    CHECK(lv_cdc_cut(&cdc, data, 10) == 10, "input below min is one chunk");
    CHECK(lv_cdc_cut(&cdc, data, 0) == 0, "empty input: nothing");

    free(a.off), free(a.len), free(a2.off), free(a2.len), free(k2.off), free(k2.len);
    free(b.off), free(b.len), free(s.off), free(s.len), free(t.off), free(t.len);
    free(data);
    free(ins);
    return check_done();
}
