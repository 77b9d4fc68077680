/* Running a program and waiting for it (hooks, the docker CLI).
 *
 * lv_proc_run forks and execs argv (argv[0] looked up on PATH), with stdin from /dev/null, and waits.
 *   out: the child's stdout is collected there; NULL sends it to our stderr (a hook's chatter must not
 *        mix with a --json report on stdout).
 *   err: the child's stderr is collected there; NULL lets it through to our stderr.
 *   env: NULL-terminated "NAME=VALUE" strings added to the child's environment.
 *   own_group: the child runs in a process group of its own, so the terminal's Ctrl-C (sent to the
 *        foreground group) does not reach it: for commands that must finish while we clean up after an
 *        interrupt (starting stopped containers again). Give it with out and err: a background group
 *        that writes to a terminal (with `stty tostop`) would be stopped.
 * The child gets SIGPIPE back at its default, and SIGINT and SIGTERM (lv_interrupt_child). *status is its exit status, 127
 * when the program could not be run, 128 + N when signal N killed it. Returns LV_OK, or a failure to
 * fork, read or wait (the message names argv[0]). */
#ifndef LV_COMMON_PROC_H
#define LV_COMMON_PROC_H

#include "common/buf.h"

typedef struct lv_proc_opts {
    const char *const *env;
    lv_buf *out, *err;
    int own_group;
} lv_proc_opts;

int lv_proc_run(const char *const *argv, const lv_proc_opts *o, int *status);

#endif
