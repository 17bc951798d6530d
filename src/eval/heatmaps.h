/* localize --heatmap DIR: per located event, its delta-chi² heat map
 * (locate/heatmap.h) written as DIR/event_<index>.geojson (the 68.3 / 95.4 /
 * 99.7 % contours) and DIR/event_<index>.png, drawn with GMT by
 * DIR/event_<index>.sh (kept to restyle; its data beside it:
 * event_<index>_grid.xyz, _c683.dat, _c954.dat, _c997.dat, _receivers.dat,
 * _points.dat). Every file is written to a temporary name and renamed. */
#ifndef HD_EVAL_HEATMAPS_H
#define HD_EVAL_HEATMAPS_H
#include <stdint.h>
#include "config/config.h"
#include "eval/outputs.h"
#include "locate/heatmap.h"

typedef struct {
    char dir[1024];
    int force;
    int draw;                   /* run GMT (0: scripts and data only) */
    int max_events;             /* localize.heatmap_max_events */
    hd_heatmap_opts opt;
    int64_t written;            /* events mapped (GeoJSON written) */
    int64_t drawn;              /* PNGs drawn */
    int64_t skipped;            /* located events past max_events */
    int64_t unlocated;          /* events without a position: no map */
    int gmt;                    /* -1 not yet looked for, 0 missing, 1 found */
    double seconds;             /* in the maps' cost and contours (not the files, not GMT) */
} hd_heatmaps;

/* Check localize.heatmap_* and make DIR (its parent must exist); a DIR
 * holding heat maps already (event_*.geojson) is refused without force. */
int hd_heatmaps_begin(hd_heatmaps *h, const char *dir, const hd_localize_cfg *cfg, int force, int draw);
/* One event as localize located it (obs: the observations the solver had;
 * truth NaN when unknown). Events without a position are counted, as are
 * those beyond max_events. */
int hd_heatmaps_add(hd_heatmaps *h, const hd_locate_net *net, const hd_station *st, int R, const hd_located *ev,
                    const hd_locate_obs *obs, double truth_lat, double truth_lon);

/* The GeoJSON of one map: a FeatureCollection, per level (99.7, 95.4, 68.3 %,
 * outermost first) a Feature whose geometry is a MultiPolygon of the region
 * D < level ([lon, lat], exterior rings counter-clockwise, holes
 * clockwise) with properties event, kind "contour", probability, level,
 * time, frequency_hz;
 * then Points: the estimate (kind "estimate": chi2, dof, chi2_min,
 * chi2_scale, nu, t_scale, levels, the grid), the truth when known (kind
 * "truth") and the receivers used (kind "receiver", id). */
int hd_heatmap_write_geojson(FILE *f, const hd_heatmap *map, const hd_contour *lv, const hd_station *st, int R,
                             const hd_located *ev, double truth_lat, double truth_lon, const char *region,
                             const char *levels);

/* plots.c: the map's GMT script STEM.sh and its data (STEM_grid.xyz,
 * STEM_c683.dat …) for STEM.png: coastlines, borders, a scale bar, the
 * likelihood exp(-delta-chi²/2) as an image (transparent beyond the 99.7 %
 * level), the three contours, the receivers as labelled triangles, the
 * estimate and the truth. */
int hd_eval_write_heatmap_script(const char *stem, const hd_heatmap *map, const hd_contour *lv, const hd_station *st,
                                 int R, const hd_located *ev, double truth_lat, double truth_lon);

#endif
