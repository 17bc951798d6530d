/* heimdall: the command table and dispatch. A command parses its options,
 * loads its config, calls the library and prints; no algorithm lives here. */
#include "cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "h5/h5.h"
#include "nn/blas.h"

#include <fftw3.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_help(int argc, char **argv);
static void help_usage(FILE *out);
static int cmd_version(int argc, char **argv);
static void version_usage(FILE *out);

static const hd_cmd commands[] = {
    {"collect", hd_cmd_collect, HD_CMD_MPI, "capture a campaign of events: the simulated network, or live KiwiSDR / OpenWebRX receivers",
     hd_cmd_collect_usage},
    {"featurize", hd_cmd_featurize, HD_CMD_MPI | HD_CMD_PROFILE,
     "spectra, SNR, frequency offset and GCC-PHAT time differences: captures.h5 -> features.h5", hd_cmd_featurize_usage},
    {"train", hd_cmd_train, HD_CMD_MPI | HD_CMD_RESUME | HD_CMD_METHOD | HD_CMD_CALIB,
     "train the network (set model or MLP) on features with truth, data-parallel: features.h5 -> model.h5",
     hd_cmd_train_usage},
    {"localize", hd_cmd_localize, HD_CMD_LOCATE | HD_CMD_HEATMAP,
     "positions with 68 %/95 % uncertainty ellipses (TDOA, RSS, hybrid, network) -> GeoJSON, KML, JSON lines",
     hd_cmd_localize_usage},
    {"evaluate", hd_cmd_evaluate, HD_CMD_LOCATE | HD_CMD_TRUTH,
     "score a method against /truth: error percentiles, calibration, CRLB -> eval.h5, report.json, plots",
     hd_cmd_evaluate_usage},
    {"calibrate", hd_cmd_calibrate, HD_CMD_SOURCES,
     "learn per-receiver RSS and clock offsets and check positions from events with truth: features.h5... -> calib.h5",
     hd_cmd_calibrate_usage},
    {"track", hd_cmd_track, 0,
     "follow transmitters over time: fixes -> Kalman + RTS smoothed tracks (GeoJSON, KML, JSON lines, tracks.h5)",
     hd_cmd_track_usage},
    {"import", hd_cmd_import, 0, "outside data into heimdall files (kiwiwav, sigmf, powder, mlat)", hd_cmd_import_usage},
    {"export", hd_cmd_export, 0, "captures into outside formats: one file per event x receiver (kiwiwav, sigmf)",
     hd_cmd_export_usage},
    {"stations", hd_cmd_stations, 0,
     "stations check: probe every live station (reachable, version, users, GPS, position); stations import: the KiwiSDR list -> a stations file",
     hd_cmd_stations_usage},
    {"verify", hd_cmd_verify, 0, "check the sha256 chain of outputs and inputs, and outputs against the config",
     hd_cmd_verify_usage},
    {"stamp", hd_cmd_stamp, 0, "write a stage's config stamp for make (only when it changed)", hd_cmd_stamp_usage},
    {"info", hd_cmd_info, 0, "describe a heimdall HDF5 file: format, provenance, datasets, summary", hd_cmd_info_usage},
    {"help", cmd_help, 0, "show help for heimdall or one command", help_usage},
    {"version", cmd_version, 0, "print the version and git commit", version_usage},
};

const hd_cmd *hd_cmd_find(const char *name)
{
    for (size_t i = 0; i < HD_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void main_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall <command> [options] [inputs]\n"
            "\n"
            "Locate radio transmitters from what several distributed web SDR receivers heard.\n"
            "Stage commands read a YAML config and HDF5 files and write HDF5 files:\n"
            "\n"
            "  heimdall collect   -c exp.yaml -o captures.h5\n"
            "  heimdall featurize -c exp.yaml -o features.h5 captures.h5\n"
            "  heimdall localize  -c exp.yaml -o positions.geojson features.h5\n"
            "  heimdall evaluate  -c exp.yaml -o eval.h5 features.h5\n"
            "\n"
            "Before a live campaign, check its receivers: heimdall stations check -c exp.yaml\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < HD_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].flags & HD_CMD_MPI ? " [MPI]" : "");
    fprintf(out,
            "\n"
            "Run 'heimdall <command> --help' for a command's options.\n"
            "Without -c, commands use the embedded default config (configs/default.yaml).\n"
            "Commands marked [MPI] also run under mpirun or srun, splitting events over ranks.\n"
            "PROJ, OpenBLAS and libxml2 are opened when first needed; HEIMDALL_PROJ_LIB,\n"
            "HEIMDALL_BLAS_LIB (any CBLAS) and HEIMDALL_XML2_LIB name other files to open.\n");
}

static void help_usage(FILE *out)
{
    fprintf(out, "usage: heimdall help [command]\n\nShow the list of commands, or one command's help.\n");
}

static void version_usage(FILE *out)
{
    fprintf(out, "usage: heimdall version   (or heimdall --version)\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("heimdall %s (git %s)\n", hd_version(), hd_git_commit());
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    /* what make bench names the machine by: the BLAS kernels this CPU gets */
    printf("libraries: HDF5 %u.%u.%u, %s, %s (core %s)\n", maj, min, rel, fftwf_version, hd_blas_config(),
           hd_blas_corename());
    return 0;
}

static int unknown_command(const char *name)
{
    const char *names[HD_ARRAY_LEN(commands)];
    for (size_t i = 0; i < HD_ARRAY_LEN(commands); i++)
        names[i] = commands[i].name;
    int k = hd_closest(name, names, (int)HD_ARRAY_LEN(commands));
    fprintf(stderr, "heimdall: error: '%s' is not a heimdall command", name);
    if (k >= 0)
        fprintf(stderr, " (did you mean '%s'?)", names[k]);
    fprintf(stderr, "\nRun 'heimdall help' for the list of commands.\n");
    return 2;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stdout);
        return 0;
    }
    const hd_cmd *c = hd_cmd_find(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    c->usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cmd_version(0, NULL);
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return cmd_help(1, argv);
    const hd_cmd *c = hd_cmd_find(name);
    if (!c)
        return unknown_command(name);
    /* HDF5's own exit handler closes what is still open; a file whose writes
     * failed (a full disk) cannot be closed and crashed it. Outputs are
     * committed or aborted before exit, so the library is closed here,
     * explicitly, only when nothing failed. */
    H5dont_atexit();
    /* HDF5 keeps freed blocks in free lists by size, up to 16 MiB of blocks
     * by default, and never returns them. A chunk index's data block grows
     * with the file's chunks, each size a new list, so those lists grew with
     * the campaign: featurize's peak heap 9.7, 10.1, 11.0 MB at 10^4, 10^5,
     * 3x10^5 events (heaptrack: H5FL_blk_malloc under H5FA__dblock_alloc).
     * Capped at 256 KiB a kind (64 KiB a list), what is freed goes back to
     * malloc. */
    H5set_free_list_limits(256 << 10, 64 << 10, 256 << 10, 64 << 10, 256 << 10, 64 << 10);

    char prefix[64];
    snprintf(prefix, sizeof prefix, "heimdall %s", c->name);
    hd_log_set_prefix(prefix);

    /* --help needs no MPI */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (c->run == hd_cmd_stations && strcmp(argv[2], "import") == 0)
                hd_cmd_stations_import_usage(stdout);
            else
                c->usage(stdout);
            return 0;
        }
    }

    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (c->flags & HD_CMD_MPI) {
        int rc = hd_par_init(&argc, &argv);
        if (rc < 0) {
            fprintf(stderr, "heimdall %s: error: %s\n", c->name, hd_errmsg());
            hd_par_finalize();
            return hd_exit_status(rc);
        }
        sub_argc = argc - 1;
        sub_argv = argv + 1;
    }
    int status = c->run(sub_argc, sub_argv);
    if (hd_runinfo_emit(status) < 0)
        fprintf(stderr, "heimdall %s: error: %s\n", c->name, hd_errmsg());
    if (status == 0 || status == 3)
        H5close();
    if (c->flags & HD_CMD_MPI)
        hd_par_finalize();
    return status;
}
