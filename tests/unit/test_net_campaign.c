/* net/campaign: the live campaign on a fake clock with a fake session.
 * Scheduling (event e at first + e × interval, sleeps of at most 50 ms, an
 * overrun event followed at once), the configuration checks, events kept
 * or dropped by collect.min_receivers, the event time (earliest GPS first
 * sample down to the second; the host clock of the first S-meter message
 * with only openwebrx receivers), each link's fields, partial and
 * interrupted runs and what they leave on disk. */
#include "capture/captures.h"
#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "h5/h5.h"
#include "net/campaign.h"
#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

#define SEC 1000000000LL
#define T0 (1780300800LL * SEC + 300000000LL)   /* the fake clock's start: x.3 s */
#define MAXE 8

static const char *YAML =
    "seed: 1\n"
    "stations:\n"
    "  - {id: a, lat: 45.0, lon: 7.0, driver: kiwisdr, url: 'ws://127.0.0.1:9001/', sample_rate_hz: 12000, "
    "clock: gps}\n"
    "  - {id: b, lat: 45.1, lon: 7.1, driver: kiwisdr, url: 'ws://127.0.0.1:9002/', sample_rate_hz: 12000, "
    "clock: gps}\n"
    "  - {id: c, lat: 45.2, lon: 7.2, driver: kiwisdr, url: 'ws://127.0.0.1:9003/', sample_rate_hz: 12000, "
    "clock: gps}\n"
    "  - {id: d, lat: 45.3, lon: 7.3, driver: openwebrx, url: 'ws://127.0.0.1:9004/', gain_db: 12.5}\n"
    "collect:\n"
    "  source: live\n"
    "  events: 5\n"
    "  interval_s: 10\n"
    "  duration_s: 0.05\n"
    "  frequencies_hz: [7000000, 145500000]\n"
    "  min_receivers: 2\n"
    "  live: {level_rate_hz: 100}\n";

/* the fake world */
static int64_t now;
static int n_sleeps, long_sleeps, n_checks, interrupt_at_check;
static int64_t slept_before[MAXE], start_of[MAXE];
static int event_no;
static double freq_of[MAXE];
static const char *mod_of[MAXE];
static int n_samples_of[MAXE], n_levels_of[MAXE];
static int64_t capture_takes[MAXE];      /* how long each capture runs */
static unsigned fail_mask[MAXE];         /* receivers that fail, bit r */
static int capture_rc[MAXE];

static int64_t fake_now(void *ctx) { (void)ctx; return now; }
static void fake_sleep(void *ctx, int64_t ns)
{
    (void)ctx;
    n_sleeps++;
    long_sleeps += ns > 50000000;
    slept_before[event_no] += ns;
    now += ns;
}
static int fake_interrupted(void) { n_checks++; return interrupt_at_check && n_checks >= interrupt_at_check; }

/* GPS seconds of the week and nanoseconds of a Unix time (GPS − UTC = 18 s) */
static void to_gps(int64_t unix_ns, uint32_t *sec, uint32_t *nsec)
{
    int64_t g = unix_ns - 315964800LL * SEC + 18 * SEC;
    *sec = (uint32_t)((g / SEC) % 604800);
    *nsec = (uint32_t)(g % SEC);
}

static int fake_capture(void *ctx, const hd_station *st, int n, const hd_net_event_cfg *ec, int (*interrupted)(void),
                        int16_t *iq, float *levels, hd_net_rx *rx)
{
    (void)ctx;
    (void)interrupted;
    int e = event_no;
    start_of[e] = now;
    freq_of[e] = ec->frequency_hz;
    mod_of[e] = ec->owrx_mod;
    n_samples_of[e] = ec->n_samples;
    n_levels_of[e] = ec->n_levels;
    for (int r = 0; r < n; r++) {
        memset(&rx[r], 0, sizeof rx[r]);
        rx[r].status = fail_mask[e] >> r & 1 ? HD_RX_TIMEOUT : HD_RX_OK;
        if (rx[r].status != HD_RX_OK) {
            snprintf(rx[r].message, sizeof rx[r].message, "no reply");
            continue;
        }
        if (st[r].driver == HD_DRIVER_OPENWEBRX) {
            rx[r].has_levels = 1;
            rx[r].n_level_msgs = ec->n_levels;
            rx[r].level_rate_measured_hz = ec->level_rate_hz;
            rx[r].first_level_ns = now + 400000000LL;
            for (int l = 0; l < ec->n_levels; l++)
                levels[r * ec->n_levels + l] = (float)(-60 - e);
            continue;
        }
        /* the first sample 250 ms + r µs after the capture starts */
        to_gps(now + 250000000LL + r * 1000LL, &rx[r].gps_sec, &rx[r].gps_nsec);
        rx[r].gps_ok = r != 2;
        rx[r].last_gps_solution_s = r == 2 ? 40 : 0;
        rx[r].sample_rate_hz = 12000.5;
        rx[r].clipped_fraction = 0.01 * r;
        for (int s = 0; s < ec->n_samples * 2; s++)
            iq[((size_t)r * ec->n_samples) * 2 + s] = (int16_t)(e * 1000 + r * 100 + s % 100);
    }
    now += capture_takes[e];
    event_no++;
    return capture_rc[e];
}

static void reset_world(void)
{
    now = T0;
    n_sleeps = long_sleeps = n_checks = interrupt_at_check = event_no = 0;
    memset(slept_before, 0, sizeof slept_before);
    memset(start_of, 0, sizeof start_of);
    memset(fail_mask, 0, sizeof fail_mask);
    memset(capture_rc, 0, sizeof capture_rc);
    for (int e = 0; e < MAXE; e++)
        capture_takes[e] = 2 * SEC;
}

static hd_net_campaign_hooks HOOKS = {.now_ns = fake_now, .sleep_ns = fake_sleep, .capture = fake_capture};

/* politeness: station b busy for the first two captures; which stations each capture got */
static int polite_n[MAXE];
static char polite_first[MAXE][HD_ID_LEN];
static int polite_capture(void *ctx, const hd_station *st, int n, const hd_net_event_cfg *ec,
                          int (*interrupted)(void), int16_t *iq, float *levels, hd_net_rx *rx)
{
    int e = event_no;
    polite_n[e] = n;
    snprintf(polite_first[e], sizeof polite_first[e], "%s", st[0].id);
    int rc = fake_capture(ctx, st, n, ec, interrupted, iq, levels, rx);
    for (int r = 0; r < n; r++)
        if (e < 2 && strcmp(st[r].id, "b") == 0)
            rx[r].status = HD_RX_BUSY;
    return rc;
}
static hd_net_campaign_hooks POLITE = {.now_ns = fake_now, .sleep_ns = fake_sleep, .capture = polite_capture};

static int load(hd_config *c, const char *extra)
{
    char y[4096];
    snprintf(y, sizeof y, "%s%s", YAML, extra ? extra : "");
    int rc = hd_config_load_string(c, y, "t.yaml", NULL, 0);
    if (rc < 0)
        diag("config: %s", hd_errmsg());
    return rc;
}

static int64_t attr_int(hid_t f, const char *name)
{
    int64_t v = -1;
    hd_h5_read_attr_int(f, name, &v);
    return v;
}

int main(void)
{
    plan_no_plan();
    hd_log_set_level(HD_LOG_ERROR);   /* the campaign's warnings are expected here */
    char dir[] = "/tmp/hd-test-net-campaign.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/live.h5", dir);

    /* --- sleeping */
    reset_world();
    ok(hd_net_sleep_until(T0 - SEC, &HOOKS, NULL) == 0 && n_sleeps == 0, "a start in the past: no sleep");
    ok(hd_net_sleep_until(T0 + 120000000LL, &HOOKS, NULL) == 0, "sleep 120 ms");
    ok(n_sleeps == 3 && long_sleeps == 0 && now == T0 + 120000000LL, "in steps of 50, 50, 20 ms, to the ns");
    reset_world();
    interrupt_at_check = 4;
    ok(hd_net_sleep_until(T0 + 10 * SEC, &HOOKS, fake_interrupted) == 1, "an interruption wakes the sleep");
    ok(n_sleeps == 3 && now == T0 + 150000000LL, "within one 50 ms step");

    hd_config cfg = {0};
    if (load(&cfg, NULL) < 0)
        return exit_status() + 1;

    /* --- a campaign: event 1 loses two receivers (kept: 2 of min 2), event 2
     * overruns by 15 s, event 4 keeps only one receiver (dropped) */
    reset_world();
    fail_mask[1] = 1u | 2u;
    capture_takes[2] = 25 * SEC;
    fail_mask[4] = 1u | 2u | 8u;
    hd_net_campaign_output o = {.path = path, .command_line = "test"};
    int rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_EPARTIAL, "a receiver failed and an event was dropped: partial");
    like(hd_errmsg(), "4 of 5 events written", "says how many events were written");
    is_int(event_no, 5, "five events captured");
    is_int(start_of[0], T0, "event 0 starts at once");
    is_int(slept_before[0], 0, "without sleeping");
    is_int(start_of[1], T0 + 10 * SEC, "event 1 starts interval_s after the first, to the ns");
    is_int(slept_before[1], 8 * SEC, "after sleeping the 8 s left");
    is_int(start_of[2], T0 + 20 * SEC, "event 2 on schedule");
    is_int(start_of[3], T0 + 45 * SEC, "event 3, behind after event 2 overran, starts at once");
    is_int(slept_before[3] + slept_before[4], 0, "no sleep while behind");
    is_int(start_of[4], T0 + 47 * SEC, "event 4 right after event 3");
    is_int(long_sleeps, 0, "no sleep longer than 50 ms");
    ok(freq_of[0] == 7e6 && freq_of[1] == 145.5e6 && freq_of[4] == 7e6, "frequencies cycled");
    ok(!strcmp(mod_of[0], "usb") && !strcmp(mod_of[1], "nfm"), "openwebrx: usb below 30 MHz, nfm above");
    is_int(n_samples_of[0], 600, "IQ samples: duration × the kiwisdr rate");
    is_int(n_levels_of[0], 5, "levels: floor(duration × level_rate_hz)");

    hd_captures_reader rd;
    rc = hd_captures_open(&rd, path, MPI_COMM_NULL);
    ok(rc == 0, "the file is written");
    if (rc == 0) {
        is_int(rd.n_events, 4, "four events kept");
        hd_event ev[4];
        hd_link lk[4 * 4];
        int16_t *iq = calloc(4 * 4 * 600 * 2, sizeof *iq);
        float lv[4 * 4 * 5];
        ok(hd_captures_read_block(&rd, 0, 4, ev, lk, iq, lv) == 0, "read back");
        ok(ev[0].index == 0 && ev[1].index == 1 && ev[2].index == 2 && ev[3].index == 3, "event 4 dropped");
        /* event 0: first GPS sample at T0 + 250 ms = x.55 s → the second x */
        is_int(ev[0].time_ns, 1780300800LL * SEC, "event time: earliest GPS first sample, down to the second");
        is_int(ev[3].time_ns, (1780300800LL + 45) * SEC, "event 3's time");
        is_double(ev[0].sample_rate_hz, 12000.5, 0, "sample rate as the first ok kiwisdr announced");
        is_double(lk[0].t0_s, 0.55, 1e-9, "a's t0: 0.55 s after the event time");
        is_double(lk[1].t0_s - lk[0].t0_s, 1e-6, 1e-12, "b's 1 µs later, to the ns");
        ok(lk[0].has_iq && lk[0].gps_ok && !lk[2].gps_ok && lk[2].last_gps_solution_s == 40, "GPS fields carried");
        is_double(lk[2].clipped_fraction, 0.02, 1e-7, "clipped fraction carried");
        ok(lk[3].has_levels && !lk[3].has_iq && !lk[3].gps_ok, "openwebrx link: levels, no IQ, no GPS");
        is_double(lk[3].t0_s, 0.7, 1e-9, "openwebrx t0: its first S-meter message, host clock");
        is_double(lk[3].gain_db, 12.5, 0, "openwebrx gain: the station's, as assumed");
        ok(lk[4].status == HD_RX_TIMEOUT && isnan(lk[4].t0_s) && lk[5].status == HD_RX_TIMEOUT,
           "event 1: failed links keep their status, t0 NaN");
        is_int(lk[6].status, HD_RX_OK, "event 1: c ok");
        is_int(ev[1].time_ns, (1780300800LL + 10) * SEC, "event 1's time from c alone");
        ok(iq[(1 * 4 + 2) * 600 * 2 + 5] == 1205 && iq[(3 * 4 + 0) * 600 * 2 + 7] == 3007,
           "IQ stored per kept event, per receiver");
        ok(lv[(2 * 4 + 3) * 5] == -62.0f && lv[(3 * 4 + 3) * 5 + 4] == -63.0f, "levels stored per kept event");
        is_int(attr_int(rd.file, "partial"), 1, "partial = 1");
        is_int(attr_int(rd.file, "interrupted"), 0, "interrupted = 0");
        free(iq);
        hd_captures_release(&rd);
    }

    /* --- the existing file is not overwritten without force */
    reset_world();
    rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_EEXIST, "an existing output refused without force");
    unlink(path);

    /* --- interrupted while waiting for event 2 */
    reset_world();
    interrupt_at_check = 0;
    /* checks: before event 0, 1 (one per sleep step plus the one after),
     * … : interrupt a few sleep steps into the wait for event 2 */
    int checks_to_event2;
    {
        hd_config c1 = {0};
        load(&c1, NULL);
        c1.collect.events = 2;
        char p1[300];
        snprintf(p1, sizeof p1, "%s/two.h5", dir);
        hd_net_campaign_output o1 = {.path = p1, .command_line = "test"};
        hd_net_campaign_run(&c1, &o1, fake_interrupted, &HOOKS);
        checks_to_event2 = n_checks;
        unlink(p1);
        hd_config_release(&c1);
    }
    reset_world();
    interrupt_at_check = checks_to_event2 + 5;
    rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_EPARTIAL, "interrupted after two events: partial");
    like(hd_errmsg(), "interrupted; 2 of 5 events written", "says interrupted, 2 of 5 written");
    is_int(event_no, 2, "no event captured after the interruption");
    ok(now < T0 + 20 * SEC, "the wait for event 2 cut short");
    if (hd_captures_open(&rd, path, MPI_COMM_NULL) == 0) {
        ok(rd.n_events == 2 && attr_int(rd.file, "interrupted") == 1 && attr_int(rd.file, "partial") == 1,
           "the file holds the two events, marked interrupted and partial");
        hd_captures_release(&rd);
    } else {
        ok(0, "the file holds the two events, marked interrupted and partial");
    }
    unlink(path);

    /* --- interrupted before any event: nothing written */
    reset_world();
    interrupt_at_check = 1;
    rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_EINTR, "interrupted before any event: HD_EINTR");
    ok(access(path, F_OK) != 0, "and no file");

    /* --- the session itself interrupted during event 1 */
    reset_world();
    capture_rc[1] = HD_EINTR;
    rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_EPARTIAL, "a session interrupted mid-event: partial");
    is_int(event_no, 2, "no event after it");
    if (hd_captures_open(&rd, path, MPI_COMM_NULL) == 0) {
        ok(rd.n_events == 2 && attr_int(rd.file, "interrupted") == 1, "what it captured is kept, marked interrupted");
        hd_captures_release(&rd);
    } else {
        ok(0, "what it captured is kept, marked interrupted");
    }
    unlink(path);

    /* --- every event dropped: nothing written */
    reset_world();
    for (int e = 0; e < 5; e++)
        fail_mask[e] = 0xf;
    rc = hd_net_campaign_run(&cfg, &o, fake_interrupted, &HOOKS);
    is_int(rc, HD_ENET, "no receiver ever succeeded: HD_ENET");
    like(hd_errmsg(), "no event captured (5 dropped)", "says so");
    ok(access(path, F_OK) != 0, "and no file");

    /* --- only openwebrx receivers: the event time is the host clock's */
    hd_config ow = {0};
    if (load(&ow, NULL) == 0) {
        reset_world();
        fail_mask[0] = 7;  /* a, b, c fail; d ok */
        ow.collect.events = 1;
        ow.collect.min_receivers = 1;
        rc = hd_net_campaign_run(&ow, &o, fake_interrupted, &HOOKS);
        is_int(rc, HD_EPARTIAL, "openwebrx alone: partial (the others failed)");
        if (hd_captures_open(&rd, path, MPI_COMM_NULL) == 0) {
            hd_event ev;
            hd_link lk[4];
            hd_captures_read_block(&rd, 0, 1, &ev, lk, NULL, NULL);
            is_int(ev.time_ns, 1780300800LL * SEC, "event time: the first S-meter message (x.7 s), down to the second");
            is_double(lk[3].t0_s, 0.7, 1e-9, "its t0 relative to that");
            hd_captures_release(&rd);
        } else {
            ok(0, "openwebrx-only file written");
        }
        unlink(path);
        hd_config_release(&ow);
    }

    /* --- configuration checks, before any connection */
    struct {
        const char *yaml, *want;
    } bad[] = {
        {"seed: 1\nstations:\n  - {id: a, lat: 45, lon: 7, driver: kiwisdr, url: 'ws://h:1/'}\n"
         "  - {id: b, lat: 46, lon: 7, driver: kiwisdr, url: 'ws://H:1/x'}\ncollect: {source: live}\n",
         "name the same server (h:1)"},
        {"seed: 1\nstations:\n  - {id: a, lat: 45, lon: 7, driver: kiwisdr}\ncollect: {source: live}\n", "has no url"},
        {"seed: 1\nstations:\n  - {id: a, lat: 45, lon: 7, driver: simulate, url: 'ws://h:1/'}\n"
         "collect: {source: live}\n",
         "has driver simulate"},
        {"seed: 1\nstations:\n  - {id: a, lat: 45, lon: 7, driver: kiwisdr, url: 'ws://h:1/', sample_rate_hz: 12000}\n"
         "  - {id: b, lat: 46, lon: 7, driver: kiwisdr, url: 'ws://h:2/', sample_rate_hz: 24000}\n"
         "collect: {source: live}\n",
         "one IQ sample rate"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        hd_config c = {0};
        if (hd_config_load_string(&c, bad[k].yaml, "bad.yaml", NULL, 0) < 0) {
            ok(0, "bad config %zu loads: %s", k, hd_errmsg());
            ok(0, "-");
            continue;
        }
        reset_world();
        rc = hd_net_campaign_run(&c, &o, fake_interrupted, &HOOKS);
        ok(rc == HD_ECONFIG && event_no == 0, "refused before any capture (%s)", bad[k].want);
        like(hd_errmsg(), bad[k].want, "message");
        hd_config_release(&c);
    }
    ok(access(path, F_OK) != 0, "nothing written by a refused config");

    /* --- politeness: 0.1 s of listening each, 0.05 s per capture; b busy
     * twice (not listening: not counted) */
    {
        hd_config c = {0};
        const char *sets[] = {"collect.live.max_listen_s=0.1", "collect.min_receivers=1"};
        ok(hd_config_load_string(&c, YAML, "t.yaml", sets, 2) == 0, "a campaign with max_listen_s 0.1");
        reset_world();
        unlink(path);
        rc = hd_net_campaign_run(&c, &o, fake_interrupted, &POLITE);
        is_int(rc, HD_EPARTIAL, "cut short by the budget: partial");
        is_int(event_no, 4, "four captures, then no receiver has time left (the fifth not attempted)");
        ok(polite_n[0] == 4 && polite_n[1] == 4 && polite_n[2] == 1 && polite_n[3] == 1,
           "every receiver for two captures, then only b (busy twice: its budget untouched)");
        is_str(polite_first[2], "b", "the third capture connects b alone");
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        int rank;
        hsize_t dims[8];
        uint8_t *stv = NULL;
        int16_t *iqv = NULL;
        ok(f >= 0 && hd_h5_read(f, "status", H5T_NATIVE_UINT8, &rank, dims, (void **)&stv) == 0 && dims[0] == 4,
           "four events written");
        ok(stv && stv[2 * 4 + 0] == HD_RX_NOT_RUN && stv[2 * 4 + 1] == HD_RX_OK && stv[2 * 4 + 2] == HD_RX_NOT_RUN &&
               stv[2 * 4 + 3] == HD_RX_NOT_RUN && stv[0 * 4 + 1] == HD_RX_BUSY,
           "event 2: b ok, the others not run; event 0: b busy");
        ok(f >= 0 && hd_h5_read(f, "iq", H5T_NATIVE_INT16, &rank, dims, (void **)&iqv) == 0, "IQ read");
        if (iqv) {
            size_t per = (size_t)dims[2] * 2, ev2 = 2 * 4 * per;
            int zero_a = 1, b_ok = 1;
            for (size_t s2 = 0; s2 < per; s2++) {
                zero_a &= iqv[ev2 + s2] == 0;
                b_ok &= iqv[ev2 + per + s2] == (int16_t)(2 * 1000 + 0 * 100 + s2 % 100);
            }
            ok(zero_a && b_ok, "b's samples in b's row (captured as the capture's first), zeros for a");
        }
        free(stv);
        free(iqv);
        if (f >= 0)
            H5Fclose(f);
        hd_config_release(&c);
        unlink(path);
    }

    hd_config_release(&cfg);
    rmdir(dir);
    done_testing();
    return exit_status();
}
