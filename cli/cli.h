/* The command line: the command table, the parsed invocation, and helpers every command uses.
 *
 * labvault [OPTIONS] COMMAND [SUBCOMMAND] [ARGS] [OPTIONS]
 * OPTIONS are the global ones (--config, --json, --log-level, --help), every configuration option as
 * --name VALUE (config/options.c), and the command's own flags. A command's run() returns an lv_code;
 * main() prints the one-line error and exits with that code (docs/exit-codes.md). */
#ifndef LV_CLI_CLI_H
#define LV_CLI_CLI_H

#include "cli/record.h"
#include "common/buf.h"
#include "common/text.h"
#include "config/config.h"
#include "catalog/catalog.h"
#include "maint/rebuild.h"
#include "repo/repo.h"
#include "store/store.h"

typedef struct lv_flag {
    const char *name;     /* without the leading "--" */
    const char *arg;      /* placeholder of its value ("FILE"); NULL for a switch; "[=X]" for a switch
                             that takes an optional value, given only as --name=X */
    const char *help;
} lv_flag;

typedef struct lv_ctx lv_ctx;

typedef struct lv_cmd {
    const char *name;     /* "repo init" */
    const char *args;     /* positional arguments for the usage line, "" if none */
    int min_args, max_args;
    const char *summary;  /* one line for `labvault --help` */
    const char *help;     /* paragraphs for `labvault help COMMAND` */
    const lv_flag *flags; /* terminated by {NULL} */
    int (*run)(lv_ctx *ctx);
} lv_cmd;

struct lv_ctx {
    const lv_cmd *cmd;
    lv_config *cfg;
    int json;
    int argc;             /* positional arguments after the command words */
    char **argv;
    /* parsed command flags */
    const char **flag_names;
    const char **flag_values; /* "" for a switch */
    int nflags;
    /* opened on demand by lv_ctx_open_repo, closed by lv_ctx_close */
    lv_store *store;
    lv_repo *repo;
    lv_catalog *cat;
    char *passphrase;
    struct lv_lock *inflight; /* this command's in-flight marker (LV_CTX_INFLIGHT) */
    char **argv_owned;        /* argv after lv_ctx_expand_set (freed by lv_ctx_close) */
    uint64_t run_bytes;       /* what the command stored or deleted, for the metrics (lv_ctx_metrics) */
    char *set_tag;
    int store_deadline_s; /* set before lv_ctx_open_store: lv_store_opts.deadline_s (0 = none) */
    int progress;         /* --progress 1, --no-progress 0, neither -1 (lv_ctx_progress decides) */
};

extern const lv_cmd lv_commands[];

/* The value of a command flag, "" for a given switch, NULL when absent. */
const char *lv_ctx_flag(const lv_ctx *ctx, const char *name);
/* Every value of a repeatable flag, in order: *out (malloc'ed, NULL-terminated; free it) and the count. */
size_t lv_ctx_flag_all(const lv_ctx *ctx, const char *name, const char ***out);
/* `--set NAME` (backup files): the [set NAME] of the configuration (config/config.h) as if its keys had
 * been given as flags and its paths as arguments, after those given on the command line; adds the tag
 * "set:NAME". LV_ERR_USAGE when the configuration has no such set. */
int lv_ctx_expand_set(lv_ctx *ctx);

/* Show a progress line on stderr? --progress or --no-progress when given; otherwise on a terminal,
 * unless --json or -v (log lines would break the line). */
int lv_ctx_progress(const lv_ctx *ctx);

/* Open the store named by the configuration (no repository access yet). */
int lv_ctx_open_store(lv_ctx *ctx);
/* Resolve the credential: key-file option, LABVAULT_PASSPHRASE, passphrase-file option, or a prompt
 * when stdin is a terminal (confirm = ask twice). The strings stay valid until lv_ctx_close. */
int lv_ctx_credential(lv_ctx *ctx, int confirm, lv_credential *cred);
/* What lv_ctx_open_repo opens besides store and repository (each includes the ones before it):
 *   LV_CTX_CATALOG   the catalog, attached as repo->cat;
 *   LV_CTX_SYNC      and bring it up to date with the repository (maint/sync.h: other hosts'
 *                    backups, objects prune or forget removed);
 *   LV_CTX_INFLIGHT  and, before that sync, announce the command with an in-flight marker (repo/lock.h)
 *                    that prune respects; for every command that writes or reads blobs. */
enum { LV_CTX_CATALOG = 1, LV_CTX_SYNC = 3, LV_CTX_INFLIGHT = 7 };
/* Open store, repository and what `what` asks for (0: neither catalog nor sync). A catalog file that did
 * not exist yet is filled from the repository first (lv_ctx_rebuild_catalog), with a warning. */
int lv_ctx_open_repo(lv_ctx *ctx, int what);
/* Refill ctx->cat from the repository and bind it to it; LV_ERR_INCOMPLETE when packs were missing (what
 * is there is recorded). */
int lv_ctx_rebuild_catalog(lv_ctx *ctx, lv_rebuild_stats *st);
void lv_ctx_close(lv_ctx *ctx);

/* Write to stdout. */
void lv_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lv_out_buf(const lv_buf *b);
/* The --json result of a command that committed something: its summary object (JSON text starting
 * with '{') with "id" and, when rc is not LV_OK (committed but incomplete), "error" in front. */
void lv_result_json(lv_buf *out, const char *id, int rc, const char *summary_json);

/* Read a secret from a file (first line, without the newline) or from the terminal. A missing file or an
 * empty first line is bad_code (LV_ERR_CONFIG for a setting, LV_ERR_USAGE for a flag), with origin (where
 * the path was set, or NULL) in the message; an unreadable one is LV_ERR_IO. */
int lv_read_secret_file(const char *path, int bad_code, const char *origin, char **out);
int lv_prompt_secret(const char *prompt, char **out);

/* Commands */
int lv_cmd_version(lv_ctx *ctx);
int lv_cmd_help(lv_ctx *ctx);
int lv_cmd_config_show(lv_ctx *ctx);
int lv_cmd_repo_init(lv_ctx *ctx);
int lv_cmd_repo_check(lv_ctx *ctx);
int lv_cmd_repo_key_add(lv_ctx *ctx);
int lv_cmd_repo_key_list(lv_ctx *ctx);
int lv_cmd_repo_key_remove(lv_ctx *ctx);
int lv_cmd_repo_unlock(lv_ctx *ctx);
int lv_cmd_catalog_rebuild(lv_ctx *ctx);
/* WAL archive (cli/cmd_wal.c) */
int lv_cmd_stanza_create(lv_ctx *ctx);
int lv_cmd_wal_push(lv_ctx *ctx);
int lv_cmd_wal_fetch(lv_ctx *ctx);
int lv_cmd_wal_status(lv_ctx *ctx);
int lv_cmd_wal_list(lv_ctx *ctx);
int lv_cmd_wal_drops(lv_ctx *ctx); /* cli/cmd_wal_drops.c */
int lv_cmd_wal_changes(lv_ctx *ctx); /* cli/cmd_wal_changes.c */
int lv_cmd_check(lv_ctx *ctx);
/* File snapshots (cli/cmd_files.c) */
int lv_cmd_backup_files(lv_ctx *ctx);
int lv_cmd_snapshots(lv_ctx *ctx);
int lv_cmd_ls(lv_ctx *ctx);
int lv_cmd_diff(lv_ctx *ctx);
int lv_cmd_restore_files(lv_ctx *ctx);
int lv_cmd_find(lv_ctx *ctx);
int lv_cmd_dump(lv_ctx *ctx);
/* PostgreSQL backups (cli/cmd_backup_pg.c, cli/cmd_restore_pg.c) */
int lv_cmd_backup_pg(lv_ctx *ctx);
int lv_cmd_restore_pg(lv_ctx *ctx);
int lv_cmd_backups(lv_ctx *ctx);
/* Restore drills (cli/cmd_drill.c) */
int lv_cmd_drill_run(lv_ctx *ctx);
int lv_cmd_drill_history(lv_ctx *ctx);
/* The drill options that come from the configuration ([drill], pg-bin, the configuration file). */
typedef struct lv_drill_opts lv_drill_opts;
void lv_cli_drill_opts(const lv_ctx *ctx, lv_drill_opts *o);
int lv_cmd_drill_report(lv_ctx *ctx);

int lv_cmd_forget(lv_ctx *ctx); /* cli/cmd_retention.c */
int lv_cmd_prune(lv_ctx *ctx);
int lv_cmd_repo_stats(lv_ctx *ctx);
int lv_cmd_stanza_delete(lv_ctx *ctx);
int lv_cmd_status(lv_ctx *ctx); /* cli/cmd_status.c */
/* After a command that changes state (status/metrics.h lv_metrics_commands) when metrics-file is set:
 * record its run and write the Prometheus textfile; never fails the command (a warning). */
void lv_ctx_metrics(lv_ctx *ctx, int exit_code, double seconds);

/* Register every module's manifest kinds and catalog-rebuild steps (cli/register.c); main() calls it
 * once, before anything else runs. */
void lv_register_modules(void);

/* Help text printers (cli/help.c). */
void lv_print_usage(void);
void lv_print_command_help(const lv_cmd *cmd);
const lv_cmd *lv_find_command(int argc, char **argv, int *words);
/* Groups of commands ("backup", "repo key"): how many leading words name a group (0: none), its name
 * (static buffer), and the list of its subcommands. */
int lv_find_group(int argc, char **argv);
const char *lv_group_name(int words, char **argv);
const char *lv_group_subcommands(int words, char **argv); /* "files, pg" (static buffer) */
void lv_print_group_help(int words, char **argv);

#endif
