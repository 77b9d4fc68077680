/* `labvault dump SNAPSHOT PATH`: one file of a snapshot, its bytes to a descriptor (standard output), so
 * that a single file comes back without a restore into a directory: `labvault dump latest /etc/fstab`.
 *
 * A regular file's content is written in order, holes as zeros, fetched in batches of up to
 * LV_RESTORE_BATCH bytes with parallel ranged GETs (restore/fetch.h): each chunk is authenticated before
 * a byte of it is written, and a chunk that fails stops the dump with LV_ERR_CORRUPT naming the file (what
 * was written before it stays written: the caller's stream is not ours to take back). A symlink gives
 * its target. A directory is reported through *is_dir with nothing written: the caller writes it as a tar
 * stream (restore/files.h). Other types (devices, FIFOs, sockets) are LV_ERR_USAGE. */
#ifndef LV_RESTORE_DUMP_H
#define LV_RESTORE_DUMP_H

#include <stdint.h>

#include "repo/repo.h"

int lv_dump(const lv_repo *r, const char *snapshot_id, const char *path, int fd, int *is_dir, uint64_t *written);

#endif
