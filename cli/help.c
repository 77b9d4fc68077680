#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"

const lv_cmd *lv_find_command(int argc, char **argv, int *words)
{
    /* Longest match of the leading positional words against command names ("repo key add"). */
    const lv_cmd *best = NULL;
    int best_words = 0;
    for (const lv_cmd *c = lv_commands; c->name; c++) {
        int w = 0;
        const char *p = c->name;
        while (*p && w < argc) {
            size_t len = strcspn(p, " ");
            if (strlen(argv[w]) != len || strncmp(argv[w], p, len) != 0)
                break;
            w++;
            p += len;
            if (*p == ' ')
                p++;
            else if (*p == '\0' && w > best_words) {
                best = c;
                best_words = w;
            }
        }
    }
    *words = best_words;
    return best;
}

/* Is words[0..w) the start of a command name ("backup", "repo key") but no command itself? */
static int group_prefix(int w, char **words)
{
    for (const lv_cmd *c = lv_commands; c->name; c++) {
        const char *p = c->name;
        int i = 0;
        for (; i < w; i++) {
            size_t len = strlen(words[i]);
            if (strncmp(p, words[i], len) != 0 || p[len] != ' ')
                break;
            p += len + 1;
        }
        if (i == w)
            return 1;
    }
    return 0;
}

int lv_find_group(int argc, char **argv)
{
    int w = 0;
    while (w < argc && group_prefix(w + 1, argv))
        w++;
    return w;
}

const char *lv_group_name(int words, char **argv)
{
    static char name[128];
    name[0] = '\0';
    for (int i = 0; i < words; i++)
        snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s", i ? " " : "", argv[i]);
    return name;
}

const char *lv_group_subcommands(int words, char **argv)
{
    static char list[512];
    char g[128];
    snprintf(g, sizeof g, "%s", lv_group_name(words, argv));
    size_t glen = strlen(g);
    list[0] = '\0';
    for (const lv_cmd *c = lv_commands; c->name; c++)
        if (strncmp(c->name, g, glen) == 0 && c->name[glen] == ' ')
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "", c->name + glen + 1);
    return list;
}

void lv_print_group_help(int words, char **argv)
{
    const char *g = lv_group_name(words, argv);
    size_t glen = strlen(g);
    printf("Usage: labvault %s SUBCOMMAND [ARGS] [OPTIONS]\n\nSubcommands:\n", g);
    for (const lv_cmd *c = lv_commands; c->name; c++)
        if (strncmp(c->name, g, glen) == 0 && c->name[glen] == ' ')
            printf("  %-20s %s\n", c->name, c->summary);
    printf("\n`labvault help %s SUBCOMMAND` shows its options.\n", g);
}

static void wrap(const char *text, int indent)
{
    int col = indent;
    printf("%*s", indent, "");
    while (*text) {
        while (*text == ' ')
            text++;
        size_t len = strcspn(text, " ");
        if (len == 0)
            break;
        if (col > indent && col + 1 + (int)len > 100) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)len, text);
        col += (int)len;
        text += len;
    }
    putchar('\n');
}

void lv_print_usage(void)
{
    printf("labvault %s: backup and disaster recovery for PostgreSQL and files\n\n", LV_VERSION);
    printf("Usage: labvault [OPTIONS] COMMAND [ARGS] [OPTIONS]\n\nCommands:\n");
    for (const lv_cmd *c = lv_commands; c->name; c++)
        printf("  %-20s %s\n", c->name, c->summary);
    printf("\nGlobal options:\n"
           "  --config FILE        configuration file (default /etc/labvault/labvault.conf, or "
           "LABVAULT_CONFIG)\n"
           "  --json               machine-readable output on stdout\n"
           "  --log-level LEVEL    error, warn, info, debug or trace (logs go to stderr)\n"
           "  --help, -h           help for labvault, a group of commands (labvault help repo) or a command\n"
           "  -v, --verbose        say what the command does, step by step (-vv: and why)\n"
           "  --progress, --no-progress   a progress line on stderr (default: on a terminal)\n"
           "  --OPTION VALUE       any configuration option; see `labvault config show`\n\n"
           "`labvault help COMMAND` shows a command's options. Exit codes: docs/exit-codes.md.\n");
}

void lv_print_command_help(const lv_cmd *cmd)
{
    printf("Usage: labvault %s%s%s [OPTIONS]\n\n", cmd->name, *cmd->args ? " " : "", cmd->args);
    wrap(cmd->summary, 2);
    if (*cmd->help) {
        putchar('\n');
        wrap(cmd->help, 2);
    }
    if (cmd->flags[0].name) {
        printf("\nOptions:\n");
        for (const lv_flag *f = cmd->flags; f->name; f++) {
            char left[64];
            const char *sep = f->arg && f->arg[0] != '[' ? " " : "";
            snprintf(left, sizeof left, "--%s%s%s", f->name, sep, f->arg ? f->arg : "");
            printf("  %-28s %s\n", left, f->help);
        }
    }
    printf("\nGlobal options: --config FILE, --json, --log-level LEVEL, -v/--verbose, --progress/--no-progress, "
           "--help, and every configuration option as --OPTION VALUE (see `labvault config show`).\n");
}

int lv_cmd_help(lv_ctx *ctx)
{
    if (ctx->argc == 0) {
        lv_print_usage();
        return 0;
    }
    int words;
    const lv_cmd *c = lv_find_command(ctx->argc, ctx->argv, &words);
    if (c && words == ctx->argc) {
        lv_print_command_help(c);
        return LV_OK;
    }
    int g = lv_find_group(ctx->argc, ctx->argv);
    if (g == ctx->argc) {
        lv_print_group_help(g, ctx->argv);
        return LV_OK;
    }
    return lv_err(LV_ERR_USAGE, "unknown command '%s'; `labvault --help` lists the commands",
                  lv_group_name(ctx->argc, ctx->argv));
}
