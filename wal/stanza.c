/* The cluster identity object (contract in wal/stanza.h). */
#include "wal/stanza.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "repo/object.h"
#include "wal/archive.h"

#define STANZA_MAX 4096
#define CACHE_KEY "wal.stanza." /* + the repository id */

void lv_wal_stanza_format(const lv_wal_stanza *s, lv_buf *out)
{
    lv_buf_append_str(out, "# labvault stanza: the PostgreSQL cluster whose WAL this repository holds "
                           "(docs/wal.md)\n");
    lv_buf_printf(out, "system-id = %" PRIu64 "\n", s->sysid);
    lv_buf_printf(out, "pg-version = %d\n", s->pg_version);
    lv_buf_printf(out, "wal-segment-size = %u\n", s->seg_size);
    lv_buf_printf(out, "wal-page-size = %u\n", s->page_size);
    lv_buf_printf(out, "created = %s\n", s->created);
    lv_buf_printf(out, "source = %s\n", s->source);
}

/* A canonical decimal number (no sign, no leading zero) within [min, max]. */
static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!*v || (v[0] == '0' && v[1]) || strspn(v, "0123456789") != strlen(v))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

int lv_wal_stanza_parse(const char *text, size_t n, lv_wal_stanza *s, const char *what)
{
    memset(s, 0, sizeof *s);
    if (n == 0 || n > STANZA_MAX || text[n - 1] != '\n' || memchr(text, '\0', n))
        return lv_err(LV_ERR_CORRUPT, "%s: not a stanza object (%zu bytes)", what, n);
    char *copy = lv_xmalloc(n + 1);
    memcpy(copy, text, n);
    copy[n] = '\0';
    int rc = LV_OK, lineno = 0, seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == LV_OK; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#')
            continue;
        char *eq = strstr(line, " = ");
        if (!eq) {
            rc = lv_err(LV_ERR_CORRUPT, "%s line %d: expected \"name = value\"", what, lineno);
            break;
        }
        *eq = '\0';
        const char *name = line, *v = eq + 3;
        uint64_t x = 0;
        int bad = 0, bit = 0;
        if (strcmp(name, "system-id") == 0) {
            bad = parse_u64(v, 1, UINT64_MAX, &x);
            s->sysid = x;
            bit = 1;
        } else if (strcmp(name, "pg-version") == 0) {
            bad = parse_u64(v, 13, 99, &x);
            s->pg_version = (int)x;
            bit = 2;
        } else if (strcmp(name, "wal-segment-size") == 0) {
            bad = parse_u64(v, 1U << 20, 1U << 30, &x) || (x & (x - 1));
            s->seg_size = (uint32_t)x;
            bit = 4;
        } else if (strcmp(name, "wal-page-size") == 0) {
            bad = parse_u64(v, 1U << 10, 1U << 16, &x) || (x & (x - 1));
            s->page_size = (uint32_t)x;
            bit = 8;
        } else if (strcmp(name, "created") == 0) {
            snprintf(s->created, sizeof s->created, "%s", v);
        } else if (strcmp(name, "source") == 0) {
            snprintf(s->source, sizeof s->source, "%s", v);
        } /* other names: written by a later labvault; ignored */
        if (bad)
            rc = lv_err(LV_ERR_CORRUPT, "%s line %d: bad value for %s", what, lineno, name);
        else if (bit && (seen & bit))
            rc = lv_err(LV_ERR_CORRUPT, "%s line %d: %s appears twice", what, lineno, name);
        seen |= bit;
    }
    free(copy);
    if (rc == LV_OK && seen != 15)
        rc = lv_err(LV_ERR_CORRUPT, "%s: incomplete stanza (needs system-id, pg-version, wal-segment-size "
                    "and wal-page-size)", what);
    return rc;
}

/* The object "stanza" at the root (its name is empty), sealed with "stanza" and not compressed. */
static int empty_name(const char *name) { return name[0] == '\0'; }
static const lv_obj_type stanza_type = {.prefix = LV_WAL_STANZA_KEY, .aad = LV_WAL_STANZA_KEY, .name_ok = empty_name};

int lv_wal_stanza_get(const lv_repo *r, lv_wal_stanza *out)
{
    lv_buf plain = LV_BUF_INIT;
    int rc = lv_obj_get(r, &stanza_type, "", &plain);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_NOT_FOUND, "repository %s has no stanza yet (run `labvault stanza create`, or "
                    "push a WAL segment)", lv_store_describe(r->store));
    if (rc == LV_OK)
        rc = lv_wal_stanza_parse((const char *)plain.data, plain.len, out, "stanza object");
    lv_buf_free(&plain);
    return rc;
}

int lv_wal_stanza_same_cluster(const lv_wal_stanza *a, const lv_wal_stanza *b)
{
    return a->sysid == b->sysid && a->pg_version == b->pg_version && a->seg_size == b->seg_size &&
           a->page_size == b->page_size;
}

/* What wal/ holds, for a missing stanza: its first segment, if any. */
typedef struct archived {
    int segment;
    lv_wal_object first_segment;
} archived;

static int archived_cb(void *arg, const lv_wal_object *o)
{
    archived *a = arg;
    if (o->name.kind == LV_WAL_SEGMENT) {
        a->first_segment = *o;
        a->segment = 1;
        return 1; /* enough */
    }
    return LV_OK;
}

static int find_archived(const lv_repo *r, archived *a)
{
    memset(a, 0, sizeof *a);
    int rc = lv_wal_list(r->store, 0, archived_cb, a);
    return rc == 1 ? LV_OK : rc ? lv_err_ctx("cannot list the WAL archive") : LV_OK;
}

int lv_wal_stanza_require(const lv_repo *r, lv_wal_stanza *out)
{
    int rc = lv_wal_stanza_get(r, out);
    if (rc != LV_ERR_NOT_FOUND)
        return rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    archived a;
    if ((rc = find_archived(r, &a)) != LV_OK)
        return rc;
    /* History and backup-history files carry no cluster identity, and PostgreSQL archives them before
     * older segments (after archiving failed for a while, or into a new repository): pushed first, they
     * are no sign of a lost stanza, and the first segment still creates it. */
    if (!a.segment)
        return lv_err(LV_ERR_NOT_FOUND, "%s", msg);
    /* The stanza is stored before any segment is pushed: a concurrent first push may have stored both
     * since our first look. */
    if ((rc = lv_wal_stanza_get(r, out)) != LV_ERR_NOT_FOUND)
        return rc;
    return lv_err(LV_ERR_CORRUPT, "repository %s: the stanza object is missing, but wal/ holds archived WAL (%s): "
                  "it was deleted or lost; `labvault stanza create --pg-data DIR` recreates it after checking "
                  "the cluster against the archive", lv_store_describe(r->store), a.first_segment.key);
}

/* A stanza recreated after a loss must describe the cluster the archive already holds. */
static int matches_archive(lv_repo *r, const lv_wal_stanza *s)
{
    archived a;
    int rc = find_archived(r, &a);
    if (rc != LV_OK || !a.segment)
        return rc;
    lv_buf b = LV_BUF_INIT;
    lv_wal_header h;
    rc = lv_wal_object_read(r, &a.first_segment, &b);
    if (rc == LV_OK && (rc = lv_wal_header_parse(b.data, b.len, &h)) != LV_OK)
        lv_err_ctx("WAL object %s", a.first_segment.key);
    lv_buf_free(&b);
    if (rc != LV_OK)
        return lv_err_ctx("cannot check the cluster against the archive");
    lv_wal_stanza have = {.sysid = h.sysid, .pg_version = h.pg_version, .seg_size = h.seg_size,
                          .page_size = h.page_size};
    if (!lv_wal_stanza_same_cluster(&have, s))
        return lv_err(LV_ERR_CONFLICT, "repository %s archives WAL of PostgreSQL cluster %" PRIu64 " (version %d, "
                      "%u-byte segments; %s), not of cluster %" PRIu64 " (version %d): stanza not recreated",
                      lv_store_describe(r->store), have.sysid, have.pg_version, have.seg_size, a.first_segment.key,
                      s->sysid, s->pg_version);
    lv_warn("the stanza was missing although wal/ holds archived WAL: recreating it (%s is of the same cluster)",
            a.first_segment.key);
    return LV_OK;
}

int lv_wal_stanza_create(lv_repo *r, const lv_wal_stanza *s, int *existing)
{
    *existing = 0;
    lv_wal_stanza have;
    int rc = lv_wal_stanza_get(r, &have);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_err_clear();
        if ((rc = matches_archive(r, s)) != LV_OK)
            return rc;
        lv_wal_stanza w = *s;
        if (!w.created[0])
            lv_time_format((int64_t)time(NULL), LV_TIME_UTC, w.created);
        lv_buf text = LV_BUF_INIT;
        lv_wal_stanza_format(&w, &text);
        rc = lv_obj_put(r, &stanza_type, "", text.data, text.len, NULL, NULL);
        lv_buf_free(&text);
        if (rc == LV_OK) {
            lv_info("stanza created: system identifier %" PRIu64 ", PostgreSQL %d", w.sysid, w.pg_version);
            return LV_OK;
        }
        if (rc != LV_ERR_CONFLICT)
            return lv_err_ctx("cannot create the stanza object");
        /* Created meanwhile by a concurrent push: compare with that one. */
        lv_err_clear();
        rc = lv_wal_stanza_get(r, &have);
    }
    if (rc != LV_OK)
        return rc;
    *existing = 1;
    if (!lv_wal_stanza_same_cluster(&have, s))
        return lv_err(LV_ERR_CONFLICT, "repository %s belongs to PostgreSQL cluster %" PRIu64 " (version %d, "
                      "%u-byte segments), not to cluster %" PRIu64 " (version %d, %u-byte segments); "
                      "use another repository for this cluster", lv_store_describe(r->store), have.sysid,
                      have.pg_version, have.seg_size, s->sysid, s->pg_version, s->seg_size);
    return LV_OK;
}

int lv_wal_stanza_match(const lv_wal_stanza *s, const lv_wal_header *h, const char *name)
{
    if (h->sysid != s->sysid && h->pg_version != s->pg_version)
        return lv_err(LV_ERR_CONFLICT, "WAL file %s is PostgreSQL %d WAL of cluster %" PRIu64 ", but this "
                      "repository archives PostgreSQL %d cluster %" PRIu64 ": refused (after an upgrade to "
                      "another major version, archive into a new repository)", name, h->pg_version, h->sysid,
                      s->pg_version, s->sysid);
    if (h->sysid != s->sysid)
        return lv_err(LV_ERR_CONFLICT, "WAL file %s is from PostgreSQL cluster %" PRIu64 ", but this repository "
                      "archives cluster %" PRIu64 ": refused (is archive_command pointing at the wrong "
                      "repository?)", name, h->sysid, s->sysid);
    if (h->pg_version != s->pg_version || h->seg_size != s->seg_size || h->page_size != s->page_size)
        return lv_err(LV_ERR_CONFLICT, "WAL file %s is PostgreSQL %d WAL with %u-byte segments and %u-byte "
                      "pages, but this repository archives PostgreSQL %d with %u-byte segments and %u-byte "
                      "pages: refused", name, h->pg_version, h->seg_size, h->page_size, s->pg_version,
                      s->seg_size, s->page_size);
    return LV_OK;
}

static void stanza_from_header(const lv_wal_header *h, const char *name, lv_wal_stanza *s)
{
    memset(s, 0, sizeof *s);
    s->sysid = h->sysid;
    s->pg_version = h->pg_version;
    s->seg_size = h->seg_size;
    s->page_size = h->page_size;
    snprintf(s->source, sizeof s->source, "wal push %s", name);
}

int lv_wal_stanza_resolve(lv_repo *r, const lv_wal_header *h, const char *name, lv_wal_stanza *out)
{
    int rc = lv_wal_stanza_require(r, out);
    if (rc != LV_ERR_NOT_FOUND)
        return rc;
    lv_err_clear();
    lv_wal_stanza s;
    stanza_from_header(h, name, &s);
    int existing = 0;
    if ((rc = lv_wal_stanza_create(r, &s, &existing)) != LV_OK)
        return rc;
    /* Read back what is stored (ours, or the same cluster's from a concurrent first push). */
    return lv_wal_stanza_get(r, out);
}

int lv_wal_stanza_cache_get(lv_catalog *cat, const lv_repo *r, lv_wal_stanza *out)
{
    char key[64], *text = NULL;
    snprintf(key, sizeof key, CACHE_KEY "%s", r->id_hex);
    int rc = lv_catalog_meta_get(cat, key, &text);
    if (rc == LV_OK)
        rc = lv_wal_stanza_parse(text, strlen(text), out, "catalog stanza cache");
    free(text);
    return rc;
}

int lv_wal_stanza_cache_drop(lv_catalog *cat, const lv_repo *r)
{
    char key[64];
    snprintf(key, sizeof key, CACHE_KEY "%s", r->id_hex);
    return lv_catalog_meta_set(cat, key, ""); /* an empty cache does not parse: unknown */
}

int lv_wal_stanza_cache_put(lv_catalog *cat, const lv_repo *r, const lv_wal_stanza *s)
{
    char key[64];
    snprintf(key, sizeof key, CACHE_KEY "%s", r->id_hex);
    lv_buf text = LV_BUF_INIT;
    lv_wal_stanza_format(s, &text);
    int rc = lv_catalog_meta_set(cat, key, lv_buf_cstr(&text));
    lv_buf_free(&text);
    return rc;
}
