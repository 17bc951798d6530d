/* Minimal TAP producer for unit tests (run under prove).
 *
 *   int main(void) {
 *       plan(3);            // or plan_no_plan(), then done_testing()
 *       ok(x == 1, "x is one");
 *       is_double(y, 2.0, 1e-9, "y");
 *       is_int(n, 4, "n");
 *       return exit_status();   // non-zero if any test failed
 *   }
 */
#ifndef HD_TESTS_TAP_H
#define HD_TESTS_TAP_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n = 0, tap_failed = 0, tap_planned = -1;

static inline void plan(int n) { tap_planned = n; printf("1..%d\n", n); fflush(stdout); }
static inline void plan_no_plan(void) { tap_planned = -1; }

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    printf("# "); vprintf(fmt, ap); printf("\n"); fflush(stdout);
    va_end(ap);
}

static inline int ok_at(int cond, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline int ok_at(int cond, const char *file, int line, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) { tap_failed++; printf("#   Failed test at %s line %d\n", file, line); }
    fflush(stdout);
    return cond;
}
#define ok(cond, ...) ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, name) do { long long g_ = (long long)(got), w_ = (long long)(want); \
    if (!ok(g_ == w_, "%s", name)) diag("  got: %lld, expected: %lld", g_, w_); } while (0)
#define is_double(got, want, tol, name) do { double g_ = (got), w_ = (want), t_ = (tol); \
    if (!ok(fabs(g_ - w_) <= t_ && g_ == g_, "%s", name)) diag("  got: %.10g, expected: %.10g (tolerance %.3g)", g_, w_, t_); } while (0)
#define is_str(got, want, name) do { const char *g_ = (got), *w_ = (want); \
    if (!ok(g_ && w_ && strcmp(g_, w_) == 0, "%s", name)) diag("  got: '%s', expected: '%s'", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } while (0)
#define like(got, substr, name) do { const char *g_ = (got), *w_ = (substr); \
    if (!ok(g_ && strstr(g_, w_) != NULL, "%s", name)) diag("  '%s' does not contain '%s'", g_ ? g_ : "(null)", w_); } while (0)

static inline void skip(int n, const char *why) {
    for (int i = 0; i < n; i++) { tap_n++; printf("ok %d # skip %s\n", tap_n, why); }
    fflush(stdout);
}
static inline void done_testing(void) { if (tap_planned < 0) { printf("1..%d\n", tap_n); fflush(stdout); } }
static inline int exit_status(void) {
    if (tap_planned >= 0 && tap_planned != tap_n) { diag("planned %d tests but ran %d", tap_planned, tap_n); return 255; }
    return tap_failed ? (tap_failed > 254 ? 254 : tap_failed) : 0;
}

#endif
