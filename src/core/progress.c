#include "core/progress.h"
#include "core/log.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double hd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* seconds as MM:SS or H:MM:SS; ceil: time still to go never reads 00:00
 * before the end */
static void fmt_duration(double s, char *buf, size_t n, int up)
{
    if (s < 0 || s != s || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = up ? (long)ceil(s - 1e-6) : (long)(s + 0.5); /* (rounding noise is not a second more) */
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void hd_progress_start(hd_progress *p, const char *label, const char *unit, int64_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    hd_strlcpy(p->label, label, sizeof p->label);
    hd_strlcpy(p->unit, unit, sizeof p->unit);
    p->total = total;
    p->t_start = p->t_last = hd_now();
    p->tty = isatty(STDERR_FILENO);
    p->interval = p->tty ? 0.2 : 10.0;
    p->quiet = quiet || hd_log_rank() != 0 || hd_log_get_level() < HD_LOG_INFO;
}

int hd_progress_format(const hd_progress *p, double now, int final, int tty, char *buf, size_t n)
{
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    /* no estimate until something is done; a run ended early has none */
    double eta = rate > 0 && p->done > 0 ? (double)(p->total - p->done) / rate : -1;
    char e1[32], e2[40];
    fmt_duration(el, e1, sizeof e1, 0);
    if (final && p->done >= p->total)
        snprintf(e2, sizeof e2, "eta 00:00");
    else if (final)
        snprintf(e2, sizeof e2, "stopped");
    else {
        char t[32];
        fmt_duration(eta, t, sizeof t, 1);
        snprintf(e2, sizeof e2, "eta %s", t);
    }
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    if (tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        return snprintf(buf, n, "%s [%s] %lld/%lld %s %5.1f%% %.1f %s/s elapsed %s %s", p->label, bar,
                        (long long)p->done, (long long)p->total, p->unit, 100 * frac, rate, p->unit, e1, e2);
    }
    return snprintf(buf, n, "%s: %lld/%lld %s (%.1f%%), %.1f %s/s, elapsed %s, %s", p->label, (long long)p->done,
                    (long long)p->total, p->unit, 100 * frac, rate, p->unit, e1, e2);
}

static void progress_print(hd_progress *p, double now, int final)
{
    char line[256];
    hd_progress_format(p, now, final, p->tty, line, sizeof line);
    if (p->tty)
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void hd_progress_update(hd_progress *p, int64_t done)
{
    p->done = done;
    if (p->quiet)
        return;
    double now = hd_now();
    if (now - p->t_last < p->interval)
        return;
    p->t_last = now;
    progress_print(p, now, 0);
}

void hd_progress_finish(hd_progress *p)
{
    if (p->quiet)
        return;
    progress_print(p, hd_now(), 1);
}
