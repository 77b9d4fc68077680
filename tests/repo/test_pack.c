/* Codecs of the pack header, index objects and manifest envelopes: round trips through a real
 * (local, encrypted) repository, and the strict parsers' refusals - every truncation, overlaps, gaps,
 * out-of-range offsets and lengths, 64-bit wrap-around, unknown types, repeated ids, counts larger
 * than the input. */
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hex.h"
#include "crypto/crypto.h"
#include "repo/manifest.h"
#include "repo/blobstore.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/check.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static lv_repo *make_repo(const char *dir, lv_store **st_out)
{
    lv_store *st = NULL;
    lv_repo *r = NULL;
    lv_repo_params p;
    lv_repo_params_default(&p);
    p.scrypt_n = 1024;
    lv_credential cred = {.passphrase = "test pass"};
    if (lv_store_open(dir, NULL, &st) != LV_OK || lv_store_create(st) != LV_OK ||
        lv_repo_init(st, &p, &cred, &r) != LV_OK) {
        printf("Bail out! cannot create a repository in %s: %s\n", dir, lv_errmsg());
        exit(1);
    }
    *st_out = st;
    return r;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static int entries_eq(const lv_pack_entry *a, const lv_pack_entry *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].type != b[i].type || memcmp(a[i].id, b[i].id, LV_HASH_LEN) != 0 ||
            a[i].offset != b[i].offset || a[i].length != b[i].length || a[i].raw_length != b[i].raw_length)
            return 0;
    return 1;
}

/* A well-formed plaintext header of n entries with consecutive offsets; returns where blobs end. */
static uint64_t sample_entries(lv_pack_entry *e, uint32_t n)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        e[i].type = (uint8_t)(LV_BLOB_DATA + i % 3);
        fill(e[i].id, LV_HASH_LEN, i + 1);
        e[i].offset = off;
        e[i].length = 100 + i;
        e[i].raw_length = 200 + i;
        off += e[i].length;
    }
    return off;
}

static int parse_rc(const lv_pack_entry *e, uint32_t n, uint64_t end)
{
    lv_buf b = LV_BUF_INIT;
    lv_pack_header_encode(e, n, LV_PACK_VERSION, &b);
    lv_pack_entry *out = NULL;
    uint32_t cnt = 0;
    int rc = lv_pack_header_parse(b.data, b.len, end, &out, &cnt, NULL);
    free(out);
    lv_buf_free(&b);
    return rc;
}

static void header_tests(void)
{
    lv_pack_entry e[4], m[4];
    uint64_t end = sample_entries(e, 4);
    lv_buf b = LV_BUF_INIT;
    lv_pack_header_encode(e, 4, LV_PACK_VERSION, &b);
    CHECK(b.len == LV_PACK_HEADER_FIXED + 4 * LV_PACK_ENTRY_SIZE, "header: 9 + 49 bytes per entry");
    lv_pack_entry *out = NULL;
    uint32_t n = 0;
    uint8_t version = 0;
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, &version) == LV_OK && n == 4 &&
              version == 2 && b.data[4] == 2 && entries_eq(out, e, 4),
          "header: round trip, version 2");
    free(out);
    out = NULL;
    b.data[4] = 1;
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, &version) == LV_OK && n == 4 && version == 1 &&
              entries_eq(out, e, 4),
          "header: version 1 (the old naming) still parses and says so");
    free(out);
    b.data[4] = 2;

    int all = 1;
    for (size_t cut = 0; cut < b.len; cut++) {
        out = NULL;
        if (lv_pack_header_parse(b.data, cut, end, &out, &n, NULL) != LV_ERR_CORRUPT)
            all = 0;
        free(out);
    }
    CHECK(all, "header: every truncation is corrupt");
    lv_buf_append(&b, "", 1);
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT,
          "header: a trailing byte");
    b.len--;
    b.data[0] = 'X';
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT, "header: bad magic");
    b.data[0] = 'L';
    b.data[4] = 3;
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT, "header: version 3");
    b.data[4] = 0;
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT, "header: version 0");
    b.data[4] = 2;
    lv_le32_put(b.data + 5, 3);
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT,
          "header: count 3 with 4 entries of bytes");
    lv_le32_put(b.data + 5, 0xffffffffu);
    CHECK(lv_pack_header_parse(b.data, b.len, end, &out, &n, NULL) == LV_ERR_CORRUPT,
          "header: count 2^32-1");
    lv_buf_free(&b);
    CHECK(parse_rc(e, 0, 0) == LV_ERR_CORRUPT, "header: no entries");

    CHECK(parse_rc(e, 4, end - 1) == LV_ERR_CORRUPT, "header: last blob runs into the header");
    CHECK(parse_rc(e, 4, end + 1) == LV_ERR_CORRUPT, "header: a gap before the header");
    memcpy(m, e, sizeof e);
    m[2].offset -= 1;
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: overlapping blobs");
    CHECK(strstr(lv_errmsg(), "overlaps") != NULL, "header: ... says overlap (%s)", lv_errmsg());
    memcpy(m, e, sizeof e);
    m[1].offset += 1;
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: a gap between blobs");
    memcpy(m, e, sizeof e);
    m[0].offset = 1;
    CHECK(parse_rc(m, 1, 1 + m[0].length) == LV_ERR_CORRUPT, "header: first blob not at 0");
    memcpy(m, e, sizeof e);
    m[1].length = LV_SEALED_MIN - 1;
    CHECK(parse_rc(m, 2, m[0].length + m[1].length) == LV_ERR_CORRUPT,
          "header: sealed length below the overhead");
    memcpy(m, e, sizeof e);
    m[3].raw_length = LV_BLOB_MAX + 1;
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: raw length above LV_BLOB_MAX");
    memcpy(m, e, sizeof e);
    m[0].type = 0;
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: type 0");
    m[0].type = 4;
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: type 4");
    memcpy(m, e, sizeof e);
    memcpy(m[3].id, m[1].id, LV_HASH_LEN);
    CHECK(parse_rc(m, 4, end) == LV_ERR_CORRUPT, "header: the same id twice");
    /* Offsets that only look consistent modulo 2^64. */
    memcpy(m, e, sizeof e);
    m[0].offset = 0;
    m[0].length = 100;
    m[1].offset = UINT64_MAX - 50;
    CHECK(parse_rc(m, 2, UINT64_MAX) == LV_ERR_CORRUPT, "header: offset near 2^64");
    m[1].offset = 100;
    CHECK(parse_rc(m, 2, 150) == LV_ERR_CORRUPT, "header: end beyond blobs_end");

    uint8_t tail[4];
    uint32_t hl;
    lv_le32_put(tail, 100);
    CHECK(lv_pack_tail_parse(tail, 104, &hl, "p") == LV_OK && hl == 100, "tail: header fills the pack");
    CHECK(lv_pack_tail_parse(tail, 103, &hl, "p") == LV_ERR_CORRUPT, "tail: header longer than the pack");
    lv_le32_put(tail, 3);
    CHECK(lv_pack_tail_parse(tail, 1000, &hl, "p") == LV_ERR_CORRUPT, "tail: header below the overhead");
    CHECK(lv_pack_tail_parse(tail, 3, &hl, "p") == LV_ERR_CORRUPT, "tail: a 3-byte pack");

    uint8_t id[LV_HASH_LEN], back[LV_HASH_LEN];
    char key[LV_PACK_KEY_LEN];
    fill(id, sizeof id, 9);
    lv_pack_key(id, key);
    CHECK(strncmp(key, "data/", 5) == 0 && key[7] == '/' && strlen(key) == 72 &&
              lv_pack_key_parse(key, back) == 0 && memcmp(id, back, sizeof id) == 0,
          "pack key: data/<2>/<64> round trip (%s)", key);
    key[10] = 'A';
    CHECK(lv_pack_key_parse(key, back) != 0, "pack key: upper case refused");
    CHECK(lv_pack_key_parse("data/ab/ab", back) != 0, "pack key: short refused");
}

static void builder_tests(lv_repo *r)
{
    lv_pack_builder b;
    lv_pack_builder_init(&b, 0);
    enum { N = 2000 }; /* a header of ~98 KiB: more than the first tail GET */
    uint8_t ids[N][LV_HASH_LEN];
    for (int i = 0; i < N; i++) {
        uint8_t data[64], aad[1 + LV_HASH_LEN];
        fill(data, sizeof data, (uint32_t)i);
        size_t len = 8 + (size_t)(i % 56);
        lv_repo_blob_id(r, data, len, ids[i]);
        lv_blob_aad(LV_BLOB_TREE, ids[i], aad);
        lv_buf sealed = LV_BUF_INIT;
        lv_repo_seal(r, aad, sizeof aad, data, len, 1, &sealed);
        lv_pack_builder_add(&b, LV_BLOB_TREE, ids[i], sealed.data, sealed.len, (uint32_t)len);
        lv_buf_free(&sealed);
    }
    uint8_t pid[LV_HASH_LEN], want[LV_HASH_LEN];
    char key[LV_PACK_KEY_LEN];
    lv_pack_builder_finish(r, &b, pid);
    lv_buf hdr = LV_BUF_INIT;
    lv_pack_header_encode(b.entries, b.count, LV_PACK_VERSION, &hdr);
    lv_sha256(hdr.data, hdr.len, want);
    lv_buf_free(&hdr);
    CHECK(memcmp(pid, want, LV_HASH_LEN) == 0, "builder: the pack's name is the SHA-256 of its plaintext header");
    lv_pack_key(pid, key);
    CHECK(lv_store_put(r->store, key, b.data.data, b.data.len, LV_PUT_IF_ABSENT) == LV_OK,
          "builder: upload %s", key);
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    int rc = lv_pack_read_header(r, pid, b.data.len, &e, &n);
    CHECK(rc == LV_OK && n == N && entries_eq(e, b.entries, N),
          "builder: header read back from the tail (two GETs) equals what was built (%s)",
          rc ? lv_errmsg() : "ok");
    int good = 1;
    for (uint32_t i = 0; e && i < n && good; i++) {
        lv_buf plain = LV_BUF_INIT;
        uint8_t data[64];
        fill(data, sizeof data, i);
        good = lv_blob_open(r, e[i].type, e[i].id, b.data.data + e[i].offset, e[i].length,
                            e[i].raw_length, &plain, "blob") == LV_OK &&
               plain.len == 8 + i % 56 && memcmp(plain.data, data, plain.len) == 0;
        lv_buf_free(&plain);
    }
    CHECK(good, "builder: every blob opens at its offset and matches");
    if (e) {
        lv_buf plain = LV_BUF_INIT;
        CHECK(lv_blob_open(r, LV_BLOB_DATA, e[5].id, b.data.data + e[5].offset, e[5].length,
                           e[5].raw_length, &plain, "blob") == LV_ERR_CORRUPT,
              "builder: a blob opened as another type fails authentication");
        CHECK(lv_blob_open(r, e[5].type, e[6].id, b.data.data + e[5].offset, e[5].length,
                           e[5].raw_length, &plain, "blob") == LV_ERR_CORRUPT,
              "builder: a blob opened under another id fails authentication");
        lv_buf_free(&plain);
    }
    free(e);
    CHECK(lv_pack_read_header(r, pid, b.data.len - 1, &e, &n) != LV_OK, "builder: wrong size fails");
    uint8_t missing[LV_HASH_LEN] = {1};
    CHECK(lv_pack_read_header(r, missing, 5000, &e, &n) == LV_ERR_NOT_FOUND,
          "builder: missing pack is not-found");

    /* The same bytes stored under another name: the header no longer matches it. */
    uint8_t other[LV_HASH_LEN];
    char okey[LV_PACK_KEY_LEN];
    memcpy(other, pid, LV_HASH_LEN);
    other[LV_HASH_LEN - 1] ^= 1;
    lv_pack_key(other, okey);
    CHECK(lv_store_put(r->store, okey, b.data.data, b.data.len, 0) == LV_OK, "builder: upload under %s", okey);
    e = NULL;
    rc = lv_pack_read_header(r, other, b.data.len, &e, &n);
    CHECK(rc == LV_ERR_CORRUPT && e == NULL && strstr(lv_errmsg(), okey) && strstr(lv_errmsg(), "name"),
          "builder: a pack under another pack's name is corrupt, naming it (%s)", lv_errmsg());
    CHECK(lv_store_del(r->store, okey) == LV_OK, "builder: remove %s", okey);
    lv_pack_builder_free(&b);

    /* Version 1, the old format: named by the SHA-256 of the whole pack, still read. */
    lv_pack_builder_init(&b, 0);
    b.version = 1;
    for (int i = 0; i < 3; i++) {
        uint8_t data[64], aad[1 + LV_HASH_LEN];
        fill(data, sizeof data, (uint32_t)i + 100);
        lv_repo_blob_id(r, data, sizeof data, ids[i]);
        lv_blob_aad(LV_BLOB_DATA, ids[i], aad);
        lv_buf sealed = LV_BUF_INIT;
        lv_repo_seal(r, aad, sizeof aad, data, sizeof data, 1, &sealed);
        lv_pack_builder_add(&b, LV_BLOB_DATA, ids[i], sealed.data, sealed.len, sizeof data);
        lv_buf_free(&sealed);
    }
    lv_pack_builder_finish(r, &b, pid);
    lv_sha256(b.data.data, b.data.len, want);
    CHECK(memcmp(pid, want, LV_HASH_LEN) == 0, "builder v1: the name is the SHA-256 of the whole pack");
    lv_pack_key(pid, key);
    CHECK(lv_store_put(r->store, key, b.data.data, b.data.len, LV_PUT_IF_ABSENT) == LV_OK,
          "builder v1: upload %s", key);
    e = NULL;
    rc = lv_pack_read_header(r, pid, b.data.len, &e, &n);
    CHECK(rc == LV_OK && n == 3 && entries_eq(e, b.entries, 3), "builder v1: its header reads back (%s)",
          rc ? lv_errmsg() : "ok");
    free(e);
    lv_pack_builder_free(&b);
}

static void index_tests(lv_repo *r)
{
    lv_pack_entry e1[3], e2[2];
    uint64_t end1 = sample_entries(e1, 3);
    sample_entries(e2, 2);
    for (int i = 0; i < 2; i++)
        e2[i].id[0] ^= 0x80; /* distinct from e1's ids */
    lv_index_pack packs[2] = {{.size = end1 + 4000, .count = 3, .blobs = e1},
                              {.size = 10000, .count = 2, .blobs = e2}};
    fill(packs[0].id, LV_HASH_LEN, 100);
    fill(packs[1].id, LV_HASH_LEN, 101);
    uint8_t sup[1][LV_HASH_LEN];
    fill(sup[0], LV_HASH_LEN, 7);
    lv_index ix = {.nsupersedes = 1, .supersedes = sup, .npacks = 2, .packs = packs}, out;
    lv_buf b = LV_BUF_INIT;
    lv_index_encode(&ix, &b);
    int rc = lv_index_parse(b.data, b.len, &out);
    CHECK(rc == LV_OK && out.npacks == 2 && out.nsupersedes == 1 &&
              memcmp(out.supersedes[0], sup[0], LV_HASH_LEN) == 0 && out.packs[1].count == 2 &&
              entries_eq(out.packs[0].blobs, e1, 3) && out.packs[1].size == 10000,
          "index: round trip");
    lv_index_free(&out);
    int all = 1;
    for (size_t cut = 0; cut < b.len; cut++)
        if (lv_index_parse(b.data, cut, &out) != LV_ERR_CORRUPT)
            all = 0;
    CHECK(all, "index: every truncation is corrupt");
    lv_buf_append(&b, "x", 1);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_ERR_CORRUPT, "index: trailing byte");
    lv_buf_reset(&b);

    uint8_t huge[13] = {'L', 'V', 'I', 'X', 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    CHECK(lv_index_parse(huge, sizeof huge, &out) == LV_ERR_CORRUPT, "index: 2^32-1 packs in 13 bytes");
    huge[5] = 0xff;
    CHECK(lv_index_parse(huge, sizeof huge, &out) == LV_ERR_CORRUPT, "index: huge supersedes count");

    packs[1].blobs = e1; /* the same blobs in two packs */
    lv_index_encode(&ix, &b);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_ERR_CORRUPT, "index: a blob in two packs");
    lv_buf_reset(&b);
    packs[1].blobs = e2;
    memcpy(packs[1].id, packs[0].id, LV_HASH_LEN);
    lv_index_encode(&ix, &b);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_ERR_CORRUPT, "index: a pack listed twice");
    lv_buf_reset(&b);
    fill(packs[1].id, LV_HASH_LEN, 101);
    packs[0].size = end1 + 4 + 9 + 3 * 49; /* no room for the header */
    lv_index_encode(&ix, &b);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_ERR_CORRUPT, "index: blobs overlap the header");
    lv_buf_reset(&b);
    packs[0].size = end1 + 4000;
    e1[1].offset++;
    lv_index_encode(&ix, &b);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_ERR_CORRUPT, "index: a gap between blobs");
    lv_buf_reset(&b);
    e1[1].offset--;
    ix.npacks = 0;
    ix.nsupersedes = 0;
    lv_index_encode(&ix, &b);
    CHECK(lv_index_parse(b.data, b.len, &out) == LV_OK && out.npacks == 0, "index: empty is valid");
    lv_index_free(&out);
    lv_buf_free(&b);

    ix.npacks = 2;
    uint8_t id[LV_HASH_LEN];
    CHECK(lv_index_write(r, &ix, id) == LV_OK, "index: write");
    CHECK(lv_index_write(r, &ix, id) == LV_OK, "index: writing it again is fine");
    rc = lv_index_read(r, id, &out);
    CHECK(rc == LV_OK && out.npacks == 2, "index: read back (%s)", rc ? lv_errmsg() : "ok");
    lv_index_free(&out);
    char key[LV_INDEX_KEY_LEN];
    lv_index_key(id, key);
    lv_buf obj = LV_BUF_INIT;
    lv_store_get(r->store, key, 0, 0, &obj);
    obj.data[obj.len / 2] ^= 1;
    lv_store_put(r->store, key, obj.data, obj.len, 0);
    CHECK(lv_index_read(r, id, &out) == LV_ERR_CORRUPT && strstr(lv_errmsg(), key),
          "index: a flipped byte is corrupt, naming it (%s)", lv_errmsg());
    lv_buf_free(&obj);
}

static void manifest_tests(lv_repo *r)
{
    lv_buf b = LV_BUF_INIT;
    lv_manifest m;
    lv_manifest_encode("pg", 1700000000, "{\"a\":1}", "BODY", 4, &b);
    int rc = lv_manifest_parse(b.data, b.len, &m);
    CHECK(rc == LV_OK && strcmp(m.kind, "pg") == 0 && m.time == 1700000000 &&
              strcmp(m.summary, "{\"a\":1}") == 0 && m.body_len == 4 && memcmp(m.body, "BODY", 4) == 0,
          "manifest: round trip");
    lv_manifest_free(&m);
    int all = 1;
    for (size_t cut = 0; cut < b.len; cut++)
        if (lv_manifest_parse(b.data, cut, &m) != LV_ERR_CORRUPT)
            all = 0;
    CHECK(all, "manifest: every truncation is corrupt");
    lv_buf_reset(&b);
    lv_manifest_encode("pg", 1, "{}", NULL, 0, &b);
    CHECK(lv_manifest_parse(b.data, b.len, &m) == LV_OK && m.body == NULL && m.body_len == 0,
          "manifest: empty body");
    lv_manifest_free(&m);
    b.data[14] = 'P';
    CHECK(lv_manifest_parse(b.data, b.len, &m) == LV_ERR_CORRUPT, "manifest: upper-case kind");
    lv_buf_reset(&b);
    lv_manifest_encode("pg", 1, "{\"x\":\"ab\"}", NULL, 0, &b);
    b.data[b.len - 12] = '\0';
    CHECK(lv_manifest_parse(b.data, b.len, &m) == LV_ERR_CORRUPT, "manifest: NUL in the summary");
    lv_buf_free(&b);

    char id[65];
    CHECK(lv_manifest_write(r, "Bad Kind", 0, "{}", NULL, 0, id) == LV_ERR_USAGE,
          "manifest: invalid kind refused");
    CHECK(lv_manifest_write(r, "files", 42, "{\"n\":2}", "xyz", 3, id) == LV_OK, "manifest: write");
    rc = lv_manifest_read(r, id, &m);
    CHECK(rc == LV_OK && strcmp(m.kind, "files") == 0 && m.time == 42 &&
              strcmp(m.summary, "{\"n\":2}") == 0 && m.body_len == 3 && strcmp(m.id, id) == 0,
          "manifest: read back (%s)", rc ? lv_errmsg() : "ok");
    lv_manifest_free(&m);
    char other[65];
    memset(other, 'a', 64);
    other[64] = 0;
    CHECK(lv_manifest_read(r, other, &m) == LV_ERR_NOT_FOUND, "manifest: a missing one is not-found");
    CHECK(lv_manifest_read(r, "../config", &m) == LV_ERR_USAGE, "manifest: a bad id is refused");
}

int main(void)
{
    char dir[] = "/tmp/lvpack-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    lv_store *st;
    lv_repo *r = make_repo(dir, &st);
    header_tests();
    builder_tests(r);
    index_tests(r);
    manifest_tests(r);
    lv_repo_close(r);
    lv_store_close(st);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
