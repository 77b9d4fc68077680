#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
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
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            rc = lv_err_errno(errno, "cannot create directory %s", p);
            if (rc == LV_ERR_NOT_FOUND)
                rc = LV_ERR_IO;
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

int lv_write_all(int fd, const void *p, size_t n, const char *what)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return lv_err_errno(errno, "cannot write %s", what);
        }
        b += w;
        n -= (size_t)w;
    }
    return LV_OK;
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

static char *dir_of(const char *path)
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

int lv_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int no_replace)
{
    unsigned r = 0;
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        if (read(rfd, &r, sizeof r) != (ssize_t)sizeof r)
            r = 0;
        close(rfd);
    }
    char *tmp = lv_xasprintf("%s.tmp-%d-%08x", path, (int)getpid(), r);
    char *dir = dir_of(path);
    int rc = LV_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = lv_err_errno(errno, "cannot create %s", tmp);
        if (rc == LV_ERR_NOT_FOUND)
            rc = LV_ERR_IO;
        goto out;
    }
    rc = lv_write_all(fd, data, len, tmp);
    if (rc == LV_OK && fsync(fd) != 0)
        rc = lv_err_errno(errno, "cannot fsync %s", tmp);
    if (close(fd) != 0 && rc == LV_OK)
        rc = lv_err_errno(errno, "cannot close %s", tmp);
    if (rc != LV_OK)
        goto fail;
    if (no_replace) {
        /* link() fails with EEXIST instead of replacing: the create-only primitive. */
        if (link(tmp, path) != 0) {
            if (errno == EEXIST)
                rc = lv_err(LV_ERR_CONFLICT, "%s already exists", path);
            else
                rc = lv_err_errno(errno, "cannot link %s", path);
            goto fail;
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        rc = lv_err_errno(errno, "cannot rename %s to %s", tmp, path);
        goto fail;
    }
    rc = lv_fsync_dir(dir);
    goto out;
fail:
    unlink(tmp);
    if (rc == LV_ERR_NOT_FOUND)
        rc = LV_ERR_IO;
out:
    free(tmp);
    free(dir);
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
