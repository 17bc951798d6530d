/* eval.h5 through the h5 helpers, report.json through jansson. */
#include "eval/report.h"
#include "eval/compare.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"

#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void hd_eval_beside(const char *out, const char *suffix, char *buf, size_t size)
{
    size_t n = strlen(out);
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash))
        n = (size_t)(dot - out);
    snprintf(buf, size, "%.*s%s", (int)n, out, suffix);
}

void hd_eval_report_path(const char *out, char *buf, size_t size)
{
    char b[1024];
    snprintf(b, sizeof b, "%s", out);
    const char *base = basename(b);
    if (strcmp(base, "eval.h5") == 0) {
        char d[1024];
        snprintf(d, sizeof d, "%s", out);
        snprintf(buf, size, "%s/report.json", dirname(d));
    } else {
        hd_eval_beside(out, ".report.json", buf, size);
    }
}

static int write_group_table(hid_t file, const char *path, const hd_eval_group *g, int n, const char *what)
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
    int64_t *cnt = hd_calloc((size_t)n + 1, sizeof *cnt);
    if (!cnt)
        rc = HD_ENOMEM;
    for (int i = 0; rc == 0 && i < n; i++)
        cnt[i] = g[i].m.n;
    if (rc == 0)
        rc = hd_h5_write(grp, "n", H5T_NATIVE_INT64, 1, dims, cnt, "1", "events in the group");
    for (int i = 0; rc == 0 && i < n; i++)
        cnt[i] = g[i].m.located;
    if (rc == 0)
        rc = hd_h5_write(grp, "located", H5T_NATIVE_INT64, 1, dims, cnt, "1", "events of the group with a position");
    free(cnt);
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

/* What every file of located events holds per event: index, status, the
 * estimate, its covariance and predictive, the fit's quality, the
 * receivers used (and, in positions files, time and frequency). */
enum { SOL_I64, SOL_I8, SOL_I32, SOL_F64, SOL_COV };
static const struct {
    const char *name, *units, *desc;
    int kind;
} SOL[] = {
    {"event_index", "1", "event number (events/index)", SOL_I64},
    {"status", "1",
     "0 ok, 1 not enough receivers, 2 no convergence, 3 outside the search region, "
     "4 the receivers' geometry fixes no position",
     SOL_I8},
    {"lat", "degree", "estimated latitude (WGS84; NaN without a position)", SOL_F64},
    {"lon", "degree", "estimated longitude", SOL_F64},
    {"nu", "1", "the predictive's degrees of freedom: a Student-t with the covariance cov_enu_m2 (0: a Gaussian)",
     SOL_F64},
    {"gdop", "1", "horizontal dilution of precision at the estimate", SOL_F64},
    {"chi2", "1", "weighted residual sum of squares of the fit (NaN without a position)", SOL_F64},
    {"dof", "1", "residuals minus fitted parameters (NaN without a position)", SOL_F64},
    {"snr_db", "dB", "median SNR of the receivers used", SOL_F64},
    {"n_receivers", "1", "receivers used", SOL_I32},
    {"n_timed", "1", "receivers with an arrival time from valid time differences (GPS-timed)", SOL_I32},
    {"cov_enu_m2", "m2", "position covariance: east², east·north, north² (local tangent frame)", SOL_COV},
    /* positions files only */
    {"time_ns", "ns", "capture time, nanoseconds since 1970-01-01 UTC", SOL_I64},
    {"frequency_hz", "Hz", "receivers' tuning (channel centre)", SOL_F64},
    {"ambiguous", "1",
     "1: exactly determined (three receivers, 2-D) and the hyperbolas cross twice: second_lat/second_lon fit as well",
     SOL_I8},
    {"second_lat", "degree", "the other crossing's latitude when ambiguous (NaN otherwise)", SOL_F64},
    {"second_lon", "degree", "the other crossing's longitude when ambiguous (NaN otherwise)", SOL_F64},
    {"region_grown", "1", "times the coarse search grew the region (its best point on the edge)", SOL_I32},
};
#define SOL_COMMON 12 /* the columns of every file; the rest positions only */

/* column c of event i of the run into buf[i] */
static void sol_fill(const hd_run *r, int c, int64_t i, void *buf)
{
    const hd_locate_result *x = &r->ev[i].res;
    int located = x->status == HD_LOC_OK || x->status == HD_LOC_OUTSIDE;
    int64_t *l = buf;
    int8_t *b = buf;
    int32_t *n = buf;
    double *d = buf;
    switch (c) {
    case 0: l[i] = r->ev[i].index; break;
    case 1: b[i] = (int8_t)x->status; break;
    case 2: d[i] = x->lat; break;
    case 3: d[i] = x->lon; break;
    case 4: d[i] = x->nu; break;
    case 5: d[i] = x->gdop; break;
    case 6: d[i] = x->chi2; break;
    case 7: d[i] = located ? x->dof : NAN; break;
    case 8: d[i] = r->snr_db[i]; break;
    case 9: n[i] = (int32_t)x->n_receivers; break;
    case 10: n[i] = (int32_t)r->n_timed[i]; break;
    case 11: memcpy(&d[3 * i], x->cov, sizeof x->cov); break;
    case 12: l[i] = r->ev[i].time_ns; break;
    case 13: d[i] = r->ev[i].frequency_hz; break;
    case 14: b[i] = (int8_t)(located && x->ambiguous); break;
    case 15: d[i] = located && x->ambiguous ? x->lat2 : NAN; break;
    case 16: d[i] = located && x->ambiguous ? x->lon2 : NAN; break;
    default: n[i] = (int32_t)x->grown; break;
    }
}

/* The solution columns (ncol of SOL) for the run's events: the whole
 * file at once (E < 0: each dataset one chunk, as hd_h5_write makes it), or
 * rows r->first .. + r->n of E-event datasets, created first when create. */
static int write_solutions(hid_t f, const hd_run *r, int ncol, int64_t E, int create)
{
    const int64_t n = r->n;
    void *buf = hd_malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof(double));
    int rc = buf ? 0 : HD_ENOMEM;
    for (int c = 0; c < ncol && rc == 0; c++) {
        const int k = SOL[c].kind, w = k == SOL_COV ? 2 : 1;
        const hid_t t = k == SOL_I64 ? H5T_NATIVE_INT64
                        : k == SOL_I8 ? H5T_NATIVE_INT8
                        : k == SOL_I32 ? H5T_NATIVE_INT32
                                       : H5T_NATIVE_DOUBLE;
        for (int64_t i = 0; i < n; i++)
            sol_fill(r, c, i, buf);
        if (E < 0) {
            hsize_t d[2] = {(hsize_t)n, 3};
            rc = hd_h5_write(f, SOL[c].name, t, w, d, buf, SOL[c].units, SOL[c].desc);
            continue;
        }
        hid_t ds;
        if (create) {
            hsize_t d[2] = {(hsize_t)E, 3}, ch[2] = {(hsize_t)(E < 65536 ? (E > 0 ? E : 1) : 65536), 3};
            ds = hd_h5_dataset(f, SOL[c].name, t, w, d, ch, 0, SOL[c].units, SOL[c].desc);
        } else {
            ds = H5Dopen2(f, SOL[c].name, H5P_DEFAULT);
            if (ds < 0)
                ds = hd_error(HD_EIO, "cannot open /%s", SOL[c].name);
        }
        if (ds < 0) {
            rc = (int)ds;
            break;
        }
        if (n > 0)
            rc = hd_h5_write_rows(ds, t, (hsize_t)r->first, (hsize_t)n, buf);
        H5Dclose(ds);
    }
    free(buf);
    return rc;
}

/* eval.h5's per-event datasets after the solution columns: the truth and
 * the scores */
enum { EV_TRUTH_LAT, EV_TRUTH_LON, EV_ERR, EV_DE, EV_DN, EV_D2, EV_CONTENT, EV_NLL, EV_CRLB, EV_CRLB_MODEL,
       EV_LATENCY };
static const struct {
    const char *name, *units, *desc;
} EV[] = {
    {"truth_lat", "degree", "transmitter latitude"},
    {"truth_lon", "degree", "transmitter longitude"},
    {"error_m", "m", "geodesic distance from the truth to the estimate"},
    {"error_east_m", "m", "estimate minus truth, east"},
    {"error_north_m", "m", "estimate minus truth, north"},
    {"mahalanobis2", "1", "squared Mahalanobis distance of the truth under the covariance"},
    {"content", "1",
     "probability of the predictive's smallest ellipse holding the truth (uniform on [0, 1] when calibrated)"},
    {"nll", "1", "negative log-likelihood of the truth under the predictive (metres)"},
    {"crlb_m", "m", "Cramér–Rao bound at the truth, sqrt of the trace (noise, bandwidth, clocks)"},
    {"crlb_with_model_m", "m", "the same with localize.model_sigma_ns added to the timing variances"},
    {"latency_us", "us", "solver time for the event"},
};
_Static_assert(SOL_COMMON + sizeof EV / sizeof *EV == HD_EVAL_ROW_COLUMNS, "eval.h5's per-event columns");

/* the type and row width of eval.h5's per-event column c */
static hid_t row_type(int c, int *w)
{
    const int k = c < SOL_COMMON ? SOL[c].kind : SOL_F64;
    *w = k == SOL_COV ? 3 : 1;
    return k == SOL_I64 ? H5T_NATIVE_INT64 : k == SOL_I8 ? H5T_NATIVE_INT8 : k == SOL_I32 ? H5T_NATIVE_INT32
                                                                                          : H5T_NATIVE_DOUBLE;
}

/* rows of up to 8192 events a chunk: two chunks a dataset cached (under
 * 0.4 MiB), whatever the campaign's length */
#define ROWS_CHUNK 8192

int hd_eval_rows_create(hd_eval_report *rep)
{
    const int64_t E = rep->E;
    for (int c = 0; c < HD_EVAL_ROW_COLUMNS; c++) {
        int w;
        hid_t t = row_type(c, &w);
        hsize_t d[2] = {(hsize_t)E, 3}, ch[2] = {(hsize_t)(E < ROWS_CHUNK ? (E > 0 ? E : 1) : ROWS_CHUNK), 3};
        const char *name = c < SOL_COMMON ? SOL[c].name : EV[c - SOL_COMMON].name;
        const char *units = c < SOL_COMMON ? SOL[c].units : EV[c - SOL_COMMON].units;
        const char *desc = c < SOL_COMMON ? SOL[c].desc : EV[c - SOL_COMMON].desc;
        hid_t ds = hd_h5_dataset(rep->f, name, t, w == 3 ? 2 : 1, d, ch, 0, units, desc);
        if (ds < 0)
            return (int)ds;
        rep->ds[c] = ds;
    }
    return 0;
}

int hd_eval_rows_write(hd_eval_report *rep, const hd_run *r, int64_t row0)
{
    const int64_t n = r->n;
    const hd_scored *sc = rep->blk_sc;
    const double *cm = rep->blk_crlb;
    double *v = rep->blk_v;
    int rc = 0;
    for (int c = 0; c < HD_EVAL_ROW_COLUMNS && rc == 0; c++) {
        int w;
        hid_t t = row_type(c, &w);
        for (int64_t i = 0; i < n; i++) {
            if (c < SOL_COMMON) {
                sol_fill(r, c, i, v);
                continue;
            }
            switch (c - SOL_COMMON) {
            case EV_TRUTH_LAT: v[i] = r->truth_lat[i]; break;
            case EV_TRUTH_LON: v[i] = r->truth_lon[i]; break;
            case EV_ERR: v[i] = sc[i].err_m; break;
            case EV_DE: v[i] = sc[i].de_m; break;
            case EV_DN: v[i] = sc[i].dn_m; break;
            case EV_D2: v[i] = sc[i].d2; break;
            case EV_CONTENT: v[i] = sc[i].content; break;
            case EV_NLL: v[i] = sc[i].nll; break;
            case EV_CRLB: v[i] = sc[i].crlb_m; break;
            case EV_CRLB_MODEL: v[i] = cm[i]; break;
            default: v[i] = r->latency_s[i] * 1e6; break;
            }
        }
        rc = hd_h5_write_rows(rep->ds[c], t, (hsize_t)row0, (hsize_t)n, v);
    }
    return rc;
}

int hd_eval_rows_close(hd_eval_report *rep)
{
    int rc = 0;
    for (int c = 0; c < HD_EVAL_ROW_COLUMNS; c++)
        if (rep->ds[c] > 0) {
            if (H5Dclose(rep->ds[c]) < 0 && rc == 0)
                rc = hd_error(HD_EIO, "cannot close eval.h5's per-event datasets");
            rep->ds[c] = H5I_INVALID_HID;
        }
    return rc;
}

int hd_eval_write_positions(hid_t f, const hd_run *r, const char *method)
{
    int rc = write_solutions(f, r, (int)(sizeof SOL / sizeof *SOL), -1, 0);
    return rc < 0 ? rc : hd_h5_attr_str(f, "method", method);
}

int hd_eval_positions_rows(hid_t f, const hd_run *r, int64_t E, int create)
{
    return write_solutions(f, r, (int)(sizeof SOL / sizeof *SOL), E, create);
}

int hd_eval_write_h5(hid_t f, const hd_eval_report *rep, const char *method)
{
    int rc;
    hid_t g = H5Gcreate2(f, "breakdown", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create /breakdown");
    H5Gclose(g);
    if ((rc = write_group_table(f, "breakdown/snr", rep->snr, rep->n_snr, "SNR group (median over the receivers used)")) < 0 ||
        (rc = write_group_table(f, "breakdown/receivers", rep->rx, rep->n_rx, "receivers used")) < 0 ||
        (rep->n_gdop && (rc = write_group_table(f, "breakdown/gdop", rep->gdop, rep->n_gdop, "GDOP at the estimate")) < 0))
        return rc;
    if (rep->n_gdop && (rc = hd_h5_attr_int(f, "located_with_rejected_receiver", rep->n_rejected)) < 0)
        return rc;
    /* the split's groups, each located by a fit on the others (none without a split) */
    if (rep->n_grp > 0 &&
        (rc = write_group_table(f, "breakdown/group", rep->grp, rep->n_grp,
                                "the split's group, located by a method fitted on the other groups")) < 0)
        return rc;
    if (rep->n_grp > 0) {
        int32_t gv[256];
        hsize_t d1[1] = {(hsize_t)rep->n_grp};
        for (int i = 0; i < rep->n_grp; i++)
            gv[i] = (int32_t)rep->grp[i].lo;
        if ((rc = hd_h5_write(f, "breakdown/group/value", H5T_NATIVE_INT32, 1, d1, gv, "1",
                              "the group's value in /splits/<split> of the features file")) < 0)
            return rc;
    }
    if ((rc = hd_h5_attr_str(f, "split", hd_eval_split_name(rep->split))) < 0 ||
        (rc = hd_h5_attr_int(f, "clamped_to_region", rep->n_clamped)) < 0)
        return rc;
    const hd_metrics *a = &rep->all;
    struct { const char *name; double v; } attrs[] = {
        {"mean_m", a->mean_m},
        {"median_m", a->median_m}, {"p68_m", a->p68_m}, {"p95_m", a->p95_m}, {"rmse_m", a->rmse_m},
        {"bias_east_m", a->bias_east_m}, {"bias_north_m", a->bias_north_m},
        {"coverage_1sigma", a->coverage_1sigma}, {"coverage_2sigma", a->coverage_2sigma},
        {"coverage_68", a->coverage_68}, {"coverage_95", a->coverage_95},
        {"coverage_d2_1", a->coverage_d2_1}, {"coverage_d2_4", a->coverage_d2_4},
        {"mean_nll", a->mean_nll}, {"median_crlb_m", a->median_crlb_m},
        {"median_efficiency", a->median_efficiency}, {"latency_median_us", rep->latency_median_us},
        {"latency_p95_us", rep->latency_p95_us},
    };
    if ((rc = hd_h5_attr_int(f, "n", a->n)) < 0 || (rc = hd_h5_attr_int(f, "located", a->located)) < 0)
        return rc;
    for (size_t k = 0; k < HD_ARRAY_LEN(attrs) && rc == 0; k++)
        rc = hd_h5_attr_double(f, attrs[k].name, attrs[k].v);
    if (rc == 0)
        rc = hd_h5_attr_str(f, "method", method);
    return rc;
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

static json_t *report_json(const hd_eval_report *rep, const hd_eval_report_info *info)
{
    const hd_metrics *all = &rep->all, *good = &rep->good;
    const int64_t E = rep->n;
    json_t *report = metrics_json(all);
    json_object_set_new(report, "method", json_string(info->method));
    json_object_set_new(report, "input", json_string(info->input));
    json_object_set_new(report, "split", json_string(hd_eval_split_name(info->split)));
    json_object_set_new(report, "events", json_integer(E));
    json_object_set_new(report, "not_enough_receivers", json_integer(rep->counts[HD_LOC_TOO_FEW]));
    json_object_set_new(report, "no_convergence", json_integer(rep->counts[HD_LOC_NO_CONVERGENCE]));
    json_object_set_new(report, "outside_region", json_integer(rep->counts[HD_LOC_OUTSIDE]));
    json_object_set_new(report, "clamped_to_region", json_integer(rep->n_clamped));
    json_object_set_new(report, "no_fix", json_integer(rep->counts[HD_LOC_NO_FIX]));
    json_object_set_new(report, "nominal_coverage_1sigma", json_real(HD_COVERAGE_1SIGMA));
    json_object_set_new(report, "nominal_coverage_2sigma", json_real(HD_COVERAGE_2SIGMA));
    json_object_set_new(report, "coverage_1sigma_se", num(rep->coverage_1sigma_se));
    json_object_set_new(report, "coverage_2sigma_se", num(rep->coverage_2sigma_se));
    json_object_set_new(report, "model_sigma_ns", json_real(info->model_sigma_ns));
    json_object_set_new(report, "prior_nu", json_real(info->prior_nu));
    json_object_set_new(report, "tail_nu", json_real(info->tail_nu));
    json_object_set_new(report, "median_nu", num(rep->nu_median));
    json_object_set_new(report, "latency_median_us", num(rep->latency_median_us));
    json_object_set_new(report, "latency_p95_us", num(rep->latency_p95_us));
    json_object_set_new(report, "latency_max_us", num(rep->latency_max_us));
    json_object_set_new(report, "events_per_second", num(rep->latency_total_s > 0 ? E / rep->latency_total_s : NAN));
    json_t *gj = metrics_json(good);
    json_object_set_new(gj, "efficiency_of_medians", num(good->median_m / good->median_crlb_m));
    json_object_set_new(report, "timed4_snr10", gj);
    json_t *bs = json_array(), *br = json_array();
    for (int b = 0; b < rep->n_snr; b++) {
        json_t *o = metrics_json(&rep->snr[b].m);
        json_object_set_new(o, "group", json_string(rep->snr[b].name));
        json_array_append_new(bs, o);
    }
    for (int b = 0; b < rep->n_rx; b++) {
        json_t *o = metrics_json(&rep->rx[b].m);
        json_object_set_new(o, "group", json_string(rep->rx[b].name));
        json_object_set_new(o, "receivers", json_integer((json_int_t)rep->rx[b].lo));
        json_array_append_new(br, o);
    }
    json_object_set_new(report, "by_snr", bs);
    json_object_set_new(report, "by_receivers", br);
    if (rep->n_gdop) { /* 3-D solves only: 2-D reports unchanged */
        json_t *bg = json_array();
        for (int b = 0; b < rep->n_gdop; b++) {
            json_t *o = metrics_json(&rep->gdop[b].m);
            json_object_set_new(o, "group", json_string(rep->gdop[b].name));
            json_object_set_new(o, "gdop_min", json_real(rep->gdop[b].lo));
            json_object_set_new(o, "gdop_max", num(rep->gdop[b].hi));
            json_array_append_new(bg, o);
        }
        json_object_set_new(report, "by_gdop", bg);
        json_object_set_new(report, "located_with_rejected_receiver", json_integer((json_int_t)rep->n_rejected));
    }
    json_t *bgr = json_array();
    for (int b = 0; b < rep->n_grp; b++) {
        json_t *o = metrics_json(&rep->grp[b].m);
        json_object_set_new(o, "group", json_string(rep->grp[b].name));
        json_object_set_new(o, "split", json_string(hd_eval_split_name(rep->split)));
        json_object_set_new(o, "value", json_integer((json_int_t)rep->grp[b].lo));
        json_array_append_new(bgr, o);
    }
    json_object_set_new(report, "by_group", bgr);
    return report;
}

int hd_eval_write_json(FILE *out, const char *path, const hd_eval_report *rep, const hd_eval_report_info *info)
{
    json_t *report = report_json(rep, info);
    if (!report)
        return HD_ENOMEM;
    int bad = json_dumpf(report, out, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0;
    json_decref(report);
    if (bad || fputc('\n', out) == EOF)
        return hd_error(HD_EIO, "cannot write %s", path);
    return 0;
}

/* ---- several methods on the same events ----------------------------------------- */

int hd_eval_write_compare_h5(hid_t f, const hd_eval_comparison *c, const char *const *methods)
{
    hid_t g = H5Gcreate2(f, "compare", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create /compare");
    H5Gclose(g);
    hd_eval_group rows[HD_EVAL_MAX_METHODS];
    int rc = 0;
    for (int q = 0; q < 2 && rc == 0; q++) {
        for (int m = 0; m < c->n_methods; m++) {
            memset(&rows[m], 0, sizeof rows[m]);
            snprintf(rows[m].name, sizeof rows[m].name, "%s", methods[m]);
            rows[m].m = q ? c->same[m] : c->alone[m];
        }
        rc = write_group_table(f, q ? "compare/same_events" : "compare/alone", rows, c->n_methods,
                               q ? "method, on the events every method located" : "method, on every event");
    }
    hsize_t d1[1] = {(hsize_t)c->n};
    if (rc == 0)
        rc = hd_h5_write(f, "compare/common", H5T_NATIVE_UINT8, 1, d1, c->common, "1",
                         "1: every method located the event (the same_events rows are scored on these)");
    if (rc == 0)
        rc = hd_h5_attr_int(f, "n_common", c->n_common);
    if (rc == 0)
        rc = hd_h5_attr_int(f, "n", c->n);
    return rc;
}

int hd_eval_write_compare_json(FILE *out, const char *path, const hd_eval_comparison *c, const char *const *methods,
                               const char *input)
{
    json_t *r = json_object(), *arr = json_array();
    json_object_set_new(r, "input", json_string(input));
    json_object_set_new(r, "events", json_integer(c->n));
    json_object_set_new(r, "events_every_method_located", json_integer(c->n_common));
    for (int m = 0; m < c->n_methods; m++)
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "method", methods[m], "alone",
                                             metrics_json(&c->alone[m]), "same_events", metrics_json(&c->same[m])));
    json_object_set_new(r, "methods", arr);
    int bad = json_dumpf(r, out, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0;
    json_decref(r);
    if (bad || fputc('\n', out) == EOF)
        return hd_error(HD_EIO, "cannot write %s", path);
    return 0;
}
