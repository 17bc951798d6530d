/* Moving transmitters of the simulator (sim/motion.h): deterministic paths,
 * physically bounded (speeds, height, the region), events carrying their
 * transmitter's id, frequency and position; static stays static; bad
 * configs refused. */
#include "config/config.h"
#include "core/error.h"
#include "geo/geo.h"
#include "sim/motion.h"
#include "sim/sim.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int load(hd_config *c, const char *motion, int n)
{
    char y[256];
    snprintf(y, sizeof y, "seed: 5\ncollect:\n  interval_s: 2\n  simulate:\n    transmitter:\n      motion: %s\n"
             "      transmitters: %d\n", motion, n);
    return hd_config_load_string(c, y, "t.yaml", NULL, 0);
}

int main(void)
{
    static const char *const kinds[] = {"walk", "car", "aircraft"};
    for (int k = 0; k < 3; k++) {
        hd_config c;
        ok(load(&c, kinds[k], 3) == 0, "%s: a config of 3 moving transmitters loads", kinds[k]);
        int motion = c.collect.simulate.transmitter.motion;
        double box[4], vmin, vmax;
        hd_sim_region_box(&c, box);
        hd_sim_motion_speed_range(motion, &vmin, &vmax);
        /* an hour at 1 s: the distance covered each second, the speed, the height, the box */
        int bad_speed = 0, bad_leg = 0, bad_h = 0, far = 0, stops = 0, rc = 0;
        double max_step = 0, dist = 0, lat_prev = 0, lon_prev = 0;
        for (int t = 0; t <= 3600 && rc == 0; t++) {
            hd_sim_motion_state s;
            rc = hd_sim_motion_at(&c, box, 1, t, &s);
            if (t > 0) {
                double d;
                hd_geo_inverse(lat_prev, lon_prev, s.lat, s.lon, &d, NULL, NULL);
                max_step = fmax(max_step, d);
                dist += d;
                bad_speed += d > vmax * 1.001 + 1e-6;
            }
            stops += s.speed_mps == 0;
            bad_leg += s.speed_mps != 0 && (s.speed_mps < vmin || s.speed_mps > vmax);
            bad_h += motion == HD_MOTION_AIRCRAFT ? s.height_m < 9000 || s.height_m > 11000 : s.height_m != 1.5;
            /* never far outside the region: a path leaving it turns back */
            double slack = motion == HD_MOTION_AIRCRAFT ? 1.0 : 0.05; /* degrees */
            far += s.lat < box[0] - slack || s.lat > box[1] + slack || s.lon < box[2] - slack || s.lon > box[3] + slack;
            lat_prev = s.lat;
            lon_prev = s.lon;
        }
        ok(rc == 0, "%s: an hour of positions", kinds[k]);
        ok(bad_speed == 0, "%s: no second covers more than %.1f m (the fastest %.2f m)", kinds[k], vmax, max_step);
        ok(bad_leg == 0, "%s: every moving leg at %.1f-%.1f m/s", kinds[k], vmin, vmax);
        ok(bad_h == 0, "%s: the height %s", kinds[k], motion == HD_MOTION_AIRCRAFT ? "9-11 km" : "1.5 m");
        ok(far == 0, "%s: the path stays near the region", kinds[k]);
        ok(dist > 0.3 * vmin * 3600, "%s: it moves (%.0f m in an hour)", kinds[k], dist);
        if (motion == HD_MOTION_CAR || motion == HD_MOTION_WALK)
            ok(stops > 0, "%s: it stops sometimes (%d s of an hour)", kinds[k], stops);
        /* deterministic: the same state whatever was asked before; transmitters differ */
        hd_sim_motion_state a, b, o;
        hd_sim_motion_at(&c, box, 2, 1234.5, &a);
        hd_sim_motion_at(&c, box, 0, 3000, &o);
        hd_sim_motion_at(&c, box, 2, 1234.5, &b);
        ok(memcmp(&a, &b, sizeof a) == 0, "%s: the same time gives the same state", kinds[k]);
        ok(a.lat != o.lat || a.lon != o.lon, "%s: transmitters follow their own paths", kinds[k]);
        /* events: tx id i mod 3, the transmitter's frequency and its position at the event's time */
        int bad_id = 0, bad_pos = 0, bad_f = 0;
        double f0[3] = {0};
        for (int64_t i = 0; i < 30; i++) {
            hd_event ev;
            if (hd_sim_event_draw(&c, i, &ev) < 0) {
                bad_id++;
                continue;
            }
            bad_id += ev.tx_id != i % 3;
            if (i < 3)
                f0[i] = ev.frequency_hz;
            else
                bad_f += ev.frequency_hz != f0[i % 3];
            hd_sim_motion_state s;
            hd_sim_motion_at(&c, box, ev.tx_id, (double)(ev.time_ns - c.collect.start_ns) * 1e-9, &s);
            bad_pos += s.lat != ev.truth.lat || s.lon != ev.truth.lon || s.height_m != ev.truth.alt_m;
        }
        ok(bad_id == 0, "%s: event i is transmitter i mod 3", kinds[k]);
        ok(bad_f == 0, "%s: a transmitter keeps its frequency", kinds[k]);
        ok(bad_pos == 0, "%s: an event's truth is its transmitter's position at the event's time", kinds[k]);
        ok(hd_sim_motion_at(&c, box, 0, -1, &a) == HD_EINVAL, "%s: a time before the start refused", kinds[k]);
        hd_config_release(&c);
    }
    /* static (the default): no id, a new position every event */
    hd_config c;
    ok(hd_config_load_string(&c, "seed: 5\n", "t.yaml", NULL, 0) == 0, "the default config loads");
    is_int(c.collect.simulate.transmitter.motion, HD_MOTION_STATIC, "the default motion is static");
    hd_event e0, e1;
    ok(hd_sim_event_draw(&c, 0, &e0) == 0 && hd_sim_event_draw(&c, 4, &e1) == 0, "static events draw");
    ok(e0.tx_id == -1 && e1.tx_id == -1, "static events have no transmitter id");
    ok(e0.truth.lat != e1.truth.lat, "static events are drawn anew");
    hd_config_release(&c);
    /* bad values */
    ok(load(&c, "flying", 2) == HD_ECONFIG, "an unknown motion refused");
    ok(load(&c, "walk", 0) == HD_ECONFIG, "transmitters: 0 refused");
    ok(load(&c, "walk", 20000) == HD_ECONFIG, "transmitters: 20000 refused");
    done_testing();
    return exit_status();
}
