/* PostgreSQL drill: restore into scratch, recover in a scratch server, check, measure, clean up
 * (contract in drills/drill.h; the server in drills/postgres.h, the checks in drills/checks.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "crypto/crypto.h"
#include "drills/checks.h"
#include "drills/drill.h"
#include "drills/postgres.h"
#include "catalog/wal.h"
#include "pg/manifest.h"
#include "restore/pg.h"
#include "restore/pg_conf.h"
#include "restore/pg_plan.h"
#include "wal/range.h"

/* --backup ID (a unique prefix) or --random: the full id and its stop time, from the catalog. */
static int choose_backup(lv_repo *r, const char *spec, char id[2 * LV_HASH_LEN + 1], int64_t *stop_time)
{
    lv_pg_backup_info *v;
    size_t n, found = 0, pick = 0;
    int random = strcmp(spec, "random") == 0;
    int rc = lv_pg_backups_list(r->cat, &v, &n);
    if (rc != LV_OK)
        return rc;
    if (random && n > 0) {
        uint64_t x;
        lv_random(&x, sizeof x);
        pick = (size_t)(x % n);
        found = 1;
    }
    for (size_t i = 0; !random && i < n; i++)
        if (strncmp(v[i].id, spec, strlen(spec)) == 0 && found++ == 0)
            pick = i;
    if (found == 1) {
        snprintf(id, 2 * LV_HASH_LEN + 1, "%s", v[pick].id);
        *stop_time = v[pick].s.stop_time;
    }
    free(v);
    if (found == 0)
        return lv_err(LV_ERR_NOT_FOUND, random ? "drill: the catalog has no PostgreSQL backup%s"
                                               : "drill: no PostgreSQL backup %s in the catalog",
                      random ? "" : spec);
    if (found > 1)
        return lv_err(LV_ERR_USAGE, "drill: backup %s is ambiguous: give more digits", spec);
    return LV_OK;
}

/* restore_command for the scratch server: this labvault with the same configuration file, plus every
 * option that came from a flag (the environment reaches wal fetch through PostgreSQL's own). */
static int restore_command(const lv_drill_opts *o, lv_buf *out)
{
    int rc = lv_pg_restore_command(o->config_file, out);
    char name[128];
    for (const lv_opt_def *d = lv_options; rc == LV_OK && d->key; d++) {
        lv_opt_name(d, name, sizeof name);
        const char *src = lv_config_source(o->cfg, name), *v = lv_config_str(o->cfg, name);
        if (d->secret || !v || !src || strncmp(src, "flag", 4) != 0)
            continue;
        lv_buf_printf(out, " --%s '", name);
        for (const char *q = v; *q; q++) {
            if (*q == '\'')
                lv_buf_append_str(out, "'\\''");
            else
                lv_buf_append(out, q, 1);
        }
        lv_buf_append_str(out, "'");
    }
    return rc;
}

/* Scalar query on the scratch server's postgres database; NULL on failure or SQL NULL (malloc'ed). */
static char *scalar(const lv_spg *p, const char *user, const char *sql, const char *param)
{
    const char *kw[7], *val[7];
    lv_spg_conn_params(p, user, "postgres", kw, val);
    PGconn *c = PQconnectdbParams(kw, val, 0);
    char *res = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            res = lv_xstrdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return res;
}

/* RPO: the newest archived commit (wal/range.h) minus the point the scratch server recovered to (its
 * last replayed commit; for a time target without any replayed commit, the target itself; for the
 * backup's end point, its stop time). */
static void measure_rpo(lv_repo *r, lv_drill *d, const lv_pg_restore_result *res, const lv_spg *p,
                        const char *user, const lv_pg_restore_opts *ro)
{
    lv_wal_range wr;
    int rc = lv_wal_range_from(r, res->timeline, res->stop_lsn, &wr);
    if (rc == LV_OK && wr.last_commit_time > 0) {
        d->last_archived_time = wr.last_commit_time;
    } else {
        /* No commit in the archived range (or it could not be read): the newest segment's arrival in
         * the repository, from the catalog, bounds what was archived. */
        char why[1024];
        snprintf(why, sizeof why, "%s", rc ? lv_errmsg() : "no commit in the archived WAL");
        int64_t last = 0;
        if (lv_catalog_wal_last_pushed(r->cat, &last) == LV_OK)
            d->last_archived_time = last;
        lv_warn("drill: no archived commit time (%s): RPO measured against the newest archived segment", why);
    }
    char *rep = scalar(p, user, "SELECT floor(extract(epoch FROM pg_last_xact_replay_timestamp()))::bigint", NULL);
    if (rep)
        d->recovered_time = strtoll(rep, NULL, 10);
    else if (ro->target == LV_PGT_TIME) {
        char *t = scalar(p, user, "SELECT floor(extract(epoch FROM $1::timestamptz))::bigint", ro->target_value);
        if (t)
            d->recovered_time = strtoll(t, NULL, 10);
        free(t);
    } else if (ro->target == LV_PGT_IMMEDIATE)
        d->recovered_time = res->stop_time;
    free(rep);
    if (d->last_archived_time && d->recovered_time)
        d->rpo = d->last_archived_time > d->recovered_time ? (double)(d->last_archived_time - d->recovered_time) : 0;
}

int lv_drill_run_pg(lv_repo *r, const lv_drill_opts *o, lv_drill *d)
{
    lv_drill_begin(d, "pg");
    lv_user_check *uc = NULL;
    size_t nuc = 0;
    char chosen[2 * LV_HASH_LEN + 1] = "", tvalue[64] = "";
    int64_t chosen_stop = 0;
    int rc = lv_user_checks_load(o->checks_file, &uc, &nuc);
    if (rc == LV_OK && strcmp(o->source, "latest") != 0)
        rc = choose_backup(r, o->source, chosen, &chosen_stop);

    lv_pg_restore_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.backup_id = chosen[0] ? chosen : NULL;
    ro.progress = o->progress;
    ro.target = LV_PGT_LATEST;
    if (o->target_immediate) {
        ro.target = LV_PGT_IMMEDIATE;
    } else if (o->target_time) {
        ro.target = LV_PGT_TIME;
        ro.target_value = o->target_time;
    } else if (o->random_target && rc == LV_OK) {
        lv_pg_window w;
        rc = lv_pg_window_get(r, &w);
        if (rc == LV_OK && !w.have)
            rc = lv_err(LV_ERR_NOT_FOUND, "drill: the repository has no PostgreSQL backup");
        int64_t from = chosen[0] ? chosen_stop : w.from_time, to = w.to_time;
        if (rc == LV_OK && to > from + 1) {
            uint64_t x;
            lv_random(&x, sizeof x);
            lv_time_format(from + 1 + (int64_t)(x % (uint64_t)(to - from)), LV_TIME_SQL, tvalue);
            ro.target = LV_PGT_TIME;
            ro.target_value = tvalue;
        } else if (rc == LV_OK) {
            lv_info("drill: the recoverable window has no commit after the backup: recovering to its end");
        }
    }
    if (rc) {
        lv_user_checks_free(uc, nuc);
        d->id[0] = '\0';
        return rc;
    }
    char xid_text[16];
    if (o->target_xid) {
        snprintf(xid_text, sizeof xid_text, "%u", o->target_xid);
        ro.target = LV_PGT_XID;
        ro.target_value = xid_text;
        ro.target_exclusive = 1;
    } else if (o->target_lsn) {
        ro.target = LV_PGT_LSN;
        ro.target_value = o->target_lsn;
        ro.target_exclusive = 1;
    }
    ro.target_timeline = o->target_timeline;
    if (ro.target != LV_PGT_LATEST)
        ro.target_action = "promote";
    if (ro.target == LV_PGT_LATEST)
        snprintf(d->target, sizeof d->target, "latest");
    else if (ro.target == LV_PGT_IMMEDIATE)
        snprintf(d->target, sizeof d->target, "immediate");
    else if (ro.target == LV_PGT_TIME)
        snprintf(d->target, sizeof d->target, "time %s%s", ro.target_value, o->random_target ? " (random)" : "");
    else
        snprintf(d->target, sizeof d->target, "before %s %s", ro.target == LV_PGT_XID ? "xid" : "lsn",
                 ro.target_value);

    char *scratch = NULL;
    if ((rc = lv_drill_scratch_create(o->scratch_dir, d->id, &scratch))) {
        lv_user_checks_free(uc, nuc);
        d->id[0] = '\0';
        return rc;
    }
    lv_buf cmd = LV_BUF_INIT;
    if ((rc = restore_command(o, &cmd))) {
        lv_user_checks_free(uc, nuc);
        lv_buf_free(&cmd);
        free(scratch);
        d->id[0] = '\0';
        return rc;
    }
    ro.restore_command = lv_buf_cstr(&cmd);
    lv_interrupt_catch();
    lv_spg p;
    memset(&p, 0, sizeof p);
    char *datadir = lv_xasprintf("%s/data", scratch), *user = NULL, *errsave = NULL;
    ro.to = datadir;
    lv_pg_restore_result res;
    memset(&res, 0, sizeof res);
    lv_pgman m;
    memset(&m, 0, sizeof m);
    int final = LV_OK, have_m = 0, started = 0;

    lv_info("drill %s: restoring into %s", d->id, scratch);
    rc = lv_pg_restore(r, &ro, &res);
    d->rto_download = res.seconds_download;
    d->rto_write = res.seconds_write;
    d->bytes_fetched = res.bytes_fetched;
    d->blobs_fetched = res.blobs_fetched;
    d->bytes_written = res.bytes_written;
    d->files = res.files;
    d->pg_version = res.pg_version >= 10000 ? res.pg_version / 10000 : res.pg_version;
    if (res.backup_id[0])
        snprintf(d->source, sizeof d->source, "%s", res.backup_id);
    else if (chosen[0])
        snprintf(d->source, sizeof d->source, "%s", chosen);
    if (rc == LV_ERR_INTERRUPTED || lv_interrupted()) {
        final = LV_ERR_INTERRUPTED;
        goto cleanup;
    }
    if (rc == LV_ERR_USAGE || (rc == LV_ERR_NOT_FOUND && !res.backup_id[0])) {
        final = rc; /* refused while planning: nothing was drilled, nothing to record */
        d->id[0] = '\0';
        goto cleanup;
    }
    if (rc != LV_OK) {
        lv_drill_check_add(d, "restore", 0, "%s", lv_errmsg());
        if (rc != LV_ERR_CORRUPT && rc != LV_ERR_NOT_FOUND)
            final = rc;
        goto cleanup;
    }
    lv_drill_check_add(d, "restore", 1, "backup %.12s: %llu files, %llu bytes written in %.2f s", res.backup_id,
                       (unsigned long long)res.files, (unsigned long long)res.bytes_written, res.seconds);

    if ((rc = lv_spg_bindir(o->pg_bin, d->pg_version, &p.bindir)) ||
        (rc = lv_spg_os_user(&p, o->os_user, lv_config_str(o->cfg, "pg-data"))) ||
        (rc = lv_spg_prepare(&p, scratch))) {
        lv_drill_check_add(d, "start", 0, "%s", lv_errmsg());
        final = rc;
        goto cleanup;
    }
    double t_pg = lv_wall_s();
    if ((rc = lv_spg_start(&p))) {
        lv_drill_check_add(d, "start", 0, "%s", lv_errmsg());
        final = rc;
        goto cleanup;
    }
    started = 1;
    const char *users[4] = {NULL};
    size_t nu = 0;
    const char *cand[] = {lv_config_str(o->cfg, "pg-user"), "postgres", p.user};
    for (size_t i = 0; i < 3; i++) {
        int dup = !cand[i];
        for (size_t k = 0; k < nu && !dup; k++)
            dup = strcmp(users[k], cand[i]) == 0;
        if (!dup)
            users[nu++] = cand[i];
    }
    rc = lv_spg_wait_ready(&p, o->timeout, users, &user);
    if (rc == LV_ERR_INTERRUPTED || lv_interrupted()) {
        final = LV_ERR_INTERRUPTED;
        goto cleanup;
    }
    d->segments_fetched = lv_spg_log_count(&p, "restored log file");
    if (rc != LV_OK) {
        lv_drill_check_add(d, "recovery", 0, "%s", lv_errmsg());
        goto cleanup;
    }
    double ready = lv_wall_s();
    d->rto = ready - d->started;
    d->rto_replay = ready - t_pg;
    lv_drill_check_add(d, "recovery", 1, "ready for queries after %.2f s of recovery (%llu WAL segments restored)",
                       d->rto_replay, (unsigned long long)d->segments_fetched);
    measure_rpo(r, d, &res, &p, user, &ro);
    if (o->ready)
        o->ready(o->ready_arg, d, &p, user);
    if (ro.target == LV_PGT_IMMEDIATE) {
        if (lv_pgman_load(r, res.backup_id, &m) == LV_OK)
            have_m = m.rows_lsn != 0;
        else
            lv_drill_check_add(d, "rows", 0, "cannot read the backup's manifest: %s", lv_errmsg());
    }
    if (lv_drill_checks_run(d, &p, user, have_m ? &m : NULL, uc, nuc) == LV_ERR_INTERRUPTED)
        final = LV_ERR_INTERRUPTED;

cleanup:
    if (final && final != LV_ERR_INTERRUPTED)
        errsave = lv_xstrdup(lv_errmsg());
    if (o->keep_running && p.pid && !final && !d->failed && !lv_interrupted()) {
        /* kept on request: the server runs on in its own session; the caller says how to reach and stop it */
        d->running = 1;
        d->port = p.port;
        d->scratch = lv_xstrdup(scratch);
        d->datadir = lv_xstrdup(p.datadir);
        d->sockdir = lv_xstrdup(p.sockdir);
        d->bindir = lv_xstrdup(p.bindir);
        d->user = lv_xstrdup(user ? user : "postgres");
        d->os_user = lv_xstrdup(p.user);
        p.pid = 0;
        p.sock_outside = 0; /* its socket directory stays too */
    }
    if (p.pid)
        lv_spg_stop(&p, final == LV_ERR_INTERRUPTED || lv_interrupted());
    if (lv_interrupted())
        final = LV_ERR_INTERRUPTED;
    if (!d->running && (!o->keep || final == LV_ERR_INTERRUPTED))
        lv_drill_scratch_remove(scratch);
    else if (!d->running)
        lv_warn("drill %s: kept the scratch directory %s", d->id, scratch);
    lv_interrupt_release();
    lv_pgman_free(&m); /* zeroed when never loaded */
    lv_pg_restore_result_free(&res);
    lv_spg_free(&p);
    lv_user_checks_free(uc, nuc);
    lv_buf_free(&cmd);
    free(user);
    free(datadir);
    free(scratch);
    d->seconds = lv_wall_s() - d->started;
    if (final == LV_ERR_INTERRUPTED) {
        free(errsave);
        return lv_err(LV_ERR_INTERRUPTED, "drill %s interrupted: %sscratch directory removed", d->id,
                      started ? "PostgreSQL stopped, " : "");
    }
    if (final) {
        rc = lv_err(final, "%s", errsave);
        free(errsave);
        if (!d->error && d->id[0])
            d->error = lv_xstrdup(lv_errmsg());
        return rc;
    }
    if (d->failed)
        return lv_err(LV_ERR_CHECK, "drill %s failed: %s", d->id, d->error);
    return LV_OK;
}
