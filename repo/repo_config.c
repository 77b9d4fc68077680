/* The "key = value" text format shared by config and keys/<id>, and the config object itself
 * (contracts in repo/repo_internal.h; byte layout and reasons in docs/repository-format.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/timefmt.h"
#include "crypto/crypto.h"
#include "repo/repo_internal.h"

#define NAME_MAX_LEN 32

/* ---- text format ---------------------------------------------------------------------------- */

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int lv_kv_parse(const void *data, size_t n, const char *what, lv_kv *kv)
{
    memset(kv, 0, sizeof *kv);
    if (n == 0)
        return lv_err(LV_ERR_CORRUPT, "%s: empty object", what);
    if (n > LV_TEXT_OBJ_MAX)
        return lv_err(LV_ERR_CORRUPT, "%s: %zu bytes, larger than any labvault text object", what, n);
    const char *src = data;
    if (src[n - 1] != '\n')
        return lv_err(LV_ERR_CORRUPT, "%s: truncated (the last line has no newline)", what);

    char *text = lv_xmalloc(n + 1);
    memcpy(text, src, n);
    text[n] = '\0';
    size_t cap = 16, count = 0, last_off = 0;
    lv_kv_line *lines = lv_xmalloc(cap * sizeof *lines);
    int lineno = 0, rc = LV_OK, last_is_kv = 0;

    size_t off = 0;
    while (off < n) {
        lineno++;
        char *line = text + off, *nl = memchr(line, '\n', n - off);
        size_t len = (size_t)(nl - line);
        *nl = '\0';
        size_t start = off;
        off += len + 1;
        /* Control bytes (including NUL and CR) never appear in what we write. */
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c < 0x20 || c == 0x7f) {
                rc = lv_err(LV_ERR_CORRUPT, "%s line %d: control character 0x%02x", what, lineno, c);
                goto out;
            }
        }
        if (line[0] == '#') {
            last_is_kv = 0;
            continue;
        }
        size_t nl_len = 0;
        while (nl_len < len && name_char(line[nl_len]))
            nl_len++;
        if (nl_len == 0 || nl_len > NAME_MAX_LEN || strncmp(line + nl_len, " = ", 3) != 0) {
            rc = lv_err(LV_ERR_CORRUPT, "%s line %d: expected \"name = value\", found \"%.40s\"", what,
                        lineno, line);
            goto out;
        }
        line[nl_len] = '\0';
        for (size_t i = 0; i < count; i++)
            if (strcmp(lines[i].name, line) == 0) {
                rc = lv_err(LV_ERR_CORRUPT, "%s line %d: \"%s\" repeats line %d", what, lineno, line,
                            lines[i].line);
                goto out;
            }
        if (count == cap) {
            cap *= 2;
            lines = lv_xrealloc(lines, cap * sizeof *lines);
        }
        lines[count++] = (lv_kv_line){line, line + nl_len + 3, lineno};
        last_off = start;
        last_is_kv = 1;
    }
    if (!last_is_kv) {
        rc = lv_err(LV_ERR_CORRUPT, "%s: the last line must be its checksum line", what);
        goto out;
    }
    kv->text = text;
    kv->lines = lines;
    kv->n = count;
    kv->last_off = last_off;
    return LV_OK;
out:
    free(text);
    free(lines);
    return rc;
}

void lv_kv_free(lv_kv *kv)
{
    free(kv->text);
    free(kv->lines);
    memset(kv, 0, sizeof *kv);
}

const lv_kv_line *lv_kv_find(const lv_kv *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->lines[i].name, name) == 0)
            return &kv->lines[i];
    return NULL;
}

int lv_kv_str(const lv_kv *kv, const char *what, const char *name, const char **out)
{
    const lv_kv_line *l = lv_kv_find(kv, name);
    if (!l)
        return lv_err(LV_ERR_CORRUPT, "%s: missing \"%s\"", what, name);
    *out = l->value;
    return LV_OK;
}

int lv_kv_u64(const lv_kv *kv, const char *what, const char *name, uint64_t min, uint64_t max,
              uint64_t *out)
{
    const lv_kv_line *l = lv_kv_find(kv, name);
    if (!l)
        return lv_err(LV_ERR_CORRUPT, "%s: missing \"%s\"", what, name);
    /* Canonical decimal only: no sign, no leading zeros, no spaces (one spelling per value). */
    const char *v = l->value;
    size_t len = strlen(v);
    int ok = len > 0 && len <= 19 && !(len > 1 && v[0] == '0');
    uint64_t x = 0;
    for (size_t i = 0; ok && i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            ok = 0;
        else
            x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (!ok)
        return lv_err(LV_ERR_CORRUPT, "%s line %d: %s = \"%.40s\" is not a number", what, l->line,
                      name, v);
    if (x < min || x > max)
        return lv_err(LV_ERR_CORRUPT, "%s line %d: %s = %llu is outside %llu..%llu", what, l->line,
                      name, (unsigned long long)x, (unsigned long long)min, (unsigned long long)max);
    *out = x;
    return LV_OK;
}

int lv_kv_hex(const lv_kv *kv, const char *what, const char *name, uint8_t *out, size_t n)
{
    const lv_kv_line *l = lv_kv_find(kv, name);
    if (!l)
        return lv_err(LV_ERR_CORRUPT, "%s: missing \"%s\"", what, name);
    /* Lower case only, as written: upper case would be a second spelling of the same bytes. */
    for (const char *p = l->value; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            return lv_err(LV_ERR_CORRUPT, "%s line %d: %s is not lower-case hex", what, l->line, name);
    if (lv_hex_decode(l->value, out, n) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s line %d: %s is not %zu bytes of hex", what, l->line, name, n);
    return LV_OK;
}

int lv_kv_only(const lv_kv *kv, const char *what, const char *const *names)
{
    for (size_t i = 0; i < kv->n; i++) {
        const char *const *p = names;
        while (*p && strcmp(*p, kv->lines[i].name) != 0)
            p++;
        if (!*p)
            return lv_err(LV_ERR_CORRUPT, "%s line %d: unknown setting \"%s\"", what, kv->lines[i].line,
                          kv->lines[i].name);
    }
    return LV_OK;
}

void lv_kv_put(lv_buf *b, const char *name, const char *value)
{
    lv_buf_append_str(b, name);
    lv_buf_append(b, " = ", 3);
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char o = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        lv_buf_append(b, &o, 1);
    }
    lv_buf_append(b, "\n", 1);
}

void lv_rfc3339_now(char out[32]) { lv_time_format((int64_t)time(NULL), LV_TIME_UTC, out); }

/* ---- parameters ----------------------------------------------------------------------------- */

void lv_repo_params_default(lv_repo_params *p)
{
    *p = (lv_repo_params){
        .format = LV_REPO_FORMAT,
        .encrypted = 1,
        .compress_level = 3,
        .pack_size = 16u << 20,
        .chunk_min = 256u << 10,
        .chunk_avg = 1u << 20,
        .chunk_max = 4u << 20,
        .scrypt_n = 32768,
        .scrypt_r = 8,
        .scrypt_p = 1,
    };
}

#define MIB ((uint64_t)1 << 20)
#define CHUNK_FLOOR (4u << 10)
#define CHUNK_CEIL (64u << 20)
#define LEVEL_MAX 19 /* zstd levels above 19 ("ultra") need a large window on every reader */

int lv_repo_params_check(const lv_repo_params *p, char *why, size_t why_len)
{
    if (p->format < LV_REPO_FORMAT_OLDEST || p->format > LV_REPO_FORMAT)
        snprintf(why, why_len, "format %d is outside %d..%d", p->format, LV_REPO_FORMAT_OLDEST, LV_REPO_FORMAT);
    else if (p->compress_level < 0 || p->compress_level > LEVEL_MAX)
        snprintf(why, why_len, "compression level %d is outside 0..%d", p->compress_level, LEVEL_MAX);
    else if (p->pack_size < 4 * MIB || p->pack_size > 256 * MIB)
        snprintf(why, why_len, "pack size %llu is outside 4 MiB..256 MiB",
                 (unsigned long long)p->pack_size);
    else if (p->chunk_min < CHUNK_FLOOR || p->chunk_min > p->chunk_avg || p->chunk_avg > p->chunk_max ||
             p->chunk_max > CHUNK_CEIL)
        snprintf(why, why_len, "chunk sizes %u/%u/%u must satisfy 4 KiB <= min <= avg <= max <= 64 MiB",
                 p->chunk_min, p->chunk_avg, p->chunk_max);
    else if ((p->chunk_avg & (p->chunk_avg - 1)) != 0)
        snprintf(why, why_len, "average chunk size %u is not a power of two (FastCDC masks need one)",
                 p->chunk_avg);
    else if (p->chunk_max > p->pack_size)
        snprintf(why, why_len, "maximum chunk size %u is larger than the pack size", p->chunk_max);
    else
        return 0;
    return -1;
}

/* ---- config object -------------------------------------------------------------------------- */

static const char *const config_names[] = {
    "format", "id", "created", "encryption", "compression-level", "pack-size",
    "chunk-min", "chunk-avg", "chunk-max", "mac", "sha256", NULL,
};

void lv_repo_config_format(const lv_repo_params *p, const uint8_t id[LV_REPO_ID_LEN],
                      const uint8_t *mac_key, lv_buf *out)
{
    char hex[2 * LV_HASH_LEN + 1], num[32], now[32];
    size_t start = out->len;
    lv_buf_append_str(out, "# labvault repository configuration (docs/repository-format.md).\n"
                           "# Do not edit: the last line authenticates every byte above it.\n");
    snprintf(num, sizeof num, "%d", p->format);
    lv_kv_put(out, "format", num);
    lv_hex_encode(id, LV_REPO_ID_LEN, hex);
    lv_kv_put(out, "id", hex);
    lv_rfc3339_now(now);
    lv_kv_put(out, "created", now);
    lv_kv_put(out, "encryption", p->encrypted ? "aes-256-gcm" : "none");
    snprintf(num, sizeof num, "%d", p->compress_level);
    lv_kv_put(out, "compression-level", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)p->pack_size);
    lv_kv_put(out, "pack-size", num);
    snprintf(num, sizeof num, "%u", p->chunk_min);
    lv_kv_put(out, "chunk-min", num);
    snprintf(num, sizeof num, "%u", p->chunk_avg);
    lv_kv_put(out, "chunk-avg", num);
    snprintf(num, sizeof num, "%u", p->chunk_max);
    lv_kv_put(out, "chunk-max", num);

    uint8_t mac[LV_HASH_LEN];
    if (mac_key)
        lv_hmac_sha256(mac_key, out->data + start, out->len - start, mac);
    else
        lv_sha256(out->data + start, out->len - start, mac);
    lv_hex_encode(mac, sizeof mac, hex);
    lv_kv_put(out, mac_key ? "mac" : "sha256", hex);
}

/* The version line is read before anything else, so that a repository written by a newer labvault
 * gets "upgrade labvault" rather than a confusing complaint about a line this build does not know. */
static int check_version(const lv_kv *kv, int *format)
{
    const lv_kv_line *l = lv_kv_find(kv, "format");
    if (!l)
        return lv_err(LV_ERR_CORRUPT, "config: missing \"format\"");
    for (int f = LV_REPO_FORMAT_OLDEST; f <= LV_REPO_FORMAT; f++) {
        char num[16];
        snprintf(num, sizeof num, "%d", f);
        if (strcmp(l->value, num) == 0) {
            *format = f;
            return LV_OK;
        }
    }
    return lv_err(LV_ERR_CONFIG, "config line %d: repository format \"%.20s\" is not supported: "
                  "this build of labvault reads formats %d to %d (a newer labvault wrote it?)",
                  l->line, l->value, LV_REPO_FORMAT_OLDEST, LV_REPO_FORMAT);
}

int lv_repo_config_parse(const lv_buf *data, lv_repo_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    lv_kv kv;
    int rc = lv_kv_parse(data->data, data->len, "config", &kv);
    if (rc)
        return rc;
    lv_repo_params *p = &cfg->params;
    lv_repo_params_default(p); /* scrypt_* are per key; they keep the defaults for new keys */
    const char *enc = NULL;
    uint64_t level = 0, pack = 0, cmin = 0, cavg = 0, cmax = 0;
    if ((rc = check_version(&kv, &p->format)) || (rc = lv_kv_only(&kv, "config", config_names)) ||
        (rc = lv_kv_hex(&kv, "config", "id", cfg->id, LV_REPO_ID_LEN)) ||
        (rc = lv_kv_str(&kv, "config", "encryption", &enc)) ||
        (rc = lv_kv_u64(&kv, "config", "compression-level", 0, LEVEL_MAX, &level)) ||
        (rc = lv_kv_u64(&kv, "config", "pack-size", 4 * MIB, 256 * MIB, &pack)) ||
        (rc = lv_kv_u64(&kv, "config", "chunk-min", CHUNK_FLOOR, CHUNK_CEIL, &cmin)) ||
        (rc = lv_kv_u64(&kv, "config", "chunk-avg", CHUNK_FLOOR, CHUNK_CEIL, &cavg)) ||
        (rc = lv_kv_u64(&kv, "config", "chunk-max", CHUNK_FLOOR, CHUNK_CEIL, &cmax)))
        goto out;
    const lv_kv_line *enc_line = lv_kv_find(&kv, "encryption");
    if (strcmp(enc, "aes-256-gcm") == 0)
        p->encrypted = 1;
    else if (strcmp(enc, "none") == 0)
        p->encrypted = 0;
    else {
        rc = lv_err(LV_ERR_CORRUPT, "config line %d: unknown encryption \"%.40s\"", enc_line->line, enc);
        goto out;
    }
    p->compress_level = (int)level;
    p->pack_size = pack;
    p->chunk_min = (uint32_t)cmin;
    p->chunk_avg = (uint32_t)cavg;
    p->chunk_max = (uint32_t)cmax;
    char why[160];
    if (lv_repo_params_check(p, why, sizeof why) != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "config: %s", why);
        goto out;
    }
    /* The checksum line is the last one, and it is the right kind for the encryption setting: an
     * unencrypted config cannot pass as authenticated nor the other way round. */
    const lv_kv_line *last = &kv.lines[kv.n - 1];
    const char *want = p->encrypted ? "mac" : "sha256";
    if (strcmp(last->name, want) != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "config line %d: the last line must be \"%s = <hex>\" for "
                    "encryption = %s", last->line, want, enc);
        goto out;
    }
    const lv_kv_line *other = lv_kv_find(&kv, p->encrypted ? "sha256" : "mac");
    if (other) {
        rc = lv_err(LV_ERR_CORRUPT, "config line %d: \"%s\" does not belong in a config with "
                    "encryption = %s", other->line, other->name, enc);
        goto out;
    }
    if ((rc = lv_kv_hex(&kv, "config", want, cfg->mac, LV_HASH_LEN)))
        goto out;
    cfg->body = data->data;
    cfg->body_len = kv.last_off;
out:
    lv_kv_free(&kv);
    return rc;
}

int lv_repo_config_verify(const lv_repo_config *cfg, const uint8_t *mac_key)
{
    uint8_t mac[LV_HASH_LEN];
    if (mac_key)
        lv_hmac_sha256(mac_key, cfg->body, cfg->body_len, mac);
    else
        lv_sha256(cfg->body, cfg->body_len, mac);
    int bad = lv_memeq_ct(mac, cfg->mac, sizeof mac);
    lv_wipe(mac, sizeof mac);
    return bad;
}
