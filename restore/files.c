/* Restore of a snapshot into a directory (contract in restore/files.h). */
#include "restore/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "restore/fetch.h"
#include "restore/meta.h"
#include "restore/walk.h"
#include "snapshot/idmap.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"
#include "snapshot/summary.h"


/* A file being written: open until all of its chunks are delivered. */
typedef struct slot {
    int used, adding;        /* adding: more chunks still to queue */
    int fd;
    char *path;              /* relative to the target, for messages and removal */
    lv_buf store;            /* the node, copied */
    lv_node n;
    lv_buf links;            /* hardlinks made to it meanwhile (NUL-separated paths): removed with it */
} slot;

/* Two groups of slots, each with its own fetch queue and its own thread, so that the walk creates the
 * files of one group while the other group's thread looks its blobs up (through its own connection to
 * the catalog), fetches them, writes them and sets the finished files' metadata. With small files a
 * batch is one ranged GET unsealed by one thread, and creating a file costs about as much as writing
 * it: run in turn on one thread, each would leave a core idle. */
struct rst;
typedef struct group {
    struct rst *s;
    lv_fetch *f;
    size_t base;             /* its slots: slots[base .. base + LV_RESTORE_FILES) */
    pthread_t th;
    int started;             /* th runs; it owns cat and owners */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, posted, quit; /* th has opened its catalog / a batch is handed to th / th must end */
    lv_catalog *cat;         /* th's connection (NULL: blobs are looked up by the walk's thread) */
    lv_owner_cache *owners;
    uint64_t warnings;       /* metadata the batch's thread could not set */
    int rc;                  /* the batch's result, its message, the destination that failed */
    char msg[1024];
    size_t failed;
} group;

typedef struct rst {
    const lv_repo *r;
    const lv_restore_opts *o;
    int root;                /* target directory */
    int *dirs;               /* open directory per depth; dirs[0] = root */
    size_t depth, dcap;
    slot slots[2 * LV_RESTORE_FILES];
    group g[2];              /* g[cur] is being filled; the other may be fetching in the background */
    int cur;
    lv_idmap links;          /* (dev, ino) of hardlinked entries whose other links are still to come ->
                              * their link_rec (kept until the last link is made) */
    lv_owner_cache *owners;
    lv_restore_stats *st;
    double t0;
    lv_progress prog;        /* bytes written of total (the snapshot's bytes_total; 0 with --include) */
    uint64_t total;
} rst;

static void progress(rst *s, int final)
{
    if (final)
        lv_progress_end(&s->prog, s->st->bytes, s->total, s->st->files, NULL);
    else
        lv_progress_update(&s->prog, s->st->bytes, s->total, s->st->files, NULL);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int cur_dir(const rst *s) { return s->dirs[s->depth - 1]; }

typedef struct link_rec {
    uint32_t left;           /* links still to make */
    char path[];             /* the first one, relative to the target */
} link_rec;

/* The first path of a hardlinked entry made earlier (NULL: none): linking to it counts one link down. */
static const char *link_first(rst *s, const uint8_t key[32], link_rec **done)
{
    *done = NULL;
    size_t *v = lv_idmap_get(&s->links, key);
    if (!v)
        return NULL;
    link_rec *lr = (link_rec *)(uintptr_t)*v;
    if (--lr->left == 0) { /* the last link: forget it once the caller has used the path */
        lv_idmap_del(&s->links, key);
        *done = lr;
    }
    return lr->path;
}

static void link_remember(rst *s, const uint8_t key[32], const lv_node *n, const char *path)
{
    size_t len = strlen(path);
    link_rec *lr = lv_xmalloc(sizeof *lr + len + 1);
    lr->left = n->nlink - 1;
    memcpy(lr->path, path, len + 1);
    lv_idmap_put(&s->links, key, (size_t)(uintptr_t)lr);
}

static void links_free(rst *s)
{
    for (size_t i = 0; i < s->links.cap; i++)
        if (s->links.used[i])
            free((void *)(uintptr_t)s->links.vals[i]);
    lv_idmap_free(&s->links);
}

static void link_key(const lv_node *n, uint8_t key[32])
{
    memset(key, 0, 32);
    memcpy(key, &n->dev, 8);
    memcpy(key + 8, &n->ino, 8);
}

/* With overwrite, clear the way for a new entry (a directory in place is kept when want_dir). */
static int make_room(rst *s, int dfd, const char *name, const char *path, int want_dir)
{
    if (!s->o->overwrite)
        return LV_OK;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? LV_OK : lv_err_errno(errno, "cannot restore %s", path);
    if (want_dir && S_ISDIR(st.st_mode))
        return LV_OK;
    return lv_remove_tree(dfd, name, path);
}

/* ---- batches ---------------------------------------------------------------------------------- */

static int deliver(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n)
{
    rst *s = arg;
    slot *sl = &s->slots[dest];
    return lv_pwrite_all(sl->fd, data, n, offset, sl->path);
}

static void slot_close(slot *sl)
{
    if (sl->fd >= 0)
        close(sl->fd);
    free(sl->path);
    lv_buf_free(&sl->store);
    lv_buf_free(&sl->links);
    memset(sl, 0, sizeof *sl);
    sl->fd = -1;
}

static void finish_slot(rst *s, slot *sl)
{
    lv_meta_apply_fd(s->owners, sl->fd, &sl->n, sl->path, &s->st->warnings);
    s->st->files++;
    s->st->bytes += sl->n.size;
    slot_close(sl);
}

/* A batch, on whichever thread runs it: look up, fetch, write; then the files whose chunks are all
 * written get their metadata and are closed (the walk's thread counts and frees them in group_wait). */
static void group_run(group *g, lv_catalog *cat, lv_owner_cache *owners)
{
    rst *s = g->s;
    g->rc = lv_fetch_run_lookup(g->f, cat, &g->failed);
    if (g->rc != LV_OK) { /* messages are thread-local: keep it for the walk's thread */
        snprintf(g->msg, sizeof g->msg, "%s", lv_errmsg());
        return;
    }
    for (size_t i = g->base; i < g->base + LV_RESTORE_FILES; i++) {
        slot *sl = &s->slots[i];
        if (sl->used && !sl->adding && sl->fd >= 0) {
            lv_meta_apply_fd(owners, sl->fd, &sl->n, sl->path, &g->warnings);
            close(sl->fd);
            sl->fd = -1;
        }
    }
}

static void *group_main(void *arg)
{
    group *g = arg;
    lv_catalog *cat = NULL;
    if (lv_catalog_open(lv_catalog_path(g->s->r->cat), NULL, &cat) != LV_OK) {
        lv_debug("restore: a second catalog connection: %s; blobs are looked up by the walk", lv_errmsg());
        cat = NULL;
    }
    pthread_mutex_lock(&g->mu);
    g->cat = cat;
    g->ready = 1;
    pthread_cond_broadcast(&g->cv);
    for (;;) {
        while (!g->posted && !g->quit)
            pthread_cond_wait(&g->cv, &g->mu);
        if (!g->posted)
            break;
        pthread_mutex_unlock(&g->mu);
        group_run(g, cat, g->owners);
        pthread_mutex_lock(&g->mu);
        g->posted = 0;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    lv_catalog_close(cat);
    return NULL;
}

static void group_init(rst *s, int gi)
{
    group *g = &s->g[gi];
    g->s = s;
    g->base = (size_t)gi * LV_RESTORE_FILES;
    g->f = lv_fetch_new(s->r, s->o->threads > 0 ? s->o->threads : 8, deliver, s);
    g->owners = lv_owner_cache_new();
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->th, NULL, group_main, g) != 0)
        return; /* batches run on the walk's thread */
    g->started = 1;
    pthread_mutex_lock(&g->mu);
    while (!g->ready)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Let a running batch end, then the thread. */
static void group_stop(group *g)
{
    if (!g->started)
        return;
    pthread_mutex_lock(&g->mu);
    g->quit = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->th, NULL);
    g->started = 0;
}

static void group_free(group *g)
{
    if (!g->s)
        return;
    group_stop(g);
    lv_fetch_free(g->f);
    lv_owner_cache_free(g->owners);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* Queue one chunk of a file of the current group: looked up by the group's thread when it has a
 * catalog connection, else now. */
static int group_add(rst *s, const lv_extent *e, size_t idx)
{
    group *g = &s->g[s->cur];
    if (g->cat) {
        lv_fetch_queue(g->f, e->id, e->length, idx, e->offset);
        return LV_OK;
    }
    return lv_fetch_add(g->f, e->id, e->length, idx, e->offset);
}

/* Hand group gi's batch to its thread (or run it now, without one). */
static void group_start(rst *s, int gi)
{
    group *g = &s->g[gi];
    g->rc = LV_OK;
    g->failed = SIZE_MAX;
    if (lv_fetch_pending(g->f) == 0)
        return;
    if (!g->started) {
        group_run(g, s->r->cat, s->owners);
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->posted = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait for group gi's batch; count and free its finished files. A failure names the file whose chunk
 * failed. */
static int group_wait(rst *s, int gi)
{
    group *g = &s->g[gi];
    pthread_mutex_lock(&g->mu);
    while (g->posted)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    s->st->warnings += g->warnings;
    g->warnings = 0;
    if (g->rc != LV_OK) {
        int rc = lv_err(g->rc, "%s", g->msg);
        if (g->failed < 2 * LV_RESTORE_FILES && s->slots[g->failed].used)
            lv_err_ctx("restore of %s failed (the incomplete file was removed)", s->slots[g->failed].path);
        g->rc = LV_OK;
        return rc;
    }
    for (size_t i = g->base; i < g->base + LV_RESTORE_FILES; i++) {
        slot *sl = &s->slots[i];
        if (sl->used && !sl->adding && sl->fd < 0) {
            s->st->files++;
            s->st->bytes += sl->n.size;
            slot_close(sl);
        }
    }
    progress(s, 0);
    return LV_OK;
}

/* Remove every file that is not complete: nothing with wrong or missing bytes is left behind. */
static void abandon(rst *s)
{
    group_stop(&s->g[0]); /* no batch writes any more */
    group_stop(&s->g[1]);
    for (size_t i = 0; i < 2 * LV_RESTORE_FILES; i++) {
        slot *sl = &s->slots[i];
        if (!sl->used)
            continue;
        if (unlinkat(s->root, sl->path, 0) != 0 && errno != ENOENT)
            lv_warn("could not remove the incomplete file %s: %s", sl->path, strerror(errno));
        for (size_t k = 0; k < sl->links.len; k += strlen((const char *)sl->links.data + k) + 1)
            if (unlinkat(s->root, (const char *)sl->links.data + k, 0) != 0 && errno != ENOENT)
                lv_warn("could not remove the incomplete file %s: %s", (const char *)sl->links.data + k,
                        strerror(errno));
        slot_close(sl);
    }
}

static int interrupted(void)
{
    return lv_interrupted() ? lv_err(LV_ERR_INTERRUPTED, "restore interrupted (incomplete files were removed)")
                            : LV_OK;
}

/* Hand the current group to the background and make the other one current (once its batch is done). */
static int switch_groups(rst *s)
{
    int rc = interrupted();
    if (rc != LV_OK)
        return rc;
    group_start(s, s->cur);
    s->cur = 1 - s->cur;
    return group_wait(s, s->cur);
}

/* Fetch everything queued, both groups, and wait (the end, or a file larger than a batch). */
static int drain(rst *s)
{
    int rc = interrupted();
    if (rc == LV_OK)
        rc = group_wait(s, 1 - s->cur);
    if (rc == LV_OK) {
        group_start(s, s->cur);
        rc = group_wait(s, s->cur);
    }
    return rc;
}

static int batch_full(const rst *s)
{
    const lv_fetch *f = s->g[s->cur].f;
    return lv_fetch_pending_bytes(f) >= LV_RESTORE_BATCH || lv_fetch_pending(f) >= 4096;
}

static int free_slot(rst *s, size_t *idx)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t base = s->g[s->cur].base;
        for (size_t i = base; i < base + LV_RESTORE_FILES; i++)
            if (!s->slots[i].used) {
                *idx = i;
                return LV_OK;
            }
        int rc = switch_groups(s); /* every slot of this group waits for its chunks */
        if (rc != LV_OK)
            return rc;
    }
    return lv_err(LV_ERR_INTERNAL, "restore: no free file slot after a batch");
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int restore_file(rst *s, int dfd, const lv_node *n, const char *path)
{
    const char *name = base_name(path);
    int rc = make_room(s, dfd, name, path, 0);
    if (rc != LV_OK)
        return rc;
    uint8_t key[32];
    link_key(n, key);
    if (n->nlink > 1) {
        link_rec *done;
        const char *first = link_first(s, key, &done);
        if (first) {
            rc = linkat(s->root, first, dfd, name, 0) != 0 ? lv_err_errno(errno, "cannot link %s to %s", path, first)
                                                          : LV_OK;
            if (rc == LV_OK) {
                s->st->links++;
                /* While its content is still on the way, this name goes away with it if the restore fails. */
                for (size_t i = 0; i < 2 * LV_RESTORE_FILES; i++)
                    if (s->slots[i].used && strcmp(s->slots[i].path, first) == 0)
                        lv_buf_append(&s->slots[i].links, path, strlen(path) + 1);
            }
            free(done);
            return rc;
        }
    }
    size_t idx = 0;
    if ((rc = free_slot(s, &idx)) != LV_OK)
        return rc;
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return lv_err_errno(errno, "cannot create %s", path);
    slot *sl = &s->slots[idx];
    sl->used = 1;
    sl->adding = 1;
    sl->fd = fd;
    sl->path = lv_xstrdup(path);
    lv_node_copy(n, &sl->store, &sl->n);
    /* Whatever no chunk covers stays a hole; writing the chunks makes the size, unless a hole ends the
     * file (one system call per file saved: with small files it counts). */
    uint64_t end = 0;
    if (n->nextents) {
        lv_extent last;
        lv_extent_get(n->extents, n->nextents - 1, &last);
        end = last.offset + last.length;
    }
    if (end < n->size && ftruncate(fd, (off_t)n->size) != 0)
        return lv_err_errno(errno, "cannot size %s", path);
    if (n->nlink > 1)
        link_remember(s, key, n, path);
    for (uint32_t i = 0; i < n->nextents; i++) {
        lv_extent e;
        lv_extent_get(sl->n.extents, i, &e);
        if ((rc = group_add(s, &e, idx)) != LV_OK)
            return lv_err_ctx("restore of %s", path);
        /* A file larger than a batch stays in its group: its batch runs now, in the walk's thread. */
        if (i + 1 < n->nextents && batch_full(s) && (rc = drain(s)) != LV_OK)
            return rc;
    }
    sl->adding = 0;
    if (n->nextents == 0)
        finish_slot(s, sl);
    else if (batch_full(s))
        return switch_groups(s);
    return LV_OK;
}

static int restore_special(rst *s, int dfd, const lv_node *n, const char *path)
{
    const char *name = base_name(path);
    int rc = make_room(s, dfd, name, path, 0);
    if (rc != LV_OK)
        return rc;
    uint8_t key[32];
    link_key(n, key);
    if (n->nlink > 1) { /* hardlinked FIFOs, devices and symlinks exist too */
        link_rec *done;
        const char *first = link_first(s, key, &done);
        if (first) {
            rc = linkat(s->root, first, dfd, name, 0) != 0 ? lv_err_errno(errno, "cannot link %s to %s", path, first)
                                                          : LV_OK;
            if (rc == LV_OK)
                s->st->links++;
            free(done);
            return rc;
        }
    }
    int r;
    if (n->type == LV_NODE_SYMLINK) {
        char target[LV_TREE_TARGET_MAX + 1];
        memcpy(target, n->target, n->target_len);
        target[n->target_len] = '\0';
        r = symlinkat(target, dfd, name);
    } else {
        mode_t type = n->type == LV_NODE_FIFO ? S_IFIFO : n->type == LV_NODE_CHR ? S_IFCHR : S_IFBLK;
        r = mknodat(dfd, name, type | 0600, (dev_t)n->rdev);
    }
    if (r != 0) {
        if (errno == EPERM && n->type != LV_NODE_SYMLINK) { /* device nodes need root */
            lv_warn("%s: cannot create %s: %s", path, lv_node_type_name(n->type), strerror(errno));
            s->st->warnings++;
            return LV_OK;
        }
        return lv_err_errno(errno, "cannot create %s", path);
    }
    if (n->nlink > 1)
        link_remember(s, key, n, path);
    lv_meta_apply_at(s->owners, dfd, name, n, path, &s->st->warnings);
    s->st->others++;
    return LV_OK;
}

static int on_entry(void *arg, const lv_node *n, const char *path)
{
    rst *s = arg;
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "restore interrupted (incomplete files were removed)");
    int rc = n->type == LV_NODE_FILE ? restore_file(s, cur_dir(s), n, path) : restore_special(s, cur_dir(s), n, path);
    progress(s, 0);
    return rc;
}

static int on_dir_enter(void *arg, const lv_node *n, const char *path)
{
    rst *s = arg;
    (void)n; /* its metadata is applied on leave */
    int dfd = cur_dir(s);
    const char *name = base_name(path);
    int rc = make_room(s, dfd, name, path, 1);
    if (rc != LV_OK)
        return rc;
    if (mkdirat(dfd, name, 0700) != 0 && !(errno == EEXIST && s->o->overwrite))
        return lv_err_errno(errno, "cannot create directory %s", path);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return lv_err_errno(errno, "cannot open directory %s", path);
    if (s->depth == s->dcap) {
        s->dcap *= 2;
        s->dirs = lv_xrealloc(s->dirs, s->dcap * sizeof *s->dirs);
    }
    s->dirs[s->depth++] = fd;
    return LV_OK;
}

static int on_dir_leave(void *arg, const lv_node *n, const char *path)
{
    rst *s = arg;
    int fd = s->dirs[--s->depth];
    /* Every entry of the directory exists by now (file contents may still be on their way, but writing
     * into a file does not change its directory), so its times can be set already. */
    lv_meta_apply_fd(s->owners, fd, n, path, &s->st->warnings);
    close(fd);
    s->st->dirs++;
    return LV_OK;
}

static int target_ready(const lv_restore_opts *o, int *fd)
{
    int rc = lv_mkdir_p(o->target, 0700);
    if (rc != LV_OK)
        return lv_err_ctx("restore target");
    *fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return lv_err_errno(errno, "restore target %s", o->target);
    if (o->overwrite)
        return LV_OK;
    int dup_fd = dup(*fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return lv_err_errno(errno, "restore target %s", o->target);
    }
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    if (!empty)
        return lv_err(LV_ERR_CONFLICT, "restore target %s is not empty (use --overwrite to restore into it)",
                      o->target);
    return LV_OK;
}

int lv_restore_dir(const lv_repo *r, const lv_restore_opts *o, lv_restore_stats *st)
{
    memset(st, 0, sizeof *st);
    rst s;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.o = o;
    s.st = st;
    s.root = -1;
    s.t0 = lv_mono_s();
    for (size_t i = 0; i < 2 * LV_RESTORE_FILES; i++)
        s.slots[i].fd = -1;
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    int rc = lv_snap_open(r, o->snapshot, &m, &pages, &npages);
    if (rc != LV_OK)
        return rc;
    if (o->nincludes == 0) { /* the bar's total: known for a whole snapshot */
        lv_snap_summary sum;
        if (lv_snap_summary_decode(m.summary, &sum) == LV_OK)
            s.total = sum.bytes_total;
        else
            lv_err_clear(); /* only the bar is lost */
        lv_snap_summary_free(&sum);
    }
    lv_progress_start(&s.prog, o->progress, "written", "files");
    if ((rc = target_ready(o, &s.root)) == LV_OK) {
        s.dcap = 64;
        s.dirs = lv_xmalloc(s.dcap * sizeof *s.dirs);
        s.dirs[s.depth++] = s.root;
        s.owners = lv_owner_cache_new();
        group_init(&s, 0);
        group_init(&s, 1);
        lv_rwalk_ops ops = {on_dir_enter, on_dir_leave, on_entry};
        rc = lv_rwalk(lv_tree_src_repo(r), pages, npages, o->includes, o->nincludes, &ops, &s);
        if (rc == LV_OK)
            rc = drain(&s);
        if (rc != LV_OK)
            abandon(&s);
        for (int gi = 0; gi < 2; gi++) {
            lv_fetch_stats fs;
            lv_fetch_get_stats(s.g[gi].f, &fs);
            st->gets += fs.gets;
            st->bytes_fetched += fs.bytes_fetched;
        }
        for (size_t i = 1; i < s.depth; i++)
            close(s.dirs[i]);
    }
    progress(&s, 1);
    st->seconds = lv_mono_s() - s.t0;
    if (s.root >= 0)
        close(s.root);
    free(s.dirs);
    group_free(&s.g[0]);
    group_free(&s.g[1]);
    lv_owner_cache_free(s.owners);
    links_free(&s);
    lv_manifest_free(&m);
    if (rc == LV_OK && st->warnings)
        rc = lv_err(LV_ERR_INCOMPLETE, "restored, but %llu attributes could not be set (warnings above)",
                    (unsigned long long)st->warnings);
    return rc;
}
