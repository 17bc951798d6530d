/* The KiwiSDR TDoA recording (kiwirecorder.py --kiwi-wav): RIFF/WAVE with a
 * `fmt ` chunk (PCM, 2 channels I and Q, int16, the nominal sample rate,
 * e.g. 12001 Hz), then for every 512-sample block a 10-byte `kiwi` chunk
 *     u8 last_gps_solution, u8 pad, u32 GPS seconds of week, u32 ns
 * (little-endian) followed by a `data` chunk of the block's I/Q pairs.
 * File name: YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav.
 *
 * Real files are messier than the format: the first block's stamp is often
 * zero or stale, last_gps_solution counts the seconds since the last fix
 * (0 = the stamp comes from a fresh fix), and the true sample rate differs
 * from the header. A reader therefore derives the sample clock by a
 * least-squares fit of the fresh stamps against the sample index. */
#ifndef HD_FORMATS_KIWIWAV_H
#define HD_FORMATS_KIWIWAV_H
#include <stddef.h>
#include <stdint.h>

#define HD_KIWI_BLOCK 512               /* I/Q pairs per data chunk written */
#define HD_KIWI_MAX_SAMPLES (1 << 28)    /* a reader refuses larger files */
#define HD_GPS_UTC_LEAP_S 18             /* GPS - UTC since 2017-01-01 */

typedef struct {
    uint8_t last_gps_solution;  /* seconds since the last GPS fix; 0 fresh */
    uint32_t gps_sec;           /* GPS seconds of the week */
    uint32_t gps_nsec;
    int64_t first_sample;       /* index of the block's first sample */
    int64_t n_samples;          /* samples in the block's data chunk */
} hd_kiwi_block;

typedef struct {
    uint32_t header_rate_hz;    /* from the fmt chunk */
    int64_t n_samples;
    int16_t *iq;                /* [n_samples * 2] I, Q */
    hd_kiwi_block *blocks;
    int n_blocks;
    /* clock fit over the fresh, consistent stamps */
    int n_fit;                  /* stamps used (0: no fresh stamp) */
    int n_rejected;             /* fresh stamps dropped as stale/zero outliers */
    double fit_rate_hz;         /* fitted samples per second (header rate when n_fit < 2) */
    double fit_t0_gps_s;        /* GPS seconds of week of sample 0 (from the fit) */
    double fit_rms_s;           /* RMS residual of the fit */
} hd_kiwiwav;

/* Parse a whole file held in memory. Errors (HD_EFORMAT with the reason):
 * not RIFF/WAVE, bad or absurd chunk sizes, truncated chunks, a fmt that is
 * not PCM 2 x int16, a data chunk without a kiwi chunk before it, no data. */
int hd_kiwiwav_parse(hd_kiwiwav *w, const void *data, size_t len);
int hd_kiwiwav_read(hd_kiwiwav *w, const char *path);
void hd_kiwiwav_release(hd_kiwiwav *w);

/* Fit the sample clock (done by parse): time = t0 + index / rate over the
 * blocks with last_gps_solution 0 and a nonzero stamp, after dropping stamps
 * more than 1 ms off a robust (median) line. */
int hd_kiwiwav_fit(hd_kiwiwav *w);

/* Write a file: iq[n*2], blocks of HD_KIWI_BLOCK samples (the last may be
 * shorter), stamp of block k from stamps[k] (gps_sec, gps_nsec,
 * last_gps_solution). Written under a temporary name and renamed. */
int hd_kiwiwav_write(const char *path, uint32_t rate_hz, const int16_t *iq, int64_t n,
                     const hd_kiwi_block *stamps, int force);

/* The bytes of a file (as written by hd_kiwiwav_write) in memory; *out malloc'd. */
int hd_kiwiwav_encode(uint32_t rate_hz, const int16_t *iq, int64_t n, const hd_kiwi_block *stamps,
                      unsigned char **out, size_t *out_len);

/* File names: YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav (directory ignored). */
int hd_kiwiwav_name_parse(const char *path, int64_t *time_ns, double *freq_hz, char *station, size_t station_len);
void hd_kiwiwav_name_format(char *buf, size_t len, int64_t time_ns, double freq_hz, const char *station);

/* GPS seconds of week (+ ns) to Unix ns UTC, taking the week that puts the
 * result nearest near_unix_ns (the file name's time) and GPS - UTC =
 * HD_GPS_UTC_LEAP_S. And back. */
int64_t hd_gps_week_to_unix_ns(double gps_week_s, int64_t near_unix_ns);
void hd_unix_ns_to_gps_week(int64_t unix_ns, uint32_t *sec, uint32_t *nsec);

/* The stamps of a recording written from a capture, the inverse of the fit:
 * block k (HD_KIWI_BLOCK samples) stamped t0_ns + k * 512 / rate_hz in GPS
 * seconds of week; last_gps_solution 0 when gps_ok, else counting up from
 * last_gps_solution_s by the block's start (1..255). st[nb]. */
void hd_kiwi_stamps(hd_kiwi_block *st, int nb, int64_t t0_ns, double rate_hz, int gps_ok, int last_gps_solution_s);

/* The KiwiSDR TDoA tool's gnss_pos/<station>.txt (Octave, sourced by the
 * tool, which reads every .txt in gnss_pos/):
 *   d.<vname> = struct('coord',[lat,lon],'host','...','port',8073);
 * vname is the station of the file name with every character Octave does
 * not allow in a name ('-') as '_' (the tool's strrep(fname, '-', '_')).
 * parse also accepts d.<station> verbatim (older heimdall exports).
 * HD_ENOTFOUND when the file or the station is not there. */
#define HD_KIWI_NAME_LEN 96
void hd_kiwi_octave_name(char *buf, size_t len, const char *station);
int hd_kiwi_gnss_pos_parse(const char *text, const char *station, double *lat, double *lon);
/* dir/gnss_pos/: see hd_kiwi_gnss_pos_find */
int hd_kiwi_gnss_pos_read(const char *dir, const char *station, double *lat, double *lon);
/* In the folder gnss_dir: <station>.txt, <vname>.txt, then every other .txt
 * (sorted); found (may be NULL) gets the file that gave the position. */
int hd_kiwi_gnss_pos_find(const char *gnss_dir, const char *station, double *lat, double *lon, char *found,
                          size_t found_len);
/* The line of one station (url: its server, the host is kept, "" allowed). */
void hd_kiwi_gnss_pos_format(char *buf, size_t len, const char *station, double lat, double lon, const char *url);

#endif
