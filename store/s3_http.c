#include "store/s3_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "store/s3_codec.h"
#include "store/s3_xml.h"

#define ERR_BODY_MAX 65536
#define BACKOFF_CAP_MS 20000
#define LOW_SPEED_BYTES 1024 /* below this rate for timeout_s seconds a transfer counts as stalled */

/* ---- process-wide and per-client setup ----------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/* curl_global_init is not thread-safe in every libcurl; doing it once, here, keeps callers free of it. */
static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        abort(); /* only fails when out of memory or the TLS library cannot start */
}

static void lock_cb(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)h;
    (void)access;
    s3_client *c = user;
    pthread_mutex_lock(&c->share_lock[data]);
}

static void unlock_cb(CURL *h, curl_lock_data data, void *user)
{
    (void)h;
    s3_client *c = user;
    pthread_mutex_unlock(&c->share_lock[data]);
}

void s3_http_init(s3_client *c)
{
    pthread_once(&global_once, global_init);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_lock[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->share = curl_share_init();
    if (!c->share)
        abort();
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, lock_cb);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, unlock_cb);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* Enough idle handles for every concurrent batch worker plus a few callers of our own. */
    c->max_idle = (size_t)c->concurrency * 2 + 4;
    c->idle = lv_xcalloc(c->max_idle, sizeof *c->idle);
}

void s3_http_cleanup(s3_client *c)
{
    for (size_t i = 0; i < c->n_idle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_lock[i]);
    pthread_mutex_destroy(&c->pool_lock);
}

static CURL *pool_get(s3_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_idle > 0)
        h = c->idle[--c->n_idle];
    pthread_mutex_unlock(&c->pool_lock);
    if (!h && !(h = curl_easy_init()))
        abort(); /* out of memory, as lv_xmalloc */
    return h;
}

static void pool_put(s3_client *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_idle < c->max_idle) {
        c->idle[c->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

char *s3_name(const s3_client *c, const char *key)
{
    return key ? lv_xasprintf("s3://%s/%s", c->bucket, key) : lv_xasprintf("s3://%s", c->bucket);
}

void s3_resp_free(s3_resp *r)
{
    lv_buf_free(&r->body);
    lv_buf_free(&r->err);
}

/* ---- one transfer -------------------------------------------------------------------------------- */

typedef struct xfer {
    const s3_req *req;
    s3_resp *resp;
    CURL *h;
    size_t up_pos;     /* upload cursor into req->body */
    int decided, ok;   /* the first body byte has chosen the destination; 2xx? */
    lv_buf *dst;
    uint64_t limit;    /* most 2xx body bytes we accept */
    int overflow;      /* the server sent more than it announced or than we asked for */
} xfer;

static size_t header_cb(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after "100 Continue" too): forget the previous one's headers. */
        x->resp->content_length = -1;
        x->resp->etag[0] = '\0';
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1, *e = buf + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t vl = (size_t)(e - v);
    if (nl == 14 && strncasecmp(buf, "content-length", 14) == 0) {
        char num[24];
        if (vl > 0 && vl < sizeof num) {
            memcpy(num, v, vl);
            num[vl] = '\0';
            char *end;
            errno = 0;
            long long cl = strtoll(num, &end, 10);
            if (errno == 0 && *end == '\0' && cl >= 0)
                x->resp->content_length = cl;
        }
    } else if (nl == 4 && strncasecmp(buf, "etag", 4) == 0) {
        if (vl < sizeof x->resp->etag) {
            memcpy(x->resp->etag, v, vl);
            x->resp->etag[vl] = '\0';
        }
    }
    return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (!x->decided) {
        long st = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
        x->decided = 1;
        x->ok = st >= 200 && st < 300;
        if (x->ok) {
            const s3_req *q = x->req;
            x->dst = q->out ? q->out : &x->resp->body;
            int64_t cl = x->resp->content_length;
            x->limit = q->range && q->range_len ? q->range_len : cl >= 0 ? (uint64_t)cl : UINT64_MAX;
            if (cl >= 0 && (uint64_t)cl <= x->limit && (uint64_t)cl < SIZE_MAX / 2)
                lv_buf_reserve(x->dst, (size_t)cl); /* one allocation for the whole body */
        } else {
            x->dst = &x->resp->err;
        }
    }
    if (x->ok) {
        if ((uint64_t)x->resp->received + len > x->limit) {
            x->overflow = 1;
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        lv_buf_append(x->dst, data, len);
        x->resp->received += len;
    } else if (x->dst->len < ERR_BODY_MAX) {
        size_t room = ERR_BODY_MAX - x->dst->len;
        lv_buf_append(x->dst, data, len < room ? len : room);
    }
    return len;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t room = size * n, left = x->req->body_len - x->up_pos;
    size_t k = left < room ? left : room;
    memcpy(buf, (const uint8_t *)x->req->body + x->up_pos, k);
    x->up_pos += k;
    return k;
}

/* libcurl rewinds the upload when it resends on a reused connection that turned out dead. */
static int seek_cb(void *ud, curl_off_t off, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    x->up_pos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static char *build_url(const s3_client *c, const s3_req *req)
{
    lv_buf u = LV_BUF_INIT;
    if (req->key) {
        lv_buf_append_str(&u, c->object_url);
        s3_uri_encode(&u, req->key, 1);
    } else {
        lv_buf_append_str(&u, c->bucket_url);
    }
    if (req->query) {
        lv_buf_append_str(&u, "?");
        lv_buf_append_str(&u, req->query);
    }
    return lv_buf_cstr(&u);
}

static struct curl_slist *build_headers(const s3_client *c, const s3_req *req)
{
    const void *body = req->body;
    size_t blen = req->body_len;
    char sha[65];
    s3_sha256_hex(body, blen, sha);
    struct curl_slist *h = NULL;
    char line[160];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
    h = curl_slist_append(h, line);
    if (c->token_header)
        h = curl_slist_append(h, c->token_header);
    if (req->if_none_match)
        h = curl_slist_append(h, "If-None-Match: *");
    if (req->content_md5) {
        snprintf(line, sizeof line, "Content-MD5: %s", req->content_md5);
        h = curl_slist_append(h, line);
    }
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        h = curl_slist_append(h, line);
    }
    if (req->range) {
        if (req->range_len)
            snprintf(line, sizeof line, "Range: bytes=%llu-%llu", (unsigned long long)req->range_off,
                     (unsigned long long)(req->range_off + req->range_len - 1));
        else
            snprintf(line, sizeof line, "Range: bytes=%llu-", (unsigned long long)req->range_off);
        h = curl_slist_append(h, line);
    }
    if (!h)
        abort(); /* curl_slist_append only fails when out of memory */
    return h;
}

/* Whole seconds left before the deadline (at least 1 while it has not passed, 0 once it has), or -1
 * without one. */
static long time_left(const s3_client *c)
{
    if (c->deadline == 0)
        return -1;
    double left = c->deadline - lv_mono_s();
    return left <= 0 ? 0 : left < 1 ? 1 : (long)left;
}

static void setup(s3_client *c, CURL *h, const s3_req *req, const char *url, struct curl_slist *hdrs,
                  xfer *x, char *errbuf)
{
    curl_easy_reset(h); /* keeps the connection and caches, forgets every option */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* sign and send the path exactly as built */
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    /* No overall timeout (a large object may take long); a transfer slower than LOW_SPEED_BYTES/s for
     * timeout_s seconds, waiting for a response included, is stalled and gets retried. Both limits are
     * cut to what is left before the deadline. */
    long ct = c->connect_timeout_s, st = c->timeout_s, left = time_left(c);
    if (left >= 0) {
        ct = ct < left ? ct : left;
        st = st < left ? st : left;
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, ct);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, st);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->verify_tls < 0) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        /* Always a Content-Length: RGW refuses a PUT without one (411), and no chunked encoding. */
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
}

/* ---- classifying an attempt ---------------------------------------------------------------------- */

enum outcome { DONE, RETRY, RETRY_SHORT };

static int transient_code(const char *code)
{
    static const char *const t[] = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
                                    "OperationAborted", NULL};
    for (int i = 0; t[i]; i++)
        if (strcmp(code, t[i]) == 0)
            return 1;
    return 0;
}

int s3_code_class(const char *code)
{
    if (transient_code(code))
        return S3_RETRY;
    if (strcmp(code, "AccessDenied") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
        strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "RequestTimeTooSkewed") == 0)
        return LV_ERR_AUTH;
    if (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchBucket") == 0 ||
        strcmp(code, "NoSuchUpload") == 0)
        return LV_ERR_NOT_FOUND;
    return LV_ERR_CONFIG;
}

/* Classify a curl failure. Sets the message; *rc is the code when the outcome is DONE. */
static enum outcome curl_failure(const s3_client *c, const char *what, CURLcode cc, const char *errbuf,
                                 const xfer *x, int *rc)
{
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_WRITE_ERROR:
        if (x->overflow) {
            lv_err(LV_ERR_CORRUPT, "%s: the server sent more bytes than announced or asked for", what);
            return RETRY_SHORT;
        }
        break;
    case CURLE_PARTIAL_FILE:
        lv_err(LV_ERR_CORRUPT, "%s: response body shorter than announced (%s)", what, detail);
        return RETRY_SHORT;
    case CURLE_SSL_CACERT_BADFILE:
        /* A ca-file that does not exist or does not parse: a setting to fix, not the network. */
        *rc = lv_err(LV_ERR_CONFIG, "%s: s3-ca-file %s cannot be used: %s", what, c->ca_file ? c->ca_file : "(default)",
                     detail);
        return DONE;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
        /* Retrying cannot fix a certificate; say so at once. */
        *rc = lv_err(LV_ERR_UNREACHABLE, "%s: TLS verification failed for %s: %s", what, c->endpoint,
                     detail);
        return DONE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        *rc = lv_err(LV_ERR_CONFIG, "%s: bad endpoint %s: %s", what, c->endpoint, detail);
        return DONE;
    case CURLE_OUT_OF_MEMORY:
        *rc = lv_err(LV_ERR_INTERNAL, "%s: libcurl out of memory", what);
        return DONE;
    default:
        break;
    }
    /* Refused, reset, timed out (low-speed limit), DNS, TLS handshake...: the network. */
    lv_err(LV_ERR_UNREACHABLE, "%s: %s (%s)", what, detail, c->endpoint);
    return RETRY;
}

static enum outcome http_status(const s3_client *c, const s3_req *req, s3_resp *r, const char *what,
                                int *rc)
{
    long st = r->status;
    r->code[0] = '\0';
    if (r->err.len) {
        lv_buf code = LV_BUF_INIT;
        if (s3_xml_get((const char *)r->err.data, (const char *)r->err.data + r->err.len, "Code",
                       &code) == 1)
            snprintf(r->code, sizeof r->code, "%s", lv_buf_cstr(&code));
        lv_buf_free(&code);
    }
    const char *code = r->code[0] ? r->code : "";
    const char *sep = r->code[0] ? " " : "";
    if (st >= 500 || st == 429 || st == 408 || transient_code(code)) {
        lv_err(LV_ERR_UNREACHABLE, "%s: HTTP %ld%s%s", what, st, sep, code);
        return RETRY;
    }
    switch (st) {
    case 404:
        if (strcmp(code, "NoSuchBucket") == 0)
            *rc = lv_err(LV_ERR_NOT_FOUND, "%s: bucket %s does not exist at %s", what, c->bucket,
                         c->endpoint);
        else
            *rc = lv_err(LV_ERR_NOT_FOUND, "%s: not found%s%s", what, sep, code);
        break;
    case 401:
    case 403:
        *rc = lv_err(LV_ERR_AUTH, "%s: access denied (HTTP %ld%s%s): check the access key, secret key "
                     "and clock", what, st, sep, code);
        break;
    case 409:
    case 412:
        *rc = lv_err(LV_ERR_CONFLICT, "%s: %s (HTTP %ld%s%s)", what,
                     req->if_none_match ? "already exists" : "conflict", st, sep, code);
        break;
    case 416:
        *rc = lv_err(LV_ERR_CORRUPT, "%s: range beyond the end of the object (HTTP 416)", what);
        break;
    default:
        *rc = lv_err(LV_ERR_CONFIG, "%s: the server refused the request (HTTP %ld%s%s)", what, st, sep,
                     code);
    }
    return DONE;
}

static unsigned rand_below(unsigned n)
{
    unsigned r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&r;
    return n ? r % n : 0;
}

static void backoff(const s3_client *c, int attempt)
{
    uint64_t cap = (uint64_t)c->retry_base_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
    if (cap > BACKOFF_CAP_MS)
        cap = BACKOFF_CAP_MS;
    if (c->deadline != 0) { /* never sleep past the deadline */
        double left_ms = (c->deadline - lv_mono_s()) * 1000;
        cap = left_ms <= 0 ? 0 : (uint64_t)left_ms < cap ? (uint64_t)left_ms : cap;
    }
    unsigned ms = rand_below((unsigned)cap + 1);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int s3_perform(s3_client *c, const s3_req *req, s3_resp *resp)
{
    char *name = s3_name(c, req->key);
    char *what = lv_xasprintf("S3 %s %s%s%s", req->method, name, req->query ? "?" : "",
                              req->query ? req->query : "");
    char *url = build_url(c, req);
    struct curl_slist *hdrs = build_headers(c, req);
    size_t out_start = req->out ? req->out->len : 0;
    char errbuf[CURL_ERROR_SIZE];
    char last[1024] = "";
    int rc = LV_OK, final = 0;
    enum outcome oc = DONE;

    int expired = 0;
    double t0 = lv_mono_s();
    for (int attempt = 0; attempt <= c->max_retries; attempt++) {
        if (attempt > 0) {
            lv_info("%s: retry %d of %d: %s", name, attempt, c->max_retries, last);
            backoff(c, attempt);
        }
        if (time_left(c) == 0) {
            expired = 1;
            if (attempt == 0)
                snprintf(last, sizeof last, "%s: not sent", what);
            break;
        }
        resp->attempts = attempt + 1;
        resp->status = 0;
        resp->received = 0;
        resp->content_length = -1;
        resp->etag[0] = '\0';
        resp->code[0] = '\0';
        lv_buf_reset(&resp->body);
        lv_buf_reset(&resp->err);
        if (req->out)
            req->out->len = out_start; /* drop what a failed attempt appended */
        xfer x = {.req = req, .resp = resp};
        errbuf[0] = '\0';
        CURL *h = x.h = pool_get(c);
        setup(c, h, req, url, hdrs, &x, errbuf);
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        pool_put(c, h);

        rc = LV_OK;
        if (cc != CURLE_OK) {
            oc = curl_failure(c, what, cc, errbuf, &x, &rc);
        } else if (resp->status < 200 || resp->status > 299) {
            oc = http_status(c, req, resp, what, &rc);
        } else if (req->check) {
            resp->what = what;
            int v = req->check(req, resp, req->check_arg);
            resp->what = NULL;
            oc = v == S3_RETRY ? RETRY : v == S3_RETRY_SHORT ? RETRY_SHORT : DONE;
            rc = oc == DONE ? v : LV_OK;
        } else {
            oc = DONE;
        }
        if (oc == DONE) {
            final = 1;
            break;
        }
        snprintf(last, sizeof last, "%s", lv_errmsg());
    }
    if (!final && expired)
        rc = lv_err(LV_ERR_UNREACHABLE, "%s (gave up after %d attempt%s in %.0f s: the deadline of %d s passed)", last,
                    resp->attempts, resp->attempts == 1 ? "" : "s", lv_mono_s() - t0, c->deadline_s);
    else if (!final)
        rc = lv_err(oc == RETRY_SHORT ? LV_ERR_CORRUPT : LV_ERR_UNREACHABLE, "%s (gave up after %d attempts)",
                    last, resp->attempts);
    if (rc != LV_OK && req->out)
        req->out->len = out_start;
    curl_slist_free_all(hdrs);
    free(url);
    free(what);
    free(name);
    return rc;
}
