/* Experiment configuration: YAML (libyaml) into typed structs.
 *
 * One experiment is one YAML file with top-level keys `seed`, `stations`
 * (a path relative to the file, or an inline list) and one section per
 * stage (`collect`, `featurize`, `train`, `localize`, `evaluate`). Every key
 * has a default, a type and a range; unknown keys are rejected with the
 * nearest valid key; errors name file:line:column. `--set a.b.c=value`
 * overrides apply before validation. hd_config_dump() gives the resolved
 * config (every key, stations inlined) that outputs embed verbatim. */
#ifndef HD_CONFIG_CONFIG_H
#define HD_CONFIG_CONFIG_H
#include <stddef.h>
#include <stdint.h>

/* Receivers of a dense file (every event holds every receiver) and
 * receivers of one event in a sparse file (collect.layout): the solvers'
 * receiver sets are 64-bit masks. A network may have up to HD_MAX_NETWORK
 * receivers: over HD_MAX_STATIONS its files are sparse (each event holds
 * only the receivers that heard it). */
#define HD_MAX_STATIONS 64
#define HD_MAX_NETWORK 100000
#define HD_DEFAULT_STATIONS "stations/nw-italy.yaml" /* the network of a config that names none (built in) */
#define HD_MAX_FREQS 16
#define HD_MAX_POLY 64
#define HD_ID_LEN 32
#define HD_NAME_LEN 96
#define HD_URL_LEN 256
#define HD_BANDS_LEN 128
#define HD_PATH_LEN 1024

typedef enum { HD_DRIVER_SIMULATE = 0, HD_DRIVER_KIWISDR = 1, HD_DRIVER_OPENWEBRX = 2 } hd_driver;
typedef enum { HD_CLOCK_GPS = 0, HD_CLOCK_FREE = 1 } hd_clock_kind;
/* featurize.pairs: every pair, or each receiver against the best-SNR one */
typedef enum { HD_PAIRS_ALL = 0, HD_PAIRS_REFERENCE = 1 } hd_pairs_kind;
/* Append only (stored in files). cw is an unmodulated carrier; the LF/HF
 * types (am, morse, rtty, dcf77) are narrow: see src/sim/sim.c signal_init. */
typedef enum {
    HD_SIG_NBFM = 0, HD_SIG_CW = 1, HD_SIG_FSK4 = 2,
    HD_SIG_AM = 3,     /* AM broadcast: carrier + band-limited audio */
    HD_SIG_MORSE = 4,  /* on-off keyed carrier, Morse-like at 20 wpm */
    HD_SIG_RTTY = 5,   /* 45.45 Bd FSK, 170 Hz shift */
    HD_SIG_DCF77 = 6,  /* time code: second marks in amplitude + PN phase */
    HD_SIG_COUNT = 7
} hd_signal_type;
/* HD_PL_HF: ground wave plus one- and two-hop F2 sky wave on the spherical
 * earth (src/sim/hf.c), for LF/HF over continental baselines */
typedef enum { HD_PL_LOG_DISTANCE = 0, HD_PL_HATA = 1, HD_PL_FREE_SPACE = 2, HD_PL_HF = 3 } hd_pathloss_model;
typedef enum { HD_SOURCE_SIMULATE = 0, HD_SOURCE_LIVE = 1, HD_SOURCE_KIWIWAV = 2, HD_SOURCE_SIGMF = 3 } hd_source;
/* How the simulator treats each station: as the stations file says, or all alike. */
typedef enum { HD_AS_STATIONS = -1 } hd_as_stations;
/* collect.simulate.transmitter.motion: static (a new transmitter per event)
 * or moving transmitters followed along deterministic paths (sim/motion.c) */
typedef enum { HD_MOTION_STATIC = 0, HD_MOTION_WALK = 1, HD_MOTION_CAR = 2, HD_MOTION_AIRCRAFT = 3 } hd_motion;
typedef enum { HD_LAYOUT_AUTO = 0, HD_LAYOUT_DENSE = 1, HD_LAYOUT_SPARSE = 2 } hd_layout;

/* One receiver of the network (an entry of a stations file). */
typedef struct {
    char id[HD_ID_LEN];          /* short unique id, [a-z0-9_-] */
    char name[HD_NAME_LEN];
    double lat, lon;             /* WGS84 degrees */
    double alt_m;                /* ellipsoidal height of the site, metres */
    double antenna_height_m;     /* antenna above ground (Hata base height) */
    int driver;                  /* hd_driver */
    char url[HD_URL_LEN];        /* ws/http URL of the live server ("" for simulate) */
    double sample_rate_hz;       /* IQ sample rate */
    double noise_figure_db;
    double antenna_gain_dbi;
    int clock;                   /* hd_clock_kind */
    double clock_sigma_ns;       /* gps: timing error 1-sigma; free: offset 1-sigma */
    double lo_ppm;               /* LO frequency error 1-sigma, ppm */
    double sample_rate_ppm;      /* sample clock error 1-sigma, ppm */
    double full_scale_dbm;       /* input power at ADC full scale with 0 dB gain */
    double max_gain_db;          /* AGC upper limit */
    int agc;                     /* 1: gain set per capture; 0: gain_db fixed */
    double gain_db;              /* fixed gain when agc is 0 */
    double gain_calibrated;      /* 1 if full_scale_dbm is a measured calibration */
    char antenna[HD_NAME_LEN];   /* the antenna as its owner describes it ("" unknown) */
    char bands[HD_BANDS_LEN];    /* frequency ranges received, "LO-HI[,LO-HI]" Hz ("" unknown) */
} hd_station;

typedef struct {
    double power_dbm[2];         /* uniform range [min, max] */
    double antenna_gain_dbi;
    double height_m[2];          /* uniform range, above ground */
    int signal_types[HD_SIG_COUNT]; /* hd_signal_type list */
    int n_signal_types;
    double fm_deviation_hz;      /* NBFM peak deviation */
    double fsk_symbol_rate;      /* 4FSK symbols per second */
    double fsk_deviation_hz;     /* outer symbol deviation (inner is 1/3) */
    double frequency_error_hz;   /* transmitter crystal error 1-sigma */
    int motion;                  /* hd_motion */
    int transmitters;            /* moving transmitters (event i: transmitter i mod N) */
} hd_tx_cfg;

/* LF/HF propagation (the simulator's model hf, and localize.propagation hf):
 * ground wave, one- and two-hop F2 sky wave (src/geo/hf.c). */
typedef struct {
    double ground_velocity_factor; /* ground-wave group speed / c (land ~0.9997) */
    double ground_range_km;      /* ground-wave power falls by 1/e over this distance */
    double f2_height_km;         /* F2 layer (mirror) height */
    double f2_height_sigma_km;   /* per-event jitter of the height, 1-sigma (localize: its uncertainty) */
    double skip_distance_km;     /* no sky wave at hop distances shorter than this */
    double min_elevation_deg;    /* no sky mode with a take-off angle below this */
    double hop_loss_db;          /* each further hop is this much weaker */
    int mode;                    /* localize only: hd_hf_mode_choice (auto: the strongest mode at each distance) */
} hd_hf_cfg;

typedef struct {
    int model;                   /* hd_pathloss_model */
    double exponent;             /* log-distance exponent */
    double reference_distance_m; /* free-space loss up to here, then exponent */
    double shadowing_db;         /* log-normal sigma */
    double rician_k_db;          /* K-factor for near links */
    double rician_max_km;        /* beyond this: Rayleigh */
    int multipath_taps;          /* extra taps after the direct one */
    double delay_spread_us;      /* RMS delay spread of the extra taps */
    hd_hf_cfg hf;                /* model hf only */
} hd_prop_cfg;

typedef struct {
    int driver;                  /* hd_driver, or HD_AS_STATIONS */
    int clock;                   /* hd_clock_kind, or HD_AS_STATIONS */
    double clock_sigma_ns;       /* used when clock is not as-stations */
    double sample_rate_hz;       /* 0: each station's own (must agree) */
    double gps_outage_probability; /* per event × receiver: GPS lost, clock free-running */
    double failure_probability;  /* per event × receiver: connection failure */
    double level_rate_hz;        /* S-meter updates per second (openwebrx) */
    double start_jitter_ms;      /* capture start spread between receivers */
    /* the receivers' true sites against the advertised ones (the stations
     * file): every receiver off by position_error_m (1-sigma per horizontal
     * axis), and with misplaced_probability one off by misplaced_km (an
     * owner's town centre, an old address); fixed for the campaign */
    double position_error_m;
    double misplaced_probability;
    double misplaced_km;
    /* collect.layout sparse: an event holds the receivers that heard it,
     * at most max_per_event (the strongest), those whose mean SNR over the
     * band is at least heard_snr_db */
    double heard_snr_db;
    int max_per_event;
} hd_simrx_cfg;

typedef struct {
    double lat_min, lat_max, lon_min, lon_max; /* bounding box; all 0: the stations' box */
    double polygon[HD_MAX_POLY][2];            /* optional [lat, lon] vertices */
    int n_polygon;
    double margin_km;                          /* grow the box by this much */
    hd_simrx_cfg receivers;
    hd_tx_cfg transmitter;
    hd_prop_cfg propagation;
} hd_sim_cfg;

/* collect.live: capture from the receivers of the stations file. */
typedef struct {
    double timeout_s;            /* connect, handshake and stall limit per receiver */
    int retries;                 /* reconnections after a refused or timed-out connect */
    double backoff_s;            /* first retry delay; doubles each time, ±50 % jitter */
    double passband_hz;          /* IQ passband requested (± half) */
    int max_message_kib;         /* largest WebSocket message accepted */
    double level_rate_hz;        /* openwebrx S-meter levels per second recorded */
    /* politeness: at most this many stations (simultaneous connections) on
     * one server; and per receiver at most max_listen_s seconds of listening
     * over the campaign (0: no limit; a receiver whose next capture would
     * pass it is not connected again: status not run) */
    int max_connections_per_server;
    double max_listen_s;
} hd_live_cfg;

typedef struct {
    int source;                  /* hd_source */
    int events;                  /* number of capture events */
    int64_t start_ns;            /* first event, Unix ns UTC */
    double interval_s;           /* between events */
    double duration_s;           /* capture length */
    double frequencies_hz[HD_MAX_FREQS]; /* cycled over events */
    int n_frequencies;
    int min_receivers;           /* an event is kept when at least this many succeeded */
    int compression;             /* gzip level for IQ, 0-9 */
    int layout;                  /* hd_layout: dense (every event × every receiver) or sparse */
    hd_sim_cfg simulate;
    hd_live_cfg live;
} hd_collect_cfg;

typedef struct {
    int nfft;                    /* Welch segment length */
    double psr_min_db;           /* a correlation peak below this is masked */
    double max_lag_s;            /* 0: from the network's largest baseline and clock quality */
    double min_rms_bw_hz;        /* narrower signals (a CW carrier) give no time difference */
    double modulation_min_s;     /* captures this long: pairs the correlation cannot time are timed from
                                    their modulation (hd_dsp_modulation_tdoa); 0: never */
    double max_clipped_fraction; /* a capture clipped beyond this is masked */
    double max_clock_ppm;        /* a GPS clock fit further than this from the nominal rate: not timed */
    double max_clock_residual_us;/* time stamps scattered about the clock fit beyond this (the rate drifted): not timed */
    int compression;             /* gzip level of /features */
    int64_t distributed_fft_min_samples; /* captures this long: transforms shared by all ranks */
    int pairs;                   /* HD_PAIRS_ALL or HD_PAIRS_REFERENCE */
    int logmel;                  /* store /logmel spectrograms (for convolutional models) */
    int logmel_n_fft, logmel_hop, logmel_n_mels;
    char fftw_wisdom[HD_PATH_LEN]; /* FFTW wisdom file: plans measured once and kept ("" none: estimated plans) */
} hd_featurize_cfg;

typedef struct {
    int arch;                    /* 0 set, 1 mlp */
    int hidden;
    int gelu;                    /* activation: 1 gelu, 0 relu */
    double tail_nu;              /* the loss: Student-t NLL with this many degrees of freedom (0: Gaussian) */
    int epochs;                  /* planned (the learning-rate schedule's length) */
    int stop_after;              /* stop after this many epochs in all, resumable (0: run to the end) */
    int batch_size;              /* global batch, split over ranks */
    double lr, weight_decay, clip_norm;
    int warmup_steps;
    int patience;                /* early stopping: epochs without a better validation loss */
    double val_fraction;         /* events held out for validation (by a hash of the event) */
    int exclude_split;           /* hd_split: leave a group of the file's /splits out of training */
    int exclude_group;           /* that group's value (a month, a time block) */
} hd_train_cfg;

typedef enum { HD_LOC_TDOA = 0, HD_LOC_RSS = 1, HD_LOC_HYBRID = 2, HD_LOC_NN = 3, HD_LOC_KNN = 4 } hd_locate_method;
/* How evaluate holds data out: none (classical methods fit nothing), or by
 * the file's /splits/month or /splits/time_block (leave one group out). */
typedef enum { HD_SPLIT_NONE = 0, HD_SPLIT_MONTH = 1, HD_SPLIT_TIME_BLOCK = 2 } hd_split;

typedef struct {
    int method;                  /* hd_locate_method */
    double tx_alt_m;             /* transmitter antenna height assumed (ellipsoidal), m */
    double grid_step_km;         /* initialisation grid spacing */
    double margin_km;            /* the grid covers the stations' box grown by this */
    int search;                  /* hd_loc_search: the grid search's kind */
    double max_region_km;        /* coarse search: the region grows from the receivers up to this size (0: fixed) */
    int min_receivers;           /* fewer usable receivers: "not enough receivers" */
    double outlier_sigma;        /* a pair or receiver inconsistent by more than this many sigma is dropped */
    int scale_by_chi2;           /* the event's own residuals scale its variances: posterior predictive Student-t */
    double prior_nu;             /* ... whose prior on the variance factor weighs this many residuals; nu = prior_nu + dof */
    double model_sigma_ns;       /* per receiver timing error the features do not carry (multipath) */
    double tail_nu;              /* without scale_by_chi2: timing methods' predictive a Student-t with this nu (0: Gaussian) */
    double refractivity_n;       /* 3-D solves: the air's refractivity at sea level, N units (ppm): ranges are
                                  * longer by that fraction along the path (0: vacuum) */
    double refractivity_scale_km;/* its exponential scale height (0: the same N at every height) */
    double max_range_km;         /* 3-D solves: the grid looks only where every receiver used is this close (0: anywhere) */
    int propagation;             /* hd_loc_propagation: straight lines at c, or the LF/HF modes of hf */
    hd_hf_cfg hf;                /* propagation hf: the modes' model (as the simulator's) */
    int legacy_scale;            /* not a key: scale_by_chi2 as before model format 3, the covariance times
                                  * (chi² + 4)/(dof + 4) and nu = tail_nu (to reproduce an older model's anchors) */
    double rss_exponent;         /* log-distance path-loss exponent */
    int rss_fit_exponent;        /* fit the exponent per event too (needs one more receiver) */
    double rss_sigma_db;         /* RSS error (shadowing) 1-sigma */
    double rss_offsets_db[HD_MAX_STATIONS]; /* per receiver calibration offsets (receivers order) */
    int n_rss_offsets;
    char calibration[HD_PATH_LEN]; /* calib.h5 (heimdall calibrate) applied by receiver id; "" none */
    int unknown_receivers;       /* hd_unknown_rx: receivers the calibration does not know */
    /* localize --heatmap DIR: each event's delta-chi² map (locate/heatmap.h) */
    int heatmap_points;          /* grid points along each side */
    int heatmap_max_events;      /* maps for the first this many located events (the rest counted, skipped) */
    int heatmap_region;          /* hd_heatmap_region: auto, search or box */
    int heatmap_levels;          /* hd_heatmap_levels: predictive (as the ellipses) or chi2 (2.30/6.18/11.83) */
    double heatmap_box[4];       /* region box: south, north, west, east (degrees) */
    int n_heatmap_box;
    /* not keys: what hd_calib_apply filled in from the calibration */
    int calibrated;              /* 1: a calibration was applied */
    double clock_offsets_s[HD_MAX_STATIONS]; /* receivers' order, subtracted from the time differences */
    uint8_t rx_uncalibrated[HD_MAX_STATIONS]; /* 1: the calibration does not know the receiver */
    double rss_cov_scale;        /* the calibration's factor on the rss method's covariance (0 or 1: none) */
} hd_localize_cfg;

/* localize.unknown_receivers: use them as they are (flagged), or mask them */
/* localize.search: auto (coarse when the dense grid would exceed
 * HD_LOC_DENSE_MAX points), grid (a dense grid every grid_step_km, as
 * before), coarse (coarse-to-fine, the region grown as needed). */
typedef enum { HD_SEARCH_AUTO = 0, HD_SEARCH_GRID = 1, HD_SEARCH_COARSE = 2 } hd_loc_search;
typedef enum { HD_UNKNOWN_RX_USE = 0, HD_UNKNOWN_RX_MASK = 1 } hd_unknown_rx;
/* localize.propagation: straight (the line of sight at c, VHF/UHF) or hf
 * (each receiver's path is the group path of its expected LF/HF mode:
 * ground wave or F2 sky wave, localize.hf.*). */
typedef enum { HD_LPROP_STRAIGHT = 0, HD_LPROP_HF = 1 } hd_loc_propagation;
/* localize.hf.mode: auto (the strongest mode at each distance, as the
 * simulator's dominant mode), or one mode for every receiver (value - 1: the mode) */
typedef enum { HD_HFMODE_AUTO = 0, HD_HFMODE_GROUND = 1, HD_HFMODE_1F2 = 2, HD_HFMODE_2F2 = 3 } hd_hf_mode_choice;

typedef struct {
    double snr_bins_db[16];      /* edges of the SNR breakdown */
    int n_snr_bins;
    int plots;                   /* draw PNG plots with gnuplot */
    int split;                   /* hd_split */
    int knn_k;                   /* neighbours of the kNN fingerprinting baseline */
} hd_evaluate_cfg;

/* import.mlat: ADS-B multilateration messages (heimdall import mlat). */
typedef struct {
    double gps_sigma_ns;         /* timing 1-sigma of a GPS-disciplined receiver (sensors.csv good TRUE) */
    double other_sigma_ns;       /* of any other receiver (its pairs are masked) */
    double alt_sigma_m;          /* the barometric altitude as an observation of the ellipsoidal height, 1-sigma */
    double alt_offset_m;         /* added to the barometric altitude */
    char clock_offsets[HD_PATH_LEN]; /* CSV serial,offset_ns subtracted from each receiver's arrival times ("": none) */
} hd_import_mlat_cfg;

typedef struct {
    hd_import_mlat_cfg mlat;
} hd_import_cfg;
/* heimdall track: fixes of one transmitter over time, filtered and smoothed */
typedef enum { HD_TRACK_CV = 0, HD_TRACK_CA = 1 } hd_track_model;
typedef enum { HD_TRACK_UPDATE_FIXES = 0, HD_TRACK_UPDATE_MEASUREMENTS = 1 } hd_track_update;
typedef struct {
    double max_gap_s;            /* a longer silence starts a new track */
    int model;                   /* hd_track_model: constant velocity or nearly constant acceleration */
    double accel_sigma_mps2;     /* process noise (white acceleration, cv; white jerk, ca, per s); 0: learnt */
    double gate_sigma;           /* a fix whose innovation is beyond this many sigma is gated out; 0: no gate */
    double fix_error_tau_s;      /* the fixes' errors correlated over this time (a Gauss–Markov state); 0: white */
    double fix_error_sigma_m;    /* that error's standard deviation; 0: learnt */
    int calibrate;               /* with the truth: the states' covariance calibrated (cross-validated over tracks) */
    int update;                  /* hd_track_update: each event's fix, or its own measurements (time differences) */
    int map;                     /* also OUT_map.png: the tracks against the truth (GMT) */
} hd_track_cfg;

typedef struct {
    char path[HD_PATH_LEN];      /* the file loaded, or "<embedded:default.yaml>" */
    char stations_path[HD_PATH_LEN]; /* as written in the config ("" when inline) */
    int stations_default;            /* 1: the config names no stations; the built-in HD_DEFAULT_STATIONS */
    uint64_t seed;
    hd_station *stations;        /* [n_stations], owned (hd_config_release) */
    int n_stations;
    hd_collect_cfg collect;
    hd_featurize_cfg featurize;
    hd_train_cfg train;
    hd_localize_cfg localize;
    hd_evaluate_cfg evaluate;
    hd_import_cfg import;
    hd_track_cfg track;
    char *yaml;                  /* the resolved config (hd_config_dump), owned */
} hd_config;

/* Load path (NULL: the embedded configs/default.yaml), apply the `--set`
 * overrides ("a.b.c=value"; value is YAML: 3, true, [1, 2], text), validate,
 * and fill cfg->yaml with the resolved config. On error returns HD_ECONFIG
 * (or HD_EIO/HD_ENOMEM) with a message "file:line:column: error: …" where a
 * position is known. */
int hd_config_load(hd_config *cfg, const char *path, const char *const *sets, int n_sets);

/* Load from a YAML string (tests); name is used in messages. */
int hd_config_load_string(hd_config *cfg, const char *yaml, const char *name,
                          const char *const *sets, int n_sets);

void hd_config_release(hd_config *cfg);

/* SHA-256 of the top-level sections `keys` (e.g. "featurize") of a resolved
 * config text (hd_config_dump's format: each section starts at column 0),
 * concatenated in the order given: a stage's config stamp. A missing
 * section counts as empty. */
int hd_config_sections_sha256(const char *yaml, const char *const *keys, int n, char hex[65]);
/* The sections a stage reads, by the format of the file it writes
 * ("captures" → seed, stations, collect; "features" → featurize; "model" →
 * train; "evaluation" → localize, evaluate). Returns the count, 0 if unknown. */
int hd_config_stage_sections(const char *format, const char *keys[4]);

/* SHA-256 of cfg->yaml. */
int hd_config_sha256(const hd_config *cfg, char hex[65]);

/* Name ↔ enum helpers ("kiwisdr", "gps", "nbfm", "log-distance", "simulate"). */
/* 2 when the station's bands cover freq_hz, 1 when they do not, 0 when it
 * lists none, -1 when the bands text is malformed. */
int hd_station_covers(const hd_station *st, double freq_hz);
/* A station id ([a-z0-9_-]) made from any text: lower case, every other
 * character as '-', repeats and ends trimmed; "rx" when nothing is left. */
void hd_station_id_make(const char *in, char *out, size_t n);
int hd_station_id_valid(const char *id);
/* Stations as a stations file's `stations:` list (YAML, the loader's own
 * quoting): id, lat, lon and every key whose value differs from its
 * default; comments[i] (may be NULL, lines split at '\n') written as
 * "# ..." lines before station i. *text is malloc'd. */
int hd_stations_yaml(const hd_station *st, int n, const char *const *comments, char **text);
/* A station of defaults with the given clock (-1: the schema's; id empty,
 * lat and lon zero). */
int hd_station_defaults(hd_station *st, int clock);

const char *hd_driver_name(int driver);
const char *hd_clock_name(int clock);
const char *hd_signal_name(int sig);
const char *hd_pathloss_name(int model);
const char *hd_source_name(int source);
const char *hd_method_name(int method);
int hd_method_parse(const char *name);   /* -1 when unknown */

/* Built-in files (configs/default.yaml, configs/smoke.yaml,
 * the stations files under configs/stations/), by path relative to configs/ ("default.yaml",
 * "stations/nw-italy.yaml"); NULL when absent. */
const char *hd_embedded_file(const char *name);

#endif
