/* The learned localizer: a permutation-invariant set network over the
 * receivers (or a plain MLP baseline) predicting a position and its full
 * 2×2 covariance, trained by Gaussian negative log-likelihood with AdamW.
 * Parameters, gradients and optimiser moments are each one flat buffer;
 * batched matrix work goes through OpenBLAS (cblas_sgemm). Computes on
 * memory only; the model file is written and read in nn/model.c. */
#ifndef HD_NN_NN_H
#define HD_NN_NN_H
#include <stddef.h>
#include <stdint.h>
#include "locate/locate.h"

typedef enum { HD_NN_SET = 0, HD_NN_MLP = 1 } hd_nn_kind;

/* Per receiver inputs, in this order (HD_NN_DIN of them). The network
 * learns a correction to an anchor, the classical hybrid estimate of the
 * event (TDOA and RSS in one fit; the receivers' centroid when it has
 * none): positions and arrival times are given relative to it. */
enum {
    HD_NN_IN_RSS = 0,  /* rss_dbm */
    HD_NN_IN_SNR,      /* snr_db */
    HD_NN_IN_HAS_IQ,
    HD_NN_IN_GPS,
    HD_NN_IN_TOA,      /* arrival-time residual at the anchor × c (km): T·c − range − mean */
    HD_NN_IN_TIMED,    /* 1 when the receiver has an arrival time */
    HD_NN_IN_EAST,     /* receiver position, km east of the anchor */
    HD_NN_IN_NORTH,
    HD_NN_IN_ANCHOR,   /* log10 of the anchor's 1-sigma (km); 2.5 when it has none */
    HD_NN_IN_MASK,
    HD_NN_DIN
};

typedef struct {
    int kind;                /* hd_nn_kind */
    int R, din, hidden, gelu;
    double nu;               /* the loss and predictive: Student-t degrees of freedom (> 2), 0 Gaussian */
    size_t off[5];           /* dense1, dense2, layer norm, dense3, dense4 */
    size_t n_params;
} hd_nn_arch;

int hd_nn_arch_init(hd_nn_arch *A, int kind, int R, int hidden, int gelu);

/* Deterministic initialisation (He / Xavier from the counter-based RNG). */
void hd_nn_init_params(const hd_nn_arch *A, uint64_t seed, float *p);

/* Raw inputs of one event: x[R*DIN] and m[R], from a features row (as
 * hd_locate_obs) on net (frame, receiver positions, the anchor's solver);
 * anchor[3]: the anchor (east, north, m in net's frame) and the unit of the
 * network's outputs for this event (the anchor's 1-sigma, m): the network
 * predicts (truth − anchor) / unit and its covariance in that unit. */
int hd_nn_event_inputs(const hd_locate_net *net, const hd_locate_obs *obs, float *x, uint8_t *m, double anchor[3]);

/* Normalisation: x ← (x − mean) / std per input column (flags keep 0/1). */
void hd_nn_normalize(float *x, int64_t rows, const float *mean, const float *std);

/* A batch workspace (float). */
typedef struct hd_nn_batch hd_nn_batch;
hd_nn_batch *hd_nn_batch_new(const hd_nn_arch *A, int B);
void hd_nn_batch_free(hd_nn_batch *b);
/* The batch's input buffers: x[B*R*DIN] (normalised) and m[B*R]. */
float *hd_nn_batch_x(hd_nn_batch *b);
uint8_t *hd_nn_batch_m(hd_nn_batch *b);

/* Forward over n ≤ B events; out[n*5] copied when out is not NULL. */
void hd_nn_forward(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, float *out);
/* Forward, loss and backward: returns the SUM of the n events' NLL (so
 * ranks can add them), gradients of that sum ADDED into g. */
double hd_nn_loss_grad(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, const float *y, float *g);
/* The same, calling done(ctx, off, count) as soon as the gradients
 * g[off, off + count) are final: a layer at a time, the last layer first
 * (each of the five layers of hd_nn_arch's off[] once), so that a caller
 * can start reducing them across ranks while the layers below are still
 * being computed. */
typedef void (*hd_nn_grad_done)(void *ctx, size_t off, size_t count);
double hd_nn_loss_grad_notify(const hd_nn_arch *A, const float *p, hd_nn_batch *b, int n, const float *y, float *g,
                              hd_nn_grad_done done, void *ctx);

/* Mean and covariance (km, km²: ee, en, nn) of an output row. */
void hd_nn_output(const float o[5], double mu[2], double cov[3]);

/* AdamW step on flat buffers: p, g, m, v of n. */
void hd_nn_adamw(float *p, const float *g, float *m, float *v, size_t n, double lr, double wd, int64_t t);
/* Global-norm clipping: scales g when its norm exceeds max; returns the norm. */
double hd_nn_clip(float *g, size_t n, double max);
/* g ← g / div (a mean from a sum), then the same clipping */
double hd_nn_scale_clip(float *g, size_t n, float div, double max);
/* Its parts, for a gradient in shards across ranks: g ← g / div and the sum
 * of its squares (add the shards' sums, then the square root: the norm);
 * g ← g · max / norm when norm exceeds max (> 0). */
double hd_nn_scale_sumsq(float *g, size_t n, float div);
void hd_nn_clip_to(float *g, size_t n, double norm, double max);
/* Learning rate at step t of total: linear warm-up, then cosine to 10 %. */
double hd_nn_lr(double base, int64_t t, int64_t warmup, int64_t total);

/* The double-precision twins of the forward loss (for gradient tests):
 * parameters pd (double), same inputs. */
double hd_nn_loss_double(const hd_nn_arch *A, const double *pd, const float *x, const uint8_t *m, int n,
                         const float *y);
double hd_nn_loss_grad_double(const hd_nn_arch *A, const double *pd, const float *x, const uint8_t *m, int n,
                              const float *y, double *g);

#endif
