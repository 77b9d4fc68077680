/* Retention policies (contract in retention/policy.h). */
#include "retention/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/timefmt.h"

int lv_keep_policy_empty(const lv_keep_policy *p)
{
    return !p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly && !p->within &&
           !p->recovery_window && !p->ntags;
}

/* Newest first: later time, then larger order. */
static int newest_first(const void *a, const void *b, void *base)
{
    const lv_keep_item *items = base;
    const lv_keep_item *x = &items[*(const size_t *)a], *y = &items[*(const size_t *)b];
    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    if (x->order != y->order)
        return x->order > y->order ? -1 : 1;
    return 0;
}

/* The calendar period of t for a bucket rule, as one number (local time, as restic). */
static int64_t period(int rule, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    int64_t y = tm.tm_year + 1900;
    switch (rule) {
    case LV_KEEP_HOURLY: return ((y * 1000 + tm.tm_yday) * 100) + tm.tm_hour;
    case LV_KEEP_DAILY: return y * 1000 + tm.tm_yday;
    case LV_KEEP_WEEKLY: {
        char buf[16]; /* ISO 8601 week-numbering year and week */
        strftime(buf, sizeof buf, "%G%V", &tm);
        return strtoll(buf, NULL, 10);
    }
    case LV_KEEP_MONTHLY: return y * 100 + tm.tm_mon;
    default: return y;
    }
}

static int has_tag(const lv_keep_item *it, const lv_keep_policy *p)
{
    for (size_t i = 0; i < it->ntags; i++)
        for (size_t k = 0; k < p->ntags; k++)
            if (strcmp(it->tags[i], p->tags[k]) == 0)
                return 1;
    return 0;
}

size_t lv_keep_apply(const lv_keep_policy *p, lv_keep_item *items, size_t n, int64_t now)
{
    if (n == 0)
        return 0;
    size_t *ord = lv_xmalloc(n * sizeof *ord);
    for (size_t i = 0; i < n; i++) {
        ord[i] = i;
        items[i].reasons = 0;
    }
    qsort_r(ord, n, sizeof *ord, newest_first, items);

    struct {
        unsigned bit;
        int left;      /* periods still to keep; LV_KEEP_UNLIMITED: all */
        int64_t last;  /* period of the last backup kept by this rule */
        int started;
    } rules[] = {{LV_KEEP_LAST, p->last, 0, 0},       {LV_KEEP_HOURLY, p->hourly, 0, 0},
                 {LV_KEEP_DAILY, p->daily, 0, 0},     {LV_KEEP_WEEKLY, p->weekly, 0, 0},
                 {LV_KEEP_MONTHLY, p->monthly, 0, 0}, {LV_KEEP_YEARLY, p->yearly, 0, 0}};
    int64_t newest = items[ord[0]].time;
    for (size_t k = 0; k < n; k++) {
        lv_keep_item *it = &items[ord[k]];
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            if (rules[r].left == 0)
                continue;
            /* keep-last: every backup is a period of its own */
            int64_t per = rules[r].bit == LV_KEEP_LAST ? (int64_t)k : period((int)rules[r].bit, it->time);
            if (rules[r].started && per == rules[r].last)
                continue;
            it->reasons |= rules[r].bit;
            rules[r].last = per;
            rules[r].started = 1;
            if (rules[r].left > 0)
                rules[r].left--;
        }
        if (p->within && it->time > newest - p->within)
            it->reasons |= LV_KEEP_WITHIN;
        if (p->ntags && has_tag(it, p))
            it->reasons |= LV_KEEP_TAG;
    }
    if (p->recovery_window) {
        /* Every backup after the window's start, and the newest at or before it. */
        int64_t start = now - p->recovery_window;
        for (size_t k = 0; k < n; k++) {
            lv_keep_item *it = &items[ord[k]];
            it->reasons |= LV_KEEP_WINDOW;
            if (it->time <= start)
                break;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += items[i].reasons != 0;
    free(ord);
    return kept;
}

const char *lv_keep_reason_name(unsigned bit)
{
    switch (bit) {
    case LV_KEEP_LAST: return "last";
    case LV_KEEP_HOURLY: return "hourly";
    case LV_KEEP_DAILY: return "daily";
    case LV_KEEP_WEEKLY: return "weekly";
    case LV_KEEP_MONTHLY: return "monthly";
    case LV_KEEP_YEARLY: return "yearly";
    case LV_KEEP_WITHIN: return "within";
    case LV_KEEP_TAG: return "tag";
    case LV_KEEP_WINDOW: return "recovery-window";
    default: return "?";
    }
}

void lv_keep_reasons_text(unsigned reasons, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int b = 0; b < LV_KEEP_NREASONS; b++) {
        if (!(reasons & (1u << b)))
            continue;
        int w = snprintf(out + len, size > len ? size - len : 0, "%s%s", len ? ", " : "",
                         lv_keep_reason_name(1u << b));
        if (w < 0 || (size_t)w >= size - len)
            return;
        len += (size_t)w;
    }
}

int lv_keep_count_parse(const char *s, int *n)
{
    if (strcmp(s, "unlimited") == 0) {
        *n = LV_KEEP_UNLIMITED;
        return 0;
    }
    char *e;
    long v = strtol(s, &e, 10);
    if (!*s || *e || v < 0 || v > 1000000)
        return -1;
    *n = (int)v;
    return 0;
}
