/* calibrate: a synthetic features file with known per-receiver RSS offsets
 * and clock offsets (exact geometry, Gaussian noise) gives them back within
 * their stated sigmas, with the exponent; a receiver advertised 2 km off is
 * flagged with the size; the calibration file round-trips; applied by id, an
 * unknown receiver is flagged and a disjoint network refused. */
#include "capture/captures.h"
#include "config/config.h"
#include "core/error.h"
#include "eval/calibrate.h"
#include "features/features.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NE 120
#define NR 5
#define F HD_FEAT_COUNT

static const double off_db[NR] = {4, -3, 0, 6, -7};          /* mean 0 */
static const double off_ns[NR] = {300, -150, 0, 500, -650};  /* mean 0 */
static const double lat0 = 45.0, lon0 = 7.5;

static uint64_t state = 12345;
static double uniform(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static void stations(hd_station *st)
{
    const double de[NR] = {-10000, 10000, 10000, -10000, 0}, dn[NR] = {-10000, -10000, 10000, 10000, 2000};
    memset(st, 0, NR * sizeof *st);
    for (int r = 0; r < NR; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = lat0 + dn[r] / 111132.0;
        st[r].lon = lon0 + de[r] / (111320.0 * cos(lat0 * M_PI / 180));
        st[r].alt_m = 10;
        st[r].antenna_height_m = 10;
        st[r].clock = HD_CLOCK_GPS;
        st[r].sample_rate_hz = 1e6;
    }
}

/* moved: receiver 3 advertised 2 km north of where it is (-1 none) */
static int write_file(const char *path, int moved, int with_truth)
{
    hd_station st[NR], truth_st[NR];
    stations(st);
    memcpy(truth_st, st, sizeof st);
    if (moved >= 0)
        st[moved].lat += 2000 / 111132.0;
    const int P = hd_features_npairs(NR);
    static hd_event ev[NE];
    static hd_link lk[NE * NR];
    static float feat[NE * NR * F], psr[NE * 10];
    static uint8_t mask[NE * NR], tmask[NE * 10];
    static double delay[NE * 10], sigma[NE * 10];
    memset(feat, 0, sizeof feat);
    for (int e = 0; e < NE; e++) {
        memset(&ev[e], 0, sizeof ev[e]);
        ev[e].index = e;
        ev[e].time_ns = 1700000000000000000LL + e * 1000000000LL;
        ev[e].frequency_hz = 145e6;
        ev[e].sample_rate_hz = 1e6;
        hd_tx_truth_unknown(&ev[e].truth);
        double tl = lat0 + (uniform() - 0.5) * 30000 / 111132.0, tn = lon0 + (uniform() - 0.5) * 30000 / 78000.0;
        ev[e].truth.lat = tl;
        ev[e].truth.lon = tn;
        ev[e].truth.alt_m = 0;
        double toa[NR], P0 = 10 + 3 * gauss();
        for (int r = 0; r < NR; r++) {
            hd_link *l = &lk[e * NR + r];
            memset(l, 0, sizeof *l);
            l->status = HD_RX_OK;
            l->has_iq = 1;
            l->gps_ok = 1;
            hd_link_truth_unknown(&l->truth);
            double d = hd_geo_slant_range(tl, tn, 0, truth_st[r].lat, truth_st[r].lon, truth_st[r].alt_m);
            toa[r] = d / HD_SPEED_OF_LIGHT + 1e-9 * off_ns[r] + 20e-9 * gauss();
            feat[(e * NR + r) * F + HD_FEAT_RSS_DBM] = (float)(P0 - 30 * log10(d) + off_db[r] + 2 * gauss());
            feat[(e * NR + r) * F + HD_FEAT_SNR_DB] = 20;
            mask[e * NR + r] = 1;
        }
        for (int p = 0; p < P; p++) {
            int i, j;
            hd_features_pair(NR, p, &i, &j);
            delay[e * P + p] = toa[j] - toa[i];
            sigma[e * P + p] = 20e-9 * sqrt(2);
            psr[e * P + p] = 20;
            tmask[e * P + p] = 1;
        }
    }
    hd_h5_out out;
    hd_features_writer w;
    int rc = hd_h5_create(&out, path, 1, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    if ((rc = hd_captures_write_receivers(out.file, st, NR)) < 0 ||
        (rc = hd_features_create(&w, out.file, NE, NR, with_truth, 0, 0, 0)) < 0) {
        hd_h5_abort(&out);
        return rc;
    }
    rc = hd_features_write_block(&w, 0, NE, ev, lk, feat, mask, delay, sigma, psr, tmask, NULL);
    hd_features_close(&w);
    hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION, .command_line = "test",
                             .config_yaml = "seed: 1\n"};
    if (rc < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0) {
        hd_h5_abort(&out);
        return rc;
    }
    return hd_h5_commit(&out);
}

static int fit(const char *path, hd_calib *c, const hd_config *cfg)
{
    hd_features_reader rd;
    int rc = hd_features_open(&rd, path, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    hd_features_reader *v[1] = {&rd};
    const char *paths[1] = {path};
    rc = hd_calib_fit(c, v, paths, 1, &cfg->localize);
    hd_features_release(&rd);
    return rc;
}

int main(void)
{
    MPI_Init(NULL, NULL);
    plan_no_plan();
    char dir[] = "/tmp/test_calibrate.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char f1[256], f2[256], f3[256], cp[256];
    snprintf(f1, sizeof f1, "%s/f1.h5", dir);
    snprintf(f2, sizeof f2, "%s/f2.h5", dir);
    snprintf(f3, sizeof f3, "%s/f3.h5", dir);
    snprintf(cp, sizeof cp, "%s/cal.h5", dir);
    hd_config cfg = {0};
    ok(hd_config_load(&cfg, NULL, NULL, 0) == 0, "default config");
    ok(write_file(f1, -1, 1) == 0 && write_file(f2, 3, 1) == 0 && write_file(f3, -1, 0) == 0, "synthetic files");

    hd_calib c;
    ok(fit(f1, &c, &cfg) == 0, "calibrate fits");
    is_int(c.R, NR, "every receiver");
    is_int((int)c.n_events, NE, "every event with truth");
    is_double(c.rss_exponent, 3.0, 0.15, "path-loss exponent 3");
    int rss_in = 1, clk_in = 1, none_flagged = 1;
    double worst_rss = 0, worst_clk = 0;
    for (int r = 0; r < NR; r++) {
        double zr = (c.rss_offset_db[r] - off_db[r]) / c.rss_offset_sigma_db[r];
        double zc = (c.clock_offset_ns[r] - off_ns[r]) / c.clock_offset_sigma_ns[r];
        worst_rss = fmax(worst_rss, fabs(zr));
        worst_clk = fmax(worst_clk, fabs(zc));
        rss_in &= fabs(zr) < 3 && c.rss_offset_sigma_db[r] < 0.5;
        clk_in &= fabs(zc) < 3 && c.clock_offset_sigma_ns[r] < 5;
        none_flagged &= !c.displaced[r] && c.disp_m[r] < 100;
    }
    ok(rss_in, "RSS offsets within 3 stated sigma (worst %.2f), sigma about 2 dB / sqrt(120)", worst_rss);
    ok(clk_in, "clock offsets within 3 stated sigma (worst %.2f), sigma a few ns", worst_clk);
    ok(none_flagged, "no receiver reported displaced");

    /* the calibration file round-trips */
    hd_h5_out out;
    int rc = hd_h5_create(&out, cp, 1, MPI_COMM_NULL);
    hd_h5_provenance prov = {.format = HD_FORMAT_CALIBRATION, .version = HD_CALIBRATION_VERSION,
                             .command_line = "test", .config_yaml = "seed: 1\n"};
    if (rc == 0 && ((rc = hd_calib_write(&c, out.file)) < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0))
        hd_h5_abort(&out);
    else if (rc == 0)
        rc = hd_h5_commit(&out);
    ok(rc == 0, "calibration written");
    hd_calib l;
    ok(hd_calib_load(&l, cp) == 0, "and loaded");
    int same = l.R == NR && l.rss_exponent == c.rss_exponent && l.n_events == NE;
    for (int r = 0; r < NR; r++)
        same &= strcmp(l.st[r].id, c.st[r].id) == 0 && l.rss_offset_db[r] == c.rss_offset_db[r] &&
                l.clock_offset_ns[r] == c.clock_offset_ns[r] && l.clock_links[r] == c.clock_links[r];
    ok(same, "the same numbers");

    /* applied by id: receivers in another order, one unknown */
    hd_station st[NR];
    stations(st);
    hd_station sw = st[0];
    st[0] = st[4];
    st[4] = sw;                              /* rx4 first, rx0 last */
    snprintf(st[2].id, sizeof st[2].id, "stranger");
    hd_localize_cfg lc = cfg.localize;
    is_int(hd_calib_apply(&l, cp, st, NR, &lc), NR - 1, "four of five receivers known");
    ok(lc.calibrated && lc.n_rss_offsets == NR, "calibration applied");
    is_double(lc.rss_offsets_db[0], l.rss_offset_db[4], 0, "offsets follow the ids, not the order");
    is_double(lc.clock_offsets_s[4], 1e-9 * l.clock_offset_ns[0], 1e-18, "clock offsets too (seconds)");
    ok(lc.rx_uncalibrated[2] && !lc.rx_uncalibrated[0] && !lc.rx_uncalibrated[4], "the unknown one flagged");
    is_double(lc.rss_offsets_db[2], 0, 0, "with no offset");
    is_double(lc.rss_exponent, l.rss_exponent, 0, "the exponent learnt");
    for (int r = 0; r < NR; r++)
        snprintf(st[r].id, sizeof st[r].id, "other%d", r);
    lc = cfg.localize;
    ok(hd_calib_apply(&l, cp, st, NR, &lc) == HD_EINVAL && strstr(hd_errmsg(), "calibrates none"),
       "another network's calibration refused: %s", hd_errmsg());
    ok(!lc.calibrated, "and nothing applied");

    {   /* a sparse file's table: the same calibration on a network of 200
         * receivers (more than HD_MAX_STATIONS), its five among strangers,
         * then one event's three links */
        enum { RB = 200 };
        hd_station *big = calloc(RB, sizeof *big);
        stations(st);
        for (int r = 0; r < RB; r++)
            snprintf(big[r].id, sizeof big[r].id, "far%d", r);
        for (int r = 0; r < NR; r++)
            big[17 + 40 * r] = st[r];
        hd_localize_cfg tc = cfg.localize;
        snprintf(tc.calibration, sizeof tc.calibration, "%s", cp);
        tc.unknown_receivers = HD_UNKNOWN_RX_MASK;
        hd_calib_table t;
        is_int(hd_calib_table_use(&t, big, RB, &tc), NR, "200 receivers: the five it knows found by id");
        ok(tc.calibrated && tc.n_rss_offsets == 0 && t.R == RB && tc.rss_exponent == l.rss_exponent,
           "applied: exponent in cfg, offsets in the table");
        is_double(t.clock_s[17 + 40 * 3], 1e-9 * l.clock_offset_ns[3], 1e-18, "clock offset by id (seconds)");
        is_double(t.rss_db[17 + 40 * 2], l.rss_offset_db[2], 0, "RSS offset by id");
        ok(t.uncalibrated[0] && !t.uncalibrated[17] && t.rss_db[0] == 0 && t.clock_s[0] == 0,
           "a stranger uncalibrated, with no offsets");
        const int32_t rx[3] = {57, 3, 177}; /* rx1, a stranger, rx4 */
        float feat[3 * F] = {0};
        uint8_t mask[3] = {1, 1, 1}, tmask[3] = {1, 1, 1};
        double delay[3] = {1e-6, 2e-6, 3e-6};
        for (int j = 0; j < 3; j++)
            feat[j * F + HD_FEAT_RSS_DBM] = -80;
        uint64_t un = hd_calib_table_apply(&t, &tc, 3, rx, feat, mask, delay, tmask);
        ok(un == 2, "the stranger's link reported (bit 1)");
        ok(mask[0] && !mask[1] && mask[2], "and masked (localize.unknown_receivers mask)");
        int p02 = -1;
        for (int p = 0; p < 3; p++) {
            int a, b;
            hd_features_pair(3, p, &a, &b);
            if (a == 0 && b == 2)
                p02 = p;
        }
        ok(p02 >= 0 && tmask[p02] && tmask[0] + tmask[1] + tmask[2] == 1, "its pairs masked, the other kept");
        is_double(delay[p02], 2e-6 - (t.clock_s[177] - t.clock_s[57]), 1e-18,
                  "the time difference less its receivers' clock offsets");
        is_double(feat[0 * F + HD_FEAT_RSS_DBM], -80 - l.rss_offset_db[1], 1e-4, "the level less its RSS offset");
        hd_calib_table_release(&t);
        for (int r = 0; r < RB; r++)
            snprintf(big[r].id, sizeof big[r].id, "other%d", r);
        tc = cfg.localize;
        snprintf(tc.calibration, sizeof tc.calibration, "%s", cp);
        ok(hd_calib_table_use(&t, big, RB, &tc) == HD_EINVAL && !tc.calibrated && t.R == 0,
           "another network's calibration refused, nothing applied");
        free(big);
    }
    hd_calib_release(&l);
    hd_calib_release(&c);

    /* a receiver advertised 2 km north of where it is */
    ok(fit(f2, &c, &cfg) == 0, "calibrate with a misplaced receiver");
    ok(c.displaced[3], "it is flagged");
    diag("displacement %.0f ± %.0f m", c.disp_m[3], c.disp_sigma_m[3]);
    is_double(c.disp_m[3], 2000, 3 * c.disp_sigma_m[3] + 50, "by about 2 km");
    ok(c.disp_north_m[3] < -1800 && fabs(c.disp_east_m[3]) < 200, "to the south (%.0f m east, %.0f m north)",
       c.disp_east_m[3], c.disp_north_m[3]);
    int others = 0;
    for (int r = 0; r < NR; r++)
        others += r != 3 && c.displaced[r];
    is_int(others, 0, "no other receiver flagged");
    hd_calib_release(&c);

    /* no truth */
    rc = fit(f3, &c, &cfg);
    ok(rc == HD_ECONFIG && strstr(hd_errmsg(), "has no /truth"), "a file without truth refused: %s", hd_errmsg());

    {   /* a calibration file whose n_events is negative is refused (found by fuzz_calib) */
        hid_t f = H5Fopen(cp, H5F_ACC_RDWR, H5P_DEFAULT), g = H5Gopen2(f, "calibration", H5P_DEFAULT);
        hid_t a = H5Aopen(g, "n_events", H5P_DEFAULT);
        int64_t neg = -5;
        ok(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &neg) >= 0, "n_events set to -5");
        H5Aclose(a);
        H5Gclose(g);
        H5Fclose(f);
        hd_calib bad;
        is_int(hd_calib_load(&bad, cp), HD_EFORMAT, "a calibration of -5 events refused");
        like(hd_errmsg(), "-5 events", "saying so");
    }

    hd_config_release(&cfg);
    unlink(f1);
    unlink(f2);
    unlink(f3);
    unlink(cp);
    rmdir(dir);
    done_testing();
    MPI_Finalize();
    return exit_status();
}
