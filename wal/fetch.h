/* `wal fetch NAME DEST` (PostgreSQL's restore_command) and its prefetch.
 *
 * lv_wal_fetch_repo: list wal/<TLI>/<NAME>-; nothing there is LV_ERR_NOT_FOUND, the only code that
 * means "absent" (the listing succeeded). Otherwise get the object, authenticate and decompress it,
 * recompute the checksum in its name, and only then write DEST through a temporary file in DEST's
 * directory and a rename, so PostgreSQL never sees a partial or unverified file. Every other failure
 * (network, credentials, authentication tag, checksum, two copies with different content, local I/O)
 * is returned with its own code: the command turns those into 128 + code (docs/exit-codes.md), which
 * stops recovery instead of ending it early. A damaged segment's message also says the last point
 * recovery can reach (the start of that segment), so the restore can be redone to a target before it.
 *
 * Prefetch (archive-get-prefetch = N > 0): after serving a segment, the command starts a background
 * worker (the same command again with --worker) that fetches the next N segments of the timeline, in
 * parallel on archive-get-workers threads, verified as above, into the spool:
 *     <spool>/<store-id>/in/<session>/<name>.<sha256 of the plaintext>
 * <session> identifies this start of PostgreSQL (a hash of postmaster.pid in the data directory, the
 * working directory of restore_command), so files from an earlier recovery are never used; the worker
 * removes other sessions' directories. lv_wal_fetch_spooled serves a file from there only after
 * recomputing its SHA-256; a bad or missing spool file is ignored and the repository is asked, so
 * spool state can never make a file look absent. Without postmaster.pid (a manual run) there is no
 * prefetch. */
#ifndef LV_WAL_FETCH_H
#define LV_WAL_FETCH_H

#include <stddef.h>

#include "repo/repo.h"
#include "store/store.h"

typedef struct lv_wal_fetch_opts {
    const char *spool_path;
    int prefetch;          /* segments to fetch ahead; 0 = off */
    int workers;           /* parallel fetches of the prefetch worker */
} lv_wal_fetch_opts;

int lv_wal_fetch_repo(const lv_repo *r, const char *name, const char *dest);

/* Whether recovery needs file `name` when the restore's target is reached in segment last_segment (a
 * 24-digit name; `restore pg --target-immediate` writes it into restore_command): a segment after it, on
 * any timeline, is not needed, and answering it absent (LV_ERR_NOT_FOUND, exit 1) keeps recovery's read
 * ahead (recovery_prefetch) from stopping on a damaged segment the target does not need. Other files
 * (history files) are always needed. LV_OK when needed; LV_ERR_USAGE when last_segment is no segment
 * name. */
int lv_wal_fetch_needed(const char *name, const char *last_segment);

/* LV_OK when name was served from the prefetch spool; LV_ERR_NOT_FOUND otherwise (which says nothing
 * about the repository). */
int lv_wal_fetch_spooled(const lv_wal_fetch_opts *o, lv_store *s, const char *name, const char *dest);

/* After name was served: start the prefetch worker when fewer than half of the next N are spooled.
 * Best effort: problems are logged, never returned (the fetch itself succeeded). */
void lv_wal_prefetch_kick(const lv_wal_fetch_opts *o, lv_store *s, const char *name, const char *dest);

/* The prefetch worker, for the segments after name. */
int lv_wal_prefetch_worker(const lv_wal_fetch_opts *o, lv_repo *r, const char *name);

/* Write data to dest via a private temporary file beside it (common/tmpfile.h, kind "wal-fetch") and rename (not fsynced: PostgreSQL reads it at once,
 * and after a crash it asks for the file again). */
int lv_wal_write_dest(const char *dest, const void *data, size_t n);

#endif
