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
#include "h5/h5.h"
#include "net/campaign.h"
#include "sim/sim.h"
#include "geo/geo.h"

#include <stdlib.h>

/* Events per collective write: about 8 MiB of IQ a block, 16 to 1024 events
 * (short captures in blocks of 16 made a collective write per 16 events,
 * which dominated a 2-rank campaign of 10 ms captures) */
static int batch_events(int slots, int n_samples, int dense)
{
    double per = (double)slots * (n_samples > 0 ? n_samples : 1) * 4;
    double b = (8 << 20) / per;
    int n = b < 16 ? 16 : b > 1024 ? 1024 : (int)b;
    if (dense) { /* whole /iq chunks: a chunk written in two collective writes is inflated and written again */
        int c = hd_captures_chunk_events(INT64_MAX, slots, n_samples);
        n = n < c ? c : n - n % c;
    }
    return n;
}


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
            "A network of more than 64 receivers takes the sparse layout (collect.layout\n"
            "auto | dense | sparse): each event holds only the receivers that heard it\n"
            "(/events/link_first, /events/link_count, /links/receiver; /iq [link, sample,\n"
            "2]). The simulator's: of the 4 x max_per_event nearest, those with a mean SNR\n"
            "of at least collect.simulate.receivers.heard_snr_db, the strongest\n"
            "max_per_event. scripts/network.sh writes a stations file of N receivers.\n"
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
    int sparse;                  /* each event: the receivers that heard it (hd_sim_heard) */
    double (*ecef)[3];           /* sparse: the stations' antennas, ECEF */
} sim_ctx;

/* The receivers of event evi into rx[HD_MAX_STATIONS]: all of them (a dense
 * network has at most HD_MAX_STATIONS), or (sparse) those that heard it. */
static int sim_receivers(const sim_ctx *s, const hd_event *evi, int *rx)
{
    if (!s->sparse) {
        for (int r = 0; r < s->R; r++)
            rx[r] = r;
        return s->R;
    }
    return hd_sim_heard(s->cfg, evi, rx, HD_MAX_STATIONS, (const double(*)[3])s->ecef);
}

/* Does event i have enough receivers? (statuses only) */
static int sim_keep(void *ctx, int64_t i)
{
    const sim_ctx *s = ctx;
    hd_event evi;
    int rc, ok = 0, n, rx[HD_MAX_STATIONS];
    if ((rc = hd_sim_event_draw(s->cfg, i, &evi)) < 0 || (n = sim_receivers(s, &evi, rx)) < 0)
        return rc < 0 ? rc : n;
    for (int k = 0; k < n; k++) {
        hd_link lk;
        if ((rc = hd_sim_render(s->cfg, &evi, rx[k], &lk, NULL, NULL)) < 0)
            return rc;
        ok += lk.status == HD_RX_OK;
    }
    return ok >= s->cfg->collect.min_receivers;
}

/* Sparse: how many receivers heard event i. */
static int sim_links(void *ctx, int64_t i)
{
    const sim_ctx *s = ctx;
    hd_event evi;
    int rx[HD_MAX_STATIONS], rc = hd_sim_event_draw(s->cfg, i, &evi);
    return rc < 0 ? rc : sim_receivers(s, &evi, rx);
}

/* Render events ids[0..n) of the campaign into the block buffers: event k's
 * receivers in its slots (R of them, or max_per_event in the sparse layout). */
static int render_batch(void *ctx, const int64_t *ids, int n, hd_event *ev, hd_link *links, int16_t *iq,
                        float *levels)
{
    const sim_ctx *s = ctx;
    int N = s->N, L = s->L, S = s->sparse ? s->cfg->collect.simulate.receivers.max_per_event : s->R;
    for (int k = 0; k < n; k++) {
        int rc = hd_sim_event_draw(s->cfg, ids[k], &ev[k]), rx[HD_MAX_STATIONS], nr;
        if (rc < 0)
            return rc;
        if (ev[k].n_samples != N || ev[k].n_levels != L)
            return hd_error(HD_EINVAL, "event %lld has %d samples, expected %d", (long long)ids[k],
                            ev[k].n_samples, N);
        if ((nr = sim_receivers(s, &ev[k], rx)) < 0)
            return hd_error_context(nr, "event %lld", (long long)ids[k]);
        if (s->sparse)
            ev[k].n_links = nr;
        for (int j = 0; j < nr; j++) {
            size_t lr = (size_t)k * (size_t)S + (size_t)j;
            rc = hd_sim_render(s->cfg, &ev[k], rx[j], &links[lr], iq + lr * (size_t)N * 2, levels + lr * (size_t)L);
            if (rc < 0)
                return hd_error_context(rc, "event %lld receiver %d", (long long)ids[k], rx[j]);
            links[lr].rx = rx[j];
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
    int sparse = cfg->collect.layout == HD_LAYOUT_SPARSE || (cfg->collect.layout == HD_LAYOUT_AUTO && R > HD_MAX_STATIONS);
    if (!sparse && R > HD_MAX_STATIONS)
        return hd_error(HD_ECONFIG, "collect.layout dense holds every receiver in every event: up to %d receivers, the "
                                    "network has %d (collect.layout sparse or auto: each event holds those that heard it)",
                        HD_MAX_STATIONS, R);
    sim_ctx s = {.cfg = cfg, .R = R, .N = ev0.n_samples, .L = ev0.n_levels, .sparse = sparse};
    hd_capture_campaign c = {.n_events = cfg->collect.events, .n_receivers = R, .n_samples = s.N,
                             .n_levels = s.L, .block = batch_events(sparse ? cfg->collect.simulate.receivers.max_per_event : R, ev0.n_samples, !sparse),
                             .keep = sim_keep, .render = render_batch,
                             .ctx = &s, .interrupted = hd_cli_interrupted,
                             .comm = size > 1 ? hd_par_comm() : MPI_COMM_NULL, .sparse = sparse,
                             .max_links = cfg->collect.simulate.receivers.max_per_event, .links = sim_links};
    if (!(eff = hd_calloc((size_t)R, sizeof *eff)))
        return HD_ENOMEM;
    if (sparse) {
        if (!(s.ecef = hd_malloc((size_t)R * sizeof *s.ecef))) {
            free(eff);
            return HD_ENOMEM;
        }
        for (int r = 0; r < R; r++)
            hd_geo_to_ecef(cfg->stations[r].lat, cfg->stations[r].lon,
                           cfg->stations[r].alt_m + cfg->stations[r].antenna_height_m, s.ecef[r]);
    }
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
                           .compression = cfg->collect.compression, .what = HD_CAPTURES_TRUTH | HD_CAPTURES_BULK |
                                   (cfg->collect.simulate.transmitter.motion != HD_MOTION_STATIC ? HD_CAPTURES_TXID : 0) |
                                   (cfg->collect.simulate.propagation.model == HD_PL_HF ? HD_CAPTURES_HF : 0) |
                                   (hd_sim_sites_displaced(cfg) ? HD_CAPTURES_SITES : 0) | HD_CAPTURES_CLOCK,
                           .source = hd_source_name(cfg->collect.source), .prov = &prov, .quiet = cli->quiet};
    if ((rc = hd_capture_campaign_write(&c, &plan, &o)) < 0)
        goto done;
    double el = hd_now() - t0;
    if (sparse)
        hd_info("wrote %lld events, %lld links (%.1f receivers per event of the network's %d; sparse layout) to %s in "
                "%.1f s (%.1f events/s, %d rank%s)",
                (long long)plan.total, (long long)plan.total_links,
                plan.total ? (double)plan.total_links / (double)plan.total : 0.0, R, cli->output, el,
                el > 0 ? (double)plan.total / el : 0.0, size, size > 1 ? "s" : "");
    else
        hd_info("wrote %lld events × %d receivers to %s in %.1f s (%.1f events/s, %d rank%s)", (long long)plan.total,
                R, cli->output, el, el > 0 ? (double)plan.total / el : 0.0, size, size > 1 ? "s" : "");
done:
    hd_capture_plan_release(&plan);
    free(eff);
    free(s.ecef);
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
    if (cfg.collect.source == HD_SOURCE_LIVE && (cfg.n_stations > HD_MAX_STATIONS || cfg.collect.layout == HD_LAYOUT_SPARSE)) {
        rc = hd_error(HD_ECONFIG, "collect.source live writes the dense layout: up to %d receivers (the stations file has "
                                  "%d%s); the sparse layout is the simulator's and import mlat's",
                      HD_MAX_STATIONS, cfg.n_stations, cfg.collect.layout == HD_LAYOUT_SPARSE ? ", collect.layout sparse" : "");
        hd_config_release(&cfg);
        return hd_cli_fail(&cli, rc);
    }
    if (cfg.collect.source == HD_SOURCE_LIVE) {
        hd_net_campaign_output o = {.path = cli.output, .force = cli.force, .command_line = cli.command_line};
        rc = hd_net_campaign_run(&cfg, &o, hd_cli_interrupted, NULL);
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
