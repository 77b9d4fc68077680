/* The S3 driver's HTTP layer: the client (endpoint, credentials, connection pool) and one function,
 * s3_perform, that sends a signed request with retries and maps the outcome to an lv_code.
 *
 * Signing: libcurl signs each transfer itself (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"). libcurl 7.88
 * signs the path and the query exactly as written and uses our x-amz-content-sha256 header as the
 * payload hash (it never adds that header), so s3_perform always sends it: the SHA-256 of the body, or
 * of the empty string for GET/HEAD/DELETE. The server then also checks that the body arrived intact.
 * All headers we add are signed (libcurl signs every custom header), which is why no header may be
 * added with an empty value (curl would drop it from the wire but not from the signature).
 *
 * Retries: a request is rebuilt and re-signed on every attempt (fresh date, fresh handle state).
 * Retried: connection failures and resets, timeouts (a stalled connection trips the low-speed limit),
 * HTTP 5xx, 429, 408 / RequestTimeout, bodies shorter than announced, and anything a request's check
 * callback calls transient. Backoff is exponential with full jitter: before attempt k (k >= 1) sleep a
 * uniform random time in [0, min(retry_base_ms * 2^(k-1), 20 s)]. After max_retries retries the result
 * is LV_ERR_UNREACHABLE (LV_ERR_CORRUPT when the last failure was a short body), naming the request.
 * Timeouts: connect (connect_timeout_s) and stall (below 1 KiB/s for timeout_s, waiting for the answer
 * included); no overall limit per transfer, a large object may take long. With a deadline (store opened
 * with deadline_s), no attempt or backoff starts after it and every attempt's connect and stall limits
 * are cut to the time left, so an endpoint that accepts and never answers costs at most deadline_s:
 * LV_ERR_UNREACHABLE, "gave up after N attempts in S s".
 *
 * Threads: s3_perform may run on many threads at once. The pool lends each attempt its own easy handle.
 * Connections are reused through the handles: an idle handle keeps its connection open, so the next
 * request that borrows it skips the TCP (and TLS) handshake. The CURLSH share holds the DNS cache and
 * TLS sessions, but deliberately not the connection cache: libcurl documents a shared connection cache
 * as unsafe across concurrent threads (KNOWN_BUGS 11.11, docs of CURLSHOPT_SHARE in 7.88). */
#ifndef LV_STORE_S3_HTTP_H
#define LV_STORE_S3_HTTP_H

#include <pthread.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "store/store.h"

typedef struct s3_client {
    lv_store base; /* first: the lv_store * handed out points here */
    char *object_url; /* an object's URL is this + the encoded key: "http://host:port/bucket/" (path
                       * style) or "http://bucket.host:port/" (virtual-hosted) */
    char *bucket_url; /* the bucket's own: "http://host:port/bucket" or "http://bucket.host:port/" */
    char *endpoint;  /* "http://127.0.0.1:7480", for messages */
    char *bucket;
    char *prefix;    /* "" or "some/prefix/" (always with the trailing slash when non-empty) */
    char *region;
    char *sigv4;     /* "aws:amz:REGION:s3" */
    char *access_key, *secret_key, *token_header; /* secrets: never logged, wiped on close */
    char *ca_file;
    int verify_tls;
    int concurrency, max_retries, retry_base_ms, timeout_s, connect_timeout_s, page_size;
    int deadline_s;   /* lv_store_opts.deadline_s; 0 = none */
    double deadline;  /* lv_mono_s() at which requests give up (0 = none) */
    uint64_t mp_threshold, part_size;

    CURLSH *share;
    pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL **idle;
    size_t n_idle, max_idle;
} s3_client;

/* A check callback's verdicts for a 2xx response it does not accept as final: try again; try again,
 * and if it keeps happening the store returns something other than asked (LV_ERR_CORRUPT). */
#define S3_RETRY (-1)
#define S3_RETRY_SHORT (-2)

typedef struct s3_resp s3_resp;
typedef struct s3_req s3_req;

struct s3_req {
    const char *method;      /* GET PUT HEAD DELETE POST */
    const char *key;         /* object key (with the store prefix), NULL for the bucket itself */
    const char *query;       /* canonical query: sorted, encoded, "name=value" even for flags */
    const void *body;        /* PUT/POST body */
    size_t body_len;
    const char *content_type;
    const char *content_md5; /* base64, or NULL */
    int if_none_match;       /* send If-None-Match: * */
    int range;               /* send Range: bytes=range_off-[range_off+range_len-1] */
    uint64_t range_off, range_len; /* range_len 0: to the end */
    lv_buf *out;             /* where a 2xx body goes (appended); NULL: resp->body */
    /* Called on a 2xx response: return LV_OK to accept, S3_RETRY (message set) to try again, or an
     * lv_code (message set) to fail without retrying. */
    int (*check)(const s3_req *req, s3_resp *resp, void *arg);
    void *check_arg;
};

struct s3_resp {
    const char *what;        /* "S3 PUT s3://bucket/key?query", set while a check callback runs */
    long status;
    int attempts;            /* attempts made (1 = no retry) */
    int64_t content_length;  /* of the final response, -1 when not announced */
    char etag[132];
    lv_buf body;             /* 2xx body when req->out is NULL */
    lv_buf err;              /* non-2xx body (first 64 KiB), for the S3 error code */
    char code[64];           /* S3 error code from err ("NoSuchKey"), "" when none */
    size_t received;         /* 2xx body bytes received in the final attempt */
};

/* Send req; fills resp (zero-initialise it; free with s3_resp_free). Returns LV_OK for an accepted
 * 2xx; LV_ERR_NOT_FOUND (404), LV_ERR_AUTH (401/403), LV_ERR_CONFLICT (409, 412), LV_ERR_CORRUPT
 * (416, short bodies), LV_ERR_CONFIG (other 4xx: the request or the configuration is wrong) and
 * LV_ERR_UNREACHABLE as described above, each with a message naming the request, never a secret. */
int s3_perform(s3_client *c, const s3_req *req, s3_resp *resp);
void s3_resp_free(s3_resp *r);

/* The lv_code an S3 error code stands for (in a 200 body, or a DeleteResult entry); S3_RETRY for
 * transient ones (InternalError, SlowDown, ...). */
int s3_code_class(const char *code);

/* "s3://bucket/" + key, for messages. Caller frees. */
char *s3_name(const s3_client *c, const char *key);

/* Set up / tear down the transport parts of c (share, pool); the fields above must be filled. */
void s3_http_init(s3_client *c);
void s3_http_cleanup(s3_client *c);

#endif
