/* GeoJSON and JSON lines through jansson, KML through libxml2's writer. */
#include "eval/outputs.h"
#include "core/error.h"
#include "core/util.h"

#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(11))

static json_t *receivers_used(const hd_station *st, int R, const hd_located *ev, uint64_t used)
{
    json_t *a = json_array();
    int n = ev->n_rx ? ev->n_rx : R;
    for (int r = 0; r < n && r < 64; r++)
        if (used >> r & 1)
            json_array_append_new(a, json_string(st[ev->n_rx ? ev->rx[r] : r].id));
    return a;
}

static json_t *ellipse_props(const double cov[3], double nu, double p)
{
    double a, b, az;
    hd_locate_ellipse(cov, nu, p, &a, &b, &az);
    return json_pack("{s:f, s:f, s:f, s:f}", "probability", p, "semi_major_m", a, "semi_minor_m", b, "azimuth_deg", az);
}

/* Properties shared by the GeoJSON point and the JSON lines. */
static json_t *event_props(const hd_station *st, int R, const hd_located *ev)
{
    const hd_locate_result *r = &ev->res;
    char t[40];
    hd_time_format_iso8601(ev->time_ns, t);
    json_t *o = json_pack("{s:I, s:s, s:f, s:s, s:s, s:o, s:i, s:i}", "event", (json_int_t)ev->index, "time", t,
                          "frequency_hz", ev->frequency_hz, "method", hd_method_name(r->method), "status",
                          hd_loc_status_name(r->status), "receivers", receivers_used(st, R, ev, r->used),
                          "n_receivers", r->n_receivers, "n_pairs", r->n_pairs);
    if (ev->why[0])
        json_object_set_new(o, "why", json_string(ev->why));
    if (ev->uncalibrated)
        json_object_set_new(o, "uncalibrated", receivers_used(st, R, ev, ev->uncalibrated));
    if (r->status == HD_LOC_OK || r->status == HD_LOC_OUTSIDE) {
        json_object_set_new(o, "lat", json_real(r->lat));
        json_object_set_new(o, "lon", json_real(r->lon));
        json_object_set_new(o, "alt_m", json_real(r->alt));
        if (r->ambiguous) { /* the exactly determined case: the other crossing fits as well */
            json_object_set_new(o, "ambiguous", json_true());
            json_object_set_new(o, "second_lat", json_real(r->lat2));
            json_object_set_new(o, "second_lon", json_real(r->lon2));
        }
        if (r->grown)
            json_object_set_new(o, "region_grown", json_integer(r->grown));
        json_object_set_new(o, "cov_enu_m2", json_pack("[f, f, f]", r->cov[0], r->cov[1], r->cov[2]));
        /* the predictive's shape: a Student-t with nu degrees of freedom
         * and the covariance above, or a Gaussian (nu 0) */
        json_object_set_new(o, "nu", json_real(r->nu));
        json_object_set_new(o, "ellipse_68", ellipse_props(r->cov, r->nu, 0.68));
        json_object_set_new(o, "ellipse_95", ellipse_props(r->cov, r->nu, 0.95));
        if (isfinite(r->gdop))
            json_object_set_new(o, "gdop", json_real(r->gdop));
        if (isfinite(r->crlb[0]))
            json_object_set_new(o, "crlb_m", json_real(sqrt(r->crlb[0] + r->crlb[2])));
        if (isfinite(r->chi2)) {
            json_object_set_new(o, "chi2", json_real(r->chi2));
            json_object_set_new(o, "dof", json_integer(r->dof));
        }
        if (isfinite(r->source_dbm))
            json_object_set_new(o, "source_dbm", json_real(r->source_dbm));
    }
    return o;
}

/* what a failed write says when the file system is full ("" otherwise:
 * errno may be left over from elsewhere) */
static const char *full_disk(void)
{
    return errno == ENOSPC || errno == EDQUOT ? ": no space left on device" : "";
}

static int dump(FILE *f, json_t *j)
{
    int rc = j && json_dumpf(j, f, JSON_FLAGS) == 0 ? 0
             : hd_error(HD_EIO, "cannot write JSON%s", full_disk());
    json_decref(j);
    return rc;
}

/* Degrees with 8 decimals (about a millimetre), formatted through integers:
 * printf's exact decimal conversion was most of localize's time. */
static char *fmt_deg(char *p, double v)
{
    long long u = llround(fabs(v) * 1e8);
    if (v < 0 && u)
        *p++ = '-';
    char d[24];
    int n = 0;
    long long w = u / 100000000LL, f = u % 100000000LL;
    do
        d[n++] = (char)('0' + w % 10);
    while ((w /= 10) > 0);
    while (n)
        *p++ = d[--n];
    *p++ = '.';
    for (int k = 7; k >= 0; k--, f /= 10)
        p[k] = (char)('0' + f % 10);
    return p + 8;
}

typedef double outline[HD_ELLIPSE_VERTICES][2];

/* A closed ring of lon/lat pairs: "[lon,lat],…" (GeoJSON) or "lon,lat,0 …" (KML) */
static void ring_text(const outline ll, int kml, char *buf)
{
    char *p = buf;
    for (int i = 0; i <= HD_ELLIPSE_VERTICES; i++) {
        int k = i % HD_ELLIPSE_VERTICES; /* closed: the first vertex again */
        if (!kml) {
            if (i)
                *p++ = ',';
            *p++ = '[';
        }
        p = fmt_deg(p, ll[k][1]);
        *p++ = ',';
        p = fmt_deg(p, ll[k][0]);
        if (kml) {
            memcpy(p, ",0 ", 3);
            p += 3;
        } else {
            *p++ = ']';
        }
    }
    *p = 0;
}
#define RING_TEXT_SIZE ((HD_ELLIPSE_VERTICES + 1) * 48)

/* ---- KML ------------------------------------------------------------------- */

#define X(call)                                                                                                        \
    do {                                                                                                               \
        if ((call) < 0)                                                                                                \
            goto fail;                                                                                                 \
    } while (0)

static int kml_style(xmlTextWriterPtr w, const char *id, const char *line, const char *poly, const char *icon)
{
    X(xmlTextWriterStartElement(w, BAD_CAST "Style"));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "id", BAD_CAST id));
    if (icon) {
        X(xmlTextWriterStartElement(w, BAD_CAST "IconStyle"));
        X(xmlTextWriterWriteElement(w, BAD_CAST "color", BAD_CAST icon));
        X(xmlTextWriterEndElement(w));
    }
    if (line) {
        X(xmlTextWriterStartElement(w, BAD_CAST "LineStyle"));
        X(xmlTextWriterWriteElement(w, BAD_CAST "color", BAD_CAST line));
        X(xmlTextWriterWriteElement(w, BAD_CAST "width", BAD_CAST "2"));
        X(xmlTextWriterEndElement(w));
    }
    if (poly) {
        X(xmlTextWriterStartElement(w, BAD_CAST "PolyStyle"));
        X(xmlTextWriterWriteElement(w, BAD_CAST "color", BAD_CAST poly));
        X(xmlTextWriterEndElement(w));
    }
    X(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

/* An event's time (Google Earth's time slider) and frequency on its placemarks */
static int kml_when(xmlTextWriterPtr w, const hd_located *e)
{
    char t[40];
    hd_time_format_iso8601(e->time_ns, t);
    X(xmlTextWriterStartElement(w, BAD_CAST "TimeStamp"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "when", BAD_CAST t));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterStartElement(w, BAD_CAST "ExtendedData"));
    X(xmlTextWriterStartElement(w, BAD_CAST "Data"));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "frequency_hz"));
    X(xmlTextWriterWriteFormatElement(w, BAD_CAST "value", "%.0f", e->frequency_hz));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

static int kml_point(xmlTextWriterPtr w, const char *name, const char *style, const char *desc, double lat, double lon,
                     const hd_located *e)
{
    X(xmlTextWriterStartElement(w, BAD_CAST "Placemark"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name));
    if (desc)
        X(xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST desc));
    if (e)
        X(kml_when(w, e));
    X(xmlTextWriterWriteFormatElement(w, BAD_CAST "styleUrl", "#%s", style));
    X(xmlTextWriterStartElement(w, BAD_CAST "Point"));
    X(xmlTextWriterWriteFormatElement(w, BAD_CAST "coordinates", "%.8f,%.8f,0", lon, lat));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

static int kml_ellipse(xmlTextWriterPtr w, const hd_located *e, double p, const outline ll, char *text)
{
    char name[64];
    snprintf(name, sizeof name, "event %lld %.0f %%", (long long)e->index, p * 100);
    ring_text(ll, 1, text);
    X(xmlTextWriterStartElement(w, BAD_CAST "Placemark"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name));
    X(kml_when(w, e));
    X(xmlTextWriterWriteElement(w, BAD_CAST "styleUrl", BAD_CAST(p < 0.9 ? "#ellipse68" : "#ellipse95")));
    X(xmlTextWriterStartElement(w, BAD_CAST "Polygon"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "tessellate", BAD_CAST "1"));
    X(xmlTextWriterStartElement(w, BAD_CAST "outerBoundaryIs"));
    X(xmlTextWriterStartElement(w, BAD_CAST "LinearRing"));
    /* digits, signs, commas and spaces: nothing to escape */
    X(xmlTextWriterStartElement(w, BAD_CAST "coordinates"));
    X(xmlTextWriterWriteRaw(w, BAD_CAST text));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

static int kml_begin(xmlTextWriterPtr w, const hd_station *st, int R)
{
    xmlTextWriterSetIndent(w, 1);
    X(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    X(xmlTextWriterStartElement(w, BAD_CAST "kml"));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "http://www.opengis.net/kml/2.2"));
    X(xmlTextWriterStartElement(w, BAD_CAST "Document"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST "heimdall localize"));
    X(kml_style(w, "receiver", NULL, NULL, "ff00ffff"));
    X(kml_style(w, "estimate", NULL, NULL, "ff0000ff"));
    X(kml_style(w, "ellipse68", "ff0000ff", "400000ff", NULL));
    X(kml_style(w, "ellipse95", "ff00a5ff", "2000a5ff", NULL));
    X(xmlTextWriterStartElement(w, BAD_CAST "Folder"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST "Receivers"));
    for (int r = 0; r < R; r++)
        X(kml_point(w, st[r].id, "receiver", st[r].name, st[r].lat, st[r].lon, NULL));
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterStartElement(w, BAD_CAST "Folder"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST "Events"));
    return 0;
fail:
    return -1;
}

static int kml_event(xmlTextWriterPtr w, const hd_station *st, int R, const hd_located *e, const outline ll68,
                     const outline ll95, char *text)
{
    char name[64], desc[512];
    snprintf(name, sizeof name, "event %lld", (long long)e->index);
    hd_located_summary(st, R, e, desc, sizeof desc);
    X(xmlTextWriterStartElement(w, BAD_CAST "Folder"));
    X(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name));
    X(kml_point(w, name, "estimate", desc, e->res.lat, e->res.lon, e));
    X(kml_ellipse(w, e, 0.68, ll68, text));
    X(kml_ellipse(w, e, 0.95, ll95, text));
    X(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

static int kml_end(xmlTextWriterPtr w)
{
    X(xmlTextWriterEndElement(w));
    X(xmlTextWriterEndDocument(w));
    return 0;
fail:
    return -1;
}

/* RFC 7946 bbox: west, south, east, north of every geometry written */
typedef struct {
    double w, s, e, n;
} bbox;

static void bbox_add(bbox *b, double lat, double lon)
{
    b->w = lon < b->w ? lon : b->w;
    b->e = lon > b->e ? lon : b->e;
    b->s = lat < b->s ? lat : b->s;
    b->n = lat > b->n ? lat : b->n;
}

static int geojson_receivers(FILE *f, const hd_station *st, int R, bbox *bb)
{
    int rc = 0;
    for (int r = 0; r < R; r++)
        bbox_add(bb, st[r].lat, st[r].lon);
    fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", f);
    for (int r = 0; r < R && rc == 0; r++) {
        json_t *j = json_pack("{s:s, s:{s:s, s:[f, f]}, s:{s:s, s:s, s:s, s:s, s:f}}", "type", "Feature", "geometry",
                              "type", "Point", "coordinates", st[r].lon, st[r].lat, "properties", "kind", "receiver",
                              "id", st[r].id, "name", st[r].name, "driver", hd_driver_name(st[r].driver), "alt_m",
                              st[r].alt_m);
        if (r)
            fputs(",\n", f);
        rc = dump(f, j);
    }
    return rc;
}

static int geojson_event(FILE *f, const hd_station *st, int R, const hd_located *e, const outline ll68,
                         const outline ll95, char *text)
{
    const hd_locate_result *r = &e->res;
    json_t *props = event_props(st, R, e);
    json_object_set_new(props, "kind", json_string("estimate"));
    int located = r->status == HD_LOC_OK || r->status == HD_LOC_OUTSIDE;
    json_t *geom = located ? json_pack("{s:s, s:[f, f]}", "type", "Point", "coordinates", r->lon, r->lat) : json_null();
    fputs(",\n", f);
    int rc = dump(f, json_pack("{s:s, s:o, s:o}", "type", "Feature", "geometry", geom, "properties", props));
    for (int q = 0; located && q < 2 && rc == 0; q++) {
        /* the ring is formatted here; the properties through jansson */
        ring_text(q ? ll95 : ll68, 0, text);
        fprintf(f, ",\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[%s]]},\"properties\":",
                text);
        char t[40];
        hd_time_format_iso8601(e->time_ns, t);
        rc = dump(f, json_pack("{s:s, s:I, s:f, s:s, s:f}", "kind", q ? "ellipse_95" : "ellipse_68", "event",
                               (json_int_t)e->index, "probability", q ? 0.95 : 0.68, "time", t, "frequency_hz",
                               e->frequency_hz));
        fputc('}', f);
    }
    return rc;
}

struct hd_outputs_s {
    FILE *geojson, *kml, *jsonl;
    const hd_station *st;
    int R;
    xmlTextWriterPtr w;
    char *text;
    bbox bb;
};

void hd_outputs_free(hd_outputs *o)
{
    if (!o)
        return;
    if (o->w)
        xmlFreeTextWriter(o->w);
    free(o->text);
    free(o);
}

int hd_outputs_begin(hd_outputs **out, FILE *geojson, FILE *kml, FILE *jsonl, const hd_station *st, int R)
{
    int rc = 0;
    hd_outputs *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o || !(o->text = malloc(RING_TEXT_SIZE))) {
        free(o);
        return HD_ENOMEM;
    }
    *o = (hd_outputs){geojson, kml, jsonl, st, R, NULL, o->text, {INFINITY, INFINITY, -INFINITY, -INFINITY}};
    if (kml) {
        xmlOutputBufferPtr ob = xmlOutputBufferCreateFile(kml, NULL);
        o->w = ob ? xmlNewTextWriter(ob) : NULL;
        if (!o->w) {
            if (ob)
                xmlOutputBufferClose(ob);
            hd_outputs_free(o);
            return hd_error(HD_ENOMEM, "cannot start the KML writer");
        }
        if (kml_begin(o->w, st, R) < 0)
            rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
    }
    if (geojson && rc == 0)
        rc = geojson_receivers(geojson, st, R, &o->bb);
    if (rc < 0) {
        hd_outputs_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int hd_outputs_add(hd_outputs *o, const hd_located *ev, int64_t n)
{
    int rc = 0;
    for (int64_t k = 0; k < n && rc == 0; k++) {
        const hd_located *e = &ev[k];
        const hd_locate_result *r = &e->res;
        int located = r->status == HD_LOC_OK || r->status == HD_LOC_OUTSIDE;
        outline ll68, ll95;
        if (located && (o->geojson || o->kml)) { /* each outline once, for both maps */
            hd_locate_ellipse_outline(r->lat, r->lon, r->cov, r->nu, 0.68, HD_ELLIPSE_VERTICES, ll68);
            hd_locate_ellipse_outline(r->lat, r->lon, r->cov, r->nu, 0.95, HD_ELLIPSE_VERTICES, ll95);
            bbox_add(&o->bb, r->lat, r->lon);
            for (int v = 0; v < HD_ELLIPSE_VERTICES; v++) /* the 95 % outline holds the 68 % one */
                bbox_add(&o->bb, ll95[v][0], ll95[v][1]);
        }
        if (o->geojson)
            rc = geojson_event(o->geojson, o->st, o->R, e, ll68, ll95, o->text);
        if (rc == 0 && o->kml && located && kml_event(o->w, o->st, o->R, e, ll68, ll95, o->text) < 0)
            rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
        if (rc == 0 && o->jsonl && (rc = dump(o->jsonl, event_props(o->st, o->R, e))) == 0)
            fputc('\n', o->jsonl);
    }
    return rc;
}

int hd_outputs_end(hd_outputs *o)
{
    int rc = 0;
    if (o->geojson) {
        char b[4][32];
        fmt_deg(b[0], o->bb.w)[0] = 0;
        fmt_deg(b[1], o->bb.s)[0] = 0;
        fmt_deg(b[2], o->bb.e)[0] = 0;
        fmt_deg(b[3], o->bb.n)[0] = 0;
        if (o->bb.w <= o->bb.e)
            fprintf(o->geojson, "\n],\"bbox\":[%s,%s,%s,%s]}\n", b[0], b[1], b[2], b[3]);
        else
            fputs("\n]}\n", o->geojson);
    }
    if (o->w && kml_end(o->w) < 0)
        rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
    hd_outputs_free(o);
    return rc;
}

int hd_write_outputs(FILE *geojson, FILE *kml, FILE *jsonl, const hd_station *st, int R, const hd_located *ev,
                     int64_t n)
{
    hd_outputs *o;
    int rc = hd_outputs_begin(&o, geojson, kml, jsonl, st, R);
    if (rc < 0)
        return rc;
    if ((rc = hd_outputs_add(o, ev, n)) < 0) {
        hd_outputs_free(o);
        return rc;
    }
    return hd_outputs_end(o);
}

void hd_located_summary(const hd_station *st, int R, const hd_located *e, char *buf, size_t size)
{
    const hd_locate_result *r = &e->res;
    char t[40];
    hd_time_format_iso8601(e->time_ns, t);
    t[19] = 'Z'; /* whole seconds are enough here */
    t[20] = 0;
    int off = snprintf(buf, size, "event %lld %s %.4f MHz %s: ", (long long)e->index, t, e->frequency_hz / 1e6,
                       hd_method_name(r->method));
    if (off < 0 || (size_t)off >= size)
        return;
    if (r->status != HD_LOC_OK && r->status != HD_LOC_OUTSIDE) {
        snprintf(buf + off, size - off, "%s (%d receiver%s usable%s%s)", hd_loc_status_name(r->status), r->n_receivers,
                 r->n_receivers == 1 ? "" : "s", e->why[0] ? "; " : "", e->why);
        return;
    }
    double a, b, az;
    hd_locate_ellipse(r->cov, r->nu, 0.68, &a, &b, &az);
    int o2 = snprintf(buf + off, size - off, "%.5f %c %.5f %c ± %.0f × %.0f m (68 %%, major axis %.0f°), %d receivers",
                      fabs(r->lat), r->lat >= 0 ? 'N' : 'S', fabs(r->lon), r->lon >= 0 ? 'E' : 'W', a, b, az,
                      r->n_receivers);
    off += o2 > 0 ? o2 : 0;
    if ((size_t)off < size && isfinite(r->gdop))
        off += snprintf(buf + off, size - off, ", GDOP %.1f", r->gdop);
    if ((size_t)off < size && r->status == HD_LOC_OUTSIDE)
        off += snprintf(buf + off, size - off, " (outside the search region)");
    if ((size_t)off < size && r->ambiguous)
        off += snprintf(buf + off, size - off, "; AMBIGUOUS: the hyperbolas cross again at %.5f %c %.5f %c",
                        fabs(r->lat2), r->lat2 >= 0 ? 'N' : 'S', fabs(r->lon2), r->lon2 >= 0 ? 'E' : 'W');
    if ((size_t)off < size && r->grown)
        snprintf(buf + off, size - off, "; the search region grown %d time%s", r->grown, r->grown == 1 ? "" : "s");
    (void)st;
    (void)R;
}
