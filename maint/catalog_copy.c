/* The catalog's copy in the repository (contract in maint/catalog_copy.h). */
#include "maint/catalog_copy.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/tmpfile.h"
#include "crypto/crypto.h"
#include "repo/object.h"

/* catalog/<host>, replaced each time, sealed with "labvault catalog copy". */
static const lv_obj_type copy_type = {.prefix = "catalog/", .aad = "labvault catalog copy", .compress = 1,
                                      .replace = 1};

static void copy_name(const char *host, char *name, size_t n)
{
    char h[256];
    if (!host) {
        if (gethostname(h, sizeof h) != 0)
            snprintf(h, sizeof h, "unknown");
        h[sizeof h - 1] = '\0';
        host = h;
    }
    /* A host name is a single path segment: replace what a key may not contain. */
    snprintf(name, n, "%s", host);
    for (char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20)
            *p = '_';
}

/* Versions before common/tmpfile.h left /tmp/labvault-catalog-XXXXXX (and its ".tmp-<pid>") behind when
 * killed, mode 0644: remove this user's that are old enough to be certainly abandoned. */
static void sweep_legacy_tmp(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* Exactly "labvault-catalog-" + mkstemp's 6 characters [+ ".tmp-" + pid]. */
        const char *n = e->d_name, *rest = n + 23;
        if (strncmp(n, "labvault-catalog-", 17) != 0 || strlen(n) < 23 || strcspn(n + 17, "-.") < 6)
            continue;
        if (*rest && (strncmp(rest, ".tmp-", 5) != 0 || !rest[5] || strspn(rest + 5, "0123456789") != strlen(rest + 5)))
            continue;
        struct stat st;
        char *p = lv_xasprintf("/tmp/%s", n);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && now - st.st_mtime >= LV_TMP_STALE_S)
            unlink(p);
        free(p);
    }
    closedir(d);
}

int lv_catalog_copy_upload(lv_repo *r, lv_catalog *c)
{
    /* The snapshot is made beside the catalog (its directory is the catalog's own, and the same file
     * system), in a private temporary file that every exit path removes (common/tmpfile.h). */
    sweep_legacy_tmp();
    lv_tmp t;
    int rc = lv_tmp_create_beside(lv_catalog_path(c), "catalog-copy", &t);
    if (rc == LV_OK)
        rc = lv_catalog_vacuum_into(c, t.path);
    lv_buf plain = LV_BUF_INIT;
    if (rc == LV_OK)
        rc = lv_read_file(t.path, &plain);
    lv_tmp_remove(&t);
    if (rc == LV_OK) {
        char name[LV_OBJ_NAME_MAX];
        copy_name(NULL, name, sizeof name);
        if ((rc = lv_obj_put(r, &copy_type, name, plain.data, plain.len, NULL, NULL)) != LV_OK)
            lv_err_ctx("cannot store the catalog copy");
    }
    lv_buf_free(&plain);
    return rc;
}

int lv_catalog_copy_download(lv_repo *r, const char *host, const char *dest_path)
{
    char name[LV_OBJ_NAME_MAX];
    copy_name(host, name, sizeof name);
    lv_buf plain = LV_BUF_INIT;
    int rc = lv_obj_get(r, &copy_type, name, &plain);
    if (rc == LV_OK)
        rc = lv_write_file_atomic(dest_path, plain.data, plain.len, 0600, 1);
    lv_buf_free(&plain);
    return rc;
}
