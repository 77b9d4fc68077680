/* Key objects keys/<id>: the master secret wrapped under a key derived from a passphrase (scrypt) or a
 * key file (HKDF), and the subkeys derived from the master secret. Format and reasons:
 * docs/repository-format.md, "Keys".
 *
 * A key object is a text object (repo_internal.h) whose last line, "master = <hex>", is the 32-byte
 * master secret sealed with AES-256-GCM under the wrapping key, with every byte before that line as
 * associated data: the KDF parameters, salt, repository id, host and user cannot be changed without the
 * unwrap failing. The object's name is the SHA-256 of its bytes. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sort.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "repo/repo_internal.h"

#define SALT_LEN 32
#define KEYFILE_MIN 32
#define KEYFILE_MAX (1u << 20)
#define WRAPPED_LEN (LV_SEAL_OVERHEAD + LV_KEY_LEN)

typedef struct key_obj {
    char id[65];
    char kdf[16];
    uint64_t n, r, p;
    uint8_t salt[SALT_LEN];
    uint8_t repo_id[LV_REPO_ID_LEN];
    char host[256], user[64], created[32];
    uint8_t wrapped[WRAPPED_LEN];
    lv_buf raw;      /* the object as stored */
    size_t aad_len;  /* bytes of raw before the "master" line */
} key_obj;

static const char *const key_names[] = {
    "format", "repository", "kdf", "scrypt-n", "scrypt-r", "scrypt-p", "salt", "host", "user",
    "created", "master", NULL,
};

void lv_repo_derive_subkeys(lv_repo *r)
{
    /* One master secret, independent subkeys per purpose: a weakness in one use (say, the chunker seed
     * being observable through chunk sizes) says nothing about the others. */
    lv_hkdf_sha256(r->master, LV_KEY_LEN, "labvault v1 encrypt", r->enc_key, LV_KEY_LEN);
    lv_hkdf_sha256(r->master, LV_KEY_LEN, "labvault v1 blob-id", r->id_key, LV_KEY_LEN);
    lv_hkdf_sha256(r->master, LV_KEY_LEN, "labvault v1 chunker", r->chunk_key, LV_KEY_LEN);
    lv_hkdf_sha256(r->master, LV_KEY_LEN, "labvault v1 config", r->mac_key, LV_KEY_LEN);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* Parse raw (already in k->raw) into k. LV_ERR_CORRUPT naming the object. */
static int key_parse(key_obj *k, const char *what)
{
    lv_kv kv;
    int rc = lv_kv_parse(k->raw.data, k->raw.len, what, &kv);
    if (rc)
        return rc;
    const char *fmt, *kdf, *host = "", *user = "", *created = "";
    if ((rc = lv_kv_only(&kv, what, key_names)) || (rc = lv_kv_str(&kv, what, "format", &fmt)))
        goto out;
    if (strcmp(fmt, "1") != 0) {
        rc = lv_err(LV_ERR_CONFIG, "%s: key format \"%.20s\" is not supported (this build reads 1)",
                    what, fmt);
        goto out;
    }
    if ((rc = lv_kv_str(&kv, what, "kdf", &kdf)) ||
        (rc = lv_kv_hex(&kv, what, "repository", k->repo_id, LV_REPO_ID_LEN)) ||
        (rc = lv_kv_hex(&kv, what, "salt", k->salt, SALT_LEN)) ||
        (rc = lv_kv_hex(&kv, what, "master", k->wrapped, WRAPPED_LEN)))
        goto out;
    if (strcmp(kv.lines[kv.n - 1].name, "master") != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "%s line %d: the last line must be \"master\"", what,
                    kv.lines[kv.n - 1].line);
        goto out;
    }
    if (strcmp(kdf, "scrypt") == 0) {
        /* Bounds that lv_scrypt enforces too; checking here gives a message naming the line. */
        if ((rc = lv_kv_u64(&kv, what, "scrypt-n", 2, (uint64_t)1 << 24, &k->n)) ||
            (rc = lv_kv_u64(&kv, what, "scrypt-r", 1, 64, &k->r)) ||
            (rc = lv_kv_u64(&kv, what, "scrypt-p", 1, 64, &k->p)))
            goto out;
    } else if (strcmp(kdf, "keyfile") != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "%s line %d: unknown kdf \"%.20s\"", what, lv_kv_find(&kv, "kdf")->line,
                    kdf);
        goto out;
    }
    copy_str(k->kdf, sizeof k->kdf, kdf);
    (void)lv_kv_str(&kv, what, "host", &host);
    (void)lv_kv_str(&kv, what, "user", &user);
    (void)lv_kv_str(&kv, what, "created", &created);
    lv_err_clear();
    copy_str(k->host, sizeof k->host, host);
    copy_str(k->user, sizeof k->user, user);
    copy_str(k->created, sizeof k->created, created);
    k->aad_len = kv.last_off;
out:
    lv_kv_free(&kv);
    return rc;
}

/* Object name relative to keys/: the store may report the full key or the part after the prefix. */
static const char *key_base(const char *name)
{
    return strncmp(name, "keys/", 5) == 0 ? name + 5 : name;
}

static int valid_id(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* Fetch and parse keys/<id>; the id must be the SHA-256 of the bytes. */
static int key_load(lv_store *st, const char *id, key_obj *k)
{
    memset(k, 0, sizeof *k);
    char what[80];
    snprintf(what, sizeof what, "key %.64s", id);
    char path[80];
    snprintf(path, sizeof path, "keys/%.64s", id);
    int rc = lv_store_get(st, path, 0, 0, &k->raw);
    if (rc)
        return rc;
    uint8_t h[LV_HASH_LEN];
    lv_sha256(k->raw.data, k->raw.len, h);
    lv_hex_encode(h, sizeof h, k->id);
    if (strcmp(k->id, id) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: content does not match its name (SHA-256 %s)", what, k->id);
    return key_parse(k, what);
}

static void key_free(key_obj *k)
{
    lv_buf_free(&k->raw);
}

/* ---- listing -------------------------------------------------------------------------------- */

typedef struct id_list {
    char (*ids)[65];
    size_t n, cap;
} id_list;

static int collect_id(void *arg, const char *key, uint64_t size)
{
    (void)size;
    id_list *l = arg;
    const char *base = key_base(key);
    if (!valid_id(base)) /* not ours (an editor's backup, a driver temp file): ignore */
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->ids = lv_xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    memcpy(l->ids[l->n++], base, 65);
    return 0;
}

static int list_ids(lv_store *st, id_list *l)
{
    memset(l, 0, sizeof *l);
    int rc = lv_store_list(st, "keys/", collect_id, l);
    if (rc) {
        free(l->ids);
        memset(l, 0, sizeof *l);
    }
    return rc;
}

int lv_keys_count(lv_store *st, size_t *n)
{
    id_list l;
    int rc = list_ids(st, &l);
    *n = l.n;
    free(l.ids);
    return rc;
}

/* ---- credentials ---------------------------------------------------------------------------- */

/* Key file bytes, read once per operation and wiped after. */
typedef struct keyfile {
    lv_buf data;
    int loaded;
} keyfile;

/* A missing or malformed key file is a bad setting: cred->key_file_code says which kind (configuration
 * by default, usage for a flag) and cred->key_file_origin where it was set. One that cannot be read
 * (permission) is local I/O. */
static int keyfile_load(const lv_credential *cred, keyfile *kf)
{
    memset(kf, 0, sizeof *kf);
    const char *path = cred->key_file;
    int bad = cred->key_file_code ? cred->key_file_code : LV_ERR_CONFIG;
    char from[160] = "";
    if (cred->key_file_origin)
        snprintf(from, sizeof from, " (key-file, from %s)", cred->key_file_origin);
    int rc = lv_read_file(path, &kf->data);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_err(bad, "key file %s%s does not exist", path, from);
    if (rc)
        return from[0] ? lv_err(rc, "%s%s", lv_errmsg(), from) : rc;
    if (kf->data.len < KEYFILE_MIN || kf->data.len > KEYFILE_MAX) {
        size_t len = kf->data.len;
        lv_wipe(kf->data.data, kf->data.len);
        lv_buf_free(&kf->data);
        return lv_err(bad, "key file %s%s holds %zu bytes: it needs %d to %u random bytes "
                      "(e.g. head -c 64 /dev/urandom)", path, from, len, KEYFILE_MIN, KEYFILE_MAX);
    }
    kf->loaded = 1;
    return LV_OK;
}

static void keyfile_free(keyfile *kf)
{
    if (kf->data.data)
        lv_wipe(kf->data.data, kf->data.cap);
    lv_buf_free(&kf->data);
    kf->loaded = 0;
}

/* The key that wraps the master secret, from the key object's KDF parameters and the credential. */
static int wrapping_key(const key_obj *k, const char *pass, const keyfile *kf, uint8_t out[LV_KEY_LEN])
{
    if (strcmp(k->kdf, "scrypt") == 0)
        return lv_scrypt(pass, strlen(pass), k->salt, SALT_LEN, k->n, k->r, k->p, out);
    /* A key file is already high-entropy: a fast KDF is enough, and the salt keeps one file used for
     * two repositories (or twice in one) from giving the same wrapping key. */
    static const char info[] = "labvault v1 keyfile";
    lv_hkdf_sha256_ex(k->salt, SALT_LEN, kf->data.data, kf->data.len, info, sizeof info - 1, out,
                      LV_KEY_LEN);
    return LV_OK;
}

/* ---- unlock --------------------------------------------------------------------------------- */

static int newest_first(const void *a, const void *b)
{
    const key_obj *x = a, *y = b;
    return strcmp(y->created, x->created);
}

int lv_keys_unlock(lv_repo *r, const lv_credential *cred, const lv_repo_config *cfg)
{
    const char *pass = cred ? cred->passphrase : NULL;
    const char *kpath = cred ? cred->key_file : NULL;
    const char *desc = lv_store_describe(r->store);
    if (!pass && !kpath)
        return lv_err(LV_ERR_AUTH, "repository %s is encrypted: give its passphrase or key file", desc);

    keyfile kf = {0};
    int rc;
    if (kpath && (rc = keyfile_load(cred, &kf)))
        return rc;
    id_list ids;
    if ((rc = list_ids(r->store, &ids))) {
        keyfile_free(&kf);
        return rc;
    }
    key_obj *keys = lv_xcalloc(ids.n ? ids.n : 1, sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; i < ids.n; i++) {
        rc = key_load(r->store, ids.ids[i], &keys[nk]);
        if (rc == LV_ERR_UNREACHABLE || rc == LV_ERR_AUTH || rc == LV_ERR_IO) {
            key_free(&keys[nk]);
            goto done;
        }
        if (rc) {
            /* One damaged key object must not lock out the others. */
            lv_warn("skipping %s", lv_errmsg());
            key_free(&keys[nk]);
            continue;
        }
        nk++;
    }
    if (nk == 0) {
        rc = lv_err(LV_ERR_CORRUPT, "repository %s has no usable key in keys/ "
                    "(%zu object(s) found)", desc, ids.n);
        goto done;
    }
    /* Newest first: the key just added is the likeliest one in use, and every scrypt attempt costs
     * a tenth of a second and tens of MiB. */
    lv_sort(keys, nk, sizeof *keys, newest_first);

    const key_obj *mismatch = NULL; /* unwrapped, but the config does not verify with it */
    rc = -1;
    for (size_t i = 0; i < nk && rc != LV_OK; i++) {
        key_obj *k = &keys[i];
        int is_scrypt = strcmp(k->kdf, "scrypt") == 0;
        if ((is_scrypt && !pass) || (!is_scrypt && !kf.loaded))
            continue;
        uint8_t wrap[LV_KEY_LEN];
        lv_buf master = LV_BUF_INIT;
        int wrc = wrapping_key(k, pass, &kf, wrap);
        if (wrc == LV_OK)
            wrc = lv_open(wrap, k->raw.data, k->aad_len, k->wrapped, WRAPPED_LEN, &master, k->id);
        lv_wipe(wrap, sizeof wrap);
        if (wrc == LV_OK && master.len == LV_KEY_LEN) {
            memcpy(r->master, master.data, LV_KEY_LEN);
            lv_repo_derive_subkeys(r);
            /* The config MAC ties this master secret to this repository's config; a key copied from
             * another repository (or a config whose bytes changed) unwraps but fails here. */
            if (lv_repo_config_verify(cfg, r->mac_key) == 0 &&
                memcmp(k->repo_id, cfg->id, LV_REPO_ID_LEN) == 0) {
                memcpy(r->key_id, k->id, sizeof r->key_id);
                if (is_scrypt) {
                    r->params.scrypt_n = k->n;
                    r->params.scrypt_r = (uint32_t)k->r;
                    r->params.scrypt_p = (uint32_t)k->p;
                }
                rc = LV_OK;
            } else {
                mismatch = k;
                lv_wipe(r->master, LV_KEY_LEN);
            }
        } else if (wrc != LV_OK && wrc != LV_ERR_AUTH) {
            lv_warn("skipping key %s: %s", k->id, lv_errmsg());
        }
        if (master.data)
            lv_wipe(master.data, master.cap);
        lv_buf_free(&master);
    }
    if (rc == LV_OK)
        goto done;
    if (mismatch)
        rc = lv_err(LV_ERR_CORRUPT, "config of %s: authentication failed although key %.16s (for "
                    "repository %02x%02x%02x%02x...) accepts the credential: the config was modified or "
                    "damaged, or the key was copied from another repository",
                    desc, mismatch->id, mismatch->repo_id[0], mismatch->repo_id[1], mismatch->repo_id[2],
                    mismatch->repo_id[3]);
    else
        rc = lv_err(LV_ERR_AUTH, "no key in %s matches the %s", desc,
                    pass && kpath ? "passphrase or key file" : pass ? "passphrase" : "key file");
    lv_wipe(r->enc_key, LV_KEY_LEN);
    lv_wipe(r->id_key, LV_KEY_LEN);
    lv_wipe(r->chunk_key, LV_KEY_LEN);
    lv_wipe(r->mac_key, LV_KEY_LEN);
done:
    for (size_t i = 0; i < nk; i++)
        key_free(&keys[i]);
    free(keys);
    free(ids.ids);
    keyfile_free(&kf);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void local_identity(char host[256], char user[64])
{
    if (gethostname(host, 256) != 0)
        copy_str(host, 256, "unknown");
    host[255] = '\0';
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        copy_str(user, 64, res->pw_name);
    else
        snprintf(user, 64, "uid %u", (unsigned)geteuid());
}

int lv_keys_write(lv_repo *r, const lv_credential *cred, char id_out[65])
{
    const char *pass = cred ? cred->passphrase : NULL;
    const char *kpath = cred ? cred->key_file : NULL;
    if ((pass != NULL) == (kpath != NULL))
        return lv_err(LV_ERR_USAGE, "a new key needs exactly one of a passphrase or a key file");
    if (pass && pass[0] == '\0')
        return lv_err(LV_ERR_USAGE, "the passphrase is empty");

    key_obj k;
    memset(&k, 0, sizeof k);
    copy_str(k.kdf, sizeof k.kdf, pass ? "scrypt" : "keyfile");
    k.n = r->params.scrypt_n;
    k.r = r->params.scrypt_r;
    k.p = r->params.scrypt_p;
    lv_random(k.salt, SALT_LEN);
    keyfile kf = {0};
    int rc;
    if (kpath && (rc = keyfile_load(cred, &kf)))
        return rc;
    uint8_t wrap[LV_KEY_LEN];
    if ((rc = wrapping_key(&k, pass, &kf, wrap))) {
        keyfile_free(&kf);
        return rc;
    }
    keyfile_free(&kf);

    char hex[2 * SALT_LEN + 1], num[32], host[256], user[64], now[32];
    lv_buf obj = LV_BUF_INIT;
    lv_buf_append_str(&obj, "# labvault key (docs/repository-format.md). The last line is the master "
                            "secret,\n# sealed under this key with every byte above it as associated "
                            "data.\n");
    lv_kv_put(&obj, "format", "1");
    lv_hex_encode(r->id, LV_REPO_ID_LEN, hex);
    lv_kv_put(&obj, "repository", hex);
    lv_kv_put(&obj, "kdf", k.kdf);
    if (pass) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)k.n);
        lv_kv_put(&obj, "scrypt-n", num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)k.r);
        lv_kv_put(&obj, "scrypt-r", num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)k.p);
        lv_kv_put(&obj, "scrypt-p", num);
    }
    lv_hex_encode(k.salt, SALT_LEN, hex);
    lv_kv_put(&obj, "salt", hex);
    local_identity(host, user);
    lv_kv_put(&obj, "host", host);
    lv_kv_put(&obj, "user", user);
    lv_rfc3339_now(now);
    lv_kv_put(&obj, "created", now);

    lv_buf sealed = LV_BUF_INIT;
    lv_seal(wrap, obj.data, obj.len, r->master, LV_KEY_LEN, &sealed);
    lv_wipe(wrap, sizeof wrap);
    char whex[2 * WRAPPED_LEN + 1];
    lv_hex_encode(sealed.data, sealed.len, whex);
    lv_buf_free(&sealed);
    lv_kv_put(&obj, "master", whex);

    uint8_t h[LV_HASH_LEN];
    lv_sha256(obj.data, obj.len, h);
    char id[65], path[80];
    lv_hex_encode(h, sizeof h, id);
    snprintf(path, sizeof path, "keys/%s", id);
    rc = lv_store_put(r->store, path, obj.data, obj.len, LV_PUT_IF_ABSENT);
    lv_buf_free(&obj);
    if (rc == LV_OK && id_out)
        memcpy(id_out, id, 65);
    return rc;
}

/* ---- public key management ------------------------------------------------------------------ */

static int need_keys(const lv_repo *r)
{
    if (!r->params.encrypted)
        return lv_err(LV_ERR_USAGE, "repository %s is unencrypted: it has no keys",
                      lv_store_describe(r->store));
    return LV_OK;
}

int lv_repo_key_add(lv_repo *r, const lv_credential *cred, char id_out[65])
{
    int rc = need_keys(r);
    return rc ? rc : lv_keys_write(r, cred, id_out);
}

int lv_repo_key_list(const lv_repo *r, int (*cb)(void *arg, const lv_key_info *k), void *arg)
{
    int rc = need_keys(r);
    if (rc)
        return rc;
    id_list ids;
    if ((rc = list_ids(r->store, &ids)))
        return rc;
    for (size_t i = 0; i < ids.n && rc == LV_OK; i++) {
        key_obj k;
        lv_key_info info;
        memset(&info, 0, sizeof info);
        int lrc = key_load(r->store, ids.ids[i], &k);
        if (lrc == LV_ERR_UNREACHABLE || lrc == LV_ERR_AUTH || lrc == LV_ERR_IO) {
            key_free(&k);
            rc = lrc;
            break;
        }
        copy_str(info.id, sizeof info.id, ids.ids[i]);
        if (lrc == LV_OK) {
            copy_str(info.kdf, sizeof info.kdf, k.kdf);
            copy_str(info.host, sizeof info.host, k.host);
            copy_str(info.user, sizeof info.user, k.user);
            copy_str(info.created, sizeof info.created, k.created);
        } else {
            /* Listed so that it can be seen and removed. */
            copy_str(info.kdf, sizeof info.kdf, "damaged");
            lv_warn("%s", lv_errmsg());
        }
        info.current = strcmp(ids.ids[i], r->key_id) == 0;
        key_free(&k);
        rc = cb(arg, &info);
    }
    free(ids.ids);
    return rc;
}

int lv_repo_key_verify(lv_repo *r, const char *id)
{
    if (!valid_id(id))
        return lv_err(LV_ERR_CORRUPT, "keys/%.80s: not a key object name", id);
    key_obj k;
    int rc = key_load(r->store, id, &k);
    key_free(&k);
    return rc;
}

int lv_repo_key_remove(lv_repo *r, const char *id)
{
    int rc = need_keys(r);
    if (rc)
        return rc;
    size_t idlen = strlen(id);
    if (idlen < 8 || idlen > 64)
        return lv_err(LV_ERR_USAGE, "key id \"%.70s\": give at least 8 hex digits", id);
    id_list ids;
    if ((rc = list_ids(r->store, &ids)))
        return rc;
    const char *match = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < ids.n; i++)
        if (strncmp(ids.ids[i], id, idlen) == 0) {
            match = ids.ids[i];
            matches++;
        }
    if (matches == 0)
        rc = lv_err(LV_ERR_NOT_FOUND, "no key %s in %s", id, lv_store_describe(r->store));
    else if (matches > 1)
        rc = lv_err(LV_ERR_USAGE, "key id %s is ambiguous (%zu keys start with it)", id, matches);
    else if (strcmp(match, r->key_id) == 0)
        rc = lv_err(LV_ERR_USAGE, "key %.16s is the one in use: open the repository with another key "
                    "to remove it", match);
    else if (ids.n <= 1)
        rc = lv_err(LV_ERR_USAGE, "key %.16s is the last key: removing it would make the repository "
                    "unreadable", match);
    else {
        char path[80];
        snprintf(path, sizeof path, "keys/%s", match);
        rc = lv_store_del(r->store, path);
    }
    free(ids.ids);
    return rc;
}
