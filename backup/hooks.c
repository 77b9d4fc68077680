#include "backup/hooks.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"

/* execvp takes char *const argv[] for historical reasons and never writes to the strings. */
static char *mut(const char *s) { return (char *)(uintptr_t)s; }

/* Run argv (execvp), stdin /dev/null; stdout captured into out (or sent to stderr when out is NULL);
 * stderr passes through. *status is the exit status, 127 when the program cannot be run, 128 + N
 * when killed by signal N. */
static int run(char *const argv[], const char *const *env, lv_buf *out, int *status)
{
    int pfd[2] = {-1, -1};
    if (out && pipe2(pfd, O_CLOEXEC) != 0)
        return lv_err_errno(errno, "cannot run %s: pipe", argv[0]);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (out) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return lv_err_errno(e, "cannot run %s: fork", argv[0]);
    }
    if (pid == 0) {
        /* The child gets default signal handling back: the hook must not inherit our ignored SIGPIPE. */
        signal(SIGPIPE, SIG_DFL);
        lv_interrupt_child();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(out ? pfd[1] : 2, 1);
        for (size_t i = 0; env && env[i]; i++)
            putenv(mut(env[i])); /* the child's own copy of the environment */
        execvp(argv[0], argv);
        _exit(127);
    }
    int rc = LV_OK;
    if (out) {
        close(pfd[1]);
        char buf[4096];
        ssize_t n;
        while ((n = read(pfd[0], buf, sizeof buf)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            lv_buf_append(out, buf, (size_t)n);
        }
        close(pfd[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            rc = lv_err_errno(errno, "waiting for %s", argv[0]);
            break;
        }
    }
    if (rc == LV_OK)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
    return rc;
}

int lv_hook_run(const char *what, const char *cmd, const char *const *env)
{
    char *argv[] = {mut("/bin/sh"), mut("-c"), mut(cmd), NULL};
    int status = 0, rc = run(argv, env, NULL, &status);
    if (rc != LV_OK)
        return lv_err_ctx("%s", what);
    if (status != 0)
        return lv_err(LV_ERR_CHECK, "%s `%s` exited with status %d", what, cmd, status);
    lv_info("%s `%s` done", what, cmd);
    return LV_OK;
}

/* Run docker with args; capture stdout. */
static int docker(const char *const *args, size_t nargs, lv_buf *out, const char *what)
{
    char **argv = lv_xcalloc(nargs + 2, sizeof *argv);
    argv[0] = mut("docker");
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = mut(args[i]);
    int status = 0, rc = run(argv, NULL, out, &status);
    free(argv);
    if (rc != LV_OK)
        return rc;
    if (status == 127)
        return lv_err(LV_ERR_CONFIG, "%s: cannot run `docker` (is the docker CLI installed and on PATH?)", what);
    if (status != 0)
        return lv_err(LV_ERR_CHECK, "%s: docker exited with status %d", what, status);
    return LV_OK;
}

int lv_docker_mountpoint(const char *volume, char **path)
{
    lv_buf out = LV_BUF_INIT;
    const char *args[] = {"volume", "inspect", "--format", "{{.Mountpoint}}", volume};
    char what[300];
    snprintf(what, sizeof what, "docker volume inspect %s", volume);
    int rc = docker(args, 5, &out, what);
    if (rc == LV_ERR_CHECK)
        rc = lv_err(LV_ERR_NOT_FOUND, "docker volume %s: `docker volume inspect` failed (no such volume?)", volume);
    if (rc == LV_OK) {
        char *s = lv_buf_cstr(&out);
        s[strcspn(s, "\r\n")] = '\0';
        if (s[0] != '/')
            rc = lv_err(LV_ERR_CHECK, "docker volume %s: unexpected mount point \"%s\"", volume, s);
        else
            *path = lv_xstrdup(s);
    }
    lv_buf_free(&out);
    return rc;
}

void lv_docker_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int lv_docker_stop_users(const char *volume, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    lv_buf out = LV_BUF_INIT;
    char *filter = lv_xasprintf("volume=%s", volume), what[300];
    snprintf(what, sizeof what, "listing the containers that use volume %s", volume);
    const char *args[] = {"ps", "-q", "--filter", filter};
    int rc = docker(args, 4, &out, what);
    free(filter);
    if (rc == LV_OK) {
        char *save = NULL;
        for (char *tok = strtok_r(lv_buf_cstr(&out), " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
            *ids = lv_xrealloc(*ids, (*n + 1) * sizeof **ids);
            (*ids)[(*n)++] = lv_xstrdup(tok);
        }
    }
    lv_buf_free(&out);
    if (rc != LV_OK || *n == 0)
        return rc;
    const char **sargs = lv_xcalloc(*n + 1, sizeof *sargs);
    sargs[0] = "stop";
    for (size_t i = 0; i < *n; i++)
        sargs[i + 1] = (*ids)[i];
    snprintf(what, sizeof what, "stopping the containers that use volume %s", volume);
    rc = docker(sargs, *n + 1, NULL, what);
    free(sargs);
    /* On failure some may be stopped: the caller still starts all of them. */
    return rc;
}

int lv_docker_start(char *const *ids, size_t n)
{
    if (n == 0)
        return LV_OK;
    const char **args = lv_xcalloc(n + 1, sizeof *args);
    args[0] = "start";
    for (size_t i = 0; i < n; i++)
        args[i + 1] = ids[i];
    int rc = docker(args, n + 1, NULL, "starting the stopped containers again");
    free(args);
    return rc;
}
