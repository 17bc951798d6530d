/* What localize and evaluate share: the input (a features file, or a
 * captures file featurized on the fly) and the method. */
#ifndef HD_CMD_LOCATE_COMMON_H
#define HD_CMD_LOCATE_COMMON_H
#include "cli.h"
#include "config/config.h"
#include "features/features.h"
#include "eval/knn.h"
#include "eval/run.h"
#include "nn/model.h"

typedef struct {
    hd_features_reader rd;
    char tmp_features[1100];   /* the on-the-fly features file, removed at release */
    int method;
    hd_nn_model *model;        /* --method nn */
    hd_knn_model *knn;         /* --method knn -m model.h5 (kind knn) */
    const char *calibration;   /* the calibration applied (--calibration or localize.calibration), or NULL */
    int calibrated_known;      /* receivers it knows */
    hd_calib_table cal;        /* a sparse file's calibration, per receiver of its network (R 0: none) */
    hd_run_event_hook event_hook; /* a sparse file's events, each while its network exists (NULL: none) */
    void *event_hook_ctx;
} hd_locate_input;

/* Resolve the method (--method over localize.method) and open the input,
 * featurizing a captures file into a temporary file first; a calibration
 * (--calibration over localize.calibration) is applied to cfg->localize by
 * receiver id, and its receivers unknown to it are named on stderr. */
int hd_locate_input_open(hd_locate_input *in, const hd_cli *cli, hd_config *cfg);
/* Locate every event of the input with its method and model (a kNN model,
 * the network, or a classical solver). */
int hd_locate_input_run(hd_locate_input *in, const hd_cli *cli, const hd_config *cfg, hd_run *r,
                        void (*progress)(void *ctx, int64_t done), void *ctx);
/* The same streaming (hd_run_locate_stream): sink sees each block's events
 * as they are located (a kNN model: all of them at once, at the end). */
int hd_locate_input_stream(hd_locate_input *in, const hd_cli *cli, const hd_config *cfg, hd_run *r,
                           hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx);
void hd_locate_input_release(hd_locate_input *in);

#endif
