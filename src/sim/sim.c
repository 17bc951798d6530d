/* The receiver-network simulator: transmitters, propagation, receivers.
 *
 * Signals are complex envelopes defined analytically in continuous time
 * (phase functions), so propagation delays, multipath delays and receiver
 * sample-clock errors are applied exactly by evaluating the signal at the
 * right instants — no resampling or interpolation error enters the truth. */
#include "sim/sim.h"
#include "geo/hf.h"
#include "sim/motion.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "geo/geo.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB_TONES 8
#define MAX_TAPS 9
#define RX_EVENT 0xFFFFFFFFu     /* receiver id of event-wide streams */
#define T_BEFORE 0.05            /* emission-time span before the event time (s) */
#define FULL_SCALE 32767.0

/* ---- receivers ---------------------------------------------------------------- */

void hd_sim_station(const hd_config *cfg, int rx, hd_station *out)
{
    const hd_simrx_cfg *o = &cfg->collect.simulate.receivers;
    *out = cfg->stations[rx];
    if (o->driver != HD_AS_STATIONS)
        out->driver = o->driver;
    if (o->clock != HD_AS_STATIONS) {
        if (o->clock != out->clock) {
            double ppm = o->clock == HD_CLOCK_GPS ? 0.01 : 1.0;
            out->lo_ppm = ppm;
            out->sample_rate_ppm = ppm;
        }
        out->clock_sigma_ns = o->clock == HD_CLOCK_GPS ? o->clock_sigma_ns
                              : out->clock == HD_CLOCK_FREE ? out->clock_sigma_ns
                                                            : 1e7;
        out->clock = o->clock;
    }
    if (o->sample_rate_hz > 0)
        out->sample_rate_hz = o->sample_rate_hz;
}

int hd_sim_sites_displaced(const hd_config *cfg)
{
    const hd_simrx_cfg *o = &cfg->collect.simulate.receivers;
    return o->position_error_m > 0 || (o->misplaced_probability > 0 && o->misplaced_km > 0);
}

void hd_sim_true_site(const hd_config *cfg, int rx, double *lat, double *lon)
{
    const hd_simrx_cfg *o = &cfg->collect.simulate.receivers;
    const hd_station *st = &cfg->stations[rx];
    *lat = st->lat;
    *lon = st->lon;
    if (!hd_sim_sites_displaced(cfg))
        return;
    hd_rng r;
    hd_rng_init(&r, cfg->seed, RX_EVENT, (uint32_t)rx, HD_RNG_SITE);
    /* every draw in a fixed order, whatever is used */
    double ze = hd_rng_normal(&r), zn = hd_rng_normal(&r);
    double u_mis = hd_rng_uniform(&r), az_mis = hd_rng_uniform_range(&r, 0, 360);
    double de = o->position_error_m * ze, dn = o->position_error_m * zn;
    if (u_mis < o->misplaced_probability) {
        de += o->misplaced_km * 1e3 * sin(az_mis * M_PI / 180);
        dn += o->misplaced_km * 1e3 * cos(az_mis * M_PI / 180);
    }
    double d = hypot(de, dn);
    if (d > 0)
        hd_geo_direct(st->lat, st->lon, atan2(de, dn) * 180 / M_PI, d, lat, lon, NULL);
}

/* ---- propagation ------------------------------------------------------------------ */

double hd_sim_noise_dbm(double bandwidth_hz, double nf_db)
{
    /* kT at 290 K is -173.98 dBm/Hz */
    return 10.0 * log10(1.380649e-23 * 290.0 * 1e3) + 10.0 * log10(bandwidth_hz) + nf_db;
}

static double fspl_db(double f_hz, double d_m)
{
    return 20.0 * log10(4.0 * M_PI * d_m * f_hz / HD_SPEED_OF_LIGHT);
}

/* Okumura–Hata (150–1500 MHz) and COST-231 Hata (1500–2000 MHz), urban,
 * small/medium city mobile correction. Heights clamped to the models'
 * ranges (base 30–200 m, mobile 1–10 m), frequency to 150–2000 MHz. */
static double hata_db(double f_hz, double d_m, double hb, double hm)
{
    double f = fmin(fmax(f_hz / 1e6, 150.0), 2000.0);
    hb = fmin(fmax(hb, 30.0), 200.0);
    hm = fmin(fmax(hm, 1.0), 10.0);
    double lf = log10(f), lhb = log10(hb);
    double ahm = (1.1 * lf - 0.7) * hm - (1.56 * lf - 0.8);
    double base = f <= 1500.0 ? 69.55 + 26.16 * lf : 46.3 + 33.9 * lf;
    return base - 13.82 * lhb - ahm + (44.9 - 6.55 * lhb) * log10(d_m / 1000.0);
}

double hd_sim_path_loss_db(const hd_prop_cfg *p, double f_hz, double d_m, double htx_m, double hrx_m)
{
    d_m = fmax(d_m, 1.0);
    switch (p->model) {
    case HD_PL_FREE_SPACE:
    case HD_PL_HF: /* over the dominant mode's path (hf_channel) */
        return fspl_db(f_hz, d_m);
    case HD_PL_HATA:
        /* below the model's 1 km: free space, continuous at 1 km */
        if (d_m < 1000.0)
            return hata_db(f_hz, 1000.0, hrx_m, htx_m) - fspl_db(f_hz, 1000.0) + fspl_db(f_hz, d_m);
        return hata_db(f_hz, d_m, hrx_m, htx_m);
    default: {
        double d0 = p->reference_distance_m;
        if (d_m <= d0)
            return fspl_db(f_hz, d_m);
        return fspl_db(f_hz, d0) + 10.0 * p->exponent * log10(d_m / d0);
    }
    }
}

/* ---- events --------------------------------------------------------------------- */

void hd_sim_region_box(const hd_config *cfg, double box[4])
{
    const hd_sim_cfg *s = &cfg->collect.simulate;
    double la0 = s->lat_min, la1 = s->lat_max, lo0 = s->lon_min, lo1 = s->lon_max;
    if (s->n_polygon >= 3) {
        la0 = lo0 = 1e9;
        la1 = lo1 = -1e9;
        for (int i = 0; i < s->n_polygon; i++) {
            la0 = fmin(la0, s->polygon[i][0]);
            la1 = fmax(la1, s->polygon[i][0]);
            lo0 = fmin(lo0, s->polygon[i][1]);
            lo1 = fmax(lo1, s->polygon[i][1]);
        }
    } else if (la0 == 0 && la1 == 0 && lo0 == 0 && lo1 == 0) {
        la0 = lo0 = 1e9;
        la1 = lo1 = -1e9;
        for (int i = 0; i < cfg->n_stations; i++) {
            la0 = fmin(la0, cfg->stations[i].lat);
            la1 = fmax(la1, cfg->stations[i].lat);
            lo0 = fmin(lo0, cfg->stations[i].lon);
            lo1 = fmax(lo1, cfg->stations[i].lon);
        }
    }
    double m = s->margin_km * 1000.0;
    if (m > 0) {
        double t;
        hd_geo_direct(la0, lo0, 180.0, m, &t, NULL, NULL);
        la0 = fmax(t, -89.9);
        hd_geo_direct(la1, lo1, 0.0, m, &t, NULL, NULL);
        la1 = fmin(t, 89.9);
        /* east-west: the widest degree step is at the latitude nearest a pole */
        double lat_far = fabs(la0) > fabs(la1) ? la0 : la1;
        double lo_e;
        hd_geo_direct(lat_far, 0.0, 90.0, m, NULL, &lo_e, NULL);
        lo0 -= lo_e;
        lo1 += lo_e;
    }
    box[0] = la0;
    box[1] = la1;
    box[2] = lo0;
    box[3] = lo1;
}

int hd_sim_event_draw(const hd_config *cfg, int64_t index, hd_event *ev)
{
    const hd_collect_cfg *c = &cfg->collect;
    const hd_sim_cfg *s = &c->simulate;
    memset(ev, 0, sizeof *ev);
    if (cfg->n_stations < 1)
        return hd_error(HD_ECONFIG, "the simulator needs at least one station");
    ev->index = index;
    ev->time_ns = c->start_ns + (int64_t)llround((double)index * c->interval_s * 1e9);
    ev->frequency_hz = c->frequencies_hz[index % (c->n_frequencies > 0 ? c->n_frequencies : 1)];
    double fs = s->receivers.sample_rate_hz;
    if (fs <= 0) {
        fs = cfg->stations[0].sample_rate_hz;
        for (int i = 1; i < cfg->n_stations; i++)
            if (cfg->stations[i].sample_rate_hz != fs)
                return hd_error(HD_ECONFIG,
                                "stations have different sample rates (%s %.0f Hz, %s %.0f Hz): set "
                                "collect.simulate.receivers.sample_rate_hz",
                                cfg->stations[0].id, fs, cfg->stations[i].id, cfg->stations[i].sample_rate_hz);
    }
    ev->sample_rate_hz = fs;
    ev->n_samples = (int)llround(c->duration_s * fs);
    if (ev->n_samples < 16)
        return hd_error(HD_ECONFIG, "collect.duration_s %.6g s gives %d samples at %.0f Hz: need at least 16",
                        c->duration_s, ev->n_samples, fs);
    ev->level_rate_hz = s->receivers.level_rate_hz;
    ev->n_levels = (int)floor(c->duration_s * ev->level_rate_hz);
    if (ev->n_levels < 1)
        ev->n_levels = 1;

    ev->tx_id = -1;

    hd_rng r;
    hd_rng_init(&r, cfg->seed, (uint32_t)index, RX_EVENT, HD_RNG_TX);
    double box[4];
    hd_sim_region_box(cfg, box);
    if (s->transmitter.motion != HD_MOTION_STATIC) /* moving transmitters: sim/motion.c */
        return hd_sim_motion_event(cfg, box, ev);
    /* uniform by area: uniform in sin(latitude) and longitude (the sphere's
     * equal-area rule; on WGS84 the density differs by < 0.7 %) */
    double z0 = sin(box[0] * M_PI / 180), z1 = sin(box[1] * M_PI / 180);
    for (int tries = 0;; tries++) {
        double z = hd_rng_uniform_range(&r, z0, z1);
        ev->truth.lat = asin(z) * 180 / M_PI;
        ev->truth.lon = hd_rng_uniform_range(&r, box[2], box[3]);
        if (s->n_polygon < 3 || hd_geo_in_polygon((const double (*)[2])s->polygon, s->n_polygon, ev->truth.lat, ev->truth.lon))
            break;
        if (tries > 100000)
            return hd_error(HD_ECONFIG, "collect.simulate.region.polygon: no point found inside it");
    }
    const hd_tx_cfg *t = &s->transmitter;
    ev->truth.height_m = hd_rng_uniform_range(&r, t->height_m[0], t->height_m[1]);
    ev->truth.alt_m = ev->truth.height_m; /* flat ground at the ellipsoid */
    ev->truth.power_dbm = hd_rng_uniform_range(&r, t->power_dbm[0], t->power_dbm[1]);
    ev->truth.gain_dbi = t->antenna_gain_dbi;
    ev->truth.signal_type = t->signal_types[hd_rng_below(&r, (uint32_t)(t->n_signal_types > 0 ? t->n_signal_types : 1))];
    ev->truth.freq_offset_hz = t->frequency_error_hz * hd_rng_normal(&r);
    return 0;
}

/* ---- signals ---------------------------------------------------------------------- */

typedef struct {
    int type;
    /* NBFM */
    double f[NB_TONES], beta[NB_TONES], theta[NB_TONES];
    /* 4FSK */
    double t0, ts;               /* symbol grid start and period */
    double *phase;               /* cumulative phase at each symbol start */
    double *freq;                /* symbol frequency, Hz */
    int n_sym;
    /* LF/HF: element values on a grid of elem_s from t0 (AM audio samples,
     * Morse key state, DCF77 second-mark bits), PN chips of DCF77 */
    double *elem, elem_s, norm;
    int n_elem;
    signed char pn[512];
} signal_model;

#define AM_INDEX 0.3             /* AM: modulation depth (rms of the audio) */
#define AM_AUDIO_S 0.002         /* AM: audio samples 2 ms apart, linear between (a few hundred Hz) */
#define MORSE_DOT_S 0.06         /* 20 wpm */
#define KEY_EDGE_S 0.004         /* keying edges: raised cosine */
#define RTTY_BAUD 45.45
#define RTTY_SHIFT_HZ 170.0
#define DCF_CHIP_S (0.793 / 512) /* DCF77 PN: 512 chips, from 200 ms after the second */
#define DCF_PN_RAD (15.6 * M_PI / 180)

/* Element sequences of the LF/HF types; 0 or HD_ENOMEM. */
static int hfsig_init(signal_model *m, hd_rng *r, double t_end)
{
    m->t0 = -T_BEFORE - 1.0; /* whole seconds back: DCF77 marks on the second */
    if (m->type == HD_SIG_AM)
        m->elem_s = AM_AUDIO_S;
    else if (m->type == HD_SIG_MORSE)
        m->elem_s = MORSE_DOT_S;
    else
        m->elem_s = 1.0;
    m->n_elem = (int)ceil((t_end - m->t0) / m->elem_s) + 8;
    m->elem = hd_calloc((size_t)m->n_elem + 1, sizeof *m->elem);
    if (!m->elem)
        return HD_ENOMEM;
    if (m->type == HD_SIG_AM) {
        /* carrier + Gaussian audio; unit mean power: 1 + index^2 (the
         * linear interpolation lowers the audio power by 2/3) */
        for (int k = 0; k <= m->n_elem; k++)
            m->elem[k] = hd_rng_normal(r);
        m->norm = 1.0 / sqrt(1.0 + AM_INDEX * AM_INDEX * 2.0 / 3.0);
    } else if (m->type == HD_SIG_MORSE) {
        /* characters of 1-5 dots or dashes (on 1 or 3 dots), 1 dot apart,
         * characters 3 dots apart, words 7 */
        int k = 0, on = 0;
        while (k < m->n_elem) {
            int nchar = 1 + (int)hd_rng_below(r, 5);
            for (int c = 0; c < nchar && k < m->n_elem; c++) {
                int len = hd_rng_below(r, 2) ? 3 : 1;
                for (int j = 0; j < len && k < m->n_elem; j++, on++)
                    m->elem[k++] = 1.0;
                k += 1;
            }
            k += hd_rng_below(r, 4) ? 2 : 6;
        }
        m->norm = 1.0 / sqrt(fmax((double)on / m->n_elem, 1e-3));
    } else {
        /* DCF77: a mark of 100 ms (bit 0) or 200 ms (bit 1) at 15 % carrier
         * each second but the 59th; a 512-chip PN sequence of +-15.6 deg
         * (an LFSR, the same each second, as the station's) */
        for (int k = 0; k <= m->n_elem; k++)
            m->elem[k] = (double)hd_rng_below(r, 2);
        unsigned lfsr = 1u + hd_rng_below(r, 510);
        for (int k = 0; k < 512; k++) {
            unsigned bit = ((lfsr >> 0) ^ (lfsr >> 4)) & 1u; /* x^9 + x^5 + 1 */
            lfsr = (lfsr >> 1) | (bit << 8);
            m->pn[k] = (lfsr & 1u) ? 1 : -1;
        }
        double mark = 0.15 * 0.15 * 0.15 + 0.85; /* ~mean of 0.1 and 0.2 s marks over a second */
        m->norm = 1.0 / sqrt(mark);
    }
    return 0;
}

/* keying envelope in [0, 1] at u elements from the grid start: raised-cosine edges */
static inline double key_at(const signal_model *m, double tt)
{
    double u = tt / m->elem_s;
    int k = (int)floor(u);
    if (k < 0)
        k = 0;
    if (k >= m->n_elem)
        k = m->n_elem - 1;
    double f = (u - k) * m->elem_s, a = m->elem[k], b = m->elem[k + 1];
    if (a == b || f < m->elem_s - KEY_EDGE_S)
        return a;
    double x = (f - (m->elem_s - KEY_EDGE_S)) / KEY_EDGE_S;
    return a + (b - a) * (0.5 - 0.5 * cos(M_PI * x));
}

static inline double complex hfsig_at(const signal_model *m, double t)
{
    double tt = t - m->t0;
    switch (m->type) {
    case HD_SIG_AM: {
        double u = tt / m->elem_s;
        int k = (int)floor(u);
        if (k < 0)
            k = 0;
        if (k >= m->n_elem)
            k = m->n_elem - 1;
        double f = u - k, a = m->elem[k] + (m->elem[k + 1] - m->elem[k]) * f;
        return m->norm * (1.0 + AM_INDEX * a);
    }
    case HD_SIG_MORSE:
        return m->norm * key_at(m, tt);
    default: { /* DCF77 */
        int sec = (int)floor(tt);
        double f = tt - sec;
        if (sec < 0)
            sec = 0;
        if (sec >= m->n_elem)
            sec = m->n_elem - 1;
        int second_of_minute = (int)(((int64_t)floor(t) % 60 + 60) % 60);
        double mark = second_of_minute == 59 ? 0.0 : m->elem[sec] > 0.5 ? 0.2 : 0.1;
        /* amplitude 15 % during the mark, 1 ms raised-cosine edges */
        double a = 1.0;
        if (mark > 0) {
            const double e = 0.001;
            if (f < e)
                a = 1.0 - 0.85 * (0.5 - 0.5 * cos(M_PI * f / e));
            else if (f < mark)
                a = 0.15;
            else if (f < mark + e)
                a = 0.15 + 0.85 * (0.5 - 0.5 * cos(M_PI * (f - mark) / e));
        }
        double ph = 0;
        if (f >= 0.2) {
            int c = (int)((f - 0.2) / DCF_CHIP_S);
            if (c < 512)
                ph = DCF_PN_RAD * m->pn[c];
        }
        return m->norm * a * (cos(ph) + I * sin(ph));
    }
    }
}


static int signal_init(signal_model *m, const hd_config *cfg, const hd_event *ev, double t_end)
{
    const hd_tx_cfg *t = &cfg->collect.simulate.transmitter;
    hd_rng r;
    memset(m, 0, sizeof *m);
    m->type = ev->truth.signal_type;
    hd_rng_init(&r, cfg->seed, (uint32_t)ev->index, RX_EVENT, HD_RNG_MODULATION);
    if (m->type == HD_SIG_NBFM) {
        double asum = 0, a[NB_TONES];
        for (int k = 0; k < NB_TONES; k++) {
            m->f[k] = hd_rng_uniform_range(&r, 300.0, 3000.0);
            a[k] = hd_rng_uniform_range(&r, 0.2, 1.0);
            m->theta[k] = hd_rng_uniform_range(&r, 0, 2 * M_PI);
            asum += a[k];
        }
        /* tone k deviates by a_k/Σa of the peak deviation: β_k = dev_k / f_k */
        for (int k = 0; k < NB_TONES; k++)
            m->beta[k] = t->fm_deviation_hz * a[k] / asum / m->f[k];
    } else if (m->type == HD_SIG_AM || m->type == HD_SIG_MORSE || m->type == HD_SIG_DCF77) {
        int rc = hfsig_init(m, &r, t_end);
        if (rc < 0)
            return rc;
    } else if (m->type == HD_SIG_FSK4 || m->type == HD_SIG_RTTY) {
        int rtty = m->type == HD_SIG_RTTY;
        m->ts = rtty ? 1.0 / RTTY_BAUD : 1.0 / t->fsk_symbol_rate;
        m->t0 = -T_BEFORE;
        m->n_sym = (int)ceil((t_end - m->t0) / m->ts) + 2;
        m->phase = hd_calloc((size_t)m->n_sym + 1, sizeof *m->phase);
        m->freq = hd_calloc((size_t)m->n_sym + 1, sizeof *m->freq);
        if (!m->phase || !m->freq) {
            free(m->phase);
            free(m->freq);
            return HD_ENOMEM;
        }
        static const double levels[4] = {-1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0};
        double ph = hd_rng_uniform_range(&r, 0, 2 * M_PI);
        for (int k = 0; k <= m->n_sym; k++)
            m->freq[k] = rtty ? 0.5 * RTTY_SHIFT_HZ * (hd_rng_below(&r, 2) ? 1.0 : -1.0)
                              : t->fsk_deviation_hz * levels[hd_rng_below(&r, 4)];
        /* the frequency moves from the previous symbol's value to this one's
         * along a raised cosine over the symbol: continuous frequency, a
         * compact spectrum (as shaped 4FSK is), and a phase integral in
         * closed form: over a whole symbol it advances by 2π Ts (f_prev + f_k) / 2 */
        for (int k = 0; k <= m->n_sym; k++) {
            double prev = k ? m->freq[k - 1] : m->freq[0];
            m->phase[k] = ph;
            ph = fmod(ph + M_PI * m->ts * (prev + m->freq[k]), 2 * M_PI);
        }
    }
    return 0;
}

static void signal_release(signal_model *m)
{
    free(m->phase);
    free(m->freq);
    free(m->elem);
    m->phase = m->freq = m->elem = NULL;
}

/* The unit-power complex envelope at emission time t (s, rel. event time). */
static inline double complex signal_at(const signal_model *m, double t)
{
    double ph = 0;
    switch (m->type) {
    case HD_SIG_NBFM:
        for (int k = 0; k < NB_TONES; k++)
            ph += m->beta[k] * sin(2 * M_PI * m->f[k] * t + m->theta[k]);
        break;
    case HD_SIG_AM:
    case HD_SIG_MORSE:
    case HD_SIG_DCF77:
        return hfsig_at(m, t);
    case HD_SIG_FSK4:
    case HD_SIG_RTTY: {
        double u = (t - m->t0) / m->ts;
        int k = (int)floor(u);
        if (k < 0)
            k = 0;
        if (k >= m->n_sym)
            k = m->n_sym - 1;
        double tau = t - m->t0 - k * m->ts, prev = k ? m->freq[k - 1] : m->freq[0];
        ph = m->phase[k] + 2 * M_PI * (prev * tau + (m->freq[k] - prev) *
                                       (0.5 * tau - m->ts / (2 * M_PI) * sin(M_PI * tau / m->ts)));
        break;
    }
    default:
        break;
    }
    return cos(ph) + I * sin(ph);
}

/* ---- rendering ------------------------------------------------------------------- */

typedef struct {
    int n;
    double delay[MAX_TAPS];      /* excess delay after the direct path, s */
    double complex gain[MAX_TAPS];
} channel;

static void channel_draw(const hd_prop_cfg *p, double d_m, hd_rng *r, channel *ch, double *shadow_db)
{
    *shadow_db = p->shadowing_db * hd_rng_normal(r);
    int m = p->multipath_taps < MAX_TAPS - 1 ? p->multipath_taps : MAX_TAPS - 1;
    double spread = p->delay_spread_us * 1e-6;
    double q[MAX_TAPS], qsum = 1.0;
    ch->n = 1 + m;
    ch->delay[0] = 0;
    for (int k = 1; k <= m; k++) {
        /* exponential power-delay profile: delays with mean `spread` */
        ch->delay[k] = spread > 0 ? -spread * log(hd_rng_uniform(r)) : 0.0;
        q[k] = spread > 0 ? 0.5 * exp(-ch->delay[k] / spread) : 0.5;
        qsum += q[k];
    }
    q[0] = 1.0;
    /* direct tap: Rician (LOS + scatter) near, Rayleigh far */
    double kf = d_m <= p->rician_max_km * 1000.0 ? pow(10.0, p->rician_k_db / 10.0) : 0.0;
    double p0 = q[0] / qsum;
    double los = sqrt(p0 * kf / (kf + 1.0)), sc = sqrt(p0 / (kf + 1.0) / 2.0);
    double ph = hd_rng_uniform_range(r, 0, 2 * M_PI);
    double gr = hd_rng_normal(r), gi = hd_rng_normal(r);
    ch->gain[0] = los * (cos(ph) + I * sin(ph)) + sc * (gr + I * gi);
    for (int k = 1; k <= m; k++) {
        double s = sqrt(q[k] / qsum / 2.0);
        gr = hd_rng_normal(r);
        gi = hd_rng_normal(r);
        ch->gain[k] = s * (gr + I * gi);
    }
}

/* Model hf: one tap per mode that reaches the receiver, delays relative to
 * the dominant mode (whose group delay becomes the link's arrival); the
 * ground wave steady, sky waves Rayleigh. Sets the link's distance-derived
 * truth. Draws from the event-wide channel stream (F2 height) and the
 * link's channel stream. */
static void hf_channel(const hd_config *cfg, const hd_event *ev, const hd_station *st, hd_rng *r, channel *ch,
                       hd_link_truth *t)
{
    const hd_prop_cfg *p = &cfg->collect.simulate.propagation;
    hd_rng re;
    hd_rng_init(&re, cfg->seed, (uint32_t)ev->index, RX_EVENT, HD_RNG_CHANNEL);
    double h = (p->hf.f2_height_km + p->hf.f2_height_sigma_km * hd_rng_normal(&re)) * 1000.0;
    double gc = 0;
    hd_geo_inverse(ev->truth.lat, ev->truth.lon, st->lat, st->lon, &gc, NULL, NULL);
    hd_hf_modes md;
    int dom = hd_geo_hf_modes(&p->hf, gc, h, &md);
    t->prop_mode = dom;
    t->arrival_s = md.delay_s[dom];
    t->excess_delay_s = md.delay_s[dom] - gc / HD_SPEED_OF_LIGHT;
    t->path_loss_db = fspl_db(ev->frequency_hz, md.path_m[dom]);
    t->shadowing_db = p->shadowing_db * hd_rng_normal(r);
    ch->n = 0;
    _Static_assert((int)HD_MODE_COUNT == (int)HD_HF_MODES, "the simulator's modes are geo/hf.h's");
    for (int m = 0; m < HD_MODE_COUNT; m++) {
        double ph = hd_rng_uniform_range(r, 0, 2 * M_PI), gr = hd_rng_normal(r), gi = hd_rng_normal(r);
        if (!md.present[m])
            continue;
        double a = sqrt(md.power[m]);
        ch->delay[ch->n] = md.delay_s[m] - t->arrival_s;
        ch->gain[ch->n] = m == HD_MODE_GROUND ? a * (cos(ph) + I * sin(ph)) : a * sqrt(0.5) * (gr + I * gi);
        ch->n++;
    }
}

int hd_sim_render(const hd_config *cfg, const hd_event *ev, int rx, hd_link *link, int16_t *iq, float *levels)
{
    const hd_sim_cfg *s = &cfg->collect.simulate;
    const int N = ev->n_samples, L = ev->n_levels;
    hd_station st;
    hd_rng rr, rc_, rn;
    int rc = 0;
    double complex *x = NULL;
    signal_model sig = {0};

    if (rx < 0 || rx >= cfg->n_stations)
        return hd_error(HD_EINVAL, "receiver %d does not exist", rx);
    hd_sim_station(cfg, rx, &st);
    /* the signal reaches the antenna where it truly is, not where the stations file says */
    hd_sim_true_site(cfg, rx, &st.lat, &st.lon);
    memset(link, 0, sizeof *link);
    if (iq)
        memset(iq, 0, (size_t)N * 2 * sizeof *iq);
    if (levels)
        memset(levels, 0, (size_t)L * sizeof *levels);

    /* the receiver: every draw in a fixed order, whatever the branch */
    hd_rng_init(&rr, cfg->seed, (uint32_t)ev->index, (uint32_t)rx, HD_RNG_RECEIVER);
    double u_fail = hd_rng_uniform(&rr);
    uint32_t fail_kind = hd_rng_below(&rr, 4);
    double u_outage = hd_rng_uniform(&rr);
    double last_fix = hd_rng_uniform_range(&rr, 60.0, 3600.0);
    double z_clock = hd_rng_normal(&rr);
    double z_lo = hd_rng_normal(&rr);
    double z_sr = hd_rng_normal(&rr);
    double u_start = hd_rng_uniform(&rr);

    static const int fails[4] = {HD_RX_BUSY, HD_RX_TIMEOUT, HD_RX_REFUSED, HD_RX_DISCONNECTED};
    link->status = u_fail < s->receivers.failure_probability ? fails[fail_kind] : HD_RX_OK;
    int outage = st.clock == HD_CLOCK_GPS && u_outage < s->receivers.gps_outage_probability;
    link->gps_ok = st.clock == HD_CLOCK_GPS && !outage;
    link->last_gps_solution_s = outage ? (int)last_fix : 0;
    double sigma_s = st.clock_sigma_ns * 1e-9;
    if (outage) /* free-running since the last fix, drifting about 1 µs/s */
        sigma_s = fmax(sigma_s, link->last_gps_solution_s * 1e-6);
    link->truth.clock_error_s = sigma_s * z_clock;
    link->truth.lo_offset_hz = st.lo_ppm * 1e-6 * ev->frequency_hz * z_lo;
    link->truth.sample_rate_error_ppm = st.sample_rate_ppm * z_sr;
    link->truth.true_t0_s = u_start * s->receivers.start_jitter_ms * 1e-3;
    link->t0_s = link->truth.true_t0_s + link->truth.clock_error_s;
    link->truth.freq_offset_hz = ev->truth.freq_offset_hz - link->truth.lo_offset_hz;
    /* a GPS-timed IQ receiver stamps every 512-sample block (KiwiSDR): a
     * line fitted to the stamps gives its true sample rate (to about
     * clock_sigma / duration / sqrt(blocks): negligible), scattered by its
     * time stamps' error */
    link->clock_rate_hz = link->clock_residual_s = NAN;
    if (link->status == HD_RX_OK && link->gps_ok && st.driver != HD_DRIVER_OPENWEBRX) {
        link->clock_rate_hz = ev->sample_rate_hz * (1.0 + link->truth.sample_rate_error_ppm * 1e-6);
        link->clock_residual_s = st.clock_sigma_ns * 1e-9;
        link->clock_n_fit = (N + 511) / 512;
    }

    /* the link */
    double hrx = st.alt_m + st.antenna_height_m;
    link->truth.distance_m = hd_geo_slant_range(ev->truth.lat, ev->truth.lon, ev->truth.alt_m, st.lat, st.lon, hrx);
    link->truth.prop_mode = -1;
    link->truth.excess_delay_s = NAN;
    link->truth.rx_lat = st.lat;
    link->truth.rx_lon = st.lon;
    channel ch;
    hd_rng_init(&rc_, cfg->seed, (uint32_t)ev->index, (uint32_t)rx, HD_RNG_CHANNEL);
    if (s->propagation.model == HD_PL_HF) {
        hf_channel(cfg, ev, &st, &rc_, &ch, &link->truth);
    } else {
        link->truth.arrival_s = link->truth.distance_m / HD_SPEED_OF_LIGHT;
        link->truth.path_loss_db = hd_sim_path_loss_db(&s->propagation, ev->frequency_hz, link->truth.distance_m,
                                                       ev->truth.height_m, st.antenna_height_m);
        channel_draw(&s->propagation, link->truth.distance_m, &rc_, &ch, &link->truth.shadowing_db);
    }
    double mean_dbm = ev->truth.power_dbm + ev->truth.gain_dbi + st.antenna_gain_dbi - link->truth.path_loss_db - link->truth.shadowing_db;
    link->truth.noise_dbm = hd_sim_noise_dbm(ev->sample_rate_hz, st.noise_figure_db);
    double g2 = 0;
    for (int k = 0; k < ch.n; k++)
        g2 += creal(ch.gain[k] * conj(ch.gain[k]));
    link->truth.fading_db = 10.0 * log10(fmax(g2, 1e-30)); /* refined from the rendered signal below */
    link->truth.rx_power_dbm = mean_dbm + link->truth.fading_db;
    link->truth.snr_db = link->truth.rx_power_dbm - link->truth.noise_dbm;

    int gives_iq = st.driver != HD_DRIVER_OPENWEBRX;
    if (link->status != HD_RX_OK)
        return 0;
    link->has_iq = gives_iq;
    link->has_levels = !gives_iq;
    if ((!iq || !gives_iq) && (!levels || gives_iq))
        return 0; /* metadata only */

    /* render the noiseless received signal in sqrt(mW) */
    double fs_true = ev->sample_rate_hz * (1.0 + link->truth.sample_rate_error_ppm * 1e-6);
    double t_end = link->truth.true_t0_s + (N + 1) / fs_true;
    if ((rc = signal_init(&sig, cfg, ev, t_end)) < 0)
        return rc;
    x = hd_malloc((size_t)N * sizeof *x);
    if (!x) {
        rc = HD_ENOMEM;
        goto done;
    }
    double amp = sqrt(pow(10.0, mean_dbm / 10.0));
    double complex rot[MAX_TAPS];
    for (int k = 0; k < ch.n; k++) {
        double tau = link->truth.arrival_s + ch.delay[k];
        double ph = -2 * M_PI * (ev->frequency_hz + ev->truth.freq_offset_hz) * tau;
        rot[k] = amp * ch.gain[k] * (cos(ph) + I * sin(ph));
    }
    double psig = 0;
    for (int n = 0; n < N; n++) {
        double t = link->truth.true_t0_s + n / fs_true;
        double complex v = 0;
        for (int k = 0; k < ch.n; k++)
            v += rot[k] * signal_at(&sig, t - link->truth.arrival_s - ch.delay[k]);
        double ph = 2 * M_PI * link->truth.freq_offset_hz * t;
        x[n] = v * (cos(ph) + I * sin(ph));
        psig += creal(x[n] * conj(x[n]));
    }
    psig /= N;
    /* the realised fading of this signal over this capture */
    link->truth.fading_db = 10.0 * log10(fmax(psig / (amp * amp), 1e-30));
    link->truth.rx_power_dbm = mean_dbm + link->truth.fading_db;
    link->truth.snr_db = link->truth.rx_power_dbm - link->truth.noise_dbm;

    /* thermal noise */
    double nsig = sqrt(pow(10.0, link->truth.noise_dbm / 10.0) / 2.0);
    hd_rng_init(&rn, cfg->seed, (uint32_t)ev->index, (uint32_t)rx, HD_RNG_NOISE);
    double ptot = 0;
    for (int n = 0; n < N; n++) {
        double a = hd_rng_normal(&rn), b = hd_rng_normal(&rn);
        x[n] += nsig * (a + I * b);
        ptot += creal(x[n] * conj(x[n]));
    }
    ptot /= N;

    /* gain: AGC holds the total power at -20 dBFS within [0, max_gain] */
    double fs_mw = pow(10.0, st.full_scale_dbm / 10.0);
    double gain_db = st.agc ? -20.0 - 10.0 * log10(ptot / fs_mw) : st.gain_db;
    if (st.agc)
        gain_db = fmin(fmax(gain_db, 0.0), st.max_gain_db);
    link->gain_db = gain_db;
    double scale = FULL_SCALE * sqrt(pow(10.0, gain_db / 10.0) / fs_mw);

    if (gives_iq && iq) {
        int clipped = 0;
        for (int n = 0; n < N; n++) {
            double v[2] = {creal(x[n]) * scale, cimag(x[n]) * scale};
            for (int c = 0; c < 2; c++) {
                double q = nearbyint(v[c]);
                if (q > FULL_SCALE || q < -FULL_SCALE) {
                    q = q > 0 ? FULL_SCALE : -FULL_SCALE;
                    clipped++;
                }
                iq[2 * n + c] = (int16_t)q;
            }
        }
        link->clipped_fraction = (double)clipped / (2.0 * N);
    }
    if (!gives_iq && levels) {
        /* S-meter: mean power over each level interval, dBFS */
        for (int l = 0; l < L; l++) {
            int a = (int)((int64_t)l * N / L), b = (int)((int64_t)(l + 1) * N / L);
            double p = 0;
            for (int n = a; n < b; n++)
                p += creal(x[n] * conj(x[n]));
            p = p / (b > a ? b - a : 1) * scale * scale / (FULL_SCALE * FULL_SCALE);
            levels[l] = (float)(10.0 * log10(fmax(p, 1e-30)));
        }
    }
done:
    free(x);
    signal_release(&sig);
    return rc;
}

typedef struct {
    double key;
    int rx;
} rx_key;

static int cmp_key(const void *a, const void *b)
{
    const rx_key *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->rx - y->rx;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int hd_sim_heard(const hd_config *cfg, const hd_event *ev, int *rx, int cap, const double (*rx_ecef)[3])
{
    const hd_simrx_cfg *sr = &cfg->collect.simulate.receivers;
    int R = cfg->n_stations, M = sr->max_per_event < cap ? sr->max_per_event : cap, C = 4 * M;
    if (M < 1)
        return 0;
    rx_key *k = hd_malloc((size_t)(C + 1) * sizeof *k);
    if (!k)
        return HD_ENOMEM;
    /* the C nearest by the advertised sites (squared chords: no trigonometry
     * per receiver), kept sorted by insertion, then their links */
    double t[3];
    hd_geo_to_ecef(ev->truth.lat, ev->truth.lon, ev->truth.alt_m, t);
    int nc = 0;
    for (int r = 0; r < R; r++) {
        double x[3];
        const double *p = x;
        if (rx_ecef)
            p = rx_ecef[r];
        else
            hd_geo_to_ecef(cfg->stations[r].lat, cfg->stations[r].lon,
                           cfg->stations[r].alt_m + cfg->stations[r].antenna_height_m, x);
        double d2 = (p[0] - t[0]) * (p[0] - t[0]) + (p[1] - t[1]) * (p[1] - t[1]) + (p[2] - t[2]) * (p[2] - t[2]);
        if (nc == C && !(d2 < k[C - 1].key))
            continue;
        int j = nc < C ? nc++ : C - 1;
        while (j > 0 && k[j - 1].key > d2) {
            k[j] = k[j - 1];
            j--;
        }
        k[j] = (rx_key){d2, r};
    }
    int n = 0;
    for (int c = 0; c < nc; c++) {
        hd_link lk;
        int rc = hd_sim_render(cfg, ev, k[c].rx, &lk, NULL, NULL);
        if (rc < 0) {
            free(k);
            return rc;
        }
        double snr = lk.truth.snr_db;
        if (isfinite(snr) && snr >= sr->heard_snr_db)
            k[n++] = (rx_key){-snr, k[c].rx};
    }
    qsort(k, (size_t)n, sizeof *k, cmp_key);
    if (n > M)
        n = M;
    for (int i = 0; i < n; i++)
        rx[i] = k[i].rx;
    free(k);
    qsort(rx, (size_t)n, sizeof *rx, cmp_int);
    return n;
}
