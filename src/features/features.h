/* The features.h5 schema: what `featurize` writes and every localizer
 * reads. Rows are events; arrays are row-major.
 *
 *   /receivers/...                          as in captures.h5
 *   /events/..., /status, /gps_ok, ...      copied from captures.h5
 *   /truth/...                              copied when present
 *   /features   float32 [E, R, F]           names and units in /feature_names, /feature_units
 *   /mask       uint8   [E, R]              1: the receiver's features are valid
 *   /mask_reason uint8  [E, R]              why /mask is 0 (hd_rx_why; 0 ok), names in its attribute `names`
 *   /dbm_ok     uint8   [E, R]              1: rss_dbm is a calibrated dBm; 0: absent (stored as 0)
 *   /tdoa/pairs int32   [P, 2]              receiver indices (i, j)
 *   /tdoa/delay_s  float64 [E, P]           TOA_j - TOA_i (time stamps applied)
 *   /tdoa/sigma_s  float64 [E, P]           standard deviation estimate
 *   /tdoa/psr_db   float32 [E, P]           correlation peak-to-sidelobe ratio
 *   /tdoa/mask     uint8   [E, P]           1: GPS-timed on both ends and a significant peak
 *   /tdoa/mask_reason uint8 [E, P]          why /tdoa/mask is 0 (hd_pair_why; 0 ok), names in `names`
 * (/mask_reason, /tdoa/mask_reason and /dbm_ok since version 2, written by
 * featurize; absent in older files and in imported features: unknown.)
 *   /logmel     float32 [E, R, T, M]        optional log-mel spectrograms (log10 energy)
 * Optional, from import mlat (ADS-B multilateration):
 *   /toa/time_ns int64 [E, R], /toa/mask uint8 [E, R], /toa/rssi float32 [E, R]
 *                                           raw arrival times (the /tdoa pairs are their differences)
 *   /obs/alt_m, /obs/alt_sigma_m float64 [E] the transmitter's height observed: a 3-D TDOA solve
 *   /obs/baro_alt_m [E], /events/aircraft, /events/message_id int64 [E], /receivers/serial, /receivers/good
 *
 * The sparse layout (from a sparse captures file; attribute layout =
 * "sparse"): the [E, R] rows above are link rows [K] as in captures.h
 * (/events/link_first, link_count, /links/receiver), so /features is
 * [K, F] and /mask, /mask_reason, /dbm_ok are [K]; the pairs are each
 * event's own, its links' hd_features_pair order:
 *   /events/pair_first int64 [E], /events/pair_count int32 [E]
 *   /tdoa/pairs int32 [Q, 2]               receivers (rows of /receivers) of each pair
 *   /tdoa/{delay_s,sigma_s,psr_db,mask,mask_reason,method} [Q]
 * No /logmel.
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

/* Why a receiver is masked (/mask_reason). Append only: stored in files. */
typedef enum {
    HD_WHY_RX_OK = 0,
    HD_WHY_RX_NOT_CAPTURED = 1, /* the capture's status is not ok */
    HD_WHY_RX_DEAD = 2,         /* all-zero IQ */
    HD_WHY_RX_CLIPPED = 3,      /* clipped_fraction above featurize.max_clipped_fraction */
    HD_WHY_RX_NO_DATA = 4,      /* captured, but neither IQ nor a level series */
    HD_WHY_RX_NOT_FINITE = 5,   /* a feature other than rss_dbm is not finite (zeroed, the rest kept) */
    HD_WHY_RX_COUNT
} hd_rx_why;

/* Why a pair is not timed (/tdoa/mask_reason). Append only. */
typedef enum {
    HD_WHY_PAIR_OK = 0,
    HD_WHY_PAIR_END_MASKED = 1,     /* one end's receiver is masked */
    HD_WHY_PAIR_LEVEL_ONLY = 2,     /* one end has no IQ */
    HD_WHY_PAIR_NO_GPS_TIME = 3,    /* one end's time stamp is not GPS-disciplined */
    HD_WHY_PAIR_TOO_NARROW = 4,     /* one end's RMS bandwidth below featurize.min_rms_bw_hz */
    HD_WHY_PAIR_NOT_REFERENCE = 5,  /* featurize.pairs reference: neither end is the reference */
    HD_WHY_PAIR_NO_PEAK = 6,        /* no significant correlation peak (psr below psr_min_db, or invalid) */
    HD_WHY_PAIR_OUTSIDE_LAG_WINDOW = 7, /* the time stamps put the lag window outside the captures' overlap */
    HD_WHY_PAIR_STALE_GPS = 8,      /* one end's GPS fix is stale (last_gps_solution_s > 0): its time stamp free-runs */
    HD_WHY_PAIR_CLOCK_DRIFT = 9,    /* one end's clock fit is off nominal beyond featurize.max_clock_ppm, or its
                                       stamps scatter beyond max_clock_residual_us (the rate drifted) */
    HD_WHY_PAIR_NO_FREQ_LOCK = 10,  /* one end correlates with the reference, but no single frequency difference
                                       explains it (its LO drifts or hops during the capture) */
    HD_WHY_PAIR_COUNT
} hd_pair_why;

/* How a timed pair was timed (/tdoa/method). Append only. */
typedef enum {
    HD_TDOA_NONE = 0,               /* not timed */
    HD_TDOA_CORRELATION = 1,        /* the captures' cross-correlation (hd_dsp_tdoa) */
    HD_TDOA_ENVELOPE = 2,           /* a narrow signal's power envelope (hd_dsp_modulation_tdoa) */
    HD_TDOA_FREQUENCY = 3,          /* a narrow signal's instantaneous frequency (FSK, PSK) */
    HD_TDOA_ARRIVAL = 4,            /* the receivers' own arrival-time stamps (import mlat) */
    HD_TDOA_METHOD_COUNT
} hd_tdoa_method;
extern const char *const hd_tdoa_method_names[HD_TDOA_METHOD_COUNT];

/* A reason a file does not record (an older file, imported features). */
#define HD_WHY_UNKNOWN 255

const char *hd_rx_why_name(int k);   /* "dead", …; "unknown" out of range */
const char *hd_pair_why_name(int k);

const char *hd_feature_name(int k);
const char *hd_feature_units(int k);

/* Number of receiver pairs and the pair list (i < j, row-major). */
int hd_features_npairs(int n_receivers);
void hd_features_pair(int n_receivers, int p, int *i, int *j);

typedef struct {
    hd_captures_writer meta;   /* events, status, truth fields */
    hid_t d_feat, d_mask, d_delay, d_sigma, d_psr, d_tmask, d_logmel;
    int chunk_events;                 /* the dense datasets' chunk: hd_features_chunk_events */
    hid_t d_why, d_twhy, d_dbm_ok;    /* hd_features_create_reasons, else invalid */
    hid_t d_tmethod;                  /* /tdoa/method (hd_features_create_reasons) */
    int64_t n_events;
    int n_receivers, n_pairs;
    int logmel_frames, logmel_mels;   /* 0: no /logmel */
    int sparse;                       /* the sparse layout */
    hid_t d_pfirst, d_pcount, d_pairs; /* sparse: /events/pair_first, pair_count, /tdoa/pairs */
} hd_features_writer;

/* Create the datasets (collective). with_truth: copy /truth (1 or
 * HD_CAPTURES_TRUTH), | HD_CAPTURES_TXID: and /events/tx_id. logmel_frames
 * and logmel_mels > 0 add /logmel [E, R, frames, mels]. */
/* Events a chunk of a dense features file holds: about 1 MiB of a row's
 * outputs (features, pairs, reasons, the event and its links, log-mel), in
 * whole 64s from 64 to 1,024 (at most n_events, at least 1). Fewer chunks:
 * HDF5's parallel driver allocates every chunk of a compressed dataset at
 * creation with one MPI datatype over all of them, and the chunk indexes
 * grow with them. A writer in parallel writes whole chunks per call. */
int hd_features_chunk_events(int64_t n_events, int n_receivers, int logmel_frames, int logmel_mels);
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
/* Add /mask_reason, /tdoa/mask_reason and /dbm_ok to a writer just made by
 * hd_features_create (collective). */
int hd_features_create_reasons(hd_features_writer *w, hid_t file, int compression);
/* Write their rows [start, start+count): why[count*R], twhy[count*P],
 * dbm_ok[count*R], tmethod[count*P] (hd_tdoa_method). Collective, count may be 0. */
int hd_features_write_reasons(hd_features_writer *w, int64_t start, int64_t count, const uint8_t *why,
                              const uint8_t *twhy, const uint8_t *dbm_ok, const uint8_t *tmethod);
void hd_features_close(hd_features_writer *w);

/* The sparse layout: n_links link rows and n_pair_rows pair rows in all,
 * the reasons included (collective). */
int hd_features_create_sparse(hd_features_writer *w, hid_t file, int64_t n_events, int64_t n_links,
                              int64_t n_pair_rows, int n_receivers, int with_truth, int compression);
/* One block: events [start, start+count) (ev[].link_first, n_links as
 * in the captures file; pair_first[count] their first pair rows), link
 * rows [link_start, +nl) (links[nl], feat[nl*F], mask, why, dbm_ok [nl]),
 * pair rows [pair_start, +np) (pairs[np*2] receivers, delay, sigma, psr,
 * tmask, twhy, tmethod [np]). Collective, counts may be 0. */
typedef struct {
    const float *feat;
    const uint8_t *mask, *why, *dbm_ok;
    const int32_t *pairs;
    const double *delay, *sigma;
    const float *psr;
    const uint8_t *tmask, *twhy, *tmethod;
} hd_features_sparse_rows;
int hd_features_write_sparse(hd_features_writer *w, int64_t start, int64_t count, const hd_event *ev,
                             const int64_t *pair_first, int64_t link_start, int64_t nl, const hd_link *links,
                             int64_t pair_start, int64_t np, const hd_features_sparse_rows *rows);

/* Reading a features file. */
typedef struct {
    hd_captures_reader meta;   /* file, n_events, n_receivers, has_truth, stations */
    int n_pairs;
    int n_features;            /* HD_FEAT_COUNT: the file's names are checked against ours */
    int logmel_frames, logmel_mels; /* 0 when the file has no /logmel */
    double max_lag_s;          /* the lag window featurize searched (0 if unknown) */
    int has_reasons;           /* /mask_reason and /tdoa/mask_reason present */
    int has_dbm_ok;            /* /dbm_ok present */
    int64_t n_pair_rows;       /* sparse: Q (meta.sparse, meta.n_links) */
    hid_t dsets[12];           /* the datasets read by block, kept open (0: not yet; see meta.dsets) */
} hd_features_reader;

/* Open and check the format (refuses a wrong or newer file, a feature list
 * other than this build's, pairs other than hd_features_pair's order). */
int hd_features_open(hd_features_reader *r, const char *path, MPI_Comm comm);
/* Either layout (hd_features_open refuses a sparse file). */
int hd_features_open_sparse(hd_features_reader *r, const char *path, MPI_Comm comm);
/* Sparse: events [start, start+count) (ev[count] with link_first and
 * n_links; pair_first[count]: their first pair rows; either may be NULL). */
int hd_features_read_events(hd_features_reader *r, int64_t start, int64_t count, hd_event *ev, int64_t *pair_first);
/* Sparse: link rows [first, +nl) into links[nl] (may be NULL), feat[nl*F],
 * mask[nl], why[nl], dbm_ok[nl]; pair rows [pfirst, +np) into pairs[np*2],
 * delay, sigma, psr, tmask, twhy [np]; any output may be NULL. */
int hd_features_read_sparse(hd_features_reader *r, int64_t first, int64_t nl, hd_link *links, float *feat,
                            uint8_t *mask, uint8_t *why, uint8_t *dbm_ok, int64_t pfirst, int64_t np, int32_t *pairs,
                            double *delay, double *sigma, float *psr, uint8_t *tmask, uint8_t *twhy);
/* A block of a sparse file's events with their links and pairs, read
 * together: the buffers for B events of up to Rc = meta.max_links
 * receivers, and after hd_sparse_block_read the block's events (ev, pf
 * their first pair rows), its nl link rows (lk, feat, mask, why, dok) and
 * its pair rows (delay, sigma, tmask, twhy); event i's links follow event
 * i-1's (checked). */
typedef struct {
    int B, Rc;
    hd_event *ev;
    int64_t *pf;
    hd_link *lk;
    float *feat;
    uint8_t *mask, *why, *dok, *tmask, *twhy;
    double *delay, *sigma;
    int64_t nl;
} hd_sparse_block;
int hd_sparse_block_alloc(hd_sparse_block *b, const hd_features_reader *r, int B);
/* Events [first, first+n), n <= B. HD_EFORMAT when an event's links or
 * pairs do not follow the previous event's or it has more than Rc. */
int hd_sparse_block_read(hd_sparse_block *b, hd_features_reader *r, int64_t first, int n);
void hd_sparse_block_release(hd_sparse_block *b);

/* Read events [start, start+count): ev[count], links[count*R] (truth NaN
 * without /truth), feat[count*R*F], mask[count*R], delay/sigma[count*P],
 * psr[count*P], tmask[count*P]; any output may be NULL. Independent I/O. */
int hd_features_read_block(hd_features_reader *r, int64_t start, int64_t count, hd_event *ev,
                           hd_link *links, float *feat, uint8_t *mask, double *delay, double *sigma,
                           float *psr, uint8_t *tmask);
/* The reasons and the dBm flag of events [start, start+count): why[count*R],
 * twhy[count*P], dbm_ok[count*R]; any may be NULL. A file without them
 * (version 1, imported features) gives HD_WHY_UNKNOWN for every reason and
 * dbm_ok 1 (its rss_dbm is as valid as its /mask says). */
int hd_features_read_reasons(hd_features_reader *r, int64_t start, int64_t count, uint8_t *why, uint8_t *twhy,
                             uint8_t *dbm_ok);
/* The whole file's tally: valid receivers, those without a calibrated dBm,
 * receivers and pairs per reason (index HD_WHY_UNKNOWN in a file without
 * reasons). */
typedef struct {
    int64_t valid, no_dbm;
    int64_t rx[256], pair[256];
} hd_features_tally;
int hd_features_count(hd_features_reader *r, hd_features_tally *t);
void hd_features_release(hd_features_reader *r);

#endif
