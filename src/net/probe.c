/* Station health probe; see probe.h. */
#include "net/probe.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "geo/geo.h"
#include "net/kiwi.h"
#include "net/owrx.h"
#include "net/ws.h"
#include "sim/sim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADERS 16384

/* ---- HTTP response (pure) ---- */

static int parse_size(const char *s, size_t n, int base, size_t *out)
{
    size_t i = 0, v = 0, digits = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    for (; i < n; i++, digits++) {
        int d = isdigit((unsigned char)s[i])                            ? s[i] - '0'
                : base == 16 && isxdigit((unsigned char)s[i]) ? (tolower((unsigned char)s[i]) - 'a' + 10)
                                                                        : -1;
        if (d < 0)
            break;
        if (v > (HD_PROBE_MAX_BODY + 1u) * 16u)
            return -1;   /* far too large already: no overflow */
        v = v * (size_t)base + (size_t)d;
    }
    if (!digits)
        return -1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && !(base == 16 && s[i] == ';'))   /* chunk extensions are allowed */
        return -1;
    *out = v;
    return 0;
}

int hd_probe_http_response(const char *buf, size_t len, int eof, int *http_status, char **body, size_t *body_len)
{
    *body = NULL;
    *body_len = 0;
    *http_status = 0;
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > MAX_HEADERS)
            return hd_error(HD_EDATA, "HTTP headers longer than %d bytes", MAX_HEADERS);
        if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
            return hd_error(HD_EDATA, "not an HTTP response");
        if (eof)
            return hd_error(HD_EDATA, "connection closed before the HTTP headers were complete");
        return 0;
    }
    size_t hl = (size_t)(end - buf);
    if (hl > MAX_HEADERS)
        return hd_error(HD_EDATA, "HTTP headers longer than %d bytes", MAX_HEADERS);
    if (hl < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) || (hl > 12 && buf[12] != ' '))
        return hd_error(HD_EDATA, "not an HTTP/1.x status line");
    int status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (status < 100 || status > 599)
        return hd_error(HD_EDATA, "HTTP status %d out of range", status);
    int chunked = 0, have_cl = 0;
    size_t cl = 0;
    const char *p = memchr(buf, '\n', hl);
    while (p && p < end) {
        const char *ln = p + 1;
        const char *nl = memchr(ln, '\n', (size_t)(end + 2 - ln));
        size_t n = (nl ? (size_t)(nl - ln) : (size_t)(end - ln));
        if (n && ln[n - 1] == '\r')
            n--;
        const char *colon = memchr(ln, ':', n);
        if (colon) {
            size_t kn = (size_t)(colon - ln);
            const char *v = colon + 1;
            size_t vn = n - kn - 1;
            if (kn == 14 && strncasecmp(ln, "Content-Length", 14) == 0) {
                size_t x;
                if (parse_size(v, vn, 10, &x) < 0 || (have_cl && x != cl))
                    return hd_error(HD_EDATA, "bad HTTP Content-Length");
                cl = x;
                have_cl = 1;
            } else if (kn == 17 && strncasecmp(ln, "Transfer-Encoding", 17) == 0) {
                for (size_t i = 0; i + 7 <= vn; i++)
                    if (strncasecmp(v + i, "chunked", 7) == 0)
                        chunked = 1;
            }
        }
        p = nl;
    }
    size_t off = hl + 4, avail = len - off;
    const char *b = buf + off;
    char *out = NULL;
    size_t on = 0;
    if (chunked) {
        size_t i = 0;
        out = hd_malloc(avail + 1);
        if (!out)
            return HD_ENOMEM;
        for (;;) {
            const char *nl = memchr(b + i, '\n', avail - i);
            if (!nl) {
                if (avail - i > 1024)
                    goto bad_chunk;
                goto more;
            }
            size_t sl = (size_t)(nl - (b + i));
            size_t sz;
            if (parse_size(b + i, sl && b[i + sl - 1] == '\r' ? sl - 1 : sl, 16, &sz) < 0)
                goto bad_chunk;
            if (on + sz > HD_PROBE_MAX_BODY) {
                free(out);
                return hd_error(HD_EDATA, "HTTP body longer than %u bytes", HD_PROBE_MAX_BODY);
            }
            i += sl + 1;
            if (sz == 0) {
                /* trailers (ignored) up to an empty line */
                for (;;) {
                    const char *tl = memchr(b + i, '\n', avail - i);
                    if (!tl) {
                        if (avail - i > 1024)
                            goto bad_chunk;
                        goto more;
                    }
                    size_t tn = (size_t)(tl - (b + i));
                    i += tn + 1;
                    if (tn == 0 || (tn == 1 && b[i - 2] == '\r'))
                        break;
                }
                break;
            }
            if (avail - i < sz + 2)
                goto more;
            if (b[i + sz] != '\r' || b[i + sz + 1] != '\n')
                goto bad_chunk;
            memcpy(out + on, b + i, sz);
            on += sz;
            i += sz + 2;
        }
    } else {
        size_t want = have_cl ? cl : avail;
        if (want > HD_PROBE_MAX_BODY)
            return hd_error(HD_EDATA, "HTTP body longer than %u bytes", HD_PROBE_MAX_BODY);
        if (have_cl ? avail < cl : !eof) {
            if (eof)
                return hd_error(HD_EDATA, "connection closed after %zu of %zu HTTP body bytes", avail, cl);
            return 0;
        }
        out = hd_malloc(want + 1);
        if (!out)
            return HD_ENOMEM;
        memcpy(out, b, want);
        on = want;
    }
    out[on] = 0;
    *body = out;
    *body_len = on;
    *http_status = status;
    return 1;
more:
    free(out);
    if (eof)
        return hd_error(HD_EDATA, "connection closed in the middle of a chunked HTTP body");
    return 0;
bad_chunk:
    free(out);
    return hd_error(HD_EDATA, "malformed chunked HTTP body");
}

/* ---- connections ---- */

enum { C_IDLE = 0, C_CONNECTING, C_OPEN, C_DONE };
enum { STEP_STATUS = 0, STEP_WS, STEP_DONE };

typedef struct {
    int fd;
    int state;
    int ws;                     /* 1: a WebSocket, 0: one HTTP request */
    int upgraded;
    struct addrinfo *ai, *ai_next;
    uint8_t *rx;
    size_t rx_len, rx_cap, rx_off;
    uint8_t tx[1024];
    size_t tx_len, tx_off;
    char key[32];
    hd_ws_parser p;
    int64_t t0, deadline;
    int got_bytes;
} pconn;

typedef struct {
    int station;                /* the first station on this host:port */
    int owrx;
    char host[128], port[8];
    char path_prefix[64];       /* unused path part of the url is ignored */
    int step;
    int64_t t_first;            /* first byte of the first answer */
    int64_t t_start;
    pconn c;
    hd_kiwi_state ks;
    hd_owrx_state os;
    hd_kiwi_status kst;
    int have_kst;
    char note[128];
    hd_probe_result r;
} target;

static void conn_close(pconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->ai)
        freeaddrinfo(c->ai);
    c->ai = c->ai_next = NULL;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = c->rx_off = 0;
    explicit_bzero(c->tx, sizeof c->tx);   /* may have held a password */
    c->tx_len = c->tx_off = 0;
    if (c->ws)
        hd_ws_parser_release(&c->p);
    c->ws = 0;
    c->upgraded = 0;
    c->state = C_DONE;
}

static void target_finish(target *t, int status, const char *msg)
{
    t->r.status = status;
    if (msg)
        hd_strlcpy(t->r.message, msg, sizeof t->r.message);
    conn_close(&t->c);
    t->step = STEP_DONE;
}

/* Try the next address; 0 when a connect is under way, negative otherwise. */
static int conn_try(pconn *c)
{
    while (c->ai_next) {
        struct addrinfo *a = c->ai_next;
        c->ai_next = a->ai_next;
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            if (c->fd >= 0)
                close(c->fd);
            c->fd = fd;
            c->state = C_CONNECTING;
            return 0;
        }
        int e = errno;
        close(fd);
        if (!c->ai_next)
            return hd_error(HD_ENET, "%s", e == ECONNREFUSED ? "connection refused" : strerror(e));
    }
    return hd_error(HD_ENET, "no address to connect to");
}

static int queue_tx(pconn *c, const void *data, size_t n)
{
    if (c->tx_len - c->tx_off + n > sizeof c->tx)
        return hd_error(HD_EINVAL, "probe: request too long");
    if (c->tx_off) {
        memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
        c->tx_len -= c->tx_off;
        c->tx_off = 0;
    }
    memcpy(c->tx + c->tx_len, data, n);
    c->tx_len += n;
    return 0;
}

static int queue_ws(pconn *c, int opcode, const char *text, size_t n)
{
    uint8_t mask[4], frame[512 + 14];
    if (n > 512)
        return hd_error(HD_EINVAL, "probe: message too long");
    if (RAND_bytes(mask, 4) != 1)
        return hd_error(HD_EIO, "no random bytes from OpenSSL");
    size_t fl = hd_ws_frame_encode(frame, opcode, 1, text, n, mask);
    int rc = queue_tx(c, frame, fl);
    explicit_bzero(frame, sizeof frame);
    return rc;
}

/* Start a connection of t to path (HTTP GET, or a WebSocket upgrade). */
static int conn_start(target *t, int ws, const char *path, int timeout_ms)
{
    pconn *c = &t->c;
    char req[512];
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->ws = ws;
    c->t0 = hd_time_now_ns();
    c->deadline = c->t0 + (int64_t)timeout_ms * 1000000;
    if (ws)
        hd_ws_parser_init(&c->p, HD_PROBE_MAX_BODY, 0);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int g = getaddrinfo(t->host, t->port, &hints, &c->ai);
    if (g != 0) {
        c->ai = NULL;
        return hd_error(HD_ENET, "cannot resolve %s: %s", t->host, gai_strerror(g));
    }
    c->ai_next = c->ai;
    int rc = conn_try(c);
    if (rc < 0)
        return rc;
    if (ws) {
        uint8_t raw[16];
        if (RAND_bytes(raw, sizeof raw) != 1)
            return hd_error(HD_EIO, "no random bytes from OpenSSL");
        EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof raw);
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: heimdall\r\n\r\n",
                 path, t->host, t->port, c->key);
    } else {
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: heimdall\r\nAccept: text/plain\r\n"
                 "Connection: close\r\n\r\n",
                 path, t->host, t->port);
    }
    return queue_tx(c, req, strlen(req));
}

/* HEIMDALL_PASSWORD_<ID>: upper case, non-alphanumerics as '_' (as session.c). */
static const char *station_password(const hd_station *st)
{
    char name[64 + HD_ID_LEN] = "HEIMDALL_PASSWORD_";
    size_t o = strlen(name);
    for (const char *p = st->id; *p && o + 1 < sizeof name; p++)
        name[o++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    name[o] = 0;
    const char *pw = getenv(name);
    return pw ? pw : "";
}

/* Split a station url into host and port; 0, or -1 for a scheme not probed. */
static int split_url(const char *url, char *host, size_t hsize, char *port, size_t psize, const char **why)
{
    const char *u = url;
    if (!strncmp(u, "ws://", 5))
        u += 5;
    else if (!strncmp(u, "http://", 7))
        u += 7;
    else if (!strncmp(u, "wss://", 6) || !strncmp(u, "https://", 8))
        return *why = "TLS (wss://, https://) is not probed yet", -1;
    else
        return *why = "url is not ws:// or http://", -1;
    size_t hl = strcspn(u, "/?#");
    const char *colon = NULL;
    if (u[0] == '[') {   /* [IPv6]:port */
        const char *rb = memchr(u, ']', hl);
        if (!rb)
            return *why = "malformed url", -1;
        if ((size_t)(rb - u - 1) >= hsize)
            return *why = "host name too long", -1;
        memcpy(host, u + 1, (size_t)(rb - u - 1));
        host[rb - u - 1] = 0;
        colon = (rb + 1 < u + hl && rb[1] == ':') ? rb + 1 : NULL;
    } else {
        colon = memchr(u, ':', hl);
        size_t n = colon ? (size_t)(colon - u) : hl;
        if (n == 0 || n >= hsize)
            return *why = "malformed url", -1;
        memcpy(host, u, n);
        host[n] = 0;
    }
    if (colon) {
        size_t pn = (size_t)(u + hl - colon - 1);
        if (pn == 0 || pn >= psize || strspn(colon + 1, "0123456789") < pn)
            return *why = "malformed port in url", -1;
        memcpy(port, colon + 1, pn);
        port[pn] = 0;
    } else {
        hd_strlcpy(port, "80", psize);
    }
    return 0;
}

/* ---- protocol steps ---- */

static int start_step(target *t, const hd_station *st, int timeout_ms)
{
    char path[96];
    (void)st;
    if (t->step == STEP_STATUS)
        return conn_start(t, 0, "/status", timeout_ms);
    if (t->owrx)
        return conn_start(t, 1, "/ws/", timeout_ms);
    snprintf(path, sizeof path, "/%lld/SND", (long long)(hd_time_now_ns() / 1000000));
    return conn_start(t, 1, path, timeout_ms);
}

/* The /status answer arrived (or did not parse): remember it, go on to the WebSocket. */
static void on_status_page(target *t, int http_status, const char *body, size_t n)
{
    if (http_status != 200) {
        snprintf(t->note, sizeof t->note, "no /status page (HTTP %d)", http_status);
        return;
    }
    if (hd_kiwi_parse_status(body, n, &t->kst) < 0) {
        snprintf(t->note, sizeof t->note, "/status unreadable: %.100s", hd_errmsg());
        return;
    }
    t->have_kst = 1;
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
        unsigned want = HD_OWRX_GOT_HELLO | HD_OWRX_GOT_DETAILS | HD_OWRX_GOT_CLIENTS;
        if ((t->os.got & want) == want)
            return target_finish(t, HD_RX_OK, NULL), 1;
        return 0;
    }
    if (m->opcode != HD_WS_TEXT)
        return 0;
    int got = hd_kiwi_handle_msg(&t->ks, (const char *)m->data, m->len);
    if (got < 0)
        return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
    if (got & HD_KIWI_GOT_BADP) {
        const char *pw = station_password(st);
        return target_finish(t, HD_RX_AUTH, pw[0] ? "wrong password (badp=1)" : "password required (badp=1), none given"), 1;
    }
    if (got & (HD_KIWI_GOT_BUSY | HD_KIWI_GOT_REDIRECT)) {
        char msg[96];
        snprintf(msg, sizeof msg, "all %d channels busy (too_busy)", t->ks.too_busy);
        t->r.busy = 1;
        return target_finish(t, HD_RX_BUSY, msg), 1;
    }
    if (got & HD_KIWI_GOT_DOWN)
        return target_finish(t, HD_RX_REFUSED, "server is down (down)"), 1;
    unsigned g = t->ks.got;
    if ((g & HD_KIWI_GOT_AUTH_OK) && (g & (HD_KIWI_GOT_VERSION | HD_KIWI_GOT_SAMPLE_RATE)))
        return target_finish(t, HD_RX_OK, NULL), 1;
    return 0;
}

/* Bytes arrived on t's connection (or it closed: eof). Returns 1 when the
 * target is finished, 0 to go on. */
static int on_bytes(target *t, const hd_station *st, int eof)
{
    pconn *c = &t->c;
    if (!c->ws) {
        int hs;
        char *body;
        size_t bl;
        int r = hd_probe_http_response((const char *)c->rx, c->rx_len, eof, &hs, &body, &bl);
        if (r == 0)
            return 0;
        if (r < 0) {
            snprintf(t->note, sizeof t->note, "/status: %.110s", hd_errmsg());
        } else {
            on_status_page(t, hs, body, bl);
            free(body);
        }
        conn_close(c);
        t->step = STEP_WS;
        return 0;
    }
    if (!c->upgraded) {
        uint8_t *end = memmem(c->rx, c->rx_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->rx_len > MAX_HEADERS)
                return target_finish(t, HD_RX_PROTOCOL, "websocket handshake response too long"), 1;
            if (eof)
                return target_finish(t, HD_RX_REFUSED, "connection closed during the websocket handshake"), 1;
            return 0;
        }
        size_t hl = (size_t)(end - c->rx) + 4;
        char *resp = hd_malloc(hl + 1);
        if (!resp)
            return target_finish(t, HD_RX_PROTOCOL, "out of memory"), 1;
        memcpy(resp, c->rx, hl);
        resp[hl] = 0;
        int hs = 0;
        int rc = hd_ws_check_response(resp, c->key, &hs);
        free(resp);
        if (rc < 0)
            return target_finish(t, hs == 503 ? HD_RX_BUSY : rc == HD_EDATA ? HD_RX_PROTOCOL : HD_RX_REFUSED,
                                 hd_errmsg()),
                   1;
        c->upgraded = 1;
        c->rx_off = hl;
        char first[320];
        if (t->owrx)
            hd_strlcpy(first, HD_OWRX_HELLO, sizeof first);
        else
            snprintf(first, sizeof first, "SET auth t=kiwi p=%s", station_password(st));
        rc = queue_ws(c, HD_WS_TEXT, first, strlen(first));
        explicit_bzero(first, sizeof first);
        if (rc < 0)
            return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
    }
    for (;;) {
        hd_ws_msg m;
        size_t used = 0;
        int r = hd_ws_parse(&c->p, c->rx + c->rx_off, c->rx_len - c->rx_off, &used, &m);
        c->rx_off += used;
        if (r < 0)
            return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
        if (r == 0)
            break;
        if (m.opcode == HD_WS_PING) {
            if (queue_ws(c, HD_WS_PONG, (const char *)m.data, m.len) < 0)
                return target_finish(t, HD_RX_PROTOCOL, hd_errmsg()), 1;
            continue;
        }
        if (m.opcode == HD_WS_PONG)
            continue;
        if (m.opcode == HD_WS_CLOSE) {
            char msg[160];
            snprintf(msg, sizeof msg, "closed by the server (code %d) before %s", m.close_code,
                     t->owrx ? "the handshake and receiver details" : "accepting us (badp=0)");
            return target_finish(t, HD_RX_REFUSED, msg), 1;
        }
        if (on_ws_message(t, st, &m))
            return 1;
    }
    if (eof) {
        int answered = t->owrx ? (t->os.got & HD_OWRX_GOT_HELLO) != 0 : (t->ks.got & HD_KIWI_GOT_AUTH_OK) != 0;
        if (answered)
            return target_finish(t, HD_RX_OK, NULL), 1;
        return target_finish(t, HD_RX_REFUSED, "connection closed by the server without a close frame"), 1;
    }
    return 0;
}

/* Read what the socket has. Returns 1 when t finished, 0 otherwise. */
static int do_read(target *t, const hd_station *st, int64_t now)
{
    pconn *c = &t->c;
    for (;;) {
        if (c->rx_off && c->rx_off == c->rx_len) {
            c->rx_len = c->rx_off = 0;
        } else if (c->rx_off > 65536) {
            memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
            c->rx_len -= c->rx_off;
            c->rx_off = 0;
        }
        if (c->rx_cap - c->rx_len < 4096) {
            size_t cap = c->rx_cap ? c->rx_cap * 2 : 16384;
            if (cap > HD_PROBE_MAX_BODY + MAX_HEADERS + 65536 + 4096)
                return target_finish(t, HD_RX_PROTOCOL, "answer larger than the probe accepts"), 1;
            uint8_t *r = realloc(c->rx, cap);
            if (!r)
                return target_finish(t, HD_RX_PROTOCOL, "out of memory"), 1;
            c->rx = r;
            c->rx_cap = cap;
        }
        ssize_t n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return on_bytes(t, st, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "connection lost: %s", strerror(errno));
            return target_finish(t, c->got_bytes ? HD_RX_DISCONNECTED : HD_RX_REFUSED, msg), 1;
        }
        if (n > 0 && !c->got_bytes) {
            c->got_bytes = 1;
            if (!t->t_first)
                t->t_first = now;
        }
        if (n == 0) {
            int was_http = !c->ws;
            int fin = on_bytes(t, st, 1);
            if (!fin && !was_http && t->step != STEP_DONE)
                return target_finish(t, HD_RX_DISCONNECTED, "connection closed"), 1;
            return fin;
        }
        c->rx_len += (size_t)n;
        if (t->step == STEP_DONE)
            return 1;
    }
}

static int do_write(target *t)
{
    pconn *c = &t->c;
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "send failed: %s", strerror(errno));
            return target_finish(t, HD_RX_DISCONNECTED, msg), 1;
        }
        c->tx_off += (size_t)n;
    }
    explicit_bzero(c->tx, c->tx_len);
    c->tx_len = c->tx_off = 0;
    return 0;
}

/* The step's connection timed out. */
static void on_deadline(target *t, int timeout_ms)
{
    pconn *c = &t->c;
    char msg[160];
    if (c->state == C_CONNECTING) {
        snprintf(msg, sizeof msg, "no TCP connection within %.1f s", timeout_ms / 1e3);
        target_finish(t, HD_RX_TIMEOUT, msg);
        return;
    }
    if (!c->ws) {
        if (!c->got_bytes) {
            snprintf(msg, sizeof msg, "connected, no answer to GET /status within %.1f s", timeout_ms / 1e3);
            target_finish(t, HD_RX_TIMEOUT, msg);
            return;
        }
        snprintf(t->note, sizeof t->note, "/status incomplete after %.1f s", timeout_ms / 1e3);
        conn_close(c);
        t->step = STEP_WS;
        return;
    }
    int answered = t->owrx ? (t->os.got & HD_OWRX_GOT_HELLO) != 0 : (t->ks.got & HD_KIWI_GOT_AUTH_OK) != 0;
    if (answered) {
        target_finish(t, HD_RX_OK, NULL);   /* what the server told in time is reported */
        return;
    }
    snprintf(msg, sizeof msg, "connected, no %s within %.1f s",
             !c->upgraded ? "websocket handshake" : t->owrx ? "handshake reply" : "answer to auth", timeout_ms / 1e3);
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
        r->latency_ms = (double)(t->t_first - t->t_start) / 1e6;
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
    target *ts = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *ts);
    struct pollfd *pf = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *pf);
    int *pi = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *pi);
    int *tof = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *tof);
    if (!ts || !pf || !pi || !tof) {
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
        r->offset_m = NAN;
        tof[i] = -1;
        const char *why = NULL;
        char host[128], port[8];
        if (st[i].driver != HD_DRIVER_KIWISDR && st[i].driver != HD_DRIVER_OPENWEBRX) {
            snprintf(r->message, sizeof r->message, "driver %s has no live server", hd_driver_name(st[i].driver));
            continue;
        }
        if (!st[i].url[0]) {
            hd_strlcpy(r->message, "no url in the stations file", sizeof r->message);
            continue;
        }
        if (split_url(st[i].url, host, sizeof host, port, sizeof port, &why) < 0) {
            hd_strlcpy(r->message, why, sizeof r->message);
            continue;
        }
        snprintf(r->hostport, sizeof r->hostport, "%s:%s", host, port);
        int owrx = st[i].driver == HD_DRIVER_OPENWEBRX;
        for (int k = 0; k < nt; k++)
            if (ts[k].owrx == owrx && strcasecmp(ts[k].host, host) == 0 && strcmp(ts[k].port, port) == 0)
                tof[i] = k;
        if (tof[i] >= 0) {
            r->same_as = ts[tof[i]].station;
            continue;
        }
        target *t = &ts[nt];
        tof[i] = nt++;
        t->station = i;
        t->owrx = owrx;
        t->c.fd = -1;
        hd_strlcpy(t->host, host, sizeof t->host);
        hd_strlcpy(t->port, port, sizeof t->port);
        t->step = owrx ? STEP_WS : STEP_STATUS;
        t->r = *r;
        t->c.state = C_IDLE;
    }
    for (;;) {
        if (interrupted && interrupted()) {
            for (int k = 0; k < nt; k++)
                if (ts[k].step != STEP_DONE)
                    target_finish(&ts[k], HD_RX_NOT_RUN, "interrupted");
            rc = hd_error(HD_EINTR, "interrupted");
            break;
        }
        int64_t now = hd_time_now_ns();
        int np = 0;
        int64_t next = now + 50 * 1000000LL;
        for (int k = 0; k < nt; k++) {
            target *t = &ts[k];
            if (t->step == STEP_DONE)
                continue;
            if (t->c.state == C_IDLE || t->c.state == C_DONE) {
                if (!t->t_start)
                    t->t_start = hd_time_now_ns();
                if (start_step(t, &st[t->station], timeout_ms) < 0) {
                    const char *m = hd_errmsg();
                    target_finish(t, HD_RX_REFUSED, m);
                    continue;
                }
            }
            if (now >= t->c.deadline) {
                on_deadline(t, timeout_ms);
                k--;   /* a new step may start at once */
                continue;
            }
            if (t->c.deadline < next)
                next = t->c.deadline;
            short ev = t->c.state == C_CONNECTING ? POLLOUT : (short)(POLLIN | (t->c.tx_len > t->c.tx_off ? POLLOUT : 0));
            pf[np] = (struct pollfd){.fd = t->c.fd, .events = ev};
            pi[np++] = k;
        }
        if (!np)
            break;
        int wait = (int)((next - now) / 1000000) + 1;
        int pr = poll(pf, (nfds_t)np, wait < 1 ? 1 : wait);
        if (pr < 0)
            continue;   /* a signal: checked at the top */
        now = hd_time_now_ns();
        for (int q = 0; q < np; q++) {
            target *t = &ts[pi[q]];
            pconn *c = &t->c;
            if (!pf[q].revents || t->step == STEP_DONE)
                continue;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                    err = errno;
                if (err) {
                    close(c->fd);
                    c->fd = -1;
                    if (c->ai_next && conn_try(c) == 0)
                        continue;
                    char msg[160];
                    snprintf(msg, sizeof msg, "%s", err == ECONNREFUSED ? "connection refused" : strerror(err));
                    target_finish(t, err == ETIMEDOUT ? HD_RX_TIMEOUT : HD_RX_REFUSED, msg);
                    continue;
                }
                c->state = C_OPEN;
            }
            if (c->tx_len > c->tx_off && do_write(t))
                continue;
            if ((pf[q].revents & (POLLIN | POLLHUP | POLLERR)) && do_read(t, &st[t->station], now))
                continue;
        }
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
        for (int k = 0; k < nt; k++)
            if (ts[k].c.state != C_DONE && ts[k].c.state != C_IDLE)
                conn_close(&ts[k].c);
    free(ts);
    free(pf);
    free(pi);
    free(tof);
    return rc;
}
