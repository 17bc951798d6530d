#include "eval/compare.h"
#include "core/alloc.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_eval_compare(hd_eval_comparison *c, const hd_eval_report *const *reps, int M)
{
    memset(c, 0, sizeof *c);
    if (M < 1 || M > HD_EVAL_MAX_METHODS)
        return hd_error(HD_EINVAL, "1 to %d methods can be compared, not %d", HD_EVAL_MAX_METHODS, M);
    const int64_t n = reps[0]->n;
    for (int m = 1; m < M; m++) {
        if (reps[m]->n != n)
            return hd_error(HD_EINVAL, "the methods' runs have %lld and %lld events", (long long)n,
                            (long long)reps[m]->n);
        if (reps[m]->index_hash != reps[0]->index_hash)
            return hd_error(HD_EINVAL, "the methods' runs are of other events (their event indices differ)");
    }
    c->n_methods = M;
    c->n = n;
    if (!(c->common = hd_calloc((size_t)(n > 0 ? n : 1), 1)))
        return HD_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        int all = 1;
        for (int m = 0; m < M && all; m++)
            all = (reps[m]->rows[i].flags & HD_ROW_LOCATED) && isfinite(reps[m]->rows[i].err_m);
        c->common[i] = (uint8_t)all;
        c->n_common += all;
    }
    int rc = 0;
    for (int m = 0; m < M && rc == 0; m++) {
        c->alone[m] = reps[m]->all;
        rc = hd_metrics_compute(reps[m]->rows, c->common, n, &c->same[m]);
    }
    return rc;
}

void hd_eval_comparison_release(hd_eval_comparison *c)
{
    free(c->common);
    c->common = NULL;
}

int hd_eval_compare_table(const hd_eval_comparison *c, const char *const *methods, char *buf, size_t n)
{
    size_t o = 0;
#define OUT(...) (o += (size_t)snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, __VA_ARGS__))
    OUT("  %-8s %8s | on the same %lld: %8s %8s %8s %7s %7s | alone: %8s %8s %7s %7s\n", "method", "located",
        (long long)c->n_common, "median_m", "p68_m", "p95_m", "1sigma", "2sigma", "median_m", "p95_m", "1sigma",
        "2sigma");
    for (int m = 0; m < c->n_methods; m++) {
        const hd_metrics *s = &c->same[m], *a = &c->alone[m];
        OUT("  %-8s %8lld | %*s %8.0f %8.0f %8.0f %6.1f%% %6.1f%% |        %8.0f %8.0f %6.1f%% %6.1f%%\n", methods[m],
            (long long)a->located, (int)snprintf(NULL, 0, "on the same %lld:", (long long)c->n_common), "",
            s->median_m, s->p68_m, s->p95_m, 100 * s->coverage_1sigma, 100 * s->coverage_2sigma, a->median_m,
            a->p95_m, 100 * a->coverage_1sigma, 100 * a->coverage_2sigma);
    }
#undef OUT
    return (int)o;
}
