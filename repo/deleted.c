/* Deletion records (contract in repo/deleted.h). */
#include "repo/deleted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/sort.h"
#include "repo/object.h"

#define PREFIX "deleted/"
#define HEADER "labvault deletions 1\n"

void lv_deletions_add_manifest(lv_deletions *d, const char *hex)
{
    LV_GROW(d->manifests, d->nmanifests, d->cap);
    snprintf(d->manifests[d->nmanifests++], sizeof d->manifests[0], "%s", hex);
}

/* Segment order of 24-hex names, the timeline (first 8) ignored. */
static int later(const char *a, const char *b) { return strcmp(a + 8, b + 8) > 0; }

void lv_deletions_wal_before(lv_deletions *d, const char *name)
{
    if (strlen(name) == 24 && (!d->wal_before[0] || later(name, d->wal_before)))
        snprintf(d->wal_before, sizeof d->wal_before, "%s", name);
}

static void encode(const lv_deletions *d, lv_buf *out)
{
    lv_buf_append_str(out, HEADER);
    for (size_t i = 0; i < d->nmanifests; i++)
        lv_buf_printf(out, "manifest %s\n", d->manifests[i]);
    if (d->wal_before[0])
        lv_buf_printf(out, "wal-before %s\n", d->wal_before);
}

/* deleted/<64 hex>: the name is the hash of the sealed record (repo/object.h). */
static const lv_obj_type deleted_type = {.prefix = PREFIX, .aad = LV_DELETED_AAD, .hashed = 1, .compress = 1};

static int write_one(lv_repo *r, const lv_deletions *d, char name_out[65])
{
    lv_buf plain = LV_BUF_INIT;
    encode(d, &plain);
    int rc = lv_obj_put(r, &deleted_type, NULL, plain.data, plain.len, name_out, NULL);
    lv_buf_free(&plain);
    return rc;
}

int lv_deletions_write(lv_repo *r, const lv_deletions *d)
{
    if (!d->nmanifests && !d->wal_before[0])
        return LV_OK;
    char name[65];
    return write_one(r, d, name);
}

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

static int parse(const char *key, const lv_buf *plain, lv_deletions *out)
{
    const char *p = (const char *)plain->data, *end = p + plain->len;
    size_t hl = strlen(HEADER);
    if (plain->len < hl || memcmp(p, HEADER, hl) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: not a deletion record (version 1)", key);
    p += hl;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return lv_err(LV_ERR_CORRUPT, "%s: the last line is not terminated", key);
        char line[128];
        size_t n = (size_t)(nl - p);
        if (n >= sizeof line)
            return lv_err(LV_ERR_CORRUPT, "%s: a line of %zu bytes", key, n);
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (strncmp(line, "manifest ", 9) == 0 && is_hex64(line + 9))
            lv_deletions_add_manifest(out, line + 9);
        else if (strncmp(line, "wal-before ", 11) == 0 && strlen(line + 11) == 24)
            lv_deletions_wal_before(out, line + 11);
        else
            return lv_err(LV_ERR_CORRUPT, "%s: unexpected line '%s'", key, line);
    }
    return LV_OK;
}

typedef struct keys {
    char (*v)[65];           /* the names of the records (foreign keys: "", reported by read_all) */
    char (*key)[80];
    size_t n, cap, cap_key;
} keys;

static int list_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    keys *k = arg;
    (void)size;
    size_t n = k->n;
    LV_GROW(k->key, n, k->cap_key);
    LV_GROW(k->v, k->n, k->cap);
    snprintf(k->key[k->n], sizeof k->key[0], "%s", key);
    snprintf(k->v[k->n++], sizeof k->v[0], "%s", name ? name : "");
    return LV_OK;
}

static void keys_free(keys *k)
{
    free(k->v);
    free(k->key);
}

static int cmp_hex(const void *a, const void *b) { return strcmp(a, b); }

static int read_all(const lv_repo *r, lv_deletions *out, keys *k)
{
    memset(out, 0, sizeof *out);
    int rc = lv_obj_list(r, &deleted_type, list_cb, k);
    for (size_t i = 0; rc == LV_OK && i < k->n; i++) {
        lv_buf plain = LV_BUF_INIT;
        if (!k->v[i][0])
            rc = lv_err(LV_ERR_CORRUPT, "%s: its content does not match its name", k->key[i]);
        else
            rc = lv_obj_get(r, &deleted_type, k->v[i], &plain);
        if (rc == LV_ERR_NOT_FOUND) { /* merged away meanwhile: its content is in the merged record */
            lv_err_clear();
            rc = LV_OK;
        } else if (rc == LV_OK) {
            rc = parse(k->key[i], &plain, out);
        }
        lv_buf_free(&plain);
    }
    lv_sort(out->manifests, out->nmanifests, sizeof out->manifests[0], cmp_hex);
    /* drop duplicates (records merged twice by a prune that crashed in between) */
    size_t w = 0;
    for (size_t i = 0; i < out->nmanifests; i++)
        if (w == 0 || strcmp(out->manifests[w - 1], out->manifests[i]) != 0)
            memcpy(out->manifests[w++], out->manifests[i], sizeof out->manifests[0]);
    out->nmanifests = w;
    return rc;
}

int lv_deletions_read(const lv_repo *r, lv_deletions *out)
{
    keys k = {0};
    int rc = read_all(r, out, &k);
    keys_free(&k);
    return rc;
}

int lv_deletions_has_manifest(const lv_deletions *d, const char *hex)
{
    return d->nmanifests && bsearch(hex, d->manifests, d->nmanifests, sizeof d->manifests[0], cmp_hex) != NULL;
}

int lv_deletions_wal_expired(const lv_deletions *d, unsigned log, unsigned seg)
{
    if (!d->wal_before[0])
        return 0;
    char pos[17];
    snprintf(pos, sizeof pos, "%08X%08X", log, seg);
    return strcmp(pos, d->wal_before + 8) < 0;
}

int lv_deletions_merge(lv_repo *r)
{
    lv_deletions all;
    keys k = {0};
    int rc = read_all(r, &all, &k);
    char merged[65] = "";
    if (rc == LV_OK && k.n > 1) {
        rc = write_one(r, &all, merged);
        /* the merged record is durable before the ones it replaces go */
        for (size_t i = 0; rc == LV_OK && i < k.n; i++)
            if (strcmp(k.v[i], merged) != 0)
                rc = lv_store_del(r->store, k.key[i]);
    }
    lv_deletions_free(&all);
    keys_free(&k);
    return rc != LV_OK ? lv_err_ctx("merging deletion records") : LV_OK;
}

void lv_deletions_free(lv_deletions *d)
{
    free(d->manifests);
    memset(d, 0, sizeof *d);
}
