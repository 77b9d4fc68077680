/* Entry point: parse the command line, build the configuration, run the command, map its error to the
 * exit code and print the one-line message. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tmpfile.h"

/* Global switches that take no value. */
static int is_global_switch(const char *name)
{
    static const char *const sw[] = {"json", "help", "verbose", "progress", "no-progress", NULL};
    for (int i = 0; sw[i]; i++)
        if (strcmp(name, sw[i]) == 0)
            return 1;
    return 0;
}

/* Old spellings still accepted: one spelling per option across commands, the configuration's. */
static const char *canonical_name(const char *name)
{
    static const char *const alias[][2] = {{"pgdata", "pg-data"}, {NULL, NULL}};
    for (int i = 0; alias[i][0]; i++)
        if (strcmp(name, alias[i][0]) == 0)
            return alias[i][1];
    return name;
}

/* -v, -vv (and -h): the short switches. */
static int short_verbosity(const char *arg)
{
    if (strcmp(arg, "-v") == 0)
        return 1;
    if (strcmp(arg, "-vv") == 0)
        return 2;
    return 0;
}

static const lv_flag *find_flag(const lv_cmd *cmd, const char *name)
{
    if (!cmd)
        return NULL;
    for (const lv_flag *f = cmd->flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* Does --name consume the next word? Before the command is known, a switch of any command counts. An
 * unknown name takes nothing, so that it is reported as unknown rather than as missing its value. */
static int takes_value(const lv_cmd *cmd, const char *name)
{
    name = canonical_name(name);
    if (is_global_switch(name))
        return 0;
    if (strcmp(name, "config") == 0 || lv_opt_find(name))
        return 1;
    if (cmd) {
        const lv_flag *f = find_flag(cmd, name);
        return f ? f->arg != NULL && f->arg[0] != '[' : 0;
    }
    for (const lv_cmd *c = lv_commands; c->name; c++) {
        const lv_flag *f = find_flag(c, name);
        if (f)
            return f->arg != NULL && f->arg[0] != '[';
    }
    return 0;
}

/* Collect the positional words (not flags nor their values). */
static int positionals(int argc, char **argv, const lv_cmd *cmd, char **out)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (++i < argc)
                out[n++] = argv[i];
            break;
        }
        if (strncmp(argv[i], "--", 2) == 0) {
            if (!strchr(argv[i], '=') && takes_value(cmd, argv[i] + 2))
                i++;
            continue;
        }
        if (strcmp(argv[i], "-h") == 0 || short_verbosity(argv[i]))
            continue;
        out[n++] = argv[i];
    }
    return n;
}

static void print_error(const lv_ctx *ctx, int code)
{
    fprintf(stderr, "labvault: %s\n", lv_errmsg());
    if (ctx->json) {
        lv_buf b = LV_BUF_INIT;
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        lv_json_key(&j, "error");
        lv_json_obj(&j);
        lv_json_key(&j, "code");
        lv_json_int(&j, code);
        lv_json_key(&j, "kind");
        lv_json_str(&j, lv_code_name(code));
        lv_json_key(&j, "message");
        lv_json_str(&j, lv_errmsg());
        lv_json_end(&j);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
        lv_out_buf(&b);
        lv_buf_free(&b);
    }
}

static int run(int argc, char **argv, lv_ctx *ctx)
{
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return lv_err(LV_ERR_INTERNAL, "out of memory");
    int npos = positionals(argc, argv, NULL, pos);
    int words = 0;
    const lv_cmd *cmd = lv_find_command(npos, pos, &words);
    int want_help = 0, verbose = 0, rc = LV_OK, group_words = 0;
    double ran = -1; /* seconds the command ran; -1 when it did not */
    const char *config_path = NULL;

    ctx->flag_names = calloc((size_t)argc, sizeof *ctx->flag_names);
    ctx->flag_values = calloc((size_t)argc, sizeof *ctx->flag_values);
    ctx->cfg = lv_config_new();
    if (!ctx->flag_names || !ctx->flag_values) {
        rc = lv_err(LV_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (cmd) /* re-split now that the command's own switches are known */
        npos = positionals(argc, argv, cmd, pos);

    /* Pass 1: global flags and command flags; configuration options are applied after file + env. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0) {
            want_help = 1;
            continue;
        }
        if (short_verbosity(argv[i])) {
            verbose = short_verbosity(argv[i]);
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '-' && argv[i][1]) {
            rc = lv_err(LV_ERR_USAGE, "unknown option %s", argv[i]);
            goto out;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        const char *eq = strchr(argv[i] + 2, '='), *value = NULL;
        char namebuf[128];
        snprintf(namebuf, sizeof namebuf, "%.*s", eq ? (int)(eq - argv[i] - 2) : (int)strlen(argv[i] + 2), argv[i] + 2);
        if (eq)
            value = eq + 1;
        const char *name = canonical_name(namebuf);
        if (!eq && takes_value(cmd, name)) {
            if (i + 1 >= argc) {
                rc = lv_err(LV_ERR_USAGE, "option --%s needs a value", name);
                goto out;
            }
            value = argv[++i];
        }
        if (strcmp(name, "help") == 0)
            want_help = 1;
        else if (strcmp(name, "json") == 0)
            ctx->json = 1;
        else if (strcmp(name, "verbose") == 0)
            verbose = verbose > 1 ? verbose : 1;
        else if (strcmp(name, "progress") == 0 || strcmp(name, "no-progress") == 0)
            ctx->progress = name[0] == 'p' ? 1 : 0;
        else if (strcmp(name, "config") == 0)
            config_path = value;
        else if (lv_opt_find(name))
            continue; /* pass 2 */
        else if (find_flag(cmd, name)) {
            ctx->flag_names[ctx->nflags] = find_flag(cmd, name)->name; /* static: namebuf is not */
            ctx->flag_values[ctx->nflags++] = value ? value : "";
        } else {
            rc = lv_err(LV_ERR_USAGE, "unknown option --%s%s%s", name, cmd ? " for " : "",
                        cmd ? cmd->name : "");
            goto out;
        }
    }

    if (!cmd) {
        group_words = lv_find_group(npos, pos);
        if (group_words > 0 && group_words == npos) {
            /* `labvault backup --help`: the subcommands of the group; `labvault backup`: name them */
            if (want_help)
                lv_print_group_help(group_words, pos);
            else
                rc = lv_err(LV_ERR_USAGE, "'%s' needs a subcommand: %s (`labvault help %s`)",
                            lv_group_name(group_words, pos), lv_group_subcommands(group_words, pos),
                            lv_group_name(group_words, pos));
        } else if (npos == 0 || want_help) {
            lv_print_usage();
            rc = npos == 0 && !want_help ? lv_err(LV_ERR_USAGE, "no command given") : LV_OK;
        } else if (group_words > 0)
            rc = lv_err(LV_ERR_USAGE, "unknown command '%s %s'; `labvault help %s` lists its subcommands",
                        lv_group_name(group_words, pos), pos[group_words], lv_group_name(group_words, pos));
        else
            rc = lv_err(LV_ERR_USAGE, "unknown command '%s'; `labvault --help` lists the commands", pos[0]);
        goto out;
    }
    if (want_help) {
        lv_print_command_help(cmd);
        goto out;
    }
    ctx->cmd = cmd;
    ctx->argc = npos - words;
    ctx->argv = pos + words;
    if (ctx->argc < cmd->min_args || ctx->argc > cmd->max_args) {
        rc = lv_err(LV_ERR_USAGE, "usage: labvault %s%s%s (see `labvault help %s`)", cmd->name,
                    *cmd->args ? " " : "", cmd->args, cmd->name);
        goto out;
    }

    /* Configuration: file, then environment, then flags. */
    if (!config_path)
        config_path = getenv("LABVAULT_CONFIG");
    if (config_path && *config_path)
        rc = lv_config_load_file(ctx->cfg, config_path, 1);
    else
        rc = lv_config_load_file(ctx->cfg, "/etc/labvault/labvault.conf", 0);
    if (rc == LV_OK)
        rc = lv_config_load_env(ctx->cfg);
    for (int i = 1; rc == LV_OK && i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        const char *name = argv[i] + 2, *value = NULL;
        char namebuf[128];
        const char *eq = strchr(name, '=');
        if (eq) {
            snprintf(namebuf, sizeof namebuf, "%.*s", (int)(eq - name), name);
            name = namebuf;
            value = eq + 1;
        } else if (takes_value(cmd, name) && i + 1 < argc)
            value = argv[++i];
        name = canonical_name(name);
        if (lv_opt_find(name))
            rc = lv_config_set_flag(ctx->cfg, name, value);
    }
    if (rc != LV_OK)
        goto out;
    lv_log_set_level((lv_log_level)lv_log_parse_level(lv_config_str(ctx->cfg, "log-level")));
    /* -v: what the command does, step by step (info); -vv: and why (debug); never quieter than asked */
    if (verbose && (int)lv_log_get_level() < LV_LOG_WARN + verbose)
        lv_log_set_level((lv_log_level)(LV_LOG_WARN + verbose));

    double t0 = lv_mono_s();
    rc = cmd->run(ctx);
    ran = lv_mono_s() - t0;
out:
    if (rc != LV_OK && rc != LV_ERR_USAGE && !(rc > 0 && rc <= LV_ERR_MAX))
        rc = LV_ERR_INTERNAL;
    if (rc != LV_OK)
        print_error(ctx, rc);
    if (ran >= 0) /* after the error line: the metrics' own work must not disturb its message */
        lv_ctx_metrics(ctx, rc, ran);
    free(pos);
    /* restore_command: PostgreSQL reads exit 1-125 as "file absent" and may end recovery early. Every
     * failure of `wal fetch` but "absent", including one before it ran (bad flags, bad configuration),
     * is uncertain: report it above 125 so recovery stops. */
    if (cmd && strcmp(cmd->name, "wal fetch") == 0 && rc != LV_OK && rc != LV_ERR_NOT_FOUND && rc < 126)
        rc = 128 + rc;
    return rc;
}

int main(int argc, char **argv)
{
    /* A closed pipe (labvault ... | head) must not kill us mid-write of a repository object. */
    signal(SIGPIPE, SIG_IGN);
    /* INT/TERM/HUP/QUIT remove our temporary files before we die of them (common/tmpfile.h). */
    lv_tmp_on_fatal_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lv_register_modules();
    lv_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.progress = -1;
    int rc = run(argc, argv, &ctx);
    lv_ctx_close(&ctx);
    lv_config_free(ctx.cfg);
    free(ctx.flag_names);
    free(ctx.flag_values);
    curl_global_cleanup();
    fflush(stdout);
    return rc;
}
