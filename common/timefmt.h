/* Times and durations as people write and read them: one module for every command's time formats.
 *
 * Formats (lv_time_format):
 *   LV_TIME_LOCAL   "YYYY-MM-DD HH:MM:SS" in the local time zone (TZ): listings for people;
 *   LV_TIME_UTC     "YYYY-MM-DDTHH:MM:SSZ": logs, records, anything compared across hosts;
 *   LV_TIME_SQL     "YYYY-MM-DD HH:MM:SS+00": UTC as PostgreSQL reads it back (recovery targets, the
 *                   times `backups` and `wal drops` show next to LSNs);
 *   LV_TIME_STAMP   "YYYYMMDDTHHMMSSZ": UTC in a name that sorts by time (drill ids);
 *   LV_TIME_UTC_TEXT    "YYYY-MM-DD HH:MM:SS UTC": UTC for people (the mark of an incomplete restore);
 *   LV_TIME_UTC_MINUTE  "YYYY-MM-DD HH:MM UTC": the same to the minute (the drill report).
 * A negative time formats as "unknown". lv_time_format_us takes microseconds and adds ".ffffff" after the
 * seconds.
 *
 * Parsing (lv_time_parse): "YYYY-MM-DD HH:MM:SS[.ffffff]" or with a 'T' instead of the space, or a day
 * "YYYY-MM-DD" (its midnight). A time followed by "Z", "+00" or "+00:00" is UTC; without a zone it is
 * read in the zone `local_default` says (1: local time, 0: UTC). Microseconds are kept.
 * lv_time_parse_zoned wants the zone and takes any: "YYYY-MM-DD HH:MM:SS[.frac]" (or with 'T') followed
 * by "Z", "+HH[:MM]" or "-HH[:MM]" (a recovery target: the server would read a bare time in its own
 * zone); the result is unix seconds with the fraction.
 *
 * Durations (lv_duration_parse): a sum of <number><unit>, units s m h d w y (y = 365 d): "30d", "1y2w",
 * "36h", "90s"; zero and anything else are rejected. lv_duration_format writes days, hours, minutes and
 * seconds, the largest first ("36h" -> "1d 12h", "100d" -> "100d"). */
#ifndef LV_COMMON_TIMEFMT_H
#define LV_COMMON_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define LV_TIME_TEXT_MAX 32

typedef enum lv_time_style {
    LV_TIME_LOCAL = 0,
    LV_TIME_UTC = 1,
    LV_TIME_SQL = 2,
    LV_TIME_STAMP = 3,
    LV_TIME_UTC_TEXT = 4,
    LV_TIME_UTC_MINUTE = 5
} lv_time_style;

void lv_time_format(int64_t t, lv_time_style style, char out[LV_TIME_TEXT_MAX]);
void lv_time_format_us(int64_t us, lv_time_style style, char out[LV_TIME_TEXT_MAX]);

/* 0 and *us (microseconds since the epoch), or -1 when s is none of the forms above. */
int lv_time_parse(const char *s, int local_default, int64_t *us);
int lv_time_parse_zoned(const char *s, double *out);

int lv_duration_parse(const char *s, int64_t *seconds);
void lv_duration_format(int64_t seconds, char *out, size_t size);

#endif
