/* The heat map of one located event (like the KiwiSDR TDoA service's): the
 * solver's own cost (hd_locate_cost_geo) over a regular latitude/longitude
 * grid around the solution, as delta-chi² = chi² - chi²_min, and its
 * contours at the 2-DOF confidence levels as closed rings (marching
 * squares). Computes on memory only; knows nothing of files. */
#ifndef HD_LOCATE_HEATMAP_H
#define HD_LOCATE_HEATMAP_H
#include "locate/locate.h"

/* The 2-DOF delta-chi² levels of the contours and their probabilities
 * (68.3 / 95.4 / 99.7 %: one, two and three sigma in 2-D). */
#define HD_HEATMAP_LEVELS 3
extern const double hd_heatmap_level[HD_HEATMAP_LEVELS];       /* 2.30, 6.18, 11.83 */
extern const double hd_heatmap_probability[HD_HEATMAP_LEVELS]; /* 0.683, 0.954, 0.997 */

/* Where the map lies. */
typedef enum {
    HD_HEATMAP_AUTO = 0,   /* around the solution: a square HD_HEATMAP_AUTO_GROW times the 99.7 % ellipse's
                              major semi-axis from it each way (at least HD_HEATMAP_AUTO_MIN_M), grown to hold
                              the ambiguous second crossing; at most localize.max_region_km across */
    HD_HEATMAP_SEARCH = 1, /* the solver's final search region (res->region) */
    HD_HEATMAP_BOX = 2     /* the box given (south, north, west, east) */
} hd_heatmap_region;
#define HD_HEATMAP_AUTO_GROW 2.0
#define HD_HEATMAP_AUTO_MIN_M 50.0

typedef struct {
    int region;            /* hd_heatmap_region */
    double box[4];         /* HD_HEATMAP_BOX: south, north, west, east (degrees) */
    int points;            /* grid points along each side (nx = ny = points) */
} hd_heatmap_opts;

typedef struct {
    int nx, ny;            /* columns (longitude) and rows (latitude) */
    double lon0, lat0;     /* the south-west grid point (degrees) */
    double dlon, dlat;     /* spacing (degrees) */
    double *dchi2;         /* [ny][nx] delta-chi² (row j: latitude lat0 + j dlat); +inf where undefined */
    double chi2_min;       /* the reference: min(the solution's chi², the grid's least) */
    double scale;          /* the variance factor the map was divided by (the solver's scale_by_chi2
                              factor (chi² + prior_nu)/(dof + prior_nu); 1 without) */
    int best_ix, best_iy;  /* the grid's least point */
} hd_heatmap;

/* The map of event (obs, res) located by hd_locate on net: res must be a
 * position (status ok or outside) of a classical method. The cost is the
 * solver's (timings with the emission time at its best at each point, levels
 * with the source term at its best; propagation hf and per-event receiver
 * positions as the solver had them; 3-D events: the slice at the fitted
 * height), divided by the solver's variance factor so that its regions
 * match the ellipses' scale. */
int hd_heatmap_compute(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res,
                       const hd_heatmap_opts *opt, hd_heatmap *map);
void hd_heatmap_release(hd_heatmap *map);

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

typedef struct {
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
