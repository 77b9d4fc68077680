/* The live cluster beside its archive: the WAL it has written that the archive does not hold yet (right
 * after an accident the commit is usually in the segment being written, which PostgreSQL archives only
 * once it is full or switched), and the switch that archives it now.
 *
 * Over libpq (pg-host, pg-port, pg-user, pg-database or libpq's PG* variables; a 5 s connect timeout): the
 * cluster must be the one the repository archives (its system identifier is the stanza's), else it is
 * not compared. */
#ifndef LV_WAL_LIVE_H
#define LV_WAL_LIVE_H

#include <stdint.h>

#include "common/pgconn.h"
#include "repo/repo.h"

typedef struct lv_wal_live {
    int reached;                   /* 1: connected to the stanza's cluster; else why says why not */
    char why[300];
    int standby;                   /* in recovery: lsn is the last replayed record, nothing can be switched */
    uint32_t tli;                  /* its timeline */
    uint64_t lsn;                  /* pg_current_wal_insert_lsn() (standby: pg_last_wal_replay_lsn()) */
} lv_wal_live;

/* Never fails: a cluster that cannot be reached, or is another one, is said in out->why. */
void lv_wal_live_get(const lv_repo *r, const lv_pg_conn_opts *pg, lv_wal_live *out);

/* pg_switch_wal() on the primary (when the current segment holds WAL), then wait up to timeout_s seconds
 * until every segment up to the switched one is archived. *upto receives the LSN the archive now covers.
 * LV_ERR_PG (cannot connect, a standby, a query refused), LV_ERR_CONFLICT (another cluster), LV_ERR_CHECK
 * (not archived in time, with pg_stat_archiver's last failure), the store's codes. */
int lv_wal_live_switch(const lv_repo *r, const lv_pg_conn_opts *pg, int timeout_s, uint64_t *upto);

#endif
