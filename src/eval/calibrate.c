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

/* Position check: y_er = t_e + a_r + (d_er(p_r + s_r) - d_er(p_r)) / c
 * jointly, Gauss-Newton on the shift s_r of each receiver from its
 * advertised position p_r (ranges in the tangent plane: only their change
 * matters) alternating with the emission times t_e, so that one receiver's
 * wrong position does not leak into the emission times. t[E] on entry: the
 * plain fit's emission times. rxe/rxn[E*R], txe/txn[E]: positions (m). */
static void fit_displacements(hd_calib *c, const double *y, const uint8_t *ok, const double *rxe, const double *rxn,
                              const double *txe, const double *txn, int64_t E, int R, double *t)
{
    const double C = HD_SPEED_OF_LIGHT;
    double se[HD_MAX_STATIONS] = {0}, sn[HD_MAX_STATIONS] = {0}, a[HD_MAX_STATIONS] = {0}, cov[HD_MAX_STATIONS][9];
    int fit[HD_MAX_STATIONS] = {0};
/* the model's residual of link o (receiver r, event e), metres, and its direction */
#define LINK(o, r, e, z, ux, uy)                                                                                           do {                                                                                                                       double dxa = txe[e] - rxe[o], dya = txn[e] - rxn[o], dx = dxa - se[r], dy = dya - sn[r];                               double d0 = hypot(dxa, dya), d1 = hypot(dx, dy);                                                                       z = C * (y[o] - t[e]) + d0 - d1;                                                                                       ux = d1 > 1 ? dx / d1 : 0;                                                                                             uy = d1 > 1 ? dy / d1 : 0;                                                                                         } while (0)
    for (int it = 0; it < 60; it++) {
        for (int r = 0; r < R; r++) {
            double A[9] = {0}, v[3] = {0}, sol[3];
            int64_t n = 0;
            for (int64_t e = 0; e < E; e++) {
                size_t o = (size_t)e * R + r;
                if (!ok[o] || !isfinite(t[e]))
                    continue;
                double z, ux, uy;
                LINK(o, r, e, z, ux, uy);
                /* z ≈ a + u·D with D the shift still wrong (current minus consistent) */
                double x[3] = {1, ux, uy};
                for (int i = 0; i < 3; i++) {
                    v[i] += x[i] * z;
                    for (int j = 0; j < 3; j++)
                        A[3 * i + j] += x[i] * x[j];
                }
                n++;
            }
            fit[r] = n >= 6 && solve3(A, v, sol, cov[r]) == 0;
            if (fit[r]) {
                a[r] = sol[0];
                double step = hypot(sol[1], sol[2]), lim = 5000; /* a damped step */
                double f = step > lim ? lim / step : 1;
                se[r] -= f * sol[1];
                sn[r] -= f * sol[2];
            } else {
                a[r] = n ? v[0] / (double)n : 0;
            }
        }
        for (int64_t e = 0; e < E; e++) {
            double s = 0;
            int n = 0;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r;
                if (ok[o]) {
                    double dxa = txe[e] - rxe[o], dya = txn[e] - rxn[o];
                    s += y[o] - (a[r] + hypot(dxa - se[r], dya - sn[r]) - hypot(dxa, dya)) / C;
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
            double z, ux, uy;
            LINK(o, r, e, z, ux, uy);
            (void)ux;
            (void)uy;
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
#undef LINK
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
    if (nu > HD_MAX_STATIONS) {
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
    W("displaced", H5T_NATIVE_INT8, dr, disp, "1", "1: displacement > 4 sigma and > 100 m (advertised position suspect)");
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
