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

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A recording's station (as in its file name: "DL0MUC") is the stations
 * file's station of that id, or of the id made from it ("dl0muc", as
 * heimdall stations import makes ids). */
static int same_station(const char *cfg_id, const char *file_station)
{
    if (strcmp(cfg_id, file_station) == 0)
        return 1;
    char id[HD_ID_LEN];
    hd_station_id_make(file_station, id, sizeof id);
    return strcmp(cfg_id, id) == 0;
}


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
    if (!r->gps_ok && !isfinite(t0_week)) {
        rc = hd_error(HD_EDATA,
                      "%s: GPS never fixed: none of its %d time stamps is set (last_gps_solution %d), so the "
                      "recording has no time; leave it out",
                      path, k->n_blocks, k->blocks[0].last_gps_solution);
        free(r->iq);
        r->iq = NULL;
        return rc;
    }
    if (k->n_fit == 0)
        hd_warn("%s: no fresh GPS time stamp: gps_ok 0, header rate", path);
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

void hd_recording_set_release(hd_recording_set *s)
{
    free(s->time_ns);
    free(s->frequency_hz);
    free(s->ids);
    free(s->stations);
    free(s->source);
    memset(s, 0, sizeof *s);
}

int hd_recordings_group(hd_recording_set *s, hd_recording *f, int nf, const hd_config *cfg)
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
    /* receivers: the config's stations in their order, then the others in
     * the order of the command line (first appearance) */
    int front = 0;
    for (int c = 0; cfg && c < cfg->n_stations; c++)
        for (int r = front; r < R; r++)
            if (same_station(cfg->stations[c].id, ids[r])) {
                const char *t = ids[r];
                memmove(ids + front + 1, ids + front, (size_t)(r - front) * sizeof *ids);
                ids[front++] = t;
                break;
            }
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
        for (int j = 0; j < i; j++) {
            int rc = 0;
            if (f[j].event == f[i].event && f[j].rx == f[i].rx)
                rc = hd_error(HD_EINVAL, "%s and %s are the same station, time and frequency: give one of them",
                              f[j].path, f[i].path);
            else if (f[j].event == f[i].event && fabs(f[i].rate_hz / f[j].rate_hz - 1) > HD_RECORDINGS_RATE_TOL)
                rc = hd_error(HD_EINVAL,
                              "mixed sample rates in one event: %s is %.0f Hz, %s is %.0f Hz (one event needs "
                              "one rate within %.0f ppm; import each rate separately)",
                              f[j].path, f[j].rate_hz, f[i].path, f[i].rate_hz, 1e6 * HD_RECORDINGS_RATE_TOL);
            if (rc < 0) {
                hd_recording_set_release(s);
                return rc;
            }
        }
    }
    return 0;
}

static int bad_line(const char *path, int line, const char *text, const char *why)
{
    return hd_error(HD_ECONFIG, "%s:%d: %s (expected id,lat,lon[,alt_m]; got '%.80s')", path, line, why, text);
}

static char *trim(char *t)
{
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r'))
        t[--n] = 0;
    return t;
}

static int number(const char *t, double *v)
{
    char *e;
    if (!*t)
        return -1;
    *v = strtod(t, &e);
    return *e || !isfinite(*v) ? -1 : 0;
}

static int add_position(hd_positions *ps, const char *id, double lat, double lon, double alt, int line, int *cap)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].id, id) == 0) {
            if (line)
                return hd_error(HD_ECONFIG, "%s:%d: station '%s' again (first on line %d)", ps->path, line, id,
                                ps->p[i].line);
            return hd_error(HD_ECONFIG, "%s: station '%s' twice", ps->path, id);
        }
    if (ps->n == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        hd_position *np = realloc(ps->p, (size_t)nc * sizeof *np);
        if (!np)
            return hd_error(HD_ENOMEM, "out of memory reading %s", ps->path);
        ps->p = np;
        *cap = nc;
    }
    hd_position *q = &ps->p[ps->n++];
    memset(q, 0, sizeof *q);
    hd_strlcpy(q->id, id, sizeof q->id);
    q->lat = lat;
    q->lon = lon;
    q->alt_m = alt;
    q->line = line;
    return 0;
}

static int positions_yaml(hd_positions *ps, int *cap)
{
    char abs[PATH_MAX], yaml[PATH_MAX + 32];
    if (!realpath(ps->path, abs))
        return hd_error(HD_EIO, "cannot read %s: %s", ps->path, strerror(errno));
    snprintf(yaml, sizeof yaml, "stations: \"%s\"\n", abs);
    hd_config *c = hd_calloc(1, sizeof *c);
    if (!c)
        return HD_ENOMEM;
    int rc = hd_config_load_string(c, yaml, ps->path, NULL, 0);
    for (int i = 0; rc == 0 && i < c->n_stations; i++)
        rc = add_position(ps, c->stations[i].id, c->stations[i].lat, c->stations[i].lon, c->stations[i].alt_m, 0,
                          cap);
    hd_config_release(c);
    free(c);
    return rc;
}

int hd_positions_read(hd_positions *ps, const char *path)
{
    memset(ps, 0, sizeof *ps);
    hd_strlcpy(ps->path, path, sizeof ps->path);
    int cap = 0, rc = 0;
    size_t pl = strlen(path);
    if ((pl > 5 && strcmp(path + pl - 5, ".yaml") == 0) || (pl > 4 && strcmp(path + pl - 4, ".yml") == 0)) {
        rc = positions_yaml(ps, &cap);
    } else {
        char *text = NULL;
        if ((rc = hd_read_file(path, &text, NULL)) < 0)
            return hd_error_context(rc, "--positions");
        int line = 0, data = 0;
        for (char *ln = text, *next; ln && rc == 0; ln = next) {
            next = strchr(ln, '\n');
            if (next)
                *next++ = 0;
            line++;
            char *t = trim(ln);
            if (!*t || *t == '#')
                continue;
            char copy[256], *fld[5];
            hd_strlcpy(copy, t, sizeof copy);
            int nf = 0;
            for (char *c = copy, *sep; c && nf < 5; c = sep) {
                sep = strchr(c, ',');
                if (sep)
                    *sep++ = 0;
                fld[nf++] = trim(c);
            }
            double lat, lon, alt = 0;
            if (!data++ && nf >= 3 && strcmp(fld[0], "id") == 0 && number(fld[1], &lat) < 0)
                continue; /* a header line */
            if (nf < 3 || nf > 4)
                rc = bad_line(path, line, t, nf < 3 ? "too few fields" : "too many fields");
            else if (!fld[0][0] || strlen(fld[0]) >= HD_ID_LEN)
                rc = bad_line(path, line, t, "the id is empty or longer than 31 characters");
            else if (number(fld[1], &lat) < 0 || number(fld[2], &lon) < 0 || (nf == 4 && number(fld[3], &alt) < 0))
                rc = bad_line(path, line, t, "a coordinate is not a number");
            else if (fabs(lat) > 90 || fabs(lon) > 180)
                rc = bad_line(path, line, t, "latitude outside [-90, 90] or longitude outside [-180, 180]");
            else
                rc = add_position(ps, fld[0], lat, lon, alt, line, &cap);
        }
        free(text);
    }
    if (rc == 0 && ps->n == 0)
        rc = hd_error(HD_ECONFIG, "%s: no positions in it (lines id,lat,lon[,alt_m])", path);
    if (rc < 0)
        hd_positions_release(ps);
    return rc;
}

void hd_positions_release(hd_positions *ps)
{
    free(ps->p);
    ps->p = NULL;
    ps->n = 0;
}

/* the folder of a path, and the folder above it */
static void folders(const char *path, char *dir, size_t dl, char *parent, size_t pl)
{
    const char *sl = strrchr(path, '/');
    snprintf(dir, dl, "%.*s", sl ? (int)(sl - path) : 1, sl ? path : ".");
    const char *last = strrchr(dir, '/');
    const char *base = last ? last + 1 : dir;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        snprintf(parent, pl, "%s/..", dir);
    else if (!last)
        snprintf(parent, pl, ".");
    else
        snprintf(parent, pl, "%.*s", last == dir ? 1 : (int)(last - dir), dir);
}

int hd_recording_station(const hd_config *cfg, const hd_positions *pos, const hd_recording *f, hd_station *s,
                         char *source, size_t source_len)
{
    for (int i = 0; i < cfg->n_stations; i++)
        if (same_station(cfg->stations[i].id, f->station)) {
            *s = cfg->stations[i];
            if (cfg->stations_path[0])
                snprintf(source, source_len, "the stations of %s (of %s)", cfg->stations_path, cfg->path);
            else
                snprintf(source, source_len, "the stations of %s", cfg->path);
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
        snprintf(source, source_len, "the recording's core:geolocation");
        return 0;
    }
    char dir[2048], parent[2100], gdir[2][2200];
    folders(f->path, dir, sizeof dir, parent, sizeof parent);
    snprintf(gdir[0], sizeof gdir[0], "%s/gnss_pos", dir);
    snprintf(gdir[1], sizeof gdir[1], "%s/gnss_pos", parent);
    for (int k = 0; k < 2; k++) {
        int rc = hd_kiwi_gnss_pos_find(gdir[k], f->station, &s->lat, &s->lon, source, source_len);
        if (rc == 0)
            return 0;
        if (rc != HD_ENOTFOUND)
            return rc;
    }
    for (int i = 0; pos && i < pos->n; i++)
        if (strcmp(pos->p[i].id, f->station) == 0) {
            s->lat = pos->p[i].lat;
            s->lon = pos->p[i].lon;
            s->alt_m = pos->p[i].alt_m;
            if (pos->p[i].line)
                snprintf(source, source_len, "%s:%d", pos->path, pos->p[i].line);
            else
                snprintf(source, source_len, "%s", pos->path);
            return 0;
        }
    char vname[HD_KIWI_NAME_LEN], cfgname[HD_PATH_LEN + 40], posname[HD_PATH_LEN + 40];
    hd_kiwi_octave_name(vname, sizeof vname, f->station);
    if (cfg->stations_path[0])
        snprintf(cfgname, sizeof cfgname, "%.*s (of %.*s)", HD_PATH_LEN / 2, cfg->stations_path, HD_PATH_LEN / 2,
                 cfg->path);
    else
        snprintf(cfgname, sizeof cfgname, "%s", cfg->path);
    if (pos)
        snprintf(posname, sizeof posname, "not in %s", pos->path);
    else
        snprintf(posname, sizeof posname, "no --positions file given");
    s->lat = s->lon = NAN;
    return hd_error(HD_ECONFIG,
                    "station '%s' (%s) has no position: not in the stations of %s, no position in the recording, "
                    "no d.%s line in %s/*.txt nor %s/*.txt, %s; give it in the stations file of -c or with "
                    "--positions FILE (lines id,lat,lon[,alt_m])",
                    f->station, f->path, cfgname, vname, gdir[0], gdir[1], posname);
}

int hd_recordings_stations(hd_recording_set *s, const hd_config *cfg, const hd_positions *pos,
                           const hd_recording *f, int nf)
{
    int R = s->n_receivers;
    free(s->stations);
    free(s->source);
    s->stations = hd_calloc((size_t)nf + 1, sizeof *s->stations);
    s->source = hd_calloc((size_t)nf + 1, sizeof *s->source);
    if (!s->stations || !s->source)
        return HD_ENOMEM;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < nf; i++)
            if (f[i].rx == r) {
                int rc = hd_recording_station(cfg, pos, &f[i], &s->stations[r], s->source[r], sizeof s->source[r]);
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
    hd_h5_out out;
    hd_captures_writer w = {0};
    if (!lk || !iq || !lev) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, o->path, o->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, s->stations, R)) < 0 ||
        (rc = hd_captures_create(&w, out.file, E, R, (int)N, 1, o->compression, HD_CAPTURES_BULK | HD_CAPTURES_CLOCK)) < 0)
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
            l->clock_rate_hz = l->clock_residual_s = NAN; /* no recording */
            lev[r] = NAN;
        }
        for (int i = 0; i < nf; i++) {
            if (f[i].event != e)
                continue;
            const hd_recording *k = &f[i];
            int r = k->rx;
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
            l->clock_rate_hz = k->clock_rate_hz; /* kiwiwav's fit (the header rate below 2 stamps), SigMF's */
            l->clock_residual_s = k->residual_s;
            l->clock_n_fit = k->n_fit;
        }
        if ((rc = hd_captures_write_block(&w, e, 1, &ev, lk, iq, lev)) < 0)
            goto fail;
    }
    hd_captures_close(&w);
    w_open = 0;
    if ((rc = hd_h5_attr_str(out.file, "source", source)) < 0)
        goto fail;
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
    return rc;
}
