/* libFuzzer target: the KiwiSDR /status page parser (net/kiwi.c), what the
 * station probe reads from a server before any protocol handler (the HTTP
 * around it is libcurl's). Whatever the page, the values it gives are in
 * range and its strings printable. */
#include "net/kiwi.h"

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
    check_status((const char *)data, size);
    return 0;
}
