/* The mark of an unfinished PostgreSQL restore (contract in restore/pg_mark.h). */
#include "restore/pg_mark.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/timefmt.h"

int lv_pg_mark_begin(const char *dir, const char *backup_id)
{
    char when[LV_TIME_TEXT_MAX];
    lv_time_format((int64_t)time(NULL), LV_TIME_UTC_TEXT, when);
    char *text = lv_xasprintf(
        "This directory is an INCOMPLETE restore by labvault (restore pg of backup %s, started %s).\n"
        "Its files may be empty or zero-filled. PostgreSQL will not start it: PG_VERSION is written last,\n"
        "when every file is in place, and this file is removed then.\n"
        "To finish it:  labvault restore pg --to %s --delta  (with the same backup and target options)\n"
        "or remove the directory.\n",
        backup_id, when, dir);
    char *marker = lv_xasprintf("%s/%s", dir, LV_PG_MARKER), *ver = lv_xasprintf("%s/PG_VERSION", dir);
    int rc = lv_write_file_atomic(marker, text, strlen(text), 0600, 0);
    if (rc == LV_OK && unlink(ver) != 0 && errno != ENOENT)
        rc = lv_err_errno(errno, "cannot remove %s (a restore writes it last)", ver);
    else if (rc == LV_OK)
        rc = lv_fsync_dir(dir);
    free(text);
    free(marker);
    free(ver);
    return rc;
}

int lv_pg_mark_finish(const char *dir)
{
    char *staged = lv_xasprintf("%s/%s", dir, LV_PG_VERSION_STAGED), *ver = lv_xasprintf("%s/PG_VERSION", dir);
    char *marker = lv_xasprintf("%s/%s", dir, LV_PG_MARKER);
    int rc = LV_OK;
    if (rename(staged, ver) != 0 && errno != ENOENT)
        rc = lv_err_errno(errno, "cannot rename %s to %s", staged, ver);
    if (rc == LV_OK)
        rc = lv_fsync_dir(dir); /* PG_VERSION durable before the marker goes */
    if (rc == LV_OK && unlink(marker) != 0 && errno != ENOENT)
        rc = lv_err_errno(errno, "cannot remove %s", marker);
    if (rc == LV_OK)
        rc = lv_fsync_dir(dir);
    free(staged);
    free(ver);
    free(marker);
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
}

int lv_pg_mark_present(const char *dir)
{
    char *marker = lv_xasprintf("%s/%s", dir, LV_PG_MARKER);
    int yes = access(marker, F_OK) == 0;
    free(marker);
    return yes;
}
