/* Encodings the S3 driver needs to build requests: URI encoding as SigV4 defines it, and the payload
 * digests (SHA-256 in hex for x-amz-content-sha256, MD5 in base64 for Content-MD5). */
#ifndef LV_STORE_S3_CODEC_H
#define LV_STORE_S3_CODEC_H

#include <stddef.h>

#include "common/buf.h"

/* Append s percent-encoded: unreserved bytes (A-Z a-z 0-9 - _ . ~) stay, everything else becomes %XX
 * with upper-case hex; '/' stays only when keep_slash (object paths; query values encode it). This is
 * exactly the canonical form SigV4 signs, and libcurl signs the URL as written, so the URL must be
 * built with it. */
void s3_uri_encode(lv_buf *out, const char *s, int keep_slash);

/* SHA-256 of data as 64 lower-case hex digits + NUL. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

/* MD5 of data in base64 (24 characters + NUL). */
void s3_md5_base64(const void *data, size_t len, char out[25]);

#endif
