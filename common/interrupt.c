/* Signals and the interrupt flag (contract in common/interrupt.h). */
#include "common/interrupt.h"

#include <signal.h>
#include <string.h>

#define HOOKS_MAX 4

static volatile sig_atomic_t flag, depth;
static void (*hooks[HOOKS_MAX])(void);
static volatile sig_atomic_t nhooks;
static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static int ignored[sizeof sigs / sizeof *sigs]; /* SIG_IGN when installed (nohup, a script's background job) */

static void on_signal(int sig)
{
    if (depth > 0 && (sig == SIGINT || sig == SIGTERM)) {
        flag = 1;
        return;
    }
    for (sig_atomic_t i = 0; i < nhooks; i++)
        hooks[i]();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void lv_interrupt_install(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        /* A signal the caller ignores stays ignored, except SIGINT and SIGTERM during caught work. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) {
            ignored[i] = 1;
            continue;
        }
        set_handler(sigs[i], on_signal);
    }
}

/* SIGINT and SIGTERM stop caught work even when the caller ignored them (a script's background job
 * starts with SIGINT ignored, and `kill -INT` is how it is stopped); they are ignored again after. */
static void caught_signals(void (*fn)(int))
{
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (ignored[i] && (sigs[i] == SIGINT || sigs[i] == SIGTERM))
            set_handler(sigs[i], fn);
}

void lv_interrupt_catch(void)
{
    lv_interrupt_install();
    if (depth++ == 0) {
        flag = 0;
        caught_signals(on_signal);
    }
}

void lv_interrupt_release(void)
{
    if (depth == 1)
        caught_signals(SIG_IGN);
    if (depth > 0)
        depth--;
}

int lv_interrupted(void) { return flag != 0; }

void lv_interrupt_set(int on) { flag = on ? 1 : 0; }

void lv_interrupt_child(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

void lv_interrupt_on_fatal(void (*fn)(void))
{
    for (sig_atomic_t i = 0; i < nhooks; i++)
        if (hooks[i] == fn)
            return;
    if (nhooks < HOOKS_MAX) {
        hooks[nhooks] = fn;
        nhooks = nhooks + 1;
    }
}
