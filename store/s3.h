/* S3-only operations beyond the store interface. lv_store_create makes the bucket; removing it is
 * not something labvault does to a repository, so it lives here, for tests and tools. */
#ifndef LV_STORE_S3_H
#define LV_STORE_S3_H

#include "store/store.h"

/* Delete the (empty) bucket of an S3 store: LV_ERR_CONFLICT when it is not empty, LV_ERR_CONFIG when s
 * is not an S3 store. */
int lv_s3_delete_bucket(lv_store *s);

#endif
