/* A test network's station: id, position (alt_m above the ellipsoid), a
 * 10 m mast and a GPS-disciplined clock; the rest zero. */
#ifndef HD_TESTS_STATIONS_H
#define HD_TESTS_STATIONS_H
#include "config/config.h"
#include <stdio.h>
#include <string.h>

static inline void test_station(hd_station *s, const char *prefix, int r, double lat, double lon, double alt_m)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s%d", prefix, r);
    s->lat = lat;
    s->lon = lon;
    s->alt_m = alt_m;
    s->antenna_height_m = 10;
    s->clock = HD_CLOCK_GPS;
}

#endif
