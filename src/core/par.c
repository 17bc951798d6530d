#include "core/par.h"
#include "core/error.h"
#include "core/log.h"

#include <stdlib.h>

static int par_active = 0;

/* Started by an MPI launcher (mpirun, srun with PMIx or PMI)? A plain
 * command line is a world of one and needs no MPI at all: Open MPI's
 * singleton start-up alone costs about half a second here. */
static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "HD_MPI_INIT"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int hd_par_init(int *argc, char ***argv)
{
    int provided = 0, inited = 0;
    if (!launched())
        return hd_par_check_slurm();
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return hd_error(HD_EMPI, "MPI_Init_thread failed");
    par_active = 1;
    hd_log_set_rank(hd_par_rank(), hd_par_size());
    return hd_par_check_slurm();
}

void hd_par_finalize(void)
{
    if (!par_active)
        return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
    par_active = 0;
}

int hd_par_active(void) { return par_active; }

int hd_par_rank(void)
{
    int r = 0;
    if (par_active)
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int hd_par_size(void)
{
    int s = 1;
    if (par_active)
        MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

MPI_Comm hd_par_comm(void)
{
    return par_active ? MPI_COMM_WORLD : MPI_COMM_SELF;
}

int hd_par_check_slurm(void)
{
    const char *nt = getenv("SLURM_NTASKS");
    /* only inside a job step (srun), not in the batch script itself */
    if (!nt || !getenv("SLURM_STEP_ID"))
        return 0;
    int want = atoi(nt), have = hd_par_size();
    if (want > 0 && want != have)
        return hd_error(HD_EMPI,
                        "MPI world has %d rank(s) but SLURM_NTASKS is %d: srun started singletons; "
                        "launch with 'srun --mpi=pmix' (or mpirun) so the ranks form one job", have, want);
    return 0;
}

void hd_par_block(int64_t n, int r, int s, int64_t *begin, int64_t *end)
{
    int64_t base = n / s, rem = n % s;
    *begin = r * base + (r < rem ? r : rem);
    *end = *begin + base + (r < rem ? 1 : 0);
}
