/* nn: gradients of every layer and of the loss against finite differences
 * of a double-precision forward pass, float against double, and a tiny
 * data set overfit by AdamW. */
#include "core/rng.h"
#include "nn/nn.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R 4
#define N 5

static void fill(hd_rng *g, float *x, uint8_t *m, float *y, int n)
{
    for (int e = 0; e < n; e++) {
        for (int r = 0; r < R; r++) {
            m[e * R + r] = (e + r) % 4 != 3; /* some receivers absent */
            for (int k = 0; k < HD_NN_DIN; k++)
                x[(e * R + r) * HD_NN_DIN + k] = m[e * R + r] ? (float)hd_rng_normal(g) : 0.0f;
        }
        y[2 * e] = (float)hd_rng_normal(g);
        y[2 * e + 1] = (float)hd_rng_normal(g);
    }
}

static void gradcheck(int kind, int gelu, double nu)
{
    hd_nn_arch A;
    hd_nn_arch_init(&A, kind, R, 6, gelu);
    A.nu = nu;
    float *p = malloc(A.n_params * sizeof *p), x[N * R * HD_NN_DIN], y[2 * N];
    uint8_t m[N * R];
    double *pd = malloc(A.n_params * sizeof *pd), *g = calloc(A.n_params, sizeof *g);
    hd_rng rg;
    hd_rng_init(&rg, 5, (uint32_t)kind, (uint32_t)gelu, 0);
    hd_nn_init_params(&A, 3, p);
    for (size_t i = 0; i < A.n_params; i++) /* away from ReLU's kink and the initial zeros */
        pd[i] = p[i] + 0.3 * hd_rng_normal(&rg);
    fill(&rg, x, m, y, N);
    hd_nn_loss_grad_double(&A, pd, x, m, N, y, g);
    double worst = 0;
    size_t where = 0;
    const char *layer[5] = {"dense 1", "dense 2", "layer norm", "dense 3", "dense 4 (output)"};
    double worst_layer[5] = {0};
    for (size_t i = 0; i < A.n_params; i++) {
        double h = 1e-6, keep = pd[i];
        pd[i] = keep + h;
        double lp = hd_nn_loss_double(&A, pd, x, m, N, y);
        pd[i] = keep - h;
        double lm = hd_nn_loss_double(&A, pd, x, m, N, y);
        pd[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - g[i]) / fmax(1e-3, fabs(fd) + fabs(g[i]));
        int k = 4;
        while (k > 0 && i < A.off[k])
            k--;
        if (err > worst_layer[k])
            worst_layer[k] = err;
        if (err > worst) {
            worst = err;
            where = i;
        }
    }
    for (int k = 0; k < 5; k++)
        ok(worst_layer[k] < 1e-4, "%s %s %s: %s gradient matches finite differences (worst relative %.2g)",
           kind == HD_NN_SET ? "set" : "mlp", gelu ? "gelu" : "relu", nu > 2 ? "Student-t" : "Gaussian", layer[k],
           worst_layer[k]);
    if (worst >= 1e-4)
        diag("worst at parameter %zu", where);
    /* float gradients against the double ones */
    float *gf = calloc(A.n_params, sizeof *gf);
    for (size_t i = 0; i < A.n_params; i++)
        p[i] = (float)pd[i];
    hd_nn_batch *b = hd_nn_batch_new(&A, N);
    memcpy(hd_nn_batch_x(b), x, sizeof x);
    memcpy(hd_nn_batch_m(b), m, sizeof m);
    hd_nn_loss_grad(&A, p, b, N, y, gf);
    double num = 0, den = 0;
    for (size_t i = 0; i < A.n_params; i++) {
        num += (gf[i] - g[i]) * (gf[i] - g[i]);
        den += g[i] * g[i];
    }
    ok(sqrt(num / den) < 1e-4, "float gradient within %.1g of the double one", sqrt(num / den));
    hd_nn_batch_free(b);
    free(gf);
    free(p);
    free(pd);
    free(g);
}

/* hd_nn_loss_grad_notify: each layer's range once, last layer first, the
 * ranges covering every parameter; the gradients those of hd_nn_loss_grad,
 * and each range final when announced (nothing written to it afterwards) */
typedef struct {
    const float *g;
    float *seen; /* g's values at the announcement */
    size_t off[8], n[8];
    int calls;
} notes;

static void note(void *ctx, size_t off, size_t n)
{
    notes *t = ctx;
    if (t->calls < 8) {
        t->off[t->calls] = off;
        t->n[t->calls] = n;
    }
    t->calls++;
    memcpy(t->seen + off, t->g + off, n * sizeof *t->seen);
}

static void notify_check(int kind)
{
    hd_nn_arch A;
    hd_nn_arch_init(&A, kind, R, 12, 1);
    A.nu = 4;
    float *p = malloc(A.n_params * sizeof *p), *g1 = calloc(A.n_params, sizeof *g1), *g2 = calloc(A.n_params, sizeof *g2);
    float *seen = calloc(A.n_params, sizeof *seen), x[11 * R * HD_NN_DIN], y[22];
    uint8_t m[11 * R];
    hd_rng rg;
    hd_rng_init(&rg, 17, (uint32_t)kind, 0, 0);
    fill(&rg, x, m, y, 11); /* 44 rows: blocks of 8 and a part */
    hd_nn_init_params(&A, 5, p);
    hd_nn_batch *b = hd_nn_batch_new(&A, 11);
    memcpy(hd_nn_batch_x(b), x, sizeof x);
    memcpy(hd_nn_batch_m(b), m, sizeof m);
    double l1 = hd_nn_loss_grad(&A, p, b, 11, y, g1);
    notes t = {.g = g2, .seen = seen};
    double l2 = hd_nn_loss_grad_notify(&A, p, b, 11, y, g2, note, &t);
    int order = t.calls == 5;
    for (int k = 0; order && k < 5; k++) {
        size_t lo = A.off[4 - k], hi = k == 0 ? A.n_params : A.off[5 - k];
        order = t.off[k] == lo && t.n[k] == hi - lo;
    }
    ok(order, "%s: five ranges, the last layer first, covering every parameter once (%d calls)",
       kind == HD_NN_SET ? "set" : "mlp", t.calls);
    ok(l1 == l2 && memcmp(g1, g2, A.n_params * sizeof *g1) == 0, "the same loss and gradients as hd_nn_loss_grad");
    ok(memcmp(seen, g2, A.n_params * sizeof *g2) == 0, "each range final when announced");
    hd_nn_batch_free(b);
    free(p);
    free(g1);
    free(g2);
    free(seen);
}

int main(void)
{
    plan_no_plan();
    /* the loss alone: its gradient with respect to the five outputs */
    {
        hd_nn_arch A;
        hd_nn_arch_init(&A, HD_NN_SET, R, 4, 0);
        ok(A.n_params == (size_t)(HD_NN_DIN * 4 + 4 + 4 * 4 + 4 + 8 + 8 * 4 + 4 + 4 * 5 + 5), "parameter count (%zu)", A.n_params);
    }
    gradcheck(HD_NN_SET, 0, 0);
    gradcheck(HD_NN_SET, 1, 0);
    gradcheck(HD_NN_MLP, 0, 0);
    gradcheck(HD_NN_MLP, 1, 0);
    gradcheck(HD_NN_SET, 1, 4);   /* the Student-t loss (train.tail_nu) */
    gradcheck(HD_NN_MLP, 0, 3.5);
    notify_check(HD_NN_SET);
    notify_check(HD_NN_MLP);

    /* the Student-t loss's value: 0.5 (nu + 2) log(1 + q/(nu - 2)) + log|L| + log((nu - 2)/nu) + log 2π */
    {
        hd_nn_arch A;
        hd_nn_arch_init(&A, HD_NN_SET, R, 4, 0);
        float x[R * HD_NN_DIN] = {0}, y[2] = {3, 4};
        uint8_t m[R] = {1};
        double *pd = calloc(A.n_params, sizeof *pd);
        /* all weights 0: outputs 0, so mean 0 and L = I: q = 25 */
        A.nu = 4;
        double lt = hd_nn_loss_double(&A, pd, x, m, 1, y);
        A.nu = 0;
        double lg = hd_nn_loss_double(&A, pd, x, m, 1, y);
        ok(fabs(lt - (3 * log1p(25 / 2.0) + log(0.5) + log(2 * M_PI))) < 1e-9, "Student-t NLL value (%.6f)", lt);
        ok(fabs(lg - (12.5 + log(2 * M_PI))) < 1e-9, "Gaussian NLL value (%.6f)", lg);
        free(pd);
    }

    /* the mean from a sum and the clipping in one pass */
    {
        enum { NG = 1003 }; /* 125 blocks of 8 and a part */
        static float g[NG], want[NG];
        hd_rng rg;
        hd_rng_init(&rg, 23, 0, 0, 0);
        double ss = 0;
        for (int i = 0; i < NG; i++) {
            g[i] = (float)hd_rng_normal(&rg) * 3;
            want[i] = g[i] / 3.0f;
            ss += (double)want[i] * want[i];
        }
        double norm = hd_nn_scale_clip(g, NG, 3.0f, 0);
        ok(memcmp(g, want, sizeof g) == 0 && fabs(norm - sqrt(ss)) < 1e-12 * sqrt(ss),
           "scale_clip: g / div exactly, and its norm (%.6f)", norm);
        norm = hd_nn_scale_clip(g, NG, 1.0f, 2.0);
        double s2 = 0;
        for (int i = 0; i < NG; i++)
            s2 += (double)g[i] * g[i];
        ok(fabs(norm - sqrt(ss)) < 1e-12 * sqrt(ss) && fabs(sqrt(s2) - 2.0) < 1e-5,
           "scale_clip: a norm above the limit is scaled to it (%.6f)", sqrt(s2));
    }

    /* the covariance from the Cholesky outputs */
    {
        float o[5] = {1, 2, logf(3), logf(2), 0.5f};
        double mu[2], c[3];
        hd_nn_output(o, mu, c);
        ok(fabs(c[0] - 9) < 1e-5 && fabs(c[1] - 1.5) < 1e-5 && fabs(c[2] - 4.25) < 1e-5, "covariance L Lᵀ");
    }

    /* overfit a tiny data set */
    {
        hd_nn_arch A;
        hd_nn_arch_init(&A, HD_NN_SET, R, 32, 1);
        float *p = malloc(A.n_params * sizeof *p), *g = malloc(A.n_params * sizeof *g);
        float *mo = calloc(A.n_params, sizeof *mo), *vo = calloc(A.n_params, sizeof *vo);
        float x[8 * R * HD_NN_DIN], y[16], out[40];
        uint8_t m[8 * R];
        hd_rng rg;
        hd_rng_init(&rg, 9, 0, 0, 0);
        fill(&rg, x, m, y, 8);
        hd_nn_init_params(&A, 1, p);
        hd_nn_batch *b = hd_nn_batch_new(&A, 8);
        memcpy(hd_nn_batch_x(b), x, sizeof x);
        memcpy(hd_nn_batch_m(b), m, sizeof m);
        double first = 0, last = 0;
        for (int t = 1; t <= 3000; t++) {
            memset(g, 0, A.n_params * sizeof *g);
            double l = hd_nn_loss_grad(&A, p, b, 8, y, g) / 8;
            for (size_t i = 0; i < A.n_params; i++)
                g[i] /= 8;
            hd_nn_clip(g, A.n_params, 5);
            hd_nn_adamw(p, g, mo, vo, A.n_params, hd_nn_lr(3e-3, t - 1, 50, 3000), 0, t);
            if (t == 1)
                first = l;
            last = l;
        }
        hd_nn_forward(&A, p, b, 8, out);
        double err = 0;
        for (int e = 0; e < 8; e++) {
            double d = hypot(out[5 * e] - y[2 * e], out[5 * e + 1] - y[2 * e + 1]);
            diag("event %d: error %.4f", e, d);
            err = fmax(err, d);
        }
        ok(last < first - 5 && err < 0.05, "a tiny data set is overfit: NLL %.2f -> %.2f, worst error %.4f", first, last,
           err);
        hd_nn_batch_free(b);
        free(p);
        free(g);
        free(mo);
        free(vo);
    }
    done_testing();
    return exit_status();
}
