/* evaluate's two halves: one method (evaluate.c), several compared on the
 * same events (evaluate_compare.c). */
#ifndef HD_CMD_EVALUATE_H
#define HD_CMD_EVALUATE_H
#include "cli.h"
#include "config/config.h"
#include "eval/score.h"

/* One method (cli->method): eval.h5, report, plots, headline; the run and
 * its scores are left in r and sr for the caller to release. */
int hd_evaluate_one(const hd_cli *cli, hd_config *cfg, hd_run *r, hd_eval_report *sr);
/* cli->truth_from: the input is a predictions file (positions, JSON lines,
 * eval.h5, tracks.h5) scored against that features file's truth
 * (evaluate_predictions.c). */
int hd_evaluate_predictions(const hd_cli *cli, hd_config *cfg);
/* The printed headline of a scored run. */
void hd_evaluate_headline(const hd_cli *cli, const char *method, const hd_eval_report *rep, double prior_nu,
                          const char *report_file);
/* cli->method a list "a,b,…": each alone, then compared. */
int hd_evaluate_compare(const hd_cli *cli, hd_config *cfg);

#endif
