#include "features/features.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"

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

int hd_features_create(hd_features_writer *w, hid_t file, int64_t n_events, int n_receivers, int with_truth,
                       int compression, int logmel_frames, int logmel_mels)
{
    int rc;
    memset(w, 0, sizeof *w);
    w->d_feat = w->d_mask = w->d_delay = w->d_sigma = w->d_psr = w->d_tmask = w->d_logmel = H5I_INVALID_HID;
    w->n_events = n_events;
    w->n_receivers = n_receivers;
    w->n_pairs = hd_features_npairs(n_receivers);
    if ((rc = hd_captures_create(&w->meta, file, n_events, n_receivers, 0, 0, compression,
                                 with_truth ? HD_CAPTURES_TRUTH : 0)) < 0)
        return rc;
    hsize_t E = (hsize_t)n_events, R = (hsize_t)n_receivers, P = (hsize_t)w->n_pairs, F = HD_FEAT_COUNT;
    const char *names[HD_FEAT_COUNT], *units[HD_FEAT_COUNT];
    for (int k = 0; k < HD_FEAT_COUNT; k++) {
        names[k] = feature_info[k].name;
        units[k] = feature_info[k].units;
    }
    hsize_t fd[3] = {E, R, F}, fc[3] = {1, R, F};
    w->d_feat = hd_h5_dataset(file, "features", H5T_NATIVE_FLOAT, 3, fd, E ? fc : NULL, compression, "mixed",
                              "per event and receiver feature rows [event, receiver, feature]; names in "
                              "/feature_names, units in /feature_units; 0 where /mask is 0");
    if (w->d_feat < 0)
        return (int)w->d_feat;
    if ((rc = hd_h5_write_strings(file, "feature_names", names, F, "feature names, in /features order")) < 0 ||
        (rc = hd_h5_write_strings(file, "feature_units", units, F, "feature units, in /features order")) < 0)
        return rc;
    hsize_t md[2] = {E, R};
    w->d_mask = hd_h5_dataset(file, "mask", H5T_NATIVE_UINT8, 2, md, NULL, 0, "1",
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
    hsize_t td[2] = {E, P};
    w->d_delay = hd_h5_dataset(file, "tdoa/delay_s", H5T_NATIVE_DOUBLE, 2, td, NULL, 0, "s",
                               "time difference of arrival TOA_j - TOA_i (GCC-PHAT lag plus time stamps)");
    w->d_sigma = hd_h5_dataset(file, "tdoa/sigma_s", H5T_NATIVE_DOUBLE, 2, td, NULL, 0, "s",
                               "standard deviation estimate of delay_s");
    w->d_psr = hd_h5_dataset(file, "tdoa/psr_db", H5T_NATIVE_FLOAT, 2, td, NULL, 0, "dB",
                             "peak-to-sidelobe ratio of the correlation");
    w->d_tmask = hd_h5_dataset(file, "tdoa/mask", H5T_NATIVE_UINT8, 2, td, NULL, 0, "1",
                               "1 where both receivers were GPS-timed and the peak was significant");
    if (w->d_delay < 0 || w->d_sigma < 0 || w->d_psr < 0 || w->d_tmask < 0)
        return hd_error(HD_EIO, "cannot create the /tdoa datasets");
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

int hd_features_write_block(hd_features_writer *w, int64_t start, int64_t count, const hd_sim_event *ev,
                            const hd_sim_link *links, const float *feat, const uint8_t *mask,
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

void hd_features_close(hd_features_writer *w)
{
    hd_captures_close(&w->meta);
    hid_t *ds[] = {&w->d_feat, &w->d_mask, &w->d_delay, &w->d_sigma, &w->d_psr, &w->d_tmask, &w->d_logmel};
    for (size_t i = 0; i < HD_ARRAY_LEN(ds); i++) {
        if (*ds[i] >= 0)
            H5Dclose(*ds[i]);
        *ds[i] = H5I_INVALID_HID;
    }
}
