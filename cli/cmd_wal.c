/* The WAL archive's commands: stanza create, wal push, wal fetch, wal status, wal list, check.
 * The work lives in wal/; this file reads options, picks the mode, and prints. Exit codes are those of
 * docs/exit-codes.md. `wal fetch` returns its lv_code like every command: main() turns every failure but
 * "absent" into 128 + code for it, because PostgreSQL must stop recovery on anything uncertain (and does
 * so for errors before the command runs too). `wal status` leaves through leave(): it exits 9 after its
 * report without a second (error) JSON document. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/wal.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "wal/async.h"
#include "wal/check.h"
#include "wal/fetch.h"
#include "wal/pgdata.h"
#include "wal/push.h"
#include "wal/stanza.h"
#include "wal/status.h"
#include "wal/walcat.h"

static void print_buf(lv_buf *b)
{
    lv_out_buf(b);
    lv_buf_free(b);
}

/* Leave with an exit status main() cannot give (it keeps codes to 0..14 and adds a --json error object
 * to stdout): the one-line message on stderr, the same cleanup as main(), then exit. */
__attribute__((noreturn)) static void leave(lv_ctx *ctx, int status)
{
    fprintf(stderr, "labvault: %s\n", lv_errmsg());
    lv_ctx_close(ctx);
    fflush(stdout);
    exit(status);
}

/* ---- stanza create ----------------------------------------------------------------------------- */

int lv_cmd_stanza_create(lv_ctx *ctx)
{
    const char *pg_data = lv_config_str(ctx->cfg, "pg-data");
    if (!pg_data)
        return lv_err(LV_ERR_USAGE, "stanza create needs the data directory: --pg-data DIR (or [pg] data)");
    lv_wal_stanza s;
    int rc = lv_wal_controldata_stanza(pg_data, lv_config_str(ctx->cfg, "pg-bin"), &s);
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, 0);
    int existing = 0;
    if (rc == LV_OK)
        rc = lv_wal_stanza_create(ctx->repo, &s, &existing);
    if (rc != LV_OK)
        return rc;
    lv_buf b = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        /* A string: JSON readers lose precision on numbers above 2^53. */
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, s.sysid);
        lv_json_key(&j, "system_id");
        lv_json_str(&j, id);
        lv_json_key(&j, "pg_version");
        lv_json_int(&j, s.pg_version);
        lv_json_key(&j, "wal_segment_size");
        lv_json_uint(&j, s.seg_size);
        lv_json_key(&j, "created");
        lv_json_bool(&j, !existing);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
    } else {
        lv_buf_printf(&b, "stanza %s: PostgreSQL %d cluster %" PRIu64 ", %u-byte WAL segments\n",
                      existing ? "already exists (same cluster)" : "created", s.pg_version, s.sysid,
                      s.seg_size);
    }
    print_buf(&b);
    return LV_OK;
}

/* ---- wal push ---------------------------------------------------------------------------------- */

static void async_opts(const lv_ctx *ctx, lv_wal_async_opts *o)
{
    o->spool_path = lv_config_str(ctx->cfg, "archive-spool-path");
    o->workers = (int)lv_config_int(ctx->cfg, "archive-push-workers");
    o->queue_max = (uint64_t)lv_config_int(ctx->cfg, "archive-queue-max");
    o->timeout_s = (int)lv_config_int(ctx->cfg, "archive-timeout");
}

/* Open repository and catalog; a catalog that cannot be opened fails the push loudly. */
static int open_for_push(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_CATALOG);
    if (rc != LV_OK && ctx->repo && !ctx->cat)
        rc = lv_err(rc, "%s (wal push records every archived file in the catalog: make it writable by "
                    "the PostgreSQL OS user, or set [global] catalog)", lv_errmsg());
    return rc;
}

/* The catalog to journal a failure in: the open one, or, when the repository could not be opened (store
 * down: its id cannot be read to check the binding), the configured file without that check. NULL when
 * even that fails; the failure itself is what gets reported then. */
static lv_catalog *journal_catalog(lv_ctx *ctx)
{
    if (!ctx->cat && lv_catalog_open(lv_config_str(ctx->cfg, "catalog"), NULL, &ctx->cat) != LV_OK)
        ctx->cat = NULL;
    return ctx->cat;
}

/* Journal a failed push in the catalog, keeping the failure's own message. */
static int journal(lv_ctx *ctx, const char *op, const char *name, int rc)
{
    if (rc == LV_OK)
        return rc;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    lv_catalog *cat = journal_catalog(ctx);
    lv_err(rc, "%s", msg); /* opening the journal's catalog may have recorded another message */
    return lv_walcat_journal(cat, op, name, rc);
}

static int push_sync(lv_ctx *ctx, const char *path)
{
    lv_wal_name n;
    int rc = lv_wal_name_parse(lv_wal_basename(path), &n);
    if (rc != LV_OK)
        return rc;
    if ((rc = open_for_push(ctx)) != LV_OK)
        return ctx->repo ? rc : journal(ctx, "push", n.name, rc); /* a catalog failure is not journalled */
    lv_wal_pushed res;
    rc = journal(ctx, "push", n.name, lv_wal_push_one(ctx->repo, ctx->cat, path, &res));
    if (rc == LV_OK && !res.existed)
        ctx->run_bytes = res.obj.stored_size;
    if (rc == LV_OK && ctx->json) {
        lv_buf b = LV_BUF_INIT;
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        lv_json_key(&j, "name");
        lv_json_str(&j, n.name);
        lv_json_key(&j, "key");
        lv_json_str(&j, res.obj.key);
        lv_json_key(&j, "size");
        lv_json_uint(&j, res.size);
        lv_json_key(&j, "stored_size");
        lv_json_uint(&j, res.obj.stored_size);
        lv_json_key(&j, "already_archived");
        lv_json_bool(&j, res.existed);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
        print_buf(&b);
    }
    return rc;
}

int lv_cmd_wal_push(lv_ctx *ctx)
{
    const char *path = ctx->argv[0];
    lv_wal_async_opts ao;
    async_opts(ctx, &ao);
    if (lv_ctx_flag(ctx, "worker")) {
        int rc = open_for_push(ctx);
        if (!ctx->store) /* no store, no spool to report in: the log is all there is */
            return rc;
        if (rc != LV_OK && !ctx->repo) { /* journal why the worker could not start */
            char msg[1536];
            snprintf(msg, sizeof msg, "%s", lv_errmsg());
            journal_catalog(ctx);
            lv_err(rc, "%s", msg);
        }
        return lv_wal_async_worker(&ao, ctx->store, ctx->repo, ctx->cat, path, rc);
    }
    /* archive_command: PostgreSQL waits for us. A repository that does not answer costs at most
     * archive-timeout, then exit 4 and PostgreSQL retries later. */
    ctx->store_deadline_s = (int)lv_config_int(ctx->cfg, "archive-timeout");
    if (lv_ctx_flag(ctx, "async") || lv_config_bool(ctx->cfg, "archive-async")) {
        if (lv_wal_async_queued(path)) {
            int rc = lv_ctx_open_store(ctx);
            return rc ? rc : lv_wal_async_push(&ao, ctx->store, path);
        }
        lv_info("%s has no archive_status/.ready file, so no worker will see it: pushing it now", path);
    }
    return push_sync(ctx, path);
}

/* ---- wal fetch --------------------------------------------------------------------------------- */

static void fetch_opts(const lv_ctx *ctx, lv_wal_fetch_opts *o)
{
    o->spool_path = lv_config_str(ctx->cfg, "archive-spool-path");
    o->prefetch = (int)lv_config_int(ctx->cfg, "archive-get-prefetch");
    o->workers = (int)lv_config_int(ctx->cfg, "archive-get-workers");
}

int lv_cmd_wal_fetch(lv_ctx *ctx)
{
    const char *name = ctx->argv[0], *dest = ctx->argv[1];
    lv_wal_fetch_opts o;
    fetch_opts(ctx, &o);
    if (lv_ctx_flag(ctx, "worker")) {
        int rc = lv_ctx_open_repo(ctx, 0);
        return rc ? rc : lv_wal_prefetch_worker(&o, ctx->repo, name);
    }
    /* restore_command: recovery waits for us. A repository that does not answer costs at most
     * archive-timeout, then 132 (uncertain: recovery stops rather than ending early). */
    ctx->store_deadline_s = (int)lv_config_int(ctx->cfg, "archive-timeout");
    lv_wal_name n;
    int rc = lv_wal_name_parse(name, &n);
    const char *last = lv_ctx_flag(ctx, "last-segment");
    if (rc == LV_OK && last && (rc = lv_wal_fetch_needed(name, last)) != LV_OK)
        return rc;
    if (rc == LV_OK)
        rc = lv_ctx_open_store(ctx);
    if (rc == LV_OK && lv_wal_fetch_spooled(&o, ctx->store, name, dest) == LV_OK) {
        lv_wal_prefetch_kick(&o, ctx->store, name, dest);
        return LV_OK;
    }
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, 0);
    /* Only the segment's own listing may say "absent" (exit 1, where recovery may end). A repository that
     * is not there (no config object: a wrong `repo`, a deleted bucket) is a setting to fix: 131. */
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_CONFIG, "%s (check the repo setting)", lv_errmsg());
    if (rc == LV_OK)
        rc = lv_wal_fetch_repo(ctx->repo, name, dest);
    if (rc == LV_OK)
        lv_wal_prefetch_kick(&o, ctx->store, name, dest);
    return rc; /* main() maps failures other than "absent" to 128 + code */
}

/* ---- wal list ---------------------------------------------------------------------------------- */

static int list_one(void *arg, const lv_wal_object *o)
{
    lv_rec *r = arg;
    char tli[16];
    snprintf(tli, sizeof tli, "%08X", o->name.tli);
    lv_rec_begin(r);
    lv_rec_uint(r, "timeline", o->name.tli, LV_REC_JSON);
    lv_rec_str(r, NULL, tli, 0);
    lv_rec_str(r, "name", o->name.name, -40);
    lv_rec_str(r, "kind", lv_wal_kind_str(o->name.kind), -8);
    lv_rec_str(r, "key", o->key, LV_REC_JSON);
    lv_rec_uint(r, "stored_size", o->stored_size, 10);
    lv_rec_strn(r, "checksum", o->checksum, 0, 16);
    lv_rec_end(r);
    if (!r->json && r->out->len > 1 << 16) { /* stream long listings */
        lv_out_buf(r->out);
        lv_buf_reset(r->out);
    }
    return LV_OK;
}

int lv_cmd_wal_list(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    lv_buf b = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &b, ctx->json, "  ");
    static const char *const titles[] = {"TIMELINE", "NAME", "KIND", "STORED", "CHECKSUM"};
    static const int widths[] = {-8, -40, -8, 10, 0};
    lv_rec_list_begin(&r, titles, widths, sizeof titles / sizeof *titles);
    rc = lv_wal_list(ctx->store, 0, list_one, &r);
    if (rc != LV_OK) {
        lv_buf_free(&b);
        return lv_err_ctx("cannot list the WAL archive");
    }
    lv_rec_list_end(&r);
    print_buf(&b);
    return LV_OK;
}

/* ---- wal status -------------------------------------------------------------------------------- */

typedef struct fail_out {
    lv_buf *b;
    lv_json *j;
} fail_out;

static int failure_one(void *arg, const lv_wal_failure *f)
{
    fail_out *o = arg;
    char when[32];
    lv_time_format(f->time, LV_TIME_UTC, when);
    if (!o->j) {
        lv_buf_printf(o->b, "  %s  %-5s %s (%s)\n", when, f->op, f->message, lv_code_name(f->code));
        return LV_OK;
    }
    lv_json_obj(o->j);
    lv_json_key(o->j, "time");
    lv_json_str(o->j, when);
    lv_json_key(o->j, "op");
    lv_json_str(o->j, f->op);
    lv_json_key(o->j, "name");
    lv_json_str(o->j, f->name);
    lv_json_key(o->j, "code");
    lv_json_int(o->j, f->code);
    lv_json_key(o->j, "message");
    lv_json_str(o->j, f->message);
    lv_json_end(o->j);
    return LV_OK;
}

static void status_text(lv_ctx *ctx, const lv_wal_status *st, lv_buf *b)
{
    char when[32];
    lv_buf_printf(b, "repository  %s\n", lv_store_describe(ctx->store));
    if (st->have_stanza)
        lv_buf_printf(b, "stanza      PostgreSQL %d cluster %" PRIu64 ", %u-byte segments\n",
                      st->stanza.pg_version, st->stanza.sysid, st->stanza.seg_size);
    else
        lv_buf_printf(b, "stanza      none yet\n");
    lv_time_format(st->last_pushed, LV_TIME_UTC, when);
    lv_buf_printf(b, "archived    %" PRIu64 " files, %" PRIu64 " bytes stored\n", st->files, st->stored_bytes);
    lv_buf_printf(b, "last        %s (pushed %s)\n", st->last[0] ? st->last : "none", when);
    for (size_t i = 0; i < st->ntl; i++) {
        const lv_wal_timeline *t = &st->tl[i];
        lv_buf_printf(b, "timeline %u  %" PRIu64 " segments %s..%s, %" PRIu64 " partial, %" PRIu64
                      " backup, %" PRIu64 " history; ", t->tli, t->segments, t->first[0] ? t->first : "-",
                      t->last[0] ? t->last : "-", t->partials, t->backups, t->history);
        if (t->ngaps == 0)
            lv_buf_printf(b, "no gaps\n");
        else
            lv_buf_printf(b, "%zu gaps, %" PRIu64 " segments missing\n", t->ngaps, t->missing);
        for (size_t g = 0; g < t->ngaps && g < LV_WAL_GAPS_KEPT; g++)
            lv_buf_printf(b, "  gap       %s..%s\n", t->gaps[g].from, t->gaps[g].to);
    }
    if (st->conflicts)
        lv_buf_printf(b, "conflicts   %" PRIu64 " names with two different archived copies\n", st->conflicts);
    if (st->have_pg)
        lv_buf_printf(b, "lag         %" PRIu64 " files wait to be archived%s%s%s, oldest for %" PRId64 " s\n",
                      st->ready, st->ready ? " (oldest " : "", st->oldest_ready, st->ready ? ")" : "",
                      st->oldest_ready_age);
    else
        lv_buf_printf(b, "lag         unknown (give --pg-data)\n");
    if (st->dropped > 0)
        lv_buf_printf(b, "DROPPED     %" PRId64 " WAL files were dropped by archive-queue-max: the archive has "
                      "gaps\n", st->dropped);
}

static void status_json(lv_ctx *ctx, const lv_wal_status *st, lv_json *j)
{
    char when[32];
    lv_json_key(j, "repository");
    lv_json_str(j, lv_store_describe(ctx->store));
    lv_json_key(j, "stanza");
    if (st->have_stanza) {
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, st->stanza.sysid);
        lv_json_obj(j);
        lv_json_key(j, "system_id");
        lv_json_str(j, id);
        lv_json_key(j, "pg_version");
        lv_json_int(j, st->stanza.pg_version);
        lv_json_key(j, "wal_segment_size");
        lv_json_uint(j, st->stanza.seg_size);
        lv_json_end(j);
    } else {
        lv_json_null(j);
    }
    lv_json_key(j, "files");
    lv_json_uint(j, st->files);
    lv_json_key(j, "stored_bytes");
    lv_json_uint(j, st->stored_bytes);
    lv_json_key(j, "last_archived");
    if (st->last[0])
        lv_json_str(j, st->last);
    else
        lv_json_null(j);
    lv_json_key(j, "last_archived_time");
    lv_time_format(st->last_pushed, LV_TIME_UTC, when);
    if (st->last_pushed >= 0)
        lv_json_str(j, when);
    else
        lv_json_null(j);
    lv_json_key(j, "timelines");
    lv_json_arr(j);
    for (size_t i = 0; i < st->ntl; i++) {
        const lv_wal_timeline *t = &st->tl[i];
        lv_json_obj(j);
        lv_json_key(j, "timeline");
        lv_json_uint(j, t->tli);
        lv_json_key(j, "segments");
        lv_json_uint(j, t->segments);
        lv_json_key(j, "partial");
        lv_json_uint(j, t->partials);
        lv_json_key(j, "backup");
        lv_json_uint(j, t->backups);
        lv_json_key(j, "history");
        lv_json_uint(j, t->history);
        lv_json_key(j, "first");
        lv_json_str(j, t->first);
        lv_json_key(j, "last");
        lv_json_str(j, t->last);
        lv_json_key(j, "missing_segments");
        lv_json_uint(j, t->missing);
        lv_json_key(j, "gaps");
        lv_json_arr(j);
        for (size_t g = 0; g < t->ngaps && g < LV_WAL_GAPS_KEPT; g++) {
            lv_json_obj(j);
            lv_json_key(j, "from");
            lv_json_str(j, t->gaps[g].from);
            lv_json_key(j, "to");
            lv_json_str(j, t->gaps[g].to);
            lv_json_end(j);
        }
        lv_json_end(j);
        lv_json_end(j);
    }
    lv_json_end(j);
    lv_json_key(j, "conflicts");
    lv_json_uint(j, st->conflicts);
    lv_json_key(j, "lag");
    if (st->have_pg) {
        lv_json_obj(j);
        lv_json_key(j, "ready_files");
        lv_json_uint(j, st->ready);
        lv_json_key(j, "oldest_ready");
        if (st->ready)
            lv_json_str(j, st->oldest_ready);
        else
            lv_json_null(j);
        lv_json_key(j, "oldest_ready_age_seconds");
        lv_json_int(j, st->oldest_ready_age);
        lv_json_end(j);
    } else {
        lv_json_null(j);
    }
    lv_json_key(j, "dropped");
    lv_json_int(j, st->dropped < 0 ? 0 : st->dropped);
    lv_json_key(j, "complete");
    lv_json_bool(j, !lv_wal_status_problems(st));
}

int lv_cmd_wal_status(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    lv_wal_status st;
    rc = lv_wal_status_collect(ctx->repo, ctx->cat, lv_config_str(ctx->cfg, "pg-data"), &st);
    if (rc != LV_OK) {
        lv_wal_status_free(&st);
        return rc;
    }
    lv_buf b = LV_BUF_INIT;
    lv_json j;
    lv_json_init(&j, &b);
    fail_out fo = {&b, ctx->json ? &j : NULL};
    if (ctx->json) {
        lv_json_obj(&j);
        status_json(ctx, &st, &j);
        lv_json_key(&j, "recent_failures");
        lv_json_arr(&j);
        rc = lv_catalog_wal_failures(ctx->cat, NULL, 10, failure_one, &fo);
        lv_json_end(&j);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
    } else {
        status_text(ctx, &st, &b);
        lv_buf_printf(&b, "failures    (most recent first, from the catalog)\n");
        size_t before = b.len;
        rc = lv_catalog_wal_failures(ctx->cat, NULL, 10, failure_one, &fo);
        if (b.len == before)
            lv_buf_printf(&b, "  none\n");
    }
    int problems = lv_wal_status_problems(&st);
    lv_wal_status_free(&st);
    if (rc != LV_OK) {
        lv_buf_free(&b);
        return rc;
    }
    print_buf(&b);
    if (problems) {
        /* The report is the output, also with --json (one document, with "complete": false). */
        lv_err(LV_ERR_INCOMPLETE, "the WAL archive is incomplete: it has gaps, conflicting copies or dropped "
               "files (see the report)");
        leave(ctx, LV_ERR_INCOMPLETE);
    }
    return LV_OK;
}

/* ---- check ------------------------------------------------------------------------------------- */

int lv_cmd_check(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    lv_pg_conn_opts pg = {NULL, lv_config_str(ctx->cfg, "pg-host"), lv_config_str(ctx->cfg, "pg-port"),
                          lv_config_str(ctx->cfg, "pg-user"), lv_config_str(ctx->cfg, "pg-database"), NULL};
    lv_wal_check_result res;
    rc = lv_wal_check(ctx->repo, &pg, (int)lv_config_int(ctx->cfg, "archive-timeout"), &res);
    if (rc != LV_OK)
        return rc;
    lv_buf b = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        lv_json_key(&j, "segment");
        lv_json_str(&j, res.segment);
        lv_json_key(&j, "key");
        lv_json_str(&j, res.key);
        lv_json_key(&j, "seconds");
        lv_json_double(&j, res.seconds);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
    } else {
        lv_buf_printf(&b, "archiving works: WAL segment %s reached %s in %.1f s and was read back verified\n",
                      res.segment, lv_store_describe(ctx->store), res.seconds);
    }
    print_buf(&b);
    return LV_OK;
}
