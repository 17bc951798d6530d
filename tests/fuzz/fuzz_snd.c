/* libFuzzer target: the KiwiSDR SND frame parser, the MSG handler and the
 * capture assembler (net/kiwi.c) over arbitrary bytes. The first byte
 * chooses text or binary; a binary input is split into frames at "SND". */
#include "net/kiwi.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        hd_kiwi_state st = {0};
        (void)hd_kiwi_handle_msg(&st, (const char *)data + 1, size - 1);
        return 0;
    }
    int16_t iq[2 * 1500];
    hd_kiwi_capture c = {.iq = iq, .n_samples = 1500};
    size_t off = 1;
    while (off < size) {
        const uint8_t *next = memmem(data + off + 1, size - off - 1, "SND", 3);
        size_t n = next ? (size_t)(next - (data + off)) : size - off;
        hd_kiwi_snd s;
        if (hd_kiwi_parse_snd(data + off, n, &s) == 0) {
            if (s.n_pairs < 0 || (size_t)s.n_pairs * 4 + 20 > n)
                __builtin_trap();
            (void)hd_kiwi_capture_feed(&c, &s);
            (void)hd_kiwi_gps_t0(s.gps_sec, s.gps_nsec, 1780000000000000000LL);
        }
        if (c.n_have > c.n_samples)
            __builtin_trap();
        off += n;
    }
    return 0;
}
