/* SigMF recordings (https://sigmf.org): a JSON `.sigmf-meta` (through
 * jansson) beside a `.sigmf-data` of raw samples. One recording per
 * receiver per event, datatype ci16_le (I, Q interleaved int16), one
 * capture segment:
 *   global:   core:datatype, core:sample_rate, core:version, core:recorder,
 *             core:geolocation (GeoJSON Point [lon, lat, alt]),
 *             core:extensions [{name: heimdall}], heimdall:station,
 *             heimdall:event_time_ns
 *   captures: [{core:sample_start 0, core:frequency, core:datetime (first
 *             sample, ns digits), heimdall:gps_ok,
 *             heimdall:last_gps_solution_s, heimdall:clock_rate_hz}]
 *   annotations: []
 * The heimdall: fields make capture -> SigMF -> capture lossless. */
#ifndef HD_FORMATS_SIGMF_H
#define HD_FORMATS_SIGMF_H
#include <stddef.h>
#include <stdint.h>

#define HD_SIGMF_MAX_SAMPLES (1 << 28)

typedef struct {
    double sample_rate_hz;
    double frequency_hz;
    int64_t datetime_ns;       /* core:datetime of the first sample, Unix ns UTC */
    int has_geo;
    double lat, lon, alt_m;    /* core:geolocation */
    char station[96];          /* heimdall:station ("" when absent) */
    int64_t event_time_ns;     /* heimdall:event_time_ns (datetime rounded down to the second when absent) */
    int gps_ok;                /* heimdall:gps_ok (1 when absent) */
    int last_gps_solution_s;   /* heimdall:last_gps_solution_s (0) */
    double clock_rate_hz;      /* heimdall:clock_rate_hz (sample_rate when absent) */
} hd_sigmf_meta;

/* Parse a .sigmf-meta held in memory. HD_EFORMAT with the reason: not JSON,
 * no global object, a datatype other than ci16_le, no or absurd sample
 * rate, no capture, a malformed datetime or geolocation. */
int hd_sigmf_meta_parse(hd_sigmf_meta *m, const char *json, size_t len);
/* The JSON text of m (malloc'd, NUL-terminated). */
int hd_sigmf_meta_format(const hd_sigmf_meta *m, char **json);

/* Read BASE.sigmf-meta and BASE.sigmf-data (path may name either file or
 * the base): iq malloc'd [n*2]. The data size must be whole I/Q pairs. */
int hd_sigmf_read(const char *path, hd_sigmf_meta *m, int16_t **iq, int64_t *n);
/* Write BASE.sigmf-data and BASE.sigmf-meta (temporary names, renamed). */
int hd_sigmf_write(const char *base, const hd_sigmf_meta *m, const int16_t *iq, int64_t n, int force);

#endif
