/* WAL objects in the repository (contract in wal/archive.h). */
#include "wal/archive.h"

#include <stdio.h>
#include <string.h>

#include <zstd.h>

#include "common/error.h"
#include "common/hex.h"
#include "crypto/crypto.h"

void lv_wal_checksum(const lv_repo *r, const void *data, size_t n, char out[LV_WAL_SUM_HEX + 1])
{
    uint8_t id[LV_HASH_LEN];
    lv_repo_blob_id(r, data, n, id);
    lv_hex_encode(id, sizeof id, out);
}

void lv_wal_prefix(uint32_t tli, char *out, size_t len)
{
    if (tli == 0)
        snprintf(out, len, "wal/");
    else
        snprintf(out, len, "wal/%08X/", tli);
}

void lv_wal_object_make(const lv_wal_name *n, const char *checksum, lv_wal_object *o)
{
    memset(o, 0, sizeof *o);
    o->name = *n;
    snprintf(o->checksum, sizeof o->checksum, "%s", checksum);
    snprintf(o->key, sizeof o->key, "wal/%08X/%s-%s", n->tli, n->name, checksum);
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int lv_wal_object_parse(const char *key, uint64_t size, lv_wal_object *o)
{
    memset(o, 0, sizeof *o);
    size_t len = strlen(key);
    /* wal/ + 8 + / + name + - + 64 */
    if (len >= LV_WAL_KEY_MAX || len < 4 + 9 + 1 + LV_WAL_SUM_HEX + 16 || strncmp(key, "wal/", 4) != 0 ||
        key[12] != '/')
        return -1;
    const char *sum = key + len - LV_WAL_SUM_HEX;
    if (sum[-1] != '-' || !is_lower_hex(sum, LV_WAL_SUM_HEX))
        return -1;
    char name[LV_WAL_NAME_MAX];
    size_t nlen = (size_t)(sum - 1 - (key + 13));
    if (nlen == 0 || nlen >= sizeof name)
        return -1;
    memcpy(name, key + 13, nlen);
    name[nlen] = '\0';
    lv_wal_name n;
    if (lv_wal_name_parse(name, &n) != LV_OK) {
        lv_err_clear();
        return -1;
    }
    char dir[16];
    snprintf(dir, sizeof dir, "%08X", n.tli);
    if (memcmp(key + 4, dir, 8) != 0)
        return -1; /* a file filed under another timeline's directory is not ours */
    lv_wal_object_make(&n, sum, o);
    o->stored_size = size;
    return 0;
}

typedef struct find_arg {
    lv_wal_object *first;
    int count;
    int differ;
    char other[LV_WAL_KEY_MAX];
} find_arg;

static int find_cb(void *arg, const char *key, uint64_t size)
{
    find_arg *f = arg;
    lv_wal_object o;
    if (lv_wal_object_parse(key, size, &o) != 0)
        return LV_OK; /* the prefix ends in '-', so only garbage lands here */
    if (f->count == 0)
        *f->first = o;
    else if (strcmp(o.checksum, f->first->checksum) != 0 && !f->differ) {
        f->differ = 1;
        snprintf(f->other, sizeof f->other, "%s", key);
    }
    f->count++;
    return LV_OK;
}

int lv_wal_find(lv_store *s, const lv_wal_name *n, lv_wal_object *o, int *count)
{
    char prefix[LV_WAL_KEY_MAX];
    snprintf(prefix, sizeof prefix, "wal/%08X/%s-", n->tli, n->name);
    memset(o, 0, sizeof *o);
    find_arg f = {.first = o};
    *count = 0;
    int rc = lv_store_list(s, prefix, find_cb, &f);
    if (rc != LV_OK)
        return lv_err_ctx("cannot look up WAL file %s", n->name);
    *count = f.count;
    if (f.differ)
        return lv_err(LV_ERR_CONFLICT, "WAL file %s has two archived copies with different content (%s and "
                      "%s): refusing to choose one", n->name, o->key, f.other);
    return LV_OK;
}

typedef struct list_arg {
    lv_wal_list_cb cb;
    void *arg;
} list_arg;

static int list_cb(void *arg, const char *key, uint64_t size)
{
    list_arg *l = arg;
    lv_wal_object o;
    if (lv_wal_object_parse(key, size, &o) != 0)
        return LV_OK;
    return l->cb(l->arg, &o);
}

int lv_wal_list(lv_store *s, uint32_t tli, lv_wal_list_cb cb, void *arg)
{
    char prefix[32];
    lv_wal_prefix(tli, prefix, sizeof prefix);
    list_arg l = {cb, arg};
    return lv_store_list(s, prefix, list_cb, &l);
}

static void aad_of(const lv_wal_name *n, char out[LV_WAL_KEY_MAX])
{
    snprintf(out, LV_WAL_KEY_MAX, "wal/%08X/%s", n->tli, n->name);
}

/* Is zstd worth running over this file? Four 64 KiB samples spread over it, compressed at level 1 (well
 * under a millisecond together): when they do not shrink below 90 %, the file is mostly incompressible
 * (random or already compressed payloads), and zstd at the repository's level would spend tens of
 * milliseconds per segment to store the bytes raw anyway. Small files are always compressed. */
int lv_wal_compressible(const void *plain, size_t len)
{
    enum { SAMPLE = 64 * 1024, SAMPLES = 4 };
    if (len < SAMPLES * SAMPLE)
        return 1;
    static _Thread_local uint8_t dst[ZSTD_COMPRESSBOUND(SAMPLE)];
    size_t in = 0, out = 0;
    for (size_t i = 0; i < SAMPLES; i++) {
        const uint8_t *p = (const uint8_t *)plain + (len - SAMPLE) / (SAMPLES - 1) * i;
        size_t z = ZSTD_compress(dst, sizeof dst, p, SAMPLE, 1);
        if (ZSTD_isError(z))
            return 1;
        in += SAMPLE;
        out += z;
    }
    return out * 10 < in * 9;
}

void lv_wal_object_seal(const lv_repo *r, const lv_wal_name *n, const void *plain, size_t len, lv_buf *out)
{
    char aad[LV_WAL_KEY_MAX];
    aad_of(n, aad);
    lv_repo_seal(r, aad, strlen(aad), plain, len, lv_wal_compressible(plain, len), out);
}

int lv_wal_object_store(const lv_repo *r, const lv_wal_object *o, const lv_buf *sealed, int *existed)
{
    *existed = 0;
    int rc = lv_store_put(r->store, o->key, sealed->data, sealed->len, LV_PUT_IF_ABSENT);
    if (rc == LV_ERR_CONFLICT) {
        /* The key names the content: whoever stored it stored these bytes. */
        lv_err_clear();
        *existed = 1;
        return LV_OK;
    }
    return rc;
}

static int object_read(const lv_repo *r, const lv_wal_object *o, lv_buf *out, int check_content)
{
    lv_buf sealed = LV_BUF_INIT;
    int rc = lv_store_get(r->store, o->key, 0, 0, &sealed);
    if (rc == LV_ERR_NOT_FOUND) /* listed a moment ago: it vanished (prune?), not "absent" */
        rc = lv_err(LV_ERR_CORRUPT, "WAL object %s was listed but cannot be read", o->key);
    size_t start = out->len;
    char aad[LV_WAL_KEY_MAX];
    aad_of(&o->name, aad);
    if (rc == LV_OK)
        rc = lv_repo_unseal_in_place(r, aad, strlen(aad), sealed.data, sealed.len, out, o->key);
    lv_buf_free(&sealed);
    if (rc != LV_OK) {
        out->len = start;
        return rc;
    }
    if (!check_content)
        return LV_OK;
    char sum[LV_WAL_SUM_HEX + 1];
    lv_wal_checksum(r, out->data + start, out->len - start, sum);
    if (strcmp(sum, o->checksum) != 0) {
        out->len = start;
        return lv_err(LV_ERR_CORRUPT, "WAL object %s: the content's checksum is %.16s..., not the one in "
                      "its name", o->key, sum);
    }
    return LV_OK;
}

int lv_wal_object_read(const lv_repo *r, const lv_wal_object *o, lv_buf *out) { return object_read(r, o, out, 1); }

int lv_wal_object_read_records(const lv_repo *r, const lv_wal_object *o, lv_buf *out)
{
    return object_read(r, o, out, 0);
}
