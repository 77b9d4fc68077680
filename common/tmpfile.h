/* Private temporary files: the one way labvault makes a scratch file (a catalog snapshot on its way to
 * the repository, a fetched WAL file before its rename).
 *
 *   <dir>/labvault-<what>-<pid>-<8 hex>.tmp     (and "<that>-journal", SQLite's, when a database is
 *                                                 written into it: removed and swept with it)
 *
 * created with O_CREAT | O_EXCL | O_NOFOLLOW and mode 0600 whatever the umask (a snapshot of the catalog
 * holds file and table names: other users of the host must not read it). The caller chooses dir: next to
 * the file it belongs to (same file system, so a rename can publish it; a private directory), never a
 * shared /tmp by default.
 *
 * Removal on every exit path: lv_tmp_remove on success and on errors; on a signal the process dies of
 * (common/interrupt.h) the hook lv_tmp_on_fatal_signals registers unlinks every temporary file still
 * registered (a fixed table of LV_TMP_SLOTS, async-signal-safe). What only
 * SIGKILL, a crash or a power cut can leave is cleaned by a later run: lv_tmp_sweep removes the files
 * of one kind in dir that belong to this user and whose process is gone, once they have not changed for
 * LV_TMP_STALE_S seconds (the pid in the name can be reused; the age keeps a slow run in another pid
 * namespace safe). */
#ifndef LV_COMMON_TMPFILE_H
#define LV_COMMON_TMPFILE_H

#define LV_TMP_SLOTS 16
#define LV_TMP_STALE_S 3600

typedef struct lv_tmp {
    char *path; /* owned; NULL when there is none */
    int fd;     /* open read-write, or -1 after lv_tmp_close */
    int slot;   /* registry slot for the signal handler, or -1 */
} lv_tmp;

/* Create a new private temporary file in dir ("what": [a-z-], the kind, e.g. "catalog-copy"). LV_ERR_IO
 * (message naming the path) when it cannot be created. */
int lv_tmp_create(const char *dir, const char *what, lv_tmp *t);
/* The same in the directory of path (the file it will become, or belongs to), after sweeping that
 * directory of abandoned temporary files of this kind (lv_tmp_sweep). */
int lv_tmp_create_beside(const char *path, const char *what, lv_tmp *t);
/* Close the descriptor (the file stays, for a library that opens it by name). */
void lv_tmp_close(lv_tmp *t);
/* Close and unlink; safe on a zeroed or already removed lv_tmp. */
void lv_tmp_remove(lv_tmp *t);
/* The file was renamed into its final place: forget it without unlinking. */
void lv_tmp_keep(lv_tmp *t);

/* Remove abandoned temporary files of kind what in dir (see above); returns how many. Never fails: a
 * directory that cannot be read has nothing to sweep. */
int lv_tmp_sweep(const char *dir, const char *what);
/* What versions that stored a copy of the catalog in the repository left when killed: the private
 * "catalog-copy" temporaries beside the catalog at catalog_path, and before those, this user's
 * /tmp/labvault-catalog-XXXXXX[.tmp-<pid>] files (mode 0644); removed once stale as above. */
void lv_tmp_sweep_catalog_copies(const char *catalog_path);

/* Register the removal on fatal signals with common/interrupt.h and install its handler (main() does,
 * once). While a command catches SIGINT/SIGTERM, those interrupt it instead: its own paths remove the files. */
void lv_tmp_on_fatal_signals(void);

#endif
