/* libFuzzer target: the KiwiSDR wav reader over arbitrary bytes (make fuzz).
 * fuzz-sources: src/formats/kiwiwav.c src/core/error.c src/core/alloc.c src/core/util.c */
#include "core/error.h"
#include "formats/kiwiwav.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_kiwiwav w;
    if (hd_kiwiwav_parse(&w, data, size) == 0) {
        /* what a reader promises: samples counted by the blocks, a finite clock */
        int64_t n = 0;
        for (int k = 0; k < w.n_blocks; k++)
            n += w.blocks[k].n_samples;
        if (n != w.n_samples || !(w.fit_rate_hz > 0))
            abort();
        hd_kiwiwav_release(&w);
    }
    return 0;
}
