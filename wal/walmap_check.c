/* repo check of the WAL block maps (contract in wal/walmap.h, "repo check"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/sort.h"
#include "maint/check.h"
#include "wal/archive.h"
#include "wal/walmap.h"

typedef struct seg {
    char name[sizeof ((lv_wal_name *)0)->name];
    char checksum[LV_WAL_SUM_HEX + 1];
    int mapped;
} seg;

typedef struct mc {
    lv_check *ck;
    lv_repo *r;
    lv_check_kind *k;
    seg *segs;                  /* the archive's segments, sorted by name */
    size_t nsegs, csegs;
    char (*maps)[sizeof ((lv_wal_name *)0)->name];           /* the maps listed, in key order */
    size_t nmaps, cmaps;
} mc;

static int seg_cb(void *arg, const lv_wal_object *o)
{
    mc *m = arg;
    if (o->name.kind != LV_WAL_SEGMENT)
        return LV_OK;
    LV_GROW(m->segs, m->nsegs, m->csegs);
    seg *s = &m->segs[m->nsegs++];
    snprintf(s->name, sizeof s->name, "%s", o->name.name);
    snprintf(s->checksum, sizeof s->checksum, "%s", o->checksum);
    s->mapped = 0;
    return LV_OK;
}

static int map_cb(void *arg, const char *segment, const char *key, uint64_t size)
{
    (void)size;
    mc *m = arg;
    if (!segment) {
        lv_check_problem(m->ck, m->k, LV_CHECK_WARNING, "%s: unexpected object under %s (not a block map's name)", key,
                         LV_WALMAP_PREFIX);
        return LV_OK;
    }
    LV_GROW(m->maps, m->nmaps, m->cmaps);
    snprintf(m->maps[m->nmaps++], sizeof m->maps[0], "%s", segment);
    return LV_OK;
}

static int cmp_seg(const void *a, const void *b) { return strcmp(((const seg *)a)->name, ((const seg *)b)->name); }

static seg *find_seg(mc *m, const char *name)
{
    seg key;
    snprintf(key.name, sizeof key.name, "%s", name);
    return m->nsegs ? bsearch(&key, m->segs, m->nsegs, sizeof *m->segs, cmp_seg) : NULL;
}

/* Read a share of the maps: each must authenticate, parse, be of its segment and of a known format. */
static int read_maps(mc *m)
{
    size_t n;
    size_t *order = lv_check_sample(m->ck, m->nmaps, &n);
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n; i++) {
        const char *name = m->maps[order[i]];
        lv_blkmap bm;
        int g = lv_walmap_load(m->r, NULL, name, &bm);
        if (g == LV_OK) {
            m->k->read++;
            const seg *s = find_seg(m, name);
            if (bm.format != LV_BLKMAP_FORMAT)
                lv_check_problem(m->ck, m->k, LV_CHECK_WARNING, "%s%s: block map format %u, this version reads %d: "
                                 "an incremental over it reads every page", LV_WALMAP_PREFIX, name, bm.format,
                                 LV_BLKMAP_FORMAT);
            else if (s && bm.checksum[0] && strcmp(bm.checksum, s->checksum) != 0)
                lv_check_problem(m->ck, m->k, LV_CHECK_ERROR, "%s%s: the block map of another segment of that name "
                                 "(checksum %.16s, the archive's is %.16s)", LV_WALMAP_PREFIX, name, bm.checksum,
                                 s->checksum);
            lv_blkmap_free(&bm);
        } else if (g == LV_ERR_NOT_FOUND) {
            lv_err_clear();
            lv_check_problem(m->ck, m->k, LV_CHECK_WARNING, "%s%s: vanished while checking", LV_WALMAP_PREFIX, name);
        } else if (g == LV_ERR_CORRUPT) {
            lv_check_problem(m->ck, m->k, LV_CHECK_ERROR, "%s", lv_errmsg());
            lv_err_clear();
        } else {
            rc = lv_check_fatal(g) ? g : LV_OK;
            if (rc == LV_OK) {
                lv_check_problem(m->ck, m->k, LV_CHECK_ERROR, "%s%s: %s", LV_WALMAP_PREFIX, name, lv_errmsg());
                lv_err_clear();
            }
        }
    }
    free(order);
    return rc;
}

static int step(lv_check *ck)
{
    mc m = {.ck = ck, .r = lv_check_repo(ck)};
    m.k = lv_check_kind_of(ck, "walmap");
    int rc = lv_walmap_list(m.r, map_cb, &m);
    if (rc != LV_OK)
        lv_err_ctx("listing %s", LV_WALMAP_PREFIX);
    if (rc == LV_OK && (rc = lv_wal_list(m.r->store, 0, seg_cb, &m)) != LV_OK)
        lv_err_ctx("listing wal/");
    if (rc == LV_OK) {
        m.k->objects = m.nmaps;
        lv_sort(m.segs, m.nsegs, sizeof *m.segs, cmp_seg);
        uint64_t orphans = 0;
        for (size_t i = 0; i < m.nmaps; i++) {
            seg *s = find_seg(&m, m.maps[i]);
            if (s)
                s->mapped = 1;
            else if (orphans++ == 0) /* listed before the segments: a segment expired since is not seen */
                lv_check_problem(ck, m.k, LV_CHECK_WARNING, "%s%s: a block map whose segment is not archived (an "
                                 "expiry cut short; the next forget removes it)", LV_WALMAP_PREFIX, m.maps[i]);
        }
        uint64_t unmapped = 0;
        const char *first = NULL;
        for (size_t i = 0; i < m.nsegs; i++)
            if (!m.segs[i].mapped && unmapped++ == 0)
                first = m.segs[i].name;
        /* Not damage: pushed before block maps existed, or its map could not be stored; an incremental
         * backup over it reads every page (docs/pg-backups.md, "The block map"). */
        if (unmapped == 1)
            lv_check_problem(ck, m.k, LV_CHECK_WARNING, "WAL segment %s has no block map (%s%s): an incremental "
                             "backup over it compares every page's LSN", first, LV_WALMAP_PREFIX, first);
        else if (unmapped)
            lv_check_problem(ck, m.k, LV_CHECK_WARNING, "%" PRIu64 " WAL segments, the first %s, have no block map "
                             "(%s%s): an incremental backup over them compares every page's LSN", unmapped, first,
                             LV_WALMAP_PREFIX, first);
        rc = read_maps(&m);
    }
    free(m.segs);
    free(m.maps);
    return rc;
}

void lv_walmap_check_register(void) { lv_check_register("the WAL block maps", step); }
