/* OpenWebRX protocol (the /ws/ receiver connection), as pure functions over
 * memory so that tests/fuzz/fuzz_owrx.c can drive them.
 *
 * The client opens ws://host:port/ws/ and speaks first with the text
 * "SERVER DE CLIENT client=heimdall type=receiver"; the server answers
 * "CLIENT DE SERVER server=openwebrx version=vX.Y.Z". After that every text
 * message is a JSON object with a "type": the server sends "config" (in
 * several partial messages: center_freq, samp_rate, …), "receiver_details"
 * (receiver_gps {lat, lon}, or [lat, lon] from older servers, …), "profiles"
 * (the bands of the SDRs: [{id: "sdr|profile", name}]), "clients" (users connected), "smeter" (the
 * linear power of the demodulator's channel, relative to full scale 1.0),
 * "backoff" {reason} when it refuses a client (too many users), "sdr_error",
 * and others of no interest here. Binary messages carry their type in the
 * first byte: 1 waterfall FFT, 2 audio, 3 secondary FFT, 4 HD audio. The
 * client sends "connectionproperties", "selectprofile" {profile} when the
 * running band does not cover the frequency, then "dspcontrol" messages with
 * params {offset_freq, mod, low_cut, high_cut, …} and {action: "start"}.
 * Read from jketterl/openwebrx (owrx/connection.py, htdocs/openwebrx.js). */
#ifndef HD_NET_OWRX_H
#define HD_NET_OWRX_H
#include <stddef.h>
#include <stdint.h>

#define HD_OWRX_HELLO "SERVER DE CLIENT client=heimdall type=receiver"
#define HD_OWRX_MAX_TEXT (1u << 20)     /* larger JSON messages are refused */
#define HD_OWRX_MAX_USERS 100000
#define HD_OWRX_MAX_SMETER 1e3          /* +30 dBFS: anything above is absurd */
#define HD_OWRX_MIN_DB -300.0           /* a zero S-meter (10·log10 of 1e-30, as the simulator clamps) */

/* What messages told so far (bits returned by the handlers). */
enum {
    HD_OWRX_GOT_HELLO = 1,          /* "CLIENT DE SERVER server=openwebrx" */
    HD_OWRX_GOT_CONFIG = 2,         /* a config message (center_freq, samp_rate may still be unknown) */
    HD_OWRX_GOT_SMETER = 4,         /* st->smeter_db is the newest level */
    HD_OWRX_GOT_BACKOFF = 8,        /* refused: too many clients (st->reason) */
    HD_OWRX_GOT_DETAILS = 16,       /* receiver_details */
    HD_OWRX_GOT_CLIENTS = 32,       /* st->users */
    HD_OWRX_GOT_SDR_ERROR = 64,     /* no SDR available (st->reason) */
    HD_OWRX_GOT_FFT = 128,          /* a waterfall line */
    HD_OWRX_GOT_AUDIO = 256,        /* an audio frame */
    HD_OWRX_GOT_GPS = 512,          /* st->gps_lat/lon set */
    HD_OWRX_GOT_PROFILES = 1024,    /* st->profiles: the server's band profiles */
    HD_OWRX_GOT_RETUNE = 2048,      /* a config moved center_freq or samp_rate after a first one */
};

#define HD_OWRX_MAX_PROFILES 32
#define HD_OWRX_PROFILE_LEN 96

typedef struct {
    unsigned got;                   /* HD_OWRX_GOT_* seen so far */
    char version[32];               /* "v1.2.94", as announced */
    double center_freq_hz;          /* 0 until a config gave it */
    double samp_rate_hz;            /* 0 until a config gave it */
    double gps_lat, gps_lon;        /* receiver_gps (valid with HD_OWRX_GOT_GPS) */
    int users;                      /* the "clients" count */
    char reason[128];               /* backoff reason or sdr_error text */
    double smeter;                  /* newest S-meter, linear */
    double smeter_db;               /* 10·log10(smeter), HD_OWRX_MIN_DB at zero */
    int64_t n_smeter, n_fft, n_audio, n_other;
    /* "profiles": the bands the shared SDR(s) can run, as "sdr_id|profile_id";
     * the one running is config's sdr_id|profile_id (current, "" unknown) */
    char profiles[HD_OWRX_MAX_PROFILES][HD_OWRX_PROFILE_LEN];
    int n_profiles;
    char current[HD_OWRX_PROFILE_LEN];
} hd_owrx_state;

/* Handle one text message. Returns the HD_OWRX_GOT_* bits it set (0 for
 * messages of no interest), or HD_EDATA for a message that is neither the
 * handshake nor a JSON object, a handshake from a server that is not
 * OpenWebRX, a message longer than HD_OWRX_MAX_TEXT, or an absurd value (an
 * S-meter that is negative, not finite or above HD_OWRX_MAX_SMETER, a
 * frequency or rate out of range, a position off the globe, a user count
 * beyond HD_OWRX_MAX_USERS). */
int hd_owrx_handle_text(hd_owrx_state *st, const char *text, size_t len);

/* Handle one binary message (type byte first). Returns HD_OWRX_GOT_FFT,
 * HD_OWRX_GOT_AUDIO or 0 for other types; HD_EDATA for an empty message. */
int hd_owrx_handle_binary(hd_owrx_state *st, const uint8_t *msg, size_t len);

/* The dspcontrol message tuning the demodulator to frequency_hz (mod "nfm",
 * "am", "usb", …, passband ± passband_hz / 2) within the band the server
 * announced. HD_EINVAL when center_freq or samp_rate are not known yet or
 * the frequency is outside center_freq ± samp_rate / 2 (a message says so);
 * HD_EINVAL also when out is too small. */
int hd_owrx_tune_json(const hd_owrx_state *st, double frequency_hz, const char *mod, double passband_hz,
                      char *out, size_t size);

/* 1 when frequency_hz lies within center_freq ± samp_rate / 2 (both known). */
int hd_owrx_covers(const hd_owrx_state *st, double frequency_hz);

/* The selectprofile message for profile i of st->profiles (the web client's
 * own: {"type":"selectprofile","params":{"profile":"sdr|profile"}}). The
 * server answers with a config of the new band. HD_EINVAL when i is out of
 * range or out is too small. */
int hd_owrx_select_json(const hd_owrx_state *st, int i, char *out, size_t size);

/* One receiver's level series being assembled from S-meter messages, one
 * level per message (the server's message rate taken as the level rate).
 * levels[n_levels] and t_ns[n_levels] are caller-owned. */
typedef struct {
    float *levels;                  /* dBFS */
    int64_t *t_ns;                  /* arrival time of each message */
    int n_levels, n_have;
    int held;                       /* levels filled by hd_owrx_levels_finish's hold */
} hd_owrx_levels;

/* Append one level (dB) that arrived at t_ns. Returns 1 when the series is
 * full, 0 when more are wanted. */
int hd_owrx_levels_feed(hd_owrx_levels *lv, double db, int64_t t_ns);

/* When fewer than n_levels messages came in the capture window: level l
 * (covering [t0 + l/rate_hz, t0 + (l+1)/rate_hz) from the first message's
 * arrival t0) takes the newest message that had arrived by the start of its
 * interval (sample and hold; level 0 is the first message). Sets held. A
 * full series is left as it is. HD_EDATA when no message came at all. */
int hd_owrx_levels_finish(hd_owrx_levels *lv, double rate_hz);

/* The server's S-meter message rate measured from arrival times (Hz): 0
 * with fewer than two messages, INFINITY when two or more arrived in one
 * read (a burst with no measurable time between them). */
double hd_owrx_levels_rate(const hd_owrx_levels *lv);

#endif
