/* Index objects: which blob lives in which pack, at which offset.
 *
 *   index/<64 hex>   the name is the SHA-256 of the stored object
 *
 * Stored as lv_repo_seal(plaintext, aad = "labvault index", compressed). Plaintext:
 *   "LVIX" | version (1 byte, = 1)
 *   | nsupersedes (4 LE) | nsupersedes * index id (32)      index objects this one replaces (prune)
 *   | npacks (4 LE) | npacks * pack
 *   pack = id (32) | size (8 LE, bytes of the whole pack object) | count (4 LE) | count * entry
 *   entry = the 49-byte pack header entry (repo/pack.h)
 *
 * An index is a cache of pack headers: everything in it can be recomputed by reading the tail of each
 * pack (maint/rebuild.c does when an index is lost). The catalog holds the union of all index
 * objects, so no command needs every index in RAM.
 *
 * Write order (as in restic): a pack is uploaded and durable before any index names it, and an index is
 * durable before any manifest references a blob in it. Whoever crashes in between leaves only
 * unreferenced objects behind, never a reference to something missing.
 *
 * Parser contract: lv_index_parse accepts only what lv_index_encode writes: exact length, known
 * version, counts bounded by the bytes that remain (checked before anything is allocated), every
 * pack's entries valid for a pack of its size (lv_pack_entries_check, leaving room for the header and
 * its length field), no pack, superseded index or blob id listed twice. Anything else is
 * LV_ERR_CORRUPT. Fuzzed by tests/fuzz/fuzz_index.c. */
#ifndef LV_REPO_INDEX_H
#define LV_REPO_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "repo/object.h"
#include "repo/pack.h"

struct lv_catalog;

#define LV_INDEX_VERSION 1
#define LV_INDEX_AAD "labvault index"
#define LV_INDEX_KEY_LEN 71 /* "index/" + 64 hex + NUL */

typedef struct lv_index_pack {
    uint8_t id[LV_HASH_LEN];
    uint64_t size;
    uint32_t count;
    lv_pack_entry *blobs;   /* count entries in offset order */
} lv_index_pack;

typedef struct lv_index {
    uint32_t nsupersedes;
    uint8_t (*supersedes)[LV_HASH_LEN];
    uint32_t npacks;
    lv_index_pack *packs;
} lv_index;

void lv_index_key(const uint8_t id[LV_HASH_LEN], char key[LV_INDEX_KEY_LEN]);
int lv_index_key_parse(const char *key, uint8_t id[LV_HASH_LEN]);   /* 0, or -1 if not an index key */

/* Plaintext encoding, appended to out. */
void lv_index_encode(const lv_index *ix, lv_buf *out);
/* Strict parse (see above). On success *out owns its arrays (lv_index_free); on failure *out is
 * zeroed. */
int lv_index_parse(const uint8_t *buf, size_t len, lv_index *out);
void lv_index_free(lv_index *ix);

/* The object type (repo/object.h): index/<hex id>, named by its SHA-256, sealed with LV_INDEX_AAD. */
extern const lv_obj_type lv_obj_index;

/* Seal and upload (create-only; an identical object already there is success) and return its id. */
int lv_index_write(const lv_repo *r, const lv_index *ix, uint8_t id_out[LV_HASH_LEN]);
/* Download, check the SHA-256 against the name, unseal and parse. */
int lv_index_read(const lv_repo *r, const uint8_t id[LV_HASH_LEN], lv_index *out);

/* Record an index, its packs and their blobs in the catalog. The caller brackets it in a catalog
 * transaction (lv_catalog_begin/commit), so a crash leaves all of it or none. */
int lv_index_record(struct lv_catalog *c, const uint8_t id[LV_HASH_LEN], const lv_index *ix);

#endif
