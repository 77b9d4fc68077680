/* Writing a pg manifest into a directory (restore/pg_write.h) against a local repository, with a manifest
 * built here: whole files from several blobs, page runs that take a whole blob and runs that take part of
 * one (an incremental's grouped pages), a tablespace; then every refusal (non-empty directory or tablespace
 * location, unknown or relative --tablespace-map, a live postmaster with --delta), --delta (only what
 * differs is rewritten, extra files removed), a damaged pack (exit 6 naming the file) and an interrupt. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/interrupt.h"
#include "catalog/catalog.h"
#include "pg/manifest.h"
#include "repo/blobstore.h"
#include "repo/repo.h"
#include "restore/pg.h"
#include "restore/pg_mark.h"
#include "restore/pg_write.h"
#include "store/store.h"
#include "tests/check.h"

#define BS 8192u

static char tmp[256];
static lv_repo *repo;
static lv_store *store;

static uint8_t page_a[3 * BS], page_b[2 * BS];
static uint8_t blob_a[LV_HASH_LEN], blob_b[LV_HASH_LEN], blob_w1[LV_HASH_LEN], blob_w2[LV_HASH_LEN];

static lv_pgman_extent e_ver[2], e_100[2], e_200[1], e_ctl[1], e_300[1];
static lv_pgman_file files[5];
static lv_pgman_tablespace ts[1];
static char p_ver[] = "PG_VERSION", p_100[] = "base/1/100", p_200[] = "base/1/200", p_ctl[] = "global/pg_control",
            p_300[] = "pg_tblspc/16400/PG_15_x/1/300", ts_name[] = "ts", empty[] = "", label[] = "t";
static char ts_loc[300];

static void build(lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    m->block_size = BS;
    m->label = label;
    m->backup_label = empty;
    m->tablespace_map = empty;
    memset(e_ver, 0, sizeof e_ver);
    memcpy(e_ver[0].blob, blob_w1, LV_HASH_LEN);
    e_ver[0].length = 6;
    memcpy(e_ver[1].blob, blob_w2, LV_HASH_LEN);
    e_ver[1].length = 6;
    files[0] = (lv_pgman_file){p_ver, LV_PGF_WHOLE, 0600, 1700000000, 12, e_ver, 2};
    memset(e_100, 0, sizeof e_100);
    memcpy(e_100[0].blob, blob_a, LV_HASH_LEN);
    e_100[0].npages = 3;
    memcpy(e_100[1].blob, blob_b, LV_HASH_LEN);
    e_100[1].first_page = 3;
    e_100[1].npages = 1;
    e_100[1].blob_page = 1;
    files[1] = (lv_pgman_file){p_100, LV_PGF_PAGES, 0600, 1700000001, 4 * BS, e_100, 2};
    memset(e_200, 0, sizeof e_200);
    memcpy(e_200[0].blob, blob_b, LV_HASH_LEN);
    e_200[0].npages = 1;
    files[2] = (lv_pgman_file){p_200, LV_PGF_PAGES, 0600, 1700000002, BS, e_200, 1};
    memset(e_ctl, 0, sizeof e_ctl);
    memcpy(e_ctl[0].blob, blob_w2, LV_HASH_LEN);
    e_ctl[0].length = 6;
    files[3] = (lv_pgman_file){p_ctl, LV_PGF_WHOLE, 0640, 1700000003, 6, e_ctl, 1};
    memset(e_300, 0, sizeof e_300);
    memcpy(e_300[0].blob, blob_a, LV_HASH_LEN);
    e_300[0].npages = 3;
    files[4] = (lv_pgman_file){p_300, LV_PGF_PAGES, 0600, 1700000004, 3 * BS, e_300, 1};
    m->files = files;
    m->nfiles = 5;
    ts[0] = (lv_pgman_tablespace){16400, ts_name, ts_loc};
    m->tablespaces = ts;
    m->ntablespaces = 1;
}

static int setup(void)
{
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    lv_credential cred = {.passphrase = "x"};
    char dir[300], cat[300];
    snprintf(dir, sizeof dir, "%s/repo", tmp);
    snprintf(cat, sizeof cat, "%s/cat.db", tmp);
    if (lv_store_open(dir, NULL, &store) || lv_store_create(store) || lv_repo_init(store, &params, &cred, &repo) ||
        lv_catalog_open(cat, repo->id_hex, &repo->cat))
        return -1;
    for (size_t i = 0; i < sizeof page_a; i++)
        page_a[i] = (uint8_t)(i / BS + 1 + (i % 7));
    for (size_t i = 0; i < sizeof page_b; i++)
        page_b[i] = (uint8_t)(0xb0 + i / BS);
    lv_packer *p;
    if (lv_packer_new(repo, &p))
        return -1;
    int rc = lv_packer_add(p, LV_BLOB_DATA, page_a, sizeof page_a, blob_a, NULL) ||
             lv_packer_add(p, LV_BLOB_DATA, page_b, sizeof page_b, blob_b, NULL) ||
             lv_packer_add(p, LV_BLOB_DATA, "hello ", 6, blob_w1, NULL) ||
             lv_packer_add(p, LV_BLOB_DATA, "world\n", 6, blob_w2, NULL) || lv_packer_flush(p);
    lv_packer_free(p);
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-orig", tmp);
    return rc ? -1 : 0;
}

static int file_is(const char *dir, const char *rel, const void *want, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    lv_buf b = LV_BUF_INIT;
    int ok = lv_read_file(path, &b) == LV_OK && b.len == n && (n == 0 || memcmp(b.data, want, n) == 0);
    lv_buf_free(&b);
    return ok;
}

static int exists(const char *dir, const char *rel)
{
    char path[600];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return lstat(path, &sb) == 0;
}

static mode_t mode_of(const char *dir, const char *rel)
{
    char path[600];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &sb) == 0 ? sb.st_mode & 07777 : 0;
}

static int all_correct(const char *dir)
{
    uint8_t f100[4 * BS];
    memcpy(f100, page_a, 3 * BS);
    memcpy(f100 + 3 * BS, page_b + BS, BS);
    return file_is(dir, "PG_VERSION", "hello world\n", 12) && file_is(dir, "base/1/100", f100, sizeof f100) &&
           file_is(dir, "base/1/200", page_b, BS) && file_is(dir, "global/pg_control", "world\n", 6) &&
           file_is(dir, "pg_tblspc/16400/PG_15_x/1/300", page_a, sizeof page_a);
}

/* What lv_pg_restore does around the writing: check, mark the directory incomplete, write, sync, unmark. */
static int restore(const lv_pgman *m, lv_pg_restore_opts *o, lv_pg_write_stats *st)
{
    char **loc;
    int rc = lv_pg_write_prepare(m, o, &loc);
    if (rc != LV_OK)
        return rc;
    rc = lv_mkdir_p(o->to, 0700);
    if (rc == LV_OK)
        rc = lv_pg_mark_begin(o->to, "test");
    if (rc == LV_OK)
        rc = lv_pg_write(repo, m, o, loc, st);
    if (rc == LV_OK)
        rc = lv_pg_sync(o->to, m, loc);
    if (rc == LV_OK)
        rc = lv_pg_mark_finish(o->to);
    lv_pg_write_locations_free(m, loc);
    return rc;
}

/* An unfinished restore: the marker is there and PostgreSQL's PG_VERSION is not. */
static int marked_incomplete(const char *dir)
{
    return lv_pg_mark_present(dir) && !exists(dir, "PG_VERSION");
}

static void put(const char *dir, const char *rel, const void *data, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n)
        printf("# cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/lv-pgwrite-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp) || setup() != 0) {
        printf("Bail out! set-up: %s\n", lv_errmsg());
        return 1;
    }
    lv_pgman m;
    build(&m);
    lv_buf enc = LV_BUF_INIT;
    CHECK(lv_pgman_encode(&m, &enc) == LV_OK, "the test manifest is valid");
    lv_buf_free(&enc);

    char d1[300], d2[300], d3[300], tsnew[300], tsbusy[300];
    snprintf(d1, sizeof d1, "%s/d1", tmp);
    snprintf(d2, sizeof d2, "%s/d2", tmp);
    snprintf(d3, sizeof d3, "%s/d3", tmp);
    snprintf(tsnew, sizeof tsnew, "%s/ts-new", tmp);
    snprintf(tsbusy, sizeof tsbusy, "%s/ts-busy", tmp);
    lv_pg_restore_opts o;
    memset(&o, 0, sizeof o);
    o.to = d1;
    o.workers = 2;
    lv_pg_write_stats st;
    int rc = restore(&m, &o, &st);
    CHECK(rc == LV_OK, "fresh restore%s%s", rc ? ": " : "", rc ? lv_errmsg() : "");
    CHECK(all_correct(d1), "every file has its bytes: whole files, whole-blob runs, runs from the middle of a blob");
    CHECK(st.files == 5 && st.files_kept == 0 && st.bytes_written == 12 + 4 * BS + BS + 6 + 3 * BS,
          "stats: 5 files, %llu bytes written", (unsigned long long)st.bytes_written);
    CHECK(mode_of(d1, "") == 0700 && mode_of(d1, "base/1") == 0700 && mode_of(d1, "global/pg_control") == 0640 &&
              mode_of(d1, "pg_wal/archive_status") == 0700 && exists(d1, "pg_replslot") && exists(d1, "pg_xact"),
          "modes: directory 0700, files from the manifest; the skipped directories exist");
    char link[600] = "";
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s/pg_tblspc/16400", d1);
    ssize_t ln = readlink(lpath, link, sizeof link - 1);
    link[ln > 0 ? ln : 0] = '\0';
    CHECK(strcmp(link, ts_loc) == 0 && mode_of(ts_loc, "") == 0700, "pg_tblspc/16400 links to the location (%s)", link);

    /* refusals, before anything is written */
    char **loc;
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_CONFLICT && strstr(lv_errmsg(), d1) && strstr(lv_errmsg(), "not empty"),
          "a non-empty directory: conflict (%s)", lv_errmsg());
    o.to = d2;
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_CONFLICT && strstr(lv_errmsg(), "tablespace ts (oid 16400)"),
          "a non-empty tablespace location: conflict (%s)", lv_errmsg());
    lv_pg_tsmap map = {"nosuch", tsnew};
    o.tsmap = &map;
    o.ntsmap = 1;
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_USAGE && strstr(lv_errmsg(), "nosuch"), "an unknown tablespace: usage (%s)", lv_errmsg());
    map = (lv_pg_tsmap){"16400", "relative/dir"};
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_USAGE && strstr(lv_errmsg(), "absolute"), "a relative new location: usage (%s)", lv_errmsg());
    mkdir(tsbusy, 0700);
    put(tsbusy, "x", "x", 1);
    map = (lv_pg_tsmap){ts_loc, tsbusy};
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_CONFLICT, "a non-empty new location: conflict (%s)", lv_errmsg());
    CHECK(!exists(d2, ""), "nothing was created by the refusals");
    map = (lv_pg_tsmap){"ts", tsnew};
    rc = restore(&m, &o, &st);
    snprintf(lpath, sizeof lpath, "%s/pg_tblspc/16400", d2);
    ln = readlink(lpath, link, sizeof link - 1);
    link[ln > 0 ? ln : 0] = '\0';
    CHECK(rc == LV_OK && all_correct(d2) && strcmp(link, tsnew) == 0, "--tablespace-map ts=NEW: restored there (%s)",
          link);
    o.tsmap = NULL;
    o.ntsmap = 0;

    /* delta: one changed page, one truncated file, extra files */
    o.to = d1;
    o.delta = 1;
    char garbage[BS];
    memset(garbage, 0x55, sizeof garbage);
    char path[600];
    snprintf(path, sizeof path, "%s/base/1/100", d1);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, garbage, BS, BS) == BS, "damage page 1 of base/1/100");
    if (fd >= 0)
        close(fd);
    snprintf(path, sizeof path, "%s/base/1/200", d1);
    CHECK(truncate(path, 0) == 0, "truncate base/1/200");
    put(d1, "base/1/999", "extra", 5);
    put(d1, "pg_wal/000000010000000000000001", "wal", 3);
    put(d1, "backup_label", "old", 3);
    put(ts_loc, "PG_15_x/1/301", "extra", 5);
    char foreign[300], flink[600];
    snprintf(foreign, sizeof foreign, "%s/foreign-ts", tmp);
    snprintf(flink, sizeof flink, "%s/pg_tblspc/99999", d1);
    mkdir(foreign, 0700);
    put(foreign, "keep", "k", 1);
    CHECK(symlink(foreign, flink) == 0, "a link to a tablespace the backup lacks");
    rc = restore(&m, &o, &st);
    CHECK(!exists(d1, "pg_tblspc/99999") && exists(foreign, "keep"),
          "delta: that link is removed, what it pointed at is left alone");
    CHECK(rc == LV_OK && all_correct(d1), "delta restore: every file correct again%s%s", rc ? ": " : "",
          rc ? lv_errmsg() : "");
    CHECK(st.files == 3 && st.files_kept == 2, "delta: 2 files rewritten and PG_VERSION (always: written last), 2 "
          "kept (%llu, %llu)", (unsigned long long)st.files, (unsigned long long)st.files_kept);
    CHECK(st.bytes_written == 4 * BS + BS + 12, "delta: only the differing runs fetched and written (%llu bytes)",
          (unsigned long long)st.bytes_written);
    CHECK(!lv_pg_mark_present(d1) && exists(d1, "PG_VERSION"), "delta: finished, unmarked, PG_VERSION back");
    CHECK(!exists(d1, "base/1/999") && !exists(d1, "pg_wal/000000010000000000000001") &&
              !exists(d1, "backup_label") && !exists(ts_loc, "PG_15_x/1/301") &&
              exists(d1, "pg_wal/archive_status"),
          "delta: files the backup lacks are removed, also in the tablespace and pg_wal");
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_OK && st.files == 3 && st.files_kept == 2 && st.bytes_written == 2 * BS + 12,
          "delta of an identical directory: only the runs that take part of a blob are rewritten (%llu files, "
          "%llu bytes)", (unsigned long long)st.files, (unsigned long long)st.bytes_written);

    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n/data\n", (long)getpid());
    put(d1, "postmaster.pid", pid, strlen(pid));
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_CONFLICT && strstr(lv_errmsg(), "postmaster"), "delta with a live postmaster: conflict (%s)",
          lv_errmsg());
    fflush(stdout); /* the child must not print the parent's buffered lines (it does under TSan) */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    snprintf(pid, sizeof pid, "%ld\n", (long)child);
    put(d1, "postmaster.pid", pid, strlen(pid));
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_OK && !exists(d1, "postmaster.pid"), "delta with a stale postmaster.pid: restored, file removed");
    o.delta = 0;

    /* interrupt */
    o.to = d3;
    lv_interrupt_set(1);
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-3", tmp);
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_INTERRUPTED, "interrupted: exit 14 (%s)", lv_errmsg());
    lv_interrupt_set(0);
    CHECK(marked_incomplete(d3), "interrupted: the directory is marked incomplete, without PG_VERSION");
    rc = lv_pg_write_prepare(&m, &o, &loc);
    CHECK(rc == LV_ERR_CONFLICT && strstr(lv_errmsg(), "incomplete restore") && strstr(lv_errmsg(), "--delta"),
          "a new restore into it is refused, pointing at --delta (%s)", lv_errmsg());
    o.delta = 1;
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_OK && all_correct(d3) && !lv_pg_mark_present(d3) && !exists(d3, LV_PG_VERSION_STAGED),
          "--delta finishes it: every file correct, unmarked, PG_VERSION published%s%s", rc ? ": " : "",
          rc ? lv_errmsg() : "");
    o.delta = 0;

    /* manifests that disagree with the repository */
    char d5[300];
    snprintf(d5, sizeof d5, "%s/d5", tmp);
    o.to = d5;
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-5", tmp);
    e_ctl[0].length = 5;
    files[3].size = 5;
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "global/pg_control: blob ") && strstr(lv_errmsg(), "holds 6"),
          "a whole-file extent whose length is not its blob's: corrupt (%s)", lv_errmsg());
    build(&m);
    memset(e_200[0].blob, 0x77, LV_HASH_LEN);
    char d6[300];
    snprintf(d6, sizeof d6, "%s/d6", tmp);
    o.to = d6;
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-6", tmp);
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "base/1/200: blob 7777") && strstr(lv_errmsg(), "not in the index"),
          "a blob the index lacks: corrupt, naming the file (%s)", lv_errmsg());
    build(&m);

    e_100[1].blob_page = 2; /* blob B has pages 0 and 1 */
    char d7[300];
    snprintf(d7, sizeof d7, "%s/d7", tmp);
    o.to = d7;
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-7", tmp);
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "base/1/100: blob ") && strstr(lv_errmsg(), "pages 2..2"),
          "a page run past the end of its blob: corrupt, naming the file (%s)", lv_errmsg());
    build(&m);

    /* a damaged pack */
    char packs[300];
    snprintf(packs, sizeof packs, "%s/repo/data", tmp);
    DIR *dd = opendir(packs);
    struct dirent *de;
    char pack[1024] = "";
    while (dd && (de = readdir(dd)))
        if (de->d_name[0] != '.') {
            char sub[600];
            snprintf(sub, sizeof sub, "%s/%s", packs, de->d_name);
            DIR *sd = opendir(sub);
            struct dirent *se;
            while (sd && (se = readdir(sd)))
                if (se->d_name[0] != '.')
                    snprintf(pack, sizeof pack, "%s/%s", sub, se->d_name);
            if (sd)
                closedir(sd);
        }
    if (dd)
        closedir(dd);
    fd = open(pack, O_RDWR);
    uint8_t byte = 0;
    CHECK(fd >= 0 && pread(fd, &byte, 1, 40) == 1, "a pack to damage (%s)", pack);
    byte ^= 0x40;
    if (fd >= 0) {
        if (pwrite(fd, &byte, 1, 40) != 1)
            printf("# pwrite failed\n");
        close(fd);
    }
    char d4[300];
    snprintf(d4, sizeof d4, "%s/d4", tmp);
    o.to = d4;
    snprintf(ts_loc, sizeof ts_loc, "%s/ts-4", tmp);
    rc = restore(&m, &o, &st);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "restore of ") && strstr(lv_errmsg(), "blob "),
          "a damaged blob: corrupt, naming the file and the blob (%s)", lv_errmsg());
    CHECK(marked_incomplete(d4), "a failed restore leaves the directory marked incomplete, without PG_VERSION");

    lv_catalog_close(repo->cat);
    lv_repo_close(repo);
    lv_store_close(store);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp);
    return check_done();
}
