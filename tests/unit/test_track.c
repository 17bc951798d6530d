/* Tracking: Kalman filter + RTS smoother calibration on a constant-velocity
 * target with known noise, grouping, gating, bad input. */
#include "tap.h"
#include "core/error.h"
#include "core/rng.h"
#include "geo/geo.h"
#include "track/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LAT0 40.76
#define LON0 -111.84

static hd_track_cfg cfg_default(void)
{
    hd_track_cfg c = {.max_gap_s = 60, .model = HD_TRACK_CV, .accel_sigma_mps2 = 0, .gate_sigma = 4};
    return c;
}

static hd_enu frame;

static void set_fix(hd_track_fix *f, int64_t ev, double t_s, double e, double n, const double cov[3], double nu)
{
    double v[3] = {e, n, 0}, h;
    memset(f, 0, sizeof *f);
    f->event_index = ev;
    f->time_ns = (int64_t)llround(t_s * 1e9);
    f->frequency_hz = 462.7e6;
    f->tx_id = -1;
    f->located = 1;
    hd_enu_to_geo(&frame, v, &f->lat, &f->lon, &h);
    memcpy(f->cov, cov, sizeof f->cov);
    f->nu = nu;
}

static void enu_of(double lat, double lon, double *e, double *n)
{
    double v[3];
    hd_enu_from_geo(&frame, lat, lon, 0, v);
    *e = v[0];
    *n = v[1];
}

static double d2_of(double de, double dn, const double c[3])
{
    double det = c[0] * c[2] - c[1] * c[1];
    return (c[2] * de * de - 2 * c[1] * de * dn + c[0] * dn * dn) / det;
}

static int all_finite(const hd_track_result *r)
{
    for (int64_t i = 0; i < r->n; i++) {
        const hd_track_point *p = &r->pt[i];
        if (!p->has_state)
            continue;
        if (!isfinite(p->lat) || !isfinite(p->lon) || !isfinite(p->cov[0]) || !isfinite(p->cov[1]) ||
            !isfinite(p->cov[2]) || !isfinite(p->speed_mps) || !isfinite(p->speed_sd_mps) || !isfinite(p->ve))
            return 0;
    }
    return 1;
}

/* A constant-velocity target driven by white acceleration (density
 * sigma_a² × 1 s), fixes every dt with covariance cov: truth (e, n) per point. */
static void simulate(hd_rng *rng, int m, double dt, double sigma_a, const double cov[3], hd_track_fix *fix,
                     double (*truth)[2], int64_t ev0, double t0)
{
    double x[2] = {0, 0}, v[2] = {1.2, -0.8};
    double q = sigma_a * sigma_a;
    /* per axis Q = q [dt³/3 dt²/2; dt²/2 dt], its Cholesky */
    double q00 = q * dt * dt * dt / 3, q01 = q * dt * dt / 2, q11 = q * dt;
    double l00 = sqrt(q00), l10 = q01 / l00, l11 = sqrt(q11 - l10 * l10);
    double m00 = sqrt(cov[0]), m10 = cov[1] / m00, m11 = sqrt(cov[2] - m10 * m10);
    for (int k = 0; k < m; k++) {
        if (k > 0)
            for (int a = 0; a < 2; a++) {
                double u0 = hd_rng_normal(rng), u1 = hd_rng_normal(rng);
                x[a] += v[a] * dt + l00 * u0;
                v[a] += l10 * u0 + l11 * u1;
            }
        truth[k][0] = x[0];
        truth[k][1] = x[1];
        double w0 = hd_rng_normal(rng), w1 = hd_rng_normal(rng);
        set_fix(&fix[k], ev0 + k, t0 + k * dt, x[0] + m00 * w0, x[1] + m10 * w0 + m11 * w1, cov, 0);
    }
}

static void test_calibration(void)
{
    const int tracks = 120, m = 100;
    const double dt = 4, sigma_a = 0.3, cov[3] = {900, 300, 1600};
    hd_track_fix *fix = calloc((size_t)(tracks * m), sizeof *fix);
    double (*truth)[2] = calloc((size_t)(tracks * m), sizeof *truth);
    hd_rng rng;
    hd_rng_init(&rng, 7, 0, 0, 99);
    for (int t = 0; t < tracks; t++) /* each track 1000 s after the last: split by the gap */
        simulate(&rng, m, dt, sigma_a, cov, fix + t * m, truth + t * m, (int64_t)t * m, t * (m * dt + 1000));
    for (int pass = 0; pass < 2; pass++) {
        hd_track_cfg c = cfg_default();
        c.accel_sigma_mps2 = pass == 0 ? sigma_a : 0;
        hd_track_result r;
        int rc = hd_track_run(&r, fix, (int64_t)tracks * m, &c);
        ok(rc == 0, "%s: hd_track_run", pass == 0 ? "configured" : "learnt");
        if (rc < 0)
            continue;
        is_int(r.n_tracks, tracks, "the gaps make the tracks");
        double in1 = 0, in2 = 0, fin1 = 0, fin2 = 0, se_s = 0, se_f = 0, se_x = 0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < r.n; i++) {
            const hd_track_point *p = &r.pt[i];
            double e, n, fe, fn, xe, xn;
            enu_of(p->lat, p->lon, &e, &n);
            enu_of(p->filt_lat, p->filt_lon, &fe, &fn);
            const hd_track_fix *f = &fix[p->input];
            enu_of(f->lat, f->lon, &xe, &xn);
            const double *tr = truth[p->input];
            if (i - r.trk[p->track].first < 10)
                continue; /* the filter's diffuse start */
            double d2 = d2_of(e - tr[0], n - tr[1], p->cov), fd2 = d2_of(fe - tr[0], fn - tr[1], p->filt_cov);
            in1 += d2 <= 1;
            in2 += d2 <= 4;
            fin1 += fd2 <= 1;
            fin2 += fd2 <= 4;
            se_s += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            se_f += (fe - tr[0]) * (fe - tr[0]) + (fn - tr[1]) * (fn - tr[1]);
            se_x += (xe - tr[0]) * (xe - tr[0]) + (xn - tr[1]) * (xn - tr[1]);
            cnt++;
        }
        in1 *= 100.0 / cnt;
        in2 *= 100.0 / cnt;
        fin1 *= 100.0 / cnt;
        fin2 *= 100.0 / cnt;
        double rs = sqrt(se_s / cnt), rf = sqrt(se_f / cnt), rx = sqrt(se_x / cnt);
        diag("%s sigma %.3f (truth %.3f): smoother rmse %.1f m, filter %.1f m, fixes %.1f m; coverage smoother "
             "%.1f/%.1f %%, filter %.1f/%.1f %%",
             pass ? "learnt" : "configured", r.trk[0].accel_sigma, sigma_a, rs, rf, rx, in1, in2, fin1, fin2);
        ok(fabs(in1 - 39.3) <= 3 && fabs(in2 - 86.5) <= 3, "%s: the smoother's 1/2-sigma coverage %.1f/%.1f %% "
           "within 3 points of 39.3/86.5 %%", pass ? "learnt" : "configured", in1, in2);
        ok(fabs(fin1 - 39.3) <= 3 && fabs(fin2 - 86.5) <= 3, "%s: the filter's coverage %.1f/%.1f %% likewise",
           pass ? "learnt" : "configured", fin1, fin2);
        ok(rs < 0.85 * rf, "%s: the RTS smoother (%.1f m) beats the filter (%.1f m)", pass ? "learnt" : "configured",
           rs, rf);
        ok(rf < 0.7 * rx, "%s: the filter (%.1f m) beats the fixes (%.1f m)", pass ? "learnt" : "configured", rf, rx);
        if (pass == 1) {
            int near = 0;
            for (int t = 0; t < r.n_tracks; t++)
                near += r.trk[t].learnt == 1 && r.trk[t].accel_sigma > sigma_a / 2 && r.trk[t].accel_sigma < 2 * sigma_a;
            ok(near >= tracks * 9 / 10, "the process noise learnt per track within a factor 2 of the truth on %d of %d",
               near, tracks);
        }
        ok(all_finite(&r), "no NaN in the states");
        hd_track_result_release(&r);
    }
    free(fix);
    free(truth);
}

static void test_grouping(void)
{
    const double cov[3] = {100, 0, 100};
    hd_track_fix f[30];
    for (int k = 0; k < 30; k++)
        set_fix(&f[k], k, k < 20 ? k * 4.0 : 76 + 61 + (k - 20) * 4.0, k, 0, cov, 0);
    hd_track_cfg c = cfg_default();
    hd_track_result r;
    ok(hd_track_run(&r, f, 30, &c) == 0, "gap: run");
    is_int(r.n_tracks, 2, "a gap of 61 s > max_gap_s 60 splits the track");
    is_int(r.trk[0].n, 20, "the first track has the 20 events before the gap");
    is_int(r.trk[1].n, 10, "the second the 10 after");
    hd_track_result_release(&r);
    c.max_gap_s = 62;
    hd_track_run(&r, f, 30, &c);
    is_int(r.n_tracks, 1, "with max_gap_s 62 one track");
    hd_track_result_release(&r);
    /* frequency and transmitter id split */
    for (int k = 0; k < 30; k++) {
        f[k].time_ns = (int64_t)k * 4000000000LL;
        f[k].frequency_hz = k % 2 ? 145.5e6 : 433.5e6;
        f[k].tx_id = k < 10 ? 7 : -1;
    }
    hd_track_run(&r, f, 30, &c);
    is_int(r.n_tracks, 4, "interleaved frequencies and an id make four tracks (id x frequency)");
    hd_track_result_release(&r);
}

static void test_outlier(void)
{
    const double cov[3] = {900, 0, 900};
    hd_track_fix f[60];
    double truth[60][2];
    hd_rng rng;
    hd_rng_init(&rng, 11, 0, 0, 99);
    simulate(&rng, 60, 4, 0.3, cov, f, truth, 0, 0);
    set_fix(&f[30], 30, 120, truth[30][0] + 2000, truth[30][1] - 1500, cov, 0);
    hd_track_cfg c = cfg_default();
    hd_track_result r;
    ok(hd_track_run(&r, f, 60, &c) == 0, "outlier: run");
    const hd_track_point *p = &r.pt[30];
    is_int(p->reason, HD_TRACK_GATED, "a fix 2.5 km off a 30 m track is gated");
    is_str(hd_track_reason_name(p->reason), "gated", "and its reason named");
    ok(p->d2 > 16, "its innovation's Mahalanobis distance² %.0f is recorded", p->d2);
    double e, n;
    enu_of(p->lat, p->lon, &e, &n);
    double err = hypot(e - truth[30][0], n - truth[30][1]);
    ok(err < 60, "the smoothed state there (%.1f m from the truth) ignores it", err);
    is_int(r.trk[0].n_reason[HD_TRACK_GATED], 1, "one gated fix counted on the track");
    is_int(r.trk[0].n_used, 59, "the 59 others used");
    hd_track_result_release(&r);
    c.gate_sigma = 0;
    hd_track_run(&r, f, 60, &c);
    is_int(r.pt[30].reason, HD_TRACK_USED, "gate_sigma 0: no gate");
    hd_track_result_release(&r);
}

static void test_bad_input(void)
{
    const double cov[3] = {400, 0, 400};
    hd_track_fix f[40], g[40];
    double truth[40][2];
    hd_rng rng;
    hd_rng_init(&rng, 12, 0, 0, 99);
    simulate(&rng, 40, 4, 0.3, cov, f, truth, 0, 0);
    /* out of order: reversed input gives the same track */
    for (int k = 0; k < 40; k++)
        g[k] = f[39 - k];
    hd_track_cfg c = cfg_default();
    hd_track_result a, b;
    hd_track_run(&a, f, 40, &c);
    ok(hd_track_run(&b, g, 40, &c) == 0, "reversed input: run");
    int same = a.n == b.n;
    for (int64_t i = 0; same && i < a.n; i++)
        same = a.pt[i].event_index == b.pt[i].event_index && a.pt[i].lat == b.pt[i].lat &&
               a.pt[i].lon == b.pt[i].lon;
    ok(same, "out-of-order input is sorted by time: the same track");
    is_int(b.trk[0].n_out_of_order, 39, "and the events out of order counted (39)");
    is_int(a.trk[0].n_out_of_order, 0, "none in the ordered input");
    hd_track_result_release(&a);
    hd_track_result_release(&b);

    /* duplicated times: an exact duplicate skipped, same time other position fused */
    hd_track_fix h[42];
    memcpy(h, f, sizeof f);
    h[40] = f[10];
    h[40].event_index = 100;
    h[41] = f[20];
    h[41].event_index = 101;
    h[41].lat += 1e-4;
    ok(hd_track_run(&a, h, 42, &c) == 0, "duplicated times: run");
    int dup = -1, fused = -1;
    for (int64_t i = 0; i < a.n; i++) {
        if (a.pt[i].event_index == 100)
            dup = a.pt[i].reason;
        if (a.pt[i].event_index == 101)
            fused = a.pt[i].reason;
    }
    is_int(dup, HD_TRACK_DUPLICATE, "an exact duplicate (same time and position) is counted once");
    is_str(hd_track_reason_name(dup), "duplicate", "named duplicate");
    is_int(fused, HD_TRACK_USED, "two fixes at one time at different positions are both used");
    is_int(a.trk[0].n_same_time, 2, "the events sharing a time counted");
    ok(all_finite(&a), "no NaN with duplicated times");
    hd_track_result_release(&a);

    /* a NaN covariance, a NaN position, a non-positive-definite one, an event without a fix */
    memcpy(h, f, sizeof f);
    h[5].cov[1] = NAN;
    h[6].lat = NAN;
    h[7].cov[1] = 500;
    h[8].located = 0;
    h[0].cov[0] = NAN; /* the first: the track starts at the next */
    ok(hd_track_run(&a, h, 40, &c) == 0, "bad covariances: run");
    is_int(a.pt[5].reason, HD_TRACK_BAD_COV, "a NaN covariance: bad covariance");
    is_int(a.pt[6].reason, HD_TRACK_BAD_COV, "a NaN position: bad covariance");
    is_int(a.pt[7].reason, HD_TRACK_BAD_COV, "a covariance not positive definite: bad covariance");
    is_int(a.pt[8].reason, HD_TRACK_NO_FIX, "an event without a position: no position");
    is_str(hd_track_reason_name(HD_TRACK_BAD_COV), "bad covariance", "named");
    ok(a.pt[0].has_state && a.pt[5].has_state && a.pt[8].has_state, "they still get a smoothed state");
    ok(all_finite(&a), "and no NaN comes out");
    double e, n;
    enu_of(a.pt[0].lat, a.pt[0].lon, &e, &n);
    ok(hypot(e - truth[0][0], n - truth[0][1]) < 100, "the event before the first usable fix: extrapolated backwards");
    hd_track_result_release(&a);

    /* a single-event track; a Student-t fix enters with its covariance */
    const double cov1[3] = {400, 100, 900};
    set_fix(&h[0], 0, 0, 10, 20, cov1, 4);
    ok(hd_track_run(&a, h, 1, &c) == 0, "a single-event track: run");
    is_int(a.n_tracks, 1, "one track");
    double e1, n1;
    enu_of(a.pt[0].lat, a.pt[0].lon, &e1, &n1);
    ok(fabs(e1 - 10) < 1e-3 && fabs(n1 - 20) < 1e-3, "its state is the fix");
    is_double(a.pt[0].cov[0], 400, 1e-6, "its covariance the Student-t fix's covariance (east²)");
    is_double(a.pt[0].cov[1], 100, 1e-6, "(east·north)");
    hd_track_result_release(&a);
    h[0].nu = 2;
    hd_track_run(&a, h, 1, &c);
    is_double(a.pt[0].cov[0], 400 * HD_TRACK_NU_LOW_INFLATE, 1e-6, "nu 2 (no variance): inflated");
    ok(all_finite(&a), "no NaN from one event");
    hd_track_result_release(&a);

    /* a track with no usable fix at all */
    h[0].located = 0;
    h[1] = h[0];
    h[1].time_ns += 4000000000LL;
    ok(hd_track_run(&a, h, 2, &c) == 0, "a track without a fix: run");
    ok(!a.pt[0].has_state && !a.pt[1].has_state, "has no state");
    is_int(a.trk[0].n_reason[HD_TRACK_NO_FIX], 2, "its events: no position");
    hd_track_result_release(&a);

    ok(hd_track_run(&a, h, 0, &c) == 0 && a.n_tracks == 0, "no events: no tracks");
    hd_track_result_release(&a);
    c.max_gap_s = 0;
    ok(hd_track_run(&a, h, 2, &c) == HD_EINVAL, "max_gap_s 0: an error");
    like(hd_errmsg(), "max_gap_s", "naming the key");
}

static void test_ca(void)
{
    /* a target accelerating steadily: ca follows it better than cv */
    const double cov[3] = {400, 0, 400};
    hd_track_fix f[80];
    double truth[80][2];
    hd_rng rng;
    hd_rng_init(&rng, 13, 0, 0, 99);
    for (int k = 0; k < 80; k++) {
        double t = k * 2.0;
        truth[k][0] = 0.5 * 0.2 * t * t;
        truth[k][1] = 3 * t;
        set_fix(&f[k], k, t, truth[k][0] + 20 * hd_rng_normal(&rng), truth[k][1] + 20 * hd_rng_normal(&rng), cov, 0);
    }
    double rmse[2];
    for (int mdl = 0; mdl < 2; mdl++) {
        hd_track_cfg c = cfg_default();
        c.model = mdl;
        hd_track_result r;
        int rc = hd_track_run(&r, f, 80, &c);
        double se = 0;
        for (int k = 0; k < 80 && rc == 0; k++) {
            double e, n;
            enu_of(r.pt[k].lat, r.pt[k].lon, &e, &n);
            se += (e - truth[k][0]) * (e - truth[k][0]) + (n - truth[k][1]) * (n - truth[k][1]);
        }
        rmse[mdl] = sqrt(se / 80);
        if (mdl == 1) {
            is_int(r.dim, 6, "ca: a 6-state model");
            ok(all_finite(&r), "ca: no NaN");
            is_double(r.pt[79].speed_mps, hypot(0.2 * 158, 3), 3, "ca: the final speed");
        }
        hd_track_result_release(&r);
    }
    diag("accelerating target: rmse cv %.1f m, ca %.1f m (fixes 28 m)", rmse[0], rmse[1]);
    ok(rmse[1] < 20 && rmse[1] <= rmse[0] * 1.05, "ca tracks an accelerating target (%.1f m vs cv %.1f m)", rmse[1],
       rmse[0]);
}

static void test_correlated_errors(void)
{
    /* fixes whose errors are a Gauss–Markov bias (tau 40 s, 60 m) plus white
     * 30 m: with fix_error_tau_s the smoother stays calibrated; without, it
     * is overconfident */
    const int tracks = 120, m = 100;
    const double dt = 4, sigma_a = 0.3, tau = 40, sb = 60, cov[3] = {900, 0, 900};
    hd_track_fix *fix = calloc((size_t)(tracks * m), sizeof *fix);
    double (*truth)[2] = calloc((size_t)(tracks * m), sizeof *truth);
    hd_rng rng;
    hd_rng_init(&rng, 8, 0, 0, 99);
    double rho = exp(-dt / tau);
    for (int t = 0; t < tracks; t++) {
        simulate(&rng, m, dt, sigma_a, cov, fix + t * m, truth + t * m, (int64_t)t * m, t * (m * dt + 1000));
        double b[2] = {sb * hd_rng_normal(&rng), sb * hd_rng_normal(&rng)};
        for (int k = 0; k < m; k++) {
            hd_track_fix *f = &fix[t * m + k];
            if (k > 0)
                for (int a = 0; a < 2; a++)
                    b[a] = rho * b[a] + sb * sqrt(1 - rho * rho) * hd_rng_normal(&rng);
            double e, n;
            enu_of(f->lat, f->lon, &e, &n);
            double v[3] = {e + b[0], n + b[1], 0}, h;
            hd_enu_to_geo(&frame, v, &f->lat, &f->lon, &h);
        }
    }
    /* the same fixes claiming 4 x their white error's covariance (60 m): the
     * white share kappa learnt (0.25) keeps the smoother calibrated */
    hd_track_fix *over = calloc((size_t)(tracks * m), sizeof *over);
    for (int i = 0; i < tracks * m; i++) {
        over[i] = fix[i];
        for (int q = 0; q < 3; q++)
            over[i].cov[q] *= 4;
    }
    for (int pass = 0; pass < 4; pass++) {
        hd_track_cfg c = cfg_default();
        c.accel_sigma_mps2 = pass < 2 ? sigma_a : 0;
        c.fix_error_tau_s = pass ? tau : 0;
        c.fix_error_sigma_m = pass == 1 ? sb : 0;
        c.gate_sigma = 0;
        hd_track_result r;
        if (hd_track_run(&r, pass == 3 ? over : fix, (int64_t)tracks * m, &c) < 0) {
            ok(0, "correlated errors: run");
            continue;
        }
        double in1 = 0, in2 = 0, se = 0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < r.n; i++) {
            const hd_track_point *p = &r.pt[i];
            if (i - r.trk[p->track].first < 10)
                continue;
            double e, n;
            enu_of(p->lat, p->lon, &e, &n);
            const double *tr = truth[p->input];
            double d2 = d2_of(e - tr[0], n - tr[1], p->cov);
            in1 += d2 <= 1;
            in2 += d2 <= 4;
            se += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            cnt++;
        }
        in1 *= 100.0 / cnt;
        in2 *= 100.0 / cnt;
        const char *what = pass == 0   ? "white model"
                           : pass == 1 ? "bias model, configured"
                           : pass == 2 ? "bias model, learnt"
                                       : "bias model, learnt, covariances 4 x too large";
        diag("correlated errors, %s: rmse %.1f m, coverage %.1f/%.1f %%, fix error sigma %.1f m, white share %.3f",
             what, sqrt(se / cnt), in1, in2, r.trk[0].fix_error_sigma, r.fix_white_scale);
        if (pass == 0)
            ok(in2 < 80, "the white model is overconfident on correlated errors (%.1f %% inside 2-sigma)", in2);
        else
            ok(fabs(in1 - 39.3) <= 3 && fabs(in2 - 86.5) <= 3,
               "%s: coverage %.1f/%.1f %% within 3 points of 39.3/86.5 %%", what, in1, in2);
        if (pass == 2) {
            is_double(r.pooled_fix_error, sb, 0.1 * sb, "the correlated error learnt over all tracks within 10 %");
            is_int(r.dim, 6, "the state carries the bias (6)");
            is_double(r.fix_white_scale, 1, 0.15, "the fixes' white share learnt: 1 (their covariance is right)");
        }
        if (pass == 3) {
            is_double(r.fix_white_scale, 0.25, 0.04, "covariances 4 x too large: the white share learnt 0.25");
            is_double(r.pooled_fix_error, sb, 0.1 * sb, "and the correlated error still within 10 %");
        }
        ok(all_finite(&r), "%s: no NaN", what);
        hd_track_result_release(&r);
    }
    free(over);
    free(fix);
    free(truth);
}

static void test_calibrate_cv(void)
{
    /* states whose errors are a 2-D Student-t (nu 4) of 9 x their covariance,
     * then Gaussian of 9 x: the cross-validated calibration recovers the scale
     * and tail, and the coverage of the calibrated states is nominal */
    const int T = 60, M = 50, N = T * M;
    for (int pass = 0; pass < 2; pass++) {
        const double nu = pass == 0 ? 4 : 0, scale = 9;
        hd_track_result r;
        memset(&r, 0, sizeof r);
        r.pt = calloc((size_t)N, sizeof *r.pt);
        r.n = N;
        r.n_tracks = T;
        double *d2 = malloc((size_t)N * sizeof *d2), (*err)[2] = malloc((size_t)N * sizeof *err);
        hd_rng rng;
        hd_rng_init(&rng, 5, 0, 0, 17 + pass);
        for (int i = 0; i < N; i++) {
            hd_track_point *p = &r.pt[i];
            p->has_state = 1;
            p->track = i / M;
            double sx = 10 + 20 * hd_rng_uniform(&rng), sy = 10 + 20 * hd_rng_uniform(&rng);
            p->cov[0] = sx * sx;
            p->cov[1] = 0.3 * sx * sy;
            p->cov[2] = sy * sy;
            double w = 1;
            if (nu > 0) { /* chi² of nu degrees of freedom over nu */
                double c = 0;
                for (int k = 0; k < (int)nu; k++) {
                    double z = hd_rng_normal(&rng);
                    c += z * z;
                }
                w = sqrt((nu - 2) / c); /* covariance of the t: scale² (nu − 2)/nu x nu/(nu − 2) = 1 */
            }
            /* a correlated pair with covariance scale x cov */
            double z1 = hd_rng_normal(&rng), z2 = hd_rng_normal(&rng), l11 = sqrt(scale * p->cov[0]),
                   l21 = scale * p->cov[1] / l11, l22 = sqrt(scale * p->cov[2] - l21 * l21);
            err[i][0] = w * l11 * z1;
            err[i][1] = w * (l21 * z1 + l22 * z2);
            double det = p->cov[0] * p->cov[2] - p->cov[1] * p->cov[1];
            d2[i] = (err[i][0] * err[i][0] * p->cov[2] - 2 * err[i][0] * err[i][1] * p->cov[1] +
                     err[i][1] * err[i][1] * p->cov[0]) / det;
        }
        double before = 0;
        for (int i = 0; i < N; i++)
            before += d2[i] <= 1;
        hd_track_calibration c;
        ok(hd_track_calibrate_cv(&r, d2, 5, &c) == 0 && c.applied, "calibrate_cv runs (%s)",
           nu > 0 ? "t, nu 4" : "Gaussian");
        double in1 = 0, in2 = 0;
        for (int i = 0; i < N; i++) {
            const hd_track_point *p = &r.pt[i];
            double det = p->cov[0] * p->cov[2] - p->cov[1] * p->cov[1];
            double e = (err[i][0] * err[i][0] * p->cov[2] - 2 * err[i][0] * err[i][1] * p->cov[1] +
                        err[i][1] * err[i][1] * p->cov[0]) / det;
            double r1 = p->nu > 2 ? (p->nu - 2) * expm1(-2 / p->nu * log(exp(-0.5))) : 1;
            double r2 = p->nu > 2 ? (p->nu - 2) * expm1(-2 / p->nu * log(exp(-2.0))) : 4;
            in1 += e <= r1;
            in2 += e <= r2;
        }
        in1 *= 100.0 / N;
        in2 *= 100.0 / N;
        diag("calibration %s: scale %.2f, nu %.2f; coverage before %.1f %%, after %.1f/%.1f %%",
             nu > 0 ? "t4" : "Gaussian", c.scale, c.nu, 100 * before / N, in1, in2);
        ok(fabs(in1 - 39.3) <= 3 && fabs(in2 - 86.5) <= 3, "%s: calibrated coverage %.1f/%.1f %% within 3 points",
           nu > 0 ? "t4" : "Gaussian", in1, in2);
        ok(fabs(c.scale - scale) <= 0.15 * scale, "%s: the scale %.2f recovered within 15 %%", nu > 0 ? "t4" : "Gaussian", c.scale);
        if (nu > 0)
            ok(c.nu > 2.8 && c.nu < 7, "t4: heavy tails seen (nu %.2f)", c.nu);
        else
            ok(c.nu == 0 || c.nu > 15, "Gaussian: no heavy tail (nu %.2f)", c.nu);
        free(d2);
        free(err);
        free(r.pt);
    }
    hd_track_calibration c;
    hd_track_result few = {0};
    hd_track_point pts[5] = {{0}};
    double d2[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 5; i++)
        pts[i].has_state = 1, pts[i].cov[0] = pts[i].cov[2] = 1;
    few.pt = pts;
    few.n = 5;
    few.n_tracks = 1;
    ok(hd_track_calibrate_cv(&few, d2, 5, &c) == 0 && !c.applied && pts[0].cov[0] == 1,
       "too few states with the truth: left alone");
}

static void test_measurements(void)
{
    /* a walk past four receivers; one event in four has a fix (50 m), the
     * others only three timed receivers (3 m time stamps): no fix of their
     * own, yet their time differences tighten the track */
    const int m = 120, reps = 20;
    const double dt = 4, sigma_a = 0.3, cov[3] = {2500, 0, 2500}, sr = 3;
    const double rxe[4] = {-3000, 3000, 2500, -2000}, rxn[4] = {-2500, -2000, 3000, 2500};
    double se_fix = 0, se_meas = 0;
    int64_t cnt = 0, measured = 0, gated = 0, finite = 1;
    hd_rng rng;
    hd_rng_init(&rng, 9, 0, 0, 5);
    for (int rep = 0; rep < reps; rep++) {
        hd_track_fix *fix = calloc((size_t)m, sizeof *fix);
        hd_track_meas *meas = calloc((size_t)m, sizeof *meas);
        double (*truth)[2] = calloc((size_t)m, sizeof *truth);
        simulate(&rng, m, dt, sigma_a, cov, fix, truth, 0, 1000.0 * rep);
        for (int k = 0; k < m; k++) {
            double v[3] = {truth[k][0], truth[k][1], 0}, lat, lon, h, x[3];
            hd_enu_to_geo(&frame, v, &lat, &lon, &h);
            hd_geo_to_ecef(lat, lon, 0, x);
            if (k % 4 == 0)
                continue; /* a fix, no measurements */
            fix[k].located = 0; /* three receivers: no fix alone */
            hd_track_meas *ms = &meas[k];
            ms->n = 3;
            ms->alt_m = 0;
            int skip = k % 3; /* which of the four is missing */
            double d[3];
            for (int r = 0, q = 0; r < 4; r++) {
                if (r == skip)
                    continue;
                double rv[3] = {rxe[r], rxn[r], 0}, rl, ro;
                hd_enu_to_geo(&frame, rv, &rl, &ro, &h);
                hd_geo_to_ecef(rl, ro, 10, ms->rx[q]);
                d[q] = sqrt((x[0] - ms->rx[q][0]) * (x[0] - ms->rx[q][0]) +
                            (x[1] - ms->rx[q][1]) * (x[1] - ms->rx[q][1]) +
                            (x[2] - ms->rx[q][2]) * (x[2] - ms->rx[q][2])) +
                       sr * hd_rng_normal(&rng);
                q++;
            }
            for (int j = 0; j < 2; j++) {
                ms->z[j] = d[j + 1] - d[0];
                ms->sig2[j] = sr * sr;
            }
            ms->sig2_ref = sr * sr;
            if (rep == 0 && k == 61)
                ms->z[1] += 1500; /* one receiver 5 us late: an outlier */
        }
        hd_track_cfg c = cfg_default();
        c.accel_sigma_mps2 = sigma_a;
        hd_track_result a, b;
        int ra = hd_track_run(&a, fix, m, &c), rb = hd_track_run_meas(&b, fix, meas, m, &c);
        if (ra < 0 || rb < 0) {
            ok(0, "measurements: run");
            free(fix);
            free(meas);
            free(truth);
            if (ra == 0)
                hd_track_result_release(&a);
            if (rb == 0)
                hd_track_result_release(&b);
            return;
        }
        finite &= all_finite(&b);
        for (int64_t i = 0; i < b.n; i++) {
            double e, n;
            const double *tr = truth[a.pt[i].input];
            enu_of(a.pt[i].lat, a.pt[i].lon, &e, &n);
            se_fix += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            tr = truth[b.pt[i].input];
            enu_of(b.pt[i].lat, b.pt[i].lon, &e, &n);
            se_meas += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            cnt++;
            measured += b.pt[i].reason == HD_TRACK_MEASURED;
            if (rep == 0 && b.pt[i].input == 61)
                gated = b.pt[i].reason == HD_TRACK_GATED;
        }
        hd_track_result_release(&a);
        hd_track_result_release(&b);
        free(fix);
        free(meas);
        free(truth);
    }
    double rf = sqrt(se_fix / cnt), rm = sqrt(se_meas / cnt);
    diag("measurements: rmse with the fixes alone %.1f m, with the 3-receiver events' time differences %.1f m", rf,
         rm);
    ok(rm < 0.5 * rf, "events of three timed receivers (no fix) cut the track error: %.1f m vs %.1f m", rm, rf);
    is_int(measured, (int64_t)reps * 90 - 1, "every such event updated with its measurements, reason 'measurements'");
    ok(gated, "a 5 us late arrival time: the event gated as an outlier");
    ok(finite, "measurements: no NaN");
    is_str(hd_track_reason_name(HD_TRACK_MEASURED), "measurements", "the reason's name");
}

static void test_rss_measurements(void)
{
    /* a walk heard by four receivers' powers alone (log-distance, exponent
     * 3, 4 dB shadowing): one event in eight has a fix as poor as an RSS
     * fix (300 m), the others no fix and no timed receiver, yet their
     * powers' differences tighten the track */
    const int m = 120, reps = 10;
    const double dt = 4, sigma_a = 0.3, cov[3] = {90000, 0, 90000}, sdb = 4, expo = 3;
    const double rxe[4] = {-1500, 1500, 1200, -1000}, rxn[4] = {-1200, -1000, 1500, 1200};
    double se_fix = 0, se_meas = 0;
    int64_t cnt = 0, measured = 0, finite = 1;
    hd_rng rng;
    hd_rng_init(&rng, 11, 0, 0, 5);
    for (int rep = 0; rep < reps; rep++) {
        hd_track_fix *fix = calloc((size_t)m, sizeof *fix);
        hd_track_meas *meas = calloc((size_t)m, sizeof *meas);
        double (*truth)[2] = calloc((size_t)m, sizeof *truth);
        simulate(&rng, m, dt, sigma_a, cov, fix, truth, 0, 1000.0 * rep);
        for (int k = 0; k < m; k++) {
            double v[3] = {truth[k][0], truth[k][1], 0}, lat, lon, h, x[3];
            hd_enu_to_geo(&frame, v, &lat, &lon, &h);
            hd_geo_to_ecef(lat, lon, 1.5, x);
            if (k % 8 == 0)
                continue; /* a fix, no measurements */
            fix[k].located = 0;
            hd_track_meas *ms = &meas[k];
            ms->n = 4;
            ms->rss = 1;
            ms->exponent = expo;
            ms->alt_m = 1.5;
            double p[4];
            for (int r = 0; r < 4; r++) {
                double rv[3] = {rxe[r], rxn[r], 0}, rl, ro;
                hd_enu_to_geo(&frame, rv, &rl, &ro, &h);
                hd_geo_to_ecef(rl, ro, 10, ms->rx[r]);
                double d = sqrt((x[0] - ms->rx[r][0]) * (x[0] - ms->rx[r][0]) +
                                (x[1] - ms->rx[r][1]) * (x[1] - ms->rx[r][1]) +
                                (x[2] - ms->rx[r][2]) * (x[2] - ms->rx[r][2]));
                p[r] = 30 - 10 * expo * log10(d) + sdb * hd_rng_normal(&rng);
            }
            for (int j = 0; j < 3; j++) {
                ms->z[j] = p[j + 1] - p[0];
                ms->sig2[j] = sdb * sdb;
            }
            ms->sig2_ref = sdb * sdb;
        }
        hd_track_cfg c = cfg_default();
        c.accel_sigma_mps2 = sigma_a;
        hd_track_result a, b;
        int ra = hd_track_run(&a, fix, m, &c), rb = hd_track_run_meas(&b, fix, meas, m, &c);
        if (ra < 0 || rb < 0) {
            ok(0, "rss measurements: run");
            if (ra == 0)
                hd_track_result_release(&a);
            if (rb == 0)
                hd_track_result_release(&b);
            free(fix);
            free(meas);
            free(truth);
            return;
        }
        finite &= all_finite(&b);
        for (int64_t i = 0; i < b.n; i++) {
            double e, n;
            const double *tr = truth[a.pt[i].input];
            enu_of(a.pt[i].lat, a.pt[i].lon, &e, &n);
            se_fix += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            tr = truth[b.pt[i].input];
            enu_of(b.pt[i].lat, b.pt[i].lon, &e, &n);
            se_meas += (e - tr[0]) * (e - tr[0]) + (n - tr[1]) * (n - tr[1]);
            cnt++;
            measured += b.pt[i].reason == HD_TRACK_MEASURED;
        }
        hd_track_result_release(&a);
        hd_track_result_release(&b);
        free(fix);
        free(meas);
        free(truth);
    }
    double rf = sqrt(se_fix / cnt), rm = sqrt(se_meas / cnt);
    diag("rss measurements: rmse with the fixes alone %.1f m, with the other events' received powers %.1f m", rf, rm);
    ok(rm < 0.8 * rf, "events heard only by their powers (no fix, no timed receiver) cut the track error: %.1f m vs %.1f m",
       rm, rf);
    ok(measured > (int64_t)reps * 105 * 9 / 10, "nearly every such event updated by its powers (%lld of %d)",
       (long long)measured, reps * 105);
    ok(finite, "rss measurements: no NaN");
}

int main(void)
{
    hd_enu_init(&frame, LAT0, LON0, 0);
    plan_no_plan();
    test_calibration();
    test_grouping();
    test_outlier();
    test_bad_input();
    test_ca();
    test_correlated_errors();
    test_calibrate_cv();
    test_measurements();
    test_rss_measurements();
    done_testing();
    return exit_status();
}
