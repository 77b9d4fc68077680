/* `wal status`: the state of the WAL archive, from the repository listing (the truth), the catalog
 * (when files arrived, the failure journal, drops) and, with pg-data, PostgreSQL's archive_status.
 *
 *   - per timeline: files, first and last segment, gaps (segments missing between the first and the
 *     last: a point in time inside a gap cannot be recovered);
 *   - the last archived segment (highest timeline, then highest name) and when it was pushed;
 *   - names with two different archived copies (conflicts; fetch refuses them);
 *   - archive lag: how many .ready files wait and the age of the oldest, the RPO exposure;
 *   - recent failures and every segment dropped by archive-queue-max.
 * lv_wal_status_problems() says whether anything needs attention (gaps, drops, conflicts): the command
 * then exits 9 (incomplete). Gap detection needs the stanza's segment size; without a stanza (no archive
 * yet) it is skipped, and a stanza lost while wal/ holds files is LV_ERR_CORRUPT (wal/stanza.h). */
#ifndef LV_WAL_STATUS_H
#define LV_WAL_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "repo/repo.h"
#include "wal/archive.h"
#include "wal/segment.h"
#include "wal/stanza.h"

#define LV_WAL_GAPS_KEPT 32 /* gap ranges listed per timeline (all are counted) */

typedef struct lv_wal_gap {
    char from[25], to[25];  /* first and last missing segment, inclusive */
} lv_wal_gap;

typedef struct lv_wal_timeline {
    uint32_t tli;
    uint64_t segments, partials, backups, history;
    uint64_t stored_bytes;
    char first[25], last[25];   /* "" when the timeline has no segment */
    uint64_t missing;           /* segments missing in gaps */
    size_t ngaps;               /* gap ranges (only the first LV_WAL_GAPS_KEPT are kept) */
    lv_wal_gap gaps[LV_WAL_GAPS_KEPT];
    uint64_t last_segno;        /* internal: for gap detection while listing */
} lv_wal_timeline;

typedef struct lv_wal_status {
    int have_stanza;
    lv_wal_stanza stanza;
    lv_wal_timeline *tl;
    size_t ntl;
    uint64_t files, stored_bytes, conflicts;
    char last[LV_WAL_NAME_MAX];  /* last archived segment, "" when none */
    int64_t last_pushed;         /* unix seconds from the catalog, -1 when unknown */
    /* PostgreSQL side (have_pg when pg-data was given) */
    int have_pg;
    uint64_t ready;              /* .ready files waiting */
    char oldest_ready[LV_WAL_NAME_MAX];
    int64_t oldest_ready_age;    /* seconds */
    /* catalog journal */
    int64_t dropped;             /* segments dropped by archive-queue-max; -1 unknown */
    char prev_name[LV_WAL_NAME_MAX], prev_sum[LV_WAL_SUM_HEX + 1]; /* internal: conflicts while listing */
} lv_wal_status;

/* Only PostgreSQL's side: the .ready files waiting in pg_data's archive_status (sets have_pg, ready,
 * oldest_ready, oldest_ready_age). */
int lv_wal_status_collect_pg(const char *pg_data, lv_wal_status *st);
/* cat and pg_data may be NULL. */
int lv_wal_status_collect(lv_repo *r, lv_catalog *cat, const char *pg_data, lv_wal_status *st);
/* The repository side, one listed object at a time, in listing order (an lv_wal_list_cb whose arg is a
 * zeroed lv_wal_status with have_stanza and stanza set): what collect does with its own listing. */
int lv_wal_status_add(void *st, const lv_wal_object *o);
void lv_wal_status_free(lv_wal_status *st);
int lv_wal_status_problems(const lv_wal_status *st);

#endif
