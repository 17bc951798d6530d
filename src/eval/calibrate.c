/* A network's calibration from events with truth: see calibrate.h. */
#include "eval/calibrate.h"
#include "core/log.h"
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "eval/learn.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "locate/locate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F HD_FEAT_COUNT

#define CALIB_ARRAYS(X)                                                                                                \
    X(rss_offset_db) X(rss_offset_sigma_db) X(rss_links) X(clock_offset_ns) X(clock_offset_sigma_ns)                   \
    X(clock_residual_ns) X(clock_links) X(disp_east_m) X(disp_north_m) X(disp_m) X(disp_sigma_m) X(displaced)

int hd_calib_alloc(hd_calib *c, int R)
{
    size_t n = (size_t)(R > 0 ? R : 1);
    hd_calib t = *c;
    int ok = 1;
    if (!(t.st = hd_calloc(n, sizeof *t.st)))
        ok = 0;
#define ALLOC(f) if (ok && !(t.f = hd_calloc(n, sizeof *t.f))) ok = 0;
    CALIB_ARRAYS(ALLOC)
#undef ALLOC
    if (!ok) {
        free(t.st);
#define FREE(f) if (t.f != c->f) free(t.f);
        CALIB_ARRAYS(FREE)
#undef FREE
        return HD_ENOMEM;
    }
    if (c->st && c->R > 0)
        memcpy(t.st, c->st, (size_t)(c->R < R ? c->R : R) * sizeof *t.st);
    free(c->st);
#define FREE(f) free(c->f);
    CALIB_ARRAYS(FREE)
#undef FREE
    *c = t;
    return 0;
}

void hd_calib_release(hd_calib *c)
{
    free(c->st);
#define FREE(f) free(c->f);
    CALIB_ARRAYS(FREE)
#undef FREE
    free(c->event_file);
    free(c->event_index);
    memset(c, 0, sizeof *c);
}

static int find_id(const hd_station *st, int R, const char *id)
{
    for (int r = 0; r < R; r++)
        if (strcmp(st[r].id, id) == 0)
            return r;
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Everything the fit needs, merged over the files onto the union of receivers. */
typedef struct {
    int64_t E;
    int R;
    float *feat;            /* [E*R*F] */
    uint8_t *mask;          /* [E*R] RSS usable (heard, dBm valid) */
    double *rx_lat, *rx_lon; /* [E*R] the event's receiver positions (NaN unknown) */
    double *tx_lat, *tx_lon, *tx_alt; /* [E] */
    double *toa;            /* [E*R] relative arrival time (s), NaN untimed */
} merged;

static void merged_release(merged *m)
{
    free(m->feat);
    free(m->mask);
    free(m->rx_lat);
    free(m->rx_lon);
    free(m->tx_lat);
    free(m->tx_lon);
    free(m->tx_alt);
    free(m->toa);
}

/* Read file k's events with truth into m at row *row (receivers mapped by id). */
static int read_file(hd_calib *c, merged *m, hd_features_reader *rd, int k, const hd_localize_cfg *cfg,
                     const hd_calib_sources *ks, int64_t *row)
{
    const int R = rd->meta.n_receivers, P = rd->n_pairs;
    const int64_t E = rd->meta.n_events;
    size_t En = (size_t)(E > 0 ? E : 1), Pn = (size_t)(P > 0 ? P : 1);
    int map[HD_MAX_STATIONS], rc = 0;
    for (int r = 0; r < R; r++)
        map[r] = find_id(c->st, c->R, rd->meta.stations[r].id);
    hd_event *ev = hd_calloc(En, sizeof *ev);
    float *feat = hd_calloc(En * R * F, sizeof *feat);
    uint8_t *mask = hd_calloc(En * R, 1), *tmask = hd_calloc(En * Pn, 1), *dbm = hd_calloc(En * R, 1);
    double *delay = hd_calloc(En * Pn, sizeof *delay), *sigma = hd_calloc(En * Pn, sizeof *sigma);
    double *rxla = NULL, *rxlo = NULL;
    if (!ev || !feat || !mask || !tmask || !dbm || !delay || !sigma) {
        rc = HD_ENOMEM;
        goto done;
    }
    if ((rc = hd_features_read_block(rd, 0, E, ev, NULL, feat, mask, delay, sigma, NULL, tmask)) < 0 ||
        (rc = hd_features_read_reasons(rd, 0, E, NULL, NULL, dbm)) < 0)
        goto done;
    int rank;
    hsize_t dims[8];
    if (H5Lexists(rd->meta.file, "rx_lat", H5P_DEFAULT) > 0 &&
        ((rc = hd_h5_read(rd->meta.file, "rx_lat", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rxla)) < 0 ||
         (rc = hd_h5_read(rd->meta.file, "rx_lon", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rxlo)) < 0))
        goto done;
    for (int64_t e = 0; e < E; e++) {
        if ((!rd->meta.has_truth || !isfinite(ev[e].truth.lat) || !isfinite(ev[e].truth.lon)) && ks) {
            /* a known source on the event's frequency */
            hd_tx_truth_unknown(&ev[e].truth);
            for (int j = 0; j < ks->n; j++)
                if (fabs(ks->frequency_hz[j] - ev[e].frequency_hz) <= ks->tol_hz) {
                    ev[e].truth.lat = ks->lat[j];
                    ev[e].truth.lon = ks->lon[j];
                    ev[e].truth.alt_m = ks->alt_m[j];
                    c->n_events_known++;
                    break;
                }
        }
        if (!isfinite(ev[e].truth.lat) || !isfinite(ev[e].truth.lon))
            continue;
        int64_t o = (*row)++;
        c->event_file[o] = k;
        c->event_index[o] = ev[e].index;
        m->tx_lat[o] = ev[e].truth.lat;
        m->tx_lon[o] = ev[e].truth.lon;
        m->tx_alt[o] = isfinite(ev[e].truth.alt_m) ? ev[e].truth.alt_m : cfg->tx_alt_m;
        hd_locate_obs obs = {feat + (size_t)e * R * F, mask + (size_t)e * R, delay + (size_t)e * P,
                             sigma + (size_t)e * P, tmask + (size_t)e * P, NULL, NULL};
        double toa[HD_MAX_STATIONS], var[HD_MAX_STATIONS];
        uint64_t timed = 0;
        if (P == 0 || hd_locate_arrivals(R, &obs, cfg->outlier_sigma, toa, var, &timed) < 2)
            timed = 0;
        for (int r = 0; r < R; r++) {
            size_t src = (size_t)e * R + r, dst = (size_t)o * m->R + map[r];
            memcpy(m->feat + dst * F, feat + src * F, F * sizeof *feat);
            m->mask[dst] = mask[src] && dbm[src];
            m->rx_lat[dst] = rxla ? rxla[src] : rd->meta.stations[r].lat;
            m->rx_lon[dst] = rxlo ? rxlo[src] : rd->meta.stations[r].lon;
            m->toa[dst] = timed >> r & 1 ? toa[r] : NAN;
        }
    }
done:
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(dbm);
    free(delay);
    free(sigma);
    free(rxla);
    free(rxlo);
    return rc;
}

/* RSS offsets with hd_learn_rss, and their sigmas from the residuals */
static int fit_rss(hd_calib *c, const merged *m, const hd_locate_net *net, const hd_localize_cfg *cfg)
{
    const int R = m->R;
    uint8_t *train = hd_malloc((size_t)(m->E > 0 ? m->E : 1));
    if (!train)
        return HD_ENOMEM;
    int64_t links = 0;
    for (int64_t e = 0; e < m->E; e++) {
        int n = 0;
        for (int r = 0; r < R; r++)
            n += m->mask[e * R + r] && isfinite(m->rx_lat[e * R + r]);
        train[e] = n >= 2;
        c->n_events_rss += train[e];
        links += train[e] ? n : 0;
    }
    c->rss_exponent = c->rss_sigma_db = NAN;
    for (int r = 0; r < R; r++)
        c->rss_offset_db[r] = c->rss_offset_sigma_db[r] = NAN;
    if (links < 3 * R) { /* no RSS to learn from (or too little): that part is left out */
        c->n_events_rss = 0;
        free(train);
        return 0;
    }
    double off[HD_MAX_STATIONS], g = cfg->rss_exponent, sig;
    hd_dataset d = {m->E, R, m->feat, m->mask, m->rx_lat, m->rx_lon, m->tx_lat, m->tx_lon};
    int rc = hd_learn_rss(net, &d, train, off, &g, &sig);
    if (rc < 0) {
        free(train);
        return rc;
    }
    c->rss_exponent = g;
    c->rss_sigma_db = sig;
    /* residuals: the source term per event again, then per receiver */
    double ss[HD_MAX_STATIONS] = {0};
    for (int64_t e = 0; e < m->E; e++) {
        if (!train[e])
            continue;
        double L[HD_MAX_STATIONS], s = 0;
        int n = 0;
        for (int r = 0; r < R; r++) {
            size_t o = (size_t)e * R + r;
            L[r] = NAN;
            if (!m->mask[o] || !isfinite(m->rx_lat[o]))
                continue;
            double dist = hd_geo_slant_range(m->tx_lat[e], m->tx_lon[e], net->tx_alt_m, m->rx_lat[o], m->rx_lon[o],
                                             net->rx_h[r]);
            L[r] = 10 * log10(dist > 1 ? dist : 1);
            s += m->feat[o * F + HD_FEAT_RSS_DBM] - off[r] + g * L[r];
            n++;
        }
        double Pe = s / n, kf = n > 1 ? (double)n / (n - 1) : 1;
        for (int r = 0; r < R; r++)
            if (isfinite(L[r])) {
                double res = m->feat[((size_t)e * R + r) * F + HD_FEAT_RSS_DBM] - off[r] - Pe + g * L[r];
                ss[r] += res * res * kf;
                c->rss_links[r]++;
            }
    }
    for (int r = 0; r < R; r++)
        if (c->rss_links[r] >= HD_CALIB_MIN_LINKS) {
            c->rss_offset_db[r] = off[r];
            c->rss_offset_sigma_db[r] = sqrt(ss[r] / (double)(c->rss_links[r] - 1)) / sqrt((double)c->rss_links[r]);
        }
    /* the covariance scale (as evaluate.split learns it): locate up to 400
     * of the events with the fit and put half their truths inside the
     * predictive's 50 % region */
    hd_localize_cfg c2 = *cfg;
    for (int r = 0; r < R; r++)
        c2.rss_offsets_db[r] = off[r];
    c2.n_rss_offsets = R;
    c2.rss_exponent = g;
    c2.rss_sigma_db = sig;
    hd_locate_net fitted;
    c->rss_cov_scale = 1;
    double *d2 = hd_malloc(400 * sizeof *d2);
    if (!d2 || (rc = hd_locate_net_init(&fitted, c->st, R, &c2)) < 0) {
        free(d2);
        free(train);
        return d2 ? rc : HD_ENOMEM;
    }
    int64_t step = c->n_events_rss > 400 ? c->n_events_rss / 400 : 1, seen = 0;
    int nd = 0;
    for (int64_t e = 0; e < m->E && nd < 400; e++) {
        if (!train[e] || seen++ % step)
            continue;
        double zd[1] = {0};
        uint8_t zm[1] = {0};
        hd_locate_obs obs = {m->feat + (size_t)e * R * F, m->mask + (size_t)e * R, zd, zd, zm,
                             m->rx_lat + (size_t)e * R, m->rx_lon + (size_t)e * R};
        hd_locate_result res;
        if (hd_locate(&fitted, &obs, HD_LOC_RSS, &res) < 0 || res.status != HD_LOC_OK)
            continue;
        double te, tn;
        hd_locate_from_geo(&fitted, m->tx_lat[e], m->tx_lon[e], &te, &tn);
        double q = hd_locate_mahalanobis2(res.cov, res.e - te, res.n - tn) / hd_locate_radius2(0.5, res.nu);
        if (isfinite(q))
            d2[nd++] = q;
    }
    if (nd >= 20) {
        qsort(d2, (size_t)nd, sizeof *d2, cmp_double);
        c->rss_cov_scale = d2[nd / 2];
    }
    hd_locate_net_release(&fitted);
    free(d2);
    free(train);
    return 0;
}

/* y[e*R+r] = t_e + b_r + noise by alternating least squares over ok links;
 * b of mean zero over the receivers with links. */
static void fit_additive(const double *y, const uint8_t *ok, int64_t E, int R, double *t, double *b)
{
    for (int r = 0; r < R; r++)
        b[r] = 0;
    for (int it = 0; it < 200; it++) {
        for (int64_t e = 0; e < E; e++) {
            double s = 0;
            int n = 0;
            for (int r = 0; r < R; r++)
                if (ok[e * R + r]) {
                    s += y[e * R + r] - b[r];
                    n++;
                }
            t[e] = n ? s / n : NAN;
        }
        double mean = 0;
        int nr = 0;
        for (int r = 0; r < R; r++) {
            double s = 0;
            int n = 0;
            for (int64_t e = 0; e < E; e++)
                if (ok[e * R + r]) {
                    s += y[e * R + r] - t[e];
                    n++;
                }
            b[r] = n ? s / n : NAN;
            if (n) {
                mean += b[r];
                nr++;
            }
        }
        for (int r = 0; r < R; r++)
            b[r] = isfinite(b[r]) ? b[r] - mean / nr : NAN;
    }
}

/* Solve the 3x3 system A x = v (symmetric positive definite), inverse in Ai. 0 or -1 singular. */
static int solve3(const double A[9], const double v[3], double x[3], double Ai[9])
{
    double det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
                 A[2] * (A[3] * A[7] - A[4] * A[6]);
    if (!(fabs(det) > 1e-12 * (fabs(A[0] * A[4] * A[8]) + 1e-300)))
        return -1;
    Ai[0] = (A[4] * A[8] - A[5] * A[7]) / det;
    Ai[1] = (A[2] * A[7] - A[1] * A[8]) / det;
    Ai[2] = (A[1] * A[5] - A[2] * A[4]) / det;
    Ai[3] = (A[5] * A[6] - A[3] * A[8]) / det;
    Ai[4] = (A[0] * A[8] - A[2] * A[6]) / det;
    Ai[5] = (A[2] * A[3] - A[0] * A[5]) / det;
    Ai[6] = (A[3] * A[7] - A[4] * A[6]) / det;
    Ai[7] = (A[1] * A[6] - A[0] * A[7]) / det;
    Ai[8] = (A[0] * A[4] - A[1] * A[3]) / det;
    for (int i = 0; i < 3; i++)
        x[i] = Ai[3 * i] * v[0] + Ai[3 * i + 1] * v[1] + Ai[3 * i + 2] * v[2];
    return 0;
}

/* The position check's model for one link, the dense fit's and the sparse
 * one's. (dxa, dya): transmitter minus the receiver's advertised position
 * (m); (se, sn): the receiver's shift. The link's residual in metres,
 * c (y - t) + d(p) - d(p + s), and the unit vector from the shifted
 * receiver to the transmitter (0 within a metre). */
static double shifted_residual(double dxa, double dya, double se, double sn, double y, double t, double *ux,
                               double *uy)
{
    double dx = dxa - se, dy = dya - sn, d0 = hypot(dxa, dya), d1 = hypot(dx, dy);
    *ux = d1 > 1 ? dx / d1 : 0;
    *uy = d1 > 1 ? dy / d1 : 0;
    return HD_SPEED_OF_LIGHT * (y - t) + d0 - d1;
}

/* the emission time the link gives under the model (offset a, shift s) */
static double shifted_time(double dxa, double dya, double se, double sn, double a, double y)
{
    return y - (a + hypot(dxa - se, dya - sn) - hypot(dxa, dya)) / HD_SPEED_OF_LIGHT;
}

/* a link's row (1, ux, uy) and residual z into a receiver's normal equations */
static void normal_add(double A[9], double v[3], double ux, double uy, double z)
{
    double x[3] = {1, ux, uy};
    for (int i = 0; i < 3; i++) {
        v[i] += x[i] * z;
        for (int j = 0; j < 3; j++)
            A[3 * i + j] += x[i] * x[j];
    }
}

/* A receiver's Gauss-Newton step from the normal equations of its n links:
 * its offset a and its shift moved by the solution, damped to 5 km; with
 * fewer than six links or a singular system the offset alone (the mean
 * residual). cov: the system's inverse. 1 when solved. */
static int shift_step(const double A[9], const double v[3], int64_t n, double cov[9], double *a, double *se,
                      double *sn)
{
    double sol[3];
    if (!(n >= 6 && solve3(A, v, sol, cov) == 0)) {
        *a = n ? v[0] / (double)n : 0;
        return 0;
    }
    *a = sol[0];
    double step = hypot(sol[1], sol[2]), lim = 5000; /* a damped step */
    double f = step > lim ? lim / step : 1;
    *se -= f * sol[1];
    *sn -= f * sol[2];
    return 1;
}

/* Position check: y_er = t_e + a_r + (d_er(p_r + s_r) - d_er(p_r)) / c
 * jointly, Gauss-Newton on the shift s_r of each receiver from its
 * advertised position p_r (ranges in the tangent plane: only their change
 * matters) alternating with the emission times t_e, so that one receiver's
 * wrong position does not leak into the emission times. t[E] on entry: the
 * plain fit's emission times. rxe/rxn[E*R], txe/txn[E]: positions (m). */
static void fit_displacements(hd_calib *c, const double *y, const uint8_t *ok, const double *rxe, const double *rxn,
                              const double *txe, const double *txn, int64_t E, int R, double *t)
{
    double se[HD_MAX_STATIONS] = {0}, sn[HD_MAX_STATIONS] = {0}, a[HD_MAX_STATIONS] = {0}, cov[HD_MAX_STATIONS][9];
    int fit[HD_MAX_STATIONS] = {0};
    for (int it = 0; it < 60; it++) {
        for (int r = 0; r < R; r++) {
            double A[9] = {0}, v[3] = {0};
            int64_t n = 0;
            for (int64_t e = 0; e < E; e++) {
                size_t o = (size_t)e * R + r;
                if (!ok[o] || !isfinite(t[e]))
                    continue;
                double ux, uy, z = shifted_residual(txe[e] - rxe[o], txn[e] - rxn[o], se[r], sn[r], y[o], t[e], &ux, &uy);
                /* z ≈ a + u·D with D the shift still wrong (current minus consistent) */
                normal_add(A, v, ux, uy, z);
                n++;
            }
            fit[r] = shift_step(A, v, n, cov[r], &a[r], &se[r], &sn[r]);
        }
        for (int64_t e = 0; e < E; e++) {
            double s = 0;
            int n = 0;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r;
                if (ok[o]) {
                    s += shifted_time(txe[e] - rxe[o], txn[e] - rxn[o], se[r], sn[r], a[r], y[o]);
                    n++;
                }
            }
            t[e] = n ? s / n : NAN;
        }
    }
    for (int r = 0; r < R; r++) {
        if (!fit[r])
            continue;
        double ss = 0;
        int64_t n = 0;
        for (int64_t e = 0; e < E; e++) {
            size_t o = (size_t)e * R + r;
            if (!ok[o] || !isfinite(t[e]))
                continue;
            int k = 0;
            for (int q = 0; q < R; q++)
                k += ok[(size_t)e * R + q];
            double ux, uy, z = shifted_residual(txe[e] - rxe[o], txn[e] - rxn[o], se[r], sn[r], y[o], t[e], &ux, &uy);
            double res = z - a[r];
            ss += res * res * (k > 1 ? (double)k / (k - 1) : 1);
            n++;
        }
        double sm = n > 3 ? sqrt(ss / (double)(n - 3)) : NAN;
        c->disp_east_m[r] = se[r];
        c->disp_north_m[r] = sn[r];
        c->disp_m[r] = hypot(se[r], sn[r]);
        c->disp_sigma_m[r] = sm * sqrt(0.5 * (fabs(cov[r][4]) + fabs(cov[r][8])));
        c->displaced[r] = c->disp_m[r] > 4 * c->disp_sigma_m[r] && c->disp_m[r] > 100;
    }
}

#define CLIP_SIGMA 3  /* links beyond this many robust sigma are not fitted */
#define CLIP_PASSES 20

/* Clock offsets from the arrival times against the truths' travel times,
 * then each receiver's position check on its residuals. */
static int fit_clock(hd_calib *c, const merged *m, const hd_locate_net *net)
{
    const int R = m->R;
    const int64_t E = m->E;
    size_t N = (size_t)(E > 0 ? E : 1) * R;
    double *y = hd_malloc(N * sizeof *y), *t = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *t);
    double *ue = hd_malloc(N * sizeof *ue), *un = hd_malloc(N * sizeof *un), *ar = hd_malloc(N * sizeof *ar);
    double *txe = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *txe), *txn = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *txn);
    uint8_t *ok = hd_calloc(N, 1), *ok0 = NULL, *ok5 = NULL;
    int rc = 0;
    for (int r = 0; r < R; r++)
        c->clock_offset_ns[r] = c->clock_offset_sigma_ns[r] = c->clock_residual_ns[r] = c->disp_east_m[r] =
            c->disp_north_m[r] = c->disp_m[r] = c->disp_sigma_m[r] = NAN;
    if (!y || !t || !ue || !un || !ar || !ok || !txe || !txn) {
        rc = HD_ENOMEM;
        goto done;
    }
    int64_t links = 0;
    for (int64_t e = 0; e < E; e++) {
        int n = 0;
        for (int r = 0; r < R; r++)
            n += isfinite(m->toa[e * R + r]) && isfinite(m->rx_lat[e * R + r]);
        if (n < 3)
            continue;
        c->n_events_tdoa++;
        double te, tn;
        hd_locate_from_geo(net, m->tx_lat[e], m->tx_lon[e], &te, &tn);
        txe[e] = te;
        txn[e] = tn;
        for (int r = 0; r < R; r++) {
            size_t o = (size_t)e * R + r;
            if (!isfinite(m->toa[o]) || !isfinite(m->rx_lat[o]))
                continue;
            double dist = hd_geo_slant_range(m->tx_lat[e], m->tx_lon[e], m->tx_alt[e], m->rx_lat[o], m->rx_lon[o],
                                             net->rx_h[r]);
            if (net->cfg.refractivity_n != 0) /* the radio path as the solver models it */
                dist *= hd_locate_path_factor(net, r, m->tx_alt[e]);
            y[o] = m->toa[o] - dist / HD_SPEED_OF_LIGHT;
            hd_locate_from_geo(net, m->rx_lat[o], m->rx_lon[o], &ue[o], &un[o]); /* the receiver, m */
            ok[o] = 1;
            links++;
        }
    }
    if (links < 3 || c->n_events_tdoa < 3) {
        c->n_events_tdoa = 0;
        goto done; /* level-only data: no clock part */
    }
    double b[HD_MAX_STATIONS];
    fit_additive(y, ok, E, R, t, b);
    /* links beyond CLIP_SIGMA robust sigma (MAD over every link) dropped and
     * the fit repeated, each pass judging every link anew against the last
     * fit, until the set of links stays the same: arrival times that
     * disagree with the truth by microseconds (a mis-picked time stamp, a
     * stale reported position) pull the plain fit by tens of ns */
    ok0 = hd_malloc(N);
    ok5 = hd_malloc(N);
    if (!ok0 || !ok5) {
        rc = HD_ENOMEM;
        goto done;
    }
    memcpy(ok0, ok, N);
    memcpy(ok5, ok, N);
    for (int pass = 0; pass < CLIP_PASSES; pass++) {
        size_t na = 0;
        for (size_t o = 0; o < N; o++)
            if (ok0[o])
                ar[na++] = fabs(y[o] - t[o / R] - b[o % R]);
        qsort(ar, na, sizeof *ar, cmp_double);
        double rsig = 1.4826 * ar[na / 2];
        if (!(rsig > 0))
            break;
        if (pass == 0) /* the position check's links: beyond 5 robust sigma of the plain fit dropped
                          (a displaced receiver's links are far off until its shift is fitted) */
            for (size_t o = 0; o < N; o++)
                ok5[o] = ok0[o] && fabs(y[o] - t[o / R] - b[o % R]) <= 5 * rsig;
        int changed = 0;
        for (size_t o = 0; o < N; o++)
            if (ok0[o]) {
                uint8_t keep = fabs(y[o] - t[o / R] - b[o % R]) <= CLIP_SIGMA * rsig;
                changed |= keep != ok[o];
                ok[o] = keep;
            }
        if (!changed)
            break;
        fit_additive(y, ok, E, R, t, b);
    }
    for (int r = 0; r < R; r++) {
        double ss = 0;
        int64_t n = 0;
        for (int64_t e = 0; e < E; e++) {
            size_t o = (size_t)e * R + r;
            if (!ok[o])
                continue;
            int k = 0;
            for (int q = 0; q < R; q++)
                k += ok[(size_t)e * R + q];
            double res = y[o] - t[e] - b[r];
            ss += res * res * (k > 1 ? (double)k / (k - 1) : 1);
            n++;
        }
        c->clock_links[r] = n;
        if (n < HD_CALIB_MIN_LINKS)
            continue;
        double s = sqrt(ss / (double)(n - 1));
        c->clock_offset_ns[r] = 1e9 * b[r];
        c->clock_offset_sigma_ns[r] = 1e9 * s / sqrt((double)n);
        c->clock_residual_ns[r] = 1e9 * s;
    }
    double b5[HD_MAX_STATIONS];
    fit_additive(y, ok5, E, R, t, b5); /* the emission times the position check starts from */
    fit_displacements(c, y, ok5, ue, un, txe, txn, E, R, t);
done:
    free(ok0);
    free(ok5);
    free(y);
    free(t);
    free(ue);
    free(un);
    free(ar);
    free(ok);
    free(txe);
    free(txn);
    return rc;
}

/* ---- the sparse layout: each event its own receivers, as link lists ----
 * The same model as the dense fit, on per-event link lists (memory grows
 * with the links, never events x receivers) and per-receiver accumulators;
 * the additive fits are solved by conjugate gradients (below) instead of
 * alternating sweeps, which crawl across a wide network of overlapping
 * neighbourhoods. Receivers stay those of the union (any number). */
typedef struct {
    int64_t E, K;
    int R;
    int64_t *first;                   /* [E+1] event e's links: [first[e], first[e+1]) */
    int32_t *rx;                      /* [K] receiver (row of c->st) */
    float *feat;                      /* [K*F] */
    uint8_t *mask;                    /* [K] RSS usable (heard, dBm valid) */
    double *y;                        /* [K] arrival time minus the truth's travel time (s), NaN untimed */
    double *L;                        /* [K] 10 log10 of the range from the truth at localize.tx_alt_m */
    double *dx, *dy;                  /* [K] the truth minus the receiver, east and north at the receiver (m) */
    double *tx_lat, *tx_lon, *tx_alt; /* [E] */
} linkset;

static void linkset_release(linkset *s)
{
    free(s->first);
    free(s->rx);
    free(s->feat);
    free(s->mask);
    free(s->y);
    free(s->L);
    free(s->dx);
    free(s->dy);
    free(s->tx_lat);
    free(s->tx_lon);
    free(s->tx_alt);
}

/* One sparse file's events with truth (or a known source) appended to s. */
static int read_sparse(hd_calib *c, linkset *s, hd_features_reader *rd, int k, const hd_localize_cfg *cfg,
                       const hd_calib_sources *ks)
{
    enum { B = 1024 };
    const int64_t E = rd->meta.n_events;
    const int Rc = rd->meta.max_links > 0 ? rd->meta.max_links : 1;
    if (Rc > HD_MAX_STATIONS)
        return hd_error(HD_EFORMAT, "an event of %d receivers (at most %d)", Rc, HD_MAX_STATIONS);
    int rc = 0, *map = hd_malloc((size_t)(rd->meta.n_receivers > 0 ? rd->meta.n_receivers : 1) * sizeof *map);
    hd_sparse_block blk;
    int brc = hd_sparse_block_alloc(&blk, rd, B);
    hd_event *ev = blk.ev;
    const hd_link *lk = blk.lk;
    const float *feat = blk.feat;
    const uint8_t *mask = blk.mask, *dok = blk.dok, *tmask = blk.tmask;
    const double *delay = blk.delay, *sigma = blk.sigma;
    hd_station *st = hd_calloc((size_t)Rc, sizeof *st);
    hd_localize_cfg c1 = *cfg;
    c1.search = HD_SEARCH_COARSE; /* a network per event only for its refractivity: no grid */
    c1.n_rss_offsets = 0;
    c1.calibrated = 0;
    if (!map || brc < 0 || !st) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int r = 0; r < rd->meta.n_receivers; r++)
        map[r] = find_id(c->st, c->R, rd->meta.stations[r].id);
    for (int64_t first = 0; first < E; first += B) {
        int n = (int)(E - first < B ? E - first : B);
        if ((rc = hd_sparse_block_read(&blk, rd, first, n)) < 0)
            goto done;
        for (int i = 0, lo = 0, po = 0; i < n; lo += ev[i].n_links, po += hd_features_npairs(ev[i].n_links), i++) {
            hd_event *e1 = &ev[i];
            const int kn = e1->n_links, P = hd_features_npairs(kn);
            if ((!rd->meta.has_truth || !isfinite(e1->truth.lat) || !isfinite(e1->truth.lon)) && ks) {
                hd_tx_truth_unknown(&e1->truth);
                for (int j = 0; j < ks->n; j++)
                    if (fabs(ks->frequency_hz[j] - e1->frequency_hz) <= ks->tol_hz) {
                        e1->truth.lat = ks->lat[j];
                        e1->truth.lon = ks->lon[j];
                        e1->truth.alt_m = ks->alt_m[j];
                        c->n_events_known++;
                        break;
                    }
            }
            if (!isfinite(e1->truth.lat) || !isfinite(e1->truth.lon) || kn < 1)
                continue;
            const int64_t o = s->E++;
            c->event_file[o] = k;
            c->event_index[o] = e1->index;
            const double tla = e1->truth.lat, tlo = e1->truth.lon;
            const double tal = isfinite(e1->truth.alt_m) ? e1->truth.alt_m : cfg->tx_alt_m;
            s->tx_lat[o] = tla;
            s->tx_lon[o] = tlo;
            s->tx_alt[o] = tal;
            hd_locate_obs obs = {feat + (size_t)lo * F, mask + lo, delay + po, sigma + po, tmask + po, NULL, NULL};
            double toa[HD_MAX_STATIONS], var[HD_MAX_STATIONS];
            uint64_t timed = 0;
            if (P == 0 || hd_locate_arrivals(kn, &obs, cfg->outlier_sigma, toa, var, &timed) < 2)
                timed = 0;
            hd_locate_net net;
            int net_ok = 0;
            if (timed && cfg->refractivity_n != 0) { /* the radio path as the solver models it */
                for (int j = 0; j < kn; j++)
                    st[j] = rd->meta.stations[lk[lo + j].rx];
                if ((rc = hd_locate_net_init(&net, st, kn, &c1)) < 0)
                    goto done;
                net_ok = 1;
            }
            for (int j = 0; j < kn; j++) {
                const hd_station *sj = &rd->meta.stations[lk[lo + j].rx];
                const int64_t q = s->K++;
                const double h = sj->alt_m + sj->antenna_height_m;
                s->rx[q] = map[lk[lo + j].rx];
                memcpy(s->feat + q * F, feat + (size_t)(lo + j) * F, F * sizeof *feat);
                s->mask[q] = mask[lo + j] && dok[lo + j];
                double d = hd_geo_slant_range(tla, tlo, cfg->tx_alt_m, sj->lat, sj->lon, h);
                s->L[q] = 10 * log10(d > 1 ? d : 1);
                s->y[q] = NAN;
                if (timed >> j & 1) {
                    double dist = hd_geo_slant_range(tla, tlo, tal, sj->lat, sj->lon, h);
                    if (net_ok)
                        dist *= hd_locate_path_factor(&net, j, tal);
                    s->y[q] = toa[j] - dist / HD_SPEED_OF_LIGHT;
                }
                hd_enu fr;
                double enu[3];
                hd_enu_init(&fr, sj->lat, sj->lon, 0);
                hd_enu_from_geo(&fr, tla, tlo, 0, enu);
                s->dx[q] = enu[0];
                s->dy[q] = enu[1];
            }
            if (net_ok)
                hd_locate_net_release(&net);
            s->first[o + 1] = s->K;
        }
    }
done:
    free(map);
    hd_sparse_block_release(&blk);
    free(st);
    return rc;
}

/* y_q = t_e + b_r over the links with ok[q]: b from the normal equations
 * with every t_e eliminated (a graph Laplacian over the receivers, applied
 * link by link) by conjugate gradients, b of mean zero over the receivers
 * with links (NaN without), then t_e the mean of y - b over its links (NaN
 * without). Returns the iterations taken, or HD_ENOMEM. */
static int solve_additive(const linkset *s, const double *y, const uint8_t *ok, double *t, double *b)
{
    const int R = s->R;
    double *w = hd_calloc((size_t)R * 4, sizeof *w);
    uint8_t *has = hd_calloc((size_t)R, 1);
    if (!w || !has) {
        free(w);
        free(has);
        return HD_ENOMEM;
    }
    double *res = w, *p = w + R, *Ap = w + 2 * R;
    /* A x: per link (x_r - mean of x over its event's links) summed onto r */
#define APPLY(x, out)                                                                                                  \
    do {                                                                                                               \
        for (int r_ = 0; r_ < R; r_++)                                                                                 \
            (out)[r_] = 0;                                                                                             \
        for (int64_t e_ = 0; e_ < s->E; e_++) {                                                                        \
            double m_ = 0;                                                                                             \
            int n_ = 0;                                                                                                \
            for (int64_t q_ = s->first[e_]; q_ < s->first[e_ + 1]; q_++)                                               \
                if (ok[q_]) {                                                                                          \
                    m_ += (x)[s->rx[q_]];                                                                              \
                    n_++;                                                                                              \
                }                                                                                                      \
            if (n_ < 2)                                                                                                \
                continue;                                                                                              \
            m_ /= n_;                                                                                                  \
            for (int64_t q_ = s->first[e_]; q_ < s->first[e_ + 1]; q_++)                                               \
                if (ok[q_])                                                                                            \
                    (out)[s->rx[q_]] += (x)[s->rx[q_]] - m_;                                                           \
        }                                                                                                              \
    } while (0)
    /* the right-hand side: per link (y - its event's mean of y) */
    for (int r = 0; r < R; r++)
        res[r] = b[r] = 0;
    for (int64_t e = 0; e < s->E; e++) {
        double m = 0;
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (ok[q]) {
                m += y[q];
                n++;
                has[s->rx[q]] = 1;
            }
        if (n < 2)
            continue;
        m /= n;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (ok[q])
                res[s->rx[q]] += y[q] - m;
    }
    double rs = 0;
    for (int r = 0; r < R; r++) {
        p[r] = res[r];
        rs += res[r] * res[r];
    }
    const double rs0 = rs;
    int it = 0;
    for (; it < 4 * R + 100 && rs > 1e-24 * rs0 && rs > 0; it++) {
        APPLY(p, Ap);
        double pAp = 0;
        for (int r = 0; r < R; r++)
            pAp += p[r] * Ap[r];
        if (!(pAp > 0))
            break;
        double alpha = rs / pAp, rs1 = 0;
        for (int r = 0; r < R; r++) {
            b[r] += alpha * p[r];
            res[r] -= alpha * Ap[r];
            rs1 += res[r] * res[r];
        }
        for (int r = 0; r < R; r++)
            p[r] = res[r] + rs1 / rs * p[r];
        rs = rs1;
    }
#undef APPLY
    double mean = 0;
    int nr = 0;
    for (int r = 0; r < R; r++)
        if (has[r]) {
            mean += b[r];
            nr++;
        }
    for (int r = 0; r < R; r++)
        b[r] = has[r] ? b[r] - mean / nr : NAN;
    for (int64_t e = 0; e < s->E; e++) {
        double m = 0;
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (ok[q]) {
                m += y[q] - b[s->rx[q]];
                n++;
            }
        t[e] = n ? m / n : NAN;
    }
    free(w);
    free(has);
    return it;
}

/* RSS offsets, exponent and sigma on link lists: for a given exponent g the
 * additive fit of rss + g L = P_e + offset_r, then g from the links
 * centred per event, until g settles; the covariance scale from up to 400
 * events located among their own receivers. */
static int fit_rss_links(hd_calib *c, const linkset *s, const hd_localize_cfg *cfg)
{
    const int R = s->R;
    const size_t Kn = (size_t)(s->K > 0 ? s->K : 1), En = (size_t)(s->E > 0 ? s->E : 1);
    uint8_t *ok = hd_calloc(Kn, 1), *heard = hd_calloc((size_t)R, 1);
    double *y = hd_malloc(Kn * sizeof *y), *P = hd_malloc(En * sizeof *P), *off = hd_malloc((size_t)R * sizeof *off);
    double *ss = hd_calloc((size_t)R, sizeof *ss), *d2 = hd_malloc(400 * sizeof *d2);
    hd_station *st = hd_calloc(HD_MAX_STATIONS, sizeof *st);
    float *fe = hd_malloc((size_t)HD_MAX_STATIONS * F * sizeof *fe);
    int rc = 0;
    c->rss_exponent = c->rss_sigma_db = NAN;
    for (int r = 0; r < R; r++)
        c->rss_offset_db[r] = c->rss_offset_sigma_db[r] = NAN;
    if (!ok || !heard || !y || !P || !off || !ss || !d2 || !st || !fe) {
        rc = HD_ENOMEM;
        goto done;
    }
    int64_t links = 0;
    int nheard = 0;
    for (int64_t e = 0; e < s->E; e++) {
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            n += s->mask[q] && isfinite(s->feat[q * F + HD_FEAT_RSS_DBM]);
        if (n < 2)
            continue;
        c->n_events_rss++;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (s->mask[q] && isfinite(s->feat[q * F + HD_FEAT_RSS_DBM])) {
                ok[q] = 1;
                links++;
                nheard += !heard[s->rx[q]];
                heard[s->rx[q]] = 1;
            }
    }
    if (nheard < 2 || links < 3 * nheard) { /* too little to learn from: that part is left out */
        c->n_events_rss = 0;
        goto done;
    }
    double g = cfg->rss_exponent;
    for (int it = 0; it < 100; it++) {
        for (size_t q = 0; q < (size_t)s->K; q++)
            y[q] = ok[q] ? s->feat[q * F + HD_FEAT_RSS_DBM] + g * s->L[q] : NAN;
        if ((rc = solve_additive(s, y, ok, P, off)) < 0)
            goto done;
        double szl = 0, sll = 0;
        for (int64_t e = 0; e < s->E; e++) {
            double sz = 0, sl = 0;
            int n = 0;
            for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                if (ok[q]) {
                    sz += s->feat[q * F + HD_FEAT_RSS_DBM] - off[s->rx[q]];
                    sl += s->L[q];
                    n++;
                }
            if (n < 2)
                continue;
            for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                if (ok[q]) {
                    double zc = s->feat[q * F + HD_FEAT_RSS_DBM] - off[s->rx[q]] - sz / n, lc = s->L[q] - sl / n;
                    szl += zc * lc;
                    sll += lc * lc;
                }
        }
        double g1 = sll > 0 ? fmin(6, fmax(1.5, -szl / sll)) : g;
        int settled = fabs(g1 - g) < 1e-9;
        g = g1;
        if (settled)
            break;
    }
    for (size_t q = 0; q < (size_t)s->K; q++)
        y[q] = ok[q] ? s->feat[q * F + HD_FEAT_RSS_DBM] + g * s->L[q] : NAN;
    if ((rc = solve_additive(s, y, ok, P, off)) < 0)
        goto done;
    double sst = 0;
    int64_t nt = 0;
    for (int64_t e = 0; e < s->E; e++) {
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            n += ok[q];
        double kf = n > 1 ? (double)n / (n - 1) : 1;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (ok[q]) {
                double res = y[q] - P[e] - off[s->rx[q]];
                sst += res * res;
                nt++;
                ss[s->rx[q]] += res * res * kf;
                c->rss_links[s->rx[q]]++;
            }
    }
    c->rss_exponent = g;
    c->rss_sigma_db = nt > nheard ? sqrt(sst / (double)(nt - nheard)) : NAN;
    for (int r = 0; r < R; r++)
        if (c->rss_links[r] >= HD_CALIB_MIN_LINKS) {
            c->rss_offset_db[r] = off[r];
            c->rss_offset_sigma_db[r] = sqrt(ss[r] / (double)(c->rss_links[r] - 1)) / sqrt((double)c->rss_links[r]);
        }
    /* the covariance scale: up to 400 events, each among its own receivers,
     * their levels less the fitted offsets */
    hd_localize_cfg c2 = *cfg;
    c2.n_rss_offsets = 0;
    c2.calibrated = 0;
    c2.rss_exponent = g;
    c2.rss_sigma_db = c->rss_sigma_db;
    if (c2.search == HD_SEARCH_AUTO)
        c2.search = HD_SEARCH_COARSE;
    c->rss_cov_scale = 1;
    int64_t step = c->n_events_rss > 400 ? c->n_events_rss / 400 : 1, seen = 0;
    int nd = 0;
    for (int64_t e = 0; e < s->E && nd < 400; e++) {
        const int kn = (int)(s->first[e + 1] - s->first[e]);
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            n += ok[q];
        if (n < 2 || seen++ % step || kn > HD_MAX_STATIONS)
            continue;
        uint8_t mk[HD_MAX_STATIONS], zm[1] = {0};
        double zd[1] = {0};
        for (int j = 0; j < kn; j++) {
            int64_t q = s->first[e] + j;
            st[j] = c->st[s->rx[q]];
            memcpy(fe + (size_t)j * F, s->feat + q * F, F * sizeof *fe);
            fe[(size_t)j * F + HD_FEAT_RSS_DBM] -= (float)(ok[q] ? off[s->rx[q]] : 0);
            mk[j] = ok[q];
        }
        hd_locate_net net;
        if ((rc = hd_locate_net_init(&net, st, kn, &c2)) < 0)
            goto done;
        hd_locate_obs obs = {fe, mk, zd, zd, zm, NULL, NULL};
        hd_locate_result res;
        if (hd_locate(&net, &obs, HD_LOC_RSS, &res) == 0 && res.status == HD_LOC_OK) {
            double te, tn;
            hd_locate_from_geo(&net, s->tx_lat[e], s->tx_lon[e], &te, &tn);
            double qd = hd_locate_mahalanobis2(res.cov, res.e - te, res.n - tn) / hd_locate_radius2(0.5, res.nu);
            if (isfinite(qd))
                d2[nd++] = qd;
        }
        hd_locate_net_release(&net);
    }
    if (nd >= 20) {
        qsort(d2, (size_t)nd, sizeof *d2, cmp_double);
        c->rss_cov_scale = d2[nd / 2];
    }
    rc = 0;
done:
    free(ok);
    free(heard);
    free(y);
    free(P);
    free(off);
    free(ss);
    free(d2);
    free(st);
    free(fe);
    return rc;
}

/* The position check on link lists (as fit_displacements): per receiver a
 * shift from its advertised position and a constant, Gauss-Newton on the
 * links' residuals, alternating with the emission times t[E]. The links
 * are cand's, those beyond 5 robust sigma of the displaced model dropped
 * and the fit repeated until they stay the same (a receiver kilometres
 * off has links microseconds off until its shift is fitted: judged
 * against the plain fit, as the dense check does, they would be dropped
 * before they can show it). A shift's sigma counts that each emission time
 * is fitted from the k links of its event (variance times k/(k-1),
 * averaged over the receiver's links), and the flag bound the few links
 * a receiver has (below). */
static int fit_displacements_links(hd_calib *c, const linkset *s, const double *y, const uint8_t *cand, double *t)
{
    const int R = s->R;
    const size_t Kn = (size_t)(s->K > 0 ? s->K : 1);
    double *w = hd_calloc((size_t)R * 28, sizeof *w), *ar = hd_malloc(Kn * sizeof *ar);
    int64_t *nl = hd_calloc((size_t)R, sizeof *nl);
    uint8_t *fit = hd_calloc((size_t)R, 1), *ok = hd_malloc(Kn);
    if (!w || !nl || !fit || !ok || !ar) {
        free(w);
        free(ar);
        free(nl);
        free(fit);
        free(ok);
        return HD_ENOMEM;
    }
    memcpy(ok, cand, Kn);
    double *se = w, *sn = w + R, *a = w + 2 * R, *A = w + 3 * R, *v = w + 12 * R, *cov = w + 15 * R;
    double *ss = w + 24 * R, *kf = w + 25 * R;
    for (int pass = 0; pass < CLIP_PASSES; pass++) {
        for (int it = 0; it < 60; it++) {
            memset(A, 0, (size_t)R * 12 * sizeof *A); /* A and v */
            memset(nl, 0, (size_t)R * sizeof *nl);
            for (int64_t e = 0; e < s->E; e++) {
                if (!isfinite(t[e]))
                    continue;
                for (int64_t q = s->first[e]; q < s->first[e + 1]; q++) {
                    if (!ok[q])
                        continue;
                    int r = s->rx[q];
                    double ux, uy, z = shifted_residual(s->dx[q], s->dy[q], se[r], sn[r], y[q], t[e], &ux, &uy);
                    normal_add(A + 9 * r, v + 3 * r, ux, uy, z);
                    nl[r]++;
                }
            }
            for (int r = 0; r < R; r++)
                fit[r] = (uint8_t)shift_step(A + 9 * r, v + 3 * r, nl[r], cov + 9 * (size_t)r, &a[r], &se[r], &sn[r]);
            for (int64_t e = 0; e < s->E; e++) {
                double m = 0;
                int n = 0;
                for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                    if (ok[q]) {
                        int r = s->rx[q];
                        m += shifted_time(s->dx[q], s->dy[q], se[r], sn[r], a[r], y[q]);
                        n++;
                    }
                if (n)
                    t[e] = m / n;
            }
        }
        /* the candidates judged against the displaced model */
        size_t na = 0;
        for (int64_t e = 0; e < s->E; e++)
            for (int64_t q = s->first[e]; isfinite(t[e]) && q < s->first[e + 1]; q++)
                if (cand[q]) {
                    int r = s->rx[q];
                    double ux, uy, z = shifted_residual(s->dx[q], s->dy[q], se[r], sn[r], y[q], t[e], &ux, &uy);
                    ar[na++] = fabs(z - a[r]);
                }
        if (!na)
            break;
        qsort(ar, na, sizeof *ar, cmp_double);
        double rsig = 1.4826 * ar[na / 2];
        if (!(rsig > 0))
            break;
        int changed = 0;
        for (int64_t e = 0; e < s->E; e++)
            for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                if (cand[q]) {
                    int r = s->rx[q];
                    double z = 0, ux, uy;
                    if (isfinite(t[e]))
                        z = shifted_residual(s->dx[q], s->dy[q], se[r], sn[r], y[q], t[e], &ux, &uy);
                    uint8_t keep = isfinite(t[e]) && fabs(z - a[r]) <= 5 * rsig;
                    changed |= keep != ok[q];
                    ok[q] = keep;
                }
        if (!changed)
            break;
    }
    memset(nl, 0, (size_t)R * sizeof *nl);
    for (int64_t e = 0; e < s->E; e++) {
        if (!isfinite(t[e]))
            continue;
        int k = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            k += ok[q];
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++) {
            if (!ok[q])
                continue;
            int r = s->rx[q];
            double ux, uy, z = shifted_residual(s->dx[q], s->dy[q], se[r], sn[r], y[q], t[e], &ux, &uy);
            double f = k > 1 ? (double)k / (k - 1) : 1;
            ss[r] += (z - a[r]) * (z - a[r]) * f;
            kf[r] += f;
            nl[r]++;
        }
    }
    /* m2: the shift's Mahalanobis distance (a receiver at the network's
     * edge hears its transmitters from one side: its shift along them is
     * far less certain than across); its sigma comes from its own few
     * residuals (nu = n - 3 degrees of freedom, often under ten), so m2
     * follows F(2, nu) for a receiver in place, tail (1 + m2/nu)^(-nu/2) */
    double *m2 = w + 26 * R, *nu = w + 27 * R;
    int nq = 0;
    for (int r = 0; r < R; r++) {
        m2[r] = nu[r] = NAN;
        if (!fit[r])
            continue;
        const double *cv = cov + 9 * (size_t)r;
        double sm = nl[r] > 3 ? sqrt(ss[r] / (double)(nl[r] - 3)) : NAN;
        double infl = nl[r] ? kf[r] / (double)nl[r] : 1;
        c->disp_east_m[r] = se[r];
        c->disp_north_m[r] = sn[r];
        c->disp_m[r] = hypot(se[r], sn[r]);
        c->disp_sigma_m[r] = sm * sqrt(infl * 0.5 * (fabs(cv[4]) + fabs(cv[8])));
        double s2 = sm * sm * infl, c00 = s2 * cv[4], c01 = s2 * cv[5], c11 = s2 * cv[8];
        double det = c00 * c11 - c01 * c01;
        if (det > 0 && nl[r] > 3) {
            m2[r] = (c11 * se[r] * se[r] - 2 * c01 * se[r] * sn[r] + c00 * sn[r] * sn[r]) / det;
            nu[r] = (double)(nl[r] - 3);
            kf[nq++] = m2[r] / (nu[r] * expm1(2 * M_LN2 / nu[r])); /* over its median in place (kf[r] read: nq <= r) */
        }
    }
    /* the residuals' sigmas come out too small on such data (the median
     * receiver, nearly all in place, sits further out than its F(2, nu)
     * median): every covariance scaled by the median ratio when above 1,
     * as the RSS covariance scale is learnt */
    double scale = 1;
    if (nq >= 20) {
        qsort(kf, (size_t)nq, sizeof *kf, cmp_double);
        scale = fmax(1, kf[nq / 2]);
    }
    for (int r = 0; r < R; r++) {
        if (!fit[r])
            continue;
        c->disp_sigma_m[r] *= sqrt(scale);
        /* flagged where a receiver in place goes as rarely as beyond 4
         * known sigma (2-D: exp(-8)) */
        double b2 = nu[r] > 0 ? nu[r] * expm1(16 / nu[r]) : INFINITY;
        c->displaced[r] = m2[r] / scale > b2 && c->disp_m[r] > 100;
    }
    free(w);
    free(ar);
    free(nl);
    free(fit);
    free(ok);
    return 0;
}

/* Clock offsets on link lists (as fit_clock: the same clipping), then the
 * position check. */
static int fit_clock_links(hd_calib *c, const linkset *s)
{
    const int R = s->R;
    const size_t Kn = (size_t)(s->K > 0 ? s->K : 1), En = (size_t)(s->E > 0 ? s->E : 1);
    uint8_t *ok = hd_calloc(Kn, 1), *ok0 = hd_malloc(Kn), *ok5 = hd_malloc(Kn);
    double *t = hd_malloc(En * sizeof *t), *b = hd_malloc((size_t)R * sizeof *b);
    double *b5 = hd_malloc((size_t)R * sizeof *b5);
    double *ar = hd_malloc(Kn * sizeof *ar), *ss = hd_calloc((size_t)R, sizeof *ss);
    int rc = 0;
    for (int r = 0; r < R; r++)
        c->clock_offset_ns[r] = c->clock_offset_sigma_ns[r] = c->clock_residual_ns[r] = c->disp_east_m[r] =
            c->disp_north_m[r] = c->disp_m[r] = c->disp_sigma_m[r] = NAN;
    if (!ok || !ok0 || !ok5 || !t || !b || !b5 || !ar || !ss) {
        rc = HD_ENOMEM;
        goto done;
    }
    int64_t links = 0;
    for (int64_t e = 0; e < s->E; e++) {
        int n = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            n += isfinite(s->y[q]);
        if (n < 3)
            continue;
        c->n_events_tdoa++;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (isfinite(s->y[q])) {
                ok[q] = 1;
                links++;
            }
    }
    if (links < 3 || c->n_events_tdoa < 3) {
        c->n_events_tdoa = 0;
        goto done; /* level-only data: no clock part */
    }
    if ((rc = solve_additive(s, s->y, ok, t, b)) < 0)
        goto done;
    memcpy(ok0, ok, Kn);
    memcpy(ok5, ok, Kn);
#define RESID(e, q) fabs(s->y[q] - t[e] - b[s->rx[q]])
    for (int pass = 0; pass < CLIP_PASSES; pass++) {
        size_t na = 0;
        for (int64_t e = 0; e < s->E; e++)
            for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                if (ok0[q])
                    ar[na++] = RESID(e, q);
        qsort(ar, na, sizeof *ar, cmp_double);
        double rsig = 1.4826 * ar[na / 2];
        if (!(rsig > 0))
            break;
        int changed = 0;
        for (int64_t e = 0; e < s->E; e++)
            for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
                if (ok0[q]) {
                    if (pass == 0)
                        ok5[q] = RESID(e, q) <= 5 * rsig;
                    uint8_t keep = RESID(e, q) <= CLIP_SIGMA * rsig;
                    changed |= keep != ok[q];
                    ok[q] = keep;
                }
        if (!changed)
            break;
        if ((rc = solve_additive(s, s->y, ok, t, b)) < 0)
            goto done;
    }
    for (int64_t e = 0; e < s->E; e++) {
        int k = 0;
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            k += ok[q];
        for (int64_t q = s->first[e]; q < s->first[e + 1]; q++)
            if (ok[q]) {
                double res = s->y[q] - t[e] - b[s->rx[q]];
                ss[s->rx[q]] += res * res * (k > 1 ? (double)k / (k - 1) : 1);
                c->clock_links[s->rx[q]]++;
            }
    }
#undef RESID
    for (int r = 0; r < R; r++) {
        int64_t n = c->clock_links[r];
        if (n < HD_CALIB_MIN_LINKS)
            continue;
        double sd = sqrt(ss[r] / (double)(n - 1));
        c->clock_offset_ns[r] = 1e9 * b[r];
        c->clock_offset_sigma_ns[r] = 1e9 * sd / sqrt((double)n);
        c->clock_residual_ns[r] = 1e9 * sd;
    }
    if ((rc = solve_additive(s, s->y, ok5, t, b5)) < 0) /* the emission times the position check starts from */
        goto done;
    rc = fit_displacements_links(c, s, s->y, ok0, t);
done:
    free(ok);
    free(ok0);
    free(ok5);
    free(t);
    free(b);
    free(b5);
    free(ar);
    free(ss);
    return rc < 0 ? rc : 0;
}

/* The whole fit from sparse files (c->st, c->R the union already). */
static int fit_sparse(hd_calib *c, hd_features_reader *const *rd, const char *const *paths, int n,
                      const hd_localize_cfg *cfg, const hd_calib_sources *src)
{
    linkset s;
    memset(&s, 0, sizeof s);
    int64_t E = 0, K = 0;
    for (int k = 0; k < n; k++) {
        E += rd[k]->meta.n_events;
        K += rd[k]->meta.n_links;
    }
    const size_t En = (size_t)(E > 0 ? E : 1), Kn = (size_t)(K > 0 ? K : 1);
    int rc = 0;
    s.R = c->R;
    s.first = hd_calloc(En + 1, sizeof *s.first);
    s.rx = hd_malloc(Kn * sizeof *s.rx);
    s.feat = hd_malloc(Kn * F * sizeof *s.feat);
    s.mask = hd_malloc(Kn);
    s.y = hd_malloc(Kn * sizeof *s.y);
    s.L = hd_malloc(Kn * sizeof *s.L);
    s.dx = hd_malloc(Kn * sizeof *s.dx);
    s.dy = hd_malloc(Kn * sizeof *s.dy);
    s.tx_lat = hd_malloc(En * sizeof *s.tx_lat);
    s.tx_lon = hd_malloc(En * sizeof *s.tx_lon);
    s.tx_alt = hd_malloc(En * sizeof *s.tx_alt);
    c->event_file = hd_malloc(En * sizeof *c->event_file);
    c->event_index = hd_malloc(En * sizeof *c->event_index);
    if (!s.first || !s.rx || !s.feat || !s.mask || !s.y || !s.L || !s.dx || !s.dy || !s.tx_lat || !s.tx_lon ||
        !s.tx_alt || !c->event_file || !c->event_index) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int k = 0; k < n; k++) {
        const int64_t before = s.E;
        if ((rc = read_sparse(c, &s, rd[k], k, cfg, src)) < 0) {
            char msg[512];
            hd_strlcpy(msg, hd_errmsg(), sizeof msg);
            rc = hd_error(rc, "%s: %s", paths[k], msg);
            goto done;
        }
        if (!rd[k]->meta.has_truth && s.E == before) {
            rc = hd_error(HD_ECONFIG, "%s has no /truth and no event on a known source's frequency (within %g Hz)",
                          paths[k], src->tol_hz);
            goto done;
        }
    }
    c->n_events = s.E;
    if (s.E == 0) {
        rc = hd_error(HD_ECONFIG, "no event has a transmitter position in /truth: nothing to calibrate on");
        goto done;
    }
    if ((rc = fit_rss_links(c, &s, cfg)) < 0 || (rc = fit_clock_links(c, &s)) < 0)
        goto done;
    if (!c->n_events_rss && !c->n_events_tdoa)
        rc = hd_error(HD_EDATA, "%lld events with truth, but neither enough RSS links nor time differences to fit",
                      (long long)s.E);
done:
    linkset_release(&s);
    return rc;
}

int hd_calib_fit(hd_calib *c, hd_features_reader *const *rd, const char *const *paths, int n,
                 const hd_localize_cfg *cfg)
{
    return hd_calib_fit_sources(c, rd, paths, n, cfg, NULL);
}

int hd_calib_fit_sources(hd_calib *c, hd_features_reader *const *rd, const char *const *paths, int n,
                         const hd_localize_cfg *cfg, const hd_calib_sources *src)
{
    if (src && src->n <= 0)
        src = NULL;
    memset(c, 0, sizeof *c);
    merged m;
    memset(&m, 0, sizeof m);
    hd_locate_net net;
    memset(&net, 0, sizeof net);
    int rc = 0, net_ok = 0;
    int64_t E = 0;
    hd_station *ust = NULL;
    int nu = 0, cap = 0;
    for (int k = 0; k < n; k++) {
        if (!rd[k]->meta.has_truth && !src) {
            free(ust);
            return hd_error(HD_ECONFIG, "%s has no /truth: calibrate learns from events with a known transmitter "
                                        "(or give their positions: --known-sources FILE)",
                            paths[k]);
        }
        for (int r = 0; r < rd[k]->meta.n_receivers; r++) {
            const hd_station *s = &rd[k]->meta.stations[r];
            if (find_id(ust, nu, s->id) >= 0)
                continue;
            if (nu == cap) {
                hd_station *t = realloc(ust, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *t);
                if (!t) {
                    free(ust);
                    return HD_ENOMEM;
                }
                ust = t;
            }
            ust[nu++] = *s;
        }
        E += rd[k]->meta.n_events;
    }
    int sparse = 0, dense = 0;
    for (int k = 0; k < n; k++) {
        sparse |= rd[k]->meta.sparse != 0;
        dense |= !rd[k]->meta.sparse;
    }
    if (sparse && dense) {
        free(ust);
        return hd_error(HD_ECONFIG,
                        "the files mix the dense and the sparse layout: calibrate reads one kind at a time");
    }
    if (!sparse && nu > HD_MAX_STATIONS) {
        free(ust);
        return hd_error(HD_EDATA, "%d receivers over the dense files (at most %d; a larger network is calibrated "
                                  "from sparse files)", nu, HD_MAX_STATIONS);
    }
    rc = hd_calib_alloc(c, nu);
    if (rc == 0)
        memcpy(c->st, ust, (size_t)nu * sizeof *ust);
    free(ust);
    if (rc < 0)
        return rc;
    c->R = nu;
    if (sparse) {
        rc = fit_sparse(c, rd, paths, n, cfg, src);
        if (rc < 0)
            hd_calib_release(c);
        return rc;
    }
    const int R = c->R;
    size_t En = (size_t)(E > 0 ? E : 1);
    m.R = R;
    m.feat = hd_calloc(En * R * F, sizeof *m.feat);
    m.mask = hd_calloc(En * R, 1);
    m.rx_lat = hd_malloc(En * R * sizeof *m.rx_lat);
    m.rx_lon = hd_malloc(En * R * sizeof *m.rx_lon);
    m.toa = hd_malloc(En * R * sizeof *m.toa);
    m.tx_lat = hd_malloc(En * sizeof *m.tx_lat);
    m.tx_lon = hd_malloc(En * sizeof *m.tx_lon);
    m.tx_alt = hd_malloc(En * sizeof *m.tx_alt);
    c->event_file = hd_malloc(En * sizeof *c->event_file);
    c->event_index = hd_malloc(En * sizeof *c->event_index);
    if (!m.feat || !m.mask || !m.rx_lat || !m.rx_lon || !m.toa || !m.tx_lat || !m.tx_lon || !m.tx_alt ||
        !c->event_file || !c->event_index) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (size_t o = 0; o < En * R; o++)
        m.rx_lat[o] = m.rx_lon[o] = m.toa[o] = NAN;
    int64_t row = 0;
    for (int k = 0; k < n; k++) {
        const int64_t before = row;
        if ((rc = read_file(c, &m, rd[k], k, cfg, src, &row)) < 0)
            goto fail;
        if (!rd[k]->meta.has_truth && row == before) {
            rc = hd_error(HD_ECONFIG, "%s has no /truth and no event on a known source's frequency (within %g Hz)",
                          paths[k], src->tol_hz);
            goto fail;
        }
    }
    m.E = c->n_events = row;
    if (row == 0) {
        rc = hd_error(HD_ECONFIG, "no event has a transmitter position in /truth: nothing to calibrate on");
        goto fail;
    }
    if ((rc = hd_locate_net_init(&net, c->st, R, cfg)) < 0)
        goto fail;
    net_ok = 1;
    if ((rc = fit_rss(c, &m, &net, cfg)) < 0 || (rc = fit_clock(c, &m, &net)) < 0)
        goto fail;
    if (!c->n_events_rss && !c->n_events_tdoa) {
        rc = hd_error(HD_EDATA, "%lld events with truth, but neither enough RSS links nor time differences to fit",
                      (long long)row);
        goto fail;
    }
fail:
    if (net_ok)
        hd_locate_net_release(&net);
    merged_release(&m);
    if (rc < 0)
        hd_calib_release(c);
    return rc;
}

int hd_calib_write(const hd_calib *c, hid_t file)
{
    const int R = c->R;
    hsize_t dr[1] = {(hsize_t)R}, de[1] = {(hsize_t)(c->n_events > 0 ? c->n_events : 0)};
    int8_t *disp = hd_malloc((size_t)(R > 0 ? R : 1));
    int32_t *ef = hd_malloc((size_t)(c->n_events > 0 ? c->n_events : 1) * sizeof *ef);
    if (!ef || !disp) {
        free(ef);
        free(disp);
        return HD_ENOMEM;
    }
    for (int r = 0; r < R; r++)
        disp[r] = (int8_t)c->displaced[r];
    for (int64_t e = 0; e < c->n_events; e++)
        ef[e] = (int32_t)c->event_file[e];
    int rc = hd_captures_write_receivers(file, c->st, R);
    hid_t g = rc < 0 ? -1 : H5Gcreate2(file, "calibration", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (rc == 0 && g < 0)
        rc = hd_error(HD_EIO, "cannot create /calibration");
    if (g >= 0)
        H5Gclose(g);
#define W(name, type, dims, data, units, desc)                                                                         \
    if (rc == 0)                                                                                                       \
    rc = hd_h5_write(file, "calibration/" name, type, 1, dims, data, units, desc)
    W("rss_offset_db", H5T_NATIVE_DOUBLE, dr, c->rss_offset_db, "dB",
      "per receiver RSS offset (mean zero over those heard; NaN: not calibrated), subtracted from rss_dbm");
    W("rss_offset_sigma_db", H5T_NATIVE_DOUBLE, dr, c->rss_offset_sigma_db, "dB", "1-sigma of rss_offset_db");
    W("rss_links", H5T_NATIVE_INT64, dr, c->rss_links, "1", "links the RSS offset was learnt from");
    W("clock_offset_ns", H5T_NATIVE_DOUBLE, dr, c->clock_offset_ns, "ns",
      "per receiver clock offset (late time stamps positive; mean zero over those timed; NaN: not calibrated), "
      "subtracted from its arrival times: delay_s(i, j) -= offset_j - offset_i");
    W("clock_offset_sigma_ns", H5T_NATIVE_DOUBLE, dr, c->clock_offset_sigma_ns, "ns", "1-sigma of clock_offset_ns");
    W("clock_residual_ns", H5T_NATIVE_DOUBLE, dr, c->clock_residual_ns, "ns",
      "RMS of the receiver's arrival-time residuals after the fit");
    W("clock_links", H5T_NATIVE_INT64, dr, c->clock_links, "1", "events whose time differences timed the receiver");
    W("displacement_east_m", H5T_NATIVE_DOUBLE, dr, c->disp_east_m, "m",
      "position check: where the timing residuals put the receiver, minus its advertised position (east)");
    W("displacement_north_m", H5T_NATIVE_DOUBLE, dr, c->disp_north_m, "m", "the same, north");
    W("displacement_m", H5T_NATIVE_DOUBLE, dr, c->disp_m, "m", "size of the displacement");
    W("displacement_sigma_m", H5T_NATIVE_DOUBLE, dr, c->disp_sigma_m, "m", "1-sigma of one displacement component");
    W("displaced", H5T_NATIVE_INT8, dr, disp, "1",
      "1: displacement > 4 sigma (sparse files: its Mahalanobis distance beyond the F(2, links - 3) bound of the same "
      "false-alarm rate) and > 100 m (advertised position suspect)");
    W("event_file", H5T_NATIVE_INT32, de, ef, "1", "the events learnt from: input file number (provenance order)");
    W("event_index", H5T_NATIVE_INT64, de, c->event_index, "1", "the events learnt from: /events/index in that file");
#undef W
    free(ef);
    free(disp);
    hid_t cg = rc < 0 ? -1 : H5Gopen2(file, "calibration", H5P_DEFAULT);
    if (cg >= 0) {
        if ((rc = hd_h5_attr_double(cg, "rss_exponent", c->rss_exponent)) == 0 &&
            (rc = hd_h5_attr_double(cg, "rss_sigma_db", c->rss_sigma_db)) == 0 &&
            (rc = hd_h5_attr_double(cg, "rss_cov_scale", c->rss_cov_scale)) == 0 &&
            (rc = hd_h5_attr_int(cg, "n_events", c->n_events)) == 0 &&
            (rc = hd_h5_attr_int(cg, "n_events_rss", c->n_events_rss)) == 0 &&
            (rc = hd_h5_attr_int(cg, "n_events_tdoa", c->n_events_tdoa)) == 0)
            rc = hd_h5_attr_int(cg, "n_events_known", c->n_events_known);
        H5Gclose(cg);
    }
    return rc;
}

static int read_vec(hid_t f, const char *name, hid_t type, int R, void *dst, size_t elem)
{
    int rank;
    hsize_t dims[8];
    void *p = NULL;
    int rc = hd_h5_read(f, name, type, &rank, dims, &p);
    if (rc == 0 && (rank != 1 || (int)dims[0] != R))
        rc = hd_error(HD_EFORMAT, "/%s has %d values for %d receivers", name, rank == 1 ? (int)dims[0] : -1, R);
    if (rc == 0)
        memcpy(dst, p, (size_t)R * elem);
    free(p);
    return rc;
}

int hd_calib_load(hd_calib *c, const char *path)
{
    memset(c, 0, sizeof *c);
    hid_t f;
    double *la = NULL, *lo = NULL;
    int rc = hd_h5_open(&f, path, HD_FORMAT_CALIBRATION, HD_CALIBRATION_VERSION, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    char **ids = NULL;
    hsize_t n = 0;
    if ((rc = hd_h5_read_strings(f, "receivers/id", &ids, &n)) < 0)
        goto done;
    if (n == 0 || n > HD_CALIB_MAX_RECEIVERS) {
        rc = hd_error(HD_EFORMAT, "%s: %llu receivers", path, (unsigned long long)n);
        goto done;
    }
    if ((rc = hd_calib_alloc(c, (int)n)) < 0)
        goto done;
    c->R = (int)n;
    for (int r = 0; r < c->R; r++)
        hd_strlcpy(c->st[r].id, ids[r], sizeof c->st[r].id);
    const int R = c->R;
    if (!(la = hd_malloc((size_t)R * sizeof *la)) || !(lo = hd_malloc((size_t)R * sizeof *lo))) {
        rc = HD_ENOMEM;
        goto done;
    }
    if ((rc = read_vec(f, "receivers/lat", H5T_NATIVE_DOUBLE, R, la, sizeof(double))) < 0 ||
        (rc = read_vec(f, "receivers/lon", H5T_NATIVE_DOUBLE, R, lo, sizeof(double))) < 0 ||
        (rc = read_vec(f, "calibration/rss_offset_db", H5T_NATIVE_DOUBLE, R, c->rss_offset_db, sizeof(double))) < 0 ||
        (rc = read_vec(f, "calibration/rss_offset_sigma_db", H5T_NATIVE_DOUBLE, R, c->rss_offset_sigma_db,
                       sizeof(double))) < 0 ||
        (rc = read_vec(f, "calibration/rss_links", H5T_NATIVE_INT64, R, c->rss_links, sizeof(int64_t))) < 0 ||
        (rc = read_vec(f, "calibration/clock_offset_ns", H5T_NATIVE_DOUBLE, R, c->clock_offset_ns, sizeof(double))) < 0 ||
        (rc = read_vec(f, "calibration/clock_offset_sigma_ns", H5T_NATIVE_DOUBLE, R, c->clock_offset_sigma_ns,
                       sizeof(double))) < 0 ||
        (rc = read_vec(f, "calibration/clock_links", H5T_NATIVE_INT64, R, c->clock_links, sizeof(int64_t))) < 0 ||
        (rc = read_vec(f, "calibration/displacement_m", H5T_NATIVE_DOUBLE, R, c->disp_m, sizeof(double))) < 0)
        goto done;
    for (int r = 0; r < R; r++) {
        c->st[r].lat = la[r];
        c->st[r].lon = lo[r];
    }
    hid_t g = H5Gopen2(f, "calibration", H5P_DEFAULT);
    if (g < 0) {
        rc = hd_error(HD_EFORMAT, "%s has no /calibration", path);
        goto done;
    }
    if ((rc = hd_h5_read_attr_double(g, "rss_exponent", &c->rss_exponent)) == 0 &&
        (rc = hd_h5_read_attr_double(g, "rss_sigma_db", &c->rss_sigma_db)) == 0 &&
        (rc = hd_h5_read_attr_double(g, "rss_cov_scale", &c->rss_cov_scale)) == 0)
        rc = hd_h5_read_attr_int(g, "n_events", &c->n_events);
    H5Gclose(g);
    if (rc == 0 && c->n_events < 0)
        rc = hd_error(HD_EFORMAT, "%s: %lld events", path, (long long)c->n_events);
done:
    free(la);
    free(lo);
    if (rc < 0)
        hd_calib_release(c);
    if (ids)
        hd_h5_free_strings(ids, n);
    H5Fclose(f);
    return rc;
}

int hd_calib_apply(const hd_calib *c, const char *path, const hd_station *st, int R, hd_localize_cfg *cfg)
{
    int known = 0;
    if (R > HD_MAX_STATIONS)
        return hd_error(HD_EINVAL, "%s applied to a dense network of %d receivers (at most %d)", path, R,
                        HD_MAX_STATIONS);
    for (int r = 0; r < R; r++) {
        int k = find_id(c->st, c->R, st[r].id);
        int rss = k >= 0 && c->rss_links[k] >= HD_CALIB_MIN_LINKS && isfinite(c->rss_offset_db[k]);
        int clk = k >= 0 && c->clock_links[k] >= HD_CALIB_MIN_LINKS && isfinite(c->clock_offset_ns[k]);
        cfg->rss_offsets_db[r] = rss ? c->rss_offset_db[k] : 0;
        cfg->clock_offsets_s[r] = clk ? 1e-9 * c->clock_offset_ns[k] : 0;
        cfg->rx_uncalibrated[r] = !(rss || clk);
        known += rss || clk;
    }
    if (!known)
        return hd_error(HD_EINVAL, "%s calibrates none of this network's %d receivers (another network?)", path, R);
    cfg->n_rss_offsets = R;
    if (isfinite(c->rss_exponent))
        cfg->rss_exponent = c->rss_exponent;
    if (isfinite(c->rss_sigma_db))
        cfg->rss_sigma_db = c->rss_sigma_db;
    cfg->rss_cov_scale = isfinite(c->rss_cov_scale) && c->rss_cov_scale > 0 ? c->rss_cov_scale : 1;
    cfg->calibrated = 1;
    return known;
}

void hd_calib_apply_rows(const hd_localize_cfg *cfg, int R, int P, int64_t n, uint8_t *mask, double *delay,
                         uint8_t *tmask)
{
    if (!cfg->calibrated)
        return;
    const int mask_it = cfg->unknown_receivers == HD_UNKNOWN_RX_MASK;
    for (int64_t i = 0; i < n; i++) {
        for (int p = 0; p < P; p++) {
            int a, b;
            hd_features_pair(R, p, &a, &b);
            size_t o = (size_t)i * P + p;
            delay[o] -= cfg->clock_offsets_s[b] - cfg->clock_offsets_s[a];
            if (mask_it && (cfg->rx_uncalibrated[a] || cfg->rx_uncalibrated[b]))
                tmask[o] = 0;
        }
        for (int r = 0; mask_it && r < R; r++)
            if (cfg->rx_uncalibrated[r])
                mask[(size_t)i * R + r] = 0;
    }
}

int hd_calib_use(const hd_station *st, int R, hd_localize_cfg *cfg)
{
    if (!cfg->calibration[0])
        return 0;
    hd_calib c = {0};
    int rc = hd_calib_load(&c, cfg->calibration);
    if (rc == 0)
        rc = hd_calib_apply(&c, cfg->calibration, st, R, cfg);
    hd_calib_release(&c);
    if (rc < 0)
        return rc;
    char names[1024] = "";
    size_t o = 0;
    for (int r = 0; r < R; r++)
        if (cfg->rx_uncalibrated[r] && o < sizeof names)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", st[r].id);
    hd_info("calibration %s: %d of %d receivers calibrated%s%s%s", cfg->calibration, rc, R, o ? "; not in it: " : "",
            names, o ? (cfg->unknown_receivers == HD_UNKNOWN_RX_MASK ? " (masked)" : " (used uncalibrated)") : "");
    return rc;
}

static int cmp_station_id(const void *a, const void *b, void *st)
{
    const hd_station *s = st;
    return strcmp(s[*(const int *)a].id, s[*(const int *)b].id);
}

void hd_calib_table_release(hd_calib_table *t)
{
    free(t->clock_s);
    free(t->rss_db);
    free(t->uncalibrated);
    memset(t, 0, sizeof *t);
}

int hd_calib_table_use(hd_calib_table *t, const hd_station *st, int R, hd_localize_cfg *cfg)
{
    memset(t, 0, sizeof *t);
    if (!cfg->calibration[0])
        return 0;
    hd_calib c = {0};
    int rc = hd_calib_load(&c, cfg->calibration), known = 0, nk = 0;
    size_t n = (size_t)(R > 0 ? R : 1);
    int *ix = NULL;
    if (rc < 0)
        return rc;
    t->clock_s = hd_calloc(n, sizeof *t->clock_s);
    t->rss_db = hd_calloc(n, sizeof *t->rss_db);
    t->uncalibrated = hd_calloc(n, 1);
    /* the calibration's receivers sorted by id: each of the file's found by bisection */
    ix = hd_malloc((size_t)c.R * sizeof *ix);
    if (!t->clock_s || !t->rss_db || !t->uncalibrated || !ix) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int k = 0; k < c.R; k++)
        ix[k] = k;
    qsort_r(ix, (size_t)c.R, sizeof *ix, cmp_station_id, c.st);
    t->R = R;
    for (int r = 0; r < R; r++) {
        int lo = 0, hi = c.R - 1, k = -1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2, s = strcmp(c.st[ix[mid]].id, st[r].id);
            if (s == 0) {
                k = ix[mid];
                break;
            }
            if (s < 0)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        int rss = k >= 0 && c.rss_links[k] >= HD_CALIB_MIN_LINKS && isfinite(c.rss_offset_db[k]);
        int clk = k >= 0 && c.clock_links[k] >= HD_CALIB_MIN_LINKS && isfinite(c.clock_offset_ns[k]);
        t->rss_db[r] = rss ? c.rss_offset_db[k] : 0;
        t->clock_s[r] = clk ? 1e-9 * c.clock_offset_ns[k] : 0;
        t->uncalibrated[r] = !(rss || clk);
        known += rss || clk;
        nk += k >= 0;
    }
    if (!known) {
        rc = hd_error(HD_EINVAL, "%s calibrates none of this network's %d receivers (another network?)",
                      cfg->calibration, R);
        goto done;
    }
    cfg->n_rss_offsets = 0;
    if (isfinite(c.rss_exponent))
        cfg->rss_exponent = c.rss_exponent;
    if (isfinite(c.rss_sigma_db))
        cfg->rss_sigma_db = c.rss_sigma_db;
    cfg->rss_cov_scale = isfinite(c.rss_cov_scale) && c.rss_cov_scale > 0 ? c.rss_cov_scale : 1;
    cfg->calibrated = 1;
    hd_info("calibration %s: %d of %d receivers calibrated (%d in it)%s", cfg->calibration, known, R, nk,
            known < R ? (cfg->unknown_receivers == HD_UNKNOWN_RX_MASK ? "; the others masked"
                                                                     : "; the others used uncalibrated")
                      : "");
    rc = known;
done:
    free(ix);
    hd_calib_release(&c);
    if (rc < 0)
        hd_calib_table_release(t);
    return rc;
}

uint64_t hd_calib_table_apply(const hd_calib_table *t, const hd_localize_cfg *cfg, int k, const int32_t *rx,
                              float *feat, uint8_t *mask, double *delay, uint8_t *tmask)
{
    const int mask_it = cfg->unknown_receivers == HD_UNKNOWN_RX_MASK;
    const int P = hd_features_npairs(k);
    uint64_t un = 0;
    for (int p = 0; p < P; p++) {
        int a, b;
        hd_features_pair(k, p, &a, &b);
        delay[p] -= t->clock_s[rx[b]] - t->clock_s[rx[a]];
        if (mask_it && (t->uncalibrated[rx[a]] || t->uncalibrated[rx[b]]))
            tmask[p] = 0;
    }
    for (int j = 0; j < k; j++) {
        feat[(size_t)j * F + HD_FEAT_RSS_DBM] -= (float)t->rss_db[rx[j]];
        if (t->uncalibrated[rx[j]]) {
            if (mask[j] && j < 64)
                un |= 1ull << j;
            if (mask_it)
                mask[j] = 0;
        }
    }
    return un;
}
