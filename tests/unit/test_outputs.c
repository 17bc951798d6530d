/* localize's GeoJSON, KML and JSON lines writer (src/eval/outputs.c): the
 * files parse (jansson, libxml2), names with characters JSON and XML must
 * escape come back unchanged, numbers come back to the precision written,
 * the records and rings are where they belong, and a receiver without a
 * fixed position does not stop the files. */
#include "eval/outputs.h"
#include "tap.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *NAME0 = "Aquila <di> & \"Giaveno\" \\ / tab\there\r\nnew line";
static const char *NAME1 = "Torino \xe2\x80\x93 citt\xc3\xa0 \xf0\x9f\x98\x80 \x01 ctl";

static void stations(hd_station *st, int R)
{
    memset(st, 0, sizeof *st * (size_t)R);
    for (int r = 0; r < R; r++) {
        snprintf(st[r].id, sizeof st[r].id, "rx-%d", r);
        snprintf(st[r].name, sizeof st[r].name, "Receiver %d", r);
        st[r].lat = 45 + 0.1 * r;
        st[r].lon = 7 + 0.2 * r;
        st[r].alt_m = 100 * r;
    }
    snprintf(st[0].name, sizeof st[0].name, "%s", NAME0);
    snprintf(st[1].name, sizeof st[1].name, "%s", NAME1);
}

static void events(hd_located *ev, int n)
{
    memset(ev, 0, sizeof *ev * (size_t)n);
    for (int i = 0; i < n; i++) {
        hd_located *e = &ev[i];
        hd_locate_result *r = &e->res;
        e->index = 10 + i;
        e->time_ns = 1780300800000000000LL + i * 30000000000LL;
        e->frequency_hz = 145.5e6;
        r->method = HD_LOC_TDOA;
        r->status = i == 1 ? HD_LOC_TOO_FEW : HD_LOC_OK;
        r->used = i == 1 ? 0x3 : 0x7;
        r->n_receivers = i == 1 ? 2 : 3;
        r->n_pairs = 3;
        r->lat = 45.123456789012 + i * 0.01;
        r->lon = -7.98765432101 - i * 0.01;
        r->alt = 0;
        r->cov[0] = 2500 * (i + 1);
        r->cov[1] = 300;
        r->cov[2] = 900;
        r->nu = 6;
        r->gdop = 1.25;
        r->crlb[0] = 100;
        r->crlb[2] = 200;
        r->chi2 = 1.5e-7;
        r->dof = 2;
        r->source_dbm = NAN;
        r->e2 = r->n2 = r->lat2 = r->lon2 = NAN;
        if (i == 1)
            snprintf(e->why, sizeof e->why, "receivers: dead 1; \"quoted\"");
        if (i == 2) {
            r->ambiguous = 1;
            r->lat2 = 44.5;
            r->lon2 = 8.25;
        }
    }
}

static char *slurp(FILE *f, long *len)
{
    fflush(f);
    *len = ftell(f);
    rewind(f);
    char *s = malloc((size_t)*len + 1);
    if (s && fread(s, 1, (size_t)*len, f) != (size_t)*len) {
        free(s);
        return NULL;
    }
    if (s)
        s[*len] = 0;
    return s;
}

static void check_geojson(const char *text, int R, int n)
{
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    ok(root != NULL, "GeoJSON parses (%s at line %d)", root ? "ok" : err.text, err.line);
    if (!root) {
        skip(9, "no GeoJSON");
        return;
    }
    json_t *f = json_object_get(root, "features");
    /* receivers, then per event a point and, when located, two rings */
    is_int(json_array_size(f), R + n + 2 * (n - 1), "GeoJSON: the receivers, the events and their ellipses");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(f, 0), "properties"), "name")), NAME0,
           "GeoJSON: a name with quotes, backslash, control characters comes back unchanged");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(f, 1), "properties"), "name")), NAME1,
           "GeoJSON: a UTF-8 name comes back unchanged");
    ok(json_is_null(json_object_get(json_array_get(f, 2), "geometry")) &&
           json_object_get(json_object_get(json_array_get(f, 2), "properties"), "alt_m") != NULL,
       "GeoJSON: a receiver without a fixed position is a Feature with a null geometry");
    json_t *pt = json_array_get(f, R);
    json_t *c = json_object_get(json_object_get(pt, "geometry"), "coordinates");
    is_double(json_real_value(json_array_get(c, 0)), -7.98765432101, 1e-9, "GeoJSON: the point's longitude");
    is_double(json_real_value(json_array_get(c, 1)), 45.123456789012, 1e-9, "GeoJSON: the point's latitude");
    json_t *ring = json_array_get(json_object_get(json_object_get(json_array_get(f, R + 1), "geometry"), "coordinates"), 0);
    ok(json_array_size(ring) == HD_ELLIPSE_VERTICES + 1 &&
           json_equal(json_array_get(ring, 0), json_array_get(ring, HD_ELLIPSE_VERTICES)),
       "GeoJSON: the 68 %% ring is closed with %d vertices", HD_ELLIPSE_VERTICES + 1);
    json_t *unl = json_array_get(f, R + 3);
    ok(json_is_null(json_object_get(unl, "geometry")) &&
           !strcmp(json_string_value(json_object_get(json_object_get(unl, "properties"), "why")),
                   "receivers: dead 1; \"quoted\""),
       "GeoJSON: an event without a position: null geometry, its reason");
    json_t *bb = json_object_get(root, "bbox");
    ok(json_array_size(bb) == 4 && json_number_value(json_array_get(bb, 0)) < -7.98 &&
           json_number_value(json_array_get(bb, 3)) > 45.29,
       "GeoJSON: the bbox holds the receivers and the estimates");
    json_decref(root);
}

static void check_jsonl(const char *text, int n)
{
    int lines = 0, good = 0;
    const char *p = text;
    json_t *third = NULL;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
        good += j != NULL;
        if (lines == 2)
            third = j;
        else
            json_decref(j);
        lines++;
        p = nl + 1;
    }
    is_int(lines, n, "JSON lines: one line per event");
    is_int(good, n, "JSON lines: every line parses");
    ok(third && json_is_true(json_object_get(third, "ambiguous")) &&
           json_real_value(json_object_get(third, "second_lon")) == 8.25 &&
           json_real_value(json_object_get(third, "chi2")) == 1.5e-7 &&
           json_array_size(json_object_get(third, "receivers")) == 3 &&
           json_real_value(json_object_get(json_object_get(third, "ellipse_95"), "probability")) == 0.95 &&
           json_object_get(third, "source_dbm") == NULL,
       "JSON lines: the ambiguous event's fields (a small chi², receivers, ellipse; no source term)");
    json_decref(third);
}

static void check_kml(const char *text, long len, int R, int n)
{
    xmlDocPtr doc = xmlReadMemory(text, (int)len, "p.kml", NULL, XML_PARSE_NONET);
    ok(doc != NULL, "KML parses");
    if (!doc) {
        skip(3, "no KML");
        return;
    }
    int placemarks = 0, desc0 = 0, desc1 = 0;
    xmlNodePtr stack[64];
    int sp = 0;
    stack[sp++] = xmlDocGetRootElement(doc);
    while (sp) {
        xmlNodePtr x = stack[--sp];
        for (; x; x = x->next) {
            if (x->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrcmp(x->name, BAD_CAST "Placemark"))
                placemarks++;
            if (!xmlStrcmp(x->name, BAD_CAST "description")) {
                xmlChar *t = xmlNodeGetContent(x);
                /* XML turns CR LF into LF when it reads: the CR is written as &#13; */
                desc0 |= t && !strcmp((char *)t, NAME0);
                desc1 |= t && !strcmp((char *)t, "Torino \xe2\x80\x93 citt\xc3\xa0 \xf0\x9f\x98\x80  ctl");
                xmlFree(t);
            }
            if (x->children && sp < 63)
                stack[sp++] = x->children;
        }
    }
    is_int(placemarks, R + 3 * (n - 1), "KML: a placemark per receiver and three per located event");
    ok(desc0, "KML: a name with < & \" and CR comes back unchanged");
    ok(desc1, "KML: a UTF-8 name comes back unchanged, its control character (no XML 1.0 character) left out");
    xmlFreeDoc(doc);
}

/* hd_outputs_format_real against jansson's own dump of the same real */
static void check_reals(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int n = 0, same = 0;
    char want[48], got[48], first[200] = "";
    double special[] = {0, -0.0, 1, -1, 0.5, 0.68, 0.95, 145500000, 433500000, 1e-5, 1.5e-7, 123456789012.5,
                        99999999999.5, 9.99999999995, 0.000099999999999, 1e11, 1e10, 99999999999.0, 5e-324,
                        1.7976931348623157e308, 2.5, 0.15, 1e21, 1e-17, 3.0000000000049998, 44.415649144};
    for (int i = 0; i < 300000 + (int)(sizeof special / sizeof special[0]); i++) {
        double v;
        if (i < (int)(sizeof special / sizeof special[0])) {
            v = special[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* a random mantissa at a random scale, and sometimes a round decimal near a tie */
            double m = (double)(x >> 11) / 9007199254740992.0, sc = pow(10, (double)((x >> 3) % 48) - 20);
            v = (x & 1 ? -1 : 1) * (i % 5 == 0 ? floor(m * 1e12) / 1e12 + 5e-12 : m) * sc;
        }
        json_t *j = json_real(v);
        char *d = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(11)) : NULL;
        snprintf(want, sizeof want, "%s", d ? d : "");
        free(d);
        json_decref(j);
        int len = hd_outputs_format_real(got, v);
        got[len > 0 ? len : 0] = 0;
        n++;
        if (!strcmp(got, want))
            same++;
        else if (!first[0])
            snprintf(first, sizeof first, "%.17g: got '%s', jansson '%s'", v, got, want);
    }
    ok(same == n, "reals as jansson writes them at precision 11: %d of %d%s%s", same, n, first[0] ? "; first: " : "",
       first);
}

int main(void)
{
    plan(20);
    check_reals();
    enum { R = 4, N = 3 };
    hd_station st[R];
    hd_located ev[N];
    stations(st, R);
    st[2].lat = st[2].lon = NAN; /* on a bus: placed per event */
    events(ev, N);
    FILE *g = tmpfile(), *k = tmpfile(), *j = tmpfile();
    hd_outputs *o;
    int rc = hd_outputs_begin(&o, g, k, j, st, R);
    ok(rc == 0, "begin");
    if (rc == 0)
        rc = hd_outputs_add(o, ev, 1);
    if (rc == 0)
        rc = hd_outputs_add(o, ev + 1, N - 1); /* two blocks, as localize streams them */
    if (rc == 0)
        rc = hd_outputs_end(o);
    ok(rc == 0, "three files written (rc %d)", rc);
    long lg, lk, lj;
    char *tg = slurp(g, &lg), *tk = slurp(k, &lk), *tj = slurp(j, &lj);
    check_geojson(tg ? tg : "", R, N);
    check_jsonl(tj ? tj : "", N);
    check_kml(tk ? tk : "", tk ? lk : 0, R, N);
    free(tg);
    free(tk);
    free(tj);
    fclose(g);
    fclose(k);
    fclose(j);
    return exit_status();
}
