/* Cryptographic primitives, all through OpenSSL's libcrypto (EVP); nothing hand-rolled.
 *
 *   lv_random        CSPRNG bytes (RAND_bytes)
 *   lv_sha256        SHA-256 of a buffer (pack ids, index ids: content addresses)
 *   lv_hmac_sha256   HMAC-SHA256 (blob id = HMAC(id key, plaintext))
 *   lv_hkdf_sha256   HKDF (RFC 5869) to derive independent subkeys from one master secret
 *   lv_scrypt        scrypt KDF (EVP_PBE_scrypt) for passphrases
 *   lv_seal/lv_open  AES-256-GCM with a random 96-bit nonce. Sealed format:
 *                    nonce(12) || ciphertext(n) || tag(16); LV_SEAL_OVERHEAD = 28 bytes.
 *                    lv_open returns LV_ERR_AUTH when the tag does not verify (wrong key or
 *                    tampered/corrupt bytes: the caller decides which it reports) and never
 *                    releases unauthenticated plaintext.
 * All return lv_code and set the error message, except the void ones which cannot fail (they abort on an
 * OpenSSL internal failure, which indicates a broken library, not bad input). */
#ifndef LV_CRYPTO_CRYPTO_H
#define LV_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define LV_KEY_LEN 32
#define LV_HASH_LEN 32
#define LV_NONCE_LEN 12
#define LV_TAG_LEN 16
#define LV_SEAL_OVERHEAD (LV_NONCE_LEN + LV_TAG_LEN)

void lv_random(void *out, size_t n);
void lv_sha256(const void *data, size_t n, uint8_t out[LV_HASH_LEN]);
/* SHA-256 of a || b, without copying them into one buffer. */
void lv_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LV_HASH_LEN]);
void lv_hmac_sha256(const uint8_t key[LV_KEY_LEN], const void *data, size_t n, uint8_t out[LV_HASH_LEN]);
void lv_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const char *info, uint8_t *out, size_t out_len);
/* HKDF with a salt and binary info (key files: the salt is stored in the key object). salt_len 0 means
 * no salt (RFC 5869: HashLen zero bytes), which is what lv_hkdf_sha256 uses. */
void lv_hkdf_sha256_ex(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const void *info, size_t info_len, uint8_t *out, size_t out_len);
/* n must be a power of two (e.g. 32768), r and p positive; memory use about 128*n*r bytes. Parameters
 * that are invalid or would need more than 2 GiB are refused with LV_ERR_CONFIG (a key object is read
 * from the bucket: it must not be able to exhaust memory). */
int lv_scrypt(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len, uint64_t n,
              uint64_t r, uint64_t p, uint8_t out[LV_KEY_LEN]);

/* Append nonce||ciphertext||tag of plain to out. aad may be NULL when aad_len is 0. */
void lv_seal(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *plain,
             size_t n, lv_buf *out);
/* Seal the one message head || body into dst, which receives exactly hn + bn + LV_SEAL_OVERHEAD bytes
 * (nonce || ciphertext || tag). The two parts spare a caller that prefixes a byte or two the copy of
 * the body into one buffer. head may be NULL when hn is 0. */
void lv_seal_to(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *head, size_t hn,
                const void *body, size_t bn, uint8_t *dst);
/* Append the plaintext of sealed (n bytes) to out. LV_ERR_AUTH on a bad tag, LV_ERR_CORRUPT if
 * n < LV_SEAL_OVERHEAD. what names the object in the error message. */
int lv_open(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, const void *sealed,
            size_t n, lv_buf *out, const char *what);
/* The same in place: on success the plaintext is sealed[LV_NONCE_LEN, LV_NONCE_LEN + n - LV_SEAL_OVERHEAD),
 * and no second buffer is needed; on failure those bytes are wiped. */
int lv_open_in_place(const uint8_t key[LV_KEY_LEN], const void *aad, size_t aad_len, uint8_t *sealed, size_t n,
                     const char *what);

/* Constant-time comparison (CRYPTO_memcmp). Returns 0 when equal. */
int lv_memeq_ct(const void *a, const void *b, size_t n);
/* Zero memory in a way the compiler cannot elide (OPENSSL_cleanse). */
void lv_wipe(void *p, size_t n);

#endif
