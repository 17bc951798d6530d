/* Run metrics of one command: wall time, events, events per second, peak
 * memory, and each MPI rank's time. The clock starts when the command's
 * options are parsed; the command says how many events it handled; the
 * output file records the figures (hd_h5_write_provenance) and, with
 * --metrics FILE, one JSON line is appended per run for a dashboard to
 * tail. */
#ifndef HD_CORE_RUNINFO_H
#define HD_CORE_RUNINFO_H
#include <stdint.h>
#include <mpi.h>

void hd_runinfo_start(const char *command);
void hd_runinfo_set_events(int64_t events);
void hd_runinfo_set_metrics_path(const char *path); /* NULL: none */
void hd_runinfo_set_output(const char *path);

typedef struct {
    double wall_s;           /* this rank, since the start */
    int64_t events;
    double events_per_s;     /* events / the slowest rank's wall time */
    double peak_rss_mb;      /* the largest over ranks */
    int ranks;
    double rank_wall_s[1024];   /* first min(ranks, 1024) */
    double rank_peak_rss_mb[1024];
} hd_runinfo;

/* Snapshot now; collective over comm when comm is not MPI_COMM_NULL and MPI
 * is active (every rank gets the gathered figures). */
void hd_runinfo_snapshot(hd_runinfo *r, MPI_Comm comm);
/* Append the JSON line (rank 0 of the last snapshot's world) when a metrics
 * path was set; status is the command's exit status. Returns 0 or < 0. */
int hd_runinfo_emit(int status);

#endif
