/* One event's receivers together (what featurize uses): one transform per
 * capture, Daniell PSDs from it, frequency differences measured once per
 * receiver against a reference, band-limited GCC-PHAT with a Hannan–Thomson
 * weighted phase-slope fit. See dsp.h. */
#include "dsp/dsp.h"
#include "dsp/internal.h"
#include "core/alloc.h"
#include "core/error.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A PSD bin is in a pair's band when it stands this far above both floors
 * (per-bin SNR, linear): 3 dB above the floor, where a 12-dof average of
 * noise alone seldom reaches. */
#define BAND_SNR 1.0
#define SEGMENTS 8   /* of the frequency-difference phase slope */
#define BLOCK 8      /* samples summed per block of conj(a)·b */
/* the product's strongest bin over its mean power, for a tone */
#define TONE_PROMINENCE 30.0
/* the share of conj(a)·b a measured tone must explain: 0.9 and more when
 * aligned on the same signal down to 0 dB, 0.3-0.6 for an FM signal
 * falsely aligned */
#define COHERENCE_MIN 0.75

struct hd_dsp_net {
    int R, n, nfft, Mmax;
    int Rcap;                /* receivers allocated for (hd_dsp_net_resize) */
    double fs;
    int M, map_M;            /* this event's transform length; the maps' */
    float *taper;            /* [n] 10 % Tukey */
    int *bin_of;             /* [Mmax] PSD bin of each transform bin */
    int *cnt;                /* [nfft] transform bins per PSD bin */
    double w2, neff, shape;  /* Σ (taper·Hann)²; (Σw²)²/Σw⁴ of the taper; Gamma shape of a PSD bin */
    float complex *X;        /* [R][Mmax] spectra of the tapered captures (de-rotated after the first pass) */
    /* [R][Mmax] in frequency order (index kk + M/2), over the receiver's
     * band only: unit phasor X/|X|, its phase, the bin's own SNR */
    float complex *U;
    float *psi, *q;
    int *jlo, *jhi;          /* [nfft] first and last index (kk + M/2) of each PSD bin */
    float *psd;              /* [R][nfft] */
    float *snrbin;           /* [R][nfft] per-bin SNR above the floor, linear, ≥ 0 */
    double *snr, *df;        /* [R] full-band SNR (linear); frequency relative to the reference */
    double *nfine;           /* [R] noise power of one transform bin */
    double t2;               /* Σ taper² */
    double *foff;            /* [R] frequency offset (centroid), Hz */
    float *xt;               /* [2n] a de-rotated capture */
    const float **x;         /* [R] captures */
    unsigned char *have, *rot, *nodf;
    unsigned char *pq;       /* [R] psi and q hold receiver r's present spectrum (polar with them) */
    unsigned char *pv;       /* [R] U holds receiver r's present spectrum (polar made since its transform) */
    double *acc;             /* [nfft] */
    float complex *g, *z;    /* [Mmax] scratch */
    float complex *h;        /* [Mmax] the pruned inverse's inner transforms */
    float complex *gw;       /* [Mmax + 4] the correlation at the lags searched (and one each side) */
    float *pr, *pi, *sr, *si; /* [Mmax] the pruned inverse's phasors and their steps */
    float *wt;               /* [Mmax] fit weights */
    int *kk;                 /* [Mmax] a pair's band: runs of transform bins (first, last idx) */
    unsigned char *inband;   /* [nfft] */
    /* the pairs' window: one Tukey over the interval every timed capture
     * covers (absolute time), at each receiver's own offset */
    float *atap;             /* [n] */
    int *aoff;               /* [R] */
    int aL;                  /* its length; 0: the captures' own taper */
    double neff_t;           /* n_eff of the window the pairs use */
};

/* atan2 by the minimax polynomial of internal.h, branch-free (the loops
 * that call it vectorise); 0 for (0, 0) */
static inline float fast_atan2f(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y), mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    float a = mn / (mx > 0 ? mx : 1.0f), s2 = a * a;
    float r = ((-0.0464964749f * s2 + 0.15931422f) * s2 - 0.327622764f) * s2 * a + a;
    r = ay > ax ? (float)M_PI_2 - r : r;
    r = x < 0 ? (float)M_PI - r : r;
    return y < 0 ? -r : r;
}

static inline float absf(float complex z) { return sqrtf(crealf(z) * crealf(z) + cimagf(z) * cimagf(z)); }

/* here (built at -O3) rather than in dsp.c: the conversion vectorises */
HD_SIMD void hd_dsp_iq_to_float(const int16_t *iq, size_t n, float scale, float *out)
{
    for (size_t i = 0; i < 2 * n; i++)
        out[i] = (float)iq[i] * scale;
}

/* M2M4 (dsp.h). The moments in 8 partial sums (double), so that the loop
 * vectorises; the order is fixed (deterministic). One sum in sample order
 * took 6,000 dependent additions a receiver. */
HD_SIMD void hd_dsp_m2m4(const float *x, int n, hd_spectral *o)
{
    if (o->snr_db < 12 || n < 1)
        return;
    /* constant envelope S plus complex Gaussian noise N:
     * M2 = S + N, M4 = S² + 4SN + 2N² → S = sqrt(2 M2² − M4) */
    double p2[8] = {0}, p4[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            double p = (double)x[2 * (i + l)] * x[2 * (i + l)] + (double)x[2 * (i + l) + 1] * x[2 * (i + l) + 1];
            p2[l] += p;
            p4[l] += p * p;
        }
    double m2 = 0, m4 = 0;
    for (int l = 0; l < 8; l++) {
        m2 += p2[l];
        m4 += p4[l];
    }
    for (; i < n; i++) {
        double p = (double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1];
        m2 += p;
        m4 += p * p;
    }
    m2 /= n;
    m4 /= n;
    double d = 2 * m2 * m2 - m4;
    /* a fluctuating envelope (kurtosis well above a constant one's) is not for M2M4 */
    if (d <= 0 || m4 / (m2 * m2) > 1.2)
        return;
    double sig = sqrt(d), noise = m2 - sig;
    if (noise <= 0)
        noise = 1e-12 * m2;
    o->signal_power = sig;
    o->noise_power = noise;
    o->snr_db = 10 * log10(sig / noise);
}

/* Σ a[i] b[i] (c[i]) with 8 partial sums: the loops vectorise without
 * reassociation flags, and the order is fixed (deterministic) */
static inline double dot2(const float *a, const float *b, int n)
{
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            p[l] += a[i + l] * b[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += p[l];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline double dot3(const float *a, const float *b, const float *c, int n)
{
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            p[l] += a[i + l] * b[i + l] * c[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += p[l];
    for (; i < n; i++)
        s += a[i] * b[i] * c[i];
    return s;
}

/* max of v[0..n) (n ≥ 1; no NaN) in 8 lanes: vectorises, and a maximum does
 * not depend on the order */
static inline float max_run(const float *v, int n)
{
    float m[8];
    int i = 0;
    for (int l = 0; l < 8; l++)
        m[l] = v[0];
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            m[l] = v[i + l] > m[l] ? v[i + l] : m[l];
    float r = m[0];
    for (int l = 1; l < 8; l++)
        r = m[l] > r ? m[l] : r;
    for (; i < n; i++)
        r = v[i] > r ? v[i] : r;
    return r;
}

static inline double sum1(const float *a, int n)
{
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            p[l] += a[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += p[l];
    for (; i < n; i++)
        s += a[i];
    return s;
}

/* the smallest 2^a, 3·2^a or 5·2^a at least n: sizes FFTW does fast */
static int fast_size(int n)
{
    int best = 0;
    const int c[] = {1, 3, 5};
    for (int i = 0; i < 3; i++) {
        long m = c[i];
        while (m < n)
            m *= 2;
        if (!best || m < best)
            best = (int)m;
    }
    return best;
}

void hd_dsp_net_free(hd_dsp_net *w)
{
    if (!w)
        return;
    free(w->taper);
    free(w->bin_of);
    free(w->cnt);
    free(w->X);
    free(w->U);
    free(w->psi);
    free(w->q);
    free(w->jlo);
    free(w->jhi);
    free(w->psd);
    free(w->snrbin);
    free(w->snr);
    free(w->df);
    free(w->nfine);
    free(w->foff);
    free(w->xt);
    free(w->x);
    free(w->have);
    free(w->rot);
    free(w->nodf);
    free(w->pq);
    free(w->pv);
    free(w->acc);
    free(w->g);
    free(w->z);
    free(w->h);
    free(w->gw);
    free(w->pr);
    free(w->pi);
    free(w->sr);
    free(w->si);
    free(w->wt);
    free(w->kk);
    free(w->inband);
    free(w->atap);
    free(w->aoff);
    free(w);
}

hd_dsp_net *hd_dsp_net_new(int R, int n, int nfft)
{
    if (R < 1 || n < 4 || nfft < 2)
        return hd_error(HD_EINVAL, "receiver network: %d receivers, %d samples, nfft %d", R, n, nfft), NULL;
    hd_dsp_net *w = hd_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->R = w->Rcap = R;
    w->n = n;
    w->nfft = nfft;
    /* room for every lag, and at least one transform bin per PSD bin */
    w->Mmax = fast_size(2 * n > nfft ? 2 * n : nfft);
    size_t M = (size_t)w->Mmax, RM = (size_t)R * M;
    w->taper = hd_malloc((size_t)n * sizeof *w->taper);
    w->bin_of = hd_malloc(M * sizeof *w->bin_of);
    w->cnt = hd_malloc((size_t)nfft * sizeof *w->cnt);
    w->X = hd_aligned_alloc(RM, sizeof *w->X);
    w->U = hd_aligned_alloc(RM, sizeof *w->U);
    w->psi = hd_aligned_alloc(RM, sizeof *w->psi);
    w->q = hd_aligned_alloc(RM, sizeof *w->q);
    w->jlo = hd_malloc((size_t)nfft * sizeof *w->jlo);
    w->jhi = hd_malloc((size_t)nfft * sizeof *w->jhi);
    w->psd = hd_calloc((size_t)R * nfft, sizeof *w->psd);
    w->snrbin = hd_calloc((size_t)R * nfft, sizeof *w->snrbin);
    w->snr = hd_calloc((size_t)R, sizeof *w->snr);
    w->df = hd_calloc((size_t)R, sizeof *w->df);
    w->nfine = hd_calloc((size_t)R, sizeof *w->nfine);
    w->foff = hd_calloc((size_t)R, sizeof *w->foff);
    w->xt = hd_aligned_alloc((size_t)2 * n, sizeof *w->xt);
    w->x = hd_calloc((size_t)R, sizeof *w->x);
    w->have = hd_calloc((size_t)R, 1);
    w->rot = hd_calloc((size_t)R, 1);
    w->nodf = hd_calloc((size_t)R, 1);
    w->pq = hd_calloc((size_t)R, 1);
    w->pv = hd_calloc((size_t)R, 1);
    w->acc = hd_malloc((size_t)nfft * sizeof *w->acc);
    w->g = hd_aligned_alloc(M, sizeof *w->g);
    w->z = hd_aligned_alloc(2 * M, sizeof *w->z); /* also three float arrays of M */
    w->h = hd_aligned_alloc(M, sizeof *w->h);
    w->gw = hd_malloc((M + 4) * sizeof *w->gw);
    w->pr = hd_malloc(M * sizeof *w->pr);
    w->pi = hd_malloc(M * sizeof *w->pi);
    w->sr = hd_malloc(M * sizeof *w->sr);
    w->si = hd_malloc(M * sizeof *w->si);
    w->wt = hd_malloc(M * sizeof *w->wt);
    w->kk = hd_malloc(M * sizeof *w->kk);
    w->inband = hd_malloc((size_t)nfft);
    w->atap = hd_malloc((size_t)n * sizeof *w->atap);
    w->aoff = hd_calloc((size_t)R, sizeof *w->aoff);
    if (!w->taper || !w->bin_of || !w->cnt || !w->X || !w->U || !w->psi || !w->q || !w->jlo || !w->jhi || !w->psd || !w->snrbin || !w->snr || !w->df || !w->nfine || !w->foff || !w->xt || !w->x ||
        !w->have || !w->rot || !w->nodf || !w->pq || !w->pv || !w->acc || !w->g || !w->z || !w->h || !w->gw || !w->pr || !w->pi || !w->sr || !w->si || !w->wt || !w->kk || !w->inband || !w->atap || !w->aoff) {
        hd_dsp_net_free(w);
        return NULL;
    }
    /* 10 % Tukey: the capture's edges fade over 5 % at each end, so the
     * rectangular window's edges do not pull a strong narrow signal's
     * correlation toward lag 0 */
    int T = n / 20 > 1 ? n / 20 : 1;
    double s2 = 0, s4 = 0;
    for (int m = 0; m < n; m++) {
        int e = m < n - 1 - m ? m : n - 1 - m;
        double v = e < T ? 0.5 - 0.5 * cos(M_PI * (e + 0.5) / T) : 1.0;
        w->taper[m] = (float)v;
        s2 += v * v;
        s4 += v * v * v * v;
    }
    w->neff = s2 * s2 / s4;
    w->t2 = s2;
    return w;
}

int hd_dsp_net_begin(hd_dsp_net *w, double fs, int max_abs_lag)
{
    if (!(fs > 0) || max_abs_lag < 0)
        return hd_error(HD_EINVAL, "receiver network: %g Hz, lag %d", fs, max_abs_lag);
    w->fs = fs;
    /* no circular wrap within the lags searched: M ≥ n + |lag| */
    long need = (long)w->n + max_abs_lag + 1;
    if (need < w->nfft)
        need = w->nfft;
    w->M = need >= w->Mmax ? w->Mmax : fast_size((int)need);
    memset(w->have, 0, (size_t)w->R);
    memset(w->rot, 0, (size_t)w->R);
    memset(w->nodf, 0, (size_t)w->R);
    memset(w->df, 0, (size_t)w->R * sizeof *w->df);
    if (w->M == w->map_M)
        return 0;
    int M = w->M, nfft = w->nfft;
    memset(w->cnt, 0, (size_t)nfft * sizeof *w->cnt);
    for (int j = 0; j < nfft; j++) {
        w->jlo[j] = M;
        w->jhi[j] = -1;
    }
    for (int k = 0; k < M; k++) {
        int kk = k < M / 2 ? k : k - M;
        int j = nfft / 2 + (int)floor((double)kk * nfft / M + 0.5);
        j = ((j % nfft) + nfft) % nfft;
        w->bin_of[k] = j;
        w->cnt[j]++;
        /* bin 0 (±fs/2) wraps: only its lower part counts for bands */
        int idx = kk + M / 2;
        if (j > 0 || kk < 0) {
            w->jlo[j] = idx < w->jlo[j] ? idx : w->jlo[j];
            w->jhi[j] = idx > w->jhi[j] ? idx : w->jhi[j];
        }
    }
    double s2 = 0;
    for (int m = 0; m < w->n; m++) {
        double v = w->taper[m] * (0.5 - 0.5 * cos(2 * M_PI * m / M));
        s2 += v * v;
    }
    w->w2 = s2;
    /* Gamma shape of a PSD bin: G Hann-windowed transform bins whose powers
     * correlate by (2/3)² with a neighbour and (1/6)² two bins apart. (The
     * zero padding correlates neighbours a little more; counting it exactly
     * moved the SNR bias of weak signals from -0.33 to -0.38 dB on the
     * accuracy test, so the floor's other biases are larger than this one.) */
    double G = (double)M / nfft;
    w->shape = G / (1 + 2 * (4.0 / 9) * (1 - 1 / G) + 2 * (1.0 / 36) * (1 - 2 / G));
    if (w->shape < 1)
        w->shape = 1;
    w->map_M = M;
    return 0;
}

HD_SIMD static void polar(hd_dsp_net *w, int r, int with_pq);

/* ph[m - m0] = e^{-j2π df m / fs} for m in [m0, m1): at m0 and at every
 * multiple of 256 from cexp, between them by the recurrence r·st in double.
 * The runs of 256 do not depend on each other: eight at a time, their
 * recurrences in the lanes of vectors (then four, then one), so that the
 * latency overlaps (the same operations in the same order as one run after
 * another: the same bits). */
HD_SIMD static void phasors(double df, double fs, int m0, int m1, float complex *ph)
{
    double complex st = cexp(-I * 2 * M_PI * df / fs);
    const double sr = creal(st), si = cimag(st);
    int m = m0;
    while (m < m1 && (m == m0 || (m & 255) != 0)) { /* up to the first multiple of 256 */
        int e = ((m >> 8) + 1) << 8;
        e = e < m1 ? e : m1;
        double complex r = cexp(-I * 2 * M_PI * df / fs * m);
        for (; m < e; m++, r *= st)
            ph[m - m0] = (float complex)r;
    }
    /* r *= st written out: (a + bi)(c + di) = (ac - bd) + (ad + bc)i, what
     * GCC computes under -fcx-limited-range (and no FMA: the same bits) */
    typedef double v4d __attribute__((vector_size(32)));
    const v4d vsr = {sr, sr, sr, sr}, vsi = {si, si, si, si};
    for (; m + 8 * 256 <= m1; m += 8 * 256) {
        double tr[8], ti[8];
        for (int l = 0; l < 8; l++) {
            double complex r = cexp(-I * 2 * M_PI * df / fs * (m + 256 * l));
            tr[l] = creal(r);
            ti[l] = cimag(r);
        }
        v4d re0 = {tr[0], tr[1], tr[2], tr[3]}, re1 = {tr[4], tr[5], tr[6], tr[7]},
            im0 = {ti[0], ti[1], ti[2], ti[3]}, im1 = {ti[4], ti[5], ti[6], ti[7]};
        float *restrict p = (float *)(ph + (m - m0));
        for (int j = 0; j < 256; j++) {
            for (int l = 0; l < 4; l++) {
                p[2 * (256 * l + j)] = (float)re0[l];
                p[2 * (256 * l + j) + 1] = (float)im0[l];
                p[2 * (256 * (l + 4) + j)] = (float)re1[l];
                p[2 * (256 * (l + 4) + j) + 1] = (float)im1[l];
            }
            v4d a0 = re0, b0 = im0, a1 = re1, b1 = im1;
            re0 = a0 * vsr - b0 * vsi;
            im0 = a0 * vsi + b0 * vsr;
            re1 = a1 * vsr - b1 * vsi;
            im1 = a1 * vsi + b1 * vsr;
        }
    }
    for (; m + 4 * 256 <= m1; m += 4 * 256) {
        double complex r0 = cexp(-I * 2 * M_PI * df / fs * m), r1 = cexp(-I * 2 * M_PI * df / fs * (m + 256)),
                       r2 = cexp(-I * 2 * M_PI * df / fs * (m + 512)), r3 = cexp(-I * 2 * M_PI * df / fs * (m + 768));
        float complex *p = ph + (m - m0);
        for (int j = 0; j < 256; j++) {
            p[j] = (float complex)r0;
            p[j + 256] = (float complex)r1;
            p[j + 512] = (float complex)r2;
            p[j + 768] = (float complex)r3;
            r0 *= st;
            r1 *= st;
            r2 *= st;
            r3 *= st;
        }
    }
    while (m < m1) {
        int e = m + 256 < m1 ? m + 256 : m1;
        double complex r = cexp(-I * 2 * M_PI * df / fs * m);
        for (; m < e; m++, r *= st)
            ph[m - m0] = (float complex)r;
    }
}

/* taper·x (·e^{-j2π df m/fs}), zero padded to M, transformed; the taper is
 * the capture's own (off < 0) or the pairs' window from sample off */
HD_SIMD static int transform_at(hd_dsp_net *w, const float *x, double df, int off, float complex *X)
{
    int n = w->n, M = w->M;
    const hd_fft_plan *p = hd_fft_plan_get(M, -1);
    if (!p)
        return HD_ENOMEM;
    const float complex *cx = (const float complex *)x;
    const float *tp = w->taper;
    int m0 = 0, m1 = n;
    if (off >= 0) {
        tp = w->atap - off;
        m0 = off;
        m1 = off + w->aL;
        memset(X, 0, (size_t)m0 * sizeof *X);
    }
    if (df == 0) {
        for (int m = m0; m < m1; m++)
            X[m] = cx[m] * tp[m];
    } else {
        float complex *ph = w->z; /* 2 Mmax: room for n */
        phasors(df, w->fs, m0, m1, ph);
        for (int m = m0; m < m1; m++)
            X[m] = cx[m] * (tp[m] * ph[m - m0]);
    }
    memset(X + m1, 0, (size_t)(M - m1) * sizeof *X);
    hd_fft_execute(p, (float *)X, (float *)X);
    return 0;
}

static int transform(hd_dsp_net *w, const float *x, double df, float complex *X)
{
    return transform_at(w, x, df, -1, X);
}

HD_SIMD int hd_dsp_net_receiver(hd_dsp_net *w, int r, const float *x, float *psd, hd_spectral *out)
{
    if (r < 0 || r >= w->R || !x || !psd || !out || w->M == 0)
        return hd_error(HD_EINVAL, "receiver network: receiver %d", r);
    int M = w->M, nfft = w->nfft, rc;
    float complex *X = w->X + (size_t)r * w->Mmax;
    if ((rc = transform(w, x, 0, X)) < 0)
        return rc;
    /* Daniell: Hann in the frequency domain, bins averaged onto the grid */
    /* pw[idx]: |Hann-windowed bin|² in frequency order (idx = kk + M/2),
     * kept for the fine frequency */
    float *pw = (float *)w->z;
    const float *xf = (const float *)X;
    int h2 = M / 2;
    /* the two halves apart (positive frequencies to the top of pw, negative
     * to its bottom): each loop stores contiguously and vectorises */
    for (int half = 0; half < 2; half++) {
        int k0 = half ? h2 : 1, k1 = half ? M - 1 : h2;
        float *restrict po = pw + (half ? -h2 : h2);
        int k = k0;
        /* eight bins at a time: 0.5 X[k] - 0.25 (X[k-1] + X[k+1]) on the
         * interleaved parts, squared, and each bin's two squares added (the
         * same operations as the loop below, vector by vector) */
        typedef float v8f __attribute__((vector_size(32), aligned(4)));
        for (; k + 8 <= k1; k += 8) {
            const v8f *a = (const v8f *)(xf + 2 * k - 2), *b = (const v8f *)(xf + 2 * k),
                      *c = (const v8f *)(xf + 2 * k + 2), *a2 = (const v8f *)(xf + 2 * k + 6),
                      *b2 = (const v8f *)(xf + 2 * k + 8), *c2 = (const v8f *)(xf + 2 * k + 10);
            v8f h1 = 0.5f * *b - 0.25f * (*a + *c), h2v = 0.5f * *b2 - 0.25f * (*a2 + *c2);
            v8f p1 = h1 * h1, p2 = h2v * h2v;
            /* (GCC 12 and clang both have __builtin_shufflevector) */
            v8f sum = __builtin_shufflevector(p1, p2, 0, 2, 4, 6, 8, 10, 12, 14) +
                      __builtin_shufflevector(p1, p2, 1, 3, 5, 7, 9, 11, 13, 15);
            memcpy(po + k, &sum, sizeof sum);
        }
        for (; k < k1; k++) {
            float hr = 0.5f * xf[2 * k] - 0.25f * (xf[2 * k - 2] + xf[2 * k + 2]);
            float hi = 0.5f * xf[2 * k + 1] - 0.25f * (xf[2 * k - 1] + xf[2 * k + 3]);
            po[k] = hr * hr + hi * hi;
        }
    }
    for (int k = 0; k < M; k += M - 1) {
        float complex h = 0.5f * X[k] - 0.25f * (X[k ? k - 1 : M - 1] + X[k + 1 < M ? k + 1 : 0]);
        pw[k < h2 ? k + h2 : k - h2] = crealf(h) * crealf(h) + cimagf(h) * cimagf(h);
    }
    /* each PSD bin a contiguous run of idx; bin 0 (±fs/2) also takes the
     * top run, above the last bin's */
    int top = w->jhi[nfft - 1] + 1;
    double norm = 1.0 / (w->w2 > 0 ? w->w2 : 1) / nfft;
    for (int j = 0; j < nfft; j++) {
        double acc = w->jhi[j] >= w->jlo[j] ? sum1(pw + w->jlo[j], w->jhi[j] - w->jlo[j] + 1) : 0;
        if (j == 0 && top < M)
            acc += sum1(pw + top, M - top);
        psd[j] = (float)(w->cnt[j] ? acc / w->cnt[j] * norm : 0);
    }
    double fl; /* the floor per bin (hd_dsp_noise_floor_shape(psd, nfft, 0.3, shape)) */
    if ((rc = hd_dsp_spectral_shape_floor(psd, nfft, w->shape, w->fs, out, &fl)) < 0)
        return rc;
    hd_dsp_m2m4(x, w->n, out);
    /* frequency offset and peak on the transform's fine bins (a PSD bin is
     * M/nfft of them): the centroid of the power above the floor in the
     * PSD bins clearly above it, and the strongest bin interpolated */
    if (fl > 0 && isfinite(fl)) {
        double sp = 0, sf = 0, df = w->fs / M;
        float flk = (float)(fl * nfft * w->w2);
        int pk = -1;
        float pv = -INFINITY; /* pw[pk] */
        /* each PSD bin's sums a, b over its run in order; eight bins at a
         * time in the lanes of vectors where the eight runs are alike and
         * follow one another (their two dependent chains overlap eight
         * ways; the same operations on each bin: the same bits) */
        typedef float v8f __attribute__((vector_size(32)));
        typedef int v8i __attribute__((vector_size(32)));
        float ga[8], gb[8];
        int g0 = -1; /* the group in ga, gb: bins g0 .. g0 + 7 */
        for (int j = 1; j < nfft; j++) {
            if (psd[j] <= 2 * fl)
                continue;
            float a = 0, b = 0;
            int lo = w->jlo[j], len = w->jhi[j] - lo + 1;
            if (g0 < 0 || j >= g0 + 8) { /* a new group from j, when its runs are alike */
                g0 = -1;
                if (j + 8 <= nfft && len > 0 && w->jlo[j + 7] == lo + 7 * len && w->jhi[j + 7] == lo + 8 * len - 1) {
                    int alike = 1;
                    for (int l = 1; l < 7; l++)
                        alike &= w->jlo[j + l] == lo + l * len && w->jhi[j + l] == lo + (l + 1) * len - 1;
                    if (alike) {
                        v8f va = {0}, vb = {0}, vf = {flk, flk, flk, flk, flk, flk, flk, flk};
                        v8i ix = {lo - h2, lo + len - h2, lo + 2 * len - h2, lo + 3 * len - h2, lo + 4 * len - h2,
                                  lo + 5 * len - h2, lo + 6 * len - h2, lo + 7 * len - h2};
                        const float *q = pw + lo;
                        for (int i = 0; i < len; i++, ix += 1) {
                            v8f pv8 = {q[i], q[len + i], q[2 * len + i], q[3 * len + i], q[4 * len + i],
                                       q[5 * len + i], q[6 * len + i], q[7 * len + i]};
                            v8f e = pv8 - vf;
                            va += e;
                            vb += e * __builtin_convertvector(ix, v8f);
                        }
                        memcpy(ga, &va, sizeof ga);
                        memcpy(gb, &vb, sizeof gb);
                        g0 = j;
                    }
                }
            }
            if (g0 >= 0) {
                a = ga[j - g0];
                b = gb[j - g0];
            } else
                for (int idx = lo; idx <= w->jhi[j]; idx++) {
                    float e = pw[idx] - flk;
                    a += e;
                    b += e * (float)(idx - h2);
                }
            sp += a;
            sf += b;
            /* the strongest bin: the first PSD bin holding the maximum */
            float mj = max_run(pw + w->jlo[j], w->jhi[j] - w->jlo[j] + 1);
            if (mj > pv) {
                pv = mj;
                pk = j;
            }
        }
        if (pk >= 0) { /* its first bin of that power */
            int idx = w->jlo[pk];
            while (idx < w->jhi[pk] && !(pw[idx] == pv))
                idx++;
            pk = idx;
        }
        if (sp > 0)
            out->freq_offset_hz = sf / sp * df;
        if (pk >= 0) {
            double fpk = (pk - h2) * df, a0 = pw[(pk + M - 1) % M], b0 = pw[pk], c0 = pw[(pk + 1) % M];
            if (a0 > 0 && b0 > 0 && c0 > 0) {
                double la = log(a0), lb = log(b0), lc = log(c0), den = la - 2 * lb + lc;
                if (den < 0)
                    fpk += 0.5 * (la - lc) / den * df;
            }
            out->peak_freq_hz = fpk;
        }
    }
    float *sb = w->snrbin + (size_t)r * nfft;
    for (int j = 0; j < nfft; j++) {
        double s = fl > 0 ? psd[j] / fl - 1 : 0;
        sb[j] = (float)(s > 0 && isfinite(s) ? s : 0);
    }
    memcpy(w->psd + (size_t)r * nfft, psd, (size_t)nfft * sizeof *psd);
    /* white noise of power P gives E|X_k|² = P Σ taper², and a PSD bin P / nfft */
    w->nfine[r] = fl > 0 && isfinite(fl) ? fl * nfft * w->t2 : 0;
    w->snr[r] = pow(10, out->snr_db / 10);
    w->foff[r] = isfinite(out->freq_offset_hz) ? out->freq_offset_hz : 0;
    w->x[r] = x;
    w->have[r] = 1;
    /* its polar form is made when a correlation first reads it
     * (hd_dsp_net_tdoa): a receiver that is not timed needs none */
    w->pv[r] = 0;
    w->pq[r] = 0;
    return 0;
}

/* Receiver r's spectrum (w->X) in polar form over its band (the PSD bins
 * above BAND_SNR), in frequency order: what every pair reads. The unit
 * phasors always; with_pq also the phases and per-bin SNRs, which only the
 * phase-slope fit reads (the coarse correlations for the frequency
 * differences do not: their atan2 is spared, and made when a fit needs it) */
HD_SIMD static void polar(hd_dsp_net *w, int r, int with_pq)
{
    int M = w->M, nfft = w->nfft, mid = M / 2;
    const float complex *X = w->X + (size_t)r * w->Mmax;
    const float *sb = w->snrbin + (size_t)r * nfft;
    float complex *U = w->U + (size_t)r * w->Mmax;
    float *psi = w->psi + (size_t)r * w->Mmax, *q = w->q + (size_t)r * w->Mmax;
    float inv = w->nfine[r] > 0 ? (float)(1 / w->nfine[r]) : 0;
    /* the band's PSD bins joined into runs of contiguous idx (long loops) */
    for (int j = 1; j < nfft; j++) {
        if (!(sb[j] > BAND_SNR) || w->jhi[j] < w->jlo[j])
            continue;
        int lo = w->jlo[j], hi = w->jhi[j];
        while (j + 1 < nfft && sb[j + 1] > BAND_SNR && w->jhi[j + 1] >= w->jlo[j + 1] && w->jlo[j + 1] == hi + 1)
            hi = w->jhi[++j];
        /* runs of non-negative and of negative frequencies: contiguous in X */
        for (int part = 0; part < 2; part++) {
            int a = part ? (lo > mid ? lo : mid) : lo, b = part ? hi : (hi < mid - 1 ? hi : mid - 1);
            if (a > b)
                continue;
            const float *restrict xr = (const float *)(X + (part ? a - mid : a - mid + M));
            float *restrict u = (float *)(U + a), *restrict ps = psi + a, *restrict qq = q + a;
            if (with_pq)
                for (int i = 0; i <= b - a; i++) {
                    float re = xr[2 * i], im = xr[2 * i + 1], p = re * re + im * im, m = sqrtf(p);
                    float is = m > 0 ? 1 / m : 0;
                    u[2 * i] = re * is;
                    u[2 * i + 1] = im * is;
                    ps[i] = fast_atan2f(im, re);
                    float v = p * inv - 1;
                    qq[i] = v > 0 ? v : 0;
                }
            else
                for (int i = 0; i <= b - a; i++) {
                    float re = xr[2 * i], im = xr[2 * i + 1], p = re * re + im * im, m = sqrtf(p);
                    float is = m > 0 ? 1 / m : 0;
                    u[2 * i] = re * is;
                    u[2 * i + 1] = im * is;
                }
        }
    }
    w->pq[r] = (unsigned char)with_pq;
    w->pv[r] = 1;
}

/* g[m] = Σ_k G[k] e^{j2π k m / K} (G: w->g, K points) for m = m0 .. m0 + W - 1
 * into gw[0 .. W): the band's inverse transform at the W lags a
 * pair searches. A whole transform gives K lags where a pair searches some
 * 20 (the physical lag window at the band's own rate), so when that is
 * cheaper the transform is pruned: with K = P·Q and k = k1 + P k2,
 *   g[m] = Σ_{k1<P} e^{j2π k1 m/K} h[k1][m mod Q],
 *   h[k1][j] = Σ_{k2<Q} G[k1 + P k2] e^{j2π k2 j/Q}:
 * P transforms of Q points (FFTW, out of place, written transposed), then
 * for each lag a sum over k1 whose phasors e^{j2π k1 m/K} step by
 * e^{j2π k1/K} from lag to lag (anchored anew in double every 32 lags).
 * K log2 Q + 2 W P operations against K log2 K. */
int hd_dsp_net_pruned_inverse = 1;

HD_SIMD static int inverse_at(hd_dsp_net *w, int K, int m0, int W)
{
    int Q = 0;
    double cost = 0.7 * log2((double)K);
    for (int q = 8; hd_dsp_net_pruned_inverse && q <= 256 && q * 8 <= K; q *= 2) {
        double c = log2((double)q) + 2.0 * W / q;
        if (K % q == 0 && c < cost) {
            cost = c;
            Q = q;
        }
    }
    const hd_fft_plan *pm = Q ? hd_fft_plan_many_t(Q, K / Q, +1) : NULL;
    if (!pm) { /* (or no batch plan to be had: the whole transform then) */
        const hd_fft_plan *pb = hd_fft_plan_get(K, +1);
        if (!pb)
            return HD_ENOMEM;
        float complex *g = w->g;
        hd_fft_execute(pb, (float *)g, (float *)g);
        for (int t = 0; t < W; t++)
            w->gw[t] = g[(((m0 + t) % K) + K) % K];
        return 0;
    }
    int P = K / Q;
    /* G in order: point k2 of transform k1 is G[k1 + P k2] */
    float complex *A = w->g, *H = w->h;
    hd_fft_execute(pm, (float *)A, (float *)H); /* H[j·P + k1] = h[k1][j] */
    float *restrict pr = w->pr, *restrict pim = w->pi, *restrict sr = w->sr, *restrict si = w->si;
    /* steps e^{j2π k1/K} */
    {
        double complex st = cexp(I * 2 * M_PI / K), r = 1;
        for (int k1 = 0; k1 < P; k1++, r *= st) {
            sr[k1] = (float)creal(r);
            si[k1] = (float)cimag(r);
        }
    }
    for (int t = 0; t < W; t++) {
        int m = m0 + t;
        if (t % 32 == 0) { /* anchor: e^{j2π k1 m/K} in double */
            int mm = ((m % K) + K) % K;
            double complex st = cexp(I * 2 * M_PI * mm / K), r = 1;
            for (int k1 = 0; k1 < P; k1++, r *= st) {
                pr[k1] = (float)creal(r);
                pim[k1] = (float)cimag(r);
            }
        }
        int j = ((m % Q) + Q) % Q;
        const float *restrict hv = (const float *)(H + (size_t)j * P);
        /* the sum over k1 in 8 lanes (one vector) and, in the same pass,
         * the next lag's phasors (each read once); the same operations on
         * each lane as one loop after the other: the same bits */
        typedef float v8f __attribute__((vector_size(32), aligned(4)));
        v8f ar = {0}, ai = {0};
        int k1 = 0;
        for (; k1 + 8 <= P; k1 += 8) {
            v8f h0 = *(const v8f *)(hv + 2 * k1), h1 = *(const v8f *)(hv + 2 * k1 + 8);
            v8f hr = __builtin_shufflevector(h0, h1, 0, 2, 4, 6, 8, 10, 12, 14),
                hi = __builtin_shufflevector(h0, h1, 1, 3, 5, 7, 9, 11, 13, 15);
            v8f c = *(const v8f *)(pr + k1), d = *(const v8f *)(pim + k1), vr = *(const v8f *)(sr + k1),
                vi = *(const v8f *)(si + k1);
            ar += hr * c - hi * d;
            ai += hr * d + hi * c;
            v8f nc = c * vr - d * vi, nd = c * vi + d * vr;
            memcpy(pr + k1, &nc, sizeof nc);
            memcpy(pim + k1, &nd, sizeof nd);
        }
        int k8 = k1;
        float gr = 0, gi = 0;
        for (int l = 0; l < 8; l++) {
            gr += ar[l];
            gi += ai[l];
        }
        for (; k1 < P; k1++) {
            float hr = hv[2 * k1], hi = hv[2 * k1 + 1], c = pr[k1], d = pim[k1];
            gr += hr * c - hi * d;
            gi += hr * d + hi * c;
        }
        /* a complex is an array of its two parts (C11 6.2.5): CMPLXF is
         * GCC's alone in glibc's complex.h, and the fuzz build is clang */
        float *g2 = (float *)&w->gw[t];
        g2[0] = gr;
        g2[1] = gi;
        /* the rest of the next lag's phasors */
        for (int q = k8; q < P; q++) {
            float c = pr[q], d = pim[q];
            pr[q] = c * sr[q] - d * si[q];
            pim[q] = c * si[q] + d * sr[q];
        }
    }
    return 0;
}

/* GCC-PHAT of receivers a and b (their polar spectra) over their common
 * band, lags center_s ± max_lag_s; fit: the weighted phase-slope refinement
 * and its sigma (else the parabolic peak only). */
HD_SIMD static int correlate(hd_dsp_net *w, int a, int b, double center_s, double max_lag_s, double psr_min_db, int fit,
                     hd_xcorr *o)
{
    int M = w->M, n = w->n, nfft = w->nfft;
    double fs = w->fs;
    memset(o, 0, sizeof *o);
    o->delay_s = center_s;
    o->sigma_s = INFINITY;
    const float *sa = w->snrbin + (size_t)a * nfft, *sbn = w->snrbin + (size_t)b * nfft;
    size_t oa = (size_t)a * w->Mmax, ob = (size_t)b * w->Mmax;
    const float complex *Ua = w->U + oa, *Ub = w->U + ob;
    const float *pa = w->psi + oa, *pb_ = w->psi + ob, *qa = w->q + oa, *qb = w->q + ob;
    int nbj = 0, strong = 0;
    float top = 0;
    for (int j = 1; j < nfft; j++) { /* bin 0 is the band's edge (±fs/2) */
        float m = sa[j] < sbn[j] ? sa[j] : sbn[j];
        nbj += m > BAND_SNR && w->jhi[j] >= w->jlo[j];
        top = m > top ? m : top;
    }
    /* a carrier has no bandwidth to time: one or two bins, or, above a weak
     * floor, a main lobe with window sidelobes around it (count the bins
     * within 10 dB of the strongest) */
    for (int j = 1; j < nfft; j++)
        strong += (sa[j] < sbn[j] ? sa[j] : sbn[j]) >= 0.1f * top;
    if (nbj < 3 || strong < 3)
        return 0;
    int lo, hi;
    if (!hd_dsp_lag_window(center_s, max_lag_s, fs, n, &lo, &hi))
        return 0;
    if (lo < -(M - n))
        lo = -(M - n);
    if (hi > M - n)
        hi = M - n;
    if (lo > hi)
        return 0;
    /* The band: the PSD bins above both floors, as runs of contiguous
     * transform bins (idx = kk + M/2; consecutive PSD bins join into one
     * run, so the loops below run long). kk of the band's first and last
     * bins, its count and its sum (integers: exact) */
    int *rl = w->kk, nr = 0, nb = 0, kfirst = 0, klast = 0;
    long ksum = 0;
    for (int j = 1; j < nfft; j++) {
        if (!(sa[j] > BAND_SNR && sbn[j] > BAND_SNR) || w->jhi[j] < w->jlo[j])
            continue;
        int a0 = w->jlo[j], a1 = w->jhi[j];
        if (nr > 0 && rl[2 * nr - 1] + 1 == a0)
            rl[2 * nr - 1] = a1;
        else {
            rl[2 * nr] = a0;
            rl[2 * nr + 1] = a1;
            nr++;
        }
        long len = a1 - a0 + 1;
        ksum += len * (a0 - M / 2) + len * (len - 1) / 2;
        nb += (int)len;
    }
    if (nb < 8)
        return 0;
    kfirst = rl[0] - M / 2;
    klast = rl[2 * nr - 1] - M / 2;
    int klo = kfirst, kc = (kfirst + klast) / 2, pos = 0;
    float *wt = w->wt, *ph = (float *)w->z, *xv = (float *)w->z + w->Mmax; /* xv: after ph */
    const float xs = (float)(2 * M_PI / M);
    /* the band's cross-spectrum G[k] straight into w->g, k = kk - klo (0
     * between the band's runs; above it, up to K, after the loop): one pass,
     * no copy; with fit, the phases, weights and abscissae of the fit */
    float complex *G = w->g;
    for (int q = 0, at = 0; q < nr; q++) {
        int a0 = rl[2 * q], len = rl[2 * q + 1] - a0 + 1, k0 = a0 - M / 2 - klo;
        if (k0 > pos)
            memset(G + pos, 0, (size_t)(k0 - pos) * sizeof *G);
        pos = k0 + len;
        /* PHAT: the unit cross-spectrum; the fit's weights are the bins'
         * own SNRs (an FM signal's lines, a random signal's fading bins) */
        const float *restrict ua = (const float *)(Ua + a0), *restrict ub = (const float *)(Ub + a0);
        float *restrict go = (float *)(G + k0);
        for (int i = 0; i < len; i++) {
            go[2 * i] = ua[2 * i] * ub[2 * i] + ua[2 * i + 1] * ub[2 * i + 1];
            go[2 * i + 1] = ua[2 * i] * ub[2 * i + 1] - ua[2 * i + 1] * ub[2 * i];
        }
        if (fit) { /* phases, weights and x = 2π (kk - kc) / M: the fit's alone */
            const float *restrict fa = pa + a0, *restrict fb = pb_ + a0, *restrict xa = qa + a0, *restrict xb = qb + a0;
            float *restrict po = ph + at, *restrict wo = wt + at, *restrict xo = xv + at;
            int kb = a0 - M / 2 - kc;
            for (int i = 0; i < len; i++)
                po[i] = fb[i] - fa[i];
            for (int i = 0; i < len; i++)
                wo[i] = xa[i] * xb[i] / (1 + xa[i] + xb[i]);
            for (int i = 0; i < len; i++)
                xo[i] = (float)(kb + i) * xs;
        }
        at += len;
    }
    int span = klast - klo + 1;
    int K = fast_size(span + span / 2 > 64 ? span + span / 2 : 64);
    if (K > M)
        K = M;
    if (K > pos)
        memset(G + pos, 0, (size_t)(K - pos) * sizeof *G);
    double step = (double)M / K;
    int mlo = (int)floor(lo / step), mhi = (int)ceil(hi / step);
    if (mhi - mlo + 1 > K)
        mhi = mlo + K - 1;
    /* the inverse transform of the band, g[m] = Σ_k G[k] e^{j2π k m/K}
     * (|g[m]| = |r(m M / K)|), wanted only at m in [mlo - 1, mhi + 1]:
     * gw[m - mlo + 1] */
    int rc = inverse_at(w, K, mlo - 1, mhi - mlo + 3);
    if (rc < 0)
        return rc;
    const float complex *gw = w->gw;
#define GAT(m) absf(gw[(m) - mlo + 1])
    int best = mlo;
    double bestv = -1;
    for (int m = mlo; m <= mhi; m++) {
        double v = GAT(m);
        if (v > bestv) {
            bestv = v;
            best = m;
        }
    }
    int excl = (int)ceil(4 / step);
    double sum = 0;
    int cnt = 0;
    for (int m = mlo; m <= mhi; m++) {
        if (abs(m - best) <= excl)
            continue;
        double v = GAT(m);
        sum += v * v;
        cnt++;
    }
    double side = cnt ? sum / cnt : 0;
    o->psr_db = bestv > 0 ? 10 * log10(bestv * bestv / (side > 1e-30 * bestv * bestv ? side : 1e-30 * bestv * bestv)) : 0;
    o->peak = bestv / nb;
    double y0 = GAT(best - 1), y1 = bestv, y2 = GAT(best + 1);
#undef GAT
    double den = y0 - 2 * y1 + y2;
    double tau = (best + (den < 0 ? 0.5 * (y0 - y2) / den : 0.0)) * step;
    double sig2 = 0;
    if (fit) {
        /* Σw, Σw x, Σw x² of x = 2π (kk - kc) / M: the fit's information
         * does not depend on tau. Σ kk in integers (exact), run by run */
        double sw = 0, swx = 0, swxx = 0, kmean = (double)ksum / nb;
        sw = sum1(wt, nb);
        swx = dot2(wt, xv, nb);
        swxx = dot3(wt, xv, xv, nb);
        double d = sw * swxx - swx * swx;
        /* phase variance of a bin: 1 / (2 seff); the bins are correlated
         * by the zero padding and the taper (n_eff independent of M) */
        double f = w->neff_t / M, sxx = sw > 0 ? swxx - swx * swx / sw : 0;
        sig2 = sxx > 0 ? 1.0 / (2 * f * sxx) : INFINITY;
        /* the residual phase's constant: the correlation's phase at the
         * grid peak (lag best·step: e^{j2π klo best / K} g[best]), moved to
         * tau along the band's mean frequency, about kc */
        double complex pk = gw[best - mlo + 1] * cexp(I * 2 * M_PI * (double)klo * best / K);
        double c0 = -(carg(pk) - 2 * M_PI * (double)kc * best / K + 2 * M_PI * (kmean - kc) * (tau - best * step) / M);
        const float tp = (float)(2 * M_PI), itp = (float)(1 / (2 * M_PI));
        for (int iter = 0; d > 0 && iter < 3; iter++) {
            float t = (float)tau, c = (float)c0;
            double swy = 0, swxy = 0;
            float *yv = xv + w->Mmax; /* after xv */
            for (int i = 0; i < nb; i++) {
                float y = ph[i] + xv[i] * t + c;
                float r = y * itp;
                yv[i] = y - tp * (float)(int)(r + (r >= 0 ? 0.5f : -0.5f));
            }
            swy = dot2(wt, yv, nb);
            swxy = dot3(wt, xv, yv, nb);
            double slope = (sw * swxy - swx * swy) / d, icpt = (swy - slope * swx) / sw;
            tau -= slope;
            c0 -= icpt;
            /* without wrapped phases the fit is exact in one pass */
            if (fabs(slope) < 0.05)
                break;
        }
    }
    o->delay_s = tau / fs;
    if (fit)
        o->sigma_s = sqrt(sig2) / fs;
    else
        o->sigma_s = hd_dsp_tdoa_crlb(n, fs, w->snr[a], w->snr[b], 0);
    o->valid = o->psr_db >= psr_min_db && isfinite(o->delay_s) && isfinite(o->sigma_s);
    return 0;
}

/* b's frequency minus a's from conj(a(m))·b(m + tau) (b linearly
 * interpolated at the fraction): block sums, the peak of their short
 * transform, then the phase slope over SEGMENTS segments. */
HD_SIMD int hd_dsp_freq_diff(const float *xa, const float *xb, int n, double fs, double tau, double *df_out)
{
    *df_out = 0;
    if (!xa || !xb || n < 1 || !(fs > 0) || !isfinite(tau))
        return hd_error(HD_EINVAL, "frequency difference: %d samples at %g Hz, lag %g", n, fs, tau);
    int l0 = (int)floor(tau);
    float e = (float)(tau - l0);
    int m0 = l0 < 0 ? -l0 : 0, m1 = n - l0 - 1 < n ? n - l0 - 1 : n;
    int nblk = (m1 - m0) / BLOCK;
    if (nblk < 4 * SEGMENTS)
        return 0;
    const float complex *a = (const float complex *)xa, *b = (const float complex *)xb;
    int Q = fast_size(2 * nblk);
    const hd_fft_plan *pf = hd_fft_plan_get(Q, -1);
    /* zb, then the products' real and imaginary parts */
    float complex *zb = hd_malloc((size_t)nblk * (1 + BLOCK) * sizeof *zb), *Z = hd_aligned_alloc((size_t)Q, sizeof *Z);
    if (!pf || !zb || !Z) {
        free(zb);
        free(Z);
        return HD_ENOMEM;
    }
    /* conj(a)·((1-e) b0 + e b1) written out as GCC computes it (a real
     * times a complex is two products; conj(a)·c is (ar cr + ai ci,
     * ar ci - ai cr), -fcx-limited-range): the same bits, in a loop that
     * vectorises; then each block summed in order from 0 */
    {
        int L = nblk * BLOCK;
        float *restrict pr = (float *)(zb + nblk), *restrict pim = pr + L;
        const float *restrict fa = (const float *)(a + m0), *restrict f0 = (const float *)(b + m0 + l0),
                              *restrict f1 = (const float *)(b + m0 + l0 + 1);
        float e1 = 1 - e;
        for (int i = 0; i < L; i++) {
            float cr = e1 * f0[2 * i] + e * f1[2 * i], ci = e1 * f0[2 * i + 1] + e * f1[2 * i + 1];
            pr[i] = fa[2 * i] * cr + fa[2 * i + 1] * ci;
            pim[i] = fa[2 * i] * ci - fa[2 * i + 1] * cr;
        }
        float *zf = (float *)zb;
        for (int q = 0; q < nblk; q++) {
            float sr = 0, si = 0;
            for (int i = 0; i < BLOCK; i++) {
                sr += pr[q * BLOCK + i];
                si += pim[q * BLOCK + i];
            }
            zf[2 * q] = sr;
            zf[2 * q + 1] = si;
        }
    }
    memcpy(Z, zb, (size_t)nblk * sizeof *Z);
    memset(Z + nblk, 0, (size_t)(Q - nblk) * sizeof *Z);
    hd_fft_execute(pf, (float *)Z, (float *)Z);
    int best = 0;
    float bv = -1;
    double tot = 0;
    for (int k = 0; k < Q; k++) {
        float v = crealf(Z[k]) * crealf(Z[k]) + cimagf(Z[k]) * cimagf(Z[k]);
        tot += v;
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    /* a tone stands out of the product's spectrum (its main lobe holds
     * most of the power); a misaligned product is noise, whose strongest
     * bin is a few times the mean: no measurement then */
    if (!(bv > TONE_PROMINENCE * tot / Q)) {
        free(zb);
        free(Z);
        return 0;
    }
    double y0 = cabsf(Z[(best - 1 + Q) % Q]), y1 = cabsf(Z[best]), y2 = cabsf(Z[(best + 1) % Q]);
    double den = y0 - 2 * y1 + y2, frac = den < 0 ? 0.5 * (y0 - y2) / den : 0;
    int kq = best < Q / 2 ? best : best - Q;
    double fb = fs / BLOCK, df = (kq + frac) * fb / Q;
    /* fine: the phase slope of the de-rotated block sums */
    double complex seg[SEGMENTS] = {0};
    double tm[SEGMENTS];
    int len = nblk / SEGMENTS;
    double complex st = cexp(-I * 2 * M_PI * df / fb);
    /* the segments' sums Σ zb[q]·r, r from cexp at the segment's start and
     * r *= st after each block: the eight segments side by side in the
     * lanes of vectors (independent recurrences; one segment after another
     * waited on every multiplication). The products written out as GCC
     * computes them ((a + bi)(c + di) = (ac - bd) + (ad + bc)i,
     * -fcx-limited-range, no FMA): the same bits. */
    _Static_assert(SEGMENTS == 8, "the segments fill two vectors of four");
    {
        typedef double v4d __attribute__((vector_size(32)));
        double a0[SEGMENTS], b0[SEGMENTS];
        for (int s = 0; s < SEGMENTS; s++) {
            double complex r0 = cexp(-I * 2 * M_PI * df / fb * (s * len));
            a0[s] = creal(r0);
            b0[s] = cimag(r0);
        }
        const double sr = creal(st), si = cimag(st);
        const v4d vsr = {sr, sr, sr, sr}, vsi = {si, si, si, si};
        v4d rr0 = {a0[0], a0[1], a0[2], a0[3]}, rr1 = {a0[4], a0[5], a0[6], a0[7]}, ri0 = {b0[0], b0[1], b0[2], b0[3]},
            ri1 = {b0[4], b0[5], b0[6], b0[7]}, sr0 = {0, 0, 0, 0}, sr1 = sr0, si0 = sr0, si1 = sr0;
        const float *zf = (const float *)zb;
        for (int k = 0; k < len; k++) {
            v4d zr0 = {zf[2 * k], zf[2 * (len + k)], zf[2 * (2 * len + k)], zf[2 * (3 * len + k)]},
                zi0 = {zf[2 * k + 1], zf[2 * (len + k) + 1], zf[2 * (2 * len + k) + 1], zf[2 * (3 * len + k) + 1]},
                zr1 = {zf[2 * (4 * len + k)], zf[2 * (5 * len + k)], zf[2 * (6 * len + k)], zf[2 * (7 * len + k)]},
                zi1 = {zf[2 * (4 * len + k) + 1], zf[2 * (5 * len + k) + 1], zf[2 * (6 * len + k) + 1],
                       zf[2 * (7 * len + k) + 1]};
            sr0 += zr0 * rr0 - zi0 * ri0;
            si0 += zr0 * ri0 + zi0 * rr0;
            sr1 += zr1 * rr1 - zi1 * ri1;
            si1 += zr1 * ri1 + zi1 * rr1;
            v4d t0 = rr0, t1 = rr1;
            rr0 = t0 * vsr - ri0 * vsi;
            ri0 = t0 * vsi + ri0 * vsr;
            rr1 = t1 * vsr - ri1 * vsi;
            ri1 = t1 * vsi + ri1 * vsr;
        }
        for (int s = 0; s < 4; s++) { /* a complex is an array of its two parts (C11 6.2.5) */
            double *g0 = (double *)&seg[s], *g1 = (double *)&seg[s + 4];
            g0[0] = sr0[s];
            g0[1] = si0[s];
            g1[0] = sr1[s];
            g1[1] = si1[s];
        }
    }
    for (int s = 0; s < SEGMENTS; s++)
        tm[s] = (s + 0.5) * len / fb;
    double ph[SEGMENTS], sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int s = 0; s < SEGMENTS; s++) {
        ph[s] = carg(seg[s]);
        if (s) {
            while (ph[s] - ph[s - 1] > M_PI)
                ph[s] -= 2 * M_PI;
            while (ph[s] - ph[s - 1] < -M_PI)
                ph[s] += 2 * M_PI;
        }
        double wv = cabs(seg[s]);
        sw += wv;
        sx += wv * tm[s];
        sy += wv * ph[s];
        sxx += wv * tm[s] * tm[s];
        sxy += wv * tm[s] * ph[s];
    }
    double d = sw * sxx - sx * sx;
    if (d > 0)
        df += (sw * sxy - sx * sy) / d / (2 * M_PI);
    /* coherence: how much of the product the tone at df explains (near 1
     * when b is aligned on the same signal; a false alignment of an FM
     * signal leaves lines of its own, holding a fraction of the power) */
    double complex acc = 0;
    double mag = 0;
    st = cexp(-I * 2 * M_PI * df / fb);
    double complex r = 1;
    for (int q = 0; q < nblk; q++) {
        if ((q & 255) == 0)
            r = cexp(-I * 2 * M_PI * df / fb * q);
        acc += zb[q] * r;
        /* cabsf: glibc's hypotf is this, rounded once (no call, no errno) */
        mag += (float)sqrt((double)crealf(zb[q]) * crealf(zb[q]) + (double)cimagf(zb[q]) * cimagf(zb[q]));
        r *= st;
    }
    double coh = mag > 0 ? cabs(acc) / mag : 0;
    int ok = isfinite(df) && coh >= COHERENCE_MIN;
    *df_out = ok ? df : 0;
    free(zb);
    free(Z);
    return ok;
}

int hd_dsp_net_resize(hd_dsp_net *w, int R)
{
    if (R < 1 || R > w->Rcap)
        return hd_error(HD_EINVAL, "receiver network: %d receivers, room for %d", R, w->Rcap);
    w->R = R;
    return 0;
}

int hd_dsp_net_tdoa(hd_dsp_net *w, const unsigned char *use, const double *t0_s, double max_lag_s, double psr_min_db,
                    int reference_only, hd_xcorr *out, int *ref_out)
{
    int R = w->R, P = R * (R - 1) / 2, rc;
    for (int p = 0; p < P; p++) {
        memset(&out[p], 0, sizeof out[p]);
        out[p].sigma_s = INFINITY;
    }
    int ref = -1, used = 0;
    for (int r = 0; r < R; r++)
        if (use[r] && w->have[r]) {
            used++;
            if (ref < 0 || w->snr[r] > w->snr[ref])
                ref = r;
        }
    *ref_out = used >= 2 ? ref : -1;
    if (used < 2)
        return 0;
    size_t Mx = (size_t)w->Mmax;
    /* each receiver's frequency against the reference, removed once */
    for (int r = 0; r < R; r++) {
        if (!use[r] || !w->have[r] || r == ref)
            continue;
        hd_xcorr c;
        double center = -(t0_s[r] - t0_s[ref]), df = 0;
        if (!w->pv[ref])
            polar(w, ref, 0);
        if (!w->pv[r])
            polar(w, r, 0);
        if ((rc = correlate(w, ref, r, center, max_lag_s, psr_min_db, 0, &c)) < 0)
            return rc;
        int got = 0, peaked = c.valid;
        if (c.valid && (got = hd_dsp_freq_diff(w->x[ref], w->x[r], w->n, w->fs, c.delay_s * w->fs, &df)) < 0)
            return got;
        if (!got) {
            /* an LO difference of about a cycle over the capture defeats the
             * uncorrected correlation (no peak, or a false one whose product
             * is no tone): again with the difference of the two spectral
             * centroids (the same signal heard twice) removed first, then
             * measured from there */
            double df0 = w->foff[r] - w->foff[ref];
            double df1 = 0;
            const float complex *cx = (const float complex *)w->x[r];
            float complex *xt = (float complex *)w->xt;
            phasors(df0, w->fs, 0, w->n, xt);
            for (int m = 0; m < w->n; m++)
                xt[m] = cx[m] * xt[m];
            if ((rc = transform(w, w->xt, 0, w->X + r * Mx)) < 0)
                return rc;
            polar(w, r, 0);
            w->rot[r] = 1;
            if ((rc = correlate(w, ref, r, center, max_lag_s, psr_min_db, 0, &c)) < 0)
                return rc;
            peaked |= c.valid;
            if (c.valid && (got = hd_dsp_freq_diff(w->x[ref], w->xt, w->n, w->fs, c.delay_s * w->fs, &df1)) < 0)
                return got;
            df = df0 + (got ? df1 : 0);
            w->df[r] = df;
            if (!got) {
                /* no frequency difference to trust: its pairs would be
                 * pulled by an unknown amount, so they are not timed (2:
                 * a peak, but no one frequency explains it: no lock) */
                w->nodf[r] = peaked ? 2 : 1;
                continue;
            }
        }
        w->df[r] = df;
    }
    /* The pairs' spectra: each capture de-rotated by its frequency
     * difference and windowed over the interval all timed captures cover,
     * the same instants at every receiver. With each capture's own taper
     * (its own samples), captures that start milliseconds apart are
     * weighted over different stretches of the signal, which pulls every
     * delay toward lag 0 by about 1e-5 of the start difference (200 ns for
     * 20 ms) above 30 dB. */
    double ts = -INFINITY, te = INFINITY;
    for (int r = 0; r < R; r++)
        if (use[r] && w->have[r] && !w->nodf[r]) {
            ts = t0_s[r] > ts ? t0_s[r] : ts;
            te = t0_s[r] + w->n / w->fs < te ? t0_s[r] + w->n / w->fs : te;
        }
    int L = isfinite(ts) && te > ts ? (int)floor((te - ts) * w->fs) : 0;
    for (int r = 0; r < R; r++)
        if (use[r] && w->have[r] && !w->nodf[r]) {
            long o = lround((ts - t0_s[r]) * w->fs);
            w->aoff[r] = o < 0 ? 0 : (int)o;
            if (w->aoff[r] + L > w->n)
                L = w->n - w->aoff[r];
        }
    w->aL = L >= w->n / 2 && L >= 16 ? L : 0;
    w->neff_t = w->neff;
    if (w->aL) {
        int T = L / 20 > 1 ? L / 20 : 1;
        double s2 = 0, s4 = 0;
        /* the edge's values once (both edges are alike), kept in
         * double in xt, then the window and its sums in sample order */
        double *edge = (double *)(void *)w->xt; /* T ≤ n/20 doubles */
        for (int e = 0; e < T; e++)
            edge[e] = 0.5 - 0.5 * cos(M_PI * (e + 0.5) / T);
        for (int m = 0; m < L; m++) {
            int e = m < L - 1 - m ? m : L - 1 - m;
            double v = e < T ? edge[e] : 1.0;
            w->atap[m] = (float)v;
            s2 += v * v;
            s4 += v * v * v * v;
        }
        w->neff_t = s2 * s2 / s4;
        for (int r = 0; r < R; r++) {
            if (!use[r] || !w->have[r] || w->nodf[r])
                continue;
            if ((rc = transform_at(w, w->x[r], w->df[r], w->aoff[r], w->X + r * Mx)) < 0)
                return rc;
            w->nfine[r] *= s2 / w->t2; /* the noise of a bin under this window */
            polar(w, r, 1);
            w->rot[r] = 1;
        }
    } else {
        for (int r = 0; r < R; r++)
            if (use[r] && w->have[r] && !w->nodf[r] && w->df[r] != 0) {
                if ((rc = transform(w, w->x[r], w->df[r], w->X + r * Mx)) < 0)
                    return rc;
                polar(w, r, 1);
                w->rot[r] = 1;
            }
    }
    for (int p = 0, i = 0; i < R; i++)
        for (int j = i + 1; j < R; j++, p++) {
            if (!use[i] || !use[j] || !w->have[i] || !w->have[j] || w->nodf[i] || w->nodf[j] ||
                (reference_only && i != ref && j != ref))
                continue;
            if (!w->pq[i])
                polar(w, i, 1);
            if (!w->pq[j])
                polar(w, j, 1);
            if ((rc = correlate(w, i, j, -(t0_s[j] - t0_s[i]), max_lag_s, psr_min_db, 1, &out[p])) < 0)
                return rc;
            out[p].freq_diff_hz = w->df[j] - w->df[i];
        }
    return 0;
}

int hd_dsp_net_no_freq_lock(const hd_dsp_net *w, int r)
{
    return r >= 0 && r < w->R && w->nodf[r] == 2;
}
