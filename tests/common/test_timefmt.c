/* common/timefmt: every style, with and without microseconds, and "unknown" for negative times (the
 * parsers: tests/retention/test_policy.c for lv_time_parse, tests/restore/test_pgconf.c for
 * lv_time_parse_zoned). */
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "tests/check.h"

int main(void)
{
    char t[LV_TIME_TEXT_MAX];
    setenv("TZ", "UTC", 1);
    const int64_t T = 1795255200; /* 2026-11-21 10:00:00 UTC */
    lv_time_format(T, LV_TIME_UTC, t);
    CHECK(strcmp(t, "2026-11-21T10:00:00Z") == 0, "UTC: %s", t);
    lv_time_format(T, LV_TIME_SQL, t);
    CHECK(strcmp(t, "2026-11-21 10:00:00+00") == 0, "SQL: %s", t);
    lv_time_format(T, LV_TIME_STAMP, t);
    CHECK(strcmp(t, "20261121T100000Z") == 0, "stamp: %s", t);
    lv_time_format(T, LV_TIME_LOCAL, t);
    CHECK(strcmp(t, "2026-11-21 10:00:00") == 0, "local (TZ=UTC): %s", t);
    lv_time_format(T + 59, LV_TIME_UTC_TEXT, t);
    CHECK(strcmp(t, "2026-11-21 10:00:59 UTC") == 0, "UTC for people: %s", t);
    lv_time_format(T + 59, LV_TIME_UTC_MINUTE, t);
    CHECK(strcmp(t, "2026-11-21 10:00 UTC") == 0, "... to the minute: %s", t);
    lv_time_format_us(T * 1000000 + 42, LV_TIME_SQL, t);
    CHECK(strcmp(t, "2026-11-21 10:00:00.000042+00") == 0, "SQL with microseconds: %s", t);
    lv_time_format_us(T * 1000000 + 999999, LV_TIME_UTC, t);
    CHECK(strcmp(t, "2026-11-21T10:00:00.999999Z") == 0, "UTC with microseconds: %s", t);
    lv_time_format(-1, LV_TIME_SQL, t);
    CHECK(strcmp(t, "unknown") == 0, "a negative time is unknown");
    lv_time_format_us(-5, LV_TIME_UTC, t);
    CHECK(strcmp(t, "unknown") == 0, "... with microseconds too");
    double d;
    char back[LV_TIME_TEXT_MAX];
    lv_time_format_us(T * 1000000 + 250000, LV_TIME_SQL, back);
    CHECK(lv_time_parse_zoned(back, &d) == 0 && d == (double)T + 0.25, "what SQL writes, the zoned parser reads");
    return check_done();
}
