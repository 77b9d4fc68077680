/* repo/object: one object layer for every sealed, named object. A hashed object is named by its bytes and
 * refused under another name; a named object's seal binds the name when its type says so; create-only
 * types never overwrite, replacing types do; listings say which keys are not names of the type; index
 * objects and manifests written through their modules are objects of their types. Encrypted and not. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "repo/index.h"
#include "repo/manifest.h"
#include "repo/object.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/check.h"

static int two_digits(const char *name) { return strlen(name) == 2; }

static const lv_obj_type hashed = {.prefix = "things/", .aad = "labvault test thing", .hashed = 1, .compress = 1};
static const lv_obj_type named = {.prefix = "notes/", .aad = "labvault test note ", .aad_name = 1,
                                  .name_ok = two_digits};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

typedef struct seen {
    int names, foreign;
} seen;

static int count(void *arg, const char *key, const char *name, uint64_t size)
{
    (void)key, (void)size;
    seen *s = arg;
    if (name)
        s->names++;
    else
        s->foreign++;
    return LV_OK;
}

/* Copy the object at key `from` to key `to`, byte for byte (what a confused or hostile writer could do). */
static void copy_object(lv_store *st, const char *from, const char *to)
{
    lv_buf b = LV_BUF_INIT;
    if (lv_store_get(st, from, 0, 0, &b) == LV_OK)
        lv_store_put(st, to, b.data, b.len, 0);
    lv_buf_free(&b);
}

static void run(const char *tmp, int encrypted)
{
    const char *L = encrypted ? "encrypted" : "unencrypted";
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", tmp, L);
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    params.encrypted = encrypted;
    lv_credential cred = {.passphrase = encrypted ? "x" : NULL};
    lv_store *st = NULL;
    lv_repo *r = NULL;
    if (lv_store_open(dir, NULL, &st) || lv_store_create(st) || lv_repo_init(st, &params, &cred, &r)) {
        CHECK(0, "%s: set up (%s)", L, lv_errmsg());
        return;
    }
    const lv_repo *cr = r; /* every read below goes through a const handle */
    char name[65], again[65], key[LV_OBJ_KEY_MAX], other[LV_OBJ_KEY_MAX];
    int existed = -1;
    lv_buf b = LV_BUF_INIT;
    const char *text = "some plaintext that compresses, compresses, compresses, compresses";

    CHECK(lv_obj_put(r, &hashed, NULL, text, strlen(text), name, &existed) == LV_OK && existed == 0 &&
              lv_obj_name_valid(&hashed, name),
          "%s: a hashed object is named by its stored bytes (%s)", L, name);
    CHECK(lv_obj_get(cr, &hashed, name, &b) == LV_OK && b.len == strlen(text) && memcmp(b.data, text, b.len) == 0,
          "%s: and reads back", L);
    if (!encrypted) {
        CHECK(lv_obj_put(r, &hashed, NULL, text, strlen(text), again, &existed) == LV_OK && existed == 1 &&
                  strcmp(again, name) == 0,
              "%s: storing the same bytes again is success, and says the object existed", L);
    }
    lv_obj_key(&hashed, name, key, sizeof key);
    snprintf(other, sizeof other, "things/%064d", 0);
    copy_object(st, key, other);
    lv_buf_reset(&b);
    int rc = lv_obj_get(cr, &hashed, other + 7, &b);
    CHECK(rc == LV_ERR_CORRUPT && strstr(lv_errmsg(), "content does not match its name") && b.len == 0,
          "%s: an object under another name is refused (%s)", L, lv_errmsg());
    lv_buf_reset(&b);
    CHECK(lv_obj_get(cr, &hashed, "ABC", &b) == LV_ERR_USAGE, "%s: a name that is not 64 hex digits is refused", L);
    CHECK(lv_obj_get(cr, &hashed, "aa", &b) == LV_ERR_USAGE && lv_obj_get(cr, &named, "a/", &b) == LV_ERR_USAGE,
          "%s: names are checked by the type's rule", L);

    CHECK(lv_obj_put(r, &named, "01", "one", 3, NULL, NULL) == LV_OK, "%s: a named object is stored", L);
    CHECK(lv_obj_put(r, &named, "01", "uno", 3, NULL, NULL) == LV_ERR_CONFLICT, "%s: create-only: never replaced", L);
    lv_buf_reset(&b);
    CHECK(lv_obj_get(cr, &named, "01", &b) == LV_OK && b.len == 3 && memcmp(b.data, "one", 3) == 0,
          "%s: the first one stays", L);
    copy_object(st, "notes/01", "notes/02");
    lv_buf_reset(&b);
    CHECK(lv_obj_get(cr, &named, "02", &b) == LV_ERR_CORRUPT && b.len == 0,
          "%s: its seal binds its name: a copy under another name does not open (%s)", L, lv_errmsg());
    CHECK(lv_obj_get(cr, &named, "03", &b) == LV_ERR_NOT_FOUND, "%s: an absent object is not found", L);

    lv_store_put(st, "notes/not-a-name", "x", 1, 0);
    seen s = {0, 0};
    CHECK(lv_obj_list(cr, &named, count, &s) == LV_OK && s.names == 2 && s.foreign == 1,
          "%s: a listing names the type's objects and flags the others (%d, %d)", L, s.names, s.foreign);

    lv_index ix = {0};
    uint8_t id[LV_HASH_LEN];
    char hex[65];
    CHECK(lv_index_write(r, &ix, id) == LV_OK, "%s: an index object is written", L);
    lv_buf_reset(&b);
    for (int i = 0; i < LV_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    CHECK(lv_obj_get(cr, &lv_obj_index, hex, &b) == LV_OK && b.len >= 4 && memcmp(b.data, "LVIX", 4) == 0,
          "%s: ... and it is an object of lv_obj_index", L);
    char mid[65];
    lv_buf_reset(&b);
    CHECK(lv_manifest_write(r, "files", 1, "{}", "B", 1, mid) == LV_OK &&
              lv_obj_get(cr, &lv_obj_manifest, mid, &b) == LV_OK && memcmp(b.data, "LVMF", 4) == 0,
          "%s: a manifest is an object of lv_obj_manifest", L);
    lv_buf_free(&b);
    lv_repo_close(r);
    lv_store_close(st);
}

int main(void)
{
    char tmp[] = "/tmp/lv-test-object-XXXXXX";
    if (!mkdtemp(tmp)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    run(tmp, 1);
    run(tmp, 0);
    nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
