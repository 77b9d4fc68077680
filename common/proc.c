#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/interrupt.h"

/* execvp and putenv take non-const strings for historical reasons and never write to them. */
static char *mut(const char *s) { return (char *)(uintptr_t)s; }

__attribute__((noreturn)) static void child(const char *const *argv, const lv_proc_opts *o, int out_fd, int err_fd)
{
    signal(SIGPIPE, SIG_DFL);
    lv_interrupt_child();
    if (o->own_group)
        setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    dup2(out_fd >= 0 ? out_fd : 2, 1);
    if (err_fd >= 0)
        dup2(err_fd, 2);
    for (size_t i = 0; o->env && o->env[i]; i++)
        putenv(mut(o->env[i])); /* the child's own copy of the environment */
    execvp(argv[0], (char *const *)(uintptr_t)argv);
    _exit(127);
}

/* Read both pipes until both are closed (poll: a child filling one pipe must not block on the other). */
static void drain(int fds[2], lv_buf *bufs[2])
{
    struct pollfd p[2];
    for (int i = 0; i < 2; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    char buf[4096];
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1; /* poll ignores negative descriptors */
                continue;
            }
            lv_buf_append(bufs[i], buf, (size_t)n);
        }
    }
}

int lv_proc_run(const char *const *argv, const lv_proc_opts *o, int *status)
{
    int pipes[2][2] = {{-1, -1}, {-1, -1}};
    lv_buf *bufs[2] = {o->out, o->err};
    for (int i = 0; i < 2; i++) {
        if (bufs[i] && pipe2(pipes[i], O_CLOEXEC) != 0) {
            int e = errno;
            for (int k = 0; k < i; k++) {
                close(pipes[k][0]);
                close(pipes[k][1]);
            }
            return lv_err_errno(e, "cannot run %s: pipe", argv[0]);
        }
    }
    pid_t pid = fork();
    if (pid == 0)
        child(argv, o, pipes[0][1], pipes[1][1]);
    int e = errno;
    for (int i = 0; i < 2; i++)
        if (pipes[i][1] >= 0)
            close(pipes[i][1]);
    if (pid < 0) {
        for (int i = 0; i < 2; i++)
            if (pipes[i][0] >= 0)
                close(pipes[i][0]);
        return lv_err_errno(e, "cannot run %s: fork", argv[0]);
    }
    int fds[2] = {pipes[0][0], pipes[1][0]};
    drain(fds, bufs);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return lv_err_errno(errno, "waiting for %s", argv[0]);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
    return LV_OK;
}
