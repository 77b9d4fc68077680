/* stub until the drills module lands */
#include "drills/drill.h"

void lv_drill_register(void)
{
}
