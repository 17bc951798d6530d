#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"

#include <libdeflate.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SRC_EVENT, SRC_LINK } field_src;
typedef enum { C_INT, C_INT64, C_DOUBLE } field_ctype;
typedef enum { ST_I8, ST_U8, ST_I32, ST_I64, ST_F32, ST_F64 } field_store;

typedef struct {
    const char *path;
    field_src src;
    size_t offset;
    field_ctype ctype;
    field_store store;
    int truth;              /* 1: only written with truth; 2: only with HD_CAPTURES_TXID; 3: only with HD_CAPTURES_HF truth;
                               4: only with HD_CAPTURES_SITES truth; 5: only with HD_CAPTURES_CLOCK;
                               6: only in the sparse layout */
    const char *units;
    const char *description;
} field;

#define EV(m) SRC_EVENT, offsetof(hd_event, m)
#define LK(m) SRC_LINK, offsetof(hd_link, m)

static const field fields[] = {
    {"events/index", EV(index), C_INT64, ST_I64, 0, "1", "event number within the campaign (the simulator's event index)"},
    {"events/time_ns", EV(time_ns), C_INT64, ST_I64, 0, "ns", "nominal capture start, nanoseconds since 1970-01-01 UTC"},
    {"events/frequency_hz", EV(frequency_hz), C_DOUBLE, ST_F64, 0, "Hz", "receivers' tuning (channel centre)"},
    {"events/sample_rate_hz", EV(sample_rate_hz), C_DOUBLE, ST_F64, 0, "Hz", "nominal IQ sample rate"},
    {"events/level_rate_hz", EV(level_rate_hz), C_DOUBLE, ST_F64, 0, "Hz", "signal-level updates per second"},
    {"events/tx_id", EV(tx_id), C_INT64, ST_I64, 2, "1", "transmitter id: the events of one moving transmitter share it"},
    {"events/link_first", EV(link_first), C_INT64, ST_I64, 6, "1",
     "sparse layout: the event's first row of the link datasets (/status, /iq, …)"},
    {"events/link_count", EV(n_links), C_INT, ST_I32, 6, "1",
     "sparse layout: the event's link rows (the receivers that heard it)"},
    {"links/receiver", LK(rx), C_INT, ST_I32, 6, "1", "sparse layout: each link's receiver (row of /receivers)"},
    {"status", LK(status), C_INT, ST_I8, 0, "1", "capture status per event and receiver (0 ok; names in attribute status_names)"},
    {"has_iq", LK(has_iq), C_INT, ST_U8, 0, "1", "1 when /iq holds this receiver's samples"},
    {"has_levels", LK(has_levels), C_INT, ST_U8, 0, "1", "1 when /levels holds this receiver's signal levels"},
    {"gps_ok", LK(gps_ok), C_INT, ST_U8, 0, "1", "1 when the first-sample time stamp is GPS-disciplined"},
    {"last_gps_solution_s", LK(last_gps_solution_s), C_INT, ST_I32, 0, "s", "seconds since the receiver's last GPS fix (0 when locked)"},
    {"t0_s", LK(t0_s), C_DOUBLE, ST_F64, 0, "s", "reported time of the first IQ sample, relative to events/time_ns"},
    {"gain_db", LK(gain_db), C_DOUBLE, ST_F32, 0, "dB", "receiver gain applied before the ADC"},
    {"clipped_fraction", LK(clipped_fraction), C_DOUBLE, ST_F32, 0, "1", "fraction of IQ samples at full scale"},
    {"clock/rate_hz", LK(clock_rate_hz), C_DOUBLE, ST_F64, 5, "Hz",
     "sample rate of the receiver's clock, fitted to its GPS time stamps (0 or NaN: unknown; featurize resamples "
     "onto the nominal rate)"},
    {"clock/residual_s", LK(clock_residual_s), C_DOUBLE, ST_F64, 5, "s",
     "RMS residual of the time stamps about the fitted clock (NaN: no fit)"},
    {"clock/n_fit", LK(clock_n_fit), C_INT, ST_I32, 5, "1", "fresh GPS time stamps used by the clock fit (0: none)"},
    {"truth/tx_lat", EV(truth.lat), C_DOUBLE, ST_F64, 1, "degree", "transmitter latitude, WGS84"},
    {"truth/tx_lon", EV(truth.lon), C_DOUBLE, ST_F64, 1, "degree", "transmitter longitude, WGS84"},
    {"truth/tx_alt_m", EV(truth.alt_m), C_DOUBLE, ST_F64, 1, "m", "transmitter antenna ellipsoidal height"},
    {"truth/tx_height_m", EV(truth.height_m), C_DOUBLE, ST_F64, 1, "m", "transmitter antenna height above ground"},
    {"truth/tx_power_dbm", EV(truth.power_dbm), C_DOUBLE, ST_F64, 1, "dBm", "transmitter output power"},
    {"truth/tx_gain_dbi", EV(truth.gain_dbi), C_DOUBLE, ST_F64, 1, "dBi", "transmitter antenna gain"},
    {"truth/signal_type", EV(truth.signal_type), C_INT, ST_I8, 1, "1", "signal type (names in attribute names)"},
    {"truth/tx_freq_offset_hz", EV(truth.freq_offset_hz), C_DOUBLE, ST_F64, 1, "Hz", "transmitter crystal frequency error"},
    {"truth/distance_m", LK(truth.distance_m), C_DOUBLE, ST_F64, 1, "m", "slant range transmitter to receiver antenna"},
    {"truth/path_loss_db", LK(truth.path_loss_db), C_DOUBLE, ST_F64, 1, "dB", "median path loss of the propagation model"},
    {"truth/shadowing_db", LK(truth.shadowing_db), C_DOUBLE, ST_F64, 1, "dB", "log-normal shadowing loss added to the median"},
    {"truth/fading_db", LK(truth.fading_db), C_DOUBLE, ST_F64, 1, "dB", "small-scale fading power gain of the channel"},
    {"truth/rx_power_dbm", LK(truth.rx_power_dbm), C_DOUBLE, ST_F64, 1, "dBm", "mean signal power at the antenna port"},
    {"truth/noise_dbm", LK(truth.noise_dbm), C_DOUBLE, ST_F64, 1, "dBm", "thermal noise kTBF over the sample rate"},
    {"truth/snr_db", LK(truth.snr_db), C_DOUBLE, ST_F64, 1, "dB", "signal-to-noise ratio over the full sample-rate band"},
    {"truth/arrival_s", LK(truth.arrival_s), C_DOUBLE, ST_F64, 1, "s", "true arrival of emission epoch 0 (direct path), relative to events/time_ns"},
    {"truth/true_t0_s", LK(truth.true_t0_s), C_DOUBLE, ST_F64, 1, "s", "true time of the first IQ sample, relative to events/time_ns"},
    {"truth/clock_error_s", LK(truth.clock_error_s), C_DOUBLE, ST_F64, 1, "s", "time-stamp error: t0_s - true_t0_s"},
    {"truth/lo_offset_hz", LK(truth.lo_offset_hz), C_DOUBLE, ST_F64, 1, "Hz", "receiver local-oscillator error"},
    {"truth/sample_rate_error_ppm", LK(truth.sample_rate_error_ppm), C_DOUBLE, ST_F64, 1, "ppm", "receiver sample-clock error"},
    {"truth/freq_offset_hz", LK(truth.freq_offset_hz), C_DOUBLE, ST_F64, 1, "Hz", "total frequency offset of the signal in the baseband"},
    {"truth/prop_mode", LK(truth.prop_mode), C_INT, ST_I8, 3, "1", "dominant propagation mode (simulated HF; names in attribute names)"},
    {"truth/excess_delay_s", LK(truth.excess_delay_s), C_DOUBLE, ST_F64, 3, "s", "arrival of the dominant mode minus great-circle distance / c"},
    {"truth/rx_lat", LK(truth.rx_lat), C_DOUBLE, ST_F64, 4, "degree", "receiver antenna's true latitude (the advertised one is in /stations)"},
    {"truth/rx_lon", LK(truth.rx_lon), C_DOUBLE, ST_F64, 4, "degree", "receiver antenna's true longitude"},
};
#define N_FIELDS ((int)HD_ARRAY_LEN(fields))

/* Is field f in a file holding `have` (HD_CAPTURES_TRUTH, _TXID, _HF,
 * _SITES, _CLOCK)? The HF and sites truths come only with the truth. */
static int field_in(const field *f, unsigned have)
{
    switch (f->truth) {
    case 0: return 1;
    case 1: return (have & HD_CAPTURES_TRUTH) != 0;
    case 2: return (have & HD_CAPTURES_TXID) != 0;
    case 3: return (have & HD_CAPTURES_TRUTH) && (have & HD_CAPTURES_HF);
    case 4: return (have & HD_CAPTURES_TRUTH) && (have & HD_CAPTURES_SITES);
    case 5: return (have & HD_CAPTURES_CLOCK) != 0;
    case 6: return (have & HD_CAPTURES_SPARSE) != 0;
    }
    return 0;
}

static hid_t store_type(field_store s)
{
    switch (s) {
    case ST_I8: return H5T_NATIVE_INT8;
    case ST_U8: return H5T_NATIVE_UINT8;
    case ST_I32: return H5T_NATIVE_INT32;
    case ST_I64: return H5T_NATIVE_INT64;
    case ST_F32: return H5T_NATIVE_FLOAT;
    default: return H5T_NATIVE_DOUBLE;
    }
}

static size_t store_size(field_store s)
{
    static const size_t sz[] = {1, 1, 4, 8, 4, 8};
    return sz[s];
}

static int ensure_group(hid_t file, const char *name)
{
    htri_t e = H5Lexists(file, name, H5P_DEFAULT);
    if (e > 0)
        return 0;
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create group /%s", name);
    H5Gclose(g);
    return 0;
}

static int create_any(hd_captures_writer *w, hid_t file, int64_t n_events, int64_t n_links, int n_receivers,
                      int n_samples, int n_levels, int compression, unsigned what)
{
    int with_truth = (what & HD_CAPTURES_TRUTH) != 0, sparse = (what & HD_CAPTURES_SPARSE) != 0;
    int rc = 0;
    memset(w, 0, sizeof *w);
    w->file = file;
    w->n_events = n_events;
    w->n_links = n_links;
    w->n_receivers = n_receivers;
    w->n_samples = n_samples;
    w->n_levels = n_levels;
    w->what = what;
    w->n_dsets = N_FIELDS + 2;
    w->dsets = hd_calloc((size_t)w->n_dsets, sizeof *w->dsets);
    if (!w->dsets)
        return HD_ENOMEM;
    for (int i = 0; i < w->n_dsets; i++)
        w->dsets[i] = H5I_INVALID_HID;
    if ((rc = ensure_group(file, "events")) < 0 || (with_truth && (rc = ensure_group(file, "truth")) < 0) ||
        ((what & HD_CAPTURES_CLOCK) && (rc = ensure_group(file, "clock")) < 0) ||
        (sparse && (rc = ensure_group(file, "links")) < 0))
        goto fail;
    if (sparse && (rc = hd_h5_attr_str(file, "layout", "sparse")) < 0)
        goto fail;

    hsize_t E = (hsize_t)n_events, R = (hsize_t)n_receivers, K = (hsize_t)(n_links > 0 ? n_links : 0);
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!field_in(f, what | (with_truth ? HD_CAPTURES_TRUTH : 0)))
            continue;
        /* chunks of 1024 events, so that the columns too carry checksums;
         * sparse link fields: 8192 links */
        hsize_t dims[2] = {E, R}, chunk[2] = {E < 1024 ? E : 1024, R};
        int rank = f->src == SRC_EVENT ? 1 : 2;
        if (sparse && f->src == SRC_LINK) {
            rank = 1;
            dims[0] = K;
            chunk[0] = K < 8192 ? K : 8192;
        }
        hid_t d = hd_h5_dataset(file, f->path, store_type(f->store), rank, dims, dims[0] ? chunk : NULL, 0, f->units,
                                f->description);
        if (d < 0) {
            rc = (int)d;
            goto fail;
        }
        w->dsets[i] = d;
    }
    /* enumerations readable by name */
    {
        const char *st[HD_RX_STATUS_COUNT];
        for (int s = 0; s < HD_RX_STATUS_COUNT; s++)
            st[s] = hd_rx_status_name(s);
        for (int i = 0; i < N_FIELDS; i++) {
            if (w->dsets[i] < 0)
                continue;
            if (strcmp(fields[i].path, "status") == 0 &&
                (rc = hd_h5_attr_strarray(w->dsets[i], "status_names", st, HD_RX_STATUS_COUNT)) < 0)
                goto fail;
            if (strcmp(fields[i].path, "truth/signal_type") == 0) {
                const char *sn[HD_SIG_COUNT];
                for (int s = 0; s < HD_SIG_COUNT; s++)
                    sn[s] = hd_signal_name(s);
                if ((rc = hd_h5_attr_strarray(w->dsets[i], "names", sn, HD_SIG_COUNT)) < 0)
                    goto fail;
            }
            if (strcmp(fields[i].path, "truth/prop_mode") == 0) {
                const char *mn[HD_MODE_COUNT];
                for (int m = 0; m < HD_MODE_COUNT; m++)
                    mn[m] = hd_prop_mode_name(m);
                if ((rc = hd_h5_attr_strarray(w->dsets[i], "names", mn, HD_MODE_COUNT)) < 0)
                    goto fail;
            }
        }
    }
    if ((what & HD_CAPTURES_BULK) && sparse) {
        /* chunks of about 64 KiB of links (one chunk per link would make
         * the chunk index as long as the campaign's links) */
        hsize_t N = (hsize_t)(n_samples > 0 ? n_samples : 1), L = (hsize_t)(n_levels > 0 ? n_levels : 1);
        hsize_t per = 65536 / (N * 4), c = per < 1 ? 1 : per > K ? K : per;
        hsize_t dims[3] = {K, N, 2}, chunk[3] = {c, N, 2};
        hid_t d = hd_h5_dataset(file, "iq", H5T_NATIVE_INT16, 3, dims, K ? chunk : NULL, compression, "1",
                                "IQ samples [link, sample, I/Q] as int16 (sparse layout: /links/receiver); "
                                "multiply by attribute scale for a fraction of ADC full scale");
        if (d < 0) {
            rc = (int)d;
            goto fail;
        }
        w->dsets[N_FIELDS] = d;
        if ((rc = hd_h5_attr_double(d, "scale", 1.0 / 32768.0)) < 0)
            goto fail;
        hsize_t lper = 65536 / (L * 4), lc = lper < 1 ? 1 : lper > K ? K : lper;
        hsize_t ldims[2] = {K, L}, lchunk[2] = {lc, L};
        d = hd_h5_dataset(file, "levels", H5T_NATIVE_FLOAT, 2, ldims, K ? lchunk : NULL, compression, "dBFS",
                          "signal level series (S-meter) [link, level]: power relative to full scale");
        if (d < 0) {
            rc = (int)d;
            goto fail;
        }
        w->dsets[N_FIELDS + 1] = d;
    } else if (what & HD_CAPTURES_BULK) {
        hsize_t N = (hsize_t)(n_samples > 0 ? n_samples : 1);
        hsize_t c = (hsize_t)hd_captures_chunk_events(n_events, n_receivers, n_samples);
        hsize_t dims[4] = {E, R, N, 2}, chunk[4] = {c, R, N, 2};
        hid_t d = hd_h5_dataset(file, "iq", H5T_NATIVE_INT16, 4, dims, E ? chunk : NULL, compression, "1",
                                "IQ samples [event, receiver, sample, I/Q] as int16; multiply by attribute "
                                "scale for a fraction of ADC full scale");
        if (d < 0) {
            rc = (int)d;
            goto fail;
        }
        w->dsets[N_FIELDS] = d;
        if ((rc = hd_h5_attr_double(d, "scale", 1.0 / 32768.0)) < 0)
            goto fail;
        /* levels: whole /iq chunks of events in about 64 KiB */
        hsize_t L = (hsize_t)(n_levels > 0 ? n_levels : 1), lm = 65536 / (c * R * L * 4), lc = c * (lm < 1 ? 1 : lm);
        hsize_t ldims[3] = {E, R, L}, lchunk[3] = {lc < E ? lc : E, R, L};
        d = hd_h5_dataset(file, "levels", H5T_NATIVE_FLOAT, 3, ldims, E ? lchunk : NULL, compression, "dBFS",
                          "signal level series (S-meter) [event, receiver, level]: power relative to full scale");
        if (d < 0) {
            rc = (int)d;
            goto fail;
        }
        w->dsets[N_FIELDS + 1] = d;
    }
    return 0;
fail:
    hd_captures_close(w);
    return rc;
}

int hd_captures_chunk_events(int64_t n_events, int n_receivers, int n_samples)
{
    double per = (double)(n_receivers > 0 ? n_receivers : 1) * (n_samples > 0 ? n_samples : 1) * 4;
    double c = floor((1 << 20) / per);
    if (c > 1024)
        c = 1024;
    if (c > (double)n_events)
        c = (double)n_events;
    return c < 1 ? 1 : (int)c;
}

int hd_captures_create(hd_captures_writer *w, hid_t file, int64_t n_events, int n_receivers, int n_samples,
                       int n_levels, int compression, unsigned what)
{
    if (what & HD_CAPTURES_SPARSE)
        return hd_error(HD_EINVAL, "hd_captures_create: the sparse layout is hd_captures_create_sparse's");
    return create_any(w, file, n_events, 0, n_receivers, n_samples, n_levels, compression, what);
}

int hd_captures_create_sparse(hd_captures_writer *w, hid_t file, int64_t n_events, int64_t n_links, int n_receivers,
                              int n_samples, int n_levels, int compression, unsigned what)
{
    return create_any(w, file, n_events, n_links, n_receivers, n_samples, n_levels, compression,
                      what | HD_CAPTURES_SPARSE);
}

/* Events [start, start+count) and link rows [lstart, lstart+nl) (dense:
 * the same rows as the events, [row, receiver]). */
static int write_rows(hd_captures_writer *w, int64_t start, int64_t count, const hd_event *ev, int64_t lstart,
                      int64_t nl, const hd_link *links, const int16_t *iq, const float *levels)
{
    int rc = 0;
    const int sparse = (w->what & HD_CAPTURES_SPARSE) != 0;
    size_t R = (size_t)w->n_receivers;
    size_t rows = (size_t)(count > 0 ? count : 0), lrows = sparse ? (size_t)(nl > 0 ? nl : 0) : rows * R;
    unsigned char *buf = hd_calloc((rows > lrows ? rows : lrows) + 1, 8);
    if (!buf)
        return HD_ENOMEM;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (w->dsets[i] < 0)
            continue;
        size_t n = f->src == SRC_EVENT ? rows : lrows;
        size_t ss = store_size(f->store);
        for (size_t k = 0; k < n; k++) {
            const char *base = f->src == SRC_EVENT ? (const char *)&ev[k] : (const char *)&links[k];
            const char *p = base + f->offset;
            double v;
            int64_t iv;
            if (f->ctype == C_INT) {
                int x;
                memcpy(&x, p, sizeof x);
                iv = x;
                v = x;
            } else if (f->ctype == C_INT64) {
                memcpy(&iv, p, sizeof iv);
                v = (double)iv;
            } else {
                memcpy(&v, p, sizeof v);
                iv = (int64_t)v;
            }
            void *dst = buf + k * ss;
            switch (f->store) {
            case ST_I8: { int8_t x = (int8_t)iv; memcpy(dst, &x, 1); break; }
            case ST_U8: { uint8_t x = (uint8_t)iv; memcpy(dst, &x, 1); break; }
            case ST_I32: { int32_t x = (int32_t)iv; memcpy(dst, &x, 4); break; }
            case ST_I64: memcpy(dst, &iv, 8); break;
            case ST_F32: { float x = (float)v; memcpy(dst, &x, 4); break; }
            case ST_F64: memcpy(dst, &v, 8); break;
            }
        }
        int on_links = sparse && f->src == SRC_LINK;
        if ((rc = hd_h5_write_rows(w->dsets[i], store_type(f->store), (hsize_t)(on_links ? lstart : start),
                                   on_links ? lrows : rows, buf)) < 0) {
            hd_error_context(rc, "writing /%s", f->path);
            goto fail;
        }
    }
    if (!(w->what & HD_CAPTURES_BULK))
        goto fail;
    hsize_t bstart = (hsize_t)(sparse ? lstart : start), brows = sparse ? lrows : rows;
    if ((rc = hd_h5_write_rows(w->dsets[N_FIELDS], H5T_NATIVE_INT16, bstart, brows, iq)) < 0) {
        hd_error_context(rc, "writing /iq");
        goto fail;
    }
    if ((rc = hd_h5_write_rows(w->dsets[N_FIELDS + 1], H5T_NATIVE_FLOAT, bstart, brows, levels)) < 0) {
        hd_error_context(rc, "writing /levels");
        goto fail;
    }
fail:
    free(buf);
    return rc;
}

int hd_captures_write_block(hd_captures_writer *w, int64_t start, int64_t count, const hd_event *ev,
                            const hd_link *links, const int16_t *iq, const float *levels)
{
    if (w->what & HD_CAPTURES_SPARSE)
        return hd_error(HD_EINVAL, "hd_captures_write_block: a sparse file takes hd_captures_write_sparse");
    return write_rows(w, start, count, ev, start, count, links, iq, levels);
}

int hd_captures_write_sparse(hd_captures_writer *w, int64_t start, int64_t count, const hd_event *ev,
                             int64_t link_start, int64_t n_links, const hd_link *links, const int16_t *iq,
                             const float *levels)
{
    if (!(w->what & HD_CAPTURES_SPARSE))
        return hd_error(HD_EINVAL, "hd_captures_write_sparse: the file is dense");
    return write_rows(w, start, count, ev, link_start, n_links, links, iq, levels);
}

void hd_captures_close(hd_captures_writer *w)
{
    if (!w->dsets)
        return;
    for (int i = 0; i < w->n_dsets; i++)
        if (w->dsets[i] >= 0)
            H5Dclose(w->dsets[i]);
    free(w->dsets);
    w->dsets = NULL;
}

int hd_captures_write_receivers(hid_t file, const hd_station *st, int n)
{
    int rc = 0;
    const char **s = NULL;
    double *v = NULL;
    if ((rc = ensure_group(file, "receivers")) < 0)
        return rc;
    s = hd_calloc((size_t)n, sizeof *s);
    v = hd_calloc((size_t)n, sizeof *v);
    if (!s || !v) {
        rc = HD_ENOMEM;
        goto fail;
    }
    struct { const char *name; size_t off; const char *desc; } strs[] = {
        {"receivers/id", offsetof(hd_station, id), "receiver id (stations file)"},
        {"receivers/name", offsetof(hd_station, name), "receiver name"},
        {"receivers/url", offsetof(hd_station, url), "server URL of the live receiver"},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(strs); k++) {
        for (int i = 0; i < n; i++)
            s[i] = (const char *)&st[i] + strs[k].off;
        if ((rc = hd_h5_write_strings(file, strs[k].name, s, (hsize_t)n, strs[k].desc)) < 0)
            goto fail;
    }
    for (int i = 0; i < n; i++)
        s[i] = hd_driver_name(st[i].driver);
    if ((rc = hd_h5_write_strings(file, "receivers/driver", s, (hsize_t)n, "receiver driver: simulate, kiwisdr or openwebrx")) < 0)
        goto fail;
    for (int i = 0; i < n; i++)
        s[i] = hd_clock_name(st[i].clock);
    if ((rc = hd_h5_write_strings(file, "receivers/clock", s, (hsize_t)n, "clock: gps (disciplined) or free (running)")) < 0)
        goto fail;
    struct { const char *name; size_t off; const char *units, *desc; } nums[] = {
        {"receivers/lat", offsetof(hd_station, lat), "degree", "latitude, WGS84"},
        {"receivers/lon", offsetof(hd_station, lon), "degree", "longitude, WGS84"},
        {"receivers/alt_m", offsetof(hd_station, alt_m), "m", "site ellipsoidal height"},
        {"receivers/antenna_height_m", offsetof(hd_station, antenna_height_m), "m", "antenna height above ground"},
        {"receivers/sample_rate_hz", offsetof(hd_station, sample_rate_hz), "Hz", "IQ sample rate"},
        {"receivers/noise_figure_db", offsetof(hd_station, noise_figure_db), "dB", "receiver noise figure"},
        {"receivers/antenna_gain_dbi", offsetof(hd_station, antenna_gain_dbi), "dBi", "antenna gain"},
        {"receivers/clock_sigma_ns", offsetof(hd_station, clock_sigma_ns), "ns", "time-stamp error 1-sigma"},
        {"receivers/full_scale_dbm", offsetof(hd_station, full_scale_dbm), "dBm", "input power at ADC full scale with 0 dB gain"},
        {"receivers/gain_calibrated", offsetof(hd_station, gain_calibrated), "1", "1 when full_scale_dbm is a measured calibration"},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(nums); k++) {
        for (int i = 0; i < n; i++)
            memcpy(&v[i], (const char *)&st[i] + nums[k].off, sizeof(double));
        hsize_t dims[1] = {(hsize_t)n};
        if ((rc = hd_h5_write(file, nums[k].name, H5T_NATIVE_DOUBLE, 1, dims, v, nums[k].units, nums[k].desc)) < 0)
            goto fail;
    }
fail:
    free(s);
    free(v);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */


int hd_captures_open(hd_captures_reader *r, const char *path, MPI_Comm comm)
{
    return hd_captures_open_as(r, path, HD_FORMAT_CAPTURES, HD_CAPTURES_VERSION, comm);
}

static int open_any(hd_captures_reader *r, const char *path, const char *format, int max_version, MPI_Comm comm,
                    int allow_sparse);

int hd_captures_open_as(hd_captures_reader *r, const char *path, const char *format, int max_version, MPI_Comm comm)
{
    return open_any(r, path, format, max_version, comm, 0);
}

int hd_captures_open_sparse(hd_captures_reader *r, const char *path, const char *format, int max_version,
                            MPI_Comm comm)
{
    return open_any(r, path, format, max_version, comm, 1);
}

/* The most links an event of a sparse file has (/events/link_count read in
 * slices: flat memory whatever the campaign's length). */
static int sparse_max_links(hd_captures_reader *r)
{
    hid_t d = H5Dopen2(r->file, "events/link_count", H5P_DEFAULT);
    if (d < 0)
        return hd_error(HD_EFORMAT, "a sparse file without /events/link_count");
    int rc = 0;
    const int64_t S = 65536;
    int32_t *c = hd_malloc((size_t)S * sizeof *c);
    if (!c) {
        H5Dclose(d);
        return HD_ENOMEM;
    }
    int64_t sum = 0;
    for (int64_t a = 0; rc == 0 && a < r->n_events; a += S) {
        int64_t n = r->n_events - a < S ? r->n_events - a : S;
        if ((rc = hd_h5_read_rows(d, H5T_NATIVE_INT32, (hsize_t)a, (hsize_t)n, c)) < 0)
            break;
        for (int64_t k = 0; k < n; k++) {
            if (c[k] < 0 || c[k] > HD_MAX_STATIONS) {
                rc = hd_error(HD_EFORMAT, "event row %lld has %d links (0 to %d)", (long long)(a + k), (int)c[k],
                              HD_MAX_STATIONS);
                break;
            }
            r->max_links = c[k] > r->max_links ? c[k] : r->max_links;
            sum += c[k];
        }
    }
    if (rc == 0 && sum != r->n_links)
        rc = hd_error(HD_EFORMAT, "/events/link_count adds up to %lld links, /links/receiver has %lld", (long long)sum,
                      (long long)r->n_links);
    free(c);
    H5Dclose(d);
    return rc;
}

static int open_any(hd_captures_reader *r, const char *path, const char *format, int max_version, MPI_Comm comm,
                    int allow_sparse)
{
    int rc;
    hsize_t dims[8];
    char **strs = NULL;
    hsize_t ns = 0;
    double *v = NULL;
    int bulk = strcmp(format, HD_FORMAT_CAPTURES) == 0;
    memset(r, 0, sizeof *r);
    r->file = H5I_INVALID_HID;
    r->iq_direct = -1;
    r->iq_cached = -1;
    if ((rc = hd_h5_open(&r->file, path, format, max_version, comm)) < 0)
        return rc;
    if (strcmp(format, HD_FORMAT_MODEL) == 0) { /* a model: the receivers table alone */
        if ((rc = hd_h5_read_strings(r->file, "receivers/id", &strs, &ns)) < 0)
            goto fail;
        r->n_receivers = (int)ns;
        hd_h5_free_strings(strs, ns);
        strs = NULL;
    } else if (H5Lexists(r->file, "links", H5P_DEFAULT) > 0 && H5Lexists(r->file, "links/receiver", H5P_DEFAULT) > 0) {
        /* the sparse layout */
        if ((rc = hd_h5_dims(r->file, "events/index", 1, dims)) < 0)
            goto fail;
        r->n_events = (int64_t)dims[0];
        if ((rc = hd_h5_dims(r->file, "links/receiver", 1, dims)) < 0)
            goto fail;
        r->n_links = (int64_t)dims[0];
        if ((rc = hd_h5_dims(r->file, "receivers/lat", 1, dims)) < 0)
            goto fail;
        r->n_receivers = (int)dims[0];
        r->sparse = 1;
        if (!allow_sparse) {
            rc = hd_error(HD_EFORMAT,
                          "the sparse layout (%d receivers, each event holding those that heard it): this command "
                          "reads dense files only (collect.layout dense, up to %d receivers); featurize, localize and "
                          "evaluate read sparse ones",
                          r->n_receivers, HD_MAX_STATIONS);
            goto fail;
        }
        if ((rc = hd_h5_dims(r->file, "status", 1, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != r->n_links) {
            rc = hd_error(HD_EFORMAT, "/status has %lld rows for %lld links", (long long)dims[0], (long long)r->n_links);
            goto fail;
        }
        if ((rc = sparse_max_links(r)) < 0)
            goto fail;
        if (bulk) {
            if ((rc = hd_h5_dims(r->file, "iq", 3, dims)) < 0)
                goto fail;
            if ((int64_t)dims[0] != r->n_links) {
                rc = hd_error(HD_EFORMAT, "%s: /iq has %lld rows for %lld links", path, (long long)dims[0],
                              (long long)r->n_links);
                goto fail;
            }
            r->n_samples = (int)dims[1];
            if ((rc = hd_h5_dims(r->file, "levels", 2, dims)) < 0)
                goto fail;
            r->n_levels = (int)dims[1];
            bulk = 0;
        }
    } else if ((rc = hd_h5_dims(r->file, "status", 2, dims)) < 0) {
        goto fail;
    } else {
        r->n_events = (int64_t)dims[0];
        r->n_receivers = (int)dims[1];
    }
    if (bulk) {
        if ((rc = hd_h5_dims(r->file, "iq", 4, dims)) < 0)
            goto fail;
        if ((int64_t)dims[0] != r->n_events || (int)dims[1] != r->n_receivers) {
            rc = hd_error(HD_EFORMAT, "%s: /status and /iq disagree on events × receivers", path);
            goto fail;
        }
        r->n_samples = (int)dims[2];
        if ((rc = hd_h5_dims(r->file, "levels", 3, dims)) < 0)
            goto fail;
        r->n_levels = (int)dims[2];
    }
    r->has_truth = H5Lexists(r->file, "truth", H5P_DEFAULT) > 0 ? (int)HD_CAPTURES_TRUTH : 0;
    if (r->has_truth && H5Lexists(r->file, "truth/prop_mode", H5P_DEFAULT) > 0)
        r->has_truth |= (int)HD_CAPTURES_HF;
    if (r->has_truth && H5Lexists(r->file, "truth/rx_lat", H5P_DEFAULT) > 0)
        r->has_truth |= (int)HD_CAPTURES_SITES;
    r->has_tx_id = H5Lexists(r->file, "events", H5P_DEFAULT) > 0 && H5Lexists(r->file, "events/tx_id", H5P_DEFAULT) > 0;
    r->has_clock = H5Lexists(r->file, "clock", H5P_DEFAULT) > 0 && H5Lexists(r->file, "clock/rate_hz", H5P_DEFAULT) > 0 &&
                   H5Lexists(r->file, "clock/residual_s", H5P_DEFAULT) > 0 &&
                   H5Lexists(r->file, "clock/n_fit", H5P_DEFAULT) > 0;
    int R = r->n_receivers;
    r->stations = hd_calloc((size_t)(R > 0 ? R : 1), sizeof *r->stations);
    if (!r->stations) {
        rc = HD_ENOMEM;
        goto fail;
    }
    struct { const char *name; size_t off, len; } strf[] = {
        {"receivers/id", offsetof(hd_station, id), HD_ID_LEN},
        {"receivers/name", offsetof(hd_station, name), HD_NAME_LEN},
        {"receivers/url", offsetof(hd_station, url), HD_URL_LEN},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(strf); k++) {
        if ((rc = hd_h5_read_strings(r->file, strf[k].name, &strs, &ns)) < 0)
            goto fail;
        if ((int)ns != R) {
            rc = hd_error(HD_EFORMAT, "%s: /%s has %llu entries for %d receivers", path, strf[k].name,
                          (unsigned long long)ns, R);
            goto fail;
        }
        for (int i = 0; i < R; i++)
            hd_strlcpy((char *)&r->stations[i] + strf[k].off, strs[i], strf[k].len);
        hd_h5_free_strings(strs, ns);
        strs = NULL;
    }
    if ((rc = hd_h5_read_strings(r->file, "receivers/driver", &strs, &ns)) < 0)
        goto fail;
    for (int i = 0; i < R && i < (int)ns; i++)
        r->stations[i].driver = strcmp(strs[i], "kiwisdr") == 0     ? HD_DRIVER_KIWISDR
                                : strcmp(strs[i], "openwebrx") == 0 ? HD_DRIVER_OPENWEBRX
                                                                    : HD_DRIVER_SIMULATE;
    hd_h5_free_strings(strs, ns);
    strs = NULL;
    if ((rc = hd_h5_read_strings(r->file, "receivers/clock", &strs, &ns)) < 0)
        goto fail;
    for (int i = 0; i < R && i < (int)ns; i++)
        r->stations[i].clock = strcmp(strs[i], "gps") == 0 ? HD_CLOCK_GPS : HD_CLOCK_FREE;
    hd_h5_free_strings(strs, ns);
    strs = NULL;
    struct { const char *name; size_t off; } numf[] = {
        {"receivers/lat", offsetof(hd_station, lat)},
        {"receivers/lon", offsetof(hd_station, lon)},
        {"receivers/alt_m", offsetof(hd_station, alt_m)},
        {"receivers/antenna_height_m", offsetof(hd_station, antenna_height_m)},
        {"receivers/sample_rate_hz", offsetof(hd_station, sample_rate_hz)},
        {"receivers/noise_figure_db", offsetof(hd_station, noise_figure_db)},
        {"receivers/antenna_gain_dbi", offsetof(hd_station, antenna_gain_dbi)},
        {"receivers/clock_sigma_ns", offsetof(hd_station, clock_sigma_ns)},
        {"receivers/full_scale_dbm", offsetof(hd_station, full_scale_dbm)},
        {"receivers/gain_calibrated", offsetof(hd_station, gain_calibrated)},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(numf); k++) {
        int rank;
        if ((rc = hd_h5_read(r->file, numf[k].name, H5T_NATIVE_DOUBLE, &rank, dims, (void **)&v)) < 0)
            goto fail;
        if (rank != 1 || (int)dims[0] != R) {
            rc = hd_error(HD_EFORMAT, "%s: /%s has the wrong shape", path, numf[k].name);
            goto fail;
        }
        for (int i = 0; i < R; i++)
            memcpy((char *)&r->stations[i] + numf[k].off, &v[i], sizeof(double));
        free(v);
        v = NULL;
    }
    return 0;
fail:
    if (strs)
        hd_h5_free_strings(strs, ns);
    free(v);
    hd_error_context(rc, "%s", path);
    hd_captures_release(r);
    return rc;
}

/* The reader's datasets, kept open from their first read until
 * hd_captures_release: fields[k] in slot k, /iq in N_FIELDS, /levels after */
_Static_assert(N_FIELDS + 2 <= HD_CAPTURES_READER_DSETS, "hd_captures_reader.dsets too small");
#define IQ_SLOT N_FIELDS

/* /iq as written by hd_captures_create (chunks of whole events, shuffle and
 * deflate, optionally Fletcher-32, little-endian int16 on a little-endian
 * host) is read chunk by chunk with H5Dread_chunk (its checksum checked),
 * inflated by libdeflate and unshuffled here:
 * about a third of the time of HDF5's filter pipeline over zlib, the
 * largest part of reading a captures file. The last chunk inflated is kept,
 * so that events read in order inflate each chunk once. Anything else
 * (another layout, filters or byte order, a missing or damaged chunk)
 * returns 0 and the rows are read by H5Dread, which also reports what is
 * wrong. 1 when read. */
static int iq_direct(hd_captures_reader *r, int64_t start, size_t rows, int16_t *iq)
{
    const size_t per = (size_t)r->n_receivers * (size_t)r->n_samples * 2;
    if (r->iq_direct == 0 || per == 0)
        return 0;
    hid_t d = hd_h5_rows_kept(&r->dsets[IQ_SLOT], r->file, "iq");
    if (d < 0)
        return 0;
    int ok = 1, checked = 0;
    if (r->iq_direct < 0) {
        hid_t dcpl = H5Dget_create_plist(d), ft = H5Dget_type(d);
        hsize_t cd[4];
        ok = dcpl >= 0 && ft >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 4, cd) == 4 &&
             cd[0] >= 1 && cd[0] <= 65536 && cd[1] == (hsize_t)r->n_receivers && cd[2] == (hsize_t)r->n_samples &&
             cd[3] == 2 && H5Tequal(ft, H5T_STD_I16LE) > 0 && H5Tequal(H5T_NATIVE_INT16, H5T_STD_I16LE) > 0;
        int nf = ok ? H5Pget_nfilters(dcpl) : -1;
        H5Z_filter_t fl[3] = {-1, -1, -1};
        for (int i = 0; ok && i < nf && i < 3; i++) {
            unsigned flags, cv[8];
            size_t ncv = 8;
            fl[i] = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncv, cv, 0, NULL, NULL);
        }
        /* shuffle, deflate and (files since the checksums) Fletcher-32 last:
         * the checksum of the stored bytes is checked here */
        ok = ok && (nf == 2 || (nf == 3 && fl[2] == H5Z_FILTER_FLETCHER32)) && fl[0] == H5Z_FILTER_SHUFFLE &&
             fl[1] == H5Z_FILTER_DEFLATE;
        checked = nf == 3;
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (ft >= 0)
            H5Tclose(ft);
        if (ok && !r->inflater) {
            r->iq_chunk = (int)cd[0];
            r->iq_cached = -1;
            r->inflater = libdeflate_alloc_decompressor();
            r->sbuf = malloc((size_t)r->iq_chunk * per * sizeof *iq);
            ok = r->inflater && r->sbuf;
        }
        r->iq_direct = ok ? 1 + checked : 0;
    }
    checked = r->iq_direct == 2;
    const size_t c = (size_t)r->iq_chunk, bytes = c * per * sizeof *iq;
    for (size_t k = 0; ok && k < rows; k++) {
        int64_t e = start + (int64_t)k, first = e - e % (int64_t)c;
        if (first != r->iq_cached) {
            hsize_t off[4] = {(hsize_t)first, 0, 0, 0}, sz = 0;
            uint32_t mask = 0;
            r->iq_cached = -1;
            if (H5Dget_chunk_storage_size(d, off, &sz) < 0 || sz == 0) {
                ok = 0;
                break;
            }
            if (sz > r->zcap) {
                unsigned char *z = realloc(r->zbuf, sz);
                if (!z) {
                    ok = 0;
                    break;
                }
                r->zbuf = z;
                r->zcap = sz;
            }
            size_t got = 0;
            if (H5Dread_chunk(d, H5P_DEFAULT, off, &mask, r->zbuf) < 0 || mask != 0) {
                ok = 0;
                break;
            }
            if (checked) { /* a mismatch is left to H5Dread to report */
                const unsigned char *cs = r->zbuf + sz - 4;
                if (sz < 4 || hd_h5_fletcher32(r->zbuf, sz - 4) !=
                                  ((uint32_t)cs[0] | (uint32_t)cs[1] << 8 | (uint32_t)cs[2] << 16 | (uint32_t)cs[3] << 24)) {
                    ok = 0;
                    break;
                }
                sz -= 4;
            }
            if (libdeflate_zlib_decompress(r->inflater, r->zbuf, sz, r->sbuf, bytes, &got) != LIBDEFLATE_SUCCESS ||
                got != bytes) {
                ok = 0;
                break;
            }
            r->iq_cached = first;
        }
        /* the shuffle filter stored every value's low bytes, then the high */
        size_t j = (size_t)(e - first);
        const unsigned char *lo = r->sbuf + j * per, *hi = r->sbuf + c * per + j * per;
        uint16_t *o = (uint16_t *)(iq + k * per);
        for (size_t i = 0; i < per; i++)
            o[i] = (uint16_t)(lo[i] | (unsigned)hi[i] << 8);
    }
    return ok;
}

static int read_rows(hd_captures_reader *r, int64_t start, int64_t count, hd_event *ev, int64_t lstart,
                     int64_t nl, hd_link *links, int16_t *iq, float *levels);

int hd_captures_read_block(hd_captures_reader *r, int64_t start, int64_t count, hd_event *ev,
                           hd_link *links, int16_t *iq, float *levels)
{
    if (start < 0 || count < 0 || start + count > r->n_events)
        return hd_error(HD_EINVAL, "events [%lld, %lld) outside the file's %lld", (long long)start,
                        (long long)(start + count), (long long)r->n_events);
    if (r->sparse && (links || iq || levels))
        return hd_error(HD_EINVAL, "a sparse file's links are read by hd_captures_read_links");
    return read_rows(r, start, count, ev, start, count, links, iq, levels);
}

int hd_captures_read_links(hd_captures_reader *r, int64_t first, int64_t n, hd_link *links, int16_t *iq,
                           float *levels)
{
    if (!r->sparse)
        return hd_error(HD_EINVAL, "hd_captures_read_links: the file is dense");
    if (first < 0 || n < 0 || first + n > r->n_links)
        return hd_error(HD_EFORMAT, "link rows [%lld, %lld) outside the file's %lld", (long long)first,
                        (long long)(first + n), (long long)r->n_links);
    return read_rows(r, 0, 0, NULL, first, n, links, iq, levels);
}

/* Events [start, start+count) and link rows [lstart, lstart+nl) (dense:
 * the events' own rows of [row, receiver]). */
static int read_rows(hd_captures_reader *r, int64_t start, int64_t count, hd_event *ev, int64_t lstart,
                     int64_t nl, hd_link *links, int16_t *iq, float *levels)
{
    int rc = 0;
    size_t R = (size_t)r->n_receivers, rows = (size_t)(count > 0 ? count : 0);
    size_t lrows = r->sparse ? (size_t)(nl > 0 ? nl : 0) : rows * R;
    unsigned char *buf = NULL;
    if (ev || links) {
        buf = hd_calloc((rows > lrows ? rows : lrows) + 1, 8);
        if (!buf)
            return HD_ENOMEM;
        if (ev)
            for (size_t k = 0; k < rows; k++) {
                memset(&ev[k], 0, sizeof ev[k]);
                ev[k].tx_id = -1;
                hd_tx_truth_unknown(&ev[k].truth);
                ev[k].n_samples = r->n_samples;
                ev[k].n_levels = r->n_levels;
            }
        if (links)
            for (size_t k = 0; k < lrows; k++) {
                memset(&links[k], 0, sizeof links[k]);
                hd_link_truth_unknown(&links[k].truth);
                links[k].rx = r->sparse ? -1 : (int)(k % R);
            }
        for (int i = 0; i < N_FIELDS; i++) {
            const field *f = &fields[i];
            if ((f->src == SRC_EVENT && !ev) || (f->src == SRC_LINK && !links) ||
                !field_in(f, (unsigned)r->has_truth | (r->has_tx_id ? HD_CAPTURES_TXID : 0) |
                                 (r->has_clock ? HD_CAPTURES_CLOCK : 0) | (r->sparse ? HD_CAPTURES_SPARSE : 0)))
                continue;
            int on_links = r->sparse && f->src == SRC_LINK;
            hid_t d = hd_h5_rows_kept(&r->dsets[i], r->file, f->path);
            if (d < 0) {
                rc = hd_error(HD_EFORMAT, "captures file has no /%s dataset", f->path);
                goto fail;
            }
            rc = hd_h5_read_rows(d, store_type(f->store), (hsize_t)(on_links ? lstart : start), on_links ? lrows : rows,
                                 buf);
            if (rc < 0) {
                hd_error_context(rc, "reading /%s", f->path);
                goto fail;
            }
            size_t n = f->src == SRC_EVENT ? rows : lrows, ss = store_size(f->store);
            for (size_t k = 0; k < n; k++) {
                const unsigned char *src = buf + k * ss;
                int64_t iv = 0;
                double v = 0;
                switch (f->store) {
                case ST_I8: { int8_t x; memcpy(&x, src, 1); iv = x; v = x; break; }
                case ST_U8: { uint8_t x; memcpy(&x, src, 1); iv = x; v = x; break; }
                case ST_I32: { int32_t x; memcpy(&x, src, 4); iv = x; v = x; break; }
                case ST_I64: memcpy(&iv, src, 8); v = (double)iv; break;
                case ST_F32: { float x; memcpy(&x, src, 4); v = x; iv = (int64_t)x; break; }
                case ST_F64: memcpy(&v, src, 8); iv = (int64_t)v; break;
                }
                char *base = f->src == SRC_EVENT ? (char *)&ev[k] : (char *)&links[k];
                char *dst = base + f->offset;
                if (f->ctype == C_INT) {
                    int x = (int)iv;
                    memcpy(dst, &x, sizeof x);
                } else if (f->ctype == C_INT64) {
                    memcpy(dst, &iv, sizeof iv);
                } else {
                    memcpy(dst, &v, sizeof v);
                }
            }
        }
        if (ev)
            for (size_t k = 0; k < rows; k++) {
                ev[k].n_samples = r->n_samples;
                if (r->sparse && (ev[k].n_links < 0 || ev[k].n_links > HD_MAX_STATIONS || ev[k].link_first < 0 ||
                                  ev[k].link_first + ev[k].n_links > r->n_links)) {
                    rc = hd_error(HD_EFORMAT, "event row %lld: links [%lld, +%d) outside the file's %lld",
                                  (long long)(start + (int64_t)k), (long long)ev[k].link_first, ev[k].n_links,
                                  (long long)r->n_links);
                    goto fail;
                }
            }
        for (size_t k = 0; r->sparse && links && k < lrows; k++)
            if (links[k].rx < 0 || links[k].rx >= r->n_receivers) {
                rc = hd_error(HD_EFORMAT, "link row %lld: receiver %d of %d", (long long)(lstart + (int64_t)k),
                              links[k].rx, r->n_receivers);
                goto fail;
            }
    }
    if (iq && !r->sparse && rows > 0 && iq_direct(r, start, rows, iq) == 1)
        iq = NULL; /* read */
    struct { const char *name; hid_t type; void *data; } bulk[] = {
        {"iq", H5T_NATIVE_INT16, iq},
        {"levels", H5T_NATIVE_FLOAT, levels},
    };
    for (size_t k = 0; k < HD_ARRAY_LEN(bulk); k++) {
        if (!bulk[k].data)
            continue;
        hid_t d = hd_h5_rows_kept(&r->dsets[IQ_SLOT + (int)k], r->file, bulk[k].name);
        if (d < 0) {
            rc = hd_error(HD_EFORMAT, "captures file has no /%s dataset", bulk[k].name);
            goto fail;
        }
        rc = hd_h5_read_rows(d, bulk[k].type, (hsize_t)(r->sparse ? lstart : start), r->sparse ? lrows : rows,
                             bulk[k].data);
        if (rc < 0) {
            hd_error_context(rc, "reading /%s", bulk[k].name);
            goto fail;
        }
    }
fail:
    free(buf);
    return rc;
}

void hd_captures_release(hd_captures_reader *r)
{
    hd_h5_close_kept(r->dsets, HD_CAPTURES_READER_DSETS); /* before the file */
    if (r->file >= 0)
        H5Fclose(r->file);
    r->file = H5I_INVALID_HID;
    free(r->stations);
    r->stations = NULL;
    if (r->inflater)
        libdeflate_free_decompressor(r->inflater);
    free(r->zbuf);
    free(r->sbuf);
    r->inflater = NULL;
    r->zbuf = r->sbuf = NULL;
    r->zcap = 0;
}
