/* Recordings on disk (KiwiSDR TDoA wav, SigMF) assembled into a captures
 * file: one file per receiver per event is read into an hd_recording, the
 * recordings are grouped into events (same event time and frequency) and
 * receivers (same station), each receiver gets its station entry, and the
 * set is written as captures.h5 with the per-file clock in /clock.
 *
 * The clock fit itself (a least-squares line through a kiwiwav file's fresh
 * GPS stamps) stays in formats/kiwiwav.c: it is how that format's time is
 * read, not a step of localization, and it needs the block stamps only the
 * parser sees. Here the fit's result becomes the first-sample time. */
#ifndef HD_FORMATS_RECORDINGS_H
#define HD_FORMATS_RECORDINGS_H
#include <stdint.h>
#include <hdf5.h>
#include "config/config.h"
#include "formats/import.h"
#include "formats/kiwiwav.h"

typedef struct {
    const char *path;          /* not owned */
    int64_t event_time_ns;     /* files of the same event time and frequency are one event */
    double freq_hz;
    char station[HD_ID_LEN];
    double rate_hz;            /* nominal (the header's) */
    int64_t n;
    int16_t *iq;               /* [n*2], owned */
    int gps_ok, last_gps_solution_s;
    int has_t0;
    int64_t t0_ns;             /* first sample, Unix ns UTC */
    double clock_rate_hz, residual_s;
    int n_fit;
    int has_geo;               /* the file carries its position (SigMF core:geolocation) */
    double lat, lon, alt_m;
    int event, rx;             /* set by hd_recordings_group */
} hd_recording;

/* A parsed kiwiwav into a recording (takes k->iq; k is still released by
 * the caller): event time, frequency and station from the file name, the
 * clock from the fit of the fresh GPS stamps; with no fresh stamp (stale
 * GPS), gps_ok 0 and the first nonzero stamp at the header rate. Warns
 * (hd_warn) when the fit is more than 100 ppm off the header, or there is
 * no fresh fix. HD_EDATA when GPS never fixed (every stamp zero: no time). */
int hd_recording_from_kiwiwav(hd_recording *r, const char *path, hd_kiwiwav *k);
int hd_recording_read_kiwiwav(hd_recording *r, const char *path);
/* BASE.sigmf-meta (or -data, or BASE): station heimdall:station, else the
 * file's base name. */
int hd_recording_read_sigmf(hd_recording *r, const char *path);
/* Free the samples of f[0..n) and f itself. */
void hd_recordings_free(hd_recording *f, int n);

/* The events and receivers of a set of recordings. */
typedef struct {
    int n_events, n_receivers;
    int64_t n_samples;         /* the longest recording (shorter ones are zero-padded) */
    int64_t *time_ns;          /* [n_events] */
    double *frequency_hz;      /* [n_events] */
    const char **ids;          /* [n_receivers] station ids (pointing into the recordings) */
    hd_station *stations;      /* [n_receivers], filled by hd_recordings_stations */
    char (*source)[1200];      /* [n_receivers] where each position came from (HD_SOURCE_LEN) */
} hd_recording_set;

/* Group: events ordered by time then frequency; receivers in the order of
 * cfg's stations (may be NULL), then the rest in the order they first
 * appear in f; sets f[i].event and f[i].rx. HD_EINVAL (a usage error: the
 * set of files given is wrong) when two files are the same station, time
 * and frequency, or the nominal rates of one event differ by more than
 * HD_RECORDINGS_RATE_TOL (KiwiSDRs' 12000 and 12001 Hz headers are one
 * rate, the clock fit takes the rest; 12 kHz and 20.25 kHz are not). */
#define HD_RECORDINGS_RATE_TOL 1e-3
int hd_recordings_group(hd_recording_set *s, hd_recording *f, int nf, const hd_config *cfg);
/* Station positions given with --positions FILE: a CSV of lines
 * id,lat,lon[,alt_m] (degrees WGS84, metres; '#' comments, blank lines and
 * a header line "id,lat,lon…" skipped), or, for a .yaml/.yml name, a
 * stations file (`stations:` list of id, lat, lon, alt_m, as
 * configs/stations/). HD_ECONFIG naming file:line for a malformed line, a
 * latitude or longitude out of range, a repeated id. */
typedef struct {
    char id[HD_ID_LEN];
    double lat, lon, alt_m;
    int line;                  /* 0 for a YAML file */
} hd_position;
typedef struct {
    char path[HD_PATH_LEN];
    hd_position *p;
    int n;
} hd_positions;
int hd_positions_read(hd_positions *ps, const char *path);
void hd_positions_release(hd_positions *ps);

#define HD_SOURCE_LEN 1200

/* The station entry of a recording, from the first of: the config's
 * stations (the stations file of -c, else the embedded default's), the
 * recording's own position (SigMF core:geolocation), gnss_pos/ beside the
 * recording, gnss_pos/ beside its parent folder (the TDoA service layout:
 * iq/<file> with gnss_pos/ beside iq/), the positions file (pos, may be
 * NULL). source says which (e.g. "gnss_pos/x.txt"). A station found in
 * none is refused: HD_ECONFIG naming the station and every place looked. */
int hd_recording_station(const hd_config *cfg, const hd_positions *pos, const hd_recording *f, hd_station *s,
                         char *source, size_t source_len);
/* Every receiver's station entry and source, from its first recording. */
int hd_recordings_stations(hd_recording_set *s, const hd_config *cfg, const hd_positions *pos,
                           const hd_recording *f, int nf);
void hd_recording_set_release(hd_recording_set *s);

/* Write the captures file: receivers, one event per group (IQ zero-padded
 * to the longest recording, the clipped fraction counted), /clock/{rate_hz,
 * residual_s,n_fit}, root attribute `source`, provenance hashing inputs. */
int hd_recordings_write_captures(const hd_import_out *o, const hd_recording_set *s, const hd_recording *f, int nf,
                                 const char *source, const char *const *inputs);

#endif
