/* heimdall evaluate --truth-from FEATURES.h5 PREDICTIONS: any predictions
 * (localize's positions.h5 or JSON lines, another eval.h5, track's
 * tracks.h5) scored against a features file's truth, with the same report
 * as a method located here. The predictions are read as tracking reads
 * fixes (track/io.h: by event index, truth joined from the features file). */
#include "core/alloc.h"
#include "core/error.h"
#include "core/outfile.h"
#include "eval/report.h"
#include "evaluate.h"
#include "h5/h5.h"
#include "track/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int hd_evaluate_predictions(const hd_cli *cli, hd_config *cfg)
{
    hd_track_input in = {0};
    hd_features_reader rd;
    hd_run r;
    hd_eval_report sr;
    hd_h5_out out;
    hd_outfile rep = {0};
    int rd_open = 0, out_open = 0;
    memset(&r, 0, sizeof r);
    memset(&sr, 0, sizeof sr);
    const char *pred = cli->inputs[0], *truth = cli->truth_from;
    int rc = hd_features_open(&rd, truth, MPI_COMM_NULL);
    if (rc < 0)
        goto fail;
    rd_open = 1;
    if (!rd.meta.has_truth) {
        rc = hd_error(HD_EDATA, "--truth-from %s has no /truth: nothing to score against", truth);
        goto fail;
    }
    if ((rc = hd_track_input_read(&in, pred, truth)) < 0)
        goto fail;
    if (!in.truth_lat) {
        rc = hd_error(HD_EDATA, "%s: no event of it found in %s's /truth", pred, truth);
        goto fail;
    }
    const int64_t n = in.n;
    char report_file[1100];
    hd_eval_report_path(cli->output, report_file, sizeof report_file);
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_outfile_open(&rep, report_file, cli->force)) < 0)
        goto fail;
    char method[80];
    snprintf(method, sizeof method, "%s%s%s", in.kind, in.method[0] ? " of " : "", in.method);
    /* the predictions as a run's blocks, each scored and written as it is made */
    const int64_t B = 256;
    if ((rc = hd_run_alloc(&r, (size_t)B, 0)) < 0 ||
        (rc = hd_locate_net_init(&r.net, rd.meta.stations, rd.meta.n_receivers, &cfg->localize)) < 0 ||
        (rc = hd_eval_begin(&sr, out.file, n)) < 0)
        goto fail;
    int64_t unknown = 0;
    for (int64_t first = 0; first < n; first += B) {
        r.first = first;
        r.n = n - first < B ? n - first : B;
        memset(r.ev, 0, (size_t)r.n * sizeof *r.ev);
        for (int64_t k = 0; k < r.n; k++) {
            const int64_t i = first + k;
            const hd_track_fix *x = &in.fix[i];
            hd_located *e = &r.ev[k];
            e->index = x->event_index;
            e->time_ns = x->time_ns;
            e->frequency_hz = x->frequency_hz;
            e->res.status = x->located ? (x->status == HD_LOC_OUTSIDE ? HD_LOC_OUTSIDE : HD_LOC_OK)
                                       : (x->status > HD_LOC_OK && x->status < HD_LOC_STATUS_COUNT ? x->status
                                                                                                   : HD_LOC_NO_FIX);
            e->res.lat = x->lat;
            e->res.lon = x->lon;
            if (x->located) /* the solver's frame, where the scores take the estimate */
                hd_locate_from_geo(&r.net, x->lat, x->lon, &e->res.e, &e->res.n);
            e->res.alt = cfg->localize.tx_alt_m;
            memcpy(e->res.cov, x->cov, sizeof e->res.cov);
            e->res.nu = x->nu;
            e->res.gdop = e->res.crlb[0] = e->res.crlb[1] = e->res.crlb[2] = NAN;
            e->res.alt_var = e->res.vdop = e->res.crlb_alt = NAN;
            r.latency_s[k] = 0;
            r.n_timed[k] = 0;
            r.snr_db[k] = NAN;
            r.truth_lat[k] = in.truth_lat[i];
            r.truth_lon[k] = in.truth_lon[i];
            unknown += !isfinite(in.truth_lat[i]);
            if (!x->located)
                snprintf(e->why, sizeof e->why, "no position in %s", pred);
        }
        if ((rc = hd_eval_add(&sr, &r)) < 0)
            goto fail;
    }
    if ((rc = hd_eval_finish(&sr, &r, cfg->evaluate.snr_bins_db, cfg->evaluate.n_snr_bins)) < 0 ||
        (rc = hd_eval_write_h5(out.file, &sr, method)) < 0 ||
        (rc = hd_h5_attr_str(out.file, "predictions", pred)) < 0)
        goto fail;
    const char *inputs[] = {pred, truth};
    hd_h5_provenance prov = {.format = HD_FORMAT_EVALUATION, .version = HD_EVALUATION_VERSION,
                             .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                             .n_inputs = 2};
    if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
        goto fail;
    hd_eval_report_info info = {.method = method, .input = pred, .split = HD_SPLIT_NONE,
                                .model_sigma_ns = cfg->localize.model_sigma_ns};
    if ((rc = hd_eval_write_json(rep.f, report_file, &sr, &info)) < 0)
        goto fail;
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0 || (rc = hd_outfile_commit(&rep)) < 0 ||
        (rc = hd_eval_write_plots(cli->output, &sr, rd.meta.stations, rd.meta.n_receivers, method,
                                  cfg->evaluate.plots)) < 0)
        goto fail;
    if (unknown)
        printf("evaluate: %lld of %lld predictions have no truth in %s (not scored)\n", (long long)unknown,
               (long long)n, truth);
    hd_evaluate_headline(cli, method, &sr, 0, report_file);
fail:
    hd_eval_rows_close(&sr); /* before the file is aborted */
    if (out_open)
        hd_h5_abort(&out);
    hd_outfile_abort(&rep);
    hd_eval_report_release(&sr);
    hd_run_release(&r);
    hd_track_input_release(&in);
    if (rd_open)
        hd_features_release(&rd);
    return rc;
}
