/* Pack files: many sealed blobs back to back, then their sealed header, then the header's length.
 *
 *   data/<2 hex>/<64 hex>   the name is the SHA-256 of the plaintext header (version 2; version 1 packs,
 *                           still read, are named by the SHA-256 of the whole object)
 *
 *   blob_1 || ... || blob_n || sealed_header || header_len (4 bytes, little endian)
 *
 * blob_i    lv_repo_seal(plaintext, aad = type byte || 32-byte blob id). Binding type and id into the
 *           tag means a blob cannot be moved to another id or type without failing authentication.
 * header    lv_repo_seal(plaintext header, aad = "labvault pack header", uncompressed):
 *             "LVPK" | version (1 byte, 2; 1 is still read) | count (4 LE) | count * entry
 *             entry = type (1) | id (32) | offset (8 LE) | sealed length (4 LE) | raw length (4 LE)
 *           (49 bytes per entry). The entries tile [0, header start) exactly, in offset order.
 * header_len  length of the sealed header. The header sits at the end so a pack can be streamed out
 *           blob by blob, and one ranged GET of the tail (size known from a listing) reads it back.
 *
 * Why the name hashes the header, not the whole pack: the header lists every blob's id, which is the
 * keyed hash of its plaintext, and each blob's seal binds its bytes to that id, so the header's hash
 * commits to the pack's whole content like a hash tree, for 49 bytes hashed per blob instead of every
 * byte a second time (the blob ids are the first pass). Checking it needs the key; every stored byte
 * is still authenticated (docs/repository-format.md 7.2).
 *
 * Contract of the parser: lv_pack_header_parse accepts only what lv_pack_builder writes. Anything
 * else - wrong magic or version, a count that does not match the length, an unknown type, a sealed
 * length below the sealing overhead, a raw length above LV_BLOB_MAX, entries that overlap, leave gaps,
 * are out of order, run past the header, overflow 64 bits, or repeat an id - is LV_ERR_CORRUPT.
 * It reads only the bytes it is given and allocates at most what the length allows (fuzzed:
 * tests/fuzz/fuzz_pack_header.c). */
#ifndef LV_REPO_PACK_H
#define LV_REPO_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"

struct lv_repo;

enum { LV_BLOB_DATA = 1, LV_BLOB_TREE = 2, LV_BLOB_META = 3 };

#define LV_PACK_VERSION 2      /* written */
#define LV_PACK_VERSION_MIN 1  /* oldest still read */
#define LV_PACK_HEADER_FIXED 9  /* magic, version, count */
#define LV_PACK_ENTRY_SIZE 49
#define LV_PACK_TAIL 4          /* header length field */
#define LV_PACK_HEADER_AAD "labvault pack header"
/* The smallest sealed object lv_repo_seal can produce (codec byte + AES-GCM overhead; the unencrypted
 * framing is larger). Used to reject lengths no writer can have produced. */
#define LV_SEALED_MIN (LV_SEAL_OVERHEAD + 1)
/* Largest plaintext blob. Chunks are at most 4 MiB; the cap keeps a forged raw length from making a
 * reader allocate gigabytes, and keeps sealed lengths far inside 32 bits. */
#define LV_BLOB_MAX (64u << 20)
/* Largest blob count in one pack header: keeps a header under 4 GiB and a hostile count cheap. */
#define LV_PACK_MAX_BLOBS (1u << 22)
/* "data/ab/" + 64 hex + NUL */
#define LV_PACK_KEY_LEN 73

typedef struct lv_pack_entry {
    uint8_t type;
    uint8_t id[LV_HASH_LEN];
    uint64_t offset;      /* from the start of the pack */
    uint32_t length;      /* sealed bytes in the pack */
    uint32_t raw_length;  /* plaintext bytes */
} lv_pack_entry;

int lv_blob_type_valid(unsigned type);
const char *lv_blob_type_name(unsigned type);     /* "data", "tree", "meta", "invalid" */

/* Associated data of a blob's seal: type || id. */
void lv_blob_aad(uint8_t type, const uint8_t id[LV_HASH_LEN], uint8_t aad[1 + LV_HASH_LEN]);

/* "data/ab/ab12..." for a pack id; parse the reverse (0 on success, -1 when key is not a pack key). */
void lv_pack_key(const uint8_t id[LV_HASH_LEN], char key[LV_PACK_KEY_LEN]);
int lv_pack_key_parse(const char *key, uint8_t id[LV_HASH_LEN]);

/* One 49-byte wire entry (shared with index objects). decode does not validate. */
void lv_pack_entry_encode(const lv_pack_entry *e, uint8_t out[LV_PACK_ENTRY_SIZE]);
void lv_pack_entry_decode(const uint8_t in[LV_PACK_ENTRY_SIZE], lv_pack_entry *e);

/* Plaintext header of n entries in the given format version, appended to out. */
void lv_pack_header_encode(const lv_pack_entry *e, uint32_t n, uint8_t version, lv_buf *out);

/* Strict parse of a plaintext header. blobs_end is where the sealed header starts in the pack (the
 * entries must end exactly there). On success *entries (malloc'ed, caller frees; NULL when count is
 * 0), *count and *version (may be NULL) are set; on failure they are untouched and LV_ERR_CORRUPT is
 * returned. */
int lv_pack_header_parse(const uint8_t *buf, size_t len, uint64_t blobs_end, lv_pack_entry **entries,
                         uint32_t *count, uint8_t *version);

/* What a pack's header says about the pack's name. */
typedef struct lv_pack_naming {
    uint8_t version;           /* the header's format version */
    uint8_t name[LV_HASH_LEN]; /* version >= 2: SHA-256 of the plaintext header, which is the pack's name.
                                * version 1: zero; the name is the SHA-256 of the whole pack, which only
                                * a caller holding all of it can check. */
} lv_pack_naming;

/* Check a list of entries against the invariants above: valid types and lengths, offsets that tile
 * [0, end) in order without gaps or overlaps, end <= limit, no repeated id. *end receives where the
 * last blob ends (a pack header then also requires end == header start; an index, which does not know
 * the exact header size, only the bound). what names the object in errors. */
int lv_pack_entries_check(const lv_pack_entry *e, uint32_t n, uint64_t limit, uint64_t *end,
                          const char *what);

/* Header length from the last 4 bytes of a pack of pack_size bytes; LV_ERR_CORRUPT when it cannot
 * fit. */
int lv_pack_tail_parse(const uint8_t tail[LV_PACK_TAIL], uint64_t pack_size, uint32_t *header_len,
                       const char *what);

/* Unseal and parse a header (sealed bytes as stored); blobs_end as for lv_pack_header_parse. naming
 * (may be NULL) receives the version and the name the header implies; comparing it with the name the
 * pack is stored under is the caller's business (lv_pack_read_header does). */
int lv_pack_header_open(const struct lv_repo *r, const uint8_t *sealed, size_t n, uint64_t blobs_end,
                        lv_pack_entry **entries, uint32_t *count, lv_pack_naming *naming, const char *what);

/* Read the header of a stored pack of pack_size bytes: one ranged GET of the tail (a second one only
 * when the header is larger than the first guess). A missing pack is LV_ERR_NOT_FOUND; a version 2
 * header that does not hash to id (a pack stored under another pack's name) is LV_ERR_CORRUPT. */
int lv_pack_read_header(const struct lv_repo *r, const uint8_t id[LV_HASH_LEN], uint64_t pack_size,
                        lv_pack_entry **entries, uint32_t *count);

/* Builder: accumulates sealed blobs in memory and appends the header. Not thread-safe. A streamed pack
 * (its blobs written straight to the store, repo/blobstore.c) uses it for the entries only: its blobs are
 * placed (lv_pack_builder_place), not stored in data, and finish then leaves in data just the tail to
 * write after them (sealed header and its length). */
typedef struct lv_pack_builder {
    uint8_t version; /* LV_PACK_VERSION after init; tests set 1 to write the old format */
    lv_buf data;
    uint64_t placed; /* bytes of the blobs placed outside data */
    lv_pack_entry *entries;
    uint32_t count, cap;
    uint64_t raw_bytes;
} lv_pack_builder;

void lv_pack_builder_init(lv_pack_builder *b, size_t reserve);
/* Append one sealed blob (as returned by lv_repo_seal with lv_blob_aad). */
void lv_pack_builder_add(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN],
                         const void *sealed, size_t n, uint32_t raw_length);
/* Append the entry of a sealed blob of n bytes and return where its bytes go (b->data.len grows by n
 * now); the caller writes them (lv_repo_seal_to) before finishing the pack. The pointer stays valid
 * while b->data is not reallocated: with b->data.cap - b->data.len > n beforehand, this call does not
 * reallocate, so several threads can fill reserved places while one of them reserves the next. */
uint8_t *lv_pack_builder_reserve(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN], size_t n,
                                 uint32_t raw_length);
/* Append the entry of a sealed blob of n bytes that the caller writes elsewhere, after the blobs placed
 * before it; returns its offset in the pack. Only on a builder whose data is empty (no blob added). */
uint64_t lv_pack_builder_place(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN], size_t n,
                               uint32_t raw_length);
/* The pack's size so far: blobs placed or added, and the tail once finished. */
static inline uint64_t lv_pack_builder_size(const lv_pack_builder *b) { return b->placed + b->data.len; }
/* Seal and append the header and its length. After this, b->data holds the complete pack, and id its
 * name (the SHA-256 of the plaintext header; of the whole pack for version 1). */
void lv_pack_builder_finish(const struct lv_repo *r, lv_pack_builder *b, uint8_t id[LV_HASH_LEN]);
/* Forget the blobs and the tail, keeping the memory, for the next pack. */
void lv_pack_builder_reset(lv_pack_builder *b);
void lv_pack_builder_free(lv_pack_builder *b);

/* Little-endian wire helpers shared by the pack, index and manifest codecs. */
static inline void lv_le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lv_le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t lv_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t lv_le64_get(const uint8_t *p)
{
    return (uint64_t)lv_le32_get(p) | (uint64_t)lv_le32_get(p + 4) << 32;
}

#endif
