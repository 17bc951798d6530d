/* GeoJSON, JSON lines and KML formatted straight into a buffer per file
 * and written once per event: no per-value objects (jansson's json_t,
 * libxml2's writer were two thirds of localize's output time). The bytes
 * are those the jansson (JSON_COMPACT, JSON_REAL_PRECISION(11)) and
 * libxml2 (xmlTextWriter, indent 1) writers made before, which
 * test_outputs compares against. */
#include "eval/outputs.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing text buffer ----------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;   /* an allocation failed: the text is incomplete */
    int bad;   /* a value JSON cannot hold (jansson refused it): the record fails */
} sbuf;

static int sb_grow(sbuf *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        b->oom = 1;
        return -1;
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (sb_grow(b, n) < 0)
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_char(sbuf *b, char c)
{
    if (sb_grow(b, 1) < 0)
        return;
    b->p[b->n++] = c;
}

/* the buffer to f; the buffer emptied */
static int sb_flush(sbuf *b, FILE *f)
{
    int bad = b->oom || b->bad;
    size_t n = b->n;
    b->n = 0;
    b->oom = b->bad = 0;
    if (bad)
        return bad;
    return n && fwrite(b->p, 1, n, f) != n ? -1 : 0;
}

/* ---- numbers ------------------------------------------------------------------- */

/* "%.11g" of v, the bytes glibc's printf writes (the correctly rounded
 * decimal), without printf's multi-precision conversion: the 11 digits
 * from one 64-bit long double product (exact powers of ten up to 10^27),
 * printf itself when that product lies within 1e-6 of a rounding tie (its
 * error is below 1e-8) or v is outside 1e-17 .. 1e27. Into t (at least
 * 32 bytes); returns the length. */
static int fmt_g11(char *t, double v)
{
    static const long double p10[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                        1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                        1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L}; /* exact */
    double a = fabs(v);
    if (!(a >= 1e-17 && a < 1e27))
        return snprintf(t, 32, "%.11g", v);
    int e10 = (int)floor(log10(a));
    long double x = 0;
    for (int pass = 0; pass < 3; pass++) { /* log10 may be one off near a power of ten */
        int k = 10 - e10;
        if (k > 27 || k < -27)
            return snprintf(t, 32, "%.11g", v);
        x = k >= 0 ? (long double)a * p10[k] : (long double)a / p10[-k];
        if (x < 1e10L)
            e10--;
        else if (x >= 1e11L)
            e10++;
        else
            break;
    }
    if (!(x >= 1e10L && x < 1e11L))
        return snprintf(t, 32, "%.11g", v);
    long double fl = floorl(x), fr = x - fl;
    if (fabsl(fr - 0.5L) < 1e-6L)
        return snprintf(t, 32, "%.11g", v);
    unsigned long long m = (unsigned long long)fl + (fr > 0.5L);
    if (m == 100000000000ULL) {
        m = 10000000000ULL;
        e10++;
    }
    char d[11];
    for (int i = 10; i >= 0; i--, m /= 10)
        d[i] = (char)('0' + m % 10);
    int nd = 11; /* %g drops trailing zeros */
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    char *p = t;
    if (signbit(v))
        *p++ = '-';
    if (e10 < -4 || e10 >= 11) { /* d.ddde±XX */
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = e10 < 0 ? '-' : '+';
        int ex = abs(e10);
        if (ex >= 100)
            *p++ = (char)('0' + ex / 100);
        *p++ = (char)('0' + ex / 10 % 10);
        *p++ = (char)('0' + ex % 10);
    } else if (e10 >= 0) { /* ddd.ddd */
        memcpy(p, d, (size_t)e10 + 1);
        p += e10 + 1;
        if (nd > e10 + 1) {
            *p++ = '.';
            memcpy(p, d + e10 + 1, (size_t)(nd - e10 - 1));
            p += nd - e10 - 1;
        }
    } else { /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e10 - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)nd);
        p += nd;
    }
    *p = 0;
    return (int)(p - t);
}

int hd_outputs_format_real(char *buf, double v)
{
    if (!isfinite(v))
        return 0;
    char *t = buf;
    int n = fmt_g11(t, v);
    if (n < 0 || n >= 29)
        return 0;
    char *e = memchr(t, 'e', (size_t)n);
    if (!e && !memchr(t, '.', (size_t)n)) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    if (e) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(t + n + 1 - end));
            n -= (int)(end - start);
        }
    }
    return n;
}

/* ---- JSON values as jansson wrote them ------------------------------------------- */

/* The length of the UTF-8 sequence at s (0: not valid UTF-8, as jansson's
 * utf8_check_full judges it), its code point into *cp. */
static int utf8_seq(const unsigned char *s, size_t left, int32_t *cp)
{
    unsigned c = s[0];
    int n;
    int32_t v;
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0) {
        n = 2;
        v = (int32_t)(c & 0x1F);
    } else if (c < 0xF0) {
        n = 3;
        v = (int32_t)(c & 0x0F);
    } else {
        n = 4;
        v = (int32_t)(c & 0x07);
    }
    if ((size_t)n > left)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
        return 0;
    *cp = v;
    return n;
}

static int utf8_valid(const char *s)
{
    size_t left = strlen(s);
    const unsigned char *u = (const unsigned char *)s;
    while (left) {
        int32_t cp;
        int n = utf8_seq(u, left, &cp);
        if (!n)
            return 0;
        u += n;
        left -= (size_t)n;
    }
    return 1;
}

/* A JSON string: the escapes jansson's dump_string makes (no flags). The
 * caller has checked utf8_valid. */
static void sb_jstr(sbuf *b, const char *s)
{
    sb_char(b, '"');
    const char *run = s;
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u >= 0x20 && u != '"' && u != '\\')
            continue;
        sb_put(b, run, (size_t)(c - run));
        run = c + 1;
        char seq[8];
        const char *t = seq;
        switch (u) {
        case '\\': t = "\\\\"; break;
        case '"': t = "\\\""; break;
        case '\b': t = "\\b"; break;
        case '\f': t = "\\f"; break;
        case '\n': t = "\\n"; break;
        case '\r': t = "\\r"; break;
        case '\t': t = "\\t"; break;
        default: snprintf(seq, sizeof seq, "\\u%04X", u); break;
        }
        sb_str(b, t);
    }
    sb_str(b, run);
    sb_char(b, '"');
}

/* "key": */
static void sb_key(sbuf *b, const char *k)
{
    sb_char(b, '"');
    sb_str(b, k);
    sb_put(b, "\":", 2);
}

/* A real as jansson's jsonp_dtostr formats it at precision 11 (see
 * hd_outputs_format_real). 0 when v is not finite (nothing written:
 * jansson has no value for it). */
static int sb_real(sbuf *b, double v)
{
    char t[40];
    int n = hd_outputs_format_real(t, v);
    if (n > 0)
        sb_put(b, t, (size_t)n);
    return n > 0;
}

/* a real the record needs: one jansson refused fails the record */
static void sb_real_req(sbuf *b, double v)
{
    if (!sb_real(b, v))
        b->bad = 1;
}

/* ,"key":real, omitted when not finite (jansson's json_real gave NULL) */
static void sb_opt_real(sbuf *b, const char *k, double v)
{
    if (!isfinite(v))
        return;
    sb_char(b, ',');
    sb_key(b, k);
    sb_real(b, v);
}

static void sb_int(sbuf *b, long long v)
{
    char t[24];
    int n = 24;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        t[--n] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        t[--n] = '-';
    sb_put(b, t + n, (size_t)(24 - n));
}

/* a string the record needs: invalid UTF-8 (jansson refused it) fails it */
static void sb_jstr_req(sbuf *b, const char *s)
{
    if (!utf8_valid(s)) {
        b->bad = 1;
        return;
    }
    sb_jstr(b, s);
}

/* The receivers of bit set `used` by id: ["a","b"] (ids jansson refused,
 * not UTF-8, left out as before). */
static void receivers_used(sbuf *b, const hd_station *st, int R, const hd_located *ev, uint64_t used)
{
    int n = ev->n_rx ? ev->n_rx : R, first = 1;
    sb_char(b, '[');
    for (int r = 0; r < n && r < 64; r++) {
        if (!(used >> r & 1))
            continue;
        const char *id = st[ev->n_rx ? ev->rx[r] : r].id;
        if (!utf8_valid(id))
            continue;
        if (!first)
            sb_char(b, ',');
        first = 0;
        sb_jstr(b, id);
    }
    sb_char(b, ']');
}

/* ,"key":{"probability":…,"semi_major_m":…,"semi_minor_m":…,"azimuth_deg":…},
 * omitted when a value is not finite */
static void ellipse_props(sbuf *b, const char *k, const double cov[3], double nu, double p)
{
    double a, m, az;
    hd_locate_ellipse(cov, nu, p, &a, &m, &az);
    if (!isfinite(p) || !isfinite(a) || !isfinite(m) || !isfinite(az))
        return;
    sb_char(b, ',');
    sb_key(b, k);
    sb_str(b, "{\"probability\":");
    sb_real(b, p);
    sb_str(b, ",\"semi_major_m\":");
    sb_real(b, a);
    sb_str(b, ",\"semi_minor_m\":");
    sb_real(b, m);
    sb_str(b, ",\"azimuth_deg\":");
    sb_real(b, az);
    sb_char(b, '}');
}

/* The properties shared by the GeoJSON point and the JSON lines, without
 * the closing brace (the GeoJSON point adds its "kind"). */
static void event_props(sbuf *b, const hd_station *st, int R, const hd_located *ev, const char *t)
{
    const hd_locate_result *r = &ev->res;
    sb_str(b, "{\"event\":");
    sb_int(b, (long long)ev->index);
    sb_str(b, ",\"time\":");
    sb_jstr(b, t);
    sb_str(b, ",\"frequency_hz\":");
    sb_real_req(b, ev->frequency_hz);
    sb_str(b, ",\"method\":");
    sb_jstr(b, hd_method_name(r->method));
    sb_str(b, ",\"status\":");
    sb_jstr(b, hd_loc_status_name(r->status));
    sb_str(b, ",\"receivers\":");
    receivers_used(b, st, R, ev, r->used);
    sb_str(b, ",\"n_receivers\":");
    sb_int(b, r->n_receivers);
    sb_str(b, ",\"n_pairs\":");
    sb_int(b, r->n_pairs);
    if (ev->why[0] && utf8_valid(ev->why)) {
        sb_str(b, ",\"why\":");
        sb_jstr(b, ev->why);
    }
    if (ev->uncalibrated) {
        sb_str(b, ",\"uncalibrated\":");
        receivers_used(b, st, R, ev, ev->uncalibrated);
    }
    if (r->status == HD_LOC_OK || r->status == HD_LOC_OUTSIDE) {
        sb_opt_real(b, "lat", r->lat);
        sb_opt_real(b, "lon", r->lon);
        sb_opt_real(b, "alt_m", r->alt);
        if (r->ambiguous) { /* the exactly determined case: the other crossing fits as well */
            sb_str(b, ",\"ambiguous\":true");
            sb_opt_real(b, "second_lat", r->lat2);
            sb_opt_real(b, "second_lon", r->lon2);
        }
        if (r->grown) {
            sb_str(b, ",\"region_grown\":");
            sb_int(b, r->grown);
        }
        if (isfinite(r->cov[0]) && isfinite(r->cov[1]) && isfinite(r->cov[2])) {
            sb_str(b, ",\"cov_enu_m2\":[");
            sb_real(b, r->cov[0]);
            sb_char(b, ',');
            sb_real(b, r->cov[1]);
            sb_char(b, ',');
            sb_real(b, r->cov[2]);
            sb_char(b, ']');
        }
        /* the predictive's shape: a Student-t with nu degrees of freedom
         * and the covariance above, or a Gaussian (nu 0) */
        sb_opt_real(b, "nu", r->nu);
        ellipse_props(b, "ellipse_68", r->cov, r->nu, 0.68);
        ellipse_props(b, "ellipse_95", r->cov, r->nu, 0.95);
        if (isfinite(r->gdop))
            sb_opt_real(b, "gdop", r->gdop);
        if (isfinite(r->crlb[0]))
            sb_opt_real(b, "crlb_m", sqrt(r->crlb[0] + r->crlb[2]));
        if (isfinite(r->chi2)) {
            sb_opt_real(b, "chi2", r->chi2);
            sb_str(b, ",\"dof\":");
            sb_int(b, r->dof);
        }
        if (isfinite(r->source_dbm))
            sb_opt_real(b, "source_dbm", r->source_dbm);
    }
}

/* what a failed write says when the file system is full ("" otherwise:
 * errno may be left over from elsewhere) */
static const char *full_disk(void)
{
    return errno == ENOSPC || errno == EDQUOT ? ": no space left on device" : "";
}

/* the record in b to f: an error when a value could not be written */
static int dump(sbuf *b, FILE *f)
{
    int rc = sb_flush(b, f);
    return rc == 0 ? 0 : hd_error(HD_EIO, "cannot write JSON%s", rc < 0 ? full_disk() : "");
}

/* Degrees with 8 decimals (about a millimetre), formatted through integers:
 * printf's exact decimal conversion was most of localize's time. */
static char *fmt_deg(char *p, double v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    double x = fabs(v) * 1e8;
    long long u;
    if (x < 9e15) { /* llround: x - its integer part is exact, halves away from zero */
        u = (long long)x;
        u += x - (double)u >= 0.5;
    } else {
        u = llround(x);
    }
    if (v < 0 && u)
        *p++ = '-';
    char d[24];
    int n = 0;
    long long w = u / 100000000LL;
    int f = (int)(u % 100000000LL);
    do
        d[n++] = (char)('0' + w % 10);
    while ((w /= 10) > 0);
    while (n)
        *p++ = d[--n];
    *p++ = '.';
    for (int k = 6; k >= 0; k -= 2, f /= 100)
        memcpy(p + k, pairs + 2 * (f % 100), 2);
    return p + 8;
}

typedef double outline[HD_ELLIPSE_VERTICES][2];

/* An outline's vertices formatted once for both maps: per vertex the
 * longitude's and the latitude's text */
typedef struct {
    char t[HD_ELLIPSE_VERTICES][2][24];
    unsigned char n[HD_ELLIPSE_VERTICES][2];
} ring_fmt;

static void ring_format(ring_fmt *rf, const outline ll)
{
    for (int k = 0; k < HD_ELLIPSE_VERTICES; k++)
        for (int c = 0; c < 2; c++) /* lon, lat */
            rf->n[k][c] = (unsigned char)(fmt_deg(rf->t[k][c], ll[k][1 - c]) - rf->t[k][c]);
}

/* A closed ring of lon/lat pairs: "[lon,lat],…" (GeoJSON) or "lon,lat,0 …" (KML) */
static void ring_text(sbuf *b, const ring_fmt *rf, int kml)
{
    if (sb_grow(b, (HD_ELLIPSE_VERTICES + 1) * 48) < 0)
        return;
    char *p = b->p + b->n;
    for (int i = 0; i <= HD_ELLIPSE_VERTICES; i++) {
        int k = i % HD_ELLIPSE_VERTICES; /* closed: the first vertex again */
        if (!kml) {
            if (i)
                *p++ = ',';
            *p++ = '[';
        }
        memcpy(p, rf->t[k][0], rf->n[k][0]);
        p += rf->n[k][0];
        *p++ = ',';
        memcpy(p, rf->t[k][1], rf->n[k][1]);
        p += rf->n[k][1];
        if (kml) {
            memcpy(p, ",0 ", 3);
            p += 3;
        } else {
            *p++ = ']';
        }
    }
    b->n = (size_t)(p - b->p);
}

/* ---- KML, laid out as libxml2's xmlTextWriter (indent 1) did ------------------------ */

/* Element text as xmlEncodeSpecialChars escapes it: & < > " and CR; and
 * the control characters XML 1.0 has no place for left out (libxml2 wrote
 * them, which made the file unreadable). */
static void sb_xml(sbuf *b, const char *s)
{
    const char *run = s;
    for (const char *c = s; *c; c++) {
        const char *t;
        switch (*c) {
        case '&': t = "&amp;"; break;
        case '<': t = "&lt;"; break;
        case '>': t = "&gt;"; break;
        case '"': t = "&quot;"; break;
        case '\r': t = "&#13;"; break;
        default:
            if ((unsigned char)*c >= 0x20 || *c == '\t' || *c == '\n')
                continue;
            t = "";
        }
        sb_put(b, run, (size_t)(c - run));
        sb_str(b, t);
        run = c + 1;
    }
    sb_str(b, run);
}

static void sb_indent(sbuf *b, int depth)
{
    if (sb_grow(b, (size_t)depth) < 0)
        return;
    memset(b->p + b->n, ' ', (size_t)depth);
    b->n += (size_t)depth;
}

/* an element that opens children: "  <name>\n" */
static void x_open(sbuf *b, int depth, const char *name)
{
    sb_indent(b, depth);
    sb_char(b, '<');
    sb_str(b, name);
    sb_put(b, ">\n", 2);
}

static void x_close(sbuf *b, int depth, const char *name)
{
    sb_indent(b, depth);
    sb_put(b, "</", 2);
    sb_str(b, name);
    sb_put(b, ">\n", 2);
}

/* an element of text: "  <name>text</name>\n" (text escaped) */
static void x_text(sbuf *b, int depth, const char *name, const char *text)
{
    sb_indent(b, depth);
    sb_char(b, '<');
    sb_str(b, name);
    sb_char(b, '>');
    sb_xml(b, text);
    sb_put(b, "</", 2);
    sb_str(b, name);
    sb_put(b, ">\n", 2);
}

static void kml_style(sbuf *b, const char *id, const char *line, const char *poly, const char *icon)
{
    sb_str(b, "  <Style id=\"");
    sb_str(b, id);
    sb_str(b, "\">\n");
    if (icon) {
        x_open(b, 3, "IconStyle");
        x_text(b, 4, "color", icon);
        x_close(b, 3, "IconStyle");
    }
    if (line) {
        x_open(b, 3, "LineStyle");
        x_text(b, 4, "color", line);
        x_text(b, 4, "width", "2");
        x_close(b, 3, "LineStyle");
    }
    if (poly) {
        x_open(b, 3, "PolyStyle");
        x_text(b, 4, "color", poly);
        x_close(b, 3, "PolyStyle");
    }
    x_close(b, 2, "Style");
}

/* An event's time (Google Earth's time slider) and frequency on its placemarks */
static void kml_when(sbuf *b, int depth, const hd_located *e, const char *t)
{
    char v[64];
    x_open(b, depth, "TimeStamp");
    x_text(b, depth + 1, "when", t);
    x_close(b, depth, "TimeStamp");
    x_open(b, depth, "ExtendedData");
    sb_indent(b, depth + 1);
    sb_str(b, "<Data name=\"frequency_hz\">\n");
    if (e->frequency_hz != 0 && fabs(e->frequency_hz) < 1e15 && e->frequency_hz == floor(e->frequency_hz))
        snprintf(v, sizeof v, "%lld", (long long)e->frequency_hz); /* what "%.0f" writes of a whole number */
    else
        snprintf(v, sizeof v, "%.0f", e->frequency_hz);
    x_text(b, depth + 2, "value", v);
    x_close(b, depth + 1, "Data");
    x_close(b, depth, "ExtendedData");
}

static void kml_point(sbuf *b, int depth, const char *name, const char *style, const char *desc, double lat,
                      double lon, const hd_located *e, const char *t_iso)
{
    char t[128];
    x_open(b, depth, "Placemark");
    x_text(b, depth + 1, "name", name);
    if (desc)
        x_text(b, depth + 1, "description", desc);
    if (e)
        kml_when(b, depth + 1, e, t_iso);
    snprintf(t, sizeof t, "#%s", style);
    x_text(b, depth + 1, "styleUrl", t);
    if (isfinite(lat) && isfinite(lon)) { /* a receiver on a bus has no fixed one */
        x_open(b, depth + 1, "Point");
        snprintf(t, sizeof t, "%.8f,%.8f,0", lon, lat);
        x_text(b, depth + 2, "coordinates", t);
        x_close(b, depth + 1, "Point");
    }
    x_close(b, depth, "Placemark");
}

static void kml_ellipse(sbuf *b, const hd_located *e, double p, const ring_fmt *ll, const char *t)
{
    char name[64];
    snprintf(name, sizeof name, "event %lld %.0f %%", (long long)e->index, p * 100);
    x_open(b, 4, "Placemark");
    x_text(b, 5, "name", name);
    kml_when(b, 5, e, t);
    x_text(b, 5, "styleUrl", p < 0.9 ? "#ellipse68" : "#ellipse95");
    x_open(b, 5, "Polygon");
    x_text(b, 6, "tessellate", "1");
    x_open(b, 6, "outerBoundaryIs");
    x_open(b, 7, "LinearRing");
    /* digits, signs, commas and spaces: nothing to escape */
    sb_indent(b, 8);
    sb_str(b, "<coordinates>");
    ring_text(b, ll, 1);
    sb_str(b, "</coordinates>\n");
    x_close(b, 7, "LinearRing");
    x_close(b, 6, "outerBoundaryIs");
    x_close(b, 5, "Polygon");
    x_close(b, 4, "Placemark");
}

static void kml_begin(sbuf *b, const hd_station *st, int R)
{
    sb_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n");
    x_open(b, 1, "Document");
    x_text(b, 2, "name", "heimdall localize");
    kml_style(b, "receiver", NULL, NULL, "ff00ffff");
    kml_style(b, "estimate", NULL, NULL, "ff0000ff");
    kml_style(b, "ellipse68", "ff0000ff", "400000ff", NULL);
    kml_style(b, "ellipse95", "ff00a5ff", "2000a5ff", NULL);
    x_open(b, 2, "Folder");
    x_text(b, 3, "name", "Receivers");
    for (int r = 0; r < R; r++)
        kml_point(b, 3, st[r].id, "receiver", st[r].name, st[r].lat, st[r].lon, NULL, NULL);
    x_close(b, 2, "Folder");
    x_open(b, 2, "Folder");
    x_text(b, 3, "name", "Events");
}

static void kml_event(sbuf *b, const hd_station *st, int R, const hd_located *e, const ring_fmt *ll68,
                      const ring_fmt *ll95, const char *t)
{
    char name[64], desc[512];
    snprintf(name, sizeof name, "event %lld", (long long)e->index);
    hd_located_summary(st, R, e, desc, sizeof desc);
    x_open(b, 3, "Folder");
    x_text(b, 4, "name", name);
    kml_point(b, 4, name, "estimate", desc, e->res.lat, e->res.lon, e, t);
    kml_ellipse(b, e, 0.68, ll68, t);
    kml_ellipse(b, e, 0.95, ll95, t);
    x_close(b, 3, "Folder");
}

static void kml_end(sbuf *b)
{
    x_close(b, 2, "Folder");
    x_close(b, 1, "Document");
    sb_str(b, "</kml>\n");
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

static int geojson_receivers(sbuf *b, FILE *f, const hd_station *st, int R, bbox *bb)
{
    int rc = 0;
    for (int r = 0; r < R; r++)
        bbox_add(bb, st[r].lat, st[r].lon);
    sb_str(b, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    if ((rc = dump(b, f)) < 0)
        return rc;
    for (int r = 0; r < R && rc == 0; r++) {
        if (r)
            sb_str(b, ",\n");
        if ((rc = dump(b, f)) < 0)
            return rc;
        /* a receiver without a fixed position (on a bus: placed per event)
         * has a null geometry (RFC 7946 3.2) */
        if (isfinite(st[r].lat) && isfinite(st[r].lon)) {
            sb_str(b, "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[");
            sb_real(b, st[r].lon);
            sb_char(b, ',');
            sb_real(b, st[r].lat);
            sb_str(b, "]},\"properties\":{\"kind\":\"receiver\",\"id\":");
        } else {
            sb_str(b, "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"kind\":\"receiver\",\"id\":");
        }
        sb_jstr_req(b, st[r].id);
        sb_str(b, ",\"name\":");
        sb_jstr_req(b, st[r].name);
        sb_str(b, ",\"driver\":");
        sb_jstr_req(b, hd_driver_name(st[r].driver));
        if (isfinite(st[r].alt_m)) {
            sb_str(b, ",\"alt_m\":");
            sb_real(b, st[r].alt_m);
        }
        sb_str(b, "}}");
        rc = dump(b, f);
    }
    return rc;
}

static int geojson_event(sbuf *b, FILE *f, const hd_station *st, int R, const hd_located *e, const ring_fmt *ll68,
                         const ring_fmt *ll95, const char *t)
{
    const hd_locate_result *r = &e->res;
    int located = r->status == HD_LOC_OK || r->status == HD_LOC_OUTSIDE;
    sb_str(b, ",\n");
    int rc = dump(b, f);
    if (rc < 0)
        return rc;
    sb_str(b, "{\"type\":\"Feature\",\"geometry\":");
    if (located) {
        sb_str(b, "{\"type\":\"Point\",\"coordinates\":[");
        sb_real_req(b, r->lon);
        sb_char(b, ',');
        sb_real_req(b, r->lat);
        sb_str(b, "]}");
    } else {
        sb_str(b, "null");
    }
    sb_str(b, ",\"properties\":");
    event_props(b, st, R, e, t);
    sb_str(b, ",\"kind\":\"estimate\"}}");
    rc = dump(b, f);
    for (int q = 0; located && q < 2 && rc == 0; q++) {
        sb_str(b, ",\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[");
        ring_text(b, q ? ll95 : ll68, 0);
        sb_str(b, "]]},\"properties\":");
        if ((rc = dump(b, f)) < 0)
            return rc;
        sb_str(b, q ? "{\"kind\":\"ellipse_95\",\"event\":" : "{\"kind\":\"ellipse_68\",\"event\":");
        sb_int(b, (long long)e->index);
        sb_str(b, q ? ",\"probability\":0.95,\"time\":" : ",\"probability\":0.68,\"time\":");
        sb_jstr(b, t);
        sb_str(b, ",\"frequency_hz\":");
        sb_real_req(b, e->frequency_hz);
        sb_str(b, "}}");
        rc = dump(b, f);
    }
    return rc;
}

struct hd_outputs_s {
    FILE *geojson, *kml, *jsonl;
    const hd_station *st;
    int R;
    sbuf b;
    bbox bb;
    ring_fmt rings[2];
};

void hd_outputs_free(hd_outputs *o)
{
    if (!o)
        return;
    free(o->b.p);
    free(o);
}

int hd_outputs_begin(hd_outputs **out, FILE *geojson, FILE *kml, FILE *jsonl, const hd_station *st, int R)
{
    int rc = 0;
    hd_outputs *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o)
        return HD_ENOMEM;
    o->geojson = geojson;
    o->kml = kml;
    o->jsonl = jsonl;
    o->st = st;
    o->R = R;
    o->bb = (bbox){INFINITY, INFINITY, -INFINITY, -INFINITY};
    if (kml) {
        kml_begin(&o->b, st, R);
        if (sb_flush(&o->b, kml) != 0)
            rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
    }
    if (geojson && rc == 0)
        rc = geojson_receivers(&o->b, geojson, st, R, &o->bb);
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
        ring_fmt *rf = o->rings; /* [0] 68 %, [1] 95 % */
        char t[40]; /* the event's time, once for every record */
        hd_time_format_iso8601(e->time_ns, t);
        if (located && (o->geojson || o->kml)) { /* each outline once, for both maps */
            hd_locate_ellipse_outline(r->lat, r->lon, r->cov, r->nu, 0.68, HD_ELLIPSE_VERTICES, ll68);
            hd_locate_ellipse_outline(r->lat, r->lon, r->cov, r->nu, 0.95, HD_ELLIPSE_VERTICES, ll95);
            bbox_add(&o->bb, r->lat, r->lon);
            for (int v = 0; v < HD_ELLIPSE_VERTICES; v++) /* the 95 % outline holds the 68 % one */
                bbox_add(&o->bb, ll95[v][0], ll95[v][1]);
            ring_format(&rf[0], ll68);
            ring_format(&rf[1], ll95);
        }
        if (o->geojson)
            rc = geojson_event(&o->b, o->geojson, o->st, o->R, e, &rf[0], &rf[1], t);
        if (rc == 0 && o->kml && located) {
            kml_event(&o->b, o->st, o->R, e, &rf[0], &rf[1], t);
            if (sb_flush(&o->b, o->kml) != 0)
                rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
        }
        if (rc == 0 && o->jsonl) {
            event_props(&o->b, o->st, o->R, e, t);
            sb_put(&o->b, "}\n", 2);
            rc = dump(&o->b, o->jsonl);
        }
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
    if (o->kml) {
        kml_end(&o->b);
        if (sb_flush(&o->b, o->kml) != 0)
            rc = hd_error(HD_EIO, "cannot write KML%s", full_disk());
    }
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
