/* backup pg without a server: page checksums, relation file names, the data directory walk and its
 * skip rules, and reading a fabricated data directory into blobs, full and then incremental, with every
 * file rebuilt from its extents and compared with the file on disk. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pg/page.h"
#include "backup/pg_lock.h"
#include "pg/summary.h"
#include "backup/pg_read.h"
#include "backup/pg_walk.h"
#include "common/buf.h"
#include "common/error.h"
#include "catalog/catalog.h"
#include "pg/manifest.h"
#include "repo/blobstore.h"
#include "store/store.h"
#include "tests/check.h"

#define BS 8192

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void make_page(uint8_t *p, uint64_t lsn, uint32_t blkno)
{
    for (size_t i = 0; i < BS; i += 4) {
        uint32_t v = rnd();
        memcpy(p + i, &v, 4);
    }
    uint32_t hi = (uint32_t)(lsn >> 32), lo = (uint32_t)lsn;
    memcpy(p, &hi, 4);
    memcpy(p + 4, &lo, 4);
    uint16_t sum = lv_pg_page_checksum(p, BS, blkno);
    memcpy(p + 8, &sum, 2);
}

static void test_pages(void)
{
    uint8_t p[BS];
    make_page(p, 0x100000000ull | 0x2000, 7);
    CHECK(lv_pg_page_lsn(p) == (0x100000000ull | 0x2000), "pd_lsn read as xlogid:xrecoff");
    CHECK(lv_pg_page_verify(p, BS, 7, 0x200000000ull) == LV_PG_PAGE_OK, "a page with its checksum verifies");
    CHECK(lv_pg_page_verify(p, BS, 8, 0x200000000ull) == LV_PG_PAGE_BAD, "... not as another block number");
    p[5000] ^= 1;
    CHECK(lv_pg_page_verify(p, BS, 7, 0x200000000ull) == LV_PG_PAGE_BAD, "a flipped bit is a bad page");
    CHECK(lv_pg_page_verify(p, BS, 7, 0x100000000ull) == LV_PG_PAGE_OK,
          "a page newer than the backup start is not judged (it may be torn)");
    p[5000] ^= 1;
    p[8] ^= 0xff; /* pd_checksum itself */
    CHECK(lv_pg_page_verify(p, BS, 7, 0x200000000ull) == LV_PG_PAGE_BAD, "a wrong pd_checksum is a bad page");
    uint16_t a = lv_pg_page_checksum(p, BS, 7);
    p[9] ^= 0x55;
    CHECK(lv_pg_page_checksum(p, BS, 7) == a, "the checksum does not cover pd_checksum");
    memset(p, 0, BS);
    CHECK(lv_pg_page_is_zero(p, BS) && lv_pg_page_verify(p, BS, 7, 0x200000000ull) == LV_PG_PAGE_OK,
          "an all-zero page is not judged");
    CHECK(lv_pg_page_checksum(p, BS, 0) >= 1, "checksums are 1..65535");
    /* Known values (the scalar implementation, which verifies a real PostgreSQL 15 cluster's pages in
     * tests/backup/pg_backup.sh): whichever code path this machine takes must give the same. */
    for (int i = 0; i < BS; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    CHECK(lv_pg_page_checksum(p, BS, 0) == 43596 && lv_pg_page_checksum(p, BS, 131073) == 43593 &&
              lv_pg_page_checksum(p, BS, 262146) == 43594 && lv_pg_page_checksum(p, BS, 393219) == 43591,
          "known checksums of an 8 KiB page for 4 block numbers");
    static uint8_t big[16384];
    for (int i = 0; i < 16384; i++)
        big[i] = (uint8_t)(i * 13 + 1);
    CHECK(lv_pg_page_checksum(big, sizeof big, 5) == 20106, "known checksum of a 16 KiB page");
    CHECK(lv_pg_page_checksum(p + 1, BS - 128, 0) >= 1, "unaligned pages are fine");
}

/* A heap page: header (pd_flags, pd_lower, pd_upper, pd_special, pd_pagesize_version) and line pointers
 * of the given flags (0 unused, 1 normal, 2 redirect, 3 dead). */
static void heap_page(uint8_t *p, uint16_t flags, const int *lp, int n)
{
    memset(p, 0, BS);
    uint16_t lower = (uint16_t)(24 + 4 * n), upper = (uint16_t)(BS - 64 * n), special = BS, sv = BS | 4;
    memcpy(p + 10, &flags, 2);
    memcpy(p + 12, &lower, 2);
    memcpy(p + 14, &upper, 2);
    memcpy(p + 16, &special, 2);
    memcpy(p + 18, &sv, 2);
    for (int i = 0; i < n; i++) {
        uint32_t w = (uint32_t)(BS - 64 * (i + 1)) | (uint32_t)lp[i] << 15 | (uint32_t)(lp[i] == 1 ? 60 : 0) << 17;
        memcpy(p + 24 + 4 * i, &w, 4);
    }
}

/* The rows of an all-visible page are its normal line pointers; anything else is not the reader's to judge. */
static void test_heap_rows(void)
{
    uint8_t p[BS];
    const int lp[] = {1, 2, 1, 3, 0, 1, 1};
    heap_page(p, 0x0004, lp, 7);
    CHECK(lv_pg_heap_page_rows(p, BS) == 4, "an all-visible page: its 4 normal line pointers are its rows (not "
          "the redirect, the dead one or the unused one)");
    heap_page(p, 0x0004 | 0x0002, lp, 7);
    CHECK(lv_pg_heap_page_rows(p, BS) == 4, "... whatever the other flags (PD_PAGE_FULL)");
    heap_page(p, 0x0001, lp, 7);
    CHECK(lv_pg_heap_page_rows(p, BS) == -1, "a page not marked all-visible: -1 (the server must count it)");
    heap_page(p, 0x0004, lp, 0);
    CHECK(lv_pg_heap_page_rows(p, BS) == 0, "an all-visible page without line pointers: 0");
    memset(p, 0, BS);
    CHECK(lv_pg_heap_page_rows(p, BS) == 0, "a new page (pd_upper 0): 0");
    heap_page(p, 0x0004, lp, 7);
    uint16_t special = BS - 16;
    memcpy(p + 16, &special, 2);
    CHECK(lv_pg_heap_page_rows(p, BS) == -1, "special space (an index page): -1");
    heap_page(p, 0x0004, lp, 7);
    uint16_t lower = 26;
    memcpy(p + 12, &lower, 2);
    CHECK(lv_pg_heap_page_rows(p, BS) == -1, "pd_lower not on a line pointer's boundary: -1");
    heap_page(p, 0x0004, lp, 7);
    lower = BS - 8;
    memcpy(p + 12, &lower, 2);
    CHECK(lv_pg_heap_page_rows(p, BS) == -1, "pd_lower past pd_upper: -1");
    heap_page(p, 0x0004, lp, 7);
    CHECK(lv_pg_heap_page_rows(p, 2 * BS) == -1, "another block size than the page's: -1");
}

static void test_names(void)
{
    uint32_t rel, seg;
    int fork, temp;
    CHECK(lv_pg_relfile_parse("16384", &rel, &fork, &seg, &temp) && rel == 16384 && fork == LV_PG_FORK_MAIN &&
              seg == 0 && !temp, "16384: main fork, segment 0");
    CHECK(lv_pg_relfile_parse("16384_fsm.2", &rel, &fork, &seg, &temp) && fork == LV_PG_FORK_FSM && seg == 2,
          "16384_fsm.2");
    CHECK(lv_pg_relfile_parse("16384_vm", &rel, &fork, &seg, &temp) && fork == LV_PG_FORK_VM, "16384_vm");
    CHECK(lv_pg_relfile_parse("16384_init", &rel, &fork, &seg, &temp) && fork == LV_PG_FORK_INIT, "16384_init");
    CHECK(lv_pg_relfile_parse("t3_16384.1", &rel, &fork, &seg, &temp) && temp && rel == 16384 && seg == 1,
          "t3_16384.1: a temporary relation");
    CHECK(!lv_pg_relfile_parse("PG_VERSION", &rel, &fork, &seg, &temp), "PG_VERSION is not a relation file");
    CHECK(!lv_pg_relfile_parse("16384_xx", &rel, &fork, &seg, &temp), "16384_xx is not");
    CHECK(!lv_pg_relfile_parse("16384.", &rel, &fork, &seg, &temp), "16384. is not");
    CHECK(!lv_pg_relfile_parse("99999999999", &rel, &fork, &seg, &temp), "an oid above 2^32 is not");
    CHECK(!lv_pg_relfile_parse("pg_filenode.map", &rel, &fork, &seg, &temp), "pg_filenode.map is not");
}

static char root[512];

static void put(const char *rel, const void *data, size_t n)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(dir, 0700);
        *s = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* A relation file of npages pages with LSNs below lsn. */
static uint8_t *relfile(const char *rel, uint32_t npages, uint64_t lsn)
{
    uint8_t *d = lv_xmalloc((size_t)npages * BS + 1);
    const char *dot = strrchr(rel, '.');
    uint32_t first = dot ? (uint32_t)atoi(dot + 1) * 131072 : 0; /* block numbers go on across segments */
    for (uint32_t i = 0; i < npages; i++)
        make_page(d + (size_t)i * BS, lsn - 1 - i, first + i);
    put(rel, d, (size_t)npages * BS);
    return d;
}

/* PG_VERSION of a database directory, written at mtime (the directory's creation). */
static void pg_version(const char *dir, time_t mtime)
{
    char rel[600], path[1200];
    snprintf(rel, sizeof rel, "%s/PG_VERSION", dir);
    put(rel, "15\n", 3);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    if (utimes(path, tv) != 0)
        abort();
}

static int listed(const lv_pg_tree *t, const char *path, int *pages)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].path, path) == 0) {
            if (pages)
                *pages = t->e[i].pages;
            return 1;
        }
    return 0;
}

static void test_walk(void)
{
    uint8_t small[100] = {1, 2, 3};
    put("PG_VERSION", "15\n", 3);
    put("postmaster.pid", "1\n", 2);
    put("postmaster.opts", "x", 1);
    put("pg_wal/000000010000000000000001", small, sizeof small);
    put("pg_wal/archive_status/000000010000000000000001.done", "", 0);
    put("pg_stat_tmp/global.stat", small, 10);
    put("pg_replslot/s/state", small, 10);
    put("base/1/pg_internal.init", small, 10);
    put("base/pgsql_tmp/pgsql_tmp1.0", small, 10);
    put("base/1/t3_700", small, 10);
    put("base/1/5000", small, 0);
    put("base/1/5000_vm", small, 0);
    put("base/1/5000_init", small, 0);
    put("base/1/999", small, sizeof small);
    put("base/1/pg_filenode.map", small, 10);
    put("global/pg_control", small, 10);
    put("pg_xact/0000", small, 10);
    free(relfile("base/1/1234_fsm", 3, 1000));
    /* a tablespace: pg_tblspc/<oid> links to a directory outside the data directory */
    char ts[700], link[700];
    snprintf(ts, sizeof ts, "%s-ts", root);
    snprintf(link, sizeof link, "%s/pg_tblspc/16500", root);
    mkdir(ts, 0700);
    put("pg_tblspc/.keep", "", 0);
    if (symlink(ts, link) != 0)
        abort();
    free(relfile("pg_tblspc/16500/PG_15_202209061/1/4000", 2, 1000));
    put("pg_tblspc/16500/PG_15_202209061/1/4000_fsm", small, 0);
    lv_pg_tree t;
    int rc = lv_pg_walk(root, &t), pages = -1;
    CHECK(rc == LV_OK, "walk a data directory (%s)", rc ? lv_errmsg() : "ok");
    CHECK(listed(&t, "PG_VERSION", NULL) && listed(&t, "global/pg_control", NULL) && listed(&t, "pg_xact/0000", NULL) &&
              listed(&t, "base/1/pg_filenode.map", &pages) && pages == 0, "ordinary files are listed, whole");
    CHECK(!listed(&t, "postmaster.pid", NULL) && !listed(&t, "postmaster.opts", NULL), "postmaster.pid/.opts are not");
    CHECK(!listed(&t, "pg_wal/000000010000000000000001", NULL) &&
              !listed(&t, "pg_wal/archive_status/000000010000000000000001.done", NULL), "pg_wal's contents are not");
    CHECK(!listed(&t, "pg_stat_tmp/global.stat", NULL) && !listed(&t, "pg_replslot/s/state", NULL),
          "pg_stat_tmp and pg_replslot contents are not");
    CHECK(!listed(&t, "base/1/pg_internal.init", NULL) && !listed(&t, "base/pgsql_tmp/pgsql_tmp1.0", NULL),
          "pg_internal.init and pgsql_tmp are not");
    CHECK(!listed(&t, "base/1/t3_700", NULL), "temporary relations are not");
    CHECK(!listed(&t, "base/1/5000", NULL) && !listed(&t, "base/1/5000_vm", NULL) &&
              listed(&t, "base/1/5000_init", &pages) && pages == 1, "an unlogged relation: only its init fork");
    CHECK(listed(&t, "base/1/999", &pages) && pages == 1, "a relation file is listed as pages");
    CHECK(listed(&t, "base/1/1234_fsm", &pages) && pages == 0, "the fsm fork is stored whole");
    CHECK(listed(&t, "pg_tblspc/16500/PG_15_202209061/1/4000", &pages) && pages == 1 &&
              listed(&t, "pg_tblspc/16500/PG_15_202209061/1/4000_fsm", &pages) && pages == 0,
          "a tablespace's relation files are listed under pg_tblspc/<oid>/ (through the link)");
    int sorted = 1;
    for (size_t i = 1; i < t.n; i++)
        sorted &= strcmp(t.e[i - 1].path, t.e[i].path) < 0;
    CHECK(sorted, "the list is sorted bytewise");
    lv_pg_tree_free(&t);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/nonexistent", root);
    CHECK(lv_pg_walk(bad, &t) == LV_ERR_CONFIG, "a missing data directory: LV_ERR_CONFIG (%s)", lv_errmsg());
}

/* Rebuild a file from its manifest entry. */
static int rebuild(lv_repo *r, const lv_pgman_file *f, lv_buf *out)
{
    lv_buf blob = LV_BUF_INIT;
    int rc = LV_OK;
    for (uint32_t i = 0; i < f->nextents && rc == LV_OK; i++) {
        const lv_pgman_extent *e = &f->extents[i];
        lv_buf_reset(&blob);
        if ((rc = lv_blob_get(r, e->blob, &blob)) != LV_OK)
            break;
        if (f->kind == LV_PGF_WHOLE)
            lv_buf_append(out, blob.data, blob.len);
        else if ((size_t)(e->blob_page + e->npages) * BS <= blob.len && out->len == (size_t)e->first_page * BS)
            lv_buf_append(out, blob.data + (size_t)e->blob_page * BS, (size_t)e->npages * BS);
        else
            rc = LV_ERR_CORRUPT;
    }
    lv_buf_free(&blob);
    return rc;
}

static int same_as_disk(lv_repo *r, const lv_pg_read *x, const char *path)
{
    for (uint32_t i = 0; i < x->nfiles; i++) {
        if (strcmp(x->files[i].path, path) != 0)
            continue;
        lv_buf a = LV_BUF_INIT, b = LV_BUF_INIT;
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", root, path);
        FILE *f = fopen(full, "rb");
        uint8_t tmp[65536];
        size_t n;
        while (f && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
            lv_buf_append(&b, tmp, n);
        if (f)
            fclose(f);
        int ok = rebuild(r, &x->files[i], &a) == LV_OK && a.len == b.len && a.len == x->files[i].size &&
                 (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
        lv_buf_free(&a);
        lv_buf_free(&b);
        return ok;
    }
    return 0;
}

static const lv_pgman_file *entry(const lv_pg_read *x, const char *path)
{
    for (uint32_t i = 0; i < x->nfiles; i++)
        if (strcmp(x->files[i].path, path) == 0)
            return &x->files[i];
    return NULL;
}

static int page_rows; /* read_tree: lv_pg_read.page_rows */

static int read_tree(lv_repo *r, lv_pg_read *x, const lv_pgman *prev, uint64_t start_lsn)
{
    static lv_pg_tree t;
    lv_pg_tree_free(&t);
    int rc = lv_pg_walk(root, &t);
    if (rc != LV_OK)
        return rc;
    lv_packer *p;
    if ((rc = lv_packer_new(r, &p)) != LV_OK)
        return rc;
    memset(x, 0, sizeof *x);
    x->r = r;
    x->p = p;
    x->pgdata = root;
    x->tree = &t;
    x->block_size = BS;
    x->segment_blocks = 131072;
    x->checksums = 1;
    x->start_lsn = start_lsn;
    x->prev = prev;
    x->workers = 2;
    x->page_rows = page_rows;
    x->chunk_pages = 100; /* a full backup reads the 300-page file in 3 chunks (whole runs: 128 pages) */
    rc = lv_pg_read_all(x);
    if (rc == LV_OK)
        rc = lv_packer_flush(p);
    lv_packer_free(p);
    return rc;
}

static void test_read(lv_repo *r)
{
    const uint64_t lsn1 = 0x300000000ull;
    uint8_t *big = relfile("base/1/2000", 300, lsn1);
    uint8_t *seg1 = relfile("base/1/2000.1", 5, lsn1);
    free(relfile("base/1/2001", 10, lsn1));
    uint8_t *vm = relfile("base/1/2000_vm", 2, lsn1);
    uint8_t *z = relfile("base/1/2002", 3, lsn1);
    uint8_t *db2 = relfile("base/2/4000", 4, lsn1);
    time_t created = time(NULL) - 86400;
    pg_version("base/1", created);
    pg_version("base/2", created);
    /* a page with a wrong checksum (older than the start: judged), in segment 1 */
    seg1[3 * BS + 100] ^= 0x40;
    put("base/1/2000.1", seg1, 5 * BS);
    uint8_t conf[3000];
    memset(conf, 'c', sizeof conf);
    put("postgresql.conf", conf, sizeof conf);

    lv_pg_read full;
    int rc = read_tree(r, &full, NULL, lsn1);
    CHECK(rc == LV_OK, "full: read the data directory (%s)", rc ? lv_errmsg() : "ok");
    const lv_pgman_file *f = entry(&full, "base/1/2000");
    CHECK(f && f->kind == LV_PGF_PAGES && f->nextents == 3 && f->extents[0].npages == 128 &&
              f->extents[2].first_page == 256 && f->extents[2].npages == 44,
          "full: a 300-page file is 3 runs of up to 128 pages");
    CHECK(same_as_disk(r, &full, "base/1/2000") && same_as_disk(r, &full, "base/1/2000.1") &&
              same_as_disk(r, &full, "postgresql.conf") && same_as_disk(r, &full, "base/1/1234_fsm") &&
              same_as_disk(r, &full, "base/1/999"),
          "full: every file rebuilt from its extents equals the file");
    f = entry(&full, "base/1/999");
    CHECK(f && f->kind == LV_PGF_WHOLE && f->size == 100, "a relation file of 100 bytes is stored whole");
    f = entry(&full, "base/1/5000_init");
    CHECK(f && f->kind == LV_PGF_PAGES && f->size == 0 && f->nextents == 0, "an empty relation file: no extents");
    CHECK(full.nbad == 1 && strcmp(full.files[full.bad[0].file_index].path, "base/1/2000.1") == 0 &&
              full.bad[0].page == 3, "the page with a bad checksum is reported (file, page)");
    CHECK(full.bytes_new > 300 * BS, "full: bytes_new %llu", (unsigned long long)full.bytes_new);

    /* The previous backup as incr sees it. */
    lv_pgman prev;
    memset(&prev, 0, sizeof prev);
    prev.block_size = BS;
    prev.start_lsn = lsn1;
    prev.start_time = (int64_t)time(NULL) - 60;
    prev.files = full.files;
    prev.nfiles = full.nfiles;

    /* Change pages 5, 6 and 200 (newer LSN), add 10 pages, drop 2001. */
    const uint64_t lsn2 = 0x400000000ull;
    uint8_t *grown = lv_xmalloc(310 * BS);
    memcpy(grown, big, 300 * BS);
    for (uint32_t i = 300; i < 310; i++)
        make_page(grown + (size_t)i * BS, lsn1 + 10, i);
    make_page(grown + 5 * BS, lsn1 + 1, 5);
    make_page(grown + 6 * BS, lsn1 + 2, 6);
    make_page(grown + 200 * BS, lsn1 + 3, 200);
    put("base/1/2000", grown, 310 * BS);
    char gone[600];
    snprintf(gone, sizeof gone, "%s/base/1/2001", root);
    unlink(gone);
    free(relfile("base/1/3000", 4, lsn1)); /* new since the full */
    /* Changes the page LSN rule alone would miss (docs/pg-backups.md, "What an incremental keeps"):
     * a visibility map bit cleared (the map page's LSN stays); a page truncated away and extended again
     * (all zeros, LSN 0); a database directory created again by a file copy (old LSNs, other rows). */
    vm[BS + 100] ^= 0x01;
    uint16_t vsum = lv_pg_page_checksum(vm + BS, BS, 1);
    memcpy(vm + BS + 8, &vsum, 2);
    put("base/1/2000_vm", vm, 2 * BS);
    memset(z + BS, 0, BS);
    put("base/1/2002", z, 3 * BS);
    for (uint32_t i = 0; i < 4; i++)
        make_page(db2 + (size_t)i * BS, lsn1 - 100 - i, i);
    put("base/2/4000", db2, 4 * BS);
    pg_version("base/2", time(NULL));

    lv_pg_read inc;
    rc = read_tree(r, &inc, &prev, lsn2);
    CHECK(rc == LV_OK, "incr: read (%s)", rc ? lv_errmsg() : "ok");
    CHECK(same_as_disk(r, &inc, "base/1/2000") && same_as_disk(r, &inc, "base/1/3000") &&
              same_as_disk(r, &inc, "base/1/2000.1"), "incr: every file rebuilt from its extents equals the file");
    CHECK(!entry(&inc, "base/1/2001"), "incr: a dropped file is not listed");
    CHECK(same_as_disk(r, &inc, "base/1/2000_vm"), "incr: the visibility map is read whole: a cleared bit is kept");
    CHECK(same_as_disk(r, &inc, "base/1/2002"), "incr: a page that is new again (all zeros) is stored, not kept");
    CHECK(same_as_disk(r, &inc, "base/2/4000"), "incr: a database directory created again: its pages are stored");
    /* 3 changed + 10 new pages of 2000, 4 of 3000; the map (2), the zero page, the recreated db (4) */
    CHECK(inc.bytes_new == 24 * BS, "incr: only changed and new pages are new (%llu bytes, want %d)",
          (unsigned long long)inc.bytes_new, 24 * BS);
    f = entry(&inc, "base/1/2000");
    const lv_pgman_file *pf = entry(&full, "base/1/2000");
    CHECK(f && pf && memcmp(f->extents[0].blob, pf->extents[0].blob, LV_HASH_LEN) == 0 &&
              f->extents[0].npages == 5, "incr: the unchanged run before page 5 keeps the full's blob");
    CHECK(f && f->nextents == 8, "incr: runs merge (%u extents: 0-4, 5-6 new, 7-127, 128-199, 200 new, 201-255, "
          "256-299, 300-309 new; the new pages in one blob)", f ? f->nextents : 0);
    CHECK(f && f->nextents == 8 && memcmp(f->extents[1].blob, f->extents[7].blob, LV_HASH_LEN) == 0 &&
              f->extents[4].blob_page == 2 && f->extents[7].blob_page == 3,
          "incr: changed pages are packed into one new blob, in order");
    lv_pg_read_free(&inc);
    lv_pg_read_free(&full);
    free(big);
    free(seg1);
    free(grown);
    free(vm);
    free(z);
    free(db2);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void test_prev_and_lock(const char *tmp)
{
    /* The summary an incremental reads its previous backup by (pg/summary.h; more in tests/pg). */
    const char *sum = "{\"type\":\"incr\",\"sysid\":\"7301234567890123456\",\"pg_version\":150018,\"timeline\":2,"
                      "\"stop_lsn\":\"0/2000100\",\"start_time\":1,\"stop_time\":2,\"start_lsn\":\"0/2000028\"}";
    lv_pg_summary s;
    CHECK(lv_pg_summary_decode(sum, &s) == LV_OK && s.sysid == 7301234567890123456ull, "summary field: a string");
    CHECK(s.timeline == 2, "summary field: a number");
    CHECK(s.start_lsn == 0x2000028, "summary field: the last one");
    CHECK(lv_pg_summary_decode("{\"type\":\"incr\",\"sysid\":\"7301234567890123456\",\"pg_version\":150018,"
                               "\"timeline\":2,\"start_time\":1,\"stop_time\":2,\"start_lsn\":\"0/2000028\"}", &s) ==
              LV_ERR_CORRUPT && strstr(lv_errmsg(), "stop_lsn"),
          "summary field: absent (%s)", lv_errmsg());
    CHECK(lv_pg_summary_decode("{\"type\":\"incr\",\"sysid\":\"73012345678901234567890123\",\"pg_version\":150018,"
                               "\"timeline\":2,\"stop_lsn\":\"0/2000100\",\"start_time\":1,\"stop_time\":2,"
                               "\"start_lsn\":\"0/2000028\"}", &s) == LV_ERR_CORRUPT,
          "summary field: too long for the buffer");
    char path[700];
    snprintf(path, sizeof path, "%s/catalog.db.backup-pg.lock", tmp);
    int a = -1, b = -1;
    CHECK(lv_pg_lock(path, &a) == LV_OK && a >= 0, "backup lock: taken");
    int rc = lv_pg_lock(path, &b);
    char want[64];
    snprintf(want, sizeof want, "another backup pg is running (pid %ld;", (long)getpid());
    CHECK(rc == LV_ERR_LOCKED && b < 0 && strncmp(lv_errmsg(), want, strlen(want)) == 0,
          "backup lock: a second holder is refused, naming the pid (%s)", lv_errmsg());
    close(a);
    CHECK(lv_pg_lock(path, &b) == LV_OK, "backup lock: free again once the first is closed");
    close(b);
    snprintf(path, sizeof path, "%s/no/such/dir/lock", tmp);
    CHECK(lv_pg_lock(path, &b) == LV_ERR_IO && b < 0,
          "backup lock: a lock file that cannot be created is an error (%s)", lv_errmsg());
}

/* One all-visible heap page at lsn with `rows` normal line pointers, its checksum as block blkno. */
static void visible_page(uint8_t *p, int rows, uint64_t lsn, uint32_t blkno)
{
    int lp[64];
    for (int i = 0; i < rows; i++)
        lp[i] = 1;
    heap_page(p, 0x0004, lp, rows);
    uint32_t hi = (uint32_t)(lsn >> 32), lo = (uint32_t)lsn;
    memcpy(p, &hi, 4);
    memcpy(p + 4, &lo, 4);
    uint16_t sum = lv_pg_page_checksum(p, BS, blkno);
    memcpy(p + 8, &sum, 2);
}

/* A full backup's rows from the pages (lv_pg_read_rows): summed over a relation's segments, and -1 for a
 * relation with one page that cannot tell (not all-visible, changed since the start, a bad checksum). */
static void test_page_rows(lv_repo *r, const char *tmp)
{
    char saved[sizeof root];
    memcpy(saved, root, sizeof root);
    snprintf(root, sizeof root, "%s/rows", tmp);
    mkdir(root, 0700);
    pg_version("base/7", time(NULL) - 86400);
    const uint64_t start = 0x500000000ull;
    uint8_t pg[3 * BS];
    visible_page(pg, 3, start - 10, 0);
    visible_page(pg + BS, 5, start - 9, 1);
    memset(pg + 2 * BS, 0, BS); /* extended, never written: no rows */
    put("base/7/3000", pg, 3 * BS);
    visible_page(pg, 2, start - 8, 131072);
    put("base/7/3000.1", pg, BS);
    visible_page(pg + BS, 9, start - 8, 0);
    put("base/7/3000_vm", pg + BS, BS); /* not the main fork: not counted */
    visible_page(pg, 4, start - 7, 0);
    make_page(pg + BS, start - 6, 1);
    put("base/7/3001", pg, 2 * BS);
    visible_page(pg, 4, start + 1, 0);
    put("base/7/3002", pg, BS);
    visible_page(pg, 4, start - 5, 0);
    pg[200] ^= 1;
    put("base/7/3003", pg, BS);
    put("base/7/3004", pg, 0);
    uint8_t *many = lv_xmalloc(260 * BS);
    for (uint32_t i = 0; i < 260; i++)
        visible_page(many + (size_t)i * BS, (int)(i % 7), start - 100 + i % 50, i);
    put("base/7/3010", many, 260 * BS);
    free(many);
    page_rows = 1;
    lv_pg_read x;
    int rc = read_tree(r, &x, NULL, start);
    page_rows = 0;
    CHECK(rc == LV_OK && lv_pg_read_rows(&x, 1663, 7, 3000) == 10,
          "a relation of all-visible pages: 3 + 5 rows, a new page, 2 rows in segment 1 (%lld)",
          (long long)lv_pg_read_rows(&x, 1663, 7, 3000));
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3001) == -1, "a page not all-visible: unknown");
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3002) == -1, "a page changed since the start: unknown");
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3003) == -1 && x.nbad == 1, "a page with a bad checksum: unknown (%lld, %u bad)",
          (long long)lv_pg_read_rows(&x, 1663, 7, 3003), x.nbad);
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3004) == 0, "an empty relation: 0 rows");
    int64_t want = 0;
    for (uint32_t i = 0; i < 260; i++)
        want += i % 7;
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3010) == want && same_as_disk(r, &x, "base/7/3010"),
          "a file read in 3 chunks by 2 readers: its rows summed (%lld), its pages rebuilt from the extents",
          (long long)want);
    CHECK(lv_pg_read_rows(&x, 1663, 7, 3005) == -1 && lv_pg_read_rows(&x, 1663, 8, 3000) == -1,
          "a relation not read: unknown");
    lv_pg_read_free(&x);
    memcpy(root, saved, sizeof root);
}

int main(void)
{
    test_pages();
    test_heap_rows();
    test_names();
    char tmpl[] = "/tmp/lv-pgread-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (!tmp)
        return 1;
    snprintf(root, sizeof root, "%s/data", tmp);
    mkdir(root, 0700);
    test_walk();
    test_prev_and_lock(tmp);

    char dir[600], cat[640];
    snprintf(dir, sizeof dir, "%s/repo", tmp);
    snprintf(cat, sizeof cat, "%s/cat.db", tmp);
    lv_store *st;
    lv_repo *r;
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    lv_credential cred = {.passphrase = "x"};
    if (lv_store_open(dir, NULL, &st) || lv_store_create(st) || lv_repo_init(st, &params, &cred, &r) ||
        lv_catalog_open(cat, r->id_hex, &r->cat)) {
        CHECK(0, "set up a repository (%s)", lv_errmsg());
    } else {
        test_read(r);
        test_page_rows(r, tmp);
        lv_catalog_close(r->cat);
        lv_repo_close(r);
        lv_store_close(st);
    }
    nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS); /* the tablespace directory is in tmp too */
    return check_done();
}
