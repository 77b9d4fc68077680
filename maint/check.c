/* repo check (contract in maint/check.h). */
#include "maint/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "catalog/blobs.h"
#include "catalog/manifests.h"
#include "repo/manifest.h"
#include "repo/object.h"
#include "repo/registry.h"
#include "repo/deleted.h"
#include "repo/blobstore.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/pack.h"

typedef struct cpack {
    uint8_t id[LV_HASH_LEN];
    uint64_t size;
    int indexed;
    char index_key[LV_INDEX_KEY_LEN]; /* first index that lists it */
    uint32_t count;                   /* its entries in that index */
    lv_pack_entry *blobs;
} cpack;

typedef struct idset {
    uint8_t (*v)[LV_HASH_LEN];
    size_t n, cap;
} idset;

struct lv_check {
    lv_repo *r;
    lv_check_report *rep;
    int percent;
    int keep_entries;  /* the data check compares headers with index entries; otherwise drop them */
    cpack *packs; /* data/ listing, sorted by id (the listing is in key order, which is id order) */
    size_t npacks, cap_packs;
    idset indexes;
    char (*manifests)[2 * LV_HASH_LEN + 1];
    size_t nmanifests, cap_manifests;
    idset blobs; /* every blob id an index lists; sorted before manifest checks */
    lv_check_wal_need *wal;
    size_t nwal, cap_wal;
    /* what the catalog recorded before the listings (compared with them afterwards) */
    idset cat_indexes, cat_manifests;
    idset superseded;       /* index ids the listed index objects supersede (prune) */
    lv_deletions deleted;   /* deleted/ records: removed on purpose */
    lv_check_kind *k_keys, *k_index, *k_data, *k_manifests;
};

#define STEPS_MAX 8

static struct {
    const char *name;
    lv_check_step_fn fn;
} steps[STEPS_MAX];
static int nsteps;

int lv_check_register(const char *name, lv_check_step_fn fn)
{
    if (nsteps == STEPS_MAX || !name || !fn)
        return lv_err(LV_ERR_INTERNAL, "cannot register check step %s", name ? name : "(null)");
    steps[nsteps].name = name;
    steps[nsteps].fn = fn;
    nsteps++;
    return LV_OK;
}

lv_repo *lv_check_repo(lv_check *ck) { return ck->r; }
int lv_check_percent(const lv_check *ck) { return ck->percent; }

const lv_deletions *lv_check_deletions(const lv_check *ck) { return &ck->deleted; }

const lv_check_wal_need *lv_check_wal_needs(const lv_check *ck, size_t *n)
{
    *n = ck->nwal;
    return ck->wal;
}

lv_check_kind *lv_check_kind_of(lv_check *ck, const char *name)
{
    lv_check_report *rep = ck->rep;
    for (size_t i = 0; i < rep->nkinds; i++)
        if (strcmp(rep->kinds[i].name, name) == 0)
            return &rep->kinds[i];
    if (rep->nkinds == LV_CHECK_KINDS_MAX) { /* a bug: raise the limit */
        lv_error("repo check: more than %d object kinds", LV_CHECK_KINDS_MAX);
        abort();
    }
    lv_check_kind *k = &rep->kinds[rep->nkinds++];
    memset(k, 0, sizeof *k);
    k->name = name;
    return k;
}

void lv_check_problem(lv_check *ck, lv_check_kind *k, lv_check_severity sev, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (sev == LV_CHECK_ERROR) {
        ck->rep->errors++;
        k->errors++;
    } else {
        ck->rep->warnings++;
        k->warnings++;
    }
    if (ck->rep->problem)
        ck->rep->problem(ck->rep->arg, sev, line);
    else if (sev == LV_CHECK_ERROR)
        lv_error("%s", line);
    else
        lv_warn("%s", line);
}

size_t *lv_check_sample(lv_check *ck, size_t n, size_t *m)
{
    size_t want = (n * (size_t)ck->percent + 99) / 100;
    size_t *order = lv_xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* Partial Fisher-Yates: the first `want` positions become a uniform random subset. */
    for (size_t i = 0; i < want && i + 1 < n; i++) {
        uint64_t rnd;
        lv_random(&rnd, sizeof rnd);
        size_t j = i + (size_t)(rnd % (n - i));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    *m = want;
    return order;
}

/* Damage (CORRUPT) and objects vanishing between list and read (NOT_FOUND) are reported as problems and
 * the check goes on; anything else is the store failing. */
int lv_check_fatal(int rc) { return rc != LV_OK && rc != LV_ERR_CORRUPT && rc != LV_ERR_NOT_FOUND; }

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }

static void idset_add(idset *s, const uint8_t id[LV_HASH_LEN])
{
    LV_GROW(s->v, s->n, s->cap);
    memcpy(s->v[s->n++], id, LV_HASH_LEN);
}

/* Sort and drop repeats (a pack listed by two indexes lists its blobs twice). */
static void idset_sort(idset *s)
{
    lv_sort(s->v, s->n, LV_HASH_LEN, cmp_id);
    size_t uniq = 0;
    for (size_t i = 0; i < s->n; i++)
        if (uniq == 0 || memcmp(s->v[uniq - 1], s->v[i], LV_HASH_LEN) != 0)
            memmove(s->v[uniq++], s->v[i], LV_HASH_LEN);
    s->n = uniq;
}

static int idset_has(const idset *s, const uint8_t id[LV_HASH_LEN])
{
    return s->n && bsearch(id, s->v, s->n, LV_HASH_LEN, cmp_id) != NULL;
}

/* ---- listings --------------------------------------------------------------------------------- */

static int list_data_cb(void *arg, const char *key, uint64_t size)
{
    lv_check *c = arg;
    uint8_t id[LV_HASH_LEN];
    if (lv_pack_key_parse(key, id) != 0) {
        lv_check_problem(c, c->k_data, LV_CHECK_WARNING, "%s: unexpected object under data/ (not a pack name)", key);
        return LV_OK;
    }
    LV_GROW(c->packs, c->npacks, c->cap_packs);
    cpack *p = &c->packs[c->npacks++];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, LV_HASH_LEN);
    p->size = size;
    return LV_OK;
}

static int list_index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    lv_check *c = arg;
    (void)size;
    uint8_t id[LV_HASH_LEN];
    if (!name || lv_hex_decode(name, id, LV_HASH_LEN) != 0) {
        lv_check_problem(c, c->k_index, LV_CHECK_WARNING, "%s: unexpected object under index/", key);
        return LV_OK;
    }
    idset_add(&c->indexes, id);
    return LV_OK;
}

static int list_manifest_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    lv_check *c = arg;
    (void)size;
    if (!name) {
        lv_check_problem(c, c->k_manifests, LV_CHECK_WARNING, "%s: unexpected object under manifests/", key);
        return LV_OK;
    }
    LV_GROW(c->manifests, c->nmanifests, c->cap_manifests);
    snprintf(c->manifests[c->nmanifests++], sizeof c->manifests[0], "%s", name);
    return LV_OK;
}

static int cat_index_cb(void *arg, const uint8_t id[32])
{
    idset_add(arg, id);
    return LV_OK;
}

static int cat_manifest_cb(void *arg, const lv_manifest_row *m)
{
    uint8_t id[LV_HASH_LEN];
    if (lv_hex_decode(m->id, id, sizeof id) == 0)
        idset_add(arg, id);
    return LV_OK;
}

static int cmp_pack(const void *a, const void *b)
{
    return memcmp(((const cpack *)a)->id, ((const cpack *)b)->id, LV_HASH_LEN);
}

static cpack *find_pack(lv_check *c, const uint8_t id[LV_HASH_LEN])
{
    cpack key;
    memcpy(key.id, id, LV_HASH_LEN);
    return c->npacks ? bsearch(&key, c->packs, c->npacks, sizeof *c->packs, cmp_pack) : NULL;
}

/* ---- keys ------------------------------------------------------------------------------------- */

static int list_key_cb(void *arg, const char *key, uint64_t size)
{
    lv_check *c = arg;
    (void)size;
    c->k_keys->objects++;
    int rc = lv_repo_key_verify(c->r, key + strlen("keys/"));
    if (lv_check_fatal(rc))
        return rc;
    if (rc == LV_OK)
        c->k_keys->read++;
    else if (rc == LV_ERR_NOT_FOUND)
        lv_check_problem(c, c->k_keys, LV_CHECK_WARNING, "%s: vanished while checking (removed meanwhile?)", key);
    else
        lv_check_problem(c, c->k_keys, LV_CHECK_ERROR, "%s", lv_errmsg());
    return LV_OK;
}

/* ---- index, data, manifests ------------------------------------------------------------------- */

static int check_index(lv_check *c, const uint8_t id[LV_HASH_LEN])
{
    char ikey[LV_INDEX_KEY_LEN], pkey[LV_PACK_KEY_LEN];
    lv_index_key(id, ikey);
    lv_index ix;
    int rc = lv_index_read(c->r, id, &ix);
    if (lv_check_fatal(rc))
        return rc;
    if (rc == LV_ERR_NOT_FOUND) { /* deleted since the listing: a concurrent prune, not damage */
        lv_check_problem(c, c->k_index, LV_CHECK_WARNING, "%s: vanished while checking (concurrent prune?)", ikey);
        return LV_OK;
    }
    if (rc != LV_OK) {
        lv_check_problem(c, c->k_index, LV_CHECK_ERROR, "%s", lv_errmsg());
        return LV_OK;
    }
    c->k_index->read++;
    for (uint32_t i = 0; i < ix.nsupersedes; i++)
        idset_add(&c->superseded, ix.supersedes[i]);
    for (uint32_t i = 0; i < ix.npacks; i++) {
        lv_index_pack *ip = &ix.packs[i];
        for (uint32_t j = 0; j < ip->count; j++)
            idset_add(&c->blobs, ip->blobs[j].id);
        lv_pack_key(ip->id, pkey);
        cpack *p = find_pack(c, ip->id);
        if (!p) {
            c->k_data->missing++;
            lv_check_problem(c, c->k_data, LV_CHECK_ERROR, "pack %s is missing, but %s lists it (%u blobs lost)", pkey,
                             ikey, ip->count);
            continue;
        }
        if (p->size != ip->size)
            lv_check_problem(c, c->k_data, LV_CHECK_ERROR, "pack %s: %llu bytes, but %s says %llu (%s)", pkey,
                             (unsigned long long)p->size, ikey, (unsigned long long)ip->size,
                             p->size < ip->size ? "truncated" : "damaged");
        if (!p->indexed) { /* keep the first index's entries for the data check */
            p->indexed = 1;
            memcpy(p->index_key, ikey, sizeof ikey);
            if (c->keep_entries) {
                p->count = ip->count;
                p->blobs = ip->blobs;
                ip->blobs = NULL;
            }
        }
    }
    lv_index_free(&ix);
    return LV_OK;
}

typedef struct mref {
    lv_check *c;
    const char *key;
    uint64_t missing;
} mref;

static int manifest_emit(void *arg, const uint8_t id[LV_HASH_LEN])
{
    mref *m = arg;
    if (idset_has(&m->c->blobs, id))
        return LV_OK;
    char hex[2 * LV_HASH_LEN + 1];
    lv_hex_encode(id, LV_HASH_LEN, hex);
    /* One line per missing blob would drown the report when a whole pack is gone: cap it. */
    if (m->missing++ < 10)
        lv_check_problem(m->c, m->c->k_manifests, LV_CHECK_ERROR, "%s references blob %s, which no index lists",
                         m->key, hex);
    return LV_OK;
}

static void note_wal(lv_check *c, const char *key, const lv_manifest *m)
{
    lv_manifest_wal_fn wal = lv_manifest_kind_wal(m->kind);
    lv_manifest_wal w;
    if (!wal)
        return;
    if (wal(m, &w) != LV_OK) {
        lv_check_problem(c, c->k_manifests, LV_CHECK_ERROR, "%s: %s", key, lv_errmsg());
        return;
    }
    LV_GROW(c->wal, c->nwal, c->cap_wal);
    lv_check_wal_need *n = &c->wal[c->nwal++];
    memcpy(n->manifest, m->id, sizeof n->manifest);
    n->tli = w.tli;
    n->seg_size = w.seg_size;
    n->start_lsn = w.start_lsn;
    n->stop_lsn = w.stop_lsn;
}

static int check_manifest(lv_check *c, const char *hex)
{
    char key[LV_MANIFEST_KEY_LEN];
    lv_manifest_key(hex, key);
    lv_manifest m;
    int rc = lv_manifest_read(c->r, hex, &m);
    if (lv_check_fatal(rc))
        return rc;
    if (rc == LV_ERR_NOT_FOUND) {
        lv_check_problem(c, c->k_manifests, LV_CHECK_WARNING, "%s: vanished while checking (concurrent prune?)", key);
        return LV_OK;
    }
    if (rc != LV_OK) {
        lv_check_problem(c, c->k_manifests, LV_CHECK_ERROR, "%s", lv_errmsg());
        return LV_OK;
    }
    c->k_manifests->read++;
    lv_manifest_refs_fn refs = lv_manifest_kind_refs(m.kind);
    if (refs) {
        mref mr = {c, key, 0};
        rc = refs(c->r, &m, manifest_emit, &mr);
        if (rc != LV_OK && !lv_check_fatal(rc))
            lv_check_problem(c, c->k_manifests, LV_CHECK_ERROR, "%s: cannot list its blobs: %s", key, lv_errmsg());
        if (mr.missing > 10)
            lv_check_problem(c, c->k_manifests, LV_CHECK_ERROR, "%s: %llu referenced blobs in all are not indexed", key,
                             (unsigned long long)mr.missing);
        rc = lv_check_fatal(rc) ? rc : LV_OK;
    }
    if (rc == LV_OK)
        note_wal(c, key, &m);
    lv_manifest_free(&m);
    return rc;
}

/* What the catalog recorded before the listings and the repository lacks: deleted or lost. */
static void compare_catalog(lv_check *c)
{
    char key[LV_MANIFEST_KEY_LEN], hex[2 * LV_HASH_LEN + 1];
    for (size_t i = 0; i < c->cat_indexes.n; i++)
        if (!idset_has(&c->indexes, c->cat_indexes.v[i]) && !idset_has(&c->superseded, c->cat_indexes.v[i])) {
            lv_index_key(c->cat_indexes.v[i], key);
            c->k_index->missing++;
            lv_check_problem(c, c->k_index, LV_CHECK_ERROR, "%s is missing, but the local catalog records it (deleted "
                             "or lost: its packs are no longer indexed)", key);
        }
    idset listed = {0};
    for (size_t i = 0; i < c->nmanifests; i++) {
        uint8_t id[LV_HASH_LEN];
        if (lv_hex_decode(c->manifests[i], id, sizeof id) == 0)
            idset_add(&listed, id);
    }
    idset_sort(&listed);
    for (size_t i = 0; i < c->cat_manifests.n; i++) {
        lv_hex_encode(c->cat_manifests.v[i], LV_HASH_LEN, hex);
        if (!idset_has(&listed, c->cat_manifests.v[i]) && !lv_deletions_has_manifest(&c->deleted, hex)) {
            lv_manifest_key(hex, key);
            c->k_manifests->missing++;
            lv_check_problem(c, c->k_manifests, LV_CHECK_ERROR, "%s is missing, but the local catalog records it "
                             "(deleted or lost: that backup can no longer be restored)", key);
        }
    }
    free(listed.v);
}

static int same_entries(const lv_pack_entry *a, const lv_pack_entry *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].type != b[i].type || memcmp(a[i].id, b[i].id, LV_HASH_LEN) != 0 ||
            a[i].offset != b[i].offset || a[i].length != b[i].length ||
            a[i].raw_length != b[i].raw_length)
            return 0;
    return 1;
}

static int read_pack(lv_check *c, const cpack *p)
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(p->id, key);
    lv_buf obj = LV_BUF_INIT, plain = LV_BUF_INIT;
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    lv_check_kind *k = c->k_data;
    uint64_t errors = k->errors;
    int rc = lv_store_get(c->r->store, key, 0, 0, &obj);
    if (lv_check_fatal(rc))
        goto out;
    if (rc != LV_OK) {
        lv_check_problem(c, k, LV_CHECK_ERROR, "pack %s: %s", key, lv_errmsg());
        rc = LV_OK;
        goto out;
    }
    c->rep->packs_read++;
    c->rep->bytes_read += obj.len;
    k->bytes_read += obj.len;
    uint32_t hl;
    if (obj.len < LV_PACK_TAIL + LV_SEALED_MIN) {
        lv_check_problem(c, k, LV_CHECK_ERROR, "pack %s: %zu bytes is too short to be a pack", key, obj.len);
        goto out;
    }
    if (lv_pack_tail_parse(obj.data + obj.len - LV_PACK_TAIL, obj.len, &hl, key) != LV_OK) {
        lv_check_problem(c, k, LV_CHECK_ERROR, "pack %s", lv_errmsg());
        goto out;
    }
    uint64_t blobs_end = obj.len - LV_PACK_TAIL - hl;
    char what[LV_PACK_KEY_LEN + 32];
    snprintf(what, sizeof what, "header of pack %s", key);
    lv_pack_naming nm;
    if (lv_pack_header_open(c->r, obj.data + blobs_end, hl, blobs_end, &e, &n, &nm, what) != LV_OK) {
        lv_check_problem(c, k, LV_CHECK_ERROR, "%s", lv_errmsg());
        goto out;
    }
    /* The name: the header's hash (version 2), or the whole object's (version 1, the old format). Go on
     * after a mismatch: the blobs tell whether the content is damaged or merely misnamed. */
    if (nm.version < 2)
        lv_sha256(obj.data, obj.len, nm.name);
    if (memcmp(nm.name, p->id, LV_HASH_LEN) != 0)
        lv_check_problem(c, k, LV_CHECK_ERROR, "pack %s: content does not match its name (SHA-256 of the %s differs)",
                         key, nm.version < 2 ? "pack" : "header");
    if (p->indexed && (p->count != n || !same_entries(p->blobs, e, n)))
        lv_check_problem(c, k, LV_CHECK_ERROR, "pack %s: its header disagrees with %s", key, p->index_key);
    for (uint32_t i = 0; i < n; i++) {
        char hex[2 * LV_HASH_LEN + 1], bwhat[200];
        lv_hex_encode(e[i].id, LV_HASH_LEN, hex);
        snprintf(bwhat, sizeof bwhat, "blob %s in pack %s", hex, key);
        lv_buf_reset(&plain);
        if (lv_blob_open_full(c->r, e[i].type, e[i].id, obj.data + e[i].offset, e[i].length, e[i].raw_length,
                              &plain, bwhat) != LV_OK)
            lv_check_problem(c, k, LV_CHECK_ERROR, "%s", lv_errmsg());
    }
out:
    if (rc == LV_OK && k->errors == errors)
        k->read++;
    free(e);
    lv_buf_free(&obj);
    lv_buf_free(&plain);
    return rc;
}

static int check_data(lv_check *c)
{
    size_t want;
    size_t *order = lv_check_sample(c, c->npacks, &want);
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < want; i++)
        rc = read_pack(c, &c->packs[order[i]]);
    free(order);
    return rc;
}

/* ---- locks, obsolete catalog copies, temporaries ---------------------------------------------- */

typedef struct lock_arg {
    lv_check *c;
    lv_check_kind *k;
} lock_arg;

static int lock_cb(void *arg, const lv_lock_info *li)
{
    lock_arg *a = arg;
    a->k->objects++;
    if (li->unreadable) {
        lv_check_problem(a->c, a->k, LV_CHECK_WARNING, "%s: unreadable lock: it blocks prune until `repo unlock "
                         "--force` removes it", li->key);
        return 0;
    }
    a->k->read++;
    if (li->stale)
        lv_check_problem(a->c, a->k, LV_CHECK_WARNING, "%s: stale lock (host %s, pid %ld): `repo unlock` removes it",
                         li->key, li->host, li->pid);
    return 0;
}

static int list_catalog_copy_cb(void *arg, const char *key, uint64_t size)
{
    lock_arg *a = arg;
    a->k->objects++;
    lv_check_problem(a->c, a->k, LV_CHECK_WARNING, "%s: a copy of a local catalog (%llu bytes) written by an "
                     "earlier labvault; nothing reads it any more: the next backup removes it", key,
                     (unsigned long long)size);
    return LV_OK;
}

static int temp_cb(void *arg, const char *name, uint64_t size, int64_t age_s)
{
    lock_arg *a = arg;
    a->k->objects++;
    if (age_s >= LV_STORE_TEMP_STALE_S)
        lv_check_problem(a->c, a->k, LV_CHECK_WARNING, "%s: stale temporary object (%llu bytes, %lld h old) left by "
                         "an interrupted write: the next command that writes there, or `repo unlock`, removes it",
                         name, (unsigned long long)size, (long long)(age_s / 3600));
    return LV_OK;
}

static int check_leftovers(lv_check *c)
{
    lock_arg a = {c, lv_check_kind_of(c, "locks")};
    int rc = lv_lock_list(c->r->store, 0, lock_cb, &a);
    if (rc == LV_OK) {
        a.k = lv_check_kind_of(c, "catalog copies");
        rc = lv_store_list(c->r->store, "catalog/", list_catalog_copy_cb, &a);
    }
    if (rc == LV_OK) {
        a.k = lv_check_kind_of(c, "temporary");
        rc = lv_store_temp_list(c->r->store, "", temp_cb, &a);
    }
    return rc;
}

/* ---- the check -------------------------------------------------------------------------------- */

/* The catalog's record of index objects and manifests, read before the listings (check.h). */
static int read_catalog(lv_check *c)
{
    int rc = lv_catalog_index_each(c->r->cat, cat_index_cb, &c->cat_indexes);
    if (rc == LV_OK)
        rc = lv_catalog_manifest_each(c->r->cat, NULL, cat_manifest_cb, &c->cat_manifests);
    if (rc != LV_OK)
        return lv_err_ctx("reading the local catalog");
    c->rep->catalog = 1;
    return LV_OK;
}

static int check_structure(lv_check *c)
{
    lv_check_kind *config = lv_check_kind_of(c, "config");
    config->objects = config->read = 1; /* authenticated by lv_repo_open */
    c->k_keys = lv_check_kind_of(c, "keys");
    c->k_index = lv_check_kind_of(c, "index");
    c->k_data = lv_check_kind_of(c, "data");
    c->k_manifests = lv_check_kind_of(c, "manifests");
    int rc = c->r->cat ? read_catalog(c) : LV_OK;
    if (rc != LV_OK)
        return rc;
    /* The deletion records, read after the catalog: whatever forget removed after the catalog was read
     * is recorded by then (records are written before the removal). */
    lv_check_kind *kdel = lv_check_kind_of(c, "deletion records");
    rc = lv_deletions_read(c->r, &c->deleted);
    if (lv_check_fatal(rc))
        return rc;
    if (rc != LV_OK)
        lv_check_problem(c, kdel, LV_CHECK_ERROR, "%s", lv_errmsg());
    rc = LV_OK;
    rc = lv_obj_list(c->r, &lv_obj_manifest, list_manifest_cb, c);
    if (rc == LV_OK)
        rc = lv_obj_list(c->r, &lv_obj_index, list_index_cb, c);
    if (rc == LV_OK)
        rc = lv_store_list(c->r->store, "data/", list_data_cb, c);
    if (rc != LV_OK)
        return lv_err_ctx("listing %s", lv_store_describe(c->r->store));
    lv_sort(c->packs, c->npacks, sizeof *c->packs, cmp_pack);
    c->rep->packs = c->k_data->objects = c->npacks;
    c->rep->indexes = c->k_index->objects = c->indexes.n;
    c->rep->manifests = c->k_manifests->objects = c->nmanifests;

    if ((rc = lv_store_list(c->r->store, "keys/", list_key_cb, c)) != LV_OK)
        return lv_err_ctx("checking keys/ of %s", lv_store_describe(c->r->store));
    for (size_t i = 0; rc == LV_OK && i < c->indexes.n; i++)
        rc = check_index(c, c->indexes.v[i]);
    if (rc != LV_OK)
        return rc;
    idset_sort(&c->indexes);
    for (size_t i = 0; i < c->npacks; i++)
        if (!c->packs[i].indexed) {
            char key[LV_PACK_KEY_LEN];
            lv_pack_key(c->packs[i].id, key);
            lv_check_problem(c, c->k_data, LV_CHECK_WARNING, "unindexed pack %s: no index lists it (left by an "
                             "interrupted backup? `catalog rebuild` reads it, prune removes it)", key);
        }
    idset_sort(&c->blobs);
    idset_sort(&c->superseded);
    c->rep->blobs = c->blobs.n;
    for (size_t i = 0; rc == LV_OK && i < c->nmanifests; i++)
        rc = check_manifest(c, c->manifests[i]);
    if (rc == LV_OK && c->r->cat) {
        idset_sort(&c->cat_indexes);
        idset_sort(&c->cat_manifests);
        compare_catalog(c);
    }
    return rc;
}

int lv_repo_check(lv_repo *r, int read_data_percent, lv_check_report *rep)
{
    lv_check_report local = {0};
    if (!rep)
        rep = &local;
    rep->packs = rep->indexes = rep->manifests = rep->blobs = 0;
    rep->packs_read = rep->bytes_read = rep->errors = rep->warnings = 0;
    rep->nkinds = 0;
    rep->catalog = 0;
    if (read_data_percent < 0 || read_data_percent > 100)
        return lv_err(LV_ERR_USAGE, "read-data percentage %d is not within 0..100", read_data_percent);
    lv_check c = {.r = r, .rep = rep, .percent = read_data_percent, .keep_entries = read_data_percent > 0};

    int rc = check_structure(&c);
    if (rc == LV_OK && read_data_percent > 0)
        rc = check_data(&c);
    for (int i = 0; rc == LV_OK && i < nsteps; i++)
        if ((rc = steps[i].fn(&c)) != LV_OK)
            lv_err_ctx("checking %s", steps[i].name);
    if (rc == LV_OK)
        rc = check_leftovers(&c);
    if (rc == LV_OK && rep->errors > 0)
        rc = lv_err(LV_ERR_CORRUPT, "repository %s: %llu problem(s) found", lv_store_describe(r->store),
                    (unsigned long long)rep->errors);
    for (size_t i = 0; i < c.npacks; i++)
        free(c.packs[i].blobs);
    free(c.packs);
    free(c.indexes.v);
    free(c.manifests);
    free(c.blobs.v);
    free(c.wal);
    free(c.cat_indexes.v);
    free(c.cat_manifests.v);
    free(c.superseded.v);
    lv_deletions_free(&c.deleted);
    return rc;
}
