/* Multipart upload of one object, used by the S3 driver's put above opts->multipart_threshold.
 *
 * Initiate, upload parts of part_size bytes in parallel (up to opts->concurrency), complete, then HEAD
 * the object and compare its size: RGW Pacific answers CompleteMultipartUpload with an empty ETag, so
 * the result is checked by the object itself, not by the answer. The object becomes visible only at
 * the complete step, so a failure before it leaves the key untouched; on any failure the upload is
 * aborted (best effort) so no parts linger, and the error of the step that failed is returned. */
#ifndef LV_STORE_S3_MULTIPART_H
#define LV_STORE_S3_MULTIPART_H

#include <stddef.h>

#include "store/s3_http.h"

/* okey: the object key with the store prefix. */
int s3_put_multipart(s3_client *c, const char *okey, const void *data, size_t len);

#endif
