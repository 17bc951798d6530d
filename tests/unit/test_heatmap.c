/* heatmap: marching squares on analytic surfaces (a circle's radius within
 * a grid step, rings closed and counter-clockwise, holes clockwise and
 * nested in their ring, a region cut by the grid's edge closed along it,
 * two minima two rings); the heat map of a located event (least at the
 * solution, contours nested and the 68 % ring near the ellipse). */
#include "config/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "features/features.h"
#include "geo/geo.h"
#include "locate/heatmap.h"
#include "locate/locate.h"
#include "stations.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 101
static double z[N * N];
static const double X0 = -1, DX = 2.0 / (N - 1);

static void fill(double (*f)(double, double))
{
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++)
            z[j * N + i] = f(X0 + i * DX, X0 + j * DX);
}

static double bowl(double x, double y) { return x * x + y * y; }
static double ring_f(double x, double y) { double r = hypot(x, y) - 0.5; return r * r; }
static double two(double x, double y) { return fmin((x - 0.5) * (x - 0.5) + y * y, (x + 0.5) * (x + 0.5) + y * y); }
static double edge(double x, double y) { return (x - 1) * (x - 1) + y * y; }
static double holed(double x, double y) { return hypot(x, y) < 0.1 ? NAN : x * x + y * y; }

static int closed(const hd_contour_ring *r)
{
    return r->n >= 4 && r->pt[0][0] == r->pt[r->n - 1][0] && r->pt[0][1] == r->pt[r->n - 1][1];
}

/* the largest distance of a ring's points from radius rad round (cx, cy) */
static double radius_err(const hd_contour_ring *r, double cx, double cy, double rad)
{
    double m = 0;
    for (int k = 0; k < r->n; k++)
        m = fmax(m, fabs(hypot(r->pt[k][0] - cx, r->pt[k][1] - cy) - rad));
    return m;
}

static void contours(void)
{
    hd_contour c;
    fill(bowl);
    ok(hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c) == 0, "circle: contoured");
    is_int(c.n, 1, "circle: one ring");
    ok(closed(&c.ring[0]), "circle: the ring closed (%d points)", c.ring[0].n);
    ok(!c.ring[0].hole && c.ring[0].area > 0, "circle: exterior, counter-clockwise");
    double e = radius_err(&c.ring[0], 0, 0, 0.5);
    ok(e < DX, "circle: radius 0.5 within a grid step (%.2g)", e);
    is_double(c.ring[0].area, M_PI * 0.25, 0.01, "circle: area pi r^2");
    ok(hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.45, 0) && !hd_contour_holds(&c, 0.55, 0),
       "circle: holds its centre, not beyond its radius");
    hd_contour_release(&c);

    /* nesting across levels: each level's ring inside the next */
    hd_contour lv[3];
    for (int k = 0; k < 3; k++)
        hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.1 * (k + 1), &lv[k]);
    int nested = 1;
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < lv[k].ring[0].n; v++)
            nested &= hd_contour_holds(&lv[k + 1], lv[k].ring[0].pt[v][0], lv[k].ring[0].pt[v][1]);
    ok(nested, "levels: each ring lies inside the higher level's");
    for (int k = 0; k < 3; k++)
        hd_contour_release(&lv[k]);

    fill(ring_f);
    ok(hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.04, &c) == 0, "annulus: contoured");
    is_int(c.n, 2, "annulus: two rings");
    int ext = c.ring[0].hole ? 1 : 0, hole = 1 - ext;
    ok(!c.ring[ext].hole && c.ring[hole].hole, "annulus: an exterior ring and a hole");
    ok(c.ring[hole].area < 0, "annulus: the hole clockwise");
    is_int(c.ring[hole].parent, ext, "annulus: the hole's parent is the exterior");
    ok(radius_err(&c.ring[ext], 0, 0, 0.7) < DX && radius_err(&c.ring[hole], 0, 0, 0.3) < DX,
       "annulus: radii 0.7 and 0.3 within a grid step");
    ok(!hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.5, 0) && !hd_contour_holds(&c, 0.9, 0),
       "annulus: the centre and the outside excluded, the band held");
    hd_contour_release(&c);

    fill(two);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.09, &c);
    is_int(c.n, 2, "two minima: two rings");
    ok(c.n == 2 && !c.ring[0].hole && !c.ring[1].hole, "two minima: both exterior");
    ok(hd_contour_holds(&c, 0.5, 0) && hd_contour_holds(&c, -0.5, 0) && !hd_contour_holds(&c, 0, 0),
       "two minima: each centre held, the gap not");
    hd_contour_release(&c);

    fill(edge);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c);
    is_int(c.n, 1, "cut by the edge: one ring");
    ok(c.n == 1 && closed(&c.ring[0]) && c.ring[0].area > 0, "cut by the edge: closed, counter-clockwise");
    int on_edge = 0;
    for (int k = 0; c.n && k < c.ring[0].n; k++)
        on_edge += fabs(c.ring[0].pt[k][0] - 1) < 1e-12;
    ok(on_edge >= 2, "cut by the edge: closed along the grid's edge (%d points on it)", on_edge);
    is_double(c.n ? c.ring[0].area : 0, M_PI * 0.25 / 2, 0.01, "cut by the edge: half the disc");
    hd_contour_release(&c);

    fill(holed);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c);
    is_int(c.n, 2, "undefined centre: a ring and a hole round the undefined values");
    ok(!hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.3, 0), "undefined centre: excluded");
    hd_contour_release(&c);

    for (int k = 0; k < N * N; k++)
        z[k] = 1;
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.5, &c);
    is_int(c.n, 0, "nothing below the level: no ring");
    hd_contour_release(&c);
    for (int k = 0; k < N * N; k++)
        z[k] = 0;
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.5, &c);
    ok(c.n == 1 && fabs(c.ring[0].area - 4) < 1e-9, "everything below: the grid's outline (area %g)",
       c.n ? c.ring[0].area : 0);
    hd_contour_release(&c);
}

/* ---- the heat map of located events --------------------------------------------- */

#define R 7
#define P (R * (R - 1) / 2)
#define F HD_FEAT_COUNT
static hd_station st[R];

/* pair delays of a transmitter at (lat, lon) with per-receiver timing noise sig_s (g NULL: none) */
static void observe(double lat, double lon, double sig_s, hd_rng *g, float *feat, uint8_t *mask, double *delay,
                    double *sigma, uint8_t *tmask)
{
    double toa[R];
    memset(feat, 0, sizeof(float) * R * F);
    for (int r = 0; r < R; r++) {
        double d = hd_geo_slant_range(lat, lon, 0, st[r].lat, st[r].lon, st[r].alt_m + st[r].antenna_height_m);
        mask[r] = 1;
        toa[r] = d / HD_SPEED_OF_LIGHT + (g ? sig_s * hd_rng_normal(g) : 0) + 1e-3;
        feat[r * F + HD_FEAT_RSS_DBM] = (float)(30 - 30 * log10(d));
    }
    for (int p = 0; p < P; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        delay[p] = toa[j] - toa[i];
        sigma[p] = sqrt(2) * sig_s;
        tmask[p] = 1;
    }
}

/* a ring's area (m²) in the network's tangent frame */
static double ring_area_m2(const hd_locate_net *net, const hd_contour_ring *r)
{
    double a = 0, e0, n0, e1, n1;
    for (int k = 0; k + 1 < r->n; k++) {
        hd_locate_from_geo(net, r->pt[k][1], r->pt[k][0], &e0, &n0);
        hd_locate_from_geo(net, r->pt[k + 1][1], r->pt[k + 1][0], &e1, &n1);
        a += e0 * n1 - e1 * n0;
    }
    return 0.5 * a;
}

/* the embedded default's localize section */
static int default_localize(hd_localize_cfg *lc)
{
    hd_config cfg;
    if (hd_config_load(&cfg, NULL, NULL, 0) != 0)
        return -1;
    *lc = cfg.localize;
    hd_config_release(&cfg);
    return 0;
}

static void located(void)
{
    const double pos[R][2] = {{45.07, 7.37}, {45.23, 7.97}, {45.07, 7.68}, {45.05, 7.23},
                              {44.55, 8.89}, {44.41, 8.93}, {45.45, 9.10}};
    for (int r = 0; r < R; r++)
        test_station(&st[r], "rx", r, pos[r][0], pos[r][1], 200);
    hd_localize_cfg lc;
    if (default_localize(&lc) != 0)
        return;
    lc.model_sigma_ns = 0;
    lc.scale_by_chi2 = 0; /* the Gaussian of the modelled variances: the levels' probabilities are exact */
    lc.tail_nu = 0;
    lc.outlier_sigma = 1e9;
    hd_locate_net net;
    ok(hd_locate_net_init(&net, st, R, &lc) == 0, "network prepared");
    float feat[R * F];
    uint8_t mask[R], tmask[P];
    double delay[P], sigma[P];
    hd_locate_obs obs = {feat, mask, delay, sigma, tmask};
    hd_locate_result res;
    const double lat0 = 44.9, lon0 = 8.2, sig = 300e-9;
    hd_rng g;
    hd_rng_init(&g, 11, 0, 0, 0);
    observe(lat0, lon0, sig, &g, feat, mask, delay, sigma, tmask);
    hd_locate(&net, &obs, HD_LOC_TDOA, &res);
    ok(res.status == HD_LOC_OK, "located (chi2 %.2f, %d dof)", res.chi2, res.dof);

    /* the cost at the solution is the solver's chi² */
    double c2;
    hd_locate_cost_geo(&net, &obs, &res, 1, &res.lat, &res.lon, &c2);
    is_double(c2, res.chi2, 1e-6 * (1 + res.chi2), "the cost at the solution is the solver's chi2");

    hd_heatmap_opts opt = {.region = HD_HEATMAP_AUTO, .points = 201};
    hd_heatmap map;
    int mrc = hd_heatmap_compute(&net, &obs, &res, &opt, &map);
    ok(mrc == 0, "heat map computed (%d × %d)", map.nx, map.ny);
    double bl = map.lat0 + map.best_iy * map.dlat, bo = map.lon0 + map.best_ix * map.dlon;
    ok(fabs(bl - res.lat) <= map.dlat && fabs(bo - res.lon) <= map.dlon, "its least point within a step of the fit");
    ok(map.chi2_min <= res.chi2 + 1e-9 && map.chi2_min >= res.chi2 - 1e-3, "chi2_min %.4f is the fit's %.4f",
       map.chi2_min, res.chi2);
    is_double(map.scale, 1, 0, "scale_by_chi2 false: no variance factor");
    is_double(map.level[2], 11.829, 1e-3, "Gaussian: the 99.7 % level is delta-chi2 11.83");
    double a68 = 0, ell = M_PI * hd_heatmap_level[0] * sqrt(res.cov[0] * res.cov[2] - res.cov[1] * res.cov[1]);
    hd_contour lv[HD_HEATMAP_LEVELS];
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        hd_contour_rings(map.dchi2, map.nx, map.ny, map.lon0, map.dlon, map.lat0, map.dlat, map.level[k], &lv[k]);
    ok(lv[0].n == 1 && lv[1].n == 1 && lv[2].n == 1, "one ring per level (%d, %d, %d)", lv[0].n, lv[1].n, lv[2].n);
    if (lv[0].n)
        a68 = ring_area_m2(&net, &lv[0].ring[0]);
    ok(fabs(a68 / ell - 1) < 0.05, "the 68.3 %% ring's area %.3g m² within 5 %% of the ellipse's %.3g", a68, ell);
    int nested = lv[1].n && lv[2].n;
    for (int k = 0; k < 2 && nested; k++)
        for (int v = 0; v < lv[k].ring[0].n; v++)
            nested &= hd_contour_holds(&lv[k + 1], lv[k].ring[0].pt[v][0], lv[k].ring[0].pt[v][1]);
    ok(nested, "the rings nest (68.3 inside 95.4 inside 99.7 %%)");
    int inside_map = lv[2].n == 1 && !hd_contour_holds(&lv[2], map.lon0 + 1e-9, map.lat0 + 1e-9);
    ok(inside_map, "auto region: the 99.7 %% ring clear of the map's corner");
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        hd_contour_release(&lv[k]);
    hd_heatmap_release(&map);

    opt.region = HD_HEATMAP_SEARCH;
    opt.points = 50;
    ok(hd_heatmap_compute(&net, &obs, &res, &opt, &map) == 0 && map.lat0 < 44.41 && map.lat0 + 49 * map.dlat > 45.45 &&
       map.lon0 < 7.23 && map.lon0 + 49 * map.dlon > 9.10, "search region: the map covers every receiver");
    hd_heatmap_release(&map);
    opt.region = HD_HEATMAP_BOX;
    opt.box[0] = 44, opt.box[1] = 46, opt.box[2] = 7, opt.box[3] = 9;
    ok(hd_heatmap_compute(&net, &obs, &res, &opt, &map) == 0 && map.lat0 == 44 && fabs(map.lon0 + 49 * map.dlon - 9) < 1e-12,
       "box: the map is the box");
    hd_heatmap_release(&map);
    opt.box[1] = 43;
    ok(hd_heatmap_compute(&net, &obs, &res, &opt, &map) == HD_ECONFIG, "a box with north below south refused");

    /* coverage: the truth inside each level's region, over noisy events */
    const int M = 300;
    int in[HD_HEATMAP_LEVELS] = {0}, n_ok = 0;
    opt.region = HD_HEATMAP_AUTO;
    opt.points = 81;
    for (int m = 0; m < M; m++) {
        hd_rng_init(&g, 12, (uint32_t)m, 0, 0);
        observe(lat0, lon0, sig, &g, feat, mask, delay, sigma, tmask);
        if (hd_locate(&net, &obs, HD_LOC_TDOA, &res) < 0 || res.status != HD_LOC_OK ||
            hd_heatmap_compute(&net, &obs, &res, &opt, &map) < 0)
            continue;
        n_ok++;
        for (int k = 0; k < HD_HEATMAP_LEVELS; k++) {
            hd_contour c;
            hd_contour_rings(map.dchi2, map.nx, map.ny, map.lon0, map.dlon, map.lat0, map.dlat, map.level[k], &c);
            in[k] += hd_contour_holds(&c, lon0, lat0);
            hd_contour_release(&c);
        }
        hd_heatmap_release(&map);
    }
    is_int(n_ok, M, "every noisy event mapped");
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++) {
        double p = hd_heatmap_probability[k], f = (double)in[k] / M, se = sqrt(p * (1 - p) / M);
        ok(fabs(f - p) < 3 * se + 0.005, "coverage of the %.1f %% region: %.3f (3 sigma %.3f)", 100 * p, f, 3 * se);
    }
    hd_locate_net_release(&net);

    /* the predictive's levels: scale_by_chi2 (a Student-t with prior_nu +
     * dof degrees of freedom, its covariance s² nu/(nu - 2) times the
     * fit's): the 68.3 % region is the reported ellipse's */
    lc.scale_by_chi2 = 1;
    lc.prior_nu = 4;
    hd_locate_net_init(&net, st, R, &lc);
    hd_rng_init(&g, 11, 0, 0, 0);
    observe(lat0, lon0, sig, &g, feat, mask, delay, sigma, tmask);
    hd_locate(&net, &obs, HD_LOC_TDOA, &res);
    opt.points = 201;
    opt.levels = HD_HEATMAP_PREDICTIVE;
    hd_heatmap_compute(&net, &obs, &res, &opt, &map);
    ok(map.nu == res.nu && map.nu == 4 + res.dof && map.tscale == map.nu, "predictive: a t with nu %g = 4 + dof, scale nu",
       map.nu);
    is_double(map.scale, (res.chi2 + 4) / (res.dof + 4), 1e-12, "predictive: the variance factor (chi2 + 4)/(dof + 4)");
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        is_double(hd_heatmap_content(map.level[k], map.nu, map.tscale), hd_heatmap_probability[k], 1e-9,
                  "predictive: the level's content is its probability");
    hd_contour c;
    hd_contour_rings(map.dchi2, map.nx, map.ny, map.lon0, map.dlon, map.lat0, map.dlat, map.level[0], &c);
    double r2 = hd_locate_radius2(hd_heatmap_probability[0], res.nu);
    ell = M_PI * r2 * sqrt(res.cov[0] * res.cov[2] - res.cov[1] * res.cov[1]);
    a68 = c.n == 1 ? ring_area_m2(&net, &c.ring[0]) : 0;
    ok(fabs(a68 / ell - 1) < 0.05, "predictive: the 68.3 %% ring's area %.3g m² within 5 %% of the t ellipse's %.3g", a68,
       ell);
    hd_contour_release(&c);
    hd_heatmap_release(&map);

    /* 3-D (the height observed, an aircraft over the network): the height
     * profiled out at each point, so the ring is the marginal ellipse's */
    {
        double toa[R], alt = 9000;
        for (int r = 0; r < R; r++)
            toa[r] = hd_geo_slant_range(lat0, lon0, alt, st[r].lat, st[r].lon, st[r].alt_m + st[r].antenna_height_m) /
                         HD_SPEED_OF_LIGHT + sig * hd_rng_normal(&g);
        for (int p = 0; p < P; p++) {
            int i, j;
            hd_features_pair(R, p, &i, &j);
            delay[p] = toa[j] - toa[i];
        }
        hd_locate_obs o3 = obs;
        o3.alt_m = alt + 50;
        o3.alt_sigma_m = 150;
        hd_locate(&net, &o3, HD_LOC_TDOA, &res);
        ok(res.status == HD_LOC_OK && res.alt_obs_sigma_m > 0, "3-D: located at %.0f m", res.alt);
        double cf;
        hd_locate_cost_geo(&net, &o3, &res, 1, &res.lat, &res.lon, &cf);
        ok(cf <= res.chi2 + 1e-6 && cf > res.chi2 - 1e-3, "3-D: the profiled cost at the fit %.5f is its chi2 %.5f", cf,
           res.chi2);
        opt.levels = HD_HEATMAP_PREDICTIVE;
        hd_heatmap_compute(&net, &o3, &res, &opt, &map);
        hd_contour_rings(map.dchi2, map.nx, map.ny, map.lon0, map.dlon, map.lat0, map.dlat, map.level[0], &c);
        ell = M_PI * hd_locate_radius2(hd_heatmap_probability[0], res.nu) *
              sqrt(res.cov[0] * res.cov[2] - res.cov[1] * res.cov[1]);
        a68 = c.n == 1 ? ring_area_m2(&net, &c.ring[0]) : 0;
        ok(fabs(a68 / ell - 1) < 0.1, "3-D: the 68.3 %% ring's area %.3g m² within 10 %% of the marginal ellipse's %.3g",
           a68, ell);
        hd_contour_release(&c);
        hd_heatmap_release(&map);
    }
    opt.levels = HD_HEATMAP_CHI2;
    hd_heatmap_compute(&net, &obs, &res, &opt, &map);
    ok(map.nu == 0 && map.scale == 1 && fabs(map.level[1] - 6.18) < 0.01, "chi2 levels: 2.30 / 6.18 / 11.83, no factor");
    hd_heatmap_release(&map);
    hd_locate_net_release(&net);
}

/* three receivers 600-900 km apart (Paris, Berlin, Munich), noise-free: a
 * transmitter whose hyperbolas cross twice; the auto map holds both
 * crossings, each inside the 68.3 % region, as two polygons */
static void ambiguous(void)
{
    enum { R3 = 3, P3 = 3 };
    hd_station s3[R3];
    const double pos[R3][2] = {{48.85, 2.35}, {52.52, 13.40}, {48.14, 11.58}};
    memset(s3, 0, sizeof s3);
    for (int r = 0; r < R3; r++) {
        snprintf(s3[r].id, sizeof s3[r].id, "rx%d", r);
        s3[r].lat = pos[r][0];
        s3[r].lon = pos[r][1];
        s3[r].alt_m = 100;
        s3[r].clock = HD_CLOCK_GPS;
    }
    hd_localize_cfg lc;
    if (default_localize(&lc) != 0)
        return;
    lc.model_sigma_ns = 0;
    hd_locate_net net;
    ok(hd_locate_net_init(&net, s3, R3, &lc) == 0 && net.coarse, "continental: three receivers, coarse-to-fine");
    float feat[R3 * F] = {0};
    uint8_t mask[R3] = {1, 1, 1}, tmask[P3] = {1, 1, 1};
    double delay[P3], sigma[P3];
    hd_locate_obs obs = {feat, mask, delay, sigma, tmask};
    hd_locate_result res;
    int found = 0;
    double tla = 0, tlo = 0;
    for (double la = 42; la <= 57 && !found; la += 3)
        for (double lo = -4; lo <= 22 && !found; lo += 4) {
            double toa[R3];
            for (int r = 0; r < R3; r++)
                toa[r] = hd_geo_slant_range(la, lo, 0, s3[r].lat, s3[r].lon, 100) / HD_SPEED_OF_LIGHT;
            for (int p = 0; p < P3; p++) {
                int i, j;
                hd_features_pair(R3, p, &i, &j);
                delay[p] = toa[j] - toa[i];
                sigma[p] = 1.4e-6;
            }
            found = hd_locate(&net, &obs, HD_LOC_TDOA, &res) == 0 && res.ambiguous;
            tla = la, tlo = lo;
        }
    ok(found, "an ambiguous transmitter (at %.0f N %.0f E): crossings %.2f %.2f and %.2f %.2f", tla, tlo, res.lat,
       res.lon, res.lat2, res.lon2);
    if (!found) {
        hd_locate_net_release(&net);
        return;
    }
    hd_heatmap_opts opt = {.region = HD_HEATMAP_AUTO, .points = 200};
    hd_heatmap map;
    ok(hd_heatmap_compute(&net, &obs, &res, &opt, &map) == 0, "its heat map");
    double e = map.lon0 + (map.nx - 1) * map.dlon, n = map.lat0 + (map.ny - 1) * map.dlat;
    ok(res.lat2 > map.lat0 && res.lat2 < n && res.lon2 > map.lon0 && res.lon2 < e && res.lat > map.lat0 &&
           res.lat < n && res.lon > map.lon0 && res.lon < e,
       "auto region: both crossings on the map (%.2f-%.2f N, %.2f-%.2f E)", map.lat0, n, map.lon0, e);
    hd_contour lv[HD_HEATMAP_LEVELS], c;
    hd_contour_rings(map.dchi2, map.nx, map.ny, map.lon0, map.dlon, map.lat0, map.dlat, map.level[0], &c);
    int frag = 0;
    for (int k = 0; k < c.n; k++)
        frag += !c.ring[k].hole;
    diag("the whole map (a %.1f km step) alone: %d polygons in the 68.3 %% region", map.dlat * 111.2, frag);
    hd_contour_release(&c);
    int zoomed = 0;
    ok(hd_heatmap_contours(&net, &obs, &res, &opt, &map, lv, &zoomed) == 0 && zoomed,
       "the contours drawn on a map round each crossing");
    c = lv[0];
    int ext = 0;
    for (int k = 0; k < c.n; k++) {
        ext += !c.ring[k].hole;
        double cx = 0, cy = 0;
        for (int v = 0; v < c.ring[k].n; v++)
            cx += c.ring[k].pt[v][0] / c.ring[k].n, cy += c.ring[k].pt[v][1] / c.ring[k].n;
        if (c.n != 2)
            diag("68.3 %% ring %d: %d points, area %.3g deg2, hole %d, centre %.3f %.3f", k, c.ring[k].n, c.ring[k].area,
                 c.ring[k].hole, cx, cy);
    }
    ok(ext == 2 && hd_contour_holds(&c, res.lon, res.lat) && hd_contour_holds(&c, res.lon2, res.lat2),
       "the 68.3 %% region: two polygons (%d), one round each crossing", ext);
    ok(hd_contour_holds(&lv[2], res.lon, res.lat) && hd_contour_holds(&lv[2], res.lon2, res.lat2) &&
           hd_contour_holds(&lv[2], tlo, tla),
       "the 99.7 %% region holds both crossings and the truth");
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        hd_contour_release(&lv[k]);
    hd_heatmap_release(&map);
    hd_locate_net_release(&net);
}

int main(void)
{
    plan_no_plan();
    contours();
    located();
    ambiguous();
    done_testing();
    return exit_status();
}
