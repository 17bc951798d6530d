/* features: the features.h5 schema written and read back, and a features
 * reader refusing a captures file and a file with a foreign feature list. */
#include "capture/captures.h"
#include "core/error.h"
#include "features/features.h"
#include "h5/h5.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define E 4
#define R 3
#define P 3
#define F HD_FEAT_COUNT

static int write_file(const char *path, const hd_station *st, const hd_event *ev, const hd_link *lk,
                      const float *feat, const uint8_t *mask, const double *delay, const double *sigma,
                      const float *psr, const uint8_t *tmask)
{
    hd_h5_out out;
    hd_features_writer w;
    int rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    if ((rc = hd_captures_write_receivers(out.file, st, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, E, R, 1, 0, 0, 0)) < 0) {
        hd_h5_abort(&out);
        return rc;
    }
    rc = hd_features_write_block(&w, 0, E, ev, lk, feat, mask, delay, sigma, psr, tmask, NULL);
    hd_features_close(&w);
    hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION, .command_line = "test",
                             .config_yaml = "seed: 1\n"};
    if (rc < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0) {
        hd_h5_abort(&out);
        return rc;
    }
    return hd_h5_commit(&out);
}

int main(void)
{
    plan_no_plan();
    /* the dense datasets' chunk: ~1 MiB of rows in whole 64s, 64 to 1,024 */
    {
        int c7 = hd_features_chunk_events(1000000, 7, 0, 0), c64 = hd_features_chunk_events(1000000, 64, 0, 0);
        ok(c7 > 64 && c7 <= 1024 && c7 % 64 == 0, "7 receivers: chunks of %d events (whole 64s, more than 64)", c7);
        ok(c64 == 64, "64 receivers (2,016 pairs a row): chunks of 64 events (%d)", c64);
        is_int(hd_features_chunk_events(1000000, 7, 100, 64), 64, "with a log-mel of 100 x 64 a receiver: 64 events");
        is_int(hd_features_chunk_events(1000000, 2, 0, 0), 1024, "2 receivers: at most 1,024 events");
        is_int(hd_features_chunk_events(10, 7, 0, 0), 10, "a file of 10 events: one chunk of 10");
        is_int(hd_features_chunk_events(0, 7, 0, 0), 1, "an empty file: 1 (a valid chunk)");
    }
    char dir[] = "/tmp/hd-test-features.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/f.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);

    hd_station st[R] = {0};
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = 45 + 0.1 * r;
        st[r].lon = 7.5;
        st[r].clock = HD_CLOCK_GPS;
    }
    hd_event ev[E] = {0};
    hd_link lk[E * R] = {0};
    float feat[E * R * F], psr[E * P];
    uint8_t mask[E * R], tmask[E * P];
    double delay[E * P], sigma[E * P];
    for (int e = 0; e < E; e++) {
        ev[e].index = e;
        ev[e].sample_rate_hz = 24000;
        ev[e].truth.lat = 45.05 + 0.01 * e;
        ev[e].truth.lon = 7.6;
        for (int r = 0; r < R; r++) {
            lk[e * R + r].status = HD_RX_OK;
            lk[e * R + r].gps_ok = 1;
            lk[e * R + r].truth.arrival_s = 1e-4 * (r + 1);
            mask[e * R + r] = (e + r) % 3 != 0;
            for (int k = 0; k < F; k++)
                feat[(e * R + r) * F + k] = (float)(e * 100 + r * 10 + k);
        }
        for (int p = 0; p < P; p++) {
            delay[e * P + p] = 1e-5 * (e + 1) * (p + 1);
            sigma[e * P + p] = 1e-7 * (p + 1);
            psr[e * P + p] = 20.0f + p;
            tmask[e * P + p] = (e + p) % 2;
        }
    }
    ok(write_file(path, st, ev, lk, feat, mask, delay, sigma, psr, tmask) == 0, "features file written");

    hd_features_reader rd;
    ok(hd_features_open(&rd, path, MPI_COMM_NULL) == 0, "features file opens");
    is_int((int)rd.meta.n_events, E, "events");
    is_int(rd.meta.n_receivers, R, "receivers");
    is_int(rd.n_pairs, P, "pairs");
    ok(rd.meta.has_truth, "truth present");
    ok(strcmp(rd.meta.stations[1].id, "rx1") == 0 && fabs(rd.meta.stations[2].lat - 45.2) < 1e-12, "receivers table");
    hd_event ev2[2];
    hd_link lk2[2 * R];
    float feat2[2 * R * F], psr2[2 * P];
    uint8_t mask2[2 * R], tmask2[2 * P];
    double delay2[2 * P], sigma2[2 * P];
    ok(hd_features_read_block(&rd, 1, 2, ev2, lk2, feat2, mask2, delay2, sigma2, psr2, tmask2) == 0, "block read");
    ok(ev2[1].index == 2 && fabs(ev2[1].truth.lat - ev[2].truth.lat) < 1e-12, "events and truth read back");
    ok(fabs(lk2[R + 2].truth.arrival_s - 3e-4) < 1e-15, "link truth read back");
    ok(memcmp(feat2, feat + R * F, sizeof feat2) == 0 && memcmp(mask2, mask + R, sizeof mask2) == 0,
       "features and mask read back");
    ok(memcmp(delay2, delay + P, sizeof delay2) == 0 && memcmp(sigma2, sigma + P, sizeof sigma2) == 0 &&
           memcmp(psr2, psr + P, sizeof psr2) == 0 && memcmp(tmask2, tmask + P, sizeof tmask2) == 0,
       "time differences read back");
    ok(hd_features_read_block(&rd, 3, 2, NULL, NULL, feat2, NULL, NULL, NULL, NULL, NULL) < 0,
       "a block past the end is refused");
    hd_features_release(&rd);

    /* a captures file is not a features file */
    {
        hd_h5_out out;
        hd_captures_writer w;
        int rc = hd_h5_create(&out, bad, 1, MPI_COMM_NULL);
        rc = rc ? rc : hd_captures_create(&w, out.file, 1, R, 4, 0, 0, 0);
        if (rc == 0)
            hd_captures_close(&w);
        hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = 1, .command_line = "t", .config_yaml = ""};
        rc = rc ? rc : hd_h5_write_provenance(&out, &prov);
        rc = rc ? rc : hd_h5_commit(&out);
        ok(rc == 0, "a captures file written");
        rc = hd_features_open(&rd, bad, MPI_COMM_NULL);
        ok(rc == HD_EFORMAT && strstr(hd_errmsg(), "not a heimdall features file"), "captures file refused: %s",
           hd_errmsg());
    }
    /* a features file whose feature list differs from this build's */
    {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Ldelete(f, "feature_names", H5P_DEFAULT);
        const char *names[] = {"something_else"};
        hd_h5_write_strings(f, "feature_names", names, 1, "x");
        H5Fclose(f);
        int rc = hd_features_open(&rd, path, MPI_COMM_NULL);
        ok(rc == HD_EFORMAT && strstr(hd_errmsg(), "feature 0 is 'something_else'"), "foreign feature list refused: %s",
           hd_errmsg());
    }
    unlink(path);
    unlink(bad);
    rmdir(dir);
    done_testing();
    return exit_status();
}
