/* A known_sources table: transmitters at known positions (repeaters,
 * beacons) that calibrate can learn from in events without /truth, matched
 * by frequency. CSV with the header id,lat,lon,alt,frequency (WGS84
 * degrees, metres above the ellipsoid, Hz); blank lines and lines starting
 * with # are skipped. */
#ifndef HD_FORMATS_KNOWN_SOURCES_H
#define HD_FORMATS_KNOWN_SOURCES_H
#include <stddef.h>

#define HD_KNOWN_SOURCE_TOL_HZ 1000.0 /* an event's frequency within this of a source's is that source */

typedef struct {
    char id[48];
    double lat, lon, alt_m, frequency_hz;
} hd_known_source;

/* Read path into *out (n rows; free(*out)). A malformed line is HD_ECONFIG
 * "PATH:LINE: …" (wrong field count, a field that is no number, a position
 * or frequency out of range, a duplicate id, two sources within
 * 2 × HD_KNOWN_SOURCE_TOL_HZ of each other); an empty table too. */
int hd_known_sources_read(const char *path, hd_known_source **out, int *n);
/* The source heard at frequency_hz (within HD_KNOWN_SOURCE_TOL_HZ), or -1. */
int hd_known_sources_match(const hd_known_source *ks, int n, double frequency_hz);

#endif
