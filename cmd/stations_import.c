/* heimdall stations import: the public KiwiSDR list and gnss_pos files
 * (formats/kiwilist.h) into a stations file, checked by loading it back. */
#include "cli.h"
#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/util.h"
#include "formats/kiwilist.h"
#include "h5/h5.h"

#include <dirent.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hd_cmd_stations_import_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall stations import -o STATIONS.yaml [--force] [--near LAT,LON,KM] [--freq HZ]\n"
            "                                [--gps] [--online] [--max N] LIST|GNSS_POS...\n"
            "\n"
            "Build a stations file from the public KiwiSDR receiver list and the KiwiSDR TDoA\n"
            "service's gnss_pos files, so a network is one command away:\n"
            "  LIST      the list as JSON (an array of receiver objects), as the JavaScript\n"
            "            mirror (rx.linkfanel.net/kiwisdr_com.js: var kiwisdr_com = [...];) or as\n"
            "            the HTML page kiwisdr.com/public/ (<!-- key=value --> per receiver)\n"
            "  GNSS_POS  gnss_pos/*.txt (d.<name> = struct('coord',[lat,lon],'host',..,'port',..))\n"
            "            or a folder of them: a listed receiver with a record of the same name\n"
            "            (its tdoa_id) or the same host:port takes the record's position; a\n"
            "            record no entry claims is a station of its own\n"
            "Each receiver becomes a kiwisdr station: id from tdoa_id, else the host, else the\n"
            "name (lower case, [a-z0-9_-], repeats numbered); name, url, position (gps field),\n"
            "alt_m (asl), antenna and bands as listed; clock gps when the server reports a GPS\n"
            "solution (>= 4 satellites and fixes in the last minute), else free. A comment\n"
            "above each station gives its location, software, GPS and users; entries left\n"
            "out are listed at the end of the file with their reason (no url, no position,\n"
            "a filter), and counted on stderr.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE     the stations file (- for standard output); written whole or\n"
            "                        not at all, after it has been loaded back as a config\n"
            "      --force           overwrite FILE\n"
            "      --near LAT,LON,KM only receivers within KM of the point, nearest first\n"
            "      --freq HZ         only receivers whose bands cover HZ (unknown bands kept)\n"
            "      --gps             only receivers with a GPS solution (TDOA needs them)\n"
            "      --online          only receivers listed active and not offline\n"
            "      --max N           at most N stations (a stations file holds at most %d; over 64\n"
            "                        the simulator's campaigns take the sparse layout, and live\n"
            "                        collection takes 64)\n"
            "  -q, --quiet / -v, --verbose / -h, --help\n"
            "\n"
            "Exit status: 0 written; 2 usage error, an input that is none of the forms or is\n"
            "malformed (file:line where known), or no receiver left (nothing written).\n",
            HD_MAX_NETWORK);
}

static int fail2(const char *msg)
{
    fprintf(stderr, "heimdall stations import: error: %s\n", msg);
    return 2;
}

typedef struct {
    hd_kiwi_listing *l;
    int nl;
    hd_kiwi_gnss_pos *g;
    int ng;
    char from[1024];
} inputs;

/* n items of size each appended to *arr (*count of them) */
static int append(void **arr, int *count, const void *items, int n, size_t size)
{
    void *nv = realloc(*arr, ((size_t)*count + (size_t)n + 1) * size);
    if (!nv)
        return hd_error(HD_ENOMEM, "out of memory");
    memcpy((char *)nv + (size_t)*count * size, items, (size_t)n * size);
    *arr = nv;
    *count += n;
    return 0;
}

static int add_file(inputs *in, const char *path)
{
    char *text = NULL;
    size_t len;
    int rc = hd_read_file(path, &text, &len);
    if (rc < 0)
        return rc;
    size_t k = strlen(in->from);
    void *items = NULL;
    int n = 0, gnss = strstr(text, "struct('coord'") || strstr(text, "struct( 'coord'");
    rc = gnss ? hd_kiwi_gnss_pos_scan(text, path, (hd_kiwi_gnss_pos **)&items, &n)
              : hd_kiwi_list_parse(text, len, path, (hd_kiwi_listing **)&items, &n);
    if (rc == 0)
        rc = gnss ? append((void **)&in->g, &in->ng, items, n, sizeof *in->g)
                  : append((void **)&in->l, &in->nl, items, n, sizeof *in->l);
    if (rc == 0)
        snprintf(in->from + k, sizeof in->from - k, "%s%.200s (%d %s)", k ? ", " : "", path, n,
                 gnss ? "gnss_pos" : "listed");
    free(items);
    free(text);
    return rc;
}

static int add_input(inputs *in, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hd_error(HD_EIO, "%s: no such file or folder", path);
    if (!S_ISDIR(sb.st_mode))
        return add_file(in, path);
    char pat[4200];
    snprintf(pat, sizeof pat, "%s/*.txt", path);
    glob_t gl;
    int rc = 0;
    if (glob(pat, 0, NULL, &gl) != 0)
        return hd_error(HD_EFORMAT, "%s: a folder with no gnss_pos .txt files", path);
    for (size_t i = 0; i < gl.gl_pathc && rc == 0; i++)
        rc = add_file(in, gl.gl_pathv[i]);
    globfree(&gl);
    return rc;
}

int hd_cmd_stations_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"near", required_argument, NULL, 'n'},   {"freq", required_argument, NULL, 'F'},
        {"gps", no_argument, NULL, 'g'},          {"online", no_argument, NULL, 'O'},
        {"max", required_argument, NULL, 'm'},    {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    int force = 0;
    hd_kiwi_select sel = {0};
    char selection[256] = "", msg[512];
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
        char *end;
        size_t k = strlen(selection);
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 'n':
            if (sscanf(optarg, "%lf,%lf,%lf", &sel.near_lat, &sel.near_lon, &sel.near_km) != 3 ||
                fabs(sel.near_lat) > 90 || fabs(sel.near_lon) > 180 || !(sel.near_km > 0)) {
                snprintf(msg, sizeof msg, "--near %s: expected LAT,LON,KM (degrees, kilometres > 0)", optarg);
                return fail2(msg);
            }
            snprintf(selection + k, sizeof selection - k, " --near %s", optarg);
            break;
        case 'F':
            sel.freq_hz = strtod(optarg, &end);
            if (end == optarg || *end || !(sel.freq_hz > 0)) {
                snprintf(msg, sizeof msg, "--freq %s: expected hertz > 0", optarg);
                return fail2(msg);
            }
            snprintf(selection + k, sizeof selection - k, " --freq %s", optarg);
            break;
        case 'g': sel.gps_only = 1; snprintf(selection + k, sizeof selection - k, " --gps"); break;
        case 'O': sel.online_only = 1; snprintf(selection + k, sizeof selection - k, " --online"); break;
        case 'm':
            sel.max = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end || sel.max < 1 || sel.max > HD_MAX_NETWORK) {
                snprintf(msg, sizeof msg, "--max %s: expected 1 to %d", optarg, HD_MAX_NETWORK);
                return fail2(msg);
            }
            snprintf(selection + k, sizeof selection - k, " --max %d", sel.max);
            break;
        case 'q': hd_log_set_level(HD_LOG_WARN); break;
        case 'v': hd_log_set_level(HD_LOG_DEBUG); break;
        case 'h': hd_cmd_stations_import_usage(stdout); return 0;
        default:
            snprintf(msg, sizeof msg, "option %s needs a value or is not known\nTry 'heimdall stations import --help'.",
                     argv[optind - 1]);
            return fail2(msg);
        }
    }
    if (!output || optind == argc)
        return fail2(!output ? "-o STATIONS.yaml is required\nTry 'heimdall stations import --help'."
                             : "no input: give the KiwiSDR list and/or gnss_pos files");
    inputs in = {0};
    hd_kiwi_station *st = NULL;
    hd_kiwi_skipped *sk = NULL;
    char *text = NULL;
    int n = 0, ns = 0, rc = 0, status = 2;
    hd_config cfg = {0};
    hd_outfile of = {0};
    for (int i = optind; i < argc && rc == 0; i++)
        rc = add_input(&in, argv[i]);
    if (rc == 0)
        rc = hd_kiwi_stations(in.l, in.nl, in.g, in.ng, &sel, &st, &n, &sk, &ns);
    if (rc < 0)
        goto fail;
    char why[400];
    hd_kiwi_skipped_summary(sk, ns, why, sizeof why);
    if (n == 0) {
        rc = hd_error(HD_EFORMAT, "no receiver left of %d listed and %d gnss_pos records (left out: %s); nothing written",
                      in.nl, in.ng, ns ? why : "none");
        goto fail;
    }
    if (n > HD_MAX_NETWORK) {
        rc = hd_error(HD_EFORMAT, "%d receivers pass; a stations file holds at most %d: narrow with --near, --gps or --max",
                      n, HD_MAX_NETWORK);
        goto fail;
    }
    if ((rc = hd_kiwi_stations_text(st, n, sk, ns, in.from, selection[0] ? selection + 1 : "none", hd_version(), &text)) < 0)
        goto fail;
    /* loaded back as a config's stations: what is written is what heimdall reads */
    const char *body = strstr(text, "\nstations:\n");
    char *probe = malloc(strlen(body) + 16);
    if (!probe) {
        rc = hd_error(HD_ENOMEM, "out of memory");
        goto fail;
    }
    sprintf(probe, "seed: 1%s", body);
    rc = hd_config_load_string(&cfg, probe, "<stations import>", NULL, 0);
    free(probe);
    if (rc < 0 || cfg.n_stations != n) {
        status = 1;
        rc = hd_error(HD_EFORMAT, "internal: the file written does not load back (%s)", hd_errmsg());
        goto fail;
    }
    if (strcmp(output, "-") == 0) {
        fputs(text, stdout);
        fflush(stdout);
    } else {
        status = 1;
        if ((rc = hd_outfile_open(&of, output, force)) < 0 || (fputs(text, of.f) < 0 && (rc = HD_EIO)) ||
            (rc = hd_outfile_commit(&of)) < 0) {
            status = rc == HD_EEXIST ? 2 : 1;
            goto fail;
        }
    }
    int gps = 0;
    for (int i = 0; i < n; i++)
        gps += st[i].st.clock == HD_CLOCK_GPS;
    hd_info("%d station%s written to %s (%d clock gps, %d free); %d left out%s%s%s", n, n == 1 ? "" : "s", strcmp(output, "-") ? output : "standard output", gps,
            n - gps, ns, ns ? ": " : "", why, ns ? " (each listed at the end of the file)" : "");
    status = 0;
    goto done;
fail:
    hd_outfile_abort(&of);
    fprintf(stderr, "heimdall stations import: error: %s\n", hd_errmsg());
done:
    hd_config_release(&cfg);
    free(text);
    free(st);
    free(sk);
    free(in.l);
    free(in.g);
    return status;
}
