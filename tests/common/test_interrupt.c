/* common/interrupt: while a command catches interrupts, SIGINT and SIGTERM only set the flag (nested
 * catches too, the outermost one clearing it); outside a catch, and for SIGHUP always, the process dies
 * of the signal after the fatal hooks ran; a signal inherited as ignored stays ignored, except SIGINT
 * during a catch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/interrupt.h"
#include "tests/check.h"

static int hook_fd = -1;

static void hook(void)
{
    if (write(hook_fd, "h", 1) != 1) {
    }
}

/* Run body in a child; *sig: the signal it died of (0 when it exited), *hooked: the hook ran.
 * Returns the child's exit status (0 when it died of a signal), -1 when it could not run. */
static int child(void (*body)(void), int *sig, int *hooked)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        hook_fd = p[1];
        /* as a process started from a terminal: not what the suite's own start left (nohup ignores SIGHUP) */
        const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
            signal(sigs[i], SIG_DFL);
        body();
        _exit(0);
    }
    close(p[1]);
    char c;
    *hooked = read(p[0], &c, 1) == 1;
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
}

static void caught(void)
{
    lv_interrupt_on_fatal(hook);
    lv_interrupt_install();
    lv_interrupt_catch();
    lv_interrupt_catch();
    raise(SIGINT);
    lv_interrupt_release();
    raise(SIGTERM);
    if (!lv_interrupted())
        _exit(3);
    lv_interrupt_release();
    lv_interrupt_catch();
    _exit(lv_interrupted() ? 4 : 0); /* the outermost catch starts clean */
}

static void uncaught(void)
{
    lv_interrupt_on_fatal(hook);
    lv_interrupt_install();
    lv_interrupt_catch();
    lv_interrupt_release();
    raise(SIGTERM);
}

static void hangup(void)
{
    lv_interrupt_on_fatal(hook);
    lv_interrupt_install();
    lv_interrupt_catch();
    raise(SIGHUP);
}

static void ignored(void)
{
    signal(SIGINT, SIG_IGN);
    lv_interrupt_on_fatal(hook);
    lv_interrupt_install();
    raise(SIGINT);
}

/* A background job of a script starts with SIGINT ignored: caught work still stops on it, and after
 * the release it is ignored again. Exits 0 only if the flag was raised and the process survived. */
static void ignored_caught(void)
{
    signal(SIGINT, SIG_IGN);
    lv_interrupt_on_fatal(hook);
    lv_interrupt_install();
    lv_interrupt_catch();
    raise(SIGINT);
    int seen = lv_interrupted();
    lv_interrupt_release();
    raise(SIGINT);
    _exit(seen ? 0 : 3);
}

/* A child about to exec gets the default SIGINT back, even one inherited as ignored. */
static void child_defaults(void)
{
    signal(SIGINT, SIG_IGN);
    lv_interrupt_child();
    raise(SIGINT);
}

int main(void)
{
    int sig = -1, hooked = -1;
    CHECK(child(caught, &sig, &hooked) == 0 && sig == 0 && !hooked,
          "inside a catch SIGINT and SIGTERM set the flag; nested; the outermost catch clears it (%d %d)", sig, hooked);
    CHECK(child(uncaught, &sig, &hooked) == 0 && sig == SIGTERM && hooked,
          "outside a catch the process dies of the signal, after the fatal hook");
    CHECK(child(hangup, &sig, &hooked) == 0 && sig == SIGHUP && hooked, "SIGHUP is fatal even inside a catch");
    CHECK(child(ignored, &sig, &hooked) == 0 && sig == 0 && !hooked, "a signal inherited as ignored stays ignored");
    CHECK(child(ignored_caught, &sig, &hooked) == 0 && sig == 0 && !hooked,
          "an ignored SIGINT still interrupts caught work, and is ignored again after the release");
    CHECK(child(child_defaults, &sig, &hooked) == 0 && sig == SIGINT && !hooked,
          "lv_interrupt_child: SIGINT back to its default in a child (%d)", sig);
    lv_interrupt_set(1);
    CHECK(lv_interrupted(), "lv_interrupt_set raises the flag as a signal would");
    lv_interrupt_set(0);
    CHECK(!lv_interrupted(), "... and clears it");
    return check_done();
}
