#include "cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "config/config.h"

#include "eval/report.h"
#include "h5/h5.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupted) {
        const char *tmp = hd_h5_pending_tmp();
        if (tmp && tmp[0])
            unlink(tmp);
        _exit(130);
    }
    interrupted = 1;
}

void hd_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int hd_cli_interrupted(void)
{
    return interrupted != 0;
}

void hd_cli_common_usage(FILE *out)
{
    fprintf(out,
            "Common options:\n"
            "  -c, --config FILE     experiment YAML (default: the embedded configs/default.yaml)\n"
            "  -o, --output FILE     output file (written under a temporary name, renamed when complete)\n"
            "      --set KEY=VALUE   override a config value, e.g. --set collect.events=50 (repeatable)\n"
            "  -f, --force           overwrite an existing output\n"
            "  -q, --quiet           no progress or information on stderr\n"
            "  -v, --verbose         debug messages\n"
            "      --metrics FILE    append this run's figures (wall time, events/s, peak memory,\n"
            "                        per-rank times) to FILE as one JSON line; outputs record\n"
            "                        them as run_* attributes\n"
            "  -h, --help            this help\n");
}

int hd_cli_parse(hd_cli *cli, const hd_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"output", required_argument, NULL, 'o'},
        {"set", required_argument, NULL, 's'},    {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {"method", required_argument, NULL, 'M'},
        {"model", required_argument, NULL, 'm'},  {"metrics", required_argument, NULL, 'X'},
        {"resume", required_argument, NULL, 'U'}, {"calibration", required_argument, NULL, 'K'},
        {"known-sources", required_argument, NULL, 'S'}, {"truth-from", required_argument, NULL, 'T'},
        {"profile", no_argument, NULL, 'P'},      {"heatmap", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int locate = (cmd->flags & HD_CMD_LOCATE) != 0;
    memset(cli, 0, sizeof *cli);
    cli->cmd = cmd->name;
    size_t off = 0;
    for (int i = 0; i < argc && off < sizeof cli->command_line - 1; i++)
        off += (size_t)snprintf(cli->command_line + off, sizeof cli->command_line - off, "%s%s",
                                i ? " " : "heimdall ", argv[i]);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, locate ? "c:o:m:fqvh" : "c:o:fqvh", opts, NULL)) != -1) {
        if (((c == 'M' && !locate && !(cmd->flags & HD_CMD_METHOD)) || (c == 'm' && !locate) || (c == 'K' && !locate && !(cmd->flags & HD_CMD_CALIB))) || (c == 'U' && !(cmd->flags & HD_CMD_RESUME)) ||
            (c == 'S' && !(cmd->flags & HD_CMD_SOURCES)) || (c == 'T' && !(cmd->flags & HD_CMD_TRUTH)) ||
            (c == 'P' && !(cmd->flags & HD_CMD_PROFILE)) || (c == 'H' && !(cmd->flags & HD_CMD_HEATMAP))) {
            fprintf(stderr, "heimdall %s: error: unknown option '%s'\nTry 'heimdall %s --help'.\n", cmd->name,
                    argv[optind - 1], cmd->name);
            return 2;
        }
        switch (c) {
        case 'M': cli->method = optarg; break;
        case 'K': cli->calibration = optarg; break;
        case 'X': hd_runinfo_set_metrics_path(optarg); break;
        case 'U': cli->resume = optarg; break;
        case 'S': cli->known_sources = optarg; break;
        case 'T': cli->truth_from = optarg; break;
        case 'P': cli->profile = 1; break;
        case 'H': cli->heatmap = optarg; break;
        case 'm': cli->model = optarg; break;
        case 'c': cli->config = optarg; break;
        case 'o': cli->output = optarg; break;
        case 's':
            if (cli->n_sets == HD_CLI_MAX_SETS) {
                fprintf(stderr, "heimdall %s: error: too many --set options (at most %d)\n", cmd->name,
                        HD_CLI_MAX_SETS);
                return 2;
            }
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "heimdall %s: error: --set %s: expected KEY=VALUE\n", cmd->name, optarg);
                return 2;
            }
            cli->sets[cli->n_sets++] = optarg;
            break;
        case 'f': cli->force = 1; break;
        case 'q': cli->quiet = 1; break;
        case 'v': cli->verbose = 1; break;
        case 'h': cmd->usage(stdout); return 1;
        default:
            if (optopt == 'M' || optopt == 'X' || optopt == 'U' || optopt == 'K' || optopt == 'S' || optopt == 'T' ||
                optopt == 'H')
                fprintf(stderr, "heimdall %s: error: option --%s needs a value\n", cmd->name,
                        optopt == 'M' ? "method" : optopt == 'X' ? "metrics" : optopt == 'K' ? "calibration"
                                                 : optopt == 'S' ? "known-sources" : optopt == 'T' ? "truth-from"
                                                 : optopt == 'H' ? "heatmap" : "resume");
            else if (optopt)
                fprintf(stderr, "heimdall %s: error: option -%c %s\n", cmd->name, optopt,
                        strchr(locate ? "cosm" : "cos", optopt) ? "needs a value" : "is not known");
            else
                fprintf(stderr, "heimdall %s: error: unknown option '%s'\n", cmd->name, argv[optind - 1]);
            fprintf(stderr, "Try 'heimdall %s --help'.\n", cmd->name);
            return 2;
        }
    }
    hd_runinfo_start(cmd->name);
    hd_runinfo_set_output(cli->output);
    cli->inputs = argv + optind;
    cli->n_inputs = argc - optind;
    if (cli->quiet)
        hd_log_set_level(HD_LOG_WARN);
    else if (cli->verbose)
        hd_log_set_level(HD_LOG_DEBUG);
    return 0;
}

int hd_cli_fail(const hd_cli *cli, int rc)
{
    const char *msg = hd_errmsg();
    /* every rank meets config and usage errors alike: rank 0 speaks for all;
     * anything else may be one rank's own trouble, so that rank says it */
    int shared = rc == HD_ECONFIG || rc == HD_EINVAL || rc == HD_EEXIST;
    if (hd_log_rank() == 0)
        fprintf(stderr, "heimdall %s: error: %s\n", cli->cmd, msg[0] ? msg : hd_strerror(rc));
    else if (!shared)
        fprintf(stderr, "heimdall %s: [rank %d] error: %s\n", cli->cmd, hd_log_rank(),
                msg[0] ? msg : hd_strerror(rc));
    return hd_exit_status(rc);
}

int hd_cli_stage(const char *name, int argc, char **argv, const char *output_example, const char *input_what,
                 int (*run)(const hd_cli *cli, hd_config *cfg))
{
    hd_cli cli;
    hd_config cfg = {0};
    int st = hd_cli_parse(&cli, hd_cmd_find(name), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    if (!cli.output || cli.n_inputs != 1) {
        fprintf(stderr, "heimdall %s: error: %s%s%s\nTry 'heimdall %s --help'.\n", name,
                !cli.output ? "an output file is required (-o " : "exactly ", !cli.output ? output_example : input_what,
                !cli.output ? ")" : " is required", name);
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    /* collect is the one stage whose receivers come from the config (the
     * others read them from their input files) */
    if (rc == 0 && cfg.stations_default && strcmp(name, "collect") == 0)
        hd_info("%s names no stations: the default network, %s (built in)", cfg.path, cfg.stations_path);
    if (rc == 0)
        rc = run(&cli, &cfg);
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : rc;
}

int hd_cli_outputs_kind(hd_cli_outputs *o, const char *out, const char *h5_what)
{
    memset(o, 0, sizeof *o);
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    static const char *const ext[] = {".geojson", ".json", ".kml", ".jsonl", ".h5"};
    static const int kind[] = {HD_OUT_GEOJSON, HD_OUT_GEOJSON, HD_OUT_KML, HD_OUT_JSONL, HD_OUT_H5};
    o->kind = -1;
    for (size_t i = 0; dot && !(slash && dot < slash) && i < sizeof ext / sizeof *ext; i++)
        if (strcmp(dot, ext[i]) == 0)
            o->kind = kind[i];
    if (o->kind < 0)
        return hd_error(HD_ECONFIG, "-o %s: the output kind follows the extension: .geojson (with .kml and .jsonl "
                        "beside it), .kml, .jsonl or .h5 (%s)", out, h5_what);
    if (o->kind == HD_OUT_GEOJSON) {
        snprintf(o->paths[0], sizeof o->paths[0], "%s", out);
        hd_eval_beside(out, ".kml", o->paths[1], sizeof o->paths[1]);
        hd_eval_beside(out, ".jsonl", o->paths[2], sizeof o->paths[2]);
    } else if (o->kind != HD_OUT_H5) {
        snprintf(o->paths[o->kind], sizeof o->paths[o->kind], "%s", out);
    }
    return 0;
}

int hd_cli_outputs_open(hd_cli_outputs *o, int force)
{
    for (int k = 0; k < 3; k++) {
        int rc;
        if (o->paths[k][0] && (rc = hd_outfile_open(&o->of[k], o->paths[k], force)) < 0)
            return rc;
    }
    return 0;
}

int hd_cli_outputs_commit(hd_cli_outputs *o)
{
    for (int k = 0; k < 3; k++) {
        int rc;
        if (o->paths[k][0] && (rc = hd_outfile_commit(&o->of[k])) < 0)
            return rc;
    }
    return 0;
}

void hd_cli_outputs_abort(hd_cli_outputs *o)
{
    for (int k = 0; k < 3; k++)
        hd_outfile_abort(&o->of[k]);
}

void hd_cli_outputs_wrote(const hd_cli_outputs *o, const char *out)
{
    if (o->kind == HD_OUT_GEOJSON)
        hd_info("wrote %s, %s and %s", o->paths[0], o->paths[1], o->paths[2]);
    else
        hd_info("wrote %s", out);
}
