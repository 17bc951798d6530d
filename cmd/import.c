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
#include "capture/captures.h"
#include "formats/kiwiwav.h"
#include "formats/powder.h"
#include "formats/sigmf.h"
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
    hd_event *ev = hd_calloc((size_t)B, sizeof *ev);
    hd_link *lk = hd_calloc((size_t)(B * R), sizeof *lk);
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
            hd_event *v = &ev[i];
            memset(v, 0, sizeof *v);
            v->index = e;
            v->time_ns = p.time_ns[e];
            v->frequency_hz = HD_POWDER_FREQUENCY_HZ;
            v->sample_rate_hz = 2e6;
            hd_tx_truth_unknown(&v->truth);
            v->truth.lat = p.tx_lat[e];
            v->truth.lon = p.tx_lon[e];
            for (int r = 0; r < R; r++) {
                size_t o = (size_t)e * R + r, k = (size_t)i * R + r;
                hd_link *l = &lk[k];
                memset(l, 0, sizeof *l);
                l->status = HD_RX_OK;
                l->has_levels = p.heard[o];
                l->t0_s = l->gain_db = NAN;
                hd_link_truth_unknown(&l->truth);
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

/* Recordings (KiwiSDR wav, SigMF): one file per receiver per event, read
 * into this common form, then grouped and written by import_recordings. */
typedef struct {
    const char *path;
    int64_t event_time_ns;     /* files of the same event time and frequency are one event */
    double freq_hz;
    char station[HD_ID_LEN];
    double rate_hz;            /* nominal (the header's) */
    int64_t n;
    int16_t *iq;               /* [n*2], owned */
    int gps_ok, last_gps_solution_s;
    int has_t0;
    int64_t t0_ns;             /* first sample, Unix ns UTC */
    double clock_rate_hz, residual_s;
    int n_fit;
    int has_geo;
    double lat, lon, alt_m;
    int event, rx;
} recording;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the receivers table: the config's stations by id, else the recording's own
 * position (SigMF), else gnss_pos/<id>.txt beside it (KiwiSDR TDoA tool),
 * else an unknown position (NaN) with a warning */
static int rec_station(const hd_config *cfg, const recording *f, hd_station *s)
{
    for (int i = 0; i < cfg->n_stations; i++)
        if (strcmp(cfg->stations[i].id, f->station) == 0) {
            *s = cfg->stations[i];
            return 0;
        }
    memset(s, 0, sizeof *s);
    hd_strlcpy(s->id, f->station, sizeof s->id);
    hd_strlcpy(s->name, f->station, sizeof s->name);
    s->driver = HD_DRIVER_KIWISDR;
    s->clock = HD_CLOCK_GPS;
    s->sample_rate_hz = f->rate_hz;
    s->noise_figure_db = s->antenna_gain_dbi = s->full_scale_dbm = s->max_gain_db = s->gain_db = NAN;
    if (f->has_geo) {
        s->lat = f->lat;
        s->lon = f->lon;
        s->alt_m = f->alt_m;
        return 0;
    }
    char dir[4096];
    const char *sl = strrchr(f->path, '/');
    snprintf(dir, sizeof dir, "%.*s", sl ? (int)(sl - f->path) : 1, sl ? f->path : ".");
    int rc = hd_kiwi_gnss_pos_read(dir, f->station, &s->lat, &s->lon);
    if (rc == HD_ENOTFOUND) {
        hd_warn("station '%s': not in the stations file, no position in the recording and no "
                "%s/gnss_pos/%s.txt: position unknown (NaN)", f->station, dir, f->station);
        s->lat = s->lon = NAN;
        return 0;
    }
    return rc;
}

static int import_recordings(const hd_cli *cli, const hd_config *cfg, recording *f, int nf, const char *source,
                             char **in)
{
    int rc = 0, out_open = 0, w_open = 0, E = 0, R = 0;
    const char **ids = hd_calloc((size_t)nf, sizeof *ids);
    int64_t *ev_time = hd_calloc((size_t)nf, sizeof *ev_time);
    double *ev_freq = hd_calloc((size_t)nf, sizeof *ev_freq);
    hd_station *st = hd_calloc((size_t)nf, sizeof *st);
    hd_event ev;
    hd_link *lk = NULL;
    int16_t *iq = NULL;
    float *lev = NULL;
    double *rate = NULL, *resid = NULL;
    int32_t *nfit = NULL;
    hd_h5_out out;
    hd_captures_writer w = {0};
    if (!ids || !ev_time || !ev_freq || !st) {
        rc = HD_ENOMEM;
        goto fail;
    }
    int64_t N = 0;
    for (int i = 0; i < nf; i++) {
        if (f[i].n > N)
            N = f[i].n;
        int e, r;
        for (e = 0; e < E; e++)
            if (ev_time[e] == f[i].event_time_ns && ev_freq[e] == f[i].freq_hz)
                break;
        if (e == E) {
            ev_time[E] = f[i].event_time_ns;
            ev_freq[E++] = f[i].freq_hz;
        }
        for (r = 0; r < R; r++)
            if (strcmp(ids[r], f[i].station) == 0)
                break;
        if (r == R)
            ids[R++] = f[i].station;
    }
    /* deterministic order: events by time then frequency, receivers by id */
    for (int a = 1; a < E; a++)
        for (int b = a; b > 0 && (ev_time[b] < ev_time[b - 1] ||
                                  (ev_time[b] == ev_time[b - 1] && ev_freq[b] < ev_freq[b - 1])); b--) {
            int64_t t = ev_time[b];
            ev_time[b] = ev_time[b - 1];
            ev_time[b - 1] = t;
            double q = ev_freq[b];
            ev_freq[b] = ev_freq[b - 1];
            ev_freq[b - 1] = q;
        }
    qsort(ids, (size_t)R, sizeof *ids, cmp_str);
    for (int i = 0; i < nf; i++) {
        for (int e = 0; e < E; e++)
            if (ev_time[e] == f[i].event_time_ns && ev_freq[e] == f[i].freq_hz)
                f[i].event = e;
        for (int r = 0; r < R; r++)
            if (strcmp(ids[r], f[i].station) == 0)
                f[i].rx = r;
        for (int j = 0; j < i; j++)
            if (f[j].event == f[i].event && f[j].rx == f[i].rx) {
                rc = hd_error(HD_EDATA, "%s and %s are the same station, time and frequency", f[j].path, f[i].path);
                goto fail;
            }
    }
    for (int r = 0; r < R; r++)
        for (int i = 0; i < nf; i++)
            if (f[i].rx == r) {
                if ((rc = rec_station(cfg, &f[i], &st[r])) < 0)
                    goto fail;
                break;
            }
    lk = hd_calloc((size_t)R, sizeof *lk);
    iq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *iq);
    lev = hd_calloc((size_t)R, sizeof *lev);
    rate = hd_calloc((size_t)E * R, sizeof *rate);
    resid = hd_calloc((size_t)E * R, sizeof *resid);
    nfit = hd_calloc((size_t)E * R, sizeof *nfit);
    if (!lk || !iq || !lev || !rate || !resid || !nfit) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, st, R)) < 0 ||
        (rc = hd_captures_create(&w, out.file, E, R, (int)N, 1, cfg->collect.compression, HD_CAPTURES_BULK)) < 0)
        goto fail;
    w_open = 1;
    for (int e = 0; e < E; e++) {
        memset(&ev, 0, sizeof ev);
        ev.index = e;
        ev.time_ns = ev_time[e];
        ev.frequency_hz = ev_freq[e];
        ev.n_samples = (int)N;
        ev.n_levels = 1;
        hd_tx_truth_unknown(&ev.truth);
        memset(iq, 0, (size_t)R * (size_t)N * 4);
        for (int r = 0; r < R; r++) {
            hd_link *l = &lk[r];
            memset(l, 0, sizeof *l);
            l->status = HD_RX_NOT_RUN;
            l->t0_s = l->gain_db = NAN;
            lev[r] = NAN;
            rate[(size_t)e * R + r] = resid[(size_t)e * R + r] = NAN;
        }
        for (int i = 0; i < nf; i++) {
            if (f[i].event != e)
                continue;
            const recording *k = &f[i];
            int r = k->rx;
            size_t o = (size_t)e * R + r;
            hd_link *l = &lk[r];
            if (ev.sample_rate_hz == 0)
                ev.sample_rate_hz = k->rate_hz;
            l->status = HD_RX_OK;
            l->has_iq = 1;
            l->gps_ok = k->gps_ok;
            l->last_gps_solution_s = k->last_gps_solution_s;
            int64_t clip = 0;
            for (int64_t s = 0; s < 2 * k->n; s++)
                clip += k->iq[s] == 32767 || k->iq[s] == -32768;
            l->clipped_fraction = (double)clip / (double)(2 * k->n);
            memcpy(iq + (size_t)r * (size_t)N * 2, k->iq, (size_t)k->n * 4);
            if (k->has_t0)
                l->t0_s = 1e-9 * (double)(k->t0_ns - ev.time_ns);
            rate[o] = k->clock_rate_hz;
            resid[o] = k->residual_s;
            nfit[o] = k->n_fit;
        }
        if ((rc = hd_captures_write_block(&w, e, 1, &ev, lk, iq, lev)) < 0)
            goto fail;
    }
    hd_captures_close(&w);
    w_open = 0;
    {
        hsize_t d2[2] = {(hsize_t)E, (hsize_t)R};
        hid_t g = H5Gcreate2(out.file, "clock", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = hd_error(HD_EIO, "cannot create /clock");
            goto fail;
        }
        H5Gclose(g);
        if ((rc = hd_h5_write(out.file, "clock/rate_hz", H5T_NATIVE_DOUBLE, 2, d2, rate, "Hz",
                              "sample rate of the recording's clock: fitted to its fresh GPS time stamps "
                              "(kiwiwav; the header rate when fewer than 2), heimdall:clock_rate_hz (sigmf); "
                              "NaN: no recording")) < 0 ||
            (rc = hd_h5_write(out.file, "clock/residual_s", H5T_NATIVE_DOUBLE, 2, d2, resid, "s",
                              "RMS residual of the time stamps about the fitted clock (NaN: no fit)")) < 0 ||
            (rc = hd_h5_write(out.file, "clock/n_fit", H5T_NATIVE_INT32, 2, d2, nfit, "1",
                              "fresh GPS time stamps used by the clock fit (0: none or not a kiwiwav)")) < 0 ||
            (rc = hd_h5_attr_str(out.file, "source", source)) < 0)
            goto fail;
    }
    hd_runinfo_set_events(E);
    {
        hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml,
                                 .inputs = (const char *const *)in, .n_inputs = nf};
        if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    hd_info("wrote %d event%s × %d receivers from %d recording%s to %s", E, E == 1 ? "" : "s", R, nf,
            nf == 1 ? "" : "s", cli->output);
fail:
    if (w_open)
        hd_captures_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    free(ids);
    free(ev_time);
    free(ev_freq);
    free(st);
    free(lk);
    free(iq);
    free(lev);
    free(rate);
    free(resid);
    free(nfit);
    return rc;
}

static void free_recordings(recording *f, int n)
{
    for (int i = 0; f && i < n; i++)
        free(f[i].iq);
    free(f);
}

/* KiwiSDR TDoA recordings: event time and frequency from the file name; the
 * clock from the fit of the fresh GPS stamps */
static int import_kiwiwav(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc < 1)
        return hd_error(HD_EINVAL, "import kiwiwav needs at least one recording (*_iq.wav)");
    int rc = 0;
    recording *f = hd_calloc((size_t)argc, sizeof *f);
    if (!f)
        return HD_ENOMEM;
    for (int i = 0; i < argc; i++) {
        hd_kiwiwav k;
        recording *r = &f[i];
        r->path = in[i];
        if ((rc = hd_kiwiwav_name_parse(in[i], &r->event_time_ns, &r->freq_hz, r->station, sizeof r->station)) < 0 ||
            (rc = hd_kiwiwav_read(&k, in[i])) < 0)
            goto done;
        if (k.n_fit >= 2 && fabs(k.fit_rate_hz / k.header_rate_hz - 1) > 100e-6)
            hd_warn("%s: the GPS stamps give %.3f Hz against %u Hz in the header (%.0f ppm): kept, clock from the fit",
                    in[i], k.fit_rate_hz, k.header_rate_hz, 1e6 * (k.fit_rate_hz / k.header_rate_hz - 1));
        if (k.n_fit == 0)
            hd_warn("%s: no fresh GPS time stamp: gps_ok 0, header rate", in[i]);
        r->rate_hz = k.header_rate_hz;
        r->n = k.n_samples;
        r->iq = k.iq;
        k.iq = NULL;
        r->gps_ok = k.n_fit > 0;
        r->clock_rate_hz = k.fit_rate_hz;
        r->residual_s = k.n_fit >= 2 ? k.fit_rms_s : NAN;
        r->n_fit = k.n_fit;
        double t0_week = k.fit_t0_gps_s;
        if (!r->gps_ok) {
            /* no fix: the first nonzero stamp at the header rate */
            r->last_gps_solution_s = k.blocks[0].last_gps_solution;
            t0_week = NAN;
            for (int b = 0; b < k.n_blocks; b++)
                if (k.blocks[b].gps_sec || k.blocks[b].gps_nsec) {
                    t0_week = k.blocks[b].gps_sec + 1e-9 * k.blocks[b].gps_nsec -
                              (double)k.blocks[b].first_sample / k.header_rate_hz;
                    break;
                }
        }
        if (isfinite(t0_week) && fabs(t0_week) < 2.0 * 604800) { /* within a week or so of the stamps' week */
            r->has_t0 = 1;
            r->t0_ns = hd_gps_week_to_unix_ns(t0_week, r->event_time_ns);
        }
        hd_kiwiwav_release(&k);
    }
    rc = import_recordings(cli, cfg, f, argc, "kiwiwav", in);
done:
    free_recordings(f, argc);
    return rc;
}

/* SigMF recordings: BASE.sigmf-meta (or -data, or BASE) per receiver */
static int import_sigmf(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc < 1)
        return hd_error(HD_EINVAL, "import sigmf needs at least one recording (BASE.sigmf-meta)");
    int rc = 0;
    recording *f = hd_calloc((size_t)argc, sizeof *f);
    if (!f)
        return HD_ENOMEM;
    for (int i = 0; i < argc; i++) {
        hd_sigmf_meta m;
        recording *r = &f[i];
        r->path = in[i];
        if ((rc = hd_sigmf_read(in[i], &m, &r->iq, &r->n)) < 0)
            goto done;
        if (!m.station[0]) {
            /* no heimdall:station: the file's base name */
            const char *b = strrchr(in[i], '/');
            hd_strlcpy(m.station, b ? b + 1 : in[i], sizeof m.station);
            char *dot = strstr(m.station, ".sigmf");
            if (dot)
                *dot = 0;
        }
        hd_strlcpy(r->station, m.station, sizeof r->station);
        r->event_time_ns = m.event_time_ns;
        r->freq_hz = m.frequency_hz;
        r->rate_hz = m.sample_rate_hz;
        r->gps_ok = m.gps_ok;
        r->last_gps_solution_s = m.last_gps_solution_s;
        r->has_t0 = 1;
        r->t0_ns = m.datetime_ns;
        r->clock_rate_hz = m.clock_rate_hz;
        r->residual_s = NAN;
        r->has_geo = m.has_geo;
        r->lat = m.lat;
        r->lon = m.lon;
        r->alt_m = m.alt_m;
    }
    rc = import_recordings(cli, cfg, f, argc, "sigmf", in);
done:
    free_recordings(f, argc);
    return rc;
}

int hd_import_mlat(const hd_cli *cli, const hd_config *cfg, int argc, char **inputs); /* import_mlat.c */

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
    {"mlat", hd_import_mlat,
     "  mlat SENSORS.csv MESSAGES.csv...  ADS-B multilateration messages (LocaRDS, GPS-timed receivers) into\n"
     "                         a features file: the receivers that occur, /toa/time_ns arrival times, /tdoa\n"
     "                         pair differences (sigma by clock type, import.mlat.*), the barometric\n"
     "                         altitude as /obs/alt_m, the aircraft's position as /truth\n"},
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
                !imp ? "the first argument names a format (kiwiwav, sigmf, powder, mlat)" : "an output file is required (-o FILE)");
        return 2;
    }
    hd_cli_catch_signals();
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    if (rc == 0)
        rc = imp->run(&cli, &cfg, cli.n_inputs - 1, cli.inputs + 1);
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
}
