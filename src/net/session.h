/* A live capture session: every receiver of one event driven at once from a
 * single poll() loop over their WebSocket connections, KiwiSDR (IQ with GPS
 * time stamps) and OpenWebRX (S-meter levels) mixed, each ending ok or with
 * its exact failure (hd_rx_status).
 *
 * OpenWebRX levels: one level per S-meter message, 10·log10 of the linear
 * power the server reports (full scale 1.0, so dBFS like the simulator's
 * /levels), n_levels of them. The server's message rate is taken as the
 * level rate and measured (hd_net_rx.level_rate_measured_hz). A receiver
 * whose messages come slower ends when the capture window closes
 * (duration_s plus one level interval after its first message) with what
 * it got, sample-and-held onto the level grid by arrival time
 * (hd_net_rx.levels_held, n_level_msgs say so). Its first-message time is
 * the host clock's, not GPS. Passwords come only
 * from the environment (HEIMDALL_PASSWORD_<STATION ID>, upper case, '-' as
 * '_') and never appear in messages. */
#ifndef HD_NET_SESSION_H
#define HD_NET_SESSION_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

typedef struct {
    double frequency_hz;       /* tuning */
    int n_samples;             /* IQ samples per receiver */
    double passband_hz;        /* IQ passband, ± half of it */
    int timeout_ms;            /* connect, handshake and stall limit */
    int retries;               /* reconnection attempts after a refused or timed-out connect */
    double backoff_s;          /* first retry delay; doubles, ±50 % jitter */
    size_t max_message;        /* largest WebSocket message accepted */
    uint64_t seed;             /* for the jitter */
    int n_levels;              /* S-meter levels per openwebrx receiver */
    double level_rate_hz;      /* their nominal rate */
    double duration_s;         /* capture window (levels are held when messages come slower) */
    const char *owrx_mod;      /* openwebrx demodulator ("nfm" when NULL) */
} hd_net_event_cfg;

typedef struct {
    int status;                /* hd_rx_status */
    char message[256];         /* why, when not ok */
    int attempts;
    int gps_ok, last_gps_solution_s;
    uint32_t gps_sec, gps_nsec;  /* first sample's GPS week time */
    double sample_rate_hz;     /* as the server announced */
    double rssi_dbm;           /* mean S-meter */
    int gaps;
    int64_t missing_frames;
    int repeats;               /* SND frames repeating a sequence number (dropped) */
    double clipped_fraction;
    int version_major, version_minor;
    /* openwebrx */
    int has_levels;            /* levels filled (status ok) */
    int n_level_msgs;          /* S-meter messages used (< n_levels: held) */
    int levels_held;
    double level_rate_measured_hz;
    int64_t first_level_ns;    /* host clock (Unix ns) at the first S-meter message */
    char version[32];          /* as the server announced */
    int users;                 /* clients connected, as the server announced (-1 unknown) */
    int have_server_gps;
    double server_lat, server_lon;  /* receiver_gps */
} hd_net_rx;

/* Capture one event from stations st[0..n): IQ of kiwisdr receivers into
 * iq[n × n_samples × 2] (zeros otherwise), levels of openwebrx receivers into
 * levels[n × n_levels] (NaN otherwise), results into rx[n]. Returns 0 when the
 * session ran (receivers may have failed: see rx[].status), HD_EINTR when
 * interrupted() (may be NULL) returned non-zero (receivers still running are marked not run), or a
 * negative code for a local failure. */
int hd_net_capture_event(const hd_station *st, int n, const hd_net_event_cfg *ec,
                         int (*interrupted)(void), int16_t *iq, float *levels, hd_net_rx *rx);

/* The server a station's url names, as "host:port" (scheme and path
 * dropped, host in lower case, the scheme's port when none is given: 80 for
 * ws/http, 443 for wss/https). collect refuses more stations naming one
 * server than collect.live.max_connections_per_server (1 by default: one
 * connection per server). Returns 0, or HD_ECONFIG for a url
 * without a host. */
int hd_net_url_server(const char *url, char *out, size_t size);

/* The station's password: HEIMDALL_PASSWORD_<ID> (upper case,
 * non-alphanumerics as '_'), "" when unset. Never log it. */
const char *hd_net_station_password(const hd_station *st);

#endif
