/* libFuzzer target: what the station probe reads from the network before
 * any protocol handler: the HTTP response parser (net/probe.c) and the
 * KiwiSDR /status page parser (net/kiwi.c). The first byte chooses: bit 0
 * the /status parser alone, else an HTTP response (bit 1: the peer closed)
 * whose body, when complete, goes through the /status parser. */
#include "net/kiwi.h"
#include "net/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_status(const char *text, size_t len)
{
    hd_kiwi_status ks;
    if (hd_kiwi_parse_status(text, len, &ks) < 0)
        return;
    if (ks.users < -1 || ks.users > HD_KIWI_MAX_USERS || ks.users_max < -1 || ks.users_max > HD_KIWI_MAX_USERS)
        __builtin_trap();
    if (ks.has_position && !(fabs(ks.lat) <= 90 && fabs(ks.lon) <= 180))
        __builtin_trap();
    if (strlen(ks.loc) >= sizeof ks.loc || strlen(ks.sw_version) >= sizeof ks.sw_version)
        __builtin_trap();
    for (const char *p = ks.loc; *p; p++)
        if ((unsigned char)*p < 0x20)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        check_status(text, n);
        return 0;
    }
    int status;
    char *body;
    size_t bl;
    int r = hd_probe_http_response(text, n, (data[0] >> 1) & 1, &status, &body, &bl);
    if (r == 1) {
        if (status < 100 || status > 599 || bl > HD_PROBE_MAX_BODY || body[bl] != 0 || bl > n)
            __builtin_trap();
        check_status(body, bl);
        free(body);
    } else if (r != 0 && r >= 0) {
        __builtin_trap();
    }
    return 0;
}
