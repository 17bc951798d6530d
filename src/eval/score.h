/* Scoring a run against its truth: every event scored (hd_eval_score) as
 * its block is located, while the solver's per-receiver result and the
 * network exist (the bound at the truth needs them), its row of eval.h5
 * written then and only a small row kept (hd_eval_row); at the end the
 * headline metrics, the subset a good network should reach, breakdowns
 * by SNR and by receivers used, counts by status, the solver's latency and
 * the predictive's degrees of freedom from the rows. report.h writes the
 * summary. */
#ifndef HD_EVAL_SCORE_H
#define HD_EVAL_SCORE_H
#include <hdf5.h>
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

/* The box (degrees) of the points added to it; w = +inf while empty. */
typedef struct {
    double w, e, s, n;
} hd_eval_box;

/* eval.h5's per-event datasets while rows are added (hd_eval_begin) */
#define HD_EVAL_ROW_COLUMNS 23

typedef struct {
    int64_t n;               /* events scored so far (all of them after hd_eval_finish) */
    hd_eval_row *rows;       /* [n]: what is kept of each event (hd_eval_row); the scores themselves are in
                                eval.h5 (error_m, mahalanobis2, content, nll, crlb_m, crlb_with_model_m) */
    int64_t cap;             /* rows allocated: the events announced to hd_eval_begin */
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
    /* gathered while adding (hd_eval_add) */
    int rx_max;              /* the largest receiver count a row can have (the dense network's R, or 64) */
    int any3d;               /* an event observed the transmitter's height (the GDOP rows) */
    int has_group;           /* the run had a split's groups */
    int64_t plot_located;    /* events with a position (status ok or outside), truth or not */
    hd_eval_box truths, estimates; /* the finite truths; the positions of the located events */
    uint64_t index_hash;     /* FNV-1a over the event indices in order: runs of the same events agree */
    /* eval.h5 (f >= 0): its per-event datasets, open while rows are written */
    hid_t f;
    int64_t E;               /* events the datasets hold */
    hid_t ds[HD_EVAL_ROW_COLUMNS];
    hd_scored *blk_sc;       /* scratch: a block's scores */
    double *blk_crlb, *blk_v;
    int64_t blk_cap;
} hd_eval_report;

/* The GDOP bins' inner edges. */
#define HD_EVAL_GDOP_EDGES {1, 1.5, 2, 3, 5}

/* Scoring as the run goes: begin for E events, writing their per-event
 * datasets into eval.h5 f (created here, [E] each; f < 0: none written);
 * add each block the run's sink sees (events run->first .. + run->n, in
 * order: the block's results, run->net and, when the run scored its
 * events itself, run->scored: a sparse file's, the folds'); finish with the SNR bin edges snr_bins_db[n_bins]
 * (ascending; n_bins + 1 rows) and the run's totals (n_clamped, split).
 * Memory: sizeof(hd_eval_row) an event (the rows) plus a block's scratch;
 * finish sorts copies of the errors, bounds and latencies. Each returns 0
 * or a negative HD_E code; release with hd_eval_report_release either
 * way. */
int hd_eval_begin(hd_eval_report *rep, hid_t f, int64_t E);
int hd_eval_add(hd_eval_report *rep, const hd_run *run);
int hd_eval_finish(hd_eval_report *rep, const hd_run *run, const double *snr_bins_db, int n_bins);
/* hd_eval_add as an hd_run_sink (sink_ctx: the hd_eval_report) */
int hd_eval_sink(void *rep, const hd_run *run);
/* A run held whole (run->first 0, run->n events: hd_eval_score_run),
 * added a block at a time. */
int hd_eval_add_whole(hd_eval_report *rep, const hd_run *run);
/* All of it for a run held whole: begin (f as there), add, finish. */
int hd_eval_score_run(hd_eval_report *rep, hid_t f, const hd_run *run, const double *snr_bins_db, int n_bins);
void hd_eval_report_release(hd_eval_report *rep);

/* Event i of a block scored as evaluate scores it: against the truth on
 * run->net (or run->scored's when the run scored its events itself: a
 * sparse file's, each on its own network; the folds'), the bound without the model error into s (at the estimate
 * when the receivers were placed per event) and with it into
 * *crlb_model_m. */
void hd_eval_score_event(const hd_run *run, int64_t i, hd_scored *s, double *crlb_model_m);

/* One breakdown table in a line: "by GDOP (median / p95 m, events located):
 * 1 <= gdop < 1.5: 30 / 80 (120); …" over the rows with a located event
 * (what: "GDOP", "receivers used"); "" without rows. Returns the length. */
int hd_eval_breakdown_summary(const char *what, const hd_eval_group *g, int n, char *buf, size_t size);
/* "month", "time_block" or "none" */
const char *hd_eval_split_name(int split);

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
