/* Maintenance commands: repo check, repo unlock, catalog rebuild. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "maint/check.h"
#include "maint/rebuild.h"
#include "repo/lock.h"

typedef struct problems {
    lv_buf lines;   /* JSON array elements or text lines */
    lv_rec r;       /* its JSON writer (r.j) or text columns, into lines */
} problems;

static void on_problem(void *arg, lv_check_severity sev, const char *line)
{
    problems *p = arg;
    const char *s = sev == LV_CHECK_ERROR ? "error" : "warning";
    if (p->r.json) {
        lv_json_obj(&p->r.j);
        lv_json_key(&p->r.j, "severity");
        lv_json_str(&p->r.j, s);
        lv_json_key(&p->r.j, "message");
        lv_json_str(&p->r.j, line);
        lv_json_end(&p->r.j);
    } else {
        /* Problems go to stderr as they are found, so a long check shows them at once. */
        fprintf(stderr, "%s: %s\n", s, line);
    }
}

/* The kinds check covered, one object each (--json) or a table (text, on stdout). */
static void kinds_out(const lv_check_report *rep, problems *p)
{
    static const char *const titles[] = {"kind", "objects", "verified", "missing", "errors", "warnings"};
    static const int widths[] = {-16, 10, 10, 8, 7, 9};
    lv_rec *r = &p->r;
    if (r->json)
        lv_json_key(&r->j, "kinds");
    lv_rec_list_begin(r, titles, widths, sizeof titles / sizeof *titles);
    for (size_t i = 0; i < rep->nkinds; i++) {
        const lv_check_kind *k = &rep->kinds[i];
        lv_rec_begin(r);
        lv_rec_str(r, "kind", k->name, widths[0]);
        lv_rec_uint(r, "objects", k->objects, widths[1]);
        lv_rec_uint(r, "verified", k->read, widths[2]);
        lv_rec_uint(r, "bytes_read", k->bytes_read, LV_REC_JSON);
        lv_rec_uint(r, "missing", k->missing, widths[3]);
        lv_rec_uint(r, "errors", k->errors, widths[4]);
        lv_rec_uint(r, "warnings", k->warnings, widths[5]);
        lv_rec_end(r);
    }
    lv_rec_list_end(r);
}

/* The local catalog, when this host has one for this repository: check compares what it records with
 * the repository (maint/check.h). Never created here: a new catalog would record nothing to compare. */
static void attach_existing_catalog(lv_ctx *ctx)
{
    const char *path = lv_config_str(ctx->cfg, "catalog");
    if (!path || access(path, F_OK) != 0)
        return;
    if (lv_catalog_open(path, ctx->repo->id_hex, &ctx->cat) != LV_OK) {
        lv_warn("not comparing with the local catalog: %s", lv_errmsg());
        lv_err_clear();
        return;
    }
    ctx->repo->cat = ctx->cat;
}

int lv_cmd_repo_check(lv_ctx *ctx)
{
    /* --read-data alone reads everything; --read-data=PERCENT a random share of the packs and WAL. */
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
    attach_existing_catalog(ctx);
    /* A shared lock: check may run beside backups and other checks, but not beside prune, which could
     * delete a pack between our listing and our read and make check report damage that is not there. */
    lv_lock *lock = NULL;
    rc = lv_lock_acquire(ctx->store, 0, (int)lv_config_int(ctx->cfg, "lock-lease"), "check", &lock);
    if (rc != LV_OK)
        return rc;

    problems p;
    memset(&p, 0, sizeof p);
    lv_rec_init(&p.r, &p.lines, ctx->json, " ");
    if (p.r.json) {
        lv_json_obj(&p.r.j);
        lv_json_key(&p.r.j, "problems");
        lv_json_arr(&p.r.j);
    }
    lv_check_report rep;
    memset(&rep, 0, sizeof rep);
    rep.problem = on_problem;
    rep.arg = &p;
    rc = lv_repo_check(ctx->repo, percent, &rep);
    int lrc = lv_lock_release(lock);
    if (rc == LV_OK && lrc != LV_OK)
        lv_warn("could not remove the check lock: %s", lv_errmsg());

    if (p.r.json) {
        lv_json_end(&p.r.j);
        const char *keys[] = {"packs", "indexes", "manifests", "blobs", "packs_read", "bytes_read", "errors",
                              "warnings"};
        uint64_t vals[] = {rep.packs, rep.indexes, rep.manifests, rep.blobs, rep.packs_read, rep.bytes_read,
                           rep.errors, rep.warnings};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            lv_json_key(&p.r.j, keys[i]);
            lv_json_uint(&p.r.j, vals[i]);
        }
        lv_json_key(&p.r.j, "read_data_percent");
        lv_json_int(&p.r.j, percent);
        lv_json_key(&p.r.j, "catalog_compared");
        lv_json_bool(&p.r.j, rep.catalog);
        kinds_out(&rep, &p);
        lv_json_key(&p.r.j, "ok");
        lv_json_bool(&p.r.j, rc == LV_OK);
        lv_json_end(&p.r.j);
        lv_buf_append_str(&p.lines, "\n");
    } else {
        kinds_out(&rep, &p);
        if (rep.catalog)
            lv_buf_printf(&p.lines, "compared with the local catalog %s\n", lv_catalog_path(ctx->cat));
        else
            lv_buf_printf(&p.lines, "no local catalog for this repository on this host: the deletion of an object "
                                    "nothing references (a manifest, the newest WAL segment, a drill record) cannot "
                                    "be seen\n");
        if (percent)
            lv_buf_printf(&p.lines, "read %d%% of the packs and WAL objects (%.1f MiB of packs)\n", percent,
                          (double)rep.bytes_read / 1048576.0);
        lv_buf_printf(&p.lines, "%s: %llu errors, %llu warnings\n", rc == LV_OK ? "no damage found" : "DAMAGE FOUND",
                      (unsigned long long)rep.errors, (unsigned long long)rep.warnings);
    }
    if (rc == LV_OK || rc == LV_ERR_CORRUPT)
        lv_out_buf(&p.lines);
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
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    unlock_ctx u = {lv_ctx_flag(ctx, "force") != NULL, 0, 0, ctx->store};
    /* Stale locks (dead process on this host, expired lease) go first, with a log line each. */
    rc = lv_lock_list(ctx->store, 1, unlock_one, &u);
    /* In-flight markers of backups and restores that died: the same rules (prune ignores stale ones anyway). */
    if (rc == LV_OK)
        rc = lv_inflight_list(ctx->store, 1, u.force ? unlock_one : NULL, &u);
    /* And what killed writers left anywhere, once stale (store.h says why that is safe). */
    uint64_t temps = 0;
    if (rc == LV_OK)
        rc = lv_store_temp_sweep(ctx->store, "", &temps);
    if (rc != LV_OK)
        return rc;
    if (ctx->json)
        lv_out("{\"removed_live\":%d,\"kept_live\":%d,\"removed_temporary\":%llu}\n", u.removed, u.kept,
               (unsigned long long)temps);
    else
        lv_out("stale locks removed; %d live locks %s; %llu stale temporary objects removed\n",
               u.force ? u.removed : u.kept,
               u.force ? "removed (--force)" : "kept (use --force only when their holders are gone)",
               (unsigned long long)temps);
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
