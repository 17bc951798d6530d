/* heatmap: marching squares on analytic surfaces (a circle's radius within
 * a grid step, rings closed and counter-clockwise, holes clockwise and
 * nested in their ring, a region cut by the grid's edge closed along it,
 * two minima two rings); the heat map of a located event (least at the
 * solution, contours nested and the 68 % ring near the ellipse). */
#include "config/config.h"
#include "core/rng.h"
#include "features/features.h"
#include "geo/geo.h"
#include "locate/heatmap.h"
#include "locate/locate.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 101
static double z[N * N];
static const double X0 = -1, DX = 2.0 / (N - 1);

static void fill(double (*f)(double, double))
{
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++)
            z[j * N + i] = f(X0 + i * DX, X0 + j * DX);
}

static double bowl(double x, double y) { return x * x + y * y; }
static double ring_f(double x, double y) { double r = hypot(x, y) - 0.5; return r * r; }
static double two(double x, double y) { return fmin((x - 0.5) * (x - 0.5) + y * y, (x + 0.5) * (x + 0.5) + y * y); }
static double edge(double x, double y) { return (x - 1) * (x - 1) + y * y; }
static double holed(double x, double y) { return hypot(x, y) < 0.1 ? NAN : x * x + y * y; }

static int closed(const hd_contour_ring *r)
{
    return r->n >= 4 && r->pt[0][0] == r->pt[r->n - 1][0] && r->pt[0][1] == r->pt[r->n - 1][1];
}

/* the largest distance of a ring's points from radius rad round (cx, cy) */
static double radius_err(const hd_contour_ring *r, double cx, double cy, double rad)
{
    double m = 0;
    for (int k = 0; k < r->n; k++)
        m = fmax(m, fabs(hypot(r->pt[k][0] - cx, r->pt[k][1] - cy) - rad));
    return m;
}

static void contours(void)
{
    hd_contour c;
    fill(bowl);
    ok(hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c) == 0, "circle: contoured");
    is_int(c.n, 1, "circle: one ring");
    ok(closed(&c.ring[0]), "circle: the ring closed (%d points)", c.ring[0].n);
    ok(!c.ring[0].hole && c.ring[0].area > 0, "circle: exterior, counter-clockwise");
    double e = radius_err(&c.ring[0], 0, 0, 0.5);
    ok(e < DX, "circle: radius 0.5 within a grid step (%.2g)", e);
    is_double(c.ring[0].area, M_PI * 0.25, 0.01, "circle: area pi r^2");
    ok(hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.45, 0) && !hd_contour_holds(&c, 0.55, 0),
       "circle: holds its centre, not beyond its radius");
    hd_contour_release(&c);

    /* nesting across levels: each level's ring inside the next */
    hd_contour lv[3];
    for (int k = 0; k < 3; k++)
        hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.1 * (k + 1), &lv[k]);
    int nested = 1;
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < lv[k].ring[0].n; v++)
            nested &= hd_contour_holds(&lv[k + 1], lv[k].ring[0].pt[v][0], lv[k].ring[0].pt[v][1]);
    ok(nested, "levels: each ring lies inside the higher level's");
    for (int k = 0; k < 3; k++)
        hd_contour_release(&lv[k]);

    fill(ring_f);
    ok(hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.04, &c) == 0, "annulus: contoured");
    is_int(c.n, 2, "annulus: two rings");
    int ext = c.ring[0].hole ? 1 : 0, hole = 1 - ext;
    ok(!c.ring[ext].hole && c.ring[hole].hole, "annulus: an exterior ring and a hole");
    ok(c.ring[hole].area < 0, "annulus: the hole clockwise");
    is_int(c.ring[hole].parent, ext, "annulus: the hole's parent is the exterior");
    ok(radius_err(&c.ring[ext], 0, 0, 0.7) < DX && radius_err(&c.ring[hole], 0, 0, 0.3) < DX,
       "annulus: radii 0.7 and 0.3 within a grid step");
    ok(!hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.5, 0) && !hd_contour_holds(&c, 0.9, 0),
       "annulus: the centre and the outside excluded, the band held");
    hd_contour_release(&c);

    fill(two);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.09, &c);
    is_int(c.n, 2, "two minima: two rings");
    ok(c.n == 2 && !c.ring[0].hole && !c.ring[1].hole, "two minima: both exterior");
    ok(hd_contour_holds(&c, 0.5, 0) && hd_contour_holds(&c, -0.5, 0) && !hd_contour_holds(&c, 0, 0),
       "two minima: each centre held, the gap not");
    hd_contour_release(&c);

    fill(edge);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c);
    is_int(c.n, 1, "cut by the edge: one ring");
    ok(c.n == 1 && closed(&c.ring[0]) && c.ring[0].area > 0, "cut by the edge: closed, counter-clockwise");
    int on_edge = 0;
    for (int k = 0; c.n && k < c.ring[0].n; k++)
        on_edge += fabs(c.ring[0].pt[k][0] - 1) < 1e-12;
    ok(on_edge >= 2, "cut by the edge: closed along the grid's edge (%d points on it)", on_edge);
    is_double(c.n ? c.ring[0].area : 0, M_PI * 0.25 / 2, 0.01, "cut by the edge: half the disc");
    hd_contour_release(&c);

    fill(holed);
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.25, &c);
    is_int(c.n, 2, "undefined centre: a ring and a hole round the undefined values");
    ok(!hd_contour_holds(&c, 0, 0) && hd_contour_holds(&c, 0.3, 0), "undefined centre: excluded");
    hd_contour_release(&c);

    for (int k = 0; k < N * N; k++)
        z[k] = 1;
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.5, &c);
    is_int(c.n, 0, "nothing below the level: no ring");
    hd_contour_release(&c);
    for (int k = 0; k < N * N; k++)
        z[k] = 0;
    hd_contour_rings(z, N, N, X0, DX, X0, DX, 0.5, &c);
    ok(c.n == 1 && fabs(c.ring[0].area - 4) < 1e-9, "everything below: the grid's outline (area %g)",
       c.n ? c.ring[0].area : 0);
    hd_contour_release(&c);
}

int main(void)
{
    plan_no_plan();
    contours();
    done_testing();
    return exit_status();
}
