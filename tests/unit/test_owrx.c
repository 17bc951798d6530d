/* net/owrx: the handshake reply, JSON messages (config in parts, smeter to
 * dB, receiver_gps, clients, backoff), binary frame types, the dspcontrol
 * tuning message, the level series and its hold, and hostile input. */
#include "core/error.h"
#include "net/owrx.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int txt(hd_owrx_state *st, const char *s) { return hd_owrx_handle_text(st, s, strlen(s)); }

int main(void)
{
    plan_no_plan();
    hd_owrx_state st = {0};

    /* handshake */
    is_int(txt(&st, "CLIENT DE SERVER server=openwebrx version=v1.2.94"), HD_OWRX_GOT_HELLO, "handshake reply");
    is_str(st.version, "v1.2.94", "version recorded");
    hd_owrx_state s2 = {0};
    is_int(txt(&s2, "CLIENT DE SERVER server=kiwisdr version=1"), HD_EDATA, "a server that is not openwebrx is refused");
    char longv[256];
    snprintf(longv, sizeof longv, "CLIENT DE SERVER server=openwebrx version=v%0100d", 1);
    is_int(txt(&s2, longv), HD_EDATA, "an overlong version is refused");
    is_int(txt(&s2, "MSG something"), HD_EDATA, "text that is neither handshake nor JSON is refused");
    is_int(txt(&s2, ""), HD_EDATA, "an empty text message is refused");

    /* config in two parts, as the server sends it */
    is_int(txt(&st, "{\"type\": \"config\", \"value\": {\"fft_size\": 4096, \"center_freq\": 145000000}}"),
           HD_OWRX_GOT_CONFIG, "first config part");
    ok(st.center_freq_hz == 145e6 && st.samp_rate_hz == 0, "center_freq known, samp_rate not yet");
    char tune[512];
    is_int(hd_owrx_tune_json(&st, 145.5e6, "nfm", 10000, tune, sizeof tune), HD_EINVAL,
           "no tuning before samp_rate is known");
    is_int(txt(&st, "{\"type\":\"config\",\"value\":{\"samp_rate\":2400000,\"center_freq\":null}}"), HD_OWRX_GOT_CONFIG,
           "second config part (a null deletion leaves the value)");
    ok(st.center_freq_hz == 145e6 && st.samp_rate_hz == 2.4e6, "both known");
    is_int(hd_owrx_tune_json(&st, 145.5e6, "nfm", 10000, tune, sizeof tune), 0, "tuning message");
    like(tune, "\"offset_freq\":500000", "offset from the center frequency");
    like(tune, "\"mod\":\"nfm\"", "modulation");
    like(tune, "\"low_cut\":-5000,\"high_cut\":5000", "passband");
    is_int(hd_owrx_tune_json(&st, 433.5e6, "nfm", 10000, tune, sizeof tune), HD_EINVAL,
           "a frequency outside center ± samp_rate/2 is refused");
    like(hd_errmsg(), "outside the receiver's band", "and the message says why");
    is_int(hd_owrx_tune_json(&st, 145.5e6, "nfm", 10000, tune, 20), HD_EINVAL, "a too small buffer is refused");
    is_int(txt(&s2, "{\"type\":\"config\",\"value\":{\"samp_rate\":-5}}"), HD_EDATA, "a negative samp_rate is absurd");
    is_int(txt(&s2, "{\"type\":\"config\",\"value\":{\"center_freq\":\"145e6\"}}"), HD_EDATA,
           "a center_freq string is refused");
    is_int(txt(&s2, "{\"type\":\"config\",\"value\":[1]}"), HD_EDATA, "a config that is not an object");

    /* smeter: linear power to dB */
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":0.001}"), HD_OWRX_GOT_SMETER, "smeter");
    is_double(st.smeter_db, -30.0, 1e-9, "10·log10 of the linear power");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":3.5e-9}"), HD_OWRX_GOT_SMETER, "a small smeter");
    is_double(st.smeter_db, 10 * log10(3.5e-9), 1e-9, "in dB");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":0}"), HD_OWRX_GOT_SMETER, "zero smeter");
    is_double(st.smeter_db, HD_OWRX_MIN_DB, 0, "clamped to -300 dB like the simulator");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":1}"), HD_OWRX_GOT_SMETER, "integer smeter");
    is_double(st.smeter_db, 0, 0, "0 dBFS");
    is_int(st.n_smeter, 4, "four smeter messages counted");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":-1}"), HD_EDATA, "a negative smeter is absurd");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":1e300}"), HD_EDATA, "a huge smeter is absurd");
    is_int(txt(&st, "{\"type\":\"smeter\",\"value\":\"x\"}"), HD_EDATA, "a string smeter is refused");
    is_int(txt(&st, "{\"type\":\"smeter\"}"), HD_EDATA, "a smeter without value is refused");
    is_int(st.n_smeter, 4, "refused smeters are not counted");

    /* details, clients, backoff */
    is_int(txt(&st, "{\"type\":\"receiver_details\",\"value\":{\"receiver_name\":\"x\",\"receiver_gps\":{\"lat\":45.03,"
                    "\"lon\":7.27},\"receiver_asl\":1340}}"),
           HD_OWRX_GOT_DETAILS | HD_OWRX_GOT_GPS, "receiver_details with a position");
    ok(st.gps_lat == 45.03 && st.gps_lon == 7.27, "server position recorded");
    is_int(txt(&s2, "{\"type\":\"receiver_details\",\"value\":{\"receiver_gps\":{\"lat\":145,\"lon\":7}}}"), HD_EDATA,
           "a latitude off the globe is absurd");
    is_int(txt(&s2, "{\"type\":\"receiver_details\",\"value\":{}}"), HD_OWRX_GOT_DETAILS, "details without position");
    is_int(txt(&st, "{\"type\":\"clients\",\"value\":3}"), HD_OWRX_GOT_CLIENTS, "clients");
    is_int(st.users, 3, "three users");
    is_int(txt(&s2, "{\"type\":\"clients\",\"value\":1e9}"), HD_EDATA, "a billion users is absurd");
    is_int(txt(&s2, "{\"type\":\"clients\",\"value\":2.5}"), HD_EDATA, "half a user is absurd");
    is_int(txt(&st, "{\"type\":\"backoff\",\"reason\":\"Too many clients\"}"), HD_OWRX_GOT_BACKOFF, "backoff");
    is_str(st.reason, "Too many clients", "its reason");
    is_int(txt(&st, "{\"type\":\"sdr_error\",\"value\":\"No SDR Devices available\"}"), HD_OWRX_GOT_SDR_ERROR,
           "sdr_error");
    is_int(txt(&st, "{\"type\":\"bookmarks\",\"value\":[]}"), 0, "other types are of no interest");
    is_int(txt(&st, "{\"value\":1}"), 0, "a message without type is ignored");
    ok((st.got & (HD_OWRX_GOT_HELLO | HD_OWRX_GOT_CONFIG | HD_OWRX_GOT_SMETER | HD_OWRX_GOT_BACKOFF)) ==
           (HD_OWRX_GOT_HELLO | HD_OWRX_GOT_CONFIG | HD_OWRX_GOT_SMETER | HD_OWRX_GOT_BACKOFF),
       "got accumulates");

    /* hostile JSON */
    is_int(txt(&s2, "{\"type\":\"smeter\",\"value\":0.1"), HD_EDATA, "truncated JSON is refused");
    is_int(txt(&s2, "{\"type\":\"smeter\",\"type\":\"config\",\"value\":1}"), HD_EDATA, "duplicate keys refused");
    is_int(txt(&s2, "[1,2]"), HD_EDATA, "a JSON array is not a message");
    {
        size_t depth = 100000, n = depth * 6 + 1 + depth;
        char *deep = malloc(n + 1);
        size_t o = 0;
        for (size_t i = 0; i < depth; i++)
            memcpy(deep + o, "{\"a\":", 5), o += 5, deep[o++] = ' ';
        deep[o++] = '1';
        for (size_t i = 0; i < depth; i++)
            deep[o++] = '}';
        deep[o] = 0;
        is_int(hd_owrx_handle_text(&s2, deep, n), HD_EDATA, "deeply nested JSON is refused, not a crash");
        free(deep);
        is_int(hd_owrx_handle_text(&s2, "{", (size_t)HD_OWRX_MAX_TEXT + 1), HD_EDATA,
               "a text longer than the limit is refused before parsing");
    }
    {
        char nul[] = "{\"type\":\"smeter\",\"value\":0.5}\0garbage";
        is_int(hd_owrx_handle_text(&s2, nul, sizeof nul - 1), HD_EDATA, "bytes after a NUL are not ignored");
    }

    /* binary */
    uint8_t b[8] = {1, 2, 3};
    is_int(hd_owrx_handle_binary(&st, b, 3), HD_OWRX_GOT_FFT, "type 1 is a waterfall line");
    b[0] = 2;
    is_int(hd_owrx_handle_binary(&st, b, 3), HD_OWRX_GOT_AUDIO, "type 2 is audio");
    b[0] = 9;
    is_int(hd_owrx_handle_binary(&st, b, 1), 0, "unknown types counted, not fatal");
    is_int(hd_owrx_handle_binary(&st, b, 0), HD_EDATA, "an empty binary message is refused");
    ok(st.n_fft == 1 && st.n_audio == 1 && st.n_other == 1, "frames counted per type");

    /* level series: full */
    float lv[5];
    int64_t tn[5];
    hd_owrx_levels L = {.levels = lv, .t_ns = tn, .n_levels = 5};
    is_int(hd_owrx_levels_finish(&L, 10), HD_EDATA, "no message at all is an error");
    for (int i = 0; i < 5; i++)
        ok(hd_owrx_levels_feed(&L, -50 - i, 1000000000LL + i * 100000000LL) == (i == 4), "feed level %d", i);
    is_int(hd_owrx_levels_feed(&L, 0, 0), 1, "a full series takes no more");
    is_int(hd_owrx_levels_finish(&L, 10), 0, "finish a full series");
    ok(!L.held && lv[0] == -50 && lv[4] == -54, "a full series is left as it came");
    is_double(hd_owrx_levels_rate(&L), 10.0, 1e-9, "measured message rate 10 Hz");

    hd_owrx_levels Q = {.levels = lv, .t_ns = tn, .n_levels = 5};
    is_double(hd_owrx_levels_rate(&Q), 0.0, 0, "no message: rate 0");
    hd_owrx_levels_feed(&Q, -10, 7000000000LL);
    is_double(hd_owrx_levels_rate(&Q), 0.0, 0, "one message: rate 0");
    for (int i = 1; i < 5; i++)
        hd_owrx_levels_feed(&Q, -10 - i, 7000000000LL);
    ok(isinf(hd_owrx_levels_rate(&Q)), "five messages in one read: rate infinite (a burst), not 0");

    /* level series: two messages at 0 and 0.25 s for five levels at 10 Hz */
    hd_owrx_levels H = {.levels = lv, .t_ns = tn, .n_levels = 5};
    hd_owrx_levels_feed(&H, -10, 5000000000LL);
    hd_owrx_levels_feed(&H, -20, 5250000000LL);
    is_int(hd_owrx_levels_finish(&H, 10), 0, "finish a short series");
    ok(H.held, "marked held");
    ok(lv[0] == -10 && lv[1] == -10 && lv[2] == -10 && lv[3] == -20 && lv[4] == -20,
       "sample and hold on the level grid (%g %g %g %g %g)", lv[0], lv[1], lv[2], lv[3], lv[4]);
    /* two messages arriving at once: the first levels take the first message */
    hd_owrx_levels B = {.levels = lv, .t_ns = tn, .n_levels = 4};
    hd_owrx_levels_feed(&B, -1, 7);
    hd_owrx_levels_feed(&B, -2, 7);
    hd_owrx_levels_feed(&B, -3, 7);
    is_int(hd_owrx_levels_finish(&B, 1000), 0, "burst finish");
    ok(lv[0] == -1 && lv[1] == -2 && lv[2] == -3 && lv[3] == -3, "a burst holds the newest (%g %g %g %g)", lv[0],
       lv[1], lv[2], lv[3]);

    /* issue 16: as real servers differ */
    {
        hd_owrx_state p = {0};
        is_int(txt(&p, "{\"type\":\"receiver_details\",\"value\":{\"receiver_gps\":[45.5,9.25]}}"),
               HD_OWRX_GOT_DETAILS | HD_OWRX_GOT_GPS, "receiver_gps as [lat, lon] (older servers)");
        ok(p.gps_lat == 45.5 && p.gps_lon == 9.25, "read from the list");
        is_int(txt(&p, "{\"type\":\"receiver_details\",\"value\":{\"receiver_gps\":[45.5]}}"), HD_EDATA,
               "a list of one refused");
        is_int(txt(&p, "{\"type\":\"profiles\",\"value\":[{\"id\":\"rtl|2m\",\"name\":\"2 m\"},{\"name\":\"no id\"},"
                       "{\"id\":\"rtl|70cm\",\"name\":\"70 cm\"}]}"),
               HD_OWRX_GOT_PROFILES, "profiles");
        is_int(p.n_profiles, 2, "the two with an id kept");
        is_str(p.profiles[1], "rtl|70cm", "in order");
        is_int(txt(&p, "{\"type\":\"config\",\"value\":{\"center_freq\":145000000,\"samp_rate\":2400000,"
                       "\"sdr_id\":\"rtl\",\"profile_id\":\"2m\"}}"),
               HD_OWRX_GOT_CONFIG, "a first config: no retune");
        is_str(p.current, "rtl|2m", "the running profile from sdr_id|profile_id");
        ok(hd_owrx_covers(&p, 145.5e6) && !hd_owrx_covers(&p, 433.5e6), "covers: 145.5 in, 433.5 out");
        is_int(txt(&p, "{\"type\":\"config\",\"value\":{\"waterfall_levels\":{\"min\":-90}}}"), HD_OWRX_GOT_CONFIG,
               "a partial config without the band: no retune");
        is_int(txt(&p, "{\"type\":\"config\",\"value\":{\"center_freq\":433000000}}"),
               HD_OWRX_GOT_CONFIG | HD_OWRX_GOT_RETUNE, "a new center_freq: retune");
        char m[256];
        ok(hd_owrx_select_json(&p, 1, m, sizeof m) == 0, "selectprofile message");
        is_str(m, "{\"type\":\"selectprofile\",\"params\":{\"profile\":\"rtl|70cm\"}}", "as the web client sends it");
        ok(hd_owrx_select_json(&p, 2, m, sizeof m) == HD_EINVAL, "no profile 2");
        is_int(txt(&p, "{\"type\":\"profiles\",\"value\":{}}"), HD_EDATA, "profiles that are not a list refused");
    }
    done_testing();
    return exit_status();
}
