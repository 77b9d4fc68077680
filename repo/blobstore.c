#include "catalog/blobs.h"
#include "repo/blobstore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "repo/index.h"

/* ---------------------------------------------------------------------------------------------------
 * A set of blob ids: open addressing with linear probing. Ids are HMAC outputs, so their first bytes
 * are already uniformly distributed and serve as the hash. Removal shifts entries back instead of
 * leaving tombstones, so a long run that adds and removes keeps short probe chains. */
typedef struct idset {
    uint8_t (*slot)[LV_HASH_LEN];
    uint8_t *used;
    size_t cap, n; /* cap is 0 or a power of two */
} idset;

static size_t id_home(const uint8_t id[LV_HASH_LEN], size_t mask)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)h & mask;
}

static int idset_find(const idset *s, const uint8_t id[LV_HASH_LEN], size_t *pos)
{
    if (s->cap == 0)
        return 0;
    size_t mask = s->cap - 1;
    for (size_t i = id_home(id, mask);; i = (i + 1) & mask) {
        if (!s->used[i])
            return 0;
        if (memcmp(s->slot[i], id, LV_HASH_LEN) == 0) {
            *pos = i;
            return 1;
        }
    }
}

static int idset_has(const idset *s, const uint8_t id[LV_HASH_LEN])
{
    size_t pos;
    return idset_find(s, id, &pos);
}

static void idset_put_nogrow(idset *s, const uint8_t id[LV_HASH_LEN])
{
    size_t mask = s->cap - 1, i = id_home(id, mask);
    while (s->used[i])
        i = (i + 1) & mask;
    memcpy(s->slot[i], id, LV_HASH_LEN);
    s->used[i] = 1;
    s->n++;
}

static void idset_add(idset *s, const uint8_t id[LV_HASH_LEN])
{
    if (2 * (s->n + 1) > s->cap) { /* keep the load at most 1/2 */
        idset old = *s;
        s->cap = old.cap ? 2 * old.cap : 1024;
        s->slot = lv_xmalloc(s->cap * LV_HASH_LEN);
        s->used = lv_xcalloc(s->cap, 1);
        s->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.used[i])
                idset_put_nogrow(s, old.slot[i]);
        free(old.slot);
        free(old.used);
    }
    idset_put_nogrow(s, id);
}

static void idset_del(idset *s, const uint8_t id[LV_HASH_LEN])
{
    size_t i;
    if (!idset_find(s, id, &i))
        return;
    size_t mask = s->cap - 1;
    s->used[i] = 0;
    s->n--;
    for (size_t j = (i + 1) & mask; s->used[j]; j = (j + 1) & mask) {
        size_t k = id_home(s->slot[j], mask);
        /* Move slot j into the hole at i unless its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        memcpy(s->slot[i], s->slot[j], LV_HASH_LEN);
        s->used[i] = 1;
        s->used[j] = 0;
        i = j;
    }
}

static void idset_free(idset *s)
{
    free(s->slot);
    free(s->used);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------------------------------------------
 * The packer. One mutex guards everything shared with the threads; the work done under it is pointer
 * moves and reserving places in the pack (blobs are sealed into their place outside it), so contention
 * is negligible at blob granularity. */

#define JOBS_BYTES_PER_WORKER ((uint64_t)4 << 20) /* small blobs queued per seal worker */
#define JOBS_MAX 256                              /* jobs queued at most, whatever their size */
#define JOB_KEEP_BYTES ((size_t)64 << 10)         /* buffers kept on jobs beyond max_jobs */

typedef struct job {
    struct job *next;
    uint8_t type;
    uint8_t id[LV_HASH_LEN];
    uint8_t sum[LV_PLAIN_SUM_LEN]; /* lv_repo_plain_sum of the caller's bytes, sealed with the blob */
    uint32_t raw_len;
    lv_buf plain, zout;   /* plaintext copy, zstd output; recycled: fresh memory costs page faults */
} job;

typedef struct pack {
    struct pack *next;
    lv_pack_builder b;    /* in memory: the pack; streamed: its entries, and the tail once finished */
    lv_store_stream *w;   /* streamed: the temporary the blobs are written to; NULL in memory */
    int writers;          /* blobs being sealed into reserved places (seal_into_pack) */
} pack;

struct lv_packer {
    lv_repo *r;
    uint64_t pack_size;
    uint32_t index_every;
    int nworkers, qcap, max_jobs;
    int stream;               /* packs are streamed into the store, not built in memory */
    pthread_t *workers, *uploaders;
    int nstarted, nup_started;

    pthread_mutex_t mu;
    pthread_cond_t cv_work;   /* to workers: a job was queued, or stop */
    pthread_cond_t cv_upload; /* to the uploaders: a pack was queued, or stop */
    pthread_cond_t cv_state;  /* to anyone waiting for room in a queue or for the pipeline to drain */

    job *jq_head, *jq_tail;
    int jobs;                 /* queued + being sealed */
    uint64_t jobs_bytes;      /* their plaintext bytes */
    job *jfree;
    int nfree;                /* jobs in jfree */
    pack *cur;                /* being filled */
    pack *uq_head, *uq_tail;
    int uq;                   /* closed packs queued + being uploaded */
    pack *pfree;
    lv_index_pack *done;      /* uploaded, not yet indexed */
    uint32_t ndone, done_cap;
    uint64_t done_blobs;
    int stop;
    int err;                  /* first failure, sticky */
    char errmsg[1024];
    lv_packer_stats st;

    /* Caller thread only. */
    idset pending;            /* accepted since the last index was recorded (or ever, without catalog) */
    ZSTD_CCtx *probe;         /* for inline sealing */
};

static void set_err_locked(lv_packer *p, int code, const char *msg)
{
    if (p->err)
        return;
    p->err = code;
    snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    pthread_cond_broadcast(&p->cv_state);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_upload);
}

/* Re-raise a failure of an internal thread on the caller's thread (messages are thread-local). */
static int raise_err_locked(lv_packer *p) { return lv_err(p->err, "%s", p->errmsg); }

/* Compression is worth its CPU only when data shrinks. zstd gives up on random data quickly, but not
 * for free (~0.7 ms/MiB here); a 16 KiB trial at level 1 costs ~30 us and tells encrypted, compressed
 * or random payloads (media, compressed archives, encrypted files) apart from the rest. */
static int worth_compressing(ZSTD_CCtx *cctx, const uint8_t *data, size_t n)
{
    enum { SAMPLE = 16384 };
    if (n < 128)
        return 0;
    if (n <= SAMPLE || !cctx)
        return 1;
    uint8_t dst[SAMPLE + SAMPLE / 64 + 512];
    const uint8_t *src = data + (n - SAMPLE) / 2;
    size_t out = ZSTD_compressCCtx(cctx, dst, sizeof dst, src, SAMPLE, 1);
    if (ZSTD_isError(out))
        return 1;
    return out < SAMPLE - SAMPLE / 32; /* saves at least ~3 % */
}

static pack *pack_get_locked(lv_packer *p)
{
    pack *k = p->pfree;
    if (k) {
        p->pfree = k->next;
        lv_pack_builder_reset(&k->b);
        k->writers = 0;
    } else {
        k = lv_xcalloc(1, sizeof *k);
        /* The last blob may overshoot the target; 2 MiB of slack covers the usual 1 MiB chunks. A
         * streamed pack keeps only its tail here. */
        lv_pack_builder_init(&k->b, p->stream ? 0 : (size_t)p->pack_size + (2u << 20));
    }
    k->next = NULL;
    return k;
}

static void pack_put_locked(lv_packer *p, pack *k)
{
    k->next = p->pfree;
    p->pfree = k;
}

/* A new current pack; streamed, with its temporary in the store. NULL (and the packer dead) when the
 * temporary cannot be created. */
static pack *open_cur_locked(lv_packer *p)
{
    pack *k = pack_get_locked(p);
    if (p->stream) {
        /* A file creation under the lock, once per pack: the other threads wait a few microseconds. */
        int rc = lv_store_stream_open(p->r->store, "data/pack", &k->w);
        if (rc != LV_OK) {
            lv_err_ctx("creating a pack");
            set_err_locked(p, rc, lv_errmsg());
            pack_put_locked(p, k);
            return NULL;
        }
    }
    p->cur = k;
    return k;
}

/* Close the current pack and queue it for upload. Needs room in the upload queue (caller checks). The
 * header and the PUT are the uploader's job, outside the lock. */
static void close_cur_locked(lv_packer *p)
{
    pack *k = p->cur;
    p->cur = NULL;
    if (p->uq_tail)
        p->uq_tail->next = k;
    else
        p->uq_head = k;
    p->uq_tail = k;
    p->uq++;
    pthread_cond_signal(&p->cv_upload);
}

static int cur_full(const lv_packer *p)
{
    return p->cur && lv_pack_builder_size(&p->cur->b) >= p->pack_size;
}

/* Reserve len bytes for blob j in the current pack and count the caller as its writer; close the pack
 * when full. Blocks while a full pack cannot be handed to the uploader: this is the back-pressure that
 * bounds memory (and, streamed, the packs being written). Returns the pack, with *dst the place of the
 * sealed bytes in memory or, streamed, *off their offset in the pack; NULL when the packer is dead (the
 * caller drops the blob and gets the error). */
static pack *reserve_locked(lv_packer *p, const job *j, size_t len, uint8_t **dst, uint64_t *off)
{
    for (;;) {
        while (cur_full(p) && p->uq >= p->qcap && !p->err)
            pthread_cond_wait(&p->cv_state, &p->mu);
        if (p->err)
            return NULL;
        if (cur_full(p))
            close_cur_locked(p);
        pack *k = p->cur ? p->cur : open_cur_locked(p);
        if (!k)
            return NULL;
        if (p->stream) {
            *off = lv_pack_builder_place(&k->b, j->type, j->id, len, j->raw_len);
        } else if (k->b.data.cap - k->b.data.len <= len) {
            /* Growing moves the buffer: only when no one is sealing into it. Rare: the buffer has
             * room for the pack size plus 2 MiB, so only a blob larger than that gets here. */
            if (k->writers > 0) {
                pthread_cond_wait(&p->cv_state, &p->mu);
                continue;
            }
            lv_buf_reserve(&k->b.data, len);
        }
        if (!p->stream)
            *dst = lv_pack_builder_reserve(&k->b, j->type, j->id, len, j->raw_len);
        k->writers++;
        if (cur_full(p) && p->uq < p->qcap)
            close_cur_locked(p); /* its uploader waits for the writers */
        return k;
    }
}

/* Compress (if it pays) and seal blob j, whose plaintext is data[0, n), into its place in the current
 * pack, without the lock held. In memory: straight into the pack buffer, one write of the sealed bytes
 * and no copy. Streamed: into whichever of the job's two buffers the payload is not in (the plaintext
 * copy once compressed, else the compression buffer), then written to the pack's temporary at the
 * blob's offset; several workers write disjoint ranges of one pack at once. */
static void seal_into_pack(lv_packer *p, job *j, const uint8_t *data, size_t n, ZSTD_CCtx *probe)
{
    uint8_t aad[1 + LV_HASH_LEN];
    lv_blob_aad(j->type, j->id, aad);
    int compress = p->r->params.compress_level > 0 && worth_compressing(probe, data, n);
    lv_seal_plan plan;
    lv_repo_seal_prepare(p->r, data, n, compress, j->sum, &j->zout, &plan);
    size_t len = lv_repo_seal_size(p->r, &plan);
    uint8_t *dst = NULL;
    uint64_t off = 0;
    pthread_mutex_lock(&p->mu);
    pack *k = reserve_locked(p, j, len, &dst, &off);
    pthread_mutex_unlock(&p->mu);
    if (!k)
        return;
    int rc = LV_OK;
    if (p->stream) {
        lv_buf *out = plan.len > 0 && plan.payload == j->zout.data ? &j->plain : &j->zout;
        lv_buf_reset(out);
        lv_buf_reserve(out, len);
        lv_repo_seal_to(p->r, aad, sizeof aad, &plan, out->data);
        rc = lv_store_stream_write(k->w, out->data, len, off);
        if (rc != LV_OK)
            lv_err_ctx("writing a pack");
    } else {
        lv_repo_seal_to(p->r, aad, sizeof aad, &plan, dst);
    }
    pthread_mutex_lock(&p->mu);
    if (rc != LV_OK)
        set_err_locked(p, rc, lv_errmsg());
    if (--k->writers == 0)
        pthread_cond_broadcast(&p->cv_state);
    pthread_mutex_unlock(&p->mu);
}

/* Give a sealed job back. Buffers are kept for the first max_jobs recycled jobs (fresh memory costs
 * page faults); beyond that, large ones are freed, so a burst of small blobs after large ones does not
 * leave many megabyte-sized buffers behind (the queue admits more jobs than max_jobs when they are
 * small, see lv_packer_add). */
static void job_put_locked(lv_packer *p, job *j)
{
    if (p->nfree >= p->max_jobs && j->plain.cap + j->zout.cap > JOB_KEEP_BYTES) {
        lv_buf_free(&j->plain);
        lv_buf_free(&j->zout);
    }
    j->next = p->jfree;
    p->jfree = j;
    p->nfree++;
}

static void *worker_main(void *arg)
{
    lv_packer *p = arg;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->jq_head && !p->stop)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (!p->jq_head)
            break;
        job *j = p->jq_head;
        p->jq_head = j->next;
        if (!p->jq_head)
            p->jq_tail = NULL;
        int dead = p->err != 0;
        pthread_mutex_unlock(&p->mu);
        if (!dead)
            seal_into_pack(p, j, j->plain.data, j->plain.len, cctx);
        pthread_mutex_lock(&p->mu);
        p->jobs--;
        p->jobs_bytes -= j->raw_len;
        job_put_locked(p, j);
        pthread_cond_broadcast(&p->cv_state);
    }
    pthread_mutex_unlock(&p->mu);
    ZSTD_freeCCtx(cctx);
    return NULL;
}

static void done_add_locked(lv_packer *p, const uint8_t id[LV_HASH_LEN], pack *k)
{
    if (p->ndone == p->done_cap) {
        p->done_cap = p->done_cap ? 2 * p->done_cap : 16;
        p->done = lv_xrealloc(p->done, p->done_cap * sizeof *p->done);
    }
    lv_index_pack *d = &p->done[p->ndone++];
    memcpy(d->id, id, LV_HASH_LEN);
    d->size = lv_pack_builder_size(&k->b);
    d->count = k->b.count;
    d->blobs = lv_xmalloc((size_t)k->b.count * sizeof *d->blobs);
    memcpy(d->blobs, k->b.entries, (size_t)k->b.count * sizeof *d->blobs);
    p->done_blobs += k->b.count;
    p->st.packs++;
    p->st.stored += lv_pack_builder_size(&k->b);
}

/* Seal the header of closed pack k (it names the pack) and store the pack: PUT it whole, or, streamed,
 * write the tail after its blobs and commit the temporary under its name (fsync, rename, fsync of the
 * directory). The stream is consumed either way. Without the lock. */
static int store_pack(lv_packer *p, pack *k, uint8_t id[LV_HASH_LEN])
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_builder_finish(p->r, &k->b, id);
    lv_pack_key(id, key);
    int rc;
    if (k->w) {
        lv_store_stream *w = k->w;
        k->w = NULL;
        rc = lv_store_stream_write(w, k->b.data.data, k->b.data.len, k->b.placed);
        if (rc == LV_OK)
            rc = lv_store_stream_commit(w, key, LV_PUT_IF_ABSENT);
        else
            lv_store_stream_abort(w);
    } else {
        rc = lv_store_put(p->r->store, key, k->b.data.data, k->b.data.len, LV_PUT_IF_ABSENT);
    }
    /* Content-addressed: a pack of this name holds the same blobs at the same places (a retried PUT, or
     * another process that packed the same blobs in the same order). */
    if (rc == LV_ERR_CONFLICT)
        rc = LV_OK;
    if (rc != LV_OK)
        lv_err_ctx("%s pack %s", p->stream ? "writing" : "uploading", key);
    else
        lv_debug("stored pack %s (%u blobs, %llu bytes)", key, k->b.count,
                 (unsigned long long)lv_pack_builder_size(&k->b));
    return rc;
}

/* Uploader threads (one per upload slot): each takes a closed pack and stores it (store_pack). With two
 * of them, S3 gets two connections, which it rewards (a single PUT stream leaves the link idle between
 * requests), and a local fsync of one pack overlaps the write of the other. */
static void *uploader_main(void *arg)
{
    lv_packer *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->uq_head && !p->stop)
            pthread_cond_wait(&p->cv_upload, &p->mu);
        if (!p->uq_head)
            break;
        pack *k = p->uq_head; /* still counted in uq until durable: that is the memory bound */
        p->uq_head = k->next;
        if (!p->uq_head)
            p->uq_tail = NULL;
        while (k->writers > 0) /* blobs still being sealed into it */
            pthread_cond_wait(&p->cv_state, &p->mu);
        int dead = p->err != 0;
        pthread_mutex_unlock(&p->mu);

        int rc = LV_OK;
        uint8_t id[LV_HASH_LEN];
        if (!dead) {
            rc = store_pack(p, k, id);
        } else {
            lv_store_stream_abort(k->w); /* its temporary goes: nothing will commit it */
            k->w = NULL;
        }

        pthread_mutex_lock(&p->mu);
        p->uq--;
        if (dead)
            ;
        else if (rc != LV_OK)
            set_err_locked(p, rc, lv_errmsg());
        else
            done_add_locked(p, id, k);
        pack_put_locked(p, k);
        /* A pack that filled up while the queue was full waits for this slot. */
        if (cur_full(p) && p->uq < p->qcap && !p->err)
            close_cur_locked(p);
        pthread_cond_broadcast(&p->cv_state);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

int lv_packer_new_opts(lv_repo *r, const lv_packer_opts *o, lv_packer **out)
{
    lv_packer_opts d = {0};
    if (!o)
        o = &d;
    lv_packer *p = lv_xcalloc(1, sizeof *p);
    p->r = r;
    p->pack_size = o->pack_size ? o->pack_size : r->params.pack_size;
    if (p->pack_size < 1024)
        p->pack_size = 1024;
    p->index_every = o->index_every ? o->index_every : 65536;
    p->nworkers = o->workers < 0 ? 0 : o->workers == 0 ? online_cpus() : o->workers;
    p->qcap = o->upload_queue > 0 ? o->upload_queue : lv_store_puts_in_flight(r->store);
    p->max_jobs = 2 * (p->nworkers ? p->nworkers : 1);
    p->stream = lv_store_can_stream(r->store) && !o->in_memory;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_upload, NULL);
    pthread_cond_init(&p->cv_state, NULL);
    if (p->nworkers == 0)
        p->probe = ZSTD_createCCtx();

    int rc = LV_OK;
    p->uploaders = lv_xcalloc((size_t)p->qcap, sizeof *p->uploaders);
    for (int i = 0; rc == LV_OK && i < p->qcap; i++) {
        if (pthread_create(&p->uploaders[i], NULL, uploader_main, p) != 0)
            rc = lv_err(LV_ERR_INTERNAL, "cannot start a pack upload thread");
        else
            p->nup_started++;
    }
    p->workers = lv_xcalloc((size_t)(p->nworkers ? p->nworkers : 1), sizeof *p->workers);
    for (int i = 0; rc == LV_OK && i < p->nworkers; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0)
            rc = lv_err(LV_ERR_INTERNAL, "cannot start a seal thread");
        else
            p->nstarted++;
    }
    if (rc != LV_OK) {
        lv_packer_free(p);
        return rc;
    }
    *out = p;
    return LV_OK;
}

int lv_packer_new(lv_repo *r, lv_packer **out) { return lv_packer_new_opts(r, NULL, out); }

static job *job_get_locked(lv_packer *p)
{
    job *j = p->jfree;
    if (j) {
        p->jfree = j->next;
        p->nfree--;
    } else
        j = lv_xcalloc(1, sizeof *j);
    j->next = NULL;
    return j;
}

/* Write one index for the packs uploaded so far, then record it in the catalog. Caller thread. */
static int write_index(lv_packer *p)
{
    pthread_mutex_lock(&p->mu);
    lv_index ix = {.npacks = p->ndone, .packs = p->done};
    p->done = NULL;
    p->ndone = p->done_cap = 0;
    p->done_blobs = 0;
    pthread_mutex_unlock(&p->mu);
    if (ix.npacks == 0)
        return LV_OK;

    uint8_t id[LV_HASH_LEN];
    int rc = lv_index_write(p->r, &ix, id);
    if (rc == LV_OK && p->r->cat) {
        rc = lv_catalog_begin(p->r->cat);
        if (rc == LV_OK)
            rc = lv_index_record(p->r->cat, id, &ix);
        if (rc == LV_OK)
            rc = lv_catalog_commit(p->r->cat);
        if (rc != LV_OK) {
            lv_catalog_rollback(p->r->cat);
            char hex[2 * LV_HASH_LEN + 1];
            lv_hex_encode(id, LV_HASH_LEN, hex);
            lv_err_ctx("index/%s is stored but could not be recorded in the catalog (run `labvault "
                       "catalog rebuild`)", hex);
        }
    }
    if (rc == LV_OK && p->r->cat) {
        /* In the catalog now: the catalog lookup dedups them from here on. */
        for (uint32_t i = 0; i < ix.npacks; i++)
            for (uint32_t k = 0; k < ix.packs[i].count; k++)
                idset_del(&p->pending, ix.packs[i].blobs[k].id);
    }
    pthread_mutex_lock(&p->mu);
    if (rc == LV_OK)
        p->st.indexes++;
    else
        set_err_locked(p, rc, lv_errmsg());
    pthread_mutex_unlock(&p->mu);
    lv_index_free(&ix);
    return rc;
}

static int check_blob_args(uint8_t type, size_t n)
{
    if (!lv_blob_type_valid(type))
        return lv_err(LV_ERR_INTERNAL, "lv_packer_add: invalid blob type %u", type);
    if (n > LV_BLOB_MAX)
        return lv_err(LV_ERR_INTERNAL, "lv_packer_add: blob of %zu bytes is above the %u-byte limit", n,
                      LV_BLOB_MAX);
    return LV_OK;
}

int lv_packer_add(lv_packer *p, uint8_t type, const void *data, size_t n, uint8_t id_out[LV_HASH_LEN],
                  uint64_t *new_bytes)
{
    if (new_bytes)
        *new_bytes = 0;
    int rc = check_blob_args(type, n); /* before hashing: a bogus length must not make us read n bytes */
    if (rc != LV_OK)
        return rc;
    uint8_t id[LV_HASH_LEN];
    lv_repo_blob_id(p->r, data, n, id);
    memcpy(id_out, id, LV_HASH_LEN);
    return lv_packer_add_id(p, type, data, n, id, NULL, new_bytes);
}

int lv_packer_add_id(lv_packer *p, uint8_t type, const void *data, size_t n, const uint8_t id[LV_HASH_LEN],
                     const uint8_t sum[LV_PLAIN_SUM_LEN], uint64_t *new_bytes)
{
    if (new_bytes)
        *new_bytes = 0;
    int rc0 = check_blob_args(type, n);
    if (rc0 != LV_OK)
        return rc0;
    pthread_mutex_lock(&p->mu);
    int err = p->err ? raise_err_locked(p) : LV_OK;
    pthread_mutex_unlock(&p->mu);
    if (err)
        return err;

    int known = idset_has(&p->pending, id);
    if (!known && p->r->cat) {
        lv_blob_loc loc;
        int rc = lv_catalog_blob_find(p->r->cat, id, &loc);
        if (rc == LV_OK)
            known = loc.indexed; /* never against an unindexed pack: prune may be deleting it */
        else if (rc != LV_ERR_NOT_FOUND)
            return rc;
    }
    if (known) {
        pthread_mutex_lock(&p->mu);
        p->st.blobs_dedup++;
        p->st.raw_dedup += n;
        pthread_mutex_unlock(&p->mu);
        return LV_OK;
    }
    idset_add(&p->pending, id);

    /* Back-pressure: always room for max_jobs jobs; beyond that, small blobs may queue up to
     * JOBS_BYTES_PER_WORKER per worker (bounded by JOBS_MAX), so a run of small files does not make the
     * caller and the seal workers take turns waiting on each other. */
    pthread_mutex_lock(&p->mu);
    uint64_t budget = JOBS_BYTES_PER_WORKER * (uint64_t)(p->nworkers ? p->nworkers : 1);
    while (p->jobs >= p->max_jobs && !p->err && (p->jobs >= JOBS_MAX || p->jobs_bytes + n > budget))
        pthread_cond_wait(&p->cv_state, &p->mu);
    job *j = job_get_locked(p);
    j->type = type;
    j->raw_len = (uint32_t)n; /* before sealing: a dead packer's worker skips sealing but still counts */
    memcpy(j->id, id, LV_HASH_LEN);
    lv_buf_reset(&j->plain);
    pthread_mutex_unlock(&p->mu);
    if (sum)
        memcpy(j->sum, sum, LV_PLAIN_SUM_LEN);
    else /* from the bytes just hashed, before the copy the seal workers compress */
        lv_repo_plain_sum(data, n, j->sum);
    if (p->nworkers > 0) /* the caller may reuse data as soon as we return */
        lv_buf_append(&j->plain, data, n);

    pthread_mutex_lock(&p->mu);
    p->st.blobs_new++;
    p->st.raw_new += n;
    if (p->nworkers == 0) {
        pthread_mutex_unlock(&p->mu);
        seal_into_pack(p, j, data, n, p->probe);
        pthread_mutex_lock(&p->mu);
        job_put_locked(p, j);
    } else {
        if (p->jq_tail)
            p->jq_tail->next = j;
        else
            p->jq_head = j;
        p->jq_tail = j;
        p->jobs++;
        p->jobs_bytes += n;
        pthread_cond_signal(&p->cv_work);
    }
    int rc = p->err ? raise_err_locked(p) : LV_OK;
    int index_now = rc == LV_OK && p->done_blobs >= p->index_every;
    pthread_mutex_unlock(&p->mu);
    if (rc == LV_OK && index_now)
        rc = write_index(p);
    if (rc == LV_OK && new_bytes)
        *new_bytes = n;
    return rc;
}

int lv_packer_flush(lv_packer *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->jobs > 0 && !p->err)
        pthread_cond_wait(&p->cv_state, &p->mu);
    if (!p->err && p->cur && p->cur->b.count > 0) {
        while (p->uq >= p->qcap && !p->err)
            pthread_cond_wait(&p->cv_state, &p->mu);
        if (!p->err && p->cur)
            close_cur_locked(p);
    }
    while (p->uq > 0 && !p->err)
        pthread_cond_wait(&p->cv_state, &p->mu);
    int rc = p->err ? raise_err_locked(p) : LV_OK;
    pthread_mutex_unlock(&p->mu);
    if (rc == LV_OK)
        rc = write_index(p);
    return rc;
}

void lv_packer_get_stats(lv_packer *p, lv_packer_stats *st)
{
    pthread_mutex_lock(&p->mu);
    *st = p->st;
    pthread_mutex_unlock(&p->mu);
}

static void free_jobs(job *j)
{
    while (j) {
        job *next = j->next;
        lv_buf_free(&j->plain);
        lv_buf_free(&j->zout);
        free(j);
        j = next;
    }
}

static void free_packs(pack *k)
{
    while (k) {
        pack *next = k->next;
        lv_store_stream_abort(k->w);
        lv_pack_builder_free(&k->b);
        free(k);
        k = next;
    }
}

void lv_packer_free(lv_packer *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    /* Unflushed work is abandoned: make every thread skip it rather than upload it. */
    if (!p->err)
        set_err_locked(p, LV_ERR_INTERNAL, "packer closed");
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_upload);
    pthread_cond_broadcast(&p->cv_state);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nstarted; i++)
        pthread_join(p->workers[i], NULL);
    for (int i = 0; i < p->nup_started; i++)
        pthread_join(p->uploaders[i], NULL);
    free(p->workers);
    free(p->uploaders);
    free_jobs(p->jq_head);
    free_jobs(p->jfree);
    if (p->cur)
        free_packs(p->cur);
    free_packs(p->uq_head);
    free_packs(p->pfree);
    lv_index ix = {.npacks = p->ndone, .packs = p->done};
    lv_index_free(&ix);
    idset_free(&p->pending);
    ZSTD_freeCCtx(p->probe);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_upload);
    pthread_cond_destroy(&p->cv_state);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---------------------------------------------------------------------------------------------------
 * Reading. */

/* How a blob's plaintext is checked beyond its seal's tag (which binds type and id). */
enum verify {
    VERIFY_TAG,    /* the tag only (lv_blob_read_unhashed); a sum sealed with the blob is checked all the same */
    VERIFY_SUM,    /* the plaintext sum sealed with the blob; the id recomputed when it has none (older blobs) */
    VERIFY_ID,     /* the id recomputed, and the sum when there is one (check --read-data) */
};

static int blob_open(const lv_repo *r, uint8_t type, const uint8_t id[LV_HASH_LEN], const void *sealed, size_t n,
                     uint32_t raw_length, lv_buf *out, const char *what, enum verify verify)
{
    uint8_t aad[1 + LV_HASH_LEN];
    lv_blob_aad(type, id, aad);
    size_t mark = out->len;
    int summed;
    int rc = lv_repo_unseal_summed(r, aad, sizeof aad, sealed, n, out, what, &summed);
    if (rc != LV_OK) {
        out->len = mark;
        /* Once the repository is open, a tag that fails means the bytes changed. */
        return rc == LV_ERR_AUTH ? lv_err(LV_ERR_CORRUPT, "%s", lv_errmsg()) : rc;
    }
    size_t got = out->len - mark;
    if (got != raw_length) {
        out->len = mark;
        return lv_err(LV_ERR_CORRUPT, "%s: %zu bytes of plaintext, the index says %u", what, got,
                      raw_length);
    }
    if (verify == VERIFY_TAG || (verify == VERIFY_SUM && summed))
        return LV_OK;
    uint8_t check[LV_HASH_LEN];
    lv_repo_blob_id(r, out->data + mark, got, check);
    if (memcmp(check, id, LV_HASH_LEN) != 0) {
        out->len = mark;
        return lv_err(LV_ERR_CORRUPT, "%s: plaintext does not match the blob id", what);
    }
    return LV_OK;
}

int lv_blob_open(const lv_repo *r, uint8_t type, const uint8_t id[LV_HASH_LEN], const void *sealed,
                 size_t n, uint32_t raw_length, lv_buf *out, const char *what)
{
    return blob_open(r, type, id, sealed, n, raw_length, out, what, VERIFY_SUM);
}

int lv_blob_open_full(const lv_repo *r, uint8_t type, const uint8_t id[LV_HASH_LEN], const void *sealed, size_t n,
                      uint32_t raw_length, lv_buf *out, const char *what)
{
    return blob_open(r, type, id, sealed, n, raw_length, out, what, VERIFY_ID);
}

static int blob_read(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out,
                     enum verify verify)
{
    char key[LV_PACK_KEY_LEN], hex[2 * LV_HASH_LEN + 1], what[160];
    lv_pack_key(loc->pack, key);
    lv_hex_encode(id, LV_HASH_LEN, hex);
    snprintf(what, sizeof what, "blob %s in pack %s", hex, key);
    if (loc->length < LV_SEALED_MIN)
        return lv_err(LV_ERR_CORRUPT, "%s: impossible length %u in the catalog", what, loc->length);
    lv_buf sealed = LV_BUF_INIT;
    int rc = lv_store_get(r->store, key, loc->offset, loc->length, &sealed);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_CORRUPT, "pack %s is missing from the repository, but the index lists blob "
                    "%s in it", key, hex);
    else if (rc == LV_ERR_CORRUPT)
        rc = lv_err_ctx("%s (offset %llu, %u bytes): pack truncated or damaged", what,
                        (unsigned long long)loc->offset, loc->length);
    else if (rc != LV_OK)
        lv_err_ctx("reading %s", what);
    else if (sealed.len != loc->length)
        rc = lv_err(LV_ERR_CORRUPT, "%s: the store returned %zu bytes, expected %u (pack truncated?)",
                    what, sealed.len, loc->length);
    if (rc == LV_OK)
        rc = blob_open(r, loc->type, id, sealed.data, sealed.len, loc->raw_length, out, what, verify);
    lv_buf_free(&sealed);
    return rc;
}

int lv_blob_read(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out)
{
    return blob_read(r, id, loc, out, VERIFY_SUM);
}

int lv_blob_read_unhashed(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out)
{
    return blob_read(r, id, loc, out, VERIFY_TAG);
}

int lv_blob_get(const lv_repo *r, const uint8_t id[LV_HASH_LEN], lv_buf *out)
{
    char hex[2 * LV_HASH_LEN + 1];
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "lv_blob_get: no catalog attached to the repository handle");
    lv_blob_loc loc;
    int rc = lv_catalog_blob_find(r->cat, id, &loc);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_hex_encode(id, LV_HASH_LEN, hex);
        return lv_err(LV_ERR_NOT_FOUND, "blob %s is not in the catalog (never stored, or the catalog "
                      "is stale: `labvault catalog rebuild`)", hex);
    }
    if (rc != LV_OK)
        return rc;
    return lv_blob_read(r, id, &loc, out);
}
