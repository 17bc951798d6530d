/* nn/train: the training loop on a tiny problem (a few synthetic events
 * whose target is a linear function of their inputs): the loss falls, two
 * runs are identical bit for bit, a run stopped after k epochs (or in the
 * middle of one, or through model.h5) and resumed equals the uninterrupted
 * one; the bucketed all-reduce on one rank changes nothing and equals one
 * unbucketed reduction, and on 2 ranks (the test starts itself under
 * mpirun) equals it and the exact sum; validation on a known set matches a hand
 * computation; the split and the receivers' check. */
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/train.h"
#include "tap.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R 3
#define E 72
#define NVAL 16

static hd_station st[R];

/* E events, R receivers (one absent in every fifth event); targets a
 * linear function of two inputs; the last NVAL events validate */
static void make(hd_nn_dataset *d)
{
    if (hd_nn_dataset_init(d, E, R) < 0)
        abort();
    hd_rng g;
    hd_rng_init(&g, 11, 0, 0, HD_RNG_TEST);
    for (int e = 0; e < E; e++) {
        for (int r = 0; r < R; r++) {
            uint8_t on = !(e % 5 == 0 && r == 2);
            float *x = d->x + ((size_t)e * R + r) * HD_NN_DIN;
            d->m[e * R + r] = on;
            for (int k = 0; k < HD_NN_DIN && on; k++)
                x[k] = (float)hd_rng_normal(&g);
            if (on) {
                x[HD_NN_IN_HAS_IQ] = 1;
                x[HD_NN_IN_GPS] = 1;
                x[HD_NN_IN_TIMED] = 1;
                x[HD_NN_IN_MASK] = 1;
            }
        }
        double se = 0, sn = 0; /* the target: a function of the set of receivers (their mean position) */
        int n = 0;
        for (int r = 0; r < R; r++)
            if (d->m[e * R + r]) {
                se += d->x[((size_t)e * R + r) * HD_NN_DIN + HD_NN_IN_EAST];
                sn += d->x[((size_t)e * R + r) * HD_NN_DIN + HD_NN_IN_NORTH];
                n++;
            }
        d->y[2 * e] = (float)(se / n + 0.2);
        d->y[2 * e + 1] = (float)(-0.5 * sn / n);
        d->index[e] = 1000 + e;
        d->unit[e] = 250.0;
        d->use[e] = e >= E - NVAL ? HD_NN_VALIDATE : HD_NN_TRAIN;
    }
    if (hd_nn_dataset_split(d) < 0)
        abort();
}

static hd_train_cfg config(void)
{
    hd_train_cfg tc = {.arch = 0, .hidden = 8, .gelu = 1, .tail_nu = 0, .epochs = 6, .stop_after = 0,
                       .batch_size = 8, .lr = 0.01, .weight_decay = 1e-4, .clip_norm = 5, .warmup_steps = 3,
                       .patience = 100, .val_fraction = 0.2};
    return tc;
}

static const hd_nn_train_env alone = {MPI_COMM_NULL, 0, 1, NULL, NULL, NULL};

/* a new model trained from scratch by tc (d made and normalised) */
static int fresh(hd_nn_model *M, hd_nn_dataset *d, const hd_train_cfg *tc, const hd_nn_train_env *env,
                 hd_nn_train_status *status)
{
    make(d);
    int rc = hd_nn_train_new_model(M, tc, 7, st, R, 3.0, d, &alone);
    if (rc == 0)
        rc = hd_nn_train_begin(M, d);
    if (rc == 0)
        rc = hd_nn_train(M, tc, d, env, status);
    return rc;
}

/* continue M on a new copy of the data, as --resume does */
static int resume(hd_nn_model *M, const hd_train_cfg *tc, hd_nn_train_status *status)
{
    hd_nn_dataset d;
    make(&d);
    int rc = hd_nn_train_begin(M, &d);
    if (rc == 0)
        rc = hd_nn_train(M, tc, &d, &alone, status);
    hd_nn_dataset_release(&d);
    return rc;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* the training state: parameters, best, moments, counters, the logs but the wall clock */
static int same_state(const hd_nn_model *a, const hd_nn_model *b, int with_epoch_log)
{
    size_t n = a->A.n_params;
    if (n != b->A.n_params || !same_floats(a->params, b->params, n) || !same_floats(a->best, b->best, n) ||
        !same_floats(a->m, b->m, n) || !same_floats(a->v, b->v, n) || a->step != b->step || a->epoch != b->epoch ||
        a->bad_epochs != b->bad_epochs || memcmp(&a->best_val, &b->best_val, sizeof a->best_val) != 0 ||
        a->n_steps != b->n_steps || memcmp(a->step_loss, b->step_loss, (size_t)a->n_steps * sizeof(double)) != 0 ||
        a->n_check != b->n_check || !same_floats(a->check_out, b->check_out, (size_t)a->n_check * 5))
        return 0;
    if (!with_epoch_log)
        return 1;
    if (a->n_log != b->n_log)
        return 0;
    size_t L = (size_t)a->n_log * sizeof(double);
    return memcmp(a->log_val, b->log_val, L) == 0 && memcmp(a->log_train, b->log_train, L) == 0 &&
           memcmp(a->log_med, b->log_med, L) == 0 && memcmp(a->log_lr, b->log_lr, L) == 0;
}

static int calls, stop_at;
static int stop_on_call(void *ctx)
{
    (void)ctx;
    return ++calls == stop_at;
}
static int epochs_seen;
static void count_epochs(void *ctx, const hd_nn_model *M)
{
    (void)ctx;
    epochs_seen = (int)M->epoch;
}

static void test_training(void)
{
    hd_train_cfg tc = config();
    hd_nn_model A, B;
    hd_nn_dataset da, db;
    hd_nn_train_status sa, sb;
    hd_nn_train_env env = alone;
    env.epoch_done = count_epochs;
    int rc = fresh(&A, &da, &tc, &env, &sa);
    is_int(rc, 0, "training runs");
    is_int(sa, HD_NN_TRAIN_DONE, "every planned epoch");
    is_int(A.epoch, 6, "six epochs");
    is_int(A.step, 6 * 7, "seven steps per epoch (56 training events, batch 8)");
    is_int(A.n_log, 6, "an entry in the log per epoch");
    is_int(epochs_seen, 6, "the progress callback saw every epoch");
    is_int(A.n_check, 8, "test vectors of 8 validation events");
    is_int(A.n_val, NVAL, "the validation split recorded");
    is_int(A.val_events[0], 1000 + E - NVAL, "by events/index");
    ok(A.n_log == 6 && A.log_train[5] < A.log_train[0] - 0.3, "training NLL falls (%.3f → %.3f)", A.log_train[0],
       A.log_train[5]);
    ok(A.n_log == 6 && A.log_val[5] < A.log_val[0], "validation NLL falls (%.3f → %.3f)", A.log_val[0], A.log_val[5]);
    ok(A.best_val <= A.log_val[5], "best validation NLL %.3f kept", A.best_val);

    rc = fresh(&B, &db, &tc, &alone, &sb);
    ok(rc == 0 && same_state(&A, &B, 1), "a second run is identical bit for bit");
    hd_nn_model_release(&B);
    hd_nn_dataset_release(&db);

    /* another seed differs: the comparison can fail */
    make(&db);
    rc = hd_nn_train_new_model(&B, &tc, 8, st, R, 3.0, &db, &alone);
    if (rc == 0 && (rc = hd_nn_train_begin(&B, &db)) == 0)
        rc = hd_nn_train(&B, &tc, &db, &alone, &sb);
    ok(rc == 0 && !same_state(&A, &B, 0), "another seed trains differently");
    hd_nn_model_release(&B);
    hd_nn_dataset_release(&db);

    /* stopped after 2 epochs (train.stop_after), resumed */
    hd_train_cfg t2 = tc;
    t2.stop_after = 2;
    rc = fresh(&B, &db, &t2, &alone, &sb);
    ok(rc == 0 && sb == HD_NN_TRAIN_STOPPED && B.epoch == 2 && B.step == 14, "stop_after 2: stopped at epoch 2, step 14");
    hd_nn_dataset_release(&db);
    rc = resume(&B, &tc, &sb);
    ok(rc == 0 && sb == HD_NN_TRAIN_DONE && same_state(&A, &B, 1),
       "resumed after 2 epochs equals the uninterrupted run bit for bit (logs too)");
    hd_nn_model_release(&B);

    /* interrupted in the middle of epoch 3 (after the 18th step), resumed */
    hd_nn_train_env ie = alone;
    ie.interrupted = stop_on_call;
    calls = 0;
    stop_at = 18;
    rc = fresh(&B, &db, &tc, &ie, &sb);
    ok(rc == 0 && sb == HD_NN_TRAIN_INTERRUPTED && B.step == 18 && B.epoch == 2,
       "interrupted after step 18 (epoch 2 done, step %lld)", (long long)B.step);
    hd_nn_dataset_release(&db);
    ok(!same_state(&A, &B, 0), "an interrupted state is not the final one");
    rc = resume(&B, &tc, &sb);
    ok(rc == 0 && sb == HD_NN_TRAIN_DONE && same_state(&A, &B, 0),
       "resumed mid-epoch equals the uninterrupted run bit for bit");
    hd_nn_model_release(&B);

    /* stopped after 3 epochs, checkpointed to model.h5, loaded, resumed */
    t2.stop_after = 3;
    rc = fresh(&B, &db, &t2, &alone, &sb);
    hd_nn_dataset_release(&db);
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_train.%d.h5", (int)getpid());
    hd_config cfg; /* the model keeps the config it was trained with (its localize section makes the anchors) */
    if (rc == 0)
        rc = hd_config_load(&cfg, NULL, NULL, 0);
    hd_h5_provenance prov = {.format = HD_FORMAT_MODEL, .version = HD_MODEL_VERSION, .command_line = "test_train",
                             .config_yaml = rc == 0 ? cfg.yaml : ""};
    if (rc == 0) {
        rc = hd_nn_model_save(&B, path, 1, &prov);
        hd_config_release(&cfg);
    }
    hd_nn_model_release(&B);
    hd_nn_model C;
    memset(&C, 0, sizeof C);
    if (rc == 0)
        rc = hd_nn_model_load(&C, path);
    if (rc == 0)
        rc = hd_nn_train_resumable(&C, st, R, path, "the data");
    if (rc == 0)
        rc = resume(&C, &tc, &sb);
    ok(rc == 0 && same_state(&A, &C, 0), "checkpointed to model.h5 after 3 epochs and resumed: identical%s%s",
       rc ? ": " : "", rc ? hd_errmsg() : "");
    unlink(path);
    hd_nn_model_release(&C);

    /* early stopping: patience 0 stops before any epoch */
    t2 = tc;
    t2.patience = 1;
    t2.lr = 0; /* nothing moves: validation never improves after the first epoch */
    rc = fresh(&B, &db, &t2, &alone, &sb);
    ok(rc == 0 && sb == HD_NN_TRAIN_EARLY && B.epoch == 2, "patience 1 without progress: early stop after 2 epochs");
    hd_nn_model_release(&B);
    hd_nn_dataset_release(&db);

    /* the receivers' check of a resume */
    hd_station other[R];
    memcpy(other, st, sizeof other);
    snprintf(other[1].id, sizeof other[1].id, "zz");
    ok(hd_nn_train_resumable(&A, st, R, "m", "d") == 0, "same receivers: resumable");
    ok(hd_nn_train_resumable(&A, other, R, "m", "d") == HD_EDATA, "another receiver: refused");
    ok(hd_nn_train_resumable(&A, st, R - 1, "m", "d") == HD_EDATA, "fewer receivers: refused");
    hd_nn_model_release(&A);
    hd_nn_dataset_release(&da);
}

/* all weights zero: every event's output is dense4's bias (mu east, north, a, b, c) */
static const float val_o[5] = {0.5f, -0.25f, 0.2f, -0.1f, 0.3f};
static const float val_y[5][2] = {{0.5f, -0.25f}, {1.5f, 0.75f}, {-1.0f, 2.0f}, {0.0f, 0.0f}, {3.0f, -4.0f}};
static const double val_unit[5] = {100, 200, 50, 1000, 10};

static float *validation_set(hd_nn_arch *A, hd_nn_dataset *d)
{
    hd_nn_arch_init(A, HD_NN_SET, R, 4, 1);
    float *p = calloc(A->n_params, sizeof *p);
    memcpy(p + A->off[4] + (size_t)A->hidden * 5, val_o, sizeof val_o);
    hd_nn_dataset_init(d, 5, R);
    for (int e = 0; e < 5; e++) {
        d->y[2 * e] = val_y[e][0];
        d->y[2 * e + 1] = val_y[e][1];
        d->unit[e] = val_unit[e];
        for (int r = 0; r < R; r++) {
            d->m[e * R + r] = 1;
            d->x[(e * R + r) * HD_NN_DIN + HD_NN_IN_MASK] = 1;
        }
    }
    return p;
}

static void test_allreduce(void)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        skip(4, "MPI does not start");
        return;
    }
    enum { N = 1000 };
    float g[N], keep[N], one[N];
    hd_rng r;
    hd_rng_init(&r, 3, 1, 0, HD_RNG_TEST);
    for (int i = 0; i < N; i++)
        g[i] = keep[i] = one[i] = (float)hd_rng_normal(&r);
    int rc = hd_nn_allreduce_buckets(g, N, MPI_COMM_WORLD, 64); /* 15 full buckets and a part */
    ok(rc == 0 && same_floats(g, keep, N), "bucketed all-reduce on one rank leaves the gradients unchanged");
    MPI_Allreduce(MPI_IN_PLACE, one, N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ok(same_floats(g, one, N), "and equals one unbucketed MPI_Allreduce");
    rc = hd_nn_allreduce_buckets(g, N, MPI_COMM_WORLD, HD_NN_BUCKET_FLOATS);
    ok(rc == 0 && same_floats(g, keep, N), "one bucket larger than the data: unchanged");
    ok(hd_nn_allreduce_buckets(g, N, MPI_COMM_WORLD, 0) == HD_EINVAL, "a bucket of 0 floats is refused");
    MPI_Finalize();
}

/* Each rank's gradients (rank + 1) * (i % mod) / 2, sums exact in float;
 * then the ranges a backward pass finishes, the end first and of unequal
 * sizes, started on red and waited for: its return. */
static int reduce_as_backward(hd_nn_reducer *red, float *g, int n, int rank, int mod, int init_shards, int size)
{
    for (int i = 0; i < n; i++)
        g[i] = (float)(rank + 1) * (float)(i % mod) * 0.5f;
    if (init_shards >= 0 && (init_shards ? hd_nn_reducer_init_shards(red, g, (size_t)n, MPI_COMM_WORLD, 64, rank, size)
                                         : hd_nn_reducer_init(red, g, (size_t)n, MPI_COMM_WORLD, 64)) != 0)
        return -1;
    const size_t cut[] = {1000, 990, 700, 699, 100, 0};
    for (int k = 0; k < 5; k++)
        hd_nn_reducer_start(red, cut[k + 1], cut[k] - cut[k + 1]);
    return hd_nn_reducer_wait(red);
}

/* run by test_allreduce_2 under mpirun -np 2: each rank's gradients differ;
 * the bucketed sum must equal one unbucketed MPI_Allreduce and the exact
 * sum of the two (exit 0), whatever the bucket (a part bucket at the end) */
static int allreduce_child(void)
{
    MPI_Init(NULL, NULL);
    int rank, size, bad = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { N = 1000 };
    static float g[N], one[N];
    size_t buckets[] = {1, 64, 999, 1000, HD_NN_BUCKET_FLOATS};
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
        for (int i = 0; i < N; i++)
            g[i] = one[i] = (float)(rank + 1) * (float)(i % 97) * 0.25f; /* sums exact in float */
        if (hd_nn_allreduce_buckets(g, N, MPI_COMM_WORLD, buckets[b]) != 0)
            bad = 1;
        MPI_Allreduce(MPI_IN_PLACE, one, N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < N; i++)
            if (g[i] != one[i] || g[i] != 3.0f * (float)(i % 97) * 0.25f)
                bad = 1;
    }
    /* overlapped: ranges started as a backward pass finishes them (the end
     * first, of unequal sizes), buckets of 64: the same exact sums */
    hd_nn_reducer red;
    for (int rep = 0; rep < 2; rep++) { /* the reducer is reused step after step */
        if (reduce_as_backward(&red, g, N, rank, 89, rep == 0 ? 0 : -1, size) != 0)
            bad = 1;
        for (int i = 0; i < N; i++)
            if (g[i] != 3.0f * (float)(i % 89) * 0.5f)
                bad = 1;
    }
    hd_nn_reducer_start(&red, 990, 11); /* past the end: refused at wait */
    if (hd_nn_reducer_wait(&red) != HD_EINVAL)
        bad = 1;
    hd_nn_reducer_release(&red);
    /* sharded: each rank's block of g holds the exact sums (pieces of 64
     * crossing the shards' boundary at 500) */
    for (int rep = 0; rep < 2; rep++) {
        if (reduce_as_backward(&red, g, N, rank, 83, rep == 0 ? 1 : -1, size) != 0 || red.s0 != (rank ? 500u : 0u) ||
            red.s1 != (rank ? 1000u : 500u))
            bad = 1;
        for (size_t i = red.s0; i < red.s1; i++)
            if (g[i] != 3.0f * (float)(i % 83) * 0.5f)
                bad = 1;
    }
    hd_nn_reducer_release(&red);
    /* validation shared by the ranks: what one rank finds for the whole list */
    {
        hd_nn_arch A;
        hd_nn_dataset d;
        float *p = validation_set(&A, &d);
        int64_t list[5] = {4, 0, 3, 1, 2};
        hd_nn_batch *bt = hd_nn_batch_new(&A, 2);
        hd_nn_train_env env = {MPI_COMM_WORLD, rank, size, NULL, NULL, NULL};
        double nll1, med1, nll2 = 0, med2 = 0;
        hd_nn_validate(&A, p, &d, list, 5, bt, 2, &nll1, &med1);
        if (hd_nn_validate_ranks(&A, p, &d, list, 5, bt, 2, &env, &nll2, &med2) != 0 || nll1 != nll2 ||
            med1 != med2)
            bad = 1;
        hd_nn_batch_free(bt);
        hd_nn_dataset_release(&d);
        free(p);
    }
    /* training on both ranks against training alone: batches of 5 (ranks
     * take 2 and 3 events), the last of each epoch 1 event (rank 0 takes none
     * and still joins every layer's sum); the same loss trajectory to 1e-5 per
     * step (relative, absolute below a loss of 1: the losses here fall to
     * 0.02), and the same parameters on both ranks bit for bit */
    {
        hd_log_set_level(HD_LOG_WARN);
        hd_train_cfg tc = config();
        tc.batch_size = 5; /* 56 training events: 11 batches of 5 and one of 1 */
        hd_nn_model M1, M2;
        hd_nn_dataset d1, d2;
        hd_nn_train_status s1, s2;
        memset(&M1, 0, sizeof M1);
        memset(&M2, 0, sizeof M2);
        hd_nn_train_env env = {MPI_COMM_WORLD, rank, size, NULL, NULL, NULL};
        if (fresh(&M1, &d1, &tc, &alone, &s1) != 0 || fresh(&M2, &d2, &tc, &env, &s2) != 0 ||
            M1.n_steps != 6 * 12 || M2.n_steps != M1.n_steps)
            bad = 1;
        for (int64_t t = 0; !bad && t < M1.n_steps; t++)
            if (!(fabs(M1.step_loss[t] - M2.step_loss[t]) <= 1e-5 * fmax(1, fabs(M1.step_loss[t]))))
                bad = 1;
        float *p0 = malloc(M2.A.n_params * sizeof *p0);
        if (p0) {
            memcpy(p0, M2.params, M2.A.n_params * sizeof *p0);
            MPI_Bcast(p0, (int)M2.A.n_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
            if (memcmp(p0, M2.params, M2.A.n_params * sizeof *p0) != 0)
                bad = 1;
            /* the optimiser state (each rank stepped its shard) whole on every rank */
            for (int k = 0; k < 2; k++) {
                const float *st_k = k ? M2.v : M2.m;
                memcpy(p0, st_k, M2.A.n_params * sizeof *p0);
                MPI_Bcast(p0, (int)M2.A.n_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
                if (memcmp(p0, st_k, M2.A.n_params * sizeof *p0) != 0)
                    bad = 1;
            }
        }
        free(p0);
        hd_nn_model_release(&M1);
        hd_nn_model_release(&M2);
        hd_nn_dataset_release(&d1);
        hd_nn_dataset_release(&d2);
    }
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return size != 2 || bad;
}

static void test_allreduce_2(const char *self)
{
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        skip(1, "mpirun not installed");
        return;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 '%s' "
             "--allreduce-child",
             self);
    int st2 = system(cmd);
    ok(st2 == 0, "on 2 ranks the bucketed all-reduce (buckets of 1, 64, 999, 1000 and 2^20 floats) equals one "
       "MPI_Allreduce and the exact sum, and so does the overlapped reducer fed ranges last first; validation "
       "shared by the ranks equals one rank's; training on 2 ranks (one with an empty share of a batch) follows "
       "one rank's loss to 1e-5 (relative above 1) with the same parameters and optimiser state on both ranks; "
       "sharded sums exact on each rank's block (status %d)", st2);
}

static void test_validate(void)
{
    hd_nn_arch A;
    hd_nn_dataset d;
    float *p = validation_set(&A, &d);
    const float *o = val_o, (*y)[2] = val_y;
    const double *unit = val_unit;
    int64_t list[5] = {4, 0, 3, 1, 2};
    /* by hand: Σ = L Lᵀ with L = [[e^a, 0], [c, e^b]], z = L⁻¹ (y − mu),
     * NLL = log 2π + (a + b) + |z|²/2; error = unit · |y − mu| */
    double a = o[2], b = o[3], c = o[4], sum = 0, err[5];
    for (int e = 0; e < 5; e++) {
        double d1 = y[e][0] - (double)o[0], d2 = y[e][1] - (double)o[1];
        double z1 = d1 / exp(a), z2 = (d2 - c * z1) / exp(b);
        sum += log(2 * M_PI) + a + b + 0.5 * (z1 * z1 + z2 * z2);
        err[e] = unit[e] * hypot(d1, d2);
    }
    /* errors: 0, 200·√2 = 282.8, 50·√(1.5²+2.25²) = 135.2, 1000·√(0.5²+0.25²) = 559.0, 10·√(2.5²+3.75²) = 45.1 */
    double median = err[2];
    hd_nn_batch *bt = hd_nn_batch_new(&A, 2);
    double nll, med;
    hd_nn_validate(&A, p, &d, list, 5, bt, 2, &nll, &med); /* batches of 2, 2, 1 */
    is_double(nll, sum / 5, 1e-9, "validation NLL equals the hand computation");
    is_double(med, median, 1e-6, "validation median error (m) equals the hand computation");
    hd_nn_validate(&A, p, &d, list + 1, 1, bt, 2, &nll, &med);
    is_double(nll, log(2 * M_PI) + a + b, 1e-9, "an event at the predicted mean: log 2π + ½ log|Σ|");
    is_double(med, 0, 1e-12, "and no error");
    A.nu = 5; /* Student-t: log 2π + ½ log|Σ| + log((ν−2)/ν) + (ν+2)/2 · log(1 + |z|²/(ν−2)) */
    hd_nn_validate(&A, p, &d, list, 1, bt, 2, &nll, &med);
    double d1 = y[4][0] - (double)o[0], d2 = y[4][1] - (double)o[1], z1 = d1 / exp(a), z2 = (d2 - c * z1) / exp(b);
    is_double(nll, log(2 * M_PI) + a + b + log(3.0 / 5) + 3.5 * log1p((z1 * z1 + z2 * z2) / 3), 1e-9,
              "the Student-t likelihood of a model with tail_nu");
    hd_nn_validate(&A, p, &d, list, 0, bt, 2, &nll, &med);
    ok(isnan(nll) && isnan(med), "no events: NaN");
    hd_nn_batch_free(bt);
    hd_nn_dataset_release(&d);
    free(p);
}

static void test_split(void)
{
    hd_nn_dataset d;
    hd_nn_dataset_init(&d, 6, R);
    const int8_t use[6] = {HD_NN_TRAIN, HD_NN_UNUSED, HD_NN_VALIDATE, HD_NN_HELD_OUT, HD_NN_TRAIN, HD_NN_TRAIN};
    memcpy(d.use, use, sizeof use);
    ok(hd_nn_dataset_split(&d) == 0 && d.ntr == 3 && d.nva == 1 && d.held_out == 1,
       "split: 3 training, 1 validation, 1 held out, 1 unused");
    ok(d.train[0] == 0 && d.train[1] == 4 && d.train[2] == 5 && d.val[0] == 2, "in event order");
    d.use[2] = HD_NN_TRAIN;
    ok(hd_nn_dataset_split(&d) == HD_EDATA, "no validation event: refused");
    like(hd_errmsg(), "4 training and 0 validation events", "and says why");
    ok(hd_nn_dataset_share(&d, HD_EIO, MPI_COMM_NULL, 1) == HD_EIO && hd_nn_dataset_share(&d, 0, MPI_COMM_NULL, 1) == 0,
       "sharing alone passes the result through");
    hd_nn_dataset_release(&d);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--allreduce-child") == 0)
        return allreduce_child();
    plan_no_plan();
    hd_log_set_level(getenv("TEST_VERBOSE") ? HD_LOG_INFO : HD_LOG_WARN);
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = 52.0 + 0.1 * r;
        st[r].lon = 13.0 + 0.2 * (r % 2);
    }
    test_training();
    test_validate();
    test_split();
    test_allreduce();
    test_allreduce_2(argv[0]);
    done_testing();
    return exit_status();
}
