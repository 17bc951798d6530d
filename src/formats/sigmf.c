/* SigMF metadata through jansson; raw ci16_le data. See sigmf.h. */
#include "formats/sigmf.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int num(json_t *o, const char *key, double *v)
{
    json_t *x = json_object_get(o, key);
    if (!x)
        return 0;
    if (!json_is_number(x))
        return -1;
    *v = json_number_value(x);
    return 1;
}

int hd_sigmf_meta_parse(hd_sigmf_meta *m, const char *json, size_t len)
{
    json_error_t err;
    int rc = 0;
    memset(m, 0, sizeof *m);
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return hd_error(HD_EFORMAT, "not JSON: line %d column %d: %s", err.line, err.column, err.text);
    json_t *g = json_object_get(root, "global");
    json_t *caps = json_object_get(root, "captures");
    if (!json_is_object(root) || !json_is_object(g)) {
        rc = hd_error(HD_EFORMAT, "no \"global\" object");
        goto done;
    }
    const char *dt = json_string_value(json_object_get(g, "core:datatype"));
    if (!dt || strcmp(dt, "ci16_le") != 0) {
        rc = hd_error(HD_EFORMAT, "core:datatype is %s%s%s: only ci16_le (complex int16, little-endian) is read",
                      dt ? "'" : "", dt ? dt : "missing", dt ? "'" : "");
        goto done;
    }
    if (num(g, "core:sample_rate", &m->sample_rate_hz) != 1 || !(m->sample_rate_hz > 0) ||
        m->sample_rate_hz > 1e10) {
        rc = hd_error(HD_EFORMAT, "core:sample_rate missing or not a positive number");
        goto done;
    }
    json_t *geo = json_object_get(g, "core:geolocation");
    if (geo) {
        json_t *c = json_object_get(geo, "coordinates");
        const char *type = json_string_value(json_object_get(geo, "type"));
        if (!type || strcmp(type, "Point") != 0 || !json_is_array(c) || json_array_size(c) < 2 ||
            json_array_size(c) > 3 || !json_is_number(json_array_get(c, 0)) ||
            !json_is_number(json_array_get(c, 1)) || (json_array_size(c) == 3 && !json_is_number(json_array_get(c, 2)))) {
            rc = hd_error(HD_EFORMAT, "core:geolocation is not a GeoJSON Point [lon, lat(, alt)]");
            goto done;
        }
        m->lon = json_number_value(json_array_get(c, 0));
        m->lat = json_number_value(json_array_get(c, 1));
        m->alt_m = json_array_size(c) == 3 ? json_number_value(json_array_get(c, 2)) : 0;
        if (fabs(m->lat) > 90 || fabs(m->lon) > 180) {
            rc = hd_error(HD_EFORMAT, "core:geolocation [%g, %g] is not on Earth", m->lon, m->lat);
            goto done;
        }
        m->has_geo = 1;
    } else {
        m->lat = m->lon = NAN;
    }
    const char *stn = json_string_value(json_object_get(g, "heimdall:station"));
    if (stn)
        hd_strlcpy(m->station, stn, sizeof m->station);
    if (!json_is_array(caps) || json_array_size(caps) < 1 || !json_is_object(json_array_get(caps, 0))) {
        rc = hd_error(HD_EFORMAT, "no capture segment in \"captures\"");
        goto done;
    }
    if (json_array_size(caps) > 1) {
        rc = hd_error(HD_EUNSUPPORTED, "%zu capture segments: one recording per file is read", json_array_size(caps));
        goto done;
    }
    json_t *c0 = json_array_get(caps, 0);
    if (num(c0, "core:frequency", &m->frequency_hz) != 1 || !(m->frequency_hz > 0)) {
        rc = hd_error(HD_EFORMAT, "captures[0] has no positive core:frequency");
        goto done;
    }
    const char *when = json_string_value(json_object_get(c0, "core:datetime"));
    if (!when || hd_time_parse_iso8601(when, &m->datetime_ns) < 0) {
        rc = hd_error(HD_EFORMAT, "captures[0] has no valid core:datetime (ISO 8601 UTC)");
        goto done;
    }
    json_t *x = json_object_get(g, "heimdall:event_time_ns");
    if (x && !json_is_integer(x)) {
        rc = hd_error(HD_EFORMAT, "heimdall:event_time_ns is not an integer");
        goto done;
    }
    m->event_time_ns = x ? (int64_t)json_integer_value(x)
                         : (m->datetime_ns >= 0 ? m->datetime_ns / 1000000000LL : 0) * 1000000000LL;
    x = json_object_get(c0, "heimdall:gps_ok");
    m->gps_ok = x ? json_is_true(x) : 1;
    x = json_object_get(c0, "heimdall:last_gps_solution_s");
    m->last_gps_solution_s = json_is_integer(x) ? (int)json_integer_value(x) : 0;
    m->clock_rate_hz = m->sample_rate_hz;
    if (num(c0, "heimdall:clock_rate_hz", &m->clock_rate_hz) < 0 || !(m->clock_rate_hz > 0)) {
        rc = hd_error(HD_EFORMAT, "heimdall:clock_rate_hz is not a positive number");
        goto done;
    }
done:
    json_decref(root);
    return rc;
}

int hd_sigmf_meta_format(const hd_sigmf_meta *m, char **out)
{
    char when[40];
    hd_time_format_iso8601(m->datetime_ns, when);
    json_t *root = json_pack("{s:{s:s,s:f,s:s,s:s,s:[{s:s,s:s,s:b}],s:s,s:I},s:[{s:i,s:f,s:s,s:b,s:i,s:f}],s:[]}",
                             "global", "core:datatype", "ci16_le", "core:sample_rate", m->sample_rate_hz,
                             "core:version", "1.0.0", "core:recorder", "heimdall", "core:extensions", "name",
                             "heimdall", "version", "1.0.0", "optional", 1, "heimdall:station", m->station,
                             "heimdall:event_time_ns", (json_int_t)m->event_time_ns, "captures",
                             "core:sample_start", 0, "core:frequency", m->frequency_hz, "core:datetime", when,
                             "heimdall:gps_ok", m->gps_ok, "heimdall:last_gps_solution_s", m->last_gps_solution_s,
                             "heimdall:clock_rate_hz", m->clock_rate_hz, "annotations");
    if (!root)
        return hd_error(HD_EINVAL, "cannot build the SigMF metadata");
    /* rates and times are written with 17 digits (they must read back
     * exactly); the position is rounded to 1e-7 degree (1 cm) and 1 mm and
     * written with 12 digits, so 11.434 reads 11.434, not 11.433999999999999:
     * jansson has one precision per dump, so the geolocation is dumped on its
     * own and put in place of a marker */
    static const char marker[] = "\"@heimdall-geolocation@\"";
    json_t *geo = NULL;
    if (m->has_geo && isfinite(m->lat) && isfinite(m->lon)) {
        double alt = isfinite(m->alt_m) ? round(m->alt_m * 1e3) / 1e3 : 0.0;
        geo = json_pack("{s:s,s:[f,f,f]}", "type", "Point", "coordinates", round(m->lon * 1e7) / 1e7,
                        round(m->lat * 1e7) / 1e7, alt);
        json_object_set_new(json_object_get(root, "global"), "core:geolocation", json_string("@heimdall-geolocation@"));
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    char *gtext = geo ? json_dumps(geo, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(root);
    json_decref(geo);
    *out = NULL;
    if (text && geo && gtext) {
        char *at = strstr(text, marker);
        size_t head = at ? (size_t)(at - text) : 0, ml = strlen(marker), gl = strlen(gtext);
        char *joined = at ? malloc(strlen(text) - ml + gl + 1) : NULL;
        if (joined) {
            memcpy(joined, text, head);
            memcpy(joined + head, gtext, gl);
            strcpy(joined + head + gl, at + ml);
        }
        free(text);
        text = joined;
    } else if (geo) {
        free(text);
        text = NULL;
    }
    free(gtext);
    *out = text;
    return *out ? 0 : hd_error(HD_ENOMEM, "out of memory formatting the SigMF metadata");
}

static void base_of(const char *path, char *base, size_t len)
{
    hd_strlcpy(base, path, len);
    size_t L = strlen(base);
    if (L > 11 && (strcmp(base + L - 11, ".sigmf-meta") == 0 || strcmp(base + L - 11, ".sigmf-data") == 0))
        base[L - 11] = 0;
}

int hd_sigmf_read(const char *path, hd_sigmf_meta *m, int16_t **iq, int64_t *n)
{
    char base[4096], p[4200], *text = NULL, *data = NULL;
    size_t len = 0, dlen = 0;
    *iq = NULL;
    *n = 0;
    base_of(path, base, sizeof base);
    snprintf(p, sizeof p, "%s.sigmf-meta", base);
    int rc = hd_read_file(p, &text, &len);
    if (rc < 0)
        return rc;
    rc = hd_sigmf_meta_parse(m, text, len);
    free(text);
    if (rc < 0)
        return hd_error_context(rc, "%s", p);
    snprintf(p, sizeof p, "%s.sigmf-data", base);
    if ((rc = hd_read_file(p, &data, &dlen)) < 0)
        return rc;
    if (dlen % 4 || dlen == 0 || dlen / 4 > HD_SIGMF_MAX_SAMPLES) {
        free(data);
        return hd_error(HD_EFORMAT, "%s: %zu bytes is not a whole number (1 to %d) of ci16 I/Q pairs", p, dlen,
                        HD_SIGMF_MAX_SAMPLES);
    }
    int16_t *q = hd_calloc(dlen / 2, sizeof *q);
    if (!q) {
        free(data);
        return HD_ENOMEM;
    }
    const unsigned char *b = (const unsigned char *)data;
    for (size_t i = 0; i < dlen / 2; i++)
        q[i] = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
    free(data);
    *iq = q;
    *n = (int64_t)(dlen / 4);
    return 0;
}

static int write_whole(const char *path, const void *buf, size_t len, int force)
{
    char tmp[4300];
    if (!force && access(path, F_OK) == 0)
        return hd_error(HD_EEXIST, "%s exists (use --force to overwrite)", path);
    const char *sl = strrchr(path, '/');
    int dl = sl ? (int)(sl - path + 1) : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%ld", dl, path, sl ? sl + 1 : path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return hd_error(HD_EIO, "cannot create %s: %s", tmp, strerror(errno));
    size_t w = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || w != len) {
        unlink(tmp);
        return hd_error(HD_EIO, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return hd_error(HD_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return 0;
}

int hd_sigmf_write(const char *base, const hd_sigmf_meta *m, const int16_t *iq, int64_t n, int force)
{
    char p[4200], *json = NULL;
    unsigned char *b = hd_malloc((size_t)n * 4 + 1);
    if (!b)
        return HD_ENOMEM;
    for (int64_t i = 0; i < 2 * n; i++) {
        uint16_t v = (uint16_t)iq[i];
        b[2 * i] = (unsigned char)v;
        b[2 * i + 1] = (unsigned char)(v >> 8);
    }
    int rc = hd_sigmf_meta_format(m, &json);
    if (rc == 0) {
        snprintf(p, sizeof p, "%s.sigmf-data", base);
        rc = write_whole(p, b, (size_t)n * 4, force);
    }
    if (rc == 0) {
        snprintf(p, sizeof p, "%s.sigmf-meta", base);
        rc = write_whole(p, json, strlen(json), force);
    }
    free(b);
    free(json);
    return rc;
}
