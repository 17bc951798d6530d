/* WebSocket client (RFC 6455) over libcurl.
 *
 * Debian 12's libcurl (7.88) is built without WebSocket support, so the
 * connection is opened with CURLOPT_CONNECT_ONLY (plain TCP for ws://, TLS
 * for wss://) and the upgrade handshake and framing are done here over
 * curl_easy_send/curl_easy_recv. The socket (hd_ws_fd) can be put in a
 * poll() set, so one event loop drives many connections.
 *
 * Framing is a pure function over memory (hd_ws_parse), driven by the
 * connection and by the fuzz target tests/fuzz/fuzz_ws.c: fragmented
 * messages are reassembled, control frames may interleave fragments, a
 * message larger than max_message is a protocol error, frames from a server
 * must not be masked (RFC 6455 5.1). */
#ifndef HD_NET_WS_H
#define HD_NET_WS_H
#include <stddef.h>
#include <stdint.h>

enum {
    HD_WS_CONT = 0x0,
    HD_WS_TEXT = 0x1,
    HD_WS_BINARY = 0x2,
    HD_WS_CLOSE = 0x8,
    HD_WS_PING = 0x9,
    HD_WS_PONG = 0xA,
};

/* A message or control frame handed out by the parser. data points into the
 * parser (valid until the next call) and is NUL-terminated after len bytes. */
typedef struct {
    int opcode;             /* HD_WS_TEXT, _BINARY, _CLOSE, _PING or _PONG */
    const uint8_t *data;
    size_t len;
    int close_code;         /* for HD_WS_CLOSE: the status code, 1005 when absent */
} hd_ws_msg;

typedef struct {
    size_t max_message;     /* largest reassembled message accepted (bytes) */
    int server_side;        /* 1: frames must be masked (a server parsing a client) */
    uint8_t *msg;           /* message being reassembled */
    size_t msg_len, msg_cap;
    int msg_opcode;         /* opcode of the fragmented message in progress, 0 when none */
    uint8_t ctrl[128];      /* last control frame payload (at most 125 bytes) */
} hd_ws_parser;

void hd_ws_parser_init(hd_ws_parser *p, size_t max_message, int server_side);
void hd_ws_parser_release(hd_ws_parser *p);

/* Parse frames from buf[0..n). Consumes whole frames only and stores how many
 * bytes in *consumed. Returns 1 when *out holds a complete message or control
 * frame (call again with the rest of the buffer), 0 when more bytes are
 * needed, or a negative HD_E code (HD_EDATA with a message naming the
 * violation) for a protocol error, after which the parser must not be reused. */
int hd_ws_parse(hd_ws_parser *p, const uint8_t *buf, size_t n, size_t *consumed, hd_ws_msg *out);

/* Encode one frame (fin set) into out, which must hold len + 14 bytes. When
 * mask is not NULL the payload is masked with it (a client's frames).
 * Returns the frame length. */
size_t hd_ws_frame_encode(uint8_t *out, int opcode, int fin, const void *payload, size_t len,
                          const uint8_t mask[4]);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
int hd_ws_accept_key(const char *key, char out[29]);

/* Check an HTTP upgrade response (headers up to and including the blank
 * line) against the key that was sent. 0 when valid; HD_ENET with the
 * status line when the server refused the upgrade (*http_status set, e.g.
 * 404 or 503), HD_EDATA for a malformed or wrong accept. */
int hd_ws_check_response(const char *resp, const char *key, int *http_status);

typedef struct hd_ws_conn hd_ws_conn;

/* Connect to a ws:// or wss:// URL and complete the handshake within
 * timeout_ms. Errors: HD_ENET (refused, unreachable, timeout — message says
 * which; *timed_out set to 1 on a timeout when not NULL), HD_EDATA (bad
 * handshake). */
int hd_ws_connect(const char *url, int timeout_ms, size_t max_message, hd_ws_conn **out,
                  int *timed_out);

/* The same without blocking, for an event loop driving many connections:
 * hd_ws_start begins (nothing is waited for); hd_ws_step advances the TCP
 * and TLS connect (libcurl's multi interface), the upgrade request and the
 * response, and returns 1 once open, 0 while still opening, or the error
 * hd_ws_connect would give (the connection is then closed: hd_ws_close it).
 * hd_ws_wait gives the socket and poll() events to wait on before the next
 * step, or -1 when libcurl has none yet (resolving): step again soon. The
 * timeout covers connect and handshake together. */
int hd_ws_start(const char *url, int timeout_ms, size_t max_message, hd_ws_conn **out);
int hd_ws_step(hd_ws_conn *c, int *timed_out);
int hd_ws_wait(const hd_ws_conn *c, short *events);
/* The HTTP status of the server's answer to the upgrade (101 once open; 503
 * when it is busy), 0 when none came (refused, timed out, not HTTP). The
 * status, not the message: "503" is also in a port such as 35035. */
int hd_ws_http_status(const hd_ws_conn *c);

/* The socket, for poll() (POLLIN). */
int hd_ws_fd(const hd_ws_conn *c);

/* Send a text or binary message (one masked frame). */
int hd_ws_send(hd_ws_conn *c, int opcode, const void *data, size_t len);
int hd_ws_send_text(hd_ws_conn *c, const char *text);

/* Next data message (text or binary). Pings are answered with pongs and pongs
 * dropped; a close frame is answered and reported as HD_ENET ("closed by
 * peer, code N"). timeout_ms 0 returns at once (non-blocking), negative waits
 * forever. Returns 1 with *out set, 0 when nothing is complete in time, or a
 * negative HD_E code (HD_ENET when the peer went away, HD_EDATA for a
 * protocol violation). */
int hd_ws_recv(hd_ws_conn *c, hd_ws_msg *out, int timeout_ms);

/* 1 after the peer closed (close frame or end of stream). */
int hd_ws_closed(const hd_ws_conn *c);

/* Send a close frame (best effort) and free everything. NULL is fine. */
void hd_ws_close(hd_ws_conn *c);

#endif
