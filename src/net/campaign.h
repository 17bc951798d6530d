/* A live campaign: collect.events events from the stations file's KiwiSDR
 * and OpenWebRX receivers, event e starting collect.interval_s × e after the
 * first (at once when the previous one overran), each captured by one
 * session over every receiver (session.h), then written to captures.h5.
 *
 * An event is kept when at least collect.min_receivers receivers (and at
 * least one) succeeded. Its time is the earliest GPS first-sample time of
 * its KiwiSDR receivers, down to the whole second; with only OpenWebRX
 * receivers, the host clock at the earliest first S-meter message. Every
 * failed receiver, dropped event or interruption makes the run partial: the
 * file is still written with what was captured (root attributes partial,
 * interrupted) and the call returns HD_EPARTIAL with a message.
 *
 * Politeness: with collect.live.max_listen_s > 0, a receiver is connected
 * for an event only while its listening so far (duration_s per capture it
 * was connected for: not when refused, busy or refused its password) plus
 * this one stays within it; past that it is not
 * connected again (status not run, saying why), and the campaign ends when
 * no receiver has time left. KiwiSDR servers limit listening per address
 * (ip_limit): set it below their limit. */
#ifndef HD_NET_CAMPAIGN_H
#define HD_NET_CAMPAIGN_H
#include <stdint.h>
#include "config/config.h"
#include "net/session.h"

/* What the campaign's time and capture come from; a NULL member (or a NULL
 * hooks pointer) is the real one: the host clock (hd_time_now_ns),
 * nanosleep, hd_net_capture_event. A test passes a fake clock and session. */
typedef struct {
    int64_t (*now_ns)(void *ctx);              /* Unix ns */
    void (*sleep_ns)(void *ctx, int64_t ns);   /* ns ≤ 50 ms */
    int (*capture)(void *ctx, const hd_station *st, int n, const hd_net_event_cfg *ec, int (*interrupted)(void),
                   int16_t *iq, float *levels, hd_net_rx *rx);
    void *ctx;
} hd_net_campaign_hooks;

/* Sleep until t_ns (Unix) in steps of at most 50 ms, waking for
 * interrupted() (may be NULL). Returns 1 when interrupted, else 0. */
int hd_net_sleep_until(int64_t t_ns, const hd_net_campaign_hooks *hooks, int (*interrupted)(void));

/* The checks before any connection: every station has a url and a live
 * driver, no more stations name one server than
 * collect.live.max_connections_per_server (1: no two), one IQ sample rate.
 * 0 or HD_ECONFIG. */
int hd_net_campaign_check(const hd_config *cfg);

typedef struct {
    const char *path;
    int force;
    const char *command_line;  /* provenance */
} hd_net_campaign_output;

/* Run the campaign of cfg (collect.source live) and write it. 0 when
 * complete, HD_EPARTIAL (file written, message set) when partial, or
 * another negative code (nothing written). */
int hd_net_campaign_run(const hd_config *cfg, const hd_net_campaign_output *o, int (*interrupted)(void),
                        const hd_net_campaign_hooks *hooks);

#endif
