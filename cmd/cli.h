/* Shared command-line handling for the stage commands: -c/--config,
 * -o/--output, --set (repeatable), --force, --quiet, -h/--help, and the
 * command's own extra long options. */
#ifndef HD_CMD_CLI_H
#define HD_CMD_CLI_H
#include <getopt.h>
#include "config/config.h"
#include "core/outfile.h"
#include <stdio.h>

#define HD_CLI_MAX_SETS 64

typedef struct {
    const char *cmd;            /* "collect" */
    const char *config;         /* NULL: embedded default */
    const char *output;
    const char *sets[HD_CLI_MAX_SETS];
    int n_sets;
    int force, quiet, verbose;
    const char *method;         /* --method (commands flagged HD_CMD_LOCATE) */
    const char *model;          /* -m/--model */
    const char *calibration;    /* --calibration (commands flagged HD_CMD_LOCATE): over localize.calibration */
    const char *resume;         /* --resume (commands flagged HD_CMD_RESUME) */
    const char *known_sources;  /* --known-sources (commands flagged HD_CMD_SOURCES) */
    const char *truth_from;     /* --truth-from (commands flagged HD_CMD_TRUTH): the input is predictions */
    int profile;                /* --profile (commands flagged HD_CMD_PROFILE): where the time went, per stage */
    const char *heatmap;        /* --heatmap DIR (commands flagged HD_CMD_HEATMAP): per-event heat maps there */
    char **inputs;              /* positional arguments */
    int n_inputs;
    char command_line[4096];    /* argv joined, recorded in outputs */
} hd_cli;

typedef struct hd_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    unsigned flags;
    const char *summary;
    void (*usage)(FILE *out);
} hd_cmd;

#define HD_CMD_MPI 1u   /* initialise MPI (the command scales over ranks) */
#define HD_CMD_LOCATE 2u /* takes --method, -m/--model and --calibration */
#define HD_CMD_RESUME 4u /* takes --resume FILE */
#define HD_CMD_METHOD 8u /* takes --method (train: nn or knn) */
#define HD_CMD_SOURCES 16u /* takes --known-sources FILE (calibrate) */
#define HD_CMD_TRUTH 32u   /* takes --truth-from FEATURES (evaluate: score a predictions file) */
#define HD_CMD_CALIB 64u   /* takes --calibration without being a locate command (train) */
#define HD_CMD_PROFILE 128u /* takes --profile (featurize) */
#define HD_CMD_HEATMAP 256u /* takes --heatmap DIR (localize) */

/* Parse argv. Returns 0 to go on, 1 when --help was printed (exit 0), or 2
 * after printing a usage error. */
int hd_cli_parse(hd_cli *cli, const hd_cmd *cmd, int argc, char **argv);

/* The stage commands' main: parse, require -o and exactly one input, catch
 * the signals, load the config (with --set), run. run returns < 0 for an
 * error (printed, mapped to its exit status) or the exit status. */
int hd_cli_stage(const char *name, int argc, char **argv, const char *output_example, const char *input_what,
                 int (*run)(const hd_cli *cli, hd_config *cfg));

/* Print "heimdall <cmd>: error: <hd_errmsg()>" and return the exit status
 * for rc. */
int hd_cli_fail(const hd_cli *cli, int rc);

/* SIGINT/SIGTERM: the first asks the command to stop at the next batch
 * (hd_cli_interrupted() turns 1; the command abandons its temporary
 * output); a second removes the temporary output at once and exits 130. */
void hd_cli_catch_signals(void);
int hd_cli_interrupted(void);

/* What -o's extension asks of localize and track: .geojson (or .json) the
 * GeoJSON with the KML and JSON lines beside it, .kml or .jsonl that one
 * alone, .h5 an HDF5 file (h5_what names it in the refusal of any other). */
enum { HD_OUT_GEOJSON, HD_OUT_KML, HD_OUT_JSONL, HD_OUT_H5 };
typedef struct {
    int kind;                    /* HD_OUT_… */
    char paths[3][1100];         /* GeoJSON, KML, JSON lines: those asked for ("" the others) */
    hd_outfile of[3];            /* open (temporary names) after hd_cli_outputs_open */
} hd_cli_outputs;
int hd_cli_outputs_kind(hd_cli_outputs *o, const char *output, const char *h5_what);
int hd_cli_outputs_open(hd_cli_outputs *o, int force);
int hd_cli_outputs_commit(hd_cli_outputs *o);
void hd_cli_outputs_abort(hd_cli_outputs *o);
/* "wrote a, b and c" or "wrote OUT" */
void hd_cli_outputs_wrote(const hd_cli_outputs *o, const char *output);
/* The common options' help lines. */
void hd_cli_common_usage(FILE *out);

const hd_cmd *hd_cmd_find(const char *name);

/* Commands */
int hd_cmd_collect(int argc, char **argv);
void hd_cmd_collect_usage(FILE *out);
int hd_cmd_featurize(int argc, char **argv);
void hd_cmd_featurize_usage(FILE *out);
int hd_cmd_localize(int argc, char **argv);
void hd_cmd_localize_usage(FILE *out);
int hd_cmd_track(int argc, char **argv);
void hd_cmd_track_usage(FILE *out);
int hd_cmd_evaluate(int argc, char **argv);
void hd_cmd_evaluate_usage(FILE *out);
int hd_cmd_verify(int argc, char **argv);
void hd_cmd_verify_usage(FILE *out);
int hd_cmd_stamp(int argc, char **argv);
void hd_cmd_stamp_usage(FILE *out);
int hd_cmd_import(int argc, char **argv);
int hd_cmd_export(int argc, char **argv);
void hd_cmd_export_usage(FILE *out);
void hd_cmd_import_usage(FILE *out);
int hd_cmd_calibrate(int argc, char **argv);
void hd_cmd_calibrate_usage(FILE *out);
int hd_cmd_train(int argc, char **argv);
void hd_cmd_train_usage(FILE *out);
int hd_cmd_info(int argc, char **argv);
int hd_cmd_stations(int argc, char **argv);
void hd_cmd_stations_usage(FILE *out);
int hd_cmd_stations_import(int argc, char **argv);
void hd_cmd_stations_import_usage(FILE *out);
void hd_cmd_info_usage(FILE *out);

#endif
