/* Tracking: grouping, Kalman filter, Rauch–Tung–Striebel smoother and the
 * process noise's maximum-likelihood search (track.h). */
#include "track/track.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/progress.h"
#include "geo/geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 8
#define MM (MAXN * MAXN)
#define EARTH_R 6371008.8

static const char *const reason_names[HD_TRACK_REASON_COUNT] = {
    "used", "gated", "no position", "bad covariance", "duplicate", "measurements",
};

const char *hd_track_reason_name(int reason)
{
    return reason >= 0 && reason < HD_TRACK_REASON_COUNT ? reason_names[reason] : "?";
}

/* ---- small dense matrices (row-major n×n, n <= 6) --------------------------- */

static void mat_mul(const double *a, const double *b, double *c, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
}

/* c = a · bᵀ */
static void mat_mul_t(const double *a, const double *b, double *c, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += a[i * n + k] * b[j * n + k];
            c[i * n + j] = s;
        }
}

static void symmetrize(double *p, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            p[i * n + j] = p[j * n + i] = 0.5 * (p[i * n + j] + p[j * n + i]);
}

/* Cholesky of a symmetric positive definite a into l (lower); -1 if not PD */
static int cholesky(const double *a, double *l, int n)
{
    memset(l, 0, sizeof(double) * (size_t)(n * n));
    for (int j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (int k = 0; k < j; k++)
            s -= l[j * n + k] * l[j * n + k];
        if (!(s > 0))
            return -1;
        l[j * n + j] = sqrt(s);
        for (int i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (int k = 0; k < j; k++)
                t -= l[i * n + k] * l[j * n + k];
            l[i * n + j] = t / l[j * n + j];
        }
    }
    return 0;
}

/* Solve (l lᵀ) x = b for the n columns of b (n×n), in place */
static void chol_solve(const double *l, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        for (int i = 0; i < n; i++) {
            double s = b[i * n + c];
            for (int k = 0; k < i; k++)
                s -= l[i * n + k] * b[k * n + c];
            b[i * n + c] = s / l[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) {
            double s = b[i * n + c];
            for (int k = i + 1; k < n; k++)
                s -= l[k * n + i] * b[k * n + c];
            b[i * n + c] = s / l[i * n + i];
        }
    }
}

/* ---- the motion model ------------------------------------------------------- */

/* Transition F and process noise Q over dt (may be negative: |dt| in Q) for
 * the state (e, n, ve, vn[, ae, an][, be, bn]) at density q; the fixes'
 * correlated error b (when bi >= 0) a Gauss–Markov process of time constant
 * tau and variance sb2 (backwards in time too: it is stationary) */
static void model_fq(int model, int n, int bi, double tau, double sb2, double dt, double q, double *F, double *Q)
{
    memset(F, 0, sizeof(double) * (size_t)(n * n));
    memset(Q, 0, sizeof(double) * (size_t)(n * n));
    for (int i = 0; i < n; i++)
        F[i * n + i] = 1;
    double a = fabs(dt);
    for (int ax = 0; ax < 2; ax++) {
        int p = ax, v = 2 + ax;
        F[p * n + v] = dt;
        if (model == HD_TRACK_CA) {
            int c = 4 + ax;
            F[p * n + c] = 0.5 * dt * dt;
            F[v * n + c] = dt;
            double a2 = a * a, a3 = a2 * a;
            Q[p * n + p] = q * a3 * a2 / 20;
            Q[p * n + v] = Q[v * n + p] = q * a2 * a2 / 8;
            Q[p * n + c] = Q[c * n + p] = q * a3 / 6;
            Q[v * n + v] = q * a3 / 3;
            Q[v * n + c] = Q[c * n + v] = q * a2 / 2;
            Q[c * n + c] = q * a;
        } else {
            Q[p * n + p] = q * a * a * a / 3;
            Q[p * n + v] = Q[v * n + p] = q * a * a / 2;
            Q[v * n + v] = q * a;
        }
        if (bi >= 0) {
            int b = bi + ax;
            double rho = exp(-a / tau);
            F[b * n + b] = rho;
            Q[b * n + b] = sb2 * (1 - rho * rho);
        }
    }
}

/* ---- one track ------------------------------------------------------------ */

typedef struct {
    int64_t m;                   /* points */
    int n, model;
    int bi;                      /* index of the fixes' correlated error in the state; -1: none */
    double tau, sb2;             /* its time constant (s) and variance (m²) */
    double kappa;                /* the fixes' white error: kappa × their covariance (1 without b) */
    double sigma;                /* its process noise while the fix error is learnt over all tracks */
    double gate2;                /* gate_sigma², 0: none */
    const int64_t *idx;          /* sorted index → input index */
    const hd_track_fix *fix;
    int *reason;                 /* before filtering: USED (valid), NO_FIX, BAD_COV, DUPLICATE */
    double *t;                   /* seconds from the track's start */
    double (*z)[2];              /* fix in ENU */
    double (*R)[3];              /* its covariance, inflated */
    double *xp, *Pp, *xf, *Pf, *xs, *Ps, *d2;
    int *gated;
    int *measured;               /* 1: updated (or gated) with the event's measurements, not its fix */
    const hd_track_meas *meas;   /* per input fix (NULL: none) */
    const hd_enu *frame;         /* the track's ENU frame */
    int64_t k0;                  /* first valid fix */
} trk;

/* Forward pass at process noise density q: fills xp, Pp, xf, Pf, gated,
 * d2; returns the innovation log-likelihood. */
static double forward(trk *w, double q)
{
    const int n = w->n;
    double F[MM], Q[MM], T[MM];
    double ll = 0;
    int started = 0;
    for (int64_t k = 0; k < w->m; k++) {
        double *xp = &w->xp[k * n], *Pp = &w->Pp[k * n * n], *xf = &w->xf[k * n], *Pf = &w->Pf[k * n * n];
        w->gated[k] = 0;
        w->measured[k] = 0;
        w->d2[k] = NAN;
        int valid = w->reason[k] == HD_TRACK_USED;
        if (!started) {
            if (!valid)
                continue;
            memset(xf, 0, sizeof(double) * (size_t)n);
            memset(Pf, 0, sizeof(double) * (size_t)(n * n));
            xf[0] = w->z[k][0];
            xf[1] = w->z[k][1];
            Pf[0] = w->kappa * w->R[k][0];
            Pf[1] = Pf[n] = w->kappa * w->R[k][1];
            Pf[n + 1] = w->kappa * w->R[k][2];
            for (int i = 2; i < n; i++)
                Pf[i * n + i] = i < 4 ? HD_TRACK_V0_SIGMA * HD_TRACK_V0_SIGMA : HD_TRACK_A0_SIGMA * HD_TRACK_A0_SIGMA;
            if (w->bi >= 0) /* z = p + b + w: p = z − b − w */
                for (int a = 0; a < 2; a++) {
                    int b = w->bi + a;
                    Pf[a * n + a] += w->sb2;
                    Pf[b * n + b] = w->sb2;
                    Pf[a * n + b] = Pf[b * n + a] = -w->sb2;
                }
            memcpy(xp, xf, sizeof(double) * (size_t)n);
            memcpy(Pp, Pf, sizeof(double) * (size_t)(n * n));
            w->k0 = k;
            started = 1;
            continue;
        }
        const double *xprev = &w->xf[(k - 1) * n], *Pprev = &w->Pf[(k - 1) * n * n];
        model_fq(w->model, w->n, w->bi, w->tau, w->sb2, w->t[k] - w->t[k - 1], q, F, Q);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++)
                s += F[i * n + j] * xprev[j];
            xp[i] = s;
        }
        mat_mul(F, Pprev, T, n);
        mat_mul_t(T, F, Pp, n);
        for (int i = 0; i < n * n; i++)
            Pp[i] += Q[i];
        symmetrize(Pp, n);
        memcpy(xf, xp, sizeof(double) * (size_t)n);
        memcpy(Pf, Pp, sizeof(double) * (size_t)(n * n));
        /* the event's own measurements, when given, instead of its fix */
        const hd_track_meas *ms = w->meas ? &w->meas[w->idx[k]] : NULL;
        if (ms && ms->n >= 2 && w->reason[k] != HD_TRACK_DUPLICATE) {
            double md2 = NAN;
            int u = hd_track_meas_update(w->frame, ms, n, xp, Pp, w->gate2, xf, Pf, &md2, &ll);
            if (u >= 0) {
                w->measured[k] = 1;
                w->gated[k] = u == 0;
                w->d2[k] = md2;
                continue;
            }
        }
        if (!valid)
            continue;
        /* innovation */
        /* H: the position plus the fixes' correlated error */
        const int b0 = w->bi;
        double hx0 = xp[0] + (b0 >= 0 ? xp[b0] : 0), hx1 = xp[1] + (b0 >= 0 ? xp[b0 + 1] : 0);
        double PH[MAXN][2] = {{0}};
        for (int i = 0; i < n; i++) {
            PH[i][0] = Pp[i * n + 0] + (b0 >= 0 ? Pp[i * n + b0] : 0);
            PH[i][1] = Pp[i * n + 1] + (b0 >= 0 ? Pp[i * n + b0 + 1] : 0);
        }
        double hph00 = PH[0][0] + (b0 >= 0 ? PH[b0][0] : 0), hph01 = PH[0][1] + (b0 >= 0 ? PH[b0][1] : 0),
               hph11 = PH[1][1] + (b0 >= 0 ? PH[b0 + 1][1] : 0);
        double y0 = w->z[k][0] - hx0, y1 = w->z[k][1] - hx1;
        const double r0 = w->kappa * w->R[k][0], r1 = w->kappa * w->R[k][1], r2 = w->kappa * w->R[k][2];
        double s00 = hph00 + r0, s01 = hph01 + r1, s11 = hph11 + r2;
        double det = s00 * s11 - s01 * s01;
        if (!(det > 0) || !isfinite(det)) {
            w->gated[k] = 1; /* cannot test it: treat as gated */
            continue;
        }
        double i00 = s11 / det, i01 = -s01 / det, i11 = s00 / det;
        double d2 = y0 * (i00 * y0 + i01 * y1) + y1 * (i01 * y0 + i11 * y1);
        w->d2[k] = d2;
        if (w->gate2 > 0 && d2 > w->gate2) {
            w->gated[k] = 1;
            ll += -0.5 * (w->gate2 + log(det)) - log(2 * M_PI);
            continue;
        }
        ll += -0.5 * (d2 + log(det)) - log(2 * M_PI);
        /* K = P Hᵀ S⁻¹ (n×2) */
        double K[MAXN][2];
        for (int i = 0; i < n; i++) {
            double p0 = PH[i][0], p1 = PH[i][1];
            K[i][0] = p0 * i00 + p1 * i01;
            K[i][1] = p0 * i01 + p1 * i11;
        }
        for (int i = 0; i < n; i++)
            xf[i] = xp[i] + K[i][0] * y0 + K[i][1] * y1;
        /* Joseph form: (I − KH) P (I − KH)ᵀ + K R Kᵀ */
        double A[MM];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                A[i * n + j] = (i == j) - (j == 0 || (b0 >= 0 && j == b0)       ? K[i][0]
                                           : j == 1 || (b0 >= 0 && j == b0 + 1) ? K[i][1]
                                                                                : 0);
        mat_mul(A, Pp, T, n);
        mat_mul_t(T, A, Pf, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double kr0 = K[i][0] * r0 + K[i][1] * r1;
                double kr1 = K[i][0] * r1 + K[i][1] * r2;
                Pf[i * n + j] += kr0 * K[j][0] + kr1 * K[j][1];
            }
        symmetrize(Pf, n);
    }
    return ll;
}

/* Backward pass (after forward at q): xs, Ps for every point. */
static int smooth(trk *w, double q)
{
    const int n = w->n;
    const int64_t m = w->m, k0 = w->k0;
    double F[MM], Q[MM], L[MM], X[MM], C[MM], T[MM], dP[MM];
    memcpy(&w->xs[(m - 1) * n], &w->xf[(m - 1) * n], sizeof(double) * (size_t)n);
    memcpy(&w->Ps[(m - 1) * n * n], &w->Pf[(m - 1) * n * n], sizeof(double) * (size_t)(n * n));
    for (int64_t k = m - 2; k >= k0; k--) {
        const double *Pf = &w->Pf[k * n * n], *Ppn = &w->Pp[(k + 1) * n * n];
        model_fq(w->model, w->n, w->bi, w->tau, w->sb2, w->t[k + 1] - w->t[k], q, F, Q);
        if (cholesky(Ppn, L, n) < 0)
            return hd_error(HD_EDATA, "track smoother: a predicted covariance is not positive definite");
        mat_mul(F, Pf, X, n); /* X = F Pf; solve Pp X' = F Pf: X' = Cᵀ */
        chol_solve(L, X, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                C[i * n + j] = X[j * n + i];
        double dx[MAXN];
        for (int i = 0; i < n; i++)
            dx[i] = w->xs[(k + 1) * n + i] - w->xp[(k + 1) * n + i];
        for (int i = 0; i < n; i++) {
            double s = w->xf[k * n + i];
            for (int j = 0; j < n; j++)
                s += C[i * n + j] * dx[j];
            w->xs[k * n + i] = s;
        }
        for (int i = 0; i < n * n; i++)
            dP[i] = w->Ps[(k + 1) * n * n + i] - Ppn[i];
        mat_mul(C, dP, T, n);
        mat_mul_t(T, C, &w->Ps[k * n * n], n);
        for (int i = 0; i < n * n; i++)
            w->Ps[k * n * n + i] += Pf[i];
        symmetrize(&w->Ps[k * n * n], n);
    }
    /* before the first usable fix: the first smoothed state extrapolated backwards */
    for (int64_t k = k0 - 1; k >= 0; k--) {
        model_fq(w->model, w->n, w->bi, w->tau, w->sb2, w->t[k] - w->t[k0], q, F, Q);
        const double *x0 = &w->xs[k0 * n], *P0 = &w->Ps[k0 * n * n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++)
                s += F[i * n + j] * x0[j];
            w->xs[k * n + i] = s;
        }
        mat_mul(F, P0, T, n);
        mat_mul_t(T, F, &w->Ps[k * n * n], n);
        for (int i = 0; i < n * n; i++)
            w->Ps[k * n * n + i] += Q[i];
        symmetrize(&w->Ps[k * n * n], n);
    }
    return 0;
}

/* the density q of a sigma: accel_sigma² × 1 s */
static double q_of(double sigma)
{
    return sigma * sigma;
}

/* the tracks' summed log-likelihood at process noise sigma (< 0: each its
 * own) and correlated fix error sb */
static double ll_at(trk *const *w, int nw, double sigma, double sb, double kappa)
{
    double ll = 0;
    for (int i = 0; i < nw; i++) {
        if (w[i]->bi >= 0)
            w[i]->sb2 = sb * sb;
        if (kappa > 0)
            w[i]->kappa = kappa;
        ll += forward(w[i], q_of(sigma >= 0 ? sigma : w[i]->sigma));
    }
    return ll;
}

/* Golden-section search of the log of parameter `which` (0 sigma, 1 sb, 2
 * the fixes' white share kappa) on [lo, hi] maximising the summed
 * log-likelihood, the others held */
static double golden(trk *const *w, int nw, int which, double lo, double hi, double sigma, double sb)
{
    const double g = 0.5 * (sqrt(5.0) - 1);
    double a = log(lo), b = log(hi);
    double c = b - g * (b - a), d = a + g * (b - a);
#define F_AT(u)                                                                                                 \
    (which == 2 ? ll_at(w, nw, sigma, sb, exp(u)) : which ? ll_at(w, nw, sigma, exp(u), -1) : ll_at(w, nw, exp(u), sb, -1))
    double fc = F_AT(c), fd = F_AT(d);
    for (int it = 0; it < 40 && b - a > 1e-3; it++) {
        if (fc > fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = F_AT(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = F_AT(d);
        }
    }
#undef F_AT
    return exp(0.5 * (a + b));
}

/* Maximum likelihood of what the config leaves to learn: the process noise
 * (accel_sigma_mps2 0) and the fixes' correlated error (fix_error_sigma_m 0
 * with fix_error_tau_s > 0), alternately */
static void learn(trk *const *w, int nw, const hd_track_cfg *cfg, double *sigma, double *sb)
{
    int lq = cfg->accel_sigma_mps2 == 0, lb = w[0]->bi >= 0 && cfg->fix_error_sigma_m == 0;
    *sigma = lq ? 0.3 : cfg->accel_sigma_mps2;
    *sb = w[0]->bi < 0 ? 0 : lb ? 50 : cfg->fix_error_sigma_m;
    for (int round = 0; round < (lq && lb ? 3 : 1); round++) {
        if (lq)
            *sigma = golden(w, nw, 0, 1e-3, 1e2, *sigma, *sb);
        if (lb)
            *sb = golden(w, nw, 1, 1, 1e4, *sigma, *sb);
    }
}

static double median_of(double *v, int n)
{
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
            double t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int fix_reason(const hd_track_fix *f)
{
    if (!f->located)
        return HD_TRACK_NO_FIX;
    const double *c = f->cov;
    if (!isfinite(f->lat) || !isfinite(f->lon) || fabs(f->lat) > 90 || !isfinite(c[0]) || !isfinite(c[1]) ||
        !isfinite(c[2]) || !(c[0] > 0) || !(c[2] > 0) || !(c[0] * c[2] - c[1] * c[1] > 0) || !(f->nu >= 0))
        return HD_TRACK_BAD_COV;
    return HD_TRACK_USED;
}

/* sorting: (tx_id, frequency to the hertz, time, input order) */
static const hd_track_fix *sort_fix;
static long long freq_key(double f)
{
    return isfinite(f) ? llround(f) : 0;
}
static int cmp_fix(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    const hd_track_fix *x = &sort_fix[a], *y = &sort_fix[b];
    if (x->tx_id != y->tx_id)
        return x->tx_id < y->tx_id ? -1 : 1;
    long long fx = freq_key(x->frequency_hz), fy = freq_key(y->frequency_hz);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return a < b ? -1 : a > b;
}

void hd_track_result_release(hd_track_result *r)
{
    if (!r)
        return;
    free(r->pt);
    free(r->trk);
    memset(r, 0, sizeof *r);
}

static int alloc_trk(trk *w, int64_t m, int n)
{
    size_t M = (size_t)(m > 0 ? m : 1);
    w->reason = hd_calloc(M, sizeof *w->reason);
    w->gated = hd_calloc(M, sizeof *w->gated);
    w->measured = hd_calloc(M, sizeof *w->measured);
    w->t = hd_calloc(M, sizeof *w->t);
    w->d2 = hd_calloc(M, sizeof *w->d2);
    w->z = hd_calloc(M, sizeof *w->z);
    w->R = hd_calloc(M, sizeof *w->R);
    w->xp = hd_calloc(M * (size_t)n, sizeof(double));
    w->xf = hd_calloc(M * (size_t)n, sizeof(double));
    w->xs = hd_calloc(M * (size_t)n, sizeof(double));
    w->Pp = hd_calloc(M * (size_t)(n * n), sizeof(double));
    w->Pf = hd_calloc(M * (size_t)(n * n), sizeof(double));
    w->Ps = hd_calloc(M * (size_t)(n * n), sizeof(double));
    return w->reason && w->gated && w->measured && w->t && w->d2 && w->z && w->R && w->xp && w->xf && w->xs && w->Pp && w->Pf &&
                   w->Ps
               ? 0
               : HD_ENOMEM;
}

static void free_trk(trk *w)
{
    free(w->reason);
    free(w->gated);
    free(w->measured);
    free(w->t);
    free(w->d2);
    free(w->z);
    free(w->R);
    free(w->xp);
    free(w->xf);
    free(w->xs);
    free(w->Pp);
    free(w->Pf);
    free(w->Ps);
    memset(w, 0, sizeof *w);
}

/* Set up a track's work: its frame, times, fixes in ENU, pre-filter reasons */
static int prepare(trk *w, const hd_track_fix *fix, const hd_track_meas *meas, const int64_t *idx, int64_t m,
                   const hd_track_cfg *cfg, hd_track_info *info, hd_enu *enu)
{
    int base = cfg->model == HD_TRACK_CA ? 6 : 4, n = base + (cfg->fix_error_tau_s > 0 ? 2 : 0);
    int rc = alloc_trk(w, m, n);
    if (rc < 0)
        return rc;
    w->m = m;
    w->n = n;
    w->bi = cfg->fix_error_tau_s > 0 ? base : -1;
    w->tau = cfg->fix_error_tau_s;
    w->sb2 = cfg->fix_error_sigma_m * cfg->fix_error_sigma_m;
    w->kappa = 1;
    w->model = cfg->model;
    w->gate2 = cfg->gate_sigma * cfg->gate_sigma;
    w->idx = idx;
    w->fix = fix;
    w->meas = meas;
    w->frame = enu;
    w->k0 = -1;
    int have_origin = 0;
    for (int64_t k = 0; k < m; k++) {
        const hd_track_fix *f = &fix[idx[k]];
        w->t[k] = (double)(f->time_ns - fix[idx[0]].time_ns) * 1e-9;
        int r = fix_reason(f);
        if (k > 0 && f->time_ns == fix[idx[k - 1]].time_ns) {
            info->n_same_time++;
            const hd_track_fix *p = &fix[idx[k - 1]];
            if (r == HD_TRACK_USED && p->located && p->lat == f->lat && p->lon == f->lon)
                r = HD_TRACK_DUPLICATE;
        }
        if (k > 0 && idx[k] < idx[k - 1])
            info->n_out_of_order++;
        w->reason[k] = r;
        if (r != HD_TRACK_USED)
            continue;
        if (!have_origin) {
            hd_enu_init(enu, f->lat, f->lon, 0);
            info->lat0 = f->lat;
            info->lon0 = f->lon;
            have_origin = 1;
        }
        double e[3];
        hd_enu_from_geo(enu, f->lat, f->lon, 0, e);
        w->z[k][0] = e[0];
        w->z[k][1] = e[1];
        double infl = f->nu > 0 && f->nu <= 2 ? HD_TRACK_NU_LOW_INFLATE : 1; /* cov is the t's covariance */
        for (int i = 0; i < 3; i++)
            w->R[k][i] = f->cov[i] * infl;
    }
    return 0;
}

static void to_geo(const hd_enu *enu, double e, double nn, double *lat, double *lon)
{
    double v[3] = {e, nn, -(e * e + nn * nn) / (2 * EARTH_R)};
    double h;
    hd_enu_to_geo(enu, v, lat, lon, &h);
}

/* Fill the result's points of a track from its smoothed work */
static void emit(const trk *w, const hd_enu *enu, hd_track_point *pt, hd_track_info *info)
{
    const int n = w->n;
    for (int64_t k = 0; k < w->m; k++) {
        hd_track_point *p = &pt[k];
        int r = w->reason[k];
        if (w->measured[k])
            r = w->gated[k] ? HD_TRACK_GATED : HD_TRACK_MEASURED;
        else if (r == HD_TRACK_USED && w->gated[k])
            r = HD_TRACK_GATED;
        p->reason = r;
        p->d2 = w->d2[k];
        info->n_reason[r]++;
        p->lat = p->lon = p->filt_lat = p->filt_lon = NAN;
        p->ve = p->vn = p->speed_mps = p->speed_sd_mps = NAN;
        for (int i = 0; i < 3; i++)
            p->cov[i] = p->cov_v[i] = p->filt_cov[i] = NAN;
        for (int i = 0; i < MAXN; i++)
            p->state[i] = NAN;
        for (int i = 0; i < 36; i++)
            p->state_cov[i] = NAN;
        p->has_state = w->k0 >= 0;
        if (!p->has_state)
            continue;
        const double *x = &w->xs[k * n], *P = &w->Ps[k * n * n];
        to_geo(enu, x[0], x[1], &p->lat, &p->lon);
        p->cov[0] = P[0];
        p->cov[1] = P[1];
        p->cov[2] = P[n + 1];
        p->ve = x[2];
        p->vn = x[3];
        p->cov_v[0] = P[2 * n + 2];
        p->cov_v[1] = P[2 * n + 3];
        p->cov_v[2] = P[3 * n + 3];
        p->speed_mps = hypot(x[2], x[3]);
        /* the speed's sd along the velocity (isotropic when at rest) */
        double s2 = p->speed_mps > 0 ? (x[2] * x[2] * P[2 * n + 2] + 2 * x[2] * x[3] * P[2 * n + 3] +
                                        x[3] * x[3] * P[3 * n + 3]) /
                                           (p->speed_mps * p->speed_mps)
                                     : 0.5 * (P[2 * n + 2] + P[3 * n + 3]);
        p->speed_sd_mps = sqrt(s2 > 0 ? s2 : 0);
        memcpy(p->state, x, sizeof(double) * (size_t)n);
        memcpy(p->state_cov, P, sizeof(double) * (size_t)(n * n));
        if (k >= w->k0) {
            const double *xf = &w->xf[k * n], *Pf = &w->Pf[k * n * n];
            to_geo(enu, xf[0], xf[1], &p->filt_lat, &p->filt_lon);
            p->filt_cov[0] = Pf[0];
            p->filt_cov[1] = Pf[1];
            p->filt_cov[2] = Pf[n + 1];
        }
    }
    info->n_used = info->n_reason[HD_TRACK_USED];
}

int hd_track_run(hd_track_result *out, const hd_track_fix *fix, int64_t n, const hd_track_cfg *cfg)
{
    return hd_track_run_meas(out, fix, NULL, n, cfg);
}

int hd_track_run_meas(hd_track_result *out, const hd_track_fix *fix, const hd_track_meas *meas, int64_t n,
                      const hd_track_cfg *cfg)
{
    memset(out, 0, sizeof *out);
    out->pooled_sigma = out->pooled_fix_error = NAN;
    out->fix_white_scale = 1;
    if (n < 0 || (n > 0 && !fix))
        return hd_error(HD_EINVAL, "track: no fixes given");
    if (!(cfg->max_gap_s > 0) || !(cfg->accel_sigma_mps2 >= 0) || !(cfg->gate_sigma >= 0) ||
        !(cfg->fix_error_tau_s >= 0) ||
        !(cfg->fix_error_sigma_m >= 0) || (cfg->model != HD_TRACK_CV && cfg->model != HD_TRACK_CA))
        return hd_error(HD_EINVAL, "track: max_gap_s must be > 0, accel_sigma_mps2 and gate_sigma >= 0, model cv or ca");
    int rc = 0, nt = 0, nshort = 0, nlearnt = 0;
    double *learnt = NULL;
    int64_t *idx = hd_malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    trk *w = NULL;
    hd_enu *enu = NULL;
    trk **shortw = NULL;
    out->pt = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *out->pt);
    if (!idx || !out->pt) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    sort_fix = fix;
    qsort(idx, (size_t)n, sizeof *idx, cmp_fix);
    /* count the tracks */
    for (int64_t i = 0; i < n; i++) {
        const hd_track_fix *f = &fix[idx[i]], *p = i > 0 ? &fix[idx[i - 1]] : NULL;
        if (!p || p->tx_id != f->tx_id || freq_key(p->frequency_hz) != freq_key(f->frequency_hz) ||
            (double)(f->time_ns - p->time_ns) * 1e-9 > cfg->max_gap_s)
            nt++;
    }
    out->trk = hd_calloc((size_t)(nt > 0 ? nt : 1), sizeof *out->trk);
    w = hd_calloc((size_t)(nt > 0 ? nt : 1), sizeof *w);
    enu = hd_calloc((size_t)(nt > 0 ? nt : 1), sizeof *enu);
    shortw = hd_calloc((size_t)(nt > 0 ? nt : 1), sizeof *shortw);
    if (!out->trk || !w || !enu || !shortw) {
        rc = HD_ENOMEM;
        goto fail;
    }
    out->n_tracks = nt;
    out->n = n;
    out->dim = (cfg->model == HD_TRACK_CA ? 6 : 4) + (cfg->fix_error_tau_s > 0 ? 2 : 0);
    int t = -1;
    for (int64_t i = 0; i < n; i++) {
        const hd_track_fix *f = &fix[idx[i]], *p = i > 0 ? &fix[idx[i - 1]] : NULL;
        if (!p || p->tx_id != f->tx_id || freq_key(p->frequency_hz) != freq_key(f->frequency_hz) ||
            (double)(f->time_ns - p->time_ns) * 1e-9 > cfg->max_gap_s) {
            t++;
            out->trk[t].first = i;
            out->trk[t].tx_id = f->tx_id;
            out->trk[t].frequency_hz = f->frequency_hz;
            out->trk[t].t0_ns = f->time_ns;
        }
        out->trk[t].n++;
        out->trk[t].t1_ns = f->time_ns;
        hd_track_point *q = &out->pt[i];
        q->event_index = f->event_index;
        q->time_ns = f->time_ns;
        q->input = idx[i];
        q->track = t;
    }
    /* prepare; learn per long track, then pooled over the short ones */
    learnt = hd_calloc((size_t)(2 * (nt > 0 ? nt : 1)), sizeof *learnt);
    if (!learnt) {
        rc = HD_ENOMEM;
        goto fail;
    }
    int to_learn = cfg->accel_sigma_mps2 == 0 || (cfg->fix_error_tau_s > 0 && cfg->fix_error_sigma_m == 0);
    for (int k = 0; k < nt; k++) {
        hd_track_info *ti = &out->trk[k];
        if ((rc = prepare(&w[k], fix, meas, idx + ti->first, ti->n, cfg, ti, &enu[k])) < 0)
            goto fail;
        int valid = 0;
        for (int64_t j = 0; j < ti->n; j++)
            valid += w[k].reason[j] == HD_TRACK_USED;
        ti->accel_sigma = cfg->accel_sigma_mps2;
        ti->fix_error_sigma = cfg->fix_error_tau_s > 0 ? cfg->fix_error_sigma_m : 0;
        if (!to_learn)
            continue;
        if (valid >= HD_TRACK_LEARN_MIN) {
            trk *one = &w[k];
            learn(&one, 1, cfg, &ti->accel_sigma, &ti->fix_error_sigma);
            ti->learnt = 1;
            learnt[nlearnt] = ti->accel_sigma;
            learnt[nt + nlearnt] = ti->fix_error_sigma;
            nlearnt++;
        } else if (valid >= 3) {
            shortw[nshort++] = &w[k];
        }
    }
    if (to_learn) {
        double ps = NAN, pb = NAN;
        if (nshort > 0)
            learn(shortw, nshort, cfg, &ps, &pb);
        else if (nlearnt > 0) { /* the medians of the long tracks' */
            ps = median_of(learnt, nlearnt);
            pb = median_of(learnt + nt, nlearnt);
        }
        out->pooled_sigma = ps;
        out->pooled_fix_error = pb;
        for (int k = 0; k < nt; k++)
            if (!out->trk[k].learnt) {
                hd_track_info *ti = &out->trk[k];
                if (cfg->accel_sigma_mps2 == 0)
                    ti->accel_sigma = isfinite(ps) ? ps : 1.0;
                if (cfg->fix_error_tau_s > 0 && cfg->fix_error_sigma_m == 0)
                    ti->fix_error_sigma = isfinite(pb) ? pb : 50.0;
                ti->learnt = isfinite(ps) ? 2 : 0;
            }
    }
    /* the fixes' correlated error is the localizer's, not the track's: learnt
     * over all tracks at once (a slow error has few independent values in
     * one track, and one track's maximum likelihood underestimates it) */
    if (cfg->fix_error_tau_s > 0 && cfg->fix_error_sigma_m == 0) {
        trk **all = shortw; /* reused: every track with >= 3 usable fixes */
        int na = 0;
        for (int k = 0; k < nt; k++) {
            int valid = 0;
            for (int64_t j = 0; j < w[k].m; j++)
                valid += w[k].reason[j] == HD_TRACK_USED;
            w[k].sigma = out->trk[k].accel_sigma;
            if (valid >= 3)
                all[na++] = &w[k];
        }
        double sb = isfinite(out->pooled_fix_error) ? out->pooled_fix_error : 50, kappa = 1;
        /* coordinate ascent until sb and kappa settle (sb and kappa trade off: a few rounds) */
        for (int round = 0; na > 0 && round < 12; round++) {
            double sb_was = sb, kappa_was = kappa;
            sb = golden(all, na, 1, 1, 1e4, -1, sb);
            /* what of the fixes' covariance is white (the rest is b): kappa */
            kappa = golden(all, na, 2, 0.01, 4, -1, sb);
            for (int k = 0; k < nt; k++)
                w[k].kappa = kappa;
            if (round >= 1 && fabs(sb - sb_was) < 0.005 * sb && fabs(kappa - kappa_was) < 0.005 * kappa)
                break;
            for (int k = 0; cfg->accel_sigma_mps2 == 0 && k < nt; k++)
                if (out->trk[k].learnt == 1) {
                    trk *one = &w[k];
                    w[k].sigma = out->trk[k].accel_sigma = golden(&one, 1, 0, 1e-3, 1e2, w[k].sigma, sb);
                }
        }
        out->pooled_fix_error = sb;
        out->fix_white_scale = kappa;
        for (int k = 0; k < nt; k++)
            out->trk[k].fix_error_sigma = sb;
    }
    /* filter, smooth, emit */
    for (int k = 0; k < nt; k++) {
        hd_track_info *ti = &out->trk[k];
        double q = q_of(ti->accel_sigma);
        w[k].sb2 = ti->fix_error_sigma * ti->fix_error_sigma;
        double t0 = hd_now();
        ti->loglik = forward(&w[k], q);
        if (w[k].k0 >= 0 && (rc = smooth(&w[k], q)) < 0)
            goto fail;
        out->filter_s += hd_now() - t0;
        emit(&w[k], &enu[k], out->pt + ti->first, ti);
        if (w[k].k0 < 0)
            ti->loglik = NAN;
    }
fail:
    for (int k = 0; w && k < nt; k++)
        free_trk(&w[k]);
    free(w);
    free(enu);
    free(shortw);
    free(learnt);
    free(idx);
    if (rc < 0)
        hd_track_result_release(out);
    return rc;
}
