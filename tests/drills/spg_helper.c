/* Test driver of the scratch-PostgreSQL machinery (drills/postgres.h, drills/checks.h, the drill's signal
 * handling), on a data directory the test made with initdb, without a backup:
 *
 *   spg_helper run SCRATCH OSUSER [CHECKS]   start PostgreSQL on SCRATCH/data, wait until ready, run the
 *                                            checks, print "port N", "user U", then one line per check
 *                                            ("ok|FAIL name: detail"), stop it, remove SCRATCH; exit 0, or
 *                                            12 when a check failed
 *   spg_helper hang SCRATCH OSUSER           start, wait until ready, print "ready PID", then wait for
 *                                            SIGINT/SIGTERM: stop (immediate), remove SCRATCH, exit 14
 * The tests (tests/drills/pgmachine.sh) look at the processes and the directory afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/interrupt.h"
#include "drills/checks.h"
#include "drills/drill.h"
#include "drills/postgres.h"

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int hang = strcmp(argv[1], "hang") == 0;
    const char *scratch = argv[2];
    lv_drill d;
    lv_drill_begin(&d, "pg");
    lv_spg p;
    memset(&p, 0, sizeof p);
    lv_user_check *uc = NULL;
    size_t nuc = 0;
    char *user = NULL;
    int rc = lv_user_checks_load(argc > 4 ? argv[4] : NULL, &uc, &nuc);
    lv_interrupt_catch();
    if (rc == LV_OK)
        rc = lv_spg_bindir(getenv("LV_TEST_PG_BINDIR"), 15, &p.bindir);
    if (rc == LV_OK)
        rc = lv_spg_os_user(&p, argv[3], NULL);
    if (rc == LV_OK)
        rc = lv_spg_prepare(&p, scratch);
    if (rc == LV_OK)
        rc = lv_spg_start(&p);
    const char *users[] = {"postgres", NULL};
    if (rc == LV_OK)
        rc = lv_spg_wait_ready(&p, 60, users, &user);
    if (rc == LV_OK) {
        printf("port %d\nuser %s\n", p.port, user);
        fflush(stdout);
        if (hang) {
            printf("ready %ld\n", (long)p.pid);
            fflush(stdout);
            while (!lv_interrupted()) {
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            rc = LV_ERR_INTERRUPTED;
        } else {
            rc = lv_drill_checks_run(&d, &p, user, NULL, uc, nuc);
            for (uint32_t i = 0; i < d.nchecks; i++)
                printf("%s %s: %s\n", d.checks[i].ok ? "ok" : "FAIL", d.checks[i].name, d.checks[i].detail);
            if (rc == LV_OK && d.failed)
                rc = LV_ERR_CHECK;
        }
    }
    if (rc != LV_OK && rc != LV_ERR_CHECK)
        fprintf(stderr, "spg_helper: %s\n", lv_errmsg());
    if (p.pid)
        lv_spg_stop(&p, lv_interrupted());
    lv_drill_scratch_remove(scratch);
    lv_interrupt_release();
    lv_spg_free(&p);
    lv_user_checks_free(uc, nuc);
    free(user);
    lv_drill_free(&d);
    return rc;
}
