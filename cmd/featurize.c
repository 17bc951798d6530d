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
#include "core/util.h"
#include "dsp/dsp.h"
#include "features/featurize.h"
#include "features/features.h"
#include "h5/h5.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64
/* The dense path's first BATCH events in batches of 4, 4, 8, 16 and 32,
 * then BATCH (whole 64s: the output's chunk, hd_features_chunk_events, is
 * a whole number of them, and the rows are held until it is full, so no
 * compressed chunk is written twice on one rank; a later rank's range
 * starts inside a chunk, and its writes straddle two): the first batch is
 * read before any compute (nothing to overlap with), and each next one,
 * read beside its predecessor's compute, takes a fraction of its time. */
#define BATCH_FIRST 4
/* batch k's first event (from the rank's first) */
static int64_t batch_first(int64_t k)
{
    if (k == 0)
        return 0;
    int64_t first = BATCH_FIRST;
    for (k--; k > 0 && first < BATCH; k--)
        first *= 2;
    return first + k * BATCH;
}
/* batch k's events within the rank's [b, e) */
static int batch_n(int64_t b, int64_t e, int64_t k)
{
    int64_t lo = b + batch_first(k), hi = b + batch_first(k + 1);
    return lo < e ? (int)((hi < e ? hi : e) - lo) : 0;
}
static int64_t batch_count(int64_t events)
{
    int64_t k = 0;
    while (batch_first(k) < events)
        k++;
    return k;
}

void hd_cmd_featurize_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall featurize [-c exp.yaml] [--set KEY=VALUE]... [--profile] -o features.h5 captures.h5\n"
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
            "as a CW carrier, are not correlated), modulation_min_s 2 (in captures at least\n"
            "this long, a pair the correlation cannot time, too narrow or without a peak,\n"
            "is timed from its modulation: the power envelope of a keyed carrier, a time\n"
            "code's marks, AM; the instantaneous frequency of FSK; /tdoa/method says which;\n"
            "0: never), max_clipped_fraction 0.01, max_clock_ppm 100 and\n"
            "max_clock_residual_us 50 (every capture is resampled onto the nominal rate by\n"
            "its GPS clock fit, /clock/rate_hz; a clock further off, or whose stamps\n"
            "scatter more about the fit, is not timed: reason clock_drift),\n"
            "compression 4; logmel false (true adds /logmel [event, receiver, frame, band]\n"
            "with logmel_n_fft 256, logmel_hop 128, logmel_n_mels 32),\n"
            "distributed_fft_min_samples 4194304 (under MPI, captures at least this long\n"
            "are transformed by all ranks together with fftw3-mpi; every event then goes\n"
            "through all ranks, with the frequency-difference correction pair by pair,\n"
            "without the phase-slope refinement), fftw_wisdom '' (a file: FFTW plans measured\n"
            "once and kept there, loaded by later runs, a size it lacks estimated; measured\n"
            "plans round differently: correlation delays move by about 1 ns, modulation-\n"
            "timed ones of long captures up to half a sigma; under MPI the file must exist:\n"
            "make it with one rank). Each\n"
            "receiver's frequency difference from the best-SNR receiver (the LO errors)\n"
            "is measured and removed before the pairs are correlated.\n"
            "\n"
            "A sparse captures file (collect.layout sparse: each event only the receivers\n"
            "that heard it) gives a sparse features file: [link, feature] rows and each\n"
            "event's own pairs (/events/pair_first, pair_count, /tdoa/pairs per row), the\n"
            "lag window its receivers' (no log-mel, no distributed transforms).\n"
            "\n"
            "Runs alone or under MPI (mpirun -np N): events in contiguous blocks per rank,\n"
            "written collectively; the output is identical whatever the number of ranks.\n"
            "      --profile         print where the time went: open and plans, reading and\n"
            "                        inflating the captures (read by a thread beside the\n"
            "                        compute: how much was waited for), FFTW, the own DSP, writing,\n"
            "                        the provenance (the input's hash, made by a thread beside the\n"
            "                        work, waited for) and committing (rank 0's seconds)\n"
            "\n");
    hd_cli_common_usage(out);
}

/* featurize --profile: where this rank's time went */
enum { PROF_OPEN, PROF_READ, PROF_WAIT, PROF_COMPUTE, PROF_WRITE, PROF_END, PROF_N };
static void profile_report(const double *t, double all, int rank)
{
    double fft = hd_fft_seconds();
    hd_info("profile (rank %d, %.3f s): open, plans and output set-up %.3f s; read and inflate %.3f s (beside the "
            "compute: %.3f s of it waited for); FFTW %.3f s; own DSP %.3f s; write %.3f s; input hash, provenance and "
            "commit %.3f s; other %.3f s",
            rank, all, t[PROF_OPEN], t[PROF_READ], t[PROF_WAIT], fft, t[PROF_COMPUTE] - fft, t[PROF_WRITE], t[PROF_END],
            all - t[PROF_OPEN] - t[PROF_WAIT] - t[PROF_COMPUTE] - t[PROF_WRITE] - t[PROF_END]);
}

/* why receivers and pairs were masked, one line each */
static void report_reasons(const hd_featurize_counts *c)
{
    char line[512];
    int off = snprintf(line, sizeof line, "receivers: %lld valid (%lld without a calibrated dBm); masked:",
                       (long long)c->rx_why[0], (long long)c->no_dbm);
    for (int k = 1; k < HD_WHY_RX_COUNT; k++)
        off += snprintf(line + off, sizeof line - (size_t)off, " %s %lld", hd_rx_why_name(k), (long long)c->rx_why[k]);
    hd_info("%s", line);
    off = snprintf(line, sizeof line, "pairs: %lld timed; not timed:", (long long)c->pair_why[0]);
    for (int k = 1; k < HD_WHY_PAIR_COUNT; k++)
        off += snprintf(line + off, sizeof line - (size_t)off, " %s %lld", hd_pair_why_name(k), (long long)c->pair_why[k]);
    hd_info("%s", line);
    if (c->tdoa_by[HD_TDOA_ENVELOPE] + c->tdoa_by[HD_TDOA_FREQUENCY])
        hd_info("pairs timed from their modulation (narrow signals, /tdoa/method): %lld by the envelope, %lld by the "
                "frequency; %lld by correlation",
                (long long)c->tdoa_by[HD_TDOA_ENVELOPE], (long long)c->tdoa_by[HD_TDOA_FREQUENCY],
                (long long)c->tdoa_by[HD_TDOA_CORRELATION]);
}

/* Reading overlapped with compute: batch k+1 is read (HDF5, the /iq
 * chunks inflated) by a thread while batch k is computed. HDF5 is not
 * built thread-safe: its calls never overlap, since the main thread writes
 * batch k only after joining the reader, and computes without HDF5. */
typedef struct {
    hd_captures_reader *rd;
    int64_t first;
    int n;
    hd_event *ev;
    hd_link *lk;
    int16_t *iq;
    float *levels;
    int rc;
    char msg[512];               /* the reader's error (hd_errmsg is per thread) */
    double seconds;
} prefetch;

static void *prefetch_run(void *arg)
{
    prefetch *p = arg;
    double t0 = hd_now();
    p->rc = p->n > 0 ? hd_captures_read_block(p->rd, p->first, p->n, p->ev, p->lk, p->iq, p->levels) : 0;
    if (p->rc < 0)
        snprintf(p->msg, sizeof p->msg, "%s", hd_errmsg());
    p->seconds = hd_now() - t0;
    return NULL;
}

/* The same for a sparse file: a batch's events, then their links (rows
 * [ev[0].link_first, +nl), contiguous: checked here, the batch's place
 * after the previous one by the caller). */
typedef struct {
    prefetch p;
    int cap;                     /* the most links an event may have */
    int64_t nl;                  /* the batch's links */
} sprefetch;

static void *sprefetch_run(void *arg)
{
    sprefetch *q = arg;
    prefetch *p = &q->p;
    double t0 = hd_now();
    q->nl = 0;
    p->rc = p->n > 0 ? hd_captures_read_block(p->rd, p->first, p->n, p->ev, NULL, NULL, NULL) : 0;
    for (int i = 0; p->rc == 0 && i < p->n; i++) {
        if (p->ev[i].link_first != p->ev[0].link_first + q->nl || p->ev[i].n_links > q->cap) {
            p->rc = hd_error(HD_EFORMAT, "event row %lld: links from row %lld, expected %lld",
                             (long long)(p->first + i), (long long)p->ev[i].link_first,
                             (long long)(p->ev[0].link_first + q->nl));
            break;
        }
        q->nl += p->ev[i].n_links;
    }
    if (p->rc == 0 && p->n > 0)
        p->rc = hd_captures_read_links(p->rd, p->ev[0].link_first, q->nl, p->lk, p->iq, p->levels);
    if (p->rc < 0)
        snprintf(p->msg, sizeof p->msg, "%s", hd_errmsg());
    p->seconds = hd_now() - t0;
    return NULL;
}

/* Sum of k(k-1)/2 over events [0, upto) of a sparse file (its pair rows
 * before event `upto`), read in slices. */
static int pair_rows_before(hd_captures_reader *rd, int64_t upto, int64_t *q)
{
    const int64_t S = 4096;
    hd_event *ev = hd_calloc((size_t)S, sizeof *ev);
    int rc = ev ? 0 : HD_ENOMEM;
    *q = 0;
    for (int64_t a = 0; rc == 0 && a < upto; a += S) {
        int64_t n = upto - a < S ? upto - a : S;
        if ((rc = hd_captures_read_block(rd, a, n, ev, NULL, NULL, NULL)) < 0)
            break;
        for (int64_t i = 0; i < n; i++)
            *q += (int64_t)ev[i].n_links * (ev[i].n_links - 1) / 2;
    }
    free(ev);
    return rc;
}

/* The sparse layout: each event's own receivers and pairs (captures.h,
 * features.h); events in contiguous blocks per rank. */
static int run_sparse(const hd_cli *cli, hd_config *cfg, hd_captures_reader *rd, double t_start)
{
    int rc, rank = hd_par_rank(), size = hd_par_size();
    MPI_Comm comm = hd_par_comm();
    hd_h5_out out;
    int out_open = 0, w_open = 0, f_open = 0;
    hd_features_writer w;
    hd_featurizer fz;
    hd_progress prog = {.quiet = 1};
    double prof[PROF_N] = {0};
    const char *input = cli->inputs[0];
    int Rc = rd->max_links > 0 ? rd->max_links : 1, N = rd->n_samples, L = rd->n_levels, F = HD_FEAT_COUNT;
    int Pc = hd_features_npairs(Rc);
    /* events a batch: about 8 MiB of IQ (an event's links are few and short
     * captures make small batches, each a collective write), 64 to 1024 */
    const int64_t SB = (int64_t)fmax(64, fmin(1024, (8 << 20) / ((double)Rc * (N > 0 ? N : 1) * 4)));
    size_t B = (size_t)SB, Pn = (size_t)(Pc > 0 ? Pc : 1);
    /* two sets of input buffers: one computed, the other read */
    const size_t IQ1 = B * Rc * (size_t)N * 2 + 1, LV1 = B * Rc * (size_t)(L > 0 ? L : 1);
    hd_event *ev = hd_calloc(2 * B, sizeof *ev);
    int64_t *pfirst = hd_calloc(B, sizeof *pfirst);
    hd_link *lk = hd_calloc(2 * B * Rc, sizeof *lk);
    hd_station *st = hd_calloc((size_t)Rc, sizeof *st);
    int16_t *iq = hd_calloc(2 * IQ1, sizeof *iq);
    float *levels = hd_calloc(2 * LV1, sizeof *levels);
    int32_t *pairs = hd_calloc(B * Pn * 2, sizeof *pairs);
    hd_featurize_rows o = {0};
    o.feat = hd_calloc(B * Rc * F, sizeof *o.feat);
    o.mask = hd_calloc(B * Rc, 1);
    o.why = hd_calloc(B * Rc, 1);
    o.dbm_ok = hd_calloc(B * Rc, 1);
    o.delay = hd_calloc(B * Pn, sizeof *o.delay);
    o.sigma = hd_calloc(B * Pn, sizeof *o.sigma);
    o.psr = hd_calloc(B * Pn, sizeof *o.psr);
    o.tmask = hd_calloc(B * Pn, 1);
    o.twhy = hd_calloc(B * Pn, 1);
    o.tmethod = hd_calloc(B * Pn, 1);
    if (!ev || !pfirst || !lk || !st || !iq || !levels || !pairs || !o.feat || !o.mask || !o.why || !o.dbm_ok ||
        !o.delay || !o.sigma || !o.psr || !o.tmask || !o.twhy || !o.tmethod) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if (cfg->featurize.logmel) {
        rc = hd_error(HD_ECONFIG, "featurize.logmel: %s has the sparse layout, which has no log-mel spectrograms yet",
                      input);
        goto fail;
    }
    if ((rc = hd_featurizer_init(&fz, &cfg->featurize, rd->stations, Rc, N, L, MPI_COMM_NULL)) < 0)
        goto fail;
    f_open = 1;
    int64_t b, e, q_before, q_total;
    hd_par_block(rd->n_events, rank, size, &b, &e);
    if ((rc = pair_rows_before(rd, b, &q_before)) < 0 || (rc = pair_rows_before(rd, rd->n_events, &q_total)) < 0)
        goto fail;
    if ((rc = hd_h5_create(&out, cli->output, cli->force, size > 1 ? comm : MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, rd->stations, rd->n_receivers)) < 0 ||
        (rc = hd_features_create_sparse(&w, out.file, rd->n_events, rd->n_links, q_total, rd->n_receivers,
                                        rd->has_truth | (rd->has_tx_id ? (int)HD_CAPTURES_TXID : 0),
                                        cfg->featurize.compression)) < 0)
        goto fail;
    w_open = 1;
    prof[PROF_OPEN] = hd_now() - t_start;
    int64_t mine = e - b, my_batches = (mine + SB - 1) / SB, batches = my_batches;
    if (size > 1)
        MPI_Allreduce(&my_batches, &batches, 1, MPI_INT64_T, MPI_MAX, comm);
    hd_progress_start(&prog, "featurize", "events", rd->n_events, cli->quiet);
    int64_t done = 0, qnext = q_before, lnext = 0;
    double lag_max = 0;
    hd_featurize_counts cnt = {0};
    sprefetch sp[2];
    for (int h = 0; h < 2; h++)
        sp[h] = (sprefetch){.p = {.rd = rd, .ev = ev + h * B, .lk = lk + h * B * Rc, .iq = iq + h * IQ1,
                                  .levels = levels + h * LV1},
                            .cap = Rc};
    sp[0].p.first = b;
    sp[0].p.n = (int)(b < e ? (e - b < SB ? e - b : SB) : 0);
    sprefetch_run(&sp[0]); /* the first batch: nothing to overlap with */
    prof[PROF_READ] += sp[0].p.seconds;
    prof[PROF_WAIT] += sp[0].p.seconds;
    if (sp[0].p.n > 0 && sp[0].p.rc == 0)
        lnext = sp[0].p.ev[0].link_first; /* this rank's first link row */
    for (int64_t k = 0; k < batches; k++) {
        int64_t first = b + k * SB;
        int n = (int)(first < e ? (e - first < SB ? e - first : SB) : 0);
        sprefetch *cur = &sp[k % 2], *next = &sp[(k + 1) % 2];
        hd_event *bev = cur->p.ev;
        hd_link *blk = cur->p.lk;
        int16_t *biq = cur->p.iq;
        float *blv = cur->p.levels;
        int flag = hd_cli_interrupted() ? 1 : 0;
        int64_t nl = 0, np = 0;
        if (n > 0 && cur->p.rc < 0) {
            rc = hd_error(cur->p.rc, "%s: %s", input, cur->p.msg);
            flag = 2;
        }
        if (n > 0 && !flag && bev[0].link_first != lnext) { /* after the previous batch's links */
            rc = hd_error(HD_EFORMAT, "%s: event row %lld: links from row %lld, expected %lld", input,
                          (long long)first, (long long)bev[0].link_first, (long long)lnext);
            flag = 2;
        }
        for (int i = 0; n > 0 && !flag && i < n; i++) {
            pfirst[i] = qnext + np;
            nl += bev[i].n_links;
            np += hd_features_npairs(bev[i].n_links);
        }
        /* the next batch read while this one is computed */
        int64_t nf = first + SB;
        next->p.first = nf;
        next->p.n = (int)(nf < e ? (e - nf < SB ? e - nf : SB) : 0);
        next->p.rc = 0;
        next->p.seconds = 0;
        pthread_t th;
        int threaded = !flag && next->p.n > 0 && pthread_create(&th, NULL, sprefetch_run, next) == 0;
        if (!flag && next->p.n > 0 && !threaded)
            sprefetch_run(next);
        double t1 = hd_now();
        for (int i = 0, lo = 0, po = 0; n > 0 && !flag && i < n; i++) {
            int kk = bev[i].n_links;
            for (int j = 0; j < kk; j++)
                st[j] = rd->stations[blk[lo + j].rx];
            hd_featurize_rows oi = {o.feat + (size_t)lo * F, o.mask + lo, o.delay + po, o.sigma + po, o.psr + po,
                                    o.tmask + po, NULL, o.why + lo, o.twhy + po, o.dbm_ok + lo, o.tmethod + po};
            if ((rc = hd_featurizer_event(&fz, &bev[i], kk, st, blk + lo, biq + (size_t)lo * N * 2,
                                          blv + (size_t)lo * L, &oi, &cnt)) < 0) {
                hd_error_context(rc, "event row %lld", (long long)(first + i));
                flag = 2;
                break;
            }
            if (kk > 1 && fz.max_lag_s > lag_max)
                lag_max = fz.max_lag_s;
            for (int p = 0; p < hd_features_npairs(kk); p++) {
                int a, c;
                hd_features_pair(kk, p, &a, &c);
                pairs[2 * (po + p)] = blk[lo + a].rx;
                pairs[2 * (po + p) + 1] = blk[lo + c].rx;
            }
            lo += kk;
            po += hd_features_npairs(kk);
        }
        double t2 = hd_now();
        if (threaded)
            pthread_join(th, NULL);
        double t3 = hd_now();
        prof[PROF_READ] += next->p.seconds;
        prof[PROF_WAIT] += t3 - t2;
        prof[PROF_COMPUTE] += t2 - t1;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, comm);
        if (flag) {
            if (rc >= 0)
                rc = flag == 1 ? hd_error(HD_EINTR, "interrupted; %s not written", cli->output)
                               : hd_error(HD_EIO, "another rank failed; %s not written", cli->output);
            goto fail;
        }
        hd_features_sparse_rows rows = {o.feat, o.mask, o.why, o.dbm_ok, pairs, o.delay, o.sigma, o.psr, o.tmask,
                                        o.twhy, o.tmethod};
        if ((rc = hd_features_write_sparse(&w, first < e ? first : e, n, bev, pfirst, lnext, nl, blk, qnext, np,
                                           &rows)) < 0)
            goto fail;
        lnext += nl;
        qnext += np;
        prof[PROF_WRITE] += hd_now() - t3;
        int64_t d = n;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_INT64_T, MPI_SUM, comm);
        done += d;
        hd_progress_update(&prog, done);
    }
    hd_progress_finish(&prog);
    hd_features_close(&w);
    w_open = 0;
    hd_runinfo_set_events(rd->n_events);
    if (size > 1) {
        MPI_Allreduce(MPI_IN_PLACE, &cnt, (int)(sizeof cnt / sizeof(int64_t)), MPI_INT64_T, MPI_SUM, comm);
        MPI_Allreduce(MPI_IN_PLACE, &lag_max, 1, MPI_DOUBLE, MPI_MAX, comm);
    }
    double tp = hd_now();
    {
        const char *inputs[] = {input};
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = 1};
        if ((rc = hd_h5_attr_double(out.file, "max_lag_s", lag_max)) < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    double el = hd_now() - t_start;
    prof[PROF_END] = hd_now() - tp;
    if (cli->profile)
        profile_report(prof, el, rank);
    hd_info("wrote %lld events, %lld links of %d receivers, %lld pairs (%lld of %lld GPS-timed pair measurements "
            "valid; sparse layout) to %s in %.1f s (%.1f events/s, %d rank%s)",
            (long long)rd->n_events, (long long)rd->n_links, rd->n_receivers, (long long)q_total,
            (long long)cnt.tdoa_ok, (long long)cnt.tdoa_cand, cli->output, el, el > 0 ? rd->n_events / el : 0.0, size,
            size > 1 ? "s" : "");
    report_reasons(&cnt);
fail:
    if (rc < 0 && prog.total)
        hd_progress_finish(&prog);
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    if (f_open)
        hd_featurizer_release(&fz);
    free(ev);
    free(pfirst);
    free(lk);
    free(st);
    free(iq);
    free(levels);
    free(pairs);
    free(o.feat);
    free(o.mask);
    free(o.why);
    free(o.dbm_ok);
    free(o.delay);
    free(o.sigma);
    free(o.psr);
    free(o.tmask);
    free(o.twhy);
    free(o.tmethod);
    return rc;
}

static int run(const hd_cli *cli, hd_config *cfg)
{
    int rc, rank = hd_par_rank(), size = hd_par_size();
    MPI_Comm comm = hd_par_comm();
    hd_captures_reader rd;
    hd_h5_out out;
    int out_open = 0, w_open = 0, f_open = 0;
    hd_features_writer w;
    hd_featurizer fz;
    hd_progress prog = {.quiet = 1};
    hd_event *ev = NULL, *hev = NULL;
    hd_link *lk = NULL, *hlk = NULL;
    int16_t *iq = NULL;
    float *levels = NULL;
    hd_featurize_rows o = {0};
    double t_start = hd_now();
    const char *input = cli->inputs[0];

    double prof[PROF_N] = {0};
    hd_fft_profile(cli->profile);
    int make_wisdom;
    if ((rc = hd_featurize_wisdom_begin(cfg->featurize.fftw_wisdom, size, &make_wisdom)) < 0)
        return rc;
    if ((rc = hd_captures_open_sparse(&rd, input, HD_FORMAT_CAPTURES, HD_CAPTURES_VERSION, MPI_COMM_NULL)) < 0)
        return rc;
    if (rank == 0) /* the provenance's hash of the input, made beside the work (rank 0 writes it) */
        hd_sha256_file_start(input);
    if (rd.sparse) {
        rc = run_sparse(cli, cfg, &rd, t_start);
        hd_captures_release(&rd);
        if (rc == 0 && make_wisdom)
            hd_featurize_wisdom_end(cfg->featurize.fftw_wisdom);
        hd_fft_cleanup();
        if (rc < 0 && rank == 0) { /* as below: no exit beneath the input's hash */
            char hex[65];
            hd_sha256_file(input, hex);
        }
        return rc;
    }
    int R = rd.n_receivers, N = rd.n_samples, L = rd.n_levels, P = hd_features_npairs(R), F = HD_FEAT_COUNT;
    /* long captures: all ranks take every event together, sharing each
     * transform; otherwise events in contiguous blocks per rank */
    int coop = size > 1 && (int64_t)N >= cfg->featurize.distributed_fft_min_samples;
    if ((rc = hd_featurizer_init(&fz, &cfg->featurize, rd.stations, R, N, L, coop ? comm : MPI_COMM_NULL)) < 0)
        goto fail;
    f_open = 1;
    int T = fz.logmel_frames, Mm = fz.logmel_mels;
    size_t B = BATCH, Pn = (size_t)(P > 0 ? P : 1);
    /* two sets of input buffers: one computed, the other read */
    ev = hd_calloc(2 * B, sizeof *ev);
    lk = hd_calloc(2 * B * R, sizeof *lk);
    iq = hd_calloc(2 * (B * R * (size_t)N * 2 + 1), sizeof *iq);
    levels = hd_calloc(2 * B * R * (size_t)(L > 0 ? L : 1), sizeof *levels);
    /* the output rows held until they fill a chunk of the output
     * (hd_features_chunk_events: whole batches, ~1 MiB of rows), then
     * written in one call: few chunks, none written twice on one rank */
    const int64_t C = hd_features_chunk_events(rd.n_events, R, T, Mm);
    const size_t H = C > BATCH ? (size_t)C : B;
    o.feat = hd_calloc(H * R * F, sizeof *o.feat);
    o.mask = hd_calloc(H * R, 1);
    o.delay = hd_calloc(H * Pn, sizeof *o.delay);
    o.sigma = hd_calloc(H * Pn, sizeof *o.sigma);
    o.psr = hd_calloc(H * Pn, sizeof *o.psr);
    o.tmask = hd_calloc(H * Pn, 1);
    o.logmel = hd_calloc(H * R * (size_t)T * (size_t)Mm + 1, sizeof *o.logmel);
    o.why = hd_calloc(H * R, 1);
    o.twhy = hd_calloc(H * Pn, 1);
    o.tmethod = hd_calloc(H * Pn, 1);
    o.dbm_ok = hd_calloc(H * R, 1);
    /* the rows held for one write: the batches fill one chunk */
    hev = hd_calloc(H, sizeof *hev);
    hlk = hd_calloc(H * R, sizeof *hlk);
    if (!ev || !lk || !iq || !levels || !o.feat || !o.mask || !o.delay || !o.sigma || !o.psr || !o.tmask || !o.logmel ||
        !o.why || !o.twhy || !o.dbm_ok || !o.tmethod || !hev || !hlk) {
        rc = HD_ENOMEM;
        goto fail;
    }

    if ((rc = hd_h5_create(&out, cli->output, cli->force, size > 1 ? comm : MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, rd.stations, R)) < 0 ||
        (rc = hd_features_create(&w, out.file, rd.n_events, R, rd.has_truth | (rd.has_tx_id ? (int)HD_CAPTURES_TXID : 0), cfg->featurize.compression, T, Mm)) < 0)
        goto fail;
    w_open = 1;
    if ((rc = hd_features_create_reasons(&w, out.file, cfg->featurize.compression)) < 0)
        goto fail;

    prof[PROF_OPEN] = hd_now() - t_start;
    if (coop)
        hd_info("captures of %d samples: transforms distributed over %d ranks (fftw3-mpi)", N, size);
    int64_t b, e;
    if (coop) {
        b = 0;
        e = rd.n_events;
    } else {
        hd_par_block(rd.n_events, rank, size, &b, &e);
    }
    int64_t mine = e - b, my_batches = batch_count(mine), batches = my_batches;
    if (size > 1)
        MPI_Allreduce(&my_batches, &batches, 1, MPI_INT64_T, MPI_MAX, comm);
    hd_progress_start(&prog, "featurize", "events", rd.n_events, cli->quiet);
    int64_t done = 0;
    hd_featurize_counts cnt = {0};
    const size_t IQ1 = B * R * (size_t)N * 2 + 1, LV1 = B * R * (size_t)(L > 0 ? L : 1);
    prefetch pf[2];
    for (int h = 0; h < 2; h++)
        pf[h] = (prefetch){.rd = &rd, .ev = ev + h * B, .lk = lk + h * B * R, .iq = iq + h * IQ1,
                           .levels = levels + h * LV1};
    pf[0].first = b;
    pf[0].n = batch_n(b, e, 0);
    prefetch_run(&pf[0]); /* the first batch: nothing to overlap with */
    prof[PROF_READ] += pf[0].seconds;
    prof[PROF_WAIT] += pf[0].seconds;
    int64_t wfirst = b; /* the first row not yet written; `held` rows after it are in o, hev, hlk */
    int held = 0;
    for (int64_t k = 0; k < batches; k++) {
        int n = batch_n(b, e, k);
        prefetch *cur = &pf[k % 2], *next = &pf[(k + 1) % 2];
        int flag = hd_cli_interrupted() ? 1 : 0;
        if (n > 0 && cur->rc < 0) {
            rc = hd_error(cur->rc, "%s", cur->msg);
            flag = 2;
        }
        /* the next batch read while this one is computed */
        next->first = b + batch_first(k + 1);
        next->n = batch_n(b, e, k + 1);
        next->rc = 0;
        next->seconds = 0;
        pthread_t th;
        int threaded = !flag && next->n > 0 && pthread_create(&th, NULL, prefetch_run, next) == 0;
        if (!flag && next->n > 0 && !threaded)
            prefetch_run(next); /* no thread: read it now, in turn */
        double t1 = hd_now();
        size_t hr = (size_t)held; /* this batch's rows after the held ones */
        hd_featurize_rows oh = {.feat = o.feat + hr * R * F, .mask = o.mask + hr * R, .delay = o.delay + hr * Pn,
                                .sigma = o.sigma + hr * Pn, .psr = o.psr + hr * Pn, .tmask = o.tmask + hr * Pn,
                                .logmel = o.logmel + hr * R * (size_t)T * (size_t)Mm, .why = o.why + hr * R,
                                .twhy = o.twhy + hr * Pn, .dbm_ok = o.dbm_ok + hr * R, .tmethod = o.tmethod + hr * Pn};
        if (n > 0 && !flag && (rc = hd_featurizer_block(&fz, n, cur->ev, cur->lk, cur->iq, cur->levels, &oh, &cnt)) < 0)
            flag = 2;
        if (n > 0 && !flag) {
            memcpy(hev + hr, cur->ev, (size_t)n * sizeof *hev);
            memcpy(hlk + hr * R, cur->lk, (size_t)n * R * sizeof *hlk);
            held += n;
        }
        double t2 = hd_now();
        if (threaded)
            pthread_join(th, NULL);
        double t3 = hd_now();
        prof[PROF_READ] += next->seconds;
        prof[PROF_WAIT] += t3 - t2;
        prof[PROF_COMPUTE] += t2 - t1;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, comm);
        if (flag) {
            if (rc >= 0)
                rc = flag == 1 ? hd_error(HD_EINTR, "interrupted; %s not written", cli->output)
                               : hd_error(HD_EIO, "another rank failed; %s not written", cli->output);
            goto fail;
        }
        /* written when the held rows end on a chunk (H events) or the run
         * ends: the same calls on every rank (collective) */
        int64_t d = 0;
        if (batch_first(k + 1) % (int64_t)H == 0 || k == batches - 1) {
            /* cooperative: every rank holds the same rows; rank 0 writes them */
            int nw = coop && rank != 0 ? 0 : held;
            int64_t at = wfirst < e ? wfirst : e;
            if ((rc = hd_features_write_block(&w, at, nw, hev, hlk, o.feat, o.mask, o.delay, o.sigma, o.psr, o.tmask,
                                              o.logmel)) < 0 ||
                (rc = hd_features_write_reasons(&w, at, nw, o.why, o.twhy, o.dbm_ok, o.tmethod)) < 0)
                goto fail;
            wfirst += held;
            held = 0;
            d = nw;
        }
        prof[PROF_WRITE] += hd_now() - t3;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_INT64_T, MPI_SUM, comm);
        done += d;
        hd_progress_update(&prog, done);
    }
    hd_progress_finish(&prog);
    hd_features_close(&w);
    hd_runinfo_set_events(rd.n_events);
    w_open = 0;
    if (size > 1 && !coop) /* the counts are int64_t only */
        MPI_Allreduce(MPI_IN_PLACE, &cnt, (int)(sizeof cnt / sizeof(int64_t)), MPI_INT64_T, MPI_SUM, comm);
    double tp = hd_now();
    {
        const char *inputs[] = {input};
        hd_h5_provenance prov = {.format = HD_FORMAT_FEATURES, .version = HD_FEATURES_VERSION,
                                 .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                                 .n_inputs = 1};
        if ((rc = hd_h5_attr_double(out.file, "max_lag_s", fz.max_lag_s)) < 0 ||
            (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    if ((rc = hd_h5_commit(&out)) < 0) {
        out_open = 0;
        goto fail;
    }
    out_open = 0;
    double el = hd_now() - t_start;
    prof[PROF_END] = hd_now() - tp;
    if (cli->profile)
        profile_report(prof, el, rank);
    if (make_wisdom)
        hd_featurize_wisdom_end(cfg->featurize.fftw_wisdom); /* a failure costs only the measuring next time */
    hd_info("wrote %lld events × %d receivers, %d pairs (%lld of %lld GPS-timed pair measurements valid) to %s in "
            "%.1f s (%.1f events/s, %d rank%s)",
            (long long)rd.n_events, R, P, (long long)cnt.tdoa_ok, (long long)cnt.tdoa_cand, cli->output, el,
            el > 0 ? rd.n_events / el : 0.0, size, size > 1 ? "s" : "");
    report_reasons(&cnt);
fail:
    if (rc < 0 && prog.total)
        hd_progress_finish(&prog);
    if (w_open)
        hd_features_close(&w);
    if (out_open)
        hd_h5_abort(&out);
    if (f_open)
        hd_featurizer_release(&fz);
    hd_captures_release(&rd);
    free(ev);
    free(lk);
    free(iq);
    free(levels);
    free(o.feat);
    free(o.mask);
    free(o.delay);
    free(o.sigma);
    free(o.psr);
    free(o.tmask);
    free(o.logmel);
    free(o.why);
    free(o.twhy);
    free(o.tmethod);
    free(o.dbm_ok);
    free(hev);
    free(hlk);
    hd_fft_cleanup();
    if (rc < 0 && rank == 0) {
        /* a failure before the provenance was written: the input's hash
         * may still be running in its thread; wait for it, so that the
         * process does not exit (OpenSSL's exit handlers) beneath it */
        char hex[65];
        hd_sha256_file(input, hex);
    }
    return rc;
}

int hd_cmd_featurize(int argc, char **argv)
{
    return hd_cli_stage("featurize", argc, argv, "features.h5", "one captures file", run);
}
