/* `labvault check`: prove end to end that archiving works, as pgBackRest's check does.
 *
 * Over libpq (pg-host, pg-port, pg-user, pg-database; unset ones come from libpq's PG* variables and
 * defaults): refuse a standby, archive_mode = off, and a cluster whose system identifier is not the
 * repository's stanza; write a restore point (or, without the privilege, a transaction) so the current
 * segment is not empty; pg_switch_wal(); then wait up to archive-timeout seconds for that segment to
 * appear in the repository, and read it back (authenticated, checksum verified).
 *
 * Codes: LV_ERR_PG (cannot connect, standby, archive_mode off, a query refused), LV_ERR_CONFLICT (the
 * cluster is not the repository's), LV_ERR_CHECK (the segment did not arrive in time: the message
 * carries pg_stat_archiver's last failure), and the store's codes. */
#ifndef LV_WAL_CHECK_H
#define LV_WAL_CHECK_H

#include "common/pgconn.h"
#include "repo/repo.h"
#include "wal/segment.h"

typedef struct lv_wal_check_result {
    char segment[LV_WAL_NAME_MAX];  /* the segment switched and found */
    char key[160];                  /* its object */
    double seconds;                 /* from the switch until it was found */
} lv_wal_check_result;

int lv_wal_check(lv_repo *r, const lv_pg_conn_opts *pg, int timeout_s, lv_wal_check_result *res);

/* "; PostgreSQL's archiver failed N times, last on SEGMENT at TIME (see its log)" from pg_stat_archiver, or
 * "" when it never failed (or cannot say): the tail of a message about WAL that did not arrive. */
void lv_wal_archiver_failure(PGconn *c, char *out, size_t n);

#endif
