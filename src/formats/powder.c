#include "formats/powder.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLS 512

/* Split a CSV line (no quoting in these files) in place. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    size_t l = strlen(p);
    while (l && (p[l - 1] == '\n' || p[l - 1] == '\r'))
        p[--l] = 0;
    for (;;) {
        if (n == max)
            return -1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static int num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*v) ? 0 : -1;
}

/* "YYYY-MM-DD HH:MM:SS", local time of the zone in TZ (set by
 * hd_powder_read): mktime with tm_isdst -1 lets the tz database decide
 * whether daylight time applies (an hour repeated when clocks go back is
 * read as glibc chooses; a time skipped when they go forward is moved on). */
static int parse_time(const char *s, int64_t *ns, int *month)
{
    struct tm tm = {0};
    char *end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end || *end)
        return -1;
    *month = tm.tm_mon + 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
        return -1;
    *ns = (int64_t)t * 1000000000LL;
    return 0;
}

int hd_powder_check_tz(const char *tz)
{
    if (!tz || !*tz)
        return hd_error(HD_EINVAL, "powder: an empty time zone");
    if (strcmp(tz, "UTC") == 0)
        return 0;
    const char *dir = getenv("TZDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    FILE *f = strstr(tz, "..") ? NULL : fopen(path, "rb");
    char magic[4] = {0};
    int ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    if (f)
        fclose(f);
    if (!ok)
        return hd_error(HD_EINVAL, "unknown time zone '%s' (a tz database name such as America/Denver, or UTC)", tz);
    return 0;
}

/* TZ set to tz for the parse, then put back */
typedef struct {
    char *old;
    int had;
} tz_saved;

static int tz_push(tz_saved *s, const char *tz)
{
    const char *o = getenv("TZ");
    s->had = o != NULL;
    s->old = o ? strdup(o) : NULL;
    if ((o && !s->old) || setenv("TZ", tz, 1) != 0) {
        free(s->old);
        return hd_error(HD_ENOMEM, "cannot set the time zone");
    }
    tzset();
    return 0;
}

static void tz_pop(tz_saved *s)
{
    if (s->had)
        setenv("TZ", s->old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(s->old);
    s->old = NULL;
}

typedef struct {
    char name[HD_ID_LEN], kind[16];
    double lat, lon;
} rx_row;

static int read_receivers(const char *path, rx_row *rows, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hd_error(HD_EIO, "cannot open %s: %s", path, strerror(errno));
    char line[1024], *fl[8];
    int ln = 0, rc = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        int k = split(line, fl, 8);
        if (ln == 1) {
            if (k != 4 || strcmp(fl[0], "name") || strcmp(fl[1], "kind") || strcmp(fl[2], "lat") || strcmp(fl[3], "lon")) {
                rc = hd_error(HD_EFORMAT, "%s:1: expected the header name,kind,lat,lon", path);
                break;
            }
            continue;
        }
        if (k == 1 && !fl[0][0])
            continue;
        if (k != 4 || strlen(fl[0]) >= HD_ID_LEN || !fl[0][0]) {
            rc = hd_error(HD_EFORMAT, "%s:%d: expected name,kind,lat,lon", path, ln);
            break;
        }
        if (*n == HD_MAX_STATIONS) {
            rc = hd_error(HD_EFORMAT, "%s:%d: more than %d receivers", path, ln, HD_MAX_STATIONS);
            break;
        }
        rx_row *r = &rows[(*n)++];
        hd_strlcpy(r->name, fl[0], sizeof r->name);
        hd_strlcpy(r->kind, fl[1], sizeof r->kind);
        int bus = strcmp(fl[1], "bus") == 0;
        if (bus) {
            r->lat = r->lon = NAN;
        } else if (num(fl[2], &r->lat) < 0 || num(fl[3], &r->lon) < 0 || fabs(r->lat) > 90 || fabs(r->lon) > 180) {
            rc = hd_error(HD_EFORMAT, "%s:%d: receiver %s has no valid position", path, ln, fl[0]);
            break;
        }
    }
    fclose(f);
    if (rc == 0 && *n == 0)
        rc = hd_error(HD_EFORMAT, "%s: no receivers", path);
    return rc;
}

void hd_powder_release(hd_powder *p)
{
    free(p->time_ns);
    free(p->tx_lat);
    free(p->tx_lon);
    free(p->rss);
    free(p->heard);
    free(p->rx_lat);
    free(p->rx_lon);
    free(p->month);
    free(p->block);
    memset(p, 0, sizeof *p);
}

static int cmp_time(const void *a, const void *b, void *ctx)
{
    const int64_t *t = ctx;
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b, x = t[i], y = t[j];
    return x != y ? (x > y) - (x < y) : (i > j) - (i < j);
}

int hd_powder_read(hd_powder *p, const char *csv, const char *receivers, int n_blocks, const char *tz)
{
    memset(p, 0, sizeof *p);
    if (!tz)
        tz = HD_POWDER_DEFAULT_TZ;
    if (n_blocks < 2 || n_blocks > 100)
        return hd_error(HD_EINVAL, "powder: %d time blocks (2 to 100)", n_blocks);
    int rc = hd_powder_check_tz(tz);
    if (rc < 0)
        return rc;
    rx_row rows[HD_MAX_STATIONS];
    int nrx = 0;
    if ((rc = read_receivers(receivers, rows, &nrx)) < 0)
        return rc;
    FILE *f = fopen(csv, "r");
    if (!f)
        return hd_error(HD_EIO, "cannot open %s: %s", csv, strerror(errno));
    tz_saved saved;
    if ((rc = tz_push(&saved, tz)) < 0) {
        fclose(f);
        return rc;
    }
    hd_strlcpy(p->tz, tz, sizeof p->tz);
    size_t cap = 1 << 16;
    char *line = hd_malloc(cap), **fl = hd_malloc(MAX_COLS * sizeof *fl);
    int col_rss[HD_MAX_STATIONS], col_x[HD_MAX_STATIONS], col_y[HD_MAX_STATIONS], col_tx = -1, col_ty = -1, ncol = 0;
    int64_t E = 0, capE = 0, ln = 0;
    int64_t *order = NULL;
    if (!line || !fl) {
        rc = HD_ENOMEM;
        goto done;
    }
    while (fgets(line, (int)cap, f)) {
        ln++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = hd_error(HD_EFORMAT, "%s:%lld: line longer than %zu bytes", csv, (long long)ln, cap);
            goto done;
        }
        int k = split(line, fl, MAX_COLS);
        if (k < 0) {
            rc = hd_error(HD_EFORMAT, "%s:%lld: more than %d columns", csv, (long long)ln, MAX_COLS);
            goto done;
        }
        if (ln == 1) { /* the header names the receivers' columns */
            if (strcmp(fl[0], "timestamp") != 0) {
                rc = hd_error(HD_EFORMAT, "%s:1: expected a header starting with timestamp", csv);
                goto done;
            }
            ncol = k;
            for (int c = 1; c < k; c++) {
                char base[256];
                hd_strlcpy(base, fl[c], sizeof base);
                size_t bl = strlen(base);
                int kind = 0; /* 0 rss, 1 x (lat), 2 y (lon) */
                if (strcmp(base, "tx_x_coord") == 0) {
                    col_tx = c;
                    continue;
                }
                if (strcmp(base, "tx_y_coord") == 0) {
                    col_ty = c;
                    continue;
                }
                if (bl > 4 && strcmp(base + bl - 4, "_rss") == 0)
                    base[bl - 4] = 0;
                else if (bl > 2 && strcmp(base + bl - 2, "_x") == 0)
                    base[bl - 2] = 0, kind = 1;
                else if (bl > 2 && strcmp(base + bl - 2, "_y") == 0)
                    base[bl - 2] = 0, kind = 2;
                int r = -1;
                for (int i = 0; i < p->R; i++)
                    if (strcmp(p->st[i].id, base) == 0)
                        r = i;
                if (r < 0) {
                    int j = -1;
                    for (int i = 0; i < nrx; i++)
                        if (strcmp(rows[i].name, base) == 0)
                            j = i;
                    if (j < 0) {
                        rc = hd_error(HD_EFORMAT, "%s:1: column %s names receiver '%s', which %s does not list", csv,
                                      fl[c], base, receivers);
                        goto done;
                    }
                    r = p->R++;
                    hd_station *s = &p->st[r];
                    memset(s, 0, sizeof *s);
                    hd_strlcpy(s->id, rows[j].name, sizeof s->id);
                    hd_strlcpy(s->name, rows[j].kind, sizeof s->name);
                    s->lat = rows[j].lat;
                    s->lon = rows[j].lon;
                    s->driver = HD_DRIVER_SIMULATE;
                    s->clock = HD_CLOCK_FREE;
                    s->sample_rate_hz = 2e6;
                    p->is_bus[r] = strcmp(rows[j].kind, "bus") == 0;
                    col_rss[r] = col_x[r] = col_y[r] = -1;
                }
                int *slot = kind == 0 ? &col_rss[r] : kind == 1 ? &col_x[r] : &col_y[r];
                *slot = c;
            }
            if (col_tx < 0 || col_ty < 0 || p->R == 0) {
                rc = hd_error(HD_EFORMAT, "%s:1: the header has no tx_x_coord/tx_y_coord or no receiver", csv);
                goto done;
            }
            for (int r = 0; r < p->R; r++)
                if (col_rss[r] < 0 || (p->is_bus[r] && (col_x[r] < 0 || col_y[r] < 0))) {
                    rc = hd_error(HD_EFORMAT, "%s:1: receiver %s lacks its %s column", csv, p->st[r].id,
                                  col_rss[r] < 0 ? "RSS" : "position");
                    goto done;
                }
            continue;
        }
        if (k == 1 && !fl[0][0])
            continue; /* a blank line */
        if (k != ncol) {
            rc = hd_error(HD_EFORMAT, "%s:%lld: %d fields, the header has %d", csv, (long long)ln, k, ncol);
            goto done;
        }
        if (E == capE) {
            capE = capE ? 2 * capE : 1024;
            int64_t R = p->R;
            void *a[] = {realloc(p->time_ns, capE * sizeof *p->time_ns), realloc(p->tx_lat, capE * sizeof(double)),
                         realloc(p->tx_lon, capE * sizeof(double)), realloc(p->rss, capE * R * sizeof(float)),
                         realloc(p->heard, capE * R), realloc(p->rx_lat, capE * R * sizeof(double)),
                         realloc(p->rx_lon, capE * R * sizeof(double)), realloc(p->month, capE)};
            if (a[0]) p->time_ns = a[0];
            if (a[1]) p->tx_lat = a[1];
            if (a[2]) p->tx_lon = a[2];
            if (a[3]) p->rss = a[3];
            if (a[4]) p->heard = a[4];
            if (a[5]) p->rx_lat = a[5];
            if (a[6]) p->rx_lon = a[6];
            if (a[7]) p->month = a[7];
            for (size_t i = 0; i < HD_ARRAY_LEN(a); i++)
                if (!a[i]) {
                    rc = hd_error(HD_ENOMEM, "out of memory at %s:%lld", csv, (long long)ln);
                    goto done;
                }
        }
        int mon;
        if (parse_time(fl[0], &p->time_ns[E], &mon) < 0) {
            rc = hd_error(HD_EFORMAT, "%s:%lld: bad timestamp '%s' (expected YYYY-MM-DD HH:MM:SS)", csv, (long long)ln, fl[0]);
            goto done;
        }
        p->month[E] = (int8_t)mon;
        if (num(fl[col_tx], &p->tx_lat[E]) < 0 || num(fl[col_ty], &p->tx_lon[E]) < 0 || fabs(p->tx_lat[E]) > 90 ||
            fabs(p->tx_lon[E]) > 180) {
            rc = hd_error(HD_EFORMAT, "%s:%lld: bad transmitter position '%s,%s'", csv, (long long)ln, fl[col_tx], fl[col_ty]);
            goto done;
        }
        for (int r = 0; r < p->R; r++) {
            size_t o = (size_t)E * p->R + r;
            double v, la = p->st[r].lat, lo = p->st[r].lon;
            if (num(fl[col_rss[r]], &v) < 0) {
                rc = hd_error(HD_EFORMAT, "%s:%lld: receiver %s: RSS '%s' is not a number", csv, (long long)ln,
                              p->st[r].id, fl[col_rss[r]]);
                goto done;
            }
            if (p->is_bus[r]) {
                if (num(fl[col_x[r]], &la) < 0 || num(fl[col_y[r]], &lo) < 0) {
                    rc = hd_error(HD_EFORMAT, "%s:%lld: bus %s: position '%s,%s' is not a number", csv, (long long)ln,
                                  p->st[r].id, fl[col_x[r]], fl[col_y[r]]);
                    goto done;
                }
                if (la == -1 && lo == -1) /* the convention for "no report" */
                    la = lo = NAN;
                else if (fabs(la) > 90 || fabs(lo) > 180) {
                    rc = hd_error(HD_EFORMAT, "%s:%lld: bus %s: position %g,%g is off the Earth", csv, (long long)ln,
                                  p->st[r].id, la, lo);
                    goto done;
                }
            }
            int heard = v != HD_POWDER_MISSING_RSS && isfinite(la) && isfinite(lo);
            p->heard[o] = (uint8_t)heard;
            p->rss[o] = heard ? (float)v : 0.0f;
            p->rx_lat[o] = la;
            p->rx_lon[o] = lo;
        }
        E++;
    }
    if (ferror(f)) {
        rc = hd_error(HD_EIO, "cannot read %s", csv);
        goto done;
    }
    if (E < n_blocks) {
        rc = hd_error(HD_EFORMAT, "%s: %lld samples, too few for %d time blocks", csv, (long long)E, n_blocks);
        goto done;
    }
    p->E = E;
    p->n_blocks = n_blocks;
    /* contiguous time blocks of equal size, in time order (ties by row) */
    p->block = hd_malloc((size_t)E);
    order = hd_malloc((size_t)E * sizeof *order);
    if (!p->block || !order) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < E; i++)
        order[i] = i;
    qsort_r(order, (size_t)E, sizeof *order, cmp_time, p->time_ns);
    for (int64_t i = 0; i < E; i++)
        p->block[order[i]] = (int8_t)(i * n_blocks / E);
done:
    tz_pop(&saved);
    free(order);
    free(line);
    free(fl);
    fclose(f);
    if (rc < 0)
        hd_powder_release(p);
    else
        hd_strlcpy(p->tz, tz, sizeof p->tz);
    return rc;
}

const char *hd_powder_month_name(int month)
{
    static const char *const names[] = {"January", "February", "March",     "April",   "May",      "June",
                                        "July",    "August",   "September", "October", "November", "December"};
    return month >= 1 && month <= 12 ? names[month - 1] : "an unknown month";
}
