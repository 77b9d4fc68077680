/* The summary of a PostgreSQL backup: the JSON object stored in its manifest's envelope (repo/manifest.h)
 * and in the catalog's manifests table, which `backups`, restores, incremental backups, drills and `wal
 * drops` read instead of downloading the manifest. This is its one codec: backup pg encodes it, everyone
 * else decodes it, so no reader looks inside the text on its own.
 *
 * The JSON keys, in the order written: type ("full"|"incr"), label, sysid (a string: JSON readers lose
 * precision above 2^53), pg_version, timeline, start_lsn, stop_lsn ("X/X"), start_time, stop_time (unix
 * seconds), wal_start, wal_stop (segment names), files, bytes, bytes_read, bytes_new, bytes_stored,
 * bad_pages; for an incremental also prev, delta_pages, delta_bytes, base_blobs_read, incr_method ("maps": the
 * pages read were those the WAL block maps named; "lsn": every page's LSN compared; absent before maps: "");
 * rows_exact, pgdata.
 *
 * Decode is strict about the fields a restore plans with (type, sysid, pg_version, timeline, the LSNs and
 * times: LV_ERR_CORRUPT naming the first one missing or malformed) and lenient about the rest (absent:
 * zero or ""); unknown keys are ignored, so a summary written by a newer labvault still lists. */
#ifndef LV_PG_SUMMARY_H
#define LV_PG_SUMMARY_H

#include <stdint.h>

#include "common/buf.h"

typedef struct lv_pg_summary {
    int incr;
    char label[256];
    uint64_t sysid;
    uint32_t pg_version, timeline;
    uint64_t start_lsn, stop_lsn;
    int64_t start_time, stop_time;
    char wal_start[25], wal_stop[25];
    uint64_t files, bytes, bytes_read, bytes_new, bytes_stored, bad_pages;
    char prev[65];                           /* incremental: the backup it compared with */
    uint64_t delta_pages, delta_bytes, base_blobs_read;
    char incr_method[8];                     /* incremental: "maps" or "lsn" ("": written before maps) */
    int rows_exact;
    char pgdata[4096];
} lv_pg_summary;

/* Append the JSON object to out. */
void lv_pg_summary_encode(const lv_pg_summary *s, lv_buf *out);
/* Parse json into *s (zeroed first). */
int lv_pg_summary_decode(const char *json, lv_pg_summary *s);

#endif
