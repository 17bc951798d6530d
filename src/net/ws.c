/* WebSocket client (RFC 6455) over libcurl's CONNECT_ONLY mode; see ws.h. */
#include "net/ws.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_RESPONSE 8192
#define WS_READ_CHUNK 16384

/* ---- framing (pure) ---- */

void hd_ws_parser_init(hd_ws_parser *p, size_t max_message, int server_side)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->server_side = server_side;
}

void hd_ws_parser_release(hd_ws_parser *p)
{
    if (!p)
        return;
    free(p->msg);
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
    p->msg_opcode = 0;
}

static uint64_t be_read(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

static void unmask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *mask)
{
    if (!mask) {
        memcpy(dst, src, len);
        return;
    }
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] ^ mask[i & 3];
}

int hd_ws_parse(hd_ws_parser *p, const uint8_t *buf, size_t n, size_t *consumed, hd_ws_msg *out)
{
    size_t off = 0;
    *consumed = 0;
    memset(out, 0, sizeof *out);
    /* the message handed out by the previous call is dropped now */
    if (p->msg_opcode < 0) {
        p->msg_opcode = 0;
        p->msg_len = 0;
    }
    for (;;) {
        if (n - off < 2)
            return 0;
        const uint8_t *f = buf + off;
        int fin = f[0] >> 7, op = f[0] & 0x0F, masked = f[1] >> 7;
        uint64_t len = f[1] & 0x7F;
        size_t hl = 2;
        if (f[0] & 0x70)
            return hd_error(HD_EDATA, "websocket: reserved bits set in a frame (no extension was negotiated)");
        if (len == 126) {
            if (n - off < 4)
                return 0;
            len = be_read(f + 2, 2);
            hl = 4;
            if (len < 126)
                return hd_error(HD_EDATA, "websocket: frame length %llu not minimally encoded", (unsigned long long)len);
        } else if (len == 127) {
            if (n - off < 10)
                return 0;
            len = be_read(f + 2, 8);
            hl = 10;
            if (len >> 63)
                return hd_error(HD_EDATA, "websocket: frame length has its top bit set");
            if (len < 65536)
                return hd_error(HD_EDATA, "websocket: frame length %llu not minimally encoded", (unsigned long long)len);
        }
        if (masked != p->server_side)
            return hd_error(HD_EDATA, masked ? "websocket: the server sent a masked frame"
                                             : "websocket: the client sent an unmasked frame");
        const uint8_t *mask = NULL;
        if (masked) {
            if (n - off < hl + 4)
                return 0;
            mask = f + hl;
            hl += 4;
        }
        int control = op & 0x8;
        if (control) {
            if (op != HD_WS_CLOSE && op != HD_WS_PING && op != HD_WS_PONG)
                return hd_error(HD_EDATA, "websocket: unknown control opcode 0x%x", op);
            if (!fin)
                return hd_error(HD_EDATA, "websocket: fragmented control frame");
            if (len > 125)
                return hd_error(HD_EDATA, "websocket: control frame of %llu bytes (at most 125)", (unsigned long long)len);
        } else {
            if (op != HD_WS_CONT && op != HD_WS_TEXT && op != HD_WS_BINARY)
                return hd_error(HD_EDATA, "websocket: unknown data opcode 0x%x", op);
            if (op == HD_WS_CONT && p->msg_opcode == 0)
                return hd_error(HD_EDATA, "websocket: continuation frame without a message to continue");
            if (op != HD_WS_CONT && p->msg_opcode != 0)
                return hd_error(HD_EDATA, "websocket: new message before the fragmented one ended");
            if (len > p->max_message || p->msg_len > p->max_message - len)
                return hd_error(HD_EDATA, "websocket: message larger than the maximum of %zu bytes", p->max_message);
        }
        /* lengths are bounded above, so this compares without overflow */
        if (n - off - hl < len)
            return 0;
        const uint8_t *payload = f + hl;
        size_t plen = (size_t)len;
        if (control) {
            unmask_copy(p->ctrl, payload, plen, mask);
            p->ctrl[plen] = 0;
            off += hl + plen;
            *consumed = off;
            out->opcode = op;
            out->data = p->ctrl;
            out->len = plen;
            if (op == HD_WS_CLOSE) {
                out->close_code = 1005;
                if (plen == 1)
                    return hd_error(HD_EDATA, "websocket: close frame with a 1-byte payload");
                if (plen >= 2) {
                    out->close_code = (int)be_read(p->ctrl, 2);
                    out->data = p->ctrl + 2;
                    out->len = plen - 2;
                }
            }
            return 1;
        }
        if (p->msg_len + plen + 1 > p->msg_cap) {
            size_t cap = p->msg_cap ? p->msg_cap : 256;
            while (cap < p->msg_len + plen + 1)
                cap *= 2;
            uint8_t *m = realloc(p->msg, cap);
            if (!m)
                return hd_error(HD_ENOMEM, "out of memory (websocket message of %zu bytes)", cap);
            p->msg = m;
            p->msg_cap = cap;
        }
        unmask_copy(p->msg + p->msg_len, payload, plen, mask);
        p->msg_len += plen;
        if (op != HD_WS_CONT)
            p->msg_opcode = op;
        off += hl + plen;
        *consumed = off;
        if (fin) {
            p->msg[p->msg_len] = 0;
            out->opcode = p->msg_opcode;
            out->data = p->msg;
            out->len = p->msg_len;
            p->msg_opcode = -1;   /* delivered: dropped at the next call */
            return 1;
        }
    }
}

size_t hd_ws_frame_encode(uint8_t *out, int opcode, int fin, const void *payload, size_t len,
                          const uint8_t mask[4])
{
    size_t hl = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        hl = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    if (mask) {
        memcpy(out + hl, mask, 4);
        hl += 4;
    }
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++)
        out[hl + i] = mask ? (uint8_t)(src[i] ^ mask[i & 3]) : src[i];
    return hl + len;
}

/* ---- handshake ---- */

int hd_ws_accept_key(const char *key, char out[29])
{
    char buf[128];
    if (strlen(key) > 60)
        return hd_error(HD_EINVAL, "websocket key too long");
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, (size_t)n, digest);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);   /* 28 chars + NUL */
    return 0;
}

/* Value of header name in an HTTP response, copied into val; 0 when found. */
static int header_value(const char *resp, const char *name, char *val, size_t size)
{
    size_t nl = strlen(name);
    const char *line = strstr(resp, "\r\n");
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t len = (size_t)(ve - v);
            if (len >= size)
                len = size - 1;
            memcpy(val, v, len);
            val[len] = 0;
            return 0;
        }
        line = end;
    }
    return -1;
}

int hd_ws_check_response(const char *resp, const char *key, int *http_status)
{
    int major = 0, minor = 0, status = 0;
    *http_status = 0;
    if (sscanf(resp, "HTTP/%d.%d %d", &major, &minor, &status) != 3)
        return hd_error(HD_EDATA, "websocket: the server's answer is not HTTP");
    *http_status = status;
    if (status != 101) {
        const char *eol = strstr(resp, "\r\n");
        int l = eol ? (int)(eol - resp) : (int)strlen(resp);
        return hd_error(HD_ENET, "websocket: upgrade refused: %.*s", l > 80 ? 80 : l, resp);
    }
    char val[256], want[29];
    if (header_value(resp, "Upgrade", val, sizeof val) || strcasecmp(val, "websocket") != 0)
        return hd_error(HD_EDATA, "websocket: handshake without 'Upgrade: websocket'");
    if (header_value(resp, "Connection", val, sizeof val) || !strcasestr(val, "upgrade"))
        return hd_error(HD_EDATA, "websocket: handshake without 'Connection: Upgrade'");
    if (header_value(resp, "Sec-WebSocket-Accept", val, sizeof val))
        return hd_error(HD_EDATA, "websocket: handshake without Sec-WebSocket-Accept");
    int rc = hd_ws_accept_key(key, want);
    if (rc < 0)
        return rc;
    if (strcmp(val, want) != 0)
        return hd_error(HD_EDATA, "websocket: wrong Sec-WebSocket-Accept '%s' (expected '%s')", val, want);
    return 0;
}

/* ---- connection ---- */

enum { PH_CONNECT = 0, PH_REQUEST, PH_RESPONSE, PH_OPEN };

struct hd_ws_conn {
    CURL *curl;
    CURLM *multi;            /* drives the TCP (and TLS) connect without blocking */
    curl_socket_t fd;
    int io_timeout_ms;
    hd_ws_parser p;
    uint8_t *rx;
    size_t rx_len, rx_off, rx_cap, rx_max;
    int closed, sent_close;
    /* opening */
    int phase;               /* PH_* */
    int64_t deadline_ns;     /* connect and handshake together */
    curl_socket_t cfd;       /* what libcurl waits on while connecting (socket callback) */
    short cevents;
    char hostport[512], key[32], req[1400];
    size_t req_len, req_off;
    int http_status;         /* of the upgrade's answer, 0 before one */
};

int hd_ws_http_status(const hd_ws_conn *c) { return c ? c->http_status : 0; }

int hd_ws_fd(const hd_ws_conn *c) { return (int)c->fd; }
int hd_ws_closed(const hd_ws_conn *c) { return c->closed; }

static int wait_fd(curl_socket_t fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0)
        return hd_error(HD_EINTR, "interrupted while waiting for the network");
    return r;
}

static int send_all(hd_ws_conn *c, const uint8_t *buf, size_t len)
{
    int64_t deadline = hd_time_now_ns() + (int64_t)c->io_timeout_ms * 1000000;
    while (len) {
        size_t sent = 0;
        CURLcode cr = curl_easy_send(c->curl, buf, len, &sent);
        if (cr == CURLE_AGAIN) {
            int64_t left = (deadline - hd_time_now_ns()) / 1000000;
            if (left <= 0)
                return hd_error(HD_ENET, "websocket: timed out sending");
            int r = wait_fd(c->fd, POLLOUT, (int)left);
            if (r < 0)
                return r;
            continue;
        }
        if (cr != CURLE_OK) {
            c->closed = 1;
            return hd_error(HD_ENET, "websocket: send failed: %s", curl_easy_strerror(cr));
        }
        buf += sent;
        len -= sent;
    }
    return 0;
}

/* Read what the socket has (after waiting up to timeout_ms for something).
 * Returns 1 when bytes arrived, 0 on timeout, negative on error or EOF. */
static int fill(hd_ws_conn *c, int timeout_ms)
{
    if (c->rx_off) {
        memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
        c->rx_len -= c->rx_off;
        c->rx_off = 0;
    }
    int got = 0;
    for (;;) {
        if (c->rx_cap - c->rx_len < WS_READ_CHUNK / 4) {
            size_t cap = c->rx_cap ? c->rx_cap * 2 : WS_READ_CHUNK;
            if (cap > c->rx_max)
                cap = c->rx_max;
            if (cap <= c->rx_len)
                return got;   /* full: the parser will take a frame first */
            uint8_t *r = realloc(c->rx, cap);
            if (!r)
                return hd_error(HD_ENOMEM, "out of memory (websocket buffer)");
            c->rx = r;
            c->rx_cap = cap;
        }
        size_t n = 0;
        CURLcode cr = curl_easy_recv(c->curl, c->rx + c->rx_len, c->rx_cap - c->rx_len, &n);
        if (cr == CURLE_AGAIN) {
            if (got || timeout_ms == 0)
                return got;
            int r = wait_fd(c->fd, POLLIN, timeout_ms);
            if (r <= 0)
                return r;
            timeout_ms = 0;   /* readable now; one more read attempt, then return */
            continue;
        }
        if (cr != CURLE_OK) {
            c->closed = 1;
            return hd_error(HD_ENET, "websocket: connection lost: %s", curl_easy_strerror(cr));
        }
        if (n == 0) {
            c->closed = 1;
            if (got)
                return got;
            return hd_error(HD_ENET, "websocket: connection closed by the server without a close frame");
        }
        c->rx_len += n;
        got = 1;
    }
}

static int random_bytes(uint8_t *b, int n)
{
    if (RAND_bytes(b, n) != 1)
        return hd_error(HD_EIO, "no random bytes from OpenSSL");
    return 0;
}

/* libcurl's socket callback: what the connect in progress waits for */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    (void)socketp;
    hd_ws_conn *c = userp;
    if (what == CURL_POLL_REMOVE) {
        if (c->cfd == s)
            c->cfd = CURL_SOCKET_BAD;
        return 0;
    }
    c->cfd = s;
    c->cevents = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    return 0;
}

int hd_ws_start(const char *url, int timeout_ms, size_t max_message, hd_ws_conn **out)
{
    int rc = 0;
    hd_ws_conn *c = NULL;
    char http_url[1200], path[512];
    *out = NULL;

    const char *rest;
    int tls;
    if (strncmp(url, "ws://", 5) == 0) {
        rest = url + 5;
        tls = 0;
    } else if (strncmp(url, "wss://", 6) == 0) {
        rest = url + 6;
        tls = 1;
    } else {
        return hd_error(HD_EINVAL, "websocket: URL '%s' is not ws:// or wss://", url);
    }
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    if (hl == 0 || hl >= sizeof c->hostport || (slash && strlen(slash) >= sizeof path))
        return hd_error(HD_EINVAL, "websocket: malformed URL '%s'", url);

    c = hd_calloc(1, sizeof *c);
    if (!c)
        return HD_ENOMEM;
    memcpy(c->hostport, rest, hl);
    c->hostport[hl] = 0;
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    snprintf(http_url, sizeof http_url, "%s://%s%s", tls ? "https" : "http", c->hostport, path);
    c->fd = c->cfd = CURL_SOCKET_BAD;
    c->io_timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->deadline_ns = hd_time_now_ns() + (int64_t)c->io_timeout_ms * 1000000;
    c->rx_max = max_message + WS_READ_CHUNK + 16;
    hd_ws_parser_init(&c->p, max_message, 0);

    uint8_t raw[16];
    if ((rc = random_bytes(raw, sizeof raw)) < 0)
        goto fail;
    EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof raw);
    int rl = snprintf(c->req, sizeof c->req,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: heimdall\r\n\r\n",
                      path, c->hostport, c->key);
    c->req_len = (size_t)rl;

    c->curl = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->curl || !c->multi) {
        rc = hd_error(HD_ENOMEM, "websocket: curl_easy_init failed");
        goto fail;
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, http_url);
    curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->io_timeout_ms);
    if (tls) { /* certificates always verified; a private CA by file */
        const char *ca = getenv("HEIMDALL_CA_BUNDLE");
        if (ca && *ca)
            curl_easy_setopt(c->curl, CURLOPT_CAINFO, ca);
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    if (curl_multi_add_handle(c->multi, c->curl) != CURLM_OK) {
        rc = hd_error(HD_ENOMEM, "websocket: curl_multi_add_handle failed");
        goto fail;
    }
    c->phase = PH_CONNECT;
    *out = c;
    return 0;
fail:
    c->closed = 1;
    hd_ws_close(c);
    return rc;
}

/* A failure while opening: the connection is closed (no close frame). */
static int open_failed(hd_ws_conn *c, int rc)
{
    c->closed = 1;
    return rc;
}

int hd_ws_step(hd_ws_conn *c, int *timed_out)
{
    if (timed_out)
        *timed_out = 0;
    if (c->closed)
        return hd_error(HD_ENET, "%s: connection already closed", c->hostport);
    if (c->phase == PH_OPEN)
        return 1;
    if (c->phase == PH_CONNECT) {
        int running = 0;
        curl_multi_perform(c->multi, &running);
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURLcode cr = m->data.result;
            if (cr != CURLE_OK) {
                if (cr == CURLE_OPERATION_TIMEDOUT && timed_out)
                    *timed_out = 1;
                return open_failed(c, hd_error(HD_ENET, "%s: %s", c->hostport,
                                               cr == CURLE_COULDNT_CONNECT ? "connection refused" : curl_easy_strerror(cr)));
            }
            curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &c->fd);
            if (c->fd == CURL_SOCKET_BAD)
                return open_failed(c, hd_error(HD_ENET, "%s: no socket after connecting", c->hostport));
            c->phase = PH_REQUEST;
        }
    }
    if (c->phase == PH_REQUEST) {
        while (c->req_off < c->req_len) {
            size_t sent = 0;
            CURLcode cr = curl_easy_send(c->curl, c->req + c->req_off, c->req_len - c->req_off, &sent);
            if (cr == CURLE_AGAIN)
                break;
            if (cr != CURLE_OK)
                return open_failed(c, hd_error(HD_ENET, "%s: sending the websocket handshake: %s", c->hostport,
                                               curl_easy_strerror(cr)));
            c->req_off += sent;
        }
        if (c->req_off == c->req_len)
            c->phase = PH_RESPONSE;
    }
    if (c->phase == PH_RESPONSE) {
        /* the response headers, up to the blank line; what follows is frames */
        int rc = fill(c, 0);
        if (rc < 0) {
            hd_error_context(rc, "%s: during the handshake", c->hostport);
            return open_failed(c, rc);
        }
        const char *end = c->rx_len >= 4 ? memmem(c->rx, c->rx_len, "\r\n\r\n", 4) : NULL;
        if (!end && c->rx_len > WS_MAX_RESPONSE)
            return open_failed(c, hd_error(HD_EDATA, "%s: handshake response longer than %d bytes", c->hostport,
                                           WS_MAX_RESPONSE));
        if (end) {
            size_t hlen = (size_t)(end - (const char *)c->rx) + 4;
            if (hlen > WS_MAX_RESPONSE)
                return open_failed(c, hd_error(HD_EDATA, "%s: handshake response longer than %d bytes",
                                               c->hostport, WS_MAX_RESPONSE));
            char resp[WS_MAX_RESPONSE + 1];
            memcpy(resp, c->rx, hlen);
            resp[hlen] = 0;
            int status;
            rc = hd_ws_check_response(resp, c->key, &status);
            c->http_status = status;
            if (rc < 0) {
                hd_error_context(rc, "%s", c->hostport);
                return open_failed(c, rc);
            }
            c->rx_off = hlen;
            c->phase = PH_OPEN;
            return 1;
        }
    }
    if (hd_time_now_ns() >= c->deadline_ns) {
        if (timed_out)
            *timed_out = 1;
        return open_failed(c, hd_error(HD_ENET, "%s: timed out %s", c->hostport,
                                       c->phase == PH_CONNECT ? "connecting" : "waiting for the websocket handshake"));
    }
    return 0;
}

int hd_ws_wait(const hd_ws_conn *c, short *events)
{
    switch (c->phase) {
    case PH_CONNECT:
        *events = c->cevents;
        return c->cfd == CURL_SOCKET_BAD ? -1 : (int)c->cfd;
    case PH_REQUEST:
        *events = POLLOUT;
        return (int)c->fd;
    default:
        *events = POLLIN;
        return (int)c->fd;
    }
}

int hd_ws_connect(const char *url, int timeout_ms, size_t max_message, hd_ws_conn **out, int *timed_out)
{
    hd_ws_conn *c;
    int rc = hd_ws_start(url, timeout_ms, max_message, &c);
    *out = NULL;
    if (timed_out)
        *timed_out = 0;
    if (rc < 0)
        return rc;
    while ((rc = hd_ws_step(c, timed_out)) == 0) {
        short ev = 0;
        int fd = hd_ws_wait(c, &ev);
        int64_t left = (c->deadline_ns - hd_time_now_ns()) / 1000000 + 1;
        int ms = left > 50 ? 50 : left < 1 ? 1 : (int)left; /* libcurl's resolver and timers: never long */
        if (fd >= 0 && ev) {
            if ((rc = wait_fd((curl_socket_t)fd, ev, ms)) < 0)
                break;
        } else {
            poll(NULL, 0, ms);
        }
    }
    if (rc < 0) {
        hd_ws_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hd_ws_send(hd_ws_conn *c, int opcode, const void *data, size_t len)
{
    if (c->closed)
        return hd_error(HD_ENET, "websocket: connection already closed");
    uint8_t mask[4];
    int rc = random_bytes(mask, 4);
    if (rc < 0)
        return rc;
    uint8_t *frame = hd_malloc(len + 14);
    if (!frame)
        return HD_ENOMEM;
    size_t n = hd_ws_frame_encode(frame, opcode, 1, data, len, mask);
    rc = send_all(c, frame, n);
    free(frame);
    return rc;
}

int hd_ws_send_text(hd_ws_conn *c, const char *text) { return hd_ws_send(c, HD_WS_TEXT, text, strlen(text)); }

int hd_ws_recv(hd_ws_conn *c, hd_ws_msg *out, int timeout_ms)
{
    int64_t deadline = timeout_ms > 0 ? hd_time_now_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        size_t used = 0;
        int rc = hd_ws_parse(&c->p, c->rx + c->rx_off, c->rx_len - c->rx_off, &used, out);
        c->rx_off += used;
        if (rc < 0) {
            c->closed = 1;
            return rc;
        }
        if (rc == 1) {
            if (out->opcode == HD_WS_PING) {
                uint8_t pong[125];
                memcpy(pong, out->data, out->len);
                if ((rc = hd_ws_send(c, HD_WS_PONG, pong, out->len)) < 0)
                    return rc;
                continue;
            }
            if (out->opcode == HD_WS_PONG)
                continue;
            if (out->opcode == HD_WS_CLOSE) {
                int code = out->close_code;
                if (!c->sent_close) {
                    uint8_t b[2] = {(uint8_t)(code == 1005 ? 1000 >> 8 : code >> 8), (uint8_t)(code == 1005 ? 1000 & 0xFF : code & 0xFF)};
                    c->sent_close = 1;
                    (void)hd_ws_send(c, HD_WS_CLOSE, b, 2);
                }
                c->closed = 1;
                return hd_error(HD_ENET, "websocket: closed by peer (code %d%s%.*s)", code,
                                out->len ? ": " : "", (int)(out->len > 80 ? 80 : out->len), (const char *)out->data);
            }
            return 1;
        }
        if (c->closed)
            return hd_error(HD_ENET, "websocket: connection closed by the server without a close frame");
        int wait = timeout_ms < 0 ? -1 : 0;
        if (timeout_ms > 0) {
            int64_t left = (deadline - hd_time_now_ns()) / 1000000;
            wait = left > 0 ? (int)left : 0;
        }
        rc = fill(c, wait);
        if (rc < 0)
            return rc;
        if (rc == 0 && (timeout_ms == 0 || (timeout_ms > 0 && hd_time_now_ns() >= deadline)))
            return 0;
    }
}

void hd_ws_close(hd_ws_conn *c)
{
    if (!c)
        return;
    if (c->curl && c->fd != CURL_SOCKET_BAD && !c->closed && !c->sent_close) {
        uint8_t b[2] = {1000 >> 8, 1000 & 0xFF};
        c->sent_close = 1;
        c->io_timeout_ms = 1000;
        (void)hd_ws_send(c, HD_WS_CLOSE, b, 2);
    }
    if (c->multi && c->curl)
        curl_multi_remove_handle(c->multi, c->curl);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    hd_ws_parser_release(&c->p);
    free(c->rx);
    free(c);
}
