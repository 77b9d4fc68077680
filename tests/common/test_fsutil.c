/* common/fsutil: the write paths, byte for byte, around the sizes where they switch between the page
 * cache and direct I/O (LV_DIRECT_MIN, 4 KiB blocks, the 1 MiB bounce buffer, 256 KiB write pieces), and
 * the proof that large files really bypass the cache where the file system allows it. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "restore/meta.h"

#define EXT4_MAGIC 0xEF53
#define XFS_MAGIC 0x58465342

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

static int file_equals(const char *path, const uint8_t *want, size_t n)
{
    lv_buf b = LV_BUF_INIT;
    int ok = lv_read_file(path, &b) == LV_OK && b.len == n && (n == 0 || memcmp(b.data, want, n) == 0);
    lv_buf_free(&b);
    return ok;
}

static int entries(const char *dir)
{
    int k = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        k += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return k;
}

/* Share of the file's pages in the page cache, in percent (-1 when it cannot tell). */
static int cached_percent(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = ((size_t)st.st_size + (size_t)pg - 1) / (size_t)pg, in = 0;
    unsigned char *v = malloc(pages);
    int pct = -1;
    if (mincore(m, (size_t)st.st_size, v) == 0) {
        for (size_t i = 0; i < pages; i++)
            in += v[i] & 1;
        pct = (int)(100 * in / pages);
    }
    free(v);
    munmap(m, (size_t)st.st_size);
    return pct;
}

static void atomic_sizes(const char *dir)
{
    const size_t sizes[] = {0, 1, 4095, 4096, LV_DIRECT_MIN - 1, LV_DIRECT_MIN, LV_DIRECT_MIN + 1,
                            (3u << 20) + 4097, (5u << 20) + 123, 16u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint8_t *d = pattern(n, (uint32_t)i + 1);
        char *path = lv_xasprintf("%s/obj-%zu", dir, n);
        int rc = lv_write_file_atomic(path, d, n, 0600, 1);
        CHECK(rc == LV_OK && file_equals(path, d, n), "atomic write of %zu bytes reads back the same bytes", n);
        CHECK(lv_write_file_atomic(path, d, n, 0600, 1) == LV_ERR_CONFLICT,
              "a create-only write of %zu bytes over an existing file is refused", n);
        lv_err_clear();
        free(path);
        free(d);
    }
    CHECK(entries(dir) == (int)(sizeof sizes / sizeof *sizes), "no temporary file left behind (%d entries)",
          entries(dir));
}

/* Replacing: the new bytes under the name, exactly the mode asked for (whatever the umask), and no other
 * entry in the directory. */
static void atomic_replace(const char *dir)
{
    char *path = lv_xasprintf("%s/obj", dir);
    uint8_t *a = pattern(5000, 1), *b = pattern(70000, 2);
    mode_t old = umask(077);
    int rc1 = lv_write_file_atomic(path, a, 5000, 0640, 0);
    int rc2 = lv_write_file_atomic(path, b, 70000, 0640, 0);
    umask(old);
    struct stat st;
    CHECK(rc1 == LV_OK && rc2 == LV_OK && file_equals(path, b, 70000) && stat(path, &st) == 0 &&
              (st.st_mode & 07777) == 0640 && entries(dir) == 1,
          "a write over an existing file replaces it, with mode 0640 under umask 077, and leaves one entry");
    free(a);
    free(b);
    free(path);
}

/* A writer killed at any moment leaves either nothing or the complete file, never a temporary (a named
 * one would stay until a sweep a day later: store.h). Killed after 0 to 9 ms of writing 32 MiB. */
static void killed_writer(const char *dir)
{
    size_t n = 32u << 20;
    uint8_t *d = pattern(n, 9);
    int leftovers = 0, partial = 0, complete = 0;
    for (int round = 0; round < 10; round++) {
        char *path = lv_xasprintf("%s/k%d", dir, round);
        pid_t pid = fork();
        if (pid == 0) {
            lv_write_file_atomic(path, d, n, 0600, 0);
            _exit(0);
        }
        usleep((useconds_t)(round * 1000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        struct stat st;
        if (stat(path, &st) == 0) {
            complete += file_equals(path, d, n);
            partial += !file_equals(path, d, n);
            unlink(path);
        }
        leftovers += entries(dir);
        free(path);
    }
    CHECK(leftovers == 0 && partial == 0, "10 writers killed while writing 32 MiB left no temporary (%d) and no "
          "partial file (%d); %d had completed", leftovers, partial, complete);
    free(d);
}

/* Large files go around the page cache on file systems that support O_DIRECT: read back through a
 * mapping, the pages of a freshly written 8 MiB object are mostly not cached. */
static void bypasses_cache(const char *dir)
{
    struct statfs sf;
    char *path = lv_xasprintf("%s/direct", dir);
    if (statfs(dir, &sf) != 0 || (sf.f_type != EXT4_MAGIC && sf.f_type != XFS_MAGIC)) {
        printf("ok %d - # SKIP page-cache bypass: %s is not ext4 or xfs\n", ++check_n, dir);
        free(path);
        return;
    }
    size_t n = 8u << 20;
    uint8_t *d = pattern(n, 77);
    CHECK(lv_write_file_atomic(path, d, n, 0600, 0) == LV_OK, "write an 8 MiB object");
    int pct = cached_percent(path);
    CHECK(pct >= 0 && pct < 10, "its pages bypassed the page cache (%d %% cached)", pct);
    CHECK(file_equals(path, d, n), "and it reads back the same bytes");
    free(d);
    free(path);
}

/* lv_pwrite_all in LV_WRITE_CHUNK pieces: pieces of odd lengths at odd offsets, out of order, land
 * exactly where they should. */
static void chunked_pwrites(const char *dir)
{
    const size_t lens[] = {100, LV_WRITE_CHUNK, LV_WRITE_CHUNK + 1, (3u << 20) + 777, 1, 65536};
    enum { NP = sizeof lens / sizeof *lens };
    uint64_t offs[NP], total = 0;
    for (size_t i = 0; i < NP; i++) {
        offs[i] = total;
        total += lens[i];
    }
    uint8_t *src = pattern((size_t)total, 5);
    char *path = lv_xasprintf("%s/pieces", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int rc = fd >= 0 ? LV_OK : LV_ERR_IO;
    for (size_t i = NP; i-- > 0 && rc == LV_OK;)
        rc = lv_pwrite_all(fd, src + offs[i], lens[i], offs[i], "pieces");
    if (fd >= 0)
        close(fd);
    CHECK(rc == LV_OK && file_equals(path, src, (size_t)total), "%d pieces written backwards at their offsets "
          "make the source bytes (%llu)", NP, (unsigned long long)total);
    free(path);
    free(src);
}

int main(void)
{
    char tmpl[] = "/var/tmp/lv-fsutil-XXXXXX"; /* not /tmp: that may be tmpfs, where nothing is direct */
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL, "temporary directory");
    if (!dir)
        return check_done();
    char *a = lv_xasprintf("%s/atomic", dir);
    mkdir(a, 0700);
    atomic_sizes(a);
    char *r = lv_xasprintf("%s/replace", dir), *k = lv_xasprintf("%s/killed", dir);
    mkdir(r, 0700);
    mkdir(k, 0700);
    atomic_replace(r);
    killed_writer(k);
    free(r);
    free(k);
    bypasses_cache(dir);
    chunked_pwrites(dir);
    CHECK(lv_pwrite_all(-1, "x", 1, 0, "nothing") == LV_ERR_IO && strstr(lv_errmsg(), "nothing"),
          "a failed write names what it was writing (%s)", lv_errmsg());
    lv_err_clear();
    lv_remove_tree(AT_FDCWD, dir, dir);
    free(a);
    return check_done();
}
