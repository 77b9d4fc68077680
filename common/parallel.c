#include "common/parallel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

typedef struct par {
    pthread_mutex_t lock;
    size_t next, n;
    lv_par_fn fn;
    void *arg;
    int err;
    char msg[1024];
} par;

static void *worker(void *p)
{
    par *w = p;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (w->err || w->next >= w->n) {
            pthread_mutex_unlock(&w->lock);
            return NULL;
        }
        size_t i = w->next++;
        pthread_mutex_unlock(&w->lock);
        int rc = w->fn(w->arg, i);
        if (rc != LV_OK) {
            pthread_mutex_lock(&w->lock);
            if (!w->err) {
                w->err = rc;
                /* Copy now: the message lives in this thread's storage, gone when it exits. */
                snprintf(w->msg, sizeof w->msg, "%s", lv_errmsg());
            }
            pthread_mutex_unlock(&w->lock);
        }
    }
}

int lv_parallel_for(int threads, size_t n, lv_par_fn fn, void *arg)
{
    if (threads <= 1 || n <= 1) {
        for (size_t i = 0; i < n; i++) {
            int rc = fn(arg, i);
            if (rc != LV_OK)
                return rc;
        }
        return LV_OK;
    }
    par w = {.next = 0, .n = n, .fn = fn, .arg = arg, .err = 0};
    pthread_mutex_init(&w.lock, NULL);
    size_t extra = (size_t)threads - 1;
    if (extra > n - 1)
        extra = n - 1;
    pthread_t *tids = lv_xcalloc(extra, sizeof *tids);
    size_t started = 0;
    for (; started < extra; started++)
        if (pthread_create(&tids[started], NULL, worker, &w) != 0)
            break; /* fewer threads, same result */
    worker(&w);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    pthread_mutex_destroy(&w.lock);
    if (w.err)
        return lv_err(w.err, "%s", w.msg);
    return LV_OK;
}
