/* net/kiwi: SND frame layout (flags, LE sequence, BE S-meter, GPS fields, BE
 * I/Q), MSG key=value handling, sequence gaps, GPS time of the first sample. */
#include "core/error.h"
#include "net/kiwi.h"
#include "net/session.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <math.h>

/* A frame built byte by byte from the layout in kiwiclient, not from kiwi.c. */
static size_t make_snd(uint8_t *b, int flags, uint32_t seq, unsigned smeter, int lgs, uint32_t sec,
                       uint32_t nsec, int pairs, int base)
{
    size_t o = 0;
    b[o++] = 'S'; b[o++] = 'N'; b[o++] = 'D';
    b[o++] = (uint8_t)flags;
    for (int i = 0; i < 4; i++) b[o++] = (uint8_t)(seq >> (8 * i));
    b[o++] = (uint8_t)(smeter >> 8); b[o++] = (uint8_t)smeter;
    b[o++] = (uint8_t)lgs; b[o++] = 0;
    for (int i = 0; i < 4; i++) b[o++] = (uint8_t)(sec >> (8 * i));
    for (int i = 0; i < 4; i++) b[o++] = (uint8_t)(nsec >> (8 * i));
    for (int k = 0; k < pairs; k++) {
        int16_t I = (int16_t)(base + k), Q = (int16_t)(-base - k);
        b[o++] = (uint8_t)((uint16_t)I >> 8); b[o++] = (uint8_t)I;
        b[o++] = (uint8_t)((uint16_t)Q >> 8); b[o++] = (uint8_t)Q;
    }
    return o;
}

int main(void)
{
    plan_no_plan();
    static uint8_t b[4096];
    hd_kiwi_snd s;

    size_t n = make_snd(b, 0, 0x01020304, 1000, 3, 345600, 123456789, 512, -300);
    is_int(n, 2068, "an IQ SND frame of 512 pairs is 2068 bytes");
    is_int(hd_kiwi_parse_snd(b, n, &s), 0, "it parses");
    ok(s.seq == 0x01020304, "sequence number is little-endian");
    is_double(s.rssi_dbm, -27.0, 1e-9, "S-meter big-endian, 0.1 dB steps minus 127");
    is_int(s.last_gps_solution, 3, "last_gps_solution");
    ok(s.gps_sec == 345600 && s.gps_nsec == 123456789, "GPS seconds and nanoseconds (little-endian)");
    is_int(s.n_pairs, 512, "512 pairs");

    is_int(hd_kiwi_parse_snd(b, 15, &s), HD_EDATA, "a truncated header is refused");
    is_int(hd_kiwi_parse_snd(b, n - 1, &s), HD_EDATA, "a partial I/Q pair is refused");
    make_snd(b, HD_KIWI_FLAG_COMPRESSED, 1, 0, 0, 0, 0, 512, 0);
    is_int(hd_kiwi_parse_snd(b, n, &s), HD_EDATA, "a compressed frame is refused in IQ mode");
    make_snd(b, 0, 1, 0, 0, 0, 1000000000u, 512, 0);
    is_int(hd_kiwi_parse_snd(b, n, &s), HD_EDATA, "nanoseconds of a whole second are refused");
    memcpy(b, "W/F", 3);
    is_int(hd_kiwi_parse_snd(b, n, &s), HD_EDATA, "a waterfall frame is not SND");

    /* capture assembly with a gap */
    int16_t iq[2 * 2048];
    hd_kiwi_capture c = {.iq = iq, .n_samples = 2048};
    int full = 0;
    uint32_t seqs[] = {7, 8, 10, 11};
    for (int k = 0; k < 4; k++) {
        n = make_snd(b, 0, seqs[k], 500, k == 0 ? 0 : k + 1, 1000 + k, 5000, 512, k * 512);
        hd_kiwi_parse_snd(b, n, &s);
        full = hd_kiwi_capture_feed(&c, &s);
    }
    ok(full && c.n_have == 2048, "four frames fill 2048 samples");
    is_int(c.gaps, 1, "one sequence gap detected");
    is_int(c.missing_frames, 1, "of one frame");
    ok(iq[0] == 0 && iq[1] == 0 && iq[2 * 511] == 511 && iq[2 * 511 + 1] == -511, "first frame's samples in order");
    ok(iq[2 * 512] == 512 && iq[2 * 512 + 1] == -512, "second frame follows");
    int zero = 1;
    for (int k = 1024; k < 1536; k++)
        zero &= iq[2 * k] == 0 && iq[2 * k + 1] == 0;
    ok(zero, "the lost frame is zero-filled so later samples keep their time");
    ok(iq[2 * 1536] == 1024, "the frame after the gap lands at sample 1536");

    /* a repeated frame (the same sequence number again, or an older one) */
    {
        int16_t iq3[2 * 1536];
        hd_kiwi_capture d = {.iq = iq3, .n_samples = 1536};
        uint32_t dseq[] = {4, 5, 5, 3, 6};
        int dfull = 0;
        for (int k = 0; k < 5; k++) {
            n = make_snd(b, 0, dseq[k], 500, 0, 1000 + k, 5000, 512, (int)(dseq[k] - 4) * 512);
            hd_kiwi_parse_snd(b, n, &s);
            dfull = hd_kiwi_capture_feed(&d, &s);
        }
        is_int(d.repeats, 2, "a repeated and an older sequence number are counted as repeats");
        is_int(d.gaps, 0, "and not as gaps");
        ok(dfull && d.n_have == 1536 && iq3[2 * 1024] == 1024, "their samples are dropped: the next frame follows");
    }
    ok(c.first_gps_sec == 1000 && c.first_gps_nsec == 5000 && c.first_last_gps == 0, "first frame's GPS kept");
    is_double(c.rssi_sum / c.n_frames, -77.0, 1e-9, "mean S-meter");

    /* GPS week seconds to event-relative time: 2026-06-01T08:00:00Z is GPS
     * week 2421, second 115218 (18 leap seconds) */
    int64_t ev = 1780300800LL * 1000000000LL;
    is_double(hd_kiwi_gps_t0(115218, 250000000, ev), 0.25, 1e-12, "GPS time 0.25 s after the event");
    is_double(hd_kiwi_gps_t0(115217, 999999999, ev), -1e-9, 1e-12, "1 ns before the event, to the nanosecond");
    is_double(hd_kiwi_gps_t0(604799, 0, ev + 115218LL * 0), -115219.0, 1e-9, "previous week's end is before");

    ok(hd_kiwi_gps_unix_ns(115218, 250000001, ev + 123456789) == ev + 250000001,
       "GPS week time to Unix ns, exactly");
    ok(hd_kiwi_gps_unix_ns(115218, 0, ev - 3LL * 86400 * 1000000000LL) == ev, "with the week taken nearest the clock");

    /* MSG */
    hd_kiwi_state st = {0};
    const char *m1 = "MSG audio_rate=12000 sample_rate=12001.135";
    int got = hd_kiwi_handle_msg(&st, m1, strlen(m1));
    ok(got == (HD_KIWI_GOT_AUDIO_RATE | HD_KIWI_GOT_SAMPLE_RATE), "audio_rate and sample_rate in one frame");
    ok(st.audio_rate == 12000 && st.sample_rate == 12001.135, "values");
    const char *m2 = "MSG too_busy=4";
    ok(hd_kiwi_handle_msg(&st, m2, strlen(m2)) == HD_KIWI_GOT_BUSY && st.too_busy == 4, "too_busy");
    ok(hd_kiwi_handle_msg(&st, "MSG badp=1", 10) == HD_KIWI_GOT_BADP, "badp=1 is a bad password");
    ok(hd_kiwi_handle_msg(&st, "MSG badp=0", 10) == HD_KIWI_GOT_AUTH_OK, "badp=0 is accepted");
    ok(hd_kiwi_handle_msg(&st, "MSG down", 8) == HD_KIWI_GOT_DOWN, "down (no value)");
    const char *m3 = "MSG redirect=ws%3A%2F%2Fother%3A8073";
    ok(hd_kiwi_handle_msg(&st, m3, strlen(m3)) == HD_KIWI_GOT_REDIRECT, "redirect");
    is_str(st.redirect, "ws://other:8073", "URL-decoded");
    const char *m4 = "MSG version_maj=1 version_min=550 extint_list_json=%5B%5D";
    ok(hd_kiwi_handle_msg(&st, m4, strlen(m4)) == HD_KIWI_GOT_VERSION && st.version_minor == 550, "version");
    const char *m5 = "MSG sample_rate=nan";
    is_int(hd_kiwi_handle_msg(&st, m5, strlen(m5)), HD_EDATA, "an absurd sample_rate is an error");
    is_int(hd_kiwi_handle_msg(&st, "SND", 3), 0, "a non-MSG frame sets nothing");

    /* as a live server sends them (Beagle_SDR_GPS): binary frames, "MSG "
     * then the parameters, no terminating NUL; several per message */
    {
        hd_kiwi_state k = {0};
        static const uint8_t bin[] = {'M', 'S', 'G', ' ', 'a', 'u', 'd', 'i', 'o', '_', 'i', 'n', 'i', 't', '=',
                                      '0', ' ', 'a', 'u', 'd', 'i', 'o', '_', 'r', 'a', 't', 'e', '=', '1', '2',
                                      '0', '0', '0'};
        ok(hd_kiwi_is_msg(bin, sizeof bin), "a binary frame tagged MSG is a message");
        ok(!hd_kiwi_is_msg((const uint8_t *)"SND\x08", 4) && !hd_kiwi_is_msg((const uint8_t *)"MS", 2),
           "SND and a short frame are not");
        ok(hd_kiwi_handle_msg(&k, (const char *)bin, sizeof bin) == HD_KIWI_GOT_AUDIO_RATE && k.audio_rate == 12000,
           "audio_init=0 audio_rate=12000 from a binary frame");
        const char *sr = "MSG sample_rate=12000.047619";
        ok(hd_kiwi_handle_msg(&k, sr, strlen(sr)) == HD_KIWI_GOT_SAMPLE_RATE && fabs(k.sample_rate - 12000.047619) < 1e-9,
           "sample_rate with six decimals");
        const char *cfg = "MSG load_cfg=%7B%22rx_name%22%3A%22x%22%2C%22pad%22%3A%22xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%22%7D";
        is_int(hd_kiwi_handle_msg(&k, cfg, strlen(cfg)), 0, "a long load_cfg is harmless");
        const char *v = "MSG version_maj=1 version_min=560 debian_ver=11 model=2 platform=0 ext_clk=0 abyy= freq_offset=0.000";
        ok(hd_kiwi_handle_msg(&k, v, strlen(v)) == HD_KIWI_GOT_VERSION && k.version_major == 1 && k.version_minor == 560,
           "the version message of a v1.5xx+ server, with its other fields");
        const char *b5 = "MSG badp=5";
        ok(hd_kiwi_handle_msg(&k, b5, strlen(b5)) == HD_KIWI_GOT_BADP && k.badp == HD_KIWI_BADP_NO_MULTIPLE_CONNS,
           "badp=5 is kept as its code");
        like(hd_kiwi_badp_text(k.badp), "one connection per address", "and named");
        is_str(hd_kiwi_badp_text(1), "wrong password", "badp=1: wrong password");
        like(hd_kiwi_badp_text(3), "not allowed", "badp=3: not allowed from this address");
        const char *dn = "MSG reason_disabled=antenna%20work%2C%20back%20Monday down=0";
        ok(hd_kiwi_handle_msg(&k, dn, strlen(dn)) == HD_KIWI_GOT_DOWN && k.down == 0, "reason_disabled … down=0");
        is_str(k.reason, "antenna work, back Monday", "the reason, URL-decoded");
        const char *up = "MSG reason_disabled= down=1";
        ok(hd_kiwi_handle_msg(&k, up, strlen(up)) == HD_KIWI_GOT_DOWN && k.down == 1 && !k.reason[0], "down=1: updating");
        const char *ia = "MSG inactivity_timeout=30";
        ok(hd_kiwi_handle_msg(&k, ia, strlen(ia)) == HD_KIWI_GOT_ENDED, "inactivity_timeout ends the session");
        like(k.ended, "inactivity timeout after 30 min", "with the minutes");
        const char *ipl = "MSG ip_limit=60%2C10.0.0.2";
        ok(hd_kiwi_handle_msg(&k, ipl, strlen(ipl)) == HD_KIWI_GOT_ENDED, "ip_limit ends it");
        like(k.ended, "60,10.0.0.2", "with the limit and the address");
        ok(hd_kiwi_handle_msg(&k, "MSG password_timeout", 20) == HD_KIWI_GOT_ENDED, "password_timeout ends it");
        const char *kick = "MSG kiwi_kick=1%2Cmaintenance";
        ok(hd_kiwi_handle_msg(&k, kick, strlen(kick)) == HD_KIWI_GOT_ENDED && strstr(k.ended, "maintenance"),
           "kiwi_kick ends it, with the admin's text");
        const char *rd = "MSG redirect=http%3A%2F%2Fother.example.org%3A8073%2F";
        ok(hd_kiwi_handle_msg(&k, rd, strlen(rd)) == HD_KIWI_GOT_REDIRECT, "redirect");
        is_str(k.redirect, "http://other.example.org:8073/", "to where");
    }

    /* a live server's first SND frame: no time stamp, stale samples */
    {
        int16_t iq2[2 * 1024];
        hd_kiwi_capture k = {.iq = iq2, .n_samples = 1024, .skip_first = 1};
        n = make_snd(b, 0x08, 1, 500, 0, 0, 0, 512, 9000);
        hd_kiwi_parse_snd(b, n, &s);
        ok(hd_kiwi_capture_feed(&k, &s) == 0 && k.n_have == 0 && k.n_skipped == 1, "the first frame is dropped");
        n = make_snd(b, 0x08, 2, 500, 0, 345600, 5000, 512, 0);
        hd_kiwi_parse_snd(b, n, &s);
        hd_kiwi_capture_feed(&k, &s);
        n = make_snd(b, 0x08, 3, 500, 0, 345600, 42671667, 512, 512);
        hd_kiwi_parse_snd(b, n, &s);
        ok(hd_kiwi_capture_feed(&k, &s) == 1 && k.n_have == 1024, "the next two fill the capture");
        ok(k.first_gps_sec == 345600 && k.first_gps_nsec == 5000, "the time stamp is the second frame's");
        ok(iq2[0] == 0 && iq2[2 * 1023] == 1023, "and so are the samples");
        is_int(k.gaps, 0, "no gap counted for the dropped frame");
        ok((s.flags & 0x08) && hd_kiwi_parse_snd(b, n, &s) == 0, "the IQ-mode flag (0x08) is accepted");
    }
    /* the server a url names: one connection per server */
    char sv[128];
    is_int(hd_net_url_server("ws://Kiwi.Example.org:8073/", sv, sizeof sv), 0, "ws url parsed");
    is_str(sv, "kiwi.example.org:8073", "host in lower case with its port");
    hd_net_url_server("wss://kiwi.example.org/ws/", sv, sizeof sv);
    is_str(sv, "kiwi.example.org:443", "wss without a port: 443");
    hd_net_url_server("http://user@10.0.0.2:8073?x=1", sv, sizeof sv);
    is_str(sv, "10.0.0.2:8073", "user info and query dropped");
    hd_net_url_server("ws://[::1]:8074/ws/", sv, sizeof sv);
    is_str(sv, "[::1]:8074", "IPv6 literal kept whole");
    is_int(hd_net_url_server("ws:///SND", sv, sizeof sv), HD_ECONFIG, "a url without a host is an error");
    is_int(hd_net_url_server("ws://host:1", sv, 4), HD_ECONFIG, "too small an output is an error, not a truncation");
    /* /status: a page as a KiwiSDR v1.6xx serves it (layout from the server's
     * status handler), CRLF or LF lines, unknown keys ignored */
    {
        const char *page = "status=active\nauth=password\noffline=no\nname=Test Kiwi\n"
                           "sdr_hw=KiwiSDR 2 v1.665 GPS \nop_email=\nbands=0-30000000\nfreq_offset=0.000\n"
                           "users=3\r\nusers_max=8\nextra=1\navatar_ctime=0\ngps=(45.020000, 7.290000)\n"
                           "grid=JN35\ngps_good=7\nfixes=123456\nfixes_min=42\nfixes_hour=2500\nasl=600\n"
                           "loc=Giaveno\x1b[2J, Italy\nsw_version=KiwiSDR_v1.665\nantenna=T2FD\nsnr=20,18\n";
        hd_kiwi_status ks;
        is_int(hd_kiwi_parse_status(page, strlen(page), &ks), 0, "status: a full page parses");
        ok(ks.users == 3 && ks.users_max == 8, "status: users 3 of 8 (CRLF line too)");
        ok(ks.has_position && fabs(ks.lat - 45.02) < 1e-12 && fabs(ks.lon - 7.29) < 1e-12, "status: gps=(lat, lon)");
        ok(ks.gps_good == 7 && ks.fixes == 123456 && ks.fixes_min == 42, "status: gps_good, fixes, fixes_min");
        ok(ks.version_major == 1 && ks.version_minor == 665, "status: sw_version 1.665");
        ok(ks.auth_password && !ks.offline && ks.asl_m == 600, "status: auth=password, online, asl");
        ok(strchr(ks.loc, 0x1b) == NULL && strstr(ks.loc, "Giaveno") != NULL, "status: control bytes in loc replaced");
        const char *off = "status=offline\nusers=0\nusers_max=4\ngps=\n";
        is_int(hd_kiwi_parse_status(off, strlen(off), &ks), 0, "status: offline page");
        ok(ks.offline && !ks.has_position && ks.gps_good == -1 && ks.version_major == -1, "status: offline, unknowns stay -1");
        /* hostile pages */
        const char *bad[] = {"users=-1\n", "users=99999999999999999999\n", "users_max=4x\n", "users=\n",
                             "gps=(91, 7)\n", "gps=(45, nan)\n", "gps=(45 7)\n", "gps=(45, 7) trailing\n",
                             "fixes=-3\n", "gps_good=1e9\n", "<html><body>404 Not Found</body></html>",
                             "", "=\n=\n==\n", "sw_version=KiwiSDR_v99999999999999999999.1\nusers=\n"};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
            ok(hd_kiwi_parse_status(bad[k], strlen(bad[k]), &ks) == HD_EDATA, "status: hostile page %zu refused", k);
        const char nul[] = "users=1\0\nusers_max=2\n";
        is_int(hd_kiwi_parse_status(nul, sizeof nul - 1, &ks), HD_EDATA, "status: a NUL byte in a value refused");
        size_t big = HD_KIWI_STATUS_MAX + 1;
        char *huge = malloc(big);
        memset(huge, 'a', big);
        is_int(hd_kiwi_parse_status(huge, big, &ks), HD_EDATA, "status: a page beyond 64 KiB refused");
        memset(huge, '=', big);   /* within the limit, all separators: no key */
        is_int(hd_kiwi_parse_status(huge, HD_KIWI_STATUS_MAX, &ks), HD_EDATA, "status: 64 KiB of '=' refused (no key)");
        free(huge);
        const char *vlong = "users=1\nsw_version=KiwiSDR_v99999999999999999999.1\n";
        is_int(hd_kiwi_parse_status(vlong, strlen(vlong), &ks), 0, "status: an absurd version is unknown, not fatal");
        ok(ks.version_major == -1, "status: absurd version left unknown");
    }
    done_testing();
    return exit_status();
}
