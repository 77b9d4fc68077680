/* The backup lock (contract in backup/pg_lock.h). */
#include "backup/pg_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/error.h"

int lv_pg_lock(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) /* LV_ERR_IO even for ENOENT: the catalog's directory is missing, not an object asked for */
        return lv_err(LV_ERR_IO, "cannot create the backup lock %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(*fd);
        *fd = -1;
        if (e == EWOULDBLOCK)
            return lv_err(LV_ERR_LOCKED, "another backup pg is running (pid %s; lock %s)", pid[0] ? pid : "?",
                          path);
        return lv_err(LV_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)len, 0) != len) {
        /* The pid is only for the message: the lock itself is held. */
    }
    return LV_OK;
}
