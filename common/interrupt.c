/* Signals and the interrupt flag (contract in common/interrupt.h). */
#include "common/interrupt.h"

#include <signal.h>
#include <string.h>

#define HOOKS_MAX 4

static volatile sig_atomic_t flag, depth;
static void (*hooks[HOOKS_MAX])(void);
static volatile sig_atomic_t nhooks;

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

void lv_interrupt_install(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

void lv_interrupt_catch(void)
{
    lv_interrupt_install();
    if (depth++ == 0)
        flag = 0;
}

void lv_interrupt_release(void)
{
    if (depth > 0)
        depth--;
}

int lv_interrupted(void) { return flag != 0; }

void lv_interrupt_set(int on) { flag = on ? 1 : 0; }

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
