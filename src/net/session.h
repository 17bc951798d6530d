/* A live capture session: every receiver of one event driven at once from a
 * single poll() loop over their WebSocket connections (KiwiSDR IQ), each
 * ending ok or with its exact failure (hd_rx_status). Passwords come only
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
    double clipped_fraction;
    int version_major, version_minor;
} hd_net_rx;

/* Capture one event from stations st[0..n): IQ into iq[n × n_samples × 2]
 * (zeros for failed receivers), results into rx[n]. Returns 0 when the
 * session ran (receivers may have failed: see rx[].status), HD_EINTR when
 * interrupted() (may be NULL) returned non-zero (receivers still running are marked not run), or a
 * negative code for a local failure. */
int hd_net_capture_event(const hd_station *st, int n, const hd_net_event_cfg *ec,
                         int (*interrupted)(void), int16_t *iq, hd_net_rx *rx);

#endif
