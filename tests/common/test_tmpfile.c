/* common/tmpfile: temporary files are private (0600 whatever the umask), removed by lv_tmp_remove and by a
 * fatal signal (INT/TERM/HUP/QUIT, journal included), and one a SIGKILL left is swept by a later run once
 * its process is gone and it is old enough, never before, never one of a live process or of another
 * kind. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/tmpfile.h"

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void age(const char *p, time_t seconds)
{
    struct timespec ts[2] = {{time(NULL) - seconds, 0}, {time(NULL) - seconds, 0}};
    utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

/* Run a child that creates a temporary file (and its journal), reports the path, then dies of sig (or
 * SIGKILL). Returns the path (malloc'ed) and the child's wait status. */
static char *child_dies(const char *dir, int sig, int install, int *status)
{
    int p[2];
    if (pipe(p) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        signal(sig, SIG_DFL); /* as from a terminal: under nohup SIGHUP is ignored, and the child would live on */
        if (install)
            lv_tmp_on_fatal_signals();
        lv_tmp t;
        if (lv_tmp_create(dir, "unit-test", &t) != LV_OK)
            _exit(2);
        char *j = lv_xasprintf("%s-journal", t.path);
        int fd = open(j, O_WRONLY | O_CREAT, 0600);
        if (fd >= 0)
            close(fd);
        if (write(p[1], t.path, strlen(t.path) + 1) < 0)
            _exit(3);
        close(p[1]);
        kill(getpid(), sig);
        pause();
        _exit(4);
    }
    close(p[1]);
    char buf[4096] = "";
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    waitpid(pid, status, 0);
    return n > 0 ? strdup(buf) : NULL;
}

int main(void)
{
    char dir[] = "/tmp/lv-tmpfile-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    umask(022);

    lv_tmp t;
    CHECK(lv_tmp_create(dir, "unit-test", &t) == LV_OK && t.fd >= 0, "create");
    struct stat st;
    CHECK(stat(t.path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600 with umask 022 (%o)",
          (unsigned)(st.st_mode & 0777));
    char want[64];
    snprintf(want, sizeof want, "/labvault-unit-test-%d-", (int)getpid());
    CHECK(strstr(t.path, want) && strlen(strstr(t.path, want)) == strlen(want) + 12 &&
          strcmp(t.path + strlen(t.path) - 4, ".tmp") == 0, "named labvault-<what>-<pid>-<8 hex>.tmp (%s)", t.path);
    char *keep = strdup(t.path);
    lv_tmp_remove(&t);
    CHECK(!exists(keep) && t.path == NULL && t.fd == -1, "lv_tmp_remove unlinks and forgets");
    lv_tmp_remove(&t);
    free(keep);
    CHECK(lv_tmp_create("/nonexistent/dir", "unit-test", &t) == LV_ERR_IO, "a missing directory is LV_ERR_IO (%s)",
          lv_errmsg());
    CHECK(lv_tmp_create(dir, "Bad/kind", &t) == LV_ERR_INTERNAL, "a kind outside [a-z-] is refused");

    /* SIGKILL leaves the file; a sweep removes it only once it is old. */
    int status = 0;
    char *left = child_dies(dir, SIGKILL, 1, &status);
    char *left_j = left ? lv_xasprintf("%s-journal", left) : NULL;
    CHECK(left && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && exists(left), "SIGKILL leaves the file");
    CHECK(lv_tmp_sweep(dir, "unit-test") == 0 && left && exists(left), "a young abandoned file is kept");
    if (left) {
        age(left, LV_TMP_STALE_S + 10);
        age(left_j, LV_TMP_STALE_S + 10);
    }
    CHECK(lv_tmp_sweep(dir, "other-kind") == 0 && left && exists(left), "a sweep of another kind keeps it");
    CHECK(lv_tmp_sweep(dir, "unit-test") == 2 && left && !exists(left) && !exists(left_j),
          "an old file of a dead process is swept, with its journal");
    free(left);
    free(left_j);

    /* A live process's file is never swept, however old; nor a symlink with our name pattern. */
    CHECK(lv_tmp_create(dir, "unit-test", &t) == LV_OK, "create again");
    age(t.path, LV_TMP_STALE_S + 10);
    char *link = lv_xasprintf("%s/labvault-unit-test-999999-0123abcd.tmp", dir);
    CHECK(symlink("/etc/passwd", link) == 0, "a symlink with the pattern");
    CHECK(lv_tmp_sweep(dir, "unit-test") == 0 && exists(t.path), "... neither is swept");
    unlink(link);
    free(link);
    lv_tmp_remove(&t);

    /* Fatal signals remove the registered files, then the process dies of the signal. */
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        char *p = child_dies(dir, sigs[i], 1, &status);
        char *pj = p ? lv_xasprintf("%s-journal", p) : NULL;
        CHECK(p && WIFSIGNALED(status) && WTERMSIG(status) == sigs[i] && !exists(p) && !exists(pj),
              "signal %d: the file and its journal are removed, the process dies of the signal", sigs[i]);
        if (pj)
            unlink(pj);
        free(p);
        free(pj);
    }
    char *p = child_dies(dir, SIGTERM, 0, &status);
    CHECK(p && exists(p), "without the handlers SIGTERM leaves it (what the sweep is for)");
    if (p) {
        unlink(p);
        char *pj = lv_xasprintf("%s-journal", p);
        unlink(pj);
        free(pj);
    }
    free(p);
    rmdir(dir);
    return check_done();
}
