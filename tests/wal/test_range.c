/* wal/range.h on a local repository with crafted 1 MiB segments (walgen.h) pushed by lv_wal_push_file:
 * waiting for a backup's WAL, the gap-free range and its commit times (from the catalog and from the
 * segments alone), a gap, a missing start, and a timeline switch followed like
 * recovery_target_timeline = 'latest'. Also the catalog-rebuild step that refills wal_files, and a damaged
 * segment, which ends the range before it when the time scan reads it and is not read by
 * lv_wal_range_lsn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "catalog/wal.h"
#include "catalog/catalog.h"
#include "maint/rebuild.h"
#include "repo/repo.h"
#include "store/store.h"
#include "tests/check.h"
#include "tests/wal/walgen.h"
#include "wal/push.h"
#include "wal/range.h"
#include "wal/walcat.h"

#define SEG (1u << 20)
#define T0 INT64_C(1795000000000000)

static char tmp[512];
static lv_repo *repo;
static lv_wal_pusher pusher;

static int push_file(const char *name, const void *data, size_t len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        return lv_err(LV_ERR_IO, "cannot write %s", path);
    lv_wal_pushed res;
    int rc = lv_wal_push_file(&pusher, path, &res);
    if (rc == LV_OK) {
        lv_wal_row row = {&res.obj, res.size, (int64_t)time(NULL), res.begin_lsn, res.end_lsn,
                          res.times_known, res.begin_time, res.end_time, res.times_known ? &res.summary : NULL};
        rc = lv_walcat_add(repo->cat, &row);
    }
    lv_wal_pushed_free(&res);
    unlink(path);
    return rc;
}

/* Segment segno on timeline tli: k commits (xids xid0.., times t_us, t_us + 1 s, ...) among fillers,
 * then a switch. */
typedef struct segspec {
    uint32_t tli;
    uint64_t segno;
    int k;
    uint32_t xid0;
    int64_t t_us;
    uint64_t last_lsn; /* out: LSN of the last commit */
} segspec;

static int push_seg(segspec *s)
{
    walgen g;
    wg_init(&g, SEG, s->tli, s->segno, 1);
    for (int i = 0; i < 3; i++)
        wg_filler(&g, 3000);
    for (int i = 0; i < s->k; i++) {
        s->last_lsn = wg_xact(&g, 0, s->xid0 + (uint32_t)i, s->t_us + i * INT64_C(1000000), 5, NULL, 0);
        wg_filler(&g, 5000);
    }
    wg_switch(&g);
    char name[25];
    lv_wal_segment_name(s->tli, s->segno, SEG, name);
    int rc = push_file(name, g.d, g.len);
    free(g.d);
    return rc;
}

static void wait_checks(void)
{
    CHECK(lv_wal_wait_range(repo, 1, 3 * SEG + 100, 5 * SEG + 10, SEG, 5) == LV_OK, "wait: 3..5 are there");
    CHECK(lv_wal_wait_range(repo, 1, 3 * SEG + 100, 6 * SEG, SEG, 5) == LV_OK,
          "wait: a stop LSN on a segment boundary needs only the segment before it");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = lv_wal_wait_range(repo, 1, 3 * SEG + 100, 6 * SEG + 10, SEG, 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    CHECK(rc == LV_ERR_INCOMPLETE && strstr(lv_errmsg(), "WAL segment 000000010000000000000006 ") && s >= 1.0 &&
              s < 3.0, "wait: times out after 1 s naming the missing segment (%.1f s: %s)", s, lv_errmsg());
    rc = lv_wal_wait_range(repo, 2, 3 * SEG, 3 * SEG + 1, SEG, 0);
    CHECK(rc == LV_ERR_INCOMPLETE && strstr(lv_errmsg(), "000000020000000000000003"),
          "wait: another timeline's segments do not count (%s)", lv_errmsg());
}

static void range_checks(const segspec *s3, const segspec *s5, const char *label)
{
    lv_wal_range rg;
    int rc = lv_wal_range_from(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && rg.segments == 3 && rg.end_lsn == 6 * SEG && rg.start_tli == 1 && rg.end_tli == 1 &&
              strcmp(rg.first_segment, "000000010000000000000003") == 0 &&
              strcmp(rg.last_segment, "000000010000000000000005") == 0 && rg.missing[0] == '\0',
          "%s: range 3..5 ends at 0/600000, nothing missing (%s)", label, rc ? lv_errmsg() : rg.last_segment);
    CHECK(rg.first_commit_time == s3->t_us / 1000000 && rg.last_commit_time == (s5->t_us / 1000000) + s5->k - 1 &&
              rg.last_commit_lsn == s5->last_lsn && rg.last_commit_xid == s5->xid0 + (uint32_t)s5->k - 1,
          "%s: first and last commit time, last commit LSN and xid (%lld %lld %u)", label,
          (long long)rg.first_commit_time, (long long)rg.last_commit_time, rg.last_commit_xid);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/lv-test-range-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        return perror("mkdtemp"), 1;
    char dir[600], cat[600];
    snprintf(dir, sizeof dir, "%s/repo", tmp);
    snprintf(cat, sizeof cat, "%s/catalog.db", tmp);
    lv_store *st;
    lv_repo_params params;
    lv_repo_params_default(&params);
    params.scrypt_n = 1024;
    lv_credential cred = {.passphrase = "range test"};
    if (lv_store_open(dir, NULL, &st) || lv_store_create(st) || lv_repo_init(st, &params, &cred, &repo) ||
        lv_catalog_open(cat, repo->id_hex, &repo->cat)) {
        printf("Bail out! set up: %s\n", lv_errmsg());
        return 1;
    }
    lv_wal_pusher_init(&pusher, repo, repo->cat);

    segspec s3 = {1, 3, 2, 1000, T0, 0}, s4 = {1, 4, 0, 0, 0, 0}, s5 = {1, 5, 3, 1010, T0 + 60000000, 0};
    int rc = push_seg(&s3);
    if (!rc)
        rc = push_seg(&s4);
    if (!rc)
        rc = push_seg(&s5);
    CHECK(rc == LV_OK, "pushed segments 3 (2 commits), 4 (none), 5 (3 commits) (%s)", rc ? lv_errmsg() : "ok");
    int known;
    int64_t b, e;
    CHECK(lv_catalog_wal_times(repo->cat, "000000010000000000000003", &known, &b, &e) == LV_OK && known &&
              b == T0 / 1000000 && e == T0 / 1000000 + 1, "push recorded segment 3's commit times");
    CHECK(lv_catalog_wal_times(repo->cat, "000000010000000000000004", &known, &b, &e) == LV_OK && known && b == 0 &&
              e == 0, "and 0/0 for segment 4, which has no commit");

    wait_checks();
    range_checks(&s3, &s5, "catalog");
    lv_catalog *saved = repo->cat;
    repo->cat = NULL;
    range_checks(&s3, &s5, "no catalog");
    repo->cat = saved;

    lv_wal_range rg;
    rc = lv_wal_range_from(repo, 1, 2 * SEG + 5, &rg);
    CHECK(rc == LV_ERR_NOT_FOUND && strstr(lv_errmsg(), "000000010000000000000002"),
          "a start that is not archived: not found, naming the segment (%s)", lv_errmsg());
    rc = lv_wal_range_from(repo, 1, 5 * SEG + 5000, &rg);
    CHECK(rc == LV_OK && rg.segments == 1 && rg.first_commit_time == s5.t_us / 1000000,
          "a range starting inside the last segment (%lld)", (long long)rg.first_commit_time);
    rc = lv_wal_range_from(repo, 1, 5 * SEG + SEG - 100, &rg);
    CHECK(rc == LV_OK && rg.first_commit_time == 0 && rg.last_commit_time == 0,
          "no commit after from_lsn: times 0 (%lld)", (long long)rg.last_commit_time);

    /* a gap: 7 archived, 6 not */
    segspec s7 = {1, 7, 1, 1020, T0 + 120000000, 0};
    rc = push_seg(&s7);
    rc = rc ? rc : lv_wal_range_from(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && rg.end_lsn == 6 * SEG && strcmp(rg.missing, "000000010000000000000006") == 0 &&
              rg.last_commit_xid == s5.xid0 + 2, "a gap at 6: the range ends at 5 and names 6 as missing (%s)",
          rg.missing);

    /* a commit straddling segments 10 and 11, the only one in both */
    walgen g;
    wg_init(&g, SEG, 1, 10, 2);
    while (g.pos + 3000 < g.base + SEG && wg_filler(&g, 2000))
        ;
    while (g.pos + 200 < g.base + SEG && wg_filler(&g, 100))
        ;
    uint32_t many[60];
    for (uint32_t i = 0; i < 60; i++)
        many[i] = 30000 + i;
    uint64_t straddle = wg_xact(&g, 0, 3000, T0 + 500000000, 5, many, 60);
    wg_filler(&g, 3000);
    wg_switch(&g);
    rc = push_file("00000001000000000000000A", g.d, SEG);
    rc = rc ? rc : push_file("00000001000000000000000B", g.d + SEG, SEG);
    free(g.d);
    CHECK(rc == LV_OK && straddle / SEG == 10 && (straddle + 24 + 4 + 8 + 8 + 60 * 12) / SEG == 11,
          "pushed segments 10 and 11 with a commit across the boundary (%s)", rc ? lv_errmsg() : "ok");
    CHECK(lv_catalog_wal_times(repo->cat, "00000001000000000000000A", &known, &b, &e) == LV_OK && known && b == -1 &&
              e == -1, "push marks segment 10 as holding a commit of unknown time (%lld)", (long long)e);
    for (int pass = 0; pass < 2; pass++) {
        lv_catalog *keep = repo->cat;
        if (pass)
            repo->cat = NULL;
        rc = lv_wal_range_from(repo, 1, 10 * SEG + 100, &rg);
        repo->cat = keep;
        CHECK(rc == LV_OK && rg.segments == 2 && rg.last_commit_xid == 3000 && rg.last_commit_lsn == straddle &&
                  rg.last_commit_time == T0 / 1000000 + 500 && rg.first_commit_time == T0 / 1000000 + 500,
              "%s: the straddling commit is the range's first and last (xid %u)", pass ? "no catalog" : "catalog",
              rg.last_commit_xid);
    }

    /* timeline 2 branched off in segment 5 at 0/580000; its segments 5..6 are archived */
    const char *hist = "1\t0/580000\tbefore transaction 1012\n";
    rc = push_file("00000002.history", hist, strlen(hist));
    segspec t5 = {2, 5, 1, 2000, T0 + 200000000, 0}, t6 = {2, 6, 2, 2001, T0 + 300000000, 0};
    rc = rc ? rc : push_seg(&t5);
    rc = rc ? rc : push_seg(&t6);
    rc = rc ? rc : lv_wal_range_from(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && rg.start_tli == 1 && rg.end_tli == 2 && rg.segments == 4 && rg.end_lsn == 7 * SEG &&
              strcmp(rg.last_segment, "000000020000000000000006") == 0 && rg.last_commit_xid == 2002 &&
              rg.last_commit_time == t6.t_us / 1000000 + 1,
          "timeline 2 is followed from its switch point: 3, 4 on 1, then 5, 6 on 2 (%s: %s, xid %u)",
          rc ? lv_errmsg() : "ok", rg.last_segment, rg.last_commit_xid);
    CHECK(rg.missing[0] == '\0', "nothing archived after timeline 2's segment 6 (%s)", rg.missing);
    rc = lv_wal_range_from(repo, 1, 5 * SEG + 0x90000, &rg);
    CHECK(rc == LV_OK && rg.end_tli == 1 && strcmp(rg.last_segment, "000000010000000000000005") == 0,
          "a start after the switch point on timeline 1 stays on timeline 1 (%s)", rg.last_segment);
    CHECK(lv_wal_wait_range(repo, 2, 5 * SEG, 6 * SEG + 10, SEG, 1) == LV_OK, "wait on timeline 2");

    /* catalog rebuild refills wal_files from the listing: same rows, times unknown */
    lv_walcat_register();
    lv_rebuild_stats rs;
    rc = lv_catalog_rebuild(repo, &rs);
    int64_t pushed;
    CHECK(rc == LV_OK && lv_catalog_wal_pushed(repo->cat, "000000020000000000000006", &pushed) == LV_OK &&
              lv_catalog_wal_pushed(repo->cat, "00000002.history", &pushed) == LV_OK,
          "catalog rebuild: wal_files lists the archived files again (%s)", rc ? lv_errmsg() : "ok");
    CHECK(lv_catalog_wal_times(repo->cat, "000000010000000000000003", &known, &b, &e) == LV_OK && !known,
          "... with unknown times");
    rc = lv_wal_range_from(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && rg.last_commit_xid == 2002 && rg.first_commit_time == T0 / 1000000,
          "and the range still has its times, from the segments (%s)", rc ? lv_errmsg() : "ok");

    /* a damaged segment: timeline 2's segment 6, which holds the last commits */
    lv_wal_object o;
    lv_wal_name n6;
    int count = 0;
    lv_wal_name_parse("000000020000000000000006", &n6);
    rc = lv_wal_find(st, &n6, &o, &count);
    char path[900];
    snprintf(path, sizeof path, "%s/%s", dir, o.key);
    FILE *f = rc == LV_OK ? fopen(path, "r+b") : NULL;
    int flipped = f && fseek(f, 100, SEEK_SET) == 0 && fputc(0x55, f) != EOF;
    if (f)
        fclose(f);
    CHECK(flipped, "damaged %s", path);
    rc = lv_wal_range_from(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && strcmp(rg.damaged, "000000020000000000000006") == 0 && rg.end_lsn == 6 * SEG &&
              strcmp(rg.last_segment, "000000020000000000000005") == 0 && rg.segments == 3 &&
              rg.last_commit_xid == 2000 && rg.last_commit_time == t5.t_us / 1000000,
          "a damaged segment ends the range before it, with the times of what is left (%s: %s, xid %u)",
          rc ? lv_errmsg() : "ok", rg.damaged, rg.last_commit_xid);
    rc = lv_wal_range_lsn(repo, 1, 3 * SEG + 100, &rg);
    CHECK(rc == LV_OK && rg.end_lsn == 7 * SEG && !rg.damaged[0] && !rg.last_commit_time,
          "the range by LSN reads no segment: the damage is not seen (%s)", rc ? lv_errmsg() : "ok");

    lv_wal_pusher_free(&pusher);
    lv_catalog_close(repo->cat);
    repo->cat = NULL;
    lv_repo_close(repo);
    lv_store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp);
    return check_done();
}
