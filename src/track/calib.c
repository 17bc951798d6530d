/* The smoothed states' covariance calibrated against the truth by
 * cross-validation over the tracks (see track.h, hd_track_calibrate_cv). */
#include "track/track.h"
#include "core/alloc.h"
#include "core/error.h"
#include "locate/locate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the q-quantile of sorted v[0..n) (linear between order statistics) */
static double quantile_sorted(const double *v, int64_t n, double q)
{
    double h = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(h);
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* (s, nu) so that the 1-sigma and 2-sigma regions of a 2-D Student-t of
 * covariance s × cov (Mahalanobis² radii hd_locate_radius2(p, nu) × s for
 * p = 1 − e^(−1/2), 1 − e^(−2)) hold those fractions of d2: nu from the
 * ratio of the two quantiles (4 for a Gaussian, up to ~9.9 as nu → 2),
 * then s from the first. v is sorted in place. */
static void fit_t(double *v, int64_t n, double *s, double *nu)
{
    const double p1 = 1 - exp(-0.5), p2 = 1 - exp(-2.0);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double q1 = quantile_sorted(v, n, p1), q2 = quantile_sorted(v, n, p2);
    double ratio = q1 > 0 ? q2 / q1 : INFINITY;
    *nu = 0;
    if (ratio > 4) { /* heavier than a Gaussian: bisect log(nu - 2) for the ratio (it falls as nu grows) */
        double a = log(0.1), b = log(1e4); /* nu 2.1 at most this heavy: a covariance of some meaning */
        for (int it = 0; it < 100; it++) {
            double m = 0.5 * (a + b), u = 2 + exp(m);
            if (hd_locate_radius2(p2, u) / hd_locate_radius2(p1, u) > ratio)
                a = m;
            else
                b = m;
        }
        *nu = 2 + exp(0.5 * (a + b));
        if (*nu > 1e3)
            *nu = 0;
    }
    *s = q1 > 0 ? q1 / hd_locate_radius2(p1, *nu) : 1;
}

static void apply(hd_track_point *p, double s, double nu)
{
    for (int i = 0; i < 3; i++) {
        p->cov[i] *= s;
        p->cov_v[i] *= s;
        p->filt_cov[i] *= s;
    }
    for (int i = 0; i < 64; i++)
        p->state_cov[i] *= s;
    p->speed_sd_mps *= sqrt(s);
    p->nu = nu;
}

int hd_track_calibrate_cv(hd_track_result *r, const double *d2, int folds, hd_track_calibration *c)
{
    memset(c, 0, sizeof *c);
    c->scale = 1;
    c->folds = folds;
    if (folds < 2)
        return hd_error(HD_EINVAL, "track calibration: folds %d (at least 2)", folds);
    size_t N = (size_t)(r->n > 0 ? r->n : 1);
    double *v = hd_malloc(N * sizeof *v);
    if (!v)
        return HD_ENOMEM;
    int64_t n = 0;
    double in1 = 0, in2 = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (r->pt[i].has_state && isfinite(d2[i])) {
            v[n++] = d2[i];
            in1 += d2[i] <= 1;
            in2 += d2[i] <= 4;
        }
    c->n = n;
    c->model_cov1 = n ? in1 / n : NAN;
    c->model_cov2 = n ? in2 / n : NAN;
    if (n < HD_TRACK_CALIB_MIN) {
        free(v);
        return 0; /* too few states with the truth: left as the model has them */
    }
    fit_t(v, n, &c->scale, &c->nu);
    /* each fold (contiguous tracks: in time order within a transmitter)
     * calibrated on the others */
    for (int f = 0; f < folds; f++) {
        int64_t m = 0;
        for (int64_t i = 0; i < r->n; i++) {
            const hd_track_point *p = &r->pt[i];
            if (p->has_state && isfinite(d2[i]) && (int)((int64_t)p->track * folds / r->n_tracks) != f)
                v[m++] = d2[i];
        }
        double s = 1, nu = 0;
        if (m >= HD_TRACK_CALIB_MIN)
            fit_t(v, m, &s, &nu);
        else
            s = c->scale, nu = c->nu;  /* one fold holds (nearly) everything: the fit on all */
        for (int64_t i = 0; i < r->n; i++) {
            hd_track_point *p = &r->pt[i];
            if (p->has_state && (int)((int64_t)p->track * folds / r->n_tracks) == f)
                apply(p, s, nu);
        }
    }
    c->applied = 1;
    free(v);
    return 0;
}
