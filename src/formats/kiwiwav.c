/* KiwiSDR TDoA wav files: parse from memory, encode, write, the clock fit,
 * file names and the TDoA tool's gnss_pos files. See kiwiwav.h. */
#include "formats/kiwiwav.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GPS_EPOCH_UNIX_S 315964800LL /* 1980-01-06T00:00:00Z */
#define WEEK_S 604800LL

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

void hd_kiwiwav_release(hd_kiwiwav *w)
{
    if (!w)
        return;
    free(w->iq);
    free(w->blocks);
    memset(w, 0, sizeof *w);
}

int hd_kiwiwav_parse(hd_kiwiwav *w, const void *data, size_t len)
{
    const unsigned char *p = data;
    int rc = 0;
    size_t cap_s = 0, cap_b = 0;
    int have_fmt = 0, pending_kiwi = 0;
    hd_kiwi_block cur = {0};

    memset(w, 0, sizeof *w);
    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return hd_error(HD_EFORMAT, "not a RIFF/WAVE file");
    uint64_t riff = rd32(p + 4);
    if (riff + 8 > len)
        return hd_error(HD_EFORMAT, "truncated: the RIFF header says %llu bytes, the file has %zu",
                        (unsigned long long)(riff + 8), len);
    if (riff < 4)
        return hd_error(HD_EFORMAT, "RIFF size %llu is too small", (unsigned long long)riff);
    size_t end = (size_t)riff + 8, off = 12;
    while (off < end) {
        if (end - off < 8) {
            rc = hd_error(HD_EFORMAT, "truncated chunk header at byte %zu", off);
            goto fail;
        }
        const unsigned char *h = p + off;
        uint64_t sz = rd32(h + 4);
        if (sz > end - off - 8) {
            rc = hd_error(HD_EFORMAT, "chunk '%.4s' at byte %zu claims %llu bytes, only %zu remain",
                          (const char *)h, off, (unsigned long long)sz, end - off - 8);
            goto fail;
        }
        const unsigned char *b = h + 8;
        if (memcmp(h, "fmt ", 4) == 0) {
            if (sz < 16) {
                rc = hd_error(HD_EFORMAT, "fmt chunk of %llu bytes (at least 16 expected)", (unsigned long long)sz);
                goto fail;
            }
            uint16_t fmt = rd16(b), ch = rd16(b + 2), bits = rd16(b + 14);
            uint32_t rate = rd32(b + 4);
            if (fmt != 1 || ch != 2 || bits != 16) {
                rc = hd_error(HD_EFORMAT, "fmt is format %u, %u channels, %u bits: a KiwiSDR IQ file is PCM (1), 2 channels, 16 bits",
                              fmt, ch, bits);
                goto fail;
            }
            if (rate == 0 || rate > 100000000u) {
                rc = hd_error(HD_EFORMAT, "sample rate %u Hz in the fmt chunk is absurd", rate);
                goto fail;
            }
            w->header_rate_hz = rate;
            have_fmt = 1;
        } else if (memcmp(h, "kiwi", 4) == 0) {
            if (sz != 10) {
                rc = hd_error(HD_EFORMAT, "kiwi chunk at byte %zu has %llu bytes (10 expected)", off,
                              (unsigned long long)sz);
                goto fail;
            }
            cur.last_gps_solution = b[0];
            cur.gps_sec = rd32(b + 2);
            cur.gps_nsec = rd32(b + 6);
            pending_kiwi = 1;
        } else if (memcmp(h, "data", 4) == 0) {
            if (!have_fmt) {
                rc = hd_error(HD_EFORMAT, "data chunk at byte %zu before the fmt chunk", off);
                goto fail;
            }
            if (!pending_kiwi) {
                rc = hd_error(HD_EFORMAT, "data chunk at byte %zu has no kiwi chunk (GPS time stamp) before it", off);
                goto fail;
            }
            if (sz % 4) {
                rc = hd_error(HD_EFORMAT, "data chunk at byte %zu has %llu bytes, not whole I/Q pairs", off,
                              (unsigned long long)sz);
                goto fail;
            }
            int64_t n = (int64_t)(sz / 4);
            if (w->n_samples + n > HD_KIWI_MAX_SAMPLES) {
                rc = hd_error(HD_EFORMAT, "more than %d samples", HD_KIWI_MAX_SAMPLES);
                goto fail;
            }
            if ((size_t)(w->n_samples + n) > cap_s) {
                size_t nc = cap_s ? cap_s : 4096;
                while (nc < (size_t)(w->n_samples + n))
                    nc *= 2;
                int16_t *q = hd_reallocarray(w->iq, nc * 2, sizeof *q);
                if (!q) {
                    rc = HD_ENOMEM;
                    goto fail;
                }
                w->iq = q;
                cap_s = nc;
            }
            if ((size_t)w->n_blocks == cap_b) {
                size_t nc = cap_b ? cap_b * 2 : 64;
                hd_kiwi_block *q = hd_reallocarray(w->blocks, nc, sizeof *q);
                if (!q) {
                    rc = HD_ENOMEM;
                    goto fail;
                }
                w->blocks = q;
                cap_b = nc;
            }
            for (int64_t i = 0; i < 2 * n; i++)
                w->iq[2 * w->n_samples + i] = (int16_t)rd16(b + 2 * i);
            cur.first_sample = w->n_samples;
            cur.n_samples = n;
            w->blocks[w->n_blocks++] = cur;
            w->n_samples += n;
            pending_kiwi = 0;
        }
        off += 8 + (size_t)sz + (sz & 1 && off + 8 + sz < end ? 1 : 0);
    }
    if (!have_fmt) {
        rc = hd_error(HD_EFORMAT, "no fmt chunk");
        goto fail;
    }
    if (w->n_samples == 0) {
        rc = hd_error(HD_EFORMAT, "no samples (no data chunk)");
        goto fail;
    }
    if ((rc = hd_kiwiwav_fit(w)) < 0)
        goto fail;
    return 0;
fail:
    hd_kiwiwav_release(w);
    return rc;
}

int hd_kiwiwav_read(hd_kiwiwav *w, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    memset(w, 0, sizeof *w);
    int rc = hd_read_file(path, &buf, &len);
    if (rc < 0)
        return rc;
    rc = hd_kiwiwav_parse(w, buf, len);
    free(buf);
    if (rc < 0)
        return hd_error_context(rc, "%s", path);
    return 0;
}

/* least squares y = a + b x over the used points */
static void line_fit(const double *x, const double *y, const unsigned char *use, int n, double *a, double *b)
{
    double sx = 0, sy = 0, m = 0;
    for (int i = 0; i < n; i++)
        if (use[i]) {
            sx += x[i];
            sy += y[i];
            m++;
        }
    double mx = sx / m, my = sy / m, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        if (use[i]) {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxy += (x[i] - mx) * (y[i] - my);
        }
    *b = sxx > 0 ? sxy / sxx : 0;
    *a = my - *b * mx;
}

int hd_kiwiwav_fit(hd_kiwiwav *w)
{
    int n = w->n_blocks, rc = 0;
    double *x = hd_calloc((size_t)(n ? n : 1), sizeof *x), *y = hd_calloc((size_t)(n ? n : 1), sizeof *y);
    unsigned char *use = hd_calloc((size_t)(n ? n : 1), 1);
    if (!x || !y || !use) {
        rc = HD_ENOMEM;
        goto done;
    }
    w->n_fit = w->n_rejected = 0;
    w->fit_rate_hz = w->header_rate_hz;
    w->fit_rms_s = 0;
    /* times relative to the first fresh stamp, unwrapped over week ends */
    int m = 0, ref = -1;
    double wrap = 0;
    for (int i = 0; i < n; i++) {
        const hd_kiwi_block *k = &w->blocks[i];
        if (k->last_gps_solution != 0 || (k->gps_sec == 0 && k->gps_nsec == 0) || k->gps_nsec >= 1000000000u ||
            k->gps_sec >= WEEK_S)
            continue;
        if (ref < 0)
            ref = i;
        double t = ((double)k->gps_sec - (double)w->blocks[ref].gps_sec) +
                   1e-9 * ((double)k->gps_nsec - (double)w->blocks[ref].gps_nsec) + wrap;
        if (m > 0 && t < y[m - 1] - WEEK_S / 2) {
            wrap += WEEK_S;
            t += WEEK_S;
        }
        x[m] = (double)k->first_sample;
        y[m] = t;
        use[m] = 1;
        m++;
    }
    /* the first valid stamp is sometimes stale: choose as reference line the
     * one most stamps agree with (each point's implied start at the header
     * rate, the median), then drop points far off it and refit */
    if (m >= 1) {
        double *s = hd_calloc((size_t)m, sizeof *s);
        if (!s) {
            rc = HD_ENOMEM;
            goto done;
        }
        for (int i = 0; i < m; i++)
            s[i] = y[i] - x[i] / w->header_rate_hz;
        for (int i = 1; i < m; i++) /* insertion sort: m is small (blocks) */
            for (int j = i; j > 0 && s[j] < s[j - 1]; j--) {
                double t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
        double med = s[m / 2];
        free(s);
        /* tolerance: 1 ms plus a 1000 ppm rate error over the span */
        double span = m ? x[m - 1] / w->header_rate_hz : 0;
        for (int i = 0; i < m; i++)
            if (fabs(y[i] - x[i] / w->header_rate_hz - med) > 1e-3 + 1e-3 * span) {
                use[i] = 0;
                w->n_rejected++;
            }
    }
    int k = 0;
    for (int i = 0; i < m; i++)
        k += use[i];
    if (k == 0)
        goto done;
    double a = 0, b = 0;
    if (k >= 2) {
        line_fit(x, y, use, m, &a, &b);
        /* iteratively drop a residual beyond 100 us (a stale stamp that agreed
         * roughly) while at least 3 points remain */
        for (;;) {
            int worst = -1;
            double wr = 0;
            for (int i = 0; i < m; i++)
                if (use[i] && fabs(y[i] - a - b * x[i]) > wr) {
                    wr = fabs(y[i] - a - b * x[i]);
                    worst = i;
                }
            if (wr <= 1e-4 || k <= 2)
                break;
            use[worst] = 0;
            w->n_rejected++;
            k--;
            line_fit(x, y, use, m, &a, &b);
        }
        if (!(b > 0)) {
            rc = hd_error(HD_EDATA, "GPS time stamps do not increase with the sample index");
            goto done;
        }
        w->fit_rate_hz = 1.0 / b;
    } else {
        b = 1.0 / w->header_rate_hz;
        for (int i = 0; i < m; i++)
            if (use[i])
                a = y[i] - b * x[i];
    }
    double ss = 0;
    for (int i = 0; i < m; i++)
        if (use[i])
            ss += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
    w->fit_rms_s = sqrt(ss / k);
    w->n_fit = k;
    w->fit_t0_gps_s = (double)w->blocks[ref].gps_sec + 1e-9 * (double)w->blocks[ref].gps_nsec + a;
done:
    free(x);
    free(y);
    free(use);
    return rc;
}

int hd_kiwiwav_encode(uint32_t rate_hz, const int16_t *iq, int64_t n, const hd_kiwi_block *stamps,
                      unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n <= 0 || n > HD_KIWI_MAX_SAMPLES || rate_hz == 0)
        return hd_error(HD_EINVAL, "cannot write %lld samples at %u Hz", (long long)n, rate_hz);
    int64_t nb = (n + HD_KIWI_BLOCK - 1) / HD_KIWI_BLOCK;
    size_t len = 12 + 8 + 16 + (size_t)nb * (8 + 10 + 8) + (size_t)n * 4;
    unsigned char *p = hd_malloc(len), *q = p;
    if (!p)
        return HD_ENOMEM;
    memcpy(q, "RIFF", 4);
    wr32(q + 4, (uint32_t)(len - 8));
    memcpy(q + 8, "WAVE", 4);
    q += 12;
    memcpy(q, "fmt ", 4);
    wr32(q + 4, 16);
    wr16(q + 8, 1);
    wr16(q + 10, 2);
    wr32(q + 12, rate_hz);
    wr32(q + 16, rate_hz * 4);
    wr16(q + 20, 4);
    wr16(q + 22, 16);
    q += 24;
    for (int64_t k = 0; k < nb; k++) {
        int64_t first = k * HD_KIWI_BLOCK, m = n - first < HD_KIWI_BLOCK ? n - first : HD_KIWI_BLOCK;
        memcpy(q, "kiwi", 4);
        wr32(q + 4, 10);
        q[8] = stamps[k].last_gps_solution;
        q[9] = 0;
        wr32(q + 10, stamps[k].gps_sec);
        wr32(q + 14, stamps[k].gps_nsec);
        q += 18;
        memcpy(q, "data", 4);
        wr32(q + 4, (uint32_t)(m * 4));
        q += 8;
        for (int64_t i = 0; i < 2 * m; i++) {
            wr16(q, (uint16_t)iq[2 * first + i]);
            q += 2;
        }
    }
    *out = p;
    *out_len = len;
    return 0;
}

int hd_kiwiwav_write(const char *path, uint32_t rate_hz, const int16_t *iq, int64_t n,
                     const hd_kiwi_block *stamps, int force)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    char tmp[4200];
    if (!force && access(path, F_OK) == 0)
        return hd_error(HD_EEXIST, "%s exists (use --force to overwrite)", path);
    int rc = hd_kiwiwav_encode(rate_hz, iq, n, stamps, &buf, &len);
    if (rc < 0)
        return rc;
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%ld", dl, path, slash ? slash + 1 : path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = hd_error(HD_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    size_t wrote = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || wrote != len) {
        rc = hd_error(HD_EIO, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = hd_error(HD_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
done:
    free(buf);
    return rc;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int hd_kiwiwav_name_parse(const char *path, int64_t *time_ns, double *freq_hz, char *station, size_t station_len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t L = strlen(b);
    int Y, Mo, D, h, mi, s;
    if (L < 16 + 1 + 1 + 1 + 1 + 7 || b[8] != 'T' || b[15] != 'Z' || b[16] != '_' || digits(b, 4, &Y) ||
        digits(b + 4, 2, &Mo) || digits(b + 6, 2, &D) || digits(b + 9, 2, &h) || digits(b + 11, 2, &mi) ||
        digits(b + 13, 2, &s) || strcmp(b + L - 7, "_iq.wav") != 0 || Mo < 1 || Mo > 12 || D < 1 || D > 31 ||
        h > 23 || mi > 59 || s > 60)
        return hd_error(HD_EFORMAT, "%s: the name is not YYYYMMDDTHHMMSSZ_<freqHz>_<station>_iq.wav", b);
    char *e;
    errno = 0;
    double f = strtod(b + 17, &e);
    if (e == b + 17 || *e != '_' || errno || !(f > 0))
        return hd_error(HD_EFORMAT, "%s: no frequency in Hz after the time", b);
    const char *st = e + 1, *st_end = b + L - 7;
    if (st_end <= st)
        return hd_error(HD_EFORMAT, "%s: no station name", b);
    if ((size_t)(st_end - st) >= station_len)
        return hd_error(HD_EFORMAT, "%s: station name longer than %zu characters", b, station_len - 1);
    memcpy(station, st, (size_t)(st_end - st));
    station[st_end - st] = 0;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = Mo - 1, .tm_mday = D, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    *time_ns = (int64_t)timegm(&tm) * 1000000000LL;
    *freq_hz = f;
    return 0;
}

void hd_kiwiwav_name_format(char *buf, size_t len, int64_t time_ns, double freq_hz, const char *station)
{
    time_t t = (time_t)(time_ns >= 0 ? time_ns / 1000000000LL : (time_ns - 999999999LL) / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d%02d%02dT%02d%02d%02dZ_%.0f_%s_iq.wav", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, freq_hz, station);
}

int64_t hd_gps_week_to_unix_ns(double gps_week_s, int64_t near_unix_ns)
{
    int64_t gps_near_s = near_unix_ns / 1000000000LL - GPS_EPOCH_UNIX_S + HD_GPS_UTC_LEAP_S;
    int64_t week = gps_near_s >= 0 ? gps_near_s / WEEK_S : (gps_near_s - WEEK_S + 1) / WEEK_S;
    int64_t whole = (int64_t)floor(gps_week_s);
    int64_t frac_ns = (int64_t)llround((gps_week_s - (double)whole) * 1e9);
    int64_t best = 0, bestd = -1;
    for (int64_t wk = week - 1; wk <= week + 1; wk++) {
        int64_t u = (GPS_EPOCH_UNIX_S + wk * WEEK_S + whole - HD_GPS_UTC_LEAP_S) * 1000000000LL + frac_ns;
        int64_t d = u > near_unix_ns ? u - near_unix_ns : near_unix_ns - u;
        if (bestd < 0 || d < bestd) {
            bestd = d;
            best = u;
        }
    }
    return best;
}

void hd_unix_ns_to_gps_week(int64_t unix_ns, uint32_t *sec, uint32_t *nsec)
{
    int64_t g = unix_ns - (GPS_EPOCH_UNIX_S - HD_GPS_UTC_LEAP_S) * 1000000000LL;
    int64_t wk_ns = WEEK_S * 1000000000LL;
    int64_t r = g % wk_ns;
    if (r < 0)
        r += wk_ns;
    *sec = (uint32_t)(r / 1000000000LL);
    *nsec = (uint32_t)(r % 1000000000LL);
}

void hd_kiwi_stamps(hd_kiwi_block *st, int nb, int64_t t0_ns, double rate_hz, int gps_ok, int last_gps_solution_s)
{
    for (int b = 0; b < nb; b++) {
        int64_t tb = t0_ns + llround((double)b * HD_KIWI_BLOCK * 1e9 / rate_hz);
        hd_unix_ns_to_gps_week(tb, &st[b].gps_sec, &st[b].gps_nsec);
        int lgs = gps_ok ? 0 : last_gps_solution_s + (int)((double)b * HD_KIWI_BLOCK / rate_hz);
        st[b].last_gps_solution = (uint8_t)(gps_ok ? 0 : lgs < 1 ? 1 : lgs > 255 ? 255 : lgs);
    }
}

void hd_kiwi_gnss_pos_format(char *buf, size_t len, const char *station, double lat, double lon, const char *url)
{
    const char *host = url;
    if (strncmp(host, "ws://", 5) == 0 || strncmp(host, "http://", 7) == 0)
        host = strstr(host, "//") + 2;
    char vname[HD_KIWI_NAME_LEN];
    hd_kiwi_octave_name(vname, sizeof vname, station);
    snprintf(buf, len, "d.%s = struct('coord',[%.6f,%.6f],'host','%.*s','port',8073);\n", vname, lat, lon,
             (int)strcspn(host, ":/"), host);
}

void hd_kiwi_octave_name(char *buf, size_t len, const char *station)
{
    /* the TDoA service's vname: the file name's station with '-' as '_' */
    size_t i = 0;
    for (; station[i] && i + 1 < len; i++) {
        char c = station[i];
        buf[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ? c : '_';
    }
    if (len)
        buf[i] = 0;
}

static int gnss_pos_key(const char *text, const char *name, double *lat, double *lon)
{
    char key[160];
    snprintf(key, sizeof key, "d.%s", name);
    size_t kl = strlen(key);
    for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
        const char *q = p + kl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=' || (p > text && (p[-1] != '\n' && p[-1] != ' ' && p[-1] != '\t' && p[-1] != ';')))
            continue;
        const char *c = strstr(q, "'coord'");
        const char *nl = strchr(q, '\n');
        if (!c || (nl && c > nl))
            break;
        c = strchr(c, '[');
        if (!c || (nl && c > nl))
            break;
        char *e;
        double la = strtod(c + 1, &e);
        if (e == c + 1)
            break;
        while (*e == ' ' || *e == ',')
            e++;
        char *e2;
        double lo = strtod(e, &e2);
        if (e2 == e || !isfinite(la) || !isfinite(lo) || fabs(la) > 90 || fabs(lo) > 360)
            break;
        *lat = la;
        *lon = lo > 180 ? lo - 360 : lo < -180 ? lo + 360 : lo; /* west of -180 too (found by fuzz_gnss_pos) */
        return 0;
    }
    return HD_ENOTFOUND;
}

int hd_kiwi_gnss_pos_parse(const char *text, const char *station, double *lat, double *lon)
{
    char vname[HD_KIWI_NAME_LEN];
    hd_kiwi_octave_name(vname, sizeof vname, station);
    /* the Octave name, then the raw id (files written before ids were sanitised) */
    if (gnss_pos_key(text, vname, lat, lon) == 0 ||
        (strcmp(vname, station) != 0 && gnss_pos_key(text, station, lat, lon) == 0))
        return 0;
    return hd_error(HD_ENOTFOUND, "no 'd.%s = struct('coord',[lat,lon],...)' line", vname);
}

static int gnss_pos_file(const char *path, const char *station, double *lat, double *lon)
{
    char *text = NULL;
    size_t len;
    if (access(path, R_OK) != 0)
        return hd_error(HD_ENOTFOUND, "%s not found", path);
    int rc = hd_read_file(path, &text, &len);
    if (rc < 0)
        return rc;
    rc = hd_kiwi_gnss_pos_parse(text, station, lat, lon);
    free(text);
    if (rc < 0)
        return hd_error_context(rc, "%s", path);
    return 0;
}

int hd_kiwi_gnss_pos_find(const char *gnss_dir, const char *station, double *lat, double *lon, char *found,
                          size_t found_len)
{
    char path[4200], vname[HD_KIWI_NAME_LEN];
    hd_kiwi_octave_name(vname, sizeof vname, station);
    const char *names[2] = {station, vname};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && strcmp(vname, station) == 0)
            break;
        snprintf(path, sizeof path, "%s/%s.txt", gnss_dir, names[i]);
        int rc = gnss_pos_file(path, station, lat, lon);
        if (rc != HD_ENOTFOUND) {
            if (rc == 0 && found)
                snprintf(found, found_len, "%s", path);
            return rc;
        }
    }
    /* the TDoA service sources every .txt in gnss_pos/: the line may be in any */
    glob_t g;
    snprintf(path, sizeof path, "%s/*.txt", gnss_dir);
    int rc = HD_ENOTFOUND;
    if (glob(path, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && rc == HD_ENOTFOUND; i++)
            if ((rc = gnss_pos_file(g.gl_pathv[i], station, lat, lon)) == 0 && found)
                snprintf(found, found_len, "%s", g.gl_pathv[i]);
        globfree(&g);
    }
    if (rc == HD_ENOTFOUND)
        return hd_error(HD_ENOTFOUND, "no d.%s line in %s/*.txt", vname, gnss_dir);
    return rc;
}

int hd_kiwi_gnss_pos_read(const char *dir, const char *station, double *lat, double *lon)
{
    char gdir[4200];
    snprintf(gdir, sizeof gdir, "%s/gnss_pos", dir);
    return hd_kiwi_gnss_pos_find(gdir, station, lat, lon, NULL, 0);
}
