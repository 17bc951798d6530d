/* The POWDER outdoor RSS data set (University of Utah, 462.7 MHz FRS
 * handhelds heard by up to 40 receivers on a 3 × 3 km campus; see
 * datasets/powder/README.md): its CSV of samples and its receivers list,
 * read into memory with the missing-value conventions applied. Knows the
 * files, nothing of localization. */
#ifndef HD_FORMATS_POWDER_H
#define HD_FORMATS_POWDER_H
#include <stdint.h>
#include "config/config.h"

#define HD_POWDER_MISSING_RSS (-101.0)  /* a receiver that did not hear the sample */
#define HD_POWDER_FREQUENCY_HZ 462.7e6
#define HD_POWDER_DEFAULT_TZ "America/Denver" /* the campus's zone (Salt Lake City) */

typedef struct {
    int R;                    /* receivers, in the CSV's column order */
    hd_station st[HD_MAX_STATIONS]; /* id = name, name = kind; buses: lat/lon NaN */
    int is_bus[HD_MAX_STATIONS];
    int64_t E;                /* samples (events) */
    int64_t *time_ns;         /* [E] the CSV's local time in zone tz (tz database, daylight time as it applied) */
    double *tx_lat, *tx_lon;  /* [E] GPS truth */
    float *rss;               /* [E*R] dB (uncalibrated); 0 where !heard */
    uint8_t *heard;           /* [E*R] RSS present and the receiver's position known */
    double *rx_lat, *rx_lon;  /* [E*R] receiver position for the sample (buses move); NaN unknown */
    int8_t *month;            /* [E] calendar month of the sample's local time, 1..12 */
    int8_t *block;            /* [E] contiguous time block, 0..n_blocks-1 (equal counts, in time order) */
    int n_blocks;
    char tz[64];              /* the time zone the timestamps were read in */
} hd_powder;

/* Read csv (single_tx_*.csv) and receivers (receivers.csv). Fails with
 * HD_EFORMAT naming the file and line for a malformed row, an unknown
 * receiver column, or a missing column. n_blocks: time blocks (>= 2). */
int hd_powder_read(hd_powder *p, const char *csv, const char *receivers, int n_blocks, const char *tz);
/* tz: a tz database name (America/Denver, the default when NULL) whose
 * zone file exists under $TZDIR or /usr/share/zoneinfo, or UTC; the CSV's
 * local times are converted with its rules (DST-correct). HD_EINVAL for an
 * unknown name. */
int hd_powder_check_tz(const char *tz);
/* "April" for 4; "an unknown month" outside 1..12 */
const char *hd_powder_month_name(int month);
void hd_powder_release(hd_powder *p);

#endif
