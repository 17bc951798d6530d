/* One event's measurements for the tracker's extended Kalman update: the
 * arrival-time differences of its timed receivers as range differences
 * (metres: time × the speed of light in air), against a reference receiver,
 * so an event too poorly heard for a fix of its own (three timed receivers,
 * two differences) still moves its track; or, for events with no timed
 * receivers, the differences of their received powers (RSS). Memory only. */
#ifndef HD_TRACK_MEAS_H
#define HD_TRACK_MEAS_H
#include "geo/geo.h"

#define HD_TRACK_MEAS_MAX 16  /* timed receivers per event */
#define HD_TRACK_MEAS_NMAX 8  /* state dimension */
#define HD_TRACK_MEAS_ITER 10 /* iterations of the update (an iterated extended Kalman filter) */

typedef struct {
    int n;                              /* timed receivers (rx[0] the reference); < 2: no measurement */
    int rss;                            /* 1: z are received powers, not range differences: the
                                         * log-distance model's rss[j+1] − rss[0] = −10·exponent·
                                         * log10(d[j+1]/d[0]) (dB; the unknown source power cancels),
                                         * sig2_ref and sig2 the shadowing variances (dB²) */
    double exponent;                    /* with rss: the path-loss exponent */
    double rx[HD_TRACK_MEAS_MAX][3];    /* their antennas, ECEF (m) */
    double alt_m;                       /* the transmitter's height above the ellipsoid (m) */
    double z[HD_TRACK_MEAS_MAX - 1];    /* range differences |x − rx[j+1]| − |x − rx[0]| (m) */
    /* their covariance: sig2_ref (the reference's time stamp, common to all)
     * plus sig2[j] on the diagonal (receiver j+1's) (m²) */
    double sig2_ref, sig2[HD_TRACK_MEAS_MAX - 1];
} hd_track_meas;

/* The update of the state (xp, Pp; n-dimensional, position e, n first, in
 * the ENU frame of `frame`, the transmitter on the ellipsoid surface raised
 * to alt_m): iterated, relinearised at each updated position (the Jacobian
 * by 1 m differences) until it moves less than 1 cm; gated and scored at xp. The
 * innovation's Mahalanobis² into d2; gated (beyond the chi² quantile of the
 * 2-D gate gate2's tail, hd_track_meas_gate; gate2 0: none) at the last linearisation: returns 0, xf
 * and Pf untouched; updated: 1; unusable (S not positive definite): -1. The
 * innovation log-likelihood is added to *ll (a gated one as if on the gate). */
int hd_track_meas_update(const hd_enu *frame, const hd_track_meas *ms, int n, const double *xp, const double *Pp,
                         double gate2, double *xf, double *Pf, double *d2, double *ll);
double hd_track_meas_gate(double gate2, int m);

#endif
