/* Spectra, SNR, frequency offset and GCC-PHAT time differences over FFTW
 * single precision. */
#include "dsp/dsp.h"
#include "dsp/internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/progress.h" /* hd_now */

#include <complex.h>
#include <fftw3.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- plan cache ------------------------------------------------------------ */

struct hd_fft_plan {
    int n, sign, howmany; /* howmany 0: one transform; else hd_fft_plan_many_t's */
    fftwf_plan inplace, outofplace;
};

/* the featurizer's pruned correlations plan up to six batches per
 * inverse size besides the sizes themselves */
#define MAX_PLANS 1024
static hd_fft_plan plans[MAX_PLANS];
static int n_plans = 0;
/* -1 not yet known; 0 estimated plans (plan_one); 1 measured
 * (HD_FFTW_MEASURE=1, hd_fft_measure); 2 a wisdom file was loaded: its
 * measured plans, and the estimated one for a size it lacks */
static int measure = -1;

/* A plan without measuring: FFTW_ESTIMATE's plan, or the one it makes
 * without buffering when FFTW's own cost model (fftwf_estimate_cost, not a
 * timing: the same plan on every run and rank) prices that lower. The
 * estimated plan of 8,192 points copies its data through 32 buffers of
 * 256 (21 µs here); without buffering it takes 13-16 µs, the measured plan
 * 13.8 µs. For 6,144 or 3,072 the buffered plan is both cheaper in the
 * model and faster, and is kept. */
static fftwf_plan plan_many_t(int n, int howmany, fftwf_complex *in, fftwf_complex *out, int sign, int measured)
{
    int dir = sign < 0 ? FFTW_FORWARD : FFTW_BACKWARD;
    if (measured == 1)
        return fftwf_plan_many_dft(1, &n, howmany, in, NULL, howmany, 1, out, NULL, howmany, 1, dir, FFTW_MEASURE);
    fftwf_plan p = measured == 2 ? fftwf_plan_many_dft(1, &n, howmany, in, NULL, howmany, 1, out, NULL, howmany, 1, dir,
                                                       FFTW_MEASURE | FFTW_WISDOM_ONLY)
                                 : NULL;
    if (p)
        return p;
    p = fftwf_plan_many_dft(1, &n, howmany, in, NULL, howmany, 1, out, NULL, howmany, 1, dir, FFTW_ESTIMATE);
    fftwf_plan q =
        fftwf_plan_many_dft(1, &n, howmany, in, NULL, howmany, 1, out, NULL, howmany, 1, dir, FFTW_ESTIMATE | FFTW_NO_BUFFERING);
    if (p && q && fftwf_estimate_cost(q) < fftwf_estimate_cost(p)) {
        fftwf_destroy_plan(p);
        return q;
    }
    if (q)
        fftwf_destroy_plan(q);
    return p;
}

/* one transform of n: howmany 1 (FFTW reduces it to the same 1-D problem
 * as fftwf_plan_dft_1d) */
static fftwf_plan plan_one(int n, fftwf_complex *in, fftwf_complex *out, int sign, int measured)
{
    return plan_many_t(n, 1, in, out, sign, measured);
}

/* The plan of n points, howmany (0: a single transform) and sign made
 * before, else NULL with *slot the next free place (NULL when none is left). */
static const hd_fft_plan *plan_find(int n, int howmany, int sign, hd_fft_plan **slot)
{
    for (int i = 0; i < n_plans; i++)
        if (plans[i].n == n && plans[i].sign == sign && plans[i].howmany == howmany)
            return &plans[i];
    *slot = n_plans < MAX_PLANS ? &plans[n_plans] : NULL;
    if (measure < 0) {
        const char *m = getenv("HD_FFTW_MEASURE");
        measure = m && m[0] == '1';
    }
    return NULL;
}

const hd_fft_plan *hd_fft_plan_get(int n, int sign)
{
    if (n < 1)
        return hd_error(HD_EINVAL, "FFT size %d", n), NULL;
    hd_fft_plan *p;
    const hd_fft_plan *made = plan_find(n, 0, sign, &p);
    if (made)
        return made;
    if (!p)
        return hd_error(HD_ENOMEM, "too many FFT sizes in use"), NULL;
    fftwf_complex *a = fftwf_alloc_complex((size_t)n), *b = fftwf_alloc_complex((size_t)n);
    if (!a || !b) {
        fftwf_free(a);
        fftwf_free(b);
        return hd_error(HD_ENOMEM, "cannot allocate FFT buffers of %d", n), NULL;
    }
    p->n = n;
    p->sign = sign;
    p->howmany = 0;
    /* the out-of-place plan is made when first used (hd_fft_execute): most
     * sizes are only ever transformed in place, and planning one costs
     * about as much as a hundred transforms */
    p->inplace = plan_one(n, a, a, sign, measure);
    p->outofplace = NULL;
    fftwf_free(a);
    fftwf_free(b);
    if (!p->inplace)
        return hd_error(HD_EIO, "FFTW could not plan a transform of %d", n), NULL;
    n_plans++;
    return p;
}

/* p's out-of-place plan, made on first use (planned on buffers of its own:
 * a measured plan overwrites them); NULL when FFTW cannot make it */
static fftwf_plan outofplace(const hd_fft_plan *p)
{
    if (p->outofplace)
        return p->outofplace;
    fftwf_complex *a = fftwf_alloc_complex((size_t)p->n), *b = fftwf_alloc_complex((size_t)p->n);
    fftwf_plan q = a && b ? plan_one(p->n, a, b, p->sign, measure) : NULL;
    fftwf_free(a);
    fftwf_free(b);
    ((hd_fft_plan *)p)->outofplace = q; /* plans[] is not const: the cache fills itself */
    return q;
}

const hd_fft_plan *hd_fft_plan_many_t(int n, int howmany, int sign)
{
    if (n < 1 || howmany < 1)
        return hd_error(HD_EINVAL, "FFT size %d × %d", n, howmany), NULL;
    hd_fft_plan *p;
    const hd_fft_plan *made = plan_find(n, howmany, sign, &p);
    if (made)
        return made;
    if (!p)
        return hd_error(HD_ENOMEM, "too many FFT sizes in use"), NULL;
    size_t tot = (size_t)n * howmany;
    fftwf_complex *a = fftwf_alloc_complex(tot), *b = fftwf_alloc_complex(tot);
    if (!a || !b) {
        fftwf_free(a);
        fftwf_free(b);
        return hd_error(HD_ENOMEM, "cannot allocate FFT buffers of %d × %d", n, howmany), NULL;
    }
    p->n = n;
    p->sign = sign;
    p->howmany = howmany;
    p->inplace = NULL;
    p->outofplace = plan_many_t(n, howmany, a, b, sign, measure);
    fftwf_free(a);
    fftwf_free(b);
    if (!p->outofplace)
        return hd_error(HD_EIO, "FFTW could not plan %d transforms of %d", howmany, n), NULL;
    n_plans++;
    return p;
}

static int profiling;
static double fft_s;

void hd_fft_profile(int on)
{
    profiling = on;
}

double hd_fft_seconds(void)
{
    return fft_s;
}

void hd_fft_execute(const hd_fft_plan *p, const float *in, float *out)
{
    double t0 = profiling ? hd_now() : 0;
    fftwf_plan q = in == out ? p->inplace : outofplace(p);
    if (q)
        fftwf_execute_dft(q, (fftwf_complex *)in, (fftwf_complex *)out);
    else { /* no out-of-place plan to be had (no memory): in place on out */
        memmove(out, in, (size_t)p->n * 2 * sizeof *out);
        fftwf_execute_dft(p->inplace, (fftwf_complex *)out, (fftwf_complex *)out);
    }
    if (profiling)
        fft_s += hd_now() - t0;
}

int hd_fft_wisdom_load(const char *path)
{
    if (!fftwf_import_wisdom_from_filename(path))
        return hd_error(HD_EIO, "cannot read FFTW wisdom %s", path);
    /* the file's measured plans; a size it lacks is estimated, never
     * measured here: ranks measuring apart could choose different plans,
     * whose last bits differ */
    measure = 2;
    return 0;
}

void hd_fft_measure(void)
{
    measure = 1;
}

int hd_fft_wisdom_save(const char *path)
{
    return fftwf_export_wisdom_to_filename(path) ? 0 : hd_error(HD_EIO, "cannot write FFTW wisdom %s", path);
}

void hd_fft_cleanup(void)
{
    for (int i = 0; i < n_plans; i++) {
        if (plans[i].inplace)
            fftwf_destroy_plan(plans[i].inplace);
        if (plans[i].outofplace)
            fftwf_destroy_plan(plans[i].outofplace);
    }
    n_plans = 0;
    fftwf_cleanup();
}

/* A size FFTW does well: 2^a 3^b 5^c. */
static int good_size(int n)
{
    for (int m = n;; m++) {
        int r = m;
        while (r % 2 == 0) r /= 2;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        if (r == 1)
            return m;
    }
}


/* ---- Welch ---------------------------------------------------------------- */

/* Welch: segments of nfft every nfft/2 (periodic Hann). A capture shorter
 * than nfft is one segment, Hann-windowed over its own n samples and zero
 * padded to nfft (fine bins, the same scaling). Odd nfft is allowed: psd[k]
 * is the bin at (k - nfft/2) fs/nfft. */
int hd_dsp_welch(const float *x, int n, int nfft, float *psd)
{
    if (!x || !psd || n < 1 || nfft < 2)
        return hd_error(HD_EINVAL, "welch: %d samples, nfft %d", n, nfft);
    const hd_fft_plan *p = hd_fft_plan_get(nfft, -1);
    if (!p)
        return HD_ENOMEM;
    float *buf = hd_aligned_alloc((size_t)nfft * 2, sizeof *buf);
    double *acc = hd_calloc((size_t)nfft, sizeof *acc);
    float *w = hd_malloc((size_t)nfft * sizeof *w);
    if (!buf || !acc || !w) {
        free(buf);
        free(acc);
        free(w);
        return HD_ENOMEM;
    }
    int len = n < nfft ? n : nfft; /* window length */
    double w2 = 0;
    for (int i = 0; i < nfft; i++) {
        w[i] = i < len && len > 1 ? (float)(0.5 - 0.5 * cos(2 * M_PI * i / len)) : (i < len ? 1.0f : 0.0f);
        w2 += (double)w[i] * w[i];
    }
    int hop = nfft / 2, segs = hd_dsp_welch_segments(n, nfft);
    for (int s = 0; s < segs; s++) {
        int off = s * hop;
        for (int i = 0; i < nfft; i++) {
            int j = off + i;
            buf[2 * i] = j < n ? x[2 * j] * w[i] : 0.0f;
            buf[2 * i + 1] = j < n ? x[2 * j + 1] * w[i] : 0.0f;
        }
        hd_fft_execute(p, buf, buf);
        for (int k = 0; k < nfft; k++)
            acc[k] += (double)buf[2 * k] * buf[2 * k] + (double)buf[2 * k + 1] * buf[2 * k + 1];
    }
    /* E|X_k|² = P Σw² for white noise of power P: the nfft bins sum to P */
    double norm = 1.0 / ((double)segs * nfft * (w2 > 0 ? w2 : 1));
    for (int k = 0; k < nfft; k++) /* FFT shift: psd[0] is the lowest bin, psd[nfft/2] DC */
        psd[k] = (float)(acc[(k + nfft - nfft / 2) % nfft] * norm);
    free(buf);
    free(acc);
    free(w);
    return 0;
}

int hd_dsp_welch_segments(int n, int nfft)
{
    if (n < 1 || nfft < 2)
        return 0;
    return n >= nfft ? 1 + (n - nfft) / (nfft / 2) : 1;
}

/* ---- noise floor and summary ---------------------------------------------------- */

/* The k-th smallest of v[0..n) (v's storage is used as scratch; finite
 * values): a radix selection on the values' bits ordered as unsigned keys,
 * eight bits a pass from the top, without a data-dependent branch in the
 * counting (Hoare's selection mispredicted its way through 256 PSD bins per
 * receiver). After each pass only the keys in the chosen bucket stay
 * candidates (moved to the front), so later passes count few; a handful
 * left are sorted. The k-th value is the same whatever the method. */
static float select_kth(float *v, int n, int k)
{
    uint32_t *key = (uint32_t *)(void *)v; /* each written from its own float (memcpy) */
    for (int i = 0; i < n; i++) {
        float f = v[i] == 0 ? 0.0f : v[i]; /* -0 as +0 */
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
        memcpy(&key[i], &u, sizeof u);
    }
    int m = n; /* candidates key[0..m): the k-th smallest is the k-th of them */
    for (int shift = 24; shift >= 0 && m > 8; shift -= 8) {
        int cnt[256] = {0};
        unsigned lo = 255;
        for (int i = 0; i < m; i++) {
            unsigned b = (key[i] >> shift) & 255;
            cnt[b]++;
            lo = b < lo ? b : lo;
        }
        unsigned d = lo;
        while (d < 255 && k >= cnt[d])
            k -= cnt[d++];
        int j = 0;
        for (int i = 0; i < m; i++) {
            uint32_t u = key[i];
            key[j] = u;
            j += ((u >> shift) & 255) == d;
        }
        m = j;
    }
    for (int i = 1; i < m; i++) { /* the few left: insertion sort */
        uint32_t u = key[i];
        int j = i;
        for (; j > 0 && key[j - 1] > u; j--)
            key[j] = key[j - 1];
        key[j] = u;
    }
    uint32_t u = key[k];
    u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

double hd_dsp_noise_floor(const float *psd, int nfft, double fraction, int n_avg)
{
    /* NAN (with a message) for arguments no floor can come from */
    if (!psd || nfft < 2 || !(fraction > 0 && fraction <= 1) || n_avg < 1)
        return hd_error(HD_EINVAL, "noise floor: nfft %d, fraction %g, %d segments", nfft, fraction, n_avg), NAN;
    /* the q-quantile of the bins (q = fraction / 2: the median of the
     * lowest `fraction`), divided by the same quantile of a periodogram
     * average of white noise, Gamma(k, 1/k). k is the segments' equivalent
     * number: 50 %-overlapped Hann periodograms of one bin correlate by
     * (1/6)² = 1/36 between neighbours, so the variance of the average of K
     * is (1 + 2 (K-1)/(36 K)) / K, and k matches it. The quantile is taken
     * at the order statistic's own probability, (idx + 1) / (nfft + 1). */
    double K = n_avg;
    return hd_dsp_noise_floor_shape(psd, nfft, fraction, K / (1 + (K - 1) / (18 * K)));
}

double hd_dsp_noise_floor_shape(const float *psd, int nfft, double fraction, double k)
{
    if (!psd || nfft < 2 || !(fraction > 0 && fraction <= 1) || !(k > 0))
        return hd_error(HD_EINVAL, "noise floor: nfft %d, fraction %g, shape %g", nfft, fraction, k), NAN;
    float *s = hd_malloc((size_t)nfft * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, psd, (size_t)nfft * sizeof *s);
    int idx = (int)floor(fraction / 2 * (nfft - 1));
    double v = select_kth(s, nfft, idx);
    /* the quantile (GSL's inverse Gamma CDF, iterative) of the last
     * arguments kept: a featurizer asks the same one for every receiver */
    static _Thread_local int memo_idx = -1, memo_nfft;
    static _Thread_local double memo_k, memo_gq;
    if (memo_idx != idx || memo_nfft != nfft || memo_k != k) {
        memo_gq = gsl_cdf_gamma_Pinv((idx + 1.0) / (nfft + 1.0), k, 1.0 / k);
        memo_idx = idx;
        memo_nfft = nfft;
        memo_k = k;
    }
    double gq = memo_gq;
    free(s);
    return gq > 0 ? v / gq : NAN;
}

int hd_dsp_spectral(const float *psd, int nfft, int n_avg, double fs, hd_spectral *o)
{
    if (!psd || !o || nfft < 2 || n_avg < 1 || !(fs > 0))
        return hd_error(HD_EINVAL, "spectral summary: nfft %d, %d segments, %g Hz", nfft, n_avg, fs);
    double K = n_avg;
    return hd_dsp_spectral_shape(psd, nfft, K / (1 + (K - 1) / (18 * K)), fs, o);
}

int hd_dsp_spectral_shape(const float *psd, int nfft, double shape, double fs, hd_spectral *o)
{
    double fl;
    return hd_dsp_spectral_shape_floor(psd, nfft, shape, fs, o, &fl);
}

int hd_dsp_spectral_shape_floor(const float *psd, int nfft, double shape, double fs, hd_spectral *o, double *floor_out)
{
    if (!psd || !o || nfft < 2 || !(shape > 0) || !(fs > 0))
        return hd_error(HD_EINVAL, "spectral summary: nfft %d, shape %g, %g Hz", nfft, shape, fs);
    memset(o, 0, sizeof *o);
    double total = 0;
    for (int k = 0; k < nfft; k++)
        total += psd[k];
    if (!isfinite(total))
        return hd_error(HD_EDATA, "spectral summary: the spectrum is not finite");
    double floor_bin = hd_dsp_noise_floor_shape(psd, nfft, 0.3, shape);
    if (!(floor_bin >= 0))
        return floor_bin != floor_bin ? HD_ENOMEM : hd_error(HD_EDATA, "spectral summary: negative power in the spectrum");
    *floor_out = floor_bin;
    o->total_power = total;
    o->noise_power = floor_bin * nfft;
    /* a noise-only capture can measure a little below its floor: the signal
     * is then 1e-6 of the noise (snr_db -60). With no noise at all, a
     * noiseless signal reads +300 dB and an all-zero capture -60 dB (nothing
     * heard), so every field stays finite. */
    double tiny = 1e-30 + 1e-6 * o->noise_power;
    o->signal_power = total - o->noise_power > tiny ? total - o->noise_power : tiny;
    o->snr_db = o->noise_power > 0 ? 10 * log10(o->signal_power / o->noise_power) : total > 0 ? 300.0 : -60.0;
    o->rss_dbfs = 10 * log10(total > 1e-30 ? total : 1e-30);
    double df = fs / nfft;
    /* centroid and RMS bandwidth of the power above the floor */
    double sp = 0, sf = 0, sf2 = 0;
    int peak = 0;
    /* only bins clearly above the floor: the positive half of the noise
     * bins' fluctuation would otherwise widen every signal to the band */
    double clear = 2.0 * floor_bin;
    for (int k = 0; k < nfft; k++) {
        double e = psd[k] - floor_bin;
        if (psd[k] > psd[peak])
            peak = k;
        if (psd[k] <= clear)
            continue;
        double f = (k - nfft / 2) * df;
        sp += e;
        sf += e * f;
        sf2 += e * f * f;
    }
    if (sp > 0) {
        o->freq_offset_hz = sf / sp;
        double var = sf2 / sp - o->freq_offset_hz * o->freq_offset_hz;
        o->rms_bw_hz = var > 0 ? sqrt(var) : df / 2;
    } else {
        o->rms_bw_hz = df / 2;
    }
    /* peak with Gaussian (log-parabolic) interpolation */
    double fpk = (peak - nfft / 2) * df;
    if (peak > 0 && peak < nfft - 1 && psd[peak - 1] > 0 && psd[peak + 1] > 0 && psd[peak] > 0) {
        double a = log(psd[peak - 1]), b = log(psd[peak]), c = log(psd[peak + 1]);
        double den = a - 2 * b + c;
        if (den < 0)
            fpk += 0.5 * (a - c) / den * df;
    }
    o->peak_freq_hz = fpk;
    /* occupied bandwidth: 99 % of the power above the floor, around the centroid */
    if (sp > 0) {
        double lo = 0, hi = 0, acc = 0;
        int klo = -1, khi = nfft;
        for (int k = 0; k < nfft && acc < 0.005 * sp; k++) {
            double e = psd[k] - floor_bin;
            acc += psd[k] > clear ? e : 0;
            klo = k;
        }
        acc = 0;
        for (int k = nfft - 1; k >= 0 && acc < 0.005 * sp; k--) {
            double e = psd[k] - floor_bin;
            acc += psd[k] > clear ? e : 0;
            khi = k;
        }
        lo = (klo - nfft / 2) * df;
        hi = (khi - nfft / 2) * df;
        o->occupied_bw_hz = hi > lo ? hi - lo + df : df;
    }
    return 0;
}

int hd_dsp_analyze(const float *x, int n, int nfft, double fs, float *psd, hd_spectral *o)
{
    int rc = hd_dsp_welch(x, n, nfft, psd);
    if (rc < 0 || (rc = hd_dsp_spectral(psd, nfft, hd_dsp_welch_segments(n, nfft), fs, o)) < 0)
        return rc;
    hd_dsp_m2m4(x, n, o);
    return 0;
}

/* hd_dsp_m2m4 is in net.c (built at -O3: its sums vectorise) */

static inline float abs2f(float complex z)
{
    return crealf(z) * crealf(z) + cimagf(z) * cimagf(z);
}

/* ---- GCC-PHAT ----------------------------------------------------------------------- */

int hd_dsp_xcorr_size(int n)
{
    return good_size(2 * n);
}

int hd_dsp_spectrum(const float *x, int n, float *X)
{
    int M = good_size(2 * n);
    const hd_fft_plan *pf = hd_fft_plan_get(M, -1);
    if (!pf)
        return HD_ENOMEM;
    if (X != x) /* in place is allowed */
        memcpy(X, x, (size_t)n * 2 * sizeof(float));
    memset(X + 2 * n, 0, (size_t)(M - n) * 2 * sizeof(float));
    hd_fft_execute(pf, X, X);
    return 0;
}

/* GCC-PHAT from two zero-padded spectra (hd_dsp_spectrum). refine: fit the
 * phase slope for a sub-sample delay (else the parabolic peak only). */
static int gcc_core(const float complex *SA, const float complex *SB, int n, double fs, double center_s, double max_lag_s,
                    double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, int refine, hd_xcorr *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (n < 4 || fs <= 0)
        return hd_error(HD_EINVAL, "gcc-phat: %d samples at %g Hz", n, fs);
    int M = good_size(2 * n);
    const hd_fft_plan *pb = hd_fft_plan_get(M, +1);
    if (!pb)
        return HD_ENOMEM;
    float complex *A = hd_aligned_alloc((size_t)M, sizeof *A);
    float complex *G = hd_aligned_alloc((size_t)M, sizeof *G);
    float *mag = hd_malloc((size_t)M * sizeof *mag), *sorted = hd_malloc((size_t)M * sizeof *sorted);
    const float complex *B = SB;
    if (!A || !G || !mag || !sorted) {
        rc = HD_ENOMEM;
        goto done;
    }
    memcpy(A, SA, (size_t)M * sizeof *A);

    /* cross-spectrum; the band is where its magnitude stands above the
     * noise-only level (median of the magnitudes, times a margin) */
    for (int k = 0; k < M; k++) {
        G[k] = conjf(A[k]) * B[k];
        mag[k] = sqrtf(abs2f(G[k]));
    }
    /* the lower quartile from every 8th bin: as good an estimate, 8× less work */
    int ns = 0;
    for (int k = 0; k < M; k += 8)
        sorted[ns++] = mag[k];
    float thresh = 4.0f * select_kth(sorted, ns, ns / 4);
    int in_band = 0, strong = 0;
    float mmax = 0;
    for (int k = 0; k < M; k++) {
        in_band += mag[k] > thresh;
        mmax = mag[k] > mmax ? mag[k] : mmax;
    }
    /* a CW carrier's truncation sidelobes stand above a weak noise floor in
     * many bins, and their phases time the capture's edges (lag 0), not the
     * signal: count only the bins within 10 dB of the strongest (a carrier's
     * main lobe is about 3 of them) */
    for (int k = 0; k < M; k++)
        strong += mag[k] > thresh && mag[k] >= 0.1f * mmax;
    /* with no bin standing out (a flat or absent signal) use every bin; such
     * a correlation is never reported valid (nor is a CW carrier's) */
    int use_all = in_band < 8 || strong < 5;
    for (int k = 0; k < M; k++) {
        int keep = use_all || mag[k] > thresh;
        G[k] = keep && mag[k] > 0 ? G[k] / mag[k] : 0.0f;
        mag[k] = keep ? mag[k] : 0.0f; /* weights for the phase fit */
    }
    memcpy(A, G, (size_t)M * sizeof *G);
    hd_fft_execute(pb, (float *)A, (float *)A); /* A: correlation r[lag] */

    int lo, hi;
    if (!hd_dsp_lag_window(center_s, max_lag_s, fs, n, &lo, &hi)) {
        out->delay_s = center_s;
        out->sigma_s = INFINITY;
        goto done; /* the window lies outside any overlap: not valid */
    }
    int best = lo;
    double bestv = -1, sum = 0;
    int cnt = 0;
    for (int l = lo; l <= hi; l++) {
        double v = cabsf(A[(l + M) % M]);
        if (v > bestv) {
            bestv = v;
            best = l;
        }
    }
    for (int l = lo; l <= hi; l++) {
        if (abs(l - best) <= 4)
            continue;
        double v = cabsf(A[(l + M) % M]);
        sum += v * v;
        cnt++;
    }
    /* an all-zero correlation (silent inputs) has no peak: psr 0 dB */
    double side = cnt ? sum / cnt : 0;
    out->psr_db = bestv > 0 ? 10 * log10(bestv * bestv / (side > 1e-30 * bestv * bestv ? side : 1e-30 * bestv * bestv)) : 0;
    int n_used = 0;
    for (int k = 0; k < M; k++)
        n_used += mag[k] > 0;
    out->peak = n_used ? bestv / n_used : 0;

    /* refine: parabolic on the correlation, then the phase slope of the
     * residual cross-spectrum, weighted by the cross-spectrum magnitude */
    double y0 = cabsf(A[(best - 1 + M) % M]), y1 = bestv, y2 = cabsf(A[(best + 1 + M) % M]);
    double den = y0 - 2 * y1 + y2;
    double tau = best + (den < 0 ? 0.5 * (y0 - y2) / den : 0.0);
    /* the in-band bins, as signed frequency indices */
    int nb = 0;
    int *band = refine ? hd_malloc((size_t)M * sizeof *band) : NULL;
    if (refine && !band) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int kk = -M / 2; refine && kk < M - M / 2; kk++)
        if (mag[kk < 0 ? kk + M : kk] > 0)
            band[nb++] = kk;
    for (int iter = 0; refine && iter < 2; iter++) {
        /* e^{+j 2π kk tau / M}: one multiply per bin along runs of
         * consecutive bins, an exact cexp at each gap */
        double complex step = cexp(I * 2 * M_PI * tau / M), s = 0, rot = 0;
        for (int b = 0; b < nb; b++) {
            int kk = band[b], k = kk < 0 ? kk + M : kk;
            rot = b && kk == band[b - 1] + 1 && (b & 255) ? rot * step : cexp(I * 2 * M_PI * kk * tau / M);
            s += mag[k] * G[k] * rot;
        }
        double complex c0 = conj(s) / (cabs(s) > 0 ? cabs(s) : 1);
        double swx = 0, swxx = 0, swy = 0, swxy = 0, sw = 0;
        for (int b = 0; b < nb; b++) {
            int kk = band[b], k = kk < 0 ? kk + M : kk;
            rot = b && kk == band[b - 1] + 1 && (b & 255) ? rot * step : cexp(I * 2 * M_PI * kk * tau / M);
            double complex r = G[k] * rot * c0;
            double y = fast_atan2(cimag(r), creal(r)), x = 2 * M_PI * kk / M, w = mag[k];
            sw += w;
            swx += w * x;
            swxx += w * x * x;
            swy += w * y;
            swxy += w * x * y;
        }
        double d = sw * swxx - swx * swx;
        /* residual phase = -x (D - tau): D = tau - slope */
        if (d > 0)
            tau -= (sw * swxy - swx * swy) / d;
    }
    free(band);
    out->delay_s = tau / fs;
    out->sigma_s = hd_dsp_tdoa_crlb(n, fs, snr_a, snr_b, rms_bw_hz);
    out->valid = !use_all && out->psr_db >= psr_min_db && isfinite(out->delay_s);
done:
    free(A);
    free(G);
    free(mag);
    free(sorted);
    return rc;
}

static int gcc_time(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                    double snr_b, double rms_bw_hz, double psr_min_db, int refine, hd_xcorr *out)
{
    if (n < 4 || fs <= 0)
        return hd_error(HD_EINVAL, "gcc-phat: %d samples at %g Hz", n, fs);
    int M = good_size(2 * n), rc;
    float *A = hd_aligned_alloc((size_t)M * 2, sizeof *A), *B = hd_aligned_alloc((size_t)M * 2, sizeof *B);
    if (!A || !B)
        rc = HD_ENOMEM;
    else if ((rc = hd_dsp_spectrum(a, n, A)) == 0 && (rc = hd_dsp_spectrum(b, n, B)) == 0)
        rc = gcc_core((const float complex *)A, (const float complex *)B, n, fs, center_s, max_lag_s, snr_a, snr_b,
                      rms_bw_hz, psr_min_db, refine, out);
    free(A);
    free(B);
    return rc;
}

int hd_dsp_gcc_phat(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                    double snr_b, double rms_bw_hz, double psr_min_db, hd_xcorr *out)
{
    return gcc_time(a, b, n, fs, center_s, max_lag_s, snr_a, snr_b, rms_bw_hz, psr_min_db, 1, out);
}

int hd_dsp_gcc_phat_coarse(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                           double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, hd_xcorr *out)
{
    return gcc_time(a, b, n, fs, center_s, max_lag_s, snr_a, snr_b, rms_bw_hz, psr_min_db, 0, out);
}

int hd_dsp_tdoa_spec(const float *a, const float *b, const float *SA, const float *SB, int n, double fs, double center_s,
                     double max_lag_s, double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, float *scratch,
                     hd_xcorr *out)
{
    /* coarse: the lag to a fraction of a sample from the parabolic peak */
    int rc = gcc_core((const float complex *)SA, (const float complex *)SB, n, fs, center_s, max_lag_s, snr_a, snr_b,
                      rms_bw_hz, psr_min_db, 0, out);
    if (rc < 0 || !out->valid)
        return rc;
    int M = good_size(2 * n);
    const hd_fft_plan *pf = hd_fft_plan_get(M, -1), *pb = hd_fft_plan_get(M, +1);
    float complex *Z = hd_aligned_alloc((size_t)M, sizeof *Z);
    if (!pf || !pb || !Z) {
        free(Z);
        return HD_ENOMEM;
    }
    const float complex *ca = (const float complex *)a, *cb = (const float complex *)b;
    const float complex *sb = (const float complex *)SB;
    float complex *bc = (float complex *)scratch;
    double tau = out->delay_s * fs, df = 0;
    /* b advanced by tau (integer and fraction, through its spectrum), so
     * that z(m) = conj(a(m)) b(m + tau) is a tone at the frequency difference
     * and not modulated by a misalignment */
    double complex step = cexp(I * 2 * M_PI * tau / M), rot = cexp(-I * 2 * M_PI * (M / 2) * tau / M);
    for (int kk = -M / 2; kk < M - M / 2; kk++, rot *= step) {
        int k = kk < 0 ? kk + M : kk;
        if (((kk + M / 2) & 255) == 0)
            rot = cexp(I * 2 * M_PI * kk * tau / M);
        Z[k] = sb[k] * (float complex)rot;
    }
    hd_fft_execute(pb, (float *)Z, (float *)Z);
    int lag = (int)lround(tau);
    int m0 = lag > 0 ? 0 : -lag, m1 = lag > 0 ? n - lag : n;
    if (m1 - m0 < 64)
        goto done;
    for (int m = 0; m < M; m++)
        bc[m] = m >= m0 && m < m1 ? conjf(ca[m]) * Z[m] / (float)M : 0.0f;
    /* coarse frequency: the zero-padded spectrum's peak */
    hd_fft_execute(pf, (float *)bc, (float *)Z);
    int best = 0;
    float bv = -1;
    for (int k = 0; k < M; k++) {
        float v = abs2f(Z[k]);
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    double y0 = cabsf(Z[(best - 1 + M) % M]), y1 = cabsf(Z[best]), y2 = cabsf(Z[(best + 1) % M]);
    double den = y0 - 2 * y1 + y2, frac = den < 0 ? 0.5 * (y0 - y2) / den : 0;
    int kk = best < M / 2 ? best : best - M;
    df = (kk + frac) * fs / M;
    /* fine: the phase slope of the de-rotated tone over 8 segments */
    {
        enum { S = 8 };
        double complex seg[S] = {0};
        double tm[S] = {0};
        int len = (m1 - m0) / S;
        double complex st = cexp(-I * 2 * M_PI * df / fs), r = 1;
        for (int q = 0; q < S; q++) {
            for (int m = 0; m < len; m++) {
                int idx = m0 + q * len + m;
                if ((idx & 255) == 0 || idx == m0)
                    r = cexp(-I * 2 * M_PI * df / fs * idx);
                seg[q] += bc[idx] * r;
                r *= st;
            }
            tm[q] = (m0 + (q + 0.5) * len) / fs;
        }
        double ph[S], sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int q = 0; q < S; q++) {
            ph[q] = carg(seg[q]);
            if (q) { /* unwrap */
                while (ph[q] - ph[q - 1] > M_PI)
                    ph[q] -= 2 * M_PI;
                while (ph[q] - ph[q - 1] < -M_PI)
                    ph[q] += 2 * M_PI;
            }
            double w = cabs(seg[q]);
            sw += w;
            sx += w * tm[q];
            sy += w * ph[q];
            sxx += w * tm[q] * tm[q];
            sxy += w * tm[q] * ph[q];
        }
        double d = sw * sxx - sx * sx;
        if (d > 0)
            df += (sw * sxy - sx * sy) / d / (2 * M_PI);
    }
    /* de-rotate b, transform, and time it */
    {
        double complex st = cexp(-I * 2 * M_PI * df / fs), r = 1;
        for (int m = 0; m < n; m++, r *= st) {
            if ((m & 1023) == 0)
                r = cexp(-I * 2 * M_PI * df / fs * m);
            bc[m] = cb[m] * (float complex)r;
        }
    }
    if ((rc = hd_dsp_spectrum(scratch, n, scratch)) < 0)
        goto done;
    hd_xcorr next;
    if ((rc = gcc_core((const float complex *)SA, (const float complex *)scratch, n, fs, center_s, max_lag_s, snr_a,
                       snr_b, rms_bw_hz, psr_min_db, 1, &next)) < 0)
        goto done;
    *out = next;
    out->freq_diff_hz = df;
done:
    free(Z);
    return rc;
}

int hd_dsp_tdoa(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                double snr_b, double rms_bw_hz, double psr_min_db, float *scratch, hd_xcorr *out)
{
    int M = good_size(2 * n), rc;
    float *A = hd_aligned_alloc((size_t)M * 2, sizeof *A), *B = hd_aligned_alloc((size_t)M * 2, sizeof *B);
    if (!A || !B)
        rc = HD_ENOMEM;
    else if ((rc = hd_dsp_spectrum(a, n, A)) == 0 && (rc = hd_dsp_spectrum(b, n, B)) == 0)
        rc = hd_dsp_tdoa_spec(a, b, A, B, n, fs, center_s, max_lag_s, snr_a, snr_b, rms_bw_hz, psr_min_db, scratch, out);
    free(A);
    free(B);
    return rc;
}

/* ---- log-mel ------------------------------------------------------------------ */

int hd_dsp_logmel_frames(int n, int n_fft, int hop)
{
    return n_fft > 0 && hop > 0 && n >= n_fft ? 1 + (n - n_fft) / hop : 0;
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

int hd_dsp_logmel(const float *x, int n, double fs, int n_fft, int hop, int n_mels, float *out)
{
    if (n_fft < 8 || hop < 1 || n_mels < 1 || fs <= 0)
        return hd_error(HD_EINVAL, "log-mel: n_fft %d, hop %d, n_mels %d", n_fft, hop, n_mels);
    int frames = hd_dsp_logmel_frames(n, n_fft, hop), rc = 0;
    const hd_fft_plan *p = hd_fft_plan_get(n_fft, -1);
    float *buf = hd_aligned_alloc((size_t)n_fft * 2, sizeof *buf), *w = hd_malloc((size_t)n_fft * sizeof *w);
    double *fb = hd_calloc((size_t)n_mels * n_fft, sizeof *fb);
    if (!p || !buf || !w || !fb) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n_fft; i++)
        w[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / n_fft));
    /* triangular filters on the mel scale of |f|: edges at n_mels + 2 points */
    double top = hz_to_mel(fs / 2);
    for (int m = 0; m < n_mels; m++) {
        double f0 = mel_to_hz(top * m / (n_mels + 1)), f1 = mel_to_hz(top * (m + 1) / (n_mels + 1)),
               f2 = mel_to_hz(top * (m + 2) / (n_mels + 1));
        for (int k = 0; k < n_fft; k++) {
            int kk = k < n_fft / 2 ? k : k - n_fft;
            double f = fabs(kk * fs / n_fft), v = 0;
            if (f > f0 && f <= f1)
                v = (f - f0) / (f1 - f0);
            else if (f > f1 && f < f2)
                v = (f2 - f) / (f2 - f1);
            fb[(size_t)m * n_fft + k] = v;
        }
    }
    for (int t = 0; t < frames; t++) {
        for (int i = 0; i < n_fft; i++) {
            buf[2 * i] = x[2 * (t * hop + i)] * w[i];
            buf[2 * i + 1] = x[2 * (t * hop + i) + 1] * w[i];
        }
        hd_fft_execute(p, buf, buf);
        for (int m = 0; m < n_mels; m++) {
            double e = 0;
            const double *f = fb + (size_t)m * n_fft;
            for (int k = 0; k < n_fft; k++)
                if (f[k] > 0)
                    e += f[k] * ((double)buf[2 * k] * buf[2 * k] + (double)buf[2 * k + 1] * buf[2 * k + 1]);
            out[(size_t)t * n_mels + m] = (float)log10(e / n_fft + 1e-12);
        }
    }
done:
    free(buf);
    free(w);
    free(fb);
    return rc;
}
