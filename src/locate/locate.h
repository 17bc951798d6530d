/* Classical localization: TDOA (time differences), RSS (received power) and
 * both in one fit, with covariance, GDOP and the Cramér–Rao bound. Computes
 * on memory only; knows nothing of files.
 *
 * Geometry: positions are (east, north) metres in a tangent frame at the
 * network centroid; a point (e, n) is the geodetic point below the tangent
 * plane's (e, n, 0) at the assumed transmitter height (localize.tx_alt_m),
 * and distances are straight lines in ECEF, so the Earth's curvature is in
 * every range. Covariances are in that frame (metres², east/north).
 *
 * TDOA model. The pairs' time differences D_ij = TOA_j - TOA_i are first
 * turned into per-receiver times of arrival T_r (weighted least squares over
 * the valid pairs of the largest connected set of receivers, pairs
 * inconsistent beyond outlier_sigma dropped), with per-receiver variances
 * v_r fitted to the pair sigmas (sigma_ij² = v_i + v_j): a pair's error is
 * the sum of its two receivers' errors (noise, clock), so the 21 pairs of 7
 * receivers carry 6 independent numbers, not 21, and treating them as
 * independent would shrink the covariance about R/2 times. Then
 * T_r = t0 + |p - rx_r| / c with the emission time t0 unknown is solved for
 * p by a likelihood grid over the region (like the KiwiSDR TDoA heat map)
 * and Levenberg–Marquardt (GSL gsl_multifit_nlinear) from the grid's best
 * point; the covariance is the inverse of the weighted Jacobian's normal
 * matrix, t0 marginalised.
 *
 * RSS model: rss_r - offset_r = P - 10 γ log10(|p - rx_r| / 1 m) + e_r,
 * e_r ~ N(0, rss_sigma_db²), with the source term P unknown (and γ too with
 * rss_fit_exponent). */
#ifndef HD_LOCATE_LOCATE_H
#define HD_LOCATE_LOCATE_H
#include <stdint.h>
#include "config/config.h"
#include "geo/geo.h"

/* Outcome of one event. */
typedef enum {
    HD_LOC_OK = 0,
    HD_LOC_TOO_FEW = 1,       /* not enough receivers for the method */
    HD_LOC_NO_CONVERGENCE = 2,/* the fit did not converge */
    HD_LOC_OUTSIDE = 3,       /* the solution left the search region */
    HD_LOC_NO_FIX = 4,        /* the receivers' geometry fixes no position (1-sigma wider than the region) */
    HD_LOC_STATUS_COUNT
} hd_loc_status;
const char *hd_loc_status_name(int status); /* "ok", "not enough receivers", … */

/* localize.search auto: a 2-D search is coarse-to-fine (a coarse map over
 * the region, its lowest local minima refined down to grid_step_km, the
 * region grown while the best point lies on its edge, up to
 * localize.max_region_km) when the dense grid would have more than this
 * many points or the receivers' box is wider than HD_LOC_WIDE_KM; else the
 * dense grid every grid_step_km, as before. */
#define HD_LOC_DENSE_MAX 250000
#define HD_LOC_WIDE_KM 200.0

/* A coarse map's ranges over a region, made at its first use (see
 * hd_locate_net.wide). */
typedef struct {
    double reg[4];                   /* the region (m): e_min, e_max, n_min, n_max */
    int cx, cy;
    double *d;                       /* [cy*cx][R] ranges, NULL until made */
} hd_locate_map;

/* The receiver network, prepared once for many events. */
typedef struct {
    int R;
    hd_enu frame;                    /* tangent frame at the centroid */
    double tx_alt_m;
    double rx_ecef[HD_MAX_STATIONS][3];
    double rx_en[HD_MAX_STATIONS][2];
    double rx_lat[HD_MAX_STATIONS], rx_lon[HD_MAX_STATIONS], rx_h[HD_MAX_STATIONS]; /* NaN: moves (a bus) */
    double clock_var_s2[HD_MAX_STATIONS]; /* GPS time-stamp variance */
    int G, gx, gy;                   /* grid points (gx × gy) */
    double gx0, gy0, gstep;          /* grid origin (m) and spacing (m) */
    double *grid_d;                  /* [R][G] ranges (km: m / 1000, as the costs take them) */
    double *grid_p;                  /* [G][3] grid points, ECEF */
    int tx, ty;                      /* the dense grid's tiles (8 × 8 points), tx × ty of them */
    double *tile_d;                  /* [ty*tx][R][2] each tile's least and greatest range (km) */
    int bx, by;                      /* blocks of 4 × 4 tiles, bx × by of them */
    double *block_d;                 /* [by*bx][R][2] the same per block */
    int grid_exhaustive;             /* tests: the grid search scans every point (no bounds); the same result */
    double e_min, e_max, n_min, n_max; /* search region (m) */
    int coarse;                      /* coarse-to-fine search (no dense grid: G 0), see HD_LOC_DENSE_MAX */
    double *coarse_d;                /* coarse: the first coarse map's ranges over the region, [cy*cx][R] */
    int coarse_cx, coarse_cy;
    /* what the first event that needs it makes and the others reuse
     * (written through the const network hd_locate takes: a network serves
     * one thread): the exactly determined events' search for the
     * hyperbolas' other crossing, the coarse map over
     * localize.max_region_km around the region (wide); the dense grid's
     * 10 log10 of the ranges in m for the levels, [R][G] (grid_l: RSS and
     * hybrid only) */
    struct hd_locate_cache {
        hd_locate_map wide;
        double *grid_l;
    } *cache;
    hd_localize_cfg cfg;
} hd_locate_net;

int hd_locate_net_init(hd_locate_net *net, const hd_station *st, int R, const hd_localize_cfg *cfg);
void hd_locate_net_release(hd_locate_net *net);

/* The factor by which the 3-D model lengthens the straight line from a
 * transmitter at height alt_m (m, ellipsoidal) to receiver r: 1 + the
 * path's mean refractivity (localize.refractivity_n, _scale_km); exactly 1
 * without refractivity. What a calibration against known positions must
 * use so that its clock offsets match the solver's model. */
double hd_locate_path_factor(const hd_locate_net *net, int r, double alt_m);

/* One event's observations, as in a features file (see features.h):
 * feat[R*F] and mask[R]; delay/sigma/tmask over hd_features_pair order. */
typedef struct {
    const float *feat;
    const uint8_t *mask;
    const double *delay_s, *sigma_s;
    const uint8_t *tmask;
    const double *rx_lat, *rx_lon;   /* [R] the event's own receiver positions (buses), or NULL */
    /* The transmitter's height observed (an aircraft's barometric altitude,
     * a ground transmitter's terrain height): alt_m ellipsoidal with 1-sigma
     * alt_sigma_m > 0 makes the problem 3-D (east, north, height, with the
     * observation as a pseudo-measurement). alt_sigma_m 0 (or NaN): the
     * height is localize.tx_alt_m, fixed, as before. */
    double alt_m, alt_sigma_m;
} hd_locate_obs;

typedef struct {
    int status;                      /* hd_loc_status */
    int method;                      /* hd_locate_method */
    double e, n;                     /* metres in net->frame */
    double lat, lon, alt;            /* alt: the fitted height (3-D), else localize.tx_alt_m */
    double alt_var;                  /* 3-D: the height's variance (m², scaled as cov), NaN in 2-D */
    double alt_obs_m, alt_obs_sigma_m; /* 3-D: the height observation used (sigma 0: none, 2-D) */
    double vdop;                     /* 3-D: vertical dilution of precision (NaN in 2-D) */
    double crlb_alt;                 /* 3-D: the bound on the height's variance (m²) */
    double cov[3];                   /* ee, en, nn (m²) */
    double nu;                       /* the predictive's shape: a Student-t with nu
                                        degrees of freedom (> 2) and covariance cov;
                                        0: a Gaussian */
    double crlb[3];                  /* Cramér–Rao bound at the estimate, same units */
    double gdop;                     /* horizontal dilution of precision (TDOA: per unit
                                        range error; RSS: per dB) */
    double chi2;                     /* weighted residual sum of squares */
    int dof;                         /* residuals minus parameters */
    int n_receivers;                 /* receivers used */
    int n_pairs;                     /* TDOA pairs used */
    uint64_t used;                   /* bit r: receiver r used */
    double source_dbm;               /* RSS: fitted source term P */
    double exponent;                 /* RSS: exponent used */
    /* per receiver, for the bound at another point (hd_locate_crlb) */
    double toa_s[HD_MAX_STATIONS];   /* TDOA: relative times of arrival */
    double toa_var[HD_MAX_STATIONS]; /* TDOA: their variances as fitted (s², with model error) */
    double toa_var_meas[HD_MAX_STATIONS]; /* TDOA: the same without the model error term */
    uint64_t timed;                  /* TDOA receivers */
    uint64_t leveled;                /* RSS receivers */
    /* receivers dropped as timing outliers (bit r; timed no longer has them),
     * with the reason: the residual of their arrival time against the
     * others' fit (ns) and its leverage-standardised size (sigma) */
    uint64_t rejected;
    double reject_ns[HD_MAX_STATIONS], reject_z[HD_MAX_STATIONS];
    /* the region searched (m, net->frame): the network's, or grown by the
     * coarse search (grown: how many times, because the best point lay on
     * the region's edge) */
    double region[4];                /* e_min, e_max, n_min, n_max */
    int grown;
    /* the exactly determined case (two independent time differences, 2-D):
     * the hyperbolas cross twice within the region. ambiguous 1: the other
     * intersection, as good a fit, at (e2, n2) = (lat2, lon2) */
    int ambiguous;
    double e2, n2, lat2, lon2;
} hd_locate_result;

/* The reason receiver r was rejected, in words ("" when it was not):
 * "timing residual 2013 ns (41.2 sigma) against the other receivers". */
void hd_locate_reject_reason(const hd_locate_result *res, int r, char *buf, int size);

/* Locate one event by net->cfg.method (tdoa, rss or hybrid). Always fills
 * res->status; returns < 0 only for invalid arguments or memory. */
int hd_locate(const hd_locate_net *net, const hd_locate_obs *obs, int method, hd_locate_result *res);

/* The Cramér–Rao bound (cov[3], m²) for the receivers (positions from obs
 * where it gives them; obs may be NULL) and variances of res at (e, n): what any unbiased estimator could reach there.
 * with_model: include the model-error term of the timing variances. */
int hd_locate_crlb(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, double e, double n,
                   int with_model, double cov[3]);

/* The same, and in 3-D (res observed the height) the bound on the height's
 * variance (m², NaN in 2-D; var_alt may be NULL). */
int hd_locate_crlb_3d(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, double e,
                      double n, int with_model, double cov[3], double *var_alt);

/* The solver's cost at n geodetic points (lat[i], lon[i], degrees) for
 * event (obs, res) as hd_locate located it (res: its timed and levelled
 * receivers, arrival times and final variances, fitted exponent): the
 * timings' weighted misfit with the emission time at its best at each
 * point, plus the levels' with the source term at its best (the grid
 * search's cost, whose least is res->chi2 at the fit), into chi2[n]. The
 * point's height is localize.tx_alt_m; in 3-D (the event observed its
 * height) the height is profiled out, the least cost over the height at
 * each point (the height observation's residual included; parabolic steps
 * from the fitted res->alt), so that the regions are the marginal ones.
 * obs may be NULL when no receiver moved and no level is used. */
int hd_locate_cost_geo(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res, int64_t n,
                       const double *lat, const double *lon, double *chi2);

/* The TDOA model's first step alone: per-receiver relative arrival times
 * toa_s[R] (mean 0 over the timed set, bits in *timed) and variances
 * var_s2[R] from an event's valid pairs. Returns the number timed. */
int hd_locate_arrivals(int R, const hd_locate_obs *obs, double outlier_sigma, double *toa_s, double *var_s2,
                       uint64_t *timed);

/* Geodetic point of a frame position, and back. */
void hd_locate_to_geo(const hd_locate_net *net, double e, double n, double *lat, double *lon);
void hd_locate_from_geo(const hd_locate_net *net, double lat, double lon, double *e, double *n);

/* The predictive of a position (see hd_locate_result.nu): a bivariate
 * Student-t with nu degrees of freedom and covariance cov, or a Gaussian
 * (nu 0). Its regions of probability p are the ellipses of Mahalanobis
 * distance² (under cov) up to hd_locate_radius2(p, nu): -2 ln(1 - p) for
 * a Gaussian, (nu - 2)((1 - p)^(-2/nu) - 1) for the t. */
double hd_locate_radius2(double p, double nu);
/* The probability inside the ellipse through a point at Mahalanobis
 * distance² d2: the inverse of hd_locate_radius2. Uniform on [0, 1] over
 * truths drawn from the predictive (a calibration check at every level). */
double hd_locate_content(double d2, double nu);
/* −log density (m⁻²) of an offset at Mahalanobis distance² d2 under the
 * predictive with covariance determinant det (m⁴). */
double hd_locate_nll(double d2, double det, double nu);

/* Uncertainty ellipse of the predictive (covariance cov, shape nu) holding
 * probability p (0.68, 0.95): semi-axes (m) and the major axis' azimuth
 * (degrees clockwise from north, in [0, 180)). */
void hd_locate_ellipse(const double cov[3], double nu, double p, double *major_m, double *minor_m,
                       double *azimuth_deg);
/* Its outline as n geodetic vertices (latlon[n][2]) around (lat, lon),
 * each placed on the ellipsoid by a geodesic from the centre (hd_geo_fan:
 * within 0.1 mm of PROJ's), in counter-clockwise order (east, then north,
 * then west). */
void hd_locate_ellipse_outline(double lat, double lon, const double cov[3], double nu, double p, int n,
                               double (*latlon)[2]);

/* Mahalanobis distance² of an offset (de, dn) under cov. */
double hd_locate_mahalanobis2(const double cov[3], double de, double dn);

#endif
