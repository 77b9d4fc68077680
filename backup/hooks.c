#include "backup/hooks.h"

#include <stddef.h>

#include "common/error.h"
#include "common/log.h"
#include "common/proc.h"

int lv_hook_run(const char *what, const char *cmd, const char *const *env)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    lv_proc_opts o = {env, NULL, NULL, 0};
    int status = 0, rc = lv_proc_run(argv, &o, &status);
    if (rc != LV_OK)
        return lv_err_ctx("%s", what);
    if (status != 0)
        return lv_err(LV_ERR_CHECK, "%s `%s` exited with status %d", what, cmd, status);
    lv_info("%s `%s` done", what, cmd);
    return LV_OK;
}
