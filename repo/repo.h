/* The repository: configuration, keys, and the open handle every command works through.
 *
 * Objects (docs/repository-format.md has the full format and the reasons):
 *   config          plaintext "key = value" lines: format version, repository id, encryption and
 *                   compression choice, pack size, chunker parameters; the last line "mac = <hex>" is
 *                   HMAC-SHA256 under the config-MAC subkey (encrypted repositories) so a changed byte
 *                   is detected once a key has opened the repository.
 *   keys/<id>       "key = value" lines: kdf (scrypt or keyfile), its parameters and salt, and the
 *                   master secret sealed (AES-256-GCM) under the key the KDF derives; host, user, created.
 * The master secret is 32 random bytes. Subkeys are derived from it with HKDF-SHA256:
 *   enc_key   "labvault v1 encrypt"   AES-256-GCM for blobs, pack headers, index and manifests
 *   id_key    "labvault v1 blob-id"   blob id = HMAC-SHA256(id_key, plaintext)
 *   chunk_key "labvault v1 chunker"   seeds the FastCDC gear table (boundaries leak nothing)
 *   mac_key   "labvault v1 config"    authenticates config
 * An unencrypted repository (explicit choice at init) has no keys/; its blob ids are plain SHA-256 and
 * its seal/open steps only frame the data with a SHA-256 checksum, so corruption is still detected.
 *
 * Contract: lv_repo_open() fails with LV_ERR_NOT_FOUND (no config: not a repository), LV_ERR_CORRUPT
 * (malformed config), LV_ERR_AUTH (no key accepts the credential), LV_ERR_UNREACHABLE (store down).
 * The handle is read-only after open and may be shared between threads, except r->cat, whose own
 * contract (catalog/catalog.h) applies. */
#ifndef LV_REPO_REPO_H
#define LV_REPO_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "store/store.h"

struct lv_catalog;

/* The format `repo init` writes. Format 2 adds the plaintext sums of blob frames (codecs 2 and 3), which
 * a labvault that reads format 1 only would meet as "unknown codec 2" in the middle of a restore: it
 * refuses the config instead, at open. A format-1 repository stays format 1 and gets no sums, so that
 * every labvault that shares it can still read all of it (docs/repository-format.md, section 3). */
#define LV_REPO_FORMAT 2
#define LV_REPO_FORMAT_OLDEST 1
#define LV_REPO_ID_LEN 16

typedef struct lv_credential {
    const char *passphrase; /* NUL-terminated, or NULL */
    const char *key_file;   /* path of a key file (random bytes, at least 32), or NULL */
    /* How to report a key file that is missing or has the wrong size: the code (0 = LV_ERR_CONFIG;
     * LV_ERR_USAGE when it was a command-line flag) and where it was set ("FILE:LINE", "environment
     * VAR", "flag --key-file"; NULL = say nothing), so the message and the exit code name the source. */
    int key_file_code;
    const char *key_file_origin;
} lv_credential;

typedef struct lv_repo_params {
    int format;             /* the config's format: LV_REPO_FORMAT for a new repository */
    int encrypted;          /* 1 unless the user explicitly chose an unencrypted repository */
    int compress_level;     /* zstd level, default 3; 0 = store blobs uncompressed */
    uint64_t pack_size;     /* target pack size, default 16 MiB, allowed 4 MiB .. 256 MiB */
    uint32_t chunk_min, chunk_avg, chunk_max; /* FastCDC: 256 KiB / 1 MiB / 4 MiB */
    uint64_t scrypt_n;      /* default 32768 (2^15), r 8, p 1 */
    uint32_t scrypt_r, scrypt_p;
} lv_repo_params;

typedef struct lv_repo {
    lv_store *store;               /* borrowed: the caller closes it after lv_repo_close */
    struct lv_catalog *cat;        /* borrowed, attached by the caller after open; may be NULL */
    uint8_t id[LV_REPO_ID_LEN];
    char id_hex[2 * LV_REPO_ID_LEN + 1];
    lv_repo_params params;
    char key_id[65];               /* hex id of the key that opened it ("" when unencrypted) */
    uint8_t enc_key[LV_KEY_LEN], id_key[LV_KEY_LEN], chunk_key[LV_KEY_LEN], mac_key[LV_KEY_LEN];
    uint8_t master[LV_KEY_LEN];    /* the master secret the subkeys come from; only lv_repo_key_add
                                      uses it (to wrap it under a new key). Never use it directly. */
} lv_repo;

/* Defaults listed above. */
void lv_repo_params_default(lv_repo_params *p);

/* Write config (create-only: an existing repository is never overwritten, LV_ERR_CONFLICT) and the
 * first key; return the open handle. cred is ignored when params->encrypted == 0. */
int lv_repo_init(lv_store *st, const lv_repo_params *params, const lv_credential *cred, lv_repo **out);
int lv_repo_open(lv_store *st, const lv_credential *cred, lv_repo **out);
void lv_repo_close(lv_repo *r);          /* wipes the key material */

/* Keys. add: a new keys/<id> wrapping the same master secret. remove: refuses the last remaining key
 * and the key this handle was opened with (LV_ERR_USAGE). */
typedef struct lv_key_info {
    char id[65];
    char kdf[16];
    char host[256];
    char user[64];
    char created[32];    /* RFC 3339 UTC */
    int current;         /* 1 for the key that opened this handle */
} lv_key_info;
int lv_repo_key_add(lv_repo *r, const lv_credential *cred, char id_out[65]);
int lv_repo_key_list(const lv_repo *r, int (*cb)(void *arg, const lv_key_info *k), void *arg);
int lv_repo_key_remove(lv_repo *r, const char *id);
/* For repo check: keys/<id> is intact (its SHA-256 is its name, it parses). LV_ERR_CORRUPT naming it,
 * LV_ERR_NOT_FOUND, or the store's code. */
int lv_repo_key_verify(lv_repo *r, const char *id);

/* Blob id of plaintext: HMAC-SHA256(id_key, data), or SHA-256 when unencrypted. */
void lv_repo_blob_id(const lv_repo *r, const void *data, size_t n, uint8_t id[LV_HASH_LEN]);

/* A blob's plaintext sum: XXH3-128 (canonical, big-endian), taken from the bytes the blob id was computed
 * from and sealed in the blob's frame. A restore compares it with the plaintext it decoded: that proves
 * the bytes it writes are the bytes hashed at backup time (a fault anywhere between: the packer's copy,
 * compression, storage, decompression) at a fortieth of the cost of recomputing the keyed id. Not a
 * defence against forgery: the frame's AES-GCM tag, whose associated data is the id, is that. */
#define LV_PLAIN_SUM_LEN 16
void lv_repo_plain_sum(const void *data, size_t n, uint8_t sum[LV_PLAIN_SUM_LEN]);

/* Object sealing shared by blobs, pack headers, index and manifest objects:
 * plaintext -> [1 byte codec: 0 raw, 1 zstd; 2 and 3 the same with the plaintext's sum after the codec
 * byte] + payload -> AES-256-GCM with aad (or, unencrypted,
 * payload + SHA-256 of it). compress=0 skips zstd (already-compressed or tiny data).
 * lv_repo_unseal verifies before decompressing. Once a key has opened the repository, a tag that does
 * not verify means the bytes changed, so it returns LV_ERR_CORRUPT naming `what`; the wrong-key case is
 * caught earlier, at key unwrap in lv_repo_open (LV_ERR_AUTH). */
void lv_repo_seal(const lv_repo *r, const void *aad, size_t aad_len, const void *plain, size_t n,
                  int compress, lv_buf *out);
int lv_repo_unseal(const lv_repo *r, const void *aad, size_t aad_len, const void *sealed, size_t n,
                   lv_buf *out, const char *what);
/* The same, decrypting in place (sealed is the caller's and is overwritten): no second copy of a large
 * object in memory (an archived WAL segment, wal/archive.c). */
int lv_repo_unseal_in_place(const lv_repo *r, const void *aad, size_t aad_len, uint8_t *sealed, size_t n,
                            lv_buf *out, const char *what);
/* lv_repo_unseal, and *summed = 1 when the frame carried a plaintext sum, which then matched the plaintext
 * (a sum that does not is LV_ERR_CORRUPT). */
int lv_repo_unseal_summed(const lv_repo *r, const void *aad, size_t aad_len, const void *sealed, size_t n,
                          lv_buf *out, const char *what, int *summed);

/* The same sealing in two steps, for a writer that places the sealed bytes itself (the packer seals
 * straight into its pack buffer, sparing a copy of every blob). lv_repo_seal_prepare compresses into
 * scratch when compress is set and it pays, and fills plan, which points into plain or scratch: keep
 * both alive and unchanged until lv_repo_seal_to. lv_repo_seal_size is then the exact sealed length,
 * and lv_repo_seal_to writes exactly that many bytes to dst. */
typedef struct lv_seal_plan {
    uint8_t head[1 + LV_PLAIN_SUM_LEN]; /* codec byte, then the plaintext's sum when there is one */
    size_t head_len;
    const uint8_t *payload;
    size_t len;
} lv_seal_plan;
/* sum: NULL, or the plaintext's lv_repo_plain_sum, sealed with it (blobs: see lv_repo_unseal_summed) when
 * the repository's format has sums (2 and later; a format-1 repository gets the frame without it). */
void lv_repo_seal_prepare(const lv_repo *r, const void *plain, size_t n, int compress,
                          const uint8_t sum[LV_PLAIN_SUM_LEN], lv_buf *scratch, lv_seal_plan *plan);
size_t lv_repo_seal_size(const lv_repo *r, const lv_seal_plan *plan);
void lv_repo_seal_to(const lv_repo *r, const void *aad, size_t aad_len, const lv_seal_plan *plan, uint8_t *dst);

#endif
