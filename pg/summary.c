/* The summary of a PostgreSQL backup (contract in pg/summary.h). */
#include "pg/summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "common/json_read.h"
#include "pg/lsn.h"

void lv_pg_summary_encode(const lv_pg_summary *s, lv_buf *out)
{
    char sysid[24], start[LV_LSN_TEXT_MAX], stop[LV_LSN_TEXT_MAX];
    snprintf(sysid, sizeof sysid, "%" PRIu64, s->sysid);
    lv_lsn_format(s->start_lsn, start);
    lv_lsn_format(s->stop_lsn, stop);
    lv_json j;
    lv_json_init(&j, out);
    lv_json_obj(&j);
    const struct {
        const char *k, *v;
    } head[] = {{"type", s->incr ? "incr" : "full"}, {"label", s->label}, {"sysid", sysid}};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        lv_json_key(&j, head[i].k);
        lv_json_str(&j, head[i].v);
    }
    lv_json_key(&j, "pg_version");
    lv_json_uint(&j, s->pg_version);
    lv_json_key(&j, "timeline");
    lv_json_uint(&j, s->timeline);
    lv_json_key(&j, "start_lsn");
    lv_json_str(&j, start);
    lv_json_key(&j, "stop_lsn");
    lv_json_str(&j, stop);
    lv_json_key(&j, "start_time");
    lv_json_int(&j, s->start_time);
    lv_json_key(&j, "stop_time");
    lv_json_int(&j, s->stop_time);
    lv_json_key(&j, "wal_start");
    lv_json_str(&j, s->wal_start);
    lv_json_key(&j, "wal_stop");
    lv_json_str(&j, s->wal_stop);
    const struct {
        const char *k;
        uint64_t v;
    } nums[] = {{"files", s->files},         {"bytes", s->bytes},               {"bytes_read", s->bytes_read},
                {"bytes_new", s->bytes_new}, {"bytes_stored", s->bytes_stored}, {"bad_pages", s->bad_pages}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lv_json_key(&j, nums[i].k);
        lv_json_uint(&j, nums[i].v);
    }
    if (s->incr) {
        lv_json_key(&j, "prev");
        lv_json_str(&j, s->prev);
        lv_json_key(&j, "delta_pages");
        lv_json_uint(&j, s->delta_pages);
        lv_json_key(&j, "delta_bytes");
        lv_json_uint(&j, s->delta_bytes);
        lv_json_key(&j, "base_blobs_read");
        lv_json_uint(&j, s->base_blobs_read);
        if (s->incr_method[0]) {
            lv_json_key(&j, "incr_method");
            lv_json_str(&j, s->incr_method);
        }
    }
    lv_json_key(&j, "rows_exact");
    lv_json_bool(&j, s->rows_exact);
    lv_json_key(&j, "pgdata");
    lv_json_str(&j, s->pgdata);
    lv_json_end(&j);
}

/* The required fields, one bit each, in the order the message names the first one missing. */
enum { F_TYPE = 1, F_SYSID = 2, F_VERSION = 4, F_TIMELINE = 8, F_START_LSN = 16, F_STOP_LSN = 32,
       F_START_TIME = 64, F_STOP_TIME = 128, F_ALL = 255 };
static const char *const required[] = {"type", "sysid", "pg_version", "timeline", "start_lsn", "stop_lsn",
                                       "start_time", "stop_time"};

typedef struct dec {
    lv_pg_summary *s;
    unsigned seen;   /* required fields read well */
} dec;

static int lsn(const lv_jval *v, uint64_t *out)
{
    char t[LV_LSN_TEXT_MAX];
    if (lv_jstr(v, t, sizeof t) != 0 || lv_lsn_parse(t, out) != LV_OK) {
        lv_err_clear();
        return -1;
    }
    return 0;
}

/* sysid is written as a string; an older writer may have used a number. */
static int sysid(const lv_jval *v, uint64_t *out)
{
    char t[24], *e;
    if (v->type == LV_JNUMBER)
        return lv_ju64(v, out);
    if (lv_jstr(v, t, sizeof t) != 0 || !t[0] || strspn(t, "0123456789") != strlen(t))
        return -1;
    *out = strtoull(t, &e, 10);
    return 0;
}

static int u32(const lv_jval *v, uint32_t *out)
{
    uint64_t x;
    if (lv_ju64(v, &x) != 0 || x > UINT32_MAX)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

static int member(void *arg, const char *k, const lv_jval *v)
{
    dec *d = arg;
    lv_pg_summary *s = d->s;
    char type[8];
    unsigned bit = 0;
    int bad = 0;
    if (strcmp(k, "type") == 0) {
        bit = F_TYPE;
        bad = lv_jstr(v, type, sizeof type) != 0 || (strcmp(type, "full") != 0 && strcmp(type, "incr") != 0);
        s->incr = !bad && strcmp(type, "incr") == 0;
    } else if (strcmp(k, "sysid") == 0) {
        bit = F_SYSID;
        bad = sysid(v, &s->sysid);
    } else if (strcmp(k, "pg_version") == 0) {
        bit = F_VERSION;
        bad = u32(v, &s->pg_version);
    } else if (strcmp(k, "timeline") == 0) {
        bit = F_TIMELINE;
        bad = u32(v, &s->timeline) || s->timeline == 0;
    } else if (strcmp(k, "start_lsn") == 0) {
        bit = F_START_LSN;
        bad = lsn(v, &s->start_lsn);
    } else if (strcmp(k, "stop_lsn") == 0) {
        bit = F_STOP_LSN;
        bad = lsn(v, &s->stop_lsn);
    } else if (strcmp(k, "start_time") == 0) {
        bit = F_START_TIME;
        bad = lv_ji64(v, &s->start_time);
    } else if (strcmp(k, "stop_time") == 0) {
        bit = F_STOP_TIME;
        bad = lv_ji64(v, &s->stop_time);
    } else {
        /* Optional: what does not decode stays zero. */
        const struct {
            const char *k;
            char *out;
            size_t n;
        } strs[] = {{"label", s->label, sizeof s->label}, {"wal_start", s->wal_start, sizeof s->wal_start},
                    {"wal_stop", s->wal_stop, sizeof s->wal_stop}, {"prev", s->prev, sizeof s->prev},
                    {"incr_method", s->incr_method, sizeof s->incr_method},
                    {"pgdata", s->pgdata, sizeof s->pgdata}};
        const struct {
            const char *k;
            uint64_t *out;
        } nums[] = {{"files", &s->files},         {"bytes", &s->bytes},
                    {"bytes_read", &s->bytes_read}, {"bytes_new", &s->bytes_new},
                    {"bytes_stored", &s->bytes_stored}, {"bad_pages", &s->bad_pages},
                    {"delta_pages", &s->delta_pages}, {"delta_bytes", &s->delta_bytes},
                    {"base_blobs_read", &s->base_blobs_read}};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
            if (strcmp(k, strs[i].k) == 0 && lv_jstr(v, strs[i].out, strs[i].n) != 0)
                strs[i].out[0] = '\0';
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
            if (strcmp(k, nums[i].k) == 0 && lv_ju64(v, nums[i].out) != 0)
                *nums[i].out = 0;
        if (strcmp(k, "rows_exact") == 0 && lv_jbool(v, &s->rows_exact) != 0)
            s->rows_exact = 0;
    }
    if (bit && !bad)
        d->seen |= bit;
    return 0;
}

int lv_pg_summary_decode(const char *json, lv_pg_summary *s)
{
    memset(s, 0, sizeof *s);
    lv_jval v;
    dec d = {s, 0};
    if (lv_jparse(json, strlen(json), &v) != 0 || v.type != LV_JOBJECT)
        return lv_err(LV_ERR_CORRUPT, "backup summary: not a JSON object");
    lv_jeach(&v, member, &d);
    for (size_t i = 0; d.seen != F_ALL && i < sizeof required / sizeof required[0]; i++)
        if (!(d.seen & (1u << i)))
            return lv_err(LV_ERR_CORRUPT, "backup summary: no valid \"%s\"", required[i]);
    return LV_OK;
}
