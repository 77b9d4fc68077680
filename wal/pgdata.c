/* Reading the local data directory: archive_status and pg_controldata (contract in wal/pgdata.h). */
#include "wal/pgdata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sort.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"

/* PostgreSQL's archiver order (pgarch.c): history files first, then the lowest name. */
static int archive_order(const void *a, const void *b)
{
    const char *x = ((const lv_wal_ready *)a)->name, *y = ((const lv_wal_ready *)b)->name;
    int hx = strstr(x, ".history") != NULL, hy = strstr(y, ".history") != NULL;
    if (hx != hy)
        return hy - hx;
    return strcmp(x, y);
}

int lv_wal_ready_scan(const char *status_dir, lv_wal_ready **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(status_dir);
    if (!d)
        return lv_err_errno(errno, "cannot read %s", status_dir);
    size_t cap = 0;
    struct dirent *de;
    int rc = LV_OK;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= 6 || len - 6 >= LV_WAL_NAME_MAX || strcmp(de->d_name + len - 6, ".ready") != 0)
            continue;
        lv_wal_ready r;
        memset(&r, 0, sizeof r);
        memcpy(r.name, de->d_name, len - 6);
        lv_wal_name nm;
        if (lv_wal_name_parse(r.name, &nm) != LV_OK) {
            lv_err_clear();
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue; /* archived and renamed to .done meanwhile */
        r.mtime = (int64_t)st.st_mtim.tv_sec;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = lv_xrealloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = r;
    }
    closedir(d);
    if (*n > 1)
        lv_sort(*out, *n, sizeof **out, archive_order);
    return rc;
}

/* ---- pg_controldata -------------------------------------------------------------------------- */

static char *find_controldata(const char *pg_data, const char *pg_bin, int *version)
{
    *version = 0;
    char *vpath = lv_xasprintf("%s/PG_VERSION", pg_data);
    lv_buf v = LV_BUF_INIT;
    if (lv_read_file(vpath, &v) == LV_OK)
        *version = atoi(lv_buf_cstr(&v));
    lv_err_clear();
    lv_buf_free(&v);
    free(vpath);
    if (pg_bin && *pg_bin)
        return lv_xasprintf("%s/pg_controldata", pg_bin);
    char *deb = lv_xasprintf("/usr/lib/postgresql/%d/bin/pg_controldata", *version);
    if (*version > 0 && access(deb, X_OK) == 0)
        return deb;
    free(deb);
    return lv_xstrdup("pg_controldata"); /* from PATH */
}

/* Run prog with one argument and LC_ALL=C (English labels, which we parse), collect its standard output;
 * *status: its exit status (-1 when killed). LV_ERR_IO (errno-based) when it cannot be started. */
static int run_capture(const char *prog, const char *arg, lv_buf *out, int *status)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return lv_err_errno(errno, "cannot create a pipe for %s", prog);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    char *a0 = lv_xstrdup(prog), *a1 = lv_xstrdup(arg);
    static char lc_all[] = "LC_ALL=C", lang[] = "LANG=C";
    char *argv[] = {a0, a1, NULL};
    char *envp[] = {lc_all, lang, NULL};
    pid_t pid;
    int e = posix_spawnp(&pid, prog, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(a0);
    free(a1);
    close(pfd[1]);
    if (e != 0) {
        close(pfd[0]);
        return lv_err_errno(e, "cannot run %s", prog);
    }
    char chunk[4096];
    for (;;) {
        ssize_t r = read(pfd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        lv_buf_append(out, chunk, (size_t)r);
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return LV_OK;
}

static int run_controldata(const char *prog, const char *pg_data, lv_buf *out)
{
    int status = 0;
    if (run_capture(prog, pg_data, out, &status) != LV_OK)
        return lv_err(LV_ERR_PG, "%s (set pg-bin to PostgreSQL's bin directory)", lv_errmsg());
    if (status != 0)
        return lv_err(LV_ERR_PG, "%s %s failed (exit status %d): is it a PostgreSQL data directory?", prog,
                      pg_data, status);
    return LV_OK;
}

int lv_pg_bin_major(const char *bindir)
{
    char *prog = lv_xasprintf("%s/postgres", bindir);
    lv_buf out = LV_BUF_INIT;
    int status = -1, major = -1;
    if (access(prog, X_OK) == 0 && run_capture(prog, "--version", &out, &status) == LV_OK && status == 0) {
        /* "postgres (PostgreSQL) 15.4 (Debian 15.4-1)" */
        const char *p = strstr(lv_buf_cstr(&out), "(PostgreSQL) ");
        if (p)
            major = atoi(p + strlen("(PostgreSQL) "));
    }
    lv_err_clear();
    lv_buf_free(&out);
    free(prog);
    return major;
}

int lv_pg_bin_check(const char *bindir, int major, const char *what)
{
    int m = lv_pg_bin_major(bindir);
    if (m == major)
        return LV_OK;
    if (m < 0)
        return lv_err(LV_ERR_CONFIG, "%s is a PostgreSQL %d backup, but pg-bin %s holds no postgres program: "
                      "set pg-bin to PostgreSQL %d's bin directory", what, major, bindir, major);
    return lv_err(LV_ERR_CONFIG, "%s is a PostgreSQL %d backup, but pg-bin %s holds PostgreSQL %d, which cannot "
                  "start it: set pg-bin to PostgreSQL %d's bin directory", what, major, bindir, m, major);
}

/* The value after "label:" on its line, or NULL. */
static const char *field(const char *text, const char *label)
{
    const char *p = strstr(text, label);
    if (!p)
        return NULL;
    p += strlen(label);
    while (*p == ' ')
        p++;
    return p;
}

int lv_wal_controldata_stanza(const char *pg_data, const char *pg_bin, lv_wal_stanza *out)
{
    memset(out, 0, sizeof *out);
    int version = 0;
    char *prog = find_controldata(pg_data, pg_bin, &version);
    lv_buf text = LV_BUF_INIT;
    int rc = run_controldata(prog, pg_data, &text);
    free(prog);
    if (rc != LV_OK) {
        lv_buf_free(&text);
        return rc;
    }
    const char *t = lv_buf_cstr(&text);
    const char *sys = field(t, "Database system identifier:");
    const char *seg = field(t, "Bytes per WAL segment:");
    const char *blk = field(t, "WAL block size:");
    unsigned long long sysid = 0;
    unsigned segsz = 0, blksz = 0;
    if (!sys || !seg || !blk || sscanf(sys, "%llu", &sysid) != 1 || sscanf(seg, "%u", &segsz) != 1 ||
        sscanf(blk, "%u", &blksz) != 1)
        rc = lv_err(LV_ERR_PG, "cannot read the system identifier and WAL sizes from pg_controldata %s",
                    pg_data);
    else if (version < 13 || version > 18 || sysid == 0)
        rc = lv_err(LV_ERR_PG, "%s: PG_VERSION %d is not a PostgreSQL version labvault supports (13-18)",
                    pg_data, version);
    lv_buf_free(&text);
    if (rc != LV_OK)
        return rc;
    out->sysid = (uint64_t)sysid;
    out->seg_size = segsz;
    out->page_size = blksz;
    out->pg_version = version;
    snprintf(out->source, sizeof out->source, "pg_controldata");
    return LV_OK;
}
