/* Tracking's files (io.h): HDF5 through src/h5, JSON through jansson, KML
 * through libxml2's writer (opened on first use). */
#include "track/io.h"
#include "core/alloc.h"
#include "core/dl.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "locate/locate.h"

#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(11))
#define NV 72 /* ellipse vertices */

void hd_track_input_release(hd_track_input *in)
{
    if (!in)
        return;
    free(in->fix);
    free(in->truth_lat);
    free(in->truth_lon);
    memset(in, 0, sizeof *in);
}

static int has(hid_t f, const char *path)
{
    const char *slash = strchr(path, '/');
    if (slash) {
        char grp[64];
        snprintf(grp, sizeof grp, "%.*s", (int)(slash - path), path);
        if (H5Lexists(f, grp, H5P_DEFAULT) <= 0)
            return 0;
    }
    return H5Lexists(f, path, H5P_DEFAULT) > 0;
}

/* A 1-D (or [n, cols]) dataset of n rows into a malloc'd array */
static int read_col(hid_t f, const char *file, const char *name, hid_t type, int64_t n, int cols, void **out)
{
    int rank;
    hsize_t dims[8];
    *out = NULL;
    if (!has(f, name))
        return hd_error(HD_EFORMAT, "%s: no dataset %s", file, name);
    int rc = hd_h5_read(f, name, type, &rank, dims, out);
    if (rc < 0)
        return hd_error_context(rc, "%s", file);
    if ((int64_t)dims[0] != n || (cols > 1 && (rank != 2 || (int)dims[1] != cols)) || (cols == 1 && rank != 1)) {
        free(*out);
        *out = NULL;
        return hd_error(HD_EFORMAT, "%s: %s has the wrong shape", file, name);
    }
    return 0;
}

typedef struct {
    int64_t index;
    int64_t row;
} idx_row;

static int cmp_idx(const void *a, const void *b)
{
    int64_t x = ((const idx_row *)a)->index, y = ((const idx_row *)b)->index;
    return x < y ? -1 : x > y;
}

/* The features file's times, frequencies, ids and truth into the fixes, by
 * event index; need_times: the fixes have none (an evaluation file). */
static int join_features(hd_track_input *in, const char *path, int need_times)
{
    hid_t f = -1;
    int64_t *index = NULL, *time = NULL, *txid = NULL;
    double *freq = NULL, *tlat = NULL, *tlon = NULL;
    idx_row *map = NULL;
    int rc = hd_h5_open(&f, path, HD_FORMAT_FEATURES, HD_FEATURES_VERSION, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    hsize_t d[1];
    if ((rc = hd_h5_dims(f, "events/index", 1, d)) < 0) {
        hd_error_context(rc, "%s", path);
        goto fail;
    }
    int64_t E = (int64_t)d[0];
    if ((rc = read_col(f, path, "events/index", H5T_NATIVE_INT64, E, 1, (void **)&index)) < 0 ||
        (rc = read_col(f, path, "events/time_ns", H5T_NATIVE_INT64, E, 1, (void **)&time)) < 0 ||
        (rc = read_col(f, path, "events/frequency_hz", H5T_NATIVE_DOUBLE, E, 1, (void **)&freq)) < 0)
        goto fail;
    if (has(f, "events/tx_id") && (rc = read_col(f, path, "events/tx_id", H5T_NATIVE_INT64, E, 1, (void **)&txid)) < 0)
        goto fail;
    int truth = has(f, "truth/tx_lat") && has(f, "truth/tx_lon");
    if (truth && ((rc = read_col(f, path, "truth/tx_lat", H5T_NATIVE_DOUBLE, E, 1, (void **)&tlat)) < 0 ||
                  (rc = read_col(f, path, "truth/tx_lon", H5T_NATIVE_DOUBLE, E, 1, (void **)&tlon)) < 0))
        goto fail;
    map = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *map);
    if (!map) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < E; i++)
        map[i] = (idx_row){index[i], i};
    qsort(map, (size_t)E, sizeof *map, cmp_idx);
    if (truth && !in->truth_lat) {
        in->truth_lat = hd_malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof(double));
        in->truth_lon = hd_malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof(double));
        if (!in->truth_lat || !in->truth_lon) {
            rc = HD_ENOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < in->n; i++)
            in->truth_lat[i] = in->truth_lon[i] = NAN;
    }
    for (int64_t i = 0; i < in->n; i++) {
        idx_row key = {in->fix[i].event_index, 0};
        const idx_row *m = bsearch(&key, map, (size_t)E, sizeof *map, cmp_idx);
        if (!m) {
            if (need_times) {
                rc = hd_error(HD_EDATA, "%s has no event %lld", path, (long long)key.index);
                goto fail;
            }
            continue;
        }
        if (need_times) {
            in->fix[i].time_ns = time[m->row];
            in->fix[i].frequency_hz = freq[m->row];
        }
        if (txid)
            in->fix[i].tx_id = txid[m->row];
        if (truth) {
            in->truth_lat[i] = tlat[m->row];
            in->truth_lon[i] = tlon[m->row];
        }
    }
    snprintf(in->features, sizeof in->features, "%s", path);
fail:
    free(index);
    free(time);
    free(txid);
    free(freq);
    free(tlat);
    free(tlon);
    free(map);
    if (f >= 0)
        H5Fclose(f);
    return rc;
}

/* The features file an HDF5 input was made from (its first recorded input),
 * or 0 when none is found */
static int find_features(hid_t f, const char *path, char *buf, size_t size)
{
    char **lines = NULL;
    int n = 0, found = 0;
    if (hd_h5_read_inputs(f, &lines, &n) < 0 || n < 1)
        goto done;
    char rec[1100], want[80] = "";
    snprintf(rec, sizeof rec, "%s", lines[0]);
    char *sp = strrchr(rec, ' ');
    if (sp) {
        snprintf(want, sizeof want, "%s", sp + 1);
        *sp = 0;
    }
    char hex[65];
    found = hd_h5_find_input(path, rec, want, buf, size, hex);
done:
    hd_h5_free_strings(lines, (hsize_t)n);
    return found;
}

static int read_h5(hd_track_input *in, const char *path, const char *features)
{
    hid_t f = -1;
    char format[32];
    int version;
    int64_t *index = NULL, *time = NULL, *txid = NULL;
    int8_t *status = NULL;
    double *lat = NULL, *lon = NULL, *cov = NULL, *nu = NULL, *freq = NULL, *tlat = NULL, *tlon = NULL;
    int rc = hd_h5_open_any(&f, path, format, &version);
    if (rc < 0)
        return rc;
    int eval = strcmp(format, HD_FORMAT_EVALUATION) == 0, tracks = strcmp(format, HD_FORMAT_TRACKS) == 0;
    if (!eval && !tracks && strcmp(format, HD_FORMAT_POSITIONS) != 0) {
        rc = hd_error(HD_EFORMAT, "%s: a heimdall %s file; positions (heimdall localize -o positions.h5), JSON "
                      "lines, an evaluation file (heimdall evaluate) or tracks (heimdall track -o tracks.h5) are read",
                      path, format);
        goto fail;
    }
    snprintf(in->kind, sizeof in->kind, "%s", format);
    char *method = NULL;
    if (H5Aexists(f, "method") > 0 && hd_h5_read_attr_str(f, "method", &method) == 0) {
        snprintf(in->method, sizeof in->method, "%s", method);
        free(method);
    }
    hsize_t d[1];
    if ((rc = hd_h5_dims(f, "event_index", 1, d)) < 0) {
        hd_error_context(rc, "%s", path);
        goto fail;
    }
    const int64_t n = (int64_t)d[0];
    if ((rc = read_col(f, path, "event_index", H5T_NATIVE_INT64, n, 1, (void **)&index)) < 0 ||
        (!tracks && (rc = read_col(f, path, "status", H5T_NATIVE_INT8, n, 1, (void **)&status)) < 0) ||
        (rc = read_col(f, path, "lat", H5T_NATIVE_DOUBLE, n, 1, (void **)&lat)) < 0 ||
        (rc = read_col(f, path, "lon", H5T_NATIVE_DOUBLE, n, 1, (void **)&lon)) < 0 ||
        (rc = read_col(f, path, "cov_enu_m2", H5T_NATIVE_DOUBLE, n, 3, (void **)&cov)) < 0 ||
        (rc = read_col(f, path, "nu", H5T_NATIVE_DOUBLE, n, 1, (void **)&nu)) < 0)
        goto fail;
    if (!eval && ((rc = read_col(f, path, "time_ns", H5T_NATIVE_INT64, n, 1, (void **)&time)) < 0 ||
                  (!tracks && (rc = read_col(f, path, "frequency_hz", H5T_NATIVE_DOUBLE, n, 1, (void **)&freq)) < 0)))
        goto fail;
    if (has(f, "tx_id") && (rc = read_col(f, path, "tx_id", H5T_NATIVE_INT64, n, 1, (void **)&txid)) < 0)
        goto fail;
    if (eval && ((rc = read_col(f, path, "truth_lat", H5T_NATIVE_DOUBLE, n, 1, (void **)&tlat)) < 0 ||
                 (rc = read_col(f, path, "truth_lon", H5T_NATIVE_DOUBLE, n, 1, (void **)&tlon)) < 0))
        goto fail;
    in->n = n;
    in->fix = hd_calloc((size_t)(n > 0 ? n : 1), sizeof *in->fix);
    if (!in->fix) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        hd_track_fix *x = &in->fix[i];
        x->event_index = index[i];
        x->time_ns = time ? time[i] : 0;
        x->frequency_hz = freq ? freq[i] : NAN;
        x->tx_id = txid ? txid[i] : -1;
        x->status = status ? status[i] : isfinite(lat[i]) ? HD_LOC_OK : HD_LOC_NO_FIX;
        x->located = (x->status == HD_LOC_OK || x->status == HD_LOC_OUTSIDE) && isfinite(lat[i]);
        x->lat = lat[i];
        x->lon = lon[i];
        memcpy(x->cov, &cov[3 * i], sizeof x->cov);
        x->nu = nu[i];
    }
    in->truth_lat = tlat;
    in->truth_lon = tlon;
    tlat = tlon = NULL;
    char found[1100];
    if (features)
        rc = join_features(in, features, eval);
    else if (find_features(f, path, found, sizeof found))
        rc = join_features(in, found, eval);
    else if (eval)
        rc = hd_error(HD_ENOTFOUND, "%s: an evaluation file has no event times and the features file it was made "
                      "from is not found; give it with --truth FEATURES.h5", path);
    if (rc < 0 && !features && !eval) {
        hd_errclear();
        rc = 0; /* a positions file's features are optional */
    }
fail:
    free(index);
    free(time);
    free(txid);
    free(status);
    free(lat);
    free(lon);
    free(cov);
    free(nu);
    free(freq);
    free(tlat);
    free(tlon);
    if (f >= 0)
        H5Fclose(f);
    return rc;
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int read_jsonl(hd_track_input *in, const char *path, const char *features)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hd_error(HD_EIO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    int64_t lineno = 0;
    int rc = 0;
    snprintf(in->kind, sizeof in->kind, "jsonl");
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (len <= 1 && line[0] == '\n')
            continue;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            rc = hd_error(HD_EFORMAT, "%s:%lld: not a JSON object (%s)", path, (long long)lineno, o ? "" : err.text);
            goto fail;
        }
        if ((size_t)in->n == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            hd_track_fix *p = hd_reallocarray(in->fix, alloc, sizeof *p);
            if (!p) {
                json_decref(o);
                rc = HD_ENOMEM;
                goto fail;
            }
            in->fix = p;
        }
        hd_track_fix *x = &in->fix[in->n];
        memset(x, 0, sizeof *x);
        json_t *ev = json_object_get(o, "event"), *t = json_object_get(o, "time"), *c = json_object_get(o, "cov_enu_m2");
        if (!json_is_integer(ev) || !json_is_string(t) ||
            hd_time_parse_iso8601(json_string_value(t), &x->time_ns) < 0) {
            json_decref(o);
            rc = hd_error(HD_EFORMAT, "%s:%lld: needs \"event\" (an integer) and \"time\" (ISO 8601)", path,
                          (long long)lineno);
            goto fail;
        }
        x->event_index = json_integer_value(ev);
        x->frequency_hz = jnum(o, "frequency_hz");
        json_t *id = json_object_get(o, "tx_id");
        x->tx_id = json_is_integer(id) ? json_integer_value(id) : -1;
        x->lat = jnum(o, "lat");
        x->lon = jnum(o, "lon");
        x->located = isfinite(x->lat) && isfinite(x->lon);
        x->status = x->located ? HD_LOC_OK : HD_LOC_NO_FIX;
        const char *sw = json_string_value(json_object_get(o, "status"));
        for (int k = 0; sw && k < HD_LOC_STATUS_COUNT; k++)
            if (strcmp(sw, hd_loc_status_name(k)) == 0)
                x->status = k;
        for (int k = 0; k < 3; k++)
            x->cov[k] = json_is_array(c) && json_is_number(json_array_get(c, (size_t)k))
                            ? json_number_value(json_array_get(c, (size_t)k))
                            : NAN;
        x->nu = json_is_number(json_object_get(o, "nu")) ? jnum(o, "nu") : 0;
        in->n++;
        json_decref(o);
    }
    if (ferror(f))
        rc = hd_error(HD_EIO, "cannot read %s: %s", path, strerror(errno));
    if (rc == 0 && features)
        rc = join_features(in, features, 0);
fail:
    free(line);
    fclose(f);
    return rc;
}

int hd_track_input_read(hd_track_input *in, const char *path, const char *features)
{
    memset(in, 0, sizeof *in);
    size_t l = strlen(path);
    int rc = l > 6 && strcmp(path + l - 6, ".jsonl") == 0 ? read_jsonl(in, path, features)
                                                         : read_h5(in, path, features);
    if (rc < 0)
        hd_track_input_release(in);
    return rc;
}

/* ---- writing ---------------------------------------------------------------- */

static const char *full_disk(void)
{
    return errno == ENOSPC || errno == EDQUOT ? ": no space left on device" : "";
}

static int dump(FILE *f, json_t *j)
{
    int rc = j && json_dumpf(j, f, JSON_FLAGS) == 0 ? 0 : hd_error(HD_EIO, "cannot write JSON%s", full_disk());
    json_decref(j);
    return rc;
}

static json_t *state_props(const hd_track_point *p)
{
    char t[40];
    hd_time_format_iso8601(p->time_ns, t);
    double a, b, az;
    hd_locate_ellipse(p->cov, p->nu, 0.68, &a, &b, &az);
    double heading = fmod(atan2(p->ve, p->vn) * 180 / M_PI + 360, 360);
    json_t *o = json_pack("{s:s, s:i, s:I, s:s, s:f, s:f, s:f, s:f, s:[f, f, f], s:[f, f], s:f, s:f, s:s}", "kind",
                          "state", "track", p->track, "event", (json_int_t)p->event_index, "time", t, "lat", p->lat,
                          "lon", p->lon, "speed_mps", p->speed_mps, "speed_sd_mps", p->speed_sd_mps, "cov_enu_m2",
                          p->cov[0], p->cov[1], p->cov[2], "velocity_enu_mps", p->ve, p->vn, "heading_deg", heading,
                          "d2", isfinite(p->d2) ? p->d2 : -1.0, "reason", hd_track_reason_name(p->reason));
    if (p->nu > 0)
        json_object_set_new(o, "nu", json_real(p->nu));
    json_object_set_new(o, "ellipse_68", json_pack("{s:f, s:f, s:f, s:f}", "probability", 0.68, "semi_major_m", a,
                                                   "semi_minor_m", b, "azimuth_deg", az));
    return o;
}

static void ring(const hd_track_point *p, char *buf, int kml)
{
    double ll[NV][2];
    hd_locate_ellipse_outline(p->lat, p->lon, p->cov, p->nu, 0.68, NV, ll);
    char *q = buf;
    for (int i = 0; i <= NV; i++) {
        int k = i % NV;
        q += kml ? sprintf(q, "%.8f,%.8f,0 ", ll[k][1], ll[k][0])
                 : sprintf(q, "%s[%.8f,%.8f]", i ? "," : "", ll[k][1], ll[k][0]);
    }
}

/* libxml2 is opened on the first KML written (core/dl.h): with ICU and
 * libstdc++ it was a sixth of every command's start-up, and only track's
 * KML uses it. */
#ifndef HD_XML2_SONAME
#define HD_XML2_SONAME "libxml2.so.2"
#endif
static struct {
    __typeof__(&xmlOutputBufferCreateFile) OutputBufferCreateFile;
    __typeof__(&xmlNewTextWriter) NewTextWriter;
    __typeof__(&xmlOutputBufferClose) OutputBufferClose;
    __typeof__(&xmlTextWriterSetIndent) TextWriterSetIndent;
    __typeof__(&xmlTextWriterStartDocument) TextWriterStartDocument;
    __typeof__(&xmlTextWriterStartElement) TextWriterStartElement;
    __typeof__(&xmlTextWriterWriteAttribute) TextWriterWriteAttribute;
    __typeof__(&xmlTextWriterWriteFormatElement) TextWriterWriteFormatElement;
    __typeof__(&xmlTextWriterWriteElement) TextWriterWriteElement;
    __typeof__(&xmlTextWriterEndElement) TextWriterEndElement;
    __typeof__(&xmlTextWriterEndDocument) TextWriterEndDocument;
    __typeof__(&xmlFreeTextWriter) FreeTextWriter;
} xml;
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_open(void)
{
    const hd_dl_sym syms[] = {
        {"xmlOutputBufferCreateFile", (void **)&xml.OutputBufferCreateFile, 0},
        {"xmlNewTextWriter", (void **)&xml.NewTextWriter, 0},
        {"xmlOutputBufferClose", (void **)&xml.OutputBufferClose, 0},
        {"xmlTextWriterSetIndent", (void **)&xml.TextWriterSetIndent, 0},
        {"xmlTextWriterStartDocument", (void **)&xml.TextWriterStartDocument, 0},
        {"xmlTextWriterStartElement", (void **)&xml.TextWriterStartElement, 0},
        {"xmlTextWriterWriteAttribute", (void **)&xml.TextWriterWriteAttribute, 0},
        {"xmlTextWriterWriteFormatElement", (void **)&xml.TextWriterWriteFormatElement, 0},
        {"xmlTextWriterWriteElement", (void **)&xml.TextWriterWriteElement, 0},
        {"xmlTextWriterEndElement", (void **)&xml.TextWriterEndElement, 0},
        {"xmlTextWriterEndDocument", (void **)&xml.TextWriterEndDocument, 0},
        {"xmlFreeTextWriter", (void **)&xml.FreeTextWriter, 0},
    };
    hd_dl_load("libxml2's KML writer", hd_dl_library("HEIMDALL_XML2_LIB", HD_XML2_SONAME),
               "install libxml2 (make deps, or apt-get install libxml2-dev)", syms, sizeof syms / sizeof *syms, 0);
}

#define X(call)                                                                                                        \
    do {                                                                                                               \
        if ((call) < 0)                                                                                                \
            goto kfail;                                                                                                \
    } while (0)

static int kml_write(FILE *out, const hd_track_result *r, const char *model, char *text)
{
    pthread_once(&xml_once, xml_open);
    xmlOutputBufferPtr ob = xml.OutputBufferCreateFile(out, NULL);
    xmlTextWriterPtr w = ob ? xml.NewTextWriter(ob) : NULL;
    if (!w) {
        if (ob)
            xml.OutputBufferClose(ob);
        return hd_error(HD_ENOMEM, "cannot start the KML writer");
    }
    xml.TextWriterSetIndent(w, 1);
    X(xml.TextWriterStartDocument(w, NULL, "UTF-8", NULL));
    X(xml.TextWriterStartElement(w, BAD_CAST "kml"));
    X(xml.TextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "http://www.opengis.net/kml/2.2"));
    X(xml.TextWriterWriteAttribute(w, BAD_CAST "xmlns:gx", BAD_CAST "http://www.google.com/kml/ext/2.2"));
    X(xml.TextWriterStartElement(w, BAD_CAST "Document"));
    X(xml.TextWriterWriteFormatElement(w, BAD_CAST "name", "heimdall tracks (%s)", model));
    X(xml.TextWriterStartElement(w, BAD_CAST "Style"));
    X(xml.TextWriterWriteAttribute(w, BAD_CAST "id", BAD_CAST "track"));
    X(xml.TextWriterStartElement(w, BAD_CAST "LineStyle"));
    X(xml.TextWriterWriteElement(w, BAD_CAST "color", BAD_CAST "ff0000ff"));
    X(xml.TextWriterWriteElement(w, BAD_CAST "width", BAD_CAST "2"));
    X(xml.TextWriterEndElement(w));
    X(xml.TextWriterEndElement(w));
    X(xml.TextWriterStartElement(w, BAD_CAST "Style"));
    X(xml.TextWriterWriteAttribute(w, BAD_CAST "id", BAD_CAST "ellipse68"));
    X(xml.TextWriterStartElement(w, BAD_CAST "PolyStyle"));
    X(xml.TextWriterWriteElement(w, BAD_CAST "color", BAD_CAST "400000ff"));
    X(xml.TextWriterEndElement(w));
    X(xml.TextWriterEndElement(w));
    for (int k = 0; k < r->n_tracks; k++) {
        const hd_track_info *ti = &r->trk[k];
        const hd_track_point *pt = r->pt + ti->first;
        if (!ti->n || !pt[0].has_state)
            continue;
        X(xml.TextWriterStartElement(w, BAD_CAST "Folder"));
        X(xml.TextWriterWriteFormatElement(w, BAD_CAST "name", "track %d", k));
        X(xml.TextWriterStartElement(w, BAD_CAST "Placemark"));
        X(xml.TextWriterWriteFormatElement(w, BAD_CAST "name", "track %d", k));
        X(xml.TextWriterWriteElement(w, BAD_CAST "styleUrl", BAD_CAST "#track"));
        X(xml.TextWriterStartElement(w, BAD_CAST "gx:Track"));
        char t[40];
        for (int64_t i = 0; i < ti->n; i++) {
            hd_time_format_iso8601(pt[i].time_ns, t);
            X(xml.TextWriterWriteElement(w, BAD_CAST "when", BAD_CAST t));
        }
        for (int64_t i = 0; i < ti->n; i++)
            X(xml.TextWriterWriteFormatElement(w, BAD_CAST "gx:coord", "%.8f %.8f 0", pt[i].lon, pt[i].lat));
        X(xml.TextWriterEndElement(w));
        X(xml.TextWriterEndElement(w));
        for (int64_t i = 0; i < ti->n; i++) {
            hd_time_format_iso8601(pt[i].time_ns, t);
            ring(&pt[i], text, 1);
            X(xml.TextWriterStartElement(w, BAD_CAST "Placemark"));
            X(xml.TextWriterWriteFormatElement(w, BAD_CAST "name", "event %lld 68 %%", (long long)pt[i].event_index));
            X(xml.TextWriterWriteFormatElement(w, BAD_CAST "description", "speed %.1f m/s, fix %s",
                                              pt[i].speed_mps, hd_track_reason_name(pt[i].reason)));
            X(xml.TextWriterStartElement(w, BAD_CAST "TimeStamp"));
            X(xml.TextWriterWriteElement(w, BAD_CAST "when", BAD_CAST t));
            X(xml.TextWriterEndElement(w));
            X(xml.TextWriterWriteElement(w, BAD_CAST "styleUrl", BAD_CAST "#ellipse68"));
            X(xml.TextWriterStartElement(w, BAD_CAST "Polygon"));
            X(xml.TextWriterStartElement(w, BAD_CAST "outerBoundaryIs"));
            X(xml.TextWriterStartElement(w, BAD_CAST "LinearRing"));
            X(xml.TextWriterWriteElement(w, BAD_CAST "coordinates", BAD_CAST text));
            X(xml.TextWriterEndElement(w));
            X(xml.TextWriterEndElement(w));
            X(xml.TextWriterEndElement(w));
            X(xml.TextWriterEndElement(w));
        }
        X(xml.TextWriterEndElement(w));
    }
    X(xml.TextWriterEndDocument(w));
    xml.FreeTextWriter(w);
    return 0;
kfail:
    xml.FreeTextWriter(w);
    return hd_error(HD_EIO, "cannot write KML%s", full_disk());
}
#undef X

int hd_track_write_text(FILE *geojson, FILE *kml, FILE *jsonl, const hd_track_result *r, const char *model)
{
    int rc = 0;
    char *text = hd_malloc((NV + 1) * 64);
    if (!text)
        return HD_ENOMEM;
    if (geojson)
        fputs("{\"type\":\"FeatureCollection\",\"features\":[", geojson);
    int first = 1;
    for (int k = 0; geojson && rc == 0 && k < r->n_tracks; k++) {
        const hd_track_info *ti = &r->trk[k];
        const hd_track_point *pt = r->pt + ti->first;
        if (!ti->n || !pt[0].has_state)
            continue;
        char t0[40], t1[40];
        hd_time_format_iso8601(ti->t0_ns, t0);
        hd_time_format_iso8601(ti->t1_ns, t1);
        fprintf(geojson, "%s\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"%s\",\"coordinates\":",
                first ? "" : ",", ti->n > 1 ? "LineString" : "Point");
        first = 0;
        if (ti->n > 1)
            fputc('[', geojson);
        for (int64_t i = 0; i < ti->n; i++)
            fprintf(geojson, "%s[%.8f,%.8f]", i ? "," : "", pt[i].lon, pt[i].lat);
        fputs(ti->n > 1 ? "]},\"properties\":" : "},\"properties\":", geojson);
        json_t *pr = json_pack("{s:s, s:i, s:I, s:s, s:s, s:i, s:i, s:f, s:s, s:s}", "kind", "track", "track", k,
                               "events", (json_int_t)ti->n, "start", t0, "end", t1, "used", ti->n_used, "gated",
                               ti->n_reason[HD_TRACK_GATED], "accel_sigma_mps2", ti->accel_sigma, "model", model,
                               "process_noise", ti->learnt == 1 ? "learnt" : ti->learnt == 2 ? "pooled" : "configured");
        if (isfinite(ti->frequency_hz))
            json_object_set_new(pr, "frequency_hz", json_real(ti->frequency_hz));
        if (ti->tx_id >= 0)
            json_object_set_new(pr, "tx_id", json_integer(ti->tx_id));
        rc = dump(geojson, pr);
        fputc('}', geojson);
        for (int64_t i = 0; i < ti->n && rc == 0; i++) {
            fprintf(geojson, ",\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.8f,%.8f]},"
                             "\"properties\":", pt[i].lon, pt[i].lat);
            if ((rc = dump(geojson, state_props(&pt[i]))) < 0)
                break;
            ring(&pt[i], text, 0);
            char t[40];
            hd_time_format_iso8601(pt[i].time_ns, t);
            fprintf(geojson, "},\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[%s]]},"
                             "\"properties\":", text);
            rc = dump(geojson, json_pack("{s:s, s:i, s:I, s:s, s:f}", "kind", "ellipse_68", "track", k, "event",
                                         (json_int_t)pt[i].event_index, "time", t, "probability", 0.68));
            fputc('}', geojson);
        }
    }
    if (geojson && rc == 0 && fputs("\n]}\n", geojson) < 0)
        rc = hd_error(HD_EIO, "cannot write GeoJSON%s", full_disk());
    for (int64_t i = 0; jsonl && rc == 0 && i < r->n; i++)
        if (r->pt[i].has_state && (rc = dump(jsonl, state_props(&r->pt[i]))) == 0)
            fputc('\n', jsonl);
    if (kml && rc == 0)
        rc = kml_write(kml, r, model, text);
    free(text);
    return rc;
}

int hd_track_write_h5(hid_t f, const hd_track_result *r, const char *model)
{
    int64_t N = 0;
    const int D = r->dim;
    for (int64_t i = 0; i < r->n; i++)
        N += r->pt[i].has_state;
    size_t Nn = (size_t)(N > 0 ? N : 1), T = (size_t)(r->n_tracks > 0 ? r->n_tracks : 1);
    int32_t *trk = hd_malloc(Nn * sizeof *trk);
    int8_t *reason = hd_malloc(Nn);
    int64_t *ev = hd_malloc(Nn * sizeof *ev), *tm = hd_malloc(Nn * sizeof *tm);
    double *v = hd_malloc(Nn * (size_t)(D * D) * sizeof *v);
    int64_t *ti64 = hd_malloc(T * 4 * sizeof *ti64);
    double *td = hd_malloc(T * 5 * sizeof *td);
    int rc = HD_ENOMEM;
    if (!trk || !reason || !ev || !tm || !v || !ti64 || !td)
        goto fail;
    int64_t j = 0;
    for (int64_t i = 0; i < r->n; i++) {
        const hd_track_point *p = &r->pt[i];
        if (!p->has_state)
            continue;
        trk[j] = p->track;
        reason[j] = (int8_t)p->reason;
        ev[j] = p->event_index;
        tm[j] = p->time_ns;
        j++;
    }
    hsize_t d1[1] = {(hsize_t)N}, d2[2] = {(hsize_t)N, 3}, dv[2] = {(hsize_t)N, 2}, ds[2] = {(hsize_t)N, (hsize_t)D},
            dc[3] = {(hsize_t)N, (hsize_t)D, (hsize_t)D};
    rc = hd_h5_write(f, "track", H5T_NATIVE_INT32, 1, d1, trk, "1", "track number (row of /tracks)");
    if (rc == 0)
        rc = hd_h5_write(f, "event_index", H5T_NATIVE_INT64, 1, d1, ev, "1", "event number (events/index)");
    if (rc == 0)
        rc = hd_h5_write(f, "time_ns", H5T_NATIVE_INT64, 1, d1, tm, "ns", "event time, nanoseconds since 1970-01-01 UTC");
    if (rc == 0)
        rc = hd_h5_write(f, "reason", H5T_NATIVE_INT8, 1, d1, reason, "1",
                         "the event's fix: 0 used, 1 gated (outlier), 2 no position, 3 bad covariance, 4 duplicate, "
                         "5 updated by its measurements (track.update measurements)");
#define FILL(k, expr)                                                                                                  \
    do {                                                                                                               \
        j = 0;                                                                                                         \
        for (int64_t i = 0; i < r->n; i++)                                                                             \
            if (r->pt[i].has_state) {                                                                                  \
                const hd_track_point *p = &r->pt[i];                                                                   \
                for (int c = 0; c < (k); c++)                                                                          \
                    v[j * (k) + c] = (expr);                                                                           \
                j++;                                                                                                   \
            }                                                                                                          \
    } while (0)
    if (rc == 0) {
        FILL(1, p->lat);
        rc = hd_h5_write(f, "lat", H5T_NATIVE_DOUBLE, 1, d1, v, "degree", "smoothed latitude (WGS84)");
    }
    if (rc == 0) {
        FILL(1, p->lon);
        rc = hd_h5_write(f, "lon", H5T_NATIVE_DOUBLE, 1, d1, v, "degree", "smoothed longitude");
    }
    if (rc == 0) {
        FILL(3, p->cov[c]);
        rc = hd_h5_write(f, "cov_enu_m2", H5T_NATIVE_DOUBLE, 2, d2, v, "m2",
                         "smoothed position covariance: east², east·north, north² (Gaussian; /nu > 0: a Student-t's)");
    }
    if (rc == 0) {
        FILL(1, p->nu);
        rc = hd_h5_write(f, "nu", H5T_NATIVE_DOUBLE, 1, d1, v, "1",
                         "0: the state's error Gaussian; > 2: a Student-t of covariance cov_enu_m2 and nu degrees of "
                         "freedom (calibrated against the truth, cross-validated over the tracks)");
    }
    if (rc == 0) {
        FILL(2, c ? p->vn : p->ve);
        rc = hd_h5_write(f, "velocity_enu_mps", H5T_NATIVE_DOUBLE, 2, dv, v, "m/s", "smoothed velocity east, north");
    }
    if (rc == 0) {
        FILL(1, p->speed_mps);
        rc = hd_h5_write(f, "speed_mps", H5T_NATIVE_DOUBLE, 1, d1, v, "m/s", "smoothed speed");
    }
    if (rc == 0) {
        FILL(1, isfinite(p->d2) ? p->d2 : -1.0);
        rc = hd_h5_write(f, "innovation_d2", H5T_NATIVE_DOUBLE, 1, d1, v, "1",
                         "Mahalanobis distance² of the fix's innovation (-1: not tested)");
    }
    if (rc == 0) {
        FILL(D, p->state[c]);
        rc = hd_h5_write(f, "state", H5T_NATIVE_DOUBLE, 2, ds, v, "m, m/s, m/s2",
                         "smoothed state in the track's ENU frame (/tracks/origin_*): e, n, ve, vn[, ae, an]");
    }
    if (rc == 0) {
        FILL(D * D, p->state_cov[c]);
        rc = hd_h5_write(f, "state_cov", H5T_NATIVE_DOUBLE, 3, dc, v, "SI", "smoothed state covariance");
    }
#undef FILL
    if (rc == 0) {
        hid_t g = H5Gcreate2(f, "tracks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = hd_error(HD_EIO, "cannot create /tracks");
            goto fail;
        }
        hsize_t dt[1] = {(hsize_t)r->n_tracks};
        static const char *const iname[4] = {"n", "t0_ns", "t1_ns", "tx_id"};
        static const char *const idesc[4] = {"events", "first event's time (ns, Unix)", "last event's time",
                                             "transmitter id (-1: none)"};
        static const char *const dname[5] = {"origin_lat", "origin_lon", "accel_sigma_mps2", "frequency_hz", "loglik"};
        static const char *const ddesc[5] = {"ENU frame origin latitude", "its longitude",
                                             "process noise used (learnt or configured)", "frequency of the group",
                                             "innovation log-likelihood at accel_sigma_mps2"};
        for (int c = 0; c < 4 && rc == 0; c++) {
            for (int k = 0; k < r->n_tracks; k++) {
                const hd_track_info *ti = &r->trk[k];
                ti64[k] = c == 0 ? ti->n : c == 1 ? ti->t0_ns : c == 2 ? ti->t1_ns : ti->tx_id;
            }
            rc = hd_h5_write(g, iname[c], H5T_NATIVE_INT64, 1, dt, ti64, c == 1 || c == 2 ? "ns" : "1", idesc[c]);
        }
        for (int c = 0; c < 5 && rc == 0; c++) {
            for (int k = 0; k < r->n_tracks; k++) {
                const hd_track_info *ti = &r->trk[k];
                td[k] = c == 0 ? ti->lat0 : c == 1 ? ti->lon0 : c == 2 ? ti->accel_sigma : c == 3 ? ti->frequency_hz
                                                                                                  : ti->loglik;
            }
            rc = hd_h5_write(g, dname[c], H5T_NATIVE_DOUBLE, 1, dt, td, c < 2 ? "degree" : c == 2 ? "m/s2" : "1",
                             ddesc[c]);
        }
        H5Gclose(g);
    }
    if (rc == 0)
        rc = hd_h5_attr_str(f, "model", model);
fail:
    free(trk);
    free(reason);
    free(ev);
    free(tm);
    free(v);
    free(ti64);
    free(td);
    return rc;
}

/* ---- scoring ----------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(double *v, int64_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[i];
}

void hd_track_truth_d2(const hd_track_input *in, const hd_track_result *r, double *d2)
{
    for (int64_t i = 0; i < r->n; i++) {
        const hd_track_point *p = &r->pt[i];
        d2[i] = NAN;
        if (!in->truth_lat || !p->has_state)
            continue;
        double la = in->truth_lat[p->input], lo = in->truth_lon[p->input], e[3];
        if (!isfinite(la) || !isfinite(lo))
            continue;
        hd_enu fr;
        hd_enu_init(&fr, la, lo, 0);
        hd_enu_from_geo(&fr, p->lat, p->lon, 0, e);
        d2[i] = hd_locate_mahalanobis2(p->cov, e[0], e[1]);
    }
}

int hd_track_score_compute(const hd_track_input *in, const hd_track_result *r, hd_track_score *s)
{
    memset(s, 0, sizeof *s);
    if (!in->truth_lat)
        return hd_error(HD_EDATA, "no truth to score against (a features file with /truth: --truth FEATURES.h5)");
    size_t N = (size_t)(r->n > 0 ? r->n : 1);
    double *ef = hd_malloc(N * sizeof *ef), *et = hd_malloc(N * sizeof *et), *ek = hd_malloc(N * sizeof *ek),
           *en = hd_malloc(N * sizeof *en);
    if (!ef || !et || !ek || !en) {
        free(ef);
        free(et);
        free(ek);
        free(en);
        return HD_ENOMEM;
    }
    int64_t n = 0, nk = 0, nn = 0;
    double fc1 = 0, fc2 = 0, tc1 = 0, tc2 = 0;
    for (int64_t i = 0; i < r->n; i++) {
        const hd_track_point *p = &r->pt[i];
        const hd_track_fix *f = &in->fix[p->input];
        double la = in->truth_lat[p->input], lo = in->truth_lon[p->input];
        if (!p->has_state || !isfinite(la) || !isfinite(lo))
            continue;
        hd_enu fr;
        hd_enu_init(&fr, la, lo, 0);
        double e[3];
        double d;
        hd_geo_inverse(la, lo, p->lat, p->lon, &d, NULL, NULL);
        int fixed = f->located && isfinite(f->lat) && isfinite(f->lon);
        if (!fixed) {
            en[nn++] = d;
            continue;
        }
        et[n] = d;
        hd_enu_from_geo(&fr, p->lat, p->lon, 0, e);
        double d2 = hd_locate_mahalanobis2(p->cov, e[0], e[1]);
        tc1 += d2 <= hd_locate_radius2(1 - exp(-0.5), p->nu);
        tc2 += d2 <= hd_locate_radius2(1 - exp(-2.0), p->nu);
        hd_geo_inverse(la, lo, f->lat, f->lon, &ef[n], NULL, NULL);
        hd_enu_from_geo(&fr, f->lat, f->lon, 0, e);
        double fd2 = hd_locate_mahalanobis2(f->cov, e[0], e[1]);
        fc1 += fd2 <= hd_locate_radius2(1 - exp(-0.5), f->nu);
        fc2 += fd2 <= hd_locate_radius2(1 - exp(-2.0), f->nu);
        if (isfinite(p->filt_lat)) {
            hd_geo_inverse(la, lo, p->filt_lat, p->filt_lon, &ek[nk], NULL, NULL);
            nk++;
        }
        n++;
    }
    s->n = n;
    s->n_nofix = nn;
    s->fix_cov1 = n ? fc1 / n : NAN;
    s->fix_cov2 = n ? fc2 / n : NAN;
    s->track_cov1 = n ? tc1 / n : NAN;
    s->track_cov2 = n ? tc2 / n : NAN;
    s->track_median_m = quantile(et, n, 0.5);
    s->track_p95_m = quantile(et, n, 0.95);
    s->fix_median_m = quantile(ef, n, 0.5);
    s->fix_p95_m = quantile(ef, n, 0.95);
    s->filter_median_m = quantile(ek, nk, 0.5);
    s->nofix_median_m = quantile(en, nn, 0.5);
    free(ef);
    free(et);
    free(ek);
    free(en);
    return 0;
}

/* ---- the features file's time differences as measurements ---------------- */

/* the received powers (dBm) and mask of every event × receiver, and which
 * receivers' dBm is calibrated (/dbm_ok; all when absent): NULL rss when
 * the file has no rss_dbm feature */
static int read_rss(hid_t f, const char *path, int64_t E, int R, float **rss, uint8_t **ok)
{
    *rss = NULL;
    *ok = NULL;
    char **names = NULL;
    hsize_t nn = 0, d[8];
    int rank, rc = has(f, "feature_names") ? hd_h5_read_strings(f, "feature_names", &names, &nn) : 0;
    int col = -1;
    for (hsize_t k = 0; rc == 0 && k < nn; k++)
        if (strcmp(names[k], "rss_dbm") == 0)
            col = (int)k;
    if (names)
        hd_h5_free_strings(names, nn);
    if (rc < 0 || col < 0 || !has(f, "features"))
        return rc;
    float *feat = NULL;
    uint8_t *mask = NULL, *dok = NULL;
    if ((rc = hd_h5_read(f, "features", H5T_NATIVE_FLOAT, &rank, d, (void **)&feat)) < 0)
        return rc;
    if (rank != 3 || (int64_t)d[0] != E || (int)d[1] != R || (int)d[2] <= col) {
        free(feat);
        return hd_error(HD_EFORMAT, "%s: /features has the wrong shape", path);
    }
    const int F = (int)d[2];
    if ((rc = read_col(f, path, "mask", H5T_NATIVE_UINT8, E, R, (void **)&mask)) < 0 ||
        (has(f, "dbm_ok") && (rc = read_col(f, path, "dbm_ok", H5T_NATIVE_UINT8, E, R, (void **)&dok)) < 0)) {
        free(feat);
        free(mask);
        return rc;
    }
    float *v = hd_malloc((size_t)(E * R > 0 ? E * R : 1) * sizeof *v);
    if (!v) {
        free(feat);
        free(mask);
        free(dok);
        return HD_ENOMEM;
    }
    for (int64_t q = 0; q < E * R; q++) {
        v[q] = feat[(size_t)q * F + col];
        mask[q] = mask[q] && isfinite(v[q]) && (!dok || dok[q]);
    }
    free(feat);
    free(dok);
    *rss = v;
    *ok = mask;
    return 0;
}

/* An event with no valid time difference but at least two receivers with
 * a calibrated received power: their differences against the strongest as
 * an RSS measurement (returns 1); else 0 (the time differences, if any) */
static int rss_event(hd_track_meas *x, const float *rss, const uint8_t *ok, int64_t row, int R, const double *lat,
                     const double *lon, const double *alt, const double *ant, double tx_alt, double exponent,
                     double sigma_db, const double *delay, const uint8_t *tmask, const int32_t *pairs, int P)
{
    if (!rss)
        return 0;
    for (int p = 0; p < P; p++)
        if (tmask[p] && isfinite(delay[p]) && pairs[2 * p] >= 0 && pairs[2 * p + 1] >= 0)
            return 0; /* timed: the time differences measure it better */
    const float *v = rss + (size_t)row * R;
    const uint8_t *m = ok + (size_t)row * R;
    int set[HD_TRACK_MEAS_MAX], k = 0, ref = -1;
    for (int r = 0; r < R; r++)
        if (m[r] && (ref < 0 || v[r] > v[ref]))
            ref = r;
    if (ref < 0)
        return 0;
    set[k++] = ref;
    for (int r = 0; r < R && k < HD_TRACK_MEAS_MAX; r++)
        if (r != ref && m[r])
            set[k++] = r;
    if (k < 2)
        return 0;
    x->n = k;
    x->rss = 1;
    x->exponent = exponent;
    x->alt_m = tx_alt;
    x->sig2_ref = sigma_db * sigma_db;
    for (int a = 0; a < k; a++) {
        int r = set[a];
        hd_geo_to_ecef(lat[r], lon[r], alt[r] + (ant && isfinite(ant[r]) ? ant[r] : 0), x->rx[a]);
        if (a > 0) {
            x->z[a - 1] = (double)v[r] - (double)v[ref];
            x->sig2[a - 1] = sigma_db * sigma_db;
        }
    }
    return 1;
}

int hd_track_meas_read(const hd_track_input *in, double c_mps, double model_sigma_ns, double default_alt_m,
                       double rss_exponent, double rss_sigma_db, hd_track_meas **out, int64_t *n_with,
                       int64_t *n_rss)
{
    *out = NULL;
    *n_with = 0;
    *n_rss = 0;
    if (!in->features[0])
        return hd_error(HD_EINVAL, "track.update measurements needs the features file (its time differences and "
                        "receivers): --truth FEATURES.h5, or an input whose provenance names it");
    const char *path = in->features;
    hid_t f = -1;
    int64_t *index = NULL;
    int32_t *pairs = NULL;
    double *lat = NULL, *lon = NULL, *alt = NULL, *ant = NULL, *delay = NULL, *sigma = NULL, *obs = NULL;
    uint8_t *mask = NULL, *rok = NULL;
    float *rss = NULL;
    idx_row *map = NULL;
    hd_track_meas *ms = NULL;
    int rc = hd_h5_open(&f, path, HD_FORMAT_FEATURES, HD_FEATURES_VERSION, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    hsize_t d[2];
    int has_tdoa = has(f, "tdoa/pairs") && has(f, "tdoa/delay_s");
    if ((rc = hd_h5_dims(f, "events/index", 1, d)) < 0)
        goto fail;
    int64_t E = (int64_t)d[0];
    if ((rc = hd_h5_dims(f, "receivers/lat", 1, d)) < 0)
        goto fail;
    int R = (int)d[0];
    int P = 0;
    if (has_tdoa && (rc = hd_h5_dims(f, "tdoa/pairs", 2, d)) < 0)
        goto fail;
    if (has_tdoa)
        P = (int)d[0];
    if ((rc = read_rss(f, path, E, R, &rss, &rok)) < 0)
        goto fail;
    if (!has_tdoa && !rss) {
        rc = hd_error(HD_EDATA, "%s has neither time differences (/tdoa) nor received powers (rss_dbm): "
                      "track.update measurements needs one of them", path);
        goto fail;
    }
    if ((rc = read_col(f, path, "events/index", H5T_NATIVE_INT64, E, 1, (void **)&index)) < 0 ||
        (rc = read_col(f, path, "receivers/lat", H5T_NATIVE_DOUBLE, R, 1, (void **)&lat)) < 0 ||
        (rc = read_col(f, path, "receivers/lon", H5T_NATIVE_DOUBLE, R, 1, (void **)&lon)) < 0 ||
        (rc = read_col(f, path, "receivers/alt_m", H5T_NATIVE_DOUBLE, R, 1, (void **)&alt)) < 0 ||
        (P > 0 && (rc = read_col(f, path, "tdoa/pairs", H5T_NATIVE_INT32, P, 2, (void **)&pairs)) < 0) ||
        (P > 0 && ((rc = read_col(f, path, "tdoa/delay_s", H5T_NATIVE_DOUBLE, E, P, (void **)&delay)) < 0 ||
                   (rc = read_col(f, path, "tdoa/sigma_s", H5T_NATIVE_DOUBLE, E, P, (void **)&sigma)) < 0 ||
                   (rc = read_col(f, path, "tdoa/mask", H5T_NATIVE_UINT8, E, P, (void **)&mask)) < 0)))
        goto fail;
    if (has(f, "receivers/antenna_height_m") &&
        (rc = read_col(f, path, "receivers/antenna_height_m", H5T_NATIVE_DOUBLE, R, 1, (void **)&ant)) < 0)
        goto fail;
    if (has(f, "obs/alt_m") && (rc = read_col(f, path, "obs/alt_m", H5T_NATIVE_DOUBLE, E, 1, (void **)&obs)) < 0)
        goto fail;
    map = hd_malloc((size_t)(E > 0 ? E : 1) * sizeof *map);
    ms = hd_calloc((size_t)(in->n > 0 ? in->n : 1), sizeof *ms);
    if (!map || !ms) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < E; i++)
        map[i] = (idx_row){index[i], i};
    qsort(map, (size_t)E, sizeof *map, cmp_idx);
    const double model2 = model_sigma_ns * 1e-9 * c_mps * model_sigma_ns * 1e-9 * c_mps;
    for (int64_t i = 0; i < in->n; i++) {
        idx_row key = {in->fix[i].event_index, 0};
        const idx_row *m = bsearch(&key, map, (size_t)E, sizeof *map, cmp_idx);
        if (!m)
            continue;
        const int64_t row = m->row;
        /* received powers only for events without a fix of their own: a fix
         * (by rss or hybrid) already carries them, through the calibrated
         * per-receiver offsets the raw model here lacks */
        if (!in->fix[i].located && rss_event(&ms[i], rss, rok, row, R, lat, lon, alt, ant, obs && isfinite(obs[row]) ? obs[row] : default_alt_m,
                      rss_exponent, rss_sigma_db, P > 0 ? delay + (size_t)row * P : NULL, P > 0 ? mask + (size_t)row * P : NULL,
                      pairs, P)) {
            (*n_with)++;
            (*n_rss)++;
            continue;
        }
        if (P == 0)
            continue;
        /* valid pairs; the reference: the receiver in most of them */
        int cnt[HD_MAX_STATIONS] = {0};
        double s2[HD_MAX_STATIONS][HD_MAX_STATIONS], dl[HD_MAX_STATIONS][HD_MAX_STATIONS];
        uint8_t ok[HD_MAX_STATIONS][HD_MAX_STATIONS] = {{0}};
        for (int p = 0; p < P; p++) {
            int a = pairs[2 * p], b = pairs[2 * p + 1];
            size_t q = (size_t)row * P + p;
            if (a < 0 || b < 0 || a >= R || b >= R || a >= HD_MAX_STATIONS || b >= HD_MAX_STATIONS || !mask[q] ||
                !isfinite(delay[q]) || !(sigma[q] > 0))
                continue;
            ok[a][b] = ok[b][a] = 1;
            dl[a][b] = delay[q]; /* T_b − T_a */
            dl[b][a] = -delay[q];
            s2[a][b] = s2[b][a] = sigma[q] * sigma[q];
            cnt[a]++;
            cnt[b]++;
        }
        int ref = 0;
        for (int r = 1; r < R && r < HD_MAX_STATIONS; r++)
            if (cnt[r] > cnt[ref])
                ref = r;
        if (cnt[ref] < 1)
            continue;
        int set[HD_TRACK_MEAS_MAX], k = 0;
        set[k++] = ref;
        for (int r = 0; r < R && r < HD_MAX_STATIONS && k < HD_TRACK_MEAS_MAX; r++)
            if (r != ref && ok[ref][r])
                set[k++] = r;
        /* the reference's own variance from the triangles: (s_rj² + s_rk² − s_jk²) / 2 */
        double v0 = 0, smin = INFINITY;
        int nv = 0;
        for (int a = 1; a < k; a++) {
            smin = fmin(smin, s2[ref][set[a]]);
            for (int b = a + 1; b < k; b++)
                if (ok[set[a]][set[b]]) {
                    v0 += 0.5 * (s2[ref][set[a]] + s2[ref][set[b]] - s2[set[a]][set[b]]);
                    nv++;
                }
        }
        v0 = nv ? v0 / nv : 0.5 * smin;
        v0 = fmin(fmax(v0, 0.05 * smin), 0.95 * smin);
        hd_track_meas *x = &ms[i];
        x->n = k;
        x->alt_m = obs && isfinite(obs[row]) ? obs[row] : default_alt_m;
        x->sig2_ref = v0 * c_mps * c_mps + model2;
        for (int a = 0; a < k; a++) {
            int r = set[a];
            double h = alt[r] + (ant && isfinite(ant[r]) ? ant[r] : 0);
            hd_geo_to_ecef(lat[r], lon[r], h, x->rx[a]);
            if (a > 0) {
                x->z[a - 1] = dl[ref][r] * c_mps;
                x->sig2[a - 1] = (s2[ref][r] - v0) * c_mps * c_mps + model2;
            }
        }
        (*n_with)++;
    }
    *out = ms;
    ms = NULL;
fail:
    if (rc < 0)
        hd_error_context(rc, "%s", path);
    if (f >= 0)
        H5Fclose(f);
    free(index);
    free(pairs);
    free(lat);
    free(lon);
    free(alt);
    free(ant);
    free(delay);
    free(sigma);
    free(obs);
    free(mask);
    free(rss);
    free(rok);
    free(map);
    free(ms);
    return rc;
}

/* ---- the score, logged ------------------------------------------------------ */

void hd_track_score_log(const hd_track_input *in, const hd_track_result *r)
{
    hd_track_score s;
    if (hd_track_score_compute(in, r, &s) < 0 || s.n == 0) {
        hd_info("no truth for these events: not scored");
        return;
    }
    hd_info("scored on %lld events with a fix and the truth%s%s:", (long long)s.n, in->features[0] ? " from " : "",
            in->features);
    hd_info("  fixes:  median %.0f m, p95 %.0f m; %.1f %% inside 1-sigma, %.1f %% inside 2-sigma", s.fix_median_m,
            s.fix_p95_m, 100 * s.fix_cov1, 100 * s.fix_cov2);
    hd_info("  tracks: median %.0f m, p95 %.0f m; %.1f %% inside 1-sigma, %.1f %% inside 2-sigma (nominal 39.3 / "
            "86.5 %%); filter alone median %.0f m", s.track_median_m, s.track_p95_m, 100 * s.track_cov1,
            100 * s.track_cov2, s.filter_median_m);
    hd_info("  track/fix median ratio %.2f", s.track_median_m / s.fix_median_m);
    if (s.n_nofix)
        hd_info("  events without a fix: %lld, the tracks' median error there %.0f m", (long long)s.n_nofix,
                s.nofix_median_m);
}
