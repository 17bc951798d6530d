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
    /* the fan of short geodesics (ellipse outlines) against PROJ's direct
     * problem: latitudes from the equator to 88.9 degrees, every 5 degrees
     * of azimuth, distances to HD_GEO_FAN_MAX_M; the offset in metres (the
     * inverse problem between the two end points) */
    {
        double worst[4] = {0, 0, 0, 0}, lim[4] = {1000, 10000, 50000, HD_GEO_FAN_MAX_M};
        double lats[] = {0, 12.5, -33.9, 45.02, 60, -75, 88.9};
        for (size_t i = 0; i < sizeof lats / sizeof lats[0]; i++) {
            hd_geo_fan fan;
            hd_geo_fan_init(&fan, lats[i], 179.99);
            for (int az = 0; az < 360; az += 5)
                for (double s = 10; s <= HD_GEO_FAN_MAX_M; s = s < HD_GEO_FAN_MAX_M && s * 1.7 > HD_GEO_FAN_MAX_M
                                                                ? HD_GEO_FAN_MAX_M : s * 1.7) { /* the limit itself last */
                    double la1, lo1, pla, plo, d, e = s * sin(az * M_PI / 180), n = s * cos(az * M_PI / 180);
                    hd_geo_fan_point(&fan, e, n, &la1, &lo1);
                    hd_geo_direct(lats[i], 179.99, atan2(e, n) * 180 / M_PI, hypot(e, n), &pla, &plo, NULL);
                    hd_geo_inverse(la1, lo1, pla, plo, &d, NULL, NULL);
                    for (int k = 0; k < 4; k++)
                        if (s <= lim[k] && !(d <= worst[k]))
                            worst[k] = d;
                }
        }
        diag("fan against hd_geo_direct: worst %.2g m to 1 km, %.2g m to 10 km, %.2g m to 50 km, %.2g m to %.0f km",
             worst[0], worst[1], worst[2], worst[3], HD_GEO_FAN_MAX_M / 1000);
        ok(worst[1] < 1e-5, "fan of geodesics within 10 µm of PROJ's to 10 km (%.2g m)", worst[1]);
        ok(worst[2] < 1e-4, "fan of geodesics within 0.1 mm of PROJ's to 50 km (%.2g m)", worst[2]);
        ok(worst[3] < 1e-7 * HD_GEO_FAN_MAX_M, "fan of geodesics within 1e-7 of the distance of PROJ's to %.0f km (%.2g m)",
           HD_GEO_FAN_MAX_M / 1000, worst[3]);
        hd_geo_fan fan;
        double la1, lo1, pla, plo;
        hd_geo_fan_init(&fan, 89.5, 10);
        hd_geo_fan_point(&fan, 300, 400, &la1, &lo1);
        hd_geo_direct(89.5, 10, atan2(300, 400) * 180 / M_PI, 500, &pla, &plo, NULL);
        ok(la1 == pla && lo1 == plo, "fan near a pole: PROJ's direct problem itself");
        hd_geo_fan_init(&fan, 45, 7);
        hd_geo_fan_point(&fan, 0, 0, &la1, &lo1);
        ok(la1 == 45 && lo1 == 7, "fan: no offset, the centre");
    }
    done_testing();
    return exit_status();
}
