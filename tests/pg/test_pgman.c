/* The pg manifest body codec (pg/manifest.h): round trip, lookup, and every rejection rule of the
 * strict parser. Rejections are built with raw_encode, a test-only writer that follows the layout but
 * checks nothing, so each broken rule reaches the parser as bytes (and the real encoder must refuse the
 * same struct with LV_ERR_INTERNAL).
 *
 * `test_pgman --corpus DIR` writes the fuzz seed inputs (tests/fuzz/corpus/pgman/) instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "repo/manifest.h"
#include "pg/manifest.h"
#include "repo/pack.h"
#include "tests/check.h"

/* -Wwrite-strings: the struct holds char *, so literals go through a pool freed at exit. */
static char *pool[2048];
static size_t npool;
static char *S(const char *s)
{
    if (npool == sizeof pool / sizeof *pool)
        abort();
    return pool[npool++] = lv_xstrdup(s);
}
static void pool_free(void)
{
    while (npool)
        free(pool[--npool]);
}

static void p8(lv_buf *o, uint8_t v) { lv_buf_append(o, &v, 1); }
static void p32(lv_buf *o, uint32_t v)
{
    uint8_t b[4];
    lv_le32_put(b, v);
    lv_buf_append(o, b, 4);
}
static void p64(lv_buf *o, uint64_t v)
{
    uint8_t b[8];
    lv_le64_put(b, v);
    lv_buf_append(o, b, 8);
}
static void ps(lv_buf *o, const char *s)
{
    p32(o, (uint32_t)strlen(s));
    lv_buf_append(o, s, strlen(s));
}

static void raw_encode(const lv_pgman *m, lv_buf *o)
{
    unsigned version = m->version ? m->version : 4;
    lv_buf_append(o, "LVPG", 4);
    p8(o, (uint8_t)version);
    p8(o, m->type);
    p64(o, m->sysid);
    p32(o, m->pg_version);
    p32(o, m->timeline);
    p32(o, m->block_size);
    p32(o, m->segment_blocks);
    p32(o, m->wal_segment_size);
    p8(o, m->data_checksums);
    p64(o, m->start_lsn);
    p64(o, m->stop_lsn);
    p64(o, (uint64_t)m->start_time);
    p64(o, (uint64_t)m->stop_time);
    lv_buf_append(o, m->prev_id, 32);
    p64(o, m->prev_start_lsn);
    ps(o, m->label);
    ps(o, m->backup_label);
    ps(o, m->tablespace_map);
    p32(o, m->ntablespaces);
    for (uint32_t i = 0; i < m->ntablespaces; i++) {
        p32(o, m->tablespaces[i].oid);
        ps(o, m->tablespaces[i].name);
        ps(o, m->tablespaces[i].location);
    }
    p32(o, m->nfiles);
    for (uint32_t i = 0; i < m->nfiles; i++) {
        const lv_pgman_file *f = &m->files[i];
        ps(o, f->path);
        p8(o, f->kind);
        p32(o, f->mode);
        p64(o, (uint64_t)f->mtime);
        p64(o, f->size);
        p32(o, f->nextents);
        for (uint32_t j = 0; j < f->nextents; j++) {
            const lv_pgman_extent *e = &f->extents[j];
            if (f->kind == LV_PGF_PAGES) {
                p32(o, e->first_page);
                p32(o, e->npages);
                lv_buf_append(o, e->blob, 32);
                p32(o, e->blob_page);
                if (version >= 2) {
                    p8(o, e->delta);
                    if (e->delta) {
                        lv_buf_append(o, e->base_blob, 32);
                        p32(o, e->base_page);
                    }
                }
            } else {
                lv_buf_append(o, e->blob, 32);
                p32(o, e->length);
            }
        }
    }
    p32(o, m->nbad_pages);
    for (uint32_t i = 0; i < m->nbad_pages; i++) {
        p32(o, m->bad_pages[i].file_index);
        p32(o, m->bad_pages[i].page);
    }
    p32(o, m->ndatabases);
    for (uint32_t i = 0; i < m->ndatabases; i++) {
        const lv_pgman_database *d = &m->databases[i];
        p32(o, d->oid);
        ps(o, d->name);
        p32(o, d->nrelations);
        for (uint32_t j = 0; j < d->nrelations; j++) {
            const lv_pgman_relation *r = &d->relations[j];
            p32(o, r->oid);
            p32(o, r->relfilenode);
            p32(o, r->tablespace);
            p8(o, r->relkind);
            p64(o, (uint64_t)r->rows);
            ps(o, r->schema);
            ps(o, r->name);
        }
    }
    p64(o, m->rows_lsn);
    if (version >= 3)
        p8(o, m->rows_seed);
    if (version >= 4) {
        p32(o, m->npending);
        for (uint32_t i = 0; i < m->npending; i++) {
            p32(o, m->pending[i].xid);
            p32(o, m->pending[i].tablespace);
            p32(o, m->pending[i].database);
            p32(o, m->pending[i].relfilenode);
            p64(o, (uint64_t)m->pending[i].rows);
        }
        p64(o, m->seed_lsn);
        for (uint32_t i = 0; i < m->ndatabases; i++) {
            p64(o, m->databases[i].snap.xmin);
            p64(o, m->databases[i].snap.xmax);
            p32(o, m->databases[i].snap.nxip);
            for (uint32_t k = 0; k < m->databases[i].snap.nxip; k++)
                p64(o, m->databases[i].snap.xip[k]);
        }
    }
}

/* A sample incremental backup: three files (whole, pages in two runs, a tablespace file), one
 * tablespace, one bad page, one database with two relations. Static storage: mutate and restore. */
static lv_pgman_extent ext_whole[2], ext_pages[2], ext_ts[1];
static lv_pgman_file files[3];
static lv_pgman_tablespace ts[1];
static lv_pgman_bad_page bad[1];
static lv_pgman_relation rels[2];
static lv_pgman_database dbs[1];
static lv_pgman_pending pend[3];
static uint64_t snap_xip[2];
static char path0[64], path1[64], path2[64], label[64];

static void sample(lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    strcpy(path0, "PG_VERSION");
    strcpy(path1, "base/5/16384");
    strcpy(path2, "pg_tblspc/16400/PG_15_202209061/5/16401");
    strcpy(label, "nightly");
    m->type = LV_PGB_INCR;
    m->sysid = 7301234567890123456ull;
    m->pg_version = 150004;
    m->timeline = 1;
    m->block_size = 8192;
    m->segment_blocks = 131072;
    m->wal_segment_size = 16u << 20;
    m->data_checksums = 1;
    m->start_lsn = 0x3000028;
    m->stop_lsn = 0x3000100;
    m->start_time = 1790000000;
    m->stop_time = 1790000060;
    memset(m->prev_id, 0xab, sizeof m->prev_id);
    m->prev_start_lsn = 0x2000028;
    m->label = label;
    m->backup_label = S("START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n");
    m->tablespace_map = S("16400 /srv/ts1\n");
    ts[0] = (lv_pgman_tablespace){16400, S("ts1"), S("/srv/ts1")};
    m->tablespaces = ts;
    m->ntablespaces = 1;
    memset(&ext_whole, 0, sizeof ext_whole);
    memset(ext_whole[0].blob, 1, 32);
    ext_whole[0].length = 2;
    memset(ext_whole[1].blob, 2, 32);
    ext_whole[1].length = 1;
    files[0] = (lv_pgman_file){path0, LV_PGF_WHOLE, 0600, 1790000001, 3, ext_whole, 2};
    memset(&ext_pages, 0, sizeof ext_pages);
    ext_pages[0].first_page = 0;
    ext_pages[0].npages = 128;
    memset(ext_pages[0].blob, 3, 32);
    ext_pages[1].first_page = 128;
    ext_pages[1].npages = 2;
    ext_pages[1].blob_page = 7;
    memset(ext_pages[1].blob, 4, 32);
    files[1] = (lv_pgman_file){path1, LV_PGF_PAGES, 0600, 1790000002, 130 * 8192, ext_pages, 2};
    memset(&ext_ts, 0, sizeof ext_ts);
    ext_ts[0].npages = 1;
    memset(ext_ts[0].blob, 5, 32);
    ext_ts[0].delta = 1; /* a delta run: frame 0 of blob 5 patches page 3 of blob 6 */
    memset(ext_ts[0].base_blob, 6, 32);
    ext_ts[0].base_page = 3;
    files[2] = (lv_pgman_file){path2, LV_PGF_PAGES, 0600, 1790000003, 8192, ext_ts, 1};
    m->files = files;
    m->nfiles = 3;
    bad[0] = (lv_pgman_bad_page){1, 129};
    m->bad_pages = bad;
    m->nbad_pages = 1;
    rels[0] = (lv_pgman_relation){16384, 16384, 1663, 'r', 200000, S("public"), S("pgbench_accounts")};
    rels[1] = (lv_pgman_relation){16401, 16401, 16400, 'i', -1, S("public"), S("idx")};
    dbs[0] = (lv_pgman_database){.oid = 5, .name = S("postgres"), .relations = rels, .nrelations = 2};
    m->databases = dbs;
    m->ndatabases = 1;
    m->rows_lsn = 0x3000100;
    m->rows_seed = 1;
    pend[0] = (lv_pgman_pending){700, 1663, 5, 16384, 100};
    pend[1] = (lv_pgman_pending){700, 1663, 5, 16390, -3};
    pend[2] = (lv_pgman_pending){4000000000u, 1663, 5, 16384, 1};
    m->pending = pend;
    m->npending = 3;
    m->seed_lsn = 0;
    dbs[0].snap = (lv_pgman_snapshot){0, 0, NULL, 0};
}

static void expect_bytes_rejected(const uint8_t *p, size_t n, const char *what)
{
    lv_pgman out;
    int rc = lv_pgman_parse(p, n, &out);
    int zero = 1;
    for (size_t i = 0; i < sizeof out; i++)
        zero &= ((const uint8_t *)&out)[i] == 0;
    CHECK(rc == LV_ERR_CORRUPT && zero && strncmp(lv_errmsg(), "pg manifest: ", 13) == 0,
          "parse rejects %s (%s)", what, lv_errmsg());
}

/* Both the parser and the encoder refuse m. */
static void expect_rejected(const lv_pgman *m, const char *what)
{
    lv_buf raw = LV_BUF_INIT, enc = LV_BUF_INIT;
    raw_encode(m, &raw);
    expect_bytes_rejected(raw.data, raw.len, what);
    int erc = lv_pgman_encode(m, &enc);
    CHECK(erc == LV_ERR_INTERNAL && enc.len == 0, "encode refuses %s", what);
    lv_buf_free(&raw);
    lv_buf_free(&enc);
}

static void test_round_trip(void)
{
    lv_pgman m, p;
    sample(&m);
    lv_buf a = LV_BUF_INIT, b = LV_BUF_INIT, raw = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &a) == LV_OK, "encode the sample");
    raw_encode(&m, &raw);
    CHECK(a.len == raw.len && memcmp(a.data, raw.data, a.len) == 0, "encoding is the documented layout");
    CHECK(lv_pgman_parse(a.data, a.len, &p) == LV_OK, "parse it back (%s)", lv_errmsg());
    CHECK(p.type == LV_PGB_INCR && p.sysid == m.sysid && p.pg_version == 150004 && p.block_size == 8192 &&
              p.stop_lsn == 0x3000100 && p.stop_time == 1790000060 && p.prev_id[31] == 0xab &&
              p.rows_lsn == 0x3000100,
          "header fields survive");
    CHECK(strcmp(p.label, "nightly") == 0 && strcmp(p.tablespace_map, m.tablespace_map) == 0 &&
              p.ntablespaces == 1 && strcmp(p.tablespaces[0].location, "/srv/ts1") == 0,
          "strings and tablespaces survive");
    CHECK(p.nfiles == 3 && p.files[1].kind == LV_PGF_PAGES && p.files[1].extents[1].blob_page == 7 &&
              p.files[1].extents[1].blob[0] == 4 && p.files[0].extents[0].length == 2 &&
              p.files[0].extents[1].first_page == 0,
          "files and extents survive");
    CHECK(p.version == 4 && p.files[2].extents[0].delta == 1 && p.files[2].extents[0].base_blob[0] == 6 &&
              p.files[2].extents[0].base_page == 3 && p.files[1].extents[1].delta == 0,
          "delta runs survive with their base");
    CHECK(p.nbad_pages == 1 && p.bad_pages[0].page == 129 && p.ndatabases == 1 &&
              p.databases[0].nrelations == 2 && p.databases[0].relations[1].rows == -1 &&
              p.databases[0].relations[1].relkind == 'i' &&
              strcmp(p.databases[0].relations[0].name, "pgbench_accounts") == 0,
          "bad pages and the relation map survive");
    CHECK(p.rows_seed == 1, "version 3: rows_seed survives");
    CHECK(p.npending == 3 && p.pending[1].xid == 700 && p.pending[1].relfilenode == 16390 && p.pending[1].rows == -3 &&
              p.pending[2].xid == 4000000000u && p.pending[0].tablespace == 1663 && p.pending[0].database == 5,
          "version 4: the pending rows survive");
    CHECK(lv_pgman_encode(&p, &b) == LV_OK && b.len == a.len && memcmp(a.data, b.data, a.len) == 0,
          "re-encode gives the same bytes");
    CHECK(lv_pgman_find(&p, "PG_VERSION") == 0 && lv_pgman_find(&p, "base/5/16384") == 1 &&
              lv_pgman_find(&p, "pg_tblspc/16400/PG_15_202209061/5/16401") == 2 &&
              lv_pgman_find(&p, "base/5") == -1 && lv_pgman_find(&p, "zzz") == -1 && lv_pgman_find(&p, "A") == -1,
          "find by path");
    lv_pgman_free(&p);
    CHECK(p.files == NULL && p.nfiles == 0, "free zeroes");

    /* An empty full backup: no lists at all. */
    lv_pgman e;
    memset(&e, 0, sizeof e);
    e.block_size = 8192;
    e.label = S("");
    e.backup_label = S("");
    e.tablespace_map = S("");
    lv_buf_reset(&a);
    lv_buf_reset(&b);
    CHECK(lv_pgman_encode(&e, &a) == LV_OK && a.len == 107 + 12 + 16 + 8 + 1 + 4 + 8, "empty manifest encodes (%zu bytes)",
          a.len);
    CHECK(lv_pgman_parse(a.data, a.len, &p) == LV_OK && p.nfiles == 0 && p.files == NULL &&
              lv_pgman_find(&p, "x") == -1 && lv_pgman_encode(&p, &b) == LV_OK && b.len == a.len &&
              memcmp(a.data, b.data, a.len) == 0,
          "empty manifest round trip");
    lv_pgman_free(&p);

    /* Every prefix of the sample is truncated; one byte more is trailing garbage. */
    int all = 1;
    for (size_t n = 0; n < raw.len; n++) {
        lv_pgman q;
        if (lv_pgman_parse(raw.data, n, &q) != LV_ERR_CORRUPT)
            all = 0;
    }
    CHECK(all, "every proper prefix is rejected");
    lv_buf_append(&raw, "", 1);
    expect_bytes_rejected(raw.data, raw.len, "a trailing byte");
    expect_bytes_rejected(NULL, 0, "empty input");
    lv_buf_free(&a);
    lv_buf_free(&b);
    lv_buf_free(&raw);
}

static void test_header_rules(void)
{
    lv_pgman m;
    lv_buf raw = LV_BUF_INIT;
    sample(&m);
    raw_encode(&m, &raw);
    raw.data[0] = 'X';
    expect_bytes_rejected(raw.data, raw.len, "bad magic");
    raw.data[0] = 'L';
    raw.data[4] = 5;
    expect_bytes_rejected(raw.data, raw.len, "unknown version");
    CHECK(strstr(lv_errmsg(), "version 5") != NULL, "message names the version");
    raw.data[4] = 3;
    expect_bytes_rejected(raw.data, raw.len, "version 3 bytes with version 4's pending rows");
    raw.data[4] = 2;
    expect_bytes_rejected(raw.data, raw.len, "version 2 bytes with version 3's rows_seed");
    raw.data[4] = 1;
    expect_bytes_rejected(raw.data, raw.len, "version 1 bytes with version 2 runs");
    lv_buf_free(&raw);

    /* Version 3 (before pending rows) still parses and re-encodes as itself. */
    sample(&m);
    m.npending = 0;
    m.version = 3;
    lv_buf v3 = LV_BUF_INIT, again3 = LV_BUF_INIT;
    raw_encode(&m, &v3);
    lv_pgman p3;
    CHECK(lv_pgman_parse(v3.data, v3.len, &p3) == LV_OK && p3.version == 3 && p3.rows_seed == 1 && p3.npending == 0,
          "a version 3 manifest parses (%s)", lv_errmsg());
    CHECK(lv_pgman_encode(&p3, &again3) == LV_OK && again3.len == v3.len && memcmp(again3.data, v3.data, v3.len) == 0,
          "... and re-encodes to the same bytes, version 3");
    lv_pgman_free(&p3);
    lv_buf_free(&v3);
    lv_buf_free(&again3);
    m.npending = 3; /* not expressible in version 3 bytes */
    CHECK(lv_pgman_encode(&m, &again3) == LV_ERR_INTERNAL && again3.len == 0,
          "encode refuses pending rows in a version 3 manifest");
    lv_buf_free(&again3);

    /* Pending rows: only with rows_seed, of normal transaction ids, not 0, sorted without repeats. */
    sample(&m);
    m.rows_seed = 0;
    expect_rejected(&m, "pending rows without rows_seed");
    sample(&m);
    pend[0].xid = 2;
    expect_rejected(&m, "a pending row of transaction id 2 (frozen)");
    sample(&m);
    pend[1].rows = 0;
    expect_rejected(&m, "a pending entry of 0 rows");
    sample(&m);
    pend[1].relfilenode = 16384;
    expect_rejected(&m, "a pending entry repeated");
    sample(&m);
    pend[1].xid = 699;
    expect_rejected(&m, "pending rows out of order");
    sample(&m);
    raw_encode(&m, &raw);
    lv_le32_put(raw.data + raw.len - 3 * 24 - 4, 4);
    expect_bytes_rejected(raw.data, raw.len, "a pending count beyond the input");
    lv_buf_free(&raw);

    /* Counts seeded from their snapshots: seed_lsn and a snapshot per database, both or neither. */
    sample(&m);
    m.npending = 0;
    m.seed_lsn = 0x2000028;
    snap_xip[0] = ((uint64_t)1 << 32) + 1002;
    snap_xip[1] = ((uint64_t)1 << 32) + 1005;
    dbs[0].snap = (lv_pgman_snapshot){((uint64_t)1 << 32) + 1000, ((uint64_t)1 << 32) + 1010, snap_xip, 2};
    lv_buf sv = LV_BUF_INIT, sv2 = LV_BUF_INIT;
    lv_pgman ps;
    CHECK(lv_pgman_encode(&m, &sv) == LV_OK && lv_pgman_parse(sv.data, sv.len, &ps) == LV_OK && ps.seed_lsn == 0x2000028 &&
              ps.databases[0].snap.xmin == ((uint64_t)1 << 32) + 1000 && ps.databases[0].snap.nxip == 2 &&
              ps.databases[0].snap.xip[1] == snap_xip[1] && lv_pgman_encode(&ps, &sv2) == LV_OK && sv2.len == sv.len &&
              memcmp(sv.data, sv2.data, sv.len) == 0,
          "seed_lsn and the databases' snapshots survive, and re-encode to the same bytes (%s)", lv_errmsg());
    lv_pgman_free(&ps);
    lv_buf_free(&sv);
    lv_buf_free(&sv2);
    m.rows_lsn = 0;
    CHECK(lv_pgman_encode(&m, &sv) == LV_OK, "seed_lsn without rows_lsn (counts not exact at the stop) is accepted");
    lv_buf_free(&sv);
    m.rows_seed = 0;
    expect_rejected(&m, "seed_lsn without rows_seed");
    m.rows_seed = 1;
    m.npending = 1;
    m.rows_lsn = 0x3000100;
    expect_rejected(&m, "pending rows with seed_lsn");
    m.npending = 0;
    m.seed_lsn = 0;
    expect_rejected(&m, "a database's snapshot without seed_lsn");
    m.seed_lsn = 0x2000028;
    snap_xip[1] = dbs[0].snap.xmax;
    expect_rejected(&m, "a snapshot's in-progress id at its xmax");
    snap_xip[1] = snap_xip[0];
    expect_rejected(&m, "a snapshot's in-progress ids repeated");
    snap_xip[1] = ((uint64_t)1 << 32) + 1005;
    dbs[0].snap.xmin = dbs[0].snap.xmax + 1;
    dbs[0].snap.nxip = 0;
    expect_rejected(&m, "a snapshot's xmin past its xmax");
    dbs[0].snap = (lv_pgman_snapshot){0, 0, NULL, 0};
    expect_rejected(&m, "seed_lsn with a database without a snapshot");
    m.version = 3;
    m.seed_lsn = 0;
    lv_buf v3s = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &v3s) == LV_OK, "version 3 without seed_lsn encodes");
    lv_buf_free(&v3s);
    m.seed_lsn = 1;
    dbs[0].snap = (lv_pgman_snapshot){1, 2, NULL, 0};
    CHECK(lv_pgman_encode(&m, &v3s) == LV_ERR_INTERNAL && v3s.len == 0, "encode refuses seed_lsn in a version 3 manifest");
    dbs[0].snap = (lv_pgman_snapshot){0, 0, NULL, 0};

    /* Version 2 (before rows_seed) still parses and re-encodes as itself. */
    sample(&m);
    m.npending = 0;
    m.rows_seed = 0;
    m.version = 2;
    lv_buf v2 = LV_BUF_INIT, again2 = LV_BUF_INIT;
    raw_encode(&m, &v2);
    lv_pgman p2;
    CHECK(lv_pgman_parse(v2.data, v2.len, &p2) == LV_OK && p2.version == 2 && p2.rows_seed == 0,
          "a version 2 manifest parses (%s)", lv_errmsg());
    CHECK(lv_pgman_encode(&p2, &again2) == LV_OK && again2.len == v2.len && memcmp(again2.data, v2.data, v2.len) == 0,
          "... and re-encodes to the same bytes, version 2");
    lv_pgman_free(&p2);
    lv_buf_free(&v2);
    lv_buf_free(&again2);
    m.rows_seed = 1; /* not expressible in version 2 bytes */
    CHECK(lv_pgman_encode(&m, &again2) == LV_ERR_INTERNAL && again2.len == 0,
          "encode refuses rows_seed in a version 2 manifest");
    lv_buf_free(&again2);

    /* rows_seed only with exact counts. */
    sample(&m);
    m.rows_seed = 2;
    expect_rejected(&m, "rows_seed 2");
    sample(&m);
    m.npending = 0;
    m.rows_lsn = 0;
    expect_rejected(&m, "rows_seed without exact counts");

    /* Version 1 (before deltas) still parses and re-encodes as itself. */
    sample(&m);
    m.npending = 0;
    m.rows_seed = 0;
    m.files[2].extents[0].delta = 0;
    m.version = 1;
    lv_buf v1 = LV_BUF_INIT, again = LV_BUF_INIT;
    raw_encode(&m, &v1);
    lv_pgman p1;
    CHECK(lv_pgman_parse(v1.data, v1.len, &p1) == LV_OK && p1.version == 1 && p1.files[2].extents[0].delta == 0,
          "a version 1 manifest parses (%s)", lv_errmsg());
    CHECK(lv_pgman_encode(&p1, &again) == LV_OK && again.len == v1.len && memcmp(again.data, v1.data, v1.len) == 0,
          "... and re-encodes to the same bytes, version 1");
    lv_pgman_free(&p1);
    lv_buf_free(&v1);
    lv_buf_free(&again);
    m.files[2].extents[0].delta = 1; /* not expressible in version 1 bytes: only the encoder can be asked */
    CHECK(lv_pgman_encode(&m, &again) == LV_ERR_INTERNAL && again.len == 0,
          "encode refuses a delta run in a version 1 manifest");
    lv_buf_free(&again);

    m.type = 2;
    expect_rejected(&m, "unknown backup type");
    sample(&m);
    m.block_size = 0;
    expect_rejected(&m, "block size 0");
    m.block_size = 3000;
    expect_rejected(&m, "block size not a power of two");
    m.block_size = 65536;
    expect_rejected(&m, "block size 64 KiB");
    sample(&m);
    char longname[1100];
    memset(longname, 'n', 1024);
    longname[1024] = '\0';
    m.label = longname;
    expect_rejected(&m, "label of 1024 bytes");
    longname[1023] = '\0';
    lv_buf ok = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "label of 1023 bytes is accepted");
    lv_buf_free(&ok);
    sample(&m);
    longname[1023] = 'n';
    ts[0].name = longname;
    expect_rejected(&m, "tablespace name of 1024 bytes");
    sample(&m);
    dbs[0].name = longname;
    expect_rejected(&m, "database name of 1024 bytes");
    sample(&m);
    rels[1].schema = longname;
    expect_rejected(&m, "schema of 1024 bytes");
    sample(&m);
    rels[0].name = longname;
    expect_rejected(&m, "relation name of 1024 bytes");
    sample(&m);

    /* A NUL inside a string (only the parser can see one). */
    raw_encode(&m, &raw);
    size_t off = 107 + 4; /* first byte of the label */
    CHECK(raw.data[off] == 'n', "label offset");
    raw.data[off + 2] = '\0';
    expect_bytes_rejected(raw.data, raw.len, "a NUL in the label");
    lv_buf_free(&raw);

    /* A string length beyond the input. */
    raw_encode(&m, &raw);
    lv_le32_put(raw.data + 107, 0xfffffff0u);
    expect_bytes_rejected(raw.data, raw.len, "a string longer than the input");
    lv_buf_free(&raw);
}

static void test_path_rules(void)
{
    static const char *const bad_paths[] = {"/base/5/1", "base//1", "base/1/", "./base", "base/./1", "base/../1",
                                            "..", "."};
    lv_pgman m;
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        sample(&m);
        files[1].path = S(bad_paths[i]);
        files[0].path = S("!"); /* sorts before every bad path, keeping the order valid */
        char what[64];
        snprintf(what, sizeof what, "path \"%s\"", bad_paths[i]);
        expect_rejected(&m, what);
    }
    sample(&m);
    files[0].path = S("");
    expect_rejected(&m, "empty path");
    sample(&m);
    char longpath[4200];
    memset(longpath, 'a', 4096);
    longpath[4096] = '\0';
    files[1].path = longpath;
    expect_rejected(&m, "path of 4096 bytes");
    longpath[4095] = '\0';
    lv_buf ok = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "path of 4095 bytes is accepted");
    lv_buf_free(&ok);
    sample(&m);
    files[1].path = files[0].path;
    expect_rejected(&m, "a repeated path");
    sample(&m);
    files[0].path = path1;
    files[1].path = path0;
    expect_rejected(&m, "paths out of order");
    sample(&m);
    files[0].path = S("a..b/.x"); /* dots inside a component are fine */
    lv_buf b2 = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &b2) == LV_OK, "\"a..b/.x\" is a valid path");
    lv_buf_free(&b2);
}

static void test_file_rules(void)
{
    lv_pgman m;
    sample(&m);
    files[0].kind = 3;
    expect_rejected(&m, "unknown file kind");
    sample(&m);
    ext_whole[0].length = 0;
    files[0].size = 1;
    expect_rejected(&m, "whole extent of 0 bytes");
    sample(&m);
    ext_whole[0].length = LV_BLOB_MAX + 1;
    files[0].size = (uint64_t)LV_BLOB_MAX + 2;
    expect_rejected(&m, "whole extent above LV_BLOB_MAX");
    sample(&m);
    files[0].size = 4;
    expect_rejected(&m, "whole extents shorter than the size");
    sample(&m);
    files[0].size = 2;
    expect_rejected(&m, "whole extents longer than the size");
    sample(&m);
    files[0].nextents = 0;
    files[0].size = 0;
    lv_buf ok = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "an empty whole file has no extents");
    lv_buf_free(&ok);

    sample(&m);
    files[1].size = 130 * 8192 + 1;
    expect_rejected(&m, "page file size not a multiple of the block size");
    sample(&m);
    ext_pages[0].npages = 0;
    expect_rejected(&m, "empty page run");
    sample(&m);
    ext_pages[0].first_page = 1;
    expect_rejected(&m, "first run not at page 0");
    sample(&m);
    ext_pages[1].first_page = 127;
    ext_pages[1].npages = 3;
    expect_rejected(&m, "overlapping runs");
    sample(&m);
    ext_pages[1].first_page = 129;
    ext_pages[1].npages = 1;
    expect_rejected(&m, "a gap between runs");
    sample(&m);
    files[1].size = 131 * 8192;
    expect_rejected(&m, "runs shorter than the file");
    sample(&m);
    files[1].size = 129 * 8192;
    expect_rejected(&m, "runs longer than the file");
    sample(&m);
    ext_pages[1].first_page = 0;
    ext_pages[0].first_page = 2;
    expect_rejected(&m, "runs out of order");
    sample(&m);
    ext_pages[1].blob_page = 0xffffffffu;
    expect_rejected(&m, "blob page past the largest blob (and u32 overflow)");
    sample(&m);
    ext_ts[0].delta = 2;
    expect_rejected(&m, "delta flag 2");
    sample(&m);
    ext_ts[0].blob_page = 1023;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "a delta run ending at the last frame is accepted");
    lv_buf_free(&ok);
    ext_ts[0].blob_page = 1024;
    expect_rejected(&m, "a delta run past the frame limit");
    sample(&m);
    ext_ts[0].base_page = LV_BLOB_MAX / 8192;
    expect_rejected(&m, "a delta run past the largest base blob");
    sample(&m);
    ext_pages[1].blob_page = LV_BLOB_MAX / 8192 - 2;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "a run ending at the largest blob's end is accepted");
    lv_buf_free(&ok);
    sample(&m);
    files[1].nextents = 0;
    files[1].size = 0;
    CHECK(lv_pgman_encode(&m, &ok) == LV_OK, "an empty page file has no runs");
    lv_buf_free(&ok);

    sample(&m);
    bad[0].file_index = 3;
    expect_rejected(&m, "bad page naming no file");

    /* Counts larger than the input allows are refused before allocating. */
    lv_buf raw = LV_BUF_INIT;
    sample(&m);
    m.nbad_pages = 0;
    m.ndatabases = 0;
    m.nfiles = 0;
    m.ntablespaces = 0;
    m.npending = 0;
    raw_encode(&m, &raw);
    size_t files_at = raw.len - 8 - 4 - 1 - 8 - 4 - 4 - 4; /* seed_lsn, pending count, rows_seed, rows_lsn,
                                                            * database, bad page and file counts */
    lv_le32_put(raw.data + files_at, 0xffffffffu);
    expect_bytes_rejected(raw.data, raw.len, "a file count far beyond the input");
    lv_buf_free(&raw);
}

static void write_corpus(const char *dir)
{
    lv_pgman m;
    struct {
        const char *name;
        int variant;
    } seeds[] = {{"incremental", 0}, {"full_no_lists", 1}, {"whole_only", 2}};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        sample(&m);
        if (seeds[i].variant == 1) {
            m.type = LV_PGB_FULL;
            m.ntablespaces = m.nfiles = m.nbad_pages = m.ndatabases = 0;
        } else if (seeds[i].variant == 2) {
            m.nfiles = 1;
            m.nbad_pages = 0;
        }
        lv_buf b = LV_BUF_INIT;
        if (lv_pgman_encode(&m, &b) != LV_OK)
            exit(1);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            exit(1);
        lv_buf_free(&b);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--corpus") == 0) {
        write_corpus(argv[2]);
        return 0;
    }
    test_round_trip();
    test_header_rules();
    test_path_rules();
    test_file_rules();
    pool_free();
    return check_done();
}
