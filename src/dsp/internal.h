/* Internal to src/dsp: what the local and distributed correlators share. */
#ifndef HD_DSP_INTERNAL_H
#define HD_DSP_INTERNAL_H
#include "dsp/dsp.h"
#include <math.h>

/* The hot loops over spectra in an AVX2 copy beside the baseline one, the
 * copy chosen when the program starts (GCC function multiversioning, an
 * ifunc): twice the vector width where the CPU has it, and the same binary
 * on one without. AVX2 alone, not FMA: GCC's vectoriser fuses complex
 * products into vfmaddsub even under -ffp-contract=off, which rounds
 * differently; without FMA both copies give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define HD_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define HD_SIMD
#endif

/* hd_dsp_net's correlation: 1 (the default) computed only at the lags a
 * pair searches (a pruned inverse transform), 0 by a whole inverse
 * transform. Tests set it to compare the two. */
extern int hd_dsp_net_pruned_inverse;

/* hd_dsp_spectral_shape that also gives the floor per bin it found
 * (hd_dsp_noise_floor_shape(psd, nfft, 0.3, shape)) */
int hd_dsp_spectral_shape_floor(const float *psd, int nfft, double shape, double fs, hd_spectral *o, double *floor_out);

/* The lags to search: center ± max_lag (in samples), within the overlap of
 * two n-sample captures. Returns 0 when the window misses the overlap. */
static inline int hd_dsp_lag_window(double center_s, double max_lag_s, double fs, int n, int *lo, int *hi)
{
    int center = (int)lround(center_s * fs), maxlag = (int)ceil(max_lag_s * fs);
    if (maxlag < 1)
        maxlag = 1;
    *lo = center - maxlag;
    *hi = center + maxlag;
    if (*lo < -(n - 1))
        *lo = -(n - 1);
    if (*hi > n - 1)
        *hi = n - 1;
    return *lo <= *hi;
}

/* Cramér–Rao bound of a time difference between two noisy copies of a
 * signal with RMS bandwidth beta: 1 / (2π β sqrt(2 n snr_eff)),
 * snr_eff = sa sb / (1 + sa + sb) (linear, full band). */
static inline double hd_dsp_tdoa_crlb(int n, double fs, double snr_a, double snr_b, double rms_bw_hz)
{
    double sa = snr_a > 0 ? snr_a : 0, sb = snr_b > 0 ? snr_b : 0, seff = sa * sb / (1 + sa + sb);
    double beta = rms_bw_hz > 0 ? rms_bw_hz : fs / 12;
    return seff > 0 ? 1.0 / (2 * M_PI * beta * sqrt(2.0 * n * seff)) : INFINITY;
}

/* atan2 by a minimax polynomial: max error 1e-5 rad, far below what a
 * phase-slope fit over hundreds of bins notices, and several times faster. */
static inline double fast_atan2(double y, double x)
{
    double ax = fabs(x), ay = fabs(y), mx = ax > ay ? ax : ay;
    if (mx == 0)
        return 0;
    double a = (ax < ay ? ax : ay) / mx, s2 = a * a;
    double r = ((-0.0464964749 * s2 + 0.15931422) * s2 - 0.327622764) * s2 * a + a;
    if (ay > ax)
        r = M_PI_2 - r;
    if (x < 0)
        r = M_PI - r;
    return y < 0 ? -r : r;
}

#endif
