/* File-snapshot drill: restore into scratch, compare every entry with the snapshot's tree (contract in
 * drills/drill.h). The comparison reads the restored bytes back and names each extent by its blob id
 * (lv_repo_blob_id, the same keyed hash the backup used), so a restore that wrote wrong bytes, or a
 * file system that lost them, is caught without trusting the restore's own accounting. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "drills/drill.h"
#include "restore/files.h"
#include "restore/walk.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"

typedef struct cmp_ctx {
    lv_repo *r;
    lv_drill *d;
    const char *root;
    int as_root;
    uint64_t entries, differ;
    lv_buf data;
} cmp_ctx;

/* The id restore gives an owner: the recorded name's id on this host when it exists, else the number. */
static uint32_t local_id(int group, const char *name, size_t len, uint32_t recorded)
{
    if (len == 0 || len > 255)
        return recorded;
    char n[256], buf[4096];
    memcpy(n, name, len);
    n[len] = '\0';
    if (group) {
        struct group g, *res = NULL;
        if (getgrnam_r(n, &g, buf, sizeof buf, &res) == 0 && res)
            return (uint32_t)g.gr_gid;
    } else {
        struct passwd p, *res = NULL;
        if (getpwnam_r(n, &p, buf, sizeof buf, &res) == 0 && res)
            return (uint32_t)p.pw_uid;
    }
    return recorded;
}

/* One mismatch: a failed check named after the entry. */
static void differ(cmp_ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void differ(cmp_ctx *c, const char *path, const char *fmt, ...)
{
    char name[4200], detail[512];
    snprintf(name, sizeof name, "file %s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    lv_drill_check_add(c->d, name, 0, "%s", detail);
    c->differ++;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Bytes [from, to) of fd must read as zeros (a hole, or zeros written). */
static int check_gap(cmp_ctx *c, int fd, uint64_t from, uint64_t to, const char *path, int *bad)
{
    off_t data = lseek(fd, (off_t)from, SEEK_DATA);
    if (data < 0 || (uint64_t)data >= to)
        return LV_OK; /* all hole (ENXIO: no data after from) */
    for (uint64_t off = (uint64_t)data; off < to && !*bad;) {
        size_t n = (size_t)(to - off < (1u << 20) ? to - off : (1u << 20));
        lv_buf_reset(&c->data);
        lv_buf_reserve(&c->data, n);
        int rc = lv_pread_full(fd, c->data.data, n, off, path);
        if (rc)
            return rc;
        if (!all_zero(c->data.data, n)) {
            differ(c, path, "bytes %llu..%llu should be a hole (zeros) but are not", (unsigned long long)off,
                   (unsigned long long)(off + n));
            *bad = 1;
        }
        off += n;
    }
    return LV_OK;
}

static int compare_content(cmp_ctx *c, const lv_node *n, const char *full, const char *path)
{
    int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        differ(c, path, "cannot open the restored file: %s", strerror(errno));
        return LV_OK;
    }
    int bad = 0, rc = LV_OK;
    uint64_t pos = 0;
    for (uint32_t i = 0; rc == LV_OK && !bad && i < n->nextents && !lv_interrupted(); i++) {
        lv_extent e;
        lv_extent_get(n->extents, i, &e);
        if ((rc = check_gap(c, fd, pos, e.offset, path, &bad)) || bad)
            break;
        lv_buf_reset(&c->data);
        lv_buf_reserve(&c->data, e.length);
        if ((rc = lv_pread_full(fd, c->data.data, e.length, e.offset, path)))
            break;
        uint8_t id[LV_HASH_LEN];
        lv_repo_blob_id(c->r, c->data.data, e.length, id);
        if (memcmp(id, e.id, LV_HASH_LEN) != 0) {
            differ(c, path, "content of bytes %llu..%llu differs from the snapshot (blob %02x%02x%02x%02x...)",
                   (unsigned long long)e.offset, (unsigned long long)(e.offset + e.length), e.id[0], e.id[1],
                   e.id[2], e.id[3]);
            bad = 1;
        }
        pos = e.offset + e.length;
    }
    if (rc == LV_OK && !bad)
        rc = check_gap(c, fd, pos, n->size, path, &bad);
    close(fd);
    if (rc != LV_OK && !bad) /* an unreadable restored file is a finding, not the drill's own failure */
        differ(c, path, "%s", lv_errmsg());
    return LV_OK;
}

static int compare_xattrs(cmp_ctx *c, const lv_node *n, const char *full, const char *path)
{
    size_t pos = 0;
    lv_xattr x;
    char name[256];
    while (lv_xattr_next(n, &pos, &x)) {
        memcpy(name, x.name, x.name_len);
        name[x.name_len] = '\0';
        if (!c->as_root && (strncmp(name, "trusted.", 8) == 0 || strncmp(name, "security.", 9) == 0))
            continue; /* only root can read or set these */
        lv_buf_reset(&c->data);
        lv_buf_reserve(&c->data, x.value_len + 1);
        ssize_t got = lgetxattr(full, name, c->data.data, x.value_len + 1);
        if (got < 0 || (size_t)got != x.value_len || memcmp(c->data.data, x.value, x.value_len) != 0) {
            differ(c, path, "xattr %s differs from the snapshot", name);
            return LV_OK;
        }
    }
    return LV_OK;
}

static int compare(cmp_ctx *c, const lv_node *n, const char *path)
{
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "drill interrupted");
    c->entries++;
    char *full = lv_xasprintf("%s/%s", c->root, path);
    struct stat st;
    int rc = LV_OK;
    if (lstat(full, &st) != 0) {
        differ(c, path, "missing from the restored tree");
        goto out;
    }
    static const struct {
        unsigned type;
        mode_t fmt;
    } types[] = {{LV_NODE_FILE, S_IFREG}, {LV_NODE_DIR, S_IFDIR}, {LV_NODE_SYMLINK, S_IFLNK},
                 {LV_NODE_FIFO, S_IFIFO}, {LV_NODE_CHR, S_IFCHR}, {LV_NODE_BLK, S_IFBLK}};
    mode_t want = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == n->type)
            want = types[i].fmt;
    if ((st.st_mode & S_IFMT) != want) {
        differ(c, path, "is not a %s as in the snapshot", lv_node_type_name(n->type));
        goto out;
    }
    if (n->type != LV_NODE_SYMLINK && (st.st_mode & 07777) != n->mode) {
        differ(c, path, "mode %04o, the snapshot has %04o", (unsigned)(st.st_mode & 07777), (unsigned)n->mode);
        goto out;
    }
    if (c->as_root) {
        uint32_t uid = local_id(0, n->user, n->user_len, n->uid), gid = local_id(1, n->group, n->group_len, n->gid);
        if (st.st_uid != uid || st.st_gid != gid) {
            differ(c, path, "owner %u:%u, the snapshot has %u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid,
                   (unsigned)uid, (unsigned)gid);
            goto out;
        }
    }
    if (st.st_mtim.tv_sec != n->mtime_sec || (uint32_t)st.st_mtim.tv_nsec != n->mtime_nsec) {
        differ(c, path, "mtime %lld.%09ld, the snapshot has %lld.%09u", (long long)st.st_mtim.tv_sec,
               (long)st.st_mtim.tv_nsec, (long long)n->mtime_sec, (unsigned)n->mtime_nsec);
        goto out;
    }
    if (n->type == LV_NODE_FILE) {
        if ((uint64_t)st.st_size != n->size) {
            differ(c, path, "size %llu, the snapshot has %llu", (unsigned long long)st.st_size,
                   (unsigned long long)n->size);
            goto out;
        }
        if ((rc = compare_content(c, n, full, path)))
            goto out;
    } else if (n->type == LV_NODE_SYMLINK) {
        char t[LV_TREE_TARGET_MAX + 2];
        ssize_t len = readlink(full, t, sizeof t);
        if (len < 0 || (size_t)len != n->target_len || memcmp(t, n->target, n->target_len) != 0) {
            differ(c, path, "symlink target differs from the snapshot");
            goto out;
        }
    } else if ((n->type == LV_NODE_CHR || n->type == LV_NODE_BLK) && c->as_root && st.st_rdev != n->rdev) {
        differ(c, path, "device %llu, the snapshot has %llu", (unsigned long long)st.st_rdev,
               (unsigned long long)n->rdev);
        goto out;
    }
    rc = compare_xattrs(c, n, full, path);
out:
    free(full);
    return rc;
}

static int on_dir(void *arg, const lv_node *n, const char *path) { return compare(arg, n, path); }
static int on_leave(void *arg, const lv_node *n, const char *path)
{
    (void)arg;
    (void)n;
    (void)path;
    return LV_OK;
}
static int on_entry(void *arg, const lv_node *n, const char *path) { return compare(arg, n, path); }

int lv_drill_compare_files(lv_repo *r, lv_drill *d, const char *snap, const char *root)
{
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    int rc = lv_snap_open(r, snap, &m, &pages, &npages);
    if (rc)
        return rc;
    cmp_ctx c = {.r = r, .d = d, .root = root, .as_root = geteuid() == 0};
    lv_rwalk_ops ops = {on_dir, on_leave, on_entry};
    rc = lv_rwalk(lv_tree_src_repo(r), pages, npages, NULL, 0, &ops, &c);
    lv_buf_free(&c.data);
    lv_manifest_free(&m);
    if (rc == LV_OK)
        lv_drill_check_add(d, "compare", c.differ == 0, "%llu entries compared with the snapshot, %llu differ",
                           (unsigned long long)c.entries, (unsigned long long)c.differ);
    return rc;
}

int lv_drill_run_files(lv_repo *r, const lv_drill_opts *o, lv_drill *d)
{
    lv_drill_begin(d, "files");
    snprintf(d->target, sizeof d->target, "snapshot");
    int rc = lv_snap_resolve(r->cat, o->source ? o->source : "latest", NULL, d->source);
    if (rc) {
        d->id[0] = '\0'; /* nothing ran: not a drill to record */
        return rc;
    }
    char *scratch = NULL;
    if ((rc = lv_drill_scratch_create(o->scratch_dir, d->id, &scratch))) {
        d->id[0] = '\0';
        return rc;
    }
    lv_interrupt_catch();
    lv_info("drill %s: restoring snapshot %.12s into %s", d->id, d->source, scratch);
    char *target = lv_xasprintf("%s/files", scratch);
    lv_restore_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.snapshot = d->source;
    ro.target = target;
    ro.progress = o->progress;
    lv_restore_stats st;
    memset(&st, 0, sizeof st);
    int final = LV_OK;
    rc = lv_restore_dir(r, &ro, &st);
    d->rto = lv_wall_s() - d->started;
    d->rto_write = st.seconds;
    d->files = st.files;
    d->bytes_written = st.bytes;
    d->bytes_fetched = st.bytes_fetched;
    d->blobs_fetched = st.gets;
    if (lv_interrupted() || rc == LV_ERR_INTERRUPTED) {
        final = lv_err(LV_ERR_INTERRUPTED, "drill %s interrupted; scratch directory removed", d->id);
    } else if (rc == LV_OK || rc == LV_ERR_INCOMPLETE) {
        lv_drill_check_add(d, "restore", 1, "%llu files, %llu bytes in %.2f s%s", (unsigned long long)st.files,
                           (unsigned long long)st.bytes, st.seconds,
                           rc == LV_ERR_INCOMPLETE ? " (some metadata could not be set)" : "");
        int c = lv_drill_compare_files(r, d, d->source, target);
        if (c == LV_ERR_INTERRUPTED || lv_interrupted())
            final = lv_err(LV_ERR_INTERRUPTED, "drill %s interrupted; scratch directory removed", d->id);
        else if (c == LV_ERR_CORRUPT)
            lv_drill_check_add(d, "compare", 0, "%s", lv_errmsg());
        else if (c != LV_OK)
            final = c;
    } else {
        /* Damage is what a drill exists to find: a failed check. Anything else (network, disk) is the
         * drill's own failure, recorded, with its own exit code. */
        lv_drill_check_add(d, "restore", 0, "%s", lv_errmsg());
        if (rc != LV_ERR_CORRUPT && rc != LV_ERR_NOT_FOUND)
            final = rc;
    }
    char *errsave = final ? lv_xstrdup(lv_errmsg()) : NULL;
    if (!o->keep)
        lv_drill_scratch_remove(scratch);
    else
        lv_warn("drill %s: kept the scratch directory %s", d->id, scratch);
    free(target);
    free(scratch);
    lv_interrupt_release();
    d->seconds = lv_wall_s() - d->started;
    if (final) {
        rc = lv_err(final, "%s", errsave);
        free(errsave);
        if (final == LV_ERR_INTERRUPTED)
            return rc;
        if (!d->error)
            d->error = lv_xstrdup(lv_errmsg());
        return rc;
    }
    if (d->failed)
        return lv_err(LV_ERR_CHECK, "drill %s failed: %s", d->id, d->error);
    return LV_OK;
}
