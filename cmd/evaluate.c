/* heimdall evaluate: locate every event of a features file and score the
 * positions and their uncertainty against /truth → eval.h5, report.json and
 * gnuplot plots. */
#include "cli.h"
#include "config/config.h"
#include "core/error.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "eval/knn.h"
#include "eval/report.h"
#include "eval/run.h"
#include "eval/score.h"
#include "h5/h5.h"
#include "evaluate.h"
#include "locate_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void hd_cmd_evaluate_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall evaluate [-c exp.yaml] [--set KEY=VALUE]... [--method M[,M…]] [-m model.h5]\n"
            "                         -o eval.h5 INPUT.h5\n"
            "       heimdall evaluate --truth-from FEATURES.h5 -o eval.h5 PREDICTIONS\n"
            "\n"
            "Locate every event of a features file with truth (or of a captures file,\n"
            "featurized on the fly) and score the method:\n"
            "  geodesic error on WGS84: count, mean, median, 68th and 95th percentile, RMSE,\n"
            "    bias (east, north);\n"
            "  calibration: the fraction of truths inside the predictive's 1-sigma and\n"
            "    2-sigma ellipses, those holding 39.3 %% and 86.5 %% of it (a Gaussian's\n"
            "    Mahalanobis radius 1 and 2; other radii for a Student-t: per event\n"
            "    localize.prior_nu + dof degrees of freedom, in eval.h5 as nu),\n"
            "    and the mean negative log-likelihood of the truth; inside the 68 %% and\n"
            "    95 %% ellipses localize draws (coverage_68, coverage_95); and within\n"
            "    Mahalanobis distance 1 and 2 of the covariance whatever the shape\n"
            "    (coverage_d2_1, coverage_d2_4);\n"
            "  the Cramér–Rao bound at the truth for each event's receivers, SNRs and\n"
            "    bandwidth (sqrt of the trace), and the efficiency (error over the bound);\n"
            "  broken down by SNR (median over the receivers used; edges\n"
            "    evaluate.snr_bins_db) and by the number of receivers used, for 3-D solves\n"
            "    (a height observed: import mlat) by GDOP at the estimate (0, 1, 1.5, 2, 3,\n"
            "    5, inf) with the events located after a receiver was rejected, and for the\n"
            "    events with at least 4 receivers timed by valid time differences (GPS-timed\n"
            "    IQ) at 10 dB or more;\n"
            "  with evaluate.split, a row per held-out group (eval.h5 /breakdown/group,\n"
            "    report.json by_group: n, median, p95, 1-sigma/2-sigma coverage, ...); the\n"
            "    printed headline names the split (or says no split).\n"
            "The network's positions outside the search region are clamped to its edge\n"
            "(status outside, counted: clamped_to_region).\n"
            "Writes eval.h5 (per event: estimate, covariance, error, Mahalanobis distance,\n"
            "bound, status; the summary as attributes; /breakdown/snr, receivers, gdop), report.json\n"
            "beside it (NAME.report.json for another NAME.h5), and with evaluate.plots and\n"
            "gnuplot and GMT installed NAME_cdf.png (error CDF, by NAME.gp) and NAME_map.png\n"
            "(coastlines, borders, scale bar; truths, estimates, 68 %% ellipses, receivers;\n"
            "the events without a position listed in a corner; by NAME_map.sh), from\n"
            "NAME_*.dat beside them: restyle and redraw with gnuplot NAME.gp, bash NAME_map.sh.\n"
            "Several methods (--method tdoa,hybrid,nn): each scored alone into NAME_<m>.h5\n"
            "(with its report and plots), then all on the events every one located:\n"
            "NAME.h5 (format comparison: /compare/alone, /compare/same_events, /compare/common),\n"
            "report.json, one CDF and the maps side by side, and one table.\n"
            "Prints the headline figures and the solver's latency per event.\n"
            "Memory: events are located, scored and written a block at a time; about 100\n"
            "bytes an event are kept for the summary's percentiles (evaluate.split holds the\n"
            "file's features: each group is fitted on the others).\n"
            "\n"
            "Config: the localize: section (see heimdall localize --help); evaluate:\n"
            "snr_bins_db [0, 10, 20, 30], plots true.\n"
            "\n"
            "Options:\n"
            "      --method NAME     tdoa, rss, hybrid, nn or knn, or several: tdoa,hybrid,nn\n"
            "                        (default: localize.method)\n"
            "  -m, --model FILE      model.h5 for --method nn, or of kind knn for --method knn\n"
            "                        (heimdall train --method knn; fitted elsewhere: evaluate.split none)\n"
            "      --calibration FILE  calib.h5 (heimdall calibrate) applied by receiver id; the whole\n"
            "                        file is scored (not with evaluate.split, which refits)\n"
            "      --truth-from FILE  score PREDICTIONS as they are, against FILE's /truth (a\n"
            "                        features file), by event index: localize's positions.h5 or\n"
            "                        JSON lines, another eval.h5, track's tracks.h5 (the smoothed\n"
            "                        states, scored as the fixes are); the same report\n");
    hd_cli_common_usage(out);
}

static void on_progress(void *ctx, int64_t done)
{
    hd_progress_update(ctx, done);
}

/* the headline, on stdout: what a person running evaluate reads */
void hd_evaluate_headline(const hd_cli *cli, const char *method, const hd_eval_report *rep, double prior_nu,
                          const char *report_file)
{
    const hd_metrics *all = &rep->all, *good = &rep->good;
    const int64_t E = rep->n, *counts = rep->counts;
    char st[320];
    hd_eval_status_summary(counts, st, sizeof st);
    char split[96] = "no split";
    if (rep->split != HD_SPLIT_NONE)
        snprintf(split, sizeof split, "split by %s, each group located by a fit on the others",
                 hd_eval_split_name(rep->split));
    printf("evaluate %s on %s (%s): %lld events: %s\n", method, cli->inputs[0], split, (long long)E, st);
    printf("  error: median %.0f m, p68 %.0f m, p95 %.0f m, mean %.0f m, rmse %.0f m, bias (%.0f, %.0f) m east/north\n",
           all->median_m, all->p68_m, all->p95_m, all->mean_m, all->rmse_m, all->bias_east_m, all->bias_north_m);
    char shape[160] = "Gaussian";
    if (prior_nu > 0 && rep->nu_max > 0)
        snprintf(shape, sizeof shape, "Student-t, %g + dof degrees of freedom: %g to %g, median %g", prior_nu,
                 rep->nu_min, rep->nu_max, rep->nu_median);
    else if (rep->nu_max > 0)
        snprintf(shape, sizeof shape, "Student-t, %g degrees of freedom", rep->nu_median);
    printf("  calibration (%s): %.1f %% inside 1-sigma (nominal 39.3 ± %.1f %%), %.1f %% inside 2-sigma (nominal 86.5 ± "
           "%.1f %%; ± one binomial s.e. over %lld events); mean NLL %.2f\n",
           shape, 100 * all->coverage_1sigma, 100 * rep->coverage_1sigma_se, 100 * all->coverage_2sigma,
           100 * rep->coverage_2sigma_se, (long long)all->located, all->mean_nll);
    printf("  ellipses drawn (GeoJSON, KML): %.1f %% inside the 68 %% one, %.1f %% inside the 95 %% one\n",
           100 * all->coverage_68, 100 * all->coverage_95);
    if (isfinite(all->median_crlb_m))
        printf("  bound: median CRLB %.0f m, median error/CRLB %.2f\n", all->median_crlb_m, all->median_efficiency);
    else
        printf("  bound: no CRLB (it is computed from the receivers a fit used; method %s names none)\n", method);
    char vs[96] = "";
    if (isfinite(good->median_crlb_m))
        snprintf(vs, sizeof vs, " against median CRLB %.0f m (x%.2f)", good->median_crlb_m,
                 good->median_m / good->median_crlb_m);
    printf("  >= 4 receivers timed by valid time differences, >= 10 dB: %lld located, median %.0f m%s, "
           "coverage %.1f %% / %.1f %%\n",
           (long long)good->located, good->median_m, vs, 100 * good->coverage_1sigma, 100 * good->coverage_2sigma);
    for (int g = 0; g < rep->n_grp; g++) {
        const hd_metrics *m = &rep->grp[g].m;
        printf("  %s: %lld events, %lld located, median %.0f m, p95 %.0f m, %.1f %% / %.1f %% inside 1/2-sigma\n",
               rep->grp[g].name, (long long)m->n, (long long)m->located, m->median_m, m->p95_m,
               100 * m->coverage_1sigma, 100 * m->coverage_2sigma);
    }
    printf("  latency: median %.0f us, p95 %.0f us, max %.0f us per event (%.0f events/s on one core)\n",
           rep->latency_median_us, rep->latency_p95_us, rep->latency_max_us,
           rep->latency_total_s > 0 ? E / rep->latency_total_s : 0.0);
    char bd[1200];
    if (hd_eval_breakdown_summary("receivers used", rep->rx, rep->n_rx, bd, sizeof bd) > 0)
        printf("  %s\n", bd);
    if (hd_eval_breakdown_summary("GDOP", rep->gdop, rep->n_gdop, bd, sizeof bd) > 0) /* 3-D solves */
        printf("  %s\n  timing outliers: %lld events located with a receiver rejected\n", bd,
               (long long)rep->n_rejected);
    printf("  wrote %s and %s\n", cli->output, report_file);
}

/* Locate and score every event: the classical solvers, the network and a
 * kNN model a block at a time, each block scored and its rows written
 * into eval.h5 (sr, begun) while its results exist; evaluate.split's
 * folds, which refit on the other groups, hold the file's features, score
 * each event as it is located and keep its solution's columns until every
 * group is done */
static int locate_and_score(hd_locate_input *in, const hd_cli *cli, const hd_config *cfg, hd_run *r,
                            hd_eval_report *sr, hd_progress *prog)
{
    if (cfg->evaluate.split != HD_SPLIT_NONE)
        return in->method == HD_LOC_NN ? hd_run_folds_nn(r, &in->rd, &cfg->localize, &cfg->evaluate, cli->model,
                                                         hd_eval_sink, sr, on_progress, prog)
                                       : hd_run_folds(r, &in->rd, &cfg->localize, &cfg->evaluate, in->method,
                                                      hd_eval_sink, sr, on_progress, prog);
    if (in->method == HD_LOC_KNN && !in->knn)
        return hd_error(HD_ECONFIG, "--method knn learns from events with truth: set evaluate.split (month, "
                                    "time_block), or -m model.h5 from heimdall train --method knn");
    if (in->knn)
        return hd_run_locate_knn_stream(r, &in->rd, &cfg->localize, in->knn, cli->model, hd_eval_sink, sr,
                                        on_progress, prog);
    if (in->rd.meta.sparse)
        return hd_run_locate_sparse_scored(r, &in->rd, &cfg->localize, in->method, in->cal.R ? &in->cal : NULL,
                                           hd_eval_sink, sr, on_progress, prog);
    return hd_run_locate_stream(r, &in->rd, &cfg->localize, in->method, in->model, hd_eval_sink, sr, on_progress,
                                prog);
}

/* one method: eval.h5, report.json, plots, the headline; the run (its
 * network and last block) and its scores are left in rr and ssr (the
 * caller releases them) */
int hd_evaluate_one(const hd_cli *cli, hd_config *cfg, hd_run *rr, hd_eval_report *ssr)
{
    hd_locate_input in;
    hd_run r;
    hd_h5_out out;
    int out_open = 0;
    hd_outfile rep = {0};
    hd_eval_report sr;
    memset(&r, 0, sizeof r);
    memset(&sr, 0, sizeof sr);
    *rr = r; /* the caller releases them whatever happens */
    *ssr = sr;
    int rc = hd_locate_input_open(&in, cli, cfg);
    if (rc < 0)
        return rc;
    if (!in.rd.meta.has_truth) {
        rc = hd_error(HD_EDATA, "%s has no /truth: nothing to score against (use heimdall localize)", cli->inputs[0]);
        goto fail;
    }
    char report_file[1100];
    hd_eval_report_path(cli->output, report_file, sizeof report_file);
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_outfile_open(&rep, report_file, cli->force)) < 0 ||
        (rc = hd_eval_begin(&sr, out.file, in.rd.meta.n_events)) < 0)
        goto fail;
    hd_progress prog;
    hd_progress_start(&prog, "evaluate", "events", in.rd.meta.n_events, cli->quiet);
    rc = locate_and_score(&in, cli, cfg, &r, &sr, &prog);
    hd_progress_finish(&prog);
    hd_runinfo_set_events(in.rd.meta.n_events);
    if (rc < 0)
        goto fail;
    char un[1024];
    hd_run_uncalibrated_summary(&r, in.rd.meta.stations, in.rd.meta.n_receivers,
                                cfg->localize.unknown_receivers == HD_UNKNOWN_RX_MASK, un, sizeof un);
    if (un[0])
        printf("%s\n", un);
    hd_run_clamped_summary(&r, un, sizeof un);
    if (un[0])
        printf("%s\n", un);
    if (hd_cli_interrupted()) {
        rc = hd_error(HD_EINTR, "interrupted; %s not written", cli->output);
        goto fail;
    }
    const char *method = hd_method_name(in.method);
    if ((rc = hd_eval_finish(&sr, &r, cfg->evaluate.snr_bins_db, cfg->evaluate.n_snr_bins)) < 0 ||
        (rc = hd_eval_write_h5(out.file, &sr, method)) < 0)
        goto fail;
    /* the model is an input too (a per-group pattern is not one file) */
    const int has_model = in.model || in.knn;
    const char *inputs[] = {cli->inputs[0], has_model ? cli->model : in.calibration, in.calibration};
    hd_h5_provenance prov = {.format = HD_FORMAT_EVALUATION, .version = HD_EVALUATION_VERSION,
                             .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                             .n_inputs = 1 + has_model + (in.calibration != NULL)};
    if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
        goto fail;
    hd_eval_report_info info = {.method = method, .input = cli->inputs[0], .split = cfg->evaluate.split,
                                .model_sigma_ns = cfg->localize.model_sigma_ns};
    hd_eval_predictive(in.method, &cfg->localize, in.model != NULL, in.model ? in.model->A.nu : 0, &info.prior_nu,
                       &info.tail_nu);
    if ((rc = hd_eval_write_json(rep.f, report_file, &sr, &info)) < 0)
        goto fail;
    out_open = 0; /* committed or aborted by hd_h5_commit */
    if ((rc = hd_h5_commit(&out)) < 0 || (rc = hd_outfile_commit(&rep)) < 0 ||
        (rc = hd_eval_write_plots(cli->output, &sr, in.rd.meta.stations, in.rd.meta.n_receivers, method,
                                  cfg->evaluate.plots)) < 0)
        goto fail;
    hd_evaluate_headline(cli, method, &sr, info.prior_nu, report_file);
fail:
    hd_eval_rows_close(&sr); /* before the file is aborted */
    if (out_open)
        hd_h5_abort(&out);
    hd_outfile_abort(&rep);
    *rr = r;
    *ssr = sr;
    hd_locate_input_release(&in);
    return rc;
}

/* one method, or several compared on the same events (evaluate_compare.c) */
static int run(const hd_cli *cli, hd_config *cfg)
{
    if (cli->truth_from)
        return cli->method || cli->model || cli->calibration
                   ? hd_error(HD_ECONFIG, "--truth-from scores a predictions file as it is: no --method, -m or "
                                          "--calibration with it")
                   : hd_evaluate_predictions(cli, cfg);
    if (cli->method && strchr(cli->method, ','))
        return hd_evaluate_compare(cli, cfg);
    hd_run r;
    hd_eval_report sr;
    int rc = hd_evaluate_one(cli, cfg, &r, &sr);
    hd_eval_report_release(&sr);
    hd_run_release(&r);
    return rc;
}

int hd_cmd_evaluate(int argc, char **argv)
{
    return hd_cli_stage("evaluate", argc, argv, "eval.h5", "one features or captures file", run);
}
