/* File content into data blobs: read, cut with FastCDC, hand each chunk to the packer, and collect the
 * extents of the file (b->extents). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/files_run.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/text.h"

int lv_bk_on_chunk(void *arg, uint64_t offset, const uint8_t *p, size_t n)
{
    lv_bk *b = arg;
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "interrupted");
    uint8_t id[LV_HASH_LEN];
    uint64_t fresh = 0;
    int rc = lv_packer_add(b->p, LV_BLOB_DATA, p, n, id, &fresh);
    if (rc != LV_OK)
        return rc;
    lv_extent_append(&b->extents, offset, (uint32_t)n, id);
    if (fresh) {
        b->st.bytes_new += n;
        b->st.blobs_new++;
    }
    lv_bk_progress(b, 0);
    return LV_OK;
}

/* Read [off, off + len) (len UINT64_MAX: to the end of the file) through the chunker. *end receives
 * where reading stopped. A read error sets *bad and returns its code with the message. */
static int read_region(lv_bk *b, int fd, uint64_t off, uint64_t len, const char *path, uint64_t *end, int *bad,
                       int seq)
{
    lv_cdc_stream_seek(&b->cs, off);
    while (len > 0) {
        size_t want = b->cdc.max;
        if (len < want)
            want = (size_t)len;
        uint8_t *dst = lv_cdc_stream_space(&b->cs, want);
        ssize_t got = seq ? read(fd, dst, want) : pread(fd, dst, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *bad = 1;
            return lv_err_errno(errno, "cannot read %s at offset %llu", path, (unsigned long long)off);
        }
        if (got == 0)
            break;
        b->st.bytes_read += (uint64_t)got;
        int rc = lv_cdc_stream_commit(&b->cs, (size_t)got);
        if (rc != LV_OK)
            return rc;
        off += (uint64_t)got;
        if (len != UINT64_MAX)
            len -= (uint64_t)got;
    }
    *end = off;
    return lv_cdc_stream_finish(&b->cs);
}

int lv_bk_read_fd(lv_bk *b, int fd, const struct stat *st, const char *path, uint64_t *size, int *bad)
{
    lv_buf_reset(&b->extents);
    *bad = 0;
    uint64_t end = 0;
    int rc = LV_OK;
    if (st->st_size > (1 << 20)) /* read-ahead hint; not worth a system call for small files */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    /* Only a file that occupies fewer blocks than its size can have holes; asking the others would
     * cost two lseeks each for nothing. */
    int sparse = st->st_size > 0 && (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size;
    if (!sparse)
        return read_region(b, fd, 0, UINT64_MAX, path, size, bad, 0);
    off_t off = 0;
    for (;;) {
        off_t data = lseek(fd, off, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* nothing but a hole up to the end */
        if (data < 0 && errno == EINVAL && off == 0) /* no SEEK_DATA here: read it all */
            return read_region(b, fd, 0, UINT64_MAX, path, size, bad, 0);
        if (data < 0) {
            *bad = 1;
            return lv_err_errno(errno, "cannot find the data regions of %s", path);
        }
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) {
            *bad = 1;
            return lv_err_errno(errno, "cannot find the holes of %s", path);
        }
        if (hole <= data)
            break;
        rc = read_region(b, fd, (uint64_t)data, (uint64_t)(hole - data), path, &end, bad, 0);
        if (rc != LV_OK)
            return rc;
        off = hole;
    }
    /* The size the file had when opened; more if it grew while we read it. */
    *size = (uint64_t)st->st_size > end ? (uint64_t)st->st_size : end;
    return LV_OK;
}

int lv_bk_read_seq(lv_bk *b, int fd, const char *what, uint64_t *size, int *bad)
{
    lv_buf_reset(&b->extents);
    *bad = 0;
    return read_region(b, fd, 0, UINT64_MAX, what, size, bad, 1);
}

int lv_bk_stream_begin(lv_bk *b, uint64_t offset)
{
    lv_cdc_stream_seek(&b->cs, offset);
    return LV_OK;
}

int lv_bk_stream_push(lv_bk *b, const void *p, size_t n)
{
    b->st.bytes_read += n;
    return lv_cdc_stream_push(&b->cs, p, n);
}

int lv_bk_stream_end(lv_bk *b) { return lv_cdc_stream_finish(&b->cs); }

int lv_bk_skip(lv_bk *b, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lv_progress_clear(&b->prog); /* do not print over the progress line */
    lv_warn("%s: left out of the snapshot", msg);
    b->st.errors++;
    return LV_OK;
}

double lv_bk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lv_bk_progress(lv_bk *b, int final)
{
    if (!final && !lv_progress_due(&b->prog))
        return;
    char fresh[32], note[48];
    lv_human_size(b->st.bytes_new, fresh);
    snprintf(note, sizeof note, "%s new", fresh);
    uint64_t files = b->st.files_new + b->st.files_changed + b->st.files_unchanged;
    if (final)
        lv_progress_end(&b->prog, b->st.bytes_read, 0, files, note);
    else
        lv_progress_update(&b->prog, b->st.bytes_read, 0, files, note);
}
