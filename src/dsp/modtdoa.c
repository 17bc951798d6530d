/* Time differences of narrow signals from their modulation (see dsp.h,
 * hd_dsp_modulation_tdoa): the envelope and the instantaneous frequency of
 * each capture, correlated with the maximum-likelihood (Hannan–Thomson)
 * weighting of their segment-averaged coherence, the lag refined by the
 * weighted cross-spectrum phase slope, and the sigma the larger of the
 * Knapp–Carter bound from the same coherence and a jackknife over blocks
 * of segments. */
#include "dsp/dsp.h"
#include "core/alloc.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* atan2(y, x) by the minimax polynomial of dsp/internal.h (error under
 * 1e-5 rad, far below a noisy phase step's), branch-free so that the loop
 * calling it vectorises; 0 for (0, 0) */
static inline float phase_step(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y), mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    float a = mn / (mx > 0 ? mx : 1.0f), s2 = a * a;
    float r = ((-0.0464964749f * s2 + 0.15931422f) * s2 - 0.327622764f) * s2 * a + a;
    r = ay > ax ? 1.57079633f - r : r;
    r = x < 0 ? 3.14159265f - r : r;
    return y < 0 ? -r : r;
}

/* The modulation series of x: kind 0 the envelope |x|, kind 1 the
 * instantaneous frequency (phase step, radians per sample, clipped to ±π/2). */
static void modulation(const float *x, int n, int kind, float *m)
{
    if (kind == 0) {
        for (int k = 0; k < n; k++)
            m[k] = sqrtf(x[2 * k] * x[2 * k] + x[2 * k + 1] * x[2 * k + 1]);
        return;
    }
    m[0] = 0;
    for (int k = 1; k < n; k++) {
        float re = x[2 * k] * x[2 * k - 2] + x[2 * k + 1] * x[2 * k - 1];
        float im = x[2 * k + 1] * x[2 * k - 2] - x[2 * k] * x[2 * k - 1];
        float d = phase_step(im, re);
        m[k] = d > 1.5707964f ? 1.5707964f : d < -1.5707964f ? -1.5707964f : d;
    }
}

/* Half-width (bins) of the coherence smoothing at bin f: ±4 bins at low
 * frequencies, growing as f/SMOOTH_Q above (a keyed envelope's coherence
 * is smooth on a scale proportional to frequency; its weak high-frequency
 * sidebands, where the timing information sits, stand out only when
 * averaged over many bins). */
#ifndef SMOOTH_Q
#define SMOOTH_Q 8
#endif
#define SMOOTH_HW(f) ((f) / SMOOTH_Q > 4 ? (f) / SMOOTH_Q : 4)

/* The delay (samples) of a cross spectrum s (conj(A)·B, bins 1..nb-1 of
 * an L-point transform) by the weighted least-squares fit of its phase
 * slope around tau0 (Hannan–Thomson: weights g = γ²/(1-γ²), the inverse
 * variance of each bin's phase), iterated from tau0 so that a start a few
 * samples off the peak is corrected rather than dropped. */
static double slope_delay(const double *s, const double *g, int nb, int L, double tau0)
{
    double tau = tau0;
    for (int it = 0; it < 6; it++) {
        double num = 0, den = 0;
        for (int f = 1; f < nb; f++) {
            if (g[f] <= 0)
                continue;
            double om = 2 * M_PI * (double)f / L, c = cos(om * tau), sn = sin(om * tau);
            /* s e^{+jωτ} ≈ |s| e^{-jω(τ_true - τ)} */
            double re = s[2 * f] * c - s[2 * f + 1] * sn, im = s[2 * f] * sn + s[2 * f + 1] * c;
            num += g[f] * om * (-atan2(im, re));
            den += g[f] * om * om;
        }
        double step = den > 0 ? num / den : 0;
        tau += step;
        if (!(fabs(step) > 1e-4))
            break;
    }
    return tau;
}

/* Blocks of segments whose cross spectra the jackknife leaves out one at a
 * time (the sigma from the spread of the delay over the replicates). */
#define JK_BLOCKS 10

/* one_kind's scratch for segments of up to cap samples, kept from call to
 * call in the event's cache (its pairs reuse it instead of mapping fresh
 * pages for each) */
typedef struct {
    int cap, wL;                 /* capacity; the segment length w holds the window of */
    float *A, *w;                /* [2 cap], [cap] */
    double *saa, *sbb, *sab;     /* [cap], [cap + 2], [2 cap] */
    double *sm, *cum, *blk;      /* [cap/2 + 1], [cap/2 + 2], [JK_BLOCKS (cap + 2)] */
} mod_work;

static void work_release(mod_work *ws)
{
    free(ws->A);
    free(ws->w);
    free(ws->saa);
    free(ws->sbb);
    free(ws->sab);
    free(ws->sm);
    free(ws->cum);
    free(ws->blk);
    memset(ws, 0, sizeof *ws);
}

static int work_reserve(mod_work *ws, int L)
{
    if (L <= ws->cap)
        return 0;
    work_release(ws);
    ws->A = hd_aligned_alloc((size_t)2 * L, sizeof(float));
    ws->w = malloc((size_t)L * sizeof(float));
    ws->saa = malloc((size_t)L * sizeof(double));
    ws->sbb = malloc(((size_t)L + 2) * sizeof(double));
    ws->sab = malloc((size_t)2 * L * sizeof(double));
    ws->sm = malloc(((size_t)L / 2 + 1) * sizeof(double));
    ws->cum = malloc(((size_t)L / 2 + 2) * sizeof(double));
    ws->blk = malloc((size_t)JK_BLOCKS * ((size_t)L + 2) * sizeof(double));
    if (!ws->A || !ws->w || !ws->saa || !ws->sbb || !ws->sab || !ws->sm || !ws->cum || !ws->blk) {
        work_release(ws);
        return hd_error(HD_ENOMEM, "out of memory");
    }
    ws->cap = L;
    return 0;
}

/* One modulation kind: ea, eb the series over the overlap (n samples at
 * fs, decimated by D from the captures' rate; b already shifted by the
 * integer center). lmax is the segments' length at the captures' rate:
 * a decimated series has segments of the same duration (the same
 * coherence resolution, bins of the same width in Hz). */
static int one_kind(mod_work *ws, const float *ea, const float *eb, int n, double fs, int D, double max_lag_s,
                    double psr_min_db, double max_f_hz, int lmax, hd_xcorr *out)
{
    /* segments of up to lmax samples: for the envelope 2048 (0.17 s at
     * 12 kHz), many of them making a keyed envelope's weak high-frequency
     * coherence visible (Morse at 0 dB, 30 s: 1.7x its CRLB with 2048,
     * 2.3x with 8192; test_crlb.c); for the frequency 8192, whose
     * coherence (an FSK's, nulls at the baud's multiples) needs the
     * resolution (RTTY's 30 s sigma 68 µs with 8192, 111 µs with 2048) */
    int L = 256;
    while ((long)L * 16 <= (long)n * D && L < lmax)
        L *= 2;
    int maxlag = (int)ceil(max_lag_s * fs * D);
    if (maxlag < 1)
        maxlag = 1;
    while (L < 4 * maxlag && L < (1 << 20))
        L *= 2;
    if (D > 1) { /* the same duration at the series' rate */
        maxlag = (int)ceil(max_lag_s * fs);
        if (maxlag < 1)
            maxlag = 1;
        L /= D;
        while (L < 4 * maxlag || L < 32)
            L *= 2;
    }
    if (n < 2 * L)
        return hd_error(HD_EINVAL, "a capture of %d samples is too short for modulation timing (segments of %d)", n, L);
    const hd_fft_plan *fwd = hd_fft_plan_get(L, -1), *inv = hd_fft_plan_get(L, +1);
    if (!fwd || !inv)
        return HD_ENOMEM;
    int rc = work_reserve(ws, L);
    if (rc < 0)
        return rc;
    float *A = ws->A, *w = ws->w;
    double *saa = ws->saa, *sbb = ws->sbb, *sab = ws->sab;
    memset(saa, 0, (size_t)L * sizeof *saa);
    memset(sbb, 0, ((size_t)L + 2) * sizeof *sbb);
    memset(sab, 0, (size_t)2 * L * sizeof *sab);
    /* per block of segments, the cross spectrum's bins 0..L/2 */
    int K_all = (n - L) / (L / 2) + 1, nblk = K_all >= 2 * JK_BLOCKS ? JK_BLOCKS : 0;
    double *blk = nblk ? ws->blk : NULL;
    if (blk)
        memset(blk, 0, (size_t)nblk * ((size_t)L + 2) * sizeof *blk);
    if (ws->wL != L) {
        for (int k = 0; k < L; k++)
            w[k] = (float)(0.5 - 0.5 * cos(2 * M_PI * (k + 0.5) / L));
        ws->wL = L;
    }
    /* only the bins up to the band's width and the smoothing's reach past
     * it (SMOOTH_HW there) are ever used: the spectra of real series are
     * symmetric, the rest of the circle is mirrored below */
    int fm = (int)ceil(max_f_hz * L / fs), top = fm + SMOOTH_HW(fm) + 1;
    if (top > L / 2)
        top = L / 2;
    /* means removed segment by segment (a slow level change is no timing);
     * both series in one transform (a real, b imaginary), separated by the
     * symmetry of real series' spectra */
    int K = 0;
    for (int s = 0; s + L <= n; s += L / 2, K++) {
        double ma = 0, mb = 0;
        for (int k = 0; k < L; k++) {
            ma += ea[s + k];
            mb += eb[s + k];
        }
        const float fa = (float)(ma / L), fb = (float)(mb / L);
        for (int k = 0; k < L; k++) {
            A[2 * k] = (ea[s + k] - fa) * w[k];
            A[2 * k + 1] = (eb[s + k] - fb) * w[k];
        }
        hd_fft_execute(fwd, A, A);
        double *bk = nblk ? blk + (size_t)(K * nblk / K_all) * (L + 2) : NULL;
        for (int f = 0; f <= top; f++) {
            int r = (L - f) % L;
            double zr = A[2 * f], zi = A[2 * f + 1], yr = A[2 * r], yi = -A[2 * r + 1]; /* Z(f), conj Z(-f) */
            double ar = 0.5 * (zr + yr), ai = 0.5 * (zi + yi); /* a's spectrum (Z + conj Z(-f)) / 2 */
            double br = 0.5 * (zi - yi), bi = -0.5 * (zr - yr); /* b's (Z - conj Z(-f)) / 2j */
            double cr = ar * br + ai * bi, ci = ar * bi - ai * br; /* conj(A)·B */
            saa[f] += ar * ar + ai * ai;
            sbb[f] += br * br + bi * bi;
            sab[2 * f] += cr;
            sab[2 * f + 1] += ci;
            if (bk) {
                bk[2 * f] += cr;
                bk[2 * f + 1] += ci;
            }
        }
    }
    for (int f = 1; f <= top && f < L - f; f++) {
        saa[L - f] = saa[f];
        sbb[L - f] = sbb[f];
        sab[2 * (L - f)] = sab[2 * f];
        sab[2 * (L - f) + 1] = -sab[2 * f + 1];
    }
    /* coherence: raw γ² per bin, then smoothed over ±4 bins (a modulation's
     * coherence is smooth in frequency; one bin's is noisy), wider at high
     * frequencies (SMOOTH_HW). K Hann segments at 50 % overlap are worth
     * Keff = K / (1 + 2·0.167²) independent ones (Welch 1967; measured: an
     * incoherent bin's mean γ² 0.0124 for K = 86, 1/Keff = 0.0123; K/2, as
     * assumed before, doubled the threshold and the bias removed), so an
     * incoherent bin's γ² is about 1/Keff with as much spread, and a
     * smoothed γ² 5 of its standard deviations above that (3/Keff for the
     * mean of 9 bins: the bins of a Hann spectrum are correlated, 1.5 per
     * independent one) is the signal's; its bias removed. */
    double Keff = K > 2 ? K / (1 + 2 * 0.167 * 0.167) : 1.0, g_sum = 0, bound = 0, f_top = 0;
    int n_coh = 0;
    double *raw = sbb; /* reused: sbb is not needed past this point */
    for (int f = 0; f < L; f++)
        raw[f] = saa[f] > 0 && sbb[f] > 0
                     ? (sab[2 * f] * sab[2 * f] + sab[2 * f + 1] * sab[2 * f + 1]) / (saa[f] * sbb[f])
                     : 0;
    /* g = γ²/(1-γ²) per |frequency| bin 0..L/2, in saa (not needed past here) */
    double *g = saa;
    double *sm = ws->sm;
    /* prefix sums of raw γ² over |frequency| bins (raw is symmetric for real series) */
    double *cum = ws->cum;
    cum[0] = 0;
    for (int f = 0; f <= L / 2; f++)
        cum[f + 1] = cum[f] + raw[f];
    for (int f = 0; f <= L / 2; f++) {
        double m = 0;
        int hw = SMOOTH_HW(f);
        if (hw == 4) {
            for (int d = -4; d <= 4; d++)
                m += raw[(f + d + L) % L];
            m /= 9;
        } else {
            int lo = f - hw < 1 ? 1 : f - hw, hi = f + hw > L / 2 ? L / 2 : f + hw;
            m = (cum[hi + 1] - cum[lo]) / (hi - lo + 1);
        }
        double th = (1 + 5 * sqrt(1.5 / (2 * hw + 1))) / Keff;
        double g2 = m > th ? (m - 1 / Keff) / (1 - 1 / Keff) : 0;
        if (f == 0 || f == L / 2 || (double)f * fs / L > max_f_hz)
            g2 = 0; /* nothing of the signal's modulation is beyond max_f_hz */
        if (g2 > 0.999)
            g2 = 0.999;
        sm[f] = g2 / (1 - g2);
    }
    /* a modulation's coherence runs from low frequencies up (keying, audio,
     * FSK, a phase code): the coherent band is the run from the bottom,
     * gaps of up to 8 bins bridged; a coherent-looking bin beyond it is
     * chance (among thousands of bins), and at high frequency it would
     * weigh most */
    int last = 0, gap = 0;
    for (int f = 1; f < L / 2; f++) {
        if (sm[f] > 0) {
            last = f;
            gap = 0;
        } else if (last > 0 && ++gap > (SMOOTH_HW(f) > 8 ? SMOOTH_HW(f) : 8)) {
            break;
        } else if (last == 0 && f > 16) {
            break; /* nothing coherent near the bottom */
        }
    }
    for (int f = 0; f <= L / 2; f++)
        g[f] = f <= last ? sm[f] : 0;
    for (int f = 0; f < L; f++) {
        int fa = f <= L / 2 ? f : L - f; /* |frequency| in bins */
        double gf = g[fa];
        double mag = hypot(sab[2 * f], sab[2 * f + 1]);
        /* ML (Hannan–Thomson) weighting: the phase alone, weighted by g */
        double wt = mag > 0 ? gf / mag : 0;
        A[2 * f] = (float)(sab[2 * f] * wt);
        A[2 * f + 1] = (float)(sab[2 * f + 1] * wt);
        if (f > 0 && f < L / 2) {
            double fr = (double)f * fs / L;
            bound += (2 * M_PI * fr) * (2 * M_PI * fr) * gf * (fs / L);
            g_sum += gf;
            n_coh += gf > 0;
            if (gf > 0)
                f_top = fr;
        }
    }
    hd_fft_execute(inv, A, A);
    /* the peak within ±maxlag (circular lags) */
    int best = 0;
    double bv = -1;
    for (int l = -maxlag; l <= maxlag; l++) {
        int i = (l + L) % L;
        double v = A[2 * i];
        if (v > bv) {
            bv = v;
            best = l;
        }
    }
    /* sidelobes: every lag (all of the segment's circle) beyond one period
     * of the highest coherent frequency from the peak: a narrow signal's
     * peak is wider than the lag window */
    int Wmin = (4 + D - 1) / D; /* 4 samples at the captures' rate */
    int W = f_top > 0 ? (int)ceil(fs / f_top) : Wmin;
    if (W < Wmin)
        W = Wmin;
    double side = 0;
    int ns = 0;
    for (int l = -L / 2; l < L / 2; l++)
        if (abs(l - best) > W) {
            int i = (l + L) % L;
            side += (double)A[2 * i] * A[2 * i];
            ns++;
        }
    double psr = ns && side > 0 && bv > 0 ? 10 * log10(bv * bv / (side / ns)) : 0;
    /* the delay: the coherence-weighted phase slope, from the integer lag */
    double tau = slope_delay(sab, g, L / 2, L, best);
    if (!(fabs(tau - best) <= W))
        tau = best; /* the fit left the peak's lobe: the peak stands */
    double T = (double)n / fs;
    out->delay_s = tau / fs;
    out->peak = bv;
    out->psr_db = psr;
    /* Knapp–Carter: var = 1 / (2 T ∫ (2πf)² γ²/(1-γ²) df) */
    double kc = bound > 0 ? 1.0 / sqrt(2 * T * bound) : INFINITY, jk = 0;
    /* the jackknife over blocks of segments: each replicate's delay with
     * one block's cross spectrum left out (the weights kept), sigma² =
     * (B-1)/B Σ (d_i - mean)². It sees what the bound does not: the
     * coherence estimated from the data, coherent artefacts, a keyed
     * signal's non-stationary noise. */
    if (nblk) {
        double d[JK_BLOCKS], dm = 0, *rep = sbb; /* sbb is free past the coherence */
        for (int b = 0; b < nblk; b++) {
            const double *bk = blk + (size_t)b * (L + 2);
            for (int f = 0; f <= L / 2; f++) {
                rep[2 * f] = sab[2 * f] - bk[2 * f];
                rep[2 * f + 1] = sab[2 * f + 1] - bk[2 * f + 1];
            }
            d[b] = slope_delay(rep, g, L / 2, L, tau);
            dm += d[b] / nblk;
        }
        for (int b = 0; b < nblk; b++)
            jk += (d[b] - dm) * (d[b] - dm);
        jk = sqrt(jk * (nblk - 1) / nblk) / fs;
    }
    /* the larger of the two: the bound where the jackknife's ten blocks
     * happen to agree, the jackknife where the bound is optimistic */
    out->sigma_s = nblk && jk > kc ? jk : kc;
    out->valid = n_coh >= 3 && psr >= psr_min_db && isfinite(out->sigma_s) && g_sum > 0;
    out->freq_diff_hz = 0;
    return rc;
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* The band the signal occupies in the power spectrum P[n] (bins of fs/n,
 * FFT order), smoothed over about 2 Hz: from the strongest bin outwards
 * while the smoothed power stays 6 dB above the median (the noise floor),
 * widened by 10 Hz each side. Signed bin offsets into *lo, *hi. */
static void signal_band(const float *P, int n, double fs, float *sm, long *lo, long *hi)
{
    int w = (int)ceil(2.0 * n / fs);
    if (w < 1)
        w = 1;
    double acc = 0;
    for (int k = -w; k <= w; k++)
        acc += P[(k + n) % n];
    for (int k = 0; k < n; k++) {
        sm[k] = (float)(acc / (2 * w + 1));
        acc += P[(k + w + 1) % n] - P[(k - w + n) % n];
    }
    int best = 0;
    for (int k = 1; k < n; k++)
        if (sm[k] > sm[best])
            best = k;
    int step = n / 4096 > 1 ? n / 4096 : 1, m = 0;
    float *sub = malloc((size_t)(n / step + 1) * sizeof *sub);
    float floor = 0;
    if (sub) {
        for (int k = 0; k < n; k += step)
            sub[m++] = sm[k];
        qsort(sub, (size_t)m, sizeof *sub, cmp_float);
        floor = sub[m / 2];
        free(sub);
    }
    long b = best > n / 2 ? best - n : best, l = b, h = b;
    while (h - l < n - 1 && sm[(l - 1 + n) % n] > 4 * floor)
        l--;
    while (h - l < n - 1 && sm[(h + 1 + n) % n] > 4 * floor)
        h++;
    long pad = (long)ceil(10.0 * n / fs);
    *lo = l - pad;
    *hi = h + pad;
}

/* What one event's pairs share (hd_mod_cache): each receiver's spectrum and
 * signal band, and its modulation series per band filtered to (both kinds),
 * so a receiver in several pairs is transformed and demodulated once per
 * band. Computed exactly as for one pair alone: the results are the same. */
#define MOD_MAX_RX 64
#define MOD_CACHE_BYTES ((size_t)64 << 20) /* the series kept per event, at most */
typedef struct {
    int rx;
    long l, h;
    int D, nd;                   /* decimated by D to nd samples (band_decimation) */
    float *m[2];                 /* envelope, instantaneous frequency [nd] */
} mod_series;
struct hd_mod_cache {
    int n;
    float *X[MOD_MAX_RX];        /* spectra [2n] (NULL: not yet) */
    long lo[MOD_MAX_RX], hi[MOD_MAX_RX];
    mod_series *s;
    int n_s, max_s, next;        /* entries, their bound, the next to reuse when full */
    float *y, *P, *sm;           /* scratch [2n], [n], [n] */
    mod_work work;               /* one_kind's */
};

int hd_mod_cache_new(hd_mod_cache **out, int n)
{
    hd_mod_cache *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return hd_error(HD_ENOMEM, "out of memory");
    c->n = n;
    size_t per = (size_t)2 * n * sizeof(float);
    c->max_s = (int)(MOD_CACHE_BYTES / (per > 0 ? per : 1));
    if (c->max_s < 2)
        c->max_s = 2;
    if (c->max_s > 4 * MOD_MAX_RX)
        c->max_s = 4 * MOD_MAX_RX;
    c->s = calloc((size_t)c->max_s, sizeof *c->s);
    c->y = hd_aligned_alloc((size_t)2 * n, sizeof(float));
    c->P = malloc((size_t)n * sizeof(float));
    c->sm = malloc((size_t)n * sizeof(float));
    if (!c->s || !c->y || !c->P || !c->sm) {
        hd_mod_cache_free(c);
        return hd_error(HD_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void hd_mod_cache_clear(hd_mod_cache *c)
{
    if (!c)
        return;
    for (int r = 0; r < MOD_MAX_RX; r++) {
        free(c->X[r]);
        c->X[r] = NULL;
    }
    for (int k = 0; k < c->n_s; k++) {
        free(c->s[k].m[0]);
        free(c->s[k].m[1]);
    }
    memset(c->s, 0, (size_t)c->max_s * sizeof *c->s);
    c->n_s = c->next = 0;
}

void hd_mod_cache_free(hd_mod_cache *c)
{
    if (!c)
        return;
    hd_mod_cache_clear(c);
    free(c->s);
    work_release(&c->work);
    free(c->y);
    free(c->P);
    free(c->sm);
    free(c);
}

/* receiver rx's spectrum and band (made on first use) */
static const float *mod_spectrum(hd_mod_cache *c, int rx, const float *x, double fs)
{
    if (c->X[rx])
        return c->X[rx];
    const int n = c->n;
    const hd_fft_plan *fwd = hd_fft_plan_get(n, -1);
    float *X = fwd ? hd_aligned_alloc((size_t)2 * n, sizeof(float)) : NULL;
    if (!X)
        return NULL;
    hd_fft_execute(fwd, x, X);
    for (int k = 0; k < n; k++)
        c->P[k] = X[2 * k] * X[2 * k] + X[2 * k + 1] * X[2 * k + 1];
    signal_band(c->P, n, fs, c->sm, &c->lo[rx], &c->hi[rx]);
    c->X[rx] = X;
    return X;
}

/* The smallest 2^a 3^b 5^c at least x (a size FFTW transforms fast). */
static int nice_size(long x)
{
    for (long m = x > 1 ? x : 1;; m++) {
        long r = m;
        while (r % 2 == 0)
            r /= 2;
        while (r % 3 == 0)
            r /= 3;
        while (r % 5 == 0)
            r /= 5;
        if (r == 1)
            return (int)m;
    }
}

/* The decimation of a band of bins [l, h] of n-sample captures: a band
 * narrower than the capture is shifted to zero frequency and transformed
 * back at about n/D points (*nd, 2^a 3^b 5^c: fast to transform), the
 * band-limited signal sampled at fs·nd/n without loss; D (a power of two,
 * at most 16) the largest keeping nd at least four times the band's bins:
 * the envelope's spectrum, about twice as wide as the band, is sampled
 * without aliasing, and the modulation one_kind looks at (up to half the
 * band's width) lies below an eighth of the rate. The instantaneous
 * frequency is not band-limited: at twice the band's bins its noise
 * aliased into the band (branch recspeed: an AM campaign had 21 false
 * peaks against 17 before decimating; at four times, 15). Wide bands:
 * D = 1, nd = n. */
#define MOD_OVERSAMPLE 4
static int band_decimation(int n, long l, long h, int *nd)
{
    long want = MOD_OVERSAMPLE * (h - l + 1);
    int D = 1;
    while (D < 16 && nice_size((n + 2 * D - 1) / (2 * D)) >= want)
        D *= 2;
    *nd = D > 1 ? nice_size((n + D - 1) / D) : n;
    return D;
}

/* receiver rx's modulation series filtered to bins [l, h], decimated
 * (band_decimation; made on first use; when the cache is full the oldest
 * entry is reused, never keep) */
static const mod_series *mod_get(hd_mod_cache *c, int rx, const float *X, long l, long h, const mod_series *keep)
{
    for (int k = 0; k < c->n_s; k++)
        if (c->s[k].rx == rx && c->s[k].l == l && c->s[k].h == h)
            return &c->s[k];
    const int n = c->n;
    int nd, D = band_decimation(n, l, h, &nd);
    const hd_fft_plan *inv = hd_fft_plan_get(nd, +1);
    float *m0 = malloc((size_t)nd * sizeof(float)), *m1 = malloc((size_t)nd * sizeof(float));
    if (!inv || !m0 || !m1) {
        free(m0);
        free(m1);
        return NULL;
    }
    float *y = c->y;
    if (D == 1) { /* bins k of the circle, signed sk = k or k - n (k > n/2), within [l, h] */
        long lo = l > (long)(n / 2) + 1 - n ? l : (long)(n / 2) + 1 - n, hi = h < n / 2 ? h : n / 2;
        memset(y, 0, (size_t)2 * n * sizeof *y);
        for (long sk = lo; sk <= hi; sk++) {
            long k = sk < 0 ? sk + n : sk;
            y[2 * k] = X[2 * k];
            y[2 * k + 1] = X[2 * k + 1];
        }
    } else { /* the band's bins around zero frequency of an nd-point circle
              * (the shift changes neither |x| nor, but for a constant the
              * segment means remove, the instantaneous frequency) */
        long mid = (l + h) / 2;
        memset(y, 0, (size_t)2 * nd * sizeof *y);
        for (long sk = l; sk <= h; sk++) {
            long src = ((sk % n) + n) % n, dst = (((sk - mid) % nd) + nd) % nd;
            y[2 * dst] = X[2 * src];
            y[2 * dst + 1] = X[2 * src + 1];
        }
    }
    hd_fft_execute(inv, y, y);
    modulation(y, nd, 0, m0);
    modulation(y, nd, 1, m1);
    int k = c->n_s < c->max_s ? c->n_s++ : c->next++ % c->max_s; /* full: the oldest reused, */
    if (&c->s[k] == keep)                                          /* but not the pair's other end */
        k = c->next++ % c->max_s;
    free(c->s[k].m[0]);
    free(c->s[k].m[1]);
    c->s[k] = (mod_series){rx, l, h, D, nd, {m0, m1}};
    return &c->s[k];
}

/* One kind timed with b's series (n samples at fs, decimated by D) shifted
 * by cc samples (over the overlap a[k] with b[k + cc]); delay_s includes
 * cc. HD_EINVAL (no message needed) when the overlap is too short. */
static int kind_at(mod_work *ws, const float *ma, const float *mb, int n, long cc, double fs, int D,
                   double max_lag_s, double psr_min_db, double max_f, int lmax, hd_xcorr *x)
{
    long k0 = cc < 0 ? -cc : 0, k1 = cc > 0 ? n - cc : n;
    if ((k1 - k0) * D < 512)
        return HD_EINVAL;
    int rc = one_kind(ws, ma + k0, mb + k0 + cc, (int)(k1 - k0), fs, D, max_lag_s, psr_min_db, max_f, lmax, x);
    if (rc == 0)
        x->delay_s += (double)cc / fs;
    return rc;
}

int hd_dsp_modulation_tdoa_rx(hd_mod_cache *c, int ia, int ib, const float *a, const float *b, int n, double fs,
                              double center_s, double max_lag_s, double psr_min_db, int *kind_used, hd_xcorr *out)
{
    memset(out, 0, sizeof *out);
    out->sigma_s = INFINITY;
    *kind_used = -1;
    if (n != c->n || ia < 0 || ib < 0 || ia >= MOD_MAX_RX || ib >= MOD_MAX_RX || ia == ib)
        return hd_error(HD_EINVAL, "modulation timing: receivers %d and %d of captures of %d samples (cache of %d)", ia,
                        ib, n, c->n);
    long cc = lround(center_s * fs);
    /* the overlap: a[k] with b[k + cc] */
    long k0 = cc < 0 ? -cc : 0, k1 = cc > 0 ? n - cc : n;
    int m = (int)(k1 - k0);
    if (m < 512)
        return 0;
    /* both captures filtered to the signal's band (the union of what each
     * shows): the noise outside it would swamp the modulation */
    const float *xa = mod_spectrum(c, ia, a, fs), *xb = xa ? mod_spectrum(c, ib, b, fs) : NULL;
    if (!xb)
        return hd_error(HD_ENOMEM, "out of memory");
    long lo = c->lo[ia] < c->lo[ib] ? c->lo[ia] : c->lo[ib], hi = c->hi[ia] > c->hi[ib] ? c->hi[ia] : c->hi[ib];
    /* the band as found, then 4, 16 and 64 times as wide around its middle:
     * a modulation's sidebands may lie under the noise floor the band was
     * found by (keying edges, a PN phase code); the narrowest keeps the
     * least noise. The smallest sigma wins. */
    double mid = 0.5 * (double)(lo + hi), half0 = 0.5 * (double)(hi - lo + 1);
    int rc = 0;
    for (int wi = 0, factor = 1; wi < 4 && rc == 0; wi++, factor *= 4) {
        double half = half0 * factor;
        if (wi > 0 && half * 2 >= n * 0.999)
            break;
        long l = (long)floor(mid - half), h = (long)ceil(mid + half);
        if (h - l >= n)
            l = -(n / 2), h = l + n - 1;
        const mod_series *sa = mod_get(c, ia, xa, l, h, NULL);
        const mod_series *sb = sa ? mod_get(c, ib, xb, l, h, sa) : NULL;
        if (!sb)
            return hd_error(HD_ENOMEM, "out of memory");
        /* the series' rate and b's shift at it (the capture's own for D 1) */
        const int D = sa->D, nd = sa->nd;
        const double fss = fs * nd / n;
        const long ccd = D == 1 ? cc : lround(center_s * fss);
        for (int kind = 0; kind < 2 && rc == 0; kind++) {
            hd_xcorr x;
            /* the series' frequencies up to half the band's width: the
             * envelope of a carrier filtered to ±B/2 holds its modulation
             * up to B/2; above, only the filter's edges ring, differently
             * at each receiver's LO offset yet coherently (with the full
             * width, 74 % of a Morse pair's weight sat there and its sigma
             * was a third of its error: tests/unit/test_crlb.c) */
            double max_f = 0.5 * (double)(h - l + 1) * fs / n;
            int lmax = kind == 0 ? 2048 : 8192;
            rc = kind_at(&c->work, sa->m[kind], sb->m[kind], nd, ccd, fss, D, max_lag_s, psr_min_db, max_f, lmax, &x);
            if (rc == HD_EINVAL) { /* too short: not timed, not an error */
                rc = 0;
                wi = 4;
                break;
            }
            /* again with b's series aligned on the delay found: segments
             * of a and b then hold the same stretch of the signal (offset
             * by the residual lag, short segments bias the phase slope:
             * -24 µs on Morse at 0 dB with a 9-sample residual) */
            long cc2 = rc == 0 && x.valid ? lround(x.delay_s * fss) : ccd;
            if (cc2 != ccd) {
                hd_xcorr x2;
                int r2 = kind_at(&c->work, sa->m[kind], sb->m[kind], nd, cc2, fss, D, max_lag_s, psr_min_db, max_f,
                                 lmax, &x2);
                if (r2 < 0 && r2 != HD_EINVAL)
                    rc = r2;
                else if (r2 == 0 && x2.valid && fabs(x2.delay_s - center_s) <= max_lag_s + 1 / fss)
                    x = x2;
            }
            if (rc == 0 && x.valid && (!out->valid || x.sigma_s < out->sigma_s)) {
                *out = x;
                *kind_used = kind;
            }
        }
    }
    return rc;
}

int hd_dsp_modulation_tdoa(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                           double psr_min_db, int *kind_used, hd_xcorr *out)
{
    hd_mod_cache *c;
    memset(out, 0, sizeof *out);
    out->sigma_s = INFINITY;
    *kind_used = -1;
    int rc = hd_mod_cache_new(&c, n);
    if (rc < 0)
        return rc;
    rc = hd_dsp_modulation_tdoa_rx(c, 0, 1, a, b, n, fs, center_s, max_lag_s, psr_min_db, kind_used, out);
    hd_mod_cache_free(c);
    return rc;
}
