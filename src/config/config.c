/* Experiment configuration: a YAML tree bound to typed structs through a
 * table-driven schema. Later stages add keys by adding rows to `keys[]`. */
#include "config/config.h"
#include "config/yamltree.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names --------------------------------------------------------------- */

static const char *const driver_names[] = {"simulate", "kiwisdr", "openwebrx"};
static const char *const clock_names[] = {"gps", "free"};
static const char *const pairs_names[] = {"all", "reference"};
static const char *const signal_names[] = {"nbfm", "cw", "fsk4", "am", "morse", "rtty", "dcf77"};
static const char *const pathloss_names[] = {"log-distance", "hata", "free-space", "hf"};
static const char *const source_names[] = {"simulate", "live", "kiwiwav", "sigmf"};
static const char *const method_names[] = {"tdoa", "rss", "hybrid", "nn", "knn"};
static const char *const split_names[] = {"none", "month", "time_block"};
static const char *const arch_names[] = {"set", "mlp"};
static const char *const act_names[] = {"relu", "gelu"};
static const char *const track_model_names[] = {"cv", "ca"};
static const char *const track_update_names[] = {"fixes", "measurements"};
static const char *const motion_names[] = {"static", "walk", "car", "aircraft"};

#define NAME_OF(tab, v) ((v) >= 0 && (size_t)(v) < HD_ARRAY_LEN(tab) ? tab[v] : (v) == HD_AS_STATIONS ? "as-stations" : "?")
const char *hd_driver_name(int d) { return NAME_OF(driver_names, d); }
const char *hd_clock_name(int c) { return NAME_OF(clock_names, c); }
const char *hd_signal_name(int s) { return NAME_OF(signal_names, s); }
const char *hd_pathloss_name(int m) { return NAME_OF(pathloss_names, m); }
const char *hd_source_name(int s) { return NAME_OF(source_names, s); }
const char *hd_method_name(int m) { return NAME_OF(method_names, m); }
int hd_method_parse(const char *name)
{
    for (size_t i = 0; name && i < HD_ARRAY_LEN(method_names); i++)
        if (strcmp(name, method_names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- schema ---------------------------------------------------------------- */

typedef enum {
    K_INT, K_INT64, K_U64, K_DOUBLE, K_BOOL, K_STRING, K_ENUM, K_RANGE, K_DLIST, K_ELIST, K_POLY, K_TIME, K_SECTION
} ktype;

typedef struct {
    const char *const *names;
    int n;
    int as_stations;          /* also accepts "as-stations" (-1) */
} enum_def;

static const enum_def E_DRIVER = {driver_names, 3, 0}, E_DRIVER_AS = {driver_names, 3, 1};
static const enum_def E_CLOCK = {clock_names, 2, 0}, E_CLOCK_AS = {clock_names, 2, 1};
static const enum_def E_SIGNAL = {signal_names, HD_SIG_COUNT, 0};
static const enum_def E_PAIRS = {pairs_names, 2, 0};
static const enum_def E_PATHLOSS = {pathloss_names, 4, 0};
static const enum_def E_SOURCE = {source_names, 4, 0};
static const enum_def E_METHOD = {method_names, 5, 0};
static const enum_def E_SPLIT = {split_names, 3, 0};
static const char *const unknown_rx_names[] = {"use", "mask"};
static const enum_def E_UNKNOWN_RX = {unknown_rx_names, 2, 0};
static const char *const search_names[] = {"auto", "grid", "coarse"};
static const enum_def E_SEARCH = {search_names, 3, 0};
static const char *const heatmap_region_names[] = {"auto", "search", "box"};
static const enum_def E_HEATMAP_REGION = {heatmap_region_names, 3, 0};
static const char *const heatmap_levels_names[] = {"predictive", "chi2"};
static const enum_def E_HEATMAP_LEVELS = {heatmap_levels_names, 2, 0};
static const char *const lprop_names[] = {"straight", "hf"};
static const enum_def E_LPROP = {lprop_names, 2, 0};
static const char *const hfmode_names[] = {"auto", "ground", "1f2", "2f2"};
static const enum_def E_HFMODE = {hfmode_names, 4, 0};
static const enum_def E_ARCH = {arch_names, 2, 0};
static const enum_def E_ACT = {act_names, 2, 0};
static const enum_def E_TRACK_MODEL = {track_model_names, 2, 0};
static const enum_def E_TRACK_UPDATE = {track_update_names, 2, 0};
static const enum_def E_MOTION = {motion_names, 4, 0};
static const char *const layout_names[] = {"auto", "dense", "sparse"};
static const enum_def E_LAYOUT = {layout_names, 3, 0};

typedef struct {
    const char *path;         /* dotted, relative to the config (or station record) */
    ktype type;
    size_t off;               /* into hd_config (or hd_station) */
    size_t aux;               /* K_STRING: buffer size; lists: offset of the count */
    int maxn;                 /* lists: capacity */
    double min, max;
    const char *def;          /* default, in YAML flow syntax */
    const enum_def *en;
} key_def;

#define C(m) offsetof(hd_config, m)
#define S(m) offsetof(hd_station, m)
#define COL(m) C(collect.m)
#define SIM(m) C(collect.simulate.m)

static const key_def keys[] = {
    {"seed", K_U64, C(seed), 0, 0, 0, 1.8446744073709552e19, "1", NULL},
    /* `stations` is handled apart (a path or an inline list) */
    {"collect", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.source", K_ENUM, COL(source), 0, 0, 0, 0, "simulate", &E_SOURCE},
    {"collect.events", K_INT, COL(events), 0, 0, 1, 1e7, "400", NULL},
    {"collect.start_time", K_TIME, COL(start_ns), 0, 0, 0, 0, "2026-06-01T08:00:00Z", NULL},
    {"collect.interval_s", K_DOUBLE, COL(interval_s), 0, 0, 1e-9, 1e7, "30", NULL},
    {"collect.duration_s", K_DOUBLE, COL(duration_s), 0, 0, 0.001, 600, "0.25", NULL},
    {"collect.frequencies_hz", K_DLIST, COL(frequencies_hz), COL(n_frequencies), HD_MAX_FREQS, 1e5, 6e9, "[145500000, 433500000]", NULL},
    {"collect.min_receivers", K_INT, COL(min_receivers), 0, 0, 0, 64, "1", NULL},
    {"collect.compression", K_INT, COL(compression), 0, 0, 0, 9, "4", NULL},
    {"collect.layout", K_ENUM, COL(layout), 0, 0, 0, 0, "auto", &E_LAYOUT},
    {"collect.live", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.live.timeout_s", K_DOUBLE, COL(live.timeout_s), 0, 0, 0.1, 600, "10", NULL},
    {"collect.live.retries", K_INT, COL(live.retries), 0, 0, 0, 20, "2", NULL},
    {"collect.live.backoff_s", K_DOUBLE, COL(live.backoff_s), 0, 0, 0, 600, "1", NULL},
    {"collect.live.passband_hz", K_DOUBLE, COL(live.passband_hz), 0, 0, 100, 1e6, "10000", NULL},
    {"collect.live.max_message_kib", K_INT, COL(live.max_message_kib), 0, 0, 4, 65536, "1024", NULL},
    {"collect.live.level_rate_hz", K_DOUBLE, COL(live.level_rate_hz), 0, 0, 0.1, 1000, "5.9", NULL},
    {"collect.live.max_connections_per_server", K_INT, COL(live.max_connections_per_server), 0, 0, 1, 64, "1", NULL},
    {"collect.live.max_listen_s", K_DOUBLE, COL(live.max_listen_s), 0, 0, 0, 1e9, "0", NULL},
    {"collect.simulate", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.region", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.region.lat_min", K_DOUBLE, SIM(lat_min), 0, 0, -90, 90, "0", NULL},
    {"collect.simulate.region.lat_max", K_DOUBLE, SIM(lat_max), 0, 0, -90, 90, "0", NULL},
    {"collect.simulate.region.lon_min", K_DOUBLE, SIM(lon_min), 0, 0, -180, 180, "0", NULL},
    {"collect.simulate.region.lon_max", K_DOUBLE, SIM(lon_max), 0, 0, -180, 180, "0", NULL},
    {"collect.simulate.region.polygon", K_POLY, SIM(polygon), SIM(n_polygon), HD_MAX_POLY, 0, 0, "[]", NULL},
    {"collect.simulate.margin_km", K_DOUBLE, SIM(margin_km), 0, 0, 0, 1000, "10", NULL},
    {"collect.simulate.receivers", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.receivers.driver", K_ENUM, SIM(receivers.driver), 0, 0, 0, 0, "kiwisdr", &E_DRIVER_AS},
    {"collect.simulate.receivers.clock", K_ENUM, SIM(receivers.clock), 0, 0, 0, 0, "gps", &E_CLOCK_AS},
    {"collect.simulate.receivers.clock_sigma_ns", K_DOUBLE, SIM(receivers.clock_sigma_ns), 0, 0, 0, 1e10, "100", NULL},
    {"collect.simulate.receivers.sample_rate_hz", K_DOUBLE, SIM(receivers.sample_rate_hz), 0, 0, 0, 1e7, "24000", NULL},
    {"collect.simulate.receivers.gps_outage_probability", K_DOUBLE, SIM(receivers.gps_outage_probability), 0, 0, 0, 1, "0.1", NULL},
    {"collect.simulate.receivers.failure_probability", K_DOUBLE, SIM(receivers.failure_probability), 0, 0, 0, 1, "0.02", NULL},
    {"collect.simulate.receivers.level_rate_hz", K_DOUBLE, SIM(receivers.level_rate_hz), 0, 0, 0.1, 1000, "10", NULL},
    {"collect.simulate.receivers.start_jitter_ms", K_DOUBLE, SIM(receivers.start_jitter_ms), 0, 0, 0, 10000, "20", NULL},
    {"collect.simulate.receivers.position_error_m", K_DOUBLE, SIM(receivers.position_error_m), 0, 0, 0, 1e5, "0", NULL},
    {"collect.simulate.receivers.misplaced_probability", K_DOUBLE, SIM(receivers.misplaced_probability), 0, 0, 0, 1, "0", NULL},
    {"collect.simulate.receivers.misplaced_km", K_DOUBLE, SIM(receivers.misplaced_km), 0, 0, 0, 1000, "5", NULL},
    {"collect.simulate.receivers.heard_snr_db", K_DOUBLE, SIM(receivers.heard_snr_db), 0, 0, -100, 100, "-10", NULL},
    {"collect.simulate.receivers.max_per_event", K_INT, SIM(receivers.max_per_event), 0, 0, 2, HD_MAX_STATIONS, "15", NULL},
    {"collect.simulate.transmitter", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.transmitter.power_dbm", K_RANGE, SIM(transmitter.power_dbm), 0, 0, -30, 70, "[27, 37]", NULL},
    {"collect.simulate.transmitter.antenna_gain_dbi", K_DOUBLE, SIM(transmitter.antenna_gain_dbi), 0, 0, -20, 20, "0", NULL},
    {"collect.simulate.transmitter.height_m", K_RANGE, SIM(transmitter.height_m), 0, 0, 0, 1000, "[1.5, 20]", NULL},
    {"collect.simulate.transmitter.signal_types", K_ELIST, SIM(transmitter.signal_types), SIM(transmitter.n_signal_types), HD_SIG_COUNT, 0, 0, "[nbfm, cw, fsk4]", &E_SIGNAL},
    {"collect.simulate.transmitter.fm_deviation_hz", K_DOUBLE, SIM(transmitter.fm_deviation_hz), 0, 0, 100, 20000, "5000", NULL},
    {"collect.simulate.transmitter.fsk_symbol_rate", K_DOUBLE, SIM(transmitter.fsk_symbol_rate), 0, 0, 100, 100000, "4800", NULL},
    {"collect.simulate.transmitter.fsk_deviation_hz", K_DOUBLE, SIM(transmitter.fsk_deviation_hz), 0, 0, 10, 20000, "1944", NULL},
    {"collect.simulate.transmitter.frequency_error_hz", K_DOUBLE, SIM(transmitter.frequency_error_hz), 0, 0, 0, 1e5, "100", NULL},
    {"collect.simulate.transmitter.motion", K_ENUM, SIM(transmitter.motion), 0, 0, 0, 0, "static", &E_MOTION},
    {"collect.simulate.transmitter.transmitters", K_INT, SIM(transmitter.transmitters), 0, 0, 1, 10000, "1", NULL},
    {"collect.simulate.propagation", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.propagation.model", K_ENUM, SIM(propagation.model), 0, 0, 0, 0, "log-distance", &E_PATHLOSS},
    {"collect.simulate.propagation.exponent", K_DOUBLE, SIM(propagation.exponent), 0, 0, 1.5, 6, "3.0", NULL},
    {"collect.simulate.propagation.reference_distance_m", K_DOUBLE, SIM(propagation.reference_distance_m), 0, 0, 1, 1e5, "1000", NULL},
    {"collect.simulate.propagation.shadowing_db", K_DOUBLE, SIM(propagation.shadowing_db), 0, 0, 0, 20, "6", NULL},
    {"collect.simulate.propagation.rician_k_db", K_DOUBLE, SIM(propagation.rician_k_db), 0, 0, -10, 30, "6", NULL},
    {"collect.simulate.propagation.rician_max_km", K_DOUBLE, SIM(propagation.rician_max_km), 0, 0, 0, 1000, "5", NULL},
    {"collect.simulate.propagation.multipath_taps", K_INT, SIM(propagation.multipath_taps), 0, 0, 0, 8, "2", NULL},
    {"collect.simulate.propagation.delay_spread_us", K_DOUBLE, SIM(propagation.delay_spread_us), 0, 0, 0, 100, "1.0", NULL},
    /* model hf: ground wave and F2 sky wave (src/sim/hf.c) */
    {"collect.simulate.propagation.hf", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"collect.simulate.propagation.hf.ground_velocity_factor", K_DOUBLE, SIM(propagation.hf.ground_velocity_factor), 0, 0, 0.9, 1, "0.9997", NULL},
    {"collect.simulate.propagation.hf.ground_range_km", K_DOUBLE, SIM(propagation.hf.ground_range_km), 0, 0, 1, 20000, "400", NULL},
    {"collect.simulate.propagation.hf.f2_height_km", K_DOUBLE, SIM(propagation.hf.f2_height_km), 0, 0, 150, 800, "300", NULL},
    {"collect.simulate.propagation.hf.f2_height_sigma_km", K_DOUBLE, SIM(propagation.hf.f2_height_sigma_km), 0, 0, 0, 100, "15", NULL},
    {"collect.simulate.propagation.hf.skip_distance_km", K_DOUBLE, SIM(propagation.hf.skip_distance_km), 0, 0, 0, 5000, "600", NULL},
    {"collect.simulate.propagation.hf.min_elevation_deg", K_DOUBLE, SIM(propagation.hf.min_elevation_deg), 0, 0, 0, 45, "3", NULL},
    {"collect.simulate.propagation.hf.hop_loss_db", K_DOUBLE, SIM(propagation.hf.hop_loss_db), 0, 0, 0, 40, "6", NULL},
    /* stages whose keys arrive with their commands */
    {"featurize", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"featurize.nfft", K_INT, C(featurize.nfft), 0, 0, 16, 65536, "256", NULL},
    {"featurize.psr_min_db", K_DOUBLE, C(featurize.psr_min_db), 0, 0, 0, 60, "10", NULL},
    {"featurize.max_lag_s", K_DOUBLE, C(featurize.max_lag_s), 0, 0, 0, 1, "0", NULL},
    {"featurize.min_rms_bw_hz", K_DOUBLE, C(featurize.min_rms_bw_hz), 0, 0, 0, 1e6, "200", NULL},
    {"featurize.modulation_min_s", K_DOUBLE, C(featurize.modulation_min_s), 0, 0, 0, 86400, "2", NULL},
    {"featurize.max_clipped_fraction", K_DOUBLE, C(featurize.max_clipped_fraction), 0, 0, 0, 1, "0.01", NULL},
    {"featurize.max_clock_ppm", K_DOUBLE, C(featurize.max_clock_ppm), 0, 0, 0, 1e5, "100", NULL},
    {"featurize.max_clock_residual_us", K_DOUBLE, C(featurize.max_clock_residual_us), 0, 0, 0, 1e6, "50", NULL},
    {"featurize.compression", K_INT, C(featurize.compression), 0, 0, 0, 9, "4", NULL},
    {"featurize.distributed_fft_min_samples", K_INT64, C(featurize.distributed_fft_min_samples), 0, 0, 64, 1e15, "4194304", NULL},
    {"featurize.pairs", K_ENUM, C(featurize.pairs), 0, 0, 0, 0, "all", &E_PAIRS},
    {"featurize.logmel", K_BOOL, C(featurize.logmel), 0, 0, 0, 0, "false", NULL},
    {"featurize.logmel_n_fft", K_INT, C(featurize.logmel_n_fft), 0, 0, 8, 65536, "256", NULL},
    {"featurize.logmel_hop", K_INT, C(featurize.logmel_hop), 0, 0, 1, 65536, "128", NULL},
    {"featurize.logmel_n_mels", K_INT, C(featurize.logmel_n_mels), 0, 0, 1, 512, "32", NULL},
    {"featurize.fftw_wisdom", K_STRING, C(featurize.fftw_wisdom), HD_PATH_LEN, 0, 0, 0, "''", NULL},
    {"train", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"train.arch", K_ENUM, C(train.arch), 0, 0, 0, 0, "set", &E_ARCH},
    {"train.hidden", K_INT, C(train.hidden), 0, 0, 2, 4096, "128", NULL},
    {"train.activation", K_ENUM, C(train.gelu), 0, 0, 0, 0, "gelu", &E_ACT},
    {"train.tail_nu", K_DOUBLE, C(train.tail_nu), 0, 0, 0, 1e6, "4", NULL},
    {"train.epochs", K_INT, C(train.epochs), 0, 0, 1, 100000, "40", NULL},
    {"train.stop_after", K_INT, C(train.stop_after), 0, 0, 0, 100000, "0", NULL},
    {"train.batch_size", K_INT, C(train.batch_size), 0, 0, 1, 1000000, "128", NULL},
    {"train.lr", K_DOUBLE, C(train.lr), 0, 0, 1e-7, 1, "0.002", NULL},
    {"train.weight_decay", K_DOUBLE, C(train.weight_decay), 0, 0, 0, 1, "0.0001", NULL},
    {"train.clip_norm", K_DOUBLE, C(train.clip_norm), 0, 0, 0, 1e6, "5", NULL},
    {"train.warmup_steps", K_INT, C(train.warmup_steps), 0, 0, 0, 1000000, "100", NULL},
    {"train.patience", K_INT, C(train.patience), 0, 0, 1, 100000, "8", NULL},
    {"train.exclude_split", K_ENUM, C(train.exclude_split), 0, 0, 0, 0, "none", &E_SPLIT},
    {"train.exclude_group", K_INT, C(train.exclude_group), 0, 0, -128, 127, "0", NULL},
    {"train.val_fraction", K_DOUBLE, C(train.val_fraction), 0, 0, 0.01, 0.9, "0.15", NULL},
    {"localize", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"localize.method", K_ENUM, C(localize.method), 0, 0, 0, 0, "tdoa", &E_METHOD},
    {"localize.tx_alt_m", K_DOUBLE, C(localize.tx_alt_m), 0, 0, -500, 9000, "0", NULL},
    {"localize.grid_step_km", K_DOUBLE, C(localize.grid_step_km), 0, 0, 0.01, 100, "2", NULL},
    {"localize.margin_km", K_DOUBLE, C(localize.margin_km), 0, 0, 0, 2000, "30", NULL},
    {"localize.search", K_ENUM, C(localize.search), 0, 0, 0, 0, "auto", &E_SEARCH},
    {"localize.max_region_km", K_DOUBLE, C(localize.max_region_km), 0, 0, 0, 20000, "4000", NULL},
    {"localize.min_receivers", K_INT, C(localize.min_receivers), 0, 0, 3, 64, "3", NULL},
    {"localize.outlier_sigma", K_DOUBLE, C(localize.outlier_sigma), 0, 0, 2, 1e6, "5", NULL},
    {"localize.scale_by_chi2", K_BOOL, C(localize.scale_by_chi2), 0, 0, 0, 0, "true", NULL},
    {"localize.model_sigma_ns", K_DOUBLE, C(localize.model_sigma_ns), 0, 0, 0, 1e9, "290", NULL},
    {"localize.prior_nu", K_DOUBLE, C(localize.prior_nu), 0, 0, 0, 1e6, "4", NULL},
    {"localize.tail_nu", K_DOUBLE, C(localize.tail_nu), 0, 0, 0, 1e6, "0", NULL},
    {"localize.refractivity_n", K_DOUBLE, C(localize.refractivity_n), 0, 0, 0, 1000, "0", NULL},
    {"localize.refractivity_scale_km", K_DOUBLE, C(localize.refractivity_scale_km), 0, 0, 0, 100, "0", NULL},
    {"localize.max_range_km", K_DOUBLE, C(localize.max_range_km), 0, 0, 0, 20000, "0", NULL},
    {"localize.propagation", K_ENUM, C(localize.propagation), 0, 0, 0, 0, "straight", &E_LPROP},
    /* propagation hf: the modes' model, the simulator's defaults */
    {"localize.hf", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"localize.hf.mode", K_ENUM, C(localize.hf.mode), 0, 0, 0, 0, "auto", &E_HFMODE},
    {"localize.hf.ground_velocity_factor", K_DOUBLE, C(localize.hf.ground_velocity_factor), 0, 0, 0.9, 1, "0.9997", NULL},
    {"localize.hf.ground_range_km", K_DOUBLE, C(localize.hf.ground_range_km), 0, 0, 1, 20000, "400", NULL},
    {"localize.hf.f2_height_km", K_DOUBLE, C(localize.hf.f2_height_km), 0, 0, 150, 800, "300", NULL},
    {"localize.hf.f2_height_sigma_km", K_DOUBLE, C(localize.hf.f2_height_sigma_km), 0, 0, 0, 100, "15", NULL},
    {"localize.hf.skip_distance_km", K_DOUBLE, C(localize.hf.skip_distance_km), 0, 0, 0, 5000, "600", NULL},
    {"localize.hf.min_elevation_deg", K_DOUBLE, C(localize.hf.min_elevation_deg), 0, 0, 0, 45, "3", NULL},
    {"localize.hf.hop_loss_db", K_DOUBLE, C(localize.hf.hop_loss_db), 0, 0, 0, 40, "6", NULL},
    {"localize.rss_exponent", K_DOUBLE, C(localize.rss_exponent), 0, 0, 1, 8, "3.0", NULL},
    {"localize.rss_fit_exponent", K_BOOL, C(localize.rss_fit_exponent), 0, 0, 0, 0, "false", NULL},
    {"localize.rss_sigma_db", K_DOUBLE, C(localize.rss_sigma_db), 0, 0, 0.1, 40, "6", NULL},
    {"localize.rss_offsets_db", K_DLIST, C(localize.rss_offsets_db), C(localize.n_rss_offsets), HD_MAX_STATIONS, -100, 100, "[]", NULL},
    {"localize.calibration", K_STRING, C(localize.calibration), HD_PATH_LEN, 0, 0, 0, "''", NULL},
    {"localize.unknown_receivers", K_ENUM, C(localize.unknown_receivers), 0, 0, 0, 0, "use", &E_UNKNOWN_RX},
    {"localize.heatmap_points", K_INT, C(localize.heatmap_points), 0, 0, 3, 2000, "200", NULL},
    {"localize.heatmap_max_events", K_INT, C(localize.heatmap_max_events), 0, 0, 0, 100000, "10", NULL},
    {"localize.heatmap_region", K_ENUM, C(localize.heatmap_region), 0, 0, 0, 0, "auto", &E_HEATMAP_REGION},
    {"localize.heatmap_levels", K_ENUM, C(localize.heatmap_levels), 0, 0, 0, 0, "predictive", &E_HEATMAP_LEVELS},
    {"localize.heatmap_box", K_DLIST, C(localize.heatmap_box), C(localize.n_heatmap_box), 4, -180, 360, "[]", NULL},
    {"evaluate", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"evaluate.snr_bins_db", K_DLIST, C(evaluate.snr_bins_db), C(evaluate.n_snr_bins), 16, -50, 200, "[0, 10, 20, 30]", NULL},
    {"evaluate.split", K_ENUM, C(evaluate.split), 0, 0, 0, 0, "none", &E_SPLIT},
    {"evaluate.knn_k", K_INT, C(evaluate.knn_k), 0, 0, 1, 64, "5", NULL},
    {"evaluate.plots", K_BOOL, C(evaluate.plots), 0, 0, 0, 0, "true", NULL},
    {"import", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"import.mlat", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"import.mlat.gps_sigma_ns", K_DOUBLE, C(import.mlat.gps_sigma_ns), 0, 0, 0.01, 1e9, "150", NULL},
    {"import.mlat.other_sigma_ns", K_DOUBLE, C(import.mlat.other_sigma_ns), 0, 0, 0.01, 1e12, "1000000", NULL},
    {"import.mlat.alt_sigma_m", K_DOUBLE, C(import.mlat.alt_sigma_m), 0, 0, 0.01, 1e5, "120", NULL},
    {"import.mlat.alt_offset_m", K_DOUBLE, C(import.mlat.alt_offset_m), 0, 0, -1e4, 1e4, "0", NULL},
    {"import.mlat.clock_offsets", K_STRING, C(import.mlat.clock_offsets), HD_PATH_LEN, 0, 0, 0, "''", NULL},
    {"track", K_SECTION, 0, 0, 0, 0, 0, NULL, NULL},
    {"track.max_gap_s", K_DOUBLE, C(track.max_gap_s), 0, 0, 0.001, 1e9, "60", NULL},
    {"track.model", K_ENUM, C(track.model), 0, 0, 0, 0, "cv", &E_TRACK_MODEL},
    {"track.accel_sigma_mps2", K_DOUBLE, C(track.accel_sigma_mps2), 0, 0, 0, 1e4, "0", NULL},
    {"track.gate_sigma", K_DOUBLE, C(track.gate_sigma), 0, 0, 0, 1e6, "4", NULL},
    {"track.fix_error_tau_s", K_DOUBLE, C(track.fix_error_tau_s), 0, 0, 0, 1e7, "0", NULL},
    {"track.fix_error_sigma_m", K_DOUBLE, C(track.fix_error_sigma_m), 0, 0, 0, 1e7, "0", NULL},
    {"track.calibrate", K_BOOL, C(track.calibrate), 0, 0, 0, 0, "true", NULL},
    {"track.update", K_ENUM, C(track.update), 0, 0, 0, 0, "fixes", &E_TRACK_UPDATE},
    {"track.map", K_BOOL, C(track.map), 0, 0, 0, 0, "false", NULL},
};

/* Station records. NAN defaults are filled from the clock kind. */
static const key_def station_keys[] = {
    {"id", K_STRING, S(id), HD_ID_LEN, 0, 0, 0, NULL, NULL},
    {"name", K_STRING, S(name), HD_NAME_LEN, 0, 0, 0, "''", NULL},
    {"lat", K_DOUBLE, S(lat), 0, 0, -90, 90, NULL, NULL},
    {"lon", K_DOUBLE, S(lon), 0, 0, -180, 180, NULL, NULL},
    {"alt_m", K_DOUBLE, S(alt_m), 0, 0, -500, 9000, "0", NULL},
    {"antenna_height_m", K_DOUBLE, S(antenna_height_m), 0, 0, 0, 1000, "10", NULL},
    {"driver", K_ENUM, S(driver), 0, 0, 0, 0, "simulate", &E_DRIVER},
    {"url", K_STRING, S(url), HD_URL_LEN, 0, 0, 0, "''", NULL},
    {"sample_rate_hz", K_DOUBLE, S(sample_rate_hz), 0, 0, 1000, 1e7, "12000", NULL},
    {"noise_figure_db", K_DOUBLE, S(noise_figure_db), 0, 0, 0, 40, "8", NULL},
    {"antenna_gain_dbi", K_DOUBLE, S(antenna_gain_dbi), 0, 0, -20, 30, "2", NULL},
    {"clock", K_ENUM, S(clock), 0, 0, 0, 0, "free", &E_CLOCK},
    {"clock_sigma_ns", K_DOUBLE, S(clock_sigma_ns), 0, 0, 0, 1e11, ".nan", NULL},
    {"lo_ppm", K_DOUBLE, S(lo_ppm), 0, 0, 0, 100, ".nan", NULL},
    {"sample_rate_ppm", K_DOUBLE, S(sample_rate_ppm), 0, 0, 0, 100, ".nan", NULL},
    {"full_scale_dbm", K_DOUBLE, S(full_scale_dbm), 0, 0, -150, 30, "-10", NULL},
    {"max_gain_db", K_DOUBLE, S(max_gain_db), 0, 0, 0, 120, "60", NULL},
    {"agc", K_BOOL, S(agc), 0, 0, 0, 0, "true", NULL},
    {"gain_db", K_DOUBLE, S(gain_db), 0, 0, 0, 120, "30", NULL},
    {"gain_calibrated", K_BOOL, S(gain_calibrated), 0, 0, 0, 0, "false", NULL},
    {"antenna", K_STRING, S(antenna), HD_NAME_LEN, 0, 0, 0, "''", NULL},
    {"bands", K_STRING, S(bands), HD_BANDS_LEN, 0, 0, 0, "''", NULL},
};

/* ---- errors ------------------------------------------------------------------ */

static int node_error(const hd_ynode *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int node_error(const hd_ynode *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->line > 0)
        return hd_error(HD_ECONFIG, "%s:%d:%d: %s", n->src, n->line, n->col, msg);
    return hd_error(HD_ECONFIG, "%s: %s", n->src, msg);
}

/* ---- scalar parsing ---------------------------------------------------------- */

static int is_null(const hd_ynode *n)
{
    return n->kind == HD_YSCALAR && !n->quoted &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0);
}

static int parse_double(const hd_ynode *n, const char *path, double *v)
{
    if (n->kind != HD_YSCALAR || n->quoted)
        return node_error(n, "%s: expected a number%s%s%s", path, n->kind == HD_YSCALAR ? ", got '" : "",
                          n->kind == HD_YSCALAR ? n->value : "", n->kind == HD_YSCALAR ? "'" : "");
    const char *s = n->value;
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0) {
        *v = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x) || isspace((unsigned char)s[0]))
        return node_error(n, "%s: expected a number, got '%s'", path, s);
    *v = x;
    return 0;
}

static int parse_integer(const hd_ynode *n, const char *path, long double *v)
{
    if (n->kind != HD_YSCALAR || n->quoted)
        return node_error(n, "%s: expected an integer", path);
    const char *s = n->value;
    char *end;
    errno = 0;
    if (s[0] == '-') {
        long long x = strtoll(s, &end, 10);
        if (end == s || *end || errno)
            return node_error(n, "%s: expected an integer, got '%s'", path, s);
        *v = (long double)x;
    } else {
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s || *end || errno || !isdigit((unsigned char)s[0]))
            return node_error(n, "%s: expected an integer, got '%s'", path, s);
        *v = (long double)x;
    }
    return 0;
}

static int check_range(const hd_ynode *n, const char *path, double x, const key_def *k)
{
    if (x < k->min || x > k->max)
        return node_error(n, "%s: %.15g is out of range [%.15g, %.15g]", path, x, k->min, k->max);
    return 0;
}

static int parse_enum(const hd_ynode *n, const char *path, const enum_def *en, int *v)
{
    if (n->kind == HD_YSCALAR) {
        for (int i = 0; i < en->n; i++)
            if (strcmp(n->value, en->names[i]) == 0) {
                *v = i;
                return 0;
            }
        if (en->as_stations && strcmp(n->value, "as-stations") == 0) {
            *v = HD_AS_STATIONS;
            return 0;
        }
    }
    char list[256] = "";
    size_t off = 0;
    for (int i = 0; i < en->n && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", en->names[i]);
    if (en->as_stations && off < sizeof list)
        snprintf(list + off, sizeof list - off, ", as-stations");
    return node_error(n, "%s: '%s' is not one of: %s", path, n->kind == HD_YSCALAR ? n->value : "(a collection)",
                      list);
}

/* Bind one node to one key. base: hd_config or hd_station. */
static int bind_key(const key_def *k, const hd_ynode *n, const char *path, char *base)
{
    int rc;
    void *p = base + k->off;
    switch (k->type) {
    case K_INT: {
        long double v;
        if ((rc = parse_integer(n, path, &v)) < 0 || (rc = check_range(n, path, (double)v, k)) < 0)
            return rc;
        *(int *)p = (int)v;
        return 0;
    }
    case K_INT64: {
        long double v;
        if ((rc = parse_integer(n, path, &v)) < 0 || (rc = check_range(n, path, (double)v, k)) < 0)
            return rc;
        *(int64_t *)p = (int64_t)v;
        return 0;
    }
    case K_U64: {
        long double v;
        if ((rc = parse_integer(n, path, &v)) < 0)
            return rc;
        if (v < 0)
            return node_error(n, "%s: must not be negative", path);
        *(uint64_t *)p = strtoull(n->value, NULL, 10);
        return 0;
    }
    case K_DOUBLE: {
        double v;
        if ((rc = parse_double(n, path, &v)) < 0)
            return rc;
        if (!isnan(v) && (rc = check_range(n, path, v, k)) < 0)
            return rc;
        *(double *)p = v;
        return 0;
    }
    case K_BOOL:
        if (n->kind == HD_YSCALAR && !n->quoted) {
            const char *s = n->value;
            if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
                *(int *)p = 1;
                return 0;
            }
            if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
                *(int *)p = 0;
                return 0;
            }
        }
        return node_error(n, "%s: expected true or false", path);
    case K_STRING:
        if (n->kind != HD_YSCALAR)
            return node_error(n, "%s: expected a string", path);
        if (strlen(n->value) >= k->aux)
            return node_error(n, "%s: longer than %zu characters", path, k->aux - 1);
        hd_strlcpy(p, n->value, k->aux);
        return 0;
    case K_ENUM:
        return parse_enum(n, path, k->en, (int *)p);
    case K_TIME:
        if (n->kind != HD_YSCALAR || hd_time_parse_iso8601(n->value, (int64_t *)p) < 0)
            return node_error(n, "%s: expected an ISO 8601 time such as 2026-06-01T08:00:00Z", path);
        return 0;
    case K_RANGE: {
        double v[2];
        if (n->kind == HD_YSCALAR) {
            if ((rc = parse_double(n, path, &v[0])) < 0)
                return rc;
            v[1] = v[0];
        } else if (n->kind == HD_YSEQ && n->n == 2) {
            if ((rc = parse_double(n->items[0], path, &v[0])) < 0 || (rc = parse_double(n->items[1], path, &v[1])) < 0)
                return rc;
        } else {
            return node_error(n, "%s: expected a number or [min, max]", path);
        }
        if ((rc = check_range(n, path, v[0], k)) < 0 || (rc = check_range(n, path, v[1], k)) < 0)
            return rc;
        if (v[0] > v[1])
            return node_error(n, "%s: min %.15g is greater than max %.15g", path, v[0], v[1]);
        memcpy(p, v, sizeof v);
        return 0;
    }
    case K_DLIST:
    case K_ELIST: {
        int *count = (int *)(base + k->aux);
        if (n->kind == HD_YSCALAR && !is_null(n)) { /* a single value is a list of one */
            hd_ynode one = *n;
            hd_ynode *items[1] = {&one};
            hd_ynode seq = {.kind = HD_YSEQ, .src = n->src, .line = n->line, .col = n->col, .items = items, .n = 1};
            return bind_key(k, &seq, path, base);
        }
        if (n->kind != HD_YSEQ)
            return node_error(n, "%s: expected a list", path);
        /* a list whose default is empty may be empty */
        int min_n = k->def && strcmp(k->def, "[]") == 0 ? 0 : 1;
        if (n->n < min_n || n->n > k->maxn)
            return node_error(n, "%s: expected %d to %d values, got %d", path, min_n, k->maxn, n->n);
        for (int i = 0; i < n->n; i++) {
            if (k->type == K_DLIST) {
                double v;
                if ((rc = parse_double(n->items[i], path, &v)) < 0 || (rc = check_range(n->items[i], path, v, k)) < 0)
                    return rc;
                ((double *)p)[i] = v;
            } else {
                int v;
                if ((rc = parse_enum(n->items[i], path, k->en, &v)) < 0)
                    return rc;
                for (int j = 0; j < i; j++)
                    if (((int *)p)[j] == v)
                        return node_error(n->items[i], "%s: '%s' is listed twice", path, n->items[i]->value);
                ((int *)p)[i] = v;
            }
        }
        *count = n->n;
        return 0;
    }
    case K_POLY: {
        int *count = (int *)(base + k->aux);
        double (*poly)[2] = p;
        if (n->kind != HD_YSEQ)
            return node_error(n, "%s: expected a list of [lat, lon] pairs", path);
        if (n->n != 0 && (n->n < 3 || n->n > k->maxn))
            return node_error(n, "%s: a polygon needs 3 to %d vertices, got %d", path, k->maxn, n->n);
        for (int i = 0; i < n->n; i++) {
            const hd_ynode *v = n->items[i];
            if (v->kind != HD_YSEQ || v->n != 2)
                return node_error(v, "%s: expected [lat, lon]", path);
            if ((rc = parse_double(v->items[0], path, &poly[i][0])) < 0 ||
                (rc = parse_double(v->items[1], path, &poly[i][1])) < 0)
                return rc;
            if (fabs(poly[i][0]) > 90 || fabs(poly[i][1]) > 180)
                return node_error(v, "%s: vertex [%g, %g] is not a latitude and longitude", path, poly[i][0], poly[i][1]);
        }
        *count = n->n;
        return 0;
    }
    case K_SECTION:
        if (!is_null(n) && n->kind != HD_YMAP)
            return node_error(n, "%s: expected a section (a mapping of keys)", path);
        return 0;
    }
    return 0;
}

static int bind_default(const key_def *k, const char *path, char *base)
{
    if (!k->def)
        return 0;
    hd_ynode *n = NULL;
    int rc = hd_yaml_parse(k->def, "<default>", &n);
    if (rc == 0)
        rc = bind_key(k, n, path, base);
    hd_ynode_free(n);
    return rc;
}

/* ---- walking the tree against a key table --------------------------------------- */

/* Children names of `prefix` ("" for top level) among the keys. */
static int children(const key_def *tab, int ntab, const char *prefix, const char **out, int max, const char *extra)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (int i = 0; i < ntab && n < max; i++) {
        const char *p = tab[i].path;
        if (pl && (strncmp(p, prefix, pl) != 0 || p[pl] != '.'))
            continue;
        const char *rest = pl ? p + pl + 1 : p;
        if (strchr(rest, '.'))
            continue;
        out[n++] = rest;
    }
    if (extra && n < max)
        out[n++] = extra;
    return n;
}

static const key_def *find_key(const key_def *tab, int ntab, const char *path)
{
    for (int i = 0; i < ntab; i++)
        if (strcmp(tab[i].path, path) == 0)
            return &tab[i];
    return NULL;
}

/* Check every key of `map` (at `prefix`) exists in the table; recurse into
 * sections. The top level also allows `stations`. */
static int check_known(const key_def *tab, int ntab, const hd_ynode *map, const char *prefix, int top,
                       const char *what)
{
    if (!map || map->kind != HD_YMAP)
        return 0;
    for (int i = 0; i < map->n; i++) {
        const char *name = map->keys[i]->value;
        if (top && strcmp(name, "stations") == 0)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        const key_def *k = find_key(tab, ntab, path);
        if (!k) {
            const char *cands[128];
            int nc = children(tab, ntab, prefix, cands, 127, top ? "stations" : NULL);
            int best = hd_closest(name, cands, nc);
            char where[300] = "";
            if (prefix[0])
                snprintf(where, sizeof where, " in %s", prefix);
            else if (what)
                snprintf(where, sizeof where, " in %s", what);
            if (best >= 0)
                return node_error(map->keys[i], "unknown key '%s'%s (did you mean '%s'?)", name, where, cands[best]);
            return node_error(map->keys[i], "unknown key '%s'%s", name, where);
        }
        if (k->type == K_SECTION) {
            int rc = check_known(tab, ntab, map->items[i], path, 0, what);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static const hd_ynode *lookup(const hd_ynode *root, const char *path)
{
    char buf[256];
    hd_strlcpy(buf, path, sizeof buf);
    const hd_ynode *n = root;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!n || n->kind != HD_YMAP)
            return NULL;
        n = hd_ynode_get(n, tok);
    }
    return n;
}

static int bind_table(const key_def *tab, int ntab, const hd_ynode *root, char *base, const char *what)
{
    int rc = check_known(tab, ntab, root, "", what == NULL, what);
    if (rc < 0)
        return rc;
    for (int i = 0; i < ntab; i++) {
        const key_def *k = &tab[i];
        const hd_ynode *n = lookup(root, k->path);
        if (n && !(is_null(n) && k->type != K_STRING))
            rc = bind_key(k, n, k->path, base);
        else if (!k->def && k->type != K_SECTION)
            rc = node_error(root, "%s: missing required key '%s'", what ? what : "config", k->path);
        else
            rc = bind_default(k, k->path, base);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- stations ----------------------------------------------------------------- */

static void fill_clock_defaults(hd_station *st)
{
    int gps = st->clock == HD_CLOCK_GPS;
    if (isnan(st->clock_sigma_ns))
        st->clock_sigma_ns = gps ? 100.0 : 1e7;
    if (isnan(st->lo_ppm))
        st->lo_ppm = gps ? 0.01 : 1.0;
    if (isnan(st->sample_rate_ppm))
        st->sample_rate_ppm = gps ? 0.01 : 1.0;
}

int hd_station_covers(const hd_station *st, double freq_hz)
{
    if (!st->bands[0])
        return 0;
    int covered = 0, n = 0;
    const char *p = st->bands;
    while (*p) {
        char *e;
        double lo = strtod(p, &e);
        if (e == p || *e != '-')
            return -1;
        p = e + 1;
        double hi = strtod(p, &e);
        if (e == p || !(lo >= 0) || !(hi > lo))
            return -1;
        p = e;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
        while (*p == ' ')
            p++;
        n++;
        covered |= freq_hz >= lo && freq_hz <= hi;
    }
    return n ? 1 + covered : -1;
}

void hd_station_id_make(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (const char *c = in; *c && k + 1 < n; c++) {
        unsigned char u = (unsigned char)*c;
        char o = isalnum(u) && u < 128 ? (char)tolower(u) : u == '_' ? '_' : '-';
        if (o == '-' && (k == 0 || out[k - 1] == '-'))
            continue;
        out[k++] = o;
    }
    while (k && out[k - 1] == '-')
        k--;
    out[k] = '\0';
    if (!k)
        hd_strlcpy(out, "rx", n);
}

int hd_station_id_valid(const char *id)
{
    if (!id[0])
        return 0;
    for (const char *c = id; *c; c++)
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static int bind_stations(hd_config *cfg, const hd_ynode *list)
{
    int rc;
    if (list->kind != HD_YSEQ)
        return node_error(list, "stations: expected a list of station records");
    if (list->n < 1 || list->n > HD_MAX_NETWORK)
        return node_error(list, "stations: expected 1 to %d stations, got %d", HD_MAX_NETWORK, list->n);
    free(cfg->stations);
    cfg->n_stations = 0;
    if (!(cfg->stations = hd_calloc((size_t)list->n, sizeof *cfg->stations)))
        return HD_ENOMEM;
    for (int i = 0; i < list->n; i++) {
        const hd_ynode *rec = list->items[i];
        hd_station *st = &cfg->stations[i];
        memset(st, 0, sizeof *st);
        if (rec->kind != HD_YMAP)
            return node_error(rec, "stations: each station is a mapping (id, lat, lon, …)");
        char what[64];
        snprintf(what, sizeof what, "station %d", i + 1);
        if ((rc = bind_table(station_keys, (int)HD_ARRAY_LEN(station_keys), rec, (char *)st, what)) < 0)
            return rc;
        if (!st->id[0])
            return node_error(rec, "station %d: id is empty", i + 1);
        if (!hd_station_id_valid(st->id))
            return node_error(hd_ynode_get(rec, "id"), "station id '%s': use lower-case letters, digits, '-' and '_'",
                              st->id);
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->stations[j].id, st->id) == 0)
                return node_error(hd_ynode_get(rec, "id"), "duplicate station id '%s'", st->id);
        if (!st->name[0])
            hd_strlcpy(st->name, st->id, sizeof st->name);
        if (st->url[0] && strncmp(st->url, "ws://", 5) && strncmp(st->url, "wss://", 6) &&
            strncmp(st->url, "http://", 7) && strncmp(st->url, "https://", 8))
            return node_error(hd_ynode_get(rec, "url"), "station '%s': url must start with ws://, wss://, http:// or https://",
                              st->id);
        if (st->bands[0] && hd_station_covers(st, 0) < 0)
            return node_error(hd_ynode_get(rec, "bands"),
                              "station '%s': bands '%s': expected LO-HI[,LO-HI...] in Hz (LO < HI)", st->id, st->bands);
        fill_clock_defaults(st);
    }
    cfg->n_stations = list->n;
    return 0;
}

/* Resolve `name` relative to the directory of `from` (or the embedded files). */
static int load_stations_file(hd_config *cfg, const char *name, const hd_ynode *at, int embedded, hd_ynode **root,
                              char **text, char *src, size_t srclen)
{
    int rc;
    *root = NULL;
    *text = NULL;
    if (embedded && name[0] != '/') {
        const char *e = hd_embedded_file(name);
        if (!e)
            return node_error(at, "stations: no built-in stations file '%s'", name);
        snprintf(src, srclen, "<embedded:%s>", name);
        if (!(*text = hd_strdup(e)))
            return HD_ENOMEM;
    } else {
        char path[HD_PATH_LEN];
        if (name[0] == '/') {
            hd_strlcpy(path, name, sizeof path);
        } else {
            const char *slash = strrchr(cfg->path, '/');
            int dl = slash ? (int)(slash - cfg->path) : 0;
            snprintf(path, sizeof path, "%.*s%s%s", dl, cfg->path, slash ? "/" : "", name);
        }
        hd_strlcpy(src, path, srclen);
        if ((rc = hd_read_file(path, text, NULL)) < 0)
            return node_error(at, "stations: cannot read %s: %s", path, hd_errmsg());
    }
    if ((rc = hd_yaml_parse(*text, src, root)) < 0)
        return rc;
    if ((*root)->kind != HD_YMAP)
        return node_error(*root, "a stations file is a mapping with a 'stations:' list");
    for (int i = 0; i < (*root)->n; i++) {
        const char *k = (*root)->keys[i]->value;
        if (strcmp(k, "stations") && strcmp(k, "note")) {
            const char *cands[] = {"stations", "note"};
            int b = hd_closest(k, cands, 2);
            return node_error((*root)->keys[i], "unknown key '%s' in a stations file%s%s%s", k, b >= 0 ? " (did you mean '" : "",
                              b >= 0 ? cands[b] : "", b >= 0 ? "'?)" : "");
        }
    }
    if (!hd_ynode_get(*root, "stations"))
        return node_error(*root, "a stations file needs a 'stations:' list");
    return 0;
}

/* ---- --set --------------------------------------------------------------------- */

static void set_src(hd_ynode *n, const char *src)
{
    n->src = src;
    n->line = n->col = 0;
    for (int i = 0; i < n->n; i++) {
        set_src(n->items[i], src);
        if (n->keys)
            set_src(n->keys[i], src);
    }
}

/* set: "--set a.b=c", kept by the caller while the tree lives (its nodes
 * name it in messages) */
static int apply_set(hd_ynode *root, const char *set)
{
    int rc;
    const char *arg = set + strlen("--set "), *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        hd_ynode dummy = {.src = set};
        return node_error(&dummy, "expected --set KEY=VALUE");
    }
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)(eq - arg), arg);
    hd_ynode *val = NULL;
    if ((rc = hd_yaml_parse(eq + 1, set, &val)) < 0) {
        hd_ynode dummy = {.src = set};
        return node_error(&dummy, "the value '%s' is not valid YAML", eq + 1);
    }
    if (val->kind == HD_YMAP && val->n == 0 && eq[1] == '\0') { /* "key=" : empty string */
        hd_ynode_free(val);
        if ((rc = hd_yaml_parse("''", set, &val)) < 0)
            return rc;
    }
    set_src(val, set);
    hd_ynode *n = root;
    char *save = NULL;
    for (char *tok = strtok_r(path, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        int last = save == NULL || *save == '\0';
        if (n->kind != HD_YMAP) {
            hd_ynode_free(val);
            hd_ynode dummy = {.src = set};
            return node_error(&dummy, "'%s' is inside a value that is not a section", tok);
        }
        hd_ynode *child = NULL;
        int idx = -1;
        for (int i = 0; i < n->n; i++)
            if (strcmp(n->keys[i]->value, tok) == 0)
                idx = i;
        if (idx >= 0)
            child = n->items[idx];
        if (last) {
            if (idx >= 0) {
                hd_ynode_free(n->items[idx]);
                n->items[idx] = val;
            } else {
                hd_ynode *key = hd_calloc(1, sizeof *key);
                if (!key || !(key->value = hd_strdup(tok))) {
                    free(key);
                    hd_ynode_free(val);
                    return HD_ENOMEM;
                }
                key->kind = HD_YSCALAR;
                key->src = set;
                if ((rc = hd_ynode_append(n, key, val)) < 0)
                    return rc;
            }
            return 0;
        }
        if (!child || child->kind != HD_YMAP) {
            hd_ynode *key = hd_calloc(1, sizeof *key), *map = hd_calloc(1, sizeof *map);
            if (!key || !map || !(key->value = hd_strdup(tok))) {
                free(key);
                free(map);
                hd_ynode_free(val);
                return HD_ENOMEM;
            }
            key->kind = HD_YSCALAR;
            key->src = set;
            map->kind = HD_YMAP;
            map->src = set;
            if (idx >= 0) {
                hd_ynode_free(n->items[idx]);
                hd_ynode_free(key);
                n->items[idx] = map;
            } else if ((rc = hd_ynode_append(n, key, map)) < 0) {
                hd_ynode_free(val);
                return rc;
            }
            child = map;
        }
        n = child;
    }
    hd_ynode_free(val);
    return 0;
}

/* ---- dump ----------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->buf && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
}

/* Shortest text that reads back as the same double. */
static void fmt_double(double v, char out[40])
{
    if (isnan(v)) {
        snprintf(out, 40, ".nan");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    /* keep it a YAML float-looking number */
    if (!strpbrk(out, ".eEn"))
        strcat(out, ".0");
}

static void dump_string(sbuf *b, const char *s)
{
    sb_printf(b, "'");
    for (const char *c = s; *c; c++)
        sb_printf(b, *c == '\'' ? "''" : "%c", *c);
    sb_printf(b, "'");
}

static void dump_value(sbuf *b, const key_def *k, const char *base)
{
    const void *p = base + k->off;
    char d1[40], d2[40];
    switch (k->type) {
    case K_INT: sb_printf(b, "%d", *(const int *)p); break;
    case K_INT64: sb_printf(b, "%lld", (long long)*(const int64_t *)p); break;
    case K_U64: sb_printf(b, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case K_DOUBLE: fmt_double(*(const double *)p, d1); sb_printf(b, "%s", d1); break;
    case K_BOOL: sb_printf(b, "%s", *(const int *)p ? "true" : "false"); break;
    case K_STRING: dump_string(b, p); break;
    case K_ENUM: {
        int v = *(const int *)p;
        sb_printf(b, "%s", v == HD_AS_STATIONS ? "as-stations" : k->en->names[v]);
        break;
    }
    case K_TIME: {
        char t[40];
        hd_time_format_iso8601(*(const int64_t *)p, t);
        sb_printf(b, "%s", t);
        break;
    }
    case K_RANGE:
        fmt_double(((const double *)p)[0], d1);
        fmt_double(((const double *)p)[1], d2);
        sb_printf(b, "[%s, %s]", d1, d2);
        break;
    case K_DLIST:
    case K_ELIST: {
        int n = *(const int *)(base + k->aux);
        sb_printf(b, "[");
        for (int i = 0; i < n; i++) {
            if (k->type == K_DLIST) {
                fmt_double(((const double *)p)[i], d1);
                sb_printf(b, "%s%s", i ? ", " : "", d1);
            } else {
                sb_printf(b, "%s%s", i ? ", " : "", k->en->names[((const int *)p)[i]]);
            }
        }
        sb_printf(b, "]");
        break;
    }
    case K_POLY: {
        int n = *(const int *)(base + k->aux);
        const double (*poly)[2] = p;
        sb_printf(b, "[");
        for (int i = 0; i < n; i++) {
            fmt_double(poly[i][0], d1);
            fmt_double(poly[i][1], d2);
            sb_printf(b, "%s[%s, %s]", i ? ", " : "", d1, d2);
        }
        sb_printf(b, "]");
        break;
    }
    case K_SECTION: break;
    }
}

static int dump_config(hd_config *cfg)
{
    sbuf b = {0};
    sb_printf(&b, "# resolved heimdall config (every key; defaults included)\n");
    for (size_t i = 0; i < HD_ARRAY_LEN(keys); i++) {
        const key_def *k = &keys[i];
        int depth = 0;
        for (const char *c = k->path; *c; c++)
            depth += *c == '.';
        const char *name = strrchr(k->path, '.');
        name = name ? name + 1 : k->path;
        sb_printf(&b, "%*s%s:", 2 * depth, "", name);
        if (k->type == K_SECTION) {
            /* a section with no keys yet is written as an empty mapping */
            int has = i + 1 < HD_ARRAY_LEN(keys) && strncmp(keys[i + 1].path, k->path, strlen(k->path)) == 0 &&
                      keys[i + 1].path[strlen(k->path)] == '.';
            sb_printf(&b, has ? "\n" : " {}\n");
        } else {
            sb_printf(&b, " ");
            dump_value(&b, k, (const char *)cfg);
            sb_printf(&b, "\n");
        }
        if (strcmp(k->path, "seed") == 0) {
            sb_printf(&b, "stations:\n");
            for (int s = 0; s < cfg->n_stations; s++) {
                for (size_t j = 0; j < HD_ARRAY_LEN(station_keys); j++) {
                    sb_printf(&b, "  %s %s: ", j == 0 ? "-" : " ", station_keys[j].path);
                    dump_value(&b, &station_keys[j], (const char *)&cfg->stations[s]);
                    sb_printf(&b, "\n");
                }
            }
        }
    }
    if (b.oom) {
        free(b.buf);
        return hd_error(HD_ENOMEM, "out of memory writing the resolved config");
    }
    free(cfg->yaml);
    cfg->yaml = b.buf;
    return 0;
}

int hd_station_defaults(hd_station *st, int clock)
{
    char text[96];
    if (clock < 0)
        snprintf(text, sizeof text, "{id: x, lat: 0, lon: 0}");
    else
        snprintf(text, sizeof text, "{id: x, lat: 0, lon: 0, clock: %s}", hd_clock_name(clock));
    hd_ynode *n = NULL;
    int rc = hd_yaml_parse(text, "<station defaults>", &n);
    memset(st, 0, sizeof *st);
    if (rc == 0)
        rc = bind_table(station_keys, (int)HD_ARRAY_LEN(station_keys), n, (char *)st, "station");
    hd_ynode_free(n);
    if (rc < 0)
        return rc;
    st->id[0] = '\0';
    fill_clock_defaults(st);
    return 0;
}

int hd_stations_yaml(const hd_station *st, int n, const char *const *comments, char **text)
{
    sbuf b = {0};
    *text = NULL;
    for (int s = 0; s < n; s++) {
        hd_station def, schema;
        int rc = hd_station_defaults(&def, st[s].clock);
        if (rc == 0)
            rc = hd_station_defaults(&schema, -1);
        if (rc < 0) {
            free(b.buf);
            return rc;
        }
        if (comments && comments[s])
            for (const char *l = comments[s]; *l;) {
                const char *e = strchr(l, '\n');
                int len = e ? (int)(e - l) : (int)strlen(l);
                sb_printf(&b, "  # %.*s\n", len, l);
                l += len + (e != NULL);
            }
        int first = 1;
        for (size_t j = 0; j < HD_ARRAY_LEN(station_keys); j++) {
            const key_def *k = &station_keys[j];
            sbuf v = {0}, d = {0};
            dump_value(&v, k, (const char *)&st[s]);
            /* the clock against the schema's; what follows from it against the clock's */
            dump_value(&d, k, (const char *)(strcmp(k->path, "clock") == 0 ? &schema : &def));
            int always = strcmp(k->path, "id") == 0 || strcmp(k->path, "lat") == 0 || strcmp(k->path, "lon") == 0;
            if (v.oom || d.oom)
                b.oom = 1;
            else if (always || strcmp(v.buf ? v.buf : "", d.buf ? d.buf : "") != 0) {
                sb_printf(&b, "  %s %s: %s\n", first ? "-" : " ", k->path, v.buf ? v.buf : "");
                first = 0;
            }
            free(v.buf);
            free(d.buf);
        }
    }
    if (b.oom) {
        free(b.buf);
        return hd_error(HD_ENOMEM, "out of memory");
    }
    *text = b.buf ? b.buf : strdup("");
    return *text ? 0 : hd_error(HD_ENOMEM, "out of memory");
}

/* ---- loading ----------------------------------------------------------------------- */

static int semantic_checks(hd_config *cfg, const hd_ynode *root)
{
    hd_sim_cfg *s = &cfg->collect.simulate;
    int any = s->lat_min != 0 || s->lat_max != 0 || s->lon_min != 0 || s->lon_max != 0;
    if (any && (s->lat_min >= s->lat_max || s->lon_min >= s->lon_max)) {
        const hd_ynode *n = lookup(root, "collect.simulate.region");
        hd_ynode dummy = {.src = cfg->path};
        return node_error(n ? n : &dummy, "collect.simulate.region: needs lat_min < lat_max and lon_min < lon_max");
    }
    return 0;
}

static int load_tree(hd_config *cfg, hd_ynode *root, int embedded, const char *const *sets, int n_sets)
{
    int rc;
    hd_ynode *st_root = NULL;
    char *st_text = NULL;
    char st_src[HD_PATH_LEN + 32];
    char (*labels)[512] = NULL;
    if (root->kind != HD_YMAP)
        return node_error(root, "a config is a mapping of sections (seed, stations, collect, …)");
    if (n_sets > 0 && !(labels = hd_calloc((size_t)n_sets, sizeof *labels)))
        return HD_ENOMEM;
    for (int i = 0; i < n_sets; i++) {
        snprintf(labels[i], sizeof labels[i], "--set %s", sets[i]);
        if ((rc = apply_set(root, labels[i])) < 0)
            goto done;
    }
    if ((rc = bind_table(keys, (int)HD_ARRAY_LEN(keys), root, (char *)cfg, NULL)) < 0)
        goto done;
    const hd_ynode *st = hd_ynode_get(root, "stations");
    if (!st || st->kind == HD_YSCALAR) {
        /* no stations: the default's network, built in (stages after
         * collect take their receivers from their input files) */
        const char *name = st ? st->value : HD_DEFAULT_STATIONS;
        cfg->stations_default = !st;
        hd_strlcpy(cfg->stations_path, name, sizeof cfg->stations_path);
        if ((rc = load_stations_file(cfg, name, st ? st : root, embedded || !st, &st_root, &st_text, st_src,
                                     sizeof st_src)) < 0)
            goto done;
        /* the stations file's nodes point at st_src for messages */
        rc = bind_stations(cfg, hd_ynode_get(st_root, "stations"));
    } else {
        rc = bind_stations(cfg, st);
    }
    if (rc == 0)
        rc = semantic_checks(cfg, root);
    if (rc == 0)
        rc = dump_config(cfg);
done:
    hd_ynode_free(st_root);
    free(st_text);
    free(labels);
    return rc;
}

int hd_config_load_string(hd_config *cfg, const char *yaml, const char *name, const char *const *sets, int n_sets)
{
    hd_ynode *root = NULL;
    memset(cfg, 0, sizeof *cfg);
    hd_strlcpy(cfg->path, name, sizeof cfg->path);
    int embedded = strncmp(name, "<embedded:", 10) == 0;
    int rc = hd_yaml_parse(yaml, cfg->path, &root);
    if (rc == 0)
        rc = load_tree(cfg, root, embedded, sets, n_sets);
    hd_ynode_free(root);
    if (rc < 0)
        hd_config_release(cfg);
    return rc;
}

int hd_config_load(hd_config *cfg, const char *path, const char *const *sets, int n_sets)
{
    if (!path) {
        const char *e = hd_embedded_file("default.yaml");
        if (!e)
            return hd_error(HD_ECONFIG, "no embedded default config in this build");
        return hd_config_load_string(cfg, e, "<embedded:default.yaml>", sets, n_sets);
    }
    char *text = NULL;
    int rc = hd_read_file(path, &text, NULL);
    if (rc < 0) {
        char msg[1024];
        hd_strlcpy(msg, hd_errmsg(), sizeof msg);
        memset(cfg, 0, sizeof *cfg);
        return hd_error(HD_ECONFIG, "config: %s", msg);
    }
    rc = hd_config_load_string(cfg, text, path, sets, n_sets);
    free(text);
    return rc;
}

void hd_config_release(hd_config *cfg)
{
    free(cfg->yaml);
    cfg->yaml = NULL;
    free(cfg->stations);
    cfg->stations = NULL;
    cfg->n_stations = 0;
}

int hd_config_sha256(const hd_config *cfg, char hex[65])
{
    const char *y = cfg->yaml ? cfg->yaml : "";
    return hd_sha256_hex(y, strlen(y), hex);
}

/* ---- embedded files (src/config/embedded.S) --------------------------------------- */

extern const char hd_embedded_default_yaml[];
extern const char hd_embedded_smoke_yaml[];
extern const char hd_embedded_nw_italy_yaml[];

const char *hd_embedded_file(const char *name)
{
    static const struct { const char *name; const char *data; } files[] = {
        {"default.yaml", hd_embedded_default_yaml},
        {"smoke.yaml", hd_embedded_smoke_yaml},
        {"stations/nw-italy.yaml", hd_embedded_nw_italy_yaml},
    };
    for (size_t i = 0; i < HD_ARRAY_LEN(files); i++)
        if (strcmp(files[i].name, name) == 0)
            return files[i].data;
    return NULL;
}

int hd_config_sections_sha256(const char *yaml, const char *const *names, int n, char hex[65])
{
    size_t cap = strlen(yaml) + 1, len = 0;
    char *buf = hd_malloc(cap);
    if (!buf)
        return HD_ENOMEM;
    for (int k = 0; k < n; k++) {
        size_t kl = strlen(names[k]);
        for (const char *p = yaml; p && *p;) {
            const char *eol = strchr(p, '\n');
            size_t ll = eol ? (size_t)(eol - p) + 1 : strlen(p);
            if (strncmp(p, names[k], kl) == 0 && p[kl] == ':') {
                /* the section: this line and the indented ones after it */
                const char *q = p + ll;
                while (*q && (*q == ' ' || *q == '\n' || *q == '-')) {
                    const char *e2 = strchr(q, '\n');
                    q = e2 ? e2 + 1 : q + strlen(q);
                }
                memcpy(buf + len, p, (size_t)(q - p));
                len += (size_t)(q - p);
                break;
            }
            p += ll;
        }
    }
    int rc = hd_sha256_hex(buf, len, hex);
    free(buf);
    return rc;
}

int hd_config_stage_sections(const char *format, const char *names[4])
{
    static const struct { const char *format; const char *keys[4]; int n; } stages[] = {
        {"captures", {"seed", "stations", "collect"}, 3},
        {"features", {"featurize"}, 1},
        {"model", {"train"}, 1},
        {"evaluation", {"localize", "evaluate"}, 2},
        {"positions", {"localize"}, 1},
        {"comparison", {"localize", "evaluate"}, 2},
    };
    for (size_t i = 0; i < HD_ARRAY_LEN(stages); i++)
        if (strcmp(format, stages[i].format) == 0) {
            for (int k = 0; k < stages[i].n; k++)
                names[k] = stages[i].keys[k];
            return stages[i].n;
        }
    return 0;
}
