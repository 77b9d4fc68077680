/* The pg manifest body codec (pg/manifest.h). One validation function (check_manifest) serves the
 * encoder and the parser, so what is written always parses and what parses always re-encodes to the
 * same bytes: the parser reads the layout (bounded by the input length), then applies the same rules
 * the encoder applies before writing. */
#include "pg/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "repo/manifest.h"
#include "repo/registry.h"
#include "pg/page_delta.h"
#include "repo/pack.h"
#include "repo/repo.h"

#define PATH_MAX_LEN 4095u
#define NAME_MAX_LEN 1023u
#define TEXT_MAX_LEN (1u << 20) /* backup_label, tablespace_map */

/* Smallest wire size of each repeated element: counts are checked against them before allocating. */
#define TS_MIN 12u    /* oid, two empty strings */
#define FILE_MIN 30u  /* 1-byte path, kind, mode, mtime, size, extent_count */
#define WHOLE_SIZE 36u
#define PAGES_SIZE 44u  /* version 1; version 2 adds at least the delta byte */
#define BAD_SIZE 8u
#define PENDING_SIZE 24u
#define DB_MIN 12u
#define REL_MIN 29u

/* ---- validation (shared) ---------------------------------------------------------------------- */

static int text_ok(const char *s, size_t n, size_t max) { return n <= max && (n == 0 || !memchr(s, '\0', n)); }

/* A relative path: 1..4095 bytes, no NUL, no leading or trailing '/', no empty, "." or ".." component. */
static int path_ok(const char *s, size_t n)
{
    if (n < 1 || n > PATH_MAX_LEN || memchr(s, '\0', n))
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && s[start] == '.') || (len == 2 && s[start] == '.' && s[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

static unsigned version_of(const lv_pgman *m) { return m->version ? m->version : LV_PGMAN_VERSION; }

int lv_pgman_pending_cmp(const void *a, const void *b)
{
    const lv_pgman_pending *x = a, *y = b;
    if (x->xid != y->xid)
        return x->xid < y->xid ? -1 : 1;
    if (x->tablespace != y->tablespace)
        return x->tablespace < y->tablespace ? -1 : 1;
    if (x->database != y->database)
        return x->database < y->database ? -1 : 1;
    return x->relfilenode < y->relfilenode ? -1 : x->relfilenode > y->relfilenode;
}

static const char *check_file(const lv_pgman *m, const lv_pgman_file *f)
{
    if (!f->path || !path_ok(f->path, strlen(f->path)))
        return "invalid path";
    if (f->nextents && !f->extents)
        return "extents missing";
    if (f->kind == LV_PGF_WHOLE) {
        uint64_t sum = 0;
        for (uint32_t i = 0; i < f->nextents; i++) {
            uint32_t l = f->extents[i].length;
            if (l < 1 || l > LV_BLOB_MAX)
                return "whole-file extent length out of range";
            sum += l; /* at most 2^32 * 2^26: cannot wrap */
        }
        if (sum != f->size)
            return "whole-file extents do not sum to the size";
        return NULL;
    }
    if (f->kind != LV_PGF_PAGES)
        return "unknown file kind";
    if (f->size % m->block_size)
        return "page file size not a multiple of the block size";
    uint64_t pages = f->size / m->block_size, next = 0;
    if (pages > UINT32_MAX)
        return "page file too large";
    for (uint32_t i = 0; i < f->nextents; i++) {
        const lv_pgman_extent *e = &f->extents[i];
        if (e->npages < 1)
            return "empty page run";
        if (e->first_page != next)
            return "page runs not contiguous from page 0";
        next += e->npages;
        if (next > pages)
            return "page runs past the end of the file";
        if (e->delta > 1 || (e->delta && version_of(m) < 2))
            return "invalid delta flag";
        if (!e->delta && ((uint64_t)e->blob_page + e->npages) * m->block_size > LV_BLOB_MAX)
            return "page run past the largest blob";
        if (e->delta && (((uint64_t)e->base_page + e->npages) * m->block_size > LV_BLOB_MAX ||
                         (uint64_t)e->blob_page + e->npages > LV_PGDELTA_MAX_FRAMES))
            return "delta run past the largest blob or the frame limit";
    }
    if (next != pages)
        return "page runs do not cover the file";
    return NULL;
}

static const char *check_manifest(const lv_pgman *m)
{
    if (version_of(m) < 1 || version_of(m) > LV_PGMAN_VERSION)
        return "unknown version";
    if (m->type != LV_PGB_FULL && m->type != LV_PGB_INCR)
        return "unknown backup type";
    if (m->block_size < 1 || m->block_size > 32768 || (m->block_size & (m->block_size - 1)))
        return "block size not a power of two up to 32 KiB";
    if (!m->label || !text_ok(m->label, strlen(m->label), NAME_MAX_LEN))
        return "invalid label";
    if (!m->backup_label || !text_ok(m->backup_label, strlen(m->backup_label), TEXT_MAX_LEN) ||
        !m->tablespace_map || !text_ok(m->tablespace_map, strlen(m->tablespace_map), TEXT_MAX_LEN))
        return "backup_label or tablespace_map too long";
    if ((m->ntablespaces && !m->tablespaces) || (m->nfiles && !m->files) || (m->nbad_pages && !m->bad_pages) ||
        (m->ndatabases && !m->databases))
        return "list missing";
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        const lv_pgman_tablespace *t = &m->tablespaces[i];
        if (!t->name || !t->location || strlen(t->name) > NAME_MAX_LEN || strlen(t->location) > PATH_MAX_LEN)
            return "invalid tablespace name or location";
    }
    for (uint32_t i = 0; i < m->nfiles; i++) {
        const char *why = check_file(m, &m->files[i]);
        if (why)
            return why;
        if (i && strcmp(m->files[i - 1].path, m->files[i].path) /* bytewise */ >= 0)
            return "paths not strictly increasing";
    }
    for (uint32_t i = 0; i < m->nbad_pages; i++)
        if (m->bad_pages[i].file_index >= m->nfiles)
            return "bad page names no file";
    for (uint32_t i = 0; i < m->ndatabases; i++) {
        const lv_pgman_database *d = &m->databases[i];
        if (!d->name || strlen(d->name) > NAME_MAX_LEN || (d->nrelations && !d->relations))
            return "invalid database";
        for (uint32_t j = 0; j < d->nrelations; j++) {
            const lv_pgman_relation *rel = &d->relations[j];
            if (!rel->schema || !rel->name || strlen(rel->schema) > NAME_MAX_LEN || strlen(rel->name) > NAME_MAX_LEN)
                return "invalid relation name";
        }
    }
    if (m->rows_seed > 1 || (m->rows_seed && (version_of(m) < 3 || (!m->rows_lsn && !m->seed_lsn))))
        return "invalid rows_seed";
    if (m->npending && (version_of(m) < 4 || !m->rows_seed || !m->rows_lsn || m->seed_lsn || !m->pending))
        return "pending rows without rows_seed and rows_lsn, or with seed_lsn";
    if (m->seed_lsn && (version_of(m) < 4 || !m->rows_seed))
        return "seed_lsn without rows_seed";
    for (uint32_t i = 0; i < m->ndatabases; i++) {
        const lv_pgman_snapshot *sn = &m->databases[i].snap;
        if (!m->seed_lsn != !sn->xmax)
            return "a database's snapshot without seed_lsn, or none with it";
        if (sn->xmin > sn->xmax || (sn->nxip && !sn->xip))
            return "invalid snapshot";
        for (uint32_t k = 0; k < sn->nxip; k++)
            if (sn->xip[k] < sn->xmin || sn->xip[k] >= sn->xmax || (k && sn->xip[k] <= sn->xip[k - 1]))
                return "invalid snapshot";
    }
    for (uint32_t i = 0; i < m->npending; i++) {
        const lv_pgman_pending *p = &m->pending[i];
        if (p->xid < 3 || !p->rows)
            return "invalid pending rows";
        if (i && lv_pgman_pending_cmp(&m->pending[i - 1], p) >= 0)
            return "pending rows not sorted";
    }
    return NULL;
}

/* ---- encoding --------------------------------------------------------------------------------- */

static void put8(lv_buf *o, uint8_t v) { lv_buf_append(o, &v, 1); }
static void putstr(lv_buf *o, const char *s)
{
    size_t n = strlen(s);
    lv_buf_put_le32(o, (uint32_t)n);
    lv_buf_append(o, s, n);
}

int lv_pgman_encode(const lv_pgman *m, lv_buf *out)
{
    const char *why = check_manifest(m);
    if (why)
        return lv_err(LV_ERR_INTERNAL, "pg manifest to encode is invalid: %s", why);
    lv_buf_append(out, LV_PGMAN_MAGIC, 4);
    put8(out, (uint8_t)version_of(m));
    put8(out, m->type);
    lv_buf_put_le64(out, m->sysid);
    lv_buf_put_le32(out, m->pg_version);
    lv_buf_put_le32(out, m->timeline);
    lv_buf_put_le32(out, m->block_size);
    lv_buf_put_le32(out, m->segment_blocks);
    lv_buf_put_le32(out, m->wal_segment_size);
    put8(out, m->data_checksums);
    lv_buf_put_le64(out, m->start_lsn);
    lv_buf_put_le64(out, m->stop_lsn);
    lv_buf_put_le64(out, (uint64_t)m->start_time);
    lv_buf_put_le64(out, (uint64_t)m->stop_time);
    lv_buf_append(out, m->prev_id, LV_HASH_LEN);
    lv_buf_put_le64(out, m->prev_start_lsn);
    putstr(out, m->label);
    putstr(out, m->backup_label);
    putstr(out, m->tablespace_map);
    lv_buf_put_le32(out, m->ntablespaces);
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        lv_buf_put_le32(out, m->tablespaces[i].oid);
        putstr(out, m->tablespaces[i].name);
        putstr(out, m->tablespaces[i].location);
    }
    lv_buf_put_le32(out, m->nfiles);
    for (uint32_t i = 0; i < m->nfiles; i++) {
        const lv_pgman_file *f = &m->files[i];
        putstr(out, f->path);
        put8(out, f->kind);
        lv_buf_put_le32(out, f->mode);
        lv_buf_put_le64(out, (uint64_t)f->mtime);
        lv_buf_put_le64(out, f->size);
        lv_buf_put_le32(out, f->nextents);
        for (uint32_t j = 0; j < f->nextents; j++) {
            const lv_pgman_extent *e = &f->extents[j];
            if (f->kind == LV_PGF_PAGES) {
                lv_buf_put_le32(out, e->first_page);
                lv_buf_put_le32(out, e->npages);
                lv_buf_append(out, e->blob, LV_HASH_LEN);
                lv_buf_put_le32(out, e->blob_page);
                if (version_of(m) >= 2) {
                    put8(out, e->delta);
                    if (e->delta) {
                        lv_buf_append(out, e->base_blob, LV_HASH_LEN);
                        lv_buf_put_le32(out, e->base_page);
                    }
                }
            } else {
                lv_buf_append(out, e->blob, LV_HASH_LEN);
                lv_buf_put_le32(out, e->length);
            }
        }
    }
    lv_buf_put_le32(out, m->nbad_pages);
    for (uint32_t i = 0; i < m->nbad_pages; i++) {
        lv_buf_put_le32(out, m->bad_pages[i].file_index);
        lv_buf_put_le32(out, m->bad_pages[i].page);
    }
    lv_buf_put_le32(out, m->ndatabases);
    for (uint32_t i = 0; i < m->ndatabases; i++) {
        const lv_pgman_database *d = &m->databases[i];
        lv_buf_put_le32(out, d->oid);
        putstr(out, d->name);
        lv_buf_put_le32(out, d->nrelations);
        for (uint32_t j = 0; j < d->nrelations; j++) {
            const lv_pgman_relation *rel = &d->relations[j];
            lv_buf_put_le32(out, rel->oid);
            lv_buf_put_le32(out, rel->relfilenode);
            lv_buf_put_le32(out, rel->tablespace);
            put8(out, rel->relkind);
            lv_buf_put_le64(out, (uint64_t)rel->rows);
            putstr(out, rel->schema);
            putstr(out, rel->name);
        }
    }
    lv_buf_put_le64(out, m->rows_lsn);
    if (version_of(m) >= 3)
        put8(out, m->rows_seed);
    if (version_of(m) >= 4) {
        lv_buf_put_le32(out, m->npending);
        for (uint32_t i = 0; i < m->npending; i++) {
            const lv_pgman_pending *p = &m->pending[i];
            lv_buf_put_le32(out, p->xid);
            lv_buf_put_le32(out, p->tablespace);
            lv_buf_put_le32(out, p->database);
            lv_buf_put_le32(out, p->relfilenode);
            lv_buf_put_le64(out, (uint64_t)p->rows);
        }
        lv_buf_put_le64(out, m->seed_lsn);
        for (uint32_t i = 0; i < m->ndatabases; i++) {
            const lv_pgman_snapshot *sn = &m->databases[i].snap;
            lv_buf_put_le64(out, sn->xmin);
            lv_buf_put_le64(out, sn->xmax);
            lv_buf_put_le32(out, sn->nxip);
            for (uint32_t k = 0; k < sn->nxip; k++)
                lv_buf_put_le64(out, sn->xip[k]);
        }
    }
    return LV_OK;
}

/* ---- parsing ---------------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    int bad;
} rd;

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static const uint8_t *take(rd *r, size_t n)
{
    if (r->bad || left(r) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static uint8_t get8(rd *r)
{
    const uint8_t *q = take(r, 1);
    return q ? q[0] : 0;
}
static uint32_t get32(rd *r)
{
    const uint8_t *q = take(r, 4);
    return q ? lv_le32_get(q) : 0;
}
static uint64_t get64(rd *r)
{
    const uint8_t *q = take(r, 8);
    return q ? lv_le64_get(q) : 0;
}
static void getraw(rd *r, uint8_t *dst, size_t n)
{
    const uint8_t *q = take(r, n);
    if (q)
        memcpy(dst, q, n);
}

/* A string of at most max bytes without NUL, as a new C string (NULL when bad). */
static char *getstr(rd *r, size_t max)
{
    uint32_t n = get32(r);
    if (r->bad)
        return NULL;
    if (n > max || n > left(r)) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = take(r, n);
    if (n && memchr(q, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = lv_xmalloc((size_t)n + 1);
    if (n)
        memcpy(s, q, n);
    s[n] = '\0';
    return s;
}

/* A count whose elements take at least min bytes each: must fit in what is left. */
static uint32_t getcount(rd *r, size_t min)
{
    uint32_t n = get32(r);
    if (!r->bad && n > left(r) / min)
        r->bad = 1;
    return r->bad ? 0 : n;
}

static void parse_files(rd *r, lv_pgman *m)
{
    m->nfiles = getcount(r, FILE_MIN);
    if (!m->nfiles)
        return;
    m->files = lv_xcalloc(m->nfiles, sizeof *m->files);
    for (uint32_t i = 0; i < m->nfiles && !r->bad; i++) {
        lv_pgman_file *f = &m->files[i];
        f->path = getstr(r, PATH_MAX_LEN);
        f->kind = get8(r);
        f->mode = get32(r);
        f->mtime = (int64_t)get64(r);
        f->size = get64(r);
        if (r->bad)
            return;
        if (f->kind != LV_PGF_WHOLE && f->kind != LV_PGF_PAGES) {
            r->bad = 1;
            return;
        }
        f->nextents = getcount(r, f->kind == LV_PGF_PAGES ? PAGES_SIZE + (m->version >= 2) : WHOLE_SIZE);
        if (!f->nextents)
            continue;
        f->extents = lv_xcalloc(f->nextents, sizeof *f->extents);
        for (uint32_t j = 0; j < f->nextents && !r->bad; j++) {
            lv_pgman_extent *e = &f->extents[j];
            if (f->kind == LV_PGF_PAGES) {
                e->first_page = get32(r);
                e->npages = get32(r);
                getraw(r, e->blob, LV_HASH_LEN);
                e->blob_page = get32(r);
                if (m->version >= 2) {
                    e->delta = get8(r);
                    if (e->delta) {
                        getraw(r, e->base_blob, LV_HASH_LEN);
                        e->base_page = get32(r);
                    }
                }
            } else {
                getraw(r, e->blob, LV_HASH_LEN);
                e->length = get32(r);
            }
        }
    }
}

static void parse_databases(rd *r, lv_pgman *m)
{
    m->ndatabases = getcount(r, DB_MIN);
    if (!m->ndatabases)
        return;
    m->databases = lv_xcalloc(m->ndatabases, sizeof *m->databases);
    for (uint32_t i = 0; i < m->ndatabases && !r->bad; i++) {
        lv_pgman_database *d = &m->databases[i];
        d->oid = get32(r);
        d->name = getstr(r, NAME_MAX_LEN);
        d->nrelations = getcount(r, REL_MIN);
        if (!d->nrelations)
            continue;
        d->relations = lv_xcalloc(d->nrelations, sizeof *d->relations);
        for (uint32_t j = 0; j < d->nrelations && !r->bad; j++) {
            lv_pgman_relation *rel = &d->relations[j];
            rel->oid = get32(r);
            rel->relfilenode = get32(r);
            rel->tablespace = get32(r);
            rel->relkind = get8(r);
            rel->rows = (int64_t)get64(r);
            rel->schema = getstr(r, NAME_MAX_LEN);
            rel->name = getstr(r, NAME_MAX_LEN);
        }
    }
}

int lv_pgman_parse(const uint8_t *buf, size_t len, lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    rd rr = {buf, buf + len, 0}, *r = &rr;
    if (len == 0)
        rr.p = rr.end = NULL; /* an empty view may have no pointer */
    const uint8_t *magic = take(r, 4);
    if (!magic || memcmp(magic, LV_PGMAN_MAGIC, 4) != 0) {
        return lv_err(LV_ERR_CORRUPT, "pg manifest: bad magic");
    }
    uint8_t version = get8(r);
    if (!r->bad && (version < 1 || version > LV_PGMAN_VERSION))
        return lv_err(LV_ERR_CORRUPT, "pg manifest: unknown version %u", version);
    m->version = version;
    m->type = get8(r);
    m->sysid = get64(r);
    m->pg_version = get32(r);
    m->timeline = get32(r);
    m->block_size = get32(r);
    m->segment_blocks = get32(r);
    m->wal_segment_size = get32(r);
    m->data_checksums = get8(r);
    m->start_lsn = get64(r);
    m->stop_lsn = get64(r);
    m->start_time = (int64_t)get64(r);
    m->stop_time = (int64_t)get64(r);
    getraw(r, m->prev_id, LV_HASH_LEN);
    m->prev_start_lsn = get64(r);
    m->label = getstr(r, NAME_MAX_LEN);
    m->backup_label = getstr(r, TEXT_MAX_LEN);
    m->tablespace_map = getstr(r, TEXT_MAX_LEN);
    m->ntablespaces = getcount(r, TS_MIN);
    if (m->ntablespaces) {
        m->tablespaces = lv_xcalloc(m->ntablespaces, sizeof *m->tablespaces);
        for (uint32_t i = 0; i < m->ntablespaces && !r->bad; i++) {
            m->tablespaces[i].oid = get32(r);
            m->tablespaces[i].name = getstr(r, NAME_MAX_LEN);
            m->tablespaces[i].location = getstr(r, PATH_MAX_LEN);
        }
    }
    parse_files(r, m);
    m->nbad_pages = getcount(r, BAD_SIZE);
    if (m->nbad_pages) {
        m->bad_pages = lv_xcalloc(m->nbad_pages, sizeof *m->bad_pages);
        for (uint32_t i = 0; i < m->nbad_pages; i++) {
            m->bad_pages[i].file_index = get32(r);
            m->bad_pages[i].page = get32(r);
        }
    }
    parse_databases(r, m);
    m->rows_lsn = get64(r);
    if (version >= 3)
        m->rows_seed = get8(r);
    if (version >= 4) {
        m->npending = getcount(r, PENDING_SIZE);
        if (m->npending) {
            m->pending = lv_xcalloc(m->npending, sizeof *m->pending);
            for (uint32_t i = 0; i < m->npending; i++) {
                lv_pgman_pending *p = &m->pending[i];
                p->xid = get32(r);
                p->tablespace = get32(r);
                p->database = get32(r);
                p->relfilenode = get32(r);
                p->rows = (int64_t)get64(r);
            }
        }
        m->seed_lsn = get64(r);
        for (uint32_t i = 0; i < m->ndatabases && !r->bad; i++) {
            lv_pgman_snapshot *sn = &m->databases[i].snap;
            sn->xmin = get64(r);
            sn->xmax = get64(r);
            sn->nxip = getcount(r, 8);
            if (sn->nxip) {
                sn->xip = lv_xcalloc(sn->nxip, sizeof *sn->xip);
                for (uint32_t k = 0; k < sn->nxip; k++)
                    sn->xip[k] = get64(r);
            }
        }
    }
    const char *why = NULL;
    if (r->bad)
        why = "truncated or a field out of bounds";
    else if (r->p != r->end)
        why = "bytes after the end";
    else
        why = check_manifest(m);
    if (why) {
        lv_pgman_free(m);
        return lv_err(LV_ERR_CORRUPT, "pg manifest: %s", why);
    }
    return LV_OK;
}

void lv_pgman_free_files(lv_pgman *m)
{
    for (uint32_t i = 0; m->files && i < m->nfiles; i++) {
        free(m->files[i].path);
        free(m->files[i].extents);
    }
    free(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

void lv_pgman_free(lv_pgman *m)
{
    free(m->label);
    free(m->backup_label);
    free(m->tablespace_map);
    for (uint32_t i = 0; m->tablespaces && i < m->ntablespaces; i++) {
        free(m->tablespaces[i].name);
        free(m->tablespaces[i].location);
    }
    free(m->tablespaces);
    lv_pgman_free_files(m);
    free(m->bad_pages);
    for (uint32_t i = 0; m->databases && i < m->ndatabases; i++) {
        lv_pgman_database *d = &m->databases[i];
        for (uint32_t j = 0; d->relations && j < d->nrelations; j++) {
            free(d->relations[j].schema);
            free(d->relations[j].name);
        }
        free(d->relations);
        free(d->name);
        free(d->snap.xip);
    }
    free(m->databases);
    free(m->pending);
    memset(m, 0, sizeof *m);
}

long lv_pgman_find(const lv_pgman *m, const char *path)
{
    size_t lo = 0, hi = m->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->files[mid].path, path);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int lv_pgman_load(const struct lv_repo *r, const char *id_hex, lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    lv_manifest mf;
    int rc = lv_manifest_read(r, id_hex, &mf);
    if (rc != LV_OK)
        return rc;
    if (strcmp(mf.kind, LV_PGMAN_KIND) != 0) {
        rc = lv_err(LV_ERR_NOT_FOUND, "manifest %s is a \"%s\" manifest, not a PostgreSQL backup", id_hex, mf.kind);
    } else if ((rc = lv_pgman_parse(mf.body, mf.body_len, m)) != LV_OK) {
        lv_err_ctx("manifests/%s", id_hex);
    }
    lv_manifest_free(&mf);
    return rc;
}

/* ---- repo check ------------------------------------------------------------------------------- */

static int pg_refs(const lv_repo *r, const lv_manifest *mf, lv_manifest_emit_fn emit, void *emit_arg)
{
    (void)r;
    lv_pgman m;
    int rc = lv_pgman_parse(mf->body, mf->body_len, &m);
    if (rc != LV_OK)
        return lv_err_ctx("manifests/%s", mf->id);
    for (uint32_t i = 0; i < m.nfiles && rc == LV_OK; i++)
        for (uint32_t j = 0; j < m.files[i].nextents && rc == LV_OK; j++) {
            rc = emit(emit_arg, m.files[i].extents[j].blob);
            if (rc == LV_OK && m.files[i].extents[j].delta)
                rc = emit(emit_arg, m.files[i].extents[j].base_blob);
        }
    lv_pgman_free(&m);
    return rc;
}

/* The backup's WAL range, from the fixed fields at the start of the body (no need to parse the files). */
static int pg_wal(const lv_manifest *mf, lv_manifest_wal *w)
{
    rd rr = {mf->body, mf->body + mf->body_len, 0}, *r = &rr;
    if (!mf->body)
        rr.p = rr.end = NULL;
    const uint8_t *magic = take(r, 4);
    if (!magic || memcmp(magic, LV_PGMAN_MAGIC, 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "manifests/%s: pg manifest: bad magic", mf->id);
    take(r, 1 + 1 + 8 + 4); /* version, type, sysid, pg_version */
    w->tli = get32(r);
    take(r, 4 + 4); /* block_size, segment_blocks */
    w->seg_size = get32(r);
    take(r, 1); /* data_checksums */
    w->start_lsn = get64(r);
    w->stop_lsn = get64(r);
    if (r->bad || w->tli == 0 || w->stop_lsn < w->start_lsn || w->seg_size < (1u << 20) ||
        (w->seg_size & (w->seg_size - 1)) != 0)
        return lv_err(LV_ERR_CORRUPT, "manifests/%s: pg manifest: malformed WAL range", mf->id);
    return LV_OK;
}

void lv_pgman_register(void)
{
    lv_manifest_register_kind(LV_PGMAN_KIND, pg_refs);
    lv_manifest_register_wal(LV_PGMAN_KIND, pg_wal);
}
