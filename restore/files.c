/* Restore of a snapshot into a directory (contract in restore/files.h). */
#include "restore/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

typedef struct rst {
    const lv_repo *r;
    const lv_restore_opts *o;
    int root;                /* target directory */
    int *dirs;               /* open directory per depth; dirs[0] = root */
    size_t depth, dcap;
    slot slots[LV_RESTORE_FILES];
    lv_fetch *f;
    lv_idmap links;          /* (dev, ino) of hardlinked files -> offset of their path in link_paths */
    lv_buf link_paths;
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

/* Remove every file that is not complete: nothing with wrong or missing bytes is left behind. */
static void abandon(rst *s)
{
    for (size_t i = 0; i < LV_RESTORE_FILES; i++) {
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

static int run_batch(rst *s)
{
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "restore interrupted (incomplete files were removed)");
    size_t failed;
    int rc = lv_fetch_run(s->f, &failed);
    if (rc != LV_OK) {
        if (failed < LV_RESTORE_FILES && s->slots[failed].used)
            lv_err_ctx("restore of %s failed (the incomplete file was removed)", s->slots[failed].path);
        return rc;
    }
    for (size_t i = 0; i < LV_RESTORE_FILES; i++)
        if (s->slots[i].used && !s->slots[i].adding)
            finish_slot(s, &s->slots[i]);
    progress(s, 0);
    return LV_OK;
}

static int batch_full(const rst *s)
{
    return lv_fetch_pending_bytes(s->f) >= LV_RESTORE_BATCH || lv_fetch_pending(s->f) >= 4096;
}

static int free_slot(rst *s, size_t *idx)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < LV_RESTORE_FILES; i++)
            if (!s->slots[i].used) {
                *idx = i;
                return LV_OK;
            }
        int rc = run_batch(s); /* every slot is waiting for its chunks: fetch them */
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
        const size_t *at = lv_idmap_get(&s->links, key);
        if (at) {
            const char *first = (const char *)s->link_paths.data + *at;
            if (linkat(s->root, first, dfd, name, 0) != 0)
                return lv_err_errno(errno, "cannot link %s to %s", path, first);
            s->st->links++;
            /* While its content is still on the way, this name goes away with it if the restore fails. */
            for (size_t i = 0; i < LV_RESTORE_FILES; i++)
                if (s->slots[i].used && strcmp(s->slots[i].path, first) == 0)
                    lv_buf_append(&s->slots[i].links, path, strlen(path) + 1);
            return LV_OK;
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
    /* The size first: whatever no chunk covers stays a hole. */
    if (ftruncate(fd, (off_t)n->size) != 0)
        return lv_err_errno(errno, "cannot size %s", path);
    if (n->nlink > 1) {
        lv_idmap_put(&s->links, key, s->link_paths.len);
        lv_buf_append(&s->link_paths, path, strlen(path) + 1);
    }
    for (uint32_t i = 0; i < n->nextents; i++) {
        lv_extent e;
        lv_extent_get(sl->n.extents, i, &e);
        if ((rc = lv_fetch_add(s->f, e.id, e.length, idx, e.offset)) != LV_OK)
            return lv_err_ctx("restore of %s", path);
        if (batch_full(s) && (rc = run_batch(s)) != LV_OK)
            return rc;
    }
    sl->adding = 0;
    if (n->nextents == 0)
        finish_slot(s, sl);
    else if (batch_full(s))
        return run_batch(s);
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
        const size_t *at = lv_idmap_get(&s->links, key);
        if (at) {
            const char *first = (const char *)s->link_paths.data + *at;
            if (linkat(s->root, first, dfd, name, 0) != 0)
                return lv_err_errno(errno, "cannot link %s to %s", path, first);
            s->st->links++;
            return LV_OK;
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
    if (n->nlink > 1) {
        lv_idmap_put(&s->links, key, s->link_paths.len);
        lv_buf_append(&s->link_paths, path, strlen(path) + 1);
    }
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
    for (size_t i = 0; i < LV_RESTORE_FILES; i++)
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
        s.f = lv_fetch_new(r, o->threads > 0 ? o->threads : 8, deliver, &s);
        s.owners = lv_owner_cache_new();
        lv_rwalk_ops ops = {on_dir_enter, on_dir_leave, on_entry};
        rc = lv_rwalk(lv_tree_src_repo(r), pages, npages, o->includes, o->nincludes, &ops, &s);
        if (rc == LV_OK)
            rc = run_batch(&s);
        if (rc != LV_OK)
            abandon(&s);
        lv_fetch_stats fs;
        lv_fetch_get_stats(s.f, &fs);
        st->gets = fs.gets;
        st->bytes_fetched = fs.bytes_fetched;
        for (size_t i = 1; i < s.depth; i++)
            close(s.dirs[i]);
    }
    progress(&s, 1);
    st->seconds = lv_mono_s() - s.t0;
    if (s.root >= 0)
        close(s.root);
    free(s.dirs);
    lv_fetch_free(s.f);
    lv_owner_cache_free(s.owners);
    lv_idmap_free(&s.links);
    lv_buf_free(&s.link_paths);
    lv_manifest_free(&m);
    if (rc == LV_OK && st->warnings)
        rc = lv_err(LV_ERR_INCOMPLETE, "restored, but %llu attributes could not be set (warnings above)",
                    (unsigned long long)st->warnings);
    return rc;
}
