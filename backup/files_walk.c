/* The directory source of a backup: the given paths, as they are on this host, depth first in name
 * order, so that every directory's tree pages are complete (and handed to the packer) before its
 * parent's. Directories are opened relative to their parent's descriptor with O_NOFOLLOW, so a path
 * swapped for a symlink while we walk is not followed. Extended attributes are read by path with the
 * l*xattr calls, which do not follow symlinks either. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backup/files_run.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/sort.h"
#include "snapshot/pattern.h"

/* ---- owners ----------------------------------------------------------------------------------- */

static const char *owner_name(lv_owner_name **tab, size_t *n, uint32_t id, int group)
{
    for (size_t i = 0; i < *n; i++)
        if ((*tab)[i].id == id)
            return (*tab)[i].name;
    char buf[16384];
    const char *name = "";
    if (group) {
        struct group g, *res = NULL;
        if (getgrgid_r((gid_t)id, &g, buf, sizeof buf, &res) == 0 && res)
            name = res->gr_name;
    } else {
        struct passwd pw, *res = NULL;
        if (getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &res) == 0 && res)
            name = res->pw_name;
    }
    *tab = lv_xrealloc(*tab, (*n + 1) * sizeof **tab);
    (*tab)[*n].id = id;
    (*tab)[*n].name = lv_xstrdup(strlen(name) <= 255 ? name : "");
    return (*tab)[(*n)++].name;
}

const char *lv_bk_user(lv_bk *b, uint32_t uid) { return owner_name(&b->users, &b->nusers, uid, 0); }
const char *lv_bk_group(lv_bk *b, uint32_t gid) { return owner_name(&b->groups, &b->ngroups, gid, 1); }

void lv_bk_node_from_stat(lv_bk *b, lv_node *n, const struct stat *st)
{
    n->mode = (uint32_t)st->st_mode & LV_TREE_MODE_MASK;
    n->uid = (uint32_t)st->st_uid;
    n->gid = (uint32_t)st->st_gid;
    n->user = lv_bk_user(b, n->uid);
    n->user_len = strlen(n->user);
    n->group = lv_bk_group(b, n->gid);
    n->group_len = strlen(n->group);
    n->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    n->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    n->ctime_sec = (int64_t)st->st_ctim.tv_sec;
    n->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
    n->dev = (uint64_t)st->st_dev;
    n->ino = (uint64_t)st->st_ino;
    n->nlink = st->st_nlink < 1 ? 1 : st->st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st->st_nlink;
}

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ns(&ts);
}

/* ---- extended attributes ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* All xattrs of path (not following a symlink), sorted by name, in wire form. A file system without
 * xattrs has none. *bad = 1 (with the message) when they cannot be read. */
static int read_xattrs(const char *path, lv_buf *out, uint32_t *count, int *bad)
{
    *count = 0;
    ssize_t len = llistxattr(path, NULL, 0);
    if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
        return LV_OK;
    if (len <= 0) {
        if (len == 0)
            return LV_OK;
        *bad = 1;
        return lv_err_errno(errno, "cannot list the extended attributes of %s", path);
    }
    lv_buf names = LV_BUF_INIT, val = LV_BUF_INIT;
    char **list = NULL;
    int rc = LV_OK;
    for (;;) {
        lv_buf_reset(&names);
        lv_buf_reserve(&names, (size_t)len + 1);
        ssize_t got = llistxattr(path, (char *)names.data, (size_t)len);
        if (got >= 0) {
            names.len = (size_t)got;
            break;
        }
        if (errno != ERANGE || (len = llistxattr(path, NULL, 0)) < 0) {
            *bad = 1;
            rc = lv_err_errno(errno, "cannot list the extended attributes of %s", path);
            goto out;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < names.len; i += strlen((char *)names.data + i) + 1)
        n++;
    list = lv_xcalloc(n ? n : 1, sizeof *list);
    n = 0;
    for (size_t i = 0; i < names.len; i += strlen((char *)names.data + i) + 1)
        if (names.data[i])
            list[n++] = (char *)names.data + i;
    lv_sort(list, n, sizeof *list, cmp_str);
    for (size_t i = 0; i < n; i++) {
        ssize_t vlen;
        for (;;) {
            vlen = lgetxattr(path, list[i], NULL, 0);
            if (vlen < 0)
                break;
            lv_buf_reset(&val);
            lv_buf_reserve(&val, (size_t)vlen + 1);
            ssize_t got = lgetxattr(path, list[i], val.data, (size_t)vlen);
            if (got >= 0) {
                vlen = got;
                break;
            }
            if (errno != ERANGE)
                break;
        }
        if (vlen < 0 && errno == ENODATA)
            continue; /* removed since the listing */
        if (vlen < 0) {
            *bad = 1;
            rc = lv_err_errno(errno, "cannot read extended attribute %s of %s", list[i], path);
            goto out;
        }
        if (strlen(list[i]) > 255)
            continue; /* Linux caps names at 255 bytes; nothing longer can be restored */
        lv_xattr_append(out, list[i], strlen(list[i]), val.data, (size_t)vlen);
        (*count)++;
    }
out:
    free(list);
    lv_buf_free(&names);
    lv_buf_free(&val);
    return rc;
}

/* ---- excludes --------------------------------------------------------------------------------- */

static int excluded(const lv_bk *b, const char *path, const char *name)
{
    for (size_t i = 0; i < b->o->nexcludes; i++) {
        if (lv_path_pattern_match(b->o->excludes[i], path, name))
            return 1;
    }
    return 0;
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int walk_dir(lv_bk *b, int fd, lv_buf *path, dev_t root_dev, lv_buf *pages, int *skip);

/* A hardlinked file stored earlier in this run, until its last link is seen (so the map holds the
 * inodes whose links are still to come, not every hardlinked file of the run). */
typedef struct link_rec {
    uint64_t size;
    int kind;              /* 0 new, 1 changed, 2 unchanged: each link counts as its first did */
    int trusted;           /* its files-cache entry may hit next time */
    lv_fcache_key key;
    uint32_t left;         /* links not seen yet */
    size_t extents_len;
    uint8_t extents[];
} link_rec;

static void link_key(uint64_t dev, uint64_t ino, uint8_t key[32])
{
    memset(key, 0, 32);
    memcpy(key, &dev, 8);
    memcpy(key + 8, &ino, 8);
}

void lv_bk_links_free(lv_bk *b)
{
    for (size_t i = 0; i < b->links.cap; i++)
        if (b->links.used[i])
            free((void *)(uintptr_t)b->links.vals[i]);
    lv_idmap_free(&b->links);
}

static void count_kind(lv_bk *b, int kind)
{
    if (kind == 0)
        b->st.files_new++;
    else if (kind == 1)
        b->st.files_changed++;
    else
        b->st.files_unchanged++;
}

static lv_fcache_key key_of(const struct stat *st)
{
    lv_fcache_key k = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size, ns(&st->st_mtim),
                       ns(&st->st_ctim)};
    return k;
}

/* What do_file tells do_entry about the files cache. */
typedef struct file_res {
    int hit;               /* unchanged: content and xattrs from the cache (h), already recorded */
    lv_fcache_hit h;
    int record;            /* record it (once its xattrs are read) with key, trusted */
    int trusted;
    lv_fcache_key key;
} file_res;

/* A hardlink to a file stored earlier in this run: same inode, same content. 1 when it was one. */
static int from_link(lv_bk *b, const uint8_t lk[32], const struct stat *st, lv_node *n, file_res *fr)
{
    size_t *v = lv_idmap_get(&b->links, lk);
    if (!v)
        return 0;
    link_rec *lr = (link_rec *)(uintptr_t)*v;
    lv_buf_append(&b->extents, lr->extents, lr->extents_len);
    n->size = lr->size;
    count_kind(b, lr->kind);
    fr->key = key_of(st);
    fr->record = 1;
    fr->trusted = lr->trusted && memcmp(&fr->key, &lr->key, sizeof fr->key) == 0;
    if (--lr->left == 0) {
        lv_idmap_del(&b->links, lk);
        free(lr);
    }
    return 1;
}

static void link_remember(lv_bk *b, const uint8_t lk[32], const struct stat *st, const lv_node *n, int kind,
                          const file_res *fr)
{
    link_rec *lr = lv_xmalloc(sizeof *lr + b->extents.len);
    lr->size = n->size;
    lr->kind = kind;
    lr->trusted = fr->hit || (fr->record && fr->trusted);
    lr->key = fr->hit ? key_of(st) : fr->key;
    lr->left = (uint32_t)(st->st_nlink - 1 > UINT32_MAX ? UINT32_MAX : st->st_nlink - 1);
    lr->extents_len = b->extents.len;
    if (b->extents.len)
        memcpy(lr->extents, b->extents.data, b->extents.len);
    lv_idmap_put(&b->links, lk, (size_t)(uintptr_t)lr);
}

/* Content of a regular file into b->extents and n->size. *skip = 1 when it cannot be read. */
static int do_file(lv_bk *b, int dfd, const char *name, const char *path, struct stat *st, lv_node *n,
                   int *skip, file_res *fr)
{
    lv_buf_reset(&b->extents);
    memset(fr, 0, sizeof *fr);
    uint8_t lk[32];
    link_key((uint64_t)st->st_dev, (uint64_t)st->st_ino, lk);
    if (st->st_nlink > 1 && from_link(b, lk, st, n, fr))
        return LV_OK;
    lv_fcache_key key = key_of(st);
    int known = 0, kind, rc = LV_OK;
    if (b->fc && (rc = lv_fcache_find(b->fc, name, &key, &fr->h, &fr->hit, &known)) != LV_OK)
        return rc;
    if (fr->hit) {
        lv_buf_append(&b->extents, fr->h.extents, fr->h.extents_len);
        n->size = (uint64_t)st->st_size;
        kind = 2;
    } else {
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NOATIME);
        if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership or CAP_FOWNER */
            fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            *skip = 1;
            return lv_bk_skip(b, "cannot open %s: %s", path, strerror(errno));
        }
        struct stat st2, st3;
        if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode)) {
            close(fd);
            *skip = 1;
            return lv_bk_skip(b, "%s changed while being backed up (no longer a regular file)", path);
        }
        if (st2.st_ino != st->st_ino || st2.st_dev != st->st_dev) { /* replaced since lstat: use what we read */
            *st = st2;
            lv_bk_node_from_stat(b, n, st);
            link_key((uint64_t)st->st_dev, (uint64_t)st->st_ino, lk);
        }
        int64_t started = now_ns();
        int bad = 0;
        uint64_t size = 0;
        rc = lv_bk_read_fd(b, fd, &st2, path, &size, &bad);
        int changed = fstat(fd, &st3) != 0 || st3.st_size != st2.st_size || ns(&st3.st_mtim) != ns(&st2.st_mtim) ||
                      ns(&st3.st_ctim) != ns(&st2.st_ctim);
        close(fd);
        if (bad) {
            *skip = 1;
            return lv_bk_skip(b, "%s", lv_errmsg());
        }
        if (rc != LV_OK)
            return rc;
        if (changed)
            lv_warn("%s changed while it was read: the snapshot has the bytes as they were read", path);
        n->size = size;
        kind = known ? 1 : 0;
        lv_debug("%s %s", kind ? "changed" : "new", path); /* -vv lists what was read */
        int64_t last = ns(&st2.st_mtim) > ns(&st2.st_ctim) ? ns(&st2.st_mtim) : ns(&st2.st_ctim);
        fr->record = b->fc != NULL;
        fr->key = key_of(&st2);
        fr->trusted = !changed && size == (uint64_t)st2.st_size && last + LV_FCACHE_RACY_NS <= started;
    }
    count_kind(b, kind);
    if (st->st_nlink > 1)
        link_remember(b, lk, st, n, kind, fr);
    return LV_OK;
}

/* One entry of the directory open as dfd; path (the entry's absolute path) is in pathbuf. */
static int do_entry(lv_bk *b, int dfd, const char *name, lv_buf *pathbuf, dev_t root_dev)
{
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "interrupted");
    const char *path = lv_buf_cstr(pathbuf);
    if (excluded(b, path, name))
        return LV_OK;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) { /* deleted since the listing: it is simply not in the snapshot */
            lv_info("%s vanished while being backed up", path);
            return LV_OK;
        }
        return lv_bk_skip(b, "cannot stat %s: %s", path, strerror(errno));
    }
    lv_node n;
    memset(&n, 0, sizeof n);
    n.name = name;
    n.name_len = strlen(name);
    lv_bk_node_from_stat(b, &n, &st);
    lv_buf pages = LV_BUF_INIT, xattrs = LV_BUF_INIT;
    char target[LV_TREE_TARGET_MAX + 1];
    int rc = LV_OK, skip = 0, walked = 0;
    file_res fr;
    memset(&fr, 0, sizeof fr);
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        n.type = LV_NODE_FILE;
        rc = do_file(b, dfd, name, path, &st, &n, &skip, &fr);
        break;
    case S_IFDIR: {
        n.type = LV_NODE_DIR;
        if (b->o->one_file_system && st.st_dev != root_dev) {
            lv_info("%s is another file system: stored as an empty directory", path);
            break;
        }
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = lv_bk_skip(b, "cannot open directory %s: %s", path, strerror(errno));
            skip = 1;
            break;
        }
        size_t mark = pathbuf->len;
        rc = walk_dir(b, fd, pathbuf, root_dev, &pages, &skip); /* closes fd */
        walked = !skip;
        pathbuf->len = mark;
        path = lv_buf_cstr(pathbuf);
        n.pages = pages.data;
        n.npages = (uint32_t)(pages.len / LV_HASH_LEN);
        break;
    }
    case S_IFLNK: {
        n.type = LV_NODE_SYMLINK;
        ssize_t len = readlinkat(dfd, name, target, sizeof target);
        if (len <= 0 || (size_t)len > LV_TREE_TARGET_MAX) {
            rc = lv_bk_skip(b, "cannot read symlink %s: %s", path, len < 0 ? strerror(errno) : "target too long");
            skip = 1;
        }
        n.target = target;
        n.target_len = len > 0 ? (size_t)len : 0;
        break;
    }
    case S_IFIFO:
        n.type = LV_NODE_FIFO;
        break;
    case S_IFCHR:
    case S_IFBLK:
        n.type = S_ISCHR(st.st_mode) ? LV_NODE_CHR : LV_NODE_BLK;
        n.rdev = (uint64_t)st.st_rdev;
        break;
    default:
        lv_info("%s is a socket: not backed up", path);
        skip = 1;
        break;
    }
    if (rc == LV_OK && !skip && fr.hit) { /* unchanged: its xattrs too (any change of them changes the ctime) */
        n.nxattrs = fr.h.nxattrs;
        n.xattrs = fr.h.xattrs;
        n.xattrs_len = fr.h.xattrs_len;
    } else if (rc == LV_OK && !skip) {
        int bad = 0;
        rc = read_xattrs(path, &xattrs, &n.nxattrs, &bad);
        if (bad) {
            rc = lv_bk_skip(b, "%s", lv_errmsg());
            skip = 1;
        }
        n.xattrs = xattrs.data;
        n.xattrs_len = xattrs.len;
    }
    if (rc == LV_OK && !skip) {
        if (n.type == LV_NODE_FILE) {
            n.extents = b->extents.data;
            n.nextents = (uint32_t)(b->extents.len / LV_TREE_EXTENT_SIZE);
            b->st.bytes_total += n.size;
        } else if (n.type == LV_NODE_DIR)
            b->st.dirs++;
        else
            b->st.others++;
        rc = lv_tb_add(b->tb, &n);
        if (rc == LV_ERR_USAGE) /* does not fit in a tree blob */
            rc = lv_bk_skip(b, "%s: %s", path, lv_errmsg());
        else if (rc == LV_OK && b->fc && fr.record)
            lv_fcache_file(b->fc, name, &fr.key, fr.trusted, n.nxattrs, n.xattrs, n.xattrs_len, n.extents,
                           (size_t)n.nextents * LV_TREE_EXTENT_SIZE);
        else if (rc == LV_OK && b->fc && walked)
            lv_fcache_subdir(b->fc, name);
    }
    lv_buf_free(&pages);
    lv_buf_free(&xattrs);
    lv_bk_progress(b, 0);
    return rc;
}

/* Read the names of a directory (without . and ..), sorted bytewise. */
static int list_dir(DIR *d, const char *path, lv_buf *arena, char ***names, size_t *n)
{
    lv_buf offs = LV_BUF_INIT;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t off = arena->len;
        lv_buf_append(&offs, &off, sizeof off);
        lv_buf_append(arena, e->d_name, strlen(e->d_name) + 1);
        errno = 0;
    }
    int rc = errno ? lv_err_errno(errno, "cannot read directory %s", path) : LV_OK;
    *n = offs.len / sizeof(size_t);
    *names = lv_xcalloc(*n ? *n : 1, sizeof **names);
    for (size_t i = 0; i < *n; i++) {
        size_t off;
        memcpy(&off, offs.data + i * sizeof off, sizeof off);
        (*names)[i] = (char *)arena->data + off;
    }
    lv_buf_free(&offs);
    lv_sort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

/* The directory open as fd (closed here), whose absolute path is in path: enter, every entry, leave;
 * the page ids go to pages. *skip = 1 when it cannot be listed (reported; the caller leaves it out). */
static int walk_dir(lv_bk *b, int fd, lv_buf *path, dev_t root_dev, lv_buf *pages, int *skip)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        *skip = 1;
        return lv_bk_skip(b, "cannot read directory %s: %s", lv_buf_cstr(path), strerror(e));
    }
    lv_buf arena = LV_BUF_INIT;
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(d, lv_buf_cstr(path), &arena, &names, &n);
    if (rc != LV_OK) { /* a directory we cannot list completely is left out, not stored half */
        *skip = 1;
        rc = lv_bk_skip(b, "%s", lv_errmsg());
        goto out;
    }
    if (b->fc && (rc = lv_fcache_dir_begin(b->fc, lv_buf_cstr(path))) != LV_OK)
        goto out;
    lv_tb_enter(b->tb);
    size_t mark = path->len;
    for (size_t i = 0; rc == LV_OK && i < n; i++) {
        path->len = mark;
        if (mark != 1) /* not the root "/" */
            lv_buf_append(path, "/", 1);
        lv_buf_append_str(path, names[i]);
        rc = do_entry(b, dirfd(d), names[i], path, root_dev);
    }
    path->len = mark;
    const uint8_t *ids;
    uint32_t nids;
    if (rc == LV_OK && (rc = lv_tb_leave(b->tb, &ids, &nids)) == LV_OK)
        lv_buf_append(pages, ids, (size_t)nids * LV_HASH_LEN);
    if (b->fc) { /* the directory's record, written in batches between packer calls */
        int rc2 = lv_fcache_dir_end(b->fc, rc == LV_OK);
        if (rc == LV_OK)
            rc = rc2;
        if (rc == LV_OK)
            rc = lv_fcache_flush(b->fc, 0);
    }
out:
    closedir(d);
    free(names);
    lv_buf_free(&arena);
    return rc;
}

/* ---- the roots -------------------------------------------------------------------------------- */

/* Order of paths as the tree orders them: component by component, i.e. '/' below every other byte. */
static int cmp_path(const void *a, const void *b)
{
    const unsigned char *x = *(unsigned char *const *)a, *y = *(unsigned char *const *)b;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1 : *x ? (unsigned)*x + 1 : 0;
        unsigned cy = *y == '/' ? 1 : *y ? (unsigned)*y + 1 : 0;
        if (cx != cy)
            return cx < cy ? -1 : 1;
        if (!cx)
            return 0;
    }
}

/* Absolute path with symlinks resolved in its parents (not in its last component, which is backed
 * up as what it is), no ".", ".." or repeated slashes. */
static int absolute(const char *in, char **out)
{
    char buf[PATH_MAX];
    size_t n = strlen(in);
    while (n > 1 && in[n - 1] == '/')
        n--;
    char *copy = lv_xasprintf("%.*s", (int)n, in);
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    int rc = LV_OK;
    if (strcmp(copy, "/") == 0) {
        *out = lv_xstrdup("/");
    } else if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        if (!realpath(copy, buf))
            rc = lv_err_errno(errno, "backup path %s", in);
        else
            *out = lv_xstrdup(buf);
    } else {
        const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
        if (slash && slash != copy)
            *slash = '\0';
        if (!realpath(parent, buf))
            rc = lv_err_errno(errno, "backup path %s", in);
        else
            *out = lv_xasprintf("%s/%s", strcmp(buf, "/") == 0 ? "" : buf, base);
    }
    free(copy);
    return rc;
}

static int backup_root(lv_bk *b, const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return lv_err_errno(errno, "backup path %s", path);
    lv_buf pathbuf = LV_BUF_INIT;
    lv_buf_append_str(&pathbuf, path);
    const char *slash = strrchr(path, '/');
    char *parent = lv_xasprintf("%.*s", slash == path ? 1 : (int)(slash - path), path);
    int rc, fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int own = 0;
    if (b->fc && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        lv_fcache_forget(b->fc, path); /* what it was before, if a directory */
    if (fd < 0) {
        rc = lv_err_errno(errno, "backup path %s: cannot open its directory %s", path, parent);
    } else {
        /* A root that is a regular file is the one entry of a record of its own path. */
        rc = b->fc && S_ISREG(st.st_mode) ? lv_fcache_dir_begin(b->fc, path) : LV_OK;
        own = rc == LV_OK && b->fc && S_ISREG(st.st_mode);
        if (rc == LV_OK)
            rc = do_entry(b, fd, slash + 1, &pathbuf, st.st_dev);
    }
    if (own) {
        int rc2 = lv_fcache_dir_end(b->fc, rc == LV_OK);
        if (rc == LV_OK)
            rc = rc2;
    }
    if (fd >= 0)
        close(fd);
    free(parent);
    lv_buf_free(&pathbuf);
    return rc;
}

/* One level of the directories above the backed-up paths: paths[0..n) all start with the directory
 * prefix (prefix_len bytes, "" for the root) followed by '/'. */
static int virtual_level(lv_bk *b, char **paths, size_t n, size_t prefix_len, lv_buf *pages)
{
    lv_tb_enter(b->tb);
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n;) {
        const char *comp = paths[i] + prefix_len + 1;
        size_t clen = strcspn(comp, "/"), j = i + 1;
        while (j < n && strncmp(paths[j] + prefix_len + 1, comp, clen) == 0 &&
               (paths[j][prefix_len + 1 + clen] == '/' || !paths[j][prefix_len + 1 + clen]))
            j++;
        if (!comp[clen]) {
            rc = backup_root(b, paths[i]); /* nested paths were removed: i + 1 == j */
        } else {
            char *dir = lv_xasprintf("%.*s", (int)(prefix_len + 1 + clen), paths[i]);
            struct stat st;
            lv_buf sub = LV_BUF_INIT, xattrs = LV_BUF_INIT;
            if (lstat(dir, &st) != 0)
                rc = lv_err_errno(errno, "backup path %s", paths[i]);
            if (rc == LV_OK)
                rc = virtual_level(b, paths + i, j - i, prefix_len + 1 + clen, &sub);
            lv_node nd;
            memset(&nd, 0, sizeof nd);
            int bad = 0;
            if (rc == LV_OK)
                rc = read_xattrs(dir, &xattrs, &nd.nxattrs, &bad);
            if (rc == LV_OK) {
                nd.name = comp;
                nd.name_len = clen;
                nd.type = LV_NODE_DIR;
                lv_bk_node_from_stat(b, &nd, &st);
                nd.xattrs = xattrs.data;
                nd.xattrs_len = xattrs.len;
                nd.pages = sub.data;
                nd.npages = (uint32_t)(sub.len / LV_HASH_LEN);
                rc = lv_tb_add(b->tb, &nd);
            }
            free(dir);
            lv_buf_free(&sub);
            lv_buf_free(&xattrs);
        }
        i = j;
    }
    const uint8_t *ids;
    uint32_t nids;
    if (rc == LV_OK && (rc = lv_tb_leave(b->tb, &ids, &nids)) == LV_OK)
        lv_buf_append(pages, ids, (size_t)nids * LV_HASH_LEN);
    return rc;
}

int lv_bk_walk_paths(lv_bk *b, lv_buf *root)
{
    size_t n = b->o->npaths;
    char **paths = lv_xcalloc(n ? n : 1, sizeof *paths);
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n; i++)
        rc = absolute(b->o->paths[i], &paths[i]);
    if (rc == LV_OK) {
        lv_sort(paths, n, sizeof *paths, cmp_path);
        /* Drop duplicates and paths inside another one: they are backed up with it. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (k > 0) {
                size_t l = strlen(paths[k - 1]);
                if (strcmp(paths[k - 1], "/") == 0 ||
                    (strncmp(paths[i], paths[k - 1], l) == 0 && (paths[i][l] == '/' || !paths[i][l]))) {
                    free(paths[i]);
                    continue;
                }
            }
            paths[k++] = paths[i];
        }
        n = k;
    }
    if (rc == LV_OK && n == 1 && strcmp(paths[0], "/") == 0) {
        struct stat st;
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0)
            rc = lv_err_errno(errno, "cannot open /");
        lv_buf p = LV_BUF_INIT;
        lv_buf_append_str(&p, "/");
        int skip = 0;
        if (rc == LV_OK)
            rc = walk_dir(b, fd, &p, st.st_dev, root, &skip);
        if (rc == LV_OK && skip)
            rc = lv_err(LV_ERR_IO, "cannot read the directory /");
        lv_buf_free(&p);
    } else if (rc == LV_OK) {
        rc = virtual_level(b, paths, n, 0, root);
    }
    b->roots = paths; /* kept for the summary and the files cache prune; freed with b */
    b->nroots = n;
    return rc;
}
