/* Shared plumbing of the commands: flags, output, and opening store, repository and catalog from the
 * configuration. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/testpause.h"
#include "maint/sync.h"
#include "repo/lock.h"

const char *lv_ctx_flag(const lv_ctx *ctx, const char *name)
{
    for (int i = ctx->nflags - 1; i >= 0; i--)
        if (strcmp(ctx->flag_names[i], name) == 0)
            return ctx->flag_values[i];
    return NULL;
}

size_t lv_ctx_flag_all(const lv_ctx *ctx, const char *name, const char ***out)
{
    size_t n = 0;
    *out = lv_xcalloc((size_t)ctx->nflags + 1, sizeof **out);
    for (int i = 0; i < ctx->nflags; i++)
        if (strcmp(ctx->flag_names[i], name) == 0)
            (*out)[n++] = ctx->flag_values[i];
    return n;
}

static void add_flag(lv_ctx *ctx, const char *name, const char *value)
{
    ctx->flag_names = lv_xrealloc(ctx->flag_names, ((size_t)ctx->nflags + 1) * sizeof *ctx->flag_names);
    ctx->flag_values = lv_xrealloc(ctx->flag_values, ((size_t)ctx->nflags + 1) * sizeof *ctx->flag_values);
    ctx->flag_names[ctx->nflags] = name;
    ctx->flag_values[ctx->nflags++] = value;
}

int lv_ctx_expand_set(lv_ctx *ctx)
{
    const char *set = lv_ctx_flag(ctx, "set");
    if (!set)
        return LV_OK;
    if (!lv_config_set_exists(ctx->cfg, set))
        return lv_err(LV_ERR_USAGE, "--set %s: the configuration (%s) has no [set %s]", set,
                      lv_config_file(ctx->cfg) ? lv_config_file(ctx->cfg) : "no file", set);
    const char **paths;
    size_t np = lv_config_set_values(ctx->cfg, set, "path", &paths);
    ctx->argv_owned = lv_xcalloc((size_t)ctx->argc + np + 1, sizeof *ctx->argv_owned);
    for (int i = 0; i < ctx->argc; i++)
        ctx->argv_owned[i] = ctx->argv[i];
    for (size_t i = 0; i < np; i++)
        ctx->argv_owned[(size_t)ctx->argc + i] = (char *)(uintptr_t)paths[i];
    ctx->argv = ctx->argv_owned;
    ctx->argc += (int)np;
    free(paths);
    static const char *const repeat[] = {"exclude", "tag", NULL}, *const once[] = {"docker-volume", "compose-project",
                                                                                    "pre-hook", "post-hook", NULL};
    for (const char *const *k = repeat; *k; k++) {
        const char **v;
        size_t n = lv_config_set_values(ctx->cfg, set, *k, &v);
        for (size_t i = 0; i < n; i++)
            add_flag(ctx, *k, v[i]);
        free(v);
    }
    for (const char *const *k = once; *k; k++) {
        const char **v;
        size_t n = lv_config_set_values(ctx->cfg, set, *k, &v);
        if (n && !lv_ctx_flag(ctx, *k))
            add_flag(ctx, *k, v[n - 1]);
        free(v);
    }
    static const char *const bools[] = {"stop-containers", "one-file-system", NULL};
    for (const char *const *k = bools; *k; k++) {
        const char **v;
        size_t n = lv_config_set_values(ctx->cfg, set, *k, &v);
        int on = 0;
        if (n && lv_parse_bool(v[n - 1], &on) == LV_OK && on && !lv_ctx_flag(ctx, *k))
            add_flag(ctx, *k, "");
        free(v);
    }
    ctx->set_tag = lv_xasprintf("set:%s", set);
    add_flag(ctx, "tag", ctx->set_tag);
    return LV_OK;
}

void lv_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void lv_out_buf(const lv_buf *b)
{
    if (b->len) /* fwrite(NULL, ...) of an empty buffer is undefined */
        fwrite(b->data, 1, b->len, stdout);
}

void lv_result_json(lv_buf *out, const char *id, int rc, const char *summary_json)
{
    lv_buf_printf(out, "{\"id\":\"%s\",", id);
    if (rc != LV_OK) {
        lv_buf_printf(out, "\"error\":{\"code\":%d,\"kind\":\"%s\",\"message\":", rc, lv_code_name(rc));
        lv_json_escape(out, lv_errmsg());
        lv_buf_append_str(out, "},");
    }
    lv_json_append_raw(out, summary_json + 1);
    lv_buf_append_str(out, "\n");
}

int lv_ctx_progress(const lv_ctx *ctx)
{
    if (ctx->progress >= 0)
        return ctx->progress;
    return !ctx->json && isatty(STDERR_FILENO) && lv_log_get_level() <= LV_LOG_WARN;
}

int lv_ctx_open_store(lv_ctx *ctx)
{
    if (ctx->store)
        return LV_OK;
    const lv_config *c = ctx->cfg;
    lv_store_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = lv_config_str(c, "s3-endpoint");
    o.region = lv_config_str(c, "s3-region");
    o.access_key = lv_config_str(c, "s3-access-key");
    o.secret_key = lv_config_str(c, "s3-secret-key");
    o.session_token = lv_config_str(c, "s3-session-token");
    o.path_style = strcmp(lv_config_str(c, "s3-uri-style"), "path") == 0 ? 1 : -1;
    o.verify_tls = lv_config_bool(c, "s3-verify-tls") ? 1 : -1;
    o.ca_file = lv_config_str(c, "s3-ca-file");
    o.concurrency = (int)lv_config_int(c, "s3-concurrency");
    o.multipart_threshold = (uint64_t)lv_config_int(c, "s3-multipart-threshold");
    o.part_size = (uint64_t)lv_config_int(c, "s3-part-size");
    /* The driver reads 0 as "its default"; the user's 0 means no retries, which it spells -1. */
    o.max_retries = lv_config_int(c, "s3-max-retries") == 0 ? -1 : (int)lv_config_int(c, "s3-max-retries");
    o.timeout_s = (int)lv_config_int(c, "s3-timeout");
    o.connect_timeout_s = (int)lv_config_int(c, "s3-connect-timeout");
    o.deadline_s = ctx->store_deadline_s;
    const char *url = lv_config_str(c, "repo");
    int rc = lv_store_open(url, &o, &ctx->store);
    if (rc != LV_OK)
        return lv_err_ctx("repository %s", url);
    return LV_OK;
}

int lv_read_secret_file(const char *path, int bad_code, const char *origin, char **out)
{
    char from[160] = "";
    if (origin)
        snprintf(from, sizeof from, " (from %s)", origin);
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    if (rc != LV_OK) {
        lv_buf_free(&b);
        /* Missing: a bad setting. Unreadable (permission, I/O): local I/O, as for every file. */
        return lv_err(rc == LV_ERR_NOT_FOUND ? bad_code : rc, "passphrase file%s: %s", from, lv_errmsg());
    }
    char *s = lv_buf_cstr(&b);
    s[strcspn(s, "\r\n")] = '\0';
    if (!*s) {
        lv_buf_free(&b);
        return lv_err(bad_code, "passphrase file %s%s: first line is empty", path, from);
    }
    *out = s; /* ownership of b.data passes to the caller */
    return LV_OK;
}

int lv_ctx_credential(lv_ctx *ctx, int confirm, lv_credential *cred)
{
    memset(cred, 0, sizeof *cred);
    cred->key_file = lv_config_str(ctx->cfg, "key-file");
    if (cred->key_file) {
        /* Read later, when the repository is opened: a bad one is reported as the setting it came from. */
        cred->key_file_code = lv_config_bad_value_code(ctx->cfg, "key-file");
        cred->key_file_origin = lv_config_source(ctx->cfg, "key-file");
        return LV_OK;
    }
    if (!ctx->passphrase) {
        const char *env = getenv("LABVAULT_PASSPHRASE"), *file = lv_config_str(ctx->cfg, "passphrase-file");
        int rc = LV_ERR_NOT_FOUND;
        if (env && *env) {
            ctx->passphrase = lv_xstrdup(env);
            rc = LV_OK;
        } else if (file) {
            rc = lv_read_secret_file(file, lv_config_bad_value_code(ctx->cfg, "passphrase-file"),
                                     lv_config_source(ctx->cfg, "passphrase-file"), &ctx->passphrase);
        }
        if (rc == LV_ERR_NOT_FOUND) {
            if (!isatty(STDIN_FILENO))
                return lv_err(LV_ERR_CONFIG, "no repository credential: set LABVAULT_PASSPHRASE, "
                                             "passphrase-file or key-file (stdin is not a terminal)");
            rc = lv_prompt_secret("Repository passphrase: ", &ctx->passphrase);
            if (rc == LV_OK && confirm) {
                char *again = NULL;
                rc = lv_prompt_secret("Repeat passphrase: ", &again);
                if (rc == LV_OK && strcmp(again, ctx->passphrase) != 0)
                    rc = lv_err(LV_ERR_USAGE, "the passphrases do not match");
                free(again);
            }
        }
        if (rc != LV_OK)
            return rc;
    }
    cred->passphrase = ctx->passphrase;
    return LV_OK;
}

int lv_ctx_rebuild_catalog(lv_ctx *ctx, lv_rebuild_stats *st)
{
    memset(st, 0, sizeof *st);
    int rc = lv_catalog_rebuild(ctx->repo, st);
    if (rc != LV_OK && rc != LV_ERR_INCOMPLETE)
        return rc;
    int bound = lv_catalog_set_repo(ctx->cat, ctx->repo->id_hex);
    return bound != LV_OK ? bound : rc;
}

/* A catalog file that did not exist is a new host (or a lost disk): fill it from the repository before the
 * command uses it, so that restoring on a new machine needs nothing but the configuration. A new
 * repository has nothing to read, so this costs one listing there. */
static int fill_new_catalog(lv_ctx *ctx, const char *path)
{
    lv_rebuild_stats st;
    int rc = lv_ctx_rebuild_catalog(ctx, &st);
    if (rc == LV_ERR_INCOMPLETE) { /* what is there is usable; `repo check` tells the rest */
        lv_warn("new catalog %s: %s", path, lv_errmsg());
        rc = LV_OK;
    }
    if (rc != LV_OK)
        return lv_err(rc, "catalog %s is new and could not be filled from the repository: %s", path, lv_errmsg());
    if (st.manifests || st.indexes)
        lv_warn("catalog %s was new: filled it from the repository (%llu manifests, %llu blobs)", path,
                (unsigned long long)st.manifests, (unsigned long long)st.blobs);
    return LV_OK;
}

/* In-flight markers live for the whole command; their lease is long against the refresh interval (a
 * quarter of it), so only a process stopped or cut off for minutes loses it. */
#define INFLIGHT_LEASE_S 900

static int announce(lv_ctx *ctx)
{
    if (ctx->inflight)
        return LV_OK;
    if (lv_lock_announce(ctx->store, INFLIGHT_LEASE_S, ctx->cmd ? ctx->cmd->name : "labvault", &ctx->inflight) !=
        LV_OK) {
        /* Never fail a backup for this: prune then only lacks the hint to wait (docs/repository-format.md 10). */
        lv_warn("%s", lv_errmsg());
        lv_err_clear();
        return LV_OK;
    }
    return lv_lock_keepalive(ctx->inflight);
}

int lv_ctx_open_repo(lv_ctx *ctx, int what)
{
    int with_catalog = what & LV_CTX_CATALOG;
    int rc = lv_ctx_open_store(ctx);
    if (rc != LV_OK)
        return rc;
    if (!ctx->repo) {
        lv_credential cred;
        rc = lv_ctx_credential(ctx, 0, &cred);
        if (rc != LV_OK)
            return rc;
        rc = lv_repo_open(ctx->store, &cred, &ctx->repo);
        if (rc != LV_OK)
            return rc;
    }
    if (with_catalog && !ctx->cat) {
        const char *path = lv_config_str(ctx->cfg, "catalog");
        int fresh = access(path, F_OK) != 0 && errno == ENOENT;
        rc = lv_catalog_open(path, ctx->repo->id_hex, &ctx->cat);
        if (rc != LV_OK)
            return rc;
        ctx->repo->cat = ctx->cat;
        if ((what & LV_CTX_INFLIGHT) == LV_CTX_INFLIGHT)
            rc = announce(ctx);
        if (rc == LV_OK && fresh)
            rc = fill_new_catalog(ctx, path);
        else if (rc == LV_OK && (what & LV_CTX_SYNC) == LV_CTX_SYNC)
            rc = lv_catalog_sync(ctx->repo, NULL);
        /* Test-only: hold a command between its sync and its work, so the retention tests can run a prune
         * against a backup whose catalog predates it (tests/retention/prune_concurrency.sh). */
        if (rc == LV_OK && (what & LV_CTX_INFLIGHT) == LV_CTX_INFLIGHT)
            rc = lv_test_pause("LABVAULT_TEST_PAUSE_AFTER_SYNC", 1);
    }
    return rc;
}

void lv_ctx_close(lv_ctx *ctx)
{
    free(ctx->argv_owned);
    free(ctx->set_tag);
    ctx->argv_owned = NULL;
    ctx->set_tag = NULL;
    if (ctx->inflight && lv_lock_release(ctx->inflight) != LV_OK)
        lv_err_clear(); /* its lease expires */
    ctx->inflight = NULL;
    if (ctx->repo)
        lv_repo_close(ctx->repo);
    if (ctx->cat)
        lv_catalog_close(ctx->cat);
    if (ctx->store)
        lv_store_close(ctx->store);
    if (ctx->passphrase) {
        memset(ctx->passphrase, 0, strlen(ctx->passphrase));
        free(ctx->passphrase);
    }
    ctx->repo = NULL;
    ctx->cat = NULL;
    ctx->store = NULL;
    ctx->passphrase = NULL;
}
