/* heimdall featurize: captures.h5 → features.h5 (per receiver features and
 * per pair time differences), events split over MPI ranks. */
#include "capture/captures.h"
#include "cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/progress.h"
#include "core/runinfo.h"
#include "dsp/dsp.h"
#include "features/features.h"
#include "geo/geo.h"
#include "h5/h5.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64


void hd_cmd_featurize_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall featurize [-c exp.yaml] [--set KEY=VALUE]... -o features.h5 captures.h5\n"
            "\n"
            "Turn captures into what localizers learn from:\n"
            "  per event and receiver (/features, names in /feature_names): RSS in dBFS and\n"
            "    dBm, SNR (spectral noise floor; moment-based at high SNR), noise floor,\n"
            "    frequency offset, occupied and RMS bandwidth, clipping, GPS status,\n"
            "    level spread; /mask marks valid receivers; every capture is transformed\n"
            "    once and its PSD (nfft bins) averaged from that spectrum;\n"
            "  per receiver pair (/tdoa): time difference of arrival from GCC-PHAT over\n"
            "    the pair's common band with a weighted phase-slope refinement and the\n"
            "    captures' GPS time stamps, its sigma (the Cramér–Rao bound of the band\n"
            "    used, from each bin's SNR, and the GPS clocks' sigma; the captures\n"
            "    windowed over the instants they all cover), the peak-to-sidelobe ratio,\n"
            "    and a mask: pairs without GPS time on both ends, or without a\n"
            "    significant peak, are masked, not guessed.\n"
            "Level-only (OpenWebRX) receivers give RSS features and no time differences.\n"
            "/truth is copied through when present.\n"
            "\n"
            "Config (featurize:): nfft 256, pairs all (or reference: only each event's\n"
            "best-SNR receiver against the others; the other pairs are masked),\n"
            "psr_min_db 10, max_lag_s 0 (from the network's\n"
            "largest baseline and clock sigma), min_rms_bw_hz 200 (narrower signals, such\n"
            "as a CW carrier, give no time difference), max_clipped_fraction 0.01,\n"
            "compression 4; logmel false (true adds /logmel [event, receiver, frame, band]\n"
            "with logmel_n_fft 256, logmel_hop 128, logmel_n_mels 32),\n"
            "distributed_fft_min_samples 4194304 (under MPI, captures at least this long\n"
            "are transformed by all ranks together with fftw3-mpi; every event then goes\n"
            "through all ranks, with the frequency-difference correction pair by pair,\n"
            "without the phase-slope refinement). Each\n"
            "receiver's frequency difference from the best-SNR receiver (the LO errors)\n"
            "is measured and removed before the pairs are correlated.\n"
            "\n"
            "Runs alone or under MPI (mpirun -np N): events in contiguous blocks per rank,\n"
            "written collectively; the output is identical whatever the number of ranks.\n"
            "\n");
    hd_cli_common_usage(out);
}

typedef struct {
    const hd_config *cfg;
    const hd_captures_reader *rd;
    int R, N, L, P;
    double max_lag_s;
    MPI_Comm dist;       /* != MPI_COMM_NULL: pairs use distributed transforms over it */
    float *x;            /* [R][2N] float IQ of one event */
    float *psd;
    hd_spectral *sp;     /* [R] */
    hd_dsp_net *net;     /* one event's receivers (local transforms) */
    hd_xcorr *xc;        /* [P] */
    unsigned char *use;  /* [R] */
    double *t0;          /* [R] */
    float *scratch;      /* 2N: a de-rotated capture (distributed mode) */
} fz_ctx;

/* Per receiver features of one event: feat[R*F], mask[R]; leaves each
 * receiver's float IQ in c->x and its spectral summary in c->sp. */
static int receiver_features(fz_ctx *c, const hd_event *ev, const hd_link *lk, const int16_t *iq,
                             const float *levels, float *feat, uint8_t *mask)
{
    const int R = c->R, N = c->N, L = c->L, F = HD_FEAT_COUNT;
    const hd_featurize_cfg *fc = &c->cfg->featurize;
    double fs = ev->sample_rate_hz;
    int rc;
    memset(feat, 0, (size_t)R * F * sizeof *feat);
    memset(mask, 0, (size_t)R);
    /* the lags any pair may search: the GPS time stamps' spread and max lag */
    double t0lo = INFINITY, t0hi = -INFINITY;
    for (int r = 0; r < R; r++)
        if (lk[r].status == HD_RX_OK && lk[r].has_iq && lk[r].gps_ok) {
            t0lo = lk[r].t0_s < t0lo ? lk[r].t0_s : t0lo;
            t0hi = lk[r].t0_s > t0hi ? lk[r].t0_s : t0hi;
        }
    double span = (t0hi > t0lo ? t0hi - t0lo : 0) + c->max_lag_s;
    if ((rc = hd_dsp_net_begin(c->net, fs, (int)ceil(span * fs < N ? span * fs : N) + 2)) < 0)
        return rc;
    for (int r = 0; r < R; r++) {
        const hd_link *l = &lk[r];
        float *f = feat + (size_t)r * F;
        hd_spectral *sp = &c->sp[r];
        memset(sp, 0, sizeof *sp);
        if (l->status != HD_RX_OK)
            continue;
        const hd_station *st = &c->rd->stations[r];
        if (l->has_iq) {
            float *x = c->x + (size_t)r * 2 * N;
            const int16_t *q = iq + (size_t)r * 2 * N;
            int nonzero = 0;
            for (int i = 0; i < 2 * N && !nonzero; i++)
                nonzero = q[i] != 0;
            hd_dsp_iq_to_float(q, (size_t)N, 1.0f / 32768.0f, x);
            if (!nonzero || l->clipped_fraction > fc->max_clipped_fraction)
                continue; /* a dead or saturated receiver: masked */
            if ((rc = hd_dsp_net_receiver(c->net, r, x, c->psd, sp)) < 0)
                return rc;
            double sig_dbfs = 10 * log10(sp->signal_power > 1e-30 ? sp->signal_power : 1e-30);
            f[HD_FEAT_RSS_DBFS] = (float)sp->rss_dbfs;
            f[HD_FEAT_RSS_DBM] = (float)(sig_dbfs - l->gain_db + st->full_scale_dbm);
            f[HD_FEAT_SNR_DB] = (float)sp->snr_db;
            f[HD_FEAT_NOISE_DBFS] = (float)(10 * log10(sp->noise_power > 1e-30 ? sp->noise_power : 1e-30));
            f[HD_FEAT_FREQ_OFFSET_HZ] = (float)sp->freq_offset_hz;
            f[HD_FEAT_OCC_BW_HZ] = (float)sp->occupied_bw_hz;
            f[HD_FEAT_RMS_BW_HZ] = (float)sp->rms_bw_hz;
            f[HD_FEAT_CLIPPED] = (float)l->clipped_fraction;
            f[HD_FEAT_GPS_OK] = (float)l->gps_ok;
            f[HD_FEAT_HAS_IQ] = 1.0f;
            mask[r] = 1;
        } else if (l->has_levels && L > 0) {
            const float *lv = levels + (size_t)r * L;
            double m = 0, m2 = 0, p = 0;
            for (int i = 0; i < L; i++) {
                m += lv[i];
                m2 += (double)lv[i] * lv[i];
                p += pow(10, lv[i] / 10);
            }
            m /= L;
            double var = m2 / L - m * m;
            double rss = 10 * log10(p / L);
            f[HD_FEAT_RSS_DBFS] = (float)rss;
            f[HD_FEAT_RSS_DBM] = (float)(rss - l->gain_db + st->full_scale_dbm);
            f[HD_FEAT_LEVEL_STD_DB] = (float)(var > 0 ? sqrt(var) : 0);
            f[HD_FEAT_GPS_OK] = (float)l->gps_ok;
            mask[r] = isfinite(rss);
        }
        for (int k = 0; k < F; k++) /* never NaN in the output */
            if (!isfinite(f[k])) {
                memset(f, 0, F * sizeof *f);
                mask[r] = 0;
                break;
            }
    }

    return 0;
}

/* Time differences of one event's pairs: both ends GPS-timed IQ with valid
 * features; delay/sigma/psr/tmask[P]. */
static int pair_tdoa(fz_ctx *c, const hd_event *ev, const hd_link *lk, const uint8_t *mask, double *delay,
                     double *sigma, float *psr, uint8_t *tmask)
{
    const int R = c->R, N = c->N;
    const hd_featurize_cfg *fc = &c->cfg->featurize;
    double fs = ev->sample_rate_hz;
    int rc, ref = -1;
    /* the receivers with GPS time and bandwidth to time */
    for (int r = 0; r < R; r++) {
        c->use[r] = mask[r] && lk[r].has_iq && lk[r].gps_ok && c->sp[r].rms_bw_hz >= fc->min_rms_bw_hz;
        c->t0[r] = lk[r].t0_s;
        if (c->use[r] && (ref < 0 || c->sp[r].snr_db > c->sp[ref].snr_db))
            ref = r; /* the distributed mode's reference (the local one finds the same) */
    }
    if (c->dist == MPI_COMM_NULL) {
        /* every receiver transformed once (hd_dsp_net_receiver) */
        if ((rc = hd_dsp_net_tdoa(c->net, c->use, c->t0, c->max_lag_s, fc->psr_min_db,
                                  fc->pairs == HD_PAIRS_REFERENCE, c->xc, &ref)) < 0)
            return rc;
    }
    for (int p = 0; p < c->P; p++) {
        int i, j;
        hd_features_pair(R, p, &i, &j);
        delay[p] = 0;
        sigma[p] = 0;
        psr[p] = 0;
        tmask[p] = 0;
        if (!mask[i] || !mask[j] || !lk[i].has_iq || !lk[j].has_iq || !lk[i].gps_ok || !lk[j].gps_ok)
            continue;
        /* a carrier (or anything too narrow) has no bandwidth to time */
        if (c->sp[i].rms_bw_hz < fc->min_rms_bw_hz || c->sp[j].rms_bw_hz < fc->min_rms_bw_hz)
            continue;
        if (fc->pairs == HD_PAIRS_REFERENCE && i != ref && j != ref)
            continue;
        float *a = c->x + (size_t)i * 2 * N, *b = c->x + (size_t)j * 2 * N;
        /* b(n) ≈ a(n - D) with D = (TOA_j - TOA_i) - (t0_j - t0_i): search
         * around the lag the time stamps predict, TOA difference ± baseline */
        double center = -(lk[j].t0_s - lk[i].t0_s);
        hd_xcorr xc;
        double beta = 0.5 * (c->sp[i].rms_bw_hz + c->sp[j].rms_bw_hz);
        double sa = pow(10, c->sp[i].snr_db / 10), sb = pow(10, c->sp[j].snr_db / 10);
        if (c->dist != MPI_COMM_NULL) {
            /* a long capture: every rank transforms a slice (the pair's
             * frequency difference removed; no phase-slope refinement) */
            if ((rc = hd_dsp_tdoa_mpi(a, b, N, fs, center, c->max_lag_s, sa, sb, beta, fc->psr_min_db, c->dist,
                                      c->scratch, &xc)) < 0)
                return rc;
        } else {
            xc = c->xc[p];
        }
        if (!xc.valid || !isfinite(xc.delay_s) || !isfinite(xc.sigma_s))
            continue;
        delay[p] = lk[j].t0_s - lk[i].t0_s + xc.delay_s;
        /* the correlation's own bound plus both time stamps' GPS sigma */
        double ci = c->rd->stations[i].clock_sigma_ns * 1e-9, cj = c->rd->stations[j].clock_sigma_ns * 1e-9;
        sigma[p] = sqrt(xc.sigma_s * xc.sigma_s + ci * ci + cj * cj);
        psr[p] = (float)xc.psr_db;
        tmask[p] = 1;
    }
    return 0;
}


static double auto_max_lag(const hd_captures_reader *rd)
{
    double maxd = 0, maxsig = 0;
    for (int i = 0; i < rd->n_receivers; i++) {
        const hd_station *a = &rd->stations[i];
        if (a->clock == HD_CLOCK_GPS && a->clock_sigma_ns > maxsig)
            maxsig = a->clock_sigma_ns;
        for (int j = i + 1; j < rd->n_receivers; j++) {
            const hd_station *b = &rd->stations[j];
            double d = hd_geo_slant_range(a->lat, a->lon, a->alt_m + a->antenna_height_m, b->lat, b->lon,
                                          b->alt_m + b->antenna_height_m);
            maxd = d > maxd ? d : maxd;
        }
    }
    /* the baseline bounds |TOA_j - TOA_i|; clocks add a few sigma */
    return 1.05 * maxd / HD_SPEED_OF_LIGHT + 6 * maxsig * 1e-9 + 50e-6;
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    int rc, rank = hd_par_rank(), size = hd_par_size();
    MPI_Comm comm = hd_par_comm();
    hd_captures_reader rd;
    hd_h5_out out;
    int out_open = 0;
    hd_features_writer w;
    int w_open = 0;
    hd_progress prog = {.quiet = 1};
    fz_ctx c = {0};
    hd_event *ev = NULL;
    hd_link *lk = NULL;
    int16_t *iq = NULL;
    float *levels = NULL, *feat = NULL, *psr = NULL, *logmel = NULL;
    uint8_t *mask = NULL, *tmask = NULL;
    double *delay = NULL, *sigma = NULL;
    double t_start = hd_now();
    const char *input = cli->inputs[0];

    if ((rc = hd_captures_open(&rd, input, MPI_COMM_NULL)) < 0)
        return rc;
    c.cfg = cfg;
    c.rd = &rd;
    c.R = rd.n_receivers;
    c.N = rd.n_samples;
    c.L = rd.n_levels;
    c.P = hd_features_npairs(c.R);
    c.max_lag_s = cfg->featurize.max_lag_s > 0 ? cfg->featurize.max_lag_s : auto_max_lag(&rd);
    int R = c.R, N = c.N, L = c.L, P = c.P, F = HD_FEAT_COUNT;
    size_t B = BATCH;
    ev = hd_calloc(B, sizeof *ev);
    lk = hd_calloc(B * R, sizeof *lk);
    iq = hd_calloc(B * R * (size_t)N * 2 + 1, sizeof *iq);
    levels = hd_calloc(B * R * (size_t)(L > 0 ? L : 1), sizeof *levels);
    feat = hd_calloc(B * R * F, sizeof *feat);
    mask = hd_calloc(B * R, 1);
    delay = hd_calloc(B * (size_t)(P > 0 ? P : 1), sizeof *delay);
    sigma = hd_calloc(B * (size_t)(P > 0 ? P : 1), sizeof *sigma);
    psr = hd_calloc(B * (size_t)(P > 0 ? P : 1), sizeof *psr);
    tmask = hd_calloc(B * (size_t)(P > 0 ? P : 1), 1);
    c.x = hd_aligned_alloc((size_t)R * 2 * N + 2, sizeof *c.x);
    c.psd = hd_calloc((size_t)cfg->featurize.nfft, sizeof *c.psd);
    c.sp = hd_calloc((size_t)R, sizeof *c.sp);
    const hd_featurize_cfg *fc = &cfg->featurize;
    int T = fc->logmel ? hd_dsp_logmel_frames(N, fc->logmel_n_fft, fc->logmel_hop) : 0, Mm = fc->logmel_n_mels;
    if (fc->logmel && T == 0) {
        rc = hd_error(HD_ECONFIG, "featurize.logmel_n_fft %d is longer than the captures' %d samples", fc->logmel_n_fft, N);
        goto fail;
    }
    size_t lm_per_event = (size_t)R * (size_t)T * (size_t)Mm;
    logmel = hd_calloc(B * lm_per_event + 1, sizeof *logmel);
    c.net = hd_dsp_net_new(R, N > 4 ? N : 4, cfg->featurize.nfft);
    c.xc = hd_calloc((size_t)(P > 0 ? P : 1), sizeof *c.xc);
    c.use = hd_calloc((size_t)R, 1);
    c.t0 = hd_calloc((size_t)R, sizeof *c.t0);
    c.scratch = hd_aligned_alloc((size_t)2 * N + 2, sizeof *c.scratch);
    if (!ev || !lk || !iq || !levels || !feat || !mask || !delay || !sigma || !psr || !tmask || !c.x || !c.psd || !c.sp ||
        !c.net || !c.xc || !c.use || !c.t0 || !c.scratch || !logmel) {
        rc = HD_ENOMEM;
        goto fail;
    }

    if ((rc = hd_h5_create(&out, cli->output, cli->force, size > 1 ? comm : MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, rd.stations, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, rd.n_events, R, rd.has_truth, cfg->featurize.compression, T, Mm)) < 0)
        goto fail;
    w_open = 1;

    /* long captures: all ranks take every event together, sharing each
     * transform; otherwise events in contiguous blocks per rank */
    int coop = size > 1 && (int64_t)N >= cfg->featurize.distributed_fft_min_samples;
    c.dist = coop ? comm : MPI_COMM_NULL;
    if (coop)
        hd_info("captures of %d samples: transforms distributed over %d ranks (fftw3-mpi)", N, size);
    int64_t b, e;
    if (coop) {
        b = 0;
        e = rd.n_events;
    } else {
        hd_par_block(rd.n_events, rank, size, &b, &e);
    }
    int64_t mine = e - b, my_batches = (mine + BATCH - 1) / BATCH, batches = my_batches;
    if (size > 1)
        MPI_Allreduce(&my_batches, &batches, 1, MPI_INT64_T, MPI_MAX, comm);
    hd_progress_start(&prog, "featurize", "events", rd.n_events, cli->quiet);
    int64_t done = 0, tdoa_ok = 0, tdoa_cand = 0;
    for (int64_t k = 0; k < batches; k++) {
        int64_t first = b + k * BATCH;
        int n = (int)(first < e ? (e - first < BATCH ? e - first : BATCH) : 0);
        int flag = hd_cli_interrupted() ? 1 : 0;
        if (n > 0 && !flag && (rc = hd_captures_read_block(&rd, first, n, ev, lk, iq, levels)) < 0)
            flag = 2;
        for (int i = 0; i < n && !flag; i++) {
            hd_event *evi = &ev[i];
            hd_link *li = lk + (size_t)i * R;
            const uint8_t *mk = mask + (size_t)i * R;
            if ((rc = receiver_features(&c, evi, li, iq + (size_t)i * R * N * 2, levels + (size_t)i * R * L,
                                        feat + (size_t)i * R * F, mask + (size_t)i * R)) < 0) {
                flag = 2;
                break;
            }
            if ((rc = pair_tdoa(&c, evi, li, mk, delay + (size_t)i * P, sigma + (size_t)i * P, psr + (size_t)i * P,
                                tmask + (size_t)i * P)) < 0) {
                flag = 2;
                break;
            }
            for (int r = 0; T > 0 && r < R; r++) {
                float *lm = logmel + (size_t)i * lm_per_event + (size_t)r * T * Mm;
                if (!mk[r] || !li[r].has_iq)
                    memset(lm, 0, (size_t)T * Mm * sizeof *lm);
                else if ((rc = hd_dsp_logmel(c.x + (size_t)r * 2 * N, N, evi->sample_rate_hz, fc->logmel_n_fft,
                                             fc->logmel_hop, Mm, lm)) < 0) {
                    flag = 2;
                    break;
                }
            }
            if (flag)
                break;
            for (int p = 0; p < P; p++) {
                int a, bb;
                hd_features_pair(R, p, &a, &bb);
                tdoa_cand += li[a].gps_ok && li[bb].gps_ok && mask[(size_t)i * R + a] && mask[(size_t)i * R + bb];
                tdoa_ok += tmask[(size_t)i * P + p];
            }
        }
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, comm);
        if (flag) {
            if (rc >= 0)
                rc = flag == 1 ? hd_error(HD_EINTR, "interrupted; %s not written", cli->output)
                               : hd_error(HD_EIO, "another rank failed; %s not written", cli->output);
            goto fail;
        }
        /* cooperative: every rank holds the same rows; rank 0 writes them */
        int nw = coop && rank != 0 ? 0 : n;
        if ((rc = hd_features_write_block(&w, first < e ? first : e, nw, ev, lk, feat, mask, delay, sigma, psr, tmask,
                                          logmel)) < 0)
            goto fail;
        int64_t d = nw;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_INT64_T, MPI_SUM, comm);
        done += d;
        hd_progress_update(&prog, done);
    }
    hd_progress_finish(&prog);
    hd_features_close(&w);
    hd_runinfo_set_events(rd.n_events);
    w_open = 0;
    if (size > 1 && !coop) {
        MPI_Allreduce(MPI_IN_PLACE, &tdoa_ok, 1, MPI_INT64_T, MPI_SUM, comm);
        MPI_Allreduce(MPI_IN_PLACE, &tdoa_cand, 1, MPI_INT64_T, MPI_SUM, comm);
    }
    {
        const char *inputs[] = {input};
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = 1};
        if ((rc = hd_h5_attr_double(out.file, "max_lag_s", c.max_lag_s)) < 0 ||
            (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    if ((rc = hd_h5_commit(&out)) < 0) {
        out_open = 0;
        goto fail;
    }
    out_open = 0;
    double el = hd_now() - t_start;
    hd_info("wrote %lld events × %d receivers, %d pairs (%lld of %lld GPS-timed pair measurements valid) to %s in "
            "%.1f s (%.1f events/s, %d rank%s)",
            (long long)rd.n_events, R, P, (long long)tdoa_ok, (long long)tdoa_cand, cli->output, el,
            el > 0 ? rd.n_events / el : 0.0, size, size > 1 ? "s" : "");
fail:
    if (rc < 0 && prog.total)
        hd_progress_finish(&prog);
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    hd_captures_release(&rd);
    free(ev);
    free(lk);
    free(iq);
    free(levels);
    free(feat);
    free(mask);
    free(delay);
    free(sigma);
    free(psr);
    free(tmask);
    free(logmel);
    free(c.x);
    free(c.psd);
    free(c.sp);
    hd_dsp_net_free(c.net);
    free(c.xc);
    free(c.use);
    free(c.t0);
    free(c.scratch);
    hd_fft_cleanup();
    return rc;
}

int hd_cmd_featurize(int argc, char **argv)
{
    return hd_cli_stage("featurize", argc, argv, "features.h5", "one captures file", run);
}
