/* Progress reporting on stderr, rank 0 only. On a terminal: one updating
 * line with a bar, rate and ETA. Otherwise (logs, Slurm): a plain line every
 * `interval` seconds (default 10). Silent when quiet. */
#ifndef HD_CORE_PROGRESS_H
#define HD_CORE_PROGRESS_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char label[48];
    char unit[16];
    int64_t total;
    int64_t done;
    double t_start, t_last;
    double interval;
    int tty;
    int quiet;
} hd_progress;

void hd_progress_start(hd_progress *p, const char *label, const char *unit, int64_t total, int quiet);
void hd_progress_update(hd_progress *p, int64_t done);
void hd_progress_finish(hd_progress *p);
/* The line progress prints at time `now` (tty: with a bar), into buf[n]:
 * "eta" is rounded up (never 00:00 before the end), absent until something
 * is done, and a final line before the total reads "stopped". */
int hd_progress_format(const hd_progress *p, double now, int final, int tty, char *buf, size_t n);
/* Monotonic wall clock in seconds. */
double hd_now(void);

#endif
