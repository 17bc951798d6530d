/* OpenWebRX protocol: handshake, JSON messages, binary frame types, the
 * S-meter level series; see owrx.h. */
#include "net/owrx.h"

#include "core/error.h"
#include "core/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define HELLO_REPLY "CLIENT DE SERVER"

/* The handshake reply: "CLIENT DE SERVER server=openwebrx version=v1.2.3". */
static int handle_hello(hd_owrx_state *st, const char *text, size_t len)
{
    int is_owrx = 0;
    size_t i = sizeof HELLO_REPLY - 1;
    while (i < len) {
        while (i < len && text[i] == ' ')
            i++;
        size_t s = i;
        while (i < len && text[i] != ' ')
            i++;
        size_t n = i - s;
        if (n == 16 && !memcmp(text + s, "server=openwebrx", 16)) {
            is_owrx = 1;
        } else if (n > 8 && !memcmp(text + s, "version=", 8)) {
            size_t vl = n - 8;
            if (vl >= sizeof st->version)
                return hd_error(HD_EDATA, "openwebrx: version of %zu characters in the handshake", vl);
            for (size_t k = 0; k < vl; k++)
                if ((unsigned char)text[s + 8 + k] < 0x21 || (unsigned char)text[s + 8 + k] > 0x7e)
                    return hd_error(HD_EDATA, "openwebrx: unprintable version in the handshake");
            memcpy(st->version, text + s + 8, vl);
            st->version[vl] = 0;
        }
    }
    if (!is_owrx)
        return hd_error(HD_EDATA, "openwebrx: the handshake reply does not say server=openwebrx");
    st->got |= HD_OWRX_GOT_HELLO;
    return HD_OWRX_GOT_HELLO;
}

/* A number member: 0 set, 1 absent or null, HD_EDATA when not a finite
 * number within [lo, hi]. */
static int get_num(json_t *o, const char *key, double lo, double hi, double *v, const char *what)
{
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x))
        return 1;
    if (!json_is_number(x))
        return hd_error(HD_EDATA, "openwebrx: %s %s is not a number", what, key);
    double d = json_number_value(x);
    if (!isfinite(d) || d < lo || d > hi)
        return hd_error(HD_EDATA, "openwebrx: absurd %s %s %g", what, key, d);
    *v = d;
    return 0;
}

static void copy_reason(hd_owrx_state *st, json_t *x)
{
    const char *s = json_is_string(x) ? json_string_value(x) : "";
    size_t o = 0;
    for (; *s && o + 1 < sizeof st->reason; s++)
        st->reason[o++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    st->reason[o] = 0;
}

static int handle_json(hd_owrx_state *st, json_t *m)
{
    int rc;
    double v;
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!type)
        return 0;   /* the server's own clients ignore such messages too */
    json_t *val = json_object_get(m, "value");
    if (!strcmp(type, "smeter")) {
        if (!json_is_number(val))
            return hd_error(HD_EDATA, "openwebrx: smeter value is not a number");
        v = json_number_value(val);
        if (!isfinite(v) || v < 0 || v > HD_OWRX_MAX_SMETER)
            return hd_error(HD_EDATA, "openwebrx: absurd smeter value %g", v);
        st->smeter = v;
        st->smeter_db = v > 1e-30 ? 10.0 * log10(v) : HD_OWRX_MIN_DB;
        st->n_smeter++;
        return HD_OWRX_GOT_SMETER;
    }
    if (!strcmp(type, "config")) {
        if (!json_is_object(val))
            return hd_error(HD_EDATA, "openwebrx: config value is not an object");
        int got = HD_OWRX_GOT_CONFIG;
        if ((rc = get_num(val, "center_freq", 1.0, 1e12, &v, "config")) < 0)
            return rc;
        if (rc == 0) {
            if (st->center_freq_hz > 0 && v != st->center_freq_hz)
                got |= HD_OWRX_GOT_RETUNE;
            st->center_freq_hz = v;
        }
        if ((rc = get_num(val, "samp_rate", 1.0, 1e10, &v, "config")) < 0)
            return rc;
        if (rc == 0) {
            if (st->samp_rate_hz > 0 && v != st->samp_rate_hz)
                got |= HD_OWRX_GOT_RETUNE;
            st->samp_rate_hz = v;
        }
        const char *sdr = json_string_value(json_object_get(val, "sdr_id")),
                   *prof = json_string_value(json_object_get(val, "profile_id"));
        size_t ls = sdr ? strlen(sdr) : 0, lp = prof ? strlen(prof) : 0;
        if (sdr && prof && ls + lp + 2 <= sizeof st->current) {
            memcpy(st->current, sdr, ls);
            st->current[ls] = '|';
            memcpy(st->current + ls + 1, prof, lp + 1);
        }
        return got;
    }
    if (!strcmp(type, "receiver_details")) {
        if (!json_is_object(val))
            return hd_error(HD_EDATA, "openwebrx: receiver_details value is not an object");
        json_t *g = json_object_get(val, "receiver_gps");
        int got = HD_OWRX_GOT_DETAILS;
        if (g && !json_is_null(g)) {
            double lat = NAN, lon = NAN;
            int a, b;
            if (json_is_array(g)) { /* older servers: [lat, lon] */
                json_t *o = json_pack("{s:O?, s:O?}", "lat", json_array_get(g, 0), "lon", json_array_get(g, 1));
                if (!o || json_array_size(g) != 2) {
                    json_decref(o);
                    return hd_error(HD_EDATA, "openwebrx: receiver_gps is a list of %zu, not [lat, lon]",
                                    json_array_size(g));
                }
                a = get_num(o, "lat", -90, 90, &lat, "receiver_gps");
                b = a < 0 ? 0 : get_num(o, "lon", -180, 180, &lon, "receiver_gps");
                json_decref(o);
            } else if (json_is_object(g)) {
                a = get_num(g, "lat", -90, 90, &lat, "receiver_gps");
                b = a < 0 ? 0 : get_num(g, "lon", -180, 180, &lon, "receiver_gps");
            } else {
                return hd_error(HD_EDATA, "openwebrx: receiver_gps is neither {lat, lon} nor [lat, lon]");
            }
            if (a < 0)
                return a;
            if (b < 0)
                return b;
            if (a == 0 && b == 0) {
                st->gps_lat = lat;
                st->gps_lon = lon;
                got |= HD_OWRX_GOT_GPS;
            }
        }
        return got;
    }
    if (!strcmp(type, "profiles")) {
        if (!json_is_array(val))
            return hd_error(HD_EDATA, "openwebrx: profiles value is not a list");
        st->n_profiles = 0;
        size_t i;
        json_t *p;
        json_array_foreach(val, i, p)
        {
            const char *id = json_string_value(json_object_get(p, "id"));
            if (!id || !id[0] || strlen(id) >= HD_OWRX_PROFILE_LEN || strchr(id, '"') || strchr(id, '\\'))
                continue; /* not one we could ask for */
            if (st->n_profiles < HD_OWRX_MAX_PROFILES)
                hd_strlcpy(st->profiles[st->n_profiles++], id, HD_OWRX_PROFILE_LEN);
        }
        return HD_OWRX_GOT_PROFILES;
    }
    if (!strcmp(type, "clients")) {
        if (!json_is_number(val))
            return hd_error(HD_EDATA, "openwebrx: clients value is not a number");
        v = json_number_value(val);
        if (!isfinite(v) || v < 0 || v > HD_OWRX_MAX_USERS || v != floor(v))
            return hd_error(HD_EDATA, "openwebrx: absurd clients count %g", v);
        st->users = (int)v;
        return HD_OWRX_GOT_CLIENTS;
    }
    if (!strcmp(type, "backoff")) {
        copy_reason(st, json_object_get(m, "reason"));
        return HD_OWRX_GOT_BACKOFF;
    }
    if (!strcmp(type, "sdr_error")) {
        copy_reason(st, val);
        return HD_OWRX_GOT_SDR_ERROR;
    }
    return 0;
}

int hd_owrx_handle_text(hd_owrx_state *st, const char *text, size_t len)
{
    if (len > HD_OWRX_MAX_TEXT)
        return hd_error(HD_EDATA, "openwebrx: text message of %zu bytes (at most %u)", len, HD_OWRX_MAX_TEXT);
    if (len >= sizeof HELLO_REPLY - 1 && !memcmp(text, HELLO_REPLY, sizeof HELLO_REPLY - 1))
        return handle_hello(st, text, len);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (i == len || text[i] != '{')
        return hd_error(HD_EDATA, "openwebrx: text message is neither the handshake nor a JSON object");
    json_error_t err;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!m)
        return hd_error(HD_EDATA, "openwebrx: malformed JSON message (%s at %d)", err.text, err.position);
    int rc = json_is_object(m) ? handle_json(st, m)
                               : hd_error(HD_EDATA, "openwebrx: JSON message is not an object");
    json_decref(m);
    if (rc > 0)
        st->got |= (unsigned)rc;
    return rc;
}

int hd_owrx_handle_binary(hd_owrx_state *st, const uint8_t *msg, size_t len)
{
    if (len < 1)
        return hd_error(HD_EDATA, "openwebrx: empty binary message (no type byte)");
    int got = 0;
    switch (msg[0]) {
    case 1:
        st->n_fft++;
        got = HD_OWRX_GOT_FFT;
        break;
    case 2:
    case 4:
        st->n_audio++;
        got = HD_OWRX_GOT_AUDIO;
        break;
    default:
        st->n_other++;
        break;
    }
    st->got |= (unsigned)got;
    return got;
}

int hd_owrx_covers(const hd_owrx_state *st, double frequency_hz)
{
    return st->center_freq_hz > 0 && st->samp_rate_hz > 0 && fabs(frequency_hz - st->center_freq_hz) <= st->samp_rate_hz / 2;
}

int hd_owrx_select_json(const hd_owrx_state *st, int i, char *out, size_t size)
{
    if (i < 0 || i >= st->n_profiles)
        return hd_error(HD_EINVAL, "openwebrx: no profile %d", i);
    int n = snprintf(out, size, "{\"type\":\"selectprofile\",\"params\":{\"profile\":\"%s\"}}", st->profiles[i]);
    if (n < 0 || (size_t)n >= size)
        return hd_error(HD_EINVAL, "openwebrx: selectprofile message does not fit %zu bytes", size);
    return 0;
}

int hd_owrx_tune_json(const hd_owrx_state *st, double frequency_hz, const char *mod, double passband_hz, char *out,
                      size_t size)
{
    if (!(st->center_freq_hz > 0) || !(st->samp_rate_hz > 0))
        return hd_error(HD_EINVAL, "openwebrx: the server has not announced its center frequency and sample rate");
    double off = frequency_hz - st->center_freq_hz;
    if (!isfinite(off) || fabs(off) > st->samp_rate_hz / 2)
        return hd_error(HD_EINVAL,
                        "openwebrx: %.6f MHz is outside the receiver's band %.6f-%.6f MHz (select a profile that "
                        "covers it)",
                        frequency_hz / 1e6, (st->center_freq_hz - st->samp_rate_hz / 2) / 1e6,
                        (st->center_freq_hz + st->samp_rate_hz / 2) / 1e6);
    int h = (int)lround(passband_hz / 2);
    int n = snprintf(out, size,
                     "{\"type\":\"dspcontrol\",\"params\":{\"offset_freq\":%lld,\"mod\":\"%s\",\"low_cut\":%d,"
                     "\"high_cut\":%d,\"squelch_level\":-150}}",
                     (long long)llround(off), mod, -h, h);
    if (n < 0 || (size_t)n >= size)
        return hd_error(HD_EINVAL, "openwebrx: dspcontrol message does not fit %zu bytes", size);
    return 0;
}

int hd_owrx_levels_feed(hd_owrx_levels *lv, double db, int64_t t_ns)
{
    if (lv->n_have >= lv->n_levels)
        return 1;
    lv->levels[lv->n_have] = (float)db;
    lv->t_ns[lv->n_have] = t_ns;
    lv->n_have++;
    return lv->n_have >= lv->n_levels;
}

int hd_owrx_levels_finish(hd_owrx_levels *lv, double rate_hz)
{
    int k = lv->n_have, L = lv->n_levels;
    if (k <= 0)
        return hd_error(HD_EDATA, "openwebrx: no S-meter message received");
    if (k >= L)
        return 0;
    /* downwards: level l reads message j <= l, not yet overwritten */
    int64_t t0 = lv->t_ns[0];
    int j = k - 1;
    for (int l = L - 1; l >= 0; l--) {
        int64_t start = t0 + (int64_t)llround((double)l / rate_hz * 1e9);
        while (j > 0 && lv->t_ns[j] > start)
            j--;
        if (j > l)
            j = l;
        lv->levels[l] = lv->levels[j];
    }
    lv->held = 1;
    return 0;
}

double hd_owrx_levels_rate(const hd_owrx_levels *lv)
{
    if (lv->n_have < 2)
        return 0;
    int64_t dt = lv->t_ns[lv->n_have - 1] - lv->t_ns[0];
    return dt > 0 ? (double)(lv->n_have - 1) / ((double)dt * 1e-9) : INFINITY;
}
