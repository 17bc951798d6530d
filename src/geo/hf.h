/* LF/HF propagation modes on a spherical earth: the ground wave, and one-
 * and two-hop sky wave by mirror reflection from the F2 layer. What the
 * simulator renders (collect.simulate.propagation.model hf) and what
 * localize models (localize.propagation hf) are the same geometry. */
#ifndef HD_GEO_HF_H
#define HD_GEO_HF_H
#include "config/config.h"

#define HD_HF_EARTH_RADIUS_M 6371008.8

/* The modes, in the order of capture/event.h's hd_prop_mode. */
enum { HD_HF_GROUND = 0, HD_HF_1F2 = 1, HD_HF_2F2 = 2, HD_HF_MODES = 3 };

typedef struct {
    int present[HD_HF_MODES];        /* the mode reaches the receiver */
    double delay_s[HD_HF_MODES];     /* group delay of the mode */
    double path_m[HD_HF_MODES];      /* its path's length (the ground wave's: the ground distance) */
    /* the group path (c times the delay) differentiated along the ground
     * distance and along the F2 height (0 for the ground wave) */
    double dgroup_dground[HD_HF_MODES], dgroup_dheight[HD_HF_MODES];
    double elevation_deg[HD_HF_MODES]; /* take-off angle (0 for ground) */
    double power[HD_HF_MODES];       /* relative power, summing to 1 over the present modes */
    int dominant;                    /* the strongest mode */
} hd_hf_modes;

/* The modes for a great-circle ground distance ground_m (m) and an F2
 * height (m). Returns the dominant mode. */
int hd_geo_hf_modes(const hd_hf_cfg *p, double ground_m, double f2_height_m, hd_hf_modes *out);

/* One mode's group delay (s) and the group path's derivatives along the
 * ground distance and the F2 height: mode HD_HF_GROUND .. HD_HF_2F2, or -1
 * for the dominant one. The numbers hd_geo_hf_modes gives for that mode,
 * computing only it (localize's model, a few times per receiver and
 * point). Returns the mode. */
int hd_geo_hf_group(const hd_hf_cfg *p, double ground_m, double f2_height_m, int mode, double *delay_s,
                    double *dgroup_dground, double *dgroup_dheight);

#endif
