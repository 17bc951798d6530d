/* Heat maps of located events and their contours (see heatmap.h). */
#include "locate/heatmap.h"
#include "core/alloc.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double hd_heatmap_probability[HD_HEATMAP_LEVELS] = {0.682689492137, 0.954499736104, 0.997300203937};
const double hd_heatmap_level[HD_HEATMAP_LEVELS] = {2.295748928898, 6.180074306245, 11.829158081900};

double hd_heatmap_level_of(double p, double nu, double g)
{
    if (!(p > 0))
        return 0;
    if (!(p < 1))
        return INFINITY;
    return nu > 0 ? g * expm1(-2 / nu * log1p(-p)) : -2 * log1p(-p);
}

double hd_heatmap_content(double D, double nu, double g)
{
    if (!(D > 0))
        return 0;
    return nu > 0 ? -expm1(-0.5 * nu * log1p(D / g)) : -expm1(-0.5 * D);
}

/* ---- the map ------------------------------------------------------------------------ */

/* longitude unwrapped to within 180 degrees of ref */
static double unwrap(double lon, double ref)
{
    return lon - 360 * round((lon - ref) / 360);
}

/* the geodetic bounding box of a frame rectangle (m): its corners and the
 * points along its sides (a tangent-plane rectangle's sides bow on the map) */
static void frame_box(const hd_locate_net *net, const double reg[4], double lonc, double box[4])
{
    box[0] = box[2] = INFINITY;
    box[1] = box[3] = -INFINITY;
    const int k = 8;
    for (int i = 0; i <= k; i++)
        for (int s = 0; s < 4; s++) {
            double t = (double)i / k, e, n, lat, lon;
            e = s < 2 ? reg[0] + t * (reg[1] - reg[0]) : reg[s - 2];
            n = s < 2 ? reg[2 + s] : reg[2] + t * (reg[3] - reg[2]);
            hd_locate_to_geo(net, e, n, &lat, &lon);
            lon = unwrap(lon, lonc);
            box[0] = fmin(box[0], lat);
            box[1] = fmax(box[1], lat);
            box[2] = fmin(box[2], lon);
            box[3] = fmax(box[3], lon);
        }
}

/* the solver's variance factor (locate.c's scale_by_chi2) */
static double variance_scale(const hd_localize_cfg *cfg, const hd_locate_result *res)
{
    if (!cfg->scale_by_chi2 || !(res->dof > 0) || !isfinite(res->chi2))
        return 1;
    double nu0 = cfg->legacy_scale ? 4.0 : cfg->prior_nu;
    return (res->chi2 + nu0) / (res->dof + nu0);
}

int hd_heatmap_compute(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res,
                       const hd_heatmap_opts *opt, hd_heatmap *map)
{
    memset(map, 0, sizeof *map);
    if (res->status != HD_LOC_OK && res->status != HD_LOC_OUTSIDE)
        return hd_error(HD_EINVAL, "heat map: the event has no position (%s)", hd_loc_status_name(res->status));
    if (opt->points < 3 || opt->points > 4000)
        return hd_error(HD_ECONFIG, "heat map: %d points a side (3 to 4000)", opt->points);
    double box[4];
    if (opt->region == HD_HEATMAP_BOX) {
        memcpy(box, opt->box, sizeof box);
        if (!(box[0] < box[1]) || !(box[2] < box[3]) || box[0] < -90 || box[1] > 90)
            return hd_error(HD_ECONFIG, "heat map: the box %g, %g, %g, %g is not south < north, west < east",
                            box[0], box[1], box[2], box[3]);
    } else if (opt->region == HD_HEATMAP_SEARCH) {
        frame_box(net, res->region, res->lon, box);
    } else {
        /* the 99.7 % ellipse's extent east and north (the predictive's, as
         * the outputs draw it: a long thin valley gets a long thin box, whose
         * steps across it resolve it), grown, round the solution and the
         * other crossing (with its own covariance: the bound there, scaled
         * as the solution's covariance is from the bound at the solution) */
        double r2 = hd_locate_radius2(hd_heatmap_probability[HD_HEATMAP_LEVELS - 1], res->nu);
        double cap = net->cfg.max_region_km > 0 ? 500 * net->cfg.max_region_km
                                                 : 0.5 * fmax(res->region[1] - res->region[0], res->region[3] - res->region[2]);
        int amb = res->ambiguous && isfinite(res->e2) && isfinite(res->n2);
        double c2[3] = {res->cov[0], res->cov[1], res->cov[2]}, c1[3], cb[3];
        if (amb && hd_locate_crlb(net, obs, res, res->e, res->n, 1, c1) == 0 &&
            hd_locate_crlb(net, obs, res, res->e2, res->n2, 1, cb) == 0 && c1[0] + c1[2] > 0) {
            double k = (res->cov[0] + res->cov[2]) / (c1[0] + c1[2]);
            if (isfinite(k) && k > 0)
                for (int q = 0; q < 3; q++)
                    c2[q] = cb[q] * k;
        }
        double h1[2], h2[2];
        for (int a = 0; a < 2; a++) {
            h1[a] = fmin(fmax(HD_HEATMAP_AUTO_GROW * sqrt(res->cov[2 * a] * r2), HD_HEATMAP_AUTO_MIN_M), cap);
            h2[a] = fmin(fmax(HD_HEATMAP_AUTO_GROW * sqrt(c2[2 * a] * r2), HD_HEATMAP_AUTO_MIN_M), cap);
            if (!isfinite(h1[a]))
                h1[a] = cap;
            if (!isfinite(h2[a]))
                h2[a] = cap;
        }
        int second = opt->around == HD_HEATMAP_AROUND_SECOND && amb;
        double ce = second ? res->e2 : res->e, cn = second ? res->n2 : res->n;
        const double *h = second ? h2 : h1;
        double reg[4] = {ce - h[0], ce + h[0], cn - h[1], cn + h[1]};
        if (opt->around == HD_HEATMAP_AROUND_BOTH && amb) {
            reg[0] = fmin(reg[0], res->e2 - h2[0]);
            reg[1] = fmax(reg[1], res->e2 + h2[0]);
            reg[2] = fmin(reg[2], res->n2 - h2[1]);
            reg[3] = fmax(reg[3], res->n2 + h2[1]);
        }
        frame_box(net, reg, res->lon, box);
    }
    box[0] = fmax(box[0], -89.9);
    box[1] = fmin(box[1], 89.9);
    const int nx = opt->points, ny = opt->points;
    size_t N = (size_t)nx * ny;
    double *lat = hd_malloc(N * sizeof *lat), *lon = hd_malloc(N * sizeof *lon);
    map->dchi2 = hd_malloc(N * sizeof *map->dchi2);
    int rc = 0;
    if (!lat || !lon || !map->dchi2) {
        rc = HD_ENOMEM;
        goto fail;
    }
    map->nx = nx;
    map->ny = ny;
    map->lat0 = box[0];
    map->lon0 = box[2];
    map->dlat = (box[1] - box[0]) / (ny - 1);
    map->dlon = (box[3] - box[2]) / (nx - 1);
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            lat[(size_t)j * nx + i] = map->lat0 + j * map->dlat;
            lon[(size_t)j * nx + i] = map->lon0 + i * map->dlon;
        }
    if ((rc = hd_locate_cost_geo(net, obs, res, (int64_t)N, lat, lon, map->dchi2)) < 0)
        goto fail;
    double least = INFINITY;
    size_t best = 0;
    for (size_t g = 0; g < N; g++)
        if (map->dchi2[g] < least) {
            least = map->dchi2[g];
            best = g;
        }
    if (!isfinite(least)) {
        rc = hd_error(HD_EDATA, "heat map: the cost is undefined over the whole map");
        goto fail;
    }
    map->best_ix = (int)(best % nx);
    map->best_iy = (int)(best / nx);
    map->chi2_min = isfinite(res->chi2) ? fmin(res->chi2, least) : least;
    map->scale = opt->levels == HD_HEATMAP_CHI2 ? 1 : variance_scale(&net->cfg, res);
    map->nu = opt->levels == HD_HEATMAP_CHI2 || !(res->nu > 2) ? 0 : res->nu;
    /* the t's scale: with scale_by_chi2 (not legacy) the covariance is
     * s² nu/(nu - 2) times the fit's, else the fit's times s² */
    map->tscale = net->cfg.scale_by_chi2 && !net->cfg.legacy_scale ? map->nu : map->nu - 2;
    for (int k = 0; k < HD_HEATMAP_LEVELS; k++)
        map->level[k] = hd_heatmap_level_of(hd_heatmap_probability[k], map->nu, map->tscale);
    for (size_t g = 0; g < N; g++)
        map->dchi2[g] = isfinite(map->dchi2[g]) ? fmax(map->dchi2[g] - map->chi2_min, 0) / map->scale : INFINITY;
    free(lat);
    free(lon);
    return 0;
fail:
    free(lat);
    free(lon);
    hd_heatmap_release(map);
    return rc;
}

/* the rings of src moved to the end of dst (src emptied) */
static int append_rings(hd_contour *dst, hd_contour *src)
{
    if (!src->n)
        return 0;
    hd_contour_ring *r = realloc(dst->ring, (size_t)(dst->n + src->n) * sizeof *r);
    if (!r)
        return HD_ENOMEM;
    dst->ring = r;
    for (int k = 0; k < src->n; k++) {
        r[dst->n + k] = src->ring[k];
        if (r[dst->n + k].parent >= 0)
            r[dst->n + k].parent += dst->n;
    }
    dst->n += src->n;
    free(src->ring);
    src->ring = NULL;
    src->n = 0;
    return 0;
}

static int boxes_meet(const hd_heatmap *a, const hd_heatmap *b)
{
    double ae = a->lon0 + (a->nx - 1) * a->dlon, an = a->lat0 + (a->ny - 1) * a->dlat;
    double be = b->lon0 + (b->nx - 1) * b->dlon, bn = b->lat0 + (b->ny - 1) * b->dlat;
    return a->lon0 <= be && b->lon0 <= ae && a->lat0 <= bn && b->lat0 <= an;
}

int hd_heatmap_contours(const hd_locate_net *net, const hd_locate_obs *obs, const hd_locate_result *res,
                        const hd_heatmap_opts *opt, const hd_heatmap *map, hd_contour *lv, int *zoomed)
{
    int rc = 0;
    memset(lv, 0, HD_HEATMAP_LEVELS * sizeof *lv);
    if (zoomed)
        *zoomed = 0;
    if (opt->region == HD_HEATMAP_AUTO && opt->around == HD_HEATMAP_AROUND_BOTH && res->ambiguous &&
        isfinite(res->e2) && isfinite(res->n2)) {
        /* the map spans both crossings: each contoured on its own map round it */
        hd_heatmap z[2];
        memset(z, 0, sizeof z);
        hd_heatmap_opts o = *opt;
        for (int k = 0; k < 2 && rc == 0; k++) {
            o.around = k ? HD_HEATMAP_AROUND_SECOND : HD_HEATMAP_AROUND_ESTIMATE;
            rc = hd_heatmap_compute(net, obs, res, &o, &z[k]);
        }
        if (rc == 0) {
            for (int k = 0; k < 2; k++) /* on the whole map's reference */
                for (size_t g = 0; g < (size_t)z[k].nx * z[k].ny; g++)
                    z[k].dchi2[g] = z[k].dchi2[g] * z[k].scale / map->scale + (z[k].chi2_min - map->chi2_min) / map->scale;
            if (boxes_meet(&z[0], &z[1])) { /* the second map leaves the first's box to it */
                double e0 = z[0].lon0 + (z[0].nx - 1) * z[0].dlon, n0 = z[0].lat0 + (z[0].ny - 1) * z[0].dlat;
                for (int j = 0; j < z[1].ny; j++)
                    for (int i = 0; i < z[1].nx; i++) {
                        double la = z[1].lat0 + j * z[1].dlat, lo = z[1].lon0 + i * z[1].dlon;
                        if (la >= z[0].lat0 && la <= n0 && lo >= z[0].lon0 && lo <= e0)
                            z[1].dchi2[(size_t)j * z[1].nx + i] = INFINITY;
                    }
            }
            for (int l = 0; l < HD_HEATMAP_LEVELS && rc == 0; l++)
                for (int k = 0; k < 2 && rc == 0; k++) {
                    hd_contour c;
                    const hd_heatmap *m = &z[k];
                    if ((rc = hd_contour_rings(m->dchi2, m->nx, m->ny, m->lon0, m->dlon, m->lat0, m->dlat, map->level[l],
                                               &c)) == 0)
                        rc = append_rings(&lv[l], &c);
                    hd_contour_release(&c);
                }
            for (int k = 0; k < 2; k++)
                hd_heatmap_release(&z[k]);
            if (rc == 0 && zoomed)
                *zoomed = 1;
            if (rc < 0)
                goto fail;
            return 0;
        }
        for (int k = 0; k < 2; k++)
            hd_heatmap_release(&z[k]);
        return rc;
    }
    for (int l = 0; l < HD_HEATMAP_LEVELS && rc == 0; l++)
        rc = hd_contour_rings(map->dchi2, map->nx, map->ny, map->lon0, map->dlon, map->lat0, map->dlat, map->level[l],
                              &lv[l]);
    if (rc == 0)
        return 0;
fail:
    for (int l = 0; l < HD_HEATMAP_LEVELS; l++)
        hd_contour_release(&lv[l]);
    return rc;
}

void hd_heatmap_release(hd_heatmap *map)
{
    free(map->dchi2);
    map->dchi2 = NULL;
    map->nx = map->ny = 0;
}

/* ---- marching squares --------------------------------------------------------------- */

/* The grid padded by one point of +inf on every side (so that every ring
 * closes, along the grid's edge where the region reaches it): padded
 * point (I, J) is grid point (I - 1, J - 1). Edges: horizontal (I, J) to
 * (I + 1, J) numbered J (NX - 1) + I; vertical (I, J) to (I, J + 1)
 * numbered H + J NX + I. */
typedef struct {
    const double *z;
    int nx, ny, NX, NY;
    double x0, dx, y0, dy, level;
    size_t H, E;
} grid;

static double val(const grid *g, int I, int J)
{
    if (I < 1 || J < 1 || I > g->nx || J > g->ny)
        return INFINITY;
    double v = g->z[(size_t)(J - 1) * g->nx + (I - 1)];
    return isfinite(v) ? v : INFINITY;
}

static int below(const grid *g, int I, int J)
{
    return val(g, I, J) < g->level;
}

/* the edge's end points (padded indices) */
static void edge_ends(const grid *g, size_t id, int *I0, int *J0, int *I1, int *J1)
{
    if (id < g->H) {
        *J0 = *J1 = (int)(id / (size_t)(g->NX - 1));
        *I0 = (int)(id % (size_t)(g->NX - 1));
        *I1 = *I0 + 1;
    } else {
        id -= g->H;
        *J0 = (int)(id / (size_t)g->NX);
        *I0 = *I1 = (int)(id % (size_t)g->NX);
        *J1 = *J0 + 1;
    }
}

/* where the level crosses the edge: interpolated between two finite values,
 * else at the finite (below) end */
static void crossing(const grid *g, size_t id, double *x, double *y)
{
    int I0, J0, I1, J1;
    edge_ends(g, id, &I0, &J0, &I1, &J1);
    double a = val(g, I0, J0), b = val(g, I1, J1), t;
    if (isfinite(a) && isfinite(b))
        t = (g->level - a) / (b - a);
    else
        t = isfinite(a) ? 0 : 1;
    t = fmin(fmax(t, 0), 1);
    double fi = (I0 - 1) + t * (I1 - I0), fj = (J0 - 1) + t * (J1 - J0);
    *x = g->x0 + fi * g->dx;
    *y = g->y0 + fj * g->dy;
}

static double ring_area(const hd_contour_ring *r)
{
    double a = 0;
    for (int k = 0; k + 1 < r->n; k++)
        a += r->pt[k][0] * r->pt[k + 1][1] - r->pt[k + 1][0] * r->pt[k][1];
    return 0.5 * a;
}

int hd_contour_ring_holds(const hd_contour_ring *r, double x, double y)
{
    int in = 0;
    for (int k = 0, l = r->n - 1; k < r->n; l = k++) {
        double xk = r->pt[k][0], yk = r->pt[k][1], xl = r->pt[l][0], yl = r->pt[l][1];
        if ((yk > y) != (yl > y) && x < (xl - xk) * (y - yk) / (yl - yk) + xk)
            in = !in;
    }
    return in;
}

int hd_contour_holds(const hd_contour *c, double x, double y)
{
    for (int k = 0; k < c->n; k++) {
        if (c->ring[k].hole || !hd_contour_ring_holds(&c->ring[k], x, y))
            continue;
        int in_hole = 0;
        for (int h = 0; h < c->n && !in_hole; h++)
            in_hole = c->ring[h].hole && c->ring[h].parent == k && hd_contour_ring_holds(&c->ring[h], x, y);
        if (!in_hole)
            return 1;
    }
    return 0;
}

static int reserve(hd_contour_ring *r, int *cap)
{
    if (r->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        double(*p)[2] = realloc(r->pt, (size_t)nc * sizeof *p);
        if (!p)
            return HD_ENOMEM;
        r->pt = p;
        *cap = nc;
    }
    return 0;
}

static int add_point(hd_contour_ring *r, int *cap, double x, double y)
{
    if (r->n > 0 && r->pt[r->n - 1][0] == x && r->pt[r->n - 1][1] == y)
        return 0; /* a crossing at a grid point shared by two edges */
    if (reserve(r, cap) < 0)
        return HD_ENOMEM;
    r->pt[r->n][0] = x;
    r->pt[r->n][1] = y;
    r->n++;
    return 0;
}

int hd_contour_rings(const double *z, int nx, int ny, double x0, double dx, double y0, double dy, double level,
                     hd_contour *out)
{
    memset(out, 0, sizeof *out);
    if (nx < 2 || ny < 2 || !(dx > 0) || !(dy > 0))
        return hd_error(HD_EINVAL, "contour: a %d × %d grid of steps %g, %g (both > 0)", nx, ny, dx, dy);
    grid g = {z, nx, ny, nx + 2, ny + 2, x0, dx, y0, dy, level, 0, 0};
    g.H = (size_t)(g.NX - 1) * g.NY;
    g.E = g.H + (size_t)g.NX * (g.NY - 1);
    long *next = hd_malloc(g.E * sizeof *next);
    if (!next)
        return HD_ENOMEM;
    for (size_t e = 0; e < g.E; e++)
        next[e] = -1;
    /* each cell's segments, from a crossing where the walk counter-clockwise
     * round the cell leaves the region to one where it enters: the region
     * on the segment's left */
    for (int J = 0; J < g.NY - 1; J++)
        for (int I = 0; I < g.NX - 1; I++) {
            int in[4] = {below(&g, I, J), below(&g, I + 1, J), below(&g, I + 1, J + 1), below(&g, I, J + 1)};
            int m = in[0] | in[1] << 1 | in[2] << 2 | in[3] << 3;
            if (m == 0 || m == 15)
                continue;
            size_t edge[4] = {(size_t)J * (g.NX - 1) + I, g.H + (size_t)J * g.NX + I + 1,
                              (size_t)(J + 1) * (g.NX - 1) + I, g.H + (size_t)J * g.NX + I};
            int cr[4], kind[4], nc = 0; /* crossings in counter-clockwise order; kind 1 exit, 0 entry */
            for (int k = 0; k < 4; k++)
                if (in[k] != in[(k + 1) % 4]) {
                    cr[nc] = k;
                    kind[nc++] = in[k];
                }
            int forward = 0;
            if (nc == 4) { /* a saddle: the cell's mean decides whether the region joins across it */
                double s = 0;
                int fin = 1;
                double v[4] = {val(&g, I, J), val(&g, I + 1, J), val(&g, I + 1, J + 1), val(&g, I, J + 1)};
                for (int k = 0; k < 4; k++) {
                    fin &= isfinite(v[k]);
                    s += v[k];
                }
                forward = fin && s / 4 < level;
            }
            for (int c = 0; c < nc; c++) {
                if (!kind[c])
                    continue;
                int to = forward ? (c + 1) % nc : (c + nc - 1) % nc;
                next[edge[cr[c]]] = (long)edge[cr[to]];
            }
        }
    int cap_rings = 0, rc = 0;
    for (size_t e0 = 0; e0 < g.E; e0++) {
        if (next[e0] < 0)
            continue;
        if (out->n == cap_rings) {
            int nc = cap_rings ? 2 * cap_rings : 8;
            hd_contour_ring *r = realloc(out->ring, (size_t)nc * sizeof *r);
            if (!r) {
                rc = HD_ENOMEM;
                goto fail;
            }
            out->ring = r;
            cap_rings = nc;
        }
        hd_contour_ring *r = &out->ring[out->n++];
        memset(r, 0, sizeof *r);
        r->parent = -1;
        int cap = 0;
        size_t e = e0;
        while (next[e] >= 0) {
            double x, y;
            crossing(&g, e, &x, &y);
            if ((rc = add_point(r, &cap, x, y)) < 0)
                goto fail;
            size_t nx_e = (size_t)next[e];
            next[e] = -1;
            e = nx_e;
        }
        /* close it: the first point repeated */
        if (r->n > 1 && r->pt[r->n - 1][0] == r->pt[0][0] && r->pt[r->n - 1][1] == r->pt[0][1])
            r->n--;
        if (r->n < 3) { /* a single crossing point: no area */
            free(r->pt);
            out->n--;
            continue;
        }
        if ((rc = reserve(r, &cap)) < 0) /* the closing point */
            goto fail;
        r->pt[r->n][0] = r->pt[0][0];
        r->pt[r->n][1] = r->pt[0][1];
        r->n++;
        r->area = ring_area(r);
        r->hole = r->area < 0;
    }
    /* each hole's parent: the smallest exterior ring round it */
    for (int h = 0; h < out->n; h++) {
        hd_contour_ring *r = &out->ring[h];
        if (!r->hole)
            continue;
        double px = 0.5 * (r->pt[0][0] + r->pt[1][0]), py = 0.5 * (r->pt[0][1] + r->pt[1][1]), best = INFINITY;
        for (int k = 0; k < out->n; k++)
            if (!out->ring[k].hole && out->ring[k].area < best && hd_contour_ring_holds(&out->ring[k], px, py)) {
                best = out->ring[k].area;
                r->parent = k;
            }
    }
    free(next);
    return 0;
fail:
    free(next);
    hd_contour_release(out);
    return rc;
}

void hd_contour_release(hd_contour *c)
{
    for (int k = 0; k < c->n; k++)
        free(c->ring[k].pt);
    free(c->ring);
    c->ring = NULL;
    c->n = 0;
}
