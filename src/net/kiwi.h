/* KiwiSDR protocol (the /<timestamp>/SND stream), as pure functions over
 * memory so that tests/fuzz/fuzz_snd.c can drive them.
 *
 * Every server message comes in a binary WebSocket frame (the server writes
 * all of them with WS_OPCODE_BINARY: send_msg/send_msg_mc in
 * Beagle_SDR_GPS; kiwiclient decodes the tag from the first three bytes),
 * tagged by its first three bytes: "MSG k=v k=v …" (values URL-encoded by
 * the server), "SND", "W/F", "EXT", "DAT". A client accepts "MSG" in text
 * frames too. "SND" is followed by: u8 flags, u32 little-endian sequence number,
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
    HD_KIWI_GOT_ENDED = 256,    /* the server ends the session: inactivity_timeout, ip_limit, kiwi_kick,
                                   password_timeout, exclusive_use, wb_only (hd_kiwi_state.ended says which) */
};

/* badp values (Beagle_SDR_GPS rx/rx_cmd.h; "must match kiwi.js") */
enum {
    HD_KIWI_BADP_OK = 0,
    HD_KIWI_BADP_TRY_AGAIN = 1,              /* wrong password */
    HD_KIWI_BADP_STILL_DETERMINING_LOCAL_IP = 2,
    HD_KIWI_BADP_NOT_ALLOWED_FROM_IP = 3,
    HD_KIWI_BADP_NO_ADMIN_PWD_SET = 4,
    HD_KIWI_BADP_NO_MULTIPLE_CONNS = 5,      /* one connection per address, and one is open */
    HD_KIWI_BADP_DATABASE_UPDATE = 6,
    HD_KIWI_BADP_ADMIN_CONN_OPEN = 7,
};
/* What a badp value means, in words ("wrong password", …). */
const char *hd_kiwi_badp_text(int badp);

/* 1 when a WebSocket message (text or binary) is a "MSG" message. */
int hd_kiwi_is_msg(const uint8_t *data, size_t len);

typedef struct {
    unsigned got;               /* HD_KIWI_GOT_* seen so far */
    int audio_rate;             /* Hz, as announced */
    double sample_rate;         /* Hz, the true ADC-derived rate (e.g. 12001.135) */
    int too_busy;               /* channels the server has (all taken) */
    int version_major, version_minor;
    char redirect[256];
    int badp;                   /* the last badp value (HD_KIWI_BADP_*) */
    int down;                   /* down=N (HD_KIWI_GOT_DOWN): 0 disabled, 1 updating, 2 backing up */
    char reason[128];           /* reason_disabled, as the admin wrote it */
    char ended[128];            /* why the server ended the session (HD_KIWI_GOT_ENDED) */
} hd_kiwi_state;

/* Handle one MSG message (the frame's bytes, text or binary). Returns the HD_KIWI_GOT_* bits this frame set (0 for
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
    int repeats;                /* frames repeating an earlier sequence number (dropped) */
    double rssi_sum;
    int first_last_gps;         /* last_gps_solution of the first frame */
    uint32_t first_gps_sec, first_gps_nsec;
    int64_t clipped;
    int skip_first;             /* drop the stream's first frame (a live server's: see below) */
    int n_skipped;              /* frames dropped so far */
} hd_kiwi_capture;

/* A live server's first SND frame of a stream is sent before its time
 * stamps are set (rx_sound.cpp: gps_init false, so last_gps_solution,
 * gpssec and gpsnsec are 0) and holds samples the channel kept from its last
 * use (kiwiclient: "first audio buffer is leftover"): with skip_first set it
 * is dropped, and the capture starts with the second frame.
 *
 * Append a frame's samples; a sequence gap of g frames is zero-filled (g ×
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
