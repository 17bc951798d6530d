/* Progress reporting on stderr, rank 0 only. On a terminal: one updating
 * line with a bar, rate and ETA. Otherwise (logs, Slurm): a plain line every
 * `interval` seconds (default 10). Silent when quiet. */
#ifndef HD_CORE_PROGRESS_H
#define HD_CORE_PROGRESS_H
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
/* Monotonic wall clock in seconds. */
double hd_now(void);

#endif
