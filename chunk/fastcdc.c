#include "chunk/fastcdc.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define GEAR_INFO "labvault v1 fastcdc gear"

static unsigned log2u(uint32_t v)
{
    unsigned b = 0;
    while (v > 1) {
        v >>= 1;
        b++;
    }
    return b;
}

/* bits judgement bits ending at bit 62 (see the header: bit 63 is shifted out by the 2-byte loop). */
static uint64_t top_mask(unsigned bits) { return ((UINT64_C(1) << bits) - 1) << (63 - bits); }

void lv_cdc_init(lv_cdc *c, const uint8_t key[LV_KEY_LEN], uint32_t min, uint32_t avg, uint32_t max)
{
    uint8_t table[256 * 8];
    lv_hkdf_sha256(key, LV_KEY_LEN, GEAR_INFO, table, sizeof table);
    for (int i = 0; i < 256; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= (uint64_t)table[8 * i + k] << (8 * k);
        c->gear[i] = v;
        c->gear_ls[i] = v << 1;
    }
    lv_wipe(table, sizeof table);
    unsigned bits = log2u(avg);
    c->mask_s = top_mask(bits + 2);
    c->mask_l = top_mask(bits > 2 ? bits - 2 : 1);
    c->mask_s_ls = c->mask_s << 1;
    c->mask_l_ls = c->mask_l << 1;
    c->min = min;
    c->avg = avg;
    c->max = max;
}

size_t lv_cdc_cut(const lv_cdc *c, const uint8_t *p, size_t n)
{
    if (n <= c->min)
        return n;
    if (n > c->max)
        n = c->max;
    size_t normal = c->avg < n ? c->avg : n;
    size_t i = c->min;
    uint64_t fp = 0;
    /* Two bytes per iteration: the first is added pre-shifted (gear_ls) and tested against the
     * shifted mask, which is the same test as the one-byte loop would do at that position. */
    for (; i + 2 <= normal; i += 2) {
        fp = (fp << 2) + c->gear_ls[p[i]];
        if (!(fp & c->mask_s_ls))
            return i + 1;
        fp += c->gear[p[i + 1]];
        if (!(fp & c->mask_s))
            return i + 2;
    }
    for (; i + 2 <= n; i += 2) {
        fp = (fp << 2) + c->gear_ls[p[i]];
        if (!(fp & c->mask_l_ls))
            return i + 1;
        fp += c->gear[p[i + 1]];
        if (!(fp & c->mask_l))
            return i + 2;
    }
    return n;
}

/* ---- stream ----------------------------------------------------------------------------------- */

void lv_cdc_stream_init(lv_cdc_stream *s, const lv_cdc *c, lv_cdc_emit_fn emit, void *arg)
{
    memset(s, 0, sizeof *s);
    s->cdc = c;
    s->cap = 2 * (size_t)c->max + 65536;
    s->buf = lv_xmalloc(s->cap);
    s->emit = emit;
    s->arg = arg;
}

void lv_cdc_stream_free(lv_cdc_stream *s)
{
    free(s->buf);
    s->buf = NULL;
}

static int emit_chunk(lv_cdc_stream *s, size_t n)
{
    int rc = s->emit(s->arg, s->offset, s->buf + s->start, n);
    s->start += n;
    s->offset += n;
    if (s->start == s->end)
        s->start = s->end = 0;
    return rc;
}

uint8_t *lv_cdc_stream_space(lv_cdc_stream *s, size_t want)
{
    if (want > s->cdc->max)
        want = s->cdc->max;
    if (s->cap - s->end < want) {
        /* Less than max bytes are pending after every commit, so this always makes room. */
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
    }
    return s->buf + s->end;
}

int lv_cdc_stream_commit(lv_cdc_stream *s, size_t n)
{
    s->end += n;
    while (s->end - s->start >= s->cdc->max) {
        size_t cut = lv_cdc_cut(s->cdc, s->buf + s->start, s->end - s->start);
        int rc = emit_chunk(s, cut);
        if (rc)
            return rc;
    }
    return 0;
}

int lv_cdc_stream_push(lv_cdc_stream *s, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n > 0) {
        size_t step = n < s->cdc->max ? n : s->cdc->max;
        memcpy(lv_cdc_stream_space(s, step), q, step);
        int rc = lv_cdc_stream_commit(s, step);
        if (rc)
            return rc;
        q += step;
        n -= step;
    }
    return 0;
}

int lv_cdc_stream_finish(lv_cdc_stream *s)
{
    while (s->end > s->start) {
        size_t cut = lv_cdc_cut(s->cdc, s->buf + s->start, s->end - s->start);
        int rc = emit_chunk(s, cut);
        if (rc)
            return rc;
    }
    return 0;
}

void lv_cdc_stream_seek(lv_cdc_stream *s, uint64_t offset)
{
    s->start = s->end = 0;
    s->offset = offset;
}
