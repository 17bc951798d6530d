/* heimdall export FORMAT -o DIR captures.h5: captures into outside formats,
 * one exporter per format (a table, as import's), one file per event ×
 * receiver that succeeded with IQ. */
#include "capture/captures.h"
#include "cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/kiwiwav.h"
#include "formats/recordings.h"
#include "formats/sigmf.h"
#include "h5/h5.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One row per format in exporters[] below. */
typedef struct {
    const char *name;
    int (*run)(const hd_cli *cli, hd_captures_reader *r, const char *dir);
    const char *usage;
} exporter;

static int export_kiwiwav(const hd_cli *cli, hd_captures_reader *r, const char *dir)
{
    int rc = 0, R = r->n_receivers, N = r->n_samples, files = 0;
    hd_event ev;
    hd_link *lk = hd_calloc((size_t)R, sizeof *lk);
    int16_t *iq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *iq);
    hd_kiwi_block *st = hd_calloc((size_t)N / HD_KIWI_BLOCK + 1, sizeof *st);
    char path[8192];
    if (!lk || !iq || !st) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int64_t e = 0; e < r->n_events; e++) {
        if ((rc = hd_captures_read_block(r, e, 1, &ev, lk, iq, NULL)) < 0)
            goto done;
        if (!(ev.sample_rate_hz >= 1) || ev.sample_rate_hz > 1e8) {
            rc = hd_error(HD_EDATA, "event %lld: sample rate %g Hz cannot go in a wav header", (long long)e,
                          ev.sample_rate_hz);
            goto done;
        }
        for (int k = 0; k < R; k++) {
            const hd_link *l = &lk[k];
            if (l->status != HD_RX_OK || !l->has_iq)
                continue;
            if (!isfinite(l->t0_s)) {
                hd_warn("event %lld receiver %s: no time stamp, not exported", (long long)e, r->stations[k].id);
                continue;
            }
            double rate = l->clock_rate_hz > 0 ? l->clock_rate_hz : ev.sample_rate_hz; /* 0, NaN: unknown */
            int64_t t0 = ev.time_ns + llround(l->t0_s * 1e9);
            hd_kiwi_stamps(st, (N + HD_KIWI_BLOCK - 1) / HD_KIWI_BLOCK, t0, rate, l->gps_ok, l->last_gps_solution_s);
            char name[512];
            hd_kiwiwav_name_format(name, sizeof name, ev.time_ns, ev.frequency_hz, r->stations[k].id);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if ((rc = hd_kiwiwav_write(path, (uint32_t)lround(ev.sample_rate_hz), iq + (size_t)k * N * 2, N, st,
                                       cli->force)) < 0)
                goto done;
            files++;
        }
    }
    /* positions for the KiwiSDR TDoA tool: gnss_pos/<station>.txt, beside
     * DIR when DIR is named iq (the TDoA service's layout), else inside it */
    char pos[4096];
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    if (strcmp(base, "iq") == 0)
        snprintf(pos, sizeof pos, "%.*s", (int)(base - dir), dir);
    else
        snprintf(pos, sizeof pos, "%s/", dir);
    snprintf(path, sizeof path, "%sgnss_pos", pos);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        rc = hd_error(HD_EIO, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    for (int k = 0; k < R; k++) {
        const hd_station *s = &r->stations[k];
        if (!isfinite(s->lat) || !isfinite(s->lon))
            continue;
        snprintf(path, sizeof path, "%sgnss_pos/%s.txt", pos, s->id);
        FILE *f = fopen(path, "w");
        if (!f) {
            rc = hd_error(HD_EIO, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
        char line[512];
        hd_kiwi_gnss_pos_format(line, sizeof line, s->id, s->lat, s->lon, s->url);
        fputs(line, f);
        if (fclose(f) != 0) {
            rc = hd_error(HD_EIO, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
    }
    hd_info("wrote %d recording%s of %lld event%s to %s, station positions to %sgnss_pos/", files,
            files == 1 ? "" : "s", (long long)r->n_events, r->n_events == 1 ? "" : "s", dir, pos);
done:
    free(lk);
    free(iq);
    free(st);
    return rc;
}

static int export_sigmf(const hd_cli *cli, hd_captures_reader *r, const char *dir)
{
    int rc = 0, R = r->n_receivers, N = r->n_samples, files = 0;
    hd_event ev;
    hd_link *lk = hd_calloc((size_t)R, sizeof *lk);
    int16_t *iq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *iq);
    char base[8192];
    if (!lk || !iq) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int64_t e = 0; e < r->n_events; e++) {
        if ((rc = hd_captures_read_block(r, e, 1, &ev, lk, iq, NULL)) < 0)
            goto done;
        for (int k = 0; k < R; k++) {
            const hd_link *l = &lk[k];
            const hd_station *s = &r->stations[k];
            if (l->status != HD_RX_OK || !l->has_iq)
                continue;
            if (!isfinite(l->t0_s)) {
                hd_warn("event %lld receiver %s: no time stamp, not exported", (long long)e, s->id);
                continue;
            }
            hd_sigmf_meta m = {.sample_rate_hz = ev.sample_rate_hz, .frequency_hz = ev.frequency_hz,
                               .datetime_ns = ev.time_ns + llround(l->t0_s * 1e9), .event_time_ns = ev.time_ns,
                               .gps_ok = l->gps_ok, .last_gps_solution_s = l->last_gps_solution_s,
                               .has_geo = isfinite(s->lat) && isfinite(s->lon), .lat = s->lat, .lon = s->lon,
                               .alt_m = s->alt_m};
            m.clock_rate_hz = l->clock_rate_hz > 0 ? l->clock_rate_hz : ev.sample_rate_hz;
            hd_strlcpy(m.station, s->id, sizeof m.station);
            char name[512];
            hd_kiwiwav_name_format(name, sizeof name, ev.time_ns, ev.frequency_hz, s->id);
            name[strlen(name) - 7] = 0; /* the same name without _iq.wav */
            snprintf(base, sizeof base, "%s/%s", dir, name);
            if ((rc = hd_sigmf_write(base, &m, iq + (size_t)k * N * 2, N, cli->force)) < 0)
                goto done;
            files++;
        }
    }
    hd_info("wrote %d SigMF recording%s of %lld event%s to %s", files, files == 1 ? "" : "s",
            (long long)r->n_events, r->n_events == 1 ? "" : "s", dir);
done:
    free(lk);
    free(iq);
    return rc;
}

static const exporter exporters[] = {
    {"kiwiwav", export_kiwiwav,
     "  kiwiwav   KiwiSDR TDoA recordings DIR/YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav (PCM 2 x int16, a\n"
     "            10-byte kiwi chunk of GPS time before every 512-sample data chunk; stamps from t0_s and\n"
     "            /clock/rate_hz when present, else the event's rate) and DIR/gnss_pos/<station>.txt\n"
     "            (beside DIR when DIR is named iq: the TDoA service's iq/ and gnss_pos/), so the\n"
     "            KiwiSDR TDoA tool can read them; `heimdall import kiwiwav` reads them back\n"},
    {"sigmf", export_sigmf,
     "  sigmf     SigMF recordings DIR/YYYYMMDDTHHMMSSZ_<freqHz>_<station>.sigmf-{meta,data}: ci16_le,\n"
     "            core:sample_rate, core:frequency, core:datetime (first sample, ns), core:geolocation,\n"
     "            and heimdall: fields (station, event time, gps_ok, last_gps_solution_s, clock rate)\n"
     "            that make `heimdall import sigmf` give the captures back\n"},
};

void hd_cmd_export_usage(FILE *out)
{
    fprintf(out, "usage: heimdall export FORMAT -o DIR captures.h5\n\n"
                 "Write one file per event x receiver that succeeded with IQ (failed receivers and\n"
                 "level-only receivers are left out). DIR is created when missing; an existing file\n"
                 "is not replaced without --force.\n\nFormats:\n");
    for (size_t i = 0; i < HD_ARRAY_LEN(exporters); i++)
        fputs(exporters[i].usage, out);
    fputc('\n', out);
    hd_cli_common_usage(out);
}

int hd_cmd_export(int argc, char **argv)
{
    hd_cli cli;
    int st = hd_cli_parse(&cli, hd_cmd_find("export"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    const exporter *ex = NULL;
    for (size_t i = 0; cli.n_inputs > 0 && i < HD_ARRAY_LEN(exporters); i++)
        if (strcmp(cli.inputs[0], exporters[i].name) == 0)
            ex = &exporters[i];
    if (!ex || !cli.output || cli.n_inputs != 2) {
        fprintf(stderr, "heimdall export: error: %s\nTry 'heimdall export --help'.\n",
                !ex               ? "the first argument names a format (kiwiwav, sigmf)"
                : !cli.output     ? "an output directory is required (-o DIR)"
                                  : "one captures file is expected after the format");
        return 2;
    }
    if (mkdir(cli.output, 0777) != 0 && errno != EEXIST) {
        hd_error(HD_EIO, "cannot create %s: %s", cli.output, strerror(errno));
        return hd_cli_fail(&cli, HD_EIO);
    }
    hd_captures_reader r;
    int rc = hd_captures_open(&r, cli.inputs[1], MPI_COMM_NULL);
    if (rc < 0)
        return hd_cli_fail(&cli, rc);
    rc = ex->run(&cli, &r, cli.output);
    hd_captures_release(&r);
    return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
}
