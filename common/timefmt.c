/* Times and durations (contract in common/timefmt.h). */
#include "common/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void format(int64_t t, long usec, lv_time_style style, char out[LV_TIME_TEXT_MAX])
{
    if (t < 0) {
        snprintf(out, LV_TIME_TEXT_MAX, "unknown");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char base[20], frac[8] = ""; /* the longest: "YYYY-MM-DD HH:MM:SS" */
    const char *zone = style == LV_TIME_LOCAL ? "" : style == LV_TIME_SQL ? "+00"
                       : style == LV_TIME_UTC_TEXT || style == LV_TIME_UTC_MINUTE ? " UTC" : "Z";
    if (style == LV_TIME_LOCAL)
        localtime_r(&tt, &tm);
    else
        gmtime_r(&tt, &tm);
    /* The date and the time of day; the zone follows the seconds (and a fraction, if any). */
    switch (style) {
    case LV_TIME_UTC: strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm); break;
    case LV_TIME_STAMP: strftime(base, sizeof base, "%Y%m%dT%H%M%S", &tm); break;
    case LV_TIME_UTC_MINUTE: strftime(base, sizeof base, "%Y-%m-%d %H:%M", &tm); break;
    case LV_TIME_LOCAL:
    case LV_TIME_SQL:
    case LV_TIME_UTC_TEXT:
    default: strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm); break;
    }
    if (usec >= 0)
        snprintf(frac, sizeof frac, ".%06ld", usec);
    snprintf(out, LV_TIME_TEXT_MAX, "%s%s%s", base, frac, zone);
}

void lv_time_format(int64_t t, lv_time_style style, char out[LV_TIME_TEXT_MAX]) { format(t, -1, style, out); }

void lv_time_format_us(int64_t us, lv_time_style style, char out[LV_TIME_TEXT_MAX])
{
    format(us < 0 ? -1 : us / 1000000, us < 0 ? -1 : (long)(us % 1000000), style, out);
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

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int lv_time_parse_zoned(const char *s, double *out)
{
    const char *p = s;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h, mi, se;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d) ||
        (*p != ' ' && *p != 'T') || (p++, digits(&p, 2, &h)) || *p++ != ':' || digits(&p, 2, &mi) ||
        *p++ != ':' || digits(&p, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    while (*p == ' ')
        p++;
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p >= '0' && *p <= '9' && digits(&p, 2, &om))
            return -1;
        if (oh > 15 || om > 59)
            return -1;
        off = sign * (oh * 3600L + om * 60L);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *out = (double)t - (double)off + frac;
    return 0;
}
