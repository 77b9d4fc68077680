/* The files of a PostgreSQL data directory that a base backup stores, and how each is stored.
 *
 * Walks DIR (following the pg_tblspc/<oid> links into the tablespaces, nothing else) and lists regular
 * files, sorted bytewise by their path relative to DIR. Left out, as pg_basebackup leaves them out:
 * the contents of pg_wal, pg_dynshmem, pg_notify, pg_replslot, pg_serial, pg_snapshots, pg_stat_tmp and
 * pg_subtrans; anywhere: postmaster.pid, postmaster.opts, backup_label, tablespace_map, backup_manifest,
 * postgresql.auto.conf.tmp, current_logfiles.tmp, pg_internal.init* and pgsql_tmp*, and (unlike
 * pg_basebackup) standby.signal and recovery.signal, which a restore writes for itself; temporary
 * relations (t<backend>_<relfilenode>...), and every fork but _init of an unlogged relation (one that
 * has an _init fork). Directories are not listed (restore recreates PostgreSQL's layout). A file or
 * directory that vanishes while we walk is skipped silently (WAL replay recreates what matters).
 *
 * Relation files: base/<db>/<relfilenode>[_fsm|_vm|_init][.<segno>], global/<relfilenode>...,
 * pg_tblspc/<oid>/<version dir>/<db>/<relfilenode>...; main, vm and init forks are stored as pages, the
 * fsm fork whole (it is rebuilt anyway and changes without WAL). Which pages an incremental may keep
 * from the previous backup is decided per fork by backup/pg_read.h. */
#ifndef LV_BACKUP_PG_WALK_H
#define LV_BACKUP_PG_WALK_H

#include <stddef.h>
#include <stdint.h>

enum { LV_PG_FORK_MAIN = 0, LV_PG_FORK_FSM = 1, LV_PG_FORK_VM = 2, LV_PG_FORK_INIT = 3 };

typedef struct lv_pg_entry {
    char *path;        /* relative to the data directory, "/"-separated */
    uint64_t size;     /* at the walk */
    uint32_t mode;     /* st_mode */
    int64_t mtime;
    int pages;         /* 1: a relation fork stored as pages (main, vm, init) */
    int fork;          /* LV_PG_FORK_*, or -1 for a file that is not a relation fork */
    uint32_t segno;    /* relation segment number (.N suffix), for checksums' block numbers */
} lv_pg_entry;

typedef struct lv_pg_tree {
    lv_pg_entry *e;
    size_t n, cap;
    uint64_t bytes;    /* sum of sizes */
} lv_pg_tree;

/* Parse a relation file's last path component: 1 and its relfilenode, fork and segment number, or 0
 * when name is not one. temp is set for a temporary relation's file (t<digits>_...). */
int lv_pg_relfile_parse(const char *name, uint32_t *relfilenode, int *fork, uint32_t *segno, int *temp);

/* List dir (an absolute path). LV_ERR_CONFIG when dir is not a readable directory, LV_ERR_IO for other
 * failures; the message names the path. */
int lv_pg_walk(const char *dir, lv_pg_tree *t);
void lv_pg_tree_free(lv_pg_tree *t);

#endif
