/* Physics simulator of a receiver network: transmitters, propagation,
 * receivers. Computes in memory only, deterministically: every random draw
 * comes from hd_rng streams keyed by (seed, event, receiver, purpose), so an
 * event renders identically on any rank.
 *
 * Time axis: everything is relative to the event's nominal time
 * (hd_sim_event.time_ns). The transmitter emits s(t_e) continuously around
 * the capture; receiver r sees s(t - arrival_s[r]) with
 * arrival_s = slant_range / c (+ multipath taps), and takes its first sample
 * at true time true_t0_s but reports t0_s = true_t0_s + clock_error_s (its
 * GPS or free-running time stamp). */
#ifndef HD_SIM_SIM_H
#define HD_SIM_SIM_H
#include <stdint.h>
#include "config/config.h"

/* Per event × receiver status; also written by live capture. Append only. */
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

/* What one event is (drawn by hd_sim_event_draw). */
typedef struct {
    int64_t index;
    int64_t time_ns;           /* nominal start, Unix ns UTC */
    double frequency_hz;       /* channel centre = receivers' tuning */
    double sample_rate_hz;     /* nominal, all receivers */
    int n_samples;             /* IQ samples per receiver */
    int n_levels;              /* level samples per receiver */
    double level_rate_hz;
    /* transmitter truth */
    double tx_lat, tx_lon, tx_alt_m;  /* alt: ground (0) + height */
    double tx_height_m;
    double tx_power_dbm, tx_gain_dbi;
    int signal_type;           /* hd_signal_type */
    double tx_freq_offset_hz;  /* transmitter crystal error */
} hd_sim_event;

/* One receiver's view of an event: observation metadata and link truth. */
typedef struct {
    /* observed */
    int status;                /* hd_rx_status */
    int has_iq, has_levels;
    int gps_ok;                /* time stamp GPS-disciplined for this capture */
    int last_gps_solution_s;   /* seconds since last GPS fix (KiwiSDR), 0 when locked */
    double t0_s;               /* reported first-sample time, rel. event time */
    double gain_db;            /* receiver gain applied */
    double clipped_fraction;   /* IQ samples at full scale */
    /* truth */
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
} hd_sim_link;

/* Draw event `index` (transmitter position etc.) from cfg and its seed. */
int hd_sim_event_draw(const hd_config *cfg, int64_t index, hd_sim_event *ev);

/* Render receiver `rx` (index into cfg->stations) for the event: link truth
 * and observation metadata into *link; IQ into iq[2*n_samples] (interleaved
 * int16, I then Q) when the receiver gives IQ; levels (dBFS, power in the
 * level bandwidth) into levels[n_levels] when it gives levels. iq/levels may
 * be NULL to get only *link. Buffers not filled are zeroed. */
int hd_sim_render(const hd_config *cfg, const hd_sim_event *ev, int rx,
                  hd_sim_link *link, int16_t *iq, float *levels);

/* Median path loss (dB) of the configured model at frequency f for a slant
 * range d, transmitter height htx and receiver antenna height hrx. */
double hd_sim_path_loss_db(const hd_prop_cfg *p, double f_hz, double d_m, double htx_m, double hrx_m);

/* Thermal noise power kTBF in dBm for bandwidth B and noise figure NF. */
double hd_sim_noise_dbm(double bandwidth_hz, double nf_db);

/* Effective station parameters after the simulate.receivers overrides. */
void hd_sim_station(const hd_config *cfg, int rx, hd_station *out);

#endif
