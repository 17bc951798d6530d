/* Recordings (KiwiSDR wav, SigMF) into a captures file: see recordings.h. */
#include "formats/recordings.h"
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "core/util.h"
#include "formats/sigmf.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hd_recording_from_kiwiwav(hd_recording *r, const char *path, hd_kiwiwav *k)
{
    int rc;
    memset(r, 0, sizeof *r);
    r->path = path;
    if ((rc = hd_kiwiwav_name_parse(path, &r->event_time_ns, &r->freq_hz, r->station, sizeof r->station)) < 0)
        return rc;
    if (k->n_fit >= 2 && fabs(k->fit_rate_hz / k->header_rate_hz - 1) > 100e-6)
        hd_warn("%s: the GPS stamps give %.3f Hz against %u Hz in the header (%.0f ppm): kept, clock from the fit",
                path, k->fit_rate_hz, k->header_rate_hz, 1e6 * (k->fit_rate_hz / k->header_rate_hz - 1));
    if (k->n_fit == 0)
        hd_warn("%s: no fresh GPS time stamp: gps_ok 0, header rate", path);
    r->rate_hz = k->header_rate_hz;
    r->n = k->n_samples;
    r->iq = k->iq;
    k->iq = NULL;
    r->gps_ok = k->n_fit > 0;
    r->clock_rate_hz = k->fit_rate_hz;
    r->residual_s = k->n_fit >= 2 ? k->fit_rms_s : NAN;
    r->n_fit = k->n_fit;
    double t0_week = k->fit_t0_gps_s;
    if (!r->gps_ok) {
        /* no fix: the first nonzero stamp at the header rate */
        r->last_gps_solution_s = k->blocks[0].last_gps_solution;
        t0_week = NAN;
        for (int b = 0; b < k->n_blocks; b++)
            if (k->blocks[b].gps_sec || k->blocks[b].gps_nsec) {
                t0_week = k->blocks[b].gps_sec + 1e-9 * k->blocks[b].gps_nsec -
                          (double)k->blocks[b].first_sample / k->header_rate_hz;
                break;
            }
    }
    if (isfinite(t0_week) && fabs(t0_week) < 2.0 * 604800) { /* within a week or so of the stamps' week */
        r->has_t0 = 1;
        r->t0_ns = hd_gps_week_to_unix_ns(t0_week, r->event_time_ns);
    }
    return 0;
}

int hd_recording_read_kiwiwav(hd_recording *r, const char *path)
{
    hd_kiwiwav k;
    int rc;
    memset(r, 0, sizeof *r);
    r->path = path;
    /* the name first: a file that is not a TDoA recording is refused before it is read */
    if ((rc = hd_kiwiwav_name_parse(path, &r->event_time_ns, &r->freq_hz, r->station, sizeof r->station)) < 0 ||
        (rc = hd_kiwiwav_read(&k, path)) < 0)
        return rc;
    rc = hd_recording_from_kiwiwav(r, path, &k);
    hd_kiwiwav_release(&k);
    return rc;
}

int hd_recording_read_sigmf(hd_recording *r, const char *path)
{
    hd_sigmf_meta m;
    int rc;
    memset(r, 0, sizeof *r);
    r->path = path;
    if ((rc = hd_sigmf_read(path, &m, &r->iq, &r->n)) < 0)
        return rc;
    if (!m.station[0]) {
        /* no heimdall:station: the file's base name */
        const char *b = strrchr(path, '/');
        hd_strlcpy(m.station, b ? b + 1 : path, sizeof m.station);
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
    return 0;
}

void hd_recordings_free(hd_recording *f, int n)
{
    for (int i = 0; f && i < n; i++)
        free(f[i].iq);
    free(f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void hd_recording_set_release(hd_recording_set *s)
{
    free(s->time_ns);
    free(s->frequency_hz);
    free(s->ids);
    free(s->stations);
    memset(s, 0, sizeof *s);
}

int hd_recordings_group(hd_recording_set *s, hd_recording *f, int nf)
{
    memset(s, 0, sizeof *s);
    int E = 0, R = 0;
    s->ids = hd_calloc((size_t)nf + 1, sizeof *s->ids);
    s->time_ns = hd_calloc((size_t)nf + 1, sizeof *s->time_ns);
    s->frequency_hz = hd_calloc((size_t)nf + 1, sizeof *s->frequency_hz);
    if (!s->ids || !s->time_ns || !s->frequency_hz) {
        hd_recording_set_release(s);
        return HD_ENOMEM;
    }
    int64_t *ev_time = s->time_ns;
    double *ev_freq = s->frequency_hz;
    const char **ids = s->ids;
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
    s->n_events = E;
    s->n_receivers = R;
    s->n_samples = N;
    for (int i = 0; i < nf; i++) {
        for (int e = 0; e < E; e++)
            if (ev_time[e] == f[i].event_time_ns && ev_freq[e] == f[i].freq_hz)
                f[i].event = e;
        for (int r = 0; r < R; r++)
            if (strcmp(ids[r], f[i].station) == 0)
                f[i].rx = r;
        for (int j = 0; j < i; j++)
            if (f[j].event == f[i].event && f[j].rx == f[i].rx) {
                int rc = hd_error(HD_EDATA, "%s and %s are the same station, time and frequency", f[j].path,
                                  f[i].path);
                hd_recording_set_release(s);
                return rc;
            }
    }
    return 0;
}

int hd_recording_station(const hd_config *cfg, const hd_recording *f, hd_station *s)
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

int hd_recordings_stations(hd_recording_set *s, const hd_config *cfg, const hd_recording *f, int nf)
{
    int R = s->n_receivers;
    free(s->stations);
    s->stations = hd_calloc((size_t)nf + 1, sizeof *s->stations);
    if (!s->stations)
        return HD_ENOMEM;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < nf; i++)
            if (f[i].rx == r) {
                int rc = hd_recording_station(cfg, &f[i], &s->stations[r]);
                if (rc < 0)
                    return rc;
                break;
            }
    return 0;
}

int hd_recordings_write_captures(const hd_import_out *o, const hd_recording_set *s, const hd_recording *f, int nf,
                                 const char *source, const char *const *inputs)
{
    int rc = 0, out_open = 0, w_open = 0, E = s->n_events, R = s->n_receivers;
    int64_t N = s->n_samples;
    hd_event ev;
    hd_link *lk = hd_calloc((size_t)R, sizeof *lk);
    int16_t *iq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *iq);
    float *lev = hd_calloc((size_t)R, sizeof *lev);
    double *rate = hd_calloc((size_t)E * R, sizeof *rate), *resid = hd_calloc((size_t)E * R, sizeof *resid);
    int32_t *nfit = hd_calloc((size_t)E * R, sizeof *nfit);
    hd_h5_out out;
    hd_captures_writer w = {0};
    if (!lk || !iq || !lev || !rate || !resid || !nfit) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, o->path, o->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, s->stations, R)) < 0 ||
        (rc = hd_captures_create(&w, out.file, E, R, (int)N, 1, o->compression, HD_CAPTURES_BULK)) < 0)
        goto fail;
    w_open = 1;
    for (int e = 0; e < E; e++) {
        memset(&ev, 0, sizeof ev);
        ev.index = e;
        ev.time_ns = s->time_ns[e];
        ev.frequency_hz = s->frequency_hz[e];
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
            const hd_recording *k = &f[i];
            int r = k->rx;
            size_t idx = (size_t)e * R + r;
            hd_link *l = &lk[r];
            if (ev.sample_rate_hz == 0)
                ev.sample_rate_hz = k->rate_hz;
            l->status = HD_RX_OK;
            l->has_iq = 1;
            l->gps_ok = k->gps_ok;
            l->last_gps_solution_s = k->last_gps_solution_s;
            int64_t clip = 0;
            for (int64_t j = 0; j < 2 * k->n; j++)
                clip += k->iq[j] == 32767 || k->iq[j] == -32768;
            l->clipped_fraction = (double)clip / (double)(2 * k->n);
            memcpy(iq + (size_t)r * (size_t)N * 2, k->iq, (size_t)k->n * 4);
            if (k->has_t0)
                l->t0_s = 1e-9 * (double)(k->t0_ns - ev.time_ns);
            rate[idx] = k->clock_rate_hz;
            resid[idx] = k->residual_s;
            nfit[idx] = k->n_fit;
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
                                 .command_line = o->command_line, .config_yaml = o->config_yaml,
                                 .inputs = inputs, .n_inputs = nf};
        if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
fail:
    if (w_open)
        hd_captures_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    free(lk);
    free(iq);
    free(lev);
    free(rate);
    free(resid);
    free(nfit);
    return rc;
}

double *hd_recordings_read_clock_rates(hid_t file, int64_t n_events, int n_receivers)
{
    if (H5Lexists(file, "clock", H5P_DEFAULT) <= 0 || H5Lexists(file, "clock/rate_hz", H5P_DEFAULT) <= 0)
        return NULL;
    int rank;
    hsize_t dims[8];
    void *data = NULL;
    if (hd_h5_read(file, "clock/rate_hz", H5T_NATIVE_DOUBLE, &rank, dims, &data) < 0 || rank != 2 ||
        (int64_t)dims[0] != n_events || (int)dims[1] != n_receivers) {
        free(data);
        return NULL;
    }
    return data;
}
