/* heimdall localize: features.h5 (or captures.h5) → positions with
 * uncertainty ellipses as GeoJSON, KML and JSON lines. */
#include "capture/captures.h"
#include "cli.h"
#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "eval/heatmaps.h"
#include "eval/outputs.h"
#include "eval/report.h"
#include "eval/run.h"
#include "eval/score.h"
#include "h5/h5.h"
#include "locate_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hd_cmd_localize_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall localize [-c exp.yaml] [--set KEY=VALUE]... [--method tdoa|rss|hybrid]\n"
            "                         [--calibration calib.h5]\n"
            "                         -o OUT.geojson|OUT.kml|OUT.jsonl|OUT.h5 INPUT.h5\n"
            "\n"
            "Locate the transmitter of every event of a features file (or of a captures\n"
            "file, featurized on the fly with the config's featurize: section). What is\n"
            "written follows -o's extension: OUT.geojson (or .json) writes the three text\n"
            "files below; OUT.kml or OUT.jsonl that one alone; OUT.h5 an HDF5 positions\n"
            "file (format positions: per event index, time_ns, frequency_hz, status, lat,\n"
            "lon, cov_enu_m2, nu, gdop, chi2, dof, n_receivers, n_timed, snr_db; the\n"
            "receivers); any other extension is refused. A sparse file (collect.layout\n"
            "sparse: each event only the receivers that heard it) is located event by event\n"
            "among its own receivers (tdoa, rss, hybrid; a coarse-to-fine search over their\n"
            "region), the receivers used named by id; --heatmap maps each on those receivers.\n"
            "  OUT.geojson  RFC 7946 FeatureCollection: the receivers (one without a fixed\n"
            "               position, on a bus, with a null geometry), a Point per event and\n"
            "               its 68 %% and 95 %% uncertainty ellipses as Polygons ([lon, lat],\n"
            "               vertices placed on the WGS84 ellipsoid); an event that could not\n"
            "               be located is a Feature with a null geometry and its status\n"
            "  OUT.kml      the same for Google Earth\n"
            "  OUT.jsonl    one JSON object per event for programs: position, covariance\n"
            "               (east/north, m²) and nu (the predictive: a Student-t with nu\n"
            "               degrees of freedom, 0 a Gaussian), 68 %% and 95 %% ellipses,\n"
            "               receivers used, GDOP, CRLB, chi²\n"
            "and a one-line summary per event on stderr (not with -q).\n"
            "\n"
            "Methods (--method, or localize.method):\n"
            "  tdoa    time differences: per-receiver arrival times from the pairs, a\n"
            "          likelihood grid over the region, then weighted Levenberg–Marquardt\n"
            "          (GSL); covariance from the weighted Jacobian\n"
            "  rss     received power, log-distance model with the source power unknown\n"
            "  hybrid  both in one weighted fit\n"
            "  nn      the trained network (heimdall train; its anchor fit uses the\n"
            "          localize settings it was trained with)\n"
            "Three receivers (two time differences, 2-D) whose hyperbolas cross twice:\n"
            "the position and its ellipse, flagged ambiguous with the other crossing\n"
            "(ambiguous, second_lat, second_lon in every output; counted on stderr).\n"
            "Events with too few usable receivers get the status \"not enough receivers\"\n"
            "and no position; those whose receivers' geometry fixes none (a 1-sigma\n"
            "ellipse wider than the search region) \"geometry fixes no position\".\n"
            "\n"
            "Config (localize:): method tdoa, tx_alt_m 0 (transmitter height assumed,\n"
            "ellipsoidal), grid_step_km 2, margin_km 30 (the search region is the\n"
            "receivers' box grown by this), search auto (grid: a dense grid every\n"
            "grid_step_km; coarse: a coarse map, its lowest minima refined down to\n"
            "grid_step_km, the region grown while the best point lies on its edge, up to\n"
            "max_region_km 4000; auto: coarse when the dense grid would pass 250000 points\n"
            "or the receivers span over 200 km), min_receivers 3, outlier_sigma 5 (pairs\n"
            "inconsistent beyond this are dropped), model_sigma_ns 290 (timing error per\n"
            "receiver the features do not carry, e.g. multipath, added in quadrature;\n"
            "calibrated on the default campaign's seeds 2-40),\n"
            "scale_by_chi2 true (the event's residuals scale its variances, under a prior\n"
            "worth prior_nu 4 residuals: the position's predictive is a Student-t with\n"
            "prior_nu + dof degrees of freedom, heavy-tailed when few residuals are spare;\n"
            "its 68 %% ellipse is tighter than a Gaussian's, its 95 %% one wider),\n"
            "tail_nu 0 (with scale_by_chi2 false only: a Student-t with this many degrees\n"
            "of freedom, > 2, for methods that use time differences; 0 Gaussian),\n"
            "rss_exponent 3.0, rss_fit_exponent false, rss_sigma_db 6, rss_offsets_db []\n"
            "(per receiver calibration, receivers' order), calibration '' (a calib.h5 of\n"
            "heimdall calibrate, applied by receiver id: RSS offsets, exponent and sigma,\n"
            "clock offsets out of the time differences), unknown_receivers use (receivers\n"
            "the calibration does not know: use, counted in the summary, or mask).\n"
            "propagation straight (line of sight at c: VHF/UHF, 3-D with refractivity_n)\n"
            "or hf (LF/HF over continental baselines: each receiver's path is the group\n"
            "path of its expected mode, the ground wave at ground_velocity_factor below c\n"
            "or the one- or two-hop F2 sky wave by mirror reflection; hf: mode auto (the\n"
            "strongest at that distance, as the simulator's) or ground, 1f2, 2f2 for all;\n"
            "f2_height_km 300 and its 1-sigma f2_height_sigma_km 15, whose path-length\n"
            "effect joins each receiver's timing variance; skip_distance_km 600,\n"
            "min_elevation_deg 3, ground_range_km 400, hop_loss_db 6: the mode choice)\n"
            "\n"
            "Options:\n"
            "      --method NAME     tdoa, rss, hybrid, nn or knn (default: localize.method)\n"
            "  -m, --model FILE      model.h5 for --method nn, or of kind knn for --method knn\n"
            "                        (heimdall train --method knn: fingerprints matched by receiver id)\n"
            "      --calibration FILE  calib.h5 (heimdall calibrate), over localize.calibration\n"
            "      --heatmap DIR     per located event (the first localize.heatmap_max_events,\n"
            "                        default 10; the others counted on stderr) a heat map like the\n"
            "                        KiwiSDR TDoA service's: the solver's chi² over a\n"
            "                        localize.heatmap_points² (200²) latitude/longitude grid as\n"
            "                        delta-chi² = chi² - chi²_min (divided by the scale_by_chi2\n"
            "                        variance factor, as the ellipses are), in DIR (made if missing):\n"
            "                          event_N.geojson  the 68.3 / 95.4 / 99.7 %% regions (delta-chi²\n"
            "                                 below 2.30 / 6.18 / 11.83) as MultiPolygons with level and\n"
            "                                 probability; the estimate, truth and receivers as Points\n"
            "                          event_N.png  the likelihood exp(-delta-chi²/2) on a GMT map\n"
            "                                 (coastlines, borders, receivers, estimate, truth), drawn by\n"
            "                                 event_N.sh with its data beside it (restyle and rerun);\n"
            "                                 without GMT a warning and no PNG\n"
            "                        localize.heatmap_region: auto (around the estimate: twice the\n"
            "                        99.7 %% ellipse's extent, and an ambiguous second crossing), search (the\n"
            "                        solver's final region) or box (localize.heatmap_box: [south,\n"
            "                        north, west, east]). tdoa, rss and hybrid only\n");
    hd_cli_common_usage(out);
}

static void on_progress(void *ctx, int64_t done)
{
    hd_progress_update(ctx, done);
}

/* What localize does with each block of located events as it comes: the
 * text outputs and the positions file written, the counts kept. */
typedef struct {
    const hd_cli *cli;
    hd_outputs *w;               /* GeoJSON / KML / JSON lines, or NULL */
    hid_t h5;                    /* positions file, or -1 */
    int64_t E, written, ambiguous, grown;
    int64_t counts[HD_LOC_STATUS_COUNT];
    double solve_s;
    double write_s;              /* the outputs (text or positions file) */
    const hd_station *st;
    int R;
    hd_heatmaps *hm;             /* --heatmap DIR, or NULL */
    int sparse;                  /* the maps made per event by heat_event (its own network) */
} sink_ctx;

/* A sparse file's heat map: the event on its own receivers' network */
static int heat_event(void *ctx, const hd_locate_net *net, const hd_station *st, int k, const hd_located *ev,
                      const hd_locate_obs *obs, double truth_lat, double truth_lon)
{
    return hd_heatmaps_add(ctx, net, st, k, ev, obs, truth_lat, truth_lon);
}

static int sink(void *ctx, const hd_run *r)
{
    sink_ctx *k = ctx;
    int rc = 0;
    if (hd_cli_interrupted())
        return hd_error(HD_EINTR, "interrupted; %s not written", k->cli->output);
    double t0 = hd_now();
    if (k->w && (rc = hd_outputs_add(k->w, r->ev, r->n)) < 0)
        return hd_error_context(rc, "writing %s", k->cli->output);
    if (k->h5 >= 0 && (rc = hd_eval_positions_rows(k->h5, r, k->E, k->written == 0)) < 0)
        return rc;
    k->write_s += hd_now() - t0;
    for (int64_t i = 0; i < r->n; i++) {
        k->counts[r->ev[i].res.status]++;
        k->ambiguous += r->ev[i].res.ambiguous;
        k->grown += r->ev[i].res.grown > 0;
        k->solve_s += r->latency_s[i];
        if (k->hm && !k->sparse &&
            (rc = hd_heatmaps_add(k->hm, &r->net, k->st, k->R, &r->ev[i], &r->obs[i], r->truth_lat[i],
                                  r->truth_lon[i])) < 0)
            return rc;
        if (!k->cli->quiet) {
            char line[512];
            hd_located_summary(k->st, k->R, &r->ev[i], line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
    }
    k->written += r->n > 0 ? r->n : 1; /* 1: the datasets exist */
    return 0;
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    hd_locate_input in;
    hd_run r;
    hd_cli_outputs o;
    hd_h5_out h5;
    hd_heatmaps hm;
    int h5_open = 0;
    sink_ctx k = {.cli = cli, .h5 = -1};
    memset(&r, 0, sizeof r);
    int rc = hd_cli_outputs_kind(&o, cli->output, "an HDF5 positions file");
    if (rc < 0)
        return rc;
    int method = cli->method ? hd_method_parse(cli->method) : cfg->localize.method;
    if (cli->heatmap && (method == HD_LOC_NN || method == HD_LOC_KNN))
        return hd_error(HD_ECONFIG, "--heatmap maps the classical solvers' cost (tdoa, rss, hybrid), not --method %s",
                        hd_method_name(method));
    if ((rc = hd_locate_input_open(&in, cli, cfg)) < 0)
        return rc;
    if ((rc = hd_cli_outputs_open(&o, cli->force)) < 0)
        goto fail;
    k.st = in.rd.meta.stations;
    k.R = in.rd.meta.n_receivers;
    k.E = in.rd.meta.n_events;
    if (o.kind == HD_OUT_H5) {
        if ((rc = hd_h5_create(&h5, cli->output, cli->force, MPI_COMM_NULL)) < 0)
            goto fail;
        h5_open = 1;
        k.h5 = h5.file;
    } else if ((rc = hd_outputs_begin(&k.w, o.of[0].f, o.of[1].f, o.of[2].f, k.st, k.R)) < 0) {
        hd_error_context(rc, "writing %s", cli->output);
        goto fail;
    }
    if (cli->heatmap) { /* after -o is known to be writable */
        if ((rc = hd_heatmaps_begin(&hm, cli->heatmap, &cfg->localize, cli->force, 1)) < 0)
            goto fail;
        k.hm = &hm;
        if (in.rd.meta.sparse) { /* each event mapped on its own receivers, while their network exists */
            k.sparse = 1;
            in.event_hook = heat_event;
            in.event_hook_ctx = &hm;
        }
    }
    hd_progress prog;
    hd_progress_start(&prog, "localize", "events", in.rd.meta.n_events, cli->quiet);
    double t0 = hd_now();
    rc = hd_locate_input_stream(&in, cli, cfg, &r, sink, &k, on_progress, &prog);
    hd_progress_finish(&prog);
    hd_runinfo_set_events(in.rd.meta.n_events);
    if (rc < 0)
        goto fail;
    double el = hd_now() - t0;
    if (hd_cli_interrupted()) {
        rc = hd_error(HD_EINTR, "interrupted; %s not written", cli->output);
        goto fail;
    }
    if (k.w) {
        double tw = hd_now();
        rc = hd_outputs_end(k.w);
        k.write_s += hd_now() - tw;
        k.w = NULL;
        if (rc < 0) {
            hd_error_context(rc, "writing %s", cli->output);
            goto fail;
        }
    }
    if ((rc = hd_cli_outputs_commit(&o)) < 0)
        goto fail;
    if (o.kind == HD_OUT_H5) {
        const char *inputs[] = {cli->inputs[0], in.calibration};
        hd_h5_provenance prov = {.format = HD_FORMAT_POSITIONS, .version = HD_POSITIONS_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = in.calibration ? 2 : 1};
        hd_run none = {0};
        if ((rc = hd_captures_write_receivers(h5.file, k.st, k.R)) < 0 ||
            (!k.written && (rc = hd_eval_positions_rows(h5.file, &none, 0, 1)) < 0) ||
            (rc = hd_h5_attr_str(h5.file, "method", hd_method_name(in.method))) < 0 ||
            (rc = hd_h5_write_provenance(&h5, &prov)) < 0)
            goto fail;
        h5_open = 0;
        if ((rc = hd_h5_commit(&h5)) < 0)
            goto fail;
    }
    char sts[320];
    hd_eval_status_summary(k.counts, sts, sizeof sts);
    hd_info("%lld events by %s: %s; %.0f events/s in the solver (%.1f s in all)", (long long)k.E,
            hd_method_name(in.method), sts, k.solve_s > 0 ? k.E / k.solve_s : 0.0, el);
    /* what the command costs beside the solver (issue 20: its own I/O must not cost twice the solver) */
    hd_info("time: solver %.3f s, outputs %.3f s (%.2f of the solver's), reading, the network's set-up and the rest "
            "%.3f s", k.solve_s, k.write_s, k.solve_s > 0 ? k.write_s / k.solve_s : 0.0,
            el - k.solve_s - k.write_s);
    if (in.rd.meta.sparse)
        hd_info("sparse layout: %lld events among their own receivers (%d in the network), %lld networks made (an "
                "event heard by the receivers of one of the 16 networks made last reuses it)",
                (long long)k.E, in.rd.meta.n_receivers, (long long)r.n_nets);
    if (k.ambiguous)
        hd_info("%lld events ambiguous: three receivers whose hyperbolas cross twice; the second crossing is in the "
                "outputs (ambiguous, second_lat, second_lon)", (long long)k.ambiguous);
    if (k.grown)
        hd_info("%lld events located after the search region grew (their best point lay on its edge)",
                (long long)k.grown);
    char un[1024];
    hd_run_uncalibrated_summary(&r, k.st, k.R, cfg->localize.unknown_receivers == HD_UNKNOWN_RX_MASK, un, sizeof un);
    if (un[0])
        hd_info("%s", un);
    hd_run_clamped_summary(&r, un, sizeof un);
    if (un[0])
        hd_info("%s", un);
    if (k.hm) {
        hd_info("heat maps: %lld written to %s (GeoJSON contours; %lld PNGs drawn), %.1f ms per map in the cost and "
                "contours; %lld events without a position not mapped", (long long)hm.written, hm.dir,
                (long long)hm.drawn, hm.written ? 1e3 * hm.seconds / hm.written : 0.0, (long long)hm.unlocated);
        if (hm.skipped)
            hd_warn("heat maps for the first %d located events only: %lld more skipped (localize.heatmap_max_events)",
                    hm.max_events, (long long)hm.skipped);
    }
    hd_cli_outputs_wrote(&o, cli->output);
fail:
    hd_outputs_free(k.w);
    hd_cli_outputs_abort(&o);
    if (h5_open)
        hd_h5_abort(&h5);
    hd_run_release(&r);
    hd_locate_input_release(&in);
    return rc;
}


int hd_cmd_localize(int argc, char **argv)
{
    return hd_cli_stage("localize", argc, argv, "out.geojson", "one features or captures file", run);
}
