/* GCC-PHAT with fftw3-mpi distributed transforms: for captures too long for
 * one rank's FFT, every rank transforms a slice of the zero-padded signals
 * and of the correlation. Coarse delay (integer peak, parabolic fraction),
 * PSR and sigma as hd_dsp_gcc_phat gives them without its phase-slope
 * refinement. */
#include "core/alloc.h"
#include "core/error.h"
#include "dsp/dsp.h"
#include "dsp/internal.h"

#include <complex.h>
#include <fftw3-mpi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_f(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* 2^a 3^b 5^c at least n and a multiple of p² (FFTW's 1-d MPI algorithm
 * splits the transform into p-divisible factors) */
static ptrdiff_t mpi_size(ptrdiff_t n, int p)
{
    for (ptrdiff_t m = n;; m++) {
        if (m % ((ptrdiff_t)p * p))
            continue;
        ptrdiff_t r = m;
        while (r % 2 == 0) r /= 2;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        if (r == 1)
            return m;
    }
}

int hd_dsp_gcc_phat_mpi(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                        double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, MPI_Comm comm, hd_xcorr *out)
{
    static int initialised = 0;
    int rc = 0, size, rank;
    memset(out, 0, sizeof *out);
    if (n < 4 || fs <= 0)
        return hd_error(HD_EINVAL, "gcc-phat (mpi): %d samples at %g Hz", n, fs);
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    if (!initialised) {
        fftwf_mpi_init();
        initialised = 1;
    }
    ptrdiff_t M = mpi_size(2 * (ptrdiff_t)n, size), ni, is, no, os, bni, bis, bno, bos;
    ptrdiff_t alloc_f = fftwf_mpi_local_size_1d(M, comm, FFTW_FORWARD, FFTW_ESTIMATE, &ni, &is, &no, &os);
    ptrdiff_t alloc_b = fftwf_mpi_local_size_1d(M, comm, FFTW_BACKWARD, FFTW_ESTIMATE, &bni, &bis, &bno, &bos);
    if (bni != no || bis != os)
        return hd_error(HD_EUNSUPPORTED, "fftw3-mpi: forward output and backward input layouts differ for %td", M);
    ptrdiff_t alloc = alloc_f > alloc_b ? alloc_f : alloc_b;
    fftwf_complex *A = fftwf_alloc_complex((size_t)alloc), *B = fftwf_alloc_complex((size_t)alloc);
    float *mag = hd_malloc((size_t)(no > 0 ? no : 1) * sizeof *mag), *sub = NULL, *all = NULL;
    int *counts = hd_calloc((size_t)size, sizeof *counts), *displs = hd_calloc((size_t)size, sizeof *displs);
    fftwf_plan pf = NULL, pb = NULL;
    if (!A || !B || !mag || !counts || !displs) {
        rc = HD_ENOMEM;
        goto done;
    }
    pf = fftwf_mpi_plan_dft_1d(M, A, A, comm, FFTW_FORWARD, FFTW_ESTIMATE);
    pb = fftwf_mpi_plan_dft_1d(M, A, A, comm, FFTW_BACKWARD, FFTW_ESTIMATE);
    if (!pf || !pb) {
        rc = hd_error(HD_EUNSUPPORTED, "fftw3-mpi cannot plan a distributed transform of %td on %d ranks", M, size);
        goto done;
    }
    const float complex *ca = (const float complex *)a, *cb = (const float complex *)b;
    for (ptrdiff_t i = 0; i < ni; i++) {
        ptrdiff_t g = is + i;
        float complex va = g < n ? ca[g] : 0, vb = g < n ? cb[g] : 0;
        memcpy(&A[i], &va, sizeof va);
        memcpy(&B[i], &vb, sizeof vb);
    }
    fftwf_mpi_execute_dft(pf, A, A);
    fftwf_mpi_execute_dft(pf, B, B);

    /* cross-spectrum, band threshold from every 8th global bin (as local) */
    int nsub = 0;
    sub = hd_malloc((size_t)(no / 8 + 2) * sizeof *sub);
    if (!sub) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (ptrdiff_t i = 0; i < no; i++) {
        float complex x, y;
        memcpy(&x, &A[i], sizeof x);
        memcpy(&y, &B[i], sizeof y);
        float complex g = conjf(x) * y;
        memcpy(&A[i], &g, sizeof g);
        mag[i] = cabsf(g);
        if ((os + i) % 8 == 0)
            sub[nsub++] = mag[i];
    }
    MPI_Allgather(&nsub, 1, MPI_INT, counts, 1, MPI_INT, comm);
    int total = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = total;
        total += counts[r];
    }
    all = hd_malloc((size_t)(total > 0 ? total : 1) * sizeof *all);
    if (!all) {
        rc = HD_ENOMEM;
        goto done;
    }
    MPI_Allgatherv(sub, nsub, MPI_FLOAT, all, counts, displs, MPI_FLOAT, comm);
    qsort(all, (size_t)total, sizeof *all, cmp_f);
    float thresh = 4.0f * all[total / 4];
    int in_band = 0;
    for (ptrdiff_t i = 0; i < no; i++)
        in_band += mag[i] > thresh;
    MPI_Allreduce(MPI_IN_PLACE, &in_band, 1, MPI_INT, MPI_SUM, comm);
    int use_all = in_band < 8;
    for (ptrdiff_t i = 0; i < no; i++) {
        float complex g;
        memcpy(&g, &A[i], sizeof g);
        g = (use_all || mag[i] > thresh) && mag[i] > 0 ? g / mag[i] : 0.0f;
        memcpy(&A[i], &g, sizeof g);
    }
    fftwf_mpi_execute_dft(pb, A, A); /* A: this rank's slice of r[k], k in [bos, bos + bno) */

    int lo, hi;
    if (!hd_dsp_lag_window(center_s, max_lag_s, fs, n, &lo, &hi)) {
        out->delay_s = center_s;
        out->sigma_s = INFINITY;
        goto done; /* the window lies outside any overlap: not valid */
    }
    struct { double v; int lag; } mine = {-1.0, lo}, best;
    for (int l = lo; l <= hi; l++) {
        ptrdiff_t k = ((ptrdiff_t)l + M) % M;
        if (k < bos || k >= bos + bno)
            continue;
        double v = cabsf(*(float complex *)&A[k - bos]);
        if (v > mine.v) {
            mine.v = v;
            mine.lag = l;
        }
    }
    MPI_Allreduce(&mine, &best, 1, MPI_DOUBLE_INT, MPI_MAXLOC, comm);
    /* the peak's neighbours and the sidelobe power, wherever they live */
    double nb[5] = {0}; /* y0, y1, y2, sidelobe sum, count */
    for (int l = lo; l <= hi; l++) {
        ptrdiff_t k = ((ptrdiff_t)l + M) % M;
        if (k < bos || k >= bos + bno)
            continue;
        double v = cabsf(*(float complex *)&A[k - bos]);
        if (l >= best.lag - 1 && l <= best.lag + 1)
            nb[l - best.lag + 1] = v;
        if (abs(l - best.lag) > 4) {
            nb[3] += v * v;
            nb[4] += 1;
        }
    }
    /* neighbours just outside the window still count for the parabola */
    for (int d = -1; d <= 1; d += 2) {
        int l = best.lag + d;
        ptrdiff_t k = ((ptrdiff_t)l + M) % M;
        if ((l < lo || l > hi) && k >= bos && k < bos + bno)
            nb[d + 1] = cabsf(*(float complex *)&A[k - bos]);
    }
    MPI_Allreduce(MPI_IN_PLACE, nb, 5, MPI_DOUBLE, MPI_SUM, comm);
    double den = nb[0] - 2 * nb[1] + nb[2];
    double tau = best.lag + (den < 0 ? 0.5 * (nb[0] - nb[2]) / den : 0.0);
    double side = nb[4] > 0 ? nb[3] / nb[4] : 1e-30;
    out->psr_db = 10 * log10(best.v * best.v / (side > 1e-30 ? side : 1e-30));
    out->delay_s = tau / fs;
    out->sigma_s = hd_dsp_tdoa_crlb(n, fs, snr_a, snr_b, rms_bw_hz);
    out->valid = !use_all && out->psr_db >= psr_min_db;
done:
    if (pf)
        fftwf_destroy_plan(pf);
    if (pb)
        fftwf_destroy_plan(pb);
    fftwf_free(A);
    fftwf_free(B);
    free(mag);
    free(sub);
    free(all);
    free(counts);
    free(displs);
    return rc;
}

int hd_dsp_tdoa_mpi(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                    double snr_b, double rms_bw_hz, double psr_min_db, MPI_Comm comm, float *scratch, hd_xcorr *out)
{
    int rc = hd_dsp_gcc_phat_mpi(a, b, n, fs, center_s, max_lag_s, snr_a, snr_b, rms_bw_hz, psr_min_db, comm, out);
    if (rc < 0 || !out->valid)
        return rc;
    /* every rank holds the same captures and the same coarse lag: the same
     * frequency difference everywhere */
    double df = 0;
    if ((rc = hd_dsp_freq_diff(a, b, n, fs, out->delay_s * fs, &df)) <= 0)
        return rc; /* no tone in the product: left uncorrected */
    const float complex *cb = (const float complex *)b;
    float complex *bc = (float complex *)scratch;
    double complex st = cexp(-I * 2 * M_PI * df / fs), r = 1;
    for (int m = 0; m < n; m++, r *= st) {
        if ((m & 1023) == 0)
            r = cexp(-I * 2 * M_PI * df / fs * m);
        bc[m] = cb[m] * (float complex)r;
    }
    hd_xcorr next;
    if ((rc = hd_dsp_gcc_phat_mpi(a, scratch, n, fs, center_s, max_lag_s, snr_a, snr_b, rms_bw_hz, psr_min_db, comm,
                                  &next)) < 0)
        return rc;
    *out = next;
    out->freq_diff_hz = df;
    return 0;
}
