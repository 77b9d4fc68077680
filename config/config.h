/* Effective configuration: defaults, then the INI file, then environment variables, then flags.
 * Later sources win. Every option is declared once in config/options.c with its section, key, type,
 * environment variable(s), default and whether it is secret.
 *
 * INI syntax: "[section]" lines, "key = value" lines, "#" or ";" comments, blank lines. In section
 * [global] the option name is the key ("repo"); in other sections it is "section-key" ([s3] endpoint
 * is the option s3-endpoint, flag --s3-endpoint, variable LABVAULT_S3_ENDPOINT).
 *
 * Errors (LV_ERR_CONFIG) name the source precisely: "FILE:LINE: unknown key 'x' in [s3]",
 * "FILE:LINE: s3-verify-tls: 'maybe' is not a boolean", "environment LABVAULT_PACK_SIZE: ...".
 * Secret options (keys, passwords) are accepted from the file and the environment but never as flags,
 * and config_show masks them. */
#ifndef LV_CONFIG_CONFIG_H
#define LV_CONFIG_CONFIG_H

#include <stdint.h>

#include "common/buf.h"

typedef enum lv_opt_type {
    LV_OPT_STRING,
    LV_OPT_PATH,
    LV_OPT_INT,   /* decimal, within [min, max] */
    LV_OPT_SIZE,  /* bytes with optional K/M/G/T suffix (binary), within [min, max] */
    LV_OPT_BOOL,  /* true/false, yes/no, on/off, 1/0 */
    LV_OPT_ENUM   /* one of the '|'-separated choices */
} lv_opt_type;

typedef struct lv_opt_def {
    const char *section;
    const char *key;
    const char *env;      /* LABVAULT_* variable, or NULL */
    const char *alt_env;  /* a standard variable read when env is unset (AWS_*), or NULL */
    lv_opt_type type;
    int secret;
    const char *def;      /* default as text, or NULL for unset */
    const char *choices;  /* LV_OPT_ENUM: "a|b|c" */
    int64_t min, max;     /* LV_OPT_INT / LV_OPT_SIZE bounds */
    const char *help;
} lv_opt_def;

typedef struct lv_config lv_config;

/* The option table (NULL-terminated by a zero entry) and lookups by full name ("s3-endpoint"). */
extern const lv_opt_def lv_options[];
const lv_opt_def *lv_opt_find(const char *name);
/* Full option name of a definition into buf ("repo", "s3-endpoint"). */
const char *lv_opt_name(const lv_opt_def *d, char *buf, size_t n);

lv_config *lv_config_new(void);
void lv_config_free(lv_config *c);

/* Load a file. required = 0: a missing file is fine (the default path). */
int lv_config_load_file(lv_config *c, const char *path, int required);
/* Apply LABVAULT_* and the standard variables. */
int lv_config_load_env(lv_config *c);
/* Apply a flag value (--name value). Refuses secret options. */
int lv_config_set_flag(lv_config *c, const char *name, const char *value);

/* Typed accessors; the value was validated when it was set, so these cannot fail. NULL / 0 if unset. */
const char *lv_config_str(const lv_config *c, const char *name);
int64_t lv_config_int(const lv_config *c, const char *name);
int lv_config_bool(const lv_config *c, const char *name);
/* Where the value came from: "default", "FILE:LINE", "environment VAR", "flag --name". */
const char *lv_config_source(const lv_config *c, const char *name);
/* The code for a value that turns out to be bad when used (a key file that does not exist): LV_ERR_USAGE
 * when it was given as a flag (a bad command line), LV_ERR_CONFIG otherwise (docs/exit-codes.md). */
int lv_config_bad_value_code(const lv_config *c, const char *name);
/* The file that was loaded, or NULL. */
const char *lv_config_file(const lv_config *c);

/* Parse values with the option's rules (also used for flags of commands). */
int lv_parse_size(const char *s, int64_t *out);
int lv_parse_bool(const char *s, int *out);

/* Human table or JSON object of every option: name, value (secrets masked), source. */
void lv_config_show(const lv_config *c, int json, lv_buf *out);

/* Backup sets: `[set NAME]` sections (NAME: letters, digits, '.', '_', '-'; at most 64), each a named
 * `backup files` job, so that a timer runs `labvault backup files --set NAME` with no other argument.
 * Keys, each repeatable where a flag is (values are added in order):
 *   path = PATH            what to back up (repeatable)
 *   exclude = PATTERN      as --exclude (repeatable)
 *   tag = TAG              as --tag (repeatable)
 *   docker-volume = NAME   as --docker-volume
 *   compose-project = NAME as --compose-project
 *   stop-containers, one-file-system = BOOL
 *   pre-hook, post-hook = COMMAND
 * An unknown key, a bad name or a bad boolean is LV_ERR_CONFIG naming FILE:LINE. The set's tags always
 * include "set:NAME", so snapshots of a set can be found and forgotten as a group. */
extern const char *const lv_set_keys[];
int lv_config_set_exists(const lv_config *c, const char *set);
/* Every value of key in set, in order: *out (malloc'ed, NULL-terminated; free it) and their number. */
size_t lv_config_set_values(const lv_config *c, const char *set, const char *key, const char ***out);
/* The names of every set, in file order (malloc'ed, NULL-terminated). */
size_t lv_config_sets(const lv_config *c, const char ***out);

#endif
