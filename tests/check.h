/* Minimal TAP output for C unit tests: CHECK(cond, description) prints "ok N - ..." or "not ok N - ..."
 * with the failing expression, and check_done() prints the plan and returns the exit status. */
#ifndef LV_TESTS_CHECK_H
#define LV_TESTS_CHECK_H

#include <stdio.h>

static int check_n, check_failed;

#define CHECK(cond, ...)                                                                                  \
    do {                                                                                                  \
        check_n++;                                                                                        \
        int check_ok_ = (cond) ? 1 : 0;                                                                   \
        printf("%sok %d - ", check_ok_ ? "" : "not ", check_n);                                           \
        printf(__VA_ARGS__);                                                                              \
        printf("\n");                                                                                     \
        if (!check_ok_) {                                                                                 \
            check_failed++;                                                                               \
            printf("#   failed: %s at %s:%d\n", #cond, __FILE__, __LINE__);                               \
        }                                                                                                 \
    } while (0)

static inline int check_done(void)
{
    printf("1..%d\n", check_n);
    return check_failed ? 1 : 0;
}

#endif
