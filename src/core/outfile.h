/* Text outputs written whole or not at all: created under a temporary name
 * beside the target ("<dir>/.<name>.tmp.<host>.<pid>") and renamed into place by
 * hd_outfile_commit, so an interrupted run leaves no half file under the
 * final name. (HDF5 outputs have their own, in src/h5.) */
#ifndef HD_CORE_OUTFILE_H
#define HD_CORE_OUTFILE_H
#include <stdio.h>

typedef struct {
    FILE *f;
    char *buf; /* f's buffer (256 KiB), freed when f is closed */
    char final_path[1024];
    char tmp_path[1100];
} hd_outfile;

/* The temporary name of an output <dir>/<base> for this process
 * ("<dir>/.<base>.tmp.<host>.<pid>") into buf; first removes the
 * temporaries of <base> that runs of this host left when they died (killed,
 * out of time: their pid no longer exists), so a rerun never trips over
 * them. Returns how many it removed, or HD_EINVAL. */
int hd_tmp_name(const char *dir, const char *base, char *buf, size_t size);

/* Fails with HD_EEXIST ("<path> exists; use --force to overwrite") when
 * path exists and !force, HD_EIO when its directory is missing. */
int hd_outfile_open(hd_outfile *o, const char *path, int force);
/* Flush, fsync, close and rename; on a write error removes the temporary. */
int hd_outfile_commit(hd_outfile *o);
/* Close and remove the temporary (safe after a failure or on a zeroed struct). */
void hd_outfile_abort(hd_outfile *o);

#endif
