/* capture/campaign: the block loop every campaign source drives, with a
 * fake source (keep drops every third event; render writes a pattern made
 * from the event number). Alone: the plan's counts, blocks of at most
 * `block` events, the file read back, interruption and failure leaving no
 * file. On 3 ranks: contiguous blocks per rank, file offsets after lower
 * ranks, the same number of collective writes everywhere, the file
 * identical to the one written alone, an interruption or a failure on one
 * rank aborting every rank. Run alone, it starts itself under
 * mpirun -np 3 (rank 0 speaks TAP). */
#include "capture/campaign.h"
#include "core/error.h"
#include "core/par.h"
#include "tap.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#define E 37
#define R 2
#define N 8
#define L 3
#define B 4

typedef struct {
    int render_calls, rendered, max_n, ascending, checks;
    int64_t last_id;
    int interrupt_at;   /* interrupted() says yes from its interrupt_at-th call (0: never) */
    int fail_at;        /* render fails on its fail_at-th call (0: never) */
    int keep_fail_at;   /* keep fails for this event (-1: never) */
} fake;

static fake F;

static int fake_keep(void *ctx, int64_t i)
{
    (void)ctx;
    if (i == F.keep_fail_at)
        return hd_error(HD_EIO, "keep failed at %lld", (long long)i);
    return i % 3 != 2;
}

static int16_t pattern(int64_t id, int r, int s) { return (int16_t)(id * 100 + r * 10 + s); }

static int fake_render(void *ctx, const int64_t *ids, int n, hd_event *ev, hd_link *links, int16_t *iq, float *levels)
{
    (void)ctx;
    F.render_calls++;
    if (F.fail_at && F.render_calls == F.fail_at)
        return hd_error(HD_EIO, "render failed");
    F.rendered += n;
    F.max_n = n > F.max_n ? n : F.max_n;
    for (int k = 0; k < n; k++) {
        if (ids[k] <= F.last_id)
            F.ascending = 0;
        F.last_id = ids[k];
        memset(&ev[k], 0, sizeof ev[k]);
        ev[k].index = ids[k];
        ev[k].time_ns = 1780300800000000000LL + ids[k] * 1000000000LL;
        ev[k].frequency_hz = 145.5e6;
        ev[k].sample_rate_hz = 24000;
        ev[k].n_samples = N;
        ev[k].n_levels = L;
        hd_tx_truth_unknown(&ev[k].truth);
        for (int r = 0; r < R; r++) {
            hd_link *lk = &links[k * R + r];
            memset(lk, 0, sizeof *lk);
            lk->status = HD_RX_OK;
            lk->has_iq = 1;
            lk->t0_s = 1e-3 * (double)ids[k] + r;
            hd_link_truth_unknown(&lk->truth);
            for (int s = 0; s < N * 2; s++)
                iq[((size_t)k * R + r) * N * 2 + s] = pattern(ids[k], r, s);
            for (int l = 0; l < L; l++)
                levels[((size_t)k * R + r) * L + l] = (float)(-50.0 - (double)ids[k] - l);
        }
    }
    return 0;
}

static int fake_interrupted(void)
{
    F.checks++;
    return F.interrupt_at && F.checks >= F.interrupt_at;
}

static void fake_reset(void)
{
    memset(&F, 0, sizeof F);
    F.ascending = 1;
    F.last_id = -1;
    F.keep_fail_at = -1;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* files in dir other than those named keep (NULL-terminated) */
static int stray_files(const char *dir, const char *keep1)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (!keep1 || strcmp(de->d_name, keep1)))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* the file holds the kept events 0..E in order, with the fake pattern */
static int file_ok(const char *path, int64_t want_events)
{
    hd_captures_reader rd;
    if (hd_captures_open(&rd, path, MPI_COMM_NULL) < 0)
        return 0;
    int good = rd.n_events == want_events && rd.n_receivers == R && rd.n_samples == N && rd.n_levels == L;
    hd_event ev[E];
    hd_link lk[E * R];
    int16_t iq[E * R * N * 2];
    float lv[E * R * L];
    if (good && hd_captures_read_block(&rd, 0, rd.n_events, ev, lk, iq, lv) < 0)
        good = 0;
    int64_t next = 0;
    for (int64_t k = 0; good && k < rd.n_events; k++) {
        while (next % 3 == 2)
            next++;
        good &= ev[k].index == next;
        for (int r = 0; r < R; r++) {
            good &= lk[k * R + r].t0_s == 1e-3 * (double)next + r;
            for (int s = 0; s < N * 2; s++)
                good &= iq[(k * R + r) * N * 2 + s] == pattern(next, r, s);
            good &= lv[(k * R + r) * L + 2] == (float)(-50.0 - (double)next - 2);
        }
        next++;
    }
    hd_captures_release(&rd);
    return good;
}

static hd_station ST[R];
static hd_h5_provenance PROV = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                                .command_line = "test_campaign", .config_yaml = "seed: 1\n"};

static hd_capture_campaign campaign(MPI_Comm comm)
{
    return (hd_capture_campaign){.n_events = E, .n_receivers = R, .n_samples = N, .n_levels = L, .block = B,
                                 .keep = fake_keep, .render = fake_render, .interrupted = fake_interrupted,
                                 .comm = comm};
}

static hd_capture_output output(const char *path)
{
    return (hd_capture_output){.path = path, .receivers = ST, .compression = 1, .what = HD_CAPTURES_BULK,
                               .source = "test", .prov = &PROV, .quiet = 1};
}

static void serial_tests(const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/alone.h5", dir);
    hd_capture_campaign c = campaign(MPI_COMM_NULL);
    hd_capture_plan p;
    fake_reset();
    int rc = hd_capture_plan_init(&p, &c);
    ok(rc == 0, "plan alone");
    is_int(p.begin, 0, "alone: the block starts at event 0");
    is_int(p.end, E, "alone: and ends at the campaign's end");
    is_int(p.n_kept, 25, "25 of 37 events kept");
    is_int(p.dropped, 12, "12 dropped");
    is_int(p.total, 25, "total kept");
    is_int(p.offset, 0, "offset 0");
    is_int(F.render_calls, 0, "nothing rendered while planning");
    hd_capture_output o = output(path);
    rc = hd_capture_campaign_write(&c, &p, &o);
    ok(rc == 0, "write alone: %s", rc ? hd_errmsg() : "ok");
    is_int(F.render_calls, 7, "ceil(25 / 4) = 7 blocks rendered");
    is_int(F.max_n, B, "no block larger than 4 events");
    is_int(F.rendered, 25, "every kept event rendered once");
    ok(F.ascending, "in ascending event order");
    is_int(F.checks, 8, "interruption checked before each block and before the commit");
    ok(file_ok(path, 25), "the file holds the 25 kept events, pattern intact");
    is_int(stray_files(dir, "alone.h5"), 0, "no temporary file left beside it");

    /* an existing file is not overwritten without force */
    fake_reset();
    rc = hd_capture_campaign_write(&c, &p, &o);
    is_int(rc, HD_EEXIST, "an existing output refused without force");
    is_int(F.render_calls, 0, "nothing rendered then");
    ok(file_ok(path, 25), "the existing file untouched");
    unlink(path);

    /* interrupted before the third block */
    fake_reset();
    F.interrupt_at = 3;
    rc = hd_capture_campaign_write(&c, &p, &o);
    is_int(rc, HD_EINTR, "interrupted: HD_EINTR");
    like(hd_errmsg(), "not written", "says the file was not written");
    is_int(F.render_calls, 2, "two blocks rendered, no more");
    ok(!exists(path), "interrupted: no file under the output name");
    is_int(stray_files(dir, NULL), 0, "interrupted: no temporary file either");

    /* interrupted after the last block, before the commit */
    fake_reset();
    F.interrupt_at = 8;
    rc = hd_capture_campaign_write(&c, &p, &o);
    is_int(rc, HD_EINTR, "interrupted after the last block: HD_EINTR");
    ok(!exists(path) && stray_files(dir, NULL) == 0, "and still no file");

    /* a failing block */
    fake_reset();
    F.fail_at = 4;
    rc = hd_capture_campaign_write(&c, &p, &o);
    is_int(rc, HD_EIO, "a failing render's code comes back");
    like(hd_errmsg(), "render failed", "with its message");
    ok(!exists(path) && stray_files(dir, NULL) == 0, "failure: no file");
    hd_capture_plan_release(&p);

    /* keep NULL keeps everything; a failing keep fails the plan */
    c.keep = NULL;
    fake_reset();
    ok(hd_capture_plan_init(&p, &c) == 0 && p.n_kept == E && p.dropped == 0, "no keep: every event kept");
    hd_capture_plan_release(&p);
    c.keep = fake_keep;
    fake_reset();
    F.keep_fail_at = 10;
    rc = hd_capture_plan_init(&p, &c);
    ok(rc == HD_EIO && p.mark == NULL && p.n_kept == 0, "a failing keep fails the plan, which stays empty");
}

/* On every rank; rank 0 reports. */
static void parallel_tests(const char *dir, int rank, int size)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    char path[300];
    snprintf(path, sizeof path, "%s/ranks.h5", dir);
    hd_capture_campaign c = campaign(comm);
    hd_capture_plan p;
    fake_reset();
    int rc = hd_capture_plan_init(&p, &c);
    int64_t mine[4] = {p.begin, p.end, p.n_kept, p.offset}, all[4 * 8];
    MPI_Gather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, 0, comm);
    int64_t totals[2] = {p.total, p.dropped}, tmin[2], tmax[2];
    MPI_Reduce(totals, tmin, 2, MPI_INT64_T, MPI_MIN, 0, comm);
    MPI_Reduce(totals, tmax, 2, MPI_INT64_T, MPI_MAX, 0, comm);
    if (rank == 0) {
        ok(rc == 0, "plan on %d ranks", size);
        int contiguous = all[0] == 0 && all[4 * (size - 1) + 1] == E, offsets = 1;
        int64_t off = 0, longest = 0, shortest = E;
        for (int r = 0; r < size; r++) {
            if (r > 0)
                contiguous &= all[4 * r] == all[4 * (r - 1) + 1];
            offsets &= all[4 * r + 3] == off;
            off += all[4 * r + 2];
            int64_t len = all[4 * r + 1] - all[4 * r];
            longest = len > longest ? len : longest;
            shortest = len < shortest ? len : shortest;
        }
        ok(contiguous, "ranks' blocks are contiguous, in rank order, covering every event");
        ok(longest - shortest <= 1, "blocks differ by at most one event (%lld to %lld)", (long long)shortest,
           (long long)longest);
        ok(offsets, "each rank's file offset is the kept events of lower ranks");
        ok(tmin[0] == 25 && tmax[0] == 25 && tmin[1] == 12 && tmax[1] == 12, "every rank knows 25 kept, 12 dropped");
    }
    hd_capture_output o = output(path);
    rc = hd_capture_campaign_write(&c, &p, &o);
    int rcs[8], checks[8], calls[8];
    MPI_Gather(&rc, 1, MPI_INT, rcs, 1, MPI_INT, 0, comm);
    MPI_Gather(&F.checks, 1, MPI_INT, checks, 1, MPI_INT, 0, comm);
    MPI_Gather(&F.render_calls, 1, MPI_INT, calls, 1, MPI_INT, 0, comm);
    if (rank == 0) {
        int all_ok = 1, same_rounds = 1, own_blocks = 1;
        for (int r = 0; r < size; r++) {
            all_ok &= rcs[r] == 0;
            same_rounds &= checks[r] == checks[0];
            own_blocks &= calls[r] == (all[4 * r + 2] + B - 1) / B;
        }
        ok(all_ok, "collective write on %d ranks", size);
        ok(same_rounds, "every rank made the same number of block rounds (%d)", checks[0]);
        ok(own_blocks, "each rank rendered ceil(its kept events / 4) blocks, no empty ones");
        ok(file_ok(path, 25), "the parallel file holds the 25 kept events in order, pattern intact");
    }
    MPI_Barrier(comm);
    if (rank == 0)
        unlink(path);
    MPI_Barrier(comm);

    /* rank 1 alone is interrupted before its second block */
    fake_reset();
    if (rank == 1)
        F.interrupt_at = 2;
    rc = hd_capture_campaign_write(&c, &p, &o);
    MPI_Gather(&rc, 1, MPI_INT, rcs, 1, MPI_INT, 0, comm);
    if (rank == 0) {
        int every = 1;
        for (int r = 0; r < size; r++)
            every &= rcs[r] == HD_EINTR;
        ok(every, "an interruption on rank 1 stops every rank with HD_EINTR");
        ok(!exists(path) && stray_files(dir, NULL) == 0, "and leaves no file");
    }
    MPI_Barrier(comm);

    /* rank 2's second block fails */
    fake_reset();
    if (rank == size - 1)
        F.fail_at = 2;
    rc = hd_capture_campaign_write(&c, &p, &o);
    MPI_Gather(&rc, 1, MPI_INT, rcs, 1, MPI_INT, 0, comm);
    if (rank == 0) {
        int others = 1;
        for (int r = 0; r < size - 1; r++)
            others &= rcs[r] == HD_EIO;
        ok(others && rcs[size - 1] == HD_EIO, "a failing rank fails every rank (\"another rank failed\")");
        like(hd_errmsg(), "another rank failed", "rank 0 says another rank failed");
        ok(!exists(path) && stray_files(dir, NULL) == 0, "and leaves no file");
    }
    hd_capture_plan_release(&p);
}

int main(int argc, char **argv)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE")) {
        if (system("command -v mpirun >/dev/null 2>&1") != 0) {
            printf("1..0 # SKIP mpirun not installed\n");
            return 0;
        }
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        execlp("mpirun", "mpirun", "--oversubscribe", "-np", "3", argv[0], (char *)NULL);
        perror("mpirun");
        return 1;
    }
    if (hd_par_init(&argc, &argv) < 0 || !hd_par_active()) {
        printf("1..0 # SKIP MPI did not start\n");
        return 0;
    }
    int rank = hd_par_rank(), size = hd_par_size();
    if (rank != 0) /* rank 0 speaks TAP */
        if (!freopen("/dev/null", "w", stdout))
            return 1;
    plan_no_plan();
    for (int r = 0; r < R; r++) {
        snprintf(ST[r].id, sizeof ST[r].id, "rx%d", r);
        ST[r].lat = 45 + r;
        ST[r].lon = 7;
        ST[r].driver = HD_DRIVER_KIWISDR;
        ST[r].sample_rate_hz = 24000;
    }
    char dir[64] = "/tmp/hd-test-campaign.XXXXXX";
    if (rank == 0 && !mkdtemp(dir))
        return 1;
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        serial_tests(dir);
        char p[300];
        snprintf(p, sizeof p, "%s/alone.h5", dir);
        unlink(p);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (size >= 2 && size <= 8)
        parallel_tests(dir, rank, size);
    else if (rank == 0)
        skip(1, "parallel part needs 2 to 8 ranks");
    if (rank == 0) {
        rmdir(dir);
        done_testing();
    }
    int st = exit_status();
    hd_par_finalize();
    return rank == 0 ? st : 0;
}
