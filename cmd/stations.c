/* heimdall stations check: probe every live station of the stations file
 * (net/probe.h) and print a table, or one JSON document with --json. */
#include "cli.h"
#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "net/probe.h"
#include "capture/event.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_SOME_NOT_OK 3

void hd_cmd_stations_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall stations check [-c exp.yaml] [--set KEY=VALUE]... [--json]\n"
            "                               [--timeout S] [--max-offset KM]\n"
            "       heimdall stations import -o STATIONS.yaml LIST|GNSS_POS... (see stations import --help)\n"
            "\n"
            "Probe every station of the stations file (the config's `stations:`) that has a\n"
            "url and a live driver (kiwisdr, openwebrx), all at once from one event loop, one\n"
            "connection at a time per distinct host:port, and report for each: reachable or\n"
            "the exact failure (refused, timeout, busy, auth, protocol, disconnected), the\n"
            "server's version, users (and users_max), whether every channel is taken, GPS\n"
            "status (KiwiSDR: satellites in the solution and fixes, from its /status page),\n"
            "latency (TCP connect start to the first byte of the answer, ms), and the\n"
            "position the server advertises (KiwiSDR /status gps=, OpenWebRX receiver_gps)\n"
            "with its geodesic distance to the stations file's position, flagged ('!') when\n"
            "farther than --max-offset.\n"
            "\n"
            "KiwiSDR: GET /status, then the SND WebSocket with the password from\n"
            "HEIMDALL_PASSWORD_<STATION ID> (upper case, '-' as '_'); passwords are never\n"
            "printed. OpenWebRX: the /ws/ handshake, receiver_details and clients.\n"
            "wss:// and https:// certificates are verified (HEIMDALL_CA_BUNDLE: a CA file).\n"
            "\n"
            "Options:\n"
            "      --json            one JSON document on stdout: {\"stations\": [one object per\n"
            "                        station], \"summary\": {...}} instead of the table\n"
            "      --timeout S       per connection: connect, request and answer (default:\n"
            "                        collect.live.timeout_s, else 5)\n"
            "      --max-offset KM   flag a server position farther than this from the\n"
            "                        stations file's (default 1 km)\n"
            "  -c, --config FILE     experiment YAML whose stations are probed (default: the\n"
            "                        embedded configs/default.yaml)\n"
            "      --set KEY=VALUE   override a config value (repeatable)\n"
            "  -q, --quiet           no information on stderr\n"
            "  -v, --verbose         debug messages\n"
            "  -h, --help            this help\n"
            "\n"
            "Exit status: 0 every probed station is ok (reachable and accepting us); 3 at\n"
            "least one is not (refused, timeout, busy, auth, protocol, disconnected); 2 usage\n"
            "or config error; 1 runtime failure. A position offset is reported, not an\n"
            "error. Stations without a live server (simulate, no url) are listed as not\n"
            "probed and do not change the exit status.\n");
}

static const char *status_word(const hd_probe_result *r)
{
    return r->probed ? hd_rx_status_name(r->status) : "not-probed";
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *int_or_null(int x) { return x >= 0 ? json_integer(x) : json_null(); }

static json_t *result_json(const hd_station *s, const hd_probe_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "driver", json_string(hd_driver_name(s->driver)));
    json_object_set_new(o, "server", r->hostport[0] ? json_string(r->hostport) : json_null());
    json_object_set_new(o, "probed", json_boolean(r->probed));
    json_object_set_new(o, "status", json_string(status_word(r)));
    json_object_set_new(o, "ok", json_boolean(r->probed && r->status == HD_RX_OK));
    json_object_set_new(o, "reachable",
                        json_boolean(r->probed && (r->status == HD_RX_OK || r->status == HD_RX_BUSY ||
                                                   r->status == HD_RX_AUTH)));
    json_object_set_new(o, "message", r->message[0] ? json_string(r->message) : json_null());
    json_object_set_new(o, "latency_ms", num_or_null(r->latency_ms));
    json_object_set_new(o, "version", r->version[0] ? json_string(r->version) : json_null());
    json_object_set_new(o, "server_driver", r->server_driver >= 0 ? json_string(hd_driver_name(r->server_driver)) : json_null());
    json_object_set_new(o, "users", int_or_null(r->users));
    json_object_set_new(o, "users_max", int_or_null(r->users_max));
    json_object_set_new(o, "busy", json_boolean(r->busy));
    json_object_set_new(o, "auth_required", json_boolean(r->auth_required));
    json_t *g = json_object();
    json_object_set_new(g, "satellites", int_or_null(r->gps_sats));
    json_object_set_new(g, "fixes", int_or_null(r->gps_fixes));
    json_object_set_new(g, "fixes_min", int_or_null(r->gps_fixes_min));
    json_object_set_new(o, "gps", g);
    json_object_set_new(o, "station_position", json_pack("{s:f, s:f}", "lat", s->lat, "lon", s->lon));
    json_object_set_new(o, "server_position",
                        r->has_position ? json_pack("{s:f, s:f}", "lat", r->server_lat, "lon", r->server_lon)
                                        : json_null());
    json_object_set_new(o, "offset_m", num_or_null(r->offset_m));
    json_object_set_new(o, "offset_flagged", json_boolean(r->offset_flagged));
    json_object_set_new(o, "shares_probe_with", r->same_as >= 0 ? json_integer(r->same_as) : json_null());
    return o;
}

static void print_table(const hd_config *cfg, const hd_probe_result *res, double max_offset_m)
{
    printf("%-16s %-9s %-22s %-12s %8s %-10s %-7s %-18s %10s  %s\n", "STATION", "DRIVER", "SERVER", "STATUS",
           "LATENCY", "VERSION", "USERS", "GPS", "OFFSET", "NOTE");
    for (int i = 0; i < cfg->n_stations; i++) {
        const hd_station *s = &cfg->stations[i];
        const hd_probe_result *r = &res[i];
        char lat[32] = "-", users[32] = "-", gps[48] = "-", off[40] = "-";
        if (isfinite(r->latency_ms))
            snprintf(lat, sizeof lat, "%.0f ms", r->latency_ms);
        if (r->users >= 0 && r->users_max >= 0)
            snprintf(users, sizeof users, "%d/%d%s", r->users, r->users_max, r->busy ? "*" : "");
        else if (r->users >= 0)
            snprintf(users, sizeof users, "%d%s", r->users, r->busy ? "*" : "");
        if (r->gps_sats >= 0)
            snprintf(gps, sizeof gps, "%d sats %d fixes", r->gps_sats, r->gps_fixes < 0 ? 0 : r->gps_fixes);
        else if (r->has_position)
            snprintf(gps, sizeof gps, "position only");
        if (isfinite(r->offset_m))
            snprintf(off, sizeof off, "%.2f km%s", r->offset_m / 1e3, r->offset_flagged ? " !" : "");
        char note[320 + HD_ID_LEN];
        if (r->same_as >= 0)
            snprintf(note, sizeof note, "same server as %s%s%s", cfg->stations[r->same_as].id, r->message[0] ? "; " : "",
                     r->message);
        else
            snprintf(note, sizeof note, "%s", r->message);
        printf("%-16s %-9s %-22s %-12s %8s %-10s %-7s %-18s %10s  %s\n", s->id, hd_driver_name(s->driver),
               r->hostport[0] ? r->hostport : "-", status_word(r), lat, r->version[0] ? r->version : "-", users, gps,
               off, note);
    }
    (void)max_offset_m;
}

static int stations_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},         {"timeout", required_argument, NULL, 't'},
        {"max-offset", required_argument, NULL, 'm'}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *sets[HD_CLI_MAX_SETS];
    int n_sets = 0, json = 0;
    double timeout_s = -1, max_offset_km = 1.0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:qvh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': config = optarg; break;
        case 's':
            if (n_sets == HD_CLI_MAX_SETS || !strchr(optarg, '=')) {
                fprintf(stderr, "heimdall stations: error: --set %s: expected KEY=VALUE (at most %d)\n", optarg,
                        HD_CLI_MAX_SETS);
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case 'j': json = 1; break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (end == optarg || *end || !(timeout_s > 0 && timeout_s <= 600)) {
                fprintf(stderr, "heimdall stations: error: --timeout %s: expected seconds in (0, 600]\n", optarg);
                return 2;
            }
            break;
        case 'm':
            max_offset_km = strtod(optarg, &end);
            if (end == optarg || *end || !(max_offset_km >= 0 && max_offset_km <= 20100)) {
                fprintf(stderr, "heimdall stations: error: --max-offset %s: expected kilometres in [0, 20100]\n",
                        optarg);
                return 2;
            }
            break;
        case 'q': hd_log_set_level(HD_LOG_WARN); break;
        case 'v': hd_log_set_level(HD_LOG_DEBUG); break;
        case 'h': hd_cmd_stations_usage(stdout); return 0;
        default:
            if (optopt)
                fprintf(stderr, "heimdall stations: error: option %s needs a value or is not known\n", argv[optind - 1]);
            else
                fprintf(stderr, "heimdall stations: error: unknown option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "Try 'heimdall stations --help'.\n");
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "heimdall stations check: error: unexpected argument '%s'\nTry 'heimdall stations --help'.\n",
                argv[optind]);
        return 2;
    }
    hd_runinfo_start("stations");
    hd_config cfg = {0};
    int rc = hd_config_load(&cfg, config, sets, n_sets);
    if (rc < 0) {
        fprintf(stderr, "heimdall stations: error: %s\n", hd_errmsg());
        hd_config_release(&cfg);
        return hd_exit_status(rc);
    }
    hd_cli_catch_signals();
    if (timeout_s < 0)
        timeout_s = cfg.collect.live.timeout_s > 0 ? cfg.collect.live.timeout_s : 5.0;
    hd_probe_cfg pc = {.timeout_ms = (int)lround(timeout_s * 1e3), .max_offset_m = max_offset_km * 1e3};
    hd_probe_result *res = calloc((size_t)(cfg.n_stations > 0 ? cfg.n_stations : 1), sizeof *res);
    if (!res) {
        hd_config_release(&cfg);
        fprintf(stderr, "heimdall stations: error: out of memory\n");
        return 1;
    }
    int64_t t0 = hd_time_now_ns();
    rc = hd_probe_stations(cfg.stations, cfg.n_stations, &pc, hd_cli_interrupted, res);
    double wall = (double)(hd_time_now_ns() - t0) / 1e9;
    int probed = 0, n_ok = 0, n_flag = 0;
    for (int i = 0; i < cfg.n_stations; i++) {
        probed += res[i].probed;
        n_ok += res[i].probed && res[i].status == HD_RX_OK;
        n_flag += res[i].offset_flagged;
    }
    if (json) {
        json_t *doc = json_object(), *arr = json_array();
        for (int i = 0; i < cfg.n_stations; i++)
            json_array_append_new(arr, result_json(&cfg.stations[i], &res[i]));
        json_object_set_new(doc, "stations", arr);
        json_object_set_new(doc, "summary",
                            json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:b}", "stations", cfg.n_stations,
                                      "probed", probed, "ok", n_ok, "not_ok", probed - n_ok, "position_flagged", n_flag,
                                      "max_offset_m", pc.max_offset_m, "timeout_s", timeout_s, "wall_s", wall,
                                      "interrupted", rc == HD_EINTR));
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (text) {
            puts(text);
            free(text);
        }
        json_decref(doc);
    } else {
        print_table(&cfg, res, pc.max_offset_m);
    }
    fflush(stdout);
    hd_info("%d of %d stations probed in %.2f s: %d ok, %d not ok, %d position%s off by more than %g km", probed,
            cfg.n_stations, wall, n_ok, probed - n_ok, n_flag, n_flag == 1 ? "" : "s", max_offset_km);
    int status = probed - n_ok ? EXIT_SOME_NOT_OK : 0;
    if (rc < 0) {
        fprintf(stderr, "heimdall stations: error: %s\n", hd_errmsg());
        status = rc == HD_EINTR ? 130 : hd_exit_status(rc);
    }
    free(res);
    hd_config_release(&cfg);
    return status;
}

int hd_cmd_stations(int argc, char **argv)
{
    if (argc < 2) {
        hd_cmd_stations_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "check") == 0)
        return stations_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "import") == 0)
        return hd_cmd_stations_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        hd_cmd_stations_usage(stdout);
        return 0;
    }
    fprintf(stderr, "heimdall stations: error: '%s' is not a stations subcommand (check, import)\n"
                    "Try 'heimdall stations --help'.\n",
            argv[1]);
    return 2;
}
