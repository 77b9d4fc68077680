/* Restore drills (issue 7, DESIGN.md 7). Contract to be written by the drills module. */
#ifndef LV_DRILLS_DRILL_H
#define LV_DRILLS_DRILL_H

/* Register the drills' catalog-rebuild step (drill history from drills/ in the repository). */
void lv_drill_register(void);

#endif
