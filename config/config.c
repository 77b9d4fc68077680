#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"

typedef struct slot {
    char *value;
    char *source;
} slot;

typedef struct set_value {
    char *set, *key, *value;
} set_value;

struct lv_config {
    slot *slots;
    size_t n;
    char *file;
    set_value *sets; /* every key = value of every [set NAME], in file order */
    size_t nsets, cap_sets;
};

const char *const lv_set_keys[] = {"path",           "exclude",  "tag",       "docker-volume", "compose-project",
                                   "stop-containers", "one-file-system", "pre-hook", "post-hook", NULL};
static const char *const set_bool_keys[] = {"stop-containers", "one-file-system", NULL};

static size_t opt_count(void)
{
    size_t n = 0;
    while (lv_options[n].key)
        n++;
    return n;
}

static size_t opt_index(const lv_opt_def *d) { return (size_t)(d - lv_options); }

static void slot_set(slot *s, const char *value, const char *source)
{
    free(s->value);
    free(s->source);
    s->value = value ? lv_xstrdup(value) : NULL;
    s->source = lv_xstrdup(source);
}

lv_config *lv_config_new(void)
{
    lv_config *c = lv_xcalloc(1, sizeof *c);
    c->n = opt_count();
    c->slots = lv_xcalloc(c->n, sizeof *c->slots);
    for (size_t i = 0; i < c->n; i++)
        slot_set(&c->slots[i], lv_options[i].def, "default");
    return c;
}

void lv_config_free(lv_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->slots[i].value);
        free(c->slots[i].source);
    }
    free(c->slots);
    free(c->file);
    for (size_t i = 0; i < c->nsets; i++) {
        free(c->sets[i].set);
        free(c->sets[i].key);
        free(c->sets[i].value);
    }
    free(c->sets);
    free(c);
}

int lv_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return LV_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return LV_OK;
        }
    }
    return LV_ERR_CONFIG;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return LV_ERR_CONFIG;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return LV_ERR_CONFIG;
    *out = v;
    return LV_OK;
}

int lv_parse_size(const char *s, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return LV_ERR_CONFIG;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return LV_ERR_CONFIG;
    int shift = 0;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return LV_ERR_CONFIG;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return LV_ERR_CONFIG;
    }
    if (v > (unsigned long long)INT64_MAX >> shift)
        return LV_ERR_CONFIG;
    *out = (int64_t)(v << shift);
    return LV_OK;
}

/* Validate value for d; on error record a message prefixed with where (file:line or variable). */
static int validate(const lv_opt_def *d, const char *value, const char *where)
{
    char name[128];
    lv_opt_name(d, name, sizeof name);
    int64_t v;
    int b;
    switch (d->type) {
    case LV_OPT_STRING:
    case LV_OPT_PATH:
        if (!*value)
            return lv_err(LV_ERR_CONFIG, "%s: %s: empty value", where, name);
        return LV_OK;
    case LV_OPT_BOOL:
        if (lv_parse_bool(value, &b) != LV_OK)
            return lv_err(LV_ERR_CONFIG, "%s: %s: '%s' is not a boolean (true/false)", where, name,
                          d->secret ? "***" : value);
        return LV_OK;
    case LV_OPT_INT:
    case LV_OPT_SIZE:
        if ((d->type == LV_OPT_INT ? parse_int(value, &v) : lv_parse_size(value, &v)) != LV_OK)
            return lv_err(LV_ERR_CONFIG, "%s: %s: '%s' is not %s", where, name, value,
                          d->type == LV_OPT_INT ? "an integer" : "a size (like 16M)");
        if (d->min != d->max && (v < d->min || v > d->max))
            return lv_err(LV_ERR_CONFIG, "%s: %s: %s is outside %lld..%lld", where, name, value,
                          (long long)d->min, (long long)d->max);
        return LV_OK;
    case LV_OPT_ENUM: {
        size_t n = strlen(value);
        for (const char *p = d->choices; p && *p;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, value, n) == 0)
                return LV_OK;
            p = bar ? bar + 1 : p + len;
        }
        return lv_err(LV_ERR_CONFIG, "%s: %s: '%s' is not one of %s", where, name, value, d->choices);
    }
    }
    return LV_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static const lv_opt_def *find_in_section(const char *section, const char *key)
{
    for (const lv_opt_def *d = lv_options; d->key; d++)
        if (strcmp(d->section, section) == 0 && strcmp(d->key, key) == 0)
            return d;
    return NULL;
}

static int known_section(const char *section)
{
    for (const lv_opt_def *d = lv_options; d->key; d++)
        if (strcmp(d->section, section) == 0)
            return 1;
    return 0;
}

static int in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}

static int set_add(lv_config *c, const char *set, const char *key, const char *value, const char *path, int lineno)
{
    if (!in_list(lv_set_keys, key))
        return lv_err(LV_ERR_CONFIG, "%s:%d: unknown key '%s' in [set %s] (path, exclude, tag, docker-volume, "
                      "compose-project, stop-containers, one-file-system, pre-hook, post-hook)",
                      path, lineno, key, set);
    int b;
    if (in_list(set_bool_keys, key) && lv_parse_bool(value, &b) != LV_OK)
        return lv_err(LV_ERR_CONFIG, "%s:%d: [set %s] %s: '%s' is not true or false", path, lineno, set, key, value);
    if (!*value)
        return lv_err(LV_ERR_CONFIG, "%s:%d: [set %s] %s has no value", path, lineno, set, key);
    size_t vl = strlen(value);
    char *v = (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0])
                  ? lv_xasprintf("%.*s", (int)(vl - 2), value + 1)
                  : lv_xstrdup(value);
    LV_GROW(c->sets, c->nsets, c->cap_sets);
    c->sets[c->nsets++] = (set_value){lv_xstrdup(set), lv_xstrdup(key), v};
    return LV_OK;
}

int lv_config_set_exists(const lv_config *c, const char *set)
{
    for (size_t i = 0; i < c->nsets; i++)
        if (strcmp(c->sets[i].set, set) == 0)
            return 1;
    return 0;
}

size_t lv_config_set_values(const lv_config *c, const char *set, const char *key, const char ***out)
{
    size_t n = 0;
    *out = lv_xcalloc(c->nsets + 1, sizeof **out);
    for (size_t i = 0; i < c->nsets; i++)
        if (strcmp(c->sets[i].set, set) == 0 && strcmp(c->sets[i].key, key) == 0)
            (*out)[n++] = c->sets[i].value;
    return n;
}

size_t lv_config_sets(const lv_config *c, const char ***out)
{
    size_t n = 0;
    *out = lv_xcalloc(c->nsets + 1, sizeof **out);
    for (size_t i = 0; i < c->nsets; i++) {
        size_t k = 0;
        while (k < n && strcmp((*out)[k], c->sets[i].set) != 0)
            k++;
        if (k == n)
            (*out)[n++] = c->sets[i].set;
    }
    return n;
}

int lv_config_load_file(lv_config *c, const char *path, int required)
{
    lv_buf text = LV_BUF_INIT;
    int rc = lv_read_file(path, &text);
    if (rc == LV_ERR_NOT_FOUND && !required) {
        lv_buf_free(&text);
        lv_err_clear();
        return LV_OK;
    }
    if (rc != LV_OK) {
        lv_buf_free(&text);
        return lv_err(LV_ERR_CONFIG, "configuration file %s: %s", path, lv_errmsg());
    }
    free(c->file);
    c->file = lv_xstrdup(path);
    if (memchr(text.data, '\0', text.len)) {
        lv_buf_free(&text);
        return lv_err(LV_ERR_CONFIG, "%s: not a text file (contains a NUL byte)", path);
    }
    char section[64] = "global";
    char *save = NULL;
    int lineno = 0;
    /* strtok_r would skip empty lines and so miscount: split by hand. */
    char *p = lv_buf_cstr(&text);
    (void)save;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        char *line = trim(p);
        p = nl ? nl + 1 : NULL;
        if (!*line || *line == '#' || *line == ';')
            continue;
        if (*line == '[') {
            char *end = strchr(line, ']');
            if (!end || end[1] != '\0' || end - line - 1 <= 0 || (size_t)(end - line - 1) >= sizeof section) {
                rc = lv_err(LV_ERR_CONFIG, "%s:%d: malformed section header '%s'", path, lineno, line);
                break;
            }
            *end = '\0';
            snprintf(section, sizeof section, "%s", trim(line + 1));
            if (strncmp(section, "set ", 4) == 0 || strcmp(section, "set") == 0) {
                const char *name = trim(section + 3);
                size_t namelen = strlen(name);
                if (namelen == 0 || namelen > 64 ||
                    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != namelen) {
                    rc = lv_err(LV_ERR_CONFIG, "%s:%d: [set NAME]: a backup set needs a name of letters, digits, "
                                "'.', '_' and '-' (at most 64)", path, lineno);
                    break;
                }
                memmove(section + 4, name, namelen + 1); /* "set NAME" with one space */
                section[3] = ' ';
                continue;
            }
            if (!known_section(section)) {
                rc = lv_err(LV_ERR_CONFIG, "%s:%d: unknown section [%s]", path, lineno, section);
                break;
            }
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            rc = lv_err(LV_ERR_CONFIG, "%s:%d: expected 'key = value', found '%.60s'", path, lineno, line);
            break;
        }
        *eq = '\0';
        char *key = trim(line), *value = trim(eq + 1);
        if (strncmp(section, "set ", 4) == 0) {
            if ((rc = set_add(c, section + 4, key, value, path, lineno)) != LV_OK)
                break;
            continue;
        }
        const lv_opt_def *d = find_in_section(section, key);
        if (!d) {
            rc = lv_err(LV_ERR_CONFIG, "%s:%d: unknown key '%s' in [%s]", path, lineno, key, section);
            break;
        }
        size_t vl = strlen(value);
        if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
            value[vl - 1] = '\0';
            value++;
        }
        char *where = lv_xasprintf("%s:%d", path, lineno);
        rc = validate(d, value, where);
        if (rc == LV_OK)
            slot_set(&c->slots[opt_index(d)], value, where);
        free(where);
        if (rc != LV_OK)
            break;
    }
    lv_buf_free(&text);
    return rc;
}

int lv_config_load_env(lv_config *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const lv_opt_def *d = &lv_options[i];
        const char *var = d->env, *v = d->env ? getenv(d->env) : NULL;
        if ((!v || !*v) && d->alt_env) {
            var = d->alt_env;
            v = getenv(d->alt_env);
        }
        if (!v || !*v)
            continue;
        char *where = lv_xasprintf("environment %s", var);
        int rc = validate(d, v, where);
        if (rc == LV_OK)
            slot_set(&c->slots[i], v, where);
        free(where);
        if (rc != LV_OK)
            return rc;
    }
    return LV_OK;
}

int lv_config_set_flag(lv_config *c, const char *name, const char *value)
{
    const lv_opt_def *d = lv_opt_find(name);
    if (!d)
        return lv_err(LV_ERR_USAGE, "unknown option --%s", name);
    if (d->secret)
        return lv_err(LV_ERR_USAGE,
                      "--%s: secrets are not accepted on the command line (visible in ps); use %s or the "
                      "configuration file",
                      name, d->env);
    char *where = lv_xasprintf("flag --%s", name);
    int rc = validate(d, value, where);
    if (rc == LV_OK)
        slot_set(&c->slots[opt_index(d)], value, where);
    else
        rc = LV_ERR_USAGE;
    free(where);
    return rc;
}

static const slot *get(const lv_config *c, const char *name)
{
    const lv_opt_def *d = lv_opt_find(name);
    if (!d) {
        fprintf(stderr, "labvault: internal error: unknown option '%s'\n", name);
        abort();
    }
    return &c->slots[opt_index(d)];
}

const char *lv_config_str(const lv_config *c, const char *name) { return get(c, name)->value; }

int64_t lv_config_int(const lv_config *c, const char *name)
{
    const char *v = get(c, name)->value;
    int64_t out = 0;
    if (!v)
        return 0;
    if (lv_opt_find(name)->type == LV_OPT_SIZE)
        lv_parse_size(v, &out);
    else
        parse_int(v, &out);
    return out;
}

int lv_config_bool(const lv_config *c, const char *name)
{
    const char *v = get(c, name)->value;
    int b = 0;
    if (v)
        lv_parse_bool(v, &b);
    return b;
}

const char *lv_config_source(const lv_config *c, const char *name) { return get(c, name)->source; }
const char *lv_config_file(const lv_config *c) { return c->file; }

int lv_config_bad_value_code(const lv_config *c, const char *name)
{
    return strncmp(lv_config_source(c, name), "flag ", 5) == 0 ? LV_ERR_USAGE : LV_ERR_CONFIG;
}

void lv_config_show(const lv_config *c, int json, lv_buf *out)
{
    char name[128];
    lv_json j;
    if (json) {
        lv_json_init(&j, out);
        lv_json_obj(&j);
        lv_json_key(&j, "file");
        if (c->file)
            lv_json_str(&j, c->file);
        else
            lv_json_null(&j);
        lv_json_key(&j, "options");
        lv_json_obj(&j);
    } else {
        lv_buf_printf(out, "# configuration file: %s\n", c->file ? c->file : "(none)");
        lv_buf_printf(out, "%-24s %-40s %s\n", "OPTION", "VALUE", "SOURCE");
    }
    for (size_t i = 0; i < c->n; i++) {
        const lv_opt_def *d = &lv_options[i];
        const slot *s = &c->slots[i];
        lv_opt_name(d, name, sizeof name);
        const char *shown = s->value ? (d->secret ? "********" : s->value) : NULL;
        if (json) {
            lv_json_key(&j, name);
            lv_json_obj(&j);
            lv_json_key(&j, "value");
            if (shown)
                lv_json_str(&j, shown);
            else
                lv_json_null(&j);
            lv_json_key(&j, "source");
            lv_json_str(&j, s->source);
            lv_json_end(&j);
        } else {
            lv_buf_printf(out, "%-24s %-40s %s\n", name, shown ? shown : "(unset)", s->source);
        }
    }
    if (json) {
        lv_json_end(&j);
        lv_json_key(&j, "sets");
        lv_json_obj(&j);
    }
    const char **sets;
    size_t nsets = lv_config_sets(c, &sets);
    for (size_t k = 0; k < nsets; k++) {
        if (json) {
            lv_json_key(&j, sets[k]);
            lv_json_obj(&j);
        } else {
            lv_buf_printf(out, "\n[set %s]\n", sets[k]);
        }
        for (const char *const *key = lv_set_keys; *key; key++) {
            const char **v;
            size_t n = lv_config_set_values(c, sets[k], *key, &v);
            if (json && n) {
                lv_json_key(&j, *key);
                lv_json_arr(&j);
            }
            for (size_t i = 0; i < n; i++)
                if (json)
                    lv_json_str(&j, v[i]);
                else
                    lv_buf_printf(out, "%s = %s\n", *key, v[i]);
            if (json && n)
                lv_json_end(&j);
            free(v);
        }
        if (json)
            lv_json_end(&j);
    }
    free(sets);
    if (json) {
        lv_json_end(&j);
        lv_json_end(&j);
        lv_buf_append_str(out, "\n");
    }
}
