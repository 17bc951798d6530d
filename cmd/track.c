/* heimdall track: fixes over time (positions.h5, positions.jsonl, eval.h5)
 * → tracks filtered and smoothed, as GeoJSON, KML, JSON lines or tracks.h5,
 * scored against the truth when there is one. */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "eval/outputs.h"
#include "eval/report.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "track/io.h"
#include "track/plot.h"
#include "track/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hd_cmd_track_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall track [-c exp.yaml] [--set KEY=VALUE]... [--truth FEATURES.h5]\n"
            "                      -o OUT.geojson|OUT.kml|OUT.jsonl|OUT.h5 POSITIONS.h5|POSITIONS.jsonl|EVAL.h5\n"
            "\n"
            "Follow transmitters over time: the fixes of heimdall localize (positions.h5 or\n"
            "its JSON lines) or of heimdall evaluate (eval.h5) grouped into tracks (by\n"
            "transmitter id where the features file has /events/tx_id, then by frequency;\n"
            "a silence longer than track.max_gap_s starts a new track), each filtered\n"
            "(Kalman, forward) and smoothed (Rauch-Tung-Striebel, backward) in a local\n"
            "east-north frame. Every event of a track gets a smoothed state, also the\n"
            "events without a usable fix. A fix enters as the Gaussian of its covariance\n"
            "(a Student-t fix's covariance is already the t's); a fix whose innovation\n"
            "lies beyond track.gate_sigma is gated out as an outlier, its reason kept.\n"
            "What is written follows -o's extension, as for localize:\n"
            "  OUT.geojson  a LineString per track, a Point per smoothed state (time,\n"
            "               speed, heading, the fix's reason) and its 68 %% ellipse as a\n"
            "               Polygon; with OUT.kml (gx:Track per track: Google Earth's time\n"
            "               slider plays it; ellipses with TimeStamps) and OUT.jsonl beside it\n"
            "  OUT.kml, OUT.jsonl  that one alone\n"
            "  OUT.h5       tracks.h5 (format tracks): per state track, event_index,\n"
            "               time_ns, lat, lon, cov_enu_m2, velocity_enu_mps, speed_mps,\n"
            "               state, state_cov, nu, reason, innovation_d2; /tracks per track\n"
            "With the truth (an eval.h5, or the features file: --truth, or found through\n"
            "the input's provenance) it prints the median error of the fixes and of the\n"
            "smoothed tracks on the same events, and the 1-sigma/2-sigma coverage of both;\n"
            "track.calibrate (true) first calibrates the states' covariance against it: a\n"
            "Student-t of scale x cov and nu whose 1/2-sigma regions hold 39.3/86.5 %% of\n"
            "the errors, fitted per fold of the tracks (5) on the other folds.\n"
            "An eval.h5 carries no times: they come from its features file likewise.\n"
            "\n"
            "Config (track:): max_gap_s 60, model cv (constant velocity; ca: nearly\n"
            "constant acceleration), accel_sigma_mps2 0 (the process noise: white\n"
            "acceleration of density sigma² x 1 s, white jerk for ca; 0: learnt by\n"
            "maximum likelihood of the innovations, per track of >= %d usable fixes, pooled\n"
            "over the shorter ones), gate_sigma 4 (0: no gate), fix_error_tau_s 0 (> 0: the\n"
            "fixes' errors correlated over this time, a Gauss-Markov error in the state,\n"
            "of sd fix_error_sigma_m, 0: learnt over all tracks, with the white share of\n"
            "the fixes' covariance; POWDER: 40 s), update fixes (measurements: each event\n"
            "by its own time differences from the features file, an iterated extended\n"
            "Kalman update, also the events without a fix; a track starts at a fix), map\n"
            "false (true: OUT_map.png beside -o, the tracks against the truth, drawn by GMT).\n"
            "\n"
            "Options:\n"
            "      --truth FILE      the features file with /truth and /events (times, ids)\n",
            HD_TRACK_LEARN_MIN);
    hd_cli_common_usage(out);
}

static const char *truth_path;


static int run(const hd_cli *cli, hd_config *cfg)
{
    hd_track_input in;
    hd_track_result r;
    hd_track_meas *meas = NULL;
    hd_cli_outputs o;
    hd_h5_out h5;
    int h5_open = 0;
    memset(&r, 0, sizeof r);
    int rc = hd_cli_outputs_kind(&o, cli->output, "tracks.h5");
    if (rc < 0)
        return rc;
    rc = hd_track_input_read(&in, cli->inputs[0], truth_path);
    if (rc < 0)
        return rc;
    const char *model = cfg->track.model == HD_TRACK_CA ? "ca" : "cv";
    if (cfg->track.update == HD_TRACK_UPDATE_MEASUREMENTS) {
        int64_t nm, nr;
        const hd_localize_cfg *L = &cfg->localize;
        if ((rc = hd_track_meas_read(&in, HD_SPEED_OF_LIGHT / (1 + 1e-6 * L->refractivity_n), L->model_sigma_ns,
                                     L->tx_alt_m, L->rss_exponent, L->rss_sigma_db, &meas, &nm, &nr)) < 0)
            goto fail;
        if (nm == 0)
            hd_warn("track.update measurements: no event in %s has valid time differences or received powers: "
                    "the fixes alone", in.features);
        else
            hd_info("measurements: %lld events from %s (%lld by time differences, %lld by received powers)",
                    (long long)nm, in.features, (long long)(nm - nr), (long long)nr);
    }
    double t_run = hd_now();
    if ((rc = hd_track_run_meas(&r, in.fix, meas, in.n, &cfg->track)) < 0)
        goto fail;
    t_run = hd_now() - t_run;
    hd_track_calibration cal = {0};
    if (cfg->track.calibrate && in.truth_lat) {
        double *d2 = hd_malloc((size_t)(r.n > 0 ? r.n : 1) * sizeof *d2);
        if (!d2) {
            rc = HD_ENOMEM;
            goto fail;
        }
        hd_track_truth_d2(&in, &r, d2);
        rc = hd_track_calibrate_cv(&r, d2, 5, &cal);
        free(d2);
        if (rc < 0)
            goto fail;
    }
    hd_runinfo_set_events(in.n);
    if ((rc = hd_cli_outputs_open(&o, cli->force)) < 0)
        goto fail;
    if (o.kind == HD_OUT_H5) {
        if ((rc = hd_h5_create(&h5, cli->output, cli->force, MPI_COMM_NULL)) < 0)
            goto fail;
        h5_open = 1;
        const char *inputs[2] = {cli->inputs[0], in.features};
        hd_h5_provenance prov = {.format = HD_FORMAT_TRACKS, .version = HD_TRACKS_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = in.features[0] ? 2 : 1};
        if ((rc = hd_track_write_h5(h5.file, &r, model)) < 0 || (rc = hd_h5_write_provenance(&h5, &prov)) < 0)
            goto fail;
        h5_open = 0;
        if ((rc = hd_h5_commit(&h5)) < 0)
            goto fail;
    } else {
        if ((rc = hd_track_write_text(o.of[0].f, o.of[1].f, o.of[2].f, &r, model)) < 0) {
            hd_error_context(rc, "writing %s", cli->output);
            goto fail;
        }
        if ((rc = hd_cli_outputs_commit(&o)) < 0)
            goto fail;
    }
    char png[1100];
    hd_eval_beside(cli->output, "_map.png", png, sizeof png);
    if (cfg->track.map && (rc = hd_track_write_map(png, &in, &r, 1)) < 0)
        goto fail;
    /* what happened, and what was odd in the input */
    int64_t reasons[HD_TRACK_REASON_COUNT] = {0}, states = 0, ooo = 0, same = 0, learnt = 0;
    for (int k = 0; k < r.n_tracks; k++) {
        for (int q = 0; q < HD_TRACK_REASON_COUNT; q++)
            reasons[q] += r.trk[k].n_reason[q];
        ooo += r.trk[k].n_out_of_order;
        same += r.trk[k].n_same_time;
        learnt += r.trk[k].learnt == 1;
    }
    for (int64_t i = 0; i < r.n; i++)
        states += r.pt[i].has_state;
    if (ooo)
        hd_warn("%lld events came out of time order in %s: sorted by time", (long long)ooo, cli->inputs[0]);
    if (same)
        hd_warn("%lld events share their predecessor's time: fused (%lld exact duplicates counted once)",
                (long long)same, (long long)reasons[HD_TRACK_DUPLICATE]);
    if (reasons[HD_TRACK_BAD_COV])
        hd_warn("%lld fixes with a NaN, infinite or not positive definite position or covariance: not used",
                (long long)reasons[HD_TRACK_BAD_COV]);
    if (states < r.n)
        hd_warn("%lld events on tracks without any usable fix: no state", (long long)(r.n - states));
    hd_info("%lld events in %d tracks (%s, gate %.1f sigma): %lld fixes used, %lld by their measurements, %lld gated "
            "as outliers, %lld without a position; %lld smoothed states", (long long)r.n, r.n_tracks, model,
            cfg->track.gate_sigma, (long long)reasons[HD_TRACK_USED], (long long)reasons[HD_TRACK_MEASURED],
            (long long)reasons[HD_TRACK_GATED], (long long)reasons[HD_TRACK_NO_FIX], (long long)states);
    hd_info("filter and smoother: %.0f states/s on one core (with the learning, frames and conversions: %.0f)",
            (double)r.n / fmax(r.filter_s, 1e-9), (double)r.n / fmax(t_run, 1e-9));
    if (cfg->track.accel_sigma_mps2 > 0)
        hd_info("process noise %.3g m/s² (configured)", cfg->track.accel_sigma_mps2);
    else
        hd_info("process noise learnt on %lld tracks%s%.3g m/s²", (long long)learnt,
                isfinite(r.pooled_sigma) ? "; the others pooled: " : "", isfinite(r.pooled_sigma) ? r.pooled_sigma : 0.0);
    if (cfg->track.fix_error_tau_s > 0)
        hd_info("the fixes' correlated error: %.0f m over %.0f s, their white error %.2f x their covariance (%s)",
                r.trk && r.n_tracks ? r.trk[0].fix_error_sigma : 0.0, cfg->track.fix_error_tau_s, r.fix_white_scale,
                cfg->track.fix_error_sigma_m > 0 ? "configured" : "learnt over all tracks");
    if (cal.applied)
        hd_info("covariance calibrated against the truth (5 folds over the tracks, each from the others): x %.2f, "
                "Student-t nu %.3g; the model's own coverage %.1f / %.1f %%", cal.scale, cal.nu, 100 * cal.model_cov1,
                100 * cal.model_cov2);
    if (in.truth_lat)
        hd_track_score_log(&in, &r);
    hd_cli_outputs_wrote(&o, cli->output);
fail:
    hd_cli_outputs_abort(&o);
    if (h5_open)
        hd_h5_abort(&h5);
    hd_track_result_release(&r);
    hd_track_input_release(&in);
    free(meas);
    return rc;
}

int hd_cmd_track(int argc, char **argv)
{
    /* --truth FILE is this command's own: taken out before the common parser */
    char **args = malloc(((size_t)argc + 1) * sizeof *args);
    if (!args)
        return 1;
    int n = 0;
    truth_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                args[n++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--truth") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "heimdall track: error: option --truth needs a value\n");
                free(args);
                return 2;
            }
            truth_path = argv[++i];
        } else if (strncmp(argv[i], "--truth=", 8) == 0) {
            truth_path = argv[i] + 8;
        } else {
            args[n++] = argv[i];
        }
    }
    args[n] = NULL;
    int rc = hd_cli_stage("track", n, args, "tracks.geojson", "one positions or evaluation file", run);
    free(args);
    return rc;
}
