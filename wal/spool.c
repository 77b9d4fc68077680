/* Spool directory, records, locks and worker processes (contract in wal/spool.h). */
#include "wal/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"

extern char **environ;

double lv_wal_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lv_wal_short_id(const char *s, char out[17])
{
    uint8_t h[LV_HASH_LEN];
    char hex[2 * LV_HASH_LEN + 1];
    lv_sha256(s, strlen(s), h);
    lv_hex_encode(h, sizeof h, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

char *lv_wal_spool_base(const char *spool_path, lv_store *s)
{
    char id[17];
    lv_wal_short_id(lv_store_describe(s), id);
    return lv_xasprintf("%s/%s", spool_path, id);
}

int lv_wal_spool_open(const char *spool_path, lv_store *s, const char *pgwal_abs, lv_wal_spool *sp)
{
    memset(sp, 0, sizeof *sp);
    if (!spool_path || !*spool_path)
        return lv_err(LV_ERR_CONFIG, "archive-spool-path is empty");
    char *base = lv_wal_spool_base(spool_path, s), wal_id[17];
    lv_wal_short_id(pgwal_abs, wal_id);
    sp->dir = lv_xasprintf("%s/push-%s", base, wal_id);
    sp->lock = lv_xasprintf("%s/worker.lock", sp->dir);
    sp->log = lv_xasprintf("%s/worker.log", sp->dir);
    free(base);
    int rc = lv_mkdir_p(sp->dir, 0700);
    if (rc != LV_OK) {
        lv_wal_spool_free(sp);
        return lv_err(rc, "spool directory (archive-spool-path): %s", lv_errmsg());
    }
    return LV_OK;
}

void lv_wal_spool_free(lv_wal_spool *sp)
{
    free(sp->dir);
    free(sp->lock);
    free(sp->log);
    sp->dir = sp->lock = sp->log = NULL;
}

static char *spool_file(const lv_wal_spool *sp, const char *name, const char *ext)
{
    return lv_xasprintf("%s/%s.%s", sp->dir, name, ext);
}

/* Values are written by us; a control character (a newline in a path) would break the line format. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            return 0;
    return 1;
}

int lv_wal_record_write(const lv_wal_spool *sp, const char *name, const lv_wal_record *rec)
{
    if (!printable(rec->source) || !printable(rec->key))
        return lv_err(LV_ERR_USAGE, "WAL file path %s contains a control character", rec->source);
    lv_buf b = LV_BUF_INIT;
    lv_buf_printf(&b, "key = %s\nsource = %s\ndev = %" PRIu64 "\nino = %" PRIu64 "\nsize = %" PRIu64
                  "\nmtime-ns = %" PRId64 "\ndropped = %d\n", rec->key, rec->source, rec->src.dev,
                  rec->src.ino, rec->src.size, rec->src.mtime_ns, rec->dropped ? 1 : 0);
    char *path = spool_file(sp, name, "ok");
    /* No fsync needed for correctness (a lost record means one more push of an archived file), but
     * lv_write_file_atomic's rename is what makes a half-written record impossible. */
    int rc = lv_write_file_atomic(path, b.data, b.len, 0600, 0);
    free(path);
    lv_buf_free(&b);
    return rc;
}

int lv_wal_record_read(const lv_wal_spool *sp, const char *name, lv_wal_record *rec)
{
    memset(rec, 0, sizeof *rec);
    char *path = spool_file(sp, name, "ok");
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    int fields = 0;
    if (rc == LV_OK) {
        char *save = NULL;
        for (char *line = strtok_r(lv_buf_cstr(&b), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *eq = strstr(line, " = ");
            if (!eq)
                continue;
            *eq = '\0';
            const char *k = line, *v = eq + 3;
            if (strcmp(k, "key") == 0 && snprintf(rec->key, sizeof rec->key, "%s", v) >= 0)
                fields |= 1;
            else if (strcmp(k, "source") == 0 && snprintf(rec->source, sizeof rec->source, "%s", v) >= 0)
                fields |= 2;
            else if (strcmp(k, "dev") == 0 && sscanf(v, "%" SCNu64, &rec->src.dev) == 1)
                fields |= 4;
            else if (strcmp(k, "ino") == 0 && sscanf(v, "%" SCNu64, &rec->src.ino) == 1)
                fields |= 8;
            else if (strcmp(k, "size") == 0 && sscanf(v, "%" SCNu64, &rec->src.size) == 1)
                fields |= 16;
            else if (strcmp(k, "mtime-ns") == 0 && sscanf(v, "%" SCNd64, &rec->src.mtime_ns) == 1)
                fields |= 32;
            else if (strcmp(k, "dropped") == 0 && sscanf(v, "%d", &rec->dropped) == 1)
                fields |= 64;
        }
        if (fields != 127 || (!rec->dropped && !rec->key[0])) {
            lv_warn("ignoring the damaged spool record %s", path);
            rc = lv_err(LV_ERR_NOT_FOUND, "spool record %s is damaged", path);
        }
    }
    lv_buf_free(&b);
    free(path);
    return rc;
}

int lv_wal_error_write(const lv_wal_spool *sp, const char *name, int code, const char *message)
{
    lv_buf b = LV_BUF_INIT;
    lv_buf_printf(&b, "%d\n", code);
    for (const char *m = message; *m; m++) /* one line, as every labvault message */
        lv_buf_append(&b, (unsigned char)*m < 0x20 ? " " : m, 1);
    lv_buf_append_str(&b, "\n");
    char *path = spool_file(sp, name, "error");
    int rc = lv_write_file_atomic(path, b.data, b.len, 0600, 0);
    free(path);
    lv_buf_free(&b);
    return rc;
}

int lv_wal_error_read(const lv_wal_spool *sp, const char *name, int *code, char *msg, size_t msg_len)
{
    char *path = spool_file(sp, name, "error");
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    if (rc == LV_OK) {
        char *text = lv_buf_cstr(&b), *nl = strchr(text, '\n');
        int c = nl ? atoi(text) : 0;
        if (c <= 0 || c > LV_ERR_MAX)
            c = LV_ERR_INTERNAL;
        *code = c;
        const char *m = nl ? nl + 1 : "";
        snprintf(msg, msg_len, "%.*s", (int)strcspn(m, "\n"), m);
    }
    lv_buf_free(&b);
    free(path);
    return rc;
}

void lv_wal_spool_forget(const lv_wal_spool *sp, const char *name)
{
    char *ok = spool_file(sp, name, "ok"), *err = spool_file(sp, name, "error");
    unlink(ok);
    unlink(err);
    free(ok);
    free(err);
}

/* ---- locks ---------------------------------------------------------------------------------- */

int lv_wal_lock_take(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return lv_err_errno(errno, "cannot open lock file %s", path);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(*fd, F_SETLK, &fl) == 0)
        return LV_OK;
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EACCES || e == EAGAIN)
        return lv_err(LV_ERR_LOCKED, "%s is held by another process", path);
    return lv_err_errno(e, "cannot lock %s", path);
}

void lv_wal_lock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the descriptor drops the POSIX lock */
}

int lv_wal_lock_held(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* F_GETLK tests without taking the lock, so a worker starting at this moment never loses it to us. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}

/* ---- workers -------------------------------------------------------------------------------- */

/* Our own command line, from /proc/self/cmdline: the worker is started with exactly the options the
 * foreground command got (configuration file, repository, flags), so both see the same settings. */
static char **own_argv(lv_buf *raw, int *argc)
{
    if (lv_read_file("/proc/self/cmdline", raw) != LV_OK || raw->len == 0)
        return NULL;
    lv_buf_cstr(raw);
    int n = 0;
    for (size_t i = 0; i < raw->len; i++)
        n += raw->data[i] == '\0';
    char **argv = lv_xcalloc((size_t)n + 2, sizeof *argv);
    size_t off = 0;
    int k = 0;
    while (off < raw->len && k < n) {
        argv[k++] = (char *)raw->data + off;
        off += strlen((char *)raw->data + off) + 1;
    }
    *argc = k;
    return argv;
}

int lv_wal_spawn_worker(const char *log_path)
{
    lv_buf raw = LV_BUF_INIT;
    int argc = 0;
    char **argv = own_argv(&raw, &argc);
    if (!argv || argc < 1) {
        free(argv);
        lv_buf_free(&raw);
        return lv_err(LV_ERR_IO, "cannot read /proc/self/cmdline to start a worker");
    }
    static char worker_flag[] = "--worker";
    char **wargv = lv_xcalloc((size_t)argc + 2, sizeof *wargv);
    wargv[0] = argv[0];
    wargv[1] = worker_flag;
    for (int i = 1; i < argc; i++)
        wargv[i + 1] = argv[i];

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    /* Nothing of the caller's (PostgreSQL's archiver or startup process) stays open in the worker. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    /* Its own session: PostgreSQL stopping the archiver does not kill a worker mid-upload. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    /* The caller never waits for its workers: let the kernel reap them, no zombies. */
    signal(SIGCHLD, SIG_IGN);
    pid_t pid;
    int e = posix_spawn(&pid, "/proc/self/exe", &fa, &at, wargv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(wargv);
    free(argv);
    lv_buf_free(&raw);
    if (e != 0)
        return lv_err_errno(e, "cannot start a background worker");
    lv_debug("started background worker %d", (int)pid);
    return LV_OK;
}
