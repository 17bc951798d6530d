#include "core/runinfo.h"
#include "core/error.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct {
    char command[32];
    char output[1024];
    char metrics[1024];
    double t0;
    int64_t events;
    int have_snapshot;
    hd_runinfo last;
} st;

void hd_runinfo_start(const char *command)
{
    hd_strlcpy(st.command, command, sizeof st.command);
    st.t0 = hd_now();
    st.events = 0;
    st.have_snapshot = 0;
}

void hd_runinfo_set_events(int64_t events) { st.events = events; }
void hd_runinfo_set_output(const char *path) { hd_strlcpy(st.output, path ? path : "", sizeof st.output); }
void hd_runinfo_set_metrics_path(const char *path) { hd_strlcpy(st.metrics, path ? path : "", sizeof st.metrics); }

static double peak_rss_mb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_maxrss / 1024.0 : 0; /* ru_maxrss in KiB on Linux */
}

void hd_runinfo_snapshot(hd_runinfo *r, MPI_Comm comm)
{
    memset(r, 0, sizeof *r);
    r->wall_s = hd_now() - st.t0;
    r->events = st.events;
    r->ranks = 1;
    double mine[2] = {r->wall_s, peak_rss_mb()};
    int size = 1;
    if (comm != MPI_COMM_NULL && hd_par_active())
        MPI_Comm_size(comm, &size);
    if (size > 1) {
        double *all = calloc((size_t)size * 2, sizeof *all);
        if (all) {
            MPI_Allgather(mine, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, comm);
            r->ranks = size;
            for (int i = 0; i < size && i < 1024; i++) {
                r->rank_wall_s[i] = all[2 * i];
                r->rank_peak_rss_mb[i] = all[2 * i + 1];
            }
            free(all);
        }
    } else {
        r->rank_wall_s[0] = mine[0];
        r->rank_peak_rss_mb[0] = mine[1];
    }
    double slowest = 0;
    for (int i = 0; i < r->ranks && i < 1024; i++) {
        slowest = r->rank_wall_s[i] > slowest ? r->rank_wall_s[i] : slowest;
        r->peak_rss_mb = r->rank_peak_rss_mb[i] > r->peak_rss_mb ? r->rank_peak_rss_mb[i] : r->peak_rss_mb;
    }
    r->events_per_s = slowest > 0 ? r->events / slowest : 0;
    st.last = *r;
    st.have_snapshot = 1;
}

int hd_runinfo_emit(int status)
{
    if (!st.metrics[0] || hd_par_rank() != 0)
        return 0;
    hd_runinfo r;
    if (!st.have_snapshot) /* a command that wrote no file: this rank's figures */
        hd_runinfo_snapshot(&r, MPI_COMM_NULL);
    r = st.last;
    r.wall_s = hd_now() - st.t0; /* the whole run, to the end */
    char t[40];
    hd_time_format_iso8601(hd_time_now_ns(), t);
    json_t *ranks = json_array(), *rss = json_array();
    for (int i = 0; i < r.ranks && i < 1024; i++) {
        json_array_append_new(ranks, json_real(r.rank_wall_s[i]));
        json_array_append_new(rss, json_real(r.rank_peak_rss_mb[i]));
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:f, s:I, s:f, s:f, s:i, s:o, s:o}", "time", t, "command", st.command,
                          "output", st.output, "status", status, "wall_s", r.wall_s, "events", (json_int_t)r.events,
                          "events_per_s", r.events_per_s, "peak_rss_mb", r.peak_rss_mb, "ranks", r.ranks,
                          "rank_wall_s", ranks, "rank_peak_rss_mb", rss);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!line)
        return hd_error(HD_ENOMEM, "cannot format the metrics line");
    /* one write of a whole line with O_APPEND: a dashboard tailing the file
     * never sees half a record, even from concurrent jobs */
    size_t n = strlen(line);
    line[n] = '\n';
    int fd = open(st.metrics, O_WRONLY | O_CREAT | O_APPEND, 0644), rc = 0;
    if (fd < 0 || write(fd, line, n + 1) != (ssize_t)(n + 1))
        rc = hd_error(HD_EIO, "cannot append to the metrics file %s: %s", st.metrics, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(line);
    return rc;
}
