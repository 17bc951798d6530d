#include "formats/known_sources.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

/* split line at commas into f[max]; returns the count (more than max: max + 1) */
static int split(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *c = strchr(p, ',');
        if (c)
            *c = 0;
        if (n < max)
            f[n] = trim(p);
        n++;
        if (!c)
            break;
        p = c + 1;
    }
    return n > max ? max + 1 : n;
}

static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*v);
}

int hd_known_sources_read(const char *path, hd_known_source **out, int *n)
{
    *out = NULL;
    *n = 0;
    char *text = NULL;
    int rc = hd_read_file(path, &text, NULL);
    if (rc < 0)
        return hd_error(HD_ECONFIG, "cannot read the known sources table %s", path);
    static const char *const cols[5] = {"id", "lat", "lon", "alt", "frequency"};
    hd_known_source *ks = NULL;
    int cap = 0, header = 0, line = 0;
    for (char *p = text, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = 0;
        line++;
        char *l = trim(p);
        if (!*l || *l == '#')
            continue;
        char *f[6];
        int nf = split(l, f, 5);
        if (!header) {
            int ok = nf == 5;
            for (int k = 0; ok && k < 5; k++)
                ok = strcmp(f[k], cols[k]) == 0;
            if (!ok) {
                rc = hd_error(HD_ECONFIG, "%s:%d: the header must be id,lat,lon,alt,frequency", path, line);
                goto fail;
            }
            header = 1;
            continue;
        }
        if (nf != 5) {
            rc = hd_error(HD_ECONFIG, "%s:%d: %s%d fields, expected 5 (id,lat,lon,alt,frequency)", path, line,
                          nf > 5 ? "more than " : "", nf > 5 ? 5 : nf);
            goto fail;
        }
        hd_known_source s;
        memset(&s, 0, sizeof s);
        if (!*f[0] || strlen(f[0]) >= sizeof s.id) {
            rc = hd_error(HD_ECONFIG, "%s:%d: the id must be 1 to %d characters", path, line, (int)sizeof s.id - 1);
            goto fail;
        }
        hd_strlcpy(s.id, f[0], sizeof s.id);
        double *dst[4] = {&s.lat, &s.lon, &s.alt_m, &s.frequency_hz};
        for (int k = 0; k < 4; k++)
            if (!number(f[k + 1], dst[k])) {
                rc = hd_error(HD_ECONFIG, "%s:%d: %s '%s' is not a number", path, line, cols[k + 1], f[k + 1]);
                goto fail;
            }
        if (fabs(s.lat) > 90 || fabs(s.lon) > 180 || !(s.frequency_hz > 0)) {
            rc = hd_error(HD_ECONFIG, "%s:%d: %s", path, line,
                          fabs(s.lat) > 90    ? "lat is outside [-90, 90]"
                          : fabs(s.lon) > 180 ? "lon is outside [-180, 180]"
                                              : "frequency must be positive (Hz)");
            goto fail;
        }
        for (int j = 0; j < *n; j++) {
            if (strcmp(ks[j].id, s.id) == 0) {
                rc = hd_error(HD_ECONFIG, "%s:%d: id '%s' is listed twice", path, line, s.id);
                goto fail;
            }
            if (fabs(ks[j].frequency_hz - s.frequency_hz) <= 2 * HD_KNOWN_SOURCE_TOL_HZ) {
                rc = hd_error(HD_ECONFIG, "%s:%d: '%s' is within %g Hz of '%s': events could not tell them apart",
                              path, line, s.id, 2 * HD_KNOWN_SOURCE_TOL_HZ, ks[j].id);
                goto fail;
            }
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            hd_known_source *g = realloc(ks, (size_t)cap * sizeof *ks);
            if (!g) {
                rc = HD_ENOMEM;
                goto fail;
            }
            ks = g;
        }
        ks[(*n)++] = s;
    }
    if (!*n) {
        rc = hd_error(HD_ECONFIG, "%s: %s", path, header ? "no sources listed" : "empty (expected the header id,lat,lon,alt,frequency)");
        goto fail;
    }
    free(text);
    *out = ks;
    return 0;
fail:
    free(text);
    free(ks);
    *n = 0;
    return rc;
}

int hd_known_sources_match(const hd_known_source *ks, int n, double frequency_hz)
{
    for (int j = 0; j < n; j++)
        if (fabs(ks[j].frequency_hz - frequency_hz) <= HD_KNOWN_SOURCE_TOL_HZ)
            return j;
    return -1;
}
