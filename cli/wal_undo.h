/* Shared by `wal drops` and `wal changes` (cli/wal_undo.c): parsing and printing only. */
#ifndef LV_CLI_WAL_UNDO_H
#define LV_CLI_WAL_UNDO_H

#include <stdint.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/pgconn.h"
#include "drills/undo.h"
#include "wal/changes.h"
#include "wal/drops.h"
#include "wal/live.h"
#include "wal/range.h"

/* --since: an LSN (X/X), a UTC time "YYYY-MM-DD HH:MM:SS[.ffffff]" (also with 'T', "Z" or "+00") or a day;
 * NULL: neither. LV_ERR_USAGE naming the value. */
int lv_cli_since(const char *s, uint64_t *lsn, int64_t *us);
/* The live cluster's connection (pg-host, pg-port, pg-user, pg-database). */
lv_pg_conn_opts lv_cli_pg_opts(const lv_ctx *ctx);
/* --switch given: pg_switch_wal() on the live cluster and wait for the archive (wal/live.h). */
int lv_cli_switch(lv_ctx *ctx);
/* The live cluster's position: never fails (out->why says why it was not reached). */
void lv_cli_live_check(lv_ctx *ctx, lv_wal_live *out);
/* Has the cluster written WAL past the archived range? */
int lv_cli_live_behind(const lv_wal_live *live, const lv_wal_range *rg);
/* The "live" object of the JSON answer, and the note of the text answer (what: "drops" or
 * "transactions"; command: the command to run again with --switch). */
void lv_cli_live_json(lv_json *j, const lv_wal_live *live, const lv_wal_range *rg);
void lv_cli_live_text(lv_buf *out, const lv_wal_live *live, const lv_wal_range *rg, const char *what,
                      const char *command);

/* --drill XID and --keep-running: the hand-off of one listed transaction to a restore drill (drills/undo.h). */
typedef struct lv_cli_undo {
    int set;
    lv_undo u;
} lv_cli_undo;
/* *xid: --drill's transaction (0: no drill); --keep-running without --drill is LV_ERR_USAGE. */
int lv_cli_undo_flags(lv_ctx *ctx, uint32_t *xid);
/* What to drill, from a listed drop or a listed transaction (names: the relation names, wal/relnames.h). */
int lv_cli_undo_from_drop(const lv_wal_drop_named *n, lv_cli_undo *out);
int lv_cli_undo_from_change(const lv_wal_change *x, const char *const *relnames, const char *dbname,
                            const char *restore, lv_cli_undo *out);
/* Run the drill, record it, print its outcome (text: drills/undo.h lv_undo_text; JSON: the drill record and
 * the tables). Exit code: the drill's. */
int lv_cli_undo_drill(lv_ctx *ctx, lv_cli_undo *c);
void lv_cli_undo_free(lv_cli_undo *c);

#endif
