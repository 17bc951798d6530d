/* localize.propagation hf: transmitters heard over ground and F2 sky waves
 * across Europe. Arrival times are drawn from the modes' geometry
 * (geo/hf.c, the simulator's) on WGS84 geodesic distances, with the F2
 * height jittered per event and timing noise per receiver. The straight
 * line-of-sight model is biased by the sky waves' excess delay (detected:
 * its residuals carry the sign of the excess); the hf model removes the
 * bias and its ellipses hold what they claim. */
#include "config/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "features/features.h"
#include "geo/geo.h"
#include "geo/hf.h"
#include "locate/locate.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define R 10
#define P (R * (R - 1) / 2)
#define F HD_FEAT_COUNT

static const double sites[R][2] = {{51.51, -0.13}, {53.35, -6.26}, {48.86, 2.35},  {40.42, -3.70}, {41.90, 12.50},
                                   {48.21, 16.37}, {52.52, 13.40}, {52.23, 21.01}, {59.33, 18.07}, {37.98, 23.73}};

typedef struct {
    float feat[R * F];
    uint8_t mask[R], tmask[P];
    double delay[P], sigma[P];
    int mode[R];
    double excess[R];
} observation;

/* A transmitter at (lat, lon): each receiver's arrival by its dominant
 * mode for an F2 layer at h_m, timing noise sig_s (one draw per receiver). */
static void observe(const hd_hf_cfg *hf, double lat, double lon, double h_m, double sig_s, hd_rng *g, observation *o)
{
    double toa[R];
    memset(o, 0, sizeof *o);
    for (int r = 0; r < R; r++) {
        double gc;
        hd_geo_inverse(lat, lon, sites[r][0], sites[r][1], &gc, NULL, NULL);
        hd_hf_modes md;
        int m = hd_geo_hf_modes(hf, gc, h_m, &md);
        o->mode[r] = m;
        o->excess[r] = md.delay_s[m] - gc / HD_SPEED_OF_LIGHT;
        toa[r] = md.delay_s[m] + (g ? sig_s * hd_rng_normal(g) : 0) + 1e-3;
        o->mask[r] = 1;
        o->feat[r * F + HD_FEAT_GPS_OK] = 1;
    }
    for (int p = 0; p < P; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        o->delay[p] = toa[j] - toa[i];
        o->sigma[p] = sqrt(2.0) * sig_s;
        o->tmask[p] = 1;
    }
}

typedef struct {
    int located, inside68;
    double err_km[400];
} tally;

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : NAN;
}

static void score(const hd_locate_net *net, const hd_locate_result *res, double lat, double lon, tally *t)
{
    if (res->status != HD_LOC_OK && res->status != HD_LOC_OUTSIDE)
        return;
    double d, te, tn, de, dn;
    hd_geo_inverse(lat, lon, res->lat, res->lon, &d, NULL, NULL);
    hd_locate_from_geo(net, lat, lon, &te, &tn);
    de = res->e - te;
    dn = res->n - tn;
    t->err_km[t->located++] = d / 1000;
    t->inside68 += hd_locate_content(hd_locate_mahalanobis2(res->cov, de, dn), res->nu) <= 0.68;
}

int main(void)
{
    plan_no_plan();
    hd_station st[R];
    memset(st, 0, sizeof st);
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = sites[r][0];
        st[r].lon = sites[r][1];
        st[r].clock = HD_CLOCK_GPS;
    }
    hd_config cfg;
    if (hd_config_load(&cfg, NULL, NULL, 0) != 0)
        return 1;
    const hd_hf_cfg hf = cfg.collect.simulate.propagation.hf; /* the simulator's defaults */
    ok(cfg.localize.propagation == HD_LPROP_STRAIGHT && cfg.localize.hf.mode == HD_HFMODE_AUTO &&
           cfg.localize.hf.f2_height_km == hf.f2_height_km && cfg.localize.hf.skip_distance_km == hf.skip_distance_km,
       "defaults: propagation straight; localize.hf as the simulator's hf");

    hd_localize_cfg ls = cfg.localize, lh = cfg.localize;
    ls.grid_step_km = lh.grid_step_km = 10;
    ls.margin_km = lh.margin_km = 300;
    ls.model_sigma_ns = lh.model_sigma_ns = 0;
    lh.propagation = HD_LPROP_HF;
    hd_locate_net ns, nh;
    ok(hd_locate_net_init(&ns, st, R, &ls) == 0 && hd_locate_net_init(&nh, st, R, &lh) == 0,
       "two networks of ten European receivers: straight and hf");

    /* noise-free, the F2 layer where the model puts it: hf recovers the
     * transmitter exactly, straight does not */
    observation o;
    hd_locate_result res;
    hd_locate_obs obs = {o.feat, o.mask, o.delay, o.sigma, o.tmask};
    const double tx[3][2] = {{50.1, 8.7}, {45.5, 5.0}, {55.7, 12.6}};
    for (int t = 0; t < 3; t++) {
        observe(&hf, tx[t][0], tx[t][1], hf.f2_height_km * 1000, 1e-6, NULL, &o);
        int nsky = 0;
        for (int r = 0; r < R; r++)
            nsky += o.mode[r] != HD_HF_GROUND;
        double eh = NAN, es = NAN;
        hd_locate(&nh, &obs, HD_LOC_TDOA, &res);
        if (res.status == HD_LOC_OK)
            hd_geo_inverse(tx[t][0], tx[t][1], res.lat, res.lon, &eh, NULL, NULL);
        hd_locate(&ns, &obs, HD_LOC_TDOA, &res);
        if (res.status == HD_LOC_OK || res.status == HD_LOC_OUTSIDE)
            hd_geo_inverse(tx[t][0], tx[t][1], res.lat, res.lon, &es, NULL, NULL);
        ok(nsky >= 3 && eh < 100 && es > 10e3,
           "noise-free (%.1f, %.1f), %d of %d receivers by sky wave: hf %.1f m off, straight %.0f km off", tx[t][0],
           tx[t][1], nsky, R, eh, es / 1000);
    }

    /* the bias detected: at the truth, the straight model's arrival-time
     * residuals of sky-wave receivers are late against the ground-wave ones
     * by their excess delay; the sign and size are reported */
    {
        observe(&hf, 50.1, 8.7, hf.f2_height_km * 1000, 1e-6, NULL, &o);
        hd_locate(&ns, &obs, HD_LOC_TDOA, &res);
        double toa[R], var[R], sky = 0, ground = 0, ex_s = 0, ex_g = 0;
        uint64_t timed;
        int n = hd_locate_arrivals(R, &obs, 1e9, toa, var, &timed), nsk = 0, ngr = 0;
        for (int r = 0; r < R; r++) {
            double d = hd_geo_slant_range(50.1, 8.7, 0, sites[r][0], sites[r][1], 0) / HD_SPEED_OF_LIGHT;
            double resid = toa[r] - d;
            if (o.mode[r] == HD_HF_GROUND) {
                ground += resid;
                ex_g += o.excess[r];
                ngr++;
            } else {
                sky += resid;
                ex_s += o.excess[r];
                nsk++;
            }
        }
        double bias = nsk && ngr ? sky / nsk - ground / ngr : NAN, truth = nsk && ngr ? ex_s / nsk - ex_g / ngr : NAN;
        diag("straight model at the truth: sky-wave receivers late by %+.0f us against ground-wave ones (excess "
             "difference %+.0f us); the straight fit lands %.0f km off",
             bias * 1e6, truth * 1e6, res.status <= HD_LOC_OUTSIDE ? hd_geo_slant_range(50.1, 8.7, 0, res.lat, res.lon, 0) / 1e3 : NAN);
        ok(n == R && nsk > 0 && ngr > 0 && bias > 100e-6 && fabs(bias - truth) < 0.05 * truth,
           "sky-wave delay bias detected with its sign: %+.0f us (%d sky, %d ground receivers)", bias * 1e6, nsk, ngr);
    }

    /* Monte Carlo: the F2 layer 15 km (1 sigma) off the model's height per
     * event, 30 us timing noise, transmitters over the network */
    static tally ts, th;
    hd_rng g;
    hd_rng_init(&g, 2026, 12, 3, 1);
    int trials = 120;
    for (int t = 0; t < trials; t++) {
        double lat = 42 + 14 * hd_rng_uniform(&g), lon = -2 + 22 * hd_rng_uniform(&g);
        double h = (hf.f2_height_km + hf.f2_height_sigma_km * hd_rng_normal(&g)) * 1000;
        observe(&hf, lat, lon, h, 30e-6, &g, &o);
        hd_locate(&ns, &obs, HD_LOC_TDOA, &res);
        score(&ns, &res, lat, lon, &ts);
        hd_locate(&nh, &obs, HD_LOC_TDOA, &res);
        score(&nh, &res, lat, lon, &th);
    }
    double ms = median(ts.err_km, ts.located), mh = median(th.err_km, th.located);
    double cs = ts.located ? 100.0 * ts.inside68 / ts.located : 0, ch = th.located ? 100.0 * th.inside68 / th.located : 0;
    diag("%d transmitters, F2 height 300 +- 15 km, 30 us: straight median %.1f km, %.0f %% in its 68 %% region; "
         "hf median %.1f km, %.0f %%",
         trials, ms, cs, mh, ch);
    ok(th.located >= trials * 95 / 100, "hf: %d of %d located", th.located, trials);
    ok(mh < ms / 3, "hf removes the sky-wave bias: median %.1f km against straight %.1f km", mh, ms);
    ok(ch >= 60 && ch <= 85, "hf's 68 %% regions hold %.0f %% of the truths (straight: %.0f %%)", ch, cs);

    /* a forced mode; bad combinations refused */
    hd_localize_cfg lg = lh;
    lg.hf.mode = HD_HFMODE_GROUND;
    hd_locate_net ng;
    ok(hd_locate_net_init(&ng, st, R, &lg) == 0, "localize.hf.mode ground accepted");
    observe(&hf, 50.1, 8.7, hf.f2_height_km * 1000, 1e-6, NULL, &o);
    hd_locate(&ng, &obs, HD_LOC_TDOA, &res);
    ok(res.status != HD_LOC_OK || hd_geo_slant_range(50.1, 8.7, 0, res.lat, res.lon, 0) > 10e3,
       "every path forced to the ground wave: the sky-wave receivers' arrivals no longer fit");
    hd_locate_net_release(&ng);
    hd_localize_cfg lr = lh;
    lr.refractivity_n = 315;
    ok(hd_locate_net_init(&ng, st, R, &lr) == HD_ECONFIG, "propagation hf with refractivity_n refused");
    hd_locate_net_release(&ns);
    hd_locate_net_release(&nh);
    hd_config_release(&cfg);
    done_testing();
    return exit_status();
}
