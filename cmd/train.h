/* train's second method: kNN fingerprints saved as a model (train_knn.c). */
#ifndef HD_CMD_TRAIN_H
#define HD_CMD_TRAIN_H
#include "cli.h"
#include "config/config.h"

/* heimdall train --method knn: features.h5 with truth → model.h5 of kind knn */
int hd_train_knn(const hd_cli *cli, hd_config *cfg);

#endif
