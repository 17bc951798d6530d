/* heimdall import FORMAT INPUT… -o FILE: outside data into heimdall files,
 * one importer per format (a table, as git's commands). */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/powder_import.h"
#include "formats/recordings.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(const hd_cli *cli, const hd_config *cfg, int argc, char **inputs);
    const char *usage;
} importer;

static hd_import_out import_out(const hd_cli *cli, int compression, const hd_config *cfg)
{
    return (hd_import_out){.path = cli->output, .force = cli->force, .compression = compression,
                           .command_line = cli->command_line, .config_yaml = cfg->yaml};
}

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
    hd_import_out o = import_out(cli, cfg->featurize.compression, cfg);
    const char *inputs[] = {in[0], in[1]};
    if ((rc = hd_powder_write_features(&o, &p, inputs)) == 0) {
        const int64_t E = p.E;
        int64_t heard = 0, apr = 0;
        for (int64_t i = 0; i < E * p.R; i++)
            heard += p.heard[i];
        for (int64_t i = 0; i < E; i++)
            apr += p.month[i] == 4;
        hd_info("wrote %lld samples × %d receivers (%.1f heard per sample; %lld in April, %lld in July; %d time "
                "blocks) to %s",
                (long long)E, p.R, (double)heard / E, (long long)apr, (long long)(E - apr), p.n_blocks, cli->output);
    }
    hd_powder_release(&p);
    return rc;
}

/* Recordings (KiwiSDR wav, SigMF): one file per receiver per event, read
 * into the common form, grouped into events and receivers, written. */
static int import_recordings(const hd_cli *cli, const hd_config *cfg, int argc, char **in, const char *source,
                             int (*read)(hd_recording *r, const char *path))
{
    int rc = 0;
    hd_recording_set s = {0};
    hd_recording *f = hd_calloc((size_t)argc, sizeof *f);
    if (!f)
        return HD_ENOMEM;
    for (int i = 0; i < argc; i++)
        if ((rc = read(&f[i], in[i])) < 0)
            goto done;
    hd_import_out o = import_out(cli, cfg->collect.compression, cfg);
    if ((rc = hd_recordings_group(&s, f, argc)) < 0 || (rc = hd_recordings_stations(&s, cfg, f, argc)) < 0 ||
        (rc = hd_recordings_write_captures(&o, &s, f, argc, source, (const char *const *)in)) < 0)
        goto done;
    hd_info("wrote %d event%s × %d receivers from %d recording%s to %s", s.n_events, s.n_events == 1 ? "" : "s",
            s.n_receivers, argc, argc == 1 ? "" : "s", cli->output);
done:
    hd_recording_set_release(&s);
    hd_recordings_free(f, argc);
    return rc;
}

/* KiwiSDR TDoA recordings: event time and frequency from the file name; the
 * clock from the fit of the fresh GPS stamps */
static int import_kiwiwav(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc < 1)
        return hd_error(HD_EINVAL, "import kiwiwav needs at least one recording (*_iq.wav)");
    return import_recordings(cli, cfg, argc, in, "kiwiwav", hd_recording_read_kiwiwav);
}

/* SigMF recordings: BASE.sigmf-meta (or -data, or BASE) per receiver */
static int import_sigmf(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc < 1)
        return hd_error(HD_EINVAL, "import sigmf needs at least one recording (BASE.sigmf-meta)");
    return import_recordings(cli, cfg, argc, in, "sigmf", hd_recording_read_sigmf);
}

/* One row per format: add an importer here (name, run, usage). */
static const importer importers[] = {
    {"kiwiwav", import_kiwiwav,
     "  kiwiwav FILE_iq.wav... KiwiSDR TDoA recordings (kiwirecorder --kiwi-wav), named\n"
     "                         YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav, into a captures file: files of\n"
     "                         the same time and frequency are one event, one receiver per station\n"
     "                         (position from the stations file of -c, else gnss_pos/<station>.txt\n"
     "                         beside the recording); each file's clock is fitted to its fresh GPS\n"
     "                         stamps (/clock/rate_hz, /clock/residual_s); shorter files zero-padded\n"},
    {"sigmf", import_sigmf,
     "  sigmf BASE.sigmf-meta... SigMF recordings (ci16_le, one capture segment) into a captures file:\n"
     "                         one receiver per heimdall:station (else the file name), events by\n"
     "                         heimdall:event_time_ns (else core:datetime's second) and core:frequency;\n"
     "                         first-sample time from core:datetime, position from core:geolocation\n"},
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
                !imp ? "the first argument names a format (kiwiwav, sigmf, powder)" : "an output file is required (-o FILE)");
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc == 0)
        rc = imp->run(&cli, &cfg, cli.n_inputs - 1, cli.inputs + 1);
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
}
