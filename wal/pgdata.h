/* What labvault reads from a local PostgreSQL data directory for the WAL archive.
 *
 * lv_wal_ready_scan: the files PostgreSQL waits to archive, from pg_wal/archive_status/<name>.ready,
 * in the order PostgreSQL's archiver takes them (timeline history files first, then by name, which is
 * oldest first). Only names that are WAL file names are returned; the .ready files are only read.
 *
 * lv_wal_controldata_stanza: the cluster identity from `pg_controldata` (run with LC_ALL=C, from
 * pg-bin, else /usr/lib/postgresql/<PG_VERSION>/bin, else PATH): system identifier, bytes per WAL
 * segment, WAL block size; the major version from PG_VERSION.
 *
 * lv_pg_bin_major / lv_pg_bin_check: which major version the server programs in a bin directory are
 * (`postgres --version`), so that a restore or a drill refuses binaries that cannot start the data
 * directory (PostgreSQL refuses another major's PG_VERSION only when it is started). */
#ifndef LV_WAL_PGDATA_H
#define LV_WAL_PGDATA_H

#include <stddef.h>
#include <stdint.h>

#include "wal/segment.h"
#include "wal/stanza.h"

typedef struct lv_wal_ready {
    char name[LV_WAL_NAME_MAX];
    int64_t mtime;             /* unix seconds the .ready file was created: the file's wait begins */
} lv_wal_ready;

/* status_dir is ".../pg_wal/archive_status". *out is malloc'ed (free it); *n may be 0. */
int lv_wal_ready_scan(const char *status_dir, lv_wal_ready **out, size_t *n);

int lv_wal_controldata_stanza(const char *pg_data, const char *pg_bin, lv_wal_stanza *out);

/* Major version of bindir/postgres (15 for "postgres (PostgreSQL) 15.4"), -1 when there is none or it
 * does not say. */
int lv_pg_bin_major(const char *bindir);
/* bindir holds PostgreSQL `major`'s server: LV_OK, else LV_ERR_CONFIG naming `what` (e.g. "backup
 * 1a2b3c4d5e6f"), its version, bindir and what bindir holds. */
int lv_pg_bin_check(const char *bindir, int major, const char *what);

#endif
