/* evaluate's plots: a gnuplot script and its data files beside eval.h5,
 * then gnuplot draws them (when installed). */
#include "eval/report.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "eval/outputs.h"
#include "eval/heatmaps.h"
#include "h5/h5.h"

#include <gsl/gsl_sort.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the located events' errors, sorted: the empirical CDF's steps (*k of them) */
static double *sorted_errors(const hd_eval_report *rep, size_t *k)
{
    size_t n = 0;
    for (int64_t i = 0; i < rep->n; i++)
        n += (rep->rows[i].flags & HD_ROW_LOCATED) && isfinite(rep->rows[i].err_m);
    double *e = hd_malloc((n > 0 ? n : 1) * sizeof *e);
    if (!e)
        return NULL;
    *k = 0;
    for (int64_t i = 0; i < rep->n; i++)
        if ((rep->rows[i].flags & HD_ROW_LOCATED) && isfinite(rep->rows[i].err_m))
            e[(*k)++] = rep->rows[i].err_m;
    gsl_sort(e, 1, *k);
    return e;
}

static void write_errors(FILE *f, const double *e, size_t k, const char *method)
{
    fprintf(f, "# error_m cdf (%s)\n", method);
    for (size_t i = 0; i < k; i++)
        fprintf(f, "%.3f %.6f\n", e[i], (i + 1.0) / k);
}

/* the CDF's gnuplot script, naming its files relative to its folder */
static void write_script(FILE *f, const char *gp, const char *errs, const char *cdf_png, const char *method)
{
    char b0[1100], b1[1100], b4[1100];
    snprintf(b0, sizeof b0, "%s", gp);
    snprintf(b1, sizeof b1, "%s", errs);
    snprintf(b4, sizeof b4, "%s", cdf_png);
    fprintf(f,
            "# heimdall evaluate: the error CDF; restyle and redraw with  gnuplot %s\n"
            "# (run it from this folder: file names are relative to it; the map is drawn by GMT: *_map.sh)\n"
            "set terminal pngcairo size 900,650 noenhanced\n"
            "set output '%s'\n"
            "set title 'Localization error, method %s'\n"
            "set xlabel 'geodesic error (m)'\n"
            "set ylabel 'fraction of located events'\n"
            "set logscale x\n"
            "set grid\n"
            "set key bottom right\n"
            "plot '%s' using 1:2 with steps lw 2 title 'empirical CDF'\n",
            basename(b0), basename(b4), method, basename(b1));
}

/* ---- the map, drawn with GMT -------------------------------------------------- */

#define MAP_W_CM 15.0
#define MAP_ELLIPSES 60          /* at most this many 68 % ellipses drawn (evenly over the events) */

/* Mercator y of a latitude (the map's projection, -JM) */
static double merc_y(double lat)
{
    return log(tan(M_PI / 4 + lat * M_PI / 360));
}

typedef struct {
    double w, e, s, n;           /* degrees */
    double cm_per_rad;           /* Mercator scale */
} map_frame;

static void to_cm(const map_frame *m, double lat, double lon, double *x, double *y)
{
    *x = (lon - m->w) * M_PI / 180 * m->cm_per_rad;
    *y = (merc_y(lat) - merc_y(m->s)) * m->cm_per_rad;
}

/* the map's region: the receivers and the truths (estimates far off are
 * counted, not allowed to shrink everything else), grown by a fifth */
static void map_region(const hd_eval_box *truths, const hd_eval_box *estimates, const hd_station *st, int R,
                       map_frame *m)
{
    double w = INFINITY, e = -INFINITY, s = INFINITY, n = -INFINITY;
#define ADD(la, lo) do { if (isfinite(la) && isfinite(lo)) { w = fmin(w, lo); e = fmax(e, lo); s = fmin(s, la); n = fmax(n, la); } } while (0)
    for (int i = 0; i < R; i++)
        ADD(st[i].lat, st[i].lon);
    if (isfinite(truths->w)) { /* the box's corners: the same extremes as its points */
        ADD(truths->s, truths->w);
        ADD(truths->n, truths->e);
    }
    if (!isfinite(w) && estimates && isfinite(estimates->w)) { /* no receiver placed and no truth: the estimates */
        ADD(estimates->s, estimates->w);
        ADD(estimates->n, estimates->e);
    }
#undef ADD
    if (!isfinite(w)) {
        w = -1, e = 1, s = -1, n = 1;
    }
    double pw = fmax((e - w) * 0.2, 0.02), ph = fmax((n - s) * 0.2, 0.02);
    m->w = w - pw, m->e = e + pw, m->s = fmax(s - ph, -85), m->n = fmin(n + ph, 85);
    m->cm_per_rad = MAP_W_CM / ((m->e - m->w) * M_PI / 180);
}

/* a scale bar about a fifth of the map wide, rounded to 1, 2 or 5 × 10^k km */
static double scale_km(const map_frame *m)
{
    double mid = 0.5 * (m->s + m->n);
    double km = (m->e - m->w) * 111.32 * cos(mid * M_PI / 180) / 5;
    double p = pow(10, floor(log10(km))), f = km / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* receivers' labels placed without overlap: for each receiver the first of
 * eight positions around it whose box meets no label placed and no marker */
static void write_labels(FILE *f, const map_frame *m, const hd_station *st, int R)
{
    static const struct { double dx, dy; const char *just; } cand[8] = {
        {0.25, 0, "ML"}, {-0.25, 0, "MR"}, {0, 0.25, "BC"}, {0, -0.25, "TC"},
        {0.2, 0.2, "BL"}, {-0.2, 0.2, "BR"}, {0.2, -0.2, "TL"}, {-0.2, -0.2, "TR"}};
    double (*box)[4] = hd_calloc((size_t)R + 1, sizeof *box);
    double *mx = hd_calloc((size_t)R + 1, sizeof *mx), *my = hd_calloc((size_t)R + 1, sizeof *my);
    if (!box || !mx || !my)
        goto done;
    for (int i = 0; i < R; i++)
        to_cm(m, st[i].lat, st[i].lon, &mx[i], &my[i]);
    int placed = 0;
    for (int i = 0; i < R; i++) {
        if (!isfinite(st[i].lat) || !isfinite(st[i].lon))
            continue;
        double w = 0.16 * (double)strlen(st[i].id) + 0.1, h = 0.32;
        int best = 0;
        for (int c = 0; c < 8; c++) {
            double x0 = mx[i] + cand[c].dx, y0 = my[i] + cand[c].dy;
            /* the box by its justification: L/C/R, B/M/T */
            char hj = cand[c].just[1], vj = cand[c].just[0];
            double l = hj == 'L' ? x0 : hj == 'R' ? x0 - w : x0 - w / 2, b = vj == 'B' ? y0 : vj == 'T' ? y0 - h : y0 - h / 2;
            int clash = 0;
            for (int k = 0; k < placed && !clash; k++)
                clash = l < box[k][2] && l + w > box[k][0] && b < box[k][3] && b + h > box[k][1];
            for (int k = 0; k < R && !clash; k++)
                clash = k != i && mx[k] > l - 0.15 && mx[k] < l + w + 0.15 && my[k] > b - 0.15 && my[k] < b + h + 0.15;
            if (!clash) {
                best = c;
                break;
            }
        }
        char hj = cand[best].just[1], vj = cand[best].just[0];
        double x0 = mx[i] + cand[best].dx, y0 = my[i] + cand[best].dy;
        box[placed][0] = hj == 'L' ? x0 : hj == 'R' ? x0 - w : x0 - w / 2;
        box[placed][1] = vj == 'B' ? y0 : vj == 'T' ? y0 - h : y0 - h / 2;
        box[placed][2] = box[placed][0] + w;
        box[placed][3] = box[placed][1] + h;
        placed++;
        fprintf(f, "%.7f %.7f %s %.2fc/%.2fc %s\n", st[i].lon, st[i].lat, cand[best].just, cand[best].dx, cand[best].dy,
                st[i].id);
    }
done:
    free(box);
    free(mx);
    free(my);
}

/* NAME_map.sh (GMT modern mode) and its data NAME_gmt.d/: coastlines,
 * borders, a scale bar, Mercator; errors, truths, estimates, a subset of
 * the 68 % ellipses, receivers labelled without overlap; the events without
 * a position and those off the map listed in a corner */
/* eval.h5's columns the map reads back, a block at a time */
enum { MC_INDEX, MC_STATUS, MC_LAT, MC_LON, MC_NU, MC_COV, MC_TLAT, MC_TLON, MC_COUNT };
static const char *const map_cols[MC_COUNT] = {"event_index", "status", "lat", "lon", "nu", "cov_enu_m2",
                                               "truth_lat", "truth_lon"};
#define MAP_BLOCK 4096

static int write_gmt(const char *output, const hd_eval_report *rep, const hd_station *st, int R,
                     const char *method, char *script, size_t script_size, char *png, size_t png_size)
{
    char dir[1100], base[1100], ob[1100], ob2[1100];
    snprintf(ob, sizeof ob, "%s", output);
    snprintf(ob2, sizeof ob2, "%s", output);
    snprintf(dir, sizeof dir, "%s", dirname(ob));
    hd_eval_beside(basename(ob2), "", base, sizeof base);
    hd_eval_beside(output, "_map.sh", script, script_size);
    hd_eval_beside(output, "_map.png", png, png_size);
    map_frame m;
    map_region(&rep->truths, &rep->estimates, st, R, &m);
    hid_t file = H5I_INVALID_HID, ds[MC_COUNT];
    for (int c = 0; c < MC_COUNT; c++)
        ds[c] = H5I_INVALID_HID;
    int64_t *idx = hd_malloc(MAP_BLOCK * sizeof *idx);
    int8_t *status = hd_malloc(MAP_BLOCK);
    double *col = hd_malloc((size_t)MAP_BLOCK * 10 * sizeof *col);
    const char *names[5] = {"errors", "truths", "estimates", "ellipses", "receivers"};
    char paths[6][2300];
    hd_outfile of[6];
    memset(of, 0, sizeof of);
    int rc = 0;
    for (int k = 0; k < 5; k++)
        snprintf(paths[k], sizeof paths[k], "%s/%s_map_%s.dat", dir, base, names[k]);
    snprintf(paths[5], sizeof paths[5], "%s", script);
    for (int k = 0; k < 6; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    if (!idx || !status || !col) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((file = H5Fopen(output, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) { /* the file just written */
        rc = hd_error(HD_EIO, "cannot read %s back for its map", output);
        goto fail;
    }
    for (int c = 0; c < MC_COUNT; c++)
        if ((ds[c] = H5Dopen2(file, map_cols[c], H5P_DEFAULT)) < 0) {
            rc = hd_error(HD_EFORMAT, "%s: no /%s", output, map_cols[c]);
            goto fail;
        }
    const int64_t located = rep->plot_located, *counts = rep->counts;
    int64_t off = 0;
    int64_t every = located > MAP_ELLIPSES ? (located + MAP_ELLIPSES - 1) / MAP_ELLIPSES : 1, drawn = 0, seen = 0;
    double *lat = col, *lon = col + MAP_BLOCK, *nu = col + 2 * MAP_BLOCK, *cov = col + 3 * MAP_BLOCK,
           *tlat = col + 6 * MAP_BLOCK, *tlon = col + 7 * MAP_BLOCK;
    for (int64_t first = 0; first < rep->n; first += MAP_BLOCK) {
        const hsize_t nb = (hsize_t)(rep->n - first < MAP_BLOCK ? rep->n - first : MAP_BLOCK), f0 = (hsize_t)first;
        if ((rc = hd_h5_read_rows(ds[MC_INDEX], H5T_NATIVE_INT64, f0, nb, idx)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_STATUS], H5T_NATIVE_INT8, f0, nb, status)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_LAT], H5T_NATIVE_DOUBLE, f0, nb, lat)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_LON], H5T_NATIVE_DOUBLE, f0, nb, lon)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_NU], H5T_NATIVE_DOUBLE, f0, nb, nu)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_COV], H5T_NATIVE_DOUBLE, f0, nb, cov)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_TLAT], H5T_NATIVE_DOUBLE, f0, nb, tlat)) < 0 ||
            (rc = hd_h5_read_rows(ds[MC_TLON], H5T_NATIVE_DOUBLE, f0, nb, tlon)) < 0)
            goto fail;
        for (hsize_t i = 0; i < nb; i++) {
            if (status[i] != HD_LOC_OK && status[i] != HD_LOC_OUTSIDE) /* hd_scored.located */
                continue;
            off += lat[i] < m.s || lat[i] > m.n || lon[i] < m.w || lon[i] > m.e;
            fprintf(of[2].f, "%.7f %.7f\n", lon[i], lat[i]);
            if (isfinite(tlat[i])) {
                fprintf(of[1].f, "%.7f %.7f\n", tlon[i], tlat[i]);
                fprintf(of[0].f, "> event %lld\n%.7f %.7f\n%.7f %.7f\n", (long long)idx[i], tlon[i], tlat[i], lon[i],
                        lat[i]);
            }
            if (seen++ % every == 0) {
                double ll[HD_ELLIPSE_VERTICES][2];
                hd_locate_ellipse_outline(lat[i], lon[i], cov + 3 * i, nu[i], 0.68, HD_ELLIPSE_VERTICES, ll);
                fprintf(of[3].f, "> event %lld\n", (long long)idx[i]);
                for (int v = 0; v <= HD_ELLIPSE_VERTICES; v++)
                    fprintf(of[3].f, "%.7f %.7f\n", ll[v % HD_ELLIPSE_VERTICES][1], ll[v % HD_ELLIPSE_VERTICES][0]);
                drawn++;
            }
        }
    }
    write_labels(of[4].f, &m, st, R);
    double km = scale_km(&m);
    FILE *f = of[5].f;
    fprintf(f,
            "#!/usr/bin/env bash\n"
            "# heimdall evaluate: the map of method %s, drawn with GMT (Debian: gmt, gmt-gshhg-low,\n"
            "# gmt-dcw, ghostscript). Restyle and redraw with  bash %s_map.sh  from this folder.\n"
            "set -e\n"
            "cd \"$(dirname \"$0\")\"\n"
            "R=%.6f/%.6f/%.6f/%.6f\n"
            "gmt begin %s_map png\n"
            "gmt set MAP_FRAME_TYPE plain FORMAT_GEO_MAP ddd.xx FONT_ANNOT_PRIMARY 8p FONT_TITLE 11p\n"
            "gmt coast -R$R -JM%.1fc -Baf -B+t\"%s: truths, estimates and 68 %% ellipses\" -Dl -A50 -W0.5p,gray40 \\\n"
            "    -N1/0.4p,gray50,- -Gwhitesmoke -Slightsteelblue1 -LjBL+w%gk+o0.4c/0.4c+f+u\n"
            "gmt plot %s_map_ellipses.dat -W0.4p,royalblue@40\n"
            "gmt plot %s_map_errors.dat -W0.3p,gray60\n"
            "gmt plot %s_map_truths.dat -Sc0.10c -Gforestgreen -l\"truth\"\n"
            "gmt plot %s_map_estimates.dat -Sx0.16c -W0.8p,red3 -l\"estimate\"\n"
            "gmt plot %s_map_receivers.dat -St0.30c -Gblack -W0.3p,white -l\"receiver\"\n"
            "while read -r lon lat just off id; do\n"
            "  echo \"$lon $lat $id\" | gmt text -F+f8p,Helvetica-Bold,black+j$just -D$off -Gwhite@30\n"
            "done < %s_map_receivers.dat\n"
            "gmt legend -DjTR+o0.2c -F+gwhite@20+p0.3p --FONT_ANNOT_PRIMARY=7p\n"
            "# the corner: what the map does not show\n"
            "gmt text -F+cTL+jTL+f7p -Dj0.2c/0.2c -Gwhite@20 <<< \"%lld events, %lld located (68 %% ellipses of %lld drawn)\"\n"
            "gmt text -F+cTL+jTL+f7p -Dj0.2c/0.55c -Gwhite@20 <<< \"no position: %lld too few receivers, %lld no "
            "convergence, %lld geometry fixes none\"\n"
            "gmt text -F+cTL+jTL+f7p -Dj0.2c/0.9c -Gwhite@20 <<< \"%lld estimates off this map\"\n"
            "gmt end\n",
            method, base, m.w, m.e, m.s, m.n, base, MAP_W_CM, method, km, base, base, base, base, base, base,
            (long long)rep->n, (long long)located, (long long)drawn, (long long)counts[HD_LOC_TOO_FEW],
            (long long)counts[HD_LOC_NO_CONVERGENCE], (long long)counts[HD_LOC_NO_FIX], (long long)off);
    for (int k = 0; k < 6; k++)
        if ((rc = hd_outfile_commit(&of[k])) < 0)
            goto fail;
    rc = 0;
fail:
    for (int k = 0; k < 6; k++)
        hd_outfile_abort(&of[k]);
    for (int c = 0; c < MC_COUNT; c++)
        if (ds[c] >= 0)
            H5Dclose(ds[c]);
    if (file >= 0)
        H5Fclose(file);
    free(idx);
    free(status);
    free(col);
    return rc;
}

/* GMT, from the script's folder (a missing or failing GMT is a warning) */
static void draw_map(const char *script, const char *png)
{
    if (system("command -v gmt >/dev/null 2>&1") != 0) {
        hd_warn("gmt not found (Debian: gmt gmt-gshhg-low gmt-dcw ghostscript): map not drawn (the script is %s)",
                script);
        return;
    }
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "bash '%s' >/dev/null 2>&1", script);
    int st = system(cmd);
    if (st != 0)
        hd_warn("gmt failed (status %d): map not drawn; run bash %s to see why", st, script);
    else
        hd_info("map: %s", png);
}

/* gnuplot, from the script's folder (a missing or failing gnuplot is a warning) */
static void draw(const char *gp, const char *cdf_png)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        hd_warn("gnuplot not found: the CDF not drawn (the script is %s)", gp);
        return;
    }
    char dirb[1100], gpb[1100], cmd[2400];
    snprintf(dirb, sizeof dirb, "%s", gp);
    snprintf(gpb, sizeof gpb, "%s", gp);
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s'", dirname(dirb), basename(gpb));
    int st = system(cmd);
    if (st != 0)
        hd_warn("gnuplot failed (status %d): the CDF not drawn; the script is %s", st, gp);
    else
        hd_info("plots: %s", cdf_png);
}

int hd_eval_write_plots(const char *output, const hd_eval_report *rep, const hd_station *st, int R,
                        const char *method, int do_draw)
{
    char gp[1100], errs[1100], cdf_png[1100], map_sh[1100], map_png[1100];
    hd_eval_beside(output, ".gp", gp, sizeof gp);
    hd_eval_beside(output, "_errors.dat", errs, sizeof errs);
    hd_eval_beside(output, "_cdf.png", cdf_png, sizeof cdf_png);
    hd_outfile of[2];
    memset(of, 0, sizeof of);
    int rc;
    const char *paths[2] = {gp, errs};
    for (int k = 0; k < 2; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    size_t k;
    double *e = sorted_errors(rep, &k);
    if (!e) {
        rc = HD_ENOMEM;
        goto fail;
    }
    write_errors(of[1].f, e, k, method);
    free(e);
    write_script(of[0].f, gp, errs, cdf_png, method);
    for (int q = 0; q < 2; q++)
        if ((rc = hd_outfile_commit(&of[q])) < 0)
            goto fail;
    if ((rc = write_gmt(output, rep, st, R, method, map_sh, sizeof map_sh, map_png, sizeof map_png)) < 0)
        return rc;
    if (do_draw) {
        draw(gp, cdf_png);
        draw_map(map_sh, map_png);
    }
    return 0;
fail:
    for (int q = 0; q < 2; q++)
        hd_outfile_abort(&of[q]);
    return rc;
}

/* ---- several methods ---------------------------------------------------------- */

int hd_eval_write_compare_plots(const char *output, const hd_eval_comparison *c, const hd_eval_report *const *reps,
                                const char *const *methods, const hd_locate_net *net, int do_draw)
{
    /* the receivers as the run's network has them (the map's region) */
    const int R = net->R;
    hd_station st[HD_MAX_STATIONS];
    for (int i = 0; i < R; i++) {
        st[i].lat = net->rx_lat[i];
        st[i].lon = net->rx_lon[i];
    }
    char gp[1100], errs[1100], cdf_png[1100], sh[1100], map_png[1100], base[1100], ob[1100];
    hd_eval_beside(output, ".gp", gp, sizeof gp);
    hd_eval_beside(output, "_errors.dat", errs, sizeof errs);
    hd_eval_beside(output, "_cdf.png", cdf_png, sizeof cdf_png);
    hd_eval_beside(output, "_map.sh", sh, sizeof sh);
    hd_eval_beside(output, "_map.png", map_png, sizeof map_png);
    snprintf(ob, sizeof ob, "%s", output);
    hd_eval_beside(basename(ob), "", base, sizeof base);
    hd_outfile of[3];
    memset(of, 0, sizeof of);
    const char *paths[3] = {gp, errs, sh};
    int rc = 0;
    double *e = hd_malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *e);
    if (!e)
        return HD_ENOMEM;
    for (int k = 0; k < 3; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    /* the errors on the common events, a block per method */
    for (int m = 0; m < c->n_methods; m++) {
        size_t k = 0;
        for (int64_t i = 0; i < c->n; i++)
            if (c->common[i])
                e[k++] = reps[m]->rows[i].err_m;
        gsl_sort(e, 1, k);
        write_errors(of[1].f, e, k, methods[m]);
        fprintf(of[1].f, "\n\n");
    }
    char b[2][1100];
    snprintf(b[0], sizeof b[0], "%s", errs);
    snprintf(b[1], sizeof b[1], "%s", cdf_png);
    fprintf(of[0].f,
            "# heimdall evaluate: the methods' error CDFs on the %lld events every one located;\n"
            "# restyle and redraw with  gnuplot %s.gp  from this folder\n"
            "set terminal pngcairo size 900,650 noenhanced\n"
            "set output '%s'\n"
            "set title 'Localization error on the same %lld events'\n"
            "set xlabel 'geodesic error (m)'\nset ylabel 'fraction of the events'\n"
            "set logscale x\nset grid\nset key bottom right\nplot ",
            (long long)c->n_common, base, basename(b[1]), (long long)c->n_common);
    for (int m = 0; m < c->n_methods; m++)
        fprintf(of[0].f, "%s'%s' index %d using 1:2 with steps lw 2 title '%s'", m ? ", " : "", basename(b[0]), m,
                methods[m]);
    fprintf(of[0].f, "\n");
    /* the maps side by side: each method's own map layers */
    map_frame mf;
    map_region(&reps[0]->truths, NULL, st, R, &mf); /* the receivers and the truths */
    const int rows = c->n_methods > 2 ? 2 : 1, cols = (c->n_methods + rows - 1) / rows;
    double km = scale_km(&mf), panel = cols > 2 ? 9.0 : 12.0;
    FILE *f = of[2].f;
    fprintf(f,
            "#!/usr/bin/env bash\n"
            "# heimdall evaluate: the methods' maps side by side (GMT); redraw with  bash %s_map.sh\n"
            "set -e\ncd \"$(dirname \"$0\")\"\nR=%.6f/%.6f/%.6f/%.6f\n"
            "gmt begin %s_map png\n"
            "gmt set MAP_FRAME_TYPE plain FORMAT_GEO_MAP ddd.xx FONT_ANNOT_PRIMARY 7p FONT_TITLE 9p\n"
            "gmt subplot begin %dx%d -Fs%.1fc/0 -R$R -JM%.1fc -M0.3c/0.6c\n",
            base, mf.w, mf.e, mf.s, mf.n, base, rows, cols, panel, panel);
    for (int m = 0; m < c->n_methods; m++) {
        char p[1200];
        snprintf(p, sizeof p, "%s_%s_map", base, methods[m]);
        fprintf(f,
                "gmt subplot set %d\n"
                "gmt coast -Baf -B+t\"%s: %lld located, median %.0f m (%.0f m on the %lld common)\" -Dl -A50 -W0.5p,gray40 -N1/0.4p,gray50,- -Gwhitesmoke -Slightsteelblue1 -LjBL+w%gk+o0.3c+f+u\n"
                "gmt plot %s_ellipses.dat -W0.4p,royalblue@40\n"
                "gmt plot %s_errors.dat -W0.3p,gray60\n"
                "gmt plot %s_truths.dat -Sc0.08c -Gforestgreen\n"
                "gmt plot %s_estimates.dat -Sx0.13c -W0.7p,red3\n"
                "gmt plot %s_receivers.dat -St0.26c -Gblack -W0.3p,white\n",
                m, methods[m], (long long)c->alone[m].located, c->alone[m].median_m, c->same[m].median_m,
                (long long)c->n_common, km, p, p, p, p, p);
    }
    fprintf(f, "gmt subplot end\ngmt end\n");
    for (int k = 0; k < 3; k++)
        if ((rc = hd_outfile_commit(&of[k])) < 0)
            goto fail;
    free(e);
    if (do_draw) {
        draw(gp, cdf_png);
        draw_map(sh, map_png);
    }
    return 0;
fail:
    free(e);
    for (int k = 0; k < 3; k++)
        hd_outfile_abort(&of[k]);
    return rc;
}

/* ---- one event's heat map (localize --heatmap), drawn with GMT ------------------ */

static int write_ring_file(const char *path, const hd_contour *c)
{
    hd_outfile of;
    int rc = hd_outfile_open(&of, path, 1);
    if (rc < 0)
        return rc;
    for (int k = 0; k < c->n; k++) {
        fprintf(of.f, "> ring %d%s\n", k, c->ring[k].hole ? " (hole)" : "");
        for (int v = 0; v < c->ring[k].n; v++)
            fprintf(of.f, "%.8f %.8f\n", c->ring[k].pt[v][0], c->ring[k].pt[v][1]);
    }
    return hd_outfile_commit(&of);
}

int hd_eval_write_heatmap_script(const char *stem, const hd_heatmap *map, const hd_contour *lv, const hd_station *st,
                                 int R, const hd_located *ev, double truth_lat, double truth_lon)
{
    static const char *const lname[HD_HEATMAP_LEVELS] = {"c683", "c954", "c997"};
    static const char *const lpen[HD_HEATMAP_LEVELS] = {"1.2p,black", "0.9p,black,-", "1.0p,black,."};
    char sb[1100], base[1100], path[1200];
    snprintf(sb, sizeof sb, "%s", stem);
    snprintf(base, sizeof base, "%s", basename(sb));
    const hd_locate_result *res = &ev->res;
    map_frame m;
    m.w = map->lon0;
    m.e = map->lon0 + (map->nx - 1) * map->dlon;
    m.s = map->lat0;
    m.n = map->lat0 + (map->ny - 1) * map->dlat;
    /* the map round the grid, widened to a height at most 1.5 times its
     * width (a long thin valley's grid is long and thin) */
    double ys = merc_y(fmax(m.s, -85)), yn = merc_y(fmin(m.n, 85)), xw = (m.e - m.w) * M_PI / 180;
    if (yn - ys > 1.5 * xw) {
        double g = 0.5 * ((yn - ys) / 1.5 - xw) * 180 / M_PI;
        m.w -= g;
        m.e += g;
    } else if (xw > 1.5 * (yn - ys)) {
        double mid = 0.5 * (ys + yn), half = 0.5 * xw / 1.5;
        m.s = fmax(atan(sinh(mid - half)) * 180 / M_PI, -85);
        m.n = fmin(atan(sinh(mid + half)) * 180 / M_PI, 85);
    }
    m.cm_per_rad = MAP_W_CM / ((m.e - m.w) * M_PI / 180);
    hd_outfile of;
    memset(&of, 0, sizeof of);
    int rc;
    /* the grid: lon lat delta-chi² (NaN where undefined) */
    snprintf(path, sizeof path, "%s_grid.xyz", stem);
    if ((rc = hd_outfile_open(&of, path, 1)) < 0)
        return rc;
    fprintf(of.f, "# lon lat delta_chi2 (event %lld; chi2_min %.6g, variance scale %.6g)\n", (long long)ev->index,
            map->chi2_min, map->scale);
    for (int j = 0; j < map->ny; j++)
        for (int i = 0; i < map->nx; i++) {
            double v = map->dchi2[(size_t)j * map->nx + i];
            if (isfinite(v))
                fprintf(of.f, "%.8f %.8f %.6g\n", map->lon0 + i * map->dlon, map->lat0 + j * map->dlat, v);
            else
                fprintf(of.f, "%.8f %.8f NaN\n", map->lon0 + i * map->dlon, map->lat0 + j * map->dlat);
        }
    if ((rc = hd_outfile_commit(&of)) < 0)
        return rc;
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++) {
        snprintf(path, sizeof path, "%s_%s.dat", stem, lname[k]);
        if ((rc = write_ring_file(path, &lv[k])) < 0)
            return rc;
    }
    snprintf(path, sizeof path, "%s_receivers.dat", stem);
    if ((rc = hd_outfile_open(&of, path, 1)) < 0)
        return rc;
    write_labels(of.f, &m, st, R);
    if ((rc = hd_outfile_commit(&of)) < 0)
        return rc;
    int off = 0;
    for (int r = 0; r < R; r++)
        off += isfinite(st[r].lat) && (st[r].lat < m.s || st[r].lat > m.n || st[r].lon < m.w || st[r].lon > m.e);
    int truth = isfinite(truth_lat) && isfinite(truth_lon);
    snprintf(path, sizeof path, "%s.sh", stem);
    if ((rc = hd_outfile_open(&of, path, 1)) < 0)
        return rc;
    FILE *f = of.f;
    fprintf(f,
            "#!/usr/bin/env bash\n"
            "# heimdall localize --heatmap: event %lld's heat map, drawn with GMT (Debian: gmt,\n"
            "# gmt-gshhg-low, gmt-dcw, ghostscript). Restyle and redraw with  bash %s.sh\n"
            "# Data beside it: %s_grid.xyz (lon lat D: delta-chi2 over the variance factor), %s_c683/c954/c997.dat (the\n"
            "# 68.3 / 95.4 / 99.7 %% contours), %s_receivers.dat; %s.geojson holds the same contours.\n"
            "set -e\n"
            "cd \"$(dirname \"$0\")\"\n"
            "R=%.8f/%.8f/%.8f/%.8f\n"
            "G=%.8f/%.8f/%.8f/%.8f\n"
            "tmp=\".%s.tmp.$$\"\n"
            "trap 'rm -f \"$tmp.png\" \"$tmp\"_dchi2.nc \"$tmp\"_like.nc' EXIT\n"
            "gmt begin \"$tmp\" png\n"
            "gmt set MAP_FRAME_TYPE plain FORMAT_GEO_MAP ddd.xxx FONT_ANNOT_PRIMARY 8p FONT_TITLE 11p\n"
            "gmt xyz2grd %s_grid.xyz -R$G -I%d+n/%d+n -G\"$tmp\"_dchi2.nc\n"
            "# the probability of the smallest region holding each point (%%), undefined (transparent)\n"
            "# beyond the 99.7 %% level D = %.6g\n",
            (long long)ev->index, base, base, base, base, base, m.w, m.e, m.s, m.n, map->lon0,
            map->lon0 + (map->nx - 1) * map->dlon, map->lat0, map->lat0 + (map->ny - 1) * map->dlat, base, base, map->nx,
            map->ny, map->level[HD_HEATMAP_LEVELS - 1]);
    if (map->nu > 0) /* a Student-t: 1 - (1 + D/g)^(-nu/2) */
        fprintf(f, "gmt grdmath \"$tmp\"_dchi2.nc %.10g DIV 1 ADD %.10g POW 1 SUB NEG 100 MUL \"$tmp\"_dchi2.nc %.10g LE 0 "
                   "NAN MUL = \"$tmp\"_like.nc\n", map->tscale, -0.5 * map->nu, map->level[HD_HEATMAP_LEVELS - 1]);
    else /* a Gaussian: 1 - exp(-D/2) */
        fprintf(f, "gmt grdmath \"$tmp\"_dchi2.nc -0.5 MUL EXP 1 SUB NEG 100 MUL \"$tmp\"_dchi2.nc %.10g LE 0 NAN MUL = "
                   "\"$tmp\"_like.nc\n", map->level[HD_HEATMAP_LEVELS - 1]);
    fprintf(f,
            "gmt coast -R$R -JM%.1fc -Baf -B+t\"event %lld: heat map (%s)\" -Dl -A50 -Gwhitesmoke -Slightsteelblue1\n"
            "gmt makecpt -Cjet -I -T0/100\n"
            "gmt grdimage \"$tmp\"_like.nc -Q -t30\n"
            "gmt coast -Dl -A50 -W0.5p,gray40 -N1/0.4p,gray50,- -LjBL+w%gk+o0.4c/0.4c+f+u\n",
            MAP_W_CM, (long long)ev->index, hd_method_name(res->method), scale_km(&m));
    for (int k = HD_HEATMAP_LEVELS - 1; k >= 0; k--)
        if (lv[k].n)
            fprintf(f, "gmt plot %s_%s.dat -W%s -l\"%.1f %%\"\n", base, lname[k], lpen[k],
                    100 * hd_heatmap_probability[k]);
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        if (!lv[k].n) {
            fprintf(f, "gmt text -F+cBR+jBR+f7p -Dj0.2c/0.2c -Gwhite@20 <<< \"the %.1f %% region is smaller than the grid's "
                       "step: no contour (localize.heatmap_region auto zooms in)\"\n", 100 * hd_heatmap_probability[k]);
            break;
        }
    fprintf(f,
            "gmt plot %s_receivers.dat -St0.30c -Gblack -W0.3p,white -l\"receiver\"\n"
            "while read -r lon lat just off id; do\n"
            "  echo \"$lon $lat $id\" | gmt text -F+f8p,Helvetica-Bold,black+j$just -D$off -Gwhite@30\n"
            "done < %s_receivers.dat\n"
            "echo \"%.8f %.8f\" | gmt plot -Sx0.30c -W1.4p,black -l\"estimate\"\n",
            base, base, res->lon, res->lat);
    if (res->ambiguous && isfinite(res->lat2))
        fprintf(f, "echo \"%.8f %.8f\" | gmt plot -Sx0.30c -W1.0p,gray30 -l\"second crossing (ambiguous)\"\n",
                res->lon2, res->lat2);
    if (truth)
        fprintf(f, "echo \"%.8f %.8f\" | gmt plot -Sc0.20c -Gforestgreen -W0.4p,white -l\"truth\"\n", truth_lon,
                truth_lat);
    fprintf(f,
            "gmt colorbar -DJRM+o0.4c/0+w7c -Bxaf+l\"smallest region holding the point (%%)\"\n"
            "gmt legend -DjTR+o0.2c -F+gwhite@20+p0.3p --FONT_ANNOT_PRIMARY=7p\n"
            "gmt text -F+cTL+jTL+f7p -Dj0.2c/0.2c -Gwhite@20 <<< \"chi2 %.2f, %d dof; %d receivers used, %d off this map\"\n"
            "gmt end\n"
            "mv -f \"$tmp.png\" %s.png\n",
            res->chi2, res->dof, res->n_receivers, off, base);
    return hd_outfile_commit(&of);
}
