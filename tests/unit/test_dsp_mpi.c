/* dsp under MPI: GCC-PHAT with fftw3-mpi distributed transforms agrees with
 * the local transform, on 2 ranks. Run alone, it starts itself under
 * mpirun -np 2 (rank 0 speaks TAP). */
#include "core/alloc.h"
#include "core/rng.h"
#include "dsp/dsp.h"
#include "tap.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <unistd.h>

#define FS 24000.0

/* FM-like signal and a copy delayed by d samples (both evaluated exactly),
 * its LO off by df Hz, with independent noise */
static void pair(float *a, float *b, int n, double d, double df, double snr_db)
{
    hd_rng r;
    hd_rng_init(&r, 3, 0, 0, HD_RNG_TEST);
    double f[6], be[6], th[6], ns = sqrt(pow(10, -snr_db / 10) / 2);
    for (int k = 0; k < 6; k++) {
        f[k] = hd_rng_uniform_range(&r, 300, 3000);
        be[k] = 700.0 / f[k];
        th[k] = hd_rng_uniform_range(&r, 0, 6.28);
    }
    for (int i = 0; i < n; i++) {
        double pa = 0, pb = 2 * M_PI * df * i / FS, ta = i / FS, tb = (i - d) / FS;
        for (int k = 0; k < 6; k++) {
            pa += be[k] * sin(2 * M_PI * f[k] * ta + th[k]);
            pb += be[k] * sin(2 * M_PI * f[k] * tb + th[k]);
        }
        a[2 * i] = (float)(cos(pa) + ns * hd_rng_normal(&r));
        a[2 * i + 1] = (float)(sin(pa) + ns * hd_rng_normal(&r));
        b[2 * i] = (float)(cos(pb) + ns * hd_rng_normal(&r));
        b[2 * i + 1] = (float)(sin(pb) + ns * hd_rng_normal(&r));
    }
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
        execlp("mpirun", "mpirun", "--oversubscribe", "-np", "2", argv[0], (char *)NULL);
        perror("mpirun");
        return 1;
    }
    (void)argc;
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank != 0 && !freopen("/dev/null", "w", stdout))
        return 1;
    plan_no_plan();
    is_int(size, 2, "two ranks");
    const int n = 48000; /* 2 s at 24 kHz */
    double delays[] = {3.37, -17.8, 120.25};
    float *a = hd_aligned_alloc(2 * n, sizeof *a), *b = hd_aligned_alloc(2 * n, sizeof *b);
    for (int i = 0; i < 3; i++) {
        pair(a, b, n, delays[i], 0, 10);
        hd_xcorr loc, dist;
        double center = delays[i] > 100 ? 118.0 / FS : 0, win = 30.0 / FS;
        int r1 = hd_dsp_gcc_phat_coarse(a, b, n, FS, center, win, 10, 10, 1500, 10, &loc);
        int r2 = hd_dsp_gcc_phat_mpi(a, b, n, FS, center, win, 10, 10, 1500, 10, MPI_COMM_WORLD, &dist);
        ok(r1 == 0 && r2 == 0, "delay %.2f: both computed", delays[i]);
        ok(fabs(dist.delay_s - loc.delay_s) * FS < 1e-3, "distributed delay %.5f = local %.5f samples",
           dist.delay_s * FS, loc.delay_s * FS);
        ok(fabs(dist.psr_db - loc.psr_db) < 0.05 && dist.valid == loc.valid, "same PSR (%.2f / %.2f dB) and validity",
           dist.psr_db, loc.psr_db);
        ok(fabs(dist.delay_s * FS - delays[i]) < 0.1, "close to the true delay");
    }
    /* the pair's frequency difference removed before the distributed
     * correlation (delay-Doppler coupling otherwise pulls an FM delay) */
    {
        float *scr = hd_aligned_alloc(2 * n, sizeof *scr);
        /* within the uncorrected pass's reach: |df| × 2 s well under 1 */
        double D = 2.6, dfs[] = {0.3, -0.45};
        for (int i = 0; i < 2; i++) {
            pair(a, b, n, D, dfs[i], 20);
            hd_xcorr plain, corr;
            int r1 = hd_dsp_gcc_phat_mpi(a, b, n, FS, 0, 30.0 / FS, 100, 100, 1500, 10, MPI_COMM_WORLD, &plain);
            int r2 = hd_dsp_tdoa_mpi(a, b, n, FS, 0, 30.0 / FS, 100, 100, 1500, 10, MPI_COMM_WORLD, scr, &corr);
            diag("df %.1f Hz: uncorrected %.4f, corrected %.4f samples (true %.2f), measured df %.4f Hz", dfs[i],
                 plain.delay_s * FS, corr.delay_s * FS, D, corr.freq_diff_hz);
            ok(r1 == 0 && r2 == 0 && corr.valid, "df %.1f Hz: distributed tdoa computed", dfs[i]);
            ok(fabs(corr.freq_diff_hz - dfs[i]) < 0.05, "frequency difference measured (%.4f Hz)", corr.freq_diff_hz);
            ok(fabs(corr.delay_s * FS - D) < 0.05, "corrected delay within 0.05 sample (%.4f; uncorrected %.4f)",
               fabs(corr.delay_s * FS - D), fabs(plain.delay_s * FS - D));
        }
        free(scr);
    }
    free(a);
    free(b);
    done_testing();
    int st = exit_status();
    MPI_Finalize();
    return st;
}
