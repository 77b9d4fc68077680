/* Retention policies: which backups of one group to keep (restic's `forget` semantics, plus Barman's
 * recovery window for PostgreSQL). Pure logic: no repository, no catalog, no clock of its own.
 *
 * A group is the backups that replace one another: file snapshots of one host and set of paths,
 * PostgreSQL backups of one cluster (retention/forget.h forms the groups). Within a group, walking the
 * backups from the newest to the oldest:
 *   keep-last N       the N newest;
 *   keep-hourly N     for each of the N newest hours that have backups, the newest backup of that hour;
 *   keep-daily / weekly (ISO 8601 week) / monthly / yearly N   the same per day, week, month, year;
 *                     the calendar is local time (TZ), as restic's; N = LV_KEEP_UNLIMITED keeps one per
 *                     period for every period;
 *   keep-within D     every backup less than D seconds older than the group's newest (not than now:
 *                     a repository that stopped receiving backups keeps them);
 *   keep-tag T        every backup carrying one of the tags;
 *   recovery-window W every backup needed to restore to any moment of the last W seconds before now:
 *                     the newest backup that ended at or before now - W, and every later one (each
 *                     labvault backup is self-contained: no backup is kept only because a chain needs
 *                     it).
 * A backup is kept when at least one rule keeps it; its reasons are the rules that did. A policy with
 * no rule keeps everything (lv_keep_policy_empty tells: forget refuses to run one). */
#ifndef LV_RETENTION_POLICY_H
#define LV_RETENTION_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define LV_KEEP_UNLIMITED (-1)

typedef struct lv_keep_policy {
    int last, hourly, daily, weekly, monthly, yearly; /* 0 = rule not set; LV_KEEP_UNLIMITED */
    int64_t within;                                   /* seconds; 0 = not set */
    int64_t recovery_window;                          /* seconds; 0 = not set */
    const char *const *tags;                          /* keep-tag */
    size_t ntags;
} lv_keep_policy;

/* Why a backup is kept (bits of lv_keep_item.reasons). */
enum {
    LV_KEEP_LAST = 1 << 0,
    LV_KEEP_HOURLY = 1 << 1,
    LV_KEEP_DAILY = 1 << 2,
    LV_KEEP_WEEKLY = 1 << 3,
    LV_KEEP_MONTHLY = 1 << 4,
    LV_KEEP_YEARLY = 1 << 5,
    LV_KEEP_WITHIN = 1 << 6,
    LV_KEEP_TAG = 1 << 7,
    LV_KEEP_WINDOW = 1 << 8,
};
#define LV_KEEP_NREASONS 9

typedef struct lv_keep_item {
    /* in */
    int64_t time;                 /* the backup's time (unix seconds): snapshot time, pg stop time */
    int64_t order;                /* ties of equal time: larger is newer (nanoseconds, LSN, ...) */
    const char *const *tags;
    size_t ntags;
    /* out */
    unsigned reasons;             /* 0: remove */
} lv_keep_item;

int lv_keep_policy_empty(const lv_keep_policy *p);

/* Decide every item of one group (any order; they are sorted internally, not moved). now is the
 * current time (for recovery-window). Returns the number kept. */
size_t lv_keep_apply(const lv_keep_policy *p, lv_keep_item *items, size_t n, int64_t now);

/* The reasons as text, e.g. "last, daily, within 30d" (names of the rules; "window" for the recovery
 * window). Writes at most size bytes (NUL-terminated). */
void lv_keep_reasons_text(unsigned reasons, char *out, size_t size);
/* The name of one reason bit ("last", "hourly", ..., "tag", "recovery-window"). */
const char *lv_keep_reason_name(unsigned bit);

/* Parse a count: a non-negative integer or "unlimited". 0 ok, -1 malformed. */
int lv_keep_count_parse(const char *s, int *n);

#endif
