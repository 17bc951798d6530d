/* heimdall train: features.h5 (with truth) → model.h5, data-parallel over
 * MPI ranks: the global batch is split across ranks, gradients summed in
 * fixed-size buckets; resumable; SIGTERM checkpoints and exits 75. */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/runinfo.h"
#include "features/features.h"
#include "h5/h5.h"
#include "locate/locate.h"
#include "nn/model.h"
#include "nn/nn.h"

#include <cblas.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HD_EXIT_REQUEUE 75 /* checkpoint written at a signal: requeue and --resume */
#define BUCKET_FLOATS (1 << 20) /* 4 MiB per MPI_Allreduce */

void hd_cmd_train_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall train [-c exp.yaml] [--set KEY=VALUE]... [--resume model.h5] -o model.h5 features.h5\n"
            "\n"
            "Train the learned localizer on a features file with /truth: per receiver inputs\n"
            "(RSS, SNR, IQ and GPS flags, relative arrival time from the time differences,\n"
            "receiver position east/north of the network centroid, presence), normalised by\n"
            "statistics of the training split; a permutation-invariant set network (a shared\n"
            "receiver encoder, masked mean and max pooling, a head) or a plain MLP over the\n"
            "flattened receivers; outputs a position (east, north) and a full 2×2 covariance\n"
            "through its Cholesky factor; negative log-likelihood (Gaussian, or a Student-t\n"
            "with train.tail_nu degrees of freedom: heavy-tailed errors), AdamW, linear\n"
            "warm-up then cosine learning rate, gradient clipping, early stopping on the\n"
            "validation loss (validation split by a hash of each event: deterministic,\n"
            "stored). The model file keeps the best parameters, the live parameters and\n"
            "optimiser state, the step and epoch, the per-epoch and per-step log, the\n"
            "normalisation and the receivers.\n"
            "\n"
            "Config (train:): arch set (or mlp), hidden 64, activation gelu (or relu),\n"
            "tail_nu 0 (the loss's Student-t degrees of freedom, > 2; 0 Gaussian; kept in\n"
            "the model, whose ellipses then are the t's),\n"
            "epochs 40 (the schedule's length), stop_after 0 (stop after that many epochs\n"
            "in all, resumable), batch_size 128 (global), lr 0.002, weight_decay 0.0001,\n"
            "clip_norm 5, warmup_steps 100, patience 8, val_fraction 0.15.\n"
            "\n"
            "Runs alone or under MPI (mpirun/srun -n N): each rank reads its block of the\n"
            "features with parallel HDF5 and prepares those events' inputs, which the\n"
            "ranks then share; each rank takes its share of every global batch and\n"
            "gradients are summed across ranks in 4 MiB buckets, so the loss trajectory\n"
            "does not depend on the number of ranks.\n"
            "--resume model.h5 continues a run exactly (parameters, optimiser, step, RNG).\n"
            "SIGTERM or SIGINT (a Slurm time limit) writes the checkpoint to -o and exits\n"
            "with status 75: requeue the job with --resume.\n"
            "\n");
    hd_cli_common_usage(out);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void allreduce_buckets(float *g, size_t n, MPI_Comm comm, int size)
{
    if (size < 2)
        return;
    for (size_t o = 0; o < n; o += BUCKET_FLOATS) {
        int k = (int)(n - o < BUCKET_FLOATS ? n - o : BUCKET_FLOATS);
        MPI_Allreduce(MPI_IN_PLACE, g + o, k, MPI_FLOAT, MPI_SUM, comm);
    }
}

typedef struct {
    int64_t E;
    int R;
    float *x;     /* [E*R*DIN] */
    uint8_t *m;   /* [E*R] */
    float *y;     /* [E*2] km */
    int64_t *index;
    double *unit;  /* [E] the event's output unit (m) */
} dataset;

/* Each rank prepared events [block) of d (and use[]): gather every block to
 * every rank, one event per element so counts stay small. */
static int share_shards(dataset *d, int8_t *use, int64_t E, MPI_Comm comm, int size)
{
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
        {d->index, MPI_INT64_T, 1},         {d->unit, MPI_DOUBLE, 1},   {use, MPI_INT8_T, 1},
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

/* mean NLL and median error (m) over the events in list */
static void validate(const hd_nn_arch *A, const float *p, const dataset *d, const int64_t *list, int64_t n,
                     hd_nn_batch *b, int cap, double *nll, double *median_m)
{
    double *err = malloc((size_t)(n > 0 ? n : 1) * sizeof *err), sum = 0;
    float *out = malloc((size_t)cap * 5 * sizeof *out), *yb = malloc((size_t)cap * 2 * sizeof *yb);
    float *gdummy = NULL;
    (void)gdummy;
    int64_t k = 0;
    for (int64_t s = 0; err && out && yb && s < n; s += cap) {
        int nb = (int)(n - s < cap ? n - s : cap);
        float *x = hd_nn_batch_x(b);
        uint8_t *m = hd_nn_batch_m(b);
        for (int i = 0; i < nb; i++) {
            int64_t e = list[s + i];
            memcpy(x + (size_t)i * d->R * HD_NN_DIN, d->x + (size_t)e * d->R * HD_NN_DIN, (size_t)d->R * HD_NN_DIN * sizeof *x);
            memcpy(m + (size_t)i * d->R, d->m + (size_t)e * d->R, (size_t)d->R);
            yb[2 * i] = d->y[2 * e];
            yb[2 * i + 1] = d->y[2 * e + 1];
        }
        hd_nn_forward(A, p, b, nb, out);
        for (int i = 0; i < nb; i++) {
            double mu[2], c[3];
            hd_nn_output(out + (size_t)i * 5, mu, c);
            double d1 = yb[2 * i] - mu[0], d2 = yb[2 * i + 1] - mu[1];
            /* the loss's own likelihood: Gaussian, or the Student-t of A->nu */
            sum += hd_locate_nll(hd_locate_mahalanobis2(c, d1, d2), c[0] * c[2] - c[1] * c[1], A->nu);
            err[k++] = d->unit[list[s + i]] * hypot(d1, d2);
        }
    }
    gsl_sort(err, 1, (size_t)k);
    *nll = k ? sum / k : NAN;
    *median_m = k ? gsl_stats_median_from_sorted_data(err, 1, (size_t)k) : NAN;
    free(err);
    free(out);
    free(yb);
}

static int dump_tensors(const char *path, const dataset *d, const int64_t *train, int64_t ntr, const int64_t *val,
                        int64_t nva)
{
    hd_h5_out out;
    int rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    const int64_t *lists[2] = {train, val};
    int64_t ns[2] = {ntr, nva};
    const char *names[2] = {"train", "val"};
    for (int k = 0; k < 2 && rc == 0; k++) {
        int64_t n = ns[k];
        float *x = hd_malloc((size_t)n * d->R * HD_NN_DIN * sizeof *x), *y = hd_malloc((size_t)n * 2 * sizeof *y);
        uint8_t *m = hd_malloc((size_t)n * d->R);
        if (!x || !y || !m)
            rc = HD_ENOMEM;
        for (int64_t i = 0; rc == 0 && i < n; i++) {
            int64_t e = lists[k][i];
            memcpy(x + (size_t)i * d->R * HD_NN_DIN, d->x + (size_t)e * d->R * HD_NN_DIN, (size_t)d->R * HD_NN_DIN * sizeof *x);
            memcpy(m + (size_t)i * d->R, d->m + (size_t)e * d->R, (size_t)d->R);
            y[2 * i] = d->y[2 * e];
            y[2 * i + 1] = d->y[2 * e + 1];
        }
        char nx[32], nm[32], ny[32];
        snprintf(nx, sizeof nx, "%s_x", names[k]);
        snprintf(nm, sizeof nm, "%s_m", names[k]);
        snprintf(ny, sizeof ny, "%s_y", names[k]);
        hsize_t dx[3] = {(hsize_t)n, (hsize_t)d->R, HD_NN_DIN}, dy[2] = {(hsize_t)n, 2};
        if (rc == 0)
            rc = hd_h5_write(out.file, nx, H5T_NATIVE_FLOAT, 3, dx, x, "1", "normalised inputs");
        if (rc == 0)
            rc = hd_h5_write(out.file, nm, H5T_NATIVE_UINT8, 2, dx, m, "1", "receiver present");
        if (rc == 0)
            rc = hd_h5_write(out.file, ny, H5T_NATIVE_FLOAT, 2, dy, y, "1", "targets (anchor units)");
        free(x);
        free(y);
        free(m);
    }
    hd_h5_provenance prov = {.format = "tensors", .version = 1, .command_line = "HD_TRAIN_DUMP", .config_yaml = ""};
    if (rc == 0 && (rc = hd_h5_write_provenance(&out, &prov)) == 0)
        return hd_h5_commit(&out);
    hd_h5_abort(&out);
    return rc;
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    int rank = hd_par_rank(), size = hd_par_size(), rc;
    MPI_Comm comm = hd_par_comm();
    const hd_train_cfg *tc = &cfg->train;
    hd_features_reader rd;
    hd_locate_net net;
    hd_nn_model M;
    dataset d = {0};
    int64_t *train = NULL, *val = NULL, *perm = NULL;
    hd_event *ev = NULL;
    float *feat = NULL, *g = NULL, *yb = NULL;
    uint8_t *mask = NULL, *tmask = NULL;
    double *delay = NULL, *sigma = NULL;
    hd_nn_batch *bt = NULL, *bv = NULL;
    int net_ok = 0, exit_code = 0;
    memset(&M, 0, sizeof M);
    openblas_set_num_threads(1);
    /* under MPI the file is opened with parallel HDF5 (MPI-IO) and each rank
     * reads and prepares only its block of events */
    if ((rc = hd_features_open(&rd, cli->inputs[0], size > 1 ? comm : MPI_COMM_NULL)) < 0)
        return rc;
    const int R = rd.meta.n_receivers, F = HD_FEAT_COUNT, P = rd.n_pairs;
    const int64_t E = rd.meta.n_events;
    if (!rd.meta.has_truth) {
        rc = hd_error(HD_EDATA, "%s has no /truth: nothing to learn from", cli->inputs[0]);
        goto fail;
    }
    if ((rc = hd_locate_net_init(&net, rd.meta.stations, R, &cfg->localize)) < 0)
        goto fail;
    net_ok = 1;
    size_t En = (size_t)(E > 0 ? E : 1), Pn = (size_t)(P > 0 ? P : 1);
    ev = hd_calloc(En, sizeof *ev);
    feat = hd_calloc(En * R * F, sizeof *feat);
    mask = hd_calloc(En * R, 1);
    tmask = hd_calloc(En * Pn, 1);
    delay = hd_calloc(En * Pn, sizeof *delay);
    sigma = hd_calloc(En * Pn, sizeof *sigma);
    d.x = hd_calloc(En * R * HD_NN_DIN, sizeof *d.x);
    d.m = hd_calloc(En * R, 1);
    d.y = hd_calloc(En * 2, sizeof *d.y);
    d.index = hd_calloc(En, sizeof *d.index);
    d.unit = hd_calloc(En, sizeof *d.unit);
    train = hd_calloc(En, sizeof *train);
    val = hd_calloc(En, sizeof *val);
    perm = hd_calloc(En, sizeof *perm);
    if (!ev || !feat || !mask || !tmask || !delay || !sigma || !d.x || !d.m || !d.y || !d.index || !d.unit || !train || !val || !perm) {
        rc = HD_ENOMEM;
        goto fail;
    }
    int64_t s0, s1; /* this rank's shard: read, then made into inputs, then shared */
    hd_par_block(E, rank, size, &s0, &s1);
    rc = hd_features_read_block(&rd, s0, s1 - s0, ev + s0, NULL, feat + (size_t)s0 * R * F, mask + (size_t)s0 * R,
                                delay + (size_t)s0 * Pn, sigma + (size_t)s0 * Pn, NULL, tmask + (size_t)s0 * Pn);
    d.E = E;
    d.R = R;
    int8_t *group = NULL; /* train.exclude_split: one group of the file's splits is never seen */
    if (tc->exclude_split != HD_SPLIT_NONE) {
        const char *name = tc->exclude_split == HD_SPLIT_MONTH ? "splits/month" : "splits/time_block";
        int grank;
        hsize_t gd[8];
        if (H5Lexists(rd.meta.file, "splits", H5P_DEFAULT) <= 0 || H5Lexists(rd.meta.file, name, H5P_DEFAULT) <= 0) {
            rc = hd_error(HD_EDATA, "%s has no /%s (train.exclude_split)", cli->inputs[0], name);
            goto fail;
        }
        if ((rc = hd_h5_read(rd.meta.file, name, H5T_NATIVE_INT8, &grank, gd, (void **)&group)) < 0)
            goto fail;
        if (grank != 1 || (int64_t)gd[0] != E) {
            free(group);
            rc = hd_error(HD_EFORMAT, "/%s does not have one value per event", name);
            goto fail;
        }
    }
    int64_t ntr = 0, nva = 0, excluded = 0;
    int8_t *use = hd_calloc(En, 1); /* per event: 0 not for learning, 1 training, 2 validation, 3 held out */
    if (!use && rc == 0)
        rc = HD_ENOMEM;
    for (int64_t e = s0; e < s1 && rc == 0; e++) {
        hd_locate_obs obs = {feat + (size_t)e * R * F, mask + (size_t)e * R, delay + (size_t)e * Pn,
                             sigma + (size_t)e * Pn, tmask + (size_t)e * Pn, NULL, NULL};
        double anchor[3];
        if ((rc = hd_nn_event_inputs(&net, &obs, d.x + (size_t)e * R * HD_NN_DIN, d.m + (size_t)e * R, anchor)) < 0)
            break;
        d.index[e] = ev[e].index;
        double te, tn;
        int any = 0;
        for (int r = 0; r < R; r++)
            any |= d.m[(size_t)e * R + r];
        if (!any || !isfinite(ev[e].truth.lat) || !isfinite(ev[e].truth.lon))
            continue; /* nothing heard, or no truth: not for learning */
        if (group && group[e] == tc->exclude_group) {
            use[e] = 3;
            continue; /* held out for an honest evaluation */
        }
        hd_locate_from_geo(&net, ev[e].truth.lat, ev[e].truth.lon, &te, &tn);
        d.y[2 * e] = (float)((te - anchor[0]) / anchor[2]); /* the correction, in the anchor's sigma */
        d.y[2 * e + 1] = (float)((tn - anchor[1]) / anchor[2]);
        d.unit[e] = anchor[2];
        /* the split by a hash of the event: the same whatever the ranks or order */
        use[e] = (double)(mix(cfg->seed * 0x51ed27ULL ^ (uint64_t)ev[e].index) % 1000000) < tc->val_fraction * 1e6 ? 2 : 1;
    }
    free(group);
    if (size > 1) { /* every rank ends with every event's inputs (small next to the features) */
        int worst = rc;
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);
        if (worst < 0 && rc == 0)
            rc = hd_error(HD_EIO, "another rank failed to read or prepare its events");
        if (rc == 0)
            rc = share_shards(&d, use, E, comm, size);
    }
    if (rc < 0) {
        free(use);
        goto fail;
    }
    for (int64_t e = 0; e < E; e++) {
        if (use[e] == 1)
            train[ntr++] = e;
        else if (use[e] == 2)
            val[nva++] = e;
        else if (use[e] == 3)
            excluded++;
    }
    free(use);
    if (excluded)
        hd_info("%lld events of group %d held out of training (train.exclude_split)", (long long)excluded,
                tc->exclude_group);
    if (ntr < 2 || nva < 1) {
        rc = hd_error(HD_EDATA, "%lld training and %lld validation events: too few to train", (long long)ntr,
                      (long long)nva);
        goto fail;
    }
    hd_nn_arch A;
    if (cli->resume) {
        if ((rc = hd_nn_model_load(&M, cli->resume)) < 0)
            goto fail;
        A = M.A;
        if (M.R != R) {
            rc = hd_error(HD_EDATA, "%s was trained on %d receivers, %s has %d", cli->resume, M.R, cli->inputs[0], R);
            goto fail;
        }
        for (int r = 0; r < R; r++)
            if (strcmp(M.st[r].id, rd.meta.stations[r].id) != 0) {
                rc = hd_error(HD_EDATA, "%s was trained on other receivers (%s where the data have %s)", cli->resume,
                              M.st[r].id, rd.meta.stations[r].id);
                goto fail;
            }
        hd_info("resuming %s at epoch %lld, step %lld", cli->resume, (long long)M.epoch, (long long)M.step);
    } else {
        if (tc->tail_nu != 0 && !(tc->tail_nu > 2)) {
            rc = hd_error(HD_ECONFIG, "train.tail_nu is %g: a Student-t needs more than 2 degrees of freedom for a "
                          "covariance (0: Gaussian)", tc->tail_nu);
            goto fail;
        }
        if ((rc = hd_nn_arch_init(&A, tc->arch == 0 ? HD_NN_SET : HD_NN_MLP, R, tc->hidden, tc->gelu)) < 0)
            goto fail;
        A.nu = tc->tail_nu;
        if ((rc = hd_nn_model_alloc(&M, &A)) < 0)
            goto fail;
        hd_nn_init_params(&A, cfg->seed, M.params);
        memcpy(M.best, M.params, A.n_params * sizeof *M.best);
        M.seed = cfg->seed;
        M.R = R;
        memcpy(M.st, rd.meta.stations, (size_t)R * sizeof *M.st);
        M.outlier_sigma = cfg->localize.outlier_sigma;
        /* normalisation over the training split: each rank sums its block, then all */
        double s[3][HD_NN_DIN] = {{0}};
        int64_t b0, b1;
        hd_par_block(ntr, rank, size, &b0, &b1);
        for (int64_t i = b0; i < b1; i++)
            for (int r = 0; r < R; r++) {
                const float *v = d.x + ((size_t)train[i] * R + r) * HD_NN_DIN;
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
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, s, 3 * HD_NN_DIN, MPI_DOUBLE, MPI_SUM, comm);
        for (int k = 0; k < HD_NN_DIN; k++) {
            int flag = k == HD_NN_IN_HAS_IQ || k == HD_NN_IN_GPS || k == HD_NN_IN_TIMED || k == HD_NN_IN_MASK;
            if (k == HD_NN_IN_TOA) { /* residuals: scale only, zero stays zero */
                M.mean[k] = 0;
                M.std[k] = s[0][k] && s[2][k] > 0 ? (float)sqrt(s[2][k] / s[0][k]) : 1.0f;
                continue;
            }
            double mu = s[0][k] ? s[1][k] / s[0][k] : 0, var = s[0][k] ? s[2][k] / s[0][k] - mu * mu : 1;
            M.mean[k] = flag ? 0.0f : (float)mu;
            M.std[k] = flag || !(var > 1e-12) ? 1.0f : (float)sqrt(var);
        }
    }
    M.target_km = 1; /* outputs are in each event's own unit (the anchor's sigma) */
    M.n_val = nva;
    free(M.val_events);
    M.val_events = hd_malloc((size_t)nva * sizeof *M.val_events);
    if (!M.val_events) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < nva; i++)
        M.val_events[i] = d.index[val[i]];
    hd_nn_normalize(d.x, (int64_t)E * R, M.mean, M.std);

    /* bench/train: the exact normalised tensors, for a peer implementation */
    const char *dump = getenv("HD_TRAIN_DUMP");
    if (dump && dump[0] && rank == 0 && (rc = dump_tensors(dump, &d, train, ntr, val, nva)) < 0)
        goto fail;
    const int B = tc->batch_size < ntr ? tc->batch_size : (int)ntr;
    const int64_t spe = (ntr + B - 1) / B, total = (int64_t)tc->epochs * spe;
    const int cap = (B + size - 1) / size + 1, vcap = 1024;
    bt = hd_nn_batch_new(&A, cap);
    bv = hd_nn_batch_new(&A, vcap);
    g = hd_malloc(A.n_params * sizeof *g);
    yb = hd_malloc((size_t)cap * 2 * sizeof *yb);
    if (!bt || !bv || !g || !yb) {
        rc = HD_ENOMEM;
        goto fail;
    }
    hd_info("training a %s network (%zu parameters) on %lld events, validating on %lld; global batch %d over %d "
            "rank%s, %lld steps per epoch; OpenBLAS core %s",
            A.kind == HD_NN_SET ? "set" : "MLP", A.n_params, (long long)ntr, (long long)nva, B, size,
            size > 1 ? "s" : "", (long long)spe, openblas_get_corename());
    hd_progress prog;
    hd_progress_start(&prog, "train", "epochs", tc->epochs, cli->quiet);
    int stopped = 0, interrupted = 0;
    while (M.epoch < tc->epochs && !interrupted) {
        if (tc->stop_after && M.epoch >= tc->stop_after) {
            stopped = 1;
            break;
        }
        if (M.bad_epochs >= tc->patience)
            break;
        double t0 = hd_now();
        /* this epoch's order: a permutation keyed by (seed, epoch) */
        for (int64_t i = 0; i < ntr; i++)
            perm[i] = train[i];
        hd_rng rg;
        hd_rng_init(&rg, M.seed, (uint32_t)M.epoch, 0x7472, 2);
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
        for (int64_t s = M.step - M.epoch * spe; s < spe; s++) {
            int64_t first = s * B, nb = ntr - first < B ? ntr - first : B;
            int64_t lo = nb * rank / size, hi = nb * (rank + 1) / size;
            int n = (int)(hi - lo);
            float *x = hd_nn_batch_x(bt);
            uint8_t *m = hd_nn_batch_m(bt);
            for (int i = 0; i < n; i++) {
                int64_t e = perm[first + lo + i];
                memcpy(x + (size_t)i * R * HD_NN_DIN, d.x + (size_t)e * R * HD_NN_DIN, (size_t)R * HD_NN_DIN * sizeof *x);
                memcpy(m + (size_t)i * R, d.m + (size_t)e * R, (size_t)R);
                yb[2 * i] = d.y[2 * e];
                yb[2 * i + 1] = d.y[2 * e + 1];
            }
            memset(g, 0, A.n_params * sizeof *g);
            double loss = n > 0 ? hd_nn_loss_grad(&A, M.params, bt, n, yb, g) : 0;
            int stop = hd_cli_interrupted();
            if (size > 1) {
                MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, comm);
                MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, comm);
            }
            allreduce_buckets(g, A.n_params, comm, size);
            for (size_t i = 0; i < A.n_params; i++)
                g[i] /= (float)nb;
            hd_nn_clip(g, A.n_params, tc->clip_norm);
            double lr = hd_nn_lr(tc->lr, M.step, tc->warmup_steps, total);
            hd_nn_adamw(M.params, g, M.m, M.v, A.n_params, lr, tc->weight_decay, M.step + 1);
            M.step++;
            if ((rc = hd_nn_model_step_loss(&M, loss / nb)) < 0)
                goto fail;
            epoch_loss += loss;
            epoch_n += nb;
            if (stop) {
                interrupted = 1;
                break;
            }
        }
        if (interrupted)
            break;
        double vl, med;
        validate(&A, M.params, &d, val, nva, bv, vcap, &vl, &med);
        double lr_now = hd_nn_lr(tc->lr, M.step - 1, tc->warmup_steps, total);
        if (vl < M.best_val - 1e-6) {
            M.best_val = vl;
            memcpy(M.best, M.params, A.n_params * sizeof *M.best);
            M.bad_epochs = 0;
        } else {
            M.bad_epochs++;
        }
        M.epoch++;
        double sec = hd_now() - t0;
        if ((rc = hd_nn_model_log(&M, (double)M.epoch, epoch_n ? epoch_loss / epoch_n : NAN, vl, med, lr_now, sec)) < 0)
            goto fail;
        hd_progress_update(&prog, M.epoch);
        hd_info("epoch %lld: train NLL %.3f, validation NLL %.3f, validation median error %.0f m, lr %.2g, %.1f s",
                (long long)M.epoch, epoch_n ? epoch_loss / epoch_n : NAN, vl, med, lr_now, sec);
    }
    hd_progress_finish(&prog);
    hd_runinfo_set_events(ntr + nva);
    { /* test vectors for other implementations (tests/nn_forward.py) */
        int nc = nva < 8 ? (int)nva : 8;
        free(M.check_x);
        free(M.check_m);
        free(M.check_out);
        M.check_x = hd_malloc((size_t)nc * R * HD_NN_DIN * sizeof *M.check_x);
        M.check_m = hd_malloc((size_t)nc * R);
        M.check_out = hd_malloc((size_t)nc * 5 * sizeof *M.check_out);
        if (!M.check_x || !M.check_m || !M.check_out) {
            rc = HD_ENOMEM;
            goto fail;
        }
        float *x = hd_nn_batch_x(bv);
        uint8_t *m = hd_nn_batch_m(bv);
        for (int i = 0; i < nc; i++) {
            memcpy(x + (size_t)i * R * HD_NN_DIN, d.x + (size_t)val[i] * R * HD_NN_DIN, (size_t)R * HD_NN_DIN * sizeof *x);
            memcpy(m + (size_t)i * R, d.m + (size_t)val[i] * R, (size_t)R);
        }
        memcpy(M.check_x, x, (size_t)nc * R * HD_NN_DIN * sizeof *x);
        memcpy(M.check_m, m, (size_t)nc * R);
        hd_nn_forward(&A, M.best, bv, nc, M.check_out);
        M.n_check = nc;
    }
    if (rank == 0) {
        const char *inputs[] = {cli->inputs[0]};
        hd_h5_provenance prov = {.format = HD_FORMAT_MODEL, .version = HD_MODEL_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = 1};
        rc = hd_nn_model_save(&M, cli->output, cli->force || cli->resume != NULL || interrupted, &prov);
    }
    if (size > 1)
        MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc < 0)
        goto fail;
    if (interrupted) {
        hd_warn("interrupted at step %lld (epoch %lld): checkpoint written to %s; continue with --resume %s "
                "(exit status %d: requeue)",
                (long long)M.step, (long long)M.epoch, cli->output, cli->output, HD_EXIT_REQUEUE);
        exit_code = HD_EXIT_REQUEUE;
    } else if (stopped) {
        hd_info("stopped after epoch %lld as train.stop_after says; continue with --resume %s", (long long)M.epoch,
                cli->output);
    } else {
        hd_info("wrote %s: best validation NLL %.3f after %lld epochs%s", cli->output, M.best_val, (long long)M.epoch,
                M.bad_epochs >= tc->patience ? " (early stopping)" : "");
    }
fail:
    hd_nn_batch_free(bt);
    hd_nn_batch_free(bv);
    hd_nn_model_release(&M);
    if (net_ok)
        hd_locate_net_release(&net);
    hd_features_release(&rd);
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    free(d.x);
    free(d.m);
    free(d.y);
    free(d.index);
    free(d.unit);
    free(train);
    free(val);
    free(perm);
    free(g);
    free(yb);
    return rc < 0 ? rc : exit_code;
}

int hd_cmd_train(int argc, char **argv)
{
    return hd_cli_stage("train", argc, argv, "model.h5", "one features file", run);
}
