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
/* cli->method a list "a,b,…": each alone, then compared. */
int hd_evaluate_compare(const hd_cli *cli, hd_config *cfg);

#endif
