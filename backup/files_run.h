/* Internal to backup/: the state of one backup run, shared by the sources (walk.c: directories on
 * disk; source.c: --stdin and --from-tar) and the content reader (content.c). One thread. */
#ifndef LV_BACKUP_FILES_RUN_H
#define LV_BACKUP_FILES_RUN_H

#include <stdint.h>
#include <sys/stat.h>

#include "backup/files_cache.h"
#include "backup/files.h"
#include "chunk/fastcdc.h"
#include "common/buf.h"
#include "common/progress.h"
#include "repo/blobstore.h"
#include "snapshot/idmap.h"
#include "snapshot/tree.h"
#include "snapshot/treebuild.h"

typedef struct lv_owner_name {
    uint32_t id;
    char *name;
} lv_owner_name;

typedef struct lv_bk {
    lv_repo *r;
    const lv_backup_opts *o;
    lv_packer *p;
    lv_treebuild *tb;
    lv_cdc cdc;
    lv_cdc_stream cs;
    lv_fcache *fc;                 /* NULL without a catalog */
    lv_backup_stats st;
    int64_t start_ns;              /* wall clock at the start (ns) */
    lv_buf extents;                /* the file being stored */
    lv_idmap links;                /* hardlinked files whose other links are still to come:
                                    * (dev, ino) -> their record (walk.c) */
    char **roots;                  /* absolute paths backed up (source paths) */
    size_t nroots;
    lv_owner_name *users, *groups;
    size_t nusers, ngroups;
    double t0;                     /* lv_bk_now() at the start */
    lv_progress prog;              /* the progress line (o->progress) */
} lv_bk;

/* content.c */
/* The chunker's callback: store one chunk, append its extent to b->extents. */
int lv_bk_on_chunk(void *arg, uint64_t offset, const uint8_t *p, size_t n);
/* Read an open regular file (st from fstat) into b->extents; *size gets the logical size stored.
 * Holes (SEEK_DATA/SEEK_HOLE) are skipped when the file occupies fewer blocks than its size. A read
 * error sets *bad and returns its code naming path: the caller reports and skips the file. Any other
 * non-OK return is fatal (the packer failed, or the run was interrupted). */
int lv_bk_read_fd(lv_bk *b, int fd, const struct stat *st, const char *path, uint64_t *size, int *bad);
/* Read a pipe or file sequentially to its end into b->extents (--stdin). Errors as lv_bk_read_fd. */
int lv_bk_read_seq(lv_bk *b, int fd, const char *what, uint64_t *size, int *bad);
/* Store bytes pushed from a stream (a tar member) at logical offsets: begin a region at offset (after
 * a hole), push its bytes, end it. b->extents collects the extents. */
int lv_bk_stream_begin(lv_bk *b, uint64_t offset);
int lv_bk_stream_push(lv_bk *b, const void *p, size_t n);
int lv_bk_stream_end(lv_bk *b);
/* The progress line: bytes read, files, bytes new (final: the last line). */
void lv_bk_progress(lv_bk *b, int final);
double lv_bk_now(void);          /* monotonic seconds */

/* walk.c */
/* Each source builds the root level (enter .. leave) and appends its page ids to root. */
int lv_bk_walk_paths(lv_bk *b, lv_buf *root);
/* Name of a uid / gid ("" when it has none); the string lives as long as b. */
const char *lv_bk_user(lv_bk *b, uint32_t uid);
const char *lv_bk_group(lv_bk *b, uint32_t gid);
/* Free the map of hardlinked files. */
void lv_bk_links_free(lv_bk *b);
/* Fill the node fields that come from a stat (not name, type-specific parts or xattrs). */
void lv_bk_node_from_stat(lv_bk *b, lv_node *n, const struct stat *st);

/* source.c */
int lv_bk_stdin(lv_bk *b, lv_buf *root);
int lv_bk_tar(lv_bk *b, lv_buf *root);

/* files.c: report an entry left out (warning line, counted). Returns LV_OK so callers go on. */
int lv_bk_skip(lv_bk *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
