/* libFuzzer target: the model reader hd_nn_model_load (src/nn/model.c) on a
 * real model.h5 (the seed, $HD_FUZZ_SEEDS/model.h5, made by `make fuzz`)
 * edited by the input (tests/fuzz/fuzz_util.h: values overwritten,
 * datasets and attributes deleted, reshaped, retyped): a model it accepts
 * has the parameters its architecture says. */
#include "fuzz_util.h"
#include "nn/model.h"

FZ_SEED_TARGET("model.h5")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fz_h5_mutate(fz_seed, data, size);
    if (!p)
        return 0;
    hd_nn_model M;
    memset(&M, 0, sizeof M);
    if (hd_nn_model_load(&M, p) == 0) {
        if (M.A.n_params == 0 || !M.params || !M.best || M.R < 0 || M.R > HD_MAX_STATIONS)
            abort();
        volatile float sum = 0; /* every parameter readable (ASan checks the bounds) */
        for (size_t i = 0; i < M.A.n_params; i++)
            sum += M.best[i];
        (void)sum;
        hd_nn_model_release(&M);
    }
    return 0;
}
