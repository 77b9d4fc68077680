/* One backup run: set up the packer, tree builder, chunker and files cache; run the source; flush;
 * write the manifest (the commit point); prune the files cache. */
#include "backup/files.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/engine.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "manifests/manifest.h"
#include "snapshot/snapshot.h"

volatile sig_atomic_t lv_backup_interrupt;

int lv_bk_interrupted(void) { return lv_backup_interrupt != 0; }

int lv_bk_skip(lv_bk *b, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (b->progress_shown)
        fputs("\r\033[K", stderr); /* do not print over the progress line */
    lv_warn("%s: left out of the snapshot", msg);
    b->st.errors++;
    return LV_OK;
}

static void json_strings(lv_json *j, const char *key, const char *const *v, size_t n)
{
    lv_json_key(j, key);
    lv_json_arr(j);
    for (size_t i = 0; i < n; i++)
        lv_json_str(j, v[i]);
    lv_json_end(j);
}

static void summary(const lv_bk *b, const char *host, lv_buf *out)
{
    const lv_backup_opts *o = b->o;
    const lv_backup_stats *s = &b->st;
    lv_json j;
    lv_json_init(&j, out);
    lv_json_obj(&j);
    lv_json_key(&j, "host");
    lv_json_str(&j, host);
    lv_json_key(&j, "source");
    lv_json_str(&j, o->stdin_name ? "stdin" : o->tar ? "tar" : "paths");
    json_strings(&j, "paths", (const char *const *)b->roots, b->nroots);
    json_strings(&j, "tags", o->tags, o->ntags);
    if (o->stdin_name) {
        lv_json_key(&j, "stdin_name");
        lv_json_str(&j, o->stdin_name);
    }
    if (o->tar) {
        lv_json_key(&j, "tar");
        lv_json_str(&j, o->tar);
    }
    if (o->docker_volume) {
        lv_json_key(&j, "docker_volume");
        lv_json_str(&j, o->docker_volume);
    }
    if (o->compose_project) {
        lv_json_key(&j, "compose_project");
        lv_json_str(&j, o->compose_project);
    }
    if (o->nvolumes) {
        lv_json_key(&j, "docker_volumes");
        lv_json_arr(&j);
        for (size_t i = 0; i < o->nvolumes; i++) {
            lv_json_obj(&j);
            lv_json_key(&j, "name");
            lv_json_str(&j, o->volumes[i].name);
            lv_json_key(&j, "path");
            lv_json_str(&j, o->volumes[i].path);
            lv_json_end(&j);
        }
        lv_json_end(&j);
    }
    struct {
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
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    lv_json_key(&j, "end_ns"); /* orders snapshots taken within one second (manifest times are seconds) */
    lv_json_int(&j, o->time_us ? o->time_us * 1000 : (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    lv_json_key(&j, "incomplete");
    lv_json_bool(&j, s->errors > 0);
    lv_json_end(&j);
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
    if (rc == LV_OK && b.fc)
        rc = lv_fcache_flush(b.fc, 1);
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
        summary(&b, host, &sum);
        lv_snap_body_encode(root.data, (uint32_t)(root.len / LV_HASH_LEN), &body);
        rc = lv_manifest_write(r, LV_SNAP_KIND, o->time_us / 1000000, lv_buf_cstr(&sum), body.data, body.len,
                               res->id);
    }
    /* Committed: forget cached paths under the roots that this run did not see (deleted files). */
    for (size_t i = 0; rc == LV_OK && b.fc && i < b.nroots; i++)
        if (lv_fcache_prune(b.fc, b.roots[i]) != LV_OK)
            lv_warn("files cache: %s", lv_errmsg());
    res->st = b.st;
    if (rc == LV_OK)
        res->summary = lv_xstrdup(lv_buf_cstr(&sum));

    lv_fcache_close(b.fc);
    lv_tb_free(b.tb);
    lv_packer_free(b.p);
    lv_cdc_stream_free(&b.cs);
    lv_buf_free(&b.extents);
    lv_idmap_free(&b.links);
    lv_buf_free(&b.link_store);
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
