/* Reader threads feeding the packer thread (contract in backup/pg_read.h). */
#include "catalog/blobs.h"
#include "backup/pg_read.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/pg.h"
#include "pg/page.h"
#include "pg/relfile.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/text.h"
#include "pg/page_delta.h"

#define REUSED UINT32_MAX /* page_ref.blob of a page kept from the previous backup */
#define WHOLE_CHUNK (1u << 20)
#define BAD_PAGES_LOGGED 50

typedef struct page_ref {
    uint32_t blob;      /* index among the file's new blobs, or REUSED */
    uint32_t blob_page; /* page inside that blob; a delta: frame inside the delta blob */
    uint32_t prev_ext;  /* REUSED or delta: extent of the previous backup's file (delta: holds the base) */
    uint32_t delta;     /* 1: blob is a delta blob (pg/page_delta.h) */
} page_ref;

enum { MSG_BLOB, MSG_DONE };

typedef struct msg {
    struct msg *next;
    int type;
    size_t file;
    uint8_t *data; /* BLOB: a pool buffer */
    size_t len;
    uint32_t slot; /* BLOB: its index among the file's new blobs */
    uint8_t id[LV_HASH_LEN]; /* BLOB: its blob id, computed by the reader (readers hash in parallel) */
    uint8_t sum[LV_PLAIN_SUM_LEN]; /* BLOB: its plaintext sum, taken with the id */
    /* DONE */
    int vanished, pages;
    long prev_file;  /* the file in prev whose pages may be kept, or -1 */
    uint64_t size;
    struct stat st;
    page_ref *refs;
    uint32_t *bad;
    uint32_t nbad;
    int64_t live;    /* page_rows, a main fork: its rows (lv_pg_read_rows), -1 unknown */
    uint64_t first;  /* DONE of a chunk (task): its first page; refs hold its pages from there */
    int short_read;  /* DONE of a chunk: the file ended before the chunk did (shrank, or its last chunk) */
} msg;

/* What a reader takes next: a file, or for a full backup a chunk of a large page file, so that both readers
 * share one large relation segment instead of one reading (and hashing) all of it while the other idles
 * (a 1 GiB segment was the whole files phase: 2.7 s, the other reader done after 2.3 s). */
typedef struct task {
    size_t file;
    uint64_t first, end; /* pages [first, end); end UINT64_MAX: to the file's end */
} task;

typedef struct shared {
    lv_pg_read *x;
    size_t buf_size;
    pthread_mutex_t mu;
    pthread_cond_t cv_items, cv_space;
    msg *head, *tail;
    size_t queued, max_queued;
    uint8_t **pool; /* free buffers */
    size_t npool, cappool;
    task *tasks;
    size_t ntasks, next_task;
    int stop;        /* set on the first error or an interrupt: readers finish at once */
    int err;         /* a reader's error */
    char errmsg[1024];
    uint64_t bytes_read;
    uint64_t delta_pages, delta_bytes, base_reads;
    uint64_t map_pages, map_pages_read, map_missed;
} shared;

/* The base blobs a reader thread keeps. Pages come in file order, and a changed page's last image is in
 * the previous full backup's blob for its range, or, if the page changed since, in an incremental's blob
 * of changed pages, which spans the whole file: the two alternate page by page. With one slot each was
 * read again at every alternation (1,363 reads of 226 blobs, 1 MiB each, in the bench's second
 * incremental); two hold both. */
#define BASE_SLOTS 2

typedef struct base_slot {
    uint8_t id[LV_HASH_LEN];
    int state; /* 0 empty, 1 base holds id, -1 id could not be read */
    uint64_t used; /* when last used: the least recent slot is replaced */
    lv_buf base;
} base_slot;

/* A reader thread's own state for page deltas: its catalog connection (catalogs are per thread), the base
 * blobs it read last, and the delta blob being filled for the current file. */
typedef struct rctx {
    lv_catalog *cat;
    base_slot slot[BASE_SLOTS];
    uint64_t clock;
    uint8_t skip_id[LV_HASH_LEN]; /* the last blob found not worth reading (it compresses well) */
    int skip_valid;
    lv_pgdelta_builder db;
} rctx;

static uint8_t *buf_get(shared *s)
{
    pthread_mutex_lock(&s->mu);
    uint8_t *b = s->npool ? s->pool[--s->npool] : NULL;
    pthread_mutex_unlock(&s->mu);
    return b ? b : lv_xmalloc(s->buf_size);
}

static void buf_put(shared *s, uint8_t *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&s->mu);
    LV_GROW(s->pool, s->npool, s->cappool);
    s->pool[s->npool++] = b;
    pthread_mutex_unlock(&s->mu);
}

static void msg_free(shared *s, msg *m)
{
    buf_put(s, m->data);
    free(m->refs);
    free(m->bad);
    free(m);
}

/* Queue m for the packer thread; blocks while the queue is full. Returns 0, or -1 when the run stops
 * (m is freed). */
static int push(shared *s, msg *m)
{
    pthread_mutex_lock(&s->mu);
    while (s->queued >= s->max_queued && !s->stop)
        pthread_cond_wait(&s->cv_space, &s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        msg_free(s, m);
        return -1;
    }
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->queued++;
    pthread_cond_signal(&s->cv_items);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void fail(shared *s, int code)
{
    pthread_mutex_lock(&s->mu);
    if (!s->stop) {
        s->err = code;
        snprintf(s->errmsg, sizeof s->errmsg, "%s", lv_errmsg());
    }
    s->stop = 1;
    pthread_cond_broadcast(&s->cv_items);
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);
}

static int stopped(shared *s)
{
    pthread_mutex_lock(&s->mu);
    int st = s->stop;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Read up to n bytes at off; returns bytes read (short at the end of the file) or -1 (errno). */
static ssize_t read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, p + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

static int send_blob(shared *s, size_t file, uint32_t slot, uint8_t *data, size_t len)
{
    msg *m = lv_xcalloc(1, sizeof *m);
    m->type = MSG_BLOB;
    m->file = file;
    m->slot = slot;
    m->data = data;
    m->len = len;
    lv_repo_blob_id(s->x->r, data, len, m->id);
    lv_repo_plain_sum(data, len, m->sum); /* with the id: a restore checks the bytes against it */
    return push(s, m);
}

/* Where page p's last whole image is, given the previous backup's run pe that holds p: the run's own blob
 * for a whole-page run, its base for a delta run. */
static void whole_image(const lv_pgman_extent *pe, uint64_t p, const uint8_t **blob, uint32_t *page)
{
    uint32_t off = (uint32_t)(p - pe->first_page);
    *blob = pe->delta ? pe->base_blob : pe->blob;
    *page = (pe->delta ? pe->base_page : pe->blob_page) + off;
}

/* Base page pg of blob id, or NULL when deltas against that blob are not worth it. Worth it: the blob
 * compresses worse than 8:1 (its catalog entry says so before it is read), so one of its pages stored
 * whole costs more than 1 KiB, against tens of bytes as a delta. Reading the base costs one ranged GET
 * and one decryption per base blob; pages that compress well (most heap pages) skip it. A base that
 * cannot be read only means storing the page whole: the backup does not depend on it. */
static const uint8_t *base_page(shared *s, rctx *t, const uint8_t id[LV_HASH_LEN], uint32_t pg)
{
    lv_pg_read *x = s->x;
    base_slot *b = NULL;
    for (int i = 0; i < BASE_SLOTS && !b; i++)
        if (t->slot[i].state != 0 && memcmp(t->slot[i].id, id, LV_HASH_LEN) == 0)
            b = &t->slot[i];
    if (!b) {
        /* Not worth reading: remembered apart, so that it does not take a slot from a base in use. */
        if (t->skip_valid && memcmp(t->skip_id, id, LV_HASH_LEN) == 0)
            return NULL;
        lv_blob_loc loc;
        if (lv_catalog_blob_find(t->cat, id, &loc) != LV_OK || (uint64_t)loc.length * 8 <= loc.raw_length) {
            lv_err_clear();
            memcpy(t->skip_id, id, LV_HASH_LEN);
            t->skip_valid = 1;
            return NULL;
        }
        b = &t->slot[0];
        for (int i = 1; i < BASE_SLOTS; i++)
            if (t->slot[i].used < b->used)
                b = &t->slot[i];
        memcpy(b->id, id, LV_HASH_LEN);
        b->state = -1;
        lv_buf_reset(&b->base);
        if (lv_blob_read_unhashed(x->r, id, &loc, &b->base) == LV_OK) { /* a delta's base (its header) */
            b->state = 1;
            __atomic_fetch_add(&s->base_reads, 1, __ATOMIC_RELAXED);
        } else {
            lv_debug("page deltas: cannot read base %s (stored whole instead)", lv_errmsg());
        }
        lv_err_clear();
    }
    b->used = ++t->clock;
    size_t bs = x->block_size;
    if (b->state != 1 || ((size_t)pg + 1) * bs > b->base.len)
        return NULL;
    return b->base.data + (size_t)pg * bs;
}

/* Send the delta blob being built as the file's blob number slot (it fits a pool buffer: read_pages sends
 * it before another frame could make it larger). */
static int send_deltas(shared *s, rctx *t, size_t file, uint32_t slot)
{
    size_t len = lv_pgdelta_builder_size(&t->db);
    __atomic_fetch_add(&s->delta_bytes, (uint64_t)len, __ATOMIC_RELAXED);
    uint8_t *data = buf_get(s);
    lv_pgdelta_builder_take(&t->db, data);
    return send_blob(s, file, slot, data, len);
}

static int read_error(shared *s, const char *path, uint64_t off)
{
    fail(s, lv_err_errno(errno, "cannot read %s at offset %llu", path, (unsigned long long)off));
    return -1;
}

/* A file stored as content blobs. */
static int read_whole(shared *s, int fd, size_t file, const char *path, msg *done)
{
    uint64_t off = 0;
    uint32_t slot = 0;
    for (;;) {
        uint8_t *b = buf_get(s);
        ssize_t got = read_at(fd, b, WHOLE_CHUNK, off);
        if (got < 0) {
            buf_put(s, b);
            return read_error(s, path, off);
        }
        if (got == 0) {
            buf_put(s, b);
            break;
        }
        __atomic_fetch_add(&s->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
        off += (uint64_t)got;
        if (send_blob(s, file, slot++, b, (size_t)got) != 0)
            return -1;
        if ((size_t)got < WHOLE_CHUNK)
            break;
    }
    done->size = off;
    return 0;
}

/* --verify-map: the relation fork file e is in the block maps' terms (tablespace, database, relfilenode):
 * base/<db>/<file>, global/<file> (tablespace 1664, database 0), pg_tblspc/<spc>/<version dir>/<db>/<file>.
 * 0 when the path is none of these. */
static int map_locator(const lv_pg_entry *e, uint32_t *spc, uint32_t *db, uint32_t *rel)
{
    const char *name = strrchr(e->path, '/');
    int fork, temp;
    uint32_t segno;
    unsigned long a = 0, b = 0;
    char ver[64];
    int n = 0;
    if (!name || !lv_pg_relfile_parse(name + 1, rel, &fork, &segno, &temp) || temp)
        return 0;
    if (sscanf(e->path, "base/%lu/%n", &b, &n) == 1 && n > 0 && e->path + n == name + 1)
        *spc = 1663, *db = (uint32_t)b;
    else if (strncmp(e->path, "global/", 7) == 0 && e->path + 7 == name + 1)
        *spc = 1664, *db = 0;
    else if (sscanf(e->path, "pg_tblspc/%lu/%63[^/]/%lu/%n", &a, ver, &b, &n) == 3 && n > 0 && e->path + n == name + 1)
        *spc = (uint32_t)a, *db = (uint32_t)b;
    else
        return 0;
    return 1;
}

/* A relation fork stored as pages. New blobs get their slot (index among the file's new blobs) when they
 * are started, so the run of whole changed pages and the delta blob can fill side by side. */
#define DELTA_MIN_PAGES 12 /* changed pages of a run of LV_PGMAN_RUN_PAGES worth reading their base for */

static int read_pages(shared *s, rctx *t, int fd, const task *k0, const lv_pg_entry *e, const char *path, msg *done)
{
    lv_pg_read *x = s->x;
    const size_t file = k0->file;
    const size_t bs = x->block_size;
    const uint32_t run = LV_PGMAN_RUN_PAGES;
    const uint32_t none = UINT32_MAX;
    uint64_t size = (uint64_t)done->st.st_size;
    uint64_t npages = size / bs;
    if (npages > UINT32_MAX / 2)
        return fail(s, lv_err(LV_ERR_IO, "%s: %llu pages is more than a relation segment holds", path,
                              (unsigned long long)npages)), -1;
    /* A chunk: pages [first, end) of the file as it is now; its blobs' slots are its runs' (a full backup
     * stores run r of a file as its new blob r, chunks begin on a run). */
    const uint64_t first = k0->first < npages ? k0->first : npages;
    const int past_end = k0->first > npages; /* shrank below this chunk before it was opened */
    if (k0->end < npages)
        npages = k0->end;
    done->first = first;
    done->short_read = past_end || (k0->end != UINT64_MAX && npages < k0->end);
    done->refs = lv_xcalloc((size_t)(npages - first) + 1, sizeof *done->refs);
    const lv_pgman_file *pf = NULL;
    uint64_t prev_pages = 0;
    if (x->prev && done->prev_file >= 0) {
        pf = &x->prev->files[done->prev_file];
        prev_pages = pf->size / x->prev->block_size;
    }
    /* A delta frame is kept when it is at most a quarter page; the delta blob is sent before the next
     * frame (its length and bytes) could make it larger than a pool buffer. */
    const size_t delta_max = bs / 4;
    uint32_t cap_bad = 0, ext = 0, next_slot = (uint32_t)(first / run), pend_n = 0, pend_slot = none,
             delta_slot = none;
    uint8_t *pend = NULL;
    uint64_t pno = first;
    /* --verify-map: what an incremental by the maps would do with this file (pg_read.h) */
    const lv_blkset_fork *mf = NULL;
    int map_all = 1; /* it would read every page */
    uint64_t map_pages = 0, map_read = 0;
    uint32_t spc, db, rel;
    const lv_blkset *maps = x->verify_map ? x->verify_map : x->map;
    if (maps && pf && map_locator(e, &spc, &db, &rel)) {
        map_all = lv_blkset_db_new(maps, spc, db);
        mf = lv_blkset_fork_get(maps, spc, db, rel, (uint8_t)e->fork);
    }
    /* A full backup's rows from the pages (pg_read.h, lv_pg_read_rows); -1 once a page cannot tell. */
    int64_t live = x->page_rows && !x->prev && e->fork == LV_PG_FORK_MAIN ? 0 : -1;
    /* By the maps: only the pages named or past prev's size are read (pg_read.h) */
    const int by_map = x->map && !x->verify_map && pf && !map_all;
    uint8_t need[LV_PGMAN_RUN_PAGES];
    int rc = 0;
    while (pno < npages && rc == 0) {
        uint32_t want = npages - pno < run ? (uint32_t)(npages - pno) : run;
        uint8_t *b = buf_get(s);
        uint32_t n;
        if (by_map) {
            ssize_t got = 0;
            n = want;
            for (uint32_t k = 0; k < want; k++) {
                uint64_t p = pno + k;
                need[k] = p >= prev_pages || (mf && lv_blkset_has(mf, (uint32_t)(e->segno * x->segment_blocks + p)));
            }
            for (uint32_t k = 0; k < want && got >= 0;) { /* one read per range of needed pages */
                if (!need[k]) {
                    k++;
                    continue;
                }
                uint32_t k2 = k;
                while (k2 < want && need[k2])
                    k2++;
                got = read_at(fd, b + (size_t)k * bs, (size_t)(k2 - k) * bs, (pno + k) * bs);
                if (got >= 0) {
                    __atomic_fetch_add(&s->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
                    if ((size_t)got < (size_t)(k2 - k) * bs) { /* shrank while read: keep whole pages */
                        n = k + (uint32_t)((size_t)got / bs);
                        break;
                    }
                }
                k = k2;
            }
            if (got < 0) {
                buf_put(s, b);
                buf_put(s, pend);
                return read_error(s, path, pno * bs);
            }
        } else {
            ssize_t got = read_at(fd, b, (size_t)want * bs, pno * bs);
            if (got < 0) {
                buf_put(s, b);
                buf_put(s, pend);
                return read_error(s, path, pno * bs);
            }
            __atomic_fetch_add(&s->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
            n = (uint32_t)((size_t)got / bs); /* shrank while read: keep whole pages */
        }
        /* Deltas only where enough pages of this run changed: a base blob is read and checked whole (up
         * to 128 pages) for the pages of it that changed, and a page stored whole costs about 1.3 KiB more
         * than its delta; with one or two changed pages per run (an incremental after a few thousand
         * random updates) the base reads were most of the incremental's CPU. */
        uint32_t changed = 0;
        for (uint32_t k = 0; t && pf && k < n && pno + k < prev_pages; k++) {
            const uint8_t *page = b + (size_t)k * bs;
            changed += by_map ? need[k] : !lv_pg_page_is_new(page) && lv_pg_page_lsn(page) >= x->prev->start_lsn;
        }
        const int try_deltas = changed >= DELTA_MIN_PAGES;
        for (uint32_t k = 0; k < n && rc == 0; k++) {
            const uint8_t *page = b + (size_t)k * bs;
            uint64_t p = pno + k;
            uint32_t blkno = (uint32_t)(e->segno * x->segment_blocks + p);
            if (x->map && !x->verify_map) {
                map_pages++;
                map_read += !by_map || need[k];
            }
            if (by_map && !need[k]) { /* not named since prev's start: prev's image, unread */
                while (ext + 1 < pf->nextents && pf->extents[ext].first_page + pf->extents[ext].npages <= p)
                    ext++;
                const lv_pgman_extent *pe = &pf->extents[ext];
                page_ref *r = &done->refs[p - first];
                r->blob = REUSED;
                r->prev_ext = ext;
                r->blob_page = pe->blob_page + (uint32_t)(p - pe->first_page);
                continue;
            }
            if (live >= 0) {
                int64_t rows = lv_pg_page_is_new(page) || lv_pg_page_lsn(page) < x->start_lsn
                                   ? lv_pg_heap_page_rows(page, bs) : -1;
                live = rows < 0 ? -1 : live + rows;
            }
            if (x->checksums && lv_pg_page_verify(page, bs, blkno, x->start_lsn) == LV_PG_PAGE_BAD) {
                live = -1;
                if (done->nbad == cap_bad) {
                    cap_bad = cap_bad ? 2 * cap_bad : 16;
                    done->bad = lv_xrealloc(done->bad, cap_bad * sizeof *done->bad);
                }
                done->bad[done->nbad++] = (uint32_t)p;
            }
            page_ref *r = &done->refs[p - first];
            if (!x->prev) {
                r->blob = next_slot;
                r->blob_page = k;
                continue;
            }
            const lv_pgman_extent *pe = NULL;
            if (pf && p < prev_pages) {
                while (ext + 1 < pf->nextents && pf->extents[ext].first_page + pf->extents[ext].npages <= p)
                    ext++;
                pe = &pf->extents[ext];
            }
            int kept = pe && !lv_pg_page_is_new(page) && lv_pg_page_lsn(page) < x->prev->start_lsn;
            if (x->verify_map) {
                map_pages++;
                if (!pe || map_all || (mf && lv_blkset_has(mf, blkno)))
                    map_read++;
                else if (!kept && !lv_pg_page_is_new(page) && lv_pg_page_lsn(page) < x->start_lsn &&
                         __atomic_fetch_add(&s->map_missed, 1, __ATOMIC_RELAXED) < 10) {
                    char at[LV_LSN_TEXT_MAX];
                    lv_lsn_format(lv_pg_page_lsn(page), at);
                    lv_warn("verify-map: page %llu of %s (block %u) changed at %s, but no block map of the range "
                            "names it", (unsigned long long)p, e->path, blkno, at);
                }
            }
            if (kept) {
                r->blob = REUSED;
                r->prev_ext = ext;
                r->blob_page = pe->blob_page + (uint32_t)(p - pe->first_page);
                continue;
            }
            if (pe && t && try_deltas) {
                /* Changed, and the previous backup has the page: against its last whole image. */
                const uint8_t *img;
                uint32_t img_page;
                whole_image(pe, p, &img, &img_page);
                const uint8_t *base = base_page(s, t, img, img_page);
                if (base && lv_pgdelta_builder_add(&t->db, page, base, bs, delta_max)) {
                    if (delta_slot == none)
                        delta_slot = next_slot++;
                    r->blob = delta_slot;
                    r->blob_page = t->db.count - 1;
                    r->prev_ext = ext;
                    r->delta = 1;
                    __atomic_fetch_add(&s->delta_pages, 1, __ATOMIC_RELAXED);
                    if (t->db.count == LV_PGDELTA_MAX_FRAMES ||
                        lv_pgdelta_builder_size(&t->db) + 4 + delta_max > s->buf_size) {
                        rc = send_deltas(s, t, file, delta_slot);
                        delta_slot = none;
                    }
                    continue;
                }
            }
            if (!pend) {
                pend = buf_get(s);
                pend_slot = next_slot++;
            }
            memcpy(pend + (size_t)pend_n * bs, page, bs);
            r->blob = pend_slot;
            r->blob_page = pend_n++;
            if (pend_n == run) {
                rc = send_blob(s, file, pend_slot, pend, (size_t)pend_n * bs);
                pend = NULL;
                pend_n = 0;
            }
        }
        pno += n;
        if (rc == 0 && !x->prev && n > 0) {
            rc = send_blob(s, file, next_slot++, b, (size_t)n * bs);
            b = NULL;
        }
        buf_put(s, b);
        if (n < want) { /* shrank while read (a truncation): not the file's rows */
            live = -1;
            done->short_read = 1;
        }
        if (rc != 0 || n < want)
            break;
        if (stopped(s))
            rc = -1;
    }
    if (rc == 0 && pend_n > 0) {
        rc = send_blob(s, file, pend_slot, pend, (size_t)pend_n * bs);
        pend = NULL;
    }
    if (rc == 0 && delta_slot != none)
        rc = send_deltas(s, t, file, delta_slot);
    if (t)
        lv_pgdelta_builder_clear(&t->db); /* stopped half-way: drop unsent frames */
    buf_put(s, pend);
    if (x->verify_map || x->map) {
        __atomic_fetch_add(&s->map_pages, map_pages, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->map_pages_read, map_read, __ATOMIC_RELAXED);
    }
    done->size = pno * bs;
    done->live = live;
    return rc;
}

/* The database directory of relation file path (its directory), or NULL for global/ (no PG_VERSION: it
 * is never created again). */
static char *database_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || ((size_t)(slash - path) == 6 && strncmp(path, "global", 6) == 0))
        return NULL;
    return lv_xasprintf("%.*s", (int)(slash - path), path);
}

static int entry_cmp(const void *key, const void *e) { return strcmp(key, ((const lv_pg_entry *)e)->path); }

/* Was database directory dir created since prev? Its PG_VERSION, which PostgreSQL writes once when it
 * creates the directory (every strategy of CREATE DATABASE, ALTER DATABASE ... SET TABLESPACE), must be
 * the one prev stored (same mtime) and older than prev's start. When in doubt: yes (pages are stored). */
static int created_since(const lv_pg_read *x, const char *dir)
{
    char *pv = lv_xasprintf("%s/PG_VERSION", dir);
    const lv_pg_entry *cur = bsearch(pv, x->tree->e, x->tree->n, sizeof *x->tree->e, entry_cmp);
    long pf = lv_pgman_find(x->prev, pv);
    free(pv);
    return !cur || pf < 0 || x->prev->files[pf].mtime != cur->mtime || cur->mtime >= x->prev->start_time;
}

/* x->keep[i]: may file i keep pages of prev (the per-file half of the rule in pg_read.h)? The tree is
 * sorted, so a database directory's files are consecutive: one decision per directory. */
static void decide_keep(lv_pg_read *x)
{
    x->keep = lv_xcalloc(x->tree->n + 1, 1);
    if (!x->prev)
        return;
    char *dir = NULL;
    int dir_new = 0;
    for (size_t i = 0; i < x->tree->n; i++) {
        const lv_pg_entry *e = &x->tree->e[i];
        if (e->fork != LV_PG_FORK_MAIN && e->fork != LV_PG_FORK_INIT)
            continue;
        char *d = database_dir(e->path);
        if (!d) {
            x->keep[i] = 1;
            continue;
        }
        if (!dir || strcmp(d, dir) != 0) {
            free(dir);
            dir = d;
            /* By the maps, they say which directories were created in the range (every strategy of CREATE
             * DATABASE, ALTER DATABASE ... SET TABLESPACE, a drop): PG_VERSION's time is not asked, which
             * differs on a standby cloned by a copy that does not keep times (pg_basebackup -Fp) and made
             * every database look created again after a failover. */
            uint32_t spc, db, rel;
            if (x->map && !x->verify_map)
                dir_new = !map_locator(e, &spc, &db, &rel) || lv_blkset_db_new(x->map, spc, db);
            else
                dir_new = created_since(x, dir);
            if (dir_new)
                lv_info("%s was created again since the previous backup: its files are stored whole", dir);
        } else {
            free(d);
        }
        x->keep[i] = (uint8_t)!dir_new;
    }
    free(dir);
}

static void read_file(shared *s, rctx *t, const task *k)
{
    lv_pg_read *x = s->x;
    const size_t i = k->file;
    const lv_pg_entry *e = &x->tree->e[i];
    char *path = lv_xasprintf("%s/%s", x->pgdata, e->path);
    msg *done = lv_xcalloc(1, sizeof *done);
    done->type = MSG_DONE;
    done->file = i;
    done->prev_file = -1;
    done->live = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) { /* vanished (a dropped relation): WAL replay agrees */
        done->vanished = 1;
        push(s, done);
        free(path);
        return;
    }
    if (fd < 0 || fstat(fd, &done->st) != 0) {
        fail(s, lv_err_errno(errno, "cannot open %s", path));
        if (fd >= 0)
            close(fd);
        msg_free(s, done);
        free(path);
        return;
    }
    if (done->st.st_size > (off_t)WHOLE_CHUNK)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    /* A chunked file is pages whatever its size now: its other chunks may have been read as pages already
     * (a partial page at the end, as one growing while read, is left out: WAL replay writes it). */
    done->pages = e->pages && ((uint64_t)done->st.st_size % x->block_size == 0 || k->first || k->end != UINT64_MAX);
    if (done->pages && x->prev && x->keep[i]) {
        done->prev_file = lv_pgman_find(x->prev, e->path);
        if (done->prev_file >= 0 && (x->prev->files[done->prev_file].kind != LV_PGF_PAGES ||
                                     x->prev->block_size != x->block_size))
            done->prev_file = -1;
    }
    int r = done->pages ? read_pages(s, t, fd, k, e, path, done) : read_whole(s, fd, i, path, done);
    close(fd);
    free(path);
    if (r == 0)
        push(s, done);
    else
        msg_free(s, done);
}

static void *reader(void *arg)
{
    shared *s = arg;
    lv_pg_read *x = s->x;
    rctx t;
    memset(&t, 0, sizeof t);
    lv_pgdelta_builder_init(&t.db, x->r->params.compress_level);
    if (x->prev && x->deltas && x->r->cat &&
        lv_catalog_open(lv_catalog_path(x->r->cat), x->r->id_hex, &t.cat) != LV_OK) {
        lv_debug("page deltas off for this reader: %s", lv_errmsg());
        lv_err_clear();
        t.cat = NULL;
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t i = s->next_task++;
        int st = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (st || i >= s->ntasks)
            break;
        if (lv_interrupted()) {
            fail(s, lv_err(LV_ERR_INTERRUPTED, "interrupted"));
            break;
        }
        read_file(s, t.cat ? &t : NULL, &s->tasks[i]);
    }
    lv_catalog_close(t.cat);
    for (int i = 0; i < BASE_SLOTS; i++)
        lv_buf_free(&t.slot[i].base);
    lv_pgdelta_builder_free(&t.db);
    return NULL;
}

/* ---- the packer's thread ------------------------------------------------------------------------ */

typedef struct file_state {
    uint8_t (*ids)[LV_HASH_LEN]; /* the file's new blobs, in order */
    uint32_t *lens;
    uint32_t n, cap;
    uint32_t chunks;             /* its tasks whose DONE has not come yet */
    msg *acc;                    /* a chunked file: the DONE its chunks' make up */
    uint64_t acc_pages, acc_end; /* pages acc->refs holds room for; where the file ends (a short chunk) */
} file_state;

/* A chunk's DONE into its file's (fs->acc): its page references at its pages, its bad pages and rows. The
 * file ends where the first chunk that ended early ends (it shrank while read: what lies past that is
 * left out, as for a file read whole, and WAL replay truncates or rewrites it); a chunk that found the
 * file gone makes it vanished. */
static void merge_chunk(file_state *fs, msg *m, size_t bs)
{
    msg *a = fs->acc;
    if (!a) {
        a = fs->acc = lv_xcalloc(1, sizeof *a);
        a->type = MSG_DONE;
        a->file = m->file;
        a->prev_file = -1;
        a->pages = 1;
        a->st = m->st;
        fs->acc_end = UINT64_MAX;
    }
    if (m->vanished) { /* (a chunk is always read as pages: read_file) */
        a->vanished = 1;
        a->live = -1;
        return;
    }
    uint64_t end = m->size / bs;
    if (end > fs->acc_pages) {
        a->refs = lv_xrealloc(a->refs, (size_t)(end + 1) * sizeof *a->refs);
        memset(a->refs + fs->acc_pages, 0, (size_t)(end + 1 - fs->acc_pages) * sizeof *a->refs);
        fs->acc_pages = end;
    }
    if (end > m->first)
        memcpy(a->refs + m->first, m->refs, (size_t)(end - m->first) * sizeof *a->refs);
    if (end * bs > a->size)
        a->size = end * bs;
    if (m->short_read && end < fs->acc_end)
        fs->acc_end = end;
    if (m->nbad) {
        a->bad = lv_xrealloc(a->bad, (a->nbad + m->nbad) * sizeof *a->bad);
        memcpy(a->bad + a->nbad, m->bad, m->nbad * sizeof *a->bad);
        a->nbad += m->nbad;
    }
    a->live = a->live < 0 || m->live < 0 || m->short_read ? -1 : a->live + m->live;
}

/* The last chunk came: the file's DONE, cut where it ended (pg_read.h: a file that shrinks while read
 * keeps what was read). */
static msg *chunks_done(file_state *fs, size_t bs)
{
    msg *a = fs->acc;
    fs->acc = NULL;
    if (a->size / bs > fs->acc_end) {
        a->size = fs->acc_end * bs;
        uint32_t k = 0;
        for (uint32_t i = 0; i < a->nbad; i++)
            if (a->bad[i] < fs->acc_end)
                a->bad[k++] = a->bad[i];
        a->nbad = k;
    }
    return a;
}

static void progress(lv_progress *pr, const lv_pg_read *x, uint64_t read, int final)
{
    char fresh[32], note[48];
    lv_human_size(x->bytes_new, fresh);
    snprintf(note, sizeof note, "%s new", fresh);
    if (final)
        lv_progress_end(pr, read, x->tree->bytes, 0, note);
    else
        lv_progress_update(pr, read, x->tree->bytes, 0, note);
}

/* Append page `page` to f's runs; base is NULL for a whole page, else the delta's base blob and page. */
static void add_extent(lv_pgman_file *f, uint32_t *cap, const uint8_t *blob, uint32_t page, uint32_t blob_page,
                       const uint8_t *base, uint32_t base_pg)
{
    if (f->nextents) {
        lv_pgman_extent *l = &f->extents[f->nextents - 1];
        if (l->blob_page + l->npages == blob_page && memcmp(l->blob, blob, LV_HASH_LEN) == 0 &&
            l->delta == (base != NULL) &&
            (!base || (l->base_page + l->npages == base_pg && memcmp(l->base_blob, base, LV_HASH_LEN) == 0))) {
            l->npages++;
            return;
        }
    }
    LV_GROW(f->extents, f->nextents, *cap);
    lv_pgman_extent *n = &f->extents[f->nextents++];
    memset(n, 0, sizeof *n);
    memcpy(n->blob, blob, LV_HASH_LEN);
    n->first_page = page;
    n->npages = 1;
    n->blob_page = blob_page;
    if (base) {
        n->delta = 1;
        memcpy(n->base_blob, base, LV_HASH_LEN);
        n->base_page = base_pg;
    }
}

static int finish_file(lv_pg_read *x, file_state *fs, msg *m, uint8_t *vanished)
{
    const lv_pg_entry *e = &x->tree->e[m->file];
    lv_pgman_file *f = &x->files[m->file];
    if (x->live)
        x->live[m->file] = m->vanished ? -1 : m->live;
    if (m->vanished) {
        vanished[m->file] = 1;
        return LV_OK;
    }
    f->path = lv_xstrdup(e->path);
    f->mode = (uint32_t)m->st.st_mode & 07777;
    f->mtime = (int64_t)m->st.st_mtime;
    f->size = m->size;
    x->bytes += m->size;
    uint32_t cap = 0;
    if (!m->pages) {
        f->kind = LV_PGF_WHOLE;
        for (uint32_t i = 0; i < fs->n; i++) {
            LV_GROW(f->extents, f->nextents, cap);
            lv_pgman_extent *n = &f->extents[f->nextents++];
            memset(n, 0, sizeof *n);
            memcpy(n->blob, fs->ids[i], LV_HASH_LEN);
            n->length = fs->lens[i];
        }
        return LV_OK;
    }
    f->kind = LV_PGF_PAGES;
    uint32_t npages = (uint32_t)(m->size / x->block_size);
    const lv_pgman_file *pf = m->prev_file >= 0 ? &x->prev->files[m->prev_file] : NULL;
    for (uint32_t p = 0; p < npages; p++) {
        const page_ref *r = &m->refs[p];
        const uint8_t *blob, *base = NULL;
        uint32_t base_pg = 0;
        if (r->blob == REUSED) {
            /* An unchanged page keeps what the previous backup had: a whole page or a delta run. */
            const lv_pgman_extent *pe = &pf->extents[r->prev_ext];
            blob = pe->blob;
            if (pe->delta)
                whole_image(pe, p, &base, &base_pg);
        } else if (r->blob < fs->n) {
            blob = fs->ids[r->blob];
            if (r->delta)
                whole_image(&pf->extents[r->prev_ext], p, &base, &base_pg);
        } else {
            return lv_err(LV_ERR_INTERNAL, "%s: page %u refers to blob %u of %u", e->path, p, r->blob, fs->n);
        }
        add_extent(f, &cap, blob, p, r->blob_page, base, base_pg);
    }
    for (uint32_t i = 0; i < m->nbad; i++) {
        if (x->nbad < BAD_PAGES_LOGGED)
            lv_warn("page %u of %s: checksum mismatch (block %u)", m->bad[i], e->path,
                    (uint32_t)(e->segno * x->segment_blocks + m->bad[i]));
        else if (x->nbad == BAD_PAGES_LOGGED)
            lv_warn("more pages with checksum mismatches: not all are listed here (see the manifest)");
        x->bad = lv_xrealloc(x->bad, (x->nbad + 1) * sizeof *x->bad);
        x->bad[x->nbad].file_index = (uint32_t)m->file; /* renumbered once vanished files are gone */
        x->bad[x->nbad++].page = m->bad[i];
    }
    return LV_OK;
}

static msg *pop(shared *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->head && !s->stop)
        pthread_cond_wait(&s->cv_items, &s->mu);
    msg *m = s->stop ? NULL : s->head;
    if (m) {
        s->head = m->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        pthread_cond_signal(&s->cv_space);
    }
    pthread_mutex_unlock(&s->mu);
    return m;
}

static int consume(shared *s, file_state *fst, uint8_t *vanished)
{
    lv_pg_read *x = s->x;
    size_t left = s->ntasks;
    lv_progress pr;
    lv_progress_start(&pr, x->progress, "read", NULL);
    int rc = LV_OK;
    while (left > 0 && rc == LV_OK) {
        msg *m = pop(s);
        if (!m)
            break;
        file_state *fs = &fst[m->file];
        if (m->type == MSG_BLOB) {
            uint64_t fresh = 0;
            if (m->slot >= fs->cap) {
                uint32_t cap = fs->cap ? fs->cap : 8;
                while (cap <= m->slot)
                    cap *= 2;
                fs->ids = lv_xrealloc(fs->ids, cap * sizeof *fs->ids);
                fs->lens = lv_xrealloc(fs->lens, cap * sizeof *fs->lens);
                memset(fs->ids + fs->cap, 0, (cap - fs->cap) * sizeof *fs->ids);
                memset(fs->lens + fs->cap, 0, (cap - fs->cap) * sizeof *fs->lens);
                fs->cap = cap;
            }
            memcpy(fs->ids[m->slot], m->id, LV_HASH_LEN);
            rc = lv_packer_add_id(x->p, LV_BLOB_DATA, m->data, m->len, m->id, m->sum, &fresh);
            fs->lens[m->slot] = (uint32_t)m->len;
            if (m->slot >= fs->n)
                fs->n = m->slot + 1;
            x->bytes_new += fresh;
        } else if (fs->chunks > 1 || fs->acc) { /* a chunk of a file read in chunks */
            merge_chunk(fs, m, x->block_size);
            left--;
            if (--fs->chunks == 0) {
                msg_free(s, m);
                m = chunks_done(fs, x->block_size);
                rc = finish_file(x, fs, m, vanished);
                free(fs->ids);
                free(fs->lens);
                memset(fs, 0, sizeof *fs);
            }
        } else {
            rc = finish_file(x, fs, m, vanished);
            free(fs->ids);
            free(fs->lens);
            memset(fs, 0, sizeof *fs);
            left--;
        }
        msg_free(s, m);
        if (rc == LV_OK && lv_interrupted())
            rc = lv_err(LV_ERR_INTERRUPTED, "interrupted");
        progress(&pr, x, __atomic_load_n(&s->bytes_read, __ATOMIC_RELAXED), 0);
    }
    progress(&pr, x, __atomic_load_n(&s->bytes_read, __ATOMIC_RELAXED), 1);
    if (rc != LV_OK)
        fail(s, rc);
    pthread_mutex_lock(&s->mu);
    if (s->err && rc == LV_OK)
        rc = lv_err(s->err, "%s", s->errmsg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Drop vanished files and renumber bad pages' file indexes to match. */
static void compact(lv_pg_read *x, const uint8_t *vanished)
{
    size_t n = x->tree->n;
    uint32_t *newidx = lv_xcalloc(n + 1, sizeof *newidx);
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        newidx[i] = k;
        if (!vanished[i])
            x->files[k++] = x->files[i];
    }
    x->nfiles = k;
    for (uint32_t i = 0; i < x->nbad; i++)
        x->bad[i].file_index = newidx[x->bad[i].file_index];
    free(newidx);
}

static int relrows_cmp(const void *a, const void *b)
{
    const lv_pg_relrows *p = a, *q = b;
    return lv_relfile_cmp(p->spc, p->db, p->rel, q->spc, q->db, q->rel);
}

/* Per relation, the sum over its main fork's segment files, -1 when one of them is unknown. The tree
 * lists segments after their relation's first file, but not next to it (bytewise order: "16396",
 * "16396.1", "16396_fsm", "163960"), hence the sort. */
static void relrows(lv_pg_read *x)
{
    size_t cap = 0, n = 0;
    lv_pg_relrows *v = NULL;
    for (size_t i = 0; i < x->tree->n; i++) {
        const lv_pg_entry *e = &x->tree->e[i];
        uint32_t spc, db, rel;
        if (e->fork != LV_PG_FORK_MAIN || !map_locator(e, &spc, &db, &rel))
            continue;
        LV_GROW(v, n, cap);
        v[n++] = (lv_pg_relrows){spc, db, rel, x->live[i]};
    }
    if (n)
        qsort(v, n, sizeof *v, relrows_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && relrows_cmp(&v[k - 1], &v[i]) == 0) {
            v[k - 1].rows = v[k - 1].rows < 0 || v[i].rows < 0 ? -1 : v[k - 1].rows + v[i].rows;
            continue;
        }
        v[k++] = v[i];
    }
    x->relrows = v;
    x->nrelrows = (uint32_t)k;
}

int64_t lv_pg_read_rows(const lv_pg_read *x, uint32_t spc, uint32_t db, uint32_t rel)
{
    lv_pg_relrows key = {spc, db, rel, 0};
    const lv_pg_relrows *r = x->nrelrows ? bsearch(&key, x->relrows, x->nrelrows, sizeof key, relrows_cmp) : NULL;
    return r ? r->rows : -1;
}

/* One task per file; for a full backup, a page file larger than a chunk is read in chunks of
 * x->chunk_pages (0: LV_PG_READ_CHUNK_PAGES), whole runs each, by whichever reader is free. */
static void make_tasks(lv_pg_read *x, shared *s, file_state *fst)
{
    uint64_t chunk = x->chunk_pages ? x->chunk_pages : LV_PG_READ_CHUNK_PAGES;
    chunk = (chunk + LV_PGMAN_RUN_PAGES - 1) / LV_PGMAN_RUN_PAGES * LV_PGMAN_RUN_PAGES;
    size_t cap = 0;
    for (size_t i = 0; i < x->tree->n; i++) {
        const lv_pg_entry *e = &x->tree->e[i];
        uint64_t pages = e->size / x->block_size;
        uint32_t k = 0;
        if (!x->prev && e->pages && pages > chunk)
            for (; (uint64_t)k * chunk < pages; k++) {
                uint64_t end = (uint64_t)(k + 1) * chunk < pages ? (uint64_t)(k + 1) * chunk : UINT64_MAX;
                LV_GROW(s->tasks, s->ntasks, cap);
                s->tasks[s->ntasks++] = (task){i, (uint64_t)k * chunk, end};
            }
        else {
            LV_GROW(s->tasks, s->ntasks, cap);
            s->tasks[s->ntasks++] = (task){i, 0, UINT64_MAX};
            k = 1;
        }
        fst[i].chunks = k;
    }
}

int lv_pg_read_all(lv_pg_read *x)
{
    size_t n = x->tree->n;
    decide_keep(x);
    x->live = NULL;
    if (x->page_rows && !x->prev) {
        x->live = lv_xmalloc((n + 1) * sizeof *x->live);
        for (size_t i = 0; i <= n; i++)
            x->live[i] = -1;
    }
    x->files = lv_xcalloc(n + 1, sizeof *x->files);
    x->nfiles = 0;
    shared s;
    memset(&s, 0, sizeof s);
    s.x = x;
    s.buf_size = (size_t)LV_PGMAN_RUN_PAGES * x->block_size > WHOLE_CHUNK ? (size_t)LV_PGMAN_RUN_PAGES * x->block_size
                                                                          : WHOLE_CHUNK;
    int workers = x->workers > 0 ? x->workers : 2;
    s.max_queued = 2 * (size_t)workers + 2;
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv_items, NULL);
    pthread_cond_init(&s.cv_space, NULL);
    file_state *fst = lv_xcalloc(n + 1, sizeof *fst);
    make_tasks(x, &s, fst);
    uint8_t *vanished = lv_xcalloc(n + 1, 1);
    pthread_t *th = lv_xcalloc((size_t)workers, sizeof *th);
    int started = 0;
    for (int i = 0; i < workers; i++)
        if (pthread_create(&th[i], NULL, reader, &s) == 0)
            started++;
        else
            break;
    int rc = started ? consume(&s, fst, vanished) : lv_err(LV_ERR_INTERNAL, "cannot start a reader thread");
    fail(&s, rc ? rc : LV_OK); /* wake and stop the readers (they are done when rc is OK) */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    x->bytes_read = s.bytes_read;
    x->delta_pages = s.delta_pages;
    x->delta_bytes = s.delta_bytes;
    x->base_reads = s.base_reads;
    x->map_pages = s.map_pages;
    x->map_pages_read = s.map_pages_read;
    x->map_missed = s.map_missed;
    while (s.head) {
        msg *m = s.head;
        s.head = m->next;
        msg_free(&s, m);
    }
    for (size_t i = 0; i < s.npool; i++)
        free(s.pool[i]);
    free(s.pool);
    for (size_t i = 0; i < n; i++) {
        free(fst[i].ids);
        free(fst[i].lens);
        if (fst[i].acc)
            msg_free(&s, fst[i].acc);
    }
    free(fst);
    free(s.tasks);
    free(th);
    if (rc == LV_OK && x->live)
        relrows(x);
    free(x->live);
    x->live = NULL;
    if (rc == LV_OK)
        compact(x, vanished);
    else
        x->nfiles = (uint32_t)n; /* free what was built */
    free(vanished);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv_items);
    pthread_cond_destroy(&s.cv_space);
    return rc;
}

void lv_pg_read_free(lv_pg_read *x)
{
    for (uint32_t i = 0; x->files && i < x->nfiles; i++) {
        free(x->files[i].path);
        free(x->files[i].extents);
    }
    free(x->files);
    free(x->bad);
    free(x->keep);
    free(x->relrows);
    x->relrows = NULL;
    x->nrelrows = 0;
    x->keep = NULL;
    x->files = NULL;
    x->bad = NULL;
    x->nfiles = x->nbad = 0;
}
