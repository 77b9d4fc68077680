/* `wal fetch` and its prefetch spool (contract in wal/fetch.h). */
#include "wal/fetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/tmpfile.h"
#include "crypto/crypto.h"
#include "common/parallel.h"
#include "wal/archive.h"
#include "wal/segment.h"
#include "wal/spool.h"
#include "wal/stanza.h"

int lv_wal_write_dest(const char *dest, const void *data, size_t n)
{
    /* Through a private temporary file in DEST's directory (pg_wal) and a rename. One left by a killed
     * fetch is removed by a later one (common/tmpfile.h). */
    lv_tmp t;
    int rc = lv_tmp_create_beside(dest, "wal-fetch", &t);
    if (rc == LV_OK)
        rc = lv_write_all(t.fd, data, n, t.path);
    if (rc == LV_OK && close(t.fd) != 0)
        rc = lv_err_errno(errno, "cannot write %s", t.path);
    t.fd = -1;
    if (rc == LV_OK && rename(t.path, dest) != 0)
        rc = lv_err_errno(errno, "cannot rename %s to %s", t.path, dest);
    if (rc == LV_OK)
        lv_tmp_keep(&t);
    lv_tmp_remove(&t);
    /* ENOENT here is a missing directory of DEST: a local problem, never "the WAL file is absent". */
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
}

/* Recovery stops at a damaged segment: say how far it can go (one more GET, on this path only). */
static int damaged_segment(const lv_repo *r, const lv_wal_name *n)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    lv_wal_stanza st;
    uint64_t segno;
    if (lv_wal_stanza_get(r, &st) != LV_OK || lv_wal_segno(n, st.seg_size, &segno) != 0) {
        lv_err_clear();
        return lv_err(LV_ERR_CORRUPT, "%s", msg);
    }
    char lsn[LV_LSN_TEXT_MAX];
    lv_lsn_format(segno * st.seg_size, lsn);
    return lv_err(LV_ERR_CORRUPT, "%s: recovery cannot replay WAL segment %s, so the last point it can reach on "
                  "timeline %u is LSN %s: restore to a target before it", msg, n->name, n->tli, lsn);
}

int lv_wal_fetch_needed(const char *name, const char *last_segment)
{
    lv_wal_name n, last;
    int rc = lv_wal_name_parse(last_segment, &last);
    if (rc == LV_OK && last.kind != LV_WAL_SEGMENT)
        rc = lv_err(LV_ERR_USAGE, "--last-segment %s: not a WAL segment name", last_segment);
    if (rc == LV_OK)
        rc = lv_wal_name_parse(name, &n);
    if (rc != LV_OK || n.kind != LV_WAL_SEGMENT)
        return rc;
    /* The log and segment parts number segments the same way on every timeline. */
    if (strcmp(n.segment + 8, last.segment + 8) > 0)
        return lv_err(LV_ERR_NOT_FOUND, "WAL segment %s is not needed: the restore's target is reached in %s", name,
                      last_segment);
    return LV_OK;
}

int lv_wal_fetch_repo(const lv_repo *r, const char *name, const char *dest)
{
    lv_wal_name n;
    int rc = lv_wal_name_parse(name, &n);
    if (rc != LV_OK)
        return rc;
    lv_wal_object o;
    int count = 0;
    if ((rc = lv_wal_find(r->store, &n, &o, &count)) != LV_OK)
        return rc;
    if (count == 0)
        return lv_err(LV_ERR_NOT_FOUND, "WAL file %s is not in repository %s", name,
                      lv_store_describe(r->store));
    lv_buf plain = LV_BUF_INIT;
    rc = lv_wal_object_read(r, &o, &plain);
    if (rc == LV_OK)
        rc = lv_wal_write_dest(dest, plain.data, plain.len);
    else if (rc == LV_ERR_CORRUPT && n.kind == LV_WAL_SEGMENT)
        rc = damaged_segment(r, &n);
    lv_buf_free(&plain);
    if (rc == LV_OK)
        lv_info("fetched WAL file %s from %s", name, o.key);
    return rc;
}

/* ---- prefetch spool ------------------------------------------------------------------------- */

/* This start of PostgreSQL: a hash of the first three lines of postmaster.pid (pid, data directory,
 * start time) in the working directory, which for restore_command is the data directory. */
static char *session_dir(const lv_wal_fetch_opts *o, lv_store *s)
{
    lv_buf pid = LV_BUF_INIT;
    if (lv_read_file("postmaster.pid", &pid) != LV_OK) {
        lv_err_clear();
        lv_buf_free(&pid);
        return NULL;
    }
    size_t len = 0;
    for (int lines = 0; len < pid.len && lines < 3; len++)
        lines += pid.data[len] == '\n';
    pid.len = len;
    char session[17];
    lv_wal_short_id(lv_buf_cstr(&pid), session);
    lv_buf_free(&pid);
    char *base = lv_wal_spool_base(o->spool_path, s);
    char *dir = lv_xasprintf("%s/in/%s", base, session);
    free(base);
    return dir;
}

static int sha_hex_name(const char *fname, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(fname, name, n) != 0 || fname[n] != '.' || strlen(fname + n + 1) != 2 * LV_HASH_LEN)
        return 0;
    for (const char *p = fname + n + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* The spooled file of name in dir, or NULL. */
static char *spooled_file(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL)
        if (sha_hex_name(de->d_name, name))
            found = lv_xstrdup(de->d_name);
    closedir(d);
    return found;
}

/* Remove spooled segments of name's timeline that sort before it: recovery has moved past them. */
static void drop_older(const char *dir, const lv_wal_name *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 24 + 1 + 2 * LV_HASH_LEN || strncmp(de->d_name, n->segment, 8) != 0)
            continue;
        if (strncmp(de->d_name, n->segment, 24) < 0)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

int lv_wal_fetch_spooled(const lv_wal_fetch_opts *o, lv_store *s, const char *name, const char *dest)
{
    lv_wal_name n;
    if (o->prefetch <= 0 || lv_wal_name_parse(name, &n) != LV_OK || n.kind != LV_WAL_SEGMENT) {
        lv_err_clear();
        return LV_ERR_NOT_FOUND;
    }
    char *dir = session_dir(o, s);
    if (!dir)
        return LV_ERR_NOT_FOUND;
    drop_older(dir, &n);
    char *fname = spooled_file(dir, name);
    int rc = LV_ERR_NOT_FOUND;
    if (fname) {
        char *path = lv_xasprintf("%s/%s", dir, fname);
        lv_buf data = LV_BUF_INIT;
        if (lv_read_file(path, &data) == LV_OK) {
            uint8_t h[LV_HASH_LEN];
            char hex[2 * LV_HASH_LEN + 1];
            lv_sha256(data.data, data.len, h);
            lv_hex_encode(h, sizeof h, hex);
            if (strcmp(hex, fname + strlen(name) + 1) == 0) {
                rc = lv_wal_write_dest(dest, data.data, data.len);
                if (rc == LV_OK)
                    lv_info("fetched WAL file %s from the prefetch spool", name);
            } else {
                lv_warn("prefetched %s does not match its checksum; fetching it from the repository", path);
            }
        }
        if (rc != LV_OK) /* a local write failure is reported by the repository path again */
            rc = LV_ERR_NOT_FOUND;
        unlink(path); /* served or bad: either way never used again */
        lv_buf_free(&data);
        free(path);
        free(fname);
    }
    lv_err_clear();
    free(dir);
    return rc;
}

/* The next `count` segment names after n on its timeline (seg_size from the header of the file that
 * was just served, or the stanza). */
static char (*next_names(const lv_wal_name *n, uint32_t seg_size, int count))[25]
{
    uint64_t segno;
    if (lv_wal_segno(n, seg_size, &segno) != 0 || count <= 0)
        return NULL;
    char (*names)[25] = lv_xcalloc((size_t)count, sizeof *names);
    for (int i = 0; i < count; i++)
        lv_wal_segment_name(n->tli, segno + 1 + (uint64_t)i, seg_size, names[i]);
    return names;
}

void lv_wal_prefetch_kick(const lv_wal_fetch_opts *o, lv_store *s, const char *name, const char *dest)
{
    lv_wal_name n;
    if (o->prefetch <= 0 || lv_wal_name_parse(name, &n) != LV_OK || n.kind != LV_WAL_SEGMENT) {
        lv_err_clear();
        return;
    }
    uint8_t head[LV_WAL_LONG_HEADER_SIZE];
    lv_wal_header h;
    int fd = open(dest, O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && read(fd, head, sizeof head) == (ssize_t)sizeof head &&
             lv_wal_header_parse(head, sizeof head, &h) == LV_OK;
    if (fd >= 0)
        close(fd);
    char *dir = ok ? session_dir(o, s) : NULL;
    lv_err_clear();
    if (!dir)
        return;
    char (*names)[25] = next_names(&n, h.seg_size, o->prefetch);
    int have = 0;
    for (int i = 0; names && i < o->prefetch; i++) {
        char *f = spooled_file(dir, names[i]);
        have += f != NULL;
        free(f);
    }
    free(names);
    char *lock = lv_xasprintf("%s/prefetch.lock", dir);
    if (have * 2 < o->prefetch && !lv_wal_lock_held(lock)) {
        char *log = lv_xasprintf("%s/prefetch.log", dir);
        if (lv_mkdir_p(dir, 0700) != LV_OK || lv_wal_spawn_worker(log) != LV_OK)
            lv_warn("prefetch not started: %s", lv_errmsg());
        free(log);
    }
    lv_err_clear();
    free(lock);
    free(dir);
}

/* ---- prefetch worker ------------------------------------------------------------------------ */

typedef struct prefetch {
    const lv_repo *r;
    const char *dir;
    char (*names)[25];
} prefetch;

static int prefetch_one(void *arg, size_t i)
{
    prefetch *p = arg;
    const char *name = p->names[i];
    char *have = spooled_file(p->dir, name);
    if (have) {
        free(have);
        return LV_OK;
    }
    lv_wal_name n;
    lv_wal_object o;
    int count = 0;
    lv_buf plain = LV_BUF_INIT;
    int rc = lv_wal_name_parse(name, &n);
    if (rc == LV_OK)
        rc = lv_wal_find(p->r->store, &n, &o, &count);
    if (rc == LV_OK && count > 0)
        rc = lv_wal_object_read(p->r, &o, &plain);
    if (rc == LV_OK && count > 0) {
        uint8_t h[LV_HASH_LEN];
        char hex[2 * LV_HASH_LEN + 1];
        lv_sha256(plain.data, plain.len, h);
        lv_hex_encode(h, sizeof h, hex);
        char *path = lv_xasprintf("%s/%s.%s", p->dir, name, hex);
        rc = lv_write_file_atomic(path, plain.data, plain.len, 0600, 0);
        free(path);
    }
    if (rc != LV_OK) /* the foreground will ask the repository itself and report it properly */
        lv_warn("prefetch of %s: %s", name, lv_errmsg());
    else if (count == 0)
        lv_debug("prefetch: %s is not archived (yet)", name);
    lv_buf_free(&plain);
    return LV_OK;
}

/* Directories of earlier PostgreSQL starts: nothing in them may ever be served again. */
static void remove_other_sessions(const char *dir)
{
    char *parent = lv_xstrdup(dir);
    char *slash = strrchr(parent, '/');
    const char *mine = slash + 1;
    *slash = '\0';
    DIR *d = opendir(parent);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, mine) == 0)
            continue;
        char *sub = lv_xasprintf("%s/%s", parent, de->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s && (f = readdir(s)) != NULL)
            if (f->d_name[0] != '.')
                unlinkat(dirfd(s), f->d_name, 0);
        if (s)
            closedir(s);
        rmdir(sub);
        free(sub);
    }
    if (d)
        closedir(d);
    free(parent);
}

int lv_wal_prefetch_worker(const lv_wal_fetch_opts *o, lv_repo *r, const char *name)
{
    lv_wal_name n;
    int rc = lv_wal_name_parse(name, &n);
    if (rc != LV_OK || n.kind != LV_WAL_SEGMENT || o->prefetch <= 0)
        return rc;
    char *dir = session_dir(o, r->store);
    if (!dir)
        return lv_err(LV_ERR_USAGE, "prefetch needs postmaster.pid in the working directory (restore_command "
                      "runs in the data directory)");
    char *lock = lv_xasprintf("%s/prefetch.lock", dir);
    int lockfd = -1;
    rc = lv_mkdir_p(dir, 0700);
    if (rc == LV_OK)
        rc = lv_wal_lock_take(lock, &lockfd);
    free(lock);
    if (rc == LV_ERR_LOCKED) { /* another worker is at it */
        lv_err_clear();
        free(dir);
        return LV_OK;
    }
    lv_wal_stanza st;
    if (rc == LV_OK) {
        remove_other_sessions(dir);
        rc = lv_wal_stanza_get(r, &st);
    }
    char (*names)[25] = rc == LV_OK ? next_names(&n, st.seg_size, o->prefetch) : NULL;
    if (names) {
        prefetch p = {r, dir, names};
        lv_parallel_for(o->workers, (size_t)o->prefetch, prefetch_one, &p);
    }
    free(names);
    lv_wal_lock_release(lockfd);
    free(dir);
    return rc;
}
