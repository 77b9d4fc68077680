/* The lock that keeps two `backup pg` runs of one repository and cluster from running at once: flock
 * (LOCK_EX | LOCK_NB) on a file beside the catalog ("<catalog>.backup-pg.lock"), which holds the holder's
 * pid for the message; the kernel drops it when the process ends, however it ends. */
#ifndef LV_BACKUP_PG_LOCK_H
#define LV_BACKUP_PG_LOCK_H

/* *fd >= 0 holds the lock (close it to release). LV_ERR_LOCKED "another backup pg is running (pid N)",
 * LV_ERR_IO when the file cannot be created. */
int lv_pg_lock(const char *path, int *fd);

#endif
