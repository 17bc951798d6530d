/* heimdall info FILE: format, provenance, datasets with shapes and units,
 * and a summary of what the file holds. */
#include "cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/table.h"
#include "core/util.h"
#include "h5/h5.h"
#include "capture/event.h"
#include "features/features.h"

#include <stdlib.h>
#include <string.h>

void hd_cmd_info_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall info FILE...\n"
            "\n"
            "Describe heimdall HDF5 files: format and version, provenance (software,\n"
            "git commit, creation time, command line, config and input hashes), every\n"
            "dataset with its shape, type and units, and a summary (for captures:\n"
            "events, receivers, sample rate, link status counts, SNR spread; for\n"
            "features: valid receivers, and why receivers and pairs were masked).\n"
            "\n"
            "Options:\n"
            "  -h, --help   this help\n");
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op)
{
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    hsize_t dims[8] = {0};
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank > 8)
        rank = 8;
    H5Sget_simple_extent_dims(sp, dims, NULL);
    char shape[128] = "";
    size_t off = 0;
    for (int i = 0; i < rank && off < sizeof shape; i++)
        off += (size_t)snprintf(shape + off, sizeof shape - off, "%s%llu", i ? " × " : "", (unsigned long long)dims[i]);
    if (rank == 0)
        snprintf(shape, sizeof shape, "scalar");
    const char *tname = "?";
    H5T_class_t cls = H5Tget_class(ty);
    size_t sz = H5Tget_size(ty);
    if (cls == H5T_INTEGER)
        tname = H5Tget_sign(ty) == H5T_SGN_NONE ? (sz == 1 ? "uint8" : sz == 2 ? "uint16" : sz == 4 ? "uint32" : "uint64")
                                                 : (sz == 1 ? "int8" : sz == 2 ? "int16" : sz == 4 ? "int32" : "int64");
    else if (cls == H5T_FLOAT)
        tname = sz == 4 ? "float32" : "float64";
    else if (cls == H5T_STRING)
        tname = "string";
    else if (cls == H5T_COMPOUND)
        tname = "compound";
    char *units = NULL;
    if (H5Aexists(d, "units") > 0)
        hd_h5_read_attr_str(d, "units", &units);
    char path[1100];
    snprintf(path, sizeof path, "/%s", name);
    const char *row[4] = {path, shape, tname, units ? units : ""};
    int rc = hd_table_add(op, row);
    free(units);
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(d);
    return rc < 0 ? -1 : 0;
}

static void print_table(hd_table *t, const char *align)
{
    char *text = NULL;
    if (hd_table_format(t, "  ", "  ", align, &text) == 0)
        fputs(text, stdout);
    free(text);
    hd_table_release(t);
}

/* the receivers' ids, names, positions, drivers, clocks: widths from the data */
static void receivers_table(hid_t f)
{
    static const char *cols[] = {"id", "name", "driver", "clock"};
    char **s[4] = {NULL};
    hsize_t n[4] = {0}, nr = 0;
    double *lat = NULL, *lon = NULL;
    int rank;
    hsize_t dims[8];
    if (H5Lexists(f, "receivers", H5P_DEFAULT) <= 0 || H5Lexists(f, "receivers/id", H5P_DEFAULT) <= 0)
        return;
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "receivers/%s", cols[k]);
        if (H5Lexists(f, name, H5P_DEFAULT) > 0 && hd_h5_read_strings(f, name, &s[k], &n[k]) < 0)
            s[k] = NULL, n[k] = 0;
    }
    nr = n[0];
    if (hd_h5_read(f, "receivers/lat", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&lat) < 0 || dims[0] != nr ||
        hd_h5_read(f, "receivers/lon", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&lon) < 0 || dims[0] != nr)
        goto done;
    hd_table t;
    hd_table_init(&t, 6);
    const char *head[6] = {"ID", "NAME", "LAT", "LON", "DRIVER", "CLOCK"};
    hd_table_add(&t, head);
    for (hsize_t i = 0; i < nr; i++) {
        char la[32], lo[32];
        snprintf(la, sizeof la, "%.5f", lat[i]);
        snprintf(lo, sizeof lo, "%.5f", lon[i]);
        const char *row[6] = {s[0][i], i < n[1] ? s[1][i] : "", la, lo, i < n[2] ? s[2][i] : "", i < n[3] ? s[3][i] : ""};
        hd_table_add(&t, row);
    }
    printf("\nReceivers:\n");
    print_table(&t, "llrrll");
done:
    for (int k = 0; k < 4; k++)
        if (s[k])
            hd_h5_free_strings(s[k], n[k]);
    free(lat);
    free(lon);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void captures_summary(hid_t f)
{
    int rank;
    hsize_t dims[8];
    int8_t *status = NULL;
    double *snr = NULL, *fs = NULL, *freq = NULL;
    uint8_t *gps = NULL, *has_iq = NULL, *has_lv = NULL;
    char **ids = NULL;
    hsize_t n_ids = 0;
    if (hd_h5_read(f, "status", H5T_NATIVE_INT8, &rank, dims, (void **)&status) < 0 || rank != 2)
        goto done;
    size_t E = dims[0], R = dims[1];
    printf("\nSummary:\n  events: %zu   receivers: %zu\n", E, R);
    if (hd_h5_read_strings(f, "receivers/id", &ids, &n_ids) == 0) {
        printf("  receiver ids:");
        for (hsize_t i = 0; i < n_ids; i++)
            printf(" %s", ids[i]);
        printf("\n");
    }
    if (E == 0)
        goto done;
    if (hd_h5_read(f, "events/sample_rate_hz", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&fs) == 0)
        printf("  sample rate: %.0f Hz", fs[0]);
    hid_t d = H5Dopen2(f, "iq", H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        hsize_t qd[4];
        if (H5Sget_simple_extent_ndims(sp) == 4) {
            H5Sget_simple_extent_dims(sp, qd, NULL);
            printf("   samples per capture: %llu (%.3f s)", (unsigned long long)qd[2],
                   fs ? (double)qd[2] / fs[0] : 0.0);
        }
        H5Sclose(sp);
        H5Dclose(d);
    }
    printf("\n");
    if (hd_h5_read(f, "events/frequency_hz", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&freq) == 0) {
        double fmin = freq[0], fmax = freq[0];
        for (size_t i = 0; i < E; i++) {
            fmin = freq[i] < fmin ? freq[i] : fmin;
            fmax = freq[i] > fmax ? freq[i] : fmax;
        }
        printf("  frequencies: %.4f – %.4f MHz\n", fmin / 1e6, fmax / 1e6);
    }
    size_t counts[HD_RX_STATUS_COUNT + 1] = {0};
    for (size_t i = 0; i < E * R; i++)
        counts[status[i] >= 0 && status[i] < HD_RX_STATUS_COUNT ? status[i] : HD_RX_STATUS_COUNT]++;
    printf("  links:");
    for (int s = 0; s <= HD_RX_STATUS_COUNT; s++)
        if (counts[s])
            printf(" %s %zu", s < HD_RX_STATUS_COUNT ? hd_rx_status_name(s) : "unknown", counts[s]);
    printf("\n");
    if (hd_h5_read(f, "has_iq", H5T_NATIVE_UINT8, &rank, dims, (void **)&has_iq) == 0 &&
        hd_h5_read(f, "has_levels", H5T_NATIVE_UINT8, &rank, dims, (void **)&has_lv) == 0 &&
        hd_h5_read(f, "gps_ok", H5T_NATIVE_UINT8, &rank, dims, (void **)&gps) == 0) {
        size_t niq = 0, nlv = 0, ngps = 0;
        for (size_t i = 0; i < E * R; i++) {
            niq += has_iq[i];
            nlv += has_lv[i];
            ngps += has_iq[i] && gps[i];
        }
        printf("  IQ captures: %zu (GPS-timed %zu)   level series: %zu\n", niq, ngps, nlv);
    }
    if (hd_h5_read(f, "truth/snr_db", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&snr) == 0) {
        size_t n = 0;
        for (size_t i = 0; i < E * R; i++)
            if (status[i] == HD_RX_OK)
                snr[n++] = snr[i];
        if (n) {
            qsort(snr, n, sizeof *snr, cmp_double);
            printf("  SNR of received links (truth): min %.1f dB, 10%% %.1f, median %.1f, 90%% %.1f, max %.1f dB\n",
                   snr[0], snr[n / 10], snr[n / 2], snr[(n * 9) / 10], snr[n - 1]);
        }
    }
done:
    if (ids)
        hd_h5_free_strings(ids, n_ids);
    free(status);
    free(snr);
    free(fs);
    free(freq);
    free(gps);
    free(has_iq);
    free(has_lv);
}

/* valid receivers, and why the others and the pairs were masked */
static void features_summary(const char *path)
{
    hd_features_reader rd;
    hd_features_tally t;
    if (hd_features_open(&rd, path, MPI_COMM_NULL) < 0)
        return;
    if (hd_features_count(&rd, &t) == 0) {
        printf("\nSummary:\n  events: %lld   receivers: %d   valid receiver features: %lld of %lld",
               (long long)rd.meta.n_events, rd.meta.n_receivers, (long long)t.valid,
               (long long)rd.meta.n_events * rd.meta.n_receivers);
        if (rd.has_dbm_ok)
            printf(" (%lld without a calibrated dBm)", (long long)t.no_dbm);
        if (!rd.has_reasons) {
            printf("\n  mask reasons: not recorded (older file or imported features)\n");
        } else {
            printf("\n  receivers: %lld ok; masked:", (long long)t.rx[0]);
            for (int k = 1; k < HD_WHY_RX_COUNT; k++)
                printf(" %s %lld", hd_rx_why_name(k), (long long)t.rx[k]);
            printf("\n  pairs: %lld ok; masked:", (long long)t.pair[0]);
            for (int k = 1; k < HD_WHY_PAIR_COUNT; k++)
                printf(" %s %lld", hd_pair_why_name(k), (long long)t.pair[k]);
            printf("\n");
        }
    }
    hd_features_release(&rd);
}

static int info_one(const char *path)
{
    hid_t f;
    char format[32];
    int version = 0;
    int rc = hd_h5_open_any(&f, path, format, &version);
    if (rc < 0)
        return rc;
    printf("%s: heimdall %s file, format version %d\n", path, format, version);
    const char *attrs[] = {"software_version", "git_commit", "created_utc", "command_line", "config_sha256", "source"};
    for (size_t i = 0; i < HD_ARRAY_LEN(attrs); i++) {
        char *v = NULL;
        if (H5Aexists(f, attrs[i]) > 0 && hd_h5_read_attr_str(f, attrs[i], &v) == 0)
            printf("  %-17s %s\n", attrs[i], v);
        free(v);
    }
    char **inputs = NULL;
    int n_in = 0;
    if (hd_h5_read_inputs(f, &inputs, &n_in) == 0 && n_in > 0)
        printf("  inputs            %d file(s)\n", n_in);
    hd_h5_free_strings(inputs, (hsize_t)n_in);
    printf("\nDatasets:\n");
    hd_table t;
    hd_table_init(&t, 4);
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, &t);
    print_table(&t, NULL);
    receivers_table(f);
    if (strcmp(format, HD_FORMAT_CAPTURES) == 0)
        captures_summary(f);
    else if (strcmp(format, HD_FORMAT_FEATURES) == 0)
        features_summary(path);
    H5Fclose(f);
    return 0;
}

int hd_cmd_info(int argc, char **argv)
{
    hd_cli cli;
    int st = hd_cli_parse(&cli, hd_cmd_find("info"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    if (cli.n_inputs < 1) {
        fprintf(stderr, "heimdall info: error: a file is required\nTry 'heimdall info --help'.\n");
        return 2;
    }
    int worst = 0;
    for (int i = 0; i < cli.n_inputs; i++) {
        if (i)
            printf("\n");
        int rc = info_one(cli.inputs[i]);
        if (rc < 0) {
            int s = hd_cli_fail(&cli, rc);
            worst = s > worst ? s : worst;
        }
    }
    return worst;
}
