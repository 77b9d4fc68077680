#include "store/s3_codec.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include "common/hex.h"

void s3_uri_encode(lv_buf *out, const char *s, int keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            lv_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            lv_buf_append(out, e, 3);
        }
    }
}

/* EVP_Digest with a fixed algorithm cannot fail short of memory exhaustion or a broken OpenSSL; like
 * lv_xmalloc we abort then rather than sign a request with a wrong digest. */
static void digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
        abort();
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[32];
    digest(EVP_sha256(), data ? data : "", len, h);
    lv_hex_encode(h, sizeof h, out);
}

void s3_md5_base64(const void *data, size_t len, char out[25])
{
    unsigned char h[16];
    digest(EVP_md5(), data ? data : "", len, h);
    EVP_EncodeBlock((unsigned char *)out, h, (int)sizeof h);
}
