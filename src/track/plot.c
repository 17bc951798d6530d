/* The map of tracks against the truth (plot.h), drawn by GMT as evaluate's
 * eval_map.png is: a script and its data beside the PNG, so the map can be
 * restyled and redrawn. */
#include "track/plot.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "h5/h5.h"

#include <libgen.h> /* basename */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAP_W_CM 15.0

/* the receivers of the features file (any missing: none drawn) */
static int read_receivers(const char *features, double **lat, double **lon, int *R)
{
    hid_t f = -1;
    int rank;
    hsize_t d1[8], d2[8];
    *lat = *lon = NULL;
    *R = 0;
    if (!features || !features[0])
        return 0;
    H5E_BEGIN_TRY { f = H5Fopen(features, H5F_ACC_RDONLY, H5P_DEFAULT); } H5E_END_TRY;
    if (f < 0)
        return 0;
    if (H5Lexists(f, "receivers", H5P_DEFAULT) > 0 && H5Lexists(f, "receivers/lat", H5P_DEFAULT) > 0 &&
        H5Lexists(f, "receivers/lon", H5P_DEFAULT) > 0 &&
        hd_h5_read(f, "receivers/lat", H5T_NATIVE_DOUBLE, &rank, d1, (void **)lat) == 0 &&
        hd_h5_read(f, "receivers/lon", H5T_NATIVE_DOUBLE, &rank, d2, (void **)lon) == 0 && d1[0] == d2[0])
        *R = (int)d1[0];
    H5Fclose(f);
    return 0;
}

static void grow(double b[4], double lat, double lon)
{
    if (!isfinite(lat) || !isfinite(lon))
        return;
    b[0] = fmin(b[0], lat);
    b[1] = fmax(b[1], lat);
    b[2] = fmin(b[2], lon);
    b[3] = fmax(b[3], lon);
}

/* a scale bar about a fifth of the map wide: 1, 2 or 5 x 10^k km */
static double scale_km(const double b[4], double pw)
{
    double km = (b[3] - b[2] + 2 * pw) * 111.32 * cos(0.5 * (b[0] + b[1]) * M_PI / 180) / 5;
    double p = pow(10, floor(log10(fmax(km, 1e-3)))), f = km / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int hd_track_write_map(const char *png, const hd_track_input *in, const hd_track_result *r, int draw)
{
    char stem[1100], base[1100], tmp[1100], script[1200];
    const char *names[4] = {"truths", "fixes", "tracks", "receivers"};
    char paths[5][1300];
    hd_outfile of[5];
    double *rlat = NULL, *rlon = NULL, *e_fix = NULL, *e_trk = NULL;
    int R = 0, rc = 0;
    memset(of, 0, sizeof of);
    size_t len = strlen(png);
    if (len < 5 || strcmp(png + len - 4, ".png") != 0 || len >= sizeof stem)
        return hd_error(HD_EINVAL, "the tracks' map %s: a .png name", png);
    snprintf(stem, sizeof stem, "%.*s", (int)(len - 4), png);
    snprintf(tmp, sizeof tmp, "%s", stem);
    snprintf(base, sizeof base, "%s", basename(tmp));
    for (int k = 0; k < 4; k++)
        snprintf(paths[k], sizeof paths[k], "%s_%s.dat", stem, names[k]);
    snprintf(script, sizeof script, "%s.sh", stem);
    snprintf(paths[4], sizeof paths[4], "%s", script);
    read_receivers(in->features, &rlat, &rlon, &R);
    e_fix = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *e_fix);
    e_trk = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *e_trk);
    if (!e_fix || !e_trk) {
        rc = HD_ENOMEM;
        goto fail;
    }
    for (int k = 0; k < 5; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    double box[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    int64_t nf = 0, nt = 0, states = 0;
    for (int t = 0; t < r->n_tracks; t++) {
        const hd_track_info *ti = &r->trk[t];
        fprintf(of[0].f, "> track %d\n", t);
        fprintf(of[2].f, "> track %d\n", t);
        for (int64_t k = ti->first; k < ti->first + ti->n; k++) {
            const hd_track_point *p = &r->pt[k];
            const hd_track_fix *fx = &in->fix[p->input];
            double tla = in->truth_lat ? in->truth_lat[p->input] : NAN, tlo = in->truth_lon ? in->truth_lon[p->input] : NAN;
            if (isfinite(tla) && isfinite(tlo)) {
                fprintf(of[0].f, "%.7f %.7f\n", tlo, tla);
                grow(box, tla, tlo);
            }
            if (fx->located && isfinite(fx->lat) && isfinite(fx->lon))
                fprintf(of[1].f, "%.7f %.7f\n", fx->lon, fx->lat);
            if (p->has_state) {
                fprintf(of[2].f, "%.7f %.7f\n", p->lon, p->lat);
                grow(box, p->lat, p->lon);
                states++;
            }
            /* the errors of fixes and states on the same events, for the title */
            if (p->has_state && fx->located && isfinite(tla) && isfinite(fx->lat)) {
                double de = (fx->lon - tlo) * cos(tla * M_PI / 180) * 111320.0, dn = (fx->lat - tla) * 110574.0;
                e_fix[nf++] = hypot(de, dn);
                de = (p->lon - tlo) * cos(tla * M_PI / 180) * 111320.0, dn = (p->lat - tla) * 110574.0;
                e_trk[nt++] = hypot(de, dn);
            }
        }
    }
    for (int i = 0; i < R; i++) {
        fprintf(of[3].f, "%.7f %.7f\n", rlon[i], rlat[i]);
        grow(box, rlat[i], rlon[i]);
    }
    if (!isfinite(box[0])) {
        rc = hd_error(HD_EDATA, "the tracks' map %s: no state and no truth to draw", png);
        goto fail;
    }
    double pw = fmax((box[3] - box[2]) * 0.08, 0.005), ph = fmax((box[1] - box[0]) * 0.08, 0.005);
    char title[200] = "tracks (blue), truth (green), fixes (red)";
    if (nf > 0) {
        qsort(e_fix, (size_t)nf, sizeof *e_fix, cmp_double);
        qsort(e_trk, (size_t)nt, sizeof *e_trk, cmp_double);
        snprintf(title, sizeof title, "%d tracks: median error fixes %.0f m, tracks %.0f m (%lld events)", r->n_tracks,
                 e_fix[nf / 2], e_trk[nt / 2], (long long)nf);
    }
    fprintf(of[4].f,
            "#!/usr/bin/env bash\n"
            "# heimdall track: the tracks against the truth, drawn with GMT (Debian: gmt, gmt-gshhg-low,\n"
            "# gmt-dcw, ghostscript). Restyle and redraw with  bash %s.sh  from this folder.\n"
            "set -e\n"
            "cd \"$(dirname \"$0\")\"\n"
            "R=%.6f/%.6f/%.6f/%.6f\n"
            "gmt begin %s png\n"
            "gmt set MAP_FRAME_TYPE plain FORMAT_GEO_MAP ddd.xx FONT_ANNOT_PRIMARY 8p FONT_TITLE 10p\n"
            "gmt coast -R$R -JM%.1fc -Baf -B+t\"%s\" -Dl -A50 -W0.5p,gray40 -Gwhitesmoke -Slightsteelblue1 "
            "-LjBL+w%gk+o0.4c/0.4c+f+u\n"
            "gmt plot %s_fixes.dat -Sx0.10c -W0.5p,red3@30 -l\"fix\"\n"
            "gmt plot %s_truths.dat -W1.6p,forestgreen -l\"truth\"\n"
            "gmt plot %s_tracks.dat -W0.9p,royalblue -l\"track (smoothed)\"\n"
            "[ -s %s_receivers.dat ] && gmt plot %s_receivers.dat -St0.30c -Gblack -W0.3p,white -l\"receiver\"\n"
            "gmt legend -DjTR+o0.2c -F+gwhite@20+p0.3p --FONT_ANNOT_PRIMARY=7p\n"
            "gmt end\n",
            base, box[2] - pw, box[3] + pw, box[0] - ph, box[1] + ph, base, MAP_W_CM, title,
            scale_km(box, pw),
            base, base, base, base, base);
    for (int k = 0; k < 5; k++)
        if ((rc = hd_outfile_commit(&of[k])) < 0)
            goto fail;
    if (draw) {
        if (system("command -v gmt >/dev/null 2>&1") != 0) {
            hd_warn("gmt not found (Debian: gmt gmt-gshhg-low gmt-dcw ghostscript): the tracks' map not drawn "
                    "(the script is %s)", script);
        } else {
            char cmd[1400];
            snprintf(cmd, sizeof cmd, "bash '%s' >/dev/null 2>&1", script);
            int st = system(cmd);
            if (st != 0)
                hd_warn("gmt failed (status %d): the tracks' map not drawn; run bash %s to see why", st, script);
            else
                hd_info("map of %lld states on %d tracks: %s", (long long)states, r->n_tracks, png);
        }
    }
fail:
    for (int k = 0; k < 5; k++)
        hd_outfile_abort(&of[k]);
    free(rlat);
    free(rlon);
    free(e_fix);
    free(e_trk);
    return rc;
}
