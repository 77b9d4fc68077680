/* Test-only pauses (contract in common/testpause.h). */
#include "common/testpause.h"

#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/interrupt.h"

int lv_test_pause(const char *env, double unit)
{
    const char *v = getenv(env);
    double secs = v ? atof(v) * unit : 0, end = lv_mono_s() + secs;
    while (secs > 0 && lv_mono_s() < end) {
        if (lv_interrupted())
            return lv_err(LV_ERR_INTERRUPTED, "interrupted");
        usleep(50 * 1000);
    }
    return LV_OK;
}
