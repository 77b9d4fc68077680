/* The scratch directory of a drill (contract in drills/drill.h). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "drills/drill.h"
#include "restore/meta.h"

/* The shared parent of every drill's directory. Like /tmp: sticky and writable by everyone (mode 1777), so
 * that every user who runs drills can (root from a timer, the PostgreSQL user by hand), while each drill's
 * own directory is 0700 and the sticky bit keeps users from removing or renaming each other's. */
static int scratch_base(const char *base)
{
    struct stat st;
    if (lstat(base, &st) != 0) {
        if (errno != ENOENT)
            return lv_err_errno(errno, "drill scratch directory %s", base);
        char *parent = lv_xstrdup(base), *slash = strrchr(parent, '/');
        int rc = LV_OK;
        if (slash && slash != parent) {
            *slash = '\0';
            rc = lv_mkdir_p(parent, 0755);
        }
        free(parent);
        if (rc)
            return lv_err_ctx("drill scratch directory");
        if (mkdir(base, 0700) == 0 && chmod(base, 01777) != 0) /* mkdir's mode goes through the umask */
            return lv_err_errno(errno, "cannot set the mode of the drill scratch directory %s", base);
        if (lstat(base, &st) != 0) /* ours, or made by another drill at the same moment */
            return lv_err_errno(errno, "cannot create the drill scratch directory %s", base);
    }
    /* Drills restore into it as root: it must be what it says, not a link a user planted. */
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode))
        return lv_err(LV_ERR_IO, "drill scratch directory %s is not a directory (a symbolic link or a file): "
                      "refusing to use it", base);
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return lv_err(LV_ERR_IO, "drill scratch directory %s belongs to uid %u: it must belong to root or to "
                      "the user who runs the drill", base, (unsigned)st.st_uid);
    if ((st.st_mode & 0002) && !(st.st_mode & 01000))
        return lv_err(LV_ERR_IO, "drill scratch directory %s is writable by everyone without the sticky bit: "
                      "chmod 1777 %s", base, base);
    /* Earlier versions made it 0755, and then only its creator could run drills: its owner opens it up. */
    if (st.st_uid == geteuid() && (st.st_mode & 07777) == 0755) {
        if (chmod(base, 01777) != 0)
            return lv_err_errno(errno, "cannot make the drill scratch directory %s sticky and world-writable", base);
        lv_info("drill scratch directory %s: mode 0755 -> 1777 (every user may run drills)", base);
    } else if (access(base, W_OK | X_OK) != 0) {
        struct passwd *pw = getpwuid(geteuid());
        return lv_err(LV_ERR_IO, "drill scratch directory %s (owner uid %u, mode %04o) is not writable by %s: "
                      "make it sticky and world-writable as labvault creates it (chmod 1777 %s), or set "
                      "[drill] scratch-dir", base, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                      pw ? pw->pw_name : "this user", base);
    }
    return LV_OK;
}

int lv_drill_scratch_create(const char *base, const char *id, char **out)
{
    *out = NULL;
    int rc = scratch_base(base);
    if (rc)
        return rc;
    char *dir = lv_xasprintf("%s/drill-%s", base, id);
    if (mkdir(dir, 0700) != 0) {
        rc = lv_err_errno(errno, "cannot create the drill scratch directory %s", dir);
        free(dir);
        return rc == LV_ERR_NOT_FOUND ? LV_ERR_IO : rc;
    }
    *out = dir;
    return LV_OK;
}

int lv_drill_scratch_remove(const char *dir)
{
    /* The scratch PostgreSQL may have made files read-only or owned by its user: root removes them
     * anyway, and a drill run as the PostgreSQL user owns everything it made. */
    char *copy = lv_xstrdup(dir);
    char *slash = strrchr(copy, '/');
    int rc;
    if (!slash) {
        rc = lv_remove_tree(AT_FDCWD, copy, dir);
    } else {
        *slash = '\0';
        int dfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            rc = lv_err_errno(errno, "cannot open %s", copy);
        else {
            rc = lv_remove_tree(dfd, slash + 1, dir);
            close(dfd);
        }
    }
    if (rc != LV_OK)
        lv_error("drill: could not remove the scratch directory: %s", lv_errmsg());
    free(copy);
    return rc;
}
