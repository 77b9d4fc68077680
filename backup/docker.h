/* Docker volumes and compose projects for `backup files`, through the `docker` CLI on PATH (DOCKER_HOST
 * and the CLI's context choose the engine; nothing here talks to the engine's socket itself).
 *
 * Which volumes (each call asks the engine first, once, whether it answers):
 *   lv_docker_add_volume   one volume by name: its mount point (`docker volume inspect`).
 *   lv_docker_add_project  every volume of a docker compose project NAME, read from the labels compose
 *                          puts on what it creates (no compose binary needed): the volumes labelled
 *                          com.docker.compose.project=NAME, and the named volumes mounted by the containers
 *                          so labelled (external volumes too). Bind mounts are host paths, not volumes.
 * The mount points must be directories on this machine (a remote engine's are not: LV_ERR_CONFIG).
 *
 * Consistency:
 *   lv_docker_stop    stops, with one `docker stop` (the CLI stops them in parallel), the running
 *                     containers that use any of the volumes and, with a project, every running container
 *                     of the project; their ids are kept. On failure some may be stopped: the ids are kept
 *                     all the same, so that
 *   lv_docker_start   starts exactly those again, in compose's dependency order when the containers carry
 *                     compose's com.docker.compose.depends_on label (a service after those it depends on;
 *                     a cycle or an unknown service does not block: the rest start last). It is never
 *                     given up half-way: every container is tried. The docker processes run in a process
 *                     group of their own, so a Ctrl-C at the terminal does not kill the restart.
 *
 * Errors (each one line naming the object and docker's own reason): the docker CLI missing is
 * LV_ERR_CONFIG; the engine not answering (`docker version` fails: socket missing, daemon down,
 * permission) is LV_ERR_UNREACHABLE; an unknown volume, or a project with no volume, LV_ERR_NOT_FOUND;
 * any other docker failure LV_ERR_CHECK naming the command. */
#ifndef LV_BACKUP_DOCKER_H
#define LV_BACKUP_DOCKER_H

#include <stddef.h>

typedef struct lv_docker_volume {
    char *name, *path;             /* the volume and its mount point */
} lv_docker_volume;

typedef struct lv_docker {
    char *project;                 /* the compose project added, or NULL */
    lv_docker_volume *vols;        /* sorted by name, no duplicates */
    size_t nvols;
    char **stopped;                /* ids of the containers lv_docker_stop stopped */
    size_t nstopped;
    int pinged;                    /* the engine answered */
} lv_docker;

#define LV_DOCKER_INIT {NULL, NULL, 0, NULL, 0, 0}

int lv_docker_add_volume(lv_docker *d, const char *name);
int lv_docker_add_project(lv_docker *d, const char *project);
int lv_docker_stop(lv_docker *d);
int lv_docker_start(lv_docker *d);
void lv_docker_free(lv_docker *d);

#endif
