/* The heat map of one located event (like the KiwiSDR TDoA service's): the
 * solver's own cost (hd_locate_cost_geo) over a regular latitude/longitude
 * grid around the solution, as delta-chi² = chi² - chi²_min, and its
 * contours at the 2-DOF confidence levels as closed rings (marching
 * squares). Computes on memory only; knows nothing of files. */
#ifndef HD_LOCATE_HEATMAP_H
#define HD_LOCATE_HEATMAP_H
#include "locate/locate.h"

/* The contours' probabilities (68.3 / 95.4 / 99.7 %: one, two and three
 * sigma of a Gaussian in 1-D) and the 2-DOF delta-chi² levels that hold them
 * under a Gaussian (2.30, 6.18, 11.83). */
#define HD_HEATMAP_LEVELS 3
extern const double hd_heatmap_probability[HD_HEATMAP_LEVELS]; /* 0.682689, 0.954500, 0.997300 */
extern const double hd_heatmap_level[HD_HEATMAP_LEVELS];       /* 2.2958, 6.1801, 11.829 */

/* What the levels are (localize.heatmap_levels):
 * - predictive: the solver's predictive, as its ellipses: the map is
 *   delta-chi² divided by the event's variance factor s² (scale_by_chi2)
 *   and a level holding probability p is D_p = g ((1 - p)^(-2/nu) - 1) for
 *   the Student-t with nu degrees of freedom (res->nu) and scale g (nu with
 *   scale_by_chi2, whose covariance is nu/(nu - 2) times the fit's; nu - 2
 *   with localize.tail_nu, whose covariance is the fit's): few spare
 *   residuals, wide regions (nu 4 puts 99.7 % at D = 69); -2 ln(1 - p) for
 *   a Gaussian (nu 0);
 * - chi2: the likelihood ratio's fixed levels 2.30 / 6.18 / 11.83 of the
 *   modelled variances (no factor), as the KiwiSDR TDoA service draws. */
typedef enum { HD_HEATMAP_PREDICTIVE = 0, HD_HEATMAP_CHI2 = 1 } hd_heatmap_levels;

/* Where the map lies. */
typedef enum {
    HD_HEATMAP_AUTO = 0,   /* around the solution: HD_HEATMAP_AUTO_GROW times the 99.7 % ellipse's extent
                              east and north from it each way (at least HD_HEATMAP_AUTO_MIN_M), grown to hold
                              the ambiguous second crossing; at most localize.max_region_km across */
    HD_HEATMAP_SEARCH = 1, /* the solver's final search region (res->region) */
    HD_HEATMAP_BOX = 2     /* the box given (south, north, west, east) */
} hd_heatmap_region;
#define HD_HEATMAP_AUTO_GROW 2.0
#define HD_HEATMAP_AUTO_MIN_M 50.0

/* HD_HEATMAP_AUTO's centre */
typedef enum {
    HD_HEATMAP_AROUND_BOTH = 0,     /* the estimate and, when ambiguous, the second crossing */
    HD_HEATMAP_AROUND_ESTIMATE = 1, /* the estimate alone */
    HD_HEATMAP_AROUND_SECOND = 2    /* the ambiguous second crossing alone */
} hd_heatmap_around;

typedef struct {
    int region;            /* hd_heatmap_region */
    int around;            /* hd_heatmap_around (auto region only) */
    double box[4];         /* HD_HEATMAP_BOX: south, north, west, east (degrees) */
    int points;            /* grid points along each side (nx = ny = points) */
    int levels;            /* hd_heatmap_levels */
} hd_heatmap_opts;

typedef struct {
    int nx, ny;            /* columns (longitude) and rows (latitude) */
    double lon0, lat0;     /* the south-west grid point (degrees) */
    double dlon, dlat;     /* spacing (degrees) */
    double *dchi2;         /* [ny][nx] D = (chi² - chi2_min) / scale (row j: latitude lat0 + j dlat);
                              +inf where undefined */
    double chi2_min;       /* the reference: min(the solution's chi², the grid's least) */
    double scale;          /* the variance factor s² the map was divided by (predictive levels: the
                              solver's scale_by_chi2 factor (chi² + prior_nu)/(dof + prior_nu); else 1) */
    double nu;             /* the levels' shape: a Student-t's degrees of freedom, 0 a Gaussian */
    double tscale;         /* the t's scale g (see hd_heatmap_levels) */
    double level[HD_HEATMAP_LEVELS]; /* D at each probability: the contours' levels */
    int best_ix, best_iy;  /* the grid's least point */
} hd_heatmap;

/* The map of event (obs, res) located by hd_locate on net: res must be a
 * position (status ok or outside) of a classical method. The cost is the
 * solver's (timings with the emission time at its best at each point, levels
 * with the source term at its best; propagation hf and per-event receiver
 * positions as the solver had them; 3-D events: the height profiled out,
 * see hd_locate_cost_geo); scale, nu and the levels as opt->levels says. */
int hd_heatmap_compute(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res,
                       const hd_heatmap_opts *opt, hd_heatmap *map);
void hd_heatmap_release(hd_heatmap *map);
/* The level D holding probability p for shape nu (0: Gaussian) and t scale
 * g, and the probability of the smallest region holding a point at D (its
 * inverse). */
double hd_heatmap_level_of(double p, double nu, double g);
double hd_heatmap_content(double D, double nu, double g);

/* The contours of map (computed by hd_heatmap_compute with opt) at its
 * levels into lv[HD_HEATMAP_LEVELS]. An ambiguous event's auto map spans
 * both crossings, too coarsely for either's regions (hundreds of kilometres
 * apart, each a few wide): each is then contoured on its own auto map
 * round it (same points, same reference chi2_min and scale; where the
 * second crossing's map overlaps the estimate's, the estimate's alone);
 * *zoomed (may be NULL) says so. */
struct hd_contour_s;
int hd_heatmap_contours(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res,
                        const hd_heatmap_opts *opt, const hd_heatmap *map, struct hd_contour_s *lv, int *zoomed);

/* One closed ring of a contour: n points (x, y) = (longitude, latitude),
 * the last equal to the first. Exterior rings run counter-clockwise (the
 * region below the level on their left), holes clockwise (RFC 7946);
 * a hole's parent is the exterior ring that holds it (-1 for exteriors). */
typedef struct {
    int n;
    double (*pt)[2];
    int hole, parent;
    double area;           /* signed (degrees²): > 0 exterior */
} hd_contour_ring;

typedef struct hd_contour_s {
    int n;
    hd_contour_ring *ring;
} hd_contour;

/* Marching squares: the rings bounding the region z < level of the grid
 * z[ny][nx] (x = x0 + i dx, y = y0 + j dy), closed along the grid's edge
 * where the region reaches it; saddles resolved by the cell's mean.
 * Non-finite values count as above the level. */
int hd_contour_rings(const double *z, int nx, int ny, double x0, double dx, double y0, double dy, double level,
                     hd_contour *out);
void hd_contour_release(hd_contour *c);
/* 1 when (x, y) lies inside ring (even-odd rule). */
int hd_contour_ring_holds(const hd_contour_ring *r, double x, double y);
/* 1 when (x, y) lies in the contour's region: inside an exterior ring and
 * in none of its holes. */
int hd_contour_holds(const hd_contour *c, double x, double y);

#endif
