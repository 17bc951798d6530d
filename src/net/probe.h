/* Station health probe (`heimdall stations check`): every station with a url
 * and a live driver (kiwisdr, openwebrx) is probed concurrently from one
 * event loop, one connection at a time per distinct host:port (stations
 * sharing a server share its probe), each connection bounded by a timeout.
 *
 * Every server is first asked GET /status: a KiwiSDR answers it, and a
 * station whose file says openwebrx is then reported (protocol, the right
 * driver named); a kiwisdr station whose server has no such page is asked
 * GET /, where an OpenWebRX names itself, and reported likewise.
 * KiwiSDR: first HTTP GET /status (users, users_max, the advertised
 * position gps=(lat, lon), gps_good satellites, fixes, sw_version, see
 * hd_kiwi_parse_status), then the /<ms>/SND WebSocket with
 * "SET auth t=kiwi p=<password>" until the server accepts (badp=0) or says
 * too_busy, badp=1 or down; its version_maj/min when /status had none.
 * OpenWebRX: the /ws/ WebSocket handshake ("CLIENT DE SERVER ...
 * version=…"), receiver_details (receiver_gps) and clients, or backoff.
 *
 * Transport: /status through libcurl's multi interface, the WebSockets
 * through hd_ws_start/step (libcurl underneath), all waited on together by
 * curl_multi_poll: TLS (wss://, https://; HEIMDALL_CA_BUNDLE for a private
 * CA) and name resolution never block the loop. Passwords come from
 * HEIMDALL_PASSWORD_<ID> (as the capture session) and never appear in
 * messages; the send buffer is wiped after use. */
#ifndef HD_NET_PROBE_H
#define HD_NET_PROBE_H
#include <stddef.h>
#include "config/config.h"

#define HD_PROBE_MAX_BODY (1u << 20)      /* largest WebSocket message accepted */

typedef struct {
    int timeout_ms;             /* per connection: connect, request and answer */
    double max_offset_m;        /* flag a server position farther than this from the stations file */
} hd_probe_cfg;

typedef struct {
    int probed;                 /* 0: not probed (message says why), status HD_RX_NOT_RUN */
    int status;                 /* hd_rx_status: OK, REFUSED, TIMEOUT, BUSY, AUTH, PROTOCOL, DISCONNECTED */
    char message[256];          /* why, when not ok; notes (e.g. no /status page) when ok */
    char hostport[160];
    int same_as;                /* index of the station whose probe this shares, or -1 */
    double latency_ms;          /* TCP connect start to the first byte of the answer; NAN when none */
    char version[40];           /* "1.665" (KiwiSDR), "v1.2.2" (OpenWebRX), "" unknown */
    int users, users_max;       /* -1 unknown */
    int busy;                   /* every channel taken (too_busy, backoff, users == users_max) */
    int auth_required;          /* KiwiSDR /status auth=password */
    int gps_sats;               /* KiwiSDR gps_good: satellites in the solution, -1 unknown */
    int gps_fixes, gps_fixes_min; /* KiwiSDR fixes since start, in the last minute, -1 unknown */
    int has_position;           /* the server advertises its position */
    double server_lat, server_lon;
    double offset_m;            /* geodesic distance to the stations file's position, NAN without one */
    int offset_flagged;         /* offset_m > max_offset_m */
    int server_driver;          /* what the server answered as (HD_DRIVER_KIWISDR: its /status page;
                                   HD_DRIVER_OPENWEBRX: its handshake or web page), -1 unknown */
} hd_probe_result;

/* Probe stations st[0..n) into res[0..n). Returns 0 when the probe ran (a
 * station's failure is in its res[i].status), HD_EINTR when interrupted()
 * (may be NULL) turned non-zero (stations not finished marked not run), or
 * a negative code for a local failure. */
int hd_probe_stations(const hd_station *st, int n, const hd_probe_cfg *cfg, int (*interrupted)(void),
                      hd_probe_result *res);

#endif
