/* heimdall collect: capture a campaign of events into captures.h5.
 * Sources: the simulated receiver network (collect.source: simulate) and
 * live KiwiSDR / OpenWebRX receivers (collect.source: live). */
#include "capture/campaign.h"
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "net/kiwi.h"
#include "net/session.h"
#include "sim/sim.h"

#include <math.h>
#include <time.h>

#include <stdlib.h>
#include <string.h>

#define BATCH 16


void hd_cmd_collect_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall collect [-c exp.yaml] [--set KEY=VALUE]... -o captures.h5\n"
            "\n"
            "Capture a campaign of transmission events heard by every receiver of the\n"
            "network and write captures.h5: IQ [event, receiver, sample, 2] int16 with\n"
            "GPS first-sample time stamps, signal levels for level-only receivers, each\n"
            "link's status, and /truth when the source is simulated.\n"
            "\n"
            "Sources (collect.source):\n"
            "  simulate   the physics simulator of the receiver network (default):\n"
            "             transmitters drawn in the region, propagation (path loss,\n"
            "             shadowing, fading, multipath), receivers (LO and clock errors,\n"
            "             thermal noise, gain, int16 quantization)\n"
            "  live       the receivers of the stations file (url ws://host:port), all\n"
            "             of an event at once in one loop: driver kiwisdr gives IQ with\n"
            "             GPS time stamps; driver openwebrx gives S-meter levels (dBFS,\n"
            "             collect.live.level_rate_hz of them per second, held when the\n"
            "             server sends fewer; nfm, usb below 30 MHz). Each receiver's\n"
            "             exact failure is recorded (refused, timeout, busy, auth,\n"
            "             protocol, disconnected); an event is kept when\n"
            "             collect.min_receivers succeeded. KiwiSDR passwords come from\n"
            "             HEIMDALL_PASSWORD_<STATION ID> (upper case, '-' as '_').\n"
            "             wss:// certificates are verified (HEIMDALL_CA_BUNDLE: a CA file).\n"
            "             Ctrl-C writes what was captured, marked partial. One\n"
            "             connection per server: two stations naming the same\n"
            "             host:port are refused\n"
            "  kiwiwav, sigmf   recordings on disk: use heimdall import kiwiwav|sigmf\n"
            "\n"
            "Runs alone or under MPI (mpirun -np N heimdall collect ...): events are\n"
            "split in contiguous blocks per rank and written collectively; the file is\n"
            "identical whatever the number of ranks.\n"
            "\n");
    hd_cli_common_usage(out);
    fprintf(out,
            "\nExit status: 0 ok, 1 runtime failure, 2 usage or config error, 3 partial\n"
            "(live: a receiver failed, an event was dropped or the run was interrupted),\n"
            "130 interrupted. An interrupted simulated run leaves no file under the\n"
            "output name.\n");
}

/* The simulated campaign: what hd_capture_campaign_write needs to render it. */
typedef struct {
    const hd_config *cfg;
    int R, N, L;
} sim_ctx;

/* Does event i have enough receivers? (statuses only) */
static int sim_keep(void *ctx, int64_t i)
{
    const sim_ctx *s = ctx;
    hd_event evi;
    int rc, ok = 0;
    if ((rc = hd_sim_event_draw(s->cfg, i, &evi)) < 0)
        return rc;
    for (int r = 0; r < s->R; r++) {
        hd_link lk;
        if ((rc = hd_sim_render(s->cfg, &evi, r, &lk, NULL, NULL)) < 0)
            return rc;
        ok += lk.status == HD_RX_OK;
    }
    return ok >= s->cfg->collect.min_receivers;
}

/* Render events ids[0..n) of the campaign into the block buffers. */
static int render_batch(void *ctx, const int64_t *ids, int n, hd_event *ev, hd_link *links, int16_t *iq,
                        float *levels)
{
    const sim_ctx *s = ctx;
    int R = s->R, N = s->N, L = s->L;
    for (int k = 0; k < n; k++) {
        int rc = hd_sim_event_draw(s->cfg, ids[k], &ev[k]);
        if (rc < 0)
            return rc;
        if (ev[k].n_samples != N || ev[k].n_levels != L)
            return hd_error(HD_EINVAL, "event %lld has %d samples, expected %d", (long long)ids[k],
                            ev[k].n_samples, N);
        for (int r = 0; r < R; r++) {
            size_t lr = (size_t)k * (size_t)R + (size_t)r;
            rc = hd_sim_render(s->cfg, &ev[k], r, &links[lr], iq + lr * (size_t)N * 2, levels + lr * (size_t)L);
            if (rc < 0)
                return hd_error_context(rc, "event %lld receiver %d", (long long)ids[k], r);
        }
    }
    return 0;
}

static int collect_simulate(const hd_cli *cli, const hd_config *cfg)
{
    int rc, size = hd_par_size(), R = cfg->n_stations;
    hd_event ev0;
    hd_capture_plan plan = {0};
    hd_station *eff = NULL;
    double t0 = hd_now();

    if ((rc = hd_sim_event_draw(cfg, 0, &ev0)) < 0)
        return rc;
    sim_ctx s = {.cfg = cfg, .R = R, .N = ev0.n_samples, .L = ev0.n_levels};
    hd_capture_campaign c = {.n_events = cfg->collect.events, .n_receivers = R, .n_samples = s.N,
                             .n_levels = s.L, .block = BATCH, .keep = sim_keep, .render = render_batch,
                             .ctx = &s, .interrupted = hd_cli_interrupted,
                             .comm = size > 1 ? hd_par_comm() : MPI_COMM_NULL};
    if (!(eff = hd_calloc((size_t)R, sizeof *eff)))
        return HD_ENOMEM;
    if ((rc = hd_capture_plan_init(&plan, &c)) < 0)
        goto done;
    hd_runinfo_set_events(cfg->collect.events); /* simulated, kept or dropped */
    if (plan.dropped)
        hd_info("%lld of %lld events dropped: fewer than collect.min_receivers = %d receivers succeeded",
                (long long)plan.dropped, (long long)c.n_events, cfg->collect.min_receivers);
    for (int r = 0; r < R; r++)
        hd_sim_station(cfg, r, &eff[r]);
    hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                             .command_line = cli->command_line, .config_yaml = cfg->yaml};
    hd_capture_output o = {.path = cli->output, .force = cli->force, .receivers = eff,
                           .compression = cfg->collect.compression, .what = HD_CAPTURES_TRUTH | HD_CAPTURES_BULK,
                           .source = hd_source_name(cfg->collect.source), .prov = &prov, .quiet = cli->quiet};
    if ((rc = hd_capture_campaign_write(&c, &plan, &o)) < 0)
        goto done;
    double el = hd_now() - t0;
    hd_info("wrote %lld events × %d receivers to %s in %.1f s (%.1f events/s, %d rank%s)", (long long)plan.total,
            R, cli->output, el, el > 0 ? (double)plan.total / el : 0.0, size, size > 1 ? "s" : "");
done:
    hd_capture_plan_release(&plan);
    free(eff);
    return rc;
}

/* Sleep until t_ns (Unix), waking for Ctrl-C. */
static void sleep_until(int64_t t_ns)
{
    while (!hd_cli_interrupted()) {
        int64_t left = t_ns - hd_time_now_ns();
        if (left <= 0)
            return;
        if (left > 50000000)
            left = 50000000;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
}

static int collect_live(const hd_cli *cli, const hd_config *cfg)
{
    int rc = 0, R = cfg->n_stations, E = cfg->collect.events;
    const hd_collect_cfg *cc = &cfg->collect;
    /* IQ at the kiwisdr stations' rate; levels at collect.live.level_rate_hz
     * (as the simulator counts them: floor(duration × rate), at least 1) */
    int first_kiwi = -1;
    for (int r = 0; r < R && first_kiwi < 0; r++)
        if (cfg->stations[r].driver == HD_DRIVER_KIWISDR)
            first_kiwi = r;
    double fs = cfg->stations[first_kiwi >= 0 ? first_kiwi : 0].sample_rate_hz;
    int N = (int)llround(cc->duration_s * fs);
    int L = (int)floor(cc->duration_s * cc->live.level_rate_hz);
    if (L < 1)
        L = 1;
    hd_event *ev = hd_calloc((size_t)E, sizeof *ev);
    hd_link *links = hd_calloc((size_t)E * (size_t)R, sizeof *links);
    int16_t *iq = hd_calloc((size_t)E * (size_t)R * (size_t)N * 2, sizeof *iq);
    float *levels = hd_calloc((size_t)E * (size_t)R * (size_t)L, sizeof *levels);
    hd_net_rx *rx = hd_calloc((size_t)R, sizeof *rx);
    hd_h5_out out;
    int out_open = 0, partial = 0, interrupted = 0;
    hd_captures_writer w = {0};
    int64_t kept = 0, dropped = 0, t_start = hd_time_now_ns();

    if (!ev || !links || !iq || !levels || !rx) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int r = 0; r < R; r++)
        if (!cfg->stations[r].url[0] ||
            (cfg->stations[r].driver != HD_DRIVER_KIWISDR && cfg->stations[r].driver != HD_DRIVER_OPENWEBRX)) {
            rc = hd_error(HD_ECONFIG, "collect.source live: station '%s' %s", cfg->stations[r].id,
                          !cfg->stations[r].url[0] ? "has no url (set it in the stations file)"
                                                   : "has driver simulate (live capture needs kiwisdr or openwebrx)");
            goto fail;
        }
    for (int r = 0; r < R; r++) { /* one connection per server */
        char a[320], b[320];
        if ((rc = hd_net_url_server(cfg->stations[r].url, a, sizeof a)) < 0)
            goto fail;
        for (int q = 0; q < r; q++)
            if (hd_net_url_server(cfg->stations[q].url, b, sizeof b) == 0 && !strcmp(a, b)) {
                rc = hd_error(HD_ECONFIG,
                              "collect.source live: stations '%s' and '%s' name the same server (%s): one "
                              "connection per server, list it once",
                              cfg->stations[q].id, cfg->stations[r].id, a);
                goto fail;
            }
    }
    for (int r = 0; r < R; r++)
        if (cfg->stations[r].driver == HD_DRIVER_KIWISDR && cfg->stations[r].sample_rate_hz != fs) {
            rc = hd_error(HD_ECONFIG, "live capture needs one IQ sample rate: station '%s' has %g Hz, '%s' %g Hz",
                          cfg->stations[r].id, cfg->stations[r].sample_rate_hz, cfg->stations[first_kiwi].id, fs);
            goto fail;
        }
    for (int e = 0; e < E && !interrupted; e++) {
        if (e > 0)
            sleep_until(t_start + (int64_t)(e * cc->interval_s * 1e9));
        if (hd_cli_interrupted()) {
            interrupted = 1;
            break;
        }
        hd_net_event_cfg ec = {.frequency_hz = cc->frequencies_hz[e % cc->n_frequencies], .n_samples = N,
                               .passband_hz = cc->live.passband_hz, .timeout_ms = (int)(cc->live.timeout_s * 1e3),
                               .retries = cc->live.retries, .backoff_s = cc->live.backoff_s,
                               .max_message = (size_t)cc->live.max_message_kib * 1024, .seed = cfg->seed,
                               .n_levels = L, .level_rate_hz = cc->live.level_rate_hz, .duration_s = cc->duration_s};
        ec.owrx_mod = ec.frequency_hz < 30e6 ? "usb" : "nfm";
        int16_t *eiq = iq + (size_t)kept * (size_t)R * (size_t)N * 2;
        float *elv = levels + (size_t)kept * (size_t)R * (size_t)L;
        int64_t wall = hd_time_now_ns();
        rc = hd_net_capture_event(cfg->stations, R, &ec, hd_cli_interrupted, eiq, elv, rx);
        if (rc == HD_EINTR) {
            interrupted = 1;
            rc = 0;
        } else if (rc < 0) {
            goto fail;
        }
        /* the event's time: the earliest GPS first sample, down to the second;
         * with only openwebrx receivers, the host clock at the earliest first
         * S-meter message */
        int n_ok = 0, n_iq = 0;
        int64_t first = INT64_MAX, first_host = INT64_MAX;
        double ev_fs = fs;
        for (int r = 0; r < R; r++) {
            if (rx[r].status != HD_RX_OK) {
                partial = 1;
                hd_warn("event %d: %s: %s%s%s", e, cfg->stations[r].id, hd_rx_status_name(rx[r].status),
                        rx[r].message[0] ? ": " : "", rx[r].message);
                continue;
            }
            n_ok++;
            if (cfg->stations[r].driver == HD_DRIVER_OPENWEBRX) {
                first_host = rx[r].first_level_ns < first_host ? rx[r].first_level_ns : first_host;
                if (rx[r].levels_held)
                    hd_warn("event %d: %s: %d S-meter messages for %d levels (%.3g/s measured): held", e,
                            cfg->stations[r].id, rx[r].n_level_msgs, L, rx[r].level_rate_measured_hz);
                else if (isinf(rx[r].level_rate_measured_hz) && L > 1)
                    hd_warn("event %d: %s: the server sent all %d S-meter messages at once, faster than "
                            "collect.live.level_rate_hz %g: the %d levels span no time, not %g s",
                            e, cfg->stations[r].id, rx[r].n_level_msgs, cc->live.level_rate_hz, L, cc->duration_s);
                else if (rx[r].level_rate_measured_hz > 1.25 * cc->live.level_rate_hz && L > 1)
                    /* a faster server fills the series early: it spans less time than asked */
                    hd_warn("event %d: %s: the server sends %.3g S-meter messages/s, more than "
                            "collect.live.level_rate_hz %g: the %d levels span %.3g s, not %g s",
                            e, cfg->stations[r].id, rx[r].level_rate_measured_hz, cc->live.level_rate_hz, L,
                            (L - 1) / rx[r].level_rate_measured_hz, cc->duration_s);
                if (rx[r].have_server_gps) {
                    double d = 0;
                    hd_geo_inverse(cfg->stations[r].lat, cfg->stations[r].lon, rx[r].server_lat, rx[r].server_lon,
                                   &d, NULL, NULL);
                    if (d > 5000)
                        hd_warn("%s: the server says it is at %.5f, %.5f, %.1f km from the stations file's position",
                                cfg->stations[r].id, rx[r].server_lat, rx[r].server_lon, d / 1e3);
                }
                hd_debug("event %d: %s: openwebrx %s, %d users, %d levels at %.3g/s", e, cfg->stations[r].id,
                         rx[r].version[0] ? rx[r].version : "(version unknown)", rx[r].users, rx[r].n_level_msgs,
                         rx[r].level_rate_measured_hz);
                continue;
            }
            int64_t t = hd_kiwi_gps_unix_ns(rx[r].gps_sec, rx[r].gps_nsec, wall);
            first = t < first ? t : first;
            if (n_iq++ == 0)
                ev_fs = rx[r].sample_rate_hz;
            if (rx[r].gaps)
                hd_warn("event %d: %s: %d sequence gaps (%lld frames lost, zero-filled)", e, cfg->stations[r].id,
                        rx[r].gaps, (long long)rx[r].missing_frames);
        }
        hd_info("event %d: %d of %d receivers ok", e, n_ok, R);
        if (n_ok == 0 || n_ok < cc->min_receivers) {
            dropped++;
            partial = 1;
            hd_warn("event %d dropped: %d receivers succeeded (collect.min_receivers = %d)", e, n_ok,
                    cc->min_receivers);
            continue;
        }
        hd_event *v = &ev[kept];
        memset(v, 0, sizeof *v);
        v->index = e;
        if (first == INT64_MAX)
            first = first_host;
        v->time_ns = first / 1000000000LL * 1000000000LL;
        v->frequency_hz = ec.frequency_hz;
        v->sample_rate_hz = ev_fs;
        v->n_samples = N;
        v->n_levels = L;
        v->level_rate_hz = cc->live.level_rate_hz;
        for (int r = 0; r < R; r++) {
            hd_link *lk = &links[(size_t)kept * (size_t)R + (size_t)r];
            memset(lk, 0, sizeof *lk);
            lk->status = rx[r].status;
            if (rx[r].status != HD_RX_OK) {
                lk->t0_s = NAN;
                continue;
            }
            if (cfg->stations[r].driver == HD_DRIVER_OPENWEBRX) {
                /* levels in dBFS; the server's gain is not on the wire: the
                 * station's gain_db is recorded as the assumed one */
                lk->has_levels = 1;
                lk->gps_ok = 0;
                lk->t0_s = (double)(rx[r].first_level_ns - v->time_ns) * 1e-9;
                lk->gain_db = cfg->stations[r].gain_db;
                continue;
            }
            lk->has_iq = 1;
            lk->gps_ok = rx[r].gps_ok;
            lk->last_gps_solution_s = rx[r].last_gps_solution_s;
            lk->t0_s = (double)(hd_kiwi_gps_unix_ns(rx[r].gps_sec, rx[r].gps_nsec, wall) - v->time_ns) * 1e-9;
            lk->gain_db = cfg->stations[r].gain_db;   /* AGC off, manGain set to it (session.c) */
            lk->clipped_fraction = rx[r].clipped_fraction;
        }
        kept++;
    }
    if (interrupted)
        partial = 1;
    if (kept == 0) {
        rc = interrupted ? hd_error(HD_EINTR, "interrupted before any event was captured; %s not written", cli->output)
                         : hd_error(HD_ENET, "no event captured (%lld dropped); %s not written", (long long)dropped,
                                    cli->output);
        goto fail;
    }
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, cfg->stations, R)) < 0 ||
        (rc = hd_captures_create(&w, out.file, kept, R, N, L, cc->compression, HD_CAPTURES_BULK)) < 0 ||
        (rc = hd_captures_write_block(&w, 0, kept, ev, links, iq, levels)) < 0)
        goto fail;
    hd_captures_close(&w);
    {
        hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml};
        if ((rc = hd_h5_attr_str(out.file, "source", "live")) < 0 ||
            (rc = hd_h5_attr_int(out.file, "partial", partial)) < 0 ||
            (rc = hd_h5_attr_int(out.file, "interrupted", interrupted)) < 0 ||
            (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    out_open = 0;
    hd_info("wrote %lld events × %d receivers to %s%s", (long long)kept, R, cli->output,
            interrupted ? " (interrupted: partial)" : partial ? " (partial)" : "");
    if (partial)
        rc = hd_error(HD_EPARTIAL, "partial: %s%lld of %d events written, receivers failed (see above)",
                      interrupted ? "interrupted; " : "", (long long)kept, E);
fail:
    hd_captures_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    free(ev);
    free(links);
    free(iq);
    free(levels);
    free(rx);
    return rc;
}

int hd_cmd_collect(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    const hd_cmd *self = hd_cmd_find("collect");
    int st = hd_cli_parse(&cli, self, argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    if (!cli.output) {
        fprintf(stderr, "heimdall collect: error: an output file is required (-o captures.h5)\n"
                        "Try 'heimdall collect --help'.\n");
        return 2;
    }
    if (cli.n_inputs) {
        fprintf(stderr, "heimdall collect: error: unexpected argument '%s' (collect takes no inputs)\n",
                cli.inputs[0]);
        return 2;
    }
    hd_cli_catch_signals();

    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc < 0)
        return hd_cli_fail(&cli, rc);
    if (cfg.collect.source == HD_SOURCE_LIVE) {
        rc = collect_live(&cli, &cfg);
        hd_config_release(&cfg);
        if (rc == HD_EPARTIAL) {
            fprintf(stderr, "heimdall collect: %s\n", hd_errmsg());
            return hd_exit_status(rc);
        }
        return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
    }
    if (cfg.collect.source != HD_SOURCE_SIMULATE) {
        rc = hd_error(HD_ECONFIG,
                      "collect.source '%s': recordings come in through heimdall import %s (collect "
                      "takes simulate or live)",
                      hd_source_name(cfg.collect.source), hd_source_name(cfg.collect.source));
        hd_config_release(&cfg);
        return hd_cli_fail(&cli, rc);
    }
    rc = collect_simulate(&cli, &cfg);
    hd_config_release(&cfg);
    if (rc < 0)
        return hd_cli_fail(&cli, rc);
    return 0;
}
