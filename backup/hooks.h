/* Consistency helpers around a backup: user hooks and docker volumes.
 *
 * Hooks run as `/bin/sh -c CMD` with stdin from /dev/null and stdout sent to stderr (so a --json
 * report on stdout stays parseable), with LABVAULT_HOOK=pre|post and, for the post hook,
 * LABVAULT_BACKUP_STATUS=ok|incomplete|failed and LABVAULT_SNAPSHOT_ID when a snapshot was committed.
 * A hook that does not exit 0 is LV_ERR_CHECK naming it and its status.
 *
 * Docker (the `docker` program on PATH; nothing here talks to the engine's socket directly):
 *   lv_docker_mountpoint   `docker volume inspect --format {{.Mountpoint}} NAME`
 *   lv_docker_stop_users   `docker ps -q --filter volume=NAME`, then `docker stop ID...`: the running
 *                          containers that use the volume, stopped; their ids are returned so that
 *   lv_docker_start        `docker start ID...` brings back exactly those.
 * Failures: docker missing is LV_ERR_CONFIG; docker exiting non-zero is LV_ERR_CHECK (inspect of an
 * unknown volume: LV_ERR_NOT_FOUND), each naming the command. */
#ifndef LV_BACKUP_HOOKS_H
#define LV_BACKUP_HOOKS_H

#include <stddef.h>

/* env: NULL-terminated "NAME=VALUE" strings added to the hook's environment. */
int lv_hook_run(const char *what, const char *cmd, const char *const *env);

int lv_docker_mountpoint(const char *volume, char **path);
int lv_docker_stop_users(const char *volume, char ***ids, size_t *n);
int lv_docker_start(char *const *ids, size_t n);
void lv_docker_ids_free(char **ids, size_t n);

#endif
