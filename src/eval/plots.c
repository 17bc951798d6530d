/* evaluate's plots: a gnuplot script and its data files beside eval.h5,
 * then gnuplot draws them (when installed). */
#include "eval/report.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/outfile.h"
#include "eval/outputs.h"

#include <gsl/gsl_sort.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the located events' errors, sorted: the empirical CDF's steps (*k of them) */
static double *sorted_errors(const hd_run *r, const hd_scored *sc, size_t *k)
{
    double *e = hd_malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *e);
    if (!e)
        return NULL;
    *k = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (sc[i].located && isfinite(sc[i].err_m))
            e[(*k)++] = sc[i].err_m;
    gsl_sort(e, 1, *k);
    return e;
}

static void write_errors(FILE *f, const double *e, size_t k, const char *method)
{
    fprintf(f, "# error_m cdf (%s)\n", method);
    for (size_t i = 0; i < k; i++)
        fprintf(f, "%.3f %.6f\n", e[i], (i + 1.0) / k);
}

/* block 0 truths and estimates (lon lat lon lat), block 1 the 68 % ellipses */
static void write_map(FILE *f, const hd_run *r, const hd_scored *sc)
{
    fprintf(f, "# truth_lon truth_lat est_lon est_lat\n");
    for (int64_t i = 0; i < r->n; i++)
        if (sc[i].located)
            fprintf(f, "%.7f %.7f %.7f %.7f\n", r->truth_lon[i], r->truth_lat[i], r->ev[i].res.lon, r->ev[i].res.lat);
    fprintf(f, "\n\n# 68 %% ellipses: lon lat, one block per event\n");
    for (int64_t i = 0; i < r->n; i++) {
        if (!sc[i].located)
            continue;
        double ll[HD_ELLIPSE_VERTICES][2];
        hd_locate_ellipse_outline(r->ev[i].res.lat, r->ev[i].res.lon, r->ev[i].res.cov, r->ev[i].res.nu, 0.68,
                                  HD_ELLIPSE_VERTICES, ll);
        for (int v = 0; v <= HD_ELLIPSE_VERTICES; v++)
            fprintf(f, "%.7f %.7f\n", ll[v % HD_ELLIPSE_VERTICES][1], ll[v % HD_ELLIPSE_VERTICES][0]);
        fprintf(f, "\n");
    }
}

/* the receivers with fixed positions; returns their mean latitude (0: none) */
static double write_receivers(FILE *f, const hd_station *st, int R)
{
    fprintf(f, "# lon lat id\n");
    double lat_mid = 0;
    int n_fixed = 0;
    for (int i = 0; i < R; i++) {
        if (!isfinite(st[i].lat) || !isfinite(st[i].lon))
            continue; /* a receiver that moves (a bus) has no place on the map */
        fprintf(f, "%.7f %.7f %s\n", st[i].lon, st[i].lat, st[i].id);
        lat_mid += st[i].lat;
        n_fixed++;
    }
    return n_fixed ? lat_mid / n_fixed : 0;
}

/* the script, naming its files relative to its folder */
static void write_script(FILE *f, const char *gp, const char *errs, const char *map, const char *rx,
                         const char *cdf_png, const char *map_png, const char *method, double lat_mid)
{
    char b0[1100], b1[1100], b2[1100], b3[1100], b4[1100], b5[1100];
    snprintf(b0, sizeof b0, "%s", gp);
    snprintf(b1, sizeof b1, "%s", errs);
    snprintf(b2, sizeof b2, "%s", map);
    snprintf(b3, sizeof b3, "%s", rx);
    snprintf(b4, sizeof b4, "%s", cdf_png);
    snprintf(b5, sizeof b5, "%s", map_png);
    fprintf(f,
            "# heimdall evaluate plots: restyle and redraw with  gnuplot %s\n"
            "# (run it from this folder: file names are relative to it)\n"
            "set terminal pngcairo size 900,650 noenhanced\n"
            "set output '%s'\n"
            "set title 'Localization error, method %s'\n"
            "set xlabel 'geodesic error (m)'\n"
            "set ylabel 'fraction of located events'\n"
            "set logscale x\n"
            "set grid\n"
            "set key bottom right\n"
            "plot '%s' using 1:2 with steps lw 2 title 'empirical CDF'\n"
            "unset logscale x\n"
            "set output '%s'\n"
            "set title 'Truths, estimates and 68 %% ellipses, method %s'\n"
            "set xlabel 'longitude (deg)'\n"
            "set ylabel 'latitude (deg)'\n"
            "set size ratio -1\n"
            "set xtics format '%%.2f'\n"
            "set ytics format '%%.2f'\n"
            "# degrees of longitude are shorter than degrees of latitude by cos(latitude)\n"
            "set size ratio %.4f\n"
            "set key outside right\n"
            "plot '%s' index 1 using 1:2 with lines lc rgb '#a0a0ff' title '68 %% ellipse', \\\n"
            "     '%s' index 0 using 1:2:($3-$1):($4-$2) with vectors nohead lc rgb '#c0c0c0' title 'error', \\\n"
            "     '%s' index 0 using 1:2 with points pt 7 ps 0.5 lc rgb '#208020' title 'truth', \\\n"
            "     '%s' index 0 using 3:4 with points pt 1 ps 0.7 lc rgb '#d02020' title 'estimate', \\\n"
            "     '%s' using 1:2 with points pt 5 ps 1.2 lc rgb 'black' title 'receiver', \\\n"
            "     '%s' using 1:2:3 with labels offset 0,1 font ',8' notitle\n",
            basename(b0), basename(b4), method, basename(b1), basename(b5), method, -1.0 / cos(lat_mid * M_PI / 180),
            basename(b2), basename(b2), basename(b2), basename(b2), basename(b3), basename(b3));
}

/* gnuplot, from the script's folder (a missing or failing gnuplot is a warning) */
static void draw(const char *gp, const char *cdf_png, const char *map_png)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        hd_warn("gnuplot not found: plots not drawn (the script is %s)", gp);
        return;
    }
    char dirb[1100], gpb[1100], cmd[2400];
    snprintf(dirb, sizeof dirb, "%s", gp);
    snprintf(gpb, sizeof gpb, "%s", gp);
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s'", dirname(dirb), basename(gpb));
    int st = system(cmd);
    if (st != 0)
        hd_warn("gnuplot failed (status %d): plots not drawn; the script is %s", st, gp);
    else
        hd_info("plots: %s and %s", cdf_png, map_png);
}

int hd_eval_write_plots(const char *output, const hd_run *r, const hd_scored *sc, const hd_station *st, int R,
                        const char *method, int do_draw)
{
    char gp[1100], errs[1100], map[1100], rx[1100], cdf_png[1100], map_png[1100];
    hd_eval_beside(output, ".gp", gp, sizeof gp);
    hd_eval_beside(output, "_errors.dat", errs, sizeof errs);
    hd_eval_beside(output, "_map.dat", map, sizeof map);
    hd_eval_beside(output, "_receivers.dat", rx, sizeof rx);
    hd_eval_beside(output, "_cdf.png", cdf_png, sizeof cdf_png);
    hd_eval_beside(output, "_map.png", map_png, sizeof map_png);
    hd_outfile of[4];
    memset(of, 0, sizeof of);
    int rc;
    const char *paths[4] = {gp, errs, map, rx};
    for (int k = 0; k < 4; k++)
        if ((rc = hd_outfile_open(&of[k], paths[k], 1)) < 0)
            goto fail;
    size_t k;
    double *e = sorted_errors(r, sc, &k);
    if (!e) {
        rc = HD_ENOMEM;
        goto fail;
    }
    write_errors(of[1].f, e, k, method);
    free(e);
    write_map(of[2].f, r, sc);
    double lat_mid = write_receivers(of[3].f, st, R);
    write_script(of[0].f, gp, errs, map, rx, cdf_png, map_png, method, lat_mid);
    for (int q = 0; q < 4; q++)
        if ((rc = hd_outfile_commit(&of[q])) < 0)
            goto fail;
    if (do_draw)
        draw(gp, cdf_png, map_png);
    return 0;
fail:
    for (int q = 0; q < 4; q++)
        hd_outfile_abort(&of[q]);
    return rc;
}
