/* `labvault forget`: choose which backups and snapshots to keep (retention/policy.h), remove the
 * manifests of the others, and expire the WAL that no kept PostgreSQL backup needs. Reclaiming the space
 * their blobs take is prune's work (retention/prune.h); `forget --prune` runs both.
 *
 * Groups (each policy applies within one group):
 *   files   host + paths by default (restic's), or what group_by says (host, paths, tags);
 *   pg      the cluster (system identifier).
 * Every group is decided on its own; within it the newest backup always comes first.
 *
 * Refusals (LV_ERR_USAGE, nothing removed), unless force: a policy without any rule for a kind it
 * applies to; a policy that would remove every backup of a group, or the newest one.
 *
 * WAL expiry (kind pg): a WAL file is needed by a kept backup when it holds WAL at or after that
 * backup's start (replay from a backup never reads an earlier LSN, on any timeline). So every segment,
 * partial segment and .backup file whose segment number is below the oldest kept backup's start segment
 * is removed; timeline history files are kept (a few hundred bytes each, and the live timeline's
 * ancestry needs them). With no PostgreSQL backup kept, no WAL is expired.
 *
 * Order and safety: the manifests are deleted first (that is what forgetting is: the commit points
 * go), then their catalog rows, then the WAL objects. WAL removal waits (up to wait_s seconds, then
 * defers to the next run) while another command's in-flight marker (repo/lock.h) is live, unless
 * safety_none: a restore or drill that started from a backup being forgotten may still be fetching
 * that WAL. A crash anywhere leaves a repository whose next forget finishes the work.
 * The caller holds the exclusive maintenance lock (cli: "forget"). */
#ifndef LV_RETENTION_FORGET_H
#define LV_RETENTION_FORGET_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "pg/backups.h"
#include "repo/repo.h"
#include "retention/policy.h"
#include "snapshot/summary.h"

enum { LV_GROUP_HOST = 1, LV_GROUP_PATHS = 2, LV_GROUP_TAGS = 4 };

typedef struct lv_forget_opts {
    int files, pg;                  /* which kinds the policies apply to */
    lv_keep_policy files_policy, pg_policy;
    const char *const *ids;         /* explicit backups to forget (unique id prefixes); then no policy */
    size_t nids;
    const char *host;               /* files: only this host's snapshots (NULL: every host) */
    unsigned group_by;              /* files: LV_GROUP_* (0: host and paths) */
    int force, dry_run, safety_none;
    int wait_s;                     /* how long WAL expiry waits for in-flight markers */
    int64_t now;                    /* unix seconds (for the recovery window) */
    const char *self_marker;        /* key of this command's own in-flight marker, if any (not waited for) */
} lv_forget_opts;

typedef struct lv_forget_item {
    char id[65];
    char kind[16];
    char *group;                    /* "host vm, paths /etc /srv" or "cluster 7301..." */
    char *what;                     /* files: paths; pg: type and label */
    int64_t time;
    unsigned reasons;               /* why it is kept (policy.h); 0 with remove */
    int remove, explicit_;          /* explicit_: named on the command line */
} lv_forget_item;

typedef struct lv_forget_result {
    lv_forget_item *items;          /* grouped, newest first within a group */
    size_t n, removed;
    uint64_t wal_removed, wal_bytes;/* WAL files expired (or, dry run, that would be) */
    char wal_oldest_kept[25];       /* the first segment kept ("" when no expiry) */
    int wal_deferred;               /* WAL expiry deferred: in-flight markers */
    char wal_deferred_by[300];
} lv_forget_result;

int lv_forget(lv_repo *r, const lv_forget_opts *o, lv_forget_result *res);

/* Every files snapshot and PostgreSQL backup the catalog records, decoded from their summaries
 * (snapshot/summary.h, pg/backups.h): what forget decides on, and what repo stats adds up. */
typedef struct lv_backups {
    lv_snap_row *snaps;
    size_t nsnaps;
    lv_pg_backup_info *pgs;
    size_t npgs;
} lv_backups;
int lv_backups_get(lv_catalog *cat, lv_backups *out); /* *out is empty on failure */
void lv_backups_free(lv_backups *b);

/* `stanza delete`: the cluster the repository archives is given up: every PostgreSQL backup, every WAL
 * file (history files too) and the stanza are removed, recorded first (repo/deleted.h), so that the next
 * `wal push` of any cluster starts a new archive. File snapshots stay. Waits for in-flight markers like
 * the WAL expiry (o->wait_s, o->safety_none; o->self_marker); LV_ERR_LOCKED-like deferral is an error here
 * (LV_ERR_CONFLICT naming the command that runs), since a half-deleted archive helps nobody. The caller
 * holds the exclusive maintenance lock. res->removed is the number of backups, res->wal_removed the WAL
 * files. */
int lv_forget_stanza(lv_repo *r, const lv_forget_opts *o, lv_forget_result *res);
void lv_forget_result_free(lv_forget_result *res);

/* Read a policy through get(name), which returns the value of name ("<prefix>keep-daily", ...,
 * "<prefix>recovery-window", "<prefix>keep-tag": comma-separated) or NULL: prefix "files-" or "pg-" for
 * the [retention] options, "" for forget's flags. A malformed value is `code` (LV_ERR_CONFIG or
 * LV_ERR_USAGE), the message naming label + name ("option retention-" or "--"). */
int lv_keep_policy_from_options(const char *prefix, const char *(*get)(void *arg, const char *name), void *arg,
                                lv_keep_policy *p, char ***tags_out, int code, const char *label);

/* Wait up to wait_s seconds until no live in-flight marker (other than self) remains. 0: none left;
 * 1: some remain (who: a description of one); or an lv_code when the listing failed. */
int lv_inflight_wait(lv_store *st, const char *self, int wait_s, char *who, size_t who_size);

#endif
