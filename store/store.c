/* lv_store_open dispatch, key checks and the thin wrappers over the driver vtable (see store.h). */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/parallel.h"
#include "store/drivers.h"

#define KEY_MAX 1024

/* One set of key rules for both drivers, so a repository can move between them: what is a valid file
 * name component on the local side is also a safe S3 key, and ".tmp-" stays reserved for the local
 * driver's in-flight files. is_prefix allows the empty string and a trailing '/'. */
static int check_name(const char *key, int is_prefix, int temp)
{
    if (!key)
        return lv_err(LV_ERR_INTERNAL, "store: NULL key");
    size_t n = strlen(key);
    if ((n == 0 && !is_prefix) || n > KEY_MAX)
        return lv_err(LV_ERR_INTERNAL, "store: invalid key length %zu", n);
    if (!temp && strstr(key, ".tmp-"))
        return lv_err(LV_ERR_INTERNAL, "store: key %s contains the reserved \".tmp-\"", key);
    if (temp && !strstr(key, ".tmp-"))
        return lv_err(LV_ERR_INTERNAL, "store: %s is not a temporary object's name", key);
    const char *seg = key;
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch != 0 && (ch < 0x20 || ch == 0x7f))
            return lv_err(LV_ERR_INTERNAL, "store: key contains a control character");
        if (ch != '/' && ch != 0)
            continue;
        size_t len = (size_t)(key + i - seg);
        int last = ch == 0;
        /* An empty last segment is "ends with '/'": fine for a prefix (or the empty prefix). */
        int empty_ok = last && is_prefix;
        if ((len == 0 && !empty_ok) || (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return lv_err(LV_ERR_INTERNAL, "store: invalid key \"%s\"", key);
        seg = key + i + 1;
    }
    return LV_OK;
}

static int check_key(const char *key, int is_prefix) { return check_name(key, is_prefix, 0); }

int lv_store_open(const char *url, const lv_store_opts *opts, lv_store **out)
{
    static const lv_store_opts none;
    if (!opts)
        opts = &none;
    if (!url || !*url)
        return lv_err(LV_ERR_CONFIG, "repository URL is empty");
    if (strncmp(url, "s3://", 5) == 0) {
        const char *b = url + 5, *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);
        if (blen == 0)
            return lv_err(LV_ERR_CONFIG, "%s: no bucket name", url);
        char *bucket = lv_xasprintf("%.*s", (int)blen, b);
        /* The prefix is normalised to no leading or trailing '/': "s3://b/", "s3://b" are the root. */
        char *prefix = lv_xstrdup(slash ? slash + 1 : "");
        size_t plen = strlen(prefix);
        while (plen > 0 && prefix[plen - 1] == '/')
            prefix[--plen] = '\0';
        int rc = plen ? check_key(prefix, 0) : LV_OK;
        if (rc != LV_OK)
            rc = lv_err(LV_ERR_CONFIG, "%s: invalid prefix \"%s\"", url, prefix);
        else
            rc = lv_s3_open(bucket, prefix, opts, out);
        if (rc == LV_OK)
            (*out)->concurrency = opts->concurrency > 0 ? opts->concurrency : 4;
        free(bucket);
        free(prefix);
        return rc;
    }
    if (strncmp(url, "file://", 7) == 0) {
        if (url[7] != '/')
            return lv_err(LV_ERR_CONFIG, "%s: only file:///absolute/path is supported", url);
        return lv_local_open(url + 7, out);
    }
    const char *colon = strstr(url, "://");
    if (colon)
        return lv_err(LV_ERR_CONFIG, "%s: unknown repository scheme \"%.*s\" (use s3:// or a path)", url,
                      (int)(colon - url), url);
    return lv_local_open(url, out);
}

void lv_store_close(lv_store *s)
{
    if (s) {
        lv_store_prefetch_end(s);
        s->ops->close(s);
    }
}

const char *lv_store_describe(const lv_store *s) { return s->desc; }

int lv_store_create(lv_store *s) { return s->ops->create(s); }

int lv_store_put(lv_store *s, const char *key, const void *data, size_t len, int flags)
{
    int rc = check_key(key, 0);
    return rc ? rc : s->ops->put(s, key, data, len, flags);
}

int lv_store_get(lv_store *s, const char *key, uint64_t off, uint64_t len, lv_buf *out)
{
    int rc = check_key(key, 0);
    if (rc)
        return rc;
    size_t keep = out->len;
    rc = s->ops->get(s, key, off, len, out);
    if (rc != LV_OK)
        out->len = keep; /* contract: nothing half-appended on failure */
    return rc;
}

int lv_store_head(lv_store *s, const char *key, uint64_t *size)
{
    int rc = check_key(key, 0);
    return rc ? rc : s->ops->head(s, key, size);
}

/* ---- listings taken ahead (lv_store_prefetch) ---- */

typedef struct lv_store_prefetched {
    struct lv_store_prefetched *next;
    char *prefix;
    lv_store_keys keys;
    uint64_t *sizes;
    size_t cap;
    int rc;
} prefetched;

/* Guards every handle's list of prefetched listings: taken only to link or unlink one. */
static pthread_mutex_t prefetch_mu = PTHREAD_MUTEX_INITIALIZER;

static void prefetched_free(prefetched *p)
{
    lv_store_keys_free(&p->keys);
    free(p->sizes);
    free(p->prefix);
    free(p);
}

static int prefetch_cb(void *arg, const char *key, uint64_t size)
{
    prefetched *p = arg;
    if (p->cap == p->keys.n) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->sizes = lv_xrealloc(p->sizes, p->cap * sizeof *p->sizes);
    }
    p->sizes[p->keys.n] = size;
    lv_store_keys_add(&p->keys, key);
    return LV_OK;
}

typedef struct prefetch_run {
    lv_store *s;
    prefetched **v;
} prefetch_run;

static int prefetch_one(void *arg, size_t i)
{
    prefetch_run *r = arg;
    prefetched *p = r->v[i];
    p->rc = check_key(p->prefix, 1);
    if (p->rc == LV_OK)
        p->rc = r->s->ops->list(r->s, p->prefix, prefetch_cb, p);
    if (p->rc != LV_OK)
        lv_err_clear(); /* the caller's own listing will say it */
    return LV_OK;         /* one failure must not stop the others */
}

void lv_store_prefetch(lv_store *s, const char *const *prefixes, size_t n)
{
    if (n == 0 || s->concurrency == 0) /* a local directory lists fast */
        return;
    prefetch_run r = {s, lv_xcalloc(n, sizeof *r.v)};
    for (size_t i = 0; i < n; i++) {
        r.v[i] = lv_xcalloc(1, sizeof *r.v[i]);
        r.v[i]->prefix = lv_xstrdup(prefixes[i] ? prefixes[i] : "");
    }
    lv_parallel_for((size_t)s->concurrency < n ? s->concurrency : (int)n, n, prefetch_one, &r);
    pthread_mutex_lock(&prefetch_mu);
    for (size_t i = 0; i < n; i++) {
        if (r.v[i]->rc != LV_OK) {
            prefetched_free(r.v[i]);
            continue;
        }
        r.v[i]->next = s->prefetched;
        s->prefetched = r.v[i];
    }
    pthread_mutex_unlock(&prefetch_mu);
    free(r.v);
}

void lv_store_prefetch_end(lv_store *s)
{
    pthread_mutex_lock(&prefetch_mu);
    prefetched *p = s->prefetched;
    s->prefetched = NULL;
    pthread_mutex_unlock(&prefetch_mu);
    while (p) {
        prefetched *next = p->next;
        prefetched_free(p);
        p = next;
    }
}

/* The prefetched listing of exactly prefix, unlinked (the caller frees it), or NULL. */
static prefetched *prefetch_take(lv_store *s, const char *prefix)
{
    pthread_mutex_lock(&prefetch_mu); /* cheap beside any listing; other threads may list meanwhile */
    prefetched *found = NULL;
    for (prefetched **pp = &s->prefetched; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->prefix, prefix) == 0) {
            found = *pp;
            *pp = found->next;
            break;
        }
    pthread_mutex_unlock(&prefetch_mu);
    return found;
}

int lv_store_list(lv_store *s, const char *prefix, lv_store_list_cb cb, void *arg)
{
    int rc = check_key(prefix ? prefix : "", 1);
    if (rc)
        return rc;
    prefetched *p = prefetch_take(s, prefix ? prefix : "");
    if (!p)
        return s->ops->list(s, prefix ? prefix : "", cb, arg);
    for (size_t i = 0; i < p->keys.n && rc == LV_OK; i++)
        rc = cb(arg, p->keys.v[i], p->sizes[i]);
    prefetched_free(p);
    return rc;
}

int lv_store_del(lv_store *s, const char *key)
{
    int rc = check_key(key, 0);
    return rc ? rc : s->ops->del(s, key);
}

int lv_store_del_many(lv_store *s, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_key(keys[i], 0);
        if (rc)
            return rc;
    }
    return n ? s->ops->del_many(s, keys, n) : LV_OK;
}

void lv_store_keys_add(lv_store_keys *k, const char *key)
{
    LV_GROW(k->v, k->n, k->cap);
    k->v[k->n++] = lv_xstrdup(key);
}

static int keys_cb(void *arg, const char *key, uint64_t size)
{
    (void)size;
    lv_store_keys_add(arg, key);
    return LV_OK;
}

int lv_store_list_keys(lv_store *s, const char *prefix, lv_store_keys *out)
{
    memset(out, 0, sizeof *out);
    return lv_store_list(s, prefix, keys_cb, out);
}

void lv_store_keys_free(lv_store_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

int lv_store_temp_list(lv_store *s, const char *prefix, lv_store_temp_cb cb, void *arg)
{
    int rc = check_key(prefix ? prefix : "", 1);
    if (rc || !s->ops->temp_list)
        return rc;
    return s->ops->temp_list(s, prefix ? prefix : "", cb, arg);
}

int lv_store_temp_del(lv_store *s, const char *name)
{
    int rc = check_name(name, 0, 1);
    if (rc || !s->ops->temp_del)
        return rc;
    return s->ops->temp_del(s, name);
}

typedef struct sweep {
    lv_store *s;
    uint64_t removed;
} sweep;

static int sweep_one(void *arg, const char *name, uint64_t size, int64_t age_s)
{
    sweep *w = arg;
    if (age_s < LV_STORE_TEMP_STALE_S)
        return LV_OK;
    if (lv_store_temp_del(w->s, name) != LV_OK) {
        lv_warn("cannot remove the stale temporary object %s: %s", name, lv_errmsg());
        return LV_OK;
    }
    lv_info("removed the stale temporary object %s (%llu bytes, %lld h old: left by an interrupted write)",
            name, (unsigned long long)size, (long long)(age_s / 3600));
    w->removed++;
    return LV_OK;
}

int lv_store_temp_sweep(lv_store *s, const char *prefix, uint64_t *removed)
{
    sweep w = {s, 0};
    int rc = lv_store_temp_list(s, prefix, sweep_one, &w);
    if (removed)
        *removed = w.removed;
    return rc;
}

int lv_store_can_stream(const lv_store *s) { return s->ops->stream_open != NULL; }

int lv_store_stream_open(lv_store *s, const char *area, lv_store_stream **out)
{
    if (!s->ops->stream_open)
        return lv_err(LV_ERR_INTERNAL, "%s: this store cannot stream objects", s->desc);
    int rc = check_key(area, 0);
    return rc ? rc : s->ops->stream_open(s, area, out);
}

const char *lv_store_stream_name(const lv_store_stream *w) { return w->name; }

int lv_store_stream_write(lv_store_stream *w, const void *data, size_t n, uint64_t off)
{
    return w->store->ops->stream_write(w, data, n, off);
}

int lv_store_stream_commit(lv_store_stream *w, const char *key, int flags)
{
    int rc = check_key(key, 0);
    if (rc != LV_OK) {
        w->store->ops->stream_abort(w);
        return rc;
    }
    return w->store->ops->stream_commit(w, key, flags);
}

void lv_store_stream_abort(lv_store_stream *w)
{
    if (w)
        w->store->ops->stream_abort(w);
}

int lv_store_puts_in_flight(const lv_store *s)
{
    return s->ops->puts_in_flight > 0 ? s->ops->puts_in_flight : 2;
}

int lv_store_readers(const lv_store *s, int concurrency)
{
    if (!s->ops->cpu_bound_reads)
        return 2 * (concurrency > 0 ? concurrency : 1);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n > 64 ? 64 : (int)n;
}
