/* The features.h5 schema: what `featurize` writes and every localizer
 * reads. Rows are events; arrays are row-major.
 *
 *   /receivers/...                          as in captures.h5
 *   /events/..., /status, /gps_ok, ...      copied from captures.h5
 *   /truth/...                              copied when present
 *   /features   float32 [E, R, F]           names and units in /feature_names, /feature_units
 *   /mask       uint8   [E, R]              1: the receiver's features are valid
 *   /tdoa/pairs int32   [P, 2]              receiver indices (i, j)
 *   /tdoa/delay_s  float64 [E, P]           TOA_j - TOA_i (time stamps applied)
 *   /tdoa/sigma_s  float64 [E, P]           standard deviation estimate
 *   /tdoa/psr_db   float32 [E, P]           correlation peak-to-sidelobe ratio
 *   /tdoa/mask     uint8   [E, P]           1: GPS-timed on both ends and a significant peak
 *   /logmel     float32 [E, R, T, M]        optional log-mel spectrograms (log10 energy)
 * Optional, from import mlat (ADS-B multilateration):
 *   /toa/time_ns int64 [E, R], /toa/mask uint8 [E, R], /toa/rssi float32 [E, R]
 *                                           raw arrival times (the /tdoa pairs are their differences)
 *   /obs/alt_m, /obs/alt_sigma_m float64 [E] the transmitter's height observed: a 3-D TDOA solve
 *   /obs/baro_alt_m [E], /events/aircraft, /events/message_id int64 [E], /receivers/serial, /receivers/good
 */
#ifndef HD_FEATURES_FEATURES_H
#define HD_FEATURES_FEATURES_H
#include <stdint.h>
#include <hdf5.h>
#include <mpi.h>
#include "capture/captures.h"

enum {
    HD_FEAT_RSS_DBFS = 0,   /* total power in the capture, dB full scale */
    HD_FEAT_RSS_DBM,        /* signal power at the antenna port, dBm (nominal calibration) */
    HD_FEAT_SNR_DB,         /* full-band SNR */
    HD_FEAT_NOISE_DBFS,     /* noise floor over the full band */
    HD_FEAT_FREQ_OFFSET_HZ, /* signal's frequency offset from the tuning */
    HD_FEAT_OCC_BW_HZ,      /* 99 % occupied bandwidth */
    HD_FEAT_RMS_BW_HZ,      /* RMS bandwidth */
    HD_FEAT_CLIPPED,        /* fraction of samples at full scale */
    HD_FEAT_GPS_OK,         /* time stamp GPS-disciplined */
    HD_FEAT_LEVEL_STD_DB,   /* spread of the level series (fading), dB */
    HD_FEAT_HAS_IQ,         /* 1 IQ receiver, 0 level-only */
    HD_FEAT_COUNT
};

const char *hd_feature_name(int k);
const char *hd_feature_units(int k);

/* Number of receiver pairs and the pair list (i < j, row-major). */
int hd_features_npairs(int n_receivers);
void hd_features_pair(int n_receivers, int p, int *i, int *j);

typedef struct {
    hd_captures_writer meta;   /* events, status, truth fields */
    hid_t d_feat, d_mask, d_delay, d_sigma, d_psr, d_tmask, d_logmel;
    int64_t n_events;
    int n_receivers, n_pairs;
    int logmel_frames, logmel_mels;   /* 0: no /logmel */
} hd_features_writer;

/* Create the datasets (collective). with_truth: copy /truth. logmel_frames
 * and logmel_mels > 0 add /logmel [E, R, frames, mels]. */
int hd_features_create(hd_features_writer *w, hid_t file, int64_t n_events, int n_receivers, int with_truth,
                       int compression, int logmel_frames, int logmel_mels);
/* Write events [start, start+count): ev/links as read from the captures
 * file; feat[count*R*F], mask[count*R], delay/sigma[count*P], psr[count*P],
 * tmask[count*P], logmel[count*R*T*M] (ignored without /logmel).
 * Collective, count may be 0. */
int hd_features_write_block(hd_features_writer *w, int64_t start, int64_t count, const hd_event *ev,
                            const hd_link *links, const float *feat, const uint8_t *mask,
                            const double *delay, const double *sigma, const float *psr, const uint8_t *tmask,
                            const float *logmel);
void hd_features_close(hd_features_writer *w);

/* Reading a features file. */
typedef struct {
    hd_captures_reader meta;   /* file, n_events, n_receivers, has_truth, stations */
    int n_pairs;
    int n_features;            /* HD_FEAT_COUNT: the file's names are checked against ours */
    int logmel_frames, logmel_mels; /* 0 when the file has no /logmel */
    double max_lag_s;          /* the lag window featurize searched (0 if unknown) */
} hd_features_reader;

/* Open and check the format (refuses a wrong or newer file, a feature list
 * other than this build's, pairs other than hd_features_pair's order). */
int hd_features_open(hd_features_reader *r, const char *path, MPI_Comm comm);
/* Read events [start, start+count): ev[count], links[count*R] (truth NaN
 * without /truth), feat[count*R*F], mask[count*R], delay/sigma[count*P],
 * psr[count*P], tmask[count*P]; any output may be NULL. Independent I/O. */
int hd_features_read_block(hd_features_reader *r, int64_t start, int64_t count, hd_event *ev,
                           hd_link *links, float *feat, uint8_t *mask, double *delay, double *sigma,
                           float *psr, uint8_t *tmask);
void hd_features_release(hd_features_reader *r);

#endif
