/* Clocks as seconds in a double: monotonic for durations (immune to clock steps), wall for timestamps
 * that are recorded or shown. */
#ifndef LV_COMMON_CLOCK_H
#define LV_COMMON_CLOCK_H

double lv_mono_s(void); /* CLOCK_MONOTONIC */
double lv_wall_s(void); /* CLOCK_REALTIME, seconds since the epoch */

#endif
