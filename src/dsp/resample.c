/* A receiver's samples moved onto the nominal time base: its clock, fitted
 * to its GPS time stamps, runs at rate_hz where the header says fs. Sample
 * n of the output is the input at time n / fs, that is at input index
 * n * rate_hz / fs, interpolated by a windowed sinc (16 taps each side,
 * Blackman window) read from a table of TABLE fractional delays with linear
 * interpolation between them: for signals below 0.4 fs the error is far
 * below the captures' 16-bit noise. */
#include "dsp/dsp.h"
#include "core/alloc.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HALF 16
#define TAPS (2 * HALF)
#define TABLE 512

static float kernel[TABLE + 1][TAPS];
static int kernel_made;

static void make_kernel(void)
{
    for (int t = 0; t <= TABLE; t++) {
        double frac = (double)t / TABLE; /* the point lies frac after tap HALF-1 */
        double sum = 0, k[TAPS];
        for (int m = 0; m < TAPS; m++) {
            double x = (double)(m - (HALF - 1)) - frac; /* the tap's distance from the point */
            double s = fabs(x) < 1e-12 ? 1.0 : sin(M_PI * x) / (M_PI * x);
            double u = (x + HALF) / (2.0 * HALF); /* 0..1 over the window */
            double w = u <= 0 || u >= 1 ? 0 : 0.42 - 0.5 * cos(2 * M_PI * u) + 0.08 * cos(4 * M_PI * u);
            k[m] = s * w;
            sum += k[m];
        }
        for (int m = 0; m < TAPS; m++)
            kernel[t][m] = (float)(k[m] / sum); /* unit gain at DC */
    }
    kernel_made = 1;
}

int hd_dsp_clock_drift_small(int n, double fs, double rate_hz)
{
    return !(rate_hz > 0) || !(fs > 0) || fabs(rate_hz / fs - 1.0) * n < 1e-3;
}

int hd_dsp_resample_clock(float *x, int n, double fs, double rate_hz, float *scratch)
{
    if (n <= 0 || !(fs > 0))
        return hd_error(HD_EINVAL, "resample: %d samples at %g Hz", n, fs);
    if (hd_dsp_clock_drift_small(n, fs, rate_hz))
        return 0; /* less than a thousandth of a sample over the capture */
    if (!kernel_made)
        make_kernel(); /* deterministic; computed identically by any caller */
    const double step = rate_hz / fs;
    memcpy(scratch, x, (size_t)n * 2 * sizeof *x);
    for (int o = 0; o < n; o++) {
        double u = o * step;
        long i0 = (long)floor(u);
        double frac = u - (double)i0;
        double tf = frac * TABLE;
        int t = (int)tf;
        if (t >= TABLE)
            t = TABLE - 1;
        float a = (float)(tf - t);
        const float *k0 = kernel[t], *k1 = kernel[t + 1];
        float re = 0, im = 0;
        long first = i0 - (HALF - 1);
        for (int m = 0; m < TAPS; m++) {
            long j = first + m;
            if (j < 0 || j >= n)
                continue; /* beyond the capture: zero */
            float k = k0[m] + a * (k1[m] - k0[m]);
            re += k * scratch[2 * j];
            im += k * scratch[2 * j + 1];
        }
        x[2 * o] = re;
        x[2 * o + 1] = im;
    }
    return 0;
}
