/* The BLAS of the networks' matrix work (OpenBLAS), opened on first use,
 * not linked: see core/dl.h. Only train and the network methods (nn, the
 * set network's inference) multiply matrices; the other commands never load
 * it, nor start its threads.
 *
 * GSL's small matrix routines (the solvers' covariances) use GSL's own
 * CBLAS, the same code on every machine. Linked, OpenBLAS had taken them
 * over with kernels picked for the CPU at load, so localize's digits
 * depended on the machine (OPENBLAS_CORETYPE=Sandybridge changed 180 of
 * 400 demo events' covariances in the 8th digit). */
#ifndef HD_NN_BLAS_H
#define HD_NN_BLAS_H

#include <cblas.h>

typedef struct {
    __typeof__(&cblas_sgemm) sgemm;
    __typeof__(&cblas_dgemm) dgemm;
    /* OpenBLAS's own (NULL from another CBLAS, $HEIMDALL_BLAS_LIB) */
    char *(*get_config)(void);
    char *(*get_corename)(void);
} hd_blas_api;

/* the library: $HEIMDALL_BLAS_LIB when set (any CBLAS with cblas_sgemm
 * and cblas_dgemm), else OpenBLAS's SONAME at build time */
const char *hd_blas_library(void);

/* Opened once (thread-safe), with one BLAS thread: the data parallelism is
 * MPI's. A BLAS that cannot be opened ends the program with status 127 and
 * a message. */
const hd_blas_api *hd_blas(void);

/* "Cooperlake" and the like: OpenBLAS's kernels for this CPU, "unknown"
 * from another CBLAS; and its build configuration */
const char *hd_blas_corename(void);
const char *hd_blas_config(void);

#endif
