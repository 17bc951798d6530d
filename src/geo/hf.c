/* LF/HF propagation: see hf.h. Geometry on a sphere of the mean earth
 * radius; the sky wave reflects as from a mirror at the F2 height (the
 * virtual height: the group path equals the mirror path), each hop covering
 * an equal share of the ground distance. Mode powers are relative weights:
 * the ground wave fades over ground_range_km, a sky mode exists from its hop
 * distance's skip distance on and above the minimum take-off angle, and each
 * further hop is hop_loss_db weaker. */
#include "geo/hf.h"
#include "geo/geo.h"

#include <math.h>
#include <string.h>

int hd_geo_hf_modes(const hd_hf_cfg *p, double ground_m, double f2_height_m, hd_hf_modes *out)
{
    const double R = HD_HF_EARTH_RADIUS_M, c = HD_SPEED_OF_LIGHT;
    double w[HD_HF_MODES] = {0}, wsum = 0;
    memset(out, 0, sizeof *out);
    ground_m = fmax(ground_m, 1.0);

    out->present[HD_HF_GROUND] = 1;
    out->path_m[HD_HF_GROUND] = ground_m;
    out->delay_s[HD_HF_GROUND] = ground_m / (c * p->ground_velocity_factor);
    out->dgroup_dground[HD_HF_GROUND] = 1 / p->ground_velocity_factor;
    w[HD_HF_GROUND] = exp(-ground_m / (p->ground_range_km * 1000.0));

    double h = fmax(f2_height_m, 1.0);
    for (int n = 1; n <= 2; n++) {
        int m = n == 1 ? HD_HF_1F2 : HD_HF_2F2;
        double hop = ground_m / n, th = hop / (2.0 * R);
        /* chord from the ground to the reflection point above the hop's middle */
        double s = sqrt(R * R + (R + h) * (R + h) - 2.0 * R * (R + h) * cos(th));
        double elev = atan2((R + h) * cos(th) - R, (R + h) * sin(th)) * 180.0 / M_PI;
        out->path_m[m] = 2.0 * n * s;
        out->delay_s[m] = out->path_m[m] / c;
        /* ds/dth = R (R + h) sin th / s, dth/dground = 1 / (2 n R) */
        out->dgroup_dground[m] = (R + h) * sin(th) / s;
        out->dgroup_dheight[m] = 2.0 * n * ((R + h) - R * cos(th)) / s;
        out->elevation_deg[m] = elev;
        if (hop >= p->skip_distance_km * 1000.0 && elev >= p->min_elevation_deg) {
            out->present[m] = 1;
            w[m] = pow(10.0, -(n - 1) * p->hop_loss_db / 10.0);
        }
    }
    int best = HD_HF_GROUND;
    for (int m = 0; m < HD_HF_MODES; m++) {
        wsum += w[m];
        if (out->present[m] && w[m] > w[best])
            best = m;
    }
    for (int m = 0; m < HD_HF_MODES; m++)
        out->power[m] = wsum > 0 ? w[m] / wsum : (m == HD_HF_GROUND);
    out->dominant = best;
    return best;
}
