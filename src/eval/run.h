/* Locating every event of a features file with a classical solver: what
 * `localize` and `evaluate` share. */
#ifndef HD_EVAL_RUN_H
#define HD_EVAL_RUN_H
#include "eval/calibrate.h"
#include "eval/metrics.h"
#include "eval/outputs.h"
#include "features/features.h"
#include "locate/locate.h"

typedef struct {
    hd_located *ev;          /* [n] */
    double *latency_s;       /* [n]: solver time per event */
    float *snr_db;           /* [n]: median SNR of the receivers used (NaN: none) */
    double *truth_lat, *truth_lon; /* [n]: the transmitter (NaN without /truth) */
    int *n_timed;            /* [n]: receivers with an arrival time from valid time differences */
    int *n_uncalibrated;     /* [n]: receivers heard that the calibration does not know (NULL: no calibration) */
    int64_t uncalibrated_heard[HD_MAX_STATIONS]; /* per receiver: events it was heard in while uncalibrated */
    const char *unknown_to;  /* what n_uncalibrated counts receivers unknown to (NULL: "calibration") */
    int64_t n_clamped;       /* the network's predictions outside the search region, clamped (hd_run_bound_nn) */
    double clamped_max_m;    /* the farthest of them from the region (m) */
    int split;               /* hd_split the run was located by (HD_SPLIT_NONE: the whole file at once) */
    int8_t *group;           /* [n]: each event's group of /splits/<split> (NULL without a split) */
    hd_locate_obs *obs;      /* [n] streaming only: each event's observations as the solver had them, valid
                                while the sink sees the block (NULL otherwise) */
    int64_t n;
    int64_t first;           /* streaming (hd_run_locate_stream): the event number of ev[0]; 0 otherwise */
    int64_t events_uncalibrated; /* events that heard a receiver the calibration does not know (all blocks) */
    hd_locate_net net;
    /* a sparse file's events, each solved with a network of its own: their
     * scores against the truth made while it existed ([n], NULL otherwise;
     * crlb_model_m with localize.model_sigma_ns) */
    hd_scored *scored;
    double *crlb_model_m;
    int64_t n_nets;          /* sparse: networks made (an event with its predecessor's receivers reuses it) */
} hd_run;

/* Read every event of rd and locate it with method (tdoa, rss, hybrid).
 * With a calibration applied to cfg (cfg->calibrated, eval/calibrate.h):
 * the clock offsets are subtracted from the time differences, the RSS
 * offsets are in cfg, and the receivers it does not know are counted per
 * event (n_uncalibrated) and, with localize.unknown_receivers mask, masked
 * (their pairs too).
 * progress: called every block with the events done (may be NULL). */
int hd_run_locate(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                  void (*progress)(void *ctx, int64_t done), void *ctx);
/* Streaming: the same (method tdoa, rss, hybrid; or nn with model non-NULL)
 * block by block, in flat memory: after each block sink(sink_ctx, run) sees
 * run->ev[0 .. run->n) (and the other per-event arrays), events run->first
 * onwards; the arrays are then reused. A sink's negative return ends the run
 * with that code. The totals (uncalibrated_heard, events_uncalibrated,
 * n_clamped) count over every block. */
typedef int (*hd_run_sink)(void *sink_ctx, const hd_run *run);
int hd_run_locate_stream(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                         const void *model, hd_run_sink sink, void *sink_ctx,
                         void (*progress)(void *ctx, int64_t done), void *ctx);
/* The same for a sparse file (rd->meta.sparse; tdoa, rss or hybrid; cal:
 * a calibration applied per event to its own receivers, NULL none, with
 * cfg as hd_calib_table_use left it): each event located among its own
 * receivers, a network of them made per event (localize.search auto is coarse there: no dense grid
 * per event); run->ev[i].rx names them. run->net stays empty and
 * run->obs[i] indexes the event's own receivers. sink NULL: the whole
 * file in run (as hd_run_locate), scored against the truth per event
 * (run->scored, run->crlb_model_m). */
/* Called by the sparse solve for each event of a block once it is solved,
 * while the event's own network exists: net over its k receivers st[k]
 * (NULL when no receiver heard it), the event and its observations, the
 * truth (NaN unknown). < 0 stops the run with that error. */
typedef int (*hd_run_event_hook)(void *ctx, const hd_locate_net *net, const hd_station *st, int k,
                                 const hd_located *ev, const hd_locate_obs *obs, double truth_lat, double truth_lon);
int hd_run_locate_sparse(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                         const hd_calib_table *cal, hd_run_sink sink, void *sink_ctx, hd_run_event_hook hook,
                         void *hook_ctx, void (*progress)(void *ctx, int64_t done), void *ctx);
/* The same streaming and scored: each block's events also scored against
 * the truth while their networks exist (run->scored, run->crlb_model_m of
 * the block, as the sink sees it): evaluate's. */
int hd_run_locate_sparse_scored(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, int method,
                                const hd_calib_table *cal, hd_run_sink sink, void *sink_ctx,
                                void (*progress)(void *ctx, int64_t done), void *ctx);
/* The same with the trained network (method nn): model from nn/model.h. */
int hd_run_locate_nn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const void *model,
                     void (*progress)(void *ctx, int64_t done), void *ctx);
/* With evaluate.split: every group of the file's /splits/<split> (a month,
 * a time block) located by a method fitted on the other groups — rss with
 * per-receiver offsets, exponent and sigma learnt (hd_learn_rss), knn with
 * the others as fingerprints, tdoa as is. Per-event receiver positions
 * (/rx_lat, /rx_lon: buses) are used when the file has them. The file's
 * features are held (each group is fitted on all the others); each event
 * is scored against its truth as it is located (hd_eval_score_event) and
 * only its solution's columns kept (no per-receiver arrays), then the
 * events go to sink (required) in order, a block at a time, with
 * run->scored, run->crlb_model_m and run->group (the split's). */
int hd_run_folds(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                 int method, hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx);
/* The network by folds: model_pattern holds a %d that each group's value
 * fills (a model trained with train.exclude_split/exclude_group). */
int hd_run_folds_nn(hd_run *run, hd_features_reader *rd, const hd_localize_cfg *cfg, const hd_evaluate_cfg *ecfg,
                    const char *model_pattern, hd_run_sink sink, void *sink_ctx,
                    void (*progress)(void *ctx, int64_t done), void *ctx);
/* The per-event arrays of n events (n_uncalibrated too when asked), zeroed;
 * HD_ENOMEM when any is missing (hd_run_release frees what was made). */
int hd_run_alloc(hd_run *run, size_t n, int with_uncalibrated);
void hd_run_release(hd_run *run);

/* What folds and saved models share: receivers whose rss_dbm is no
 * calibrated dBm (/dbm_ok 0) masked (mask_it) or their rss NaN; and the
 * covariance scale learnt on training events (train[d->E]; kNN leaving out
 * the events within 5 minutes of the one located; scratch[d->E]). */
int hd_run_drop_uncalibrated(hd_features_reader *rd, int64_t first, int64_t n, float *feat, uint8_t *mask,
                             int mask_it);
struct hd_dataset_s;
double hd_run_learn_scale(const hd_locate_net *net, const struct hd_dataset_s *d, const uint8_t *train,
                          const int64_t *time_ns, int method, int k, uint8_t *scratch);

/* With a calibration: "calibration: 12 events heard receivers it does not
 * know (dense-b 12, bus-1 3), masked" ("" without one; "…: every receiver
 * heard is calibrated" when none). Returns the events counted. */
int64_t hd_run_uncalibrated_summary(const hd_run *run, const hd_station *st, int R, int masked, char *buf,
                                    size_t size);

/* The network's prediction of event i bounded by run->net's search region:
 * one outside it is moved to the region's nearest edge, its variance
 * along each axis grown by the move (at most to a uniform position's over
 * the region), status
 * HD_LOC_OUTSIDE and why "the network's prediction 74.1 km outside the
 * search region, clamped to its edge"; counted in run->n_clamped. Returns 1
 * when it clamped. */
int hd_run_bound_nn(hd_run *run, int64_t i);
/* "network: 178 predictions outside the search region, clamped to its edge
 * (the farthest 74.1 km out)" ("" when none) */
void hd_run_clamped_summary(const hd_run *run, char *buf, size_t size);

/* What keeps an event from a position, from its masks' reasons (features
 * version 2): "receivers: not_captured 1, dead 1; pairs: no_gps_time 6,
 * too_narrow 4" (pairs masked only because an end is masked are left out). */
/* The median SNR (dB) of the receivers an event used (res->used over
 * feat[R*F]'s snr_db), NaN when it used none: what run->snr_db holds. */
float hd_run_used_snr(const hd_locate_result *res, const float *feat, int R);

void hd_run_why(int R, int P, const uint8_t *why, const uint8_t *twhy, char *buf, size_t size);

#endif
