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
    double content;          /* probability of the predictive's smallest ellipse holding the truth */
    double nll;              /* −log density of the truth under the predictive (metres) */
    double crlb_m;           /* sqrt(trace) of the bound at the truth (NaN: none) */
    double efficiency;       /* err_m / crlb_m */
} hd_scored;

/* Score res against the truth (lat, lon) on net (for the bound at the truth:
 * with_model includes localize.model_sigma_ns in the timing variances).
 * net is not used, and may be NULL, for an event that used no receiver and
 * has no position. */
void hd_eval_score(const hd_locate_net *net, const hd_locate_result *res, double lat, double lon, int with_model,
                   hd_scored *out);

/* What evaluate keeps of an event once it is scored and written (72
 * bytes, whatever the receivers): what the summary needs of it. The
 * percentiles need every error, bound, latency and nu; the breakdowns
 * each event's SNR, receivers, GDOP bin and group; the means its offsets
 * and NLL. The coverages need only which ellipses held the truth (flags). */
typedef struct {
    double err_m, de_m, dn_m, nll; /* as hd_scored */
    double crlb_m;                 /* as hd_scored (the efficiency is err_m / crlb_m) */
    double latency_s;              /* the solver's time */
    double nu;                     /* the predictive's degrees of freedom (with HD_ROW_HAS_E) */
    float snr_db;                  /* median SNR of the receivers used (NaN: none) */
    int8_t status;                 /* hd_loc_status */
    int8_t group;                  /* the split's group (0 without one) */
    uint8_t n_receivers, n_timed;  /* receivers used; timed by valid time differences */
    uint8_t gdop_bin;              /* the GDOP bin (HD_EVAL_GDOP_EDGES), 255: none */
    uint8_t flags;                 /* HD_ROW_* */
} hd_eval_row;

enum {
    HD_ROW_LOCATED = 1,            /* hd_scored.located */
    HD_ROW_IN_1SIGMA = 2,          /* content <= HD_COVERAGE_1SIGMA */
    HD_ROW_IN_2SIGMA = 4,          /* content <= HD_COVERAGE_2SIGMA */
    HD_ROW_IN_68 = 8,              /* content <= 0.68 */
    HD_ROW_IN_95 = 16,             /* content <= 0.95 */
    HD_ROW_D2_1 = 32,              /* d2 <= 1 */
    HD_ROW_D2_4 = 64,              /* d2 <= 4 */
    HD_ROW_HAS_E = 128,            /* a position estimate in the frame (res.e finite): nu counts */
};

/* The scores' part of a row (err_m … crlb_m and the located and coverage
 * flags; the other fields are left as they are). */
void hd_eval_keep(const hd_scored *s, hd_eval_row *row);

typedef struct {
    int64_t n;               /* events selected */
    int64_t located;         /* of them, with a position */
    double mean_m, median_m, p68_m, p95_m, rmse_m;
    double bias_east_m, bias_north_m;
    /* fractions of truths inside the predictive's ellipses holding 39.3 %
     * and 86.5 % (a Gaussian's 1σ and 2σ: d2 <= 1, <= 4; a Student-t's
     * other radii, hd_locate_radius2), and the drawn 68 % and 95 % ones */
    double coverage_1sigma, coverage_2sigma;
    double coverage_68, coverage_95;
    double coverage_d2_1, coverage_d2_4; /* d2 <= 1, <= 4 whatever the shape */
    double mean_nll;
    double median_crlb_m, median_efficiency;
} hd_metrics;

/* Summary over the events with sel[i] (sel NULL: all); NaN where nothing was
 * located. */
int hd_metrics_compute(const hd_eval_row *s, const uint8_t *sel, int64_t n, hd_metrics *m);

#define HD_COVERAGE_1SIGMA 0.3934693402873666 /* 1 − e^{−1/2}: 2-D, d² ≤ 1 */
#define HD_COVERAGE_2SIGMA 0.8646647167633873 /* 1 − e^{−2} */

#endif
