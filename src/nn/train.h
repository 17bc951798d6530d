/* Training the learned localizer, data-parallel over MPI ranks: events
 * made into network inputs (hd_nn_dataset), shared across ranks, split
 * into training and validation by a hash of each event, normalised over
 * the training split; then epochs of AdamW over global batches that the
 * ranks share: each layer's gradient sums reduce-scattered across ranks as
 * soon as the backward pass has finished it (pieces of at most
 * HD_NN_BUCKET_FLOATS), each rank stepping its own block of the parameters,
 * then gathered; the loss trajectory does not depend on the number of
 * ranks; early stopping on the validation loss (shared by the ranks). The whole state lives in an hd_nn_model, so a run
 * stopped after any step continues exactly from it.
 *
 * Computes on memory only: the command reads the features file and writes
 * the model (and its checkpoints) through nn/model.h. */
#ifndef HD_NN_TRAIN_H
#define HD_NN_TRAIN_H
#include "capture/event.h"
#include "config/config.h"
#include "nn/model.h"
#include "nn/nn.h"

#include <mpi.h>
#include <stdint.h>

#define HD_NN_BUCKET_FLOATS (1 << 20) /* 4 MiB at most per reduction */

/* Per event use in training */
enum { HD_NN_UNUSED = 0, HD_NN_TRAIN = 1, HD_NN_VALIDATE = 2, HD_NN_HELD_OUT = 3 };

/* The events as the network sees them. */
typedef struct {
    int64_t E;
    int R;
    float *x;        /* [E*R*HD_NN_DIN] inputs (normalised by hd_nn_train_begin) */
    uint8_t *m;      /* [E*R] receiver present */
    float *y;        /* [E*2] target: (truth − anchor) in the event's unit */
    int64_t *index;  /* [E] events/index */
    double *unit;    /* [E] the event's output unit (m), the anchor's 1-sigma */
    int8_t *use;     /* [E] HD_NN_UNUSED, _TRAIN, _VALIDATE or _HELD_OUT */
    /* filled by hd_nn_dataset_split: the training and validation events (indices into [0, E)) */
    int64_t *train, *val;
    int64_t ntr, nva, held_out;
} hd_nn_dataset;

int hd_nn_dataset_init(hd_nn_dataset *d, int64_t E, int R);
void hd_nn_dataset_release(hd_nn_dataset *d);

/* Feature rows of all E events as hd_features_read_block gives them (only
 * the rows a rank prepares need be filled). */
typedef struct {
    const hd_event *ev;          /* [E] index and truth (NaN: none) */
    const float *feat;           /* [E*R*HD_FEAT_COUNT] */
    const uint8_t *mask;         /* [E*R] */
    const double *delay, *sigma; /* [E*P] */
    const uint8_t *tmask;        /* [E*P] */
    int64_t P;                   /* pair stride (at least 1) */
    const int8_t *group;         /* [E] each event's group of a split of the file, or NULL */
    int exclude_group;           /* events of this group are held out */
} hd_nn_source;

/* Make events [e0, e1) of src into inputs and targets on net and decide
 * their use: nothing heard or no truth → unused; in the excluded group →
 * held out; else validation when a hash of (seed, events/index) falls
 * under val_fraction, training otherwise (the same whatever the ranks). */
int hd_nn_dataset_prepare(hd_nn_dataset *d, const hd_locate_net *net, const hd_nn_source *src, int64_t e0,
                          int64_t e1, uint64_t seed, double val_fraction);

/* Each of the size ranks of comm prepared its block (hd_par_block) with
 * result rc: when every rank succeeded, gather every block to every rank.
 * Returns rc, an error when another rank failed, or 0. Nothing when size < 2. */
int hd_nn_dataset_share(hd_nn_dataset *d, int rc, MPI_Comm comm, int size);

/* Fill d->train, d->val (in event order) and the counts from d->use;
 * fails when fewer than 2 training or 1 validation event remain. */
int hd_nn_dataset_split(hd_nn_dataset *d);

/* Rows list[0..n) of d: inputs x[n*R*DIN], presence m[n*R] and, when y is
 * not NULL, targets y[2n]. */
void hd_nn_dataset_rows(const hd_nn_dataset *d, const int64_t *list, int64_t n, float *x, uint8_t *m, float *y);

/* Sum g[n] over the ranks of comm in place, in all-reduce calls of at
 * most bucket floats each (one large reduction is many times slower than
 * the same data in pieces). */
int hd_nn_allreduce_buckets(float *g, size_t n, MPI_Comm comm, size_t bucket);

/* The same, overlapped with the backward pass: hd_nn_reducer_start (an
 * hd_nn_grad_done for hd_nn_loss_grad_notify) posts MPI_Iallreduce in place
 * over g[off, off + count) in pieces of at most bucket floats as soon as a
 * layer's gradients are final, and lets the earlier ones progress;
 * hd_nn_reducer_wait completes them all. Every rank must start the same
 * ranges in the same order. The sums are those of MPI_Allreduce. */
typedef struct {
    MPI_Comm comm;
    float *g;
    size_t n, bucket;
    MPI_Request *req;
    int nreq, cap, rc;
    /* shards (hd_nn_reducer_init_shards): rank of size; piece q started at
     * piece[q] with counts[q * size + k] of its sums for rank k */
    int shards, rank, size;
    size_t s0, s1;
    size_t *piece;
    int *counts;
} hd_nn_reducer;

int hd_nn_reducer_init(hd_nn_reducer *r, float *g, size_t n, MPI_Comm comm, size_t bucket);
/* The same, but each rank receives the sums of its own shard of g only
 * (hd_par_block of n by rank and size: [r->s0, r->s1)), by
 * MPI_Ireduce_scatter: half the traffic of summing everything everywhere,
 * for an optimiser step that each rank takes on its shard (the rest of g
 * is left undefined). At most n / bucket + 8 pieces between waits. */
int hd_nn_reducer_init_shards(hd_nn_reducer *r, float *g, size_t n, MPI_Comm comm, size_t bucket, int rank,
                              int size);
void hd_nn_reducer_start(void *reducer, size_t off, size_t count);
int hd_nn_reducer_wait(hd_nn_reducer *r);
void hd_nn_reducer_release(hd_nn_reducer *r);

/* The ranks that share each batch. Alone: comm MPI_COMM_NULL (or any), size 1. */
typedef struct {
    MPI_Comm comm;
    int rank, size;
    /* polled after every step (any rank's 1 stops every rank after that step); may be NULL */
    int (*interrupted)(void *ctx);
    /* after every epoch, its entry in M's log made; may be NULL */
    void (*epoch_done)(void *ctx, const hd_nn_model *M);
    void *ctx;
} hd_nn_train_env;

/* A new model for R receivers st: architecture from tc, parameters from
 * seed, normalisation from the training split of d (summed over ranks). */
int hd_nn_train_new_model(hd_nn_model *M, const hd_train_cfg *tc, uint64_t seed, const hd_station *st, int R,
                          double outlier_sigma, const hd_nn_dataset *d, const hd_nn_train_env *env);

/* A loaded model M can continue on data of receivers st[R] when they are
 * its own (same ids, same order); the names are for the message. */
int hd_nn_train_resumable(const hd_nn_model *M, const hd_station *st, int R, const char *model_name,
                          const char *data_name);

/* Before training (a new or a resumed model): record the validation split
 * in M and normalise d's inputs by M's statistics. */
int hd_nn_train_begin(hd_nn_model *M, hd_nn_dataset *d);

typedef enum {
    HD_NN_TRAIN_DONE = 0,    /* every planned epoch */
    HD_NN_TRAIN_EARLY,       /* early stopping (train.patience) */
    HD_NN_TRAIN_STOPPED,     /* train.stop_after epochs reached */
    HD_NN_TRAIN_INTERRUPTED, /* env->interrupted: stopped after a step */
} hd_nn_train_status;

/* Mean NLL (the model's own likelihood, A->nu) and median error (m) of
 * parameters p over the n events list of d, in batches of b (capacity cap). */
void hd_nn_validate(const hd_nn_arch *A, const float *p, const hd_nn_dataset *d, const int64_t *list, int64_t n,
                    hd_nn_batch *b, int cap, double *nll, double *median_m);
/* The same shared by env's ranks: each forwards its block of the list, the
 * per-event values are gathered and every rank sums them in event order. */
int hd_nn_validate_ranks(const hd_nn_arch *A, const float *p, const hd_nn_dataset *d, const int64_t *list, int64_t n,
                         hd_nn_batch *b, int cap, const hd_nn_train_env *env, double *nll, double *median_m);

/* Train M on d (after hd_nn_train_begin) from M's step and epoch until tc's
 * epochs, early stopping, tc->stop_after or an interruption (*status); then
 * fill M's test vectors from the best parameters. M is then ready to save,
 * and a later call on it continues exactly where this one stopped. */
int hd_nn_train(hd_nn_model *M, const hd_train_cfg *tc, const hd_nn_dataset *d, const hd_nn_train_env *env,
                hd_nn_train_status *status);

#endif
