/* qsort that accepts an empty array: qsort(NULL, 0, ...) is undefined behaviour (its pointer is declared
 * non-null), and an empty listing naturally has a NULL array. Use this everywhere instead of qsort. */
#ifndef LV_COMMON_SORT_H
#define LV_COMMON_SORT_H

#include <stdlib.h>

static inline void lv_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

#endif
