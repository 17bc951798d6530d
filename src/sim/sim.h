/* Physics simulator of a receiver network: transmitters, propagation,
 * receivers. Computes in memory only, deterministically: every random draw
 * comes from hd_rng streams keyed by (seed, event, receiver, purpose), so an
 * event renders identically on any rank.
 *
 * Time axis: everything is relative to the event's nominal time
 * (hd_event.time_ns). The transmitter emits s(t_e) continuously around
 * the capture; receiver r sees s(t - arrival_s[r]) with
 * arrival_s = slant_range / c (+ multipath taps), and takes its first sample
 * at true time true_t0_s but reports t0_s = true_t0_s + clock_error_s (its
 * GPS or free-running time stamp). */
#ifndef HD_SIM_SIM_H
#define HD_SIM_SIM_H
#include <stdint.h>
#include "capture/event.h"
#include "config/config.h"

/* The region transmitters are drawn in, grown by the margin:
 * [lat_min, lat_max, lon_min, lon_max]. */
void hd_sim_region_box(const hd_config *cfg, double box[4]);

/* Draw event `index` (transmitter position etc.) from cfg and its seed. */
int hd_sim_event_draw(const hd_config *cfg, int64_t index, hd_event *ev);

/* Render receiver `rx` (index into cfg->stations) for the event: link truth
 * and observation metadata into *link; IQ into iq[2*n_samples] (interleaved
 * int16, I then Q) when the receiver gives IQ; levels (dBFS, power in the
 * level bandwidth) into levels[n_levels] when it gives levels. iq/levels may
 * be NULL to get only *link. Buffers not filled are zeroed. */
int hd_sim_render(const hd_config *cfg, const hd_event *ev, int rx,
                  hd_link *link, int16_t *iq, float *levels);

/* collect.layout sparse: the receivers that hear the event, rx[] in
 * ascending order (at most cap, at most collect.simulate.receivers.
 * max_per_event): among the 4 × max_per_event nearest to the transmitter,
 * those whose mean SNR (path loss, shadowing and fading drawn as
 * hd_sim_render draws them) is at least heard_snr_db, the strongest first.
 * rx_ecef: the stations' antennas in ECEF (m), made once (NULL: computed
 * here). Returns how many (0 when none hears it), or < 0. */
int hd_sim_heard(const hd_config *cfg, const hd_event *ev, int *rx, int cap, const double (*rx_ecef)[3]);

/* Median path loss (dB) of the configured model at frequency f for a slant
 * range d, transmitter height htx and receiver antenna height hrx. */
double hd_sim_path_loss_db(const hd_prop_cfg *p, double f_hz, double d_m, double htx_m, double hrx_m);

/* Thermal noise power kTBF in dBm for bandwidth B and noise figure NF. */
double hd_sim_noise_dbm(double bandwidth_hz, double nf_db);

/* Effective station parameters after the simulate.receivers overrides. */
void hd_sim_station(const hd_config *cfg, int rx, hd_station *out);

/* Whether the receivers' true sites differ from the advertised ones
 * (collect.simulate.receivers.position_error_m or misplaced_probability). */
int hd_sim_sites_displaced(const hd_config *cfg);

/* Receiver rx's true antenna site: the advertised position (the stations
 * file) moved by position_error_m (1 sigma per horizontal axis) and, with
 * misplaced_probability, by misplaced_km more in a random direction (an
 * owner's town centre, an old address). Fixed for the campaign: drawn from
 * (seed, receiver, HD_RNG_SITE), whatever the event. */
void hd_sim_true_site(const hd_config *cfg, int rx, double *lat, double *lon);

#endif
