/* Signals and the scratch directory of a drill (contract in drills/drill.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "drills/drill.h"
#include "restore/files.h"
#include "restore/meta.h"

volatile sig_atomic_t lv_drill_interrupt;
static volatile sig_atomic_t *also_flag;
static struct sigaction old_int, old_term;
static int installed;

static void on_signal(int sig)
{
    (void)sig;
    lv_drill_interrupt = 1;
    lv_restore_interrupt = 1;
    if (also_flag)
        *also_flag = 1;
}

void lv_drill_signals(volatile sig_atomic_t *also)
{
    lv_drill_interrupt = 0;
    lv_restore_interrupt = 0;
    also_flag = also;
    if (also)
        *also = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    installed = 1;
}

void lv_drill_signals_restore(void)
{
    if (!installed)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    installed = 0;
}

int lv_drill_scratch_create(const char *base, const char *id, char **out)
{
    *out = NULL;
    int rc = lv_mkdir_p(base, 0755);
    if (rc)
        return lv_err_ctx("drill scratch directory");
    char *dir = lv_xasprintf("%s/drill-%s", base, id);
    if (mkdir(dir, 0700) != 0) {
        rc = lv_err_errno(errno, "cannot create the drill scratch directory %s", dir);
        free(dir);
        return rc;
    }
    *out = dir;
    return LV_OK;
}

int lv_drill_scratch_remove(const char *dir)
{
    /* The scratch PostgreSQL may have made files read-only or owned by its user: root removes them
     * anyway, and a drill run as the PostgreSQL user owns everything it made. */
    char *copy = lv_xstrdup(dir);
    char *slash = strrchr(copy, '/');
    int rc;
    if (!slash) {
        rc = lv_remove_tree(AT_FDCWD, copy, dir);
    } else {
        *slash = '\0';
        int dfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            rc = lv_err_errno(errno, "cannot open %s", copy);
        else {
            rc = lv_remove_tree(dfd, slash + 1, dir);
            close(dfd);
        }
    }
    if (rc != LV_OK)
        lv_error("drill: could not remove the scratch directory: %s", lv_errmsg());
    free(copy);
    return rc;
}
