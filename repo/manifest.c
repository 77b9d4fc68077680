#include "repo/manifest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/hex.h"
#include "catalog/manifests.h"
#include "catalog/catalog.h"
#include "repo/pack.h"
#include "repo/object.h"
#include "repo/repo.h"

#define FIXED 13 /* magic, version, time */

const lv_obj_type lv_obj_manifest = {.prefix = "manifests/", .aad = LV_MANIFEST_AAD, .hashed = 1, .compress = 1};

void lv_manifest_key(const char id_hex[2 * LV_HASH_LEN + 1], char key[LV_MANIFEST_KEY_LEN])
{
    memcpy(key, "manifests/", 10);
    memcpy(key + 10, id_hex, 2 * LV_HASH_LEN + 1);
}

static int hex_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n != 2 * LV_HASH_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int lv_manifest_key_parse(const char *key, char id_hex[2 * LV_HASH_LEN + 1])
{
    if (strncmp(key, "manifests/", 10) != 0 || !hex_id_valid(key + 10))
        return -1;
    memcpy(id_hex, key + 10, 2 * LV_HASH_LEN + 1);
    return 0;
}

static int kind_valid_n(const uint8_t *k, size_t n)
{
    if (n == 0 || n > LV_MANIFEST_KIND_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-'))
            return 0;
    return 1;
}

int lv_manifest_kind_valid(const char *kind)
{
    return kind && kind_valid_n((const uint8_t *)kind, strnlen(kind, LV_MANIFEST_KIND_MAX + 1));
}

void lv_manifest_encode(const char *kind, int64_t time, const char *summary_json, const void *body,
                        size_t body_len, lv_buf *out)
{
    uint8_t w[8];
    size_t kl = strlen(kind), sl = strlen(summary_json);
    lv_buf_reserve(out, FIXED + 1 + kl + 4 + sl + 8 + body_len);
    lv_buf_append(out, "LVMF", 4);
    w[0] = LV_MANIFEST_VERSION;
    lv_buf_append(out, w, 1);
    lv_le64_put(w, (uint64_t)time);
    lv_buf_append(out, w, 8);
    w[0] = (uint8_t)kl;
    lv_buf_append(out, w, 1);
    lv_buf_append(out, kind, kl);
    lv_le32_put(w, (uint32_t)sl);
    lv_buf_append(out, w, 4);
    lv_buf_append(out, summary_json, sl);
    lv_le64_put(w, body_len);
    lv_buf_append(out, w, 8);
    lv_buf_append(out, body, body_len);
}

void lv_manifest_free(lv_manifest *m)
{
    free(m->summary);
    free(m->body);
    memset(m, 0, sizeof *m);
}

int lv_manifest_parse(const uint8_t *buf, size_t len, lv_manifest *m)
{
    memset(m, 0, sizeof *m);
    const char *what = "manifest";
    if (len < FIXED + 1 || memcmp(buf, "LVMF", 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: bad magic or too short", what);
    if (buf[4] != LV_MANIFEST_VERSION)
        return lv_err(LV_ERR_CORRUPT, "%s: unsupported version %u", what, buf[4]);
    int64_t t = (int64_t)lv_le64_get(buf + 5);
    size_t pos = FIXED, kl = buf[pos++];
    if (kl > len - pos || !kind_valid_n(buf + pos, kl))
        return lv_err(LV_ERR_CORRUPT, "%s: invalid kind", what);
    const uint8_t *kind = buf + pos;
    pos += kl;
    if (len - pos < 4)
        return lv_err(LV_ERR_CORRUPT, "%s: truncated before the summary", what);
    uint32_t sl = lv_le32_get(buf + pos);
    pos += 4;
    if (sl > LV_MANIFEST_SUMMARY_MAX || sl > len - pos)
        return lv_err(LV_ERR_CORRUPT, "%s: summary length %u out of bounds", what, sl);
    const uint8_t *summary = buf + pos;
    if (memchr(summary, '\0', sl))
        return lv_err(LV_ERR_CORRUPT, "%s: NUL byte in the summary", what);
    pos += sl;
    if (len - pos < 8)
        return lv_err(LV_ERR_CORRUPT, "%s: truncated before the body", what);
    uint64_t bl = lv_le64_get(buf + pos);
    pos += 8;
    if (bl > LV_MANIFEST_BODY_MAX || bl != len - pos)
        return lv_err(LV_ERR_CORRUPT, "%s: body length %llu does not match the %zu bytes left", what,
                      (unsigned long long)bl, len - pos);
    memcpy(m->kind, kind, kl);
    m->kind[kl] = '\0';
    m->time = t;
    m->summary = lv_xmalloc(sl + 1);
    memcpy(m->summary, summary, sl);
    m->summary[sl] = '\0';
    if (bl) {
        m->body = lv_xmalloc((size_t)bl);
        memcpy(m->body, buf + pos, (size_t)bl);
    }
    m->body_len = (size_t)bl;
    return LV_OK;
}

int lv_manifest_write(lv_repo *r, const char *kind, int64_t t, const char *summary_json,
                      const void *body, size_t body_len, char id_out[2 * LV_HASH_LEN + 1])
{
    if (!summary_json)
        summary_json = "{}";
    if (!lv_manifest_kind_valid(kind))
        return lv_err(LV_ERR_USAGE, "manifest kind \"%s\" is not 1-15 characters of [a-z0-9_-]",
                      kind ? kind : "(null)");
    if (strlen(summary_json) > LV_MANIFEST_SUMMARY_MAX)
        return lv_err(LV_ERR_USAGE, "manifest summary above %u bytes", LV_MANIFEST_SUMMARY_MAX);
    if ((uint64_t)body_len > LV_MANIFEST_BODY_MAX)
        return lv_err(LV_ERR_USAGE, "manifest body of %zu bytes is above the limit", body_len);
    if (t == 0)
        t = (int64_t)time(NULL);

    lv_buf plain = LV_BUF_INIT;
    lv_manifest_encode(kind, t, summary_json, body, body_len, &plain);
    char hex[2 * LV_HASH_LEN + 1], key[LV_MANIFEST_KEY_LEN];
    /* The commit point. */
    int rc = lv_obj_put(r, &lv_obj_manifest, NULL, plain.data, plain.len, hex, NULL);
    lv_buf_free(&plain);
    if (rc != LV_OK)
        return rc;
    lv_manifest_key(hex, key);
    memcpy(id_out, hex, sizeof hex);
    if (r->cat) {
        rc = lv_catalog_manifest_add(r->cat, hex, kind, t, summary_json);
        if (rc != LV_OK)
            return lv_err_ctx("%s is stored but could not be recorded in the catalog (run `labvault "
                              "catalog rebuild`)", key);
    }
    return LV_OK;
}

int lv_manifest_read(const lv_repo *r, const char *id_hex, lv_manifest *m)
{
    memset(m, 0, sizeof *m);
    if (!hex_id_valid(id_hex))
        return lv_err(LV_ERR_USAGE, "\"%s\" is not a manifest id (64 lower-case hex digits)", id_hex);
    char key[LV_MANIFEST_KEY_LEN];
    lv_manifest_key(id_hex, key);
    lv_buf plain = LV_BUF_INIT;
    int rc = lv_obj_get(r, &lv_obj_manifest, id_hex, &plain);
    if (rc == LV_OK && (rc = lv_manifest_parse(plain.data, plain.len, m)) != LV_OK)
        lv_err_ctx("%s", key);
    if (rc == LV_OK)
        memcpy(m->id, id_hex, sizeof m->id);
    lv_buf_free(&plain);
    return rc;
}
