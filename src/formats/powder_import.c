/* POWDER into a features file: see powder_import.h. */
#include "formats/powder_import.h"
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/runinfo.h"
#include "features/features.h"
#include "h5/h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_powder_events(const hd_powder *p, int64_t first, int n, hd_event *ev, hd_link *lk, float *feat)
{
    const int R = p->R, F = HD_FEAT_COUNT;
    memset(feat, 0, (size_t)(n * R * F) * sizeof *feat);
    for (int i = 0; i < n; i++) {
        int64_t e = first + i;
        hd_event *v = &ev[i];
        memset(v, 0, sizeof *v);
        v->index = e;
        v->time_ns = p->time_ns[e];
        v->frequency_hz = HD_POWDER_FREQUENCY_HZ;
        v->sample_rate_hz = 2e6;
        hd_tx_truth_unknown(&v->truth);
        v->truth.lat = p->tx_lat[e];
        v->truth.lon = p->tx_lon[e];
        for (int r = 0; r < R; r++) {
            size_t o = (size_t)e * R + r, k = (size_t)i * R + r;
            hd_link *l = &lk[k];
            memset(l, 0, sizeof *l);
            l->status = HD_RX_OK;
            l->has_levels = p->heard[o];
            l->t0_s = l->gain_db = NAN;
            hd_link_truth_unknown(&l->truth);
            if (p->heard[o]) {
                feat[k * F + HD_FEAT_RSS_DBFS] = p->rss[o];
                feat[k * F + HD_FEAT_RSS_DBM] = p->rss[o];
            }
        }
    }
}

int hd_powder_write_features(const hd_import_out *o, const hd_powder *p, const char *const inputs[2])
{
    int rc = 0;
    const int R = p->R, F = HD_FEAT_COUNT, P = hd_features_npairs(R);
    const int64_t E = p->E;
    hd_h5_out out;
    hd_features_writer w;
    int out_open = 0, w_open = 0;
    const int64_t B = 512;
    hd_event *ev = hd_calloc((size_t)B, sizeof *ev);
    hd_link *lk = hd_calloc((size_t)(B * R), sizeof *lk);
    float *feat = hd_calloc((size_t)(B * R * F), sizeof *feat), *psr = hd_calloc((size_t)(B * P), sizeof *psr);
    double *delay = hd_calloc((size_t)(B * P), sizeof *delay), *sigma = hd_calloc((size_t)(B * P), sizeof *sigma);
    uint8_t *tmask = hd_calloc((size_t)(B * P), 1);
    int8_t *kind = hd_calloc((size_t)R, 1);
    if (!ev || !lk || !feat || !psr || !delay || !sigma || !tmask || !kind) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, o->path, o->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, p->st, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, E, R, 1, o->compression, 0, 0)) < 0)
        goto fail;
    w_open = 1;
    for (int64_t first = 0; first < E; first += B) {
        int n = (int)(E - first < B ? E - first : B);
        hd_powder_events(p, first, n, ev, lk, feat);
        if ((rc = hd_features_write_block(&w, first, n, ev, lk, feat, p->heard + first * R, delay, sigma, psr, tmask,
                                          NULL)) < 0)
            goto fail;
    }
    hd_features_close(&w);
    w_open = 0;
    hsize_t d2[2] = {(hsize_t)E, (hsize_t)R}, d1[1] = {(hsize_t)E}, dr[1] = {(hsize_t)R};
    for (int r = 0; r < R; r++)
        kind[r] = (int8_t)p->is_bus[r];
    hid_t g = H5Gcreate2(out.file, "splits", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        rc = hd_error(HD_EIO, "cannot create /splits");
        goto fail;
    }
    H5Gclose(g);
    if ((rc = hd_h5_write(out.file, "rx_lat", H5T_NATIVE_DOUBLE, 2, d2, p->rx_lat, "degree",
                          "receiver latitude per sample (buses move; NaN when a bus did not report)")) < 0 ||
        (rc = hd_h5_write(out.file, "rx_lon", H5T_NATIVE_DOUBLE, 2, d2, p->rx_lon, "degree",
                          "receiver longitude per sample")) < 0 ||
        (rc = hd_h5_write(out.file, "receivers/is_bus", H5T_NATIVE_INT8, 1, dr, kind, "1",
                          "1 for a bus-mounted receiver (position per sample in /rx_lat, /rx_lon)")) < 0 ||
        (rc = hd_h5_write(out.file, "splits/month", H5T_NATIVE_INT8, 1, d1, p->month, "1",
                          "calendar month of the sample's local time (1 January .. 12 December): split by month")) < 0 ||
        (rc = hd_h5_write(out.file, "splits/time_block", H5T_NATIVE_INT8, 1, d1, p->block, "1",
                          "contiguous time block of the sample (equal counts in time order): hold one out")) < 0 ||
        (rc = hd_h5_attr_int(out.file, "time_blocks", p->n_blocks)) < 0 ||
        (rc = hd_h5_attr_str(out.file, "time_zone", p->tz)) < 0)
        goto fail;
    {
        char src[256];
        snprintf(src, sizeof src, "POWDER outdoor RSS data set (University of Utah), 462.7 MHz; RSS uncalibrated per "
                                  "receiver; timestamps read as local time in %s (tz database)", p->tz);
        if ((rc = hd_h5_attr_str(out.file, "source", src)) < 0)
            goto fail;
    }
    hd_runinfo_set_events(E);
    {
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = o->command_line, .config_yaml = o->config_yaml, .inputs = inputs,
                                 .n_inputs = 2};
        if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
fail:
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    free(ev);
    free(lk);
    free(feat);
    free(psr);
    free(delay);
    free(sigma);
    free(tmask);
    free(kind);
    return rc;
}
