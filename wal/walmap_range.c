/* The block maps of a range of WAL, merged (contract in wal/walmap.h, lv_walmap_range). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "wal/archive.h"
#include "wal/segment.h"
#include "wal/timeline.h"
#include "wal/walmap.h"

/* The map of a segment from the local pg_wal, up to `to` (to's own segment, or one not archived yet). */
static int local_map(const char *pgdata, const char *name, uint64_t to, lv_blkmap *m)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pg_wal/%s", pgdata, name);
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    if (rc == LV_OK)
        rc = lv_blkmap_scan(b.data, b.len, to, m);
    if (rc == LV_OK && m->end_lsn < to)
        rc = lv_err(LV_ERR_INCOMPLETE, "the valid WAL in %s ends before the backup's start", path);
    else if (rc != LV_OK)
        lv_err_ctx("%s", path);
    lv_buf_free(&b);
    return rc;
}

/* Is segment `name` in the archive? (Its map is then the archived one, or none.) */
static int archived(const lv_repo *r, const char *name, int *yes)
{
    lv_wal_name n;
    lv_wal_object o;
    int count = 0;
    int rc = lv_wal_name_parse(name, &n);
    if (rc == LV_OK)
        rc = lv_wal_find(r->store, &n, &o, &count);
    *yes = count > 0;
    return rc;
}

/* Is map m usable as segment `name`'s (format, safety, coverage up to `upto`)? tli: the timeline of the
 * segment's first page (a map records its first page's: the new timeline's segment holding the switch point
 * begins with the old timeline's pages, copied at the promotion). */
static int usable(const lv_blkmap *m, const char *name, uint32_t tli, uint64_t upto)
{
    if (m->format != LV_BLKMAP_FORMAT)
        return lv_err(LV_ERR_INCOMPLETE, "the block map of segment %s is of format %u, this version makes %d", name,
                      m->format, LV_BLKMAP_FORMAT);
    if (m->unsafe)
        return lv_err(LV_ERR_INCOMPLETE, "segment %s sets wal_level = minimal: its WAL does not name every change",
                      name);
    if (m->tli != tli)
        return lv_err(LV_ERR_INCOMPLETE, "the block map of segment %s begins on timeline %u, not %u", name, m->tli,
                      tli);
    if (m->end_lsn < upto)
        return lv_err(LV_ERR_INCOMPLETE, "the block map of segment %s ends before its valid WAL does", name);
    return LV_OK;
}

int lv_walmap_range(const lv_repo *r, lv_catalog *cat, const char *pgdata, const lv_wal_tl_span *hist, size_t nhist,
                    uint32_t seg_size, uint64_t from, uint64_t to, lv_blkset **out, char *why, size_t whylen)
{
    *out = NULL;
    why[0] = '\0';
    if (seg_size == 0 || to < from || nhist == 0) {
        snprintf(why, whylen, "the range of the block maps is empty");
        return LV_ERR_INTERNAL;
    }
    lv_blkset *s = lv_blkset_new();
    lv_blkmap prev = {0}, cur;
    int have_prev = 0, rc = LV_OK;
    uint64_t first = from / seg_size, last = to / seg_size;
    for (uint64_t seg = first; rc == LV_OK && seg <= last; seg++) {
        char name[25];
        uint32_t tli = lv_wal_history_segment_tli(hist, nhist, seg, seg_size);
        uint32_t first_tli = lv_wal_history_tli_at(hist, nhist, seg * seg_size);
        if (!tli) {
            rc = lv_err(LV_ERR_INTERNAL, "segment %" PRIu64 " is on no timeline of the history", seg);
            break;
        }
        lv_wal_segment_name(tli, seg, seg_size, name);
        uint64_t seg_end = (seg + 1) * seg_size;
        if (seg == last && pgdata) {
            if (to == seg * seg_size)
                break; /* to is this segment's first byte: nothing of it is before to */
            rc = local_map(pgdata, name, to, &cur);
        } else {
            rc = lv_walmap_load(r, cat, name, &cur);
            int yes = 1;
            if (rc == LV_ERR_NOT_FOUND && pgdata) { /* not archived yet (the archiver is behind): the local copy */
                lv_err_clear();
                rc = archived(r, name, &yes);
                if (rc == LV_OK && yes) /* archived since, its map stored just after it: once more */
                    rc = lv_walmap_load(r, cat, name, &cur);
                if ((rc == LV_OK && !yes) || rc == LV_ERR_NOT_FOUND) {
                    /* or its push is between the segment and the map: the local copy while pg_wal has it */
                    char path[4096];
                    struct stat st;
                    snprintf(path, sizeof path, "%s/pg_wal/%s", pgdata, name);
                    if (!yes || stat(path, &st) == 0) {
                        lv_err_clear();
                        rc = local_map(pgdata, name, seg_end, &cur);
                    }
                }
            }
            if (rc == LV_ERR_NOT_FOUND)
                rc = lv_err(LV_ERR_NOT_FOUND, "block map for segment %s missing", name);
        }
        if (rc == LV_OK && (rc = usable(&cur, name, first_tli, seg == last && pgdata ? to : seg_end)) != LV_OK)
            lv_blkmap_free(&cur);
        if (rc != LV_OK)
            break;
        if (have_prev) { /* the record split between the two */
            lv_blkmap j;
            if ((rc = lv_blkmap_join(&prev, &cur, &j)) == LV_OK) {
                lv_blkset_add(s, &j);
                lv_blkmap_free(&j);
            }
            lv_blkmap_free(&prev);
        }
        lv_blkset_add(s, &cur);
        prev = cur;
        have_prev = 1;
    }
    if (have_prev)
        lv_blkmap_free(&prev);
    if (rc != LV_OK) {
        snprintf(why, whylen, "%s", lv_errmsg());
        lv_err_clear();
        lv_blkset_free(s);
        return rc;
    }
    *out = s;
    return LV_OK;
}
