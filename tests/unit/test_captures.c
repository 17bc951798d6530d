/* capture: the captures.h5 schema written and read back field by field,
 * and a captures reader refusing files of another format. */
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "h5/h5.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define E 5
#define R 3
#define N 64
#define L 4

int main(void)
{
    plan_no_plan();
    char dir[] = "/tmp/hd-test-captures.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256], other[256];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    snprintf(other, sizeof other, "%s/f.h5", dir);

    hd_station st[R] = {0};
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        snprintf(st[r].name, sizeof st[r].name, "Receiver %d", r);
        st[r].lat = 45 + r * 0.1;
        st[r].lon = 7.5 - r * 0.2;
        st[r].alt_m = 100 * r;
        st[r].driver = r == 2 ? HD_DRIVER_OPENWEBRX : HD_DRIVER_KIWISDR;
        st[r].clock = r == 1 ? HD_CLOCK_FREE : HD_CLOCK_GPS;
        st[r].sample_rate_hz = 24000;
    }
    hd_event ev[E] = {0};
    hd_link lk[E * R] = {0};
    int16_t *iq = calloc(E * R * N * 2, sizeof *iq);
    float *lv = calloc(E * R * L, sizeof *lv);
    for (int e = 0; e < E; e++) {
        ev[e].index = 10 + e;
        ev[e].time_ns = 1780300800000000000LL + e * 30000000000LL;
        ev[e].frequency_hz = 145.5e6 + e;
        ev[e].sample_rate_hz = 24000;
        ev[e].level_rate_hz = 10;
        ev[e].truth.lat = 45.1 + e * 0.01;
        ev[e].truth.lon = 7.7;
        ev[e].truth.signal_type = e % 3;
        for (int r = 0; r < R; r++) {
            hd_link *l = &lk[e * R + r];
            l->status = (e + r) % 4 == 0 ? HD_RX_BUSY : HD_RX_OK;
            l->has_iq = r != 2;
            l->has_levels = r == 2;
            l->gps_ok = r == 0;
            l->t0_s = 0.001 * e + 1e-9 * r;
            l->truth.snr_db = 10.5 + r;
            l->truth.arrival_s = 1e-4 * (e + 1) * (r + 1);
            l->gain_db = 20.25f;
        }
    }
    for (int i = 0; i < E * R * N * 2; i++)
        iq[i] = (int16_t)((i * 37) % 65535 - 32767);
    for (int i = 0; i < E * R * L; i++)
        lv[i] = -40.0f + (float)i;

    hd_h5_out out;
    hd_captures_writer w;
    int rc = hd_h5_create(&out, path, 0, MPI_COMM_NULL);
    ok(rc == 0, "create");
    rc = hd_captures_write_receivers(out.file, st, R);
    ok(rc == 0, "receivers written");
    rc = hd_captures_create(&w, out.file, E, R, N, L, 4, HD_CAPTURES_TRUTH | HD_CAPTURES_BULK);
    ok(rc == 0, "datasets created");
    /* two blocks, as two ranks or two batches would */
    rc = hd_captures_write_block(&w, 0, 2, ev, lk, iq, lv);
    rc |= hd_captures_write_block(&w, 2, 3, ev + 2, lk + 2 * R, iq + 2 * R * N * 2, lv + 2 * R * L);
    ok(rc == 0, "blocks written");
    hd_captures_close(&w);
    hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                             .command_line = "test", .config_yaml = "seed: 1\n"};
    ok(hd_h5_write_provenance(&out, &prov) == 0, "provenance");
    ok(hd_h5_commit(&out) == 0, "commit");

    hd_captures_reader rd;
    rc = hd_captures_open(&rd, path, MPI_COMM_NULL);
    ok(rc == 0, "reopen: %s", rc ? hd_errmsg() : "ok");
    if (rc == 0) {
        is_int(rd.n_events, E, "events");
        is_int(rd.n_receivers, R, "receivers");
        is_int(rd.n_samples, N, "samples");
        is_int(rd.n_levels, L, "levels");
        ok(rd.has_truth, "truth present");
        is_str(rd.stations[1].id, "rx1", "station id");
        is_str(rd.stations[2].name, "Receiver 2", "station name");
        is_double(rd.stations[2].lon, 7.1, 1e-12, "station lon");
        is_int(rd.stations[2].driver, HD_DRIVER_OPENWEBRX, "station driver");
        is_int(rd.stations[1].clock, HD_CLOCK_FREE, "station clock");

        hd_event ev2[E];
        hd_link lk2[E * R];
        int16_t *iq2 = calloc(E * R * N * 2, sizeof *iq2);
        float *lv2 = calloc(E * R * L, sizeof *lv2);
        rc = hd_captures_read_block(&rd, 1, 4, ev2, lk2, iq2, lv2);
        ok(rc == 0, "read block [1, 5)");
        int evok = 1, lkok = 1;
        for (int e = 0; e < 4; e++) {
            evok &= ev2[e].index == ev[e + 1].index && ev2[e].time_ns == ev[e + 1].time_ns &&
                    ev2[e].frequency_hz == ev[e + 1].frequency_hz && ev2[e].truth.lat == ev[e + 1].truth.lat &&
                    ev2[e].truth.signal_type == ev[e + 1].truth.signal_type;
            for (int r = 0; r < R; r++) {
                const hd_link *a = &lk[(e + 1) * R + r], *b = &lk2[e * R + r];
                lkok &= a->status == b->status && a->has_iq == b->has_iq && a->gps_ok == b->gps_ok &&
                        a->t0_s == b->t0_s && a->truth.snr_db == b->truth.snr_db && a->truth.arrival_s == b->truth.arrival_s &&
                        fabs(a->gain_db - b->gain_db) < 1e-6;
            }
        }
        ok(evok, "event fields round-trip");
        ok(lkok, "link fields round-trip (t0_s and truth bit-exact)");
        ok(memcmp(iq2, iq + 1 * R * N * 2, 4 * R * N * 2 * sizeof *iq) == 0, "IQ round-trips");
        ok(memcmp(lv2, lv + 1 * R * L, 4 * R * L * sizeof *lv) == 0, "levels round-trip");
        ok(rd.iq_direct == 2 && rd.iq_chunk == 5, "the IQ read directly, checksums checked (one chunk of %d events)", rd.iq_chunk);
        ok(hd_captures_read_block(&rd, 3, 3, ev2, NULL, NULL, NULL) == HD_EINVAL, "reading past the end refused");
        free(iq2);
        free(lv2);
        hd_captures_release(&rd);
    }

    /* chunks of several events (about 1 MiB each: here 3 events of 3
     * receivers x 29,000 samples), written in blocks that cut them, read
     * directly in any order: each event's samples as written */
    {
        enum { E3 = 8, R3 = 3, N3 = 29000 };
        is_int(hd_captures_chunk_events(E3, R3, N3), 3, "3 events per /iq chunk of about 1 MiB");
        is_int(hd_captures_chunk_events(2, R3, N3), 2, "never more than the events");
        is_int(hd_captures_chunk_events(100000, 1, 1), 1024, "at most 1024");
        is_int(hd_captures_chunk_events(5, 64, 10000000), 1, "at least 1");
        size_t per = (size_t)R3 * N3 * 2;
        int16_t *big = malloc(E3 * per * sizeof *big), *back = calloc(E3 * per, sizeof *back);
        hd_event ev3[E3];
        hd_link lk3[E3 * R3];
        memset(ev3, 0, sizeof ev3);
        memset(lk3, 0, sizeof lk3);
        for (int e = 0; e < E3; e++) {
            ev3[e].index = e;
            ev3[e].n_samples = N3;
            ev3[e].n_levels = 1;
            for (int r = 0; r < R3; r++)
                lk3[e * R3 + r].rx = r;
        }
        for (size_t i = 0; i < E3 * per; i++)
            big[i] = (int16_t)((i * 7919 + i / per) % 65521 - 32760);
        float lv3[E3 * R3];
        for (int i = 0; i < E3 * R3; i++)
            lv3[i] = (float)i;
        rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
        rc = rc ? rc : hd_captures_write_receivers(out.file, st, R3);
        rc = rc ? rc : hd_captures_create(&w, out.file, E3, R3, N3, 1, 1, HD_CAPTURES_BULK);
        int cuts[] = {0, 2, 5, 6, E3}; /* blocks [0,2) [2,5) [5,6) [6,8): every chunk cut */
        for (int b = 0; rc == 0 && b < 4; b++)
            rc = hd_captures_write_block(&w, cuts[b], cuts[b + 1] - cuts[b], ev3 + cuts[b], lk3 + cuts[b] * R3,
                                         big + cuts[b] * per, lv3 + cuts[b] * R3);
        hd_captures_close(&w);
        rc = rc ? rc : hd_h5_write_provenance(&out, &prov);
        rc = rc ? rc : hd_h5_commit(&out);
        ok(rc == 0, "a file of 8 events in chunks of 3, written in 4 blocks: %s", rc ? hd_errmsg() : "ok");
        rc = hd_captures_open(&rd, path, MPI_COMM_NULL);
        int same = rc == 0;
        /* backwards, across chunk edges, one event twice */
        int reads[][2] = {{7, 1}, {4, 3}, {0, 4}, {3, 1}};
        for (int k = 0; same && k < 4; k++) {
            memset(back, 0, E3 * per * sizeof *back);
            same = hd_captures_read_block(&rd, reads[k][0], reads[k][1], ev3, NULL, back, NULL) == 0 &&
                   memcmp(back, big + reads[k][0] * per, (size_t)reads[k][1] * per * sizeof *back) == 0;
        }
        ok(same, "events [7,8) [4,7) [0,4) [3,4) read back exactly");
        is_int(rc == 0 ? rd.iq_chunk : -1, 3, "read directly in chunks of 3");
        is_int(rc == 0 ? rd.iq_direct : -1, 2, "checksums checked");
        if (rc == 0)
            hd_captures_release(&rd);
        free(big);
        free(back);
    }

    /* a file of another format is refused by the captures reader */
    ok(hd_h5_create(&out, other, 0, MPI_COMM_NULL) == 0, "create a features-format file");
    hd_h5_provenance fprov = {.format = HD_FORMAT_FEATURES, .version = 1, .command_line = "t", .config_yaml = ""};
    hd_h5_write_provenance(&out, &fprov);
    hd_h5_commit(&out);
    rc = hd_captures_open(&rd, other, MPI_COMM_NULL);
    is_int(rc, HD_EFORMAT, "features file refused as captures");
    like(hd_errmsg(), "not a heimdall captures file", "with a clear message");

    free(iq);
    free(lv);
    unlink(path);
    unlink(other);
    rmdir(dir);
    done_testing();
    return exit_status();
}
