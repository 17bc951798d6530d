/* dsp: hd_dsp_resample_clock moves samples taken by a clock at rate_hz onto
 * the nominal rate: tones sampled by a fast clock, resampled, match the
 * same tones sampled at the nominal rate; nothing happens when the rate is
 * unknown or the drift is below a thousandth of a sample. */
#include "core/alloc.h"
#include "dsp/dsp.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FS 12000.0
#define N 48000 /* 4 s */

/* a complex tone at f Hz sampled at t = n / rate */
static void tone(float *x, int n, double f, double rate)
{
    for (int i = 0; i < n; i++) {
        double ph = 2 * M_PI * f * i / rate;
        x[2 * i] = (float)cos(ph);
        x[2 * i + 1] = (float)sin(ph);
    }
}

int main(void)
{
    plan_no_plan();
    float *x = hd_aligned_alloc(2 * N + 2, sizeof *x), *want = hd_aligned_alloc(2 * N + 2, sizeof *want),
          *scratch = hd_aligned_alloc(2 * N + 2, sizeof *scratch);
    if (!x || !want || !scratch)
        return 1;
    /* 40 ppm fast: 1.9 samples of drift over the capture */
    const double rate = FS * (1 + 40e-6);
    const double freqs[] = {0, 150, 1000, -2500, 4000, 4800};
    for (size_t k = 0; k < sizeof freqs / sizeof freqs[0]; k++) {
        double f = freqs[k];
        tone(x, N, f, rate);
        tone(want, N, f, FS);
        ok(hd_dsp_resample_clock(x, N, FS, rate, scratch) == 0, "%.0f Hz resampled", f);
        double e2 = 0, p2 = 0;
        for (int i = 16; i < N - 16; i++) { /* away from the ends (zero beyond the capture) */
            double dr = x[2 * i] - want[2 * i], di = x[2 * i + 1] - want[2 * i + 1];
            e2 += dr * dr + di * di;
            p2 += 1;
        }
        double rel_db = 10 * log10(e2 / p2 + 1e-30);
        double bound = -60; /* up to 0.4 fs: a KiwiSDR's passband */
        ok(rel_db < bound, "%.0f Hz (%.2f fs): error %.1f dB below the tone (< %.0f dB)", f, f / FS, rel_db, bound);
    }
    /* unknown or tiny: untouched, bit for bit */
    tone(x, N, 1000, FS);
    memcpy(want, x, (size_t)2 * N * sizeof *x);
    ok(hd_dsp_resample_clock(x, N, FS, NAN, scratch) == 0 && memcmp(x, want, (size_t)2 * N * sizeof *x) == 0,
       "rate unknown (NaN): untouched");
    ok(hd_dsp_resample_clock(x, N, FS, 0, scratch) == 0 && memcmp(x, want, (size_t)2 * N * sizeof *x) == 0,
       "rate unknown (0): untouched");
    ok(hd_dsp_resample_clock(x, N, FS, FS * (1 + 1e-8), scratch) == 0 &&
           memcmp(x, want, (size_t)2 * N * sizeof *x) == 0,
       "0.01 ppm over 4 s (0.0005 samples): untouched");
    ok(hd_dsp_clock_drift_small(N, FS, FS * (1 + 1e-8)) && !hd_dsp_clock_drift_small(N, FS, rate),
       "drift_small: 0.01 ppm yes, 40 ppm no");
    ok(hd_dsp_resample_clock(x, 0, FS, rate, scratch) < 0, "no samples: an error");
    /* a clock 1000 ppm fast recorded 48 samples less than the nominal time
     * span: the output's end, past what it recorded, is zero, not garbage */
    tone(x, N, 1000, FS * (1 + 1000e-6));
    ok(hd_dsp_resample_clock(x, N, FS, FS * (1 + 1000e-6), scratch) == 0, "1000 ppm fast resampled");
    int zero_tail = 1;
    for (int i = N - 20; i < N; i++)
        zero_tail &= x[2 * i] == 0 && x[2 * i + 1] == 0;
    ok(zero_tail, "the last 20 samples, past what the fast clock recorded, are zero");
    free(x);
    free(want);
    free(scratch);
    done_testing();
    return exit_status();
}
