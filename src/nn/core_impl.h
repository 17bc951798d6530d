/* The network's arithmetic, written once for a real type: included by
 * nn.c with T = float (training, inference; cblas_sgemm) and T = double
 * (the finite-difference reference of the gradient tests; cblas_dgemm).
 * Needs: T, F(name) (the suffixed name), GEMM (cblas_?gemm), EXP, SQRT. Buffers are row-major; a batch is B events × R receivers.
 *
 * The set model: per receiver x[Din] → dense H → act → dense H → act →
 * layer norm (the shared encoder); masked mean and max over the event's
 * receivers → [2H] → dense H → act → dense 5 (the head). The MLP baseline:
 * the event's receivers flattened [R·Din] → dense H → act → dense H → act →
 * layer norm → dense 5. The five outputs are the mean (east, north, km) and
 * the Cholesky factor of the covariance: L = [[e^a, 0], [c, e^b]]. */

typedef struct {
    int B;                   /* events in the batch */
    T *x;                    /* [B*R*Din] inputs (set) or [B*R*Din] flattened (mlp) */
    const uint8_t *m;        /* [B*R] receiver present */
    T *a1, *h1, *a2, *h2, *ln, *pool, *a3, *h3, *out;
    T *s1, *s2, *s3;         /* GELU's sigmoid of each activation, kept for the backward pass */
    T *mu_ln, *rs_ln;        /* layer-norm statistics per row */
    int *argmax;             /* [B*H] max pooling's receiver */
    T *d1, *d2, *d3, *d4, *d5; /* backward scratch */
} F(work);

static void F(dense)(const T *x, const T *W, const T *b, T *y, int n, int in, int out)
{
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1, x, in, W, out, 1, y, out);
}

/* dx = dy Wᵀ (if dx), dW += xᵀ dy, db += Σ dy */
static void F(dense_back)(const T *x, const T *W, const T *dy, T *dx, T *dW, T *db, int n, int in, int out)
{
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, n, 1, x, in, dy, out, 1, dW, out);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++)
            db[j] += dy[(size_t)i * out + j];
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1, dy, out, W, out, 0, dx, in);
}

#define GELU_K 0.7978845608028654 /* sqrt(2/pi) */
/* h = act(a); for GELU also sg = 0.5 (1 + tanh u) = 1 / (1 + e^{-2u}) (one
 * exponential, not tanh's two), which the backward pass reuses */
HD_NN_VEC static void F(act)(const T *restrict a, T *restrict h, T *restrict sg, size_t n, int gelu)
{
    if (gelu) {
        for (size_t i = 0; i < n; i++) {
            T v = a[i], s = 1 / (1 + EXP((T)(-2 * GELU_K) * (v + (T)0.044715 * v * v * v)));
            sg[i] = s;
            h[i] = v * s;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            h[i] = a[i] > 0 ? a[i] : 0;
    }
}

HD_NN_VEC static void F(act_back)(const T *restrict a, const T *restrict sg, T *restrict d, size_t n, int gelu)
{
    if (gelu) {
        for (size_t i = 0; i < n; i++) {
            T v = a[i], s = sg[i], du = (T)GELU_K * (1 + 3 * (T)0.044715 * v * v);
            d[i] *= s + 2 * v * s * (1 - s) * du;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] *= a[i] > 0 ? 1 : 0;
    }
}

HD_NN_VEC static void F(layernorm)(const T *x, const T *g, const T *b, T *y, T *mu, T *rs, int n, int h)
{
    for (int i = 0; i < n; i++) {
        const T *r = x + (size_t)i * h;
        T m = 0, v = 0;
        for (int j = 0; j < h; j++)
            m += r[j];
        m /= h;
        for (int j = 0; j < h; j++)
            v += (r[j] - m) * (r[j] - m);
        T s = 1 / SQRT(v / h + (T)1e-5);
        mu[i] = m;
        rs[i] = s;
        for (int j = 0; j < h; j++)
            y[(size_t)i * h + j] = (r[j] - m) * s * g[j] + b[j];
    }
}

/* dy in, dx out (may alias dy); dg, db accumulated */
HD_NN_VEC static void F(layernorm_back)(const T *x, const T *g, const T *mu, const T *rs, T *dy, T *dg, T *db, int n, int h)
{
    for (int i = 0; i < n; i++) {
        const T *r = x + (size_t)i * h;
        T *d = dy + (size_t)i * h, sd = 0, sdx = 0;
        for (int j = 0; j < h; j++) {
            T xh = (r[j] - mu[i]) * rs[i];
            dg[j] += d[j] * xh;
            db[j] += d[j];
            T dxh = d[j] * g[j];
            sd += dxh;
            sdx += dxh * xh;
        }
        for (int j = 0; j < h; j++) {
            T xh = (r[j] - mu[i]) * rs[i], dxh = d[j] * g[j];
            d[j] = rs[i] / h * (h * dxh - sd - xh * sdx);
        }
    }
}

/* Forward: out[B*5]. p: the flat parameters (layout in hd_nn_arch). */
/* masked mean and max over each event's receivers: pool[B × 2H] = [mean, max];
 * argmax the first receiver holding the max (-1 when none is present) */
HD_NN_VEC static void F(pool)(const T *restrict ln, const uint8_t *m, T *restrict pool, int *restrict argmax, int B, int R,
                               int H)
{
    for (int e = 0; e < B; e++) {
        T *restrict pm = pool + (size_t)e * 2 * H, *restrict px = pm + H;
        int *restrict am = argmax + (size_t)e * H;
        int n = 0;
        for (int r = 0; r < R; r++) {
            if (!m[e * R + r])
                continue;
            const T *restrict hr = ln + ((size_t)e * R + r) * H;
            if (!n++) {
                for (int j = 0; j < H; j++) {
                    pm[j] = hr[j];
                    px[j] = hr[j];
                    am[j] = r;
                }
                continue;
            }
            for (int j = 0; j < H; j++) { /* branch-free: vectorises */
                int gt = hr[j] > px[j];
                pm[j] += hr[j];
                px[j] = gt ? hr[j] : px[j];
                am[j] = gt ? r : am[j];
            }
        }
        if (!n)
            for (int j = 0; j < H; j++) {
                pm[j] = 0;
                px[j] = 0;
                am[j] = -1;
            }
        for (int j = 0; n > 1 && j < H; j++)
            pm[j] /= n;
    }
}

static void F(forward)(const hd_nn_arch *A, const T *p, F(work) *w)
{
    const int B = w->B, R = A->R, D = A->din, H = A->hidden, set = A->kind == HD_NN_SET;
    const int rows = set ? B * R : B, in1 = set ? D : R * D;
    const T *W1 = p + A->off[0], *b1 = W1 + in1 * H, *W2 = p + A->off[1], *b2 = W2 + H * H;
    const T *g = p + A->off[2], *be = g + H, *W3 = p + A->off[3], *b3 = W3 + (set ? 2 * H : H) * H;
    const T *W4 = p + A->off[4], *b4 = W4 + H * 5;
    F(dense)(w->x, W1, b1, w->a1, rows, in1, H);
    F(act)(w->a1, w->h1, w->s1, (size_t)rows * H, A->gelu);
    F(dense)(w->h1, W2, b2, w->a2, rows, H, H);
    F(act)(w->a2, w->h2, w->s2, (size_t)rows * H, A->gelu);
    F(layernorm)(w->h2, g, be, w->ln, w->mu_ln, w->rs_ln, rows, H);
    if (set) { /* masked mean and max over each event's receivers */
        F(pool)(w->ln, w->m, w->pool, w->argmax, B, R, H);
        F(dense)(w->pool, W3, b3, w->a3, B, 2 * H, H);
    } else {
        F(dense)(w->ln, W3, b3, w->a3, B, H, H);
    }
    F(act)(w->a3, w->h3, w->s3, (size_t)B * H, A->gelu);
    F(dense)(w->h3, W4, b4, w->out, B, H, 5);
}

/* NLL of targets y[B*2] (km) under out, covariance L Lᵀ with
 * L = [[e^a, 0], [c, e^b]], q = |L⁻¹ (y − μ)|²: the mean over the batch of
 * 0.5 q + a + b (+ log 2π), a Gaussian (nu 0); or for a Student-t with nu > 2
 * degrees of freedom and that covariance (scale L Lᵀ (nu − 2)/nu)
 * 0.5 (nu + 2) log(1 + q/(nu − 2)) + a + b + log((nu − 2)/nu) (+ log 2π).
 * The t's gradient is the Gaussian's with the q terms weighted by
 * (nu + 2)/(nu − 2 + q): a far outlier pulls less. dout[B*5] = dNLL/dout
 * (of the mean) when not NULL. */
static double F(nll)(const T *out, const T *y, int B, double nu, T *dout)
{
    double sum = 0;
    const int t = nu > 2;
    for (int e = 0; e < B; e++) {
        const T *o = out + (size_t)e * 5;
        T a = o[2], b = o[3], c = o[4];
        if (a > 20) a = 20;
        if (a < -20) a = -20;
        if (b > 20) b = 20;
        if (b < -20) b = -20;
        T ea = EXP(-a), eb = EXP(-b);
        T d1 = y[2 * e] - o[0], d2 = y[2 * e + 1] - o[1];
        T z1 = d1 * ea, z2 = (d2 - c * z1) * eb;
        double q = (double)z1 * z1 + (double)z2 * z2;
        sum += (t ? log((nu - 2) / nu) + 0.5 * (nu + 2) * log1p(q / (nu - 2)) : 0.5 * q) + a + b +
               1.8378770664093453;
        if (dout) {
            T wq = t ? (T)((nu + 2) / (nu - 2 + q)) : (T)1;
            T *g = dout + (size_t)e * 5, s = (T)1 / B;
            T gz2 = wq * z2, gz1 = wq * (z1 - z2 * c * eb);
            g[0] = -gz1 * ea * s;
            g[1] = -gz2 * eb * s;
            g[2] = (o[2] > 20 || o[2] < -20) ? 0 : (1 - gz1 * z1) * s;
            g[3] = (o[3] > 20 || o[3] < -20) ? 0 : (1 - gz2 * z2) * s;
            g[4] = -gz2 * z1 * eb * s;
        }
    }
    return sum / (B > 0 ? B : 1);
}

/* Backward from dout[B*5] (in w->d5): gradients added into gp. */
static void F(backward)(const hd_nn_arch *A, const T *p, F(work) *w, T *gp)
{
    const int B = w->B, R = A->R, D = A->din, H = A->hidden, set = A->kind == HD_NN_SET;
    const int rows = set ? B * R : B, in1 = set ? D : R * D;
    const T *W1 = p + A->off[0], *W2 = p + A->off[1], *g = p + A->off[2], *W3 = p + A->off[3], *W4 = p + A->off[4];
    T *gW1 = gp + A->off[0], *gb1 = gW1 + in1 * H, *gW2 = gp + A->off[1], *gb2 = gW2 + H * H;
    T *gg = gp + A->off[2], *gbe = gg + H, *gW3 = gp + A->off[3], *gb3 = gW3 + (set ? 2 * H : H) * H;
    T *gW4 = gp + A->off[4], *gb4 = gW4 + H * 5;
    F(dense_back)(w->h3, W4, w->d5, w->d4, gW4, gb4, B, H, 5);
    F(act_back)(w->a3, w->s3, w->d4, (size_t)B * H, A->gelu);
    if (set) {
        F(dense_back)(w->pool, W3, w->d4, w->d3, gW3, gb3, B, 2 * H, H);
        memset(w->d2, 0, (size_t)rows * H * sizeof *w->d2);
        for (int e = 0; e < B; e++) {
            const T *dm = w->d3 + (size_t)e * 2 * H, *dx = dm + H;
            int n = 0;
            for (int r = 0; r < R; r++)
                n += w->m[e * R + r] != 0;
            for (int r = 0; n && r < R; r++) {
                if (!w->m[e * R + r])
                    continue;
                T *d = w->d2 + ((size_t)e * R + r) * H;
                for (int j = 0; j < H; j++)
                    d[j] += dm[j] / n;
            }
            for (int j = 0; j < H; j++)
                if (w->argmax[e * H + j] >= 0)
                    w->d2[((size_t)e * R + w->argmax[e * H + j]) * H + j] += dx[j];
        }
    } else {
        F(dense_back)(w->ln, W3, w->d4, w->d2, gW3, gb3, B, H, H);
    }
    F(layernorm_back)(w->h2, g, w->mu_ln, w->rs_ln, w->d2, gg, gbe, rows, H);
    F(act_back)(w->a2, w->s2, w->d2, (size_t)rows * H, A->gelu);
    F(dense_back)(w->h1, W2, w->d2, w->d1, gW2, gb2, rows, H, H);
    F(act_back)(w->a1, w->s1, w->d1, (size_t)rows * H, A->gelu);
    F(dense_back)(w->x, W1, w->d1, NULL, gW1, gb1, rows, in1, H);
}

static int F(work_alloc)(const hd_nn_arch *A, int B, F(work) *w)
{
    memset(w, 0, sizeof *w);
    const int R = A->R, D = A->din, H = A->hidden, set = A->kind == HD_NN_SET;
    size_t rows = set ? (size_t)B * R : (size_t)B;
    w->B = B;
    w->x = calloc((size_t)B * R * D + 1, sizeof(T));
    w->a1 = calloc(rows * H, sizeof(T));
    w->h1 = calloc(rows * H, sizeof(T));
    w->a2 = calloc(rows * H, sizeof(T));
    w->h2 = calloc(rows * H, sizeof(T));
    w->ln = calloc(rows * H, sizeof(T));
    w->mu_ln = calloc(rows, sizeof(T));
    w->rs_ln = calloc(rows, sizeof(T));
    w->pool = calloc((size_t)B * 2 * H, sizeof(T));
    w->argmax = calloc((size_t)B * H, sizeof(int));
    w->a3 = calloc((size_t)B * H, sizeof(T));
    w->h3 = calloc((size_t)B * H, sizeof(T));
    w->out = calloc((size_t)B * 5, sizeof(T));
    w->d1 = calloc(rows * H, sizeof(T));
    w->d2 = calloc(rows * H, sizeof(T));
    w->d3 = calloc((size_t)B * 2 * H, sizeof(T));
    w->d4 = calloc((size_t)B * H, sizeof(T));
    w->d5 = calloc((size_t)B * 5, sizeof(T));
    w->s1 = calloc(rows * H, sizeof(T));
    w->s2 = calloc(rows * H, sizeof(T));
    w->s3 = calloc((size_t)B * H, sizeof(T));
    return w->x && w->a1 && w->h1 && w->a2 && w->h2 && w->ln && w->mu_ln && w->rs_ln && w->pool && w->argmax &&
                   w->a3 && w->h3 && w->out && w->d1 && w->d2 && w->d3 && w->d4 && w->d5 && w->s1 && w->s2 && w->s3
               ? 0
               : -1;
}

static void F(work_free)(F(work) *w)
{
    T *ps[] = {w->x, w->a1, w->h1, w->a2, w->h2, w->ln, w->mu_ln, w->rs_ln, w->pool,
               w->a3, w->h3, w->out, w->d1, w->d2, w->d3, w->d4, w->d5, w->s1, w->s2, w->s3};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        free(ps[i]);
    free(w->argmax);
    memset(w, 0, sizeof *w);
}
