/* model.h5: a trained (or training) network, self-describing. Root
 * attributes give the architecture (arch "set" | "mlp", n_receivers,
 * n_inputs, hidden, activation), the training state (step, epoch,
 * best_val_loss, bad_epochs, seed) and provenance; datasets:
 *   /params, /optimizer/m, /optimizer/v        flat float32, the live state (resume)
 *   /best_params                               flat float32, what predicts (early stopping)
 *   /weights/{dense1_W,dense1_b,dense2_W,dense2_b,ln_gain,ln_bias,
 *             dense3_W,dense3_b,dense4_W,dense4_b}   the best parameters per layer, W [in, out]
 *   /normalization/{mean,std}                  per input; /normalization/inputs names them;
 *                                              outputs in units of attribute target_scale_km
 *   /receivers/...                             the network it was trained on (frame, order)
 *   /log/{epoch,train_loss,val_loss,val_median_m,lr,seconds}, /log/step_loss
 *   /split/validation_events                   events/index of the validation split
 *   /check/{inputs,present,outputs}            test vectors: normalised inputs of a few
 *                                              validation events and the best parameters' outputs
 * Written atomically through src/h5. */
#ifndef HD_NN_MODEL_H
#define HD_NN_MODEL_H
#include "config/config.h"
#include "h5/h5.h"
#include "nn/nn.h"

typedef struct {
    hd_nn_arch A;
    float *params, *best, *m, *v;     /* [A.n_params] each */
    float mean[HD_NN_DIN], std[HD_NN_DIN];
    double target_km;                 /* outputs are in units of this (the training targets' spread) */
    hd_station st[HD_MAX_STATIONS];
    int R;
    double outlier_sigma;             /* of the arrival-time step (localize.outlier_sigma) */
    /* the anchor fit's network, prepared at load: the model's receivers with
     * the localize settings of training (its config_yaml); predictions use
     * it, whatever the config at hand */
    hd_locate_net anchor;
    int has_anchor;
    uint64_t seed;
    int64_t step, epoch;
    double best_val;
    int bad_epochs;
    /* per epoch */
    int n_log;
    double *log_epoch, *log_train, *log_val, *log_med, *log_lr, *log_sec;
    /* per step */
    int64_t n_steps;
    double *step_loss;
    int64_t n_val;
    int64_t *val_events;
    /* test vectors: a few validation events' normalised inputs and the
     * outputs of the best parameters, so another implementation can check
     * itself against this one (/check/{inputs,present,outputs}) */
    int n_check;
    float *check_x, *check_out;
    uint8_t *check_m;
} hd_nn_model;

int hd_nn_model_alloc(hd_nn_model *M, const hd_nn_arch *A);
void hd_nn_model_release(hd_nn_model *M);
int hd_nn_model_log(hd_nn_model *M, double epoch, double tr, double val, double med, double lr, double sec);
int hd_nn_model_step_loss(hd_nn_model *M, double loss);

/* Write to path (atomic; force: overwrite), with provenance. */
int hd_nn_model_save(const hd_nn_model *M, const char *path, int force, const hd_h5_provenance *prov);
/* Read; refuses a file that is not a model, a newer version, or one whose
 * datasets do not match its architecture. */
int hd_nn_model_load(hd_nn_model *M, const char *path);

/* Predict events of a features file whose receivers must be the model's
 * (same ids in the same order): res filled like the classical solvers'
 * (lat, lon, cov east/north m², status). The anchor fit uses the model's
 * own network (has_anchor), else net. */
int hd_nn_predict(const hd_nn_model *M, const hd_locate_net *net, const hd_locate_obs *obs, int n_events, int R,
                  hd_locate_result *res);

#endif
