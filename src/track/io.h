/* Tracking's files: reading fixes (localize's positions.h5 or JSON lines,
 * evaluate's eval.h5) with the truth and times of the features file they
 * came from, writing tracks (GeoJSON, KML, JSON lines, tracks.h5), and
 * scoring tracks against fixes on the same events. The algorithms are in
 * track.h (memory only). */
#ifndef HD_TRACK_IO_H
#define HD_TRACK_IO_H
#include <stdio.h>
#include <hdf5.h>
#include "track/track.h"

#define HD_FORMAT_TRACKS "tracks"
#define HD_TRACKS_VERSION 1

typedef struct {
    hd_track_fix *fix;
    int64_t n;
    double *truth_lat, *truth_lon;   /* per fix (NaN unknown); NULL: no truth */
    char kind[32];                   /* "positions", "evaluation", "jsonl" */
    char method[32];                 /* the localize method recorded ("" unknown) */
    char features[1100];             /* the features file times, ids or truth came from ("" none) */
} hd_track_input;

/* Read path: .jsonl (localize's JSON lines) or an HDF5 positions or
 * evaluation file. features: a features file (NULL: the input's own
 * provenance names it, found with hd_h5_find_input; optional for a positions
 * file, required for an evaluation file, which has no times). From it, by
 * event index: times and frequencies (evaluation), /events/tx_id when it has
 * one, /truth/tx_lat, tx_lon when it has them. Errors name the file. */
int hd_track_input_read(hd_track_input *in, const char *path, const char *features);
void hd_track_input_release(hd_track_input *in);

/* The tracks (points with a state) to each non-NULL stream:
 * - geojson: RFC 7946 FeatureCollection: per track a LineString (properties
 *   kind "track", track, events, start, end, used, gated, accel_sigma_mps2,
 *   learnt, frequency_hz, tx_id), per state a Point (kind "state": track,
 *   event, time, speed_mps, speed_sd_mps, heading_deg, reason, cov_enu_m2,
 *   ellipse_68) and its 68 % ellipse as a Polygon (kind "ellipse_68");
 * - kml: KML 2.2 with a gx:Track per track (when / gx:coord, so Google
 *   Earth's time slider plays it) and the ellipses with a TimeStamp each;
 * - jsonl: one object per state. */
int hd_track_write_text(FILE *geojson, FILE *kml, FILE *jsonl, const hd_track_result *r, const char *model);
/* tracks.h5's datasets (states only) and /tracks (one row per track). */
int hd_track_write_h5(hid_t f, const hd_track_result *r, const char *model);

typedef struct {
    int64_t n;                       /* events with a fix, a state and the truth */
    double fix_median_m, track_median_m, filter_median_m;
    double fix_p95_m, track_p95_m;
    double fix_cov1, fix_cov2;       /* fractions inside the fixes' 39.3 % / 86.5 % ellipses (Student-t) */
    double track_cov1, track_cov2;   /* inside the smoothed states' 39.3 % / 86.5 % ellipses (1σ / 2σ; Student-t
                                      * when calibrated) */
    int64_t n_nofix;                 /* events with a state and truth but no usable fix */
    double nofix_median_m;           /* the tracks' median error there */
} hd_track_score;

/* Per fix (as in->fix), its event's time differences from the features file
 * (in->features) as measurements for hd_track_run_meas: the pairs of
 * /tdoa/mask against the receiver in most of them, in metres at c_mps,
 * their covariance from /tdoa/sigma_s (the reference's share from the
 * triangles) plus model_sigma_ns per receiver; the transmitter at
 * /obs/alt_m when the file has it, else default_alt_m. An event with no
 * fix and no valid time difference is measured by its received powers instead (two or
 * more receivers with a calibrated rss_dbm: differences against the
 * strongest, the log-distance model of rss_exponent, rss_sigma_db of
 * shadowing each; n_rss counts them). n_with: fixes with a measurement.
 * Errors: no features file, neither /tdoa nor rss_dbm. */
int hd_track_meas_read(const hd_track_input *in, double c_mps, double model_sigma_ns, double default_alt_m,
                       double rss_exponent, double rss_sigma_db, hd_track_meas **out, int64_t *n_with,
                       int64_t *n_rss);

/* d2[i]: r->pt[i]'s Mahalanobis² against the input's truth under its
 * covariance (NaN: no truth or no state); for hd_track_calibrate_cv */
void hd_track_truth_d2(const hd_track_input *in, const hd_track_result *r, double *d2);

/* Score tracks and fixes against the input's truth on the same events
 * (HD_EDATA when the input has none). */
int hd_track_score_compute(const hd_track_input *in, const hd_track_result *r, hd_track_score *s);
/* The same, logged (hd_info): the fixes' and the tracks' median, p95 and
 * coverage, their ratio, the events without a fix. */
void hd_track_score_log(const hd_track_input *in, const hd_track_result *r);

#endif
