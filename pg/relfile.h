/* A relation file's locator as the WAL and the block maps name it: tablespace, database (0: shared
 * catalogs) and relfilenode. The one order of lists keyed by it (block maps, row counts, the WAL's rows). */
#ifndef LV_PG_RELFILE_H
#define LV_PG_RELFILE_H

#include <stdint.h>

/* <0, 0, >0 as (spc, db, rel) a sorts before, with or after b. */
static inline int lv_relfile_cmp(uint32_t a_spc, uint32_t a_db, uint32_t a_rel, uint32_t b_spc, uint32_t b_db,
                                 uint32_t b_rel)
{
    if (a_spc != b_spc)
        return a_spc < b_spc ? -1 : 1;
    if (a_db != b_db)
        return a_db < b_db ? -1 : 1;
    return a_rel < b_rel ? -1 : a_rel > b_rel;
}

#endif
