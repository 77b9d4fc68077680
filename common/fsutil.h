/* Local file-system helpers with the durability rules of the repository format.
 * lv_write_file_atomic writes an unnamed file in path's directory (O_TMPFILE), fsyncs it, links it at
 * path (or renames it over path) and fsyncs the directory: a crash leaves either the old file or the
 * complete new one, never a partial file under the final name, and a writer killed before the link
 * leaves nothing. Where O_TMPFILE or /proc is missing, the file is "<path>.tmp-<pid>-<rand>" until it
 * is renamed, and a killed writer leaves that temporary (store.h says who removes it). Files of
 * LV_DIRECT_MIN bytes or more are written with O_DIRECT where the file system
 * allows it (falling back to the page cache where it does not): repository objects are written once and
 * read rarely, so a backup should not push the host's working set out of the cache, and filling fresh
 * page-cache pages was the largest cost of a local put on our VMs (docs/repository-format.md, "Writing
 * files"). All functions return lv_code (see common/error.h) and set the error message. */
#ifndef LV_COMMON_FSUTIL_H
#define LV_COMMON_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

/* Create path and its missing parents with mode (like mkdir -p). */
int lv_mkdir_p(const char *path, mode_t mode);

/* Atomically replace (or, with no_replace, create: LV_ERR_CONFLICT if path exists) a file. */
int lv_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int no_replace);

/* The pieces of lv_write_file_atomic, for a writer that fills its temporary file itself
 * (store/local.c's streams). lv_temp_path: "<path>.tmp-<pid>-<rand>", malloc'ed. lv_temp_create: create
 * that file (O_EXCL) with exactly mode. lv_temp_commit: make the complete, fsynced temporary tmp the file
 * path (rename, or with no_replace link: LV_ERR_CONFLICT when path exists) and fsync path's directory;
 * tmp is gone afterwards, whatever the outcome. */
char *lv_temp_path(const char *path);
int lv_temp_create(const char *tmp, mode_t mode, int *fd);
int lv_temp_commit(const char *tmp, const char *path, int no_replace);

/* Read a whole file into out (appending). LV_ERR_NOT_FOUND if it does not exist. */
int lv_read_file(const char *path, lv_buf *out);

/* The directory part of path, malloc'ed: "/a/b" -> "/a", "/b" -> "/", "b" -> ".". */
char *lv_dir_of(const char *path);

/* fsync the directory dir (after creating, renaming or removing an entry in it). */
int lv_fsync_dir(const char *dir);

/* Write all n bytes (at the file offset, or at off) / read exactly n bytes at offset, retrying on EINTR
 * and short transfers. lv_pread_full returns LV_ERR_IO on a short file.
 *
 * Writes go to the kernel in pieces of at most LV_WRITE_CHUNK bytes: on the virtual machines we run on,
 * one write(2) of 16 MiB into the page cache costs about 5x the system time of the same bytes in 256 KiB
 * pieces (measured with dd and with bench/blob_bench -r; docs/repository-format.md, "Writing files"). */
#define LV_WRITE_CHUNK (256u * 1024u)
#define LV_DIRECT_MIN (1u << 20)
int lv_write_all(int fd, const void *p, size_t n, const char *what);
int lv_pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *what);

int lv_pread_full(int fd, void *p, size_t n, uint64_t off, const char *what);

/* Write n bytes at off into a file open twice: fd through the page cache, dfd (or -1) with O_DIRECT. For
 * ranges of at least 16 whole blocks, the whole 4 KiB blocks of the range go through dfd (the thread's aligned
 * buffer, as lv_write_file_atomic) and the partial blocks at its edges, which the writers of the
 * neighbouring ranges may share, through fd, as does everything where the file system refuses direct
 * I/O. Several threads may write disjoint ranges of one file at once. */
int lv_pwrite_split(int fd, int dfd, const void *p, size_t n, uint64_t off, const char *what);

#endif
