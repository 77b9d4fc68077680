/* The catalog's copy in the repository (contract in maint/catalog_copy.h). */
#include "maint/catalog_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
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

int lv_catalog_copy_upload(lv_repo *r, lv_catalog *c)
{
    char tmp[] = "/tmp/labvault-catalog-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return lv_err(LV_ERR_IO, "cannot create a temporary file for the catalog copy");
    close(fd);
    unlink(tmp); /* VACUUM INTO wants a path that does not exist */
    int rc = lv_catalog_snapshot_to(c, tmp);
    lv_buf plain = LV_BUF_INIT;
    if (rc == LV_OK)
        rc = lv_read_file(tmp, &plain);
    unlink(tmp);
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
