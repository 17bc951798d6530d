/* The public KiwiSDR receiver list, and the KiwiSDR TDoA service's
 * gnss_pos files, read into neutral records (heimdall stations import
 * turns them into a stations file).
 *
 * The list comes in three forms, all read:
 *   - JSON: an array of objects (or an object holding one such array);
 *   - the JavaScript mirror (rx.linkfanel.net/kiwisdr_com.js and its
 *     copies): "var kiwisdr_com = [ {...}, ... ];", trailing commas allowed;
 *   - the HTML page kiwisdr.com/public/: one entry per receiver, its fields
 *     as "<!-- key=value -->" comments, its address as the entry's link.
 * Every value may be a string or a number ("users":"2" or 2). Fields used:
 * name, url, tdoa_id, gps "(lat, lon)", asl (m), gps_good (satellites in
 * the solution), fixes, fixes_min, users, users_max, status, offline
 * (yes/no), antenna, bands ("lo-hi[,lo-hi]" Hz), loc, sdr_hw, sw_version.
 * An entry without a url or without a readable position is kept with its
 * reason (skip), never silently dropped.
 *
 * gnss_pos/<station>.txt (Octave, see formats/kiwiwav.h): every line
 *   d.<name> = struct('coord',[lat,lon],'host','...','port',8073);
 * is one record (name, position, host, port). */
#ifndef HD_FORMATS_KIWILIST_H
#define HD_FORMATS_KIWILIST_H
#include <stddef.h>
#include "config/config.h"

typedef struct {
    char name[128];        /* the owner's description */
    char url[256];         /* http://host:port/ */
    char tdoa_id[64];      /* the TDoA service's short station name ("" when none) */
    char loc[128];         /* the location as written */
    char antenna[128];
    char bands[128];       /* "lo-hi[,lo-hi]" in Hz as listed ("" unknown) */
    char sdr_hw[128];
    char sw_version[64];
    char status[32];       /* "active", ... ("" unknown) */
    double lat, lon;       /* NAN when the entry has none */
    double asl_m;          /* NAN when unknown */
    int gps_good;          /* satellites in the solution, -1 unknown */
    long fixes;            /* -1 unknown */
    int fixes_min;         /* fixes in the last minute, -1 unknown */
    int users, users_max;  /* -1 unknown */
    int offline;           /* 1 listed as offline, 0 not, -1 unknown */
    char skip[96];         /* why the entry cannot become a station ("" usable) */
} hd_kiwi_listing;

/* Parse a list in any of the three forms. *out (malloc'd, caller frees)
 * gets *n records in the list's order. HD_EFORMAT ("what: why") when the
 * text is none of the forms or not well formed; what names the input. */
int hd_kiwi_list_parse(const char *text, size_t len, const char *what, hd_kiwi_listing **out, int *n);

typedef struct {
    char name[96];         /* the Octave variable name (d.<name>) */
    double lat, lon;
    char host[160];        /* "" when the line has none */
    int port;              /* 0 when none */
} hd_kiwi_gnss_pos;

/* Every d.<name> = struct('coord',[lat,lon],...) line of a gnss_pos file;
 * *n may be 0 (a file with no such line). A line that starts such a record
 * and cannot be read is HD_EFORMAT "what:LINE: why". */
int hd_kiwi_gnss_pos_scan(const char *text, const char *what, hd_kiwi_gnss_pos **out, int *n);

/* From the list and gnss_pos records to stations (heimdall stations import).
 * A listing becomes a KiwiSDR station: id from its tdoa_id, else its
 * server's host, else its name (hd_station_id_make; repeats get -2, -3);
 * its position from a gnss_pos record of the same name (Octave name of the
 * tdoa_id or id) or the same host:port when there is one (the TDoA
 * service's surveyed position), else the list's; clock gps when the server
 * reports a GPS solution (gps_good >= 4 satellites and fixes in the last
 * minute), else free; alt_m from asl; antenna and bands as listed. A
 * gnss_pos record no listing claims becomes a station of its own (clock
 * gps: the TDoA service uses GPS-timed receivers). Selection: near (km
 * from a point, nearest first), freq (bands covering it; unknown bands
 * kept), gps_only, online_only, max. Whatever is left out is in
 * *skipped with its reason, in input order. */
typedef struct {
    double near_lat, near_lon, near_km;   /* near_km 0: anywhere */
    double freq_hz;                       /* 0: any */
    int gps_only, online_only, max;       /* max 0: no limit */
} hd_kiwi_select;

typedef struct {
    hd_station st;
    char note[600];        /* lines (\n) for a comment above the station */
    double dist_km;        /* from the select point (NAN without one) */
} hd_kiwi_station;

typedef struct {
    char what[300];        /* name (url) or gnss_pos name */
    char reason[128];
} hd_kiwi_skipped;

int hd_kiwi_stations(const hd_kiwi_listing *l, int nl, const hd_kiwi_gnss_pos *g, int ng, const hd_kiwi_select *sel,
                     hd_kiwi_station **out, int *n, hd_kiwi_skipped **skipped, int *ns);

/* The reasons of *skipped counted, by their words before any figures in
 * brackets: "2 beyond --near 100 km, 1 no url" ("" when none). */
void hd_kiwi_skipped_summary(const hd_kiwi_skipped *sk, int ns, char *why, size_t size);

/* The stations file: a header (version, date, from, selection, counts), a
 * note, the stations (hd_stations_yaml, each with its note as a comment)
 * and what was left out, as comments. *text malloc'd. */
int hd_kiwi_stations_text(const hd_kiwi_station *st, int n, const hd_kiwi_skipped *sk, int ns, const char *from,
                          const char *selection, const char *version, char **text);

#endif
