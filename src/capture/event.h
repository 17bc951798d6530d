/* The observation data model every source fills — the simulator, live
 * receivers and every importer alike: one event (what was captured when, at
 * which frequency) and one link per event × receiver (what that receiver
 * delivered). Truth is an optional part of each: known for simulated
 * campaigns and for recordings of known transmitters, NaN otherwise (a
 * reader of a file without /truth sets it so). */
#ifndef HD_CAPTURE_EVENT_H
#define HD_CAPTURE_EVENT_H
#include <stdint.h>

/* Per event × receiver capture status (any source). Append only: the
 * numbers are stored in files. */
typedef enum {
    HD_RX_OK = 0,
    HD_RX_REFUSED = 1,
    HD_RX_TIMEOUT = 2,
    HD_RX_BUSY = 3,
    HD_RX_AUTH = 4,
    HD_RX_PROTOCOL = 5,
    HD_RX_DISCONNECTED = 6,
    HD_RX_NOT_RUN = 7,     /* never attempted (interrupted) */
    HD_RX_STATUS_COUNT
} hd_rx_status;
const char *hd_rx_status_name(int status);

/* Dominant propagation mode of a link (simulated HF, model hf). Append only. */
typedef enum { HD_MODE_GROUND = 0, HD_MODE_1F2 = 1, HD_MODE_2F2 = 2, HD_MODE_COUNT } hd_prop_mode;
const char *hd_prop_mode_name(int mode);

/* The transmitter of an event, when known. */
typedef struct {
    double lat, lon, alt_m;    /* antenna position, WGS84; alt_m ellipsoidal (ground + height) */
    double height_m;           /* antenna height above ground */
    double power_dbm, gain_dbi;
    int signal_type;           /* hd_signal_type */
    double freq_offset_hz;     /* transmitter crystal error */
} hd_tx_truth;

/* One event: a capture of every receiver around one nominal instant. */
typedef struct {
    int64_t index;             /* event number within the campaign */
    int64_t time_ns;           /* nominal start, Unix ns UTC */
    double frequency_hz;       /* channel centre = receivers' tuning */
    double sample_rate_hz;     /* nominal, all receivers */
    int n_samples;             /* IQ samples per receiver */
    int n_levels;              /* level samples per receiver */
    double level_rate_hz;
    int64_t tx_id;             /* transmitter id (moving simulated transmitters; -1 none) */
    int64_t link_first;        /* sparse files: the event's first link row */
    int n_links;               /* sparse files: its links (the receivers that heard it) */
    hd_tx_truth truth;         /* NaN (signal_type -1) when unknown */
} hd_event;

/* What a link truly was (simulated sources), NaN when unknown. */
typedef struct {
    double distance_m;         /* slant range */
    double path_loss_db;       /* median path loss (model) */
    double shadowing_db;       /* added loss from log-normal shadowing */
    double fading_db;          /* small-scale power gain of the channel, dB */
    double rx_power_dbm;       /* mean signal power at the antenna port */
    double noise_dbm;          /* kTBF over the sample rate */
    double snr_db;             /* rx_power - noise over the full band */
    double arrival_s;          /* true arrival of emission epoch 0 (direct path) */
    double true_t0_s;          /* true first-sample time */
    double clock_error_s;      /* t0_s - true_t0_s */
    double lo_offset_hz;       /* receiver LO error (received tone moves by -this) */
    double sample_rate_error_ppm;
    double freq_offset_hz;     /* total offset of the signal in the baseband */
    int prop_mode;             /* hd_prop_mode of the strongest tap; -1 unknown / not model hf */
    double excess_delay_s;     /* arrival of that mode minus great-circle distance / c (NaN unless hf) */
    double rx_lat, rx_lon;     /* the receiver's true site (the simulator's: displaced from the
                                  advertised one by collect.simulate.receivers.position_error_m …) */
} hd_link_truth;

/* One receiver's view of an event: what it delivered and how it was timed. */
typedef struct {
    int rx;                    /* sparse files: the receiver (row of /receivers) */
    int status;                /* hd_rx_status */
    int has_iq, has_levels;
    int gps_ok;                /* time stamp GPS-disciplined for this capture */
    int last_gps_solution_s;   /* seconds since last GPS fix (KiwiSDR), 0 when locked */
    double t0_s;               /* reported first-sample time, rel. event time */
    double gain_db;            /* receiver gain applied */
    double clipped_fraction;   /* IQ samples at full scale */
    /* the receiver's clock as its GPS time stamps give it (a KiwiSDR stamps
     * every 512-sample block): the fitted sample rate, 0 or NaN unknown
     * (then the nominal rate is assumed), the stamps' RMS residual about
     * the fit and how many stamps made it */
    double clock_rate_hz;
    double clock_residual_s;
    int clock_n_fit;
    hd_link_truth truth;
} hd_link;

/* Mark an event's or a link's truth unknown (NaN; signal_type -1). */
void hd_tx_truth_unknown(hd_tx_truth *t);
void hd_link_truth_unknown(hd_link_truth *t);

#endif
