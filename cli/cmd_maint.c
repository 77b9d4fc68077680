/* Maintenance commands: repo check, repo unlock, catalog rebuild. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "maint/catalog_copy.h"
#include "maint/rebuild.h"
#include "maint/check.h"
#include "repo/lock.h"

typedef struct problems {
    lv_buf lines;   /* JSON array elements or text lines */
    lv_json j;
    int json;
} problems;

static void on_problem(void *arg, lv_check_severity sev, const char *line)
{
    problems *p = arg;
    const char *s = sev == LV_CHECK_ERROR ? "error" : "warning";
    if (p->json) {
        lv_json_obj(&p->j);
        lv_json_key(&p->j, "severity");
        lv_json_str(&p->j, s);
        lv_json_key(&p->j, "message");
        lv_json_str(&p->j, line);
        lv_json_end(&p->j);
    } else {
        /* Problems go to stderr as they are found, so a long check shows them at once. */
        fprintf(stderr, "%s: %s\n", s, line);
    }
}

int lv_cmd_repo_check(lv_ctx *ctx)
{
    /* --read-data alone reads everything; --read-data=PERCENT a random share of the packs. */
    int percent = 0;
    const char *rd = lv_ctx_flag(ctx, "read-data");
    if (rd) {
        percent = 100;
        if (*rd) {
            char *end;
            long v = strtol(rd, &end, 10);
            if (*end == '%')
                end++;
            if (*end || v < 1 || v > 100)
                return lv_err(LV_ERR_USAGE, "--read-data=%s: not a percentage from 1 to 100", rd);
            percent = (int)v;
        }
    }
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    /* A shared lock: check may run beside backups and other checks, but not beside prune, which could
     * delete a pack between our listing and our read and make check report damage that is not there. */
    lv_lock *lock = NULL;
    rc = lv_lock_acquire(ctx->store, 0, (int)lv_config_int(ctx->cfg, "lock-lease"), "check", &lock);
    if (rc != LV_OK)
        return rc;

    problems p;
    memset(&p, 0, sizeof p);
    p.json = ctx->json;
    lv_json_init(&p.j, &p.lines);
    if (p.json) {
        lv_json_obj(&p.j);
        lv_json_key(&p.j, "problems");
        lv_json_arr(&p.j);
    }
    lv_check_report rep;
    memset(&rep, 0, sizeof rep);
    rep.problem = on_problem;
    rep.arg = &p;
    rc = lv_repo_check(ctx->repo, percent, &rep);
    int lrc = lv_lock_release(lock);
    if (rc == LV_OK && lrc != LV_OK)
        lv_warn("could not remove the check lock: %s", lv_errmsg());

    if (p.json) {
        lv_json_end(&p.j);
        const char *keys[] = {"packs", "indexes", "manifests", "blobs", "packs_read", "bytes_read", "errors",
                              "warnings"};
        uint64_t vals[] = {rep.packs, rep.indexes, rep.manifests, rep.blobs, rep.packs_read, rep.bytes_read,
                           rep.errors, rep.warnings};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            lv_json_key(&p.j, keys[i]);
            lv_json_uint(&p.j, vals[i]);
        }
        lv_json_key(&p.j, "read_data_percent");
        lv_json_int(&p.j, percent);
        lv_json_key(&p.j, "ok");
        lv_json_bool(&p.j, rc == LV_OK);
        lv_json_end(&p.j);
        lv_buf_append_str(&p.lines, "\n");
        if (rc == LV_OK || rc == LV_ERR_CORRUPT)
            lv_out_buf(&p.lines);
    } else if (rc == LV_OK || rc == LV_ERR_CORRUPT) {
        lv_out("checked %llu packs, %llu index objects, %llu blobs, %llu manifests", (unsigned long long)rep.packs,
               (unsigned long long)rep.indexes, (unsigned long long)rep.blobs, (unsigned long long)rep.manifests);
        if (percent)
            lv_out("; read %llu packs (%.1f MiB, %d%%)", (unsigned long long)rep.packs_read,
                   (double)rep.bytes_read / 1048576.0, percent);
        lv_out("\n%s: %llu errors, %llu warnings\n", rc == LV_OK ? "no damage found" : "DAMAGE FOUND",
               (unsigned long long)rep.errors, (unsigned long long)rep.warnings);
    }
    lv_buf_free(&p.lines);
    if (rc == LV_ERR_CORRUPT)
        return lv_err(LV_ERR_CORRUPT, "repository %s is damaged: %llu problems (listed above)",
                      lv_store_describe(ctx->store), (unsigned long long)rep.errors);
    return rc;
}

typedef struct unlock_ctx {
    int force, removed, kept;
    lv_store *st;
} unlock_ctx;

static int unlock_one(void *arg, const lv_lock_info *li)
{
    unlock_ctx *u = arg;
    if (u->force) {
        int rc = lv_store_del(u->st, li->key);
        if (rc != LV_OK)
            return rc;
        fprintf(stderr, "removed lock %s (host %s, pid %ld)\n", li->key, li->host, li->pid);
        u->removed++;
    } else {
        fprintf(stderr, "kept live lock %s (host %s, pid %ld, lease until %lld)\n", li->key, li->host, li->pid,
                (long long)li->expires);
        u->kept++;
    }
    return 0;
}

int lv_cmd_repo_unlock(lv_ctx *ctx)
{
    int rc = lv_ctx_open_store(ctx);
    if (rc != LV_OK)
        return rc;
    unlock_ctx u = {lv_ctx_flag(ctx, "force") != NULL, 0, 0, ctx->store};
    /* Stale locks (dead process on this host, expired lease) go first, with a log line each. */
    rc = lv_lock_list(ctx->store, 1, unlock_one, &u);
    if (rc != LV_OK)
        return rc;
    if (ctx->json)
        lv_out("{\"removed_live\":%d,\"kept_live\":%d}\n", u.removed, u.kept);
    else
        lv_out("stale locks removed; %d live locks %s\n", u.force ? u.removed : u.kept,
               u.force ? "removed (--force)" : "kept (use --force only when their holders are gone)");
    return LV_OK;
}

int lv_cmd_catalog_rebuild(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    /* Open unbound: the old file may belong to another repository; rebuild rebinds it. */
    rc = lv_catalog_open(lv_config_str(ctx->cfg, "catalog"), NULL, &ctx->cat);
    if (rc != LV_OK)
        return rc;
    ctx->repo->cat = ctx->cat;
    lv_rebuild_stats st;
    rc = lv_ctx_rebuild_catalog(ctx, &st);
    if (rc != LV_OK)
        return lv_err_ctx("catalog rebuild");
    lv_ctx_save_catalog(ctx);
    if (ctx->json)
        lv_out("{\"indexes\":%llu,\"packs\":%llu,\"blobs\":%llu,\"unindexed_packs\":%llu,\"manifests\":%llu}\n",
               (unsigned long long)st.indexes, (unsigned long long)st.packs, (unsigned long long)st.blobs,
               (unsigned long long)st.unindexed_packs, (unsigned long long)st.manifests);
    else
        lv_out("rebuilt catalog %s from %s: %llu index objects, %llu packs (%llu without index), %llu blobs, "
               "%llu manifests\n",
               lv_catalog_path(ctx->cat), lv_store_describe(ctx->store), (unsigned long long)st.indexes,
               (unsigned long long)st.packs, (unsigned long long)st.unindexed_packs, (unsigned long long)st.blobs,
               (unsigned long long)st.manifests);
    return LV_OK;
}
