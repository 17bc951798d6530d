/* The extended Kalman update of a track's state with one event's
 * measurements, its arrival-time differences (see track.h, hd_track_meas). */
#include "track/meas.h"
#include "geo/geo.h"

#include <math.h>
#include <string.h>

#define EARTH_R 6371008.8

/* the range differences |x - rx[j+1]| - |x - rx[0]| of a transmitter at
 * (e, n) on the frame's ellipsoid surface, raised to the event's height; or
 * with rss the received powers' differences the log-distance model gives
 * (ranges under 1 m taken as 1 m) */
static void hfun(const hd_enu *frame, const hd_track_meas *ms, double e, double n, double *h)
{
    double v[3] = {e, n, -(e * e + n * n) / (2 * EARTH_R)}, lat, lon, alt, x[3];
    hd_enu_to_geo(frame, v, &lat, &lon, &alt);
    hd_geo_to_ecef(lat, lon, ms->alt_m, x);
    double d[HD_TRACK_MEAS_MAX];
    for (int r = 0; r < ms->n; r++)
        d[r] = sqrt((x[0] - ms->rx[r][0]) * (x[0] - ms->rx[r][0]) + (x[1] - ms->rx[r][1]) * (x[1] - ms->rx[r][1]) +
                    (x[2] - ms->rx[r][2]) * (x[2] - ms->rx[r][2]));
    if (ms->rss)
        for (int j = 0; j + 1 < ms->n; j++)
            h[j] = -10 * ms->exponent * log10(fmax(d[j + 1], 1.0) / fmax(d[0], 1.0));
    else
        for (int j = 0; j + 1 < ms->n; j++)
            h[j] = d[j + 1] - d[0];
}

/* the chi² quantile of m degrees of freedom with the upper tail of a 2-D
 * gate of gate2 (Mahalanobis²): exp(-gate2 / 2); Wilson–Hilferty */
double hd_track_meas_gate(double gate2, int m)
{
    if (m == 2)
        return gate2;
    double alpha = exp(-0.5 * gate2), lo = 0, hi = 40;
    for (int it = 0; it < 80; it++) { /* upper-tail normal quantile */
        double z = 0.5 * (lo + hi);
        if (0.5 * erfc(z / M_SQRT2) > alpha)
            lo = z;
        else
            hi = z;
    }
    double z = 0.5 * (lo + hi), a = 2.0 / (9.0 * m), c = 1 - a + z * sqrt(a);
    return m * c * c * c;
}

/* S⁻¹ v by forward and back substitution with S's Cholesky factor L (m × m) */
static void chol_solve_vec(double L[][HD_TRACK_MEAS_MAX], int m, double *v)
{
    for (int i = 0; i < m; i++) {
        double s = v[i];
        for (int k = 0; k < i; k++)
            s -= L[i][k] * v[k];
        v[i] = s / L[i][i];
    }
    for (int i = m - 1; i >= 0; i--) {
        double s = v[i];
        for (int k = i + 1; k < m; k++)
            s -= L[k][i] * v[k];
        v[i] = s / L[i][i];
    }
}

int hd_track_meas_update(const hd_enu *frame, const hd_track_meas *ms, int n, const double *xp, const double *Pp,
                         double gate2, double *xf, double *Pf, double *d2_out, double *ll)
{
    const int m = ms->n - 1;
    if (m < 1 || n > HD_TRACK_MEAS_NMAX)
        return -1;
    double h0[HD_TRACK_MEAS_MAX], h1[HD_TRACK_MEAS_MAX], H[HD_TRACK_MEAS_MAX][2], xl[2] = {xp[0], xp[1]};
    double PH[HD_TRACK_MEAS_NMAX][HD_TRACK_MEAS_MAX], S[HD_TRACK_MEAS_MAX][HD_TRACK_MEAS_MAX], y[HD_TRACK_MEAS_MAX];
    double L[HD_TRACK_MEAS_MAX][HD_TRACK_MEAS_MAX], K[HD_TRACK_MEAS_NMAX][HD_TRACK_MEAS_MAX], u[HD_TRACK_MEAS_MAX];
    double xi[HD_TRACK_MEAS_NMAX], d2 = NAN, ld = 0;
    /* P Hᵀ needs only P's first two columns: H is on the position alone */
    for (int iter = 0; iter < HD_TRACK_MEAS_ITER; iter++) {
        /* iterated: relinearised at the updated position until it settles
         * (a wide prior far from the hyperbolae's crossing) */
        hfun(frame, ms, xl[0], xl[1], h0);
        hfun(frame, ms, xl[0] + 1, xl[1], h1);
        for (int j = 0; j < m; j++)
            H[j][0] = h1[j] - h0[j];
        hfun(frame, ms, xl[0], xl[1] + 1, h1);
        for (int j = 0; j < m; j++)
            H[j][1] = h1[j] - h0[j];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                PH[i][j] = Pp[i * n + 0] * H[j][0] + Pp[i * n + 1] * H[j][1];
        for (int a = 0; a < m; a++) {
            /* z − h(xl) − H (xp − xl): the innovation against the prior, linearised at xl */
            y[a] = ms->z[a] - h0[a] - H[a][0] * (xp[0] - xl[0]) - H[a][1] * (xp[1] - xl[1]);
            for (int b = 0; b < m; b++)
                S[a][b] = H[a][0] * PH[0][b] + H[a][1] * PH[1][b] + ms->sig2_ref + (a == b ? ms->sig2[a] : 0);
        }
        memset(L, 0, sizeof L);
        double logdet = 0;
        for (int j = 0; j < m; j++) {
            double s = S[j][j];
            for (int k = 0; k < j; k++)
                s -= L[j][k] * L[j][k];
            if (!(s > 0) || !isfinite(s))
                return -1;
            L[j][j] = sqrt(s);
            logdet += 2 * log(L[j][j]);
            for (int i = j + 1; i < m; i++) {
                double t = S[i][j];
                for (int k = 0; k < j; k++)
                    t -= L[i][k] * L[j][k];
                L[i][j] = t / L[j][j];
            }
        }
        /* the innovation's Mahalanobis² at this linearisation (the last one
         * gates and scores: at the prior, a wide prior's curvature would) */
        memcpy(u, y, sizeof(double) * (size_t)m);
        chol_solve_vec(L, m, u);
        d2 = 0;
        for (int a = 0; a < m; a++)
            d2 += y[a] * u[a];
        ld = logdet;
        /* K = P Hᵀ S⁻¹ (n × m): row i solves S k = (P Hᵀ)[i] */
        for (int i = 0; i < n; i++) {
            memcpy(K[i], PH[i], sizeof(double) * (size_t)m);
            chol_solve_vec(L, m, K[i]);
        }
        for (int i = 0; i < n; i++) {
            double s = xp[i];
            for (int a = 0; a < m; a++)
                s += K[i][a] * y[a];
            xi[i] = s;
        }
        double step = hypot(xi[0] - xl[0], xi[1] - xl[1]);
        xl[0] = xi[0];
        xl[1] = xi[1];
        if (step < 0.01)
            break;
    }
    *d2_out = d2;
    double g = gate2 > 0 ? hd_track_meas_gate(gate2, m) : INFINITY;
    if (!(d2 <= g)) {
        *ll += -0.5 * (g + ld) - 0.5 * m * log(2 * M_PI);
        return 0;
    }
    *ll += -0.5 * (d2 + ld) - 0.5 * m * log(2 * M_PI);
    memcpy(xf, xi, sizeof(double) * (size_t)n);
    /* Joseph form at the last linearisation: A = I − K H, Pf = A P Aᵀ + K R Kᵀ */
    double A[HD_TRACK_MEAS_NMAX * HD_TRACK_MEAS_NMAX], T[HD_TRACK_MEAS_NMAX * HD_TRACK_MEAS_NMAX];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double kh = 0;
            if (j < 2)
                for (int a = 0; a < m; a++)
                    kh += K[i][a] * H[a][j];
            A[i * n + j] = (i == j) - kh;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += A[i * n + k] * Pp[k * n + j];
            T[i * n + j] = s;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += T[i * n + k] * A[j * n + k];
            /* K R Kᵀ with R = sig2_ref 11ᵀ + diag(sig2) */
            double ki = 0, kj = 0, kd = 0;
            for (int a = 0; a < m; a++) {
                ki += K[i][a];
                kj += K[j][a];
                kd += K[i][a] * K[j][a] * ms->sig2[a];
            }
            Pf[i * n + j] = s + ms->sig2_ref * ki * kj + kd;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            Pf[i * n + j] = Pf[j * n + i] = 0.5 * (Pf[i * n + j] + Pf[j * n + i]);
    return 1;
}
