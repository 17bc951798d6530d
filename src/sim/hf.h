/* LF/HF propagation of the simulator (collect.simulate.propagation.model hf):
 * ground wave, one- and two-hop sky wave by mirror reflection from the F2
 * layer, on a spherical earth. Internal to src/sim. */
#ifndef HD_SIM_HF_H
#define HD_SIM_HF_H
#include "capture/event.h"
#include "config/config.h"

#define HD_HF_EARTH_RADIUS_M 6371008.8

typedef struct {
    int present[HD_MODE_COUNT];   /* the mode reaches the receiver */
    double delay_s[HD_MODE_COUNT];  /* group delay of the mode */
    double path_m[HD_MODE_COUNT];   /* its path length */
    double elevation_deg[HD_MODE_COUNT]; /* take-off angle (0 for ground) */
    double power[HD_MODE_COUNT];    /* relative power, summing to 1 over the present modes */
    int dominant;                   /* hd_prop_mode of the strongest */
} hd_hf_modes;

/* The modes for a great-circle ground distance `ground_m` and an F2 height
 * (m). Returns the dominant mode. */
int hd_sim_hf_modes(const hd_prop_cfg *p, double ground_m, double f2_height_m, hd_hf_modes *out);

#endif
