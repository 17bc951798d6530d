/* formats/recordings: grouping recordings into events and receivers, the
 * station of a recording (stations file, the recording's own position,
 * gnss_pos/<id>.txt), the clock of a kiwiwav from synthetic GPS stamps (fit
 * and no-fix fallback), the captures file written from recordings, and the
 * POWDER samples as events. */
#include "capture/captures.h"
#include "config/config.h"
#include "core/error.h"
#include "features/features.h"
#include "formats/powder_import.h"
#include "formats/recordings.h"
#include "h5/h5.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_2024_03_01_12 INT64_C(1709294400000000000) /* 2024-03-01T12:00:00Z, Unix ns */

static hd_recording rec(const char *path, const char *station, int64_t t, double f, int64_t n)
{
    hd_recording r;
    memset(&r, 0, sizeof r);
    r.path = path;
    snprintf(r.station, sizeof r.station, "%s", station);
    r.event_time_ns = t;
    r.freq_hz = f;
    r.rate_hz = 12000;
    r.n = n;
    r.iq = calloc((size_t)n * 2, sizeof *r.iq);
    r.clock_rate_hz = 12000;
    r.residual_s = NAN;
    return r;
}

static void test_group(void)
{
    const int64_t t1 = T_2024_03_01_12, t2 = t1 + 60000000000;
    hd_recording f[5];
    /* given out of order: the later event first, the stations unsorted */
    f[0] = rec("a/t2_zeta", "zeta", t2, 7e6, 100);
    f[1] = rec("a/t1_zeta", "zeta", t1, 7e6, 120);
    f[2] = rec("a/t1_alpha", "alpha", t1, 7e6, 80);
    f[3] = rec("a/t1_alpha_10m", "alpha", t1, 10e6, 80);
    f[4] = rec("a/t2_alpha", "alpha", t2, 7e6, 90);
    hd_recording_set s;
    ok(hd_recordings_group(&s, f, 3, NULL) == 0, "three recordings group");
    is_int(s.n_events, 2, "two event times: two events");
    is_int(s.n_receivers, 2, "two stations: two receivers");
    is_int(s.n_samples, 120, "samples: the longest recording");
    ok(s.time_ns[0] == t1 && s.time_ns[1] == t2, "events in time order");
    is_str(s.ids[0], "zeta", "no stations file: receivers in the command line's order, zeta first");
    is_str(s.ids[1], "alpha", "then alpha (not alphabetical)");
    ok(f[0].event == 1 && f[0].rx == 0, "the later zeta file is event 1, receiver 0");
    ok(f[1].event == 0 && f[1].rx == 0 && f[2].event == 0 && f[2].rx == 1,
       "the two files of the same time are one event, two receivers");
    hd_recording_set_release(&s);

    ok(hd_recordings_group(&s, f + 1, 2, NULL) == 0 && s.n_events == 1 && s.n_receivers == 2,
       "same time and frequency: one event");
    hd_recording_set_release(&s);
    ok(hd_recordings_group(&s, f + 2, 2, NULL) == 0 && s.n_events == 2 && s.n_receivers == 1 &&
           s.frequency_hz[0] == 7e6 && s.frequency_hz[1] == 10e6,
       "same time, another frequency: two events, ordered by frequency");
    hd_recording_set_release(&s);

    hd_recording dup[2] = {rec("x/one_iq.wav", "kiwi1", t1, 7e6, 10), rec("y/two_iq.wav", "kiwi1", t1, 7e6, 10)};
    ok(hd_recordings_group(&s, dup, 2, NULL) == HD_EINVAL, "two files of one station in one event: HD_EINVAL");
    like(hd_errmsg(), "x/one_iq.wav and y/two_iq.wav are the same station, time and frequency",
         "the message names both files");
    dup[1].path = "y/other_iq.wav";
    snprintf(dup[1].station, sizeof dup[1].station, "kiwi2");
    dup[1].rate_hz = 12001; /* two KiwiSDRs' headers: one rate */
    ok(hd_recordings_group(&s, dup, 2, NULL) == 0, "12000 and 12001 Hz in one event: one rate (83 ppm)");
    hd_recording_set_release(&s);
    dup[1].rate_hz = 20250;
    ok(hd_recordings_group(&s, dup, 2, NULL) == HD_EINVAL, "12000 and 20250 Hz in one event: refused");
    like(hd_errmsg(), "mixed sample rates in one event: x/one_iq.wav is 12000 Hz, y/other_iq.wav is 20250 Hz",
         "the message names both files and rates");
    dup[1].event_time_ns += 60000000000;
    ok(hd_recordings_group(&s, dup, 2, NULL) == 0 && s.n_events == 2, "different rates in different events: fine");
    hd_recording_set_release(&s);
    for (int i = 0; i < 2; i++)
        free(dup[i].iq);
    for (int i = 0; i < 5; i++)
        free(f[i].iq);
}

static void test_station(const char *tmp)
{
    hd_config cfg;
    const char *yaml = "stations:\n"
                       "  - id: torino\n    name: Torino Nord\n    lat: 45.1\n    lon: 7.65\n    alt_m: 250\n"
                       "  - id: genova\n    lat: 44.4\n    lon: 8.9\n";
    int rc = hd_config_load_string(&cfg, yaml, "test.yaml", NULL, 0);
    ok(rc == 0, "a config with two stations loads");
    if (rc < 0) {
        diag("%s", hd_errmsg());
        skip(48, "no config");
        return;
    }
    hd_station s;
    char src[HD_SOURCE_LEN];
    hd_recording r = rec("/nowhere/20240301T120000Z_7100000_torino_iq.wav", "torino", T_2024_03_01_12, 7.1e6, 4);
    ok(hd_recording_station(&cfg, NULL, &r, &s, src, sizeof src) == 0 && strcmp(s.name, "Torino Nord") == 0 && s.lat == 45.1 &&
           s.lon == 7.65 && s.alt_m == 250,
       "a station of the stations file: its entry (name, position)");
    hd_recording ru = rec("/nowhere/20240301T120000Z_7100000_TORINO_iq.wav", "TORINO", T_2024_03_01_12, 7.1e6, 4);
    ok(hd_recording_station(&cfg, NULL, &ru, &s, src, sizeof src) == 0 && strcmp(s.id, "torino") == 0 && s.lat == 45.1,
       "a recording named TORINO (as the TDoA service names them) is the stations file's torino (the id made from it)");

    hd_recording g = rec("/nowhere/x", "elsewhere", T_2024_03_01_12, 7.1e6, 4);
    g.has_geo = 1;
    g.lat = 10.5;
    g.lon = -3.25;
    g.alt_m = 12;
    ok(hd_recording_station(&cfg, NULL, &g, &s, src, sizeof src) == 0 && s.lat == 10.5 && s.lon == -3.25 && s.alt_m == 12,
       "not in the stations file: the recording's own position");
    ok(strcmp(s.id, "elsewhere") == 0 && s.driver == HD_DRIVER_KIWISDR && s.clock == HD_CLOCK_GPS &&
           s.sample_rate_hz == 12000 && isnan(s.full_scale_dbm) && isnan(s.gain_db),
       "a recording's own station: kiwisdr, gps clock, the recording's rate, gain unknown");

    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/gnss_pos", tmp);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/gnss_pos/kiwi9.txt", tmp);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "d.kiwi9 = struct('coord',[47.25,11.5],'host','k9.example','port',8073);\n");
    fclose(fp);
    snprintf(path, sizeof path, "%s/20240301T120000Z_7100000_kiwi9_iq.wav", tmp);
    hd_recording k = rec(path, "kiwi9", T_2024_03_01_12, 7.1e6, 4);
    ok(hd_recording_station(&cfg, NULL, &k, &s, src, sizeof src) == 0 && s.lat == 47.25 && s.lon == 11.5,
       "not in the stations file, no own position: gnss_pos/<id>.txt beside the recording");
    like(src, "/gnss_pos/kiwi9.txt", "and the source names that file");
    hd_recording u = rec(path, "kiwi8", T_2024_03_01_12, 7.1e6, 4);
    ok(hd_recording_station(&cfg, NULL, &u, &s, src, sizeof src) == HD_ECONFIG, "nowhere: refused (HD_ECONFIG)");
    like(hd_errmsg(), "station 'kiwi8' (", "the message names the station");
    like(hd_errmsg(), "gnss_pos/*.txt nor ", "and says where it looked");
    like(hd_errmsg(), "no --positions file given", "including the positions file");

    /* gnss_pos beside the parent folder: <tmp>/iq/<file>, <tmp>/gnss_pos/ (the TDoA layout) */
    char iqp[1100];
    snprintf(iqp, sizeof iqp, "%s/iq", tmp);
    mkdir(iqp, 0777);
    snprintf(iqp, sizeof iqp, "%s/iq/20240301T120000Z_7100000_kiwi9_iq.wav", tmp);
    hd_recording kp = rec(iqp, "kiwi9", T_2024_03_01_12, 7.1e6, 4);
    ok(hd_recording_station(&cfg, NULL, &kp, &s, src, sizeof src) == 0 && s.lat == 47.25 && s.lon == 11.5,
       "iq/<file>: gnss_pos/ beside iq/ (the TDoA service layout)");
    ok(strstr(src, "/gnss_pos/kiwi9.txt") && !strstr(src, "/iq/"), "found in the parent's gnss_pos (%s)", src);
    free(kp.iq);

    /* a positions file, last */
    hd_positions pos;
    snprintf(path, sizeof path, "%s/pos.csv", tmp);
    fp = fopen(path, "w");
    fprintf(fp, "# station positions\nid,lat,lon,alt_m\n\nkiwi8, 50.5, 8.25, 120\ntorino,1,2\n");
    fclose(fp);
    ok(hd_positions_read(&pos, path) == 0 && pos.n == 2 && pos.p[0].line == 4, "a CSV positions file reads");
    ok(hd_recording_station(&cfg, &pos, &u, &s, src, sizeof src) == 0 && s.lat == 50.5 && s.lon == 8.25 &&
           s.alt_m == 120,
       "a station found only in the positions file");
    like(src, "pos.csv:4", "its source is file:line");
    ok(hd_recording_station(&cfg, &pos, &r, &s, src, sizeof src) == 0 && s.lat == 45.1,
       "the stations file comes before the positions file");
    hd_positions_release(&pos);
    const char *bad[][2] = {{"kiwi1,45.0\n", "pos.csv:1: too few fields"},
                            {"# c\nkiwi1,45.0,x\n", "pos.csv:2: a coordinate is not a number"},
                            {"kiwi1,95,7\n", "pos.csv:1: latitude outside"},
                            {"a,1,2\nb,1,2,3,4\n", "pos.csv:2: too many fields"},
                            {"a,1,2\na,3,4\n", "pos.csv:2: station 'a' again (first on line 1)"},
                            {"# nothing\n", "no positions in it"}};
    for (int i = 0; i < 6; i++) {
        fp = fopen(path, "w");
        fputs(bad[i][0], fp);
        fclose(fp);
        ok(hd_positions_read(&pos, path) == HD_ECONFIG, "malformed positions file %d refused (HD_ECONFIG)", i);
        like(hd_errmsg(), bad[i][1], "with file:line and the reason");
    }
    snprintf(path, sizeof path, "%s/pos.yaml", tmp);
    fp = fopen(path, "w");
    fprintf(fp, "stations:\n  - id: kiwi8\n    lat: 50.5\n    lon: 8.25\n");
    fclose(fp);
    ok(hd_positions_read(&pos, path) == 0 && pos.n == 1 && pos.p[0].lat == 50.5, "a YAML positions file reads");
    if (pos.n)
        hd_positions_release(&pos);
    fp = fopen(path, "w");
    fprintf(fp, "stations:\n  - id: kiwi8\n    lat: north\n    lon: 8.25\n");
    fclose(fp);
    ok(hd_positions_read(&pos, path) == HD_ECONFIG, "a malformed YAML positions file is refused");
    like(hd_errmsg(), "pos.yaml:3:", "with file:line:column");
    snprintf(path, sizeof path, "%s/20240301T120000Z_7100000_kiwi9_iq.wav", tmp);

    /* the set: receivers in id order, each from its first recording */
    hd_recording f[3] = {k, r, rec("/nowhere/20240301T120000Z_7100000_genova_iq.wav", "genova", T_2024_03_01_12,
                                   7.1e6, 4)};
    hd_recording_set set;
    ok(hd_recordings_group(&set, f, 3, &cfg) == 0 && hd_recordings_stations(&set, &cfg, NULL, f, 3) == 0,
       "a set's stations are found");
    ok(set.n_receivers == 3 && strcmp(set.stations[0].id, "torino") == 0 && set.stations[0].lat == 45.1 &&
           strcmp(set.stations[1].id, "genova") == 0 && set.stations[1].lat == 44.4 &&
           strcmp(set.stations[2].id, "kiwi9") == 0 && set.stations[2].lat == 47.25,
       "receivers in the stations file's order (torino, genova), then the command line's (kiwi9)");

    /* written and read back as a captures file */
    f[0].has_t0 = 1;
    f[0].t0_ns = T_2024_03_01_12 + 250000000;
    f[0].iq[0] = 32767;
    f[0].clock_rate_hz = 12000.5;
    char out[1100];
    snprintf(out, sizeof out, "%s/rec.h5", tmp);
    hd_import_out o = {.path = out, .force = 1, .compression = 1, .command_line = "test", .config_yaml = cfg.yaml};
    /* inputs are hashed into the provenance: three files that exist */
    const char *inputs[3] = {path, path, path};
    fp = fopen(path, "w");
    fputs("x", fp);
    fclose(fp);
    rc = hd_recordings_write_captures(&o, &set, f, 3, "kiwiwav", inputs);
    ok(rc == 0, "captures written from the recordings");
    if (rc < 0)
        diag("%s", hd_errmsg());
    hd_captures_reader cr;
    hd_event ev;
    hd_link lk[3];
    int16_t iq[3 * 4 * 2];
    if (rc == 0 && hd_captures_open(&cr, out, MPI_COMM_NULL) == 0) {
        ok(cr.n_events == 1 && cr.n_receivers == 3 && cr.n_samples == 4 &&
               hd_captures_read_block(&cr, 0, 1, &ev, lk, iq, NULL) == 0,
           "read back: 1 event, 3 receivers, 4 samples");
        ok(ev.time_ns == T_2024_03_01_12 && ev.frequency_hz == 7.1e6 && fabs(lk[2].t0_s - 0.25) < 1e-12 &&
               isnan(lk[0].t0_s) && lk[2].status == HD_RX_OK && fabs(lk[2].clipped_fraction - 1.0 / 8) < 1e-12,
           "event time, t0_s of the timed file (0.25 s), NaN of the others, clipped fraction 1/8");
        double *rate = NULL;
        int rank;
        hsize_t dims[8];
        ok(hd_h5_read(cr.file, "clock/rate_hz", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rate) == 0 && rank == 2 &&
               rate[2] == 12000.5 && rate[0] == 12000,
           "/clock/rate_hz per event and receiver");
        free(rate);
        hd_captures_release(&cr);
    } else {
        skip(3, "no captures file");
    }
    unlink(out);
    hd_recording_set_release(&set);
    for (int i = 0; i < 3; i++)
        free(f[i].iq);
    free(g.iq);
    free(u.iq);
    hd_config_release(&cfg);
}

/* stamps of n samples at a true rate from GPS second of week t0; a fresh fix
 * every fix_every blocks (last_gps_solution counting in between) */
static hd_kiwi_block *stamps(int64_t n, double rate, double t0, int fix_every)
{
    int nb = (int)((n + HD_KIWI_BLOCK - 1) / HD_KIWI_BLOCK);
    hd_kiwi_block *s = calloc((size_t)nb, sizeof *s);
    for (int k = 0; k < nb; k++) {
        double t = t0 + (double)k * HD_KIWI_BLOCK / rate;
        s[k].gps_sec = (uint32_t)floor(t);
        s[k].gps_nsec = (uint32_t)llround((t - floor(t)) * 1e9);
        s[k].last_gps_solution = (uint8_t)(k % fix_every);
    }
    return s;
}

static void test_clock(void)
{
    const char *name = "rec/20240301T120000Z_7100000_kiwi1_iq.wav";
    /* 2024-03-01 is in GPS week 2303; second 200000.25 of it is
     * 315964800 + 2303*604800 + 200000.25 - 18 (leap) Unix seconds */
    const int64_t t0_unix_ns = INT64_C(1709019182250000000);
    int64_t n = 512 * 240;
    int16_t *iq = calloc((size_t)n * 2, sizeof *iq);
    hd_kiwi_block *st = stamps(n, 12001.2, 200000.25, 4);
    st[0].gps_sec = st[0].gps_nsec = 0; /* the field's zero first stamp */
    unsigned char *buf;
    size_t len;
    hd_kiwiwav k;
    hd_recording r;
    ok(hd_kiwiwav_encode(12001, iq, n, st, &buf, &len) == 0 && hd_kiwiwav_parse(&k, buf, len) == 0,
       "a 12001 Hz header over a true 12001.2 Hz clock");
    ok(hd_recording_from_kiwiwav(&r, name, &k) == 0, "a parsed kiwiwav becomes a recording");
    ok(r.event_time_ns == T_2024_03_01_12 && r.freq_hz == 7.1e6 && strcmp(r.station, "kiwi1") == 0,
       "event time, frequency and station from the file name");
    ok(r.iq && !k.iq && r.n == n, "the samples move to the recording");
    is_double(r.clock_rate_hz, 12001.2, 1e-3, "clock rate fitted to the fresh stamps (12001.2 Hz)");
    is_double(r.rate_hz, 12001, 0, "nominal rate from the header");
    is_int(r.n_fit, 59, "fresh nonzero stamps fitted (60 fresh, the zero first one left out)");
    ok(r.gps_ok == 1 && r.has_t0 == 1, "gps_ok and a first-sample time");
    ok(llabs(r.t0_ns - t0_unix_ns) < 20, "first sample at GPS second 200000.25 of week 2303, in Unix ns UTC");
    ok(r.residual_s < 1e-9, "residual about the fit below 1 ns");
    hd_kiwiwav_release(&k);
    free(buf);
    free(r.iq);

    /* GPS never fresh: gps_ok 0, the header rate from the first nonzero stamp */
    for (int b = 0; b < 240; b++)
        st[b].last_gps_solution = (uint8_t)(7 + b % 3);
    ok(hd_kiwiwav_encode(12001, iq, n, st, &buf, &len) == 0 && hd_kiwiwav_parse(&k, buf, len) == 0,
       "a file without a fresh fix parses");
    ok(hd_recording_from_kiwiwav(&r, name, &k) == 0 && r.gps_ok == 0 && r.n_fit == 0 && isnan(r.residual_s),
       "no fix: gps_ok 0, no fit");
    is_int(r.last_gps_solution_s, 7, "last_gps_solution of the first block");
    /* block 1 stamped 200000.25 + 512/12001.2, taken back 512 samples at 12001 Hz */
    double want = 200000.25 + 512 / 12001.2 - 512 / 12001.0;
    ok(r.has_t0 && llabs(r.t0_ns - (t0_unix_ns + llround((want - 200000.25) * 1e9))) < 20,
       "no fix: first sample from the first nonzero stamp at the header rate");
    hd_kiwiwav_release(&k);
    free(buf);
    free(r.iq);

    /* no stamp at all: no first-sample time */
    memset(st, 0, 240 * sizeof *st);
    for (int b = 0; b < 240; b++)
        st[b].last_gps_solution = 9;
    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    hd_kiwiwav_parse(&k, buf, len);
    ok(hd_recording_from_kiwiwav(&r, name, &k) == HD_EDATA && !r.iq, "GPS never fixed (every stamp zero): refused");
    like(hd_errmsg(), "kiwi1_iq.wav: GPS never fixed", "the message names the file and says GPS never fixed");
    hd_kiwiwav_release(&k);
    free(buf);
    free(r.iq);

    hd_kiwiwav_encode(12001, iq, n, st, &buf, &len);
    hd_kiwiwav_parse(&k, buf, len);
    ok(hd_recording_from_kiwiwav(&r, "rec/recording.wav", &k) == HD_EFORMAT, "a file name without time refused");
    hd_kiwiwav_release(&k);
    free(buf);
    free(r.iq);
    free(st);
    free(iq);
}

/* export's stamps are the inverse of import's clock: stamps from a first
 * sample time and a rate fit back to the same time and rate */
static void test_stamps(void)
{
    const int64_t t0 = INT64_C(1709019182250000000);
    int64_t n = 512 * 100;
    int nb = 100;
    hd_kiwi_block st[100];
    int16_t *iq = calloc((size_t)n * 2, sizeof *iq);
    unsigned char *buf;
    size_t len;
    hd_kiwiwav k;
    hd_recording r;
    hd_kiwi_stamps(st, nb, t0, 12000.7, 1, 0);
    ok(st[0].gps_sec == 200000 && st[0].gps_nsec == 250000000 && st[0].last_gps_solution == 0,
       "block 0 stamped with the first sample's GPS second of week, fresh");
    ok(hd_kiwiwav_encode(12001, iq, n, st, &buf, &len) == 0 && hd_kiwiwav_parse(&k, buf, len) == 0 &&
           hd_recording_from_kiwiwav(&r, "20240301T120000Z_7100000_kiwi1_iq.wav", &k) == 0,
       "a file of these stamps reads back");
    is_double(r.clock_rate_hz, 12000.7, 1e-6, "the rate comes back from the fit");
    ok(llabs(r.t0_ns - t0) <= 1, "the first-sample time comes back (1 ns)");
    hd_kiwiwav_release(&k);
    free(buf);
    free(r.iq);
    hd_kiwi_stamps(st, nb, t0, 12000, 0, 3);
    ok(st[0].last_gps_solution == 3 && st[24].last_gps_solution == 4 && st[99].last_gps_solution == 7,
       "no GPS: last_gps_solution counts the seconds since the last fix");
    hd_kiwi_stamps(st, nb, t0, 12000, 0, 0);
    ok(st[0].last_gps_solution == 1, "no GPS: never 0 (0 means fresh)");
    free(iq);

    char line[512];
    double la, lo;
    hd_kiwi_gnss_pos_format(line, sizeof line, "kiwi1", 45.123456, 7.5, "ws://kiwi.example.org:8073/");
    is_str(line, "d.kiwi1 = struct('coord',[45.123456,7.500000],'host','kiwi.example.org','port',8073);\n",
           "gnss_pos line: coord, the host of the url, port 8073");
    ok(hd_kiwi_gnss_pos_parse(line, "kiwi1", &la, &lo) == 0 && la == 45.123456 && lo == 7.5,
       "and it parses back");
}

/* ids with '-' (muc-center): the Octave the TDoA service sources needs a
 * name without it; it derives d.<vname> by '-' -> '_' */
static void test_octave_names(const char *tmp)
{
    char line[512], v[HD_KIWI_NAME_LEN];
    double la = 0, lo = 0;
    hd_kiwi_octave_name(v, sizeof v, "muc-center");
    is_str(v, "muc_center", "muc-center is d.muc_center in Octave");
    hd_kiwi_gnss_pos_format(line, sizeof line, "muc-center", 48.137, 11.575, "");
    is_str(line, "d.muc_center = struct('coord',[48.137000,11.575000],'host','','port',8073);\n",
           "the gnss_pos line of muc-center is valid Octave");
    ok(hd_kiwi_gnss_pos_parse(line, "muc-center", &la, &lo) == 0 && la == 48.137, "and is found for muc-center");
    ok(hd_kiwi_gnss_pos_parse("d.muc-center = struct('coord',[48.5,11.5],'host','x','port',8073);\n", "muc-center",
                              &la, &lo) == 0 &&
           la == 48.5,
       "a line of an older export (d.muc-center) is still read");
    ok(hd_kiwi_gnss_pos_parse("d.JO51xl = struct('coord', [51.466044,11.977189], 'host', 'h', 'port', 8073);\n",
                              "JO51xl", &la, &lo) == 0 &&
           la == 51.466044 && lo == 11.977189,
       "the TDoA service's own spacing ('coord', [lat,lon]) parses");

    /* gnss_pos with the line in a file of another name: every .txt is read */
    char dir[1024], path[1200], found[1200] = "";
    snprintf(dir, sizeof dir, "%s/oct/gnss_pos", tmp);
    snprintf(path, sizeof path, "%s/oct", tmp);
    mkdir(path, 0777);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/all.txt", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "d.a = struct('coord',[1,2],'host','','port',8073);\nd.f1jek_p = struct('coord',[46.5,2.25],'host','',"
                "'port',8073);\n");
    fclose(fp);
    ok(hd_kiwi_gnss_pos_find(dir, "f1jek-p", &la, &lo, found, sizeof found) == 0 && la == 46.5 && lo == 2.25,
       "a station found in any gnss_pos/*.txt");
    like(found, "/oct/gnss_pos/all.txt", "the file that gave it is named");
    ok(hd_kiwi_gnss_pos_find(dir, "nobody", &la, &lo, NULL, 0) == HD_ENOTFOUND, "a station in none: HD_ENOTFOUND");
}

static void test_powder(void)
{
    hd_powder p;
    memset(&p, 0, sizeof p);
    p.R = 2;
    p.E = 2;
    int64_t t[2] = {1000, 2000};
    double la[2] = {40.76, 40.77}, lo[2] = {-111.84, -111.85};
    float rss[4] = {-70, 0, -80.5f, -90};
    uint8_t heard[4] = {1, 0, 1, 1};
    p.time_ns = t;
    p.tx_lat = la;
    p.tx_lon = lo;
    p.rss = rss;
    p.heard = heard;
    hd_event ev[1];
    hd_link lk[2];
    float feat[2 * HD_FEAT_COUNT];
    feat[HD_FEAT_COUNT + HD_FEAT_RSS_DBM] = 99;
    hd_powder_events(&p, 1, 1, ev, lk, feat);
    ok(ev[0].index == 1 && ev[0].time_ns == 2000 && ev[0].truth.lat == 40.77 && ev[0].truth.lon == -111.85 &&
           ev[0].frequency_hz == HD_POWDER_FREQUENCY_HZ,
       "a POWDER sample: its index, time, GPS truth and 462.7 MHz");
    ok(lk[0].status == HD_RX_OK && lk[0].has_levels && lk[1].has_levels && isnan(lk[0].t0_s),
       "its receivers: ok, levels, no time");
    ok(feat[HD_FEAT_RSS_DBM] == -80.5f && feat[HD_FEAT_RSS_DBFS] == -80.5f &&
           feat[HD_FEAT_COUNT + HD_FEAT_RSS_DBM] == -90,
       "RSS as rss_dbm and rss_dbfs, the rest zeroed");
}

int main(void)
{
    char tmp[] = "/tmp/test_recordings.XXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    MPI_Init(NULL, NULL);
    test_group();
    test_station(tmp);
    test_clock();
    test_stamps();
    test_octave_names(tmp);
    test_powder();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        diag("could not remove %s", tmp);
    MPI_Finalize();
    done_testing();
    return exit_status();
}
