#include "core/progress.h"
#include "core/log.h"
#include "core/util.h"

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

static void fmt_duration(double s, char *buf, size_t n)
{
    if (s < 0 || s != s || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
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

static void progress_print(hd_progress *p, double now, int final)
{
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : -1;
    char e1[32], e2[32];
    fmt_duration(el, e1, sizeof e1);
    fmt_duration(eta, e2, sizeof e2);
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %lld/%lld %s %5.1f%% %.1f %s/s elapsed %s eta %s\033[K%s", p->label, bar,
                (long long)p->done, (long long)p->total, p->unit, 100 * frac, rate, p->unit, e1,
                final ? "00:00" : e2, final ? "\n" : "");
    } else {
        fprintf(stderr, "%s: %lld/%lld %s (%.1f%%), %.1f %s/s, elapsed %s, eta %s\n", p->label,
                (long long)p->done, (long long)p->total, p->unit, 100 * frac, rate, p->unit, e1,
                final ? "00:00" : e2);
    }
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
