/* Several methods on the same events (evaluate --method a,b,c): the events
 * every method located, and each method's metrics there and alone. Memory
 * only; report.h writes it. */
#ifndef HD_EVAL_COMPARE_H
#define HD_EVAL_COMPARE_H
#include <stddef.h>
#include <stdint.h>
#include "eval/metrics.h"
#include "eval/score.h"

#define HD_EVAL_MAX_METHODS 8

typedef struct {
    int n_methods;
    int64_t n;                       /* events (the same in every run) */
    uint8_t *common;                 /* [n]: 1 when every method located the event and it has a truth */
    int64_t n_common;
    hd_metrics alone[HD_EVAL_MAX_METHODS]; /* each method on every event (its own report's "all") */
    hd_metrics same[HD_EVAL_MAX_METHODS];  /* each method on the common events only */
} hd_eval_comparison;

/* Compare the scored runs reps[0..M) of the same events (their event
 * indices must agree: index_hash). Returns 0, HD_EINVAL (runs of other
 * events) or HD_ENOMEM; release either way. */
int hd_eval_compare(hd_eval_comparison *c, const hd_eval_report *const *reps, int M);
void hd_eval_comparison_release(hd_eval_comparison *c);
/* The comparison as a text table (a header line and a line per method:
 * located, then median, p68, p95, 1σ/2σ coverage on the common events and
 * alone) into buf[n]; returns the length it needed. */
int hd_eval_compare_table(const hd_eval_comparison *c, const char *const *methods, char *buf, size_t n);

#endif
