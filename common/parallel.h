/* lv_parallel_for: run fn(arg, i) for every i in [0, n) on up to `threads` threads (the calling thread
 * is one of them), the store's way of honouring opts->concurrency (multipart parts, delete batches) and
 * a helper for callers that put many objects.
 *
 * Contract: tasks are handed out in increasing i; after the first task fails no new task starts
 * (running ones finish). Returns LV_OK, or the code of the first failure with that task's message
 * re-recorded on the calling thread (messages are thread-local, see common/error.h). threads <= 1 runs
 * everything inline. If a thread cannot be created the work runs on fewer threads, never fails. */
#ifndef LV_COMMON_PARALLEL_H
#define LV_COMMON_PARALLEL_H

#include <stddef.h>

typedef int (*lv_par_fn)(void *arg, size_t i);

int lv_parallel_for(int threads, size_t n, lv_par_fn fn, void *arg);

#endif
