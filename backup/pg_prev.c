/* The previous backup and the backup lock (contract in backup/pg_prev.h). */
#include "backup/pg_prev.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/error.h"
#include "catalog/catalog.h"
#include "wal/segment.h"

int lv_pg_summary_field(const char *json, const char *key, char *out, size_t n)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p || n == 0)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t len;
    if (*p == '"') {
        p++;
        len = strcspn(p, "\"");
    } else {
        len = strcspn(p, ",}] ");
    }
    if (len >= n)
        return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

typedef struct pick {
    uint64_t sysid;
    uint32_t timeline;
    uint64_t best_lsn;
    int64_t best_time;
    char id[2 * LV_HASH_LEN + 1];
} pick;

static int consider(void *arg, const lv_manifest_row *row)
{
    pick *k = arg;
    char v[64];
    uint64_t lsn;
    if (lv_pg_summary_field(row->summary, "sysid", v, sizeof v) != 0 || strtoull(v, NULL, 10) != k->sysid)
        return LV_OK;
    if (lv_pg_summary_field(row->summary, "timeline", v, sizeof v) != 0 || strtoul(v, NULL, 10) != k->timeline)
        return LV_OK;
    if (lv_pg_summary_field(row->summary, "stop_lsn", v, sizeof v) != 0 || lv_lsn_parse(v, &lsn) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    if (!k->id[0] || lsn > k->best_lsn || (lsn == k->best_lsn && row->time >= k->best_time)) {
        k->best_lsn = lsn;
        k->best_time = row->time;
        snprintf(k->id, sizeof k->id, "%s", row->id);
    }
    return LV_OK;
}

int lv_pg_prev_find(lv_repo *r, uint64_t sysid, uint32_t timeline, char id[2 * LV_HASH_LEN + 1], lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    id[0] = '\0';
    if (!r->cat)
        return lv_err(LV_ERR_NOT_FOUND, "no catalog to find the previous backup in");
    pick k;
    memset(&k, 0, sizeof k);
    k.sysid = sysid;
    k.timeline = timeline;
    int rc = lv_catalog_manifest_each(r->cat, LV_PGMAN_KIND, consider, &k);
    if (rc != LV_OK)
        return rc;
    if (!k.id[0])
        return lv_err(LV_ERR_NOT_FOUND, "no previous backup of PostgreSQL cluster %" PRIu64 " on timeline %u in "
                      "the catalog to compare with (run a full backup first, or --type full)", sysid, timeline);
    if ((rc = lv_pgman_load(r, k.id, m)) != LV_OK)
        return lv_err_ctx("previous backup %.12s", k.id);
    snprintf(id, 2 * LV_HASH_LEN + 1, "%s", k.id);
    return LV_OK;
}

int lv_pg_lock(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) /* LV_ERR_IO even for ENOENT: the catalog's directory is missing, not an object asked for */
        return lv_err(LV_ERR_IO, "cannot create the backup lock %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(*fd);
        *fd = -1;
        if (e == EWOULDBLOCK)
            return lv_err(LV_ERR_LOCKED, "another backup pg is running (pid %s; lock %s)", pid[0] ? pid : "?",
                          path);
        return lv_err(LV_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)len, 0) != len) {
        /* The pid is only for the message: the lock itself is held. */
    }
    return LV_OK;
}
