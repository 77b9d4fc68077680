/* Cryptographic primitives over OpenSSL 3 EVP (contract in crypto/crypto.h).
 *
 * The algorithm objects (SHA-256, AES-256-GCM, HMAC, HKDF) are fetched once per process and kept: an
 * implicit fetch on every call goes through the provider lookup and its locks, and blob ids and seals are
 * computed for every chunk of every backup. The fetched objects are reference-counted and immutable, so
 * sharing them between threads is safe; they live until exit on purpose (reachable, not leaked).
 *
 * Failures inside OpenSSL on valid arguments mean the library is broken (or the FIPS self test failed);
 * the void functions abort then, because continuing could write unencrypted or unauthenticated data. */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "common/error.h"

/* scrypt needs about 128*N*r*(p + 2) bytes; refuse parameters that would need more than this. The
 * largest parameters we ever write (N=2^20, r=8) need 1 GiB; a key object asking for more was not
 * written by us and must not be able to exhaust the machine's memory. */
#define SCRYPT_MAXMEM ((uint64_t)1 << 31)

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;
static EVP_CIPHER *cipher_gcm;
static EVP_MAC *mac_hmac;
static EVP_KDF *kdf_hkdf;

static _Noreturn void ossl_fatal(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, "labvault: OpenSSL failure in %s: %s\n", what, e ? buf : "unknown error");
    abort();
}

static void algs_fetch(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cipher_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!md_sha256 || !cipher_gcm || !mac_hmac || !kdf_hkdf)
        ossl_fatal("fetching SHA256/AES-256-GCM/HMAC/HKDF");
}

static void algs(void)
{
    if (pthread_once(&algs_once, algs_fetch) != 0)
        ossl_fatal("pthread_once");
}

/* EVP length arguments are int; feed larger buffers in slices. */
#define SLICE ((size_t)1 << 30)

void lv_random(void *out, size_t n)
{
    uint8_t *p = out;
    while (n > 0) {
        size_t k = n < SLICE ? n : SLICE;
        if (RAND_bytes(p, (int)k) != 1)
            ossl_fatal("RAND_bytes");
        p += k;
        n -= k;
    }
}

void lv_sha256(const void *data, size_t n, uint8_t out[LV_HASH_LEN])
{
    algs();
    unsigned int len = 0;
    if (EVP_Digest(data, n, out, &len, md_sha256, NULL) != 1 || len != LV_HASH_LEN)
        ossl_fatal("EVP_Digest SHA-256");
}

void lv_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LV_HASH_LEN])
{
    algs();
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex2(ctx, md_sha256, NULL) != 1 || (an && EVP_DigestUpdate(ctx, a, an) != 1) ||
        (bn && EVP_DigestUpdate(ctx, b, bn) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
        len != LV_HASH_LEN)
        ossl_fatal("SHA-256");
    EVP_MD_CTX_free(ctx);
}

void lv_hmac_sha256(const uint8_t key[LV_KEY_LEN], const void *data, size_t n, uint8_t out[LV_HASH_LEN])
{
    algs();
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_hmac);
    if (!ctx)
        ossl_fatal("EVP_MAC_CTX_new");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t len = 0;
    if (EVP_MAC_init(ctx, key, LV_KEY_LEN, params) != 1 || EVP_MAC_update(ctx, data, n) != 1 ||
        EVP_MAC_final(ctx, out, &len, LV_HASH_LEN) != 1 || len != LV_HASH_LEN)
        ossl_fatal("HMAC-SHA256");
    EVP_MAC_CTX_free(ctx);
}

void lv_hkdf_sha256_ex(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
    algs();
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf_hkdf);
    if (!ctx)
        ossl_fatal("EVP_KDF_CTX_new");
    /* OSSL_PARAM takes non-const pointers but only reads through them for input parameters. */
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikm_len);
    if (info_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, info_len);
    /* No salt means RFC 5869's default: HashLen zero bytes. */
    if (salt_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, salt_len);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
        ossl_fatal("HKDF-SHA256");
    EVP_KDF_CTX_free(ctx);
}

void lv_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const char *info, uint8_t *out, size_t out_len)
{
    lv_hkdf_sha256_ex(NULL, 0, ikm, ikm_len, info, info ? strlen(info) : 0, out, out_len);
}

int lv_scrypt(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len, uint64_t n,
              uint64_t r, uint64_t p, uint8_t out[LV_KEY_LEN])
{
    if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || r > 1024 || p > 1024)
        return lv_err(LV_ERR_CONFIG, "scrypt parameters N=%llu r=%llu p=%llu are invalid "
                      "(N a power of two >= 2, 1 <= r, p <= 1024)",
                      (unsigned long long)n, (unsigned long long)r, (unsigned long long)p);
    /* OpenSSL allocates 128*r*(N + p + 2) bytes (V, B and XY); check against our ceiling with
     * overflow-safe arithmetic before asking it. */
    if (n > SCRYPT_MAXMEM / 128 / r || 128 * r * (n + p + 2) > SCRYPT_MAXMEM)
        return lv_err(LV_ERR_CONFIG, "scrypt parameters N=%llu r=%llu p=%llu need more than %llu MiB",
                      (unsigned long long)n, (unsigned long long)r, (unsigned long long)p,
                      (unsigned long long)(SCRYPT_MAXMEM >> 20));
    /* maxmem has to exceed the real need, with room for OpenSSL's own rounding. */
    uint64_t maxmem = 128 * r * (n + p + 2) + (1u << 20);
    if (EVP_PBE_scrypt(pass_len ? pass : "", pass_len, salt, salt_len, n, r, p, maxmem, out,
                       LV_KEY_LEN) != 1) {
        unsigned long e = ERR_get_error();
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        return lv_err(LV_ERR_INTERNAL, "scrypt (N=%llu r=%llu p=%llu) failed: %s",
                      (unsigned long long)n, (unsigned long long)r, (unsigned long long)p, buf);
    }
    return LV_OK;
}

/* Feed n bytes of in through the cipher into out (which has room for n bytes). */
static int cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t n)
{
    while (n > 0) {
        size_t k = n < SLICE ? n : SLICE;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out, &outl, in, (int)k) != 1 || (size_t)outl != k)
            return -1;
        in += k;
        out += k;
        n -= k;
    }
    return 0;
}

static int cipher_aad(EVP_CIPHER_CTX *ctx, const uint8_t *aad, size_t n)
{
    while (n > 0) {
        size_t k = n < SLICE ? n : SLICE;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)k) != 1)
            return -1;
        aad += k;
        n -= k;
    }
    return 0;
}

void lv_seal_to(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *head, size_t hn,
                const void *body, size_t bn, uint8_t *dst)
{
    algs();
    uint8_t *nonce = dst, *ct = nonce + LV_NONCE_LEN, *tag = ct + hn + bn;
    /* A random 96-bit nonce per message: with at most 2^32 messages per key the collision probability
     * stays below 2^-32 (NIST SP 800-38D), far more blobs than a repository will hold per key. */
    lv_random(nonce, LV_NONCE_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int fin = 0;
    if (!ctx || EVP_EncryptInit_ex2(ctx, cipher_gcm, key, nonce, NULL) != 1 ||
        cipher_aad(ctx, aad, aad_len) != 0 || cipher_update(ctx, ct, head, hn) != 0 ||
        cipher_update(ctx, ct + hn, body, bn) != 0 || EVP_EncryptFinal_ex(ctx, tag, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, LV_TAG_LEN, tag) != 1)
        ossl_fatal("AES-256-GCM encrypt");
    EVP_CIPHER_CTX_free(ctx);
}

void lv_seal(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *plain,
             size_t n, lv_buf *out)
{
    lv_buf_reserve(out, n + LV_SEAL_OVERHEAD);
    lv_seal_to(key, aad, aad_len, NULL, 0, plain, n, out->data + out->len);
    out->len += n + LV_SEAL_OVERHEAD;
}

/* Decrypt and verify sealed (n bytes) into pt (len = n - LV_SEAL_OVERHEAD bytes; pt may be the
 * ciphertext's own place). */
static int open_into(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const uint8_t *sealed,
                     size_t n, uint8_t *pt, const char *what)
{
    algs();
    const uint8_t *nonce = sealed, *ct = nonce + LV_NONCE_LEN;
    size_t len = n - LV_SEAL_OVERHEAD;
    uint8_t tag[LV_TAG_LEN];
    memcpy(tag, ct + len, LV_TAG_LEN); /* SET_TAG wants a non-const pointer */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex2(ctx, cipher_gcm, key, nonce, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, LV_TAG_LEN, tag) != 1 ||
        cipher_aad(ctx, aad, aad_len) != 0 || cipher_update(ctx, pt, ct, len) != 0)
        ossl_fatal("AES-256-GCM decrypt");
    int fin = 0;
    int ok = EVP_DecryptFinal_ex(ctx, pt + len, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error(); /* a failed tag check queues nothing useful */
    if (!ok) {
        lv_wipe(pt, len); /* unauthenticated plaintext: no caller may see it */
        return lv_err(LV_ERR_AUTH, "%s: authentication failed (wrong key, or the bytes were changed)",
                      what);
    }
    return LV_OK;
}

static int short_sealed(size_t n, const char *what)
{
    return lv_err(LV_ERR_CORRUPT, "%s: sealed object is %zu bytes, shorter than the %d bytes of nonce and tag",
                  what, n, LV_SEAL_OVERHEAD);
}

int lv_open(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *sealed,
            size_t n, lv_buf *out, const char *what)
{
    if (n < LV_SEAL_OVERHEAD)
        return short_sealed(n, what);
    size_t len = n - LV_SEAL_OVERHEAD;
    lv_buf_reserve(out, len);
    /* Into the spare capacity of out; len is only advanced once the tag verified. */
    int rc = open_into(key, aad, aad_len, sealed, n, out->data + out->len, what);
    if (rc == LV_OK)
        out->len += len;
    return rc;
}

int lv_open_in_place(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, uint8_t *sealed, size_t n,
                     const char *what)
{
    if (n < LV_SEAL_OVERHEAD)
        return short_sealed(n, what);
    return open_into(key, aad, aad_len, sealed, n, sealed + LV_NONCE_LEN, what);
}

int lv_memeq_ct(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0 ? 0 : 1;
}

void lv_wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}
