/* An unfinished PostgreSQL restore is marked, so that no one starts it by mistake (restore/pg.h).
 *
 * A restore pre-sizes files and fills them batch by batch: until it is done, the directory holds
 * zero-filled files that PostgreSQL would take for data. So:
 *   - before anything else is written, the marker LV_PG_MARKER (a text file saying what happened and how to
 *     finish) is created in the data directory, and with --delta the top-level PG_VERSION is removed;
 *   - the backup's PG_VERSION is written under LV_PG_VERSION_STAGED (restore/pg_write.c);
 *   - when every file, the recovery files and backup_label are written and synced, lv_pg_mark_finish
 *     renames it to PG_VERSION and removes the marker.
 * Without PG_VERSION, `pg_ctl start` refuses ("is not a database cluster directory") and so does the
 * postmaster itself ("is not a valid data directory"): what PostgreSQL checks first, not a convention
 * someone has to know. A failed or interrupted restore, or one killed with SIGKILL, leaves the marker; the
 * error says so, and `restore pg --delta` into the same directory finishes it. */
#ifndef LV_RESTORE_PG_MARK_H
#define LV_RESTORE_PG_MARK_H

#define LV_PG_MARKER "LABVAULT_RESTORE_INCOMPLETE"
#define LV_PG_VERSION_STAGED "PG_VERSION.labvault-incomplete"

/* dir exists. Write the marker (durably) naming backup_id, and remove dir/PG_VERSION. */
int lv_pg_mark_begin(const char *dir, const char *backup_id);
/* Publish the staged PG_VERSION (when there is one) and remove the marker, durably. */
int lv_pg_mark_finish(const char *dir);
/* 1 when dir holds the marker. */
int lv_pg_mark_present(const char *dir);

#endif
