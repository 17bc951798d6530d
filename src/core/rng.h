/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 *
 * A stream is keyed by (seed, event, receiver, purpose): the same key gives
 * the same numbers whatever process or rank draws them, so outputs do not
 * depend on how work is split. */
#ifndef HD_CORE_RNG_H
#define HD_CORE_RNG_H
#include <stdint.h>

/* Purposes: one stream per (event, receiver, purpose). Append, never renumber. */
enum {
    HD_RNG_TX = 1,        /* transmitter draw (position, power, type) */
    HD_RNG_MODULATION = 2,/* message content of the signal */
    HD_RNG_CHANNEL = 3,   /* shadowing, fading, multipath */
    HD_RNG_RECEIVER = 4,  /* clock, LO, start jitter, failures */
    HD_RNG_NOISE = 5,     /* thermal noise samples */
    HD_RNG_SPLIT = 6,     /* train/validation split */
    HD_RNG_INIT = 7,      /* network initialisation */
    HD_RNG_SHUFFLE = 8,   /* batch order */
    HD_RNG_DROPOUT = 9,
    HD_RNG_SITE = 10,     /* a receiver's true site against its advertised one */
    HD_RNG_TEST = 100,
};

typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int idx;          /* next unused word of buf; 4 = empty */
    int have_normal;  /* cached second Box–Muller value */
    double normal;
} hd_rng;

/* The raw block function: out = Philox4x32-10(ctr, key). */
void hd_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

void hd_rng_init(hd_rng *r, uint64_t seed, uint32_t event, uint32_t receiver, uint32_t purpose);
uint32_t hd_rng_u32(hd_rng *r);
uint64_t hd_rng_u64(hd_rng *r);
double hd_rng_uniform(hd_rng *r);               /* in (0, 1), 53-bit */
double hd_rng_uniform_range(hd_rng *r, double lo, double hi);
double hd_rng_normal(hd_rng *r);                /* N(0, 1) */
uint32_t hd_rng_below(hd_rng *r, uint32_t n);   /* uniform in [0, n), unbiased */

#endif
