/* stub until the pg manifest codec lands */
#include "manifests/pgman.h"

void lv_pgman_register(void)
{
}
