/* File snapshots: back up directories and files, a stream (--stdin) or a tar archive (--from-tar) into
 * one "files" manifest (snapshot/snapshot.h).
 *
 * What is stored per entry (snapshot/tree.h): regular files (content as FastCDC chunks, holes kept as
 * holes), directories, symlinks, FIFOs, character and block devices; permission bits with setuid,
 * setgid and sticky; uid/gid and their names; mtime and ctime in nanoseconds; device, inode and link
 * count (hardlinks are restored as hardlinks); every extended attribute, POSIX ACLs included (they are
 * the xattrs system.posix_acl_access/default, stored raw). Sockets are skipped (they cannot be
 * restored meaningfully).
 *
 * Order of work, as the repository format requires (docs/repository-format.md 7.6): data and tree
 * blobs go through one lv_packer; lv_packer_flush makes them durable and indexed; then the manifest is
 * written (the commit point); then the files cache is pruned of paths the run did not see.
 *
 * Change detection: the files cache (backup/files_cache.h) skips reading unchanged files; a changed file is
 * read and chunked again, and only chunks whose blob id is new are stored (lv_packer dedups).
 *
 * Errors: an entry that cannot be read (permission, vanished, I/O error) is reported with one warning
 * line naming it and counted; it is left out of the snapshot, and the snapshot is still committed:
 * lv_backup_files then returns LV_ERR_INCOMPLETE (exit 9) with res->id set. Any other failure returns
 * its code with nothing committed. An interrupt (common/interrupt.h) stops the run at the next file or
 * chunk with LV_ERR_INTERRUPTED.
 *
 * Memory: bounded by the depth and width of the tree (per level of the walk, one directory listing, one
 * tree page and the directory's files-cache record), the chunker's buffer (2 x chunk max), the packer's
 * queues and the hardlinked inodes whose other links are still to come; not by the number of files. */
#ifndef LV_BACKUP_FILES_H
#define LV_BACKUP_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "backup/docker.h"
#include "crypto/crypto.h"
#include "repo/repo.h"

typedef struct lv_backup_opts {
    const char *const *paths;      /* files and directories to back up (made absolute) */
    size_t npaths;
    const char *const *tags;
    size_t ntags;
    const char *const *excludes;   /* fnmatch patterns: with a '/' against the absolute path, else
                                    * against the name; a match leaves the entry and all below it out */
    size_t nexcludes;
    int one_file_system;           /* do not descend into other file systems (mount points stay, empty) */
    const char *stdin_name;        /* store standard input as the file NAME instead of paths */
    const char *tar;               /* store the contents of this tar archive ("-" = stdin) instead */
    const char *docker_volume;     /* recorded in the summary (--docker-volume) */
    const char *compose_project;   /* recorded in the summary (--compose-project) */
    const lv_docker_volume *volumes; /* docker volumes whose mount points are among paths: recorded in the */
    size_t nvolumes;               /* summary as docker_volumes, [{"name", "path"}] */
    const char *host;              /* recorded in the summary */
    int64_t time_us;               /* the snapshot's time (restic's --time); 0 = when it ends */
    int progress;                  /* the progress line on stderr (common/progress.h) */
} lv_backup_opts;

typedef struct lv_backup_stats {
    uint64_t files_new, files_changed, files_unchanged;  /* regular files: not cached / cache said
                                                            changed / content not read */
    uint64_t dirs, others;         /* directories; symlinks, FIFOs, devices */
    uint64_t errors;               /* entries left out because they could not be read */
    uint64_t bytes_total;          /* logical size of the files in the snapshot */
    uint64_t bytes_read;           /* file content actually read */
    uint64_t bytes_new;            /* plaintext of data blobs not stored before */
    uint64_t bytes_stored;         /* bytes uploaded in packs (sealed, compressed, with headers) */
    uint64_t blobs_new, trees_new;
    double seconds;
} lv_backup_stats;

typedef struct lv_backup_result {
    char id[2 * LV_HASH_LEN + 1];  /* the snapshot's manifest id ("" when nothing was committed) */
    lv_backup_stats st;
    char *summary;                 /* the summary JSON (malloc'ed; lv_backup_result_free) */
    int after_rc;                  /* lv_backup_files_job: restarting containers or the post hook failed */
    char *after_msg;               /* ... after the snapshot was committed: why (owned) */
} lv_backup_result;

/* One run: the sources into one snapshot (above). */
int lv_backup_files(lv_repo *r, const lv_backup_opts *o, lv_backup_result *res);

/* The whole `backup files`: the run with what surrounds it.
 *   Interrupts are caught for its duration (common/interrupt.h): SIGINT/SIGTERM stop the run at the next
 *   file or chunk, and the cleanup below still happens.
 *   pre_hook runs first (backup/hooks.h; its failure stops everything: nothing is committed);
 *   o->docker_volume, or (not both) compose_project (every volume of a docker compose project; the snapshot is also
 *   tagged compose:NAME): the volumes' mount points are backed up with any o->paths, and recorded
 *   (backup/docker.h); with stop_containers, or always for a project, the running containers that use
 *   them (and the project's) are stopped first and started again afterwards, whatever happened;
 *   post_hook runs last, always, with LABVAULT_BACKUP_STATUS=ok|incomplete|failed and the snapshot's id.
 * Returns the run's code and message (LV_OK, LV_ERR_INCOMPLETE with res->id set, or a failure). When the
 * snapshot was committed but restarting the containers or the post hook failed, res->after_rc and
 * res->after_msg say so; the run's own result stands. */
typedef struct lv_backup_job {
    lv_backup_opts o;
    const char *pre_hook, *post_hook;
    const char *compose_project;
    int stop_containers;
} lv_backup_job;
int lv_backup_files_job(lv_repo *r, const lv_backup_job *j, lv_backup_result *res);
void lv_backup_result_free(lv_backup_result *res);

#endif
