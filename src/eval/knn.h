/* kNN fingerprinting as a saved model: fit once on a features file with
 * truth (heimdall train --method knn → model.h5 of kind knn: the
 * fingerprint table — per event the RSS vector of the receivers, which
 * heard, the truth and the time — the receivers by id, k and the learnt
 * covariance scale), apply later to another file of the same network
 * (receivers matched by id). */
#ifndef HD_EVAL_KNN_H
#define HD_EVAL_KNN_H
#include <hdf5.h>
#include <stdint.h>
#include "config/config.h"
#include "eval/run.h"
#include "features/features.h"

#define HD_MODEL_KIND_KNN "knn"

typedef struct {
    int R;
    hd_station st[HD_MAX_STATIONS]; /* ids and positions of the training file's receivers */
    int64_t E;                      /* fingerprints */
    float *rss;                     /* [E*R] rss_dbm (0 where not heard) */
    uint8_t *mask;                  /* [E*R] heard */
    double *tx_lat, *tx_lon;        /* [E] truth */
    int64_t *time_ns;               /* [E] */
    int k;                          /* neighbours */
    double cov_scale;               /* the covariance's factor learnt on the fingerprints themselves */
} hd_knn_model;

void hd_knn_model_release(hd_knn_model *m);
/* The fingerprints: every event of rd with a finite truth (rd must have
 * /truth: else HD_EDATA naming path); k neighbours; the covariance scale
 * as evaluate.split learns it (leave the events within 5 minutes out). */
int hd_knn_model_fit(hd_knn_model *m, hd_features_reader *rd, const char *path, const hd_localize_cfg *cfg, int k);
/* Into an open file being made: /receivers, /knn, root attribute kind "knn". */
int hd_knn_model_write(const hd_knn_model *m, hid_t file);
/* Load a model.h5 of kind knn (HD_EFORMAT for another kind, naming it). */
int hd_knn_model_load(hd_knn_model *m, const char *path);
/* "knn" or "nn" (a file without the attribute: the network) of an open model file */
int hd_model_kind(hid_t file, char *kind, size_t size);

/* Every event of rd located by the model's fingerprints, the receivers
 * matched by id (a receiver the model does not know is left out of the
 * match and counted like an uncalibrated one: run->unknown_to "the knn
 * model"); the same positions as evaluate.split's kNN with the model's
 * events as the other groups.
 * HD_EDATA when the model knows none of rd's receivers. */
int hd_run_locate_knn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_knn_model *m,
                      const char *model_path, void (*progress)(void *ctx, int64_t done), void *ctx);
/* The same streaming (as hd_run_locate_stream): sink sees each block. */
int hd_run_locate_knn_stream(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_knn_model *m,
                             const char *model_path, hd_run_sink sink, void *sink_ctx,
                             void (*progress)(void *ctx, int64_t done), void *ctx);

#endif
