/* Recovery configuration of a restored data directory (contract in restore/pg_conf.h). */
#include "restore/pg_conf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"

/* A word for /bin/sh: as is when it is made of safe characters, else in single quotes. */
static void sh_word(lv_buf *out, const char *w)
{
    if (w[0] && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=./,:@%") == strlen(w)) {
        lv_buf_append_str(out, w);
        return;
    }
    lv_buf_append_str(out, "'");
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            lv_buf_append_str(out, "'\\''");
        else
            lv_buf_append(out, p, 1);
    }
    lv_buf_append_str(out, "'");
}

int lv_pg_restore_command(const char *config_file, lv_buf *out)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return lv_err_errno(n < 0 ? errno : EIO, "cannot read /proc/self/exe (the path of labvault for "
                            "restore_command)");
    exe[n] = '\0';
    sh_word(out, exe);
    if (config_file) {
        char abs[PATH_MAX];
        lv_buf_append_str(out, " --config ");
        sh_word(out, realpath(config_file, abs) ? abs : config_file);
    }
    lv_buf_append_str(out, " wal fetch %f %p");
    return LV_OK;
}

/* 'value' for postgresql.conf's lexer. */
static void conf_value(lv_buf *out, const char *v)
{
    lv_buf_append_str(out, "'");
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            lv_buf_append_str(out, "''");
        else if (*p == '\\')
            lv_buf_append_str(out, "\\\\");
        else
            lv_buf_append(out, p, 1);
    }
    lv_buf_append_str(out, "'\n");
}

/* A line that sets a setting recovery reads, or our own comment. */
static int ours(const char *line, size_t len)
{
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    if (len >= strlen(LV_PGCONF_MARK) && memcmp(line, LV_PGCONF_MARK, strlen(LV_PGCONF_MARK)) == 0)
        return 1;
    size_t k = 0;
    while (k < len && line[k] != '=' && line[k] != ' ' && line[k] != '\t')
        k++;
    static const char *const keys[] = {"restore_command", "recovery_target", "recovery_target_time",
                                       "recovery_target_xid", "recovery_target_lsn", "recovery_target_name",
                                       "recovery_target_inclusive", "recovery_target_action",
                                       "recovery_target_timeline"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (k == strlen(keys[i]) && strncasecmp(line, keys[i], k) == 0)
            return 1;
    return 0;
}

void lv_pg_auto_conf(const char *old, const lv_pg_restore_opts *o, const char *restore_command, lv_buf *out)
{
    for (const char *p = old ? old : ""; *p;) {
        size_t len = strcspn(p, "\n");
        if (!ours(p, len)) {
            lv_buf_append(out, p, len);
            lv_buf_append_str(out, "\n");
        }
        p += len + (p[len] == '\n');
    }
    lv_buf_append_str(out, LV_PGCONF_MARK " recovery settings (replaced by the next restore)\n");
    lv_buf_append_str(out, "restore_command = ");
    conf_value(out, restore_command);
    static const char *const names[] = {NULL, "recovery_target", "recovery_target_time", "recovery_target_xid",
                                        "recovery_target_lsn", "recovery_target_name"};
    if (o->target != LV_PGT_LATEST) {
        lv_buf_printf(out, "%s = ", names[o->target]);
        conf_value(out, o->target == LV_PGT_IMMEDIATE ? "immediate" : o->target_value);
        if (o->target != LV_PGT_IMMEDIATE && o->target != LV_PGT_NAME)
            lv_buf_printf(out, "recovery_target_inclusive = %s\n", o->target_exclusive ? "off" : "on");
        lv_buf_append_str(out, "recovery_target_action = ");
        conf_value(out, o->target_action ? o->target_action : "promote");
    }
    lv_buf_append_str(out, "recovery_target_timeline = ");
    conf_value(out, o->recovery_timeline ? o->recovery_timeline : "latest");
}

int lv_pg_write_recovery(const char *dir, const lv_pg_restore_opts *o, const char *restore_command)
{
    char *path = lv_xasprintf("%s/postgresql.auto.conf", dir);
    lv_buf old = LV_BUF_INIT, out = LV_BUF_INIT;
    int rc = lv_read_file(path, &old);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_err_clear();
        rc = LV_OK;
    }
    if (rc == LV_OK) {
        lv_pg_auto_conf(old.len ? lv_buf_cstr(&old) : NULL, o, restore_command, &out);
        rc = lv_write_file_atomic(path, out.data, out.len, 0600, 0);
    }
    free(path);
    if (rc == LV_OK) {
        path = lv_xasprintf("%s/recovery.signal", dir);
        rc = lv_write_file_atomic(path, "", 0, 0600, 0);
        free(path);
    }
    lv_buf_free(&old);
    lv_buf_free(&out);
    return rc;
}
