/* Writing a pg manifest's files into a data directory (contract in restore/pg_write.h). */
#include "restore/pg_write.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "pg/page_delta.h"
#include "repo/blobstore.h"
#include "restore/fetch.h"
#include "restore/meta.h"
#include "restore/pg_mark.h"

/* Directories the server needs that a backup leaves empty or skips (pg_basebackup's list). */
static const char *const std_dirs[] = {
    "base", "global", "pg_commit_ts", "pg_dynshmem", "pg_logical", "pg_logical/mappings", "pg_logical/snapshots",
    "pg_multixact", "pg_multixact/members", "pg_multixact/offsets", "pg_notify", "pg_replslot", "pg_serial",
    "pg_snapshots", "pg_stat", "pg_stat_tmp", "pg_subtrans", "pg_tblspc", "pg_twophase", "pg_wal",
    "pg_wal/archive_status", "pg_xact"};

/* ---- checks before writing -------------------------------------------------------------------- */

/* 1 when path is missing or an empty directory, 0 when it has entries, -1 (error recorded) otherwise. */
static int empty_or_missing(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 1;
        lv_err_errno(errno, "cannot open %s", path);
        return -1;
    }
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static int postmaster_running(const char *dir)
{
    char *path = lv_xasprintf("%s/postmaster.pid", dir);
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    free(path);
    if (rc != LV_OK) {
        lv_err_clear();
        lv_buf_free(&b);
        return LV_OK;
    }
    long pid = atol(lv_buf_cstr(&b));
    lv_buf_free(&b);
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
        return lv_err(LV_ERR_CONFLICT, "%s: a postmaster (pid %ld) is running in it; stop it before a delta restore",
                      dir, pid);
    return LV_OK;
}

static int ts_matches(const lv_pgman_tablespace *t, const char *from)
{
    char oid[16];
    snprintf(oid, sizeof oid, "%u", t->oid);
    return strcmp(from, t->name) == 0 || strcmp(from, oid) == 0 || strcmp(from, t->location) == 0;
}

void lv_pg_write_locations_free(const lv_pgman *m, char **locations)
{
    for (uint32_t i = 0; locations && i < m->ntablespaces; i++)
        free(locations[i]);
    free(locations);
}

int lv_pg_write_prepare(const lv_pgman *m, const lv_pg_restore_opts *o, char ***locations)
{
    *locations = NULL;
    int e = empty_or_missing(o->to);
    if (e < 0)
        return lv_errcode();
    if (!e && !o->delta && lv_pg_mark_present(o->to))
        return lv_err(LV_ERR_CONFLICT, "restore target %s holds an incomplete restore (%s): finish it with --delta, "
                      "or remove it", o->to, LV_PG_MARKER);
    if (!e && !o->delta)
        return lv_err(LV_ERR_CONFLICT, "restore target %s is not empty (restore into a new directory, or --delta "
                      "to update an existing data directory)", o->to);
    if (!e && o->delta) {
        int rc = postmaster_running(o->to);
        if (rc != LV_OK)
            return rc;
    }
    for (int k = 0; k < o->ntsmap; k++) {
        int used = 0;
        for (uint32_t i = 0; i < m->ntablespaces; i++)
            used |= ts_matches(&m->tablespaces[i], o->tsmap[k].from);
        if (!used)
            return lv_err(LV_ERR_USAGE, "--tablespace-map %s: the backup has no tablespace with that name, oid or "
                          "location", o->tsmap[k].from);
        if (o->tsmap[k].to[0] != '/')
            return lv_err(LV_ERR_USAGE, "--tablespace-map %s=%s: the new location must be an absolute path",
                          o->tsmap[k].from, o->tsmap[k].to);
    }
    char **loc = lv_xcalloc(m->ntablespaces + 1, sizeof *loc);
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        const char *to = m->tablespaces[i].location;
        for (int k = 0; k < o->ntsmap; k++)
            if (ts_matches(&m->tablespaces[i], o->tsmap[k].from))
                to = o->tsmap[k].to;
        loc[i] = lv_xstrdup(to);
        if (to[0] == '/' && !o->delta) {
            e = empty_or_missing(to);
            if (e <= 0) {
                int rc = e < 0 ? lv_errcode()
                               : lv_err(LV_ERR_CONFLICT, "tablespace %s (oid %u): location %s is not empty "
                                        "(--tablespace-map %s=NEWDIR to restore it elsewhere)",
                                        m->tablespaces[i].name, m->tablespaces[i].oid, to, m->tablespaces[i].name);
                lv_pg_write_locations_free(m, loc);
                return rc;
            }
        }
    }
    *locations = loc;
    return LV_OK;
}

/* ---- batches ---------------------------------------------------------------------------------- */

typedef struct slot {
    int fd;
    uint32_t file;
} slot;

typedef struct req {
    uint32_t slot;
    uint64_t file_off, blob_off, len;
} req;

/* A delta run: its base pages are already in the file when the delta blob is delivered. */
typedef struct dreq {
    uint32_t slot;
    uint32_t first_page, npages, frame;
} dreq;

/* The write-back of a batch's files is started (sync_file_range) and the files closed on a thread of its
 * own: on the batch's thread it blocked there while the fetch workers waited for the next batch (4.4 GiB
 * restored in 7.4 s with it there, 6.1 s without it, then 1.2 s of final sync). */
typedef struct flusher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv, cv_space;
    int fds[LV_PGW_FILES];
    size_t head, n;
    int stop, started;
} flusher;

static void *flusher_main(void *arg)
{
    flusher *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->n && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        if (!f->n)
            break;
        int fd = f->fds[f->head];
        f->head = (f->head + 1) % LV_PGW_FILES;
        f->n--;
        pthread_cond_signal(&f->cv_space);
        pthread_mutex_unlock(&f->mu);
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* errors surface at the final syncfs */
        close(fd);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void flusher_start(flusher *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_cond_init(&f->cv_space, NULL);
    f->started = pthread_create(&f->th, NULL, flusher_main, f) == 0;
}

/* Start fd's write-back and close it, on the flusher (or here when it could not start). */
static void flusher_push(flusher *f, int fd)
{
    if (!f->started) {
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        close(fd);
        return;
    }
    pthread_mutex_lock(&f->mu);
    while (f->n == LV_PGW_FILES)
        pthread_cond_wait(&f->cv_space, &f->mu);
    f->fds[(f->head + f->n) % LV_PGW_FILES] = fd;
    f->n++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Every pushed file closed. */
static void flusher_stop(flusher *f)
{
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->th, NULL);
    }
    pthread_cond_destroy(&f->cv_space);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
}

/* One batch: up to LV_PGW_FILES open files and the blobs to write into them. There are two: the main
 * thread fills one (creating files, looking blobs up in the catalog: a tenth of a restore's CPU, one
 * thread's work) while the runner thread writes the other, so the fetch workers do not wait for it. */
typedef struct batch {
    struct wr *w;
    lv_fetch *f;
    slot slots[LV_PGW_FILES];
    /* One writer per file at a time: concurrent buffered writes to one inode make the losers spin on its
     * lock (an incremental's small page runs spent more CPU spinning there than decrypting). */
    pthread_mutex_t slot_mu[LV_PGW_FILES];
    size_t nslots;
    req *reqs;
    size_t nreqs, rcap;
    lv_fetch *fd;            /* delta blobs, fetched after the batch's other blobs are written */
    dreq *dreqs;
    size_t ndreqs, dcap;
} batch;

typedef struct wr {
    const lv_repo *r;
    const lv_pgman *m;
    const lv_pg_restore_opts *o;
    lv_pg_write_stats *st;
    batch b[2];
    batch *cur;              /* the one being filled */
    /* the runner: writes the batch posted to it, one at a time; its first failure is kept for the main
     * thread (messages are thread-local) */
    pthread_t runner;
    int runner_started, quit;
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    batch *posted;
    int rrc;
    char rmsg[1024];
    pthread_mutex_t mu;
    double write_s;          /* summed over workers */
    uint64_t written;
    int workers;
    double t0;
    lv_progress progress;
    uint64_t total;
    lv_buf cmp;              /* delta: local bytes to hash */
    flusher fl;
} wr;

/* On the main thread (st->files is its counter; written is the workers'). */
static void progress(wr *w, int final)
{
    pthread_mutex_lock(&w->mu);
    uint64_t written = w->written;
    pthread_mutex_unlock(&w->mu);
    if (final)
        lv_progress_end(&w->progress, written, w->total, w->st->files, NULL);
    else
        lv_progress_update(&w->progress, written, w->total, w->st->files, NULL);
}

static int deliver(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n)
{
    (void)offset;
    batch *b = arg;
    wr *w = b->w;
    const req *q = &b->reqs[dest];
    if (q->blob_off + q->len > n)
        return lv_err(LV_ERR_CORRUPT, "a blob of %zu bytes cannot hold the pages the manifest takes from it "
                      "(bytes %llu..%llu)", n, (unsigned long long)q->blob_off,
                      (unsigned long long)(q->blob_off + q->len));
    double t = lv_mono_s();
    const slot *sl = &b->slots[q->slot];
    pthread_mutex_lock(&b->slot_mu[q->slot]);
    int rc = lv_pwrite_all(sl->fd, data + q->blob_off, q->len, q->file_off, w->m->files[sl->file].path);
    pthread_mutex_unlock(&b->slot_mu[q->slot]);
    if (rc != LV_OK)
        return rc;
    pthread_mutex_lock(&w->mu);
    w->write_s += lv_mono_s() - t;
    w->written += q->len;
    pthread_mutex_unlock(&w->mu);
    return LV_OK;
}

/* Apply a delta run: each page is read back (the base the first pass wrote), decoded and rewritten. */
static int deliver_delta(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n)
{
    (void)offset;
    batch *b = arg;
    wr *w = b->w;
    const dreq *q = &b->dreqs[dest];
    const slot *sl = &b->slots[q->slot];
    const char *path = w->m->files[sl->file].path;
    size_t bs = w->m->block_size;
    lv_pgdelta d;
    int rc = lv_pgdelta_parse(data, n, &d);
    if (rc == LV_OK && ((uint64_t)q->frame + q->npages > d.count))
        rc = lv_err(LV_ERR_CORRUPT, "page delta blob has %u frames, the manifest takes %u..%u", d.count, q->frame,
                    q->frame + q->npages - 1);
    if (rc != LV_OK)
        return lv_err_ctx("%s", path);
    double t = lv_mono_s();
    uint8_t *pages = lv_xmalloc(2 * bs);
    void *dctx = lv_pgdelta_dctx_new();
    const uint8_t *frame;
    size_t flen;
    lv_pgdelta_frame(&d, q->frame, &frame, &flen);
    pthread_mutex_lock(&b->slot_mu[q->slot]);
    for (uint32_t k = 0; k < q->npages && rc == LV_OK; k++) {
        uint64_t off = ((uint64_t)q->first_page + k) * bs;
        if ((rc = lv_pread_full(sl->fd, pages, bs, off, path)) == LV_OK &&
            (rc = lv_pgdelta_apply(dctx, frame, flen, pages, pages + bs, bs)) == LV_OK)
            rc = lv_pwrite_all(sl->fd, pages + bs, bs, off, path);
        else if (rc == LV_ERR_CORRUPT)
            lv_err_ctx("%s, page %u", path, q->first_page + k);
        if (k + 1 < q->npages)
            lv_pgdelta_next(&d, q->frame + k + 1, &frame, &flen);
    }
    pthread_mutex_unlock(&b->slot_mu[q->slot]);
    lv_pgdelta_dctx_free(dctx);
    free(pages);
    if (rc != LV_OK)
        return rc;
    pthread_mutex_lock(&w->mu);
    w->write_s += lv_mono_s() - t;
    pthread_mutex_unlock(&w->mu);
    return LV_OK;
}

static void close_slots(batch *b, int apply)
{
    wr *w = b->w;
    for (size_t i = 0; i < b->nslots; i++) {
        if (apply) {
            const lv_pgman_file *f = &w->m->files[b->slots[i].file];
            struct timespec ts[2] = {{(time_t)f->mtime, 0}, {(time_t)f->mtime, 0}};
            futimens(b->slots[i].fd, ts);
            /* Start the write-back now, so it overlaps the next batches and the final syncfs only waits for
             * the tail (errors surface there); on the flusher, so that the next batch starts meanwhile. */
            flusher_push(&w->fl, b->slots[i].fd);
            continue;
        }
        close(b->slots[i].fd);
    }
    b->nslots = 0;
}

/* Forget what a batch queued (it will not run) and close its files. */
static void drop_batch(batch *b)
{
    lv_fetch_clear(b->f);
    lv_fetch_clear(b->fd);
    b->nreqs = b->ndreqs = 0;
    close_slots(b, 0);
}

/* Write batch b (on the runner, or inline). */
static int run_batch(batch *b)
{
    wr *w = b->w;
    if (lv_interrupted()) {
        drop_batch(b);
        return lv_err(LV_ERR_INTERRUPTED, "restore interrupted (the data directory is incomplete)");
    }
    size_t failed;
    double t = lv_mono_s(), ws = w->write_s;
    int rc = lv_fetch_run(b->f, &failed);
    size_t failed_slot = rc != LV_OK && failed != SIZE_MAX ? b->reqs[failed].slot : SIZE_MAX;
    if (rc == LV_OK && b->ndreqs) {
        rc = lv_fetch_run(b->fd, &failed);
        failed_slot = rc != LV_OK && failed != SIZE_MAX ? b->dreqs[failed].slot : SIZE_MAX;
    } else {
        lv_fetch_clear(b->fd);
    }
    b->ndreqs = 0;
    double wall = lv_mono_s() - t, wrote = w->write_s - ws;
    w->st->seconds_write += wrote / w->workers;
    double dl = (wall * w->workers - wrote) / w->workers;
    w->st->seconds_download += dl > 0 ? dl : 0;
    b->nreqs = 0;
    if (rc != LV_OK) {
        if (failed_slot != SIZE_MAX)
            lv_err_ctx("restore of %s", w->m->files[b->slots[failed_slot].file].path);
        close_slots(b, 0);
        return rc;
    }
    close_slots(b, 1);
    return LV_OK;
}

static void *runner_main(void *arg)
{
    wr *w = arg;
    pthread_mutex_lock(&w->rmu);
    for (;;) {
        while (!w->posted && !w->quit)
            pthread_cond_wait(&w->rcv, &w->rmu);
        if (!w->posted)
            break;
        batch *b = w->posted;
        pthread_mutex_unlock(&w->rmu);
        int rc = run_batch(b);
        pthread_mutex_lock(&w->rmu);
        if (rc != LV_OK && w->rrc == LV_OK) {
            w->rrc = rc;
            snprintf(w->rmsg, sizeof w->rmsg, "%s", lv_errmsg());
        }
        w->posted = NULL;
        pthread_cond_broadcast(&w->rcv);
    }
    pthread_mutex_unlock(&w->rmu);
    return NULL;
}

/* Wait until the runner has finished what was posted; its first failure, re-recorded here. */
static int runner_wait(wr *w)
{
    pthread_mutex_lock(&w->rmu);
    while (w->posted)
        pthread_cond_wait(&w->rcv, &w->rmu);
    int rc = w->rrc;
    pthread_mutex_unlock(&w->rmu);
    return rc == LV_OK ? LV_OK : lv_err(rc, "%s", w->rmsg);
}

/* Hand the batch being filled to the runner (once it is done with the previous one) and start filling the
 * other; inline when the runner could not start. On failure, the batch being filled is dropped. */
static int post_batch(wr *w)
{
    batch *b = w->cur;
    int rc = runner_wait(w);
    if (rc != LV_OK) {
        drop_batch(b);
        return rc;
    }
    if (!w->runner_started) {
        rc = run_batch(b);
    } else {
        pthread_mutex_lock(&w->rmu);
        w->posted = b;
        pthread_cond_signal(&w->rcv);
        pthread_mutex_unlock(&w->rmu);
        w->cur = b == &w->b[0] ? &w->b[1] : &w->b[0];
    }
    if (rc == LV_OK)
        progress(w, 0);
    return rc;
}

static int queue(batch *b, uint32_t slot_i, const uint8_t blob[LV_HASH_LEN], const lv_blob_loc *loc,
                 uint64_t file_off, uint64_t blob_off, uint64_t len)
{
    LV_GROW(b->reqs, b->nreqs, b->rcap);
    b->reqs[b->nreqs] = (req){slot_i, file_off, blob_off, len};
    int rc = lv_fetch_add_found(b->f, blob, loc, loc->raw_length, b->nreqs, 0);
    if (rc != LV_OK)
        return rc;
    b->nreqs++;
    return LV_OK;
}

/* Delta: the local bytes [off, off + len) already hash to blob. */
static int same_blob(wr *w, int fd, uint64_t old_size, uint64_t off, uint64_t len, const uint8_t blob[LV_HASH_LEN])
{
    if (fd < 0 || off + len > old_size)
        return 0;
    lv_buf_reset(&w->cmp);
    lv_buf_reserve(&w->cmp, len);
    if (lv_pread_full(fd, w->cmp.data, len, off, "delta compare") != LV_OK) {
        lv_err_clear();
        return 0;
    }
    uint8_t id[LV_HASH_LEN];
    lv_repo_blob_id(w->r, w->cmp.data, len, id);
    return memcmp(id, blob, LV_HASH_LEN) == 0;
}

static int open_file(wr *w, const char *abs, const lv_pgman_file *f, int *fd, uint64_t *old_size)
{
    *old_size = 0;
    struct stat sb;
    if (w->o->delta && lstat(abs, &sb) == 0) {
        if (S_ISREG(sb.st_mode)) {
            *fd = open(abs, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
            if (*fd >= 0) {
                *old_size = (uint64_t)sb.st_size;
                return LV_OK;
            }
        }
        int rc = lv_remove_tree(AT_FDCWD, abs, f->path);
        if (rc != LV_OK)
            return rc;
    }
    *fd = open(abs, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600); /* read: delta runs (deliver_delta) */
    if (*fd < 0)
        return lv_err_errno(errno, "cannot create %s", abs);
    return LV_OK;
}

/* Where blob is (one catalog lookup per blob and extent: it is most of the batch's work on this thread). */
static int blob_find(wr *w, const lv_pgman_file *f, const uint8_t blob[LV_HASH_LEN], lv_blob_loc *loc)
{
    int rc = lv_catalog_blob_find(w->r->cat, blob, loc);
    if (rc == LV_ERR_NOT_FOUND) {
        char hex[2 * LV_HASH_LEN + 1];
        lv_hex_encode(blob, LV_HASH_LEN, hex);
        return lv_err(LV_ERR_CORRUPT, "%s: blob %s is referenced by the backup but not in the index (`repo check`; "
                      "`catalog rebuild` if the catalog is stale)", f->path, hex);
    }
    return rc;
}

static int restore_one(wr *w, uint32_t fi)
{
    const lv_pgman_file *f = &w->m->files[fi];
    /* PG_VERSION is staged: published last, so that PostgreSQL refuses an unfinished directory. */
    char *abs = lv_xasprintf("%s/%s", w->o->to, strcmp(f->path, "PG_VERSION") == 0 ? LV_PG_VERSION_STAGED : f->path);
    int fd;
    uint64_t old_size;
    int rc = open_file(w, abs, f, &fd, &old_size);
    if (rc != LV_OK) {
        free(abs);
        return rc;
    }
    if (fchmod(fd, (mode_t)(f->mode & 07777 ? f->mode & 07777 : 0600)) != 0 ||
        (old_size != f->size && ftruncate(fd, (off_t)f->size) != 0)) {
        rc = lv_err_errno(errno, "cannot set up %s", abs);
        close(fd);
        free(abs);
        return rc;
    }
    free(abs);
    batch *b = w->cur;
    uint32_t si = (uint32_t)b->nslots;
    b->slots[b->nslots++] = (slot){fd, fi};
    int queued = 0;
    uint64_t off = 0;
    for (uint32_t i = 0; i < f->nextents && rc == LV_OK; i++) {
        const lv_pgman_extent *e = &f->extents[i];
        lv_blob_loc loc, src_loc;
        if ((rc = blob_find(w, f, e->blob, &loc)) != LV_OK)
            break;
        uint32_t raw = loc.raw_length;
        if (f->kind == LV_PGF_WHOLE) {
            if (raw != e->length) {
                char hex[2 * LV_HASH_LEN + 1];
                lv_hex_encode(e->blob, LV_HASH_LEN, hex);
                rc = lv_err(LV_ERR_CORRUPT, "%s: blob %s holds %u bytes, the manifest says %u", f->path, hex, raw,
                            e->length);
                break;
            }
            if (!(w->o->delta && same_blob(w, fd, old_size, off, e->length, e->blob))) {
                rc = queue(b, si, e->blob, &loc, off, 0, e->length);
                queued = 1;
            }
            off += e->length;
            continue;
        }
        /* The pages come from src (a delta run: its base pages, which its delta blob then patches). */
        uint64_t bs = w->m->block_size, len = (uint64_t)e->npages * bs;
        const uint8_t *src = e->delta ? e->base_blob : e->blob;
        uint32_t src_page = e->delta ? e->base_page : e->blob_page;
        src_loc = loc;
        if (e->delta && (rc = blob_find(w, f, src, &src_loc)) != LV_OK)
            break;
        uint32_t src_raw = src_loc.raw_length;
        if ((uint64_t)src_page * bs + len > src_raw) {
            char hex[2 * LV_HASH_LEN + 1];
            lv_hex_encode(src, LV_HASH_LEN, hex);
            rc = lv_err(LV_ERR_CORRUPT, "%s: %sblob %s holds %u bytes, the manifest takes pages %u..%u of it", f->path,
                        e->delta ? "base " : "", hex, src_raw, src_page, src_page + e->npages - 1);
            break;
        }
        if (!e->delta && w->o->delta && e->blob_page == 0 && len == raw &&
            same_blob(w, fd, old_size, (uint64_t)e->first_page * bs, len, e->blob))
            continue;
        rc = queue(b, si, src, &src_loc, (uint64_t)e->first_page * bs, (uint64_t)src_page * bs, len);
        if (rc == LV_OK && e->delta) {
            LV_GROW(b->dreqs, b->ndreqs, b->dcap);
            b->dreqs[b->ndreqs] = (dreq){si, e->first_page, e->npages, e->blob_page};
            if ((rc = lv_fetch_add_found(b->fd, e->blob, &loc, raw, b->ndreqs, 0)) == LV_OK)
                b->ndreqs++;
        }
        queued = 1;
    }
    if (rc == LV_OK) {
        if (queued || old_size != f->size || !w->o->delta)
            w->st->files++;
        else
            w->st->files_kept++;
    }
    return rc;
}

/* ---- directories, links, delta removal -------------------------------------------------------- */

static int make_parent(const char *root, const char *path, char **last)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return LV_OK;
    size_t n = (size_t)(slash - path);
    if (*last && strlen(*last) == n && memcmp(*last, path, n) == 0)
        return LV_OK;
    free(*last);
    *last = lv_xmalloc(n + 1);
    memcpy(*last, path, n);
    (*last)[n] = '\0';
    char *abs = lv_xasprintf("%s/%s", root, *last);
    int rc = lv_mkdir_p(abs, 0700);
    free(abs);
    return rc;
}

static int make_link(const char *root, uint32_t oid, const char *loc, int delta)
{
    char *link = lv_xasprintf("%s/pg_tblspc/%u", root, oid);
    char cur[4096];
    int rc = LV_OK;
    ssize_t n = readlink(link, cur, sizeof cur - 1);
    if (n >= 0) {
        cur[n] = '\0';
        if (strcmp(cur, loc) == 0)
            goto out;
    }
    if (delta && n >= 0 && unlink(link) != 0) {
        rc = lv_err_errno(errno, "cannot replace the tablespace link %s", link);
        goto out;
    }
    if ((rc = lv_mkdir_p(loc, 0700)) != LV_OK)
        goto out;
    if (chmod(loc, 0700) != 0 || symlink(loc, link) != 0)
        rc = lv_err_errno(errno, "cannot link %s to the tablespace location %s", link, loc);
out:
    free(link);
    return rc;
}

/* rel is "pg_tblspc/<oid>" of a tablespace of the backup: its link is followed. Other links (a tablespace
 * the backup does not have) are removed, never followed: what they point at is not ours to empty. */
static int ts_listed(const lv_pgman *m, const char *rel)
{
    if (strncmp(rel, "pg_tblspc/", 10) != 0)
        return 0;
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        char want[32];
        snprintf(want, sizeof want, "pg_tblspc/%u", m->tablespaces[i].oid);
        if (strcmp(rel, want) == 0)
            return 1;
    }
    return 0;
}

/* Delta: remove what the manifest does not list below dir (rel = its path in the data directory). */
static int prune(const lv_pgman *m, const char *abs, const char *rel)
{
    DIR *d = opendir(abs);
    if (!d)
        return lv_err_errno(errno, "cannot read %s", abs);
    int rc = LV_OK;
    struct dirent *e;
    while (rc == LV_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *a = lv_xasprintf("%s/%s", abs, e->d_name);
        char *r = rel[0] ? lv_xasprintf("%s/%s", rel, e->d_name) : lv_xstrdup(e->d_name);
        struct stat sb;
        if (lstat(a, &sb) != 0) {
            rc = lv_err_errno(errno, "cannot stat %s", a);
        } else if (S_ISDIR(sb.st_mode) ||
                   (S_ISLNK(sb.st_mode) && (ts_listed(m, r) || strcmp(r, "pg_wal") == 0) && stat(a, &sb) == 0 &&
                    S_ISDIR(sb.st_mode))) {
            rc = prune(m, a, r);
        } else if (strcmp(r, LV_PG_MARKER) != 0 && lv_pgman_find(m, r) < 0 && unlink(a) != 0 && errno != ENOENT) {
            rc = lv_err_errno(errno, "cannot remove %s", a);
        }
        free(a);
        free(r);
    }
    closedir(d);
    return rc;
}

int lv_pg_write(const lv_repo *r, const lv_pgman *m, const lv_pg_restore_opts *o, char *const *locations,
                lv_pg_write_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "restore pg: no catalog attached");
    int rc = lv_mkdir_p(o->to, 0700);
    if (rc == LV_OK && chmod(o->to, 0700) != 0)
        rc = lv_err_errno(errno, "cannot set the mode of %s", o->to);
    char *tblspc = lv_xasprintf("%s/pg_tblspc", o->to);
    if (rc == LV_OK)
        rc = lv_mkdir_p(tblspc, 0700);
    free(tblspc);
    for (uint32_t i = 0; rc == LV_OK && i < m->ntablespaces; i++)
        if (locations[i][0] == '/')
            rc = make_link(o->to, m->tablespaces[i].oid, locations[i], o->delta);
    if (rc == LV_OK && o->delta)
        rc = prune(m, o->to, "");
    if (rc != LV_OK)
        return rc;

    wr w;
    memset(&w, 0, sizeof w);
    w.r = r;
    w.m = m;
    w.o = o;
    w.st = st;
    w.workers = o->workers > 0 ? o->workers : 4;
    for (int k = 0; k < 2; k++) {
        batch *b = &w.b[k];
        b->w = &w;
        b->f = lv_fetch_new(r, w.workers, deliver, b);
        b->fd = lv_fetch_new(r, w.workers, deliver_delta, b);
        /* one batch runs at a time, its two fetches one after the other: one set of worker buffers */
        lv_fetch_share_buffers(b->f, w.b[0].f);
        lv_fetch_share_buffers(b->fd, w.b[0].f);
        for (size_t i = 0; i < LV_PGW_FILES; i++)
            pthread_mutex_init(&b->slot_mu[i], NULL);
    }
    w.cur = &w.b[0];
    pthread_mutex_init(&w.mu, NULL);
    pthread_mutex_init(&w.rmu, NULL);
    pthread_cond_init(&w.rcv, NULL);
    w.runner_started = pthread_create(&w.runner, NULL, runner_main, &w) == 0;
    w.t0 = lv_mono_s();
    flusher_start(&w.fl);
    lv_progress_start(&w.progress, o->progress, "written", "files");
    for (uint32_t i = 0; i < m->nfiles; i++)
        w.total += m->files[i].size;
    char *last = NULL;
    for (uint32_t i = 0; rc == LV_OK && i < m->nfiles; i++) {
        if (lv_interrupted()) {
            rc = lv_err(LV_ERR_INTERRUPTED, "restore interrupted (the data directory is incomplete)");
            break;
        }
        if ((rc = make_parent(o->to, m->files[i].path, &last)) != LV_OK)
            break;
        if ((rc = restore_one(&w, i)) != LV_OK)
            break;
        batch *b = w.cur;
        if (b->nslots == LV_PGW_FILES || lv_fetch_pending_bytes(b->f) >= LV_PGW_BATCH || b->nreqs >= 8192 ||
            b->ndreqs >= 8192)
            rc = post_batch(&w);
    }
    if (rc == LV_OK)
        rc = post_batch(&w);
    else
        drop_batch(w.cur);
    /* The posted batch finishes (or fails: its files are closed) before anything is freed. A failure here
     * first keeps its message; the runner's, if it failed too, is only logged. */
    if (rc == LV_OK) {
        rc = runner_wait(&w);
    } else {
        char *msg = lv_xstrdup(lv_errmsg());
        if (runner_wait(&w) != LV_OK)
            lv_debug("restore: the batch being written failed too: %s", w.rmsg);
        lv_err(rc, "%s", msg);
        free(msg);
    }
    if (w.runner_started) {
        pthread_mutex_lock(&w.rmu);
        w.quit = 1;
        pthread_cond_signal(&w.rcv);
        pthread_mutex_unlock(&w.rmu);
        pthread_join(w.runner, NULL);
    }
    free(last);
    flusher_stop(&w.fl);
    for (size_t i = 0; rc == LV_OK && i < sizeof std_dirs / sizeof *std_dirs; i++) {
        char *abs = lv_xasprintf("%s/%s", o->to, std_dirs[i]);
        if (mkdir(abs, 0700) != 0 && errno != EEXIST)
            rc = lv_err_errno(errno, "cannot create %s", abs);
        free(abs);
    }
    st->bytes_written = w.written;
    for (int k = 0; k < 2; k++) {
        lv_fetch_stats fs, fsd;
        lv_fetch_get_stats(w.b[k].f, &fs);
        lv_fetch_get_stats(w.b[k].fd, &fsd);
        st->bytes_fetched += fs.bytes_fetched + fsd.bytes_fetched;
        st->blobs_fetched += fs.blobs + fsd.blobs;
        st->gets += fs.gets + fsd.gets;
    }
    progress(&w, 1);
    for (int k = 1; k >= 0; k--) { /* b[0].f, whose pool the others share, last */
        batch *b = &w.b[k];
        lv_fetch_free(b->fd);
        lv_fetch_free(b->f);
        free(b->dreqs);
        free(b->reqs);
        for (size_t i = 0; i < LV_PGW_FILES; i++)
            pthread_mutex_destroy(&b->slot_mu[i]);
    }
    pthread_cond_destroy(&w.rcv);
    pthread_mutex_destroy(&w.rmu);
    pthread_mutex_destroy(&w.mu);
    lv_buf_free(&w.cmp);
    return rc;
}

static int sync_one(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lv_err_errno(errno, "cannot open %s", path);
    int rc = syncfs(fd) == 0 ? LV_OK : lv_err_errno(errno, "cannot sync the file system of %s", path);
    close(fd);
    return rc;
}

int lv_pg_sync(const char *dir, const lv_pgman *m, char *const *locations)
{
    int rc = sync_one(dir);
    for (uint32_t i = 0; rc == LV_OK && i < m->ntablespaces; i++)
        if (locations[i][0] == '/')
            rc = sync_one(locations[i]);
    return rc;
}
