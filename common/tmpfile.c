/* Private temporary files (contract in common/tmpfile.h). */
#include "common/tmpfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/fsutil.h"

/* SQLite's rollback journal of a database written into a temporary file (VACUUM INTO makes one beside
 * its target): removed, and swept, with the file. */
#define JOURNAL "-journal"

/* The registry the signal handler reads: a slot's path is written before it is marked used, and not
 * changed while used. */
static char slot_path[LV_TMP_SLOTS][PATH_MAX];
static volatile sig_atomic_t slot_used[LV_TMP_SLOTS];
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;

static int slot_take(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return -1;
    pthread_mutex_lock(&slot_mu);
    int s = -1;
    for (int i = 0; i < LV_TMP_SLOTS && s < 0; i++)
        if (!slot_used[i])
            s = i;
    if (s >= 0) {
        memcpy(slot_path[s], path, strlen(path) + 1);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        slot_used[s] = 1;
    }
    pthread_mutex_unlock(&slot_mu);
    return s;
}

static void slot_free(int s)
{
    if (s < 0)
        return;
    pthread_mutex_lock(&slot_mu);
    slot_used[s] = 0;
    pthread_mutex_unlock(&slot_mu);
}

static int what_valid(const char *what)
{
    if (!*what || strlen(what) > 32)
        return 0;
    for (const char *p = what; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '-'))
            return 0;
    return 1;
}

int lv_tmp_create(const char *dir, const char *what, lv_tmp *t)
{
    t->path = NULL;
    t->fd = -1;
    t->slot = -1;
    if (!what_valid(what))
        return lv_err(LV_ERR_INTERNAL, "temporary file kind '%s' is not [a-z-]", what);
    for (int tries = 0; tries < 8; tries++) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)time(NULL) ^ (uint32_t)tries;
        char *path = lv_xasprintf("%s/labvault-%s-%d-%08x.tmp", dir, what, (int)getpid(), r);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
            free(path);
            continue;
        }
        if (fd < 0) {
            int rc = lv_err_errno(errno, "cannot create a temporary file %s", path);
            free(path);
            return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
        }
        /* O_CREAT's mode went through the umask; a stricter umask is fine, a looser one never is. */
        if (fchmod(fd, 0600) != 0) {
            int rc = lv_err_errno(errno, "cannot make %s private", path);
            close(fd);
            unlink(path);
            free(path);
            return rc;
        }
        t->path = path;
        t->fd = fd;
        t->slot = slot_take(path);
        return LV_OK;
    }
    return lv_err(LV_ERR_IO, "cannot create a temporary file in %s: every name taken", dir);
}

int lv_tmp_create_beside(const char *path, const char *what, lv_tmp *t)
{
    char *dir = lv_dir_of(path);
    lv_tmp_sweep(dir, what);
    int rc = lv_tmp_create(dir, what, t);
    free(dir);
    return rc;
}

void lv_tmp_close(lv_tmp *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

void lv_tmp_keep(lv_tmp *t)
{
    lv_tmp_close(t);
    slot_free(t->slot);
    t->slot = -1;
    free(t->path);
    t->path = NULL;
}

void lv_tmp_remove(lv_tmp *t)
{
    if (t->path) {
        unlink(t->path);
        char *j = lv_xasprintf("%s%s", t->path, JOURNAL);
        unlink(j);
        free(j);
    }
    lv_tmp_keep(t);
}

/* "labvault-<what>-<pid>-<8 hex>.tmp": the pid, or 0 when name is not one of ours of that kind. */
static long tmp_pid(const char *name, const char *what)
{
    size_t wl = strlen(what);
    if (strncmp(name, "labvault-", 9) != 0 || strncmp(name + 9, what, wl) != 0 || name[9 + wl] != '-')
        return 0;
    const char *p = name + 9 + wl + 1;
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p || pid <= 0 || *end != '-' || strncmp(end + 9, ".tmp", 4) != 0 ||
        (end[13] && strcmp(end + 13, JOURNAL) != 0))
        return 0;
    for (int i = 1; i <= 8; i++)
        if (!((end[i] >= '0' && end[i] <= '9') || (end[i] >= 'a' && end[i] <= 'f')))
            return 0;
    return pid;
}

int lv_tmp_sweep(const char *dir, const char *what)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = tmp_pid(e->d_name, what);
        struct stat st;
        if (!pid || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || now - st.st_mtime < LV_TMP_STALE_S)
            continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its process (or one with its pid) still runs */
        if (unlinkat(dfd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* Run in the signal handler (common/interrupt.h): only async-signal-safe calls. */
static void on_fatal(void)
{
    char j[PATH_MAX + sizeof JOURNAL];
    for (int i = 0; i < LV_TMP_SLOTS; i++) {
        if (!slot_used[i])
            continue;
        unlink(slot_path[i]);
        size_t n = strlen(slot_path[i]);
        memcpy(j, slot_path[i], n);
        memcpy(j + n, JOURNAL, sizeof JOURNAL);
        unlink(j);
    }
}

void lv_tmp_on_fatal_signals(void)
{
    lv_interrupt_on_fatal(on_fatal);
    lv_interrupt_install();
}

void lv_tmp_sweep_catalog_copies(const char *catalog_path)
{
    char *dir = lv_xstrdup(catalog_path), *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    lv_tmp_sweep(slash ? (*dir ? dir : "/") : ".", "catalog-copy");
    free(dir);
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* Exactly "labvault-catalog-" + mkstemp's 6 characters [+ ".tmp-" + pid]. */
        const char *n = e->d_name, *rest = n + 23;
        if (strncmp(n, "labvault-catalog-", 17) != 0 || strlen(n) < 23 || strcspn(n + 17, "-.") < 6)
            continue;
        if (*rest && (strncmp(rest, ".tmp-", 5) != 0 || !rest[5] || strspn(rest + 5, "0123456789") != strlen(rest + 5)))
            continue;
        struct stat st;
        char *p = lv_xasprintf("/tmp/%s", n);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && now - st.st_mtime >= LV_TMP_STALE_S)
            unlink(p);
        free(p);
    }
    closedir(d);
}
