/* stub: replaced by the implementation */
#include "cli/cli.h"
#include "common/error.h"

int lv_cmd_backup_pg(lv_ctx *ctx)
{
    (void)ctx;
    return lv_err(LV_ERR_INTERNAL, "not implemented yet");
}
