/* The training loop of the learned localizer (see train.h). Moved from
 * cmd/train.c unchanged in its arithmetic: compiled at plain -O2 like the
 * command was, so a trained model is bit-identical. */
#include "nn/train.h"
#include "nn/blas.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/rng.h"
#include "features/features.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int hd_nn_dataset_init(hd_nn_dataset *d, int64_t E, int R)
{
    memset(d, 0, sizeof *d);
    size_t En = (size_t)(E > 0 ? E : 1);
    d->E = E;
    d->R = R;
    d->x = hd_calloc(En * R * HD_NN_DIN, sizeof *d->x);
    d->m = hd_calloc(En * R, 1);
    d->y = hd_calloc(En * 2, sizeof *d->y);
    d->index = hd_calloc(En, sizeof *d->index);
    d->unit = hd_calloc(En, sizeof *d->unit);
    d->use = hd_calloc(En, 1);
    d->train = hd_calloc(En, sizeof *d->train);
    d->val = hd_calloc(En, sizeof *d->val);
    if (!d->x || !d->m || !d->y || !d->index || !d->unit || !d->use || !d->train || !d->val) {
        hd_nn_dataset_release(d);
        return HD_ENOMEM;
    }
    return 0;
}

void hd_nn_dataset_release(hd_nn_dataset *d)
{
    free(d->x);
    free(d->m);
    free(d->y);
    free(d->index);
    free(d->unit);
    free(d->use);
    free(d->train);
    free(d->val);
    memset(d, 0, sizeof *d);
}

int hd_nn_dataset_prepare(hd_nn_dataset *d, const hd_locate_net *net, const hd_nn_source *src, int64_t e0,
                          int64_t e1, uint64_t seed, double val_fraction)
{
    const int R = d->R, F = HD_FEAT_COUNT;
    const int64_t Pn = src->P;
    for (int64_t e = e0; e < e1; e++) {
        hd_locate_obs obs = {src->feat + (size_t)e * R * F, src->mask + (size_t)e * R, src->delay + (size_t)e * Pn,
                             src->sigma + (size_t)e * Pn, src->tmask + (size_t)e * Pn, NULL, NULL};
        double anchor[3];
        int rc = hd_nn_event_inputs(net, &obs, d->x + (size_t)e * R * HD_NN_DIN, d->m + (size_t)e * R, anchor);
        if (rc < 0)
            return rc;
        const hd_event *ev = &src->ev[e];
        d->index[e] = ev->index;
        double te, tn;
        int any = 0;
        for (int r = 0; r < R; r++)
            any |= d->m[(size_t)e * R + r];
        if (!any || !isfinite(ev->truth.lat) || !isfinite(ev->truth.lon))
            continue; /* nothing heard, or no truth: not for learning */
        if (src->group && src->group[e] == src->exclude_group) {
            d->use[e] = HD_NN_HELD_OUT;
            continue; /* held out for an honest evaluation */
        }
        hd_locate_from_geo(net, ev->truth.lat, ev->truth.lon, &te, &tn);
        d->y[2 * e] = (float)((te - anchor[0]) / anchor[2]); /* the correction, in the anchor's sigma */
        d->y[2 * e + 1] = (float)((tn - anchor[1]) / anchor[2]);
        d->unit[e] = anchor[2];
        /* the split by a hash of the event: the same whatever the ranks or order */
        d->use[e] = (double)(mix(seed * 0x51ed27ULL ^ (uint64_t)ev->index) % 1000000) < val_fraction * 1e6
                        ? HD_NN_VALIDATE
                        : HD_NN_TRAIN;
    }
    return 0;
}

/* Each rank prepared events [block) of d (and use[]): gather every block to
 * every rank, one event per element so counts stay small. */
static int share_shards(hd_nn_dataset *d, MPI_Comm comm, int size)
{
    const int64_t E = d->E;
    int *cnt = calloc((size_t)size, sizeof *cnt), *dsp = calloc((size_t)size, sizeof *dsp);
    int rc = 0;
    if (!cnt || !dsp || E > INT_MAX) {
        free(cnt);
        free(dsp);
        return E > INT_MAX ? hd_error(HD_EDATA, "%lld events: too many to train on at once", (long long)E) : HD_ENOMEM;
    }
    for (int k = 0; k < size; k++) {
        int64_t a, b;
        hd_par_block(E, k, size, &a, &b);
        cnt[k] = (int)(b - a);
        dsp[k] = (int)a;
    }
    struct { void *buf; MPI_Datatype base; int per; } v[] = {
        {d->x, MPI_FLOAT, d->R * HD_NN_DIN}, {d->m, MPI_UINT8_T, d->R}, {d->y, MPI_FLOAT, 2},
        {d->index, MPI_INT64_T, 1},         {d->unit, MPI_DOUBLE, 1},   {d->use, MPI_INT8_T, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0] && rc == 0; i++) {
        MPI_Datatype t;
        MPI_Type_contiguous(v[i].per, v[i].base, &t);
        MPI_Type_commit(&t);
        if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v[i].buf, cnt, dsp, t, comm) != MPI_SUCCESS)
            rc = hd_error(HD_EIO, "sharing the prepared events across ranks failed");
        MPI_Type_free(&t);
    }
    free(cnt);
    free(dsp);
    return rc;
}

int hd_nn_dataset_share(hd_nn_dataset *d, int rc, MPI_Comm comm, int size)
{
    if (size < 2) /* every rank ends with every event's inputs (small next to the features) */
        return rc;
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);
    if (worst < 0 && rc == 0)
        rc = hd_error(HD_EIO, "another rank failed to read or prepare its events");
    if (rc == 0)
        rc = share_shards(d, comm, size);
    return rc;
}

int hd_nn_dataset_split(hd_nn_dataset *d)
{
    d->ntr = d->nva = d->held_out = 0;
    for (int64_t e = 0; e < d->E; e++) {
        if (d->use[e] == HD_NN_TRAIN)
            d->train[d->ntr++] = e;
        else if (d->use[e] == HD_NN_VALIDATE)
            d->val[d->nva++] = e;
        else if (d->use[e] == HD_NN_HELD_OUT)
            d->held_out++;
    }
    if (d->ntr < 2 || d->nva < 1)
        return hd_error(HD_EDATA, "%lld training and %lld validation events: too few to train", (long long)d->ntr,
                        (long long)d->nva);
    return 0;
}

int hd_nn_reducer_init(hd_nn_reducer *r, float *g, size_t n, MPI_Comm comm, size_t bucket)
{
    memset(r, 0, sizeof *r);
    if (bucket < 1 || bucket > INT_MAX)
        return hd_error(HD_EINVAL, "all-reduce bucket of %zu floats", bucket);
    r->comm = comm;
    r->g = g;
    r->n = n;
    r->bucket = bucket;
    /* room for each of the five layers' pieces; grows if a caller cuts finer */
    size_t cap = n / bucket + 8;
    if (cap > INT_MAX / 2)
        return hd_error(HD_EINVAL, "%zu gradients in buckets of %zu: too many requests", n, bucket);
    r->cap = (int)cap;
    r->req = hd_malloc(cap * sizeof *r->req);
    return r->req ? 0 : HD_ENOMEM;
}

int hd_nn_reducer_init_shards(hd_nn_reducer *r, float *g, size_t n, MPI_Comm comm, size_t bucket, int rank,
                              int size)
{
    int rc = hd_nn_reducer_init(r, g, n, comm, bucket);
    if (rc < 0)
        return rc;
    if (size < 1 || rank < 0 || rank >= size || n > INT_MAX)
        return hd_error(HD_EINVAL, "shards of %zu gradients for rank %d of %d", n, rank, size);
    int64_t a, b;
    hd_par_block((int64_t)n, rank, size, &a, &b);
    r->shards = 1;
    r->rank = rank;
    r->size = size;
    r->s0 = (size_t)a;
    r->s1 = (size_t)b;
    r->piece = hd_malloc((size_t)r->cap * sizeof *r->piece);
    r->counts = hd_malloc((size_t)r->cap * size * sizeof *r->counts);
    return r->piece && r->counts ? 0 : HD_ENOMEM;
}

/* piece [a, a + k) reduce-scattered to the ranks' shards */
static int reduce_scatter_piece(hd_nn_reducer *r, size_t a, int k)
{
    if (r->nreq == r->cap) /* the counts must stay put while the requests run: no growing */
        return hd_error(HD_EINVAL, "more than %d gradient pieces between waits", r->cap);
    int *c = r->counts + (size_t)r->nreq * r->size;
    for (int i = 0; i < r->size; i++) {
        int64_t lo, hi;
        hd_par_block((int64_t)r->n, i, r->size, &lo, &hi);
        int64_t x = (int64_t)a > lo ? (int64_t)a : lo, y = (int64_t)a + k < hi ? (int64_t)a + k : hi;
        c[i] = y > x ? (int)(y - x) : 0;
    }
    r->piece[r->nreq] = a;
    if (MPI_Ireduce_scatter(MPI_IN_PLACE, r->g + a, c, MPI_FLOAT, MPI_SUM, r->comm, &r->req[r->nreq]) != MPI_SUCCESS)
        return hd_error(HD_EMPI, "summing gradients across ranks failed");
    r->nreq++;
    return 0;
}

void hd_nn_reducer_start(void *reducer, size_t off, size_t count)
{
    hd_nn_reducer *r = reducer;
    if (r->rc < 0)
        return;
    if (off > r->n || count > r->n - off) {
        r->rc = hd_error(HD_EINVAL, "gradient range [%zu, +%zu) outside %zu", off, count, r->n);
        return;
    }
    for (size_t o = off; o < off + count; o += r->bucket) {
        int k = (int)(off + count - o < r->bucket ? off + count - o : r->bucket);
        if (r->shards) {
            if ((r->rc = reduce_scatter_piece(r, o, k)) < 0)
                return;
            continue;
        }
        if (r->nreq == r->cap) {
            MPI_Request *q = realloc(r->req, 2 * (size_t)r->cap * sizeof *q);
            if (!q) {
                r->rc = hd_error(HD_ENOMEM, "out of memory for all-reduce requests");
                return;
            }
            r->req = q;
            r->cap *= 2;
        }
        if (MPI_Iallreduce(MPI_IN_PLACE, r->g + o, k, MPI_FLOAT, MPI_SUM, r->comm, &r->req[r->nreq]) != MPI_SUCCESS) {
            r->rc = hd_error(HD_EMPI, "summing gradients across ranks failed");
            return;
        }
        r->nreq++;
    }
    /* MPI progresses non-blocking collectives inside MPI calls: poke them */
    int flag;
    MPI_Testall(r->nreq, r->req, &flag, MPI_STATUSES_IGNORE);
}

int hd_nn_reducer_wait(hd_nn_reducer *r)
{
    int rc = r->rc;
    if (r->nreq && MPI_Waitall(r->nreq, r->req, MPI_STATUSES_IGNORE) != MPI_SUCCESS && rc == 0)
        rc = hd_error(HD_EMPI, "summing gradients across ranks failed");
    /* in place, a rank's sums land at the start of each piece: move them to its shard */
    for (int q = 0; r->shards && rc == 0 && q < r->nreq; q++) {
        size_t a = r->piece[q], dst = a > r->s0 ? a : r->s0;
        int c = r->counts[(size_t)q * r->size + r->rank];
        if (c > 0 && dst != a)
            memmove(r->g + dst, r->g + a, (size_t)c * sizeof *r->g);
    }
    r->nreq = 0;
    r->rc = 0;
    return rc;
}

void hd_nn_reducer_release(hd_nn_reducer *r)
{
    free(r->req);
    free(r->piece);
    free(r->counts);
    memset(r, 0, sizeof *r);
}

int hd_nn_allreduce_buckets(float *g, size_t n, MPI_Comm comm, size_t bucket)
{
    hd_nn_reducer r;
    int rc = hd_nn_reducer_init(&r, g, n, comm, bucket);
    if (rc == 0) {
        hd_nn_reducer_start(&r, 0, n);
        rc = hd_nn_reducer_wait(&r);
    }
    hd_nn_reducer_release(&r);
    return rc;
}

int hd_nn_train_new_model(hd_nn_model *M, const hd_train_cfg *tc, uint64_t seed, const hd_station *st, int R,
                          double outlier_sigma, const hd_nn_dataset *d, const hd_nn_train_env *env)
{
    hd_nn_arch A;
    int rc;
    if (tc->tail_nu != 0 && !(tc->tail_nu > 2))
        return hd_error(HD_ECONFIG, "train.tail_nu is %g: a Student-t needs more than 2 degrees of freedom for a "
                        "covariance (0: Gaussian)", tc->tail_nu);
    if ((rc = hd_nn_arch_init(&A, tc->arch == 0 ? HD_NN_SET : HD_NN_MLP, R, tc->hidden, tc->gelu)) < 0)
        return rc;
    A.nu = tc->tail_nu;
    if ((rc = hd_nn_model_alloc(M, &A)) < 0)
        return rc;
    hd_nn_init_params(&A, seed, M->params);
    memcpy(M->best, M->params, A.n_params * sizeof *M->best);
    M->seed = seed;
    M->R = R;
    memcpy(M->st, st, (size_t)R * sizeof *M->st);
    M->outlier_sigma = outlier_sigma;
    /* normalisation over the training split: each rank sums its block, then all */
    double s[3][HD_NN_DIN] = {{0}};
    int64_t b0, b1;
    hd_par_block(d->ntr, env->rank, env->size, &b0, &b1);
    for (int64_t i = b0; i < b1; i++)
        for (int r = 0; r < R; r++) {
            const float *v = d->x + ((size_t)d->train[i] * R + r) * HD_NN_DIN;
            if (!v[HD_NN_IN_MASK])
                continue;
            for (int k = 0; k < HD_NN_DIN; k++) {
                if (k == HD_NN_IN_TOA && !v[HD_NN_IN_TIMED])
                    continue;
                s[0][k] += 1;
                s[1][k] += v[k];
                s[2][k] += (double)v[k] * v[k];
            }
        }
    if (env->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, s, 3 * HD_NN_DIN, MPI_DOUBLE, MPI_SUM, env->comm);
    for (int k = 0; k < HD_NN_DIN; k++) {
        int flag = k == HD_NN_IN_HAS_IQ || k == HD_NN_IN_GPS || k == HD_NN_IN_TIMED || k == HD_NN_IN_MASK;
        if (k == HD_NN_IN_TOA) { /* residuals: scale only, zero stays zero */
            M->mean[k] = 0;
            M->std[k] = s[0][k] && s[2][k] > 0 ? (float)sqrt(s[2][k] / s[0][k]) : 1.0f;
            continue;
        }
        double mu = s[0][k] ? s[1][k] / s[0][k] : 0, var = s[0][k] ? s[2][k] / s[0][k] - mu * mu : 1;
        M->mean[k] = flag ? 0.0f : (float)mu;
        M->std[k] = flag || !(var > 1e-12) ? 1.0f : (float)sqrt(var);
    }
    return 0;
}

int hd_nn_train_resumable(const hd_nn_model *M, const hd_station *st, int R, const char *model_name,
                          const char *data_name)
{
    if (M->R != R)
        return hd_error(HD_EDATA, "%s was trained on %d receivers, %s has %d", model_name, M->R, data_name, R);
    for (int r = 0; r < R; r++)
        if (strcmp(M->st[r].id, st[r].id) != 0)
            return hd_error(HD_EDATA, "%s was trained on other receivers (%s where the data have %s)", model_name,
                            M->st[r].id, st[r].id);
    return 0;
}

int hd_nn_train_begin(hd_nn_model *M, hd_nn_dataset *d)
{
    M->target_km = 1; /* outputs are in each event's own unit (the anchor's sigma) */
    M->n_val = d->nva;
    free(M->val_events);
    M->val_events = hd_malloc((size_t)d->nva * sizeof *M->val_events);
    if (!M->val_events)
        return HD_ENOMEM;
    for (int64_t i = 0; i < d->nva; i++)
        M->val_events[i] = d->index[d->val[i]];
    hd_nn_normalize(d->x, (int64_t)d->E * d->R, M->mean, M->std);
    return 0;
}

void hd_nn_dataset_rows(const hd_nn_dataset *d, const int64_t *list, int64_t n, float *x, uint8_t *m, float *y)
{
    const int R = d->R;
    for (int64_t i = 0; i < n; i++) {
        int64_t e = list[i];
        memcpy(x + (size_t)i * R * HD_NN_DIN, d->x + (size_t)e * R * HD_NN_DIN, (size_t)R * HD_NN_DIN * sizeof *x);
        memcpy(m + (size_t)i * R, d->m + (size_t)e * R, (size_t)R);
        if (y) {
            y[2 * i] = d->y[2 * e];
            y[2 * i + 1] = d->y[2 * e + 1];
        }
    }
}

static void gather(const hd_nn_dataset *d, const int64_t *list, int n, hd_nn_batch *b, float *y)
{
    hd_nn_dataset_rows(d, list, n, hd_nn_batch_x(b), hd_nn_batch_m(b), y);
}

/* the NLL and error (m) of each event list[i0, i1) under p: v[2i], v[2i + 1] */
static int validate_events(const hd_nn_arch *A, const float *p, const hd_nn_dataset *d, const int64_t *list,
                           int64_t i0, int64_t i1, hd_nn_batch *b, int cap, double *v)
{
    float *out = malloc((size_t)cap * 5 * sizeof *out), *yb = malloc((size_t)cap * 2 * sizeof *yb);
    if (!out || !yb) {
        free(out);
        free(yb);
        return hd_error(HD_ENOMEM, "out of memory for validation");
    }
    for (int64_t s = i0; s < i1; s += cap) {
        int nb = (int)(i1 - s < cap ? i1 - s : cap);
        gather(d, list + s, nb, b, yb);
        hd_nn_forward(A, p, b, nb, out);
        for (int i = 0; i < nb; i++) {
            double mu[2], c[3];
            hd_nn_output(out + (size_t)i * 5, mu, c);
            double d1 = yb[2 * i] - mu[0], d2 = yb[2 * i + 1] - mu[1];
            /* the loss's own likelihood: Gaussian, or the Student-t of A->nu */
            v[2 * (s + i)] = hd_locate_nll(hd_locate_mahalanobis2(c, d1, d2), c[0] * c[2] - c[1] * c[1], A->nu);
            v[2 * (s + i) + 1] = d->unit[list[s + i]] * hypot(d1, d2);
        }
    }
    free(out);
    free(yb);
    return 0;
}

/* the mean NLL (summed in event order) and the median error of v[2n] */
static void validate_summary(const double *v, int64_t n, double *nll, double *median_m)
{
    double *err = malloc((size_t)(n > 0 ? n : 1) * sizeof *err), sum = 0;
    *nll = *median_m = NAN;
    if (!err || n < 1) {
        free(err);
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        sum += v[2 * k];
        err[k] = v[2 * k + 1];
    }
    gsl_sort(err, 1, (size_t)n);
    *nll = sum / n;
    *median_m = gsl_stats_median_from_sorted_data(err, 1, (size_t)n);
    free(err);
}

void hd_nn_validate(const hd_nn_arch *A, const float *p, const hd_nn_dataset *d, const int64_t *list, int64_t n,
                    hd_nn_batch *b, int cap, double *nll, double *median_m)
{
    double *v = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *v);
    if (!v || validate_events(A, p, d, list, 0, n, b, cap, v) < 0)
        n = 0;
    validate_summary(v, n, nll, median_m);
    free(v);
}

int hd_nn_validate_ranks(const hd_nn_arch *A, const float *p, const hd_nn_dataset *d, const int64_t *list, int64_t n,
                         hd_nn_batch *b, int cap, const hd_nn_train_env *env, double *nll, double *median_m)
{
    if (env->size < 2) {
        hd_nn_validate(A, p, d, list, n, b, cap, nll, median_m);
        return 0;
    }
    const int size = env->size;
    double *v = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *v);
    int *cnt = calloc((size_t)size, sizeof *cnt), *dsp = calloc((size_t)size, sizeof *dsp);
    int rc = !v || !cnt || !dsp ? hd_error(HD_ENOMEM, "out of memory for validation")
             : n > INT_MAX      ? hd_error(HD_EDATA, "%lld validation events: too many", (long long)n)
                                : 0;
    int64_t i0, i1;
    hd_par_block(n, env->rank, size, &i0, &i1);
    if (rc == 0)
        rc = validate_events(A, p, d, list, i0, i1, b, cap, v);
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, env->comm);
    if (worst < 0) {
        rc = rc < 0 ? rc : hd_error(HD_EIO, "another rank failed to validate");
        goto fail;
    }
    for (int k = 0; k < size; k++) {
        int64_t a, e;
        hd_par_block(n, k, size, &a, &e);
        cnt[k] = (int)(e - a);
        dsp[k] = (int)a;
    }
    MPI_Datatype pair;
    MPI_Type_contiguous(2, MPI_DOUBLE, &pair);
    MPI_Type_commit(&pair);
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, cnt, dsp, pair, env->comm) != MPI_SUCCESS)
        rc = hd_error(HD_EMPI, "gathering the validation across ranks failed");
    MPI_Type_free(&pair);
    if (rc == 0)
        validate_summary(v, n, nll, median_m);
fail:
    free(v);
    free(cnt);
    free(dsp);
    return rc;
}

/* test vectors for other implementations (tests/nn_forward.py): a few
 * validation events and the best parameters' outputs */
static int check_vectors(hd_nn_model *M, const hd_nn_dataset *d, hd_nn_batch *bv)
{
    const int R = d->R, nc = d->nva < 8 ? (int)d->nva : 8;
    free(M->check_x);
    free(M->check_m);
    free(M->check_out);
    M->check_x = hd_malloc((size_t)nc * R * HD_NN_DIN * sizeof *M->check_x);
    M->check_m = hd_malloc((size_t)nc * R);
    M->check_out = hd_malloc((size_t)nc * 5 * sizeof *M->check_out);
    if (!M->check_x || !M->check_m || !M->check_out)
        return HD_ENOMEM;
    gather(d, d->val, nc, bv, NULL);
    memcpy(M->check_x, hd_nn_batch_x(bv), (size_t)nc * R * HD_NN_DIN * sizeof *M->check_x);
    memcpy(M->check_m, hd_nn_batch_m(bv), (size_t)nc * R);
    hd_nn_forward(&M->A, M->best, bv, nc, M->check_out);
    M->n_check = nc;
    return 0;
}

/* the ranks' shards of n parameters (hd_par_block) as MPI counts */
static int shard_counts(size_t n, int size, int **cnt, int **dsp)
{
    *cnt = hd_malloc((size_t)size * sizeof **cnt);
    *dsp = hd_malloc((size_t)size * sizeof **dsp);
    if (!*cnt || !*dsp)
        return HD_ENOMEM;
    if (n > INT_MAX)
        return hd_error(HD_EINVAL, "%zu parameters: too many to gather", n);
    for (int k = 0; k < size; k++) {
        int64_t a, b;
        hd_par_block((int64_t)n, k, size, &a, &b);
        (*cnt)[k] = (int)(b - a);
        (*dsp)[k] = (int)a;
    }
    return 0;
}

int hd_nn_train(hd_nn_model *M, const hd_train_cfg *tc, const hd_nn_dataset *d, const hd_nn_train_env *env,
                hd_nn_train_status *status)
{
    const hd_nn_arch *A = &M->A;
    const int rank = env->rank, size = env->size;
    const int64_t ntr = d->ntr, nva = d->nva;
    const int B = tc->batch_size < ntr ? tc->batch_size : (int)ntr;
    const int64_t spe = (ntr + B - 1) / B, total = (int64_t)tc->epochs * spe;
    const int cap = (B + size - 1) / size + 1, vcap = 1024;
    int rc = 0;
    hd_nn_batch *bt = hd_nn_batch_new(A, cap), *bv = hd_nn_batch_new(A, vcap);
    float *g = hd_malloc(A->n_params * sizeof *g), *yb = hd_malloc((size_t)cap * 2 * sizeof *yb);
    int64_t *perm = hd_malloc((size_t)(ntr > 0 ? ntr : 1) * sizeof *perm);
    /* each step's wall time (for the log line at the end: contention on a
     * shared machine shows in the median, less in the 10th percentile) */
    int64_t cap_t = total - M->step < (1 << 20) ? total - M->step : (1 << 20), n_t = 0;
    double *step_s = hd_malloc((size_t)(cap_t > 0 ? cap_t : 1) * sizeof *step_s);
    hd_nn_reducer red = {0};
    int *pcnt = NULL, *pdsp = NULL;
    *status = HD_NN_TRAIN_DONE;
    if (!bt || !bv || !g || !yb || !perm || !step_s) {
        rc = HD_ENOMEM;
        goto fail;
    }
    /* with ranks: each takes the optimiser step on its shard of the
     * parameters (the gradient sums reduce-scattered to it), then the
     * shards are gathered */
    if (size > 1 && ((rc = hd_nn_reducer_init_shards(&red, g, A->n_params, env->comm, HD_NN_BUCKET_FLOATS, rank,
                                                     size)) < 0 ||
                     (rc = shard_counts(A->n_params, size, &pcnt, &pdsp)) < 0))
        goto fail;
    hd_info("training a %s network (%zu parameters) on %lld events, validating on %lld; global batch %d over %d "
            "rank%s, %lld steps per epoch; OpenBLAS core %s",
            A->kind == HD_NN_SET ? "set" : "MLP", A->n_params, (long long)ntr, (long long)nva, B, size,
            size > 1 ? "s" : "", (long long)spe, hd_blas_corename());
    int interrupted = 0;
    while (M->epoch < tc->epochs && !interrupted) {
        if (tc->stop_after && M->epoch >= tc->stop_after) {
            *status = HD_NN_TRAIN_STOPPED;
            break;
        }
        if (M->bad_epochs >= tc->patience) {
            *status = HD_NN_TRAIN_EARLY;
            break;
        }
        double t0 = hd_now();
        /* this epoch's order: a permutation keyed by (seed, epoch) */
        for (int64_t i = 0; i < ntr; i++)
            perm[i] = d->train[i];
        hd_rng rg;
        hd_rng_init(&rg, M->seed, (uint32_t)M->epoch, 0x7472, 2);
        for (int64_t i = ntr - 1; i > 0; i--) {
            int64_t j = (int64_t)(hd_rng_uniform(&rg) * (double)(i + 1));
            if (j > i)
                j = i;
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        double epoch_loss = 0;
        int64_t epoch_n = 0;
        for (int64_t s = M->step - M->epoch * spe; s < spe; s++) {
            int64_t first = s * B, nb = ntr - first < B ? ntr - first : B;
            int64_t lo = nb * rank / size, hi = nb * (rank + 1) / size;
            int n = (int)(hi - lo);
            double ts0 = hd_now();
            gather(d, perm + first + lo, n, bt, yb);
            memset(g, 0, A->n_params * sizeof *g);
            /* with ranks: each layer's gradient sums start across ranks as
             * soon as the backward pass has finished it (last layer first) */
            double loss = 0;
            if (n > 0)
                loss = hd_nn_loss_grad_notify(A, M->params, bt, n, yb, g, size > 1 ? hd_nn_reducer_start : NULL,
                                              &red);
            else if (size > 1) /* no events here: the same reductions, of zeros, in the same order */
                for (int k = 4; k >= 0; k--)
                    hd_nn_reducer_start(&red, A->off[k], (k < 4 ? A->off[k + 1] : A->n_params) - A->off[k]);
            int stop = env->interrupted ? env->interrupted(env->ctx) : 0;
            double lr = hd_nn_lr(tc->lr, M->step, tc->warmup_steps, total);
            if (size > 1) {
                /* this rank's shard of the summed gradient; the loss, any
                 * rank's stop and the shards' squares in one sum */
                if ((rc = hd_nn_reducer_wait(&red)) < 0)
                    goto fail;
                const size_t s0 = red.s0, ns = red.s1 - red.s0;
                double ls[3] = {loss, stop ? 1 : 0, hd_nn_scale_sumsq(g + s0, ns, (float)nb)};
                if (MPI_Allreduce(MPI_IN_PLACE, ls, 3, MPI_DOUBLE, MPI_SUM, env->comm) != MPI_SUCCESS) {
                    rc = hd_error(HD_EMPI, "summing the loss across ranks failed");
                    goto fail;
                }
                loss = ls[0];
                stop = ls[1] > 0;
                hd_nn_clip_to(g + s0, ns, sqrt(ls[2]), tc->clip_norm);
                hd_nn_adamw(M->params + s0, g + s0, M->m + s0, M->v + s0, ns, lr, tc->weight_decay, M->step + 1);
                if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, M->params, pcnt, pdsp, MPI_FLOAT, env->comm) !=
                    MPI_SUCCESS) {
                    rc = hd_error(HD_EMPI, "gathering the parameters across ranks failed");
                    goto fail;
                }
            } else {
                hd_nn_scale_clip(g, A->n_params, (float)nb, tc->clip_norm);
                hd_nn_adamw(M->params, g, M->m, M->v, A->n_params, lr, tc->weight_decay, M->step + 1);
            }
            M->step++;
            if (n_t < cap_t)
                step_s[n_t++] = hd_now() - ts0;
            if ((rc = hd_nn_model_step_loss(M, loss / nb)) < 0)
                goto fail;
            epoch_loss += loss;
            epoch_n += nb;
            if (stop) {
                interrupted = 1;
                *status = HD_NN_TRAIN_INTERRUPTED;
                break;
            }
        }
        if (interrupted)
            break;
        double vl, med;
        if ((rc = hd_nn_validate_ranks(A, M->params, d, d->val, nva, bv, vcap, env, &vl, &med)) < 0)
            goto fail;
        double lr_now = hd_nn_lr(tc->lr, M->step - 1, tc->warmup_steps, total);
        if (vl < M->best_val - 1e-6) {
            M->best_val = vl;
            memcpy(M->best, M->params, A->n_params * sizeof *M->best);
            M->bad_epochs = 0;
        } else {
            M->bad_epochs++;
        }
        M->epoch++;
        double sec = hd_now() - t0;
        if ((rc = hd_nn_model_log(M, (double)M->epoch, epoch_n ? epoch_loss / epoch_n : NAN, vl, med, lr_now, sec)) < 0)
            goto fail;
        if (env->epoch_done)
            env->epoch_done(env->ctx, M);
        hd_info("epoch %lld: train NLL %.3f, validation NLL %.3f, validation median error %.0f m, lr %.2g, %.1f s",
                (long long)M->epoch, epoch_n ? epoch_loss / epoch_n : NAN, vl, med, lr_now, sec);
    }
    if (n_t > 0) {
        gsl_sort(step_s, 1, (size_t)n_t);
        hd_info("step time: median %.0f us, 10th percentile %.0f us (%lld steps on %d rank%s)",
                1e6 * step_s[n_t / 2], 1e6 * step_s[n_t / 10], (long long)n_t, size, size > 1 ? "s" : "");
    }
    /* each rank kept its shard of the optimiser state: every rank gets all of it */
    if (size > 1 && (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, M->m, pcnt, pdsp, MPI_FLOAT, env->comm) !=
                         MPI_SUCCESS ||
                     MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, M->v, pcnt, pdsp, MPI_FLOAT, env->comm) !=
                         MPI_SUCCESS)) {
        rc = hd_error(HD_EMPI, "gathering the optimiser state across ranks failed");
        goto fail;
    }
    rc = check_vectors(M, d, bv);
fail:
    hd_nn_reducer_release(&red);
    free(pcnt);
    free(pdsp);
    free(step_s);
    hd_nn_batch_free(bt);
    hd_nn_batch_free(bv);
    free(g);
    free(yb);
    free(perm);
    return rc;
}
