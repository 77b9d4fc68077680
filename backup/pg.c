/* `backup pg`: one base backup from start to commit (contract in backup/pg.h). The parts: pg_session
 * (libpq), pg_walk (which files), pg_read (reading them into blobs), pg_relmap (relation maps, row
 * counts), pg_prev (the previous backup), pg_lock (one backup pg at a time). */
#include "backup/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/pg_prev.h"
#include "backup/pg_lock.h"
#include "backup/pg_read.h"
#include "backup/pg_relmap.h"
#include "backup/pg_rowwal.h"
#include "backup/pg_session.h"
#include "backup/pg_walk.h"
#include "common/clock.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/testpause.h"
#include "common/timefmt.h"
#include "repo/manifest.h"
#include "repo/tidy.h"
#include "pg/manifest.h"
#include "pg/summary.h"
#include "repo/blobstore.h"
#include "wal/range.h"
#include "wal/segment.h"
#include "wal/stanza.h"
#include "wal/timeline.h"
#include "wal/walmap.h"

typedef struct run {
    lv_repo *r;
    const lv_pg_backup_opts *o;
    lv_pg_backup_result *res;
    char pgdata[PATH_MAX];
    lv_pg_conn_opts conn;
    PGconn *c;
    lv_pgs_info info;
    uint32_t timeline;
    char label[256];
    lv_pgman m;               /* the manifest being built (files borrowed from rd) */
    lv_pgman prev;
    char prev_id[2 * LV_HASH_LEN + 1];
    lv_wal_tl_span hist[LV_WAL_LINEAGE_MAX]; /* incremental: the history prev was looked for on */
    size_t nhist;
    lv_pg_tree tree;
    lv_pg_read rd;
    lv_blkset *map;           /* verify_map: the block maps of [prev start, start) */
    lv_packer *p;
    uint64_t bytes_stored;
    int rows_exact, rows_seed;
    char *pre_stop_snap;      /* the snapshot just before pg_backup_stop (row counts: see commit) */
    uint64_t ckpt_redo, ckpt_next_xid; /* the start checkpoint's (lv_pgs_checkpoint_xid; 0: unknown) */
    double t0, t_phase;
} run;

static void segment_name(uint32_t tli, uint64_t lsn, uint32_t seg_size, char out[25])
{
    uint64_t seg = lsn / seg_size, per = 0x100000000ull / seg_size;
    snprintf(out, 25, "%08X%08X%08X", tli, (uint32_t)(seg / per), (uint32_t)(seg % per));
}

/* Phase timings at --log-level info: where a slow backup spends its time. */
static void phase(run *u, const char *what)
{
    double now = lv_mono_s();
    lv_info("%s: %.2f s (%.2f s since the start)", what, now - u->t_phase, now - u->t0);
    u->t_phase = now;
}

/* pgdata given, a PostgreSQL data directory, and the one the server runs on. */
static int check_pgdata(run *u)
{
    const char *given = u->o->pgdata;
    if (!given || !*given)
        return lv_err(LV_ERR_CONFIG, "backup pg needs the data directory: --pg-data DIR (or [pg] data)");
    if (!realpath(given, u->pgdata))
        return lv_err(LV_ERR_CONFIG, "pg-data %s: %s", given, strerror(errno));
    char *v = lv_xasprintf("%s/PG_VERSION", u->pgdata);
    struct stat st;
    int ok = stat(v, &st) == 0 && S_ISREG(st.st_mode);
    free(v);
    if (!ok)
        return lv_err(LV_ERR_CONFIG, "pg-data %s is not a PostgreSQL data directory (no PG_VERSION)", given);
    return LV_OK;
}

static int check_cluster(run *u)
{
    lv_pgs_info *i = &u->info;
    /* A standby's own archive_mode does not matter here: its backup's WAL is the primary's, archived by the
     * primary (or by this standby with archive_mode = always); the wait for it is the proof. */
    if (i->in_recovery)
        lv_info("PostgreSQL is a standby: its WAL must reach the repository from the primary's archiving (or "
                "this standby's, with archive_mode = always)");
    else if (strcmp(i->archive_mode, "off") == 0)
        return lv_err(LV_ERR_PG, "archive_mode is off: a base backup needs its WAL archived (set archive_mode = "
                      "on and archive_command = 'labvault wal push %%p', then restart PostgreSQL)");
    char server[PATH_MAX];
    if (!realpath(i->data_directory, server))
        snprintf(server, sizeof server, "%s", i->data_directory);
    if (strcmp(server, u->pgdata) != 0)
        return lv_err(LV_ERR_CONFLICT, "pg-data %s is not the data directory of the PostgreSQL server labvault "
                      "connected to (%s)", u->pgdata, server);
    lv_wal_stanza st;
    int rc = lv_wal_stanza_get(u->r, &st);
    if (rc == LV_ERR_NOT_FOUND) { /* the first archived segment will record it */
        lv_err_clear();
        return LV_OK;
    }
    if (rc == LV_OK && st.sysid != i->sysid)
        rc = lv_err(LV_ERR_CONFLICT, "PostgreSQL cluster %" PRIu64 " is not the cluster repository %s archives (%" PRIu64
                    ")", i->sysid, lv_store_describe(u->r->store), st.sysid);
    return rc;
}

/* An incremental keeps a page of the previous backup when the page's LSN is still below that backup's start:
 * unchanged since, so what the previous backup copied (at some moment between its start and its stop) is
 * what this one would read. That holds only if the server is already past the previous backup's stop.
 * A primary always is; a standby whose last restartpoint is behind the previous backup's stop (no checkpoint
 * on the primary since; or the previous backup was of the primary and the standby lags) may not be: then
 * its pages may be older than the copies, and replay from this backup's start would stop, consistent, before
 * reaching them. Wait a while for the standby to replay past it; if it does not, store every page. */
static int prev_in_the_past(run *u)
{
    lv_pgman *m = &u->m;
    uint64_t pos = 0;
    double deadline = lv_mono_s() + (u->o->archive_timeout > 0 ? u->o->archive_timeout : 60);
    int rc;
    while ((rc = lv_pgs_position(u->c, &pos)) == LV_OK && pos < u->prev.stop_lsn && lv_mono_s() < deadline)
        usleep(100 * 1000);
    if (rc != LV_OK)
        return rc;
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX], c[LV_LSN_TEXT_MAX];
    lv_lsn_format(u->prev.stop_lsn, a);
    lv_lsn_format(m->start_lsn, b);
    lv_lsn_format(pos, c);
    if (pos >= u->prev.stop_lsn) {
        lv_info("backup %.12s ends at %s, after this backup's start %s; the server is at %s, past it: incremental",
                u->prev_id, a, b, c);
        return LV_OK;
    }
    lv_warn("backup %.12s ends at %s, and the server has only reached %s: storing every page, as a full backup does",
            u->prev_id, a, c);
    m->type = LV_PGB_FULL;
    memset(m->prev_id, 0, sizeof m->prev_id);
    m->prev_start_lsn = 0;
    u->prev_id[0] = '\0';
    return LV_OK;
}

static int tablespaces(run *u)
{
    PGresult *res;
    int rc = lv_pg_query(u->c, "SELECT oid, spcname, pg_tablespace_location(oid) FROM pg_tablespace "
                                "WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid",
                          0, NULL, &res);
    if (rc != LV_OK)
        return rc;
    int n = PQntuples(res);
    u->m.tablespaces = lv_xcalloc((size_t)n + 1, sizeof *u->m.tablespaces);
    for (int i = 0; i < n; i++) {
        lv_pgman_tablespace *t = &u->m.tablespaces[i];
        t->oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        t->name = lv_xstrdup(PQgetvalue(res, i, 1));
        t->location = lv_xstrdup(PQgetvalue(res, i, 2));
    }
    u->m.ntablespaces = (uint32_t)n;
    PQclear(res);
    return LV_OK;
}

/* global/pg_control is read after every other file, as pg_basebackup sends it last: on a standby, recovery
 * of the backup ends at the minimum recovery point of the pg_control it restores, which then covers every
 * page copied before it. Moves its entry out of u->tree into *last (empty when there is none). */
static void take_control_file(run *u, lv_pg_tree *last)
{
    memset(last, 0, sizeof *last);
    for (size_t i = 0; i < u->tree.n; i++) {
        if (strcmp(u->tree.e[i].path, "global/pg_control") != 0)
            continue;
        last->e = lv_xmalloc(sizeof *last->e);
        last->e[0] = u->tree.e[i];
        last->n = last->cap = 1;
        last->bytes = last->e[0].size;
        memmove(&u->tree.e[i], &u->tree.e[i + 1], (u->tree.n - i - 1) * sizeof *u->tree.e);
        u->tree.n--;
        u->tree.bytes -= last->bytes;
        return;
    }
}

/* Read the file of `last` (one, not a page file) with the settings of u->rd and insert its entry into u->rd
 * in path order (bad pages' file indexes follow). */
static int read_last(run *u, const lv_pg_tree *last)
{
    lv_pg_read *x = &u->rd, y = *x;
    y.tree = last;
    y.files = NULL;
    y.bad = NULL;
    y.nfiles = y.nbad = 0;
    y.keep = NULL;
    y.bytes = y.bytes_read = y.bytes_new = y.delta_pages = y.delta_bytes = y.base_reads = 0;
    y.progress = 0;
    int rc = lv_pg_read_all(&y);
    if (rc == LV_OK && y.nfiles == 1) { /* a whole file: no bad pages */
        uint32_t at = 0;
        while (at < x->nfiles && strcmp(x->files[at].path, y.files[0].path) < 0)
            at++;
        x->files = lv_xrealloc(x->files, (x->nfiles + 1) * sizeof *x->files);
        memmove(&x->files[at + 1], &x->files[at], (x->nfiles - at) * sizeof *x->files);
        x->files[at] = y.files[0];
        x->nfiles++;
        y.nfiles = 0; /* moved */
        for (uint32_t k = 0; k < x->nbad; k++)
            x->bad[k].file_index += x->bad[k].file_index >= at;
        x->bytes += y.bytes;
        x->bytes_read += y.bytes_read;
        x->bytes_new += y.bytes_new;
        x->delta_pages += y.delta_pages;
        x->delta_bytes += y.delta_bytes;
        x->base_reads += y.base_reads;
    }
    lv_pg_read_free(&y);
    return rc;
}

/* The first and last segments of the maps' range, as the files recovery reads along the history. */
static void range_names(const run *u, char a[25], char b[25])
{
    uint32_t ss = u->m.wal_segment_size;
    lv_wal_segment_name(lv_wal_history_segment_tli(u->hist, u->nhist, u->prev.start_lsn / ss, ss),
                        u->prev.start_lsn / ss, ss, a);
    lv_wal_segment_name(lv_wal_history_segment_tli(u->hist, u->nhist, u->m.start_lsn / ss, ss), u->m.start_lsn / ss,
                        ss, b);
}

/* An incremental: the block maps from the previous backup's start to this one's (wal/walmap.h). When they
 * cannot be used, the report says why: the incremental then compares every page's LSN (with --verify-map:
 * an incremental by them would). */
static void map_load(run *u)
{
    char why[512], a[25], b[25];
    const lv_pgman *m = &u->m;
    range_names(u, a, b);
    if (lv_walmap_range(u->r, u->r->cat, u->pgdata, u->hist, u->nhist, m->wal_segment_size, u->prev.start_lsn,
                        m->start_lsn, &u->map, why, sizeof why) == LV_OK)
        return;
    if (u->o->verify_map)
        snprintf(u->res->map_report, sizeof u->res->map_report, "verify-map: the block maps of %s..%s cannot be "
                 "used (%s): an incremental by them would compare every page's LSN, as this one does", a, b, why);
    else
        snprintf(u->res->map_report, sizeof u->res->map_report, "incremental by LSN scan: the block maps of %s..%s "
                 "cannot be used (%s)", a, b, why);
}

static void map_report(run *u)
{
    const lv_pg_read *x = &u->rd;
    char a[25], b[25];
    range_names(u, a, b);
    lv_blkset_stats st;
    lv_blkset_get_stats(u->map, &st);
    if (!u->o->verify_map) {
        snprintf(u->res->map_report, sizeof u->res->map_report, "incremental by the block maps of %s..%s (%" PRIu64
                 " blocks of %" PRIu64 " relation forks, %" PRIu64 " database directories named): %" PRIu64 " of %"
                 PRIu64 " relation pages read", a, b, st.blocks, st.forks, st.dbs, x->map_pages_read, x->map_pages);
        return;
    }
    uint64_t skipped = (x->map_pages - x->map_pages_read) * x->block_size;
    uint64_t would = x->bytes_read > skipped ? x->bytes_read - skipped : 0;
    const double mib = 1024.0 * 1024.0;
    snprintf(u->res->map_report, sizeof u->res->map_report, "verify-map: the block maps of %s..%s name %" PRIu64
             " blocks of %" PRIu64 " relation forks and %" PRIu64 " database directories; an incremental by them "
             "would read %.1f MiB of the %.1f MiB read (%" PRIu64 " of %" PRIu64 " relation pages); pages missed: %"
             PRIu64, a, b, st.blocks, st.forks, st.dbs, (double)would / mib, (double)x->bytes_read / mib,
             x->map_pages_read, x->map_pages, x->map_missed);
    u->res->map_missed = x->map_missed;
}

/* From the start to the flushed blobs. */
static int copy_files(run *u)
{
    int rc = lv_pg_walk(u->pgdata, &u->tree);
    if (rc != LV_OK)
        return rc;
    lv_pg_tree last;
    take_control_file(u, &last);
    lv_pg_read *x = &u->rd;
    x->r = u->r;
    x->pgdata = u->pgdata;
    x->tree = &u->tree;
    x->block_size = u->info.block_size;
    x->segment_blocks = u->info.segment_blocks;
    x->checksums = u->info.data_checksums;
    x->start_lsn = u->m.start_lsn;
    x->prev = u->o->incremental && u->prev_id[0] ? &u->prev : NULL;
    x->deltas = u->o->page_deltas;
    x->workers = u->o->workers;
    x->progress = u->o->progress;
    if ((rc = lv_packer_new(u->r, &u->p)) != LV_OK)
        return rc;
    x->p = u->p;
    if (x->prev && (u->o->verify_map || !u->o->lsn_scan))
        map_load(u);
    x->verify_map = u->o->verify_map ? u->map : NULL;
    x->map = u->o->verify_map ? NULL : u->map;
    /* A full backup's rows from its pages (backup/pg_read.h): for --recount every table is counted. */
    x->page_rows = !x->prev && u->o->count_rows && !u->o->recount && !u->info.in_recovery;
    rc = lv_pg_read_all(x);
    if (rc == LV_OK && u->map)
        map_report(u);
    if (rc == LV_OK && last.n)
        rc = read_last(u, &last);
    lv_pg_tree_free(&last);
    if (rc != LV_OK)
        return rc;
    if ((rc = lv_packer_flush(u->p)) != LV_OK)
        return rc;
    lv_packer_stats ps;
    lv_packer_get_stats(u->p, &ps);
    u->bytes_stored = ps.stored;
    /* Everything is stored: the packer's threads and buffers, and the previous manifest's files, go now,
     * and the allocator hands the freed memory back, so that they do not add up in the peak with the WAL
     * the row counts read next (a 16 MiB segment at a time). */
    lv_packer_free(u->p);
    u->p = x->p = NULL;
    if (x->prev) /* (its databases and counts are still needed: commit) */
        lv_pgman_free_files(&u->prev);
    x->prev = NULL;
    malloc_trim(0);
    return LV_OK;
}

static void summary(run *u, lv_pg_summary *s)
{
    const lv_pgman *m = &u->m;
    memset(s, 0, sizeof *s);
    s->incr = m->type == LV_PGB_INCR;
    snprintf(s->label, sizeof s->label, "%s", m->label);
    s->sysid = m->sysid;
    s->pg_version = m->pg_version;
    s->timeline = m->timeline;
    s->start_lsn = m->start_lsn;
    s->stop_lsn = m->stop_lsn;
    s->start_time = m->start_time;
    s->stop_time = m->stop_time;
    segment_name(m->timeline, m->start_lsn, m->wal_segment_size, s->wal_start);
    segment_name(m->timeline, m->stop_lsn ? m->stop_lsn - 1 : 0, m->wal_segment_size, s->wal_stop);
    s->files = m->nfiles;
    s->bytes = u->rd.bytes;
    s->bytes_read = u->rd.bytes_read;
    s->bytes_new = u->rd.bytes_new;
    s->bytes_stored = u->bytes_stored;
    s->bad_pages = m->nbad_pages;
    if (s->incr) {
        snprintf(s->prev, sizeof s->prev, "%s", u->prev_id);
        s->delta_pages = u->rd.delta_pages;
        s->delta_bytes = u->rd.delta_bytes;
        s->base_blobs_read = u->rd.base_reads;
        snprintf(s->incr_method, sizeof s->incr_method, "%s", u->rd.map ? "maps" : "lsn");
    }
    s->rows_exact = u->rows_exact;
    snprintf(s->pgdata, sizeof s->pgdata, "%s", u->pgdata);
}

/* After the stop: relation maps, the WAL, the manifest. */
/* The WAL wait runs on its own thread while the relation maps and row counts are read: the archiver's
 * latency and count(*) overlap. It touches only the store (thread-safe), not the catalog. */
typedef struct wal_wait {
    run *u;
    int rc;
    char msg[1024];
} wal_wait;

static void *wal_wait_thread(void *arg)
{
    wal_wait *w = arg;
    const lv_pgman *m = &w->u->m;
    w->rc = lv_wal_wait_range(w->u->r, m->timeline, m->start_lsn, m->stop_lsn - 1, m->wal_segment_size,
                              w->u->o->archive_timeout);
    if (w->rc != LV_OK)
        snprintf(w->msg, sizeof w->msg, "%s", lv_errmsg());
    return NULL;
}

/* Row counts carried or derived from the previous backup's (backup/pg_relmap.h): the first table whose count
 * may come from the WAL waits for the WAL thread (the range must be archived) and reads the WAL since the
 * previous counts. A scan that fails only costs counting everything, with a warning. */
typedef struct carry_ctx {
    run *u;
    wal_wait *w;
    pthread_t th;
    int threaded, scanned, rc;
    lv_rowwal rw;
} carry_ctx;

static void join_wal(carry_ctx *x)
{
    if (x->threaded)
        pthread_join(x->th, NULL);
    x->threaded = 0;
}

static int carry_rows(void *arg, uint32_t spc, uint32_t db, uint32_t rel, int64_t prev, int64_t *rows, int *derived)
{
    carry_ctx *x = arg;
    if (!x->scanned) {
        x->scanned = 1;
        join_wal(x);
        const lv_pgman *p = &x->u->prev;
        for (uint32_t i = 0; i < p->ndatabases; i++)
            for (uint32_t j = 0; j < p->databases[i].nrelations; j++) {
                const lv_pgman_relation *pr = &p->databases[i].relations[j];
                if (pr->rows >= 0)
                    lv_rowwal_track(&x->rw, pr->tablespace, p->databases[i].oid, pr->relfilenode);
            }
        lv_rowwal_pending(&x->rw, p->pending, p->npending);
        if (p->seed_lsn) /* counts seeded from their snapshots: the WAL from before what they do not see */
            lv_rowwal_snapshots(&x->rw, p->databases, p->ndatabases);
        x->rc = x->w->rc != LV_OK ? x->w->rc
                                  : lv_rowwal_scan(x->u->r, p->timeline, p->seed_lsn ? p->seed_lsn : p->rows_lsn,
                                                  x->u->m.timeline, x->u->m.stop_lsn, &x->rw);
        if (x->w->rc == LV_OK && x->rc != LV_OK) {
            lv_warn("row counts: every table counted, the WAL since backup %.12s could not be read: %s",
                    x->u->prev_id, lv_errmsg());
            lv_err_clear();
        }
    }
    *derived = 0;
    return x->rc == LV_OK && lv_rowwal_rows(&x->rw, spc, db, rel, prev, rows, derived);
}

/* Row counts from the pages a full backup read (backup/pg_relmap.h, lv_pg_rowpages): the first table asked
 * waits for the WAL thread and loads the block maps of the backup's own range, from the start to the stop
 * (wal/walmap.h). A table's rows come from its pages only when those maps name nothing of its main fork
 * (no change, truncation or new file from the start to the stop) and its database directory was not
 * created in the range (FILE_COPY copies files without block references). Without the maps (a segment
 * pushed by a labvault before maps, one that cannot be read), every table is counted, as before. */
typedef struct pages_ctx {
    carry_ctx *x;
    int loaded;
    lv_blkset *map;
} pages_ctx;

static int64_t page_rows(void *arg, uint32_t spc, uint32_t db, uint32_t rel)
{
    pages_ctx *p = arg;
    run *u = p->x->u;
    int64_t rows = lv_pg_read_rows(&u->rd, spc, db, rel);
    if (rows < 0)
        return -1;
    if (!p->loaded) {
        p->loaded = 1;
        join_wal(p->x);
        char why[512];
        const lv_wal_tl_span own = {u->m.timeline, 0, UINT64_MAX};
        if (p->x->w->rc != LV_OK)
            lv_debug("row counts: not from the pages read: the WAL of the backup is not archived");
        else if (lv_walmap_range(u->r, u->r->cat, NULL, &own, 1, u->m.wal_segment_size, u->m.start_lsn,
                                 u->m.stop_lsn - 1, &p->map, why, sizeof why) != LV_OK)
            lv_info("row counts: every table counted: the block maps of the backup's WAL cannot be used (%s)", why);
    }
    if (!p->map || lv_blkset_db_new(p->map, spc, db) || lv_blkset_fork_get(p->map, spc, db, rel, LV_PG_FORK_MAIN))
        return -1;
    return rows;
}

/* The low 32 bits of a pg_snapshot's xmin (text "xmin:xmax:xip,..."; 64-bit ids), as WAL records carry
 * transaction ids; 0 without a snapshot. */
static uint32_t snapshot_xmin(const char *snap)
{
    return snap ? (uint32_t)strtoull(snap, NULL, 10) : 0;
}

static int commit(run *u)
{
    lv_pgman *m = &u->m;
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    lv_lsn_format(m->start_lsn, a);
    lv_lsn_format(m->stop_lsn, b);
    if (u->o->progress) /* on a terminal: say why nothing moves */
        fprintf(stderr, "waiting up to %d s for the WAL %s..%s to reach the repository\n", u->o->archive_timeout, a,
                b);
    else
        lv_info("waiting up to %d s for the WAL %s..%s to reach the repository", u->o->archive_timeout, a, b);
    wal_wait w = {u, LV_OK, ""};
    carry_ctx x = {.u = u, .w = &w};
    x.threaded = pthread_create(&x.th, NULL, wal_wait_thread, &w) == 0;
    if (!x.threaded)
        wal_wait_thread(&w);
    /* Counts carried or derived from a previous backup whose counts are exact at its stop (rows_seed): on
     * this timeline, or on an ancestor with its stop on this timeline's history (lv_pg_prev_find). */
    lv_pg_rowcarry carry = {&u->prev, carry_rows, &x, 0, 0, 0};
    pages_ctx pc = {&x, 0, NULL};
    lv_pg_rowpages pages = {page_rows, &pc, 0};
    uint64_t prev_from = u->prev.seed_lsn ? u->prev.seed_lsn : u->prev.rows_lsn;
    int can_carry = u->prev_id[0] && !u->o->recount && u->prev.rows_seed && prev_from && prev_from <= m->stop_lsn &&
                    !u->info.in_recovery;
    /* Reading the WAL since the previous counts costs about its length, counting about the database's size:
     * past that (a previous backup weeks old), count. Up to 1 GiB the reading is cheap whatever the size
     * (and a small cluster's WAL is mostly the empty tails of switched segments). */
    if (can_carry && m->stop_lsn - prev_from > u->rd.bytes && m->stop_lsn - prev_from > ((uint64_t)1 << 30)) {
        lv_info("row counts: the WAL since backup %.12s's counts (%" PRIu64 " MiB) is longer than the data "
                "directory (%" PRIu64 " MiB): every table counted instead", u->prev_id,
                (m->stop_lsn - prev_from) >> 20, u->rd.bytes >> 20);
        can_carry = 0;
    }
    /* On a standby the stop LSN (its minimum recovery point) may lie before what the session's snapshot
     * sees: the row counts are then informational (no snapshot: not exact). */
    char *snap = NULL;
    int quiet = 0, pending_known = 0, snap_seed = 0;
    int rc = lv_test_pause("LABVAULT_TEST_PAUSE_AFTER_STOP", 1);
    if (rc == LV_OK && !u->info.in_recovery)
        rc = lv_pgs_stop_snapshot(u->c, m->stop_lsn, m->wal_segment_size, &snap, &quiet);
    if (rc == LV_OK && snap && !quiet && u->o->count_rows) {
        lv_info("row counts: WAL was written between the stop and its snapshot: a table counted now is "
                "informational, not exact at the stop");
        free(snap);
        snap = NULL;
    }
    /* A commit between the backup-end record and the segment switch, both written by pg_backup_stop, is in
     * the snapshot but not in a recovery to the stop, and the rule above cannot see it: the snapshot before
     * the stop does (any transaction that ended changes it). It cannot tell a commit just before the
     * backup-end record from one just after, so both end the exactness. */
    if (rc == LV_OK && snap && (!u->pre_stop_snap || strcmp(snap, u->pre_stop_snap) != 0) && u->o->count_rows) {
        lv_info("row counts: a transaction ended while the backup stopped: a table counted now is informational, "
                "not exact at the stop");
        free(snap);
        snap = NULL;
    }
    if (rc == LV_OK)
        rc = lv_pg_relmap_collect(u->c, &u->conn, u->o->count_rows, snap, u->ckpt_next_xid,
                                  u->rd.relrows ? &pages : NULL, can_carry ? &carry : NULL, &m->databases,
                                  &m->ndatabases, &u->rows_exact, &u->rows_seed, &pending_known, &snap_seed);
    free(snap);
    if (rc == LV_OK && u->rows_exact && u->rows_seed && pending_known)
        lv_rowwal_open_rows(&x.rw, snapshot_xmin(u->pre_stop_snap), &m->pending, &m->npending);
    if (can_carry && rc == LV_OK)
        lv_info("row counts: %" PRIu64 " tables counted, %" PRIu64 " carried from backup %.12s, %" PRIu64
                " derived from its counts and the WAL since (%" PRIu64 " WAL records, %" PRIu64 " segments)",
                carry.counted, carry.carried, u->prev_id, carry.derived, x.rw.records, x.rw.segments);
    if (u->rd.relrows && rc == LV_OK)
        lv_info("row counts: %" PRIu64 " tables from the pages read (all-visible, and no WAL record of them from the "
                "start to the stop)", pages.used);
    lv_blkset_free(pc.map);
    lv_rowwal_free(&x.rw);
    phase(u, "relation maps and row counts");
    join_wal(&x);
    phase(u, "then the WAL archived");
    if (rc != LV_OK)
        return rc;
    m->rows_lsn = u->rows_exact ? m->stop_lsn : 0;
    m->seed_lsn = snap_seed ? u->ckpt_redo : 0;
    m->rows_seed = (uint8_t)(u->rows_seed && (u->rows_exact || snap_seed));
    if (u->o->count_rows)
        lv_info("row counts: %s%s%s", u->rows_exact ? "exact at the stop" : "informational (not exact at the stop)",
                m->rows_seed ? "; the next incremental may carry them"
                : u->rows_exact ? "; not carried (a transaction was in progress)" : "",
                m->npending ? ", with the rows of the transactions open at the stop, from the WAL"
                : m->seed_lsn ? ", from the snapshots they were counted in and the WAL since the start checkpoint" : "");
    if (w.rc != LV_OK && u->info.in_recovery)
        return lv_err(w.rc, "backup not committed: %s (a standby cannot switch WAL segments: the primary archives "
                      "the segment once it is full, or after its archive_timeout; run SELECT pg_switch_wal() on the "
                      "primary, or set archive_timeout there)", w.msg);
    if (w.rc != LV_OK)
        return lv_err(w.rc, "backup not committed: %s (is archive_command = 'labvault wal push %%p' working? see "
                      "`labvault check`)", w.msg);
    if (lv_interrupted()) /* a signal during the wait: still nothing committed */
        return lv_err(LV_ERR_INTERRUPTED, "interrupted");
    m->files = u->rd.files;
    m->nfiles = u->rd.nfiles;
    m->bad_pages = u->rd.bad;
    m->nbad_pages = u->rd.nbad;
    lv_buf body = LV_BUF_INIT, sum = LV_BUF_INIT;
    rc = lv_pgman_encode(m, &body);
    if (rc == LV_OK) {
        summary(u, &u->res->summary);
        lv_pg_summary_encode(&u->res->summary, &sum);
        rc = lv_manifest_write(u->r, LV_PGMAN_KIND, 0, lv_buf_cstr(&sum), body.data, body.len, u->res->id);
    }
    if (rc == LV_OK) {
        u->res->summary_json = lv_xstrdup(lv_buf_cstr(&sum));
        lv_repo_tidy_backup(u->r); /* what killed backups left (repo/tidy.h); never fails the backup */
    }
    lv_buf_free(&body);
    lv_buf_free(&sum);
    return rc;
}

static int backup_stop(run *u)
{
    /* The row counts are exact only if no transaction ended between the backup-end record and their
     * snapshot (commit): taken here and again after the stop, the snapshot must not change. */
    if (u->o->count_rows && !u->info.in_recovery && lv_pgs_snapshot(u->c, &u->pre_stop_snap) != LV_OK) {
        lv_err_clear();
        u->pre_stop_snap = NULL;
    }
    int rc = lv_test_pause("LABVAULT_TEST_PAUSE_BEFORE_STOP", 1);
    if (rc != LV_OK)
        return rc;
    rc = lv_pgs_stop(u->c, u->info.version, &u->m.stop_lsn, &u->m.backup_label, &u->m.tablespace_map);
    u->m.stop_time = (int64_t)time(NULL);
    /* A standby's backup ends at its minimum recovery point, which only moves when it writes pages: pages
     * kept from a previous backup of the primary may be newer than that (prev_in_the_past says why). */
    if (rc == LV_OK && u->m.type == LV_PGB_INCR && u->m.stop_lsn < u->prev.stop_lsn) {
        char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
        lv_lsn_format(u->m.stop_lsn, a);
        lv_lsn_format(u->prev.stop_lsn, b);
        rc = lv_err(LV_ERR_CONFLICT, "this incremental would end at %s, before backup %.12s's end %s, whose pages it "
                    "keeps: no backup recorded; run CHECKPOINT on the primary and retry, or take --type full",
                    a, u->prev_id, b);
    }
    return rc;
}

/* The previous backup of an incremental, on the history of timeline tli (backup/pg_prev.h). A timeline
 * whose history file is not archived (yet) has only itself: backups of its ancestors are not considered. */
/* u->hist: timeline tli's history; without its history file (an anomaly: PostgreSQL archives it at the
 * promotion, so not fatal, warned when warn) only tli itself. */
static int history(run *u, uint32_t tli, int warn)
{
    int rc = lv_wal_history_get(u->r, tli, u->hist, &u->nhist);
    if (rc == LV_ERR_NOT_FOUND) {
        if (warn)
            lv_warn("%s: only backups of timeline %u can be the previous backup", lv_errmsg(), tli);
        lv_err_clear();
        u->hist[0] = (lv_wal_tl_span){tli, 0, UINT64_MAX};
        u->nhist = 1;
        rc = LV_OK;
    }
    return rc;
}

static int find_prev(run *u, uint32_t tli)
{
    int rc = history(u, tli, 1);
    if (rc != LV_OK)
        return lv_err_ctx("the previous backup");
    if ((rc = lv_pg_prev_find(u->r, u->info.sysid, u->hist, u->nhist, u->prev_id, &u->prev)) != LV_OK)
        return rc;
    if (u->prev.timeline != tli)
        lv_info("the previous backup %.12s is of timeline %u, on the history of timeline %u", u->prev_id,
                u->prev.timeline, tli);
    u->m.type = LV_PGB_INCR;
    lv_hex_decode(u->prev_id, u->m.prev_id, LV_HASH_LEN);
    u->m.prev_start_lsn = u->prev.start_lsn;
    return LV_OK;
}

/* A full backup's counts come from the previous backup's and the WAL since, as an incremental's (commit):
 * the newest backup on this timeline's history (lv_pg_prev_find), loaded for its counts only (its file
 * list is dropped at once; m->prev_id stays zero: the full backup does not depend on it). Without one, or
 * when it cannot be read, every table is counted, as the first backup of a repository does. */
static void counts_prev(run *u)
{
    int rc = history(u, u->info.timeline, 0);
    if (rc == LV_OK)
        rc = lv_pg_prev_find(u->r, u->info.sysid, u->hist, u->nhist, u->prev_id, &u->prev);
    if (rc != LV_OK) {
        lv_debug("row counts: no previous backup to derive them from (%s): every table counted", lv_errmsg());
        lv_err_clear();
        u->prev_id[0] = '\0';
        return;
    }
    lv_pgman_free_files(&u->prev);
}

/* No previous backup: a full backup with --fallback-full (the reason as a warning), else the error. */
static int no_prev(run *u, int rc)
{
    if (rc != LV_ERR_NOT_FOUND || !u->o->fallback_full)
        return rc;
    lv_warn("%s: taking a full backup", lv_errmsg());
    lv_err_clear();
    u->prev_id[0] = '\0';
    u->m.type = LV_PGB_FULL;
    memset(u->m.prev_id, 0, sizeof u->m.prev_id);
    u->m.prev_start_lsn = 0;
    return LV_OK;
}

/* The timeline of the start checkpoint is the backup's; the one pg_control named before (what the previous
 * backup was looked for on) lags it on a standby promoted since its last checkpoint: look again. */
static int prev_again(run *u)
{
    if (u->m.type != LV_PGB_INCR || u->m.timeline == u->hist[u->nhist - 1].tli)
        return LV_OK;
    lv_info("the start checkpoint is on timeline %u, pg_control named %u before it: the previous backup again",
            u->m.timeline, u->hist[u->nhist - 1].tli);
    lv_pgman_free(&u->prev);
    memset(&u->prev, 0, sizeof u->prev);
    u->prev_id[0] = '\0';
    int rc = find_prev(u, u->m.timeline);
    return rc == LV_OK ? LV_OK : no_prev(u, rc);
}

static int backup(run *u)
{
    const lv_pg_backup_opts *o = u->o;
    int rc = check_pgdata(u);
    if (rc != LV_OK)
        return rc;
    u->conn = (lv_pg_conn_opts){o->conninfo, o->host, o->port, o->user, o->database, NULL};
    if ((rc = lv_pg_connect(&u->conn, NULL, LV_PG_APP_BACKUP, &u->c)) != LV_OK || (rc = lv_pgs_info_get(u->c, &u->info)) != LV_OK ||
        (rc = check_cluster(u)) != LV_OK)
        return rc;
    lv_pgman *m = &u->m;
    m->type = LV_PGB_FULL;
    if (o->incremental && (rc = find_prev(u, u->info.timeline)) != LV_OK && (rc = no_prev(u, rc)) != LV_OK)
        return rc;
    if (!o->incremental && o->count_rows && !o->recount && !u->info.in_recovery)
        counts_prev(u);
    time_t now = time(NULL);
    char stamp[LV_TIME_TEXT_MAX];
    lv_time_format((int64_t)now, LV_TIME_UTC, stamp);
    snprintf(u->label, sizeof u->label, "%s", o->label ? o->label : "");
    if (!o->label)
        snprintf(u->label, sizeof u->label, "labvault %s", stamp);
    m->label = u->label;
    m->sysid = u->info.sysid;
    m->pg_version = (uint32_t)u->info.version;
    m->block_size = u->info.block_size;
    m->segment_blocks = u->info.segment_blocks;
    m->wal_segment_size = u->info.wal_segment_size;
    m->data_checksums = (uint8_t)u->info.data_checksums;
    m->start_time = (int64_t)now;
    if ((rc = lv_pgs_start(u->c, u->info.version, u->label, o->fast_checkpoint, &m->start_lsn, &m->timeline)) != LV_OK)
        return rc;
    phase(u, "backup started (checkpoint done)");
    /* For row counts that seed from their snapshots (commit). Not fatal: without it they seed only at a
     * quiet stop. */
    if (o->count_rows && !u->info.in_recovery && lv_pgs_checkpoint_xid(u->c, &u->ckpt_redo, &u->ckpt_next_xid) != LV_OK) {
        lv_info("row counts: %s; they can seed the next backup only from a quiet stop", lv_errmsg());
        lv_err_clear();
        u->ckpt_redo = u->ckpt_next_xid = 0;
    }
    rc = prev_again(u);
    if (rc == LV_OK && m->type == LV_PGB_INCR && u->prev.stop_lsn > m->start_lsn)
        rc = prev_in_the_past(u);
    if (rc == LV_OK)
        rc = lv_test_pause("LABVAULT_TEST_PAUSE_AFTER_START", 1);
    if (rc == LV_OK)
        rc = tablespaces(u);
    if (rc == LV_OK)
        rc = copy_files(u);
    if (rc == LV_OK) {
        phase(u, "files read and stored");
        rc = lv_test_pause("LABVAULT_TEST_PAUSE_AFTER_FILES", 1);
    }
    if (rc != LV_OK) { /* leave the server out of backup mode; the first failure is the one to report */
        char *msg = lv_xstrdup(lv_errmsg());
        if (backup_stop(u) != LV_OK)
            lv_warn("after the failure below: %s", lv_errmsg());
        lv_err(rc, "%s", msg);
        free(msg);
        return rc;
    }
    if ((rc = backup_stop(u)) != LV_OK)
        return rc;
    phase(u, "backup stopped");
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "interrupted");
    return commit(u);
}

int lv_pg_backup(lv_repo *r, const lv_pg_backup_opts *o, lv_pg_backup_result *res)
{
    memset(res, 0, sizeof *res);
    run *u = lv_xcalloc(1, sizeof *u);
    u->r = r;
    u->o = o;
    u->res = res;
    u->t0 = u->t_phase = lv_mono_s();
    int lock = -1, rc = LV_OK;
    if (o->lock_path)
        rc = lv_pg_lock(o->lock_path, &lock);
    if (rc == LV_OK)
        rc = backup(u);
    res->incremental = u->m.type == LV_PGB_INCR;
    res->files = u->rd.nfiles;
    res->bytes = u->rd.bytes;
    res->bytes_read = u->rd.bytes_read;
    res->bytes_new = u->rd.bytes_new;
    res->bytes_stored = u->bytes_stored;
    res->bad_pages = u->rd.nbad;
    res->start_lsn = u->m.start_lsn;
    res->stop_lsn = u->m.stop_lsn;
    res->seconds = lv_mono_s() - u->t0;
    if (rc == LV_OK && res->map_missed > 0)
        rc = lv_err(LV_ERR_CHECK, "backup %.12s committed (made by comparing page LSNs), but the WAL block maps missed "
                    "%" PRIu64 " changed pages (the first listed above): an incremental by them would have kept old "
                    "pages; please report it", res->id, res->map_missed);
    if (rc == LV_OK && res->bad_pages > 0)
        rc = lv_err(LV_ERR_INCOMPLETE, "backup %.12s committed, but %" PRIu64 " pages failed their checksum (listed "
                    "above and in the manifest)", res->id, res->bad_pages);
    /* Cleanup keeps the error message: nothing below records one. */
    if (u->c)
        PQfinish(u->c);
    lv_packer_free(u->p);
    lv_pg_read_free(&u->rd);
    lv_blkset_free(u->map);
    lv_pg_tree_free(&u->tree);
    lv_pg_relmap_free(u->m.databases, u->m.ndatabases);
    for (uint32_t i = 0; i < u->m.ntablespaces; i++) {
        free(u->m.tablespaces[i].name);
        free(u->m.tablespaces[i].location);
    }
    free(u->m.tablespaces);
    free(u->m.backup_label);
    free(u->m.tablespace_map);
    free(u->pre_stop_snap);
    free(u->m.pending);
    if (u->prev_id[0] || u->prev.files)
        lv_pgman_free(&u->prev);
    free(u);
    if (lock >= 0)
        close(lock);
    return rc;
}

void lv_pg_backup_result_free(lv_pg_backup_result *res)
{
    free(res->summary_json);
    res->summary_json = NULL;
}
