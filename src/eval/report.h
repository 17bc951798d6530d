/* What evaluate writes from a scored run (score.h): eval.h5's datasets,
 * breakdown tables and summary attributes, report.json, and the gnuplot
 * plots. Knows files and formats; the scoring is score.c's. */
#ifndef HD_EVAL_REPORT_H
#define HD_EVAL_REPORT_H
#include <hdf5.h>
#include <stddef.h>
#include <stdio.h>
#include "config/config.h"
#include "eval/compare.h"
#include "eval/run.h"
#include "eval/score.h"

/* <dir>/<stem><suffix> for output <dir>/<stem>.h5 */
void hd_eval_beside(const char *out, const char *suffix, char *buf, size_t size);
/* report.json beside eval.h5, NAME.report.json beside another NAME.h5 */
void hd_eval_report_path(const char *out, char *buf, size_t size);

/* Into the open file f, after the rows (hd_eval_begin with f): the
 * breakdown tables /breakdown/snr, /breakdown/receivers (gdop, group);
 * the summary (rep->all, latency) and method as root attributes. The
 * provenance is the caller's. */
int hd_eval_write_h5(hid_t f, const hd_eval_report *rep, const char *method);
/* eval.h5's per-event datasets (the estimate, covariance, truth, error,
 * Mahalanobis distance, predictive, bounds, status; [rep->E] each,
 * chunked) created in rep->f and kept open in rep->ds; a block's rows
 * (run's events, their scores in rep->blk_sc and rep->blk_crlb) written
 * from row row0; closed (twice is harmless). score.c's hd_eval_begin,
 * hd_eval_add and hd_eval_finish call them. */
int hd_eval_rows_create(hd_eval_report *rep);
int hd_eval_rows_write(hd_eval_report *rep, const hd_run *run, int64_t row0);
int hd_eval_rows_close(hd_eval_report *rep);

/* A positions file (localize -o OUT.h5, format HD_FORMAT_POSITIONS): per
 * event the index, time, frequency, status, estimate, covariance,
 * predictive, fit quality and receivers used, as eval.h5 has them (without
 * truth or scores); the method as a root attribute. */
int hd_eval_write_positions(hid_t f, const hd_run *run, const char *method);
/* The same streaming: rows run->first .. + run->n of a positions file of E
 * events (create: make its datasets first, chunked); the method attribute
 * is the caller's (hd_h5_attr_str(f, "method", …)). */
int hd_eval_positions_rows(hid_t f, const hd_run *run, int64_t E, int create);

/* What report.json says besides the scores. */
typedef struct {
    const char *method;      /* hd_method_name */
    const char *input;       /* the file evaluated */
    int split;               /* hd_split (evaluate.split) */
    double model_sigma_ns;   /* localize.model_sigma_ns */
    double prior_nu, tail_nu; /* hd_eval_predictive */
} hd_eval_report_info;

/* report.json (indented, 8 significant digits, a final newline) to out,
 * the stream of path (named in errors). */
int hd_eval_write_json(FILE *out, const char *path, const hd_eval_report *rep, const hd_eval_report_info *info);

/* Beside output (eval.h5, written and committed: the map's events are
 * read back from it a block at a time): NAME.gp, the gnuplot script
 * drawing NAME_cdf.png (error CDF, from rep's rows) and NAME_map.png
 * (truths, estimates, 68 % ellipses, the receivers st[R] with fixed
 * positions) from NAME_errors.dat, NAME_map.dat and NAME_receivers.dat;
 * with draw and gnuplot installed, runs it (a missing or failing gnuplot
 * is a warning). */
int hd_eval_write_plots(const char *output, const hd_eval_report *rep, const hd_station *st, int R,
                        const char *method, int draw);

/* Several methods on the same events (compare.h): /compare/alone and
 * /compare/same_events (a row per method: n, located, median_m, p68_m,
 * p95_m, coverage_1sigma, coverage_2sigma, coverage_68, coverage_95,
 * median_crlb_m), /compare/common [n], root n and n_common; and the JSON
 * report of the same. */
int hd_eval_write_compare_h5(hid_t f, const hd_eval_comparison *c, const char *const *methods);
int hd_eval_write_compare_json(FILE *out, const char *path, const hd_eval_comparison *c, const char *const *methods,
                               const char *input);
/* Beside output: NAME_cdf.png (gnuplot: each method's error CDF on the
 * events every one located) and NAME_map.png (GMT: the methods' maps side
 * by side, from each one's NAME_<method>_map_*.dat), with their scripts. */
int hd_eval_write_compare_plots(const char *output, const hd_eval_comparison *c, const hd_eval_report *const *reps,
                                const char *const *methods, const hd_locate_net *net, int draw);

#endif
