/* libFuzzer target: the POWDER reader (src/formats/powder.c) over arbitrary
 * receivers and samples CSV files: the input is the receivers file, a NUL,
 * then the samples file; read in UTC (odd sizes) or America/Denver. What it
 * accepts must hold together: times in order of blocks, heard only where
 * RSS is finite. */
#include "formats/powder.h"
#include "fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    const uint8_t *rx, *csv;
    size_t nrx = fz_part(data, size, &off, &rx), ncsv = fz_part(data, size, &off, &csv);
    const char *prx = fz_file("receivers.csv", rx, nrx), *pcsv = fz_file("samples.csv", csv, ncsv);
    hd_powder p;
    memset(&p, 0, sizeof p);
    if (hd_powder_read(&p, pcsv, prx, 2 + (int)(size % 3), size % 2 ? "UTC" : "America/Denver") == 0) {
        if (p.R < 0 || p.R > HD_MAX_STATIONS || p.E < 0)
            abort();
        for (int64_t e = 0; e < p.E; e++) {
            if (p.block[e] < 0 || p.block[e] >= p.n_blocks || p.month[e] < 1 || p.month[e] > 12)
                abort();
            for (int r = 0; r < p.R; r++)
                if (p.heard[e * p.R + r] && !isfinite(p.rss[e * p.R + r]))
                    abort();
        }
        hd_powder_release(&p);
    }
    return 0;
}
