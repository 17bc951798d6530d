#include "eval/metrics.h"
#include "core/alloc.h"
#include "core/error.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

void hd_eval_score(const hd_locate_net *net, const hd_locate_result *res, double lat, double lon, int with_model,
                   hd_scored *o)
{
    o->located = res->status == HD_LOC_OK || res->status == HD_LOC_OUTSIDE; /* a position, if a far one */
    o->err_m = o->de_m = o->dn_m = o->d2 = o->content = o->nll = o->crlb_m = o->efficiency = NAN;
    double et, nt, c[3];
    if (!isfinite(lat) || !isfinite(lon) || (!res->used && !o->located))
        return; /* nothing to score: no truth, or no receiver and no position (net may then be NULL) */
    hd_locate_from_geo(net, lat, lon, &et, &nt);
    if (res->used && hd_locate_crlb(net, NULL, res, et, nt, with_model, c) == 0)
        o->crlb_m = sqrt(c[0] + c[2]);
    if (!o->located)
        return;
    hd_geo_inverse(lat, lon, res->lat, res->lon, &o->err_m, NULL, NULL);
    o->de_m = res->e - et;
    o->dn_m = res->n - nt;
    o->d2 = hd_locate_mahalanobis2(res->cov, o->de_m, o->dn_m);
    o->content = hd_locate_content(o->d2, res->nu); /* 1 for d2 = inf */
    o->nll = hd_locate_nll(o->d2, res->cov[0] * res->cov[2] - res->cov[1] * res->cov[1], res->nu);
    o->efficiency = o->err_m / o->crlb_m;
}

static double quantile(double *sorted, size_t n, double q)
{
    return n ? gsl_stats_quantile_from_sorted_data(sorted, 1, n, q) : NAN;
}

void hd_eval_keep(const hd_scored *s, hd_eval_row *row)
{
    row->err_m = s->err_m;
    row->de_m = s->de_m;
    row->dn_m = s->dn_m;
    row->nll = s->nll;
    row->crlb_m = s->crlb_m;
    uint8_t f = row->flags & HD_ROW_HAS_E;
    f |= s->located ? HD_ROW_LOCATED : 0;
    f |= s->content <= HD_COVERAGE_1SIGMA ? HD_ROW_IN_1SIGMA : 0;
    f |= s->content <= HD_COVERAGE_2SIGMA ? HD_ROW_IN_2SIGMA : 0;
    f |= s->content <= 0.68 ? HD_ROW_IN_68 : 0;
    f |= s->content <= 0.95 ? HD_ROW_IN_95 : 0;
    f |= s->d2 <= 1 ? HD_ROW_D2_1 : 0;
    f |= s->d2 <= 4 ? HD_ROW_D2_4 : 0;
    row->flags = f;
}

int hd_metrics_compute(const hd_eval_row *s, const uint8_t *sel, int64_t n, hd_metrics *m)
{
    /* the located events of the selection, counted first: the sorted
     * copies hold them only */
    int64_t nk = 0;
    for (int64_t i = 0; i < n; i++)
        nk += (!sel || sel[i]) && (s[i].flags & HD_ROW_LOCATED) && isfinite(s[i].err_m);
    const size_t cap = (size_t)(nk > 0 ? nk : 1);
    double *err = hd_malloc(cap * sizeof *err);
    double *crlb = hd_malloc(cap * sizeof *crlb);
    double *eff = hd_malloc(cap * sizeof *eff);
    if (!err || !crlb || !eff) {
        free(err);
        free(crlb);
        free(eff);
        return HD_ENOMEM;
    }
    size_t k = 0, kc = 0, ke = 0;
    double sum = 0, sum2 = 0, be = 0, bn = 0, nll = 0;
    int64_t in1 = 0, in2 = 0, in68 = 0, in95 = 0, ind1 = 0, ind4 = 0;
    m->n = 0;
    for (int64_t i = 0; i < n; i++) {
        if (sel && !sel[i])
            continue;
        m->n++;
        const unsigned f = s[i].flags;
        if (!(f & HD_ROW_LOCATED) || !isfinite(s[i].err_m))
            continue;
        err[k++] = s[i].err_m;
        sum += s[i].err_m;
        sum2 += s[i].err_m * s[i].err_m;
        be += s[i].de_m;
        bn += s[i].dn_m;
        nll += s[i].nll;
        in1 += (f & HD_ROW_IN_1SIGMA) != 0;
        in2 += (f & HD_ROW_IN_2SIGMA) != 0;
        in68 += (f & HD_ROW_IN_68) != 0;
        in95 += (f & HD_ROW_IN_95) != 0;
        ind1 += (f & HD_ROW_D2_1) != 0;
        ind4 += (f & HD_ROW_D2_4) != 0;
        if (isfinite(s[i].crlb_m))
            crlb[kc++] = s[i].crlb_m;
        const double efficiency = s[i].err_m / s[i].crlb_m;
        if (isfinite(efficiency))
            eff[ke++] = efficiency;
    }
    m->located = (int64_t)k;
    gsl_sort(err, 1, k);
    gsl_sort(crlb, 1, kc);
    gsl_sort(eff, 1, ke);
    m->mean_m = k ? sum / k : NAN;
    m->rmse_m = k ? sqrt(sum2 / k) : NAN;
    m->median_m = quantile(err, k, 0.5);
    m->p68_m = quantile(err, k, 0.68);
    m->p95_m = quantile(err, k, 0.95);
    m->bias_east_m = k ? be / k : NAN;
    m->bias_north_m = k ? bn / k : NAN;
    m->coverage_1sigma = k ? (double)in1 / k : NAN;
    m->coverage_2sigma = k ? (double)in2 / k : NAN;
    m->coverage_68 = k ? (double)in68 / k : NAN;
    m->coverage_95 = k ? (double)in95 / k : NAN;
    m->coverage_d2_1 = k ? (double)ind1 / k : NAN;
    m->coverage_d2_4 = k ? (double)ind4 / k : NAN;
    m->mean_nll = k ? nll / k : NAN;
    m->median_crlb_m = quantile(crlb, kc, 0.5);
    m->median_efficiency = quantile(eff, ke, 0.5);
    free(err);
    free(crlb);
    free(eff);
    return 0;
}
