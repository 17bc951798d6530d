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

static const char *tz_name; /* --tz ZONE (powder) */

/* POWDER: the CSV and receivers list into a features file (level-only
 * receivers: RSS features, no time differences), with bus positions per
 * sample, the GPS truth and the honest splits. */
static int import_powder(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc != 2)
        return hd_error(HD_EINVAL, "import powder needs CSV and RECEIVERS (got %d input%s)", argc, argc == 1 ? "" : "s");
    hd_powder p;
    int rc = hd_powder_read(&p, in[0], in[1], 5, tz_name);
    if (rc < 0)
        return rc;
    hd_import_out o = import_out(cli, cfg->featurize.compression, cfg);
    const char *inputs[] = {in[0], in[1]};
    if ((rc = hd_powder_write_features(&o, &p, inputs)) == 0) {
        const int64_t E = p.E;
        int64_t heard = 0, per[13] = {0};
        for (int64_t i = 0; i < E * p.R; i++)
            heard += p.heard[i];
        for (int64_t i = 0; i < E; i++)
            per[p.month[i] >= 1 && p.month[i] <= 12 ? p.month[i] : 0]++;
        char months[512] = "";
        size_t off = 0;
        for (int m = 1; m <= 12; m++)
            if (per[m] && off < sizeof months)
                off += (size_t)snprintf(months + off, sizeof months - off, "%s%lld in %s", off ? ", " : "",
                                        (long long)per[m], hd_powder_month_name(m));
        hd_info("wrote %lld samples × %d receivers (%.1f heard per sample; %s; %d time blocks; local time %s) to %s",
                (long long)E, p.R, (double)heard / E, months, p.n_blocks, p.tz, cli->output);
    }
    hd_powder_release(&p);
    return rc;
}

/* Recordings (KiwiSDR wav, SigMF): one file per receiver per event, read
 * into the common form, grouped into events and receivers, written. */
static const char *positions_path; /* --positions FILE */

static int import_recordings(const hd_cli *cli, const hd_config *cfg, int argc, char **in, const char *source,
                             int (*read)(hd_recording *r, const char *path))
{
    int rc = 0, have_pos = 0;
    hd_recording_set s = {0};
    hd_positions pos;
    hd_recording *f = hd_calloc((size_t)argc, sizeof *f);
    if (!f)
        return HD_ENOMEM;
    if (positions_path && (rc = hd_positions_read(&pos, positions_path)) < 0)
        goto done;
    have_pos = positions_path != NULL;
    for (int i = 0; i < argc; i++)
        if ((rc = read(&f[i], in[i])) < 0)
            goto done;
    hd_import_out o = import_out(cli, cfg->collect.compression, cfg);
    if ((rc = hd_recordings_group(&s, f, argc, cfg)) < 0 ||
        (rc = hd_recordings_stations(&s, cfg, have_pos ? &pos : NULL, f, argc)) < 0)
        goto done;
    for (int r = 0; r < s.n_receivers; r++)
        hd_info("station %s: %.6f, %.6f from %s", s.stations[r].id, s.stations[r].lat, s.stations[r].lon,
                s.source[r]);
    if ((rc = hd_recordings_write_captures(&o, &s, f, argc, source, (const char *const *)in)) < 0)
        goto done;
    hd_info("wrote %d event%s × %d receivers from %d recording%s to %s", s.n_events, s.n_events == 1 ? "" : "s",
            s.n_receivers, argc, argc == 1 ? "" : "s", cli->output);
done:
    if (have_pos)
        hd_positions_release(&pos);
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
int hd_import_mlat(const hd_cli *cli, const hd_config *cfg, int argc, char **inputs); /* import_mlat.c */

static const importer importers[] = {
    {"kiwiwav", import_kiwiwav,
     "  kiwiwav FILE_iq.wav... KiwiSDR TDoA recordings (kiwirecorder --kiwi-wav), named\n"
     "                         YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav, into a captures file: files of\n"
     "                         the same time and frequency are one event, one receiver per station;\n"
     "                         each file's clock is fitted to its fresh GPS stamps (/clock/rate_hz,\n"
     "                         /clock/residual_s); shorter files zero-padded\n"},
    {"sigmf", import_sigmf,
     "  sigmf BASE.sigmf-meta... SigMF recordings (ci16_le, one capture segment) into a captures file:\n"
     "                         one receiver per heimdall:station (else the file name), events by\n"
     "                         heimdall:event_time_ns (else core:datetime's second) and core:frequency;\n"
     "                         first-sample time from core:datetime\n"},
    {"powder", import_powder,
     "  powder CSV RECEIVERS   the POWDER outdoor RSS data set (datasets/powder/): a features file of\n"
     "                         level-only receivers (RSS as rss_dbm, uncalibrated; -101 = not heard,\n"
     "                         masked), bus positions per sample (/rx_lat, /rx_lon; -1 = no report),\n"
     "                         GPS truth, and splits /splits/month (1..12, local time) and\n"
     "                         /splits/time_block (5 contiguous blocks in time order)\n"
     "      --tz ZONE          the time zone of the CSV's local timestamps, a tz database name\n"
     "                         (default America/Denver: daylight time applied where it was in force)\n"},
    {"mlat", hd_import_mlat,
     "  mlat SENSORS.csv MESSAGES.csv...  ADS-B multilateration messages (LocaRDS, GPS-timed receivers) into\n"
     "                         a features file: the receivers that occur, /toa/time_ns arrival times, /tdoa\n"
     "                         pair differences (sigma by clock type, import.mlat.*), the barometric\n"
     "                         altitude as /obs/alt_m, the aircraft's position as /truth\n"},
};

void hd_cmd_import_usage(FILE *out)
{
    fprintf(out, "usage: heimdall import FORMAT INPUT... -o FILE [--positions FILE] [--tz ZONE]\n\nFormats:\n");
    for (size_t i = 0; i < HD_ARRAY_LEN(importers); i++)
        fputs(importers[i].usage, out);
    fprintf(out,
            "\nStation positions of recordings (kiwiwav, sigmf), the first that has the station:\n"
            "  the stations file of -c (else the embedded default's), the recording's own position\n"
            "  (SigMF core:geolocation), gnss_pos/*.txt beside the recording, gnss_pos/*.txt beside its\n"
            "  parent folder (the KiwiSDR TDoA layout iq/<files> with gnss_pos/ beside iq/), then\n"
            "      --positions FILE  a CSV of lines id,lat,lon[,alt_m] (degrees, metres), or a stations\n"
            "                        YAML file (.yaml: a `stations:` list with id, lat, lon, alt_m)\n"
            "  Each station's source is printed; a station found in none is refused (exit 2).\n"
            "  Receivers keep the order of the stations file, then that of the command line.\n\n");
    hd_cli_common_usage(out);
}

/* --positions FILE and --tz ZONE (or --opt=VALUE), import's own options:
 * taken out of argv before the common options are parsed; the recorded
 * command line keeps them. 0, or 2 after a usage error. */
static int take_positions(int *argc, char **argv)
{
    static const struct {
        const char *name;
        const char **value;
    } own[] = {{"--positions", &positions_path}, {"--tz", &tz_name}};
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        size_t k = 0, l = 0;
        for (; k < HD_ARRAY_LEN(own); k++) {
            l = strlen(own[k].name);
            if (strncmp(argv[i], own[k].name, l) == 0 && (argv[i][l] == 0 || argv[i][l] == '='))
                break;
        }
        if (k < HD_ARRAY_LEN(own)) {
            const char *v = argv[i][l] == '=' ? argv[i] + l + 1 : i + 1 < *argc ? argv[++i] : NULL;
            if (!v || !*v) {
                fprintf(stderr, "heimdall import: error: option %s needs a value\n"
                                "Try 'heimdall import --help'.\n", own[k].name);
                return 2;
            }
            *own[k].value = v;
            continue;
        }
        argv[n++] = argv[i];
    }
    *argc = n;
    return 0;
}

int hd_cmd_import(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    char **args = hd_calloc((size_t)argc + 1, sizeof *args), line[sizeof cli.command_line];
    if (!args)
        return hd_cli_fail(&(hd_cli){.cmd = "import"}, HD_ENOMEM);
    memcpy(args, argv, (size_t)argc * sizeof *args);
    size_t off = 0;
    for (int i = 0; i < argc && off < sizeof line - 1; i++) /* as hd_cli_parse records it */
        off += (size_t)snprintf(line + off, sizeof line - off, "%s%s", i ? " " : "heimdall ", argv[i]);
    int nargs = argc, st = take_positions(&nargs, args);
    if (!st)
        st = hd_cli_parse(&cli, hd_cmd_find("import"), nargs, args);
    if (st) {
        free(args);
        return st == 1 ? 0 : 2;
    }
    memcpy(cli.command_line, line, sizeof line);
    const importer *imp = NULL;
    for (size_t i = 0; cli.n_inputs > 0 && i < HD_ARRAY_LEN(importers); i++)
        if (strcmp(cli.inputs[0], importers[i].name) == 0)
            imp = &importers[i];
    if (!cli.output || !imp) {
        fprintf(stderr, "heimdall import: error: %s\nTry 'heimdall import --help'.\n",
                !imp ? "the first argument names a format (kiwiwav, sigmf, powder, mlat)" : "an output file is required (-o FILE)");
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc == 0)
        rc = imp->run(&cli, &cfg, cli.n_inputs - 1, cli.inputs + 1);
    hd_config_release(&cfg);
    rc = rc < 0 ? hd_cli_fail(&cli, rc) : 0;
    free(args);
    return rc;
}
