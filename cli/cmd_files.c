/* File snapshots on the command line: backup files, snapshots, ls, diff, restore files. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup/fcache.h"
#include "backup/files.h"
#include "backup/docker.h"
#include "backup/hooks.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/timefmt.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"
#include "repo/tidy.h"
#include "restore/files.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"

static void fmt_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Print what was collected (lv_out_buf must not see an empty buffer: its data is NULL). */
static void out_flush(lv_buf *b)
{
    if (b->len)
        lv_out_buf(b);
}

/* With --json, an INCOMPLETE result is one object (the result, with its "error" member) and exit 9;
 * main() would add a second object. */
__attribute__((noreturn)) static void leave_incomplete(lv_ctx *ctx, lv_buf *out)
{
    out_flush(out);
    lv_buf_free(out);
    fprintf(stderr, "labvault: %s\n", lv_errmsg());
    lv_ctx_close(ctx);
    fflush(stdout);
    exit(LV_ERR_INCOMPLETE);
}

static void json_error_member(lv_json *j, int rc)
{
    lv_json_key(j, "error");
    lv_json_obj(j);
    lv_json_key(j, "code");
    lv_json_int(j, rc);
    lv_json_key(j, "kind");
    lv_json_str(j, lv_code_name(rc));
    lv_json_key(j, "message");
    lv_json_str(j, lv_errmsg());
    lv_json_end(j);
}

/* ---- backup files ----------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    lv_backup_interrupt = 1;
    lv_restore_interrupt = 1;
}

/* Ctrl-C or a TERM stops the run at the next file or chunk: cleanup (restarting containers, the post
 * hook, removing incomplete restored files) still happens. */
static void catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    lv_backup_interrupt = lv_restore_interrupt = 0;
}

static int read_exclude_file(const char *path, lv_buf *store, size_t *n)
{
    lv_buf b = LV_BUF_INIT;
    int rc = lv_read_file(path, &b);
    if (rc != LV_OK) {
        lv_buf_free(&b);
        return lv_err(rc == LV_ERR_NOT_FOUND ? LV_ERR_USAGE : rc, "--exclude-file: %s", lv_errmsg());
    }
    char *s = lv_buf_cstr(&b), *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        lv_buf_append(store, line, len + 1);
        (*n)++;
    }
    lv_buf_free(&b);
    return LV_OK;
}

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

static void print_backup(lv_ctx *ctx, const lv_backup_result *res, int rc, lv_buf *out)
{
    const lv_backup_stats *s = &res->st;
    if (ctx->json) {
        lv_result_json(out, res->id, rc, res->summary);
        return;
    }
    char total[32], read[32], fresh[32], stored[32];
    lv_human_size(s->bytes_total, total);
    lv_human_size(s->bytes_read, read);
    lv_human_size(s->bytes_new, fresh);
    lv_human_size(s->bytes_stored, stored);
    lv_buf_printf(out, "snapshot %s saved\n", res->id);
    lv_buf_printf(out, "  files: %llu new, %llu changed, %llu unchanged; %llu directories, %llu others",
                  (unsigned long long)s->files_new, (unsigned long long)s->files_changed,
                  (unsigned long long)s->files_unchanged, (unsigned long long)s->dirs, (unsigned long long)s->others);
    if (s->errors)
        lv_buf_printf(out, "; %llu left out (unreadable)", (unsigned long long)s->errors);
    lv_buf_printf(out, "\n  %s in total, %s read, %s new (%s stored) in %.1f s\n", total, read, fresh, stored,
                  s->seconds);
}

int lv_cmd_backup_files(lv_ctx *ctx)
{
    int set_rc = lv_ctx_expand_set(ctx);
    if (set_rc != LV_OK)
        return set_rc;
    const char **tags = NULL, **ex_flags = NULL, **ex_files = NULL, **excludes = NULL;
    size_t ntags = lv_ctx_flag_all(ctx, "tag", &tags), nex = lv_ctx_flag_all(ctx, "exclude", &ex_flags);
    size_t nexf = lv_ctx_flag_all(ctx, "exclude-file", &ex_files), nall = 0;
    lv_buf ex_store = LV_BUF_INIT, out = LV_BUF_INIT;
    lv_docker dk = LV_DOCKER_INIT;
    const char *volume = lv_ctx_flag(ctx, "docker-volume"), *pre = lv_ctx_flag(ctx, "pre-hook");
    const char *project = lv_ctx_flag(ctx, "compose-project"), *post = lv_ctx_flag(ctx, "post-hook");
    const char **paths = NULL;
    char *project_tag = NULL;
    lv_backup_opts o;
    memset(&o, 0, sizeof o);
    lv_backup_result res;
    memset(&res, 0, sizeof res);
    int rc = LV_OK, hook_rc = LV_OK, post_rc = LV_OK, start_rc = LV_OK;

    for (size_t i = 0; rc == LV_OK && i < nexf; i++)
        rc = read_exclude_file(ex_files[i], &ex_store, &nall);
    excludes = lv_xcalloc(nex + nall + 1, sizeof *excludes);
    for (size_t i = 0; i < nex; i++)
        excludes[i] = ex_flags[i];
    for (size_t i = 0, off = 0; i < nall; i++) {
        excludes[nex + i] = (const char *)ex_store.data + off;
        off += strlen(excludes[nex + i]) + 1;
    }

    o.paths = (const char *const *)ctx->argv;
    o.npaths = (size_t)ctx->argc;
    o.tags = tags;
    o.ntags = ntags;
    o.excludes = excludes;
    o.nexcludes = nex + nall;
    o.one_file_system = lv_ctx_flag(ctx, "one-file-system") != NULL;
    o.stdin_name = lv_ctx_flag(ctx, "stdin");
    o.tar = lv_ctx_flag(ctx, "from-tar");
    o.docker_volume = volume;
    o.progress = lv_ctx_progress(ctx);
    o.host = lv_ctx_flag(ctx, "host");
    const char *when = lv_ctx_flag(ctx, "time");
    if (rc == LV_OK && when && lv_time_parse(when, 1, &o.time_us) != 0)
        rc = lv_err(LV_ERR_USAGE, "--time '%s': expected 'YYYY-MM-DD HH:MM:SS' (local time, or UTC with Z)", when);
    if (rc == LV_OK && lv_ctx_flag(ctx, "stop-containers") && !volume && !project)
        rc = lv_err(LV_ERR_USAGE, "--stop-containers needs --docker-volume NAME (--compose-project stops its "
                    "containers anyway)");
    if (rc == LV_OK && volume && project)
        rc = lv_err(LV_ERR_USAGE, "--docker-volume and --compose-project: give one of them");
    if (rc == LV_OK && (volume || project) && (o.stdin_name || o.tar))
        rc = lv_err(LV_ERR_USAGE, "--%s backs up directories: it does not go with --stdin or --from-tar",
                    volume ? "docker-volume" : "compose-project");
    if (rc == LV_OK && !volume && !project && !o.npaths && !o.stdin_name && !o.tar && lv_ctx_flag(ctx, "set"))
        rc = lv_err(LV_ERR_USAGE, "[set %s] names nothing to back up: give it a path, a docker-volume or a "
                    "compose-project", lv_ctx_flag(ctx, "set"));
    else if (rc == LV_OK && !volume && !project && !o.npaths && !o.stdin_name && !o.tar)
        rc = lv_err(LV_ERR_USAGE, "nothing to back up: give PATH..., --docker-volume, --compose-project, --stdin "
                    "or --from-tar");
    if (rc == LV_OK && project) {
        /* Like set:NAME for a set: the project's snapshots are found and kept as a group. */
        project_tag = lv_xasprintf("compose:%s", project);
        tags = lv_xrealloc(tags, (ntags + 1) * sizeof *tags);
        tags[ntags++] = project_tag;
        o.tags = tags;
        o.ntags = ntags;
    }
    /* Open the repository before anything stops: a wrong passphrase must not cost an outage. */
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    if (rc != LV_OK)
        goto out;

    struct sigaction old_int, old_term;
    catch_signals(&old_int, &old_term);

    if (pre) {
        const char *env[] = {"LABVAULT_HOOK=pre", NULL};
        rc = hook_rc = lv_hook_run("pre-hook", pre, env);
    }
    if (rc == LV_OK && (volume || project)) {
        rc = volume ? lv_docker_add_volume(&dk, volume) : lv_docker_add_project(&dk, project);
        if (rc == LV_OK && (project || lv_ctx_flag(ctx, "stop-containers")))
            rc = lv_docker_stop(&dk);
        /* The volumes' mount points, after any PATHs given too (a project's bind mounts, say). */
        paths = lv_xcalloc(o.npaths + dk.nvols + 1, sizeof *paths);
        for (size_t i = 0; i < o.npaths; i++)
            paths[i] = o.paths[i];
        for (size_t i = 0; i < dk.nvols; i++)
            paths[o.npaths + i] = dk.vols[i].path;
        o.paths = paths;
        o.npaths += dk.nvols;
        o.compose_project = project;
        o.volumes = dk.vols;
        o.nvolumes = dk.nvols;
    }
    if (rc == LV_OK && lv_backup_interrupt)
        rc = lv_err(LV_ERR_INTERRUPTED, "interrupted before the backup started");
    if (rc == LV_OK)
        rc = lv_backup_files(ctx->repo, &o, &res);
    char saved_msg[1024];
    snprintf(saved_msg, sizeof saved_msg, "%s", lv_errmsg());
    /* Whatever happened: containers we stopped start again, and the post hook runs. */
    if (dk.nstopped)
        start_rc = lv_docker_start(&dk);
    if (start_rc != LV_OK)
        lv_error("%s", lv_errmsg());
    post_rc = run_post(post, rc, res.id);
    if (*res.id)
        ctx->run_bytes = res.st.bytes_stored;
    if (post_rc != LV_OK)
        lv_error("%s", lv_errmsg());
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    (void)hook_rc;

    if (*res.id) {
        lv_repo_tidy_backup(ctx->repo);
        if (rc == LV_OK || rc == LV_ERR_INCOMPLETE) {
            if (rc != LV_OK)
                lv_err(rc, "%s", saved_msg);
            print_backup(ctx, &res, rc, &out);
        }
    }
    if (rc == LV_OK && (start_rc != LV_OK || post_rc != LV_OK))
        rc = lv_err(start_rc != LV_OK ? start_rc : post_rc, "snapshot %.12s is committed, but %s failed",
                    res.id, start_rc != LV_OK ? "restarting the stopped containers" : "the post-hook");
    else if (rc != LV_OK)
        lv_err(rc, "%s", saved_msg);
    if (rc == LV_ERR_INCOMPLETE && ctx->json && *res.id)
        leave_incomplete(ctx, &out);
    out_flush(&out);
out:
    free(res.summary);
    lv_docker_free(&dk);
    free(paths);
    free(project_tag);
    free(tags);
    free(ex_flags);
    free(ex_files);
    free(excludes);
    lv_buf_free(&ex_store);
    lv_buf_free(&out);
    return rc;
}

/* ---- snapshots -------------------------------------------------------------------------------- */

/* A text column decoded from a summary's JSON (one value, or several joined by NUL bytes), for a
 * terminal: each value gets its original bytes back (common/json.h) and is quoted (common/text.h);
 * several are separated by spaces. */
static void quote_column(lv_buf *out, sqlite3_stmt *st, int col)
{
    const char *v = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    lv_buf one = LV_BUF_INIT;
    for (size_t i = 0; v && i <= n;) {
        const char *nul = memchr(v + i, '\0', n - i);
        size_t k = nul ? (size_t)(nul - (v + i)) : n - i;
        lv_buf_reset(&one);
        lv_buf_append(&one, v + i, k);
        lv_json_unescape_bytes(&one);
        if (i)
            lv_buf_append_str(out, " ");
        lv_quote_name(out, one.data, one.len);
        i += k + 1;
    }
    lv_buf_free(&one);
}

int lv_cmd_snapshots(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    sqlite3 *db = lv_catalog_db(ctx->cat);
    sqlite3_stmt *st = NULL;
    const char *sql =
        "SELECT id, time, summary, json_extract(summary, '$.host'),"
        " (SELECT group_concat(value, char(0)) FROM json_each(summary, '$.paths')),"
        " (SELECT group_concat(value, ',') FROM json_each(summary, '$.tags')),"
        " json_extract(summary, '$.files_new') + json_extract(summary, '$.files_changed')"
        "   + json_extract(summary, '$.files_unchanged'),"
        " json_extract(summary, '$.bytes_total'), json_extract(summary, '$.source'),"
        " json_extract(summary, '$.stdin_name')"
        " FROM manifests WHERE kind = ?1 ORDER BY time, json_extract(summary, '$.end_ns'), id";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return lv_err(LV_ERR_IO, "catalog %s: %s", lv_catalog_path(ctx->cat), sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, LV_SNAP_KIND, -1, SQLITE_STATIC);
    lv_buf out = LV_BUF_INIT;
    lv_json j;
    lv_json_init(&j, &out);
    if (ctx->json)
        lv_json_arr(&j);
    else
        lv_buf_printf(&out, "%-12s  %-19s  %-16s  %8s  %10s  %s\n", "ID", "TIME", "HOST", "FILES", "SIZE",
                      "PATHS [TAGS]");
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int64_t t = sqlite3_column_int64(st, 1);
        if (ctx->json) {
            lv_json_obj(&j);
            lv_json_key(&j, "id");
            lv_json_str(&j, id);
            lv_json_key(&j, "time");
            lv_json_int(&j, t);
            lv_json_key(&j, "summary");
            lv_json_raw(&j, (const char *)sqlite3_column_text(st, 2));
            lv_json_end(&j);
            continue;
        }
        char when[32], size[32];
        fmt_time(t, when);
        lv_human_size((uint64_t)sqlite3_column_int64(st, 7), size);
        const char *src = (const char *)sqlite3_column_text(st, 8);
        lv_buf host = LV_BUF_INIT;
        quote_column(&host, st, 3);
        lv_buf_printf(&out, "%.12s  %-19s  %-16s  %8lld  %10s  %s", id, when, lv_buf_cstr(&host),
                      (long long)sqlite3_column_int64(st, 6), size,
                      src && strcmp(src, "stdin") == 0 ? "(stdin) " : src && strcmp(src, "tar") == 0 ? "(tar) " : "");
        lv_buf_free(&host);
        quote_column(&out, st, sqlite3_column_type(st, 9) != SQLITE_NULL ? 9 : 4);
        if (sqlite3_column_bytes(st, 5) > 0) {
            lv_buf_append_str(&out, " [");
            quote_column(&out, st, 5);
            lv_buf_append_str(&out, "]");
        }
        lv_buf_append_str(&out, "\n");
    }
    if (r != SQLITE_DONE)
        rc = lv_err(LV_ERR_IO, "catalog %s: %s", lv_catalog_path(ctx->cat), sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (ctx->json) {
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    }
    if (rc == LV_OK)
        out_flush(&out);
    lv_buf_free(&out);
    return rc;
}

/* ---- ls --------------------------------------------------------------------------------------- */

static void mode_string(const lv_node *n, char out[11])
{
    static const char types[] = "?-dlpcb";
    out[0] = types[n->type];
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (n->mode & (1u << (8 - i))) ? rwx[i] : '-';
    if (n->mode & 04000)
        out[3] = (n->mode & 0100) ? 's' : 'S';
    if (n->mode & 02000)
        out[6] = (n->mode & 010) ? 's' : 'S';
    if (n->mode & 01000)
        out[9] = (n->mode & 01) ? 't' : 'T';
    out[10] = '\0';
}

typedef struct lsctx {
    lv_ctx *ctx;
    lv_tree_src src;
    lv_buf path;
    uint64_t count;
} lsctx;

static void print_node(lsctx *l, const lv_node *n, const char *path)
{
    lv_buf out = LV_BUF_INIT;
    if (l->ctx->json) {
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "path");
        lv_json_str(&j, path);
        lv_json_key(&j, "type");
        lv_json_str(&j, lv_node_type_name(n->type));
        lv_json_key(&j, "mode");
        lv_json_uint(&j, n->mode);
        lv_json_key(&j, "uid");
        lv_json_uint(&j, n->uid);
        lv_json_key(&j, "gid");
        lv_json_uint(&j, n->gid);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)n->user_len, n->user);
        lv_json_key(&j, "user");
        lv_json_str(&j, name);
        snprintf(name, sizeof name, "%.*s", (int)n->group_len, n->group);
        lv_json_key(&j, "group");
        lv_json_str(&j, name);
        lv_json_key(&j, "size");
        lv_json_uint(&j, n->type == LV_NODE_FILE ? n->size : 0);
        lv_json_key(&j, "mtime");
        lv_json_int(&j, n->mtime_sec);
        lv_json_key(&j, "mtime_nsec");
        lv_json_uint(&j, n->mtime_nsec);
        if (n->type == LV_NODE_SYMLINK) {
            char *t = lv_xasprintf("%.*s", (int)n->target_len, n->target);
            lv_json_key(&j, "target");
            lv_json_str(&j, t);
            free(t);
        }
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    } else {
        char mode[11], when[32];
        mode_string(n, mode);
        fmt_time(n->mtime_sec, when);
        /* An owner without a name (no passwd/group entry when it was backed up) shows its number, and every
         * name is quoted: a newline or an escape sequence in a file name must not reach the terminal. */
        lv_buf user = LV_BUF_INIT, group = LV_BUF_INIT;
        if (n->user_len)
            lv_quote_name(&user, n->user, n->user_len);
        else
            lv_buf_printf(&user, "%u", n->uid);
        if (n->group_len)
            lv_quote_name(&group, n->group, n->group_len);
        else
            lv_buf_printf(&group, "%u", n->gid);
        lv_buf_printf(&out, "%s %-8s %-8s %12llu %s /", mode, lv_buf_cstr(&user), lv_buf_cstr(&group),
                      (unsigned long long)(n->type == LV_NODE_FILE ? n->size : 0), when);
        lv_buf_free(&user);
        lv_buf_free(&group);
        lv_quote_str(&out, path);
        if (n->type == LV_NODE_SYMLINK) {
            lv_buf_append_str(&out, " -> ");
            lv_quote_name(&out, n->target, n->target_len);
        }
        lv_buf_append_str(&out, "\n");
    }
    out_flush(&out);
    lv_buf_free(&out);
    l->count++;
}

static int ls_dir(lsctx *l, const uint8_t *pages, uint32_t npages)
{
    lv_dir_reader d;
    lv_dir_init(&d, l->src, pages, npages);
    size_t mark = l->path.len;
    lv_node n;
    int got, rc;
    while ((rc = lv_dir_next(&d, &n, &got)) == LV_OK && got) {
        l->path.len = mark;
        if (mark)
            lv_buf_append(&l->path, "/", 1);
        lv_buf_append(&l->path, n.name, n.name_len);
        print_node(l, &n, lv_buf_cstr(&l->path));
        if (n.type == LV_NODE_DIR && (rc = ls_dir(l, n.pages, n.npages)) != LV_OK)
            break;
    }
    l->path.len = mark;
    lv_dir_free(&d);
    return rc;
}

int lv_cmd_ls(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[0], id);
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    if (rc != LV_OK || (rc = lv_snap_open(ctx->repo, id, &m, &pages, &npages)) != LV_OK)
        return rc;
    lsctx l = {ctx, lv_tree_src_repo(ctx->repo), LV_BUF_INIT, 0};
    const char *path = ctx->argc > 1 ? ctx->argv[1] : "";
    lv_buf store = LV_BUF_INIT;
    lv_node n;
    int is_root = 1;
    rc = lv_tree_lookup(l.src, pages, npages, path, &store, &n, &is_root);
    if (rc == LV_OK && is_root) {
        rc = ls_dir(&l, pages, npages);
    } else if (rc == LV_OK) {
        /* The path as the tree spells it, without extra slashes. */
        for (const char *p = path; *p;) {
            while (*p == '/')
                p++;
            size_t k = strcspn(p, "/");
            if (k) {
                if (l.path.len)
                    lv_buf_append(&l.path, "/", 1);
                lv_buf_append(&l.path, p, k);
            }
            p += k;
        }
        print_node(&l, &n, lv_buf_cstr(&l.path));
        if (n.type == LV_NODE_DIR)
            rc = ls_dir(&l, n.pages, n.npages);
    }
    lv_buf_free(&store);
    lv_buf_free(&l.path);
    lv_manifest_free(&m);
    return rc;
}

/* ---- diff ------------------------------------------------------------------------------------- */

typedef struct dctx {
    lv_ctx *ctx;
    lv_tree_src src;
    lv_buf path;
    uint64_t added, removed, modified, meta, type;
} dctx;

static void diff_line(dctx *d, char what, const lv_node *n)
{
    lv_buf out = LV_BUF_INIT;
    const char *path = lv_buf_cstr(&d->path);
    if (d->ctx->json) {
        char w[2] = {what, '\0'};
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "change");
        lv_json_str(&j, w);
        lv_json_key(&j, "path");
        lv_json_str(&j, path);
        lv_json_key(&j, "type");
        lv_json_str(&j, lv_node_type_name(n->type));
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
    } else {
        lv_buf_printf(&out, "%c /", what);
        lv_quote_str(&out, path);
        lv_buf_append_str(&out, n->type == LV_NODE_DIR ? "/\n" : "\n");
    }
    out_flush(&out);
    lv_buf_free(&out);
    switch (what) {
    case '+': d->added++; break;
    case '-': d->removed++; break;
    case 'M': d->modified++; break;
    case 'T': d->type++; break;
    default: d->meta++; break;
    }
}

static int same_meta(const lv_node *a, const lv_node *b)
{
    return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->mtime_sec == b->mtime_sec &&
           a->mtime_nsec == b->mtime_nsec && a->user_len == b->user_len && a->group_len == b->group_len &&
           memcmp(a->user, b->user, a->user_len) == 0 && memcmp(a->group, b->group, a->group_len) == 0 &&
           a->xattrs_len == b->xattrs_len && (a->xattrs_len == 0 || memcmp(a->xattrs, b->xattrs, a->xattrs_len) == 0) &&
           a->rdev == b->rdev && a->target_len == b->target_len &&
           (a->target_len == 0 || memcmp(a->target, b->target, a->target_len) == 0);
}

static int same_pages(const lv_node *a, const lv_node *b)
{
    return a->npages == b->npages && (a->npages == 0 || memcmp(a->pages, b->pages, (size_t)a->npages * LV_HASH_LEN) == 0);
}

static int same_content(const lv_node *a, const lv_node *b)
{
    return a->size == b->size && a->nextents == b->nextents &&
           (a->nextents == 0 || memcmp(a->extents, b->extents, (size_t)a->nextents * LV_TREE_EXTENT_SIZE) == 0);
}

static int diff_dirs(dctx *d, const uint8_t *pa, uint32_t na, const uint8_t *pb, uint32_t nb);

/* Every entry below a directory that exists on one side only. */
static int diff_all(dctx *d, const lv_node *n, char what)
{
    diff_line(d, what, n);
    if (n->type != LV_NODE_DIR)
        return LV_OK;
    return what == '+' ? diff_dirs(d, NULL, 0, n->pages, n->npages) : diff_dirs(d, n->pages, n->npages, NULL, 0);
}

static void push(dctx *d, size_t mark, const lv_node *n)
{
    d->path.len = mark;
    if (mark)
        lv_buf_append(&d->path, "/", 1);
    lv_buf_append(&d->path, n->name, n->name_len);
}

static int diff_dirs(dctx *d, const uint8_t *pa, uint32_t na, const uint8_t *pb, uint32_t nb)
{
    lv_dir_reader ra, rb;
    lv_dir_init(&ra, d->src, pa, na);
    lv_dir_init(&rb, d->src, pb, nb);
    lv_node a, b;
    int ga = 0, gb = 0, rc = lv_dir_next(&ra, &a, &ga);
    if (rc == LV_OK)
        rc = lv_dir_next(&rb, &b, &gb);
    size_t mark = d->path.len;
    while (rc == LV_OK && (ga || gb)) {
        int c = !ga ? 1 : !gb ? -1 : lv_tree_name_cmp(a.name, a.name_len, b.name, b.name_len);
        if (c < 0) {
            push(d, mark, &a);
            rc = diff_all(d, &a, '-');
            if (rc == LV_OK)
                rc = lv_dir_next(&ra, &a, &ga);
            continue;
        }
        if (c > 0) {
            push(d, mark, &b);
            rc = diff_all(d, &b, '+');
            if (rc == LV_OK)
                rc = lv_dir_next(&rb, &b, &gb);
            continue;
        }
        push(d, mark, &a);
        if (a.type != b.type) {
            diff_line(d, 'T', &b);
        } else if (a.type == LV_NODE_DIR) {
            if (!same_meta(&a, &b))
                diff_line(d, 'U', &b);
            if (!same_pages(&a, &b)) /* equal page ids: an identical subtree, nothing to read */
                rc = diff_dirs(d, a.pages, a.npages, b.pages, b.npages);
        } else if (a.type == LV_NODE_FILE && !same_content(&a, &b)) {
            diff_line(d, 'M', &b);
        } else if (!same_meta(&a, &b)) {
            diff_line(d, 'U', &b);
        }
        if (rc == LV_OK)
            rc = lv_dir_next(&ra, &a, &ga);
        if (rc == LV_OK)
            rc = lv_dir_next(&rb, &b, &gb);
    }
    d->path.len = mark;
    lv_dir_free(&ra);
    lv_dir_free(&rb);
    return rc;
}

int lv_cmd_diff(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id1[2 * LV_HASH_LEN + 1], id2[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[0], id1);
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[1], id2);
    if (rc != LV_OK)
        return rc;
    lv_manifest m1, m2;
    const uint8_t *p1, *p2;
    uint32_t n1, n2;
    if ((rc = lv_snap_open(ctx->repo, id1, &m1, &p1, &n1)) != LV_OK)
        return rc;
    if ((rc = lv_snap_open(ctx->repo, id2, &m2, &p2, &n2)) != LV_OK) {
        lv_manifest_free(&m1);
        return rc;
    }
    dctx d;
    memset(&d, 0, sizeof d);
    d.ctx = ctx;
    d.src = lv_tree_src_repo(ctx->repo);
    if (!(n1 == n2 && (n1 == 0 || memcmp(p1, p2, (size_t)n1 * LV_HASH_LEN) == 0)))
        rc = diff_dirs(&d, p1, n1, p2, n2);
    if (rc == LV_OK && !ctx->json)
        lv_out("%llu added, %llu removed, %llu modified, %llu metadata only, %llu changed type\n",
               (unsigned long long)d.added, (unsigned long long)d.removed, (unsigned long long)d.modified,
               (unsigned long long)d.meta, (unsigned long long)d.type);
    lv_buf_free(&d.path);
    lv_manifest_free(&m1);
    lv_manifest_free(&m2);
    return rc;
}

/* ---- restore files ---------------------------------------------------------------------------- */

int lv_cmd_restore_files(lv_ctx *ctx)
{
    const char *to = lv_ctx_flag(ctx, "to"), *tar = lv_ctx_flag(ctx, "tar");
    if ((to != NULL) == (tar != NULL))
        return lv_err(LV_ERR_USAGE, "restore files: give exactly one of --to DIR and --tar FILE|-");
    if (tar && strcmp(tar, "-") == 0 && ctx->json)
        return lv_err(LV_ERR_USAGE, "--json and --tar - both want standard output");
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[0], id);
    if (rc != LV_OK)
        return rc;
    const char **inc = NULL;
    lv_restore_opts o;
    memset(&o, 0, sizeof o);
    o.snapshot = id;
    o.target = to ? to : tar;
    o.nincludes = lv_ctx_flag_all(ctx, "include", &inc);
    o.includes = inc;
    o.overwrite = lv_ctx_flag(ctx, "overwrite") != NULL;
    o.threads = 2 * (int)lv_config_int(ctx->cfg, "s3-concurrency");
    o.progress = lv_ctx_progress(ctx) && !(tar && strcmp(tar, "-") == 0);
    lv_restore_stats st;
    struct sigaction old_int, old_term;
    catch_signals(&old_int, &old_term);
    rc = to ? lv_restore_dir(ctx->repo, &o, &st) : lv_restore_tar(ctx->repo, &o, &st);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(inc);
    if (rc != LV_OK && rc != LV_ERR_INCOMPLETE)
        return rc;
    lv_buf out = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &out);
        lv_json_obj(&j);
        lv_json_key(&j, "snapshot");
        lv_json_str(&j, id);
        struct {
            const char *k;
            uint64_t v;
        } nums[] = {{"files", st.files}, {"dirs", st.dirs}, {"others", st.others}, {"hardlinks", st.links},
                    {"bytes", st.bytes}, {"warnings", st.warnings}, {"gets", st.gets},
                    {"bytes_fetched", st.bytes_fetched}};
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            lv_json_key(&j, nums[i].k);
            lv_json_uint(&j, nums[i].v);
        }
        lv_json_key(&j, "seconds");
        lv_json_double(&j, st.seconds);
        if (rc != LV_OK)
            json_error_member(&j, rc);
        lv_json_end(&j);
        lv_buf_append_str(&out, "\n");
        if (rc != LV_OK)
            leave_incomplete(ctx, &out);
    } else if (!(tar && strcmp(tar, "-") == 0)) {
        char size[32];
        lv_human_size(st.bytes, size);
        lv_buf_printf(&out, "restored %.12s to %s: %llu files (%s), %llu directories, %llu others, %llu hardlinks "
                      "in %.1f s\n", id, o.target, (unsigned long long)st.files, size, (unsigned long long)st.dirs,
                      (unsigned long long)st.others, (unsigned long long)st.links, st.seconds);
    }
    out_flush(&out);
    lv_buf_free(&out);
    return rc;
}
