/* LSNs as text (contract in pg/lsn.h). */
#include "pg/lsn.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

void lv_lsn_format(uint64_t lsn, char out[LV_LSN_TEXT_MAX])
{
    snprintf(out, LV_LSN_TEXT_MAX, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

static int hex_part(const char *s, size_t n, uint32_t *v)
{
    if (n < 1 || n > 8)
        return -1;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        x = x << 4 | (uint32_t)d;
    }
    *v = x;
    return 0;
}

int lv_lsn_parse(const char *text, uint64_t *lsn)
{
    const char *slash = strchr(text, '/');
    uint32_t hi, lo;
    if (!slash || hex_part(text, (size_t)(slash - text), &hi) || hex_part(slash + 1, strlen(slash + 1), &lo))
        return lv_err(LV_ERR_USAGE, "'%s' is not an LSN (expected X/X in hex, e.g. 0/3000028)", text);
    *lsn = (uint64_t)hi << 32 | lo;
    return LV_OK;
}
