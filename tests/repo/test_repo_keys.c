/* Repository config and keys through the local store driver: init, open with each kind of credential,
 * key add/list/remove and their refusals, a changed or malformed config, the downgrade guard, and object
 * sealing (compression choice, corruption detection, the decompression bound) for encrypted and
 * unencrypted repositories. Tests use scrypt N=1024 so that they run in milliseconds. */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "crypto/crypto.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/check.h"

#define PASS1 "correct horse battery staple"
#define PASS2 "second passphrase"

static char base[64];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static lv_store *store_at(const char *name)
{
    char *path = lv_xasprintf("%s/%s", base, name);
    lv_store *st = NULL;
    if (lv_store_open(path, NULL, &st) != LV_OK || lv_store_create(st) != LV_OK) {
        printf("# cannot open store %s: %s\n", path, lv_errmsg());
        exit(2);
    }
    free(path);
    return st;
}

static void small_params(lv_repo_params *p)
{
    lv_repo_params_default(p);
    p->scrypt_n = 1024;
}

/* Replace the first occurrence of from with to (same length) in the file name under the store dir. */
static int edit_file(const char *store, const char *file, const char *from, const char *to)
{
    char *path = lv_xasprintf("%s/%s/%s", base, store, file);
    lv_buf b = LV_BUF_INIT;
    int ok = lv_read_file(path, &b) == LV_OK;
    char *hit = ok ? memmem(b.data, b.len, from, strlen(from)) : NULL;
    if (hit) {
        memcpy(hit, to, strlen(to));
        ok = lv_write_file_atomic(path, b.data, b.len, 0644, 0) == LV_OK;
    }
    lv_buf_free(&b);
    free(path);
    return ok && hit;
}

typedef struct key_tally {
    int n, current, scrypt, keyfile;
    char current_id[65], other_scrypt[65], keyfile_id[65];
} key_tally;

static int tally_cb(void *arg, const lv_key_info *k)
{
    key_tally *t = arg;
    t->n++;
    if (k->current) {
        t->current++;
        memcpy(t->current_id, k->id, 65);
    }
    if (strcmp(k->kdf, "scrypt") == 0) {
        t->scrypt++;
        if (!k->current)
            memcpy(t->other_scrypt, k->id, 65);
    } else if (strcmp(k->kdf, "keyfile") == 0) {
        t->keyfile++;
        memcpy(t->keyfile_id, k->id, 65);
    }
    return 0;
}

static void test_keys(void)
{
    lv_store *st = store_at("enc");
    lv_repo_params p;
    small_params(&p);
    lv_credential c1 = {.passphrase = PASS1}, c2 = {.passphrase = PASS2}, bad = {.passphrase = "wrong"}, none = {0};
    lv_repo *r = NULL, *r2 = NULL;

    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_OK && r && r->key_id[0], "init with a passphrase");
    char id_hex[33] = "";
    if (r)
        memcpy(id_hex, r->id_hex, 33);
    lv_repo_close(r);
    r = NULL;
    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_ERR_CONFLICT && !r, "second init: LV_ERR_CONFLICT (%s)",
          lv_errmsg());

    double t0 = now_ms();
    CHECK(lv_repo_open(st, &c1, &r) == LV_OK && r, "open with the right passphrase");
    printf("# open with scrypt N=1024 r=8: %.1f ms\n", now_ms() - t0);
    if (!r)
        exit(check_done());
    CHECK(strcmp(r->id_hex, id_hex) == 0 && r->params.encrypted == 1 && r->params.pack_size == 16u << 20 &&
          r->params.chunk_avg == 1u << 20 && r->params.compress_level == 3 && r->params.scrypt_n == 1024,
          "open reads back id, parameters and the key's scrypt N");

    CHECK(lv_repo_open(st, &bad, &r2) == LV_ERR_AUTH && !r2 && strstr(lv_errmsg(), "no key"),
          "wrong passphrase: LV_ERR_AUTH (%s)", lv_errmsg());
    CHECK(lv_repo_open(st, &none, &r2) == LV_ERR_AUTH && strstr(lv_errmsg(), "encrypted"),
          "no credential: LV_ERR_AUTH (%s)", lv_errmsg());
    CHECK(lv_repo_open(st, NULL, &r2) == LV_ERR_AUTH, "NULL credential: LV_ERR_AUTH");

    /* A second passphrase and a key file. */
    char kid2[65] = "", kid3[65] = "";
    CHECK(lv_repo_key_add(r, &c2, kid2) == LV_OK && strlen(kid2) == 64, "add a second passphrase");
    char *kf = lv_xasprintf("%s/keyfile", base), *kf_short = lv_xasprintf("%s/short", base);
    char *kf_other = lv_xasprintf("%s/other", base);
    uint8_t rnd[64];
    lv_random(rnd, sizeof rnd);
    lv_write_file_atomic(kf, rnd, sizeof rnd, 0600, 0);
    lv_write_file_atomic(kf_short, rnd, 31, 0600, 0);
    rnd[0] ^= 1;
    lv_write_file_atomic(kf_other, rnd, sizeof rnd, 0600, 0);
    lv_credential ck = {.key_file = kf}, cshort = {.key_file = kf_short}, cother = {.key_file = kf_other};
    CHECK(lv_repo_key_add(r, &ck, kid3) == LV_OK && strlen(kid3) == 64, "add a key file");
    CHECK(lv_repo_key_add(r, &cshort, NULL) == LV_ERR_CONFIG, "a 31-byte key file is refused: config (%s)",
          lv_errmsg());
    lv_credential cshort_flag = {.key_file = kf_short, .key_file_code = LV_ERR_USAGE, .key_file_origin = "flag --key-file"};
    CHECK(lv_repo_key_add(r, &cshort_flag, NULL) == LV_ERR_USAGE && strstr(lv_errmsg(), "from flag --key-file"),
          "... usage when the caller says it came from a flag, and the message names it (%s)", lv_errmsg());
    lv_credential both = {.passphrase = PASS1, .key_file = kf};
    CHECK(lv_repo_key_add(r, &both, NULL) == LV_ERR_USAGE, "adding with both kinds at once is refused");
    lv_credential empty = {.passphrase = ""};
    CHECK(lv_repo_key_add(r, &empty, NULL) == LV_ERR_USAGE, "an empty passphrase is refused");

    CHECK(lv_repo_open(st, &c2, &r2) == LV_OK && strcmp(r2->key_id, kid2) == 0,
          "open with the second passphrase");
    lv_repo_close(r2);
    r2 = NULL;
    CHECK(lv_repo_open(st, &ck, &r2) == LV_OK && strcmp(r2->key_id, kid3) == 0, "open with the key file");
    uint8_t a[32], b[32];
    lv_repo_blob_id(r, "x", 1, a);
    if (r2)
        lv_repo_blob_id(r2, "x", 1, b);
    CHECK(r2 && memcmp(a, b, 32) == 0 && memcmp(r->enc_key, r2->enc_key, 32) == 0,
          "every key unwraps the same master secret");
    lv_repo_close(r2);
    r2 = NULL;
    CHECK(lv_repo_open(st, &cother, &r2) == LV_ERR_AUTH, "a different key file: LV_ERR_AUTH");
    CHECK(lv_repo_open(st, &cshort, &r2) == LV_ERR_CONFIG, "a short key file on open: LV_ERR_CONFIG");
    char *kf_missing = lv_xasprintf("%s/missing", base);
    lv_credential cmissing = {.key_file = kf_missing, .key_file_origin = "/etc/labvault/labvault.conf:3"};
    CHECK(lv_repo_open(st, &cmissing, &r2) == LV_ERR_CONFIG && strstr(lv_errmsg(), "does not exist") &&
          strstr(lv_errmsg(), "labvault.conf:3"), "a missing key file on open: LV_ERR_CONFIG, naming where it was set (%s)",
          lv_errmsg());
    free(kf_missing);

    key_tally t = {0};
    CHECK(lv_repo_key_list(r, tally_cb, &t) == LV_OK && t.n == 3 && t.current == 1 && t.scrypt == 2 &&
          t.keyfile == 1 && strcmp(t.current_id, r->key_id) == 0,
          "key list: 3 keys (2 scrypt, 1 key file), the one in use flagged");

    CHECK(lv_repo_key_remove(r, r->key_id) == LV_ERR_USAGE && strstr(lv_errmsg(), "in use"),
          "removing the key in use: LV_ERR_USAGE (%s)", lv_errmsg());
    CHECK(lv_repo_key_remove(r, "0000000000") == LV_ERR_NOT_FOUND, "removing an unknown key: not found");
    char prefix[13];
    memcpy(prefix, kid2, 12);
    prefix[12] = '\0';
    CHECK(lv_repo_key_remove(r, prefix) == LV_OK, "remove the second passphrase by id prefix");
    CHECK(lv_repo_open(st, &c2, &r2) == LV_ERR_AUTH, "the removed passphrase no longer opens");

    /* Last key: the key-file handle removes the first passphrase; then neither handle may remove the
     * one key left, whichever of them holds it. */
    CHECK(lv_repo_open(st, &ck, &r2) == LV_OK, "open with the key file again");
    CHECK(r2 && lv_repo_key_remove(r2, r->key_id) == LV_OK, "key-file handle removes the first passphrase");
    CHECK(lv_repo_key_remove(r, kid3) == LV_ERR_USAGE && strstr(lv_errmsg(), "last"),
          "removing the last key: LV_ERR_USAGE (%s)", lv_errmsg());
    lv_repo *r3 = NULL;
    CHECK(lv_repo_open(st, &c1, &r3) == LV_ERR_AUTH && !r3, "the removed first passphrase no longer opens");
    lv_repo_close(r2);
    lv_repo_close(r);
    lv_store_close(st);
    free(kf);
    free(kf_short);
    free(kf_other);
}

static void test_config_damage(void)
{
    lv_store *st = store_at("cfg");
    lv_repo_params p;
    small_params(&p);
    lv_credential c1 = {.passphrase = PASS1};
    lv_repo *r = NULL;
    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_OK, "init a repository to damage");
    char id_hex[33] = "0000";
    if (r)
        memcpy(id_hex, r->id_hex, 33);
    lv_repo_close(r);
    r = NULL;

    /* A changed value that still parses: only the MAC can notice. */
    CHECK(edit_file("cfg", "config", "pack-size = 16777216", "pack-size = 26777216"), "edit pack-size");
    CHECK(lv_repo_open(st, &c1, &r) == LV_ERR_CORRUPT && !r && strstr(lv_errmsg(), "config"),
          "changed byte: LV_ERR_CORRUPT naming config (%s)", lv_errmsg());
    edit_file("cfg", "config", "pack-size = 26777216", "pack-size = 16777216");
    CHECK(lv_repo_open(st, &c1, &r) == LV_OK, "restored config opens");
    lv_repo_close(r);
    r = NULL;

    /* A changed repository id: the key still unwraps, the config does not verify. */
    char from[16], to[16];
    snprintf(from, sizeof from, "\nid = %.4s", id_hex);
    snprintf(to, sizeof to, "\nid = %c%.3s", id_hex[0] == '0' ? '1' : '0', id_hex + 1);
    CHECK(edit_file("cfg", "config", from, to), "edit the repository id");
    int rc = lv_repo_open(st, &c1, &r);
    CHECK(rc == LV_ERR_CORRUPT || rc == LV_ERR_AUTH, "changed id: refused (%d: %s)", rc, lv_errmsg());
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "config"), "changed id: LV_ERR_CORRUPT naming config");

    lv_store_close(st);
    st = store_at("cfg2");
    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_OK, "init another repository");
    lv_repo_close(r);
    r = NULL;
    CHECK(edit_file("cfg2", "config", "chunk-min = ", "chunk-min : "), "break a line's syntax");
    CHECK(lv_repo_open(st, &c1, &r) == LV_ERR_CORRUPT && strstr(lv_errmsg(), "config line"),
          "malformed line: LV_ERR_CORRUPT naming config and the line (%s)", lv_errmsg());
    edit_file("cfg2", "config", "chunk-min : ", "chunk-min = ");
    CHECK(edit_file("cfg2", "config", "format = 2", "format = 7"), "set format 7");
    CHECK(lv_repo_open(st, &c1, &r) == LV_ERR_CONFIG && strstr(lv_errmsg(), "formats 1 to 2"),
          "unknown format: LV_ERR_CONFIG saying which formats this build reads (%s)", lv_errmsg());
    edit_file("cfg2", "config", "format = 7", "format = 2");
    CHECK(edit_file("cfg2", "config", "\nmac = ", "\nmac - "), "break the mac line");
    CHECK(lv_repo_open(st, &c1, &r) == LV_ERR_CORRUPT, "broken mac line: LV_ERR_CORRUPT (%s)",
          lv_errmsg());
    edit_file("cfg2", "config", "\nmac - ", "\nmac = ");
    CHECK(lv_repo_open(st, &c1, &r) == LV_OK, "restored config opens");
    lv_repo_close(r);
    lv_store_close(st);

    st = store_at("nothing");
    CHECK(lv_repo_open(st, &c1, &r) == LV_ERR_NOT_FOUND && strstr(lv_errmsg(), "not a labvault"),
          "no config: LV_ERR_NOT_FOUND (%s)", lv_errmsg());
    p.pack_size = 1u << 20;
    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_ERR_CONFIG, "init with a 1 MiB pack size: LV_ERR_CONFIG");
    small_params(&p);
    CHECK(lv_repo_init(st, &p, NULL, &r) == LV_ERR_USAGE, "encrypted init without credential: usage");
    lv_store_close(st);
}

/* Seal plain, check the sealed size, unseal and compare. */
static int round_trip(const lv_repo *r, const void *plain, size_t n, int compress, size_t *sealed_len)
{
    lv_buf s = LV_BUF_INIT, out = LV_BUF_INIT;
    lv_repo_seal(r, "aad", 3, plain, n, compress, &s);
    *sealed_len = s.len;
    int ok = lv_repo_unseal(r, "aad", 3, s.data, s.len, &out, "blob t") == LV_OK && out.len == n &&
             (n == 0 || memcmp(out.data, plain, n) == 0);
    lv_buf_free(&s);
    lv_buf_free(&out);
    return ok;
}

static void test_sealing(lv_repo *r, const char *label)
{
    size_t over = r->params.encrypted ? LV_SEAL_OVERHEAD : LV_HASH_LEN; /* + 1 codec byte */
    size_t n = 1u << 20, len = 0;
    uint8_t *text = lv_xmalloc(n), *rnd = lv_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = (uint8_t)"labvault compresses this line well.\n"[i % 36];
    lv_random(rnd, n);

    CHECK(round_trip(r, text, n, 1, &len) && len < n / 10, "%s: compressible 1 MiB round-trips, sealed "
          "%zu bytes", label, len);
    CHECK(round_trip(r, rnd, n, 1, &len) && len == n + 1 + over,
          "%s: incompressible data is stored raw (sealed %zu = n + 1 + %zu)", label, len, over);
    CHECK(round_trip(r, text, n, 0, &len) && len == n + 1 + over, "%s: compress=0 stores raw", label);
    CHECK(round_trip(r, "", 0, 1, &len) && len == 1 + over, "%s: empty plaintext round-trips", label);

    lv_buf s = LV_BUF_INIT, out = LV_BUF_INIT;
    lv_repo_seal(r, "aad", 3, text, 4096, 1, &s);
    int all = 1;
    for (size_t i = 0; i < s.len; i++) {
        s.data[i] ^= 0x20;
        lv_buf_reset(&out);
        if (lv_repo_unseal(r, "aad", 3, s.data, s.len, &out, "blob t") != LV_ERR_CORRUPT || out.len != 0 ||
            !strstr(lv_errmsg(), "blob t"))
            all = 0;
        s.data[i] ^= 0x20;
    }
    CHECK(all, "%s: a flipped bit at any of the %zu positions is LV_ERR_CORRUPT naming the object", label,
          s.len);
    CHECK(lv_repo_unseal(r, "aaX", 3, s.data, s.len, &out, "blob t") == LV_ERR_CORRUPT,
          "%s: wrong associated data is LV_ERR_CORRUPT", label);
    CHECK(lv_repo_unseal(r, "aad", 3, s.data, s.len - 1, &out, "blob t") == LV_ERR_CORRUPT,
          "%s: truncated is LV_ERR_CORRUPT", label);
    CHECK(lv_repo_unseal(r, "aad", 3, s.data, 5, &out, "blob t") == LV_ERR_CORRUPT,
          "%s: 5 bytes is LV_ERR_CORRUPT", label);

    /* A zstd frame that announces 600 MiB: refused from its header, before any allocation. */
    uint8_t frame[1 + 4 + 1 + 8 + 3 + 1] = {1, 0x28, 0xb5, 0x2f, 0xfd, 0xe0};
    uint64_t big = (uint64_t)600 << 20;
    for (int i = 0; i < 8; i++)
        frame[6 + i] = (uint8_t)(big >> (8 * i));
    frame[14] = 0x03 | (0x10 << 3); /* last block, RLE, 16 bytes ... */
    frame[15] = 0;
    frame[16] = 0;
    frame[17] = 'A';
    lv_buf_reset(&s);
    if (r->params.encrypted) {
        lv_seal(r->enc_key, "aad", 3, frame, sizeof frame, &s);
    } else {
        uint8_t sum[LV_HASH_LEN];
        lv_buf tmp = LV_BUF_INIT;
        lv_buf_append(&tmp, "aad", 3);
        lv_buf_append(&tmp, frame, sizeof frame);
        lv_sha256(tmp.data, tmp.len, sum);
        lv_buf_free(&tmp);
        lv_buf_append(&s, frame, sizeof frame);
        lv_buf_append(&s, sum, sizeof sum);
    }
    lv_buf_reset(&out);
    CHECK(lv_repo_unseal(r, "aad", 3, s.data, s.len, &out, "bomb") == LV_ERR_CORRUPT &&
          strstr(lv_errmsg(), "announces"), "%s: a frame announcing 600 MiB is refused (%s)", label,
          lv_errmsg());
    frame[0] = 7;
    lv_buf_reset(&s);
    if (r->params.encrypted) {
        lv_seal(r->enc_key, "aad", 3, frame, sizeof frame, &s);
        CHECK(lv_repo_unseal(r, "aad", 3, s.data, s.len, &out, "x") == LV_ERR_CORRUPT &&
              strstr(lv_errmsg(), "codec"), "%s: an unknown codec byte is refused", label);
    }
    lv_buf_free(&s);
    lv_buf_free(&out);
    free(text);
    free(rnd);
}

static void test_encrypted_sealing(void)
{
    lv_store *st = store_at("seal");
    lv_repo_params p;
    small_params(&p);
    lv_credential c1 = {.passphrase = PASS1};
    lv_repo *r = NULL;
    CHECK(lv_repo_init(st, &p, &c1, &r) == LV_OK, "init an encrypted repository");
    if (r) {
        uint8_t a[32], h[32];
        lv_repo_blob_id(r, "hello", 5, a);
        lv_sha256("hello", 5, h);
        CHECK(memcmp(a, h, 32) != 0, "encrypted: blob id is keyed (not plain SHA-256)");
        test_sealing(r, "encrypted");
    }
    lv_repo_close(r);
    lv_store_close(st);
}

static void test_unencrypted(void)
{
    lv_store *st = store_at("plain");
    lv_repo_params p;
    small_params(&p);
    p.encrypted = 0;
    lv_repo *r = NULL;
    CHECK(lv_repo_init(st, &p, NULL, &r) == LV_OK && r && r->key_id[0] == '\0',
          "init an unencrypted repository (explicit choice, no credential)");
    lv_repo_close(r);
    r = NULL;
    CHECK(lv_repo_open(st, NULL, &r) == LV_OK && r && r->params.encrypted == 0,
          "open it without a credential");
    if (!r)
        return;
    uint8_t a[32], h[32];
    lv_repo_blob_id(r, "hello", 5, a);
    lv_sha256("hello", 5, h);
    CHECK(memcmp(a, h, 32) == 0, "unencrypted: blob id is SHA-256");
    lv_credential c2 = {.passphrase = PASS2};
    CHECK(lv_repo_key_add(r, &c2, NULL) == LV_ERR_USAGE, "unencrypted: key add is a usage error");
    test_sealing(r, "unencrypted");
    lv_repo_close(r);
    r = NULL;

    CHECK(edit_file("plain", "config", "chunk-max = 4194304", "chunk-max = 4194305"), "edit chunk-max");
    CHECK(lv_repo_open(st, NULL, &r) == LV_ERR_CORRUPT && strstr(lv_errmsg(), "config"),
          "unencrypted config changed: LV_ERR_CORRUPT naming config (%s)", lv_errmsg());
    edit_file("plain", "config", "chunk-max = 4194305", "chunk-max = 4194304");

    /* Downgrade: an unencrypted config put in place of an encrypted repository's. */
    lv_store *enc = store_at("downgrade");
    lv_repo_params pe;
    small_params(&pe);
    lv_credential c1 = {.passphrase = PASS1};
    CHECK(lv_repo_init(enc, &pe, &c1, &r) == LV_OK, "init an encrypted repository");
    lv_repo_close(r);
    r = NULL;
    lv_buf cfg = LV_BUF_INIT;
    lv_store_get(st, "config", 0, 0, &cfg);
    char *path = lv_xasprintf("%s/downgrade/config", base);
    lv_write_file_atomic(path, cfg.data, cfg.len, 0644, 0);
    free(path);
    lv_buf_free(&cfg);
    CHECK(lv_repo_open(enc, &c1, &r) == LV_ERR_CORRUPT && strstr(lv_errmsg(), "downgrade"),
          "an unencrypted config next to keys/ is refused (%s)", lv_errmsg());
    lv_store_close(enc);
    lv_store_close(st);
}

static void test_default_cost(void)
{
    uint8_t out[LV_KEY_LEN];
    lv_repo_params p;
    lv_repo_params_default(&p);
    double t0 = now_ms();
    int rc = lv_scrypt(PASS1, strlen(PASS1), (const uint8_t *)"salt", 4, p.scrypt_n, p.scrypt_r,
                       p.scrypt_p, out);
    printf("# scrypt at the defaults (N=%llu r=%u p=%u, %llu MiB): %.1f ms\n",
           (unsigned long long)p.scrypt_n, p.scrypt_r, p.scrypt_p,
           (unsigned long long)(128 * p.scrypt_n * p.scrypt_r >> 20), now_ms() - t0);
    CHECK(rc == LV_OK, "scrypt runs at the default parameters");
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/lv-repo-keys-XXXXXX");
    if (!mkdtemp(base))
        return 2;
    test_keys();
    test_config_damage();
    test_encrypted_sealing();
    test_unencrypted();
    test_default_cost();
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
