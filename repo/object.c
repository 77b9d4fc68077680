/* Repository objects (contract in repo/object.h). */
#include "repo/object.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/hex.h"
#include "crypto/crypto.h"

static int hex64(const char *s)
{
    if (strlen(s) != 2 * LV_HASH_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int lv_obj_name_valid(const lv_obj_type *t, const char *name)
{
    if (t->hashed)
        return hex64(name);
    if (strlen(name) >= LV_OBJ_NAME_MAX || strchr(name, '/')) /* one segment of a key, whatever the type */
        return 0;
    return !t->name_ok || t->name_ok(name);
}

void lv_obj_key(const lv_obj_type *t, const char *name, char *key, size_t n)
{
    snprintf(key, n, "%s%s", t->prefix, name);
}

static void aad_of(const lv_obj_type *t, const char *name, char aad[LV_OBJ_KEY_MAX + 64])
{
    snprintf(aad, LV_OBJ_KEY_MAX + 64, "%s%s", t->aad, t->aad_name ? name : "");
}

int lv_obj_put(const lv_repo *r, const lv_obj_type *t, const char *name, const void *plain, size_t n,
               char name_out[65], int *existed)
{
    char hex[2 * LV_HASH_LEN + 1] = "", key[LV_OBJ_KEY_MAX], aad[LV_OBJ_KEY_MAX + 64];
    if (existed)
        *existed = 0;
    if (!t->hashed && !lv_obj_name_valid(t, name))
        return lv_err(LV_ERR_USAGE, "\"%s\" is not a valid name under %s", name, t->prefix);
    aad_of(t, t->hashed ? "" : name, aad);
    lv_buf sealed = LV_BUF_INIT;
    lv_repo_seal(r, aad, strlen(aad), plain, n, t->compress, &sealed);
    if (t->hashed) {
        uint8_t id[LV_HASH_LEN];
        lv_sha256(sealed.data, sealed.len, id);
        lv_hex_encode(id, LV_HASH_LEN, hex);
        name = hex;
    }
    lv_obj_key(t, name, key, sizeof key);
    int rc = lv_store_put(r->store, key, sealed.data, sealed.len, LV_PUT_IF_ABSENT);
    lv_buf_free(&sealed);
    if (rc == LV_ERR_CONFLICT && t->hashed) { /* the name is the content's hash: these very bytes */
        lv_err_clear();
        rc = LV_OK;
        if (existed)
            *existed = 1;
    }
    if (rc != LV_OK)
        return lv_err_ctx("writing %s", key);
    if (name_out)
        snprintf(name_out, 65, "%s", hex);
    return LV_OK;
}

int lv_obj_get(const lv_repo *r, const lv_obj_type *t, const char *name, lv_buf *out)
{
    char key[LV_OBJ_KEY_MAX], aad[LV_OBJ_KEY_MAX + 64];
    if (!lv_obj_name_valid(t, name))
        return lv_err(LV_ERR_USAGE, "\"%s\" is not a valid name under %s", name, t->prefix);
    lv_obj_key(t, name, key, sizeof key);
    lv_buf obj = LV_BUF_INIT;
    int rc = lv_store_get(r->store, key, 0, 0, &obj);
    if (rc != LV_OK) {
        lv_buf_free(&obj);
        return lv_err_ctx("reading %s", key);
    }
    if (t->hashed) {
        uint8_t sum[LV_HASH_LEN], id[LV_HASH_LEN];
        lv_sha256(obj.data, obj.len, sum);
        lv_hex_decode(name, id, LV_HASH_LEN);
        if (memcmp(sum, id, LV_HASH_LEN) != 0)
            rc = lv_err(LV_ERR_CORRUPT, "%s: content does not match its name (SHA-256 differs)", key);
    }
    aad_of(t, name, aad);
    if (rc == LV_OK)
        rc = lv_repo_unseal(r, aad, strlen(aad), obj.data, obj.len, out, key);
    lv_buf_free(&obj);
    return rc;
}

typedef struct list_arg {
    const lv_obj_type *t;
    lv_obj_list_fn cb;
    void *arg;
} list_arg;

static int list_cb(void *arg, const char *key, uint64_t size)
{
    list_arg *a = arg;
    const char *name = key + strlen(a->t->prefix);
    return a->cb(a->arg, key, lv_obj_name_valid(a->t, name) ? name : NULL, size);
}

int lv_obj_list(const lv_repo *r, const lv_obj_type *t, lv_obj_list_fn cb, void *arg)
{
    list_arg a = {t, cb, arg};
    return lv_store_list(r->store, t->prefix, list_cb, &a);
}
