/* libFuzzer target: the calibration reader hd_calib_load (src/eval/
 * calibrate.c) on a real calib.h5 (the seed, $HD_FUZZ_SEEDS/calib.h5, made
 * by `make fuzz`) edited by the input (tests/fuzz/fuzz_util.h: values
 * overwritten, datasets and attributes deleted, reshaped, retyped). What
 * it accepts is applied to the seed's own receivers without failing. */
#include "eval/calibrate.h"
#include "fuzz_util.h"

FZ_SEED_TARGET("calib.h5")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fz_h5_mutate(fz_seed, data, size);
    if (!p)
        return 0;
    hd_calib c;
    memset(&c, 0, sizeof c);
    if (hd_calib_load(&c, p) == 0) {
        if (c.R < 0 || c.R > HD_MAX_STATIONS || c.n_events < 0)
            abort();
        hd_localize_cfg cfg;
        memset(&cfg, 0, sizeof cfg);
        hd_calib_apply(&c, p, c.st, c.R, &cfg);
        hd_calib_release(&c);
    }
    return 0;
}
