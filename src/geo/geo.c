/* WGS84 geodesy. Geodesics through PROJ's geodesic routines (Karney 2013);
 * ECEF conversions closed-form (forward) and by Bowring-initialised
 * iteration (inverse), accurate to well below a millimetre.
 *
 * PROJ is opened on the first geodesic, not linked: with its own libraries
 * (SQLite, libtiff, libstdc++ and more) it was about a quarter of every
 * command's start-up, and most runs need no geodesic at all (localize's
 * outlines use hd_geo_fan's series up to HD_GEO_FAN_MAX_M, 200 km). */
#include "geo/geo.h"

#include "core/dl.h"

#include <geodesic.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEG (M_PI / 180.0)

/* the library's file name, from its SONAME at build time (Makefile) */
#ifndef HD_PROJ_SONAME
#define HD_PROJ_SONAME "libproj.so"
#endif

static struct {
    __typeof__(&geod_init) init;
    __typeof__(&geod_inverse) inverse;
    __typeof__(&geod_direct) direct;
    __typeof__(&geod_polygon_init) polygon_init;
    __typeof__(&geod_polygon_addpoint) polygon_addpoint;
    __typeof__(&geod_polygon_compute) polygon_compute;
    struct geod_geodesic g;
} proj;
static pthread_once_t proj_once = PTHREAD_ONCE_INIT;

const char *hd_geo_proj_library(void)
{
    return hd_dl_library("HEIMDALL_PROJ_LIB", *HD_PROJ_SONAME ? HD_PROJ_SONAME : "libproj.so");
}

/* A missing PROJ is what a missing linked library was before: the program
 * cannot go on, and says why, with the dynamic loader's status (127). */
static void proj_open(void)
{
    const hd_dl_sym syms[] = {
        {"geod_init", (void **)&proj.init, 0},
        {"geod_inverse", (void **)&proj.inverse, 0},
        {"geod_direct", (void **)&proj.direct, 0},
        {"geod_polygon_init", (void **)&proj.polygon_init, 0},
        {"geod_polygon_addpoint", (void **)&proj.polygon_addpoint, 0},
        {"geod_polygon_compute", (void **)&proj.polygon_compute, 0},
    };
    hd_dl_load("PROJ's geodesic routines", hd_geo_proj_library(),
               "install PROJ (make deps, or apt-get install libproj-dev)", syms, sizeof syms / sizeof *syms, 0);
    proj.init(&proj.g, HD_WGS84_A, HD_WGS84_F);
}

static const struct geod_geodesic *wgs84(void)
{
    pthread_once(&proj_once, proj_open);
    return &proj.g;
}

void hd_geo_to_ecef(double lat, double lon, double h, double xyz[3])
{
    double e2 = HD_WGS84_F * (2 - HD_WGS84_F);
    double sl = sin(lat * DEG), cl = cos(lat * DEG);
    double n = HD_WGS84_A / sqrt(1 - e2 * sl * sl);
    xyz[0] = (n + h) * cl * cos(lon * DEG);
    xyz[1] = (n + h) * cl * sin(lon * DEG);
    xyz[2] = (n * (1 - e2) + h) * sl;
}

void hd_geo_from_ecef(const double xyz[3], double *lat, double *lon, double *h)
{
    double a = HD_WGS84_A, f = HD_WGS84_F, e2 = f * (2 - f), b = a * (1 - f);
    double ep2 = (a * a - b * b) / (b * b);
    double x = xyz[0], y = xyz[1], z = xyz[2];
    double p = hypot(x, y);
    *lon = atan2(y, x) / DEG;
    if (p < 1e-9) { /* on the axis */
        *lat = z >= 0 ? 90.0 : -90.0;
        *h = fabs(z) - b;
        return;
    }
    /* Bowring's initial parametric latitude, then Newton-like refinement */
    double th = atan2(z * a, p * b);
    double phi = atan2(z + ep2 * b * pow(sin(th), 3), p - e2 * a * pow(cos(th), 3));
    for (int i = 0; i < 4; i++) {
        double sp = sin(phi);
        double n = a / sqrt(1 - e2 * sp * sp);
        double hh = p / cos(phi) - n;
        double nphi = atan2(z, p * (1 - e2 * n / (n + hh)));
        if (fabs(nphi - phi) < 1e-15)
            break;
        phi = nphi;
    }
    double sp = sin(phi), cp = cos(phi);
    double n = a / sqrt(1 - e2 * sp * sp);
    /* a height formula stable at all latitudes */
    *h = p * cp + z * sp - a * a / n;
    *lat = phi / DEG;
}

void hd_enu_init(hd_enu *f, double lat0, double lon0, double h0)
{
    f->lat0 = lat0;
    f->lon0 = lon0;
    f->h0 = h0;
    hd_geo_to_ecef(lat0, lon0, h0, f->ecef0);
    double sl = sin(lat0 * DEG), cl = cos(lat0 * DEG), so = sin(lon0 * DEG), co = cos(lon0 * DEG);
    double r[3][3] = {{-so, co, 0}, {-sl * co, -sl * so, cl}, {cl * co, cl * so, sl}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            f->r[i][j] = r[i][j];
}

void hd_enu_from_geo(const hd_enu *f, double lat, double lon, double h, double enu[3])
{
    double x[3];
    hd_geo_to_ecef(lat, lon, h, x);
    double d[3] = {x[0] - f->ecef0[0], x[1] - f->ecef0[1], x[2] - f->ecef0[2]};
    for (int i = 0; i < 3; i++)
        enu[i] = f->r[i][0] * d[0] + f->r[i][1] * d[1] + f->r[i][2] * d[2];
}

void hd_enu_to_geo(const hd_enu *f, const double enu[3], double *lat, double *lon, double *h)
{
    double x[3];
    for (int j = 0; j < 3; j++)
        x[j] = f->ecef0[j] + f->r[0][j] * enu[0] + f->r[1][j] * enu[1] + f->r[2][j] * enu[2];
    hd_geo_from_ecef(x, lat, lon, h);
}

void hd_geo_inverse(double lat1, double lon1, double lat2, double lon2, double *s12, double *azi1, double *azi2)
{
    double s = 0, a1 = 0, a2 = 0;
    const struct geod_geodesic *g = wgs84();
    proj.inverse(g, lat1, lon1, lat2, lon2, &s, &a1, &a2);
    if (s12)
        *s12 = s;
    if (azi1)
        *azi1 = a1;
    if (azi2)
        *azi2 = a2;
}

void hd_geo_direct(double lat1, double lon1, double azi1, double s12, double *lat2, double *lon2, double *azi2)
{
    double la = 0, lo = 0, az = 0;
    const struct geod_geodesic *g = wgs84();
    proj.direct(g, lat1, lon1, azi1, s12, &la, &lo, &az);
    if (lat2)
        *lat2 = la;
    if (lon2)
        *lon2 = lo;
    if (azi2)
        *azi2 = az;
}

void hd_geo_fan_init(hd_geo_fan *f, double lat, double lon)
{
    const double a = HD_WGS84_A, e2 = HD_WGS84_F * (2 - HD_WGS84_F);
    double sp = sin(lat * DEG), cp = cos(lat * DEG), sl = sin(lon * DEG), cl = cos(lon * DEG);
    double w2 = 1 - e2 * sp * sp, w = sqrt(w2);
    f->lat = lat;
    f->lon = lon;
    f->exact = !(fabs(lat) < 89);
    f->N = a / w;
    f->M = a * (1 - e2) / (w2 * w);
    f->dN = e2 * f->N * sp * cp / w2;
    f->dM = 3 * e2 * f->M * sp * cp / w2;
    f->tanphi = sp / cp;
    hd_geo_to_ecef(lat, lon, 0, f->p0);
    double e[3] = {-sl, cl, 0}, n[3] = {-sp * cl, -sp * sl, cp}, u[3] = {cp * cl, cp * sl, sp};
    for (int i = 0; i < 3; i++) {
        f->e[i] = e[i];
        f->n[i] = n[i];
        f->u[i] = u[i];
    }
}

void hd_geo_fan_point(const hd_geo_fan *f, double east_m, double north_m, double *lat2, double *lon2)
{
    double s = sqrt(east_m * east_m + north_m * north_m); /* no overflow at these sizes: hypot's care unneeded */
    if (s == 0) {
        *lat2 = f->lat;
        *lon2 = f->lon;
        return;
    }
    if (f->exact || !(s <= HD_GEO_FAN_MAX_M)) {
        hd_geo_direct(f->lat, f->lon, atan2(east_m, north_m) / DEG, s, lat2, lon2, NULL);
        return;
    }
    /* the unit-speed geodesic g(s) from p0 along t: g'' = -k u (k the
     * normal curvature in its direction), g''' = -k' u - k S t (S the shape
     * operator: S t = sa/N e + ca/M n), g'''' . u = k |S t|^2 */
    double sa = east_m / s, ca = north_m / s, iN = 1 / f->N, iM = 1 / f->M;
    double k = sa * sa * iN + ca * ca * iM, st_e = sa * iN, st_n = ca * iM, st2 = st_e * st_e + st_n * st_n;
    double dphi = ca * iM, dalpha = sa * f->tanphi * iN; /* d latitude / ds, d azimuth / ds (Clairaut) */
    double dk = 2 * sa * ca * dalpha * (iN - iM) - sa * sa * iN * iN * f->dN * dphi - ca * ca * iM * iM * f->dM * dphi;
    double s2 = s * s, s3 = s2 * s, s4 = s3 * s;
    double ce = s * sa - s3 / 6 * k * st_e, cn = s * ca - s3 / 6 * k * st_n;
    double cu = -0.5 * k * s2 - s3 / 6 * dk + s4 / 24 * k * st2;
    double q[3];
    for (int i = 0; i < 3; i++)
        q[i] = f->p0[i] + ce * f->e[i] + cn * f->n[i] + cu * f->u[i];
    /* geodetic: Bowring's closed form, exact to far below a millimetre at
     * the ellipsoid's surface */
    const double a = HD_WGS84_A, e2 = HD_WGS84_F * (2 - HD_WGS84_F), b = a * (1 - HD_WGS84_F), ep2 = e2 / (1 - e2);
    double p = sqrt(q[0] * q[0] + q[1] * q[1]), za = q[2] * a, pb = p * b, t = sqrt(za * za + pb * pb);
    double sth = za / t, cth = pb / t;
    *lat2 = atan2(q[2] + ep2 * b * sth * sth * sth, p - e2 * a * cth * cth * cth) / DEG;
    *lon2 = atan2(q[1], q[0]) / DEG;
}

double hd_geo_slant_range(double lat1, double lon1, double h1, double lat2, double lon2, double h2)
{
    double a[3], b[3];
    hd_geo_to_ecef(lat1, lon1, h1, a);
    hd_geo_to_ecef(lat2, lon2, h2, b);
    return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

double hd_geo_polygon_area(const double (*latlon)[2], int n)
{
    struct geod_polygon p;
    double area = 0, perim = 0;
    const struct geod_geodesic *g = wgs84();
    proj.polygon_init(&p, 0);
    for (int i = 0; i < n; i++)
        proj.polygon_addpoint(g, &p, latlon[i][0], latlon[i][1]);
    proj.polygon_compute(g, &p, 0, 1, &area, &perim);
    return fabs(area);
}

int hd_geo_in_polygon(const double (*latlon)[2], int n, double lat, double lon)
{
    int inside = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        double yi = latlon[i][0], xi = latlon[i][1], yj = latlon[j][0], xj = latlon[j][1];
        if ((yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi)
            inside = !inside;
    }
    return inside;
}
