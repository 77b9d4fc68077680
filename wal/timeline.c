/* Timeline histories (contract in wal/timeline.h). */
#include "wal/timeline.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

int lv_wal_history_parse(const char *text, size_t n, uint32_t own, lv_wal_tl_span *sp, size_t *nsp)
{
    size_t k = 0;
    uint64_t begin = 0;
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), p);
        p += len + (nl ? 1 : 0);
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#' || *s == '\r')
            continue;
        unsigned parent;
        char lsn[LV_LSN_TEXT_MAX + 2];
        uint64_t sw;
        if (sscanf(s, "%u %19s", &parent, lsn) != 2 || lv_lsn_parse(lsn, &sw) != LV_OK ||
            k + 1 >= LV_WAL_LINEAGE_MAX || parent == 0 || parent >= own || sw < begin ||
            (k > 0 && parent <= sp[k - 1].tli)) {
            lv_err_clear();
            return -1;
        }
        sp[k++] = (lv_wal_tl_span){parent, begin, sw};
        begin = sw;
    }
    sp[k++] = (lv_wal_tl_span){own, begin, UINT64_MAX};
    *nsp = k;
    return 0;
}

int lv_wal_history_get(const lv_repo *r, uint32_t tli, lv_wal_tl_span *sp, size_t *n)
{
    if (tli <= 1) {
        sp[0] = (lv_wal_tl_span){1, 0, UINT64_MAX};
        *n = 1;
        return LV_OK;
    }
    lv_wal_name nm;
    char name[32];
    snprintf(name, sizeof name, "%08X.history", tli);
    if (lv_wal_name_parse(name, &nm) != LV_OK)
        return lv_err(LV_ERR_USAGE, "timeline %u is not a timeline id", tli);
    lv_wal_object o;
    int count = 0;
    int rc = lv_wal_find(r->store, &nm, &o, &count);
    if (rc != LV_OK)
        return rc;
    if (!count)
        return lv_err(LV_ERR_NOT_FOUND, "timeline %u has no history file in the WAL archive (%s)", tli, name);
    lv_buf b = LV_BUF_INIT;
    if ((rc = lv_wal_object_read(r, &o, &b)) == LV_OK &&
        lv_wal_history_parse((const char *)b.data, b.len, tli, sp, n) != 0)
        rc = lv_err(LV_ERR_CORRUPT, "timeline history %s is malformed", name);
    lv_buf_free(&b);
    return rc;
}

int lv_wal_newest_timeline(const lv_repo *r, uint32_t *tli)
{
    uint32_t t = 1;
    for (;;) {
        char name[32];
        lv_wal_name nm;
        snprintf(name, sizeof name, "%08X.history", t + 1);
        if (lv_wal_name_parse(name, &nm) != LV_OK)
            break;
        lv_wal_object o;
        int count = 0;
        int rc = lv_wal_find(r->store, &nm, &o, &count);
        if (rc != LV_OK)
            return rc;
        if (!count)
            break;
        t++;
    }
    *tli = t;
    return LV_OK;
}

int lv_wal_history_has(const lv_wal_tl_span *sp, size_t n, uint32_t tli, uint64_t lsn)
{
    for (size_t i = 0; i < n; i++)
        if (sp[i].tli == tli)
            return lsn <= sp[i].end;
    return 0;
}

uint32_t lv_wal_history_tli_at(const lv_wal_tl_span *sp, size_t n, uint64_t lsn)
{
    uint32_t t = 0;
    for (size_t i = 0; i < n; i++)
        if (sp[i].begin <= lsn)
            t = sp[i].tli;
    return t;
}

uint32_t lv_wal_history_segment_tli(const lv_wal_tl_span *sp, size_t n, uint64_t seg, uint32_t seg_size)
{
    return lv_wal_history_tli_at(sp, n, (seg + 1) * seg_size - 1);
}
