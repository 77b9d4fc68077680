/* libFuzzer target for the block map parser (wal/blockmap.h), which reads objects from the repository and
 * rows from the catalog. Besides "no crash, no leak, no undefined behaviour": whatever lv_blkmap_parse
 * accepts encodes back to exactly the input (the layout is canonical), and its union (wal/blockset.h)
 * names every run's first and last block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "wal/blockmap.h"
#include "wal/blockset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_blkmap m;
    if (lv_blkmap_parse(data, size, &m) != LV_OK) {
        lv_err_clear();
        return 0;
    }
    lv_buf e = LV_BUF_INIT;
    lv_blkmap_encode(&m, &e);
    if (e.len != size || memcmp(e.data, data, size) != 0)
        abort();
    lv_buf_free(&e);
    lv_blkset *s = lv_blkset_new();
    lv_blkset_add(s, &m);
    for (uint32_t i = 0; i < m.nforks; i++) {
        const lv_blkmap_fork *f = &m.forks[i];
        const lv_blkset_fork *sf = lv_blkset_fork_get(s, f->spc, f->db, f->rel, f->fork);
        if (!sf)
            abort();
        for (uint32_t r = 0; r < f->nruns; r++)
            if (!lv_blkset_has(sf, f->runs[r].first) || !lv_blkset_has(sf, f->runs[r].first + f->runs[r].count - 1))
                abort();
    }
    lv_blkset_free(s);
    lv_blkmap_free(&m);
    return 0;
}
