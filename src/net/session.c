/* Live capture session over KiwiSDR and OpenWebRX receivers; see session.h. */
#include "net/session.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/util.h"
#include "net/kiwi.h"
#include "net/owrx.h"
#include "net/ws.h"
#include "capture/event.h"

#include <ctype.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPALIVE_NS (5LL * 1000000000LL)

enum { ST_WAIT = 0, ST_CONNECTING, ST_AUTH, ST_STREAM, ST_DONE };

typedef struct {
    int state;
    int owrx;                  /* 1: an openwebrx receiver (levels), 0: kiwisdr (IQ) */
    hd_ws_conn *ws;
    hd_kiwi_state ks;
    hd_kiwi_capture cap;
    hd_owrx_state os;
    hd_owrx_levels lv;
    int64_t next_attempt_ns, last_rx_ns, last_keepalive_ns;
    int64_t window_end_ns;     /* openwebrx: the capture window closes (0 before the first level) */
    int configured;
    unsigned profiles_tried;   /* openwebrx: bit i, st->profiles[i] asked for (or found running) */
    int selecting;             /* openwebrx: profile asked for, its band not announced yet (its index + 1) */
    int drain;                 /* read once without waiting: the upgrade reply may have brought messages */
} rx_conn;

static void finish(rx_conn *c, hd_net_rx *r, int status, const char *msg)
{
    r->status = status;
    if (msg)
        hd_strlcpy(r->message, msg, sizeof r->message);
    hd_ws_close(c->ws);
    c->ws = NULL;
    c->state = ST_DONE;
}

const char *hd_net_station_password(const hd_station *st)
{
    char name[64 + HD_ID_LEN] = "HEIMDALL_PASSWORD_";
    size_t o = strlen(name);
    for (const char *p = st->id; *p && o + 1 < sizeof name; p++)
        name[o++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    name[o] = 0;
    const char *pw = getenv(name);
    return pw ? pw : "";
}

/* The stream URL: ws://host:port/<timestamp>/SND (KiwiSDR) or
 * ws://host:port/ws/ (OpenWebRX). */
static void stream_url(const hd_station *st, int owrx, int64_t now_ns, char *url, size_t size)
{
    const char *u = st->url;
    const char *scheme = "ws://";
    if (!strncmp(u, "ws://", 5)) u += 5;
    else if (!strncmp(u, "wss://", 6)) { u += 6; scheme = "wss://"; }
    else if (!strncmp(u, "http://", 7)) u += 7;
    else if (!strncmp(u, "https://", 8)) { u += 8; scheme = "wss://"; }
    size_t hl = strcspn(u, "/");
    if (owrx) { /* the url's path kept (a server behind a reverse proxy: /sdr/ -> /sdr/ws/) */
        const char *path = u + hl;
        size_t pl = strcspn(path, "?#");
        while (pl && path[pl - 1] == '/')
            pl--;
        int has_ws = pl >= 3 && !strncmp(path + pl - 3, "/ws", 3);
        snprintf(url, size, "%s%.*s%.*s%s", scheme, (int)hl, u, (int)pl, path, has_ws ? "/" : "/ws/");
    } else
        snprintf(url, size, "%s%.*s/%lld/SND", scheme, (int)hl, u, (long long)(now_ns / 1000000));
}

static int send_setup(rx_conn *c, const hd_net_event_cfg *ec, const hd_station *st)
{
    char m[256], agc[128];
    int h = (int)(ec->passband_hz / 2);
    int rc;
    /* AGC off, the station's fixed gain: the capture's gain is then known */
    snprintf(agc, sizeof agc, "SET agc=0 hang=0 thresh=-100 slope=6 decay=1000 manGain=%d", (int)lround(st->gain_db));
    snprintf(m, sizeof m, "SET mod=iq low_cut=%d high_cut=%d freq=%.3f", -h, h, ec->frequency_hz / 1e3);
    if ((rc = hd_ws_send_text(c->ws, "SET squelch=0 max=0")) < 0 || (rc = hd_ws_send_text(c->ws, "SET compression=0")) < 0 ||
        (rc = hd_ws_send_text(c->ws, m)) < 0 ||
        (rc = hd_ws_send_text(c->ws, agc)) < 0 ||
        (rc = hd_ws_send_text(c->ws, "SET keepalive")) < 0)
        return rc;
    c->configured = 1;
    return 0;
}

static double level_rate(const hd_net_event_cfg *ec) { return ec->level_rate_hz > 0 ? ec->level_rate_hz : 10.0; }

/* One message from OpenWebRX receiver i at now. Returns 0, or a final
 * hd_rx_status + 1. */
static int on_owrx_message(rx_conn *c, const hd_net_event_cfg *ec, const hd_ws_msg *m, int64_t now)
{
    if (m->opcode != HD_WS_TEXT) {
        int got = hd_owrx_handle_binary(&c->os, m->data, m->len);
        return got < 0 ? HD_RX_PROTOCOL + 1 : 0;   /* waterfall and audio frames: not used */
    }
    int got = hd_owrx_handle_text(&c->os, (const char *)m->data, m->len);
    if (got < 0)
        return HD_RX_PROTOCOL + 1;
    /* some servers send receiver_details, config or backoff before their
     * handshake reply: taken as they come */
    if (got & HD_OWRX_GOT_BACKOFF)
        return hd_error(HD_ENET, "server refuses new clients (backoff: %s)", c->os.reason[0] ? c->os.reason : "no reason"),
               HD_RX_BUSY + 1;
    if (got & HD_OWRX_GOT_SDR_ERROR)
        return hd_error(HD_ENET, "server has no receiver for us (sdr_error: %s)", c->os.reason), HD_RX_REFUSED + 1;
    if (got & HD_OWRX_GOT_HELLO) {
        c->last_rx_ns = now;
        if (hd_ws_send_text(c->ws, "{\"type\":\"connectionproperties\",\"params\":{\"output_rate\":12000,"
                                   "\"hd_output_rate\":48000}}") < 0)
            return HD_RX_DISCONNECTED + 1;
    }
    /* a config during the capture: another user chose another band, or the SDR failed over */
    if ((got & HD_OWRX_GOT_RETUNE) && c->configured) {
        if (!hd_owrx_covers(&c->os, ec->frequency_hz))
            return hd_error(HD_ENET,
                            "the server retuned to %.6f MHz during the capture (another user's profile or an SDR "
                            "failover): %.6f MHz is no longer received",
                            c->os.center_freq_hz / 1e6, ec->frequency_hz / 1e6),
                   HD_RX_BUSY + 1;
        c->configured = 0; /* still in band: tuned again, the levels so far dropped */
        c->lv.n_have = 0;
        c->window_end_ns = 0;
    }
    /* the band running does not cover the frequency: ask for the server's other profiles in turn */
    if ((got & (HD_OWRX_GOT_CONFIG | HD_OWRX_GOT_PROFILES)) && !c->configured && c->os.center_freq_hz > 0 &&
        c->os.samp_rate_hz > 0 && !hd_owrx_covers(&c->os, ec->frequency_hz)) {
        for (int p = 0; p < c->os.n_profiles; p++)
            if (!strcmp(c->os.profiles[p], c->os.current))
                c->profiles_tried |= 1u << p;
        if (c->selecting && ((got & HD_OWRX_GOT_RETUNE) || !strcmp(c->os.current, c->os.profiles[c->selecting - 1])))
            c->selecting = 0; /* the band asked for is announced (and does not cover either) */
        int next = -1;
        for (int p = 0; p < c->os.n_profiles && next < 0; p++)
            if (!(c->profiles_tried >> p & 1))
                next = p;
        if (!c->selecting && next >= 0) {
            char sel[HD_OWRX_PROFILE_LEN + 64];
            if (hd_owrx_select_json(&c->os, next, sel, sizeof sel) < 0 || hd_ws_send_text(c->ws, sel) < 0)
                return HD_RX_DISCONNECTED + 1;
            c->profiles_tried |= 1u << next;
            c->selecting = next + 1;
            c->last_rx_ns = now;
            hd_debug("openwebrx: %.6f MHz outside %.6f +- %.3f MHz (%s): selectprofile %s", ec->frequency_hz / 1e6,
                     c->os.center_freq_hz / 1e6, c->os.samp_rate_hz / 2e6, c->os.current[0] ? c->os.current : "?",
                     c->os.profiles[next]);
            return 0;
        }
        if (!c->selecting && next < 0 && c->os.n_profiles > 0)
            return hd_error(HD_ENET, "no profile of the server covers %.6f MHz (%d tried; the last ran %.6f-%.6f MHz)",
                            ec->frequency_hz / 1e6, c->os.n_profiles,
                            (c->os.center_freq_hz - c->os.samp_rate_hz / 2) / 1e6,
                            (c->os.center_freq_hz + c->os.samp_rate_hz / 2) / 1e6),
                   HD_RX_REFUSED + 1;
        return 0; /* a profile asked for, its config to come; or the list of profiles */
    }
    if ((got & (HD_OWRX_GOT_CONFIG | HD_OWRX_GOT_RETUNE)) && !c->configured && c->os.center_freq_hz > 0 &&
        c->os.samp_rate_hz > 0) {
        char tune[512];
        c->last_rx_ns = now;
        if (hd_owrx_tune_json(&c->os, ec->frequency_hz, ec->owrx_mod ? ec->owrx_mod : "nfm", ec->passband_hz, tune,
                              sizeof tune) < 0)
            return HD_RX_REFUSED + 1;
        if (hd_ws_send_text(c->ws, tune) < 0 ||
            hd_ws_send_text(c->ws, "{\"type\":\"dspcontrol\",\"action\":\"start\"}") < 0)
            return HD_RX_DISCONNECTED + 1;
        c->configured = 1;
        c->state = ST_STREAM;
    }
    /* S-meter messages before our tuning took effect describe another channel */
    if ((got & HD_OWRX_GOT_SMETER) && c->configured) {
        c->last_rx_ns = now;
        if (c->lv.n_have == 0)
            c->window_end_ns = now + (int64_t)((ec->duration_s + 1.0 / level_rate(ec)) * 1e9);
        if (hd_owrx_levels_feed(&c->lv, c->os.smeter_db, now))
            return HD_RX_OK + 1;
    }
    return 0;
}

/* A MSG message that ends the attempt: the status + 1 with a message, or 0. */
static int kiwi_msg_final(const rx_conn *c, int got)
{
    const hd_kiwi_state *k = &c->ks;
    if (got & HD_KIWI_GOT_BADP) {
        int b = k->badp;
        int st = b == HD_KIWI_BADP_NOT_ALLOWED_FROM_IP ? HD_RX_REFUSED
                 : b == HD_KIWI_BADP_STILL_DETERMINING_LOCAL_IP || b == HD_KIWI_BADP_NO_MULTIPLE_CONNS ||
                         b == HD_KIWI_BADP_DATABASE_UPDATE || b == HD_KIWI_BADP_ADMIN_CONN_OPEN
                     ? HD_RX_BUSY
                     : HD_RX_AUTH;
        return hd_error(HD_ENET, "%s (badp=%d)", hd_kiwi_badp_text(b), b), st + 1;
    }
    if (got & HD_KIWI_GOT_REDIRECT)
        return hd_error(HD_ENET, "all channels busy; the server redirects to %s (redirect)", k->redirect), HD_RX_BUSY + 1;
    if (got & HD_KIWI_GOT_BUSY)
        return hd_error(HD_ENET, "all %d channels busy (too_busy)", k->too_busy), HD_RX_BUSY + 1;
    if (got & HD_KIWI_GOT_DOWN)
        return hd_error(HD_ENET, "server is %s (down=%d)%s%s",
                        k->down == 1 ? "updating its software" : k->down == 2 ? "backing up" : "disabled", k->down,
                        k->reason[0] ? ": " : "", k->reason),
               HD_RX_REFUSED + 1;
    if (got & HD_KIWI_GOT_ENDED)
        return hd_error(HD_ENET, "the server ended the session: %s", k->ended), HD_RX_DISCONNECTED + 1;
    return 0;
}

/* One message from receiver i. Returns 0, or a final hd_rx_status + 1.
 * The server sends MSG in binary frames like every other message; text
 * frames are accepted too. */
static int on_message(rx_conn *c, hd_net_rx *r, const hd_net_event_cfg *ec, const hd_station *st, const hd_ws_msg *m)
{
    if (hd_kiwi_is_msg(m->data, m->len)) {
        int got = hd_kiwi_handle_msg(&c->ks, (const char *)m->data, m->len);
        if (got < 0)
            return HD_RX_PROTOCOL + 1;
        int fin = kiwi_msg_final(c, got);
        if (fin)
            return fin;
        if (got & HD_KIWI_GOT_AUDIO_RATE) {
            char ar[96];
            snprintf(ar, sizeof ar, "SET AR OK in=%d out=44100", c->ks.audio_rate);
            if (hd_ws_send_text(c->ws, ar) < 0)
                return HD_RX_DISCONNECTED + 1;
        }
        if ((got & HD_KIWI_GOT_SAMPLE_RATE) && !c->configured) {
            r->sample_rate_hz = c->ks.sample_rate;
            if (send_setup(c, ec, st) < 0)
                return HD_RX_DISCONNECTED + 1;
            c->state = ST_STREAM;
        }
        return 0;
    }
    if (m->opcode != HD_WS_TEXT && m->len >= 3 && memcmp(m->data, "SND", 3) == 0) {
        if (!c->configured)
            return hd_error(HD_EDATA, "kiwisdr: SND frame before sample_rate"), HD_RX_PROTOCOL + 1;
        hd_kiwi_snd s;
        if (hd_kiwi_parse_snd(m->data, m->len, &s) < 0)
            return HD_RX_PROTOCOL + 1;
        if (hd_kiwi_capture_feed(&c->cap, &s))
            return HD_RX_OK + 1;
    }
    return 0;   /* W/F, EXT, DAT and other text ignored */
}

int hd_net_capture_event(const hd_station *st, int n, const hd_net_event_cfg *ec, int (*interrupted)(void),
                         int16_t *iq, float *levels, hd_net_rx *rx)
{
    int rc = 0;
    rx_conn *cs = hd_calloc((size_t)n, sizeof *cs);
    struct pollfd *pf = hd_calloc((size_t)n, sizeof *pf);
    int *pi = hd_calloc((size_t)n, sizeof *pi);
    int L = ec->n_levels > 0 ? ec->n_levels : 1;
    int64_t *lt = hd_calloc((size_t)n * (size_t)L, sizeof *lt);
    if (!cs || !pf || !pi || !lt) {
        rc = HD_ENOMEM;
        goto done;
    }
    hd_rng jit;
    hd_rng_init(&jit, ec->seed, (uint32_t)(hd_time_now_ns() / 1000000), 0, HD_RNG_RECEIVER);
    memset(iq, 0, (size_t)n * (size_t)ec->n_samples * 2 * sizeof *iq);
    for (int i = 0; i < n; i++) {
        memset(&rx[i], 0, sizeof rx[i]);
        rx[i].status = HD_RX_NOT_RUN;
        cs[i].cap.iq = iq + (size_t)i * (size_t)ec->n_samples * 2;
        cs[i].cap.n_samples = ec->n_samples;
        cs[i].cap.skip_first = 1;   /* the server's first frame: no time stamp, stale samples */
        cs[i].owrx = st[i].driver == HD_DRIVER_OPENWEBRX;
        cs[i].lv = (hd_owrx_levels){.levels = levels ? levels + (size_t)i * (size_t)L : NULL,
                                    .t_ns = lt + (size_t)i * (size_t)L, .n_levels = levels ? L : 0};
        rx[i].users = -1;
        if (levels)
            for (int l = 0; l < L; l++)
                levels[(size_t)i * (size_t)L + (size_t)l] = NAN;
        if ((st[i].driver != HD_DRIVER_KIWISDR && st[i].driver != HD_DRIVER_OPENWEBRX) || !st[i].url[0] ||
            (cs[i].owrx && !levels)) {
            snprintf(rx[i].message, sizeof rx[i].message, "%s",
                     !st[i].url[0] ? "no url in the stations file"
                     : cs[i].owrx  ? "no level buffer for an openwebrx receiver"
                                   : "only kiwisdr and openwebrx receivers can be captured live");
            rx[i].status = HD_RX_REFUSED;
            cs[i].state = ST_DONE;
        }
    }
    for (;;) {
        int active = 0;
        int64_t now = hd_time_now_ns();
        if (interrupted && interrupted()) {
            for (int i = 0; i < n; i++)
                if (cs[i].state != ST_DONE)
                    finish(&cs[i], &rx[i], HD_RX_NOT_RUN, "interrupted");
            rc = hd_error(HD_EINTR, "interrupted");
            break;   /* what finished before is reported below */
        }
        /* start the connections that are due; none of this blocks: every
         * receiver connects at once, whatever the others do */
        for (int i = 0; i < n; i++) {
            rx_conn *c = &cs[i];
            if (c->state != ST_WAIT || now < c->next_attempt_ns)
                continue;
            char url[HD_URL_LEN + 64];
            stream_url(&st[i], c->owrx, now, url, sizeof url);
            rx[i].attempts++;
            int r = hd_ws_start(url, ec->timeout_ms, ec->max_message, &c->ws);
            if (r < 0) {
                finish(c, &rx[i], HD_RX_REFUSED, hd_errmsg());
                continue;
            }
            c->state = ST_CONNECTING;
        }
        /* advance those connecting: TCP, TLS, the upgrade */
        for (int i = 0; i < n; i++) {
            rx_conn *c = &cs[i];
            if (c->state != ST_CONNECTING)
                continue;
            int to = 0;
            int r = hd_ws_step(c->ws, &to);
            if (r == 0)
                continue;
            if (r < 0) {
                int status = to ? HD_RX_TIMEOUT : r == HD_EDATA ? HD_RX_PROTOCOL : HD_RX_REFUSED;
                if (hd_ws_http_status(c->ws) == 503)
                    status = HD_RX_BUSY;
                if ((status == HD_RX_REFUSED || status == HD_RX_TIMEOUT) && rx[i].attempts <= ec->retries) {
                    double d = ec->backoff_s * pow(2.0, rx[i].attempts - 1) * hd_rng_uniform_range(&jit, 0.5, 1.5);
                    hd_debug("%s: %s; retry in %.2f s", st[i].id, hd_errmsg(), d);
                    hd_ws_close(c->ws);
                    c->ws = NULL;
                    c->state = ST_WAIT;
                    c->next_attempt_ns = hd_time_now_ns() + (int64_t)(d * 1e9);
                    continue;
                }
                finish(c, &rx[i], status, hd_errmsg());
                continue;
            }
            char auth[320];
            if (c->owrx)
                hd_strlcpy(auth, HD_OWRX_HELLO, sizeof auth);
            else
                snprintf(auth, sizeof auth, "SET auth t=kiwi p=%s", hd_net_station_password(&st[i]));
            if (hd_ws_send_text(c->ws, auth) < 0) {
                finish(c, &rx[i], HD_RX_DISCONNECTED, hd_errmsg());
                continue;
            }
            memset(auth, 0, sizeof auth);
            c->state = ST_AUTH;
            c->drain = 1;   /* a server may send at once (too_busy, down): already read with the reply */
            c->last_rx_ns = c->last_keepalive_ns = hd_time_now_ns();
        }
        int np = 0, waiting = 0, drain = 0;
        for (int i = 0; i < n; i++) {
            if (cs[i].state == ST_WAIT)
                waiting = 1;
            if (cs[i].state == ST_CONNECTING) {
                short ev = 0;
                int fd = hd_ws_wait(cs[i].ws, &ev);
                waiting = 1; /* stepped at least every 50 ms (timers, the resolver) */
                if (fd >= 0 && ev) {
                    pf[np] = (struct pollfd){.fd = fd, .events = ev};
                    pi[np++] = -1 - i; /* connecting: stepped above, not read here */
                }
            }
            if (cs[i].state == ST_AUTH || cs[i].state == ST_STREAM) {
                pf[np] = (struct pollfd){.fd = hd_ws_fd(cs[i].ws), .events = POLLIN};
                pi[np++] = i;
                drain |= cs[i].drain;
            }
        }
        active = np + waiting;
        if (!active)
            break;
        int pr = poll(pf, (nfds_t)np, drain ? 0 : 50);
        if (pr < 0)
            continue;   /* a signal: checked at the top */
        now = hd_time_now_ns();
        for (int k = 0; k < np; k++) {
            if (pi[k] < 0)
                continue; /* a connection being opened */
            int i = pi[k];
            rx_conn *c = &cs[i];
            if (pf[k].revents || c->drain) {
                c->drain = 0;
                hd_ws_msg m;
                int r;
                while (c->state != ST_DONE && (r = hd_ws_recv(c->ws, &m, 0)) != 0) {
                    if (r < 0) {
                        int status = r == HD_EDATA ? HD_RX_PROTOCOL
                                     : c->cap.n_frames || c->lv.n_have || c->configured ? HD_RX_DISCONNECTED
                                     : c->state == ST_AUTH ? HD_RX_REFUSED : HD_RX_DISCONNECTED;
                        finish(c, &rx[i], status, hd_errmsg());
                        break;
                    }
                    int fin;
                    if (c->owrx) {
                        fin = on_owrx_message(c, ec, &m, now);
                    } else {
                        c->last_rx_ns = now;
                        fin = on_message(c, &rx[i], ec, &st[i], &m);
                    }
                    if (fin)
                        finish(c, &rx[i], fin - 1, fin - 1 == HD_RX_OK ? NULL : hd_errmsg());
                }
            }
            if (c->state == ST_DONE)
                continue;
            if (c->owrx && c->window_end_ns && now >= c->window_end_ns) {
                finish(c, &rx[i], HD_RX_OK, NULL);   /* fewer messages than levels: held below */
            } else if (now - c->last_rx_ns > (int64_t)ec->timeout_ms * 1000000) {
                char msg[128];
                if (c->owrx)
                    snprintf(msg, sizeof msg, "no %s for %.1f s (%d of %d levels received)",
                             c->configured ? "S-meter message" : "handshake progress", ec->timeout_ms / 1e3,
                             c->lv.n_have, c->lv.n_levels);
                else
                    snprintf(msg, sizeof msg, "no data for %.1f s (%d of %d samples received)", ec->timeout_ms / 1e3,
                             c->cap.n_have, ec->n_samples);
                finish(c, &rx[i], HD_RX_TIMEOUT, msg);
            } else if (!c->owrx && now - c->last_keepalive_ns > KEEPALIVE_NS) {
                c->last_keepalive_ns = now;
                (void)hd_ws_send_text(c->ws, "SET keepalive");
            }
        }
    }
    for (int i = 0; i < n; i++) {
        rx_conn *c = &cs[i];
        if (!c->owrx)
            continue;
        hd_strlcpy(rx[i].version, c->os.version, sizeof rx[i].version);
        if (c->os.got & HD_OWRX_GOT_CLIENTS)
            rx[i].users = c->os.users;
        if (c->os.got & HD_OWRX_GOT_GPS) {
            rx[i].have_server_gps = 1;
            rx[i].server_lat = c->os.gps_lat;
            rx[i].server_lon = c->os.gps_lon;
        }
        rx[i].n_level_msgs = c->lv.n_have;
        rx[i].level_rate_measured_hz = hd_owrx_levels_rate(&c->lv);
        if (rx[i].status == HD_RX_OK && hd_owrx_levels_finish(&c->lv, level_rate(ec)) < 0) {
            rx[i].status = HD_RX_PROTOCOL;
            hd_strlcpy(rx[i].message, hd_errmsg(), sizeof rx[i].message);
        }
        if (rx[i].status == HD_RX_OK) {
            rx[i].has_levels = 1;
            rx[i].levels_held = c->lv.held;
            rx[i].first_level_ns = c->lv.t_ns[0];
        } else {
            for (int l = 0; l < c->lv.n_levels; l++)   /* nothing half-captured */
                c->lv.levels[l] = NAN;
        }
    }
    for (int i = 0; i < n; i++) {
        hd_kiwi_capture *k = &cs[i].cap;
        if (cs[i].owrx)
            continue;
        rx[i].version_major = cs[i].ks.version_major;
        rx[i].version_minor = cs[i].ks.version_minor;
        if (k->n_frames) {
            rx[i].gps_sec = k->first_gps_sec;
            rx[i].gps_nsec = k->first_gps_nsec;
            rx[i].last_gps_solution_s = k->first_last_gps;
            /* a zero time stamp (after the first frame): the server sends
             * none (GPS time stamps disabled by its admin) */
            rx[i].gps_ok = (k->first_gps_sec || k->first_gps_nsec) && k->first_last_gps < 60;
            rx[i].rssi_dbm = k->rssi_sum / k->n_frames;
            rx[i].gaps = k->gaps;
            rx[i].missing_frames = k->missing_frames;
            rx[i].repeats = k->repeats;
            rx[i].clipped_fraction = k->n_have ? (double)k->clipped / (2.0 * k->n_have) : 0;
        }
    }
done:
    if (cs)
        for (int i = 0; i < n; i++)
            hd_ws_close(cs[i].ws);
    free(cs);
    free(pf);
    free(pi);
    free(lt);
    return rc;
}

int hd_net_url_server(const char *url, char *out, size_t size)
{
    const char *u = url, *port = "80";
    if (!strncmp(u, "ws://", 5)) u += 5;
    else if (!strncmp(u, "wss://", 6)) { u += 6; port = "443"; }
    else if (!strncmp(u, "http://", 7)) u += 7;
    else if (!strncmp(u, "https://", 8)) { u += 8; port = "443"; }
    size_t n = strcspn(u, "/?#");
    const char *at = memchr(u, '@', n); /* user info is not part of the server */
    if (at) {
        n -= (size_t)(at + 1 - u);
        u = at + 1;
    }
    size_t hl = n;
    if (n && u[0] == '[') { /* [IPv6]:port */
        const char *e = memchr(u, ']', n);
        hl = e ? (size_t)(e - u) + 1 : n;
    } else {
        const char *c = memchr(u, ':', n);
        hl = c ? (size_t)(c - u) : n;
    }
    if (hl == 0 || hl + 8 > size)
        return hd_error(HD_ECONFIG, "url '%s' names no server", url);
    size_t o = 0;
    for (size_t i = 0; i < hl; i++)
        out[o++] = (char)tolower((unsigned char)u[i]);
    if (hl < n && u[hl] == ':' && n - hl > 1) {
        port = u + hl + 1;
        snprintf(out + o, size - o, ":%.*s", (int)(n - hl - 1), port);
    } else {
        snprintf(out + o, size - o, ":%s", port);
    }
    return 0;
}
