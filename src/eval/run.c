#include "eval/run.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int hd_run_locate(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                  void (*progress)(void *ctx, int64_t done), void *ctx)
{
    memset(run, 0, sizeof *run);
    const int R = rd->meta.n_receivers, P = rd->n_pairs, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events;
    int rc = hd_locate_net_init(&run->net, rd->meta.stations, R, cfg);
    if (rc < 0)
        return rc;
    size_t B = BLOCK;
    hd_sim_event *ev = hd_calloc(B, sizeof *ev);
    float *feat = hd_calloc(B * R * F, sizeof *feat), *psr = NULL;
    uint8_t *mask = hd_calloc(B * R, 1), *tmask = hd_calloc(B * (P > 0 ? P : 1), 1);
    double *delay = hd_calloc(B * (P > 0 ? P : 1), sizeof *delay), *sigma = hd_calloc(B * (P > 0 ? P : 1), sizeof *sigma);
    run->ev = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->ev);
    run->latency_s = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->latency_s);
    run->snr_db = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->snr_db);
    run->truth_lat = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->truth_lat);
    run->truth_lon = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->truth_lon);
    run->n_timed = hd_calloc((size_t)(E > 0 ? E : 1), sizeof *run->n_timed);
    if (!run->truth_lat || !run->truth_lon || !run->n_timed || !ev || !feat || !mask || !tmask || !delay || !sigma || !run->ev || !run->latency_s || !run->snr_db) {
        rc = HD_ENOMEM;
        goto fail;
    }
    run->n = E;
    for (int64_t first = 0; first < E; first += BLOCK) {
        int n = (int)(E - first < BLOCK ? E - first : BLOCK);
        if ((rc = hd_features_read_block(rd, first, n, ev, NULL, feat, mask, delay, sigma, psr, tmask)) < 0)
            goto fail;
        for (int i = 0; i < n; i++) {
            hd_located *out = &run->ev[first + i];
            out->index = ev[i].index;
            out->time_ns = ev[i].time_ns;
            out->frequency_hz = ev[i].frequency_hz;
            run->truth_lat[first + i] = ev[i].tx_lat;
            run->truth_lon[first + i] = ev[i].tx_lon;
            int nt = 0;
            for (int r = 0; r < R; r++)
                nt += mask[(size_t)i * R + r] && feat[((size_t)i * R + r) * F + HD_FEAT_GPS_OK] > 0.5f &&
                      feat[((size_t)i * R + r) * F + HD_FEAT_HAS_IQ] > 0.5f;
            run->n_timed[first + i] = nt;
            hd_locate_obs obs = {feat + (size_t)i * R * F, mask + (size_t)i * R, delay + (size_t)i * P,
                                 sigma + (size_t)i * P, tmask + (size_t)i * P};
            double t0 = hd_now();
            if ((rc = hd_locate(&run->net, &obs, method, &out->res)) < 0)
                goto fail;
            run->latency_s[first + i] = hd_now() - t0;
            float s[64];
            int ns = 0;
            for (int r = 0; r < R; r++)
                if (out->res.used >> r & 1)
                    s[ns++] = obs.feat[(size_t)r * F + HD_FEAT_SNR_DB];
            qsort(s, (size_t)ns, sizeof *s, cmp_float);
            run->snr_db[first + i] = ns ? (ns % 2 ? s[ns / 2] : 0.5f * (s[ns / 2 - 1] + s[ns / 2])) : NAN;
        }
        if (progress)
            progress(ctx, first + n);
    }
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    return 0;
fail:
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    hd_run_release(run);
    return rc;
}

void hd_run_release(hd_run *run)
{
    free(run->ev);
    free(run->latency_s);
    free(run->snr_db);
    free(run->truth_lat);
    free(run->truth_lon);
    free(run->n_timed);
    hd_locate_net_release(&run->net);
    memset(run, 0, sizeof *run);
}
