/* heimdall import FORMAT INPUT… -o FILE: outside data into heimdall files,
 * one importer per format (a table, as git's commands). */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "features/features.h"
#include "formats/powder.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(const hd_cli *cli, const hd_config *cfg, int argc, char **inputs);
    const char *usage;
} importer;

/* POWDER: the CSV and receivers list into a features file (level-only
 * receivers: RSS features, no time differences), with bus positions per
 * sample, the GPS truth and the honest splits. */
static int import_powder(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc != 2)
        return hd_error(HD_EINVAL, "import powder needs CSV and RECEIVERS (got %d input%s)", argc, argc == 1 ? "" : "s");
    hd_powder p;
    int rc = hd_powder_read(&p, in[0], in[1], 5);
    if (rc < 0)
        return rc;
    const int R = p.R, F = HD_FEAT_COUNT, P = hd_features_npairs(R);
    const int64_t E = p.E;
    hd_h5_out out;
    hd_features_writer w;
    int out_open = 0, w_open = 0;
    const int64_t B = 512;
    hd_sim_event *ev = hd_calloc((size_t)B, sizeof *ev);
    hd_sim_link *lk = hd_calloc((size_t)(B * R), sizeof *lk);
    float *feat = hd_calloc((size_t)(B * R * F), sizeof *feat), *psr = hd_calloc((size_t)(B * P), sizeof *psr);
    double *delay = hd_calloc((size_t)(B * P), sizeof *delay), *sigma = hd_calloc((size_t)(B * P), sizeof *sigma);
    uint8_t *tmask = hd_calloc((size_t)(B * P), 1);
    int8_t *kind = hd_calloc((size_t)R, 1);
    if (!ev || !lk || !feat || !psr || !delay || !sigma || !tmask || !kind) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, p.st, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, E, R, 1, cfg->featurize.compression, 0, 0)) < 0)
        goto fail;
    w_open = 1;
    for (int64_t first = 0; first < E; first += B) {
        int n = (int)(E - first < B ? E - first : B);
        memset(feat, 0, (size_t)(n * R * F) * sizeof *feat);
        for (int i = 0; i < n; i++) {
            int64_t e = first + i;
            hd_sim_event *v = &ev[i];
            memset(v, 0, sizeof *v);
            v->index = e;
            v->time_ns = p.time_ns[e];
            v->frequency_hz = HD_POWDER_FREQUENCY_HZ;
            v->sample_rate_hz = 2e6;
            v->tx_lat = p.tx_lat[e];
            v->tx_lon = p.tx_lon[e];
            v->tx_alt_m = v->tx_height_m = v->tx_power_dbm = v->tx_gain_dbi = v->tx_freq_offset_hz = NAN;
            v->signal_type = -1;
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r, k = (size_t)i * R + r;
                hd_sim_link *l = &lk[k];
                memset(l, 0, sizeof *l);
                l->status = HD_RX_OK;
                l->has_levels = p.heard[o];
                l->t0_s = l->gain_db = NAN;
                l->distance_m = l->path_loss_db = l->shadowing_db = l->fading_db = l->rx_power_dbm = NAN;
                l->noise_dbm = l->snr_db = l->arrival_s = l->true_t0_s = l->clock_error_s = NAN;
                l->lo_offset_hz = l->sample_rate_error_ppm = l->freq_offset_hz = NAN;
                if (p.heard[o]) {
                    feat[k * F + HD_FEAT_RSS_DBFS] = p.rss[o];
                    feat[k * F + HD_FEAT_RSS_DBM] = p.rss[o];
                }
            }
        }
        if ((rc = hd_features_write_block(&w, first, n, ev, lk, feat, p.heard + first * R, delay, sigma, psr, tmask,
                                          NULL)) < 0)
            goto fail;
    }
    hd_features_close(&w);
    w_open = 0;
    hsize_t d2[2] = {(hsize_t)E, (hsize_t)R}, d1[1] = {(hsize_t)E}, dr[1] = {(hsize_t)R};
    for (int r = 0; r < R; r++)
        kind[r] = (int8_t)p.is_bus[r];
    hid_t g = H5Gcreate2(out.file, "splits", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        rc = hd_error(HD_EIO, "cannot create /splits");
        goto fail;
    }
    H5Gclose(g);
    if ((rc = hd_h5_write(out.file, "rx_lat", H5T_NATIVE_DOUBLE, 2, d2, p.rx_lat, "degree",
                          "receiver latitude per sample (buses move; NaN when a bus did not report)")) < 0 ||
        (rc = hd_h5_write(out.file, "rx_lon", H5T_NATIVE_DOUBLE, 2, d2, p.rx_lon, "degree",
                          "receiver longitude per sample")) < 0 ||
        (rc = hd_h5_write(out.file, "receivers/is_bus", H5T_NATIVE_INT8, 1, dr, kind, "1",
                          "1 for a bus-mounted receiver (position per sample in /rx_lat, /rx_lon)")) < 0 ||
        (rc = hd_h5_write(out.file, "splits/month", H5T_NATIVE_INT8, 1, d1, p.month, "1",
                          "calendar month of the sample: split by month (April vs July)")) < 0 ||
        (rc = hd_h5_write(out.file, "splits/time_block", H5T_NATIVE_INT8, 1, d1, p.block, "1",
                          "contiguous time block of the sample (equal counts in time order): hold one out")) < 0 ||
        (rc = hd_h5_attr_int(out.file, "time_blocks", p.n_blocks)) < 0 ||
        (rc = hd_h5_attr_str(out.file, "source", "POWDER outdoor RSS data set (University of Utah), 462.7 MHz; "
                                                 "RSS uncalibrated per receiver; timestamps read as UTC-6")) < 0)
        goto fail;
    hd_runinfo_set_events(E);
    {
        const char *inputs[] = {in[0], in[1]};
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = 2};
        if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    int64_t heard = 0, apr = 0;
    for (int64_t i = 0; i < E * R; i++)
        heard += p.heard[i];
    for (int64_t i = 0; i < E; i++)
        apr += p.month[i] == 4;
    hd_info("wrote %lld samples × %d receivers (%.1f heard per sample; %lld in April, %lld in July; %d time blocks) "
            "to %s",
            (long long)E, R, (double)heard / E, (long long)apr, (long long)(E - apr), p.n_blocks, cli->output);
fail:
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    hd_powder_release(&p);
    free(ev);
    free(lk);
    free(feat);
    free(psr);
    free(delay);
    free(sigma);
    free(tmask);
    free(kind);
    return rc;
}

static const importer importers[] = {
    {"powder", import_powder,
     "  powder CSV RECEIVERS   the POWDER outdoor RSS data set (datasets/powder/): a features file of\n"
     "                         level-only receivers (RSS as rss_dbm, uncalibrated; -101 = not heard,\n"
     "                         masked), bus positions per sample (/rx_lat, /rx_lon; -1 = no report),\n"
     "                         GPS truth, and splits /splits/month and /splits/time_block (5 contiguous\n"
     "                         blocks in time order)\n"},
};

void hd_cmd_import_usage(FILE *out)
{
    fprintf(out, "usage: heimdall import FORMAT INPUT... -o FILE\n\nFormats:\n");
    for (size_t i = 0; i < HD_ARRAY_LEN(importers); i++)
        fputs(importers[i].usage, out);
    fputc('\n', out);
    hd_cli_common_usage(out);
}

int hd_cmd_import(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    int st = hd_cli_parse(&cli, hd_cmd_find("import"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    const importer *imp = NULL;
    for (size_t i = 0; cli.n_inputs > 0 && i < HD_ARRAY_LEN(importers); i++)
        if (strcmp(cli.inputs[0], importers[i].name) == 0)
            imp = &importers[i];
    if (!cli.output || !imp) {
        fprintf(stderr, "heimdall import: error: %s\nTry 'heimdall import --help'.\n",
                !imp ? "the first argument names a format (powder)" : "an output file is required (-o FILE)");
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc == 0)
        rc = imp->run(&cli, &cfg, cli.n_inputs - 1, cli.inputs + 1);
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
}
