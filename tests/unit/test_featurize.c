/* featurize: the featurizer library (src/features/featurize.h) on hand-made
 * events — healthy, dead, clipped, not captured, level-only and
 * uncalibrated receivers; the pair masking rules (no GPS time, a narrow
 * carrier, reference pairs) and a wideband pair with a known delay timed
 * within a few sigma; the automatic lag window; every mask reason from an
 * event built to trigger it; the reasons written and read back (and an
 * older file without them); the RSS method skipping an uncalibrated dBm. */
#include "config/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "eval/run.h"
#include "features/featurize.h"
#include "features/features.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "tap.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS 24000.0
#define N 8192
#define R 4
#define NP 6
#define L 16
#define F HD_FEAT_COUNT
#define SCALE 0.1 /* signal amplitude re full scale */

/* A band-limited noise-like signal (±bw/2 Hz, unit power) as heard by R
 * receivers: receiver r's copy delayed by d[r] samples (fractional, exact
 * for the band), with its own complex noise at snr_db[r] (full band),
 * scaled by SCALE and quantised to int16 interleaved into iq[r*2N]. */
static void wideband(int16_t *iq, const double *d, const double *snr_db, const int *which, int nr, double bw,
                     uint32_t seed)
{
    int M = 4 * N;
    fftw_complex *S = fftw_alloc_complex(M), *T = fftw_alloc_complex(M);
    hd_rng g;
    hd_rng_init(&g, seed, 1, 0, HD_RNG_TEST);
    int kb = (int)(bw / 2 / FS * M);
    for (int k = 0; k < M; k++) {
        int kk = k < M / 2 ? k : k - M;
        S[k] = abs(kk) <= kb ? hd_rng_normal(&g) + I * hd_rng_normal(&g) : 0;
    }
    double p = 0;
    for (int q = 0; q < nr; q++) {
        int r = which[q];
        for (int k = 0; k < M; k++) {
            int kk = k < M / 2 ? k : k - M;
            T[k] = S[k] * cexp(-I * 2 * M_PI * kk * d[q] / M);
        }
        fftw_plan pl = fftw_plan_dft_1d(M, T, T, FFTW_BACKWARD, FFTW_ESTIMATE);
        fftw_execute(pl);
        fftw_destroy_plan(pl);
        if (q == 0) {
            p = 0;
            for (int i = 0; i < N; i++)
                p += creal(T[N + i] * conj(T[N + i]));
            p /= N;
        }
        double sc = SCALE / sqrt(p), ns = SCALE * sqrt(pow(10, -snr_db[q] / 10) / 2);
        for (int i = 0; i < N; i++) {
            double re = creal(T[N + i]) * sc + ns * hd_rng_normal(&g);
            double im = cimag(T[N + i]) * sc + ns * hd_rng_normal(&g);
            iq[(size_t)r * 2 * N + 2 * i] = (int16_t)lrint(re * 32768);
            iq[(size_t)r * 2 * N + 2 * i + 1] = (int16_t)lrint(im * 32768);
        }
    }
    fftw_free(S);
    fftw_free(T);
}

/* A carrier at f Hz (amplitude SCALE) in noise at snr_db. */
static void carrier(int16_t *x, double f, double snr_db, uint32_t seed)
{
    hd_rng g;
    hd_rng_init(&g, seed, 2, 0, HD_RNG_TEST);
    double ns = SCALE * sqrt(pow(10, -snr_db / 10) / 2);
    for (int i = 0; i < N; i++) {
        double ph = 2 * M_PI * f * i / FS;
        x[2 * i] = (int16_t)lrint((SCALE * cos(ph) + ns * hd_rng_normal(&g)) * 32768);
        x[2 * i + 1] = (int16_t)lrint((SCALE * sin(ph) + ns * hd_rng_normal(&g)) * 32768);
    }
}

/* Amplify receiver r's capture by gain and saturate it at full scale; the
 * clipped fraction as cmd/import.c counts it. */
static double saturate(int16_t *x, double gain)
{
    int64_t clip = 0;
    for (int i = 0; i < 2 * N; i++) {
        double v = x[i] * gain;
        x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        clip += x[i] == 32767 || x[i] == -32768;
    }
    return (double)clip / (2.0 * N);
}

static double power_dbfs(const int16_t *x)
{
    double p = 0;
    for (int i = 0; i < 2 * N; i++)
        p += ((double)x[i] / 32768) * ((double)x[i] / 32768);
    return 10 * log10(p / N);
}

static int pair_index(int i, int j)
{
    for (int p = 0; p < NP; p++) {
        int a, b;
        hd_features_pair(R, p, &a, &b);
        if (a == i && b == j)
            return p;
    }
    return -1;
}

static int all_zero(const float *f, int n)
{
    for (int k = 0; k < n; k++)
        if (f[k] != 0)
            return 0;
    return 1;
}

static int all_finite(const float *f, int n)
{
    for (int k = 0; k < n; k++)
        if (!isfinite(f[k]))
            return 0;
    return 1;
}

typedef struct {
    hd_event ev;
    hd_link lk[R];
    int16_t iq[R * 2 * N];
    float levels[R * L];
    float feat[R * F], psr[NP];
    uint8_t mask[R], tmask[NP], why[R], twhy[NP], dbm_ok[R], tmethod[NP];
    double delay[NP], sigma[NP];
    float *logmel;
} event_buf;

static void event_reset(event_buf *b)
{
    memset(&b->ev, 0, sizeof b->ev);
    b->ev.sample_rate_hz = FS;
    b->ev.n_samples = N;
    b->ev.n_levels = L;
    b->ev.frequency_hz = 446e6;
    hd_tx_truth_unknown(&b->ev.truth);
    memset(b->iq, 0, sizeof b->iq);
    memset(b->levels, 0, sizeof b->levels);
    for (int r = 0; r < R; r++) {
        hd_link *l = &b->lk[r];
        memset(l, 0, sizeof *l);
        l->status = HD_RX_OK;
        l->has_iq = 1;
        l->gps_ok = 1;
        l->gain_db = 10;
        hd_link_truth_unknown(&l->truth);
    }
}

/* One event's rows to a features file, with the reason datasets or
 * without them (as an older featurize or an import wrote it). */
static int write_features(const char *path, const hd_station *st, const event_buf *b, int reasons, int version)
{
    hd_h5_out out;
    hd_features_writer w;
    int rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    if ((rc = hd_captures_write_receivers(out.file, st, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, 1, R, 0, 0, 0, 0)) < 0 ||
        (reasons && (rc = hd_features_create_reasons(&w, out.file, 0)) < 0) ||
        (rc = hd_features_write_block(&w, 0, 1, &b->ev, b->lk, b->feat, b->mask, b->delay, b->sigma, b->psr, b->tmask,
                                      NULL)) < 0 ||
        (reasons && (rc = hd_features_write_reasons(&w, 0, 1, b->why, b->twhy, b->dbm_ok, b->tmethod)) < 0)) {
        hd_features_close(&w);
        hd_h5_abort(&out);
        return rc;
    }
    hd_features_close(&w);
    hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = version, .command_line = "test",
                             .config_yaml = "seed: 1\n"};
    if ((rc = hd_h5_write_provenance(&out, &prov)) < 0) {
        hd_h5_abort(&out);
        return rc;
    }
    return hd_h5_commit(&out);
}

static int featurize(hd_featurizer *fz, event_buf *b, hd_featurize_counts *cnt)
{
    hd_featurize_rows o = {b->feat, b->mask, b->delay, b->sigma, b->psr, b->tmask, b->logmel, b->why, b->twhy, b->dbm_ok, b->tmethod};
    return hd_featurizer_block(fz, 1, &b->ev, b->lk, b->iq, b->levels, &o, cnt);
}

int main(void)
{
    plan_no_plan();
    hd_config cfg;
    if (hd_config_load(&cfg, NULL, NULL, 0) < 0) {
        diag("%s", hd_errmsg());
        return 1;
    }
    hd_featurize_cfg fc = cfg.featurize;
    hd_station st[R];
    memset(st, 0, sizeof st);
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = 45.0 + 0.05 * r;
        st[r].lon = 7.6 + 0.03 * r;
        st[r].alt_m = 300;
        st[r].antenna_height_m = 10;
        st[r].clock = HD_CLOCK_GPS;
        st[r].clock_sigma_ns = 20;
        st[r].full_scale_dbm = -20;
    }

    /* the automatic lag window: largest baseline over c, 6 clock sigma, 50 µs */
    double dmax = 0;
    for (int i = 0; i < R; i++)
        for (int j = i + 1; j < R; j++) {
            double dd = hd_geo_slant_range(st[i].lat, st[i].lon, 310, st[j].lat, st[j].lon, 310);
            dmax = dd > dmax ? dd : dmax;
        }
    double want_lag = 1.05 * dmax / HD_SPEED_OF_LIGHT + 6 * 20e-9 + 50e-6;
    is_double(hd_featurize_auto_max_lag(st, R), want_lag, 1e-12, "auto max lag: 1.05 baseline/c + 6 clock sigma + 50 us");
    hd_featurizer fz;
    fc.max_lag_s = 0;
    ok(hd_featurizer_init(&fz, &fc, st, R, N, L, MPI_COMM_NULL) == 0, "featurizer init (auto lag)");
    is_double(fz.max_lag_s, want_lag, 1e-12, "featurize.max_lag_s 0 takes the automatic window");
    is_int(fz.P, NP, "pairs of 4 receivers");
    hd_featurizer_release(&fz);
    {
        hd_featurize_cfg bad = fc;
        bad.logmel = 1;
        bad.logmel_n_fft = 2 * N;
        ok(hd_featurizer_init(&fz, &bad, st, R, N, L, MPI_COMM_NULL) == HD_ECONFIG,
           "a log-mel frame longer than the captures is a config error");
    }

    fc.max_lag_s = 1e-3;
    fc.logmel = 1;
    ok(hd_featurizer_init(&fz, &fc, st, R, N, L, MPI_COMM_NULL) == 0, "featurizer init (1 ms lag, log-mel)");
    int T = fz.logmel_frames, M = fz.logmel_mels;
    ok(T > 0 && M == fc.logmel_n_mels, "log-mel frames %d × %d mels", T, M);
    event_buf *b = calloc(1, sizeof *b);
    b->logmel = calloc((size_t)R * T * M, sizeof *b->logmel);
    hd_featurize_counts cnt = {0};

    /* ---- event 1: healthy pair with a known delay, a dead and a clipped receiver */
    event_reset(b);
    const double d01 = 3.37; /* samples: receiver 1 hears it 140 µs later */
    {
        double d[3] = {0, d01, 0}, snr[3] = {20, 20, 20};
        int which[3] = {0, 1, 3};
        wideband(b->iq, d, snr, which, 3, 8000, 11);
    }
    b->lk[3].clipped_fraction = saturate(b->iq + 3 * 2 * N, 8.0); /* receiver 2 stays all zero: dead */
    ok(b->lk[3].clipped_fraction > fc.max_clipped_fraction, "clipped receiver: %.3f above max_clipped_fraction %.3f",
       b->lk[3].clipped_fraction, fc.max_clipped_fraction);
    double p0 = power_dbfs(b->iq);
    ok(featurize(&fz, b, &cnt) == 0, "event 1 featurized");
    const float *f0 = b->feat, *f1 = b->feat + F;
    is_int(b->mask[0], 1, "healthy receiver: mask 1");
    ok(all_finite(f0, F), "healthy receiver: every feature finite");
    is_double(f0[HD_FEAT_RSS_DBFS], p0, 0.1, "healthy receiver: RSS dBFS is the capture's power (0.1 dB: tapered spectrum)");
    is_double(f0[HD_FEAT_SNR_DB], 20, 2, "healthy receiver: SNR about 20 dB");
    ok(f0[HD_FEAT_RMS_BW_HZ] > 1500 && f0[HD_FEAT_RMS_BW_HZ] < 3500, "healthy receiver: RMS bandwidth %.0f Hz of ±4 kHz",
       f0[HD_FEAT_RMS_BW_HZ]);
    ok(f0[HD_FEAT_OCC_BW_HZ] > 6000 && f0[HD_FEAT_OCC_BW_HZ] < 9000, "healthy receiver: occupied bandwidth %.0f Hz",
       f0[HD_FEAT_OCC_BW_HZ]);
    {
        /* signal power = total - noise: SNR 20 dB → signal is 100/101 of the total */
        double sig = p0 + 10 * log10(100.0 / 101.0);
        is_double(f0[HD_FEAT_RSS_DBM], sig - 10 + (-20), 0.5, "healthy receiver: dBm = signal dBFS - gain + full scale");
    }
    is_double(f0[HD_FEAT_HAS_IQ], 1, 0, "healthy receiver: has_iq 1");
    is_double(f0[HD_FEAT_GPS_OK], 1, 0, "healthy receiver: gps_ok 1");
    is_int(b->mask[1], 1, "second healthy receiver: mask 1");
    ok(all_finite(f1, F), "second healthy receiver: features finite");
    is_int(b->why[0], HD_WHY_RX_OK, "healthy receiver: reason ok");
    is_int(b->dbm_ok[0], 1, "healthy receiver: dBm calibrated (dbm_ok 1)");
    is_int(b->mask[2], 0, "dead receiver (all-zero IQ): masked");
    is_str(hd_rx_why_name(b->why[2]), "dead", "dead receiver: reason dead");
    is_int(b->dbm_ok[2], 0, "dead receiver: no dBm");
    ok(all_zero(b->feat + 2 * F, F), "dead receiver: features 0");
    is_int(b->mask[3], 0, "clipped receiver: masked");
    is_str(hd_rx_why_name(b->why[3]), "clipped", "clipped receiver: reason clipped");
    ok(all_zero(b->feat + 3 * F, F), "clipped receiver: features 0");
    {
        int p = pair_index(0, 1);
        double want = d01 / FS;
        is_int(b->tmask[p], 1, "wideband pair (0,1): timed");
        is_int(b->twhy[p], HD_WHY_PAIR_OK, "wideband pair (0,1): reason ok");
        ok(b->sigma[p] > 0 && b->sigma[p] < 1e-6, "wideband pair: sigma %.3g s (sub-microsecond)", b->sigma[p]);
        ok(fabs(b->delay[p] - want) < 4 * b->sigma[p], "wideband pair: delay %.4g us, true %.4g us, within 4 sigma (%.3g us)",
           b->delay[p] * 1e6, want * 1e6, b->sigma[p] * 1e6);
        ok(b->sigma[p] >= sqrt(2) * 20e-9 * 0.999, "wideband pair: sigma includes both GPS clocks' sigma");
        ok(b->psr[p] >= fc.psr_min_db, "wideband pair: psr %.1f dB above psr_min_db", b->psr[p]);
    }
    for (int p = 0; p < NP; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        if (i == 2 || j == 2 || i == 3 || j == 3) {
            char what[64];
            snprintf(what, sizeof what, "pair (%d,%d) with a masked end: masked, zeros", i, j);
            ok(b->tmask[p] == 0 && b->delay[p] == 0 && b->sigma[p] == 0 && b->psr[p] == 0 &&
                   b->twhy[p] == HD_WHY_PAIR_END_MASKED, "%s, reason end_masked", what);
        }
    }
    ok(!all_zero(b->logmel, T * M), "healthy receiver: log-mel spectrogram filled");
    ok(all_zero(b->logmel + (size_t)2 * T * M, T * M) && all_zero(b->logmel + (size_t)3 * T * M, T * M),
       "masked receivers: log-mel 0");
    is_int(cnt.tdoa_cand, 1, "event 1: one GPS-timed candidate pair");
    is_int(cnt.tdoa_ok, 1, "event 1: one valid pair measurement");
    ok(cnt.rx_why[HD_WHY_RX_OK] == 2 && cnt.rx_why[HD_WHY_RX_DEAD] == 1 && cnt.rx_why[HD_WHY_RX_CLIPPED] == 1,
       "event 1 counts: 2 valid, 1 dead, 1 clipped");
    ok(cnt.pair_why[HD_WHY_PAIR_OK] == 1 && cnt.pair_why[HD_WHY_PAIR_END_MASKED] == 5, "event 1 counts: 1 timed, 5 end_masked");

    /* ---- event 2: no GPS on one end, a narrow carrier, a receiver not captured */
    event_reset(b);
    {
        double d[3] = {0, 2.0, 1.0}, snr[3] = {20, 20, 20};
        int which[3] = {0, 1, 3};
        wideband(b->iq, d, snr, which, 3, 8000, 12);
    }
    b->lk[1].gps_ok = 0; /* a free-running clock */
    carrier(b->iq + 2 * 2 * N, 1000, 25, 13);
    b->lk[3].status = HD_RX_TIMEOUT;
    memset(&cnt, 0, sizeof cnt);
    ok(featurize(&fz, b, &cnt) == 0, "event 2 featurized");
    is_int(b->mask[1], 1, "receiver without GPS time: features valid (mask 1)");
    is_double(b->feat[F + HD_FEAT_GPS_OK], 0, 0, "receiver without GPS time: gps_ok feature 0");
    is_int(b->tmask[pair_index(0, 1)], 0, "pair with no GPS time on one end: masked");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 1)]), "no_gps_time", "pair with no GPS time on one end: reason no_gps_time");
    is_int(b->mask[2], 1, "narrow carrier: receiver features valid");
    ok(b->feat[2 * F + HD_FEAT_RMS_BW_HZ] < fc.min_rms_bw_hz, "narrow carrier: RMS bandwidth %.1f Hz below min_rms_bw_hz %.0f",
       b->feat[2 * F + HD_FEAT_RMS_BW_HZ], fc.min_rms_bw_hz);
    is_double(b->feat[2 * F + HD_FEAT_FREQ_OFFSET_HZ], 1000, 50, "narrow carrier: frequency offset 1 kHz");
    is_int(b->tmask[pair_index(0, 2)], 0, "pair with a narrow carrier (GPS on both ends): masked");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 2)]), "too_narrow", "pair with a narrow carrier: reason too_narrow");
    is_int(b->mask[3], 0, "receiver not captured (timeout): masked");
    is_str(hd_rx_why_name(b->why[3]), "not_captured", "receiver not captured: reason not_captured");
    ok(all_zero(b->feat + 3 * F, F), "receiver not captured: features 0");
    is_int(cnt.tdoa_cand, 1, "event 2: only (0,2) is a GPS-timed candidate");
    is_int(cnt.tdoa_ok, 0, "event 2: no valid pair measurement");

    /* ---- event 3: a level-only receiver and an uncalibrated one */
    event_reset(b);
    {
        double d[3] = {0, 1.5, 2.5}, snr[3] = {20, 20, 20};
        int which[3] = {0, 1, 3};
        wideband(b->iq, d, snr, which, 3, 8000, 14);
    }
    b->lk[2].has_iq = 0;
    b->lk[2].has_levels = 1;
    b->lk[2].gps_ok = 0;
    double lin = 0;
    for (int i = 0; i < L; i++) {
        float v = (float)(-50 + (i % 2 ? 2 : -2));
        b->levels[2 * L + i] = v;
        lin += pow(10, v / 10);
    }
    double lrss = 10 * log10(lin / L);
    /* the same event calibrated first, then with receiver 3's gain unknown
     * (what import kiwiwav gives: gain and full scale NaN) */
    ok(featurize(&fz, b, NULL) == 0, "event 3 featurized, calibrated");
    float cal[F];
    memcpy(cal, b->feat + 3 * F, sizeof cal);
    double cal_delay = b->delay[pair_index(0, 3)];
    b->lk[3].gain_db = NAN;
    memset(&cnt, 0, sizeof cnt);
    ok(featurize(&fz, b, &cnt) == 0, "event 3 featurized, receiver 3 uncalibrated");
    const float *f2 = b->feat + 2 * F;
    is_int(b->mask[2], 1, "level-only receiver: mask 1");
    is_double(f2[HD_FEAT_RSS_DBFS], lrss, 1e-4, "level-only receiver: RSS is the mean level power");
    is_double(f2[HD_FEAT_RSS_DBM], lrss - 10 - 20, 1e-4, "level-only receiver: dBm = RSS - gain + full scale");
    is_double(f2[HD_FEAT_LEVEL_STD_DB], 2, 1e-4, "level-only receiver: level spread 2 dB");
    is_double(f2[HD_FEAT_HAS_IQ], 0, 0, "level-only receiver: has_iq 0");
    is_double(f2[HD_FEAT_SNR_DB], 0, 0, "level-only receiver: no SNR");
    is_int(b->tmask[pair_index(0, 2)] + b->tmask[pair_index(1, 2)] + b->tmask[pair_index(2, 3)], 0,
           "level-only receiver: its pairs masked");
    ok(b->twhy[pair_index(0, 2)] == HD_WHY_PAIR_LEVEL_ONLY && b->twhy[pair_index(2, 3)] == HD_WHY_PAIR_LEVEL_ONLY,
       "level-only receiver: its pairs' reason level_only");
    is_int(b->dbm_ok[2], 1, "level-only receiver: dBm calibrated");
    /* issue 16: an uncalibrated receiver keeps every feature; only the dBm is absent */
    is_int(b->mask[3], 1, "uncalibrated receiver (gain_db NaN): mask 1");
    is_int(b->why[3], HD_WHY_RX_OK, "uncalibrated receiver: reason ok");
    is_int(b->dbm_ok[3], 0, "uncalibrated receiver: dbm_ok 0");
    is_double(b->feat[3 * F + HD_FEAT_RSS_DBM], 0, 0, "uncalibrated receiver: rss_dbm stored as 0, not NaN");
    {
        int same = 1;
        for (int k = 0; k < F; k++)
            same &= k == HD_FEAT_RSS_DBM || b->feat[3 * F + k] == cal[k];
        ok(same, "uncalibrated receiver: every other feature as when calibrated");
    }
    ok(cal[HD_FEAT_RSS_DBFS] != 0 && cal[HD_FEAT_SNR_DB] > 10, "uncalibrated receiver: its dBFS and SNR kept");
    is_int(b->tmask[pair_index(0, 3)], 1, "uncalibrated receiver: its pair (0,3) timed");
    is_double(b->delay[pair_index(0, 3)], cal_delay, 0, "uncalibrated receiver: the same time difference as calibrated");
    is_int(cnt.no_dbm, 1, "counts: one valid receiver without a calibrated dBm");
    is_int(b->tmask[pair_index(0, 1)], 1, "calibrated pair (0,1) in the same event: timed");
    hd_featurizer_release(&fz);

    /* the same with the station's full scale unknown (SigMF / kiwiwav stations) */
    {
        hd_station su[R];
        memcpy(su, st, sizeof su);
        su[3].full_scale_dbm = NAN;
        event_reset(b);
        double d[2] = {0, 1.5}, snr[2] = {20, 20};
        int which[2] = {0, 3};
        wideband(b->iq, d, snr, which, 2, 8000, 15);
        b->lk[1].status = b->lk[2].status = HD_RX_NOT_RUN;
        ok(hd_featurizer_init(&fz, &fc, su, R, N, L, MPI_COMM_NULL) == 0, "featurizer init (uncalibrated station)");
        ok(featurize(&fz, b, NULL) == 0, "event 4 featurized (counts NULL)");
        ok(b->mask[3] == 1 && b->dbm_ok[3] == 0, "full_scale_dbm NaN: receiver kept, dbm_ok 0");
        is_int(b->tmask[pair_index(0, 3)], 1, "full_scale_dbm NaN: its pair timed");
        ok(b->twhy[pair_index(0, 1)] == HD_WHY_PAIR_END_MASKED, "pair with a receiver not run: end_masked");
        hd_featurizer_release(&fz);
    }

    /* ---- pairs: reference — only each event's best-SNR receiver against the others */
    fc.pairs = HD_PAIRS_REFERENCE;
    fc.logmel = 0;
    ok(hd_featurizer_init(&fz, &fc, st, R, N, L, MPI_COMM_NULL) == 0, "featurizer init (pairs: reference)");
    event_reset(b);
    {
        double d[3] = {0, 1.25, 2.75}, snr[3] = {15, 30, 10};
        int which[3] = {0, 1, 2};
        wideband(b->iq, d, snr, which, 3, 8000, 16);
    }
    b->lk[3].status = HD_RX_REFUSED;
    memset(&cnt, 0, sizeof cnt);
    ok(featurize(&fz, b, &cnt) == 0, "event 5 featurized");
    is_int(b->tmask[pair_index(0, 1)], 1, "reference pairs: (0,1) with the best-SNR receiver 1 timed");
    is_int(b->tmask[pair_index(1, 2)], 1, "reference pairs: (1,2) timed");
    is_int(b->tmask[pair_index(0, 2)], 0, "reference pairs: (0,2) without the reference masked");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 2)]), "not_reference", "reference pairs: (0,2) reason not_reference");
    {
        int p = pair_index(1, 2);
        double want = (2.75 - 1.25) / FS;
        ok(fabs(b->delay[p] - want) < 4 * b->sigma[p], "reference pair (1,2): delay %.4g us, true %.4g us (sigma %.3g us)",
           b->delay[p] * 1e6, want * 1e6, b->sigma[p] * 1e6);
    }
    is_int(cnt.tdoa_cand, 3, "event 5: three candidate pairs");
    is_int(cnt.tdoa_ok, 2, "event 5: two timed");
    hd_featurizer_release(&fz);

    /* ---- the other reasons: no peak, no data, not finite, outside the lag window */
    fc.pairs = HD_PAIRS_ALL;
    ok(hd_featurizer_init(&fz, &fc, st, R, N, L, MPI_COMM_NULL) == 0, "featurizer init (pairs: all)");
    event_reset(b);
    {
        double d[1] = {0}, snr[1] = {20};
        int w0[1] = {0}, w1[1] = {1};
        wideband(b->iq, d, snr, w0, 1, 8000, 17);
        wideband(b->iq, d, snr, w1, 1, 8000, 18); /* another signal: nothing in common */
    }
    b->lk[2].has_iq = 0; /* captured, but with nothing in it */
    b->lk[3].has_iq = 0;
    b->lk[3].has_levels = 1;
    for (int i = 0; i < L; i++)
        b->levels[3 * L + i] = NAN;
    memset(&cnt, 0, sizeof cnt);
    ok(featurize(&fz, b, &cnt) == 0, "event 6 featurized");
    ok(b->mask[0] && b->mask[1], "event 6: two healthy receivers");
    is_int(b->tmask[pair_index(0, 1)], 0, "two receivers of unrelated signals: not timed");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 1)]), "no_peak", "unrelated signals: reason no_peak");
    is_int(b->mask[2], 0, "receiver with neither IQ nor levels: masked");
    is_str(hd_rx_why_name(b->why[2]), "no_data", "receiver with neither IQ nor levels: reason no_data");
    is_int(b->mask[3], 0, "level-only receiver with NaN levels: masked");
    is_str(hd_rx_why_name(b->why[3]), "not_finite", "NaN levels: reason not_finite");
    ok(all_finite(b->feat + 3 * F, F), "NaN levels: no NaN in the features");
    is_double(b->feat[3 * F + HD_FEAT_GPS_OK], 1, 0, "NaN levels: the finite features kept (gps_ok 1)");
    ok(cnt.rx_why[HD_WHY_RX_NO_DATA] == 1 && cnt.rx_why[HD_WHY_RX_NOT_FINITE] == 1 && cnt.pair_why[HD_WHY_PAIR_NO_PEAK] == 1,
       "event 6 counts: no_data 1, not_finite 1, no_peak 1");

    /* the same signal at two receivers, one whose LO sweeps 400 Hz during
     * the capture (unlocked, drifting): the correlation peaks, but no one
     * frequency difference explains the product */
    event_reset(b);
    {
        double d[2] = {0, 2.5}, snr[2] = {25, 25};
        int which[2] = {0, 1};
        wideband(b->iq, d, snr, which, 2, 8000, 21);
        double dur = N / FS, k = 400.0 / dur;
        for (int i = 0; i < N; i++) {
            double t = i / FS, ph = M_PI * k * t * t;
            double re = b->iq[2 * N + 2 * i], im = b->iq[2 * N + 2 * i + 1];
            b->iq[2 * N + 2 * i] = (int16_t)lrint(re * cos(ph) - im * sin(ph));
            b->iq[2 * N + 2 * i + 1] = (int16_t)lrint(re * sin(ph) + im * cos(ph));
        }
    }
    b->lk[2].status = b->lk[3].status = HD_RX_NOT_RUN;
    memset(&cnt, 0, sizeof cnt);
    ok(featurize(&fz, b, &cnt) == 0, "event 6b featurized");
    is_int(b->tmask[pair_index(0, 1)], 0, "an LO sweeping 400 Hz in the capture: not timed");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 1)]), "no_freq_lock", "its reason no_freq_lock");
    ok(cnt.pair_why[HD_WHY_PAIR_NO_FREQ_LOCK] == 1, "counted as such");

    event_reset(b);
    {
        double d[2] = {0, 1.5}, snr[2] = {20, 20};
        int which[2] = {0, 1};
        wideband(b->iq, d, snr, which, 2, 8000, 19);
    }
    b->lk[1].t0_s = 1.0; /* stamped a second later than a 0.34 s capture */
    b->lk[2].status = b->lk[3].status = HD_RX_NOT_RUN;
    ok(featurize(&fz, b, NULL) == 0, "event 7 featurized");
    is_int(b->tmask[pair_index(0, 1)], 0, "time stamps 1 s apart: not timed");
    is_str(hd_pair_why_name(b->twhy[pair_index(0, 1)]), "outside_lag_window",
           "time stamps 1 s apart: reason outside_lag_window");
    hd_featurizer_release(&fz);

    /* ---- the reasons in a file, and RSS methods skipping an uncalibrated dBm */
    char dir[] = "/tmp/hd-test-featurize.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[300], old[300];
    snprintf(path, sizeof path, "%s/f.h5", dir);
    snprintf(old, sizeof old, "%s/v1.h5", dir);
    event_reset(b);
    for (int r = 0; r < R; r++) {
        double dd = hd_geo_slant_range(45.06, 7.64, 300, st[r].lat, st[r].lon, 310);
        b->mask[r] = 1;
        b->why[r] = HD_WHY_RX_OK;
        b->dbm_ok[r] = r != 3;
        memset(b->feat + r * F, 0, F * sizeof *b->feat);
        b->feat[r * F + HD_FEAT_RSS_DBM] = r != 3 ? (float)(30 - 30 * log10(dd)) : 0;
        b->feat[r * F + HD_FEAT_SNR_DB] = 20;
    }
    for (int p = 0; p < NP; p++) {
        b->tmask[p] = 0;
        b->twhy[p] = (uint8_t)(1 + p % (HD_WHY_PAIR_COUNT - 1));
        b->delay[p] = b->sigma[p] = b->psr[p] = 0;
    }
    ok(write_features(path, st, b, 1, HD_FEATURES_VERSION) == 0, "features file with reasons written");
    ok(write_features(old, st, b, 0, 1) == 0, "version 1 features file (no reasons) written");
    hd_features_reader rd;
    uint8_t why2[R], twhy2[NP], dok2[R];
    ok(hd_features_open(&rd, path, MPI_COMM_NULL) == 0, "features file opens");
    ok(rd.has_reasons && rd.has_dbm_ok, "reasons and dbm_ok present");
    ok(hd_features_read_reasons(&rd, 0, 1, why2, twhy2, dok2) == 0, "reasons read");
    ok(memcmp(why2, b->why, R) == 0 && memcmp(twhy2, b->twhy, NP) == 0 && memcmp(dok2, b->dbm_ok, R) == 0,
       "reasons and dbm_ok read back as written");
    {
        char **names = NULL;
        int nn = 0;
        hid_t ds = H5Dopen2(rd.meta.file, "tdoa/mask_reason", H5P_DEFAULT);
        ok(ds >= 0 && hd_h5_read_attr_strarray(ds, "names", &names, &nn) == 0 && nn == HD_WHY_PAIR_COUNT &&
               strcmp(names[HD_WHY_PAIR_NO_PEAK], "no_peak") == 0,
           "/tdoa/mask_reason carries its names table");
        for (int k = 0; k < nn; k++)
            free(names[k]);
        free(names);
        if (ds >= 0)
            H5Dclose(ds);
    }
    hd_features_tally tl;
    ok(hd_features_count(&rd, &tl) == 0 && tl.valid == R && tl.no_dbm == 1 && tl.rx[HD_WHY_RX_OK] == R &&
           tl.pair[1] == 1 && tl.pair[HD_WHY_PAIR_NO_PEAK] == 1 && tl.pair[HD_WHY_PAIR_OUTSIDE_LAG_WINDOW] == 0 && tl.pair[0] == 0,
       "tally: 4 valid, 1 without dBm, pairs per reason");
    hd_run run;
    ok(hd_run_locate(&run, &rd, &cfg.localize, HD_LOC_RSS, NULL, NULL) == 0, "RSS run on the file");
    is_int(run.ev[0].res.leveled, 0x7, "RSS: the receiver without a calibrated dBm is not used as dBm");
    hd_run_release(&run);
    hd_features_release(&rd);
    ok(hd_features_open(&rd, old, MPI_COMM_NULL) == 0, "a version 1 features file still opens");
    ok(!rd.has_reasons && !rd.has_dbm_ok, "version 1: no reasons");
    ok(hd_features_read_reasons(&rd, 0, 1, why2, twhy2, dok2) == 0, "version 1: reasons read");
    ok(why2[0] == HD_WHY_UNKNOWN && twhy2[NP - 1] == HD_WHY_UNKNOWN && dok2[3] == 1,
       "version 1: reasons unknown (255), dbm_ok 1");
    ok(hd_features_count(&rd, &tl) == 0 && tl.rx[HD_WHY_UNKNOWN] == R && tl.pair[HD_WHY_UNKNOWN] == NP && tl.no_dbm == 0,
       "version 1 tally: every reason unknown");
    ok(hd_run_locate(&run, &rd, &cfg.localize, HD_LOC_RSS, NULL, NULL) == 0, "RSS run on the version 1 file");
    is_int(run.ev[0].res.leveled, 0xf, "RSS on a file without dbm_ok: every valid receiver's dBm used (as before)");
    hd_run_release(&run);
    hd_features_release(&rd);
    unlink(path);
    unlink(old);
    rmdir(dir);

    is_str(hd_rx_why_name(HD_WHY_UNKNOWN), "unknown", "reason names: out of range is unknown");
    is_str(hd_pair_why_name(HD_WHY_PAIR_COUNT), "unknown", "pair reason names: out of range is unknown");

    free(b->logmel);
    free(b);
    hd_config_release(&cfg);
    fftw_cleanup();
    hd_fft_cleanup();
    done_testing();
    return exit_status();
}
