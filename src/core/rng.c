/* Philox4x32-10: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as
 * easy as 1, 2, 3", SC'11. Counter layout: ctr[0] block number within the
 * stream, ctr[1] purpose, ctr[2] receiver, ctr[3] event; key = seed. */
#include "core/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void hd_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void hd_rng_init(hd_rng *r, uint64_t seed, uint32_t event, uint32_t receiver, uint32_t purpose)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = purpose;
    r->ctr[2] = receiver;
    r->ctr[3] = event;
    r->idx = 4;
    r->have_normal = 0;
    r->normal = 0.0;
}

uint32_t hd_rng_u32(hd_rng *r)
{
    if (r->idx >= 4) {
        hd_philox4x32(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->idx = 0;
    }
    return r->buf[r->idx++];
}

uint64_t hd_rng_u64(hd_rng *r)
{
    uint64_t hi = hd_rng_u32(r);
    return (hi << 32) | hd_rng_u32(r);
}

double hd_rng_uniform(hd_rng *r)
{
    /* 53 random bits, shifted off zero: (k + 0.5) / 2^53 in (0, 1) */
    uint64_t k = hd_rng_u64(r) >> 11;
    return ((double)k + 0.5) * (1.0 / 9007199254740992.0);
}

double hd_rng_uniform_range(hd_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * hd_rng_uniform(r);
}

double hd_rng_normal(hd_rng *r)
{
    if (r->have_normal) {
        r->have_normal = 0;
        return r->normal;
    }
    double u1 = hd_rng_uniform(r), u2 = hd_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 2.0 * M_PI * u2;
    r->normal = rad * sin(th);
    r->have_normal = 1;
    return rad * cos(th);
}

uint32_t hd_rng_below(hd_rng *r, uint32_t n)
{
    if (n <= 1)
        return 0;
    /* Lemire's nearly-divisionless method */
    uint64_t m = (uint64_t)hd_rng_u32(r) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)hd_rng_u32(r) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
