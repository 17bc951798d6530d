/* geo: WGS84 conversions and geodesics against published values. */
#include "geo/geo.h"
#include "tap.h"

#include <math.h>

int main(void)
{
    plan_no_plan();
    double x[3], lat, lon, h;

    /* ECEF of defining points (WGS84: a = 6378137 m, b = 6356752.314245 m) */
    hd_geo_to_ecef(0, 0, 0, x);
    ok(fabs(x[0] - 6378137.0) < 1e-6 && fabs(x[1]) < 1e-6 && fabs(x[2]) < 1e-6, "equator, prime meridian -> (a, 0, 0)");
    hd_geo_to_ecef(90, 0, 0, x);
    is_double(x[2], 6356752.314245, 1e-5, "north pole z = b");
    hd_geo_to_ecef(0, 90, 100, x);
    is_double(x[1], 6378237.0, 1e-6, "equator at 90 E, 100 m up: y = a + 100");

    /* round trips at assorted points, including high latitude and altitude */
    double pts[][3] = {{45.044, 7.672, 250}, {-33.9, 151.2, 40}, {89.99, -120, 3000}, {-89.5, 10, -50}, {0.1, 179.9, 8848}};
    double worst_m = 0, worst_h = 0;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        hd_geo_to_ecef(pts[i][0], pts[i][1], pts[i][2], x);
        hd_geo_from_ecef(x, &lat, &lon, &h);
        double dm = fabs(lat - pts[i][0]) * 111e3 + fabs(lon - pts[i][1]) * 111e3 * cos(lat * M_PI / 180);
        worst_m = dm > worst_m ? dm : worst_m;
        worst_h = fabs(h - pts[i][2]) > worst_h ? fabs(h - pts[i][2]) : worst_h;
    }
    ok(worst_m < 1e-6, "ECEF round trip horizontal error < 1 µm (worst %.2g m)", worst_m);
    ok(worst_h < 1e-6, "ECEF round trip height error < 1 µm (worst %.2g m)", worst_h);

    /* GeographicLib's documented example (GeodSolve -i 40.6 -73.8 51.6 -0.5):
     * JFK to LHR, azi1 51.198882845, azi2 107.821776735, s12 5551759.400 m */
    double s12, a1, a2;
    hd_geo_inverse(40.6, -73.8, 51.6, -0.5, &s12, &a1, &a2);
    is_double(s12, 5551759.400, 1e-3, "JFK-LHR geodesic distance");
    is_double(a1, 51.198882845, 1e-8, "JFK-LHR forward azimuth");
    is_double(a2, 107.821776735, 1e-8, "JFK-LHR azimuth at LHR");
    /* the direct problem along the published azimuth and distance lands on LHR */
    double la2, lo2, az2;
    hd_geo_direct(40.6, -73.8, 51.198882845, 5551759.400, &la2, &lo2, &az2);
    is_double(la2, 51.6, 1e-8, "direct problem reaches LHR latitude");
    is_double(lo2, -0.5, 1e-8, "direct problem reaches LHR longitude");
    is_double(az2, 107.821776735, 1e-8, "direct problem arrival azimuth");
    /* a quarter meridian: 10001965.729 m (WGS84) */
    hd_geo_inverse(0, 0, 90, 0, &s12, NULL, NULL);
    is_double(s12, 10001965.729, 1e-3, "quarter meridian");

    /* ENU: origin maps to zero; a point 1 km north along the meridian */
    hd_enu f;
    hd_enu_init(&f, 45.0, 7.5, 0);
    double enu[3];
    hd_enu_from_geo(&f, 45.0, 7.5, 0, enu);
    ok(fabs(enu[0]) < 1e-9 && fabs(enu[1]) < 1e-9 && fabs(enu[2]) < 1e-9, "ENU origin is zero");
    hd_geo_direct(45.0, 7.5, 0.0, 1000.0, &la2, &lo2, NULL);
    hd_enu_from_geo(&f, la2, lo2, 0, enu);
    ok(fabs(enu[0]) < 1e-6 && fabs(enu[1] - 1000.0) < 1e-3 && enu[2] < 0 && enu[2] > -0.1,
       "1 km north: e 0, n 1000, u slightly negative (%.4f %.4f %.4f)", enu[0], enu[1], enu[2]);
    double back[3] = {1234.5, -987.6, 55.5};
    hd_enu_to_geo(&f, back, &lat, &lon, &h);
    hd_enu_from_geo(&f, lat, lon, h, enu);
    ok(fabs(enu[0] - back[0]) < 1e-6 && fabs(enu[1] - back[1]) < 1e-6 && fabs(enu[2] - back[2]) < 1e-6, "ENU round trip");

    /* slant range: straight up 1000 m is 1000 m; short baselines match the geodesic */
    is_double(hd_geo_slant_range(45, 7, 0, 45, 7, 1000), 1000.0, 1e-6, "vertical slant range");
    hd_geo_inverse(45, 7, 45.01, 7.01, &s12, NULL, NULL);
    is_double(hd_geo_slant_range(45, 7, 0, 45.01, 7.01, 0), s12, 1e-3, "short chord equals geodesic to 1 mm");

    /* polygon area: a 1 × 1 degree cell at the equator, 12308778361.469 m²
     * (GeographicLib Planimeter) */
    double cell[4][2] = {{0, 0}, {0, 1}, {1, 1}, {1, 0}};
    is_double(hd_geo_polygon_area((const double (*)[2])cell, 4), 12308778361.469, 1.0, "1°×1° equatorial cell area");
    double tri[3][2] = {{44.5, 7.0}, {45.5, 8.0}, {44.5, 9.0}};
    ok(hd_geo_in_polygon((const double (*)[2])tri, 3, 44.8, 8.0), "point inside triangle");
    ok(!hd_geo_in_polygon((const double (*)[2])tri, 3, 45.4, 7.2), "point outside triangle");
    done_testing();
    return exit_status();
}
