/* Retention commands: forget, prune, repo stats. They parse and print; retention/ does the work. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "repo/lock.h"
#include "retention/forget.h"
#include "retention/prune.h"
#include "retention/stats.h"

/* ---- options ----------------------------------------------------------------------------------- */

static const char *const keep_flags[] = {"keep-last",    "keep-hourly", "keep-daily",  "keep-weekly",
                                         "keep-monthly", "keep-yearly", "keep-within", "recovery-window"};

/* A policy value from forget's flags (names without a kind prefix). */
static const char *flag_get(void *arg, const char *name) { return lv_ctx_flag(arg, name); }

/* ... or from the [retention] options ("files-keep-daily" is retention-files-keep-daily). */
static const char *config_get(void *arg, const char *name)
{
    const lv_ctx *ctx = arg;
    char opt[96];
    snprintf(opt, sizeof opt, "retention-%s", name);
    return lv_config_str(ctx->cfg, opt);
}

/* The policies: the command's keep flags for every kind when any is given, else the configuration's. */
static int policies(lv_ctx *ctx, lv_forget_opts *o, char ***files_tags, char ***pg_tags, const char ***flag_tags)
{
    int from_flags = 0;
    for (size_t i = 0; i < sizeof keep_flags / sizeof keep_flags[0]; i++)
        from_flags |= lv_ctx_flag(ctx, keep_flags[i]) != NULL;
    size_t ntags = lv_ctx_flag_all(ctx, "keep-tag", flag_tags);
    if (from_flags || ntags) {
        int rc = lv_keep_policy_from_options("", flag_get, ctx, &o->files_policy, NULL, LV_ERR_USAGE, "--");
        if (rc != LV_OK)
            return rc;
        o->files_policy.tags = *flag_tags;
        o->files_policy.ntags = ntags;
        o->pg_policy = o->files_policy;
        return LV_OK;
    }
    int rc = lv_keep_policy_from_options("files-", config_get, ctx, &o->files_policy, files_tags, LV_ERR_CONFIG,
                                         "option retention-");
    if (rc == LV_OK)
        rc = lv_keep_policy_from_options("pg-", config_get, ctx, &o->pg_policy, pg_tags, LV_ERR_CONFIG,
                                         "option retention-");
    return rc;
}

static int parse_kind(lv_ctx *ctx, lv_forget_opts *o)
{
    const char *k = lv_ctx_flag(ctx, "kind");
    o->files = o->pg = 1;
    if (!k || strcmp(k, "all") == 0)
        return LV_OK;
    if (strcmp(k, "files") == 0)
        o->pg = 0;
    else if (strcmp(k, "pg") == 0)
        o->files = 0;
    else
        return lv_err(LV_ERR_USAGE, "--kind %s: expected files, pg or all", k);
    return LV_OK;
}

static int parse_group_by(lv_ctx *ctx, unsigned *by)
{
    const char *g = lv_ctx_flag(ctx, "group-by");
    *by = 0;
    if (!g)
        return LV_OK;
    char *copy = lv_xstrdup(g), *save = NULL;
    int rc = LV_OK;
    for (char *t = strtok_r(copy, ",", &save); t && rc == LV_OK; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "host") == 0)
            *by |= LV_GROUP_HOST;
        else if (strcmp(t, "paths") == 0)
            *by |= LV_GROUP_PATHS;
        else if (strcmp(t, "tags") == 0)
            *by |= LV_GROUP_TAGS;
        else
            rc = lv_err(LV_ERR_USAGE, "--group-by %s: expected host, paths and/or tags, comma-separated", g);
    }
    free(copy);
    if (rc == LV_OK && *by == 0)
        rc = lv_err(LV_ERR_USAGE, "--group-by: give host, paths and/or tags");
    return rc;
}

static int parse_int_flag(lv_ctx *ctx, const char *name, int lo, int hi, int *v)
{
    const char *s = lv_ctx_flag(ctx, name);
    if (!s)
        return LV_OK;
    char *e;
    long n = strtol(s, &e, 10);
    if (!*s || *e || n < lo || n > hi)
        return lv_err(LV_ERR_USAGE, "--%s %s: expected a number from %d to %d", name, s, lo, hi);
    *v = (int)n;
    return LV_OK;
}

static int parse_safety(lv_ctx *ctx, int *none)
{
    const char *s = lv_ctx_flag(ctx, "safety");
    *none = 0;
    if (!s || strcmp(s, "full") == 0)
        return LV_OK;
    if (strcmp(s, "none") == 0) {
        *none = 1;
        return LV_OK;
    }
    return lv_err(LV_ERR_USAGE, "--safety %s: expected full or none", s);
}

/* The exclusive maintenance lock, refreshed while the command runs. */
static int maintenance_lock(lv_ctx *ctx, const char *purpose, lv_lock **lock)
{
    int rc = lv_lock_acquire(ctx->store, 1, (int)lv_config_int(ctx->cfg, "lock-lease"), purpose, lock);
    if (rc == LV_OK)
        rc = lv_lock_keepalive(*lock);
    return rc;
}

/* ---- prune ------------------------------------------------------------------------------------- */

static int prune_opts(lv_ctx *ctx, lv_prune_opts *po, char **workdir)
{
    memset(po, 0, sizeof *po);
    po->max_unused = 0.10;
    const char *mu = lv_ctx_flag(ctx, "max-unused");
    if (mu) {
        char *e;
        double v = strtod(mu, &e);
        if (*e == '%')
            e++;
        if (e == mu || *e || v < 0 || v > 100)
            return lv_err(LV_ERR_USAGE, "--max-unused %s: expected a percentage from 0 to 100", mu);
        po->max_unused = v / 100.0;
    }
    po->wait_s = 600;
    int rc = parse_int_flag(ctx, "wait", 0, 86400, &po->wait_s);
    if (rc == LV_OK)
        rc = parse_safety(ctx, &po->safety_none);
    char *cat = lv_xstrdup(lv_config_str(ctx->cfg, "catalog"));
    *workdir = lv_xstrdup(dirname(cat));
    free(cat);
    po->workdir = *workdir;
    po->dry_run = lv_ctx_flag(ctx, "dry-run") != NULL;
    po->progress = lv_ctx_progress(ctx);
    return rc;
}

static void prune_json(lv_json *j, const lv_prune_result *r, int dry_run)
{
    lv_json_obj(j);
    lv_json_key(j, "dry_run");
    lv_json_bool(j, dry_run);
    struct {
        const char *k;
        uint64_t v;
    } nums[] = {
        {"manifests", r->manifests},
        {"blobs", r->plan.blobs},
        {"blobs_referenced", r->plan.refs},
        {"packs", r->plan.packs},
        {"pack_bytes", r->plan.pack_bytes},
        {"used_bytes", r->plan.used_bytes},
        {"unused_bytes", r->plan.unused_bytes},
        {"packs_kept", r->plan.keep},
        {"packs_to_repack", r->plan.repack},
        {"packs_to_delete", r->plan.del},
        {"bytes_to_delete", r->plan.del_bytes + r->plan.repack_bytes},
        {"bytes_to_copy", r->plan.repack_used_bytes},
        {"packs_written", r->packs_written},
        {"bytes_written", r->bytes_written},
        {"packs_deleted", r->packs_deleted},
        {"bytes_deleted", r->bytes_deleted},
        {"packs_rescued", r->packs_rescued},
        {"packs_protected", r->packs_protected},
        {"packs_deferred", r->packs_deferred},
        {"bytes_deferred", r->bytes_deferred},
        {"indexes_before", r->indexes_before},
        {"indexes_after", r->indexes_after},
        {"bytes_before", r->bytes_before},
        {"bytes_after", r->bytes_after},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lv_json_key(j, nums[i].k);
        lv_json_uint(j, nums[i].v);
    }
    lv_json_key(j, "deferred_by");
    if (r->deferred_by[0])
        lv_json_str(j, r->deferred_by);
    else
        lv_json_null(j);
    lv_json_key(j, "seconds");
    lv_json_double(j, r->seconds);
    lv_json_end(j);
}

static void prune_text(const lv_prune_result *r, int dry_run)
{
    char a[32], b[32], c[32];
    lv_human_size(r->plan.pack_bytes, a);
    lv_human_size(r->plan.unused_bytes, b);
    lv_out("%llu manifests reference %llu of %llu blobs; %llu packs, %s, of which %s unused\n",
           (unsigned long long)r->manifests, (unsigned long long)r->plan.refs, (unsigned long long)r->plan.blobs,
           (unsigned long long)r->plan.packs, a, b);
    lv_human_size(r->plan.del_bytes, a);
    lv_human_size(r->plan.repack_bytes, b);
    lv_human_size(r->plan.repack_used_bytes, c);
    lv_out("%s %llu packs (%s) to delete, %llu packs (%s) to repack (copying %s), %llu packs kept\n",
           dry_run ? "would find" : "found", (unsigned long long)r->plan.del, a, (unsigned long long)r->plan.repack, b,
           c, (unsigned long long)r->plan.keep);
    if (dry_run)
        return;
    lv_human_size(r->bytes_written, a);
    lv_human_size(r->bytes_deleted, b);
    lv_out("wrote %llu packs (%s) and %llu index objects (were %llu); deleted %llu packs (%s)\n",
           (unsigned long long)r->packs_written, a, (unsigned long long)r->indexes_after,
           (unsigned long long)r->indexes_before, (unsigned long long)r->packs_deleted, b);
    if (r->packs_rescued || r->packs_protected)
        lv_out("kept %llu packs a backup that finished during prune uses\n",
               (unsigned long long)(r->packs_rescued + r->packs_protected));
    if (r->packs_deferred) {
        lv_human_size(r->bytes_deferred, a);
        lv_out("deferred: %llu packs (%s) stay until the next prune, because %s is running\n",
               (unsigned long long)r->packs_deferred, a, r->deferred_by);
    }
    lv_human_size(r->bytes_before, a);
    lv_human_size(r->bytes_after, b);
    lv_out("repository packs: %s before, %s after, %.1f s\n", a, b, r->seconds);
}

static int run_prune(lv_ctx *ctx, lv_json *j, int in_forget)
{
    lv_prune_opts po;
    char *workdir = NULL;
    int rc = prune_opts(ctx, &po, &workdir);
    if (rc == LV_OK && in_forget)
        po.dry_run = lv_ctx_flag(ctx, "dry-run") != NULL;
    po.self_marker = NULL;
    lv_prune_result res;
    if (rc == LV_OK)
        rc = lv_prune(ctx->repo, &po, &res);
    if (rc == LV_OK)
        ctx->run_bytes = res.bytes_deleted;
    if (rc == LV_OK || res.manifests) {
        if (j)
            prune_json(j, &res, po.dry_run);
        else
            prune_text(&res, po.dry_run);
    }
    free(workdir);
    return rc;
}

int lv_cmd_prune(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    lv_lock *lock = NULL;
    if (rc == LV_OK && !lv_ctx_flag(ctx, "dry-run"))
        rc = maintenance_lock(ctx, "prune", &lock);
    if (rc != LV_OK)
        return rc;
    lv_buf out = LV_BUF_INIT;
    lv_json j;
    lv_json_init(&j, &out);
    rc = run_prune(ctx, ctx->json ? &j : NULL, 0);
    if (ctx->json && out.len) {
        lv_buf_append_str(&out, "\n");
        lv_out_buf(&out);
    }
    lv_buf_free(&out);
    if (lock && lv_lock_release(lock) != LV_OK)
        lv_err_clear();
    return rc;
}

/* ---- forget ------------------------------------------------------------------------------------ */

static void forget_json(lv_json *j, const lv_forget_result *r, int dry_run)
{
    lv_json_key(j, "dry_run");
    lv_json_bool(j, dry_run);
    lv_json_key(j, "removed");
    lv_json_uint(j, r->removed);
    lv_json_key(j, "groups");
    lv_json_arr(j);
    for (size_t i = 0; i < r->n;) {
        size_t k = i;
        lv_json_obj(j);
        lv_json_key(j, "group");
        lv_json_str(j, r->items[i].group);
        lv_json_key(j, "kind");
        lv_json_str(j, r->items[i].kind);
        lv_json_key(j, "backups");
        lv_json_arr(j);
        for (; k < r->n && strcmp(r->items[k].group, r->items[i].group) == 0; k++) {
            const lv_forget_item *it = &r->items[k];
            lv_json_obj(j);
            lv_json_key(j, "id");
            lv_json_str(j, it->id);
            lv_json_key(j, "time");
            lv_json_int(j, it->time);
            lv_json_key(j, "what");
            lv_json_str(j, it->what);
            lv_json_key(j, "action");
            lv_json_str(j, it->remove ? "remove" : "keep");
            lv_json_key(j, "reasons");
            lv_json_arr(j);
            for (int b = 0; b < LV_KEEP_NREASONS; b++)
                if (it->reasons & (1u << b))
                    lv_json_str(j, lv_keep_reason_name(1u << b));
            if (it->explicit_)
                lv_json_str(j, "named");
            lv_json_end(j);
            lv_json_end(j);
        }
        lv_json_end(j);
        lv_json_end(j);
        i = k;
    }
    lv_json_end(j);
    lv_json_key(j, "wal");
    lv_json_obj(j);
    lv_json_key(j, "files_removed");
    lv_json_uint(j, r->wal_removed);
    lv_json_key(j, "bytes_removed");
    lv_json_uint(j, r->wal_bytes);
    lv_json_key(j, "oldest_kept_segment");
    if (r->wal_oldest_kept[0])
        lv_json_str(j, r->wal_oldest_kept);
    else
        lv_json_null(j);
    lv_json_key(j, "deferred");
    lv_json_bool(j, r->wal_deferred);
    lv_json_end(j);
}

static void forget_text(const lv_forget_result *r, int dry_run)
{
    for (size_t i = 0; i < r->n;) {
        size_t k = i, keep = 0, rm = 0;
        for (; k < r->n && strcmp(r->items[k].group, r->items[i].group) == 0; k++)
            r->items[k].remove ? rm++ : keep++;
        lv_out("%s: %zu kept, %zu %s%s\n", r->items[i].group, keep, rm, dry_run ? "to remove" : "removed",
               strcmp(r->items[i].kind, "pg") == 0 && rm
                   ? " (each backup is complete on its own: none is kept only because another needs it)"
                   : "");
        lv_out("  %-12s  %-19s  %-6s  %-30s  %s\n", "ID", "TIME", "ACTION", "REASONS", "WHAT");
        for (size_t m = i; m < k; m++) {
            const lv_forget_item *it = &r->items[m];
            char when[LV_TIME_TEXT_MAX], why[160];
            lv_time_format(it->time, LV_TIME_LOCAL, when);
            lv_keep_reasons_text(it->reasons, why, sizeof why);
            lv_out("  %.12s  %-19s  %-6s  %-30s  %s\n", it->id, when, it->remove ? "remove" : "keep",
                   it->explicit_ ? "named" : why, it->what);
        }
        i = k;
    }
    if (r->wal_removed || r->wal_oldest_kept[0]) {
        char size[32];
        lv_human_size(r->wal_bytes, size);
        if (r->wal_deferred)
            lv_out("WAL: %llu files (%s) before segment %s stay until the next forget, because %s is running\n",
                   (unsigned long long)r->wal_removed, size, r->wal_oldest_kept, r->wal_deferred_by);
        else
            lv_out("WAL: %s %llu files (%s) before segment %s, the oldest kept backup's start\n",
                   dry_run ? "would remove" : "removed", (unsigned long long)r->wal_removed, size, r->wal_oldest_kept);
    }
}

int lv_cmd_forget(lv_ctx *ctx)
{
    lv_forget_opts o;
    memset(&o, 0, sizeof o);
    char **files_tags = NULL, **pg_tags = NULL;
    const char **flag_tags = NULL;
    o.ids = (const char *const *)ctx->argv;
    o.nids = (size_t)ctx->argc;
    o.dry_run = lv_ctx_flag(ctx, "dry-run") != NULL;
    o.force = lv_ctx_flag(ctx, "force") != NULL;
    o.host = lv_ctx_flag(ctx, "host");
    o.now = (int64_t)time(NULL);
    o.wait_s = 600;
    int do_prune = lv_ctx_flag(ctx, "prune") != NULL;
    int rc = parse_kind(ctx, &o);
    if (rc == LV_OK)
        rc = parse_group_by(ctx, &o.group_by);
    if (rc == LV_OK)
        rc = parse_int_flag(ctx, "wait", 0, 86400, &o.wait_s);
    if (rc == LV_OK)
        rc = parse_safety(ctx, &o.safety_none);
    if (rc == LV_OK && !o.nids)
        rc = policies(ctx, &o, &files_tags, &pg_tags, &flag_tags);
    lv_lock *lock = NULL;
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc == LV_OK && !o.dry_run)
        rc = maintenance_lock(ctx, do_prune ? "forget --prune" : "forget", &lock);
    lv_forget_result res;
    memset(&res, 0, sizeof res);
    if (rc == LV_OK)
        rc = lv_forget(ctx->repo, &o, &res);
    lv_buf out = LV_BUF_INIT;
    lv_json j;
    lv_json_init(&j, &out);
    if (ctx->json && (rc == LV_OK || res.n))
        lv_json_obj(&j), forget_json(&j, &res, o.dry_run);
    else if (rc == LV_OK)
        forget_text(&res, o.dry_run);
    if (rc == LV_OK && do_prune) {
        if (ctx->json)
            lv_json_key(&j, "prune");
        rc = run_prune(ctx, ctx->json ? &j : NULL, 1);
    }
    if (ctx->json && out.len) {
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
        lv_out_buf(&out);
    }
    lv_buf_free(&out);
    lv_forget_result_free(&res);
    for (size_t i = 0; files_tags && files_tags[i]; i++)
        free(files_tags[i]);
    for (size_t i = 0; pg_tags && pg_tags[i]; i++)
        free(pg_tags[i]);
    free(files_tags);
    free(pg_tags);
    free(flag_tags);
    if (lock && lv_lock_release(lock) != LV_OK)
        lv_err_clear();
    return rc;
}

/* ---- repo stats -------------------------------------------------------------------------------- */

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

int lv_cmd_repo_stats(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    lv_prune_opts po;
    char *workdir = NULL;
    lv_repo_stats st;
    rc = prune_opts(ctx, &po, &workdir);
    if (rc == LV_OK)
        rc = lv_repo_stats_get(ctx->repo, &po, &st);
    free(workdir);
    if (rc != LV_OK)
        return rc;
    const lv_prune_result res = st.prune;
    const uint64_t *count = st.backups, *bytes = st.logical_bytes;
    uint64_t wal_logical = st.wal_logical_bytes, reclaim = st.reclaimable_bytes;
    static const char *const names[LV_PRUNE_KINDS] = {"files", "pg", "other"};
    if (ctx->json) {
        lv_buf out = LV_BUF_INIT;
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "kinds");
        lv_json_obj(&j);
        for (int k = 0; k < LV_PRUNE_KINDS; k++) {
            lv_json_key(&j, names[k]);
            lv_json_obj(&j);
            const char *keys[] = {"backups", "logical_bytes", "blobs", "raw_bytes", "stored_bytes"};
            uint64_t vals[] = {count[k], bytes[k], res.kind[k].blobs, res.kind[k].raw, res.kind[k].sealed};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                lv_json_key(&j, keys[i]);
                lv_json_uint(&j, vals[i]);
            }
            lv_json_key(&j, "dedup_ratio");
            lv_json_double(&j, ratio(bytes[k], res.kind[k].raw));
            lv_json_key(&j, "compression_ratio");
            lv_json_double(&j, ratio(res.kind[k].raw, res.kind[k].sealed));
            lv_json_end(&j);
        }
        lv_json_key(&j, "wal");
        lv_json_obj(&j);
        lv_json_key(&j, "files");
        lv_json_uint(&j, st.wal_files);
        lv_json_key(&j, "logical_bytes");
        lv_json_uint(&j, wal_logical);
        lv_json_key(&j, "stored_bytes");
        lv_json_uint(&j, st.wal_stored_bytes);
        lv_json_key(&j, "compression_ratio");
        lv_json_double(&j, ratio(wal_logical, st.wal_stored_bytes));
        lv_json_end(&j);
        lv_json_end(&j);
        const char *keys[] = {"packs", "pack_bytes", "used_bytes", "unused_bytes", "reclaimable_bytes"};
        uint64_t vals[] = {res.plan.packs, res.plan.pack_bytes, res.plan.used_bytes, res.plan.unused_bytes, reclaim};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            lv_json_key(&j, keys[i]);
            lv_json_uint(&j, vals[i]);
        }
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
        lv_out_buf(&out);
        lv_buf_free(&out);
        return LV_OK;
    }
    char a[32], b[32], c[32];
    lv_out("%-6s  %8s  %12s  %12s  %12s  %7s  %11s\n", "KIND", "BACKUPS", "LOGICAL", "UNIQUE", "STORED", "DEDUP",
           "COMPRESSION");
    for (int k = 0; k < LV_PRUNE_KINDS; k++) {
        if (!count[k] && !res.kind[k].blobs)
            continue;
        lv_human_size(bytes[k], a);
        lv_human_size(res.kind[k].raw, b);
        lv_human_size(res.kind[k].sealed, c);
        lv_out("%-6s  %8llu  %12s  %12s  %12s  %6.1fx  %10.1fx\n", names[k], (unsigned long long)count[k], a, b, c,
               ratio(bytes[k], res.kind[k].raw), ratio(res.kind[k].raw, res.kind[k].sealed));
    }
    if (st.wal_files) {
        lv_human_size(wal_logical, a);
        lv_human_size(st.wal_stored_bytes, c);
        lv_out("%-6s  %8llu  %12s  %12s  %12s  %7s  %10.1fx\n", "wal", (unsigned long long)st.wal_files, a, "-", c, "-",
               ratio(wal_logical, st.wal_stored_bytes));
    }
    lv_human_size(res.plan.pack_bytes, a);
    lv_human_size(res.plan.unused_bytes, b);
    lv_human_size(reclaim, c);
    lv_out("packs: %llu, %s, of which %s unused; prune would reclaim %s now\n", (unsigned long long)res.plan.packs, a,
           b, c);
    return LV_OK;
}

/* ---- stanza delete ------------------------------------------------------------------------------ */

int lv_cmd_stanza_delete(lv_ctx *ctx)
{
    lv_forget_opts o;
    memset(&o, 0, sizeof o);
    o.dry_run = lv_ctx_flag(ctx, "dry-run") != NULL;
    o.wait_s = 60;
    int rc = parse_int_flag(ctx, "wait", 0, 86400, &o.wait_s);
    if (rc == LV_OK)
        rc = parse_safety(ctx, &o.safety_none);
    if (rc == LV_OK && !o.dry_run && !lv_ctx_flag(ctx, "force"))
        rc = lv_err(LV_ERR_USAGE, "stanza delete removes every PostgreSQL backup and the whole WAL archive of the "
                                  "repository: give --force (or --dry-run to see what it would remove)");
    lv_lock *lock = NULL;
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc == LV_OK && !o.dry_run)
        rc = maintenance_lock(ctx, "stanza delete", &lock);
    lv_forget_result res;
    memset(&res, 0, sizeof res);
    if (rc == LV_OK)
        rc = lv_forget_stanza(ctx->repo, &o, &res);
    if (rc == LV_OK) {
        char size[32];
        lv_human_size(res.wal_bytes, size);
        if (ctx->json)
            lv_out("{\"dry_run\":%s,\"backups_removed\":%zu,\"wal_files_removed\":%llu,\"wal_bytes_removed\":%llu}\n",
                   o.dry_run ? "true" : "false", res.removed, (unsigned long long)res.wal_removed,
                   (unsigned long long)res.wal_bytes);
        else
            lv_out("%s %zu PostgreSQL backups, %llu WAL files (%s) and the stanza%s\n",
                   o.dry_run ? "would remove" : "removed", res.removed, (unsigned long long)res.wal_removed, size,
                   o.dry_run ? "" : "; `labvault prune` reclaims the backups' space, and the next `wal push` starts "
                                    "a new archive");
    }
    lv_forget_result_free(&res);
    if (lock && lv_lock_release(lock) != LV_OK)
        lv_err_clear();
    return rc;
}
