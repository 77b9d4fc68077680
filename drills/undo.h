/* "Prove it before touching anything": a finder's suggestion (wal/drops.h, wal/changes.h) handed to a restore
 * drill. The drill restores into scratch with exactly that target (just before the transaction's commit, or
 * before an LSN, exclusive, on its timeline), starts it (drills/drill.h, lv_drill_run_pg), and then, once the
 * scratch server accepts queries:
 *   - a transaction stopped before its COMMIT PREPARED is prepared again there and holds its locks: it is
 *     rolled back (ROLLBACK PREPARED, in its database; check "rollback prepared");
 *   - every affected table is counted in the scratch copy and in the live cluster (pg-host, pg-port, pg-user;
 *     a table or database that is gone there is said so), as checks "undo TABLE" that pass when the scratch
 *     copy has the table; for a dropped database, each of its tables in the scratch copy;
 *   - the usual drill checks run.
 * The scratch copy is stopped and removed afterwards unless kept running on request (keep_running), so the
 * lost rows can be copied back with pg_dump instead of replacing the whole cluster (lv_undo_text says how).
 * The drill is recorded like any other. */
#ifndef LV_DRILLS_UNDO_H
#define LV_DRILLS_UNDO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/pgconn.h"
#include "drills/drill.h"
#include "repo/repo.h"
#include "wal/changes.h"
#include "wal/drops.h"

typedef enum lv_undo_kind {
    LV_UNDO_DROP = 1,            /* tables dropped (or truncated): copy them back whole */
    LV_UNDO_DROP_DATABASE,       /* a database dropped: dump it whole */
    LV_UNDO_DELETE,              /* rows deleted: copy them back into the table */
    LV_UNDO_UPDATE               /* rows updated: copy the old rows beside the table, then reconcile */
} lv_undo_kind;

typedef struct lv_undo_table {
    char *db;                    /* database name */
    char *name;                  /* "schema.name" */
    uint64_t rows_changed;       /* deleted/updated by the accident (0: a drop) */
    /* results */
    int64_t scratch_rows, live_rows; /* -1: not there (or not counted: see the check) */
} lv_undo_table;

typedef struct lv_undo {
    lv_undo_kind kind;
    uint32_t xid;                /* the transaction (0 for an LSN target) */
    uint64_t lsn;                /* LV_UNDO_DROP_DATABASE: the LSN target */
    uint32_t timeline;           /* 0: not given */
    char restore[200];           /* the restore command the finder printed */
    int prepared;                /* committed with COMMIT PREPARED: roll it back in the scratch copy */
    char *dropped_db;            /* LV_UNDO_DROP_DATABASE: its name (NULL unknown) */
    lv_undo_table *tables;
    size_t ntables, cap;
    lv_pg_conn_opts live;        /* the live cluster */
    int rolled_back;             /* result: prepared transactions rolled back in the scratch copy */
} lv_undo;

void lv_undo_add_table(lv_undo *u, const char *db, const char *name, uint64_t rows_changed);

/* What to drill for a listed drop (wal/drops.h: its tables, or the database a DROP DATABASE removed) or a
 * listed transaction (wal/changes.h; relnames[i]: the name of x->rels[i] or NULL, dbname its database): u
 * is filled (lv_undo_free). LV_OK. */
int lv_undo_from_drop(const lv_wal_drop_named *n, lv_undo *u);
int lv_undo_from_change(const lv_wal_change *x, const char *const *relnames, const char *dbname, const char *restore,
                        lv_undo *u);
void lv_undo_free(lv_undo *u);

/* Run the drill (o: the usual drill options; its target fields are set here from u). d as
 * lv_drill_run_pg; the caller records it. */
int lv_undo_drill(lv_repo *r, lv_drill_opts *o, lv_undo *u, lv_drill *d);

/* The outcome for people: the tables side by side, and, for a drill kept running, how to connect, the
 * pg_dump command that copies the rows back, and how to stop and remove the copy. */
void lv_undo_text(const lv_undo *u, const lv_drill *d, lv_buf *out);

#endif
