/* Pushing one WAL file (contract in wal/push.h). */
#include "wal/push.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/parallel.h"
#include "catalog/walmap.h"
#include "common/log.h"
#include "repo/tidy.h"
#include "wal/records.h"
#include "wal/walcat.h"
#include "wal/walmap.h"

#define WAL_FILE_MAX ((uint64_t)1 << 30) /* the largest WAL segment PostgreSQL can be built with */

void lv_wal_pusher_init(lv_wal_pusher *p, lv_repo *r, lv_catalog *cat)
{
    memset(p, 0, sizeof *p);
    p->repo = r;
    p->threads_per_file = 3;
    pthread_mutex_init(&p->mu, NULL);
    if (cat && lv_wal_stanza_cache_get(cat, r, &p->stanza) == LV_OK)
        p->stanza_known = 1;
    lv_err_clear();
}

void lv_wal_pusher_save(lv_wal_pusher *p, lv_catalog *cat)
{
    if (!cat || !p->stanza_learned)
        return;
    if (lv_wal_stanza_cache_put(cat, p->repo, &p->stanza) != LV_OK)
        lv_warn("cannot cache the stanza in the catalog: %s", lv_errmsg());
    else
        p->stanza_learned = 0;
}

void lv_wal_pusher_free(lv_wal_pusher *p) { pthread_mutex_destroy(&p->mu); }

const char *lv_wal_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int lv_wal_map_open(const char *path, lv_wal_map *m)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = lv_err_errno(errno, "cannot open WAL file %s", path);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc; /* PostgreSQL handed it to us: it must exist */
    }
    struct stat st;
    int rc = LV_OK;
    if (fstat(fd, &st) != 0)
        rc = lv_err_errno(errno, "cannot stat WAL file %s", path);
    else if (!S_ISREG(st.st_mode))
        rc = lv_err(LV_ERR_IO, "WAL file %s is not a regular file", path);
    else if ((uint64_t)st.st_size > WAL_FILE_MAX)
        rc = lv_err(LV_ERR_CORRUPT, "WAL file %s has %lld bytes, more than any WAL segment", path,
                    (long long)st.st_size);
    if (rc == LV_OK && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            rc = lv_err_errno(errno, "cannot map WAL file %s", path);
        else
            m->data = p;
    }
    if (rc == LV_OK) {
        static const uint8_t empty[1];
        if (!m->data)
            m->data = empty; /* an empty file: nothing mapped */
        m->len = (size_t)st.st_size;
        m->src.dev = (uint64_t)st.st_dev;
        m->src.ino = (uint64_t)st.st_ino;
        m->src.size = (uint64_t)st.st_size;
        m->src.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    close(fd);
    return rc;
}

void lv_wal_map_close(lv_wal_map *m)
{
    if (m->data && m->len > 0)
        munmap((void *)(uintptr_t)m->data, m->len);
    memset(m, 0, sizeof *m);
}

/* The stanza to check against: known already, or resolved once (under the lock) for all threads. */
static int check_cluster(lv_wal_pusher *p, const lv_wal_header *h, const char *name)
{
    pthread_mutex_lock(&p->mu);
    int rc = LV_OK;
    if (!p->stanza_known) {
        rc = lv_wal_stanza_resolve(p->repo, h, name, &p->stanza);
        if (rc == LV_OK)
            p->stanza_known = p->stanza_learned = 1;
    }
    lv_wal_stanza s = p->stanza;
    pthread_mutex_unlock(&p->mu);
    return rc ? rc : lv_wal_stanza_match(&s, h, name);
}

/* The three independent steps of a push, run side by side: seal (zstd + AES-GCM, the longest), checksum
 * (HMAC-SHA256 of 16 MiB) and the lookup of the name in the repository (a round trip on S3). Only the
 * put needs all three. */
typedef struct push_job {
    lv_wal_pusher *p;
    const lv_wal_name *n;
    const lv_wal_map *data;
    lv_buf sealed;
    char sum[LV_WAL_SUM_HEX + 1];
    lv_wal_object have;
    int count;
    lv_wal_pushed *out;
    lv_blkmap map;               /* segments: the block map, stored once the segment is durable */
    int have_map;
} push_job;

/* The segment's summary (docs/design.md 6: the catalog knows each segment's time range; wal/summary.h) and
 * its block map (wal/blockmap.h), in one pass over its records. */
static void scan_summary(push_job *j)
{
    const lv_wal_map *m = j->data;
    lv_wal_pushed *out = j->out;
    int rc = j->n->kind == LV_WAL_SEGMENT ? lv_walsum_scan_map(m->data, m->len, &out->summary, &j->map)
                                          : lv_walsum_scan(m->data, m->len, &out->summary);
    if (rc != LV_OK) {
        lv_err_clear(); /* the header was checked before: cannot happen */
        return;
    }
    j->have_map = j->n->kind == LV_WAL_SEGMENT;
    out->begin_time = out->summary.begin_time;
    out->end_time = out->summary.end_time;
    out->times_known = 1;
}

static int push_step(void *arg, size_t i)
{
    push_job *j = arg;
    switch (i) {
    case 0:
        return lv_wal_find(j->p->repo->store, j->n, &j->have, &j->count);
    case 1:
        lv_wal_checksum(j->p->repo, j->data->data, j->data->len, j->sum);
        return LV_OK;
    case 3:
        scan_summary(j);
        return LV_OK;
    case 2:
    default:
        lv_wal_object_seal(j->p->repo, j->n, j->data->data, j->data->len, &j->sealed);
        return LV_OK;
    }
}

/* Stale temporaries of killed pushes in the timeline's directory (repo/tidy.h): one listing of a directory
 * of thousands of segments is cheap, but not worth paying on every push. */
#define TIDY_EVERY 16 /* segments: every 256 MiB of 16 MiB segments */

static void tidy_timeline(lv_repo *r, uint32_t tli)
{
    char dir[LV_WAL_KEY_MAX];
    lv_wal_prefix(tli, dir, sizeof dir);
    const char *const prefixes[] = {dir};
    lv_repo_tidy(r, prefixes, 1);
}

/* The block map beside the durable segment (wal/walmap.h). Never fails the push: without the map, an
 * incremental over this segment reads every page, which is what it did before maps existed. */
static void store_map(lv_wal_pusher *p, push_job *j)
{
    if (!j->have_map)
        return;
    snprintf(j->map.checksum, sizeof j->map.checksum, "%s", j->out->obj.checksum);
    lv_blkmap_encode(&j->map, &j->out->map);
    if (lv_walmap_store(p->repo, j->n->name, &j->out->map) != LV_OK) {
        lv_warn("the block map of WAL segment %s was not stored (%s): an incremental backup over it will read "
                "every page", j->n->name, lv_errmsg());
        lv_err_clear();
        lv_buf_free(&j->out->map);
    }
}

static int push_bytes(lv_wal_pusher *p, const lv_wal_name *n, const lv_wal_map *data, lv_wal_pushed *out)
{
    int rc;
    uint64_t segno = 1;
    if (n->kind == LV_WAL_SEGMENT || n->kind == LV_WAL_PARTIAL) {
        lv_wal_header h;
        if ((rc = lv_wal_header_parse(data->data, data->len, &h)) != LV_OK)
            return lv_err_ctx("WAL file %s", n->name);
        if ((rc = lv_wal_segment_check(n, &h, data->len)) != LV_OK ||
            (rc = check_cluster(p, &h, n->name)) != LV_OK)
            return rc;
        out->begin_lsn = h.pageaddr;
        out->end_lsn = h.pageaddr + h.seg_size;
        segno = h.pageaddr / h.seg_size;
    }
    push_job j = {.p = p, .n = n, .data = data, .sealed = LV_BUF_INIT, .out = out};
    int segment = n->kind == LV_WAL_SEGMENT || n->kind == LV_WAL_PARTIAL;
    /* The async worker already runs files side by side: one thread per file there. */
    rc = lv_parallel_for(p->threads_per_file, segment ? 4 : 3, push_step, &j);
    if (rc == LV_OK) {
        lv_wal_object_make(n, j.sum, &out->obj);
        out->size = data->len;
        if (j.count > 0 && strcmp(j.have.checksum, j.sum) != 0) {
            rc = lv_err(LV_ERR_CONFLICT, "WAL file %s was already archived with different content (%s); "
                        "nothing was overwritten", n->name, j.have.key);
        } else if (j.count > 0) {
            /* Normal after a lost answer or a crash, suspicious otherwise: say it where it is seen. */
            lv_warn("WAL file %s was already archived with the same content (%s): nothing to do", n->name,
                    j.have.key);
            out->obj.stored_size = j.have.stored_size;
            out->existed = 1;
        } else {
            out->obj.stored_size = j.sealed.len;
            rc = lv_wal_object_store(p->repo, &out->obj, &j.sealed, &out->existed);
            if (rc != LV_OK)
                rc = lv_err_ctx("cannot archive WAL file %s", n->name);
            else if (out->existed)
                lv_info("WAL file %s was archived at the same moment by another process (same content)",
                        n->name);
            else if (n->kind == LV_WAL_SEGMENT && segno % TIDY_EVERY == 0)
                tidy_timeline(p->repo, n->tli);
        }
        if (rc == LV_OK)
            store_map(p, &j);
    }
    lv_blkmap_free(&j.map);
    lv_buf_free(&j.sealed);
    return rc;
}

void lv_wal_pushed_free(lv_wal_pushed *out)
{
    lv_walsum_free(&out->summary);
    lv_buf_free(&out->map);
}

int lv_wal_push_file(lv_wal_pusher *p, const char *path, lv_wal_pushed *out)
{
    memset(out, 0, sizeof *out);
    lv_wal_name n;
    int rc = lv_wal_name_parse(lv_wal_basename(path), &n);
    if (rc != LV_OK)
        return rc;
    lv_wal_map data;
    if ((rc = lv_wal_map_open(path, &data)) == LV_OK) {
        out->src = data.src;
        rc = push_bytes(p, &n, &data, out);
    }
    lv_wal_map_close(&data);
    return rc;
}

int lv_wal_pushed_record(lv_catalog *cat, const lv_wal_pushed *res, int64_t pushed)
{
    lv_wal_row row = {&res->obj, res->size, pushed, res->begin_lsn, res->end_lsn, res->times_known,
                      res->begin_time, res->end_time, res->times_known ? &res->summary : NULL};
    int rc = lv_walcat_add(cat, &row);
    if (rc == LV_OK && res->map.len)
        rc = lv_catalog_walmap_put(cat, res->obj.name.name, LV_BLKMAP_FORMAT, res->map.data, res->map.len);
    return rc;
}

int lv_wal_push_one(lv_repo *r, lv_catalog *cat, const char *path, lv_wal_pushed *out)
{
    lv_wal_pusher p;
    lv_wal_pusher_init(&p, r, cat);
    int rc = lv_wal_push_file(&p, path, out);
    if (rc == LV_OK) {
        lv_wal_pusher_save(&p, cat);
        if ((rc = lv_wal_pushed_record(cat, out, (int64_t)time(NULL))) != LV_OK)
            rc = lv_err(rc, "WAL file %s is archived, but %s", out->obj.name.name, lv_errmsg());
    }
    lv_wal_pushed_free(out); /* the summary is in the catalog now */
    lv_wal_pusher_free(&p);
    return rc;
}
