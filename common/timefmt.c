/* Times and durations (contract in common/timefmt.h). */
#include "common/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lv_time_format(int64_t t, lv_time_style style, char out[LV_TIME_TEXT_MAX])
{
    if (t < 0) {
        snprintf(out, LV_TIME_TEXT_MAX, "unknown");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (style == LV_TIME_UTC) {
        gmtime_r(&tt, &tm);
        strftime(out, LV_TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        localtime_r(&tt, &tm);
        strftime(out, LV_TIME_TEXT_MAX, "%Y-%m-%d %H:%M:%S", &tm);
    }
}

int lv_time_parse(const char *s, int local_default, int64_t *us)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!p)
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) {
        memset(&tm, 0, sizeof tm);
        p = strptime(s, "%Y-%m-%d", &tm); /* a day: its midnight */
        if (p && *p && *p != 'Z' && *p != '+')
            p = NULL;
    }
    if (!p)
        return -1;
    long frac = 0;
    if (*p == '.') {
        char *e;
        frac = strtol(p + 1, &e, 10);
        if (e == p + 1 || frac < 0)
            return -1;
        for (long digits = e - (p + 1); digits < 6; digits++)
            frac *= 10;
        for (long digits = e - (p + 1); digits > 6; digits--)
            frac /= 10;
        p = e;
    }
    int utc = !local_default;
    if (*p) {
        if (strcmp(p, "Z") != 0 && strcmp(p, "+00") != 0 && strcmp(p, "+00:00") != 0)
            return -1;
        utc = 1;
    }
    time_t t;
    if (utc) {
        t = timegm(&tm);
    } else {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    *us = (int64_t)t * 1000000 + frac;
    return 0;
}

int lv_duration_parse(const char *s, int64_t *seconds)
{
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        char *e;
        long long n = strtoll(p, &e, 10);
        int64_t unit;
        switch (*e) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        case 'y': unit = 365 * 86400; break;
        default: return -1;
        }
        if (n < 0 || n > INT64_MAX / unit / 4 || total > INT64_MAX / 4)
            return -1;
        total += (int64_t)n * unit;
        p = e + 1;
    }
    if (total <= 0)
        return -1;
    *seconds = total;
    return 0;
}

void lv_duration_format(int64_t seconds, char *out, size_t size)
{
    static const struct {
        int64_t s;
        char u;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}; /* days at most: "100d", not "14w 2d" */
    size_t len = 0;
    out[0] = '\0';
    if (seconds <= 0) {
        snprintf(out, size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && seconds > 0; i++) {
        int64_t n = seconds / units[i].s;
        if (n == 0)
            continue;
        seconds -= n * units[i].s;
        int w = snprintf(out + len, size > len ? size - len : 0, "%s%lld%c", len ? " " : "", (long long)n,
                         units[i].u);
        if (w < 0 || (size_t)w >= size - len)
            return;
        len += (size_t)w;
    }
}
