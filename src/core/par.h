/* MPI glue. Commands flagged as MPI users call hd_par_init(); everything
 * else runs without MPI. A singleton (no mpirun) is a world of one. */
#ifndef HD_CORE_PAR_H
#define HD_CORE_PAR_H
#include <stdint.h>
#include <mpi.h>

/* MPI_Init_thread (FUNNELED) when started by an MPI launcher (mpirun, srun
 * with PMIx/PMI; or HD_MPI_INIT=1), then the Slurm check. Without a launcher
 * MPI is not initialised and the process is a world of one. */
int hd_par_init(int *argc, char ***argv);
void hd_par_finalize(void);
int hd_par_active(void);                   /* 1 after init, before finalize */
int hd_par_rank(void);                     /* 0 when MPI is not active */
int hd_par_size(void);                     /* 1 when MPI is not active */
MPI_Comm hd_par_comm(void);                /* MPI_COMM_WORLD, or MPI_COMM_SELF if inactive */

/* Refuse to run when SLURM_NTASKS is set and differs from the world size
 * (a plain srun without PMIx starts N singletons). */
int hd_par_check_slurm(void);

/* Contiguous block of [0, n) owned by rank r of size s: [*begin, *end). */
void hd_par_block(int64_t n, int r, int s, int64_t *begin, int64_t *end);

#endif
