/* Fit once, apply later: a network's calibration learnt from events with
 * truth (features files, one or several campaigns), saved as calib.h5
 * (format "calibration") and applied by receiver id to a new campaign.
 *
 * Per receiver (union of the files' receivers, by id):
 *  - RSS offset (dB): hd_learn_rss on every event with truth (offsets of
 *    mean zero over the receivers heard; only differences matter, the
 *    source term is free per event), with the path-loss exponent and the
 *    shadowing sigma; the offset's sigma is its residuals' RMS over the
 *    square root of its links; and the factor on the RSS solver's
 *    covariance that puts half of (up to 400 of) the events' truths inside
 *    its 50 % region, as evaluate.split learns it.
 *  - Clock offset (ns): each event's time differences turned into relative
 *    arrival times (hd_locate_arrivals), minus the truth's travel time
 *    (slant range from the truth's height, times hd_locate_path_factor:
 *    the solver's refractivity); the residual is fitted as t_e (per event,
 *    the emission time) + b_r (per receiver, mean zero over the receivers
 *    timed) by alternating least squares, links beyond 3 robust sigma (MAD)
 *    of the fit dropped and the fit repeated until the links stay the same
 *    (the position check keeps the plain fit's links within 5 robust
 *    sigma: a displaced receiver's are far off until its shift is fitted); sigma as for RSS
 *    (times sqrt(k/(k-1)) for the per-event mean of k receivers).
 *  - Position check: the timing residuals refitted with, per receiver, a
 *    shift of its position from the advertised one (Gauss-Newton on the
 *    ranges to the known transmitters, alternating with the emission times
 *    so that one wrong receiver does not leak into them); the shift is
 *    reported with its sigma, flagged when |shift| > 4 sigma and > 100 m.
 *    Needs time differences (level-only data: no check). The clock offsets
 *    are those of the plain fit (what localize applies at the advertised
 *    positions): a displaced receiver's offset absorbs part of its error.
 * Sparse files (features.h's sparse layout: any number of receivers) get
 * the same model on per-event link lists and per-receiver accumulators
 * (memory grows with the links, never events x receivers): the additive
 * fits solved by conjugate gradients on the receivers' normal equations
 * (each group of receivers that share events of mean zero), the position
 * check on every timed link with its own 5-sigma clipping against the
 * displaced model, flagged on the shift's Mahalanobis distance against the
 * F(2, n-3) bound of 4 known sigma's false-alarm rate, its covariance
 * scaled by the median receiver's excess (when above 1). Dense and sparse
 * files are not mixed. Dense files keep the path described above.
 * Nothing here prints; the command prints the table. */
#ifndef HD_EVAL_CALIBRATE_H
#define HD_EVAL_CALIBRATE_H
#include <stdint.h>
#include "config/config.h"
#include "features/features.h"

#define HD_CALIB_MAX_RECEIVERS 1000000 /* a calibration file of more is refused (malformed) */
#define HD_CALIB_MIN_LINKS 3 /* fewer links of a kind: that part of a receiver is not calibrated */

typedef struct {
    int R;                               /* receivers (any number: the arrays below are [R], hd_calib_alloc) */
    hd_station *st;                      /* ids and advertised positions (first file that has the id) */
    double *rss_offset_db, *rss_offset_sigma_db;
    int64_t *rss_links;
    double rss_exponent, rss_sigma_db;   /* NaN when no RSS was fitted */
    double rss_cov_scale;                /* the RSS covariance's factor that puts half the events' truths
                                            inside the 50 % region (as evaluate.split learns it); 1 unknown */
    double *clock_offset_ns, *clock_offset_sigma_ns;
    double *clock_residual_ns;           /* RMS of the receiver's timing residuals */
    int64_t *clock_links;
    double *disp_east_m, *disp_north_m;  /* position the data point to, minus advertised */
    double *disp_m, *disp_sigma_m;
    int *displaced;                      /* |Δ| > 4 sigma and > 100 m */
    int64_t n_events, n_events_rss, n_events_tdoa; /* with truth; those used by each part */
    int64_t n_events_known;              /* of n_events, those positioned by a known source (no /truth) */
    int64_t *event_file, *event_index;   /* [n_events] the events learnt from (file number, /events/index) */
} hd_calib;

/* The per-receiver arrays for R receivers (zeroed; st kept up to the old
 * R when grown). HD_ENOMEM, c unchanged otherwise. */
int hd_calib_alloc(hd_calib *c, int R);
void hd_calib_release(hd_calib *c);

/* Transmitters at known positions (a known_sources table): an event
 * without a finite truth whose frequency is within tol_hz of source j's is
 * taken as sent from (lat[j], lon[j], alt_m[j]). */
typedef struct {
    int n;
    const double *lat, *lon, *alt_m, *frequency_hz;
    double tol_hz;
} hd_calib_sources;

/* Fit from n open features files (each must have /truth: else HD_ECONFIG
 * naming it). cfg: localize settings (exponent start, tx_alt_m, outlier_sigma). */
int hd_calib_fit(hd_calib *c, hd_features_reader *const *rd, const char *const *paths, int n,
                 const hd_localize_cfg *cfg);
/* The same with known sources (NULL or n 0: none): a file without /truth is
 * then accepted, its events positioned by the sources they match
 * (c->n_events_known); HD_ECONFIG when no event of a file without /truth
 * matches any source. */
int hd_calib_fit_sources(hd_calib *c, hd_features_reader *const *rd, const char *const *paths, int n,
                         const hd_localize_cfg *cfg, const hd_calib_sources *src);
/* Write the datasets into an open file being made (/receivers, /calibration). */
int hd_calib_write(const hd_calib *c, hid_t file);
/* Load calib.h5 (checks the format and version). */
int hd_calib_load(hd_calib *c, const char *path);

/* A calibration applied to a network's receivers st[R] (by id): fills the
 * localize settings: rss_offsets_db (receivers' order; 0 for receivers it
 * does not know), rss_exponent and rss_sigma_db when fitted, clock offsets,
 * and the receivers it does not know (cfg->rx_uncalibrated). Returns the
 * number of receivers it knows; HD_EINVAL when it knows none (a calibration
 * of another network). */
int hd_calib_apply(const hd_calib *c, const char *path, const hd_station *st, int R, hd_localize_cfg *cfg);

/* hd_calib_load and hd_calib_apply of cfg->calibration (when set) to the
 * receivers st[R], said on the log ("calibration X: 6 of 7 receivers
 * calibrated; not in it: a (masked)"). Returns the receivers it knows (0
 * without a calibration) or an error. */
int hd_calib_use(const hd_station *st, int R, hd_localize_cfg *cfg);

/* An applied calibration (cfg->calibrated) on n events' rows: the clock
 * offsets taken out of the time differences delay[n*P]; with
 * localize.unknown_receivers mask, the receivers it does not know and
 * their pairs masked (mask[n*R], tmask[n*P]). What localize, evaluate and
 * train all do to a features file's rows. */
void hd_calib_apply_rows(const hd_localize_cfg *cfg, int R, int P, int64_t n, uint8_t *mask, double *delay,
                         uint8_t *tmask);

/* A calibration applied to a sparse file (any number of receivers): per
 * receiver of the file (rows of its /receivers), the clock offset (s), the
 * RSS offset (dB; 0 when it has none) and whether the calibration knows it
 * (uncalibrated 1: neither part). The dense path keeps them in cfg. */
typedef struct {
    int R;
    double *clock_s, *rss_db;
    uint8_t *uncalibrated;
} hd_calib_table;

/* hd_calib_use for a sparse file's receivers st[R]: loads
 * cfg->calibration into t and sets cfg's exponent, sigma and covariance
 * scale when fitted and cfg->calibrated (its per-receiver arrays stay
 * unused: n_rss_offsets 0). Returns the receivers it knows, HD_EINVAL when
 * none (another network), or an error. */
int hd_calib_table_use(hd_calib_table *t, const hd_station *st, int R, hd_localize_cfg *cfg);
void hd_calib_table_release(hd_calib_table *t);

/* One sparse event's k links, receivers rx[k] (rows of t): the clock
 * offsets out of its time differences delay[P] (hd_features_pair order of
 * its links), the RSS offsets out of feat[k*F]'s rss_dbm, and with
 * localize.unknown_receivers mask the receivers t does not know masked
 * (mask[k], their pairs in tmask[P]). Returns the links (bit j: rx[j])
 * heard (mask set on entry) whose receiver t does not know. */
uint64_t hd_calib_table_apply(const hd_calib_table *t, const hd_localize_cfg *cfg, int k, const int32_t *rx,
                              float *feat, uint8_t *mask, double *delay, uint8_t *tmask);

#endif
