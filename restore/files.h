/* Restore of file snapshots: into a directory, or as a tar stream.
 *
 * Into a directory (lv_restore_dir): every entry with its content and metadata: permission bits with
 * setuid/setgid/sticky, xattrs (POSIX ACLs included), mtime to the nanosecond, owner and group when run
 * as root (by name when the name exists on this host, else by number), hardlinks as hardlinks, holes as
 * holes. Safety:
 *   - the target must be empty or missing, unless overwrite (then existing entries in the way are
 *     replaced; a directory is reused; nothing else in the target is touched);
 *   - nothing is ever followed: every directory is opened relative to its parent with O_NOFOLLOW and
 *     every file created with O_EXCL|O_NOFOLLOW, and tree names can never be "..", contain '/' or be
 *     absolute (the tree parser refuses them), so no snapshot path can lead outside the target;
 *   - every chunk is authenticated before a byte of it is written (restore/fetch.h). When a chunk fails,
 *     the restore stops, every file not yet complete is removed, and the error names the file.
 * Reads are batched: files are created as the tree is walked, their chunks queued, and a batch (up to
 * LV_RESTORE_BATCH bytes or LV_RESTORE_FILES files) is fetched in parallel, coalescing neighbouring blobs
 * of a pack into one ranged GET. Memory does not grow with the snapshot.
 *
 * As tar (lv_restore_tar): a POSIX pax stream (libarchive) with xattrs, nanosecond times, owners by
 * name and number, hardlinks as hardlink entries, sparse files as sparse entries; to a file (created; an
 * existing one only with overwrite) or to stdout ("-").
 *
 * Return: LV_OK; LV_ERR_INCOMPLETE when everything was written but some metadata could not be set
 * (warnings name each: device nodes or foreign xattrs as non-root); LV_ERR_CONFLICT for a non-empty
 * target without overwrite; LV_ERR_CORRUPT for damaged data (nothing wrong left behind); others as
 * they come (LV_ERR_IO, LV_ERR_UNREACHABLE, ...). */
#ifndef LV_RESTORE_FILES_H
#define LV_RESTORE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "repo/repo.h"

#define LV_RESTORE_BATCH (32u << 20)
#define LV_RESTORE_FILES 128

typedef struct lv_restore_opts {
    const char *snapshot;            /* manifest id (resolved) */
    const char *target;              /* directory, or for tar: file or "-" */
    const char *const *includes;
    size_t nincludes;
    int overwrite;
    int threads;                     /* parallel GETs; 0 = 8 */
    int progress;                    /* progress line on stderr */
} lv_restore_opts;

typedef struct lv_restore_stats {
    uint64_t files, dirs, others, links; /* restored entries (links: hardlinks made) */
    uint64_t bytes;                      /* file content written */
    uint64_t warnings;                   /* metadata that could not be set */
    uint64_t gets, bytes_fetched;        /* ranged GETs and their bytes */
    double seconds;
} lv_restore_stats;

/* An interrupt (common/interrupt.h) stops the restore before the next entry or batch with
 * LV_ERR_INTERRUPTED, removing incomplete files (a directory restore) or the partial tar file. */

int lv_restore_dir(const lv_repo *r, const lv_restore_opts *o, lv_restore_stats *st);
int lv_restore_tar(const lv_repo *r, const lv_restore_opts *o, lv_restore_stats *st);

#endif
