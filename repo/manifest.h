/* Manifest objects: one per PostgreSQL backup or file snapshot, the commit point of the command that
 * writes it.
 *
 *   manifests/<64 hex>   the name is the SHA-256 of the stored object
 *
 * Stored as lv_repo_seal(plaintext, aad = "labvault manifest", compressed). Plaintext:
 *   "LVMF" | version (1 byte, = 1) | time (8 LE, signed unix seconds: end of the backup)
 *   | kind length (1) | kind            [a-z0-9_-], 1..15 bytes ("pg", "files")
 *   | summary length (4 LE) | summary   JSON text shown in listings, no NUL, at most 1 MiB
 *   | body length (8 LE) | body         kind-specific bytes, at most LV_MANIFEST_BODY_MAX
 * and nothing after. The envelope does not interpret the body; each kind defines it (and large lists
 * belong in tree blobs that the body references, not in the body itself).
 *
 * Write order: a manifest is written only after lv_packer_flush returned for every blob it references,
 * so a manifest that exists never references a blob that does not. The create-only upload is the
 * commit point; the catalog row is added after it.
 *
 * Blob references: repo check verifies that every blob a manifest references is indexed. Only the kind
 * knows how to find them in its body, so each kind registers a function (repo/registry.h) at
 * startup; manifests of unregistered kinds are checked for readability only. Likewise for the WAL a
 * manifest needs (lv_manifest_register_wal), which the WAL archive's check looks for. */
#ifndef LV_REPO_MANIFEST_H
#define LV_REPO_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "repo/object.h"
#include "repo/repo.h"


#define LV_MANIFEST_VERSION 1
#define LV_MANIFEST_AAD "labvault manifest"
#define LV_MANIFEST_KIND_MAX 15
#define LV_MANIFEST_SUMMARY_MAX (1u << 20)
#define LV_MANIFEST_BODY_MAX ((uint64_t)256 << 20)
#define LV_MANIFEST_KEY_LEN 75 /* "manifests/" + 64 hex + NUL */

typedef struct lv_manifest {
    char id[2 * LV_HASH_LEN + 1];          /* set by lv_manifest_read/write; "" after parse */
    char kind[LV_MANIFEST_KIND_MAX + 1];
    int64_t time;
    char *summary;                         /* NUL-terminated JSON text, owned */
    uint8_t *body;                         /* owned; NULL when body_len is 0 */
    size_t body_len;
} lv_manifest;

void lv_manifest_key(const char id_hex[2 * LV_HASH_LEN + 1], char key[LV_MANIFEST_KEY_LEN]);
int lv_manifest_key_parse(const char *key, char id_hex[2 * LV_HASH_LEN + 1]); /* 0 or -1 */
int lv_manifest_kind_valid(const char *kind);

/* Plaintext encoding, appended to out (arguments must be valid, see above). */
void lv_manifest_encode(const char *kind, int64_t time, const char *summary_json, const void *body,
                        size_t body_len, lv_buf *out);
/* Strict parse: exact layout, valid kind, lengths within bounds and within the input, no NUL in the
 * summary, nothing left over. LV_ERR_CORRUPT otherwise. On success *m owns its strings (free with
 * lv_manifest_free); on failure *m is zeroed. Fuzzable: reads only [buf, buf+len). */
int lv_manifest_parse(const uint8_t *buf, size_t len, lv_manifest *m);
void lv_manifest_free(lv_manifest *m);

/* Seal and upload manifests/<id> (create-only), then add it to the catalog (r->cat, if attached).
 * time 0 means now. summary_json NULL means "{}". LV_ERR_USAGE for an invalid kind or a summary or
 * body above the bounds. id_out receives the 64-hex id. */
int lv_manifest_write(lv_repo *r, const char *kind, int64_t time, const char *summary_json,
                      const void *body, size_t body_len, char id_out[2 * LV_HASH_LEN + 1]);

/* Download, verify SHA-256 against the name, unseal, parse. LV_ERR_NOT_FOUND if there is no such
 * manifest; LV_ERR_CORRUPT if it is damaged. */
int lv_manifest_read(const lv_repo *r, const char *id_hex, lv_manifest *m);

/* The object type (repo/object.h): manifests/<hex id>, named by its SHA-256, sealed with
 * LV_MANIFEST_AAD. */
extern const lv_obj_type lv_obj_manifest;

/* Blob references of a manifest kind, for repo check: call emit(emit_arg, id) for every blob the
 * manifest needs (duplicates are fine). Return LV_OK, or an error if the body is malformed (reported
 * as a problem of that manifest) - a non-zero return of emit must be passed back unchanged. */
typedef int (*lv_manifest_emit_fn)(void *emit_arg, const uint8_t id[LV_HASH_LEN]);
typedef int (*lv_manifest_refs_fn)(const lv_repo *r, const lv_manifest *m, lv_manifest_emit_fn emit,
                                   void *emit_arg);

#endif
