/* A growable byte buffer with explicit ownership: the holder of an lv_buf frees it with lv_buf_free().
 * Allocation failure aborts the process (lv_xmalloc): a backup tool that runs out of memory cannot
 * continue meaningfully, and checking every allocation would hide the real error paths. */
#ifndef LV_COMMON_BUF_H
#define LV_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lv_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} lv_buf;

#define LV_BUF_INIT {NULL, 0, 0}

void lv_buf_reserve(lv_buf *b, size_t extra);      /* room for len + extra bytes */
void lv_buf_append(lv_buf *b, const void *p, size_t n);
/* Append v little-endian (the byte order of every binary format labvault writes). */
static inline void lv_buf_put_le32(lv_buf *b, uint32_t v)
{
    uint8_t h[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    lv_buf_append(b, h, 4);
}
static inline void lv_buf_put_le64(lv_buf *b, uint64_t v)
{
    lv_buf_put_le32(b, (uint32_t)v);
    lv_buf_put_le32(b, (uint32_t)(v >> 32));
}
void lv_buf_append_str(lv_buf *b, const char *s);
void lv_buf_printf(lv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lv_buf_reset(lv_buf *b);                      /* len = 0, keep memory */
void lv_buf_free(lv_buf *b);                       /* release memory, back to LV_BUF_INIT */
char *lv_buf_cstr(lv_buf *b);                      /* NUL-terminate (not counted in len) */

/* Make room for one more element in a growable array (arr, n used, cap allocated): doubles, starting
 * at 64. Aborts on allocation failure like every lv_x* allocator. */
#define LV_GROW(arr, n, cap)                                                                          \
    do {                                                                                              \
        if ((n) == (cap)) {                                                                           \
            (cap) = (cap) ? 2 * (cap) : 64;                                                           \
            (arr) = lv_xrealloc((arr), (cap) * sizeof *(arr));                                        \
        }                                                                                             \
    } while (0)

void *lv_xmalloc(size_t n);
void *lv_xcalloc(size_t n, size_t size);
void *lv_xrealloc(void *p, size_t n);
char *lv_xstrdup(const char *s);
char *lv_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
