/* KiwiSDR protocol (the /<timestamp>/SND stream), as pure functions over
 * memory so that tests/fuzz/fuzz_snd.c can drive them.
 *
 * Text frames are "MSG k=v k=v …" (values URL-encoded by the server); binary
 * frames are "SND" followed by: u8 flags, u32 little-endian sequence number,
 * u16 big-endian S-meter (dBm = 0.1 × value − 127), and in IQ mode u8
 * last_gps_solution, u8 pad, u32 LE GPS seconds of the week, u32 LE
 * nanoseconds, then int16 big-endian I, Q pairs (512 per frame). The
 * protocol was read from kiwiclient (kiwi/client.py, kiwirecorder.py). */
#ifndef HD_NET_KIWI_H
#define HD_NET_KIWI_H
#include <stddef.h>
#include <stdint.h>

#define HD_KIWI_SND_HEADER 10      /* "SND" + flags + seq + smeter */
#define HD_KIWI_GPS_HEADER 10      /* last_gps_solution, pad, gpssec, gpsnsec */
#define HD_KIWI_IQ_PAIRS 512
#define HD_KIWI_FLAG_COMPRESSED 0x10

typedef struct {
    int flags;
    uint32_t seq;
    double rssi_dbm;
    int last_gps_solution;     /* seconds since the last fix; 0 just after a fresh one */
    uint32_t gps_sec;          /* seconds of the GPS week */
    uint32_t gps_nsec;
    const uint8_t *iq_be;      /* n_pairs × (I, Q) big-endian int16, into the frame */
    int n_pairs;
} hd_kiwi_snd;

/* Parse one binary frame (starting with "SND") in IQ mode. HD_EDATA when it
 * is not an IQ SND frame (wrong tag, short, compressed, odd sample bytes). */
int hd_kiwi_parse_snd(const uint8_t *msg, size_t len, hd_kiwi_snd *out);

/* What MSG frames told so far. */
enum {
    HD_KIWI_GOT_AUDIO_RATE = 1,
    HD_KIWI_GOT_SAMPLE_RATE = 2,
    HD_KIWI_GOT_BUSY = 4,
    HD_KIWI_GOT_BADP = 8,       /* badp=1: wrong password */
    HD_KIWI_GOT_DOWN = 16,
    HD_KIWI_GOT_REDIRECT = 32,
    HD_KIWI_GOT_AUTH_OK = 64,   /* badp=0 */
    HD_KIWI_GOT_VERSION = 128,
};

typedef struct {
    unsigned got;               /* HD_KIWI_GOT_* seen so far */
    int audio_rate;             /* Hz, as announced */
    double sample_rate;         /* Hz, the true ADC-derived rate (e.g. 12001.135) */
    int too_busy;               /* channels the server has (all taken) */
    int version_major, version_minor;
    char redirect[256];
} hd_kiwi_state;

/* Handle one text frame. Returns the HD_KIWI_GOT_* bits this frame set (0 for
 * frames of no interest), or HD_EDATA for an absurd value. */
int hd_kiwi_handle_msg(hd_kiwi_state *st, const char *text, size_t len);

/* One receiver's capture being assembled from SND frames. */
typedef struct {
    int16_t *iq;                /* [n_samples × 2] native int16 (I, Q), caller-owned */
    int n_samples, n_have;
    int n_frames;
    uint32_t last_seq;
    int64_t missing_frames;     /* frames lost in sequence gaps (zero-filled) */
    int gaps;
    double rssi_sum;
    int first_last_gps;         /* last_gps_solution of the first frame */
    uint32_t first_gps_sec, first_gps_nsec;
    int64_t clipped;
} hd_kiwi_capture;

/* Append a frame's samples; a sequence gap of g frames is zero-filled (g ×
 * the frame's pair count) so the time axis stays right. Returns 1 when the
 * capture is full, 0 when more is needed. */
int hd_kiwi_capture_feed(hd_kiwi_capture *c, const hd_kiwi_snd *s);

/* First-sample time relative to event_time_ns (seconds) from the first
 * frame's GPS week seconds, taking the week nearest event_time_ns
 * (GPS − UTC = 18 s). */
double hd_kiwi_gps_t0(uint32_t gps_sec, uint32_t gps_nsec, int64_t event_time_ns);

/* The same as Unix nanoseconds (the GPS week nearest near_ns). */
int64_t hd_kiwi_gps_unix_ns(uint32_t gps_sec, uint32_t gps_nsec, int64_t near_ns);

/* The KiwiSDR's own /status page (HTTP GET /status): key=value lines such
 * as status=, offline=, users=, users_max=, gps=(lat, lon), gps_good=,
 * fixes=, fixes_min=, asl=, loc=, sw_version=KiwiSDR_vM.N, antenna=, and
 * auth=password when every channel needs a password. Unknown keys are
 * ignored, later lines win. Fields stay -1 / 0 / "" when absent. */
#define HD_KIWI_STATUS_MAX (64u * 1024u)   /* a longer page is refused */
#define HD_KIWI_MAX_USERS 1024
typedef struct {
    int n_keys;                 /* recognised keys seen */
    int offline;                /* offline=yes, or status=offline */
    char status[16];            /* active, offline, private */
    int users, users_max;       /* -1 unknown */
    int has_position;           /* gps=(lat, lon) parsed */
    double lat, lon;            /* the position the server advertises */
    int gps_good;               /* satellites in the GPS solution, -1 unknown */
    int fixes, fixes_min;       /* GPS fixes since start / in the last minute, -1 unknown */
    int asl_m;                  /* antenna height above sea level as configured, INT_MIN unknown */
    int auth_password;          /* auth=password: no channel without a password */
    int version_major, version_minor; /* from sw_version, -1 unknown */
    char sw_version[32];
    char loc[64];               /* free text location, control characters replaced */
    char antenna[64];
} hd_kiwi_status;

/* Parse a /status page body. HD_EDATA when it is longer than
 * HD_KIWI_STATUS_MAX, has no recognised key (not a KiwiSDR status page), or
 * holds an absurd value (users or users_max negative or above
 * HD_KIWI_MAX_USERS, a position off the globe, negative GPS counts). */
int hd_kiwi_parse_status(const char *text, size_t len, hd_kiwi_status *out);

#endif
