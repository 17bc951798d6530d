/* h5: atomic creation, refusal to overwrite, provenance, format checks on
 * wrong, newer, truncated and non-HDF5 files, dataset helpers. */
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"
#include "tap.h"
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int write_file(const char *path, const char *format, int version)
{
    hd_h5_out o;
    int rc = hd_h5_create(&o, path, 1, MPI_COMM_NULL);
    if (rc)
        return rc;
    const char *inputs[] = {"/etc/hostname"};
    hd_h5_provenance p = {.format = format, .version = version, .command_line = "heimdall test",
                          .config_yaml = "seed: 1\n", .inputs = access("/etc/hostname", R_OK) == 0 ? inputs : NULL,
                          .n_inputs = access("/etc/hostname", R_OK) == 0 ? 1 : 0};
    float v[6] = {1, 2, 3, 4, 5, 6};
    hsize_t dims[2] = {3, 2};
    const char *names[] = {"alpha", "beta gamma", ""};
    if ((rc = hd_h5_write_provenance(&o, &p)) || (rc = hd_h5_write(o.file, "x", H5T_NATIVE_FLOAT, 2, dims, v, "dB", "a test")) ||
        (rc = hd_h5_write_strings(o.file, "names", names, 3, "some names"))) {
        hd_h5_abort(&o);
        return rc;
    }
    return hd_h5_commit(&o);
}

int main(void)
{
    plan_no_plan();
    char dir[] = "/tmp/hd-test-h5.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256], trunc[256], text[256], newer[256];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    snprintf(trunc, sizeof trunc, "%s/t.h5", dir);
    snprintf(text, sizeof text, "%s/x.h5", dir);
    snprintf(newer, sizeof newer, "%s/n.h5", dir);

    hd_h5_out o;
    ok(hd_h5_create(&o, path, 0, MPI_COMM_NULL) == 0, "create");
    ok(!exists(path) && exists(o.tmp_path), "written under a temporary name until committed");
    like(o.tmp_path, "/.a.h5.tmp.", "temporary name beside the target");
    is_str(hd_h5_pending_tmp(), o.tmp_path, "pending temporary file known (for signal handlers)");
    hd_h5_abort(&o);
    ok(!exists(path) && !exists(o.tmp_path), "abort leaves nothing");
    is_str(hd_h5_pending_tmp(), "", "nothing pending after abort");

    /* temporaries of runs that died (killed, out of time) are swept by the
     * next run; a live run's, another host's and other outputs' are kept */
    {
        char host[64], dead[400], live[400], other_host[400], other_out[400], legacy[400];
        gethostname(host, sizeof host);
        host[sizeof host - 1] = 0;
        for (char *c = host; *c; c++)
            if (*c == '.' || *c == '/')
                *c = '-';
        pid_t child = fork();
        if (child == 0)
            _exit(0);
        waitpid(child, NULL, 0); /* a pid that no longer exists */
        snprintf(dead, sizeof dead, "%s/.a.h5.tmp.%s.%ld", dir, host, (long)child);
        snprintf(legacy, sizeof legacy, "%s/.a.h5.tmp.%ld", dir, (long)child);
        snprintf(live, sizeof live, "%s/.a.h5.tmp.%s.%ld", dir, host, (long)getppid());
        snprintf(other_host, sizeof other_host, "%s/.a.h5.tmp.node-17.%ld", dir, (long)child);
        snprintf(other_out, sizeof other_out, "%s/.b.h5.tmp.%s.%ld", dir, host, (long)child);
        const char *all[] = {dead, legacy, live, other_host, other_out};
        for (int k = 0; k < 5; k++) {
            FILE *f = fopen(all[k], "w");
            if (f)
                fclose(f);
        }
        ok(hd_h5_create(&o, path, 0, MPI_COMM_NULL) == 0, "create beside a dead run's temporaries");
        ok(!exists(dead) && !exists(legacy), "the dead runs' temporaries are removed (with and without a host)");
        ok(exists(live), "a live run's temporary is kept");
        ok(exists(other_host), "another host's temporary is kept (a shared file system)");
        ok(exists(other_out), "another output's temporary is kept");
        char want[100];
        snprintf(want, sizeof want, "/.a.h5.tmp.%s.%ld", host, (long)getpid());
        like(o.tmp_path, want, "the temporary names this host and process");
        hd_h5_abort(&o);
        unlink(live);
        unlink(other_host);
        unlink(other_out);
    }

    ok(write_file(path, HD_FORMAT_CAPTURES, 1) == 0, "write and commit");
    ok(exists(path), "committed file present");
    char sum[65], sum2[65];
    hd_sha256_file(path, sum);
    ok(hd_h5_create(&o, path, 0, MPI_COMM_NULL) == HD_EEXIST, "existing file refused without force");
    like(hd_errmsg(), "exists; use --force to overwrite", "message says how");
    hd_sha256_file(path, sum2);
    is_str(sum2, sum, "existing file untouched");
    ok(hd_h5_create(&o, "/nonexistent-dir/a.h5", 0, MPI_COMM_NULL) == HD_EIO, "missing directory refused");
    like(hd_errmsg(), "/nonexistent-dir does not exist", "and named");

    hid_t f;
    ok(hd_h5_open(&f, path, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == 0, "open with the right format");
    char *s = NULL;
    hd_h5_read_attr_str(f, "config_sha256", &s);
    char want[65];
    hd_sha256_hex("seed: 1\n", 8, want);
    is_str(s, want, "config_sha256 is the sha256 of config_yaml");
    free(s);
    s = NULL;
    hd_h5_read_attr_str(f, "created_utc", &s);
    like(s, "Z", "created_utc is ISO 8601 UTC");
    free(s);
    s = NULL;
    const char *attrs[] = {"software_version", "git_commit", "command_line", "config_yaml", "heimdall_format"};
    int all = 1;
    for (int i = 0; i < 5; i++)
        all &= H5Aexists(f, attrs[i]) > 0;
    ok(all, "provenance attributes present");
    if (access("/etc/hostname", R_OK) == 0)
    {
        char **in = NULL;
        int nin = 0;
        ok(hd_h5_read_inputs(f, &in, &nin) == 0 && nin == 1 && strstr(in[0], "/etc/hostname ") == in[0] &&
               strlen(in[0]) == strlen("/etc/hostname ") + 64 && H5Aexists(f, "inputs") <= 0 &&
               H5Aexists(f, "input_sha256:hostname") <= 0,
           "input hashes recorded in one dataset /provenance/inputs, no attribute per input");
        hd_h5_free_strings(in, (hsize_t)nin);
    }
    hid_t d = H5Dopen2(f, "x", H5P_DEFAULT);
    hd_h5_read_attr_str(d, "units", &s);
    is_str(s, "dB", "dataset units");
    free(s);
    s = NULL;
    hd_h5_read_attr_str(d, "description", &s);
    is_str(s, "a test", "dataset description");
    free(s);
    float rows[2] = {0};
    ok(hd_h5_read_rows(d, H5T_NATIVE_FLOAT, 1, 1, rows) == 0 && rows[0] == 3 && rows[1] == 4, "read a row");
    ok(hd_h5_read_rows(d, H5T_NATIVE_FLOAT, 2, 2, rows) == HD_EINVAL, "rows past the end refused");
    H5Dclose(d);
    char **names;
    hsize_t n;
    ok(hd_h5_read_strings(f, "names", &names, &n) == 0 && n == 3 && strcmp(names[1], "beta gamma") == 0 &&
           names[2][0] == '\0', "strings round trip");
    hd_h5_free_strings(names, n);
    H5Fclose(f);

    /* the HDF5 1.10 file format (superblock 3, fixed-array chunk indexes
     * whose memory does not grow with the number of chunks), not 1.8's */
    ok(hd_h5_open(&f, path, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == 0, "reopen");
    H5F_info2_t finfo;
    ok(H5Fget_info2(f, &finfo) == 0 && finfo.super.version == 3, "written in the HDF5 1.10 format (superblock 3)");
    H5Fclose(f);
    ok(hd_h5_create(&o, newer, 1, MPI_COMM_NULL) == 0, "create again");
    {
        hid_t fapl = H5Fget_access_plist(o.file);
        H5F_libver_t lo = H5F_LIBVER_LATEST, hi = H5F_LIBVER_EARLIEST;
        H5Pget_libver_bounds(fapl, &lo, &hi);
        H5Pclose(fapl);
        ok(lo == H5F_LIBVER_V110 && hi == H5F_LIBVER_V110, "written with libver bounds 1.10 .. 1.10 (readable by HDF5 >= 1.10)");
        H5AC_cache_config_t mc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
        ok(H5Fget_mdc_config(o.file, &mc) >= 0 && mc.max_size == HD_H5_MDC_BYTES && mc.max_size <= 128 * 1024 &&
               mc.incr_mode == H5C_incr__off && mc.flash_incr_mode == H5C_flash_incr__off,
           "written with a metadata cache fixed at %d KiB (it does not grow with the campaign)", HD_H5_MDC_BYTES / 1024);
    }
    hd_h5_abort(&o);
    ok(hd_h5_open(&f, path, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == 0, "reopen");
    {
        H5AC_cache_config_t mc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
        ok(H5Fget_mdc_config(f, &mc) >= 0 && mc.max_size == HD_H5_MDC_BYTES && mc.incr_mode == H5C_incr__off,
           "read with the same fixed metadata cache");
    }
    H5Fclose(f);

    /* a file of the earliest format (superblock 0, v1 B-tree chunk index),
     * as heimdall wrote them before: still read */
    {
        hid_t old = H5Fcreate(newer, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[2] = {3000, 2}, chunk[2] = {1, 2};
        float *col = calloc(6000, sizeof *col);
        for (int i = 0; i < 6000; i++)
            col[i] = (float)i;
        hid_t od = old >= 0 ? hd_h5_dataset(old, "x", H5T_NATIVE_FLOAT, 2, dims, chunk, 4, "dB", "old") : -1;
        ok(old >= 0 && od >= 0 && hd_h5_attr_str(old, "heimdall_format", HD_FORMAT_CAPTURES) == 0 &&
               hd_h5_attr_int(old, "heimdall_format_version", 1) == 0 &&
               hd_h5_write_rows(od, H5T_NATIVE_FLOAT, 0, 3000, col) == 0,
           "an earliest-format file with 3000 chunks written");
        if (od >= 0)
            H5Dclose(od);
        H5F_info2_t oinfo;
        ok(old >= 0 && H5Fget_info2(old, &oinfo) == 0 && oinfo.super.version == 0, "it has superblock 0");
        if (old >= 0)
            H5Fclose(old);
        float r2[4] = {0};
        ok(hd_h5_open(&f, newer, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == 0, "opened");
        od = H5Dopen2(f, "x", H5P_DEFAULT);
        ok(od >= 0 && hd_h5_read_rows(od, H5T_NATIVE_FLOAT, 2998, 2, r2) == 0 && r2[0] == 5996 && r2[3] == 5999,
           "its rows read");
        if (od >= 0)
            H5Dclose(od);
        H5Fclose(f);
        free(col);
    }

    ok(hd_h5_open(&f, path, HD_FORMAT_FEATURES, 1, MPI_COMM_NULL) == HD_EFORMAT, "wrong format refused");
    like(hd_errmsg(), "not a heimdall features file (heimdall_format is 'captures')", "names both formats");

    write_file(newer, HD_FORMAT_CAPTURES, 7);
    ok(hd_h5_open(&f, newer, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == HD_EFORMAT, "newer version refused");
    like(hd_errmsg(), "format version 7 is newer than this heimdall supports (1); upgrade heimdall", "says to upgrade");

    /* a truncated copy */
    char *data;
    size_t len;
    hd_read_file(path, &data, &len);
    FILE *t = fopen(trunc, "wb");
    fwrite(data, 1, len / 2, t);
    fclose(t);
    free(data);
    ok(hd_h5_open(&f, trunc, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == HD_EFORMAT, "truncated file refused");
    like(hd_errmsg(), "truncated or corrupt", "says truncated or corrupt");
    t = fopen(text, "w");
    fputs("seed: 1\n", t);
    fclose(t);
    ok(hd_h5_open(&f, text, HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == HD_EFORMAT, "text file refused");
    like(hd_errmsg(), "not an HDF5 file", "says not HDF5");
    ok(hd_h5_open(&f, "/nonexistent.h5", HD_FORMAT_CAPTURES, 1, MPI_COMM_NULL) == HD_EIO, "missing file: I/O error");

    /* h5py reads it, strings as text */
    if (system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import h5py; f = h5py.File('%s'); "
                 "assert f.attrs['heimdall_format'] == 'captures'; assert f['x'].attrs['units'] == 'dB'; "
                 "assert [s.decode() for s in f['names'][:]] == ['alpha', 'beta gamma', '']; "
                 "assert f['x'][:].sum() == 21\"",
                 path);
        ok(system(cmd) == 0, "h5py reads attributes, strings and data");
    } else {
        skip(1, "no h5py in /usr/bin/python3");
    }
    unlink(path);
    unlink(trunc);
    unlink(text);
    unlink(newer);
    rmdir(dir);
    done_testing();
    return exit_status();
}
