/* dsp: spectra, SNR, frequency offset and GCC-PHAT on synthetic signals
 * with known truth. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "dsp/dsp.h"
#include "dsp/internal.h"
#include "tap.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define FS 24000.0

/* unit-power FM voice-like signal plus complex noise at the given full-band SNR */
static void fm_plus_noise(float *x, int n, double snr_db, double f_off, uint32_t seed)
{
    hd_rng r;
    hd_rng_init(&r, seed, 0, 0, HD_RNG_TEST);
    double f[4], b[4], th[4];
    for (int k = 0; k < 4; k++) {
        f[k] = hd_rng_uniform_range(&r, 300, 3000);
        b[k] = 1200.0 / f[k];
        th[k] = hd_rng_uniform_range(&r, 0, 6.28);
    }
    double ns = sqrt(pow(10, -snr_db / 10) / 2);
    for (int i = 0; i < n; i++) {
        double t = i / FS, ph = 2 * M_PI * f_off * t;
        for (int k = 0; k < 4; k++)
            ph += b[k] * sin(2 * M_PI * f[k] * t + th[k]);
        x[2 * i] = (float)(cos(ph) + ns * hd_rng_normal(&r));
        x[2 * i + 1] = (float)(sin(ph) + ns * hd_rng_normal(&r));
    }
}

/* a band-limited noise-like signal (±bw/2) and a copy delayed by d samples,
 * each with independent noise at snr_db */
static void delayed_pair(float *a, float *b, int n, double d, double bw, double snr_db, uint32_t seed)
{
    int P = 4 * n;
    fftw_complex *S = fftw_alloc_complex(P), *T = fftw_alloc_complex(P);
    hd_rng r;
    hd_rng_init(&r, seed, 1, 0, HD_RNG_TEST);
    int kb = (int)(bw / 2 / FS * P);
    double p = 0;
    for (int k = 0; k < P; k++) {
        int kk = k < P / 2 ? k : k - P;
        S[k] = abs(kk) <= kb ? hd_rng_normal(&r) + I * hd_rng_normal(&r) : 0;
        T[k] = S[k] * cexp(-I * 2 * M_PI * kk * d / P);
    }
    fftw_plan pa = fftw_plan_dft_1d(P, S, S, FFTW_BACKWARD, FFTW_ESTIMATE);
    fftw_plan pb = fftw_plan_dft_1d(P, T, T, FFTW_BACKWARD, FFTW_ESTIMATE);
    fftw_execute(pa);
    fftw_execute(pb);
    for (int i = 0; i < n; i++)
        p += creal(S[n + i] * conj(S[n + i]));
    double sc = 1 / sqrt(p / n), ns = sqrt(pow(10, -snr_db / 10) / 2);
    for (int i = 0; i < n; i++) {
        a[2 * i] = (float)(creal(S[n + i]) * sc + ns * hd_rng_normal(&r));
        a[2 * i + 1] = (float)(cimag(S[n + i]) * sc + ns * hd_rng_normal(&r));
        b[2 * i] = (float)(creal(T[n + i]) * sc + ns * hd_rng_normal(&r));
        b[2 * i + 1] = (float)(cimag(T[n + i]) * sc + ns * hd_rng_normal(&r));
    }
    fftw_destroy_plan(pa);
    fftw_destroy_plan(pb);
    fftw_free(S);
    fftw_free(T);
}


/* unit-power FM (as fm_plus_noise) heard by two receivers: b delayed by d
 * samples and its LO off by df Hz, each with its own noise at snr_db */
static void fm_pair(float *a, float *b, int n, double d, double df, double snr_a, double snr_b, uint32_t seed)
{
    hd_rng r;
    hd_rng_init(&r, seed, 2, 0, HD_RNG_TEST);
    double f[4], bb[4], th[4];
    for (int k = 0; k < 4; k++) {
        f[k] = hd_rng_uniform_range(&r, 300, 3000);
        bb[k] = 2400.0 / f[k];
        th[k] = hd_rng_uniform_range(&r, 0, 6.28);
    }
    double na = sqrt(pow(10, -snr_a / 10) / 2), nb = sqrt(pow(10, -snr_b / 10) / 2);
    for (int i = 0; i < n; i++) {
        double ta = i / FS, tb = (i - d) / FS, pa = 0, pb = 2 * M_PI * df * i / FS;
        for (int k = 0; k < 4; k++) {
            pa += bb[k] * sin(2 * M_PI * f[k] * ta + th[k]);
            pb += bb[k] * sin(2 * M_PI * f[k] * tb + th[k]);
        }
        a[2 * i] = (float)(cos(pa) + na * hd_rng_normal(&r));
        a[2 * i + 1] = (float)(sin(pa) + na * hd_rng_normal(&r));
        b[2 * i] = (float)(cos(pb) + nb * hd_rng_normal(&r));
        b[2 * i + 1] = (float)(sin(pb) + nb * hd_rng_normal(&r));
    }
}

/* one pair through hd_dsp_net (of 3 receivers, the third unused):
 * receivers a, b; out: the pair's correlation */
static int net_pair(hd_dsp_net *w, const float *a, const float *b, hd_spectral *sp, hd_xcorr *out)
{
    float psd[256];
    unsigned char use[3] = {1, 1, 0};
    double t0[3] = {0, 0, 0};
    hd_xcorr xc[3];
    int ref, rc;
    if (hd_dsp_net_begin(w, FS, 60) < 0 || hd_dsp_net_receiver(w, 0, a, psd, &sp[0]) < 0 ||
        hd_dsp_net_receiver(w, 1, b, psd, &sp[1]) < 0)
        return -1;
    rc = hd_dsp_net_tdoa(w, use, t0, 0.002, 10, 0, xc, &ref);
    *out = xc[0];
    return rc;
}

static int cmp_float_asc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    plan_no_plan();
    const int N = 6000, NFFT = 1024;
    float *x = hd_aligned_alloc(2 * N, sizeof *x), *y = hd_aligned_alloc(2 * N, sizeof *y), psd[1024];

    /* FFT round trip and plan cache */
    const hd_fft_plan *p1 = hd_fft_plan_get(1000, -1), *p2 = hd_fft_plan_get(1000, +1);
    ok(p1 && p1 == hd_fft_plan_get(1000, -1), "plan cache returns the same plan");
    fm_plus_noise(x, 1000, 10, 0, 1);
    hd_fft_execute(p1, x, y);
    hd_fft_execute(p2, y, y);
    double err = 0;
    for (int i = 0; i < 2000; i++)
        err = fmax(err, fabs(y[i] / 1000 - x[i]));
    ok(err < 1e-5, "forward then backward returns n·x (max error %.2g)", err);

    /* plans chosen between buffered and unbuffered by FFTW's cost model
     * (8,192 takes the unbuffered one, 6,144 the buffered): both directions,
     * in place and out of place, agree with a direct DFT in double */
    {
        const int sizes[] = {8192, 6144};
        for (int s = 0; s < 2; s++) {
            int m = sizes[s];
            float *u = hd_aligned_alloc(2 * (size_t)m, sizeof *u), *v = hd_aligned_alloc(2 * (size_t)m, sizeof *v);
            fm_plus_noise(u, m, 10, 300, 7 + s);
            double worst = 0, top = 0;
            for (int sign = -1; sign <= 1; sign += 2) {
                const hd_fft_plan *pp = hd_fft_plan_get(m, sign);
                for (int inplace = 0; inplace < 2; inplace++) {
                    if (inplace)
                        memcpy(v, u, 2 * (size_t)m * sizeof *v);
                    hd_fft_execute(pp, inplace ? v : u, v);
                    for (int k = 0; k < m; k += 97) {
                        double re = 0, im = 0;
                        for (int i = 0; i < m; i++) {
                            double ph = sign * 2 * M_PI * (double)((long)k * i % m) / m;
                            re += u[2 * i] * cos(ph) - u[2 * i + 1] * sin(ph);
                            im += u[2 * i] * sin(ph) + u[2 * i + 1] * cos(ph);
                        }
                        worst = fmax(worst, hypot(v[2 * k] - re, v[2 * k + 1] - im));
                        top = fmax(top, hypot(re, im));
                    }
                }
            }
            ok(worst < 1e-5 * top, "FFT of %d both ways, in and out of place, equals the DFT (error %.2g of %.3g)", m,
               worst, top);
            free(u);
            free(v);
        }
    }

    /* a wisdom file lacking a size: that size gets the estimated plan (the
     * same bits as without the file), not one measured on the spot */
    {
        const int m = 2 * 3 * 5 * 7 * 11; /* 2310: in no wisdom made here */
        float *u = hd_aligned_alloc(2 * (size_t)m, sizeof *u), *ve = hd_aligned_alloc(2 * (size_t)m, sizeof *ve),
              *vw = hd_aligned_alloc(2 * (size_t)m, sizeof *vw);
        char path[] = "/tmp/hd_test_wisdom_XXXXXX";
        int fd = mkstemp(path);
        fm_plus_noise(u, m, 10, 300, 31);
        hd_fft_cleanup();
        hd_fft_execute(hd_fft_plan_get(m, -1), u, ve);
        hd_fft_cleanup();
        hd_fft_measure();
        const hd_fft_plan *pw = hd_fft_plan_get(512, -1);
        int saved = fd >= 0 && pw && hd_fft_wisdom_save(path) == 0;
        hd_fft_cleanup();
        int loaded = saved && hd_fft_wisdom_load(path) == 0;
        hd_fft_execute(hd_fft_plan_get(m, -1), u, vw);
        ok(loaded && memcmp(ve, vw, 2 * (size_t)m * sizeof *ve) == 0,
           "with wisdom loaded, a size it lacks is planned as without it (the same bits)");
        hd_fft_cleanup();
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(u);
        free(ve);
        free(vw);
    }

    /* Welch of white noise: sum is the power; floor × nfft too */
    fm_plus_noise(x, N, -200, 0, 2); /* noise only, power 1e20 → rescale */
    for (int i = 0; i < 2 * N; i++)
        x[i] *= 1e-10f;
    hd_dsp_welch(x, N, NFFT, psd);
    double tot = 0;
    for (int k = 0; k < NFFT; k++)
        tot += psd[k];
    double pw = 0;
    for (int i = 0; i < 2 * N; i++)
        pw += (double)x[i] * x[i];
    pw /= N;
    ok(fabs(tot / pw - 1) < 0.02, "Welch sum equals the mean power (%.4f)", tot / pw);
    {
        /* the floor's Gamma quantile is kept for the last arguments: other
         * arguments in between, then the first again, give the first's */
        double f1 = hd_dsp_noise_floor_shape(psd, NFFT, 0.3, 12), f2 = hd_dsp_noise_floor_shape(psd, NFFT, 0.3, 3),
               f3 = hd_dsp_noise_floor_shape(psd, NFFT, 0.5, 12), f4 = hd_dsp_noise_floor_shape(psd, NFFT, 0.3, 12);
        ok(f1 == f4 && f2 != f1 && f3 != f1 && f2 > 0 && f3 > 0,
           "noise floor: the same for the same arguments after others (%g %g %g)", f1, f2, f3);
    }
    {
        /* the floor's order statistic (a radix selection) against a sort:
         * the floor of the spectrum equals that of a flat one at the value a
         * sort puts at the same rank; random powers with ties and zeros */
        int bad = 0;
        for (int t = 0; t < 40; t++) {
            int n = 37 + 29 * t;
            float *v = hd_malloc((size_t)n * sizeof *v), *srt = hd_malloc((size_t)n * sizeof *srt),
                  *flat = hd_malloc((size_t)n * sizeof *flat);
            hd_rng r;
            hd_rng_init(&r, 4242, (uint64_t)t, 0, 0);
            for (int i = 0; i < n; i++) {
                double u = hd_rng_uniform(&r);
                /* every third spectrum in a narrow range (1 to 1.001, then
                 * ties of 1.0005): its values share their top bits, so the
                 * selection goes down to its last passes and sorts the few
                 * left */
                v[i] = t % 3 == 2 ? (u < 0.2 ? 1.0005f : (float)(1 + 1e-3 * hd_rng_uniform(&r)))
                       : u < 0.1  ? 0.0f
                       : u < 0.2  ? 0.5f
                                  : (float)(-log(u) * pow(10, 6 * hd_rng_uniform(&r) - 3));
                srt[i] = v[i];
            }
            qsort(srt, (size_t)n, sizeof *srt, cmp_float_asc);
            double fr = 0.05 + 0.9 * t / 40.0;
            int idx = (int)floor(fr / 2 * (n - 1));
            for (int i = 0; i < n; i++)
                flat[i] = srt[idx];
            bad += hd_dsp_noise_floor_shape(v, n, fr, 5) != hd_dsp_noise_floor_shape(flat, n, fr, 5);
            free(v);
            free(srt);
            free(flat);
        }
        ok(bad == 0, "noise floor: the order statistic equals a sort's (40 spectra, %d differ)", bad);
    }
    double fl = hd_dsp_noise_floor(psd, NFFT, 0.4, hd_dsp_welch_segments(N, NFFT)) * NFFT;
    ok(fabs(fl / pw - 1) < 0.06, "noise floor × nfft equals white-noise power (%.4f)", fl / pw);

    /* SNR over 0–40 dB within 1 dB */
    int snr_ok = 1;
    for (int s = 0; s <= 40; s += 5) {
        double worst = 0;
        for (int trial = 0; trial < 3; trial++) {
            fm_plus_noise(x, N, s, 1500, 10 + s * 3 + trial);
            hd_spectral sp;
            hd_dsp_analyze(x, N, 256, FS, psd, &sp);
            worst = fabs(sp.snr_db - s) > fabs(worst) ? sp.snr_db - s : worst;
        }
        diag("SNR %2d dB: worst error %.2f dB", s, worst);
        snr_ok &= fabs(worst) < 1.0;
    }
    ok(snr_ok, "SNR within 1 dB over 0–40 dB");

    /* CW offsets */
    double offs[] = {-7123.4, 123.4, 5000.7};
    double wf = 0;
    for (int i = 0; i < 3; i++) {
        hd_rng r;
        hd_rng_init(&r, 5, i, 0, HD_RNG_TEST);
        for (int k = 0; k < N; k++) {
            double ph = 2 * M_PI * offs[i] * k / FS;
            x[2 * k] = (float)(cos(ph) + 0.02 * hd_rng_normal(&r));
            x[2 * k + 1] = (float)(sin(ph) + 0.02 * hd_rng_normal(&r));
        }
        hd_spectral sp;
        int big = 8192;
        float *bp = malloc(big * sizeof *bp);
        hd_dsp_welch(x, N, big, bp); /* one zero-padded segment: fine bins */
        hd_dsp_spectral(bp, big, 1, FS, &sp);
        free(bp);
        wf = fmax(wf, fabs(sp.peak_freq_hz - offs[i]));
    }
    ok(wf < 3, "CW offset within 3 Hz (worst %.2f Hz)", wf);

    /* GCC-PHAT: fractional delays at high SNR */
    double ds[] = {0.37, -2.81, 15.5, 4.0};
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        delayed_pair(x, y, 4096, ds[i], 8000, 30, 20 + i);
        hd_xcorr c;
        hd_dsp_gcc_phat(x, y, 4096, FS, 0, 0.002, 1000, 1000, 2300, 10, &c);
        worst = fmax(worst, fabs(c.delay_s * FS - ds[i]));
        diag("delay %.3f: measured %.4f psr %.1f valid %d", ds[i], c.delay_s * FS, c.psr_db, c.valid);
        if (!c.valid)
            worst = 99;
    }
    ok(worst < 0.05, "GCC-PHAT recovers fractional delays within 0.05 sample (worst %.4f)", worst);
    /* a search window centred away from zero (captures that started apart) */
    delayed_pair(x, y, 4096, 120.25, 8000, 30, 77);
    hd_xcorr cc;
    hd_dsp_gcc_phat(x, y, 4096, FS, 118.0 / FS, 5.0 / FS, 1000, 1000, 2300, 10, &cc);
    ok(cc.valid && fabs(cc.delay_s * FS - 120.25) < 0.05, "search centred on a predicted lag (%.4f for 120.25)", cc.delay_s * FS);
    hd_dsp_gcc_phat(x, y, 4096, FS, 0, 5.0 / FS, 1000, 1000, 2300, 10, &cc);
    ok(!cc.valid, "the true peak outside the window is not reported as valid");

    /* error consistent with the reported sigma (the CRLB) */
    double snrs[] = {10, 20};
    for (int si = 0; si < 2; si++) {
        double se = 0, ss = 0;
        int trials = 120;
        for (int t = 0; t < trials; t++) {
            delayed_pair(x, y, 2048, 3.3, 8000, snrs[si], 100 + t);
            hd_xcorr c;
            hd_spectral sp;
            hd_dsp_welch(x, 2048, 256, psd);
            hd_dsp_spectral(psd, 256, hd_dsp_welch_segments(2048, 256), FS, &sp);
            double lin = pow(10, snrs[si] / 10);
            hd_dsp_gcc_phat(x, y, 2048, FS, 0, 0.002, lin, lin, sp.rms_bw_hz, 10, &c);
            double e = c.delay_s * FS - 3.3;
            se += e * e;
            ss += c.sigma_s * FS;
        }
        double rms = sqrt(se / trials), msig = ss / trials;
        diag("SNR %.0f dB, 2048 samples: RMS error %.5f sample, mean sigma (CRLB) %.5f sample, ratio %.2f", snrs[si], rms,
             msig, rms / msig);
        ok(rms / msig > 0.5 && rms / msig < 2.0, "SNR %.0f dB: time-difference error within 2× of the CRLB sigma it reports",
           snrs[si]);
    }

    /* no common signal: the peak is not significant */
    int invalid = 0;
    for (int t = 0; t < 40; t++) {
        fm_plus_noise(x, 2048, -200, 0, 300 + t);
        fm_plus_noise(y, 2048, -200, 0, 400 + t);
        hd_xcorr c;
        hd_dsp_gcc_phat(x, y, 2048, FS, 0, 0.002, 0.01, 0.01, 2000, 10, &c);
        invalid += !c.valid;
    }
    ok(invalid >= 38, "pure noise gives no valid peak in ≥ 95 %% of trials (%d/40)", invalid);

    /* log-mel: frame count, a +3 kHz tone in the band that holds 3 kHz */
    is_int(hd_dsp_logmel_frames(6000, 256, 128), 45, "log-mel frames: 1 + (n - n_fft) / hop");
    is_int(hd_dsp_logmel_frames(100, 256, 128), 0, "no frame shorter than n_fft");
    for (int k = 0; k < N; k++) {
        double ph = 2 * M_PI * 3000.0 * k / FS;
        x[2 * k] = (float)cos(ph);
        x[2 * k + 1] = (float)sin(ph);
    }
    {
        int frames = hd_dsp_logmel_frames(N, 256, 128), nm = 24;
        float *lm = malloc((size_t)frames * nm * sizeof *lm);
        ok(hd_dsp_logmel(x, N, FS, 256, 128, nm, lm) == 0, "log-mel computed");
        int best = 0, finite = 1;
        for (int m = 0; m < nm; m++) {
            finite &= isfinite(lm[5 * nm + m]);
            if (lm[5 * nm + m] > lm[5 * nm + best])
                best = m;
        }
        /* band m spans mel edges m .. m+2 of n_mels + 1 steps up to fs/2 */
        double top = 2595 * log10(1 + 12000.0 / 700), mel3k = 2595 * log10(1 + 3000.0 / 700);
        int want = (int)floor(mel3k / (top / (nm + 1))) - 1;
        ok(finite && (best == want || best == want + 1), "3 kHz tone lights mel band %d (expected %d or %d)", best, want, want + 1);
        free(lm);
        ok(hd_dsp_logmel(x, N, FS, 4, 128, nm, psd) == HD_EINVAL, "log-mel refuses n_fft < 8");
    }

    /* Welch details: odd nfft puts DC at psd[nfft/2]; a constant-envelope
     * signal sums to its power exactly; a capture shorter than nfft is one
     * zero-padded segment scaled to the same power */
    {
        int nf = 255, k0s[] = {10, -20};
        float *po = malloc((size_t)nf * sizeof *po);
        int bins_ok = 1;
        double sum_err = 0;
        for (int t = 0; t < 2; t++) {
            for (int i = 0; i < 1000; i++) {
                double ph = 2 * M_PI * k0s[t] * i / (double)nf;
                x[2 * i] = (float)cos(ph);
                x[2 * i + 1] = (float)sin(ph);
            }
            hd_dsp_welch(x, 1000, nf, po);
            int pk = 0;
            double s1 = 0;
            for (int k = 0; k < nf; k++) {
                s1 += po[k];
                if (po[k] > po[pk])
                    pk = k;
            }
            bins_ok &= pk == nf / 2 + k0s[t];
            sum_err = fmax(sum_err, fabs(s1 - 1));
        }
        free(po);
        ok(bins_ok, "odd nfft: a tone at bin k lands at psd[nfft/2 + k]");
        ok(sum_err < 1e-4, "constant envelope: Welch sum is its power (error %.2g)", sum_err);
        double ratio = 0;
        for (int t = 0; t < 100; t++) {
            hd_rng r;
            hd_rng_init(&r, 7, t, 0, HD_RNG_TEST);
            double pw1 = 0;
            for (int i = 0; i < 600; i++) {
                x[i] = (float)(0.5 * hd_rng_normal(&r));
                pw1 += (double)x[i] * x[i] / 300;
            }
            hd_dsp_welch(x, 300, NFFT, psd);
            double s1 = 0;
            for (int k = 0; k < NFFT; k++)
                s1 += psd[k];
            ratio += s1 / pw1 / 100;
        }
        ok(fabs(ratio - 1) < 0.02, "300 samples, nfft 1024: zero-padded segment keeps the power (mean ratio %.4f)", ratio);
    }

    /* noise-floor bias over many captures: the Gamma correction (with the
     * 50 %-overlap equivalent segment count) is unbiased for white noise */
    {
        int lens[] = {512, 2048, 6000}, nfs[] = {256, 256, 1024};
        for (int c = 0; c < 3; c++) {
            double mean = 0;
            int T = 60;
            for (int t = 0; t < T; t++) {
                hd_rng r;
                hd_rng_init(&r, 8, t, c, HD_RNG_TEST);
                for (int i = 0; i < 2 * lens[c]; i++)
                    x[i] = (float)(0.7071 * hd_rng_normal(&r));
                hd_dsp_welch(x, lens[c], nfs[c], psd);
                mean += hd_dsp_noise_floor(psd, nfs[c], 0.3, hd_dsp_welch_segments(lens[c], nfs[c])) * nfs[c] / T;
            }
            diag("noise floor, %d segments of %d: mean floor × nfft / P = %.4f over %d captures",
                 hd_dsp_welch_segments(lens[c], nfs[c]), nfs[c], mean, T);
            ok(fabs(mean - 1) < 0.03, "noise floor unbiased with %d segments (%.4f)", hd_dsp_welch_segments(lens[c], nfs[c]), mean);
        }
    }

    /* hd_dsp_tdoa: a delay and an LO difference between the receivers */
    {
        int n = 4096, M = hd_dsp_xcorr_size(n);
        float *scr = hd_aligned_alloc((size_t)2 * M, sizeof *scr);
        double dfs[] = {4.3, -1.7}, Ds[] = {2.6, -5.25}; /* within the coarse pass's reach, |df| T < ~1 */
        double werr = 0, wfd = 0, wplain = 0;
        int allvalid = 1;
        for (int t = 0; t < 2; t++) {
            delayed_pair(x, y, n, Ds[t], 8000, 20, 500 + t);
            for (int i = 0; i < n; i++) { /* b's LO off by dfs[t] */
                float complex z = (y[2 * i] + I * y[2 * i + 1]) * (float complex)cexp(I * 2 * M_PI * dfs[t] * i / FS);
                y[2 * i] = crealf(z);
                y[2 * i + 1] = cimagf(z);
            }
            hd_xcorr c, c0;
            hd_dsp_tdoa(x, y, n, FS, 0, 0.002, 100, 100, 2300, 10, scr, &c);
            hd_dsp_gcc_phat(x, y, n, FS, 0, 0.002, 100, 100, 2300, 10, &c0);
            diag("tdoa: D %.2f df %.1f Hz → %.4f sample, %.3f Hz (uncorrected GCC-PHAT %.4f)", Ds[t], dfs[t],
                 c.delay_s * FS, c.freq_diff_hz, c0.delay_s * FS);
            werr = fmax(werr, fabs(c.delay_s * FS - Ds[t]));
            wplain = fmax(wplain, fabs(c0.delay_s * FS - Ds[t]));
            wfd = fmax(wfd, fabs(c.freq_diff_hz - dfs[t]));
            allvalid &= c.valid;
        }
        ok(allvalid && werr < 0.05, "tdoa with LO difference: delay within 0.05 sample (worst %.4f)", werr);
        ok(wfd < 0.3, "tdoa measures the LO difference within 0.3 Hz (worst %.3f Hz)", wfd);
        diag("uncorrected GCC-PHAT worst error %.4f sample", wplain);
        /* a CW carrier has no bandwidth to time */
        for (int i = 0; i < n; i++) {
            double ph = 2 * M_PI * 1234.5 * i / FS, ph2 = 2 * M_PI * 1234.5 * (i - 3.3) / FS;
            x[2 * i] = (float)cos(ph);
            x[2 * i + 1] = (float)sin(ph);
            y[2 * i] = (float)cos(ph2);
            y[2 * i + 1] = (float)sin(ph2);
        }
        hd_xcorr c;
        ok(hd_dsp_tdoa(x, y, n, FS, 0, 0.002, 100, 100, 10, 10, scr, &c) == 0 && !c.valid, "a CW carrier is never a valid time difference");
        free(scr);
    }


    /* hd_dsp_net: one transform per receiver, Daniell PSD, band-limited
     * GCC-PHAT with a Hannan–Thomson phase fit */
    {
        const int n = 6000, T = 30;
        float *a = hd_aligned_alloc(2 * n, sizeof *a), *b = hd_aligned_alloc(2 * n, sizeof *b), *c3 = hd_aligned_alloc(2 * n, sizeof *c3);
        float ps[256];
        hd_dsp_net *w = hd_dsp_net_new(3, n, 256);
        ok(w != NULL, "receiver network workspace");
        /* white noise: the PSD sums to the power, the floor is unbiased */
        double sumr = 0, flr = 0;
        for (int t = 0; t < T; t++) {
            fm_plus_noise(a, n, -200, 0, 900 + t);
            double pwr = 0;
            for (int i = 0; i < 2 * n; i++) {
                a[i] *= 1e-10f;
                pwr += (double)a[i] * a[i];
            }
            pwr /= n;
            hd_spectral sp;
            hd_dsp_net_begin(w, FS, 60);
            hd_dsp_net_receiver(w, 0, a, ps, &sp);
            double ptot = 0;
            for (int k = 0; k < 256; k++)
                ptot += ps[k];
            sumr += ptot / pwr / T;
            flr += sp.noise_power / pwr / T;
        }
        ok(fabs(sumr - 1) < 0.02, "Daniell PSD sums to the mean power (%.4f)", sumr);
        ok(fabs(flr - 1) < 0.03, "Daniell noise floor unbiased (%.4f of the noise power)", flr);
        /* SNR of an FM signal, 0 to 40 dB */
        double wsnr = 0;
        for (int s = 0; s <= 40; s += 10) {
            hd_spectral sp;
            fm_plus_noise(a, n, s, 1500, 950 + s);
            hd_dsp_net_begin(w, FS, 60);
            hd_dsp_net_receiver(w, 0, a, ps, &sp);
            wsnr = fmax(wsnr, fabs(sp.snr_db - s));
        }
        ok(wsnr < 1, "Daniell SNR within 1 dB over 0-40 dB (worst %.2f dB)", wsnr);
        /* time differences against the Cramér–Rao bound, and sigma against
         * the error: a wide (8 kHz) and a narrow (2 kHz) band */
        struct { double bw, snr; } cs[] = {{8000, 10}, {8000, 20}, {8000, 40}, {2000, 10}, {2000, 20}};
        /* the correlation at the searched lags only (pruned inverse) equals
         * the whole inverse transform's to rounding */
        {
            double dd = 0, dp = 0;
            int same = 1, nvalid = 0;
            for (int k = 0; k < 5; k++)
                for (int t = 0; t < 6; t++) {
                    hd_spectral sp[2];
                    hd_xcorr x1, x0;
                    delayed_pair(a, b, n, -3.3 + 1.1 * t, cs[k].bw, cs[k].snr, 1700 + 37 * k + t);
                    hd_dsp_net_pruned_inverse = 1;
                    net_pair(w, a, b, sp, &x1);
                    hd_dsp_net_pruned_inverse = 0;
                    net_pair(w, a, b, sp, &x0);
                    hd_dsp_net_pruned_inverse = 1;
                    same &= x1.valid == x0.valid;
                    nvalid += x1.valid;
                    if (x1.valid && x0.valid) {
                        dd = fmax(dd, fabs(x1.delay_s - x0.delay_s) * FS);
                        dp = fmax(dp, fabs(x1.psr_db - x0.psr_db));
                    }
                }
            ok(same && nvalid >= 25 && dd < 1e-4 && dp < 1e-3,
               "net: pruned and whole inverse transforms agree (%d valid; delay %.2g sample, psr %.2g dB)", nvalid, dd, dp);
        }
        for (int k = 0; k < 5; k++) {
            double se = 0, ss = 0, sc = 0;
            int nv = 0;
            for (int t = 0; t < T; t++) {
                double D = -4.1 + 0.29 * t;
                hd_spectral sp[2];
                hd_xcorr xc;
                delayed_pair(a, b, n, D, cs[k].bw, cs[k].snr, 700 + 37 * k + t);
                net_pair(w, a, b, sp, &xc);
                if (!xc.valid)
                    continue;
                double lin = pow(10, cs[k].snr / 10), cr = hd_dsp_tdoa_crlb(n, FS, lin, lin, cs[k].bw / sqrt(12)) * FS;
                se += pow(xc.delay_s * FS - D, 2);
                ss += pow(xc.sigma_s * FS, 2);
                sc += cr * cr;
                nv++;
            }
            double rerr = sqrt(se / (nv ? nv : 1)), rsig = sqrt(ss / (nv ? nv : 1)), rcr = sqrt(sc / (nv ? nv : 1));
            diag("band %.0f Hz at %.0f dB: %d/%d valid, rms error %.5f sample, rms sigma %.5f, CRLB %.5f", cs[k].bw,
                 cs[k].snr, nv, T, rerr, rsig, rcr);
            ok(nv == T && rerr < 2 * rcr, "%.0f Hz band at %.0f dB: error within 2x the CRLB (%.2fx)", cs[k].bw, cs[k].snr,
               rerr / rcr);
            ok(rerr / rsig < 1.6, "%.0f Hz band at %.0f dB: sigma not optimistic (error / sigma %.2f)", cs[k].bw, cs[k].snr,
               rerr / rsig);
            if (rcr > 0.004) /* below, sigma's estimator floor (0.002 sample) dominates */
                ok(rerr / rsig > 0.6, "%.0f Hz band at %.0f dB: sigma consistent with the error (%.2f)", cs[k].bw,
                   cs[k].snr, rerr / rsig);
        }
        /* an FM signal with an LO difference: delay-Doppler coupling removed */
        double werr = 0, wfd = 0, wplain = 0;
        int allvalid = 1;
        /* the last two: LO difference x capture length 1.5 and 2.25 cycles,
         * beyond the uncorrected correlation's reach */
        double Ds[] = {2.6, -5.25, 0.4, 1.3, -0.7}, dfs[] = {3.1, -1.7, 6.0, -6.0, 9.0};
        for (int t = 0; t < 5; t++) {
            hd_spectral sp[2];
            hd_xcorr xc, c0;
            fm_pair(a, b, n, Ds[t], dfs[t], 25, 20, 40 + t);
            net_pair(w, a, b, sp, &xc);
            hd_dsp_gcc_phat(a, b, n, FS, 0, 0.002, 100, 100, sp[0].rms_bw_hz, 10, &c0);
            diag("net: FM, D %.2f df %.1f Hz -> %.4f sample, %.3f Hz (uncorrected GCC-PHAT %.4f)", Ds[t], dfs[t],
                 xc.delay_s * FS, xc.freq_diff_hz, c0.delay_s * FS);
            werr = fmax(werr, fabs(xc.delay_s * FS - Ds[t]));
            wfd = fmax(wfd, fabs(xc.freq_diff_hz - dfs[t]));
            wplain = fmax(wplain, fabs(c0.delay_s * FS - Ds[t]));
            allvalid &= xc.valid;
        }
        ok(allvalid && werr < 0.02, "net: FM with LO difference, delay within 0.02 sample (worst %.4f; uncorrected %.4f)",
           werr, wplain);
        ok(wfd < 0.1, "net: LO difference measured within 0.1 Hz (worst %.3f Hz)", wfd);
        /* reference pairs: the best-SNR receiver against the others */
        {
            float psd3[256];
            hd_spectral sp;
            hd_xcorr xc[3];
            unsigned char use[3] = {1, 1, 1};
            double t0[3] = {0, 0, 0};
            int ref = -9;
            fm_pair(a, b, n, 1.5, 0, 10, 15, 77);
            fm_pair(a, c3, n, -2.5, 0, 10, 30, 77);
            hd_dsp_net_begin(w, FS, 60);
            hd_dsp_net_receiver(w, 0, a, psd3, &sp);
            hd_dsp_net_receiver(w, 1, b, psd3, &sp);
            hd_dsp_net_receiver(w, 2, c3, psd3, &sp);
            ok(hd_dsp_net_tdoa(w, use, t0, 0.002, 10, 1, xc, &ref) == 0 && ref == 2 && !xc[0].valid && xc[1].valid &&
                   xc[2].valid,
               "reference pairs: receiver 2 (best SNR) against 0 and 1 only");
            ok(fabs(xc[1].delay_s * FS + 2.5) < 0.05 && fabs(xc[2].delay_s * FS + 4.0) < 0.05,
               "reference pairs: delays (%.3f, %.3f samples)", xc[1].delay_s * FS, xc[2].delay_s * FS);
            use[1] = 0;
            hd_dsp_net_tdoa(w, use, t0, 0.002, 10, 0, xc, &ref);
            ok(!xc[0].valid && xc[1].valid && !xc[2].valid, "a receiver not used gives no pairs");
        }
        /* a CW carrier has no bandwidth to time */
        for (int i = 0; i < n; i++) {
            double ph = 2 * M_PI * 1234.5 * i / FS, ph2 = 2 * M_PI * 1234.5 * (i - 3.3) / FS;
            a[2 * i] = (float)cos(ph);
            a[2 * i + 1] = (float)sin(ph);
            b[2 * i] = (float)cos(ph2);
            b[2 * i + 1] = (float)sin(ph2);
        }
        hd_spectral sp2[2];
        hd_xcorr xc;
        ok(net_pair(w, a, b, sp2, &xc) == 0 && !xc.valid && isfinite(xc.delay_s), "net: a CW carrier is never valid");
        /* silence: finite, not valid */
        memset(a, 0, 2 * n * sizeof *a);
        memset(b, 0, 2 * n * sizeof *b);
        ok(net_pair(w, a, b, sp2, &xc) == 0 && !xc.valid && isfinite(sp2[0].snr_db) && isfinite(sp2[0].freq_offset_hz),
           "net: all-zero captures give finite features and no time difference");
        ok(hd_dsp_net_receiver(w, 3, a, ps, sp2) == HD_EINVAL, "net: a receiver outside the network is refused");
        ok(hd_dsp_net_new(0, n, 256) == NULL, "net: no receivers refused");
        ok(hd_dsp_net_begin(w, 0, 10) == HD_EINVAL, "net: sample rate 0 refused");
        hd_dsp_net_free(w);
        free(a);
        free(b);
        free(c3);
    }
    /* edge cases */
    ok(hd_dsp_welch(x, 0, NFFT, psd) == HD_EINVAL, "no samples refused");
    ok(hd_dsp_welch(x, N, 1, psd) == HD_EINVAL, "nfft < 2 refused");
    memset(x, 0, 2 * N * sizeof *x);
    hd_spectral sp;
    hd_dsp_welch(x, N, NFFT, psd);
    hd_dsp_spectral(psd, NFFT, 10, FS, &sp);
    ok(isfinite(sp.snr_db) && isfinite(sp.rss_dbfs) && isfinite(sp.freq_offset_hz) && isfinite(sp.rms_bw_hz),
       "all-zero input gives finite features");
    /* documented: nothing heard reads -60 dB, like a capture with no power above its floor */
    is_double(sp.snr_db, -60.0, 1e-9, "all-zero input: snr_db -60 (nothing heard)");
    is_double(sp.noise_power, 0.0, 0.0, "all-zero input: noise power 0");
    ok(hd_dsp_analyze(x, N, NFFT, FS, psd, &sp) == 0 && isfinite(sp.snr_db), "all-zero input through hd_dsp_analyze");
    hd_xcorr c;
    ok(hd_dsp_gcc_phat(x, x, 2048, FS, 0, 0.002, 0, 0, 0, 10, &c) == 0 && !c.valid && isfinite(c.delay_s) &&
           isfinite(c.psr_db) && isfinite(c.peak),
       "all-zero pair: finite and not valid (psr %.1f dB)", c.psr_db);
    ok(hd_dsp_spectral(psd, 1, 1, FS, &sp) == HD_EINVAL, "spectral summary refuses nfft < 2");
    ok(isnan(hd_dsp_noise_floor(psd, NFFT, 0.0, 1)) && isnan(hd_dsp_noise_floor(psd, NFFT, 0.5, 0)),
       "noise floor of invalid arguments is NaN");
    is_int(hd_dsp_welch_segments(0, NFFT), 0, "no segments of no samples");
    ok(hd_dsp_gcc_phat(x, x, 0, FS, 0, 0.002, 0, 0, 0, 10, &c) == HD_EINVAL, "gcc-phat refuses n = 0");
    free(x);
    free(y);
    hd_fft_cleanup();
    fftw_cleanup();
    done_testing();
    return exit_status();
}
