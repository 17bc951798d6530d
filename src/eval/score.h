/* Scoring a whole run against its truth: every event scored (hd_eval_score),
 * the headline metrics, the subset a good network should reach, breakdowns
 * by SNR and by receivers used, counts by status, the solver's latency and
 * the predictive's degrees of freedom. Memory only; report.h writes it. */
#ifndef HD_EVAL_SCORE_H
#define HD_EVAL_SCORE_H
#include <stdint.h>
#include "config/config.h"
#include "eval/metrics.h"
#include "eval/run.h"

/* One row of a breakdown table. */
typedef struct {
    char name[48];           /* "snr < 0 dB", "10 <= snr < 20 dB", "4 receivers" */
    double lo, hi;           /* the SNR bin [lo, hi) (dB); receivers: lo = hi = the count */
    hd_metrics m;
} hd_eval_group;

typedef struct {
    int64_t n;               /* events */
    hd_scored *sc;           /* [n]: each event against its truth; the bound without the model error
                                (at the estimate when the receivers were placed per event) */
    double *crlb_model_m;    /* [n]: the bound at the truth with localize.model_sigma_ns */
    hd_metrics all;          /* every event */
    hd_metrics good;         /* >= 4 receivers timed by valid time differences at >= 10 dB */
    hd_eval_group *snr;      /* [n_snr]: bins below, between and above evaluate.snr_bins_db */
    int n_snr;
    hd_eval_group rx[HD_MAX_STATIONS + 1]; /* [n_rx]: by receivers used, counts that occur, ascending */
    int n_rx;
    /* 3-D solves (the transmitter's height observed, import mlat): by GDOP at
     * the estimate, bins [0, 1), [1, 1.5) … [5, inf) (HD_EVAL_GDOP_EDGES; the
     * lo and hi of each row), and the events located with a receiver rejected
     * as a timing outlier. n_gdop 0 for 2-D files, whose reports are unchanged. */
    hd_eval_group gdop[8];
    int n_gdop;
    int64_t n_rejected;
    hd_eval_group *grp;      /* [n_grp]: by the split's group ("month 4"; lo = hi = the group), ascending */
    int n_grp;
    int split;               /* hd_split the run was located by */
    int64_t n_clamped;       /* the network's predictions outside the region, clamped to it (status outside) */
    int64_t counts[HD_LOC_STATUS_COUNT]; /* events by status; they add up to n */
    int64_t no_truth;        /* events without a finite truth: in n, never located nor scored */
    double latency_median_us, latency_p95_us, latency_max_us; /* NaN without events */
    double latency_total_s;  /* solver time summed */
    double nu_median, nu_min, nu_max; /* over the events with a position estimate (NaN: none) */
    double coverage_1sigma_se, coverage_2sigma_se; /* a calibrated method's binomial spread over all.located */
} hd_eval_report;

/* The GDOP bins' inner edges. */
#define HD_EVAL_GDOP_EDGES {1, 1.5, 2, 3, 5}

/* Score run (truth in run->truth_lat/lon, the receivers in run->net) with
 * the SNR bin edges snr_bins_db[n_bins] (ascending; n_bins + 1 rows).
 * Returns 0 or HD_ENOMEM; release with hd_eval_report_release either way. */
int hd_eval_score_run(hd_eval_report *rep, const hd_run *run, const double *snr_bins_db, int n_bins);
void hd_eval_report_release(hd_eval_report *rep);

/* One breakdown table in a line: "by GDOP (median / p95 m, events located):
 * 1 <= gdop < 1.5: 30 / 80 (120); …" over the rows with a located event
 * (what: "GDOP", "receivers used"); "" without rows. Returns the length. */
int hd_eval_breakdown_summary(const char *what, const hd_eval_group *g, int n, char *buf, size_t size);
/* "month", "time_block" or "none" */
const char *hd_eval_split_name(int split);

/* Events of run by status (counts[HD_LOC_STATUS_COUNT], zeroed here). */
void hd_eval_count_status(const hd_run *run, int64_t *counts);
/* "N located (A inside the region, B outside it), C not enough receivers,
 * D no convergence, F where the receivers' geometry fixes no position":
 * parts that add up to the events (counts from hd_eval_count_status). */
int hd_eval_status_summary(const int64_t *counts, char *buf, size_t n);

/* The predictive evaluate scores: per event a Student-t with prior_nu + dof
 * degrees of freedom (classical solvers scaling by their residuals,
 * localize.scale_by_chi2), or one fixed tail_nu for every event (0: a
 * Gaussian). model_nu: the trained network's nu when one model is loaded
 * (has_model), else ignored. */
void hd_eval_predictive(int method, const hd_localize_cfg *cfg, int has_model, double model_nu, double *prior_nu,
                        double *tail_nu);

#endif
