/* One backup run: set up the packer, tree builder, chunker and files cache; run the source; flush;
 * write the manifest (the commit point); prune the files cache. */
#include "backup/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/docker.h"
#include "backup/files_run.h"
#include "backup/hooks.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "repo/manifest.h"
#include "repo/tidy.h"
#include "snapshot/snapshot.h"
#include "snapshot/summary.h"

static char **copy_strings(const char *const *v, size_t n)
{
    char **c = lv_xcalloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = lv_xstrdup(v[i]);
    return c;
}

static void summary(const lv_bk *b, const char *host, lv_snap_summary *s)
{
    const lv_backup_opts *o = b->o;
    const lv_backup_stats *st = &b->st;
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "%s", host);
    snprintf(s->source, sizeof s->source, "%s", o->stdin_name ? "stdin" : o->tar ? "tar" : "paths");
    s->paths = copy_strings((const char *const *)b->roots, b->nroots);
    s->npaths = b->nroots;
    s->tags = copy_strings(o->tags, o->ntags);
    s->ntags = o->ntags;
    snprintf(s->stdin_name, sizeof s->stdin_name, "%s", o->stdin_name ? o->stdin_name : "");
    snprintf(s->tar, sizeof s->tar, "%s", o->tar ? o->tar : "");
    snprintf(s->docker_volume, sizeof s->docker_volume, "%s", o->docker_volume ? o->docker_volume : "");
    snprintf(s->compose_project, sizeof s->compose_project, "%s", o->compose_project ? o->compose_project : "");
    s->volumes = lv_xcalloc(o->nvolumes ? o->nvolumes : 1, sizeof *s->volumes);
    for (size_t i = 0; i < o->nvolumes; i++)
        s->volumes[i] = (lv_snap_volume){lv_xstrdup(o->volumes[i].name), lv_xstrdup(o->volumes[i].path)};
    s->nvolumes = o->nvolumes;
    s->files_new = st->files_new;
    s->files_changed = st->files_changed;
    s->files_unchanged = st->files_unchanged;
    s->dirs = st->dirs;
    s->others = st->others;
    s->errors = st->errors;
    s->bytes_total = st->bytes_total;
    s->bytes_read = st->bytes_read;
    s->bytes_new = st->bytes_new;
    s->bytes_stored = st->bytes_stored;
    s->blobs_new = st->blobs_new;
    s->trees_new = st->trees_new;
    s->seconds = st->seconds;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->end_ns = o->time_us ? o->time_us * 1000 : (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    s->incomplete = st->errors > 0;
}

static int check_opts(const lv_backup_opts *o)
{
    int sources = (o->npaths > 0) + (o->stdin_name != NULL) + (o->tar != NULL);
    if (sources != 1)
        return lv_err(LV_ERR_USAGE, "back up either PATH..., --stdin NAME or --from-tar FILE (exactly one)");
    if ((o->stdin_name || (o->tar && strcmp(o->tar, "-") != 0)) && (o->nexcludes || o->one_file_system))
        lv_warn("--exclude and --one-file-system apply to paths only; ignored");
    return LV_OK;
}

int lv_backup_files(lv_repo *r, const lv_backup_opts *o, lv_backup_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = check_opts(o);
    if (rc != LV_OK)
        return rc;
    lv_bk b;
    memset(&b, 0, sizeof b);
    b.r = r;
    b.o = o;
    b.t0 = lv_bk_now();
    lv_progress_start(&b.prog, o->progress, "read", "files");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b.start_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    lv_buf root = LV_BUF_INIT, body = LV_BUF_INIT, sum = LV_BUF_INIT;
    char host[256] = "";
    if (o->host)
        snprintf(host, sizeof host, "%s", o->host);
    else if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");

    if ((rc = lv_packer_new(r, &b.p)) != LV_OK)
        return rc;
    b.tb = lv_tb_new(b.p);
    lv_cdc_init(&b.cdc, r->chunk_key, r->params.chunk_min, r->params.chunk_avg, r->params.chunk_max);
    lv_cdc_stream_init(&b.cs, &b.cdc, lv_bk_on_chunk, &b);
    if (r->cat)
        rc = lv_fcache_open(r->cat, b.start_ns, &b.fc);

    for (size_t i = 0; i < o->npaths; i++)
        lv_info("backing up %s", o->paths[i]);
    if (rc == LV_OK)
        rc = o->stdin_name ? lv_bk_stdin(&b, &root) : o->tar ? lv_bk_tar(&b, &root) : lv_bk_walk_paths(&b, &root);
    lv_info("read: %llu new, %llu changed, %llu unchanged files (the files cache)",
            (unsigned long long)b.st.files_new, (unsigned long long)b.st.files_changed,
            (unsigned long long)b.st.files_unchanged);
    if (rc == LV_OK)
        rc = lv_packer_flush(b.p);
    lv_bk_progress(&b, 1);
    if (rc == LV_OK) {
        lv_packer_stats ps;
        lv_treebuild_stats ts2;
        lv_packer_get_stats(b.p, &ps);
        lv_tb_stats(b.tb, &ts2);
        b.st.bytes_stored = ps.stored;
        b.st.trees_new = ts2.pages_new;
        b.st.seconds = lv_bk_now() - b.t0;
        lv_snap_summary ss;
        summary(&b, host, &ss);
        lv_snap_summary_encode(&ss, &sum);
        lv_snap_summary_free(&ss);
        lv_snap_body_encode(root.data, (uint32_t)(root.len / LV_HASH_LEN), &body);
        rc = lv_manifest_write(r, LV_SNAP_KIND, o->time_us / 1000000, lv_buf_cstr(&sum), body.data, body.len,
                               res->id);
    }
    /* Committed: every blob of the run is indexed, so its files-cache records can be verified. */
    if (rc == LV_OK && b.fc && lv_fcache_commit(b.fc) != LV_OK)
        lv_warn("files cache: %s", lv_errmsg());
    if (rc == LV_OK)
        lv_repo_tidy_backup(r); /* what killed backups left (repo/tidy.h); never fails the backup */
    res->st = b.st;
    if (rc == LV_OK)
        res->summary = lv_xstrdup(lv_buf_cstr(&sum));

    lv_fcache_close(b.fc);
    lv_tb_free(b.tb);
    lv_packer_free(b.p);
    lv_cdc_stream_free(&b.cs);
    lv_buf_free(&b.extents);
    lv_bk_links_free(&b);
    for (size_t i = 0; i < b.nusers; i++)
        free(b.users[i].name);
    for (size_t i = 0; i < b.ngroups; i++)
        free(b.groups[i].name);
    free(b.users);
    free(b.groups);
    for (size_t i = 0; i < b.nroots; i++)
        free(b.roots[i]);
    free(b.roots);
    lv_buf_free(&root);
    lv_buf_free(&body);
    lv_buf_free(&sum);
    if (rc == LV_OK && res->st.errors > 0)
        rc = lv_err(LV_ERR_INCOMPLETE, "snapshot %.12s committed, but %llu entries could not be read and are "
                    "missing from it (warnings above)", res->id, (unsigned long long)res->st.errors);
    return rc;
}

/* ---- the job around the run ------------------------------------------------------------------------ */

static int run_post(const char *post, int backup_rc, const char *id)
{
    if (!post)
        return LV_OK;
    char status[64], sid[128];
    snprintf(status, sizeof status, "LABVAULT_BACKUP_STATUS=%s",
             backup_rc == LV_OK ? "ok" : backup_rc == LV_ERR_INCOMPLETE ? "incomplete" : "failed");
    snprintf(sid, sizeof sid, "LABVAULT_SNAPSHOT_ID=%s", id);
    const char *env[] = {"LABVAULT_HOOK=post", status, *id ? sid : NULL, NULL};
    return lv_hook_run("post-hook", post, env);
}

/* The docker part of the job: the volumes' mount points join o's paths (after any PATHs given too: a
 * project's bind mounts, say) and are recorded; a project's snapshot is tagged compose:NAME, like set:NAME
 * for a set, so that its snapshots are found and kept as a group. The arrays hung on o are the caller's
 * to free (*paths, *tags). */
static int docker_prepare(const lv_backup_job *j, lv_docker *dk, lv_backup_opts *o, const char ***paths,
                          const char ***tags, char **tag)
{
    int rc = o->docker_volume ? lv_docker_add_volume(dk, o->docker_volume) : lv_docker_add_project(dk, j->compose_project);
    if (rc == LV_OK && (j->compose_project || j->stop_containers))
        rc = lv_docker_stop(dk);
    *paths = lv_xcalloc(o->npaths + dk->nvols + 1, sizeof **paths);
    for (size_t i = 0; i < o->npaths; i++)
        (*paths)[i] = o->paths[i];
    for (size_t i = 0; i < dk->nvols; i++)
        (*paths)[o->npaths + i] = dk->vols[i].path;
    o->paths = *paths;
    o->npaths += dk->nvols;
    o->volumes = dk->vols;
    o->nvolumes = dk->nvols;
    if (j->compose_project) {
        *tag = lv_xasprintf("compose:%s", j->compose_project);
        *tags = lv_xcalloc(o->ntags + 1, sizeof **tags);
        for (size_t i = 0; i < o->ntags; i++)
            (*tags)[i] = o->tags[i];
        (*tags)[o->ntags++] = *tag;
        o->tags = *tags;
        o->compose_project = j->compose_project;
    }
    return rc;
}

int lv_backup_files_job(lv_repo *r, const lv_backup_job *j, lv_backup_result *res)
{
    memset(res, 0, sizeof *res);
    lv_backup_opts o = j->o;
    lv_docker dk = LV_DOCKER_INIT;
    const char **paths = NULL, **tags = NULL;
    char *tag = NULL;
    int rc = LV_OK, start_rc = LV_OK, post_rc = LV_OK;
    lv_interrupt_catch();
    if (j->pre_hook) {
        const char *env[] = {"LABVAULT_HOOK=pre", NULL};
        rc = lv_hook_run("pre-hook", j->pre_hook, env);
    }
    if (rc == LV_OK && (o.docker_volume || j->compose_project))
        rc = docker_prepare(j, &dk, &o, &paths, &tags, &tag);
    if (rc == LV_OK && lv_interrupted())
        rc = lv_err(LV_ERR_INTERRUPTED, "interrupted before the backup started");
    if (rc == LV_OK)
        rc = lv_backup_files(r, &o, res);
    char *msg = lv_xstrdup(lv_errmsg());
    /* Whatever happened: containers we stopped start again, and the post hook runs. */
    if (dk.nstopped && (start_rc = lv_docker_start(&dk)) != LV_OK)
        lv_error("%s", lv_errmsg());
    if ((post_rc = run_post(j->post_hook, rc, res->id)) != LV_OK)
        lv_error("%s", lv_errmsg());
    lv_interrupt_release();
    if (rc == LV_OK && (start_rc != LV_OK || post_rc != LV_OK)) {
        res->after_rc = start_rc != LV_OK ? start_rc : post_rc;
        res->after_msg = lv_xasprintf("snapshot %.12s is committed, but %s failed", res->id,
                                      start_rc != LV_OK ? "restarting the stopped containers" : "the post-hook");
    }
    if (rc != LV_OK)
        lv_err(rc, "%s", msg); /* the hooks' messages were logged: the run's is the one to report */
    free(msg);
    lv_docker_free(&dk);
    free(paths);
    free(tags);
    free(tag);
    return rc;
}

void lv_backup_result_free(lv_backup_result *res)
{
    free(res->summary);
    free(res->after_msg);
    res->summary = res->after_msg = NULL;
}
