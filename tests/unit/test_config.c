/* config: the embedded default, every error kind with file:line:column,
 * --set overrides, stations inline and by relative path, the resolved
 * dump's round trip. */
#include "config/config.h"
#include "core/error.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ST = "stations:\n  - {id: a, lat: 45, lon: 7}\n  - {id: b, lat: 45.5, lon: 8}\n";

static int load_str(hd_config *c, const char *body, const char *const *sets, int n)
{
    char y[4096];
    snprintf(y, sizeof y, "%s%s", ST, body);
    return hd_config_load_string(c, y, "t.yaml", sets, n);
}

#define ERR(body, sets, n, want, name) do { hd_config c_; int rc_ = load_str(&c_, body, sets, n); \
    ok(rc_ == HD_ECONFIG, "%s: refused", name); like(hd_errmsg(), want, name); hd_config_release(&c_); } while (0)

int main(void)
{
    plan_no_plan();
    hd_config c;
    ok(hd_config_load(&c, NULL, NULL, 0) == 0, "embedded default loads");
    is_int(c.n_stations, 7, "seven nw-italy stations");
    is_str(c.stations[0].name, "Aquila di Giaveno", "first station");
    is_double(c.stations[6].lat, 45.478, 1e-12, "Milano-Baggio latitude");
    is_double(c.stations[6].lon, 9.123, 1e-12, "Milano-Baggio longitude");
    is_int(c.stations[3].driver, HD_DRIVER_OPENWEBRX, "Coazze is an OpenWebRX server");
    is_int(c.stations[2].driver, HD_DRIVER_KIWISDR, "Torino (port 8073) a KiwiSDR");
    like(c.stations[2].url, "vst-aero.it:8073", "the public receivers have their URLs");
    is_int(c.collect.simulate.receivers.driver, HD_DRIVER_KIWISDR, "default simulates KiwiSDR-like IQ receivers");
    is_int(c.collect.events, 400, "default events");
    is_int(c.collect.n_frequencies, 2, "two bands");
    like(c.yaml, "exponent: 3.0", "resolved config has every key");
    char h1[65], h2[65];
    hd_config_sha256(&c, h1);
    hd_config c2;
    ok(hd_config_load_string(&c2, c.yaml, "dump", NULL, 0) == 0, "resolved config loads back");
    is_str(c2.yaml, c.yaml, "and dumps identically (round trip)");
    hd_config_sha256(&c2, h2);
    is_str(h2, h1, "sha256 stable");
    ok(c2.n_stations == c.n_stations && memcmp(c2.stations, c.stations, (size_t)c.n_stations * sizeof *c.stations) == 0,
       "stations identical after the round trip");
    ok(c2.collect.start_ns == c.collect.start_ns && c2.collect.simulate.transmitter.power_dbm[1] == 37, "values identical");
    hd_config_release(&c);
    hd_config_release(&c2);
    ok(hd_config_load_string(&c, hd_embedded_file("smoke.yaml"), "<embedded:smoke.yaml>", NULL, 0) == 0, "smoke loads");
    is_int(c.collect.events, 6, "smoke has six events");
    hd_config_release(&c);

    ERR("collect: {events: [1, 2\n", NULL, 0, "t.yaml:5:1: malformed YAML", "malformed YAML");
    ERR("collect:\n  evnts: 3\n", NULL, 0, "t.yaml:5:3: unknown key 'evnts' in collect (did you mean 'events'?)", "unknown key");
    ERR("colect:\n  events: 3\n", NULL, 0, "t.yaml:4:1: unknown key 'colect' (did you mean 'collect'?)", "unknown section");
    ERR("collect:\n  events: many\n", NULL, 0, "t.yaml:5:11: collect.events: expected an integer, got 'many'", "wrong type");
    ERR("collect:\n  duration_s: '3'\n", NULL, 0, "t.yaml:5:15: collect.duration_s: expected a number", "quoted number");
    ERR("collect:\n  events: 0\n", NULL, 0, "t.yaml:5:11: collect.events: 0 is out of range [1, 10000000]", "out of range");
    ERR("collect:\n  simulate:\n    propagation: {model: okumura}\n", NULL, 0,
        "t.yaml:6:26: collect.simulate.propagation.model: 'okumura' is not one of: log-distance, hata, free-space", "bad enum");
    ERR("collect:\n  events: 3\n  events: 4\n", NULL, 0, "t.yaml:6:3: duplicate key 'events'", "duplicate key");
    ERR("collect:\n  simulate:\n    transmitter: {power_dbm: [40, 30]}\n", NULL, 0, "min 40 is greater than max 30", "range min > max");
    ERR("collect:\n  simulate:\n    transmitter: {signal_types: [cw, cw]}\n", NULL, 0, "'cw' is listed twice", "duplicate list item");
    ERR("seed: -1\n", NULL, 0, "t.yaml:4:7: seed: must not be negative", "negative seed");
    ERR("- just\n- a list\n", NULL, 0, "t.yaml:4:1: ", "a list is not a config");

    hd_config d;
    ok(hd_config_load_string(&d, "stations:\n  - {id: a, lat: 45, lon: 7}\n  - {id: a, lat: 46, lon: 7}\n", "s.yaml", NULL, 0) ==
           HD_ECONFIG, "duplicate station id refused");
    like(hd_errmsg(), "s.yaml:3:10: duplicate station id 'a'", "named at the second one");
    ok(hd_config_load_string(&d, "stations:\n  - {id: a, lon: 7}\n", "s.yaml", NULL, 0) == HD_ECONFIG, "missing lat refused");
    like(hd_errmsg(), "s.yaml:2:5: station 1: missing required key 'lat'", "names the station and key");
    ok(hd_config_load_string(&d, "stations:\n  - {id: A!, lat: 1, lon: 7}\n", "s.yaml", NULL, 0) == HD_ECONFIG, "bad id refused");
    ok(hd_config_load_string(&d, "stations:\n  - {id: a, lat: 1, lon: 7, url: ftp://x}\n", "s.yaml", NULL, 0) == HD_ECONFIG,
       "bad url scheme refused");
    /* one source of defaults: a config is the default plus what it states */
    {
        hd_config def, bare;
        ok(hd_config_load(&def, NULL, NULL, 0) == 0 && hd_config_load_string(&bare, "seed: 1\n", "s.yaml", NULL, 0) == 0,
           "a config of 'seed: 1' alone loads (no stations: the default network)");
        ok(bare.stations_default && !def.stations_default, "and says its stations are the default's");
        is_str(bare.stations_path, "stations/nw-italy.yaml", "the default's network");
        /* every key of configs/default.yaml equals the schema's default */
        int same = strcmp(def.yaml, bare.yaml) == 0;
        ok(same, "the schema's defaults are the values of configs/default.yaml");
        if (!same) /* the first line that differs */
            for (const char *a = def.yaml, *b = bare.yaml; *a && *b;) {
                const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
                if (!ea || !eb) break;
                if (ea - a != eb - b || strncmp(a, b, (size_t)(ea - a))) {
                    diag("default.yaml: %.*s / schema: %.*s", (int)(ea - a), a, (int)(eb - b), b);
                    break;
                }
                a = ea + 1;
                b = eb + 1;
            }
        hd_config_release(&def);
        hd_config_release(&bare);
    }

    /* --set */
    const char *s1[] = {"collect.events=12", "collect.simulate.propagation.exponent=2.5",
                        "collect.frequencies_hz=[1.0e8, 4.3e8]", "seed=99"};
    ok(load_str(&c, "", s1, 4) == 0, "--set overrides apply");
    ok(c.collect.events == 12 && c.collect.simulate.propagation.exponent == 2.5 && c.collect.n_frequencies == 2 &&
           c.collect.frequencies_hz[1] == 4.3e8 && c.seed == 99, "int, double, list and top-level values set");
    hd_config_release(&c);
    const char *s2[] = {"collect.simulate.region.lat_min=44.1"};
    ok(load_str(&c, "", s2, 1) == HD_ECONFIG, "--set creating a half region is checked");
    const char *s3[] = {"collect.evnts=3"};
    ERR("", s3, 1, "--set collect.evnts=3: unknown key 'evnts' in collect (did you mean 'events'?)", "bad --set key");
    const char *s4[] = {"collect.events=abc"};
    ERR("", s4, 1, "--set collect.events=abc: collect.events: expected an integer, got 'abc'", "bad --set value");
    const char *s5[] = {"collect.events"};
    ERR("", s5, 1, "expected --set KEY=VALUE", "--set without =");
    const char *s6[] = {"collect.simulate.receivers.driver=as-stations"};
    ok(load_str(&c, "", s6, 1) == 0 && c.collect.simulate.receivers.driver == HD_AS_STATIONS, "as-stations accepted");
    hd_config_release(&c);

    /* stations by relative path, with clock-dependent defaults */
    char dir[] = "/tmp/hd-test-config.XXXXXX";
    if (mkdtemp(dir)) {
        char p1[256], p2[256], sub[256];
        snprintf(sub, sizeof sub, "%s/st", dir);
        mkdir(sub, 0755);
        snprintf(p1, sizeof p1, "%s/exp.yaml", dir);
        snprintf(p2, sizeof p2, "%s/st/net.yaml", dir);
        FILE *f = fopen(p2, "w");
        fprintf(f, "note: test\nstations:\n  - {id: g, lat: 45, lon: 7, clock: gps}\n  - {id: f, lat: 46, lon: 7}\n");
        fclose(f);
        f = fopen(p1, "w");
        fprintf(f, "stations: st/net.yaml\ncollect: {events: 3}\n");
        fclose(f);
        ok(hd_config_load(&c, p1, NULL, 0) == 0, "stations file relative to the config");
        ok(c.n_stations == 2 && c.stations[0].clock == HD_CLOCK_GPS && c.stations[0].clock_sigma_ns == 100 &&
               c.stations[1].clock_sigma_ns == 1e7 && c.stations[1].lo_ppm == 1.0, "clock-dependent defaults");
        is_str(c.stations[1].name, "f", "name defaults to id");
        hd_config_release(&c);
        f = fopen(p2, "w");
        fprintf(f, "statons:\n  - {id: g, lat: 45, lon: 7}\n");
        fclose(f);
        ok(hd_config_load(&c, p1, NULL, 0) == HD_ECONFIG, "bad stations file refused");
        like(hd_errmsg(), "st/net.yaml:1:1: unknown key 'statons' in a stations file (did you mean 'stations'?)",
             "with the stations file's own position");
        unlink(p2);
        ok(hd_config_load(&c, p1, NULL, 0) == HD_ECONFIG, "missing stations file refused");
        like(hd_errmsg(), "cannot read", "and says so");
        unlink(p1);
        ok(hd_config_load(&c, p1, NULL, 0) == HD_ECONFIG, "missing config refused as a config error");
        rmdir(sub);
        rmdir(dir);
    }
    done_testing();
    return exit_status();
}
