/* A live campaign (see campaign.h): scheduling, one session per event, the
 * events and links filled from the receivers' results, captures.h5 written. */
#include "net/campaign.h"
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "geo/geo.h"
#include "h5/h5.h"
#include "net/kiwi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

static int64_t hook_now(const hd_net_campaign_hooks *h)
{
    return h && h->now_ns ? h->now_ns(h->ctx) : hd_time_now_ns();
}

int hd_net_sleep_until(int64_t t_ns, const hd_net_campaign_hooks *hooks, int (*interrupted)(void))
{
    while (!(interrupted && interrupted())) {
        int64_t left = t_ns - hook_now(hooks);
        if (left <= 0)
            return 0;
        if (left > 50000000)
            left = 50000000;
        if (hooks && hooks->sleep_ns) {
            hooks->sleep_ns(hooks->ctx, left);
        } else {
            struct timespec ts = {0, (long)left};
            nanosleep(&ts, NULL);
        }
    }
    return 1;
}

/* The first kiwisdr station (its rate is the campaign's), or -1. */
static int first_kiwi(const hd_config *cfg)
{
    for (int r = 0; r < cfg->n_stations; r++)
        if (cfg->stations[r].driver == HD_DRIVER_KIWISDR)
            return r;
    return -1;
}

int hd_net_campaign_check(const hd_config *cfg)
{
    int R = cfg->n_stations, fk = first_kiwi(cfg);
    double fs = cfg->stations[fk >= 0 ? fk : 0].sample_rate_hz;
    for (int r = 0; r < R; r++)
        if (!cfg->stations[r].url[0] ||
            (cfg->stations[r].driver != HD_DRIVER_KIWISDR && cfg->stations[r].driver != HD_DRIVER_OPENWEBRX))
            return hd_error(HD_ECONFIG, "collect.source live: station '%s' %s", cfg->stations[r].id,
                            !cfg->stations[r].url[0] ? "has no url (set it in the stations file)"
                                                     : "has driver simulate (live capture needs kiwisdr or openwebrx)");
    /* politeness: at most collect.live.max_connections_per_server stations
     * (connections at once: an event connects to every station) per server */
    int limit = cfg->collect.live.max_connections_per_server;
    for (int r = 0; r < R; r++) {
        char a[320], b[320];
        int rc, same = 1, first = r;
        if ((rc = hd_net_url_server(cfg->stations[r].url, a, sizeof a)) < 0)
            return rc;
        for (int q = 0; q < r; q++)
            if (hd_net_url_server(cfg->stations[q].url, b, sizeof b) == 0 && !strcmp(a, b)) {
                first = same == 1 ? q : first;
                same++;
            }
        if (same > limit && limit == 1)
            return hd_error(HD_ECONFIG,
                            "collect.source live: stations '%s' and '%s' name the same server (%s): one "
                            "connection per server, list it once (or raise collect.live.max_connections_per_server)",
                            cfg->stations[first].id, cfg->stations[r].id, a);
        if (same > limit)
            return hd_error(HD_ECONFIG,
                            "collect.source live: stations '%s' to '%s' make %d connections at once to %s, more "
                            "than collect.live.max_connections_per_server (%d)",
                            cfg->stations[first].id, cfg->stations[r].id, same, a, limit);
    }
    for (int r = 0; r < R; r++)
        if (cfg->stations[r].driver == HD_DRIVER_KIWISDR && cfg->stations[r].sample_rate_hz != fs)
            return hd_error(HD_ECONFIG, "live capture needs one IQ sample rate: station '%s' has %g Hz, '%s' %g Hz",
                            cfg->stations[r].id, cfg->stations[r].sample_rate_hz, cfg->stations[fk].id, fs);
    return 0;
}

/* Warnings and debug lines about an openwebrx receiver's levels and position. */
static void owrx_notes(const hd_config *cfg, int e, int r, int L, const hd_net_rx *x)
{
    const hd_collect_cfg *cc = &cfg->collect;
    if (x->levels_held)
        hd_warn("event %d: %s: %d S-meter messages for %d levels (%.3g/s measured): held", e, cfg->stations[r].id,
                x->n_level_msgs, L, x->level_rate_measured_hz);
    else if (isinf(x->level_rate_measured_hz) && L > 1)
        hd_warn("event %d: %s: the server sent all %d S-meter messages at once, faster than "
                "collect.live.level_rate_hz %g: the %d levels span no time, not %g s",
                e, cfg->stations[r].id, x->n_level_msgs, cc->live.level_rate_hz, L, cc->duration_s);
    else if (x->level_rate_measured_hz > 1.25 * cc->live.level_rate_hz && L > 1)
        /* a faster server fills the series early: it spans less time than asked */
        hd_warn("event %d: %s: the server sends %.3g S-meter messages/s, more than "
                "collect.live.level_rate_hz %g: the %d levels span %.3g s, not %g s",
                e, cfg->stations[r].id, x->level_rate_measured_hz, cc->live.level_rate_hz, L,
                (L - 1) / x->level_rate_measured_hz, cc->duration_s);
    if (x->have_server_gps) {
        double d = 0;
        hd_geo_inverse(cfg->stations[r].lat, cfg->stations[r].lon, x->server_lat, x->server_lon, &d, NULL, NULL);
        if (d > 5000)
            hd_warn("%s: the server says it is at %.5f, %.5f, %.1f km from the stations file's position",
                    cfg->stations[r].id, x->server_lat, x->server_lon, d / 1e3);
    }
    hd_debug("event %d: %s: openwebrx %s, %d users, %d levels at %.3g/s", e, cfg->stations[r].id,
             x->version[0] ? x->version : "(version unknown)", x->users, x->n_level_msgs, x->level_rate_measured_hz);
}

/* An anonymous spool file beside path (same file system as the output:
 * room for it is room for the output), unlinked at once. */
static int open_spool(const char *path, FILE **out)
{
    char tmpl[4200];
    if (snprintf(tmpl, sizeof tmpl, "%s.spool.XXXXXX", path) >= (int)sizeof tmpl)
        return hd_error(HD_EIO, "output path too long for a spool file beside it");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return hd_error(HD_EIO, "cannot create a spool file beside %s", path);
    unlink(tmpl);
    if (!(*out = fdopen(fd, "w+b"))) {
        close(fd);
        return hd_error(HD_EIO, "cannot open the spool file beside %s", path);
    }
    return 0;
}

int hd_net_campaign_run(const hd_config *cfg, const hd_net_campaign_output *o, int (*interrupted)(void),
                        const hd_net_campaign_hooks *hooks)
{
    int rc = 0, R = cfg->n_stations, E = cfg->collect.events;
    const hd_collect_cfg *cc = &cfg->collect;
    /* IQ at the kiwisdr stations' rate; levels at collect.live.level_rate_hz
     * (as the simulator counts them: floor(duration × rate), at least 1) */
    int fk = first_kiwi(cfg);
    double fs = cfg->stations[fk >= 0 ? fk : 0].sample_rate_hz;
    int N = (int)llround(cc->duration_s * fs);
    int L = (int)floor(cc->duration_s * cc->live.level_rate_hz);
    if (L < 1)
        L = 1;
    hd_event *ev = hd_calloc(1, sizeof *ev);   /* the event being captured (then spooled) */
    hd_link *links = hd_calloc((size_t)R, sizeof *links);
    /* one event's IQ and levels; every kept event goes to the spool file at
     * once, so memory stays flat however long the campaign */
    int16_t *iq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *iq);
    float *levels = hd_calloc((size_t)R * (size_t)L, sizeof *levels);
    FILE *spool = NULL;
    hd_net_rx *rx = hd_calloc((size_t)R, sizeof *rx), *srx = hd_calloc((size_t)R, sizeof *srx);
    /* the receivers of one capture (all, but for politeness limits) and their data */
    int *on = hd_calloc((size_t)R, sizeof *on);
    hd_station *sst = hd_calloc((size_t)R, sizeof *sst);
    int16_t *siq = hd_calloc((size_t)R * (size_t)N * 2, sizeof *siq);
    float *slv = hd_calloc((size_t)R * (size_t)L, sizeof *slv);
    double *listened = hd_calloc((size_t)R, sizeof *listened);
    /* SND sequence checks per kept event × receiver: frames lost in gaps, repeated frames */
    int64_t *seq_lost = hd_calloc((size_t)R, sizeof *seq_lost);
    int32_t *seq_rep = hd_calloc((size_t)R, sizeof *seq_rep);
    hid_t d_lost = -1, d_rep = -1;
    int64_t tot_lost = 0, tot_rep = 0;
    hd_h5_out out;
    int out_open = 0, partial = 0, is_interrupted = 0;
    hd_captures_writer w = {0};
    int64_t kept = 0, dropped = 0, t_start = hook_now(hooks);

    if (!ev || !links || !iq || !levels || !rx || !srx || !on || !sst || !siq || !slv || !listened || !seq_lost || !seq_rep) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_net_campaign_check(cfg)) < 0)
        goto fail;
    if ((rc = open_spool(o->path, &spool)) < 0)
        goto fail;
    /* a receiver whose listed bands (stations import) miss a frequency */
    for (int r = 0; r < R; r++)
        for (int f = 0; f < cc->n_frequencies; f++)
            if (cfg->stations[r].driver != HD_DRIVER_SIMULATE && hd_station_covers(&cfg->stations[r], cc->frequencies_hz[f]) == 1)
                hd_warn("%s: its bands (%s Hz) do not cover %.6g MHz: expect no signal from it at that frequency",
                        cfg->stations[r].id, cfg->stations[r].bands, cc->frequencies_hz[f] / 1e6);
    for (int e = 0; e < E && !is_interrupted; e++) {
        if (e > 0)
            hd_net_sleep_until(t_start + (int64_t)(e * cc->interval_s * 1e9), hooks, interrupted);
        if (interrupted && interrupted()) {
            is_interrupted = 1;
            break;
        }
        hd_net_event_cfg ec = {.frequency_hz = cc->frequencies_hz[e % cc->n_frequencies], .n_samples = N,
                               .passband_hz = cc->live.passband_hz, .timeout_ms = (int)(cc->live.timeout_s * 1e3),
                               .retries = cc->live.retries, .backoff_s = cc->live.backoff_s,
                               .max_message = (size_t)cc->live.max_message_kib * 1024, .seed = cfg->seed,
                               .n_levels = L, .level_rate_hz = cc->live.level_rate_hz, .duration_s = cc->duration_s};
        ec.owrx_mod = ec.frequency_hz < 30e6 ? "usb" : "nfm";
        int16_t *eiq = iq;
        float *elv = levels;
        int64_t wall = hook_now(hooks);
        /* politeness: the receivers whose listening budget allows this capture */
        int n_on = 0;
        for (int r = 0; r < R; r++)
            if (cc->live.max_listen_s <= 0 || listened[r] + cc->duration_s <= cc->live.max_listen_s + 1e-9)
                on[n_on++] = r;
        if (n_on == 0) {
            hd_warn("event %d: every receiver has listened its collect.live.max_listen_s (%g s): the campaign "
                    "ends here", e, cc->live.max_listen_s);
            partial = 1;
            break;
        }
        for (int k = 0; k < n_on; k++)
            sst[k] = cfg->stations[on[k]];
        memset(siq, 0, (size_t)R * (size_t)N * 2 * sizeof *siq);
        rc = hooks && hooks->capture ? hooks->capture(hooks->ctx, sst, n_on, &ec, interrupted, siq, slv, srx)
                                     : hd_net_capture_event(sst, n_on, &ec, interrupted, siq, slv, srx);
        memset(eiq, 0, (size_t)R * (size_t)N * 2 * sizeof *eiq);
        for (int r = 0, k = 0; r < R; r++) {
            if (k < n_on && on[k] == r) {
                memcpy(eiq + (size_t)r * N * 2, siq + (size_t)k * N * 2, (size_t)N * 2 * sizeof *eiq);
                memcpy(elv + (size_t)r * L, slv + (size_t)k * L, (size_t)L * sizeof *elv);
                rx[r] = srx[k++];
                /* listening counts once connected: not for a refused, busy or unauthorised one */
                if (rx[r].status != HD_RX_REFUSED && rx[r].status != HD_RX_BUSY && rx[r].status != HD_RX_AUTH)
                    listened[r] += cc->duration_s;
                continue;
            }
            memset(&rx[r], 0, sizeof rx[r]);
            rx[r].status = HD_RX_NOT_RUN;
            snprintf(rx[r].message, sizeof rx[r].message,
                     "politeness: listened %g s, collect.live.max_listen_s is %g s", listened[r],
                     cc->live.max_listen_s);
            for (int l = 0; l < L; l++)
                elv[(size_t)r * L + l] = NAN;
        }
        if (rc == HD_EINTR) {
            is_interrupted = 1;
            rc = 0;
        } else if (rc < 0) {
            goto fail;
        }
        /* the event's time: the earliest GPS first sample, down to the second;
         * with only openwebrx receivers, the host clock at the earliest first
         * S-meter message */
        int n_ok = 0, n_iq = 0;
        int64_t first = INT64_MAX, first_host = INT64_MAX;
        double ev_fs = fs;
        for (int r = 0; r < R; r++) {
            if (rx[r].status != HD_RX_OK) {
                partial = 1;
                hd_warn("event %d: %s: %s%s%s", e, cfg->stations[r].id, hd_rx_status_name(rx[r].status),
                        rx[r].message[0] ? ": " : "", rx[r].message);
                continue;
            }
            n_ok++;
            if (cfg->stations[r].driver == HD_DRIVER_OPENWEBRX) {
                first_host = rx[r].first_level_ns < first_host ? rx[r].first_level_ns : first_host;
                owrx_notes(cfg, e, r, L, &rx[r]);
                continue;
            }
            int64_t t = hd_kiwi_gps_unix_ns(rx[r].gps_sec, rx[r].gps_nsec, wall);
            first = t < first ? t : first;
            if (n_iq++ == 0)
                ev_fs = rx[r].sample_rate_hz;
            if (rx[r].gaps)
                hd_warn("event %d: %s: %d sequence gaps (%lld frames lost, zero-filled)", e, cfg->stations[r].id,
                        rx[r].gaps, (long long)rx[r].missing_frames);
            if (rx[r].repeats)
                hd_warn("event %d: %s: %d repeated sequence numbers (frames dropped)", e, cfg->stations[r].id,
                        rx[r].repeats);
        }
        hd_info("event %d: %d of %d receivers ok", e, n_ok, R);
        if (n_ok == 0 || n_ok < cc->min_receivers) {
            dropped++;
            partial = 1;
            hd_warn("event %d dropped: %d receivers succeeded (collect.min_receivers = %d)", e, n_ok,
                    cc->min_receivers);
            continue;
        }
        hd_event *v = &ev[0];
        memset(v, 0, sizeof *v);
        v->index = e;
        if (first == INT64_MAX)
            first = first_host;
        v->time_ns = first / 1000000000LL * 1000000000LL;
        v->frequency_hz = ec.frequency_hz;
        v->sample_rate_hz = ev_fs;
        v->n_samples = N;
        v->n_levels = L;
        v->level_rate_hz = cc->live.level_rate_hz;
        for (int r = 0; r < R; r++) {
            hd_link *lk = &links[r];
            memset(lk, 0, sizeof *lk);
            lk->status = rx[r].status;
            seq_lost[r] = rx[r].missing_frames;
            seq_rep[r] = rx[r].repeats;
            tot_lost += rx[r].missing_frames;
            tot_rep += rx[r].repeats;
            if (rx[r].status != HD_RX_OK) {
                lk->t0_s = NAN;
                continue;
            }
            if (cfg->stations[r].driver == HD_DRIVER_OPENWEBRX) {
                /* levels in dBFS; the server's gain is not on the wire: the
                 * station's gain_db is recorded as the assumed one */
                lk->has_levels = 1;
                lk->gps_ok = 0;
                lk->t0_s = (double)(rx[r].first_level_ns - v->time_ns) * 1e-9;
                lk->gain_db = cfg->stations[r].gain_db;
                continue;
            }
            lk->has_iq = 1;
            lk->gps_ok = rx[r].gps_ok;
            lk->last_gps_solution_s = rx[r].last_gps_solution_s;
            lk->t0_s = (double)(hd_kiwi_gps_unix_ns(rx[r].gps_sec, rx[r].gps_nsec, wall) - v->time_ns) * 1e-9;
            lk->gain_db = cfg->stations[r].gain_db;   /* AGC off, manGain set to it (session.c) */
            lk->clipped_fraction = rx[r].clipped_fraction;
        }
        if (fwrite(ev, sizeof *ev, 1, spool) != 1 || fwrite(links, sizeof *links, (size_t)R, spool) != (size_t)R ||
            fwrite(seq_lost, sizeof *seq_lost, (size_t)R, spool) != (size_t)R ||
            fwrite(seq_rep, sizeof *seq_rep, (size_t)R, spool) != (size_t)R ||
            fwrite(iq, sizeof *iq, (size_t)R * N * 2, spool) != (size_t)R * N * 2 ||
            fwrite(levels, sizeof *levels, (size_t)R * L, spool) != (size_t)R * L) {
            rc = hd_error(HD_EIO, "cannot write the spool file beside %s (disk full?)", o->path);
            goto fail;
        }
        kept++;
    }
    if (is_interrupted)
        partial = 1;
    if (kept == 0) {
        rc = is_interrupted
                 ? hd_error(HD_EINTR, "interrupted before any event was captured; %s not written", o->path)
                 : hd_error(HD_ENET, "no event captured (%lld dropped); %s not written", (long long)dropped, o->path);
        goto fail;
    }
    if ((rc = hd_h5_create(&out, o->path, o->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, cfg->stations, R)) < 0 ||
        (rc = hd_captures_create(&w, out.file, kept, R, N, L, cc->compression, HD_CAPTURES_BULK)) < 0)
        goto fail;
    /* from the spool, event by event */
    if (fflush(spool) != 0 || fseek(spool, 0, SEEK_SET) != 0) {
        rc = hd_error(HD_EIO, "cannot read back the spool file beside %s", o->path);
        goto fail;
    }
    {
        hsize_t dims[2] = {(hsize_t)kept, (hsize_t)R}, chunk[2] = {kept < 1024 ? (hsize_t)kept : 1024, (hsize_t)R};
        d_lost = hd_h5_dataset(out.file, "seq_lost_frames", H5T_NATIVE_INT64, 2, dims, chunk, 0, "frames",
                               "KiwiSDR SND frames lost in sequence-number gaps (zero-filled), per event and "
                               "receiver");
        d_rep = hd_h5_dataset(out.file, "seq_repeats", H5T_NATIVE_INT32, 2, dims, chunk, 0, "frames",
                              "KiwiSDR SND frames repeating an earlier sequence number (dropped), per event and "
                              "receiver");
        if (d_lost < 0 || d_rep < 0) {
            rc = d_lost < 0 ? (int)d_lost : (int)d_rep;
            goto fail;
        }
    }
    for (int64_t k = 0; k < kept; k++) {
        if (fread(ev, sizeof *ev, 1, spool) != 1 || fread(links, sizeof *links, (size_t)R, spool) != (size_t)R ||
            fread(seq_lost, sizeof *seq_lost, (size_t)R, spool) != (size_t)R ||
            fread(seq_rep, sizeof *seq_rep, (size_t)R, spool) != (size_t)R ||
            fread(iq, sizeof *iq, (size_t)R * N * 2, spool) != (size_t)R * N * 2 ||
            fread(levels, sizeof *levels, (size_t)R * L, spool) != (size_t)R * L) {
            rc = hd_error(HD_EIO, "cannot read back the spool file beside %s", o->path);
            goto fail;
        }
        if ((rc = hd_captures_write_block(&w, k, 1, ev, links, iq, levels)) < 0 ||
            (rc = hd_h5_write_rows(d_lost, H5T_NATIVE_INT64, (hsize_t)k, 1, seq_lost)) < 0 ||
            (rc = hd_h5_write_rows(d_rep, H5T_NATIVE_INT32, (hsize_t)k, 1, seq_rep)) < 0)
            goto fail;
    }
    hd_captures_close(&w);
    H5Dclose(d_lost);
    H5Dclose(d_rep);
    d_lost = d_rep = -1;
    {
        hd_h5_provenance prov = {.format = HD_FORMAT_CAPTURES, .version = HD_CAPTURES_VERSION,
                                 .command_line = o->command_line, .config_yaml = cfg->yaml};
        if ((rc = hd_h5_attr_str(out.file, "source", "live")) < 0 ||
            (rc = hd_h5_attr_int(out.file, "partial", partial)) < 0 ||
            (rc = hd_h5_attr_int(out.file, "interrupted", is_interrupted)) < 0 ||
            (rc = hd_h5_write_provenance(&out, &prov)) < 0)
            goto fail;
    }
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    out_open = 0;
    hd_info("wrote %lld events × %d receivers to %s%s", (long long)kept, R, o->path,
            is_interrupted ? " (interrupted: partial)" : partial ? " (partial)" : "");
    hd_info("sequence numbers: %lld frames lost, %lld repeated", (long long)tot_lost, (long long)tot_rep);
    if (partial)
        rc = hd_error(HD_EPARTIAL, "partial: %s%lld of %d events written, receivers failed (see above)",
                      is_interrupted ? "interrupted; " : "", (long long)kept, E);
fail:
    hd_captures_close(&w);
    if (d_lost >= 0)
        H5Dclose(d_lost);
    if (d_rep >= 0)
        H5Dclose(d_rep);
    if (out_open)
        hd_h5_abort(&out);
    if (spool)
        fclose(spool);
    free(ev);
    free(links);
    free(iq);
    free(levels);
    free(rx);
    free(srx);
    free(on);
    free(sst);
    free(siq);
    free(slv);
    free(listened);
    free(seq_lost);
    free(seq_rep);
    return rc;
}
