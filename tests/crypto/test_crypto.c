/* Known-answer tests for the primitives (a wrong parameter wiring passes every round trip but no
 * published vector) and the failure contract of lv_open: any changed byte is LV_ERR_AUTH, a truncated
 * object LV_ERR_CORRUPT, and no plaintext is released on failure. */
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hex.h"
#include "crypto/crypto.h"
#include "tests/check.h"

static int hex_is(const uint8_t *got, size_t n, const char *want)
{
    char h[2 * 64 + 1];
    if (n > 64)
        return 0;
    lv_hex_encode(got, n, h);
    if (strcmp(h, want) != 0) {
        printf("#   got  %s\n#   want %s\n", h, want);
        return 0;
    }
    return 1;
}

static void test_sha256(void)
{
    uint8_t out[LV_HASH_LEN];
    lv_sha256("abc", 3, out);
    CHECK(hex_is(out, sizeof out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "SHA-256(\"abc\") (FIPS 180-2)");
    lv_sha256("", 0, out);
    CHECK(hex_is(out, sizeof out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          "SHA-256 of the empty string");
    lv_sha256_2("a", 1, "bc", 2, out);
    CHECK(hex_is(out, sizeof out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "SHA-256 of \"a\" || \"bc\" is SHA-256(\"abc\")");
    lv_sha256_2(NULL, 0, "abc", 3, out);
    CHECK(hex_is(out, sizeof out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "SHA-256 of an empty first part");
}

/* RFC 4231 test case 2 has a 4-byte key ("Jefe"); HMAC pads keys shorter than the block with zeros, so
 * the same key zero-padded to our fixed 32 bytes gives the same MAC. */
static void test_hmac(void)
{
    uint8_t key[LV_KEY_LEN] = {'J', 'e', 'f', 'e'}, out[LV_HASH_LEN];
    const char *msg = "what do ya want for nothing?";
    lv_hmac_sha256(key, msg, strlen(msg), out);
    CHECK(hex_is(out, sizeof out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
          "HMAC-SHA256 RFC 4231 test case 2");
}

static void test_hkdf(void)
{
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof info; i++)
        info[i] = (uint8_t)(0xf0 + i);
    lv_hkdf_sha256_ex(salt, sizeof salt, ikm, sizeof ikm, info, sizeof info, okm, sizeof okm);
    CHECK(hex_is(okm, sizeof okm, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                  "34007208d5b887185865"),
          "HKDF-SHA256 RFC 5869 test case 1 (salt, info)");
    lv_hkdf_sha256(ikm, sizeof ikm, "", okm, sizeof okm);
    CHECK(hex_is(okm, sizeof okm, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                                  "9d201395faa4b61a96c8"),
          "HKDF-SHA256 RFC 5869 test case 3 (no salt, no info: the lv_hkdf_sha256 form)");
    uint8_t a[32], b[32];
    lv_hkdf_sha256(ikm, sizeof ikm, "labvault v1 encrypt", a, sizeof a);
    lv_hkdf_sha256(ikm, sizeof ikm, "labvault v1 blob-id", b, sizeof b);
    CHECK(memcmp(a, b, sizeof a) != 0, "different info strings give different subkeys");
}

static void test_scrypt(void)
{
    /* RFC 7914 section 12. Our output is the first 32 of the RFC's 64 bytes: PBKDF2 output blocks are
     * independent, so a shorter dkLen is a prefix. */
    uint8_t out[LV_KEY_LEN];
    CHECK(lv_scrypt("", 0, (const uint8_t *)"", 0, 16, 1, 1, out) == LV_OK, "scrypt N=16 r=1 p=1 runs");
    CHECK(hex_is(out, sizeof out, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"),
          "scrypt RFC 7914 vector 1 (\"\", \"\", N=16, r=1, p=1)");
    CHECK(lv_scrypt("password", 8, (const uint8_t *)"NaCl", 4, 1024, 8, 16, out) == LV_OK,
          "scrypt N=1024 r=8 p=16 runs");
    CHECK(hex_is(out, sizeof out, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"),
          "scrypt RFC 7914 vector 2 (\"password\", \"NaCl\", N=1024, r=8, p=16)");
    CHECK(lv_scrypt("x", 1, (const uint8_t *)"s", 1, 1000, 8, 1, out) == LV_ERR_CONFIG,
          "scrypt refuses N that is not a power of two");
    CHECK(lv_scrypt("x", 1, (const uint8_t *)"s", 1, 1024, 0, 1, out) == LV_ERR_CONFIG,
          "scrypt refuses r = 0");
    CHECK(lv_scrypt("x", 1, (const uint8_t *)"s", 1, (uint64_t)1 << 40, 8, 1, out) == LV_ERR_CONFIG,
          "scrypt refuses parameters needing more than the memory ceiling (hostile key object)");
}

static void test_seal_open(void)
{
    uint8_t key[LV_KEY_LEN], key2[LV_KEY_LEN];
    lv_random(key, sizeof key);
    lv_random(key2, sizeof key2);
    const char *aad = "blob-id-1";
    size_t aad_len = strlen(aad);
    uint8_t plain[1000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 7);

    lv_buf sealed = LV_BUF_INIT, out = LV_BUF_INIT;
    lv_seal(key, aad, aad_len, plain, sizeof plain, &sealed);
    CHECK(sealed.len == sizeof plain + LV_SEAL_OVERHEAD, "sealed size is plaintext + 28");
    CHECK(lv_open(key, aad, aad_len, sealed.data, sealed.len, &out, "blob") == LV_OK, "open succeeds");
    CHECK(out.len == sizeof plain && memcmp(out.data, plain, sizeof plain) == 0, "round trip is exact");

    lv_buf again = LV_BUF_INIT;
    lv_seal(key, aad, aad_len, plain, sizeof plain, &again);
    CHECK(memcmp(again.data, sealed.data, LV_NONCE_LEN) != 0 &&
          memcmp(again.data + LV_NONCE_LEN, sealed.data + LV_NONCE_LEN, sizeof plain) != 0,
          "sealing twice gives a fresh nonce and different ciphertext");
    lv_buf_free(&again);

    struct { size_t at; const char *region; } spots[] = {
        {0, "nonce (first byte)"},         {LV_NONCE_LEN - 1, "nonce (last byte)"},
        {LV_NONCE_LEN, "ciphertext (first byte)"}, {LV_NONCE_LEN + 500, "ciphertext (middle)"},
        {sealed.len - LV_TAG_LEN, "tag (first byte)"}, {sealed.len - 1, "tag (last byte)"},
    };
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        sealed.data[spots[i].at] ^= 0x01;
        lv_buf_reset(&out);
        int rc = lv_open(key, aad, aad_len, sealed.data, sealed.len, &out, "blob x");
        CHECK(rc == LV_ERR_AUTH && out.len == 0 && strstr(lv_errmsg(), "blob x"),
              "flipped bit in %s: LV_ERR_AUTH naming the object, nothing released", spots[i].region);
        sealed.data[spots[i].at] ^= 0x01;
    }
    lv_buf_reset(&out);
    CHECK(lv_open(key2, aad, aad_len, sealed.data, sealed.len, &out, "blob") == LV_ERR_AUTH,
          "wrong key: LV_ERR_AUTH");
    CHECK(lv_open(key, "blob-id-2", 9, sealed.data, sealed.len, &out, "blob") == LV_ERR_AUTH,
          "different associated data: LV_ERR_AUTH");
    CHECK(lv_open(key, NULL, 0, sealed.data, sealed.len, &out, "blob") == LV_ERR_AUTH,
          "missing associated data: LV_ERR_AUTH");
    CHECK(lv_open(key, aad, aad_len, sealed.data, sealed.len - 1, &out, "blob") == LV_ERR_AUTH,
          "one byte cut off the end: LV_ERR_AUTH");
    CHECK(lv_open(key, aad, aad_len, sealed.data, LV_SEAL_OVERHEAD - 1, &out, "blob") == LV_ERR_CORRUPT,
          "shorter than nonce + tag: LV_ERR_CORRUPT");
    CHECK(lv_open(key, aad, aad_len, sealed.data, 0, &out, "blob") == LV_ERR_CORRUPT,
          "empty: LV_ERR_CORRUPT");
    CHECK(out.len == 0, "failed opens appended nothing");
    /* in place: the plaintext where the ciphertext was; a bad tag wipes it */
    lv_buf copy = LV_BUF_INIT;
    lv_buf_append(&copy, sealed.data, sealed.len);
    CHECK(lv_open_in_place(key, aad, aad_len, copy.data, copy.len, "blob") == LV_OK &&
              memcmp(copy.data + LV_NONCE_LEN, plain, sizeof plain) == 0,
          "in place: the plaintext replaces the ciphertext");
    lv_buf_reset(&copy);
    lv_buf_append(&copy, sealed.data, sealed.len);
    copy.data[LV_NONCE_LEN + 10] ^= 0x01;
    int wiped = 1;
    CHECK(lv_open_in_place(key, aad, aad_len, copy.data, copy.len, "blob y") == LV_ERR_AUTH &&
              strstr(lv_errmsg(), "blob y"),
          "in place, a flipped bit: LV_ERR_AUTH naming the object");
    for (size_t i = 0; i < sizeof plain; i++)
        wiped &= copy.data[LV_NONCE_LEN + i] == 0;
    CHECK(wiped, "... and the unauthenticated plaintext is wiped");
    CHECK(lv_open_in_place(key, aad, aad_len, copy.data, LV_SEAL_OVERHEAD - 1, "blob") == LV_ERR_CORRUPT,
          "in place, shorter than nonce + tag: LV_ERR_CORRUPT");
    lv_buf_free(&copy);

    lv_buf_reset(&sealed);
    lv_seal(key, NULL, 0, "", 0, &sealed);
    lv_buf_append(&out, "pre", 3);
    CHECK(sealed.len == LV_SEAL_OVERHEAD &&
          lv_open(key, NULL, 0, sealed.data, sealed.len, &out, "empty") == LV_OK && out.len == 3,
          "empty plaintext without aad round-trips and appends to existing content");

    lv_buf_free(&sealed);
    lv_buf_free(&out);
}

static void test_misc(void)
{
    uint8_t a[16] = {1, 2, 3}, b[16] = {1, 2, 3};
    CHECK(lv_memeq_ct(a, b, sizeof a) == 0, "lv_memeq_ct: equal");
    b[15] = 9;
    CHECK(lv_memeq_ct(a, b, sizeof a) != 0, "lv_memeq_ct: different last byte");
    lv_wipe(b, sizeof b);
    static const uint8_t zero[16];
    CHECK(memcmp(b, zero, sizeof b) == 0, "lv_wipe zeroes");
    uint8_t r1[32], r2[32];
    lv_random(r1, sizeof r1);
    lv_random(r2, sizeof r2);
    CHECK(memcmp(r1, r2, sizeof r1) != 0, "lv_random gives different bytes each call");
}

int main(void)
{
    test_sha256();
    test_hmac();
    test_hkdf();
    test_scrypt();
    test_seal_open();
    test_misc();
    return check_done();
}
