/* Fuzz target for the JSON reader (common/json_read.h) and the summary codecs on top of it: any input is
 * either refused or parsed, and a parsed value walks, unescapes and converts without reading outside the
 * input; the summary decoders never fail in another way than LV_ERR_CORRUPT. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_read.h"
#include "pg/summary.h"
#include "snapshot/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(void *arg, const char *key, const lv_jval *v)
{
    (void)key;
    char s[16];
    uint64_t u;
    int64_t i;
    double d;
    int b;
    (void)lv_jstr(v, s, sizeof s);
    free(lv_jstrdup(v));
    (void)lv_ju64(v, &u);
    (void)lv_ji64(v, &i);
    (void)lv_jdouble(v, &d);
    (void)lv_jbool(v, &b);
    if ((v->type == LV_JOBJECT || v->type == LV_JARRAY) && ++*(int *)arg < 1000)
        lv_jeach(v, walk, arg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_jval v;
    int n = 0;
    if (lv_jparse((const char *)data, size, &v) == 0)
        walk(&n, NULL, &v);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    lv_pg_summary p;
    lv_snap_summary s;
    int rc = lv_pg_summary_decode(text, &p);
    if (rc != LV_OK && rc != LV_ERR_CORRUPT)
        abort();
    rc = lv_snap_summary_decode(text, &s);
    lv_snap_summary_free(&s);
    if (rc != LV_OK && rc != LV_ERR_CORRUPT)
        abort();
    free(text);
    return 0;
}
