/* What localize and evaluate share: the input (a features file, or a
 * captures file featurized on the fly) and the method. */
#ifndef HD_CMD_LOCATE_COMMON_H
#define HD_CMD_LOCATE_COMMON_H
#include "cli.h"
#include "config/config.h"
#include "features/features.h"
#include "nn/model.h"

typedef struct {
    hd_features_reader rd;
    char tmp_features[1100];   /* the on-the-fly features file, removed at release */
    int method;
    hd_nn_model *model;        /* --method nn */
} hd_locate_input;

/* Resolve the method (--method over localize.method) and open the input,
 * featurizing a captures file into a temporary file first. */
int hd_locate_input_open(hd_locate_input *in, const hd_cli *cli, hd_config *cfg);
void hd_locate_input_release(hd_locate_input *in);

#endif
