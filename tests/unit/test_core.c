/* core: errors, RNG (Philox known answers, stream independence, moments),
 * string helpers, time, hashing, block partition. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/util.h"

#include <stdio.h>
#include <unistd.h>
#include "tap.h"

#include <stdlib.h>

static void test_philox_kat(void)
{
    /* Known-answer vectors of Random123 (kat_vectors, philox4x32 10 rounds). */
    struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < HD_ARRAY_LEN(kat); i++) {
        uint32_t out[4];
        hd_philox4x32(kat[i].ctr, kat[i].key, out);
        ok(memcmp(out, kat[i].out, sizeof out) == 0, "philox4x32-10 known answer %zu", i);
        if (memcmp(out, kat[i].out, sizeof out))
            diag("got %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    }
}

static void test_rng_streams(void)
{
    hd_rng a, b, c;
    hd_rng_init(&a, 42, 7, 3, HD_RNG_NOISE);
    hd_rng_init(&b, 42, 7, 3, HD_RNG_NOISE);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= hd_rng_u32(&a) == hd_rng_u32(&b);
    ok(same, "same key gives the same stream");

    /* a stream keyed by event 7 is the same however many other streams
     * were drawn before it (what makes 1-rank and N-rank runs identical) */
    hd_rng_init(&a, 42, 7, 3, HD_RNG_NOISE);
    for (int e = 0; e < 7; e++) {
        hd_rng_init(&c, 42, (uint32_t)e, 3, HD_RNG_NOISE);
        for (int i = 0; i < 100; i++)
            (void)hd_rng_u32(&c);
    }
    hd_rng_init(&b, 42, 7, 3, HD_RNG_NOISE);
    ok(hd_rng_u64(&a) == hd_rng_u64(&b), "a stream does not depend on other streams drawn");

    int differ = 0;
    uint32_t keys[][4] = {{43, 7, 3, HD_RNG_NOISE}, {42, 8, 3, HD_RNG_NOISE}, {42, 7, 4, HD_RNG_NOISE},
                          {42, 7, 3, HD_RNG_CHANNEL}};
    for (size_t k = 0; k < HD_ARRAY_LEN(keys); k++) {
        hd_rng_init(&a, 42, 7, 3, HD_RNG_NOISE);
        hd_rng_init(&b, keys[k][0], keys[k][1], keys[k][2], keys[k][3]);
        differ += hd_rng_u32(&a) != hd_rng_u32(&b);
    }
    is_int(differ, 4, "seed, event, receiver and purpose each change the stream");

    /* moments */
    hd_rng_init(&a, 1, 0, 0, HD_RNG_TEST);
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0, umin = 1, umax = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = hd_rng_uniform(&a);
        su += u;
        su2 += u * u;
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        double z = hd_rng_normal(&a);
        sn += z;
        sn2 += z * z;
        sn4 += z * z * z * z;
    }
    ok(umin > 0 && umax < 1, "uniform stays in (0, 1)");
    is_double(su / n, 0.5, 0.005, "uniform mean");
    is_double(su2 / n - (su / n) * (su / n), 1.0 / 12, 0.002, "uniform variance");
    is_double(sn / n, 0.0, 0.01, "normal mean");
    is_double(sn2 / n, 1.0, 0.01, "normal variance");
    is_double(sn4 / n, 3.0, 0.06, "normal fourth moment (kurtosis 3)");
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++)
        hist[hd_rng_below(&a, 7)]++;
    int okb = 1;
    for (int i = 0; i < 7; i++)
        okb &= hist[i] > 9500 && hist[i] < 10500;
    ok(okb, "rng_below(7) is uniform");
}

static void test_errors(void)
{
    int rc = hd_error(HD_EIO, "cannot open %s", "x.h5");
    is_int(rc, HD_EIO, "hd_error returns its code");
    is_str(hd_errmsg(), "cannot open x.h5", "message kept");
    hd_error_context(rc, "reading config");
    is_str(hd_errmsg(), "reading config: cannot open x.h5", "context prepended");
    is_int(hd_exit_status(HD_ECONFIG), 2, "config error exits 2");
    is_int(hd_exit_status(HD_EPARTIAL), 3, "partial exits 3");
    is_int(hd_exit_status(HD_EIO), 1, "runtime error exits 1");
    void *p = hd_calloc((size_t)1 << 62, 16);
    ok(p == NULL, "overflowing calloc fails");
    like(hd_errmsg(), "overflows", "and says why");
}

static void test_strings(void)
{
    is_int(hd_edit_distance("kitten", "sitting"), 3, "edit distance kitten/sitting");
    const char *cmds[] = {"collect", "featurize", "train", "localize", "evaluate", "info"};
    is_int(hd_closest("colect", cmds, 6), 0, "closest to colect is collect");
    is_int(hd_closest("featurise", cmds, 6), 1, "closest to featurise is featurize");
    is_int(hd_closest("zzzzzzzz", cmds, 6), -1, "nothing close to zzzzzzzz");
    char buf[4];
    is_int((int)hd_strlcpy(buf, "abcdef", sizeof buf), 6, "strlcpy returns source length");
    is_str(buf, "abc", "strlcpy truncates");
}

static void test_time_hash(void)
{
    int64_t ns = 0;
    ok(hd_time_parse_iso8601("2026-06-01T08:00:00Z", &ns) == 0, "parse ISO 8601");
    is_int(ns, 1780300800LL * 1000000000LL, "2026-06-01T08:00:00Z in Unix ns");
    ok(hd_time_parse_iso8601("1970-01-01T00:00:01.5+01:00", &ns) == 0, "parse fraction and zone");
    is_int(ns, -3598500000000LL, "zone offset applied");
    ok(hd_time_parse_iso8601("June 1st", &ns) == HD_EINVAL, "garbage refused");
    /* found by fuzz_sigmf: a year beyond int64 nanoseconds overflowed */
    ok(hd_time_parse_iso8601("6024-03-01T12:00:00Z", &ns) == HD_EINVAL, "year 6024 refused (beyond int64 ns)");
    ok(hd_time_parse_iso8601("2024-03-01T12:00:00+1:2", &ns) == 0 && ns == (1709294400LL - 3720) * 1000000000LL,
       "short zone +1:2 read as 01:02 without reading past the end (ASan)");
    char buf[40];
    hd_time_format_iso8601(1780300800123456789LL, buf);
    is_str(buf, "2026-06-01T08:00:00.123456789Z", "format with nanoseconds");
    char hex[65];
    hd_sha256_hex("abc", 3, hex);
    /* FIPS 180-2 example */
    is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
    ok(hd_sha256_file("/nonexistent/file", hex) == HD_EIO, "sha256 of a missing file fails");
}

static void test_block(void)
{
    int64_t b, e, total = 0, prev = 0;
    int contiguous = 1;
    for (int r = 0; r < 3; r++) {
        hd_par_block(10, r, 3, &b, &e);
        contiguous &= b == prev;
        prev = e;
        total += e - b;
    }
    ok(contiguous && total == 10 && prev == 10, "blocks of 10 over 3 ranks tile [0, 10)");
    hd_par_block(2, 2, 3, &b, &e);
    is_int(e - b, 0, "a rank beyond the work gets an empty block");
    is_int(hd_par_size(), 1, "world of one without MPI");
}

static void test_progress_line(void)
{
    hd_progress p;
    char line[256];
    hd_progress_start(&p, "featurize", "events", 1000, 1);
    p.done = 70; /* 7 % in 0.03 s: 0.4 s to go */
    hd_progress_format(&p, p.t_start + 0.03, 0, 0, line, sizeof line);
    like(line, "(7.0%), 2333.3 events/s, elapsed 00:00, eta 00:01", "a run with under a second to go does not show eta 00:00 at 7 %");
    p.done = 0;
    hd_progress_format(&p, p.t_start + 5, 0, 0, line, sizeof line);
    like(line, "elapsed 00:05, eta --:--", "no estimate before anything is done");
    p.done = 70;
    hd_progress_format(&p, p.t_start + 1, 1, 0, line, sizeof line);
    like(line, "elapsed 00:01, stopped", "a final line before the total says stopped, not eta 00:00");
    p.done = 1000;
    hd_progress_format(&p, p.t_start + 100, 1, 1, line, sizeof line);
    like(line, "##] 1000/1000 events 100.0% 10.0 events/s elapsed 01:40 eta 00:00", "the finished tty line");
    p.done = 500;
    hd_progress_format(&p, p.t_start + 3600, 0, 0, line, sizeof line);
    like(line, "elapsed 1:00:00, eta 1:00:00", "hours");
}

/* hd_sha256_file_start: the hash made beside the work is the file's; a file
 * changed since is hashed again */
static void test_prehash(void)
{
    char path[] = "/tmp/heimdall-prehash-XXXXXX", a[65], b[65];
    int fd = mkstemp(path);
    ok(fd >= 0, "a temporary file");
    if (fd < 0)
        return;
    static char buf[3 << 20];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 2654435761u >> 13);
    ok(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "3 MiB written");
    close(fd);
    hd_sha256_hex(buf, sizeof buf, a);
    hd_sha256_file_start(path);
    ok(hd_sha256_file(path, b) == 0, "its hash, begun in a thread, taken");
    is_str(b, a, "equals the hash of its bytes");
    FILE *f = fopen(path, "ab");
    fputs("more", f);
    fclose(f);
    ok(hd_sha256_file(path, b) == 0, "the file changed since: hashed again");
    ok(strcmp(b, a) != 0, "to its new hash");
    /* 3 MiB and 4 bytes: whole mapped windows and a short last one */
    static char buf2[(3 << 20) + 4];
    memcpy(buf2, buf, sizeof buf);
    memcpy(buf2 + sizeof buf, "more", 4);
    hd_sha256_hex(buf2, sizeof buf2, a);
    is_str(b, a, "the hash of its bytes, over windows of the mapping and a short last one");
    unlink(path);
}

int main(void)
{
    plan_no_plan();
    test_prehash();
    test_philox_kat();
    test_rng_streams();
    test_errors();
    test_strings();
    test_time_hash();
    test_block();
    test_progress_line();
    done_testing();
    return exit_status();
}
