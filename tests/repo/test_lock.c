/* Maintenance locks on the local driver: exclusive vs shared conflicts, stale locks (dead pid on this
 * host, expired lease) broken by the next acquirer, refresh, release. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "repo/lock.h"
#include "store/store.h"
#include "tests/check.h"

static int count_cb(void *arg, const lv_lock_info *li)
{
    (void)li;
    (*(int *)arg)++;
    return 0;
}

static int nlocks(lv_store *st)
{
    int n = 0;
    lv_lock_list(st, 0, count_cb, &n);
    return n;
}

static void put_lock(lv_store *st, const char *key, const char *host, long pid, int exclusive, long long expires)
{
    char text[512];
    snprintf(text, sizeof text, "host = %s\nuser = test\npid = %ld\nexclusive = %d\ncreated = 0\nexpires = %lld\n",
             host, pid, exclusive, expires);
    lv_store_put(st, key, text, strlen(text), 0);
}

int main(void)
{
    char dir[] = "/tmp/lv-test-lock-XXXXXX";
    if (!mkdtemp(dir))
        return 99;
    lv_store *st;
    CHECK(lv_store_open(dir, NULL, &st) == LV_OK, "open local store");

    lv_lock *a = NULL, *b = NULL, *c = NULL;
    CHECK(lv_lock_acquire(st, 0, 60, "check", &a) == LV_OK, "shared lock");
    CHECK(lv_lock_acquire(st, 0, 60, "check", &b) == LV_OK, "second shared lock coexists");
    int rc = lv_lock_acquire(st, 1, 60, "prune", &c);
    CHECK(rc == LV_ERR_LOCKED && strstr(lv_errmsg(), "locked by locks/"), "exclusive refused while shared held: %s",
          lv_errmsg());
    CHECK(nlocks(st) == 2, "refused acquirer removed its own lock");
    CHECK(lv_lock_refresh(a) == LV_OK, "refresh");
    CHECK(lv_lock_release(a) == LV_OK && lv_lock_release(b) == LV_OK, "release");
    CHECK(nlocks(st) == 0, "no locks left");
    CHECK(lv_lock_acquire(st, 1, 60, "prune", &c) == LV_OK, "exclusive when free");
    rc = lv_lock_acquire(st, 0, 60, "check", &a);
    CHECK(rc == LV_ERR_LOCKED, "shared refused while exclusive held");
    lv_lock_release(c);

    /* A lock of a process that is gone, on this host: stale, removed by the next acquirer. */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char host[256];
    gethostname(host, sizeof host);
    put_lock(st, "locks/deadbeef", host, (long)child, 1, (long long)time(NULL) + 3600);
    CHECK(lv_lock_acquire(st, 1, 60, "prune", &c) == LV_OK, "stale lock of a dead process is broken");
    CHECK(nlocks(st) == 1, "only our lock remains");
    lv_lock_release(c);

    /* Another host's lock with an expired lease: stale. With a live lease: respected. */
    put_lock(st, "locks/0ld", "elsewhere", 1, 1, 1000);
    CHECK(lv_lock_acquire(st, 1, 60, "prune", &c) == LV_OK, "expired lease is broken");
    lv_lock_release(c);
    put_lock(st, "locks/live", "elsewhere", 1, 1, (long long)time(NULL) + 3600);
    rc = lv_lock_acquire(st, 0, 60, "check", &a);
    CHECK(rc == LV_ERR_LOCKED && strstr(lv_errmsg(), "host elsewhere"), "live foreign lock respected: %s",
          lv_errmsg());
    lv_store_del(st, "locks/live");

    /* Garbage in a lock object is reported, and treated as held (never silently ignored). */
    lv_store_put(st, "locks/garbage", "\x01\x02", 2, 0);
    rc = lv_lock_acquire(st, 1, 60, "prune", &c);
    CHECK(rc == LV_ERR_LOCKED && strstr(lv_errmsg(), "locks/garbage, which is unreadable") &&
              strstr(lv_errmsg(), "repo unlock --force"),
          "unreadable lock blocks, and the message says only unlock --force removes it: %s", lv_errmsg());
    lv_store_del(st, "locks/garbage");

    lv_lock_info li;
    CHECK(lv_lock_parse("host = h\npid = x\nexpires = 1\n", 27, &li) == LV_ERR_CORRUPT, "parse rejects bad pid");

    lv_store_close(st);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 99;
    return check_done();
}
