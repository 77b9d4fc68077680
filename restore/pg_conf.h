/* The recovery configuration a restored data directory gets (restore/pg.h): restore_command, the
 * recovery_target* settings in postgresql.auto.conf, and recovery.signal.
 *
 * postgresql.auto.conf keeps every line of the user's except the settings recovery reads from it
 * (restore_command and every recovery_target*), whoever wrote them, and our own comment line: two
 * recovery targets are a FATAL error at startup, and a stale restore_command would fetch from the wrong
 * place. Then our block is appended, starting with LV_PGCONF_MARK. Values are quoted for PostgreSQL's
 * configuration lexer ('' for ', \\ for \). */
#ifndef LV_RESTORE_PG_CONF_H
#define LV_RESTORE_PG_CONF_H

#include "common/buf.h"
#include "restore/pg.h"

#define LV_PGCONF_MARK "# labvault restore pg:"

/* The default restore_command: the absolute path of the running labvault (/proc/self/exe), then
 * "--config FILE" when config_file is not NULL, then "wal fetch %f %p"; each word quoted for /bin/sh
 * when it needs it. LV_ERR_IO when /proc/self/exe cannot be read. */
int lv_pg_restore_command(const char *config_file, lv_buf *out);

/* The new postgresql.auto.conf text from the old one (old may be NULL or empty). */
void lv_pg_auto_conf(const char *old, const lv_pg_restore_opts *o, const char *restore_command, lv_buf *out);

/* Rewrite DIR/postgresql.auto.conf (atomically, 0600) and create DIR/recovery.signal. */
int lv_pg_write_recovery(const char *dir, const lv_pg_restore_opts *o, const char *restore_command);

#endif
