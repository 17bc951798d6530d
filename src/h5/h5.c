/* Heimdall HDF5 files: atomic creation, provenance, format checks, dataset
 * helpers. Serial or MPI-IO (collective) depending on how a file was opened. */
#include "h5/h5.h"
#include "core/runinfo.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the file being written now (for a signal handler to unlink) */
static char pending_tmp[1100];

const char *hd_h5_pending_tmp(void) { return pending_tmp; }

/* Why a write to obj's file failed, when the system says: ": no space left
 * on device writing <the output>" (the output's final name, not its
 * temporary one), or "" */
static const char *io_why(hid_t obj, const char *path)
{
    static char why[1200];
    int e = errno;
    why[0] = 0;
    if (e != ENOSPC && e != EDQUOT && e != EFBIG)
        return why;
    char name[1100] = "";
    if (path)
        hd_strlcpy(name, path, sizeof name);
    else if (obj >= 0 && H5Fget_name(obj, name, sizeof name) < 0)
        name[0] = 0;
    /* <dir>/.<base>.tmp.<host>.<pid> → <dir>/<base> */
    char *slash = strrchr(name, '/'), *base = slash ? slash + 1 : name, *tmp = strstr(base, ".tmp.");
    if (base[0] == '.' && tmp) {
        *tmp = 0;
        memmove(base, base + 1, strlen(base));
    }
    snprintf(why, sizeof why, ": %s writing %s", e == EFBIG ? "file too large" : "no space left on device", name);
    return why;
}


/* HDF5 prints its error stack on stderr by default; our messages say it. */
static void h5_quiet(void)
{
    static int done = 0;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

static int comm_size(MPI_Comm comm)
{
    int inited = 0, size = 1;
    if (comm == MPI_COMM_NULL)
        return 1;
    MPI_Initialized(&inited);
    if (!inited)
        return 1;
    MPI_Comm_size(comm, &size);
    return size;
}

static int comm_rank(MPI_Comm comm)
{
    int inited = 0, rank = 0;
    if (comm == MPI_COMM_NULL)
        return 0;
    MPI_Initialized(&inited);
    if (inited)
        MPI_Comm_rank(comm, &rank);
    return rank;
}

/* Per-file: which transfer property to use and whether this rank writes the
 * "rank 0 only" data. Looked up from the file's access property list. */
static int file_is_parallel(hid_t obj, MPI_Comm *comm)
{
    hid_t f = H5Iget_file_id(obj);
    if (f < 0)
        return 0;
    hid_t fapl = H5Fget_access_plist(f);
    int par = H5Pget_driver(fapl) == H5FD_MPIO;
    if (par && comm) {
        MPI_Info info;
        H5Pget_fapl_mpio(fapl, comm, &info);
        if (info != MPI_INFO_NULL)
            MPI_Info_free(&info);
    }
    H5Pclose(fapl);
    H5Fclose(f);
    return par;
}

static hid_t xfer_plist(hid_t obj, int *parallel, int *rank)
{
    MPI_Comm comm = MPI_COMM_NULL;
    *parallel = file_is_parallel(obj, &comm);
    *rank = 0;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (*parallel) {
        MPI_Comm_rank(comm, rank);
        MPI_Comm_free(&comm);
        H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    }
    return dxpl;
}

/* HDF5's metadata cache (chunk indexes, object headers) of a fixed
 * HD_H5_MDC_BYTES (h5.h). Its default adapts to the hit rate between 1 and
 * 32 MiB; reading and writing events in order over ~100 datasets misses
 * enough to let it grow with the campaign (the fixed-array index pages it
 * keeps): about 1 MB more peak RSS from 10,000 to 100,000 events in
 * collect and in featurize. At 512 KiB a file it still filled up over
 * hundreds of thousands of events (featurize's peak heap 9.7, 10.1, 11.0
 * MB at 10^4, 10^5, 3x10^5 events: the chunk indexes' data blocks, input
 * and output); at 128 KiB 9.7 and 9.8 MB, and the user time of featurize
 * (10^5), localize (10^5) and collect (10^4) the same or lower. */
static void bounded_mdc(hid_t fapl)
{
    H5AC_cache_config_t c = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
    if (H5Pget_mdc_config(fapl, &c) < 0)
        return;
    c.set_initial_size = 1;
    c.initial_size = c.min_size = c.max_size = HD_H5_MDC_BYTES;
    c.incr_mode = H5C_incr__off;
    c.flash_incr_mode = H5C_flash_incr__off;
    c.decr_mode = H5C_decr__off;
    H5Pset_mdc_config(fapl, &c); /* a refusal leaves HDF5's default: slower growth, not an error */
}

int hd_h5_create(hd_h5_out *out, const char *path, int force, MPI_Comm comm)
{
    int rc = 0;
    h5_quiet();
    memset(out, 0, sizeof *out);
    out->file = H5I_INVALID_HID;
    out->comm = MPI_COMM_NULL;
    int size = comm_size(comm), rank = comm_rank(comm);
    out->parallel = size > 1;
    if (strlen(path) >= sizeof out->final_path)
        return hd_error(HD_EINVAL, "output path too long: %s", path);
    hd_strlcpy(out->final_path, path, sizeof out->final_path);

    /* rank 0 checks and names the temporary file; everyone learns the result */
    int status = 0;
    if (rank == 0) {
        struct stat st;
        char dirbuf[1024], basebuf[1024];
        hd_strlcpy(dirbuf, path, sizeof dirbuf);
        hd_strlcpy(basebuf, path, sizeof basebuf);
        const char *dir = dirname(dirbuf), *base = basename(basebuf);
        if (!force && stat(path, &st) == 0) {
            status = HD_EEXIST;
            hd_error(HD_EEXIST, "%s exists; use --force to overwrite", path);
        } else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            status = HD_EIO;
            hd_error(HD_EIO, "cannot write %s: directory %s does not exist", path, dir);
        } else if (access(dir, W_OK) != 0) {
            status = HD_EIO;
            hd_error(HD_EIO, "cannot write %s: directory %s is not writable", path, dir);
        } else {
            int removed = hd_tmp_name(dir, base, out->tmp_path, sizeof out->tmp_path);
            if (removed < 0)
                status = removed;
            else if (removed > 0)
                hd_info("removed %d temporar%s of %s left by runs that died", removed, removed == 1 ? "y" : "ies", path);
        }
    }
    if (out->parallel) {
        int st2[1] = {status};
        MPI_Bcast(st2, 1, MPI_INT, 0, comm);
        if (st2[0] && rank != 0) {
            status = st2[0];
            hd_error(status, status == HD_EEXIST ? "%s exists; use --force to overwrite" : "cannot write %s", path);
        }
        MPI_Bcast(out->tmp_path, sizeof out->tmp_path, MPI_CHAR, 0, comm);
    }
    if (status)
        return status;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* The 1.10 file format, exactly (readable by HDF5 1.10 and later:
     * Debian 12's h5py and h5dump; not by 1.8). Its chunk indexes (a fixed
     * array for heimdall's fixed-size datasets) are looked up without the
     * v1 B-tree nodes that the EARLIEST format's index kept growing with
     * the number of chunks, i.e. events (issue 20). */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
    bounded_mdc(fapl);
    if (out->parallel) {
        H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
        H5Pset_all_coll_metadata_ops(fapl, 1);
        H5Pset_coll_metadata_write(fapl, 1);
        MPI_Comm_dup(comm, &out->comm);
    }
    out->file = H5Fcreate(out->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (out->file < 0) {
        const char *why = io_why(H5I_INVALID_HID, path);
        rc = hd_error(HD_EIO, "cannot create %s (temporary file for %s)%s", out->tmp_path, path, why);
        if (rank == 0) /* a full disk leaves what the create began */
            unlink(out->tmp_path);
        if (out->comm != MPI_COMM_NULL)
            MPI_Comm_free(&out->comm);
        return rc;
    }
    hd_strlcpy(pending_tmp, out->tmp_path, sizeof pending_tmp);
    return 0;
}

/* The run's figures (src/core/runinfo.h), gathered over the file's ranks. */
static int write_run_metrics(hd_h5_out *out)
{
    hd_runinfo r;
    hd_runinfo_snapshot(&r, out->parallel ? out->comm : MPI_COMM_NULL);
    int rc, n = r.ranks < 1024 ? r.ranks : 1024;
    if ((rc = hd_h5_attr_double(out->file, "run_wall_s", r.wall_s)) < 0 ||
        (rc = hd_h5_attr_int(out->file, "run_events", r.events)) < 0 ||
        (rc = hd_h5_attr_double(out->file, "run_events_per_s", r.events_per_s)) < 0 ||
        (rc = hd_h5_attr_double(out->file, "run_peak_rss_mb", r.peak_rss_mb)) < 0 ||
        (rc = hd_h5_attr_int(out->file, "run_ranks", r.ranks)) < 0 ||
        (rc = hd_h5_attr_doubles(out->file, "run_rank_wall_s", r.rank_wall_s, n)) < 0 ||
        (rc = hd_h5_attr_doubles(out->file, "run_rank_peak_rss_mb", r.rank_peak_rss_mb, n)) < 0)
        return rc;
    return 0;
}

int hd_h5_attr_doubles(hid_t obj, const char *name, const double *values, int n)
{
    hsize_t dims[1] = {(hsize_t)n};
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = sp >= 0 ? H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, values) >= 0 ? 0 : hd_error(HD_EIO, "cannot write attribute %s", name);
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

int hd_h5_write_provenance(hd_h5_out *out, const hd_h5_provenance *prov)
{
    int rc;
    if ((rc = write_run_metrics(out)) < 0)
        return rc;
    char created[40], cfg_sha[65];
    hid_t f = out->file;
    hd_time_format_iso8601(hd_time_now_ns(), created);
    if (out->parallel) /* identical attribute values on every rank */
        MPI_Bcast(created, sizeof created, MPI_CHAR, 0, out->comm);
    const char *cfg = prov->config_yaml ? prov->config_yaml : "";
    hd_sha256_hex(cfg, strlen(cfg), cfg_sha);
    if ((rc = hd_h5_attr_str(f, "heimdall_format", prov->format)) < 0 ||
        (rc = hd_h5_attr_int(f, "heimdall_format_version", prov->version)) < 0 ||
        (rc = hd_h5_attr_str(f, "software_version", hd_version())) < 0 ||
        (rc = hd_h5_attr_str(f, "git_commit", hd_git_commit())) < 0 ||
        (rc = hd_h5_attr_str(f, "created_utc", created)) < 0 ||
        (rc = hd_h5_attr_str(f, "command_line", prov->command_line ? prov->command_line : "")) < 0 ||
        (rc = hd_h5_attr_str(f, "config_yaml", cfg)) < 0 || (rc = hd_h5_attr_str(f, "config_sha256", cfg_sha)) < 0)
        return rc;
    if (prov->n_inputs > 0) {
        char (*lines)[1200] = hd_calloc((size_t)prov->n_inputs, sizeof *lines);
        const char **ptrs = hd_calloc((size_t)prov->n_inputs, sizeof *ptrs);
        if (!lines || !ptrs) {
            free(lines);
            free(ptrs);
            return HD_ENOMEM;
        }
        int rank = out->parallel ? comm_rank(out->comm) : 0;
        rc = 0;
        for (int i = 0; i < prov->n_inputs && rc == 0; i++) {
            char hex[65] = "";
            int st = rank == 0 ? hd_sha256_file(prov->inputs[i], hex) : 0;
            if (out->parallel) {
                MPI_Bcast(&st, 1, MPI_INT, 0, out->comm);
                MPI_Bcast(hex, sizeof hex, MPI_CHAR, 0, out->comm);
            }
            if (st < 0) {
                rc = rank == 0 ? st : hd_error(st, "cannot hash input %s", prov->inputs[i]);
                break;
            }
            snprintf(lines[i], sizeof lines[i], "%s %s", prov->inputs[i], hex);
            ptrs[i] = lines[i];
        }
        /* one dataset however many inputs (an import may hash hundreds) */
        if (rc == 0) {
            hid_t g = H5Gcreate2(f, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0)
                rc = hd_error(HD_EIO, "cannot create /provenance");
            else
                H5Gclose(g);
        }
        if (rc == 0)
            rc = hd_h5_write_strings(f, "provenance/inputs", ptrs, (hsize_t)prov->n_inputs,
                                     "the input files: 'path sha256' per line (path as given on the command line)");
        free(lines);
        free(ptrs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hd_h5_commit(hd_h5_out *out)
{
    int rc = 0, rank = out->parallel ? comm_rank(out->comm) : 0;
    if (out->file >= 0 && H5Fclose(out->file) < 0)
        rc = hd_error(HD_EIO, "cannot close %s%s", out->tmp_path, io_why(H5I_INVALID_HID, out->final_path));
    out->file = H5I_INVALID_HID;
    if (out->parallel) {
        MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MIN, out->comm);
    }
    if (rc == 0 && rank == 0) {
        int fd = open(out->tmp_path, O_RDONLY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        if (rename(out->tmp_path, out->final_path) != 0)
            rc = hd_error(HD_EIO, "cannot rename %s to %s: %s", out->tmp_path, out->final_path, strerror(errno));
    }
    if (rc < 0 && rank == 0)
        unlink(out->tmp_path);
    if (out->parallel) {
        int r2 = rc;
        MPI_Bcast(&r2, 1, MPI_INT, 0, out->comm);
        if (r2 < 0 && rc == 0)
            rc = hd_error(r2, "cannot finish %s", out->final_path);
        MPI_Comm_free(&out->comm);
    }
    pending_tmp[0] = '\0';
    return rc;
}

void hd_h5_abort(hd_h5_out *out)
{
    int rank = out->parallel ? comm_rank(out->comm) : 0;
    if (out->file >= 0)
        H5Fclose(out->file);
    out->file = H5I_INVALID_HID;
    if (out->parallel) {
        MPI_Barrier(out->comm);
        MPI_Comm_free(&out->comm);
    }
    if (rank == 0 && out->tmp_path[0])
        unlink(out->tmp_path);
    pending_tmp[0] = '\0';
}

static int check_format(hid_t f, const char *path, const char *want, int max_version, char *format, int *version)
{
    char *fmt = NULL;
    int64_t ver = 0;
    if (H5Aexists(f, "heimdall_format") <= 0)
        return hd_error(HD_EFORMAT, "%s: not a heimdall file (no heimdall_format attribute)", path);
    if (hd_h5_read_attr_str(f, "heimdall_format", &fmt) < 0 || hd_h5_read_attr_int(f, "heimdall_format_version", &ver) < 0) {
        free(fmt);
        return hd_error(HD_EFORMAT, "%s: unreadable heimdall_format attributes", path);
    }
    int rc = 0;
    if (want && strcmp(fmt, want) != 0)
        rc = hd_error(HD_EFORMAT, "%s: not a heimdall %s file (heimdall_format is '%s')", path, want, fmt);
    else if (want && ver > max_version)
        rc = hd_error(HD_EFORMAT, "%s: format version %lld is newer than this heimdall supports (%d); upgrade heimdall",
                      path, (long long)ver, max_version);
    if (format)
        hd_strlcpy(format, fmt, 32);
    if (version)
        *version = (int)ver;
    free(fmt);
    return rc;
}

static int open_file(hid_t *file, const char *path, MPI_Comm comm)
{
    h5_quiet();
    *file = H5I_INVALID_HID;
    if (access(path, R_OK) != 0)
        return hd_error(HD_EIO, "cannot open %s: %s", path, strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return hd_error(HD_EFORMAT, "%s: not an HDF5 file, or it is truncated or corrupt", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    bounded_mdc(fapl);
    if (comm_size(comm) > 1)
        H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (*file < 0)
        return hd_error(HD_EFORMAT, "%s: not an HDF5 file, or it is truncated or corrupt", path);
    return 0;
}

int hd_h5_open(hid_t *file, const char *path, const char *format, int max_version, MPI_Comm comm)
{
    int rc = open_file(file, path, comm);
    if (rc < 0)
        return rc;
    if ((rc = check_format(*file, path, format, max_version, NULL, NULL)) < 0) {
        H5Fclose(*file);
        *file = H5I_INVALID_HID;
    }
    return rc;
}

int hd_h5_open_any(hid_t *file, const char *path, char format[32], int *version)
{
    int rc = open_file(file, path, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    if ((rc = check_format(*file, path, NULL, 0, format, version)) < 0) {
        H5Fclose(*file);
        *file = H5I_INVALID_HID;
    }
    return rc;
}

/* ---- attributes --------------------------------------------------------- */

static hid_t str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int write_attr(hid_t obj, const char *name, hid_t type, hid_t space, const void *buf)
{
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return hd_error(HD_EIO, "cannot create attribute %s", name);
    herr_t e = H5Awrite(a, type, buf);
    H5Aclose(a);
    if (e < 0)
        return hd_error(HD_EIO, "cannot write attribute %s", name);
    return 0;
}

int hd_h5_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = str_type(), s = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, t, s, &value);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int hd_h5_attr_double(hid_t obj, const char *name, double value)
{
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, H5T_NATIVE_DOUBLE, s, &value);
    H5Sclose(s);
    return rc;
}

int hd_h5_attr_int(hid_t obj, const char *name, int64_t value)
{
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, H5T_NATIVE_INT64, s, &value);
    H5Sclose(s);
    return rc;
}

int hd_h5_attr_strarray(hid_t obj, const char *name, const char *const *values, int n)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = str_type(), s = H5Screate_simple(1, dims, NULL);
    int rc = write_attr(obj, name, t, s, values);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

/* 1 when attribute a holds exactly one value (scalar, or one element):
 * what the single-value readers read into one variable */
static int attr_is_single(hid_t a)
{
    hid_t s = H5Aget_space(a);
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (s >= 0)
        H5Sclose(s);
    return n == 1;
}

int hd_h5_read_attr_str(hid_t obj, const char *name, char **value)
{
    int rc = 0;
    *value = NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return hd_error(HD_EFORMAT, "no attribute %s", name);
    hid_t ft = H5Aget_type(a);
    if (!attr_is_single(a)) { /* an array would overrun the one value (found by fuzz_model) */
        rc = hd_error(HD_EFORMAT, "attribute %s is not a single string", name);
    } else if (H5Tget_class(ft) != H5T_STRING) {
        rc = hd_error(HD_EFORMAT, "attribute %s is not a string", name);
    } else if (H5Tis_variable_str(ft) > 0) {
        hid_t t = str_type();
        char *v = NULL;
        if (H5Aread(a, t, &v) < 0 || !v) {
            rc = hd_error(HD_EFORMAT, "cannot read attribute %s", name);
        } else {
            *value = hd_strdup(v);
            if (!*value)
                rc = HD_ENOMEM;
            H5free_memory(v);
        }
        H5Tclose(t);
    } else {
        size_t n = H5Tget_size(ft);
        char *v = hd_calloc(n + 1, 1);
        hid_t t = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        if (!v)
            rc = HD_ENOMEM;
        else if (H5Aread(a, t, v) < 0)
            rc = hd_error(HD_EFORMAT, "cannot read attribute %s", name);
        H5Tclose(t);
        if (rc < 0)
            free(v);
        else
            *value = v;
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int read_attr_num(hid_t obj, const char *name, hid_t type, void *value)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return hd_error(HD_EFORMAT, "no attribute %s", name);
    if (!attr_is_single(a)) {
        H5Aclose(a);
        return hd_error(HD_EFORMAT, "attribute %s is not a single number", name);
    }
    herr_t e = H5Aread(a, type, value);
    H5Aclose(a);
    return e < 0 ? hd_error(HD_EFORMAT, "cannot read attribute %s", name) : 0;
}

int hd_h5_read_attr_double(hid_t obj, const char *name, double *value)
{
    return read_attr_num(obj, name, H5T_NATIVE_DOUBLE, value);
}

int hd_h5_read_attr_int(hid_t obj, const char *name, int64_t *value)
{
    return read_attr_num(obj, name, H5T_NATIVE_INT64, value);
}

/* ---- datasets ----------------------------------------------------------- */

hid_t hd_h5_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                    const hsize_t *chunk, int deflate, const char *units, const char *description)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int any_zero = 0;
    for (int i = 0; i < rank; i++)
        any_zero |= dims[i] == 0;
    if (chunk && !any_zero) {
        H5Pset_chunk(dcpl, rank, chunk);
        if (deflate > 0) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, (unsigned)deflate);
        }
        /* last in the pipeline: the checksum covers the stored (compressed)
         * bytes of each chunk, and is checked on every read. HD_H5_NO_CHECKSUM=1
         * leaves it out, only to measure its cost (make bench). */
        const char *no = getenv("HD_H5_NO_CHECKSUM");
        if (!no || strcmp(no, "1") != 0)
            H5Pset_fletcher32(dcpl);
    }
    /* parallel files need allocation at creation for collective writes */
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    /* Writers fill a dataset in event order and keep it open: its chunk
     * cache needs the chunk being filled and no more. HDF5's default (1 MiB
     * a dataset, fully written chunks kept until that is full) grew a
     * campaign's memory with its length: about 30 MB more over the first
     * 20,000 events of featurize (heaptrack). Two chunks, fully written
     * ones evicted first. */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (chunk && !any_zero) {
        size_t bytes = H5Tget_size(type);
        for (int i = 0; i < rank; i++)
            bytes *= chunk[i];
        H5Pset_chunk_cache(dapl, 13, 2 * bytes, 1.0);
    }
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, dapl);
    H5Pclose(dapl);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (d < 0)
        return hd_error(HD_EIO, "cannot create dataset /%s", name);
    int rc;
    if ((rc = hd_h5_attr_str(d, "units", units ? units : "1")) < 0 ||
        (rc = hd_h5_attr_str(d, "description", description ? description : "")) < 0) {
        H5Dclose(d);
        return rc;
    }
    return d;
}

hid_t hd_h5_open_rows(hid_t loc, const char *name)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return d;
    /* HDF5's default chunk cache is 1 MiB a dataset: the captures reader's
     * thirty-odd datasets kept open held 20 MB more (localize of 10^5
     * events: peak RSS 20.5 -> 40.7 MB). One chunk a dataset: the one a
     * block shares with the next. */
    hid_t dcpl = H5Dget_create_plist(d), type = H5Dget_type(d);
    hsize_t chunk[8];
    int rank = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED ? H5Pget_chunk(dcpl, 8, chunk) : 0;
    size_t bytes = type >= 0 ? H5Tget_size(type) : 0;
    for (int i = 0; i < rank; i++)
        bytes *= chunk[i];
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    if (rank <= 0 || bytes == 0)
        return d;
    /* closed first: a dataset opened twice shares the first opening's cache */
    H5Dclose(d);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 13, bytes, 1.0);
    d = H5Dopen2(loc, name, dapl);
    H5Pclose(dapl);
    return d;
}

hid_t hd_h5_rows_kept(hid_t *slot, hid_t loc, const char *name)
{
    if (*slot <= 0) {
        hid_t d = hd_h5_open_rows(loc, name);
        if (d < 0)
            return d;
        *slot = d;
    }
    return *slot;
}

void hd_h5_close_kept(hid_t *slots, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (slots[k] > 0)
            H5Dclose(slots[k]);
        slots[k] = 0;
    }
}

int hd_h5_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data,
                const char *units, const char *description)
{
    /* one chunk holding it all, so that it too carries a checksum (a dataset
     * with a zero dimension stays contiguous: nothing to check) */
    hid_t d = hd_h5_dataset(loc, name, type, rank, dims, rank > 0 ? dims : NULL, 0, units, description);
    if (d < 0)
        return (int)d;
    int parallel, r;
    hid_t dxpl = xfer_plist(loc, &parallel, &r);
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Scopy(fs);
    if (parallel && r != 0) {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    herr_t e = H5Dwrite(d, type, ms, fs, dxpl, data);
    const char *why = e < 0 ? io_why(d, NULL) : "";
    H5Sclose(ms);
    H5Sclose(fs);
    H5Pclose(dxpl);
    H5Dclose(d);
    return e < 0 ? hd_error(HD_EIO, "cannot write /%s%s", name, why) : 0;
}

int hd_h5_write_strings(hid_t loc, const char *name, const char *const *values, hsize_t n, const char *description)
{
    /* Fixed-length UTF-8 strings sized to the longest: vlen data cannot be
     * written collectively through MPI-IO in HDF5 1.10. h5py reads them as
     * bytes (decode with .asstr() or .decode()). */
    size_t len = 1;
    for (hsize_t i = 0; i < n; i++) {
        size_t l = strlen(values[i]);
        len = l > len ? l : len;
    }
    char *buf = hd_calloc(n ? n : 1, len);
    if (!buf)
        return HD_ENOMEM;
    for (hsize_t i = 0; i < n; i++)
        memcpy(buf + i * len, values[i], strlen(values[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dims[1] = {n};
    int rc = hd_h5_write(loc, name, t, 1, dims, buf, "1", description);
    H5Tclose(t);
    free(buf);
    return rc;
}

/* ---- checksums ------------------------------------------------------- */

uint32_t hd_h5_fletcher32(const void *data, size_t len)
{
    /* HDF5's H5_checksum_fletcher32: big-endian 16-bit words, the sums
     * folded every 360 words, an odd last byte as a high byte */
    const uint8_t *p = data;
    size_t words = len / 2;
    uint32_t s1 = 0, s2 = 0;
    while (words) {
        size_t t = words > 360 ? 360 : words;
        words -= t;
        do {
            s1 += (uint32_t)p[0] << 8 | p[1];
            p += 2;
            s2 += s1;
        } while (--t);
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (len % 2) {
        s1 += (uint32_t)p[0] << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return s2 << 16 | s1;
}

int hd_h5_has_checksum(hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0)
        return 0;
    int yes = 0, n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n; i++) {
        unsigned flags, cv[8];
        size_t ncv = 8;
        yes |= H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncv, cv, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
    }
    H5Pclose(dcpl);
    return yes;
}

static herr_t find_checksum(unsigned n, const H5E_error2_t *e, void *found)
{
    (void)n;
    if (e->desc && (strstr(e->desc, "Fletcher32") || strstr(e->desc, "checksum")))
        *(int *)found = 1;
    return 0;
}

int hd_h5_read_error(hid_t dset, const char *what)
{
    /* first, before another call clears it: HDF5's error stack, whose
     * Fletcher-32 filter says "data error detected by Fletcher32 checksum" */
    int found = 0;
    hid_t stack = H5Eget_current_stack();
    if (stack >= 0) {
        H5Ewalk2(stack, H5E_WALK_DOWNWARD, find_checksum, &found);
        H5Eclose_stack(stack);
    }
    char name[512] = "?";
    if (H5Iget_name(dset, name, sizeof name) < 0)
        hd_strlcpy(name, "?", sizeof name);
    const char *sp = what && *what ? " " : "";
    if (found)
        return hd_error(HD_EDATA, "checksum mismatch in %s%s%s (the file is damaged)", name, sp, what ? what : "");
    return hd_error(HD_EFORMAT, "cannot read %s%s%s", name, sp, what ? what : "");
}

static int rows_io(hid_t dset, hid_t type, hsize_t start, hsize_t count, void *data, int write)
{
    hid_t fs = H5Dget_space(dset);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[8], off[8] = {0}, cnt[8];
    H5Sget_simple_extent_dims(fs, dims, NULL);
    if (start + count > dims[0]) {
        H5Sclose(fs);
        return hd_error(HD_EINVAL, "rows [%llu, %llu) outside a dataset of %llu", (unsigned long long)start,
                        (unsigned long long)(start + count), (unsigned long long)dims[0]);
    }
    for (int i = 0; i < rank; i++)
        cnt[i] = dims[i];
    off[0] = start;
    cnt[0] = count;
    hid_t ms;
    if (count == 0) {
        H5Sselect_none(fs);
        ms = H5Screate(H5S_NULL);
        hsize_t one = 1;
        H5Sclose(ms);
        ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_none(ms);
    } else {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
        ms = H5Screate_simple(rank, cnt, NULL);
    }
    int parallel = 0, r = 0;
    hid_t dxpl = write ? xfer_plist(dset, &parallel, &r) : H5Pcreate(H5P_DATASET_XFER);
    static char dummy[16];
    void *buf = data ? data : dummy;
    herr_t e = write ? H5Dwrite(dset, type, ms, fs, dxpl, buf) : H5Dread(dset, type, ms, fs, dxpl, buf);
    int rc = 0;
    if (e < 0 && !write) {
        char what[80];
        snprintf(what, sizeof what, "rows [%llu, %llu)", (unsigned long long)start,
                 (unsigned long long)(start + count));
        rc = hd_h5_read_error(dset, what);
    }
    H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    if (rc < 0)
        return rc;
    if (e < 0)
        return hd_error(HD_EIO, "cannot %s rows [%llu, %llu)%s", write ? "write" : "read", (unsigned long long)start,
                        (unsigned long long)(start + count), write ? io_why(dset, NULL) : "");
    return 0;
}

int hd_h5_write_rows(hid_t dset, hid_t type, hsize_t start, hsize_t count, const void *data)
{
    return rows_io(dset, type, start, count, (void *)data, 1);
}

int hd_h5_read_rows(hid_t dset, hid_t type, hsize_t start, hsize_t count, void *data)
{
    return rows_io(dset, type, start, count, data, 0);
}

int hd_h5_read(hid_t loc, const char *name, hid_t type, int *rank, hsize_t dims[8], void **data)
{
    *data = NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return hd_error(HD_EFORMAT, "no dataset /%s", name);
    hid_t fs = H5Dget_space(d);
    *rank = H5Sget_simple_extent_ndims(fs);
    if (*rank > 8) {
        H5Sclose(fs);
        H5Dclose(d);
        return hd_error(HD_EFORMAT, "/%s has more than 8 dimensions", name);
    }
    H5Sget_simple_extent_dims(fs, dims, NULL);
    hsize_t n = 1;
    for (int i = 0; i < *rank; i++)
        n *= dims[i];
    void *buf = hd_calloc(n ? n : 1, H5Tget_size(type));
    int rc = 0;
    if (!buf)
        rc = HD_ENOMEM;
    else if (n && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = hd_h5_read_error(d, NULL);
    H5Sclose(fs);
    H5Dclose(d);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    return 0;
}

int hd_h5_read_strings(hid_t loc, const char *name, char ***values, hsize_t *n)
{
    int rc = 0;
    *values = NULL;
    *n = 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return hd_error(HD_EFORMAT, "no dataset /%s", name);
    hid_t fs = H5Dget_space(d), ft = H5Dget_type(d);
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(fs) != 1 || H5Tget_class(ft) != H5T_STRING) {
        rc = hd_error(HD_EFORMAT, "/%s is not a list of strings", name);
        goto done;
    }
    H5Sget_simple_extent_dims(fs, dims, NULL);
    char **out = hd_calloc(dims[0] + 1, sizeof *out);
    if (!out) {
        rc = HD_ENOMEM;
        goto done;
    }
    if (H5Tis_variable_str(ft) > 0) {
        char **tmp = hd_calloc(dims[0] + 1, sizeof *tmp);
        hid_t t = str_type();
        if (!tmp || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0)
            rc = tmp ? hd_error(HD_EFORMAT, "cannot read /%s", name) : HD_ENOMEM; /* vlen: never chunked here */
        for (hsize_t i = 0; rc == 0 && i < dims[0]; i++)
            if (!(out[i] = hd_strdup(tmp[i] ? tmp[i] : "")))
                rc = HD_ENOMEM;
        if (tmp && rc == 0)
            H5Dvlen_reclaim(t, fs, H5P_DEFAULT, tmp);
        free(tmp);
        H5Tclose(t);
    } else {
        size_t len = H5Tget_size(ft);
        char *buf = hd_calloc(dims[0] + 1, len);
        hid_t t = H5Tget_native_type(ft, H5T_DIR_ASCEND); /* same size, padding and character set */
        if (!buf || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            rc = buf ? hd_h5_read_error(d, NULL) : HD_ENOMEM;
        for (hsize_t i = 0; rc == 0 && i < dims[0]; i++) {
            out[i] = hd_calloc(len + 1, 1);
            if (!out[i])
                rc = HD_ENOMEM;
            else
                memcpy(out[i], buf + i * len, len);
        }
        H5Tclose(t);
        free(buf);
    }
    if (rc < 0) {
        hd_h5_free_strings(out, dims[0]);
        goto done;
    }
    *values = out;
    *n = dims[0];
done:
    H5Tclose(ft);
    H5Sclose(fs);
    H5Dclose(d);
    return rc;
}

int hd_h5_read_inputs(hid_t file, char ***lines, int *n)
{
    *lines = NULL;
    *n = 0;
    if (H5Lexists(file, "provenance", H5P_DEFAULT) > 0 && H5Lexists(file, "provenance/inputs", H5P_DEFAULT) > 0) {
        hsize_t m = 0;
        int rc = hd_h5_read_strings(file, "provenance/inputs", lines, &m);
        *n = (int)m;
        return rc;
    }
    if (H5Aexists(file, "inputs") > 0) /* files written before /provenance/inputs */
        return hd_h5_read_attr_strarray(file, "inputs", lines, n);
    return 0;
}

void hd_h5_free_strings(char **values, hsize_t n)
{
    if (!values)
        return;
    for (hsize_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
}

int hd_h5_read_attr_strarray(hid_t obj, const char *name, char ***values, int *n)
{
    int rc = 0;
    *values = NULL;
    *n = 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return hd_error(HD_EFORMAT, "no attribute %s", name);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 || cnt < 0) {
        rc = hd_error(HD_EFORMAT, "attribute %s is not an array of strings", name);
        goto done;
    }
    char **raw = hd_calloc((size_t)cnt + 1, sizeof *raw);
    char **out = hd_calloc((size_t)cnt + 1, sizeof *out);
    hid_t t = str_type();
    if (!raw || !out) {
        rc = HD_ENOMEM;
    } else if (H5Aread(a, t, raw) < 0) {
        rc = hd_error(HD_EFORMAT, "cannot read attribute %s", name);
    } else {
        for (hssize_t i = 0; i < cnt && rc == 0; i++)
            if (!(out[i] = hd_strdup(raw[i] ? raw[i] : "")))
                rc = HD_ENOMEM;
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
    }
    H5Tclose(t);
    free(raw);
    if (rc == 0) {
        *values = out;
        *n = (int)cnt;
    } else if (out) {
        for (hssize_t i = 0; i < cnt; i++)
            free(out[i]);
        free(out);
    }
done:
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int hd_h5_dims(hid_t file, const char *name, int want_rank, hsize_t *dims)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return hd_error(HD_EFORMAT, "the file has no /%s dataset", name);
    hid_t sp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank == want_rank)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    if (rank != want_rank)
        return hd_error(HD_EFORMAT, "/%s has %d dimensions, expected %d", name, rank, want_rank);
    return 0;
}

/* Where a recorded input is now: the recorded path as it is (absolute, or
 * relative to here), then relative to the file's folder and each folder
 * above it (the command that made the file may have run in any of them),
 * then its name beside the file. The first candidate whose content has the
 * recorded hash wins; else the first that exists (changed); else none. */
int hd_h5_find_input(const char *file, const char *recorded, const char *want, char *buf, size_t size, char hex[65])
{
    char cand[40][2100];
    int n = 0, found = -1;
    snprintf(cand[n++], sizeof cand[0], "%s", recorded);
    if (recorded[0] != '/') {
        char d[2048];
        snprintf(d, sizeof d, "%s", file);
        for (char *dir = dirname(d); n < 38;) {
            snprintf(cand[n++], sizeof cand[0], "%s/%s", dir, recorded);
            if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
                break;
            dir = dirname(dir);
        }
    }
    char d[2048], b[2048];
    snprintf(d, sizeof d, "%s", file);
    snprintf(b, sizeof b, "%s", recorded);
    snprintf(cand[n++], sizeof cand[0], "%s/%s", dirname(d), basename(b));
    for (int i = 0; i < n; i++) {
        char h[65];
        if (access(cand[i], R_OK) != 0 || hd_sha256_file(cand[i], h) < 0)
            continue;
        if (found < 0 || strcmp(h, want) == 0) {
            found = i;
            memcpy(hex, h, sizeof h);
        }
        if (strcmp(h, want) == 0)
            break;
    }
    snprintf(buf, size, "%s", cand[found >= 0 ? found : 0]);
    return found >= 0;
}

