/* Moving transmitters (motion.h): a path is a chain of legs, each of
 * constant speed and constant turn rate, drawn in order from the
 * transmitter's own random stream; the position within a leg is the
 * leg's displacement in its start's tangent plane carried along the
 * geodesic (exact for straight legs). */
#include "sim/motion.h"
#include "core/error.h"
#include "core/rng.h"
#include "geo/geo.h"

#include <math.h>
#include <string.h>

#define RX_MOTION 0xFFFFFFFEu  /* receiver id of a transmitter's path stream */
#define DEG (M_PI / 180.0)
#define MAX_LEGS 10000000L

void hd_sim_motion_speed_range(int motion, double *min_mps, double *max_mps)
{
    static const double lo[4] = {0, 1.1, 10.0, 200.0}, hi[4] = {0, 1.7, 25.0, 250.0};
    int m = motion >= 0 && motion < 4 ? motion : 0;
    if (min_mps)
        *min_mps = lo[m];
    if (max_mps)
        *max_mps = hi[m];
}

typedef struct {
    double duration_s, speed, turn_dps;
} leg;

/* bearing from (lat, lon) to the box centre when the point is outside the
 * box, else NAN */
static double homing(const double box[4], double lat, double lon)
{
    if (lat >= box[0] && lat <= box[1] && lon >= box[2] && lon <= box[3])
        return NAN;
    double az;
    hd_geo_inverse(lat, lon, 0.5 * (box[0] + box[1]), 0.5 * (box[2] + box[3]), NULL, &az, NULL);
    return az;
}

static double wrap180(double a)
{
    a = fmod(a + 180.0, 360.0);
    if (a < 0)
        a += 360.0;
    return a - 180.0;
}

/* The next leg from the current position and heading (may change *heading). */
static leg next_leg(int motion, hd_rng *r, const double box[4], double lat, double lon, double *heading,
                    double *cruise, double grid)
{
    leg g = {0};
    double home = homing(box, lat, lon);
    /* every draw in a fixed order, whatever the branch */
    double u_stop = hd_rng_uniform(r), u_dur = hd_rng_uniform(r), u_speed = hd_rng_uniform(r);
    double z_turn = hd_rng_normal(r), u_turn = hd_rng_uniform(r);
    switch (motion) {
    case HD_MOTION_WALK:
        if (u_stop < 0.1) { /* a pause */
            g.duration_s = 5.0 + 25.0 * u_dur;
            return g;
        }
        *heading = isnan(home) ? *heading + 30.0 * z_turn : home + 20.0 * z_turn;
        g.duration_s = 5.0 + 35.0 * u_dur;
        g.speed = 1.1 + 0.6 * u_speed;
        return g;
    case HD_MOTION_CAR: {
        if (u_stop < 0.2) { /* a stop at the intersection */
            g.duration_s = 5.0 + 25.0 * u_dur;
            return g;
        }
        if (!isnan(home)) { /* the grid direction nearest home */
            double k = nearbyint(wrap180(home - grid) / 90.0);
            *heading = grid + 90.0 * k;
        } else if (u_turn < 0.25) {
            *heading -= 90.0;
        } else if (u_turn < 0.5) {
            *heading += 90.0;
        }
        g.speed = 10.0 + 15.0 * u_speed;
        g.duration_s = (100.0 + 300.0 * u_dur) / g.speed;
        return g;
    }
    default: { /* aircraft */
        *cruise = fmin(fmax(*cruise + 5.0 * z_turn, 200.0), 250.0);
        g.speed = *cruise;
        g.duration_s = 60.0 + 180.0 * u_dur;
        if (!isnan(home)) {
            double d = wrap180(home - *heading);
            g.turn_dps = d >= 0 ? 0.5 : -0.5;
            g.duration_s = fmax(fabs(d) / 0.5, 1.0);
        } else if (u_stop < 0.5) {
            g.turn_dps = 0.5 * (2.0 * u_turn - 1.0);
        }
        return g;
    }
    }
}

/* Move from (lat, lon, heading) along leg g for tau seconds. */
static void advance(const leg *g, double tau, double *lat, double *lon, double *heading)
{
    if (g->speed <= 0 || tau <= 0)
        return;
    double h0 = *heading * DEG, w = g->turn_dps * DEG, e, n;
    if (fabs(w * tau) < 1e-9) {
        e = g->speed * tau * sin(h0);
        n = g->speed * tau * cos(h0);
    } else {
        e = g->speed / w * (cos(h0) - cos(h0 + w * tau));
        n = g->speed / w * (sin(h0 + w * tau) - sin(h0));
    }
    double s = hypot(e, n), az = atan2(e, n) / DEG, az2 = az;
    if (s > 0)
        hd_geo_direct(*lat, *lon, az, s, lat, lon, &az2);
    /* the heading at the end: the leg's turn, carried along the geodesic */
    *heading = wrap180(*heading + g->turn_dps * tau + (az2 - az));
}

int hd_sim_motion_at(const hd_config *cfg, const double box[4], int64_t tx, double t_s, hd_sim_motion_state *out)
{
    const hd_tx_cfg *t = &cfg->collect.simulate.transmitter;
    int motion = t->motion;
    memset(out, 0, sizeof *out);
    if (motion < HD_MOTION_WALK || motion > HD_MOTION_AIRCRAFT)
        return hd_error(HD_EINVAL, "transmitter motion %d is not a moving kind", motion);
    if (!(t_s >= 0) || !isfinite(t_s))
        return hd_error(HD_EINVAL, "motion time %g s is before the campaign start", t_s);
    hd_rng r;
    hd_rng_init(&r, cfg->seed, (uint32_t)tx, RX_MOTION, HD_RNG_TX);
    /* the start: uniform by area in the box, a heading, a street grid */
    double z = hd_rng_uniform_range(&r, sin(box[0] * DEG), sin(box[1] * DEG));
    double lat = asin(z) / DEG, lon = hd_rng_uniform_range(&r, box[2], box[3]);
    double grid = hd_rng_uniform_range(&r, 0.0, 90.0);
    double heading = hd_rng_uniform_range(&r, -180.0, 180.0);
    double cruise = hd_rng_uniform_range(&r, 200.0, 250.0);
    double alt = hd_rng_uniform_range(&r, 9000.0, 11000.0);
    if (motion == HD_MOTION_CAR)
        heading = grid + 90.0 * (double)hd_rng_below(&r, 4);
    else
        (void)hd_rng_below(&r, 4);
    out->height_m = motion == HD_MOTION_AIRCRAFT ? alt : 1.5;
    double t0 = 0;
    for (long k = 0;; k++) {
        if (k > MAX_LEGS)
            return hd_error(HD_EINVAL, "motion time %g s is too far along the path", t_s);
        leg g = next_leg(motion, &r, box, lat, lon, &heading, &cruise, grid);
        if (t0 + g.duration_s >= t_s) {
            advance(&g, t_s - t0, &lat, &lon, &heading);
            out->speed_mps = g.speed;
            break;
        }
        advance(&g, g.duration_s, &lat, &lon, &heading);
        t0 += g.duration_s;
    }
    out->lat = lat;
    out->lon = lon;
    out->heading_deg = heading < 0 ? heading + 360.0 : heading;
    return 0;
}

int hd_sim_motion_event(const hd_config *cfg, const double box[4], hd_event *ev)
{
    const hd_collect_cfg *c = &cfg->collect;
    const hd_tx_cfg *t = &c->simulate.transmitter;
    int64_t N = t->transmitters > 0 ? t->transmitters : 1;
    int64_t tx = ev->index % N;
    int rc;
    ev->tx_id = tx;
    ev->frequency_hz = c->frequencies_hz[tx % (c->n_frequencies > 0 ? c->n_frequencies : 1)];
    hd_sim_motion_state st;
    if ((rc = hd_sim_motion_at(cfg, box, tx, (double)(ev->time_ns - c->start_ns) * 1e-9, &st)) < 0)
        return rc;
    /* the radio: one power, signal type and crystal for the whole path */
    hd_rng r;
    hd_rng_init(&r, cfg->seed, (uint32_t)tx, RX_MOTION, HD_RNG_MODULATION);
    ev->truth.lat = st.lat;
    ev->truth.lon = st.lon;
    ev->truth.height_m = st.height_m;
    ev->truth.alt_m = st.height_m;
    ev->truth.power_dbm = hd_rng_uniform_range(&r, t->power_dbm[0], t->power_dbm[1]);
    ev->truth.gain_dbi = t->antenna_gain_dbi;
    ev->truth.signal_type = t->signal_types[hd_rng_below(&r, (uint32_t)(t->n_signal_types > 0 ? t->n_signal_types : 1))];
    ev->truth.freq_offset_hz = t->frequency_error_hz * hd_rng_normal(&r);
    return 0;
}
