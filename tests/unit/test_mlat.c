/* ADS-B multilateration: the LocaRDS reader (shipped sets: counts and one
 * message's times by hand; a malformed row and an unknown receiver refused
 * with file:line; the 64-receiver cap), and the 3-D TDOA solver (noise-free
 * synthetic geometry to < 1 m, the altitude observation's sigma respected
 * by Monte Carlo coverage, one receiver shifted by 2 µs rejected and named
 * while the event is located from the other four). */
#include "tap.h"
#include "config/config.h"
#include "core/error.h"
#include "features/features.h"
#include "formats/mlat.h"
#include "geo/geo.h"
#include "locate/locate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text)
{
    static char paths[8][512];
    static int k;
    char *path = paths[k++ % 8];
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *data_dir(void)
{
    static char d[1024];
    const char *e = getenv("HEIMDALL_MLAT_DATA");
    snprintf(d, sizeof d, "%s", e && e[0] ? e : "../shared/datasets/mlat");
    char p[1100];
    snprintf(p, sizeof p, "%s/sensors.csv", d);
    return access(p, R_OK) == 0 ? d : NULL;
}

static void test_shipped(void)
{
    const char *d = data_dir();
    if (!d) {
        skip(14, "../shared/datasets/mlat not found (run from the repository root beside shared/)");
        return;
    }
    char p[1100];
    hd_mlat m;
    hd_mlat_init(&m);
    snprintf(p, sizeof p, "%s/sensors.csv", d);
    is_int(hd_mlat_read_sensors(&m, p), 0, "sensors.csv reads");
    is_int(m.n_sensors, 716, "716 sensors");
    const int64_t want[4] = {362, 298, 253, 234};
    const int want_r[4] = {26, 24, 24, 20};
    hd_mlat_opts o = {150, 1e6, 120, 0, NULL, NULL, 0};
    for (int k = 0; k < 4; k++) {
        hd_mlat one;
        hd_mlat_init(&one);
        hd_mlat_read_sensors(&one, p);
        char q[1100];
        snprintf(q, sizeof q, "%s/set_%d.csv", d, k + 1);
        int rc = hd_mlat_read_messages(&one, q);
        hd_mlat_table t;
        int ra = rc == 0 ? hd_mlat_assemble(&one, &o, &t) : rc;
        char name[64];
        snprintf(name, sizeof name, "set_%d: %lld messages, %d receivers occur", k + 1, (long long)want[k], want_r[k]);
        ok(rc == 0 && ra == 0 && one.n_msg == want[k] && t.R == want_r[k], "%s", name);
        if (ra == 0)
            hd_mlat_table_release(&t);
        hd_mlat_release(&one);
    }
    for (int k = 1; k <= 4; k++) {
        char q[1100];
        snprintf(q, sizeof q, "%s/set_%d.csv", d, k);
        hd_mlat_read_messages(&m, q);
    }
    is_int(m.n_msg, 1147, "all four sets: 1147 messages");
    /* set_1.csv line 2, by hand: id 14040, aircraft 766,
     * [[263,8605679765,49],[141,8605694015,76],[598,8605621531,34],[143,8605729890,85],[10,8605881828,77]] */
    const hd_mlat_message *g = &m.msg[0];
    ok(g->id == 14040 && g->aircraft == 766 && g->n == 5, "first message: id 14040, aircraft 766, 5 receivers");
    ok(m.sensors[g->sensor[1]].serial == 141 && g->toa_ns[1] == 8605694015LL && g->rssi[1] == 76,
       "its second measurement: receiver 141 at 8605694015 ns, RSSI 76");
    is_double(g->baro_alt_m, 8397.24, 1e-9, "its barometric altitude");
    is_double(g->geo_alt_m, 8336.28, 1e-9, "its GNSS height (truth)");
    hd_mlat_table t;
    int rc = hd_mlat_assemble(&m, &o, &t);
    is_int(rc, 0, "all four sets assemble");
    if (rc == 0) {
        is_int(t.R, 27, "27 receivers occur in sets 1-4 (under the cap of 64)");
        /* receivers in order of first appearance: 263, 141, 598, 143, 10 */
        ok(t.serial[0] == 263 && t.serial[1] == 141 && t.serial[4] == 10 && t.toa_ns[1] == 8605694015LL,
           "first message's receivers in order of appearance, /toa as in the CSV");
        /* pair (0, 1) = 141 - 263: 8605694015 - 8605679765 = 14250 ns; pair (1, 4) = 10 - 141 */
        int p01 = 0, p14 = -1;
        for (int q = 0; q < t.P; q++) {
            int i, j;
            hd_features_pair(t.R, q, &i, &j);
            if (i == 1 && j == 4)
                p14 = q;
        }
        ok(fabs(t.delay_s[p01] - 14250e-9) < 1e-15 && p14 >= 0 && fabs(t.delay_s[p14] - (8605881828.0 - 8605694015.0) * 1e-9) < 1e-15 &&
               t.tmask[p01] && fabs(t.sigma_s[p01] - sqrt(2) * 150e-9) < 1e-18,
           "pair delays toa_j - toa_i exact, sigma sqrt(2) x 150 ns, masked in");
        hd_mlat_table_release(&t);
    } else {
        skip(3, "assemble failed");
    }
    hd_mlat_release(&m);
}

static void test_refusals(void)
{
    const char *sensors = write_tmp("s.csv", "serial,latitude,longitude,height,type,good\n"
                                             "1,48.0,10.0,500,Radarcape,TRUE\n"
                                             "2,48.5,10.5,400,Radarcape,TRUE\n"
                                             "3,47.5,9.5,450,SBS-3,FALSE\n");
    hd_mlat m;
    hd_mlat_init(&m);
    is_int(hd_mlat_read_sensors(&m, sensors), 0, "a small sensors file");
    const char *hdr = "id,timeAtServer,aircraft,latitude,longitude,baroAltitude,geoAltitude,numMeasurements,measurements\n";
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s", hdr, "7,1.5,9,48.1,10.1,9000,8950,2,\"[[1,100,5],[2,200,6]]\"\n",
             "8,1.7,9,48.1,x10.1,9000,8950,2,\"[[1,100,5],[2,200,6]]\"\n");
    const char *bad = write_tmp("bad.csv", text);
    int rc = hd_mlat_read_messages(&m, bad);
    char want[600];
    snprintf(want, sizeof want, "%s:3:", bad);
    ok(rc == HD_EFORMAT, "a malformed longitude is refused");
    like(hd_errmsg(), want, "naming file:line");
    like(hd_errmsg(), "longitude", "and the column");
    snprintf(text, sizeof text, "%s%s", hdr, "7,1.5,9,48.1,10.1,9000,8950,2,\"[[1,100,5],[99999,200,6]]\"\n");
    const char *unk = write_tmp("unk.csv", text);
    hd_mlat m2;
    hd_mlat_init(&m2);
    hd_mlat_read_sensors(&m2, sensors);
    rc = hd_mlat_read_messages(&m2, unk);
    snprintf(want, sizeof want, "%s:2:", unk);
    ok(rc == HD_EFORMAT, "a message naming a receiver the sensors file lacks is refused");
    like(hd_errmsg(), want, "naming file:line");
    like(hd_errmsg(), "receiver 99999", "and the receiver");
    snprintf(text, sizeof text, "%s%s", hdr, "7,1.5,9,48.1,10.1,9000,8950,3,\"[[1,100,5],[2,200,6]]\"\n");
    rc = hd_mlat_read_messages(&m2, write_tmp("cnt.csv", text));
    ok(rc == HD_EFORMAT && strstr(hd_errmsg(), "numMeasurements 3"), "numMeasurements disagreeing with the list is refused");
    snprintf(text, sizeof text, "%s%s", hdr, "7,1.5,9,48.1,10.1,9000,8950,2,\"[[1,100,5],[3,250,6]]\"\n");
    hd_mlat m3;
    hd_mlat_init(&m3);
    hd_mlat_read_sensors(&m3, sensors);
    rc = hd_mlat_read_messages(&m3, write_tmp("free.csv", text));
    hd_mlat_table t;
    int offs[1] = {3};
    double offv[1] = {50.25};
    hd_mlat_opts o = {150, 1e6, 120, -100, offs, offv, 1};
    ok(rc == 0 && hd_mlat_assemble(&m3, &o, &t) == 0, "a message with a receiver not GPS-disciplined");
    ok(t.st[1].clock == HD_CLOCK_FREE && t.tmask[0] == 0 && t.st[0].clock == HD_CLOCK_GPS,
       "its pairs are masked (clock type from the sensors' good column)");
    is_double(t.delay_s[0], (150 - 50.25) * 1e-9, 1e-18, "a clock offset of 50.25 ns removed from its arrival times");
    is_double(t.alt_m[0], 8900, 1e-9, "the altitude observation: barometric plus alt_offset_m");
    hd_mlat_table_release(&t);
    hd_mlat_release(&m);
    hd_mlat_release(&m2);
    hd_mlat_release(&m3);
    /* more than 64 receivers in the messages imported: refused with the count */
    hd_mlat big;
    hd_mlat_init(&big);
    big.n_sensors = 70;
    big.sensors = calloc(70, sizeof *big.sensors);
    big.n_msg = 14;
    big.msg = calloc(14, sizeof *big.msg);
    for (int k = 0; k < 70; k++)
        big.sensors[k] = (hd_mlat_sensor){.serial = k, .lat = 48, .lon = 10 + 0.01 * k, .good = 1};
    for (int e = 0; e < 14; e++) {
        big.msg[e].n = 5;
        for (int i = 0; i < 5; i++)
            big.msg[e].sensor[i] = 5 * e + i;
    }
    hd_mlat_opts o2 = {150, 1e6, 120, 0, NULL, NULL, 0};
    rc = hd_mlat_assemble(&big, &o2, &t);
    ok(rc == HD_EDATA && strstr(hd_errmsg(), "70 receivers"), "70 receivers in the messages: refused, naming the count");
    hd_mlat_release(&big);
}

/* ---- the 3-D solver ------------------------------------------------------------------ */

#define R5 5
static const double rx_ll[R5][3] = {
    {48.35, 10.90, 500}, {47.80, 9.20, 430}, {48.90, 9.80, 300}, {47.40, 11.10, 700}, {48.10, 12.20, 480},
};

static uint64_t rng_s = 88172645463325252ull;
static double unif(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return ((rng_s >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void)
{
    return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

typedef struct {
    uint8_t mask[R5], tmask[16];
    double delay[16], sigma[16];
    float feat[R5 * HD_FEAT_COUNT];
} obs_buf;

/* The event's observations from a transmitter at (lat, lon, h): arrival
 * times with the speed of light over (1 + n_ppm 1e-6), timing noise
 * sd_ns, receiver `shifted` late by shift_ns. */
static void synth(obs_buf *b, double lat, double lon, double h, double sigma_ns, double sd_ns, double n_ppm,
                  int shifted, double shift_ns)
{
    double p[3], T[R5];
    hd_geo_to_ecef(lat, lon, h, p);
    for (int r = 0; r < R5; r++) {
        double x[3];
        hd_geo_to_ecef(rx_ll[r][0], rx_ll[r][1], rx_ll[r][2], x);
        double d = sqrt((p[0] - x[0]) * (p[0] - x[0]) + (p[1] - x[1]) * (p[1] - x[1]) + (p[2] - x[2]) * (p[2] - x[2]));
        T[r] = d * (1 + n_ppm * 1e-6) / HD_SPEED_OF_LIGHT + 1e-9 * (sd_ns * gauss() + (r == shifted ? shift_ns : 0));
        b->mask[r] = 1;
    }
    memset(b->feat, 0, sizeof b->feat);
    for (int q = 0; q < hd_features_npairs(R5); q++) {
        int i, j;
        hd_features_pair(R5, q, &i, &j);
        b->delay[q] = T[j] - T[i];
        b->sigma[q] = sqrt(2) * sigma_ns * 1e-9;
        b->tmask[q] = 1;
    }
}

static int make_net(hd_locate_net *net, hd_config *cfg, int scale_by_chi2, double refr)
{
    const char *sets[] = {"localize.model_sigma_ns=0", "localize.tx_alt_m=9000", "localize.grid_step_km=5",
                          "localize.margin_km=300", "localize.max_range_km=450", "localize.prior_nu=4"};
    hd_config_release(cfg);
    if (hd_config_load(cfg, NULL, sets, 6) < 0)
        return -1;
    cfg->localize.scale_by_chi2 = scale_by_chi2;
    cfg->localize.tail_nu = 0;
    cfg->localize.refractivity_n = refr;
    hd_station st[R5];
    memset(st, 0, sizeof st);
    for (int r = 0; r < R5; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx%d", r);
        st[r].lat = rx_ll[r][0];
        st[r].lon = rx_ll[r][1];
        st[r].alt_m = rx_ll[r][2];
        st[r].antenna_height_m = 0;
        st[r].clock = HD_CLOCK_GPS;
        st[r].clock_sigma_ns = 150;
    }
    return hd_locate_net_init(net, st, R5, &cfg->localize);
}

static double horiz_err(const hd_locate_net *net, const hd_locate_result *res, double lat, double lon, double *de,
                        double *dn)
{
    double e, n;
    hd_locate_from_geo(net, lat, lon, &e, &n);
    *de = res->e - e;
    *dn = res->n - n;
    return hypot(*de, *dn);
}

static void test_solver(void)
{
    hd_locate_net net;
    hd_config cfg = {0};
    if (make_net(&net, &cfg, 1, 0) < 0) {
        ok(0, "network: %s", hd_errmsg());
        return;
    }
    obs_buf b;
    hd_locate_result res;
    double de, dn;
    /* noise-free: an aircraft inside the network and one outside it */
    const double tx[3][3] = {{48.2, 10.6, 10500}, {47.9, 10.1, 7300}, {49.6, 11.9, 11800}};
    for (int k = 0; k < 3; k++) {
        synth(&b, tx[k][0], tx[k][1], tx[k][2], 150, 0, 0, -1, 0);
        hd_locate_obs o = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, tx[k][2], 100};
        int rc = hd_locate(&net, &o, HD_LOC_TDOA, &res);
        double err = horiz_err(&net, &res, tx[k][0], tx[k][1], &de, &dn);
        ok(rc == 0 && res.status == HD_LOC_OK && err < 1 && fabs(res.alt - tx[k][2]) < 1,
           "noise-free 3-D solve %d recovers the truth: %.3f m horizontal, %.3f m in height", k, err, res.alt - tx[k][2]);
    }
    /* the height is fitted, not fixed: the observation 300 m off, sigma 1 km */
    synth(&b, tx[0][0], tx[0][1], tx[0][2], 150, 0, 0, -1, 0);
    hd_locate_obs o1 = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, tx[0][2] + 300, 1000};
    hd_locate(&net, &o1, HD_LOC_TDOA, &res);
    ok(fabs(res.alt - tx[0][2]) < 50 && isfinite(res.alt_var) && isfinite(res.vdop) && isfinite(res.crlb_alt) &&
           res.dof == 2,
       "a loose height observation 300 m off: the timings fix the height (%.1f m off), variance, VDOP, 3-D bound",
       res.alt - tx[0][2]);
    /* without a height observation the solve is the 2-D one at tx_alt_m */
    hd_locate_obs o2 = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL};
    hd_locate(&net, &o2, HD_LOC_TDOA, &res);
    ok(res.alt == 9000 && isnan(res.alt_var) && res.alt_obs_sigma_m == 0 && isnan(res.vdop),
       "no height observation: 2-D at localize.tx_alt_m");
    hd_locate_net_release(&net);

    /* refractivity: times made with c / 1.0003 are recovered with N = 300 */
    if (make_net(&net, &cfg, 1, 300) == 0) {
        synth(&b, tx[2][0], tx[2][1], tx[2][2], 150, 0, 300, -1, 0);
        hd_locate_obs o3 = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, tx[2][2], 100};
        hd_locate(&net, &o3, HD_LOC_TDOA, &res);
        ok(horiz_err(&net, &res, tx[2][0], tx[2][1], &de, &dn) < 1, "localize.refractivity_n 300 models c / 1.0003");
        hd_locate_net_release(&net);
    }

    /* Monte Carlo: timing noise 150 ns and the height observed with noise
     * of its sigma (Gaussian predictive, no residual scaling): the fitted
     * height's and position's 1-sigma regions hold their nominal share */
    if (make_net(&net, &cfg, 0, 0) < 0)
        return;
    const int N = 400;
    int in_h = 0, in_2d = 0, n_ok = 0;
    double sum_sd = 0;
    for (int t = 0; t < N; t++) {
        double lat = 47.7 + 1.0 * unif(), lon = 9.6 + 2.0 * unif(), h = 8000 + 4000 * unif(), asd = 150;
        synth(&b, lat, lon, h, 150, 150, 0, -1, 0);
        hd_locate_obs o = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, h + asd * gauss(), asd};
        if (hd_locate(&net, &o, HD_LOC_TDOA, &res) < 0 || res.status != HD_LOC_OK)
            continue;
        n_ok++;
        horiz_err(&net, &res, lat, lon, &de, &dn);
        in_h += fabs(res.alt - h) <= sqrt(res.alt_var);
        in_2d += hd_locate_mahalanobis2(res.cov, de, dn) <= 1;
        sum_sd += sqrt(res.alt_var);
    }
    double ch = (double)in_h / n_ok, c2 = (double)in_2d / n_ok;
    ok(n_ok == N, "Monte Carlo: all %d events located", N);
    ok(fabs(ch - 0.6827) < 0.07, "the height within its 1-sigma in %.1f %% (nominal 68.3 %%)", 100 * ch);
    ok(fabs(c2 - 0.3935) < 0.07, "the position within its 1-sigma ellipse in %.1f %% (nominal 39.3 %%)", 100 * c2);
    ok(sum_sd / n_ok < 150, "the height's sd (%.0f m) below the observation's 150 m: the timings add to it",
       sum_sd / n_ok);
    /* the sigma is the observation's: a tight one pins the height */
    synth(&b, tx[0][0], tx[0][1], tx[0][2], 150, 0, 0, -1, 0);
    hd_locate_obs o4 = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, tx[0][2] + 30, 1};
    hd_locate(&net, &o4, HD_LOC_TDOA, &res);
    ok(fabs(res.alt - (tx[0][2] + 30)) < 2 && sqrt(res.alt_var) <= 1.0001,
       "a 1 m sigma pins the height to the observation (%.2f m off it, sd %.3f m)", res.alt - tx[0][2] - 30,
       sqrt(res.alt_var));
    hd_locate_net_release(&net);

    /* one receiver 2 µs late: rejected, named, the event located from four */
    if (make_net(&net, &cfg, 1, 0) < 0)
        return;
    synth(&b, tx[0][0], tx[0][1], tx[0][2], 150, 0, 0, 3, 2000);
    hd_locate_obs o5 = {b.feat, b.mask, b.delay, b.sigma, b.tmask, NULL, NULL, tx[0][2], 100};
    hd_locate(&net, &o5, HD_LOC_TDOA, &res);
    char why[200];
    hd_locate_reject_reason(&res, 3, why, sizeof why);
    ok(res.status == HD_LOC_OK && res.rejected == 1u << 3 && res.n_receivers == 4 && !(res.timed >> 3 & 1),
       "receiver rx3 shifted by 2 us is rejected; four remain");
    ok(fabs(res.reject_ns[3] - 2000) < 20, "its residual against the others' fit: %.0f ns", res.reject_ns[3]);
    like(why, "timing residual 2000 ns", "the reason in words");
    ok(horiz_err(&net, &res, tx[0][0], tx[0][1], &de, &dn) < 1, "the event located from the other four to < 1 m");
    hd_locate_reject_reason(&res, 2, why, sizeof why);
    is_str(why, "", "no reason for a receiver kept");
    hd_locate_net_release(&net);
    hd_config_release(&cfg);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_mlat.%d", (int)getpid());
    mkdir(tmpdir, 0700);
    plan_no_plan();
    test_shipped();
    test_refusals();
    test_solver();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        diag("could not remove %s", tmpdir);
    done_testing();
    return exit_status();
}
