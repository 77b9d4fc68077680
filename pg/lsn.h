/* Log sequence numbers in PostgreSQL's text form "X/X" (upper-case hex, as pg_lsn prints them): the
 * positions in the WAL that backups, restores and the WAL tools exchange with people and with the server.
 * parse: LV_ERR_USAGE naming the text unless it is exactly 1-8 hex digits, '/', 1-8 hex digits. */
#ifndef LV_PG_LSN_H
#define LV_PG_LSN_H

#include <stdint.h>

#define LV_LSN_TEXT_MAX 18
void lv_lsn_format(uint64_t lsn, char out[LV_LSN_TEXT_MAX]);
int lv_lsn_parse(const char *text, uint64_t *lsn);

#endif
