/* Tracking: the fixes of one transmitter over time, grouped into tracks,
 * filtered (Kalman, forward) and smoothed (Rauch–Tung–Striebel, backward) in
 * a local East-North frame. Computes on memory; knows nothing of files.
 *
 * Grouping: events sorted by (transmitter id, frequency, time); a new track
 * starts when the id or the frequency (to the hertz) changes, or after a
 * silence longer than track.max_gap_s.
 *
 * Motion models (per axis, east and north): cv, constant velocity driven by
 * white acceleration of spectral density q = accel_sigma² × 1 s (m²/s³:
 * after dt seconds the velocity has wandered by accel_sigma·sqrt(dt / 1 s));
 * ca, nearly constant acceleration driven by white jerk of density
 * accel_sigma² × 1 s (m²/s⁵). accel_sigma 0: learnt by maximum likelihood, a
 * golden-section search over log(accel_sigma) of the filter's innovation
 * likelihood, per track when it has at least HD_TRACK_LEARN_MIN usable fixes,
 * else one value pooled over the shorter tracks.
 *
 * Fixes: a fix's predictive is a Student-t with nu degrees of freedom whose
 * covariance is cov (localize's convention, locate.h: its ellipses of
 * probability p have Mahalanobis radius² (nu − 2)((1 − p)^(−2/nu) − 1) under
 * cov), so a fix enters as the Gaussian of the same covariance, cov itself
 * (cov is not the t's scale matrix: multiplying by nu / (nu − 2) would count
 * the tails twice); its heavy tails are left to the gate. nu in (0, 2], a t
 * without a variance, enters with cov times HD_TRACK_NU_LOW_INFLATE. A fix whose innovation's
 * Mahalanobis distance exceeds gate_sigma is gated out (its reason recorded);
 * in the learning likelihood a gated fix counts as if it lay on the gate.
 * Correlated fix errors (fix_error_tau_s > 0): the fixes of a walk err alike
 * for a while (a model's bias in one neighbourhood); the state then carries
 * that error b, a Gauss–Markov process of time constant fix_error_tau_s and
 * standard deviation fix_error_sigma_m (0: learnt with the process noise,
 * alternately), and a fix measures position + b. The positions' covariance
 * then includes what the fixes cannot tell apart from b.
 * Every event gets a smoothed state once its track has one usable fix (the
 * events before the first usable fix: the smoothed first state extrapolated
 * backwards). */
#ifndef HD_TRACK_TRACK_H
#define HD_TRACK_TRACK_H
#include <stdint.h>
#include "config/config.h"
#include "track/meas.h"

#define HD_TRACK_LEARN_MIN 20
#define HD_TRACK_NU_LOW_INFLATE 9.0
#define HD_TRACK_V0_SIGMA 100.0  /* m/s: the prior on a track's initial velocity */
#define HD_TRACK_A0_SIGMA 10.0   /* m/s²: on its initial acceleration (ca) */

/* One event's fix (input). */
typedef struct {
    int64_t event_index;
    int64_t time_ns;
    double frequency_hz;         /* NaN: unknown (all in one group) */
    int64_t tx_id;               /* transmitter / aircraft id; -1: none */
    int located;                 /* the fix has a position */
    int status;                  /* its hd_locate status (HD_LOC_OK, …) as the input records it */
    double lat, lon;             /* WGS84 degrees */
    double cov[3];               /* east², east·north, north² (m²) */
    double nu;                   /* Student-t degrees of freedom; 0 Gaussian */
} hd_track_fix;

/* Why a fix did or did not enter its track */
typedef enum {
    HD_TRACK_USED = 0,
    HD_TRACK_GATED = 1,          /* innovation beyond the gate: an outlier */
    HD_TRACK_NO_FIX = 2,         /* the event has no position */
    HD_TRACK_BAD_COV = 3,        /* NaN, infinite or not positive definite covariance, or position NaN */
    HD_TRACK_DUPLICATE = 4,      /* same time and position as the track's previous event: counted once */
    HD_TRACK_MEASURED = 5,       /* updated with the event's own measurements (hd_track_run_meas), not its fix */
    HD_TRACK_REASON_COUNT
} hd_track_reason;

const char *hd_track_reason_name(int reason);

/* One event on a track (output): ordered by track, then time. */
typedef struct {
    int64_t event_index;         /* from the fix */
    int64_t time_ns;
    int64_t input;               /* index of the fix in the input array */
    int track;                   /* track number (0…) */
    int reason;                  /* hd_track_reason */
    double d2;                   /* Mahalanobis distance² of the innovation (NaN: not tested) */
    int has_state;               /* 0: the track has no usable fix; nothing below is set (NaN) */
    double lat, lon;             /* smoothed position */
    double cov[3];               /* its covariance, east², east·north, north² (m²) */
    double ve, vn;               /* smoothed velocity (m/s) */
    double cov_v[3];             /* its covariance (m²/s²) */
    double speed_mps, speed_sd_mps;
    double filt_lat, filt_lon, filt_cov[3]; /* the forward filter's (NaN before the first usable fix) */
    double state[8], state_cov[64]; /* smoothed ENU state (e, n, ve, vn[, ae, an][, be, bn]) in the track's frame */
    double nu;                   /* 0: the state's error Gaussian of covariance cov; > 2: a Student-t of
                                  * covariance cov and nu degrees of freedom (hd_track_calibrate_cv) */
} hd_track_point;

typedef struct {
    int64_t first, n;            /* its points: pt[first … first+n) */
    int64_t tx_id;
    double frequency_hz;
    int64_t t0_ns, t1_ns;
    int n_used, n_reason[HD_TRACK_REASON_COUNT];
    int n_same_time;             /* events sharing the previous one's time (fused; duplicates skipped) */
    int n_out_of_order;          /* events that came before an earlier one in the input */
    double accel_sigma;          /* the process noise used */
    double fix_error_sigma;      /* the fixes' correlated error used (m; 0 without fix_error_tau_s) */
    int learnt;                  /* 1: learnt on this track, 2: pooled over the short tracks, 0: configured */
    double loglik;               /* innovation log-likelihood at accel_sigma */
    double lat0, lon0;           /* origin of its ENU frame */
} hd_track_info;

typedef struct {
    hd_track_point *pt;
    int64_t n;
    hd_track_info *trk;
    int n_tracks;
    int dim;                     /* state dimension: 4 (cv) or 6 (ca), + 2 with fix_error_tau_s */
    double pooled_sigma;         /* the pooled learnt process noise (NaN: none) */
    double pooled_fix_error;     /* and correlated fix error */
    double filter_s;             /* wall time of the final filter and smoother passes (not the learning,
                                  * the frames or the output's conversions) */
    double fix_white_scale;      /* the fixes' white error is this times their covariance (learnt with
                                  * the correlated error; 1 otherwise) */
} hd_track_result;

/* Group, filter and smooth n fixes. Errors: HD_EINVAL (a bad config),
 * HD_ENOMEM. Bad fixes are not errors: their reasons say why. */
int hd_track_run(hd_track_result *out, const hd_track_fix *fix, int64_t n, const hd_track_cfg *cfg);
/* The same, each event updated with its own measurements where meas[i]
 * (per fix, as fix[i]) has them (n >= 2), in place of its fix, also when
 * it has no fix; a track still starts at its first usable fix (its frame
 * and first state). meas NULL: hd_track_run. */
int hd_track_run_meas(hd_track_result *out, const hd_track_fix *fix, const hd_track_meas *meas, int64_t n,
                      const hd_track_cfg *cfg);
void hd_track_result_release(hd_track_result *r);

/* Calibration of the smoothed states' covariance against the truth:
 * the errors taken as a 2-D Student-t of covariance scale × cov and nu
 * degrees of freedom (nu 0: Gaussian), (scale, nu) such that its 1-sigma
 * and 2-sigma regions (39.3 %, 86.5 %) hold those fractions of the states'
 * Mahalanobis² d2 against the truth (two quantiles, two parameters; nu from
 * their ratio, which is 4 for a Gaussian); cross-validated: the
 * tracks in `folds` contiguous folds (by track number), each fold's states
 * scaled by the fit on the other folds' (so no state is calibrated with its
 * own error). Fewer than HD_TRACK_CALIB_MIN states with the truth: nothing
 * changed (applied 0). */
#define HD_TRACK_CALIB_MIN 30
typedef struct {
    int64_t n;                   /* states with the truth */
    int folds, applied;
    double scale, nu;            /* the fit on all of them (what the folds' are near) */
    double model_cov1, model_cov2; /* before: fractions with d2 <= 1, <= 4 */
} hd_track_calibration;
/* d2[i]: r->pt[i]'s Mahalanobis² against the truth (NaN: unknown) */
int hd_track_calibrate_cv(hd_track_result *r, const double *d2, int folds, hd_track_calibration *c);

#endif
