/* Relation maps and row counts of every database (backup/pg.h): after the backup's stop, for each
 * database that allows connections, pg_class's relations (oid, schema, name, relfilenode, tablespace
 * (0 resolved to the database's), relkind) and, with count_rows, exact row counts of ordinary tables
 * outside pg_catalog and information_schema, read in one REPEATABLE READ transaction per database.
 *
 * rows_lsn: *exact is set when every database's transaction snapshot (pg_current_snapshot()) equals
 * stop_snapshot, the one taken on the backup session right after the stop: then no transaction id was
 * assigned and none ended in between, so a recovery to the stop LSN has exactly these rows. A table whose
 * count fails (a damaged page) gets rows = -1 and a warning instead of failing the backup (and the
 * counts are then not exact). */
#ifndef LV_BACKUP_PG_RELMAP_H
#define LV_BACKUP_PG_RELMAP_H

#include "backup/pg_session.h"
#include "pg/manifest.h"

/* Fills *dbs / *ndbs (owned: free with lv_pg_relmap_free). LV_ERR_PG naming the database and cause. */
int lv_pg_relmap_collect(PGconn *main, const lv_pg_conn_opts *c, int count_rows, const char *stop_snapshot,
                         lv_pgman_database **dbs, uint32_t *ndbs, int *exact);
void lv_pg_relmap_free(lv_pgman_database *dbs, uint32_t ndbs);

#endif
