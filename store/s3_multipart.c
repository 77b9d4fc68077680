#include "store/s3_multipart.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/parallel.h"
#include "store/s3_codec.h"
#include "store/s3_xml.h"

#define MAX_PARTS 10000 /* S3's limit */
#define MIB (1024u * 1024u)

typedef struct mp {
    s3_client *c;
    const char *key;
    char *upload_q;  /* "uploadId=<encoded id>" */
    const uint8_t *data;
    size_t len, part, nparts;
    char (*etag)[132];
} mp;

/* A 200 answer must be the document we asked for; a 200 carrying <Error> is a failure (S3 sends one
 * for CompleteMultipartUpload when it fails after the status line went out). */
static int doc_check(s3_resp *r, const char *root)
{
    const char *what = r->what;
    const char *b = (const char *)r->body.data, *e = b + r->body.len;
    lv_buf code = LV_BUF_INIT;
    int rc = LV_OK;
    const char *pos = b, *vs, *ve;
    if (s3_xml_next(&pos, e, "Error", &vs, &ve) == 1 && s3_xml_get(vs, ve, "Code", &code) == 1) {
        rc = s3_code_class(lv_buf_cstr(&code));
        lv_err(rc == S3_RETRY ? LV_ERR_UNREACHABLE : rc, "%s: error in a 200 answer: %s", what,
               lv_buf_cstr(&code));
    } else if (!r->body.len || !memmem(b, r->body.len, root, strlen(root))) {
        rc = lv_err(LV_ERR_CORRUPT, "%s: unexpected answer (no %s)", what, root);
    }
    lv_buf_free(&code);
    return rc;
}

static int initiate_check(const s3_req *req, s3_resp *r, void *arg)
{
    (void)arg;
    (void)req;
    return doc_check(r, "<InitiateMultipartUploadResult");
}

static int complete_check(const s3_req *req, s3_resp *r, void *arg)
{
    (void)arg;
    (void)req;
    return doc_check(r, "<CompleteMultipartUploadResult");
}

static int put_part(void *arg, size_t i)
{
    mp *m = arg;
    size_t off = i * m->part, n = m->len - off < m->part ? m->len - off : m->part;
    char *q = lv_xasprintf("partNumber=%zu&%s", i + 1, m->upload_q); /* sorted: p < u */
    s3_req req = {.method = "PUT", .key = m->key, .query = q, .body = m->data + off, .body_len = n};
    s3_resp resp = {0};
    int rc = s3_perform(m->c, &req, &resp);
    if (rc == LV_OK && !resp.etag[0])
        rc = lv_err(LV_ERR_CORRUPT, "S3 PUT s3://%s/%s part %zu: no ETag in the answer", m->c->bucket,
                    m->key, i + 1);
    if (rc == LV_OK)
        memcpy(m->etag[i], resp.etag, sizeof m->etag[i]);
    s3_resp_free(&resp);
    free(q);
    return rc;
}

static int initiate(mp *m)
{
    s3_req req = {.method = "POST", .key = m->key, .query = "uploads=", .check = initiate_check};
    s3_resp resp = {0};
    int rc = s3_perform(m->c, &req, &resp);
    if (rc == LV_OK) {
        lv_buf id = LV_BUF_INIT, q = LV_BUF_INIT;
        const char *b = (const char *)resp.body.data;
        if (s3_xml_get(b, b + resp.body.len, "UploadId", &id) != 1 || id.len == 0) {
            rc = lv_err(LV_ERR_CORRUPT, "S3 POST s3://%s/%s?uploads: no UploadId in the answer", m->c->bucket,
                        m->key);
        } else {
            lv_buf_append_str(&q, "uploadId=");
            s3_uri_encode(&q, lv_buf_cstr(&id), 0);
            m->upload_q = lv_buf_cstr(&q);
        }
        lv_buf_free(&id);
    }
    s3_resp_free(&resp);
    return rc;
}

static int complete(mp *m)
{
    lv_buf x = LV_BUF_INIT;
    lv_buf_append_str(&x, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < m->nparts; i++) {
        lv_buf_printf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        s3_xml_escape(&x, m->etag[i]);
        lv_buf_append_str(&x, "</ETag></Part>");
    }
    lv_buf_append_str(&x, "</CompleteMultipartUpload>");
    s3_req req = {.method = "POST", .key = m->key, .query = m->upload_q, .body = x.data,
                  .body_len = x.len, .content_type = "application/xml", .check = complete_check};
    s3_resp resp = {0};
    int rc = s3_perform(m->c, &req, &resp);
    /* A retried complete whose first attempt did finish server-side finds the upload gone; the HEAD
     * check that follows decides whether the object is ours. */
    if (rc == LV_ERR_NOT_FOUND && resp.attempts > 1 && strcmp(resp.code, "NoSuchUpload") == 0) {
        lv_info("%s: upload already completed by an earlier attempt; checking the object", m->key);
        rc = LV_OK;
    }
    s3_resp_free(&resp);
    lv_buf_free(&x);
    return rc;
}

static void abort_upload(mp *m)
{
    /* Keep the error that made us abort: the abort's own outcome must not replace it. */
    int code = lv_errcode();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    s3_req req = {.method = "DELETE", .key = m->key, .query = m->upload_q};
    s3_resp resp = {0};
    int rc = s3_perform(m->c, &req, &resp);
    if (rc != LV_OK && rc != LV_ERR_NOT_FOUND)
        lv_warn("could not abort the multipart upload of %s (its parts stay until a lifecycle rule or "
                "prune removes them): %s", m->key, lv_errmsg());
    s3_resp_free(&resp);
    lv_err(code, "%s", msg);
}

static int verify_size(mp *m)
{
    s3_req req = {.method = "HEAD", .key = m->key};
    s3_resp resp = {0};
    int rc = s3_perform(m->c, &req, &resp);
    if (rc == LV_OK && (resp.content_length < 0 || (uint64_t)resp.content_length != m->len))
        rc = lv_err(LV_ERR_CORRUPT, "s3://%s/%s: %lld bytes after multipart upload, expected %zu", m->c->bucket,
                    m->key,
                    (long long)resp.content_length, m->len);
    else if (rc != LV_OK)
        rc = lv_err_ctx("checking multipart upload");
    s3_resp_free(&resp);
    return rc;
}

int s3_put_multipart(s3_client *c, const char *okey, const void *data, size_t len)
{
    mp m = {.c = c, .key = okey, .data = data, .len = len, .part = (size_t)c->part_size};
    if (len / m.part >= MAX_PARTS) /* grow parts (whole MiB) to stay within the part-count limit */
        m.part = ((len / MAX_PARTS) / MIB + 1) * MIB;
    m.nparts = len ? (len + m.part - 1) / m.part : 1;
    int rc = initiate(&m);
    if (rc != LV_OK)
        return rc;
    m.etag = lv_xcalloc(m.nparts, sizeof *m.etag);
    rc = lv_parallel_for(c->concurrency, m.nparts, put_part, &m);
    if (rc == LV_OK)
        rc = complete(&m);
    if (rc != LV_OK)
        abort_upload(&m);
    else
        rc = verify_size(&m);
    free(m.etag);
    free(m.upload_q);
    return rc;
}
