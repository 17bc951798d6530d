#include "core/util.h"
#include "core/alloc.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

size_t hd_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int hd_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255)
        return (int)(la > lb ? la : lb);
    int row[256];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = diag + cost;
            if (row[j] + 1 < v) v = row[j] + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
        }
    }
    return row[lb];
}

int hd_closest(const char *word, const char *const *cands, int n)
{
    int best = -1, bestd = 1 << 30;
    int limit = (int)strlen(word) / 3;
    if (limit < 2)
        limit = 2;
    for (int i = 0; i < n; i++) {
        int d = hd_edit_distance(word, cands[i]);
        /* a prefix match ("evt" for "events") also counts as close */
        if (strncmp(word, cands[i], strlen(word)) == 0 && strlen(word) >= 2)
            d = d < limit ? d : limit;
        if (d < bestd) {
            bestd = d;
            best = i;
        }
    }
    return bestd <= limit ? best : -1;
}

static void to_hex(const unsigned char *md, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
}

int hd_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        return hd_error(HD_EIO, "sha256 failed");
    to_hex(md, n, hex);
    return 0;
}

/* The mapped window: what hashing adds to the resident memory. 1 MiB:
 * hashing a 129 MB captures file 87 ms with windows of 32 or 4 MiB, 90 ms
 * with 1 MiB. A window of 32 MiB added up to 32 MiB to the peak RSS of any
 * command whose input exceeded it (provenance, at the end), and the 4 MiB
 * one of featurize's hash beside the work 4 MiB once the input was large
 * enough for the hash to overlap the work's peak (bench scale: featurize's
 * peak 30.8 MiB at 10^4 events, 34.6 at 10^5). */
#define HASH_WINDOW ((off_t)1 << 20)

static int sha256_file(const char *path, char hex[65])
{
    int rc = HD_EIO;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = NULL;
    unsigned char buf[1 << 16];
    if (!f)
        return hd_error(HD_EIO, "cannot open %s: %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        hd_error(HD_EIO, "sha256 of %s: cannot initialise", path);
        goto fail;
    }
    /* a regular file is hashed from read-only mappings (no copy out of the
     * page cache: the captures file is the largest input), one window at a
     * time so the resident memory stays bounded whatever the file's size;
     * else read */
    struct stat sb;
    int mapped = 0;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        const off_t W = HASH_WINDOW;
        mapped = 1;
        for (off_t off = 0; off < sb.st_size && mapped; off += W) {
            size_t len = (size_t)(sb.st_size - off < W ? sb.st_size - off : W);
            void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fileno(f), off);
            if (map == MAP_FAILED) {
                if (off > 0) {
                    hd_error(HD_EIO, "sha256 of %s: cannot map it past %lld bytes", path, (long long)off);
                    goto fail;
                }
                mapped = 0;
                break;
            }
            EVP_DigestUpdate(ctx, map, len);
            munmap(map, len);
        }
    }
    if (!mapped) {
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            EVP_DigestUpdate(ctx, buf, n);
    }
    if (ferror(f)) {
        hd_error(HD_EIO, "reading %s: %s", path, strerror(errno));
        goto fail;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    to_hex(md, mdlen, hex);
    rc = 0;
fail:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}

/* An input hashed beside the work (hd_sha256_file_start): one at a time,
 * its result kept for hd_sha256_file of the same, unchanged file. */
static struct {
    int started, joined;
    pthread_t th;
    char path[1024];
    struct stat st;              /* the file as it was when the hash began */
    char hex[65];
    int rc;
    char msg[512];
} pre;

static void *prehash_run(void *arg)
{
    (void)arg;
    pre.rc = sha256_file(pre.path, pre.hex);
    if (pre.rc < 0)
        snprintf(pre.msg, sizeof pre.msg, "%s", hd_errmsg());
    return NULL;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

void hd_sha256_file_start(const char *path)
{
    if (pre.started || strlen(path) >= sizeof pre.path || stat(path, &pre.st) != 0 || !S_ISREG(pre.st.st_mode))
        return;
    hd_strlcpy(pre.path, path, sizeof pre.path);
    pre.joined = 0;
    pre.started = pthread_create(&pre.th, NULL, prehash_run, NULL) == 0;
}

int hd_sha256_file(const char *path, char hex[65])
{
    if (pre.started && strcmp(path, pre.path) == 0) {
        if (!pre.joined)
            pthread_join(pre.th, NULL);
        pre.joined = 1;
        struct stat now;
        if (pre.rc == 0 && stat(path, &now) == 0 && same_file(&now, &pre.st)) {
            memcpy(hex, pre.hex, 65);
            return 0;
        }
        if (pre.rc < 0)
            return hd_error(pre.rc, "%s", pre.msg);
        /* changed since: hashed again, now */
    }
    return sha256_file(path, hex);
}

int hd_time_parse_iso8601(const char *s, int64_t *ns)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, pos = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &pos) != 3)
        goto bad;
    const char *p = s + pos;
    int64_t frac_ns = 0, tz = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int n2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n2) != 3)
            goto bad;
        p += 1 + n2;
        if (*p == '.') {
            p++;
            int64_t scale = 100000000;
            if (!isdigit((unsigned char)*p))
                goto bad;
            while (isdigit((unsigned char)*p)) {
                frac_ns += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int th, tm, n3 = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &th, &tm, &n3) != 2 || th < 0 || th > 23 || tm < 0 || tm > 59)
                goto bad;
            tz = (int64_t)(th * 3600 + tm * 60) * (*p == '+' ? 1 : -1);
            p += 1 + n3;
        }
    }
    /* int64 nanoseconds since 1970 span 1678 to 2261 */
    if (*p != '\0' || y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        goto bad;
    struct tm tmv = {0};
    tmv.tm_year = y - 1900;
    tmv.tm_mon = mo - 1;
    tmv.tm_mday = d;
    tmv.tm_hour = h;
    tmv.tm_min = mi;
    tmv.tm_sec = sec;
    time_t t = timegm(&tmv);
    *ns = ((int64_t)t - tz) * 1000000000LL + frac_ns;
    return 0;
bad:
    return hd_error(HD_EINVAL, "'%s' is not an ISO 8601 time (expected e.g. 2026-06-01T08:00:00Z)", s);
}

void hd_time_format_iso8601(int64_t ns, char buf[40])
{
    int64_t sec = ns >= 0 ? ns / 1000000000LL : -((-ns + 999999999LL) / 1000000000LL);
    int64_t frac = ns - sec * 1000000000LL;
    time_t t = (time_t)sec;
    struct tm tmv;
    gmtime_r(&t, &tmv);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tmv);
    snprintf(buf, 40, "%.19s.%09dZ", date, (int)frac);
}

int64_t hd_time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int hd_read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return hd_error(HD_EIO, "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = hd_reallocarray(buf, ncap, 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return HD_ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return hd_error(HD_EIO, "reading %s: %s", path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
}
