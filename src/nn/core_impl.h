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

/* y = x W (no bias: the pass after the product adds it, fused with the
 * activation) */
static void F(matmul)(const T *x, const T *W, T *y, int n, int in, int out)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1, x, in, W, out, 0, y, out);
}

/* dW += xᵀ dy, dx = dy Wᵀ (if dx); db is summed in the element-wise pass
 * that made dy (act_back_db, norm_back) */
static void F(dense_back)(const T *x, const T *W, const T *dy, T *dx, T *dW, int n, int in, int out)
{
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, n, 1, x, in, dy, out, 1, dW, out);
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1, dy, out, W, out, 0, dx, in);
}

#define GELU_K 0.7978845608028654 /* sqrt(2/pi) */
#define NN_RB 8 /* rows whose sums run side by side (latency, not order) */

/* One pass after each product: a += b (the bias, per row), then h = act(a);
 * for GELU also sg = 0.5 (1 + tanh u) = 1 / (1 + e^{-2u}) (one exponential,
 * not tanh's two), which the backward pass reuses. Each element takes the
 * same operations as in a bias copied before the product (beta 1). */
static inline void F(bias_act_rows)(T *restrict a, const T *restrict b, T *restrict h, T *restrict sg, int n, int H,
                                    int gelu)
{
    for (int i = 0; i < n; i++) {
        T *restrict ar = a + (size_t)i * H, *restrict hr = h + (size_t)i * H, *restrict sr = sg + (size_t)i * H;
        if (gelu) {
            for (int j = 0; j < H; j++) {
                T v = ar[j] + b[j];
                T s = 1 / (1 + EXP((T)(-2 * GELU_K) * (v + (T)0.044715 * v * v * v)));
                ar[j] = v;
                sr[j] = s;
                hr[j] = v * s;
            }
        } else {
            for (int j = 0; j < H; j++) {
                T v = ar[j] + b[j];
                ar[j] = v;
                hr[j] = v > 0 ? v : 0;
            }
        }
    }
}

HD_NN_VEC static void F(bias_act)(T *restrict a, const T *restrict b, T *restrict h, T *restrict sg, int n, int H, int gelu)
{
    F(bias_act_rows)(a, b, h, sg, n, H, gelu);
}

HD_NN_VEC static void F(bias)(T *restrict y, const T *restrict b, int n, int out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++)
            y[(size_t)i * out + j] += b[j];
}

/* d ← d act'(a) and db += d, row after row (the order of a separate sum) */
static inline void F(act_back_rows)(const T *restrict a, const T *restrict sg, T *restrict d, T *restrict db, int n,
                                    int H, int gelu)
{
    for (int i = 0; i < n; i++) {
        const T *restrict ar = a + (size_t)i * H, *restrict sr = sg + (size_t)i * H;
        T *restrict dr = d + (size_t)i * H;
        if (gelu) {
            for (int j = 0; j < H; j++) {
                T v = ar[j], s = sr[j], du = (T)GELU_K * (1 + 3 * (T)0.044715 * v * v);
                dr[j] *= s + 2 * v * s * (1 - s) * du;
                db[j] += dr[j];
            }
        } else {
            for (int j = 0; j < H; j++) {
                dr[j] *= ar[j] > 0 ? 1 : 0;
                db[j] += dr[j];
            }
        }
    }
}

HD_NN_VEC static void F(act_back_db)(const T *restrict a, const T *restrict sg, T *restrict d, T *restrict db, int n,
                                     int H, int gelu)
{
    F(act_back_rows)(a, sg, d, db, n, H, gelu);
}

/* Each row's mean and variance summed in column order, as one row at a
 * time would; NN_RB rows side by side so that the sums do not wait on each
 * other's latency. */
static inline void F(row_stats)(const T *restrict x, T *restrict mu, T *restrict rs, int nb, int h)
{
    T m[NN_RB] = {0}, v[NN_RB] = {0};
    if (nb == NN_RB) {
        for (int j = 0; j < h; j++)
            for (int k = 0; k < NN_RB; k++)
                m[k] += x[(size_t)k * h + j];
    } else {
        for (int k = 0; k < nb; k++)
            for (int j = 0; j < h; j++)
                m[k] += x[(size_t)k * h + j];
    }
    for (int k = 0; k < nb; k++)
        m[k] /= h;
    if (nb == NN_RB) {
        for (int j = 0; j < h; j++)
            for (int k = 0; k < NN_RB; k++) {
                T c = x[(size_t)k * h + j] - m[k];
                v[k] += c * c;
            }
    } else {
        for (int k = 0; k < nb; k++)
            for (int j = 0; j < h; j++) {
                T c = x[(size_t)k * h + j] - m[k];
                v[k] += c * c;
            }
    }
    for (int k = 0; k < nb; k++) {
        mu[k] = m[k];
        rs[k] = 1 / SQRT(v[k] / h + (T)1e-5);
    }
}

/* After the second product: bias, activation (h, sg kept) and layer norm
 * y = (h − μ) / σ · g + be (row statistics mu, rs kept), in blocks of rows
 * that stay in cache. */
HD_NN_VEC static void F(bias_act_norm)(T *restrict a, const T *restrict b, T *restrict h, T *restrict sg,
                                       const T *restrict g, const T *restrict be, T *restrict y, T *restrict mu,
                                       T *restrict rs, int n, int H, int gelu)
{
    for (int i0 = 0; i0 < n; i0 += NN_RB) {
        const int nb = n - i0 < NN_RB ? n - i0 : NN_RB;
        const size_t o = (size_t)i0 * H;
        F(bias_act_rows)(a + o, b, h + o, sg + o, nb, H, gelu);
        F(row_stats)(h + o, mu + i0, rs + i0, nb, H);
        for (int k = 0; k < nb; k++) {
            const T *restrict r = h + o + (size_t)k * H;
            T *restrict yr = y + o + (size_t)k * H, m = mu[i0 + k], s = rs[i0 + k];
            for (int j = 0; j < H; j++)
                yr[j] = (r[j] - m) * s * g[j] + be[j];
        }
    }
}

/* The layer norm's backward pass (dy in d, dx out in d; dg, db summed)
 * followed by the activation's below it (d ← d act'(a); dbias += d), in
 * blocks of rows. x: the layer norm's input (h). */
HD_NN_VEC static void F(norm_act_back)(const T *restrict x, const T *restrict g, const T *restrict mu,
                                       const T *restrict rs, T *restrict d, T *restrict dg, T *restrict db,
                                       const T *restrict a, const T *restrict sg, T *restrict dbias, int n, int h,
                                       int gelu)
{
    for (int i0 = 0; i0 < n; i0 += NN_RB) {
        const int nb = n - i0 < NN_RB ? n - i0 : NN_RB;
        const size_t o = (size_t)i0 * h;
        T sd[NN_RB] = {0}, sdx[NN_RB] = {0};
        /* dg, db: row after row, vectorised along the columns */
        for (int k = 0; k < nb; k++) {
            const T *restrict r = x + o + (size_t)k * h, *restrict dr = d + o + (size_t)k * h;
            const T m = mu[i0 + k], s = rs[i0 + k];
            for (int j = 0; j < h; j++) {
                T xh = (r[j] - m) * s;
                dg[j] += dr[j] * xh;
                db[j] += dr[j];
            }
        }
        /* each row's two sums in column order, the rows side by side */
        if (nb == NN_RB) {
            for (int j = 0; j < h; j++)
                for (int k = 0; k < NN_RB; k++) {
                    const size_t q = o + (size_t)k * h + j;
                    T xh = (x[q] - mu[i0 + k]) * rs[i0 + k], dxh = d[q] * g[j];
                    sd[k] += dxh;
                    sdx[k] += dxh * xh;
                }
        } else {
            for (int k = 0; k < nb; k++)
                for (int j = 0; j < h; j++) {
                    const size_t q = o + (size_t)k * h + j;
                    T xh = (x[q] - mu[i0 + k]) * rs[i0 + k], dxh = d[q] * g[j];
                    sd[k] += dxh;
                    sdx[k] += dxh * xh;
                }
        }
        for (int k = 0; k < nb; k++) {
            const T *restrict r = x + o + (size_t)k * h;
            T *restrict dr = d + o + (size_t)k * h;
            const T m = mu[i0 + k], s = rs[i0 + k], a1 = sd[k], a2 = sdx[k];
            for (int j = 0; j < h; j++) {
                T xh = (r[j] - m) * s, dxh = dr[j] * g[j];
                dr[j] = s / h * (h * dxh - a1 - xh * a2);
            }
        }
        F(act_back_rows)(a + o, sg + o, d + o, dbias, nb, h, gelu);
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
    /* the set encoder: every receiver of every event as one product (rows B·R) */
    F(matmul)(w->x, W1, w->a1, rows, in1, H);
    F(bias_act)(w->a1, b1, w->h1, w->s1, rows, H, A->gelu);
    F(matmul)(w->h1, W2, w->a2, rows, H, H);
    F(bias_act_norm)(w->a2, b2, w->h2, w->s2, g, be, w->ln, w->mu_ln, w->rs_ln, rows, H, A->gelu);
    if (set) { /* masked mean and max over each event's receivers */
        F(pool)(w->ln, w->m, w->pool, w->argmax, B, R, H);
        F(matmul)(w->pool, W3, w->a3, B, 2 * H, H);
    } else {
        F(matmul)(w->ln, W3, w->a3, B, H, H);
    }
    F(bias_act)(w->a3, b3, w->h3, w->s3, B, H, A->gelu);
    F(matmul)(w->h3, W4, w->out, B, H, 5);
    F(bias)(w->out, b4, B, 5);
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

/* Backward from dout[B*5] (in w->d5): gradients added into gp. Each
 * layer's gradients are final, last layer first, when done(ctx, off, n) is
 * called with their range of gp (when done is not NULL): a caller can start
 * summing them across ranks while the layers below are computed. */
static void F(backward)(const hd_nn_arch *A, const T *p, F(work) *w, T *gp, void (*done)(void *, size_t, size_t),
                        void *ctx)
{
    const int B = w->B, R = A->R, D = A->din, H = A->hidden, set = A->kind == HD_NN_SET;
    const int rows = set ? B * R : B, in1 = set ? D : R * D;
    const T *W1 = p + A->off[0], *W2 = p + A->off[1], *g = p + A->off[2], *W3 = p + A->off[3], *W4 = p + A->off[4];
    T *gW1 = gp + A->off[0], *gb1 = gW1 + in1 * H, *gW2 = gp + A->off[1], *gb2 = gW2 + H * H;
    T *gg = gp + A->off[2], *gbe = gg + H, *gW3 = gp + A->off[3], *gb3 = gW3 + (set ? 2 * H : H) * H;
    T *gW4 = gp + A->off[4], *gb4 = gW4 + H * 5;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < 5; j++)
            gb4[j] += w->d5[(size_t)i * 5 + j];
    F(dense_back)(w->h3, W4, w->d5, w->d4, gW4, B, H, 5);
    if (done)
        done(ctx, A->off[4], A->n_params - A->off[4]);
    F(act_back_db)(w->a3, w->s3, w->d4, gb3, B, H, A->gelu);
    if (set) {
        F(dense_back)(w->pool, W3, w->d4, w->d3, gW3, B, 2 * H, H);
        if (done)
            done(ctx, A->off[3], A->off[4] - A->off[3]);
        /* the pooling's backward: every row written (no clearing pass) */
        for (int e = 0; e < B; e++) {
            const T *dm = w->d3 + (size_t)e * 2 * H, *dx = dm + H;
            int n = 0;
            for (int r = 0; r < R; r++)
                n += w->m[e * R + r] != 0;
            for (int r = 0; r < R; r++) {
                T *d = w->d2 + ((size_t)e * R + r) * H;
                if (!w->m[e * R + r]) {
                    memset(d, 0, (size_t)H * sizeof *d);
                    continue;
                }
                for (int j = 0; j < H; j++) /* 0 + …: the sum into a cleared row, signed zeros and all */
                    d[j] = (T)0 + dm[j] / n;
            }
            for (int j = 0; j < H; j++)
                if (w->argmax[e * H + j] >= 0)
                    w->d2[((size_t)e * R + w->argmax[e * H + j]) * H + j] += dx[j];
        }
    } else {
        F(dense_back)(w->ln, W3, w->d4, w->d2, gW3, B, H, H);
        if (done)
            done(ctx, A->off[3], A->off[4] - A->off[3]);
    }
    F(norm_act_back)(w->h2, g, w->mu_ln, w->rs_ln, w->d2, gg, gbe, w->a2, w->s2, gb2, rows, H, A->gelu);
    if (done)
        done(ctx, A->off[2], A->off[3] - A->off[2]);
    F(dense_back)(w->h1, W2, w->d2, w->d1, gW2, rows, H, H);
    if (done)
        done(ctx, A->off[1], A->off[2] - A->off[1]);
    F(act_back_db)(w->a1, w->s1, w->d1, gb1, rows, H, A->gelu);
    F(dense_back)(w->x, W1, w->d1, NULL, gW1, rows, in1, H);
    if (done)
        done(ctx, A->off[0], A->off[1] - A->off[0]);
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
