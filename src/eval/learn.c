#include "eval/learn.h"
#include "core/alloc.h"
#include "core/error.h"
#include "features/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F HD_FEAT_COUNT

static double rx_range(const hd_locate_net *net, const hd_dataset *d, int64_t e, int r)
{
    double la = d->rx_lat ? d->rx_lat[e * d->R + r] : net->rx_lat[r];
    double lo = d->rx_lon ? d->rx_lon[e * d->R + r] : net->rx_lon[r];
    if (!isfinite(la) || !isfinite(lo))
        return NAN;
    double s = hd_geo_slant_range(d->tx_lat[e], d->tx_lon[e], net->tx_alt_m, la, lo, net->rx_h[r]);
    return s > 1 ? s : 1;
}

int hd_learn_rss(const hd_locate_net *net, const hd_dataset *d, const uint8_t *train, double *offsets, double *gamma,
                 double *sigma_db)
{
    const int64_t E = d->E;
    const int R = d->R;
    double *L = hd_malloc((size_t)(E * R) * sizeof *L), *P = hd_calloc((size_t)E, sizeof *P);
    if (!L || !P) {
        free(L);
        free(P);
        return HD_ENOMEM;
    }
    /* 10 log10 of each heard training link's length; NaN elsewhere */
    int64_t links = 0;
    for (int64_t e = 0; e < E; e++)
        for (int r = 0; r < R; r++) {
            size_t o = (size_t)e * R + r;
            double dist = train[e] && d->mask[o] ? rx_range(net, d, e, r) : NAN;
            L[o] = isfinite(dist) ? 10 * log10(dist) : NAN;
            links += isfinite(L[o]);
        }
    if (links < 3 * R) {
        free(L);
        free(P);
        return hd_error(HD_EDATA, "RSS calibration: %lld training links for %d receivers", (long long)links, R);
    }
    double g = *gamma;
    for (int r = 0; r < R; r++)
        offsets[r] = 0;
    for (int it = 0; it < 60; it++) {
        /* per event: the source term, and the exponent from the centred links */
        double szl = 0, sll = 0;
        for (int64_t e = 0; e < E; e++) {
            if (!train[e])
                continue;
            double sz = 0, sl = 0;
            int n = 0;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r;
                if (!isfinite(L[o]))
                    continue;
                sz += d->feat[o * F + HD_FEAT_RSS_DBM] - offsets[r];
                sl += L[o];
                n++;
            }
            if (n < 2)
                continue;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r;
                if (!isfinite(L[o]))
                    continue;
                double zc = d->feat[o * F + HD_FEAT_RSS_DBM] - offsets[r] - sz / n, lc = L[o] - sl / n;
                szl += zc * lc;
                sll += lc * lc;
            }
        }
        if (sll > 0)
            g = fmin(6, fmax(1.5, -szl / sll));
        for (int64_t e = 0; e < E; e++) {
            double s = 0;
            int n = 0;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r;
                if (isfinite(L[o])) {
                    s += d->feat[o * F + HD_FEAT_RSS_DBM] - offsets[r] + g * L[o];
                    n++;
                }
            }
            P[e] = n ? s / n : NAN;
        }
        /* per receiver: its offset, then mean zero over those heard */
        double mean = 0;
        int nr = 0;
        for (int r = 0; r < R; r++) {
            double s = 0;
            int n = 0;
            for (int64_t e = 0; e < E; e++) {
                size_t o = (size_t)e * R + r;
                if (isfinite(L[o]) && isfinite(P[e])) {
                    s += d->feat[o * F + HD_FEAT_RSS_DBM] - P[e] + g * L[o];
                    n++;
                }
            }
            offsets[r] = n ? s / n : NAN;
            if (n) {
                mean += offsets[r];
                nr++;
            }
        }
        for (int r = 0; r < R; r++)
            offsets[r] = isfinite(offsets[r]) ? offsets[r] - mean / nr : 0;
    }
    double ss = 0;
    int64_t n = 0;
    for (int64_t e = 0; e < E; e++)
        for (int r = 0; r < R; r++) {
            size_t o = (size_t)e * R + r;
            if (isfinite(L[o]) && isfinite(P[e])) {
                double res = d->feat[o * F + HD_FEAT_RSS_DBM] - offsets[r] - P[e] + g * L[o];
                ss += res * res;
                n++;
            }
        }
    *gamma = g;
    *sigma_db = n > R ? sqrt(ss / (double)(n - R)) : NAN;
    free(L);
    free(P);
    return 0;
}

int hd_knn_locate(const hd_locate_net *net, const hd_dataset *d, const uint8_t *train, int64_t e, int k,
                  hd_locate_result *res)
{
    const int R = d->R;
    const double floor_db = -101;
    memset(res, 0, sizeof *res);
    res->method = HD_LOC_KNN;
    res->e = res->n = res->lat = res->lon = res->gdop = res->chi2 = res->source_dbm = NAN;
    for (int q = 0; q < 3; q++)
        res->cov[q] = res->crlb[q] = NAN;
    if (k < 1)
        return hd_error(HD_EINVAL, "knn: k %d", k);
    double *bd = hd_malloc((size_t)k * sizeof *bd);
    int64_t *bi = hd_malloc((size_t)k * sizeof *bi);
    if (!bd || !bi) {
        free(bd);
        free(bi);
        return HD_ENOMEM;
    }
    int nb = 0;
    const float *x = d->feat + (size_t)e * R * F;
    const uint8_t *mx = d->mask + (size_t)e * R;
    for (int r = 0; r < R; r++)
        if (mx[r] && isfinite(net->rx_lat[r])) {
            res->n_receivers++;
            res->used |= 1ull << r;
        }
    for (int64_t t = 0; t < d->E && res->n_receivers > 0; t++) {
        if (!train[t] || t == e)
            continue;
        const float *y = d->feat + (size_t)t * R * F;
        const uint8_t *my = d->mask + (size_t)t * R;
        double s = 0;
        int n = 0;
        for (int r = 0; r < R; r++) {
            if (!isfinite(net->rx_lat[r]) || (!mx[r] && !my[r]))
                continue; /* a bus moves: no fingerprint */
            double a = mx[r] ? x[(size_t)r * F + HD_FEAT_RSS_DBM] : floor_db;
            double b = my[r] ? y[(size_t)r * F + HD_FEAT_RSS_DBM] : floor_db;
            s += (a - b) * (a - b);
            n++;
        }
        if (!n)
            continue;
        double dist = sqrt(s / n);
        if (nb < k || dist < bd[nb - 1]) { /* insert into the sorted best list */
            int i = nb < k ? nb++ : k - 1;
            while (i > 0 && bd[i - 1] > dist) {
                bd[i] = bd[i - 1];
                bi[i] = bi[i - 1];
                i--;
            }
            bd[i] = dist;
            bi[i] = t;
        }
    }
    if (nb == 0) {
        res->status = HD_LOC_TOO_FEW;
        free(bd);
        free(bi);
        return 0;
    }
    double sw = 0, me = 0, mn = 0, pe[64], pn[64], w[64];
    int m = nb < 64 ? nb : 64;
    for (int i = 0; i < m; i++) {
        hd_locate_from_geo(net, d->tx_lat[bi[i]], d->tx_lon[bi[i]], &pe[i], &pn[i]);
        w[i] = 1.0 / (bd[i] + 0.1);
        sw += w[i];
        me += w[i] * pe[i];
        mn += w[i] * pn[i];
    }
    me /= sw;
    mn /= sw;
    double cee = 0, cen = 0, cnn = 0;
    for (int i = 0; i < m; i++) {
        cee += w[i] * (pe[i] - me) * (pe[i] - me);
        cen += w[i] * (pe[i] - me) * (pn[i] - mn);
        cnn += w[i] * (pn[i] - mn) * (pn[i] - mn);
    }
    /* the neighbours' weighted scatter, floored at (10 m)² */
    res->cov[0] = cee / sw + 100;
    res->cov[1] = cen / sw;
    res->cov[2] = cnn / sw + 100;
    res->e = me;
    res->n = mn;
    hd_locate_to_geo(net, me, mn, &res->lat, &res->lon);
    res->alt = net->tx_alt_m;
    res->status = HD_LOC_OK;
    free(bd);
    free(bi);
    return 0;
}
