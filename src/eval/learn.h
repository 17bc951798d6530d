/* Baselines that learn from events with truth: the RSS solver's per-receiver
 * calibration (offsets, path-loss exponent, shadowing sigma) and weighted
 * k-nearest-neighbour fingerprinting. */
#ifndef HD_EVAL_LEARN_H
#define HD_EVAL_LEARN_H
#include <stdint.h>
#include "locate/locate.h"

/* A whole data set in memory (R receivers, F features per receiver). */
typedef struct hd_dataset_s {
    int64_t E;
    int R;
    const float *feat;        /* [E*R*F] */
    const uint8_t *mask;      /* [E*R] */
    const double *rx_lat, *rx_lon; /* [E*R] per-event receiver positions, or NULL */
    const double *tx_lat, *tx_lon; /* [E] truth */
} hd_dataset;

/* Fit rss − offset_r = P_e − 10 γ log10(d) + e on the events with train[e]
 * (P_e free per event, offsets of mean zero over the receivers with data):
 * offsets[R] (0 for a receiver never heard in training), γ within [1.5, 6],
 * and the residual sigma (dB). Alternating least squares. */
int hd_learn_rss(const hd_locate_net *net, const hd_dataset *d, const uint8_t *train, double *offsets, double *gamma,
                 double *sigma_db);

/* Weighted k-nearest-neighbour fingerprinting of event e from the events
 * with train[e]: RSS vectors over the receivers with fixed positions
 * (missing readings at the -101 dB floor of the data), distance the RMS dB
 * difference over the receivers either heard, position the 1/distance
 * weighted mean of the k nearest truths, covariance their weighted scatter
 * (frame of net, m²) plus the grid floor. Fills res as a located event. */
int hd_knn_locate(const hd_locate_net *net, const hd_dataset *d, const uint8_t *train, int64_t e, int k,
                  hd_locate_result *res);

#endif
