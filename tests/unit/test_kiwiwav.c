/* formats/kiwiwav: encode/parse round trip, the messy files of the field
 * (zero or stale first stamp, last_gps_solution counting between fixes,
 * a true sample rate off the header, a drifting clock), names, GPS week
 * time, gnss_pos files, and malformed input refused with a reason. */
#include "core/error.h"
#include "core/util.h"
#include "formats/kiwiwav.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n samples, stamps from a true rate and start (GPS s of week); a fresh fix
 * every `fix_every` blocks, last_gps_solution counting up in between */
static hd_kiwi_block *make_stamps(int64_t n, double true_rate, double t0, int fix_every)
{
    int nb = (int)((n + HD_KIWI_BLOCK - 1) / HD_KIWI_BLOCK);
    hd_kiwi_block *s = calloc((size_t)nb, sizeof *s);
    for (int k = 0; k < nb; k++) {
        double t = t0 + (double)k * HD_KIWI_BLOCK / true_rate;
        s[k].gps_sec = (uint32_t)floor(t);
        s[k].gps_nsec = (uint32_t)llround((t - floor(t)) * 1e9);
        if (s[k].gps_nsec >= 1000000000u) {
            s[k].gps_sec++;
            s[k].gps_nsec -= 1000000000u;
        }
        s[k].last_gps_solution = (uint8_t)(k % fix_every);
    }
    return s;
}

static int16_t *make_iq(int64_t n)
{
    int16_t *iq = malloc((size_t)n * 4);
    for (int64_t i = 0; i < 2 * n; i++)
        iq[i] = (int16_t)((i * 7919) % 65536 - 32768);
    return iq;
}

static int parse_bytes(hd_kiwiwav *w, const unsigned char *b, size_t len)
{
    return hd_kiwiwav_parse(w, b, len);
}

static void test_round_trip(void)
{
    int64_t n = 512 * 20 + 100;
    int16_t *iq = make_iq(n);
    hd_kiwi_block *st = make_stamps(n, 12001.0, 345600.25, 1);
    unsigned char *buf;
    size_t len;
    ok(hd_kiwiwav_encode(12001, iq, n, st, &buf, &len) == 0, "encode");
    is_int(buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t)buf[7] << 24, len - 8, "RIFF size is the file size - 8");
    hd_kiwiwav w;
    ok(parse_bytes(&w, buf, len) == 0, "parse what was encoded");
    is_int(w.n_samples, n, "sample count");
    is_int(w.n_blocks, 21, "one kiwi chunk per 512-sample data chunk (last one short)");
    ok(memcmp(w.iq, iq, (size_t)n * 4) == 0, "samples identical");
    is_int(w.header_rate_hz, 12001, "header rate");
    is_int(w.n_fit, 21, "every stamp fresh and used");
    is_double(w.fit_rate_hz, 12001.0, 1e-4, "fitted rate");
    is_double(w.fit_t0_gps_s, 345600.25, 1e-9, "fitted start");
    ok(w.fit_rms_s < 1e-9, "residual below 1 ns");
    hd_kiwiwav_release(&w);
    free(buf);
    free(iq);
    free(st);
}

static void test_messy(void)
{
    /* 10 s at a true 12001.2 Hz, header 12001; fresh fix every 5 blocks,
     * last_gps_solution counting 1..4 in between; first stamp zero */
    int64_t n = 120012;
    int16_t *iq = make_iq(n);
    hd_kiwi_block *st = make_stamps(n, 12001.2, 100000.5, 5);
    st[0].gps_sec = 0;
    st[0].gps_nsec = 0;
    unsigned char *buf;
    size_t len;
    hd_kiwiwav w;
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    ok(parse_bytes(&w, buf, len) == 0, "messy file parses");
    is_double(w.fit_rate_hz, 12001.2, 1e-3, "true rate 12001.2 Hz recovered against a 12001 header");
    is_double(w.fit_t0_gps_s, 100000.5, 2e-9, "start recovered despite a zero first stamp");
    int fresh = 0;
    for (int k = 0; k < w.n_blocks; k++)
        fresh += w.blocks[k].last_gps_solution == 0;
    is_int(w.n_fit, fresh - 1, "only fresh nonzero stamps fitted (counting ones skipped)");
    hd_kiwiwav_release(&w);
    free(buf);

    /* stale first stamp, flagged fresh: 3 s old */
    st[0].gps_sec = 99997;
    st[0].gps_nsec = 500000000;
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    ok(parse_bytes(&w, buf, len) == 0, "stale first stamp parses");
    is_int(w.n_rejected, 1, "the stale stamp is rejected");
    is_double(w.fit_t0_gps_s, 100000.5, 2e-9, "start unaffected by the stale stamp");
    is_double(w.fit_rate_hz, 12001.2, 1e-3, "rate unaffected by the stale stamp");
    hd_kiwiwav_release(&w);
    free(buf);
    free(st);

    /* a station whose clock drifts 300 ppm: kept, with its rate */
    st = make_stamps(n, 12001 * (1 + 300e-6), 5000.0, 3);
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    ok(parse_bytes(&w, buf, len) == 0, "drifting station is kept");
    is_double(w.fit_rate_hz, 12001 * (1 + 300e-6), 1e-3, "its drifting rate is measured");
    hd_kiwiwav_release(&w);
    free(buf);
    free(st);

    /* no fresh stamp at all: header rate, no fit */
    st = make_stamps(n, 12001, 5000.0, 1000);
    for (int k = 0; k < (int)((n + 511) / 512); k++)
        st[k].last_gps_solution = (uint8_t)(k + 1);
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    ok(parse_bytes(&w, buf, len) == 0 && w.n_fit == 0 && w.fit_rate_hz == 12001, "no GPS fix: header rate, n_fit 0");
    hd_kiwiwav_release(&w);
    free(buf);
    free(st);
    free(iq);
}

static void test_malformed(void)
{
    int64_t n = 2048;
    int16_t *iq = make_iq(n);
    hd_kiwi_block *st = make_stamps(n, 12001, 1000, 1);
    unsigned char *buf;
    size_t len;
    hd_kiwiwav w;
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    unsigned char *b = malloc(len);

    memcpy(b, buf, len);
    ok(parse_bytes(&w, b, len - 100) == HD_EFORMAT, "truncated file refused");
    like(hd_errmsg(), "truncated", "truncated: the message says so");

    memcpy(b, buf, len);
    b[36 + 4] = 11; /* first kiwi chunk size */
    ok(parse_bytes(&w, b, len) == HD_EFORMAT, "kiwi chunk of 11 bytes refused");
    like(hd_errmsg(), "10 expected", "wrong kiwi size named");

    memcpy(b, buf, len);
    b[36 + 18 + 4] = 0xff, b[36 + 18 + 5] = 0xff, b[36 + 18 + 6] = 0xff, b[36 + 18 + 7] = 0x7f;
    ok(parse_bytes(&w, b, len) == HD_EFORMAT, "absurd data chunk size refused");
    like(hd_errmsg(), "only", "absurd size: remaining bytes named");

    memcpy(b, buf, len);
    b[36 + 18 + 4] = 2; /* data of 2050 bytes: not whole pairs and misaligned */
    b[36 + 18 + 5] = 8;
    ok(parse_bytes(&w, b, len) == HD_EFORMAT, "data chunk size not whole I/Q pairs refused");

    memcpy(b, buf, len);
    memcpy(b + 36, "junk", 4); /* the first kiwi chunk renamed */
    ok(parse_bytes(&w, b, len) == HD_EFORMAT, "data chunk without kiwi chunk refused");
    like(hd_errmsg(), "no kiwi chunk", "missing kiwi chunk named");

    memcpy(b, buf, len);
    b[22] = 1; /* mono */
    ok(parse_bytes(&w, b, len) == HD_EFORMAT, "mono fmt refused");

    /* fresh stamps going backwards (two 4-sample blocks, the second stamped
     * 1 us before the first): refused, and nothing leaks (the fuzzer found a
     * leak on this path) */
    {
        unsigned char bb[12 + 24 + 2 * (18 + 8 + 16)];
        size_t o = 0;
        memcpy(bb, "RIFF", 4);
        bb[4] = sizeof bb - 8, bb[5] = bb[6] = bb[7] = 0;
        memcpy(bb + 8, "WAVEfmt ", 8);
        const unsigned char fmt[] = {16, 0, 0, 0, 1, 0, 2, 0, 0xe1, 0x2e, 0, 0, 0x84, 0xbb, 0, 0, 4, 0, 16, 0};
        memcpy(bb + 16, fmt, sizeof fmt);
        o = 36;
        for (int k = 0; k < 2; k++) {
            const unsigned char kiwi[] = {'k', 'i', 'w', 'i', 10, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0,
                                          (unsigned char)(k ? 0 : 0xe8), (unsigned char)(k ? 0 : 3), 0, 0};
            memcpy(bb + o, kiwi, sizeof kiwi);
            o += sizeof kiwi;
            memcpy(bb + o, "data\x10\0\0\0", 8);
            o += 8;
            memset(bb + o, k, 16);
            o += 16;
        }
        ok(o == sizeof bb && parse_bytes(&w, bb, sizeof bb) == HD_EDATA, "time stamps going backwards refused");
        like(hd_errmsg(), "do not increase", "backwards stamps: the message says so");
    }

    ok(parse_bytes(&w, (const unsigned char *)"RIFX", 4) == HD_EFORMAT, "4 bytes refused");
    ok(parse_bytes(&w, b, 0) == HD_EFORMAT, "empty input refused");
    memcpy(b, buf, 44); /* header and fmt only, RIFF size fixed to match */
    b[4] = 36 - 0, b[5] = b[6] = b[7] = 0;
    ok(parse_bytes(&w, b, 44) == HD_EFORMAT, "no data refused");
    free(b);
    free(buf);
    free(st);
    free(iq);
}

static void test_names_and_time(void)
{
    int64_t t;
    double f;
    char stn[64];
    ok(hd_kiwiwav_name_parse("/x/20240131T235959Z_7100000_my_kiwi_iq.wav", &t, &f, stn, sizeof stn) == 0,
       "name parses");
    is_int(t, 1706745599LL * 1000000000LL, "name time");
    is_double(f, 7100000, 0, "name frequency");
    is_str(stn, "my_kiwi", "station with underscores");
    ok(hd_kiwiwav_name_parse("20240131T2359Z_7100000_a_iq.wav", &t, &f, stn, sizeof stn) == HD_EFORMAT,
       "bad name refused");
    char name[128];
    hd_kiwiwav_name_format(name, sizeof name, 1706745599LL * 1000000000LL + 5, 7100000, "my_kiwi");
    is_str(name, "20240131T235959Z_7100000_my_kiwi_iq.wav", "name formatted");

    /* GPS week seconds: 2024-01-31T23:59:59Z is GPS week 2299 */
    int64_t u = 1706745599LL * 1000000000LL + 123456789;
    uint32_t s, ns;
    hd_unix_ns_to_gps_week(u, &s, &ns);
    is_int(s, (1706745599LL - 315964800 + 18) % 604800, "GPS seconds of week (18 leap seconds)");
    is_int(ns, 123456789, "GPS ns");
    is_int(hd_gps_week_to_unix_ns(s + 1e-9 * ns, u - 30000000000LL), u, "and back (near time 30 s early)");
    /* across a week boundary: near time just before the week ends */
    is_int(hd_gps_week_to_unix_ns(2.0, (315964800LL - 18 + 2300LL * 604800 - 5) * 1000000000LL),
           (315964800LL - 18 + 2300LL * 604800 + 2) * 1000000000LL, "week boundary: next week chosen");
}

static void test_gnss_pos(void)
{
    double la = 0, lo = 0;
    const char *txt = "d.other = struct('coord',[1,2],'host','a','port',8073);\n"
                      "d.kiwi1 = struct('coord',[45.0703,7.6869],'host','kiwi.example','port',8073);\n";
    ok(hd_kiwi_gnss_pos_parse(txt, "kiwi1", &la, &lo) == 0, "gnss_pos line parses");
    is_double(la, 45.0703, 1e-12, "latitude");
    is_double(lo, 7.6869, 1e-12, "longitude");
    ok(hd_kiwi_gnss_pos_parse(txt, "kiwi", &la, &lo) == HD_ENOTFOUND, "a prefix of a name does not match");
    ok(hd_kiwi_gnss_pos_parse("d.kiwi1 = struct('coord',[x,y]);", "kiwi1", &la, &lo) == HD_ENOTFOUND,
       "bad coordinates refused");
    ok(hd_kiwi_gnss_pos_parse("d.kiwi1 = struct('coord',[45,-305]);", "kiwi1", &la, &lo) == 0 && fabs(lo - 55) < 1e-12,
       "a longitude west of -180 wraps like one east of 180 (-305 is 55; found by fuzz_gnss_pos)");
}

int main(void)
{
    plan_no_plan();
    test_round_trip();
    test_messy();
    test_malformed();
    test_names_and_time();
    test_gnss_pos();
    done_testing();
    return exit_status();
}
