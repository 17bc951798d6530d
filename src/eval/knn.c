#include "eval/knn.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/util.h"
#include "eval/learn.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256

void hd_knn_model_release(hd_knn_model *m)
{
    free(m->rss);
    free(m->mask);
    free(m->tx_lat);
    free(m->tx_lon);
    free(m->time_ns);
    memset(m, 0, sizeof *m);
}

/* fingerprints rows [E*R] spread into a dataset's feat [E*R*F] (rss only) */
static void spread(float *feat, const float *rss, size_t n)
{
    for (size_t o = 0; o < n; o++)
        feat[o * HD_FEAT_COUNT + HD_FEAT_RSS_DBM] = rss[o];
}

int hd_knn_model_fit(hd_knn_model *m, hd_features_reader *rd, const char *path, const hd_localize_cfg *cfg, int k)
{
    memset(m, 0, sizeof *m);
    const int R = rd->meta.n_receivers, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events;
    if (!rd->meta.has_truth)
        return hd_error(HD_EDATA, "%s has no /truth: kNN learns its fingerprints from events with truth", path);
    if (k < 1)
        return hd_error(HD_ECONFIG, "evaluate.knn_k %d: at least one neighbour", k);
    const size_t En = (size_t)(E > 0 ? E : 1);
    hd_event *ev = hd_calloc(En, sizeof *ev);
    float *feat = hd_calloc(En * R * F, sizeof *feat);
    uint8_t *mask = hd_calloc(En * R, 1), *train = hd_calloc(En, 1), *scratch = hd_calloc(En, 1);
    m->rss = hd_calloc(En * R, sizeof *m->rss);
    m->mask = hd_calloc(En * R, 1);
    m->tx_lat = hd_calloc(En, sizeof *m->tx_lat);
    m->tx_lon = hd_calloc(En, sizeof *m->tx_lon);
    m->time_ns = hd_calloc(En, sizeof *m->time_ns);
    hd_locate_net net;
    memset(&net, 0, sizeof net);
    int rc = HD_ENOMEM;
    if (!ev || !feat || !mask || !train || !scratch || !m->rss || !m->mask || !m->tx_lat || !m->tx_lon || !m->time_ns)
        goto fail;
    if ((rc = hd_features_read_block(rd, 0, E, ev, NULL, feat, mask, NULL, NULL, NULL, NULL)) < 0 ||
        (rc = hd_run_drop_uncalibrated(rd, 0, E, feat, mask, 1)) < 0)
        goto fail;
    m->R = R;
    memcpy(m->st, rd->meta.stations, (size_t)R * sizeof *m->st);
    m->k = k;
    for (int64_t e = 0; e < E; e++) {
        if (!isfinite(ev[e].truth.lat) || !isfinite(ev[e].truth.lon))
            continue;
        const int64_t j = m->E++;
        for (int r = 0; r < R; r++) {
            const size_t o = (size_t)e * R + r, q = (size_t)j * R + r;
            m->mask[q] = mask[o];
            m->rss[q] = mask[o] ? feat[o * F + HD_FEAT_RSS_DBM] : 0;
        }
        m->tx_lat[j] = ev[e].truth.lat;
        m->tx_lon[j] = ev[e].truth.lon;
        m->time_ns[j] = ev[e].time_ns;
    }
    if (m->E == 0) {
        rc = hd_error(HD_EDATA, "%s: no event with a finite truth to learn fingerprints from", path);
        goto fail;
    }
    /* the covariance's scale on the fingerprints themselves, as a split learns it */
    memset(feat, 0, (size_t)m->E * R * F * sizeof *feat);
    spread(feat, m->rss, (size_t)m->E * R);
    memset(train, 1, (size_t)m->E);
    if ((rc = hd_locate_net_init(&net, rd->meta.stations, R, cfg)) < 0)
        goto fail;
    hd_dataset d = {m->E, R, feat, m->mask, NULL, NULL, m->tx_lat, m->tx_lon};
    m->cov_scale = hd_run_learn_scale(&net, &d, train, m->time_ns, HD_LOC_KNN, k, scratch);
    rc = 0;
fail:
    hd_locate_net_release(&net);
    free(ev);
    free(feat);
    free(mask);
    free(train);
    free(scratch);
    if (rc < 0)
        hd_knn_model_release(m);
    return rc;
}

int hd_knn_model_write(const hd_knn_model *m, hid_t f)
{
    const char *ids[HD_MAX_STATIONS];
    double la[HD_MAX_STATIONS], lo[HD_MAX_STATIONS];
    for (int r = 0; r < m->R; r++) {
        ids[r] = m->st[r].id;
        la[r] = m->st[r].lat;
        lo[r] = m->st[r].lon;
    }
    hsize_t dr[1] = {(hsize_t)m->R}, de[1] = {(hsize_t)m->E}, der[2] = {(hsize_t)m->E, (hsize_t)m->R};
    hid_t g = H5Gcreate2(f, "receivers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t k = g < 0 ? -1 : H5Gcreate2(f, "knn", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = g < 0 || k < 0 ? hd_error(HD_EIO, "cannot create /receivers or /knn") : 0;
    if (rc == 0)
        rc = hd_h5_write_strings(g, "id", ids, dr[0], "receiver id (the fingerprints' columns; matched by id)");
    if (rc == 0)
        rc = hd_h5_write(g, "lat", H5T_NATIVE_DOUBLE, 1, dr, la, "degree", "advertised latitude (NaN: moves)");
    if (rc == 0)
        rc = hd_h5_write(g, "lon", H5T_NATIVE_DOUBLE, 1, dr, lo, "degree", "advertised longitude");
    if (rc == 0)
        rc = hd_h5_write(k, "rss_dbm", H5T_NATIVE_FLOAT, 2, der, m->rss, "dB", "each fingerprint's RSS per receiver (0: not heard)");
    if (rc == 0)
        rc = hd_h5_write(k, "mask", H5T_NATIVE_UINT8, 2, der, m->mask, "1", "1: the receiver heard the fingerprint");
    if (rc == 0)
        rc = hd_h5_write(k, "tx_lat", H5T_NATIVE_DOUBLE, 1, de, m->tx_lat, "degree", "the fingerprint's transmitter latitude");
    if (rc == 0)
        rc = hd_h5_write(k, "tx_lon", H5T_NATIVE_DOUBLE, 1, de, m->tx_lon, "degree", "the fingerprint's transmitter longitude");
    if (rc == 0)
        rc = hd_h5_write(k, "time_ns", H5T_NATIVE_INT64, 1, de, m->time_ns, "ns", "the fingerprint's time (UTC)");
    if (rc == 0)
        rc = hd_h5_attr_int(k, "k", m->k);
    if (rc == 0)
        rc = hd_h5_attr_double(k, "cov_scale", m->cov_scale);
    if (rc == 0)
        rc = hd_h5_attr_str(f, "kind", HD_MODEL_KIND_KNN);
    if (k >= 0)
        H5Gclose(k);
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

int hd_model_kind(hid_t f, char *kind, size_t size)
{
    if (H5Aexists(f, "kind") <= 0) {
        hd_strlcpy(kind, "nn", size);
        return 0;
    }
    char *s = NULL;
    int rc = hd_h5_read_attr_str(f, "kind", &s);
    if (rc == 0)
        hd_strlcpy(kind, s, size);
    free(s);
    return rc;
}

/* a dataset of n elements of size sz in rank dims d0[, d1] */
static int read_exact(hid_t f, const char *path, const char *name, hid_t type, int rank, hsize_t d0, hsize_t d1, void **out)
{
    int rk;
    hsize_t dims[8];
    int rc = hd_h5_read(f, name, type, &rk, dims, out);
    if (rc < 0)
        return rc;
    if (rk != rank || dims[0] != d0 || (rank == 2 && dims[1] != d1))
        return hd_error(HD_EFORMAT, "%s: /%s has the wrong shape", path, name);
    return 0;
}

int hd_knn_model_load(hd_knn_model *m, const char *path)
{
    memset(m, 0, sizeof *m);
    hid_t f;
    int rc = hd_h5_open(&f, path, HD_FORMAT_MODEL, HD_MODEL_VERSION, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    char kind[32], **ids = NULL;
    hsize_t n = 0;
    double *la = NULL, *lo = NULL;
    if ((rc = hd_model_kind(f, kind, sizeof kind)) < 0)
        goto done;
    if (strcmp(kind, HD_MODEL_KIND_KNN) != 0) {
        rc = hd_error(HD_ECONFIG, "%s is a %s model, not a knn one (heimdall train --method knn)", path, kind);
        goto done;
    }
    if ((rc = hd_h5_read_strings(f, "receivers/id", &ids, &n)) < 0)
        goto done;
    if (n == 0 || n > HD_MAX_STATIONS) {
        rc = hd_error(HD_EFORMAT, "%s: %llu receivers", path, (unsigned long long)n);
        goto done;
    }
    m->R = (int)n;
    int rk;
    hsize_t dims[8];
    hid_t g = H5Dopen2(f, "knn/tx_lat", H5P_DEFAULT);
    hid_t sp = g < 0 ? -1 : H5Dget_space(g);
    if (sp < 0 || (rk = H5Sget_simple_extent_dims(sp, dims, NULL)) != 1) {
        if (sp >= 0)
            H5Sclose(sp);
        if (g >= 0)
            H5Dclose(g);
        rc = hd_error(HD_EFORMAT, "%s has no /knn/tx_lat", path);
        goto done;
    }
    H5Sclose(sp);
    H5Dclose(g);
    m->E = (int64_t)dims[0];
    const hsize_t E = dims[0], R = n;
    int64_t k = 0;
    hid_t kg;
    if ((rc = read_exact(f, path, "receivers/lat", H5T_NATIVE_DOUBLE, 1, R, 0, (void **)&la)) < 0 ||
        (rc = read_exact(f, path, "receivers/lon", H5T_NATIVE_DOUBLE, 1, R, 0, (void **)&lo)) < 0 ||
        (rc = read_exact(f, path, "knn/rss_dbm", H5T_NATIVE_FLOAT, 2, E, R, (void **)&m->rss)) < 0 ||
        (rc = read_exact(f, path, "knn/mask", H5T_NATIVE_UINT8, 2, E, R, (void **)&m->mask)) < 0 ||
        (rc = read_exact(f, path, "knn/tx_lat", H5T_NATIVE_DOUBLE, 1, E, 0, (void **)&m->tx_lat)) < 0 ||
        (rc = read_exact(f, path, "knn/tx_lon", H5T_NATIVE_DOUBLE, 1, E, 0, (void **)&m->tx_lon)) < 0 ||
        (rc = read_exact(f, path, "knn/time_ns", H5T_NATIVE_INT64, 1, E, 0, (void **)&m->time_ns)) < 0)
        goto done;
    if ((kg = H5Gopen2(f, "knn", H5P_DEFAULT)) < 0) {
        rc = hd_error(HD_EFORMAT, "%s has no /knn", path);
        goto done;
    }
    rc = hd_h5_read_attr_int(kg, "k", &k);
    if (rc == 0)
        rc = hd_h5_read_attr_double(kg, "cov_scale", &m->cov_scale);
    H5Gclose(kg);
    if (rc == 0 && (k < 1 || !(m->cov_scale > 0)))
        rc = hd_error(HD_EFORMAT, "%s: k %lld, covariance scale %g", path, (long long)k, m->cov_scale);
    m->k = (int)k;
    for (int r = 0; rc == 0 && r < m->R; r++) {
        hd_strlcpy(m->st[r].id, ids[r], sizeof m->st[r].id);
        m->st[r].lat = la[r];
        m->st[r].lon = lo[r];
    }
done:
    if (ids)
        hd_h5_free_strings(ids, n);
    free(la);
    free(lo);
    H5Fclose(f);
    if (rc < 0)
        hd_knn_model_release(m);
    return rc;
}

int hd_run_locate_knn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_knn_model *m,
                      const char *model_path, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return hd_run_locate_knn_stream(run, rd, cfg, m, model_path, NULL, NULL, progress, ctx);
}

int hd_run_locate_knn_stream(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_knn_model *m,
                             const char *model_path, hd_run_sink sink, void *sink_ctx,
                             void (*progress)(void *ctx, int64_t done), void *ctx)
{
    memset(run, 0, sizeof *run);
    const int R = rd->meta.n_receivers, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events, M = m->E;
    /* per-event results: the whole file, or a block at a time when streaming */
    const size_t En = sink ? BLOCK : (size_t)(E > 0 ? E : 1), Rows = (size_t)(M + BLOCK);
    /* receivers matched by id (one the fingerprints never heard matches as
     * the -101 dB floor, as a split's kNN has it) */
    int map[HD_MAX_STATIONS], known = 0;
    for (int r = 0; r < R; r++) {
        map[r] = -1;
        for (int j = 0; j < m->R && map[r] < 0; j++)
            if (strcmp(m->st[j].id, rd->meta.stations[r].id) == 0)
                map[r] = j;
        known += map[r] >= 0;
    }
    if (!known)
        return hd_error(HD_ECONFIG, "%s knows none of the receivers of this file: a model of another network", model_path);
    int rc = hd_locate_net_init(&run->net, rd->meta.stations, R, cfg);
    if (rc < 0)
        return rc;
    hd_event *ev = hd_calloc(BLOCK, sizeof *ev);
    float *qf = hd_calloc((size_t)BLOCK * R * F, sizeof *qf), *feat = hd_calloc(Rows * R * F, sizeof *feat);
    uint8_t *qm = hd_calloc((size_t)BLOCK * R, 1), *mask = hd_calloc(Rows * R, 1), *train = hd_calloc(Rows, 1);
    double *tla = hd_calloc(Rows, sizeof *tla), *tlo = hd_calloc(Rows, sizeof *tlo);
    rc = hd_run_alloc(run, En, 1);
    if (rc == 0 && (!ev || !qf || !feat || !qm || !mask || !train || !tla || !tlo))
        rc = HD_ENOMEM;
    if (rc < 0)
        goto fail;
    run->n = sink ? 0 : E;
    run->unknown_to = "the knn model";
    /* the fingerprints in this file's receiver order: rows [0, M) */
    for (int64_t t = 0; t < M; t++) {
        for (int r = 0; r < R; r++)
            if (map[r] >= 0 && m->mask[(size_t)t * m->R + map[r]]) {
                mask[(size_t)t * R + r] = 1;
                feat[((size_t)t * R + r) * F + HD_FEAT_RSS_DBM] = m->rss[(size_t)t * m->R + map[r]];
            }
        train[t] = 1;
        tla[t] = m->tx_lat[t];
        tlo[t] = m->tx_lon[t];
    }
    for (int64_t first = 0; first < E; first += BLOCK) {
        int n = (int)(E - first < BLOCK ? E - first : BLOCK);
        const int64_t off = sink ? 0 : first; /* run->ev[off + i] is event first + i */
        if (sink) {
            run->first = first;
            run->n = n;
            memset(run->ev, 0, (size_t)n * sizeof *run->ev);
            memset(run->n_uncalibrated, 0, (size_t)n * sizeof *run->n_uncalibrated);
        }
        if ((rc = hd_features_read_block(rd, first, n, ev, NULL, qf, qm, NULL, NULL, NULL, NULL)) < 0 ||
            (rc = hd_run_drop_uncalibrated(rd, first, n, qf, qm, 1)) < 0)
            goto fail;
        /* the block's queries: rows [M, M + n) */
        memcpy(feat + (size_t)M * R * F, qf, (size_t)n * R * F * sizeof *qf);
        memcpy(mask + (size_t)M * R, qm, (size_t)n * R);
        hd_dataset d = {M + n, R, feat, mask, NULL, NULL, tla, tlo};
        for (int i = 0; i < n; i++) {
            const int64_t e = off + i;
            uint8_t *mq = mask + (size_t)(M + i) * R;
            for (int r = 0; r < R; r++) /* a receiver without fingerprints: left out, counted (a bus never matches) */
                if (mq[r] && map[r] < 0 && (mq[r] = 0, isfinite(run->net.rx_lat[r]))) {
                    run->events_uncalibrated += run->n_uncalibrated[e]++ == 0;
                    run->uncalibrated_heard[r]++;
                    run->ev[e].uncalibrated |= 1ull << r;
                }
            hd_located *out = &run->ev[e];
            out->index = ev[i].index;
            out->time_ns = ev[i].time_ns;
            out->frequency_hz = ev[i].frequency_hz;
            run->truth_lat[e] = ev[i].truth.lat;
            run->truth_lon[e] = ev[i].truth.lon;
            double t0 = hd_now();
            if ((rc = hd_knn_locate(&run->net, &d, train, M + i, m->k, &out->res)) < 0)
                goto fail;
            run->latency_s[e] = hd_now() - t0;
            for (int q = 0; q < 3; q++)
                out->res.cov[q] *= m->cov_scale;
            run->snr_db[e] = hd_run_used_snr(&out->res, qf + (size_t)i * R * F, R);
        }
        if (sink && (rc = sink(sink_ctx, run)) < 0)
            goto fail;
        if (progress)
            progress(ctx, first + n);
    }
    rc = 0;
fail:
    free(ev);
    free(qf);
    free(feat);
    free(qm);
    free(mask);
    free(train);
    free(tla);
    free(tlo);
    if (rc < 0)
        hd_run_release(run);
    return rc;
}
