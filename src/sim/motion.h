/* Moving transmitters of the simulator (collect.simulate.transmitter.motion
 * walk | car | aircraft): each of `transmitters` follows a deterministic path
 * drawn from the seed and its id alone, so an event's truth (the
 * transmitter's position at the event's time) is the same on any rank and in
 * any order. Event i belongs to transmitter i mod N and keeps that
 * transmitter's frequency, power, signal type and crystal error.
 *
 *   walk      1.1–1.7 m/s legs of 5–40 s with heading changes (σ 30°), pauses
 *   car       straight blocks of 100–400 m on a street grid at 10–25 m/s,
 *             turns of ±90° at the intersections, stops of 5–30 s
 *   aircraft  200–250 m/s at 9–11 km, straight legs and gentle turns (≤ 0.5°/s)
 *
 * A path leaving the region box turns back towards its centre. */
#ifndef HD_SIM_MOTION_H
#define HD_SIM_MOTION_H
#include <stdint.h>
#include "capture/event.h"
#include "config/config.h"

typedef struct {
    double lat, lon;       /* WGS84 */
    double height_m;       /* above ground (flat ground at the ellipsoid) */
    double speed_mps;      /* horizontal ground speed */
    double heading_deg;    /* clockwise from north */
} hd_sim_motion_state;

/* Largest and smallest horizontal speeds of a motion kind (m/s; a moving
 * transmitter may also stop: the minimum is of the moving legs). */
void hd_sim_motion_speed_range(int motion, double *min_mps, double *max_mps);

/* The state of moving transmitter tx at t_s seconds after collect.start_time
 * (t_s >= 0). box: the region [lat_min, lat_max, lon_min, lon_max]
 * (hd_sim_region_box). */
int hd_sim_motion_at(const hd_config *cfg, const double box[4], int64_t tx, double t_s, hd_sim_motion_state *out);

/* Fill ev->tx_id, ev->frequency_hz and ev->truth of event ev->index (its
 * time_ns already set) for the configured motion. */
int hd_sim_motion_event(const hd_config *cfg, const double box[4], hd_event *ev);

#endif
