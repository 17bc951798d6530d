/* The public KiwiSDR list and gnss_pos files (see kiwilist.h). */
#include "formats/kiwilist.h"
#include "core/error.h"
#include "core/util.h"
#include "formats/kiwiwav.h"
#include "geo/geo.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void listing_init(hd_kiwi_listing *l)
{
    memset(l, 0, sizeof *l);
    l->lat = l->lon = l->asl_m = NAN;
    l->gps_good = l->fixes_min = l->users = l->users_max = l->offline = -1;
    l->fixes = -1;
}

/* "(lat, lon)", "lat, lon" or "lat lon" */
static int parse_gps(const char *s, double *lat, double *lon)
{
    while (*s == ' ' || *s == '(')
        s++;
    char *e;
    double la = strtod(s, &e);
    if (e == s)
        return -1;
    while (*e == ' ' || *e == ',')
        e++;
    char *e2;
    double lo = strtod(e, &e2);
    if (e2 == e || !isfinite(la) || !isfinite(lo) || fabs(la) > 90 || fabs(lo) > 180)
        return -1;
    *lat = la;
    *lon = lo;
    return 0;
}

static long parse_long(const char *s, long bad)
{
    char *e;
    while (*s == ' ')
        s++;
    long v = strtol(s, &e, 10);
    return e == s ? bad : v;
}

/* One field of an entry, by name; the value as text. */
static void set_field(hd_kiwi_listing *l, const char *key, const char *val)
{
#define STR(k, dst) else if (strcmp(key, k) == 0) hd_strlcpy(dst, val, sizeof dst)
    if (0) {
    }
    STR("name", l->name);
    STR("url", l->url);
    STR("tdoa_id", l->tdoa_id);
    STR("loc", l->loc);
    STR("antenna", l->antenna);
    STR("bands", l->bands);
    STR("sdr_hw", l->sdr_hw);
    STR("sw_version", l->sw_version);
    STR("status", l->status);
    else if (strcmp(key, "gps") == 0) {
        if (parse_gps(val, &l->lat, &l->lon) < 0)
            l->lat = l->lon = NAN;
    } else if (strcmp(key, "asl") == 0) {
        char *e;
        double v = strtod(val, &e);
        l->asl_m = e != val && isfinite(v) ? v : NAN;
    } else if (strcmp(key, "gps_good") == 0)
        l->gps_good = (int)parse_long(val, -1);
    else if (strcmp(key, "fixes") == 0)
        l->fixes = parse_long(val, -1);
    else if (strcmp(key, "fixes_min") == 0)
        l->fixes_min = (int)parse_long(val, -1);
    else if (strcmp(key, "users") == 0)
        l->users = (int)parse_long(val, -1);
    else if (strcmp(key, "users_max") == 0)
        l->users_max = (int)parse_long(val, -1);
    else if (strcmp(key, "offline") == 0)
        l->offline = strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0 ? 1
                     : val[0] ? 0
                              : -1;
#undef STR
}

static void finish(hd_kiwi_listing *l)
{
    /* trim blanks around the text fields */
    char *fields[] = {l->name, l->url, l->tdoa_id, l->loc, l->antenna, l->bands, l->status};
    for (size_t i = 0; i < HD_ARRAY_LEN(fields); i++) {
        char *s = fields[i], *b = s;
        while (*b && isspace((unsigned char)*b))
            b++;
        memmove(s, b, strlen(b) + 1);
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            s[--n] = '\0';
    }
    if (!l->url[0])
        snprintf(l->skip, sizeof l->skip, "no url");
    else if (!isfinite(l->lat))
        snprintf(l->skip, sizeof l->skip, "no readable position (gps field)");
    else if (l->lat == 0 && l->lon == 0)
        snprintf(l->skip, sizeof l->skip, "no position set (listed at 0, 0)");
}

typedef struct {
    hd_kiwi_listing *v;
    int n, cap;
} list_buf;

static hd_kiwi_listing *push(list_buf *b)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        hd_kiwi_listing *nv = realloc(b->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return NULL;
        b->v = nv;
        b->cap = cap;
    }
    hd_kiwi_listing *l = &b->v[b->n++];
    listing_init(l);
    return l;
}

/* ---- JSON and its JavaScript wrapper ------------------------------------------- */

/* The slice from start to its last closing bracket, without the commas
 * that JavaScript allows before a closing bracket. */
static char *clean_js(const char *start, const char *end, size_t *out_len)
{
    char *o = malloc((size_t)(end - start) + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    int in_str = 0;
    for (const char *p = start; p < end; p++) {
        char c = *p;
        if (in_str) {
            o[n++] = c;
            if (c == '\\' && p + 1 < end)
                o[n++] = *++p;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        if (c == ']' || c == '}') {
            size_t k = n;
            while (k && isspace((unsigned char)o[k - 1]))
                k--;
            if (k && o[k - 1] == ',')
                o[k - 1] = ' ';
        }
        o[n++] = c;
    }
    o[n] = '\0';
    *out_len = n;
    return o;
}

static int from_json_array(const json_t *arr, list_buf *b)
{
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_object(e))
            continue;
        hd_kiwi_listing *l = push(b);
        if (!l)
            return hd_error(HD_ENOMEM, "out of memory");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)e, key, v)
        {
            char num[64];
            const char *s = NULL;
            if (json_is_string(v))
                s = json_string_value(v);
            else if (json_is_integer(v))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), s = num;
            else if (json_is_real(v))
                snprintf(num, sizeof num, "%.17g", json_real_value(v)), s = num;
            else if (json_is_boolean(v))
                s = json_is_true(v) ? "yes" : "no";
            if (s)
                set_field(l, key, s);
        }
        finish(l);
    }
    return 0;
}

static int parse_json(const char *text, size_t len, const char *what, list_buf *b)
{
    const char *end = text + len, *p = text;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p < end && *p != '[' && *p != '{') {
        /* JavaScript: var x = [...]; */
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return hd_error(HD_EFORMAT, "%s: not a KiwiSDR list (no JSON, no 'var ... = [', no <!-- key=value --> entries)",
                            what);
        p = eq + 1;
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end || (*p != '[' && *p != '{'))
            return hd_error(HD_EFORMAT, "%s: no '[' after '='", what);
    }
    char close = *p == '[' ? ']' : '}';
    const char *q = end;
    while (q > p && q[-1] != close)
        q--;
    if (q == p)
        return hd_error(HD_EFORMAT, "%s: the list is not closed (no '%c')", what, close);
    size_t n;
    char *clean = clean_js(p, q, &n);
    if (!clean)
        return hd_error(HD_ENOMEM, "out of memory");
    json_error_t err;
    json_t *root = json_loadb(clean, n, 0, &err);
    free(clean);
    if (!root)
        return hd_error(HD_EFORMAT, "%s: malformed list: %s (line %d of the list)", what, err.text, err.line);
    const json_t *arr = root;
    if (json_is_object(root)) {
        arr = NULL;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) if (!arr && json_is_array(v)) arr = v;
    }
    int rc = 0;
    if (!arr || !json_is_array(arr))
        rc = hd_error(HD_EFORMAT, "%s: no array of receivers in the JSON", what);
    else
        rc = from_json_array(arr, b);
    json_decref(root);
    return rc;
}

/* ---- the HTML page -------------------------------------------------------------- */

static void html_unescape(char *s)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
    char *o = s;
    for (const char *p = s; *p;) {
        int done = 0;
        if (*p == '&') {
            for (size_t i = 0; i < HD_ARRAY_LEN(ents) && !done; i++) {
                size_t k = strlen(ents[i].ent);
                if (strncmp(p, ents[i].ent, k) == 0) {
                    *o++ = ents[i].c;
                    p += k;
                    done = 1;
                }
            }
            if (!done && p[1] == '#' && isdigit((unsigned char)p[2])) {
                char *e;
                long cp = strtol(p + 2, &e, 10);
                if (*e == ';' && cp > 0 && cp < 128) {
                    *o++ = (char)cp;
                    p = e + 1;
                    done = 1;
                }
            }
        }
        if (!done)
            *o++ = *p++;
    }
    *o = '\0';
}

/* The last href="http..." before pos. */
static void last_href(const char *text, const char *pos, char *url, size_t n)
{
    const char *best = NULL;
    for (const char *h = strstr(text, "href="); h && h < pos; h = strstr(h + 5, "href="))
        best = h;
    url[0] = '\0';
    if (!best)
        return;
    char q = best[5];
    if (q != '"' && q != '\'')
        return;
    const char *s = best + 6, *e = strchr(s, q);
    if (!e || e > pos || strncmp(s, "http", 4) != 0)
        return;
    size_t k = (size_t)(e - s) < n - 1 ? (size_t)(e - s) : n - 1;
    memcpy(url, s, k);
    url[k] = '\0';
}

static int parse_html(const char *text, list_buf *b)
{
    hd_kiwi_listing *cur = NULL;
    char seen[32][24];
    int n_seen = 0;
    const char *first_comment = NULL;
    for (const char *c = strstr(text, "<!--"); c; c = strstr(c, "<!--")) {
        const char *s = c + 4, *e = strstr(s, "-->");
        if (!e)
            break;
        c = e + 3;
        while (s < e && isspace((unsigned char)*s))
            s++;
        const char *eq = s;
        while (eq < e && (islower((unsigned char)*eq) || *eq == '_' || isdigit((unsigned char)*eq)))
            eq++;
        if (eq == s || eq >= e || *eq != '=' || eq - s >= 24)
            continue;
        char key[24], val[256];
        memcpy(key, s, (size_t)(eq - s));
        key[eq - s] = '\0';
        size_t vl = (size_t)(e - eq - 1) < sizeof val - 1 ? (size_t)(e - eq - 1) : sizeof val - 1;
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        html_unescape(val);
        int again = 0;
        for (int i = 0; i < n_seen; i++)
            again |= strcmp(seen[i], key) == 0;
        if (!cur || again) {
            if (cur) {
                if (!cur->url[0])
                    last_href(text, first_comment, cur->url, sizeof cur->url);
                finish(cur);
            }
            if (!(cur = push(b)))
                return hd_error(HD_ENOMEM, "out of memory");
            n_seen = 0;
            first_comment = s;
        }
        if (n_seen < 32)
            hd_strlcpy(seen[n_seen++], key, sizeof seen[0]);
        set_field(cur, key, val);
    }
    if (cur) {
        if (!cur->url[0])
            last_href(text, first_comment, cur->url, sizeof cur->url);
        finish(cur);
    }
    return 0;
}

int hd_kiwi_list_parse(const char *text, size_t len, const char *what, hd_kiwi_listing **out, int *n)
{
    list_buf b = {0};
    *out = NULL;
    *n = 0;
    if (memchr(text, '\0', len))
        return hd_error(HD_EFORMAT, "%s: a NUL byte: not a text list", what);
    const char *p = text;
    while (*p && isspace((unsigned char)*p))
        p++;
    int rc;
    if (*p == '<') {
        rc = parse_html(text, &b);
        if (rc == 0 && b.n == 0)
            rc = hd_error(HD_EFORMAT, "%s: an HTML page with no <!-- key=value --> receiver entries", what);
    } else {
        rc = parse_json(text, len, what, &b);
    }
    if (rc < 0) {
        free(b.v);
        return rc;
    }
    *out = b.v;
    *n = b.n;
    return 0;
}

/* ---- gnss_pos ------------------------------------------------------------------- */

/* 'key', 'value' or 'key', number after the coordinates; within [s, e) */
static const char *field_after(const char *s, const char *e, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = s; p + k + 2 <= e; p++)
        if (p[0] == '\'' && strncmp(p + 1, key, k) == 0 && p[k + 1] == '\'') {
            p += k + 2;
            while (p < e && (*p == ' ' || *p == ','))
                p++;
            return p < e ? p : NULL;
        }
    return NULL;
}

int hd_kiwi_gnss_pos_scan(const char *text, const char *what, hd_kiwi_gnss_pos **out, int *n)
{
    *out = NULL;
    *n = 0;
    int cap = 0, line = 1;
    for (const char *ls = text; *ls; line++) {
        const char *le = strchr(ls, '\n');
        if (!le)
            le = ls + strlen(ls);
        const char *p = ls;
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        if (le - p > 2 && p[0] == 'd' && p[1] == '.') {
            hd_kiwi_gnss_pos g = {{0}, NAN, NAN, {0}, 0};
            const char *s = p + 2, *ne = s;
            while (ne < le && (isalnum((unsigned char)*ne) || *ne == '_'))
                ne++;
            size_t nl = (size_t)(ne - s) < sizeof g.name - 1 ? (size_t)(ne - s) : sizeof g.name - 1;
            memcpy(g.name, s, nl);
            const char *c = field_after(ne, le, "coord");
            if (!nl || !c || *c != '[' || parse_gps(c + 1, &g.lat, &g.lon) < 0) {
                free(*out);
                *out = NULL;
                *n = 0;
                return hd_error(HD_EFORMAT, "%s:%d: not d.<name> = struct('coord',[lat,lon],...)", what, line);
            }
            const char *h = field_after(ne, le, "host");
            if (h && *h == '\'') {
                const char *he = memchr(h + 1, '\'', (size_t)(le - h - 1));
                if (he) {
                    size_t hl = (size_t)(he - h - 1) < sizeof g.host - 1 ? (size_t)(he - h - 1) : sizeof g.host - 1;
                    memcpy(g.host, h + 1, hl);
                }
            }
            const char *po = field_after(ne, le, "port");
            if (po)
                g.port = (int)parse_long(po, 0);
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                hd_kiwi_gnss_pos *nv = realloc(*out, (size_t)cap * sizeof *nv);
                if (!nv) {
                    free(*out);
                    *out = NULL;
                    *n = 0;
                    return hd_error(HD_ENOMEM, "out of memory");
                }
                *out = nv;
            }
            (*out)[(*n)++] = g;
        }
        ls = *le ? le + 1 : le;
    }
    return 0;
}

/* ---- stations ------------------------------------------------------------------- */

/* host and port of http://host:port/..., port 80/443 by default */
static void url_hostport(const char *url, char *host, size_t hn, int *port)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    *port = strncmp(url, "https", 5) == 0 || strncmp(url, "wss", 3) == 0 ? 443 : 80;
    size_t k = 0;
    while (p[k] && p[k] != ':' && p[k] != '/')
        k++;
    k = k < hn - 1 ? k : hn - 1;
    for (size_t i = 0; i < k; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[k] = '\0';
    if (p[k] == ':')
        *port = atoi(p + k + 1);
}

/* Copy at most n-1 bytes, never cutting a UTF-8 character. */
static void utf8_copy(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n) {
        k = n - 1;
        while (k && ((unsigned char)src[k] & 0xC0) == 0x80)
            k--;
    }
    memcpy(dst, src, k);
    dst[k] = '\0';
}

typedef struct {
    hd_kiwi_skipped *v;
    int n, cap;
} skip_buf;

static int skip_add(skip_buf *b, const char *what, const char *reason)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 32;
        hd_kiwi_skipped *nv = realloc(b->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return hd_error(HD_ENOMEM, "out of memory");
        b->v = nv;
        b->cap = cap;
    }
    utf8_copy(b->v[b->n].what, sizeof b->v[0].what, what);
    hd_strlcpy(b->v[b->n].reason, reason, sizeof b->v[0].reason);
    b->n++;
    return 0;
}

static void unique_id(hd_kiwi_station *out, int n, char *id)
{
    char base[HD_ID_LEN];
    hd_strlcpy(base, id, sizeof base);
    for (int k = 2;; k++) {
        int clash = 0;
        for (int i = 0; i < n && !clash; i++)
            clash = strcmp(out[i].st.id, id) == 0;
        if (!clash)
            return;
        char suf[16];
        int sl = snprintf(suf, sizeof suf, "-%d", k);
        int bl = (int)strlen(base) < HD_ID_LEN - 1 - sl ? (int)strlen(base) : HD_ID_LEN - 1 - sl;
        snprintf(id, HD_ID_LEN, "%.*s%s", bl, base, suf);
    }
}

static int cmp_dist(const void *a, const void *b)
{
    const hd_kiwi_station *x = a, *y = b;
    return (x->dist_km > y->dist_km) - (x->dist_km < y->dist_km);
}

int hd_kiwi_stations(const hd_kiwi_listing *l, int nl, const hd_kiwi_gnss_pos *g, int ng, const hd_kiwi_select *sel,
                     hd_kiwi_station **out, int *n, hd_kiwi_skipped **skipped, int *ns)
{
    skip_buf sk = {0};
    int rc = 0, m = 0;
    *out = NULL;
    *n = 0;
    *skipped = NULL;
    *ns = 0;
    hd_kiwi_station *st = calloc((size_t)(nl + ng) + 1, sizeof *st);
    char *claimed = calloc((size_t)ng + 1, 1);
    if (!st || !claimed) {
        rc = hd_error(HD_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < nl + ng; i++) {
        const hd_kiwi_listing *e = i < nl ? &l[i] : NULL;
        const hd_kiwi_gnss_pos *gp = e ? NULL : &g[i - nl];
        char what[300], reason[128] = "", host[160] = "";
        int port = 0;
        if (e)
            snprintf(what, sizeof what, "%.150s (%.140s)", e->name[0] ? e->name : "unnamed", e->url[0] ? e->url : "no url");
        else
            snprintf(what, sizeof what, "gnss_pos d.%.90s (%.160s:%d)", gp->name, gp->host[0] ? gp->host : "no host",
                     gp->port);
        if (gp && claimed[i - nl])
            continue;
        hd_kiwi_station *s = &st[m];
        if ((rc = hd_station_defaults(&s->st, HD_CLOCK_FREE)) < 0)
            goto fail;
        s->st.driver = HD_DRIVER_KIWISDR;
        char idsrc[200];
        if (e) {
            if (e->skip[0]) {
                if ((rc = skip_add(&sk, what, e->skip)) < 0)
                    goto fail;
                continue;
            }
            url_hostport(e->url, host, sizeof host, &port);
            snprintf(idsrc, sizeof idsrc, "%s", e->tdoa_id[0] ? e->tdoa_id : host[0] ? host : e->name);
            utf8_copy(s->st.name, sizeof s->st.name, e->name[0] ? e->name : idsrc);
            size_t ul = strlen(e->url);
            if (ul + 2 > sizeof s->st.url) {
                if ((rc = skip_add(&sk, what, "url too long")) < 0)
                    goto fail;
                continue;
            }
            memcpy(s->st.url, e->url, ul + 1);
            if (e->url[ul - 1] != '/')
                memcpy(s->st.url + ul, "/", 2);
            s->st.lat = e->lat;
            s->st.lon = e->lon;
            if (isfinite(e->asl_m) && e->asl_m >= -500 && e->asl_m <= 9000)
                s->st.alt_m = e->asl_m;
            utf8_copy(s->st.antenna, sizeof s->st.antenna, e->antenna);
            utf8_copy(s->st.bands, sizeof s->st.bands, e->bands);
            if (s->st.bands[0] && hd_station_covers(&s->st, 0) < 0) {
                s->st.bands[0] = '\0'; /* as listed, but not LO-HI: not kept as data */
            }
            int gps = e->gps_good >= 4 && e->fixes_min > 0;
            s->st.clock = gps ? HD_CLOCK_GPS : HD_CLOCK_FREE;
            char gpsw[96], users[48] = "";
            if (e->gps_good >= 0)
                snprintf(gpsw, sizeof gpsw, "GPS %d satellites, %d fixes/min%s", e->gps_good,
                         e->fixes_min < 0 ? 0 : e->fixes_min, gps ? "" : " (no solution: clock free)");
            else
                snprintf(gpsw, sizeof gpsw, "GPS not reported (clock free)");
            if (e->users >= 0)
                snprintf(users, sizeof users, "; users %d/%d", e->users, e->users_max);
            snprintf(s->note, sizeof s->note, "%.120s%s%.60s%s%s%s%.40s", e->loc[0] ? e->loc : "(no location text)",
                     e->sw_version[0] ? " · " : "", e->sw_version, "\n", gpsw, users,
                     e->offline == 1 ? "; listed offline" : "");
            /* a gnss_pos record of this station: its surveyed position */
            char vname[HD_KIWI_NAME_LEN];
            for (int j = 0; j < ng; j++) {
                int same = 0;
                if (e->tdoa_id[0]) {
                    hd_kiwi_octave_name(vname, sizeof vname, e->tdoa_id);
                    same = strcmp(vname, g[j].name) == 0;
                }
                if (!same && g[j].host[0]) {
                    char gh[160];
                    hd_strlcpy(gh, g[j].host, sizeof gh);
                    for (char *c = gh; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                    same = strcmp(gh, host) == 0 && (g[j].port == 0 || g[j].port == port);
                }
                if (same && !claimed[j]) {
                    double d;
                    hd_geo_inverse(s->st.lat, s->st.lon, g[j].lat, g[j].lon, &d, NULL, NULL);
                    size_t k = strlen(s->note);
                    snprintf(s->note + k, sizeof s->note - k, "\nposition from gnss_pos d.%.60s (%.1f km from the list's)",
                             g[j].name, d / 1e3);
                    s->st.lat = g[j].lat;
                    s->st.lon = g[j].lon;
                    claimed[j] = 1;
                    break;
                }
            }
            if (sel->online_only && (e->offline == 1 || (e->status[0] && strcmp(e->status, "active") != 0)))
                snprintf(reason, sizeof reason, "offline (status '%.40s')", e->status[0] ? e->status : "offline");
            else if (sel->gps_only && !gps)
                snprintf(reason, sizeof reason, "no GPS solution (%d satellites, %d fixes/min)", e->gps_good,
                         e->fixes_min);
        } else {
            snprintf(idsrc, sizeof idsrc, "%s", gp->name);
            hd_strlcpy(s->st.name, gp->name, sizeof s->st.name);
            if (gp->host[0])
                snprintf(s->st.url, sizeof s->st.url, "http://%.200s:%d/", gp->host, gp->port ? gp->port : 8073);
            s->st.lat = gp->lat;
            s->st.lon = gp->lon;
            s->st.clock = HD_CLOCK_GPS;
            snprintf(s->note, sizeof s->note, "from gnss_pos d.%.60s (not in the list): clock gps as the TDoA service's\n"
                                              "receivers are; check with heimdall stations check",
                     gp->name);
        }
        if (s->st.clock == HD_CLOCK_GPS) {
            s->st.clock_sigma_ns = 100.0;
            s->st.lo_ppm = s->st.sample_rate_ppm = 0.01;
        }
        s->dist_km = NAN;
        if (!reason[0] && sel->near_km > 0) {
            double d;
            hd_geo_inverse(sel->near_lat, sel->near_lon, s->st.lat, s->st.lon, &d, NULL, NULL);
            s->dist_km = d / 1e3;
            if (s->dist_km > sel->near_km)
                snprintf(reason, sizeof reason, "beyond --near %g km (%.0f km)", sel->near_km, s->dist_km);
        }
        if (!reason[0] && sel->freq_hz > 0 && hd_station_covers(&s->st, sel->freq_hz) == 1)
            snprintf(reason, sizeof reason, "bands do not cover %.6g MHz (%.60s)", sel->freq_hz / 1e6, s->st.bands);
        if (reason[0]) {
            if ((rc = skip_add(&sk, what, reason)) < 0)
                goto fail;
            continue;
        }
        for (int j = 0; j < m && !reason[0]; j++)
            if (s->st.url[0] && strcasecmp(st[j].st.url, s->st.url) == 0)
                snprintf(reason, sizeof reason, "same server as %.40s (listed twice)", st[j].st.id);
        if (reason[0]) {
            if ((rc = skip_add(&sk, what, reason)) < 0)
                goto fail;
            continue;
        }
        hd_station_id_make(idsrc, s->st.id, sizeof s->st.id);
        unique_id(st, m, s->st.id);
        m++;
    }
    if (sel->near_km > 0)
        qsort(st, (size_t)m, sizeof *st, cmp_dist);
    if (sel->max > 0 && m > sel->max) {
        for (int i = sel->max; i < m; i++) {
            char what[300], reason[64];
            snprintf(what, sizeof what, "%.150s (%.140s)", st[i].st.name, st[i].st.url);
            snprintf(reason, sizeof reason, "beyond --max %d%s", sel->max, sel->near_km > 0 ? " (nearest kept)" : "");
            if ((rc = skip_add(&sk, what, reason)) < 0)
                goto fail;
        }
        m = sel->max;
    }
    free(claimed);
    *out = st;
    *n = m;
    *skipped = sk.v;
    *ns = sk.n;
    return 0;
fail:
    free(st);
    free(claimed);
    free(sk.v);
    return rc;
}

void hd_kiwi_skipped_summary(const hd_kiwi_skipped *sk, int ns, char *why, size_t size)
{
    if (!size)
        return;
    why[0] = '\0';
    for (int i = 0; i < ns; i++) { /* by the reason's words before its figures in brackets */
        size_t li = strcspn(sk[i].reason, "(");
        int seen = 0, count = 0;
        for (int j = 0; j < ns; j++) {
            int same = strcspn(sk[j].reason, "(") == li && strncmp(sk[j].reason, sk[i].reason, li) == 0;
            seen |= same && j < i;
            count += same;
        }
        size_t k = strlen(why);
        int wl = (int)(li && sk[i].reason[li - 1] == ' ' ? li - 1 : li);
        if (!seen && k + 100 < size)
            snprintf(why + k, size - k, "%s%d %.*s", k ? ", " : "", count, wl, sk[i].reason);
    }
}

int hd_kiwi_stations_text(const hd_kiwi_station *st, int n, const hd_kiwi_skipped *sk, int ns, const char *from,
                          const char *selection, const char *version, char **text)
{
    const char **notes = calloc((size_t)n + 1, sizeof *notes);
    hd_station *s = calloc((size_t)n + 1, sizeof *s);
    char *body = NULL;
    int rc = HD_ENOMEM;
    *text = NULL;
    if (!notes || !s)
        goto done;
    for (int i = 0; i < n; i++) {
        s[i] = st[i].st;
        notes[i] = st[i].note;
    }
    if ((rc = hd_stations_yaml(s, n, notes, &body)) < 0)
        goto done;
    char date[40];
    hd_time_format_iso8601(hd_time_now_ns(), date);
    date[19] = '\0';
    size_t cap = strlen(body) + strlen(from) + (size_t)ns * 460 + 4096;
    char *t = malloc(cap);
    if (!t) {
        rc = HD_ENOMEM;
        goto done;
    }
    int k = snprintf(t, cap,
                     "# KiwiSDR receivers imported by heimdall stations import (heimdall %s) on %sZ\n"
                     "# from: %s\n# selection: %s; %d kept, %d left out (listed at the end)\n"
                     "# Positions are the list's (entered by each owner) unless a gnss_pos record gave\n"
                     "# the TDoA service's; check them and the GPS with heimdall stations check.\n"
                     "note: 'KiwiSDR receivers from the public list (heimdall stations import, %.10s)'\n"
                     "stations:\n%s",
                     version, date, from, selection, n, ns, date, body);
    if (ns)
        k += snprintf(t + k, cap - (size_t)k, "\n# left out (%d):\n", ns);
    for (int i = 0; i < ns; i++)
        k += snprintf(t + k, cap - (size_t)k, "#   %s: %s\n", sk[i].what, sk[i].reason);
    *text = t;
    rc = 0;
done:
    free(body);
    free(notes);
    free(s);
    return rc == HD_ENOMEM ? hd_error(HD_ENOMEM, "out of memory") : rc;
}
