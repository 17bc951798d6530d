/* heimdall calibrate -o calib.h5 FEATURES.h5…: a network's calibration
 * learnt from events with truth (eval/calibrate.h), printed per receiver and
 * saved for localize/evaluate --calibration. */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "eval/calibrate.h"
#include "features/features.h"
#include "formats/known_sources.h"
#include "h5/h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_cmd_calibrate_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall calibrate [-c exp.yaml] [--set KEY=VALUE]... [--known-sources FILE]\n"
            "                          -o calib.h5 FEATURES.h5...\n"
            "\n"
            "Learn a network's calibration from events with a known transmitter (/truth: a\n"
            "simulated campaign, beacons, a walk with a GPS), once, to apply it later to new\n"
            "campaigns of the same receivers (localize/evaluate --calibration calib.h5, or\n"
            "localize.calibration). Several files are pooled; receivers are matched by id.\n"
            "Per receiver:\n"
            "  RSS offset (dB) with its sigma, and the network's path-loss exponent and\n"
            "    shadowing sigma (the log-distance fit with a free source term per event;\n"
            "    offsets of mean zero over the receivers heard: only differences matter);\n"
            "  clock offset (ns) with its sigma: the time differences turned into arrival\n"
            "    times, minus the truth's travel times (in 3-D from the truth's height,\n"
            "    lengthened by localize.refractivity_n as the solver models them), fitted as\n"
            "    a per-event emission time plus a per-receiver offset (mean zero over the\n"
            "    receivers timed; late time stamps positive); links beyond 3 robust sigma\n"
            "    of the fit dropped and the fit repeated until they stay the same;\n"
            "  position check: the timing residuals refitted with a shift of each receiver\n"
            "    from its advertised position (Gauss-Newton on the ranges to the known\n"
            "    transmitters): the displacement (east, north) the data put it at, flagged\n"
            "    DISPLACED when over 4 sigma and 100 m\n"
            "    (needs time differences; level-only data such as POWDER has none).\n"
            "Sparse files (collect.layout sparse: any number of receivers, each event\n"
            "holding those that heard it) are fitted on per-event link lists: offsets of\n"
            "mean zero within each group of receivers that share events; the position\n"
            "check on each receiver's own links, flagged on the shift's Mahalanobis\n"
            "distance with the bound widened for its few links. localize/evaluate\n"
            "--calibration apply it to each event's own receivers. Files of both layouts\n"
            "together are refused.\n"
            "Prints a table per receiver; writes calib.h5 (format calibration: /receivers,\n"
            "/calibration/* per receiver with sigmas and link counts, the exponent and\n"
            "sigma as attributes, the events learnt from, provenance with the inputs'\n"
            "sha256). A file without /truth is refused (exit 2, nothing written), unless\n"
            "--known-sources FILE gives the transmitters' positions: a CSV table with the\n"
            "header id,lat,lon,alt,frequency (degrees, metres, Hz; # comments); an event\n"
            "without truth within 1 kHz of a source's frequency was sent from it. A\n"
            "malformed line is refused with its FILE:LINE (exit 2, nothing written).\n"
            "\n"
            "Options:\n"
            "      --known-sources FILE  transmitters at known positions (repeaters, beacons)\n"
            "\n"
            "Config: the localize: section (rss_exponent as the start, tx_alt_m,\n"
            "outlier_sigma).\n"
            "\n");
    hd_cli_common_usage(out);
}

static void print_table(const hd_calib *c)
{
    char known[64] = "";
    if (c->n_events_known)
        snprintf(known, sizeof known, ", %lld of them by known sources", (long long)c->n_events_known);
    printf("calibration of %d receivers from %lld events with truth (%lld with RSS, %lld with time differences%s)\n",
           c->R, (long long)c->n_events, (long long)c->n_events_rss, (long long)c->n_events_tdoa, known);
    if (isfinite(c->rss_exponent))
        printf("  RSS: path-loss exponent %.2f, shadowing sigma %.1f dB, covariance scale %.2f\n", c->rss_exponent,
               c->rss_sigma_db, c->rss_cov_scale);
    else
        printf("  RSS: not fitted (too few links with a calibrated level)\n");
    printf("  %-24s %22s %6s %24s %6s %22s\n", "receiver", "rss offset dB", "links", "clock offset ns", "links",
           "position check m");
    for (int r = 0; r < c->R; r++) {
        char rss[40] = "-", clk[40] = "-", pos[64] = "-";
        if (isfinite(c->rss_offset_db[r]))
            snprintf(rss, sizeof rss, "%+.2f ± %.2f", c->rss_offset_db[r], c->rss_offset_sigma_db[r]);
        if (isfinite(c->clock_offset_ns[r]))
            snprintf(clk, sizeof clk, "%+.1f ± %.1f", c->clock_offset_ns[r], c->clock_offset_sigma_ns[r]);
        if (isfinite(c->disp_m[r]))
            snprintf(pos, sizeof pos, "%.0f ± %.0f%s", c->disp_m[r], c->disp_sigma_m[r],
                     c->displaced[r] ? " DISPLACED" : "");
        printf("  %-24s %22s %6lld %24s %6lld %22s\n", c->st[r].id, rss, (long long)c->rss_links[r], clk,
               (long long)c->clock_links[r], pos);
    }
    for (int r = 0; r < c->R; r++)
        if (c->displaced[r])
            printf("  %s: its time differences put it %.0f m from its advertised position (%.0f m east, %.0f m "
                   "north): check its coordinates\n",
                   c->st[r].id, c->disp_m[r], c->disp_east_m[r], c->disp_north_m[r]);
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    const int n = cli->n_inputs;
    hd_features_reader **rd = hd_calloc((size_t)n, sizeof *rd);
    hd_calib c;
    hd_h5_out out;
    int out_open = 0, rc = 0, opened = 0, nks = 0;
    hd_known_source *ks = NULL;
    double *kv = NULL;
    memset(&c, 0, sizeof c);
    if (!rd)
        return HD_ENOMEM;
    hd_calib_sources src = {0};
    if (cli->known_sources) { /* read first: a malformed table writes nothing */
        if ((rc = hd_known_sources_read(cli->known_sources, &ks, &nks)) < 0 ||
            !(kv = hd_malloc((size_t)nks * 4 * sizeof *kv))) {
            rc = rc < 0 ? rc : HD_ENOMEM;
            goto fail;
        }
        for (int j = 0; j < nks; j++) {
            kv[j] = ks[j].lat;
            kv[nks + j] = ks[j].lon;
            kv[2 * nks + j] = ks[j].alt_m;
            kv[3 * nks + j] = ks[j].frequency_hz;
        }
        src = (hd_calib_sources){nks, kv, kv + nks, kv + 2 * nks, kv + 3 * nks, HD_KNOWN_SOURCE_TOL_HZ};
    }
    for (; opened < n; opened++) {
        if (!(rd[opened] = hd_calloc(1, sizeof **rd))) {
            rc = HD_ENOMEM;
            goto fail;
        }
        if ((rc = hd_features_open_sparse(rd[opened], cli->inputs[opened], MPI_COMM_NULL)) < 0) {
            free(rd[opened]);
            goto fail;
        }
    }
    if ((rc = hd_calib_fit_sources(&c, rd, (const char *const *)cli->inputs, n, &cfg->localize, &src)) < 0)
        goto fail;
    hd_runinfo_set_events(c.n_events);
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    hd_h5_provenance prov = {.format = HD_FORMAT_CALIBRATION, .version = HD_CALIBRATION_VERSION,
                             .command_line = cli->command_line, .config_yaml = cfg->yaml,
                             .inputs = (const char *const *)cli->inputs, .n_inputs = n};
    if ((rc = hd_calib_write(&c, out.file)) < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0)
        goto fail;
    if (hd_cli_interrupted()) {
        rc = hd_error(HD_EINTR, "interrupted; %s not written", cli->output);
        goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    print_table(&c);
    hd_info("wrote %s", cli->output);
fail:
    if (out_open)
        hd_h5_abort(&out);
    for (int k = 0; k < opened; k++) {
        hd_features_release(rd[k]);
        free(rd[k]);
    }
    free(rd);
    free(ks);
    free(kv);
    hd_calib_release(&c);
    return rc;
}

int hd_cmd_calibrate(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    int st = hd_cli_parse(&cli, hd_cmd_find("calibrate"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    if (!cli.output || cli.n_inputs < 1) {
        fprintf(stderr, "heimdall calibrate: error: %s\nTry 'heimdall calibrate --help'.\n",
                !cli.output ? "an output file is required (-o calib.h5)" : "at least one features file is required");
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc == 0)
        rc = run(&cli, &cfg);
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : rc;
}
