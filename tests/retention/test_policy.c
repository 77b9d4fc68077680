/* Retention policies (retention/policy.h) and the time module they parse with (common/timefmt.h): every
 * rule on hand-made histories whose answer is known, in UTC. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timefmt.h"
#include "retention/policy.h"
#include "tests/check.h"

#define DAY 86400
#define T0 1767225600 /* 2026-01-01 00:00:00 UTC, a Thursday */

static lv_keep_item items[1000];

/* n nightly backups at 03:00, day 0 .. n-1; returns n. */
static size_t nightly(size_t n)
{
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < n; i++)
        items[i].time = T0 + (int64_t)i * DAY + 3 * 3600;
    return n;
}

static size_t count(size_t n, unsigned bit)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (items[i].reasons & bit) != 0;
    return c;
}

static void test_rules(void)
{
    lv_keep_policy p = {0};
    CHECK(lv_keep_policy_empty(&p), "a policy without rules is empty");
    size_t n = nightly(10);
    p.last = 3;
    CHECK(lv_keep_apply(&p, items, n, T0) == 3 && items[9].reasons == LV_KEEP_LAST && items[7].reasons &&
              !items[6].reasons, "keep-last 3: the three newest");

    /* a year of nightly backups plus a second one on the last day */
    n = nightly(365);
    items[n].time = items[n - 1].time + 3600;
    n++;
    memset(&p, 0, sizeof p);
    p.daily = 7;
    p.weekly = 4;
    p.monthly = 12;
    p.yearly = LV_KEEP_UNLIMITED;
    size_t kept = lv_keep_apply(&p, items, n, T0);
    CHECK(count(n, LV_KEEP_DAILY) == 7 && items[n - 1].reasons & LV_KEEP_DAILY && !(items[n - 2].reasons & LV_KEEP_DAILY),
          "keep-daily 7: the newest of each of the 7 newest days (%zu)", count(n, LV_KEEP_DAILY));
    CHECK(count(n, LV_KEEP_WEEKLY) == 4, "keep-weekly 4: four ISO weeks");
    /* 2026-12-31 is a Thursday (ISO week 53); the week before ends Sunday 12-27 */
    CHECK(items[360].reasons & LV_KEEP_WEEKLY && !(items[361].reasons & LV_KEEP_WEEKLY),
          "keep-weekly: the newest backup of the week before is its Sunday (2026-12-27)");
    CHECK(count(n, LV_KEEP_MONTHLY) == 12 && items[30].reasons & LV_KEEP_MONTHLY && !(items[29].reasons & LV_KEEP_MONTHLY),
          "keep-monthly 12: the last day of each month (January 31st, not the 30th)");
    CHECK(count(n, LV_KEEP_YEARLY) == 1, "keep-yearly unlimited: one year, one backup");
    CHECK(kept == 7 + 2 + 11, "the union: 7 daily, 2 more weekly (12-20, 12-13), 11 more monthly (%zu)", kept);

    n = nightly(30);
    memset(&p, 0, sizeof p);
    p.within = 10 * DAY;
    CHECK(lv_keep_apply(&p, items, n, T0 + 1000 * DAY) == 10 && items[20].reasons == LV_KEEP_WITHIN &&
              !items[19].reasons, "keep-within 10d counts from the newest backup, not from now");

    n = nightly(5);
    const char *a[] = {"monthly"}, *b[] = {"other", "keep"}, *want[] = {"keep"};
    items[1].tags = a, items[1].ntags = 1;
    items[2].tags = b, items[2].ntags = 2;
    memset(&p, 0, sizeof p);
    p.tags = want;
    p.ntags = 1;
    CHECK(lv_keep_apply(&p, items, n, T0) == 1 && items[2].reasons == LV_KEEP_TAG, "keep-tag: only the tagged one");

    /* recovery window: the newest backup at or before now - 14d and every later one */
    n = nightly(30);
    memset(&p, 0, sizeof p);
    p.recovery_window = 14 * DAY;
    int64_t now = items[29].time + 12 * 3600;
    CHECK(lv_keep_apply(&p, items, n, now) == 15 && items[15].reasons == LV_KEEP_WINDOW && !items[14].reasons,
          "recovery-window 14d: 14 backups inside it and the one before its start");
    now = items[29].time + 100 * DAY;
    CHECK(lv_keep_apply(&p, items, n, now) == 1 && items[29].reasons,
          "recovery-window after 100 quiet days: only the newest (it covers the whole window)");
    now = items[0].time + DAY;
    CHECK(lv_keep_apply(&p, items, n, now) == 30, "recovery-window longer than the history: everything");

    /* ties: equal times are ordered by `order` */
    n = nightly(3);
    items[0].time = items[1].time = items[2].time;
    items[0].order = 5, items[1].order = 9, items[2].order = 7;
    memset(&p, 0, sizeof p);
    p.last = 1;
    CHECK(lv_keep_apply(&p, items, n, T0) == 1 && items[1].reasons, "equal times: the larger order is newer");

    char text[128];
    lv_keep_reasons_text(LV_KEEP_LAST | LV_KEEP_DAILY | LV_KEEP_WINDOW, text, sizeof text);
    CHECK(strcmp(text, "last, daily, recovery-window") == 0, "reasons as text: '%s'", text);
    int c;
    CHECK(lv_keep_count_parse("7", &c) == 0 && c == 7 && lv_keep_count_parse("unlimited", &c) == 0 &&
              c == LV_KEEP_UNLIMITED && lv_keep_count_parse("-1", &c) < 0 && lv_keep_count_parse("7x", &c) < 0 &&
              lv_keep_count_parse("", &c) < 0, "counts: N or unlimited");
}

static void test_time(void)
{
    int64_t s;
    CHECK(lv_duration_parse("30d", &s) == 0 && s == 30 * DAY, "30d");
    CHECK(lv_duration_parse("1y2w3d4h5m6s", &s) == 0 && s == 365 * DAY + 17 * DAY + 4 * 3600 + 5 * 60 + 6,
          "1y2w3d4h5m6s");
    CHECK(lv_duration_parse("", &s) < 0 && lv_duration_parse("0d", &s) < 0 && lv_duration_parse("5", &s) < 0 &&
              lv_duration_parse("d", &s) < 0 && lv_duration_parse("3x", &s) < 0 && lv_duration_parse("-3d", &s) < 0 &&
              lv_duration_parse("99999999999999999999d", &s) < 0,
          "bad durations are refused");
    char buf[64];
    lv_duration_format(36 * 3600, buf, sizeof buf);
    CHECK(strcmp(buf, "1d 12h") == 0, "36h formats as '%s'", buf);
    int64_t us;
    CHECK(lv_time_parse("2026-01-01 00:00:00", 0, &us) == 0 && us == (int64_t)T0 * 1000000, "a UTC time");
    CHECK(lv_time_parse("2026-01-01T00:00:01.5Z", 1, &us) == 0 && us == (int64_t)(T0 + 1) * 1000000 + 500000,
          "a time with Z and a fraction");
    CHECK(lv_time_parse("2026-01-02", 0, &us) == 0 && us == (int64_t)(T0 + DAY) * 1000000, "a day: its midnight");
    CHECK(lv_time_parse("2026-01-02 10", 0, &us) < 0 && lv_time_parse("yesterday", 0, &us) < 0 &&
              lv_time_parse("2026-01-01 00:00:00+02", 0, &us) < 0, "bad times are refused");
    char t[LV_TIME_TEXT_MAX];
    lv_time_format(T0, LV_TIME_UTC, t);
    CHECK(strcmp(t, "2026-01-01T00:00:00Z") == 0, "UTC format: %s", t);
    lv_time_format(-1, LV_TIME_LOCAL, t);
    CHECK(strcmp(t, "unknown") == 0, "a negative time is unknown");
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    test_rules();
    test_time();
    return check_done();
}
