/* eval: scoring a run of known predictions (hd_eval_score_run) — error
 * percentiles by GSL's interpolation rule, RMSE and bias, coverage of the
 * 1σ/2σ and drawn 68/95 % ellipses (Gaussian and Student-t) against hand
 * counts, counts by status, the SNR and receivers breakdowns, an event with
 * a NaN truth, latency, nu; then report.json and the report's path, the
 * rows by split group (report.json's by_group, eval.h5's /breakdown/group),
 * and the predictive's nu per method; the GDOP breakdown of 3-D runs
 * (absent from 2-D ones). */
#include "config/config.h"
#include "eval/report.h"
#include "eval/score.h"
#include "h5/h5.h"
#include "locate/locate.h"
#include "core/error.h"
#include "core/util.h"
#include "tap.h"

#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R 5
#define E 12

/* One event by hand: status, the estimate's offset from the truth (m, east
 * and north), the squared Mahalanobis distance its covariance gives that
 * offset, the predictive's nu, the median SNR, receivers used. */
static const struct {
    int status;
    double de, dn, d2, nu;
    float snr;
    int nrx;
} ev_spec[E] = {
    {HD_LOC_OK, 100, 0, 9.00, 0, -5, 4},
    {HD_LOC_OK, -200, 0, 0.25, 0, 5, 4},
    {HD_LOC_OK, 0, 300, 2.00, 3, 5, 4}, /* a Student-t: content 1 - 3^-1.5 = 0.81, outside the drawn 68 % */
    {HD_LOC_OK, 0, -400, 4.84, 0, 15, 4},
    {HD_LOC_OK, 500, 0, 0.81, 0, 15, 5},
    {HD_LOC_OK, 0, 600, 3.24, 0, 25, 5},
    {HD_LOC_OK, -700, 0, 1.44, 0, 25, 5},
    {HD_LOC_OUTSIDE, 0, 800, 5.76, 0, 25, 5}, /* a position, if a far one: scored */
    {HD_LOC_TOO_FEW, 0, 0, 0, 0, NAN, 2},
    {HD_LOC_NO_CONVERGENCE, 0, 0, 0, 0, -3, 4},
    {HD_LOC_NO_FIX, 0, 0, 0, 0, 12, 3},
    {HD_LOC_OK, 50, 0, 1.00, 0, 15, 5}, /* its truth is NaN */
};
#define NAN_TRUTH 11

static int build_run(hd_run *r, const hd_localize_cfg *lc)
{
    hd_station st[R];
    memset(st, 0, sizeof st);
    const double pos[R][2] = {{45.10, 7.90}, {45.10, 8.10}, {44.90, 8.10}, {44.90, 7.90}, {45.00, 8.00}};
    for (int k = 0; k < R; k++) {
        snprintf(st[k].id, sizeof st[k].id, "rx%d", k);
        st[k].lat = pos[k][0];
        st[k].lon = pos[k][1];
        st[k].clock = HD_CLOCK_GPS;
    }
    memset(r, 0, sizeof *r);
    if (hd_locate_net_init(&r->net, st, R, lc) < 0)
        return -1;
    r->n = E;
    r->ev = calloc(E, sizeof *r->ev);
    r->latency_s = calloc(E, sizeof *r->latency_s);
    r->snr_db = calloc(E, sizeof *r->snr_db);
    r->truth_lat = calloc(E, sizeof *r->truth_lat);
    r->truth_lon = calloc(E, sizeof *r->truth_lon);
    r->n_timed = calloc(E, sizeof *r->n_timed);
    if (!r->ev || !r->latency_s || !r->snr_db || !r->truth_lat || !r->truth_lon || !r->n_timed)
        return -1;
    for (int i = 0; i < E; i++) {
        hd_locate_result *res = &r->ev[i].res;
        r->ev[i].index = 100 + i;
        res->status = ev_spec[i].status;
        res->n_receivers = ev_spec[i].nrx;
        r->n_timed[i] = ev_spec[i].nrx;
        r->snr_db[i] = ev_spec[i].snr;
        r->latency_s[i] = (i + 1) * 1e-6;
        /* truths spread over a few km about the frame's origin */
        double et = 300.0 * (i - 6), nt = -200.0 * (i - 5);
        hd_locate_to_geo(&r->net, et, nt, &r->truth_lat[i], &r->truth_lon[i]);
        if (i == NAN_TRUTH)
            r->truth_lat[i] = r->truth_lon[i] = NAN;
        res->e = res->n = res->lat = res->lon = NAN;
        res->cov[0] = res->cov[1] = res->cov[2] = NAN;
        res->crlb[0] = res->crlb[1] = res->crlb[2] = NAN;
        res->used = 0; /* no bound at the truth: the one at the estimate (res->crlb) stands in */
        if (res->status != HD_LOC_OK && res->status != HD_LOC_OUTSIDE)
            continue;
        res->e = et + ev_spec[i].de;
        res->n = nt + ev_spec[i].dn;
        hd_locate_to_geo(&r->net, res->e, res->n, &res->lat, &res->lon);
        /* a round covariance s² that puts the offset at d2 */
        double d = hypot(ev_spec[i].de, ev_spec[i].dn), s2 = d * d / ev_spec[i].d2;
        res->cov[0] = res->cov[2] = s2;
        res->cov[1] = 0;
        res->nu = ev_spec[i].nu;
        res->crlb[0] = res->crlb[2] = 100.0 * 100.0 / 2; /* sqrt of the trace: 100 m */
        res->crlb[1] = 0;
    }
    return 0;
}

/* event i as the report scored it (hd_eval_score_event: what eval.h5 holds) */
static hd_scored scored(const hd_run *r, int i, double *crlb_model_m)
{
    hd_scored s;
    double cm;
    hd_eval_score_event(r, i, &s, crlb_model_m ? crlb_model_m : &cm);
    return s;
}

static void check_report(const hd_run *r, const hd_eval_report *rep)
{
    const hd_metrics *a = &rep->all;
    is_int(rep->n, E, "n: every event");
    is_int(a->n, E, "all.n: every event, the NaN truth included");
    is_int(a->located, 8, "located: 7 ok + 1 outside with a truth (not the NaN truth one, not the 4 without a position)");
    is_int(rep->no_truth, 1, "one event without a truth");
    hd_scored nt = scored(r, NAN_TRUTH, NULL);
    ok(nt.located && isnan(nt.err_m) && isnan(nt.d2) && (rep->rows[NAN_TRUTH].flags & HD_ROW_LOCATED) &&
           isnan(rep->rows[NAN_TRUTH].err_m),
       "the NaN truth event has a position but no error and no distance");

    /* the errors 100, 200, …, 800 m; GSL's rule: position (k - 1) q, linear between */
    for (int i = 0; i < 8; i++)
        is_double(rep->rows[i].err_m, 100.0 * (i + 1), 0.01, "event error (geodesic) is the offset given");
    is_double(a->median_m, 450, 0.01, "median: (400 + 500) / 2");
    is_double(a->p68_m, 576, 0.01, "p68: position 7 × 0.68 = 4.76 → 500 + 0.76 × 100");
    is_double(a->p95_m, 765, 0.01, "p95: position 7 × 0.95 = 6.65 → 700 + 0.65 × 100");
    is_double(a->mean_m, 450, 0.01, "mean");
    is_double(a->rmse_m, sqrt(2040000.0 / 8), 0.01, "rmse: sqrt(sum of squares / 8)");
    is_double(a->bias_east_m, (100 - 200 + 500 - 700) / 8.0, 0.01, "bias east");
    is_double(a->bias_north_m, (300 - 400 + 600 + 800) / 8.0, 0.01, "bias north");

    /* d2: 9, .25, 2 (t, nu 3), 4.84, .81, 3.24, 1.44, 5.76 */
    is_double(scored(r, 1, NULL).d2, 0.25, 1e-6, "Mahalanobis distance² as built");
    is_double(scored(r, 2, NULL).content, 1 - pow(3, -1.5), 1e-6, "a Student-t's content at d2 2, nu 3");
    is_double(rep->rows[1].nll, log(2 * M_PI) + log(200.0 * 200.0 / 0.25) + 0.125, 1e-6, "a Gaussian's NLL");
    is_double(a->coverage_1sigma, 2 / 8.0, 1e-12, "inside 1 sigma: d2 .25, .81");
    is_double(a->coverage_2sigma, 5 / 8.0, 1e-12, "inside 2 sigma: .25, .81, 1.44, 2 (t: content .81 <= .865), 3.24");
    is_double(a->coverage_68, 3 / 8.0, 1e-12, "inside the drawn 68 %: .25, .81, 1.44 (not the t at 2)");
    is_double(a->coverage_95, 7 / 8.0, 1e-12, "inside the drawn 95 %: all but d2 9");
    is_double(a->coverage_d2_1, 2 / 8.0, 1e-12, "d2 <= 1");
    is_double(a->coverage_d2_4, 5 / 8.0, 1e-12, "d2 <= 4");
    is_double(rep->coverage_1sigma_se, sqrt(HD_COVERAGE_1SIGMA * (1 - HD_COVERAGE_1SIGMA) / 8), 1e-12,
              "binomial s.e. of the 1-sigma coverage over 8");
    is_double(a->median_crlb_m, 100, 1e-9, "median bound (at the estimate: no receivers used to place one at the truth)");
    is_double(a->median_efficiency, 4.5, 1e-4, "median efficiency: median of error / 100 m");
    double cm0 = 0;
    scored(r, 0, &cm0);
    ok(isnan(cm0), "no bound with the model error without receivers used");

    /* counts by status */
    is_int(rep->counts[HD_LOC_OK], 8, "ok: 7 + the NaN truth one");
    is_int(rep->counts[HD_LOC_OUTSIDE], 1, "outside");
    is_int(rep->counts[HD_LOC_TOO_FEW], 1, "not enough receivers");
    is_int(rep->counts[HD_LOC_NO_CONVERGENCE], 1, "no convergence");
    is_int(rep->counts[HD_LOC_NO_FIX], 1, "no fix");
    int64_t sum = 0;
    for (int s = 0; s < HD_LOC_STATUS_COUNT; s++)
        sum += rep->counts[s];
    is_int(sum, E, "the counts add up to n");

    /* >= 4 timed at >= 10 dB: events 3, 4, 5, 6, 7 and the NaN truth */
    is_int(rep->good.n, 6, "timed4_snr10: n");
    is_int(rep->good.located, 5, "timed4_snr10: located");
    is_double(rep->good.median_m, 600, 0.01, "timed4_snr10: median");

    /* by SNR, edges 0, 10, 20 (a NaN SNR is in no row) */
    is_int(rep->n_snr, 4, "four SNR rows");
    is_str(rep->snr[0].name, "snr < 0 dB", "first SNR row's name");
    is_str(rep->snr[1].name, "0 <= snr < 10 dB", "second SNR row's name");
    is_str(rep->snr[3].name, "snr >= 20 dB", "last SNR row's name");
    const int snr_n[4] = {2, 2, 4, 3}, snr_loc[4] = {1, 2, 2, 3};
    const double snr_med[4] = {100, 250, 450, 700};
    for (int b = 0; b < 4; b++) {
        is_int(rep->snr[b].m.n, snr_n[b], "SNR row: n");
        is_int(rep->snr[b].m.located, snr_loc[b], "SNR row: located");
        is_double(rep->snr[b].m.median_m, snr_med[b], 0.01, "SNR row: median");
    }
    is_double(rep->snr[3].m.p68_m, 736, 0.01, "SNR >= 20: p68 of 600, 700, 800");

    /* by receivers used: 2, 3, 4, 5 occur */
    is_int(rep->n_rx, 4, "four receivers rows");
    const int rx_k[4] = {2, 3, 4, 5}, rx_n[4] = {1, 1, 5, 5}, rx_loc[4] = {0, 0, 4, 4};
    for (int b = 0; b < 4; b++) {
        char want[48];
        snprintf(want, sizeof want, "%d receivers", rx_k[b]);
        is_str(rep->rx[b].name, want, "receivers row's name");
        is_double(rep->rx[b].lo, rx_k[b], 0, "receivers row's count");
        is_int(rep->rx[b].m.n, rx_n[b], "receivers row: n");
        is_int(rep->rx[b].m.located, rx_loc[b], "receivers row: located");
    }
    ok(isnan(rep->rx[0].m.median_m) && isnan(rep->rx[0].m.coverage_68), "a row without a position: NaN scores");
    is_double(rep->rx[2].m.median_m, 250, 0.01, "4 receivers: median of 100..400");
    is_double(rep->rx[3].m.median_m, 650, 0.01, "5 receivers: median of 500..800");

    /* latency 1..12 us; nu over the 9 events with a position: eight 0 and one 3 */
    is_double(rep->latency_median_us, 6.5, 1e-9, "latency median");
    is_double(rep->latency_p95_us, 11.45, 1e-9, "latency p95: 11 + 0.45");
    is_double(rep->latency_max_us, 12, 1e-9, "latency max");
    is_double(rep->latency_total_s, 78e-6, 1e-15, "latency total");
    is_double(rep->nu_median, 0, 0, "median nu");
    is_double(rep->nu_max, 3, 0, "max nu");
}

static void check_json(const hd_eval_report *rep)
{
    FILE *f = tmpfile();
    hd_eval_report_info info = {.method = "tdoa", .input = "in.h5", .split = HD_SPLIT_MONTH, .model_sigma_ns = 290,
                                .prior_nu = 4, .tail_nu = 0};
    int rc = f ? hd_eval_write_json(f, "report.json", rep, &info) : -1;
    ok(rc == 0, "report.json written");
    if (rc != 0)
        return;
    rewind(f);
    json_error_t err;
    json_t *j = json_loadf(f, 0, &err);
    fclose(f);
    ok(j != NULL, "report.json parses");
    if (!j)
        return;
    is_int(json_integer_value(json_object_get(j, "n")), E, "json n");
    is_int(json_integer_value(json_object_get(j, "located")), 8, "json located");
    is_double(json_real_value(json_object_get(j, "median_m")), 450, 0.01, "json median_m");
    is_int(json_integer_value(json_object_get(j, "not_enough_receivers")), 1, "json not_enough_receivers");
    is_int(json_integer_value(json_object_get(j, "no_fix")), 1, "json no_fix");
    is_str(json_string_value(json_object_get(j, "split")), "month", "json split");
    is_double(json_real_value(json_object_get(j, "events_per_second")), E / 78e-6, 1, "json events_per_second");
    json_t *br = json_object_get(j, "by_receivers");
    ok(json_array_size(br) == 4, "json by_receivers has 4 rows");
    ok(json_is_null(json_object_get(json_array_get(br, 0), "median_m")), "json: NaN is null");
    is_int(json_integer_value(json_object_get(json_array_get(br, 2), "receivers")), 4, "json by_receivers[2] is 4");
    is_double(json_real_value(json_object_get(json_object_get(j, "timed4_snr10"), "efficiency_of_medians")), 6, 1e-4,
              "json timed4_snr10 efficiency of medians: 600 / 100");
    ok(json_array_size(json_object_get(j, "by_group")) == 0, "json by_group: no rows without a split");
    json_decref(j);
}

/* the rows by split group: events 0-5 in month 4, 6-11 in month 7 */
static void check_groups(hd_run *r, const double *edges)
{
    r->split = HD_SPLIT_MONTH;
    r->group = malloc(E);
    for (int i = 0; i < E; i++)
        r->group[i] = i < 6 ? 4 : 7;
    hd_eval_report rep;
    int rc = hd_eval_score_run(&rep, H5I_INVALID_HID, r, edges, 3);
    ok(rc == 0 && rep.n_grp == 2, "scored by group: two rows");
    if (rc != 0 || rep.n_grp != 2) {
        hd_eval_report_release(&rep);
        return;
    }
    is_str(rep.grp[0].name, "month 4", "row 0 names the split and the group");
    is_str(rep.grp[1].name, "month 7", "row 1");
    is_int(rep.grp[0].m.n, 6, "month 4: 6 events");
    is_int(rep.grp[0].m.located, 6, "month 4: 6 located");
    is_double(rep.grp[0].m.median_m, 350, 0.01, "month 4: median of 100..600 m");
    is_double(rep.grp[0].m.coverage_1sigma, 2.0 / 6, 1e-9, "month 4: 2 of 6 inside 1 sigma (d2 0.25, 0.81)");
    is_int(rep.grp[1].m.located, 2, "month 7: the ok and the outside one located (not the NaN truth)");
    is_double(rep.grp[1].m.median_m, 750, 0.01, "month 7: median of 700 and 800 m");
    is_int(rep.split, HD_SPLIT_MONTH, "the report knows its split");
    FILE *f = tmpfile();
    hd_eval_report_info info = {.method = "rss", .input = "in.h5", .split = HD_SPLIT_MONTH};
    rc = f ? hd_eval_write_json(f, "report.json", &rep, &info) : -1;
    json_t *j = NULL;
    if (rc == 0) {
        rewind(f);
        json_error_t err;
        j = json_loadf(f, 0, &err);
    }
    if (f)
        fclose(f);
    json_t *bg = j ? json_object_get(j, "by_group") : NULL;
    ok(json_array_size(bg) == 2, "json by_group: a row per group");
    json_t *g1 = json_array_get(bg, 1);
    is_str(json_string_value(json_object_get(g1, "group")), "month 7", "json by_group[1] group");
    is_str(json_string_value(json_object_get(g1, "split")), "month", "json by_group[1] split");
    is_int(json_integer_value(json_object_get(g1, "value")), 7, "json by_group[1] value");
    is_int(json_integer_value(json_object_get(g1, "n")), 6, "json by_group[1] n");
    is_double(json_real_value(json_object_get(g1, "median_m")), 750, 0.01, "json by_group[1] median_m");
    ok(json_object_get(g1, "p95_m") && json_object_get(g1, "coverage_1sigma") && json_object_get(g1, "coverage_2sigma"),
       "json by_group rows have p95 and 1/2-sigma coverage");
    json_decref(j);
    char dir[] = "/tmp/test_eval_g.XXXXXX", path[300];
    if (mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/eval.h5", dir);
        hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        rc = h < 0 ? -1 : hd_eval_write_h5(h, &rep, "rss");
        int rank = 0;
        hsize_t dims[8] = {0};
        double *v = NULL;
        if (rc == 0)
            rc = hd_h5_read(h, "breakdown/group/median_m", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v);
        ok(rc == 0 && dims[0] == 2 && fabs(v[0] - 350) < 0.01 && fabs(v[1] - 750) < 0.01, "eval.h5 /breakdown/group/median_m");
        free(v);
        v = NULL;
        rc = h < 0 ? -1 : hd_h5_read(h, "breakdown/group/value", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v);
        ok(rc == 0 && dims[0] == 2 && v[0] == 4 && v[1] == 7, "eval.h5 /breakdown/group/value");
        free(v);
        char *split = NULL;
        if (h >= 0)
            hd_h5_read_attr_str(h, "split", &split);
        is_str(split ? split : "", "month", "eval.h5 split attribute");
        free(split);
        if (h >= 0)
            H5Fclose(h);
        unlink(path);
        rmdir(dir);
    }
    hd_eval_report_release(&rep);
}

/* eval.h5's datasets, tables and attributes, and the plots' data, into a
 * temporary folder (no gnuplot run) */
static void check_files(const hd_run *r, const double *edges)
{
    char dir[] = "/tmp/test_eval.XXXXXX", path[300];
    if (!mkdtemp(dir)) {
        skip(11, "no temporary folder");
        return;
    }
    snprintf(path, sizeof path, "%s/eval.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hd_eval_report rep0;
    memset(&rep0, 0, sizeof rep0);
    const hd_eval_report *rep = &rep0;
    /* the per-event rows written as the events are scored, then the summary */
    int rc = f < 0 ? -1 : hd_eval_score_run(&rep0, f, r, edges, 3);
    if (rc == 0)
        rc = hd_eval_write_h5(f, rep, "tdoa");
    ok(rc == 0, "eval.h5 written");
    double med = NAN, n = NAN;
    hd_h5_read_attr_double(f, "median_m", &med);
    hd_h5_read_attr_double(f, "n", &n);
    is_double(med, 450, 0.01, "eval.h5 median_m attribute");
    is_double(n, E, 0, "eval.h5 n attribute");
    char *method = NULL;
    hd_h5_read_attr_str(f, "method", &method);
    is_str(method, "tdoa", "eval.h5 method attribute");
    free(method);
    int rank = 0;
    hsize_t dims[8] = {0};
    double *v = NULL;
    rc = hd_h5_read(f, "error_m", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v);
    ok(rc == 0 && rank == 1 && dims[0] == E && fabs(v[7] - 800) < 0.01 && isnan(v[8]) && isnan(v[NAN_TRUTH]),
       "eval.h5 /error_m per event (NaN without a position or a truth)");
    free(v);
    v = NULL;
    rc = hd_h5_read(f, "breakdown/receivers/n", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v);
    ok(rc == 0 && dims[0] == 4 && v[0] == 1 && v[1] == 1 && v[2] == 5 && v[3] == 5, "eval.h5 /breakdown/receivers/n");
    free(v);
    char **names = NULL;
    hsize_t nn = 0;
    rc = hd_h5_read_strings(f, "breakdown/snr/group", &names, &nn);
    ok(rc == 0 && nn == 4 && strcmp(names[2], "10 <= snr < 20 dB") == 0, "eval.h5 /breakdown/snr/group");
    if (rc == 0)
        hd_h5_free_strings(names, nn);
    if (f >= 0)
        H5Fclose(f);

    hd_station st[R];
    memset(st, 0, sizeof st);
    for (int k = 0; k < R; k++) {
        snprintf(st[k].id, sizeof st[k].id, "rx%d", k);
        st[k].lat = k == 0 ? NAN : 45; /* a bus: not on the map */
        st[k].lon = k == 0 ? NAN : 8;
    }
    rc = hd_eval_write_plots(path, rep, st, R, "tdoa", 0);
    ok(rc == 0, "plots' script and data written");
    const char *names_dat[] = {"eval.gp", "eval_errors.dat", "eval_map.sh", "eval_map_receivers.dat",
                               "eval_map_ellipses.dat", "eval_map_errors.dat", "eval_map_truths.dat",
                               "eval_map_estimates.dat"};
    int lines[8] = {0};
    char *script = NULL;
    for (int k = 0; k < 8; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names_dat[k]);
        FILE *in = fopen(path, "r");
        for (int c; in && (c = fgetc(in)) != EOF;)
            lines[k] += c == '\n';
        if (in)
            fclose(in);
        if (k == 2)
            hd_read_file(path, &script, NULL);
        unlink(path);
    }
    is_int(lines[1], 1 + 8, "errors: a header and the 8 scored events (not the NaN truth)");
    is_int(lines[3], R - 1, "map: every receiver with a fixed position labelled, the moving one not");
    is_int(lines[4], 9 * (1 + HD_ELLIPSE_VERTICES + 1), "map: the 9 located events' 68 % ellipses (the one without a truth too), closed");
    is_int(lines[5], 8 * 3, "map: an error segment per located event with a truth");
    ok(lines[0] > 10 && lines[2] > 15, "the gnuplot and GMT scripts");
    like(script ? script : "", "12 events, 9 located", "the map's corner counts the events");
    like(script ? script : "", "no position: 1 too few receivers, 1 no convergence, 1 geometry fixes none",
         "and lists those without a position");
    free(script);
    hd_eval_report_release(&rep0);
    snprintf(path, sizeof path, "%s/eval.h5", dir);
    unlink(path);
    rmdir(dir);
}

/* The same run solved in 3-D (a height observed): the GDOP breakdown in the
 * report, report.json and eval.h5, and in one line; a 2-D run has none. */
static void check_gdop(hd_run *r, const double *edges)
{
    hd_eval_report rep;
    int rc = hd_eval_score_run(&rep, H5I_INVALID_HID, r, edges, 3);
    ok(rc == 0 && rep.n_gdop == 0 && rep.n_rejected == 0, "2-D: no GDOP breakdown");
    char line[600];
    is_int(hd_eval_breakdown_summary("GDOP", rep.gdop, rep.n_gdop, line, sizeof line), 0, "2-D: no GDOP line");
    FILE *jf = tmpfile();
    hd_eval_report_info info = {.method = "tdoa", .input = "in.h5"};
    json_t *j = NULL;
    if (jf && hd_eval_write_json(jf, "r.json", &rep, &info) == 0) {
        rewind(jf);
        j = json_loadf(jf, 0, NULL);
    }
    ok(j && !json_object_get(j, "by_gdop") && !json_object_get(j, "located_with_rejected_receiver"),
       "2-D: report.json unchanged (no by_gdop)");
    json_decref(j);
    if (jf)
        fclose(jf);
    hd_eval_report_release(&rep);

    /* errors 100..800 m for events 0..7; 11 located without a truth; 8..10 no position */
    const double gdop[E] = {0.5, 1.2, 1.2, 1.7, 2.5, 4, 6, 1.4, NAN, NAN, NAN, 1.3};
    for (int i = 0; i < E; i++) {
        r->ev[i].res.gdop = gdop[i];
        r->ev[i].res.alt_obs_sigma_m = 120;
        r->ev[i].res.rejected = 0;
    }
    r->ev[4].res.rejected = 1u << 2;  /* located without receiver 2 */
    r->ev[9].res.rejected = 1u << 1;  /* no position: not counted */
    rc = hd_eval_score_run(&rep, H5I_INVALID_HID, r, edges, 3);
    ok(rc == 0, "3-D run scored");
    is_int(rep.n_gdop, 6, "3-D: six GDOP rows");
    const char *names[6] = {"0 <= gdop < 1", "1 <= gdop < 1.5", "1.5 <= gdop < 2", "2 <= gdop < 3", "3 <= gdop < 5",
                            "gdop >= 5"};
    const int n_want[6] = {1, 4, 1, 1, 1, 1}, loc_want[6] = {1, 3, 1, 1, 1, 1};
    const double med_want[6] = {100, 300, 400, 500, 600, 700};
    for (int b = 0; b < 6 && b < rep.n_gdop; b++) {
        is_str(rep.gdop[b].name, names[b], "GDOP row's name");
        is_int(rep.gdop[b].m.n, n_want[b], "GDOP row: n");
        is_int(rep.gdop[b].m.located, loc_want[b], "GDOP row: located (a NaN truth not)");
        is_double(rep.gdop[b].m.median_m, med_want[b], 0.01, "GDOP row: median");
    }
    ok(rep.n_gdop == 6 && rep.gdop[0].lo == 0 && rep.gdop[1].lo == 1 && rep.gdop[1].hi == 1.5 &&
           isinf(rep.gdop[5].hi),
       "GDOP rows' edges");
    is_int(rep.n_rejected, 1, "located with a receiver rejected: 1 (one without a position not counted)");
    hd_eval_breakdown_summary("GDOP", rep.gdop, rep.n_gdop, line, sizeof line);
    is_str(line,
           "by GDOP (median / p95 m, events located): 0 <= gdop < 1: 100 / 100 (1); 1 <= gdop < 1.5: 300 / 750 (3); "
           "1.5 <= gdop < 2: 400 / 400 (1); 2 <= gdop < 3: 500 / 500 (1); 3 <= gdop < 5: 600 / 600 (1); "
           "gdop >= 5: 700 / 700 (1)",
           "the GDOP line");
    hd_eval_breakdown_summary("receivers used", rep.rx, rep.n_rx, line, sizeof line);
    is_str(line, "by receivers used (median / p95 m, events located): 4 receivers: 250 / 385 (4); 5 receivers: 650 / 785 (4)",
           "the receivers line (rows without a position left out)");
    char small[40];
    int len = hd_eval_breakdown_summary("GDOP", rep.gdop, rep.n_gdop, small, sizeof small);
    ok(len < (int)sizeof small && strlen(small) == (size_t)len, "a short buffer: truncated, terminated");

    jf = tmpfile();
    j = NULL;
    if (jf && hd_eval_write_json(jf, "r.json", &rep, &info) == 0) {
        rewind(jf);
        j = json_loadf(jf, 0, NULL);
    }
    json_t *bg = j ? json_object_get(j, "by_gdop") : NULL;
    ok(json_array_size(bg) == 6, "report.json by_gdop: 6 rows");
    is_int(json_integer_value(json_object_get(json_array_get(bg, 1), "n")), 4, "by_gdop[1].n");
    is_double(json_real_value(json_object_get(json_array_get(bg, 1), "gdop_max")), 1.5, 0, "by_gdop[1].gdop_max");
    ok(json_is_null(json_object_get(json_array_get(bg, 5), "gdop_max")), "by_gdop[5].gdop_max: null (infinite)");
    is_int(json_integer_value(json_object_get(j, "located_with_rejected_receiver")), 1,
           "report.json located_with_rejected_receiver");
    json_decref(j);
    if (jf)
        fclose(jf);

    char dir[] = "/tmp/test_eval_gdop.XXXXXX", path[300];
    if (mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/eval.h5", dir);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        rc = f < 0 ? -1 : hd_eval_write_h5(f, &rep, "tdoa");
        ok(rc == 0, "3-D eval.h5 written");
        int rank = 0;
        hsize_t dims[8] = {0};
        double *v = NULL;
        rc = hd_h5_read(f, "breakdown/gdop/median_m", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v);
        ok(rc == 0 && dims[0] == 6 && fabs(v[1] - 300) < 0.01 && fabs(v[5] - 700) < 0.01,
           "eval.h5 /breakdown/gdop/median_m");
        free(v);
        double nrej = NAN;
        hd_h5_read_attr_double(f, "located_with_rejected_receiver", &nrej);
        is_double(nrej, 1, 0, "eval.h5 located_with_rejected_receiver attribute");
        if (f >= 0)
            H5Fclose(f);
        unlink(path);
        rmdir(dir);
    } else {
        skip(3, "no temporary folder");
    }
    hd_eval_report_release(&rep);
}

/* the network's prediction bounded by the search region */
static void check_bound(const hd_localize_cfg *lc)
{
    hd_run r;
    if (build_run(&r, lc) != 0) {
        skip(9, "no run");
        return;
    }
    const hd_locate_net *net = &r.net;
    hd_locate_result *far = &r.ev[0].res, *in = &r.ev[1].res;
    /* 74 km east of the region's east edge, at its middle northing */
    const double nm = 0.5 * (net->n_min + net->n_max), w = net->e_max - net->e_min, h = net->n_max - net->n_min;
    far->status = HD_LOC_OK;
    hd_locate_to_geo(net, net->e_max + 74000, nm, &far->lat, &far->lon);
    far->cov[0] = far->cov[2] = 100 * 100;
    far->cov[1] = 0;
    const hd_locate_result in0 = *in;
    ok(hd_run_bound_nn(&r, 0) == 1, "a prediction 74 km outside the region is clamped");
    is_int(far->status, HD_LOC_OUTSIDE, "with the status outside the search region");
    double e, n;
    hd_locate_from_geo(net, far->lat, far->lon, &e, &n);
    ok(fabs(e - net->e_max) < 1e-3 && fabs(n - nm) < 1e-3, "onto the region's nearest edge");
    is_double(far->cov[0], w * w / 12, 1e-6, "east variance: a uniform position's over the region, no more");
    is_double(far->cov[2], 100 * 100, 1e-9, "north variance unchanged (no move north)");
    like(r.ev[0].why, "the network's prediction 74.0 km outside the search region, clamped to its edge", "and says so");
    ok(hd_run_bound_nn(&r, 1) == 0 && memcmp(in, &in0, sizeof in0) == 0, "a prediction inside the region is left alone");
    /* 300 m north of the region: moved 300 m, variance grown by 300² */
    hd_locate_to_geo(net, 0.5 * (net->e_min + net->e_max), net->n_max + 300, &in->lat, &in->lon);
    in->status = HD_LOC_OK;
    in->cov[2] = 200 * 200;
    hd_run_bound_nn(&r, 1);
    ok(h * h / 12 > 500 * 500 && fabs(in->cov[2] - (200 * 200 + 300 * 300)) < 1, "a near one's variance grows by the move");
    char buf[200];
    hd_run_clamped_summary(&r, buf, sizeof buf);
    is_str(buf, "network: 2 predictions outside the search region, clamped to its edge (the farthest 74.0 km out)",
           "counted for the summary");
    hd_run_release(&r);
}

/* What evaluate keeps of an event whatever the campaign's length (issue
 * 20): its row, not its solution with the per-receiver arrays. The 12
 * events added as blocks of a stream of 120,000: the heap grows by the
 * rows alone, and the summary is the 12 events' (each one 10,000 times). */
static void check_footprint(const hd_run *r, const double *edges)
{
    ok(sizeof(hd_eval_row) <= 72, "an event keeps %zu bytes (hd_eval_row), not its %zu-byte solution (hd_located)",
       sizeof(hd_eval_row), sizeof(hd_located));
    const int64_t blocks = 10000, n = blocks * E;
    struct mallinfo2 m0 = mallinfo2();
    hd_eval_report rep;
    int rc = hd_eval_begin(&rep, H5I_INVALID_HID, n);
    for (int64_t b = 0; rc == 0 && b < blocks; b++) {
        hd_run v = *r; /* the block a streaming run's sink sees */
        v.first = b * E;
        rc = hd_eval_add(&rep, &v);
    }
    struct mallinfo2 m1 = mallinfo2();
    ok(rc == 0 && rep.n == n, "%lld events added a block at a time", (long long)n);
    const double grown = ((double)(m1.uordblks + m1.hblkhd) - (double)(m0.uordblks + m0.hblkhd)) / (double)n;
    ok(grown <= 80, "the heap grew %.1f bytes an event while they were scored (at most 80)", grown);
    hd_run v = *r;
    is_int(hd_eval_add(&rep, &v), HD_EINVAL, "an event more than announced is refused");
    rc = rc == 0 ? hd_eval_finish(&rep, r, edges, 3) : rc;
    ok(rc == 0 && rep.all.located == 8 * blocks && fabs(rep.all.median_m - 450) < 0.01 &&
           fabs(rep.all.coverage_1sigma - 0.25) < 1e-12,
       "the summary of the stream: the 12 events' own");
    hd_eval_report_release(&rep);
}

int main(void)
{
    plan_no_plan();
    hd_config cfg;
    if (hd_config_load(&cfg, NULL, NULL, 0) != 0) /* the embedded default's localize keys */
        return 1;
    hd_run r;
    int rc = build_run(&r, &cfg.localize);
    ok(rc == 0, "a run of %d events built by hand", E);
    if (rc != 0) {
        hd_config_release(&cfg);
        return exit_status();
    }
    const double edges[3] = {0, 10, 20};
    hd_eval_report rep;
    rc = hd_eval_score_run(&rep, H5I_INVALID_HID, &r, edges, 3);
    ok(rc == 0, "scored");
    if (rc == 0) {
        check_report(&r, &rep);
        check_json(&rep);
        check_files(&r, edges);
    }
    hd_eval_report_release(&rep);
    check_groups(&r, edges);
    check_gdop(&r, edges);
    r.split = HD_SPLIT_NONE;
    free(r.group);
    r.group = NULL;
    check_footprint(&r, edges);
    hd_run_release(&r);

    check_bound(&cfg.localize);

    /* where report.json goes */
    char buf[256];
    hd_eval_report_path("out/eval.h5", buf, sizeof buf);
    is_str(buf, "out/report.json", "report.json beside eval.h5");
    hd_eval_report_path("out/nn.h5", buf, sizeof buf);
    is_str(buf, "out/nn.report.json", "NAME.report.json beside NAME.h5");
    hd_eval_report_path("eval.h5", buf, sizeof buf);
    is_str(buf, "./report.json", "report.json in the current folder");
    hd_eval_beside("a.b/out", "_map.png", buf, sizeof buf);
    is_str(buf, "a.b/out_map.png", "a dot in a folder name is no extension");

    /* the predictive's nu per method */
    hd_localize_cfg lc = cfg.localize;
    double prior, tail;
    lc.scale_by_chi2 = 1;
    lc.prior_nu = 4;
    lc.tail_nu = 6;
    hd_eval_predictive(HD_LOC_TDOA, &lc, 0, 0, &prior, &tail);
    ok(prior == 4 && tail == 0, "tdoa scaled by chi2: prior_nu, no fixed tail");
    hd_eval_predictive(HD_LOC_KNN, &lc, 0, 0, &prior, &tail);
    ok(prior == 0 && tail == 0, "knn: Gaussian");
    hd_eval_predictive(HD_LOC_NN, &lc, 1, 7, &prior, &tail);
    ok(prior == 0 && tail == 7, "nn with its model: the model's nu");
    hd_eval_predictive(HD_LOC_NN, &lc, 0, 7, &prior, &tail);
    ok(prior == 0 && tail == 6, "nn by folds (no one model): localize.tail_nu");
    lc.scale_by_chi2 = 0;
    hd_eval_predictive(HD_LOC_HYBRID, &lc, 0, 0, &prior, &tail);
    ok(prior == 0 && tail == 6, "hybrid without chi2 scaling: localize.tail_nu");
    hd_eval_predictive(HD_LOC_RSS, &lc, 0, 0, &prior, &tail);
    ok(prior == 0 && tail == 0, "rss without chi2 scaling: Gaussian");
    hd_config_release(&cfg);
    done_testing();
    return exit_status();
}
