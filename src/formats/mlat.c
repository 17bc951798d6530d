/* ADS-B multilateration data (LocaRDS): the sensors and message CSV files
 * read and assembled into features arrays (see mlat.h). */
#include "formats/mlat.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "features/features.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

void hd_mlat_init(hd_mlat *m)
{
    memset(m, 0, sizeof *m);
}

void hd_mlat_release(hd_mlat *m)
{
    free(m->sensors);
    free(m->msg);
    memset(m, 0, sizeof *m);
}

/* Split a CSV line in place (RFC 4180 quoting: "a,b" and "" inside quotes).
 * Returns the number of fields, or -1 for an unterminated quote. */
static int split_csv(char *s, char **f, int maxf)
{
    int n = 0;
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = 0;
    char *p = s;
    for (;;) {
        if (n == maxf)
            return maxf + 1;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = 0;
            if (*p && *p != ',')
                return -1;
        } else {
            f[n++] = p;
            while (*p && *p != ',')
                p++;
        }
        if (!*p)
            return n;
        *p++ = 0;
    }
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    *v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    return *end || errno == ERANGE || !isfinite(*v) ? -1 : 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    long long x = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno == ERANGE)
        return -1;
    *v = x;
    return 0;
}

static int header_check(const char *path, char *line, const char *const *want, int n)
{
    char *f[MAX_FIELDS + 1];
    int nf = split_csv(line, f, MAX_FIELDS);
    if (nf != n)
        return hd_error(HD_EFORMAT, "%s:1: header has %d columns, expected %d (%s, …)", path, nf, n, want[0]);
    for (int k = 0; k < n; k++) {
        const char *h = f[k];
        if (k == 0 && (unsigned char)h[0] == 0xef && (unsigned char)h[1] == 0xbb && (unsigned char)h[2] == 0xbf)
            h += 3; /* a UTF-8 byte order mark */
        if (strcmp(h, want[k]) != 0)
            return hd_error(HD_EFORMAT, "%s:1: column %d is '%s', expected '%s'", path, k + 1, h, want[k]);
    }
    return 0;
}

/* Every data row of a CSV file with the header `cols` (n columns): blank
 * lines skipped, each row split and its field count checked, then row(ctx,
 * path, line number, fields). The first error ends the reading. */
typedef int (*csv_row_fn)(void *ctx, const char *path, long ln, char **f);
static int csv_rows(const char *path, const char *const *cols, int n, csv_row_fn row, void *ctx)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return hd_error(HD_EIO, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    long ln = 0;
    while (getline(&line, &cap, fp) > 0) {
        ln++;
        if (ln == 1) {
            if ((rc = header_check(path, line, cols, n)) < 0)
                goto done;
            continue;
        }
        if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
            continue;
        char *f[MAX_FIELDS + 1];
        int nf = split_csv(line, f, MAX_FIELDS);
        if (nf != n) {
            rc = nf < 0 ? hd_error(HD_EFORMAT, "%s:%ld: unterminated quoted field", path, ln)
                        : hd_error(HD_EFORMAT, "%s:%ld: %d fields, expected %d", path, ln, nf, n);
            goto done;
        }
        if ((rc = row(ctx, path, ln, f)) < 0)
            goto done;
    }
    if (ln == 0)
        rc = hd_error(HD_EFORMAT, "%s: empty file (no header)", path);
    else if (ferror(fp))
        rc = hd_error(HD_EIO, "cannot read %s", path);
done:
    free(line);
    fclose(fp);
    return rc;
}

typedef struct {
    hd_mlat *m;
    int cap;
} sensors_ctx;

static int sensor_row(void *ctx, const char *path, long ln, char **f)
{
    sensors_ctx *c = ctx;
    hd_mlat *m = c->m;
    hd_mlat_sensor s = {0};
    int64_t serial;
    if (parse_i64(f[0], &serial) < 0 || serial < 0 || serial > 2147483647)
        return hd_error(HD_EFORMAT, "%s:%ld: serial '%s' is not a non-negative integer", path, ln, f[0]);
    s.serial = (int)serial;
    if (parse_double(f[1], &s.lat) < 0 || fabs(s.lat) > 90 || parse_double(f[2], &s.lon) < 0 ||
        fabs(s.lon) > 180 || parse_double(f[3], &s.height_m) < 0 || fabs(s.height_m) > 20000)
        return hd_error(HD_EFORMAT, "%s:%ld: latitude, longitude or height not a number in range", path, ln);
    snprintf(s.type, sizeof s.type, "%s", f[4]);
    if (strcmp(f[5], "TRUE") == 0 || strcmp(f[5], "True") == 0 || strcmp(f[5], "true") == 0 || strcmp(f[5], "1") == 0)
        s.good = 1;
    else if (strcmp(f[5], "FALSE") == 0 || strcmp(f[5], "False") == 0 || strcmp(f[5], "false") == 0 ||
             strcmp(f[5], "0") == 0)
        s.good = 0;
    else
        return hd_error(HD_EFORMAT, "%s:%ld: good is '%s', expected TRUE or FALSE", path, ln, f[5]);
    for (int k = 0; k < m->n_sensors; k++)
        if (m->sensors[k].serial == s.serial)
            return hd_error(HD_EFORMAT, "%s:%ld: sensor %d listed twice", path, ln, s.serial);
    if (m->n_sensors == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        hd_mlat_sensor *ns = realloc(m->sensors, (size_t)c->cap * sizeof *ns);
        if (!ns)
            return hd_error(HD_ENOMEM, "out of memory reading %s", path);
        m->sensors = ns;
    }
    m->sensors[m->n_sensors++] = s;
    return 0;
}

int hd_mlat_read_sensors(hd_mlat *m, const char *path)
{
    static const char *const cols[] = {"serial", "latitude", "longitude", "height", "type", "good"};
    free(m->sensors);
    m->sensors = NULL;
    m->n_sensors = 0;
    sensors_ctx c = {m, 0};
    return csv_rows(path, cols, 6, sensor_row, &c);
}

static int sensor_index(const hd_mlat *m, int64_t serial)
{
    for (int k = 0; k < m->n_sensors; k++)
        if (m->sensors[k].serial == serial)
            return k;
    return -1;
}

/* The measurements column: [[serial, toa_ns, rssi], …]. */
static int parse_measurements(const hd_mlat *m, const char *path, long ln, const char *s, hd_mlat_message *g)
{
    json_error_t je;
    json_t *a = json_loads(s, 0, &je);
    int rc = 0;
    if (!a || !json_is_array(a)) {
        rc = hd_error(HD_EFORMAT, "%s:%ld: measurements is not a JSON list (%s)", path, ln, a ? "not a list" : je.text);
        goto done;
    }
    size_t n = json_array_size(a);
    if (n > HD_MLAT_MAX_MEAS) {
        rc = hd_error(HD_EFORMAT, "%s:%ld: %zu measurements (at most %d)", path, ln, n, HD_MLAT_MAX_MEAS);
        goto done;
    }
    g->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_array(e) || json_array_size(e) != 3 || !json_is_integer(json_array_get(e, 0)) ||
            !json_is_integer(json_array_get(e, 1)) || !json_is_number(json_array_get(e, 2))) {
            rc = hd_error(HD_EFORMAT, "%s:%ld: measurement %zu is not [serial, arrival ns, rssi] (integers, a number)",
                          path, ln, i + 1);
            goto done;
        }
        json_int_t serial = json_integer_value(json_array_get(e, 0));
        int k = sensor_index(m, serial);
        if (k < 0) {
            rc = hd_error(HD_EFORMAT, "%s:%ld: message %lld names receiver %lld, which the sensors file does not list",
                          path, ln, (long long)g->id, (long long)serial);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (g->sensor[j] == k) {
                rc = hd_error(HD_EFORMAT, "%s:%ld: receiver %lld measured twice in one message", path, ln,
                              (long long)serial);
                goto done;
            }
        g->sensor[i] = k;
        g->toa_ns[i] = (int64_t)json_integer_value(json_array_get(e, 1));
        g->rssi[i] = json_number_value(json_array_get(e, 2));
    }
done:
    json_decref(a);
    return rc;
}

static int message_row(void *ctx, const char *path, long ln, char **f)
{
    hd_mlat *m = ctx;
    hd_mlat_message g;
    memset(&g, 0, sizeof g);
    int64_t nm;
    const char *bad = NULL;
    if (parse_i64(f[0], &g.id) < 0)
        bad = "id";
    else if (parse_double(f[1], &g.time_s) < 0 || g.time_s < 0 || g.time_s > 1e7)
        bad = "timeAtServer";
    else if (parse_i64(f[2], &g.aircraft) < 0)
        bad = "aircraft";
    else if (parse_double(f[3], &g.lat) < 0 || fabs(g.lat) > 90)
        bad = "latitude";
    else if (parse_double(f[4], &g.lon) < 0 || fabs(g.lon) > 180)
        bad = "longitude";
    else if (parse_double(f[5], &g.baro_alt_m) < 0 || g.baro_alt_m < -1000 || g.baro_alt_m > 30000)
        bad = "baroAltitude";
    else if (parse_double(f[6], &g.geo_alt_m) < 0 || g.geo_alt_m < -1000 || g.geo_alt_m > 30000)
        bad = "geoAltitude";
    else if (parse_i64(f[7], &nm) < 0 || nm < 0)
        bad = "numMeasurements";
    if (bad)
        return hd_error(HD_EFORMAT, "%s:%ld: %s is not a number in range", path, ln, bad);
    int rc = parse_measurements(m, path, ln, f[8], &g);
    if (rc < 0)
        return rc;
    if (nm != g.n)
        return hd_error(HD_EFORMAT, "%s:%ld: numMeasurements %lld but %d measurements", path, ln, (long long)nm, g.n);
    if (m->n_msg == m->cap_msg) {
        int64_t nc = m->cap_msg ? 2 * m->cap_msg : 512;
        hd_mlat_message *nmsg = realloc(m->msg, (size_t)nc * sizeof *nmsg);
        if (!nmsg)
            return hd_error(HD_ENOMEM, "out of memory reading %s", path);
        m->msg = nmsg;
        m->cap_msg = nc;
    }
    m->msg[m->n_msg++] = g;
    return 0;
}

int hd_mlat_read_messages(hd_mlat *m, const char *path)
{
    static const char *const cols[] = {"id",          "timeAtServer", "aircraft",        "latitude",    "longitude",
                                       "baroAltitude", "geoAltitude", "numMeasurements", "measurements"};
    if (!m->n_sensors)
        return hd_error(HD_EINVAL, "mlat: read the sensors file before the messages");
    return csv_rows(path, cols, 9, message_row, m);
}

int hd_mlat_read_offsets(const char *path, int **serials, double **offsets_ns, int *n)
{
    *serials = NULL;
    *offsets_ns = NULL;
    *n = 0;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return hd_error(HD_EIO, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0, capn = 0;
    long ln = 0;
    while (getline(&line, &cap, fp) > 0) {
        ln++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *f[MAX_FIELDS + 1];
        int nf = split_csv(line, f, MAX_FIELDS);
        int64_t s;
        double v;
        if (nf >= 2 && parse_i64(f[0], &s) < 0 && *n == 0 && ln == 1)
            continue; /* a header */
        if (nf != 2 || parse_i64(f[0], &s) < 0 || parse_double(f[1], &v) < 0) {
            rc = hd_error(HD_EFORMAT, "%s:%ld: expected serial,offset_ns", path, ln);
            goto done;
        }
        if (*n == capn) {
            capn = capn ? 2 * capn : 64;
            int *ns = realloc(*serials, (size_t)capn * sizeof *ns);
            double *no = ns ? realloc(*offsets_ns, (size_t)capn * sizeof *no) : NULL;
            if (ns)
                *serials = ns;
            if (no)
                *offsets_ns = no;
            if (!ns || !no) {
                rc = hd_error(HD_ENOMEM, "out of memory reading %s", path);
                goto done;
            }
        }
        (*serials)[*n] = (int)s;
        (*offsets_ns)[*n] = v;
        (*n)++;
    }
done:
    free(line);
    fclose(fp);
    if (rc < 0) {
        free(*serials);
        free(*offsets_ns);
        *serials = NULL;
        *offsets_ns = NULL;
        *n = 0;
    }
    return rc;
}

void hd_mlat_table_release(hd_mlat_table *t)
{
    free(t->toa_ns);
    free(t->heard);
    free(t->rssi);
    free(t->delay_s);
    free(t->sigma_s);
    free(t->tmask);
    free(t->alt_m);
    free(t->alt_sigma_m);
    memset(t, 0, sizeof *t);
}

int hd_mlat_assemble(const hd_mlat *m, const hd_mlat_opts *o, hd_mlat_table *t)
{
    memset(t, 0, sizeof *t);
    /* the receivers that occur, in order of first appearance */
    int *col = hd_malloc((size_t)(m->n_sensors > 0 ? m->n_sensors : 1) * sizeof *col);
    if (!col)
        return HD_ENOMEM;
    for (int k = 0; k < m->n_sensors; k++)
        col[k] = -1;
    int R = 0, over = 0;
    for (int64_t e = 0; e < m->n_msg; e++)
        for (int i = 0; i < m->msg[e].n; i++) {
            int k = m->msg[e].sensor[i];
            if (col[k] >= 0)
                continue;
            if (R < HD_MAX_STATIONS)
                col[k] = R;
            else
                over++, col[k] = HD_MAX_STATIONS;
            R++;
        }
    if (over) {
        free(col);
        return hd_error(HD_EDATA, "the messages name %d receivers; a features file holds at most %d "
                        "(import fewer message files at a time)", R, HD_MAX_STATIONS);
    }
    const int64_t E = m->n_msg;
    const int P = hd_features_npairs(R);
    t->R = R;
    t->E = E;
    t->P = P;
    double sig[HD_MAX_STATIONS], off[HD_MAX_STATIONS];
    int has_off[HD_MAX_STATIONS];
    for (int k = 0; k < m->n_sensors; k++) {
        int r = col[k];
        if (r < 0)
            continue;
        const hd_mlat_sensor *s = &m->sensors[k];
        hd_station *st = &t->st[r];
        memset(st, 0, sizeof *st);
        snprintf(st->id, sizeof st->id, "%d", s->serial);
        snprintf(st->name, sizeof st->name, "%s", s->type);
        st->lat = s->lat;
        st->lon = s->lon;
        st->alt_m = s->height_m;
        st->antenna_height_m = 0;   /* height is the antenna's, above the ellipsoid */
        st->driver = HD_DRIVER_SIMULATE;
        st->sample_rate_hz = NAN;
        st->noise_figure_db = st->antenna_gain_dbi = NAN;
        st->clock = s->good ? HD_CLOCK_GPS : HD_CLOCK_FREE;
        st->clock_sigma_ns = s->good ? o->gps_sigma_ns : o->other_sigma_ns;
        st->lo_ppm = st->sample_rate_ppm = NAN;
        st->full_scale_dbm = st->max_gain_db = st->gain_db = NAN;
        t->serial[r] = s->serial;
        sig[r] = st->clock_sigma_ns * 1e-9;
        off[r] = 0;
        has_off[r] = 0;
        for (int q = 0; q < o->n_offsets; q++)
            if (o->offset_serials[q] == s->serial) {
                off[r] = o->offsets_ns[q];
                has_off[r] = 1;
            }
    }
    size_t ER = (size_t)(E * R), EP = (size_t)(E * P), En = (size_t)(E > 0 ? E : 1);
    t->toa_ns = hd_calloc(ER + 1, sizeof *t->toa_ns);
    t->heard = hd_calloc(ER + 1, 1);
    t->rssi = hd_calloc(ER + 1, sizeof *t->rssi);
    t->delay_s = hd_calloc(EP + 1, sizeof *t->delay_s);
    t->sigma_s = hd_calloc(EP + 1, sizeof *t->sigma_s);
    t->tmask = hd_calloc(EP + 1, 1);
    t->alt_m = hd_calloc(En, sizeof *t->alt_m);
    t->alt_sigma_m = hd_calloc(En, sizeof *t->alt_sigma_m);
    if (!t->toa_ns || !t->heard || !t->rssi || !t->delay_s || !t->sigma_s || !t->tmask || !t->alt_m || !t->alt_sigma_m) {
        free(col);
        hd_mlat_table_release(t);
        return HD_ENOMEM;
    }
    for (size_t i = 0; i < ER; i++)
        t->rssi[i] = NAN;
    for (int64_t e = 0; e < E; e++) {
        const hd_mlat_message *g = &m->msg[e];
        int64_t *T = t->toa_ns + (size_t)e * R;
        uint8_t *h = t->heard + (size_t)e * R;
        double fo[HD_MAX_STATIONS] = {0};
        for (int i = 0; i < g->n; i++) {
            int r = col[g->sensor[i]];
            /* the offset in whole nanoseconds on the int64 time, the rest kept for the differences */
            double ro = round(off[r]);
            T[r] = g->toa_ns[i] - (int64_t)ro;
            fo[r] = off[r] - ro;
            h[r] = 1;
            t->rssi[(size_t)e * R + r] = (float)g->rssi[i];
            t->n_offsets_applied += has_off[r];
        }
        for (int p = 0; p < P; p++) {
            int i, j;
            hd_features_pair(R, p, &i, &j);
            size_t q = (size_t)e * P + p;
            if (!h[i] || !h[j])
                continue;
            /* the difference in integers first: exact */
            t->delay_s[q] = ((double)(T[j] - T[i]) - (fo[j] - fo[i])) * 1e-9;
            t->sigma_s[q] = sqrt(sig[i] * sig[i] + sig[j] * sig[j]);
            t->tmask[q] = t->st[i].clock == HD_CLOCK_GPS && t->st[j].clock == HD_CLOCK_GPS;
        }
        t->alt_m[e] = g->baro_alt_m + o->alt_offset_m;
        t->alt_sigma_m[e] = o->alt_sigma_m;
    }
    free(col);
    return 0;
}
