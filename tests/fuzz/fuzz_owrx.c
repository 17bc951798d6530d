/* libFuzzer target: the OpenWebRX message handlers, the dspcontrol tuning
 * message and the level series (net/owrx.c) over arbitrary bytes. The first
 * byte chooses text or binary messages; the rest is split into messages at
 * '\n' (so a corpus entry can be a whole server conversation). */
#include "net/owrx.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int binary = data[0] & 1;
    double rate = 1 + (data[0] >> 1);
    hd_owrx_state st = {0};
    float lv[16];
    int64_t tn[16];
    hd_owrx_levels L = {.levels = lv, .t_ns = tn, .n_levels = 1 + (data[0] >> 4)};
    size_t off = 1;
    int64_t t = 0;
    while (off < size) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
        int got = binary ? hd_owrx_handle_binary(&st, data + off, n)
                         : hd_owrx_handle_text(&st, (const char *)data + off, n);
        if (got > 0 && (got & HD_OWRX_GOT_SMETER)) {
            if (!isfinite(st.smeter_db) || st.smeter_db > 31 || st.smeter_db < HD_OWRX_MIN_DB)
                __builtin_trap();
            t += 1000000 * (int64_t)(n % 97);
            (void)hd_owrx_levels_feed(&L, st.smeter_db, t);
        }
        if (st.center_freq_hz < 0 || st.center_freq_hz > 1e12 || st.samp_rate_hz < 0 || st.samp_rate_hz > 1e10 ||
            st.users < 0 || st.users > HD_OWRX_MAX_USERS || memchr(st.version, 0, sizeof st.version) == NULL ||
            memchr(st.reason, 0, sizeof st.reason) == NULL)
            __builtin_trap();
        if (L.n_have > L.n_levels)
            __builtin_trap();
        off += n + 1;
    }
    char out[256];
    (void)hd_owrx_tune_json(&st, 145.5e6, "nfm", 10000, out, sizeof out);
    if (hd_owrx_levels_finish(&L, rate) == 0)
        for (int l = 0; l < L.n_levels; l++)
            if (!isfinite(lv[l]))
                __builtin_trap();
    (void)hd_owrx_levels_rate(&L);
    return 0;
}
