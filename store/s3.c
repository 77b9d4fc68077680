/* The S3 driver: lv_store operations as S3 requests (store.h has the contract, s3_http.h the request
 * machinery: signing, retries, error mapping; s3_multipart.h the large puts). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "store/drivers.h"
#include "common/parallel.h"
#include "store/s3.h"
#include "store/s3_codec.h"
#include "store/s3_http.h"
#include "store/s3_multipart.h"
#include "store/s3_xml.h"

#define MIB (1024ull * 1024ull)
#define MAX_SINGLE_PUT (5ull * 1024 * MIB) /* S3's limit for one PUT */
#define DELETE_BATCH 1000                  /* S3's limit for one DeleteObjects */

static s3_client *S(lv_store *s) { return (s3_client *)s; }

static char *full_key(const s3_client *c, const char *key) { return lv_xasprintf("%s%s", c->prefix, key); }

/* ---- put ------------------------------------------------------------------------------------------ */

static int put_single(s3_client *c, const char *okey, const void *data, size_t len, int flags)
{
    s3_req req = {.method = "PUT", .key = okey, .body = data, .body_len = len,
                  .if_none_match = (flags & LV_PUT_IF_ABSENT) != 0};
    s3_resp resp = {0};
    int rc = s3_perform(c, &req, &resp);
    if (rc == LV_ERR_CONFLICT && resp.attempts > 1) {
        /* An earlier attempt may have stored the object and lost only its answer: then the object is
         * ours, byte for byte. Anything else there is a real conflict. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lv_errmsg());
        lv_buf got = LV_BUF_INIT;
        s3_req g = {.method = "GET", .key = okey, .out = &got};
        s3_resp gr = {0};
        if (s3_perform(c, &g, &gr) == LV_OK && got.len == len && memcmp(got.data, data, len) == 0) {
            lv_info("s3://%s/%s: created by an earlier attempt whose answer was lost", c->bucket, okey);
            rc = LV_OK;
        } else {
            rc = lv_err(LV_ERR_CONFLICT, "%s", msg);
        }
        s3_resp_free(&gr);
        lv_buf_free(&got);
    }
    s3_resp_free(&resp);
    return rc;
}

static int s3_head_key(s3_client *c, const char *okey, uint64_t *size)
{
    s3_req req = {.method = "HEAD", .key = okey};
    s3_resp resp = {0};
    int rc = s3_perform(c, &req, &resp);
    if (rc == LV_OK && resp.content_length < 0)
        rc = lv_err(LV_ERR_CORRUPT, "S3 HEAD s3://%s/%s: no Content-Length", c->bucket, okey);
    else if (rc == LV_OK)
        *size = (uint64_t)resp.content_length;
    s3_resp_free(&resp);
    return rc;
}

static int s3_put(lv_store *s, const char *key, const void *data, size_t len, int flags)
{
    s3_client *c = S(s);
    char *okey = full_key(c, key);
    int rc;
    if (len <= c->mp_threshold || ((flags & LV_PUT_IF_ABSENT) && len <= MAX_SINGLE_PUT)) {
        /* Create-only puts stay single up to S3's limit: If-None-Match makes them atomic there. */
        rc = put_single(c, okey, data, len, flags);
    } else {
        rc = LV_OK;
        if (flags & LV_PUT_IF_ABSENT) {
            /* Beyond 5 GiB there is no conditional create; check first (a race remains, documented). */
            uint64_t sz;
            rc = s3_head_key(c, okey, &sz);
            if (rc == LV_OK)
                rc = lv_err(LV_ERR_CONFLICT, "s3://%s/%s already exists", c->bucket, okey);
            else if (rc == LV_ERR_NOT_FOUND)
                rc = LV_OK;
        }
        if (rc == LV_OK)
            rc = s3_put_multipart(c, okey, data, len);
    }
    free(okey);
    return rc;
}

/* ---- get / head ----------------------------------------------------------------------------------- */

static int get_check(const s3_req *req, s3_resp *r, void *arg)
{
    (void)arg;
    const char *k = r->what;
    if (req->range && r->status != 206)
        return lv_err(LV_ERR_CORRUPT, "%s: the server ignored the Range header (HTTP %ld)", k, r->status);
    if (r->content_length >= 0 && r->received != (uint64_t)r->content_length) {
        lv_err(LV_ERR_CORRUPT, "%s: %zu bytes received, %lld announced", k, r->received,
               (long long)r->content_length);
        return S3_RETRY_SHORT;
    }
    if (req->range && req->range_len && r->received != req->range_len)
        /* The whole announced body came, it is just shorter: the range runs past the object's end. */
        return lv_err(LV_ERR_CORRUPT, "%s: range %llu+%llu is beyond the end of the object", k,
                      (unsigned long long)req->range_off, (unsigned long long)req->range_len);
    return LV_OK;
}

static int s3_get(lv_store *s, const char *key, uint64_t off, uint64_t len, lv_buf *out)
{
    s3_client *c = S(s);
    char *okey = full_key(c, key);
    s3_req req = {.method = "GET", .key = okey, .out = out, .range = off > 0 || len > 0,
                  .range_off = off, .range_len = len, .check = get_check};
    s3_resp resp = {0};
    int rc = s3_perform(c, &req, &resp);
    s3_resp_free(&resp);
    free(okey);
    return rc;
}

static int s3_head(lv_store *s, const char *key, uint64_t *size)
{
    s3_client *c = S(s);
    char *okey = full_key(c, key);
    int rc = s3_head_key(c, okey, size);
    free(okey);
    return rc;
}

/* ---- list ----------------------------------------------------------------------------------------- */

typedef struct page_entry {
    char *key;
    uint64_t size;
} page_entry;

typedef struct page {
    page_entry *v;
    size_t n;
    int truncated;
    char *token;
} page;

static void page_free(page *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].key);
    free(p->v);
    free(p->token);
    *p = (page){0};
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!*s)
        return -1;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 0;
}

/* Parse one ListBucketResult completely before any callback runs, so a malformed page (retried as a
 * whole) never delivers half its keys twice. */
static int parse_page(const s3_client *c, const char *what, const char *b, const char *e, page *p)
{
    lv_buf t = LV_BUF_INIT;
    const char *pos = b, *vs, *ve;
    int r, rc = LV_OK;
    size_t plen = strlen(c->prefix);
    while (rc == LV_OK && (r = s3_xml_next(&pos, e, "Contents", &vs, &ve)) == 1) {
        page_entry pe = {0};
        if (s3_xml_get(vs, ve, "Key", &t) != 1 || strncmp(lv_buf_cstr(&t), c->prefix, plen) != 0 ||
            t.len == plen) {
            rc = lv_err(LV_ERR_CORRUPT, "%s: bad <Key> in the listing", what);
            break;
        }
        pe.key = lv_xstrdup((char *)t.data + plen);
        if (s3_xml_get(vs, ve, "Size", &t) != 1 || parse_u64(lv_buf_cstr(&t), &pe.size) != 0) {
            free(pe.key);
            rc = lv_err(LV_ERR_CORRUPT, "%s: bad <Size> in the listing", what);
            break;
        }
        p->v = lv_xrealloc(p->v, (p->n + 1) * sizeof *p->v);
        p->v[p->n++] = pe;
    }
    if (rc == LV_OK && r < 0)
        rc = lv_err(LV_ERR_CORRUPT, "%s: malformed listing", what);
    if (rc == LV_OK) {
        p->truncated = s3_xml_get(b, e, "IsTruncated", &t) == 1 && strcmp(lv_buf_cstr(&t), "true") == 0;
        if (p->truncated) {
            if (s3_xml_get(b, e, "NextContinuationToken", &t) != 1 || t.len == 0)
                rc = lv_err(LV_ERR_CORRUPT, "%s: truncated listing without a continuation token", what);
            else
                p->token = lv_xstrdup(lv_buf_cstr(&t));
        }
    }
    lv_buf_free(&t);
    return rc;
}

typedef struct list_ctx {
    const s3_client *c;
    page *p;
} list_ctx;

static int list_check(const s3_req *req, s3_resp *r, void *arg)
{
    list_ctx *lc = arg;
    const char *b = (const char *)r->body.data, *e = b + r->body.len, *what = r->what;
    (void)req;
    if (!r->body.len || !memmem(b, r->body.len, "<ListBucketResult", 17)) {
        lv_err(LV_ERR_CORRUPT, "%s: the answer is not a ListBucketResult", what);
        return S3_RETRY_SHORT;
    }
    page_free(lc->p);
    int rc = parse_page(lc->c, what, b, e, lc->p);
    if (rc != LV_OK) {
        page_free(lc->p);
        return S3_RETRY_SHORT; /* a cut or garbled page: fetch it again */
    }
    return LV_OK;
}

static int s3_list(lv_store *s, const char *prefix, lv_store_list_cb cb, void *arg)
{
    s3_client *c = S(s);
    char *fp = full_key(c, prefix);
    char *token = NULL;
    int rc = LV_OK;
    for (;;) {
        /* Query parameters in sorted order, values encoded: libcurl signs them as written. */
        lv_buf q = LV_BUF_INIT;
        if (token) {
            lv_buf_append_str(&q, "continuation-token=");
            s3_uri_encode(&q, token, 0);
            lv_buf_append_str(&q, "&");
        }
        lv_buf_printf(&q, "list-type=2&max-keys=%d&prefix=", c->page_size);
        s3_uri_encode(&q, fp, 0);
        page p = {0};
        list_ctx lc = {c, &p};
        s3_req req = {.method = "GET", .query = lv_buf_cstr(&q), .check = list_check, .check_arg = &lc};
        s3_resp resp = {0};
        rc = s3_perform(c, &req, &resp);
        s3_resp_free(&resp);
        lv_buf_free(&q);
        for (size_t i = 0; rc == LV_OK && i < p.n; i++)
            rc = cb(arg, p.v[i].key, p.v[i].size);
        int more = rc == LV_OK && p.truncated;
        if (more && token && strcmp(token, p.token) == 0) {
            /* A server that hands back the token it was given would make us loop forever. */
            rc = lv_err(LV_ERR_CORRUPT, "S3 list s3://%s: the server repeated a continuation token",
                        c->bucket);
            more = 0;
        }
        free(token);
        token = more ? p.token : NULL;
        if (more)
            p.token = NULL;
        page_free(&p);
        if (!more)
            break;
    }
    free(token);
    free(fp);
    return rc;
}

/* ---- delete --------------------------------------------------------------------------------------- */

static int s3_del(lv_store *s, const char *key)
{
    s3_client *c = S(s);
    char *okey = full_key(c, key);
    s3_req req = {.method = "DELETE", .key = okey};
    s3_resp resp = {0};
    int rc = s3_perform(c, &req, &resp);
    /* S3 answers 204 for a missing key anyway; some servers say 404 NoSuchKey. A missing bucket is
     * a real error. */
    if (rc == LV_ERR_NOT_FOUND && strcmp(resp.code, "NoSuchBucket") != 0)
        rc = LV_OK;
    s3_resp_free(&resp);
    free(okey);
    return rc;
}

typedef struct del_ctx {
    s3_client *c;
    const char *const *keys;
    size_t n;
} del_ctx;

static int delete_check(const s3_req *req, s3_resp *r, void *arg)
{
    const del_ctx *d = arg;
    (void)req;
    const char *b = (const char *)r->body.data, *e = b + r->body.len;
    lv_buf code = LV_BUF_INIT, key = LV_BUF_INIT;
    int rc = LV_OK;
    const char *pos = b, *vs, *ve;
    int found;
    /* Quiet mode lists only failures; a 200 whose whole body is <Error> lands here too. */
    while (rc == LV_OK && (found = s3_xml_next(&pos, e, "Error", &vs, &ve)) == 1) {
        if (s3_xml_get(vs, ve, "Code", &code) != 1)
            continue;
        if (strcmp(lv_buf_cstr(&code), "NoSuchKey") == 0)
            continue; /* already gone: that is what we wanted */
        int k = s3_code_class(lv_buf_cstr(&code));
        if (s3_xml_get(vs, ve, "Key", &key) != 1)
            lv_buf_reset(&key);
        lv_err(k == S3_RETRY ? LV_ERR_UNREACHABLE : k, "%s: cannot delete s3://%s/%s: %s", r->what,
               d->c->bucket, lv_buf_cstr(&key), lv_buf_cstr(&code));
        rc = k;
    }
    if (rc == LV_OK && !memmem(b, r->body.len, "<DeleteResult", 13)) {
        lv_err(LV_ERR_CORRUPT, "%s: the answer is not a DeleteResult", r->what);
        rc = S3_RETRY_SHORT;
    }
    lv_buf_free(&code);
    lv_buf_free(&key);
    return rc;
}

static int delete_batch(void *arg, size_t bi)
{
    del_ctx *d = arg;
    size_t from = bi * DELETE_BATCH, to = from + DELETE_BATCH < d->n ? from + DELETE_BATCH : d->n;
    lv_buf x = LV_BUF_INIT;
    lv_buf_append_str(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
    for (size_t i = from; i < to; i++) {
        lv_buf_append_str(&x, "<Object><Key>");
        s3_xml_escape(&x, d->c->prefix);
        s3_xml_escape(&x, d->keys[i]);
        lv_buf_append_str(&x, "</Key></Object>");
    }
    lv_buf_append_str(&x, "</Delete>");
    char md5[25];
    s3_md5_base64(x.data, x.len, md5); /* DeleteObjects requires Content-MD5 */
    s3_req req = {.method = "POST", .query = "delete=", .body = x.data, .body_len = x.len,
                  .content_type = "application/xml", .content_md5 = md5, .check = delete_check,
                  .check_arg = d};
    s3_resp resp = {0};
    int rc = s3_perform(d->c, &req, &resp);
    if (rc != LV_OK)
        rc = lv_err_ctx("deleting %zu keys from %s", to - from, d->c->base.desc);
    s3_resp_free(&resp);
    lv_buf_free(&x);
    return rc;
}

static int s3_del_many(lv_store *s, const char *const *keys, size_t n)
{
    del_ctx d = {S(s), keys, n};
    return lv_parallel_for(d.c->concurrency, (n + DELETE_BATCH - 1) / DELETE_BATCH, delete_batch, &d);
}

/* ---- bucket --------------------------------------------------------------------------------------- */

static int s3_create(lv_store *s)
{
    s3_client *c = S(s);
    lv_buf x = LV_BUF_INIT;
    /* us-east-1 is the one region that must not be named in the request. */
    if (strcmp(c->region, "us-east-1") != 0)
        lv_buf_printf(&x, "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                          "</CreateBucketConfiguration>", c->region);
    s3_req req = {.method = "PUT", .body = x.data, .body_len = x.len};
    s3_resp resp = {0};
    int rc = s3_perform(c, &req, &resp);
    if (rc == LV_ERR_CONFLICT && strcmp(resp.code, "BucketAlreadyOwnedByYou") == 0)
        rc = LV_OK;
    s3_resp_free(&resp);
    lv_buf_free(&x);
    return rc;
}

static void s3_close(lv_store *s);
static const lv_store_ops s3_ops = {
    .put = s3_put,
    .get = s3_get,
    .head = s3_head,
    .list = s3_list,
    .del = s3_del,
    .del_many = s3_del_many,
    .close = s3_close,
    .create = s3_create,
};

int lv_s3_delete_bucket(lv_store *s)
{
    if (s->ops != &s3_ops)
        return lv_err(LV_ERR_CONFIG, "%s is not an S3 store", s->desc);
    s3_req req = {.method = "DELETE"};
    s3_resp resp = {0};
    int rc = s3_perform(S(s), &req, &resp);
    s3_resp_free(&resp);
    return rc;
}

/* ---- open / close --------------------------------------------------------------------------------- */

static void free_secret(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

static void s3_close(lv_store *s)
{
    s3_client *c = S(s);
    s3_http_cleanup(c);
    free_secret(c->access_key);
    free_secret(c->secret_key);
    free_secret(c->token_header);
    free(c->object_url);
    free(c->bucket_url);
    free(c->endpoint);
    free(c->bucket);
    free(c->prefix);
    free(c->region);
    free(c->sigv4);
    free(c->ca_file);
    free(c->base.desc);
    free(c);
}

static int valid_bucket(const char *b, int dns)
{
    size_t n = strlen(b);
    if (n < 3 || n > (dns ? 63u : 255u))
        return 0;
    for (const char *p = b; *p; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
                 (!dns && ((ch >= 'A' && ch <= 'Z') || ch == '_'));
        if (!ok)
            return 0;
    }
    return 1;
}

static int valid_region(const char *r)
{
    if (!*r || strlen(r) > 32)
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-' || *r == '_'))
            return 0;
    return 1;
}

static int pick(int v, int def) { return v ? v : def; }

int lv_s3_open(const char *bucket, const char *prefix, const lv_store_opts *o, lv_store **out)
{
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    int vhost = o->path_style < 0;
    if (!valid_region(region))
        return lv_err(LV_ERR_CONFIG, "invalid S3 region \"%s\"", region);
    if (!valid_bucket(bucket, vhost))
        return lv_err(LV_ERR_CONFIG, "invalid S3 bucket name \"%s\"%s", bucket,
                      vhost ? " (virtual-hosted addressing needs a DNS-style name)" : "");
    if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key)
        return lv_err(LV_ERR_CONFIG, "s3://%s: no S3 access key or secret key configured", bucket);
    if (o->part_size && o->part_size < 5 * MIB)
        return lv_err(LV_ERR_CONFIG, "S3 part size %llu is below S3's minimum of 5 MiB",
                      (unsigned long long)o->part_size);
    if (o->part_size > MAX_SINGLE_PUT)
        return lv_err(LV_ERR_CONFIG, "S3 part size above 5 GiB");

    char *ep = o->endpoint && *o->endpoint ? lv_xstrdup(o->endpoint)
                                           : lv_xasprintf("https://s3.%s.amazonaws.com", region);
    size_t el = strlen(ep);
    while (el > 0 && ep[el - 1] == '/')
        ep[--el] = '\0';
    const char *host = strncmp(ep, "http://", 7) == 0 ? ep + 7 : strncmp(ep, "https://", 8) == 0 ? ep + 8 : NULL;
    if (!host || !*host || strpbrk(host, "/?#@ ")) {
        int rc = lv_err(LV_ERR_CONFIG, "invalid S3 endpoint \"%s\" (expected http[s]://host[:port])", ep);
        free(ep);
        return rc;
    }
    if (strncmp(ep, "http://", 7) == 0 && !o->endpoint)
        lv_warn("S3 endpoint %s is plain HTTP", ep);

    s3_client *c = lv_xcalloc(1, sizeof *c);
    c->base.ops = &s3_ops;
    c->base.desc = *prefix ? lv_xasprintf("s3://%s/%s", bucket, prefix) : lv_xasprintf("s3://%s", bucket);
    c->endpoint = ep;
    c->bucket = lv_xstrdup(bucket);
    c->prefix = *prefix ? lv_xasprintf("%s/", prefix) : lv_xstrdup("");
    c->region = lv_xstrdup(region);
    c->sigv4 = lv_xasprintf("aws:amz:%s:s3", region);
    c->access_key = lv_xstrdup(o->access_key);
    c->secret_key = lv_xstrdup(o->secret_key);
    if (o->session_token && *o->session_token)
        c->token_header = lv_xasprintf("x-amz-security-token: %s", o->session_token);
    c->ca_file = o->ca_file && *o->ca_file ? lv_xstrdup(o->ca_file) : NULL;
    c->verify_tls = o->verify_tls < 0 ? -1 : 1;
    if (c->verify_tls < 0)
        lv_warn("%s: TLS certificate verification is disabled", c->base.desc);
    size_t schemelen = (size_t)(host - ep);
    if (vhost) {
        c->object_url = lv_xasprintf("%.*s%s.%s/", (int)schemelen, ep, bucket, host);
        c->bucket_url = lv_xstrdup(c->object_url);
    } else {
        c->object_url = lv_xasprintf("%s/%s/", ep, bucket);
        c->bucket_url = lv_xasprintf("%s/%s", ep, bucket);
    }
    c->concurrency = pick(o->concurrency, 4);
    c->concurrency = c->concurrency < 1 ? 1 : c->concurrency > 64 ? 64 : c->concurrency;
    c->mp_threshold = o->multipart_threshold ? o->multipart_threshold : 64 * MIB;
    c->part_size = o->part_size ? o->part_size : 16 * MIB;
    c->max_retries = o->max_retries < 0 ? 0 : pick(o->max_retries, 6);
    c->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 200;
    c->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
    c->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10;
    c->deadline_s = o->deadline_s > 0 ? o->deadline_s : 0;
    c->deadline = c->deadline_s ? lv_mono_s() + c->deadline_s : 0;
    c->page_size = o->list_page_size > 0 && o->list_page_size <= 1000 ? o->list_page_size : 1000;
    s3_http_init(c);
    *out = &c->base;
    return LV_OK;
}
