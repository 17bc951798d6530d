#include "eval/score.h"
#include "core/alloc.h"
#include "core/error.h"
#include "eval/report.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_eval_status_summary(const int64_t *counts, char *buf, size_t n)
{
    /* parts that add up to the events: located (inside or outside the
     * region, both scored) and each reason for no position */
    return snprintf(buf, n,
                    "%lld located (%lld inside the region, %lld outside it), %lld not enough receivers, %lld no "
                    "convergence, %lld where the receivers' geometry fixes no position",
                    (long long)(counts[HD_LOC_OK] + counts[HD_LOC_OUTSIDE]), (long long)counts[HD_LOC_OK],
                    (long long)counts[HD_LOC_OUTSIDE], (long long)counts[HD_LOC_TOO_FEW],
                    (long long)counts[HD_LOC_NO_CONVERGENCE], (long long)counts[HD_LOC_NO_FIX]);
}

void hd_eval_predictive(int method, const hd_localize_cfg *cfg, int has_model, double model_nu, double *prior_nu,
                        double *tail_nu)
{
    const int classical = method == HD_LOC_TDOA || method == HD_LOC_RSS || method == HD_LOC_HYBRID;
    *prior_nu = classical && cfg->scale_by_chi2 ? cfg->prior_nu : 0;
    *tail_nu = method == HD_LOC_NN && has_model                                ? model_nu
               : method == HD_LOC_KNN || *prior_nu > 0 || method == HD_LOC_RSS ? 0
                                                                                : cfg->tail_nu;
}

void hd_eval_score_event(const hd_run *r, int64_t i, hd_scored *s, double *crlb_model_m)
{
    if (r->scored) { /* a sparse file's: scored per event by its own network */
        *s = r->scored[i];
        *crlb_model_m = r->crlb_model_m[i];
        return;
    }
    const hd_locate_result *res = &r->ev[i].res;
    /* the physical bound: noise, bandwidth, clocks and geometry (the
     * model-error term is an allowance, not physics) */
    hd_eval_score(&r->net, res, r->truth_lat[i], r->truth_lon[i], 0, s);
    if (!isfinite(s->crlb_m) && isfinite(res->crlb[0])) { /* receivers placed per event: at the estimate */
        s->crlb_m = sqrt(res->crlb[0] + res->crlb[2]);
        s->efficiency = s->err_m / s->crlb_m;
    }
    hd_scored s1;
    hd_eval_score(&r->net, res, r->truth_lat[i], r->truth_lon[i], 1, &s1);
    *crlb_model_m = s1.crlb_m;
}

/* by SNR (median over the receivers used): below the first edge, between
 * edges, from the last up */
static int by_snr(hd_eval_report *rep, const double *edges, int n_bins, uint8_t *sel)
{
    const int nb = n_bins + 1;
    for (int b = 0; b < nb; b++) {
        hd_eval_group *g = &rep->snr[b];
        g->lo = b ? edges[b - 1] : -INFINITY;
        g->hi = b < nb - 1 ? edges[b] : INFINITY;
        if (b == 0)
            snprintf(g->name, sizeof g->name, "snr < %g dB", g->hi);
        else if (b == nb - 1)
            snprintf(g->name, sizeof g->name, "snr >= %g dB", g->lo);
        else
            snprintf(g->name, sizeof g->name, "%g <= snr < %g dB", g->lo, g->hi);
        for (int64_t i = 0; i < rep->n; i++)
            sel[i] = rep->rows[i].snr_db >= g->lo && rep->rows[i].snr_db < g->hi;
        int rc = hd_metrics_compute(rep->rows, sel, rep->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_snr++;
    }
    return 0;
}

/* by receivers used: a row per count that occurs */
static int by_receivers(hd_eval_report *rep, uint8_t *sel)
{
    int seen[256] = {0};
    for (int64_t i = 0; i < rep->n; i++)
        seen[rep->rows[i].n_receivers] = 1;
    for (int k = 0; k <= rep->rx_max && k < 256; k++) {
        if (!seen[k])
            continue;
        hd_eval_group *g = &rep->rx[rep->n_rx];
        snprintf(g->name, sizeof g->name, "%d receivers", k);
        g->lo = g->hi = k;
        for (int64_t i = 0; i < rep->n; i++)
            sel[i] = rep->rows[i].n_receivers == k;
        int rc = hd_metrics_compute(rep->rows, sel, rep->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_rx++;
    }
    return 0;
}

/* the GDOP bin of a value, 255 for none (NaN, negative) */
static uint8_t gdop_bin(double gdop)
{
    static const double edges[] = HD_EVAL_GDOP_EDGES;
    const int nb = (int)(sizeof edges / sizeof edges[0]) + 1;
    for (int b = 0; b < nb; b++) {
        double lo = b ? edges[b - 1] : 0, hi = b < nb - 1 ? edges[b] : INFINITY;
        if (gdop >= lo && gdop < hi)
            return (uint8_t)b;
    }
    return 255;
}

/* by GDOP at the estimate (geometry: the error per unit range error), for
 * runs with the transmitter's height observed (3-D solves); the events
 * located with a receiver rejected as a timing outlier are counted as
 * they are added */
static int by_gdop(hd_eval_report *rep, uint8_t *sel)
{
    static const double edges[] = HD_EVAL_GDOP_EDGES;
    const int nb = (int)(sizeof edges / sizeof edges[0]) + 1;
    if (!rep->any3d) {
        rep->n_rejected = 0;
        return 0;
    }
    for (int b = 0; b < nb; b++) {
        hd_eval_group *g = &rep->gdop[b];
        g->lo = b ? edges[b - 1] : 0;
        g->hi = b < nb - 1 ? edges[b] : INFINITY;
        if (b == nb - 1)
            snprintf(g->name, sizeof g->name, "gdop >= %g", g->lo);
        else
            snprintf(g->name, sizeof g->name, "%g <= gdop < %g", g->lo, g->hi);
        for (int64_t i = 0; i < rep->n; i++)
            sel[i] = rep->rows[i].gdop_bin == b;
        int rc = hd_metrics_compute(rep->rows, sel, rep->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_gdop++;
    }
    return 0;
}

const char *hd_eval_split_name(int split)
{
    return split == HD_SPLIT_MONTH ? "month" : split == HD_SPLIT_TIME_BLOCK ? "time_block" : "none";
}

/* by the split's group (a month, a time block): a row per group that
 * occurs, ascending */
static int by_group(hd_eval_report *rep, uint8_t *sel)
{
    if (!rep->has_group)
        return 0;
    int seen[256] = {0}, n = 0;
    for (int64_t i = 0; i < rep->n; i++)
        n += !seen[rep->rows[i].group + 128]++;
    if (!n)
        return 0;
    if (!(rep->grp = hd_calloc((size_t)n, sizeof *rep->grp)))
        return HD_ENOMEM;
    for (int g = -128; g < 128; g++) {
        if (!seen[g + 128])
            continue;
        hd_eval_group *row = &rep->grp[rep->n_grp];
        snprintf(row->name, sizeof row->name, "%s %d", hd_eval_split_name(rep->split), g);
        row->lo = row->hi = g;
        for (int64_t i = 0; i < rep->n; i++)
            sel[i] = rep->rows[i].group == g;
        int rc = hd_metrics_compute(rep->rows, sel, rep->n, &row->m);
        if (rc < 0)
            return rc;
        rep->n_grp++;
    }
    return 0;
}

int hd_eval_breakdown_summary(const char *what, const hd_eval_group *g, int n, char *buf, size_t size)
{
    if (!size)
        return 0;
    buf[0] = 0;
    if (n <= 0)
        return 0;
    size_t off = (size_t)snprintf(buf, size, "by %s (median / p95 m, events located):", what);
    for (int b = 0; b < n && off < size; b++)
        if (g[b].m.located)
            off += (size_t)snprintf(buf + off, size - off, " %s: %.0f / %.0f (%lld);", g[b].name, g[b].m.median_m,
                                    g[b].m.p95_m, (long long)g[b].m.located);
    if (off >= size)
        off = size - 1;
    if (off > 0 && buf[off - 1] == ';')
        buf[--off] = 0;
    return (int)off;
}

/* the solver's latency per event, and the predictive's degrees of freedom
 * over the events with a position estimate (each event's own with
 * localize.scale_by_chi2) */
static int latency_and_nu(hd_eval_report *rep)
{
    const int64_t E = rep->n;
    const hd_eval_row *r = rep->rows;
    double *lt = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *lt);
    if (!lt)
        return HD_ENOMEM;
    double total = 0;
    for (int64_t i = 0; i < E; i++) {
        lt[i] = r[i].latency_s * 1e6;
        total += r[i].latency_s;
    }
    gsl_sort(lt, 1, (size_t)E);
    rep->latency_total_s = total;
    rep->latency_median_us = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.5) : NAN;
    rep->latency_p95_us = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.95) : NAN;
    rep->latency_max_us = E ? lt[E - 1] : NAN;
    size_t n_nu = 0;
    for (int64_t i = 0; i < E; i++)
        if (r[i].flags & HD_ROW_HAS_E)
            lt[n_nu++] = r[i].nu;
    gsl_sort(lt, 1, n_nu);
    rep->nu_median = n_nu ? gsl_stats_quantile_from_sorted_data(lt, 1, n_nu, 0.5) : NAN;
    rep->nu_min = n_nu ? lt[0] : NAN;
    rep->nu_max = n_nu ? lt[n_nu - 1] : NAN;
    free(lt);
    return 0;
}

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static void box_add(hd_eval_box *b, double lat, double lon)
{
    if (!isfinite(lat) || !isfinite(lon))
        return;
    b->w = fmin(b->w, lon);
    b->e = fmax(b->e, lon);
    b->s = fmin(b->s, lat);
    b->n = fmax(b->n, lat);
}

int hd_eval_begin(hd_eval_report *rep, hid_t f, int64_t E)
{
    memset(rep, 0, sizeof *rep);
    rep->f = f;
    rep->E = rep->cap = E > 0 ? E : 0;
    for (int c = 0; c < HD_EVAL_ROW_COLUMNS; c++)
        rep->ds[c] = H5I_INVALID_HID;
    rep->truths = rep->estimates = (hd_eval_box){INFINITY, -INFINITY, INFINITY, -INFINITY};
    rep->index_hash = FNV_OFFSET;
    rep->split = HD_SPLIT_NONE;
    if (!(rep->rows = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *rep->rows)))
        return HD_ENOMEM;
    return f >= 0 ? hd_eval_rows_create(rep) : 0;
}

/* the block's scratch: its scores, bounds with the model error, a column */
static int scratch(hd_eval_report *rep, int64_t n)
{
    if (n <= rep->blk_cap)
        return 0;
    free(rep->blk_sc);
    free(rep->blk_crlb);
    free(rep->blk_v);
    rep->blk_sc = hd_malloc((size_t)n * sizeof *rep->blk_sc);
    rep->blk_crlb = hd_malloc((size_t)n * sizeof *rep->blk_crlb);
    rep->blk_v = hd_malloc((size_t)n * 3 * sizeof *rep->blk_v);
    rep->blk_cap = rep->blk_sc && rep->blk_crlb && rep->blk_v ? n : 0;
    return rep->blk_cap ? 0 : HD_ENOMEM;
}

int hd_eval_add(hd_eval_report *rep, const hd_run *run)
{
    const int64_t n = run->n;
    if (n <= 0)
        return 0;
    if (rep->n + n > rep->cap)
        return hd_error(HD_EINVAL, "evaluate: %lld events scored, %lld announced", (long long)(rep->n + n),
                        (long long)rep->cap);
    int rc = scratch(rep, n);
    if (rc < 0)
        return rc;
    const int rx_max = run->scored ? HD_MAX_STATIONS : run->net.R;
    if (rx_max > rep->rx_max)
        rep->rx_max = rx_max;
    rep->has_group |= run->group != NULL;
    for (int64_t i = 0; i < n; i++) {
        hd_scored *s = &rep->blk_sc[i];
        const hd_locate_result *res = &run->ev[i].res;
        hd_eval_score_event(run, i, s, &rep->blk_crlb[i]);
        hd_eval_row *row = &rep->rows[rep->n + i];
        row->latency_s = run->latency_s[i];
        row->nu = res->nu;
        row->snr_db = run->snr_db[i];
        row->status = (int8_t)res->status;
        row->group = run->group ? run->group[i] : 0;
        row->n_receivers = (uint8_t)(res->n_receivers > 0 ? res->n_receivers : 0);
        row->n_timed = (uint8_t)run->n_timed[i];
        row->gdop_bin = gdop_bin(res->gdop);
        row->flags = isfinite(res->e) ? HD_ROW_HAS_E : 0;
        hd_eval_keep(s, row);
        if (res->status >= 0 && res->status < HD_LOC_STATUS_COUNT)
            rep->counts[res->status]++;
        rep->no_truth += !isfinite(run->truth_lat[i]) || !isfinite(run->truth_lon[i]);
        rep->any3d |= res->alt_obs_sigma_m > 0;
        rep->n_rejected += res->rejected != 0 && (res->status == HD_LOC_OK || res->status == HD_LOC_OUTSIDE);
        rep->plot_located += s->located;
        box_add(&rep->truths, run->truth_lat[i], run->truth_lon[i]);
        if (s->located)
            box_add(&rep->estimates, res->lat, res->lon);
        uint64_t idx = (uint64_t)run->ev[i].index;
        for (int b = 0; b < 8; b++)
            rep->index_hash = (rep->index_hash ^ ((idx >> (8 * b)) & 0xff)) * FNV_PRIME;
    }
    if (rep->f >= 0 && (rc = hd_eval_rows_write(rep, run, rep->n)) < 0)
        return rc;
    rep->n += n;
    return 0;
}

int hd_eval_sink(void *rep, const hd_run *run)
{
    return hd_eval_add(rep, run);
}

int hd_eval_add_whole(hd_eval_report *rep, const hd_run *run)
{
    const int64_t B = 4096;
    for (int64_t first = 0; first < run->n; first += B) {
        hd_run v = *run;
        v.first = first;
        v.n = run->n - first < B ? run->n - first : B;
        v.ev = run->ev + first;
        v.latency_s = run->latency_s + first;
        v.snr_db = run->snr_db + first;
        v.truth_lat = run->truth_lat + first;
        v.truth_lon = run->truth_lon + first;
        v.n_timed = run->n_timed + first;
        v.n_uncalibrated = run->n_uncalibrated ? run->n_uncalibrated + first : NULL;
        v.group = run->group ? run->group + first : NULL;
        v.obs = run->obs ? run->obs + first : NULL;
        v.scored = run->scored ? run->scored + first : NULL;
        v.crlb_model_m = run->crlb_model_m ? run->crlb_model_m + first : NULL;
        int rc = hd_eval_add(rep, &v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hd_eval_finish(hd_eval_report *rep, const hd_run *run, const double *snr_bins_db, int n_bins)
{
    int rc = hd_eval_rows_close(rep);
    if (rc < 0)
        return rc;
    if (rep->f >= 0 && rep->n != rep->E)
        return hd_error(HD_EINVAL, "evaluate: %lld of %lld events scored", (long long)rep->n, (long long)rep->E);
    free(rep->blk_sc);
    free(rep->blk_crlb);
    free(rep->blk_v);
    rep->blk_sc = NULL;
    rep->blk_crlb = rep->blk_v = NULL;
    rep->blk_cap = 0;
    const int64_t E = rep->n;
    rep->n_clamped = run ? run->n_clamped : 0;
    rep->split = run ? run->split : HD_SPLIT_NONE;
    rep->snr = hd_calloc((size_t)n_bins + 1, sizeof *rep->snr);
    uint8_t *sel = hd_calloc((size_t)(E > 0 ? E : 1), 1);
    rc = HD_ENOMEM;
    if (!rep->snr || !sel)
        goto fail;
    /* the headline and the subset a well-timed network should reach */
    if ((rc = hd_metrics_compute(rep->rows, NULL, E, &rep->all)) < 0)
        goto fail;
    for (int64_t i = 0; i < E; i++)
        sel[i] = rep->rows[i].n_timed >= 4 && rep->rows[i].snr_db >= 10;
    if ((rc = hd_metrics_compute(rep->rows, sel, E, &rep->good)) < 0 ||
        (rc = by_snr(rep, snr_bins_db, n_bins, sel)) < 0 || (rc = by_receivers(rep, sel)) < 0 ||
        (rc = by_gdop(rep, sel)) < 0 || (rc = by_group(rep, sel)) < 0 || (rc = latency_and_nu(rep)) < 0)
        goto fail;
    /* the sampling spread of a calibrated method's coverage over this many
     * events (binomial): how far from nominal chance alone goes */
    const int64_t k = rep->all.located;
    rep->coverage_1sigma_se = k > 0 ? sqrt(HD_COVERAGE_1SIGMA * (1 - HD_COVERAGE_1SIGMA) / (double)k) : NAN;
    rep->coverage_2sigma_se = k > 0 ? sqrt(HD_COVERAGE_2SIGMA * (1 - HD_COVERAGE_2SIGMA) / (double)k) : NAN;
    rc = 0;
fail:
    free(sel);
    return rc;
}

int hd_eval_score_run(hd_eval_report *rep, hid_t f, const hd_run *run, const double *snr_bins_db, int n_bins)
{
    int rc;
    if ((rc = hd_eval_begin(rep, f, run->n)) < 0 || (rc = hd_eval_add_whole(rep, run)) < 0 ||
        (rc = hd_eval_finish(rep, run, snr_bins_db, n_bins)) < 0)
        return rc;
    return 0;
}

void hd_eval_report_release(hd_eval_report *rep)
{
    hd_eval_rows_close(rep);
    free(rep->rows);
    free(rep->snr);
    free(rep->grp);
    free(rep->blk_sc);
    free(rep->blk_crlb);
    free(rep->blk_v);
    rep->rows = NULL;
    rep->snr = NULL;
    rep->grp = NULL;
    rep->blk_sc = NULL;
    rep->blk_crlb = rep->blk_v = NULL;
    rep->blk_cap = 0;
    rep->n_grp = 0;
}
