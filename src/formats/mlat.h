/* ADS-B multilateration data (LocaRDS, the OpenSky Network's localization
 * reference data set; see ../shared/datasets/mlat/README.md): a sensors
 * file (serial,latitude,longitude,height,type,good) and message files
 * (id,timeAtServer,aircraft,latitude,longitude,baroAltitude,geoAltitude,
 * numMeasurements,measurements) whose last column is a JSON list of
 * [sensor serial, arrival time in ns, RSSI]. Read into memory, then
 * assembled into the arrays a features file holds: the receivers that
 * occur, per message the arrival times per receiver, the pair time
 * differences with sigmas by clock type, and the reported altitude as an
 * observation. Knows the files, nothing of localization.
 *
 * Policy: a malformed row is refused (HD_EFORMAT, "file:line: ..."); so is
 * a message naming a receiver the sensors file does not list (the files do
 * not belong together), and a message naming one receiver twice. */
#ifndef HD_FORMATS_MLAT_H
#define HD_FORMATS_MLAT_H
#include <stdint.h>
#include "config/config.h"

#define HD_MLAT_MAX_MEAS 64   /* measurements per message */

typedef struct {
    int serial;
    double lat, lon, height_m;  /* WGS84; height above the ellipsoid */
    char type[32];              /* receiver model (Radarcape, SBS-3, …) */
    int good;                   /* clock GPS-disciplined and trusted */
} hd_mlat_sensor;

typedef struct {
    int64_t id;                 /* the data set's message id */
    double time_s;              /* timeAtServer: seconds since the start of the recording hour */
    int64_t aircraft;
    double lat, lon;            /* the aircraft's own GNSS position (truth) */
    double baro_alt_m, geo_alt_m; /* barometric altitude; GNSS height above the ellipsoid (truth) */
    int n;                      /* measurements */
    int sensor[HD_MLAT_MAX_MEAS];     /* index into hd_mlat.sensors */
    int64_t toa_ns[HD_MLAT_MAX_MEAS];
    double rssi[HD_MLAT_MAX_MEAS];
} hd_mlat_message;

typedef struct {
    hd_mlat_sensor *sensors;
    int n_sensors;
    hd_mlat_message *msg;
    int64_t n_msg, cap_msg;
} hd_mlat;

/* The import's settings (config import.mlat). */
typedef struct {
    double gps_sigma_ns;        /* timing 1-sigma of a receiver with good = TRUE */
    double other_sigma_ns;      /* of any other receiver (its pairs are masked) */
    double alt_sigma_m;         /* the barometric altitude as an observation of the ellipsoidal height */
    double alt_offset_m;        /* added to the barometric altitude */
    /* per receiver clock offsets (ns) subtracted from its arrival times:
     * serials[k] has offsets[k] (a calibration); n 0: none */
    const int *offset_serials;
    const double *offsets_ns;
    int n_offsets;
} hd_mlat_opts;

void hd_mlat_init(hd_mlat *m);
/* Read the sensors file (once, before the messages). */
int hd_mlat_read_sensors(hd_mlat *m, const char *path);
/* Append the messages of one file. */
int hd_mlat_read_messages(hd_mlat *m, const char *path);
void hd_mlat_release(hd_mlat *m);

/* A clock offsets table: CSV "serial,offset_ns" (a header line allowed). */
int hd_mlat_read_offsets(const char *path, int **serials, double **offsets_ns, int *n);

/* The arrays of a features file, receivers in order of first appearance. */
typedef struct {
    int R;                      /* receivers that occur (<= HD_MAX_STATIONS) */
    int64_t E;
    int P;                      /* R(R-1)/2, hd_features_pair order */
    hd_station st[HD_MAX_STATIONS];
    int serial[HD_MAX_STATIONS];
    int64_t *toa_ns;            /* [E*R] arrival time minus the clock offset; 0 where !heard */
    uint8_t *heard;             /* [E*R] */
    float *rssi;                /* [E*R] NaN where !heard */
    double *delay_s, *sigma_s;  /* [E*P] toa_j - toa_i; sqrt(s_i² + s_j²) */
    uint8_t *tmask;             /* [E*P] both heard and both GPS-disciplined */
    double *alt_m, *alt_sigma_m;/* [E] the altitude observation */
    int64_t n_offsets_applied;  /* arrival times corrected by a clock offset */
} hd_mlat_table;

/* Assemble m's messages. Fails (HD_EDATA) when more receivers occur than
 * HD_MAX_STATIONS, naming the count. */
int hd_mlat_assemble(const hd_mlat *m, const hd_mlat_opts *o, hd_mlat_table *t);
void hd_mlat_table_release(hd_mlat_table *t);

#endif
