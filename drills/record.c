/* The drill record: JSON text, stored in the repository (drills/<id>) and in the catalog (drills table),
 * and the catalog-rebuild step that brings the history back from the repository (contract in
 * drills/drill.h). The catalog's columns are filled from the record itself (catalog/drills.h), so the
 * record is the one source and there is no second encoder to keep in step. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "crypto/crypto.h"
#include "repo/object.h"
#include "drills/drill.h"
#include "catalog/drills.h"
#include "maint/check.h"
#include "repo/registry.h"
#include "repo/tidy.h"

#define AAD_PREFIX "labvault drill "

void lv_drill_begin(lv_drill *d, const char *kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->rpo = -1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    d->started = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    uint8_t rnd[4];
    char hex[9], stamp[LV_TIME_TEXT_MAX];
    lv_random(rnd, sizeof rnd);
    lv_hex_encode(rnd, sizeof rnd, hex);
    lv_time_format((int64_t)tv.tv_sec, LV_TIME_STAMP, stamp);
    snprintf(d->id, sizeof d->id, "%.16s-%.8s", stamp, hex);
    if (gethostname(d->host, sizeof d->host) != 0)
        snprintf(d->host, sizeof d->host, "unknown");
    d->host[sizeof d->host - 1] = '\0';
}

void lv_drill_check_add(lv_drill *d, const char *name, int ok, const char *fmt, ...)
{
    char *detail = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&detail, fmt, ap) < 0)
            detail = NULL;
        va_end(ap);
    }
    if (!ok) {
        d->failed++;
        if (!d->error)
            d->error = lv_xasprintf("%s: %s", name, detail ? detail : "failed");
    }
    if (d->nchecks >= LV_DRILL_MAX_CHECKS) {
        free(detail);
        return;
    }
    LV_GROW(d->checks, d->nchecks, d->cap_checks);
    lv_drill_check *c = &d->checks[d->nchecks++];
    c->name = lv_xstrdup(name);
    c->ok = ok;
    c->detail = detail ? detail : lv_xstrdup("");
}

void lv_drill_free(lv_drill *d)
{
    for (uint32_t i = 0; i < d->nchecks; i++) {
        free(d->checks[i].name);
        free(d->checks[i].detail);
    }
    free(d->checks);
    free(d->error);
    free(d->scratch);
    free(d->datadir);
    free(d->sockdir);
    free(d->bindir);
    free(d->user);
    free(d->os_user);
    d->checks = NULL;
    d->error = NULL;
    d->scratch = d->datadir = d->sockdir = d->bindir = d->user = d->os_user = NULL;
    d->nchecks = d->cap_checks = 0;
}

static void num3(lv_json *j, const char *key, double v)
{
    char s[64];
    snprintf(s, sizeof s, "%.3f", v);
    lv_json_key(j, key);
    lv_json_raw(j, s);
}

void lv_drill_to_json(const lv_drill *d, lv_buf *out)
{
    lv_json j;
    lv_json_init(&j, out);
    lv_json_obj(&j);
    lv_json_key(&j, "id");
    lv_json_str(&j, d->id);
    lv_json_key(&j, "kind");
    lv_json_str(&j, d->kind);
    lv_json_key(&j, "source");
    lv_json_str(&j, d->source);
    lv_json_key(&j, "host");
    lv_json_str(&j, d->host);
    lv_json_key(&j, "target");
    lv_json_str(&j, d->target);
    num3(&j, "started", d->started);
    char at[LV_TIME_TEXT_MAX];
    lv_time_format((int64_t)d->started, LV_TIME_UTC, at);
    lv_json_key(&j, "started_at");
    lv_json_str(&j, at);
    num3(&j, "seconds", d->seconds);
    lv_json_key(&j, "passed");
    lv_json_bool(&j, d->failed == 0);
    lv_json_key(&j, "error");
    if (d->error)
        lv_json_str(&j, d->error);
    else
        lv_json_null(&j);
    lv_json_key(&j, "rto");
    lv_json_obj(&j);
    num3(&j, "total", d->rto);
    num3(&j, "download", d->rto_download);
    num3(&j, "write", d->rto_write);
    num3(&j, "replay", d->rto_replay);
    lv_json_end(&j);
    if (d->rpo >= 0)
        num3(&j, "rpo", d->rpo);
    else {
        lv_json_key(&j, "rpo");
        lv_json_null(&j);
    }
    lv_json_key(&j, "recovered_time");
    lv_json_int(&j, d->recovered_time);
    lv_json_key(&j, "last_archived_time");
    lv_json_int(&j, d->last_archived_time);
    struct {
        const char *k;
        uint64_t v;
    } nums[] = {{"bytes_fetched", d->bytes_fetched}, {"blobs_fetched", d->blobs_fetched},
                {"segments_fetched", d->segments_fetched}, {"files", d->files},
                {"bytes_written", d->bytes_written}, {"failed_checks", d->failed}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lv_json_key(&j, nums[i].k);
        lv_json_uint(&j, nums[i].v);
    }
    lv_json_key(&j, "pg_version");
    lv_json_int(&j, d->pg_version);
    lv_json_key(&j, "checks");
    lv_json_arr(&j);
    for (uint32_t i = 0; i < d->nchecks; i++) {
        lv_json_obj(&j);
        lv_json_key(&j, "name");
        lv_json_str(&j, d->checks[i].name);
        lv_json_key(&j, "ok");
        lv_json_bool(&j, d->checks[i].ok);
        lv_json_key(&j, "detail");
        lv_json_str(&j, d->checks[i].detail);
        lv_json_end(&j);
    }
    lv_json_end(&j);
    lv_json_end(&j);
}

/* ---- catalog and repository --------------------------------------------------------------- */

static int drill_name_ok(const char *name) { return strlen(name) + 1 == LV_DRILL_ID_LEN && !strchr(name, '/'); }

/* drills/<id>, sealed with "labvault drill <id>" (a record cannot pass under another id), create-only. */
static const lv_obj_type drill_type = {.prefix = "drills/", .aad = AAD_PREFIX, .aad_name = 1, .compress = 1,
                                       .name_ok = drill_name_ok};

int lv_drill_record(lv_repo *r, const lv_drill *d)
{
    lv_buf json = LV_BUF_INIT;
    lv_drill_to_json(d, &json);
    int up = lv_obj_put(r, &drill_type, d->id, json.data, json.len, NULL, NULL);
    char *upmsg = up ? lv_xstrdup(lv_errmsg()) : NULL;
    if (up == LV_OK) { /* what killed drills left (repo/tidy.h) */
        static const char *const mine[] = {"drills/"};
        lv_repo_tidy(r, mine, 1);
    }
    int rc = lv_catalog_drill_put(r->cat, lv_buf_cstr(&json), NULL);
    if (rc == LV_OK && up != LV_OK)
        rc = lv_err(up, "drill %s is in the local catalog but not in the repository: %s", d->id, upmsg);
    free(upmsg);
    lv_buf_free(&json);
    return rc;
}

int lv_drill_history(const lv_repo *r, int limit, int (*cb)(void *arg, const lv_drill_row *row), void *arg)
{
    return lv_catalog_drill_history(r->cat, limit, cb, arg);
}

/* ---- catalog rebuild and repo check --------------------------------------------------------- */

typedef struct listing {
    lv_store_keys ids;        /* the names of drill records, in key order */
    lv_check *ck;             /* check: objects counted, foreign ones warned about */
    lv_check_kind *kind;
} listing;

static int list_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    (void)size;
    listing *l = arg;
    if (l->kind)
        l->kind->objects++;
    if (name)
        lv_store_keys_add(&l->ids, name);
    else if (l->ck)
        lv_check_problem(l->ck, l->kind, LV_CHECK_WARNING, "%s: unexpected object under drills/", key);
    else
        lv_warn("skipping %s: not a drill record name", key);
    return LV_OK;
}

/* A damaged record is skipped and counted as damage (repo/registry.h: a step must not fail on it); an
 * object whose name is not a drill record's is not ours, and only warned about. */
static int rebuild_step(lv_repo *r, uint64_t *damaged)
{
    listing l = {0};
    int rc = lv_obj_list(r, &drill_type, list_cb, &l);
    uint64_t added = 0;
    for (size_t i = 0; rc == LV_OK && i < l.ids.n; i++) {
        const char *id = l.ids.v[i];
        lv_buf plain = LV_BUF_INIT;
        int g = lv_obj_get(r, &drill_type, id, &plain);
        if (g == LV_OK)
            g = lv_catalog_drill_put(r->cat, lv_buf_cstr(&plain), id);
        if (g == LV_ERR_CORRUPT) {
            lv_error("drills/%s is damaged, its drill is not in the history: %s", id, lv_errmsg());
            (*damaged)++;
        } else if (g == LV_ERR_NOT_FOUND) { /* removed since the listing */
            lv_warn("skipping drills/%s: %s", id, lv_errmsg());
        } else if (g != LV_OK)
            rc = g;
        else
            added++;
        lv_buf_free(&plain);
    }
    lv_store_keys_free(&l.ids);
    if (rc == LV_OK)
        lv_info("catalog rebuild: %llu drill records", (unsigned long long)added);
    return rc;
}

static int known_cb(void *arg, const char *id)
{
    lv_store_keys_add(arg, id);
    return LV_OK;
}

/* Every record is read and authenticated (they are small); a record the local catalog has and the
 * repository lacks was deleted or lost. The catalog is read before the listing (maint/check.h). */
static int check_step(lv_check *ck)
{
    lv_repo *r = lv_check_repo(ck);
    listing l = {.ck = ck, .kind = lv_check_kind_of(ck, "drills")};
    lv_check_kind *kind = l.kind;
    lv_store_keys known = {0};
    int rc = r->cat ? lv_catalog_drill_ids(r->cat, known_cb, &known) : LV_OK;
    if (rc == LV_OK)
        rc = lv_obj_list(r, &drill_type, list_cb, &l);
    for (size_t i = 0; rc == LV_OK && i < l.ids.n; i++) {
        lv_buf plain = LV_BUF_INIT;
        int g = lv_obj_get(r, &drill_type, l.ids.v[i], &plain);
        if (g == LV_OK) {
            kind->read++;
            kind->bytes_read += plain.len;
        } else if (g == LV_ERR_NOT_FOUND) {
            lv_check_problem(ck, kind, LV_CHECK_WARNING, "drills/%s: vanished while checking", l.ids.v[i]);
        } else if (g == LV_ERR_CORRUPT) {
            lv_check_problem(ck, kind, LV_CHECK_ERROR, "%s", lv_errmsg());
        } else {
            rc = g;
        }
        lv_buf_free(&plain);
    }
    /* Both lists are sorted (ids sort like their keys): one merge walk. */
    for (size_t i = 0, j = 0; rc == LV_OK && i < known.n; i++) {
        while (j < l.ids.n && strcmp(l.ids.v[j], known.v[i]) < 0)
            j++;
        if (j == l.ids.n || strcmp(l.ids.v[j], known.v[i]) != 0) {
            kind->missing++;
            lv_check_problem(ck, kind, LV_CHECK_ERROR, "drills/%s is missing, but the local catalog records that "
                             "drill (deleted or lost)", known.v[i]);
        }
    }
    lv_store_keys_free(&known);
    lv_store_keys_free(&l.ids);
    return rc;
}

void lv_drill_register(void)
{
    lv_catalog_rebuild_register("drills", rebuild_step);
    lv_check_register("drill records", check_step);
}
