/* User hooks around a backup.
 *
 * Hooks run as `/bin/sh -c CMD` with stdin from /dev/null and stdout sent to stderr (so a --json
 * report on stdout stays parseable), with LABVAULT_HOOK=pre|post and, for the post hook,
 * LABVAULT_BACKUP_STATUS=ok|incomplete|failed and LABVAULT_SNAPSHOT_ID when a snapshot was committed.
 * A hook that does not exit 0 is LV_ERR_CHECK naming it and its status.
 * (Docker volumes and compose projects: backup/docker.h.) */
#ifndef LV_BACKUP_HOOKS_H
#define LV_BACKUP_HOOKS_H

/* env: NULL-terminated "NAME=VALUE" strings added to the hook's environment. */
int lv_hook_run(const char *what, const char *cmd, const char *const *env);

#endif
