/* Station health probe; see probe.h. */
#include "net/probe.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "geo/geo.h"
#include "net/kiwi.h"
#include "net/owrx.h"
#include "net/session.h"
#include "net/ws.h"
#include "capture/event.h"

#include <curl/curl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEP_STATUS = 0, STEP_INDEX, STEP_WS, STEP_DONE };

typedef struct {
    int station;                /* the first station on this server */
    int owrx, tls;
    char hostport[160];         /* hd_net_url_server: host:port */
    int step;
    int64_t t_start;            /* the step's start (its deadline is t_start + timeout) */
    int64_t t_probe;            /* the probe's start */
    int64_t t_first;            /* the first answer */
    /* STEP_STATUS: an HTTP GET /status through libcurl (a KiwiSDR answers it);
     * STEP_INDEX: GET / (an OpenWebRX names itself there) */
    CURL *http;
    char *body;
    size_t body_len;
    int too_big;
    /* STEP_WS */
    hd_ws_conn *ws;
    int ws_open;
    hd_kiwi_state ks;
    hd_owrx_state os;
    hd_kiwi_status kst;
    int have_kst;
    char note[128];
    hd_probe_result r;
} target;

static void target_finish(target *t, int status, const char *msg)
{
    t->r.status = status;
    if (msg)
        hd_strlcpy(t->r.message, msg, sizeof t->r.message);
    hd_ws_close(t->ws);
    t->ws = NULL;
    t->step = STEP_DONE;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    target *t = userp;
    size_t n = size * nmemb;
    if (!t->t_first)
        t->t_first = hd_time_now_ns();
    if (t->body_len + n > HD_KIWI_STATUS_MAX) {
        t->too_big = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    char *b = realloc(t->body, t->body_len + n + 1);
    if (!b)
        return 0;
    memcpy(b + t->body_len, data, n);
    t->body = b;
    t->body_len += n;
    b[t->body_len] = 0;
    return n;
}

/* Start the target's current step. */
static void start_step(target *t, CURLM *multi, int timeout_ms)
{
    char url[256];
    t->t_start = hd_time_now_ns();
    if (t->step == STEP_STATUS || t->step == STEP_INDEX) {
        snprintf(url, sizeof url, "%s://%s/%s", t->tls ? "https" : "http", t->hostport,
                 t->step == STEP_STATUS ? "status" : "");
        t->http = curl_easy_init();
        if (!t->http) {
            target_finish(t, HD_RX_REFUSED, "out of memory (curl)");
            return;
        }
        curl_easy_setopt(t->http, CURLOPT_URL, url);
        curl_easy_setopt(t->http, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->http, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(t->http, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(t->http, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(t->http, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(t->http, CURLOPT_PRIVATE, t);
        curl_easy_setopt(t->http, CURLOPT_USERAGENT, "heimdall");
        curl_easy_setopt(t->http, CURLOPT_PROTOCOLS_STR, "http,https");
        const char *ca = getenv("HEIMDALL_CA_BUNDLE");
        if (t->tls && ca && *ca)
            curl_easy_setopt(t->http, CURLOPT_CAINFO, ca);
        if (curl_multi_add_handle(multi, t->http) != CURLM_OK) {
            curl_easy_cleanup(t->http);
            t->http = NULL;
            target_finish(t, HD_RX_REFUSED, "curl_multi_add_handle failed");
        }
        return;
    }
    if (t->owrx)
        snprintf(url, sizeof url, "%s://%s/ws/", t->tls ? "wss" : "ws", t->hostport);
    else
        snprintf(url, sizeof url, "%s://%s/%lld/SND", t->tls ? "wss" : "ws", t->hostport,
                 (long long)(hd_time_now_ns() / 1000000));
    t->ws_open = 0;
    if (hd_ws_start(url, timeout_ms, HD_PROBE_MAX_BODY, &t->ws) < 0)
        target_finish(t, HD_RX_REFUSED, hd_errmsg());
}

static void on_status_page(target *t, int http_status, const char *body, size_t n);

/* The server told what it is, and it is not what the stations file says:
 * finish with the driver named (a capture would only fail on protocol). */
static void detected(target *t, int driver, const char *how)
{
    char msg[256];
    t->r.server_driver = driver;
    snprintf(msg, sizeof msg, "the server answers as a%s %s (%s), the stations file says driver %s: set driver: %s",
             driver == HD_DRIVER_OPENWEBRX ? "n" : "", driver == HD_DRIVER_OPENWEBRX ? "OpenWebRX" : "KiwiSDR", how,
             t->owrx ? "openwebrx" : "kiwisdr", hd_driver_name(driver));
    target_finish(t, HD_RX_PROTOCOL, msg);
}

/* The /status transfer ended: keep what it told, go on to the WebSocket
 * (or stop, when the server could not be reached at all). */
static void status_done(target *t, CURLM *multi, CURLcode cr, int timeout_ms)
{
    long code = 0, connected = 0;
    curl_off_t ct = 0;
    char msg[192];
    curl_easy_getinfo(t->http, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->http, CURLINFO_CONNECT_TIME_T, &ct);
    connected = ct > 0;
    curl_multi_remove_handle(multi, t->http);
    curl_easy_cleanup(t->http);
    t->http = NULL;
    if (t->step == STEP_INDEX) { /* only to tell what the server is */
        if (cr == CURLE_OK && code == 200 && t->body && strcasestr(t->body, "openwebrx"))
            detected(t, HD_DRIVER_OPENWEBRX, "its web page at /");
    } else if (cr == CURLE_OK) {
        on_status_page(t, (int)code, t->body ? t->body : "", t->body_len);
    } else if (cr == CURLE_COULDNT_CONNECT || cr == CURLE_COULDNT_RESOLVE_HOST) {
        target_finish(t, HD_RX_REFUSED, cr == CURLE_COULDNT_CONNECT ? "connection refused" : curl_easy_strerror(cr));
    } else if (cr == CURLE_OPERATION_TIMEDOUT && !t->body_len) {
        if (connected)
            snprintf(msg, sizeof msg, "connected, no answer to GET /status within %.1f s", timeout_ms / 1e3);
        else
            snprintf(msg, sizeof msg, "no TCP connection within %.1f s", timeout_ms / 1e3);
        target_finish(t, HD_RX_TIMEOUT, msg);
    } else if (cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CONNECT_ERROR) {
        snprintf(msg, sizeof msg, "TLS: %s", curl_easy_strerror(cr));
        target_finish(t, HD_RX_REFUSED, msg);
    } else if (t->too_big) {
        snprintf(t->note, sizeof t->note, "/status longer than %u bytes", HD_KIWI_STATUS_MAX);
    } else {
        snprintf(t->note, sizeof t->note, "/status: %.100s", curl_easy_strerror(cr));
    }
    free(t->body);
    t->body = NULL;
    t->body_len = 0;
    if (t->step == STEP_STATUS && !t->owrx && !t->have_kst) {
        t->step = STEP_INDEX; /* no KiwiSDR /status: is it another kind of server? */
        start_step(t, multi, timeout_ms);
    } else if (t->step != STEP_DONE) {
        t->step = STEP_WS;
        start_step(t, multi, timeout_ms);
    }
}

/* The /status answer arrived (or did not parse): remember it, go on to the WebSocket. */
static void on_status_page(target *t, int http_status, const char *body, size_t n)
{
    if (http_status != 200) {
        if (!t->owrx) /* an OpenWebRX has no /status page: nothing to note */
            snprintf(t->note, sizeof t->note, "no /status page (HTTP %d)", http_status);
        return;
    }
    if (hd_kiwi_parse_status(body, n, &t->kst) < 0) {
        if (!t->owrx)
            snprintf(t->note, sizeof t->note, "/status unreadable: %.100s", hd_errmsg());
        return;
    }
    if (t->owrx) { /* a KiwiSDR's /status page */
        char how[80];
        snprintf(how, sizeof how, "GET /status%s%s", t->kst.sw_version[0] ? ": " : "", t->kst.sw_version);
        detected(t, HD_DRIVER_KIWISDR, how);
        return;
    }
    t->have_kst = 1;
    t->r.server_driver = HD_DRIVER_KIWISDR;
}

/* A WebSocket data message. Returns 1 when the target is finished (status
 * set), 0 to go on. */
static int on_ws_message(target *t, const hd_station *st, const hd_ws_msg *m)
{
    if (t->owrx) {
        int got = m->opcode == HD_WS_TEXT ? hd_owrx_handle_text(&t->os, (const char *)m->data, m->len)
                                          : hd_owrx_handle_binary(&t->os, m->data, m->len);
        if (got < 0)
            return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
        if (got && !(t->os.got & HD_OWRX_GOT_HELLO))
            return target_finish(t, HD_RX_PROTOCOL, "openwebrx: a message before the handshake reply"), 1;
        if (got & HD_OWRX_GOT_BACKOFF) {
            char msg[200];
            snprintf(msg, sizeof msg, "server refuses new clients (backoff: %s)", t->os.reason[0] ? t->os.reason : "no reason");
            t->r.busy = 1;
            return target_finish(t, HD_RX_BUSY, msg), 1;
        }
        if (got & HD_OWRX_GOT_SDR_ERROR) {
            char msg[200];
            snprintf(msg, sizeof msg, "server has no receiver for us (sdr_error: %s)", t->os.reason);
            return target_finish(t, HD_RX_REFUSED, msg), 1;
        }
        if (t->os.got & HD_OWRX_GOT_HELLO)
            t->r.server_driver = HD_DRIVER_OPENWEBRX;
        unsigned want = HD_OWRX_GOT_HELLO | HD_OWRX_GOT_DETAILS | HD_OWRX_GOT_CLIENTS;
        if ((t->os.got & want) == want)
            return target_finish(t, HD_RX_OK, NULL), 1;
        return 0;
    }
    /* a KiwiSDR sends MSG in binary frames (text accepted too) */
    if (!hd_kiwi_is_msg(m->data, m->len))
        return 0;
    int got = hd_kiwi_handle_msg(&t->ks, (const char *)m->data, m->len);
    if (got < 0)
        return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
    if (got & HD_KIWI_GOT_BADP) {
        const char *pw = hd_net_station_password(st);
        char msg[160];
        int b = t->ks.badp;
        if (b == HD_KIWI_BADP_TRY_AGAIN)
            return target_finish(t, HD_RX_AUTH, pw[0] ? "wrong password (badp=1)" : "password required (badp=1), none given"), 1;
        snprintf(msg, sizeof msg, "%s (badp=%d)", hd_kiwi_badp_text(b), b);
        if (b == HD_KIWI_BADP_NOT_ALLOWED_FROM_IP)
            return target_finish(t, HD_RX_REFUSED, msg), 1;
        if (b == HD_KIWI_BADP_STILL_DETERMINING_LOCAL_IP || b == HD_KIWI_BADP_NO_MULTIPLE_CONNS ||
            b == HD_KIWI_BADP_DATABASE_UPDATE || b == HD_KIWI_BADP_ADMIN_CONN_OPEN) {
            t->r.busy = 1;
            return target_finish(t, HD_RX_BUSY, msg), 1;
        }
        return target_finish(t, HD_RX_AUTH, msg), 1;
    }
    if (got & (HD_KIWI_GOT_BUSY | HD_KIWI_GOT_REDIRECT)) {
        char msg[320];
        if (got & HD_KIWI_GOT_REDIRECT)
            snprintf(msg, sizeof msg, "all channels busy; the server redirects to %.256s (redirect)", t->ks.redirect);
        else
            snprintf(msg, sizeof msg, "all %d channels busy (too_busy)", t->ks.too_busy);
        t->r.busy = 1;
        return target_finish(t, HD_RX_BUSY, msg), 1;
    }
    if (got & HD_KIWI_GOT_DOWN) {
        char msg[200];
        snprintf(msg, sizeof msg, "server is down (down=%d)%s%.128s", t->ks.down, t->ks.reason[0] ? ": " : "",
                 t->ks.reason);
        return target_finish(t, HD_RX_REFUSED, msg), 1;
    }
    unsigned g = t->ks.got;
    if ((g & HD_KIWI_GOT_AUTH_OK) && (g & (HD_KIWI_GOT_VERSION | HD_KIWI_GOT_SAMPLE_RATE)))
        return target_finish(t, HD_RX_OK, NULL), 1;
    return 0;
}

static int answered(const target *t)
{
    return t->owrx ? (t->os.got & HD_OWRX_GOT_HELLO) != 0 : (t->ks.got & HD_KIWI_GOT_AUTH_OK) != 0;
}

/* Advance the WebSocket step: open it, greet, read what came. */
static void ws_progress(target *t, const hd_station *st, int timeout_ms)
{
    char msg[192];
    if (!t->ws_open) {
        int to = 0;
        int r = hd_ws_step(t->ws, &to);
        if (r == 0)
            return;
        if (r < 0) {
            int status = to ? HD_RX_TIMEOUT : hd_ws_http_status(t->ws) == 503 ? HD_RX_BUSY
                                          : r == HD_EDATA ? HD_RX_PROTOCOL : HD_RX_REFUSED;
            if (to) {
                snprintf(msg, sizeof msg, "connected, no websocket handshake within %.1f s", timeout_ms / 1e3);
                target_finish(t, status, msg);
            } else {
                target_finish(t, status, hd_errmsg());
            }
            return;
        }
        t->ws_open = 1;
        if (!t->t_first)
            t->t_first = hd_time_now_ns();
        char first[320];
        if (t->owrx)
            hd_strlcpy(first, HD_OWRX_HELLO, sizeof first);
        else
            snprintf(first, sizeof first, "SET auth t=kiwi p=%s", hd_net_station_password(st));
        r = hd_ws_send_text(t->ws, first);
        explicit_bzero(first, sizeof first);
        if (r < 0) {
            target_finish(t, HD_RX_DISCONNECTED, hd_errmsg());
            return;
        }
    }
    hd_ws_msg m;
    int r;
    while (t->step == STEP_WS && (r = hd_ws_recv(t->ws, &m, 0)) != 0) {
        if (r < 0) {
            const char *e = hd_errmsg();
            if (r == HD_EDATA) {
                target_finish(t, HD_RX_PROTOCOL, e);
            } else if (strstr(e, "closed by peer")) {
                snprintf(msg, sizeof msg, "closed by the server before %s (%.100s)",
                         t->owrx ? "the handshake and receiver details" : "accepting us (badp=0)", e);
                target_finish(t, HD_RX_REFUSED, msg);
            } else if (answered(t)) {
                target_finish(t, HD_RX_OK, NULL);   /* it told what we asked before closing */
            } else {
                target_finish(t, HD_RX_REFUSED, e);
            }
            return;
        }
        if (on_ws_message(t, st, &m))
            return;
    }
}

/* The step's time is up. */
static void on_deadline(target *t, int timeout_ms)
{
    char msg[160];
    if (answered(t)) {
        target_finish(t, HD_RX_OK, NULL);   /* what the server told in time is reported */
        return;
    }
    snprintf(msg, sizeof msg, "connected, no %s within %.1f s", t->owrx ? "handshake reply" : "answer to auth",
             timeout_ms / 1e3);
    target_finish(t, HD_RX_TIMEOUT, msg);
}

/* Fill t->r from what the server said. */
static void collect_result(target *t)
{
    hd_probe_result *r = &t->r;
    if (t->owrx) {
        hd_strlcpy(r->version, t->os.version, sizeof r->version);
        if (t->os.got & HD_OWRX_GOT_CLIENTS)
            r->users = t->os.users;
        if (t->os.got & HD_OWRX_GOT_GPS) {
            r->has_position = 1;
            r->server_lat = t->os.gps_lat;
            r->server_lon = t->os.gps_lon;
        }
    } else {
        if (t->have_kst) {
            const hd_kiwi_status *k = &t->kst;
            r->users = k->users;
            r->users_max = k->users_max;
            r->gps_sats = k->gps_good;
            r->gps_fixes = k->fixes;
            r->gps_fixes_min = k->fixes_min;
            r->auth_required = k->auth_password;
            if (k->has_position) {
                r->has_position = 1;
                r->server_lat = k->lat;
                r->server_lon = k->lon;
            }
            if (k->version_major >= 0)
                snprintf(r->version, sizeof r->version, "%d.%d", k->version_major, k->version_minor);
            if (k->users_max > 0 && k->users >= k->users_max)
                r->busy = 1;
            if (k->offline && r->status == HD_RX_OK)
                snprintf(t->note + strlen(t->note), sizeof t->note - strlen(t->note), "%sserver says offline",
                         t->note[0] ? "; " : "");
        }
        if (!r->version[0] && (t->ks.got & HD_KIWI_GOT_VERSION))
            snprintf(r->version, sizeof r->version, "%d.%d", t->ks.version_major, t->ks.version_minor);
    }
    if (t->t_first)
        r->latency_ms = (double)(t->t_first - t->t_probe) / 1e6;
    if (r->status == HD_RX_OK && t->note[0])
        hd_strlcpy(r->message, t->note, sizeof r->message);
    else if (r->status != HD_RX_OK && t->note[0] && strlen(r->message) + strlen(t->note) + 3 < sizeof r->message) {
        size_t l = strlen(r->message);
        snprintf(r->message + l, sizeof r->message - l, "; %s", t->note);
    }
}

int hd_probe_stations(const hd_station *st, int n, const hd_probe_cfg *cfg, int (*interrupted)(void),
                      hd_probe_result *res)
{
    int rc = 0, nt = 0;
    int timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    size_t nn = (size_t)(n > 0 ? n : 1);
    target *ts = hd_calloc(nn, sizeof *ts);
    struct curl_waitfd *wf = hd_calloc(nn, sizeof *wf);
    int *tof = hd_calloc(nn, sizeof *tof);
    CURLM *multi = curl_multi_init();
    if (!ts || !wf || !tof || !multi) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        hd_probe_result *r = &res[i];
        memset(r, 0, sizeof *r);
        r->status = HD_RX_NOT_RUN;
        r->same_as = -1;
        r->latency_ms = NAN;
        r->users = r->users_max = r->gps_sats = r->gps_fixes = r->gps_fixes_min = -1;
        r->server_driver = -1;
        r->offset_m = NAN;
        tof[i] = -1;
        if (st[i].driver != HD_DRIVER_KIWISDR && st[i].driver != HD_DRIVER_OPENWEBRX) {
            snprintf(r->message, sizeof r->message, "driver %s has no live server", hd_driver_name(st[i].driver));
            continue;
        }
        if (!st[i].url[0]) {
            hd_strlcpy(r->message, "no url in the stations file", sizeof r->message);
            continue;
        }
        const char *u = st[i].url;
        if (strncmp(u, "ws://", 5) && strncmp(u, "wss://", 6) && strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
            hd_strlcpy(r->message, "url is not ws://, wss://, http:// or https://", sizeof r->message);
            continue;
        }
        if (hd_net_url_server(u, r->hostport, sizeof r->hostport) < 0) {
            hd_strlcpy(r->message, "malformed url", sizeof r->message);
            continue;
        }
        int owrx = st[i].driver == HD_DRIVER_OPENWEBRX;
        for (int k = 0; k < nt; k++)
            if (ts[k].owrx == owrx && strcmp(ts[k].hostport, r->hostport) == 0)
                tof[i] = k;
        if (tof[i] >= 0) { /* one connection per server: its probe is shared */
            r->same_as = ts[tof[i]].station;
            continue;
        }
        target *t = &ts[nt];
        tof[i] = nt++;
        t->station = i;
        t->owrx = owrx;
        t->tls = !strncmp(u, "wss://", 6) || !strncmp(u, "https://", 8);
        hd_strlcpy(t->hostport, r->hostport, sizeof t->hostport);
        t->step = STEP_STATUS; /* every server: what it says it is */
        t->r = *r;
    }
    for (int k = 0; k < nt; k++) {
        ts[k].t_probe = hd_time_now_ns();
        start_step(&ts[k], multi, timeout_ms);
    }
    for (;;) {
        if (interrupted && interrupted()) {
            for (int k = 0; k < nt; k++)
                if (ts[k].step != STEP_DONE)
                    target_finish(&ts[k], HD_RX_NOT_RUN, "interrupted");
            rc = hd_error(HD_EINTR, "interrupted");
            break;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            target *t = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t)
                status_done(t, multi, m->data.result, timeout_ms);
        }
        int64_t now = hd_time_now_ns();
        int nw = 0, busy = 0;
        for (int k = 0; k < nt; k++) {
            target *t = &ts[k];
            if (t->step == STEP_DONE)
                continue;
            busy = 1;
            if (t->step != STEP_WS)
                continue; /* libcurl's: waited on by curl_multi_poll */
            ws_progress(t, &st[t->station], timeout_ms);
            if (t->step != STEP_WS)
                continue;
            if (t->ws_open && now - t->t_start > (int64_t)timeout_ms * 1000000) {
                on_deadline(t, timeout_ms);
                continue;
            }
            short ev = 0;
            int fd = t->ws_open ? hd_ws_fd(t->ws) : hd_ws_wait(t->ws, &ev);
            if (t->ws_open)
                ev = POLLIN;
            if (fd >= 0 && ev)
                wf[nw++] = (struct curl_waitfd){.fd = fd,
                                                .events = (short)((ev & POLLIN ? CURL_WAIT_POLLIN : 0) |
                                                                  (ev & POLLOUT ? CURL_WAIT_POLLOUT : 0))};
        }
        if (!busy)
            break;
        /* libcurl's sockets and the WebSockets' together; a short bound keeps
         * timers and deadlines honest */
        curl_multi_poll(multi, wf, (unsigned)nw, 50, NULL);
    }
    for (int k = 0; k < nt; k++)
        collect_result(&ts[k]);
    for (int i = 0; i < n; i++) {
        if (tof[i] < 0)
            continue;
        hd_probe_result *r = &res[i];
        int same = r->same_as;
        char hp[sizeof r->hostport];
        hd_strlcpy(hp, r->hostport, sizeof hp);
        *r = ts[tof[i]].r;
        r->probed = r->status != HD_RX_NOT_RUN || strcmp(r->message, "interrupted") == 0;
        r->same_as = same;
        hd_strlcpy(r->hostport, hp, sizeof r->hostport);
        if (r->has_position) {
            double s12 = NAN;
            hd_geo_inverse(st[i].lat, st[i].lon, r->server_lat, r->server_lon, &s12, NULL, NULL);
            r->offset_m = s12;
            r->offset_flagged = s12 > cfg->max_offset_m;
        }
    }
done:
    if (ts)
        for (int k = 0; k < nt; k++) {
            if (ts[k].http) {
                curl_multi_remove_handle(multi, ts[k].http);
                curl_easy_cleanup(ts[k].http);
            }
            free(ts[k].body);
            hd_ws_close(ts[k].ws);
        }
    if (multi)
        curl_multi_cleanup(multi);
    free(ts);
    free(wf);
    free(tof);
    return rc;
}
