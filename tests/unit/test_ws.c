/* net/ws: the RFC 6455 frame parser from memory (masking, lengths,
 * fragmentation, control frames, close, oversize, violations), the handshake
 * check, and a loopback run against python3-websockets (tests/emulators). */
#include "core/error.h"
#include "core/util.h"
#include "net/ws.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse_all(hd_ws_parser *p, const uint8_t *buf, size_t n, size_t *used, hd_ws_msg *m)
{
    return hd_ws_parse(p, buf, n, used, m);
}

static void test_handshake(void)
{
    char acc[29];
    hd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc);
    is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Accept of RFC 6455's example key");

    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    int st;
    const char *good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    is_int(hd_ws_check_response(good, key, &st), 0, "a correct 101 response is accepted");
    const char *lower = "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                        "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    is_int(hd_ws_check_response(lower, key, &st), 0, "header names and tokens are case-insensitive");
    const char *wrong = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: AAAAMBiTxaQ9kYGzzhZ5me0vzo=\r\n\r\n";
    is_int(hd_ws_check_response(wrong, key, &st), HD_EDATA, "a wrong accept key is refused");
    like(hd_errmsg(), "wrong Sec-WebSocket-Accept", "and the message says so");
    is_int(hd_ws_check_response("HTTP/1.1 503 Service Unavailable\r\n\r\n", key, &st), HD_ENET,
           "a 503 is a refused upgrade");
    is_int(st, 503, "with its status");
    const char *noup = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    is_int(hd_ws_check_response(noup, key, &st), HD_EDATA, "a 101 without Upgrade is refused");
    is_int(hd_ws_check_response("SSH-2.0-OpenSSH\r\n\r\n", key, &st), HD_EDATA, "a non-HTTP answer is refused");
}

static void test_frames(void)
{
    hd_ws_parser p;
    hd_ws_msg m;
    size_t used;

    /* RFC 6455 5.7 examples */
    const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    hd_ws_parser_init(&p, 1 << 20, 0);
    is_int(parse_all(&p, hello, sizeof hello, &used, &m), 1, "unmasked text frame parses");
    ok(m.opcode == HD_WS_TEXT && m.len == 5 && memcmp(m.data, "Hello", 5) == 0 && used == 7, "as 'Hello'");
    int need = 1;
    for (size_t k = 0; k < sizeof hello; k++)
        need &= parse_all(&p, hello, k, &used, &m) == 0 && used == 0;
    ok(need, "every truncation of a frame asks for more bytes and consumes none");

    const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    is_int(parse_all(&p, masked, sizeof masked, &used, &m), HD_EDATA, "a client refuses a masked frame");
    hd_ws_parser_release(&p);
    hd_ws_parser_init(&p, 1 << 20, 1);
    is_int(parse_all(&p, masked, sizeof masked, &used, &m), 1, "a server unmasks a masked frame");
    ok(m.len == 5 && memcmp(m.data, "Hello", 5) == 0, "to 'Hello'");
    is_int(parse_all(&p, hello, sizeof hello, &used, &m), HD_EDATA, "a server refuses an unmasked frame");
    hd_ws_parser_release(&p);

    /* encode with a mask, parse server-side: round trip at each length class */
    static uint8_t payload[70000], frame[70016];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    const uint8_t key[4] = {0xA1, 0x5B, 0x00, 0xFF};
    size_t lens[] = {0, 125, 126, 65535, 65536, 70000};
    int rt = 1;
    for (size_t k = 0; k < HD_ARRAY_LEN(lens); k++) {
        hd_ws_parser_init(&p, 1 << 20, 1);
        size_t n = hd_ws_frame_encode(frame, HD_WS_BINARY, 1, payload, lens[k], key);
        int r = parse_all(&p, frame, n, &used, &m);
        rt &= r == 1 && used == n && m.opcode == HD_WS_BINARY && m.len == lens[k] &&
              (lens[k] == 0 || memcmp(m.data, payload, lens[k]) == 0);
        hd_ws_parser_release(&p);
    }
    ok(rt, "masked frames of 0, 125, 126, 65535, 65536, 70000 bytes round-trip");
    size_t n = hd_ws_frame_encode(frame, HD_WS_TEXT, 1, "abcd", 4, key);
    ok(n == 10 && frame[1] == 0x84 && frame[6] == ('a' ^ 0xA1) && frame[9] == ('d' ^ 0xFF), "masking XORs with the key");

    /* fragmentation with a ping in the middle */
    const uint8_t frag[] = {0x01, 0x03, 'H', 'e', 'l', 0x89, 0x02, 'h', 'b', 0x80, 0x02, 'l', 'o'};
    hd_ws_parser_init(&p, 1 << 20, 0);
    size_t off = 0;
    is_int(parse_all(&p, frag, sizeof frag, &used, &m), 1, "a ping between fragments is delivered first");
    ok(m.opcode == HD_WS_PING && m.len == 2 && memcmp(m.data, "hb", 2) == 0, "with its payload");
    off += used;
    is_int(parse_all(&p, frag + off, sizeof frag - off, &used, &m), 1, "then the reassembled message");
    ok(m.opcode == HD_WS_TEXT && m.len == 5 && memcmp(m.data, "Hello", 5) == 0 && off + used == sizeof frag,
       "'Hello' from two fragments");
    is_int(parse_all(&p, hello, sizeof hello, &used, &m), 1, "the next message starts fresh");
    ok(m.len == 5, "and does not carry the previous one");
    hd_ws_parser_release(&p);

    /* close */
    const uint8_t cl[] = {0x88, 0x05, 0x03, 0xE8, 'b', 'y', 'e'};
    hd_ws_parser_init(&p, 1 << 20, 0);
    is_int(parse_all(&p, cl, sizeof cl, &used, &m), 1, "close frame parses");
    ok(m.opcode == HD_WS_CLOSE && m.close_code == 1000 && m.len == 3 && memcmp(m.data, "bye", 3) == 0,
       "with code 1000 and reason");
    const uint8_t cl0[] = {0x88, 0x00};
    parse_all(&p, cl0, sizeof cl0, &used, &m);
    is_int(m.close_code, 1005, "an empty close has code 1005");
    hd_ws_parser_release(&p);

    /* violations */
    struct { uint8_t b[16]; size_t n; size_t max; const char *what, *msg; } bad[] = {
        {{0x88, 0x01, 0x03}, 3, 100, "close with a 1-byte payload", "1-byte"},
        {{0x09, 0x00}, 2, 100, "fragmented ping", "fragmented control"},
        {{0x89, 0x7E, 0x00, 0x7E}, 4, 1000, "ping of 126 bytes", "at most 125"},
        {{0xC1, 0x00}, 2, 100, "RSV1 set", "reserved bits"},
        {{0x80, 0x01, 'x'}, 3, 100, "continuation with no message", "continuation"},
        {{0x01, 0x01, 'x', 0x01, 0x01, 'y'}, 6, 100, "new message inside a fragmented one", "before the fragmented"},
        {{0x83, 0x00}, 2, 100, "opcode 3", "unknown data opcode"},
        {{0x8B, 0x00}, 2, 100, "opcode 11", "unknown control opcode"},
        {{0x81, 0x7E, 0x00, 0x05}, 4, 100, "16-bit length below 126", "minimally"},
        {{0x82, 0x7E, 0x00, 0xC8}, 4, 100, "200 bytes over a 100-byte maximum", "larger than the maximum"},
        {{0x82, 0x7F, 0x40, 0, 0, 0, 0, 0, 0, 0}, 10, 100, "a 2^62-byte frame", "larger than the maximum"},
        {{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, 100, "a length with its top bit", "top bit"},
        {{0x02, 0x3C}, 2, 100, "fragments adding up over the maximum", "larger"},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(bad); k++) {
        hd_ws_parser_init(&p, bad[k].max, 0);
        int r = 0;
        size_t o = 0;
        uint8_t buf[200] = {0};
        memcpy(buf, bad[k].b, bad[k].n);
        size_t len = bad[k].n;
        if (k == HD_ARRAY_LEN(bad) - 1) {   /* 60 + 60 bytes in two fragments, max 100 */
            buf[62] = 0x80;
            buf[63] = 0x3C;
            len = 124;
        }
        do {
            r = parse_all(&p, buf + o, len - o, &used, &m);
            o += used;
        } while (r == 1);
        ok(r == HD_EDATA && strstr(hd_errmsg(), bad[k].msg), "refused: %s (%s)", bad[k].what, hd_errmsg());
        hd_ws_parser_release(&p);
    }
}

/* A port nothing listens on, which nothing else can take while *fd stays
 * open: bound, never listening, so a connection to it is refused (a port
 * closed at once could be taken by a test running beside this one). */
static int refusing_port(int *fd)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &l) < 0)
    {
        printf("Bail out! a bound socket for the refused connection: %s\n", strerror(errno));
        exit(1);
    }
    *fd = s;
    return ntohs(a.sin_port);
}

static void test_loopback(void)
{
    const char *py = getenv("PYTHON");
    char cmd[512], line[64], url[128];
    int port = 0;
    hd_ws_conn *c = NULL;
    hd_ws_msg m;
    int to;

    int bound;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/x", refusing_port(&bound));
    is_int(hd_ws_connect(url, 2000, 1 << 20, &c, &to), HD_ENET, "a closed port is refused");
    like(hd_errmsg(), "connection refused", "and the message says 'connection refused'");
    close(bound);

    if (!py || access(py, X_OK) != 0) {
        skip(12, "no $PYTHON for the loopback server");
        return;
    }
    snprintf(cmd, sizeof cmd, "%s tests/emulators/ws_echo.py --lifetime 20", py);
    FILE *srv = popen(cmd, "r");
    if (!srv || !fgets(line, sizeof line, srv) || sscanf(line, "PORT %d", &port) != 1) {
        ok(0, "echo server started");
        skip(11, "no echo server");
        if (srv)
            pclose(srv);
        return;
    }
    ok(1, "echo server started on port %d", port);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/123/SND", port);
    int rc = hd_ws_connect(url, 5000, 1 << 20, &c, &to);
    is_int(rc, 0, "handshake with python3-websockets");
    if (rc < 0) {
        diag("%s", hd_errmsg());
        skip(10, "no connection");
        pclose(srv);
        return;
    }
    hd_ws_send_text(c, "hello kiwi");
    rc = hd_ws_recv(c, &m, 5000);
    ok(rc == 1 && m.opcode == HD_WS_TEXT && m.len == 10 && strcmp((const char *)m.data, "hello kiwi") == 0,
       "text echoed");
    const uint8_t bin[] = {0, 1, 2, 255, 254};
    hd_ws_send(c, HD_WS_BINARY, bin, sizeof bin);
    rc = hd_ws_recv(c, &m, 5000);
    ok(rc == 1 && m.opcode == HD_WS_BINARY && m.len == 5 && memcmp(m.data, bin, 5) == 0, "binary echoed");
    hd_ws_send_text(c, "frag");
    rc = hd_ws_recv(c, &m, 5000);
    ok(rc == 1 && strcmp((const char *)m.data, "alpha beta gamma") == 0, "fragmented message reassembled");
    hd_ws_send_text(c, "ping");
    rc = hd_ws_recv(c, &m, 5000);
    ok(rc == 1 && strcmp((const char *)m.data, "pinged") == 0, "a ping is answered and skipped");
    hd_ws_send_text(c, "big 300000");
    rc = hd_ws_recv(c, &m, 5000);
    int same = rc == 1 && m.len == 300000;
    for (size_t i = 0; same && i < m.len; i++)
        same = m.data[i] == i % 251;
    ok(same, "a 300000-byte message arrives intact");
    is_int(hd_ws_recv(c, &m, 0), 0, "nothing more: a non-blocking receive returns 0");
    hd_ws_send_text(c, "big 2000000");
    rc = hd_ws_recv(c, &m, 5000);
    is_int(rc, HD_EDATA, "a message over the 1 MiB maximum is a protocol error");
    like(hd_errmsg(), "larger than the maximum", "saying so");
    hd_ws_close(c);

    /* a new connection, closed by the server */
    rc = hd_ws_connect(url, 5000, 1 << 20, &c, &to);
    if (rc == 0) {
        hd_ws_send_text(c, "close");
        rc = hd_ws_recv(c, &m, 5000);
        is_int(rc, HD_ENET, "a close from the server ends the stream");
        like(hd_errmsg(), "code 4001: bye", "with its code and reason");
        ok(hd_ws_closed(c), "and the connection is marked closed");
        hd_ws_close(c);
    } else {
        skip(3, "second connection failed");
    }
    pclose(srv);
}

/* Step a non-blocking open to its end: 1 open, < 0 failed. */
static int open_to_end(const char *url, hd_ws_conn **c)
{
    int to = 0, r = hd_ws_start(url, 3000, 1 << 20, c);
    while (r == 0) {
        short ev;
        int fd = hd_ws_wait(*c, &ev);
        if (fd < 0)
            usleep(1000);
        r = hd_ws_step(*c, &to);
        if (fd >= 0 && r == 0)
            usleep(200);
    }
    return r;
}

/* A server answering the upgrade with 503 (busy): the status comes from the
 * answer, not from the message, whose port may hold "503" (35035: a refused
 * connection there was called busy) */
static void test_http_status(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) < 0) {
        ok(0, "a listening socket for the 503 server: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) { /* the server: one connection, a 503 to its request */
        int cfd = accept(s, NULL, NULL);
        char buf[2048];
        size_t got = 0;
        ssize_t n;
        while (cfd >= 0 && got < sizeof buf - 1 && (n = read(cfd, buf + got, sizeof buf - 1 - got)) > 0) {
            got += (size_t)n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        const char *resp = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        if (cfd >= 0 && write(cfd, resp, strlen(resp)) < 0)
            _exit(1);
        _exit(0);
    }
    close(s);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/x", ntohs(a.sin_port));
    hd_ws_conn *c = NULL;
    int r = open_to_end(url, &c);
    ok(r < 0, "an upgrade answered 503 fails");
    is_int(hd_ws_http_status(c), 503, "with the answer's HTTP status, 503");
    hd_ws_close(c);
    waitpid(pid, NULL, 0);

    int bound;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/x", refusing_port(&bound));
    c = NULL;
    r = open_to_end(url, &c);
    ok(r < 0, "a refused connection fails");
    is_int(hd_ws_http_status(c), 0, "with no HTTP status, whatever its port's digits");
    hd_ws_close(c);
    close(bound);
}

/* wss:// against the echo server with a throwaway certificate: verified
 * through HEIMDALL_CA_BUNDLE, refused without it */
static void test_tls(void)
{
    const char *py = getenv("PYTHON");
    char dir[] = "/tmp/heimdall-ws-tls.XXXXXX", cmd[1024], line[64], url[128], cert[128], key[128];
    int port = 0, to;
    hd_ws_conn *c = NULL;
    hd_ws_msg m;
    if (!py || access(py, X_OK) != 0 || access("/usr/bin/openssl", X_OK) != 0 || !mkdtemp(dir)) {
        skip(6, "no $PYTHON or openssl for the TLS loopback server");
        return;
    }
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        skip(6, "openssl could not make a certificate");
        return;
    }
    snprintf(cmd, sizeof cmd, "%s tests/emulators/ws_echo.py --lifetime 20 --tls %s %s", py, cert, key);
    FILE *srv = popen(cmd, "r");
    if (!srv || !fgets(line, sizeof line, srv) || sscanf(line, "PORT %d", &port) != 1) {
        ok(0, "TLS echo server started");
        skip(5, "no TLS echo server");
        if (srv)
            pclose(srv);
        return;
    }
    ok(1, "TLS echo server started on port %d", port);
    snprintf(url, sizeof url, "wss://localhost:%d/123/SND", port);
    unsetenv("HEIMDALL_CA_BUNDLE");
    int rc = hd_ws_connect(url, 5000, 1 << 20, &c, &to);
    is_int(rc, HD_ENET, "an unknown certificate is refused (never skipped)");
    ok(strstr(hd_errmsg(), "certificate") || strstr(hd_errmsg(), "SSL"), "and the message says why: %s", hd_errmsg());
    setenv("HEIMDALL_CA_BUNDLE", cert, 1);
    rc = hd_ws_connect(url, 5000, 1 << 20, &c, &to);
    is_int(rc, 0, "wss:// handshake with the certificate trusted through HEIMDALL_CA_BUNDLE");
    if (rc == 0) {
        hd_ws_send_text(c, "big 300000");
        rc = hd_ws_recv(c, &m, 5000);
        int same = rc == 1 && m.len == 300000;
        for (size_t i = 0; same && i < m.len; i++)
            same = m.data[i] == i % 251;
        ok(same, "a 300000-byte message arrives intact over TLS");
        hd_ws_send_text(c, "close");
        rc = hd_ws_recv(c, &m, 5000);
        like(hd_errmsg(), "code 4001: bye", "the server's close frame read over TLS");
        hd_ws_close(c);
    } else {
        diag("%s", hd_errmsg());
        skip(2, "no TLS connection");
    }
    unsetenv("HEIMDALL_CA_BUNDLE");
    pclose(srv);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    plan_no_plan();
    test_handshake();
    test_frames();
    test_loopback();
    test_http_status();
    test_tls();
    done_testing();
    return exit_status();
}
