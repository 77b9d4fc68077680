#include "repo/pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/hex.h"
#include "repo/repo.h"

/* zstd can grow incompressible input by a little (ZSTD_compressBound is n + n/256 + 64 KiB-ish for
 * tiny inputs); the repository's sealing adds a fixed frame. Anything longer was not written by us. */
#define LV_SEALED_MAX ((uint64_t)LV_BLOB_MAX + LV_BLOB_MAX / 128 + 4096)

int lv_blob_type_valid(unsigned type)
{
    return type == LV_BLOB_DATA || type == LV_BLOB_TREE || type == LV_BLOB_META;
}

const char *lv_blob_type_name(unsigned type)
{
    switch (type) {
    case LV_BLOB_DATA: return "data";
    case LV_BLOB_TREE: return "tree";
    case LV_BLOB_META: return "meta";
    default: return "invalid";
    }
}

void lv_blob_aad(uint8_t type, const uint8_t id[LV_HASH_LEN], uint8_t aad[1 + LV_HASH_LEN])
{
    aad[0] = type;
    memcpy(aad + 1, id, LV_HASH_LEN);
}

void lv_pack_key(const uint8_t id[LV_HASH_LEN], char key[LV_PACK_KEY_LEN])
{
    char hex[2 * LV_HASH_LEN + 1];
    lv_hex_encode(id, LV_HASH_LEN, hex);
    memcpy(key, "data/", 5);
    memcpy(key + 5, hex, 2);
    key[7] = '/';
    memcpy(key + 8, hex, sizeof hex); /* includes the NUL */
}

int lv_pack_key_parse(const char *key, uint8_t id[LV_HASH_LEN])
{
    if (strlen(key) != LV_PACK_KEY_LEN - 1 || strncmp(key, "data/", 5) != 0 || key[7] != '/' ||
        key[5] != key[8] || key[6] != key[9])
        return -1;
    uint8_t tmp[LV_HASH_LEN];
    if (lv_hex_decode(key + 8, tmp, LV_HASH_LEN) != 0)
        return -1;
    /* Only the canonical lower-case spelling names a pack, so one pack has exactly one key. */
    char canon[LV_PACK_KEY_LEN];
    lv_pack_key(tmp, canon);
    if (strcmp(canon, key) != 0)
        return -1;
    memcpy(id, tmp, LV_HASH_LEN);
    return 0;
}

void lv_pack_entry_encode(const lv_pack_entry *e, uint8_t out[LV_PACK_ENTRY_SIZE])
{
    out[0] = e->type;
    memcpy(out + 1, e->id, LV_HASH_LEN);
    lv_le64_put(out + 33, e->offset);
    lv_le32_put(out + 41, e->length);
    lv_le32_put(out + 45, e->raw_length);
}

void lv_pack_entry_decode(const uint8_t in[LV_PACK_ENTRY_SIZE], lv_pack_entry *e)
{
    e->type = in[0];
    memcpy(e->id, in + 1, LV_HASH_LEN);
    e->offset = lv_le64_get(in + 33);
    e->length = lv_le32_get(in + 41);
    e->raw_length = lv_le32_get(in + 45);
}

void lv_pack_header_encode(const lv_pack_entry *e, uint32_t n, uint8_t version, lv_buf *out)
{
    uint8_t fixed[LV_PACK_HEADER_FIXED];
    memcpy(fixed, "LVPK", 4);
    fixed[4] = version;
    lv_le32_put(fixed + 5, n);
    lv_buf_reserve(out, LV_PACK_HEADER_FIXED + (size_t)n * LV_PACK_ENTRY_SIZE);
    lv_buf_append(out, fixed, sizeof fixed);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t w[LV_PACK_ENTRY_SIZE];
        lv_pack_entry_encode(&e[i], w);
        lv_buf_append(out, w, sizeof w);
    }
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }

int lv_pack_entries_check(const lv_pack_entry *e, uint32_t n, uint64_t limit, uint64_t *end,
                          const char *what)
{
    uint64_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!lv_blob_type_valid(e[i].type))
            return lv_err(LV_ERR_CORRUPT, "%s: entry %u has unknown blob type %u", what, i, e[i].type);
        if (e[i].length < LV_SEALED_MIN || e[i].length > LV_SEALED_MAX)
            return lv_err(LV_ERR_CORRUPT, "%s: entry %u has impossible sealed length %u", what, i,
                          e[i].length);
        if (e[i].raw_length > LV_BLOB_MAX)
            return lv_err(LV_ERR_CORRUPT, "%s: entry %u has raw length %u above the %u limit", what, i,
                          e[i].raw_length, LV_BLOB_MAX);
        if (e[i].offset != pos)
            return lv_err(LV_ERR_CORRUPT, "%s: entry %u at offset %llu %s previous blob (ends at %llu)",
                          what, i, (unsigned long long)e[i].offset,
                          e[i].offset < pos ? "overlaps the" : "leaves a gap after the",
                          (unsigned long long)pos);
        /* Written as a subtraction so no sum can wrap. */
        if (e[i].offset > limit || e[i].length > limit - e[i].offset)
            return lv_err(LV_ERR_CORRUPT, "%s: entry %u (offset %llu, length %u) runs past the blob area "
                          "(%llu bytes)", what, i, (unsigned long long)e[i].offset, e[i].length,
                          (unsigned long long)limit);
        pos = e[i].offset + e[i].length;
    }
    if (n > 1) {
        uint8_t(*ids)[LV_HASH_LEN] = lv_xmalloc((size_t)n * LV_HASH_LEN);
        for (uint32_t i = 0; i < n; i++)
            memcpy(ids[i], e[i].id, LV_HASH_LEN);
        lv_sort(ids, n, LV_HASH_LEN, cmp_id);
        int dup = 0;
        for (uint32_t i = 1; i < n && !dup; i++)
            dup = memcmp(ids[i - 1], ids[i], LV_HASH_LEN) == 0;
        free(ids);
        if (dup)
            return lv_err(LV_ERR_CORRUPT, "%s: the same blob id appears twice", what);
    }
    *end = pos;
    return LV_OK;
}

int lv_pack_header_parse(const uint8_t *buf, size_t len, uint64_t blobs_end, lv_pack_entry **entries,
                         uint32_t *count, uint8_t *version)
{
    const char *what = "pack header";
    if (len < LV_PACK_HEADER_FIXED)
        return lv_err(LV_ERR_CORRUPT, "%s: %zu bytes is too short", what, len);
    if (memcmp(buf, "LVPK", 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: bad magic", what);
    if (buf[4] < LV_PACK_VERSION_MIN || buf[4] > LV_PACK_VERSION)
        return lv_err(LV_ERR_CORRUPT, "%s: unsupported version %u", what, buf[4]);
    uint32_t n = lv_le32_get(buf + 5);
    if (n == 0 || n > LV_PACK_MAX_BLOBS)
        return lv_err(LV_ERR_CORRUPT, "%s: impossible blob count %u", what, n);
    if ((uint64_t)len != LV_PACK_HEADER_FIXED + (uint64_t)n * LV_PACK_ENTRY_SIZE)
        return lv_err(LV_ERR_CORRUPT, "%s: %u entries need %llu bytes, got %zu", what, n,
                      (unsigned long long)(LV_PACK_HEADER_FIXED + (uint64_t)n * LV_PACK_ENTRY_SIZE), len);
    lv_pack_entry *e = lv_xmalloc((size_t)n * sizeof *e);
    for (uint32_t i = 0; i < n; i++)
        lv_pack_entry_decode(buf + LV_PACK_HEADER_FIXED + (size_t)i * LV_PACK_ENTRY_SIZE, &e[i]);
    uint64_t end = 0;
    int rc = lv_pack_entries_check(e, n, blobs_end, &end, what);
    if (rc == LV_OK && end != blobs_end)
        rc = lv_err(LV_ERR_CORRUPT, "%s: blobs end at %llu but the header starts at %llu", what,
                    (unsigned long long)end, (unsigned long long)blobs_end);
    if (rc != LV_OK) {
        free(e);
        return rc;
    }
    *entries = e;
    *count = n;
    if (version)
        *version = buf[4];
    return LV_OK;
}

int lv_pack_tail_parse(const uint8_t tail[LV_PACK_TAIL], uint64_t pack_size, uint32_t *header_len,
                       const char *what)
{
    if (pack_size < LV_PACK_TAIL + LV_SEALED_MIN)
        return lv_err(LV_ERR_CORRUPT, "%s: %llu bytes is too short to be a pack", what,
                      (unsigned long long)pack_size);
    uint32_t hl = lv_le32_get(tail);
    if (hl < LV_SEALED_MIN || hl > pack_size - LV_PACK_TAIL)
        return lv_err(LV_ERR_CORRUPT, "%s: header length %u does not fit a %llu-byte pack (truncated?)",
                      what, hl, (unsigned long long)pack_size);
    *header_len = hl;
    return LV_OK;
}

int lv_pack_header_open(const struct lv_repo *r, const uint8_t *sealed, size_t n, uint64_t blobs_end,
                        lv_pack_entry **entries, uint32_t *count, lv_pack_naming *naming, const char *what)
{
    lv_buf plain = LV_BUF_INIT;
    uint8_t version = 0;
    int rc = lv_repo_unseal(r, LV_PACK_HEADER_AAD, strlen(LV_PACK_HEADER_AAD), sealed, n, &plain, what);
    if (rc == LV_OK) {
        rc = lv_pack_header_parse(plain.data, plain.len, blobs_end, entries, count, &version);
        if (rc != LV_OK)
            lv_err_ctx("%s", what);
    }
    if (rc == LV_OK && naming) {
        memset(naming, 0, sizeof *naming);
        naming->version = version;
        if (version >= 2)
            lv_sha256(plain.data, plain.len, naming->name);
    }
    lv_buf_free(&plain);
    return rc;
}

/* Large enough for the header of a pack of 1 MiB blobs many times over, small enough to be one cheap
 * request. Packs of tiny blobs need the second GET. */
#define TAIL_GUESS (64u << 10)

int lv_pack_read_header(const struct lv_repo *r, const uint8_t id[LV_HASH_LEN], uint64_t pack_size,
                        lv_pack_entry **entries, uint32_t *count)
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(id, key);
    if (pack_size < LV_PACK_TAIL + LV_SEALED_MIN)
        return lv_err(LV_ERR_CORRUPT, "pack %s: %llu bytes is too short to be a pack", key,
                      (unsigned long long)pack_size);
    uint64_t guess = pack_size < TAIL_GUESS ? pack_size : TAIL_GUESS;
    lv_buf tail = LV_BUF_INIT, more = LV_BUF_INIT;
    int rc = lv_store_get(r->store, key, pack_size - guess, guess, &tail);
    if (rc != LV_OK) {
        lv_err_ctx("reading the header of pack %s", key);
        goto out;
    }
    if (tail.len != guess) {
        rc = lv_err(LV_ERR_CORRUPT, "pack %s: short read of the header", key);
        goto out;
    }
    uint32_t hl;
    rc = lv_pack_tail_parse(tail.data + guess - LV_PACK_TAIL, pack_size, &hl, key);
    if (rc != LV_OK)
        goto out;
    uint64_t blobs_end = pack_size - LV_PACK_TAIL - hl;
    const uint8_t *sealed;
    if ((uint64_t)hl + LV_PACK_TAIL <= guess) {
        sealed = tail.data + guess - LV_PACK_TAIL - hl;
    } else {
        rc = lv_store_get(r->store, key, blobs_end, hl, &more);
        if (rc != LV_OK) {
            lv_err_ctx("reading the header of pack %s", key);
            goto out;
        }
        if (more.len != hl) {
            rc = lv_err(LV_ERR_CORRUPT, "pack %s: short read of the header", key);
            goto out;
        }
        sealed = more.data;
    }
    char what[LV_PACK_KEY_LEN + 16];
    snprintf(what, sizeof what, "header of pack %s", key);
    lv_pack_naming nm;
    rc = lv_pack_header_open(r, sealed, hl, blobs_end, entries, count, &nm, what);
    if (rc == LV_OK && nm.version >= 2 && memcmp(nm.name, id, LV_HASH_LEN) != 0) {
        free(*entries);
        *entries = NULL;
        *count = 0;
        rc = lv_err(LV_ERR_CORRUPT, "pack %s: its header does not hash to its name (a pack stored under "
                    "another pack's name?)", key);
    }
out:
    lv_buf_free(&tail);
    lv_buf_free(&more);
    return rc;
}

void lv_pack_builder_init(lv_pack_builder *b, size_t reserve)
{
    memset(b, 0, sizeof *b);
    b->version = LV_PACK_VERSION;
    if (reserve)
        lv_buf_reserve(&b->data, reserve);
}

static void add_entry(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN], uint64_t offset,
                      size_t n, uint32_t raw_length)
{
    if (b->count == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 32;
        b->entries = lv_xrealloc(b->entries, (size_t)b->cap * sizeof *b->entries);
    }
    lv_pack_entry *e = &b->entries[b->count++];
    e->type = type;
    memcpy(e->id, id, LV_HASH_LEN);
    e->offset = offset;
    e->length = (uint32_t)n;
    e->raw_length = raw_length;
    b->raw_bytes += raw_length;
}

uint8_t *lv_pack_builder_reserve(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN], size_t n,
                                 uint32_t raw_length)
{
    add_entry(b, type, id, b->placed + b->data.len, n, raw_length);
    lv_buf_reserve(&b->data, n);
    uint8_t *dst = b->data.data + b->data.len;
    b->data.len += n;
    return dst;
}

uint64_t lv_pack_builder_place(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN], size_t n,
                               uint32_t raw_length)
{
    uint64_t off = b->placed;
    add_entry(b, type, id, off, n, raw_length);
    b->placed += n;
    return off;
}

void lv_pack_builder_add(lv_pack_builder *b, uint8_t type, const uint8_t id[LV_HASH_LEN],
                         const void *sealed, size_t n, uint32_t raw_length)
{
    memcpy(lv_pack_builder_reserve(b, type, id, n, raw_length), sealed, n);
}

void lv_pack_builder_finish(const struct lv_repo *r, lv_pack_builder *b, uint8_t id[LV_HASH_LEN])
{
    lv_buf plain = LV_BUF_INIT;
    lv_pack_header_encode(b->entries, b->count, b->version, &plain);
    size_t before = b->data.len;
    /* Uncompressed: the header is mostly random ids, and its size must be predictable for readers. */
    lv_repo_seal(r, LV_PACK_HEADER_AAD, strlen(LV_PACK_HEADER_AAD), plain.data, plain.len, 0, &b->data);
    uint8_t len[LV_PACK_TAIL];
    lv_le32_put(len, (uint32_t)(b->data.len - before));
    lv_buf_append(&b->data, len, sizeof len);
    if (b->version >= 2)
        lv_sha256(plain.data, plain.len, id);
    else
        lv_sha256(b->data.data, b->data.len, id);
    lv_buf_free(&plain);
}

void lv_pack_builder_reset(lv_pack_builder *b)
{
    lv_buf_reset(&b->data);
    b->placed = 0;
    b->count = 0;
    b->raw_bytes = 0;
}

void lv_pack_builder_free(lv_pack_builder *b)
{
    lv_buf_free(&b->data);
    free(b->entries);
    memset(b, 0, sizeof *b);
}
