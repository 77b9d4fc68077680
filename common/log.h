/* Logging to stderr, filtered by level (--log-level / LABVAULT_LOG_LEVEL / [global] log-level).
 * Contract: never pass a secret to these functions; configuration values marked secret are only ever
 * printed through config_show, which masks them. Thread-safe: one write(2) per line. A message is
 * always one line: newlines and tabs become spaces, other control characters "?" (common/error.h does the
 * same for error messages). */
#ifndef LV_COMMON_LOG_H
#define LV_COMMON_LOG_H

typedef enum lv_log_level {
    LV_LOG_ERROR = 0,
    LV_LOG_WARN = 1,
    LV_LOG_INFO = 2,
    LV_LOG_DEBUG = 3,
    LV_LOG_TRACE = 4
} lv_log_level;

void lv_log_set_level(lv_log_level level);
lv_log_level lv_log_get_level(void);
/* Parse "error|warn|info|debug|trace"; returns -1 when unknown. */
int lv_log_parse_level(const char *s);
void lv_log(lv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lv_error(...) lv_log(LV_LOG_ERROR, __VA_ARGS__)
#define lv_warn(...) lv_log(LV_LOG_WARN, __VA_ARGS__)
#define lv_info(...) lv_log(LV_LOG_INFO, __VA_ARGS__)
#define lv_debug(...) lv_log(LV_LOG_DEBUG, __VA_ARGS__)

#endif
