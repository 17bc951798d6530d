/* sim: the physics of the simulated receiver network, measured from what it
 * renders (IQ), not only from the truth it reports. */
#include "config/config.h"
#include "core/error.h"
#include "geo/geo.h"
#include "sim/sim.h"
#include "tap.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>

/* Two stations 100 km apart (Torino, Milano-ish) and a few more. */
static const char *stations_yaml =
    "stations:\n"
    "  - {id: a, lat: 45.0, lon: 7.6, alt_m: 250}\n"
    "  - {id: b, lat: 45.4, lon: 8.8, alt_m: 120}\n"
    "  - {id: c, lat: 44.5, lon: 8.9, alt_m: 100}\n"
    "  - {id: d, lat: 45.2, lon: 7.2, alt_m: 600}\n";

static int load(hd_config *cfg, const char *extra, const char *const *sets, int n)
{
    char yaml[8192];
    snprintf(yaml, sizeof yaml, "seed: 7\n%scollect:\n  duration_s: 0.1\n%s", stations_yaml, extra ? extra : "");
    int rc = hd_config_load_string(cfg, yaml, "test", sets, n);
    if (rc)
        diag("config: %s", hd_errmsg());
    return rc;
}

/* Mean power of int16 IQ, converted back to dBm at the antenna port. */
static double iq_dbm(const int16_t *iq, int n, const hd_link *l, const hd_station *st)
{
    double p = 0;
    for (int i = 0; i < 2 * n; i++)
        p += (double)iq[i] * iq[i];
    p /= n * 32767.0 * 32767.0;
    return 10 * log10(p) - l->gain_db + st->full_scale_dbm;
}

static void test_determinism(void)
{
    hd_config cfg;
    load(&cfg, NULL, NULL, 0);
    hd_event ev;
    hd_link l1, l2, lx;
    hd_sim_event_draw(&cfg, 5, &ev);
    int N = ev.n_samples;
    int16_t *a = calloc(2 * N, 2), *b = calloc(2 * N, 2), *c = calloc(2 * N, 2);
    float lv[8];
    hd_sim_render(&cfg, &ev, 2, &l1, a, lv);
    for (int r = 0; r < 4; r++) /* other receivers in between */
        hd_sim_render(&cfg, &ev, r, &lx, c, lv);
    hd_event ev2;
    hd_sim_event_draw(&cfg, 5, &ev2);
    hd_sim_render(&cfg, &ev2, 2, &l2, b, lv);
    ok(memcmp(a, b, 4 * N) == 0 && memcmp(&l1, &l2, sizeof l1) == 0, "a receiver renders identically whatever was rendered before");
    hd_config cfg2;
    const char *sets[] = {"seed=8"};
    load(&cfg2, NULL, sets, 1);
    hd_sim_event_draw(&cfg2, 5, &ev2);
    ok(ev2.truth.lat != ev.truth.lat, "another seed draws another transmitter");
    ok(ev.truth.lat > 44.4 && ev.truth.lat < 45.6 && ev.truth.lon > 7.0 && ev.truth.lon < 9.1, "transmitter inside the stations' box plus margin");
    free(a);
    free(b);
    free(c);
    hd_config_release(&cfg);
    hd_config_release(&cfg2);

    /* a polygon region: every transmitter inside it */
    const char *poly[] = {"collect.simulate.region.polygon=[[44.6, 7.5], [45.3, 8.0], [44.6, 8.5]]",
                          "collect.simulate.margin_km=0"};
    load(&cfg, NULL, poly, 2);
    double tri[3][2] = {{44.6, 7.5}, {45.3, 8.0}, {44.6, 8.5}};
    int inside = 0;
    for (int e = 0; e < 200; e++) {
        hd_sim_event_draw(&cfg, e, &ev);
        inside += hd_geo_in_polygon((const double (*)[2])tri, 3, ev.truth.lat, ev.truth.lon);
    }
    is_int(inside, 200, "transmitters drawn inside a polygon region");
    hd_config_release(&cfg);
}

static void test_path_loss_values(void)
{
    hd_prop_cfg p = {.model = HD_PL_FREE_SPACE};
    /* Friis: 20 log10(4π d f / c) = 95.68 dB at 145 MHz, 10 km */
    is_double(hd_sim_path_loss_db(&p, 145e6, 10e3, 1.5, 30), 95.68, 0.01, "free-space loss 145 MHz 10 km");
    p.model = HD_PL_LOG_DISTANCE;
    p.exponent = 3.0;
    p.reference_distance_m = 1000;
    double l1 = hd_sim_path_loss_db(&p, 145e6, 1e3, 1.5, 30), l10 = hd_sim_path_loss_db(&p, 145e6, 10e3, 1.5, 30);
    is_double(l10 - l1, 30.0, 1e-9, "log-distance: 30 dB per decade with exponent 3");
    p.model = HD_PL_HATA;
    /* Okumura–Hata urban, small/medium city: 900 MHz, hb 30 m, hm 1.5 m,
     * 10 km: 69.55 + 26.16·log f − 13.82·log hb − a(hm) + (44.9 − 6.55·log hb)·log d = 161.6 dB */
    is_double(hd_sim_path_loss_db(&p, 900e6, 10e3, 1.5, 30), 161.63, 0.05, "Hata 900 MHz 10 km");
    double h999 = hd_sim_path_loss_db(&p, 900e6, 999.9, 1.5, 30), h1000 = hd_sim_path_loss_db(&p, 900e6, 1000.1, 1.5, 30);
    ok(fabs(h999 - h1000) < 0.01, "Hata continuous at 1 km");
    is_double(hd_sim_noise_dbm(1.0, 0.0), -173.98, 0.01, "kT at 290 K is -174 dBm/Hz");
}

/* Path loss recovered from the IQ: regress (Ptx + gains - measured Prx)
 * on 10 log10 d over high-SNR links. */
static void test_path_loss_recovered(void)
{
    const char *extra =
        "  frequencies_hz: [145500000]\n"
        "  simulate:\n"
        "    receivers: {failure_probability: 0, gps_outage_probability: 0}\n"
        "    transmitter: {power_dbm: [70, 70], signal_types: [fsk4]}\n"
        "    margin_km: 50\n"
        "    propagation: {shadowing_db: SHADOW, multipath_taps: 0, rician_k_db: 30, rician_max_km: 1000, exponent: 3.2}\n";
    for (int pass = 0; pass < 2; pass++) {
        char buf[2048], *s;
        snprintf(buf, sizeof buf, "%s", extra);
        s = strstr(buf, "SHADOW");
        memcpy(s, pass ? "6.0000" : "0.0000", 6);
        hd_config cfg;
        if (load(&cfg, buf, NULL, 0)) {
            ok(0, "config loads");
            return;
        }
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int n = 0;
        double *xs = calloc(4000, sizeof *xs), *ys = calloc(4000, sizeof *ys);
        for (int e = 0; e < (pass ? 400 : 60); e++) {
            hd_event ev;
            hd_sim_event_draw(&cfg, e, &ev);
            int16_t *iq = calloc(2 * ev.n_samples, 2);
            for (int r = 0; r < cfg.n_stations; r++) {
                hd_link l;
                hd_station st;
                hd_sim_station(&cfg, r, &st);
                hd_sim_render(&cfg, &ev, r, &l, iq, NULL);
                /* strong enough that no link is censored by the selection */
                if (l.truth.snr_db < 10 || l.truth.distance_m < 2000 || l.clipped_fraction > 0)
                    continue;
                double meas = iq_dbm(iq, ev.n_samples, &l, &st);
                /* remove the (small) noise share */
                double sig = 10 * log10(pow(10, meas / 10) - pow(10, l.truth.noise_dbm / 10));
                double loss = ev.truth.power_dbm + ev.truth.gain_dbi + st.antenna_gain_dbi - sig;
                double x = 10 * log10(l.truth.distance_m);
                xs[n] = x;
                ys[n] = loss;
                sx += x, sy += loss, sxx += x * x, sxy += x * loss;
                n++;
            }
            free(iq);
        }
        double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n;
        double res = 0;
        for (int i = 0; i < n; i++)
            res += pow(ys[i] - icpt - slope * xs[i], 2);
        res = sqrt(res / (n - 2));
        if (!pass) {
            diag("no shadowing: %d links, exponent %.4f (configured 3.2), residual %.3f dB", n, slope, res);
            ok(n > 100 && fabs(slope - 3.2) < 0.05, "path-loss exponent recovered from the IQ");
            ok(res < 0.5, "residual without shadowing below 0.5 dB");
        } else {
            diag("shadowing 6 dB: %d links, exponent %.3f, residual %.2f dB", n, slope, res);
            ok(n > 500 && fabs(slope - 3.2) < 0.3, "exponent recovered under shadowing");
            ok(fabs(res - 6.0) < 0.6, "log-normal shadowing sigma recovered (6 dB)");
        }
        free(xs);
        free(ys);
        hd_config_release(&cfg);
    }
}

static void test_noise_and_signal_power(void)
{
    /* a 1 µW transmitter 200+ km away: noise only */
    const char *far = "  simulate:\n    region: {lat_min: 40.0, lat_max: 40.1, lon_min: 2.0, lon_max: 2.1}\n    margin_km: 0\n"
                      "    transmitter: {power_dbm: [-30, -30]}\n    receivers: {failure_probability: 0}\n"
                      ;
    const char *one_second[] = {"collect.duration_s=1.0"};
    hd_config cfg;
    if (load(&cfg, far, one_second, 1)) {
        ok(0, "config loads");
        return;
    }
    hd_event ev;
    hd_sim_event_draw(&cfg, 0, &ev);
    int16_t *iq = calloc(2 * ev.n_samples, 2);
    double worst = 0;
    for (int r = 0; r < cfg.n_stations; r++) {
        hd_link l;
        hd_station st;
        hd_sim_station(&cfg, r, &st);
        hd_sim_render(&cfg, &ev, r, &l, iq, NULL);
        double d = fabs(iq_dbm(iq, ev.n_samples, &l, &st) - hd_sim_noise_dbm(ev.sample_rate_hz, st.noise_figure_db));
        worst = d > worst ? d : worst;
        if (r == 0)
            diag("noise: SNR %.1f dB, gain %.1f dB, measured %.2f dBm, kTBF %.2f dBm", l.truth.snr_db, l.gain_db,
                 iq_dbm(iq, ev.n_samples, &l, &st), l.truth.noise_dbm);
    }
    ok(worst < 0.3, "IQ noise power within 0.3 dB of kTBF (worst %.3f dB)", worst);
    free(iq);
    hd_config_release(&cfg);

    /* strong signals: the IQ carries rx_power + noise, and the AGC puts it at -20 dBFS */
    const char *near = "  simulate:\n    transmitter: {power_dbm: [40, 40]}\n    receivers: {failure_probability: 0}\n";
    load(&cfg, near, NULL, 0);
    int n = 0, good = 0, agc_ok = 0;
    for (int e = 0; e < 30; e++) {
        hd_sim_event_draw(&cfg, e, &ev);
        iq = calloc(2 * ev.n_samples, 2);
        for (int r = 0; r < cfg.n_stations; r++) {
            hd_link l;
            hd_station st;
            hd_sim_station(&cfg, r, &st);
            hd_sim_render(&cfg, &ev, r, &l, iq, NULL);
            if (l.truth.snr_db < 10 || l.clipped_fraction > 0)
                continue;
            n++;
            double want = 10 * log10(pow(10, l.truth.rx_power_dbm / 10) + pow(10, l.truth.noise_dbm / 10));
            double got = iq_dbm(iq, ev.n_samples, &l, &st);
            good += fabs(got - want) < 0.5;
            double dbfs = got + l.gain_db - st.full_scale_dbm;
            agc_ok += (l.gain_db > 0 && l.gain_db < st.max_gain_db) ? fabs(dbfs + 20) < 0.01 : 1;
        }
        free(iq);
    }
    ok(n > 20 && good == n, "signal power in the IQ matches rx_power_dbm within 0.5 dB (%d/%d links)", good, n);
    ok(agc_ok == n, "AGC holds the total power at -20 dBFS");
    hd_config_release(&cfg);
}

/* Cross-correlate two receivers' IQ (FFT, ×64 upsampled) and compare the
 * delay with the truth: arrival_s is distance / c and is what the IQ shows. */
static void test_arrival_time(void)
{
    const char *y = "  simulate:\n    receivers: {failure_probability: 0, gps_outage_probability: 0, "
                    "start_jitter_ms: 0, clock_sigma_ns: 0}\n"
                    "    transmitter: {power_dbm: [50, 50], signal_types: [fsk4]}\n"
                    "    propagation: {shadowing_db: 0, multipath_taps: 0, rician_k_db: 30, rician_max_km: 1000}\n";
    hd_config cfg;
    /* Receivers whose LOs agree: with an LO difference between two
     * receivers, a plain cross-correlation of 4FSK is pulled off the true
     * delay (delay–Doppler coupling: 2.6 Hz moved it by 0.27 sample here),
     * which is the featurizer's to correct, not a property of the delay. */
    const char *dur[] = {"collect.duration_s=0.2", "collect.simulate.receivers.clock=as-stations",
                         "stations=[{id: a, lat: 45.0, lon: 7.6, alt_m: 250, clock: gps, lo_ppm: 0, sample_rate_ppm: 0, clock_sigma_ns: 0},"
                         " {id: b, lat: 45.4, lon: 8.8, alt_m: 120, clock: gps, lo_ppm: 0, sample_rate_ppm: 0, clock_sigma_ns: 0}]"};
    if (load(&cfg, y, dur, 3)) {
        ok(0, "config loads");
        return;
    }
    int exact = 1, within = 0, tried = 0;
    double worst = 0;
    for (int e = 0; e < 6; e++) {
        hd_event ev;
        hd_sim_event_draw(&cfg, e, &ev);
        int N = ev.n_samples, P = 2 * N, U = 64, M = P * U;
        int16_t *ia = calloc(2 * N, 2), *ib = calloc(2 * N, 2);
        hd_link la, lb;
        hd_sim_render(&cfg, &ev, 0, &la, ia, NULL);
        hd_sim_render(&cfg, &ev, 1, &lb, ib, NULL);
        exact &= la.truth.arrival_s == la.truth.distance_m / HD_SPEED_OF_LIGHT && lb.truth.arrival_s == lb.truth.distance_m / HD_SPEED_OF_LIGHT;
        if (la.truth.snr_db < 20 || lb.truth.snr_db < 20) {
            free(ia);
            free(ib);
            continue;
        }
        tried++;
        fftw_complex *A = fftw_alloc_complex(P), *B = fftw_alloc_complex(P), *C = fftw_alloc_complex(M);
        for (int i = 0; i < P; i++) {
            A[i] = i < N ? ia[2 * i] + I * ia[2 * i + 1] : 0;
            B[i] = i < N ? ib[2 * i] + I * ib[2 * i + 1] : 0;
        }
        fftw_plan pa = fftw_plan_dft_1d(P, A, A, FFTW_FORWARD, FFTW_ESTIMATE);
        fftw_plan pb = fftw_plan_dft_1d(P, B, B, FFTW_FORWARD, FFTW_ESTIMATE);
        fftw_execute(pa);
        fftw_execute(pb);
        for (int i = 0; i < M; i++)
            C[i] = 0;
        for (int i = 0; i < P; i++) { /* conj(A) B, zero-padded in the middle (upsampling) */
            int k = i < P / 2 ? i : M - (P - i);
            C[k] = conj(A[i]) * B[i];
        }
        fftw_plan pc = fftw_plan_dft_1d(M, C, C, FFTW_BACKWARD, FFTW_ESTIMATE);
        fftw_execute(pc);
        int best = 0;
        for (int i = 1; i < M; i++)
            if (cabs(C[i]) > cabs(C[best]))
                best = i;
        double y0 = cabs(C[(best - 1 + M) % M]), y1 = cabs(C[best]), y2 = cabs(C[(best + 1) % M]);
        double frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2);
        double lag = best + frac;
        if (lag > M / 2)
            lag -= M;
        lag /= U; /* samples: b(t) = a(t - lag) */
        double want = (lb.truth.arrival_s - la.truth.arrival_s) * ev.sample_rate_hz;
        double err = fabs(lag - want);
        worst = err > worst ? err : worst;
        within += err < 0.02;
        diag("event %d: delay %.4f samples measured, %.4f true (%.1f µs); SNR %.0f/%.0f dB, clipped %.3f/%.3f, lo %.2f/%.2f Hz", e, lag, want, want / ev.sample_rate_hz * 1e6, la.truth.snr_db, lb.truth.snr_db, la.clipped_fraction, lb.clipped_fraction, la.truth.freq_offset_hz, lb.truth.freq_offset_hz);
        fftw_destroy_plan(pa);
        fftw_destroy_plan(pb);
        fftw_destroy_plan(pc);
        fftw_free(A);
        fftw_free(B);
        fftw_free(C);
        free(ia);
        free(ib);
    }
    ok(exact, "arrival_s is slant range / c exactly");
    ok(tried >= 2 && within == tried, "measured delay difference matches the truth within 0.02 sample (worst %.4f)", worst);
    fftw_cleanup();
    hd_config_release(&cfg);
}

static void test_clocks(void)
{
    const char *y = "  simulate:\n    receivers: {clock_sigma_ns: 100, gps_outage_probability: 0.2}\n";
    hd_config cfg;
    load(&cfg, y, NULL, 0);
    double s2 = 0, s2o = 0;
    int n = 0, out = 0, consistent = 1;
    for (int e = 0; e < 500; e++) {
        hd_event ev;
        hd_sim_event_draw(&cfg, e, &ev);
        for (int r = 0; r < cfg.n_stations; r++) {
            hd_link l;
            hd_sim_render(&cfg, &ev, r, &l, NULL, NULL);
            consistent &= l.t0_s - l.truth.true_t0_s == l.truth.clock_error_s || fabs(l.t0_s - l.truth.true_t0_s - l.truth.clock_error_s) < 1e-15;
            if (l.gps_ok) {
                s2 += l.truth.clock_error_s * l.truth.clock_error_s;
                n++;
            } else {
                out++;
                s2o += l.truth.clock_error_s * l.truth.clock_error_s;
                consistent &= l.last_gps_solution_s >= 60;
            }
        }
    }
    double sd = sqrt(s2 / n) * 1e9, frac = (double)out / (n + out);
    diag("GPS-timed: %d captures, clock error sd %.1f ns; outages %.3f of captures, their sd %.0f µs", n, sd, frac,
         sqrt(s2o / out) * 1e6);
    ok(fabs(sd - 100) < 10, "GPS clock error sd is clock_sigma_ns (100 ns ± 10 %%)");
    ok(fabs(frac - 0.2) < 0.03, "GPS outage fraction is gps_outage_probability");
    ok(sqrt(s2o / out) > 1e-5, "a capture in GPS outage has a free-running (µs–ms) time stamp");
    ok(consistent, "t0_s - true_t0_s equals clock_error_s");
    hd_config_release(&cfg);

    const char *f = "  simulate:\n    receivers: {clock: as-stations}\n";
    load(&cfg, f, NULL, 0);
    s2 = 0;
    n = 0;
    for (int e = 0; e < 300; e++) {
        hd_event ev;
        hd_sim_event_draw(&cfg, e, &ev);
        for (int r = 0; r < cfg.n_stations; r++) {
            hd_link l;
            hd_sim_render(&cfg, &ev, r, &l, NULL, NULL);
            s2 += l.truth.clock_error_s * l.truth.clock_error_s;
            n++;
            consistent &= !l.gps_ok;
        }
    }
    sd = sqrt(s2 / n);
    diag("free-running stations: clock error sd %.2f ms", sd * 1e3);
    ok(fabs(sd - 0.01) < 0.001 && consistent, "free-running clocks: sd is the stations' 10 ms, never GPS-timed");
    hd_config_release(&cfg);
}

static void test_frequency_and_levels(void)
{
    const char *y = "  simulate:\n    transmitter: {power_dbm: [45, 45], signal_types: [cw], frequency_error_hz: 2000}\n"
                    "    receivers: {failure_probability: 0, clock: as-stations}\n";
    hd_config cfg;
    load(&cfg, y, NULL, 0);
    int n = 0, good = 0;
    for (int e = 0; e < 10; e++) {
        hd_event ev;
        hd_sim_event_draw(&cfg, e, &ev);
        int N = ev.n_samples;
        int16_t *iq = calloc(2 * N, 2);
        fftw_complex *X = fftw_alloc_complex(N);
        fftw_plan p = fftw_plan_dft_1d(N, X, X, FFTW_FORWARD, FFTW_ESTIMATE);
        for (int r = 0; r < cfg.n_stations; r++) {
            hd_link l;
            hd_sim_render(&cfg, &ev, r, &l, iq, NULL);
            if (l.truth.snr_db < 20)
                continue;
            for (int i = 0; i < N; i++)
                X[i] = iq[2 * i] + I * iq[2 * i + 1];
            fftw_execute(p);
            int best = 0;
            for (int i = 1; i < N; i++)
                if (cabs(X[i]) > cabs(X[best]))
                    best = i;
            double f = (best < N / 2 ? best : best - N) * ev.sample_rate_hz / N;
            n++;
            good += fabs(f - l.truth.freq_offset_hz) <= ev.sample_rate_hz / N;
        }
        fftw_destroy_plan(p);
        fftw_free(X);
        free(iq);
    }
    ok(n > 5 && good == n, "CW tone at freq_offset_hz within a bin (%d/%d)", good, n);
    hd_config_release(&cfg);

    const char *c = "  simulate:\n    receivers: {failure_probability: 0}\n    transmitter: {power_dbm: [60, 60]}\n";
    const char *sets[] = {"stations=[{id: x, lat: 45.0, lon: 7.6, agc: false, gain_db: 120}, "
                          "{id: y, lat: 45.1, lon: 7.7, driver: openwebrx}]",
                          "collect.simulate.receivers.driver=as-stations"};
    if (load(&cfg, c, sets, 2)) {
        ok(0, "config loads");
        return;
    }
    hd_event ev;
    hd_sim_event_draw(&cfg, 0, &ev);
    int16_t *iq = calloc(2 * ev.n_samples, 2);
    float lv[4] = {0};
    hd_link l;
    hd_sim_render(&cfg, &ev, 0, &l, iq, lv);
    int sat = 0;
    for (int i = 0; i < 2 * ev.n_samples; i++)
        sat += abs(iq[i]) == 32767;
    ok(l.clipped_fraction > 0.1 && sat > 0, "fixed 120 dB gain clips (%.0f %% of samples at ±32767)", 100 * l.clipped_fraction);
    hd_sim_render(&cfg, &ev, 1, &l, iq, lv);
    int zero = 1;
    for (int i = 0; i < 2 * ev.n_samples; i++)
        zero &= iq[i] == 0;
    ok(!l.has_iq && l.has_levels && zero, "an OpenWebRX receiver gives levels, no IQ");
    ok(ev.n_levels == 1 && isfinite(lv[0]) && lv[0] < 0 && lv[0] > -60, "its level is a finite dBFS value (%.1f)", lv[0]);
    free(iq);
    hd_config_release(&cfg);
}

int main(void)
{
    plan_no_plan();
    test_determinism();
    test_path_loss_values();
    test_path_loss_recovered();
    test_noise_and_signal_power();
    test_arrival_time();
    test_clocks();
    test_frequency_and_levels();
    done_testing();
    return exit_status();
}
