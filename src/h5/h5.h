/* Heimdall HDF5 files: atomic creation, provenance, schema checks and
 * dataset helpers. Knows files, nothing of algorithms.
 *
 * Every file has root attributes heimdall_format, heimdall_format_version,
 * software_version, git_commit, created_utc, command_line, config_yaml,
 * config_sha256, and the dataset /provenance/inputs ("path sha256" per
 * input file; files before it have the root attribute `inputs` of the same
 * lines and one attribute input_sha256:<name> per input).
 * Every dataset has `units` and `description` attributes. */
#ifndef HD_H5_H5_H
#define HD_H5_H5_H
#include <stdint.h>
#include <hdf5.h>
#include <mpi.h>

/* The metadata cache of every file opened or created here, in bytes, fixed
 * (it does not grow with the campaign; see h5.c). */
#define HD_H5_MDC_BYTES (128 * 1024)

#define HD_FORMAT_CAPTURES "captures"
#define HD_FORMAT_FEATURES "features"
#define HD_FORMAT_MODEL "model"
#define HD_FORMAT_EVALUATION "evaluation"
#define HD_FORMAT_POSITIONS "positions"
#define HD_FORMAT_COMPARISON "comparison"
#define HD_FORMAT_CALIBRATION "calibration"

/* Current versions written (a reader refuses a newer major). */
#define HD_CAPTURES_VERSION 1
#define HD_FEATURES_VERSION 2 /* 2: /mask_reason, /tdoa/mask_reason, /dbm_ok (optional: absent means unknown) */
#define HD_MODEL_VERSION 3 /* 2: tail_nu (a version 1 model is Gaussian); 3: the anchor fit's predictive is the \
                              residuals' posterior t (earlier: the legacy scaling, hd_localize_cfg.legacy_scale) */
#define HD_EVALUATION_VERSION 2 /* 2: counts (n, located, n_receivers, n_timed) stored as integers */
#define HD_POSITIONS_VERSION 1
#define HD_COMPARISON_VERSION 1
#define HD_CALIBRATION_VERSION 1

typedef struct {
    const char *format;          /* HD_FORMAT_* */
    int version;
    const char *command_line;    /* argv joined */
    const char *config_yaml;     /* resolved config */
    const char *const *inputs;   /* input file paths (hashed here), may be NULL */
    int n_inputs;
} hd_h5_provenance;

/* A file being written: created under a temporary name beside the target
 * ("<dir>/.<name>.tmp.<pid>") and renamed into place by hd_h5_commit. */
typedef struct {
    hid_t file;
    char final_path[1024];
    char tmp_path[1100];
    int parallel;                /* opened with MPI-IO */
    MPI_Comm comm;
} hd_h5_out;

/* Create. Fails with HD_EEXIST ("<path> exists; use --force to overwrite")
 * when path exists and !force. With comm != MPI_COMM_NULL and a world larger
 * than one, the file is opened with the MPI-IO driver (collective: all ranks
 * call it). Rank 0 decides the temporary name and broadcasts it. */
int hd_h5_create(hd_h5_out *out, const char *path, int force, MPI_Comm comm);
/* Write the provenance root attributes (collective when parallel), and the
 * run's metrics (core/runinfo.h): run_wall_s, run_events, run_events_per_s,
 * run_peak_rss_mb, run_ranks, run_rank_wall_s[ranks], run_rank_peak_rss_mb. */
int hd_h5_write_provenance(hd_h5_out *out, const hd_h5_provenance *prov);
/* Close, fsync and rename to the final name (collective). */
int hd_h5_commit(hd_h5_out *out);
/* Close and remove the temporary file (collective; safe after a failure). */
void hd_h5_abort(hd_h5_out *out);
/* The temporary path of the file being written now in this process ("" if
 * none): a SIGINT handler may unlink() it (async-signal-safe read). */
const char *hd_h5_pending_tmp(void);

/* Open for reading and check heimdall_format == format and
 * heimdall_format_version <= max_version: otherwise HD_EFORMAT with
 * "<path>: not a heimdall <format> file (…)" or "…: format version N is
 * newer than this heimdall supports (M); upgrade heimdall". A file that is
 * not HDF5 at all, or truncated, gives HD_EFORMAT too. comm as in create. */
int hd_h5_open(hid_t *file, const char *path, const char *format, int max_version, MPI_Comm comm);
/* Open any heimdall file, returning its format (for `info`). */
int hd_h5_open_any(hid_t *file, const char *path, char format[32], int *version);

/* Attributes on any object. */
int hd_h5_attr_str(hid_t obj, const char *name, const char *value);
int hd_h5_attr_double(hid_t obj, const char *name, double value);
int hd_h5_attr_int(hid_t obj, const char *name, int64_t value);
int hd_h5_attr_strarray(hid_t obj, const char *name, const char *const *values, int n);
int hd_h5_attr_doubles(hid_t obj, const char *name, const double *values, int n);
/* Read a string attribute into a malloc'd buffer (*value). */
int hd_h5_read_attr_str(hid_t obj, const char *name, char **value);
int hd_h5_read_attr_double(hid_t obj, const char *name, double *value);
int hd_h5_read_attr_int(hid_t obj, const char *name, int64_t *value);
/* A variable-length string array attribute: malloc'd strings in a malloc'd
 * array (free each, then the array). */
int hd_h5_read_attr_strarray(hid_t obj, const char *name, char ***values, int *n);

/* Create a dataset of a native type (H5T_NATIVE_FLOAT, …) with `units` and
 * `description`. chunk: NULL for contiguous (no checksum possible); else
 * chunk dims (and the Fletcher-32 checksum). deflate: 0–9 (0: none;
 * applied with shuffle). Returns the dataset id (>= 0) or a
 * negative HD_E code. */
hid_t hd_h5_dataset(hid_t loc, const char *name, hid_t type, int rank,
                    const hsize_t *dims, const hsize_t *chunk, int deflate,
                    const char *units, const char *description);

/* Write a whole small dataset in one call (creates it, as one chunk with
 * its checksum). Parallel files: every rank calls it, rank 0 writes the data. */
int hd_h5_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                const void *data, const char *units, const char *description);
/* Variable-length UTF-8 string array dataset. */
int hd_h5_write_strings(hid_t loc, const char *name, const char *const *values, hsize_t n,
                        const char *description);

/* Write a hyperslab [start, start+count) along the first dimension of an
 * existing dataset (the remaining dims whole). Collective in parallel
 * files: every rank calls it, count may be 0. */
int hd_h5_write_rows(hid_t dset, hid_t type, hsize_t start, hsize_t count, const void *data);
/* Read rows likewise (independent). */
int hd_h5_read_rows(hid_t dset, hid_t type, hsize_t start, hsize_t count, void *data);

/* Integrity. Every chunked dataset hd_h5_dataset creates carries HDF5's
 * Fletcher-32 filter (a checksum per chunk over its stored bytes, checked
 * on every read), and every dataset heimdall writes with data is chunked:
 * the bulk arrays per event or block, the per-event columns in chunks of
 * 1024 events, the small ones written whole (hd_h5_write) as one chunk.
 * Only empty datasets (a zero dimension: no chunk) have none, and files
 * of earlier versions (contiguous). A read that fails on it is reported by
 * hd_h5_read_error as "checksum mismatch in /iq …". */
uint32_t hd_h5_fletcher32(const void *data, size_t len); /* HDF5's checksum of len bytes */
/* A dataset opened to be read by blocks of rows and kept open (the readers'
 * datasets): its chunk cache holds one chunk, not HDF5's default 1 MiB. */
hid_t hd_h5_open_rows(hid_t loc, const char *name);
/* The reader's kept dataset in *slot (0: not yet opened): opened by
 * hd_h5_open_rows on first use, then the same id; < 0 when it cannot be
 * opened. hd_h5_close_kept closes n slots (before their file: a file opened
 * for MPI-IO cannot close with objects open) and zeroes them. */
hid_t hd_h5_rows_kept(hid_t *slot, hid_t loc, const char *name);
void hd_h5_close_kept(hid_t *slots, size_t n);
int hd_h5_has_checksum(hid_t dset);                       /* 1 if dset carries the Fletcher-32 filter */
/* The error for an H5Dread of dset that just failed (call it next, before
 * any other HDF5 call): a checksum mismatch (HD_EDATA) or another failure
 * (HD_EFORMAT); `what` (may be NULL) follows the dataset's name. */
int hd_h5_read_error(hid_t dset, const char *what);

/* Read every chunk of every chunked dataset in file (each checked against
 * its checksum) and every other dataset whole; what failed is in problems
 * ("checksum mismatch in /iq chunk at [2, 0, 0, 0] (1 of 6 chunks of iq
 * bad)"). Returns 0 (problems are findings, not errors) or HD_ENOMEM. */
#define HD_H5_MAX_PROBLEMS 8
typedef struct {
    int datasets;    /* visited */
    int chunked;     /* of them chunked, */
    int checksummed; /* of those with Fletcher-32 */
    int contiguous;  /* contiguous or compact: no checksum possible, read whole */
    int unread;      /* empty or variable-length: nothing read */
    long long chunks;
    int n_problems;  /* may exceed HD_H5_MAX_PROBLEMS; the first are kept */
    char problems[HD_H5_MAX_PROBLEMS][900];
} hd_h5_integrity;
int hd_h5_check_integrity(hid_t file, hd_h5_integrity *r);

/* The dimensions of dataset name, which must have want_rank of them. */
int hd_h5_dims(hid_t file, const char *name, int want_rank, hsize_t *dims);
/* Read a whole dataset: dims out (up to 8), malloc'd data of the native type. */
int hd_h5_read(hid_t loc, const char *name, hid_t type, int *rank, hsize_t dims[8], void **data);
int hd_h5_read_strings(hid_t loc, const char *name, char ***values, hsize_t *n);
void hd_h5_free_strings(char **values, hsize_t n);
/* The input records ("path sha256") of a heimdall file: /provenance/inputs,
 * else the root attribute `inputs` of older files; n 0 when none. Free with
 * hd_h5_free_strings(lines, n). */
int hd_h5_read_inputs(hid_t file, char ***lines, int *n);

/* Software identity recorded in files. */
const char *hd_version(void);      /* "0.1.0" */
const char *hd_git_commit(void);   /* from the build, "unknown" if not a git checkout */

/* Where an input recorded in `file`'s provenance (path `recorded`, sha256
 * `want`) is now: the path as recorded (absolute, or relative to here), then
 * relative to the file's folder and each folder above it, then its name
 * beside the file. The first candidate with the recorded hash wins, else the
 * first that exists. Returns 1 with its path in buf and its hash in hex, or 0
 * when none exists (buf: the path as recorded). */
int hd_h5_find_input(const char *file, const char *recorded, const char *want, char *buf, size_t size, char hex[65]);

#endif
