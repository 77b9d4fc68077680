#include "backup/docker.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/sort.h"

#define COMPOSE_PROJECT "com.docker.compose.project"

/* ---- running docker ----------------------------------------------------------------------------- */

typedef struct args {
    const char **v;
    size_t n, cap;
} args;

static void push(args *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = lv_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

/* docker followed by the given arguments (NULL ends them); push adds more. */
__attribute__((sentinel)) static void args_init(args *a, ...)
{
    memset(a, 0, sizeof *a);
    push(a, "docker");
    va_list ap;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        push(a, s);
    va_end(ap);
}

/* The first non-empty line of docker's stderr, trimmed, for a message (one line whatever docker said). */
static const char *first_line(lv_buf *err, char *line, size_t size)
{
    const char *s = lv_buf_cstr(err);
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, "\r\n");
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    snprintf(line, size, "%.*s", (int)n, s);
    return line;
}

/* Run docker with a's arguments; stdout into out (may be NULL: dropped), stderr into err. *status as
 * lv_proc_run; a docker that cannot be run at all is LV_ERR_CONFIG here. */
static int run(const args *a, lv_buf *out, lv_buf *err, int *status)
{
    lv_buf sink = LV_BUF_INIT;
    lv_proc_opts o = {NULL, out ? out : &sink, err, 1};
    int rc = lv_proc_run(a->v, &o, status);
    lv_buf_free(&sink);
    if (rc == LV_OK && *status == 127)
        rc = lv_err(LV_ERR_CONFIG, "cannot run `docker` (is the docker CLI installed and on PATH?)");
    return rc;
}

/* Run docker; any failure is `code` with "WHAT: docker's reason". */
static int docker(const args *a, lv_buf *out, int code, const char *what)
{
    lv_buf err = LV_BUF_INIT;
    int status = 0, rc = run(a, out, &err, &status);
    if (rc == LV_OK && status != 0) {
        char line[512];
        first_line(&err, line, sizeof line);
        rc = *line ? lv_err(code, "%s: %s", what, line)
                   : lv_err(code, "%s: `docker %s` exited with status %d", what, a->v[1], status);
    }
    lv_buf_free(&err);
    return rc;
}

/* Does the engine answer? Asked once: "unreachable" is then told apart from "no such volume". */
static int ping(lv_docker *d)
{
    if (d->pinged)
        return LV_OK;
    args a;
    args_init(&a, "version", "--format", "{{.Server.Version}}", NULL);
    int rc = docker(&a, NULL, LV_ERR_UNREACHABLE, "docker engine unreachable");
    free(a.v);
    d->pinged = rc == LV_OK;
    return rc;
}

/* Split docker's stdout into its non-empty lines (in place). */
static size_t lines(lv_buf *out, char ***v)
{
    size_t n = 0, cap = 0;
    *v = NULL;
    char *save = NULL;
    for (char *l = strtok_r(lv_buf_cstr(out), "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
        LV_GROW(*v, n, cap);
        (*v)[n++] = l;
    }
    return n;
}

static int has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* ---- volumes ------------------------------------------------------------------------------------ */

static int cmp_vol(const void *a, const void *b)
{
    return strcmp(((const lv_docker_volume *)a)->name, ((const lv_docker_volume *)b)->name);
}

static int add(lv_docker *d, const char *name, const char *path)
{
    struct stat st;
    if (path[0] != '/' || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return lv_err(LV_ERR_CONFIG, "docker volume %s: its mount point %s is not a directory on this machine "
                      "(labvault must run where the engine keeps its volumes, not against a remote one)", name, path);
    for (size_t i = 0; i < d->nvols; i++)
        if (strcmp(d->vols[i].name, name) == 0)
            return LV_OK;
    d->vols = lv_xrealloc(d->vols, (d->nvols + 1) * sizeof *d->vols);
    d->vols[d->nvols].name = lv_xstrdup(name);
    d->vols[d->nvols].path = lv_xstrdup(path);
    d->nvols++;
    lv_sort(d->vols, d->nvols, sizeof *d->vols, cmp_vol);
    return LV_OK;
}

int lv_docker_add_volume(lv_docker *d, const char *name)
{
    int rc = ping(d);
    if (rc != LV_OK)
        return rc;
    args a;
    args_init(&a, "volume", "inspect", "--format", "{{.Mountpoint}}", "--", name, NULL);
    lv_buf out = LV_BUF_INIT, err = LV_BUF_INIT;
    int status = 0;
    rc = run(&a, &out, &err, &status);
    free(a.v);
    if (rc == LV_OK && status != 0) {
        char line[512];
        first_line(&err, line, sizeof line);
        /* The engine answered (ping): docker's words tell an unknown volume from other refusals. */
        if (strcasestr(line, "no such volume"))
            rc = lv_err(LV_ERR_NOT_FOUND, "docker volume %s: no such volume", name);
        else
            rc = lv_err(LV_ERR_CHECK, "docker volume %s: `docker volume inspect` failed: %s", name,
                        *line ? line : "no reason given");
    }
    if (rc == LV_OK) {
        char *s = lv_buf_cstr(&out);
        s[strcspn(s, "\r\n")] = '\0';
        rc = add(d, name, s);
    }
    lv_buf_free(&out);
    lv_buf_free(&err);
    return rc;
}

/* The project's containers (all of them, or the running ones), full ids. */
static int project_containers(const char *project, int all, lv_buf *out, char ***ids, size_t *n)
{
    args a;
    char *filter = lv_xasprintf("label=" COMPOSE_PROJECT "=%s", project);
    args_init(&a, "ps", all ? "-aq" : "-q", "--no-trunc", "--filter", filter, NULL);
    char *what = lv_xasprintf("compose project %s: listing its containers", project);
    int rc = docker(&a, out, LV_ERR_CHECK, what);
    free(what);
    free(filter);
    free(a.v);
    *n = rc == LV_OK ? lines(out, ids) : 0;
    return rc;
}

/* Names of the volumes labelled with the project, and of the named volumes its containers mount. */
static int project_volume_names(const char *project, lv_buf *bufs, char ***names, size_t *n, size_t *ncontainers)
{
    args a;
    char *filter = lv_xasprintf("label=" COMPOSE_PROJECT "=%s", project);
    args_init(&a, "volume", "ls", "-q", "--filter", filter, NULL);
    char *what = lv_xasprintf("compose project %s: listing its volumes", project);
    int rc = docker(&a, &bufs[0], LV_ERR_CHECK, what);
    free(what);
    free(filter);
    free(a.v);
    char **labelled = NULL, **ids = NULL, **mounted = NULL;
    size_t nl = rc == LV_OK ? lines(&bufs[0], &labelled) : 0, nids = 0, nm = 0;
    if (rc == LV_OK)
        rc = project_containers(project, 1, &bufs[1], &ids, &nids);
    if (rc == LV_OK && nids) {
        args_init(&a, "inspect", "--format",
                  "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}}{{\"\\n\"}}{{end}}{{end}}", "--", NULL);
        for (size_t i = 0; i < nids; i++)
            push(&a, ids[i]);
        what = lv_xasprintf("compose project %s: reading its containers' mounts", project);
        rc = docker(&a, &bufs[2], LV_ERR_CHECK, what);
        free(what);
        free(a.v);
        if (rc == LV_OK)
            nm = lines(&bufs[2], &mounted);
    }
    *names = lv_xcalloc(nl + nm + 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; i < nl + nm; i++) {
        char *v = i < nl ? labelled[i] : mounted[i - nl];
        if (!has(*names, *n, v))
            (*names)[(*n)++] = v;
    }
    *ncontainers = nids;
    free(labelled);
    free(ids);
    free(mounted);
    return rc;
}

int lv_docker_add_project(lv_docker *d, const char *project)
{
    int rc = ping(d);
    if (rc != LV_OK)
        return rc;
    lv_buf bufs[4] = {LV_BUF_INIT, LV_BUF_INIT, LV_BUF_INIT, LV_BUF_INIT};
    char **names = NULL, **rows = NULL;
    size_t n = 0, ncontainers = 0, nrows = 0;
    rc = project_volume_names(project, bufs, &names, &n, &ncontainers);
    if (rc == LV_OK && n == 0)
        rc = ncontainers ? lv_err(LV_ERR_NOT_FOUND, "compose project %s: its %zu containers use no volume (bind "
                                  "mounts are host directories: back them up as PATHs)", project, ncontainers)
                         : lv_err(LV_ERR_NOT_FOUND, "compose project %s: no container or volume is labelled "
                                  COMPOSE_PROJECT "=%s", project, project);
    if (rc == LV_OK) {
        /* Volume names cannot hold a space ([a-zA-Z0-9][a-zA-Z0-9_.-]*): "NAME MOUNTPOINT" splits safely. */
        args a;
        args_init(&a, "volume", "inspect", "--format", "{{.Name}} {{.Mountpoint}}", "--", NULL);
        for (size_t i = 0; i < n; i++)
            push(&a, names[i]);
        char *what = lv_xasprintf("compose project %s: reading its volumes' mount points", project);
        rc = docker(&a, &bufs[3], LV_ERR_CHECK, what);
        free(what);
        free(a.v);
        nrows = rc == LV_OK ? lines(&bufs[3], &rows) : 0;
    }
    for (size_t i = 0; rc == LV_OK && i < nrows; i++) {
        char *sp = strchr(rows[i], ' ');
        if (!sp)
            rc = lv_err(LV_ERR_CHECK, "compose project %s: unexpected line from docker volume inspect", project);
        else {
            *sp = '\0';
            rc = add(d, rows[i], sp + 1);
        }
    }
    if (rc == LV_OK) {
        free(d->project);
        d->project = lv_xstrdup(project);
        lv_info("compose project %s: %zu volumes", project, d->nvols);
    }
    free(names);
    free(rows);
    for (size_t i = 0; i < 4; i++)
        lv_buf_free(&bufs[i]);
    return rc;
}

/* ---- stopping and starting -------------------------------------------------------------------------- */

int lv_docker_stop(lv_docker *d)
{
    lv_buf out = LV_BUF_INIT, out2 = LV_BUF_INIT;
    char **ids = NULL, **pids = NULL;
    size_t n = 0, np = 0;
    int rc = LV_OK;
    if (d->nvols) {
        /* Several filters of one key match any of them. */
        args a;
        args_init(&a, "ps", "-q", "--no-trunc", NULL);
        char **filters = lv_xcalloc(d->nvols, sizeof *filters);
        for (size_t i = 0; i < d->nvols; i++) {
            filters[i] = lv_xasprintf("volume=%s", d->vols[i].name);
            push(&a, "--filter");
            push(&a, filters[i]);
        }
        rc = docker(&a, &out, LV_ERR_CHECK, "listing the containers that use the volumes");
        for (size_t i = 0; i < d->nvols; i++)
            free(filters[i]);
        free(filters);
        free(a.v);
        if (rc == LV_OK)
            n = lines(&out, &ids);
    }
    if (rc == LV_OK && d->project)
        rc = project_containers(d->project, 0, &out2, &pids, &np);
    for (size_t i = 0; i < n + np; i++) {
        const char *id = i < n ? ids[i] : pids[i - n];
        if (!has(d->stopped, d->nstopped, id)) {
            d->stopped = lv_xrealloc(d->stopped, (d->nstopped + 1) * sizeof *d->stopped);
            d->stopped[d->nstopped++] = lv_xstrdup(id);
        }
    }
    if (rc == LV_OK && d->nstopped) {
        args a;
        args_init(&a, "stop", "--", NULL);
        for (size_t i = 0; i < d->nstopped; i++)
            push(&a, d->stopped[i]);
        rc = docker(&a, NULL, LV_ERR_CHECK, "stopping the containers");
        free(a.v);
        if (rc == LV_OK)
            lv_info("stopped %zu containers", d->nstopped);
    }
    free(ids);
    free(pids);
    lv_buf_free(&out);
    lv_buf_free(&out2);
    return rc;
}

typedef struct ctr {
    const char *id, *service, *deps; /* deps: compose's "svc:condition:restart,..." or "" */
    int started;
} ctr;

/* Does c depend on a service that one of the containers not yet started provides? */
static int waits(const ctr *c, const ctr *all, size_t n)
{
    for (const char *p = c->deps; *p;) {
        size_t k = strcspn(p, ":,");
        for (size_t i = 0; i < n; i++)
            if (!all[i].started && &all[i] != c && strlen(all[i].service) == k && strncmp(all[i].service, p, k) == 0)
                return 1;
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return 0;
}

/* c[] filled from `docker inspect` lines "ID SERVICE DEPENDS_ON" (either may be empty); 0 when a line
 * does not parse (then no order is imposed). */
static int parse_ctrs(char **rows, size_t nrows, ctr *c)
{
    for (size_t i = 0; i < nrows; i++) {
        char *s1 = strchr(rows[i], ' '), *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
        if (!s2)
            return 0;
        *s1 = *s2 = '\0';
        c[i] = (ctr){rows[i], s1 + 1, s2 + 1, 0};
    }
    return 1;
}

int lv_docker_start(lv_docker *d)
{
    if (d->nstopped == 0)
        return LV_OK;
    lv_buf out = LV_BUF_INIT;
    args a;
    args_init(&a, "inspect", "--format",
              "{{.Id}} {{index .Config.Labels \"com.docker.compose.service\"}} "
              "{{index .Config.Labels \"com.docker.compose.depends_on\"}}", "--", NULL);
    for (size_t i = 0; i < d->nstopped; i++)
        push(&a, d->stopped[i]);
    char **rows = NULL;
    size_t nrows = 0;
    ctr *c = lv_xcalloc(d->nstopped, sizeof *c);
    /* Without the order (inspect failed: a container removed meanwhile), all start in one go. */
    if (docker(&a, &out, LV_ERR_CHECK, "reading the stopped containers' compose labels") == LV_OK)
        nrows = lines(&out, &rows);
    free(a.v);
    if (nrows != d->nstopped || !parse_ctrs(rows, nrows, c))
        for (size_t i = 0; i < d->nstopped; i++)
            c[i] = (ctr){d->stopped[i], "", "", 0};
    int rc = LV_OK;
    char *first = NULL; /* the first failure's message: every wave is tried, whatever an earlier one did */
    size_t left = d->nstopped;
    while (left) {
        args_init(&a, "start", "--", NULL);
        int *wave = lv_xcalloc(d->nstopped, sizeof *wave);
        size_t k = 0;
        for (size_t i = 0; i < d->nstopped; i++)
            if (!c[i].started && !waits(&c[i], c, d->nstopped)) {
                wave[i] = 1;
                k++;
            }
        for (size_t i = 0; i < d->nstopped; i++)
            if (!c[i].started && (wave[i] || k == 0)) { /* k == 0: a cycle; start the rest */
                push(&a, c[i].id);
                c[i].started = 1;
                left--;
            }
        free(wave);
        int r = docker(&a, NULL, LV_ERR_CHECK, "starting the stopped containers again");
        free(a.v);
        if (r != LV_OK && rc == LV_OK) {
            rc = r;
            first = lv_xstrdup(lv_errmsg());
        } else if (r != LV_OK) {
            lv_error("%s", lv_errmsg());
        }
    }
    if (first)
        lv_err(rc, "%s", first);
    free(first);
    if (rc == LV_OK)
        lv_info("started %zu containers again", d->nstopped);
    free(rows);
    free(c);
    lv_buf_free(&out);
    return rc;
}

void lv_docker_free(lv_docker *d)
{
    for (size_t i = 0; i < d->nvols; i++) {
        free(d->vols[i].name);
        free(d->vols[i].path);
    }
    for (size_t i = 0; i < d->nstopped; i++)
        free(d->stopped[i]);
    free(d->vols);
    free(d->stopped);
    free(d->project);
    memset(d, 0, sizeof *d);
}
