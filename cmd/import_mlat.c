/* heimdall import mlat SENSORS.csv MESSAGES.csv… -o features.h5: ADS-B
 * multilateration messages (LocaRDS) into a features file the TDOA solver
 * reads: the receivers that occur, /toa arrival times, /tdoa pair
 * differences, /obs altitude observation, /truth and the aircraft. */
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "features/features.h"
#include "formats/mlat.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hd_import_mlat(const hd_cli *cli, const hd_config *cfg, int argc, char **in);

/* The sparse layout's link rows of /toa (K of them: the heard receivers of
 * each event in order). */
static int write_toa_sparse(hid_t f, const hd_mlat_table *t, int64_t K)
{
    const int R = t->R;
    int64_t *toa = hd_malloc((size_t)(K > 0 ? K : 1) * sizeof *toa);
    uint8_t *heard = hd_malloc((size_t)(K > 0 ? K : 1));
    float *rssi = hd_malloc((size_t)(K > 0 ? K : 1) * sizeof *rssi);
    int rc = 0;
    if (!toa || !heard || !rssi) {
        rc = HD_ENOMEM;
        goto done;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < t->E * R; i++)
        if (t->heard[i]) {
            toa[k] = t->toa_ns[i];
            heard[k] = 1;
            rssi[k++] = t->rssi[i];
        }
    hsize_t dk[1] = {(hsize_t)K};
    if ((rc = hd_h5_write(f, "toa/time_ns", H5T_NATIVE_INT64, 1, dk, toa, "ns",
                          "arrival time per link on the receivers' common GPS time scale (ns within the shared "
                          "second counter), clock offsets removed (sparse layout: /links/receiver)")) < 0 ||
        (rc = hd_h5_write(f, "toa/mask", H5T_NATIVE_UINT8, 1, dk, heard, "1", "1: the link heard the message")) < 0 ||
        (rc = hd_h5_write(f, "toa/rssi", H5T_NATIVE_FLOAT, 1, dk, rssi, "1",
                          "received signal strength as the data set reports it (receiver units)")) < 0)
        goto done;
done:
    free(toa);
    free(heard);
    free(rssi);
    return rc;
}

/* collect.layout sparse: the features file of the dense arrays' heard
 * receivers only: link rows per message, its own pairs. */
static int write_sparse(hid_t f, const hd_mlat_table *t, hd_event *ev, const hd_link *lk, const float *feat,
                        int compression, int64_t *K_out)
{
    const int R = t->R, F = HD_FEAT_COUNT;
    const int64_t E = t->E;
    int64_t K = 0, Q = 0;
    for (int64_t e = 0; e < E; e++) {
        int k = 0;
        for (int r = 0; r < R; r++)
            k += t->heard[e * R + r];
        ev[e].link_first = K;
        ev[e].n_links = k;
        K += k;
        Q += (int64_t)k * (k - 1) / 2;
    }
    *K_out = K;
    size_t Kn = (size_t)(K > 0 ? K : 1), Qn = (size_t)(Q > 0 ? Q : 1);
    hd_link *sl = hd_calloc(Kn, sizeof *sl);
    float *sf = hd_calloc(Kn * F, sizeof *sf);
    uint8_t *ones = hd_calloc(Kn, 1), *zeros = hd_calloc(Kn, 1);
    int64_t *pf = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *pf);
    int32_t *pairs = hd_calloc(Qn * 2, sizeof *pairs);
    double *delay = hd_calloc(Qn, sizeof *delay), *sigma = hd_calloc(Qn, sizeof *sigma);
    float *psr = hd_calloc(Qn, sizeof *psr);
    uint8_t *tmask = hd_calloc(Qn, 1), *twhy = hd_calloc(Qn, 1), *meth = hd_calloc(Qn, 1);
    hd_features_writer w;
    int rc = 0, w_open = 0;
    if (!sl || !sf || !ones || !zeros || !pf || !pairs || !delay || !sigma || !psr || !tmask || !twhy || !meth) {
        rc = HD_ENOMEM;
        goto done;
    }
    memset(ones, 1, Kn);
    int64_t k = 0, q = 0;
    for (int64_t e = 0; e < E; e++) {
        int rx[HD_MAX_STATIONS], n = 0;
        for (int r = 0; r < R; r++)
            if (t->heard[e * R + r]) {
                rx[n++] = r;
                sl[k] = lk[e * R + r];
                sl[k].rx = r;
                memcpy(sf + k * F, feat + ((size_t)e * R + r) * F, F * sizeof *sf);
                k++;
            }
        pf[e] = q;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++, q++) {
                int p = 0; /* the dense pair (rx[a], rx[b]) in hd_features_pair(R) order */
                for (int i = 0; i < rx[a]; i++)
                    p += R - 1 - i;
                p += rx[b] - rx[a] - 1;
                size_t dp = (size_t)e * t->P + (size_t)p;
                pairs[2 * q] = rx[a];
                pairs[2 * q + 1] = rx[b];
                delay[q] = t->delay_s[dp];
                sigma[q] = t->sigma_s[dp];
                tmask[q] = t->tmask[dp];
                twhy[q] = tmask[q] ? HD_WHY_PAIR_OK : HD_WHY_PAIR_NO_GPS_TIME; /* heard by both: a clock not trusted */
                meth[q] = tmask[q] ? HD_TDOA_ARRIVAL : HD_TDOA_NONE;
            }
    }
    if ((rc = hd_features_create_sparse(&w, f, E, K, Q, R, 1, compression)) < 0)
        goto done;
    w_open = 1;
    hd_features_sparse_rows rows = {sf, ones, zeros, zeros, pairs, delay, sigma, psr, tmask, twhy, meth};
    if ((rc = hd_features_write_sparse(&w, 0, E, ev, pf, 0, K, sl, 0, Q, &rows)) < 0)
        goto done;
done:
    if (w_open)
        hd_features_close(&w);
    free(sl);
    free(sf);
    free(ones);
    free(zeros);
    free(pf);
    free(pairs);
    free(delay);
    free(sigma);
    free(psr);
    free(tmask);
    free(twhy);
    free(meth);
    return rc;
}

static int write_extra(hid_t f, const hd_mlat *m, const hd_mlat_table *t, int64_t sparse_links)
{
    const int64_t E = t->E;
    const int R = t->R;
    size_t En = (size_t)(E > 0 ? E : 1);
    int64_t *ac = hd_malloc(En * sizeof *ac), *id = hd_malloc(En * sizeof *id);
    double *baro = hd_malloc(En * sizeof *baro);
    int32_t serial[HD_MAX_STATIONS];
    int8_t good[HD_MAX_STATIONS];
    int rc = 0;
    if (!ac || !id || !baro) {
        rc = HD_ENOMEM;
        goto done;
    }
    for (int64_t e = 0; e < E; e++) {
        ac[e] = m->msg[e].aircraft;
        id[e] = m->msg[e].id;
        baro[e] = m->msg[e].baro_alt_m;
    }
    for (int r = 0; r < R; r++) {
        serial[r] = t->serial[r];
        good[r] = t->st[r].clock == HD_CLOCK_GPS;
    }
    hsize_t d1[1] = {(hsize_t)E}, d2[2] = {(hsize_t)E, (hsize_t)R}, dr[1] = {(hsize_t)R};
    hid_t g;
    const char *groups[] = {"toa", "obs"};
    for (int k = 0; k < 2; k++) {
        if ((g = H5Gcreate2(f, groups[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
            rc = hd_error(HD_EIO, "cannot create /%s", groups[k]);
            goto done;
        }
        H5Gclose(g);
    }
    if ((sparse_links >= 0 ? (rc = write_toa_sparse(f, t, sparse_links)) < 0
                           : ((rc = hd_h5_write(f, "toa/time_ns", H5T_NATIVE_INT64, 2, d2, t->toa_ns, "ns",
                                               "arrival time per event and receiver on the receivers' common GPS time "
                                               "scale (ns within the shared second counter), clock offsets removed; 0 "
                                               "where /toa/mask is 0")) < 0 ||
                             (rc = hd_h5_write(f, "toa/mask", H5T_NATIVE_UINT8, 2, d2, t->heard, "1",
                                               "1 where the receiver heard the message")) < 0 ||
                             (rc = hd_h5_write(f, "toa/rssi", H5T_NATIVE_FLOAT, 2, d2, t->rssi, "1",
                                               "received signal strength as the data set reports it (receiver "
                                               "units); NaN not heard")) < 0)) ||
        (rc = hd_h5_write(f, "obs/alt_m", H5T_NATIVE_DOUBLE, 1, d1, t->alt_m, "m",
                          "the transmitter's altitude as an observation: the reported barometric altitude plus "
                          "import.mlat.alt_offset_m, taken as ellipsoidal height")) < 0 ||
        (rc = hd_h5_write(f, "obs/alt_sigma_m", H5T_NATIVE_DOUBLE, 1, d1, t->alt_sigma_m, "m",
                          "1-sigma of /obs/alt_m (import.mlat.alt_sigma_m)")) < 0 ||
        (rc = hd_h5_write(f, "obs/baro_alt_m", H5T_NATIVE_DOUBLE, 1, d1, baro, "m", "reported barometric altitude")) < 0 ||
        (rc = hd_h5_write(f, "events/aircraft", H5T_NATIVE_INT64, 1, d1, ac, "1",
                          "aircraft id (the same across the messages of one aircraft: tracks)")) < 0 ||
        (rc = hd_h5_write(f, "events/tx_id", H5T_NATIVE_INT64, 1, d1, ac, "1",
                          "transmitter id: the aircraft id (heimdall track groups by it)")) < 0 ||
        (rc = hd_h5_write(f, "events/message_id", H5T_NATIVE_INT64, 1, d1, id, "1", "the data set's message id")) < 0 ||
        (rc = hd_h5_write(f, "receivers/serial", H5T_NATIVE_INT32, 1, dr, serial, "1", "sensor serial")) < 0 ||
        (rc = hd_h5_write(f, "receivers/good", H5T_NATIVE_INT8, 1, dr, good, "1",
                          "1: the clock is GPS-disciplined and trusted (sensors.csv good)")) < 0 ||
        (rc = hd_h5_attr_str(f, "source", "LocaRDS (OpenSky Network) ADS-B multilateration reference data, CC BY-SA "
                                          "4.0: Schaefer et al., Sensors 21(16):5516, 2021")) < 0)
        goto done;
done:
    free(ac);
    free(id);
    free(baro);
    return rc;
}

int hd_import_mlat(const hd_cli *cli, const hd_config *cfg, int argc, char **in)
{
    if (argc < 2)
        return hd_error(HD_EINVAL, "import mlat needs SENSORS.csv and at least one MESSAGES.csv (got %d input%s)", argc,
                        argc == 1 ? "" : "s");
    const hd_import_mlat_cfg *mc = &cfg->import.mlat;
    hd_mlat m;
    hd_mlat_table t;
    hd_h5_out out;
    hd_features_writer w;
    int out_open = 0, w_open = 0, *oser = NULL, noff = 0;
    double *ooff = NULL;
    hd_event *ev = NULL;
    hd_link *lk = NULL;
    float *feat = NULL, *psr = NULL;
    hd_mlat_init(&m);
    memset(&t, 0, sizeof t);
    int rc = hd_mlat_read_sensors(&m, in[0]);
    for (int k = 1; rc == 0 && k < argc; k++)
        rc = hd_mlat_read_messages(&m, in[k]);
    if (rc == 0 && mc->clock_offsets[0])
        rc = hd_mlat_read_offsets(mc->clock_offsets, &oser, &ooff, &noff);
    if (rc < 0)
        goto fail;
    hd_mlat_opts o = {mc->gps_sigma_ns, mc->other_sigma_ns, mc->alt_sigma_m, mc->alt_offset_m, oser, ooff, noff};
    if ((rc = hd_mlat_assemble(&m, &o, &t)) < 0)
        goto fail;
    const int R = t.R, F = HD_FEAT_COUNT, P = t.P;
    const int64_t E = t.E;
    if (E == 0 || R < 1) {
        rc = hd_error(HD_EDATA, "no messages to import");
        goto fail;
    }
    ev = hd_calloc((size_t)E, sizeof *ev);
    lk = hd_calloc((size_t)(E * R), sizeof *lk);
    feat = hd_calloc((size_t)(E * R * F), sizeof *feat);
    psr = hd_calloc((size_t)(E * P) + 1, sizeof *psr);
    if (!ev || !lk || !feat || !psr) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t e = 0; e < E; e++) {
        const hd_mlat_message *g = &m.msg[e];
        hd_event *v = &ev[e];
        v->index = e;
        v->time_ns = (int64_t)llround(g->time_s * 1e9);
        v->frequency_hz = 1090e6;
        v->sample_rate_hz = NAN;
        v->level_rate_hz = NAN;
        hd_tx_truth_unknown(&v->truth);
        v->truth.lat = g->lat;
        v->truth.lon = g->lon;
        v->truth.alt_m = g->geo_alt_m;
        for (int r = 0; r < R; r++) {
            size_t k = (size_t)e * R + r;
            hd_link *l = &lk[k];
            int h = t.heard[k];
            l->status = h ? HD_RX_OK : HD_RX_NOT_RUN;
            l->gps_ok = h && t.st[r].clock == HD_CLOCK_GPS;
            l->t0_s = l->gain_db = NAN;
            l->clipped_fraction = NAN;
            hd_link_truth_unknown(&l->truth);
            float *fr = feat + k * F;
            for (int q = 0; q < F; q++)
                fr[q] = h ? NAN : 0;
            if (h) {
                fr[HD_FEAT_GPS_OK] = (float)l->gps_ok;
                fr[HD_FEAT_HAS_IQ] = 0;
                fr[HD_FEAT_CLIPPED] = 0;
            }
        }
    }
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    int64_t K = -1; /* sparse: the links */
    if ((rc = hd_captures_write_receivers(out.file, t.st, R)) < 0)
        goto fail;
    if (cfg->collect.layout == HD_LAYOUT_SPARSE) {
        if ((rc = write_sparse(out.file, &t, ev, lk, feat, cfg->featurize.compression, &K)) < 0)
            goto fail;
    } else {
        if ((rc = hd_features_create(&w, out.file, E, R, 1, cfg->featurize.compression, 0, 0)) < 0)
            goto fail;
        w_open = 1;
        if ((rc = hd_features_write_block(&w, 0, E, ev, lk, feat, t.heard, t.delay_s, t.sigma_s, psr, t.tmask, NULL)) < 0)
            goto fail;
        hd_features_close(&w);
        w_open = 0;
    }
    if ((rc = write_extra(out.file, &m, &t, K)) < 0)
        goto fail;
    hd_runinfo_set_events(E);
    {
        const char **inputs = (const char **)in;
        int n_in = argc;
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = n_in};
        if ((rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    int64_t heard = 0;
    for (int64_t i = 0; i < E * R; i++)
        heard += t.heard[i];
    hd_info("wrote %lld messages × %d receivers (of %d in %s; %.2f heard per message; %lld arrival times "
            "corrected by a clock offset%s) to %s",
            (long long)E, R, m.n_sensors, in[0], (double)heard / (double)E, (long long)t.n_offsets_applied,
            K >= 0 ? "; sparse layout: the heard receivers only" : "", cli->output);
fail:
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    hd_mlat_release(&m);
    hd_mlat_table_release(&t);
    free(oser);
    free(ooff);
    free(ev);
    free(lk);
    free(feat);
    free(psr);
    return rc;
}
