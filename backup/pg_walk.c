/* The data directory walk and pg_basebackup's skip rules (contract in backup/pg_walk.h). */
#include "backup/pg_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/sort.h"

/* Directories (relative to the data directory) whose contents are not backed up. */
static const char *const skip_contents[] = {"pg_wal", "pg_dynshmem", "pg_notify", "pg_replslot", "pg_serial",
                                            "pg_snapshots", "pg_stat_tmp", "pg_subtrans", NULL};
/* Files left out wherever they are (the server recreates or ignores them, or they would mislead it). Unlike
 * pg_basebackup, the signal files too: they say how the source server was started (a standby's
 * standby.signal would keep a restored copy in standby mode); a restore writes its own recovery.signal. */
static const char *const skip_files[] = {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map",
                                         "backup_manifest", "postgresql.auto.conf.tmp", "current_logfiles.tmp",
                                         "standby.signal", "recovery.signal", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int digits(const char **p, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return 0;
        s++;
    }
    *out = (uint32_t)v;
    *p = s;
    return 1;
}

int lv_pg_relfile_parse(const char *name, uint32_t *relfilenode, int *fork, uint32_t *segno, int *temp)
{
    const char *s = name;
    uint32_t backend;
    *temp = 0;
    if (*s == 't') { /* t<backend>_<relfilenode>: a temporary relation */
        s++;
        if (!digits(&s, &backend) || *s != '_')
            return 0;
        s++;
        *temp = 1;
    }
    if (!digits(&s, relfilenode))
        return 0;
    *fork = LV_PG_FORK_MAIN;
    if (strncmp(s, "_fsm", 4) == 0)
        *fork = LV_PG_FORK_FSM, s += 4;
    else if (strncmp(s, "_vm", 3) == 0)
        *fork = LV_PG_FORK_VM, s += 3;
    else if (strncmp(s, "_init", 5) == 0)
        *fork = LV_PG_FORK_INIT, s += 5;
    *segno = 0;
    if (*s == '.') {
        s++;
        if (!digits(&s, segno))
            return 0;
    }
    return *s == '\0';
}

typedef struct walker {
    const char *root;
    lv_pg_tree *t;
    lv_buf path; /* the current relative path */
} walker;

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Is rel (relative path of a directory) one whose files are relation files? base/<db>, global,
 * pg_tblspc/<oid>/<version>/<db>. */
static int is_relation_dir(const char *rel)
{
    if (strcmp(rel, "global") == 0)
        return 1;
    const char *s = rel;
    uint32_t v;
    if (strncmp(s, "base/", 5) == 0) {
        s += 5;
        return digits(&s, &v) && *s == '\0';
    }
    if (strncmp(s, "pg_tblspc/", 10) == 0) {
        s += 10;
        if (!digits(&s, &v) || *s != '/')
            return 0;
        s = strchr(s + 1, '/'); /* past the version directory */
        if (!s)
            return 0;
        s++;
        return digits(&s, &v) && *s == '\0';
    }
    return 0;
}

static void add_entry(walker *w, const char *rel, const struct stat *st, int fork, uint32_t segno)
{
    lv_pg_tree *t = w->t;
    LV_GROW(t->e, t->n, t->cap);
    lv_pg_entry *e = &t->e[t->n++];
    e->path = lv_xstrdup(rel);
    e->size = (uint64_t)st->st_size;
    e->mode = (uint32_t)st->st_mode;
    e->mtime = (int64_t)st->st_mtime;
    e->fork = fork;
    e->pages = fork >= 0 && fork != LV_PG_FORK_FSM;
    e->segno = segno;
    t->bytes += e->size;
}

/* Has the directory listing names (sorted) an _init fork of relfilenode? */
static int has_init_fork(char **names, size_t n, uint32_t relfilenode)
{
    char want[32];
    snprintf(want, sizeof want, "%u_init", relfilenode);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], want) == 0)
            return 1;
    return 0;
}

static int walk_dir(walker *w, int depth);

static int visit(walker *w, const char *name, int reldir, char **names, size_t nnames, int depth)
{
    size_t base_len = w->path.len;
    if (base_len)
        lv_buf_append(&w->path, "/", 1);
    lv_buf_append_str(&w->path, name);
    char *rel = lv_buf_cstr(&w->path);
    char *abs = lv_xasprintf("%s/%s", w->root, rel);
    int rc = LV_OK;
    struct stat st;
    /* pg_tblspc/<oid> are links into the tablespaces: follow them; nothing else. */
    int follow = depth == 1 && strncmp(rel, "pg_tblspc/", 10) == 0;
    if ((follow ? stat(abs, &st) : lstat(abs, &st)) != 0) {
        if (errno != ENOENT) /* vanished while we walk: normal */
            rc = lv_err_errno(errno, "cannot stat %s", abs);
        goto out;
    }
    if (strncmp(name, "pgsql_tmp", 9) == 0 || strncmp(name, "pg_internal.init", 16) == 0)
        goto out;
    if (S_ISDIR(st.st_mode)) {
        if (depth == 0 && in_list(rel, skip_contents))
            goto out;
        rc = walk_dir(w, depth + 1);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || in_list(name, skip_files)) /* anywhere, as pg_basebackup does */
        goto out;
    uint32_t relfilenode, segno;
    int fork, temp;
    if (reldir && lv_pg_relfile_parse(name, &relfilenode, &fork, &segno, &temp)) {
        if (temp)
            goto out;
        if (fork != LV_PG_FORK_INIT && has_init_fork(names, nnames, relfilenode))
            goto out; /* unlogged: restore rebuilds it from the init fork */
        add_entry(w, rel, &st, fork, segno);
    } else {
        add_entry(w, rel, &st, -1, 0);
    }
out:
    free(abs);
    w->path.len = base_len;
    return rc;
}

static int walk_dir(walker *w, int depth)
{
    char *rel = lv_buf_cstr(&w->path);
    char *abs = w->path.len ? lv_xasprintf("%s/%s", w->root, rel) : lv_xstrdup(w->root);
    DIR *d = opendir(abs);
    if (!d) {
        int e = errno;
        int rc = e == ENOENT && depth > 0 ? LV_OK
                 : depth == 0 ? lv_err(LV_ERR_CONFIG, "pg-data %s: cannot open the directory: %s", abs, strerror(e))
                              : lv_err_errno(e, "cannot open directory %s", abs);
        free(abs);
        return rc;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        LV_GROW(names, n, cap);
        names[n++] = lv_xstrdup(de->d_name);
    }
    closedir(d);
    free(abs);
    lv_sort(names, n, sizeof *names, name_cmp);
    int reldir = is_relation_dir(lv_buf_cstr(&w->path));
    int rc = LV_OK;
    for (size_t i = 0; i < n && rc == LV_OK; i++)
        rc = visit(w, names[i], reldir, names, n, depth);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const lv_pg_entry *)a)->path, ((const lv_pg_entry *)b)->path);
}

int lv_pg_walk(const char *dir, lv_pg_tree *t)
{
    memset(t, 0, sizeof *t);
    walker w = {dir, t, LV_BUF_INIT};
    int rc = walk_dir(&w, 0);
    lv_buf_free(&w.path);
    if (rc != LV_OK) {
        lv_pg_tree_free(t);
        return rc;
    }
    /* Depth-first name order is not bytewise path order ("a/b" vs "a.b"): sort for the manifest. */
    lv_sort(t->e, t->n, sizeof *t->e, entry_cmp);
    return LV_OK;
}

void lv_pg_tree_free(lv_pg_tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].path);
    free(t->e);
    memset(t, 0, sizeof *t);
}
