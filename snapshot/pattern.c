/* Shell patterns for snapshot paths (contract in snapshot/pattern.h). */
#include "snapshot/pattern.h"

#include <fnmatch.h>
#include <string.h>

int lv_path_pattern_match(const char *pattern, const char *path, const char *name)
{
    if (strchr(pattern, '/'))
        return fnmatch(pattern, path, FNM_PATHNAME | FNM_PERIOD) == 0;
    return fnmatch(pattern, name, 0) == 0;
}
