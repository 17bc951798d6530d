/* heimdall train: features.h5 (with truth) → model.h5, data-parallel over
 * MPI ranks. This command reads its block of the features and the splits,
 * calls the training loop of src/nn/train.c and writes model.h5 through
 * src/nn/model.c; SIGTERM checkpoints and exits 75. */
#include "cli.h"
#include "eval/calibrate.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "features/features.h"
#include "h5/h5.h"
#include "locate/locate.h"
#include "nn/model.h"
#include "nn/train.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

#define HD_EXIT_REQUEUE 75 /* checkpoint written at a signal: requeue and --resume */

void hd_cmd_train_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall train [-c exp.yaml] [--set KEY=VALUE]... [--resume model.h5] [--method nn|knn]\n"
            "                      [--calibration calib.h5] -o model.h5 features.h5\n"
            "\n"
            "--calibration calib.h5 (or localize.calibration): the network learns from the rows\n"
            "a calibrated localize reads (clock offsets out of the time differences, the RSS\n"
            "offsets in its anchor; unknown receivers masked with localize.unknown_receivers\n"
            "mask); give the same calibration to evaluate and localize with the model.\n"
            "\n"
            "--method knn: no training; model.h5 (kind knn) keeps the fingerprints of\n"
            "every event with truth (RSS per receiver, by receiver id), evaluate.knn_k and\n"
            "the covariance scale learnt on them, for evaluate/localize --method knn -m.\n"
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
            "Config (train:): arch set (or mlp), hidden 128, activation gelu (or relu),\n"
            "tail_nu 0 (the loss's Student-t degrees of freedom, > 2; 0 Gaussian; kept in\n"
            "the model, whose ellipses then are the t's),\n"
            "epochs 40 (the schedule's length), stop_after 0 (stop after that many epochs\n"
            "in all, resumable), batch_size 128 (global), lr 0.002, weight_decay 0.0001,\n"
            "clip_norm 5, warmup_steps 100, patience 8, val_fraction 0.15.\n"
            "\n"
            "Runs alone or under MPI (mpirun/srun -n N): each rank reads its block of the\n"
            "features with parallel HDF5 and prepares those events' inputs, which the\n"
            "ranks then share; each rank takes its share of every global batch. Each\n"
            "layer's gradients are summed across ranks (non-blocking reduce-scatter,\n"
            "pieces of at most 4 MiB) as soon as the backward pass has finished that\n"
            "layer; each rank takes the AdamW step on its own block of the parameters,\n"
            "which the ranks then gather. The loss trajectory does not depend on the\n"
            "number of ranks. The validation after each epoch is shared by the ranks too.\n"
            "--resume model.h5 continues a run exactly (parameters, optimiser, step, RNG).\n"
            "SIGTERM or SIGINT (a Slurm time limit) writes the checkpoint to -o and exits\n"
            "with status 75: requeue the job with --resume.\n"
            "\n");
    hd_cli_common_usage(out);
}

/* bench/train: the exact normalised tensors of both splits, for a peer implementation */
static int dump_tensors(const char *path, const hd_nn_dataset *d)
{
    hd_h5_out out;
    int rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    const int64_t *lists[2] = {d->train, d->val}, ns[2] = {d->ntr, d->nva};
    const char *names[2] = {"train", "val"};
    for (int k = 0; k < 2 && rc == 0; k++) {
        int64_t n = ns[k];
        float *x = hd_malloc((size_t)n * d->R * HD_NN_DIN * sizeof *x), *y = hd_malloc((size_t)n * 2 * sizeof *y);
        uint8_t *m = hd_malloc((size_t)n * d->R);
        if (!x || !y || !m)
            rc = HD_ENOMEM;
        else
            hd_nn_dataset_rows(d, lists[k], n, x, m, y);
        char nm[3][32];
        for (int j = 0; j < 3; j++)
            snprintf(nm[j], sizeof nm[j], "%s_%c", names[k], "xmy"[j]);
        hsize_t dx[3] = {(hsize_t)n, (hsize_t)d->R, HD_NN_DIN}, dy[2] = {(hsize_t)n, 2};
        if (rc == 0 && (rc = hd_h5_write(out.file, nm[0], H5T_NATIVE_FLOAT, 3, dx, x, "1", "normalised inputs")) == 0 &&
            (rc = hd_h5_write(out.file, nm[1], H5T_NATIVE_UINT8, 2, dx, m, "1", "receiver present")) == 0)
            rc = hd_h5_write(out.file, nm[2], H5T_NATIVE_FLOAT, 2, dy, y, "1", "targets (anchor units)");
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

/* train.exclude_split: the file's group of every event (one group is never seen) */
static int read_groups(const hd_features_reader *rd, const char *input, const hd_train_cfg *tc, int8_t **group)
{
    const char *name = tc->exclude_split == HD_SPLIT_MONTH ? "splits/month" : "splits/time_block";
    int grank, rc;
    hsize_t gd[8];
    if (H5Lexists(rd->meta.file, "splits", H5P_DEFAULT) <= 0 || H5Lexists(rd->meta.file, name, H5P_DEFAULT) <= 0)
        return hd_error(HD_EDATA, "%s has no /%s (train.exclude_split)", input, name);
    if ((rc = hd_h5_read(rd->meta.file, name, H5T_NATIVE_INT8, &grank, gd, (void **)group)) < 0)
        return rc;
    if (grank != 1 || (int64_t)gd[0] != rd->meta.n_events)
        return hd_error(HD_EFORMAT, "/%s does not have one value per event", name);
    return 0;
}

static int poll_interrupt(void *ctx)
{
    (void)ctx;
    return hd_cli_interrupted();
}

static void epoch_done(void *ctx, const hd_nn_model *M)
{
    hd_progress_update(ctx, M->epoch);
}

/* this rank's block of the features (parallel HDF5 under MPI) made into the
 * network's inputs, then shared by every rank and split */
static int load_events(const hd_cli *cli, const hd_config *cfg, hd_features_reader *rd, hd_nn_dataset *d,
                       const hd_nn_train_env *env)
{
    const int R = rd->meta.n_receivers, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events;
    size_t En = (size_t)(E > 0 ? E : 1), Pn = (size_t)(rd->n_pairs > 0 ? rd->n_pairs : 1);
    hd_locate_net net;
    hd_event *ev = NULL;
    float *feat = NULL;
    uint8_t *mask = NULL, *tmask = NULL;
    double *delay = NULL, *sigma = NULL;
    int8_t *group = NULL;
    int rc;
    if (!rd->meta.has_truth)
        return hd_error(HD_EDATA, "%s has no /truth: nothing to learn from", cli->inputs[0]);
    if ((rc = hd_locate_net_init(&net, rd->meta.stations, R, &cfg->localize)) < 0)
        return rc;
    ev = hd_calloc(En, sizeof *ev);
    feat = hd_calloc(En * R * F, sizeof *feat);
    mask = hd_calloc(En * R, 1);
    tmask = hd_calloc(En * Pn, 1);
    delay = hd_calloc(En * Pn, sizeof *delay);
    sigma = hd_calloc(En * Pn, sizeof *sigma);
    if (!ev || !feat || !mask || !tmask || !delay || !sigma || (rc = hd_nn_dataset_init(d, E, R)) < 0) {
        rc = HD_ENOMEM;
        goto fail;
    }
    int64_t s0, s1;
    hd_par_block(E, env->rank, env->size, &s0, &s1);
    rc = hd_features_read_block(rd, s0, s1 - s0, ev + s0, NULL, feat + (size_t)s0 * R * F, mask + (size_t)s0 * R,
                                delay + (size_t)s0 * Pn, sigma + (size_t)s0 * Pn, NULL, tmask + (size_t)s0 * Pn);
    /* with a calibration: the rows as localize and evaluate will see them */
    if (rc == 0)
        hd_calib_apply_rows(&cfg->localize, R, (int)Pn, s1 - s0, mask + (size_t)s0 * R, delay + (size_t)s0 * Pn,
                            tmask + (size_t)s0 * Pn);
    if (cfg->train.exclude_split != HD_SPLIT_NONE && (rc = read_groups(rd, cli->inputs[0], &cfg->train, &group)) < 0)
        goto fail;
    hd_nn_source src = {ev, feat, mask, delay, sigma, tmask, (int64_t)Pn, group, cfg->train.exclude_group};
    if (rc == 0)
        rc = hd_nn_dataset_prepare(d, &net, &src, s0, s1, cfg->seed, cfg->train.val_fraction);
    if ((rc = hd_nn_dataset_share(d, rc, env->comm, env->size)) < 0)
        goto fail;
    rc = hd_nn_dataset_split(d);
    if (d->held_out)
        hd_info("%lld events of group %d held out of training (train.exclude_split)", (long long)d->held_out,
                cfg->train.exclude_group);
fail:
    hd_locate_net_release(&net);
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    free(group);
    return rc;
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    const hd_train_cfg *tc = &cfg->train;
    hd_features_reader rd;
    hd_nn_model M;
    hd_nn_dataset d = {0};
    hd_progress prog;
    hd_nn_train_env env = {hd_par_comm(), hd_par_rank(), hd_par_size(), poll_interrupt, epoch_done, &prog};
    hd_nn_train_status status = HD_NN_TRAIN_DONE;
    int rc, exit_code = 0;
    memset(&M, 0, sizeof M);
    if (cli->method && strcmp(cli->method, "nn") != 0)
        return strcmp(cli->method, "knn") == 0
                   ? hd_train_knn(cli, cfg)
                   : hd_error(HD_ECONFIG, "train --method %s: expected nn (the network) or knn", cli->method);
    if ((rc = hd_features_open(&rd, cli->inputs[0], env.size > 1 ? env.comm : MPI_COMM_NULL)) < 0)
        return rc;
    /* with a calibration the network learns from the rows a calibrated localize reads */
    if (cli->calibration)
        snprintf(cfg->localize.calibration, sizeof cfg->localize.calibration, "%s", cli->calibration);
    const char *calib = cfg->localize.calibration[0] ? cfg->localize.calibration : NULL;
    if ((rc = hd_calib_use(rd.meta.stations, rd.meta.n_receivers, &cfg->localize)) < 0)
        goto fail;
    if ((rc = load_events(cli, cfg, &rd, &d, &env)) < 0)
        goto fail;
    if (cli->resume) {
        if ((rc = hd_nn_model_load(&M, cli->resume)) < 0 ||
            (rc = hd_nn_train_resumable(&M, rd.meta.stations, rd.meta.n_receivers, cli->resume, cli->inputs[0])) < 0)
            goto fail;
        hd_info("resuming %s at epoch %lld, step %lld", cli->resume, (long long)M.epoch, (long long)M.step);
    } else if ((rc = hd_nn_train_new_model(&M, tc, cfg->seed, rd.meta.stations, rd.meta.n_receivers,
                                           cfg->localize.outlier_sigma, &d, &env)) < 0) {
        goto fail;
    }
    if ((rc = hd_nn_train_begin(&M, &d)) < 0)
        goto fail;
    const char *dump = getenv("HD_TRAIN_DUMP");
    if (dump && dump[0] && env.rank == 0 && (rc = dump_tensors(dump, &d)) < 0)
        goto fail;
    hd_progress_start(&prog, "train", "epochs", tc->epochs, cli->quiet);
    rc = hd_nn_train(&M, tc, &d, &env, &status);
    hd_progress_finish(&prog);
    if (rc < 0)
        goto fail;
    hd_runinfo_set_events(d.ntr + d.nva);
    int interrupted = status == HD_NN_TRAIN_INTERRUPTED;
    if (env.rank == 0) {
        const char *inputs[] = {cli->inputs[0], calib};
        hd_h5_provenance prov = {.format = HD_FORMAT_MODEL, .version = HD_MODEL_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = calib ? 2 : 1};
        rc = hd_nn_model_save(&M, cli->output, cli->force || cli->resume != NULL || interrupted, &prov);
    }
    if (env.size > 1)
        MPI_Bcast(&rc, 1, MPI_INT, 0, env.comm);
    if (rc < 0)
        goto fail;
    if (interrupted) {
        hd_warn("interrupted at step %lld (epoch %lld): checkpoint written to %s; continue with --resume %s "
                "(exit status %d: requeue)",
                (long long)M.step, (long long)M.epoch, cli->output, cli->output, HD_EXIT_REQUEUE);
        exit_code = HD_EXIT_REQUEUE;
    } else if (status == HD_NN_TRAIN_STOPPED) {
        hd_info("stopped after epoch %lld as train.stop_after says; continue with --resume %s", (long long)M.epoch,
                cli->output);
    } else {
        hd_info("wrote %s: best validation NLL %.3f after %lld epochs%s", cli->output, M.best_val, (long long)M.epoch,
                M.bad_epochs >= tc->patience ? " (early stopping)" : "");
    }
fail:
    hd_nn_model_release(&M);
    hd_nn_dataset_release(&d);
    hd_features_release(&rd);
    return rc < 0 ? rc : exit_code;
}

int hd_cmd_train(int argc, char **argv)
{
    return hd_cli_stage("train", argc, argv, "model.h5", "one features file", run);
}
