#include "maint/catalog_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "crypto/crypto.h"

static const char aad[] = "labvault catalog copy";

static void copy_key(const char *host, char *key, size_t n)
{
    char h[256];
    if (!host) {
        if (gethostname(h, sizeof h) != 0)
            snprintf(h, sizeof h, "unknown");
        h[sizeof h - 1] = '\0';
        host = h;
    }
    /* A host name is a single path segment: replace what a key may not contain. */
    snprintf(key, n, "catalog/%s", host);
    for (char *p = key + 8; *p; p++)
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
    lv_buf plain = LV_BUF_INIT, sealed = LV_BUF_INIT;
    if (rc == LV_OK)
        rc = lv_read_file(tmp, &plain);
    unlink(tmp);
    if (rc == LV_OK) {
        char key[300];
        copy_key(NULL, key, sizeof key);
        lv_repo_seal(r, aad, sizeof aad - 1, plain.data, plain.len, 1, &sealed);
        rc = lv_store_put(r->store, key, sealed.data, sealed.len, 0);
        if (rc != LV_OK)
            lv_err_ctx("cannot store the catalog copy %s", key);
    }
    lv_buf_free(&plain);
    lv_buf_free(&sealed);
    return rc;
}

int lv_catalog_copy_download(lv_repo *r, const char *host, const char *dest_path)
{
    char key[300];
    copy_key(host, key, sizeof key);
    lv_buf sealed = LV_BUF_INIT, plain = LV_BUF_INIT;
    int rc = lv_store_get(r->store, key, 0, 0, &sealed);
    if (rc == LV_OK)
        rc = lv_repo_unseal(r, aad, sizeof aad - 1, sealed.data, sealed.len, &plain, key);
    if (rc == LV_OK)
        rc = lv_write_file_atomic(dest_path, plain.data, plain.len, 0600, 1);
    lv_buf_free(&sealed);
    lv_buf_free(&plain);
    return rc;
}
