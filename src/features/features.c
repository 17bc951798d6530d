#include "features/features.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name, *units; } feature_info[HD_FEAT_COUNT] = {
    [HD_FEAT_RSS_DBFS] = {"rss_dbfs", "dBFS"},
    [HD_FEAT_RSS_DBM] = {"rss_dbm", "dBm"},
    [HD_FEAT_SNR_DB] = {"snr_db", "dB"},
    [HD_FEAT_NOISE_DBFS] = {"noise_dbfs", "dBFS"},
    [HD_FEAT_FREQ_OFFSET_HZ] = {"freq_offset_hz", "Hz"},
    [HD_FEAT_OCC_BW_HZ] = {"occupied_bw_hz", "Hz"},
    [HD_FEAT_RMS_BW_HZ] = {"rms_bw_hz", "Hz"},
    [HD_FEAT_CLIPPED] = {"clipped_fraction", "1"},
    [HD_FEAT_GPS_OK] = {"gps_ok", "1"},
    [HD_FEAT_LEVEL_STD_DB] = {"level_std_db", "dB"},
    [HD_FEAT_HAS_IQ] = {"has_iq", "1"},
};

static const char *const rx_why_names[HD_WHY_RX_COUNT] = {
    [HD_WHY_RX_OK] = "ok",           [HD_WHY_RX_NOT_CAPTURED] = "not_captured", [HD_WHY_RX_DEAD] = "dead",
    [HD_WHY_RX_CLIPPED] = "clipped", [HD_WHY_RX_NO_DATA] = "no_data",           [HD_WHY_RX_NOT_FINITE] = "not_finite",
};
const char *const hd_tdoa_method_names[HD_TDOA_METHOD_COUNT] = {
    [HD_TDOA_NONE] = "none", [HD_TDOA_CORRELATION] = "correlation", [HD_TDOA_ENVELOPE] = "envelope",
    [HD_TDOA_FREQUENCY] = "frequency", [HD_TDOA_ARRIVAL] = "arrival"};

static const char *const pair_why_names[HD_WHY_PAIR_COUNT] = {
    [HD_WHY_PAIR_OK] = "ok",
    [HD_WHY_PAIR_END_MASKED] = "end_masked",
    [HD_WHY_PAIR_LEVEL_ONLY] = "level_only",
    [HD_WHY_PAIR_NO_GPS_TIME] = "no_gps_time",
    [HD_WHY_PAIR_TOO_NARROW] = "too_narrow",
    [HD_WHY_PAIR_NOT_REFERENCE] = "not_reference",
    [HD_WHY_PAIR_NO_PEAK] = "no_peak",
    [HD_WHY_PAIR_OUTSIDE_LAG_WINDOW] = "outside_lag_window",
    [HD_WHY_PAIR_STALE_GPS] = "stale_gps",
    [HD_WHY_PAIR_CLOCK_DRIFT] = "clock_drift",
    [HD_WHY_PAIR_NO_FREQ_LOCK] = "no_freq_lock",
};

const char *hd_rx_why_name(int k) { return k >= 0 && k < HD_WHY_RX_COUNT ? rx_why_names[k] : "unknown"; }
const char *hd_pair_why_name(int k) { return k >= 0 && k < HD_WHY_PAIR_COUNT ? pair_why_names[k] : "unknown"; }

const char *hd_feature_name(int k) { return k >= 0 && k < HD_FEAT_COUNT ? feature_info[k].name : "?"; }
const char *hd_feature_units(int k) { return k >= 0 && k < HD_FEAT_COUNT ? feature_info[k].units : "?"; }

int hd_features_npairs(int n) { return n * (n - 1) / 2; }

void hd_features_pair(int n, int p, int *i, int *j)
{
    int a = 0;
    while (p >= n - 1 - a) {
        p -= n - 1 - a;
        a++;
    }
    *i = a;
    *j = a + 1 + p;
}

/* /feature_names and /feature_units, in /features order. */
static int write_feature_names(hid_t file)
{
    const char *names[HD_FEAT_COUNT], *units[HD_FEAT_COUNT];
    for (int k = 0; k < HD_FEAT_COUNT; k++) {
        names[k] = feature_info[k].name;
        units[k] = feature_info[k].units;
    }
    int rc = hd_h5_write_strings(file, "feature_names", names, HD_FEAT_COUNT, "feature names, in /features order");
    return rc < 0 ? rc : hd_h5_write_strings(file, "feature_units", units, HD_FEAT_COUNT, "feature units, in /features order");
}

/* The pairs' measurements /tdoa/{delay_s,sigma_s,psr_db,mask}, rank 1 (the
 * sparse layout's pair rows) or 2 ([event, pair]), dims and chunk given. */
static int create_pair_datasets(hd_features_writer *w, hid_t file, int rank, const hsize_t *dims,
                                const hsize_t *chunk, int compression)
{
    w->d_delay = hd_h5_dataset(file, "tdoa/delay_s", H5T_NATIVE_DOUBLE, rank, dims, chunk, compression, "s",
                               "time difference of arrival TOA_j - TOA_i (GCC-PHAT lag plus time stamps)");
    w->d_sigma = hd_h5_dataset(file, "tdoa/sigma_s", H5T_NATIVE_DOUBLE, rank, dims, chunk, compression, "s",
                               "standard deviation estimate of delay_s");
    w->d_psr = hd_h5_dataset(file, "tdoa/psr_db", H5T_NATIVE_FLOAT, rank, dims, chunk, compression, "dB",
                             "peak-to-sidelobe ratio of the correlation");
    w->d_tmask = hd_h5_dataset(file, "tdoa/mask", H5T_NATIVE_UINT8, rank, dims, chunk, compression, "1",
                               "1 where both receivers were GPS-timed and the peak was significant");
    if (w->d_delay < 0 || w->d_sigma < 0 || w->d_psr < 0 || w->d_tmask < 0)
        return hd_error(HD_EIO, "cannot create the /tdoa datasets");
    return 0;
}

int hd_features_chunk_events(int64_t n_events, int n_receivers, int logmel_frames, int logmel_mels)
{
    const double R = n_receivers > 0 ? n_receivers : 1, P = hd_features_npairs(n_receivers);
    const double row = R * (HD_FEAT_COUNT * sizeof(float) + 3 + sizeof(hd_link)) +
                       P * (2 * sizeof(double) + sizeof(float) + 3) + sizeof(hd_event) +
                       R * (logmel_frames > 0 ? logmel_frames : 0) * (logmel_mels > 0 ? logmel_mels : 0) * sizeof(float);
    int64_t c = (int64_t)floor((1 << 20) / row / 64) * 64;
    if (c < 64)
        c = 64;
    if (c > 1024)
        c = 1024;
    if (c > n_events)
        c = n_events;
    return c < 1 ? 1 : (int)c;
}

int hd_features_create(hd_features_writer *w, hid_t file, int64_t n_events, int n_receivers, int with_truth,
                       int compression, int logmel_frames, int logmel_mels)
{
    int rc;
    memset(w, 0, sizeof *w);
    w->d_feat = w->d_mask = w->d_delay = w->d_sigma = w->d_psr = w->d_tmask = w->d_logmel = H5I_INVALID_HID;
    w->d_why = w->d_twhy = w->d_dbm_ok = w->d_tmethod = H5I_INVALID_HID;
    w->d_pfirst = w->d_pcount = w->d_pairs = H5I_INVALID_HID;
    w->n_events = n_events;
    w->n_receivers = n_receivers;
    w->n_pairs = hd_features_npairs(n_receivers);
    w->chunk_events = hd_features_chunk_events(n_events, n_receivers, logmel_frames, logmel_mels);
    if ((rc = hd_captures_create(&w->meta, file, n_events, n_receivers, 0, 0, compression,
                                 (unsigned)with_truth & (HD_CAPTURES_TRUTH | HD_CAPTURES_TXID | HD_CAPTURES_HF | HD_CAPTURES_SITES))) < 0)
        return rc;
    hsize_t E = (hsize_t)n_events, R = (hsize_t)n_receivers, P = (hsize_t)w->n_pairs, F = HD_FEAT_COUNT;
    hsize_t C = (hsize_t)w->chunk_events;
    hsize_t fd[3] = {E, R, F}, fc[3] = {C, R, F}; /* chunks of hd_features_chunk_events, as /tdoa's */
    w->d_feat = hd_h5_dataset(file, "features", H5T_NATIVE_FLOAT, 3, fd, E ? fc : NULL, compression, "mixed",
                              "per event and receiver feature rows [event, receiver, feature]; names in "
                              "/feature_names, units in /feature_units; 0 where /mask is 0");
    if (w->d_feat < 0)
        return (int)w->d_feat;
    if ((rc = write_feature_names(file)) < 0)
        return rc;
    hsize_t md[2] = {E, R}, mch[2] = {E < 1024 ? E : 1024, R};
    w->d_mask = hd_h5_dataset(file, "mask", H5T_NATIVE_UINT8, 2, md, E ? mch : NULL, 0, "1",
                              "1 where the receiver's features are valid (the capture succeeded)");
    if (w->d_mask < 0)
        return (int)w->d_mask;
    hid_t g = H5Gcreate2(file, "tdoa", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create group /tdoa");
    H5Gclose(g);
    int32_t *pairs = hd_calloc(P * 2 + 1, sizeof *pairs);
    if (!pairs)
        return HD_ENOMEM;
    for (int p = 0; p < w->n_pairs; p++) {
        int i, j;
        hd_features_pair(n_receivers, p, &i, &j);
        pairs[2 * p] = i;
        pairs[2 * p + 1] = j;
    }
    hsize_t pd[2] = {P, 2};
    rc = hd_h5_write(file, "tdoa/pairs", H5T_NATIVE_INT32, 2, pd, pairs, "1",
                     "receiver indices (i, j) of each pair, i < j");
    free(pairs);
    if (rc < 0)
        return rc;
    /* chunked per block of events and compressed: many receivers without
     * timing (level-only networks) make large arrays of zeros */
    hsize_t td[2] = {E, P}, tc[2] = {C, P};
    const hsize_t *tch = E && P ? tc : NULL;
    if ((rc = create_pair_datasets(w, file, 2, td, tch, compression)) < 0)
        return rc;
    if (logmel_frames > 0 && logmel_mels > 0) {
        w->logmel_frames = logmel_frames;
        w->logmel_mels = logmel_mels;
        hsize_t ld[4] = {E, R, (hsize_t)logmel_frames, (hsize_t)logmel_mels}, lc[4] = {1, R, ld[2], ld[3]};
        w->d_logmel = hd_h5_dataset(file, "logmel", H5T_NATIVE_FLOAT, 4, ld, E ? lc : NULL, compression, "log10",
                                    "log-mel spectrogram [event, receiver, frame, mel band]: log10 of the band "
                                    "energy (mel filters over |f|, baseband sides folded); 0 where /mask is 0");
        if (w->d_logmel < 0)
            return (int)w->d_logmel;
    }
    return 0;
}

int hd_features_write_block(hd_features_writer *w, int64_t start, int64_t count, const hd_event *ev,
                            const hd_link *links, const float *feat, const uint8_t *mask,
                            const double *delay, const double *sigma, const float *psr, const uint8_t *tmask,
                            const float *logmel)
{
    int rc;
    hsize_t s = (hsize_t)start, n = (hsize_t)(count > 0 ? count : 0);
    if ((rc = hd_captures_write_block(&w->meta, start, count, ev, links, NULL, NULL)) < 0 ||
        (rc = hd_h5_write_rows(w->d_feat, H5T_NATIVE_FLOAT, s, n, feat)) < 0 ||
        (rc = hd_h5_write_rows(w->d_mask, H5T_NATIVE_UINT8, s, n, mask)) < 0 ||
        (rc = hd_h5_write_rows(w->d_delay, H5T_NATIVE_DOUBLE, s, n, delay)) < 0 ||
        (rc = hd_h5_write_rows(w->d_sigma, H5T_NATIVE_DOUBLE, s, n, sigma)) < 0 ||
        (rc = hd_h5_write_rows(w->d_psr, H5T_NATIVE_FLOAT, s, n, psr)) < 0 ||
        (rc = hd_h5_write_rows(w->d_tmask, H5T_NATIVE_UINT8, s, n, tmask)) < 0 ||
        (w->d_logmel >= 0 && (rc = hd_h5_write_rows(w->d_logmel, H5T_NATIVE_FLOAT, s, n, logmel)) < 0))
        return hd_error_context(rc, "writing features of events [%lld, %lld)", (long long)start,
                                (long long)(start + count));
    return 0;
}

int hd_features_create_reasons(hd_features_writer *w, hid_t file, int compression)
{
    hsize_t E = (hsize_t)w->n_events, R = (hsize_t)w->n_receivers, P = (hsize_t)w->n_pairs;
    hsize_t C = (hsize_t)w->chunk_events, md[2] = {E, R}, mc[2] = {C, R}, td[2] = {E, P}, tc[2] = {C, P};
    w->d_why = hd_h5_dataset(file, "mask_reason", H5T_NATIVE_UINT8, 2, md, E && R ? mc : NULL, compression, "1",
                             "why /mask is 0: an index into the attribute names (0 ok)");
    w->d_twhy = hd_h5_dataset(file, "tdoa/mask_reason", H5T_NATIVE_UINT8, 2, td, E && P ? tc : NULL, compression, "1",
                              "why /tdoa/mask is 0: an index into the attribute names (0 ok)");
    w->d_dbm_ok = hd_h5_dataset(file, "dbm_ok", H5T_NATIVE_UINT8, 2, md, E && R ? mc : NULL, compression, "1",
                                "1 where rss_dbm is a calibrated dBm; 0 where it is absent (stored as 0: the "
                                "receiver's gain or full scale is unknown, or the receiver is masked)");
    w->d_tmethod = hd_h5_dataset(file, "tdoa/method", H5T_NATIVE_UINT8, 2, td, E && P ? tc : NULL, compression, "1",
                                 "how each timed pair was timed: an index into the attribute names (0 not timed)");
    if (w->d_why < 0 || w->d_twhy < 0 || w->d_dbm_ok < 0 || w->d_tmethod < 0)
        return hd_error(HD_EIO, "cannot create the mask reason datasets");
    int rc;
    if ((rc = hd_h5_attr_strarray(w->d_why, "names", rx_why_names, HD_WHY_RX_COUNT)) < 0 ||
        (rc = hd_h5_attr_strarray(w->d_twhy, "names", pair_why_names, HD_WHY_PAIR_COUNT)) < 0 ||
        (rc = hd_h5_attr_strarray(w->d_tmethod, "names", hd_tdoa_method_names, HD_TDOA_METHOD_COUNT)) < 0)
        return rc;
    return 0;
}

int hd_features_write_reasons(hd_features_writer *w, int64_t start, int64_t count, const uint8_t *why,
                              const uint8_t *twhy, const uint8_t *dbm_ok, const uint8_t *tmethod)
{
    int rc;
    hsize_t s = (hsize_t)start, n = (hsize_t)(count > 0 ? count : 0);
    if ((rc = hd_h5_write_rows(w->d_why, H5T_NATIVE_UINT8, s, n, why)) < 0 ||
        (rc = hd_h5_write_rows(w->d_twhy, H5T_NATIVE_UINT8, s, n, twhy)) < 0 ||
        (rc = hd_h5_write_rows(w->d_dbm_ok, H5T_NATIVE_UINT8, s, n, dbm_ok)) < 0 ||
        (rc = hd_h5_write_rows(w->d_tmethod, H5T_NATIVE_UINT8, s, n, tmethod)) < 0)
        return hd_error_context(rc, "writing mask reasons of events [%lld, %lld)", (long long)start,
                                (long long)(start + count));
    return 0;
}

int hd_features_create_sparse(hd_features_writer *w, hid_t file, int64_t n_events, int64_t n_links,
                              int64_t n_pair_rows, int n_receivers, int with_truth, int compression)
{
    int rc;
    memset(w, 0, sizeof *w);
    hid_t *all[] = {&w->d_feat, &w->d_mask, &w->d_delay, &w->d_sigma, &w->d_psr, &w->d_tmask, &w->d_logmel,
                    &w->d_why, &w->d_twhy, &w->d_dbm_ok, &w->d_tmethod, &w->d_pfirst, &w->d_pcount, &w->d_pairs};
    for (size_t i = 0; i < HD_ARRAY_LEN(all); i++)
        *all[i] = H5I_INVALID_HID;
    w->sparse = 1;
    w->n_events = n_events;
    w->n_receivers = n_receivers;
    if ((rc = hd_captures_create_sparse(&w->meta, file, n_events, n_links, n_receivers, 0, 0, compression,
                                        (unsigned)with_truth & (HD_CAPTURES_TRUTH | HD_CAPTURES_TXID | HD_CAPTURES_HF |
                                                                HD_CAPTURES_SITES))) < 0)
        return rc;
    hsize_t E = (hsize_t)n_events, K = (hsize_t)n_links, Q = (hsize_t)n_pair_rows, F = HD_FEAT_COUNT;
    hsize_t fd[2] = {K, F}, fc[2] = {K < 1024 ? K : 1024, F};
    hsize_t kd[1] = {K}, kc[1] = {K < 8192 ? K : 8192}, qd[1] = {Q}, qc[1] = {Q < 8192 ? Q : 8192};
    hsize_t ed[1] = {E}, ec[1] = {E < 1024 ? E : 1024}, pd[2] = {Q, 2}, pc[2] = {Q < 8192 ? Q : 8192, 2};
    const hsize_t *fch = K ? fc : NULL, *kch = K ? kc : NULL, *qch = Q ? qc : NULL, *ech = E ? ec : NULL,
                  *pch = Q ? pc : NULL;
    w->d_feat = hd_h5_dataset(file, "features", H5T_NATIVE_FLOAT, 2, fd, fch, compression, "mixed",
                              "per link feature rows [link, feature] (sparse layout: /links/receiver); names in "
                              "/feature_names, units in /feature_units; 0 where /mask is 0");
    if (w->d_feat < 0)
        return (int)w->d_feat;
    if ((rc = write_feature_names(file)) < 0)
        return rc;
    w->d_mask = hd_h5_dataset(file, "mask", H5T_NATIVE_UINT8, 1, kd, kch, 0, "1",
                              "1 where the link's features are valid (the capture succeeded)");
    w->d_why = hd_h5_dataset(file, "mask_reason", H5T_NATIVE_UINT8, 1, kd, kch, compression, "1",
                             "why /mask is 0: an index into the attribute names (0 ok)");
    w->d_dbm_ok = hd_h5_dataset(file, "dbm_ok", H5T_NATIVE_UINT8, 1, kd, kch, compression, "1",
                                "1 where rss_dbm is a calibrated dBm; 0 where it is absent");
    w->d_pfirst = hd_h5_dataset(file, "events/pair_first", H5T_NATIVE_INT64, 1, ed, ech, 0, "1",
                                "sparse layout: the event's first row of /tdoa (its links' pairs)");
    w->d_pcount = hd_h5_dataset(file, "events/pair_count", H5T_NATIVE_INT32, 1, ed, ech, 0, "1",
                                "sparse layout: the event's rows of /tdoa, link_count (link_count - 1) / 2");
    hid_t g = H5Gcreate2(file, "tdoa", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create group /tdoa");
    H5Gclose(g);
    w->d_pairs = hd_h5_dataset(file, "tdoa/pairs", H5T_NATIVE_INT32, 2, pd, pch, compression, "1",
                               "receivers (rows of /receivers) (i, j) of each pair row, i < j");
    if ((rc = create_pair_datasets(w, file, 1, qd, qch, compression)) < 0)
        return rc;
    w->d_twhy = hd_h5_dataset(file, "tdoa/mask_reason", H5T_NATIVE_UINT8, 1, qd, qch, compression, "1",
                              "why /tdoa/mask is 0: an index into the attribute names (0 ok)");
    w->d_tmethod = hd_h5_dataset(file, "tdoa/method", H5T_NATIVE_UINT8, 1, qd, qch, compression, "1",
                                 "how each timed pair was timed: an index into the attribute names (0 not timed)");
    for (size_t i = 0; i < HD_ARRAY_LEN(all); i++)
        if (all[i] != &w->d_logmel && *all[i] < 0)
            return hd_error(HD_EIO, "cannot create the sparse features datasets");
    if ((rc = hd_h5_attr_strarray(w->d_why, "names", rx_why_names, HD_WHY_RX_COUNT)) < 0 ||
        (rc = hd_h5_attr_strarray(w->d_twhy, "names", pair_why_names, HD_WHY_PAIR_COUNT)) < 0 ||
        (rc = hd_h5_attr_strarray(w->d_tmethod, "names", hd_tdoa_method_names, HD_TDOA_METHOD_COUNT)) < 0)
        return rc;
    return 0;
}

int hd_features_write_sparse(hd_features_writer *w, int64_t start, int64_t count, const hd_event *ev,
                             const int64_t *pair_first, int64_t link_start, int64_t nl, const hd_link *links,
                             int64_t pair_start, int64_t np, const hd_features_sparse_rows *o)
{
    int rc;
    size_t n = (size_t)(count > 0 ? count : 0);
    int32_t *pc = hd_calloc(n + 1, sizeof *pc);
    if (!pc)
        return HD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        pc[i] = ev[i].n_links * (ev[i].n_links - 1) / 2;
    hsize_t s = (hsize_t)start, ls = (hsize_t)link_start, ln = (hsize_t)(nl > 0 ? nl : 0), ps = (hsize_t)pair_start,
            pn = (hsize_t)(np > 0 ? np : 0);
    if ((rc = hd_captures_write_sparse(&w->meta, start, count, ev, link_start, nl, links, NULL, NULL)) < 0 ||
        (rc = hd_h5_write_rows(w->d_pfirst, H5T_NATIVE_INT64, s, n, pair_first)) < 0 ||
        (rc = hd_h5_write_rows(w->d_pcount, H5T_NATIVE_INT32, s, n, pc)) < 0 ||
        (rc = hd_h5_write_rows(w->d_feat, H5T_NATIVE_FLOAT, ls, ln, o->feat)) < 0 ||
        (rc = hd_h5_write_rows(w->d_mask, H5T_NATIVE_UINT8, ls, ln, o->mask)) < 0 ||
        (rc = hd_h5_write_rows(w->d_why, H5T_NATIVE_UINT8, ls, ln, o->why)) < 0 ||
        (rc = hd_h5_write_rows(w->d_dbm_ok, H5T_NATIVE_UINT8, ls, ln, o->dbm_ok)) < 0 ||
        (rc = hd_h5_write_rows(w->d_pairs, H5T_NATIVE_INT32, ps, pn, o->pairs)) < 0 ||
        (rc = hd_h5_write_rows(w->d_delay, H5T_NATIVE_DOUBLE, ps, pn, o->delay)) < 0 ||
        (rc = hd_h5_write_rows(w->d_sigma, H5T_NATIVE_DOUBLE, ps, pn, o->sigma)) < 0 ||
        (rc = hd_h5_write_rows(w->d_psr, H5T_NATIVE_FLOAT, ps, pn, o->psr)) < 0 ||
        (rc = hd_h5_write_rows(w->d_tmask, H5T_NATIVE_UINT8, ps, pn, o->tmask)) < 0 ||
        (rc = hd_h5_write_rows(w->d_twhy, H5T_NATIVE_UINT8, ps, pn, o->twhy)) < 0 ||
        (rc = hd_h5_write_rows(w->d_tmethod, H5T_NATIVE_UINT8, ps, pn, o->tmethod)) < 0)
        rc = hd_error_context(rc, "writing features of events [%lld, %lld)", (long long)start,
                              (long long)(start + count));
    free(pc);
    return rc;
}

void hd_features_close(hd_features_writer *w)
{
    hd_captures_close(&w->meta);
    hid_t *ds[] = {&w->d_feat, &w->d_mask, &w->d_delay, &w->d_sigma, &w->d_psr, &w->d_tmask, &w->d_logmel,
                   &w->d_why, &w->d_twhy, &w->d_dbm_ok, &w->d_tmethod, &w->d_pfirst, &w->d_pcount, &w->d_pairs};
    for (size_t i = 0; i < HD_ARRAY_LEN(ds); i++) {
        if (*ds[i] >= 0)
            H5Dclose(*ds[i]);
        *ds[i] = H5I_INVALID_HID;
    }
}

/* ---- reading ------------------------------------------------------------- */



/* The file's /feature_names are this build's, in order. */
static int check_feature_names(hid_t f)
{
    char **names = NULL;
    hsize_t ns = 0;
    int rc = hd_h5_read_strings(f, "feature_names", &names, &ns);
    for (int k = 0; rc == 0 && k < HD_FEAT_COUNT; k++)
        if ((hsize_t)k >= ns || strcmp(names[k], feature_info[k].name) != 0)
            rc = hd_error(HD_EFORMAT, "feature %d is '%s', this heimdall expects '%s'", k,
                          (hsize_t)k < ns ? names[k] : "(missing)", feature_info[k].name);
    if (names)
        hd_h5_free_strings(names, ns);
    return rc;
}

static int open_sparse_rest(hd_features_reader *r, const char *path);

static int open_any(hd_features_reader *r, const char *path, MPI_Comm comm, int allow_sparse)
{
    int rc;
    hsize_t dims[8];
    int32_t *pairs = NULL;
    memset(r, 0, sizeof *r);
    if ((rc = allow_sparse ? hd_captures_open_sparse(&r->meta, path, HD_FORMAT_FEATURES, HD_FEATURES_VERSION, comm)
                           : hd_captures_open_as(&r->meta, path, HD_FORMAT_FEATURES, HD_FEATURES_VERSION, comm)) < 0)
        return rc;
    if (r->meta.sparse)
        return open_sparse_rest(r, path);
    hid_t f = r->meta.file;
    int R = r->meta.n_receivers;
    int64_t E = r->meta.n_events;
    r->n_pairs = hd_features_npairs(R);
    r->n_features = HD_FEAT_COUNT;
    if ((rc = hd_h5_dims(f, "features", 3, dims)) < 0)
        goto fail;
    if ((int64_t)dims[0] != E || (int)dims[1] != R || dims[2] != HD_FEAT_COUNT) {
        rc = hd_error(HD_EFORMAT, "/features is %llu × %llu × %llu, expected %lld × %d × %d", (unsigned long long)dims[0],
                      (unsigned long long)dims[1], (unsigned long long)dims[2], (long long)E, R, HD_FEAT_COUNT);
        goto fail;
    }
    if ((rc = check_feature_names(f)) < 0)
        goto fail;
    if ((rc = hd_h5_dims(f, "mask", 2, dims)) < 0)
        goto fail;
    if ((int64_t)dims[0] != E || (int)dims[1] != R) {
        rc = hd_error(HD_EFORMAT, "/mask does not match /features");
        goto fail;
    }
    const char *pd[] = {"tdoa/delay_s", "tdoa/sigma_s", "tdoa/psr_db", "tdoa/mask"};
    for (size_t k = 0; k < HD_ARRAY_LEN(pd); k++) {
        if ((rc = hd_h5_dims(f, pd[k], 2, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != E || (int)dims[1] != r->n_pairs) {
            rc = hd_error(HD_EFORMAT, "/%s is %llu × %llu, expected %lld × %d", pd[k], (unsigned long long)dims[0],
                          (unsigned long long)dims[1], (long long)E, r->n_pairs);
            goto fail;
        }
    }
    int rank;
    if ((rc = hd_h5_read(f, "tdoa/pairs", H5T_NATIVE_INT32, &rank, dims, (void **)&pairs)) < 0)
        goto fail;
    for (int p = 0; p < r->n_pairs; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        if (rank != 2 || (int)dims[0] != r->n_pairs || pairs[2 * p] != i || pairs[2 * p + 1] != j) {
            rc = hd_error(HD_EFORMAT, "/tdoa/pairs is not in this heimdall's pair order");
            goto fail;
        }
    }
    if (H5Lexists(f, "logmel", H5P_DEFAULT) > 0) {
        if ((rc = hd_h5_dims(f, "logmel", 4, dims)) < 0)
            goto fail;
        r->logmel_frames = (int)dims[2];
        r->logmel_mels = (int)dims[3];
    }
    if (H5Aexists(f, "max_lag_s") > 0 && (rc = hd_h5_read_attr_double(f, "max_lag_s", &r->max_lag_s)) < 0)
        goto fail;
    /* version 2: why each mask is 0, and which dBm values are calibrated */
    const struct { const char *name; int n; } opt[] = {{"mask_reason", R}, {"tdoa/mask_reason", r->n_pairs}, {"dbm_ok", R}};
    int have[3] = {0};
    for (size_t k = 0; k < HD_ARRAY_LEN(opt); k++) {
        const char *nm = opt[k].name;
        if (H5Lexists(f, nm, H5P_DEFAULT) <= 0)
            continue;
        if ((rc = hd_h5_dims(f, nm, 2, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != E || (int)dims[1] != opt[k].n) {
            rc = hd_error(HD_EFORMAT, "/%s is %llu × %llu, expected %lld × %d", nm, (unsigned long long)dims[0],
                          (unsigned long long)dims[1], (long long)E, opt[k].n);
            goto fail;
        }
        have[k] = 1;
    }
    r->has_reasons = have[0] && have[1];
    r->has_dbm_ok = have[2];
    free(pairs);
    return 0;
fail:
    free(pairs);
    hd_error_context(rc, "%s", path);
    hd_features_release(r);
    return rc;
}

int hd_features_open(hd_features_reader *r, const char *path, MPI_Comm comm)
{
    return open_any(r, path, comm, 0);
}

int hd_features_open_sparse(hd_features_reader *r, const char *path, MPI_Comm comm)
{
    return open_any(r, path, comm, 1);
}

/* The sparse layout's own checks: link and pair rows agree. */
static int open_sparse_rest(hd_features_reader *r, const char *path)
{
    int rc;
    hsize_t dims[4];
    hid_t f = r->meta.file;
    int64_t K = r->meta.n_links;
    r->n_features = HD_FEAT_COUNT;
    if ((rc = hd_h5_dims(f, "features", 2, dims)) < 0)
        goto fail;
    if ((int64_t)dims[0] != K || dims[1] != HD_FEAT_COUNT) {
        rc = hd_error(HD_EFORMAT, "/features is %llu × %llu, expected %lld × %d", (unsigned long long)dims[0],
                      (unsigned long long)dims[1], (long long)K, HD_FEAT_COUNT);
        goto fail;
    }
    if ((rc = check_feature_names(f)) < 0)
        goto fail;
    const char *kd[] = {"mask", "mask_reason", "dbm_ok"};
    for (size_t k = 0; k < HD_ARRAY_LEN(kd); k++) {
        if ((rc = hd_h5_dims(f, kd[k], 1, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != K) {
            rc = hd_error(HD_EFORMAT, "/%s has %llu rows for %lld links", kd[k], (unsigned long long)dims[0], (long long)K);
            goto fail;
        }
    }
    if ((rc = hd_h5_dims(f, "tdoa/pairs", 2, dims)) < 0)
        goto fail;
    r->n_pair_rows = (int64_t)dims[0];
    const char *qd[] = {"tdoa/delay_s", "tdoa/sigma_s", "tdoa/psr_db", "tdoa/mask", "tdoa/mask_reason", "tdoa/method"};
    for (size_t k = 0; k < HD_ARRAY_LEN(qd); k++) {
        if ((rc = hd_h5_dims(f, qd[k], 1, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != r->n_pair_rows) {
            rc = hd_error(HD_EFORMAT, "/%s has %llu rows, /tdoa/pairs %lld", qd[k], (unsigned long long)dims[0],
                          (long long)r->n_pair_rows);
            goto fail;
        }
    }
    if ((rc = hd_h5_dims(f, "events/pair_first", 1, dims)) < 0)
        goto fail;
    if ((int64_t)dims[0] != r->meta.n_events) {
        rc = hd_error(HD_EFORMAT, "/events/pair_first has %llu rows for %lld events", (unsigned long long)dims[0],
                      (long long)r->meta.n_events);
        goto fail;
    }
    if (H5Aexists(f, "max_lag_s") > 0 && (rc = hd_h5_read_attr_double(f, "max_lag_s", &r->max_lag_s)) < 0)
        goto fail;
    r->has_reasons = r->has_dbm_ok = 1;
    return 0;
fail:
    hd_error_context(rc, "%s", path);
    hd_features_release(r);
    return rc;
}

/* A dataset read by block, opened on the first block and kept open until
 * hd_features_release: one open a dataset per file, and its chunk cache
 * keeps the chunk a block shares with the next (blocks of 256 events,
 * chunks of 384: each such chunk was inflated twice). */
static const char *const block_dsets[] = {
    "features",    "mask",         "mask_reason", "dbm_ok",    "tdoa/pairs",       "tdoa/delay_s",
    "tdoa/sigma_s", "tdoa/psr_db", "tdoa/mask",   "tdoa/mask_reason", "events/pair_first",
};
_Static_assert(HD_ARRAY_LEN(block_dsets) <= HD_ARRAY_LEN(((hd_features_reader *)0)->dsets),
               "hd_features_reader.dsets too small");

static hid_t block_dset(hd_features_reader *r, const char *name)
{
    for (size_t k = 0; k < HD_ARRAY_LEN(block_dsets); k++)
        if (strcmp(block_dsets[k], name) == 0)
            return hd_h5_rows_kept(&r->dsets[k], r->meta.file, name);
    return H5I_INVALID_HID; /* not one of them: a programming error */
}

int hd_features_read_events(hd_features_reader *r, int64_t start, int64_t count, hd_event *ev, int64_t *pair_first)
{
    int rc;
    if (!r->meta.sparse)
        return hd_error(HD_EINVAL, "hd_features_read_events: the file is dense");
    if (ev && (rc = hd_captures_read_block(&r->meta, start, count, ev, NULL, NULL, NULL)) < 0)
        return rc;
    if (pair_first) {
        hid_t d = block_dset(r, "events/pair_first");
        if (d < 0)
            return hd_error(HD_EFORMAT, "features file has no /events/pair_first");
        rc = hd_h5_read_rows(d, H5T_NATIVE_INT64, (hsize_t)start, (hsize_t)(count > 0 ? count : 0), pair_first);
        if (rc < 0)
            return hd_error_context(rc, "reading /events/pair_first");
        for (int64_t i = 0; i < count; i++) {
            int k = ev ? ev[i].n_links : 0, q = k * (k - 1) / 2;
            if (pair_first[i] < 0 || pair_first[i] + q > r->n_pair_rows)
                return hd_error(HD_EFORMAT, "event row %lld: pair rows [%lld, +%d) outside the file's %lld",
                                (long long)(start + i), (long long)pair_first[i], q, (long long)r->n_pair_rows);
        }
    }
    return 0;
}

int hd_sparse_block_alloc(hd_sparse_block *b, const hd_features_reader *r, int B)
{
    memset(b, 0, sizeof *b);
    const int Rc = r->meta.max_links > 0 ? r->meta.max_links : 1, P = hd_features_npairs(Rc);
    const size_t Bn = (size_t)(B > 0 ? B : 1), L = Bn * Rc, Q = Bn * (P > 0 ? P : 1);
    b->B = (int)Bn;
    b->Rc = Rc;
    b->ev = hd_calloc(Bn, sizeof *b->ev);
    b->pf = hd_calloc(Bn, sizeof *b->pf);
    b->lk = hd_calloc(L, sizeof *b->lk);
    b->feat = hd_calloc(L * HD_FEAT_COUNT, sizeof *b->feat);
    b->mask = hd_calloc(L, 1);
    b->why = hd_calloc(L, 1);
    b->dok = hd_calloc(L, 1);
    b->tmask = hd_calloc(Q, 1);
    b->twhy = hd_calloc(Q, 1);
    b->delay = hd_calloc(Q, sizeof *b->delay);
    b->sigma = hd_calloc(Q, sizeof *b->sigma);
    if (!b->ev || !b->pf || !b->lk || !b->feat || !b->mask || !b->why || !b->dok || !b->tmask || !b->twhy ||
        !b->delay || !b->sigma) {
        hd_sparse_block_release(b);
        return HD_ENOMEM;
    }
    return 0;
}

int hd_sparse_block_read(hd_sparse_block *b, hd_features_reader *r, int64_t first, int n)
{
    int rc;
    b->nl = 0;
    if (n > b->B)
        return hd_error(HD_EINVAL, "a block of %d events in buffers for %d", n, b->B);
    if (n <= 0)
        return 0;
    if ((rc = hd_features_read_events(r, first, n, b->ev, b->pf)) < 0)
        return rc;
    int64_t l0 = b->ev[0].link_first, q0 = b->pf[0], nl = 0, np = 0;
    for (int i = 0; i < n; i++) {
        if (b->ev[i].link_first != l0 + nl || b->pf[i] != q0 + np || b->ev[i].n_links > b->Rc || b->ev[i].n_links < 0)
            return hd_error(HD_EFORMAT, "event row %lld: its links or pairs do not follow the previous event's",
                            (long long)(first + i));
        nl += b->ev[i].n_links;
        np += hd_features_npairs(b->ev[i].n_links);
    }
    if ((rc = hd_features_read_sparse(r, l0, nl, b->lk, b->feat, b->mask, b->why, b->dok, q0, np, NULL, b->delay,
                                      b->sigma, NULL, b->tmask, b->twhy)) < 0)
        return rc;
    b->nl = nl;
    return 0;
}

void hd_sparse_block_release(hd_sparse_block *b)
{
    free(b->ev);
    free(b->pf);
    free(b->lk);
    free(b->feat);
    free(b->mask);
    free(b->why);
    free(b->dok);
    free(b->tmask);
    free(b->twhy);
    free(b->delay);
    free(b->sigma);
    memset(b, 0, sizeof *b);
}

int hd_features_read_sparse(hd_features_reader *r, int64_t first, int64_t nl, hd_link *links, float *feat,
                            uint8_t *mask, uint8_t *why, uint8_t *dbm_ok, int64_t pfirst, int64_t np, int32_t *pairs,
                            double *delay, double *sigma, float *psr, uint8_t *tmask, uint8_t *twhy)
{
    int rc;
    if (!r->meta.sparse)
        return hd_error(HD_EINVAL, "hd_features_read_sparse: the file is dense");
    if (pfirst < 0 || np < 0 || pfirst + np > r->n_pair_rows)
        return hd_error(HD_EFORMAT, "pair rows [%lld, %lld) outside the file's %lld", (long long)pfirst,
                        (long long)(pfirst + np), (long long)r->n_pair_rows);
    if (links && (rc = hd_captures_read_links(&r->meta, first, nl, links, NULL, NULL)) < 0)
        return rc;
    if (!links && (first < 0 || nl < 0 || first + nl > r->meta.n_links))
        return hd_error(HD_EFORMAT, "link rows [%lld, %lld) outside the file's %lld", (long long)first,
                        (long long)(first + nl), (long long)r->meta.n_links);
    struct { const char *name; hid_t type; void *data; int pair; } d[] = {
        {"features", H5T_NATIVE_FLOAT, feat, 0},    {"mask", H5T_NATIVE_UINT8, mask, 0},
        {"mask_reason", H5T_NATIVE_UINT8, why, 0},  {"dbm_ok", H5T_NATIVE_UINT8, dbm_ok, 0},
        {"tdoa/pairs", H5T_NATIVE_INT32, pairs, 1}, {"tdoa/delay_s", H5T_NATIVE_DOUBLE, delay, 1},
        {"tdoa/sigma_s", H5T_NATIVE_DOUBLE, sigma, 1}, {"tdoa/psr_db", H5T_NATIVE_FLOAT, psr, 1},
        {"tdoa/mask", H5T_NATIVE_UINT8, tmask, 1},  {"tdoa/mask_reason", H5T_NATIVE_UINT8, twhy, 1},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(d); k++) {
        if (!d[k].data)
            continue;
        hid_t ds = block_dset(r, d[k].name);
        if (ds < 0)
            return hd_error(HD_EFORMAT, "features file has no /%s dataset", d[k].name);
        rc = hd_h5_read_rows(ds, d[k].type, (hsize_t)(d[k].pair ? pfirst : first),
                             (hsize_t)(d[k].pair ? np : nl), d[k].data);
        if (rc < 0)
            return hd_error_context(rc, "reading /%s", d[k].name);
    }
    return 0;
}

int hd_features_read_block(hd_features_reader *r, int64_t start, int64_t count, hd_event *ev,
                           hd_link *links, float *feat, uint8_t *mask, double *delay, double *sigma,
                           float *psr, uint8_t *tmask)
{
    int rc;
    if ((rc = hd_captures_read_block(&r->meta, start, count, ev, links, NULL, NULL)) < 0)
        return rc;
    struct { const char *name; hid_t type; void *data; } d[] = {
        {"features", H5T_NATIVE_FLOAT, feat},     {"mask", H5T_NATIVE_UINT8, mask},
        {"tdoa/delay_s", H5T_NATIVE_DOUBLE, delay}, {"tdoa/sigma_s", H5T_NATIVE_DOUBLE, sigma},
        {"tdoa/psr_db", H5T_NATIVE_FLOAT, psr},    {"tdoa/mask", H5T_NATIVE_UINT8, tmask},
    };
    hsize_t s = (hsize_t)start, n = (hsize_t)(count > 0 ? count : 0);
    for (size_t k = 0; k < HD_ARRAY_LEN(d); k++) {
        if (!d[k].data)
            continue;
        hid_t ds = block_dset(r, d[k].name);
        if (ds < 0)
            return hd_error(HD_EFORMAT, "features file has no /%s dataset", d[k].name);
        rc = hd_h5_read_rows(ds, d[k].type, s, n, d[k].data);
        if (rc < 0)
            return hd_error_context(rc, "reading /%s", d[k].name);
    }
    return 0;
}

int hd_features_read_reasons(hd_features_reader *r, int64_t start, int64_t count, uint8_t *why, uint8_t *twhy,
                             uint8_t *dbm_ok)
{
    int rc;
    size_t n = (size_t)(count > 0 ? count : 0), R = (size_t)r->meta.n_receivers, P = (size_t)r->n_pairs;
    struct { const char *name; uint8_t *data; int present; size_t width; uint8_t absent; } d[] = {
        {"mask_reason", why, r->has_reasons, R, HD_WHY_UNKNOWN},
        {"tdoa/mask_reason", twhy, r->has_reasons, P, HD_WHY_UNKNOWN},
        {"dbm_ok", dbm_ok, r->has_dbm_ok, R, 1},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(d); k++) {
        if (!d[k].data)
            continue;
        if (!d[k].present) {
            memset(d[k].data, d[k].absent, n * d[k].width);
            continue;
        }
        hid_t ds = block_dset(r, d[k].name);
        if (ds < 0)
            return hd_error(HD_EFORMAT, "features file has no /%s dataset", d[k].name);
        rc = hd_h5_read_rows(ds, H5T_NATIVE_UINT8, (hsize_t)start, (hsize_t)n, d[k].data);
        if (rc < 0)
            return hd_error_context(rc, "reading /%s", d[k].name);
    }
    return 0;
}

int hd_features_count(hd_features_reader *r, hd_features_tally *t)
{
    int rc = 0;
    memset(t, 0, sizeof *t);
    size_t E = (size_t)r->meta.n_events, R = (size_t)r->meta.n_receivers, P = (size_t)r->n_pairs;
    uint8_t *m = hd_calloc(E * R + 1, 1), *w = hd_calloc(E * R + 1, 1), *d = hd_calloc(E * R + 1, 1),
            *tw = hd_calloc(E * P + 1, 1);
    if (!m || !w || !d || !tw)
        rc = HD_ENOMEM;
    if (rc == 0 && (rc = hd_features_read_block(r, 0, (int64_t)E, NULL, NULL, NULL, m, NULL, NULL, NULL, NULL)) == 0 &&
        (rc = hd_features_read_reasons(r, 0, (int64_t)E, w, tw, d)) == 0) {
        for (size_t i = 0; i < E * R; i++) {
            t->valid += m[i];
            t->no_dbm += m[i] && !d[i];
            t->rx[w[i]]++;
        }
        for (size_t i = 0; i < E * P; i++)
            t->pair[tw[i]]++;
    }
    free(m);
    free(w);
    free(d);
    free(tw);
    return rc;
}

void hd_features_release(hd_features_reader *r)
{
    hd_h5_close_kept(r->dsets, HD_ARRAY_LEN(r->dsets)); /* before the file */
    hd_captures_release(&r->meta);
}
