/* The featurizer's science (moved from cmd/featurize.c), with the reason
 * behind every mask. */
#include "features/featurize.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "dsp/dsp.h"
#include "features/features.h"
#include "geo/geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

/* Is the receiver's GPS clock fit unfit for timing: its rate off nominal
 * beyond featurize.max_clock_ppm, or its stamps scattered about the fit
 * beyond max_clock_residual_us (the rate drifted within the capture)? An
 * unknown clock (no fit) is not. */
static int clock_drifts(const hd_featurize_cfg *fc, const hd_link *l, double fs)
{
    if (!(l->clock_rate_hz > 0) || !(fs > 0))
        return 0;
    return fabs(l->clock_rate_hz / fs - 1.0) * 1e6 > fc->max_clock_ppm ||
           (isfinite(l->clock_residual_s) && l->clock_residual_s * 1e6 > fc->max_clock_residual_us);
}

/* Per receiver features of one event: feat[R*F], mask[R], why[R],
 * dbm_ok[R]; leaves each
 * receiver's float IQ in c->x and its spectral summary in c->sp. */
static int receiver_features(hd_featurizer *c, const hd_event *ev, const hd_link *lk, const int16_t *iq,
                             const float *levels, float *feat, uint8_t *mask, uint8_t *why, uint8_t *dbm_ok)
{
    const int R = c->R, N = c->N, L = c->L, F = HD_FEAT_COUNT;
    const hd_featurize_cfg *fc = &c->cfg;
    double fs = ev->sample_rate_hz;
    int rc;
    memset(feat, 0, (size_t)R * F * sizeof *feat);
    memset(mask, 0, (size_t)R);
    memset(why, HD_WHY_RX_OK, (size_t)R);
    memset(dbm_ok, 0, (size_t)R);
    /* the lags any pair may search: the GPS time stamps' spread and max lag */
    double t0lo = INFINITY, t0hi = -INFINITY;
    for (int r = 0; r < R; r++)
        if (lk[r].status == HD_RX_OK && lk[r].has_iq && lk[r].gps_ok) {
            t0lo = lk[r].t0_s < t0lo ? lk[r].t0_s : t0lo;
            t0hi = lk[r].t0_s > t0hi ? lk[r].t0_s : t0hi;
        }
    double span = (t0hi > t0lo ? t0hi - t0lo : 0) + c->max_lag_s;
    if ((rc = hd_dsp_net_begin(c->net, fs, (int)ceil(span * fs < N ? span * fs : N) + 2)) < 0)
        return rc;
    for (int r = 0; r < R; r++) {
        const hd_link *l = &lk[r];
        float *f = feat + (size_t)r * F;
        hd_spectral *sp = &c->sp[r];
        memset(sp, 0, sizeof *sp);
        if (l->status != HD_RX_OK) {
            why[r] = HD_WHY_RX_NOT_CAPTURED;
            continue;
        }
        const hd_station *st = &c->stations[r];
        if (l->has_iq) {
            float *x = c->x + (size_t)r * 2 * N;
            const int16_t *q = iq + (size_t)r * 2 * N;
            int nonzero = 0;
            for (int i = 0; i < 2 * N && !nonzero; i++)
                nonzero = q[i] != 0;
            hd_dsp_iq_to_float(q, (size_t)N, 1.0f / 32768.0f, x);
            if (!nonzero || l->clipped_fraction > fc->max_clipped_fraction) {
                why[r] = !nonzero ? HD_WHY_RX_DEAD : HD_WHY_RX_CLIPPED; /* masked */
                continue;
            }
            /* onto the nominal time base: the clock its GPS stamps give
             * (a drifting one keeps its samples: its pairs are not timed) */
            if (!clock_drifts(fc, l, fs) && (rc = hd_dsp_resample_clock(x, N, fs, l->clock_rate_hz, c->scratch)) < 0)
                return rc;
            if ((rc = hd_dsp_net_receiver(c->net, r, x, c->psd, sp)) < 0)
                return rc;
            double sig_dbfs = 10 * log10(sp->signal_power > 1e-30 ? sp->signal_power : 1e-30);
            f[HD_FEAT_RSS_DBFS] = (float)sp->rss_dbfs;
            f[HD_FEAT_RSS_DBM] = (float)(sig_dbfs - l->gain_db + st->full_scale_dbm);
            f[HD_FEAT_SNR_DB] = (float)sp->snr_db;
            f[HD_FEAT_NOISE_DBFS] = (float)(10 * log10(sp->noise_power > 1e-30 ? sp->noise_power : 1e-30));
            f[HD_FEAT_FREQ_OFFSET_HZ] = (float)sp->freq_offset_hz;
            f[HD_FEAT_OCC_BW_HZ] = (float)sp->occupied_bw_hz;
            f[HD_FEAT_RMS_BW_HZ] = (float)sp->rms_bw_hz;
            f[HD_FEAT_CLIPPED] = (float)l->clipped_fraction;
            f[HD_FEAT_GPS_OK] = (float)l->gps_ok;
            f[HD_FEAT_HAS_IQ] = 1.0f;
            mask[r] = 1;
        } else if (l->has_levels && L > 0) {
            const float *lv = levels + (size_t)r * L;
            double m = 0, m2 = 0, p = 0;
            for (int i = 0; i < L; i++) {
                m += lv[i];
                m2 += (double)lv[i] * lv[i];
                p += pow(10, lv[i] / 10);
            }
            m /= L;
            double var = m2 / L - m * m;
            double rss = 10 * log10(p / L);
            f[HD_FEAT_RSS_DBFS] = (float)rss;
            f[HD_FEAT_RSS_DBM] = (float)(rss - l->gain_db + st->full_scale_dbm);
            f[HD_FEAT_LEVEL_STD_DB] = (float)(var > 0 ? sqrt(var) : 0);
            f[HD_FEAT_GPS_OK] = (float)l->gps_ok;
            mask[r] = isfinite(rss);
        } else {
            why[r] = HD_WHY_RX_NO_DATA;
            continue;
        }
        /* never NaN in the output: only what is not finite is dropped. An
         * unknown gain or full scale leaves the receiver without a dBm */
        dbm_ok[r] = mask[r] && isfinite(f[HD_FEAT_RSS_DBM]);
        for (int k = 0; k < F; k++)
            if (!isfinite(f[k])) {
                f[k] = 0;
                if (k != HD_FEAT_RSS_DBM)
                    mask[r] = 0;
            }
        if (!mask[r]) {
            why[r] = HD_WHY_RX_NOT_FINITE;
            dbm_ok[r] = 0;
        }
    }

    return 0;
}

/* Does the lag window center_s ± max_lag_s miss every lag at which two
 * n-sample captures overlap? (The correlators' own test, src/dsp.) */
static int outside_overlap(double center_s, double max_lag_s, double fs, int n)
{
    long center = lround(center_s * fs), maxlag = (long)ceil(max_lag_s * fs);
    if (maxlag < 1)
        maxlag = 1;
    return center - maxlag > n - 1 || center + maxlag < -(n - 1);
}

/* One pair timed from its modulation (hd_dsp_modulation_tdoa); left as it
 * is (with the reason already set) when that finds nothing either. */
static int modulation_pair(hd_featurizer *c, const float *a, const float *b, int N, double fs, double center, int i,
                           int j, const hd_link *lk, double *delay, double *sigma, float *psr, uint8_t *tmask,
                           uint8_t *twhy, uint8_t *method)
{
    hd_xcorr xc;
    int kind, rc = c->mod ? 0 : hd_mod_cache_new(&c->mod, N);
    if (rc < 0 || (rc = hd_dsp_modulation_tdoa_rx(c->mod, i, j, a, b, N, fs, center, c->max_lag_s, c->cfg.psr_min_db,
                                                  &kind, &xc)) < 0)
        return rc;
    if (!xc.valid || !isfinite(xc.delay_s) || !isfinite(xc.sigma_s))
        return 0;
    *delay = lk[j].t0_s - lk[i].t0_s + xc.delay_s;
    double ci = c->stations[i].clock_sigma_ns * 1e-9, cj = c->stations[j].clock_sigma_ns * 1e-9;
    *sigma = sqrt(xc.sigma_s * xc.sigma_s + ci * ci + cj * cj);
    *psr = (float)xc.psr_db;
    *tmask = 1;
    *twhy = HD_WHY_PAIR_OK;
    *method = kind == 0 ? HD_TDOA_ENVELOPE : HD_TDOA_FREQUENCY;
    return 0;
}

/* Time differences of one event's pairs: both ends GPS-timed IQ with valid
 * features; delay/sigma/psr/tmask/twhy/method[P]. A pair the correlation
 * cannot time (too narrow, no peak) in a capture of at least
 * featurize.modulation_min_s is timed from its modulation. */
static int pair_tdoa(hd_featurizer *c, const hd_event *ev, const hd_link *lk, const uint8_t *mask, double *delay,
                     double *sigma, float *psr, uint8_t *tmask, uint8_t *twhy, uint8_t *method)
{
    const int R = c->R, N = c->N;
    const hd_featurize_cfg *fc = &c->cfg;
    double fs = ev->sample_rate_hz;
    int rc, ref = -1;
    hd_mod_cache_clear(c->mod); /* a new event's captures */
    /* the receivers with GPS time and bandwidth to time */
    for (int r = 0; r < R; r++) {
        c->use[r] = mask[r] && lk[r].has_iq && lk[r].gps_ok && c->sp[r].rms_bw_hz >= fc->min_rms_bw_hz && !clock_drifts(fc, &lk[r], fs);
        c->t0[r] = lk[r].t0_s;
        if (c->use[r] && (ref < 0 || c->sp[r].snr_db > c->sp[ref].snr_db))
            ref = r; /* the distributed mode's reference (the local one finds the same) */
    }
    if (c->dist == MPI_COMM_NULL) {
        /* every receiver transformed once (hd_dsp_net_receiver) */
        if ((rc = hd_dsp_net_tdoa(c->net, c->use, c->t0, c->max_lag_s, fc->psr_min_db,
                                  fc->pairs == HD_PAIRS_REFERENCE, c->xc, &ref)) < 0)
            return rc;
    }
    for (int p = 0; p < c->P; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        delay[p] = 0;
        sigma[p] = 0;
        psr[p] = 0;
        tmask[p] = 0;
        method[p] = HD_TDOA_NONE;
        twhy[p] = HD_WHY_PAIR_OK;
        if (!mask[i] || !mask[j] || !lk[i].has_iq || !lk[j].has_iq || !lk[i].gps_ok || !lk[j].gps_ok) {
            const hd_link *off = !lk[i].gps_ok ? &lk[i] : &lk[j];
            twhy[p] = !mask[i] || !mask[j]               ? HD_WHY_PAIR_END_MASKED
                      : !lk[i].has_iq || !lk[j].has_iq ? HD_WHY_PAIR_LEVEL_ONLY
                      : off->last_gps_solution_s > 0   ? HD_WHY_PAIR_STALE_GPS
                                                       : HD_WHY_PAIR_NO_GPS_TIME;
            continue;
        }
        if (clock_drifts(fc, &lk[i], fs) || clock_drifts(fc, &lk[j], fs)) {
            twhy[p] = HD_WHY_PAIR_CLOCK_DRIFT;
            continue;
        }
        float *a = c->x + (size_t)i * 2 * N, *b = c->x + (size_t)j * 2 * N;
        /* b(n) ≈ a(n - D) with D = (TOA_j - TOA_i) - (t0_j - t0_i): search
         * around the lag the time stamps predict, TOA difference ± baseline */
        double center = -(lk[j].t0_s - lk[i].t0_s);
        int long_capture = fc->modulation_min_s > 0 && N >= fc->modulation_min_s * fs;
        hd_xcorr xc;
        /* a carrier (or anything too narrow) has no bandwidth to time: in a
         * long capture its modulation may have */
        if (c->sp[i].rms_bw_hz < fc->min_rms_bw_hz || c->sp[j].rms_bw_hz < fc->min_rms_bw_hz) {
            twhy[p] = HD_WHY_PAIR_TOO_NARROW;
            if (long_capture && fc->pairs != HD_PAIRS_REFERENCE &&
                (rc = modulation_pair(c, a, b, N, fs, center, i, j, lk, delay + p, sigma + p, psr + p, tmask + p,
                                      twhy + p, method + p)) < 0)
                return rc;
            continue;
        }
        if (fc->pairs == HD_PAIRS_REFERENCE && i != ref && j != ref) {
            twhy[p] = HD_WHY_PAIR_NOT_REFERENCE;
            continue;
        }
        double beta = 0.5 * (c->sp[i].rms_bw_hz + c->sp[j].rms_bw_hz);
        double sa = pow(10, c->sp[i].snr_db / 10), sb = pow(10, c->sp[j].snr_db / 10);
        if (c->dist != MPI_COMM_NULL) {
            /* a long capture: every rank transforms a slice (the pair's
             * frequency difference removed; no phase-slope refinement) */
            if ((rc = hd_dsp_tdoa_mpi(a, b, N, fs, center, c->max_lag_s, sa, sb, beta, fc->psr_min_db, c->dist,
                                      c->scratch, &xc)) < 0)
                return rc;
        } else {
            xc = c->xc[p];
        }
        if (!xc.valid || !isfinite(xc.delay_s) || !isfinite(xc.sigma_s)) {
            int nolock = c->dist == MPI_COMM_NULL &&
                         (hd_dsp_net_no_freq_lock(c->net, i) || hd_dsp_net_no_freq_lock(c->net, j));
            twhy[p] = outside_overlap(center, c->max_lag_s, fs, N) ? HD_WHY_PAIR_OUTSIDE_LAG_WINDOW
                      : nolock                                     ? HD_WHY_PAIR_NO_FREQ_LOCK
                                                                   : HD_WHY_PAIR_NO_PEAK;
            /* the envelope of a long capture does not care for the LO */
            if (twhy[p] != HD_WHY_PAIR_OUTSIDE_LAG_WINDOW && long_capture &&
                (rc = modulation_pair(c, a, b, N, fs, center, i, j, lk, delay + p, sigma + p, psr + p, tmask + p,
                                      twhy + p, method + p)) < 0)
                return rc;
            continue;
        }
        delay[p] = lk[j].t0_s - lk[i].t0_s + xc.delay_s;
        /* the correlation's own bound plus both time stamps' GPS sigma */
        double ci = c->stations[i].clock_sigma_ns * 1e-9, cj = c->stations[j].clock_sigma_ns * 1e-9;
        sigma[p] = sqrt(xc.sigma_s * xc.sigma_s + ci * ci + cj * cj);
        psr[p] = (float)xc.psr_db;
        tmask[p] = 1;
        method[p] = HD_TDOA_CORRELATION;
    }
    return 0;
}

double hd_featurize_auto_max_lag(const hd_station *st, int n)
{
    double maxd = 0, maxsig = 0;
    for (int i = 0; i < n; i++) {
        const hd_station *a = &st[i];
        if (a->clock == HD_CLOCK_GPS && a->clock_sigma_ns > maxsig)
            maxsig = a->clock_sigma_ns;
        for (int j = i + 1; j < n; j++) {
            const hd_station *b = &st[j];
            double d = hd_geo_slant_range(a->lat, a->lon, a->alt_m + a->antenna_height_m, b->lat, b->lon,
                                          b->alt_m + b->antenna_height_m);
            maxd = d > maxd ? d : maxd;
        }
    }
    /* the baseline bounds |TOA_j - TOA_i|; clocks add a few sigma */
    return 1.05 * maxd / HD_SPEED_OF_LIGHT + 6 * maxsig * 1e-9 + 50e-6;
}

int hd_featurizer_init(hd_featurizer *f, const hd_featurize_cfg *cfg, const hd_station *st, int R, int N, int L,
                       MPI_Comm dist)
{
    int rc;
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->stations = st;
    f->R = f->Rcap = R;
    f->N = N;
    f->L = L;
    f->P = hd_features_npairs(R);
    f->dist = dist;
    f->max_lag_s = cfg->max_lag_s > 0 ? cfg->max_lag_s : hd_featurize_auto_max_lag(st, R);
    int P = f->P;
    f->x = hd_aligned_alloc((size_t)R * 2 * N + 2, sizeof *f->x);
    f->psd = hd_calloc((size_t)cfg->nfft, sizeof *f->psd);
    f->sp = hd_calloc((size_t)R, sizeof *f->sp);
    if (cfg->logmel) {
        f->logmel_frames = hd_dsp_logmel_frames(N, cfg->logmel_n_fft, cfg->logmel_hop);
        f->logmel_mels = cfg->logmel_n_mels;
        if (f->logmel_frames == 0) {
            rc = hd_error(HD_ECONFIG, "featurize.logmel_n_fft %d is longer than the captures' %d samples",
                          cfg->logmel_n_fft, N);
            goto fail;
        }
    }
    f->net = hd_dsp_net_new(R, N > 4 ? N : 4, cfg->nfft);
    f->xc = hd_calloc((size_t)(P > 0 ? P : 1), sizeof *f->xc);
    f->use = hd_calloc((size_t)R, 1);
    f->t0 = hd_calloc((size_t)R, sizeof *f->t0);
    f->scratch = hd_aligned_alloc((size_t)2 * N + 2, sizeof *f->scratch);
    if (!f->x || !f->psd || !f->sp || !f->net || !f->xc || !f->use || !f->t0 || !f->scratch) {
        rc = HD_ENOMEM;
        goto fail;
    }
    return 0;
fail:
    hd_featurizer_release(f);
    return rc;
}

int hd_featurizer_block(hd_featurizer *f, int n, const hd_event *ev, const hd_link *links, const int16_t *iq,
                        const float *levels, const hd_featurize_rows *out, hd_featurize_counts *counts)
{
    const int R = f->R, N = f->N, L = f->L, P = f->P, F = HD_FEAT_COUNT, T = f->logmel_frames, Mm = f->logmel_mels;
    const hd_featurize_cfg *fc = &f->cfg;
    size_t lm_per_event = (size_t)R * (size_t)T * (size_t)Mm;
    int rc;
    for (int i = 0; i < n; i++) {
        const hd_event *evi = &ev[i];
        const hd_link *li = links + (size_t)i * R;
        uint8_t *mk = out->mask + (size_t)i * R, *why = out->why + (size_t)i * R, *dok = out->dbm_ok + (size_t)i * R;
        uint8_t *tm = out->tmask + (size_t)i * P, *twhy = out->twhy + (size_t)i * P,
                *meth = out->tmethod + (size_t)i * P;
        if ((rc = receiver_features(f, evi, li, iq + (size_t)i * R * N * 2, levels + (size_t)i * R * L,
                                    out->feat + (size_t)i * R * F, mk, why, dok)) < 0)
            return rc;
        if ((rc = pair_tdoa(f, evi, li, mk, out->delay + (size_t)i * P, out->sigma + (size_t)i * P,
                            out->psr + (size_t)i * P, tm, twhy, meth)) < 0)
            return rc;
        for (int r = 0; T > 0 && r < R; r++) {
            float *lm = out->logmel + (size_t)i * lm_per_event + (size_t)r * T * Mm;
            if (!mk[r] || !li[r].has_iq)
                memset(lm, 0, (size_t)T * Mm * sizeof *lm);
            else if ((rc = hd_dsp_logmel(f->x + (size_t)r * 2 * N, N, evi->sample_rate_hz, fc->logmel_n_fft,
                                         fc->logmel_hop, Mm, lm)) < 0)
                return rc;
        }
        for (int p = 0; counts && p < P; p++) {
            int a, b;
            hd_features_pair(R, p, &a, &b);
            counts->tdoa_cand += li[a].gps_ok && li[b].gps_ok && mk[a] && mk[b];
            counts->tdoa_ok += tm[p];
            counts->pair_why[twhy[p]]++;
            counts->tdoa_by[meth[p]]++;
        }
        for (int r = 0; counts && r < R; r++) {
            counts->rx_why[why[r]]++;
            counts->no_dbm += mk[r] && !dok[r];
        }
    }
    return 0;
}

int hd_featurizer_event(hd_featurizer *f, const hd_event *ev, int k, const hd_station *st, const hd_link *links,
                        const int16_t *iq, const float *levels, const hd_featurize_rows *out,
                        hd_featurize_counts *counts)
{
    int rc;
    if (k < 0 || k > f->Rcap || f->dist != MPI_COMM_NULL || f->logmel_frames > 0)
        return hd_error(HD_EINVAL, "featurizer: an event of %d receivers (room for %d; no distributed transforms, "
                                   "no log-mel spectrograms in the sparse layout)", k, f->Rcap);
    if (k == 0)
        return 0;
    if ((rc = hd_dsp_net_resize(f->net, k)) < 0)
        return rc;
    f->stations = st;
    f->R = k;
    f->P = hd_features_npairs(k);
    f->max_lag_s = f->cfg.max_lag_s > 0 ? f->cfg.max_lag_s : hd_featurize_auto_max_lag(st, k);
    return hd_featurizer_block(f, 1, ev, links, iq, levels, out, counts);
}

void hd_featurizer_release(hd_featurizer *f)
{
    free(f->x);
    free(f->psd);
    free(f->sp);
    hd_dsp_net_free(f->net);
    free(f->xc);
    free(f->use);
    free(f->t0);
    free(f->scratch);
    hd_mod_cache_free(f->mod);
    memset(f, 0, sizeof *f);
    f->dist = MPI_COMM_NULL;
}

/* featurize.fftw_wisdom: plans from the file when it exists (all ranks the
 * same plans), else measured here and kept (one rank only: ranks measuring
 * apart could choose different plans, whose last bits differ). */
int hd_featurize_wisdom_begin(const char *path, int size, int *make)
{
    *make = 0;
    if (!path[0])
        return 0;
    if (access(path, F_OK) == 0) {
        int rc = hd_fft_wisdom_load(path);
        return rc < 0 ? hd_error_context(rc, "featurize.fftw_wisdom (not FFTW wisdom? remove it to measure anew)") : 0;
    }
    if (size > 1)
        return hd_error(HD_ECONFIG, "featurize.fftw_wisdom %s does not exist: make it with one rank first (heimdall "
                        "featurize without mpirun), so that every rank uses the same plans", path);
    hd_fft_measure();
    *make = 1;
    return 0;
}

int hd_featurize_wisdom_end(const char *path)
{
    char tmp[HD_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int rc = hd_fft_wisdom_save(tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = hd_error(HD_EIO, "cannot rename %s to %s", tmp, path);
    if (rc < 0)
        unlink(tmp);
    else
        hd_info("FFTW wisdom (measured plans) kept in %s", path);
    return rc;
}
