/* heimdall evaluate: locate every event of a features file and score the
 * positions and their uncertainty against /truth → eval.h5, report.json and
 * gnuplot plots. */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/util.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "eval/metrics.h"
#include "eval/outputs.h"
#include "eval/run.h"
#include "h5/h5.h"
#include "locate_common.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void hd_cmd_evaluate_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall evaluate [-c exp.yaml] [--set KEY=VALUE]... [--method tdoa|rss|hybrid]\n"
            "                         -o eval.h5 INPUT.h5\n"
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
            "    evaluate.snr_bins_db) and by the number of receivers used, and for the\n"
            "    events with at least 4 receivers timed by valid time differences (GPS-timed\n"
            "    IQ) at 10 dB or more.\n"
            "Writes eval.h5 (per event: estimate, covariance, error, Mahalanobis distance,\n"
            "bound, status; the summary as attributes; /breakdown tables), report.json\n"
            "beside it (NAME.report.json for another NAME.h5), and with evaluate.plots and\n"
            "gnuplot installed NAME_cdf.png (error CDF) and NAME_map.png (truths, estimates,\n"
            "68 %% ellipses, receivers) drawn by NAME.gp from NAME_*.dat, all beside it, so\n"
            "the plots can be restyled and redrawn with `gnuplot NAME.gp`.\n"
            "Prints the headline figures and the solver's latency per event.\n"
            "\n"
            "Config: the localize: section (see heimdall localize --help); evaluate:\n"
            "snr_bins_db [0, 10, 20, 30], plots true.\n"
            "\n"
            "Options:\n"
            "      --method NAME     tdoa, rss, hybrid or nn (default: localize.method)\n"
            "  -m, --model FILE      model.h5 for --method nn\n");
    hd_cli_common_usage(out);
}

/* <dir>/<stem><suffix> for output <dir>/<stem>.h5 */
static void beside(const char *out, const char *suffix, char *buf, size_t size)
{
    size_t n = strlen(out);
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash))
        n = (size_t)(dot - out);
    snprintf(buf, size, "%.*s%s", (int)n, out, suffix);
}

static void report_path(const char *out, char *buf, size_t size)
{
    char b[1024];
    snprintf(b, sizeof b, "%s", out);
    const char *base = basename(b);
    if (strcmp(base, "eval.h5") == 0) {
        char d[1024];
        snprintf(d, sizeof d, "%s", out);
        snprintf(buf, size, "%s/report.json", dirname(d));
    } else {
        beside(out, ".report.json", buf, size);
    }
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *metrics_json(const hd_metrics *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(m->n));
    json_object_set_new(o, "located", json_integer(m->located));
    json_object_set_new(o, "mean_m", num(m->mean_m));
    json_object_set_new(o, "median_m", num(m->median_m));
    json_object_set_new(o, "p68_m", num(m->p68_m));
    json_object_set_new(o, "p95_m", num(m->p95_m));
    json_object_set_new(o, "rmse_m", num(m->rmse_m));
    json_object_set_new(o, "bias_east_m", num(m->bias_east_m));
    json_object_set_new(o, "bias_north_m", num(m->bias_north_m));
    json_object_set_new(o, "coverage_1sigma", num(m->coverage_1sigma));
    json_object_set_new(o, "coverage_2sigma", num(m->coverage_2sigma));
    json_object_set_new(o, "coverage_68", num(m->coverage_68));
    json_object_set_new(o, "coverage_95", num(m->coverage_95));
    json_object_set_new(o, "coverage_d2_1", num(m->coverage_d2_1));
    json_object_set_new(o, "coverage_d2_4", num(m->coverage_d2_4));
    json_object_set_new(o, "mean_nll", num(m->mean_nll));
    json_object_set_new(o, "median_crlb_m", num(m->median_crlb_m));
    json_object_set_new(o, "median_efficiency", num(m->median_efficiency));
    return o;
}

typedef struct {
    const char *name;
    double lo, hi;
    uint8_t *sel;
    hd_metrics m;
} group;

static int write_group_table(hid_t file, const char *path, const group *g, int n, const char *what)
{
    hid_t grp = H5Gcreate2(file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return hd_error(HD_EIO, "cannot create /%s", path);
    double *v = hd_calloc((size_t)n + 1, sizeof *v);
    int rc = v ? 0 : HD_ENOMEM;
    const char **names = hd_calloc((size_t)n + 1, sizeof *names);
    if (!names)
        rc = HD_ENOMEM;
    hsize_t dims[1] = {(hsize_t)n};
    struct { const char *name; size_t off; const char *units; const char *desc; } cols[] = {
        {"median_m", offsetof(hd_metrics, median_m), "m", "median geodesic error"},
        {"p68_m", offsetof(hd_metrics, p68_m), "m", "68th percentile of the error"},
        {"p95_m", offsetof(hd_metrics, p95_m), "m", "95th percentile of the error"},
        {"coverage_1sigma", offsetof(hd_metrics, coverage_1sigma), "1",
         "fraction of truths inside the predictive's 39.3 % ellipse (a Gaussian's 1 sigma)"},
        {"coverage_2sigma", offsetof(hd_metrics, coverage_2sigma), "1",
         "fraction of truths inside the predictive's 86.5 % ellipse (a Gaussian's 2 sigma)"},
        {"coverage_68", offsetof(hd_metrics, coverage_68), "1", "fraction of truths inside the drawn 68 % ellipse"},
        {"coverage_95", offsetof(hd_metrics, coverage_95), "1", "fraction of truths inside the drawn 95 % ellipse"},
        {"median_crlb_m", offsetof(hd_metrics, median_crlb_m), "m", "median Cramér–Rao bound at the truth"},
    };
    for (int i = 0; rc == 0 && i < n; i++)
        names[i] = g[i].name;
    if (rc == 0)
        rc = hd_h5_write_strings(grp, "group", names, (hsize_t)n, what);
    for (int i = 0; rc == 0 && i < n; i++)
        v[i] = (double)g[i].m.n;
    if (rc == 0)
        rc = hd_h5_write(grp, "n", H5T_NATIVE_DOUBLE, 1, dims, v, "1", "events in the group");
    for (int i = 0; rc == 0 && i < n; i++)
        v[i] = (double)g[i].m.located;
    if (rc == 0)
        rc = hd_h5_write(grp, "located", H5T_NATIVE_DOUBLE, 1, dims, v, "1", "events of the group with a position");
    for (size_t c = 0; rc == 0 && c < HD_ARRAY_LEN(cols); c++) {
        for (int i = 0; i < n; i++)
            memcpy(&v[i], (const char *)&g[i].m + cols[c].off, sizeof(double));
        rc = hd_h5_write(grp, cols[c].name, H5T_NATIVE_DOUBLE, 1, dims, v, cols[c].units, cols[c].desc);
    }
    free(v);
    free(names);
    H5Gclose(grp);
    return rc;
}

/* The gnuplot script and its data; then gnuplot draws. */
static int write_plots(const hd_cli *cli, const hd_run *r, const hd_scored *sc, const hd_station *st, int R,
                       const char *method, int draw)
{
    char gp[1100], errs[1100], map[1100], rx[1100], cdf_png[1100], map_png[1100];
    beside(cli->output, ".gp", gp, sizeof gp);
    beside(cli->output, "_errors.dat", errs, sizeof errs);
    beside(cli->output, "_map.dat", map, sizeof map);
    beside(cli->output, "_receivers.dat", rx, sizeof rx);
    beside(cli->output, "_cdf.png", cdf_png, sizeof cdf_png);
    beside(cli->output, "_map.png", map_png, sizeof map_png);
    hd_outfile of[4];
    memset(of, 0, sizeof of);
    int rc;
    const char *paths[4] = {gp, errs, map, rx};
    for (int k = 0; k < 4; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    /* errors, sorted, with their empirical CDF */
    double *e = hd_malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *e);
    if (!e) {
        rc = HD_ENOMEM;
        goto fail;
    }
    size_t k = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (sc[i].located && isfinite(sc[i].err_m))
            e[k++] = sc[i].err_m;
    gsl_sort(e, 1, k);
    fprintf(of[1].f, "# error_m cdf (%s)\n", method);
    for (size_t i = 0; i < k; i++)
        fprintf(of[1].f, "%.3f %.6f\n", e[i], (i + 1.0) / k);
    free(e);
    /* map: block 0 truths and estimates (lon lat lon lat), block 1 ellipses */
    fprintf(of[2].f, "# truth_lon truth_lat est_lon est_lat\n");
    for (int64_t i = 0; i < r->n; i++)
        if (sc[i].located)
            fprintf(of[2].f, "%.7f %.7f %.7f %.7f\n", r->truth_lon[i], r->truth_lat[i], r->ev[i].res.lon,
                    r->ev[i].res.lat);
    fprintf(of[2].f, "\n\n# 68 %% ellipses: lon lat, one block per event\n");
    for (int64_t i = 0; i < r->n; i++) {
        if (!sc[i].located)
            continue;
        double ll[HD_ELLIPSE_VERTICES][2];
        hd_locate_ellipse_outline(r->ev[i].res.lat, r->ev[i].res.lon, r->ev[i].res.cov, r->ev[i].res.nu, 0.68, HD_ELLIPSE_VERTICES, ll);
        for (int v = 0; v <= HD_ELLIPSE_VERTICES; v++)
            fprintf(of[2].f, "%.7f %.7f\n", ll[v % HD_ELLIPSE_VERTICES][1], ll[v % HD_ELLIPSE_VERTICES][0]);
        fprintf(of[2].f, "\n");
    }
    fprintf(of[3].f, "# lon lat id\n");
    double lat_mid = 0;
    int n_fixed = 0;
    for (int i = 0; i < R; i++) {
        if (!isfinite(st[i].lat) || !isfinite(st[i].lon))
            continue; /* a receiver that moves (a bus) has no place on the map */
        fprintf(of[3].f, "%.7f %.7f %s\n", st[i].lon, st[i].lat, st[i].id);
        lat_mid += st[i].lat;
        n_fixed++;
    }
    lat_mid = n_fixed ? lat_mid / n_fixed : 0;
    char b1[1100], b2[1100], b3[1100], b4[1100], b5[1100];
    snprintf(b1, sizeof b1, "%s", errs);
    snprintf(b2, sizeof b2, "%s", map);
    snprintf(b3, sizeof b3, "%s", rx);
    snprintf(b4, sizeof b4, "%s", cdf_png);
    snprintf(b5, sizeof b5, "%s", map_png);
    fprintf(of[0].f,
            "# heimdall evaluate plots: restyle and redraw with  gnuplot %s\n"
            "# (run it from this folder: file names are relative to it)\n"
            "set terminal pngcairo size 900,650 noenhanced\n"
            "set output '%s'\n"
            "set title 'Localization error, method %s'\n"
            "set xlabel 'geodesic error (m)'\n"
            "set ylabel 'fraction of located events'\n"
            "set logscale x\n"
            "set grid\n"
            "set key bottom right\n"
            "plot '%s' using 1:2 with steps lw 2 title 'empirical CDF'\n"
            "unset logscale x\n"
            "set output '%s'\n"
            "set title 'Truths, estimates and 68 %% ellipses, method %s'\n"
            "set xlabel 'longitude (deg)'\n"
            "set ylabel 'latitude (deg)'\n"
            "set size ratio -1\n"
            "set xtics format '%%.2f'\n"
            "set ytics format '%%.2f'\n"
            "# degrees of longitude are shorter than degrees of latitude by cos(latitude)\n"
            "set size ratio %.4f\n"
            "set key outside right\n"
            "plot '%s' index 1 using 1:2 with lines lc rgb '#a0a0ff' title '68 %% ellipse', \\\n"
            "     '%s' index 0 using 1:2:($3-$1):($4-$2) with vectors nohead lc rgb '#c0c0c0' title 'error', \\\n"
            "     '%s' index 0 using 1:2 with points pt 7 ps 0.5 lc rgb '#208020' title 'truth', \\\n"
            "     '%s' index 0 using 3:4 with points pt 1 ps 0.7 lc rgb '#d02020' title 'estimate', \\\n"
            "     '%s' using 1:2 with points pt 5 ps 1.2 lc rgb 'black' title 'receiver', \\\n"
            "     '%s' using 1:2:3 with labels offset 0,1 font ',8' notitle\n",
            basename(gp), basename(b4), method, basename(b1), basename(b5), method, -1.0 / cos(lat_mid * M_PI / 180),
            basename(b2), basename(b2), basename(b2), basename(b2), basename(b3), basename(b3));
    for (int q = 0; q < 4; q++)
        if ((rc = hd_outfile_commit(&of[q])) < 0)
            goto fail;
    if (!draw)
        return 0;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        hd_warn("gnuplot not found: plots not drawn (the script is %s)", gp);
        return 0;
    }
    char dirb[1100], cmd[2400];
    snprintf(dirb, sizeof dirb, "%s", gp);
    char gpb[1100];
    snprintf(gpb, sizeof gpb, "%s", gp);
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s'", dirname(dirb), basename(gpb));
    int st2 = system(cmd);
    if (st2 != 0)
        hd_warn("gnuplot failed (status %d): plots not drawn; the script is %s", st2, gp);
    else
        hd_info("plots: %s and %s", cdf_png, map_png);
    return 0;
fail:
    for (int q = 0; q < 4; q++)
        hd_outfile_abort(&of[q]);
    return rc;
}

static void on_progress(void *ctx, int64_t done)
{
    hd_progress_update(ctx, done);
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    hd_locate_input in;
    hd_run r;
    hd_h5_out out;
    int out_open = 0;
    hd_outfile rep = {0};
    hd_scored *sc = NULL;
    double *crlb_model = NULL, *lat = NULL;
    uint8_t *sel = NULL;
    group *snr_g = NULL, rx_g[HD_MAX_STATIONS + 1], gd_g[8];
    static const double gdop_edges[] = {1, 1.5, 2, 3, 5};
    const int n_gd = (int)HD_ARRAY_LEN(gdop_edges) + 1;
    char gd_names[8][48];
    json_t *report = NULL;
    memset(&r, 0, sizeof r);
    memset(rx_g, 0, sizeof rx_g);
    memset(gd_g, 0, sizeof gd_g);
    int rc = hd_locate_input_open(&in, cli, cfg);
    if (rc < 0)
        return rc;
    if (!in.rd.meta.has_truth) {
        rc = hd_error(HD_EDATA, "%s has no /truth: nothing to score against (use heimdall localize)", cli->inputs[0]);
        goto fail;
    }
    char report_file[1100];
    report_path(cli->output, report_file, sizeof report_file);
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_outfile_open(&rep, report_file, cli->force)) < 0)
        goto fail;
    hd_progress prog;
    hd_progress_start(&prog, "evaluate", "events", in.rd.meta.n_events, cli->quiet);
    if (cfg->evaluate.split != HD_SPLIT_NONE && in.method == HD_LOC_NN)
        rc = hd_run_folds_nn(&r, &in.rd, &cfg->localize, &cfg->evaluate, cli->model, on_progress, &prog);
    else if (cfg->evaluate.split != HD_SPLIT_NONE)
        rc = hd_run_folds(&r, &in.rd, &cfg->localize, &cfg->evaluate, in.method, on_progress, &prog);
    else if (in.method == HD_LOC_KNN)
        rc = hd_error(HD_ECONFIG, "--method knn learns from events with truth: set evaluate.split (month, time_block)");
    else
        rc = in.model ? hd_run_locate_nn(&r, &in.rd, &cfg->localize, in.model, on_progress, &prog)
                      : hd_run_locate(&r, &in.rd, &cfg->localize, in.method, on_progress, &prog);
    hd_progress_finish(&prog);
    hd_runinfo_set_events(in.rd.meta.n_events);
    if (rc < 0)
        goto fail;
    if (hd_cli_interrupted()) {
        rc = hd_error(HD_EINTR, "interrupted; %s not written", cli->output);
        goto fail;
    }
    const int64_t E = r.n;
    const int R = in.rd.meta.n_receivers;
    size_t En = (size_t)(E > 0 ? E : 1);
    sc = hd_calloc(En, sizeof *sc);
    crlb_model = hd_calloc(En, sizeof *crlb_model);
    lat = hd_calloc(En * 3, sizeof *lat);
    sel = hd_calloc(En, 1);
    int nb = cfg->evaluate.n_snr_bins + 1;
    snr_g = hd_calloc((size_t)nb, sizeof *snr_g);
    if (!sc || !crlb_model || !lat || !sel || !snr_g) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < E; i++) {
        /* the physical bound: noise, bandwidth, clocks and geometry (the
         * model-error term is an allowance, not physics) */
        hd_eval_score(&r.net, &r.ev[i].res, r.truth_lat[i], r.truth_lon[i], 0, &sc[i]);
        if (!isfinite(sc[i].crlb_m) && isfinite(r.ev[i].res.crlb[0])) { /* receivers placed per event: at the estimate */
            sc[i].crlb_m = sqrt(r.ev[i].res.crlb[0] + r.ev[i].res.crlb[2]);
            sc[i].efficiency = sc[i].err_m / sc[i].crlb_m;
        }
        hd_scored s1;
        hd_eval_score(&r.net, &r.ev[i].res, r.truth_lat[i], r.truth_lon[i], 1, &s1);
        crlb_model[i] = s1.crlb_m;
    }
    /* the headline and its subsets */
    hd_metrics all, good;
    if ((rc = hd_metrics_compute(sc, NULL, E, &all)) < 0)
        goto fail;
    for (int64_t i = 0; i < E; i++)
        sel[i] = r.n_timed[i] >= 4 && r.snr_db[i] >= 10;
    if ((rc = hd_metrics_compute(sc, sel, E, &good)) < 0)
        goto fail;
    /* by SNR */
    char names[HD_MAX_STATIONS + 20][48];
    for (int b = 0; b < nb; b++) {
        group *g = &snr_g[b];
        g->lo = b ? cfg->evaluate.snr_bins_db[b - 1] : -INFINITY;
        g->hi = b < nb - 1 ? cfg->evaluate.snr_bins_db[b] : INFINITY;
        if (b == 0)
            snprintf(names[b], sizeof names[b], "snr < %g dB", g->hi);
        else if (b == nb - 1)
            snprintf(names[b], sizeof names[b], "snr >= %g dB", g->lo);
        else
            snprintf(names[b], sizeof names[b], "%g <= snr < %g dB", g->lo, g->hi);
        g->name = names[b];
        g->sel = hd_calloc(En, 1);
        if (!g->sel) {
            rc = HD_ENOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < E; i++)
            g->sel[i] = r.snr_db[i] >= g->lo && r.snr_db[i] < g->hi;
        if ((rc = hd_metrics_compute(sc, g->sel, E, &g->m)) < 0)
            goto fail;
    }
    /* by receivers used */
    int nr = 0;
    for (int k = 0; k <= R; k++) {
        int any = 0;
        for (int64_t i = 0; i < E && !any; i++)
            any = r.ev[i].res.n_receivers == k;
        if (!any)
            continue;
        group *g = &rx_g[nr];
        snprintf(names[nb + nr], sizeof names[nb + nr], "%d receivers", k);
        g->name = names[nb + nr];
        g->lo = g->hi = k;
        g->sel = hd_calloc(En, 1);
        if (!g->sel) {
            rc = HD_ENOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < E; i++)
            g->sel[i] = r.ev[i].res.n_receivers == k;
        if ((rc = hd_metrics_compute(sc, g->sel, E, &g->m)) < 0)
            goto fail;
        nr++;
    }
    /* by GDOP at the estimate (geometry: the error per unit range error);
     * reported for files with the transmitter's height observed (3-D
     * solves: import mlat), the others' reports unchanged */
    int any3d = 0;
    for (int64_t i = 0; i < E; i++)
        any3d |= r.ev[i].res.alt_obs_sigma_m > 0;
    for (int b = 0; b < n_gd; b++) {
        group *g = &gd_g[b];
        g->lo = b ? gdop_edges[b - 1] : 0;
        g->hi = b < n_gd - 1 ? gdop_edges[b] : INFINITY;
        if (b == n_gd - 1)
            snprintf(gd_names[b], sizeof gd_names[b], "gdop >= %g", g->lo);
        else
            snprintf(gd_names[b], sizeof gd_names[b], "%g <= gdop < %g", g->lo, g->hi);
        g->name = gd_names[b];
        if (!(g->sel = hd_calloc(En, 1))) {
            rc = HD_ENOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < E; i++)
            g->sel[i] = r.ev[i].res.gdop >= g->lo && r.ev[i].res.gdop < g->hi;
        if ((rc = hd_metrics_compute(sc, g->sel, E, &g->m)) < 0)
            goto fail;
    }
    /* latency */
    double *lt = hd_malloc(En * sizeof *lt);
    if (!lt) {
        rc = HD_ENOMEM;
        goto fail;
    }
    double total = 0;
    for (int64_t i = 0; i < E; i++) {
        lt[i] = r.latency_s[i] * 1e6;
        total += r.latency_s[i];
    }
    gsl_sort(lt, 1, (size_t)E);
    double lat_med = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.5) : NAN;
    double lat_p95 = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.95) : NAN;
    double lat_max = E ? lt[E - 1] : NAN;
    /* the predictive's degrees of freedom over the located events (each
     * event's own with localize.scale_by_chi2) */
    size_t n_nu = 0;
    for (int64_t i = 0; i < E; i++)
        if (isfinite(r.ev[i].res.e))
            lt[n_nu++] = r.ev[i].res.nu;
    gsl_sort(lt, 1, n_nu);
    double nu_med = n_nu ? gsl_stats_quantile_from_sorted_data(lt, 1, n_nu, 0.5) : NAN;
    double nu_min = n_nu ? lt[0] : NAN, nu_max = n_nu ? lt[n_nu - 1] : NAN;
    free(lt);
    int64_t counts[HD_LOC_STATUS_COUNT] = {0};
    for (int64_t i = 0; i < E; i++)
        counts[r.ev[i].res.status]++;

    /* eval.h5 */
    {
        hid_t f = out.file;
        hsize_t d1[1] = {(hsize_t)E}, d2[2] = {(hsize_t)E, 3};
        int64_t *idx = hd_malloc(En * sizeof *idx);
        int8_t *status = hd_malloc(En);
        double *v = hd_malloc(En * 3 * sizeof *v);
        if (!idx || !status || !v) {
            free(idx);
            free(status);
            free(v);
            rc = HD_ENOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < E; i++) {
            idx[i] = r.ev[i].index;
            status[i] = (int8_t)r.ev[i].res.status;
        }
        rc = hd_h5_write(f, "event_index", H5T_NATIVE_INT64, 1, d1, idx, "1", "event number (events/index)");
        if (rc == 0)
            rc = hd_h5_write(f, "status", H5T_NATIVE_INT8, 1, d1, status, "1",
                             "0 ok, 1 not enough receivers, 2 no convergence, 3 outside the search region, "
                             "4 the receivers' geometry fixes no position");
#define COL(expr, name, units, desc)                                                                                   \
    if (rc == 0) {                                                                                                     \
        for (int64_t i = 0; i < E; i++)                                                                                \
            v[i] = (expr);                                                                                             \
        rc = hd_h5_write(f, name, H5T_NATIVE_DOUBLE, 1, d1, v, units, desc);                                           \
    }
        COL(r.ev[i].res.lat, "lat", "degree", "estimated latitude (WGS84; NaN without a position)")
        COL(r.ev[i].res.lon, "lon", "degree", "estimated longitude")
        COL(r.truth_lat[i], "truth_lat", "degree", "transmitter latitude")
        COL(r.truth_lon[i], "truth_lon", "degree", "transmitter longitude")
        COL(sc[i].err_m, "error_m", "m", "geodesic distance from the truth to the estimate")
        COL(sc[i].de_m, "error_east_m", "m", "estimate minus truth, east")
        COL(sc[i].dn_m, "error_north_m", "m", "estimate minus truth, north")
        COL(sc[i].d2, "mahalanobis2", "1", "squared Mahalanobis distance of the truth under the covariance")
        COL(r.ev[i].res.nu, "nu", "1", "the predictive's degrees of freedom: a Student-t with the covariance cov_enu_m2 (0: a Gaussian)")
        COL(sc[i].content, "content", "1",
            "probability of the predictive's smallest ellipse holding the truth (uniform on [0, 1] when calibrated)")
        COL(sc[i].nll, "nll", "1", "negative log-likelihood of the truth under the predictive (metres)")
        COL(sc[i].crlb_m, "crlb_m", "m", "Cramér–Rao bound at the truth, sqrt of the trace (noise, bandwidth, clocks)")
        COL(crlb_model[i], "crlb_with_model_m", "m", "the same with localize.model_sigma_ns added to the timing variances")
        COL(r.ev[i].res.gdop, "gdop", "1", "horizontal dilution of precision at the estimate")
        COL(r.ev[i].res.chi2, "chi2", "1", "weighted residual sum of squares of the fit (NaN without a position)")
        COL(r.ev[i].res.status == HD_LOC_OK || r.ev[i].res.status == HD_LOC_OUTSIDE ? r.ev[i].res.dof : NAN, "dof", "1",
            "residuals minus fitted parameters (NaN without a position)")
        COL(r.snr_db[i], "snr_db", "dB", "median SNR of the receivers used")
        COL(r.ev[i].res.n_receivers, "n_receivers", "1", "receivers used")
        COL(r.n_timed[i], "n_timed", "1", "receivers with an arrival time from valid time differences (GPS-timed)")
        COL(r.latency_s[i] * 1e6, "latency_us", "us", "solver time for the event")
#undef COL
        if (rc == 0) {
            for (int64_t i = 0; i < E; i++)
                memcpy(&v[3 * i], r.ev[i].res.cov, sizeof r.ev[i].res.cov);
            rc = hd_h5_write(f, "cov_enu_m2", H5T_NATIVE_DOUBLE, 2, d2, v, "m2",
                             "position covariance: east², east·north, north² (local tangent frame)");
        }
        free(idx);
        free(status);
        free(v);
        if (rc < 0)
            goto fail;
        hid_t g = H5Gcreate2(f, "breakdown", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = hd_error(HD_EIO, "cannot create /breakdown");
            goto fail;
        }
        H5Gclose(g);
        if ((rc = write_group_table(f, "breakdown/snr", snr_g, nb, "SNR group (median over the receivers used)")) < 0 ||
            (rc = write_group_table(f, "breakdown/receivers", rx_g, nr, "receivers used")) < 0 ||
            (any3d && (rc = write_group_table(f, "breakdown/gdop", gd_g, n_gd, "GDOP at the estimate")) < 0))
            goto fail;
        struct { const char *name; double v; } attrs[] = {
            {"n", (double)all.n}, {"located", (double)all.located}, {"mean_m", all.mean_m},
            {"median_m", all.median_m}, {"p68_m", all.p68_m}, {"p95_m", all.p95_m}, {"rmse_m", all.rmse_m},
            {"bias_east_m", all.bias_east_m}, {"bias_north_m", all.bias_north_m},
            {"coverage_1sigma", all.coverage_1sigma}, {"coverage_2sigma", all.coverage_2sigma},
            {"coverage_68", all.coverage_68}, {"coverage_95", all.coverage_95},
            {"coverage_d2_1", all.coverage_d2_1}, {"coverage_d2_4", all.coverage_d2_4},
            {"mean_nll", all.mean_nll}, {"median_crlb_m", all.median_crlb_m},
            {"median_efficiency", all.median_efficiency}, {"latency_median_us", lat_med},
            {"latency_p95_us", lat_p95},
        };
        for (size_t k = 0; k < HD_ARRAY_LEN(attrs) && rc == 0; k++)
            rc = hd_h5_attr_double(f, attrs[k].name, attrs[k].v);
        if (rc == 0)
            rc = hd_h5_attr_str(f, "method", hd_method_name(in.method));
        /* the model is an input too (a per-group pattern is not one file) */
        const char *inputs[] = {cli->inputs[0], cli->model};
        hd_h5_provenance prov = {.format = HD_FORMAT_EVALUATION, .version = HD_EVALUATION_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = in.model ? 2 : 1};
        if (rc < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    /* report.json */
    report = metrics_json(&all);
    json_object_set_new(report, "method", json_string(hd_method_name(in.method)));
    json_object_set_new(report, "input", json_string(cli->inputs[0]));
    json_object_set_new(report, "split", json_string(cfg->evaluate.split == HD_SPLIT_MONTH        ? "month"
                                                     : cfg->evaluate.split == HD_SPLIT_TIME_BLOCK ? "time_block"
                                                                                                  : "none"));
    json_object_set_new(report, "events", json_integer(E));
    json_object_set_new(report, "not_enough_receivers", json_integer(counts[HD_LOC_TOO_FEW]));
    json_object_set_new(report, "no_convergence", json_integer(counts[HD_LOC_NO_CONVERGENCE]));
    json_object_set_new(report, "outside_region", json_integer(counts[HD_LOC_OUTSIDE]));
    json_object_set_new(report, "no_fix", json_integer(counts[HD_LOC_NO_FIX]));
    json_object_set_new(report, "nominal_coverage_1sigma", json_real(HD_COVERAGE_1SIGMA));
    json_object_set_new(report, "nominal_coverage_2sigma", json_real(HD_COVERAGE_2SIGMA));
    /* the sampling spread of a calibrated method's coverage over this many
     * events (binomial): how far from nominal chance alone goes */
    double se1 = all.located > 0 ? sqrt(HD_COVERAGE_1SIGMA * (1 - HD_COVERAGE_1SIGMA) / (double)all.located) : NAN;
    double se2 = all.located > 0 ? sqrt(HD_COVERAGE_2SIGMA * (1 - HD_COVERAGE_2SIGMA) / (double)all.located) : NAN;
    json_object_set_new(report, "coverage_1sigma_se", num(se1));
    json_object_set_new(report, "coverage_2sigma_se", num(se2));
    json_object_set_new(report, "model_sigma_ns", json_real(cfg->localize.model_sigma_ns));
    /* the predictive: per event a Student-t with prior_nu + dof degrees of
     * freedom (classical solvers scaled by their residuals), or one fixed nu
     * for every event (tail_nu; 0 Gaussian) */
    const int classical = in.method == HD_LOC_TDOA || in.method == HD_LOC_RSS || in.method == HD_LOC_HYBRID;
    const double prior_nu = classical && cfg->localize.scale_by_chi2 ? cfg->localize.prior_nu : 0;
    const double tail_nu = in.method == HD_LOC_NN && in.model                       ? in.model->A.nu
                           : in.method == HD_LOC_KNN || prior_nu > 0 || in.method == HD_LOC_RSS ? 0
                                                                                     : cfg->localize.tail_nu;
    json_object_set_new(report, "prior_nu", json_real(prior_nu));
    json_object_set_new(report, "tail_nu", json_real(tail_nu));
    json_object_set_new(report, "median_nu", num(nu_med));
    json_object_set_new(report, "latency_median_us", num(lat_med));
    json_object_set_new(report, "latency_p95_us", num(lat_p95));
    json_object_set_new(report, "latency_max_us", num(lat_max));
    json_object_set_new(report, "events_per_second", num(total > 0 ? E / total : NAN));
    json_t *gj = metrics_json(&good);
    json_object_set_new(gj, "efficiency_of_medians", num(good.median_m / good.median_crlb_m));
    json_object_set_new(report, "timed4_snr10", gj);
    json_t *bs = json_array(), *br = json_array();
    for (int b = 0; b < nb; b++) {
        json_t *o = metrics_json(&snr_g[b].m);
        json_object_set_new(o, "group", json_string(snr_g[b].name));
        json_array_append_new(bs, o);
    }
    for (int b = 0; b < nr; b++) {
        json_t *o = metrics_json(&rx_g[b].m);
        json_object_set_new(o, "group", json_string(rx_g[b].name));
        json_object_set_new(o, "receivers", json_integer((json_int_t)rx_g[b].lo));
        json_array_append_new(br, o);
    }
    json_object_set_new(report, "by_snr", bs);
    json_object_set_new(report, "by_receivers", br);
    json_t *bg = json_array();
    for (int b = 0; b < n_gd; b++) {
        json_t *o = metrics_json(&gd_g[b].m);
        json_object_set_new(o, "group", json_string(gd_g[b].name));
        json_object_set_new(o, "gdop_min", json_real(gd_g[b].lo));
        json_object_set_new(o, "gdop_max", num(gd_g[b].hi));
        json_array_append_new(bg, o);
    }
    if (any3d)
        json_object_set_new(report, "by_gdop", bg);
    else
        json_decref(bg);
    if (json_dumpf(report, rep.f, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0) {
        rc = hd_error(HD_EIO, "cannot write %s", report_file);
        goto fail;
    }
    fputc('\n', rep.f);
    if ((rc = hd_h5_commit(&out)) < 0) {
        out_open = 0;
        goto fail;
    }
    out_open = 0;
    if ((rc = hd_outfile_commit(&rep)) < 0)
        goto fail;
    if ((rc = write_plots(cli, &r, sc, in.rd.meta.stations, R, hd_method_name(in.method), cfg->evaluate.plots)) < 0)
        goto fail;

    /* the headline, on stdout: what a person running evaluate reads */
    printf("evaluate %s on %s: %lld events, %lld located, %lld not enough receivers, %lld no convergence, %lld outside",
           hd_method_name(in.method), cli->inputs[0], (long long)E, (long long)all.located,
           (long long)counts[HD_LOC_TOO_FEW], (long long)counts[HD_LOC_NO_CONVERGENCE], (long long)counts[HD_LOC_OUTSIDE]);
    if (counts[HD_LOC_NO_FIX])
        printf(", %lld where the receivers' geometry fixes no position", (long long)counts[HD_LOC_NO_FIX]);
    printf("\n");
    printf("  error: median %.0f m, p68 %.0f m, p95 %.0f m, mean %.0f m, rmse %.0f m, bias (%.0f, %.0f) m east/north\n",
           all.median_m, all.p68_m, all.p95_m, all.mean_m, all.rmse_m, all.bias_east_m, all.bias_north_m);
    char shape[160] = "Gaussian";
    if (prior_nu > 0 && nu_max > 0)
        snprintf(shape, sizeof shape, "Student-t, %g + dof degrees of freedom: %g to %g, median %g", prior_nu, nu_min,
                 nu_max, nu_med);
    else if (nu_max > 0)
        snprintf(shape, sizeof shape, "Student-t, %g degrees of freedom", nu_med);
    printf("  calibration (%s): %.1f %% inside 1-sigma (nominal 39.3 ± %.1f %%), %.1f %% inside 2-sigma (nominal 86.5 ± "
           "%.1f %%; ± one binomial s.e. over %lld events); mean NLL %.2f\n",
           shape, 100 * all.coverage_1sigma, 100 * se1, 100 * all.coverage_2sigma, 100 * se2, (long long)all.located, all.mean_nll);
    printf("  ellipses drawn (GeoJSON, KML): %.1f %% inside the 68 %% one, %.1f %% inside the 95 %% one\n",
           100 * all.coverage_68, 100 * all.coverage_95);
    printf("  bound: median CRLB %.0f m, median error/CRLB %.2f\n", all.median_crlb_m, all.median_efficiency);
    printf("  >= 4 receivers timed by valid time differences, >= 10 dB: %lld located, median %.0f m against median CRLB %.0f m (x%.2f), "
           "coverage %.1f %% / %.1f %%\n",
           (long long)good.located, good.median_m, good.median_crlb_m, good.median_m / good.median_crlb_m,
           100 * good.coverage_1sigma, 100 * good.coverage_2sigma);
    printf("  latency: median %.0f us, p95 %.0f us, max %.0f us per event (%.0f events/s on one core)\n", lat_med,
           lat_p95, lat_max, total > 0 ? E / total : 0.0);
    if (any3d) { /* 3-D: the geometry's share, and the receivers dropped as timing outliers */
        printf("  by GDOP (median / p95 m, events):");
        for (int b = 0; b < n_gd; b++)
            if (gd_g[b].m.located)
                printf(" %s: %.0f / %.0f (%lld);", gd_g[b].name, gd_g[b].m.median_m, gd_g[b].m.p95_m,
                       (long long)gd_g[b].m.located);
        int64_t nrej = 0;
        for (int64_t i = 0; i < E; i++)
            nrej += r.ev[i].res.rejected != 0;
        printf("\n  timing outliers: %lld events located without one receiver\n", (long long)nrej);
    }
    printf("  wrote %s and %s\n", cli->output, report_file);
fail:
    if (out_open)
        hd_h5_abort(&out);
    hd_outfile_abort(&rep);
    json_decref(report);
    if (snr_g)
        for (int b = 0; b < cfg->evaluate.n_snr_bins + 1; b++)
            free(snr_g[b].sel);
    for (int b = 0; b <= HD_MAX_STATIONS; b++)
        free(rx_g[b].sel);
    for (int b = 0; b < 8; b++)
        free(gd_g[b].sel);
    free(snr_g);
    free(sc);
    free(crlb_model);
    free(lat);
    free(sel);
    hd_run_release(&r);
    hd_locate_input_release(&in);
    return rc;
}

int hd_cmd_evaluate(int argc, char **argv)
{
    return hd_cli_stage("evaluate", argc, argv, "eval.h5", "one features or captures file", run);
}
