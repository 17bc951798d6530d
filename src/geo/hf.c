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

/* The n-hop F2 mode (n 1 or 2) over ground_m at height h (both already
 * clamped to 1 m): its path, derivatives, take-off angle and whether it is
 * present. The one computation hd_geo_hf_modes and hd_geo_hf_group share. */
static int sky_mode(const hd_hf_cfg *p, double ground_m, double h, int n, double *path, double *dground,
                    double *dheight, double *elev_deg)
{
    const double R = HD_HF_EARTH_RADIUS_M;
    double hop = ground_m / n, th = hop / (2.0 * R);
    /* chord from the ground to the reflection point above the hop's middle */
    double s = sqrt(R * R + (R + h) * (R + h) - 2.0 * R * (R + h) * cos(th));
    double elev = atan2((R + h) * cos(th) - R, (R + h) * sin(th)) * 180.0 / M_PI;
    *path = 2.0 * n * s;
    /* ds/dth = R (R + h) sin th / s, dth/dground = 1 / (2 n R) */
    *dground = (R + h) * sin(th) / s;
    *dheight = 2.0 * n * ((R + h) - R * cos(th)) / s;
    *elev_deg = elev;
    return hop >= p->skip_distance_km * 1000.0 && elev >= p->min_elevation_deg;
}

/* the modes' relative weights when present */
static double ground_weight(const hd_hf_cfg *p, double ground_m)
{
    return exp(-ground_m / (p->ground_range_km * 1000.0));
}

static double sky_weight(const hd_hf_cfg *p, int n)
{
    return pow(10.0, -(n - 1) * p->hop_loss_db / 10.0);
}

int hd_geo_hf_modes(const hd_hf_cfg *p, double ground_m, double f2_height_m, hd_hf_modes *out)
{
    const double c = HD_SPEED_OF_LIGHT;
    double w[HD_HF_MODES] = {0}, wsum = 0;
    memset(out, 0, sizeof *out);
    ground_m = fmax(ground_m, 1.0);

    out->present[HD_HF_GROUND] = 1;
    out->path_m[HD_HF_GROUND] = ground_m;
    out->delay_s[HD_HF_GROUND] = ground_m / (c * p->ground_velocity_factor);
    out->dgroup_dground[HD_HF_GROUND] = 1 / p->ground_velocity_factor;
    w[HD_HF_GROUND] = ground_weight(p, ground_m);

    double h = fmax(f2_height_m, 1.0);
    for (int n = 1; n <= 2; n++) {
        int m = n == 1 ? HD_HF_1F2 : HD_HF_2F2;
        if (sky_mode(p, ground_m, h, n, &out->path_m[m], &out->dgroup_dground[m], &out->dgroup_dheight[m],
                     &out->elevation_deg[m])) {
            out->present[m] = 1;
            w[m] = sky_weight(p, n);
        }
        out->delay_s[m] = out->path_m[m] / c;
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

int hd_geo_hf_group(const hd_hf_cfg *p, double ground_m, double f2_height_m, int mode, double *delay_s,
                    double *dgroup_dground, double *dgroup_dheight)
{
    const double c = HD_SPEED_OF_LIGHT;
    ground_m = fmax(ground_m, 1.0);
    double h = fmax(f2_height_m, 1.0), path[3] = {0, 0, 0}, dg[3] = {0, 0, 0}, dh[3] = {0, 0, 0}, el;
    int have[3] = {1, 0, 0};
    if (mode < 0) { /* the dominant mode, as hd_geo_hf_modes picks it: a sky mode computed only when it could win */
        double wb = ground_weight(p, ground_m);
        mode = HD_HF_GROUND;
        for (int n = 1; n <= 2; n++) {
            int m = n == 1 ? HD_HF_1F2 : HD_HF_2F2;
            double w = sky_weight(p, n);
            if (!(w > wb))
                continue;
            have[m] = 1;
            if (sky_mode(p, ground_m, h, n, &path[m], &dg[m], &dh[m], &el)) {
                mode = m;
                wb = w;
            }
        }
    } else if (mode != HD_HF_GROUND) {
        have[mode] = 1;
        sky_mode(p, ground_m, h, mode == HD_HF_1F2 ? 1 : 2, &path[mode], &dg[mode], &dh[mode], &el);
    }
    (void)have;
    if (mode == HD_HF_GROUND) {
        *delay_s = ground_m / (c * p->ground_velocity_factor);
        *dgroup_dground = 1 / p->ground_velocity_factor;
        *dgroup_dheight = 0;
    } else {
        *delay_s = path[mode] / c;
        *dgroup_dground = dg[mode];
        *dgroup_dheight = dh[mode];
    }
    return mode;
}
