#include "restore/meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

typedef struct owner {
    int group;
    char name[256];
    uint32_t recorded, local;
} owner;

struct lv_owner_cache {
    owner *v;
    size_t n;
    int root;
};

lv_owner_cache *lv_owner_cache_new(void)
{
    lv_owner_cache *c = lv_xcalloc(1, sizeof *c);
    c->root = geteuid() == 0;
    return c;
}

void lv_owner_cache_free(lv_owner_cache *c)
{
    if (!c)
        return;
    free(c->v);
    free(c);
}

static uint32_t local_id(lv_owner_cache *c, int group, const char *name, size_t len, uint32_t recorded)
{
    if (len == 0 || len > 255)
        return recorded;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].group == group && c->v[i].recorded == recorded && strlen(c->v[i].name) == len &&
            memcmp(c->v[i].name, name, len) == 0)
            return c->v[i].local;
    owner o = {group, "", recorded, recorded};
    memcpy(o.name, name, len);
    o.name[len] = '\0';
    char buf[16384];
    if (group) {
        struct group g, *res = NULL;
        if (getgrnam_r(o.name, &g, buf, sizeof buf, &res) == 0 && res)
            o.local = (uint32_t)res->gr_gid;
    } else {
        struct passwd p, *res = NULL;
        if (getpwnam_r(o.name, &p, buf, sizeof buf, &res) == 0 && res)
            o.local = (uint32_t)res->pw_uid;
    }
    c->v = lv_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
    c->v[c->n++] = o;
    return o.local;
}

static void warn(uint64_t *warnings, const char *path, const char *what, int err)
{
    lv_warn("%s: cannot set %s: %s", path, what, strerror(err));
    (*warnings)++;
}

static void times_of(const lv_node *n, struct timespec ts[2])
{
    ts[0].tv_sec = (time_t)n->mtime_sec;
    ts[0].tv_nsec = (long)n->mtime_nsec;
    ts[1] = ts[0];
}

/* xattrs through a setter: fd-based or path-based (NULL fd). */
static void set_xattrs(int fd, const char *xpath, const lv_node *n, const char *path, uint64_t *warnings)
{
    size_t pos = 0;
    lv_xattr x;
    while (lv_xattr_next(n, &pos, &x)) {
        char name[256];
        memcpy(name, x.name, x.name_len);
        name[x.name_len] = '\0';
        int r = xpath ? lsetxattr(xpath, name, x.value, x.value_len, 0) : fsetxattr(fd, name, x.value, x.value_len, 0);
        if (r != 0) {
            char what[300];
            snprintf(what, sizeof what, "extended attribute %s", name);
            warn(warnings, path, what, errno);
        }
    }
}

void lv_meta_apply_fd(lv_owner_cache *c, int fd, const lv_node *n, const char *path, uint64_t *warnings)
{
    if (c->root) {
        uid_t u = (uid_t)local_id(c, 0, n->user, n->user_len, n->uid);
        gid_t g = (gid_t)local_id(c, 1, n->group, n->group_len, n->gid);
        if (fchown(fd, u, g) != 0)
            warn(warnings, path, "owner", errno);
    }
    if (fchmod(fd, (mode_t)n->mode) != 0)
        warn(warnings, path, "mode", errno);
    set_xattrs(fd, NULL, n, path, warnings);
    struct timespec ts[2];
    times_of(n, ts);
    if (futimens(fd, ts) != 0)
        warn(warnings, path, "times", errno);
}

void lv_meta_apply_at(lv_owner_cache *c, int dfd, const char *name, const lv_node *n, const char *path,
                      uint64_t *warnings)
{
    if (c->root) {
        uid_t u = (uid_t)local_id(c, 0, n->user, n->user_len, n->uid);
        gid_t g = (gid_t)local_id(c, 1, n->group, n->group_len, n->gid);
        if (fchownat(dfd, name, u, g, AT_SYMLINK_NOFOLLOW) != 0)
            warn(warnings, path, "owner", errno);
    }
    if (n->type != LV_NODE_SYMLINK && fchmodat(dfd, name, (mode_t)n->mode, 0) != 0)
        warn(warnings, path, "mode", errno);
    if (n->nxattrs) {
        /* No l*xattr call takes a directory descriptor: reach dfd through /proc. */
        char xpath[64 + 256];
        snprintf(xpath, sizeof xpath, "/proc/self/fd/%d/%s", dfd, name);
        set_xattrs(-1, xpath, n, path, warnings);
    }
    struct timespec ts[2];
    times_of(n, ts);
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        warn(warnings, path, "times", errno);
}

int lv_remove_tree(int dfd, const char *name, const char *path)
{
    if (unlinkat(dfd, name, 0) == 0)
        return LV_OK;
    if (errno != EISDIR && errno != EPERM)
        return errno == ENOENT ? LV_OK : lv_err_errno(errno, "cannot remove %s", path);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return lv_err_errno(errno, "cannot remove %s", path);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return lv_err_errno(errno, "cannot remove %s", path);
    }
    int rc = LV_OK;
    struct dirent *e;
    while (rc == LV_OK && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = lv_xasprintf("%s/%s", path, e->d_name);
        rc = lv_remove_tree(dirfd(d), e->d_name, sub);
        free(sub);
    }
    closedir(d);
    if (rc == LV_OK && unlinkat(dfd, name, AT_REMOVEDIR) != 0)
        rc = lv_err_errno(errno, "cannot remove %s", path);
    return rc;
}
