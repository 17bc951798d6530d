/* TDOA, RSS and hybrid localization with covariance and Cramér–Rao bound
 * (see locate.h for the models). */
#include "locate/locate.h"
#include "geo/hf.h"
#include "core/alloc.h"
#include "core/error.h"
#include "features/features.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C_KM_S (HD_SPEED_OF_LIGHT / 1000.0) /* km per second */
#define LN10 2.302585092994046

static const char *const status_names[] = {"ok", "not enough receivers", "no convergence", "outside the search region",
                                           "geometry fixes no position"};

const char *hd_loc_status_name(int s)
{
    return s >= 0 && s < HD_LOC_STATUS_COUNT ? status_names[s] : "?";
}

/* ---- geometry ---------------------------------------------------------------- */

/* The ECEF point at height alt (m) over the frame point (e, n) and the
 * ellipsoid's normal there, without trigonometry: the geodetic latitude of
 * the tangent-plane point by Bowring's formula (one step), its sine and
 * cosine as ratios. Against the iterated hd_enu_to_geo: 2e-8 m within
 * 100 km of the frame's origin, 2e-6 m within 300 km, 2.4 mm at 2000 km
 * (the tangent plane 300 km above the ellipsoid there). */
static void plane_point(const hd_locate_net *net, double e, double n, double alt, double xyz[3], double up[3])
{
    const double a = HD_WGS84_A, f = HD_WGS84_F, e2 = f * (2 - f), b = a * (1 - f), ep2 = e2 / (1 - e2);
    const hd_enu *fr = &net->frame;
    double q[3];
    for (int j = 0; j < 3; j++)
        q[j] = fr->ecef0[j] + fr->r[0][j] * e + fr->r[1][j] * n;
    double p = hypot(q[0], q[1]), za = q[2] * a, pb = p * b, t = hypot(za, pb);
    double st = za / t, ct = pb / t;
    double Y = q[2] + ep2 * b * st * st * st, X = p - e2 * a * ct * ct * ct, u = hypot(X, Y);
    double sp = Y / u, cp = X / u, cl = q[0] / p, sl = q[1] / p;
    double N = a / sqrt(1 - e2 * sp * sp);
    up[0] = cp * cl;
    up[1] = cp * sl;
    up[2] = sp;
    xyz[0] = (N + alt) * cp * cl;
    xyz[1] = (N + alt) * cp * sl;
    xyz[2] = (N * (1 - e2) + alt) * sp;
}

/* The point of the model: (e, n) on the tangent plane, moved along the
 * ellipsoid's normal to height h. plane_point's closed form, no
 * trigonometry (was hd_locate_to_geo's iterated inverse and
 * hd_geo_to_ecef: a third of localize's solver). */
static void pos_ecef_h(const hd_locate_net *net, double e, double n, double h, double xyz[3])
{
    double up[3];
    plane_point(net, e, n, h, xyz, up);
}

static void pos_ecef(const hd_locate_net *net, double e, double n, double xyz[3])
{
    pos_ecef_h(net, e, n, net->tx_alt_m, xyz);
}

void hd_locate_to_geo(const hd_locate_net *net, double e, double n, double *lat, double *lon)
{
    double enu[3] = {e, n, 0}, h;
    hd_enu_to_geo(&net->frame, enu, lat, lon, &h);
}

void hd_locate_from_geo(const hd_locate_net *net, double lat, double lon, double *e, double *n)
{
    /* the inverse of to_geo: the tangent-plane point straight above
     * (lat, lon) along the local vertical, found by two fixed-point steps */
    double enu[3];
    hd_enu_from_geo(&net->frame, lat, lon, net->tx_alt_m, enu);
    *e = enu[0];
    *n = enu[1];
    for (int it = 0; it < 3; it++) {
        double la, lo;
        hd_locate_to_geo(net, *e, *n, &la, &lo);
        double a[3], b[3];
        hd_enu_from_geo(&net->frame, la, lo, net->tx_alt_m, a);
        hd_enu_from_geo(&net->frame, lat, lon, net->tx_alt_m, b);
        *e += b[0] - a[0];
        *n += b[1] - a[1];
    }
}

/* localize.propagation hf: the group path (m) of a receiver's expected
 * LF/HF mode (localize.hf.mode, auto: the strongest at that distance) for
 * the straight line's length chord_m between transmitter and receiver;
 * *k: d group / d chord; *dh (may be NULL): d group / d F2 height. The
 * ground distance is the chord's great-circle arc on the sphere of
 * geo/hf.h. */
static double hf_group(const hd_localize_cfg *cfg, double chord_m, double *k, double *dh)
{
    const double R = HD_HF_EARTH_RADIUS_M;
    double x = fmin(chord_m / (2 * R), 1.0), g = 2 * R * asin(x), dg = 1 / sqrt(fmax(1 - x * x, 1e-12));
    double delay, dgg, dgh; /* only the mode used (hd_geo_hf_modes' numbers for it) */
    hd_geo_hf_group(&cfg->hf, g, cfg->hf.f2_height_km * 1000,
                    cfg->hf.mode != HD_HFMODE_AUTO ? cfg->hf.mode - HD_HFMODE_GROUND : -1, &delay, &dgg, &dgh);
    *k = dgg * dg;
    if (dh)
        *dh = dgh;
    return delay * HD_SPEED_OF_LIGHT;
}

/* The modelled path from point q to receiver y (ECEF): the chord, or with
 * localize.propagation hf the group path of the mode expected at that
 * distance. */
static double modelled_path(const hd_locate_net *net, const double *q, const double *y)
{
    double d = sqrt((q[0] - y[0]) * (q[0] - y[0]) + (q[1] - y[1]) * (q[1] - y[1]) + (q[2] - y[2]) * (q[2] - y[2]));
    if (net->cfg.propagation == HD_LPROP_HF) {
        double dk;
        d = hf_group(&net->cfg, d, &dk, NULL);
    }
    return d;
}

/* The straight ranges d[R] (with their derivatives dd, dz where given)
 * turned into the modes' group paths (propagation hf; else unchanged). */
static void hf_paths(const hd_locate_net *net, double *d, double (*dd)[2], double *dz)
{
    if (net->cfg.propagation != HD_LPROP_HF)
        return;
    for (int r = 0; r < net->R; r++) {
        double k;
        d[r] = hf_group(&net->cfg, d[r], &k, NULL);
        if (dd) {
            dd[r][0] *= k;
            dd[r][1] *= k;
        }
        if (dz)
            dz[r] *= k;
    }
}

/* Ranges (m) from frame point (e, n) at height alt (m, ellipsoidal) to
 * every receiver, and the partial derivatives of each range along e and n
 * (unitless) and, with dz, along the height. */
static void ranges_h(const hd_locate_net *net, const double (*rx)[3], double e, double n, double alt, double *d,
                     double (*dd)[2], double *dz)
{
    double p[3], pe[3], pn[3], up[3]; /* up: the ellipsoid's normal at the point, d(ECEF)/d(height) */
    const double h = 1.0; /* metres: the map is smooth on this scale */
    plane_point(net, e, n, alt, p, up);
    if (dd) {
        pos_ecef_h(net, e + h, n, alt, pe);
        pos_ecef_h(net, e, n + h, alt, pn);
    }
    for (int r = 0; r < net->R; r++) {
        const double *x = rx[r];
        double v[3] = {p[0] - x[0], p[1] - x[1], p[2] - x[2]};
        d[r] = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (dd) {
            double u[3] = {v[0] / d[r], v[1] / d[r], v[2] / d[r]};
            dd[r][0] = (u[0] * (pe[0] - p[0]) + u[1] * (pe[1] - p[1]) + u[2] * (pe[2] - p[2])) / h;
            dd[r][1] = (u[0] * (pn[0] - p[0]) + u[1] * (pn[1] - p[1]) + u[2] * (pn[2] - p[2])) / h;
        }
        if (dz)
            dz[r] = (v[0] * up[0] + v[1] * up[1] + v[2] * up[2]) / d[r];
    }
    hf_paths(net, d, dd, dz);
}

/* 3-D: the path's mean refractivity (a fraction) between heights h1 and h2
 * (m) for localize.refractivity_n at sea level decaying with
 * localize.refractivity_scale_km: the radio path is longer than the
 * straight line's length by this fraction (straight-line approximation). */
static double path_refractivity(const hd_localize_cfg *cfg, double h1, double h2)
{
    double n0 = cfg->refractivity_n * 1e-6, H = cfg->refractivity_scale_km * 1000;
    if (n0 == 0 || !(H > 0))
        return n0;
    double dh = h2 - h1;
    if (fabs(dh) < 1)
        return n0 * exp(-0.5 * (h1 + h2) / H);
    return n0 * H / dh * (exp(-h1 / H) - exp(-h2 / H));
}

double hd_locate_path_factor(const hd_locate_net *net, int r, double alt_m)
{
    if (net->cfg.refractivity_n == 0 || r < 0 || r >= net->R)
        return 1;
    return 1 + path_refractivity(&net->cfg, net->rx_h[r], alt_m);
}


/* 3-D ranges from (e, n) at height alt, their derivatives along e, n and
 * the height, the straight lines lengthened by the air's refractivity. */
static void ranges_3d(const hd_locate_net *net, const double (*rx)[3], double e, double n, double alt, double *d,
                      double (*dd)[2], double *dz)
{
    double p[3], pe[3], pn[3], up[3], u2[3];
    const double h = 1.0;
    plane_point(net, e, n, alt, p, up);
    if (dd) {
        plane_point(net, e + h, n, alt, pe, u2);
        plane_point(net, e, n + h, alt, pn, u2);
    }
    for (int r = 0; r < net->R; r++) {
        const double *x = rx[r];
        double v[3] = {p[0] - x[0], p[1] - x[1], p[2] - x[2]};
        d[r] = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (dd) {
            double w[3] = {v[0] / d[r], v[1] / d[r], v[2] / d[r]};
            dd[r][0] = (w[0] * (pe[0] - p[0]) + w[1] * (pe[1] - p[1]) + w[2] * (pe[2] - p[2])) / h;
            dd[r][1] = (w[0] * (pn[0] - p[0]) + w[1] * (pn[1] - p[1]) + w[2] * (pn[2] - p[2])) / h;
        }
        if (dz)
            dz[r] = (v[0] * up[0] + v[1] * up[1] + v[2] * up[2]) / d[r];
    }
    hf_paths(net, d, dd, dz);
    if (net->cfg.refractivity_n == 0)
        return;
    for (int r = 0; r < net->R; r++) {
        double k = 1 + path_refractivity(&net->cfg, net->rx_h[r], alt);
        d[r] *= k;
        if (dd) {
            dd[r][0] *= k;
            dd[r][1] *= k;
        }
        if (dz)
            dz[r] *= k;
    }
}

/* The same at the assumed transmitter height localize.tx_alt_m. */
static void ranges(const hd_locate_net *net, const double (*rx)[3], double e, double n, double *d, double (*dd)[2])
{
    ranges_h(net, rx, e, n, net->tx_alt_m, d, dd, NULL);
}

#define COARSE_N 96   /* coarse map points along the region's longer side */

/* The coarse map over region reg (m): spacing *s, cx × cy points from
 * (*ox, *oy). */
static void coarse_geometry(const hd_locate_net *net, const double reg[4], double *s, int *cx, int *cy, double *ox,
                            double *oy)
{
    double W = reg[1] - reg[0], H = reg[3] - reg[2];
    *s = fmax(net->gstep, fmax(W, H) / (COARSE_N - 1));
    *cx = (int)ceil(W / *s) + 1;
    *cy = (int)ceil(H / *s) + 1;
    *ox = 0.5 * (reg[0] + reg[1]) - 0.5 * (*cx - 1) * *s;
    *oy = 0.5 * (reg[2] + reg[3]) - 0.5 * (*cy - 1) * *s;
}

/* The dense grid in tiles of TILE × TILE points: per tile and receiver the
 * least and greatest range (km), so that a bound on the timing cost over a
 * tile can pass it over (grid_start). */
#define TILE 8
#define BLOCK 4 /* tiles a side of a block */

/* min over t of sum_k w_k dist(t, [a_k, b_k])^2: the least timing cost any
 * point can have whose residuals tau_k - d_k lie in [a_k, b_k] (t the
 * emission time). Convex in t: its derivative, piecewise linear and
 * rising, changes sign between two of the intervals' ends. */
static double interval_bound(int n, const double *w, const double *a, const double *b)
{
    double p[2 * HD_MAX_STATIONS];
    int m = 0;
    for (int k = 0; k < n; k++) {
        p[m++] = a[k];
        p[m++] = b[k];
    }
    for (int i = 1; i < m; i++) { /* insertion sort: a few dozen ends */
        double v = p[i];
        int j = i - 1;
        for (; j >= 0 && p[j] > v; j--)
            p[j + 1] = p[j];
        p[j + 1] = v;
    }
    /* the first end where the derivative is >= 0 (i == m: none), by bisection */
    int i = 0, hi = m;
    while (i < hi) {
        int mid = (i + hi) / 2;
        double d = 0, t = p[mid];
        for (int k = 0; k < n; k++)
            d += t < a[k] ? w[k] * (t - a[k]) : t > b[k] ? w[k] * (t - b[k]) : 0;
        if (d >= 0)
            hi = mid;
        else
            i = mid + 1;
    }
    double t;
    if (i == 0 || i == m) {
        t = p[i == 0 ? 0 : m - 1];
    } else { /* the derivative is linear on [p[i-1], p[i]]: its zero */
        double mid = 0.5 * (p[i - 1] + p[i]), sw = 0, st = 0;
        for (int k = 0; k < n; k++) {
            if (mid < a[k]) {
                sw += w[k];
                st += w[k] * a[k];
            } else if (mid > b[k]) {
                sw += w[k];
                st += w[k] * b[k];
            }
        }
        t = sw > 0 ? fmin(fmax(st / sw, p[i - 1]), p[i]) : mid;
    }
    double f = 0;
    for (int k = 0; k < n; k++) {
        double d = t < a[k] ? a[k] - t : t > b[k] ? t - b[k] : 0;
        f += w[k] * d * d;
    }
    return f;
}

/* The spans of W x W windows over an nx x ny array holding, per cell and
 * receiver, a least and a greatest range: the least at src[r*sr + iy*sy +
 * ix*sx], the greatest hi_off further (0: one value, its own span). Each
 * window's least and greatest per receiver into a new array [window][r][2],
 * *wx x *wy windows (NULL when out of memory). */
static double *window_spans(const double *src, size_t hi_off, size_t sr, size_t sy, size_t sx, int nx, int ny, int R,
                            int W, int *wx, int *wy)
{
    *wx = (nx + W - 1) / W;
    *wy = (ny + W - 1) / W;
    double *out = hd_malloc((size_t)*wx * *wy * R * 2 * sizeof *out);
    if (!out)
        return NULL;
    for (int t = 0; t < *wx * *wy; t++) {
        int x0 = (t % *wx) * W, y0 = (t / *wx) * W;
        for (int r = 0; r < R; r++) {
            double lo = INFINITY, hi = -INFINITY;
            for (int iy = y0; iy < y0 + W && iy < ny; iy++)
                for (int ix = x0; ix < x0 + W && ix < nx; ix++) {
                    const double *v = src + (size_t)r * sr + (size_t)iy * sy + (size_t)ix * sx;
                    lo = v[0] < lo ? v[0] : lo;
                    hi = v[hi_off] > hi ? v[hi_off] : hi;
                }
            out[((size_t)t * R + r) * 2] = lo;
            out[((size_t)t * R + r) * 2 + 1] = hi;
        }
    }
    return out;
}

int hd_locate_net_init(hd_locate_net *net, const hd_station *st, int R, const hd_localize_cfg *cfg)
{
    memset(net, 0, sizeof *net);
    if (R < 1 || R > HD_MAX_STATIONS)
        return hd_error(HD_EINVAL, "locate: %d receivers (1 to %d)", R, HD_MAX_STATIONS);
    if (cfg->tail_nu != 0 && !(cfg->tail_nu > 2))
        return hd_error(HD_ECONFIG, "localize.tail_nu is %g: a Student-t needs more than 2 degrees of freedom "
                        "for a covariance (0: Gaussian)", cfg->tail_nu);
    if (cfg->scale_by_chi2 && !cfg->legacy_scale && !(cfg->prior_nu > 2))
        return hd_error(HD_ECONFIG, "localize.prior_nu is %g: the predictive of an event without spare residuals "
                        "is a Student-t with prior_nu degrees of freedom, which needs more than 2 for a covariance",
                        cfg->prior_nu);
    if (cfg->scale_by_chi2 && !cfg->legacy_scale && cfg->tail_nu != 0)
        return hd_error(HD_ECONFIG, "localize.tail_nu %g applies with scale_by_chi2 false: with scale_by_chi2 true "
                        "each event's tail follows from its residuals (prior_nu + dof degrees of freedom)",
                        cfg->tail_nu);
    if (cfg->propagation == HD_LPROP_HF && cfg->refractivity_n != 0)
        return hd_error(HD_ECONFIG, "localize.refractivity_n %g applies to line-of-sight paths, not to "
                        "localize.propagation hf (set one of them)", cfg->refractivity_n);
    if (cfg->n_rss_offsets && cfg->n_rss_offsets != R)
        return hd_error(HD_ECONFIG, "localize.rss_offsets_db has %d values for %d receivers", cfg->n_rss_offsets, R);
    gsl_set_error_handler_off(); /* GSL's default handler aborts */
    net->R = R;
    net->cfg = *cfg;
    net->tx_alt_m = cfg->tx_alt_m;
    /* the frame at the centroid of the receivers, on the ellipsoid */
    /* receivers without a fixed position (on a bus: NaN) are placed per event */
    double c[3] = {0, 0, 0};
    int nfix = 0;
    for (int r = 0; r < R; r++)
        nfix += isfinite(st[r].lat) && isfinite(st[r].lon);
    if (nfix == 0)
        return hd_error(HD_EDATA, "locate: no receiver has a fixed position");
    for (int r = 0; r < R; r++) {
        double x[3];
        if (!isfinite(st[r].lat) || !isfinite(st[r].lon))
            continue;
        hd_geo_to_ecef(st[r].lat, st[r].lon, st[r].alt_m + st[r].antenna_height_m, x);
        for (int k = 0; k < 3; k++)
            c[k] += x[k] / nfix;
    }
    double lat0, lon0, h0;
    hd_geo_from_ecef(c, &lat0, &lon0, &h0);
    hd_enu_init(&net->frame, lat0, lon0, 0);
    double e0 = INFINITY, e1 = -INFINITY, n0 = INFINITY, n1 = -INFINITY;
    for (int r = 0; r < R; r++) {
        double h = st[r].alt_m + st[r].antenna_height_m, enu[3];
        net->rx_lat[r] = st[r].lat;
        net->rx_lon[r] = st[r].lon;
        net->rx_h[r] = h;
        hd_geo_to_ecef(st[r].lat, st[r].lon, h, net->rx_ecef[r]);
        hd_enu_from_geo(&net->frame, st[r].lat, st[r].lon, h, enu);
        net->rx_en[r][0] = enu[0];
        net->rx_en[r][1] = enu[1];
        if (!isfinite(enu[0]) || !isfinite(enu[1]))
            continue;
        e0 = fmin(e0, enu[0]);
        e1 = fmax(e1, enu[0]);
        n0 = fmin(n0, enu[1]);
        n1 = fmax(n1, enu[1]);
        double cs = st[r].clock == HD_CLOCK_GPS ? st[r].clock_sigma_ns * 1e-9 : 0;
        net->clock_var_s2[r] = cs * cs;
    }
    double m = cfg->margin_km * 1000;
    net->e_min = e0 - m;
    net->e_max = e1 + m;
    net->n_min = n0 - m;
    net->n_max = n1 + m;
    net->gstep = cfg->grid_step_km * 1000;
    net->gx = (int)ceil((net->e_max - net->e_min) / net->gstep) + 1;
    net->gy = (int)ceil((net->n_max - net->n_min) / net->gstep) + 1;
    double wide = fmax(e1 - e0, n1 - n0) / 1000;
    net->coarse = cfg->search == HD_SEARCH_COARSE ||
                  (cfg->search == HD_SEARCH_AUTO && ((double)net->gx * net->gy > HD_LOC_DENSE_MAX || wide > HD_LOC_WIDE_KM));
    if (!net->coarse && (double)net->gx * net->gy > 4e6)
        return hd_error(HD_ECONFIG, "localize.grid_step_km %g gives a %d × %d grid over the region; use a coarser step "
                        "or localize.search coarse", cfg->grid_step_km, net->gx, net->gy);
    if (net->coarse && (double)net->gx * net->gy > 2e9)
        return hd_error(HD_ECONFIG, "localize.grid_step_km %g is too fine for a %.0f km region", cfg->grid_step_km,
                        fmax(net->e_max - net->e_min, net->n_max - net->n_min) / 1000);
    if (!(net->cache = hd_calloc(1, sizeof *net->cache)))
        return HD_ENOMEM;
    net->gx0 = 0.5 * (net->e_min + net->e_max) - 0.5 * (net->gx - 1) * net->gstep;
    net->gy0 = 0.5 * (net->n_min + net->n_max) - 0.5 * (net->gy - 1) * net->gstep;
    if (net->coarse) {
        /* no dense grid: the points' costs are computed where the search
         * looks, but the first coarse map's, over the network's own
         * region, are every event's: their ranges made once */
        double reg[4] = {net->e_min, net->e_max, net->n_min, net->n_max}, s, ox, oy;
        int cx, cy;
        coarse_geometry(net, reg, &s, &cx, &cy, &ox, &oy);
        net->coarse_d = hd_malloc((size_t)cx * cy * R * sizeof *net->coarse_d);
        if (!net->coarse_d)
            return HD_ENOMEM;
        net->coarse_cx = cx;
        net->coarse_cy = cy;
        for (int jy = 0; jy < cy; jy++)
            for (int jx = 0; jx < cx; jx++)
                ranges(net, (const double(*)[3])net->rx_ecef, ox + jx * s, oy + jy * s,
                       net->coarse_d + (size_t)(jy * cx + jx) * R, NULL);
        return 0;
    }
    net->G = net->gx * net->gy;
    net->grid_d = hd_malloc((size_t)net->G * R * sizeof *net->grid_d);
    net->grid_p = hd_malloc((size_t)net->G * 3 * sizeof *net->grid_p);
    if (!net->grid_d || !net->grid_p)
        return HD_ENOMEM;
    const size_t G = (size_t)net->G;
    for (int iy = 0; iy < net->gy; iy++)
        for (int ix = 0; ix < net->gx; ix++) {
            int g = iy * net->gx + ix;
            double e = net->gx0 + ix * net->gstep, n = net->gy0 + iy * net->gstep, d[HD_MAX_STATIONS];
            pos_ecef(net, e, n, net->grid_p + (size_t)g * 3);
            ranges(net, (const double(*)[3])net->rx_ecef, e, n, d, NULL);
            for (int r = 0; r < R; r++) /* receiver-major: the scan runs along g */
                net->grid_d[(size_t)r * G + g] = d[r] / 1000;
        }
    /* each tile's span of every receiver's range over the grid's points,
     * then each block's over its tiles' spans */
    if (!(net->tile_d = window_spans(net->grid_d, 0, G, (size_t)net->gx, 1, net->gx, net->gy, R, TILE, &net->tx, &net->ty)))
        return HD_ENOMEM;
    if (!(net->block_d = window_spans(net->tile_d, 1, 2, (size_t)net->tx * R * 2, (size_t)R * 2, net->tx, net->ty, R, BLOCK,
                                      &net->bx, &net->by)))
        return HD_ENOMEM;
    return 0;
}

void hd_locate_net_release(hd_locate_net *net)
{
    free(net->grid_d);
    free(net->grid_p);
    free(net->coarse_d);
    free(net->tile_d);
    free(net->block_d);
    net->tile_d = net->block_d = NULL;
    if (net->cache) {
        free(net->cache->wide.d);
        free(net->cache->grid_l);
    }
    free(net->cache);
    net->cache = NULL;
    net->grid_d = net->grid_p = net->coarse_d = NULL;
}

/* ---- TDOA: pairs to per-receiver arrival times ------------------------------------ */

static int find(int *parent, int a)
{
    while (parent[a] != a)
        a = parent[a] = parent[parent[a]];
    return a;
}

/* Solve the symmetric positive definite system A x = b (n ≤ 64) in place. */
static int spd_solve(double *A, double *b, int n)
{
    gsl_matrix_view m = gsl_matrix_view_array(A, (size_t)n, (size_t)n);
    gsl_vector_view v = gsl_vector_view_array(b, (size_t)n);
    if (gsl_linalg_cholesky_decomp1(&m.matrix) != GSL_SUCCESS)
        return -1;
    return gsl_linalg_cholesky_svx(&m.matrix, &v.vector) == GSL_SUCCESS ? 0 : -1;
}

/* Per receiver variances v (s²) with sigma_ij² = v_i + v_j over the valid
 * pairs, ridge-regularised toward half the mean of each receiver's pairs
 * (a receiver pair alone cannot say which end is noisier). */
static int fit_variances(int R, int P, const int (*pr)[2], const uint8_t *ok, const double *sigma, double *v)
{
    double A[HD_MAX_STATIONS * HD_MAX_STATIONS], b[HD_MAX_STATIONS] = {0}, v0[HD_MAX_STATIONS] = {0};
    int cnt[HD_MAX_STATIONS] = {0};
    memset(A, 0, (size_t)R * R * sizeof *A); /* the R × R used, not all 64 × 64 */
    const double s = 1e18; /* ns² */
    for (int p = 0; p < P; p++) {
        if (!ok[p])
            continue;
        double q = sigma[p] * sigma[p] * s;
        for (int k = 0; k < 2; k++) {
            v0[pr[p][k]] += q / 2;
            cnt[pr[p][k]]++;
        }
    }
    for (int r = 0; r < R; r++)
        v0[r] = cnt[r] ? v0[r] / cnt[r] : 1;
    const double lambda = 1e-2;
    for (int p = 0; p < P; p++) {
        if (!ok[p])
            continue;
        int i = pr[p][0], j = pr[p][1];
        double q = sigma[p] * sigma[p] * s;
        A[i * R + i] += 1;
        A[j * R + j] += 1;
        A[i * R + j] += 1;
        A[j * R + i] += 1;
        b[i] += q;
        b[j] += q;
    }
    for (int r = 0; r < R; r++) {
        A[r * R + r] += lambda;
        b[r] += lambda * v0[r];
    }
    if (spd_solve(A, b, R) < 0)
        return -1;
    for (int r = 0; r < R; r++)
        v[r] = fmax(b[r], 0.1 * v0[r]) / s;
    return 0;
}

/* Relative arrival times from the valid pairs (ok[] updated: pairs outside
 * the largest connected set or inconsistent beyond outlier_sigma are
 * cleared). Returns the number of receivers in the set (their bits in
 * *nodes), T[r] in seconds with mean 0 over the set. */
static int pair_times(int R, int P, const int (*pr)[2], uint8_t *ok, const double *delay, const double *v,
                      double outlier_sigma, double *T, uint64_t *nodes)
{
    for (;;) {
        int parent[HD_MAX_STATIONS], size[HD_MAX_STATIONS] = {0}, npair[HD_MAX_STATIONS] = {0};
        for (int r = 0; r < R; r++)
            parent[r] = r;
        for (int p = 0; p < P; p++)
            if (ok[p]) {
                int a = find(parent, pr[p][0]), b = find(parent, pr[p][1]);
                if (a != b)
                    parent[a] = b;
            }
        for (int p = 0; p < P; p++)
            if (ok[p])
                npair[find(parent, pr[p][0])]++;
        for (int r = 0; r < R; r++)
            size[find(parent, r)]++;
        int best = -1;
        for (int r = 0; r < R; r++)
            if (parent[r] == r && npair[r] > 0 &&
                (best < 0 || size[r] > size[best] || (size[r] == size[best] && npair[r] > npair[best])))
                best = r;
        *nodes = 0;
        if (best < 0)
            return 0;
        int n = 0, idx[HD_MAX_STATIONS];
        for (int r = 0; r < R; r++) {
            idx[r] = -1;
            if (find(parent, r) == best) {
                idx[r] = n++;
                *nodes |= 1ull << r;
            }
        }
        for (int p = 0; p < P; p++) /* pairs outside the set are not used */
            if (ok[p] && idx[pr[p][0]] < 0)
                ok[p] = 0;
        /* weighted Laplacian (µs) plus the gauge term 11ᵀ/n (mean zero) */
        double L[HD_MAX_STATIONS * HD_MAX_STATIONS], b[HD_MAX_STATIONS] = {0};
        for (int a = 0; a < n * n; a++)
            L[a] = 1.0 / n;
        int used = 0;
        for (int p = 0; p < P; p++) {
            if (!ok[p])
                continue;
            int i = pr[p][0], j = pr[p][1], a = idx[i], c = idx[j];
            double w = 1.0 / ((v[i] + v[j]) * 1e12), dl = delay[p] * 1e6;
            L[a * n + a] += w;
            L[c * n + c] += w;
            L[a * n + c] -= w;
            L[c * n + a] -= w;
            b[a] -= w * dl;
            b[c] += w * dl;
            used++;
        }
        /* the Laplacian's scale is 1/σ², the gauge's 1/n: balance them */
        if (spd_solve(L, b, n) < 0)
            return -1;
        for (int r = 0; r < R; r++)
            T[r] = idx[r] >= 0 ? b[idx[r]] * 1e-6 : 0;
        if (used <= n - 1) /* a tree: no redundancy to judge a pair by */
            return n;
        int worst = -1;
        double wr = outlier_sigma;
        for (int p = 0; p < P; p++) {
            if (!ok[p])
                continue;
            int i = pr[p][0], j = pr[p][1];
            double z = fabs(delay[p] - (T[j] - T[i])) / sqrt(v[i] + v[j]);
            if (z > wr) {
                wr = z;
                worst = p;
            }
        }
        if (worst < 0)
            return n;
        ok[worst] = 0;
    }
}

/* ---- the least-squares problem ------------------------------------------------------ */

typedef struct {
    const hd_locate_net *net;
    double rx[HD_MAX_STATIONS][3];  /* receivers' ECEF for this event */
    uint64_t moving;         /* receivers whose position is the event's own */
    int use_t, use_r, fit_gamma;
    int it, ir, ig;          /* parameter indices of c·t0 (km), P (dBm), γ */
    int ia;                  /* of the height (km) when the event observes it (3-D), else -1 */
    int nt, nr, na;          /* residual counts (na: 1 with the height's pseudo-measurement) */
    double alt_km, asig_km;  /* the height observation and its sigma */
    int trx[HD_MAX_STATIONS], rrx[HD_MAX_STATIONS];
    double tau_km[HD_MAX_STATIONS], tsig_km[HD_MAX_STATIONS];
    double y_db[HD_MAX_STATIONS], rsig_db;
    double gamma;
    double reg[4];           /* the region searched (m): e_min, e_max, n_min, n_max */
    int grown;               /* coarse search: times the region grew */
    double gbest[8];         /* coarse search: the map's best point (the start held when a fit leaves the region) */
} problem;

static int np_of(const problem *pb)
{
    return 2 + pb->use_t + pb->use_r + pb->fit_gamma + (pb->ia >= 0);
}

/* Residual count: the timings, then the levels, then the height's pseudo-measurement. */
static int nr_of(const problem *pb)
{
    return pb->nt + pb->nr + pb->na;
}

/* Row buffers: every timing and level residual and the height. */
#define MAXROWS (2 * HD_MAX_STATIONS + 1)

/* Residuals f (may be NULL) and Jacobian J (may be NULL, row-major n×p) at x. */
static void eval_problem(const problem *pb, const double *x, double *f, double *J)
{
    const hd_locate_net *net = pb->net;
    double d[HD_MAX_STATIONS], dd[HD_MAX_STATIONS][2], dz[HD_MAX_STATIONS];
    if (pb->ia >= 0)
        ranges_3d(net, (const double(*)[3])pb->rx, x[0] * 1000, x[1] * 1000, x[pb->ia] * 1000, d, J ? dd : NULL,
                  J ? dz : NULL);
    else
        ranges(net, (const double(*)[3])pb->rx, x[0] * 1000, x[1] * 1000, d, J ? dd : NULL);
    int p = np_of(pb), row = 0;
    double gamma = pb->fit_gamma ? x[pb->ig] : pb->gamma;
    for (int k = 0; k < pb->nt; k++, row++) {
        int r = pb->trx[k];
        double s = pb->tsig_km[k];
        if (f)
            f[row] = (pb->tau_km[k] - x[pb->it] - d[r] / 1000) / s;
        if (J) {
            double *j = J + (size_t)row * p;
            memset(j, 0, (size_t)p * sizeof *j);
            j[0] = -dd[r][0] / s;
            j[1] = -dd[r][1] / s;
            j[pb->it] = -1 / s;
            if (pb->ia >= 0)
                j[pb->ia] = -dz[r] / s;
        }
    }
    for (int k = 0; k < pb->nr; k++, row++) {
        int r = pb->rrx[k];
        double s = pb->rsig_db, dm = fmax(d[r], 1.0), l = 10 * log10(dm);
        if (f)
            f[row] = (pb->y_db[k] - x[pb->ir] + gamma * l) / s;
        if (J) {
            double *j = J + (size_t)row * p;
            memset(j, 0, (size_t)p * sizeof *j);
            double g = 10 * gamma / LN10 / dm * 1000 / s; /* per km */
            j[0] = g * dd[r][0];
            j[1] = g * dd[r][1];
            j[pb->ir] = -1 / s;
            if (pb->fit_gamma)
                j[pb->ig] = l / s;
            if (pb->ia >= 0)
                j[pb->ia] = g * dz[r];
        }
    }
    if (pb->na) { /* the height observed: a pseudo-measurement */
        if (f)
            f[row] = (x[pb->ia] - pb->alt_km) / pb->asig_km;
        if (J) {
            double *j = J + (size_t)row * p;
            memset(j, 0, (size_t)p * sizeof *j);
            j[pb->ia] = 1 / pb->asig_km;
        }
    }
}

static int gsl_f(const gsl_vector *x, void *params, gsl_vector *f)
{
    eval_problem(params, x->data, f->data, NULL);
    return GSL_SUCCESS;
}

static int gsl_df(const gsl_vector *x, void *params, gsl_matrix *J)
{
    const problem *pb = params;
    int n = nr_of(pb), p = np_of(pb);
    double buf[MAXROWS * 8];
    eval_problem(pb, x->data, NULL, buf);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < p; k++)
            gsl_matrix_set(J, (size_t)i, (size_t)k, buf[i * p + k]);
    return GSL_SUCCESS;
}

/* At x: residuals f (may be NULL), Jacobian J (n×p) and N = (JᵀJ)⁻¹ (p×p);
 * 0 on success, -1 when JᵀJ is singular. */
static int normal_inverse(const problem *pb, const double *x, double *f, double *J, double *N)
{
    int n = nr_of(pb), p = np_of(pb);
    eval_problem(pb, x, f, J);
    memset(N, 0, (size_t)p * p * sizeof *N);
    for (int a = 0; a < p; a++)
        for (int b = 0; b < p; b++)
            for (int i = 0; i < n; i++)
                N[a * p + b] += J[i * p + a] * J[i * p + b];
    gsl_matrix_view m = gsl_matrix_view_array(N, (size_t)p, (size_t)p);
    if (gsl_linalg_cholesky_decomp1(&m.matrix) != GSL_SUCCESS || gsl_linalg_cholesky_invert(&m.matrix) != GSL_SUCCESS)
        return -1;
    return 0;
}

/* The 2×2 position block of (JᵀJ)⁻¹ (m²) at x; 0 on success. */
static int position_cov(const problem *pb, const double *x, double cov[3])
{
    int p = np_of(pb);
    double J[MAXROWS * 8], N[64];
    if (normal_inverse(pb, x, NULL, J, N) < 0)
        return -1;
    cov[0] = N[0] * 1e6;
    cov[1] = N[1] * 1e6;
    cov[2] = N[p + 1] * 1e6;
    return isfinite(cov[0]) && isfinite(cov[2]) && cov[0] > 0 && cov[2] > 0 ? 0 : -1;
}

/* 3-D: the height's variance (m²) and its covariances with east and north
 * (m²) at x, the other parameters marginalised; 0 on success. */
static int height_cov(const problem *pb, const double *x, double *var_h, double *c_eh, double *c_nh)
{
    int p = np_of(pb), a = pb->ia;
    double J[MAXROWS * 8], N[64];
    if (a < 0 || normal_inverse(pb, x, NULL, J, N) < 0)
        return -1;
    *var_h = N[a * p + a] * 1e6;
    *c_eh = N[a] * 1e6;
    *c_nh = N[p + a] * 1e6;
    return isfinite(*var_h) && *var_h > 0 ? 0 : -1;
}

/* The grid's cost at ranges d (m) of the event's receivers: the weighted
 * timing misfit with t0 at its best, plus the levels' with P at its best. */
static double grid_cost(const problem *pb, const double *d, const double *wt, double sw, double *t0o, double *p0o)
{
    double cost = 0, t0 = 0, p0 = 0;
    if (pb->nt) {
        for (int k = 0; k < pb->nt; k++)
            t0 += wt[k] * (pb->tau_km[k] - d[pb->trx[k]] / 1000);
        t0 /= sw;
        for (int k = 0; k < pb->nt; k++) {
            double e = pb->tau_km[k] - d[pb->trx[k]] / 1000 - t0;
            cost += wt[k] * e * e;
        }
    }
    if (pb->nr) {
        double l[HD_MAX_STATIONS];
        for (int k = 0; k < pb->nr; k++) {
            l[k] = pb->y_db[k] + pb->gamma * 10 * log10(fmax(d[pb->rrx[k]], 1.0));
            p0 += l[k];
        }
        p0 /= pb->nr;
        for (int k = 0; k < pb->nr; k++)
            cost += (l[k] - p0) * (l[k] - p0) / (pb->rsig_db * pb->rsig_db);
    }
    *t0o = t0;
    *p0o = p0;
    return cost;
}

/* 3-D grid search: the grid points within the event's receivers' box grown
 * by localize.margin_km, lifted along the ellipsoid's normal to the observed
 * height, every 10 km first; the K lowest local minima of that coarse map
 * (long narrow valleys of the timing misfit can hide the true basin between
 * coarse points, so more than one start is tried), each refined on every
 * grid point around it. Starts into x[k*8 …], best first; returns their
 * number (>= 1). */
#define N_STARTS 4
#define COARSE_M 20000.0   /* the coarse map's spacing (m) */
#define RETRY_M 5000.0     /* ... when no start from it gave agreeing residuals */

/* The grid's cost at grid point (ix, iy) lifted by dh metres along the
 * ellipsoid's normal (the event's observed height). */
static double lifted_cost(const problem *pb, int ix, int iy, double dh, const double *wt, double sw, const double *kr,
                          double *t0, double *p0)
{
    const hd_locate_net *net = pb->net;
    const double b2 = HD_WGS84_A * HD_WGS84_A * (1 - HD_WGS84_F) * (1 - HD_WGS84_F), a2 = HD_WGS84_A * HD_WGS84_A;
    double qb[3];
    const double *q0 = net->grid_p ? net->grid_p + ((size_t)iy * net->gx + ix) * 3 : qb;
    if (!net->grid_p) /* the coarse search's network: the same point, computed here */
        pos_ecef(net, net->gx0 + ix * net->gstep, net->gy0 + iy * net->gstep, qb);
    double nn[3] = {q0[0] / a2, q0[1] / a2, q0[2] / b2};
    double nl = dh / sqrt(nn[0] * nn[0] + nn[1] * nn[1] + nn[2] * nn[2]);
    double q[3] = {q0[0] + nn[0] * nl, q0[1] + nn[1] * nl, q0[2] + nn[2] * nl}, d[HD_MAX_STATIONS];
    for (int k = 0; k < pb->nt + pb->nr; k++) {
        int r = k < pb->nt ? pb->trx[k] : pb->rrx[k - pb->nt];
        d[r] = modelled_path(net, q, pb->rx[r]);
        if (kr)
            d[r] *= kr[r];
    }
    return grid_cost(pb, d, wt, sw, t0, p0);
}

static int grid_starts_3d(const problem *pb, double *x, int K, double coarse_m)
{
    const hd_locate_net *net = pb->net;
    double wt[HD_MAX_STATIONS], sw = 0, lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    double cap_lo[2] = {-INFINITY, -INFINITY}, cap_hi[2] = {INFINITY, INFINITY}, mr = net->cfg.max_range_km * 1000;
    for (int k = 0; k < pb->nt; k++) {
        wt[k] = 1 / (pb->tsig_km[k] * pb->tsig_km[k]);
        sw += wt[k];
    }
    for (int k = 0; k < pb->nt + pb->nr; k++) {
        int r = k < pb->nt ? pb->trx[k] : pb->rrx[k - pb->nt];
        double en[2] = {net->rx_en[r][0], net->rx_en[r][1]};
        if (pb->moving >> r & 1) {
            double lat, lon, h, enu[3];
            hd_geo_from_ecef(pb->rx[r], &lat, &lon, &h);
            hd_enu_from_geo(&net->frame, lat, lon, h, enu);
            en[0] = enu[0];
            en[1] = enu[1];
        }
        for (int c = 0; c < 2; c++)
            if (isfinite(en[c])) {
                lo[c] = fmin(lo[c], en[c]);
                hi[c] = fmax(hi[c], en[c]);
                if (mr > 0) { /* within max_range_km of every receiver: inside each one's square */
                    cap_lo[c] = fmax(cap_lo[c], en[c] - mr);
                    cap_hi[c] = fmin(cap_hi[c], en[c] + mr);
                }
            }
    }
    double m = net->cfg.margin_km * 1000, dh = pb->alt_km * 1000 - net->tx_alt_m;
    int i0[2] = {0, 0}, i1[2] = {net->gx - 1, net->gy - 1}, gn[2] = {net->gx, net->gy};
    double g0[2] = {net->gx0, net->gy0};
    for (int c = 0; c < 2 && isfinite(lo[0]) && isfinite(lo[1]); c++) {
        i0[c] = (int)fmax(0, floor((fmax(lo[c] - m, cap_lo[c]) - g0[c]) / net->gstep));
        i1[c] = (int)fmin(gn[c] - 1, ceil((fmin(hi[c] + m, cap_hi[c]) - g0[c]) / net->gstep));
        if (i1[c] < i0[c])
            i0[c] = 0, i1[c] = gn[c] - 1;
    }
    /* the refractivity's factor per receiver: the height is the event's for every point */
    double kr[HD_MAX_STATIONS];
    const double *krp = NULL;
    if (net->cfg.refractivity_n != 0) {
        for (int k = 0; k < pb->nt + pb->nr; k++) {
            int r = k < pb->nt ? pb->trx[k] : pb->rrx[k - pb->nt];
            kr[r] = 1 + path_refractivity(&net->cfg, net->rx_h[r], pb->alt_km * 1000);
        }
        krp = kr;
    }
    const int stride = (int)fmax(1, floor(coarse_m / net->gstep));
    const int cx = (i1[0] - i0[0]) / stride + 1, cy = (i1[1] - i0[1]) / stride + 1;
    double *cost = hd_malloc((size_t)cx * cy * sizeof *cost);
    if (K > N_STARTS)
        K = N_STARTS;
    int cand[N_STARTS], nc = 0;
    double ccost[N_STARTS];
    if (cost) {
        for (int jy = 0; jy < cy; jy++)
            for (int jx = 0; jx < cx; jx++) {
                double t0, p0;
                cost[jy * cx + jx] = lifted_cost(pb, i0[0] + jx * stride, i0[1] + jy * stride, dh, wt, sw, krp, &t0, &p0);
            }
        /* the local minima of the coarse map, the K lowest */
        for (int jy = 0; jy < cy; jy++)
            for (int jx = 0; jx < cx; jx++) {
                double c = cost[jy * cx + jx];
                int is_min = 1;
                for (int dy = -1; dy <= 1 && is_min; dy++)
                    for (int dx = -1; dx <= 1 && is_min; dx++) {
                        int ux = jx + dx, uy = jy + dy;
                        if ((dx || dy) && ux >= 0 && uy >= 0 && ux < cx && uy < cy && cost[uy * cx + ux] < c)
                            is_min = 0;
                    }
                if (!is_min || (nc == K && c >= ccost[nc - 1]))
                    continue;
                int at = nc < K ? nc++ : K - 1;
                while (at > 0 && ccost[at - 1] > c) {
                    ccost[at] = ccost[at - 1];
                    cand[at] = cand[at - 1];
                    at--;
                }
                ccost[at] = c;
                cand[at] = jy * cx + jx;
            }
        free(cost);
    }
    if (nc == 0) { /* no memory for the map: the box's centre */
        cand[0] = (cy / 2) * cx + cx / 2;
        nc = 1;
    }
    for (int c = 0; c < nc; c++) {
        int bx = i0[0] + (cand[c] % cx) * stride, by = i0[1] + (cand[c] / cx) * stride;
        double bestc = INFINITY, bt = 0, bp = 0;
        int fx = bx, fy = by;
        for (int iy = by - stride + 1; iy <= by + stride - 1; iy++)
            for (int ix = bx - stride + 1; ix <= bx + stride - 1; ix++) {
                if (ix < 0 || iy < 0 || ix >= net->gx || iy >= net->gy)
                    continue;
                double t0, p0, v = lifted_cost(pb, ix, iy, dh, wt, sw, krp, &t0, &p0);
                if (v < bestc) {
                    bestc = v;
                    fx = ix;
                    fy = iy;
                    bt = t0;
                    bp = p0;
                }
            }
        double *xc = x + (size_t)c * 8;
        memset(xc, 0, 8 * sizeof *xc);
        xc[0] = (net->gx0 + fx * net->gstep) / 1000;
        xc[1] = (net->gy0 + fy * net->gstep) / 1000;
        if (pb->use_t)
            xc[pb->it] = bt;
        if (pb->use_r)
            xc[pb->ir] = bp;
        if (pb->fit_gamma)
            xc[pb->ig] = pb->gamma;
        xc[pb->ia] = pb->alt_km;
    }
    return nc;
}

static void grid_start_3d(const problem *pb, double *x)
{
    double xs[N_STARTS * 8];
    grid_starts_3d(pb, xs, 1, COARSE_M);
    memcpy(x, xs, 8 * sizeof *x);
}

/* The grid point g's parameters (its emission time t0 and source term p0
 * as the cost fitted them) into x. */
static void grid_best(const problem *pb, int g, double t0, double p0, double *x)
{
    const hd_locate_net *net = pb->net;
    x[0] = (net->gx0 + (g % net->gx) * net->gstep) / 1000;
    x[1] = (net->gy0 + (g / net->gx) * net->gstep) / 1000;
    if (pb->use_t)
        x[pb->it] = t0;
    if (pb->use_r)
        x[pb->ir] = p0;
    if (pb->fit_gamma)
        x[pb->ig] = pb->gamma;
}

/* order[0..n) sorted by key[order[i]], rising (a shell sort: a few
 * hundred tiles) */
static void sort_by_key(int *order, int n, const double *key)
{
    static const int gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t gi = 0; gi < sizeof gaps / sizeof gaps[0]; gi++) {
        int gap = gaps[gi];
        for (int i = gap; i < n; i++) {
            int v = order[i], j = i;
            for (; j >= gap && key[order[j - gap]] > key[v]; j -= gap)
                order[j] = order[j - gap];
            order[j] = v;
        }
    }
}

/* The bound on the timing cost (interval_bound) over points whose ranges
 * lie in spans[R][2] (km). */
static double span_bound(const problem *pb, const double *wt, const double *spans)
{
    double a[HD_MAX_STATIONS], b[HD_MAX_STATIONS];
    for (int k = 0; k < pb->nt; k++) { /* the residual tau - d over the spans */
        a[k] = pb->tau_km[k] - spans[pb->trx[k] * 2 + 1];
        b[k] = pb->tau_km[k] - spans[pb->trx[k] * 2];
    }
    return interval_bound(pb->nt, wt, a, b);
}

/* The timing cost at every point of tile t, the best point (first of least
 * cost in grid order) and its emission time kept in *bestc, *best, *bt:
 * the sums of the scan of every point, in the same order. */
static void scan_tile(const problem *pb, int t, const double *wt, double sw, double *bestc, int *best, double *bt)
{
    const hd_locate_net *net = pb->net;
    const size_t G = (size_t)net->G;
    enum { TP = TILE * TILE };
    double tb[TP], cb[TP];
    int x0 = (t % net->tx) * TILE, y0 = (t / net->tx) * TILE;
    int w = net->gx - x0 < TILE ? net->gx - x0 : TILE, h = net->gy - y0 < TILE ? net->gy - y0 : TILE;
    for (int j = 0; j < TP; j++)
        tb[j] = cb[j] = 0;
    for (int k = 0; k < pb->nt; k++) {
        const double *dk = net->grid_d + (size_t)pb->trx[k] * G + (size_t)y0 * net->gx + x0;
        const double wk = wt[k], tau = pb->tau_km[k];
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                tb[iy * TILE + ix] += wk * (tau - dk[(size_t)iy * net->gx + ix]);
    }
    for (int j = 0; j < TP; j++)
        tb[j] /= sw;
    for (int k = 0; k < pb->nt; k++) {
        const double *dk = net->grid_d + (size_t)pb->trx[k] * G + (size_t)y0 * net->gx + x0;
        const double wk = wt[k], tau = pb->tau_km[k];
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++) {
                double e = tau - dk[(size_t)iy * net->gx + ix] - tb[iy * TILE + ix];
                cb[iy * TILE + ix] += wk * e * e;
            }
    }
    for (int iy = 0; iy < h; iy++)
        for (int ix = 0; ix < w; ix++) {
            double c = cb[iy * TILE + ix];
            int g = (y0 + iy) * net->gx + x0 + ix;
            if (c < *bestc || (c == *bestc && g < *best)) {
                *bestc = c;
                *best = g;
                *bt = tb[iy * TILE + ix];
            }
        }
}

/* The dense grid's 10 log10 of the ranges in m (the RSS model's), [R][G],
 * made by the first event with levels and kept (NULL without memory). */
/* Grid point g's 10 log10 of the ranges in m, receiver r's at l[r * stride]. */
static void point_levels(const hd_locate_net *net, int g, double *l, size_t stride)
{
    double d[HD_MAX_STATIONS];
    ranges(net, (const double(*)[3])net->rx_ecef, net->gx0 + (g % net->gx) * net->gstep,
           net->gy0 + (g / net->gx) * net->gstep, d, NULL);
    for (int r = 0; r < net->R; r++)
        l[(size_t)r * stride] = 10 * log10(fmax(d[r], 1.0));
}

static const double *grid_levels(const hd_locate_net *net)
{
    struct hd_locate_cache *c = net->cache;
    if (c->grid_l || !(c->grid_l = hd_malloc((size_t)net->G * net->R * sizeof *c->grid_l)))
        return c->grid_l;
    for (int g = 0; g < net->G; g++)
        point_levels(net, g, c->grid_l + g, (size_t)net->G);
    return c->grid_l;
}

/* Grid search: the best point's parameters into x. */
/* The scan is compiled for x86-64-v4 (AVX-512), AVX2 and any x86-64, and
 * the loader picks one (GCC's target_clones, as src/nn/nn.c): without FMA
 * contraction (none in ISO C mode) every point takes the same IEEE
 * operations in each clone, so the costs and the best point are the same. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define HD_LOCATE_VEC __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define HD_LOCATE_VEC
#endif
HD_LOCATE_VEC static void grid_start(const problem *pb, double *x)
{
    if (pb->ia >= 0) {
        grid_start_3d(pb, x);
        return;
    }
    const hd_locate_net *net = pb->net;
    int R = net->R, best = 0;
    double bestc = INFINITY, bt = 0, bp = 0;
    double wt[HD_MAX_STATIONS], sw = 0;
    for (int k = 0; k < pb->nt; k++) {
        wt[k] = 1 / (pb->tsig_km[k] * pb->tsig_km[k]);
        sw += wt[k];
    }
    const size_t G = (size_t)net->G;
    const double *grid_lv = pb->nr ? grid_levels(net) : NULL;
    if (!pb->moving && !pb->nr && pb->nt > 0) {
        /* time differences alone, no receiver moved: the cost of every grid
         * point that can be the best, as before (the same sums in the same
         * order at every point as below: the same costs), block by block
         * and within a block tile by tile, each from the one of least bound
         * on; a block or tile passed over when no point in it can cost less
         * than the best point found (its bound from the ranges' spans, with
         * room for rounding). The best point is the first of least cost in
         * grid order, whatever the order the tiles were scanned in: the same
         * best point as a scan of every point. */
        const int nblock = net->grid_exhaustive ? 0 : net->bx * net->by;
        double *blb = nblock ? hd_malloc((size_t)nblock * sizeof *blb) : NULL;
        int *border = nblock ? hd_malloc((size_t)nblock * sizeof *border) : NULL;
        if (blb && border) {
            for (int q = 0; q < nblock; q++) {
                blb[q] = span_bound(pb, wt, net->block_d + (size_t)q * R * 2);
                border[q] = q;
            }
            sort_by_key(border, nblock, blb);
            for (int o = 0; o < nblock && !(blb[border[o]] * (1 - 1e-9) - 1e-9 > bestc); o++) {
                int q = border[o], x0 = (q % net->bx) * BLOCK, y0 = (q / net->bx) * BLOCK, nq = 0;
                int tiles[BLOCK * BLOCK], tid[BLOCK * BLOCK];
                double tlb[BLOCK * BLOCK];
                for (int ty = y0; ty < y0 + BLOCK && ty < net->ty; ty++)
                    for (int tx = x0; tx < x0 + BLOCK && tx < net->tx; tx++) {
                        tid[nq] = ty * net->tx + tx;
                        tlb[nq] = span_bound(pb, wt, net->tile_d + (size_t)tid[nq] * R * 2);
                        tiles[nq] = nq;
                        nq++;
                    }
                sort_by_key(tiles, nq, tlb);
                for (int j = 0; j < nq && !(tlb[tiles[j]] * (1 - 1e-9) - 1e-9 > bestc); j++)
                    scan_tile(pb, tid[tiles[j]], wt, sw, &bestc, &best, &bt);
            }
            free(blb);
            free(border);
            grid_best(pb, best, bt, bp, x);
            return;
        }
        free(blb);
        free(border);
    }
    if (!pb->moving && (!pb->nr || grid_lv)) {
        /* no receiver moved (and no bound passed over points, or there is
         * no memory for the bounds' order): the cost along g in blocks,
         * receiver by receiver, times then levels (the same sums in the
         * same order at every point as below: the same costs, the same
         * best point) */
        enum { BG = 256 };
        double tb[BG], qb[BG], cb[BG];
        const double rs2 = pb->rsig_db * pb->rsig_db;
        for (size_t g0 = 0; g0 < G; g0 += BG) {
            size_t nb = G - g0 < BG ? G - g0 : BG;
            for (size_t j = 0; j < nb; j++)
                tb[j] = qb[j] = cb[j] = 0;
            if (pb->nt) {
                for (int k = 0; k < pb->nt; k++) {
                    const double *dk = net->grid_d + (size_t)pb->trx[k] * G + g0, w = wt[k], tau = pb->tau_km[k];
                    for (size_t j = 0; j < nb; j++)
                        tb[j] += w * (tau - dk[j]);
                }
                for (size_t j = 0; j < nb; j++)
                    tb[j] /= sw;
                for (int k = 0; k < pb->nt; k++) {
                    const double *dk = net->grid_d + (size_t)pb->trx[k] * G + g0, w = wt[k], tau = pb->tau_km[k];
                    for (size_t j = 0; j < nb; j++) {
                        double e = tau - dk[j] - tb[j];
                        cb[j] += w * e * e;
                    }
                }
            }
            if (pb->nr) {
                for (int k = 0; k < pb->nr; k++) {
                    const double *lk = grid_lv + (size_t)pb->rrx[k] * G + g0, y = pb->y_db[k], ga = pb->gamma;
                    for (size_t j = 0; j < nb; j++)
                        qb[j] += y + ga * lk[j];
                }
                for (size_t j = 0; j < nb; j++)
                    qb[j] /= pb->nr;
                for (int k = 0; k < pb->nr; k++) {
                    const double *lk = grid_lv + (size_t)pb->rrx[k] * G + g0, y = pb->y_db[k], ga = pb->gamma;
                    for (size_t j = 0; j < nb; j++) {
                        double e = y + ga * lk[j] - qb[j];
                        cb[j] += e * e / rs2;
                    }
                }
            }
            for (size_t j = 0; j < nb; j++)
                if (cb[j] < bestc) {
                    bestc = cb[j];
                    best = (int)(g0 + j);
                    bt = tb[j];
                    bp = qb[j];
                }
        }
        grid_best(pb, best, bt, bp, x);
        return;
    }
    /* this point's ranges in km (dk) and for the levels 10 log10 of them in m (lm) */
    double dk[HD_MAX_STATIONS], lm[HD_MAX_STATIONS];
    for (int g = 0; g < net->G; g++) {
        for (int r = 0; r < R; r++) /* receiver-major grids */
            dk[r] = net->grid_d[(size_t)r * G + g];
        if (grid_lv)
            for (int r = 0; r < R; r++)
                lm[r] = grid_lv[(size_t)r * G + g];
        else if (pb->nr) /* no memory for the levels' grid: made here, the same numbers */
            point_levels(net, g, lm, 1);
        if (pb->moving) { /* receivers that moved: their ranges here and now */
            const double *q = net->grid_p + (size_t)g * 3;
            for (int r = 0; r < R; r++) {
                if (pb->moving >> r & 1) {
                    double dm = sqrt((q[0] - pb->rx[r][0]) * (q[0] - pb->rx[r][0]) +
                                     (q[1] - pb->rx[r][1]) * (q[1] - pb->rx[r][1]) +
                                     (q[2] - pb->rx[r][2]) * (q[2] - pb->rx[r][2]));
                    if (net->cfg.propagation == HD_LPROP_HF) {
                        double k;
                        dm = hf_group(&net->cfg, dm, &k, NULL);
                    }
                    dk[r] = dm / 1000;
                    lm[r] = 10 * log10(fmax(dm, 1.0));
                }
            }
        }
        const double *lgrid = lm;
        double cost = 0, t0 = 0, p0 = 0;
        if (pb->nt) {
            for (int k = 0; k < pb->nt; k++)
                t0 += wt[k] * (pb->tau_km[k] - dk[pb->trx[k]]);
            t0 /= sw;
            for (int k = 0; k < pb->nt; k++) {
                double e = pb->tau_km[k] - dk[pb->trx[k]] - t0;
                cost += wt[k] * e * e;
            }
        }
        if (pb->nr) {
            double l[HD_MAX_STATIONS];
            for (int k = 0; k < pb->nr; k++) {
                int r = pb->rrx[k];
                double lg = lgrid[r]; /* a moving receiver's made above from its range here */
                l[k] = pb->y_db[k] + pb->gamma * lg;
                p0 += l[k];
            }
            p0 /= pb->nr;
            for (int k = 0; k < pb->nr; k++)
                cost += (l[k] - p0) * (l[k] - p0) / (pb->rsig_db * pb->rsig_db);
        }
        if (cost < bestc) {
            bestc = cost;
            best = g;
            bt = t0;
            bp = p0;
        }
    }
    grid_best(pb, best, bt, bp, x);
}

/* ---- the coarse-to-fine 2-D search -------------------------------------------------- */

static int lm_solve(problem *pb, double *x, double *xs, double cov[3]);
static double chi2_at(const problem *pb, const double *x);

#define COARSE_K 4    /* its lowest local minima, each refined and fitted */

static void cost_weights(const problem *pb, double *wt, double *sw)
{
    *sw = 0;
    for (int k = 0; k < pb->nt; k++) {
        wt[k] = 1 / (pb->tsig_km[k] * pb->tsig_km[k]);
        *sw += wt[k];
    }
}

/* The grid's cost at frame point (e, n) (m), computed there. */
static double point_cost(const problem *pb, double e, double n, const double *wt, double sw, double *t0, double *p0)
{
    double d[HD_MAX_STATIONS];
    ranges(pb->net, (const double(*)[3])pb->rx, e, n, d, NULL);
    return grid_cost(pb, d, wt, sw, t0, p0);
}

/* The parameters of a start at (e, n) (m): the emission time and source
 * term at their best there. */
static void start_at(const problem *pb, double e, double n, double *x)
{
    double wt[HD_MAX_STATIONS], sw, t0, p0;
    cost_weights(pb, wt, &sw);
    point_cost(pb, e, n, wt, sw, &t0, &p0);
    memset(x, 0, 8 * sizeof *x);
    x[0] = e / 1000;
    x[1] = n / 1000;
    if (pb->use_t)
        x[pb->it] = t0;
    if (pb->use_r)
        x[pb->ir] = p0;
    if (pb->fit_gamma)
        x[pb->ig] = pb->gamma;
}

/* A coarse map of COARSE_N points along the longer side of region reg,
 * its K lowest local minima each refined by maps a quarter as coarse
 * around the best point down to grid_step_km. Starts into x[k*8 …], best
 * first; returns their number, < 0 on allocation failure; *edge 1 when the
 * map's best point lies on the region's edge. */
static int coarse_starts(const problem *pb, const double reg[4], int K, double *x, int *edge, hd_locate_map *memo)
{
    const hd_locate_net *net = pb->net;
    double wt[HD_MAX_STATIONS], sw, t0, p0;
    cost_weights(pb, wt, &sw);
    double s, ox, oy;
    int cx, cy;
    coarse_geometry(net, reg, &s, &cx, &cy, &ox, &oy);
    double *cost = hd_malloc((size_t)cx * cy * sizeof *cost);
    if (!cost)
        return HD_ENOMEM;
    /* the network's own region with fixed receivers: the ranges made once
     * (hd_locate_net_init), as the dense grid's are */
    const double *cd = net->coarse_d && !pb->moving && reg[0] == net->e_min && reg[1] == net->e_max &&
                               reg[2] == net->n_min && reg[3] == net->n_max && cx == net->coarse_cx &&
                               cy == net->coarse_cy
                           ? net->coarse_d
                           : NULL;
    /* a map the caller keeps (memo): its ranges made by the first call over
     * that region with fixed receivers, the same numbers as point_cost's */
    if (!cd && memo && !pb->moving) {
        if (!memo->d && (memo->d = hd_malloc((size_t)cx * cy * net->R * sizeof *memo->d))) {
            memcpy(memo->reg, reg, sizeof memo->reg);
            memo->cx = cx;
            memo->cy = cy;
            for (int jy = 0; jy < cy; jy++)
                for (int jx = 0; jx < cx; jx++)
                    ranges(net, (const double(*)[3])net->rx_ecef, ox + jx * s, oy + jy * s,
                           memo->d + (size_t)(jy * cx + jx) * net->R, NULL);
        }
        if (memo->d && !memcmp(memo->reg, reg, sizeof memo->reg) && memo->cx == cx && memo->cy == cy)
            cd = memo->d;
    }
    for (int jy = 0; jy < cy; jy++)
        for (int jx = 0; jx < cx; jx++)
            cost[jy * cx + jx] = cd ? grid_cost(pb, cd + (size_t)(jy * cx + jx) * net->R, wt, sw, &t0, &p0)
                                    : point_cost(pb, ox + jx * s, oy + jy * s, wt, sw, &t0, &p0);
    if (K > COARSE_K)
        K = COARSE_K;
    int cand[COARSE_K], nc = 0;
    double ccost[COARSE_K];
    for (int jy = 0; jy < cy; jy++)
        for (int jx = 0; jx < cx; jx++) {
            double c = cost[jy * cx + jx];
            int is_min = isfinite(c);
            for (int dy = -1; dy <= 1 && is_min; dy++)
                for (int dx = -1; dx <= 1 && is_min; dx++) {
                    int ux = jx + dx, uy = jy + dy;
                    if ((dx || dy) && ux >= 0 && uy >= 0 && ux < cx && uy < cy && cost[uy * cx + ux] < c)
                        is_min = 0;
                }
            if (!is_min || (nc == K && c >= ccost[nc - 1]))
                continue;
            int at = nc < K ? nc++ : K - 1;
            while (at > 0 && ccost[at - 1] > c) {
                ccost[at] = ccost[at - 1];
                cand[at] = cand[at - 1];
                at--;
            }
            ccost[at] = c;
            cand[at] = jy * cx + jx;
        }
    free(cost);
    if (nc == 0) { /* no finite cost anywhere: the region's centre */
        cand[0] = (cy / 2) * cx + cx / 2;
        ccost[0] = INFINITY;
        nc = 1;
    }
    *edge = cand[0] % cx == 0 || cand[0] % cx == cx - 1 || cand[0] / cx == 0 || cand[0] / cx == cy - 1;
    for (int c = 0; c < nc; c++) {
        double be = ox + (cand[c] % cx) * s, bn = oy + (cand[c] / cx) * s, bc = ccost[c];
        for (double st = s; st > net->gstep;) {
            double ns = fmax(net->gstep, st / 4);
            int w = (int)ceil(st / ns);
            double ce = be, cn = bn;
            for (int dy = -w; dy <= w; dy++)
                for (int dx = -w; dx <= w; dx++) {
                    double e = ce + dx * ns, n = cn + dy * ns, v = point_cost(pb, e, n, wt, sw, &t0, &p0);
                    if (v < bc) {
                        bc = v;
                        be = e;
                        bn = n;
                    }
                }
            st = ns;
        }
        start_at(pb, be, bn, x + (size_t)c * 8);
    }
    return nc;
}

/* Receiver r's east and north in the network's plane (km): the network's,
 * or this event's own for a moving receiver. */
static void rx_plane_km(const problem *pb, int r, double en[2])
{
    const hd_locate_net *net = pb->net;
    en[0] = net->rx_en[r][0] / 1000;
    en[1] = net->rx_en[r][1] / 1000;
    if (pb->moving >> r & 1) {
        double lat, lon, h, enu[3];
        hd_geo_from_ecef(pb->rx[r], &lat, &lon, &h);
        hd_enu_from_geo(&net->frame, lat, lon, h, enu);
        en[0] = enu[0] / 1000;
        en[1] = enu[1] / 1000;
    }
}

/* 2-D, timings only, three receivers (two independent time differences):
 * both intersections of the hyperbolas in the tangent plane, closed form,
 * as starts into x[8 * k]. Returns how many (0 to 2). With y the position
 * less receiver 0's, s_k receiver k's less receiver 0's and rho the
 * emission's range offset, the ranges |y - s_k| = tau_k - rho give, less
 * the first, two linear equations s_k . y = c_k + rho d_k: y = a + rho b,
 * and |a + rho b| = tau_0 - rho a quadratic in rho, its roots taken without
 * cancellation. (Bancroft's form before, in the plane's own origin, was
 * singular when that origin was the three receivers' centroid, as on a
 * sparse file's event network: no start, and a second crossing 5 km from
 * the first went unflagged.) */
static int plane_starts(const problem *pb, double *x)
{
    if (pb->nt != 3 || pb->use_r)
        return 0;
    double r[3][2], t[3];
    for (int k = 0; k < 3; k++) {
        rx_plane_km(pb, pb->trx[k], r[k]);
        t[k] = pb->tau_km[k];
    }
    double s[2][2], c[2], d[2];
    for (int k = 0; k < 2; k++) {
        s[k][0] = r[k + 1][0] - r[0][0];
        s[k][1] = r[k + 1][1] - r[0][1];
        c[k] = 0.5 * (s[k][0] * s[k][0] + s[k][1] * s[k][1] - t[k + 1] * t[k + 1] + t[0] * t[0]);
        d[k] = t[k + 1] - t[0];
    }
    double det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    double scale = hypot(s[0][0], s[0][1]) * hypot(s[1][0], s[1][1]);
    if (!(fabs(det) > 1e-9 * scale)) /* the receivers in a line */
        return 0;
    double a[2] = {(c[0] * s[1][1] - c[1] * s[0][1]) / det, (s[0][0] * c[1] - s[1][0] * c[0]) / det};
    double b[2] = {(d[0] * s[1][1] - d[1] * s[0][1]) / det, (s[0][0] * d[1] - s[1][0] * d[0]) / det};
    /* |a + rho b|^2 = (tau_0 - rho)^2: qa rho^2 + qb rho + qc = 0 */
    double qa = b[0] * b[0] + b[1] * b[1] - 1, qb = 2 * (a[0] * b[0] + a[1] * b[1] + t[0]);
    double qc = a[0] * a[0] + a[1] * a[1] - t[0] * t[0];
    double roots[2];
    int nr = 0;
    if (qa == 0) {
        if (qb != 0)
            roots[nr++] = -qc / qb;
    } else {
        double disc = qb * qb - 4 * qa * qc;
        if (!(disc >= 0))
            return 0;
        double q = -0.5 * (qb + copysign(sqrt(disc), qb));
        roots[nr++] = q / qa;
        if (q != 0)
            roots[nr++] = qc / q;
    }
    int ns = 0;
    for (int w = 0; w < nr; w++) {
        double rho = roots[w], e = r[0][0] + a[0] + rho * b[0], n = r[0][1] + a[1] + rho * b[1];
        int real = isfinite(e) && isfinite(n);
        for (int k = 0; k < 3 && real; k++) /* the squared equations' other branch: a negative range */
            real = t[k] - rho > 0;
        if (real)
            start_at(pb, e * 1000, n * 1000, x + 8 * ns++);
    }
    return ns;
}

static int inside(const double reg[4], const double *x)
{
    return x[0] * 1000 >= reg[0] && x[0] * 1000 <= reg[1] && x[1] * 1000 >= reg[2] && x[1] * 1000 <= reg[3];
}

/* The coarse search: the map over the region, grown (each side by half
 * the region's size, to localize.max_region_km at most) while its best
 * point lies on the edge; then Levenberg–Marquardt from each local
 * minimum (and, with three receivers timed, from both plane intersections),
 * the converged fit of least chi² inside the region kept. */
static int solve_coarse(problem *pb, double *xs, double cov[3])
{
    const hd_locate_net *net = pb->net;
    double x0[(COARSE_K + 2) * 8], maxr = net->cfg.max_region_km * 1000;
    int nc, edge;
    for (;;) {
        if ((nc = coarse_starts(pb, pb->reg, COARSE_K, x0, &edge, NULL)) < 0)
            return nc;
        double side = fmax(pb->reg[1] - pb->reg[0], pb->reg[3] - pb->reg[2]);
        if (!edge || !(maxr > side))
            break;
        double g = fmin(0.5 * side, 0.5 * (maxr - side));
        pb->reg[0] -= g;
        pb->reg[1] += g;
        pb->reg[2] -= g;
        pb->reg[3] += g;
        pb->grown++;
    }
    memcpy(pb->gbest, x0, sizeof pb->gbest);
    nc += plane_starts(pb, x0 + (size_t)nc * 8);
    double best = INFINITY;
    int found = 0;
    for (int c = 0; c < nc; c++) {
        double x[8], c3[3];
        int rc = lm_solve(pb, x0 + (size_t)c * 8, x, c3);
        if (rc < 0)
            return rc;
        if (rc != 0 || !inside(pb->reg, x))
            continue;
        double v = chi2_at(pb, x);
        if (v < best) {
            best = v;
            memcpy(xs, x, sizeof x);
            memcpy(cov, c3, sizeof c3);
            found = 1;
        }
    }
    if (!found) /* no fit stayed inside: the best start's fit, judged as before */
        return lm_solve(pb, pb->gbest, xs, cov);
    return 0;
}

/* The exactly determined 2-D case (three receivers timed, no levels, no
 * spare residual): the other intersection of the hyperbolas, when one
 * exists inside the region and fits as well (chi² below AMBIG_CHI2) at
 * more than three sigma and two grid steps from xs. 1 with it in x2. */
#define AMBIG_CHI2 1e-3
static int other_solution(problem *pb, const double *xs, const double cov[3], double *x2)
{
    if (pb->ia >= 0 || pb->nt != 3 || pb->use_r || nr_of(pb) != np_of(pb))
        return 0;
    if (!(chi2_at(pb, xs) < AMBIG_CHI2))
        return 0;
    double sep = fmax(3 * sqrt(cov[0] + cov[2]), 2 * pb->net->gstep);
    /* where the other crossing may lie: anywhere the search could have grown
     * to (not only the region grown around the first), km from its centre */
    double half = 0.5 * pb->net->cfg.max_region_km, cx = 0.5e-3 * (pb->reg[0] + pb->reg[1]),
           cy = 0.5e-3 * (pb->reg[2] + pb->reg[3]);
    /* starts: the plane's closed-form crossings, then a coarse map over
     * that whole area (the plane's are poor over continental baselines) */
    double st[(2 + COARSE_K) * 8];
    int ns = plane_starts(pb, st), edge;
    if (half > 0) {
        double big[4] = {(cx - half) * 1000, (cx + half) * 1000, (cy - half) * 1000, (cy + half) * 1000};
        int nc = coarse_starts(pb, big, COARSE_K, st + 8 * ns, &edge, &pb->net->cache->wide);
        ns += nc > 0 ? nc : 0;
    }
    for (int k = 0; k < ns; k++) {
        double x[8], c3[3];
        if (lm_solve(pb, st + 8 * k, x, c3) != 0 ||
            !(half > 0 ? hypot(x[0] - cx, x[1] - cy) <= half : inside(pb->reg, x)) || !(chi2_at(pb, x) < AMBIG_CHI2))
            continue;
        if (hypot(x[0] - xs[0], x[1] - xs[1]) * 1000 > sep) {
            memcpy(x2, x, 8 * sizeof *x);
            return 1;
        }
    }
    return 0;
}

/* GDOP: sqrt of the trace of the unweighted geometry's position block. */
static double gdop_of(const problem *pb, const double *x)
{
    problem u = *pb;
    if (u.na) { /* 3-D: the height observation keeps its weight relative to the timings */
        double m = 0;
        for (int k = 0; k < u.nt; k++)
            m += u.tsig_km[k] * u.tsig_km[k];
        u.asig_km = u.nt ? u.asig_km / sqrt(m / u.nt) * 1e-3 : 1e-3;
    }
    for (int k = 0; k < u.nt; k++)
        u.tsig_km[k] = 1e-3; /* per metre of range error */
    u.rsig_db = 1;
    double cov[3];
    return position_cov(&u, x, cov) == 0 ? sqrt(cov[0] + cov[2]) : INFINITY;
}

/* 3-D: VDOP, the height's standard deviation per unit range error (the
 * height observation weighted as in gdop_of). */
static double vdop_of(const problem *pb, const double *x)
{
    problem u = *pb;
    double m = 0, vh, a, b;
    for (int k = 0; k < u.nt; k++)
        m += u.tsig_km[k] * u.tsig_km[k];
    u.asig_km = u.nt ? u.asig_km / sqrt(m / u.nt) * 1e-3 : 1e-3;
    for (int k = 0; k < u.nt; k++)
        u.tsig_km[k] = 1e-3;
    u.rsig_db = 1;
    return height_cov(&u, x, &vh, &a, &b) == 0 ? sqrt(vh) : INFINITY;
}

/* ---- the public solver ---------------------------------------------------------------- */

/* The receivers' positions for an event: the network's, or the event's own
 * where obs gives them (a receiver on a bus). */
static void set_positions(const hd_locate_net *net, const hd_locate_obs *obs, problem *pb)
{
    memcpy(pb->rx, net->rx_ecef, sizeof pb->rx);
    pb->moving = 0;
    for (int r = 0; obs && obs->rx_lat && r < net->R; r++)
        if (isfinite(obs->rx_lat[r]) && isfinite(obs->rx_lon[r]) &&
            (obs->rx_lat[r] != net->rx_lat[r] || obs->rx_lon[r] != net->rx_lon[r])) {
            hd_geo_to_ecef(obs->rx_lat[r], obs->rx_lon[r], net->rx_h[r], pb->rx[r]);
            pb->moving |= 1ull << r;
        }
}

static int set_up(const hd_locate_net *net, const hd_locate_obs *obs, int method, hd_locate_result *res, problem *pb)
{
    const int R = net->R, P = hd_features_npairs(R), F = HD_FEAT_COUNT;
    const hd_localize_cfg *cfg = &net->cfg;
    memset(pb, 0, sizeof *pb);
    pb->net = net;
    pb->reg[0] = net->e_min;
    pb->reg[1] = net->e_max;
    pb->reg[2] = net->n_min;
    pb->reg[3] = net->n_max;
    set_positions(net, obs, pb);
    pb->use_t = method == HD_LOC_TDOA || method == HD_LOC_HYBRID;
    pb->use_r = method == HD_LOC_RSS || method == HD_LOC_HYBRID;
    if (pb->use_t && P > 0 && obs->tmask) {
        int(*pr)[2] = hd_malloc((size_t)P * sizeof *pr);
        uint8_t *ok = hd_malloc((size_t)P);
        if (!pr || !ok) {
            free(pr);
            free(ok);
            return HD_ENOMEM;
        }
        int any = 0;
        for (int p = 0; p < P; p++) {
            hd_features_pair(R, p, &pr[p][0], &pr[p][1]);
            ok[p] = obs->tmask[p] && obs->mask[pr[p][0]] && obs->mask[pr[p][1]] && isfinite(obs->delay_s[p]) &&
                    obs->sigma_s[p] > 0 && isfinite(obs->sigma_s[p]);
            any |= ok[p];
        }
        double v[HD_MAX_STATIONS], T[HD_MAX_STATIONS];
        uint64_t nodes = 0;
        int n = 0;
        if (any && fit_variances(R, P, (const int(*)[2])pr, ok, obs->sigma_s, v) == 0)
            n = pair_times(R, P, (const int(*)[2])pr, ok, obs->delay_s, v, cfg->outlier_sigma, T, &nodes);
        for (int p = 0; p < P; p++)
            res->n_pairs += ok[p];
        free(pr);
        free(ok);
        if (n < 0)
            return HD_EDATA;
        double model = cfg->model_sigma_ns * 1e-9;
        for (int r = 0; r < R; r++) {
            if (!(nodes >> r & 1) || !isfinite(pb->rx[r][0]))
                continue;
            res->toa_s[r] = T[r];
            res->toa_var_meas[r] = v[r];
            res->toa_var[r] = v[r] + model * model;
            pb->trx[pb->nt] = r;
            pb->tau_km[pb->nt] = T[r] * C_KM_S;
            pb->tsig_km[pb->nt] = sqrt(res->toa_var[r]) * C_KM_S;
            pb->nt++;
        }
        res->timed = nodes;
    }
    if (pb->use_r) {
        pb->rsig_db = cfg->rss_sigma_db;
        pb->gamma = cfg->rss_exponent;
        pb->fit_gamma = cfg->rss_fit_exponent;
        for (int r = 0; r < R; r++) {
            double y = obs->feat[(size_t)r * F + HD_FEAT_RSS_DBM];
            if (!obs->mask[r] || !isfinite(y) || !isfinite(pb->rx[r][0]))
                continue;
            pb->rrx[pb->nr] = r;
            pb->y_db[pb->nr] = y - (cfg->n_rss_offsets ? cfg->rss_offsets_db[r] : 0);
            pb->nr++;
            res->leveled |= 1ull << r;
        }
    }
    /* hybrid: a kind of measurement the event lacks takes its parameter along */
    if (method == HD_LOC_HYBRID && pb->nt == 0)
        pb->use_t = 0;
    if (method == HD_LOC_HYBRID && pb->nr == 0)
        pb->use_r = pb->fit_gamma = 0;
    int k = 2;
    pb->it = pb->use_t ? k++ : -1;
    pb->ir = pb->use_r ? k++ : -1;
    pb->ig = pb->fit_gamma ? k++ : -1;
    pb->ia = -1;
    if (obs && obs->alt_sigma_m > 0 && isfinite(obs->alt_sigma_m) && isfinite(obs->alt_m)) {
        pb->ia = k++;
        pb->na = 1;
        pb->alt_km = obs->alt_m / 1000;
        pb->asig_km = obs->alt_sigma_m / 1000;
        res->alt_obs_m = obs->alt_m;
        res->alt_obs_sigma_m = obs->alt_sigma_m;
    }
    res->exponent = pb->gamma;
    return 0;
}

static int lm_solve(problem *pb, double *x, double *xs, double cov[3])
{
    int p = np_of(pb), n = nr_of(pb);
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    fp.trs = gsl_multifit_nlinear_trs_lm;
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, (size_t)n, (size_t)p);
    if (!w)
        return hd_error(HD_ENOMEM, "locate: cannot allocate the solver");
    gsl_multifit_nlinear_fdf fdf = {.f = gsl_f, .df = gsl_df, .fvv = NULL, .n = (size_t)n, .p = (size_t)p, .params = pb};
    gsl_vector_view xv = gsl_vector_view_array(x, (size_t)p);
    int info = 0, st = gsl_multifit_nlinear_init(&xv.vector, &fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver(100, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
    const gsl_vector *sol = gsl_multifit_nlinear_position(w);
    int finite = 1;
    for (int k = 0; k < p; k++) {
        xs[k] = gsl_vector_get(sol, (size_t)k);
        finite &= isfinite(xs[k]);
    }
    gsl_multifit_nlinear_free(w);
    if (!finite || (st != GSL_SUCCESS && st != GSL_EMAXITER) || position_cov(pb, xs, cov) < 0)
        return 1;
    return 0;
}

static double chi2_at(const problem *pb, const double *x)
{
    double f[MAXROWS], c = 0;
    eval_problem(pb, x, f, NULL);
    for (int i = 0; i < nr_of(pb); i++)
        c += f[i] * f[i];
    return c;
}

static int worst_timing(const problem *pb, const double *x, double limit, double *zo, double *ns);

/* 3-D, timings only: closed-form starts by Bancroft's method (the
 * pseudo-ranges' Lorentz-quadratic, both roots), each at the observed
 * height with the emission time fitted, into x[8 * k]. Returns how many
 * (0 when the system is singular or has no real root). */
static int bancroft_starts(const problem *pb, double *x)
{
    const hd_locate_net *net = pb->net;
    const int n = pb->nt;
    const double *ref = pb->rx[pb->trx[0]];
    double kb = 0, rho0 = pb->tau_km[0] * 1000;
    for (int k = 0; k < n; k++)
        kb += (net->cfg.refractivity_n != 0 ? 1 + path_refractivity(&net->cfg, net->rx_h[pb->trx[k]], pb->alt_km * 1000) : 1) / n;
    double BtB[16] = {0}, Bt1[4] = {0}, Bta[4] = {0};
    for (int k = 0; k < n; k++) {
        const double *y = pb->rx[pb->trx[k]];
        double b[4] = {y[0] - ref[0], y[1] - ref[1], y[2] - ref[2], (pb->tau_km[k] * 1000 - rho0) / kb};
        double a = 0.5 * (b[0] * b[0] + b[1] * b[1] + b[2] * b[2] - b[3] * b[3]);
        for (int i = 0; i < 4; i++) {
            Bt1[i] += b[i];
            Bta[i] += b[i] * a;
            for (int j = 0; j < 4; j++)
                BtB[4 * i + j] += b[i] * b[j];
        }
    }
    double A2[16];
    memcpy(A2, BtB, sizeof A2);
    if (spd_solve(BtB, Bt1, 4) < 0 || spd_solve(A2, Bta, 4) < 0)
        return 0;
    const double *u = Bt1, *v = Bta;
#define LORENTZ(p, q) ((p)[0] * (q)[0] + (p)[1] * (q)[1] + (p)[2] * (q)[2] - (p)[3] * (q)[3])
    double qa = LORENTZ(u, u), qb = LORENTZ(u, v) - 1, qc = LORENTZ(v, v);
#undef LORENTZ
    double disc = qb * qb - qa * qc;
    if (!(disc >= 0) || qa == 0)
        return 0;
    int ns = 0;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        double L = (-qb + sgn * sqrt(disc)) / qa, p[3], lat, lon, h, pe, pn;
        for (int i = 0; i < 3; i++)
            p[i] = v[i] + L * u[i] + ref[i];
        hd_geo_from_ecef(p, &lat, &lon, &h);
        hd_locate_from_geo(net, lat, lon, &pe, &pn);
        if (!isfinite(pe) || !isfinite(pn))
            continue;
        double *xc = x + 8 * ns++;
        memset(xc, 0, 8 * sizeof *xc);
        xc[0] = pe / 1000;
        xc[1] = pn / 1000;
        xc[pb->ia] = pb->alt_km;
        double d[HD_MAX_STATIONS], w = 0, t = 0;
        ranges_3d(net, (const double(*)[3])pb->rx, pe, pn, pb->alt_km * 1000, d, NULL, NULL);
        for (int k = 0; k < n; k++) {
            double wk = 1 / (pb->tsig_km[k] * pb->tsig_km[k]);
            t += wk * (pb->tau_km[k] - d[pb->trx[k]] / 1000);
            w += wk;
        }
        xc[pb->it] = t / w;
    }
    return ns;
}

/* 3-D: with five or more timings and no levels, LM from both of
 * Bancroft's closed-form starts; the fit of least chi² kept when it
 * converged inside the region with agreeing residuals and a chi² no larger
 * than its spare residuals (what a fit in the right basin leaves; a wrong
 * basin can agree too, with a larger chi²). Otherwise, LM from the grid's
 * best start; when that fit leaves a timing residual beyond
 * localize.outlier_sigma, from the other starts too, and the converged fit
 * of least chi² is kept. */
static int solve_3d(problem *pb, double *xs, double cov[3], double *chi2)
{
    double x0[N_STARTS * 8], best = INFINITY, z, ns;
    const double limit = pb->net->cfg.outlier_sigma;
    int found = 0;
    if (pb->nt >= 5 && !pb->use_r && pb->use_t && !pb->moving) {
        const hd_locate_net *net = pb->net;
        double xb[16], x[8], c3[3], fast = INFINITY, fx[8], fc[3];
        int nb = bancroft_starts(pb, xb);
        for (int k = 0; k < nb; k++) {
            int rc = lm_solve(pb, xb + 8 * k, x, c3);
            if (rc < 0)
                return rc;
            if (rc != 0 || x[0] * 1000 < net->e_min || x[0] * 1000 > net->e_max || x[1] * 1000 < net->n_min ||
                x[1] * 1000 > net->n_max)
                continue;
            double v = chi2_at(pb, x);
            if (v < fast) {
                fast = v;
                memcpy(fx, x, sizeof x);
                memcpy(fc, c3, sizeof c3);
            }
        }
        if (fast <= nr_of(pb) - np_of(pb) && worst_timing(pb, fx, limit, &z, &ns) < 0) {
            memcpy(xs, fx, sizeof fx);
            memcpy(cov, fc, sizeof fc);
            if (chi2)
                *chi2 = fast;
            return 0;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        int nst = grid_starts_3d(pb, x0, N_STARTS, pass ? RETRY_M : COARSE_M);
        for (int c = 0; c < nst; c++) {
            double x[8], c3[3];
            int rc = lm_solve(pb, x0 + (size_t)c * 8, x, c3);
            if (rc < 0)
                return rc;
            double v = rc == 0 ? chi2_at(pb, x) : INFINITY;
            if (rc == 0 && v < best) {
                best = v;
                memcpy(xs, x, sizeof x);
                memcpy(cov, c3, sizeof c3);
                found = 1;
            }
            if (c == 0 && found && worst_timing(pb, xs, limit, &z, &ns) < 0)
                break; /* the residuals agree: no other basin to look for */
        }
        if (found && worst_timing(pb, xs, limit, &z, &ns) < 0)
            break;
    }
    if (chi2)
        *chi2 = best;
    return found ? 0 : 1;
}

static int solve(problem *pb, double *xs, double cov[3])
{
    if (pb->ia >= 0)
        return solve_3d(pb, xs, cov, NULL);
    if (pb->net->coarse)
        return solve_coarse(pb, xs, cov);
    double x[8];
    grid_start(pb, x);
    return lm_solve(pb, x, xs, cov);
}

/* The timing residual most beyond `limit` standardised by its leverage
 * (f_i / sqrt(1 - h_ii)), or -1; *z its standardised size, *ns the
 * residual in nanoseconds. */
static int worst_timing(const problem *pb, const double *x, double limit, double *zo, double *ns)
{
    int p = np_of(pb);
    double J[MAXROWS * 8], f[MAXROWS], N[64];
    if (normal_inverse(pb, x, f, J, N) < 0)
        return -1;
    int worst = -1;
    for (int i = 0; i < pb->nt; i++) {
        double h = 0;
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++)
                h += J[i * p + a] * N[a * p + b] * J[i * p + b];
        double z = fabs(f[i]) / sqrt(fmax(1 - h, 1e-6));
        if (z > limit) {
            limit = z;
            worst = i;
            *zo = z;
            *ns = f[i] * pb->tsig_km[i] / C_KM_S * 1e9;
        }
    }
    return worst;
}

void hd_locate_reject_reason(const hd_locate_result *res, int r, char *buf, int size)
{
    if (size <= 0)
        return;
    buf[0] = 0;
    if (r < 0 || r >= HD_MAX_STATIONS || !(res->rejected >> r & 1))
        return;
    snprintf(buf, (size_t)size, "timing residual %.0f ns (%.1f sigma) against the other receivers", res->reject_ns[r],
             res->reject_z[r]);
}

static void drop_timing(problem *pb, int i)
{
    for (int k = i; k + 1 < pb->nt; k++) {
        pb->trx[k] = pb->trx[k + 1];
        pb->tau_km[k] = pb->tau_km[k + 1];
        pb->tsig_km[k] = pb->tsig_km[k + 1];
    }
    pb->nt--;
}

/* The timing receiver to drop, each subset without one solved from the
 * grid: of the subsets that agree within localize.outlier_sigma, the most
 * probable explanation — the subset's chi² plus 2 |offset| / b, the
 * dropped receiver's offset under a Laplace prior of scale b = 1 µs (four
 * receivers and a height can agree on two points; the wrong one puts the
 * dropped receiver tens of kilometres off, the right one a few
 * microseconds) — else the subset of least chi². Into *worst with its
 * residual against the others' fit: *ns, and *z in units of its own sigma.
 * Unchanged when no subset converges. */
#define OUTLIER_SCALE_KM (1e-6 * C_KM_S)
static int leave_one_out(const problem *pb, int *worst, double *z, double *ns)
{
    double best_c2 = INFINITY, best_off = INFINITY;
    int have_consistent = 0;
    for (int i = 0; i < pb->nt; i++) {
        problem q = *pb;
        drop_timing(&q, i);
        double x[8], cov[3], c2, wz, wns;
        int rc = solve_3d(&q, x, cov, &c2);
        if (rc < 0)
            return rc;
        if (rc > 0)
            continue;
        /* its arrival time against the fit of the others */
        double d[HD_MAX_STATIONS];
        ranges_3d(pb->net, (const double(*)[3])pb->rx, x[0] * 1000, x[1] * 1000, x[pb->ia] * 1000, d, NULL, NULL);
        double rk = pb->tau_km[i] - x[pb->it] - d[pb->trx[i]] / 1000;
        int consistent = worst_timing(&q, x, pb->net->cfg.outlier_sigma, &wz, &wns) < 0;
        double score = c2 + 2 * fabs(rk) / OUTLIER_SCALE_KM;
        int take = consistent ? !have_consistent || score < best_off : !have_consistent && c2 < best_c2;
        if (!take)
            continue;
        have_consistent |= consistent;
        best_c2 = c2;
        best_off = score;
        *worst = i;
        *ns = rk / C_KM_S * 1e9;
        *z = fabs(rk) / pb->tsig_km[i];
    }
    return 0;
}

static void eig2(const double c[3], double *l1, double *l2, double *theta);

/* propagation hf: each timed receiver's variance gains its path's F2
 * height term at the fit xs, (d group / d height × f2_height_sigma_km)²
 * over c². Returns 1 when some receiver's did. */
static int hf_reweight(problem *pb, const double *xs, hd_locate_result *res)
{
    const hd_locate_net *net = pb->net;
    double sh = net->cfg.hf.f2_height_sigma_km * 1000, p[3], grew = 0;
    if (net->cfg.propagation != HD_LPROP_HF || !(sh > 0) || !pb->nt)
        return 0;
    pos_ecef(net, xs[0] * 1000, xs[1] * 1000, p);
    for (int k = 0; k < pb->nt; k++) {
        int r = pb->trx[k];
        const double *y = pb->rx[r];
        double chord = sqrt((p[0] - y[0]) * (p[0] - y[0]) + (p[1] - y[1]) * (p[1] - y[1]) + (p[2] - y[2]) * (p[2] - y[2]));
        double kk, dh, v;
        hf_group(&net->cfg, chord, &kk, &dh);
        v = dh * sh / HD_SPEED_OF_LIGHT;
        v *= v;
        if (!(v > 0))
            continue;
        res->toa_var[r] += v;
        pb->tsig_km[k] = sqrt(res->toa_var[r]) * C_KM_S;
        grew += v;
    }
    return grew > 0;
}

int hd_locate(const hd_locate_net *net, const hd_locate_obs *obs, int method, hd_locate_result *res)
{
    memset(res, 0, sizeof *res);
    res->method = method;
    res->e = res->n = res->lat = res->lon = NAN;
    res->alt = net->tx_alt_m;
    res->alt_var = res->vdop = res->crlb_alt = NAN;
    for (int k = 0; k < 3; k++)
        res->cov[k] = res->crlb[k] = NAN;
    res->gdop = res->chi2 = res->source_dbm = NAN;
    res->e2 = res->n2 = res->lat2 = res->lon2 = NAN;
    res->region[0] = net->e_min;
    res->region[1] = net->e_max;
    res->region[2] = net->n_min;
    res->region[3] = net->n_max;
    if (method != HD_LOC_TDOA && method != HD_LOC_RSS && method != HD_LOC_HYBRID)
        return hd_error(HD_EINVAL, "locate: method %s is not a classical solver", hd_method_name(method));
    problem pb;
    int rc = set_up(net, obs, method, res, &pb);
    if (rc < 0)
        return rc;
    int p = np_of(&pb), n = nr_of(&pb);
    /* receivers: every parameter beyond the position needs one more, and the
     * configured minimum holds for the method's own measurements */
    int enough = n >= p && (!pb.use_t || pb.nt >= net->cfg.min_receivers || (pb.use_r && n > p)) &&
                 (!pb.use_r || pb.nr >= 3 + pb.fit_gamma || pb.use_t);
    uint64_t used = res->timed | res->leveled;
    for (int r = 0; r < net->R; r++)
        res->n_receivers += (int)(used >> r & 1);
    res->used = used;
    if (!enough) {
        res->status = HD_LOC_TOO_FEW;
        return 0;
    }
    double xs[8];
    int outside = 0;
    for (;;) {
        n = nr_of(&pb);
        if ((rc = solve(&pb, xs, res->cov)) < 0)
            return rc;
        if (rc > 0) {
            res->status = HD_LOC_NO_CONVERGENCE;
            return 0;
        }
        /* a fit that ran out of the search region is held at the region's
         * most likely point (the grid's best), and says so */
        outside = !inside(pb.reg, xs);
        if (outside) {
            if (net->coarse && pb.ia < 0)
                memcpy(xs, pb.gbest, sizeof pb.gbest);
            else
                grid_start(&pb, xs);
            if (position_cov(&pb, xs, res->cov) < 0) {
                res->status = HD_LOC_NO_CONVERGENCE;
                return 0;
            }
        }
        /* a receiver whose arrival time the others contradict (a multipath
         * or mis-picked peak) is dropped, while five or more remain to tell */
        double wz = 0, wns = 0;
        int worst = pb.nt > 4 ? worst_timing(&pb, xs, net->cfg.outlier_sigma, &wz, &wns) : -1;
        if (worst < 0)
            break;
        /* 3-D: with few spare residuals one bad arrival time pulls the fit
         * so that another receiver can show the largest residual: the one
         * dropped is the one without which the others agree best */
        if (pb.ia >= 0 && (rc = leave_one_out(&pb, &worst, &wz, &wns)) < 0)
            return rc;
        res->timed &= ~(1ull << pb.trx[worst]);
        res->rejected |= 1ull << pb.trx[worst];
        res->reject_z[pb.trx[worst]] = wz;
        res->reject_ns[pb.trx[worst]] = wns;
        drop_timing(&pb, worst);
    }
    /* propagation hf: the F2 height's uncertainty lengthens each sky-wave
     * path by its own amount; that variance joins the receiver's timing
     * variance at the fit (treated per receiver: the part common to all
     * paths goes into the emission time, so this overstates it a little),
     * and the fit is repeated from there with those weights */
    if (!outside && pb.ia < 0 && hf_reweight(&pb, xs, res)) {
        double x0[8], c0[3];
        memcpy(x0, xs, sizeof x0);
        memcpy(c0, res->cov, sizeof c0);
        if ((rc = lm_solve(&pb, x0, xs, res->cov)) < 0)
            return rc;
        if (rc > 0 || !inside(pb.reg, xs)) { /* keep the first fit, its covariance with the new weights */
            memcpy(xs, x0, sizeof x0);
            if (position_cov(&pb, xs, res->cov) < 0)
                memcpy(res->cov, c0, sizeof c0);
        }
    }
    memcpy(res->region, pb.reg, sizeof res->region);
    res->grown = pb.grown;
    used = res->timed | res->leveled;
    res->n_receivers = 0;
    for (int r = 0; r < net->R; r++)
        res->n_receivers += (int)(used >> r & 1);
    res->used = used;
    double f[MAXROWS];
    eval_problem(&pb, xs, f, NULL);
    res->chi2 = 0;
    for (int i = 0; i < n; i++)
        res->chi2 += f[i] * f[i];
    res->dof = n - p;
    res->e = xs[0] * 1000;
    res->n = xs[1] * 1000;
    hd_locate_to_geo(net, res->e, res->n, &res->lat, &res->lon);
    res->gdop = gdop_of(&pb, xs);
    double ceh = NAN, cnh = NAN;
    if (pb.ia >= 0) {
        res->alt = xs[pb.ia] * 1000;
        if (height_cov(&pb, xs, &res->alt_var, &ceh, &cnh) < 0)
            res->alt_var = NAN;
        res->vdop = vdop_of(&pb, xs);
    }
    if (pb.use_r)
        res->source_dbm = xs[pb.ir];
    if (pb.fit_gamma)
        res->exponent = xs[pb.ig];
    hd_locate_crlb_3d(net, obs, res, res->e, res->n, 0, res->crlb, &res->crlb_alt);
    if (net->cfg.scale_by_chi2 && net->cfg.legacy_scale) {
        /* before model format 3: the posterior mean of the variance factor
         * alone, with a fixed tail */
        if (res->dof > 0) {
            for (int k = 0; k < 3; k++)
                res->cov[k] *= (res->chi2 + 4.0) / (res->dof + 4.0);
            res->alt_var *= (res->chi2 + 4.0) / (res->dof + 4.0);
        }
        res->nu = pb.use_t ? net->cfg.tail_nu : 0;
    } else if (net->cfg.scale_by_chi2) {
        /* the residuals measure the event's own error scale. The modelled
         * variances times an unknown factor s², with a scaled inverse-chi²
         * prior on s² worth nu0 residuals centred on 1: the posterior is
         * scaled inverse-chi² with nu0 + dof degrees of freedom and scale
         * (chi² + nu0) / (dof + nu0), and the position's predictive is a
         * Student-t with nu = nu0 + dof and that times the fitted covariance
         * as its scale matrix; its covariance is nu / (nu - 2) times that.
         * Few spare residuals: heavy tails (multipath the model cannot
         * exclude); many: close to a Gaussian of the scale they measured. */
        double nu0 = net->cfg.prior_nu, nu = nu0 + (res->dof > 0 ? res->dof : 0);
        double s2 = res->dof > 0 ? (res->chi2 + nu0) / (res->dof + nu0) : 1;
        for (int k = 0; k < 3; k++)
            res->cov[k] *= s2 * nu / (nu - 2);
        res->alt_var *= s2 * nu / (nu - 2);
        res->nu = nu;
    } else {
        /* a fixed heavy tail (multipath) where time differences are used;
         * levels alone Gaussian */
        res->nu = pb.use_t ? net->cfg.tail_nu : 0;
    }

    /* the receivers used do not fix a position (e.g. three timed ones in a
     * line with the transmitter beyond them): a 1-sigma ellipse wider than
     * the whole search region says nothing the region does not, and a point
     * with it would be a made-up position */
    double l1, l2, th;
    eig2(res->cov, &l1, &l2, &th);
    if (!isfinite(res->gdop) || !(sqrt(l1) <= hypot(pb.reg[1] - pb.reg[0], pb.reg[3] - pb.reg[2]))) {
        res->status = HD_LOC_NO_FIX;
        res->e = res->n = res->lat = res->lon = NAN;
        for (int k = 0; k < 3; k++)
            res->cov[k] = NAN;
        return 0;
    }
    res->status = outside ? HD_LOC_OUTSIDE : HD_LOC_OK;
    double x2[8];
    if (!outside && other_solution(&pb, xs, res->cov, x2)) {
        res->ambiguous = 1;
        res->e2 = x2[0] * 1000;
        res->n2 = x2[1] * 1000;
        hd_locate_to_geo(net, res->e2, res->n2, &res->lat2, &res->lon2);
    }
    return 0;
}

int hd_locate_crlb(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, double e, double n,
                   int with_model, double cov[3])
{
    return hd_locate_crlb_3d(net, obs, res, e, n, with_model, cov, NULL);
}

int hd_locate_crlb_3d(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, double e,
                      double n, int with_model, double cov[3], double *var_alt)
{
    problem pb = {.net = net, .ia = -1};
    set_positions(net, obs, &pb);
    pb.use_t = res->timed != 0;
    pb.use_r = res->leveled != 0;
    pb.gamma = isfinite(res->exponent) ? res->exponent : net->cfg.rss_exponent;
    pb.rsig_db = net->cfg.rss_sigma_db;
    for (int r = 0; r < net->R; r++) {
        if (res->timed >> r & 1) {
            pb.trx[pb.nt] = r;
            pb.tsig_km[pb.nt++] = sqrt(with_model ? res->toa_var[r] : res->toa_var_meas[r]) * C_KM_S;
        }
        if (res->leveled >> r & 1)
            pb.rrx[pb.nr++] = r;
    }
    int k = 2;
    pb.it = pb.use_t ? k++ : -1;
    pb.ir = pb.use_r ? k++ : -1;
    pb.ig = -1;
    double x[8] = {e / 1000, n / 1000, 0, 0, 0, 0, 0, 0};
    if (res->alt_obs_sigma_m > 0) { /* 3-D: the height a parameter, its observation a pseudo-measurement */
        pb.ia = k++;
        pb.na = 1;
        pb.alt_km = res->alt_obs_m / 1000;
        pb.asig_km = res->alt_obs_sigma_m / 1000;
        x[pb.ia] = (isfinite(res->alt) ? res->alt : res->alt_obs_m) / 1000;
    }
    if (var_alt)
        *var_alt = NAN;
    if (nr_of(&pb) < np_of(&pb) || position_cov(&pb, x, cov) < 0) {
        cov[0] = cov[1] = cov[2] = NAN;
        return hd_error(HD_EDATA, "no bound: the receivers do not fix a position");
    }
    double ceh, cnh;
    if (var_alt && pb.ia >= 0 && height_cov(&pb, x, var_alt, &ceh, &cnh) < 0)
        *var_alt = NAN;
    return 0;
}

/* The grid cost of problem pb (weights wt, sw) at the geodetic point
 * (lat, lon) and height alt: 3-D (res non-NULL) with the refractivity of
 * that height and the height observation's residual. */
static double cost_at_height(const hd_locate_net *net, const problem *pb, const double *wt, double sw, double lat,
                             double lon, double alt, const hd_locate_result *res)
{
    double q[3], d[HD_MAX_STATIONS], t0, p0, extra = 0;
    hd_geo_to_ecef(lat, lon, alt, q);
    if (!isfinite(q[0]))
        return INFINITY;
    for (int k = 0; k < pb->nt + pb->nr; k++) {
        int r = k < pb->nt ? pb->trx[k] : pb->rrx[k - pb->nt];
        d[r] = modelled_path(net, q, pb->rx[r]);
        if (res && net->cfg.refractivity_n != 0)
            d[r] *= 1 + path_refractivity(&net->cfg, net->rx_h[r], alt);
    }
    if (res) {
        double z = (alt - res->alt_obs_m) / res->alt_obs_sigma_m;
        extra = z * z;
    }
    return grid_cost(pb, d, wt, sw, &t0, &p0) + extra;
}

int hd_locate_cost_geo(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, int64_t n,
                       const double *lat, const double *lon, double *chi2)
{
    const int F = HD_FEAT_COUNT;
    problem pb = {.net = net, .ia = -1};
    set_positions(net, obs, &pb);
    pb.gamma = isfinite(res->exponent) && res->exponent > 0 ? res->exponent : net->cfg.rss_exponent;
    pb.rsig_db = net->cfg.rss_sigma_db;
    for (int r = 0; r < net->R; r++) {
        if (res->timed >> r & 1) {
            pb.trx[pb.nt] = r;
            pb.tau_km[pb.nt] = res->toa_s[r] * C_KM_S;
            pb.tsig_km[pb.nt++] = sqrt(res->toa_var[r]) * C_KM_S;
        }
        if (res->leveled >> r & 1) {
            if (!obs || !obs->feat)
                return hd_error(HD_EINVAL, "locate: the levels' cost needs the event's observations");
            pb.rrx[pb.nr] = r;
            pb.y_db[pb.nr++] = obs->feat[(size_t)r * F + HD_FEAT_RSS_DBM] -
                               (net->cfg.n_rss_offsets ? net->cfg.rss_offsets_db[r] : 0);
        }
    }
    pb.use_t = pb.nt > 0;
    pb.use_r = pb.nr > 0;
    if (!pb.use_t && !pb.use_r)
        return hd_error(HD_EINVAL, "locate: the event has no receiver timed or levelled");
    int three = res->alt_obs_sigma_m > 0 && isfinite(res->alt) && isfinite(res->alt_obs_m);
    double wt[HD_MAX_STATIONS], sw;
    cost_weights(&pb, wt, &sw);
    if (!three) {
        for (int64_t i = 0; i < n; i++)
            chi2[i] = cost_at_height(net, &pb, wt, sw, lat[i], lon[i], net->tx_alt_m, NULL);
        return 0;
    }
    /* 3-D: the height profiled out at each point (its least cost over the
     * height, the height's observation included), by parabolic steps from
     * the fitted height: the profile likelihood's regions are the marginal
     * ones, a slice at the fitted height would be narrower */
    const double asig = res->alt_obs_sigma_m;
    for (int64_t i = 0; i < n; i++) {
        double h = res->alt, st = fmax(fmin(asig, 1000.0), 1.0);
        double best = cost_at_height(net, &pb, wt, sw, lat[i], lon[i], h, res);
        for (int it = 0; it < 6 && isfinite(best); it++) {
            double cp = cost_at_height(net, &pb, wt, sw, lat[i], lon[i], h + st, res);
            double cm = cost_at_height(net, &pb, wt, sw, lat[i], lon[i], h - st, res);
            double a = (cp + cm - 2 * best) / (st * st), hn = h, cn = best;
            if (cp < cn)
                hn = h + st, cn = cp;
            if (cm < cn)
                hn = h - st, cn = cm;
            if (a > 0) { /* the parabola's vertex, within four steps */
                double dh = fmax(fmin(-(cp - cm) / (2 * st * a), 4 * st), -4 * st);
                double c = cost_at_height(net, &pb, wt, sw, lat[i], lon[i], h + dh, res);
                if (c < cn)
                    hn = h + dh, cn = c;
            }
            int far = fabs(hn - h) >= st; /* the least beyond the bracket: widen it */
            double gain = best - cn;
            h = hn;
            best = cn;
            st = far ? 2 * st : st / 4;
            if (!far && gain < 1e-3)
                break;
        }
        chi2[i] = best;
    }
    return 0;
}

/* ---- ellipses ------------------------------------------------------------------------ */

static void eig2(const double c[3], double *l1, double *l2, double *theta)
{
    double m = 0.5 * (c[0] + c[2]), d = sqrt(0.25 * (c[0] - c[2]) * (c[0] - c[2]) + c[1] * c[1]);
    *l1 = m + d;
    *l2 = fmax(m - d, 0);
    *theta = 0.5 * atan2(2 * c[1], c[0] - c[2]); /* major axis, from east toward north */
}

double hd_locate_radius2(double p, double nu)
{
    if (!(p > 0))
        return 0;
    if (!(p < 1))
        return INFINITY;
    return nu > 2 ? (nu - 2) * expm1(-2 / nu * log1p(-p)) : -2 * log1p(-p);
}

double hd_locate_content(double d2, double nu)
{
    if (!(d2 > 0))
        return d2 == 0 ? 0 : NAN;
    return nu > 2 ? -expm1(-0.5 * nu * log1p(d2 / (nu - 2))) : -expm1(-0.5 * d2);
}

double hd_locate_nll(double d2, double det, double nu)
{
    if (!(det > 0))
        return INFINITY;
    /* the t's scale matrix is cov (nu - 2) / nu: log 2π + ½ log|S| + (nu + 2)/2 log(1 + d2_S / nu) */
    if (nu > 2)
        return log(2 * M_PI) + 0.5 * log(det) + log((nu - 2) / nu) + 0.5 * (nu + 2) * log1p(d2 / (nu - 2));
    return log(2 * M_PI) + 0.5 * log(det) + 0.5 * d2;
}

void hd_locate_ellipse(const double cov[3], double nu, double p, double *major_m, double *minor_m,
                       double *azimuth_deg)
{
    double l1, l2, th, k = sqrt(hd_locate_radius2(p, nu));
    eig2(cov, &l1, &l2, &th);
    *major_m = k * sqrt(l1);
    *minor_m = k * sqrt(l2);
    double az = 90 - th * 180 / M_PI;
    az = fmod(az, 180);
    *azimuth_deg = az < 0 ? az + 180 : az;
}

void hd_locate_ellipse_outline(double lat, double lon, const double cov[3], double nu, double p, int n,
                               double (*latlon)[2])
{
    double l1, l2, th, k = sqrt(hd_locate_radius2(p, nu));
    eig2(cov, &l1, &l2, &th);
    double a = k * sqrt(l1), b = k * sqrt(l2), ct = cos(th), st = sin(th);
    hd_geo_fan fan; /* the geodesics from the centre by their series to 200 km (1 cm of PROJ's there) */
    hd_geo_fan_init(&fan, lat, lon);
    for (int i = 0; i < n; i++) {
        double ph = 2 * M_PI * i / n, u = a * cos(ph), v = b * sin(ph);
        double east = u * ct - v * st, north = u * st + v * ct;
        hd_geo_fan_point(&fan, east, north, &latlon[i][0], &latlon[i][1]);
    }
}

double hd_locate_mahalanobis2(const double c[3], double de, double dn)
{
    double det = c[0] * c[2] - c[1] * c[1];
    if (!(det > 0))
        return INFINITY;
    return (c[2] * de * de - 2 * c[1] * de * dn + c[0] * dn * dn) / det;
}

int hd_locate_arrivals(int R, const hd_locate_obs *obs, double outlier_sigma, double *toa_s, double *var_s2,
                       uint64_t *timed)
{
    const int P = hd_features_npairs(R);
    *timed = 0;
    if (P < 1)
        return 0;
    int(*pr)[2] = hd_malloc((size_t)P * sizeof *pr);
    uint8_t *ok = hd_malloc((size_t)P);
    if (!pr || !ok) {
        free(pr);
        free(ok);
        return HD_ENOMEM;
    }
    int any = 0, n = 0;
    for (int p = 0; p < P; p++) {
        hd_features_pair(R, p, &pr[p][0], &pr[p][1]);
        ok[p] = obs->tmask[p] && obs->mask[pr[p][0]] && obs->mask[pr[p][1]] && isfinite(obs->delay_s[p]) &&
                obs->sigma_s[p] > 0 && isfinite(obs->sigma_s[p]);
        any |= ok[p];
    }
    if (any && fit_variances(R, P, (const int(*)[2])pr, ok, obs->sigma_s, var_s2) == 0)
        n = pair_times(R, P, (const int(*)[2])pr, ok, obs->delay_s, var_s2, outlier_sigma, toa_s, timed);
    free(pr);
    free(ok);
    return n < 0 ? HD_EDATA : n;
}
