#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

int lv_mkdir_p(const char *path, mode_t mode)
{
    char *p = lv_xstrdup(path);
    size_t n = strlen(p);
    int rc = LV_OK;
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) != 0) {
            if (errno != EEXIST) {
                rc = lv_err_errno(errno, "cannot create directory %s", p);
                if (rc == LV_ERR_NOT_FOUND)
                    rc = LV_ERR_IO;
                break;
            }
        } else if ((mode & 07077) && chmod(p, mode) != 0) { /* the umask may have taken the group's bits */
            rc = lv_err_errno(errno, "cannot set the mode of %s", p);
            break;
        }
        p[i] = c;
    }
    free(p);
    return rc;
}

int lv_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lv_err_errno(errno, "cannot open directory %s", dir);
    int rc = LV_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = lv_err_errno(errno, "cannot fsync directory %s", dir);
    close(fd);
    return rc;
}

/* off < 0: at the file offset. */
static int write_chunked(int fd, const void *p, size_t n, int64_t off, const char *what)
{
    const uint8_t *b = p;
    while (n > 0) {
        size_t k = n < LV_WRITE_CHUNK ? n : LV_WRITE_CHUNK;
        ssize_t w = off < 0 ? write(fd, b, k) : pwrite(fd, b, k, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) /* 0 would loop forever; a full disk reports ENOSPC on the next call anyway */
            return lv_err_errno(w < 0 ? errno : EIO, "cannot write %s", what);
        b += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return LV_OK;
}

int lv_write_all(int fd, const void *p, size_t n, const char *what)
{
    return write_chunked(fd, p, n, -1, what);
}

int lv_pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *what)
{
    if (off > (uint64_t)INT64_MAX)
        return lv_err(LV_ERR_IO, "cannot write %s: offset %llu out of range", what, (unsigned long long)off);
    return write_chunked(fd, p, n, (int64_t)off, what);
}

/* ---- direct writes --------------------------------------------------------------------------- */

enum { DIRECT_ALIGN = 4096, DIRECT_CHUNK = 1u << 20 };

/* One aligned bounce buffer per thread, kept for the thread's life: a fresh buffer per file would pay
 * the first-touch page faults that direct I/O is here to avoid. */
static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void bounce_init(void) { (void)pthread_key_create(&bounce_key, free); }

static uint8_t *bounce_buf(void)
{
    pthread_once(&bounce_once, bounce_init);
    uint8_t *b = pthread_getspecific(bounce_key);
    if (!b) {
        void *m = NULL;
        if (posix_memalign(&m, DIRECT_ALIGN, DIRECT_CHUNK) != 0)
            return NULL;
        if (pthread_setspecific(bounce_key, m) != 0) {
            free(m);
            return NULL;
        }
        b = m;
    }
    return b;
}

/* Write the whole 4 KiB blocks at the start of p[0, n) to the file dfd (O_DIRECT set) at off (a multiple of
 * 4 KiB), via the thread's bounce buffer; *done receives the bytes written. When the file system refuses
 * direct I/O (EINVAL) it stops early and still returns LV_OK: the caller writes the rest through the page
 * cache. */
static int write_direct_blocks(int dfd, const uint8_t *p, size_t n, uint64_t off, size_t *done, const char *what)
{
    size_t end = n / DIRECT_ALIGN * DIRECT_ALIGN;
    *done = 0;
    uint8_t *bounce = bounce_buf();
    if (!bounce)
        return LV_OK;
    while (*done < end) {
        size_t k = end - *done < DIRECT_CHUNK ? end - *done : DIRECT_CHUNK;
        memcpy(bounce, p + *done, k);
        ssize_t w = pwrite(dfd, bounce, k, (off_t)(off + *done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EINVAL)
            break; /* this file system refuses direct I/O after all, or wants a larger alignment */
        if (w <= 0)
            return lv_err_errno(w < 0 ? errno : EIO, "cannot write %s", what);
        *done += (size_t)w;
        if (*done % DIRECT_ALIGN)
            break; /* a short direct write: let the buffered path finish (or report the full disk) */
    }
    return LV_OK;
}

/* Write n bytes at the start of the empty file fd (private to this thread), bypassing the page cache for
 * its whole blocks when the file system allows it. */
static int write_new_file(int fd, const uint8_t *p, size_t n, const char *what)
{
    int fl = fcntl(fd, F_GETFL);
    if (n < LV_DIRECT_MIN || fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0)
        return lv_write_all(fd, p, n, what);
    size_t done;
    int rc = write_direct_blocks(fd, p, n, 0, &done, what);
    if (fcntl(fd, F_SETFL, fl) != 0 && rc == LV_OK)
        rc = lv_err_errno(errno, "cannot write %s", what);
    if (rc == LV_OK)
        rc = lv_pwrite_all(fd, p + done, n - done, done, what);
    return rc;
}

int lv_pwrite_split(int fd, int dfd, const void *p, size_t n, uint64_t off, const char *what)
{
    const uint8_t *b = p;
    if (off > (uint64_t)INT64_MAX - n)
        return lv_err(LV_ERR_IO, "cannot write %s: offset %llu out of range", what, (unsigned long long)off);
    uint64_t first = (off + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN; /* the whole blocks: [first, last) */
    uint64_t last = (off + n) / DIRECT_ALIGN * DIRECT_ALIGN;
    /* Unlike a put's, a small range is worth it too: its blocks are fresh page-cache pages all the same. */
    if (dfd < 0 || last <= first || last - first < 16 * DIRECT_ALIGN)
        return lv_pwrite_all(fd, p, n, off, what);
    size_t head = (size_t)(first - off), done = 0;
    int rc = write_direct_blocks(dfd, b + head, (size_t)(last - first), first, &done, what);
    if (rc == LV_OK && head > 0)
        rc = lv_pwrite_all(fd, b, head, off, what);
    /* What the direct writes left (all of it where the file system refused them), and the tail. */
    if (rc == LV_OK)
        rc = lv_pwrite_all(fd, b + head + done, n - head - done, first + done, what);
    return rc;
}

int lv_pread_full(int fd, void *p, size_t n, uint64_t off, const char *what)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return lv_err_errno(errno, "cannot read %s", what);
        }
        if (r == 0)
            return lv_err(LV_ERR_IO, "cannot read %s: file is shorter than expected", what);
        b += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return LV_OK;
}

char *lv_dir_of(const char *path)
{
    char *d = lv_xstrdup(path);
    char *slash = strrchr(d, '/');
    if (!slash) {
        free(d);
        return lv_xstrdup(".");
    }
    if (slash == d)
        slash[1] = '\0';
    else
        *slash = '\0';
    return d;
}

char *lv_temp_path(const char *path)
{
    unsigned r = 0;
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        if (read(rfd, &r, sizeof r) != (ssize_t)sizeof r)
            r = 0;
        close(rfd);
    }
    return lv_xasprintf("%s.tmp-%d-%08x", path, (int)getpid(), r);
}

int lv_temp_create(const char *tmp, mode_t mode, int *fd_out)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int rc = lv_err_errno(errno, "cannot create %s", tmp);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
    }
    if ((mode & 077) && fchmod(fd, mode) != 0) { /* exactly the mode asked for, whatever the umask */
        int rc = lv_err_errno(errno, "cannot set the mode of %s", tmp);
        close(fd);
        unlink(tmp);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
    }
    *fd_out = fd;
    return LV_OK;
}

int lv_temp_commit(const char *tmp, const char *path, int no_replace)
{
    int rc = LV_OK;
    if (no_replace) {
        /* link() fails with EEXIST instead of replacing: the create-only primitive. */
        if (link(tmp, path) != 0) {
            if (errno == EEXIST)
                rc = lv_err(LV_ERR_CONFLICT, "%s already exists", path);
            else
                rc = lv_err_errno(errno, "cannot link %s", path);
        }
    } else if (rename(tmp, path) != 0) {
        rc = lv_err_errno(errno, "cannot rename %s to %s", tmp, path);
    }
    if (no_replace || rc != LV_OK)
        unlink(tmp); /* after a link, or a failure; a rename took the name away already */
    if (rc == LV_OK) {
        char *dir = lv_dir_of(path);
        rc = lv_fsync_dir(dir);
        free(dir);
    }
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
}

/* lv_write_file_atomic through an unnamed file (O_TMPFILE): a writer killed before the link leaves nothing
 * behind, where a named temporary would stay until a sweep a day later (store.h), a lock's or an
 * in-flight marker's among them. The file gets its name by linkat through /proc/self/fd: straight at
 * path when nothing is there (or with no_replace), else at a temporary name renamed over path at once,
 * so only the two calls in between leave a named temporary. *fallback: this way is not available here
 * (a file system without O_TMPFILE, no /proc, any failure before the data was written), and nothing was
 * changed: the caller writes a named temporary instead, whose failures then name the cause. */
static int write_unnamed(const char *path, const void *data, size_t len, mode_t mode, int no_replace, int *fallback)
{
    *fallback = 1;
    char *dir = lv_dir_of(path);
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0 || ((mode & 077) && fchmod(fd, mode) != 0)) {
        if (fd >= 0)
            close(fd);
        free(dir);
        return LV_OK;
    }
    int rc = write_new_file(fd, data, len, path);
    if (rc == LV_OK && fsync(fd) != 0)
        rc = lv_err_errno(errno, "cannot fsync %s", path);
    int linked = 0;
    if (rc == LV_OK) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        linked = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0;
        if (!linked && errno == EEXIST && no_replace) {
            rc = lv_err(LV_ERR_CONFLICT, "%s already exists", path);
        } else if (!linked && errno == EEXIST) {
            char *tmp = lv_temp_path(path);
            if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0) {
                /* not linked: the named way below */
            } else if (rename(tmp, path) != 0) {
                rc = lv_err_errno(errno, "cannot rename %s to %s", tmp, path);
                unlink(tmp);
            } else {
                linked = 1;
            }
            free(tmp);
        }
    }
    close(fd); /* after the fsync: nothing of the data depends on it */
    if (rc == LV_OK && !linked) { /* no /proc, or a file system that refuses: the named way */
        free(dir);
        return LV_OK;
    }
    *fallback = 0;
    if (rc == LV_OK)
        rc = lv_fsync_dir(dir);
    free(dir);
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
}

int lv_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int no_replace)
{
    int fallback;
    int urc = write_unnamed(path, data, len, mode, no_replace, &fallback);
    if (!fallback)
        return urc;
    char *tmp = lv_temp_path(path);
    int fd = -1;
    int rc = lv_temp_create(tmp, mode, &fd);
    if (rc != LV_OK)
        goto out;
    rc = write_new_file(fd, data, len, tmp);
    if (rc == LV_OK && fsync(fd) != 0)
        rc = lv_err_errno(errno, "cannot fsync %s", tmp);
    if (close(fd) != 0 && rc == LV_OK)
        rc = lv_err_errno(errno, "cannot close %s", tmp);
    if (rc == LV_OK) {
        rc = lv_temp_commit(tmp, path, no_replace);
    } else {
        unlink(tmp);
        if (rc == LV_ERR_NOT_FOUND)
            rc = LV_ERR_IO;
    }
out:
    free(tmp);
    return rc;
}

int lv_read_file(const char *path, lv_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lv_err_errno(errno, "cannot open %s", path);
    int rc = LV_OK;
    for (;;) {
        lv_buf_reserve(out, 65536);
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = lv_err_errno(errno, "cannot read %s", path);
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
    }
    close(fd);
    return rc;
}
