/* stub: replaced by the implementation */
#include "cli/cli.h"
#include "common/error.h"

int lv_cmd_restore_pg(lv_ctx *ctx)
{
    (void)ctx;
    return lv_err(LV_ERR_INTERNAL, "not implemented yet");
}

int lv_cmd_backups(lv_ctx *ctx)
{
    (void)ctx;
    return lv_err(LV_ERR_INTERNAL, "not implemented yet");
}
