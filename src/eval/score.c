#include "eval/score.h"
#include "core/alloc.h"
#include "core/error.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_eval_count_status(const hd_run *run, int64_t *counts)
{
    memset(counts, 0, HD_LOC_STATUS_COUNT * sizeof *counts);
    for (int64_t i = 0; i < run->n; i++)
        counts[run->ev[i].res.status]++;
}

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

/* every event against its truth */
static void score_events(hd_eval_report *rep, const hd_run *r)
{
    for (int64_t i = 0; r->scored && i < r->n; i++) { /* a sparse file's: scored per event by its own network */
        rep->sc[i] = r->scored[i];
        rep->crlb_model_m[i] = r->crlb_model_m[i];
        rep->no_truth += !isfinite(r->truth_lat[i]) || !isfinite(r->truth_lon[i]);
    }
    for (int64_t i = 0; !r->scored && i < r->n; i++) {
        hd_scored *s = &rep->sc[i];
        /* the physical bound: noise, bandwidth, clocks and geometry (the
         * model-error term is an allowance, not physics) */
        hd_eval_score(&r->net, &r->ev[i].res, r->truth_lat[i], r->truth_lon[i], 0, s);
        if (!isfinite(s->crlb_m) && isfinite(r->ev[i].res.crlb[0])) { /* receivers placed per event: at the estimate */
            s->crlb_m = sqrt(r->ev[i].res.crlb[0] + r->ev[i].res.crlb[2]);
            s->efficiency = s->err_m / s->crlb_m;
        }
        hd_scored s1;
        hd_eval_score(&r->net, &r->ev[i].res, r->truth_lat[i], r->truth_lon[i], 1, &s1);
        rep->crlb_model_m[i] = s1.crlb_m;
        rep->no_truth += !isfinite(r->truth_lat[i]) || !isfinite(r->truth_lon[i]);
    }
}

/* by SNR (median over the receivers used): below the first edge, between
 * edges, from the last up */
static int by_snr(hd_eval_report *rep, const hd_run *r, const double *edges, int n_bins, uint8_t *sel)
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
        for (int64_t i = 0; i < r->n; i++)
            sel[i] = r->snr_db[i] >= g->lo && r->snr_db[i] < g->hi;
        int rc = hd_metrics_compute(rep->sc, sel, r->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_snr++;
    }
    return 0;
}

/* by receivers used: a row per count that occurs */
static int by_receivers(hd_eval_report *rep, const hd_run *r, uint8_t *sel)
{
    for (int k = 0; k <= (r->scored ? HD_MAX_STATIONS : r->net.R); k++) {
        int any = 0;
        for (int64_t i = 0; i < r->n && !any; i++)
            any = r->ev[i].res.n_receivers == k;
        if (!any)
            continue;
        hd_eval_group *g = &rep->rx[rep->n_rx];
        snprintf(g->name, sizeof g->name, "%d receivers", k);
        g->lo = g->hi = k;
        for (int64_t i = 0; i < r->n; i++)
            sel[i] = r->ev[i].res.n_receivers == k;
        int rc = hd_metrics_compute(rep->sc, sel, r->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_rx++;
    }
    return 0;
}

/* by GDOP at the estimate (geometry: the error per unit range error), for
 * runs with the transmitter's height observed (3-D solves); the events
 * located with a receiver rejected as a timing outlier counted */
static int by_gdop(hd_eval_report *rep, const hd_run *r, uint8_t *sel)
{
    static const double edges[] = HD_EVAL_GDOP_EDGES;
    const int nb = (int)(sizeof edges / sizeof edges[0]) + 1;
    int any3d = 0;
    for (int64_t i = 0; i < r->n && !any3d; i++)
        any3d = r->ev[i].res.alt_obs_sigma_m > 0;
    if (!any3d)
        return 0;
    for (int b = 0; b < nb; b++) {
        hd_eval_group *g = &rep->gdop[b];
        g->lo = b ? edges[b - 1] : 0;
        g->hi = b < nb - 1 ? edges[b] : INFINITY;
        if (b == nb - 1)
            snprintf(g->name, sizeof g->name, "gdop >= %g", g->lo);
        else
            snprintf(g->name, sizeof g->name, "%g <= gdop < %g", g->lo, g->hi);
        for (int64_t i = 0; i < r->n; i++)
            sel[i] = r->ev[i].res.gdop >= g->lo && r->ev[i].res.gdop < g->hi;
        int rc = hd_metrics_compute(rep->sc, sel, r->n, &g->m);
        if (rc < 0)
            return rc;
        rep->n_gdop++;
    }
    for (int64_t i = 0; i < r->n; i++) {
        const hd_locate_result *res = &r->ev[i].res;
        rep->n_rejected += res->rejected != 0 && (res->status == HD_LOC_OK || res->status == HD_LOC_OUTSIDE);
    }
    return 0;
}

const char *hd_eval_split_name(int split)
{
    return split == HD_SPLIT_MONTH ? "month" : split == HD_SPLIT_TIME_BLOCK ? "time_block" : "none";
}

/* by the split's group (a month, a time block): a row per group that
 * occurs, ascending */
static int by_group(hd_eval_report *rep, const hd_run *r, uint8_t *sel)
{
    rep->split = r->split;
    if (!r->group)
        return 0;
    int seen[256] = {0}, n = 0;
    for (int64_t i = 0; i < r->n; i++)
        n += !seen[r->group[i] + 128]++;
    if (!n)
        return 0;
    if (!(rep->grp = hd_calloc((size_t)n, sizeof *rep->grp)))
        return HD_ENOMEM;
    for (int g = -128; g < 128; g++) {
        if (!seen[g + 128])
            continue;
        hd_eval_group *row = &rep->grp[rep->n_grp];
        snprintf(row->name, sizeof row->name, "%s %d", hd_eval_split_name(r->split), g);
        row->lo = row->hi = g;
        for (int64_t i = 0; i < r->n; i++)
            sel[i] = r->group[i] == g;
        int rc = hd_metrics_compute(rep->sc, sel, r->n, &row->m);
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
static int latency_and_nu(hd_eval_report *rep, const hd_run *r)
{
    const int64_t E = r->n;
    double *lt = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *lt);
    if (!lt)
        return HD_ENOMEM;
    double total = 0;
    for (int64_t i = 0; i < E; i++) {
        lt[i] = r->latency_s[i] * 1e6;
        total += r->latency_s[i];
    }
    gsl_sort(lt, 1, (size_t)E);
    rep->latency_total_s = total;
    rep->latency_median_us = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.5) : NAN;
    rep->latency_p95_us = E ? gsl_stats_quantile_from_sorted_data(lt, 1, (size_t)E, 0.95) : NAN;
    rep->latency_max_us = E ? lt[E - 1] : NAN;
    size_t n_nu = 0;
    for (int64_t i = 0; i < E; i++)
        if (isfinite(r->ev[i].res.e))
            lt[n_nu++] = r->ev[i].res.nu;
    gsl_sort(lt, 1, n_nu);
    rep->nu_median = n_nu ? gsl_stats_quantile_from_sorted_data(lt, 1, n_nu, 0.5) : NAN;
    rep->nu_min = n_nu ? lt[0] : NAN;
    rep->nu_max = n_nu ? lt[n_nu - 1] : NAN;
    free(lt);
    return 0;
}

int hd_eval_score_run(hd_eval_report *rep, const hd_run *r, const double *snr_bins_db, int n_bins)
{
    memset(rep, 0, sizeof *rep);
    const int64_t E = r->n;
    const size_t En = (size_t)(E > 0 ? E : 1);
    rep->n = E;
    rep->sc = hd_calloc(En, sizeof *rep->sc);
    rep->crlb_model_m = hd_calloc(En, sizeof *rep->crlb_model_m);
    rep->snr = hd_calloc((size_t)n_bins + 1, sizeof *rep->snr);
    uint8_t *sel = hd_calloc(En, 1);
    int rc = HD_ENOMEM;
    if (!rep->sc || !rep->crlb_model_m || !rep->snr || !sel)
        goto fail;
    score_events(rep, r);
    /* the headline and the subset a well-timed network should reach */
    if ((rc = hd_metrics_compute(rep->sc, NULL, E, &rep->all)) < 0)
        goto fail;
    for (int64_t i = 0; i < E; i++)
        sel[i] = r->n_timed[i] >= 4 && r->snr_db[i] >= 10;
    if ((rc = hd_metrics_compute(rep->sc, sel, E, &rep->good)) < 0 || (rc = by_snr(rep, r, snr_bins_db, n_bins, sel)) < 0 ||
        (rc = by_receivers(rep, r, sel)) < 0 || (rc = by_gdop(rep, r, sel)) < 0 || (rc = by_group(rep, r, sel)) < 0 ||
        (rc = latency_and_nu(rep, r)) < 0)
        goto fail;
    hd_eval_count_status(r, rep->counts);
    rep->n_clamped = r->n_clamped;
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

void hd_eval_report_release(hd_eval_report *rep)
{
    free(rep->sc);
    free(rep->crlb_model_m);
    free(rep->snr);
    free(rep->grp);
    rep->grp = NULL;
    rep->n_grp = 0;
    rep->sc = NULL;
    rep->crlb_model_m = NULL;
    rep->snr = NULL;
}
