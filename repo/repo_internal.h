/* Internals shared by repo.c (handle, sealing), repo_config.c (the config object and the "key = value"
 * text format) and keys.c (key objects). Not part of the public API: other modules use repo/repo.h.
 *
 * Text objects (config, keys/<id>) are UTF-8 lines "name = value\n": name is [a-z0-9-]+, the separator
 * is exactly " = ", the value runs to the end of the line and holds no control characters; '#' lines
 * are comments. Every name appears at most once. The last line authenticates all bytes before it. The
 * format is strict on purpose: there is exactly one byte sequence for a given content, so what is
 * authenticated is what is parsed. */
#ifndef LV_REPO_REPO_INTERNAL_H
#define LV_REPO_REPO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "repo/repo.h"

/* Text objects are small; anything larger was not written by us. */
#define LV_TEXT_OBJ_MAX (64 * 1024)

typedef struct lv_kv_line {
    char *name;
    char *value;
    int line;  /* 1-based line number, for messages */
} lv_kv_line;

typedef struct lv_kv {
    char *text;          /* private NUL-separated copy the lines point into */
    lv_kv_line *lines;
    size_t n;
    size_t last_off;     /* byte offset of the last line in the original object: the authenticated
                            part is [0, last_off) */
} lv_kv;

/* Parse an object. On a syntax error: LV_ERR_CORRUPT "<what> line N: ..." and kv is left empty. */
int lv_kv_parse(const void *data, size_t n, const char *what, lv_kv *kv);
void lv_kv_free(lv_kv *kv);
/* The line with this name, or NULL. */
const lv_kv_line *lv_kv_find(const lv_kv *kv, const char *name);
/* Typed getters: LV_ERR_CORRUPT naming what and the line (or "missing <name>"). */
int lv_kv_str(const lv_kv *kv, const char *what, const char *name, const char **out);
int lv_kv_u64(const lv_kv *kv, const char *what, const char *name, uint64_t min, uint64_t max,
              uint64_t *out);
int lv_kv_hex(const lv_kv *kv, const char *what, const char *name, uint8_t *out, size_t n);
/* Every name in the object must be in the NULL-terminated list (LV_ERR_CORRUPT naming the line). */
int lv_kv_only(const lv_kv *kv, const char *what, const char *const *names);

/* Append "name = value\n" (value sanitised: control characters become '?'). */
void lv_kv_put(lv_buf *b, const char *name, const char *value);
/* Current time as RFC 3339 UTC ("2024-05-01T12:00:00Z"). */
void lv_rfc3339_now(char out[32]);

/* Parameter limits, shared by init (LV_ERR_CONFIG for the user's values) and parsing (LV_ERR_CORRUPT
 * for a stored object). Returns 0 or -1 and writes a reason into why. */
int lv_repo_params_check(const lv_repo_params *p, char *why, size_t why_len);

/* config object (repo_config.c). */
typedef struct lv_repo_config {
    lv_repo_params params;
    uint8_t id[LV_REPO_ID_LEN];
    uint8_t mac[LV_HASH_LEN];       /* HMAC (encrypted) or SHA-256 (unencrypted) of body */
    const uint8_t *body;            /* points into the caller's buffer: the authenticated bytes */
    size_t body_len;
} lv_repo_config;

/* Serialise the config for params and id; mac_key is NULL for an unencrypted repository. */
void lv_repo_config_format(const lv_repo_params *p, const uint8_t id[LV_REPO_ID_LEN],
                      const uint8_t *mac_key, lv_buf *out);
/* Parse (no authentication yet: that needs the key). LV_ERR_CORRUPT or LV_ERR_CONFIG (format). */
int lv_repo_config_parse(const lv_buf *data, lv_repo_config *cfg);
/* Check the last line: HMAC under mac_key (NULL: unencrypted, SHA-256). 0 when it verifies. */
int lv_repo_config_verify(const lv_repo_config *cfg, const uint8_t *mac_key);

/* Key objects (keys.c). */
void lv_repo_derive_subkeys(lv_repo *r);
/* Try every key in keys/ that the credential can open; on success fill r->master, r->key_id and the
 * scrypt parameters, and verify the config with the derived mac_key. */
int lv_keys_unlock(lv_repo *r, const lv_credential *cred, const lv_repo_config *cfg);
/* Write a new keys/<id> wrapping r->master under cred. */
int lv_keys_write(lv_repo *r, const lv_credential *cred, char id_out[65]);
/* Number of objects under keys/ (refuse an "unencrypted" config next to keys: a downgrade). */
int lv_keys_count(lv_store *st, size_t *n);

#endif
