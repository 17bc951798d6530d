/* KiwiSDR protocol: SND frames, MSG key=value messages, capture assembly;
 * see kiwi.h. */
#include "net/kiwi.h"

#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPS_UNIX_EPOCH 315964800LL   /* 1980-01-06T00:00:00Z */
#define GPS_UTC_LEAP 18
#define GPS_WEEK 604800LL

static uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }

int hd_kiwi_parse_snd(const uint8_t *msg, size_t len, hd_kiwi_snd *out)
{
    memset(out, 0, sizeof *out);
    if (len < 3 || memcmp(msg, "SND", 3) != 0)
        return hd_error(HD_EDATA, "kiwisdr: binary frame is not SND");
    if (len < HD_KIWI_SND_HEADER + HD_KIWI_GPS_HEADER)
        return hd_error(HD_EDATA, "kiwisdr: SND frame of %zu bytes is shorter than its headers", len);
    out->flags = msg[3];
    out->seq = le32(msg + 4);
    out->rssi_dbm = 0.1 * (double)((unsigned)msg[8] << 8 | msg[9]) - 127.0;
    if (out->flags & HD_KIWI_FLAG_COMPRESSED)
        return hd_error(HD_EDATA, "kiwisdr: compressed SND frame in IQ mode");
    const uint8_t *g = msg + HD_KIWI_SND_HEADER;
    out->last_gps_solution = g[0];
    out->gps_sec = le32(g + 2);
    out->gps_nsec = le32(g + 6);
    if (out->gps_nsec >= 1000000000u)
        return hd_error(HD_EDATA, "kiwisdr: GPS nanoseconds %u out of range", out->gps_nsec);
    if (out->gps_sec >= (uint32_t)GPS_WEEK)
        return hd_error(HD_EDATA, "kiwisdr: GPS seconds of week %u out of range", out->gps_sec);
    size_t body = len - HD_KIWI_SND_HEADER - HD_KIWI_GPS_HEADER;
    if (body % 4)
        return hd_error(HD_EDATA, "kiwisdr: SND IQ payload of %zu bytes is not whole I/Q pairs", body);
    if (body / 4 > 4 * HD_KIWI_IQ_PAIRS)
        return hd_error(HD_EDATA, "kiwisdr: SND frame of %zu I/Q pairs (at most %d expected)", body / 4,
                        4 * HD_KIWI_IQ_PAIRS);
    out->iq_be = g + HD_KIWI_GPS_HEADER;
    out->n_pairs = (int)(body / 4);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* URL-decode src[0..n) into dst (size bytes, NUL-terminated, truncated). */
static void url_decode(char *dst, size_t size, const char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (src[i] == '%' && i + 2 < n && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = 0;
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int hd_kiwi_is_msg(const uint8_t *data, size_t len) { return len >= 3 && memcmp(data, "MSG", 3) == 0; }

const char *hd_kiwi_badp_text(int badp)
{
    switch (badp) {
    case HD_KIWI_BADP_OK: return "accepted";
    case HD_KIWI_BADP_TRY_AGAIN: return "wrong password";
    case HD_KIWI_BADP_STILL_DETERMINING_LOCAL_IP: return "the server is still determining its local address, try later";
    case HD_KIWI_BADP_NOT_ALLOWED_FROM_IP: return "not allowed from this address";
    case HD_KIWI_BADP_NO_ADMIN_PWD_SET: return "no admin password set";
    case HD_KIWI_BADP_NO_MULTIPLE_CONNS: return "one connection per address, and this address has one open";
    case HD_KIWI_BADP_DATABASE_UPDATE: return "a database update is in progress, try later";
    case HD_KIWI_BADP_ADMIN_CONN_OPEN: return "an admin connection is already open";
    default: return "refused";
    }
}

int hd_kiwi_handle_msg(hd_kiwi_state *st, const char *text, size_t len)
{
    if (len < 4 || memcmp(text, "MSG", 3) != 0)
        return 0;
    unsigned got = 0;
    size_t i = 3;
    while (i < len) {
        while (i < len && (text[i] == ' ' || text[i] == 0))
            i++;
        size_t s = i;
        while (i < len && text[i] != ' ' && text[i] != 0)
            i++;
        if (i == s)
            break;
        const char *eq = memchr(text + s, '=', i - s);
        char name[64], val[256];
        size_t nl = eq ? (size_t)(eq - (text + s)) : i - s;
        if (nl >= sizeof name)
            continue;
        memcpy(name, text + s, nl);
        name[nl] = 0;
        val[0] = 0;
        if (eq)
            url_decode(val, sizeof val, eq + 1, (size_t)(text + i - (eq + 1)));
        long x;
        if (strcmp(name, "audio_rate") == 0) {
            if (parse_int(val, 1000, 1000000, &x))
                return hd_error(HD_EDATA, "kiwisdr: absurd audio_rate '%s'", val);
            st->audio_rate = (int)x;
            got |= HD_KIWI_GOT_AUDIO_RATE;
        } else if (strcmp(name, "sample_rate") == 0) {
            char *end;
            double r = strtod(val, &end);
            if (end == val || !(r >= 1000 && r <= 1e6))
                return hd_error(HD_EDATA, "kiwisdr: absurd sample_rate '%s'", val);
            st->sample_rate = r;
            got |= HD_KIWI_GOT_SAMPLE_RATE;
        } else if (strcmp(name, "too_busy") == 0) {
            st->too_busy = parse_int(val, 0, 1000, &x) ? 0 : (int)x;
            got |= HD_KIWI_GOT_BUSY;
        } else if (strcmp(name, "badp") == 0) {
            st->badp = parse_int(val, 0, 1000, &x) ? HD_KIWI_BADP_TRY_AGAIN : (int)x;
            got |= st->badp == HD_KIWI_BADP_OK ? HD_KIWI_GOT_AUTH_OK : HD_KIWI_GOT_BADP;
        } else if (strcmp(name, "down") == 0) {
            st->down = parse_int(val, 0, 1000, &x) ? 0 : (int)x;
            got |= HD_KIWI_GOT_DOWN;
        } else if (strcmp(name, "reason_disabled") == 0) {
            hd_strlcpy(st->reason, val, sizeof st->reason);
        } else if (strcmp(name, "inactivity_timeout") == 0 || strcmp(name, "ip_limit") == 0 ||
                   strcmp(name, "kiwi_kick") == 0 || strcmp(name, "password_timeout") == 0 ||
                   strcmp(name, "exclusive_use") == 0 || strcmp(name, "wb_only") == 0) {
            if (strcmp(name, "inactivity_timeout") == 0)
                snprintf(st->ended, sizeof st->ended, "inactivity timeout after %.16s min (inactivity_timeout)", val);
            else if (strcmp(name, "ip_limit") == 0)
                snprintf(st->ended, sizeof st->ended, "24-hour time limit per address reached: %.48s (ip_limit)", val);
            else if (strcmp(name, "kiwi_kick") == 0)
                snprintf(st->ended, sizeof st->ended, "kicked by the server: %.80s (kiwi_kick)", val);
            else if (strcmp(name, "password_timeout") == 0)
                snprintf(st->ended, sizeof st->ended, "no password accepted in time (password_timeout)");
            else if (strcmp(name, "exclusive_use") == 0)
                snprintf(st->ended, sizeof st->ended, "locked for exclusive use (exclusive_use)");
            else
                snprintf(st->ended, sizeof st->ended, "a wideband-only server (wb_only)");
            got |= HD_KIWI_GOT_ENDED;
        } else if (strcmp(name, "redirect") == 0) {
            hd_strlcpy(st->redirect, val, sizeof st->redirect);
            got |= HD_KIWI_GOT_REDIRECT;
        } else if (strcmp(name, "version_maj") == 0 && !parse_int(val, 0, 1000, &x)) {
            st->version_major = (int)x;
            got |= HD_KIWI_GOT_VERSION;
        } else if (strcmp(name, "version_min") == 0 && !parse_int(val, 0, 100000, &x)) {
            st->version_minor = (int)x;
            got |= HD_KIWI_GOT_VERSION;
        }
    }
    st->got |= got;
    return (int)got;
}

static void put_pairs(hd_kiwi_capture *c, const uint8_t *be, int n)
{
    for (int k = 0; k < n && c->n_have < c->n_samples; k++, c->n_have++) {
        for (int j = 0; j < 2; j++) {
            int16_t v = be ? (int16_t)((uint16_t)be[4 * k + 2 * j] << 8 | be[4 * k + 2 * j + 1]) : 0;
            c->iq[2 * (size_t)c->n_have + (size_t)j] = v;
            c->clipped += v == INT16_MAX || v == INT16_MIN;
        }
    }
}

int hd_kiwi_capture_feed(hd_kiwi_capture *c, const hd_kiwi_snd *s)
{
    if (c->n_have >= c->n_samples)
        return 1;
    if (c->skip_first && c->n_skipped == 0 && c->n_frames == 0) {
        c->n_skipped = 1;
        return 0;
    }
    if (c->n_frames == 0) {
        c->first_last_gps = s->last_gps_solution;
        c->first_gps_sec = s->gps_sec;
        c->first_gps_nsec = s->gps_nsec;
    } else if ((int32_t)(s->seq - c->last_seq) <= 0) {
        /* a repeated (or older) sequence number: counted, its samples dropped */
        c->repeats++;
        return 0;
    } else if (s->seq != c->last_seq + 1) {
        uint32_t lost = s->seq - c->last_seq - 1;   /* wraps like the server's counter */
        c->gaps++;
        c->missing_frames += lost;
        /* zero-fill at most the rest of the capture */
        int64_t fill = (int64_t)lost * s->n_pairs;
        if (fill > c->n_samples - c->n_have)
            fill = c->n_samples - c->n_have;
        for (int64_t k = 0; k < fill; k++)
            put_pairs(c, NULL, 1);
    }
    c->last_seq = s->seq;
    c->n_frames++;
    c->rssi_sum += s->rssi_dbm;
    put_pairs(c, s->iq_be, s->n_pairs);
    return c->n_have >= c->n_samples;
}

double hd_kiwi_gps_t0(uint32_t gps_sec, uint32_t gps_nsec, int64_t event_time_ns)
{
    /* GPS nanoseconds since the GPS epoch at the event (integers: a double
     * of ~1e18 ns would lose the nanoseconds), then the nearest week */
    int64_t ev_gps_ns = event_time_ns - GPS_UNIX_EPOCH * 1000000000LL + GPS_UTC_LEAP * 1000000000LL;
    int64_t week = (int64_t)floor(((double)ev_gps_ns * 1e-9 - (double)gps_sec) / (double)GPS_WEEK + 0.5);
    int64_t t_ns = week * GPS_WEEK * 1000000000LL + (int64_t)gps_sec * 1000000000LL + (int64_t)gps_nsec;
    return (double)(t_ns - ev_gps_ns) * 1e-9;
}

int64_t hd_kiwi_gps_unix_ns(uint32_t gps_sec, uint32_t gps_nsec, int64_t near_ns)
{
    double t0 = hd_kiwi_gps_t0(gps_sec, gps_nsec, near_ns);
    int64_t near_s = near_ns / 1000000000LL;
    /* whole seconds exactly, then the nanoseconds */
    int64_t ws = near_s + (int64_t)llround(t0 + (double)(near_ns - near_s * 1000000000LL) * 1e-9 - (double)gps_nsec * 1e-9);
    return ws * 1000000000LL + (int64_t)gps_nsec;
}

/* A whole decimal integer in [lo, hi] (trailing blanks allowed). */
static int status_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (end != v && (*end == ' ' || *end == '\t'))
        end++;
    if (end == v || *end || errno || x < lo || x > hi)
        return -1;
    *out = (int)x;
    return 0;
}

/* Free text: copied with control characters (and bytes a terminal would
 * act on) replaced by '?', so a hostile page cannot move the cursor. */
static void status_text(char *dst, size_t size, const char *v)
{
    size_t o = 0;
    for (; *v && o + 1 < size; v++)
        dst[o++] = ((unsigned char)*v < 0x20 || *v == 0x7f) ? '?' : *v;
    dst[o] = 0;
}

/* gps=(lat, lon), parentheses optional. */
static int status_position(const char *v, double *lat, double *lon)
{
    while (*v == ' ')
        v++;
    int paren = *v == '(';
    if (paren)
        v++;
    char *end;
    double a = strtod(v, &end);
    if (end == v)
        return -1;
    v = end;
    while (*v == ' ')
        v++;
    if (*v != ',')
        return -1;
    v++;
    double b = strtod(v, &end);
    if (end == v)
        return -1;
    v = end;
    while (*v == ' ')
        v++;
    if (paren && *v++ != ')')
        return -1;
    while (*v == ' ')
        v++;
    if (*v || !(a >= -90 && a <= 90) || !(b >= -180 && b <= 180))
        return -1;
    *lat = a;
    *lon = b;
    return 0;
}

int hd_kiwi_parse_status(const char *text, size_t len, hd_kiwi_status *out)
{
    memset(out, 0, sizeof *out);
    out->users = out->users_max = out->gps_good = out->fixes = out->fixes_min = -1;
    out->version_major = out->version_minor = -1;
    out->asl_m = INT_MIN;
    if (len > HD_KIWI_STATUS_MAX)
        return hd_error(HD_EDATA, "kiwisdr: /status page of %zu bytes (at most %u)", len, HD_KIWI_STATUS_MAX);
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t e = i++;
        if (e > s && text[e - 1] == '\r')
            e--;
        const char *eq = memchr(text + s, '=', e - s);
        if (!eq)
            continue;
        char name[32], val[256];
        size_t nl = (size_t)(eq - (text + s)), vl = e - (size_t)(eq + 1 - text);
        if (nl == 0 || nl >= sizeof name)
            continue;
        memcpy(name, text + s, nl);
        name[nl] = 0;
        if (vl >= sizeof val)
            vl = sizeof val - 1;   /* long free text: truncated */
        memcpy(val, eq + 1, vl);
        val[vl] = 0;
        if (memchr(val, 0, vl))
            return hd_error(HD_EDATA, "kiwisdr: /status line '%s' holds a NUL byte", name);
        int known = 1;
        if (strcmp(name, "users") == 0) {
            if (status_int(val, 0, HD_KIWI_MAX_USERS, &out->users))
                return hd_error(HD_EDATA, "kiwisdr: absurd /status users '%.32s'", val);
        } else if (strcmp(name, "users_max") == 0) {
            if (status_int(val, 0, HD_KIWI_MAX_USERS, &out->users_max))
                return hd_error(HD_EDATA, "kiwisdr: absurd /status users_max '%.32s'", val);
        } else if (strcmp(name, "gps_good") == 0) {
            if (status_int(val, 0, 1000, &out->gps_good))
                return hd_error(HD_EDATA, "kiwisdr: absurd /status gps_good '%.32s'", val);
        } else if (strcmp(name, "fixes") == 0) {
            if (status_int(val, 0, INT_MAX, &out->fixes))
                return hd_error(HD_EDATA, "kiwisdr: absurd /status fixes '%.32s'", val);
        } else if (strcmp(name, "fixes_min") == 0) {
            if (status_int(val, 0, INT_MAX, &out->fixes_min))
                return hd_error(HD_EDATA, "kiwisdr: absurd /status fixes_min '%.32s'", val);
        } else if (strcmp(name, "asl") == 0) {
            if (status_int(val, -1000, 10000, &out->asl_m))
                out->asl_m = INT_MIN;   /* not set by the operator: unknown, not an error */
        } else if (strcmp(name, "gps") == 0) {
            out->has_position = 0;
            if (status_position(val, &out->lat, &out->lon) == 0)
                out->has_position = 1;
            else if (val[0] && strspn(val, " ") != strlen(val) && strcmp(val, "()") != 0)
                return hd_error(HD_EDATA, "kiwisdr: /status gps '%.40s' is not (lat, lon) on the globe", val);
        } else if (strcmp(name, "offline") == 0) {
            out->offline = strcmp(val, "yes") == 0;
        } else if (strcmp(name, "status") == 0) {
            status_text(out->status, sizeof out->status, val);
            if (strcmp(val, "offline") == 0)
                out->offline = 1;
        } else if (strcmp(name, "auth") == 0) {
            out->auth_password = strcmp(val, "password") == 0;
        } else if (strcmp(name, "sw_version") == 0) {
            status_text(out->sw_version, sizeof out->sw_version, val);
            const char *v = strstr(val, "_v");
            if (v && v[2] >= '0' && v[2] <= '9') {
                char *dot;
                long maj = strtol(v + 2, &dot, 10);
                if (*dot == '.' && dot[1] >= '0' && dot[1] <= '9') {
                    long min = strtol(dot + 1, NULL, 10);
                    if (maj < 1000 && min < 100000) {
                        out->version_major = (int)maj;
                        out->version_minor = (int)min;
                    }
                }
            }
        } else if (strcmp(name, "loc") == 0) {
            status_text(out->loc, sizeof out->loc, val);
        } else if (strcmp(name, "antenna") == 0) {
            status_text(out->antenna, sizeof out->antenna, val);
        } else {
            known = 0;
        }
        out->n_keys += known;
    }
    if (!out->n_keys)
        return hd_error(HD_EDATA, "kiwisdr: not a KiwiSDR /status page (no known key)");
    return 0;
}
