/* Scoring located events against the truth: geodesic error, calibration of
 * the uncertainty, likelihood, and efficiency against the Cramér–Rao bound. */
#ifndef HD_EVAL_METRICS_H
#define HD_EVAL_METRICS_H
#include <stdint.h>
#include "locate/locate.h"

/* One event scored. */
typedef struct {
    int located;             /* had a position (status ok) */
    double err_m;            /* geodesic distance truth → estimate (WGS84) */
    double de_m, dn_m;       /* estimate − truth, east and north (m) */
    double d2;               /* Mahalanobis distance² of the truth under the covariance */
    double nll;              /* −log density of the truth (2-D Gaussian, metres) */
    double crlb_m;           /* sqrt(trace) of the bound at the truth (NaN: none) */
    double efficiency;       /* err_m / crlb_m */
} hd_scored;

/* Score res against the truth (lat, lon) on net (for the bound at the truth:
 * with_model includes localize.model_sigma_ns in the timing variances). */
void hd_eval_score(const hd_locate_net *net, const hd_locate_result *res, double lat, double lon, int with_model,
                   hd_scored *out);

typedef struct {
    int64_t n;               /* events selected */
    int64_t located;         /* of them, with a position */
    double mean_m, median_m, p68_m, p95_m, rmse_m;
    double bias_east_m, bias_north_m;
    double coverage_1sigma, coverage_2sigma; /* fraction of truths with d2 <= 1, <= 4 */
    double coverage_68, coverage_95; /* inside the drawn 68 % and 95 % ellipses (d2 <= -2 ln(1 - p)) */
    double mean_nll;
    double median_crlb_m, median_efficiency;
} hd_metrics;

/* Summary over the events with sel[i] (sel NULL: all); NaN where nothing was
 * located. */
int hd_metrics_compute(const hd_scored *s, const uint8_t *sel, int64_t n, hd_metrics *m);

#define HD_COVERAGE_1SIGMA 0.3934693402873666 /* 1 − e^{−1/2}: 2-D, d² ≤ 1 */
#define HD_COVERAGE_2SIGMA 0.8646647167633873 /* 1 − e^{−2} */

#endif
