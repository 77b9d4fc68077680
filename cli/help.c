#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

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
           "  --help               help for labvault or for the command\n"
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
    printf("\nGlobal options: --config FILE, --json, --log-level LEVEL, --help, and every configuration "
           "option as --OPTION VALUE (see `labvault config show`).\n");
}

int lv_cmd_help(lv_ctx *ctx)
{
    if (ctx->argc == 0) {
        lv_print_usage();
        return 0;
    }
    int words;
    const lv_cmd *c = lv_find_command(ctx->argc, ctx->argv, &words);
    if (!c || words != ctx->argc) {
        fprintf(stderr, "labvault: unknown command '%s'; `labvault --help` lists the commands\n", ctx->argv[0]);
        return 2;
    }
    lv_print_command_help(c);
    return 0;
}
