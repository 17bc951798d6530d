#include "nn/nn.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "features/features.h"
#include "nn/blas.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* e^x in float for the training loops: Cody–Waite reduction by ln 2 and a
 * degree-6 polynomial (Cephes' expf), about 1 ulp; written so that GCC
 * vectorises the loops that call it (libm's expf is a call per element) */
/* The element-wise kernels are compiled three times, for x86-64-v4
 * (AVX-512), AVX2 and any x86-64, and the loader picks one (GCC's
 * target_clones). Without FMA contraction (none in ISO C mode) each element
 * takes the same IEEE operations in every clone: the results are
 * bit-identical, only 16 or 8 lanes wide. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(HD_NN_NO_CLONES)
#define HD_NN_VEC __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define HD_NN_VEC
#endif

static inline float nn_expf(float x)
{
    /* within ±80: no subnormal e^x, nor 1 / (1 + e^x) (slow to compute with,
     * and the same to float precision) */
    x = x < -80.0f ? -80.0f : x > 80.0f ? 80.0f : x;
    float t = x * 1.44269504088896341f;
    /* round to nearest by adding and removing 1.5 * 2^23 (|t| < 116 here):
     * plain additions, which vectorise in any clone */
    float fk = (t + 12582912.0f) - 12582912.0f;
    int k = (int)fk;
    float r = x - fk * 0.693359375f + fk * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } e = {.u = (uint32_t)(k + 127) << 23};
    return p * e.f;
}

/* the arithmetic, in float and in double */
#define T float
#define F(name) name##_f
#define GEMM hd_blas()->sgemm
#define EXP nn_expf
#define TANH tanhf
#define SQRT sqrtf
#include "nn/core_impl.h"
#undef T
#undef F
#undef GEMM
#undef EXP
#undef TANH
#undef SQRT
#define T double
#define F(name) name##_d
#define GEMM hd_blas()->dgemm
#define EXP exp
#define TANH tanh
#define SQRT sqrt
#include "nn/core_impl.h"
#undef T
#undef F
#undef GEMM
#undef EXP
#undef TANH
#undef SQRT

int hd_nn_arch_init(hd_nn_arch *A, int kind, int R, int hidden, int gelu)
{
    memset(A, 0, sizeof *A);
    if ((kind != HD_NN_SET && kind != HD_NN_MLP) || R < 1 || R > 1024 || hidden < 2 || hidden > 4096)
        return hd_error(HD_EINVAL, "network: kind %d, %d receivers, hidden %d", kind, R, hidden);
    A->kind = kind;
    A->R = R;
    A->din = HD_NN_DIN;
    A->hidden = hidden;
    A->gelu = gelu != 0;
    size_t H = (size_t)hidden, in1 = kind == HD_NN_SET ? (size_t)A->din : (size_t)R * A->din;
    size_t sz[5] = {in1 * H + H, H * H + H, 2 * H, (kind == HD_NN_SET ? 2 * H : H) * H + H, H * 5 + 5};
    size_t o = 0;
    for (int k = 0; k < 5; k++) {
        A->off[k] = o;
        o += sz[k];
    }
    A->n_params = o;
    return 0;
}

void hd_nn_init_params(const hd_nn_arch *A, uint64_t seed, float *p)
{
    size_t H = (size_t)A->hidden, in1 = A->kind == HD_NN_SET ? (size_t)A->din : (size_t)A->R * A->din;
    size_t fan_in[5] = {in1, H, 0, A->kind == HD_NN_SET ? 2 * H : H, H}, fan_out[5] = {H, H, 0, H, 5};
    memset(p, 0, A->n_params * sizeof *p);
    for (int k = 0; k < 5; k++) {
        if (k == 2) { /* layer norm: gain 1, bias 0 */
            for (size_t j = 0; j < H; j++)
                p[A->off[2] + j] = 1;
            continue;
        }
        hd_rng g;
        hd_rng_init(&g, seed, 0x6e6e, (uint32_t)k, 1);
        double s = k == 4 ? 0.01 : sqrt(2.0 / fan_in[k]); /* He; a small last layer */
        for (size_t i = 0; i < fan_in[k] * fan_out[k]; i++)
            p[A->off[k] + i] = (float)(s * hd_rng_normal(&g));
    }
}

int hd_nn_event_inputs(const hd_locate_net *net, const hd_locate_obs *obs, float *x, uint8_t *m, double anchor[3])
{
    const int R = net->R, F = HD_FEAT_COUNT;
    double toa[HD_MAX_STATIONS] = {0}, var[HD_MAX_STATIONS];
    uint64_t timed = 0;
    if (obs->tmask && hd_locate_arrivals(R, obs, net->cfg.outlier_sigma, toa, var, &timed) < 0)
        timed = 0;
    /* the anchor: the hybrid fit, else the centroid of the receivers heard */
    hd_locate_result res;
    int rc = hd_locate(net, obs, HD_LOC_HYBRID, &res);
    if (rc < 0)
        return rc;
    double ae = 0, an = 0, sig_km = 300;
    if (res.status == HD_LOC_OK || res.status == HD_LOC_OUTSIDE) {
        ae = res.e;
        an = res.n;
        sig_km = sqrt(fmax(res.cov[0] + res.cov[2], 1e-6)) / 1000;
    } else {
        int n = 0;
        for (int r = 0; r < R; r++)
            if (obs->mask[r] && isfinite(net->rx_en[r][0])) {
                ae += net->rx_en[r][0];
                an += net->rx_en[r][1];
                n++;
            }
        ae = n ? ae / n : 0;
        an = n ? an / n : 0;
    }
    anchor[0] = ae;
    anchor[1] = an;
    /* the unit of the correction: the anchor's own 1-sigma (m), within 10 m
     * and 300 km, so the network learns in units of the anchor's error */
    anchor[2] = fmin(3e5, fmax(10, sig_km * 1000 / sqrt(2)));
    /* arrival-time residuals at the anchor, centred over the timed receivers */
    double resid[HD_MAX_STATIONS] = {0}, mean = 0;
    int nt = 0;
    if (timed) {
        double lat, lon, p[3];
        hd_locate_to_geo(net, ae, an, &lat, &lon);
        hd_geo_to_ecef(lat, lon, net->tx_alt_m, p);
        for (int r = 0; r < R; r++) {
            if (!(timed >> r & 1))
                continue;
            const double *q = net->rx_ecef[r];
            double d = sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
            resid[r] = (toa[r] * HD_SPEED_OF_LIGHT - d) / 1000;
            mean += resid[r];
            nt++;
        }
        mean = nt ? mean / nt : 0;
    }
    for (int r = 0; r < R; r++) {
        float *v = x + (size_t)r * HD_NN_DIN;
        const float *f = obs->feat + (size_t)r * F;
        int ok = obs->mask[r] && isfinite(net->rx_en[r][0]);
        memset(v, 0, HD_NN_DIN * sizeof *v);
        m[r] = (uint8_t)ok;
        if (!ok)
            continue;
        v[HD_NN_IN_RSS] = f[HD_FEAT_RSS_DBM];
        v[HD_NN_IN_SNR] = f[HD_FEAT_SNR_DB];
        v[HD_NN_IN_HAS_IQ] = f[HD_FEAT_HAS_IQ];
        v[HD_NN_IN_GPS] = f[HD_FEAT_GPS_OK];
        if (timed >> r & 1) {
            v[HD_NN_IN_TOA] = (float)(resid[r] - mean);
            v[HD_NN_IN_TIMED] = 1;
        }
        v[HD_NN_IN_EAST] = (float)((net->rx_en[r][0] - ae) / 1000);
        v[HD_NN_IN_NORTH] = (float)((net->rx_en[r][1] - an) / 1000);
        v[HD_NN_IN_ANCHOR] = (float)log10(sig_km);
        v[HD_NN_IN_MASK] = 1;
    }
    return 0;
}

void hd_nn_normalize(float *x, int64_t rows, const float *mean, const float *std)
{
    for (int64_t i = 0; i < rows; i++) {
        float *v = x + i * HD_NN_DIN;
        if (v[HD_NN_IN_MASK] == 0)
            continue; /* absent receivers stay zero */
        for (int k = 0; k < HD_NN_DIN; k++) {
            if (k == HD_NN_IN_TOA && v[HD_NN_IN_TIMED] == 0)
                continue;
            v[k] = (v[k] - mean[k]) / std[k];
        }
    }
}

struct hd_nn_batch {
    work_f w;
    int B;
};

hd_nn_batch *hd_nn_batch_new(const hd_nn_arch *A, int B)
{
    hd_nn_batch *b = hd_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->B = B;
    if (work_alloc_f(A, B, &b->w) < 0) {
        work_free_f(&b->w);
        free(b);
        return hd_error(HD_ENOMEM, "cannot allocate a batch of %d", B), NULL;
    }
    b->w.m = hd_calloc((size_t)B * A->R + 1, 1);
    if (!b->w.m) {
        hd_nn_batch_free(b);
        return NULL;
    }
    return b;
}

void hd_nn_batch_free(hd_nn_batch *b)
{
    if (!b)
        return;
    free((void *)b->w.m);
    work_free_f(&b->w);
    free(b);
}

float *hd_nn_batch_x(hd_nn_batch *b) { return b->w.x; }
uint8_t *hd_nn_batch_m(hd_nn_batch *b) { return (uint8_t *)b->w.m; }

void hd_nn_forward(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, float *out)
{
    b->w.B = n;
    forward_f(A, p, &b->w);
    if (out)
        memcpy(out, b->w.out, (size_t)n * 5 * sizeof *out);
}

double hd_nn_loss_grad(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, const float *y, float *g)
{
    return hd_nn_loss_grad_notify(A, p, b, n, y, g, NULL, NULL);
}

double hd_nn_loss_grad_notify(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, const float *y, float *g,
                              hd_nn_grad_done done, void *ctx)
{
    b->w.B = n;
    forward_f(A, p, &b->w);
    double mean = nll_f(b->w.out, y, n, A->nu, b->w.d5);
    /* the gradient of the SUM: nll_f gives that of the mean */
    for (int i = 0; i < n * 5; i++)
        b->w.d5[i] *= (float)n;
    backward_f(A, p, &b->w, g, done, ctx);
    return mean * n;
}

void hd_nn_output(const float o[5], double mu[2], double cov[3])
{
    double a = fmin(fmax(o[2], -20), 20), b = fmin(fmax(o[3], -20), 20), c = o[4];
    mu[0] = o[0];
    mu[1] = o[1];
    cov[0] = exp(2 * a);
    cov[1] = c * exp(a);
    cov[2] = c * c + exp(2 * b);
}

HD_NN_VEC void hd_nn_adamw(float *p, const float *g, float *m, float *v, size_t n, double lr, double wd, int64_t t)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = (float)(b1 * m[i] + (1 - b1) * g[i]);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
        double mh = m[i] / c1, vh = v[i] / c2;
        p[i] = (float)(p[i] - lr * (mh / (sqrt(vh) + eps) + wd * p[i]));
    }
}

HD_NN_VEC double hd_nn_scale_sumsq(float *g, size_t n, float div)
{
    /* the squares are exact in double; their sum in 8 interleaved partial
     * sums (a fixed order, whatever the machine), not one chain of n
     * dependent additions */
    double s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            g[i + k] /= div;
            s[k] += (double)g[i + k] * g[i + k];
        }
    for (; i < n; i++) {
        g[i] /= div;
        s[i % 8] += (double)g[i] * g[i];
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void hd_nn_clip_to(float *g, size_t n, double norm, double max)
{
    if (max > 0 && norm > max)
        for (size_t i = 0; i < n; i++)
            g[i] = (float)(g[i] * (max / norm));
}

double hd_nn_scale_clip(float *g, size_t n, float div, double max)
{
    double norm = sqrt(hd_nn_scale_sumsq(g, n, div));
    hd_nn_clip_to(g, n, norm, max);
    return norm;
}

double hd_nn_clip(float *g, size_t n, double max)
{
    return hd_nn_scale_clip(g, n, 1.0f, max);
}

double hd_nn_lr(double base, int64_t t, int64_t warmup, int64_t total)
{
    if (warmup > 0 && t < warmup)
        return base * (double)(t + 1) / warmup;
    double span = (double)(total > warmup ? total - warmup : 1), u = fmin(1.0, (double)(t - warmup) / span);
    return base * (0.1 + 0.9 * 0.5 * (1 + cos(M_PI * u)));
}

static int double_work(const hd_nn_arch *A, const float *x, const uint8_t *m, int n, work_d *w)
{
    if (work_alloc_d(A, n, w) < 0) {
        work_free_d(w);
        return HD_ENOMEM;
    }
    for (size_t i = 0; i < (size_t)n * A->R * A->din; i++)
        w->x[i] = x[i];
    w->m = m;
    return 0;
}

double hd_nn_loss_double(const hd_nn_arch *A, const double *pd, const float *x, const uint8_t *m, int n,
                         const float *y)
{
    work_d w;
    if (double_work(A, x, m, n, &w) < 0)
        return NAN;
    double *yd = malloc((size_t)n * 2 * sizeof *yd);
    for (int i = 0; yd && i < 2 * n; i++)
        yd[i] = y[i];
    forward_d(A, pd, &w);
    double l = yd ? nll_d(w.out, yd, n, A->nu, NULL) * n : NAN;
    free(yd);
    work_free_d(&w);
    return l;
}

double hd_nn_loss_grad_double(const hd_nn_arch *A, const double *pd, const float *x, const uint8_t *m, int n,
                              const float *y, double *g)
{
    work_d w;
    if (double_work(A, x, m, n, &w) < 0)
        return NAN;
    double *yd = malloc((size_t)n * 2 * sizeof *yd);
    for (int i = 0; yd && i < 2 * n; i++)
        yd[i] = y[i];
    forward_d(A, pd, &w);
    double l = yd ? nll_d(w.out, yd, n, A->nu, w.d5) * n : NAN;
    for (int i = 0; i < n * 5; i++)
        w.d5[i] *= n;
    backward_d(A, pd, &w, g, NULL, NULL);
    free(yd);
    work_free_d(&w);
    return l;
}
