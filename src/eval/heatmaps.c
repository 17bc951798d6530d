/* localize --heatmap: per-event heat maps as GeoJSON contours and GMT
 * PNGs (see heatmaps.h). */
#include "eval/heatmaps.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/util.h"

#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(11))

static const char *const region_names[] = {"auto", "search", "box"};

int hd_heatmaps_begin(hd_heatmaps *h, const char *dir, const hd_localize_cfg *cfg, int force, int draw)
{
    memset(h, 0, sizeof *h);
    h->gmt = -1;
    h->force = force;
    h->draw = draw;
    h->max_events = cfg->heatmap_max_events;
    h->opt.points = cfg->heatmap_points;
    h->opt.region = cfg->heatmap_region;
    h->opt.levels = cfg->heatmap_levels;
    if (cfg->heatmap_region == HD_HEATMAP_BOX) {
        if (cfg->n_heatmap_box != 4)
            return hd_error(HD_ECONFIG, "localize.heatmap_region box needs localize.heatmap_box: [south, north, "
                                        "west, east] (degrees; it has %d values)", cfg->n_heatmap_box);
        memcpy(h->opt.box, cfg->heatmap_box, sizeof h->opt.box);
        if (!(h->opt.box[0] < h->opt.box[1]) || !(h->opt.box[2] < h->opt.box[3]) || h->opt.box[0] < -90 ||
            h->opt.box[1] > 90)
            return hd_error(HD_ECONFIG, "localize.heatmap_box [%g, %g, %g, %g] is not [south, north, west, east] "
                                        "with south < north within ±90 and west < east", h->opt.box[0], h->opt.box[1],
                            h->opt.box[2], h->opt.box[3]);
    } else if (cfg->n_heatmap_box) {
        return hd_error(HD_ECONFIG, "localize.heatmap_box is set but localize.heatmap_region is %s (set it to box)",
                        region_names[cfg->heatmap_region]);
    }
    if (strlen(dir) + 40 >= sizeof h->dir)
        return hd_error(HD_EINVAL, "--heatmap %s: the path is too long", dir);
    hd_strlcpy(h->dir, dir, sizeof h->dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return hd_error(HD_EIO, "--heatmap %s: cannot make the folder: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hd_error(HD_EIO, "--heatmap %s: not a folder", dir);
    char pat[1100];
    snprintf(pat, sizeof pat, "%s/event_*.geojson", dir);
    glob_t g;
    int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    size_t n = found ? g.gl_pathc : 0;
    globfree(&g);
    if (found && !force)
        return hd_error(HD_EEXIST, "--heatmap %s holds heat maps already (%zu event_*.geojson); use --force to "
                                   "overwrite", dir, n);
    return 0;
}

/* [lon, lat] pairs of a ring */
static json_t *ring_json(const hd_contour_ring *r)
{
    json_t *a = json_array();
    for (int k = 0; k < r->n; k++)
        json_array_append_new(a, json_pack("[f, f]", r->pt[k][0], r->pt[k][1]));
    return a;
}

static json_t *point(double lon, double lat)
{
    return json_pack("{s:s, s:[f, f]}", "type", "Point", "coordinates", lon, lat);
}

static json_t *feature(json_t *geometry, json_t *props)
{
    return json_pack("{s:s, s:o, s:o}", "type", "Feature", "geometry", geometry, "properties", props);
}

int hd_heatmap_write_geojson(FILE *f, const hd_heatmap *map, const hd_contour *lv, const hd_station *st, int R,
                             const hd_located *ev, double truth_lat, double truth_lon, const char *region,
                             const char *levels)
{
    const hd_locate_result *res = &ev->res;
    char t[40];
    hd_time_format_iso8601(ev->time_ns, t);
    json_t *feats = json_array();
    for (int k = HD_HEATMAP_LEVELS - 1; k >= 0; k--) {
        json_t *polys = json_array();
        for (int e = 0; e < lv[k].n; e++) {
            if (lv[k].ring[e].hole)
                continue;
            json_t *poly = json_array();
            json_array_append_new(poly, ring_json(&lv[k].ring[e]));
            for (int q = 0; q < lv[k].n; q++)
                if (lv[k].ring[q].hole && lv[k].ring[q].parent == e)
                    json_array_append_new(poly, ring_json(&lv[k].ring[q]));
            json_array_append_new(polys, poly);
        }
        json_t *geom = json_pack("{s:s, s:o}", "type", "MultiPolygon", "coordinates", polys);
        json_array_append_new(feats, feature(geom, json_pack("{s:I, s:s, s:f, s:f, s:s, s:f}", "event",
                                                             (json_int_t)ev->index, "kind", "contour", "probability",
                                                             hd_heatmap_probability[k], "level", map->level[k], "time",
                                                             t, "frequency_hz", ev->frequency_hz)));
    }
    double w = map->lon0, s = map->lat0, e = map->lon0 + (map->nx - 1) * map->dlon,
           n = map->lat0 + (map->ny - 1) * map->dlat;
    json_t *grid = json_pack("{s:f, s:f, s:f, s:f, s:i, s:i, s:s}", "south", s, "north", n, "west", w, "east", e, "nx",
                             map->nx, "ny", map->ny, "region", region);
    json_t *est = json_pack("{s:I, s:s, s:s, s:f, s:s, s:s, s:f, s:i, s:f, s:f, s:f, s:f, s:s, s:o}", "event",
                            (json_int_t)ev->index, "kind", "estimate", "time", t, "frequency_hz", ev->frequency_hz,
                            "method", hd_method_name(res->method), "status", hd_loc_status_name(res->status), "chi2",
                            res->chi2, "dof", res->dof, "chi2_min", map->chi2_min, "chi2_scale", map->scale, "nu",
                            map->nu, "t_scale", map->tscale, "levels", levels, "grid", grid);
    if (res->ambiguous) {
        json_object_set_new(est, "ambiguous", json_true());
        json_object_set_new(est, "second_lat", json_real(res->lat2));
        json_object_set_new(est, "second_lon", json_real(res->lon2));
    }
    json_array_append_new(feats, feature(point(res->lon, res->lat), est));
    if (isfinite(truth_lat) && isfinite(truth_lon))
        json_array_append_new(feats, feature(point(truth_lon, truth_lat),
                                             json_pack("{s:I, s:s}", "event", (json_int_t)ev->index, "kind", "truth")));
    for (int r = 0; r < R; r++)
        if ((res->used >> r & 1) && isfinite(st[r].lat) && isfinite(st[r].lon))
            json_array_append_new(feats, feature(point(st[r].lon, st[r].lat),
                                                 json_pack("{s:s, s:s}", "kind", "receiver", "id", st[r].id)));
    json_t *fc = json_pack("{s:s, s:[f, f, f, f], s:o}", "type", "FeatureCollection", "bbox", w, s, e, n, "features",
                           feats);
    int rc = fc && json_dumpf(fc, f, JSON_FLAGS) == 0 && fputc('\n', f) != EOF ? 0 : HD_EIO;
    json_decref(fc);
    return rc < 0 ? hd_error(rc, "writing the heat map's GeoJSON") : 0;
}

static int gmt_found(hd_heatmaps *h)
{
    if (h->gmt < 0)
        h->gmt = system("command -v gmt >/dev/null 2>&1") == 0;
    return h->gmt;
}

int hd_heatmaps_add(hd_heatmaps *h, const hd_locate_net *net, const hd_station *st, int R, const hd_located *ev,
                    const hd_locate_obs *obs, double truth_lat, double truth_lon)
{
    const hd_locate_result *res = &ev->res;
    if (res->status != HD_LOC_OK && res->status != HD_LOC_OUTSIDE) {
        h->unlocated++;
        return 0;
    }
    if (h->written >= h->max_events) {
        h->skipped++;
        return 0;
    }
    double t0 = hd_now();
    hd_heatmap map;
    hd_contour lv[HD_HEATMAP_LEVELS];
    memset(lv, 0, sizeof lv);
    int rc = hd_heatmap_compute(net, obs, res, &h->opt, &map);
    if (rc < 0)
        return hd_error_context(rc, "event %lld's heat map", (long long)ev->index);
    rc = hd_heatmap_contours(net, obs, res, &h->opt, &map, lv, NULL);
    h->seconds += hd_now() - t0;
    char stem[1100], path[1200];
    snprintf(stem, sizeof stem, "%s/event_%lld", h->dir, (long long)ev->index);
    snprintf(path, sizeof path, "%s.geojson", stem);
    hd_outfile of;
    memset(&of, 0, sizeof of);
    if (rc < 0 || (rc = hd_outfile_open(&of, path, h->force)) < 0 ||
        (rc = hd_heatmap_write_geojson(of.f, &map, lv, st, R, ev, truth_lat, truth_lon, region_names[h->opt.region],
                                       h->opt.levels == HD_HEATMAP_CHI2 ? "chi2" : "predictive")) < 0 ||
        (rc = hd_outfile_commit(&of)) < 0)
        goto done;
    h->written++;
    if ((rc = hd_eval_write_heatmap_script(stem, &map, lv, st, R, ev, truth_lat, truth_lon)) < 0)
        goto done;
    if (!h->draw)
        goto done;
    if (!gmt_found(h)) {
        if (h->written == 1)
            hd_warn("gmt not found (Debian: gmt gmt-gshhg-low gmt-dcw ghostscript): heat map PNGs not drawn, the "
                    "GeoJSON contours and the scripts (%s/event_*.sh) written", h->dir);
        goto done;
    }
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "bash '%s.sh' >/dev/null 2>&1", stem);
    int st_ = system(cmd);
    if (st_ != 0)
        hd_warn("gmt failed (status %d): %s.png not drawn; run bash %s.sh to see why", st_, stem, stem);
    else
        h->drawn++;
done:
    hd_outfile_abort(&of);
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        hd_contour_release(&lv[k]);
    hd_heatmap_release(&map);
    return rc;
}
