/* Asynchronous archiving: foreground wait and background worker (contract in wal/async.h). */
#include "catalog/wal.h"
#include "wal/async.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/parallel.h"
#include "wal/pgdata.h"
#include "wal/push.h"
#include "wal/spool.h"
#include "wal/walcat.h"

#define WORKER_IDLE_S 5.0   /* a worker with nothing to push lingers this long for the next .ready */
#define WANTED_S 10         /* ... and stops when no archive_command call came for this long */
#define RESPAWN_S 1.0       /* the foreground restarts a worker that is gone at most this often */

static int same_source(const lv_wal_source *a, const lv_wal_source *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static int stat_source(const char *path, lv_wal_source *src)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int rc = lv_err_errno(errno, "cannot stat WAL file %s", path);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
    }
    src->dev = (uint64_t)st.st_dev;
    src->ino = (uint64_t)st.st_ino;
    src->size = (uint64_t)st.st_size;
    src->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return LV_OK;
}

/* ---- foreground ----------------------------------------------------------------------------- */

/* Does the spool prove that the file at abs (named name) is durable? *done = 1 when it does. A record
 * for another file by that name, or whose object is gone, is removed so the worker pushes it again. */
static int check_record(const lv_wal_spool *sp, lv_store *s, const char *name, const char *abs, int *done)
{
    *done = 0;
    lv_wal_record rec;
    if (lv_wal_record_read(sp, name, &rec) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    lv_wal_source now = {0};
    int rc = stat_source(abs, &now);
    if (rc != LV_OK)
        return rc;
    if (strcmp(rec.source, abs) != 0 || !same_source(&rec.src, &now)) {
        lv_info("spool record for %s describes another file; pushing it again", name);
        lv_wal_spool_forget(sp, name);
        return LV_OK;
    }
    if (rec.dropped) {
        lv_error("WAL file %s was NOT archived: dropped because the files waiting to be archived exceeded "
                 "archive-queue-max; the archive has a gap (see `labvault wal status`)", name);
        *done = 1;
        return LV_OK;
    }
    uint64_t size = 0;
    rc = lv_store_head(s, rec.key, &size);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_warn("spool record for %s names %s, which is not in the repository; pushing it again", name,
                rec.key);
        lv_err_clear();
        lv_wal_spool_forget(sp, name);
        return LV_OK;
    }
    if (rc != LV_OK)
        return lv_err_ctx("cannot verify that WAL file %s is archived", name);
    lv_debug("WAL file %s was archived by the async worker (%s)", name, rec.key);
    *done = 1;
    return LV_OK;
}

/* Every foreground call marks the worker as wanted (the mtime of "wanted" in its spool directory). When
 * archive_command changes (another repository, or no labvault at all), the calls stop, and so does the
 * worker: it never keeps pushing ready files on behalf of a command that is no longer configured. */
static void mark_wanted(const lv_wal_spool *sp)
{
    char *p = lv_xasprintf("%s/wanted", sp->dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
    free(p);
}

static int still_wanted(const lv_wal_spool *sp)
{
    char *p = lv_xasprintf("%s/wanted", sp->dir);
    struct stat st;
    int yes = stat(p, &st) == 0 && time(NULL) - st.st_mtim.tv_sec <= WANTED_S;
    free(p);
    return yes;
}

static void start_worker(const lv_wal_spool *sp, double *last)
{
    if (lv_wal_lock_held(sp->lock))
        return;
    if (lv_wal_spawn_worker(sp->log) != LV_OK)
        lv_warn("%s", lv_errmsg());
    *last = lv_wal_now();
}

int lv_wal_async_queued(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *ready = slash ? lv_xasprintf("%.*s/archive_status/%s.ready", (int)(slash - path), path, slash + 1)
                        : lv_xasprintf("archive_status/%s.ready", path);
    int yes = access(ready, F_OK) == 0;
    free(ready);
    return yes;
}

int lv_wal_async_push(const lv_wal_async_opts *o, lv_store *s, const char *path)
{
    lv_wal_name n;
    int rc = lv_wal_name_parse(lv_wal_basename(path), &n);
    if (rc != LV_OK)
        return rc;
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        rc = lv_err_errno(errno, "cannot resolve WAL file %s", path);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
    }
    char *dir = lv_xstrdup(abs);
    *strrchr(dir, '/') = '\0';
    lv_wal_spool sp;
    rc = lv_wal_spool_open(o->spool_path, s, dir, &sp);
    free(dir);
    if (rc != LV_OK)
        return rc;
    mark_wanted(&sp);
    int done = 0;
    if ((rc = check_record(&sp, s, n.name, abs, &done)) != LV_OK || done) {
        lv_wal_spool_free(&sp);
        return rc;
    }
    /* Not pushed yet: wake (or start) the worker and wait for its verdict on this file. Watch the
     * spool with inotify so the answer is seen at once; poll every 100 ms in any case. */
    char *errfile = lv_xasprintf("%s/%s.error", sp.dir, n.name);
    unlink(errfile); /* an older attempt's error is not this attempt's answer */
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino >= 0 && inotify_add_watch(ino, sp.dir, IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE) < 0) {
        close(ino);
        ino = -1;
    }
    double start = lv_wal_now(), last_spawn = 0;
    start_worker(&sp, &last_spawn);
    for (;;) {
        if ((rc = check_record(&sp, s, n.name, abs, &done)) != LV_OK || done)
            break;
        int code = 0;
        char msg[1536];
        if (lv_wal_error_read(&sp, n.name, &code, msg, sizeof msg) == LV_OK) {
            rc = lv_err(code, "%s", msg);
            break;
        }
        lv_err_clear();
        double now = lv_wal_now();
        if (now - start > o->timeout_s) {
            rc = lv_err(LV_ERR_UNREACHABLE, "the async worker did not archive WAL file %s within %d s "
                        "(archive-timeout; its log is %s)", n.name, o->timeout_s, sp.log);
            break;
        }
        if (now - last_spawn > RESPAWN_S)
            start_worker(&sp, &last_spawn);
        if (ino >= 0) {
            struct pollfd pfd = {.fd = ino, .events = POLLIN};
            if (poll(&pfd, 1, 100) > 0) {
                char ev[4096];
                while (read(ino, ev, sizeof ev) > 0)
                    ;
            }
        } else {
            usleep(20 * 1000);
        }
    }
    if (ino >= 0)
        close(ino);
    free(errfile);
    lv_wal_spool_free(&sp);
    return rc;
}

/* ---- worker --------------------------------------------------------------------------------- */

typedef struct task {
    char *path;        /* pg_wal/<name> as the worker sees it */
    char *abs;
    lv_wal_pushed res;
    int rc;
    char msg[1536];
} task;

typedef struct worker {
    const lv_wal_async_opts *o;
    lv_wal_spool sp;
    lv_wal_pusher pusher;
    lv_repo *repo;
    lv_catalog *cat;
    char *pgwal, *pgwal_abs, *status_dir;
} worker;

/* Remove records of files PostgreSQL no longer waits for (their .ready became .done, or went away). */
static void gc_records(worker *w)
{
    DIR *d = opendir(w->sp.dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *dot = strrchr(de->d_name, '.');
        if (!dot || (strcmp(dot, ".ok") != 0 && strcmp(dot, ".error") != 0))
            continue;
        char *ready = lv_xasprintf("%s/%.*s.ready", w->status_dir, (int)(dot - de->d_name), de->d_name);
        if (access(ready, F_OK) != 0 && errno == ENOENT)
            unlinkat(dirfd(d), de->d_name, 0);
        free(ready);
    }
    closedir(d);
}

static int has_record(worker *w, const char *name)
{
    char *p = lv_xasprintf("%s/%s.ok", w->sp.dir, name);
    int yes = access(p, F_OK) == 0;
    free(p);
    return yes;
}

static void fill_record(worker *w, const char *name, const lv_wal_source *src, const char *key, int dropped,
                        lv_wal_record *rec)
{
    memset(rec, 0, sizeof *rec);
    snprintf(rec->key, sizeof rec->key, "%s", key);
    snprintf(rec->source, sizeof rec->source, "%s/%s", w->pgwal_abs, name);
    rec->src = *src;
    rec->dropped = dropped;
}

/* archive-queue-max: drop the oldest waiting segments until the rest fit. A dropped file gets a
 * record (dropped = 1), so the scan skips it from now on and archive_command returns 0 for it. */
static void enforce_queue(worker *w, lv_wal_ready *ready, size_t n)
{
    if (w->o->queue_max == 0)
        return;
    uint64_t total = 0;
    lv_wal_source *src = lv_xcalloc(n ? n : 1, sizeof *src);
    for (size_t i = 0; i < n; i++) {
        char *p = lv_xasprintf("%s/%s", w->pgwal, ready[i].name);
        if (stat_source(p, &src[i]) == LV_OK)
            total += src[i].size;
        lv_err_clear();
        free(p);
    }
    for (size_t i = 0; i < n && total > w->o->queue_max; i++) {
        if (strstr(ready[i].name, ".history") || src[i].size == 0)
            continue;
        lv_wal_record rec;
        fill_record(w, ready[i].name, &src[i], "", 1, &rec);
        char msg[512];
        snprintf(msg, sizeof msg, "WAL file %s dropped without archiving: %llu bytes wait to be archived, "
                 "more than archive-queue-max (%llu); the archive has a gap from here", ready[i].name,
                 (unsigned long long)total, (unsigned long long)w->o->queue_max);
        if (lv_wal_record_write(&w->sp, ready[i].name, &rec) != LV_OK) {
            lv_error("cannot drop WAL file %s: %s", ready[i].name, lv_errmsg());
            continue;
        }
        lv_error("%s", msg);
        if (w->cat && lv_catalog_wal_failure_add(w->cat, "drop", ready[i].name, LV_ERR_INCOMPLETE, msg) != LV_OK)
            lv_error("cannot journal the drop of %s in the catalog: %s", ready[i].name, lv_errmsg());
        total -= src[i].size;
    }
    free(src);
}

typedef struct batch {
    worker *w;
    task *t;
} batch;

static int batch_push(void *arg, size_t i)
{
    batch *b = arg;
    task *t = &b->t[i];
    t->rc = lv_wal_push_file(&b->w->pusher, t->path, &t->res);
    if (t->rc != LV_OK)
        snprintf(t->msg, sizeof t->msg, "%s", lv_errmsg());
    return LV_OK; /* every file gets its own verdict: one failure must not stop the others */
}

/* Record a finished batch: catalog first (one transaction), then the spool records the foreground
 * waits for, so archive_command never returns 0 for a file the catalog does not know. */
static int finish_batch(worker *w, task *t, size_t n)
{
    int cat_rc = LV_OK;
    char cat_msg[1536] = "";
    if (w->cat) {
        int64_t now = (int64_t)time(NULL);
        cat_rc = lv_catalog_begin(w->cat);
        for (size_t i = 0; cat_rc == LV_OK && i < n; i++) {
            if (t[i].rc != LV_OK)
                continue;
            cat_rc = lv_wal_pushed_record(w->cat, &t[i].res, now);
        }
        if (cat_rc == LV_OK)
            cat_rc = lv_catalog_commit(w->cat);
        else
            lv_catalog_rollback(w->cat);
        if (cat_rc != LV_OK)
            snprintf(cat_msg, sizeof cat_msg, "archived, but cannot record it in the catalog: %s", lv_errmsg());
        lv_wal_pusher_save(&w->pusher, w->cat);
    }
    int first_rc = LV_OK;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].res.obj.name.name[0] ? t[i].res.obj.name.name : lv_wal_basename(t[i].path);
        if (t[i].rc == LV_OK && cat_rc != LV_OK) {
            t[i].rc = cat_rc;
            snprintf(t[i].msg, sizeof t[i].msg, "WAL file %s %s", name, cat_msg);
        }
        if (t[i].rc == LV_OK) {
            lv_wal_record rec;
            fill_record(w, name, &t[i].res.src, t[i].res.obj.key, 0, &rec);
            char *errfile = lv_xasprintf("%s/%s.error", w->sp.dir, name);
            unlink(errfile);
            free(errfile);
            if (lv_wal_record_write(&w->sp, name, &rec) != LV_OK) {
                t[i].rc = lv_errcode();
                snprintf(t[i].msg, sizeof t[i].msg, "%s", lv_errmsg());
            } else {
                lv_info("archived WAL file %s as %s%s", name, t[i].res.obj.key,
                        t[i].res.existed ? " (already there)" : "");
            }
        }
        if (t[i].rc != LV_OK) {
            lv_error("%s", t[i].msg);
            if (lv_wal_error_write(&w->sp, name, t[i].rc, t[i].msg) != LV_OK)
                lv_error("%s", lv_errmsg());
            if (w->cat && cat_rc == LV_OK && lv_catalog_wal_failure_add(w->cat, "push", name, t[i].rc, t[i].msg) != LV_OK)
                lv_error("cannot journal the failure in the catalog: %s", lv_errmsg());
            if (first_rc == LV_OK)
                first_rc = lv_err(t[i].rc, "%s", t[i].msg);
        }
        lv_wal_pushed_free(&t[i].res);
    }
    return first_rc;
}

/* One pass: scan, apply the queue limit, push up to a batch. *pushed = files handled. */
static int worker_pass(worker *w, size_t *pushed)
{
    *pushed = 0;
    lv_wal_ready *ready = NULL;
    size_t nready = 0;
    int rc = lv_wal_ready_scan(w->status_dir, &ready, &nready);
    if (rc != LV_OK)
        return rc;
    size_t k = 0; /* keep the ones without a record, in order */
    for (size_t i = 0; i < nready; i++)
        if (!has_record(w, ready[i].name))
            ready[k++] = ready[i];
    enforce_queue(w, ready, k);
    size_t cap = (size_t)w->o->workers * 4, n = 0;
    task *t = lv_xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < k && n < cap; i++)
        if (!has_record(w, ready[i].name)) /* not just dropped */
            t[n++].path = lv_xasprintf("%s/%s", w->pgwal, ready[i].name);
    free(ready);
    if (n > 0) {
        batch b = {w, t};
        lv_parallel_for(w->o->workers, n, batch_push, &b);
        rc = finish_batch(w, t, n);
        *pushed = n;
    }
    for (size_t i = 0; i < n; i++)
        free(t[i].path);
    free(t);
    return rc;
}

static void wait_for_ready(int ino)
{
    if (ino < 0) {
        usleep(100 * 1000);
        return;
    }
    struct pollfd pfd = {.fd = ino, .events = POLLIN};
    if (poll(&pfd, 1, 200) > 0) {
        char ev[4096];
        while (read(ino, ev, sizeof ev) > 0)
            ;
    }
}

/* Push until nothing is left for WORKER_IDLE_S seconds or a file fails. */
static int worker_run(worker *w)
{
    lv_wal_pusher_init(&w->pusher, w->repo, w->cat);
    w->pusher.threads_per_file = 1; /* the files of a batch already run side by side */
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino >= 0 && inotify_add_watch(ino, w->status_dir, IN_CREATE | IN_MOVED_TO) < 0) {
        close(ino);
        ino = -1;
    }
    gc_records(w);
    int rc;
    double idle_since = lv_wal_now();
    for (;;) {
        if (!still_wanted(&w->sp)) {
            lv_info("no archive_command call for %d s: the async worker stops", WANTED_S);
            rc = LV_OK;
            break;
        }
        size_t pushed = 0;
        if ((rc = worker_pass(w, &pushed)) != LV_OK)
            break; /* the failed files have error files; the next archive_command call retries */
        if (pushed > 0) {
            idle_since = lv_wal_now();
            gc_records(w);
            continue;
        }
        if (lv_wal_now() - idle_since > WORKER_IDLE_S)
            break;
        wait_for_ready(ino);
    }
    if (ino >= 0)
        close(ino);
    lv_wal_pusher_free(&w->pusher);
    return rc;
}

int lv_wal_async_worker(const lv_wal_async_opts *o, lv_store *s, lv_repo *r, lv_catalog *cat,
                        const char *path, int setup_rc)
{
    const char *name = lv_wal_basename(path);
    worker w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.repo = r;
    w.cat = cat;
    const char *slash = strrchr(path, '/');
    w.pgwal = slash ? lv_xasprintf("%.*s", (int)(slash - path), path) : lv_xstrdup(".");
    w.status_dir = lv_xasprintf("%s/archive_status", w.pgwal);
    char abs[PATH_MAX];
    w.pgwal_abs = lv_xstrdup(realpath(w.pgwal, abs) ? abs : w.pgwal);
    int rc = lv_wal_spool_open(o->spool_path, s, w.pgwal_abs, &w.sp);
    if (rc == LV_OK && setup_rc != LV_OK) {
        rc = setup_rc;
        char msg[1536];
        snprintf(msg, sizeof msg, "%s", lv_errmsg());
        lv_error("%s", msg);
        if (lv_wal_error_write(&w.sp, name, rc, msg) != LV_OK)
            lv_error("%s", lv_errmsg());
        if (cat && lv_catalog_wal_failure_add(cat, "push", name, rc, msg) != LV_OK)
            lv_error("cannot journal the failure in the catalog: %s", lv_errmsg());
        lv_err(rc, "%s", msg);
    } else if (rc == LV_OK) {
        int lockfd = -1;
        /* A worker that is just exiting still holds the lock: try for a moment before leaving it the
         * work. */
        for (int i = 0; i < 20 && (rc = lv_wal_lock_take(w.sp.lock, &lockfd)) == LV_ERR_LOCKED; i++)
            usleep(25 * 1000);
        if (rc == LV_OK) {
            rc = worker_run(&w);
            lv_wal_lock_release(lockfd);
        } else if (rc == LV_ERR_LOCKED) {
            lv_debug("another async worker runs: %s", lv_errmsg());
            lv_err_clear();
            rc = LV_OK;
        }
    }
    free(w.pgwal);
    free(w.pgwal_abs);
    free(w.status_dir);
    lv_wal_spool_free(&w.sp);
    return rc;
}
