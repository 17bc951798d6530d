/* The featurizer: captures (one block of events in memory) → the rows of
 * features.h5 (features.h). Per receiver: RSS in dBFS and dBm, SNR, noise
 * floor, frequency offset, occupied and RMS bandwidth, clipping, GPS status,
 * level spread, and a mask; per receiver pair: the time difference of
 * arrival (GCC-PHAT over the common band, time stamps applied), its sigma,
 * the peak-to-sidelobe ratio and a mask; optionally a log-mel spectrogram
 * per receiver. Computes on memory only: the command reads and writes the
 * files. */
#ifndef HD_FEATURES_FEATURIZE_H
#define HD_FEATURES_FEATURIZE_H
#include <mpi.h>
#include <stdint.h>

#include "capture/event.h"
#include "config/config.h"
#include "dsp/dsp.h"
#include "features/features.h"

/* Where one block's outputs go: rows of count events, in features.h5's
 * layout (hd_features_write_block, hd_features_write_reasons):
 * feat[count*R*F], mask[count*R], delay/sigma/psr/tmask[count*P],
 * logmel[count*R*T*M] (may be NULL when the featurizer makes no log-mel
 * spectrograms), why[count*R] (hd_rx_why), twhy[count*P] (hd_pair_why),
 * dbm_ok[count*R], tmethod[count*P] (hd_tdoa_method). No feature is ever NaN: a value that is not finite is
 * stored as 0 and only that one is dropped — rss_dbm (an uncalibrated gain
 * or full scale) clears dbm_ok and keeps the receiver; any other masks the
 * receiver (HD_WHY_RX_NOT_FINITE) and keeps its other features. */
typedef struct {
    float *feat;
    uint8_t *mask;
    double *delay, *sigma;
    float *psr;
    uint8_t *tmask;
    float *logmel;
    uint8_t *why, *twhy, *dbm_ok;
    uint8_t *tmethod;            /* [count*P] hd_tdoa_method */
} hd_featurize_rows;

/* What a block found, added to by hd_featurizer_block. */
typedef struct {
    int64_t tdoa_ok;     /* pair measurements valid (tdoa mask 1) */
    int64_t tdoa_cand;   /* pairs with both ends GPS-timed and valid features */
    int64_t rx_why[HD_WHY_RX_COUNT];     /* receivers by reason (0: valid) */
    int64_t pair_why[HD_WHY_PAIR_COUNT]; /* pairs by reason (0: timed) */
    int64_t no_dbm;      /* valid receivers without a calibrated dBm */
    int64_t tdoa_by[HD_TDOA_METHOD_COUNT]; /* timed pairs by method */
} hd_featurize_counts;

typedef struct {
    hd_featurize_cfg cfg;        /* a copy of the featurize: section */
    const hd_station *stations;  /* [R], borrowed: full scale, clock sigma */
    int R, N, L, P;              /* receivers, IQ samples, level samples, pairs */
    int Rcap;                    /* receivers made for (the sparse layout: the most an event has) */
    double max_lag_s;            /* the lag window pairs search (featurize.max_lag_s or auto) */
    int logmel_frames, logmel_mels; /* 0 without featurize.logmel */
    MPI_Comm dist;               /* != MPI_COMM_NULL: pairs use distributed transforms over it */
    float *x;                    /* [R][2N] float IQ of one event */
    float *psd;
    hd_spectral *sp;             /* [R] */
    hd_dsp_net *net;             /* one event's receivers (local transforms) */
    hd_xcorr *xc;                /* [P] */
    unsigned char *use;          /* [R] */
    double *t0;                  /* [R] */
    float *scratch;              /* 2N: a de-rotated capture (distributed mode) */
    hd_mod_cache *mod;           /* one event's modulation timing (made on first use) */
} hd_featurizer;

/* The lag window of a network: its largest baseline over c, plus a few of
 * its GPS clocks' sigma and 50 µs. */
double hd_featurize_auto_max_lag(const hd_station *st, int n_receivers);

/* A featurizer for captures of n_receivers stations (st[n_receivers],
 * borrowed until release), n_samples IQ samples and n_levels level samples
 * per receiver. dist: MPI_COMM_NULL, or the communicator whose ranks all
 * take every event together (long captures, fftw3-mpi transforms; every
 * call is then collective). HD_ECONFIG when the log-mel frame is longer
 * than the captures. */
int hd_featurizer_init(hd_featurizer *f, const hd_featurize_cfg *cfg, const hd_station *st, int n_receivers,
                       int n_samples, int n_levels, MPI_Comm dist);

/* Features of n events: ev[n], links[n*R], iq[n*R*N*2] (int16 interleaved,
 * full scale 32768), levels[n*R*L] as hd_captures_read_block gives them;
 * out's rows filled for those n events; counts added to (may be NULL). */
int hd_featurizer_block(hd_featurizer *f, int n, const hd_event *ev, const hd_link *links, const int16_t *iq,
                        const float *levels, const hd_featurize_rows *out, hd_featurize_counts *counts);

/* The sparse layout: one event heard by k receivers (st[k], this event's
 * receivers in link order; k no more than the featurizer was made for),
 * links[k], iq[k*N*2], levels[k*L]; out's rows are the event's own: k
 * receivers and k(k-1)/2 pairs in hd_features_pair(k) order. The lag
 * window is the event's receivers' (featurize.max_lag_s auto). */
int hd_featurizer_event(hd_featurizer *f, const hd_event *ev, int k, const hd_station *st, const hd_link *links,
                        const int16_t *iq, const float *levels, const hd_featurize_rows *out,
                        hd_featurize_counts *counts);

void hd_featurizer_release(hd_featurizer *f);

/* featurize.fftw_wisdom (path, "" none): load the plans when the file
 * exists, else (one rank only: ranks measuring apart could plan
 * differently) measure them from now on and set *make, for
 * hd_featurize_wisdom_end to keep them there (written whole, renamed). */
int hd_featurize_wisdom_begin(const char *path, int size, int *make);
int hd_featurize_wisdom_end(const char *path);

#endif
