/* OpenBLAS opened on first use: see blas.h. */
#include "nn/blas.h"
#include "core/dl.h"

#include <pthread.h>
#include <stddef.h>

#ifndef HD_BLAS_SONAME
#define HD_BLAS_SONAME "libopenblas.so.0"
#endif

static hd_blas_api api;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

const char *hd_blas_library(void)
{
    return hd_dl_library("HEIMDALL_BLAS_LIB", *HD_BLAS_SONAME ? HD_BLAS_SONAME : "libopenblas.so.0");
}

static void blas_open(void)
{
    void (*set_num_threads)(int) = NULL;
    int (*thread_shutdown)(void) = NULL;
    const hd_dl_sym syms[] = {
        {"cblas_sgemm", (void **)&api.sgemm, 0},
        {"cblas_dgemm", (void **)&api.dgemm, 0},
        {"openblas_get_config", (void **)&api.get_config, 1},
        {"openblas_get_corename", (void **)&api.get_corename, 1},
        {"openblas_set_num_threads", (void **)&set_num_threads, 1},
        {"blas_thread_shutdown_", (void **)&thread_shutdown, 1},
    };
    /* RTLD_DEEPBIND: OpenBLAS's 14,000 relocations, most to its own
     * symbols, found in its own scope first (opening it 10.2 -> 3.1 ms) */
    hd_dl_load("the BLAS", hd_blas_library(), "install OpenBLAS (make deps, or apt-get install libopenblas-dev)",
               syms, sizeof syms / sizeof *syms, 1);
    /* OpenBLAS starts its worker threads as it loads, each spinning on
     * sched_yield for about 0.1 s before it sleeps, and again after every
     * threaded call; openblas_set_num_threads alone does not stop the
     * thread already started. One thread: train's parallelism is MPI's. */
    if (set_num_threads)
        set_num_threads(1);
    if (thread_shutdown)
        thread_shutdown();
}

const hd_blas_api *hd_blas(void)
{
    pthread_once(&blas_once, blas_open);
    return &api;
}

const char *hd_blas_corename(void)
{
    const hd_blas_api *b = hd_blas();
    return b->get_corename ? b->get_corename() : "unknown";
}

const char *hd_blas_config(void)
{
    const hd_blas_api *b = hd_blas();
    return b->get_config ? b->get_config() : hd_blas_library();
}
