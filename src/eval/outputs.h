/* What localize writes: GeoJSON (RFC 7946), KML for Google Earth, and JSON
 * lines for programs, one record per event, each with its 68 % and 95 %
 * uncertainty ellipses. Knows files and formats, nothing of solving. */
#ifndef HD_EVAL_OUTPUTS_H
#define HD_EVAL_OUTPUTS_H
#include <stdint.h>
#include <stdio.h>
#include "config/config.h"
#include "locate/locate.h"

/* One located event. */
typedef struct {
    int64_t index;               /* event number (events/index) */
    int64_t time_ns;             /* capture time, Unix ns UTC */
    double frequency_hz;
    hd_locate_result res;        /* status, lat/lon, cov, gdop, receivers used, … */
    char why[160];               /* without a position: the masks' reasons, "receivers: dead 1; pairs:
                                    no_gps_time 6, too_narrow 4" ("" when the file records none) */
    uint64_t uncalibrated;       /* bit r: receiver r heard but unknown to the calibration applied (JSON
                                    "uncalibrated": their ids, absent when none) */
    /* a sparse file's event: res's receiver bits r are the event's own
     * receivers rx[r] (rows of the network's table); n_rx 0: dense, bit r
     * is receiver r */
    int n_rx;
    int32_t rx[HD_MAX_STATIONS];
} hd_located;

#define HD_ELLIPSE_VERTICES 72   /* per ellipse outline (the ring closes with a 73rd) */

/* Write the located events to each non-NULL stream in one pass (each
 * ellipse outline computed once):
 * - geojson: a FeatureCollection: per event a Point (properties: event,
 *   time, frequency_hz, method, status, ellipse semi-axes and azimuths,
 *   receivers used, GDOP, CRLB) and two Polygons (68 %, 95 %); an event
 *   without a position is a Feature with a null geometry and its status;
 *   the receivers as Points. Coordinates [lon, lat] (8 decimals), rings
 *   closed and counter-clockwise.
 * - kml: KML 2.2, a folder of receivers and one of events (point, ellipses).
 * - jsonl: one JSON object per line per event. */
int hd_write_outputs(FILE *geojson, FILE *kml, FILE *jsonl, const hd_station *st, int R, const hd_located *ev,
                     int64_t n);
/* The same, streaming: begin (the receivers, the files' heads), add events
 * as they come, end (the tails, the GeoJSON bbox; frees the writer);
 * hd_outputs_free drops a writer after an error (the files are then
 * incomplete: abort them). */
typedef struct hd_outputs_s hd_outputs;
int hd_outputs_begin(hd_outputs **w, FILE *geojson, FILE *kml, FILE *jsonl, const hd_station *st, int R);
int hd_outputs_add(hd_outputs *w, const hd_located *ev, int64_t n);
int hd_outputs_end(hd_outputs *w);
void hd_outputs_free(hd_outputs *w);
/* A real as the JSON outputs write it: jansson's format at precision 11
 * ("%.11g", ".0" added to an integral value, the exponent without '+' or
 * leading zeros), the same bytes without printf's slow exact conversion.
 * buf of at least 40 bytes; returns the length, 0 when v is not finite
 * (nothing to write). */
int hd_outputs_format_real(char *buf, double v);

/* The one-line human summary of an event (no newline). */
void hd_located_summary(const hd_station *st, int R, const hd_located *ev, char *buf, size_t size);

#endif
