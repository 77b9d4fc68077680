/* File snapshots on the command line: backup files, snapshots, ls, diff, restore files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/files_cache.h"
#include "backup/files.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/timefmt.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"
#include "restore/dump.h"
#include "restore/files.h"
#include "snapshot/diff.h"
#include "snapshot/find.h"
#include "snapshot/ls.h"
#include "snapshot/snapshot.h"
#include "snapshot/summary.h"

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
    lv_backup_job job;
    memset(&job, 0, sizeof job);
    lv_backup_opts *o = &job.o;
    lv_backup_result res;
    memset(&res, 0, sizeof res);
    int rc = LV_OK;

    for (size_t i = 0; rc == LV_OK && i < nexf; i++)
        rc = read_exclude_file(ex_files[i], &ex_store, &nall);
    excludes = lv_xcalloc(nex + nall + 1, sizeof *excludes);
    for (size_t i = 0; i < nex; i++)
        excludes[i] = ex_flags[i];
    for (size_t i = 0, off = 0; i < nall; i++) {
        excludes[nex + i] = (const char *)ex_store.data + off;
        off += strlen(excludes[nex + i]) + 1;
    }

    o->paths = (const char *const *)ctx->argv;
    o->npaths = (size_t)ctx->argc;
    o->tags = tags;
    o->ntags = ntags;
    o->excludes = excludes;
    o->nexcludes = nex + nall;
    o->one_file_system = lv_ctx_flag(ctx, "one-file-system") != NULL;
    o->stdin_name = lv_ctx_flag(ctx, "stdin");
    o->tar = lv_ctx_flag(ctx, "from-tar");
    o->docker_volume = lv_ctx_flag(ctx, "docker-volume");
    o->progress = lv_ctx_progress(ctx);
    o->host = lv_ctx_flag(ctx, "host");
    job.pre_hook = lv_ctx_flag(ctx, "pre-hook");
    job.post_hook = lv_ctx_flag(ctx, "post-hook");
    job.stop_containers = lv_ctx_flag(ctx, "stop-containers") != NULL;
    job.compose_project = lv_ctx_flag(ctx, "compose-project");
    const char *when = lv_ctx_flag(ctx, "time");
    if (rc == LV_OK && when && lv_time_parse(when, 1, &o->time_us) != 0)
        rc = lv_err(LV_ERR_USAGE, "--time '%s': expected 'YYYY-MM-DD HH:MM:SS' (local time, or UTC with Z)", when);
    const char *volume = o->docker_volume, *project = job.compose_project;
    if (rc == LV_OK && job.stop_containers && !volume && !project)
        rc = lv_err(LV_ERR_USAGE, "--stop-containers needs --docker-volume NAME (--compose-project stops its "
                    "containers anyway)");
    if (rc == LV_OK && volume && project)
        rc = lv_err(LV_ERR_USAGE, "--docker-volume and --compose-project: give one of them");
    if (rc == LV_OK && (volume || project) && (o->stdin_name || o->tar))
        rc = lv_err(LV_ERR_USAGE, "--%s backs up directories: it does not go with --stdin or --from-tar",
                    volume ? "docker-volume" : "compose-project");
    if (rc == LV_OK && !volume && !project && !o->npaths && !o->stdin_name && !o->tar && lv_ctx_flag(ctx, "set"))
        rc = lv_err(LV_ERR_USAGE, "[set %s] names nothing to back up: give it a path, a docker-volume or a "
                    "compose-project", lv_ctx_flag(ctx, "set"));
    else if (rc == LV_OK && !volume && !project && !o->npaths && !o->stdin_name && !o->tar)
        rc = lv_err(LV_ERR_USAGE, "nothing to back up: give PATH..., --docker-volume, --compose-project, --stdin "
                    "or --from-tar");
    /* Open the repository before anything stops: a wrong passphrase must not cost an outage. */
    if (rc == LV_OK)
        rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    if (rc == LV_OK)
        rc = lv_backup_files_job(ctx->repo, &job, &res);
    if (*res.id) {
        ctx->run_bytes = res.st.bytes_stored;
        if (rc == LV_OK || rc == LV_ERR_INCOMPLETE)
            print_backup(ctx, &res, rc, &out);
    }
    if (rc == LV_OK && res.after_rc != LV_OK)
        rc = lv_err(res.after_rc, "%s", res.after_msg);
    if (rc == LV_ERR_INCOMPLETE && ctx->json && *res.id)
        leave_incomplete(ctx, &out);
    out_flush(&out);
    lv_backup_result_free(&res);
    free(tags);
    free(ex_flags);
    free(ex_files);
    free(excludes);
    lv_buf_free(&ex_store);
    lv_buf_free(&out);
    return rc;
}

/* ---- snapshots -------------------------------------------------------------------------------- */

/* What a snapshot holds, for the last column: its paths (or the stream's name) and tags, quoted. */
static void contents(const lv_snap_summary *s, lv_buf *out)
{
    lv_buf_reset(out);
    lv_buf_append_str(out, strcmp(s->source, "stdin") == 0 ? "(stdin) " : strcmp(s->source, "tar") == 0 ? "(tar) " : "");
    if (s->stdin_name[0])
        lv_quote_str(out, s->stdin_name);
    for (size_t k = 0; !s->stdin_name[0] && k < s->npaths; k++) {
        if (k)
            lv_buf_append_str(out, " ");
        lv_quote_str(out, s->paths[k]);
    }
    for (size_t k = 0; k < s->ntags; k++) {
        lv_buf_append_str(out, k ? "," : " [");
        lv_quote_str(out, s->tags[k]);
    }
    lv_buf_append_str(out, s->ntags ? "]" : "");
}

/* --host, --tag, --path: which snapshots a listing, a search or "latest" means (snapshot/summary.h). */
typedef struct cli_filter {
    lv_snap_filter f;
    const char **own[3];
} cli_filter;

static void filter_from_flags(const lv_ctx *ctx, cli_filter *c)
{
    memset(c, 0, sizeof *c);
    c->f.nhosts = lv_ctx_flag_all(ctx, "host", &c->own[0]);
    c->f.ntags = lv_ctx_flag_all(ctx, "tag", &c->own[1]);
    c->f.npaths = lv_ctx_flag_all(ctx, "path", &c->own[2]);
    c->f.hosts = c->own[0];
    c->f.tags = c->own[1];
    c->f.paths = c->own[2];
}

static void filter_free(cli_filter *c)
{
    for (int i = 0; i < 3; i++)
        free(c->own[i]);
}

int lv_cmd_snapshots(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC);
    if (rc != LV_OK)
        return rc;
    lv_snap_row *v;
    size_t n;
    if ((rc = lv_snap_list(ctx->cat, &v, &n)) != LV_OK)
        return rc;
    lv_buf out = LV_BUF_INIT, host = LV_BUF_INIT, last = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &out, ctx->json, "  ");
    static const char *const head[] = {"ID", "TIME", "HOST", "FILES", "SIZE", "PATHS [TAGS]"};
    static const int width[] = {-12, -19, -16, 8, 10, 0};
    lv_rec_list_begin(&r, head, width, sizeof head / sizeof *head);
    cli_filter cf;
    filter_from_flags(ctx, &cf);
    for (size_t i = 0; i < n; i++) {
        const lv_snap_summary *s = &v[i].s;
        if (!lv_snap_filter_match(&cf.f, s))
            continue;
        char when[LV_TIME_TEXT_MAX];
        lv_time_format(v[i].time, LV_TIME_LOCAL, when);
        lv_buf_reset(&host);
        lv_quote_str(&host, s->host);
        contents(s, &last);
        lv_rec_begin(&r);
        lv_rec_strn(&r, "id", v[i].id, 0, 12);
        lv_rec_int(&r, "time", v[i].time, LV_REC_JSON);
        lv_rec_str(&r, NULL, when, -19);
        lv_rec_str(&r, NULL, lv_buf_cstr(&host), -16);
        lv_rec_uint(&r, NULL, s->files_new + s->files_changed + s->files_unchanged, 8);
        lv_rec_size(&r, NULL, s->bytes_total, 10);
        lv_rec_str(&r, NULL, lv_buf_cstr(&last), 0);
        lv_rec_raw(&r, "summary", v[i].summary_json);
        lv_rec_end(&r);
    }
    lv_snap_list_free(v, n);
    filter_free(&cf);
    lv_rec_list_end(&r);
    out_flush(&out);
    lv_buf_free(&out);
    lv_buf_free(&host);
    lv_buf_free(&last);
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
    uint64_t count;
    const char *snapshot; /* find: the snapshot of each entry, a first column; NULL for ls */
} lsctx;

static const char *const ls_head[] = {"SNAPSHOT", "MODE", "USER", "GROUP", "SIZE", "MODIFIED", "PATH"};
static const int ls_width[] = {-12, -10, -8, -8, 12, -19, 0};

/* The header line of entries in text (ls, find); with the SNAPSHOT column or without. */
static void ls_header(const lsctx *l)
{
    if (l->ctx->json)
        return;
    lv_buf out = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &out, 0, " ");
    int first = l->snapshot ? 0 : 1;
    lv_rec_list_begin(&r, ls_head + first, ls_width + first, sizeof ls_head / sizeof *ls_head - (size_t)first);
    out_flush(&out);
    lv_buf_free(&out);
}

static int print_node(void *arg, const char *path, const lv_node *n)
{
    lsctx *l = arg;
    if (l->count == 0) /* the header over the first entry: none over an empty search */
        ls_header(l);
    lv_buf out = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &out, l->ctx->json, " ");
    /* Text: an owner without a name (no passwd/group entry when it was backed up) shows its number, and
     * every name is quoted: a newline or an escape sequence in a file name must not reach the terminal. */
    char mode[11] = "", when[32] = "", user[256], group[256];
    lv_buf tuser = LV_BUF_INIT, tgroup = LV_BUF_INIT, tpath = LV_BUF_INIT;
    snprintf(user, sizeof user, "%.*s", (int)n->user_len, n->user);
    snprintf(group, sizeof group, "%.*s", (int)n->group_len, n->group);
    if (!r.json) {
        mode_string(n, mode);
        lv_time_format(n->mtime_sec, LV_TIME_LOCAL, when);
        if (n->user_len)
            lv_quote_name(&tuser, n->user, n->user_len);
        else
            lv_buf_printf(&tuser, "%u", n->uid);
        if (n->group_len)
            lv_quote_name(&tgroup, n->group, n->group_len);
        else
            lv_buf_printf(&tgroup, "%u", n->gid);
        lv_buf_append_str(&tpath, "/");
        lv_quote_str(&tpath, path);
        if (n->type == LV_NODE_SYMLINK) {
            lv_buf_append_str(&tpath, " -> ");
            lv_quote_name(&tpath, n->target, n->target_len);
        }
    }
    lv_rec_begin(&r);
    if (l->snapshot)
        lv_rec_strn(&r, "snapshot", l->snapshot, -12, 12);
    lv_rec_str(&r, "path", path, LV_REC_JSON);
    lv_rec_str(&r, "type", lv_node_type_name(n->type), LV_REC_JSON);
    lv_rec_str(&r, NULL, mode, -10);
    lv_rec_uint(&r, "mode", n->mode, LV_REC_JSON);
    lv_rec_uint(&r, "uid", n->uid, LV_REC_JSON);
    lv_rec_uint(&r, "gid", n->gid, LV_REC_JSON);
    lv_rec_str(&r, "user", user, LV_REC_JSON);
    lv_rec_str(&r, NULL, lv_buf_cstr(&tuser), -8);
    lv_rec_str(&r, "group", group, LV_REC_JSON);
    lv_rec_str(&r, NULL, lv_buf_cstr(&tgroup), -8);
    lv_rec_uint(&r, "size", n->type == LV_NODE_FILE ? n->size : 0, 12);
    lv_rec_int(&r, "mtime", n->mtime_sec, LV_REC_JSON);
    lv_rec_uint(&r, "mtime_nsec", n->mtime_nsec, LV_REC_JSON);
    lv_rec_str(&r, NULL, when, -19);
    lv_rec_str(&r, NULL, lv_buf_cstr(&tpath), 0);
    if (n->type == LV_NODE_SYMLINK && r.json) {
        char *t = lv_xasprintf("%.*s", (int)n->target_len, n->target);
        lv_rec_str(&r, "target", t, LV_REC_JSON);
        free(t);
    }
    lv_rec_end(&r);
    if (r.json)
        lv_buf_append_str(&out, "\n");
    lv_buf_free(&tuser);
    lv_buf_free(&tgroup);
    lv_buf_free(&tpath);
    out_flush(&out);
    lv_buf_free(&out);
    l->count++;
    return LV_OK;
}

/* SNAPSHOT argument, "latest" narrowed by --host, --tag, --path. */
static int resolve(lv_ctx *ctx, const char *spec, char id[2 * LV_HASH_LEN + 1])
{
    cli_filter cf;
    filter_from_flags(ctx, &cf);
    int rc = lv_snap_resolve(ctx->cat, spec, &cf.f, id);
    filter_free(&cf);
    return rc;
}

int lv_cmd_ls(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = resolve(ctx, ctx->argv[0], id);
    lsctx l = {ctx, 0, NULL};
    if (rc == LV_OK)
        rc = lv_snap_ls(ctx->repo, id, ctx->argc > 1 ? ctx->argv[1] : "", print_node, &l);
    return rc;
}

/* ---- find ------------------------------------------------------------------------------------- */

static int print_found(void *arg, const char *path, const lv_node *n)
{
    return print_node(arg, path + 1, n); /* print_node takes the path below the root */
}

int lv_cmd_find(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_SYNC | LV_CTX_INFLIGHT);
    if (rc != LV_OK)
        return rc;
    /* The snapshots to search: those named by --snapshot, else every one the filter allows, newest first
     * (what a user looking for a lost file wants to see first). */
    const char **named = NULL;
    size_t nnamed = lv_ctx_flag_all(ctx, "snapshot", &named);
    char (*ids)[2 * LV_HASH_LEN + 1] = NULL;
    size_t nids = 0;
    if (nnamed) {
        ids = lv_xcalloc(nnamed, sizeof *ids);
        for (; rc == LV_OK && nids < nnamed; nids++)
            rc = resolve(ctx, named[nids], ids[nids]);
    } else {
        lv_snap_row *v;
        size_t n;
        cli_filter cf;
        filter_from_flags(ctx, &cf);
        if ((rc = lv_snap_list(ctx->cat, &v, &n)) == LV_OK) {
            ids = lv_xcalloc(n + 1, sizeof *ids);
            for (size_t i = n; i > 0; i--)
                if (lv_snap_filter_match(&cf.f, &v[i - 1].s))
                    memcpy(ids[nids++], v[i - 1].id, sizeof *ids);
            lv_snap_list_free(v, n);
        }
        filter_free(&cf);
    }
    free(named);
    lsctx l = {ctx, 0, NULL};
    for (size_t i = 0; rc == LV_OK && i < nids; i++) {
        l.snapshot = ids[i];
        rc = lv_snap_find(ctx->repo, ids[i], (const char *const *)ctx->argv, (size_t)ctx->argc, print_found, &l);
    }
    free(ids);
    if (rc == LV_OK && l.count == 0)
        rc = lv_err(LV_ERR_NOT_FOUND, "no entry matches in %zu snapshot%s", nids, nids == 1 ? "" : "s");
    return rc;
}

/* ---- dump ------------------------------------------------------------------------------------- */

int lv_cmd_dump(lv_ctx *ctx)
{
    if (ctx->json)
        return lv_err(LV_ERR_USAGE, "dump writes the file to standard output: --json does not apply");
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = resolve(ctx, ctx->argv[0], id);
    int is_dir = 0;
    uint64_t written = 0;
    if (rc == LV_OK) {
        fflush(stdout);
        rc = lv_dump(ctx->repo, id, ctx->argv[1], STDOUT_FILENO, &is_dir, &written);
    }
    if (rc == LV_OK && is_dir) { /* a directory: as a tar stream, like restic dump */
        const char *inc[] = {ctx->argv[1]};
        lv_restore_opts o;
        memset(&o, 0, sizeof o);
        o.snapshot = id;
        o.target = "-";
        o.includes = inc;
        o.nincludes = strcmp(ctx->argv[1], "/") == 0 || !*ctx->argv[1] ? 0 : 1;
        lv_restore_stats st;
        rc = lv_restore_tar(ctx->repo, &o, &st);
        written = st.bytes;
    }
    ctx->run_bytes = written;
    return rc;
}

/* ---- diff ------------------------------------------------------------------------------------- */

static int diff_line(void *arg, char what, const char *path, const lv_node *n)
{
    lv_ctx *ctx = arg;
    lv_buf out = LV_BUF_INIT;
    if (ctx->json) {
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
    return LV_OK;
}

int lv_cmd_diff(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, LV_CTX_INFLIGHT);
    char id1[2 * LV_HASH_LEN + 1], id2[2 * LV_HASH_LEN + 1];
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[0], NULL, id1);
    if (rc == LV_OK)
        rc = lv_snap_resolve(ctx->cat, ctx->argv[1], NULL, id2);
    lv_snap_diff_stats d;
    if (rc == LV_OK)
        rc = lv_snap_diff(ctx->repo, id1, id2, diff_line, ctx, &d);
    if (rc == LV_OK && !ctx->json)
        lv_out("%llu added, %llu removed, %llu modified, %llu metadata only, %llu changed type\n",
               (unsigned long long)d.added, (unsigned long long)d.removed, (unsigned long long)d.modified,
               (unsigned long long)d.meta, (unsigned long long)d.type);
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
        rc = resolve(ctx, ctx->argv[0], id);
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
    /* Ctrl-C or a TERM stops the run at the next file or chunk: cleanup (restarting containers, the post
     * hook, removing incomplete restored files) still happens. */
    lv_interrupt_catch();
    rc = to ? lv_restore_dir(ctx->repo, &o, &st) : lv_restore_tar(ctx->repo, &o, &st);
    lv_interrupt_release();
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
