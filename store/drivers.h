/* Constructors of the two drivers, called only by lv_store_open (store/store.c), which has already
 * split the URL. Each allocates a struct whose first member is the lv_store, sets ops and desc, and
 * does no I/O. On failure they return an lv_code with the message set and *out untouched. */
#ifndef LV_STORE_DRIVERS_H
#define LV_STORE_DRIVERS_H

#include "store/store.h"

/* root: an absolute or relative directory path (relative ones are made absolute now). */
int lv_local_open(const char *root, lv_store **out);

/* bucket: the bucket name; prefix: "" or a key prefix without leading/trailing '/'. */
int lv_s3_open(const char *bucket, const char *prefix, const lv_store_opts *opts, lv_store **out);

#endif
