#include "repo/lock.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"

struct lv_lock {
    lv_store *st;
    char key[96];
    lv_lock_info info;
    int lease_s;
    char purpose[64];
    /* keepalive */
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void this_host(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0)
        snprintf(buf, n, "unknown");
    buf[n - 1] = '\0';
}

static void serialize(const lv_lock *l, lv_buf *out)
{
    lv_buf_printf(out, "host = %s\nuser = %s\npid = %ld\nexclusive = %d\ncreated = %lld\nexpires = %lld\n"
                       "purpose = %s\n",
                  l->info.host, l->info.user, l->info.pid, l->info.exclusive, (long long)l->info.created,
                  (long long)l->info.expires, l->purpose);
}

int lv_lock_parse(const char *text, size_t len, lv_lock_info *li)
{
    memset(li, 0, sizeof *li);
    int have = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[512];
        if (ll >= sizeof line)
            return lv_err(LV_ERR_CORRUPT, "lock: line too long");
        memcpy(line, p, ll);
        line[ll] = '\0';
        p += ll + (nl ? 1 : 0);
        char *eq = strstr(line, " = ");
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = line, *v = eq + 3;
        char *e = NULL;
        if (strcmp(k, "host") == 0) {
            snprintf(li->host, sizeof li->host, "%s", v);
            have |= 1;
        } else if (strcmp(k, "user") == 0)
            snprintf(li->user, sizeof li->user, "%s", v);
        else if (strcmp(k, "pid") == 0) {
            li->pid = strtol(v, &e, 10);
            have |= 2;
        } else if (strcmp(k, "exclusive") == 0)
            li->exclusive = strcmp(v, "1") == 0;
        else if (strcmp(k, "purpose") == 0)
            snprintf(li->purpose, sizeof li->purpose, "%s", v);
        else if (strcmp(k, "created") == 0)
            li->created = strtoll(v, &e, 10);
        else if (strcmp(k, "expires") == 0) {
            li->expires = strtoll(v, &e, 10);
            have |= 4;
        }
        if (e && *e)
            return lv_err(LV_ERR_CORRUPT, "lock: bad number '%s' for %s", v, k);
    }
    if (have != 7)
        return lv_err(LV_ERR_CORRUPT, "lock: missing host, pid or expires");
    return LV_OK;
}

static int is_stale(const lv_lock_info *li, int64_t now)
{
    if (li->expires < now)
        return 1;
    char host[256];
    this_host(host, sizeof host);
    if (strcmp(host, li->host) == 0 && li->pid > 0 && kill((pid_t)li->pid, 0) != 0 && errno == ESRCH)
        return 1;
    return 0;
}

typedef struct list_ctx {
    lv_store *st;
    const char *prefix;
    int remove_stale;
    int (*cb)(void *, const lv_lock_info *);
    void *arg;
    int64_t now;
    int rc;
} list_ctx;

static int list_one(void *arg, const char *key, uint64_t size)
{
    list_ctx *c = arg;
    (void)size;
    lv_buf b = LV_BUF_INIT;
    int rc = lv_store_get(c->st, key, 0, 0, &b);
    if (rc == LV_ERR_NOT_FOUND) { /* released while we listed */
        lv_buf_free(&b);
        return 0;
    }
    if (rc != LV_OK) {
        lv_buf_free(&b);
        return rc;
    }
    lv_lock_info li;
    rc = lv_lock_parse((const char *)b.data, b.len, &li);
    lv_buf_free(&b);
    if (rc != LV_OK) {
        /* An unreadable lock cannot be judged live; treat it as live until its object ages out is not
         * possible without a date, so report it and let the operator remove it (repo unlock --force). */
        lv_err_ctx("%s", key);
        memset(&li, 0, sizeof li);
        snprintf(li.host, sizeof li.host, "(unreadable)");
        li.unreadable = 1;
        li.exclusive = 1;
        li.expires = INT64_MAX;
    }
    snprintf(li.key, sizeof li.key, "%s", key);
    li.stale = is_stale(&li, c->now);
    if (li.stale && c->remove_stale) {
        lv_warn("removing stale lock %s (host %s, pid %ld, %s)", key, li.host, li.pid,
                li.expires < c->now ? "lease expired" : "process gone");
        int drc = lv_store_del(c->st, key);
        if (drc != LV_OK)
            return drc;
        return 0;
    }
    return c->cb ? c->cb(c->arg, &li) : 0;
}

int lv_lock_list(lv_store *st, int remove_stale, int (*cb)(void *arg, const lv_lock_info *li), void *arg)
{
    list_ctx c = {st, "locks/", remove_stale, cb, arg, (int64_t)time(NULL), 0};
    return lv_store_list(st, c.prefix, list_one, &c);
}

int lv_inflight_list(lv_store *st, int remove_stale, int (*cb)(void *arg, const lv_lock_info *li), void *arg)
{
    list_ctx c = {st, LV_INFLIGHT_PREFIX, remove_stale, cb, arg, (int64_t)time(NULL), 0};
    return lv_store_list(st, c.prefix, list_one, &c);
}

typedef struct conflict_ctx {
    const lv_lock *self;
    lv_lock_info found;
    int conflict;
} conflict_ctx;

static int find_conflict(void *arg, const lv_lock_info *li)
{
    conflict_ctx *c = arg;
    if (strcmp(li->key, c->self->key) == 0)
        return 0;
    if (c->self->info.exclusive || li->exclusive) {
        c->found = *li;
        c->conflict = 1;
        return 1; /* stop listing */
    }
    return 0;
}

static int write_lock(lv_lock *l)
{
    lv_buf b = LV_BUF_INIT;
    serialize(l, &b);
    int rc = lv_store_put(l->st, l->key, b.data, b.len, 0);
    lv_buf_free(&b);
    return rc;
}

static lv_lock *lock_new(lv_store *st, const char *prefix, int exclusive, int lease_s, const char *purpose)
{
    lv_lock *l = lv_xcalloc(1, sizeof *l);
    l->st = st;
    l->lease_s = lease_s;
    uint8_t rnd[16];
    char hex[33];
    lv_random(rnd, sizeof rnd);
    lv_hex_encode(rnd, sizeof rnd, hex);
    snprintf(l->key, sizeof l->key, "%s%s", prefix, hex);
    this_host(l->info.host, sizeof l->info.host);
    struct passwd *pw = getpwuid(getuid());
    snprintf(l->info.user, sizeof l->info.user, "%s", pw ? pw->pw_name : "?");
    l->info.pid = (long)getpid();
    l->info.exclusive = exclusive;
    l->info.created = (int64_t)time(NULL);
    l->info.expires = l->info.created + lease_s;
    snprintf(l->purpose, sizeof l->purpose, "%s", purpose);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return l;
}

static void lock_free(lv_lock *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int lv_lock_announce(lv_store *st, int lease_s, const char *purpose, lv_lock **out)
{
    lv_lock *l = lock_new(st, LV_INFLIGHT_PREFIX, 0, lease_s, purpose);
    int rc = write_lock(l);
    if (rc != LV_OK) {
        lock_free(l);
        return lv_err_ctx("cannot write the in-flight marker");
    }
    *out = l;
    return LV_OK;
}

int lv_lock_acquire(lv_store *st, int exclusive, int lease_s, const char *purpose, lv_lock **out)
{
    lv_lock *l = lock_new(st, "locks/", exclusive, lease_s, purpose);
    int rc = write_lock(l);
    if (rc != LV_OK) {
        lock_free(l);
        return lv_err_ctx("cannot write lock");
    }
    conflict_ctx c;
    memset(&c, 0, sizeof c);
    c.self = l;
    rc = lv_lock_list(st, 1, find_conflict, &c);
    if (rc == 1 && c.conflict)
        rc = LV_OK;
    if (rc == LV_OK && c.conflict) {
        lv_store_del(st, l->key);
        lock_free(l);
        if (c.found.unreadable)
            return lv_err(LV_ERR_LOCKED, "repository is locked by %s, which is unreadable (damaged?): nobody can "
                          "tell whether its holder lives; remove it with `labvault repo unlock --force` once no "
                          "prune or check runs", c.found.key);
        return lv_err(LV_ERR_LOCKED, "repository is locked by %s (host %s, pid %ld, user %s, %s lock, lease "
                                     "until %lld); retry later, or remove a dead holder's lock with "
                                     "`labvault repo unlock`",
                      c.found.key, c.found.host, c.found.pid, c.found.user,
                      c.found.exclusive ? "exclusive" : "shared", (long long)c.found.expires);
    }
    if (rc != LV_OK) {
        lv_store_del(st, l->key);
        lock_free(l);
        return rc;
    }
    *out = l;
    return LV_OK;
}

int lv_lock_refresh(lv_lock *l)
{
    l->info.expires = (int64_t)time(NULL) + l->lease_s;
    return write_lock(l);
}

static void *keepalive(void *arg)
{
    lv_lock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += l->lease_s / 4 > 0 ? l->lease_s / 4 : 1;
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        if (lv_lock_refresh(l) != LV_OK) { /* the next round tries again; the lease is 4 rounds long */
            lv_warn("cannot refresh %s: %s", l->key, lv_errmsg());
            lv_err_clear();
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int lv_lock_keepalive(lv_lock *l)
{
    if (l->running)
        return LV_OK;
    if (pthread_create(&l->thread, NULL, keepalive, l) != 0)
        return lv_err(LV_ERR_INTERNAL, "cannot start the thread that refreshes %s", l->key);
    l->running = 1;
    return LV_OK;
}

int lv_lock_release(lv_lock *l)
{
    if (!l)
        return LV_OK;
    if (l->running) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    int rc = lv_store_del(l->st, l->key);
    lock_free(l);
    return rc;
}
