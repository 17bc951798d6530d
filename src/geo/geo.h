/* Geodesy on WGS84: geodetic <-> ECEF <-> local ENU, and geodesics (PROJ's
 * geod_* routines, Karney's algorithm). Angles in degrees, lengths in metres. */
#ifndef HD_GEO_GEO_H
#define HD_GEO_GEO_H

#define HD_WGS84_A 6378137.0
#define HD_WGS84_F (1.0 / 298.257223563)
#define HD_SPEED_OF_LIGHT 299792458.0

void hd_geo_to_ecef(double lat, double lon, double h, double xyz[3]);
void hd_geo_from_ecef(const double xyz[3], double *lat, double *lon, double *h);

/* Local East-North-Up frame tangent at an origin. */
typedef struct {
    double lat0, lon0, h0;
    double ecef0[3];
    double r[3][3];   /* rows: east, north, up unit vectors in ECEF */
} hd_enu;

void hd_enu_init(hd_enu *f, double lat0, double lon0, double h0);
void hd_enu_from_geo(const hd_enu *f, double lat, double lon, double h, double enu[3]);
void hd_enu_to_geo(const hd_enu *f, const double enu[3], double *lat, double *lon, double *h);

/* Geodesic inverse problem: distance s12 (m) and forward azimuths at both
 * ends (degrees clockwise from north). Any output pointer may be NULL. */
/* The PROJ library the geodesics open on first use (dlopen): its SONAME at
 * build time, or $HEIMDALL_PROJ_LIB (a file name or path) when set. A PROJ
 * that cannot be loaded ends the program with status 127 and a message, as
 * a missing linked library does. */
const char *hd_geo_proj_library(void);

void hd_geo_inverse(double lat1, double lon1, double lat2, double lon2,
                    double *s12, double *azi1, double *azi2);
/* Direct problem: the point at distance s12 along azimuth azi1 from (lat1, lon1). */
void hd_geo_direct(double lat1, double lon1, double azi1, double s12,
                   double *lat2, double *lon2, double *azi2);

/* Many short geodesics from one point (an uncertainty ellipse's outline):
 * the end point of the geodesic of length s = hypot(east_m, north_m) along
 * azimuth atan2(east_m, north_m), from the geodesic's Taylor series in s on
 * the ellipsoid (to s^4, the curvature's change along it included): within
 * 0.1 mm of hd_geo_direct to 50 km, 0.6 mm to 100 km and 1 cm to
 * HD_GEO_FAN_MAX_M, 200 km (the error grows as s^5: 1e-7 of the distance
 * there, far inside any outline that large; tests/unit/test_geo.c),
 * hd_geo_direct itself beyond that and within a degree of a pole. Many
 * times cheaper than hd_geo_direct, and it needs no PROJ (opened on the
 * first geodesic). */
#define HD_GEO_FAN_MAX_M 200000.0
typedef struct {
    double lat, lon;
    double p0[3], e[3], n[3], u[3]; /* the point (ECEF) and its east, north, up unit vectors */
    double M, N, dM, dN, tanphi;    /* meridian and prime-vertical radii, their derivatives in latitude */
    int exact;                      /* near a pole: hd_geo_direct for every point */
} hd_geo_fan;
void hd_geo_fan_init(hd_geo_fan *f, double lat, double lon);
void hd_geo_fan_point(const hd_geo_fan *f, double east_m, double north_m, double *lat2, double *lon2);

/* Straight-line (chord) distance between two points with heights: what a
 * radio wave travels. */
double hd_geo_slant_range(double lat1, double lon1, double h1,
                          double lat2, double lon2, double h2);

/* Area of a geodesic polygon (m^2, absolute) given [lat, lon] vertices. */
double hd_geo_polygon_area(const double (*latlon)[2], int n);

/* Point-in-polygon test in lat/lon (edges as straight lines in degrees;
 * fine for regions of a few hundred km). */
int hd_geo_in_polygon(const double (*latlon)[2], int n, double lat, double lon);

#endif
