#include "eval/run.h"
#include "eval/calibrate.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/learn.h"
#include "eval/score.h"
#include "nn/model.h"
#include "h5/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256
#define NET_CACHE 16 /* sparse: the receiver sets' networks kept */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float hd_run_used_snr(const hd_locate_result *res, const float *feat, int R)
{
    float s[HD_MAX_STATIONS];
    int ns = 0;
    for (int r = 0; r < R && r < HD_MAX_STATIONS; r++)
        if (res->used >> r & 1)
            s[ns++] = feat[(size_t)r * HD_FEAT_COUNT + HD_FEAT_SNR_DB];
    qsort(s, (size_t)ns, sizeof *s, cmp_float);
    return ns ? (ns % 2 ? s[ns / 2] : 0.5f * (s[ns / 2 - 1] + s[ns / 2])) : NAN;
}

static int run_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method, const hd_nn_model *nn,
                   hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx);

/* Receivers whose rss_dbm is no calibrated dBm (/dbm_ok 0: gain or full
 * scale unknown): without a dBm for the RSS solvers (NaN, which they skip;
 * their time differences stay), or masked (mask_it) for the methods that
 * take rss_dbm as it is (the network, the learned RSS methods). */
int hd_run_drop_uncalibrated(hd_features_reader *rd, int64_t first, int64_t n, float *feat, uint8_t *mask, int mask_it)
{
    const int R = rd->meta.n_receivers;
    if (!rd->has_dbm_ok)
        return 0;
    uint8_t *ok = hd_calloc((size_t)(n > 0 ? n : 1) * R, 1);
    if (!ok)
        return HD_ENOMEM;
    int rc = hd_features_read_reasons(rd, first, n, NULL, NULL, ok);
    for (size_t o = 0; rc == 0 && o < (size_t)n * R; o++)
        if (mask[o] && !ok[o]) {
            if (mask_it)
                mask[o] = 0;
            else
                feat[o * HD_FEAT_COUNT + HD_FEAT_RSS_DBM] = NAN;
        }
    free(ok);
    return rc;
}

/* The calibration's part of a block: clock offsets out of the time
 * differences; receivers it does not know counted and, asked to, masked. */
static void apply_calibration(hd_run *run, const hd_localize_cfg *cfg, int R, int P, int64_t off, int n,
                              uint8_t *mask, double *delay, uint8_t *tmask)
{
    if (!cfg->calibrated)
        return;
    for (int i = 0; i < n; i++) {
        uint8_t *m = mask + (size_t)i * R;
        int un = 0;
        for (int r = 0; r < R; r++)
            if (m[r] && cfg->rx_uncalibrated[r]) {
                un++;
                run->uncalibrated_heard[r]++;
                run->ev[off + i].uncalibrated |= 1ull << r;
            }
        run->n_uncalibrated[off + i] = un;
        run->events_uncalibrated += un > 0;
    }
    hd_calib_apply_rows(cfg, R, P, n, mask, delay, tmask);
}

int hd_run_bound_nn(hd_run *run, int64_t i)
{
    const hd_locate_net *net = &run->net;
    hd_located *out = &run->ev[i];
    hd_locate_result *r = &out->res;
    if (r->status != HD_LOC_OK || !isfinite(r->lat) || !isfinite(r->lon))
        return 0;
    double e, n;
    hd_locate_from_geo(net, r->lat, r->lon, &e, &n);
    double ce = fmin(fmax(e, net->e_min), net->e_max), cn = fmin(fmax(n, net->n_min), net->n_max);
    if (ce == e && cn == n)
        return 0;
    /* at the region's edge nearest its answer, the variance along each axis
     * grown by the move (the answer stays within about 1 sigma), up to a
     * uniform position's over the region (a far answer says no more than
     * "somewhere in the region"); growing the diagonal keeps it positive */
    const double de = e - ce, dn = n - cn, d = hypot(de, dn), w = net->e_max - net->e_min,
                 h = net->n_max - net->n_min;
    r->e = ce;
    r->n = cn;
    hd_locate_to_geo(net, ce, cn, &r->lat, &r->lon);
    r->cov[0] = fmax(r->cov[0], fmin(r->cov[0] + de * de, w * w / 12));
    r->cov[2] = fmax(r->cov[2], fmin(r->cov[2] + dn * dn, h * h / 12));
    r->status = HD_LOC_OUTSIDE;
    run->n_clamped++;
    run->clamped_max_m = fmax(run->clamped_max_m, d);
    snprintf(out->why, sizeof out->why, "the network's prediction %.1f km outside the search region, clamped to its edge",
             d / 1000);
    return 1;
}

void hd_run_clamped_summary(const hd_run *run, char *buf, size_t size)
{
    buf[0] = 0;
    if (run->n_clamped)
        snprintf(buf, size, "network: %lld prediction%s outside the search region, clamped to its edge (the farthest "
                            "%.1f km out)",
                 (long long)run->n_clamped, run->n_clamped == 1 ? "" : "s", run->clamped_max_m / 1000);
}

void hd_run_why(int R, int P, const uint8_t *why, const uint8_t *twhy, char *buf, size_t size)
{
    int nr[HD_WHY_RX_COUNT] = {0}, np[HD_WHY_PAIR_COUNT] = {0};
    for (int r = 0; r < R; r++)
        nr[why[r] < HD_WHY_RX_COUNT ? why[r] : 0]++;
    for (int p = 0; p < P; p++)
        np[twhy[p] < HD_WHY_PAIR_COUNT ? twhy[p] : 0]++;
    size_t o = 0;
    buf[0] = 0;
#define PUT(...) (o += (size_t)snprintf(buf + (o < size ? o : size), o < size ? size - o : 0, __VA_ARGS__))
    for (int k = 1, first = 1; k < HD_WHY_RX_COUNT; k++)
        if (nr[k]) {
            PUT("%s%s %d", first ? "receivers: " : ", ", hd_rx_why_name(k), nr[k]);
            first = 0;
        }
    /* a masked receiver's pairs say no more than the receiver */
    for (int k = 1, first = 1; k < HD_WHY_PAIR_COUNT; k++)
        if (np[k] && k != HD_WHY_PAIR_END_MASKED) {
            PUT("%s%s %d", first ? (o ? "; pairs: " : "pairs: ") : ", ", hd_pair_why_name(k), np[k]);
            first = 0;
        }
#undef PUT
}

/* The optional /obs/alt_m and /obs/alt_sigma_m [E] (import mlat): both or
 * neither (NULL). */
static int read_alt(hd_features_reader *rd, double **alt, double **sd)
{
    hid_t f = rd->meta.file;
    int rank, rc;
    hsize_t d1[8], d2[8];
    *alt = *sd = NULL;
    if (H5Lexists(f, "obs", H5P_DEFAULT) <= 0 || H5Lexists(f, "obs/alt_m", H5P_DEFAULT) <= 0)
        return 0;
    if ((rc = hd_h5_read(f, "obs/alt_m", H5T_NATIVE_DOUBLE, &rank, d1, (void **)alt)) < 0 ||
        (rc = hd_h5_read(f, "obs/alt_sigma_m", H5T_NATIVE_DOUBLE, &rank, d2, (void **)sd)) < 0 ||
        (int64_t)d1[0] != rd->meta.n_events || d1[0] != d2[0]) {
        free(*alt);
        free(*sd);
        *alt = *sd = NULL;
        return rc < 0 ? rc : hd_error(HD_EFORMAT, "/obs/alt_m and /obs/alt_sigma_m need one value per event");
    }
    return 0;
}

int hd_run_locate(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                  void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return run_any(run, rd, cfg, method, NULL, NULL, NULL, progress, ctx);
}

int hd_run_locate_stream(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                         const void *model, hd_run_sink sink, void *sink_ctx,
                         void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return run_any(run, rd, cfg, model ? HD_LOC_NN : method, model, sink, sink_ctx, progress, ctx);
}

int hd_run_locate_nn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const void *model,
                     void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return run_any(run, rd, cfg, HD_LOC_NN, model, NULL, NULL, progress, ctx);
}

static int run_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method, const hd_nn_model *nn,
                   hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    memset(run, 0, sizeof *run);
    const int R = rd->meta.n_receivers, P = rd->n_pairs, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events;
    double *alt = NULL, *alt_sd = NULL;
    int rc = hd_locate_net_init(&run->net, rd->meta.stations, R, cfg);
    if (rc < 0)
        return rc;
    size_t B = BLOCK;
    hd_event *ev = hd_calloc(B, sizeof *ev);
    float *feat = hd_calloc(B * R * F, sizeof *feat), *psr = NULL;
    uint8_t *mask = hd_calloc(B * R, 1), *tmask = hd_calloc(B * (P > 0 ? P : 1), 1), *why = NULL, *twhy = NULL;
    double *delay = hd_calloc(B * (P > 0 ? P : 1), sizeof *delay), *sigma = hd_calloc(B * (P > 0 ? P : 1), sizeof *sigma);
    double *rx_lat = NULL, *rx_lon = NULL;
    /* per-event results: the whole file, or one block at a time when streaming */
    const size_t En = sink ? B : (size_t)(E > 0 ? E : 1);
    if ((rc = hd_run_alloc(run, En, cfg->calibrated)) < 0)
        goto fail;
    if (sink && !(run->obs = hd_calloc(B, sizeof *run->obs))) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if (!ev || !feat || !mask || !tmask || !delay || !sigma) {
        rc = HD_ENOMEM;
        goto fail;
    }
    run->n = sink ? 0 : E;
    if (rd->has_reasons && (!(why = hd_calloc(B * R, 1)) || !(twhy = hd_calloc(B * (P > 0 ? P : 1), 1)))) {
        rc = HD_ENOMEM;
        goto fail;
    }
    /* the transmitter's height observed per event (/obs: import mlat): a 3-D solve */
    if (!nn && (rc = read_alt(rd, &alt, &alt_sd)) < 0)
        goto fail;
    /* per-event receiver positions (buses, /rx_lat and /rx_lon): used with a
     * calibration (the classical solvers; without one, as before) */
    if (cfg->calibrated && !nn && H5Lexists(rd->meta.file, "rx_lat", H5P_DEFAULT) > 0) {
        int rank;
        hsize_t dims[8];
        if ((rc = hd_h5_read(rd->meta.file, "rx_lat", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rx_lat)) < 0 ||
            (rc = hd_h5_read(rd->meta.file, "rx_lon", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rx_lon)) < 0)
            goto fail;
        if (rank != 2 || (int64_t)dims[0] != E || (int)dims[1] != R) {
            rc = hd_error(HD_EFORMAT, "/rx_lon is not [events, receivers]");
            goto fail;
        }
    }
    for (int64_t first = 0; first < E; first += BLOCK) {
        int n = (int)(E - first < BLOCK ? E - first : BLOCK);
        const int64_t off = sink ? 0 : first; /* ev[off + i] is event first + i */
        if (sink) {
            run->first = first;
            run->n = n;
            memset(run->ev, 0, (size_t)n * sizeof *run->ev);
        }
        if ((rc = hd_features_read_block(rd, first, n, ev, NULL, feat, mask, delay, sigma, psr, tmask)) < 0 ||
            (rc = hd_run_drop_uncalibrated(rd, first, n, feat, mask, nn != NULL)) < 0 ||
            (why && (rc = hd_features_read_reasons(rd, first, n, why, twhy, NULL)) < 0))
            goto fail;
        apply_calibration(run, cfg, R, P, off, n, mask, delay, tmask);
        if (nn) { /* the network takes the block at once */
            hd_locate_obs obs[BLOCK];
            hd_locate_result res[BLOCK];
            for (int i = 0; i < n; i++)
                obs[i] = (hd_locate_obs){feat + (size_t)i * R * F, mask + (size_t)i * R, delay + (size_t)i * P,
                                         sigma + (size_t)i * P, tmask + (size_t)i * P, NULL, NULL};
            double t0 = hd_now();
            if ((rc = hd_nn_predict(nn, &run->net, obs, n, R, res)) < 0)
                goto fail;
            double dt = (hd_now() - t0) / (n > 0 ? n : 1);
            for (int i = 0; i < n; i++) {
                run->ev[off + i].res = res[i];
                run->latency_s[off + i] = dt;
                hd_run_bound_nn(run, off + i);
            }
        }
        for (int i = 0; i < n; i++) {
            hd_located *out = &run->ev[off + i];
            out->index = ev[i].index;
            out->time_ns = ev[i].time_ns;
            out->frequency_hz = ev[i].frequency_hz;
            run->truth_lat[off + i] = ev[i].truth.lat;
            run->truth_lon[off + i] = ev[i].truth.lon;
            /* receivers with an arrival time from valid time differences */
            hd_locate_obs o = {feat + (size_t)i * R * F, mask + (size_t)i * R, delay + (size_t)i * P,
                               sigma + (size_t)i * P, tmask + (size_t)i * P, NULL, NULL};
            double toa[HD_MAX_STATIONS], var[HD_MAX_STATIONS];
            uint64_t timed = 0;
            if (hd_locate_arrivals(R, &o, cfg->outlier_sigma, toa, var, &timed) < 0)
                timed = 0;
            run->n_timed[off + i] = __builtin_popcountll(timed);
            hd_locate_obs obs = {feat + (size_t)i * R * F, mask + (size_t)i * R, delay + (size_t)i * P,
                                 sigma + (size_t)i * P, tmask + (size_t)i * P,
                                 rx_lat ? rx_lat + (size_t)(first + i) * R : NULL,
                                 rx_lon ? rx_lon + (size_t)(first + i) * R : NULL};
            if (alt) {
                obs.alt_m = alt[first + i];
                obs.alt_sigma_m = alt_sd[first + i];
            }
            if (run->obs)
                run->obs[off + i] = obs;
            if (!nn) {
                double t0 = hd_now();
                if ((rc = hd_locate(&run->net, &obs, method, &out->res)) < 0)
                    goto fail;
                run->latency_s[off + i] = hd_now() - t0;
                if (cfg->calibrated && method == HD_LOC_RSS && cfg->rss_cov_scale > 0)
                    for (int q = 0; q < 3; q++) /* the calibration's learnt uncertainty scale */
                        out->res.cov[q] *= cfg->rss_cov_scale;
            }
            if (why && out->res.status != HD_LOC_OK && out->res.status != HD_LOC_OUTSIDE)
                hd_run_why(R, P, why + (size_t)i * R, twhy + (size_t)i * P, out->why, sizeof out->why);
            run->snr_db[off + i] = hd_run_used_snr(&out->res, obs.feat, R);
        }
        if (sink && (rc = sink(sink_ctx, run)) < 0)
            goto fail;
        if (progress)
            progress(ctx, first + n);
    }
    free(alt);
    free(alt_sd);
    free(ev);
    free(feat);
    free(why);
    free(twhy);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    free(rx_lat);
    free(rx_lon);
    return 0;
fail:
    free(alt);
    free(alt_sd);
    free(rx_lat);
    free(rx_lon);
    free(ev);
    free(feat);
    free(mask);
    free(tmask);
    free(delay);
    free(sigma);
    hd_run_release(run);
    return rc;
}

int hd_run_alloc(hd_run *run, size_t n, int with_uncalibrated)
{
    run->ev = hd_calloc(n, sizeof *run->ev);
    run->latency_s = hd_calloc(n, sizeof *run->latency_s);
    run->snr_db = hd_calloc(n, sizeof *run->snr_db);
    run->truth_lat = hd_calloc(n, sizeof *run->truth_lat);
    run->truth_lon = hd_calloc(n, sizeof *run->truth_lon);
    run->n_timed = hd_calloc(n, sizeof *run->n_timed);
    if (with_uncalibrated)
        run->n_uncalibrated = hd_calloc(n, sizeof *run->n_uncalibrated);
    return run->ev && run->latency_s && run->snr_db && run->truth_lat && run->truth_lon && run->n_timed &&
                   (!with_uncalibrated || run->n_uncalibrated)
               ? 0
               : HD_ENOMEM;
}

void hd_run_release(hd_run *run)
{
    free(run->ev);
    free(run->latency_s);
    free(run->snr_db);
    free(run->truth_lat);
    free(run->truth_lon);
    free(run->n_timed);
    free(run->n_uncalibrated);
    free(run->obs);
    free(run->group);
    free(run->scored);
    free(run->crlb_model_m);
    hd_locate_net_release(&run->net);
    memset(run, 0, sizeof *run);
}

int64_t hd_run_uncalibrated_summary(const hd_run *run, const hd_station *st, int R, int masked, char *buf,
                                    size_t size)
{
    buf[0] = 0;
    if (!run->n_uncalibrated)
        return 0;
    int64_t n = run->events_uncalibrated;
    const char *what = run->unknown_to ? run->unknown_to : "calibration";
    if (!n) {
        snprintf(buf, size, "%s: every receiver heard is %s", what, run->unknown_to ? "known" : "calibrated");
        return 0;
    }
    size_t o = (size_t)snprintf(buf, size, "%s: %lld event%s heard receivers it does not know", what, (long long)n,
                                n == 1 ? "" : "s");
    int first = 1;
    for (int r = 0; r < R && r < HD_MAX_STATIONS; r++) /* a sparse file's run counts none per receiver */
        if (run->uncalibrated_heard[r] && o < size) {
            o += (size_t)snprintf(buf + o, size - o, "%s%s %lld", first ? " (" : ", ", st[r].id,
                                  (long long)run->uncalibrated_heard[r]);
            first = 0;
        }
    if (o < size)
        snprintf(buf + o, size - o, "%s, %s", first ? "" : ")",
                 masked || run->unknown_to ? "masked" : "used uncalibrated");
    return n;
}

static const char *const split_dataset[] = {NULL, "splits/month", "splits/time_block"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The uncertainty's scale learnt on the training groups: locate up to 400
 * training events (kNN without the events within 5 minutes of the one
 * located, which a held-out group never has) and return the factor that
 * puts half their truths inside the predictive's 50 % region (the median
 * squared Mahalanobis distance 2 ln 2 for a Gaussian). */
double hd_run_learn_scale(const hd_locate_net *net, const hd_dataset *d, const uint8_t *train, const int64_t *time_ns,
                          int method, int k, uint8_t *scratch)
{
    const int R = d->R, F = HD_FEAT_COUNT;
    int64_t n_train = 0;
    for (int64_t e = 0; e < d->E; e++)
        n_train += train[e];
    int64_t step = n_train > 400 ? n_train / 400 : 1, seen = 0;
    double *d2 = malloc(401 * sizeof *d2);
    int n = 0;
    for (int64_t e = 0; d2 && e < d->E && n < 400; e++) {
        if (!train[e] || seen++ % step)
            continue;
        hd_locate_result res;
        if (method == HD_LOC_KNN) {
            for (int64_t t = 0; t < d->E; t++)
                scratch[t] = train[t] && llabs(time_ns[t] - time_ns[e]) > 300000000000LL;
            if (hd_knn_locate(net, d, scratch, e, k, &res) < 0)
                continue;
        } else {
            double zd[1] = {0};
            uint8_t zm[1] = {0};
            hd_locate_obs obs = {d->feat + (size_t)e * R * F, d->mask + (size_t)e * R, zd, zd, zm,
                                 d->rx_lat ? d->rx_lat + (size_t)e * R : NULL, d->rx_lon ? d->rx_lon + (size_t)e * R : NULL};
            if (hd_locate(net, &obs, method, &res) < 0)
                continue;
        }
        if (res.status != HD_LOC_OK)
            continue;
        double te, tn;
        hd_locate_from_geo(net, d->tx_lat[e], d->tx_lon[e], &te, &tn);
        /* in units of the predictive's median radius² (2 ln 2 for a
         * Gaussian, the t's own for a Student-t) */
        double m = hd_locate_mahalanobis2(res.cov, res.e - te, res.n - tn) / hd_locate_radius2(0.5, res.nu);
        if (isfinite(m))
            d2[n++] = m;
    }
    double f = 1;
    if (n >= 20) {
        qsort(d2, (size_t)n, sizeof *d2, cmp_double);
        f = d2[n / 2];
    }
    free(d2);
    return f;
}

static int folds_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                     int method, const char *pattern, hd_run_sink sink, void *sink_ctx,
                     void (*progress)(void *ctx, int64_t done), void *ctx);

int hd_run_folds(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                 int method, hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return folds_any(run, rd, cfg, ecfg, method, NULL, sink, sink_ctx, progress, ctx);
}

int hd_run_folds_nn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                    const char *model_pattern, hd_run_sink sink, void *sink_ctx,
                    void (*progress)(void *ctx, int64_t done), void *ctx)
{
    if (!model_pattern || !strstr(model_pattern, "%d"))
        return hd_error(HD_ECONFIG, "--method nn with evaluate.split needs one model per group: -m 'model_%%d.h5' "
                                    "(each trained with train.exclude_split and train.exclude_group)");
    return folds_any(run, rd, cfg, ecfg, HD_LOC_NN, model_pattern, sink, sink_ctx, progress, ctx);
}

/* What the folds keep of an event's solution until every group is located
 * and the events go to the sink in order: the solution's columns of
 * eval.h5 and what the scores' rows take (its scores, made at once) */
typedef struct {
    double lat, lon, e, n, nu, gdop, chi2, cov[3];
    int32_t dof, n_receivers;
    int8_t status, rejected;
} fold_sol;

typedef struct {
    fold_sol *sol;              /* [E] */
    hd_scored *sc;              /* [E]: each event against its truth (hd_eval_score_event) */
    double *cm;                 /* [E]: the bound at the truth with the model error */
    double *latency_s;          /* [E] */
} fold_keep;

/* event e, located into one (its cov scaled), scored on the run's network
 * against its truth and kept */
static void fold_put(fold_keep *k, const hd_run *run, int64_t e, const hd_located *one, const double *tx_lat,
                     const double *tx_lon, double latency_s)
{
    hd_run v;
    memset(&v, 0, sizeof v);
    v.net = run->net; /* a shallow copy, never released */
    v.ev = (hd_located *)one;
    v.truth_lat = (double *)tx_lat + e;
    v.truth_lon = (double *)tx_lon + e;
    v.n = 1;
    hd_eval_score_event(&v, 0, &k->sc[e], &k->cm[e]);
    const hd_locate_result *r = &one->res;
    k->sol[e] = (fold_sol){r->lat, r->lon, r->e, r->n, r->nu, r->gdop, r->chi2, {r->cov[0], r->cov[1], r->cov[2]},
                           r->dof, r->n_receivers, (int8_t)r->status, (int8_t)(r->rejected != 0)};
    k->latency_s[e] = latency_s;
}

static int folds_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                     int method, const char *pattern, hd_run_sink sink, void *sink_ctx,
                     void (*progress)(void *ctx, int64_t done), void *ctx)
{
    memset(run, 0, sizeof *run);
    const int R = rd->meta.n_receivers, F = HD_FEAT_COUNT;
    const int64_t E = rd->meta.n_events;
    const char *sname = ecfg->split > 0 && ecfg->split < 3 ? split_dataset[ecfg->split] : NULL;
    if (!sname)
        return hd_error(HD_EINVAL, "no split to evaluate by");
    if (cfg->calibrated)
        return hd_error(HD_ECONFIG, "a calibration was fitted elsewhere: score it on the whole file "
                                    "(evaluate.split none); the split refits on the other groups");
    if (method != HD_LOC_RSS && method != HD_LOC_KNN && method != HD_LOC_TDOA && !(method == HD_LOC_NN && pattern))
        return hd_error(HD_EUNSUPPORTED, "evaluate.split works with the methods rss, knn, nn and tdoa, not %s",
                        hd_method_name(method));
    if (H5Lexists(rd->meta.file, "splits", H5P_DEFAULT) <= 0 || H5Lexists(rd->meta.file, sname, H5P_DEFAULT) <= 0)
        return hd_error(HD_EDATA, "the file has no /%s to split by (evaluate.split)", sname);
    int rc = hd_locate_net_init(&run->net, rd->meta.stations, R, cfg);
    if (rc < 0)
        return rc;
    size_t En = (size_t)(E > 0 ? E : 1);
    hd_event *ev = hd_calloc(En, sizeof *ev);
    float *feat = hd_calloc(En * R * F, sizeof *feat);
    uint8_t *mask = hd_calloc(En * R, 1), *train = hd_calloc(En, 1), *scratch = hd_calloc(En, 1);
    int64_t *time_ns = hd_calloc(En, sizeof *time_ns);
    double *rx_lat = NULL, *rx_lon = NULL, *tx_lat = hd_calloc(En, sizeof *tx_lat), *tx_lon = hd_calloc(En, sizeof *tx_lon);
    int8_t *split = NULL;
    hd_locate_net fitted;
    memset(&fitted, 0, sizeof fitted);
    fold_keep keep = {hd_calloc(En, sizeof *keep.sol), hd_calloc(En, sizeof *keep.sc), hd_calloc(En, sizeof *keep.cm),
                      hd_calloc(En, sizeof *keep.latency_s)};
    hd_located *one = hd_calloc(1, sizeof *one);
    if (!scratch || !time_ns || !ev || !feat || !mask || !train || !tx_lat || !tx_lon || !keep.sol || !keep.sc ||
        !keep.cm || !keep.latency_s || !one) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_features_read_block(rd, 0, E, ev, NULL, feat, mask, NULL, NULL, NULL, NULL)) < 0 ||
        (method != HD_LOC_TDOA && (rc = hd_run_drop_uncalibrated(rd, 0, E, feat, mask, 1)) < 0))
        goto fail;
    int rank;
    hsize_t dims[8];
    if ((rc = hd_h5_read(rd->meta.file, sname, H5T_NATIVE_INT8, &rank, dims, (void **)&split)) < 0)
        goto fail;
    if (rank != 1 || (int64_t)dims[0] != E) {
        rc = hd_error(HD_EFORMAT, "/%s does not have one value per event", sname);
        goto fail;
    }
    if (H5Lexists(rd->meta.file, "rx_lat", H5P_DEFAULT) > 0 &&
        ((rc = hd_h5_read(rd->meta.file, "rx_lat", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rx_lat)) < 0 ||
         (rc = hd_h5_read(rd->meta.file, "rx_lon", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&rx_lon)) < 0))
        goto fail;
    for (int64_t e = 0; e < E; e++) {
        time_ns[e] = ev[e].time_ns;
        tx_lat[e] = ev[e].truth.lat;
        tx_lon[e] = ev[e].truth.lon;
    }
    hd_dataset d = {E, R, feat, mask, rx_lat, rx_lon, tx_lat, tx_lon};
    int64_t done = 0;
    for (int g = -128; g < 128; g++) {
        int64_t ntest = 0;
        for (int64_t e = 0; e < E; e++) {
            train[e] = split[e] != g;
            ntest += !train[e];
        }
        if (!ntest)
            continue;
        const hd_locate_net *use = &run->net;
        if (method == HD_LOC_RSS) { /* calibrate on the other groups */
            hd_localize_cfg c2 = *cfg;
            double gamma = cfg->rss_exponent, sigma;
            if ((rc = hd_learn_rss(&run->net, &d, train, c2.rss_offsets_db, &gamma, &sigma)) < 0)
                goto fail;
            c2.n_rss_offsets = R;
            c2.rss_exponent = gamma;
            c2.rss_sigma_db = sigma;
            hd_locate_net_release(&fitted);
            if ((rc = hd_locate_net_init(&fitted, rd->meta.stations, R, &c2)) < 0)
                goto fail;
            use = &fitted;
        }
        if (method == HD_LOC_NN) { /* this group's model, trained without it */
            char path[1100];
            snprintf(path, sizeof path, pattern, g);
            hd_nn_model M;
            if ((rc = hd_nn_model_load(&M, path)) < 0)
                goto fail;
            hd_locate_obs *obs = hd_malloc((size_t)ntest * sizeof *obs);
            hd_locate_result *res = hd_malloc((size_t)ntest * sizeof *res);
            int64_t k = 0;
            double zero_d[1] = {0};
            uint8_t zero_m[1] = {0};
            for (int64_t e = 0; obs && e < E; e++)
                if (!train[e])
                    obs[k++] = (hd_locate_obs){feat + (size_t)e * R * F, mask + (size_t)e * R, zero_d, zero_d, zero_m,
                                               rx_lat ? rx_lat + (size_t)e * R : NULL,
                                               rx_lon ? rx_lon + (size_t)e * R : NULL};
            for (int64_t i = 0; obs && i < ntest; i++)
                obs[i].tmask = NULL; /* level-only data: no arrival times */
            double t0 = hd_now();
            rc = !obs || !res ? HD_ENOMEM : hd_nn_predict(&M, &run->net, obs, (int)ntest, R, res);
            double dt = (hd_now() - t0) / (double)ntest;
            k = 0;
            for (int64_t e = 0; rc == 0 && e < E; e++)
                if (!train[e]) {
                    hd_run v; /* the run's clamping, on this event */
                    memset(&v, 0, sizeof v);
                    v.net = run->net;
                    v.ev = one;
                    one->res = res[k++];
                    if (hd_run_bound_nn(&v, 0)) {
                        run->n_clamped++;
                        run->clamped_max_m = fmax(run->clamped_max_m, v.clamped_max_m);
                    }
                    fold_put(&keep, run, e, one, tx_lat, tx_lon, dt);
                }
            hd_info("%s %d: %lld events held out, located by %s", sname, g, (long long)ntest, path);
            hd_nn_model_release(&M);
            free(obs);
            free(res);
            if (rc < 0)
                goto fail;
            done += ntest;
            if (progress)
                progress(ctx, done);
            continue;
        }
        double scale = method == HD_LOC_TDOA ? 1 : hd_run_learn_scale(use, &d, train, time_ns, method, ecfg->knn_k, scratch);
        if (method == HD_LOC_RSS)
            hd_info("%s %d: %lld events held out; fitted on the rest: RSS exponent %.2f, sigma %.1f dB, "
                    "covariance scale %.2f",
                    sname, g, (long long)ntest, use->cfg.rss_exponent, use->cfg.rss_sigma_db, scale);
        else
            hd_info("%s %d: %lld events held out; covariance scale from the rest %.2f", sname, g, (long long)ntest,
                    scale);
        for (int64_t e = 0; e < E; e++) {
            if (train[e])
                continue;
            hd_locate_obs obs = {feat + (size_t)e * R * F, mask + (size_t)e * R, NULL, NULL, NULL,
                                 rx_lat ? rx_lat + (size_t)e * R : NULL, rx_lon ? rx_lon + (size_t)e * R : NULL};
            double zero_d[1] = {0};
            uint8_t zero_m[1] = {0};
            obs.delay_s = obs.sigma_s = zero_d; /* level-only data: no pairs used below */
            obs.tmask = zero_m;
            double t0 = hd_now();
            memset(&one->res, 0, sizeof one->res);
            if (method == HD_LOC_KNN)
                rc = hd_knn_locate(&run->net, &d, train, e, ecfg->knn_k, &one->res);
            else if (method == HD_LOC_TDOA)
                rc = HD_EUNSUPPORTED;
            else
                rc = hd_locate(use, &obs, method, &one->res);
            if (rc == HD_EUNSUPPORTED) {
                rc = hd_error(HD_EUNSUPPORTED, "tdoa with a split: nothing to fit; evaluate it without one");
                goto fail;
            }
            if (rc < 0)
                goto fail;
            for (int q = 0; q < 3; q++)
                one->res.cov[q] *= scale;
            fold_put(&keep, run, e, one, tx_lat, tx_lon, hd_now() - t0);
            done++;
        }
        if (progress)
            progress(ctx, done);
    }
    /* every event to the sink in order, a block at a time, with its group
     * (the report's rows by group) and its scores made above */
    run->split = ecfg->split;
    if ((rc = hd_run_alloc(run, BLOCK, 0)) < 0)
        goto fail;
    if (!(run->group = hd_calloc(BLOCK, 1)) || !(run->scored = hd_calloc(BLOCK, sizeof *run->scored)) ||
        !(run->crlb_model_m = hd_calloc(BLOCK, sizeof *run->crlb_model_m))) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int64_t first = 0; first < E; first += BLOCK) {
        run->first = first;
        run->n = E - first < BLOCK ? E - first : BLOCK;
        memset(run->ev, 0, (size_t)run->n * sizeof *run->ev);
        for (int64_t i = 0; i < run->n; i++) {
            const int64_t e = first + i;
            const fold_sol *x = &keep.sol[e];
            hd_located *o = &run->ev[i];
            o->index = ev[e].index;
            o->time_ns = ev[e].time_ns;
            o->frequency_hz = ev[e].frequency_hz;
            o->res = (hd_locate_result){.status = x->status, .method = method, .e = x->e, .n = x->n, .lat = x->lat,
                                        .lon = x->lon, .nu = x->nu, .gdop = x->gdop, .chi2 = x->chi2, .dof = x->dof,
                                        .n_receivers = x->n_receivers, .rejected = (uint64_t)x->rejected};
            memcpy(o->res.cov, x->cov, sizeof x->cov);
            run->latency_s[i] = keep.latency_s[e];
            run->snr_db[i] = NAN;
            run->truth_lat[i] = tx_lat[e];
            run->truth_lon[i] = tx_lon[e];
            run->n_timed[i] = 0;
            run->group[i] = split[e];
            run->scored[i] = keep.sc[e];
            run->crlb_model_m[i] = keep.cm[e];
        }
        if ((rc = sink(sink_ctx, run)) < 0)
            goto fail;
    }
fail:
    free(keep.sol);
    free(keep.sc);
    free(keep.cm);
    free(keep.latency_s);
    free(one);
    hd_locate_net_release(&fitted);
    free(ev);
    free(feat);
    free(mask);
    free(train);
    free(scratch);
    free(time_ns);
    free(rx_lat);
    free(rx_lon);
    free(tx_lat);
    free(tx_lon);
    free(split);
    if (rc < 0)
        hd_run_release(run);
    return rc;
}

static int sparse_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                      const hd_calib_table *cal, int score, hd_run_sink sink, void *sink_ctx,
                      hd_run_event_hook hook, void *hook_ctx, void (*progress)(void *ctx, int64_t done), void *ctx);

int hd_run_locate_sparse(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                         const hd_calib_table *cal, hd_run_sink sink, void *sink_ctx, hd_run_event_hook hook,
                         void *hook_ctx, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return sparse_any(run, rd, cfg, method, cal, !sink, sink, sink_ctx, hook, hook_ctx, progress, ctx);
}

int hd_run_locate_sparse_scored(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                                const hd_calib_table *cal, hd_run_sink sink, void *sink_ctx,
                                void (*progress)(void *ctx, int64_t done), void *ctx)
{
    return sparse_any(run, rd, cfg, method, cal, 1, sink, sink_ctx, NULL, NULL, progress, ctx);
}

static int sparse_any(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                      const hd_calib_table *cal, int score, hd_run_sink sink, void *sink_ctx,
                      hd_run_event_hook hook, void *hook_ctx, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    memset(run, 0, sizeof *run);
    if (!rd->meta.sparse)
        return hd_error(HD_EINVAL, "hd_run_locate_sparse: the file is dense");
    if (method != HD_LOC_TDOA && method != HD_LOC_RSS && method != HD_LOC_HYBRID)
        return hd_error(HD_ECONFIG, "a sparse file is located by tdoa, rss or hybrid (not %s yet)", hd_method_name(method));
    if (cfg->n_rss_offsets)
        return hd_error(HD_ECONFIG, "localize.rss_offsets_db is per receiver of a dense network: a sparse file's "
                                    "offsets come from a calibration (heimdall calibrate, --calibration)");
    if (cfg->calibrated && (!cal || cal->R != rd->meta.n_receivers))
        return hd_error(HD_EINVAL, "hd_run_locate_sparse: a calibration without its table of the file's receivers");
    if (!cfg->calibrated)
        cal = NULL;
    const int F = HD_FEAT_COUNT, Rc = rd->meta.max_links > 0 ? rd->meta.max_links : 1;
    const int64_t E = rd->meta.n_events;
    const size_t B = BLOCK;
    hd_localize_cfg c1 = *cfg;
    if (c1.search == HD_SEARCH_AUTO)
        c1.search = HD_SEARCH_COARSE;
    int rc;
    struct {
        int ok, k;
        int32_t rx[HD_MAX_STATIONS];
        hd_locate_net net;
    } *nc = hd_calloc(NET_CACHE, sizeof *nc);
    if (!nc)
        return HD_ENOMEM;
    hd_sparse_block blk;
    hd_station *st = hd_calloc((size_t)Rc, sizeof *st);
    double *alt = NULL, *alt_sd = NULL;
    if ((rc = hd_sparse_block_alloc(&blk, rd, (int)B)) < 0 || !st) {
        rc = rc < 0 ? rc : HD_ENOMEM;
        goto done;
    }
    const hd_event *ev = blk.ev;
    const hd_link *lk = blk.lk;
    float *feat = blk.feat;
    uint8_t *mask = blk.mask, *tmask = blk.tmask;
    const uint8_t *why = blk.why, *twhy = blk.twhy, *dok = blk.dok;
    double *delay = blk.delay, *sigma = blk.sigma;
    /* streaming: a block at a time; else the whole file, scored */
    const size_t En = sink ? B : (size_t)(E > 0 ? E : 1);
    /* the transmitter's height observed per event (/obs: import mlat): a 3-D solve */
    if ((rc = read_alt(rd, &alt, &alt_sd)) < 0)
        goto done;
    if ((rc = hd_run_alloc(run, En, cal != NULL)) < 0)
        goto done;
    if (sink && !(run->obs = hd_calloc(B, sizeof *run->obs))) {
        rc = HD_ENOMEM;
        goto done;
    }
    if (score && (!(run->scored = hd_calloc(En, sizeof *run->scored)) ||
                  !(run->crlb_model_m = hd_calloc(En, sizeof *run->crlb_model_m)))) {
        rc = HD_ENOMEM;
        goto done;
    }
    run->n = sink ? 0 : E;
    for (int64_t first = 0; first < E; first += BLOCK) {
        int n = (int)(E - first < BLOCK ? E - first : BLOCK);
        const int64_t off = sink ? 0 : first; /* run->ev[off + i] is event first + i */
        if (sink) {
            run->first = first;
            run->n = n;
            memset(run->ev, 0, (size_t)n * sizeof *run->ev);
        }
        if ((rc = hd_sparse_block_read(&blk, rd, first, n)) < 0)
            goto done;
        for (int64_t o = 0; o < blk.nl; o++) /* no calibrated dBm: the RSS solvers skip it, the timing stays */
            if (mask[o] && !dok[o])
                feat[o * F + HD_FEAT_RSS_DBM] = NAN;
        for (int i = 0, lo = 0, po = 0; i < n; i++) {
            int k = ev[i].n_links, P = hd_features_npairs(k);
            hd_located *out = &run->ev[off + i];
            out->index = ev[i].index;
            out->time_ns = ev[i].time_ns;
            out->frequency_hz = ev[i].frequency_hz;
            out->n_rx = k;
            for (int j = 0; j < k; j++) {
                out->rx[j] = lk[lo + j].rx;
                st[j] = rd->meta.stations[lk[lo + j].rx];
            }
            run->truth_lat[off + i] = ev[i].truth.lat;
            run->truth_lon[off + i] = ev[i].truth.lon;
            if (cal) { /* the calibration: the event's own receivers' offsets */
                uint64_t un = hd_calib_table_apply(cal, cfg, k, out->rx, feat + (size_t)lo * F, mask + lo, delay + po,
                                                   tmask + po);
                out->uncalibrated = un;
                run->n_uncalibrated[off + i] = __builtin_popcountll(un);
                run->events_uncalibrated += un != 0;
            }
            hd_locate_obs obs = {feat + (size_t)lo * F, mask + lo, delay + po, sigma + po, tmask + po, NULL, NULL};
            if (alt) {
                obs.alt_m = alt[first + i];
                obs.alt_sigma_m = alt_sd[first + i];
            }
            if (run->obs)
                run->obs[i] = obs;
            double toa[HD_MAX_STATIONS], var[HD_MAX_STATIONS];
            uint64_t timed = 0;
            if (k < 1 || hd_locate_arrivals(k, &obs, cfg->outlier_sigma, toa, var, &timed) < 0)
                timed = 0;
            run->n_timed[off + i] = __builtin_popcountll(timed);
            double t0 = hd_now();
            if (k < 1) {
                memset(&out->res, 0, sizeof out->res);
                out->res.status = HD_LOC_TOO_FEW;
                out->res.method = method;
                snprintf(out->why, sizeof out->why, "no receiver heard it");
                if (run->scored) { /* no position, no bound: no network needed */
                    hd_eval_score(NULL, &out->res, ev[i].truth.lat, ev[i].truth.lon, 0, &run->scored[off + i]);
                    run->crlb_model_m[off + i] = NAN;
                }
                if (hook && (rc = hook(hook_ctx, NULL, st, 0, out, &obs, ev[i].truth.lat, ev[i].truth.lon)) < 0)
                    goto done;
            } else {
                /* a recent event's network when it had the same receivers (a
                 * campaign of a few receiver sets, an aircraft's messages):
                 * NET_CACHE of them, the oldest replaced */
                int c = 0;
                while (c < NET_CACHE && !(nc[c].ok && nc[c].k == k &&
                                          memcmp(nc[c].rx, out->rx, (size_t)k * sizeof *out->rx) == 0))
                    c++;
                if (c == NET_CACHE) {
                    c = (int)(run->n_nets % NET_CACHE);
                    hd_locate_net_release(&nc[c].net);
                    nc[c].ok = 0;
                    if ((rc = hd_locate_net_init(&nc[c].net, st, k, &c1)) < 0)
                        goto done;
                    nc[c].ok = 1;
                    nc[c].k = k;
                    memcpy(nc[c].rx, out->rx, (size_t)k * sizeof *out->rx);
                    run->n_nets++;
                }
                const hd_locate_net *net = &nc[c].net;
                rc = hd_locate(net, &obs, method, &out->res);
                if (rc == 0 && cal && method == HD_LOC_RSS && cfg->rss_cov_scale > 0)
                    for (int q = 0; q < 3; q++) /* the calibration's learnt uncertainty scale */
                        out->res.cov[q] *= cfg->rss_cov_scale;
                if (rc == 0 && run->scored) { /* scored while its network exists */
                    hd_scored s1;
                    hd_eval_score(net, &out->res, ev[i].truth.lat, ev[i].truth.lon, 0, &run->scored[off + i]);
                    hd_eval_score(net, &out->res, ev[i].truth.lat, ev[i].truth.lon, 1, &s1);
                    run->crlb_model_m[off + i] = s1.crlb_m;
                }
                if (rc < 0)
                    goto done;
                if (out->res.status != HD_LOC_OK && out->res.status != HD_LOC_OUTSIDE)
                    hd_run_why(k, P, why + lo, twhy + po, out->why, sizeof out->why);
                if (hook && (rc = hook(hook_ctx, net, st, k, out, &obs, ev[i].truth.lat, ev[i].truth.lon)) < 0)
                    goto done;
            }
            run->latency_s[off + i] = hd_now() - t0;
            run->snr_db[off + i] = hd_run_used_snr(&out->res, obs.feat, k);
            lo += k;
            po += P;
        }
        if (sink && (rc = sink(sink_ctx, run)) < 0)
            goto done;
        if (progress)
            progress(ctx, first + n);
    }
    rc = 0;
done:
    hd_sparse_block_release(&blk);
    free(st);
    free(alt);
    free(alt_sd);
    for (int c = 0; c < NET_CACHE; c++)
        hd_locate_net_release(&nc[c].net);
    free(nc);
    if (rc < 0)
        hd_run_release(run);
    return rc;
}
