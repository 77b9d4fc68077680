/* The summary of a file snapshot (contract in snapshot/summary.h). */
#include "snapshot/summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/manifests.h"
#include "common/error.h"
#include "common/json.h"
#include "common/json_read.h"
#include "common/log.h"
#include "common/sort.h"
#include "snapshot/snapshot.h"

static void json_strings(lv_json *j, const char *key, char *const *v, size_t n)
{
    lv_json_key(j, key);
    lv_json_arr(j);
    for (size_t i = 0; i < n; i++)
        lv_json_str(j, v[i]);
    lv_json_end(j);
}

void lv_snap_summary_encode(const lv_snap_summary *s, lv_buf *out)
{
    lv_json j;
    lv_json_init(&j, out);
    lv_json_obj(&j);
    lv_json_key(&j, "host");
    lv_json_str(&j, s->host);
    lv_json_key(&j, "source");
    lv_json_str(&j, s->source);
    json_strings(&j, "paths", s->paths, s->npaths);
    json_strings(&j, "tags", s->tags, s->ntags);
    const struct {
        const char *k, *v;
    } opt[] = {{"stdin_name", s->stdin_name},
               {"tar", s->tar},
               {"docker_volume", s->docker_volume},
               {"compose_project", s->compose_project}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i].v[0]) {
            lv_json_key(&j, opt[i].k);
            lv_json_str(&j, opt[i].v);
        }
    if (s->nvolumes) {
        lv_json_key(&j, "docker_volumes");
        lv_json_arr(&j);
        for (size_t i = 0; i < s->nvolumes; i++) {
            lv_json_obj(&j);
            lv_json_key(&j, "name");
            lv_json_str(&j, s->volumes[i].name);
            lv_json_key(&j, "path");
            lv_json_str(&j, s->volumes[i].path);
            lv_json_end(&j);
        }
        lv_json_end(&j);
    }
    const struct {
        const char *k;
        uint64_t v;
    } nums[] = {
        {"files_new", s->files_new},     {"files_changed", s->files_changed},
        {"files_unchanged", s->files_unchanged}, {"dirs", s->dirs},
        {"others", s->others},           {"errors", s->errors},
        {"bytes_total", s->bytes_total}, {"bytes_read", s->bytes_read},
        {"bytes_new", s->bytes_new},     {"bytes_stored", s->bytes_stored},
        {"blobs_new", s->blobs_new},     {"trees_new", s->trees_new},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lv_json_key(&j, nums[i].k);
        lv_json_uint(&j, nums[i].v);
    }
    lv_json_key(&j, "seconds");
    lv_json_double(&j, s->seconds);
    lv_json_key(&j, "end_ns");
    lv_json_int(&j, s->end_ns);
    lv_json_key(&j, "incomplete");
    lv_json_bool(&j, s->incomplete);
    lv_json_end(&j);
}

typedef struct strings {
    char ***v;
    size_t *n;
} strings;

static int add_string(void *arg, const char *key, const lv_jval *v)
{
    (void)key;
    strings *l = arg;
    char *str = lv_jstrdup(v);
    if (!str)
        return 0; /* not a string: left out */
    *l->v = lv_xrealloc(*l->v, (*l->n + 1) * sizeof **l->v);
    (*l->v)[(*l->n)++] = str;
    return 0;
}

static int volume_member(void *arg, const char *key, const lv_jval *v)
{
    lv_snap_volume *vol = arg;
    char **out = strcmp(key, "name") == 0 ? &vol->name : strcmp(key, "path") == 0 ? &vol->path : NULL;
    if (out && !*out)
        *out = lv_jstrdup(v);
    return 0;
}

/* One element of docker_volumes: kept when it has a name and a path, both strings. */
static int add_volume(void *arg, const char *key, const lv_jval *v)
{
    (void)key;
    lv_snap_summary *s = arg;
    lv_snap_volume vol = {NULL, NULL};
    if (v->type == LV_JOBJECT)
        lv_jeach(v, volume_member, &vol);
    if (vol.name && vol.path) {
        s->volumes = lv_xrealloc(s->volumes, (s->nvolumes + 1) * sizeof *s->volumes);
        s->volumes[s->nvolumes++] = vol;
    } else {
        free(vol.name);
        free(vol.path);
    }
    return 0;
}

static int member(void *arg, const char *k, const lv_jval *v)
{
    lv_snap_summary *s = arg;
    const struct {
        const char *k;
        char *out;
        size_t n;
    } strs[] = {{"host", s->host, sizeof s->host},
                {"source", s->source, sizeof s->source},
                {"stdin_name", s->stdin_name, sizeof s->stdin_name},
                {"tar", s->tar, sizeof s->tar},
                {"docker_volume", s->docker_volume, sizeof s->docker_volume},
                {"compose_project", s->compose_project, sizeof s->compose_project}};
    const struct {
        const char *k;
        uint64_t *out;
    } nums[] = {{"files_new", &s->files_new},         {"files_changed", &s->files_changed},
                {"files_unchanged", &s->files_unchanged}, {"dirs", &s->dirs},
                {"others", &s->others},               {"errors", &s->errors},
                {"bytes_total", &s->bytes_total},     {"bytes_read", &s->bytes_read},
                {"bytes_new", &s->bytes_new},         {"bytes_stored", &s->bytes_stored},
                {"blobs_new", &s->blobs_new},         {"trees_new", &s->trees_new}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(k, strs[i].k) == 0 && lv_jstr(v, strs[i].out, strs[i].n) != 0)
            strs[i].out[0] = '\0';
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(k, nums[i].k) == 0 && lv_ju64(v, nums[i].out) != 0)
            *nums[i].out = 0;
    strings paths = {&s->paths, &s->npaths}, tags = {&s->tags, &s->ntags};
    if (strcmp(k, "paths") == 0 && v->type == LV_JARRAY && !s->npaths)
        lv_jeach(v, add_string, &paths);
    if (strcmp(k, "tags") == 0 && v->type == LV_JARRAY && !s->ntags)
        lv_jeach(v, add_string, &tags);
    if (strcmp(k, "docker_volumes") == 0 && v->type == LV_JARRAY && !s->nvolumes)
        lv_jeach(v, add_volume, s);
    if (strcmp(k, "seconds") == 0 && lv_jdouble(v, &s->seconds) != 0)
        s->seconds = 0;
    if (strcmp(k, "end_ns") == 0 && lv_ji64(v, &s->end_ns) != 0)
        s->end_ns = 0;
    if (strcmp(k, "incomplete") == 0 && lv_jbool(v, &s->incomplete) != 0)
        s->incomplete = 0;
    return 0;
}

int lv_snap_summary_decode(const char *json, lv_snap_summary *s)
{
    memset(s, 0, sizeof *s);
    lv_jval v;
    if (lv_jparse(json, strlen(json), &v) != 0 || v.type != LV_JOBJECT)
        return lv_err(LV_ERR_CORRUPT, "snapshot summary: not a JSON object");
    lv_jeach(&v, member, s);
    if (!s->host[0] || !s->source[0])
        return lv_err(LV_ERR_CORRUPT, "snapshot summary: no host or no source");
    return LV_OK;
}

void lv_snap_summary_free(lv_snap_summary *s)
{
    for (size_t i = 0; i < s->npaths; i++)
        free(s->paths[i]);
    for (size_t i = 0; i < s->ntags; i++)
        free(s->tags[i]);
    for (size_t i = 0; i < s->nvolumes; i++) {
        free(s->volumes[i].name);
        free(s->volumes[i].path);
    }
    free(s->paths);
    free(s->tags);
    free(s->volumes);
    s->paths = s->tags = NULL;
    s->volumes = NULL;
    s->npaths = s->ntags = s->nvolumes = 0;
}

/* ---- the list ------------------------------------------------------------------------------------ */

typedef struct list {
    lv_snap_row *v;
    size_t n, cap;
} list;

static int add_row(void *arg, const lv_manifest_row *m)
{
    list *l = arg;
    LV_GROW(l->v, l->n, l->cap);
    lv_snap_row *r = &l->v[l->n++];
    snprintf(r->id, sizeof r->id, "%s", m->id);
    r->time = m->time;
    r->summary_json = lv_xstrdup(m->summary);
    if (lv_snap_summary_decode(m->summary, &r->s) != LV_OK) {
        lv_warn("snapshot %.12s: %s", m->id, lv_errmsg());
        lv_err_clear();
    }
    return LV_OK;
}

static int cmp_row(const void *a, const void *b)
{
    const lv_snap_row *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->s.end_ns != y->s.end_ns)
        return x->s.end_ns < y->s.end_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

int lv_snap_list(lv_catalog *c, lv_snap_row **out, size_t *n)
{
    list l = {NULL, 0, 0};
    int rc = lv_catalog_manifest_each(c, LV_SNAP_KIND, add_row, &l);
    if (rc != LV_OK) {
        lv_snap_list_free(l.v, l.n);
        l.v = NULL;
        l.n = 0;
    }
    lv_sort(l.v, l.n, sizeof *l.v, cmp_row);
    *out = l.v;
    *n = l.n;
    return rc;
}

void lv_snap_list_free(lv_snap_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].summary_json);
        lv_snap_summary_free(&rows[i].s);
    }
    free(rows);
}

static int has_tag(const lv_snap_summary *s, const char *tag, size_t len)
{
    for (size_t i = 0; i < s->ntags; i++)
        if (strlen(s->tags[i]) == len && memcmp(s->tags[i], tag, len) == 0)
            return 1;
    return 0;
}

/* Every tag of the group "a,b" (empty members ignored). */
static int has_tag_group(const lv_snap_summary *s, const char *group)
{
    for (const char *p = group; *p;) {
        size_t len = strcspn(p, ",");
        if (len && !has_tag(s, p, len))
            return 0;
        p += len + (p[len] == ',');
    }
    return 1;
}

static size_t trimmed_len(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    return len;
}

static int has_path(const lv_snap_summary *s, const char *path)
{
    size_t len = trimmed_len(path);
    for (size_t i = 0; i < s->npaths; i++)
        if (trimmed_len(s->paths[i]) == len && memcmp(s->paths[i], path, len) == 0)
            return 1;
    return 0;
}

int lv_snap_filter_match(const lv_snap_filter *f, const lv_snap_summary *s)
{
    if (!f)
        return 1;
    int ok = f->nhosts == 0;
    for (size_t i = 0; !ok && i < f->nhosts; i++)
        ok = strcmp(s->host, f->hosts[i]) == 0;
    if (!ok)
        return 0;
    ok = f->ntags == 0;
    for (size_t i = 0; !ok && i < f->ntags; i++)
        ok = has_tag_group(s, f->tags[i]);
    for (size_t i = 0; ok && i < f->npaths; i++)
        ok = has_path(s, f->paths[i]);
    return ok;
}

const char *lv_snap_filter_text(const lv_snap_filter *f)
{
    static char text[1024];
    text[0] = '\0';
    if (!f)
        return text;
    const char *const *lists[] = {f->hosts, f->tags, f->paths};
    const size_t counts[] = {f->nhosts, f->ntags, f->npaths};
    const char *names[] = {"host", "tag", "path"};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++)
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s--%s %s", text[0] ? " " : "", names[k],
                     lists[k][i]);
    return text;
}
