/* Names at a point of the WAL: which table a (database, relfilenode) was and which database an oid was,
 * from the relation maps the "pg" backups recorded (pg/manifest.h: every database's relations with
 * oid, relfilenode, relkind, schema and name at the backup's start).
 *
 * A relfilenode changes with TRUNCATE, VACUUM FULL, CLUSTER and rewrites, so a name is taken from the
 * newest backup that started at or before the LSN and knows the relfilenode, else from any backup that
 * knows it (a table created after the last backup has no name until the next one). Every backup's
 * manifest is read once (lv_wal_names_load). */
#ifndef LV_WAL_RELNAMES_H
#define LV_WAL_RELNAMES_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

typedef struct lv_wal_names lv_wal_names;

typedef struct lv_wal_relname {
    const char *schema, *name;   /* valid until lv_wal_names_free */
    uint32_t oid;                /* pg_class.oid */
    char relkind;                /* 'r' table, 'i' index, 't' TOAST table, 'm' materialized view, ... */
} lv_wal_relname;

/* Read the maps of every pg backup in the catalog (a manifest that cannot be read is warned about and
 * skipped). r->cat must be set. */
int lv_wal_names_load(const lv_repo *r, lv_wal_names **out);
void lv_wal_names_free(lv_wal_names *n);

/* The relation (db, relfilenode) was at lsn; NULL when no backup knows it. */
const lv_wal_relname *lv_wal_names_rel(const lv_wal_names *n, uint32_t db, uint32_t relfilenode, uint64_t lsn);
/* Does (db, relfilenode) at lsn count for the finders? With table ("schema.name" or "name"): that table only.
 * Without (NULL): any user relation, not pg_catalog, pg_toast or information_schema; an unnamed relfilenode
 * (created after the last backup) from 16384 on (FirstNormalObjectId: the system's own are below). */
int lv_wal_names_wanted(const lv_wal_names *n, uint32_t db, uint32_t relfilenode, uint64_t lsn, const char *table);

/* The name of database oid db; NULL when no backup knows it. */
const char *lv_wal_names_db(const lv_wal_names *n, uint32_t db);
/* The oid of the database named name (newest backup first); 0 when none. */
uint32_t lv_wal_names_db_oid(const lv_wal_names *n, const char *name);

/* The backups: how many, and the oldest one's timeline and start (where a scan of "all" WAL begins). */
size_t lv_wal_names_backups(const lv_wal_names *n);
int lv_wal_names_oldest(const lv_wal_names *n, uint32_t *tli, uint64_t *start_lsn);

#endif
