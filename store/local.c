/* Local directory driver: one file per key under the root ("data/ab/ab12..." -> ROOT/data/ab/ab12...).
 *
 * Durability and atomicity come from common/fsutil.h: a put writes "<path>.tmp-<pid>-<rand>", fsyncs
 * it, renames (or, for LV_PUT_IF_ABSENT, links: EEXIST means the key exists) it into place and fsyncs
 * the directory, so a crash or a full disk leaves the old object or nothing, never a partial one. A
 * writer killed before the rename leaves its temporary: listings skip those, lv_store_temp_list shows
 * them (store.h says when one may be removed). A stream (store.h) is such a temporary, written by the
 * caller at offsets and committed the same way under a key given at the end.
 * Files are 0600 and directories 0700: a repository holds wrapped keys and encrypted data, and nobody
 * else on the host needs it. Unless the repository directory itself gives its group access (made so by
 * its owner, e.g. `install -d -m 2770 -g postgres`): then files get the group's read and write bits of
 * it and directories its bits and setgid, whatever the writer's umask, so that two OS users of one
 * group (root for file snapshots, postgres for WAL and base backups) can share one repository. The
 * driver keeps no state beyond the root and these modes, so it is thread-safe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "store/drivers.h"

typedef struct local_store {
    lv_store base; /* first: the lv_store * handed out points here */
    char *root;
    mode_t file_mode, dir_mode;
} local_store;

static local_store *L(lv_store *s) { return (local_store *)s; }

static char *path_of(local_store *l, const char *key) { return lv_xasprintf("%s/%s", l->root, key); }

static int local_create(lv_store *s)
{
    int rc = lv_mkdir_p(L(s)->root, L(s)->dir_mode);
    return rc ? lv_err_ctx("cannot create repository directory") : LV_OK;
}

/* Create the parent directories of the file path (data/ab/ for data/ab/ab12...). */
static int make_parents(local_store *l, char *path)
{
    int rc = LV_OK;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    /* mkdir of an existing directory is a cheap EEXIST, access() cheaper still. */
    if (access(path, F_OK) != 0)
        rc = lv_mkdir_p(path, l->dir_mode);
    *slash = '/';
    return rc;
}

static int local_put(lv_store *s, const char *key, const void *data, size_t len, int flags)
{
    local_store *l = L(s);
    char *path = path_of(l, key);
    int rc = make_parents(l, path);
    if (rc == LV_OK)
        rc = lv_write_file_atomic(path, data, len, l->file_mode, (flags & LV_PUT_IF_ABSENT) != 0);
    if (rc == LV_ERR_CONFLICT)
        rc = lv_err(LV_ERR_CONFLICT, "%s: %s already exists", s->desc, key);
    else if (rc != LV_OK)
        rc = lv_err_ctx("put %s", key); /* the message already names the path and errno */
    free(path);
    return rc;
}

static int open_key(local_store *l, const char *key, int *fd, uint64_t *size)
{
    char *path = path_of(l, key);
    int rc = LV_OK;
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (*fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR || e == ELOOP)
            rc = lv_err(LV_ERR_NOT_FOUND, "%s: %s not found", l->base.desc, key);
        else
            rc = lv_err_errno(e, "cannot open %s", path);
    } else if (fstat(*fd, &st) != 0) {
        rc = lv_err_errno(errno, "cannot stat %s", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = lv_err(LV_ERR_NOT_FOUND, "%s: %s not found (not a regular file)", l->base.desc, key);
    } else {
        *size = (uint64_t)st.st_size;
    }
    if (rc != LV_OK && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    free(path);
    return rc;
}

static int local_get(lv_store *s, const char *key, uint64_t off, uint64_t len, lv_buf *out)
{
    int fd = -1;
    uint64_t size = 0;
    int rc = open_key(L(s), key, &fd, &size);
    if (rc)
        return rc;
    if (off > size || (len > 0 && len > size - off)) {
        rc = lv_err(LV_ERR_CORRUPT, "%s: range %llu+%llu of %s is beyond its end (%llu bytes)", s->desc,
                    (unsigned long long)off, (unsigned long long)len, key, (unsigned long long)size);
    } else {
        uint64_t n = len ? len : size - off;
        if (n > SIZE_MAX / 2) {
            rc = lv_err(LV_ERR_IO, "%s: %s is too large to read into memory", s->desc, key);
        } else {
            lv_buf_reserve(out, (size_t)n);
            rc = lv_pread_full(fd, out->data + out->len, (size_t)n, off, key);
            if (rc == LV_OK)
                out->len += (size_t)n;
            else
                rc = lv_err_ctx("%s: get", s->desc);
        }
    }
    close(fd);
    return rc;
}

static int local_head(lv_store *s, const char *key, uint64_t *size)
{
    int fd;
    int rc = open_key(L(s), key, &fd, size);
    if (rc == LV_OK)
        close(fd);
    return rc;
}

/* ---- listing ------------------------------------------------------------------------------------ */

typedef struct entry {
    char *key;
    uint64_t size;
    int64_t mtime;
} entry;

typedef struct walk {
    const char *prefix;
    size_t plen;
    int temps;           /* collect the temporary files instead of the objects */
    entry *v;
    size_t n, cap;
} walk;

static int is_temp(const char *name) { return strstr(name, ".tmp-") != NULL; }

/* Could a key under directory "rel/" start with the prefix? Either the directory lies inside the
 * prefix's range or the prefix continues below the directory. */
static int dir_matters(const walk *w, const char *rel)
{
    size_t rl = strlen(rel);
    if (rl >= w->plen)
        return strncmp(rel, w->prefix, w->plen) == 0;
    return strncmp(w->prefix, rel, rl) == 0 && w->prefix[rl] == '/';
}

static int walk_dir(walk *w, const char *root, const char *rel)
{
    char *dpath = *rel ? lv_xasprintf("%s/%s", root, rel) : lv_xstrdup(root);
    DIR *d = opendir(dpath);
    if (!d) {
        int e = errno;
        free(dpath);
        /* A prefix naming a directory that was never created simply has no keys. */
        return (e == ENOENT || e == ENOTDIR) ? LV_OK : lv_err_errno(e, "cannot list %s", root);
    }
    int rc = LV_OK;
    struct dirent *de;
    errno = 0;
    while (rc == LV_OK && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* deleted while we listed */
            rc = lv_err_errno(errno, "cannot stat %s/%s", dpath, name);
            break;
        }
        char *key = *rel ? lv_xasprintf("%s/%s", rel, name) : lv_xstrdup(name);
        if (S_ISDIR(st.st_mode)) {
            if (dir_matters(w, key))
                rc = walk_dir(w, root, key);
            free(key);
        } else if (S_ISREG(st.st_mode) && is_temp(name) == w->temps && strncmp(key, w->prefix, w->plen) == 0) {
            if (w->n == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 256;
                w->v = lv_xrealloc(w->v, w->cap * sizeof *w->v);
            }
            w->v[w->n++] = (entry){key, (uint64_t)st.st_size, (int64_t)st.st_mtime};
        } else {
            free(key);
        }
        errno = 0;
    }
    if (rc == LV_OK && errno != 0)
        rc = lv_err_errno(errno, "cannot read directory %s", dpath);
    closedir(d);
    free(dpath);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    /* strcmp compares as unsigned char: the same byte order S3 lists in. */
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* Every regular file under prefix: the objects, or (temps) the temporary files puts left. */
static int walk_prefix(local_store *l, const char *prefix, int temps, walk *w)
{
    *w = (walk){.prefix = prefix, .plen = strlen(prefix), .temps = temps};
    /* Start at the deepest directory the prefix names fully ("data/ab/x" -> data/ab). */
    char *start = lv_xstrdup(prefix);
    char *slash = strrchr(start, '/');
    if (slash)
        *slash = '\0';
    else
        start[0] = '\0';
    int rc = walk_dir(w, l->root, start);
    free(start);
    return rc;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].key);
    free(w->v);
}

static int local_list(lv_store *s, const char *prefix, lv_store_list_cb cb, void *arg)
{
    walk w;
    int rc = walk_prefix(L(s), prefix, 0, &w);
    /* Collect, then sort the whole key: a per-directory walk would put "a/b" before "a-c", but '-'
     * sorts before '/', and callers (and S3) expect plain byte order of the full key. */
    if (rc == LV_OK && w.n > 1)
        lv_sort(w.v, w.n, sizeof *w.v, by_key);
    for (size_t i = 0; rc == LV_OK && i < w.n; i++)
        rc = cb(arg, w.v[i].key, w.v[i].size);
    walk_free(&w);
    return rc;
}

static int local_temp_list(lv_store *s, const char *prefix, lv_store_temp_cb cb, void *arg)
{
    walk w;
    int rc = walk_prefix(L(s), prefix, 1, &w);
    if (rc == LV_OK && w.n > 1)
        lv_sort(w.v, w.n, sizeof *w.v, by_key);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; rc == LV_OK && i < w.n; i++)
        rc = cb(arg, w.v[i].key, w.v[i].size, now > w.v[i].mtime ? now - w.v[i].mtime : 0);
    walk_free(&w);
    return rc;
}

/* ---- deletion ----------------------------------------------------------------------------------- */

static int unlink_key(local_store *l, const char *key, char **dir_out)
{
    char *path = path_of(l, key);
    int rc = LV_OK;
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        rc = lv_err_errno(errno, "cannot delete %s", path);
    if (rc == LV_OK) {
        *strrchr(path, '/') = '\0';
        *dir_out = path;
    } else {
        free(path);
    }
    return rc;
}

static int local_del(lv_store *s, const char *key)
{
    char *dir = NULL;
    int rc = unlink_key(L(s), key, &dir);
    if (rc == LV_OK) {
        rc = lv_fsync_dir(dir);
        if (rc == LV_ERR_NOT_FOUND) /* the directory never existed: nothing to delete */
            rc = LV_OK;
    }
    free(dir);
    return rc;
}

static int local_del_many(lv_store *s, const char *const *keys, size_t n)
{
    /* unlink is cheap; the costly part is fsync of each directory, done once per distinct directory
     * (keys usually come sorted, so comparing with the previous one catches nearly all repeats). */
    char *last = NULL;
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n; i++) {
        char *dir = NULL;
        rc = unlink_key(L(s), keys[i], &dir);
        if (rc != LV_OK)
            break;
        if (last && strcmp(last, dir) == 0) {
            free(dir);
            continue;
        }
        if (last) {
            rc = lv_fsync_dir(last);
            rc = rc == LV_ERR_NOT_FOUND ? LV_OK : rc;
            free(last);
        }
        last = dir;
    }
    if (last) {
        int r2 = lv_fsync_dir(last);
        if (rc == LV_OK && r2 != LV_ERR_NOT_FOUND)
            rc = r2;
        free(last);
    }
    return rc;
}

/* ---- streams ------------------------------------------------------------------------------------ */

/* The temporary is open twice: the whole 4 KiB blocks of a large write go with O_DIRECT, like a put's
 * (docs/performance.md, "Writing objects"), and the partial blocks at its edges, which the neighbouring
 * ranges share, through the page cache (lv_pwrite_split); those pages are dropped from the cache once
 * they are on disk. */
typedef struct local_stream {
    lv_store_stream base; /* first */
    int fd, dfd;          /* dfd: O_DIRECT, or -1 where the file system refuses it */
    char *tmp;            /* absolute path of the temporary */
} local_stream;

static void stream_free(local_stream *w)
{
    if (w->dfd >= 0)
        close(w->dfd);
    if (w->fd >= 0)
        close(w->fd);
    free(w->tmp);
    free(w);
}

static int local_stream_open(lv_store *s, const char *area, lv_store_stream **out)
{
    local_store *l = L(s);
    char *path = path_of(l, area);
    int rc = make_parents(l, path);
    local_stream *w = lv_xcalloc(1, sizeof *w);
    w->fd = w->dfd = -1;
    w->tmp = lv_temp_path(path);
    free(path);
    if (rc == LV_OK)
        rc = lv_temp_create(w->tmp, l->file_mode, &w->fd);
    if (rc == LV_OK)
        w->dfd = open(w->tmp, O_WRONLY | O_DIRECT | O_CLOEXEC); /* -1 (EINVAL) on tmpfs: all buffered */
    if (rc != LV_OK) {
        stream_free(w);
        return rc;
    }
    w->base.store = s;
    w->base.name = w->tmp + strlen(l->root) + 1;
    *out = &w->base;
    return LV_OK;
}

static int local_stream_write(lv_store_stream *ws, const void *data, size_t n, uint64_t off)
{
    local_stream *w = (local_stream *)ws;
    return lv_pwrite_split(w->fd, w->dfd, data, n, off, w->tmp);
}

static void local_stream_abort(lv_store_stream *ws)
{
    local_stream *w = (local_stream *)ws;
    unlink(w->tmp);
    stream_free(w);
}

static int local_stream_commit(lv_store_stream *ws, const char *key, int flags)
{
    local_stream *w = (local_stream *)ws;
    lv_store *s = ws->store;
    int rc = LV_OK;
    if (w->dfd >= 0 && close(w->dfd) != 0)
        rc = lv_err_errno(errno, "cannot close %s", w->tmp);
    w->dfd = -1;
    if (rc == LV_OK && fsync(w->fd) != 0)
        rc = lv_err_errno(errno, "cannot fsync %s", w->tmp);
    else
        (void)posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED); /* clean now: drop them from the cache */
    if (close(w->fd) != 0 && rc == LV_OK)
        rc = lv_err_errno(errno, "cannot close %s", w->tmp);
    w->fd = -1;
    char *path = path_of(L(s), key);
    if (rc == LV_OK)
        rc = make_parents(L(s), path);
    if (rc == LV_OK) {
        rc = lv_temp_commit(w->tmp, path, (flags & LV_PUT_IF_ABSENT) != 0);
        if (rc == LV_ERR_CONFLICT)
            rc = lv_err(LV_ERR_CONFLICT, "%s: %s already exists", s->desc, key);
    } else {
        unlink(w->tmp);
    }
    if (rc == LV_ERR_NOT_FOUND)
        rc = LV_ERR_IO;
    free(path);
    stream_free(w);
    return rc;
}

static void local_close(lv_store *s)
{
    local_store *l = L(s);
    free(l->root);
    free(l->base.desc);
    free(l);
}

static const lv_store_ops local_ops = {
    .put = local_put,
    .get = local_get,
    .head = local_head,
    .list = local_list,
    .del = local_del,
    .del_many = local_del_many,
    .close = local_close,
    .create = local_create,
    .temp_list = local_temp_list,
    .temp_del = local_del, /* store.c checked that the name is a temporary's */
    .puts_in_flight = 1,
    .cpu_bound_reads = 1,
    .stream_open = local_stream_open,
    .stream_write = local_stream_write,
    .stream_commit = local_stream_commit,
    .stream_abort = local_stream_abort,
};

int lv_local_open(const char *root, lv_store **out)
{
    if (!*root)
        return lv_err(LV_ERR_CONFIG, "repository path is empty");
    char *abs;
    if (root[0] == '/') {
        abs = lv_xstrdup(root);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return lv_err_errno(errno, "cannot resolve relative repository path %s", root);
        abs = lv_xasprintf("%s/%s", cwd, root);
    }
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    local_store *l = lv_xcalloc(1, sizeof *l);
    l->base.ops = &local_ops;
    l->base.desc = lv_xstrdup(abs);
    l->root = abs;
    l->file_mode = 0600;
    l->dir_mode = 0700;
    struct stat st;
    if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0060) == 0060) {
        l->file_mode |= 0060;
        l->dir_mode |= (st.st_mode & 0070) | (st.st_mode & S_ISGID);
    }
    *out = &l->base;
    return LV_OK;
}
