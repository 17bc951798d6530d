/* net/probe: the HTTP response parser (Content-Length, chunked, read to
 * close, incomplete input, hostile input), fed whole and byte by byte. */
#include "core/error.h"
#include "net/probe.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* Feed r one byte more at a time: 0 until the last byte, then the final answer. */
static int bytewise(const char *r, size_t n, int eof, int *status, char **body, size_t *bl)
{
    for (size_t k = 1; k < n; k++) {
        int x = hd_probe_http_response(r, k, 0, status, body, bl);
        if (x != 0) {
            if (x == 1)
                free(*body);
            *body = NULL;
            return -1000 - (int)k;   /* answered early */
        }
    }
    return hd_probe_http_response(r, n, eof, status, body, bl);
}

int main(void)
{
    int st;
    char *body;
    size_t bl;
    const char *cl = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 10\r\n\r\nusers=1\nab";
    is_int(hd_probe_http_response(cl, strlen(cl), 0, &st, &body, &bl), 1, "Content-Length: complete");
    ok(st == 200 && bl == 10 && strcmp(body, "users=1\nab") == 0, "status 200, body of 10 bytes");
    free(body);
    is_int(bytewise(cl, strlen(cl), 0, &st, &body, &bl), 1, "Content-Length: byte by byte, complete at the last");
    free(body);
    is_int(hd_probe_http_response(cl, strlen(cl) - 1, 0, &st, &body, &bl), 0, "one byte short: more needed");
    is_int(hd_probe_http_response(cl, strlen(cl) - 1, 1, &st, &body, &bl), HD_EDATA, "one byte short and closed: error");

    const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nusers\r\n3;x=y\r\n=4\n\r\n0\r\n\r\n";
    is_int(hd_probe_http_response(ch, strlen(ch), 0, &st, &body, &bl), 1, "chunked: complete");
    ok(bl == 8 && memcmp(body, "users=4\n", 8) == 0, "chunked: body reassembled (extension ignored)");
    free(body);
    is_int(bytewise(ch, strlen(ch), 0, &st, &body, &bl), 1, "chunked: byte by byte");
    free(body);

    const char *close_ = "HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n<html>no</html>";
    is_int(hd_probe_http_response(close_, strlen(close_), 0, &st, &body, &bl), 0, "no length: read to the close");
    is_int(hd_probe_http_response(close_, strlen(close_), 1, &st, &body, &bl), 1, "closed: complete");
    ok(st == 404 && bl == 15, "status 404 and the body");
    free(body);

    const char *bad[] = {
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 020 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ok(hd_probe_http_response(bad[k], strlen(bad[k]), 0, &st, &body, &bl) == HD_EDATA, "hostile response %zu refused",
           k);
    is_int(hd_probe_http_response("HTTP/1.1 200", 12, 1, &st, &body, &bl), HD_EDATA, "closed inside the headers");
    size_t big = 20000;
    char *h = malloc(big);
    memcpy(h, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(h + 20, 'a', big - 20);
    is_int(hd_probe_http_response(h, big, 0, &st, &body, &bl), HD_EDATA, "headers beyond 16 KiB refused");
    free(h);
    const char *nulbody = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\0b";
    is_int(hd_probe_http_response(nulbody, 41, 0, &st, &body, &bl), 1, "a NUL in the body is data");
    ok(bl == 3 && body[1] == 0 && body[3] == 0, "body length kept, NUL-terminated after it");
    free(body);
    done_testing();
    return exit_status();
}
