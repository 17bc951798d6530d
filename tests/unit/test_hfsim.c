/* sim/hf: the LF/HF propagation model (collect.simulate.propagation.model
 * hf): ground wave slower than c, one- and two-hop F2 sky wave longer than
 * the great circle, the dominant mode by distance, and its config keys. */
#include "config/config.h"
#include "core/error.h"
#include "geo/geo.h"
#include "geo/hf.h"
#include "sim/sim.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* a transmitter near Frankfurt is put at (50.1, 8.7); receivers near (90 km),
 * at one-hop range (Madrid, ~1400 km) and beyond one hop's lowest angle
 * (Newfoundland, ~4300 km) */
static const char *stations_yaml =
    "stations:\n"
    "  - {id: near, lat: 50.9, lon: 8.7, alt_m: 0, sample_rate_hz: 12000}\n"
    "  - {id: madrid, lat: 40.4, lon: -3.7, alt_m: 0, sample_rate_hz: 12000}\n"
    "  - {id: far, lat: 48.0, lon: -54.0, alt_m: 0, sample_rate_hz: 12000}\n";

static int load(hd_config *cfg, const char *extra, const char *name)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "seed: 3\n%scollect:\n  duration_s: 0.1\n  frequencies_hz: [7000000]\n%s", stations_yaml,
             extra);
    return hd_config_load_string(cfg, yaml, name, NULL, 0);
}

static void test_modes(void)
{
    hd_config cfg;
    if (load(&cfg, "  simulate:\n    propagation:\n      model: hf\n", "t.yaml")) {
        ok(0, "hf config loads: %s", hd_errmsg());
        return;
    }
    ok(1, "hf config loads");
    const hd_prop_cfg *p = &cfg.collect.simulate.propagation;
    const double c = HD_SPEED_OF_LIGHT;
    hd_hf_modes m;
    double D = 2000e3;
    int dom = hd_geo_hf_modes(&p->hf, D, 300e3, &m);
    ok(m.present[HD_MODE_GROUND] && m.present[HD_MODE_1F2] && m.present[HD_MODE_2F2], "2000 km: every mode reaches");
    ok(dom == HD_MODE_1F2, "2000 km: one hop dominates (%s)", hd_prop_mode_name(dom));
    double eg = m.delay_s[0] - D / c, e1 = m.delay_s[1] - D / c, e2 = m.delay_s[2] - D / c;
    ok(eg > 0 && fabs(eg - D / c * (1 / 0.9997 - 1)) < 1e-12, "ground wave: excess %.3f us = D/c (1/0.9997 - 1)", eg * 1e6);
    ok(e1 > eg && e1 > 10e-6, "1F2 excess delay %.1f us positive and above the ground wave's", e1 * 1e6);
    ok(e2 > e1, "2F2 excess %.1f us > 1F2 %.1f us: grows with hops", e2 * 1e6, e1 * 1e6);
    /* the mirror geometry on the sphere: 1F2 path at 2000 km, 300 km, by hand */
    double R = HD_HF_EARTH_RADIUS_M, th = D / (2 * R), h = 300e3;
    double s = sqrt(R * R + (R + h) * (R + h) - 2 * R * (R + h) * cos(th));
    ok(fabs(m.path_m[1] - 2 * s) < 1e-6, "1F2 path = two chords to the mirror point (%.1f km)", m.path_m[1] / 1e3);
    double e1h;
    hd_hf_modes m2;
    hd_geo_hf_modes(&p->hf, D, 350e3, &m2);
    e1h = m2.delay_s[1] - D / c;
    ok(e1h > e1, "a higher F2 layer delays more (%.1f > %.1f us)", e1h * 1e6, e1 * 1e6);
    dom = hd_geo_hf_modes(&p->hf, 100e3, 300e3, &m);
    ok(dom == HD_MODE_GROUND && !m.present[1] && !m.present[2] && fabs(m.power[0] - 1) < 1e-12,
       "100 km: inside the skip distance only the ground wave");
    dom = hd_geo_hf_modes(&p->hf, 4500e3, 300e3, &m);
    ok(dom == HD_MODE_2F2 && !m.present[1] && m.elevation_deg[1] < 3.0,
       "4500 km: one hop below the minimum angle (%.1f deg), two hops dominate", m.elevation_deg[1]);

    /* rendered links carry it as truth */
    hd_event ev;
    if (hd_sim_event_draw(&cfg, 0, &ev)) {
        ok(0, "event draws: %s", hd_errmsg());
        return;
    }
    ev.truth.lat = 50.1;
    ev.truth.lon = 8.7;
    ev.truth.alt_m = ev.truth.height_m = 0;
    hd_link l[3];
    int want[3] = {HD_MODE_GROUND, HD_MODE_1F2, HD_MODE_2F2};
    int good = 1;
    for (int r = 0; r < 3; r++) {
        if (hd_sim_render(&cfg, &ev, r, &l[r], NULL, NULL) < 0) {
            good = 0;
            continue;
        }
        double gc;
        hd_geo_inverse(ev.truth.lat, ev.truth.lon, cfg.stations[r].lat, cfg.stations[r].lon, &gc, NULL, NULL);
        diag("%s: %.0f km, mode %s, excess %.2f us", cfg.stations[r].id, gc / 1e3, hd_prop_mode_name(l[r].truth.prop_mode),
             l[r].truth.excess_delay_s * 1e6);
        good &= l[r].truth.prop_mode == want[r];
        good &= fabs(l[r].truth.arrival_s - gc / c - l[r].truth.excess_delay_s) < 1e-12;
    }
    ok(good, "rendered links: ground near, 1F2 at Madrid, 2F2 over the Atlantic; arrival = great circle/c + excess");
    ok(l[0].truth.excess_delay_s > 0 && l[0].truth.excess_delay_s < 1e-6, "ground-wave link: small positive excess");
    ok(l[1].truth.excess_delay_s > 10e-6 && l[2].truth.excess_delay_s > l[1].truth.excess_delay_s,
       "sky-wave links: positive excess growing with hops (%.1f, %.1f us)", l[1].truth.excess_delay_s * 1e6,
       l[2].truth.excess_delay_s * 1e6);
    /* rendering IQ works and the far link is not silent */
    int N = ev.n_samples;
    int16_t *iq = calloc((size_t)2 * N, sizeof *iq);
    hd_link li;
    int rc = hd_sim_render(&cfg, &ev, 1, &li, iq, NULL);
    double pw = 0;
    for (int i = 0; rc == 0 && i < 2 * N; i++)
        pw += (double)iq[i] * iq[i];
    ok(rc == 0 && pw > 0 && li.truth.prop_mode == HD_MODE_1F2, "IQ renders under model hf");
    free(iq);

    /* the default model leaves the HF truth unknown */
    hd_config d;
    load(&d, "", "t.yaml");
    hd_link ld;
    hd_sim_render(&d, &ev, 1, &ld, NULL, NULL);
    ok(ld.truth.prop_mode == -1 && isnan(ld.truth.excess_delay_s), "other models: prop_mode -1, excess NaN");
}

static void bad(const char *extra, const char *want, const char *what)
{
    hd_config cfg;
    int rc = load(&cfg, extra, "hf.yaml");
    ok(rc == HD_ECONFIG, "%s refused", what);
    like(hd_errmsg(), want, what);
}

static void test_config_keys(void)
{
    hd_config cfg;
    load(&cfg, "", "t.yaml");
    const hd_prop_cfg *p = &cfg.collect.simulate.propagation;
    ok(p->model == HD_PL_LOG_DISTANCE && p->hf.ground_velocity_factor == 0.9997 && p->hf.f2_height_km == 300 &&
           p->hf.f2_height_sigma_km == 15 && p->hf.skip_distance_km == 600 && p->hf.min_elevation_deg == 3,
       "defaults: log-distance; hf keys 0.9997, 300 km ± 15, skip 600 km, 3 deg");
    const char *pre = "  simulate:\n    propagation:\n      model: hf\n      hf:\n";
    char y[512];
    snprintf(y, sizeof y, "%s        ground_velocity_factor: 1.2\n", pre);
    bad(y, "hf.yaml:13:", "velocity factor above 1");
    like(hd_errmsg(), "collect.simulate.propagation.hf.ground_velocity_factor: 1.2 is out of range", "names the key");
    snprintf(y, sizeof y, "%s        f2_height_km: 50\n", pre);
    bad(y, "hf.yaml:13:23: collect.simulate.propagation.hf.f2_height_km: 50 is out of range", "F2 below 150 km");
    snprintf(y, sizeof y, "%s        min_elevation_deg: -1\n", pre);
    bad(y, "hf.yaml:13:", "negative elevation");
    snprintf(y, sizeof y, "%s        hops: 3\n", pre);
    bad(y, "unknown key 'hops'", "unknown hf key");
    snprintf(y, sizeof y, "  simulate:\n    propagation:\n      model: sky\n");
    bad(y, "'sky' is not one of: log-distance, hata, free-space, hf", "bad model");
}

int main(void)
{
    plan_no_plan();
    test_modes();
    test_config_keys();
    done_testing();
    return exit_status();
}
